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

/* traced: the producer traces per frame and commits derived frames with
 * TraceLinkSets and 1->1 frames with a given id (TL-6.3.b, TL-8.1.b); the
 * consumer, which ignores trace ids, reads them all the same (TL-8.2.a). */
static void steady_state(int traced)
{
    g_frames = g_bytes = 0;
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
    if (traced) CHECK_EQ_I64(tp_producer_set_tracing(p, TP_TRACE_PER_FRAME, 9), 0);
    static const uint64_t parents[3] = {11, 12, 13};
    uint64_t traced_ok = 0;
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
            if (!traced) {
                tp_producer_commit(p, &cl, (uint64_t)now);
            } else if ((g_frames & 1) == 0) {
                const uint64_t before = tp_producer_last_trace_id(p);
                if (tp_producer_commit_derived(p, &cl, (uint64_t)now, parents, 3) == 0 &&
                    tp_producer_last_trace_id(p) > before)
                    traced_ok++;
            } else if (tp_producer_commit_traced(p, &cl, (uint64_t)now, 777) == 0 && tp_producer_last_trace_id(p) == 777) {
                traced_ok++;
            }
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
    if (traced) {
        uint64_t sent = 0, dropped = 0;
        tp_producer_trace_stats(p, &sent, &dropped);
        CHECK(traced_ok > 100);
        CHECK(sent > 50);
        CHECK_EQ_U64(dropped, 0);
    }
    tp_consumer_close(c);
    tp_producer_close(p);
    rig_teardown();
}

static void test_steady_state_allocates_nothing(void) { steady_state(0); }
static void test_traced_steady_state_allocates_nothing(void) { steady_state(1); } /* TL-5.b */

int main(void)
{
    RUN(test_steady_state_allocates_nothing);
    RUN(test_traced_steady_state_allocates_nothing);
    TP_TEST_END();
}
