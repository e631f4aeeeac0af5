/* The C side of the Python package's cross-language tests (python/tests) and
 * of its benchmark (bench/python_frame_bench.py).
 * Attaches to a running driver (TP_DIR from the environment, like every
 * client) and either produces or consumes the pattern frames the Python
 * tests use: a 4x8 uint32 tensor whose element i of frame seq s is
 * s * 1000 + i.
 *
 *   py_peer produce STREAM DURATION_MS PERIOD_MS   publish until DURATION_MS
 *   py_peer consume STREAM COUNT TIMEOUT_MS        read COUNT pattern frames
 *   py_peer bench STREAM COUNT TIMEOUT_MS          read up to COUNT frames of any size (until
 *                                                  none for 2 s): per-frame in-place read and
 *                                                  copy times (medians), JSON lines
 * Prints one JSON line and exits 0 when it did what it was asked. */
#include <tensorpool/tensorpool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ROWS = 4, COLS = 8, N = ROWS * COLS };

static void sleep_us(long us)
{
    const struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int produce(uint32_t stream, int64_t duration_ms, int64_t period_ms)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, stream, 0, "py_peer", "C pattern producer") != 0) {
        fprintf(stderr, "py_peer: producer: %s\n", tp_errmsg());
        return 1;
    }
    tp_tensor_header_t t;
    const int32_t dims[2] = {ROWS, COLS};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT32, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    uint64_t published = 0;
    const int64_t end = tp_clock_monotonic_ns() + duration_ms * 1000000LL;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_us(500)) {
        tp_producer_do_work(p, now);
        if (!tp_producer_is_active(p) || now < next) continue;
        next = now + period_ms * 1000000LL;
        tp_shm_claim_t c;
        if (tp_producer_claim(p, &t, N * sizeof(uint32_t), &c) != 0) continue;
        uint32_t *v = (uint32_t *)(void *)c.payload;
        for (uint32_t i = 0; i < N; i++) v[i] = (uint32_t)(c.seq * 1000u + i);
        if (tp_producer_commit(p, &c, (uint64_t)now) == 0) published++;
    }
    printf("{\"role\": \"producer\", \"published\": %llu}\n", (unsigned long long)published);
    tp_producer_close(p);
    return published > 0 ? 0 : 1;
}

typedef struct {
    uint64_t frames, wrong, overwritten, bytes;
    int bench;
    double *view_ns, *copy_ns;
    uint64_t cap;
    uint8_t *buf;
} tally_t;

static int64_t now_ns(void) { return tp_clock_monotonic_ns(); }

static void on_frame(void *clientd, const tp_frame_t *f)
{
    tally_t *n = clientd;
    if (n->bench) {
        if (n->frames >= n->cap || f->len > (32u << 20)) return;
        /* in place: touch the first and last byte, then the seqlock re-check */
        const int64_t t0 = now_ns();
        volatile uint8_t sink = (uint8_t)(f->payload[0] ^ f->payload[f->len - 1]);
        (void)sink;
        const int ok_view = tp_frame_intact(f);
        const int64_t t1 = now_ns();
        memcpy(n->buf, f->payload, f->len);
        const int ok_copy = tp_frame_intact(f);
        const int64_t t2 = now_ns();
        if (!ok_view || !ok_copy) {
            n->overwritten++;
            return;
        }
        n->view_ns[n->frames] = (double)(t1 - t0);
        n->copy_ns[n->frames] = (double)(t2 - t1);
        n->bytes = f->len;
        n->frames++;
        return;
    }
    uint32_t v[N];
    const tp_tensor_header_t *t = &f->header->tensor;
    if (f->len != sizeof v || t->dtype != TP_CONTROL_DTYPE_UINT32 || t->ndims != 2 || t->dims[0] != ROWS ||
        t->dims[1] != COLS) {
        n->wrong++;
        return;
    }
    memcpy(v, f->payload, sizeof v);
    if (!tp_frame_intact(f)) {
        n->overwritten++;
        return;
    }
    for (uint32_t i = 0; i < N; i++)
        if (v[i] != (uint32_t)(f->seq * 1000u + i)) {
            if (n->wrong++ == 0)
                fprintf(stderr, "py_peer: seq %llu element %u is %u\n", (unsigned long long)f->seq, i, v[i]);
            return;
        }
    n->frames++;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int consume(uint32_t stream, uint64_t count, int64_t timeout_ms, int bench)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_consumer_t *c;
    if (tp_consumer_open(&c, &ctx, stream, 0) != 0) {
        fprintf(stderr, "py_peer: consumer: %s\n", tp_errmsg());
        return 1;
    }
    tally_t n = {0};
    n.bench = bench;
    n.cap = count;
    if (bench) {
        n.view_ns = calloc(count, sizeof(double));
        n.copy_ns = calloc(count, sizeof(double));
        n.buf = malloc(32u << 20);
        if (n.view_ns == NULL || n.copy_ns == NULL || n.buf == NULL) return 1;
    }
    const int64_t end = tp_clock_monotonic_ns() + timeout_ms * 1000000LL;
    int64_t last_frame = 0; /* bench: ends 2 s after the producer stops */
    for (int64_t now; n.frames < count && (now = tp_clock_monotonic_ns()) < end;) {
        const uint64_t before = n.frames;
        if (tp_consumer_poll(c, now, on_frame, &n, 16) == 0) sleep_us(200);
        if (n.frames != before) last_frame = now;
        if (bench && last_frame != 0 && now - last_frame > 2000000000LL) break;
    }
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    if (bench && n.frames > 0) {
        qsort(n.view_ns, n.frames, sizeof(double), cmp_double);
        qsort(n.copy_ns, n.frames, sizeof(double), cmp_double);
        printf("{\"name\": \"c_frame_view\", \"unit\": \"us\", \"value\": %g, \"frame_bytes\": %llu, \"samples\": %llu}\n",
               n.view_ns[n.frames / 2] / 1e3, (unsigned long long)n.bytes, (unsigned long long)n.frames);
        printf("{\"name\": \"c_frame_copy\", \"unit\": \"us\", \"value\": %g, \"frame_bytes\": %llu, \"samples\": %llu}\n",
               n.copy_ns[n.frames / 2] / 1e3, (unsigned long long)n.bytes, (unsigned long long)n.frames);
    } else {
        printf("{\"role\": \"consumer\", \"frames\": %llu, \"wrong\": %llu, \"overwritten\": %llu, \"drops_gap\": %llu, "
               "\"drops_late\": %llu}\n",
               (unsigned long long)n.frames, (unsigned long long)n.wrong, (unsigned long long)n.overwritten,
               (unsigned long long)d.drops_gap, (unsigned long long)d.drops_late);
    }
    fflush(stdout);
    tp_consumer_close(c);
    free(n.view_ns), free(n.copy_ns), free(n.buf);
    return (bench ? n.frames > 0 : n.frames >= count) && n.wrong == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: py_peer produce STREAM DURATION_MS PERIOD_MS | consume|bench STREAM COUNT TIMEOUT_MS\n");
        return 2;
    }
    const uint32_t stream = (uint32_t)strtoul(argv[2], NULL, 10);
    const long long a = atoll(argv[3]), b = atoll(argv[4]);
    if (strcmp(argv[1], "produce") == 0) return produce(stream, a, b);
    if (strcmp(argv[1], "consume") == 0) return consume(stream, (uint64_t)a, b, 0);
    if (strcmp(argv[1], "bench") == 0) return consume(stream, (uint64_t)a, b, 1);
    fprintf(stderr, "py_peer: unknown role '%s'\n", argv[1]);
    return 2;
}
