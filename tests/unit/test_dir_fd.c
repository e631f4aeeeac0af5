/* The dir_fd module (src/util/dir_fd.h): no symlink is followed in any
 * component, "." and ".." are refused, names are single components, files
 * are reused or removed only when they are ours, and a directory is emptied
 * without entering a symlink or a subdirectory. Every case runs twice: with
 * openat2 (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) and with the per-component
 * O_NOFOLLOW walk that replaces it where openat2 is missing. */
#include "tp_test.h"

#include "util/dir_fd.h"
#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_root[64];   /* per-mode temp dir: base/ and victim/ in it */
static char g_base[128];
static char g_victim[128];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void put_file(const char *path, const char *text, mode_t mode)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) exit(1);
    fchmod(fd, mode);
    close(fd);
}

/* size of path (following nothing), -1 if absent */
static long long size_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mode : 0;
}

static void path_of(char *out, size_t cap, const char *dir, const char *rel)
{
    if (snprintf(out, cap, "%s/%s", dir, rel) >= (int)cap) exit(1);
}

/* base/a/b/c real; victim/ with one file "secret" (0640, 6 bytes). */
static void setup(void)
{
    snprintf(g_root, sizeof g_root, "/dev/shm/tp-dirfd-XXXXXX");
    if (mkdtemp(g_root) == NULL) exit(1);
    path_of(g_base, sizeof g_base, g_root, "base");
    path_of(g_victim, sizeof g_victim, g_root, "victim");
    char p[300];
    if (mkdir(g_base, 0770) != 0 || mkdir(g_victim, 0755) != 0) exit(1);
    path_of(p, sizeof p, g_base, "a");
    mkdir(p, 0770);
    path_of(p, sizeof p, g_base, "a/b");
    mkdir(p, 0770);
    path_of(p, sizeof p, g_base, "a/b/c");
    mkdir(p, 0770);
    path_of(p, sizeof p, g_victim, "secret");
    put_file(p, "secret", 0640);
}

static void teardown(void)
{
    nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int victim_intact(void)
{
    char p[300];
    path_of(p, sizeof p, g_victim, "secret");
    return size_of(p) == 6 && (mode_of(p) & 07777) == 0640 && (mode_of(g_victim) & 07777) == 0755;
}

/* Replace base/<rel> (a directory) by a symlink to the victim. */
static void plant_link(const char *rel)
{
    char p[300], moved[320];
    path_of(p, sizeof p, g_base, rel);
    if (snprintf(moved, sizeof moved, "%s.real", p) >= (int)sizeof moved) exit(1);
    if (rename(p, moved) != 0 || symlink(g_victim, p) != 0) exit(1);
}

static void unplant(const char *rel)
{
    char p[300], moved[320];
    path_of(p, sizeof p, g_base, rel);
    if (snprintf(moved, sizeof moved, "%s.real", p) >= (int)sizeof moved) exit(1);
    if (unlink(p) != 0 || rename(moved, p) != 0) exit(1);
}

static void test_open_plain_and_relative(void)
{
    setup();
    char p[300];
    path_of(p, sizeof p, g_base, "a/b/c");
    int fd = tp_dir_open(AT_FDCWD, p);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    const int base = tp_dir_open(AT_FDCWD, g_base);
    CHECK(base >= 0);
    fd = tp_dir_open(base, "a/b");
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    fd = tp_dir_open(base, "a//b/"); /* repeated and trailing '/' are harmless */
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    fd = tp_dir_open(AT_FDCWD, "/");
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(tp_dir_open(base, "nope") == -1 && tp_errcode() == TP_ERR_NOT_FOUND);
    close(base);
    teardown();
}

/* A symlink in each component of base/a/b/c: refused, nothing opened. */
static void test_symlink_in_each_component(void)
{
    static const char *const rels[] = {"a", "a/b", "a/b/c"};
    for (unsigned i = 0; i < 3; i++) {
        setup();
        plant_link(rels[i]);
        char p[300];
        path_of(p, sizeof p, g_base, "a/b/c");
        errno = 0;
        CHECK(tp_dir_open(AT_FDCWD, p) == -1);
        CHECK(errno == ELOOP || errno == ENOTDIR);
        CHECK(tp_errcode() == TP_ERR_PERMISSION);
        const int base = tp_dir_open(AT_FDCWD, g_base);
        CHECK(tp_dir_open(base, "a/b/c") == -1);
        /* creating below it refuses too, and makes nothing in the victim */
        CHECK(tp_dir_make(base, "a/b/c/d/e", 0770, 0, NULL) == -1);
        path_of(p, sizeof p, g_victim, "d");
        CHECK(size_of(p) == -1);
        path_of(p, sizeof p, g_victim, "b");
        CHECK(size_of(p) == -1);
        /* the base itself given as a symlink */
        close(base);
        CHECK(victim_intact());
        unplant(rels[i]);
        teardown();
    }
    /* the base dir as a symlink: refused when walked */
    setup();
    char link[300];
    path_of(link, sizeof link, g_root, "baselink");
    CHECK(symlink(g_base, link) == 0);
    CHECK(tp_dir_open(AT_FDCWD, link) == -1);
    teardown();
}

static void test_dot_dot_and_absolute_names(void)
{
    setup();
    const int base = tp_dir_open(AT_FDCWD, g_base);
    CHECK(base >= 0);
    CHECK(tp_dir_open(base, "..") == -1 && tp_errcode() == TP_ERR_INVALID_ARG);
    CHECK(tp_dir_open(base, "a/../..") == -1);
    CHECK(tp_dir_open(base, "a/./b") == -1);
    char p[300];
    snprintf(p, sizeof p, "%s/a/../a", g_base);
    CHECK(tp_dir_open(AT_FDCWD, p) == -1);
    CHECK(tp_dir_make(base, "a/../../escape", 0770, 0, NULL) == -1);
    path_of(p, sizeof p, g_root, "escape");
    CHECK(size_of(p) == -1);
    /* names are single components: '/', "." and ".." are refused */
    CHECK(tp_dir_open_file(base, "/etc/passwd", O_RDONLY, 0, 0) == -1);
    CHECK(tp_dir_open_file(base, "a/x", O_RDWR, 0660, TP_DIR_CREATE) == -1);
    CHECK(tp_dir_open_file(base, "..", O_RDONLY, 0, 0) == -1);
    CHECK(tp_dir_open_file(base, "", O_RDONLY, 0, 0) == -1);
    CHECK(tp_dir_unlink_file(base, "../victim/secret") == -1);
    CHECK(tp_dir_remove_tree(base, "..") == -1);
    CHECK(tp_dir_remove_tree(base, "/") == -1);
    const char *name = NULL;
    CHECK(tp_dir_open_parent("relative/x", &name) == -1);
    CHECK(tp_dir_open_parent("/", &name) == -1);
    CHECK(victim_intact());
    close(base);
    teardown();
}

static void test_dir_replaced_by_file(void)
{
    setup();
    char p[300];
    path_of(p, sizeof p, g_base, "a/b/c");
    CHECK(rmdir(p) == 0);
    put_file(p, "x", 0600);
    errno = 0;
    CHECK(tp_dir_open(AT_FDCWD, p) == -1 && errno == ENOTDIR);
    const int base = tp_dir_open(AT_FDCWD, g_base);
    CHECK(tp_dir_make(base, "a/b/c/d", 0770, 0, NULL) == -1);
    close(base);
    teardown();
}

static void test_make(void)
{
    setup();
    const int base = tp_dir_open(AT_FDCWD, g_base);
    const mode_t old = umask(077);
    int created = -1;
    int fd = tp_dir_make(base, "x/y/z", 0770, TP_DIR_EXACT_MODE, &created);
    CHECK(fd >= 0 && created == 1);
    if (fd >= 0) close(fd);
    char p[300];
    path_of(p, sizeof p, g_base, "x/y/z");
    CHECK((mode_of(p) & 07777) == 0770); /* exact, not 0700 from the umask */
    path_of(p, sizeof p, g_base, "x");
    CHECK((mode_of(p) & 07777) == 0770);
    fd = tp_dir_make(base, "x/y/z", 0770, TP_DIR_EXACT_MODE, &created);
    CHECK(fd >= 0 && created == 0); /* idempotent */
    if (fd >= 0) close(fd);
    fd = tp_dir_make(base, "q", 0770, 0, NULL);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    path_of(p, sizeof p, g_base, "q");
    CHECK((mode_of(p) & 07777) == 0700); /* under the umask without EXACT_MODE */
    umask(old);
    /* absolute, creating the missing tail */
    path_of(p, sizeof p, g_base, "abs/new");
    fd = tp_dir_make(AT_FDCWD, p, 0770, 0, &created);
    CHECK(fd >= 0 && created == 1);
    if (fd >= 0) close(fd);
    close(base);
    teardown();
}

/* Inside a setgid directory (a base dir shared with a group) the exact mode
 * keeps the inherited setgid bit, so every file below gets the group. */
static void test_make_keeps_setgid(void)
{
    setup();
    char p[300];
    path_of(p, sizeof p, g_base, "shared");
    CHECK(mkdir(p, 0770) == 0);
    CHECK(chmod(p, 02770) == 0);
    const int base = tp_dir_open(AT_FDCWD, g_base);
    int fd = tp_dir_make(base, "shared/ns/ipc", 0770, TP_DIR_EXACT_MODE, NULL);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    path_of(p, sizeof p, g_base, "shared/ns/ipc");
    CHECK((mode_of(p) & 07777) == 02770);
    fd = tp_dir_make(base, "plain", 0770, TP_DIR_EXACT_MODE, NULL); /* no setgid parent: none added */
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    path_of(p, sizeof p, g_base, "plain");
    CHECK((mode_of(p) & 07777) == 0770);
    close(base);
    teardown();
}

static void test_open_file(void)
{
    setup();
    const int base = tp_dir_open(AT_FDCWD, g_base);
    char p[300], t[300];
    /* create, then reuse with truncate */
    int fd = tp_dir_open_file(base, "f", O_RDWR, 0660, TP_DIR_CREATE);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, "hello", 5) == 5);
        close(fd);
    }
    path_of(p, sizeof p, g_base, "f");
    CHECK(size_of(p) == 5);
    fd = tp_dir_open_file(base, "f", O_RDWR, 0660, TP_DIR_CREATE | TP_DIR_TRUNCATE);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(size_of(p) == 0);
    /* a symlink to the victim's file: refused, the target not truncated */
    path_of(t, sizeof t, g_victim, "secret");
    path_of(p, sizeof p, g_base, "link");
    CHECK(symlink(t, p) == 0);
    CHECK(tp_dir_open_file(base, "link", O_RDWR, 0660, TP_DIR_CREATE | TP_DIR_TRUNCATE) == -1);
    CHECK(tp_dir_open_file(base, "link", O_RDONLY, 0, 0) == -1);
    /* a dangling symlink: nothing created where it points */
    path_of(t, sizeof t, g_victim, "planted");
    path_of(p, sizeof p, g_base, "dangling");
    CHECK(symlink(t, p) == 0);
    CHECK(tp_dir_open_file(base, "dangling", O_RDWR, 0660, TP_DIR_CREATE) == -1);
    CHECK(size_of(t) == -1);
    /* a hard link to the victim's file: refused, not truncated */
    path_of(t, sizeof t, g_victim, "secret");
    path_of(p, sizeof p, g_base, "hard");
    if (link(t, p) == 0) {
        CHECK(tp_dir_open_file(base, "hard", O_RDWR, 0660, TP_DIR_CREATE | TP_DIR_TRUNCATE) == -1);
        CHECK(tp_errcode() == TP_ERR_PERMISSION);
        unlink(p);
    }
    /* a FIFO: refused without blocking */
    path_of(p, sizeof p, g_base, "fifo");
    CHECK(mkfifo(p, 0660) == 0);
    CHECK(tp_dir_open_file(base, "fifo", O_RDONLY, 0, 0) == -1);
    CHECK(tp_dir_open_file(base, "fifo", O_RDWR, 0660, TP_DIR_CREATE) == -1);
    /* a directory */
    CHECK(tp_dir_open_file(base, "a", O_RDONLY, 0, 0) == -1);
    CHECK(victim_intact());
    close(base);
    teardown();
}

static void test_unlink_and_remove_tree(void)
{
    setup();
    const int base = tp_dir_open(AT_FDCWD, g_base);
    char p[300], t[300];
    path_of(t, sizeof t, g_victim, "secret");
    /* unlink: a symlink goes as a link, the target stays */
    path_of(p, sizeof p, g_base, "link");
    CHECK(symlink(t, p) == 0);
    CHECK(tp_dir_unlink_file(base, "link") == 0);
    CHECK(size_of(p) == -1 && victim_intact());
    /* a directory is not a file */
    CHECK(tp_dir_unlink_file(base, "a") == -1 && errno == EPERM);
    path_of(p, sizeof p, g_base, "a");
    CHECK(S_ISDIR(mode_of(p)));
    /* an epoch-like tree: files, a symlink to the victim dir, a link to a
     * victim file; all go, nothing behind the links is touched */
    path_of(p, sizeof p, g_base, "7");
    CHECK(mkdir(p, 0770) == 0);
    path_of(p, sizeof p, g_base, "7/header.ring");
    put_file(p, "ring", 0660);
    path_of(p, sizeof p, g_base, "7/1.pool");
    put_file(p, "pool", 0660);
    path_of(p, sizeof p, g_base, "7/evil");
    CHECK(symlink(g_victim, p) == 0);
    path_of(p, sizeof p, g_base, "7/secret");
    CHECK(symlink(t, p) == 0);
    CHECK(tp_dir_remove_tree(base, "7") == 0);
    path_of(p, sizeof p, g_base, "7");
    CHECK(size_of(p) == -1);
    CHECK(victim_intact());
    /* a symlink where a directory is expected: removed as a link, never entered */
    path_of(p, sizeof p, g_base, "8");
    CHECK(symlink(g_victim, p) == 0);
    CHECK(tp_dir_remove_tree(base, "8") == 0);
    CHECK(size_of(p) == -1 && victim_intact());
    /* a subdirectory is not entered: its file stays, and so does the tree */
    path_of(p, sizeof p, g_base, "9");
    CHECK(mkdir(p, 0770) == 0);
    path_of(p, sizeof p, g_base, "9/sub");
    CHECK(mkdir(p, 0770) == 0);
    path_of(p, sizeof p, g_base, "9/sub/keep");
    put_file(p, "keep", 0600);
    path_of(p, sizeof p, g_base, "9/top");
    put_file(p, "top", 0600);
    CHECK(tp_dir_remove_tree(base, "9") == -1);
    CHECK(size_of(p) == -1); /* the file at top level went */
    path_of(p, sizeof p, g_base, "9/sub/keep");
    CHECK(size_of(p) == 4);
    close(base);
    teardown();
}

static void test_open_parent_and_fchmod(void)
{
    setup();
    char p[300];
    path_of(p, sizeof p, g_base, "a/b/file");
    const char *name = NULL;
    const int dfd = tp_dir_open_parent(p, &name);
    CHECK(dfd >= 0 && name != NULL && strcmp(name, "file") == 0);
    if (dfd >= 0) {
        const int fd = tp_dir_open_file(dfd, name, O_RDWR, 0600, TP_DIR_CREATE);
        CHECK(fd >= 0);
        if (fd >= 0) {
            CHECK(tp_dir_fchmod_own(fd, 0660, "file") == 0);
            close(fd);
        }
        close(dfd);
    }
    CHECK((mode_of(p) & 07777) == 0660);
    plant_link("a/b");
    CHECK(tp_dir_open_parent(p, &name) == -1);
    unplant("a/b");
    teardown();
}

static void run_all(void)
{
    RUN(test_open_plain_and_relative);
    RUN(test_symlink_in_each_component);
    RUN(test_dot_dot_and_absolute_names);
    RUN(test_dir_replaced_by_file);
    RUN(test_make);
    RUN(test_make_keeps_setgid);
    RUN(test_open_file);
    RUN(test_unlink_and_remove_tree);
    RUN(test_open_parent_and_fchmod);
}

int main(void)
{
    printf("-- openat2 where the kernel has it\n");
    tp_dir_force_walk(0);
    run_all();
    printf("-- per-component O_NOFOLLOW walk\n");
    tp_dir_force_walk(1);
    run_all();
    TP_TEST_END();
}
