/* Directory-fd based file-system actions that no symlink can redirect (see
 * dir_fd.h for the rule). Set-up code: never on a hot path. */
#include "dir_fd.h"

#include "tensorpool/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_force_walk;

void tp_dir_force_walk(int on)
{
    g_force_walk = on;
}

/* Next component of *p into comp: 1 taken (*last set when nothing follows),
 * 0 at the end, -1 with errno for one too long or "."/"..". */
static int next_component(const char **p, char comp[NAME_MAX + 1], int *last)
{
    const char *s = *p;
    while (*s == '/') s++;
    if (*s == '\0') return 0;
    const size_t n = strcspn(s, "/");
    if (n > NAME_MAX) { errno = ENAMETOOLONG; return -1; }
    memcpy(comp, s, n);
    comp[n] = '\0';
    if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) { errno = EINVAL; return -1; }
    s += n;
    *p = s;
    while (*s == '/') s++;
    *last = *s == '\0';
    return 1;
}

/* Every component of rel acceptable (no "." or "..", none too long)? */
static int rel_ok(const char *rel)
{
    char comp[NAME_MAX + 1];
    int last, r;
    while ((r = next_component(&rel, comp, &last)) == 1) {}
    return r;
}

static int name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || strlen(name) > NAME_MAX) {
        errno = EINVAL;
        return 0;
    }
    return 1;
}

static int fail(const char *what, const char *path)
{
    const int e = errno;
    tp_errcode_t code = TP_ERR_IO;
    const char *why = strerror(e);
    if (e == ELOOP || e == ENOTDIR || e == EXDEV) {
        code = TP_ERR_PERMISSION;
        why = "a component is a symlink or not a directory; refusing to follow it";
    } else if (e == EINVAL) {
        code = TP_ERR_INVALID_ARG;
        why = "'.', '..' or an empty name refused";
    } else if (e == ENOENT) {
        code = TP_ERR_NOT_FOUND;
    } else if (e == EPERM || e == EACCES) {
        code = TP_ERR_PERMISSION;
    }
    tp_err_set(code, "%s '%s': %s", what, path, why);
    errno = e;
    return -1;
}

/* Start of a walk: "/" for an absolute path (owned: *own = 1), else dirfd. */
static int walk_start(int dirfd, const char **path, int *own)
{
    *own = 0;
    if ((*path)[0] != '/') return dirfd;
    while ((*path)[0] == '/') (*path)++;
    *own = 1;
    return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* One openat2 call: the kernel refuses any symlink and any escape above
 * start. -2 when openat2 is unavailable (pre-5.6 kernel, seccomp). */
static int open_beneath(int start, const char *rel)
{
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0; tries < 8; tries++) {
        const long fd = syscall(SYS_openat2, start, rel, &how, sizeof how);
        if (fd >= 0) return (int)fd;
        if (errno == ENOSYS || errno == E2BIG || errno == EPERM) return -2; /* EPERM: a seccomp filter */
        if (errno != EAGAIN) return -1; /* EAGAIN: a concurrent rename; try again */
    }
#else
    (void)start;
    (void)rel;
#endif
    return -2;
}

/* Per-component walk (the openat2 fallback), creating missing directories
 * when mode != 0. */
static int walk(int start, const char *rel, mode_t mode, unsigned opts, int *created)
{
    int cur = fcntl(start, F_DUPFD_CLOEXEC, 0);
    if (cur < 0) return -1;
    char comp[NAME_MAX + 1];
    int last = 0, r;
    while ((r = next_component(&rel, comp, &last)) == 1) {
        int made = 0;
        if (mode != 0) {
            if (mkdirat(cur, comp, mode) == 0) made = 1;
            else if (errno != EEXIST) break;
        }
        const int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        const int e = errno;
        close(cur);
        if (fd < 0) { errno = e; return -1; }
        cur = fd;
        /* fchmod on the fd just opened: if a neighbour swapped the new
         * directory, the one changed is still inside and must be ours */
        if (made && (opts & TP_DIR_EXACT_MODE) && tp_dir_fchmod_own(cur, mode, comp) != 0) {
            close(cur);
            errno = EPERM;
            return -1;
        }
        if (last && created != NULL) *created = made;
    }
    if (r != 0) {
        const int e = errno;
        close(cur);
        errno = e;
        return -1;
    }
    return cur;
}

static int open_or_make(int dirfd, const char *path, mode_t mode, unsigned opts, int *created)
{
    if (created != NULL) *created = 0;
    if (path == NULL) { errno = EINVAL; return fail("open directory", "(null)"); }
    const char *rel = path;
    if (rel_ok(rel) != 0) return fail("open directory", path);
    int own;
    const int start = walk_start(dirfd, &rel, &own);
    if (start < 0) return fail("open directory", path);
    int fd = -2;
    if (!g_force_walk && rel[0] != '\0') {
        fd = open_beneath(start, rel);
        if (fd == -1 && errno == ENOENT && mode != 0) fd = -2; /* create what is missing below */
    }
    if (fd == -2) fd = walk(start, rel, mode, opts, created);
    const int e = errno;
    if (own) close(start);
    errno = e;
    return fd >= 0 ? fd : fail(mode != 0 ? "create directory" : "open directory", path);
}

int tp_dir_open(int dirfd, const char *path)
{
    return open_or_make(dirfd, path, 0, 0, NULL);
}

int tp_dir_make(int dirfd, const char *path, mode_t mode, unsigned opts, int *created)
{
    return open_or_make(dirfd, path, mode != 0 ? mode : 0700, opts, created);
}

int tp_dir_open_parent(const char *path, const char **name)
{
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    if (slash == NULL || path[0] != '/' || !name_ok(slash + 1)) {
        errno = EINVAL;
        return fail("open parent of", path != NULL ? path : "(null)");
    }
    char parent[PATH_MAX];
    const size_t n = (size_t)(slash - path);
    if (n >= sizeof parent) { errno = ENAMETOOLONG; return fail("open parent of", path); }
    memcpy(parent, path, n);
    parent[n] = '\0';
    const int fd = tp_dir_open(AT_FDCWD, n == 0 ? "/" : parent);
    if (fd >= 0) *name = slash + 1;
    return fd;
}

int tp_dir_open_file(int dirfd, const char *name, int flags, mode_t mode, unsigned opts)
{
    if (!name_ok(name)) return fail("open file", name != NULL ? name : "(null)");
    const int base = (flags & O_ACCMODE) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    int fd = -1, existed = 1;
    if (opts & TP_DIR_CREATE) {
        fd = openat(dirfd, name, base | O_CREAT | O_EXCL, mode);
        if (fd >= 0) existed = 0;
        else if (errno != EEXIST) return fail("create file", name);
    }
    if (fd < 0) fd = openat(dirfd, name, base); /* a symlink fails here with ELOOP */
    if (fd < 0) return fail("open file", name);
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0) why = "fstat failed";
    else if (!S_ISREG(st.st_mode)) why = "not a regular file";
    else if (existed && st.st_uid != geteuid()) why = "owned by another user";
    else if (existed && st.st_nlink != 1) why = "has more than one hard link";
    else if ((opts & TP_DIR_TRUNCATE) && ftruncate(fd, 0) != 0) why = "truncate failed";
    if (why != NULL) {
        close(fd);
        tp_err_set(TP_ERR_PERMISSION, "open file '%s': %s", name, why);
        errno = EPERM;
        return -1;
    }
    return fd;
}

int tp_dir_unlink_file(int dirfd, const char *name)
{
    if (!name_ok(name)) return -1;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
    if (!S_ISLNK(st.st_mode) && !(S_ISREG(st.st_mode) && st.st_uid == geteuid())) {
        errno = EPERM;
        return -1;
    }
    /* a swap after the check still only removes a name from this directory */
    return unlinkat(dirfd, name, 0);
}

/* Unlink what tp_dir_unlink_file accepts in the open directory fd. Repeats
 * the listing until a pass removes nothing (removing while reading may skip
 * entries). Takes fd. */
static void empty_dir(int fd)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    for (int removed = 1, passes = 0; removed && passes < 16; passes++) {
        removed = 0;
        rewinddir(d);
        for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            if (tp_dir_unlink_file(dirfd(d), e->d_name) == 0) removed = 1;
        }
    }
    closedir(d);
}

int tp_dir_remove_tree(int dirfd, const char *name)
{
    if (!name_ok(name)) return -1;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) return tp_dir_unlink_file(dirfd, name); /* a symlink goes as a link */
    const int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1; /* swapped for a symlink since: leave it */
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    empty_dir(fd);
    return unlinkat(dirfd, name, AT_REMOVEDIR);
}

int tp_dir_fchmod_own(int fd, mode_t mode, const char *what)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return tp_err_set(TP_ERR_IO, "chmod '%s': fstat: %s", what, strerror(errno));
    if (st.st_uid != geteuid())
        return tp_err_set(TP_ERR_PERMISSION, "chmod '%s': owned by uid %lu, not by us; left as it is", what,
                          (unsigned long)st.st_uid);
    /* A directory made inside a setgid one inherits the bit (and the group)
     * from it: that is how an administrator shares a base dir with a group,
     * so the exact mode keeps it rather than clearing it. */
    if (S_ISDIR(st.st_mode) && (st.st_mode & S_ISGID)) mode |= S_ISGID;
    if (fchmod(fd, mode) != 0) return tp_err_set(TP_ERR_IO, "chmod '%s': %s", what, strerror(errno));
    return 0;
}

int tp_dir_check_own(int fd, const char *what)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return tp_err_set(TP_ERR_IO, "directory '%s': fstat: %s", what, strerror(errno));
    if (st.st_uid != geteuid())
        return tp_err_set(TP_ERR_PERMISSION,
                          "directory '%s' belongs to uid %lu, not to this user (uid %lu): another user made it; "
                          "remove it and start again",
                          what, (unsigned long)st.st_uid, (unsigned long)geteuid());
    if (st.st_mode & S_IWOTH)
        return tp_err_set(TP_ERR_PERMISSION, "directory '%s' is writable by others (mode %04o): refusing to use it",
                          what, (unsigned)(st.st_mode & 07777));
    return 0;
}
