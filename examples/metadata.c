/* Stream metadata: a producer process names its stream, sets attributes and
 * a 100 000-byte calibration blob, and halfway through changes the
 * attributes; the consumer gets them through callbacks and queries, and
 * checks that each frame names the metadata version it was committed under.
 *
 *   cc metadata.c $(pkg-config --cflags --libs tensorpool) -o metadata
 *   ./metadata [run_ms]
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <tensorpool/tensorpool.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CAMERA = 5, CALIB = 1, CALIB_LEN = 100000 };

static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 16\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
                                  "[streams.camera]\n"
                                  "stream_id = 5\n"
                                  "profile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint8_t calib_byte(size_t i) { return (uint8_t)(i * 13 + 7); }

/* The producer process: each frame's payload is the meta_version it is committed under. */
static int run_producer(int64_t run_ms)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    ctx.qos_interval_ns = 200000000; /* repeat the metadata five times a second */
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, CAMERA, 0, "front-camera", "a camera with a calibration") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return 1;
    }
    const tp_meta_attr_t attrs[2] = {{"units", "text/plain", "mm", 2}, {"fx", "text/plain", "600.5", 5}};
    static uint8_t calib[CALIB_LEN];
    for (size_t i = 0; i < sizeof calib; i++) calib[i] = calib_byte(i);
    if (tp_producer_set_meta(p, attrs, 2) != 0 || tp_producer_set_meta_blob(p, CALIB, calib, sizeof calib) != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return 1;
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {4};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    const int64_t start = tp_clock_monotonic_ns(), end = start + run_ms * 1000000LL;
    int changed = 0;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now); /* also sends the metadata and the blob's chunks */
        if (!changed && now > start + (end - start) / 2) {
            const tp_meta_attr_t recalibrated[2] = {{"units", "text/plain", "m", 1}, {"fx", "text/plain", "601.0", 5}};
            tp_producer_set_meta(p, recalibrated, 2); /* meta_version 2 -> 3 */
            changed = 1;
        }
        if (!tp_producer_is_active(p) || now < next) continue;
        next = now + 5000000;
        const uint32_t version = tp_producer_meta_version(p);
        tp_producer_offer(p, &t, &version, sizeof version, (uint64_t)now, NULL);
    }
    printf("producer: meta_version %u at the end\n", tp_producer_meta_version(p));
    tp_producer_close(p);
    return 0;
}

typedef struct {
    uint64_t frames, current, wrong_version, events[4];
} counts_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    counts_t *n = clientd;
    uint32_t stamped;
    if (f->len != sizeof stamped) return;
    memcpy(&stamped, f->payload, sizeof stamped);
    if (!tp_frame_intact(f)) return;
    n->frames++;
    if (stamped != f->meta_version) n->wrong_version++;
    if (f->meta_current) n->current++; /* the store holds this frame's attributes */
}

/* Called from tp_consumer_poll when the announce, the attributes or the blob change. */
static void on_meta(void *clientd, const tp_meta_store_t *s, tp_meta_event_t ev)
{
    counts_t *n = clientd;
    n->events[ev]++;
    tp_meta_attr_view_t v;
    tp_meta_blob_view_t b;
    if (ev == TP_META_EVENT_ATTRIBUTES && tp_meta_find(s, "units", &v) == 0)
        printf("consumer: attributes version %u: units = %s\n", tp_meta_version(s), (const char *)v.value);
    if (ev == TP_META_EVENT_BLOB && tp_meta_blob(s, &b))
        printf("consumer: blob type %u, %llu bytes, crc32c 0x%08llx\n", b.blob_type, (unsigned long long)b.len,
               (unsigned long long)b.checksum);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-metadata-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1);
    fflush(NULL);
    const pid_t producer = fork();
    if (producer == 0) {
        const int rc = run_producer(run_ms);
        fflush(NULL);
        _exit(rc);
    }
    static tp_driver_config_t dcfg;
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
    if (tp_consumer_open(&c, &ctx, CAMERA, 0) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    counts_t n;
    memset(&n, 0, sizeof n);
    tp_consumer_on_meta(c, on_meta, &n);
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL + 300000000LL;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end;)
        if (tp_consumer_poll(c, now, on_frame, &n, 64) == 0) sleep_ms(1);

    const tp_meta_store_t *s = tp_consumer_meta(c); /* the same, queried at the end */
    tp_meta_source_t src;
    tp_meta_blob_view_t b;
    int blob_ok = tp_meta_blob(s, &b) && b.blob_type == CALIB && b.len == CALIB_LEN;
    for (size_t i = 0; blob_ok && i < CALIB_LEN; i++) blob_ok = b.data[i] == calib_byte(i);
    const int named = tp_meta_source(s, &src) && strcmp(src.name, "front-camera") == 0;
    printf("consumer: stream \"%s\", attributes version %u (%u of them), blob %s; %llu frames, %llu with their "
           "version held, %llu naming a wrong version\n",
           named ? src.name : "?", tp_meta_version(s), tp_meta_attr_count(s), blob_ok ? "intact" : "MISSING",
           (unsigned long long)n.frames, (unsigned long long)n.current, (unsigned long long)n.wrong_version);
    const int ok = named && blob_ok && tp_meta_version(s) == 3 && n.frames > 0 && n.current > 0 && n.wrong_version == 0;
    tp_consumer_close(c);
    int status = 1;
    waitpid(producer, &status, 0);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
