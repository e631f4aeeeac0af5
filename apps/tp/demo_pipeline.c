/* tp demo's pipeline: driver, synthetic producers, authority and joins in one
 * process (see demo_pipeline.h). Everything here uses only the public API a
 * library user has; the demo-specific part is the synthetic sources and the
 * bookkeeping the status lines print. */
#include "demo_pipeline.h"

#include "tensorpool/agent.h"
#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/producer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What every synthetic frame starts with, so the joins can check which
 * capture tick a frame belongs to. */
typedef struct demo_stamp_s {
    uint64_t tick;
    uint64_t capture_ns;
} demo_stamp_t;

typedef struct demo_source_s {
    const char *name;
    uint32_t stream_id;
    int64_t period_ns;
    uint64_t first_tick;   /* ticks before this are skipped (camera 2's lag) */
    uint32_t frame_bytes;
    tp_tensor_header_t tensor;
    tp_producer_t *producer;
    tp_agent_runner_t runner;
    int running;
    const _Atomic int64_t *t0; /* shared start time; 0 until go */
    const _Atomic int64_t *end; /* ticks due at or after this are not published; 0: none */
    _Atomic uint64_t tick; /* next tick to publish */
    _Atomic int active;
    _Atomic uint64_t epoch;
    _Atomic uint64_t published;
    _Atomic uint64_t failed;
} demo_source_t;

typedef struct demo_join_s {
    const char *name;
    tp_join_agent_t *agent;
    pthread_mutex_t lock; /* guards stats: written by the stage thread, read by main */
    demo_join_stats_t stats;
} demo_join_t;

struct demo_pipeline_s {
    demo_options_t opt;
    tp_client_context_t cctx;
    tp_ipc_context_t ipc;
    tp_driver_config_t dcfg;
    tp_driver_embedded_t *driver;
    tp_merge_authority_t *authority;
    tp_merge_map_t seq_map, ts_map;
    demo_join_t join[DEMO_JOINS];
    tp_agent_runner_t stage_runner;
    int stage_running;
    demo_source_t src[DEMO_SOURCES];
    _Atomic int64_t t0;
    _Atomic int64_t end;
};

/* ---- synthetic producers ---------------------------------------------- */

static int source_publish(demo_source_t *s, uint64_t tick, uint64_t capture_ns)
{
    tp_shm_claim_t c;
    if (tp_producer_claim(s->producer, &s->tensor, s->frame_bytes, &c) != 0) return -1;
    /* A cheap synthetic image: a byte pattern that changes every frame. */
    memset(c.payload + sizeof(demo_stamp_t), (int)(tick & 0xff), s->frame_bytes - sizeof(demo_stamp_t));
    const demo_stamp_t st = {tick, capture_ns};
    memcpy(c.payload, &st, sizeof st);
    return tp_producer_commit(s->producer, &c, capture_ns);
}

static int source_do_work(void *state, const tp_cached_clock_t *clock)
{
    demo_source_t *s = state;
    const int64_t now = tp_cached_clock_monotonic_ns(clock);
    int work = tp_producer_do_work(s->producer, now);
    if (work < 0) work = 0;
    const int active = tp_producer_is_active(s->producer);
    atomic_store_explicit(&s->active, active, memory_order_relaxed);
    atomic_store_explicit(&s->epoch, tp_producer_epoch(s->producer), memory_order_relaxed);
    const int64_t t0 = atomic_load_explicit(s->t0, memory_order_acquire);
    if (t0 == 0 || !active) return work;
    const int64_t end = atomic_load_explicit(s->end, memory_order_acquire);
    /* Publish every tick that is due, late ones too (at most 4 per cycle):
     * skipping a tick would break the cameras' seq correspondence. At the
     * end every source stops at the same tick for the same reason. */
    for (int n = 0; n < 4; n++) {
        const uint64_t tick = atomic_load_explicit(&s->tick, memory_order_relaxed);
        const int64_t due = t0 + (int64_t)tick * s->period_ns;
        if (now < due || (end != 0 && due >= end)) break;
        if (tick >= s->first_tick) {
            if (source_publish(s, tick, (uint64_t)due) == 0)
                atomic_fetch_add_explicit(&s->published, 1, memory_order_relaxed);
            else
                atomic_fetch_add_explicit(&s->failed, 1, memory_order_relaxed);
        }
        atomic_store_explicit(&s->tick, tick + 1, memory_order_release);
        work++;
    }
    return work;
}

static int source_start(demo_pipeline_t *p, demo_source_t *s, const char *name, uint32_t stream_id,
                        int64_t period_ns, uint64_t first_tick, uint32_t frame_bytes)
{
    s->name = name;
    s->stream_id = stream_id;
    s->period_ns = period_ns;
    s->first_tick = first_tick;
    s->frame_bytes = frame_bytes;
    s->t0 = &p->t0;
    s->end = &p->end;
    /* Cameras: HxWx3 bytes when the size allows, else a flat byte tensor. */
    int32_t dims[3];
    unsigned nd = 1;
    dims[0] = (int32_t)frame_bytes;
    if (stream_id != DEMO_STREAM_IMU && frame_bytes % (640 * 3) == 0) {
        dims[0] = (int32_t)(frame_bytes / (640 * 3));
        dims[1] = 640;
        dims[2] = 3;
        nd = 3;
    }
    if (tp_tensor_header_init(&s->tensor, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, nd, dims) != 0) return -1;
    if (tp_producer_open(&s->producer, &p->cctx, stream_id, 0, name, "tp demo synthetic source") != 0)
        return tp_err_wrap("producer %s", name);
    const tp_agent_t agent = {.name = name, .state = s, .do_work = source_do_work};
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 0, 2, 100000, 500000);
    if (tp_agent_runner_init(&s->runner, &agent, &idle) != 0 || tp_agent_runner_start(&s->runner) != 0)
        return tp_err_wrap("producer %s runner", name);
    s->running = 1;
    return 0;
}

/* ---- join stages ------------------------------------------------------ */

/* Newest FrameDescriptor time of the delivered frames: the descriptor is sent
 * right after the commit, so this is the last required input's commit. */
static uint64_t newest_commit(const tp_join_output_t *out)
{
    uint64_t newest = 0;
    for (uint32_t i = 0; i < out->input_count; i++)
        for (uint32_t k = 0; k < out->inputs[i].frame_count; k++) {
            const uint64_t t = out->inputs[i].frames[k].timestamp_ns;
            if (t != UINT64_MAX && t > newest) newest = t;
        }
    return newest;
}

/* Read a frame's stamp; 0 when it has no view or was overwritten meanwhile. */
static int read_stamp(const tp_join_frame_t *f, demo_stamp_t *st)
{
    if (!f->has_view || f->view.payload == NULL) return 0;
    memcpy(st, f->view.payload, sizeof *st);
    return tp_join_frame_still_valid(f);
}

static void on_seq_output(void *clientd, const tp_join_output_t *out)
{
    demo_join_t *j = clientd;
    const int64_t now = tp_clock_monotonic_ns();
    demo_stamp_t a, b;
    const int ok = out->input_count == 2 && out->inputs[0].frame_count == 1 && out->inputs[1].frame_count == 1 &&
                   read_stamp(&out->inputs[0].frames[0], &a) && read_stamp(&out->inputs[1].frames[0], &b);
    const uint64_t commit = newest_commit(out);
    pthread_mutex_lock(&j->lock);
    j->stats.outputs++;
    if (!ok)
        j->stats.incomplete++;
    else if (a.tick != b.tick)
        j->stats.misaligned++; /* both cameras captured frame N at the same tick */
    if (commit != 0) tp_latency_hist_record(&j->stats.latency, now - (int64_t)commit);
    pthread_mutex_unlock(&j->lock);
}

static void on_ts_output(void *clientd, const tp_join_output_t *out)
{
    demo_join_t *j = clientd;
    const int64_t now = tp_clock_monotonic_ns();
    demo_stamp_t cam;
    const int ok = out->input_count == 2 && out->inputs[0].frame_count == 1 &&
                   read_stamp(&out->inputs[0].frames[0], &cam) && out->inputs[1].frame_count > 0;
    const uint64_t commit = newest_commit(out);
    pthread_mutex_lock(&j->lock);
    j->stats.outputs++;
    if (!ok) j->stats.incomplete++;
    j->stats.window_frames += out->input_count == 2 ? out->inputs[1].frame_count : 0;
    if (commit != 0) tp_latency_hist_record(&j->stats.latency, now - (int64_t)commit);
    pthread_mutex_unlock(&j->lock);
}

/* The stage agent: authority and both joins in one duty cycle, then the
 * counters main prints are copied under the lock. */
static int stage_do_work(void *state, const tp_cached_clock_t *clock)
{
    demo_pipeline_t *p = state;
    const int64_t now = tp_cached_clock_monotonic_ns(clock);
    int work = 0, w;
    if ((w = tp_merge_authority_do_work(p->authority, now)) > 0) work += w;
    for (int i = 0; i < DEMO_JOINS; i++) {
        demo_join_t *j = &p->join[i];
        if ((w = tp_join_agent_do_work(j->agent, now)) > 0) work += w;
        tp_join_agent_stats_t st;
        tp_join_agent_stats(j->agent, &st);
        const int has_map = tp_join_barrier_has_map(tp_join_agent_barrier(j->agent));
        pthread_mutex_lock(&j->lock);
        j->stats.outputs_waited = st.outputs_waited;
        j->stats.frames_dropped = st.frames_dropped;
        j->stats.has_map = has_map;
        j->stats.inputs_mapped = st.mappings;
        pthread_mutex_unlock(&j->lock);
    }
    return work;
}

static void stage_on_close(void *state)
{
    demo_pipeline_t *p = state;
    for (int i = 0; i < DEMO_JOINS; i++) tp_join_agent_close(p->join[i].agent);
}

static int join_create(demo_pipeline_t *p, int idx, const char *name, tp_join_mode_t mode, uint32_t out_stream,
                       uint32_t in1, uint32_t in2, tp_join_stage_fn fn)
{
    demo_join_t *j = &p->join[idx];
    j->name = name;
    j->stats.name = name;
    j->stats.out_stream_id = out_stream;
    tp_latency_hist_reset(&j->stats.latency);
    pthread_mutex_init(&j->lock, NULL);
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, mode, out_stream, 1);
    cfg.ipc = &p->ipc;
    tp_join_agent_config_add_input(&cfg, in1, 0);
    tp_join_agent_config_add_input(&cfg, in2, 0);
    cfg.shm_base_dir = p->opt.dir;
    cfg.attach_via_driver = 1; /* a CONSUMER lease per input: the driver (and tp stat) see the joins */
    cfg.client = &p->cctx;
    cfg.max_frames_per_input = 32;
    cfg.first_out_seq = 0; /* raised to 2 by the -2 offset (JB-6.2.1.c) */
    cfg.request_interval_ns = 100000000;
    cfg.on_output = fn;
    cfg.clientd = j;
    cfg.authority = p->authority; /* answers map requests this join sees */
    if (tp_join_agent_create(&cfg, &j->agent) != 0) return tp_err_wrap("join %s", name);
    return 0;
}

/* ---- driver ----------------------------------------------------------- */

static int driver_start(demo_pipeline_t *p)
{
    char toml[1024];
    const uint32_t stride = (p->opt.frame_bytes + 63u) & ~63u;
    snprintf(toml, sizeof toml,
             "[driver]\ninstance_id = \"tp-demo\"\n"
             "[profiles.camera]\nheader_nslots = 16\npayload_pools = [ { pool_id = 1, stride_bytes = %u } ]\n"
             "[profiles.imu]\nheader_nslots = 512\npayload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
             "[streams.cam1]\nstream_id = %u\nprofile = \"camera\"\n"
             "[streams.cam2]\nstream_id = %u\nprofile = \"camera\"\n"
             "[streams.imu]\nstream_id = %u\nprofile = \"imu\"\n",
             stride, DEMO_STREAM_CAM1, DEMO_STREAM_CAM2, DEMO_STREAM_IMU);
    tp_driver_config_defaults(&p->dcfg);
    if (tp_driver_config_parse(&p->dcfg, toml, strlen(toml)) != 0 || tp_driver_config_apply_env(&p->dcfg, NULL) != 0 ||
        tp_driver_config_set(&p->dcfg, "shm.base_dir", p->opt.dir) != 0 ||
        tp_driver_config_validate(&p->dcfg) != 0)
        return tp_err_wrap("driver configuration");
    if (tp_driver_embedded_start(&p->driver, &p->dcfg) != 0) return -1; /* the message names the driver */
    return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

int demo_pipeline_start(demo_pipeline_t **out, const demo_options_t *opt)
{
    *out = NULL;
    demo_pipeline_t *p = calloc(1, sizeof *p);
    if (p == NULL) return tp_err_set(TP_ERR_CAPACITY, "out of memory");
    p->opt = *opt;
    *out = p;

    tp_client_context_init(&p->cctx);
    snprintf(p->cctx.base_dir, sizeof p->cctx.base_dir, "%s", opt->dir);
    tp_ipc_context_init(&p->ipc);
    p->ipc.base_dir = p->opt.dir;
    p->ipc.namespace_name = p->cctx.ns;
    if (driver_start(p) != 0) return -1;

    /* MergeMaps, held by an authority co-located with the joins. Sequence:
     * output N = camera 1 frame N + camera 2 frame N-2 (camera 2 is two
     * frames late). Timestamp: the camera frame at T plus the IMU samples of
     * one camera period before it, with a lateness budget. */
    const int64_t cam_period = (int64_t)(1e9 / opt->rate_hz);
    if (tp_merge_map_init(&p->seq_map, TP_MERGE_KIND_SEQUENCE, 2) != 0 ||
        tp_merge_map_init(&p->ts_map, TP_MERGE_KIND_TIMESTAMP, 2) != 0)
        return -1;
    tp_merge_map_reset(&p->seq_map, DEMO_OUT_SEQ, 1);
    tp_merge_map_add_offset(&p->seq_map, DEMO_STREAM_CAM1, 0);
    tp_merge_map_add_offset(&p->seq_map, DEMO_STREAM_CAM2, -DEMO_CAM2_LAG);
    tp_merge_map_reset(&p->ts_map, DEMO_OUT_TS, 1);
    tp_merge_map_set_clock(&p->ts_map, TP_CLOCK_MONOTONIC, (uint64_t)opt->lateness_ns);
    /* Capture times from the slot headers: the cameras' and the IMU's ticks share one clock. */
    tp_merge_map_add_offset_ns(&p->ts_map, DEMO_STREAM_CAM1, TP_TS_SOURCE_SLOT_HEADER, 0);
    tp_merge_map_add_window_ns(&p->ts_map, DEMO_STREAM_IMU, TP_TS_SOURCE_SLOT_HEADER, (uint64_t)cam_period);

    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    acfg.ipc = &p->ipc;
    acfg.subscribe = 0; /* requests reach it through the join agents' subscriptions */
    if (tp_merge_authority_create(&acfg, &p->authority) != 0) return tp_err_wrap("authority");
    const int64_t now = tp_clock_monotonic_ns();
    if (tp_merge_authority_put(p->authority, &p->seq_map, now) < 0 ||
        tp_merge_authority_put(p->authority, &p->ts_map, now) < 0)
        return tp_err_wrap("authority");

    if (source_start(p, &p->src[DEMO_CAM1], "cam1", DEMO_STREAM_CAM1, cam_period, 0, opt->frame_bytes) != 0 ||
        source_start(p, &p->src[DEMO_CAM2], "cam2", DEMO_STREAM_CAM2, cam_period, DEMO_CAM2_LAG, opt->frame_bytes) != 0 ||
        source_start(p, &p->src[DEMO_IMU], "imu", DEMO_STREAM_IMU, cam_period / 10, 0, 64) != 0)
        return -1;
    return 0;
}

/* The joins attach (a CONSUMER lease per input) once the producers hold
 * theirs, so the leases grant the epochs the frames will be written in. */
static int stage_start(demo_pipeline_t *p)
{
    if (join_create(p, DEMO_SEQ_JOIN, "seq-join", TP_JOIN_MODE_SEQUENCE, DEMO_OUT_SEQ, DEMO_STREAM_CAM1,
                    DEMO_STREAM_CAM2, on_seq_output) != 0 ||
        join_create(p, DEMO_TS_JOIN, "ts-join", TP_JOIN_MODE_TIMESTAMP, DEMO_OUT_TS, DEMO_STREAM_CAM1, DEMO_STREAM_IMU,
                    on_ts_output) != 0)
        return -1;
    const tp_agent_t stage = {.name = "join-stage", .state = p, .do_work = stage_do_work, .on_close = stage_on_close};
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 50, 10, 50000, 500000);
    if (tp_agent_runner_init(&p->stage_runner, &stage, &idle) != 0 || tp_agent_runner_start(&p->stage_runner) != 0)
        return tp_err_wrap("join stage runner");
    p->stage_running = 1;
    return 0;
}

int demo_pipeline_go(demo_pipeline_t *p, int64_t timeout_ns)
{
    const int64_t deadline = tp_clock_monotonic_ns() + timeout_ns;
    for (;;) {
        int waiting = -1;
        for (int i = 0; i < DEMO_SOURCES && waiting < 0; i++)
            if (!atomic_load(&p->src[i].active)) waiting = i;
        if (waiting < 0) break;
        if (tp_clock_monotonic_ns() >= deadline) {
            tp_agent_runner_stop(&p->src[waiting].runner); /* its client is ours to read now */
            const char *msg = "";
            const int32_t code = tp_driver_client_last_code(tp_producer_driver_client(p->src[waiting].producer), &msg);
            return tp_err_set(TP_ERR_STATE, "producer %s did not attach to the driver within %.1f s%s%s",
                              p->src[waiting].name, (double)timeout_ns / 1e9, code >= 0 ? ": " : "",
                              code >= 0 ? msg : "");
        }
        const struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    if (stage_start(p) != 0) return -1;
    /* Frames published before a join has its MergeMap and both inputs mapped
     * are frames it can not place: wait for that. */
    for (;;) {
        int missing = -1;
        for (int i = 0; i < DEMO_JOINS && missing < 0; i++) {
            pthread_mutex_lock(&p->join[i].lock);
            if (!p->join[i].stats.has_map || p->join[i].stats.inputs_mapped < 2) missing = i;
            pthread_mutex_unlock(&p->join[i].lock);
        }
        if (missing < 0) break;
        if (tp_clock_monotonic_ns() >= deadline)
            return tp_err_set(TP_ERR_STATE, "%s did not %s within %.1f s", p->join[missing].name,
                              p->join[missing].stats.has_map ? "map both inputs" : "receive its MergeMap",
                              (double)timeout_ns / 1e9);
        const struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    /* Start on a common tick a little ahead, so both cameras publish tick 0. */
    atomic_store_explicit(&p->t0, tp_clock_monotonic_ns() + 20000000, memory_order_release);
    return 0;
}

void demo_pipeline_snapshot(demo_pipeline_t *p, demo_snapshot_t *out)
{
    out->now_ns = tp_clock_monotonic_ns();
    for (int i = 0; i < DEMO_SOURCES; i++) {
        demo_source_t *s = &p->src[i];
        out->src[i].name = s->name;
        out->src[i].stream_id = s->stream_id;
        out->src[i].active = atomic_load(&s->active);
        out->src[i].epoch = atomic_load(&s->epoch);
        out->src[i].published = atomic_load(&s->published);
        out->src[i].failed = atomic_load(&s->failed);
    }
    for (int i = 0; i < DEMO_JOINS; i++) {
        pthread_mutex_lock(&p->join[i].lock);
        out->join[i] = p->join[i].stats;
        pthread_mutex_unlock(&p->join[i].lock);
    }
}

void demo_pipeline_quiesce(demo_pipeline_t *p, int64_t drain_ns)
{
    /* Let every source publish exactly the ticks due before now (up to 1 s
     * for a stalled thread to catch up), then stop them. */
    const int64_t end = tp_clock_monotonic_ns();
    atomic_store_explicit(&p->end, end, memory_order_release);
    const int64_t t0 = atomic_load(&p->t0);
    for (int i = 0; i < DEMO_SOURCES && t0 != 0; i++) {
        demo_source_t *s = &p->src[i];
        for (int k = 0; k < 1000 && s->running && atomic_load(&s->active); k++) {
            if (t0 + (int64_t)atomic_load(&s->tick) * s->period_ns >= end) break;
            const struct timespec ms1 = {0, 1000000};
            nanosleep(&ms1, NULL);
        }
    }
    for (int i = 0; i < DEMO_SOURCES; i++)
        if (p->src[i].running) tp_agent_runner_stop(&p->src[i].runner);
    /* Drain: until the joins' outputs have not moved for 100 ms (a loaded
     * machine may need longer), at most drain_ns. */
    const int64_t deadline = tp_clock_monotonic_ns() + drain_ns;
    uint64_t last = UINT64_MAX;
    int64_t quiet_since = tp_clock_monotonic_ns();
    for (int64_t now; (now = tp_clock_monotonic_ns()) < deadline;) {
        uint64_t total = 0;
        for (int i = 0; i < DEMO_JOINS; i++) {
            pthread_mutex_lock(&p->join[i].lock);
            total += p->join[i].stats.outputs;
            pthread_mutex_unlock(&p->join[i].lock);
        }
        if (total != last) {
            last = total;
            quiet_since = now;
        } else if (now - quiet_since >= 100000000) {
            break;
        }
        const struct timespec ms10 = {0, 10000000};
        nanosleep(&ms10, NULL);
    }
}

void demo_pipeline_stop(demo_pipeline_t *p)
{
    if (p == NULL) return;
    for (int i = 0; i < DEMO_SOURCES; i++)
        if (p->src[i].running) tp_agent_runner_stop(&p->src[i].runner); /* idempotent */
    for (int i = 0; i < DEMO_SOURCES; i++) tp_producer_close(p->src[i].producer);
    if (p->stage_running) tp_agent_runner_stop(&p->stage_runner);
    for (int i = 0; i < DEMO_JOINS; i++) {
        if (p->join[i].name == NULL) continue;
        tp_join_agent_destroy(p->join[i].agent);
        pthread_mutex_destroy(&p->join[i].lock);
    }
    tp_merge_authority_destroy(p->authority);
    tp_merge_map_close(&p->seq_map);
    tp_merge_map_close(&p->ts_map);
    tp_driver_embedded_stop(p->driver);
    free(p);
}
