/* Block reservation for SHM regions and transport logs (see file_reserve.h). */
#include "file_reserve.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>

int tp_file_reserve(int fd, uint64_t size, const char *what)
{
    const int rc = posix_fallocate(fd, 0, (off_t)size); /* returns the error, not errno */
    if (rc == 0) return 0;
    if (rc == ENOSPC) {
        struct statvfs vfs;
        if (fstatvfs(fd, &vfs) == 0)
            return tp_err_set(TP_ERR_IO, "%s: no space left on its file system: %llu bytes needed, %llu free", what,
                              (unsigned long long)size, (unsigned long long)vfs.f_bavail * vfs.f_frsize);
    }
    return tp_err_set(TP_ERR_IO, "%s: reserving %llu bytes: %s", what, (unsigned long long)size, strerror(rc));
}
