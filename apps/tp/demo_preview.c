/* tp demo's 5 Hz preview of camera 1 (demo_preview.h). */
#include "demo_preview.h"
#include "stop_signal.h"

#include "tensorpool/agent.h"
#include "tensorpool/clock.h"
#include "tensorpool/consumer.h"
#include "tensorpool/consumer_rate.h"
#include "tensorpool/error.h"

#include <stdio.h>

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)f;
    demo_shared_preview_t *out = clientd;
    atomic_fetch_add_explicit(&out->frames, 1, memory_order_relaxed);
}

int demo_preview_main(const char *dir, uint32_t stream_id, demo_shared_preview_t *out, char *err, size_t errcap)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", dir);
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, stream_id, 0) != 0 || tp_consumer_set_max_rate(c, DEMO_PREVIEW_HZ) != 0) {
        snprintf(err, errcap, "preview: %s", tp_errmsg());
        tp_consumer_close(c);
        return 1;
    }
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 0, 2, 100000, 1000000);
    while (!tp_app_stop) {
        const int work = tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, out, 64);
        tp_consumer_rate_stats_t r;
        tp_consumer_rate_stats(c, &r);
        tp_shm_drops_t d;
        tp_consumer_drops(c, &d);
        atomic_store_explicit(&out->mapped, tp_consumer_is_mapped(c), memory_order_relaxed);
        atomic_store_explicit(&out->skipped, r.skipped_local + r.skipped_producer, memory_order_relaxed);
        atomic_store_explicit(&out->drops, d.drops_gap + d.drops_late + d.drops_invalid, memory_order_relaxed);
        tp_idle_strategy_idle(&idle, work > 0 ? work : 0);
    }
    tp_consumer_close(c);
    return 0;
}

void demo_preview_read(demo_shared_preview_t *in, uint32_t stream_id, demo_preview_stats_t *out)
{
    out->stream_id = stream_id;
    out->rate_hz = DEMO_PREVIEW_HZ;
    out->mapped = atomic_load(&in->mapped);
    out->frames = atomic_load(&in->frames);
    out->skipped = atomic_load(&in->skipped);
    out->drops = atomic_load(&in->drops);
}
