/* QoS and metadata traffic of the clients (docs/spec/wire.md §10.3, §10.4, §6
 * cadences): QosProducer / QosConsumer at the QoS interval, DataSourceAnnounce
 * with name and meta_version, DataSourceMeta on change (W-10.3.1.a,
 * W-10.3.2.a/b, W-10.4.1.a, W-10.4.2.a). */
#include "tp_test.h"

#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"

#include <unistd.h>

typedef struct seen_s {
    int qos_p, qos_c, ds_announce, ds_meta;
    uint64_t p_seq, c_last, c_epoch, c_drops;
    uint32_t meta_version, announce_meta_version;
    char name[64], key[64], value[64];
} seen_t;
static seen_t g_s;

static void on_msg(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)info;
    tp_control_qos_producer_dec_t qp;
    tp_control_qos_consumer_dec_t qc;
    tp_control_data_source_announce_dec_t da;
    tp_control_data_source_meta_dec_t dm;
    uint32_t n = 0;
    if (tp_control_qos_producer_decode(&qp, buf, len) == 0) {
        g_s.qos_p++;
        g_s.p_seq = tp_control_qos_producer_current_seq(&qp);
    } else if (tp_control_qos_consumer_decode(&qc, buf, len) == 0) {
        g_s.qos_c++;
        g_s.c_last = tp_control_qos_consumer_last_seq_seen(&qc);
        g_s.c_epoch = tp_control_qos_consumer_epoch(&qc);
        g_s.c_drops = tp_control_qos_consumer_drops_late(&qc) + tp_control_qos_consumer_drops_gap(&qc);
    } else if (tp_control_data_source_announce_decode(&da, buf, len) == 0) {
        g_s.ds_announce++;
        g_s.announce_meta_version = tp_control_data_source_announce_meta_version(&da);
        const char *s = tp_control_data_source_announce_name(&da, &n);
        rig_copy(g_s.name, sizeof g_s.name, s, n);
    } else if (tp_control_data_source_meta_decode(&dm, buf, len) == 0) {
        g_s.ds_meta++;
        g_s.meta_version = tp_control_data_source_meta_meta_version(&dm);
        tp_control_data_source_meta_attributes_iter_t it;
        tp_control_data_source_meta_attributes_iter(&dm, &it);
        if (tp_control_data_source_meta_attributes_next(&it) == 1) {
            const char *k = tp_control_data_source_meta_attributes_key(&it, &n);
            rig_copy(g_s.key, sizeof g_s.key, k, n);
            const uint8_t *v = tp_control_data_source_meta_attributes_value(&it, &n);
            char tmp[64];
            if (n >= sizeof tmp) n = sizeof tmp - 1;
            memcpy(tmp, v, n);
            rig_copy(g_s.value, sizeof g_s.value, tmp, n);
        }
    }
}

static void noop_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    (void)f;
}

static void test_qos_and_metadata(void)
{
    rig_setup(NULL);
    tp_ipc_subscription_t *qos = NULL, *meta = NULL;
    CHECK_EQ_I64(tp_ipc_subscription_open(&qos, &g_rig_ipc, rig_channel(), 1200), 0);
    CHECK_EQ_I64(tp_ipc_subscription_open(&meta, &g_rig_ipc, rig_channel(), 1300), 0);
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    ctx.qos_interval_ns = 50000000;
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, 10000, 0, "cam-left", "left camera"), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, 10000, 0), 0);
    if (p == NULL || c == NULL) return;
    const tp_meta_attr_t attr = {"units", "text", "mm", 2};
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 16;
    uint8_t src[16] = {0};
    int meta_set = 0;
    /* Run until every stream has shown what is checked below (bounded
     * generously: a loaded machine is slow, not wrong); the checks then say
     * what arrived, whatever the speed. */
    const int64_t start = tp_clock_monotonic_ns(), end = start + 20000000000LL;
    while (tp_clock_monotonic_ns() < end && (tp_clock_monotonic_ns() < start + 1500000000 || /* 5 leases long */
           !(g_s.qos_p >= 5 && g_s.qos_c >= 5 && g_s.p_seq > 100 && g_s.c_last > 100 && g_s.ds_announce >= 5 &&
             g_s.ds_meta >= 1 && g_s.announce_meta_version == 1 && g_s.value[0] != '\0'))) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(p, now);
        if (tp_producer_is_active(p)) {
            if (!meta_set) meta_set = tp_producer_set_meta(p, &attr, 1) == 0;
            tp_producer_offer(p, &t, src, 16, (uint64_t)now, NULL);
        }
        tp_consumer_poll(c, now, noop_frame, NULL, 16);
        tp_ipc_subscription_poll(qos, on_msg, NULL, 64);
        tp_ipc_subscription_poll(meta, on_msg, NULL, 64);
        usleep(1000);
    }
    CHECK(g_s.qos_p >= 5);
    CHECK(g_s.qos_c >= 5);
    CHECK(g_s.p_seq > 100);
    CHECK(g_s.c_last > 100);
    CHECK_EQ_U64(g_s.c_epoch, tp_consumer_epoch(c));
    CHECK(g_s.ds_announce >= 5);
    CHECK_STR(g_s.name, "cam-left");
    CHECK(g_s.ds_meta >= 1);
    CHECK_EQ_U64(g_s.meta_version, 1); /* W-10.3.2.b: the change bumped it */
    CHECK_EQ_U64(g_s.announce_meta_version, 1);
    CHECK_STR(g_s.key, "units");
    CHECK_STR(g_s.value, "mm");
    /* W-10.4.1.a, docs/spec/wire.md §5.5: a consumer that stops polling while the
     * producer laps the 64-slot ring counts drops_late (or drops_gap after a
     * resync) and reports them in QosConsumer */
    for (int i = 0; i < 500; i++) tp_producer_offer(p, &t, src, 16, (uint64_t)tp_clock_monotonic_ns(), NULL);
    const int64_t end2 = tp_clock_monotonic_ns() + 20000000000LL;
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    while (tp_clock_monotonic_ns() < end2 && !(d.drops_late + d.drops_gap >= 400 && g_s.c_drops >= 400)) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_driver_do_work(g_drv, now);
        tp_producer_do_work(p, now);
        tp_consumer_poll(c, now, noop_frame, NULL, 64);
        tp_ipc_subscription_poll(qos, on_msg, NULL, 64);
        tp_consumer_drops(c, &d);
        usleep(1000);
    }
    CHECK(d.drops_late + d.drops_gap >= 400);
    if (g_s.c_drops < 400) fprintf(stderr, "qos drops %llu, local late %llu gap %llu maps %llu qos_c %d\n", (unsigned long long)g_s.c_drops, (unsigned long long)d.drops_late, (unsigned long long)d.drops_gap, (unsigned long long)tp_consumer_maps(c), g_s.qos_c);
    /* D-4.4.b: the clients' configured interval (1 s default) is longer than
     * this driver's 300 ms lease; they keep alive within the granted expiry */
    tp_driver_client_stats_t cs, ps;
    tp_driver_client_stats(tp_consumer_driver_client(c), &cs);
    tp_driver_client_stats(tp_producer_driver_client(p), &ps);
    CHECK_EQ_U64(cs.lost, 0);
    CHECK_EQ_U64(ps.lost, 0);
    CHECK(g_s.c_drops >= 400);
    tp_consumer_close(c);
    tp_producer_close(p);
    tp_ipc_subscription_close(qos);
    tp_ipc_subscription_close(meta);
    rig_teardown();
}

int main(void)
{
    RUN(test_qos_and_metadata);
    TP_TEST_END();
}
