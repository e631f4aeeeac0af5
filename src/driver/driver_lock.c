/* One driver per namespace directory (D-2.1.c): an flock on driver.lock.
 * The kernel drops the lock when the holder dies, so a crashed driver never
 * blocks its successor. */
#include "driver_impl.h"

#include "../util/dir_fd.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int drv_lock_acquire(const char *ns_dir)
{
    /* by name in the namespace directory, reached without following links;
     * an existing lock file must be ours (it is truncated below) */
    const int dirfd = tp_dir_open(AT_FDCWD, ns_dir);
    if (dirfd < 0) return tp_err_wrap("lock");
    const int fd = tp_dir_open_file(dirfd, "driver.lock", O_RDWR, 0660, TP_DIR_CREATE);
    close(dirfd);
    if (fd < 0) return tp_err_wrap("lock in '%s'", ns_dir);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char holder[32] = "";
        const ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return tp_err_set(TP_ERR_STATE, "another driver (pid %s) already runs on '%s'", holder[0] ? holder : "?", ns_dir);
        return tp_err_set(TP_ERR_IO, "lock in '%s': %s", ns_dir, strerror(e));
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
