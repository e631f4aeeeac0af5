/* tp demo's pipeline: one process per role (see demo_pipeline.h). Everything
 * the roles do uses only the public API a library user has; the demo-specific
 * parts are the synthetic sources, the process handling and the stats page. */
#include "demo_pipeline.h"
#include "demo_meta.h"
#include "stop_signal.h"

#include "tensorpool/agent.h"
#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/join_trace.h"
#include "tensorpool/merge_map_aligner.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/producer.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What every synthetic frame starts with, so the joins can check which
 * capture tick a frame belongs to. */
typedef struct demo_stamp_s {
    uint64_t tick;
    uint64_t capture_ns;
} demo_stamp_t;

/* ---- the stats page ----------------------------------------------------
 * MAP_SHARED|MAP_ANONYMOUS, created before the fork, so every child has it
 * at the same address. Each field has one writer (the child of its role, or
 * the parent for the control words); everything is atomic. */

/* A latency histogram published under a seqlock (the writer copies its
 * private histogram in; readers retry while a copy is in progress). */
typedef struct demo_shared_hist_s {
    _Atomic uint64_t seq; /* odd while the writer copies */
    _Atomic uint64_t count, max_ns, sum_ns;
    _Atomic uint32_t bucket[TP_LATENCY_BUCKETS];
} demo_shared_hist_t;

typedef struct demo_shared_source_s {
    _Atomic int active;
    _Atomic uint64_t epoch;
    _Atomic uint64_t leases; /* epochs granted to it so far: a re-attach adds one */
    _Atomic uint64_t published;
    _Atomic uint64_t failed;
    _Atomic uint64_t tick; /* next tick to publish */
} demo_shared_source_t;

typedef struct demo_shared_join_s {
    _Atomic int has_map;
    _Atomic uint64_t inputs_mapped;
    _Atomic uint64_t outputs;
    _Atomic uint64_t outputs_waited;
    _Atomic uint64_t frames_dropped;
    _Atomic uint64_t outputs_with_view;
    _Atomic uint64_t outputs_without_view;
    _Atomic uint64_t incomplete;
    _Atomic uint64_t misaligned;
    _Atomic uint64_t window_frames;
    _Atomic uint64_t refused;        /* announces refused: not from the authority's publication */
    _Atomic uint64_t epoch_blocks;   /* maps dropped because an input moved to a new epoch */
    _Atomic uint64_t input_restarts; /* inputs seen moving to a new epoch after frames were taken */
    _Atomic uint64_t desc_other_epoch, desc_not_in_slot, desc_replayed, foreign; /* descriptors refused */
    _Atomic int state;               /* tp_join_agent_state_t, while the sources run */
    _Atomic uint32_t state_stream;   /* the input the state names */
    _Atomic int longest_state;       /* state and reason of the longest stretch not flowing */
    _Atomic int longest_epoch_change;
    _Atomic uint32_t longest_stream;
    _Atomic uint64_t not_flowing_ns; /* time not flowing between go and end, in total */
    _Atomic uint64_t longest_ns;     /* the longest such stretch */
    _Atomic uint64_t stretches;
    _Atomic uint32_t intrinsics;     /* camera inputs whose intrinsics blob arrived (demo_meta.c) */
    demo_shared_hist_t latency;
} demo_shared_join_t;

typedef struct demo_shared_s {
    /* written by the parent */
    _Atomic int driver_ready;  /* the embedded driver runs: the roles may attach */
    _Atomic int sources_ready; /* every producer holds its lease: the joins may attach */
    _Atomic int authority_ready; /* written by the authority: it reads both cameras */
    _Atomic uint64_t map_epochs; /* written by the authority: sequence map epochs announced */
    _Atomic int64_t t0;        /* common start tick of the sources; 0 until go */
    _Atomic int64_t end;       /* ticks due at or after this are not published; 0: none */
    /* written by the children */
    demo_shared_source_t src[DEMO_SOURCES];
    demo_shared_join_t join[DEMO_JOINS];
    demo_shared_preview_t preview;
    /* a child's reason for a non-zero exit, read by the parent after reaping it */
    char error[DEMO_ROLES][256];
} demo_shared_t;

static void hist_publish(demo_shared_hist_t *dst, const tp_latency_hist_t *src)
{
    const uint64_t s = atomic_load_explicit(&dst->seq, memory_order_relaxed);
    atomic_store_explicit(&dst->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* the odd seq is visible before any copied field */
    atomic_store_explicit(&dst->count, src->count, memory_order_relaxed);
    atomic_store_explicit(&dst->max_ns, src->max_ns, memory_order_relaxed);
    atomic_store_explicit(&dst->sum_ns, src->sum_ns, memory_order_relaxed);
    for (int i = 0; i < TP_LATENCY_BUCKETS; i++)
        atomic_store_explicit(&dst->bucket[i], src->bucket[i], memory_order_relaxed);
    atomic_store_explicit(&dst->seq, s + 2, memory_order_release);
}

static void hist_read(demo_shared_hist_t *src, tp_latency_hist_t *out)
{
    /* Bounded: a writer killed mid-copy leaves seq odd for good; then take
     * what is there (the parent reports that role as failed anyway). */
    for (int attempt = 0; attempt < 1000; attempt++) {
        const uint64_t s1 = atomic_load_explicit(&src->seq, memory_order_acquire);
        out->count = atomic_load_explicit(&src->count, memory_order_relaxed);
        out->max_ns = atomic_load_explicit(&src->max_ns, memory_order_relaxed);
        out->sum_ns = atomic_load_explicit(&src->sum_ns, memory_order_relaxed);
        for (int i = 0; i < TP_LATENCY_BUCKETS; i++)
            out->bucket[i] = atomic_load_explicit(&src->bucket[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if ((s1 & 1) == 0 && atomic_load_explicit(&src->seq, memory_order_relaxed) == s1) return;
        sched_yield();
    }
}

/* ---- the parent's view ------------------------------------------------- */

typedef struct demo_role_s {
    const char *name;
    pid_t pid;
    int reaped;
    int asked_to_stop;
    demo_role_state_t state;
    char why[320];
} demo_role_t;

struct demo_pipeline_s {
    demo_options_t opt;
    pid_t parent;
    demo_shared_t *sh;
    demo_role_t role[DEMO_ROLES];
    int roles_stopped;
    tp_driver_config_t dcfg;
    tp_driver_embedded_t *driver;
};

static const char *const role_names[DEMO_ROLES] = {"cam1", "cam2", "imu", "authority", "seq-join", "ts-join", "preview"};
static const uint32_t source_streams[DEMO_SOURCES] = {DEMO_STREAM_CAM1, DEMO_STREAM_CAM2, DEMO_STREAM_IMU};
static const uint32_t join_outs[DEMO_JOINS] = {DEMO_OUT_SEQ, DEMO_OUT_TS};

static int64_t cam_period_ns(const demo_options_t *opt) { return (int64_t)(1e9 / opt->rate_hz); }

static void sleep_ns(int64_t ns)
{
    const struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

/* ---- children: common ----------------------------------------------------
 * A child never returns into the parent's code: it ends with _exit, so no
 * exit handler or stdio buffer of the parent runs twice. It stops on SIGTERM
 * (from the parent, or from the kernel when the parent dies: PDEATHSIG). */

static void child_fail(demo_shared_t *sh, int role, const char *what)
{
    snprintf(sh->error[role], sizeof sh->error[role], "%s", what);
}

/* Wait for the parent's go-ahead flag; 0, or -1 when told to stop first. */
static int child_wait_for(const _Atomic int *flag)
{
    while (!atomic_load_explicit(flag, memory_order_acquire)) {
        if (tp_app_stop) return -1;
        sleep_ns(2000000);
    }
    return 0;
}

/* ---- synthetic producers ------------------------------------------------ */

typedef struct demo_source_s {
    const char *name;
    uint32_t stream_id;
    int64_t period_ns;
    uint64_t first_tick; /* ticks before this are skipped (camera 2's lag) */
    uint32_t frame_bytes;
    tp_tensor_header_t tensor;
    int image;           /* HxWx3 with W = DEMO_IMAGE_W: draw a picture */
    uint8_t row[2 * DEMO_IMAGE_W * 3]; /* two periods of a colour ramp, each row a window of it */
    tp_producer_t *producer;
    demo_shared_source_t *out;
    demo_shared_t *sh;
} demo_source_t;

/* Diagonal colour stripes that move one step per tick (so a viewer's
 * thumbnail shows motion): row y is the ramp shifted by y + 4 tick pixels.
 * One memcpy per row, about what a memset of the frame costs. */
static void draw_frame(demo_source_t *s, uint8_t *dst, uint64_t tick)
{
    const size_t rowb = DEMO_IMAGE_W * 3, rows = s->frame_bytes / rowb;
    for (size_t y = 0; y < rows; y++)
        memcpy(dst + y * rowb, s->row + ((y + tick * 4) % DEMO_IMAGE_W) * 3, rowb);
}

static int source_publish(demo_source_t *s, uint64_t tick, uint64_t capture_ns)
{
    tp_shm_claim_t c;
    if (tp_producer_claim(s->producer, &s->tensor, s->frame_bytes, &c) != 0) return -1;
    /* A cheap synthetic image that changes every frame (cameras), else a byte pattern. */
    if (s->image)
        draw_frame(s, c.payload, tick);
    else
        memset(c.payload + sizeof(demo_stamp_t), (int)(tick & 0xff), s->frame_bytes - sizeof(demo_stamp_t));
    const demo_stamp_t st = {tick, capture_ns};
    memcpy(c.payload, &st, sizeof st);
    return tp_producer_commit(s->producer, &c, capture_ns);
}

static int source_do_work(demo_source_t *s, int64_t now)
{
    int work = tp_producer_do_work(s->producer, now);
    if (work < 0) work = 0;
    const int active = tp_producer_is_active(s->producer);
    atomic_store_explicit(&s->out->active, active, memory_order_release);
    const uint64_t epoch = tp_producer_epoch(s->producer);
    if (active && epoch != atomic_load_explicit(&s->out->epoch, memory_order_relaxed))
        atomic_fetch_add_explicit(&s->out->leases, 1, memory_order_relaxed);
    atomic_store_explicit(&s->out->epoch, epoch, memory_order_relaxed);
    const int64_t t0 = atomic_load_explicit(&s->sh->t0, memory_order_acquire);
    if (t0 == 0 || !active) return work;
    const int64_t end = atomic_load_explicit(&s->sh->end, memory_order_acquire);
    /* Publish every tick that is due, late ones too (at most 4 per cycle):
     * skipping a tick would break the cameras' seq correspondence. At the
     * end every source stops at the same tick for the same reason. */
    for (int n = 0; n < 4; n++) {
        const uint64_t tick = atomic_load_explicit(&s->out->tick, memory_order_relaxed);
        const int64_t due = t0 + (int64_t)tick * s->period_ns;
        if (now < due || (end != 0 && due >= end)) break;
        if (tick >= s->first_tick) {
            if (source_publish(s, tick, (uint64_t)due) == 0)
                atomic_fetch_add_explicit(&s->out->published, 1, memory_order_relaxed);
            else
                atomic_fetch_add_explicit(&s->out->failed, 1, memory_order_relaxed);
        }
        atomic_store_explicit(&s->out->tick, tick + 1, memory_order_release);
        work++;
    }
    return work;
}

static int source_main(demo_pipeline_t *p, int idx)
{
    demo_source_t s = {
        .name = role_names[idx],
        .stream_id = source_streams[idx],
        .period_ns = idx == DEMO_IMU ? cam_period_ns(&p->opt) / 10 : cam_period_ns(&p->opt),
        .first_tick = idx == DEMO_CAM2 ? DEMO_CAM2_LAG : 0,
        .frame_bytes = idx == DEMO_IMU ? 64 : p->opt.frame_bytes,
        .out = &p->sh->src[idx],
        .sh = p->sh,
    };
    char msg[256];
    /* Cameras: HxWx3 bytes when the size allows, else a flat byte tensor. */
    int32_t dims[3];
    unsigned nd = 1;
    dims[0] = (int32_t)s.frame_bytes;
    if (idx != DEMO_IMU && s.frame_bytes % (DEMO_IMAGE_W * 3) == 0) {
        dims[0] = (int32_t)(s.frame_bytes / (DEMO_IMAGE_W * 3));
        dims[1] = DEMO_IMAGE_W;
        dims[2] = 3;
        nd = 3;
        s.image = 1;
        for (size_t x = 0; x < 2 * DEMO_IMAGE_W; x++) { /* camera 1 warm, camera 2 cool */
            const uint8_t v = (uint8_t)(x * 255 / (DEMO_IMAGE_W - 1) % 256);
            s.row[x * 3 + 0] = idx == DEMO_CAM1 ? v : (uint8_t)(255 - v);
            s.row[x * 3 + 1] = (uint8_t)(v / 2);
            s.row[x * 3 + 2] = idx == DEMO_CAM1 ? (uint8_t)(255 - v) : v;
        }
    }
    tp_client_context_t cctx;
    tp_client_context_init(&cctx);
    snprintf(cctx.base_dir, sizeof cctx.base_dir, "%s", p->opt.dir);
    if (tp_tensor_header_init(&s.tensor, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, nd, dims) != 0 ||
        tp_producer_open(&s.producer, &cctx, s.stream_id, 0, s.name, "tp demo synthetic source") != 0) {
        snprintf(msg, sizeof msg, "producer %s: %s", s.name, tp_errmsg());
        child_fail(p->sh, idx, msg);
        return 1;
    }
    if (demo_meta_publish(s.producer, idx != DEMO_IMU, dims, nd) != 0) {
        snprintf(msg, sizeof msg, "producer %s metadata: %s", s.name, tp_errmsg());
        child_fail(p->sh, idx, msg);
        tp_producer_close(s.producer);
        return 1;
    }
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 0, 2, 100000, 500000);
    int ever_active = 0;
    while (!tp_app_stop) {
        const int work = source_do_work(&s, tp_clock_monotonic_ns());
        ever_active |= atomic_load_explicit(&s.out->active, memory_order_relaxed);
        tp_idle_strategy_idle(&idle, work);
    }
    int rc = 0;
    if (!ever_active) {
        /* Say why it never got going: the driver's last answer, if any. */
        const char *last = "";
        const int32_t code = tp_driver_client_last_code(tp_producer_driver_client(s.producer), &last);
        snprintf(msg, sizeof msg, "producer %s never attached to the driver%s%s", s.name, code >= 0 ? ": " : "",
                 code >= 0 ? last : "");
        child_fail(p->sh, idx, msg);
        rc = 1;
    }
    tp_producer_close(s.producer);
    return rc;
}

/* ---- the MergeMap authority ---------------------------------------------
 * The sequence join's offset holds only while both cameras stay in the
 * epochs it was made for; a merge aligner (merge_map_aligner.h) reads both
 * cameras and re-derives it by capture time under a new epoch whenever one
 * re-attaches in a new epoch. */

static int authority_main(demo_pipeline_t *p)
{
    /* Sequence: output N = camera 1 frame N + camera 2 frame N-2 (camera 2
     * is two frames late). Timestamp: the camera frame at T plus the IMU
     * samples of one camera period before it, with a lateness budget. */
    const int64_t cam_period = cam_period_ns(&p->opt);
    tp_merge_map_t ts_map;
    char msg[256];
    if (tp_merge_map_init(&ts_map, TP_MERGE_KIND_TIMESTAMP, 2) != 0) {
        child_fail(p->sh, DEMO_ROLE_AUTHORITY, "out of memory");
        return 1;
    }
    tp_merge_map_reset(&ts_map, DEMO_OUT_TS, 1);
    tp_merge_map_set_clock(&ts_map, TP_CLOCK_MONOTONIC, (uint64_t)p->opt.lateness_ns);
    /* Capture times from the slot headers: the cameras' and the IMU's ticks share one clock. */
    tp_merge_map_add_offset_ns(&ts_map, DEMO_STREAM_CAM1, TP_TS_SOURCE_SLOT_HEADER, 0);
    tp_merge_map_add_window_ns(&ts_map, DEMO_STREAM_IMU, TP_TS_SOURCE_SLOT_HEADER, (uint64_t)cam_period);

    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    tp_client_context_t cctx;
    tp_client_context_init(&cctx); /* for the namespace the joins use too */
    snprintf(cctx.base_dir, sizeof cctx.base_dir, "%s", p->opt.dir);
    ipc.base_dir = p->opt.dir;
    ipc.namespace_name = cctx.ns;
    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    acfg.ipc = &ipc;
    acfg.subscribe = 1; /* its own control subscription: the joins' requests come from other processes */
    tp_merge_aligner_config_t gcfg = {.client = &cctx,
                                      .out_stream_id = DEMO_OUT_SEQ,
                                      .ref_stream_id = DEMO_STREAM_CAM1,
                                      .other_stream_id = DEMO_STREAM_CAM2,
                                      .initial_offset = -DEMO_CAM2_LAG};
    tp_merge_authority_t *a = NULL;
    tp_merge_aligner_t *al = NULL;
    int rc = 0;
    /* The cameras are read once they hold their leases (the joins wait for that too). */
    if (tp_merge_authority_create(&acfg, &a) != 0 || tp_merge_authority_put(a, &ts_map, tp_clock_monotonic_ns()) < 0 ||
        (child_wait_for(&p->sh->sources_ready) == 0 && tp_merge_aligner_create(&gcfg, a, &al) != 0)) {
        snprintf(msg, sizeof msg, "authority: %s", tp_errmsg());
        child_fail(p->sh, DEMO_ROLE_AUTHORITY, msg);
        rc = 1;
    } else if (al != NULL) {
        tp_idle_strategy_t idle;
        tp_idle_strategy_init_backoff(&idle, 0, 2, 100000, 1000000);
        while (!tp_app_stop) {
            const int64_t t = tp_clock_monotonic_ns();
            const int w = tp_merge_authority_do_work(a, t);
            const int g = tp_merge_aligner_do_work(al, t);
            if (tp_merge_aligner_ready(al)) atomic_store_explicit(&p->sh->authority_ready, 1, memory_order_release);
            atomic_store_explicit(&p->sh->map_epochs, tp_merge_aligner_maps(al), memory_order_relaxed);
            tp_idle_strategy_idle(&idle, (w > 0 ? w : 0) + (g > 0 ? g : 0));
        }
    }
    tp_merge_aligner_destroy(al);
    tp_merge_authority_destroy(a);
    tp_merge_map_close(&ts_map);
    return rc;
}

/* ---- join stages -------------------------------------------------------- */

typedef struct demo_join_s {
    demo_shared_join_t *out;
    tp_join_trace_t *trace;    /* for tp view; NULL if it could not be created */
    tp_latency_hist_t latency; /* private; published to out->latency */
    int latency_dirty;
    int64_t stretch_start;     /* not flowing since, 0: flowing */
    int64_t last_ns;
    int stretch_blocked;       /* the current stretch was blocked at some moment ... */
    int stretch_epoch_change;  /* ... by an input epoch change */
    uint32_t stretch_stream;   /* the input the first of those moments named */
} demo_join_t;

/* Account the time the join is not flowing while the sources run (between
 * go and the common end tick): total, longest stretch and its reason. */
static void track_state(demo_pipeline_t *p, demo_join_t *j, const tp_join_agent_t *agent)
{
    const int64_t now = tp_clock_monotonic_ns();
    const int64_t t0 = atomic_load_explicit(&p->sh->t0, memory_order_acquire);
    const int64_t end = atomic_load_explicit(&p->sh->end, memory_order_acquire);
    tp_join_agent_status_t st;
    tp_join_agent_status(agent, &st);
    const int running = t0 != 0 && now >= t0 && end == 0;
    atomic_store_explicit(&j->out->state, running ? (int)st.state : 0, memory_order_relaxed);
    atomic_store_explicit(&j->out->state_stream, st.stream_id, memory_order_relaxed);
    if (!running || st.state == TP_JOIN_AGENT_FLOWING) {
        j->stretch_start = 0;
        return;
    }
    if (j->stretch_start == 0) {
        j->stretch_start = now;
        j->last_ns = now;
        j->stretch_blocked = 0;
        j->stretch_epoch_change = 0;
        j->stretch_stream = st.stream_id;
        atomic_fetch_add_explicit(&j->out->stretches, 1, memory_order_relaxed);
    }
    /* A stretch is named after its most telling moment: an epoch change, else blocked, else degraded. */
    const int epoch_change = strstr(st.reason, "epoch changed") != NULL;
    if ((epoch_change && !j->stretch_epoch_change) || (st.state == TP_JOIN_AGENT_BLOCKED && !j->stretch_blocked))
        j->stretch_stream = st.stream_id;
    j->stretch_epoch_change |= epoch_change;
    j->stretch_blocked |= st.state == TP_JOIN_AGENT_BLOCKED;
    atomic_fetch_add_explicit(&j->out->not_flowing_ns, (uint64_t)(now - j->last_ns), memory_order_relaxed);
    j->last_ns = now;
    const uint64_t len = (uint64_t)(now - j->stretch_start);
    if (len > atomic_load_explicit(&j->out->longest_ns, memory_order_relaxed)) {
        atomic_store_explicit(&j->out->longest_ns, len, memory_order_relaxed);
        atomic_store_explicit(&j->out->longest_state,
                              j->stretch_blocked ? (int)TP_JOIN_AGENT_BLOCKED : (int)TP_JOIN_AGENT_DEGRADED,
                              memory_order_relaxed);
        atomic_store_explicit(&j->out->longest_epoch_change, j->stretch_epoch_change, memory_order_relaxed);
        atomic_store_explicit(&j->out->longest_stream, j->stretch_stream, memory_order_relaxed);
    }
}

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

/* The stage's own view of an output: every present input delivered frames and
 * each has a payload view. Kept apart from the agent's outputs_without_view so
 * the summary can show that the two add up to the outputs. */
static int every_frame_has_view(const tp_join_output_t *out)
{
    for (uint32_t i = 0; i < out->input_count; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        if (in->status != TP_JOIN_INPUT_READY) continue;
        if (in->frame_count == 0 || in->dropped > 0) return 0;
        for (uint32_t k = 0; k < in->frame_count; k++)
            if (!in->frames[k].has_view) return 0;
    }
    return 1;
}

static void count_output(demo_join_t *j, const tp_join_output_t *out, uint64_t commit, int64_t now)
{
    if (every_frame_has_view(out)) atomic_fetch_add_explicit(&j->out->outputs_with_view, 1, memory_order_relaxed);
    if (commit != 0) {
        tp_latency_hist_record(&j->latency, now - (int64_t)commit);
        j->latency_dirty = 1;
    }
    /* last, so a reader that sees the output also sees its classification */
    atomic_fetch_add_explicit(&j->out->outputs, 1, memory_order_release);
}

static void on_seq_output(void *clientd, const tp_join_output_t *out)
{
    demo_join_t *j = clientd;
    const int64_t now = tp_clock_monotonic_ns();
    demo_stamp_t a, b;
    const int ok = out->input_count == 2 && out->inputs[0].frame_count == 1 && out->inputs[1].frame_count == 1 &&
                   read_stamp(&out->inputs[0].frames[0], &a) && read_stamp(&out->inputs[1].frames[0], &b);
    if (!ok)
        atomic_fetch_add_explicit(&j->out->incomplete, 1, memory_order_relaxed);
    else if (a.tick != b.tick)
        atomic_fetch_add_explicit(&j->out->misaligned, 1, memory_order_relaxed); /* frame N of both: same tick */
    count_output(j, out, newest_commit(out), now);
    tp_join_trace_record(j->trace, out, now);
}

static void on_ts_output(void *clientd, const tp_join_output_t *out)
{
    demo_join_t *j = clientd;
    const int64_t now = tp_clock_monotonic_ns();
    demo_stamp_t cam;
    const int ok = out->input_count == 2 && out->inputs[0].frame_count == 1 &&
                   read_stamp(&out->inputs[0].frames[0], &cam) && out->inputs[1].frame_count > 0;
    if (!ok) atomic_fetch_add_explicit(&j->out->incomplete, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->out->window_frames, out->input_count == 2 ? out->inputs[1].frame_count : 0,
                              memory_order_relaxed);
    count_output(j, out, newest_commit(out), now);
    tp_join_trace_record(j->trace, out, now);
}

static int join_main(demo_pipeline_t *p, int idx)
{
    const int role = idx == DEMO_SEQ_JOIN ? DEMO_ROLE_SEQ_JOIN : DEMO_ROLE_TS_JOIN;
    const char *name = role_names[role];
    demo_join_t j = {.out = &p->sh->join[idx]};
    tp_latency_hist_reset(&j.latency);
    /* Attach (a CONSUMER lease per input) once the producers hold theirs, so
     * the leases grant the epochs the frames will be written in. */
    if (child_wait_for(&p->sh->sources_ready) != 0) return 0;

    tp_client_context_t cctx;
    tp_client_context_init(&cctx);
    snprintf(cctx.base_dir, sizeof cctx.base_dir, "%s", p->opt.dir);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = p->opt.dir;
    ipc.namespace_name = cctx.ns;
    tp_join_agent_config_t cfg;
    const int seq = idx == DEMO_SEQ_JOIN;
    tp_join_agent_config_init(&cfg, seq ? TP_JOIN_MODE_SEQUENCE : TP_JOIN_MODE_TIMESTAMP, join_outs[idx], 1);
    cfg.ipc = &ipc;
    tp_join_agent_config_add_input(&cfg, DEMO_STREAM_CAM1, 0);
    tp_join_agent_config_add_input(&cfg, seq ? DEMO_STREAM_CAM2 : DEMO_STREAM_IMU, 0);
    cfg.shm_base_dir = p->opt.dir;
    cfg.attach_via_driver = 1; /* a CONSUMER lease per input: the driver (and tp stat) see the joins */
    cfg.client = &cctx;
    cfg.max_frames_per_input = 32;
    cfg.first_out_seq = 0; /* raised to 2 by the -2 offset (JB-6.2.1.c) */
    cfg.request_interval_ns = 100000000; /* the map comes from the authority process */
    cfg.on_output = seq ? on_seq_output : on_ts_output;
    cfg.clientd = &j;
    /* MergeMaps only from the authority's process (forked before this one):
     * an announce from any other publisher is refused and counted. */
    cfg.authority_pid = p->role[DEMO_ROLE_AUTHORITY].pid;
    tp_join_agent_t *agent = NULL;
    if (tp_join_agent_create(&cfg, &agent) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "join %s: %s", name, tp_errmsg());
        child_fail(p->sh, role, msg);
        return 1;
    }
    /* Recent outputs for tp view (written only while a viewer watches); the
     * demo runs without if the file cannot be made. */
    if (tp_join_trace_create(&j.trace, &ipc, join_outs[idx], seq ? TP_MERGE_KIND_SEQUENCE : TP_MERGE_KIND_TIMESTAMP) != 0)
        j.trace = NULL;
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 50, 10, 50000, 500000);
    while (!tp_app_stop) {
        const int64_t t_now = tp_clock_monotonic_ns();
        const int w = tp_join_agent_do_work(agent, t_now);
        tp_join_trace_status(j.trace, agent, t_now);
        tp_join_agent_stats_t st;
        tp_join_agent_stats(agent, &st);
        atomic_store_explicit(&j.out->outputs_waited, st.outputs_waited, memory_order_relaxed);
        atomic_store_explicit(&j.out->frames_dropped, st.frames_dropped, memory_order_relaxed);
        atomic_store_explicit(&j.out->outputs_without_view, st.outputs_without_view, memory_order_relaxed);
        atomic_store_explicit(&j.out->inputs_mapped, st.mappings, memory_order_relaxed);
        atomic_store_explicit(&j.out->refused, st.announces_refused, memory_order_relaxed);
        atomic_store_explicit(&j.out->epoch_blocks, st.epoch_blocks, memory_order_relaxed);
        atomic_store_explicit(&j.out->input_restarts, st.input_epoch_changes, memory_order_relaxed);
        atomic_store_explicit(&j.out->desc_other_epoch, st.descriptors_other_epoch, memory_order_relaxed);
        atomic_store_explicit(&j.out->desc_not_in_slot, st.descriptors_not_in_slot, memory_order_relaxed);
        atomic_store_explicit(&j.out->desc_replayed, st.descriptors_replayed, memory_order_relaxed);
        atomic_store_explicit(&j.out->foreign, st.descriptors_foreign + st.control_foreign, memory_order_relaxed);
        track_state(p, &j, agent);
        atomic_store_explicit(&j.out->intrinsics, demo_meta_intrinsics_held(agent), memory_order_relaxed);
        atomic_store_explicit(&j.out->has_map, tp_join_barrier_has_map(tp_join_agent_barrier(agent)),
                              memory_order_release);
        if (j.latency_dirty) {
            hist_publish(&j.out->latency, &j.latency);
            j.latency_dirty = 0;
        }
        tp_idle_strategy_idle(&idle, w > 0 ? w : 0);
    }
    tp_join_trace_close(j.trace);
    tp_join_agent_close(agent);
    tp_join_agent_destroy(agent);
    return 0;
}

/* ---- forking the roles --------------------------------------------------- */

static void block_signals(sigset_t *old)
{
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGPIPE);
    sigprocmask(SIG_BLOCK, &all, old);
}

static _Noreturn void child_main(demo_pipeline_t *p, int role, const sigset_t *old_mask)
{
    /* Never outlive the parent: the kernel sends SIGTERM when it dies; if it
     * died before this line, the parent is already someone else. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != p->parent) _exit(1);
    char comm[16];
    snprintf(comm, sizeof comm, "tp-%s", role_names[role]);
    prctl(PR_SET_NAME, comm, 0, 0, 0); /* ps, top and /proc/PID/comm tell the roles apart */
    /* SIGTERM stops this role; Ctrl-C goes to the whole process group and is
     * the parent's to handle (it stops the roles in order); stdout belongs to
     * the parent (a reader of `tp demo | ...` sees EOF when the parent ends). */
    tp_app_catch_stop_signals(false);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    tp_app_stop = 0; /* a copy of the parent's flag */
    const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        close(devnull);
    }
    sigprocmask(SIG_SETMASK, old_mask, NULL);
    int rc = 0;
    if (child_wait_for(&p->sh->driver_ready) == 0) {
        if (role < DEMO_SOURCES)
            rc = source_main(p, role);
        else if (role == DEMO_ROLE_AUTHORITY)
            rc = authority_main(p);
        else if (role == DEMO_ROLE_PREVIEW)
            rc = demo_preview_main(p->opt.dir, DEMO_STREAM_CAM1, &p->sh->preview, p->sh->error[role],
                                   sizeof p->sh->error[role]);
        else
            rc = join_main(p, role == DEMO_ROLE_SEQ_JOIN ? DEMO_SEQ_JOIN : DEMO_TS_JOIN);
    }
    _exit(rc);
}

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

int demo_pipeline_start(demo_pipeline_t **out, const demo_options_t *opt)
{
    *out = NULL;
    demo_pipeline_t *p = calloc(1, sizeof *p);
    if (p == NULL) return tp_err_set(TP_ERR_CAPACITY, "out of memory");
    p->opt = *opt;
    p->parent = getpid();
    for (int i = 0; i < DEMO_ROLES; i++) p->role[i].name = role_names[i];
    void *page = mmap(NULL, sizeof(demo_shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        free(p);
        return tp_err_set(TP_ERR_IO, "stats page: %s", strerror(errno));
    }
    p->sh = page; /* zero-filled: every counter 0, every flag down */
    *out = p;

    /* Fork while this process has a single thread; nothing buffered may be
     * copied into the children. Signals stay blocked across the fork so a
     * child installs its own handlers before it can take one. */
    fflush(NULL);
    sigset_t old;
    block_signals(&old);
    for (int i = 0; i < DEMO_ROLES; i++) {
        const pid_t pid = fork();
        if (pid == 0) child_main(p, i, &old);
        if (pid < 0) {
            const int err = errno;
            sigprocmask(SIG_SETMASK, &old, NULL);
            return tp_err_set(TP_ERR_IO, "fork for %s: %s", role_names[i], strerror(err));
        }
        p->role[i].pid = pid;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);

    if (driver_start(p) != 0) return -1;
    atomic_store_explicit(&p->sh->driver_ready, 1, memory_order_release);
    return 0;
}

/* ---- the parent: supervising --------------------------------------------- */

static void describe_status(demo_role_t *r, int status)
{
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        snprintf(r->why, sizeof r->why, "was killed by signal %d (%s)", sig, strsignal(sig));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(r->why, sizeof r->why, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(r->why, sizeof r->why, "exited before it was asked to stop");
    }
}

/* Record how role i ended (status from waitpid). */
static void role_ended(demo_pipeline_t *p, int i, int status)
{
    demo_role_t *r = &p->role[i];
    r->reaped = 1;
    if (r->asked_to_stop && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        r->state = DEMO_ROLE_STOPPED;
        return;
    }
    r->state = DEMO_ROLE_FAILED;
    describe_status(r, status);
    /* The child's own account, if it left one (it has exited: no race). */
    const char *own = p->sh->error[i];
    if (own[0] != '\0') {
        const size_t l = strlen(r->why);
        snprintf(r->why + l, sizeof r->why - l, ": %.*s", (int)sizeof p->sh->error[i], own);
    }
}

int demo_pipeline_reap(demo_pipeline_t *p)
{
    int failed = 0;
    for (int i = 0; i < DEMO_ROLES; i++) {
        demo_role_t *r = &p->role[i];
        if (r->pid > 0 && !r->reaped) {
            int status;
            if (waitpid(r->pid, &status, WNOHANG) == r->pid) role_ended(p, i, status);
        }
        failed += r->state == DEMO_ROLE_FAILED;
    }
    return failed;
}

static int role_alive(const demo_pipeline_t *p, int i) { return p->role[i].pid > 0 && !p->role[i].reaped; }

int demo_pipeline_go(demo_pipeline_t *p, int64_t timeout_ns)
{
    const int64_t deadline = tp_clock_monotonic_ns() + timeout_ns;
    for (;;) {
        if (demo_pipeline_reap(p) > 0) return tp_err_set(TP_ERR_STATE, "a role process ended while starting");
        if (tp_app_stop) return tp_err_set(TP_ERR_STATE, "stopped by a signal while starting");
        int waiting = -1;
        for (int i = 0; i < DEMO_SOURCES && waiting < 0; i++)
            if (!atomic_load_explicit(&p->sh->src[i].active, memory_order_acquire)) waiting = i;
        if (waiting < 0) break;
        if (tp_clock_monotonic_ns() >= deadline)
            return tp_err_set(TP_ERR_STATE, "producer %s (pid %d) did not attach to the driver within %.1f s",
                              role_names[waiting], (int)p->role[waiting].pid, (double)timeout_ns / 1e9);
        sleep_ns(5000000);
    }
    atomic_store_explicit(&p->sh->sources_ready, 1, memory_order_release);
    /* Frames published before a join has its MergeMap and both inputs mapped
     * are frames it can not place: wait for that. */
    for (;;) {
        if (demo_pipeline_reap(p) > 0) return tp_err_set(TP_ERR_STATE, "a role process ended while starting");
        if (tp_app_stop) return tp_err_set(TP_ERR_STATE, "stopped by a signal while starting");
        int missing = -1;
        for (int i = 0; i < DEMO_JOINS && missing < 0; i++)
            if (!atomic_load_explicit(&p->sh->join[i].has_map, memory_order_acquire) ||
                atomic_load_explicit(&p->sh->join[i].inputs_mapped, memory_order_relaxed) < 2)
                missing = i;
        if (missing < 0 && atomic_load_explicit(&p->sh->authority_ready, memory_order_acquire)) break;
        if (missing < 0 && tp_clock_monotonic_ns() >= deadline)
            return tp_err_set(TP_ERR_STATE, "authority (pid %d) did not map both cameras within %.1f s",
                              (int)p->role[DEMO_ROLE_AUTHORITY].pid, (double)timeout_ns / 1e9);
        if (missing >= 0 && tp_clock_monotonic_ns() >= deadline) {
            const int role = missing == DEMO_SEQ_JOIN ? DEMO_ROLE_SEQ_JOIN : DEMO_ROLE_TS_JOIN;
            return tp_err_set(TP_ERR_STATE, "%s (pid %d) did not %s within %.1f s", role_names[role],
                              (int)p->role[role].pid,
                              atomic_load(&p->sh->join[missing].has_map) ? "map both inputs" : "receive its MergeMap",
                              (double)timeout_ns / 1e9);
        }
        sleep_ns(5000000);
    }
    /* Start on a common tick a little ahead, so both cameras publish tick 0. */
    atomic_store_explicit(&p->sh->t0, tp_clock_monotonic_ns() + 20000000, memory_order_release);
    return 0;
}

void demo_pipeline_snapshot(demo_pipeline_t *p, demo_snapshot_t *out)
{
    out->now_ns = tp_clock_monotonic_ns();
    for (int i = 0; i < DEMO_SOURCES; i++) {
        demo_shared_source_t *s = &p->sh->src[i];
        out->src[i].name = role_names[i];
        out->src[i].stream_id = source_streams[i];
        out->src[i].active = atomic_load(&s->active);
        out->src[i].epoch = atomic_load(&s->epoch);
        out->src[i].leases = atomic_load(&s->leases);
        out->src[i].published = atomic_load(&s->published);
        out->src[i].failed = atomic_load(&s->failed);
    }
    out->map_epochs = atomic_load(&p->sh->map_epochs);
    for (int i = 0; i < DEMO_JOINS; i++) {
        demo_shared_join_t *j = &p->sh->join[i];
        demo_join_stats_t *o = &out->join[i];
        o->name = role_names[i == DEMO_SEQ_JOIN ? DEMO_ROLE_SEQ_JOIN : DEMO_ROLE_TS_JOIN];
        o->out_stream_id = join_outs[i];
        o->outputs = atomic_load_explicit(&j->outputs, memory_order_acquire); /* before what it classifies */
        o->incomplete = atomic_load(&j->incomplete);
        o->misaligned = atomic_load(&j->misaligned);
        o->window_frames = atomic_load(&j->window_frames);
        o->has_map = atomic_load(&j->has_map);
        o->inputs_mapped = atomic_load(&j->inputs_mapped);
        o->outputs_waited = atomic_load(&j->outputs_waited);
        o->frames_dropped = atomic_load(&j->frames_dropped);
        o->refused = atomic_load(&j->refused);
        o->epoch_blocks = atomic_load(&j->epoch_blocks);
        o->input_restarts = atomic_load(&j->input_restarts);
        o->desc_other_epoch = atomic_load(&j->desc_other_epoch);
        o->desc_not_in_slot = atomic_load(&j->desc_not_in_slot);
        o->desc_replayed = atomic_load(&j->desc_replayed);
        o->foreign = atomic_load(&j->foreign);
        o->state = atomic_load(&j->state);
        o->state_stream = atomic_load(&j->state_stream);
        o->not_flowing_ns = atomic_load(&j->not_flowing_ns);
        o->longest_ns = atomic_load(&j->longest_ns);
        o->stretches = atomic_load(&j->stretches);
        o->intrinsics = atomic_load(&j->intrinsics);
        o->longest_state = atomic_load(&j->longest_state);
        o->longest_epoch_change = atomic_load(&j->longest_epoch_change);
        o->longest_stream = atomic_load(&j->longest_stream);
        o->outputs_with_view = atomic_load(&j->outputs_with_view);
        o->outputs_without_view = atomic_load(&j->outputs_without_view);
        hist_read(&j->latency, &o->latency);
    }
    demo_preview_read(&p->sh->preview, DEMO_STREAM_CAM1, &out->preview);
    for (int i = 0; i < DEMO_ROLES; i++) {
        const demo_role_t *r = &p->role[i];
        out->role[i].name = r->name;
        out->role[i].pid = (int)r->pid;
        out->role[i].state = r->state;
        snprintf(out->role[i].why, sizeof out->role[i].why, "%s", r->why);
    }
}

void demo_pipeline_quiesce(demo_pipeline_t *p, int64_t drain_ns)
{
    /* Let every live source publish exactly the ticks due before now (up to
     * 1 s for a stalled process to catch up); after that it publishes nothing. */
    const int64_t end = tp_clock_monotonic_ns();
    atomic_store_explicit(&p->sh->end, end, memory_order_release);
    const int64_t t0 = atomic_load(&p->sh->t0);
    for (int i = 0; i < DEMO_SOURCES && t0 != 0; i++) {
        const int64_t period = i == DEMO_IMU ? cam_period_ns(&p->opt) / 10 : cam_period_ns(&p->opt);
        for (int k = 0; k < 1000 && atomic_load(&p->sh->src[i].active); k++) {
            if (t0 + (int64_t)atomic_load(&p->sh->src[i].tick) * period >= end) break;
            demo_pipeline_reap(p);
            if (!role_alive(p, i)) break;
            sleep_ns(1000000);
        }
    }
    /* Drain: until the joins' outputs have not moved for 100 ms (a loaded
     * machine may need longer), at most drain_ns. */
    const int64_t deadline = tp_clock_monotonic_ns() + drain_ns;
    uint64_t last = UINT64_MAX;
    int64_t quiet_since = tp_clock_monotonic_ns();
    for (int64_t now; (now = tp_clock_monotonic_ns()) < deadline;) {
        uint64_t total = 0;
        for (int i = 0; i < DEMO_JOINS; i++) total += atomic_load(&p->sh->join[i].outputs);
        if (total != last) {
            last = total;
            quiet_since = now;
        } else if (now - quiet_since >= 100000000) {
            break;
        }
        sleep_ns(10000000);
    }
}

/* SIGTERM to roles [first, end) still alive; reap them until none is left
 * or the deadline passes. */
static void stop_range(demo_pipeline_t *p, int first, int end, int64_t deadline)
{
    for (int i = first; i < end; i++)
        if (role_alive(p, i)) {
            p->role[i].asked_to_stop = 1;
            kill(p->role[i].pid, SIGTERM);
        }
    for (;;) {
        demo_pipeline_reap(p);
        int alive = 0;
        for (int i = first; i < end; i++) alive += role_alive(p, i);
        if (alive == 0 || tp_clock_monotonic_ns() >= deadline) break;
        sleep_ns(5000000);
    }
}

int demo_pipeline_stop_roles(demo_pipeline_t *p, int64_t timeout_ns)
{
    if (!p->roles_stopped) {
        p->roles_stopped = 1;
        demo_pipeline_reap(p); /* what ended on its own did so before it was asked */
        /* Readers first: a join still running when a source leaves sees the
         * driver name the stream's next epoch and counts an input restart
         * that belongs to the teardown, not to the run the summary reports. */
        const int64_t deadline = tp_clock_monotonic_ns() + timeout_ns;
        stop_range(p, DEMO_ROLE_SEQ_JOIN, DEMO_ROLES, deadline);
        stop_range(p, 0, DEMO_ROLE_SEQ_JOIN, deadline);
        for (int i = 0; i < DEMO_ROLES; i++) {
            demo_role_t *r = &p->role[i];
            if (!role_alive(p, i)) continue;
            kill(r->pid, SIGKILL);
            int status;
            while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR) {
            }
            r->reaped = 1;
            r->state = DEMO_ROLE_FAILED;
            snprintf(r->why, sizeof r->why, "did not stop within %.1f s of SIGTERM and was killed",
                     (double)timeout_ns / 1e9);
        }
    }
    int failed = 0;
    for (int i = 0; i < DEMO_ROLES; i++) failed += p->role[i].state == DEMO_ROLE_FAILED;
    return failed;
}

void demo_pipeline_stop(demo_pipeline_t *p)
{
    if (p == NULL) return;
    demo_pipeline_stop_roles(p, 3000000000LL);
    tp_driver_embedded_stop(p->driver); /* after the clients: their detaches reach it */
    munmap(p->sh, sizeof(demo_shared_t));
    free(p);
}
