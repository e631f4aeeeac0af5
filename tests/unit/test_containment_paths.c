/* Containment through the public API (issue 14 item 1), deterministic:
 * a directory on the way to a region file that is a symlink into a victim
 * directory makes creation fail and leaves the victim as it was; a writer
 * whose epoch directory was swapped for a symlink removes nothing through
 * it; a symlinked namespace directory stops the transport from creating its
 * ipc directory there. The race versions are in
 * tests/integration/test_containment_race.c. */
#include "tp_test.h"

#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_dir.h"
#include "tensorpool/shm_region.h"
#include "tensorpool/shm_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_root[64], g_base[128], g_victim[128];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void path_of(char *out, size_t cap, const char *dir, const char *rel)
{
    if (snprintf(out, cap, "%s/%s", dir, rel) >= (int)cap) exit(1);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[400];
    path_of(p, sizeof p, dir, name);
    const int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) exit(1);
    close(fd);
}

/* victim/ holds header.ring and 1.pool with text, mode 0755 */
static void setup(void)
{
    snprintf(g_root, sizeof g_root, "/dev/shm/tp-contain-XXXXXX");
    if (mkdtemp(g_root) == NULL) exit(1);
    path_of(g_base, sizeof g_base, g_root, "base");
    path_of(g_victim, sizeof g_victim, g_root, "victim");
    if (mkdir(g_base, 0770) != 0 || mkdir(g_victim, 0755) != 0) exit(1);
    chmod(g_victim, 0755);
    put_file(g_victim, "header.ring", "victim ring");
    put_file(g_victim, "1.pool", "victim pool");
}

/* victim unchanged: mode, exactly its two files with their sizes */
static int victim_intact(void)
{
    struct stat st;
    char p[400];
    if (stat(g_victim, &st) != 0 || (st.st_mode & 07777) != 0755) return 0;
    path_of(p, sizeof p, g_victim, "header.ring");
    if (lstat(p, &st) != 0 || st.st_size != 11 || (st.st_mode & 0777) != 0644) return 0;
    path_of(p, sizeof p, g_victim, "1.pool");
    if (lstat(p, &st) != 0 || st.st_size != 11 || (st.st_mode & 0777) != 0644) return 0;
    int n = 0;
    DIR *d = opendir(g_victim);
    if (d == NULL) return 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
    return n == 2;
}

static void teardown(void)
{
    nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static tp_superblock_t ring_sb(void)
{
    tp_superblock_t sb;
    memset(&sb, 0, sizeof sb);
    sb.magic = TP_SHM_MAGIC;
    sb.layout_version = TP_SHM_LAYOUT_VERSION;
    sb.epoch = 1;
    sb.stream_id = 1;
    sb.region_type = TP_CONTROL_REGION_TYPE_HEADER_RING;
    sb.nslots = 64;
    sb.slot_bytes = TP_SHM_SLOT_BYTES;
    sb.activity_timestamp_ns = 1;
    return sb;
}

/* O_NOFOLLOW guards only the last component; the directory before it must
 * not be followed either. */
static void test_region_create_through_symlinked_dir(void)
{
    setup();
    char link[300], path[400];
    path_of(link, sizeof link, g_base, "7");
    CHECK(symlink(g_victim, link) == 0);
    path_of(path, sizeof path, link, "header.ring");
    const tp_superblock_t sb = ring_sb();
    tp_shm_region_t r;
    CHECK(tp_shm_region_create(&r, path, &sb, 0) == -1);
    CHECK(tp_errcode() == TP_ERR_PERMISSION);
    path_of(path, sizeof path, link, "new.pool");
    CHECK(tp_shm_region_create(&r, path, &sb, 0) == -1);
    CHECK(victim_intact());
    teardown();
}

/* A writer's epoch directory swapped for a symlink after creation: closing
 * with unlink_files removes nothing behind the link. */
static void test_writer_cleanup_after_swap(void)
{
    setup();
    tp_shm_writer_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.base_dir = g_base;
    cfg.user = "u";
    cfg.ns = "ns";
    cfg.stream_id = 3;
    cfg.epoch = 9;
    cfg.nslots = 64;
    cfg.npools = 1;
    cfg.pools[0].pool_id = 1;
    cfg.pools[0].stride_bytes = 64;
    cfg.now_ns = 1;
    tp_shm_writer_t *w = calloc(1, sizeof *w);
    CHECK(w != NULL && tp_shm_writer_open(w, &cfg) == 0);
    if (w == NULL) return teardown();
    char moved[600];
    if (snprintf(moved, sizeof moved, "%s.moved", w->epoch_dir) >= (int)sizeof moved) exit(1);
    CHECK(rename(w->epoch_dir, moved) == 0 && symlink(g_victim, w->epoch_dir) == 0);
    tp_shm_writer_close(w, 1);
    CHECK(victim_intact());
    struct stat st;
    CHECK(lstat(w->epoch_dir, &st) == 0 && S_ISLNK(st.st_mode)); /* the link stays: not ours to judge here */
    free(w);
    teardown();
}

/* The transport makes <base>/tensorpool-<user>/<ns>/ipc; a namespace
 * directory planted as a symlink is not followed. */
static void test_ipc_dir_not_made_through_symlink(void)
{
    setup();
    char user[128], p[400];
    CHECK(tp_shm_user_effective(user, sizeof user) > 0);
    if (snprintf(p, sizeof p, "%s/tensorpool-%s", g_base, user) >= (int)sizeof p) exit(1);
    CHECK(mkdir(p, 0770) == 0);
    if (snprintf(p, sizeof p, "%s/tensorpool-%s/lab", g_base, user) >= (int)sizeof p) exit(1);
    CHECK(symlink(g_victim, p) == 0);
    tp_ipc_context_t ctx;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = g_base;
    ctx.namespace_name = "lab";
    tp_ipc_publication_t *pub = NULL;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 7) == -1);
    tp_ipc_subscription_t *sub = NULL;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", 7) == -1);
    CHECK(victim_intact());
    teardown();
}

/* A base dir given with a trailing '/' still puts the ipc directory below
 * it (the rest of the path is taken relative to the base, never from "/"). */
static void test_ipc_dir_below_base_with_slash(void)
{
    setup();
    char base[200], user[128], p[400];
    if (snprintf(base, sizeof base, "%s/", g_base) >= (int)sizeof base) exit(1);
    tp_ipc_context_t ctx;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base;
    ctx.namespace_name = "lab";
    tp_ipc_publication_t *pub = NULL;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 7) == 0);
    if (pub != NULL) tp_ipc_publication_close(pub);
    CHECK(tp_shm_user_effective(user, sizeof user) > 0);
    if (snprintf(p, sizeof p, "%s/tensorpool-%s/lab/ipc", g_base, user) >= (int)sizeof p) exit(1);
    struct stat st;
    CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0770);
    teardown();
}

int main(void)
{
    RUN(test_region_create_through_symlinked_dir);
    RUN(test_writer_cleanup_after_swap);
    RUN(test_ipc_dir_not_made_through_symlink);
    RUN(test_ipc_dir_below_base_with_slash);
    TP_TEST_END();
}
