/* What a join stage pays for keeping a join trace (tensorpool/join_trace.h)
 * per output: ns per tp_join_trace_record with nobody watching (the check
 * only) and while a viewer watches (one ~240-byte seqlocked copy), for an
 * output of 2 inputs. A floor (an empty out-of-line call) is measured in the
 * same run. JSON lines {"name", "unit":"ns", "value":<median>, ...}.
 * Usage: bench_join_trace [runs] [iterations]. */
#include "tensorpool/ipc.h"
#include "tensorpool/join_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int runs = 21;
static long iters = 1000000;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

__attribute__((noinline)) static void empty_call(void *p, const void *q, int64_t x)
{
    __asm__ volatile("" : : "r"(p), "r"(q), "r"(x) : "memory");
}

static double measure(tp_join_trace_t *t, const tp_join_output_t *o, int floor)
{
    double v[64];
    const int r = runs > 64 ? 64 : runs;
    for (int i = 0; i < r; i++) {
        const int64_t t0 = now_ns();
        for (long k = 0; k < iters; k++) {
            if (floor)
                empty_call(t, o, k);
            else
                tp_join_trace_record(t, o, 1000 + k);
        }
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

int main(int argc, char **argv)
{
    if (argc > 1) runs = atoi(argv[1]);
    if (argc > 2) iters = atol(argv[2]);
    if (runs < 1) runs = 1;
    if (iters < 10) iters = 10;
    char dir[] = "/dev/shm/tp-bench-trace-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = dir;
    char ipcdir[512], cmd[1100];
    tp_ipc_context_dir(&ipc, ipcdir, sizeof ipcdir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", ipcdir);
    tp_join_trace_t *t = NULL;
    if (system(cmd) != 0 || tp_join_trace_create(&t, &ipc, 100, 1) != 0) {
        fprintf(stderr, "bench_join_trace: cannot create a trace in %s\n", dir);
        return 1;
    }
    tp_join_frame_t fr[2] = {{.seq = 10, .timestamp_ns = 5}, {.seq = 8, .timestamp_ns = 6}};
    tp_join_input_t in[2] = {{.stream_id = 1, .frame_count = 1, .frames = &fr[0]},
                             {.stream_id = 2, .frame_count = 1, .frames = &fr[1]}};
    tp_join_output_t o = {.out_stream_id = 100, .epoch = 1, .out_seq = 10, .out_time = UINT64_MAX, .input_count = 2,
                          .inputs = in};
    report("join.trace.floor.empty_call", measure(t, &o, 1), "");
    report("join.trace.record", measure(t, &o, 0), "\"watched\":false,\"inputs\":2");
    char path[600];
    snprintf(path, sizeof path, "%.*s/join-100-%d.trace", (int)(strrchr(ipcdir, '/') - ipcdir), ipcdir, (int)getpid());
    tp_join_trace_reader_t r;
    if (tp_join_trace_reader_open(&r, path) != 0) {
        fprintf(stderr, "bench_join_trace: %s\n", path);
        return 1;
    }
    tp_join_trace_reader_watch(&r, INT64_MAX);
    report("join.trace.record", measure(t, &o, 0), "\"watched\":true,\"inputs\":2");
    tp_join_trace_reader_close(&r);
    tp_join_trace_close(t);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
