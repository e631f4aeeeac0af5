/* Cost of lineage per join output (docs/spec/tracelink.md), one thread, as
 * JSON lines (medians of TRIALS trials):
 *   trace_id_mint            one tp_trace_gen_next
 *   trace_parents_gather     tp_join_output_trace_parents of an output of
 *                            1 camera frame + N IMU samples
 *   trace_link_encode        the TraceLinkSet of those 1 + N parents
 *   trace_commit_plain       tp_producer_claim + tp_producer_commit of a
 *                            64 B frame, untraced, in-process driver
 *   trace_commit_derived     the same with tp_producer_commit_derived:
 *                            minting, the link and its publication on the
 *                            control stream; extra_ns = the median of the
 *                            per-trial differences (derived - plain)
 * usage: bench_trace [TRIALS] [IMU_SAMPLES] */
#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/producer.h"
#include "tensorpool/trace.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PER_TRIAL 2000

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

static void emit(const char *name, double ns, int trials, int samples)
{
    printf("{\"name\":\"%s\",\"unit\":\"ns\",\"value\":%.6g,\"trials\":%d,\"per_trial\":%d,\"imu_samples\":%d}\n",
           name, ns, trials, PER_TRIAL, samples);
}

int main(int argc, char **argv)
{
    const int trials = argc > 1 ? atoi(argv[1]) : 21;
    const int samples = argc > 2 ? atoi(argv[2]) : 10;
    if (trials < 1 || trials > 1000 || samples < 1 || samples > 200) {
        fprintf(stderr, "usage: bench_trace [TRIALS 1..1000] [IMU_SAMPLES 1..200]\n");
        return 2;
    }
    double *mint = calloc((size_t)trials, sizeof(double)), *gather = calloc((size_t)trials, sizeof(double));
    double *enc = calloc((size_t)trials, sizeof(double)), *extra = calloc((size_t)trials, sizeof(double));
    double *plain = calloc((size_t)trials, sizeof(double)), *derived_ns = calloc((size_t)trials, sizeof(double));
    if (mint == NULL || gather == NULL || enc == NULL || extra == NULL || plain == NULL || derived_ns == NULL) return 1;

    /* a synthetic output: camera frame + `samples` IMU frames, all traced */
    static tp_join_frame_t frames[201];
    tp_join_input_t inputs[2] = {{.stream_id = 1, .frame_count = 1, .frames = &frames[0]},
                                 {.stream_id = 3, .frame_count = (uint32_t)samples, .frames = &frames[1]}};
    tp_trace_gen_t g;
    tp_trace_gen_init(&g, 1);
    for (int i = 0; i <= samples; i++) frames[i].trace_id = tp_trace_gen_next(&g, tp_clock_realtime_ns());
    const tp_join_output_t out = {.out_stream_id = 10, .input_count = 2, .inputs = inputs};
    static uint64_t parents[TP_TRACE_MAX_PARENTS];
    static tp_trace_link_t link;
    static uint8_t buf[4096];
    uint64_t sink = 0;
    for (int t = 0; t < trials; t++) {
        int64_t t0 = tp_clock_monotonic_ns();
        for (int i = 0; i < PER_TRIAL; i++) sink += tp_trace_gen_next(&g, t0);
        int64_t t1 = tp_clock_monotonic_ns();
        mint[t] = (double)(t1 - t0) / PER_TRIAL;
        uint32_t n = 0;
        for (int i = 0; i < PER_TRIAL; i++) n = tp_join_output_trace_parents(&out, parents, TP_TRACE_MAX_PARENTS, NULL);
        int64_t t2 = tp_clock_monotonic_ns();
        gather[t] = (double)(t2 - t1) / PER_TRIAL;
        link.trace_id = 1;
        link.parent_count = n;
        memcpy(link.parents, parents, n * sizeof *parents);
        for (int i = 0; i < PER_TRIAL; i++) sink += (uint64_t)tp_trace_link_encode(&link, buf, sizeof buf);
        enc[t] = (double)(tp_clock_monotonic_ns() - t2) / PER_TRIAL;
    }

    /* producer commit with and without lineage, next to an in-process driver */
    char dir[] = "/dev/shm/tp-bench-trace-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    static const char toml[] = "[profiles.p]\nheader_nslots = 1024\npayload_pools = [ { pool_id = 1, stride_bytes = 256 } ]\n"
                               "[streams.out]\nstream_id = 10\nprofile = \"p\"\n";
    static tp_driver_config_t cfg;
    tp_driver_config_defaults(&cfg);
    tp_driver_t *d = NULL;
    tp_producer_t *p = NULL;
    int rc = 1;
    if (tp_driver_config_parse(&cfg, toml, sizeof toml - 1) == 0) {
        snprintf(cfg.base_dir, sizeof cfg.base_dir, "%s", dir);
        if (tp_driver_open(&d, &cfg, NULL) == 0) {
            tp_client_context_t ctx;
            tp_client_context_init(&ctx);
            snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", dir);
            if (tp_producer_open(&p, &ctx, 10, 0, "bench", NULL) == 0) rc = 0;
        }
    }
    for (int i = 0; rc == 0 && i < 5000 && !tp_producer_is_active(p); i++) {
        tp_driver_do_work(d, tp_clock_monotonic_ns());
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        usleep(1000);
    }
    if (rc != 0 || !tp_producer_is_active(p)) {
        fprintf(stderr, "bench_trace: no producer: %s\n", tp_errmsg());
        rc = 1;
    } else {
        tp_tensor_header_t th;
        const int32_t dims[1] = {8};
        tp_tensor_header_init(&th, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
        const uint32_t n = tp_join_output_trace_parents(&out, parents, TP_TRACE_MAX_PARENTS, NULL);
        for (int t = 0; t < trials; t++) {
            double cost[2];
            for (int derived = 0; derived < 2; derived++) {
                tp_producer_do_work(p, tp_clock_monotonic_ns());
                const int64_t t0 = tp_clock_monotonic_ns();
                for (int i = 0; i < PER_TRIAL; i++) {
                    tp_shm_claim_t c;
                    if (tp_producer_claim(p, &th, 64, &c) != 0) continue;
                    if (derived) tp_producer_commit_derived(p, &c, 1, parents, n);
                    else tp_producer_commit(p, &c, 1);
                }
                cost[derived] = (double)(tp_clock_monotonic_ns() - t0) / PER_TRIAL;
            }
            plain[t] = cost[0];
            derived_ns[t] = cost[1];
            extra[t] = cost[1] - cost[0];
        }
        uint64_t sent = 0, dropped = 0;
        tp_producer_trace_stats(p, &sent, &dropped);
        if (sent == 0) rc = 1;
    }
    tp_producer_close(p);
    if (d != NULL) tp_driver_close(d, 0, NULL);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc != 0) return rc;
    emit("trace_id_mint", median(mint, trials), trials, samples);
    emit("trace_parents_gather", median(gather, trials), trials, samples);
    emit("trace_link_encode", median(enc, trials), trials, samples);
    emit("trace_commit_plain", median(plain, trials), trials, samples);
    printf("{\"name\":\"trace_commit_derived\",\"unit\":\"ns\",\"value\":%.6g,\"extra_ns\":%.6g,\"trials\":%d,"
           "\"per_trial\":%d,\"imu_samples\":%d}\n",
           median(derived_ns, trials), median(extra, trials), trials, PER_TRIAL, samples);
    if (sink == 42) puts("");
    free(mint);
    free(gather);
    free(enc);
    free(extra);
    free(plain);
    free(derived_ns);
    return 0;
}
