/* SHM data-plane benchmark: producer publish cost, consumer validated read
 * cost (zero-copy view and copy-out) and the plain memcpy of the same bytes
 * measured in the same run, for 64 B, 64 KiB, 1 MiB and 4 MiB payloads.
 *
 * Prints one JSON object per line: {"name", "unit", "value", parameters...}.
 * Values are medians over repetitions; each repetition times a batch of
 * operations and divides. The throughput ratio of the validated copy-out read
 * to plain memcpy is the median of per-repetition ratios, the two measured
 * back to back on the same bytes (robust against a noisy shared host).
 * Publish is held against its own floor, a plain memcpy from the same source
 * into the same 8 rotating payload slots (at 4 MiB those 32 MiB do not stay
 * in cache, unlike the read floor's one slot).
 * Writer and reader run in this one thread, so these are uncontended costs
 * on warm caches, not cross-core latencies.
 *
 * usage: bench_shm [REPS]   (default 31)
 */
#include "tensorpool/error.h"
#include "tensorpool/shm_reader.h"
#include "tensorpool/shm_writer.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

enum { MAX_REPS = 101, KINDS = 8 };
enum { K_PUBLISH, K_COMMIT_ONLY, K_VIEW, K_COPY, K_MEMCPY, K_RATIO, K_WRITE_MEMCPY, K_PUBLISH_RATIO };

static void emit(const char *name, const char *unit, double value, uint32_t bytes, int reps, int iters)
{
    printf("{\"name\":\"%s\",\"unit\":\"%s\",\"value\":%.6g,\"payload_bytes\":%u,\"stat\":\"median\",\"reps\":%d,"
           "\"iters_per_rep\":%d}\n",
           name, unit, value, bytes, reps, iters);
}

static volatile uint64_t g_sink;

static int bench_size(const char *base, uint32_t bytes, int reps)
{
    const uint32_t stride = (bytes + 63u) / 64u * 64u;
    tp_shm_writer_config_t cfg = {.base_dir = base, .user = "bench", .ns = "bench", .stream_id = 1,
                                  .epoch = bytes, .nslots = 8, .npools = 1, .now_ns = now_ns()};
    cfg.pools[0].pool_id = 1;
    cfg.pools[0].stride_bytes = stride;
    tp_shm_writer_t *w = malloc(sizeof *w);
    tp_shm_reader_t *r = malloc(sizeof *r);
    uint8_t *src = aligned_alloc(64, stride), *dst = aligned_alloc(64, stride);
    if (!w || !r || !src || !dst) return -1;
    memset(src, 0x5A, stride);
    memset(dst, 0, stride);
    if (tp_shm_writer_open(w, &cfg) != 0) return -1;
    char ring_uri[TP_SHM_PATH_MAX + 64], pool_uri[TP_SHM_PATH_MAX + 64];
    tp_shm_reader_config_t rc = {.stream_id = 1, .epoch = bytes, .layout_version = 1, .nslots = 8,
                                 .npools = 1, .now_ns = now_ns(), .activity_window_ns = 3000000000ull};
    rc.ring_uri = ring_uri;
    rc.ring_uri_len = (size_t)tp_shm_writer_ring_uri(w, ring_uri, sizeof ring_uri);
    rc.pools[0].pool_id = 1;
    rc.pools[0].stride_bytes = stride;
    rc.pools[0].uri = pool_uri;
    rc.pools[0].uri_len = (size_t)tp_shm_writer_pool_uri(w, 0, pool_uri, sizeof pool_uri);
    tp_shm_bases_t bases;
    const char *dirs[] = {base};
    if (tp_shm_bases_init(&bases, dirs, 1) != 0 || tp_shm_reader_open(r, &bases, &rc) != 0) return -1;

    tp_tensor_header_t t;
    const int32_t dims[1] = {(int32_t)bytes};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    /* batch size: about 2 ms of copying per repetition, at least 1 */
    const int iters = bytes >= (1u << 20) ? 20 : bytes >= 65536 ? 200 : 20000;
    double res[KINDS][MAX_REPS];
    uint64_t seq = 0;
    tp_shm_view_t v;
    for (int rep = -1; rep < reps; rep++) { /* rep -1 warms caches and page tables */
        /* the kinds are interleaved per repetition so noise hits them alike */
        /* publish and its write floor (the same bytes into the same slots)
         * in alternating order, like the read pair below */
        uint64_t publish_ns = 0, write_ns = 0;
        for (int half = 0; half < 2; half++) {
            const uint64_t a = now_ns();
            if ((half ^ rep) & 1) {
                for (int i = 0; i < iters; i++) tp_shm_writer_publish(w, &t, src, bytes, 0, 0, &seq);
                publish_ns = now_ns() - a;
            } else {
                for (int i = 0; i < iters; i++) {
                    memcpy(w->pool[0].base + 64 + (size_t)((seq + 1 + (uint64_t)i) & 7) * stride, src, bytes);
                    __asm__ __volatile__("" ::: "memory"); /* keep every copy */
                }
                write_ns = now_ns() - a;
            }
        }
        const uint64_t t1 = now_ns();
        for (int i = 0; i < iters; i++) { /* protocol cost alone: claim + commit, no payload bytes */
            tp_shm_claim_t c;
            tp_shm_writer_claim(w, &t, bytes, &c);
            tp_shm_writer_commit(w, &c, 0, 0);
            seq = c.seq;
        }
        const uint64_t t2 = now_ns();
        unsigned ok = 0;
        for (int i = 0; i < iters; i++) {
            if (tp_shm_reader_begin(r, seq, &v) == TP_SHM_READ_OK) ok += tp_shm_reader_end(r, &v) == TP_SHM_READ_OK;
        }
        uint64_t t3 = now_ns();
        /* copy-out read and plain memcpy of the same bytes, in alternating
         * order so neither always runs on the caches the other left */
        uint64_t copy_ns = 0, memcpy_ns = 0;
        for (int half = 0; half < 2; half++) {
            const uint64_t a = now_ns();
            if ((half ^ rep) & 1) {
                for (int i = 0; i < iters; i++) ok += tp_shm_reader_read(r, seq, dst, stride, &v) == TP_SHM_READ_OK;
                copy_ns = now_ns() - a;
            } else {
                const uint8_t *p = r->pool[0].base + 64 + (size_t)(seq & 7) * stride; /* the slot read above */
                for (int i = 0; i < iters; i++) {
                    memcpy(dst, p, bytes);
                    __asm__ __volatile__("" ::"r"(dst) : "memory"); /* keep every copy */
                }
                memcpy_ns = now_ns() - a;
            }
        }
        g_sink += ok + dst[bytes - 1];
        if (ok != 2u * (unsigned)iters) {
            fprintf(stderr, "bench: %u of %d reads accepted\n", ok, 2 * iters);
            return -1;
        }
        if (rep < 0) continue;
        res[K_PUBLISH][rep] = (double)publish_ns / iters;
        res[K_COMMIT_ONLY][rep] = (double)(t2 - t1) / iters;
        res[K_VIEW][rep] = (double)(t3 - t2) / iters;
        res[K_COPY][rep] = (double)copy_ns / iters;
        res[K_MEMCPY][rep] = (double)memcpy_ns / iters;
        res[K_RATIO][rep] = (double)memcpy_ns / (double)copy_ns; /* paired: same repetition */
        res[K_WRITE_MEMCPY][rep] = (double)write_ns / iters;
        res[K_PUBLISH_RATIO][rep] = (double)write_ns / (double)publish_ns; /* paired, as for the read */
    }
    const double pub = median(res[K_PUBLISH], reps), commit = median(res[K_COMMIT_ONLY], reps);
    const double view = median(res[K_VIEW], reps), copy = median(res[K_COPY], reps);
    const double mc = median(res[K_MEMCPY], reps), ratio = median(res[K_RATIO], reps);
    emit("shm.publish", "ns", pub, bytes, reps, iters);
    emit("shm.publish_no_payload", "ns", commit, bytes, reps, iters);
    emit("shm.publish_memcpy_floor", "ns", median(res[K_WRITE_MEMCPY], reps), bytes, reps, iters);
    /* throughput ratio = write-floor time / publish time, per repetition */
    emit("shm.publish_vs_memcpy", "ratio", median(res[K_PUBLISH_RATIO], reps), bytes, reps, iters);
    emit("shm.read_view", "ns", view, bytes, reps, iters);
    emit("shm.read_copy", "ns", copy, bytes, reps, iters);
    emit("shm.memcpy_floor", "ns", mc, bytes, reps, iters);
    emit("shm.read_copy_bandwidth", "GB/s", bytes / copy, bytes, reps, iters);
    emit("shm.memcpy_floor_bandwidth", "GB/s", bytes / mc, bytes, reps, iters);
    /* throughput ratio = memcpy time / validated copy-out time, per repetition */
    emit("shm.read_copy_vs_memcpy", "ratio", ratio, bytes, reps, iters);
    tp_shm_reader_close(r);
    tp_shm_writer_close(w, 1);
    free(w);
    free(r);
    free(src);
    free(dst);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 31;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: bench_shm [REPS 1..%d]\n", MAX_REPS);
        return 2;
    }
    char base[] = "/dev/shm/tp-bench-XXXXXX";
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    const uint32_t sizes[] = {64, 65536, 1u << 20, 4u << 20};
    int rc = 0;
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0] && rc == 0; i++) {
        rc = bench_size(base, sizes[i], reps);
        if (rc != 0) fprintf(stderr, "bench_shm: %u bytes: %s\n", sizes[i], tp_errmsg());
    }
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : 1;
}
