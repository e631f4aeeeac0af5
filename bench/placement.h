/* The placement probe: how far apart the two CPUs a cross-core benchmark
 * runs on are right now. On a shared VM the two vCPUs are sometimes near (a
 * cache line goes back and forth in ~100-200 ns), sometimes far (~350-500
 * ns and more), and on some hosts in between (~250-320 ns, for hours), and
 * the hypervisor moves them every few seconds to minutes, changing every
 * cross-core figure 2-5x. So a cross-core trial is bracketed by a probe
 * before and after it. Its regime: "mixed" when the two probes differ by
 * more than TP_BENCH_MIXED_PCT percent of the smaller (the placement
 * changed; such trials are compared with nothing), else by their mean:
 * "near" below TP_BENCH_NEAR_NS, "far" at or above TP_BENCH_FAR_NS, "mid"
 * between; "unknown" when a probe failed. A single threshold split a
 * placement that sat at 250-320 ns into near, far and mixed trials at
 * random (one 4-trial run of bench_frame_rtt, probes 270-311 ns: 1 far, 2
 * mixed, 1 near). bench/run prints this "regime" beside each figure.
 * The probe bounces one cache line between a process pinned to CPU 0 and
 * one pinned to CPU 1 (2000 round trips, p50); bench_ipc's cache-line floor
 * is the same ping-pong, longer (tp_bench_cacheline_rtts). The bounds are
 * TP_BENCH_NEAR_NS (220 ns) and TP_BENCH_FAR_NS (330 ns) unless the
 * environment variables of those names say otherwise.
 * Needs sized_floor.h (tp_bench_pin, tp_bench_relax, tp_bench_now_ns,
 * tp_bench_cmp_i64). */
#ifndef TP_BENCH_PLACEMENT_H
#define TP_BENCH_PLACEMENT_H

#include "sized_floor.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TP_BENCH_NEAR_NS = 220, TP_BENCH_FAR_NS = 330, TP_BENCH_MIXED_PCT = 25, TP_BENCH_PROBE_ROUNDS = 2000 };

/* Every regime a trial can have, in the order benches report them. */
enum { TP_BENCH_NREGIMES = 5 };
static const char *const tp_bench_regime_names[TP_BENCH_NREGIMES] = {"near", "mid", "far", "mixed", "unknown"};

typedef struct {
    _Alignas(64) _Atomic uint64_t ping; /* each side writes its own line */
    _Alignas(64) _Atomic uint64_t pong;
} tp_bench_probe_line_t;

/* One cache line bounced between a process pinned to CPU 0 and one pinned
 * to CPU 1: samples round trips (after a tenth as many to warm up) into rtt,
 * in ns, unsorted. 0, or -1 on error. The caller's affinity is restored. */
static inline int tp_bench_cacheline_rtts(int64_t *rtt, size_t samples)
{
    tp_bench_probe_line_t *l = mmap(NULL, sizeof *l, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (l == MAP_FAILED) return -1;
    cpu_set_t saved;
    const int have_saved = sched_getaffinity(0, sizeof saved, &saved) == 0;
    const uint64_t total = samples + samples / 10;
    const pid_t child = fork();
    if (child < 0) {
        munmap(l, sizeof *l);
        return -1;
    }
    if (child == 0) {
        tp_bench_pin(1);
        for (uint64_t i = 1; i <= total; i++) {
            while (atomic_load_explicit(&l->ping, memory_order_acquire) != i) tp_bench_relax();
            atomic_store_explicit(&l->pong, i, memory_order_release);
        }
        _exit(0);
    }
    tp_bench_pin(0);
    for (uint64_t i = 1; i <= total; i++) {
        const int64_t t0 = tp_bench_now_ns();
        atomic_store_explicit(&l->ping, i, memory_order_release);
        while (atomic_load_explicit(&l->pong, memory_order_acquire) != i) tp_bench_relax();
        if (i > total - samples) rtt[i - 1 - (total - samples)] = tp_bench_now_ns() - t0;
    }
    waitpid(child, NULL, 0);
    munmap(l, sizeof *l);
    if (have_saved) sched_setaffinity(0, sizeof saved, &saved);
    return 0;
}

/* p50 cache-line round trip between CPU 0 and CPU 1 now, in ns; -1 on error. */
static inline int64_t tp_bench_placement_probe(void)
{
    static int64_t rtt[TP_BENCH_PROBE_ROUNDS];
    if (tp_bench_cacheline_rtts(rtt, TP_BENCH_PROBE_ROUNDS) != 0) return -1;
    qsort(rtt, TP_BENCH_PROBE_ROUNDS, sizeof rtt[0], tp_bench_cmp_i64);
    return rtt[TP_BENCH_PROBE_ROUNDS / 2];
}

/* A bound from the environment variable name, else dflt. */
static inline int64_t tp_bench_env_ns(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    const long long n = v != NULL ? atoll(v) : 0;
    return n > 0 ? n : dflt;
}

/* The regime of a trial from the probes (ns) before and after it. */
static inline const char *tp_bench_regime(int64_t before_ns, int64_t after_ns)
{
    if (before_ns <= 0 || after_ns <= 0) return "unknown";
    const int64_t lo = before_ns < after_ns ? before_ns : after_ns;
    const int64_t hi = before_ns < after_ns ? after_ns : before_ns;
    if ((hi - lo) * 100 > lo * TP_BENCH_MIXED_PCT) return "mixed";
    const int64_t mean = (before_ns + after_ns) / 2;
    if (mean < tp_bench_env_ns("TP_BENCH_NEAR_NS", TP_BENCH_NEAR_NS)) return "near";
    if (mean >= tp_bench_env_ns("TP_BENCH_FAR_NS", TP_BENCH_FAR_NS)) return "far";
    return "mid";
}

/* Index of a regime in tp_bench_regime_names ("unknown" for anything else). */
static inline int tp_bench_regime_index(const char *regime)
{
    for (int i = 0; i < TP_BENCH_NREGIMES; i++)
        if (strcmp(regime, tp_bench_regime_names[i]) == 0) return i;
    return TP_BENCH_NREGIMES - 1;
}

#endif
