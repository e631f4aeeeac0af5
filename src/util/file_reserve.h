/* Reserve a file's blocks at creation, so that a full file system (a small
 * /dev/shm, as in a default container) is an error with a message when a
 * region or log is created, not a SIGBUS on its first write. Internal. */
#ifndef TP_UTIL_FILE_RESERVE_H
#define TP_UTIL_FILE_RESERVE_H

#include <stdint.h>

/* Allocate bytes [0, size) of fd (posix_fallocate). -1 with the error set,
 * naming `what` and, for ENOSPC, the bytes needed and free. */
int tp_file_reserve(int fd, uint64_t size, const char *what);

#endif
