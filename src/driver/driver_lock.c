/* One driver per namespace directory (D-2.1.c): an flock on driver.lock.
 * The kernel drops the lock when the holder dies, so a crashed driver never
 * blocks its successor. */
#include "driver_impl.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int drv_lock_acquire(const char *ns_dir)
{
    char path[TP_SHM_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/driver.lock", ns_dir) >= (int)sizeof path)
        return tp_err_set(TP_ERR_CAPACITY, "lock path too long");
    const int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (fd < 0) return tp_err_set(TP_ERR_IO, "lock '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char holder[32] = "";
        const ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return tp_err_set(TP_ERR_STATE, "another driver (pid %s) already runs on '%s'", holder[0] ? holder : "?", ns_dir);
        return tp_err_set(TP_ERR_IO, "lock '%s': %s", path, strerror(e));
    }
    char pid[32];
    const int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* the lock is what matters; the pid is only a hint for the message above */
    }
    return fd;
}

void drv_lock_release(int fd)
{
    if (fd >= 0) close(fd); /* closing drops the flock */
}
