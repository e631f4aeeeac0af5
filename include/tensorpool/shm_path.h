/* Path containment for region files (W-15.21a.5.a, docs/spec/wire.md §5.7 steps 2-12,
 * D-21, D-26): a consumer opens a region file only if its announced path is
 * canonical, lies inside an allowed base directory, names a regular file
 * reached without any symlink, is the same inode that was checked, and grants
 * nothing to "others". Stricter than the spec: a file with more than one hard
 * link is refused too (a link could import a file from outside the base). */
#ifndef TENSORPOOL_SHM_PATH_H
#define TENSORPOOL_SHM_PATH_H

#include "tensorpool/shm_uri.h"

#include <stdint.h>
#include <sys/stat.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_SHM_MAX_BASES 8
#define TP_HUGETLBFS_MAGIC 0x958458f6u
#define TP_TMPFS_MAGIC 0x01021994u

/* Allowed base directories, canonicalized once at configuration load. */
typedef struct tp_shm_bases_s {
    unsigned count;
    char dir[TP_SHM_MAX_BASES][TP_SHM_PATH_MAX];
} tp_shm_bases_t;

/* Canonicalize each of the n directories with realpath and keep those that
 * resolve to a directory (§5.7 step 3). Fails (TP_ERR_PERMISSION) when none is
 * left: an empty allowlist would reject everything (step 2, fail closed), so
 * it is refused at load. n may be at most TP_SHM_MAX_BASES. */
TP_INTERNAL int tp_shm_bases_init(tp_shm_bases_t *bases, const char *const *dirs, unsigned n);

/* Result of tp_shm_path_open: an fd open read-only on the checked file and
 * the fstat of that fd. */
typedef struct tp_shm_file_s {
    int fd;
    struct stat st;
    uint32_t fs_magic;      /* statfs f_type of the file system holding it */
    uint64_t fs_block_size; /* statfs f_bsize: the hugepage size on hugetlbfs */
} tp_shm_file_t;

/* Run the consumer containment algorithm of §5.7 on path and open it:
 * absolute; realpath equals path byte for byte (D-26: no symlink, `.`, `..`,
 * `//`, trailing `/`); inside one base with a `/` after the base prefix and
 * not the base itself; stat shows a regular file; component-wise openat with
 * O_NOFOLLOW; fstat of the fd is regular with the same (dev, ino); mode has no
 * bits for others (D-21); exactly one hard link; hugetlbfs when
 * require_hugepages (W-15.22.c).
 * On failure nothing stays open and the error names the failed rule
 * (TP_ERR_PERMISSION for policy refusals, TP_ERR_NOT_FOUND, TP_ERR_IO). */
TP_INTERNAL int tp_shm_path_open(const tp_shm_bases_t *bases, const char *path, int require_hugepages,
                                 tp_shm_file_t *out);

/* Open an existing directory path component by component without following
 * any symlink (O_DIRECTORY|O_NOFOLLOW from "/"). Returns an fd or -1. */
TP_INTERNAL int tp_shm_dir_open_nofollow(const char *path);

#ifdef __cplusplus
}
#endif
#endif
