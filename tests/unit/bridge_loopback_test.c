/* The bridge agent end to end in one process: a producer on stream 10001, a
 * bridge sending it over aeron:udp on 127.0.0.1 and receiving it back into
 * stream 20001 as that stream's producer, and a consumer of 20001 that checks
 * every frame bit for bit, with its seq and traceId (docs/spec/bridge.md). */
#include "tp_test.h"
#ifdef BRIDGE_ALLOC_TEST
#include "alloc_count.h"
#endif

#include "driver_test_rig.h"
#include "test_channel.h"
#include "tensorpool/bridge.h"
#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"

#define SRC 10001u
#define DST 20001u
#define FRAME (300u * 1024u + 17u)

typedef struct seen_s {
    unsigned frames, bad;
    uint64_t last_seq, last_trace, epoch;
} seen_t;

static void fill(uint8_t *p, uint32_t len, uint64_t seq)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 31u + seq * 7u + (i >> 9));
}

static uint8_t expect[FRAME];

static void on_frame(void *clientd, const tp_frame_t *f)
{
    seen_t *s = clientd;
    fill(expect, FRAME, f->seq);
    if (f->len != FRAME || memcmp(f->payload, expect, FRAME) != 0 || f->trace_id != 1000 + f->seq ||
        f->header->tensor.dims[0] != (int32_t)FRAME || f->header->timestamp_ns != 5000 + f->seq)
        s->bad++;
    if (!tp_frame_intact(f))
        return;
    s->frames++;
    s->last_seq = f->seq;
    s->last_trace = f->trace_id;
    s->epoch = f->epoch;
}

static char channel[128];
#ifdef BRIDGE_ALLOC_TEST
static uint64_t bridge_allocs, counted_cycles;
#endif

static void bridge_config(tp_bridge_config_t *cfg)
{
    tp_bridge_config_init(cfg);
    snprintf(cfg->payload_channel, sizeof cfg->payload_channel, "%s", channel);
    snprintf(cfg->control_channel, sizeof cfg->control_channel, "%s", channel);
    cfg->mtu_bytes = 8192;
    cfg->crc32c = true;
    cfg->nmappings = 2;
    cfg->mappings[0] = (tp_bridge_mapping_t){TP_BRIDGE_SEND, SRC, 0};
    cfg->mappings[1] = (tp_bridge_mapping_t){TP_BRIDGE_RECEIVE, SRC, DST};
}

/* BR-2.1.a, BR-2.2.a, BR-3.a, BR-5.2.i, BR-6.e, BR-6.f, BR-6.g, BR-7.a,
 * BR-7.b, BR-7.2.a, BR-4.a: frames cross the bridge bit-exact, keep their
 * seq, capture timestamp, tensor header and traceId, and arrive on the
 * destination stream as ordinary frames. */
static void test_frames_cross_the_bridge(void)
{
    rig_setup("[profiles.big]\nheader_nslots = 16\npayload_pools = [ { pool_id = 1, stride_bytes = 1048576 } ]\n"
              "[streams.src]\nstream_id = 10001\nprofile = \"big\"\n"
              "[streams.dst]\nstream_id = 20001\nprofile = \"big\"\n");
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    tp_bridge_config_t cfg;
    bridge_config(&cfg);
    CHECK_EQ_U64(tp_bridge_config_chunk_unit(&cfg), 8192 - 32 - 325); /* BR-P4 */
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    tp_bridge_t *b = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, SRC, 0, "cam", NULL), 0);
#ifdef BRIDGE_ALLOC_TEST
    const uint64_t before_open = tp_alloc_count();
#endif
    CHECK_EQ_I64(tp_bridge_open(&b, &ctx, &cfg), 0);
#ifdef BRIDGE_ALLOC_TEST
    CHECK(tp_alloc_count() > before_open); /* the counter sees the bridge's own allocations */
#endif
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, DST, 0), 0);
    if (p == NULL || b == NULL || c == NULL) {
        fprintf(stderr, "open: %s\n", tp_errmsg());
        return;
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {(int32_t)FRAME};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    seen_t s = {0};
    unsigned sent = 0;
    tp_bridge_counters_t rx = {0};
    const int64_t deadline = tp_clock_monotonic_ns() + 30000000000;
    int64_t next_send = 0;
    while (tp_clock_monotonic_ns() < deadline && s.frames < 20) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(p, now);
#ifdef BRIDGE_ALLOC_TEST
        /* the bridge's duty cycle allocates nothing once frames flow (after 5 as warm-up) */
        const uint64_t before = tp_alloc_count();
        tp_bridge_do_work(b, now);
        if (s.frames >= 5)
            bridge_allocs += tp_alloc_count() - before, counted_cycles++;
#else
        tp_bridge_do_work(b, now);
#endif
        tp_consumer_poll(c, now, on_frame, &s, 16);
        tp_bridge_counters(b, 1, &rx);
        /* send once the receiver has the source's announce and the consumer is mapped */
        if (tp_producer_is_active(p) && rx.source_epoch != 0 && tp_consumer_is_mapped(c) && now >= next_send) {
            tp_shm_claim_t cl;
            const uint64_t seq = tp_producer_next_seq(p);
            if (tp_producer_claim(p, &t, FRAME, &cl) == 0) {
                fill(cl.payload, FRAME, seq);
                tp_producer_commit_traced(p, &cl, 5000 + seq, 1000 + seq);
                sent++;
            }
            next_send = now + 20000000; /* 50 fps */
        }
        static int64_t next_print;
        if (getenv("TP_BRIDGE_DEBUG") != NULL && now > next_print) {
            next_print = now + 1000000000;
            fprintf(stderr, "p active %d, source epoch %" PRIu64 ", c mapped %d, local epoch %" PRIu64 "\n",
                    tp_producer_is_active(p), rx.source_epoch, tp_consumer_is_mapped(c), rx.local_epoch);
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    tp_bridge_counters_t tx;
    tp_bridge_counters(b, 0, &tx);
    tp_bridge_counters(b, 1, &rx);
    printf("sent %u, received %u (bad %u); tx frames %" PRIu64 " chunks %" PRIu64 " aborted %" PRIu64
           "; rx rebuilt %" PRIu64 " chunks %" PRIu64 " local epoch %" PRIu64 "\n",
           sent, s.frames, s.bad, tx.frames_sent, tx.chunks_sent, tx.send_aborted, rx.frames_rebuilt,
           rx.chunks_received, rx.local_epoch);
    for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++)
        if (rx.drops[k] != 0)
            printf("  drop %s: %" PRIu64 "\n", tp_bridge_drop_name((tp_bridge_drop_t)k), rx.drops[k]);
    CHECK(s.frames >= 20);
    CHECK_EQ_U64(s.bad, 0);
    CHECK(tx.announces_forwarded > 0);
    CHECK(tx.chunks_sent >= tx.frames_sent * ((FRAME + tp_bridge_config_chunk_unit(&cfg) - 1) / tp_bridge_config_chunk_unit(&cfg)));
    CHECK(rx.frames_rebuilt >= s.frames);
    CHECK(rx.local_epoch >= 1); /* BR-8.c */
#ifdef BRIDGE_ALLOC_TEST
    printf("bridge duty cycles counted: %" PRIu64 ", allocations in them: %" PRIu64 "\n", counted_cycles, bridge_allocs);
    CHECK(counted_cycles > 100);
    CHECK_EQ_U64(bridge_allocs, 0);
#endif
    tp_consumer_close(c);
    tp_bridge_close(b);
    tp_producer_close(p);
    rig_teardown();
}

/* BR-4.b: config checks and the destination range. */
static void test_config_rules(void)
{
    tp_bridge_config_t cfg;
    bridge_config(&cfg);
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), 0);
    cfg.mappings[1].dest_stream_id = 0;
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), -1); /* 0 without a range */
    cfg.dest_range_lo = 49990;
    cfg.dest_range_hi = 50010; /* overlaps the payload stream id 50000 */
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), -1);
    cfg.dest_range_lo = 30000;
    cfg.dest_range_hi = 30009;
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), 0);
    cfg.mappings[0] = (tp_bridge_mapping_t){TP_BRIDGE_RECEIVE, 7, 30003}; /* fixed id inside the range */
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), -1);
    bridge_config(&cfg);
    cfg.mtu_bytes = 300;
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), -1);
    bridge_config(&cfg);
    cfg.chunk_bytes = 1000;
    CHECK_EQ_U64(tp_bridge_config_chunk_unit(&cfg), 1000);
    cfg.mappings[1].source_stream_id = SRC;
    cfg.nmappings = 3;
    cfg.mappings[2] = cfg.mappings[1];
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), -1); /* the same stream received twice */
}

/* The TOML file of tp bridge (docs/configuration.md): keys, the range in
 * both spellings, unknown keys and unimplemented forwarding refused. */
static void test_config_file(void)
{
    static const char good[] =
        "[bridge]\ninstance_id = \"b\"\npayload_channel = \"aeron:udp?endpoint=10.0.0.2:40456\"\n"
        "control_channel = \"aeron:udp?endpoint=10.0.0.2:40457\"\nmtu_bytes = 8192\ncrc32c = true\n"
        "dest_stream_id_range = \"30000-30009\"\nforward_metadata = false\n"
        "[[mappings]]\ndirection = \"receive\"\nsource_stream_id = 10001\ndest_stream_id = 0\nprofile = \"cam\"\n"
        "[[mappings]]\ndirection = \"send\"\nsource_stream_id = 10002\n";
    tp_bridge_config_t cfg;
    tp_bridge_config_init(&cfg);
    CHECK_EQ_I64(tp_bridge_config_parse(&cfg, good, strlen(good)), 0);
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), 0);
    CHECK_EQ_U64(cfg.nmappings, 2);
    CHECK_EQ_U64(cfg.dest_range_lo, 30000);
    CHECK_EQ_U64(cfg.dest_range_hi, 30009);
    CHECK(cfg.crc32c && cfg.mtu_bytes == 8192 && cfg.mappings[1].direction == TP_BRIDGE_SEND);
    static const char arr[] = "[bridge]\ndest_stream_id_range = [40000, 40001]\n";
    tp_bridge_config_init(&cfg);
    CHECK_EQ_I64(tp_bridge_config_parse(&cfg, arr, strlen(arr)), 0);
    CHECK_EQ_U64(cfg.dest_range_hi, 40001);
    static const char *const bad[] = {
        "[bridge]\nmtu = 8192\n",                      /* unknown key */
        "[bridge]\nforward_metadata = true\n",         /* metadata forwarding: not implemented, refused */
        "[bridge]\nforward_progress = true\n",         /* progress forwarding: likewise */
        "[[mappings]]\ndirection = \"sideways\"\n",
        "[bridge]\npayload_stream_id = 0\n",
        "[bridge]\ndest_stream_id_range = \"9-\"\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tp_bridge_config_init(&cfg);
        CHECK_EQ_I64(tp_bridge_config_parse(&cfg, bad[i], strlen(bad[i])), -1);
        CHECK(strstr(tp_errmsg(), "line") != NULL);
    }
}

int main(void)
{
    if (getenv("TP_TEST_CHANNEL") == NULL)
        setenv("TP_TEST_CHANNEL", "aeron:ipc", 1);
    /* no media driver restarts here: a loaded machine may leave the Aeron
     * client without a duty cycle for more than the rig's 1 s */
    setenv("AERON_DRIVER_TIMEOUT", "10000", 1);
    const int port = tp_test_free_udp_port();
    snprintf(channel, sizeof channel, "aeron:udp?endpoint=127.0.0.1:%d|mtu=8192", port);
    RUN(test_config_rules);
    RUN(test_config_file);
    RUN(test_frames_cross_the_bridge);
    TP_TEST_END();
}
