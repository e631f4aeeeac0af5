/* Hostile input never crashes and never reads out of bounds (docs/architecture.md
 * conventions; §3.6 step 6: the payload is addressed only from the checked
 * private copy). Deterministic pseudo-random slots, superblocks and URIs, fully
 * random and mutated from valid ones; run under ASan+UBSan as well. */
#include "tensorpool/shm_seqlock.h"
#include "tensorpool/shm_uri.h"
#include "tensorpool/slot_check.h"
#include "tp_test.h"
#include "unit/shm_test_rig.h"

static tp_test_rig_t rig;
static uint64_t g_rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* Random or mutated slots behind a committed seq: every outcome is one of
 * the three, and an accepted view lies inside its pool's mapping. */
static void test_random_slots(void)
{
    const uint64_t seq = 5;
    uint8_t *slot = rig.w.ring.base + 64 + (seq & rig.w.mask) * 256;
    tp_tensor_header_t t;
    const int32_t dims[2] = {2, 4};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_INT16, TP_CONTROL_MAJOR_ORDER_COLUMN, 2, dims);
    uint8_t valid[256];
    while (rig.w.next_seq <= seq) tp_shm_writer_publish(&rig.w, &t, "0123456789abcdef", 16, 1, 2, NULL);
    memcpy(valid, slot, 256);
    unsigned outcome[3] = {0, 0, 0};
    for (int iter = 0; iter < 200000; iter++) {
        if (iter % 2) {
            for (int i = 8; i < 256; i++) slot[i] = (uint8_t)rnd();
        } else {
            memcpy(slot + 8, valid + 8, 248);
            const int flips = 1 + (int)(rnd() % 4);
            for (int f = 0; f < flips; f++) slot[8 + rnd() % 248] = (uint8_t)rnd();
        }
        tp_seqlock_write_commit(slot, seq);
        tp_shm_view_t v;
        const tp_shm_read_t st = tp_shm_reader_begin(&rig.r, seq, &v);
        CHECK(st == TP_SHM_READ_OK || st == TP_SHM_READ_INVALID);
        outcome[st]++;
        if (st == TP_SHM_READ_OK) {
            int inside = 0;
            for (unsigned p = 0; p < rig.r.npools; p++) {
                const uint8_t *lo = rig.r.pool[p].base + 64, *hi = rig.r.pool[p].base + rig.r.pool[p].size;
                if (v.len == 0 || (v.payload >= lo && v.payload + v.len <= hi)) inside = 1;
            }
            CHECK(inside);
            volatile uint8_t sink = 0;
            for (uint32_t i = 0; i < v.len; i++) sink ^= v.payload[i]; /* ASan: in bounds */
            (void)sink;
            CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
        }
    }
    CHECK(outcome[TP_SHM_READ_OK] > 0);
    CHECK(outcome[TP_SHM_READ_INVALID] > 0);
    CHECK_EQ_U64(outcome[TP_SHM_READ_LATE], 0);
}

/* Random superblocks: checks and problem lists never crash; only the exact
 * field values pass. */
static void test_random_superblocks(void)
{
    uint8_t raw[64];
    tp_shm_region_expect_t e = {.layout_version = 1, .epoch = 7, .stream_id = 10000,
                                .region_type = TP_CONTROL_REGION_TYPE_HEADER_RING, .nslots = 4};
    for (int iter = 0; iter < 100000; iter++) {
        for (int i = 0; i < 64; i++) raw[i] = (uint8_t)rnd();
        tp_superblock_t sb;
        tp_superblock_read(raw, &sb);
        const char *why[8];
        const unsigned n = tp_superblock_problems(&sb, rnd() % 100000, why, 8);
        for (unsigned i = 0; i < n && i < 8; i++) CHECK(why[i] != NULL);
        CHECK(tp_superblock_check(&sb, &e) == -1);
    }
}

/* Random and mutated URIs: parse never crashes; accepted paths are absolute,
 * printable and free of '?' and '|'. */
static void test_random_uris(void)
{
    static const char seed[] = "shm:file?path=/dev/shm/tp/a|require_hugepages=false";
    char buf[96];
    unsigned ok = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        if (iter % 2) {
            len = rnd() % sizeof buf;
            for (size_t i = 0; i < len; i++) buf[i] = (char)(rnd() % 4 ? 0x20 + rnd() % 0x60 : rnd());
        } else {
            len = sizeof seed - 1 - rnd() % 8;
            memcpy(buf, seed, sizeof seed - 1);
            buf[rnd() % len] = (char)(0x20 + rnd() % 0x60);
        }
        tp_shm_uri_t u;
        if (tp_shm_uri_parse(buf, len, &u) == 0) {
            ok++;
            CHECK(u.path[0] == '/');
            for (const char *c = u.path; *c; c++) CHECK(*c > 0x20 && *c < 0x7F && *c != '?' && *c != '|');
        }
    }
    CHECK(ok > 0);
}

int main(void)
{
    const tp_shm_pool_config_t pools[2] = {{.pool_id = 1, .stride_bytes = 64}, {.pool_id = 2, .stride_bytes = 128}};
    if (tp_test_rig_open(&rig, "random", 4, 2, pools) != 0) {
        fprintf(stderr, "rig: %s\n", tp_errmsg());
        return 1;
    }
    RUN(test_random_slots);
    RUN(test_random_superblocks);
    RUN(test_random_uris);
    tp_test_rig_close(&rig);
    TP_TEST_END();
}
