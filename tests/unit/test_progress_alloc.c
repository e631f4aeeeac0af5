/* FrameProgress hot paths allocate nothing after init (docs/architecture.md
 * "Memory"): tp_producer_progress for every row, the commit's COMPLETE, the
 * producer's pending-state flush and hint bookkeeping, and the consumer's
 * validation, prefix and handler call, with a producer and an opted-in
 * consumer attached next to the rig's driver (W-10.2.2.a/k, §5.6). */
#include "tp_test.h"

#include "alloc_count.h"
#include "driver_test_rig.h"
#include "tensorpool/frame_progress.h"

#include <unistd.h>

static uint64_t g_calls, g_rows, g_frames;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    (void)f;
    g_frames++;
}

static void on_progress(void *clientd, const tp_progress_t *p)
{
    (void)clientd;
    g_calls++;
    if (p->readable > 0 && tp_progress_intact(p)) g_rows += p->rows;
}

static void test_progress_allocates_nothing(void)
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
    const tp_progress_hints_t hints = {.interval_us = 1, .bytes_delta = 1, .major_delta_units = 1};
    CHECK_EQ_I64(tp_consumer_set_progress(c, &hints, on_progress, NULL), 0);
    const tp_progress_policy_t pol = {.interval_us = 250, .bytes_delta = 65536, .floor_interval_us = 0, .floor_bytes_delta = 64};
    CHECK_EQ_I64(tp_producer_set_progress_policy(p, &pol), 0);
    tp_tensor_header_t t;
    const int32_t dims[2] = {64, 64};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    uint64_t frames0 = 0, a0 = 0, f0 = 0, calls0 = 0;
    int64_t start = 0;
    /* warm up until progress and frames flow, then count for several QoS
     * periods (400 ms) and at least 200 frames (bounded at 30 s) */
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 1) {
            frames0 = g_frames;
            calls0 = g_calls;
            a0 = tp_alloc_count();
            f0 = tp_free_count();
            start = tp_clock_monotonic_ns();
        }
        for (int i = 0; i < 60000; i++) {
            const int64_t now = tp_clock_monotonic_ns();
            if (phase == 0 && g_frames >= 20 && g_calls >= 20) break;
            if (phase == 1 && (now > start + 30000000000LL || (now > start + 400000000 && g_frames - frames0 > 200))) break;
            tp_driver_do_work(g_drv, now);
            tp_producer_do_work(p, now);
            tp_shm_claim_t cl;
            if (tp_producer_is_active(p) && tp_producer_claim(p, &t, 4096, &cl) == 0) {
                for (unsigned r = 0; r < 64; r++) {
                    memset(cl.payload + r * 64u, (int)r, 64);
                    tp_producer_progress(p, &cl, (r + 1) * 64u);
                    if ((r & 15) == 0) tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, NULL, 16);
                }
                tp_producer_commit(p, &cl, (uint64_t)now);
            }
            tp_consumer_poll(c, now, on_frame, NULL, 16);
            usleep(200);
        }
    }
    CHECK_EQ_U64(tp_alloc_count() - a0, 0);
    CHECK_EQ_U64(tp_free_count() - f0, 0);
    CHECK(g_frames - frames0 > 200);
    CHECK(g_calls - calls0 > 200);
    CHECK(g_rows > 0);
    tp_consumer_close(c);
    tp_producer_close(p);
    rig_teardown();
}

int main(void)
{
    RUN(test_progress_allocates_nothing);
    TP_TEST_END();
}
