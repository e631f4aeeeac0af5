/* ShmPoolAnnounce acceptance shared by the consumer and the join agent
 * (docs/spec/wire.md §5.1 steps 1-4 and 7): one case per verdict. */
#include "tensorpool/clock.h"
#include "tensorpool/pool_announce.h"
#include "tp_test.h"

/* A valid announce of stream 7, epoch 3, 8 slots, two pools; each field
 * below can be spoiled by one case. */
typedef struct spec_s {
    uint32_t stream;
    uint64_t ts;
    uint8_t domain;
    uint32_t layout;
    uint32_t nslots;
    uint16_t slot_bytes;
    uint32_t pool_nslots[2];
    uint32_t stride[2];
    uint16_t pool_id[2];
    const char *ring;
    const char *pool;
} spec_t;

static uint8_t g_buf[1024];

#define DECODE_REFUSED ((tp_announce_verdict_t)-1)

static spec_t valid(uint64_t now)
{
    spec_t s = {7, now, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC, 1, 8, 256, {8, 8}, {4096, 64}, {1, 2},
                "shm:file?path=/dev/shm/x/ring", "shm:file?path=/dev/shm/x/pool"};
    return s;
}

static tp_announce_verdict_t check(const spec_t *s, const tp_announce_filter_t *f, tp_shm_reader_config_t *rc)
{
    tp_control_shm_pool_announce_enc_t e;
    tp_control_shm_pool_announce_encode_begin(&e, g_buf, sizeof g_buf);
    tp_control_shm_pool_announce_set_stream_id(&e, s->stream);
    tp_control_shm_pool_announce_set_producer_id(&e, 1);
    tp_control_shm_pool_announce_set_epoch(&e, 3);
    tp_control_shm_pool_announce_set_announce_timestamp_ns(&e, s->ts);
    tp_control_shm_pool_announce_set_announce_clock_domain(&e, s->domain);
    tp_control_shm_pool_announce_set_layout_version(&e, s->layout);
    tp_control_shm_pool_announce_set_header_nslots(&e, s->nslots);
    tp_control_shm_pool_announce_set_header_slot_bytes(&e, s->slot_bytes);
    tp_control_shm_pool_announce_payload_pools_encode_begin(&e, 2);
    for (int i = 0; i < 2; i++) {
        tp_control_shm_pool_announce_payload_pools_encode_next(&e);
        tp_control_shm_pool_announce_payload_pools_set_pool_id(&e, s->pool_id[i]);
        tp_control_shm_pool_announce_payload_pools_set_pool_nslots(&e, s->pool_nslots[i]);
        tp_control_shm_pool_announce_payload_pools_set_stride_bytes(&e, s->stride[i]);
        tp_control_shm_pool_announce_payload_pools_put_region_uri(&e, s->pool, strlen(s->pool));
    }
    tp_control_shm_pool_announce_put_header_region_uri(&e, s->ring, strlen(s->ring));
    const long n = tp_control_shm_pool_announce_encode_end(&e);
    CHECK(n > 0);
    tp_control_shm_pool_announce_dec_t d;
    if (tp_control_shm_pool_announce_decode(&d, g_buf, (size_t)n) != 0) return DECODE_REFUSED;
    return tp_pool_announce_accept(&d, f, rc);
}

static const uint64_t SEC = 1000000000ull;

/* Accepted: rc carries the announced geometry; URIs point into the message. */
static void test_valid_announce_fills_reader_config(void)
{
    const uint64_t now = 100 * SEC;
    const tp_announce_filter_t f = {7, (int64_t)now, (int64_t)(now - SEC), 3 * SEC};
    spec_t s = valid(now);
    tp_shm_reader_config_t rc;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_ACCEPTED);
    CHECK_EQ_U64(rc.stream_id, 7);
    CHECK_EQ_U64(rc.epoch, 3);
    CHECK_EQ_U64(rc.nslots, 8);
    CHECK_EQ_U64(rc.layout_version, 1);
    CHECK_EQ_U64(rc.npools, 2);
    CHECK_EQ_U64(rc.pools[1].pool_id, 2);
    CHECK_EQ_U64(rc.pools[1].stride_bytes, 64);
    CHECK(rc.ring_uri_len == strlen(s.ring) && memcmp(rc.ring_uri, s.ring, rc.ring_uri_len) == 0);
    CHECK(rc.ring_uri > (const char *)g_buf && rc.ring_uri < (const char *)g_buf + sizeof g_buf);
    CHECK(rc.pools[0].uri_len == strlen(s.pool) && memcmp(rc.pools[0].uri, s.pool, rc.pools[0].uri_len) == 0);
    s.stream = 8; /* step 1: another stream is not ours (not an error) */
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_OTHER_STREAM);
}

/* W-10.1.1.e/f/g: freshness in the announce's own clock domain; the join
 * time only for MONOTONIC. */
static void test_freshness_and_join_time(void)
{
    const uint64_t now = 100 * SEC;
    tp_announce_filter_t f = {7, (int64_t)now, (int64_t)(now - SEC), 3 * SEC};
    tp_shm_reader_config_t rc;
    spec_t s = valid(now - 3 * SEC - 1); /* just older than 3 periods */
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_STALE);
    s.ts = now - SEC - 1; /* fresh, but stamped before we joined */
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_BEFORE_JOIN);
    s.ts = now - SEC; /* at the join time */
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_ACCEPTED);
    s.ts = now + SEC; /* from a clock slightly ahead: not stale */
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_ACCEPTED);
    /* REALTIME_SYNCED: judged against the realtime clock, no join-time rule
     * even with a join time later than anything. */
    f.join_time_ns = INT64_MAX;
    s.domain = TP_CONTROL_CLOCK_DOMAIN_REALTIME_SYNCED;
    s.ts = (uint64_t)tp_clock_realtime_ns();
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_ACCEPTED);
    s.ts = (uint64_t)tp_clock_realtime_ns() - 4 * SEC;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_STALE);
    s.domain = 9; /* §5.1 step 2: an unknown domain is refused by the decoder already */
    CHECK_EQ_I64(check(&s, &f, &rc), DECODE_REFUSED);
}

/* Step 7 (W-10.1.1.b, W-7.1.f, D-20): geometry the layout does not allow. */
static void test_invalid_geometry(void)
{
    const uint64_t now = 100 * SEC;
    const tp_announce_filter_t f = {7, (int64_t)now, 0, 3 * SEC};
    tp_shm_reader_config_t rc;
    spec_t s;
    s = valid(now), s.slot_bytes = 512;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.layout = 2;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.nslots = 6, s.pool_nslots[0] = s.pool_nslots[1] = 6;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.pool_nslots[1] = 16;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.stride[0] = 100;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.stride[1] = 0;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.pool_id[1] = 1;
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.ring = "";
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now), s.pool = "";
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_INVALID);
    s = valid(now);
    CHECK_EQ_I64(check(&s, &f, &rc), TP_ANNOUNCE_ACCEPTED);
}

int main(void)
{
    RUN(test_valid_announce_fills_reader_config);
    RUN(test_freshness_and_join_time);
    RUN(test_invalid_geometry);
    TP_TEST_END();
}
