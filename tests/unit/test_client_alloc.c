/* Hot paths allocate nothing after init (docs/architecture.md "Memory"): producer
 * claim/commit/offer, consumer descriptor poll and slot read, and the
 * periodic work around them (keepalives, QoS, announces, activity refresh)
 * once a driver, a producer and a consumer are attached and mapped. */
#include "tp_test.h"

#include "alloc_count.h"
#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"

#include <unistd.h>

static uint64_t g_frames, g_bytes;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    if (f->len > 0 && tp_frame_intact(f)) g_bytes += f->payload[f->len - 1];
    g_frames++;
}

static void test_steady_state_allocates_nothing(void)
{
    rig_setup(NULL);
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    ctx.keepalive_interval_ns = 50000000;
    ctx.announce_period_ns = 100000000;
    ctx.qos_interval_ns = 50000000;
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, 10000, 0, "alloc", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, 10000, 0), 0);
    if (p == NULL || c == NULL) return;
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    uint8_t src[4096];
    memset(src, 7, sizeof src);
    /* warm up until frames flow end to end */
    for (int i = 0; i < 4000 && g_frames < 100; i++) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(p, now);
        if (tp_producer_is_active(p)) {
            t.dims[0] = 64;
            tp_producer_offer(p, &t, src, 64, (uint64_t)now, NULL);
        }
        tp_consumer_poll(c, now, on_frame, NULL, 16);
        usleep(500);
    }
    CHECK(g_frames >= 100);
    const uint64_t frames0 = g_frames;
    const uint64_t a0 = tp_alloc_count(), f0 = tp_free_count();
    /* several keepalive/QoS/announce periods (400 ms) and at least 500 frames
     * through, however slow the machine (bounded at 20 s) */
    const int64_t start = tp_clock_monotonic_ns();
    while (tp_clock_monotonic_ns() < start + 20000000000LL &&
           (tp_clock_monotonic_ns() < start + 400000000 || g_frames - frames0 <= 500)) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(p, now);
        t.dims[0] = 64;
        tp_producer_offer(p, &t, src, 64, (uint64_t)now, NULL); /* from a user buffer */
        tp_shm_claim_t cl;
        t.dims[0] = 4096;
        if (tp_producer_claim(p, &t, 4096, &cl) == 0) { /* in place */
            memset(cl.payload, 3, 4096);
            tp_producer_commit(p, &cl, (uint64_t)now);
        }
        tp_consumer_poll(c, now, on_frame, NULL, 16);
        usleep(200);
    }
    const uint64_t a1 = tp_alloc_count(), f1 = tp_free_count();
    CHECK_EQ_U64(a1 - a0, 0);
    CHECK_EQ_U64(f1 - f0, 0);
    CHECK(g_frames - frames0 > 500);
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    CHECK(d.accepted > 500);
    tp_consumer_close(c);
    tp_producer_close(p);
    rig_teardown();
}

int main(void)
{
    RUN(test_steady_state_allocates_nothing);
    TP_TEST_END();
}
