/* Producer: attach to the driver as stream 7's producer and publish a 2x3
 * float32 tensor every 10 ms, written in place in shared memory.
 *
 *   producer [run_ms]           (base dir: $TP_DIR or a temp dir)
 *
 * The driver creates the SHM files and hands them out with the lease; the
 * producer never creates one. Each frame is claimed (a slot + payload),
 * filled in place, then committed: the commit publishes the FrameDescriptor
 * consumers and join stages wait for. */
#include "driver_util.h"
#include "tensorpool/producer.h"

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    example_use_dir(example_base_dir());
    tp_driver_embedded_t *driver = example_driver_start();
    if (driver == NULL) return 1;

    tp_client_context_t ctx;
    tp_client_context_init(&ctx); /* base dir, namespace, stream ids and timers from the environment */
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, EXAMPLE_STREAM, 0, "example-sensor", "2x3 float32 readings") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return 1;
    }
    const char units[] = "m/s^2";
    const tp_meta_attr_t meta[1] = {{"units", "text", units, sizeof units - 1}};
    tp_producer_set_meta(p, meta, 1); /* DataSourceMeta for consumers that care */

    tp_tensor_header_t t;
    const int32_t dims[2] = {2, 3};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    uint64_t published = 0;
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; example_sleep_ms(1)) {
        tp_producer_do_work(p, now); /* lease keepalive, QoS, metadata: call it often */
        if (!tp_producer_is_active(p) || now < next) continue;
        next = now + 10000000;
        tp_shm_claim_t c;
        if (tp_producer_claim(p, &t, 6 * sizeof(float), &c) != 0) continue;
        float v[6];
        for (int i = 0; i < 6; i++) v[i] = (float)published + (float)i / 10.0f;
        memcpy(c.payload, v, sizeof v); /* or write straight into c.payload */
        if (tp_producer_commit(p, &c, (uint64_t)now) == 0 && published++ % 25 == 0)
            printf("epoch %llu seq %llu: [%.1f %.1f %.1f; %.1f %.1f %.1f]\n",
                   (unsigned long long)tp_producer_epoch(p), (unsigned long long)c.seq, v[0], v[1], v[2], v[3], v[4],
                   v[5]);
    }
    printf("published %llu frames\n", (unsigned long long)published);
    tp_producer_close(p); /* detaches: the driver starts a new epoch for the next producer */
    tp_driver_embedded_stop(driver);
    example_cleanup();
    return published > 0 ? 0 : 1;
}
