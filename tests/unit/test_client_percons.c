/* Per-consumer descriptor streams, ConsumerHello / ConsumerConfig and the
 * QoS-side rules of the clients (docs/spec/wire.md §5, §5.8, §10.1.2-§10.1.3, §11,
 * §15.4, §6 cadences), with a driver, producer and consumer in one process.
 * Hellos, configs, QoS and descriptors are also injected by hand on the shared
 * streams to reach the cases our own clients never send. */
#include "tp_test.h"

#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"

#include <stdlib.h>
#include <unistd.h>

#define MS 1000000LL
#define STREAM 10000u
#define SHARED_DESC 1100

/* ---- what the tests send ---- */

typedef struct pair_s {
    const char *channel;
    uint32_t id;
} pair_t;

static void send_hello(uint32_t consumer, uint8_t mode, uint16_t max_rate_hz, pair_t desc, pair_t ctl)
{
    tp_control_consumer_hello_enc_t e;
    tp_control_consumer_hello_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_control_consumer_hello_set_stream_id(&e, STREAM);
    tp_control_consumer_hello_set_consumer_id(&e, consumer);
    tp_control_consumer_hello_set_supports_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_hello_set_supports_progress(&e, TP_CONTROL_BOOL_FALSE);
    tp_control_consumer_hello_set_mode(&e, mode);
    tp_control_consumer_hello_set_max_rate_hz(&e, max_rate_hz);
    tp_control_consumer_hello_set_expected_layout_version(&e, 1);
    tp_control_consumer_hello_set_progress_bytes_delta(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_interval_us(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_major_delta_units(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_descriptor_stream_id(&e, desc.id);
    tp_control_consumer_hello_set_control_stream_id(&e, ctl.id);
    tp_control_consumer_hello_put_descriptor_channel(&e, desc.channel, strlen(desc.channel));
    tp_control_consumer_hello_put_control_channel(&e, ctl.channel, strlen(ctl.channel));
    const long n = tp_control_consumer_hello_encode_end(&e);
    CHECK(n > 0 && tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n) > 0);
}

static void hello_desc(uint32_t consumer, const char *channel, uint32_t id)
{
    send_hello(consumer, TP_CONTROL_MODE_STREAM, 0, (pair_t){channel, id}, (pair_t){"", 0});
}

static void send_config(uint32_t consumer, pair_t desc, pair_t ctl)
{
    tp_control_consumer_config_enc_t e;
    tp_control_consumer_config_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_control_consumer_config_set_stream_id(&e, STREAM);
    tp_control_consumer_config_set_consumer_id(&e, consumer);
    tp_control_consumer_config_set_use_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_config_set_mode(&e, TP_CONTROL_MODE_STREAM);
    tp_control_consumer_config_set_descriptor_stream_id(&e, desc.id);
    tp_control_consumer_config_set_control_stream_id(&e, ctl.id);
    tp_control_consumer_config_put_payload_fallback_uri(&e, "", 0);
    tp_control_consumer_config_put_descriptor_channel(&e, desc.channel, strlen(desc.channel));
    tp_control_consumer_config_put_control_channel(&e, ctl.channel, strlen(ctl.channel));
    const long n = tp_control_consumer_config_encode_end(&e);
    CHECK(n > 0 && tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n) > 0);
}

static void send_qos_consumer(tp_ipc_publication_t *qos, uint32_t consumer)
{
    uint8_t buf[128];
    tp_control_qos_consumer_enc_t e;
    tp_control_qos_consumer_encode_begin(&e, buf, sizeof buf);
    tp_control_qos_consumer_set_stream_id(&e, STREAM);
    tp_control_qos_consumer_set_consumer_id(&e, consumer);
    tp_control_qos_consumer_set_epoch(&e, 1);
    tp_control_qos_consumer_set_last_seq_seen(&e, 0);
    tp_control_qos_consumer_set_drops_gap(&e, 0);
    tp_control_qos_consumer_set_drops_late(&e, 0);
    tp_control_qos_consumer_set_mode(&e, TP_CONTROL_MODE_STREAM);
    const long n = tp_control_qos_consumer_encode_end(&e);
    CHECK(n > 0 && tp_ipc_publication_offer(qos, buf, (size_t)n) > 0);
}

/* ---- what the tests see on the control stream ---- */

typedef struct msg_s {
    char kind; /* H hello, C config */
    uint32_t consumer, desc_id, ctl_id;
    uint8_t mode;
    uint16_t max_rate_hz;
    uint32_t p_bytes, p_interval, p_major;
    char desc_ch[64], ctl_ch[64];
} msg_t;

#define MAX_MSGS 4096
static msg_t g_msgs[MAX_MSGS];
static int g_nmsgs;
static tp_ipc_subscription_t *g_ctl;

static void on_ctl(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)info;
    if (g_nmsgs == MAX_MSGS) return;
    msg_t *m = &g_msgs[g_nmsgs];
    memset(m, 0, sizeof *m);
    uint32_t n = 0;
    const char *s;
    tp_control_consumer_hello_dec_t h;
    tp_control_consumer_config_dec_t c;
    if (tp_control_consumer_hello_decode(&h, buf, len) == 0) {
        m->kind = 'H';
        m->consumer = tp_control_consumer_hello_consumer_id(&h);
        m->mode = tp_control_consumer_hello_mode(&h);
        m->max_rate_hz = tp_control_consumer_hello_max_rate_hz(&h);
        m->p_bytes = tp_control_consumer_hello_progress_bytes_delta(&h);
        m->p_interval = tp_control_consumer_hello_progress_interval_us(&h);
        m->p_major = tp_control_consumer_hello_progress_major_delta_units(&h);
        m->desc_id = tp_control_consumer_hello_descriptor_stream_id(&h);
        m->ctl_id = tp_control_consumer_hello_control_stream_id(&h);
        s = tp_control_consumer_hello_descriptor_channel(&h, &n);
        rig_copy(m->desc_ch, sizeof m->desc_ch, s, n);
        s = tp_control_consumer_hello_control_channel(&h, &n);
        rig_copy(m->ctl_ch, sizeof m->ctl_ch, s, n);
    } else if (tp_control_consumer_config_decode(&c, buf, len) == 0) {
        m->kind = 'C';
        m->consumer = tp_control_consumer_config_consumer_id(&c);
        m->desc_id = tp_control_consumer_config_descriptor_stream_id(&c);
        m->ctl_id = tp_control_consumer_config_control_stream_id(&c);
        s = tp_control_consumer_config_descriptor_channel(&c, &n);
        rig_copy(m->desc_ch, sizeof m->desc_ch, s, n);
        s = tp_control_consumer_config_control_channel(&c, &n);
        rig_copy(m->ctl_ch, sizeof m->ctl_ch, s, n);
    } else {
        return;
    }
    g_nmsgs++;
}

/* First message of kind for consumer at or after from, or NULL. */
static const msg_t *find(char kind, uint32_t consumer, int from)
{
    for (int i = from; i < g_nmsgs; i++)
        if (g_msgs[i].kind == kind && g_msgs[i].consumer == consumer) return &g_msgs[i];
    return NULL;
}

static int count(char kind, uint32_t consumer, int from)
{
    int k = 0;
    for (int i = from; i < g_nmsgs; i++) k += g_msgs[i].kind == kind && g_msgs[i].consumer == consumer;
    return k;
}

/* FrameDescriptors of STREAM read from a test subscription. */
static void on_desc(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_control_frame_descriptor_dec_t m;
    if (tp_control_frame_descriptor_decode(&m, buf, len) == 0 && tp_control_frame_descriptor_stream_id(&m) == STREAM)
        ++*(int *)clientd;
}

static int drain(tp_ipc_subscription_t *s)
{
    int n = 0;
    while (tp_ipc_subscription_poll(s, on_desc, &n, 256) > 0) {
    }
    return n;
}

static tp_ipc_subscription_t *desc_sub(int32_t stream)
{
    tp_ipc_subscription_t *s = NULL;
    CHECK_EQ_I64(tp_ipc_subscription_open(&s, &g_rig_ipc, rig_channel(), stream), 0);
    return s;
}

/* ---- clients ---- */

static tp_tensor_header_t g_t;
static uint8_t g_src[16];

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)f;
    if (clientd != NULL) ++*(uint64_t *)clientd;
}

static void setup(tp_client_context_t *ctx, int64_t qos_interval_ns)
{
    /* Leases last 2 s without a keepalive (20 of the rig's 100 ms intervals,
     * not 3): these tests judge streams, Hellos and bursts, and a pause of a
     * few hundred ms (ASan, aeron, a loaded machine) let the producer's lease
     * lapse mid-test, after which every offer failed (CI here, once). */
    rig_setup("lease_expiry_grace_intervals = 20");
    g_nmsgs = 0;
    CHECK_EQ_I64(tp_ipc_subscription_open(&g_ctl, &g_rig_ipc, rig_channel(), 1000), 0);
    tp_client_context_init(ctx);
    snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", g_rig_dir);
    ctx->qos_interval_ns = qos_interval_ns;
    memset(&g_t, 0, sizeof g_t);
    g_t.dtype = TP_CONTROL_DTYPE_UINT8;
    g_t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    g_t.ndims = 1;
    g_t.dims[0] = 16;
}

static void teardown(void)
{
    tp_ipc_subscription_close(g_ctl);
    g_ctl = NULL;
    rig_teardown();
}

/* One duty cycle of everything present; one frame offered when asked. */
static void step(tp_producer_t *p, tp_consumer_t *c, uint64_t *frames, int offer)
{
    const int64_t now = tp_clock_monotonic_ns();
    tp_driver_do_work(g_drv, now);
    if (p != NULL) {
        tp_producer_do_work(p, now);
        if (offer && tp_producer_is_active(p)) tp_producer_offer(p, &g_t, g_src, sizeof g_src, (uint64_t)now, NULL);
    }
    if (c != NULL) tp_consumer_poll(c, now, on_frame, frames, 64);
    tp_ipc_subscription_poll(g_rig_sub, rig_on_msg, NULL, 64);
    tp_ipc_subscription_poll(g_ctl, on_ctl, NULL, 64);
    struct timespec ts = {0, 500000};
    nanosleep(&ts, NULL);
}

static void run(tp_producer_t *p, tp_consumer_t *c, uint64_t *frames, int ms, int offer)
{
    const int64_t end = tp_clock_monotonic_ns() + ms * MS;
    while (tp_clock_monotonic_ns() < end) step(p, c, frames, offer);
}

/* Step until the consumer is mapped and reads descriptors from stream. */
static int wait_stream(tp_producer_t *p, tp_consumer_t *c, int32_t stream, int ms)
{
    const int64_t end = tp_clock_monotonic_ns() + ms * MS;
    while (tp_clock_monotonic_ns() < end) {
        step(p, c, NULL, 0);
        if (tp_producer_is_active(p) && tp_consumer_is_mapped(c) && tp_consumer_descriptor_stream(c) == stream) return 1;
    }
    return 0;
}

static uint32_t id_of(tp_consumer_t *c) { return tp_driver_client_id(tp_consumer_driver_client(c)); }

/* W-10.1.2.a: the consumer says ConsumerHello at startup (after mapping) and
 * repeats it while it uses a per-consumer stream; what it asks for is a full
 * descriptor pair and no control pair (W-10.1.2.e/f), mode STREAM with
 * max_rate_hz 0 and null progress hints (no FrameProgress opt-in).
 * W-5.a, W-5.b: the producer grants the pair and echoes the channel and id in
 * ConsumerConfig; the consumer then reads descriptors only from there: a
 * descriptor injected on the shared stream does not reach it (it does reach a
 * consumer on the shared stream, which unmaps on its newer epoch).
 * W-10.1.2.b: max_rate_hz = 0 is unlimited: a burst reaches the per-consumer
 * stream whole, undelayed (RATE_LIMITED, where the value would rule, is not
 * built).
 * W-11.a: in STREAM mode every descriptor is processed: a burst the consumer
 * keeps up with is accepted whole; one that laps the ring while the consumer
 * is stalled ends as accepted + drops, none lost uncounted.
 * W-15.4.c: no backpressure: the producer's offers all succeed while the
 * consumer is stalled. D-1: the §5 MUSTs above are enforced as normative. */
static void test_hello_grant_and_stream_mode(void)
{
    tp_client_context_t ctx;
    setup(&ctx, 100 * MS);
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL, *shared = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, STREAM, 0, "percons", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, STREAM, 31000), 0);
    CHECK_EQ_I64(tp_consumer_open(&shared, &ctx, STREAM, 0), 0);
    if (p == NULL || c == NULL || shared == NULL) return;
    tp_ipc_subscription_t *pcs = desc_sub(31000);
    CHECK(wait_stream(p, c, 31000, 3000));
    for (int i = 0; i < 6000 && !tp_consumer_is_mapped(shared); i++) step(p, shared, NULL, 0);
    run(p, shared, NULL, 50, 0);
    const uint32_t cid = id_of(c), sid = id_of(shared);
    const msg_t *h = find('H', cid, 0);
    CHECK(h != NULL);
    if (h != NULL) {
        CHECK_STR(h->desc_ch, rig_channel());
        CHECK_EQ_U64(h->desc_id, 31000);
        CHECK_STR(h->ctl_ch, "");
        CHECK_EQ_U64(h->ctl_id, 0);
        CHECK_EQ_U64(h->mode, TP_CONTROL_MODE_STREAM);
        CHECK_EQ_U64(h->max_rate_hz, 0);
        CHECK(h->p_bytes == 0xFFFFFFFFu && h->p_interval == 0xFFFFFFFFu && h->p_major == 0xFFFFFFFFu);
    }
    const msg_t *hs = find('H', sid, 0); /* the shared-stream consumer says hello once, asking nothing */
    CHECK(hs != NULL && hs->desc_ch[0] == '\0' && hs->desc_id == 0 && hs->ctl_ch[0] == '\0' && hs->ctl_id == 0);
    const msg_t *cc = find('C', cid, 0);
    CHECK(cc != NULL);
    if (cc != NULL) {
        CHECK_STR(cc->desc_ch, rig_channel());
        CHECK_EQ_U64(cc->desc_id, 31000);
        CHECK(cc->ctl_ch[0] == '\0' && cc->ctl_id == 0);
    }
    CHECK(find('C', sid, 0) == NULL); /* nothing requested, nothing answered */
    int from = g_nmsgs;
    /* periodic repeats at the 100 ms interval: at least 1 s, and until 6
     * more have come, however slow the machine (bounded) */
    const int64_t h0 = tp_clock_monotonic_ns();
    while (tp_clock_monotonic_ns() < h0 + 20000 * MS &&
           (tp_clock_monotonic_ns() < h0 + 1000 * MS || count('H', cid, from) < 6)) {
        step(p, c, NULL, 0);
        tp_consumer_poll(shared, tp_clock_monotonic_ns(), on_frame, NULL, 64);
    }
    CHECK(count('H', cid, from) >= 6);
    /* never faster than the interval: n Hellos span at least n-1 intervals */
    CHECK((tp_clock_monotonic_ns() - h0) / (100 * MS) + 1 >= count('H', cid, from));
    CHECK_EQ_I64(count('H', sid, from), 0);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), 31000);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(shared), SHARED_DESC);

    /* W-10.1.2.b: 40 frames (under the 64-slot ring) in one burst */
    drain(pcs);
    tp_shm_drops_t d0, d1;
    tp_consumer_drops(c, &d0);
    for (int i = 0; i < 40; i++) CHECK_EQ_I64(tp_producer_offer(p, &g_t, g_src, sizeof g_src, 1, NULL), 0);
    CHECK_EQ_I64(drain(pcs), 40);
    uint64_t got = 0;
    for (int i = 0; i < 200 && got < 40; i++) step(p, c, &got, 0);
    CHECK_EQ_U64(got, 40); /* W-11.a: every descriptor processed */
    tp_consumer_drops(c, &d1);
    CHECK_EQ_U64(d1.accepted - d0.accepted, 40);

    /* W-11.a, W-15.4.c: 200 frames while the consumer does not poll */
    for (int i = 0; i < 200; i++) CHECK_EQ_I64(tp_producer_offer(p, &g_t, g_src, sizeof g_src, 1, NULL), 0);
    for (int i = 0; i < 20; i++) tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, NULL, 64);
    tp_shm_drops_t d2;
    tp_consumer_drops(c, &d2);
    const uint64_t late = (d2.drops_late - d1.drops_late) + (d2.drops_gap - d1.drops_gap);
    CHECK_EQ_U64((d2.accepted - d1.accepted) + late, 200);
    CHECK(late >= 200 - 64);

    /* W-5.b: a descriptor with a newer epoch on the shared stream */
    tp_ipc_publication_t *fake = NULL;
    CHECK_EQ_I64(tp_ipc_publication_open(&fake, &g_rig_ipc, rig_channel(), SHARED_DESC), 0);
    uint8_t buf[64];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
    tp_control_frame_descriptor_set_stream_id(&e, STREAM);
    tp_control_frame_descriptor_set_epoch(&e, tp_consumer_epoch(c) + 1);
    tp_control_frame_descriptor_set_seq(&e, 1000000);
    tp_control_frame_descriptor_set_timestamp_ns(&e, 1);
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    const long n = tp_control_frame_descriptor_encode_end(&e);
    CHECK(n > 0 && fake != NULL && tp_ipc_publication_offer(fake, buf, (size_t)n) > 0);
    /* the subscriptions find the new publication on their conductor's time:
     * poll until the shared consumer counted it (5 s at most), then 20 more */
    tp_consumer_counters_t cs, kc;
    memset(&cs, 0, sizeof cs);
    const int64_t inj = tp_clock_monotonic_ns();
    for (int i = 0; i < 20 || (cs.lost_other_epoch == 0 && tp_clock_monotonic_ns() < inj + 5000 * MS); i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, NULL, 64);
        tp_consumer_poll(shared, tp_clock_monotonic_ns(), on_frame, NULL, 64);
        tp_consumer_counters(shared, &cs);
    }
    /* the injection reaches the shared consumer, which counts it (a frame of
     * an epoch it has not mapped) but keeps its mapping: a descriptor never
     * unmaps (docs/threat-model.md) ... */
    tp_consumer_counters(shared, &cs);
    tp_consumer_counters(c, &kc);
    CHECK(tp_consumer_is_mapped(shared));
    CHECK_EQ_U64(cs.lost_other_epoch, 1);
    CHECK(tp_consumer_is_mapped(c)); /* ... and the granted consumer no longer reads the shared stream */
    CHECK_EQ_U64(kc.lost_other_epoch, 0);
    tp_ipc_publication_close(fake);
    tp_ipc_subscription_close(pcs);
    tp_consumer_close(shared);
    tp_consumer_close(c);
    tp_producer_close(p);
    teardown();
}

/* W-5.j, W-10.1.3.c/d, W-10.1.2.f, D-4 (producer side): every request but a
 * full descriptor pair on the producer's channel is declined with an empty
 * channel and stream id 0, and no publication is opened for it: an id without
 * a channel, a channel the producer cannot serve, a half-filled control pair,
 * and a full control pair (per-consumer control streams are unsupported: no
 * FrameProgress). A full descriptor pair next to a control pair gets the
 * descriptor stream and a declined control stream. W-10.1.3.b: empty channels
 * with id 0 are "not requested": no answer at all. */
static void test_producer_declines(void)
{
    tp_client_context_t ctx;
    setup(&ctx, 100 * MS);
    tp_producer_t *p = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, STREAM, 0, "percons", NULL), 0);
    if (p == NULL) return;
    tp_ipc_subscription_t *s31000 = desc_sub(31000), *s31002 = desc_sub(31002);
    for (int i = 0; i < 2000 && !tp_producer_is_active(p); i++) step(p, NULL, NULL, 0);
    CHECK(tp_producer_is_active(p));
    const int from = g_nmsgs;
    hello_desc(701, "", 0);
    hello_desc(702, "", 31000);
    hello_desc(703, rig_on_aeron() ? "tp:ipc" : "aeron:ipc", 31000); /* not the producer's channel */
    send_hello(704, TP_CONTROL_MODE_STREAM, 0, (pair_t){"", 0}, (pair_t){"", 32000});
    send_hello(705, TP_CONTROL_MODE_STREAM, 0, (pair_t){"", 0}, (pair_t){rig_channel(), 32000});
    send_hello(706, TP_CONTROL_MODE_STREAM, 0, (pair_t){rig_channel(), 31002}, (pair_t){rig_channel(), 32000});
    run(p, NULL, NULL, 300, 1);
    CHECK(find('C', 701, from) == NULL);
    for (uint32_t cid = 702; cid <= 705; cid++) {
        const msg_t *m = find('C', cid, from);
        CHECK(m != NULL);
        if (m == NULL) continue;
        CHECK_STR(m->desc_ch, "");
        CHECK_EQ_U64(m->desc_id, 0);
        CHECK_STR(m->ctl_ch, "");
        CHECK_EQ_U64(m->ctl_id, 0);
    }
    const msg_t *m = find('C', 706, from);
    CHECK(m != NULL && strcmp(m->desc_ch, rig_channel()) == 0 && m->desc_id == 31002 && m->ctl_ch[0] == '\0' && m->ctl_id == 0);
    CHECK_EQ_I64(drain(s31000), 0);
    CHECK(drain(s31002) > 10);
    tp_ipc_subscription_close(s31000);
    tp_ipc_subscription_close(s31002);
    tp_producer_close(p);
    teardown();
}

/* D-11.c, docs/spec/driver.md §5.5 end to end: with no per-consumer range configured
 * the driver answers a consumer that asks it to choose (channel, id 0) with
 * the shared channel and descriptor stream 1100, not a decline; the consumer
 * stays on the shared stream and the producer opens nothing extra for it, so
 * each descriptor reaches stream 1100 exactly once. */
static void test_driver_points_at_shared_stream(void)
{
    tp_client_context_t ctx;
    setup(&ctx, 100 * MS); /* rig driver without ranges */
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, STREAM, 0, "percons", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, STREAM, -1), 0);
    if (p == NULL || c == NULL) return;
    tp_ipc_subscription_t *shared = desc_sub(SHARED_DESC);
    const int64_t end = tp_clock_monotonic_ns() + 20000 * MS;
    while (tp_clock_monotonic_ns() < end && !(tp_producer_is_active(p) && tp_consumer_is_mapped(c) &&
                                              find('C', id_of(c), 0) != NULL))
        step(p, c, NULL, 0);
    run(p, c, NULL, 300, 0); /* a few more Hello / ConsumerConfig rounds */
    const msg_t *cc = find('C', id_of(c), 0);
    CHECK(cc != NULL);
    if (cc != NULL) {
        CHECK_STR(cc->desc_ch, rig_channel());
        CHECK_EQ_U64(cc->desc_id, SHARED_DESC);
    }
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), SHARED_DESC);
    drain(shared);
    for (int i = 0; i < 10; i++) CHECK_EQ_I64(tp_producer_offer(p, &g_t, g_src, sizeof g_src, 1, NULL), 0);
    CHECK_EQ_I64(drain(shared), 10);
    tp_ipc_subscription_close(shared);
    tp_consumer_close(c);
    tp_producer_close(p);
    teardown();
}

/* Step only the consumer (the producer would answer its repeated Hello) until
 * it has read the control traffic sent so far. */
static void consumer_only(tp_consumer_t *c)
{
    for (int i = 0; i < 20; i++) tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, NULL, 64);
}

/* The consumer's side of ConsumerConfig (docs/spec/wire.md §5.8):
 * W-10.1.3.c, W-10.1.3.f: a half-filled assignment (channel, id 0) is not an
 * assignment: back on the shared stream. W-10.1.3.b: an id with an empty
 * channel is "not assigned" too; no other encoding. W-10.1.3.d: a decline
 * (empty, 0) keeps it on the shared stream. A config for another consumer id
 * changes nothing. W-5.h: after an assignment that also names a per-consumer
 * control stream, the consumer still acts on the shared control stream. */
static void test_consumer_follows_config(void)
{
    tp_client_context_t ctx;
    setup(&ctx, 1000 * MS); /* Hello once a second: the checks below sit between two */
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, STREAM, 0, "percons", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, STREAM, 31001), 0);
    if (p == NULL || c == NULL) return;
    CHECK(wait_stream(p, c, 31001, 3000));
    const uint32_t cid = id_of(c);
    const pair_t none = {"", 0}, grant = {rig_channel(), 31001};
    send_config(cid, (pair_t){rig_channel(), 0}, none);
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), SHARED_DESC);
    send_config(cid, grant, none);
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), 31001);
    send_config(cid, (pair_t){"", 31001}, none);
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), SHARED_DESC);
    send_config(cid, grant, none);
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), 31001);
    send_config(cid + 1, none, none); /* someone else's decline */
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), 31001);
    send_config(cid, none, none);
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), SHARED_DESC);
    /* W-5.h */
    send_config(cid, grant, (pair_t){rig_channel(), 32001});
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), 31001);
    send_config(cid, none, none);
    consumer_only(c);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), SHARED_DESC);
    tp_consumer_close(c);
    tp_producer_close(p);
    teardown();
}

/* Offer one frame and tell whether it reached the per-consumer stream. */
/* 1 if a frame offered now reaches s, 0 if not, -1 if the producer holds no
 * lease (it lapsed on a slow run): then nothing is published, which says
 * nothing about s. (The offer's own result does not tell: it also fails
 * when nobody reads the shared descriptor stream, as under aeron:.) */
static int delivered(tp_producer_t *p, tp_ipc_subscription_t *s)
{
    if (!tp_producer_is_active(p)) return -1;
    tp_producer_offer(p, &g_t, g_src, sizeof g_src, 1, NULL);
    return drain(s) > 0;
}

/* W-5.c, W-5.d, W-10.1.3.e, D-1: with a 200 ms interval, a per-consumer
 * stream whose consumer says nothing more is served until 3 intervals after
 * its Hello and closed by 5 (3-5x); one kept alive by QosConsumer alone (no
 * further Hello) is closed only after a QoS silence of more than 3 intervals
 * (served for 6 intervals while QoS keeps coming), and closed within 5 once
 * that stops. The QoS of one consumer does not keep another's stream.
 * Checked against the times the test itself saw (before/after each producer
 * duty cycle), so a slow or descheduled run cannot fail it; a stream closed
 * early or kept too long does. */
static void test_stale_streams_close(void)
{
    tp_client_context_t ctx;
    const int64_t iv = 200 * MS;
    setup(&ctx, iv);
    tp_producer_t *p = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, STREAM, 0, "percons", NULL), 0);
    if (p == NULL) return;
    tp_ipc_publication_t *qos = NULL;
    CHECK_EQ_I64(tp_ipc_publication_open(&qos, &g_rig_ipc, rig_channel(), 1200), 0);
    tp_ipc_subscription_t *quiet = desc_sub(31010), *qos_only = desc_sub(31011);
    for (int i = 0; i < 2000 && !tp_producer_is_active(p); i++) step(p, NULL, NULL, 0);
    const int64_t hello_sent = tp_clock_monotonic_ns(); /* the producer sees both Hellos after this */
    hello_desc(801, rig_channel(), 31010);
    hello_desc(802, rig_channel(), 31011);
    int from = g_nmsgs;
    for (int i = 0; i < 2000 && (find('C', 801, from) == NULL || find('C', 802, from) == NULL); i++) step(p, NULL, NULL, 0);
    CHECK(find('C', 801, from) != NULL && find('C', 802, from) != NULL);
    /* The test's subscriptions find the producer's new streams on their
     * conductor thread: until each has had a descriptor, no descriptor says
     * nothing about the producer. On a machine too slow to get there well
     * inside the staleness window, the timing cannot be judged. */
    int seen_quiet = 0, seen_qos = 0;
    while ((!seen_quiet || !seen_qos) && tp_clock_monotonic_ns() - hello_sent < 2 * iv) {
        step(p, NULL, NULL, 0);
        tp_producer_offer(p, &g_t, g_src, sizeof g_src, 1, NULL);
        seen_quiet |= drain(quiet) > 0;
        seen_qos |= drain(qos_only) > 0;
    }
    if (!seen_quiet || !seen_qos) {
        tp_ipc_publication_close(qos);
        tp_ipc_subscription_close(quiet);
        tp_ipc_subscription_close(qos_only);
        tp_producer_close(p);
        teardown();
        TP_SKIP("the per-consumer streams were not found within 2 intervals of the Hellos");
    }
    const int64_t t0 = tp_clock_monotonic_ns(); /* ... and saw them before this */
    int64_t qos_sent = t0, next_qos = t0;
    int quiet_open = 1, qos_open = 1, early_quiet = 0, late_quiet = 0, early_qos = 0, after_6 = 0, judged = 0;
    send_qos_consumer(qos, 802);
    /* until a duty cycle started past 6 intervals (bounded) */
    while (tp_clock_monotonic_ns() < t0 + 20000 * MS && after_6 == 0) {
        const int64_t before = tp_clock_monotonic_ns();
        if (before >= next_qos) {
            send_qos_consumer(qos, 802);
            qos_sent = before;
            next_qos = before + iv / 2;
        }
        const int64_t qos_seen = qos_sent; /* the producer polls QoS before it checks staleness */
        step(p, NULL, NULL, 0);
        const int64_t after = tp_clock_monotonic_ns();
        if (!tp_producer_is_active(p)) continue; /* as in delivered() */
        judged++;
        tp_producer_offer(p, &g_t, g_src, sizeof g_src, 1, NULL);
        const int q = drain(quiet) > 0, k = drain(qos_only) > 0;
        if (quiet_open && !q) {
            quiet_open = 0; /* closed in this duty cycle: its clock was at most `after` */
            if (after - hello_sent <= 3 * iv) early_quiet = 1;
        }
        if (!quiet_open && q) early_quiet = 1; /* closed means closed */
        if (quiet_open && before - t0 > 5 * iv) late_quiet = 1;
        if (qos_open && !k) {
            qos_open = 0;
            if (after - qos_seen <= 3 * iv) early_qos = 1; /* QoS had come within 3 intervals */
        }
        if (before - t0 > 6 * iv) after_6 = 1;
    }
    CHECK(after_6 && judged > 0); /* it ran, and with a lease */
    CHECK(!early_quiet); /* not stale before 3x */
    CHECK(!late_quiet);  /* closed by 5x */
    CHECK(!early_qos);   /* QoS alone keeps it */
    /* QoS stops: closed within 5 intervals of the last one */
    int late_qos = 0, after_qos_5 = 0;
    while (tp_clock_monotonic_ns() < qos_sent + 20000 * MS && after_qos_5 == 0) {
        const int64_t before = tp_clock_monotonic_ns();
        step(p, NULL, NULL, 0);
        const int k = delivered(p, qos_only);
        if (k < 0) continue;
        if (k && !qos_open) early_qos = 1;
        if (!k) qos_open = 0;
        if (before - qos_sent > 5 * iv) {
            after_qos_5 = 1;
            if (k) late_qos = 1;
        }
    }
    CHECK(!early_qos && !late_qos);
    CHECK(delivered(p, quiet) == 0 && delivered(p, qos_only) == 0);
    tp_ipc_publication_close(qos);
    tp_ipc_subscription_close(quiet);
    tp_ipc_subscription_close(qos_only);
    tp_producer_close(p);
    teardown();
}

/* W-5.c, W-10.1.3.e: a consumer that disconnects (detaches: its lease ends)
 * has its per-consumer stream closed at once, long before the 3 s staleness
 * of a 1 s interval. */
static void test_disconnect_closes_stream(void)
{
    tp_client_context_t ctx;
    setup(&ctx, 1000 * MS);
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, STREAM, 0, "percons", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, STREAM, 31020), 0);
    if (p == NULL || c == NULL) return;
    tp_ipc_subscription_t *s = desc_sub(31020);
    CHECK(wait_stream(p, c, 31020, 3000));
    run(p, c, NULL, 50, 0);
    CHECK(delivered(p, s) == 1);
    tp_consumer_close(c); /* detach, then the driver's ShmLeaseRevoked(DETACHED) */
    run(p, NULL, NULL, 300, 0);
    CHECK(delivered(p, s) == 0);
    tp_ipc_subscription_close(s);
    tp_producer_close(p);
    teardown();
}

/* W-5.f: a consumer on the shared stream asking RATE_LIMITED at 1 Hz gets
 * every descriptor there: the producer ignores max_rate_hz without a
 * per-consumer stream (and sends no ConsumerConfig: nothing was requested). */
static void test_max_rate_ignored_on_shared(void)
{
    tp_client_context_t ctx;
    setup(&ctx, 100 * MS);
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, STREAM, 0, "percons", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, STREAM, 0), 0);
    if (p == NULL || c == NULL) return;
    CHECK(wait_stream(p, c, SHARED_DESC, 3000));
    const uint32_t cid = id_of(c);
    const int from = g_nmsgs;
    send_hello(cid, TP_CONTROL_MODE_RATE_LIMITED, 1, (pair_t){"", 0}, (pair_t){"", 0});
    run(p, c, NULL, 100, 0);
    uint64_t got = 0;
    for (int i = 0; i < 50; i++) {
        CHECK_EQ_I64(tp_producer_offer(p, &g_t, g_src, sizeof g_src, 1, NULL), 0);
        step(p, c, &got, 0);
    }
    for (int i = 0; i < 100 && got < 50; i++) step(p, c, &got, 0);
    CHECK_EQ_U64(got, 50);
    CHECK(find('C', cid, from) == NULL);
    tp_consumer_close(c);
    tp_producer_close(p);
    teardown();
}

/* W-10.1.1.a: the driver sends ShmPoolAnnounce every announce period (100 ms
 * here: they keep coming, no closer than the period, a live lease kept alive
 * meanwhile) and at once
 * when something changes: the announce of a new epoch comes before the
 * attach or detach answer that caused it, without waiting for the period. */
static void test_announce_cadence(void)
{
    rig_setup(NULL);
    const int a = rig_attach_wait(STREAM, 11, TP_ROLE_PRODUCER);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a < 0) return rig_teardown();
    const rig_ev_t lease = g_ev[a];
    int changed = 0;
    for (int i = 0; i < a; i++) changed |= g_ev[i].kind == 'N' && g_ev[i].epoch == lease.epoch && g_ev[i].producer == 11;
    CHECK(changed);
    rig_pump(50);
    const int from = g_nev;
    /* Ten periodic announces (the lease kept alive meanwhile), however slow
     * the machine (bounded): they keep coming, and never faster than the
     * period (the ten span at least nine periods). */
    const int64_t t0 = tp_clock_monotonic_ns();
    int n = 0;
    while (n < 10 && tp_clock_monotonic_ns() < t0 + 20000 * MS) {
        rig_keepalive(lease.lease, STREAM, 11, TP_ROLE_PRODUCER);
        rig_pump(50);
        n = 0;
        for (int i = from; i < g_nev; i++) n += g_ev[i].kind == 'N' && g_ev[i].stream == STREAM && g_ev[i].epoch == lease.epoch;
    }
    const int64_t took = tp_clock_monotonic_ns() - t0;
    CHECK(n >= 10);
    CHECK(took >= 9 * 100 * MS);
    if (n < 10 || took < 9 * 100 * MS) fprintf(stderr, "announces: %d in %lld ms\n", n, (long long)(took / MS));
    const int before = g_nev;
    const int d = rig_wait('D', rig_detach(lease.lease, STREAM, 11, TP_ROLE_PRODUCER), before, 2000);
    CHECK(d >= 0);
    /* From the periodic ones on, not only after the detach: should a stall
     * have let the lease expire first, the new epoch was announced then,
     * still before this answer. */
    changed = 0;
    for (int i = from; i < d; i++) changed |= g_ev[i].kind == 'N' && g_ev[i].epoch > lease.epoch;
    CHECK(changed);
    if (!changed && d >= 0) fprintf(stderr, "detach answer code %d, %d events after the detach\n", (int)g_ev[d].code, d - before);
    rig_teardown();
}

/* W-15.11.a: default cadences 1 Hz (announce, QoS and with it the activity
 * refresh and DataSourceAnnounce; per-consumer staleness 3 x 1 s), and the
 * fixed stream ids of §6 (control 1000, descriptors 1100, QoS 1200,
 * metadata 1300), for the clients and the driver alike. */
static void test_default_cadences(void)
{
    unsetenv("POLICIES_ANNOUNCE_PERIOD_MS");
    unsetenv("DRIVER_CONTROL_STREAM_ID");
    unsetenv("DRIVER_QOS_STREAM_ID");
    unsetenv("DRIVER_DESCRIPTOR_STREAM_ID");
    unsetenv("TP_METADATA_STREAM_ID");
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    CHECK_EQ_I64(ctx.announce_period_ns, 1000 * MS);
    CHECK_EQ_I64(ctx.qos_interval_ns, 1000 * MS);
    CHECK_EQ_I64(ctx.control_stream_id, 1000);
    CHECK_EQ_I64(ctx.descriptor_stream_id, 1100);
    CHECK_EQ_I64(ctx.qos_stream_id, 1200);
    CHECK_EQ_I64(ctx.metadata_stream_id, 1300);
    static tp_driver_config_t cfg;
    tp_driver_config_defaults(&cfg);
    CHECK_EQ_U64(cfg.announce_period_ms, 1000);
    CHECK_EQ_U64(cfg.control_stream_id, 1000);
    CHECK_EQ_U64(cfg.qos_stream_id, 1200);
    CHECK_EQ_U64(cfg.descriptor_stream_id, 1100);
    /* one variable moves the shared descriptor stream for clients and driver */
    setenv("DRIVER_DESCRIPTOR_STREAM_ID", "1101", 1);
    tp_client_context_init(&ctx);
    CHECK_EQ_I64(ctx.descriptor_stream_id, 1101);
    CHECK_EQ_I64(tp_driver_config_apply_env(&cfg, NULL), 0);
    CHECK_EQ_U64(cfg.descriptor_stream_id, 1101);
    unsetenv("DRIVER_DESCRIPTOR_STREAM_ID");
}

int main(void)
{
    RUN(test_hello_grant_and_stream_mode);
    RUN(test_producer_declines);
    RUN(test_consumer_follows_config);
    RUN(test_driver_points_at_shared_stream);
    RUN(test_stale_streams_close);
    RUN(test_disconnect_closes_stream);
    RUN(test_max_rate_ignored_on_shared);
    RUN(test_announce_cadence);
    RUN(test_default_cadences);
    TP_TEST_END();
}
