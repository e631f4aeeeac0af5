/* RATE_LIMITED consumers (W-11.b, W-11.c, W-5.e) and the RateLimiter agent
 * (docs/spec/ratelimiter.md) with a driver, producers and consumers in one
 * process: the newest eligible frame is the one delivered, what is passed
 * over is counted apart from drops, a granted per-consumer stream is paced
 * by the producer, the agent republishes at the source's seq with its
 * metadata, and none of it allocates once running. */
#include "tp_test.h"

#include "alloc_count.h"
#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/consumer_rate.h"
#include "tensorpool/producer.h"
#include "tensorpool/ratelimit.h"

#include <unistd.h>

#define MS 1000000LL
#define SRC 10000u
#define DST 10001u

typedef struct seen_s {
    uint64_t frames, last_seq, bad_meta, bad_payload;
    uint64_t last_desc_ts; /* FrameDescriptor.timestamp_ns of the last frame */
    uint32_t want_meta;
} seen_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    seen_t *s = clientd;
    s->frames++;
    s->last_seq = f->seq;
    s->last_desc_ts = f->descriptor_timestamp_ns;
    if (f->header->meta_version != s->want_meta) s->bad_meta++;
    uint64_t v = 0;
    if (f->len >= 8) memcpy(&v, f->payload, 8);
    if (f->len < 8 || v != f->seq * 3 + 1) s->bad_payload++; /* the producer writes seq*3+1 */
}

static tp_client_context_t ctx_for_rig(void)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    snprintf(ctx.channel, sizeof ctx.channel, "%s", rig_channel());
    ctx.keepalive_interval_ns = 50 * MS;
    ctx.announce_period_ns = 100 * MS;
    ctx.qos_interval_ns = 50 * MS;
    return ctx;
}

static tp_tensor_header_t g_t;

static void publish(tp_producer_t *p)
{
    uint64_t v = tp_producer_next_seq(p) * 3 + 1;
    uint8_t buf[64] = {0};
    memcpy(buf, &v, 8);
    CHECK_EQ_I64(tp_producer_offer(p, &g_t, buf, sizeof buf, (uint64_t)tp_clock_monotonic_ns(), NULL), 0);
}

static void pump(tp_producer_t *p, tp_consumer_t *c, seen_t *s)
{
    const int64_t now = tp_clock_monotonic_ns();
    tp_driver_do_work(g_drv, now);
    tp_producer_do_work(p, now);
    tp_consumer_poll(c, now, on_frame, s, 64);
}

static int wait_flowing(tp_producer_t *p, tp_consumer_t *c, seen_t *s)
{
    for (int i = 0; i < 20000 && !(tp_producer_is_active(p) && tp_consumer_is_mapped(c)); i++) {
        pump(p, c, s);
        usleep(200);
    }
    return tp_producer_is_active(p) && tp_consumer_is_mapped(c);
}

static void init_tensor(void)
{
    memset(&g_t, 0, sizeof g_t);
    g_t.dtype = TP_CONTROL_DTYPE_UINT8;
    g_t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    g_t.ndims = 1;
    g_t.dims[0] = 64;
}

/* A rig, producer "cam" of SRC and a consumer of it (per_consumer as
 * tp_consumer_open's), opened but not yet flowing. */
static void open_pair(tp_producer_t **p, tp_consumer_t **c, int32_t per_consumer)
{
    rig_setup(NULL);
    init_tensor();
    tp_client_context_t ctx = ctx_for_rig();
    *p = NULL;
    *c = NULL;
    CHECK_EQ_I64(tp_producer_open(p, &ctx, SRC, 0, "cam", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(c, &ctx, SRC, per_consumer), 0);
}

/* W-11.b/c, RL-P2: a burst read in one poll delivers its newest frame; frames
 * inside the period are passed over and counted; accepted + skipped covers
 * every frame published (nothing counted as a drop); no allocation. */
static void test_local_decimation_newest(void)
{
    tp_producer_t *p;
    tp_consumer_t *c;
    seen_t s = {0};
    open_pair(&p, &c, 0);
    CHECK_EQ_I64(tp_consumer_set_max_rate(c, 5), 0);
    CHECK(wait_flowing(p, c, &s));
    const uint64_t a0 = tp_alloc_count();
    for (int i = 0; i < 30; i++) publish(p);
    tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, &s, 64);
    CHECK_EQ_U64(s.frames, 1);
    CHECK_EQ_U64(s.last_seq, 29); /* the newest, not the first */
    tp_consumer_rate_stats_t r;
    tp_consumer_rate_stats(c, &r);
    CHECK_EQ_U64(r.max_rate_hz, 5);
    CHECK_EQ_U64(r.skipped_local, 29);
    CHECK_EQ_U64(r.delivered, 1);
    for (int i = 0; i < 30; i++) publish(p); /* well inside 200 ms */
    tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, &s, 64);
    CHECK_EQ_U64(s.frames, 1);
    usleep(210000);
    publish(p);
    tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, &s, 64);
    CHECK_EQ_U64(s.frames, 2);
    CHECK_EQ_U64(s.last_seq, 60);
    CHECK_EQ_U64(tp_alloc_count() - a0, 0);
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    tp_consumer_rate_stats(c, &r);
    CHECK_EQ_U64(d.accepted + r.skipped_local, 61);
    CHECK_EQ_U64(d.drops_gap + d.drops_late + d.drops_invalid, 0);
    CHECK_EQ_U64(s.bad_payload, 0);
    /* back to STREAM: every frame again */
    CHECK_EQ_I64(tp_consumer_set_max_rate(c, 0), 0);
    for (int i = 0; i < 5; i++) publish(p);
    tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, &s, 64);
    CHECK_EQ_U64(s.frames, 7);
    tp_consumer_close(c);
    tp_producer_close(p);
    rig_teardown();
}

/* W-10.2.1.d, W-10.2.1.e: on (the default) a descriptor carries the publish time, read
 * after the commit; off it carries null, and on again the time comes back. */
static void test_publish_timestamp_switch(void)
{
    tp_producer_t *p;
    tp_consumer_t *c;
    seen_t s = {0};
    open_pair(&p, &c, 0);
    CHECK(wait_flowing(p, c, &s));
    for (int round = 0; round < 3; round++) {
        const int on = round != 1;
        tp_producer_set_publish_timestamp(p, on);
        const uint64_t f0 = s.frames, t0 = (uint64_t)tp_clock_monotonic_ns();
        publish(p);
        const uint64_t t1 = (uint64_t)tp_clock_monotonic_ns();
        for (int i = 0; i < 1000 && s.frames == f0; i++) pump(p, c, &s);
        CHECK_EQ_U64(s.frames, f0 + 1);
        if (on) CHECK(s.last_desc_ts >= t0 && s.last_desc_ts <= t1);
        else CHECK_EQ_U64(s.last_desc_ts, UINT64_MAX);
    }
    tp_consumer_close(c);
    tp_producer_close(p);
    rig_teardown();
}

/* W-5.e, RL-P3: a RATE_LIMITED consumer granted a per-consumer stream is paced by
 * the producer (the grant says RATE_LIMITED); the frames held back are
 * counted as skipped by the producer, not as drops_gap. 1 kHz in, 5 Hz out.
 * With publish_ts off the producer's gate reads the clock itself. */
static void test_producer_paces_granted_stream(int publish_ts)
{
    tp_producer_t *p;
    tp_consumer_t *c;
    seen_t s = {0};
    open_pair(&p, &c, 10500);
    tp_producer_set_publish_timestamp(p, publish_ts);
    CHECK_EQ_I64(tp_consumer_set_max_rate(c, 5), 0);
    CHECK(wait_flowing(p, c, &s));
    tp_consumer_rate_stats_t r = {0};
    for (int i = 0; i < 20000 && !r.granted; i++) {
        pump(p, c, &s);
        tp_consumer_rate_stats(c, &r);
        usleep(200);
    }
    CHECK(r.granted);
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), 10500);
    const uint64_t f0 = s.frames, a0 = tp_alloc_count();
    const int64_t t0 = tp_clock_monotonic_ns();
    uint64_t published = 0;
    while (tp_clock_monotonic_ns() - t0 < 1200 * MS) {
        publish(p);
        published++;
        pump(p, c, &s);
        usleep(1000);
    }
    for (int i = 0; i < 20; i++) pump(p, c, &s);
    CHECK_EQ_U64(tp_alloc_count() - a0, 0); /* pacing and the paced consumer allocate nothing */
    const double secs = (double)(tp_clock_monotonic_ns() - t0) / 1e9;
    const uint64_t got = s.frames - f0;
    tp_consumer_rate_stats(c, &r);
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    printf("paced (publish timestamp %s): %llu published, %llu delivered in %.2f s, skipped by producer %llu, local %llu\n",
           publish_ts ? "on" : "off", (unsigned long long)published, (unsigned long long)got, secs, (unsigned long long)r.skipped_producer,
           (unsigned long long)r.skipped_local);
    CHECK(got >= 3 && (double)got <= 5.0 * secs + 2);
    CHECK(r.skipped_producer > published / 2);
    CHECK_EQ_U64(d.drops_gap, 0);
    CHECK_EQ_U64(s.bad_payload, 0);
    tp_consumer_close(c);
    tp_producer_close(p);
    rig_teardown();
}

static void test_producer_paces_granted_stream_publish_ts(void) { test_producer_paces_granted_stream(1); }
static void test_producer_paces_granted_stream_no_publish_ts(void) { test_producer_paces_granted_stream(0); }

typedef struct meta_seen_s {
    uint64_t announces, metas, other_names;
    char name[64];
    uint32_t meta_version;
} meta_seen_t;

static void on_meta(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    meta_seen_t *m = clientd;
    tp_control_data_source_announce_dec_t a;
    tp_control_data_source_meta_dec_t d;
    if (tp_control_data_source_announce_decode(&a, buf, len) == 0 && tp_control_data_source_announce_stream_id(&a) == DST) {
        m->announces++;
        uint32_t n = 0;
        const char *s = tp_control_data_source_announce_name(&a, &n);
        rig_copy(m->name, sizeof m->name, s, n);
        if (strcmp(m->name, "camera-one") != 0) m->other_names++;
        m->meta_version = tp_control_data_source_announce_meta_version(&a);
    } else if (tp_control_data_source_meta_decode(&d, buf, len) == 0 && tp_control_data_source_meta_stream_id(&d) == DST) {
        m->metas++;
    }
}

/* The agent: 120 Hz in, about 5 Hz out on its own stream; each frame keeps
 * its seq, payload and meta_version (RL-4.c, RL-5.a); the source's
 * DataSourceAnnounce/Meta come out for the destination with the stream id
 * rewritten (RL-6.a); the source's own stream is untouched (RL-3.a); the
 * steady state allocates nothing (RL-5.b); the destination's only
 * DataSourceAnnounce is the source's (RL-P5). */
static void test_agent_republishes(void)
{
    rig_setup("[streams.preview]\nstream_id = 10001\nprofile = \"camera\"\n");
    init_tensor();
    tp_client_context_t ctx = ctx_for_rig();
    tp_producer_t *p = NULL;
    tp_consumer_t *down = NULL;
    tp_ratelimit_t *rl = NULL;
    seen_t s = {0};
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, SRC, 0, "camera-one", NULL), 0);
    const tp_meta_attr_t attr = {"units", "text", "mm", 2};
    CHECK_EQ_I64(tp_producer_set_meta(p, &attr, 1), 0);
    s.want_meta = 1;
    tp_ratelimit_config_t cfg;
    tp_ratelimit_config_init(&cfg);
    cfg.source_stream_id = SRC;
    cfg.dest_stream_id = DST;
    cfg.max_rate_hz = 5;
    CHECK_EQ_I64(tp_ratelimit_open(&rl, &ctx, &cfg), 0);
    CHECK_EQ_I64(tp_consumer_open(&down, &ctx, DST, 0), 0);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    ipc.namespace_name = ctx.ns;
    tp_ipc_subscription_t *meta = NULL;
    CHECK_EQ_I64(tp_ipc_subscription_open(&meta, &ipc, ctx.channel, ctx.metadata_stream_id), 0);
    meta_seen_t m = {0};
    if (p == NULL || rl == NULL || down == NULL || meta == NULL) return;
    int64_t t0 = 0, next = 0;
    uint64_t published = 0, a0 = 0, frames0 = 0;
    const int64_t deadline = tp_clock_monotonic_ns() + 30000 * MS;
    while (tp_clock_monotonic_ns() < deadline) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(p, now);
        tp_ratelimit_do_work(rl, now);
        tp_consumer_poll(down, now, on_frame, &s, 64);
        tp_ipc_subscription_poll(meta, on_meta, &m, 16);
        if (tp_producer_is_active(p) && tp_consumer_is_mapped(down) && now >= next) {
            if (t0 == 0 && s.frames > 0) { /* flowing end to end: measure from here */
                t0 = now;
                frames0 = s.frames;
                published = 0;
                a0 = tp_alloc_count();
            }
            publish(p);
            published++;
            next = now + 1000000000 / 120;
        }
        if (t0 != 0 && now - t0 > 2000 * MS) break;
        usleep(300);
    }
    const uint64_t allocs = tp_alloc_count() - a0;
    const double secs = t0 != 0 ? (double)(tp_clock_monotonic_ns() - t0) / 1e9 : 0;
    const uint64_t got = s.frames - frames0;
    tp_ratelimit_stats_t st;
    tp_ratelimit_stats(rl, &st);
    printf("agent: %llu in, %llu out in %.2f s (%.2f/s); skipped %llu, dropped %llu, metadata %llu\n",
           (unsigned long long)published, (unsigned long long)got, secs, secs > 0 ? (double)got / secs : 0,
           (unsigned long long)st.frames_skipped, (unsigned long long)st.drops_no_slot,
           (unsigned long long)st.metadata_forwarded);
    CHECK(t0 != 0);
    CHECK(got >= 5 && (double)got <= 5.0 * secs + 2);
    CHECK(st.frames_skipped > got);
    CHECK_EQ_U64(s.bad_payload, 0); /* seq kept: the payload names it */
    CHECK_EQ_U64(s.bad_meta, 0);
    CHECK_EQ_U64(allocs, 0);
    CHECK(m.announces > 0 && m.metas > 0);
    CHECK_STR(m.name, "camera-one");
    CHECK_EQ_U64(m.other_names, 0);
    CHECK_EQ_U64(m.meta_version, 1);
    CHECK(st.dest_epoch != 0 && st.source_epoch != 0);
    tp_ipc_subscription_close(meta);
    tp_consumer_close(down);
    tp_ratelimit_close(rl);
    tp_producer_close(p);
    rig_teardown();
}

static void publish_len(tp_producer_t *p, uint32_t len)
{
    uint8_t buf[512] = {0};
    const uint64_t v = tp_producer_next_seq(p) * 3 + 1;
    memcpy(buf, &v, 8);
    tp_tensor_header_t t = g_t;
    t.dims[0] = (int32_t)len;
    tp_producer_offer(p, &t, buf, len, (uint64_t)tp_clock_monotonic_ns(), NULL);
}

/* Drive everything for up to ms, or until done() says so. */
typedef struct world_s {
    tp_producer_t *p;
    tp_ratelimit_t *rl, *rl2;
    tp_consumer_t *down;
    seen_t s;
    uint32_t len;
    int64_t next;
} world_t;

static int run_until(world_t *w, int ms, int (*done)(world_t *))
{
    const int64_t end = tp_clock_monotonic_ns() + ms * MS;
    while (tp_clock_monotonic_ns() < end) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        if (w->p != NULL) tp_producer_do_work(w->p, now);
        CHECK(tp_ratelimit_do_work(w->rl, now) >= 0);
        if (w->rl2 != NULL) tp_ratelimit_do_work(w->rl2, now);
        if (w->down != NULL) tp_consumer_poll(w->down, now, on_frame, &w->s, 64);
        if (w->p != NULL && tp_producer_is_active(w->p) && now >= w->next) {
            publish_len(w->p, w->len);
            w->next = now + 5 * MS;
        }
        if (done(w)) return 1;
        usleep(300);
    }
    return 0;
}

static int some_dropped(world_t *w)
{
    tp_ratelimit_stats_t st;
    tp_ratelimit_stats(w->rl, &st);
    return st.drops_no_slot >= 3;
}

/* RL-5.b: frames the destination's pools cannot hold are dropped and
 * counted, and the agent goes on; RL-6.b: with forward_metadata off nothing
 * of the source's metadata is republished. */
static void test_agent_drops_what_does_not_fit(void)
{
    rig_setup("[profiles.tiny]\nheader_nslots = 16\npayload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
              "[streams.preview]\nstream_id = 10001\nprofile = \"tiny\"\n");
    init_tensor();
    tp_client_context_t ctx = ctx_for_rig();
    world_t w = {0};
    w.len = 256;
    CHECK_EQ_I64(tp_producer_open(&w.p, &ctx, SRC, 0, "cam", NULL), 0);
    tp_ratelimit_config_t cfg;
    tp_ratelimit_config_init(&cfg);
    cfg.source_stream_id = SRC;
    cfg.dest_stream_id = DST;
    cfg.max_rate_hz = 50;
    cfg.forward_metadata = false;
    CHECK_EQ_I64(tp_ratelimit_open(&w.rl, &ctx, &cfg), 0);
    if (w.p == NULL || w.rl == NULL) return;
    CHECK(run_until(&w, 20000, some_dropped));
    tp_ratelimit_stats_t st;
    tp_ratelimit_stats(w.rl, &st);
    CHECK_EQ_U64(st.frames_out, 0);
    CHECK_EQ_U64(st.metadata_forwarded, 0);
    tp_ratelimit_close(w.rl);
    tp_producer_close(w.p);
    rig_teardown();
}

static int downstream_has_frames(world_t *w) { return w->s.frames >= 3; }
static int source_restarted_and_flowing(world_t *w)
{
    tp_ratelimit_stats_t st;
    tp_ratelimit_stats(w->rl, &st);
    return st.source_restarts >= 1 && w->s.frames >= 3;
}

/* RL-7.a, RL-7.b, RL-P6: the source's producer restarts (a new epoch, seq from 0):
 * the agent takes a new epoch of its own for the destination and the
 * downstream consumer follows it. RL-3.b: a second agent for the same
 * destination is never its producer while the first one is. */
static void test_agent_follows_source_restart(void)
{
    rig_setup("[streams.preview]\nstream_id = 10001\nprofile = \"camera\"\n");
    init_tensor();
    tp_client_context_t ctx = ctx_for_rig();
    world_t w = {0};
    w.len = 64;
    CHECK_EQ_I64(tp_producer_open(&w.p, &ctx, SRC, 0, "cam", NULL), 0);
    tp_ratelimit_config_t cfg;
    tp_ratelimit_config_init(&cfg);
    cfg.source_stream_id = SRC;
    cfg.dest_stream_id = DST;
    cfg.max_rate_hz = 50;
    CHECK_EQ_I64(tp_ratelimit_open(&w.rl, &ctx, &cfg), 0);
    CHECK_EQ_I64(tp_consumer_open(&w.down, &ctx, DST, 0), 0);
    if (w.p == NULL || w.rl == NULL || w.down == NULL) return;
    CHECK(run_until(&w, 20000, downstream_has_frames));
    tp_ratelimit_stats_t st0;
    tp_ratelimit_stats(w.rl, &st0);
    CHECK_EQ_I64(tp_ratelimit_open(&w.rl2, &ctx, &cfg), 0); /* the same destination */
    tp_producer_close(w.p);
    w.p = NULL;
    CHECK_EQ_I64(tp_producer_open(&w.p, &ctx, SRC, 0, "cam", NULL), 0);
    w.s.frames = 0;
    CHECK(run_until(&w, 20000, source_restarted_and_flowing));
    tp_ratelimit_stats_t st1, st2;
    tp_ratelimit_stats(w.rl, &st1);
    tp_ratelimit_stats(w.rl2, &st2);
    CHECK(st1.source_epoch > st0.source_epoch);
    CHECK(st1.dest_epoch > st0.dest_epoch);
    CHECK_EQ_U64(tp_consumer_epoch(w.down), st1.dest_epoch);
    CHECK_EQ_U64(st2.dest_epoch, 0);
    CHECK_EQ_U64(st2.frames_out, 0);
    CHECK_EQ_U64(w.s.bad_payload, 0);
    tp_consumer_close(w.down);
    tp_ratelimit_close(w.rl2);
    tp_ratelimit_close(w.rl);
    tp_producer_close(w.p);
    rig_teardown();
}

int main(void)
{
    RUN(test_agent_drops_what_does_not_fit);
    RUN(test_agent_follows_source_restart);
    RUN(test_local_decimation_newest);
    RUN(test_publish_timestamp_switch);
    RUN(test_producer_paces_granted_stream_publish_ts);
    RUN(test_producer_paces_granted_stream_no_publish_ts);
    RUN(test_agent_republishes);
    TP_TEST_END();
}
