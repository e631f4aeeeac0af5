/* Consumer: read stream 7 in place, with drop accounting, while a producer
 * process publishes to it.
 *
 *   consumer [run_ms]           (base dir: $TP_DIR or a temp dir)
 *
 * The consumer attaches as a CONSUMER, maps the regions the driver announces
 * read-only, and gets a validated zero-copy view of each frame in its
 * handler. A frame it cannot read intact (the producer lapped the ring) is
 * counted as a drop, never retried. */
#include "driver_util.h"
#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"

/* A separate producer process writing one float per frame every 5 ms. */
static pid_t spawn_producer(int64_t run_ms)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    alarm(60);
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, EXAMPLE_STREAM, 0, "counter", NULL) != 0) _exit(1);
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    float x = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; example_sleep_ms(5)) {
        tp_producer_do_work(p, now);
        if (tp_producer_is_active(p) && tp_producer_offer(p, &t, &x, sizeof x, (uint64_t)now, NULL) == 0) x += 1;
    }
    tp_producer_close(p);
    _exit(0);
}

typedef struct {
    uint64_t frames, torn;
} counts_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    counts_t *n = clientd;
    float x;
    memcpy(&x, f->payload, sizeof x); /* read in place, then check it was not overwritten meanwhile */
    if (!tp_frame_intact(f)) {
        n->torn++;
        return;
    }
    if (n->frames++ % 50 == 0)
        printf("epoch %llu seq %llu: %s[%d] = %.0f\n", (unsigned long long)f->epoch, (unsigned long long)f->seq,
               tp_control_dtype_name(f->header->tensor.dtype), f->header->tensor.dims[0], x);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    example_use_dir(example_base_dir());
    const pid_t producer = spawn_producer(run_ms); /* before any thread starts: fork-safe */
    tp_driver_embedded_t *driver = example_driver_start();
    if (driver == NULL) return 1;

    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_consumer_t *c;
    if (tp_consumer_open(&c, &ctx, EXAMPLE_STREAM, 0) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    counts_t n = {0, 0};
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL + 200000000LL;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end;)
        if (tp_consumer_poll(c, now, on_frame, &n, 64) == 0) example_sleep_ms(1); /* idle: nothing arrived */

    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    printf("read %llu frames (%llu overwritten while read), drops: %llu gap, %llu late\n",
           (unsigned long long)n.frames, (unsigned long long)n.torn, (unsigned long long)d.drops_gap,
           (unsigned long long)d.drops_late);
    tp_consumer_close(c);
    example_reap(producer);
    tp_driver_embedded_stop(driver);
    example_cleanup();
    return n.frames > 0 ? 0 : 1;
}
