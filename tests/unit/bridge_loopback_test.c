/* The bridge agent end to end in one process: a producer on stream 10001, a
 * bridge sending it over aeron:udp on 127.0.0.1 and receiving it back into
 * stream 20001 as that stream's producer, and a consumer of 20001 that checks
 * every frame bit for bit, with its seq and traceId (docs/spec/bridge.md).
 * The same run forwards the source's metadata and TraceLinkSets (BR-7.1) and
 * checks they arrive rewritten to 20001 and that other streams' stay home. */
#include "tp_test.h"

#include <pthread.h>
#include <stdatomic.h>
#ifdef BRIDGE_ALLOC_TEST
#include "alloc_count.h"
#endif

#include "driver_test_rig.h"
#include "test_channel.h"
#include "tensorpool/bridge.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/ipc.h"
#include "tensorpool/trace.h"
#include "tensorpool/consumer.h"
#include "tensorpool/frame_progress.h"
#include "tensorpool/producer.h"

#define SRC 10001u
#define DST 20001u
#define FRAME (300u * 1024u + 17u)
#define UNMAPPED 10077u   /* a stream no mapping names */
#define META_STREAM 50002 /* the bridge's metadata stream on the UDP channel */
#define TRACE_MAPPED 777u
#define TRACE_UNMAPPED 778u

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
    cfg->mappings[0] = (tp_bridge_mapping_t){TP_BRIDGE_SEND, SRC, 0, 0};
    cfg->mappings[1] = (tp_bridge_mapping_t){TP_BRIDGE_RECEIVE, SRC, DST, 0};
    snprintf(cfg->metadata_channel, sizeof cfg->metadata_channel, "%s", channel);
    cfg->metadata_stream_id = META_STREAM;
    cfg->forward_metadata = true;
    cfg->forward_tracelink = true;
    cfg->forward_qos = true;
}

/* What the forwarding did, as seen on this host's metadata and control
 * streams and on the bridge's metadata channel itself. */
typedef struct fwd_seen_s {
    unsigned announce_dst, announce_dst_other, qos_dst, meta_dst, link_dst, link_dst_unmapped, wire_src, wire_unmapped;
    uint32_t announce_version, meta_version;
} fwd_seen_t;

static void on_local_meta(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    fwd_seen_t *f = clientd;
    tp_control_data_source_announce_dec_t a;
    tp_control_data_source_meta_dec_t m;
    if (tp_control_data_source_announce_decode(&a, buf, len) == 0 && tp_control_data_source_announce_stream_id(&a) == DST) {
        uint32_t n = 0;
        const char *name = tp_control_data_source_announce_name(&a, &n);
        if (n == 3 && memcmp(name, "cam", 3) == 0) { /* the source's, not the receiver's own "bridged stream" */
            f->announce_dst++;
            f->announce_version = tp_control_data_source_announce_meta_version(&a);
        } else {
            f->announce_dst_other++; /* BR-P8: the receiver's own would be a second announce */
        }
    } else if (tp_control_data_source_meta_decode(&m, buf, len) == 0 && tp_control_data_source_meta_stream_id(&m) == DST) {
        f->meta_dst++;
        f->meta_version = tp_control_data_source_meta_meta_version(&m);
    }
}

static void on_local_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    fwd_seen_t *f = clientd;
    tp_trace_link_t l;
    if (tp_trace_link_decode(&l, buf, len) != 0 || l.stream_id != DST)
        return;
    if (l.trace_id == TRACE_MAPPED && l.seq == 42 && l.epoch == 3 && l.parent_count == 2 && l.parents[0] == 11 &&
        l.parents[1] == 12)
        f->link_dst++;
    if (l.trace_id == TRACE_UNMAPPED)
        f->link_dst_unmapped++;
}

/* BR-9.b: the source producer's QosProducer (its producer id) arriving on
 * this host's QoS stream as DST's. */
static uint32_t src_producer_id;
static void on_local_qos(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    fwd_seen_t *f = clientd;
    tp_control_qos_producer_dec_t q;
    if (tp_control_qos_producer_decode(&q, buf, len) == 0 && tp_control_qos_producer_stream_id(&q) == DST &&
        tp_control_qos_producer_producer_id(&q) == src_producer_id)
        f->qos_dst++;
}

static void on_wire(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    fwd_seen_t *f = clientd;
    const uint32_t s = len >= 12 ? tp_sbe_get_u32(buf + 8) : 0;
    f->wire_src += s == SRC;
    f->wire_unmapped += s == UNMAPPED;
}

static void offer_link(tp_ipc_publication_t *pub, uint32_t stream, uint64_t trace)
{
    tp_trace_link_t l = {.stream_id = stream, .epoch = 3, .seq = 42, .trace_id = trace, .parent_count = 2};
    l.parents[0] = 11;
    l.parents[1] = 12;
    uint8_t buf[256];
    const long n = tp_trace_link_encode(&l, buf, sizeof buf);
    if (n > 0)
        tp_ipc_publication_offer(pub, buf, (size_t)n);
}

/* A DataSourceAnnounce of stream; cut short by `cut` bytes (malformed) when cut > 0. */
static void offer_announce(tp_ipc_publication_t *pub, uint32_t stream, size_t cut)
{
    uint8_t buf[256];
    tp_control_data_source_announce_enc_t e;
    tp_control_data_source_announce_encode_begin(&e, buf, sizeof buf);
    tp_control_data_source_announce_set_stream_id(&e, stream);
    tp_control_data_source_announce_set_epoch(&e, 1);
    tp_control_data_source_announce_put_name(&e, "ghost", 5);
    tp_control_data_source_announce_put_summary(&e, "", 0);
    const long n = tp_control_data_source_announce_encode_end(&e);
    if (n > (long)cut)
        tp_ipc_publication_offer(pub, buf, (size_t)n - cut);
}

static bool fwd_complete(const fwd_seen_t *f, const tp_bridge_counters_t *rx)
{
    return f->announce_dst > 0 && f->meta_dst > 0 && f->meta_version >= 1 && f->announce_version == f->meta_version &&
           f->link_dst > 0 && f->wire_src > 0 && rx->forward_dropped > 0 && f->qos_dst > 0;
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
    /* BR-7.1: this host's metadata and control streams, and the bridge's
     * metadata channel, watched and fed by the test */
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    ipc.namespace_name = ctx.ns;
    tp_ipc_subscription_t *meta_sub = NULL, *ctl_sub = NULL, *wire_sub = NULL, *qos_sub = NULL;
    tp_ipc_publication_t *meta_pub = NULL, *ctl_pub = NULL, *wire_pub = NULL;
    CHECK_EQ_I64(tp_ipc_subscription_open(&meta_sub, &ipc, ctx.channel, ctx.metadata_stream_id), 0);
    CHECK_EQ_I64(tp_ipc_subscription_open(&ctl_sub, &ipc, ctx.channel, ctx.control_stream_id), 0);
    CHECK_EQ_I64(tp_ipc_subscription_open(&wire_sub, &ipc, channel, META_STREAM), 0);
    CHECK_EQ_I64(tp_ipc_subscription_open(&qos_sub, &ipc, ctx.channel, ctx.qos_stream_id), 0);
    src_producer_id = tp_driver_client_id(tp_producer_driver_client(p));
    CHECK_EQ_I64(tp_ipc_publication_open(&meta_pub, &ipc, ctx.channel, ctx.metadata_stream_id), 0);
    CHECK_EQ_I64(tp_ipc_publication_open(&ctl_pub, &ipc, ctx.channel, ctx.control_stream_id), 0);
    CHECK_EQ_I64(tp_ipc_publication_open(&wire_pub, &ipc, channel, META_STREAM), 0);
    if (meta_sub == NULL || ctl_sub == NULL || wire_sub == NULL || meta_pub == NULL || ctl_pub == NULL || wire_pub == NULL)
        return;
    fwd_seen_t fw = {0};
    bool meta_set = false;
    int64_t next_fwd = 0;
    tp_tensor_header_t t;
    const int32_t dims[1] = {(int32_t)FRAME};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    seen_t s = {0};
    unsigned sent = 0;
    tp_bridge_counters_t rx = {0};
    const int64_t deadline = tp_clock_monotonic_ns() + 30000000000;
    int64_t next_send = 0;
    while (tp_clock_monotonic_ns() < deadline && (s.frames < 20 || !fwd_complete(&fw, &rx))) {
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
        tp_ipc_subscription_poll(meta_sub, on_local_meta, &fw, 16);
        tp_ipc_subscription_poll(ctl_sub, on_local_control, &fw, 16);
        tp_ipc_subscription_poll(wire_sub, on_wire, &fw, 16);
        if (qos_sub != NULL)
            tp_ipc_subscription_poll(qos_sub, on_local_qos, &fw, 16);
        tp_bridge_counters(b, 1, &rx);
        if (tp_producer_is_active(p) && !meta_set) {
            const tp_meta_attr_t attr = {"lens", "text", "wide", 4};
            meta_set = tp_producer_set_meta(p, &attr, 1) == 0;
        }
        if (rx.source_epoch != 0 && now >= next_fwd) {
            /* a TraceLinkSet of the source stream and one of an unmapped
             * stream, an unmapped stream's announce, and a truncated
             * announce naming the source straight onto the metadata channel */
            offer_link(ctl_pub, SRC, TRACE_MAPPED);
            offer_link(ctl_pub, UNMAPPED, TRACE_UNMAPPED);
            offer_announce(meta_pub, UNMAPPED, 0);
            offer_announce(wire_pub, SRC, 3);
            next_fwd = now + 50000000;
        }
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
    /* BR-7.1.a, BR-7.1.b, BR-P7: the source's DataSourceAnnounce, DataSourceMeta
     * (meta_version kept) and TraceLinkSet arrive on this host's streams as
     * DST's; the unmapped stream's never cross; the malformed one is counted. */
    printf("forwarded: announce %u meta %u (version %u/%u) link %u; wire src %u unmapped %u; tx meta %" PRIu64
           " links %" PRIu64 "; rx meta %" PRIu64 " links %" PRIu64 " dropped %" PRIu64 "\n",
           fw.announce_dst, fw.meta_dst, fw.announce_version, fw.meta_version, fw.link_dst, fw.wire_src,
           fw.wire_unmapped, tx.metadata_forwarded, tx.tracelinks_forwarded, rx.metadata_republished,
           rx.tracelinks_republished, rx.forward_dropped);
    CHECK(fwd_complete(&fw, &rx));
    /* BR-P8: the forwarded announce is DST's only one */
    printf("announces of DST: %u forwarded, %u others; qos forwarded %" PRIu64 " republished %" PRIu64
           ", seen with the source's producer id %u\n",
           fw.announce_dst, fw.announce_dst_other, tx.qos_forwarded, rx.qos_republished, fw.qos_dst);
    CHECK_EQ_U64(fw.announce_dst_other, 0);
    /* BR-9.b, BR-P10: QoS forwarded and republished as DST's */
    CHECK(tx.qos_forwarded > 0 && rx.qos_republished > 0 && fw.qos_dst > 0);
    CHECK_EQ_U64(fw.link_dst_unmapped, 0);
    CHECK_EQ_U64(fw.wire_unmapped, 0);
    CHECK(tx.metadata_forwarded >= 2 && tx.tracelinks_forwarded > 0);
    CHECK(rx.metadata_republished >= 2 && rx.tracelinks_republished > 0);
    tp_ipc_subscription_close(meta_sub);
    tp_ipc_subscription_close(ctl_sub);
    tp_ipc_subscription_close(wire_sub);
    tp_ipc_subscription_close(qos_sub);
    tp_ipc_publication_close(meta_pub);
    tp_ipc_publication_close(ctl_pub);
    tp_ipc_publication_close(wire_pub);
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

/* BR-9.a, BR-P11: FrameProgress across the bridge. A 4 MiB frame (1024 rows
 * of 4096 bytes, 536 chunks) is rebuilt on DST; with forward_progress the
 * receiver, as DST's producer, reports prefixes of it to an opted-in
 * consumer before the frame completes, and every byte such a prefix hands
 * over is already the source's. Without forward_progress, no progress. */
#define BIG_ROWS 1024u
#define BIG_ROW 4096u
#define BIG (BIG_ROWS * BIG_ROW)

typedef struct big_seen_s {
    unsigned frames, bad, partial, before, wrong, bad_header;
    uint64_t last_seq, max_readable, checked_seq, checked;
    bool any;
    uint64_t first_seq;          /* frame whose first partial progress came at first_ns */
    int64_t first_ns, lead_ns;   /* lead: summed time from that to the frame's arrival */
    unsigned leads;
} big_seen_t;

static uint8_t pattern(uint32_t i, uint64_t seq) { return (uint8_t)(i * 31u + seq * 7u + (i >> 9)); }

static void on_big_progress(void *clientd, const tp_progress_t *pr)
{
    big_seen_t *s = clientd;
    const bool partial = pr->state != TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE && pr->bytes_filled < pr->values_len;
    s->partial += partial;
    if (partial && (!s->any || pr->seq > s->last_seq))
        s->before++; /* this frame's descriptor has not arrived yet */
    if (partial && (s->first_ns == 0 || pr->seq != s->first_seq))
        s->first_seq = pr->seq, s->first_ns = tp_clock_monotonic_ns();
    /* the staged header is the frame's own (2-D), not the receiver's 1-D stand-in */
    if (pr->header->tensor.ndims != 2 || pr->row_bytes != BIG_ROW || pr->values_len != BIG || pr->readable % BIG_ROW != 0)
        s->bad_header++;
    /* each byte is checked when it is first handed over: a prefix only grows */
    if (pr->seq != s->checked_seq)
        s->checked_seq = pr->seq, s->checked = 0;
    uint32_t wrong = 0;
    for (uint64_t i = s->checked; i < pr->readable; i++)
        wrong += pr->payload[i] != pattern((uint32_t)i, pr->seq);
    if (pr->readable > s->checked)
        s->checked = pr->readable;
    if (wrong != 0 && tp_progress_intact(pr))
        s->wrong++; /* a byte handed over that the receiver had not written yet */
    if (partial && pr->readable > s->max_readable)
        s->max_readable = pr->readable;
}

static void on_big_frame(void *clientd, const tp_frame_t *f)
{
    big_seen_t *s = clientd;
    uint32_t wrong = 0;
    for (uint32_t i = 0; i < f->len; i++)
        wrong += f->payload[i] != pattern(i, f->seq);
    if (!tp_frame_intact(f))
        return;
    s->bad += f->len != BIG || wrong != 0;
    if (s->first_ns != 0 && s->first_seq == f->seq)
        s->lead_ns += tp_clock_monotonic_ns() - s->first_ns, s->leads++, s->first_ns = 0;
    s->frames++;
    s->last_seq = f->seq;
    s->any = true;
}

static void run_progress(bool forward)
{
    rig_setup("[profiles.huge]\nheader_nslots = 4\npayload_pools = [ { pool_id = 1, stride_bytes = 4194304 } ]\n"
              "[streams.src]\nstream_id = 10001\nprofile = \"huge\"\n"
              "[streams.dst]\nstream_id = 20001\nprofile = \"huge\"\n");
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    tp_bridge_config_t cfg;
    bridge_config(&cfg);
    cfg.forward_metadata = cfg.forward_tracelink = cfg.forward_qos = false;
    cfg.forward_progress = forward;
    cfg.send_timeout_ms = 2000; /* a loaded machine can hold one chunk of 536 past 100 ms */
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    tp_bridge_t *b = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, SRC, 0, "cam", NULL), 0);
    CHECK_EQ_I64(tp_bridge_open(&b, &ctx, &cfg), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, DST, 0), 0);
    if (p == NULL || b == NULL || c == NULL) {
        fprintf(stderr, "open: %s\n", tp_errmsg());
        return;
    }
    big_seen_t s = {0};
    CHECK_EQ_I64(tp_consumer_set_progress(c, NULL, on_big_progress, &s), 0);
    tp_tensor_header_t t;
    const int32_t dims[2] = {(int32_t)BIG_ROWS, (int32_t)BIG_ROW};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    tp_bridge_counters_t rx = {0}, tx = {0};
    unsigned sent = 0;
    int64_t next_send = 0;
    const int64_t deadline = tp_clock_monotonic_ns() + 40000000000;
    while (tp_clock_monotonic_ns() < deadline && (s.frames < 4 || (forward && s.before == 0))) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(p, now);
#ifdef BRIDGE_ALLOC_TEST
        /* the progress path allocates nothing either (after one frame) */
        const uint64_t before = tp_alloc_count();
        tp_bridge_do_work(b, now);
        if (s.frames >= 1)
            bridge_allocs += tp_alloc_count() - before, counted_cycles++;
#else
        tp_bridge_do_work(b, now);
#endif
        tp_consumer_poll(c, now, on_big_frame, &s, 16);
        tp_bridge_counters(b, 1, &rx);
        tp_bridge_counters(b, 0, &tx);
        /* one thread runs both ends: the next 4 MiB goes out once the receiver
         * took every chunk sent so far (or after 2 s), so the sender never
         * waits on a window only this thread could drain */
        const bool drained = tx.chunks_sent == rx.chunks_received || now - next_send > 2000000000;
        if (tp_producer_is_active(p) && rx.source_epoch != 0 && tp_consumer_is_mapped(c) && now >= next_send && drained) {
            tp_shm_claim_t cl;
            const uint64_t seq = tp_producer_next_seq(p);
            if (tp_producer_claim(p, &t, BIG, &cl) == 0) {
                for (uint32_t i = 0; i < BIG; i++)
                    cl.payload[i] = pattern(i, seq);
                tp_producer_commit(p, &cl, 5000 + seq);
                sent++;
            }
            next_send = now + 100000000; /* 10 fps */
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    tp_bridge_counters(b, 0, &tx);
    tp_progress_counters_t pc;
    tp_consumer_progress_counters(c, &pc);
    printf("progress %s: sent %u, frames %u (bad %u); partial progress %u (%u before their frame, wrong %u, bad header %u, "
           "largest prefix %" PRIu64 "); delivered %" PRIu64 " refused slot %" PRIu64 " length %" PRIu64
           " backwards %" PRIu64 " layout %" PRIu64 "; tx aborted %" PRIu64 "\n",
           forward ? "on" : "off", sent, s.frames, s.bad, s.partial, s.before, s.wrong, s.bad_header, s.max_readable,
           pc.delivered, pc.refused_slot, pc.refused_length, pc.refused_backwards, pc.refused_layout, tx.send_aborted);
    if (s.leads != 0)
        printf("  first prefix came %.2f ms (mean of %u frames) before the whole frame\n", (double)s.lead_ns / s.leads / 1e6,
               s.leads);
    for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++)
        if (rx.drops[k] != 0)
            printf("  drop %s: %" PRIu64 "\n", tp_bridge_drop_name((tp_bridge_drop_t)k), rx.drops[k]);
    CHECK(s.frames >= 4);
    CHECK_EQ_U64(s.bad, 0);
    CHECK_EQ_U64(s.wrong, 0);
    CHECK_EQ_U64(s.bad_header, 0);
    CHECK_EQ_U64(pc.refused_slot + pc.refused_length + pc.refused_backwards + pc.refused_layout, 0);
    if (forward) {
        CHECK(s.before > 0);
        CHECK(s.max_readable > 0 && s.max_readable < BIG);
    } else {
        CHECK_EQ_U64(pc.delivered, 0);
        CHECK_EQ_U64(s.partial, 0);
    }
#ifdef BRIDGE_ALLOC_TEST
    printf("bridge duty cycles counted so far: %" PRIu64 ", allocations in them: %" PRIu64 "\n", counted_cycles, bridge_allocs);
    CHECK_EQ_U64(bridge_allocs, 0);
#endif
    tp_consumer_close(c);
    tp_bridge_close(b);
    tp_producer_close(p);
    rig_teardown();
}

static void test_progress_on(void) { run_progress(true); }
static void test_progress_off(void) { run_progress(false); }

#ifndef BRIDGE_ALLOC_TEST
/* BR-4.a, BR-4.b, BR-P9: destinations another producer of this host holds.
 * Bridge 1 sends SRC and receives it into the range 30000-30009, whose
 * first id a local producer holds: it moves on to 30001 and frames arrive
 * there. Bridge 2 receives SRC into a fixed 20001, also held: the mapping
 * stops. Both say so through on_event and their counters; the squatter's
 * streams are left alone. */
static char events[2][512];
static void on_event(void *clientd, const char *msg)
{
    char *e = clientd;
    snprintf(e, 512, "%s", msg);
    printf("event: %s\n", msg);
}

/* Keeps the driver and the squatters going on their own thread: bridge
 * opens and a remap's detach take longer than the rig's 300 ms lease
 * expiry on a loaded machine. */
static tp_producer_t *squat[2];
static atomic_int opening;
static void *keep_squatting(void *arg)
{
    (void)arg;
    while (atomic_load(&opening)) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(squat[0], now);
        tp_producer_do_work(squat[1], now);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_dest_busy(void)
{
    rig_setup("[profiles.big]\nheader_nslots = 16\npayload_pools = [ { pool_id = 1, stride_bytes = 1048576 } ]\n"
              "[streams.src]\nstream_id = 10001\nprofile = \"big\"\n"
              "[streams.r0]\nstream_id = 30000\nprofile = \"big\"\n"
              "[streams.r1]\nstream_id = 30001\nprofile = \"big\"\n"
              "[streams.dst]\nstream_id = 20001\nprofile = \"big\"\n");
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    tp_bridge_config_t c1, c2;
    bridge_config(&c1);
    c1.forward_metadata = c1.forward_tracelink = c1.forward_qos = false;
    c1.dest_range_lo = 30000;
    c1.dest_range_hi = 30009;
    c1.mappings[1].dest_stream_id = 0;
    c1.dest_busy_timeout_ms = 300;
    c1.on_event = on_event;
    c1.event_clientd = events[0];
    c2 = c1;
    c2.nmappings = 1;
    c2.mappings[0] = (tp_bridge_mapping_t){TP_BRIDGE_RECEIVE, SRC, DST, 0};
    c2.event_clientd = events[1];
    snprintf(c2.instance_id, sizeof c2.instance_id, "second");
    tp_producer_t *p = NULL, *sq0 = NULL, *sq1 = NULL;
    tp_bridge_t *b1 = NULL, *b2 = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&sq0, &ctx, 30000, 0, "squatter", NULL), 0);
    CHECK_EQ_I64(tp_producer_open(&sq1, &ctx, DST, 0, "squatter", NULL), 0);
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, SRC, 0, "cam", NULL), 0);
    /* the squatters hold their streams before the bridges ask */
    for (int64_t end = tp_clock_monotonic_ns() + 10000000000; tp_clock_monotonic_ns() < end;) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(sq0, now);
        tp_producer_do_work(sq1, now);
        tp_producer_do_work(p, now);
        if (tp_producer_is_active(sq0) && tp_producer_is_active(sq1) && tp_producer_is_active(p))
            break;
    }
    CHECK(tp_producer_is_active(sq0) && tp_producer_is_active(sq1));
    squat[0] = sq0;
    squat[1] = sq1;
    atomic_store(&opening, 1);
    pthread_t th;
    CHECK_EQ_I64(pthread_create(&th, NULL, keep_squatting, NULL), 0);
    CHECK_EQ_I64(tp_bridge_open(&b1, &ctx, &c1), 0);
    CHECK_EQ_I64(tp_bridge_open(&b2, &ctx, &c2), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, 30001, 0), 0);

    if (b1 == NULL || b2 == NULL || c == NULL) {
        atomic_store(&opening, 0);
        pthread_join(th, NULL);
        return;
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {(int32_t)FRAME};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    seen_t s = {0};
    tp_bridge_counters_t r1 = {0}, r2 = {0};
    int64_t next_send = 0;
    const int64_t deadline = tp_clock_monotonic_ns() + 30000000000;
    while (tp_clock_monotonic_ns() < deadline && (s.frames < 5 || r2.dest_failed == 0)) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(p, now);
        tp_bridge_do_work(b1, now);
        tp_bridge_do_work(b2, now);
        tp_consumer_poll(c, now, on_frame, &s, 16);
        tp_bridge_counters(b1, 1, &r1);
        tp_bridge_counters(b2, 0, &r2);
        if (getenv("TP_BRIDGE_DEBUG") != NULL) {
            static int64_t np;
            if (now > np) {
                const char *w = NULL;
                tp_producer_faults(sq0, &w);
                fprintf(stderr, "sq %d %d r1 dest %u local_epoch %llu fault %s\n", tp_producer_is_active(sq0),
                        tp_producer_is_active(sq1), r1.dest_stream_id, (unsigned long long)r1.local_epoch, w);
                np = now + 200000000;
            }
        }
        if (tp_producer_is_active(p) && r1.source_epoch != 0 && tp_consumer_is_mapped(c) && now >= next_send) {
            tp_shm_claim_t cl;
            const uint64_t seq = tp_producer_next_seq(p);
            if (tp_producer_claim(p, &t, FRAME, &cl) == 0) {
                fill(cl.payload, FRAME, seq);
                tp_producer_commit_traced(p, &cl, 5000 + seq, 1000 + seq);
            }
            next_send = now + 20000000;
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    printf("ranged: dest %u, remaps %" PRIu64 ", frames on 30001 %u (bad %u); fixed: dest %u, failed %" PRIu64 "\n",
           r1.dest_stream_id, r1.dest_remaps, s.frames, s.bad, r2.dest_stream_id, r2.dest_failed);
    CHECK_EQ_U64(r1.dest_stream_id, 30001);
    CHECK_EQ_U64(r1.dest_remaps, 1);
    CHECK_EQ_U64(r1.dest_failed, 0);
    CHECK(s.frames >= 5);
    CHECK_EQ_U64(s.bad, 0);
    CHECK(strstr(events[0], "stream 30000 already has a producer") != NULL && strstr(events[0], "30001") != NULL);
    CHECK_EQ_U64(r2.dest_failed, 1);
    CHECK_EQ_U64(r2.frames_rebuilt, 0);
    CHECK(strstr(events[1], "mapping stopped") != NULL && strstr(events[1], "fixed") != NULL);
    atomic_store(&opening, 0);
    pthread_join(th, NULL);
    CHECK(tp_producer_is_active(sq0) && tp_producer_is_active(sq1)); /* the holders keep their streams */
    tp_consumer_close(c);
    tp_bridge_close(b2);
    tp_bridge_close(b1);
    tp_producer_close(p);
    tp_producer_close(sq1);
    tp_producer_close(sq0);
    rig_teardown();
}

#endif

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
    cfg.mappings[0] = (tp_bridge_mapping_t){TP_BRIDGE_RECEIVE, 7, 30003, 0}; /* fixed id inside the range */
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), -1);
    bridge_config(&cfg);
    cfg.metadata_channel[0] = '\0'; /* BR-7.1.a: forwarding without a metadata channel fails fast */
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), -1);
    cfg.forward_metadata = cfg.forward_tracelink = false;
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), 0);
    bridge_config(&cfg);
    cfg.metadata_stream_id = cfg.control_stream_id; /* the same channel and stream as the control */
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
 * both spellings, the metadata keys (BR-7.1), unknown keys and unimplemented
 * forwarding refused. */
static void test_config_file(void)
{
    static const char good[] =
        "[bridge]\ninstance_id = \"b\"\npayload_channel = \"aeron:udp?endpoint=10.0.0.2:40456\"\n"
        "control_channel = \"aeron:udp?endpoint=10.0.0.2:40457\"\nmtu_bytes = 8192\ncrc32c = true\n"
        "dest_stream_id_range = \"30000-30009\"\nforward_metadata = true\nforward_tracelink = true\n"
        "metadata_channel = \"aeron:udp?endpoint=10.0.0.2:40458\"\nmetadata_stream_id = 50002\n"
        "forward_qos = true\nforward_progress = false\ndest_busy_timeout_ms = 4000\n"
        "[[mappings]]\ndirection = \"receive\"\nsource_stream_id = 10001\ndest_stream_id = 0\nprofile = \"cam\"\n"
        "metadata_stream_id = 31000\n"
        "[[mappings]]\ndirection = \"send\"\nsource_stream_id = 10002\n";
    tp_bridge_config_t cfg;
    tp_bridge_config_init(&cfg);
    CHECK_EQ_I64(tp_bridge_config_parse(&cfg, good, strlen(good)), 0);
    CHECK_EQ_I64(tp_bridge_config_validate(&cfg), 0);
    CHECK_EQ_U64(cfg.nmappings, 2);
    CHECK_EQ_U64(cfg.dest_range_lo, 30000);
    CHECK_EQ_U64(cfg.dest_range_hi, 30009);
    CHECK(cfg.crc32c && cfg.mtu_bytes == 8192 && cfg.mappings[1].direction == TP_BRIDGE_SEND);
    CHECK(cfg.forward_metadata && cfg.forward_tracelink && cfg.metadata_stream_id == 50002);
    CHECK(strcmp(cfg.metadata_channel, "aeron:udp?endpoint=10.0.0.2:40458") == 0);
    CHECK_EQ_U64(cfg.mappings[0].metadata_stream_id, 31000);
    CHECK(cfg.forward_qos && cfg.dest_busy_timeout_ms == 4000); /* BR-9.b, BR-P9 */
    static const char arr[] = "[bridge]\ndest_stream_id_range = [40000, 40001]\n";
    tp_bridge_config_init(&cfg);
    CHECK_EQ_I64(tp_bridge_config_parse(&cfg, arr, strlen(arr)), 0);
    CHECK_EQ_U64(cfg.dest_range_hi, 40001);
    static const char *const bad[] = {
        "[bridge]\nmtu = 8192\n",                      /* unknown key */
        "[bridge]\nforward_metadata = 1\n",            /* not a boolean */
        "[bridge]\nforward_progress = 1\n",            /* not a boolean */
        "[[mappings]]\ndirection = \"sideways\"\n",
        "[bridge]\npayload_stream_id = 0\n",
        "[bridge]\ndest_stream_id_range = \"9-\"\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tp_bridge_config_init(&cfg);
        CHECK_EQ_I64(tp_bridge_config_parse(&cfg, bad[i], strlen(bad[i])), -1);
        CHECK(strstr(tp_errmsg(), "line") != NULL);
    }
    /* BR-9.a, BR-P11: FrameProgress forwarding is built, no longer refused */
    static const char prog[] = "[bridge]\nforward_progress = true\n";
    tp_bridge_config_init(&cfg);
    CHECK_EQ_I64(tp_bridge_config_parse(&cfg, prog, strlen(prog)), 0);
    CHECK(cfg.forward_progress);
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
    RUN(test_progress_on);
    RUN(test_progress_off);
#ifndef BRIDGE_ALLOC_TEST
    RUN(test_dest_busy);
#endif
    TP_TEST_END();
}
