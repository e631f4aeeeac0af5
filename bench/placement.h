/* Placement probe for cross-core benchmarks. On a shared VM the two vCPUs a
 * benchmark pins its processes to sit sometimes close (a cache-line round
 * trip between them of about 100 ns: "near") and sometimes far apart (350 ns
 * and more: "far"), and the placement changes every few seconds to minutes,
 * moving every cross-core figure 2-5x. So a cross-core trial is bracketed by
 * two probes and its figure is reported with the regime both saw; a trial
 * whose probes disagree is "mixed" and compared with nothing.
 * The probe: two processes pinned to CPUs 0 and 1 pass one cache line back
 * and forth 2000 times (about a millisecond); the median round trip.
 * Needs sized_floor.h (tp_bench_pin, tp_bench_relax, tp_bench_now_ns). */
#ifndef TP_BENCH_PLACEMENT_H
#define TP_BENCH_PLACEMENT_H

#include "sized_floor.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TP_BENCH_PROBE_ROUNDS = 2000 };
#define TP_BENCH_NEAR_MAX_NS 200.0 /* between the two regimes seen on this kind of host */

static inline int tp_bench_probe_cmp(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Median cache-line round trip (ns) between CPUs 0 and 1 now; -1 on failure.
 * The caller's own affinity is restored afterwards. */
static inline double tp_bench_placement_rtt_ns(void)
{
    void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -1;
    _Atomic uint64_t *line = mem;
    _Atomic uint64_t *ping = &line[0], *pong = &line[8]; /* two lines: each side writes its own */
    cpu_set_t saved;
    const int have_saved = sched_getaffinity(0, sizeof saved, &saved) == 0;
    const pid_t child = fork();
    if (child < 0) {
        munmap(mem, 4096);
        return -1;
    }
    if (child == 0) {
        tp_bench_pin(1);
        for (uint64_t i = 1; i <= TP_BENCH_PROBE_ROUNDS; i++) {
            while (atomic_load_explicit(ping, memory_order_acquire) != i) tp_bench_relax();
            atomic_store_explicit(pong, i, memory_order_release);
        }
        _exit(0);
    }
    tp_bench_pin(0);
    int64_t rtt[TP_BENCH_PROBE_ROUNDS];
    for (uint64_t i = 1; i <= TP_BENCH_PROBE_ROUNDS; i++) {
        const int64_t t0 = tp_bench_now_ns();
        atomic_store_explicit(ping, i, memory_order_release);
        while (atomic_load_explicit(pong, memory_order_acquire) != i) tp_bench_relax();
        rtt[i - 1] = tp_bench_now_ns() - t0;
    }
    waitpid(child, NULL, 0);
    munmap(mem, 4096);
    if (have_saved) sched_setaffinity(0, sizeof saved, &saved);
    qsort(rtt, TP_BENCH_PROBE_ROUNDS, sizeof rtt[0], tp_bench_probe_cmp);
    return (double)rtt[TP_BENCH_PROBE_ROUNDS / 2];
}

/* Regime of a trial bracketed by probes of `before` and `after` ns. */
static inline const char *tp_bench_regime(double before, double after)
{
    if (before <= 0 || after <= 0) return "unknown";
    const int a = before < TP_BENCH_NEAR_MAX_NS, b = after < TP_BENCH_NEAR_MAX_NS;
    if (a != b) return "mixed";
    return a ? "near" : "far";
}

#endif
