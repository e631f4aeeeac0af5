/* A full file system (a small /dev/shm, as in a default container) is an
 * error with a message when a region or a transport log is created, never a
 * SIGBUS at the first write, and leaves no file behind; `tp demo` on a file
 * system too small for its camera rings fails with the reason and without a
 * SIGBUS in any of its processes. The test runs in its
 * own mount namespace on a 1 MiB tmpfs; where no mount namespace can be had
 * (not root and no user namespaces) it exits 77, which ctest reports as
 * skipped, not passed. */
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_region.h"
#include "tp_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[] = "/tmp/tp-full-fs-XXXXXX";
static char g_demo_dir[] = "/tmp/tp-full-demo-XXXXXX";
static const char *g_tp;

static int write_file(const char *path, const char *text)
{
    const int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A private mount namespace with a 1 MiB tmpfs on g_dir; 0 or -1. */
static int enter_small_tmpfs(void)
{
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    if (unshare(CLONE_NEWNS) != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return -1;
        char map[64];
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        if (write_file("/proc/self/setgroups", "deny") != 0 || write_file("/proc/self/uid_map", map) != 0) return -1;
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if (write_file("/proc/self/gid_map", map) != 0) return -1;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    /* the demo's transport logs (~24 MiB) fit in 40 MiB, its two 15 MB camera rings do not */
    if (mount("tpfull", g_demo_dir, "tmpfs", 0, "size=40m,mode=0770") != 0) return -1;
    return mount("tpfull", g_dir, "tmpfs", 0, "size=1m,mode=0770");
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static tp_superblock_t pool_sb(uint32_t nslots, uint32_t stride)
{
    tp_superblock_t sb = {
        .magic = TP_SHM_MAGIC, .layout_version = 1, .epoch = 1, .stream_id = 1,
        .region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, .pool_id = 1, .nslots = nslots,
        .slot_bytes = TP_SHM_POOL_SLOT_BYTES_NULL, .stride_bytes = stride, .pid = 1,
        .start_timestamp_ns = 1, .activity_timestamp_ns = 1,
    };
    return sb;
}

/* A pool bigger than the file system is refused at creation, naming the
 * bytes needed and free; the file is gone. A pool that fits has every block
 * reserved at creation. */
static void test_region_too_big_refused(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/big.pool", g_dir);
    tp_shm_region_t r;
    const tp_superblock_t big = pool_sb(4, 512 * 1024); /* 2 MiB + 64 on a 1 MiB tmpfs */
    CHECK(tp_shm_region_create(&r, path, &big, 0) == -1);
    printf("refused: %s\n", tp_errmsg());
    CHECK(strstr(tp_errmsg(), "no space left") != NULL);
    CHECK(strstr(tp_errmsg(), "2097216 bytes needed") != NULL);
    CHECK(strstr(tp_errmsg(), "big.pool") != NULL);
    CHECK(r.base == NULL);
    CHECK(!exists(path));
    /* the driver's way (reserve, do not populate a mapping it drops) reserves too */
    CHECK(tp_shm_region_create(&r, path, &big, TP_SHM_CREATE_NO_POPULATE) == -1);
    CHECK(strstr(tp_errmsg(), "no space left") != NULL);
    CHECK(!exists(path));

    snprintf(path, sizeof path, "%s/small.pool", g_dir);
    const tp_superblock_t small = pool_sb(4, 64 * 1024);
    CHECK(tp_shm_region_create(&r, path, &small, 0) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (uint64_t)st.st_blocks * 512 >= tp_shm_region_min_size(small.region_type, 4, 64 * 1024));
    if (r.base != NULL) memset(r.base + 64, 0xAB, 4 * 64 * 1024); /* every reserved byte writable: no SIGBUS */
    tp_shm_region_unmap(&r);
    CHECK(unlink(path) == 0);
    CHECK(tp_shm_region_create(&r, path, &small, TP_SHM_CREATE_NO_POPULATE) == 0);
    CHECK(stat(path, &st) == 0 && (uint64_t)st.st_blocks * 512 >= tp_shm_region_min_size(small.region_type, 4, 64 * 1024));
    tp_shm_region_unmap(&r);
    CHECK(unlink(path) == 0);
}

/* policies.prefault_shm=false: nothing is reserved, the sparse file is
 * created (the later SIGBUS risk is what the operator chose). */
static void test_no_prefault_creates_sparse(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/lazy.pool", g_dir);
    tp_shm_region_t r;
    const tp_superblock_t big = pool_sb(4, 512 * 1024);
    CHECK(tp_shm_region_create(&r, path, &big, TP_SHM_CREATE_NO_PREFAULT) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (uint64_t)st.st_blocks * 512 < 1024 * 1024);
    tp_shm_region_unmap(&r);
    CHECK(unlink(path) == 0);
}

/* A transport log that does not fit: the publication open fails with the
 * reason and leaves no temporary file in the transport directory. */
static void test_ipc_log_too_big_refused(void)
{
    tp_ipc_context_t ctx;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = g_dir;
    ctx.log_capacity = 4u << 20;
    tp_ipc_publication_t *pub = NULL;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 1000) == -1);
    printf("refused: %s\n", tp_errmsg());
    CHECK(pub == NULL);
    CHECK(strstr(tp_errmsg(), "no space left") != NULL);
    char ipc_dir[512];
    CHECK(tp_ipc_context_dir(&ctx, ipc_dir, sizeof ipc_dir) >= 0);
    DIR *d = opendir(ipc_dir);
    int files = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        const size_t n = strlen(e->d_name); /* logs and their temporaries; the directory's index stays */
        const int counted = strncmp(e->d_name, ".tmp", 4) == 0 || (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0);
        if (counted) printf("left: %s\n", e->d_name);
        files += counted;
    }
    if (d != NULL) closedir(d);
    CHECK_EQ_I64(files, 0);
    ctx.log_capacity = 64u << 10; /* one that fits still opens */
    ctx.max_message = 4u << 10;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 1000) == 0);
    if (pub != NULL) CHECK(tp_ipc_publication_offer(pub, "x", 1) >= 0);
    tp_ipc_publication_close(pub);
}

static void test_demo_reports_full_fs(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s demo --duration 2 --dir %s 2>&1", g_tp, g_demo_dir);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (f == NULL) return;
    static char out[1 << 16];
    const size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    const int st = pclose(f);
    fputs(out, stdout);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(strstr(out, "result: FAILED") != NULL);
    CHECK(strstr(out, "no space left on its file system") != NULL && strstr(out, "bytes needed") != NULL);
    CHECK(strstr(out, "signal") == NULL && strstr(out, "Bus error") == NULL); /* no process died */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_full_fs PATH_TO_TP\n");
        return 2;
    }
    g_tp = argv[1];
    if (mkdtemp(g_dir) == NULL || mkdtemp(g_demo_dir) == NULL) return 1;
    if (enter_small_tmpfs() != 0) {
        fprintf(stderr, "test_full_fs: no mount namespace here (%s): skipped\n", strerror(errno));
        rmdir(g_dir);
        rmdir(g_demo_dir);
        return 77;
    }
    RUN(test_region_too_big_refused);
    RUN(test_no_prefault_creates_sparse);
    RUN(test_ipc_log_too_big_refused);
    RUN(test_demo_reports_full_fs);
    umount(g_dir);
    rmdir(g_dir);
    umount(g_demo_dir);
    rmdir(g_demo_dir);
    TP_TEST_END();
}
