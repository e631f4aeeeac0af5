/* Helpers shared by the SHM tests: unique temp directories under /dev/shm
 * (removed recursively at the end) and small file utilities. */
#ifndef TP_SHM_TEST_UTIL_H
#define TP_SHM_TEST_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline int tp_test_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

/* Remove a directory tree without following symlinks. */
static inline void tp_test_rmtree(const char *dir)
{
    nftw(dir, tp_test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Create a unique, canonical temp dir under /dev/shm; aborts on failure. */
static inline void tp_test_mkdtemp(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "/dev/shm/tp-test-%s-XXXXXX", tag);
    if (mkdtemp(out) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline int tp_test_write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return -1;
    ssize_t w = n ? write(fd, data, n) : 0;
    fchmod(fd, mode);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

static inline size_t tp_test_read_file(const char *path, void *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static inline uint64_t tp_test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
