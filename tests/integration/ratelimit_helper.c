/* Helper process for the rate-limit integration test (settings from the
 * environment: TP_DIR, POLICIES_*), one role per process:
 *
 *   ratelimit_helper producer STREAM HZ SECONDS
 *       publishes 64-byte frames at HZ whose first word is seq*3+1, with one
 *       metadata attribute; prints "published N" at the end
 *   ratelimit_helper consumer STREAM MAX_RATE_HZ SECONDS
 *       reads STREAM (RATE_LIMITED at MAX_RATE_HZ when > 0) and checks each
 *       frame's first word; prints "epochs=N" whenever it gets frames of a
 *       new epoch, and every 3 s after the first frame
 *       "window frames=F ms=M skipped=K drops=D bad=B"
 *
 * Exit status: 0 when SECONDS are over, 1 on a failure to open, 4 if a bad
 * frame was seen. */
#include "tensorpool/clock.h"
#include "tensorpool/consumer.h"
#include "tensorpool/consumer_rate.h"
#include "tensorpool/error.h"
#include "tensorpool/producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000LL

static void nap(void)
{
    const struct timespec ts = {0, 300000};
    nanosleep(&ts, NULL);
}

static int run_producer(uint32_t stream, double hz, int seconds)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &ctx, stream, 0, "rl-camera", "120 Hz test camera") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return 1;
    }
    const tp_meta_attr_t attr = {"units", "text", "mm", 2};
    tp_producer_set_meta(p, &attr, 1);
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 64;
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)seconds * 1000 * MS;
    const int64_t period = (int64_t)(1e9 / hz);
    int64_t next = 0;
    uint64_t n = 0;
    for (int64_t now = tp_clock_monotonic_ns(); now < end; now = tp_clock_monotonic_ns()) {
        tp_producer_do_work(p, now);
        if (tp_producer_is_active(p) && now >= next) {
            uint8_t buf[64] = {0};
            const uint64_t v = tp_producer_next_seq(p) * 3 + 1;
            memcpy(buf, &v, 8);
            if (tp_producer_offer(p, &t, buf, sizeof buf, (uint64_t)now, NULL) == 0) n++;
            next = next == 0 || now - next > period ? now + period : next + period;
        }
        nap();
    }
    printf("published %llu\n", (unsigned long long)n);
    tp_producer_close(p);
    return 0;
}

typedef struct cons_s {
    uint64_t frames, bad, epoch, epochs;
} cons_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    cons_t *c = clientd;
    uint64_t v = 0;
    if (f->len >= 8) memcpy(&v, f->payload, 8);
    if (f->len < 8 || v != f->seq * 3 + 1) c->bad++;
    c->frames++;
    if (f->epoch != c->epoch) {
        c->epoch = f->epoch;
        c->epochs++;
        printf("epochs=%llu\n", (unsigned long long)c->epochs);
        fflush(stdout);
    }
}

static int run_consumer(uint32_t stream, uint32_t rate, int seconds)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, stream, 0) != 0 || tp_consumer_set_max_rate(c, rate) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    cons_t s = {0};
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)seconds * 1000 * MS;
    int64_t win_start = 0;
    uint64_t win_frames = 0;
    for (int64_t now = tp_clock_monotonic_ns(); now < end; now = tp_clock_monotonic_ns()) {
        if (tp_consumer_poll(c, now, on_frame, &s, 64) < 0) break;
        if (win_start == 0 && s.frames > 0) {
            win_start = now;
            win_frames = s.frames;
        } else if (win_start != 0 && now - win_start >= 3000 * MS) {
            tp_consumer_rate_stats_t r;
            tp_consumer_rate_stats(c, &r);
            tp_shm_drops_t d;
            tp_consumer_drops(c, &d);
            printf("window frames=%llu ms=%lld skipped=%llu drops=%llu bad=%llu\n",
                   (unsigned long long)(s.frames - win_frames), (long long)((now - win_start) / MS),
                   (unsigned long long)(r.skipped_local + r.skipped_producer),
                   (unsigned long long)(d.drops_late + d.drops_invalid), (unsigned long long)s.bad);
            fflush(stdout);
            win_start = now;
            win_frames = s.frames;
        }
        nap();
    }
    tp_consumer_close(c);
    return s.bad != 0 ? 4 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && strcmp(argv[1], "producer") == 0)
        return run_producer((uint32_t)atoi(argv[2]), atof(argv[3]), atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "consumer") == 0)
        return run_consumer((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: ratelimit_helper producer STREAM HZ SECONDS | consumer STREAM MAX_RATE_HZ SECONDS\n");
    return 2;
}
