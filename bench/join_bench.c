/* JoinBarrier benchmarks: ns per readiness check (2/4/16/64 inputs, each
 * barrier type) and ns per observed-cursor update; and what a stage pays per
 * output for keeping a join trace (join_trace.h) with nobody watching (the
 * check only) and while a viewer watches (one ~240-byte seqlocked copy). One JSON object per line:
 * {"name":..., "unit":"ns", "value":<median>, <parameters>}.
 * A floor (an empty out-of-line call) is measured in the same run.
 * join.ready_vs_c_reference: sequence readiness against the C reference's
 * algorithm (join_cref.c) on the same rules and cursors, trials interleaved,
 * for 1..64 inputs with all satisfied, the first or the last missing, and a
 * new output each call.
 * Usage: bench_join [runs] [iterations]. */
#include "tensorpool/ipc.h"
#include "tensorpool/join_barrier.h"
#include "tensorpool/join_trace.h"
#include "tensorpool/merge_map.h"

#include "join_cref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OUT 10u

static int runs = 21;
static long iters = 2000000;
static volatile uint64_t sink;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *ctx, long n);

/* Median ns per operation over `runs` runs of `iters` operations. */
static double measure(bench_fn fn, void *ctx)
{
    double v[64];
    int r = runs > 64 ? 64 : runs;
    fn(ctx, iters / 10); /* warm-up */
    for (int i = 0; i < r; i++) {
        uint64_t t0 = now_ns();
        fn(ctx, iters);
        v[i] = (double)(now_ns() - t0) / (double)iters;
    }
    qsort(v, (size_t)r, sizeof v[0], cmp_double);
    return v[r / 2];
}

static void report(const char *name, double ns, const char *extra)
{
    printf("{\"name\":\"%s\",\"unit\":\"ns\",\"value\":%.6g,\"runs\":%d,\"iterations\":%ld%s%s}\n", name, ns, runs,
           iters, extra[0] ? "," : "", extra);
    fflush(stdout);
}

/* ---- floor ---- */

__attribute__((noinline)) static int empty_call(void *p, uint64_t x)
{
    __asm__ volatile("" : : "r"(p), "r"(x) : "memory");
    return (int)(x & 1);
}

static void floor_loop(void *ctx, long n)
{
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += (uint64_t)empty_call(ctx, (uint64_t)i);
    sink = acc;
}

/* ---- barriers ---- */

typedef struct {
    tp_join_barrier_t *b;
    uint32_t inputs;
} ctx_t;

static tp_join_barrier_t *make(tp_join_mode_t mode, uint32_t inputs)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, mode, OUT, inputs);
    tp_join_barrier_t *b;
    tp_merge_map_t m;
    tp_merge_kind_t kind = mode == TP_JOIN_MODE_TIMESTAMP ? TP_MERGE_KIND_TIMESTAMP : TP_MERGE_KIND_SEQUENCE;
    if (tp_join_barrier_create(&cfg, &b) != 0 || tp_merge_map_init(&m, kind, inputs) != 0 ||
        tp_merge_map_reset(&m, OUT, 1) != 0)
        abort();
    for (uint32_t i = 0; i < inputs; i++) {
        uint32_t id = 100 + i;
        int rc = kind == TP_MERGE_KIND_SEQUENCE
                     ? (i % 2 ? tp_merge_map_add_window(&m, id, 4) : tp_merge_map_add_offset(&m, id, -(int32_t)(i % 3)))
                     : (i % 2 ? tp_merge_map_add_window_ns(&m, id, TP_TS_SOURCE_FRAME_DESCRIPTOR, 1000)
                              : tp_merge_map_add_offset_ns(&m, id, TP_TS_SOURCE_FRAME_DESCRIPTOR, -500));
        if (rc != 0) abort();
    }
    if (kind == TP_MERGE_KIND_TIMESTAMP) tp_merge_map_set_clock(&m, TP_CLOCK_MONOTONIC, 100);
    if (tp_join_barrier_apply(b, &m, 0) != TP_JOIN_APPLY_REPLACED) abort();
    tp_merge_map_close(&m);
    /* every input satisfied for out 1000 (seq) / 1_000_000 (time) */
    for (uint32_t i = 0; i < inputs; i++) {
        tp_join_barrier_observe_seq(b, 100 + i, 1000, 1);
        tp_join_barrier_observe_time(b, 100 + i, TP_TS_SOURCE_FRAME_DESCRIPTOR, 1000000, TP_CLOCK_MONOTONIC, 1);
    }
    return b;
}

static void ready_seq(void *p, long n)
{
    ctx_t *c = p;
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += (uint64_t)tp_join_barrier_ready_seq(c->b, 1000, 2);
    sink = acc;
}

static void ready_time(void *p, long n)
{
    ctx_t *c = p;
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += (uint64_t)tp_join_barrier_ready_time(c->b, 1000000, TP_CLOCK_MONOTONIC, 2);
    sink = acc;
}

static void ready_latest(void *p, long n)
{
    ctx_t *c = p;
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += (uint64_t)tp_join_barrier_ready_latest(c->b, 2);
    sink = acc;
}

/* With the output value checked (JB-P1): the same output every call, as a
 * stage polling while it waits. */
static void ready_latest_out(void *p, long n)
{
    ctx_t *c = p;
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += (uint64_t)tp_join_barrier_ready_latest_out(c->b, 5, 2);
    sink = acc;
}

/* Observed-cursor update, round robin over the inputs, cursors ascending. */
static uint64_t seq_base = 2000;
static void observe_seq(void *p, long n)
{
    ctx_t *c = p;
    uint64_t acc = 0;
    uint32_t k = 0;
    for (long i = 0; i < n; i++) {
        acc += (uint64_t)tp_join_barrier_observe_seq(c->b, 100 + k, seq_base + (uint64_t)i, 3);
        if (++k == c->inputs) k = 0;
    }
    seq_base += (uint64_t)n;
    sink = acc;
}

static uint64_t time_base = 2000000;
static void observe_time(void *p, long n)
{
    ctx_t *c = p;
    uint64_t acc = 0;
    uint32_t k = 0;
    for (long i = 0; i < n; i++) {
        acc += (uint64_t)tp_join_barrier_observe_time(c->b, 100 + k, TP_TS_SOURCE_FRAME_DESCRIPTOR,
                                                      time_base + (uint64_t)i, TP_CLOCK_MONOTONIC, 3);
        if (++k == c->inputs) k = 0;
    }
    time_base += (uint64_t)n;
    sink = acc;
}

/* ---- join trace ---- */

typedef struct {
    tp_join_trace_t *t;
    tp_join_output_t out;
    tp_join_input_t in[2];
    tp_join_frame_t fr[2];
} trace_ctx_t;

static void trace_record(void *p, long n)
{
    trace_ctx_t *c = p;
    for (long i = 0; i < n; i++) tp_join_trace_record(c->t, &c->out, 1000 + i);
}

/* In a scratch directory under /dev/shm, removed afterwards. 0 or -1. */
static int bench_trace(void)
{
    char dir[] = "/dev/shm/tp-bench-trace-XXXXXX", ipcdir[512], cmd[1100], path[600];
    if (mkdtemp(dir) == NULL) return -1;
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = dir;
    static trace_ctx_t c;
    tp_join_trace_reader_t r;
    int rc = -1;
    if (tp_ipc_context_dir(&ipc, ipcdir, sizeof ipcdir) != 0) goto out;
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", ipcdir);
    if (system(cmd) != 0 || tp_join_trace_create(&c.t, &ipc, 100, 1) != 0) goto out;
    c.fr[0] = (tp_join_frame_t){.seq = 10, .timestamp_ns = 5};
    c.fr[1] = (tp_join_frame_t){.seq = 8, .timestamp_ns = 6};
    c.in[0] = (tp_join_input_t){.stream_id = 1, .frame_count = 1, .frames = &c.fr[0]};
    c.in[1] = (tp_join_input_t){.stream_id = 2, .frame_count = 1, .frames = &c.fr[1]};
    c.out = (tp_join_output_t){.out_stream_id = 100, .epoch = 1, .out_seq = 10, .out_time = UINT64_MAX,
                               .input_count = 2, .inputs = c.in};
    report("join.trace.record", measure(trace_record, &c), "\"watched\":false,\"inputs\":2");
    *strrchr(ipcdir, '/') = '\0';
    snprintf(path, sizeof path, "%s/join-100-%d.trace", ipcdir, (int)getpid());
    if (tp_join_trace_reader_open(&r, path) != 0) goto out;
    tp_join_trace_reader_watch(&r, INT64_MAX);
    report("join.trace.record", measure(trace_record, &c), "\"watched\":true,\"inputs\":2");
    tp_join_trace_reader_close(&r);
    rc = 0;
out:
    tp_join_trace_close(c.t);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) rc = -1;
    if (rc != 0) fprintf(stderr, "bench_join: join trace in %s failed\n", dir);
    return rc;
}

/* ---- against the C reference's algorithm ---- */

typedef enum { CASE_ALL, CASE_FIRST_MISSING, CASE_LAST_MISSING, CASE_NEW_OUTPUT } vs_case_t;
static const char *const vs_case_names[] = {"all_satisfied", "first_missing", "last_missing",
                                            "all_satisfied_new_output"};

typedef struct {
    tp_join_barrier_t *b;
    cref_barrier_t c;
    uint64_t out;
    int advance; /* a new output every call */
} vs_ctx_t;

/* n inputs, rules as in make(): odd inputs WINDOW 4, even ones OFFSET -(i % 3);
 * every input observed at `at`, except `missing` observed at 10. */
static void vs_make(vs_ctx_t *v, uint32_t n, uint32_t missing, uint64_t at)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, n);
    tp_merge_map_t m;
    if (tp_join_barrier_create(&cfg, &v->b) != 0 || tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, n) != 0 ||
        tp_merge_map_reset(&m, OUT, 1) != 0)
        abort();
    v->c = (cref_barrier_t){.type = 1, .stale_timeout_ns = UINT64_MAX, .allow_stale = true, .rule_count = n};
    v->c.rules = calloc(n, sizeof *v->c.rules);
    v->c.state = calloc(n, sizeof *v->c.state);
    if (v->c.rules == NULL || v->c.state == NULL) abort();
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = 100 + i;
        if (i % 2) {
            if (tp_merge_map_add_window(&m, id, 4) != 0) abort();
            v->c.rules[i] = (cref_rule_t){id, 1, 0, 4};
        } else {
            if (tp_merge_map_add_offset(&m, id, -(int32_t)(i % 3)) != 0) abort();
            v->c.rules[i] = (cref_rule_t){id, 0, -(int32_t)(i % 3), 0};
        }
    }
    if (tp_join_barrier_apply(v->b, &m, 0) != TP_JOIN_APPLY_REPLACED) abort();
    tp_merge_map_close(&m);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t seq = i == missing ? 10 : at;
        tp_join_barrier_observe_seq(v->b, 100 + i, seq, 1);
        v->c.state[i] = (cref_state_t){.stream_id = 100 + i, .observed_seq = seq, .has_observed_seq = true,
                                       .last_observed_update_ns = 1, .has_min_seq_in_epoch = true,
                                       .min_seq_in_epoch = seq, .latest_valid = true};
    }
}

static void vs_tp(void *p, long n)
{
    vs_ctx_t *v = p;
    uint64_t acc = 0, out = v->out;
    for (long i = 0; i < n; i++) {
        acc += (uint64_t)tp_join_barrier_ready_seq(v->b, out, 2);
        out += (uint64_t)v->advance;
    }
    v->out = out;
    sink = acc;
}

static void vs_cref(void *p, long n)
{
    vs_ctx_t *v = p;
    uint64_t acc = 0, out = v->out;
    for (long i = 0; i < n; i++) {
        acc += (uint64_t)cref_ready_sequence(&v->c, out, 2);
        out += (uint64_t)v->advance;
    }
    v->out = out;
    sink = acc;
}

/* Median ns per call of each, trials alternating so both see the same machine. */
static void measure_pair(bench_fn a, bench_fn b, void *ctx, long n, double *ma, double *mb)
{
    double va[64], vb[64];
    int r = runs > 64 ? 64 : runs;
    a(ctx, n / 10);
    b(ctx, n / 10);
    for (int i = 0; i < r; i++) {
        uint64_t t0 = now_ns();
        a(ctx, n);
        uint64_t t1 = now_ns();
        b(ctx, n);
        uint64_t t2 = now_ns();
        va[i] = (double)(t1 - t0) / (double)n;
        vb[i] = (double)(t2 - t1) / (double)n;
    }
    qsort(va, (size_t)r, sizeof va[0], cmp_double);
    qsort(vb, (size_t)r, sizeof vb[0], cmp_double);
    *ma = va[r / 2];
    *mb = vb[r / 2];
}

static int versus_c_reference(void)
{
    static const uint32_t ns[] = {1, 2, 4, 8, 16, 32, 64};
    const long n_iter = iters / 10 > 10 ? iters / 10 : 10;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        for (int c = CASE_ALL; c <= CASE_NEW_OUTPUT; c++) {
            uint32_t n = ns[k];
            uint32_t missing = c == CASE_FIRST_MISSING ? 0 : c == CASE_LAST_MISSING ? n - 1 : UINT32_MAX;
            vs_ctx_t v;
            /* a new output every call: inputs far ahead so every output is met */
            vs_make(&v, n, missing, c == CASE_NEW_OUTPUT ? UINT64_MAX / 2 : 1000);
            v.out = 1000;
            v.advance = c == CASE_NEW_OUTPUT;
            int want = c == CASE_ALL || c == CASE_NEW_OUTPUT;
            if (tp_join_barrier_ready_seq(v.b, v.out, 2) != want || cref_ready_sequence(&v.c, v.out, 2) != want) {
                fprintf(stderr, "ready_vs_c_reference %s n=%u: unexpected verdict\n", vs_case_names[c], n);
                return 1;
            }
            double t_tp, t_c;
            measure_pair(vs_tp, vs_cref, &v, n_iter, &t_tp, &t_c);
            printf("{\"name\":\"join.ready_vs_c_reference\",\"unit\":\"ns\",\"value\":%.4g,\"inputs\":%u,"
                   "\"case\":\"%s\",\"c_reference_ns\":%.4g,\"speedup\":%.3g,\"runs\":%d,\"iterations\":%ld}\n",
                   t_tp, n, vs_case_names[c], t_c, t_c / t_tp, runs, n_iter);
            fflush(stdout);
            tp_join_barrier_destroy(v.b);
            free(v.c.rules);
            free(v.c.state);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) runs = atoi(argv[1]);
    if (argc > 2) iters = atol(argv[2]);
    if (runs < 1) runs = 1;
    if (iters < 10) iters = 10;

    report("join.floor.empty_call", measure(floor_loop, NULL), "");
    if (versus_c_reference() != 0) return 1;

    static const uint32_t sizes[] = {2, 4, 16, 64};
    static const struct {
        const char *name;
        tp_join_mode_t mode;
        bench_fn fn;
    } checks[] = {
        {"join.ready.sequence", TP_JOIN_MODE_SEQUENCE, ready_seq},
        {"join.ready.timestamp", TP_JOIN_MODE_TIMESTAMP, ready_time},
        {"join.ready.latest_value", TP_JOIN_MODE_LATEST_VALUE, ready_latest},
        {"join.ready.latest_value_out", TP_JOIN_MODE_LATEST_VALUE, ready_latest_out},
    };
    char extra[96];
    for (size_t k = 0; k < sizeof checks / sizeof checks[0]; k++) {
        for (size_t s = 0; s < 4; s++) {
            ctx_t c = {make(checks[k].mode, sizes[s]), sizes[s]};
            if (checks[k].fn(&c, 1), sink != 1) { /* sanity: the benchmarked path is the ready one */
                fprintf(stderr, "%s with %u inputs is not ready\n", checks[k].name, sizes[s]);
                return 1;
            }
            snprintf(extra, sizeof extra, "\"inputs\":%u,\"ready\":true", sizes[s]);
            report(checks[k].name, measure(checks[k].fn, &c), extra);
            tp_join_barrier_destroy(c.b);
        }
    }
    for (size_t s = 0; s < 4; s++) {
        ctx_t c = {make(TP_JOIN_MODE_SEQUENCE, sizes[s]), sizes[s]};
        snprintf(extra, sizeof extra, "\"inputs\":%u", sizes[s]);
        report("join.update.observe_seq", measure(observe_seq, &c), extra);
        tp_join_barrier_destroy(c.b);
        c.b = make(TP_JOIN_MODE_TIMESTAMP, sizes[s]);
        report("join.update.observe_time", measure(observe_time, &c), extra);
        tp_join_barrier_destroy(c.b);
    }
    return bench_trace() == 0 ? 0 : 1;
}
