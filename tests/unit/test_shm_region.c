/* Region create/map and superblock validation (W-6, W-7, W-15.1, §3.1,
 * §5.1 step 10, D-5, D-8, D-10; §7 scenarios 1-3, 5-8, 10, 12-15). */
#include "tensorpool/error.h"
#include "tensorpool/shm_region.h"
#include "tp_test.h"
#include "unit/shm_test_util.h"

#include <sys/mman.h>

static char g_base[256];
static tp_shm_bases_t g_bases;
static const uint64_t SEC = 1000000000ull;
static uint64_t g_now;

static tp_superblock_t ring_sb(void)
{
    tp_superblock_t sb = {
        .magic = TP_SHM_MAGIC, .layout_version = 1, .epoch = 7, .stream_id = 10000,
        .region_type = TP_CONTROL_REGION_TYPE_HEADER_RING, .pool_id = 0, .nslots = 4, .slot_bytes = 256,
        .stride_bytes = 0, .pid = 42, .start_timestamp_ns = g_now, .activity_timestamp_ns = g_now,
    };
    return sb;
}

static tp_superblock_t pool_sb(void)
{
    tp_superblock_t sb = ring_sb();
    sb.region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL;
    sb.pool_id = 1;
    sb.slot_bytes = TP_SHM_POOL_SLOT_BYTES_NULL;
    sb.stride_bytes = 64;
    return sb;
}

static tp_shm_region_expect_t ring_expect(void)
{
    tp_shm_region_expect_t e = {.layout_version = 1, .epoch = 7, .stream_id = 10000,
                                .region_type = TP_CONTROL_REGION_TYPE_HEADER_RING, .pool_id = 0, .nslots = 4};
    return e;
}

static tp_shm_region_expect_t pool_expect(void)
{
    tp_shm_region_expect_t e = ring_expect();
    e.region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL;
    e.pool_id = 1;
    e.stride_bytes = 64;
    return e;
}

/* Create a region file whose superblock is sb, then unmap it. */
static void make(const char *name, const tp_superblock_t *sb, tp_shm_uri_t *uri)
{
    snprintf(uri->path, sizeof uri->path, "%s/%s", g_base, name);
    uri->require_hugepages = 0;
    tp_shm_region_t r;
    if (tp_shm_region_create(&r, uri->path, sb, 0) != 0) fprintf(stderr, "create: %s\n", tp_errmsg());
    tp_shm_region_unmap(&r);
}

/* Map with the given expectation; a 3 s freshness window at g_now. */
static int map(const tp_shm_uri_t *uri, const tp_shm_region_expect_t *e)
{
    tp_shm_region_t r;
    const int rc = tp_shm_region_map(&r, &g_bases, uri, e, g_now, 3 * SEC);
    if (rc == 0) {
        CHECK(r.base != NULL);
        tp_shm_region_unmap(&r);
    } else {
        CHECK(r.base == NULL); /* W-15.22.g: nothing stays mapped */
    }
    return rc;
}

/* Ring superblock with one field changed, then mapped with ring_expect. */
#define RING_WITH(field, value)                                                  \
    do {                                                                         \
        tp_superblock_t sb_ = ring_sb();                                         \
        sb_.field = value;                                                       \
        make("ring", &sb_, &u);                                                  \
    } while (0)

/* §7 #1, W-8.1.a, W-9.a, §3.1: ring 64+4*256 and pool 64+4*64 with correct
 * superblocks map. */
static void test_happy_map(void)
{
    tp_shm_uri_t u;
    tp_superblock_t sb = ring_sb();
    make("ring", &sb, &u);
    struct stat st;
    CHECK(stat(u.path, &st) == 0);
    CHECK_EQ_U64(st.st_size, 64 + 4 * 256);
    CHECK_EQ_U64(st.st_mode & 0777, 0660); /* umask 0 in main: exactly 0660 */
    tp_shm_region_expect_t e = ring_expect();
    CHECK(map(&u, &e) == 0);
    sb = pool_sb();
    make("pool", &sb, &u);
    CHECK(stat(u.path, &st) == 0);
    CHECK_EQ_U64(st.st_size, 64 + 4 * 64);
    e = pool_expect();
    CHECK(map(&u, &e) == 0);
}

/* §7 #2, W-7.1.e, D-2: the big-endian magic bytes are refused. */
static void test_bad_magic(void)
{
    tp_shm_uri_t u;
    RING_WITH(magic, 0x314D48534C504F54ULL); /* bytes 54 50 4F 4C 53 48 4D 31 */
    tp_shm_region_expect_t e = ring_expect();
    CHECK(map(&u, &e) == -1);
    CHECK(strstr(tp_errmsg(), "magic") != NULL);
}

/* §7 #3, #5, W-7.1.c, W-15.1.a, W-15.1.b, W-15.14.d: layout version, epoch and
 * stream must match the announce, or the region is not mapped.
 * W-7.1.f: the superblock's layout_version alone decides SHM compatibility
 * (SBE schema/version of control messages are checked by the codec, D-16). */
static void test_layout_and_epoch(void)
{
    tp_shm_uri_t u;
    tp_shm_region_expect_t e = ring_expect();
    RING_WITH(layout_version, 2);
    CHECK(map(&u, &e) == -1);
    CHECK(strstr(tp_errmsg(), "layout_version") != NULL);
    RING_WITH(epoch, 6);
    CHECK(map(&u, &e) == -1);
    CHECK(strstr(tp_errmsg(), "epoch") != NULL);
    RING_WITH(stream_id, 10001);
    CHECK(map(&u, &e) == -1);
}

/* §7 #6, #7, #8, W-7.1.h, W-15.8.a: region type and pool ids. */
static void test_region_type_and_pool_id(void)
{
    tp_shm_uri_t u;
    tp_shm_region_expect_t pe = pool_expect();
    tp_superblock_t sb = pool_sb();
    sb.region_type = TP_CONTROL_REGION_TYPE_HEADER_RING;
    make("pool", &sb, &u);
    CHECK(map(&u, &pe) == -1);
    /* region_type 3 is an invalid enum value; write it over a valid pool */
    sb = pool_sb();
    make("pool", &sb, &u);
    tp_shm_region_t w;
    sb.region_type = 3;
    CHECK(tp_shm_region_create(&w, u.path, &sb, 0) == -1); /* the producer refuses it too */
    sb = pool_sb();
    CHECK(tp_shm_region_create(&w, u.path, &sb, 0) == 0);
    sb.region_type = 3;
    tp_superblock_write(w.base, &sb);
    tp_shm_region_unmap(&w);
    CHECK(map(&u, &pe) == -1);
    CHECK(strstr(tp_errmsg(), "RegionType") != NULL);

    tp_shm_region_expect_t re = ring_expect();
    RING_WITH(pool_id, 1);
    CHECK(map(&u, &re) == -1);
    sb = pool_sb();
    sb.pool_id = 2;
    make("pool", &sb, &u);
    CHECK(map(&u, &pe) == -1);
    CHECK(strstr(tp_errmsg(), "pool_id") != NULL);
}

/* W-15.5.a, W-15.1.a, D-5: nslots, ring slot_bytes, pool stride (§7 #13).
 * W-10.1.1.b: a ring whose slot_bytes is not 256 is refused. */
static void test_geometry_fields(void)
{
    tp_shm_uri_t u;
    tp_shm_region_expect_t e = ring_expect();
    RING_WITH(nslots, 8);
    CHECK(map(&u, &e) == -1);
    RING_WITH(slot_bytes, 512);
    CHECK(map(&u, &e) == -1);
    RING_WITH(stride_bytes, 12345); /* D-5: not checked for the ring */
    CHECK(map(&u, &e) == 0);
    tp_superblock_t sb = pool_sb();
    sb.slot_bytes = 7; /* D-5: not checked for a pool */
    make("pool", &sb, &u);
    tp_shm_region_expect_t pe = pool_expect();
    CHECK(map(&u, &pe) == 0);
    sb = pool_sb();
    sb.stride_bytes = 128;
    make("pool", &sb, &u);
    CHECK(map(&u, &pe) == -1); /* announce says 64 */
    CHECK(strstr(tp_errmsg(), "stride_bytes") != NULL);
}

/* §7 #10, #12, W-8.1.b, W-15.22.e, W-15.22.f: power-of-two slots, 64-multiple
 * strides, page alignment not required. */
static void test_geometry_rules(void)
{
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_HEADER_RING, 6, 0) == -1);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_HEADER_RING, 0, 0) == -1);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_HEADER_RING, 4, 0) == 0);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, 4, 100) == -1);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, 4, 0) == -1);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, 4, 32) == -1);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, 4, 64) == 0);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, 4, 1048576) == 0);
    CHECK(tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, 4, 1088) == 0); /* not page-aligned: fine */
    CHECK(tp_shm_geometry_check(3, 4, 64) == -1);
    /* 64-bit size arithmetic (§3.5) */
    CHECK_EQ_U64(tp_shm_region_min_size(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, 1u << 31, 1u << 31), 64 + (1ull << 62));
    CHECK_EQ_U64(tp_shm_region_min_size(3, 4, 64), 0);
}

/* §7 #14, D-8: short files are refused before mmap (no SIGBUS); longer ok. */
static void test_truncated_and_wrong_size(void)
{
    tp_shm_uri_t u;
    tp_superblock_t sb = ring_sb();
    make("ring", &sb, &u);
    tp_shm_region_expect_t e = ring_expect();
    CHECK(truncate(u.path, 64 + 3 * 256) == 0);
    CHECK(map(&u, &e) == -1);
    CHECK(tp_errcode() == TP_ERR_TRUNCATED);
    CHECK(truncate(u.path, 10) == 0);
    CHECK(map(&u, &e) == -1);
    CHECK(truncate(u.path, 0) == 0);
    CHECK(map(&u, &e) == -1);
    make("ring", &sb, &u);
    CHECK(truncate(u.path, 64 + 4 * 256 + 4096) == 0); /* larger is allowed (§3.1) */
    CHECK(map(&u, &e) == 0);
    CHECK(truncate(u.path, 1ll << 40) == 0); /* a 1 TiB sparse file: only the layout is mapped */
    tp_shm_region_t r;
    CHECK(tp_shm_region_map(&r, &g_bases, &u, &e, g_now, 3 * SEC) == 0);
    CHECK_EQ_U64(r.size, 4096); /* 64 + 4*256 rounded up to the tmpfs block */
    tp_shm_region_unmap(&r);
    /* announce with 8 slots vs a 4-slot file: the size check fires first */
    e.nslots = 8;
    CHECK(map(&u, &e) == -1);
}

/* §7 #15, W-15.1.c, D-10: activity freshness at map time. */
static void test_activity_freshness(void)
{
    tp_shm_uri_t u;
    tp_shm_region_expect_t e = ring_expect();
    RING_WITH(activity_timestamp_ns, g_now - 4 * SEC);
    CHECK(map(&u, &e) == -1);
    CHECK(strstr(tp_errmsg(), "stale") != NULL);
    RING_WITH(activity_timestamp_ns, g_now - SEC / 2);
    CHECK(map(&u, &e) == 0);
    RING_WITH(activity_timestamp_ns, 0);
    CHECK(map(&u, &e) == -1); /* D-10: never written counts as stale */
    RING_WITH(activity_timestamp_ns, g_now + SEC);
    CHECK(map(&u, &e) == 0); /* future: age 0 */
    CHECK(tp_shm_activity_fresh(100, 100 + 3 * SEC, 3 * SEC) == 1);
    CHECK(tp_shm_activity_fresh(100, 101 + 3 * SEC, 3 * SEC) == 0);
}

/* W-7.1.d, §3.6: the activity timestamp is the one atomic superblock field. */
static void test_activity_store_load(void)
{
    tp_shm_uri_t u;
    tp_superblock_t sb = ring_sb();
    snprintf(u.path, sizeof u.path, "%s/act", g_base);
    tp_shm_region_t w;
    CHECK(tp_shm_region_create(&w, u.path, &sb, 0) == 0);
    tp_superblock_activity_store(w.base, 987654321);
    CHECK_EQ_U64(tp_superblock_activity_load(w.base), 987654321);
    tp_superblock_t back;
    tp_superblock_read(w.base, &back);
    CHECK_EQ_U64(back.activity_timestamp_ns, 987654321);
    CHECK_EQ_U64(back.epoch, 7);
    tp_shm_region_unmap(&w);
    tp_shm_region_unmap(&w); /* idempotent */
}

/* W-15.22.c: a producer asked for hugepages on tmpfs fails and leaves no file. */
static void test_create_hugepages_refused(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/huge", g_base);
    tp_superblock_t sb = ring_sb();
    tp_shm_region_t r;
    CHECK(tp_shm_region_create(&r, p, &sb, 1) == -1);
    CHECK(access(p, F_OK) != 0);
    sb.nslots = 3;
    CHECK(tp_shm_region_create(&r, p, &sb, 0) == -1);
    CHECK(access(p, F_OK) != 0);
    /* O_NOFOLLOW: never create through a planted symlink */
    char l[600];
    snprintf(l, sizeof l, "%s/planted", g_base);
    CHECK(symlink("/tmp/tp-should-not-exist", l) == 0);
    sb = ring_sb();
    CHECK(tp_shm_region_create(&r, l, &sb, 0) == -1);
    CHECK(access("/tmp/tp-should-not-exist", F_OK) != 0);
}

int main(void)
{
    umask(0);
    g_now = tp_test_now_ns();
    tp_test_mkdtemp(g_base, sizeof g_base, "region");
    const char *dirs[] = {g_base};
    if (tp_shm_bases_init(&g_bases, dirs, 1) != 0) return 1;
    RUN(test_happy_map);
    RUN(test_bad_magic);
    RUN(test_layout_and_epoch);
    RUN(test_region_type_and_pool_id);
    RUN(test_geometry_fields);
    RUN(test_geometry_rules);
    RUN(test_truncated_and_wrong_size);
    RUN(test_activity_freshness);
    RUN(test_activity_store_load);
    RUN(test_create_hugepages_refused);
    tp_test_rmtree(g_base);
    TP_TEST_END();
}
