/* Consumer-side path containment (W-15.21a.5.a, §5.7, D-21, D-26). */
#include "tensorpool/shm_path.h"

#include "../util/dir_fd.h"
#include "shm_path_hook.h"
#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

_Static_assert(TP_SHM_PATH_MAX >= PATH_MAX, "realpath needs PATH_MAX bytes");

static tp_shm_path_hook_fn g_hook;
static void *g_hook_arg;

void tp_shm_path_set_test_hook(tp_shm_path_hook_fn fn, void *arg)
{
    g_hook = fn;
    g_hook_arg = arg;
}

int tp_shm_bases_init(tp_shm_bases_t *bases, const char *const *dirs, unsigned n)
{
    if (bases == NULL || (n > 0 && dirs == NULL))
        return tp_err_set(TP_ERR_INVALID_ARG, "shm bases: NULL argument");
    if (n > TP_SHM_MAX_BASES)
        return tp_err_set(TP_ERR_CAPACITY, "shm bases: %u directories, at most %d", n, TP_SHM_MAX_BASES);
    bases->count = 0;
    for (unsigned i = 0; i < n; i++) {
        char canon[TP_SHM_PATH_MAX];
        struct stat st;
        if (dirs[i] == NULL || dirs[i][0] != '/') continue;  /* must be absolute */
        if (realpath(dirs[i], canon) == NULL) continue;      /* step 3: drop failures */
        if (stat(canon, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        memcpy(bases->dir[bases->count++], canon, strlen(canon) + 1);
    }
    if (bases->count == 0)
        return tp_err_set(TP_ERR_PERMISSION,
                          "shm bases: no allowed base directory resolves; refusing an empty allowlist (§5.7)");
    return 0;
}

/* §5.7 step 6: prefix match that ends exactly at a path separator. */
static int inside_base(const tp_shm_bases_t *bases, const char *canon)
{
    for (unsigned i = 0; i < bases->count; i++) {
        const char *b = bases->dir[i];
        size_t n = strlen(b);
        if (n == 1 && b[0] == '/') n = 0; /* base "/" admits every absolute path */
        if (strncmp(canon, b, n) == 0 && canon[n] == '/' && canon[n + 1] != '\0') return 1;
    }
    return 0;
}

/* Open path with no symlink in any component (dir_fd.h): the directories
 * from "/", the final component with final_flags (|O_NOFOLLOW|O_CLOEXEC);
 * final_flags < 0 opens path itself as a directory. */
static int open_nofollow(const char *path, int final_flags)
{
    if (final_flags < 0) return tp_dir_open(AT_FDCWD, path);
    const char *name;
    const int dirfd = tp_dir_open_parent(path, &name);
    if (dirfd < 0) return -1;
    const int fd = openat(dirfd, name, final_flags | O_NOFOLLOW | O_CLOEXEC);
    const int saved = errno;
    close(dirfd);
    errno = saved;
    return fd;
}

int tp_shm_dir_open_nofollow(const char *path)
{
    const int fd = open_nofollow(path, -1);
    if (fd < 0) return tp_err_set(TP_ERR_IO, "open directory '%s' without following links: %s", path, strerror(errno));
    return fd;
}

int tp_shm_path_open(const tp_shm_bases_t *bases, const char *path, int require_hugepages,
                     tp_shm_file_t *out)
{
    if (bases == NULL || path == NULL || out == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "shm path: NULL argument");
    out->fd = -1;
    if (path[0] != '/') /* step 1 */
        return tp_err_set(TP_ERR_PERMISSION, "shm path '%s': not absolute (W-15.21a.5.a)", path);
    if (bases->count == 0) /* step 2: fail closed */
        return tp_err_set(TP_ERR_PERMISSION, "shm path '%s': no allowed base directories configured", path);
    if (strlen(path) >= TP_SHM_PATH_MAX)
        return tp_err_set(TP_ERR_PERMISSION, "shm path: longer than %d bytes", TP_SHM_PATH_MAX - 1);

    char canon[TP_SHM_PATH_MAX];
    if (realpath(path, canon) == NULL) /* step 4 */
        return tp_err_set(errno == ENOENT ? TP_ERR_NOT_FOUND : TP_ERR_PERMISSION,
                          "shm path '%s': cannot canonicalize: %s", path, strerror(errno));
    if (strcmp(canon, path) != 0) /* step 5, D-26 */
        return tp_err_set(TP_ERR_PERMISSION,
                          "shm path '%s': not canonical (resolves to '%s'; symlinks, '.', '..', '//' refused, D-26)",
                          path, canon);
    if (!inside_base(bases, canon)) /* step 6 */
        return tp_err_set(TP_ERR_PERMISSION, "shm path '%s': outside every allowed base directory", path);

    struct stat st0;
    if (stat(canon, &st0) != 0) /* step 7 */
        return tp_err_set(TP_ERR_NOT_FOUND, "shm path '%s': stat: %s", path, strerror(errno));
    if (!S_ISREG(st0.st_mode))
        return tp_err_set(TP_ERR_PERMISSION, "shm path '%s': not a regular file (W-15.21a.5.a step 5)", path);

    if (g_hook != NULL) g_hook(canon, g_hook_arg);

    /* step 8; O_NONBLOCK so a FIFO swapped in after step 7 cannot block us */
    const int fd = open_nofollow(canon, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return tp_err_set(TP_ERR_PERMISSION, "shm path '%s': open without following symlinks failed: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { /* step 9 */
        const int e = errno;
        close(fd);
        return tp_err_set(TP_ERR_IO, "shm path '%s': fstat: %s", path, strerror(e));
    }
    const char *why = NULL;
    if (!S_ISREG(st.st_mode)) why = "opened file is not a regular file";
    else if (st.st_dev != st0.st_dev || st.st_ino != st0.st_ino)
        why = "file was replaced between check and open (dev/inode differ, TOCTOU)";
    else if (st.st_mode & 0007) why = "file grants permissions to others (mode & 0007, D-21)";
    /* a hard link can bring a file from outside the base inside it; producers
     * never make one, so any extra link is refused */
    else if (st.st_nlink != 1) why = "file has more than one hard link";
    struct statfs sfs;
    uint32_t magic = 0;
    uint64_t bsize = 0;
    if (why == NULL) {
        if (fstatfs(fd, &sfs) != 0) {
            why = "fstatfs failed";
        } else {
            magic = (uint32_t)sfs.f_type;
            bsize = sfs.f_bsize > 0 ? (uint64_t)sfs.f_bsize : 0;
        }
    }
    if (why == NULL && require_hugepages && magic != TP_HUGETLBFS_MAGIC) /* step 11, W-15.22.c */
        why = "require_hugepages=true but the file is not on hugetlbfs";
    if (why != NULL) {
        close(fd);
        return tp_err_set(TP_ERR_PERMISSION, "shm path '%s': %s", path, why);
    }
    out->fd = fd;
    out->st = st;
    out->fs_magic = magic;
    out->fs_block_size = bsize;
    return 0;
}
