/* Path containment attacks and the canonical directory layout
 * (W-15.21a.3/5, §5.7, D-21, D-26; §7 scenarios 27, 30-38). */
#include "shm/shm_path_hook.h"
#include "tensorpool/error.h"
#include "tensorpool/shm_dir.h"
#include "tensorpool/shm_path.h"
#include "tp_test.h"
#include "unit/shm_test_util.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>

static char g_base[256];
static tp_shm_bases_t g_bases;

static void path_of(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", g_base, rel);
}

static int try_open(const char *path, int huge)
{
    tp_shm_file_t f;
    const int rc = tp_shm_path_open(&g_bases, path, huge, &f);
    if (rc == 0) close(f.fd);
    else CHECK(f.fd == -1);
    return rc;
}

static void mkfile(const char *rel, mode_t mode)
{
    char p[512];
    path_of(p, sizeof p, rel);
    CHECK(tp_test_write_file(p, "0123456789", 10, mode) == 0);
}

/* W-15.21a.5.a: a canonical regular file inside the base opens. */
static void test_happy_path(void)
{
    char p[512];
    path_of(p, sizeof p, "a");
    tp_shm_file_t f;
    CHECK(tp_shm_path_open(&g_bases, p, 0, &f) == 0);
    CHECK(f.fd >= 0);
    CHECK(S_ISREG(f.st.st_mode));
    CHECK_EQ_U64(f.fs_magic, TP_TMPFS_MAGIC);
    close(f.fd);
}

/* §7 #30 and D-26: '..', '.', '//', trailing '/' are refused even when they
 * resolve to a file inside the base. */
static void test_dot_dot_and_non_canonical(void)
{
    char p[512];
    path_of(p, sizeof p, "../../etc/passwd");
    CHECK(try_open(p, 0) == -1);
    path_of(p, sizeof p, "../../../etc/passwd"); /* resolves to /etc/passwd */
    CHECK(try_open(p, 0) == -1);
    CHECK(tp_errcode() == TP_ERR_PERMISSION);
    char q[600];
    snprintf(q, sizeof q, "%s/../%s/a", g_base, strrchr(g_base, '/') + 1); /* back into the base */
    CHECK(try_open(q, 0) == -1);
    CHECK(tp_errcode() == TP_ERR_PERMISSION);
    path_of(p, sizeof p, "sub/../a");
    CHECK(try_open(p, 0) == -1);
    path_of(p, sizeof p, "./a");
    CHECK(try_open(p, 0) == -1);
    path_of(p, sizeof p, "/a");
    CHECK(try_open(p, 0) == -1); /* "base//a" */
    path_of(p, sizeof p, "a/");
    CHECK(try_open(p, 0) == -1);
    CHECK(try_open("/etc/passwd", 0) == -1);
    CHECK(try_open("relative/a", 0) == -1); /* step 1 */
}

/* §7 #31: base "/x/tp" must not admit "/x/tp-evil/a". */
static void test_sibling_prefix(void)
{
    char evil[512], p[600];
    snprintf(evil, sizeof evil, "%s-evil", g_base);
    CHECK(mkdir(evil, 0700) == 0);
    snprintf(p, sizeof p, "%s/a", evil);
    CHECK(tp_test_write_file(p, "x", 1, 0600) == 0);
    CHECK(try_open(p, 0) == -1);
    CHECK(strstr(tp_errmsg(), "outside") != NULL);
    tp_test_rmtree(evil);
}

/* §7 #32: symlinked final component (in-base and escaping targets). */
static void test_symlinked_file(void)
{
    char p[512], target[512];
    path_of(target, sizeof target, "a");
    path_of(p, sizeof p, "link");
    CHECK(symlink(target, p) == 0);
    CHECK(try_open(p, 0) == -1);
    path_of(p, sizeof p, "esc");
    CHECK(symlink("/etc/passwd", p) == 0);
    CHECK(try_open(p, 0) == -1);
}

/* §7 #33: a symlinked directory component. */
static void test_symlinked_directory(void)
{
    char p[512], target[512];
    path_of(target, sizeof target, "real");
    CHECK(mkdir(target, 0700) == 0);
    mkfile("real/f", 0600);
    path_of(p, sizeof p, "d");
    CHECK(symlink(target, p) == 0);
    path_of(p, sizeof p, "d/f");
    CHECK(try_open(p, 0) == -1);
    path_of(p, sizeof p, "real/f");
    CHECK(try_open(p, 0) == 0); /* the real path is fine */
    /* a directory symlink pointing outside the base */
    path_of(p, sizeof p, "etc");
    CHECK(symlink("/etc", p) == 0);
    path_of(p, sizeof p, "etc/passwd");
    CHECK(try_open(p, 0) == -1);
}

/* §7 #34: FIFO, socket, directory, the base itself and /dev/zero. */
static void test_not_regular(void)
{
    char p[512];
    path_of(p, sizeof p, "fifo");
    CHECK(mkfifo(p, 0600) == 0);
    CHECK(try_open(p, 0) == -1); /* must not block either */
    path_of(p, sizeof p, "sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CHECK(strlen(p) < sizeof sa.sun_path);
    memcpy(sa.sun_path, p, strlen(p) + 1);
    CHECK(bind(s, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(try_open(p, 0) == -1);
    close(s);
    path_of(p, sizeof p, "real");
    CHECK(try_open(p, 0) == -1);
    CHECK(try_open(g_base, 0) == -1);
    tp_shm_bases_t dev;
    const char *dirs[] = {"/dev"};
    CHECK(tp_shm_bases_init(&dev, dirs, 1) == 0);
    tp_shm_file_t f;
    CHECK(tp_shm_path_open(&dev, "/dev/zero", 0, &f) == -1);
    CHECK(tp_shm_path_open(&dev, "/dev/null", 0, &f) == -1);
}

/* §7 #35 and §5.7 steps 2-3: empty allowlists fail closed. */
static void test_no_allowlist(void)
{
    tp_shm_bases_t none;
    CHECK(tp_shm_bases_init(&none, NULL, 0) == -1);
    const char *bad[] = {"relative", "/nonexistent/tp-nowhere", "/etc/passwd"};
    CHECK(tp_shm_bases_init(&none, bad, 3) == -1);
    none.count = 0;
    char p[512];
    path_of(p, sizeof p, "a");
    tp_shm_file_t f;
    CHECK(tp_shm_path_open(&none, p, 0, &f) == -1);
}

/* §5.7 step 3: bases are canonicalized once; a base given through a symlink
 * admits the canonical paths only. */
static void test_base_canonicalized(void)
{
    char link[512], p[600];
    snprintf(link, sizeof link, "%s-link", g_base);
    CHECK(symlink(g_base, link) == 0);
    tp_shm_bases_t b;
    const char *dirs[] = {"/nonexistent/tp-nowhere", link};
    CHECK(tp_shm_bases_init(&b, dirs, 2) == 0);
    CHECK_EQ_U64(b.count, 1);
    CHECK_STR(b.dir[0], g_base);
    tp_shm_file_t f;
    path_of(p, sizeof p, "a");
    CHECK(tp_shm_path_open(&b, p, 0, &f) == 0);
    close(f.fd);
    snprintf(p, sizeof p, "%s/a", link);
    CHECK(tp_shm_path_open(&b, p, 0, &f) == -1);
    unlink(link);
}

/* §7 #36, W-15.22.c: require_hugepages on tmpfs is refused. (No hugetlbfs
 * mount on the test host, so the accepting half is not exercised here.) */
static void test_hugepages_required(void)
{
    char p[512];
    path_of(p, sizeof p, "a");
    CHECK(try_open(p, 1) == -1);
    CHECK(strstr(tp_errmsg(), "hugetlbfs") != NULL);
}

/* §7 #37, D-21: any permission bit for others is refused. */
static void test_permissions(void)
{
    char p[512];
    const mode_t refused[] = {0666, 0604, 0601, 0602, 0607};
    for (unsigned i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        mkfile("perm", refused[i]);
        path_of(p, sizeof p, "perm");
        CHECK(try_open(p, 0) == -1);
        CHECK(tp_errcode() == TP_ERR_PERMISSION);
    }
    mkfile("perm", 0660);
    CHECK(try_open(p, 0) == 0);
    mkfile("perm", 0600);
    CHECK(try_open(p, 0) == 0);
}

/* §7 #38: the file is swapped (new inode, symlink, FIFO) between the check and
 * the open; dev/ino comparison or O_NOFOLLOW catches each. */
static int g_swap_kind;
static void swap_hook(const char *canon, void *arg)
{
    (void)arg;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.new", canon);
    if (g_swap_kind == 0) {
        tp_test_write_file(tmp, "other", 5, 0600);
        rename(tmp, canon);
    } else if (g_swap_kind == 1) {
        unlink(canon);
        symlink("/etc/passwd", canon);
    } else {
        unlink(canon);
        mkfifo(canon, 0600);
    }
}

static void test_toctou_swap(void)
{
    char p[512];
    path_of(p, sizeof p, "swap");
    for (g_swap_kind = 0; g_swap_kind < 3; g_swap_kind++) {
        unlink(p);
        mkfile("swap", 0600);
        tp_shm_path_set_test_hook(swap_hook, NULL);
        CHECK(try_open(p, 0) == -1);
        tp_shm_path_set_test_hook(NULL, NULL);
        if (g_swap_kind == 0) CHECK(strstr(tp_errmsg(), "replaced") != NULL);
    }
    unlink(p);
}

static void test_missing_file(void)
{
    char p[512];
    path_of(p, sizeof p, "missing");
    CHECK(try_open(p, 0) == -1);
    CHECK(tp_errcode() == TP_ERR_NOT_FOUND);
    /* §7 #27: an '&' path simply does not exist */
    path_of(p, sizeof p, "a&require_hugepages=true");
    CHECK(try_open(p, 0) == -1);
}

/* W-15.21a.3.b, §5.7: sanitized user, strict namespace, decimal ids. */
static void test_layout_names(void)
{
    char out[256];
    CHECK(tp_shm_user_sanitize(out, sizeof out, "../ro ot") == 8);
    CHECK_STR(out, "___ro_ot");
    CHECK(tp_shm_user_sanitize(out, sizeof out, "") == 7);
    CHECK_STR(out, "unknown");
    CHECK(tp_shm_user_sanitize(out, sizeof out, NULL) == 7);
    CHECK(tp_shm_user_effective(out, sizeof out) > 0);
    for (const char *c = out; *c; c++) CHECK(*c != '/' && *c != '.');
    CHECK(tp_shm_namespace_check("lab-1_A") == 0);
    CHECK(tp_shm_namespace_check("") == -1);
    CHECK(tp_shm_namespace_check("..") == -1);
    CHECK(tp_shm_namespace_check("a/b") == -1);
    CHECK(tp_shm_dir_epoch_path(out, sizeof out, "/dev/shm/tensorpool", "bob", "lab", 10000, 7) > 0);
    CHECK_STR(out, "/dev/shm/tensorpool/tensorpool-bob/lab/10000/7");
    CHECK(tp_shm_dir_epoch_path(out, sizeof out, "/dev/shm/tensorpool/", "b/../ob", "lab", 1, 2) > 0);
    CHECK_STR(out, "/dev/shm/tensorpool/tensorpool-b____ob/lab/1/2");
    CHECK(tp_shm_dir_epoch_path(out, sizeof out, "relative", "bob", "lab", 1, 2) == -1);
    CHECK(tp_shm_dir_epoch_path(out, sizeof out, "/b", "bob", "l b", 1, 2) == -1);
    CHECK(tp_shm_dir_epoch_path(out, 10, "/dev/shm/tensorpool", "bob", "lab", 1, 2) == -1);
    char ring[300];
    CHECK(tp_shm_dir_ring_path(ring, sizeof ring, "/x/7") > 0);
    CHECK_STR(ring, "/x/7/header.ring");
    CHECK(tp_shm_dir_pool_path(ring, sizeof ring, "/x/7", 3) > 0);
    CHECK_STR(ring, "/x/7/3.pool");
}

/* W-15.21a.6.a: directories 0770 or stricter; never created through a symlink. */
static void test_dir_create(void)
{
    char dir[512], p[600];
    CHECK(tp_shm_dir_epoch_path(dir, sizeof dir, g_base, "u", "ns", 5, 9) > 0);
    CHECK(tp_shm_dir_create(dir) == 0);
    CHECK(tp_shm_dir_create(dir) == 0); /* idempotent */
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 0007) == 0);
    CHECK((st.st_mode & 0777 & ~0770u) == 0);
    /* a symlink planted where a directory should be is refused */
    snprintf(p, sizeof p, "%s/tensorpool-evil", g_base);
    CHECK(symlink("/tmp", p) == 0);
    CHECK(tp_shm_dir_epoch_path(dir, sizeof dir, g_base, "evil", "ns", 5, 9) > 0);
    CHECK(tp_shm_dir_create(dir) == -1);
    CHECK(tp_shm_dir_create("relative/x") == -1);
    int fd = tp_shm_dir_open_nofollow(g_base);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(tp_shm_dir_open_nofollow(p) == -1);
}

int main(void)
{
    tp_test_mkdtemp(g_base, sizeof g_base, "path");
    const char *dirs[] = {g_base};
    if (tp_shm_bases_init(&g_bases, dirs, 1) != 0) {
        fprintf(stderr, "bases: %s\n", tp_errmsg());
        return 1;
    }
    char p[512];
    snprintf(p, sizeof p, "%s/sub", g_base);
    mkdir(p, 0700);
    mkfile("a", 0600);
    RUN(test_happy_path);
    RUN(test_dot_dot_and_non_canonical);
    RUN(test_sibling_prefix);
    RUN(test_symlinked_file);
    RUN(test_symlinked_directory);
    RUN(test_not_regular);
    RUN(test_no_allowlist);
    RUN(test_base_canonicalized);
    RUN(test_hugepages_required);
    RUN(test_permissions);
    RUN(test_toctou_swap);
    RUN(test_missing_file);
    RUN(test_layout_names);
    RUN(test_dir_create);
    tp_test_rmtree(g_base);
    TP_TEST_END();
}
