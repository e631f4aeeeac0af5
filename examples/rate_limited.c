/* Rate-limited delivery. A camera process publishes at 120 Hz; this process
 * reads it two ways at 5 Hz:
 *
 *   - a RATE_LIMITED consumer of the camera's stream (tp_consumer_set_max_rate):
 *     it decimates on its own side, by the frames' timestamps, and always gets
 *     the newest frame when its next 200 ms slot opens;
 *   - a plain consumer of a preview stream that a RateLimiter agent
 *     (tp_ratelimit_open, the library side of `tp ratelimit`) republishes at
 *     5 Hz, with the camera's seq numbers, payloads and metadata.
 *
 *   cc rate_limited.c $(pkg-config --cflags --libs tensorpool) -o rate_limited
 *   ./rate_limited [run_ms]
 *
 * The driver is embedded here; the files live in a fresh directory under
 * /dev/shm, removed at the end. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <tensorpool/consumer_rate.h>
#include <tensorpool/ratelimit.h>
#include <tensorpool/tensorpool.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CAMERA = 7, PREVIEW = 8, PREVIEW_HZ = 5 };

static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 64\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
                                  "[streams.camera]\n"
                                  "stream_id = 7\n"
                                  "profile = \"small\"\n"
                                  "[streams.preview]\n"
                                  "stream_id = 8\n"
                                  "profile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The camera process: 120 frames a second; frame seq s holds the number s. */
static int run_camera(int64_t run_ms)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, CAMERA, 0, "camera", "120 Hz") != 0) {
        fprintf(stderr, "camera: %s\n", tp_errmsg());
        return 1;
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL + 500000000LL, period = 1000000000LL / 120;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now);
        if (!tp_producer_is_active(p) || now < next) continue;
        next = now + period;
        const uint64_t v = tp_producer_next_seq(p);
        tp_producer_offer(p, &t, &v, sizeof v, (uint64_t)now, NULL);
    }
    tp_producer_close(p);
    return 0;
}

typedef struct {
    uint64_t frames, wrong;
} counts_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    counts_t *n = clientd;
    uint64_t v = 0;
    if (f->len == sizeof v) memcpy(&v, f->payload, sizeof v);
    if (f->len != sizeof v || v != f->seq || !tp_frame_intact(f)) n->wrong++; /* the rate limiter keeps seq */
    else n->frames++;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-rate-limited-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1);
    fflush(NULL);
    const pid_t camera = fork(); /* before any thread starts */
    if (camera == 0) {
        const int rc = run_camera(run_ms);
        fflush(NULL);
        _exit(rc);
    }
    static tp_driver_config_t dcfg;
    tp_driver_config_defaults(&dcfg);
    tp_driver_embedded_t *driver = NULL;
    if (tp_driver_config_parse(&dcfg, driver_toml, strlen(driver_toml)) != 0 ||
        tp_driver_config_apply_env(&dcfg, NULL) != 0 || tp_driver_embedded_start(&driver, &dcfg) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        return 1;
    }

    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    /* 1. A consumer of the camera that wants at most 5 frames a second. */
    tp_consumer_t *slow;
    /* 2. The RateLimiter: camera -> preview at 5 Hz, and a consumer of the preview. */
    tp_ratelimit_config_t rcfg;
    tp_ratelimit_config_init(&rcfg);
    rcfg.source_stream_id = CAMERA;
    rcfg.dest_stream_id = PREVIEW;
    rcfg.max_rate_hz = PREVIEW_HZ;
    tp_ratelimit_t *rl;
    tp_consumer_t *preview;
    if (tp_consumer_open(&slow, &ctx, CAMERA, 0) != 0 || tp_consumer_set_max_rate(slow, PREVIEW_HZ) != 0 ||
        tp_ratelimit_open(&rl, &ctx, &rcfg) != 0 || tp_consumer_open(&preview, &ctx, PREVIEW, 0) != 0) {
        fprintf(stderr, "open: %s\n", tp_errmsg());
        return 1;
    }
    counts_t a = {0, 0}, b = {0, 0};
    int64_t first = 0;
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL + 400000000LL;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end;) {
        int work = tp_consumer_poll(slow, now, on_frame, &a, 64);
        work += tp_ratelimit_do_work(rl, now);
        work += tp_consumer_poll(preview, now, on_frame, &b, 64);
        if (first == 0 && a.frames > 0) first = now;
        if (work == 0) sleep_ms(1);
    }
    const double secs = first != 0 ? (double)(tp_clock_monotonic_ns() - first) / 1e9 : 0.0;
    tp_consumer_rate_stats_t r;
    tp_consumer_rate_stats(slow, &r);
    tp_ratelimit_stats_t s;
    tp_ratelimit_stats(rl, &s);
    printf("rate-limited consumer: %llu frames in %.1f s, %llu passed over (not drops)\n",
           (unsigned long long)a.frames, secs, (unsigned long long)r.skipped_local);
    printf("preview stream: %llu frames; the rate limiter republished %llu and passed over %llu\n",
           (unsigned long long)b.frames, (unsigned long long)s.frames_out, (unsigned long long)s.frames_skipped);
    tp_consumer_close(preview);
    tp_ratelimit_close(rl);
    tp_consumer_close(slow);
    int status = 1;
    waitpid(camera, &status, 0);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    /* at most 5 a second (+1: the first frame passes at once), and something arrived */
    const double most = PREVIEW_HZ * secs + 2;
    const int ok = a.frames > 0 && b.frames > 0 && a.wrong == 0 && b.wrong == 0 && (double)a.frames <= most &&
                   (double)b.frames <= most && r.skipped_local > a.frames;
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
