/* The size-matched floor for cross-process messaging, shared by bench_floor
 * and bench_ipc: two processes (pinned to different CPUs when there are at
 * least two) take turns moving N bytes to each other through a MAP_SHARED
 * mapping. The writer copies N bytes from private memory into its region and
 * then stores a flag (release) in the word right after them; the reader waits
 * for the flag (acquire) and copies all N bytes (so every cache line) to
 * private memory, then answers the same way in the other direction. (memcpy
 * out is as fast here as loading one word per line; a word-by-word XOR fold
 * was ~20% slower, as its many narrow loads delay the misses.) Half the round
 * trip is what any transport needs at least to hand N bytes to another core:
 * ceil((N + 8) / 64) lines change owner per direction (2 for 64 B, 17 for
 * 1 KiB), where the cache-line floor moves one.
 *
 * The two regions sit at fixed, page-aligned places and are reused every
 * round, so the lines always come straight from the other core's cache.
 * (A ring such as tp:ipc's log writes fresh lines most of the time; that is
 * one of the costs the floor deliberately does not pay.)
 * Needs _GNU_SOURCE (set project-wide) for sched_setaffinity. */
#ifndef TP_BENCH_SIZED_FLOOR_H
#define TP_BENCH_SIZED_FLOOR_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Message sizes bench_ipc measures one-way latency for; bench_floor measures
 * the size-matched floor for exactly these. */
static const size_t tp_bench_ipc_sizes[] = {64, 1024};
enum { TP_BENCH_IPC_NSIZES = sizeof tp_bench_ipc_sizes / sizeof tp_bench_ipc_sizes[0] };

static inline void tp_bench_pin(int cpu)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)n, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static inline void tp_bench_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

static inline int64_t tp_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int tp_bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of v[0..n-1] (sorted in place): v[floor(q * (n - 1))]. */
static inline int64_t tp_bench_quantile_i64(int64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof v[0], tp_bench_cmp_i64);
    return v[(size_t)(q * (double)(n - 1))];
}

/* The median of a few trials' v[0..n-1] (sorted in place): v[n / 2]. */
static inline int64_t tp_bench_median_i64(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], tp_bench_cmp_i64);
    return v[n / 2];
}

/* One side's turn: wait for the peer's flag == i and copy its n bytes out
 * (returns a word of the copy, so the copy cannot be optimised away); then
 * write ours and raise our flag to i. */
static inline uint64_t tp_bench_sized_recv(const uint8_t *in, size_t n, uint64_t i, uint8_t *dst)
{
    const _Atomic uint64_t *flag = (const _Atomic uint64_t *)(const void *)(in + n);
    while (atomic_load_explicit(flag, memory_order_acquire) != i) tp_bench_relax();
    memcpy(dst, in, n);
    __asm__ __volatile__("" : : "r"(dst) : "memory");
    uint64_t v;
    memcpy(&v, dst + n - 8, 8);
    return v;
}

static inline void tp_bench_sized_send(uint8_t *out, const uint8_t *src, size_t n, uint64_t i)
{
    memcpy(out, src, n);
    atomic_store_explicit((_Atomic uint64_t *)(void *)(out + n), i, memory_order_release);
}

/* Round trips of n bytes each way (n a multiple of 8): fills out[0..2] with
 * the p50, p99 and p99.9 of the round trip in ns (clock reads included, as
 * in the IPC ping-pong). Returns 0, or -1 if it could not run. The first
 * tenth of the rounds is warm-up and not sampled. */
static inline int tp_bench_sized_round_trip(size_t n, size_t samples, int64_t out[3])
{
    size_t region = (n + 8 + 4095) & ~(size_t)4095;
    uint8_t *map = mmap(NULL, 2 * region, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return -1;
    uint8_t *ping = map, *pong = map + region;
    size_t total = samples + samples / 10;
    pid_t child = fork();
    if (child < 0) {
        munmap(map, 2 * region);
        return -1;
    }
    if (child == 0) {
        tp_bench_pin(1);
        uint8_t *src = calloc(1, n), *dst = calloc(1, n);
        volatile uint64_t sink = 0;
        for (uint64_t i = 1; i <= total; i++) {
            sink ^= tp_bench_sized_recv(ping, n, i, dst);
            memcpy(src, &i, sizeof i);
            tp_bench_sized_send(pong, src, n, i);
        }
        (void)sink;
        _exit(0);
    }
    tp_bench_pin(0);
    uint8_t *src = calloc(1, n), *dst = calloc(1, n);
    int64_t *rtt = malloc(samples * sizeof *rtt);
    volatile uint64_t sink = 0;
    for (uint64_t i = 1; i <= total; i++) {
        memcpy(src, &i, sizeof i);
        int64_t t0 = tp_bench_now_ns();
        tp_bench_sized_send(ping, src, n, i);
        sink ^= tp_bench_sized_recv(pong, n, i, dst);
        int64_t t1 = tp_bench_now_ns();
        if (i > total - samples) rtt[i - 1 - (total - samples)] = t1 - t0;
    }
    (void)sink;
    waitpid(child, NULL, 0);
    qsort(rtt, samples, sizeof *rtt, tp_bench_cmp_i64);
    const double q[3] = {0.5, 0.99, 0.999};
    for (int k = 0; k < 3; k++) {
        size_t idx = (size_t)(q[k] * (double)(samples - 1) + 0.5);
        out[k] = rtt[idx < samples ? idx : samples - 1];
    }
    free(rtt);
    free(src);
    free(dst);
    munmap(map, 2 * region);
    return 0;
}

#endif
