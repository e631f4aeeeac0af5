/* Time to first row of a 16 MiB frame: progressive (FrameProgress, the
 * first prefix holding a whole row) against waiting for the whole frame (its
 * FrameDescriptor), measured on the same frames in one run
 * (docs/spec/wire.md W-10.2.2; frame_progress.h).
 *
 * usage: bench_progress [TRIALS [FRAMES_PER_TRIAL]]   (default 5 x 10)
 *
 * A driver, a producer pinned to CPU 0 and an opted-in consumer pinned to
 * CPU 1 run as separate processes in a temporary directory under /dev/shm.
 * The producer claims a frame of 1024 rows x 16 KiB (uint8 [1024, 16384]),
 * takes t0, fills it row by row calling tp_producer_progress after each row
 * (the consumer hints one row, so the first PROGRESS follows the first
 * row), and commits; frames are at least 2 ms apart (a 500 Hz camera at
 * most). The first 10 frames (every slot once) are a warm-up. The consumer records, per frame, the time of the first
 * progress with rows >= 1 and the time its descriptor delivered the frame.
 * Each trial is bracketed by the placement probe (placement.h); the regime
 * goes into each line. Printed per trial (JSON lines):
 *   progress_first_row_ns      p50 over the trial's frames of first row - t0
 *   whole_frame_first_row_ns   p50 of frame delivered - t0
 *   progress_first_row_speedup the ratio of the two p50s
 * and, over all trials, the medians of the trial p50s (trials = "all").
 */
#include "placement.h"

#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/driver_config.h"
#include "tensorpool/error.h"
#include "tensorpool/frame_progress.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define ROWS 1024u
#define ROW_BYTES 16384u
#define FRAME (ROWS * ROW_BYTES)
#define MAX_FRAMES 4096

typedef struct share_s {
    _Atomic int stop, consumer_ready, producer_ready;
    _Atomic uint64_t go_frames; /* the producer publishes until next_seq reaches this */
    _Atomic uint64_t done_frames; /* the consumer has both times of frames below this */
    int64_t t0[MAX_FRAMES];
    int64_t first_row[MAX_FRAMES];
    int64_t whole[MAX_FRAMES];
    int failed;
} share_t;

static share_t *g_sh;
static char g_dir[256];

static void nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void ctx_init(tp_client_context_t *ctx)
{
    tp_client_context_init(ctx);
    snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", g_dir);
    ctx->announce_period_ns = 500000000;
    ctx->qos_interval_ns = 200000000;
}

static void driver_main(void)
{
    static const char text[] =
        "[policies]\nannounce_period_ms = 500\n"
        "[profiles.big]\nheader_nslots = 8\npayload_pools = [ { pool_id = 1, stride_bytes = 16777216 } ]\n"
        "[streams.cam1]\nstream_id = 10000\nprofile = \"big\"\n";
    static tp_driver_config_t cfg;
    tp_driver_config_defaults(&cfg);
    if (tp_driver_config_parse(&cfg, text, strlen(text)) != 0) _exit(1);
    snprintf(cfg.base_dir, sizeof cfg.base_dir, "%s", g_dir);
    tp_driver_t *d = NULL;
    if (tp_driver_open(&d, &cfg, NULL) != 0) {
        fprintf(stderr, "bench_progress: driver: %s\n", tp_errmsg());
        _exit(1);
    }
    while (!atomic_load(&g_sh->stop)) {
        tp_driver_do_work(d, tp_clock_monotonic_ns());
        nap_us(500);
    }
    tp_driver_close(d, 0, NULL);
    _exit(0);
}

static void producer_main(void)
{
    tp_bench_pin(0);
    tp_client_context_t ctx;
    ctx_init(&ctx);
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &ctx, 10000, 0, "bench", NULL) != 0) _exit(1);
    tp_tensor_header_t t;
    const int32_t dims[2] = {ROWS, ROW_BYTES};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    while (!atomic_load(&g_sh->stop) && !(tp_producer_is_active(p) && tp_producer_progress_consumers(p) > 0)) {
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        nap_us(1000);
    }
    atomic_store(&g_sh->producer_ready, 1);
    while (!atomic_load(&g_sh->stop)) {
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        const uint64_t seq = tp_producer_next_seq(p);
        if (seq >= atomic_load(&g_sh->go_frames) || seq >= MAX_FRAMES || atomic_load(&g_sh->done_frames) < seq) {
            nap_us(200); /* one frame at a time: the consumer has the last one */
            continue;
        }
        nap_us(2000); /* frames 2 ms apart at least, as a camera's are: the per-stream
                       * PROGRESS interval (W-10.2.2.k) never holds a first row back */
        tp_shm_claim_t cl;
        if (tp_producer_claim(p, &t, FRAME, &cl) != 0) {
            g_sh->failed = 1;
            break;
        }
        g_sh->t0[cl.seq] = tp_bench_now_ns();
        tp_producer_progress(p, &cl, 0);
        for (unsigned r = 0; r < ROWS; r++) {
            memset(cl.payload + (size_t)r * ROW_BYTES, (int)(r + cl.seq), ROW_BYTES);
            tp_producer_progress(p, &cl, (uint64_t)(r + 1) * ROW_BYTES);
        }
        tp_producer_commit(p, &cl, (uint64_t)g_sh->t0[cl.seq]);
    }
    tp_producer_close(p);
    _exit(0);
}

static void on_progress(void *clientd, const tp_progress_t *p)
{
    (void)clientd;
    if (p->rows == 0 || p->seq >= MAX_FRAMES || g_sh->first_row[p->seq] != 0) return;
    const int64_t now = tp_bench_now_ns();
    if (p->payload[0] == (uint8_t)p->seq && tp_progress_intact(p)) g_sh->first_row[p->seq] = now; /* row 0 read */
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    const int64_t now = tp_bench_now_ns();
    if (f->seq >= MAX_FRAMES || f->len != FRAME) return;
    if (f->payload[0] == (uint8_t)f->seq && tp_frame_intact(f)) g_sh->whole[f->seq] = now; /* row 0 read */
    atomic_store(&g_sh->done_frames, f->seq + 1);
}

static void consumer_main(void)
{
    tp_bench_pin(1);
    tp_client_context_t ctx;
    ctx_init(&ctx);
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, 10000, 0) != 0) _exit(1);
    const tp_progress_hints_t hints = {.interval_us = 200, .bytes_delta = ROW_BYTES, .major_delta_units = 1};
    tp_consumer_set_progress(c, &hints, on_progress, NULL);
    while (!atomic_load(&g_sh->stop)) { /* busy: the consumer's CPU is its own */
        tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, NULL, 64);
        if (tp_consumer_is_mapped(c)) atomic_store(&g_sh->consumer_ready, 1);
    }
    tp_consumer_close(c);
    _exit(0);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int64_t median(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, tp_bench_cmp_i64);
    return n == 0 ? 0 : v[n / 2];
}

int main(int argc, char **argv)
{
    const int trials = argc > 1 ? atoi(argv[1]) : 5;
    const int per = argc > 2 ? atoi(argv[2]) : 10;
    if (trials < 1 || per < 1 || (long)trials * per + 2 > MAX_FRAMES) {
        fprintf(stderr, "usage: bench_progress [TRIALS [FRAMES_PER_TRIAL]]\n");
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "/dev/shm/tp-bench-progress-XXXXXX");
    if (mkdtemp(g_dir) == NULL) return 1;
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_sh == MAP_FAILED) return 1;
    memset(g_sh, 0, sizeof *g_sh);
    pid_t kid[3];
    kid[0] = fork();
    if (kid[0] == 0) driver_main();
    nap_us(100000);
    kid[1] = fork();
    if (kid[1] == 0) consumer_main();
    kid[2] = fork();
    if (kid[2] == 0) producer_main();
    const int64_t ready_by = tp_bench_now_ns() + 60000000000LL;
    while (!(atomic_load(&g_sh->producer_ready) && atomic_load(&g_sh->consumer_ready)) && tp_bench_now_ns() < ready_by)
        nap_us(1000);
    int rc = atomic_load(&g_sh->producer_ready) && atomic_load(&g_sh->consumer_ready) ? 0 : 1;
    int64_t *prog = calloc((size_t)trials, sizeof *prog), *whole = calloc((size_t)trials, sizeof *whole);
    int64_t *a = calloc((size_t)per, sizeof *a), *b = calloc((size_t)per, sizeof *b);
    const int warmup = 10; /* every slot of the 8 written and read once: no first-touch faults in a trial */
    int done = 0;
    for (int tr = -1; rc == 0 && tr < trials; tr++) {
        const uint64_t from = tr < 0 ? 0 : (uint64_t)warmup + (uint64_t)tr * (uint64_t)per;
        const uint64_t to = tr < 0 ? (uint64_t)warmup : from + (uint64_t)per;
        const int64_t before = tr < 0 ? 0 : tp_bench_placement_probe();
        atomic_store(&g_sh->go_frames, to);
        const int64_t end = tp_bench_now_ns() + 60000000000LL;
        while (atomic_load(&g_sh->done_frames) < to && tp_bench_now_ns() < end && !g_sh->failed) nap_us(1000);
        if (atomic_load(&g_sh->done_frames) < to || g_sh->failed) {
            fprintf(stderr, "bench_progress: frames stopped at %llu of %llu\n",
                    (unsigned long long)atomic_load(&g_sh->done_frames), (unsigned long long)to);
            rc = 1;
            break;
        }
        if (tr < 0) continue;
        const int64_t after = tp_bench_placement_probe();
        size_t n = 0;
        for (uint64_t s = from; s < to; s++)
            if (g_sh->first_row[s] != 0 && g_sh->whole[s] != 0) {
                a[n] = g_sh->first_row[s] - g_sh->t0[s];
                b[n] = g_sh->whole[s] - g_sh->t0[s];
                n++;
            }
        if (n == 0) {
            fprintf(stderr, "bench_progress: no frame had both times in trial %d\n", tr);
            rc = 1;
            break;
        }
        prog[done] = median(a, n);
        whole[done] = median(b, n);
        const char *regime = tp_bench_regime(before, after);
        printf("{\"name\":\"progress_first_row_ns\",\"unit\":\"ns\",\"value\":%lld,\"frame_bytes\":%u,\"rows\":%u,"
               "\"frames\":%zu,\"trial\":%d,\"regime\":\"%s\"}\n",
               (long long)prog[done], FRAME, ROWS, n, tr, regime);
        printf("{\"name\":\"whole_frame_first_row_ns\",\"unit\":\"ns\",\"value\":%lld,\"frame_bytes\":%u,\"rows\":%u,"
               "\"frames\":%zu,\"trial\":%d,\"regime\":\"%s\"}\n",
               (long long)whole[done], FRAME, ROWS, n, tr, regime);
        printf("{\"name\":\"progress_first_row_speedup\",\"unit\":\"x\",\"value\":%.6g,\"frame_bytes\":%u,\"trial\":%d,"
               "\"regime\":\"%s\"}\n",
               prog[done] > 0 ? (double)whole[done] / (double)prog[done] : 0.0, FRAME, tr, regime);
        fflush(stdout);
        done++;
    }
    if (rc == 0 && done > 0) {
        const int64_t mp = median(prog, (size_t)done), mw = median(whole, (size_t)done);
        printf("{\"name\":\"progress_first_row_ns\",\"unit\":\"ns\",\"value\":%lld,\"frame_bytes\":%u,\"rows\":%u,"
               "\"trials\":\"all\",\"trial_count\":%d}\n",
               (long long)mp, FRAME, ROWS, done);
        printf("{\"name\":\"whole_frame_first_row_ns\",\"unit\":\"ns\",\"value\":%lld,\"frame_bytes\":%u,\"rows\":%u,"
               "\"trials\":\"all\",\"trial_count\":%d}\n",
               (long long)mw, FRAME, ROWS, done);
        printf("{\"name\":\"progress_first_row_speedup\",\"unit\":\"x\",\"value\":%.6g,\"frame_bytes\":%u,"
               "\"trials\":\"all\",\"trial_count\":%d}\n",
               mp > 0 ? (double)mw / (double)mp : 0.0, FRAME, done);
    }
    atomic_store(&g_sh->stop, 1);
    for (int i = 2; i >= 0; i--) {
        int st = 0;
        for (int k = 0; k < 2000 && waitpid(kid[i], &st, WNOHANG) == 0; k++) nap_us(5000);
        if (waitpid(kid[i], &st, WNOHANG) == 0) {
            kill(kid[i], SIGKILL);
            waitpid(kid[i], &st, 0);
        }
    }
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(prog);
    free(whole);
    free(a);
    free(b);
    return rc;
}
