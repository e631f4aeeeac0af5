/* Producer -> consumer metadata through a real driver (docs/spec/wire.md
 * §10.3): name and attributes reach the consumer's store, frames name the
 * meta_version that applies and whether it is held (W-10.3.2.b), a change
 * bumps the version and the same attributes again do not, a blob arrives
 * reassembled (W-10.3.3.a), and the steady state with metadata repeating
 * allocates nothing. */
#include "tp_test.h"

#include "alloc_count.h"
#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"

#include <unistd.h>

static uint64_t g_frames, g_frames_v[8], g_current_v[8];
static int g_events[4];

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    g_frames++;
    if (f->meta_version < 8) {
        g_frames_v[f->meta_version]++;
        if (f->meta_current) g_current_v[f->meta_version]++;
    }
}

static void on_meta(void *clientd, const tp_meta_store_t *s, tp_meta_event_t ev)
{
    (void)clientd;
    (void)s;
    g_events[ev]++;
}

static tp_producer_t *g_p;
static tp_consumer_t *g_c;
static uint8_t g_src[256];

static void cycle(void)
{
    const int64_t now = tp_clock_monotonic_ns();
    tp_driver_do_work(g_drv, now);
    tp_producer_do_work(g_p, now);
    if (tp_producer_is_active(g_p)) {
        tp_tensor_header_t t;
        memset(&t, 0, sizeof t);
        t.dtype = TP_CONTROL_DTYPE_UINT8;
        t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
        t.ndims = 1;
        t.dims[0] = 64;
        tp_producer_offer(g_p, &t, g_src, 64, (uint64_t)now, NULL);
    }
    tp_consumer_poll(g_c, now, on_frame, NULL, 16);
    usleep(300);
}

/* Run cycles until cond holds (at most 20 s). */
#define PUMP_UNTIL(cond)                                                                        \
    do {                                                                                        \
        const int64_t end_ = tp_clock_monotonic_ns() + 20000000000LL;                           \
        while (!(cond) && tp_clock_monotonic_ns() < end_) cycle();                              \
    } while (0)

static void test_metadata_reaches_consumer(void) /* W-10.3.1.a, W-10.3.2.a, W-10.3.2.b, W-10.3.3.a */
{
    rig_setup(NULL);
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    ctx.keepalive_interval_ns = 50000000;
    ctx.announce_period_ns = 100000000;
    ctx.qos_interval_ns = 50000000;
    CHECK_EQ_I64(tp_producer_open(&g_p, &ctx, 10000, 0, "cam-left", "left camera"), 0);
    CHECK_EQ_I64(tp_consumer_open(&g_c, &ctx, 10000, 0), 0);
    if (g_p == NULL || g_c == NULL) return;
    tp_consumer_on_meta(g_c, on_meta, NULL);
    const tp_meta_store_t *s = tp_consumer_meta(g_c);
    const tp_meta_attr_t attrs[2] = {{"units", "text/plain", "mm", 2}, {"fx", "text/plain", "600.5", 5}};
    CHECK_EQ_I64(tp_producer_set_meta(g_p, attrs, 2), 0);
    CHECK_EQ_U64(tp_producer_meta_version(g_p), 1);
    CHECK_EQ_I64(tp_producer_set_meta(g_p, attrs, 2), 0); /* unchanged: no new version */
    CHECK_EQ_U64(tp_producer_meta_version(g_p), 1);
    static uint8_t blob[150000]; /* three chunks */
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i ^ (i >> 8));
    CHECK_EQ_I64(tp_producer_set_meta_blob(g_p, 7, blob, sizeof blob), 0);
    CHECK_EQ_U64(tp_producer_meta_version(g_p), 2);
    tp_meta_blob_view_t b;
    PUMP_UNTIL(tp_meta_version(s) == 2 && tp_meta_blob(s, &b) == 1 && g_frames > 50);
    tp_meta_source_t src;
    CHECK_EQ_I64(tp_meta_source(s, &src), 1);
    CHECK_STR(src.name, "cam-left");
    CHECK_STR(src.summary, "left camera");
    CHECK_EQ_U64(tp_meta_version(s), 2);
    tp_meta_attr_view_t v;
    CHECK_EQ_I64(tp_meta_find(s, "fx", &v), 0);
    CHECK_STR((const char *)v.value, "600.5");
    CHECK_EQ_I64(tp_meta_blob(s, &b), 1);
    CHECK_EQ_U64(b.len, sizeof blob);
    CHECK_EQ_U64(b.blob_type, 7);
    CHECK(b.len == sizeof blob && memcmp(b.data, blob, sizeof blob) == 0);
    CHECK(g_events[TP_META_EVENT_ANNOUNCE] >= 1);
    CHECK(g_events[TP_META_EVENT_ATTRIBUTES] >= 1);
    CHECK_EQ_I64(g_events[TP_META_EVENT_BLOB], 1); /* the repeats are not new blobs */
    CHECK(g_frames_v[2] > 0 && g_current_v[2] > 0);

    /* steady state: frames, and announce, DataSourceMeta and the blob
     * repeating every 50 ms, allocate nothing on either side */
    const uint64_t frames0 = g_frames, a0 = tp_alloc_count(), f0 = tp_free_count();
    const int64_t start = tp_clock_monotonic_ns();
    while (tp_clock_monotonic_ns() < start + 20000000000LL &&
           (tp_clock_monotonic_ns() < start + 400000000 || g_frames - frames0 <= 300))
        cycle();
    CHECK_EQ_U64(tp_alloc_count() - a0, 0);
    CHECK_EQ_U64(tp_free_count() - f0, 0);
    CHECK(g_frames - frames0 > 300);

    /* a change mid-stream: version 3, frames say so once held */
    const tp_meta_attr_t attrs3[1] = {{"units", "text/plain", "m", 1}};
    CHECK_EQ_I64(tp_producer_set_meta(g_p, attrs3, 1), 0);
    CHECK_EQ_U64(tp_producer_meta_version(g_p), 3);
    PUMP_UNTIL(tp_meta_version(s) == 3 && g_current_v[3] > 20);
    CHECK_EQ_U64(tp_meta_attr_count(s), 1);
    CHECK(g_current_v[3] > 20);
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    CHECK_EQ_U64(c.refused_malformed + c.refused_oversized + c.refused_foreign, 0);
    CHECK_EQ_U64(c.blob_gap + c.blob_overlap + c.blob_checksum + c.blob_malformed + c.blob_oversized, 0);
    tp_consumer_close(g_c);
    tp_producer_close(g_p);
    rig_teardown();
}

int main(void)
{
    RUN(test_metadata_reaches_consumer);
    TP_TEST_END();
}
