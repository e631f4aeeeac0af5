#include "ipc_dir.h"

#include "../util/dir_fd.h"
#include "tensorpool/error.h"
#include "../util/fault_guard.h"

#include <errno.h>
#include <linux/futex.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *const default_base = "/dev/shm/tensorpool";

const char *tp_ipc_dir_base(const tp_ipc_context_t *ctx)
{
    if (ctx != NULL && ctx->base_dir != NULL && ctx->base_dir[0] != '\0') return ctx->base_dir;
    const char *env = getenv("TP_DIR");
    if (env != NULL && env[0] != '\0') return env;
    return default_base;
}

static int name_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 64) return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Effective user name, sanitised as docs/spec/driver.md §5.6 says. */
static void user_name(char *out, size_t out_len)
{
    struct passwd pw, *res = NULL;
    char buf[1024];
    out[0] = '\0';
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res != NULL && res->pw_name != NULL)
        snprintf(out, out_len, "%s", res->pw_name);
    for (char *p = out; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            *p = '_';
    }
    if (out[0] == '\0') snprintf(out, out_len, "unknown");
}

int tp_ipc_context_dir(const tp_ipc_context_t *ctx, char *out, size_t out_len)
{
    const char *base = tp_ipc_dir_base(ctx);
    const char *ns = ctx != NULL && ctx->namespace_name != NULL ? ctx->namespace_name : "default";
    if (base[0] != '/') return tp_err_set(TP_ERR_INVALID_ARG, "ipc base dir '%s' is not absolute", base);
    if (!name_ok(ns)) return tp_err_set(TP_ERR_INVALID_ARG, "ipc namespace '%s' is not [A-Za-z0-9_-]{1,64}", ns);
    char user[256];
    user_name(user, sizeof user);
    int n = snprintf(out, out_len, "%s/tensorpool-%s/%s/ipc", base, user, ns);
    if (n < 0 || (size_t)n >= out_len) return tp_err_set(TP_ERR_CAPACITY, "ipc directory path too long");
    return 0;
}

/* Every directory of rel ("tensorpool-<user>/<ns>/ipc") below the base must
 * be ours: the base may be writable by the group, and a neighbour who made
 * tensorpool-<user> first would own our whole tree (tp_dir_check_own). */
static int own_tree(int basefd, const char *rel, const char *dir)
{
    char part[PATH_MAX];
    const size_t n = strlen(rel);
    if (n >= sizeof part) return tp_err_set(TP_ERR_CAPACITY, "ipc directory path too long");
    memcpy(part, rel, n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (part[i] != '/' && part[i] != '\0') continue;
        const char saved = part[i];
        part[i] = '\0';
        const int fd = tp_dir_open(basefd, part);
        const int rc = fd < 0 ? -1 : tp_dir_check_own(fd, part);
        if (fd >= 0) close(fd);
        part[i] = saved;
        if (rc != 0) return tp_err_wrap("ipc dir %s", dir);
    }
    return 0;
}

int tp_ipc_dir_open_ctx(const tp_ipc_context_t *ctx, int create)
{
    char dir[PATH_MAX], canon[PATH_MAX];
    if (tp_ipc_context_dir(ctx, dir, sizeof dir) < 0) return -1;
    const char *base = tp_ipc_dir_base(ctx);
    const char *rel = dir + strlen(base); /* "/tensorpool-<user>/<ns>/ipc" */
    while (*rel == '/') rel++;            /* relative to the base, also when it ends in '/' */
    /* The base dir is configuration: a symlink in it is resolved once, here.
     * Below it nothing is followed (dir_fd.h). */
    int basefd;
    if (realpath(base, canon) != NULL) basefd = tp_dir_open(AT_FDCWD, canon);
    else if (create && errno == ENOENT) basefd = tp_dir_make(AT_FDCWD, base, TP_IPC_DIR_MODE, TP_DIR_EXACT_MODE, NULL);
    else
        return tp_err_set(errno == ENOENT ? TP_ERR_NOT_FOUND : TP_ERR_IO, "ipc base dir %s: %s", base, strerror(errno));
    if (basefd < 0) return tp_err_wrap("ipc base dir");
    /* the mode is set with fchmod on each directory made, so the umask cannot weaken it */
    const int fd =
        create ? tp_dir_make(basefd, rel, TP_IPC_DIR_MODE, TP_DIR_EXACT_MODE, NULL) : tp_dir_open(basefd, rel);
    const int e = errno;
    if (fd >= 0 && own_tree(basefd, rel, dir) != 0) {
        close(fd);
        close(basefd);
        return -1;
    }
    close(basefd);
    errno = e;
    return fd >= 0 ? fd : tp_err_wrap("ipc dir %s", dir);
}

static int index_map(int fd, tp_ipc_index_t **index)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return tp_err_set(TP_ERR_IO, "fstat index: %s", strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size != TP_IPC_INDEX_FILE_BYTES)
        return tp_err_set(TP_ERR_MALFORMED, "ipc index is not a %d-byte regular file", TP_IPC_INDEX_FILE_BYTES);
    void *m = mmap(NULL, TP_IPC_INDEX_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return tp_err_set(TP_ERR_IO, "mmap index: %s", strerror(errno));
    /* Guarded before the first read: anyone in the group can truncate it. */
    if (tp_fault_guard_add(m, TP_IPC_INDEX_FILE_BYTES, PROT_READ | PROT_WRITE) < 0) {
        munmap(m, TP_IPC_INDEX_FILE_BYTES);
        return -1;
    }
    tp_ipc_index_t *ix = m;
    if (ix->magic != TP_IPC_INDEX_MAGIC || ix->version != 1 || tp_ipc_index_lost(ix)) {
        tp_ipc_index_close(ix);
        return tp_err_set(TP_ERR_MALFORMED, "ipc index has a bad magic or version");
    }
    *index = ix;
    return 0;
}

/* Build a fresh index under a private name and put it in place: linked
 * when there is none (others see no index or a complete one; the first
 * creator wins), renamed over a broken one (repair). */
static int index_create(int dirfd, int replace)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".index-%d", (int)getpid());
    /* a leftover of ours is reused; a planted link or foreign file is refused */
    int t = tp_dir_open_file(dirfd, tmp, O_RDWR, TP_IPC_FILE_MODE, TP_DIR_CREATE | TP_DIR_TRUNCATE);
    if (t < 0) return tp_err_wrap("create ipc index");
    tp_ipc_index_t init;
    memset(&init, 0, sizeof init);
    init.magic = TP_IPC_INDEX_MAGIC;
    init.version = 1;
    init.generation = 1; /* not 0: a lost (zeroed) mapping must read as a change */
    int ok = fchmod(t, TP_IPC_FILE_MODE) == 0 && ftruncate(t, TP_IPC_INDEX_FILE_BYTES) == 0 &&
             pwrite(t, &init, sizeof init, 0) == (ssize_t)sizeof init;
    int err = errno;
    close(t);
    if (ok && replace && renameat(dirfd, tmp, dirfd, "index") != 0) {
        err = errno;
        ok = 0;
    } else if (ok && !replace && linkat(dirfd, tmp, dirfd, "index", 0) != 0 && errno != EEXIST) {
        err = errno;
        ok = 0;
    }
    unlinkat(dirfd, tmp, 0);
    if (!ok) return tp_err_set(TP_ERR_IO, "create ipc index: %s", strerror(err));
    return 0;
}

static int index_open_existing(int dirfd, tp_ipc_index_t **index)
{
    int fd = openat(dirfd, "index", O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return tp_err_set(errno == ENOENT ? TP_ERR_NOT_FOUND : TP_ERR_IO, "open ipc index: %s", strerror(errno));
    int rc = index_map(fd, index);
    close(fd);
    return rc;
}

int tp_ipc_index_open(int dirfd, tp_ipc_index_t **index)
{
    if (index_open_existing(dirfd, index) == 0) return 0;
    if (tp_errcode() == TP_ERR_NOT_FOUND) {
        if (index_create(dirfd, 0) < 0) return -1;
    } else if (tp_errcode() == TP_ERR_MALFORMED) {
        /* Truncated or overwritten by someone: only a generation counter is
         * lost, so put a fresh one in its place (subscriptions rescan). */
        if (index_create(dirfd, 1) < 0) return -1;
    } else {
        return -1;
    }
    return index_open_existing(dirfd, index);
}

void tp_ipc_index_close(tp_ipc_index_t *index)
{
    if (index == NULL) return;
    tp_fault_guard_remove(tp_fault_guard_find(index));
    munmap(index, TP_IPC_INDEX_FILE_BYTES);
}

/* The futex word: the generation's low half (x86-64 and aarch64 are little
 * endian), so a bump changes it. Not private: other processes wake us. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the futex word is the low half of the generation");
static uint32_t *index_futex_word(const tp_ipc_index_t *index)
{
    return (uint32_t *)(uintptr_t)&index->generation;
}

void tp_ipc_index_bump(tp_ipc_index_t *index)
{
    atomic_fetch_add_explicit(&index->generation, 1, memory_order_acq_rel);
    tp_ipc_index_wake(index);
}

void tp_ipc_index_wake(const tp_ipc_index_t *index)
{
    (void)syscall(SYS_futex, index_futex_word(index), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void tp_ipc_index_wait(const tp_ipc_index_t *index, uint64_t seen, int64_t timeout_ns)
{
    if (timeout_ns <= 0) return;
    const struct timespec ts = {(time_t)(timeout_ns / 1000000000LL), (long)(timeout_ns % 1000000000LL)};
    /* EAGAIN (already changed), EINTR, ETIMEDOUT, and EFAULT (the mapping
     * went away under us) all just end the wait. */
    (void)syscall(SYS_futex, index_futex_word(index), FUTEX_WAIT, (uint32_t)seen, &ts, NULL, 0);
}

int tp_ipc_index_lost(const tp_ipc_index_t *index)
{
    return index != NULL && tp_fault_guard_probe(tp_fault_guard_find(index)) != TP_FAULT_NONE;
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

int tp_ipc_dir_scan(int dirfd, void *buf, size_t buf_len, int (*fn)(void *arg, const char *name), void *arg)
{
    if (lseek(dirfd, 0, SEEK_SET) < 0) return tp_err_set(TP_ERR_IO, "rewind ipc dir: %s", strerror(errno));
    for (;;) {
        long n = syscall(SYS_getdents64, dirfd, buf, buf_len);
        if (n < 0) return tp_err_set(TP_ERR_IO, "getdents64: %s", strerror(errno));
        if (n == 0) return 0;
        for (long off = 0; off < n;) {
            const struct linux_dirent64 *d = (const struct linux_dirent64 *)(const void *)((const char *)buf + off);
            off += d->d_reclen;
            if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
            if (fn(arg, d->d_name) != 0) return 0;
        }
    }
}
