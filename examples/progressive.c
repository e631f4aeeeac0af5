/* Progressive frames: the consumer reads a large frame row by row while the
 * producer is still writing it. The producer process fills a 256 x 4096
 * uint8 image (1 MiB) one row at a time and reports each row with
 * tp_producer_progress; the consumer opted in with tp_consumer_set_progress
 * and checks the rows it is handed before the frame is complete, then gets
 * the whole frame as usual.
 *
 *   cc progressive.c $(pkg-config --cflags --libs tensorpool) -o progressive
 *   ./progressive [run_ms]
 *
 * Row r of frame seq holds the byte (seq + r) & 0xFF everywhere. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <tensorpool/tensorpool.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CAMERA = 9, ROWS = 256, ROW_BYTES = 4096 };

/* 1 MiB payload slots: one frame each. */
static const char driver_toml[] = "[profiles.big]\n"
                                  "header_nslots = 8\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 1048576 } ]\n"
                                  "[streams.camera]\n"
                                  "stream_id = 9\n"
                                  "profile = \"big\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The producer process: a frame every 20 ms, filled row by row. */
static int run_producer(int64_t run_ms)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, CAMERA, 0, "example-camera", "256x4096 uint8, filled row by row") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return 1;
    }
    tp_tensor_header_t t;
    const int32_t dims[2] = {ROWS, ROW_BYTES};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    uint64_t published = 0;
    /* Start once a consumer has opted in (a ConsumerHello sent before we were
     * listening is repeated a QoS interval later), or after 5 s without one. */
    const int64_t give_up = tp_clock_monotonic_ns() + 5000000000LL;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < give_up && tp_producer_progress_consumers(p) == 0; sleep_ms(1))
        tp_producer_do_work(p, now);
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now); /* also learns who opted in to progress */
        if (!tp_producer_is_active(p) || now < next) continue;
        next = now + 20000000;
        tp_shm_claim_t c;
        if (tp_producer_claim(p, &t, ROWS * ROW_BYTES, &c) != 0) continue;
        tp_producer_progress(p, &c, 0); /* STARTED (sent only if a consumer opted in) */
        for (int r = 0; r < ROWS; r++) {
            memset(c.payload + (size_t)r * ROW_BYTES, (int)((c.seq + (uint64_t)r) & 0xFF), ROW_BYTES);
            tp_producer_progress(p, &c, (uint64_t)(r + 1) * ROW_BYTES); /* throttled PROGRESS, then COMPLETE */
            if (r % 32 == 31) sleep_ms(1); /* a slow sensor: the rows arrive over ~8 ms */
        }
        if (tp_producer_commit(p, &c, (uint64_t)now) == 0) published++; /* the frame, as always */
    }
    uint64_t sent = 0, throttled = 0;
    tp_producer_progress_stats(p, &sent, &throttled);
    printf("producer: published %llu frames, %llu FrameProgress messages (%llu updates throttled)\n",
           (unsigned long long)published, (unsigned long long)sent, (unsigned long long)throttled);
    tp_producer_close(p);
    return published > 0 ? 0 : 1;
}

typedef struct {
    uint64_t updates, early_rows, wrong, frames;
    uint64_t seq, rows_checked; /* the frame whose rows are being checked */
} counts_t;

/* A prefix of whole rows of a frame still being written. */
static void on_progress(void *clientd, const tp_progress_t *pr)
{
    counts_t *n = clientd;
    n->updates++;
    if (pr->seq != n->seq) {
        n->seq = pr->seq;
        n->rows_checked = 0;
    }
    if (pr->row_bytes != ROW_BYTES) return; /* a layout other than ours: its rows mean something else */
    uint64_t wrong = 0;
    for (uint64_t r = n->rows_checked; r < pr->rows; r++) /* only rows not checked yet */
        for (int i = 0; i < ROW_BYTES; i++)
            wrong += pr->payload[r * ROW_BYTES + (uint64_t)i] != (uint8_t)((pr->seq + r) & 0xFF);
    if (!tp_progress_intact(pr)) return; /* the slot was reused meanwhile: what we read is void */
    n->wrong += wrong;
    if (pr->state != TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE && pr->rows > n->rows_checked)
        n->early_rows += pr->rows - n->rows_checked;
    if (pr->rows > n->rows_checked) n->rows_checked = pr->rows;
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    counts_t *n = clientd;
    const uint8_t last = f->payload[(size_t)ROWS * ROW_BYTES - 1];
    if (!tp_frame_intact(f)) return;
    if (f->len != ROWS * ROW_BYTES || last != (uint8_t)((f->seq + ROWS - 1) & 0xFF)) n->wrong++;
    n->frames++;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-progressive-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1);

    fflush(NULL);
    const pid_t producer = fork();
    if (producer == 0) {
        const int rc = run_producer(run_ms);
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
    tp_consumer_t *c;
    if (tp_consumer_open(&c, &ctx, CAMERA, 0) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    counts_t n;
    memset(&n, 0, sizeof n);
    n.seq = UINT64_MAX;
    /* Opt in: at most one update per 200 µs, after one more row (0 = the producer's default). */
    const tp_progress_hints_t hints = {.interval_us = 200, .bytes_delta = ROW_BYTES, .major_delta_units = 1};
    tp_consumer_set_progress(c, &hints, on_progress, &n);
    /* Until the producer is done, then 200 ms for its last frames. */
    int status = 1;
    int64_t end = INT64_MAX;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end;) {
        if (end == INT64_MAX && waitpid(producer, &status, WNOHANG) == producer) end = now + 200000000LL;
        if (tp_consumer_poll(c, now, on_frame, &n, 64) == 0) sleep_ms(1); /* idle: nothing arrived */
    }

    tp_progress_counters_t pc;
    tp_consumer_progress_counters(c, &pc);
    printf("consumer: %llu frames, %llu progress updates, %llu rows read before their frame was complete, "
           "%llu wrong, %llu messages refused\n",
           (unsigned long long)n.frames, (unsigned long long)n.updates, (unsigned long long)n.early_rows,
           (unsigned long long)n.wrong,
           (unsigned long long)(pc.refused_malformed + pc.refused_epoch + pc.refused_slot + pc.refused_length +
                                pc.refused_backwards + pc.refused_layout));
    tp_consumer_close(c);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return n.frames > 0 && n.early_rows > 0 && n.wrong == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
