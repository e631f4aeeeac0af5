/* A producer and a consumer of one stream. The producer process publishes a
 * 2x3 float32 tensor every 5 ms, written in place in shared memory; the
 * consumer reads each frame in place and checks it.
 *
 *   cc producer_consumer.c $(pkg-config --cflags --libs tensorpool) -o producer_consumer
 *   ./producer_consumer [run_ms]
 *
 * The driver (embedded here; in a deployment `tp driver -c FILE`) creates the
 * stream's SHM files and hands them out with the leases: the producer maps
 * them read-write, the consumer read-only. All files live in a fresh
 * directory under /dev/shm, removed at the end. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <tensorpool/tensorpool.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SENSOR = 7 };

/* One profile (ring of 16 slots, 4 KiB payload slots) and the stream using it. */
static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 16\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
                                  "[streams.sensor]\n"
                                  "stream_id = 7\n"
                                  "profile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The producer process. Frame seq s holds s, s + 0.1, ..., s + 0.5. */
static int run_producer(int64_t run_ms)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx); /* base dir, namespace, stream ids and timers from the environment */
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, SENSOR, 0, "example-sensor", "2x3 float32 readings") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return 1;
    }
    const char units[] = "m/s^2";
    const tp_meta_attr_t meta[1] = {{"units", "text", units, sizeof units - 1}};
    tp_producer_set_meta(p, meta, 1); /* DataSourceMeta for consumers that care */

    tp_tensor_header_t t; /* describe the tensor once */
    const int32_t dims[2] = {2, 3};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    uint64_t published = 0;
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now); /* lease keepalive, QoS, metadata: call it often */
        if (!tp_producer_is_active(p) || now < next) continue; /* not attached (yet), or not due */
        next = now + 5000000;
        tp_shm_claim_t c;
        if (tp_producer_claim(p, &t, 6 * sizeof(float), &c) != 0) continue;
        float v[6];
        for (int i = 0; i < 6; i++) v[i] = (float)c.seq + (float)i / 10.0f;
        memcpy(c.payload, v, sizeof v); /* or write straight into c.payload */
        if (tp_producer_commit(p, &c, (uint64_t)now) == 0) published++; /* now: the capture time */
    }
    printf("producer: published %llu frames in epoch %llu\n", (unsigned long long)published,
           (unsigned long long)tp_producer_epoch(p));
    tp_producer_close(p); /* detaches: the driver starts a new epoch for the next producer */
    return published > 0 ? 0 : 1;
}

typedef struct {
    uint64_t frames, overwritten, wrong;
} counts_t;

/* Called by tp_consumer_poll for each frame, with a view into the pool. */
static void on_frame(void *clientd, const tp_frame_t *f)
{
    counts_t *n = clientd;
    float v[6];
    if (f->len != sizeof v) {
        n->wrong++;
        return;
    }
    memcpy(v, f->payload, sizeof v); /* read in place, then check it was not overwritten meanwhile */
    if (!tp_frame_intact(f)) {
        n->overwritten++;
        return;
    }
    const tp_tensor_header_t *t = &f->header->tensor;
    if (t->dtype != TP_CONTROL_DTYPE_FLOAT32 || t->ndims != 2 || t->dims[0] != 2 || t->dims[1] != 3 ||
        v[0] != (float)f->seq) {
        n->wrong++;
        return;
    }
    if (n->frames++ % 50 == 0)
        printf("consumer: epoch %llu seq %llu: [%.1f %.1f %.1f; %.1f %.1f %.1f]\n", (unsigned long long)f->epoch,
               (unsigned long long)f->seq, v[0], v[1], v[2], v[3], v[4], v[5]);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-producer-consumer-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1); /* every client context and the driver default to it */

    fflush(NULL);
    const pid_t producer = fork(); /* before any thread starts */
    if (producer == 0) {
        const int rc = run_producer(run_ms);
        fflush(NULL);
        _exit(rc);
    }

    static tp_driver_config_t dcfg; /* large: not on the stack */
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
    if (tp_consumer_open(&c, &ctx, SENSOR, 0) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    counts_t n = {0, 0, 0};
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL + 200000000LL;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end;)
        if (tp_consumer_poll(c, now, on_frame, &n, 64) == 0) sleep_ms(1); /* idle: nothing arrived */

    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    printf("consumer: read %llu frames (%llu overwritten while read, %llu wrong), drops: %llu gap, %llu late\n",
           (unsigned long long)n.frames, (unsigned long long)n.overwritten, (unsigned long long)n.wrong,
           (unsigned long long)d.drops_gap, (unsigned long long)d.drops_late);
    tp_consumer_close(c);
    int status = 1;
    waitpid(producer, &status, 0);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return n.frames > 0 && n.wrong == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
