/* JoinBarrierAgent and MergeMap authority over the embedded transport, in one
 * process with simulated time (docs/spec/join-barrier.md §6 scenarios 85-91). */
#include "ipc_test_util.h"
#include "tp_test.h"

#include "stand_in_producer.h"
#include "tensorpool/clock.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/merge_map_codec.h"

#include "tensorpool/codec/driver.h"

#include <dirent.h>
#include <grp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS 1000000LL

static tp_ipc_context_t ctx;

/* ---- what the stage saw ---- */
typedef struct {
    int outputs;
    uint64_t last_out_seq;
    uint64_t last_out_time;
    uint32_t last_inputs;
    tp_join_input_status_t status[8];
    uint32_t frames[8];
    uint64_t frame_seq[8];
    uint64_t frame_value[8];
    int has_view[8];
    int with_view; /* outputs where every present input's frames all had a view */
} seen_t;

static void on_output(void *clientd, const tp_join_output_t *out)
{
    seen_t *s = clientd;
    s->outputs++;
    s->last_out_seq = out->out_seq;
    s->last_out_time = out->out_time;
    s->last_inputs = out->input_count;
    int all = 1;
    for (uint32_t i = 0; i < out->input_count; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        if (in->status != TP_JOIN_INPUT_READY) continue;
        all &= in->frame_count > 0 && in->dropped == 0;
        for (uint32_t k = 0; k < in->frame_count; k++) all &= in->frames[k].has_view != 0;
    }
    s->with_view += all;
    for (uint32_t i = 0; i < out->input_count && i < 8; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        s->status[i] = in->status;
        s->frames[i] = in->frame_count;
        if (in->frame_count > 0) {
            const tp_join_frame_t *f = &in->frames[in->frame_count - 1];
            s->frame_seq[i] = f->seq;
            s->has_view[i] = f->has_view;
            if (f->has_view && f->view.len == 8) {
                uint64_t v;
                memcpy(&v, f->view.payload, 8);
                if (tp_join_frame_still_valid(f)) s->frame_value[i] = v;
            }
        }
    }
}

/* ---- a raw observer of the control stream ---- */
typedef struct {
    int seq_requests, ts_requests, seq_announces, ts_announces, other;
    tp_merge_request_t last_req;
} ctl_t;

static void on_ctl(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    ctl_t *c = clientd;
    switch (tp_merge_msg_classify(buf, len)) {
    case TP_MERGE_TEMPLATE_SEQUENCE_REQUEST:
        c->seq_requests++;
        tp_merge_request_decode(&c->last_req, buf, len);
        break;
    case TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST:
        c->ts_requests++;
        tp_merge_request_decode(&c->last_req, buf, len);
        break;
    case TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE: c->seq_announces++; break;
    case TP_MERGE_TEMPLATE_TIMESTAMP_ANNOUNCE: c->ts_announces++; break;
    default: c->other++; break;
    }
}

static void drain(tp_ipc_subscription_t *sub, ctl_t *c)
{
    for (int i = 0; i < 4; i++) tp_ipc_subscription_poll(sub, on_ctl, c, 256);
}

static void make_seq_map(tp_merge_map_t *m, uint32_t out, uint64_t epoch, const uint32_t *streams, int n)
{
    tp_merge_map_init(m, TP_MERGE_KIND_SEQUENCE, 8);
    tp_merge_map_reset(m, out, epoch);
    for (int i = 0; i < n; i++) tp_merge_map_add_offset(m, streams[i], 0);
}

static tp_join_agent_t *make_agent(tp_join_mode_t mode, seen_t *seen, uint64_t epoch, const uint32_t *streams, int n,
                                   tp_merge_authority_t *auth)
{
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, mode, 10, epoch);
    cfg.ipc = &ctx;
    for (int i = 0; i < n; i++) tp_join_agent_config_add_input(&cfg, streams[i], 0);
    cfg.on_output = on_output;
    cfg.clientd = seen;
    cfg.authority = auth;
    cfg.request_interval_ns = 100 * MS;
    cfg.request_backoff_max_ns = 100 * MS;
    cfg.shm_base_dir = tp_test_base;
    tp_join_agent_t *a = NULL;
    if (tp_join_agent_create(&cfg, &a) != 0) fprintf(stderr, "agent create: %s\n", tp_errmsg());
    return a;
}

static tp_merge_authority_t *make_authority(int subscribe, int64_t reannounce)
{
    tp_merge_authority_config_t cfg;
    tp_merge_authority_config_init(&cfg);
    cfg.ipc = &ctx;
    cfg.subscribe = subscribe;
    cfg.reannounce_interval_ns = reannounce;
    tp_merge_authority_t *a = NULL;
    if (tp_merge_authority_create(&cfg, &a) != 0) fprintf(stderr, "authority create: %s\n", tp_errmsg());
    return a;
}

/* A stand-in producer of stream in epoch, 8 slots, on the default streams. */
static int stand_in(tp_stand_in_producer_t *p, uint32_t stream, uint64_t epoch, int64_t t0)
{
    return tp_stand_in_producer_open(p, &ctx, tp_test_base, stream, epoch, 8, TP_DESCRIPTOR_STREAM_DEFAULT,
                                     TP_CONTROL_STREAM_DEFAULT, (uint64_t)t0);
}

/* Two inputs (streams 1 and 2) joined to output 10, and an authority that
 * has announced their sequence map (epoch 1, offsets 0). */
typedef struct {
    tp_merge_authority_t *auth;
    tp_merge_map_t m;
    int64_t t0;
} pair_rig_t;

static tp_join_agent_t *pair_rig_open(pair_rig_t *r, tp_join_mode_t mode, seen_t *seen)
{
    static const uint32_t ins[2] = {1, 2};
    r->auth = make_authority(0, -1);
    tp_join_agent_t *a = make_agent(mode, seen, 1, ins, 2, NULL);
    make_seq_map(&r->m, 10, 1, ins, 2);
    CHECK(tp_merge_authority_put(r->auth, &r->m, 0) == 1);
    r->t0 = tp_clock_monotonic_ns();
    return a;
}

static void pair_rig_close(pair_rig_t *r)
{
    tp_merge_authority_destroy(r->auth);
    tp_merge_map_close(&r->m);
}

/* Run the agent (and authority) several cycles at one simulated time. */
static void spin(tp_join_agent_t *a, tp_merge_authority_t *auth, int64_t now)
{
    for (int i = 0; i < 8; i++) {
        if (auth != NULL) tp_merge_authority_do_work(auth, now);
        if (a != NULL) tp_join_agent_do_work(a, now);
    }
}

/* Scenario 85, JB-10.3.a/b/c, JB-7.3.a/b: a late joiner requests within one
 * duty cycle, the authority answers, the barrier resumes. JB-10.3.b: the
 * SequenceMergeMapRequest is seen on the control stream. JB-10.1.g: the
 * authority answers it (the map reaches the joiner only through the answer:
 * the one announce at creation was sent before the joiner existed). */
static void test_late_join_by_request(void)
{
    tp_ipc_subscription_t *obs;
    CHECK(tp_ipc_subscription_open(&obs, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    tp_merge_authority_t *auth = make_authority(1, -1);
    tp_merge_map_t m;
    const uint32_t ins[1] = {1};
    make_seq_map(&m, 10, 1, ins, 1);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1); /* announce at creation, before the joiner exists */
    seen_t seen = {0};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 1, NULL);
    CHECK(a != NULL);
    tp_join_agent_do_work(a, 0); /* one duty cycle */
    ctl_t c = {0};
    drain(obs, &c);
    CHECK(c.seq_requests == 1);
    CHECK(c.last_req.out_stream_id == 10 && c.last_req.epoch == 1);
    CHECK(!tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    spin(a, auth, 1 * MS);
    CHECK(tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.announces_applied == 1 && st.unbound_rules == 0);
    tp_ipc_publication_t *desc;
    CHECK(tp_ipc_publication_open(&desc, &ctx, "tp:ipc", TP_DESCRIPTOR_STREAM_DEFAULT) == 0);
    CHECK(tp_stand_in_descriptor(desc, 1, 1, 5, 1000) == 0);
    spin(a, NULL, 2 * MS);
    CHECK(seen.outputs == 1);
    CHECK_EQ_U64(seen.last_out_seq, 5);
    CHECK(seen.frames[0] == 1 && seen.frame_seq[0] == 5 && seen.has_view[0] == 0); /* no pools announced */
    tp_join_agent_stats(a, &st);
    CHECK(st.frames_unmapped == 1 && st.outputs_without_view == 1 && st.frames_dropped == 0); /* counted */
    tp_ipc_publication_close(desc);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
    tp_ipc_subscription_close(obs);
}

/* Scenarios 86, 87, JB-10.3.c: exact key and kind only; otherwise silence.
 * JB-10.1.g: a SequenceMergeMapRequest for a map it holds is answered. */
static void test_authority_exact_key(void)
{
    tp_ipc_subscription_t *obs;
    CHECK(tp_ipc_subscription_open(&obs, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    tp_merge_authority_t *auth = make_authority(1, -1);
    tp_merge_map_t m;
    const uint32_t ins[1] = {1};
    make_seq_map(&m, 10, 1, ins, 1);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 0); /* unchanged: nothing sent */
    uint8_t buf[32];
    tp_merge_request_t r = {TP_MERGE_KIND_SEQUENCE, 10, 2};
    long n = tp_merge_request_encode(&r, buf, sizeof buf);
    CHECK(tp_merge_authority_on_message(auth, buf, (size_t)n) == 0); /* 86: unknown epoch */
    r.kind = TP_MERGE_KIND_TIMESTAMP;
    r.epoch = 1;
    n = tp_merge_request_encode(&r, buf, sizeof buf);
    CHECK(tp_merge_authority_on_message(auth, buf, (size_t)n) == 0); /* 87: other kind */
    r.kind = TP_MERGE_KIND_SEQUENCE;
    n = tp_merge_request_encode(&r, buf, sizeof buf);
    CHECK(tp_merge_authority_on_message(auth, buf, (size_t)n) == 1);
    CHECK(tp_merge_authority_on_message(auth, buf, 5) == 0); /* short: ignored, no crash */
    ctl_t c = {0};
    drain(obs, &c);
    CHECK(c.seq_announces == 2 && c.ts_announces == 0); /* creation + the one answer */
    tp_merge_authority_stats_t st;
    tp_merge_authority_stats(auth, &st);
    CHECK(st.requests_seen == 3 && st.requests_answered == 1);
    /* An invalid map is refused (§3.10). */
    tp_merge_map_t bad;
    tp_merge_map_init(&bad, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&bad, 10, 3);
    CHECK(tp_merge_authority_put(auth, &bad, 0) == -1); /* zero rules (JB-6.2.a) */
    tp_merge_map_close(&bad);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
    tp_ipc_subscription_close(obs);
}

/* Scenario 88: one request per interval, never more often, none after apply;
 * with a larger cap the interval doubles (backoff). */
static void test_request_retry_and_backoff(void)
{
    tp_ipc_subscription_t *obs;
    CHECK(tp_ipc_subscription_open(&obs, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    seen_t seen = {0};
    const uint32_t ins[1] = {1};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 1, NULL);
    int64_t times[] = {0, 50, 99, 100, 150, 199, 200, 250};
    int expect[] = {1, 1, 1, 2, 2, 2, 3, 3};
    ctl_t c = {0};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        tp_join_agent_do_work(a, times[i] * MS);
        drain(obs, &c);
        CHECK(c.seq_requests == expect[i]);
    }
    tp_merge_authority_t *auth = make_authority(0, -1);
    tp_merge_map_t m;
    make_seq_map(&m, 10, 1, ins, 1);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1);
    tp_join_agent_do_work(a, 260 * MS);
    CHECK(tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    for (int64_t t = 300; t <= 1000; t += 100) tp_join_agent_do_work(a, t * MS);
    drain(obs, &c);
    CHECK(c.seq_requests == 3);
    tp_join_agent_destroy(a);

    /* Backoff: interval 100 ms doubling to 400 ms -> 0, 100, 300, 700, 1100. */
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, 10, 5);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, 1, 0);
    cfg.on_output = on_output;
    cfg.clientd = &seen;
    cfg.request_interval_ns = 100 * MS;
    cfg.request_backoff_max_ns = 400 * MS;
    CHECK(tp_join_agent_create(&cfg, &a) == 0);
    ctl_t c2 = {0};
    int sent_at[16], ns = 0;
    for (int64_t t = 0; t <= 1200; t += 10) {
        int before = c2.seq_requests;
        tp_join_agent_do_work(a, t * MS);
        drain(obs, &c2);
        if (c2.seq_requests > before && ns < 16) sent_at[ns++] = (int)t;
    }
    CHECK(ns == 5);
    if (ns == 5) CHECK(sent_at[0] == 0 && sent_at[1] == 100 && sent_at[2] == 300 && sent_at[3] == 700 && sent_at[4] == 1100);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
    tp_ipc_subscription_close(obs);
}

/* Scenario 89, JB-10.1.f: re-announce at creation, 1 s, 2 s; a ready consumer
 * stays ready (REFRESHED keeps cursors). */
static void test_reannounce_keeps_ready(void)
{
    tp_ipc_subscription_t *obs;
    CHECK(tp_ipc_subscription_open(&obs, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    tp_merge_authority_t *auth = make_authority(0, 1000 * MS);
    seen_t seen = {0};
    const uint32_t ins[1] = {1};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 1, NULL);
    tp_merge_map_t m;
    make_seq_map(&m, 10, 1, ins, 1);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1);
    ctl_t c = {0};
    int64_t t;
    int at[4], n = 0;
    for (t = 0; t <= 2500; t += 100) {
        int before = c.seq_announces;
        tp_merge_authority_do_work(auth, t * MS);
        drain(obs, &c);
        if (c.seq_announces > before && n < 4) at[n++] = (int)t;
    }
    CHECK(c.seq_announces == 3); /* t=0 (put), 1000, 2000 */
    CHECK(n == 3 && at[0] == 0 && at[1] == 1000 && at[2] == 2000);
    /* The consumer: ready before and after the refreshes. */
    tp_ipc_publication_t *desc;
    CHECK(tp_ipc_publication_open(&desc, &ctx, "tp:ipc", TP_DESCRIPTOR_STREAM_DEFAULT) == 0);
    spin(a, NULL, 2600 * MS);
    CHECK(tp_stand_in_descriptor(desc, 1, 1, 0, 1) == 0);
    spin(a, NULL, 2600 * MS);
    CHECK(seen.outputs == 1);
    tp_merge_authority_do_work(auth, 3000 * MS);
    CHECK(tp_stand_in_descriptor(desc, 1, 1, 1, 2) == 0);
    spin(a, NULL, 3000 * MS);
    CHECK(seen.outputs == 2 && seen.last_out_seq == 1);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.announces_applied == 1 && st.announces_refreshed >= 3);
    tp_ipc_publication_close(desc);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
    tp_ipc_subscription_close(obs);
}

/* Scenario 90, JB-10.3.d: an agent without the authority role publishes
 * nothing in reply to a request; schema guard (JB-14.1): other schemas and
 * short messages on the control stream are skipped. */
static void test_non_authority_and_schema_guard(void)
{
    /* A map naming a stream the agent does not follow is reported. */
    {
        seen_t s0 = {0};
        const uint32_t one[1] = {1}, two[2] = {1, 99};
        tp_join_agent_t *a0 = make_agent(TP_JOIN_MODE_SEQUENCE, &s0, 1, one, 1, NULL);
        tp_merge_authority_t *au = make_authority(0, -1);
        tp_merge_map_t m0;
        make_seq_map(&m0, 10, 1, two, 2);
        CHECK(tp_merge_authority_put(au, &m0, 0) == 1);
        spin(a0, NULL, 0);
        tp_join_agent_stats_t s1;
        tp_join_agent_stats(a0, &s1);
        CHECK(s1.announces_applied == 1 && s1.unbound_rules == 1);
        tp_join_agent_destroy(a0);
        tp_merge_authority_destroy(au);
        tp_merge_map_close(&m0);
    }
    tp_ipc_subscription_t *obs;
    CHECK(tp_ipc_subscription_open(&obs, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    seen_t seen = {0};
    const uint32_t ins[1] = {1};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 1, NULL);
    tp_merge_map_t m;
    make_seq_map(&m, 10, 1, ins, 1);
    uint8_t buf[128];
    long n = tp_merge_announce_encode(&m, 0, buf, sizeof buf);
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    tp_ipc_publication_offer(pub, buf, (size_t)n);
    spin(a, NULL, 0);
    CHECK(tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    ctl_t c = {0};
    drain(obs, &c);
    const int before = c.seq_announces;
    tp_merge_request_t r = {TP_MERGE_KIND_SEQUENCE, 10, 1};
    n = tp_merge_request_encode(&r, buf, sizeof buf);
    tp_ipc_publication_offer(pub, buf, (size_t)n);
    /* The same announce bytes with schema id 900: not ours (scenario 74). */
    long an = tp_merge_announce_encode(&m, 0, buf, sizeof buf);
    buf[4] = 0x84;
    buf[5] = 0x03;
    tp_ipc_publication_offer(pub, buf, (size_t)an);
    tp_ipc_publication_offer(pub, buf, 3); /* shorter than a header */
    spin(a, NULL, 1 * MS);
    drain(obs, &c);
    CHECK(c.seq_announces == before); /* nobody answered */
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    /* Schema 900 template 1 is a ShmPoolAnnounce to the agent: it fails that
     * decoder (counted), and the merge handler never sees it. */
    CHECK(st.malformed == 2 && st.announces_applied == 1 && st.announces_ignored == 0);
    CHECK(tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    tp_ipc_publication_close(pub);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    tp_ipc_subscription_close(obs);
}

/* Scenario 91 through the agent: a FrameDescriptor feeds seq and time at the
 * cycle's `now`; the stage gets out_time 1000 with frame 12. */
static void test_descriptor_feed_timestamp(void)
{
    tp_merge_authority_t *auth = make_authority(0, -1);
    seen_t seen = {0};
    const uint32_t ins[1] = {1};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_TIMESTAMP, &seen, 1, ins, 1, NULL);
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_TIMESTAMP, 4);
    tp_merge_map_reset(&m, 10, 1);
    tp_merge_map_add_offset_ns(&m, 1, TP_TS_SOURCE_FRAME_DESCRIPTOR, 0);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1);
    spin(a, NULL, 10);
    CHECK(tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    tp_ipc_publication_t *desc;
    CHECK(tp_ipc_publication_open(&desc, &ctx, "tp:ipc", TP_DESCRIPTOR_STREAM_DEFAULT) == 0);
    CHECK(tp_stand_in_descriptor(desc, 1, 1, 12, 1000) == 0);
    spin(a, NULL, 50);
    CHECK(seen.outputs == 1);
    CHECK_EQ_U64(seen.last_out_time, 1000);
    CHECK(seen.frames[0] == 1 && seen.frame_seq[0] == 12);
    tp_ipc_publication_close(desc);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
}

/* JB-9.1.d/e, JB-9.2.d: in a LatestValue join, an input whose selected
 * frame was overwritten is absent: no output this tick (not an output with
 * a hole), and none until that input's next observation. */
static void test_latest_overwritten_selection_is_absent(void)
{
    seen_t seen = {0};
    pair_rig_t r;
    tp_join_agent_t *a = pair_rig_open(&r, TP_JOIN_MODE_LATEST_VALUE, &seen);
    const int64_t t0 = r.t0;
    tp_stand_in_producer_t p1, p2;
    CHECK(stand_in(&p1, 1, 1, t0) == 0);
    CHECK(stand_in(&p2, 2, 1, t0) == 0);
    CHECK(tp_stand_in_producer_announce(&p1, (uint64_t)t0) == 0);
    CHECK(tp_stand_in_producer_announce(&p2, (uint64_t)t0) == 0);
    spin(a, NULL, t0);
    CHECK(tp_stand_in_producer_publish(&p1, 100, 1, 1, NULL) == 0);
    CHECK(tp_stand_in_producer_publish(&p2, 200, 1, 1, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1 && seen.frame_value[1] == 200);
    /* Stream 2's ring (8 slots) laps without descriptors: its selected frame
     * (seq 0) is gone. */
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    for (uint64_t v = 201; v < 209; v++) CHECK(tp_shm_writer_publish(&p2.w, &t, &v, sizeof v, 2, 0, NULL) == 0);
    CHECK(tp_stand_in_producer_publish(&p1, 101, 3, 3, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1); /* input 2 absent after validation: not ready (JB-9.1.e) */
    CHECK(tp_stand_in_producer_publish(&p1, 102, 4, 4, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1); /* still absent until its next observation */
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.frames_dropped >= 1);
    CHECK(tp_stand_in_producer_publish(&p2, 209, 5, 5, NULL) == 0); /* seq 9, with its descriptor */
    spin(a, NULL, t0);
    CHECK(seen.outputs == 2);
    CHECK(seen.frame_seq[1] == 9 && seen.frame_value[1] == 209 && seen.frame_value[0] == 102);
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(&p1);
    tp_stand_in_producer_close(&p2);
    pair_rig_close(&r);
}

/* JB-8.2.a/c, JB-4.1: a rule with source SLOT_HEADER takes time from the
 * slot (read once under the seqlock), not from the descriptor; the camera's
 * slot time triggers out_time, and the IMU window selects by slot time. */
static void test_slot_header_times(void)
{
    tp_merge_authority_t *auth = make_authority(0, -1);
    seen_t seen = {0};
    const uint32_t ins[2] = {1, 2};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_TIMESTAMP, &seen, 1, ins, 2, NULL);
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_TIMESTAMP, 4);
    tp_merge_map_reset(&m, 10, 1);
    tp_merge_map_add_offset_ns(&m, 1, TP_TS_SOURCE_SLOT_HEADER, 0);
    tp_merge_map_add_window_ns(&m, 2, TP_TS_SOURCE_SLOT_HEADER, 100);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1);
    const int64_t t0 = tp_clock_monotonic_ns();
    tp_stand_in_producer_t cam, imu;
    CHECK(stand_in(&cam, 1, 1, t0) == 0);
    CHECK(stand_in(&imu, 2, 1, t0) == 0);
    CHECK(tp_stand_in_producer_announce(&cam, (uint64_t)t0) == 0);
    CHECK(tp_stand_in_producer_announce(&imu, (uint64_t)t0) == 0);
    spin(a, NULL, t0);
    /* IMU: slot times 850, 900, 950 (descriptor times far off on purpose). */
    for (uint64_t i = 0; i < 3; i++) CHECK(tp_stand_in_producer_publish(&imu, 20 + i, 850 + 50 * i, 5, NULL) == 0);
    /* Camera: slot time 1000, descriptor time 7. */
    CHECK(tp_stand_in_producer_publish(&cam, 10, 1000, 7, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 0); /* IMU slot time 950 < 1000 (lateness 0, JB-8.2.i) */
    CHECK(tp_stand_in_producer_publish(&imu, 23, 1000, 5, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1);
    CHECK_EQ_U64(seen.last_out_time, 1000);
    CHECK(seen.frames[0] == 1 && seen.frame_value[0] == 10);
    CHECK(seen.frames[1] == 3 && seen.frame_seq[1] == 3 && seen.frame_value[1] == 23); /* 900, 950, 1000 */
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(&cam);
    tp_stand_in_producer_close(&imu);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
}

/* Pools announced on the control stream are mapped; the stage gets validated
 * zero-copy views (single attempt, JB-7.2.c); a descriptor of a newer input
 * epoch resets that input (§3.7) and, the map naming no input epochs, blocks
 * the sequence join until a map of a newer output epoch (join_agent.h):
 * frames of the new epoch are never paired under the old offsets. */
static void test_views_and_input_epoch(void)
{
    const uint32_t ins[2] = {1, 2};
    seen_t seen = {0};
    pair_rig_t r;
    tp_join_agent_t *a = pair_rig_open(&r, TP_JOIN_MODE_SEQUENCE, &seen);
    tp_merge_authority_t *auth = r.auth;
    const int64_t t0 = r.t0;
    tp_stand_in_producer_t p1, p2;
    CHECK(stand_in(&p1, 1, 1, t0) == 0);
    CHECK(stand_in(&p2, 2, 1, t0) == 0);
    CHECK(tp_stand_in_producer_announce(&p1, (uint64_t)t0) == 0);
    CHECK(tp_stand_in_producer_announce(&p2, (uint64_t)t0) == 0);
    spin(a, NULL, t0);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.mappings == 2);
    CHECK(tp_stand_in_producer_publish(&p1, 111, 5, 5, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 0); /* lockstep: input 2 has nothing yet */
    CHECK(tp_stand_in_producer_publish(&p2, 222, 5, 5, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1 && seen.last_out_seq == 0);
    CHECK(seen.has_view[0] && seen.has_view[1]);
    CHECK(seen.frame_value[0] == 111 && seen.frame_value[1] == 222);
    /* Input 2 restarts with epoch 2: its slot resets (observed cursor gone). */
    tp_stand_in_producer_close(&p2);
    CHECK(stand_in(&p2, 2, 2, t0) == 0);
    CHECK(tp_stand_in_producer_announce(&p2, (uint64_t)t0) == 0);
    CHECK(tp_stand_in_producer_publish(&p1, 112, 6, 6, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1); /* out 1 needs input 2 seq 1 in its new epoch */
    CHECK(tp_stand_in_producer_publish(&p2, 223, 6, 6, NULL) == 0); /* seq 0 of epoch 2 */
    CHECK(tp_stand_in_producer_publish(&p2, 224, 7, 7, NULL) == 0); /* seq 1 */
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1); /* the epoch-1 map relates no epoch-2 frame */
    tp_join_agent_status_t js;
    tp_join_agent_status(a, &js);
    CHECK(js.state == TP_JOIN_AGENT_BLOCKED && js.stream_id == 2 && js.wanted_epoch == 2);
    CHECK(strstr(js.reason, "input 2 epoch changed") != NULL);
    /* The authority's map for the new input epochs comes as epoch 2. */
    tp_merge_map_t m2;
    make_seq_map(&m2, 10, 2, ins, 2);
    CHECK(tp_merge_authority_put(auth, &m2, 0) == 1);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 1); /* no descriptor since the map: outputs restart at the newest reachable */
    CHECK(tp_stand_in_producer_publish(&p1, 113, 7, 7, NULL) == 0);
    CHECK(tp_stand_in_producer_publish(&p2, 225, 8, 8, NULL) == 0);
    spin(a, NULL, t0);
    CHECK(seen.outputs == 2 && seen.last_out_seq == 2);
    CHECK(seen.frame_value[0] == 113 && seen.frame_value[1] == 225);
    tp_join_agent_status(a, &js);
    CHECK(js.state == TP_JOIN_AGENT_FLOWING);
    tp_join_agent_stats(a, &st);
    CHECK(st.input_epoch_changes == 1 && st.mappings == 3 && st.epoch_blocks == 1);
    tp_merge_map_close(&m2);
    tp_join_agent_destroy(a); /* releases subscriptions and mappings */
    tp_stand_in_producer_close(&p1);
    tp_stand_in_producer_close(&p2);
    pair_rig_close(&r);
}

/* The driver's word naming an input epoch below the one its descriptors
 * showed first (a lease granted before the producer attached and read after
 * its first descriptors, or descriptors a forger sent with a higher epoch)
 * moves the input there, forgetting what it took, but is no input restart:
 * no producer restarted, so the map stands and the join keeps pairing. */
static void test_lower_confirmed_epoch_is_no_restart(void)
{
    seen_t seen = {0};
    pair_rig_t r;
    tp_join_agent_t *a = pair_rig_open(&r, TP_JOIN_MODE_SEQUENCE, &seen);
    tp_merge_authority_t *auth = r.auth;
    const int64_t t0 = r.t0;
    tp_stand_in_producer_t p1, p2, p2_high;
    CHECK(stand_in(&p1, 1, 1, t0) == 0);
    CHECK(stand_in(&p2, 2, 1, t0) == 0);
    CHECK(stand_in(&p2_high, 2, 5, t0) == 0);
    CHECK(tp_stand_in_producer_announce(&p1, (uint64_t)t0) == 0);
    spin(a, auth, t0);
    /* Input 2's first descriptors claim epoch 5 and are taken (provisional). */
    CHECK(tp_stand_in_producer_publish(&p2_high, 999, 1, 1, NULL) == 0);
    CHECK(tp_stand_in_producer_publish(&p2_high, 998, 2, 2, NULL) == 0);
    spin(a, auth, t0);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.descriptors >= 2 && st.descriptors_other_epoch == 0);
    /* Then the driver's word: stream 2 is in epoch 1. */
    CHECK(tp_stand_in_producer_announce(&p2, (uint64_t)t0) == 0);
    spin(a, auth, t0);
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.input_epoch_changes, 0);
    CHECK_EQ_U64(st.epoch_blocks, 0);
    CHECK(st.mappings == 2);
    CHECK(tp_stand_in_producer_publish(&p2_high, 997, 3, 3, NULL) == 0); /* now of another epoch: refused */
    CHECK(tp_stand_in_producer_publish(&p1, 111, 5, 5, NULL) == 0);
    CHECK(tp_stand_in_producer_publish(&p2, 222, 5, 5, NULL) == 0);
    spin(a, auth, t0);
    tp_join_agent_stats(a, &st);
    CHECK(st.descriptors_other_epoch >= 1);
    CHECK(seen.outputs >= 1);
    CHECK(seen.frame_value[0] == 111 && seen.frame_value[1] == 222);
    tp_join_agent_status_t js;
    tp_join_agent_status(a, &js);
    CHECK(js.state == TP_JOIN_AGENT_FLOWING);
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(&p1);
    tp_stand_in_producer_close(&p2);
    tp_stand_in_producer_close(&p2_high);
    pair_rig_close(&r);
}

/* Issue 13.10: outputs delivered before the inputs' pools are mapped (the
 * frames come before the announce, as after a start) carry no view and are
 * counted: outputs == outputs with a view for every frame (the stage's own
 * count) + outputs_without_view, and each unmapped frame is in frames_unmapped. */
static void test_outputs_without_view_are_counted(void)
{
    seen_t seen = {0};
    const uint32_t ins[2] = {1, 2};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 2, NULL);
    tp_merge_authority_t *auth = make_authority(0, -1);
    tp_merge_map_t m;
    make_seq_map(&m, 10, 1, ins, 2);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1);
    const int64_t t0 = tp_clock_monotonic_ns();
    tp_stand_in_producer_t p[2];
    for (uint32_t i = 0; i < 2; i++)
        CHECK(tp_stand_in_producer_open(&p[i], &ctx, tp_test_base, ins[i], 1, 8, TP_DESCRIPTOR_STREAM_DEFAULT,
                                        TP_CONTROL_STREAM_DEFAULT, (uint64_t)t0) == 0);
    tp_stand_in_producer_t *p1 = &p[0], *p2 = &p[1];
    spin(a, NULL, t0);
    /* three outputs before any announce: no view */
    for (uint64_t k = 0; k < 3; k++) {
        CHECK(tp_stand_in_producer_publish(p1, 100 + k, 5 + k, 5 + k, NULL) == 0);
        CHECK(tp_stand_in_producer_publish(p2, 200 + k, 5 + k, 5 + k, NULL) == 0);
        spin(a, NULL, t0);
    }
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.mappings, 0);
    CHECK_EQ_U64(st.outputs, 3);
    CHECK_EQ_U64(st.outputs_without_view, 3);
    CHECK_EQ_U64(st.frames_unmapped, 6);
    CHECK(seen.with_view == 0);
    /* announced: the next outputs carry views and are not counted */
    CHECK(tp_stand_in_producer_announce(p1, (uint64_t)t0) == 0);
    CHECK(tp_stand_in_producer_announce(p2, (uint64_t)t0) == 0);
    spin(a, NULL, t0);
    for (uint64_t k = 3; k < 5; k++) {
        CHECK(tp_stand_in_producer_publish(p1, 100 + k, 5 + k, 5 + k, NULL) == 0);
        CHECK(tp_stand_in_producer_publish(p2, 200 + k, 5 + k, 5 + k, NULL) == 0);
        spin(a, NULL, t0);
    }
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.mappings, 2);
    CHECK_EQ_U64(st.outputs, 5);
    CHECK_EQ_U64((uint64_t)seen.with_view, 2);
    CHECK_EQ_U64(st.outputs, (uint64_t)seen.with_view + st.outputs_without_view); /* they add up */
    CHECK_EQ_U64(st.frames_unmapped, 6);
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(p1);
    tp_stand_in_producer_close(p2);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
}

/* W-10.1.1.e/f: the agent maps from an announce only as a consumer would
 * (tp_pool_announce_accept): one stamped before the agent joined, or older
 * than the freshness window, maps nothing even though the files are live;
 * a fresh one maps. */
static void test_announce_acceptance(void)
{
    const int64_t before_join = tp_clock_monotonic_ns();
    seen_t seen = {0};
    const uint32_t ins[1] = {1};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 1, NULL);
    const int64_t t0 = tp_clock_monotonic_ns() + 10000000000LL; /* the agent's clock, 10 s on */
    tp_stand_in_producer_t p;
    CHECK(stand_in(&p, 1, 1, t0) == 0);
    tp_join_agent_stats_t st;
    CHECK(tp_stand_in_producer_announce(&p, (uint64_t)before_join) == 0); /* before join (and stale) */
    CHECK(tp_stand_in_producer_announce(&p, (uint64_t)(t0 - 4000000000LL)) == 0); /* after join, 4 s old */
    tp_shm_writer_heartbeat(&p.w, (uint64_t)t0); /* the files themselves are live */
    spin(a, NULL, t0);
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.mappings, 0);
    CHECK(tp_stand_in_producer_announce(&p, (uint64_t)t0) == 0);
    spin(a, NULL, t0);
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.mappings, 1);
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(&p);
}

static long lease_revoked(uint8_t *buf, size_t cap, uint32_t stream, uint8_t role, uint8_t reason)
{
    tp_driver_shm_lease_revoked_enc_t e;
    tp_driver_shm_lease_revoked_encode_begin(&e, buf, cap);
    tp_driver_shm_lease_revoked_set_timestamp_ns(&e, 1);
    tp_driver_shm_lease_revoked_set_lease_id(&e, 7);
    tp_driver_shm_lease_revoked_set_stream_id(&e, stream);
    tp_driver_shm_lease_revoked_set_client_id(&e, 3);
    tp_driver_shm_lease_revoked_set_role(&e, role);
    tp_driver_shm_lease_revoked_set_reason(&e, reason);
    tp_driver_shm_lease_revoked_put_error_message(&e, "", 0);
    return tp_driver_shm_lease_revoked_encode_end(&e);
}

/* Disconnect: ShmLeaseRevoked for an input's PRODUCER releases that input's
 * mapping (frames then carry no view); a consumer's lease, another stream or
 * an unknown reason (D-4.9.j) change nothing. The barrier keeps the input's
 * cursors, so a silent input turns stale rather than blocking (JB-7.4). */
static void test_lease_revoked_releases_mapping(void)
{
    seen_t seen = {0};
    const uint32_t ins[1] = {1};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 1, NULL);
    const int64_t t0 = tp_clock_monotonic_ns();
    tp_stand_in_producer_t p1;
    CHECK(stand_in(&p1, 1, 1, t0) == 0);
    CHECK(tp_stand_in_producer_announce(&p1, (uint64_t)t0) == 0);
    spin(a, NULL, t0);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.mappings == 1);
    uint8_t buf[128];
    long n = lease_revoked(buf, sizeof buf, 1, TP_DRIVER_ROLE_CONSUMER, TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED);
    tp_ipc_publication_offer(p1.ctl, buf, (size_t)n);
    n = lease_revoked(buf, sizeof buf, 2, TP_DRIVER_ROLE_PRODUCER, TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED);
    tp_ipc_publication_offer(p1.ctl, buf, (size_t)n);
    n = lease_revoked(buf, sizeof buf, 1, TP_DRIVER_ROLE_PRODUCER, 99);
    tp_ipc_publication_offer(p1.ctl, buf, (size_t)n);
    spin(a, NULL, t0);
    tp_join_agent_stats(a, &st);
    CHECK(st.disconnects == 0 && st.malformed == 1);
    n = lease_revoked(buf, sizeof buf, 1, TP_DRIVER_ROLE_PRODUCER, TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED);
    tp_ipc_publication_offer(p1.ctl, buf, (size_t)n);
    spin(a, NULL, t0);
    tp_join_agent_stats(a, &st);
    CHECK(st.disconnects == 1);
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(&p1);
}

/* Number of lines of /proc/self/maps naming a file under the test dir. */
static int maps_under_base(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) return -1;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, tp_test_base) != NULL) n++;
    fclose(f);
    return n;
}

/* A clean close releases every subscription, publication and SHM mapping:
 * checked in a child process whose only user of the test dir is the agent. */
static void test_close_releases_everything(void)
{
    CHECK(maps_under_base() == 0); /* nothing left over from earlier tests */
    int go[2];
    CHECK(pipe(go) == 0);
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        char c;
        if (read(go[0], &c, 1) != 1) _exit(9);
        seen_t s = {0};
        const uint32_t ins[1] = {1};
        tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &s, 1, ins, 1, NULL);
        if (a == NULL) _exit(2);
        tp_join_agent_stats_t st = {0};
        for (int i = 0; i < 5000 && st.mappings == 0; i++) {
            tp_join_agent_do_work(a, tp_clock_monotonic_ns());
            tp_join_agent_stats(a, &st);
            usleep(1000);
        }
        if (st.mappings != 1) _exit(3);
        if (maps_under_base() < 3) _exit(4); /* ring, pool, transport logs */
        tp_join_agent_close(a);
        if (maps_under_base() != 0) _exit(5);
        if (tp_join_agent_do_work(a, 0) != -1) _exit(6); /* closed: an error, not a crash */
        tp_join_agent_destroy(a);
        _exit(0);
    }
    const int64_t t0 = tp_clock_monotonic_ns();
    tp_stand_in_producer_t p1;
    CHECK(stand_in(&p1, 1, 1, t0) == 0);
    CHECK(write(go[1], "g", 1) == 1);
    int status = -1;
    for (int i = 0; i < 6000; i++) { /* the child announces itself ready by mapping */
        if (i % 50 == 0) tp_stand_in_producer_announce(&p1, (uint64_t)tp_clock_monotonic_ns());
        if (waitpid(child, &status, WNOHANG) == child) break;
        usleep(1000);
    }
    if (!WIFEXITED(status)) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[0]);
    close(go[1]);
    tp_stand_in_producer_close(&p1);
}

/* JB-10.4.f, JB-10.5.a: the timestamp counterpart of scenarios 85 and 89. A
 * late TimestampJoinBarrier sends TimestampMergeMapRequest (outStreamId,
 * epoch) on the control stream; the authority answers it with a
 * TimestampMergeMapAnnounce that makes the barrier ready; and it re-announces
 * the map at its low cadence (1 s here). */
static void test_timestamp_request_answered_and_reannounced(void)
{
    tp_ipc_subscription_t *obs;
    CHECK(tp_ipc_subscription_open(&obs, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    tp_merge_authority_t *auth = make_authority(1, 1000 * MS);
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_TIMESTAMP, 4);
    tp_merge_map_reset(&m, 10, 1);
    tp_merge_map_add_offset_ns(&m, 1, TP_TS_SOURCE_FRAME_DESCRIPTOR, 0);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1); /* before the joiner exists */
    ctl_t c = {0};
    drain(obs, &c);
    CHECK(c.ts_announces == 1);
    seen_t seen = {0};
    const uint32_t ins[1] = {1};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_TIMESTAMP, &seen, 1, ins, 1, NULL);
    CHECK(a != NULL);
    if (a == NULL) return;
    tp_join_agent_do_work(a, 0);
    drain(obs, &c);
    CHECK(c.ts_requests == 1 && c.seq_requests == 0);
    CHECK(c.last_req.kind == TP_MERGE_KIND_TIMESTAMP && c.last_req.out_stream_id == 10 && c.last_req.epoch == 1);
    CHECK(!tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    spin(a, auth, 1 * MS);
    CHECK(tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    drain(obs, &c);
    CHECK(c.ts_announces == 2); /* creation + the answer */
    tp_merge_authority_stats_t st;
    tp_merge_authority_stats(auth, &st);
    CHECK(st.requests_answered == 1);
    int at[4], n = 0;
    for (int64_t t = 100; t <= 2500; t += 100) {
        const int before = c.ts_announces;
        tp_merge_authority_do_work(auth, t * MS);
        drain(obs, &c);
        if (c.ts_announces > before && n < 4) at[n++] = (int)t;
    }
    CHECK(n == 2 && at[0] == 1000 && at[1] == 2000);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
    tp_ipc_subscription_close(obs);
}

/* Bad configuration is an error, never a crash. */
static void test_bad_config(void)
{
    tp_join_agent_config_t cfg;
    tp_join_agent_t *a = NULL;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, 10, 1);
    cfg.ipc = &ctx;
    CHECK(tp_join_agent_create(&cfg, &a) == -1 && a == NULL); /* no callback, no inputs */
    cfg.on_output = on_output;
    CHECK(tp_join_agent_create(&cfg, &a) == -1);
    CHECK(tp_join_agent_config_add_input(&cfg, 0, 0) == -1);
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 1, 0);
    CHECK(tp_join_agent_create(&cfg, &a) == -1); /* duplicate input */
    cfg.input_count = 1;
    cfg.history = 100;
    CHECK(tp_join_agent_create(&cfg, &a) == -1);
    cfg.history = 0;
    cfg.barrier.out_stream_id = 0;
    CHECK(tp_join_agent_create(&cfg, &a) == -1);
    CHECK(tp_join_agent_do_work(NULL, 0) == -1);
    tp_join_agent_destroy(NULL);
    tp_merge_authority_destroy(NULL);
    CHECK(tp_merge_authority_create(NULL, NULL) == -1);
}

/* MergeMaps from one publication only (join_agent.h): the first one a valid
 * map came from is pinned; a forged announce from another (other offsets at
 * the same epoch, or a higher epoch) is refused, counted and changes
 * nothing, so the authority's next epoch is applied, not "stale". Once the
 * pinned authority has been silent past authority_timeout_ns another
 * publication takes over with its own epoch history. The next-epoch request
 * a join sends after an input epoch change is queued for the authority's
 * owner (tp_merge_authority_take_bump_request) until a put answers it. */
static void test_authority_pinned(void)
{
    tp_merge_authority_t *real = make_authority(0, -1), *forger = make_authority(0, -1);
    seen_t seen = {0};
    const uint32_t ins[2] = {1, 2};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 2, NULL);
    tp_merge_map_t m, f;
    make_seq_map(&m, 10, 1, ins, 2);
    tp_merge_map_init(&f, TP_MERGE_KIND_SEQUENCE, 8);
    CHECK(tp_merge_authority_put(real, &m, 0) == 1);
    int64_t now = 1000 * MS;
    spin(a, NULL, now);
    const tp_join_barrier_t *b = tp_join_agent_barrier(a);
    CHECK(tp_join_barrier_has_map(b));
    tp_merge_map_reset(&f, 10, 1);
    tp_merge_map_add_offset(&f, 1, 0);
    tp_merge_map_add_offset(&f, 2, 5);
    CHECK(tp_merge_authority_put(forger, &f, 0) == 1);
    spin(a, NULL, now);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.announces_refused, 1);
    CHECK_EQ_U64(st.announces_applied, 1);
    CHECK(tp_join_barrier_active_map(b) != NULL && tp_join_barrier_active_map(b)->rules[1].offset == 0);
    f.epoch = 9;
    CHECK(tp_merge_authority_put(forger, &f, 0) == 1);
    spin(a, NULL, now);
    uint64_t want = 0;
    CHECK(tp_join_barrier_expected_epoch(b, &want) && want == 1);
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.announces_refused, 2);
    m.epoch = 2; /* the authority's next epoch is taken */
    CHECK(tp_merge_authority_put(real, &m, 0) == 1);
    spin(a, NULL, now);
    CHECK(tp_join_barrier_active_map(b) != NULL && tp_join_barrier_active_map(b)->epoch == 2);
    /* silent past the timeout (5 s): another publication may take over, at a lower epoch too */
    now += 6000 * MS;
    f.epoch = 1;
    CHECK(tp_merge_authority_put(forger, &f, 0) == 1);
    spin(a, NULL, now);
    CHECK(tp_join_barrier_active_map(b) != NULL && tp_join_barrier_active_map(b)->epoch == 1 &&
          tp_join_barrier_active_map(b)->rules[1].offset == 5);
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.announces_refused, 2);
    /* the old authority is now the other one: refused */
    m.epoch = 3;
    CHECK(tp_merge_authority_put(real, &m, 0) == 1);
    spin(a, NULL, now);
    tp_join_agent_stats(a, &st);
    CHECK_EQ_U64(st.announces_refused, 3);
    /* next-epoch requests: (10, 2) against the forger's held epoch 1 is queued once, settled by a put */
    const tp_merge_request_t rq = {TP_MERGE_KIND_SEQUENCE, 10, 2};
    uint8_t rb[32];
    const long rl = tp_merge_request_encode(&rq, rb, sizeof rb);
    CHECK(tp_merge_authority_on_message(forger, rb, (size_t)rl) == 0);
    CHECK(tp_merge_authority_on_message(forger, rb, (size_t)rl) == 0);
    tp_merge_kind_t k;
    uint32_t o;
    uint64_t e;
    CHECK(tp_merge_authority_take_bump_request(forger, &k, &o, &e) == 1 && k == TP_MERGE_KIND_SEQUENCE && o == 10 &&
          e == 2);
    CHECK(tp_merge_authority_take_bump_request(forger, &k, &o, &e) == 0);
    CHECK(tp_merge_authority_on_message(forger, rb, (size_t)rl) == 0);
    f.epoch = 2;
    CHECK(tp_merge_authority_put(forger, &f, 0) == 1);
    CHECK(tp_merge_authority_take_bump_request(forger, &k, &o, &e) == 0);
    const tp_merge_request_t far = {TP_MERGE_KIND_SEQUENCE, 10, 7}; /* not the next epoch: silence, nothing queued */
    const long fl = tp_merge_request_encode(&far, rb, sizeof rb);
    CHECK(tp_merge_authority_on_message(forger, rb, (size_t)fl) == 0);
    CHECK(tp_merge_authority_take_bump_request(forger, &k, &o, &e) == 0);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(real);
    tp_merge_authority_destroy(forger);
    tp_merge_map_close(&m);
    tp_merge_map_close(&f);
}


/* Move the logs of the child's own transport directory into ours, as a group
 * member of another uid can (our directories are 0770, group root here). */
static int plant_own_logs(const char *victim)
{
    char dir[1024];
    if (tp_ipc_context_dir(&ctx, dir, sizeof dir) != 0) return -1;
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int moved = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0) continue;
        char from[1400], to[1400];
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        snprintf(to, sizeof to, "%s/%s", victim, e->d_name);
        if (rename(from, to) == 0) moved++;
    }
    closedir(d);
    return moved;
}

/* The child: uid 65534 in group root publishes, from logs it owns planted in
 * our directory, a MergeMap announce with other offsets at a higher epoch, a
 * request for the next epoch, and FrameDescriptors of a higher epoch and a
 * seq far ahead. */
static void foreign_publisher(const char *victim)
{
    if (setgroups(0, NULL) != 0 || setgid(0) != 0 || setuid(65534) != 0) _exit(3);
    tp_ipc_publication_t *ctl = NULL, *desc = NULL;
    if (tp_ipc_publication_open(&ctl, &ctx, "tp:ipc", 1000) != 0 ||
        tp_ipc_publication_open(&desc, &ctx, "tp:ipc", TP_DESCRIPTOR_STREAM_DEFAULT) != 0)
        _exit(2);
    if (plant_own_logs(victim) != 2) _exit(4);
    tp_test_sleep_ns(1500 * MS); /* the agent and the authority find the planted logs (rescans) */
    const uint32_t ins[2] = {1, 2};
    tp_merge_map_t f;
    make_seq_map(&f, 10, 7, ins, 2);
    f.rules[1].offset = 5;
    uint8_t buf[256];
    long n = tp_merge_announce_encode(&f, 8, buf, sizeof buf);
    if (n <= 0 || tp_ipc_publication_offer(ctl, buf, (size_t)n) <= 0) _exit(5);
    const tp_merge_request_t req = {TP_MERGE_KIND_SEQUENCE, 10, 2};
    n = tp_merge_request_encode(&req, buf, sizeof buf);
    if (n <= 0 || tp_ipc_publication_offer(ctl, buf, (size_t)n) <= 0) _exit(5);
    for (int k = 0; k < 2; k++) {
        tp_control_frame_descriptor_enc_t e;
        tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
        tp_control_frame_descriptor_set_stream_id(&e, 1);
        tp_control_frame_descriptor_set_epoch(&e, k == 0 ? 9 : 1);
        tp_control_frame_descriptor_set_seq(&e, k == 0 ? 0 : 1000000);
        tp_control_frame_descriptor_set_timestamp_ns(&e, 1);
        tp_control_frame_descriptor_set_meta_version(&e, 0);
        tp_control_frame_descriptor_set_trace_id(&e, 0);
        n = tp_control_frame_descriptor_encode_end(&e);
        if (n <= 0 || tp_ipc_publication_offer(desc, buf, (size_t)n) <= 0) _exit(5);
    }
    tp_merge_map_close(&f);
    _exit(0);
}

/* docs/threat-model.md: messages from transport logs another uid owns are
 * refused by the join agent (control and descriptor streams) and by the
 * MergeMap authority, counted, and change nothing. Needs root to be another
 * uid. */
static void test_foreign_uid_refused(void)
{
    if (geteuid() != 0) TP_SKIP("test_foreign_uid_refused needs root to act as another uid");
    tp_merge_authority_t *auth = make_authority(1, -1);
    seen_t seen = {0};
    const uint32_t ins[2] = {1, 2};
    tp_join_agent_t *a = make_agent(TP_JOIN_MODE_SEQUENCE, &seen, 1, ins, 2, NULL);
    tp_merge_map_t m;
    make_seq_map(&m, 10, 1, ins, 2);
    CHECK(tp_merge_authority_put(auth, &m, 0) == 1);
    int64_t now = 1000 * MS;
    spin(a, auth, now);
    const tp_join_barrier_t *b = tp_join_agent_barrier(a);
    CHECK(tp_join_barrier_has_map(b));
    char victim[1024];
    CHECK(tp_ipc_context_dir(&ctx, victim, sizeof victim) == 0);
    CHECK(chmod(tp_test_base, 0777) == 0); /* the child may create its own user's directory */
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) foreign_publisher(victim);
    CHECK(pid > 0);
    int st = -1;
    for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) == 0; i++) {
        spin(a, auth, now += 10 * MS);
        tp_test_sleep_ns(10 * MS);
    }
    for (int i = 0; i < 20; i++) {
        spin(a, auth, now += 10 * MS);
        tp_test_sleep_ns(10 * MS);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    (void)chmod(tp_test_base, 0700);
    tp_join_agent_stats_t js;
    tp_join_agent_stats(a, &js);
    tp_merge_authority_stats_t as;
    tp_merge_authority_stats(auth, &as);
    CHECK(js.control_foreign >= 2);     /* the announce and the request */
    CHECK_EQ_U64(js.descriptors_foreign, 2);
    CHECK(as.refused_foreign >= 2);
    CHECK_EQ_U64(as.bump_requests, 0);  /* the request was not taken */
    CHECK_EQ_U64(js.announces_refused, 0); /* refused before anything was read */
    CHECK_EQ_U64(js.announces_applied, 1);
    CHECK_EQ_U64(js.descriptors, 0); /* not even looked at */
    CHECK_EQ_U64(js.descriptors_other_epoch + js.descriptors_not_in_slot + js.descriptors_replayed, 0);
    CHECK(tp_join_barrier_active_map(b) != NULL && tp_join_barrier_active_map(b)->epoch == 1 &&
          tp_join_barrier_active_map(b)->rules[1].offset == 0);
    tp_merge_map_close(&m);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
}

int main(void)
{
    tp_test_dir_setup(&ctx);
    /* Duty cycles are counted and time is synthetic here, so each poll
     * does the transport's upkeep itself (TP_IPC_CONDUCTOR_CALLER) and finds
     * new publications at once; the default conductor thread does it on
     * its own time (test_ipc_conductor, and every multi-process test). */
    ctx.conductor = TP_IPC_CONDUCTOR_CALLER;
    RUN(test_late_join_by_request);
    RUN(test_authority_exact_key);
    RUN(test_request_retry_and_backoff);
    RUN(test_reannounce_keeps_ready);
    RUN(test_non_authority_and_schema_guard);
    RUN(test_descriptor_feed_timestamp);
    RUN(test_views_and_input_epoch);
    RUN(test_outputs_without_view_are_counted);
    RUN(test_announce_acceptance);
    RUN(test_slot_header_times);
    RUN(test_latest_overwritten_selection_is_absent);
    RUN(test_lower_confirmed_epoch_is_no_restart);
    RUN(test_lease_revoked_releases_mapping);
    RUN(test_close_releases_everything);
    RUN(test_timestamp_request_answered_and_reannounced);
    RUN(test_bad_config);
    RUN(test_authority_pinned);
    RUN(test_foreign_uid_refused);
    tp_test_dir_cleanup();
    TP_TEST_END();
}
