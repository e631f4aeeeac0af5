/* Helper process for the driver integration tests: a producer of
 * self-checking frames, a consumer that verifies them, or a one-shot
 * attach. Settings come from the environment (TP_DIR, POLICIES_*), as for
 * any client.
 *
 *   driver_helper producer STREAM SIZE [MAX_SECONDS]
 *   driver_helper consumer STREAM FRAMES_PER_EPOCH EPOCHS TIMEOUT_MS [PC_STREAM]
 *   driver_helper attach STREAM ROLE(1|2) TIMEOUT_MS
 *   driver_helper duo produce|consume SECONDS STREAM_A STREAM_B
 *       two producers (or two consumers) in one process, for SECONDS; the
 *       consumer prints "stream=S epochs=N" when S reaches its N-th epoch
 *       and "stream=S count=K" every 500 verified frames; both print
 *       "fault stream=S why=..." when their stream gives up a mapping; a
 *       corrupt frame does not end the consumer, it prints
 *       "corrupt stream=S slot=K" (K: the frame's payload slot)
 *
 * Exit status: 0 success; 1 failure or timeout; 3 (attach) refused, with
 * "code=<n> message=<text>" on stdout; 4 (consumer) corrupt frame seen.
 */
#include "tensorpool/clock.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/error.h"
#include "tensorpool/producer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap(void)
{
    struct timespec ts = {0, 200000}; /* 200 us */
    nanosleep(&ts, NULL);
}

/* Word i of frame (epoch, seq): a pattern a torn or misplaced read breaks. */
static uint64_t pattern(uint64_t epoch, uint64_t seq, uint64_t i)
{
    return (seq * 0x9E3779B97F4A7C15ull) ^ (epoch << 1) ^ (i * 0xD6E8FEB86659FD93ull);
}

static int run_producer(uint32_t stream, uint32_t size, int max_seconds)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &ctx, stream, 0, "helper", "self-checking frames") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return 1;
    }
    const tp_meta_attr_t attr = {"pattern", "text", "seq-epoch-v1", 12};
    tp_producer_set_meta(p, &attr, 1);
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT64;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = (int32_t)(size / 8);
    const int64_t end = max_seconds > 0 ? tp_clock_monotonic_ns() + (int64_t)max_seconds * 1000000000 : INT64_MAX;
    uint64_t last_epoch = 0;
    while (tp_clock_monotonic_ns() < end) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(p, now);
        if (!tp_producer_is_active(p)) {
            nap();
            continue;
        }
        const uint64_t epoch = tp_producer_epoch(p);
        if (epoch != last_epoch) {
            printf("producer active epoch=%llu\n", (unsigned long long)epoch);
            fflush(stdout);
            last_epoch = epoch;
        }
        tp_shm_claim_t c;
        if (tp_producer_claim(p, &t, size, &c) == 0) {
            uint64_t *w = (uint64_t *)(void *)c.payload;
            for (uint64_t i = 0; i < size / 8; i++) w[i] = pattern(epoch, c.seq, i);
            tp_producer_commit(p, &c, (uint64_t)now);
        }
        usleep(1000); /* ~1 kHz */
    }
    tp_producer_close(p);
    return 0;
}

typedef struct check_s {
    uint64_t epochs[16];
    uint64_t count[16];
    unsigned nepochs;
    uint64_t corrupt;
    const tp_consumer_t *consumer;
    int32_t want_stream; /* count only frames read from this descriptor stream (0: any) */
} check_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    check_t *k = clientd;
    const uint64_t *w = (const uint64_t *)(const void *)f->payload;
    int ok = f->len % 8 == 0 && f->header->tensor.dtype == TP_CONTROL_DTYPE_UINT64;
    for (uint64_t i = 0; ok && i < f->len / 8; i++) ok = w[i] == pattern(f->epoch, f->seq, i);
    if (!tp_frame_intact(f)) return; /* overwritten while reading: counted late, not corrupt */
    if (!ok) {
        k->corrupt++;
        return;
    }
    if (k->want_stream > 0 && tp_consumer_descriptor_stream(k->consumer) != k->want_stream) return;
    if (k->want_stream < 0 && tp_consumer_descriptor_stream(k->consumer) == 1100) return; /* not yet granted */
    unsigned e = 0;
    while (e < k->nepochs && k->epochs[e] != f->epoch) e++;
    if (e == k->nepochs) {
        if (k->nepochs == 16) return;
        k->epochs[k->nepochs++] = f->epoch;
        printf("consumer frames from epoch=%llu\n", (unsigned long long)f->epoch);
        fflush(stdout);
    }
    k->count[e]++;
}

static int run_consumer(uint32_t stream, uint64_t per_epoch, unsigned epochs, int64_t timeout_ms, int32_t pc_stream)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, stream, pc_stream) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    check_t k;
    memset(&k, 0, sizeof k);
    k.consumer = c;
    k.want_stream = pc_stream;
    const int64_t end = tp_clock_monotonic_ns() + timeout_ms * 1000000;
    int rc = 1;
    uint64_t maps_said = 0;
    unsigned done_said = 0;
    while (tp_clock_monotonic_ns() < end) {
        const int work = tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, &k, 64);
        if (k.corrupt > 0) {
            rc = 4;
            break;
        }
        /* progress lines the test waits on instead of sleeping */
        if (tp_consumer_maps(c) != maps_said) {
            maps_said = tp_consumer_maps(c);
            printf("consumer mapped n=%llu epoch=%llu\n", (unsigned long long)maps_said,
                   (unsigned long long)tp_consumer_epoch(c));
            fflush(stdout);
        }
        unsigned done = 0;
        for (unsigned e = 0; e < k.nepochs; e++) done += k.count[e] >= per_epoch;
        if (done > done_said) {
            done_said = done;
            printf("consumer epochs done=%u\n", done);
            fflush(stdout);
        }
        if (done >= epochs) {
            rc = 0;
            break;
        }
        if (work == 0) nap();
    }
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    printf("consumer result=%d epochs=%u maps=%llu accepted=%llu gap=%llu late=%llu invalid=%llu desc_stream=%d\n", rc,
           k.nepochs, (unsigned long long)tp_consumer_maps(c), (unsigned long long)d.accepted,
           (unsigned long long)d.drops_gap, (unsigned long long)d.drops_late, (unsigned long long)d.drops_invalid,
           tp_consumer_descriptor_stream(c));
    fflush(stdout);
    tp_consumer_close(c);
    return rc;
}

static int attached_cb(void *clientd, const tp_lease_t *l)
{
    (void)l;
    *(int *)clientd = 1;
    return 0;
}

static void lost_cb(void *clientd, const char *why)
{
    (void)clientd;
    (void)why;
}

static int run_attach(uint32_t stream, uint8_t role, int64_t timeout_ms)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    int attached = 0;
    const tp_driver_client_handlers_t h = {.clientd = &attached, .on_attached = attached_cb, .on_lease_lost = lost_cb};
    tp_driver_client_t *dc = NULL;
    if (tp_driver_client_open(&dc, &ctx, stream, role, 1, &h) != 0) {
        fprintf(stderr, "attach: %s\n", tp_errmsg());
        return 1;
    }
    const int64_t end = tp_clock_monotonic_ns() + timeout_ms * 1000000;
    int rc = 1;
    while (tp_clock_monotonic_ns() < end) {
        tp_driver_client_do_work(dc, tp_clock_monotonic_ns());
        const char *msg = NULL;
        const int32_t code = tp_driver_client_last_code(dc, &msg);
        if (attached) {
            printf("code=0 epoch=%llu\n", (unsigned long long)tp_driver_client_lease(dc)->epoch);
            rc = 0;
            break;
        }
        if (code >= 0) {
            printf("code=%d message=%s\n", code, msg);
            rc = 3;
            break;
        }
        nap();
    }
    fflush(stdout);
    tp_driver_client_close(dc);
    return rc;
}

/* ---- duo: two streams in one process (one may break, the other goes on) ---- */

typedef struct duo_stream_s {
    uint32_t stream;
    tp_producer_t *p;
    tp_consumer_t *c;
    check_t k;
    uint64_t total, last_epoch, faults;
} duo_stream_t;

static void duo_frame(void *clientd, const tp_frame_t *f)
{
    duo_stream_t *d = clientd;
    const uint64_t before = d->k.corrupt;
    const unsigned nepochs = d->k.nepochs;
    uint64_t counted = 0;
    for (unsigned e = 0; e < d->k.nepochs; e++) counted += d->k.count[e];
    on_frame(&d->k, f);
    uint64_t now = 0;
    for (unsigned e = 0; e < d->k.nepochs; e++) now += d->k.count[e];
    if (d->k.corrupt != before) { /* the test judges which frames a truncate may cut */
        printf("corrupt stream=%u slot=%u\n", d->stream, (unsigned)f->header->payload_slot);
        fflush(stdout);
        return;
    }
    if (d->k.nepochs != nepochs) printf("stream=%u epochs=%u\n", d->stream, d->k.nepochs);
    if (now != counted && ++d->total % 500 == 0) printf("stream=%u count=%llu\n", d->stream, (unsigned long long)d->total);
    fflush(stdout);
}

static void duo_fault(duo_stream_t *d, uint64_t n, const char *why)
{
    if (n == d->faults) return;
    d->faults = n;
    printf("fault stream=%u n=%llu why=%s\n", d->stream, (unsigned long long)n, why);
    fflush(stdout);
}

static int run_duo(int produce, int seconds, uint32_t a, uint32_t b)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    duo_stream_t d[2];
    memset(d, 0, sizeof d);
    d[0].stream = a;
    d[1].stream = b;
    for (int i = 0; i < 2; i++) {
        const int rc = produce ? tp_producer_open(&d[i].p, &ctx, d[i].stream, 0, "duo", "self-checking frames")
                               : tp_consumer_open(&d[i].c, &ctx, d[i].stream, 0);
        if (rc != 0) {
            fprintf(stderr, "duo: %s\n", tp_errmsg());
            return 1;
        }
        d[i].k.consumer = d[i].c;
    }
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT64;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 512;
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)seconds * 1000000000;
    int rc = 0;
    while (tp_clock_monotonic_ns() < end && rc == 0) {
        const int64_t now = tp_clock_monotonic_ns();
        for (int i = 0; i < 2; i++) {
            const char *why = "";
            if (!produce) {
                tp_consumer_poll(d[i].c, now, duo_frame, &d[i], 64);
                duo_fault(&d[i], tp_consumer_faults(d[i].c, &why), why);
                continue;
            }
            tp_producer_do_work(d[i].p, now);
            duo_fault(&d[i], tp_producer_faults(d[i].p, &why), why);
            if (!tp_producer_is_active(d[i].p)) continue;
            const uint64_t epoch = tp_producer_epoch(d[i].p);
            if (epoch != d[i].last_epoch) {
                printf("producer stream=%u epoch=%llu\n", d[i].stream, (unsigned long long)epoch);
                fflush(stdout);
                d[i].last_epoch = epoch;
            }
            tp_shm_claim_t c;
            if (tp_producer_claim(d[i].p, &t, 4096, &c) == 0) {
                uint64_t *w = (uint64_t *)(void *)c.payload;
                for (uint64_t j = 0; j < 512; j++) w[j] = pattern(epoch, c.seq, j);
                tp_producer_commit(d[i].p, &c, (uint64_t)now);
            }
        }
        if (produce) usleep(1000);
        else nap();
    }
    printf("duo result=%d\n", rc);
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
        tp_producer_close(d[i].p);
        tp_consumer_close(d[i].c);
    }
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 4 && strcmp(argv[1], "producer") == 0)
        return run_producer((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 0);
    if (argc >= 6 && strcmp(argv[1], "consumer") == 0)
        return run_consumer((uint32_t)atoi(argv[2]), (uint64_t)atoll(argv[3]), (unsigned)atoi(argv[4]), atoll(argv[5]),
                            argc > 6 ? atoi(argv[6]) : 0);
    if (argc >= 5 && strcmp(argv[1], "attach") == 0)
        return run_attach((uint32_t)atoi(argv[2]), (uint8_t)atoi(argv[3]), atoll(argv[4]));
    if (argc >= 6 && strcmp(argv[1], "duo") == 0)
        return run_duo(strcmp(argv[2], "produce") == 0, atoi(argv[3]), (uint32_t)atoi(argv[4]),
                       (uint32_t)atoi(argv[5]));
    fprintf(stderr, "usage: driver_helper producer|consumer|attach|duo ...\n");
    return 2;
}
