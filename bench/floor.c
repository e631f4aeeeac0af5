/* Hardware floors the other benchmarks are compared with, measured in the
 * same run: memcpy bandwidth (what a copying read can at best reach), the
 * round trip of one cache line bounced between two processes through shared
 * memory (what any cross-process notification can at best reach), and the
 * size-matched floor (sized_floor.h): N bytes plus a flag handed back and
 * forth, for each message size bench_ipc measures (what moving N bytes to
 * another core can at best reach). Both processes are pinned to different
 * CPUs when there are at least two.
 * Prints JSON lines: {"name":..., "unit":..., "value":..., params}. */
#include "sized_floor.h"
#include "placement.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return v[n / 2];
}

static void memcpy_bandwidth(size_t bytes, int reps)
{
    uint8_t *src = aligned_alloc(4096, bytes), *dst = aligned_alloc(4096, bytes);
    double *gbps = calloc((size_t)reps, sizeof *gbps);
    memset(src, 1, bytes);
    memset(dst, 2, bytes);
    size_t inner = bytes >= (1u << 20) ? 8 : 256;
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < inner; i++) {
            memcpy(dst, src, bytes);
            __asm__ __volatile__("" : : "r"(dst) : "memory");
        }
        uint64_t t1 = now_ns();
        gbps[r] = (double)(bytes * inner) / (double)(t1 - t0); /* bytes/ns = GB/s */
    }
    printf("{\"name\":\"floor.memcpy_bandwidth\",\"unit\":\"GB/s\",\"value\":%.6g,\"bytes\":%zu,\"reps\":%d}\n",
           median(gbps, (size_t)reps), bytes, reps);
    free(src);
    free(dst);
    free(gbps);
}

/* Two processes take turns incrementing one shared counter: each side waits
 * for the other's value, then writes the next. */
static void cache_line_round_trip(int rounds)
{
    void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return;
    _Atomic uint64_t *line = map;
    atomic_store(line, 0);
    pid_t child = fork();
    if (child == 0) {
        tp_bench_pin(1);
        for (uint64_t v = 1;; v += 2) {
            while (atomic_load_explicit(line, memory_order_acquire) != v)
                ;
            atomic_store_explicit(line, v + 1, memory_order_release);
            if (v + 1 >= (uint64_t)rounds * 2)
                _exit(0);
        }
    }
    tp_bench_pin(0);
    double *rtt = calloc((size_t)rounds, sizeof *rtt);
    uint64_t v = 0;
    for (int i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        atomic_store_explicit(line, v + 1, memory_order_release);
        while (atomic_load_explicit(line, memory_order_acquire) != v + 2)
            ;
        rtt[i] = (double)(now_ns() - t0);
        v += 2;
    }
    waitpid(child, NULL, 0);
    qsort(rtt, (size_t)rounds, sizeof rtt[0], cmp_double);
    /* this is the placement probe's own measurement, longer: its regime is its own */
    const char *regime = tp_bench_regime((int64_t)rtt[rounds / 2], (int64_t)rtt[rounds / 2]);
    printf("{\"name\":\"floor.cache_line_round_trip\",\"unit\":\"ns\",\"value\":%.6g,\"stat\":\"p50\",\"rounds\":%d,"
           "\"regime\":\"%s\"}\n",
           rtt[rounds / 2], rounds, regime);
    printf("{\"name\":\"floor.cache_line_round_trip\",\"unit\":\"ns\",\"value\":%.6g,\"stat\":\"p99\",\"rounds\":%d,"
           "\"regime\":\"%s\"}\n",
           rtt[rounds * 99 / 100], rounds, regime);
    printf("{\"name\":\"floor.cache_line_one_way\",\"unit\":\"ns\",\"value\":%.6g,\"stat\":\"p50\","
           "\"note\":\"half the cache-line round trip\",\"regime\":\"%s\"}\n",
           rtt[rounds / 2] / 2, regime);
    free(rtt);
    munmap(map, 4096);
}

/* Half the round trip of n bytes + flag each way: the floor bench/run uses
 * for IPC one-way latency of n-byte messages. */
static void sized_one_way(size_t n, size_t rounds)
{
    int64_t rtt[3];
    const int64_t before = tp_bench_placement_probe();
    if (tp_bench_sized_round_trip(n, rounds, rtt) < 0)
        return;
    const char *regime = tp_bench_regime(before, tp_bench_placement_probe());
    printf("{\"name\":\"floor.sized_one_way\",\"unit\":\"ns\",\"value\":%.6g,\"stat\":\"p50\",\"msg_bytes\":%zu,"
           "\"lines_per_direction\":%zu,\"rtt_p50\":%lld,\"rtt_p99\":%lld,\"rounds\":%zu,"
           "\"note\":\"half the round trip of msg_bytes + flag\",\"regime\":\"%s\"}\n",
           (double)rtt[0] / 2, n, (n + 8 + 63) / 64, (long long)rtt[0], (long long)rtt[1], rounds, regime);
}

int main(void)
{
    memcpy_bandwidth(64u << 10, 31);
    memcpy_bandwidth(1u << 20, 31);
    memcpy_bandwidth(4u << 20, 15);
    cache_line_round_trip(200000);
    for (int i = 0; i < TP_BENCH_IPC_NSIZES; i++)
        sized_one_way(tp_bench_ipc_sizes[i], 200000);
    return 0;
}
