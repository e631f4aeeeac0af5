/* End-to-end benchmark: a producer process and a consumer process attached
 * to a driver (embedded in the coordinating process), all over tp:ipc and
 * SHM. Reports, as JSON lines on stdout:
 *   - the transport's one-way latency (timestamped messages on their own
 *     stream, same processes, same run): the floor;
 *   - commit -> consumer callback latency p50/p99 for 64 B, 64 KiB, 1 MiB;
 *   - delivered frames/s for a 64 B burst.
 * Latency is CLOCK_MONOTONIC at the consumer callback minus the value the
 * producer read just before tp_producer_commit (stored as the slot's
 * timestamp_ns). Runs in well under 60 s.
 */
#include "tensorpool/clock.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/producer.h"

#include "placement.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STREAM 10000
#define PING_STREAM 4242
#define END_MARK 8u /* an 8-byte INT64 frame ends the run */

typedef struct phase_s {
    uint32_t bytes;
    uint32_t frames;
    int64_t gap_ns; /* pacing between frames; 0 = burst */
} phase_t;

static const phase_t phases[] = {
    {64, 10000, 50000},
    {65536, 4000, 100000},
    {1048576, 600, 1000000},
};
#define BURSTS 20u
#define BURST_FRAMES 5000u /* fits in one transport log: a burst is never lapped as a whole */

/* Sleep (not spin) between frames: on a 2-core machine a spinning producer
 * would take the core the consumer needs. */
static void spin_until(int64_t t)
{
    const struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static int producer_main(void)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p = NULL;
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    tp_ipc_publication_t *ping = NULL;
    if (tp_producer_open(&p, &ctx, STREAM, 0, "bench", NULL) != 0 ||
        tp_ipc_publication_open(&ping, &ipc, "tp:ipc", PING_STREAM) != 0) {
        fprintf(stderr, "bench producer: %s\n", tp_errmsg());
        return 1;
    }
    const int64_t give_up = tp_clock_monotonic_ns() + 10000000000;
    while (!tp_producer_is_active(p) && tp_clock_monotonic_ns() < give_up) {
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        usleep(1000);
    }
    if (!tp_producer_is_active(p)) {
        fprintf(stderr, "bench producer: never attached\n");
        return 1;
    }
    /* let the consumer map and settle */
    for (int i = 0; i < 500; i++) {
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        usleep(1000);
    }
    /* subscriptions notice a new publication at their rescan cadence (1 s):
     * warm up for 1.5 s with unmeasured messages (-1) before measuring */
    const int64_t warm_end = tp_clock_monotonic_ns() + 1500000000;
    while (tp_clock_monotonic_ns() < warm_end) {
        const int64_t none = -1;
        tp_ipc_publication_offer(ping, &none, sizeof none);
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        usleep(1000);
    }
    static uint8_t src[1048576];
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    /* transport floor and 64 B frames interleaved, 25 us apart, so both see
     * the same scheduling noise on a shared machine */
    t.dims[0] = 64;
    int64_t next = tp_clock_monotonic_ns();
    for (uint32_t i = 0; i < phases[0].frames; i++) {
        next += phases[0].gap_ns / 2;
        spin_until(next);
        int64_t now = tp_clock_monotonic_ns();
        tp_ipc_publication_offer(ping, &now, sizeof now);
        next += phases[0].gap_ns / 2;
        spin_until(next);
        tp_shm_claim_t c;
        if (tp_producer_claim(p, &t, 64, &c) == 0) {
            memcpy(c.payload, src, 64);
            now = tp_clock_monotonic_ns();
            tp_producer_commit(p, &c, (uint64_t)now);
        }
        if ((i & 255) == 0) tp_producer_do_work(p, now);
    }
    for (size_t ph = 1; ph < sizeof phases / sizeof phases[0]; ph++) {
        t.dims[0] = (int32_t)phases[ph].bytes;
        next = tp_clock_monotonic_ns() + 5000000;
        for (uint32_t i = 0; i < phases[ph].frames; i++) {
            spin_until(next);
            next += phases[ph].gap_ns;
            tp_shm_claim_t c;
            if (tp_producer_claim(p, &t, phases[ph].bytes, &c) != 0) continue;
            src[0] = (uint8_t)i;
            memcpy(c.payload, src, phases[ph].bytes);
            const int64_t now = tp_clock_monotonic_ns();
            tp_producer_commit(p, &c, (uint64_t)now);
            if ((i & 63) == 0) tp_producer_do_work(p, now);
        }
    }
    /* throughput: bursts of 64 B frames as fast as the producer can go */
    t.dims[0] = 64;
    int64_t busy_ns = 0;
    for (uint32_t b = 0; b < BURSTS; b++) {
        usleep(20000);
        tp_producer_do_work(p, tp_clock_monotonic_ns());
        const int64_t t0 = tp_clock_monotonic_ns();
        for (uint32_t i = 0; i < BURST_FRAMES; i++) tp_producer_offer(p, &t, src, 64, 2 + b, NULL); /* small ts = burst id */
        busy_ns += tp_clock_monotonic_ns() - t0;
    }
    usleep(20000);
    printf("{\"name\":\"producer_publish_rate\",\"unit\":\"frames/s\",\"value\":%.6g,\"frame_bytes\":64,\"frames\":%u}\n",
           (double)BURSTS * BURST_FRAMES / ((double)busy_ns / 1e9), BURSTS * BURST_FRAMES);
    fflush(stdout);
    t.dtype = TP_CONTROL_DTYPE_INT64;
    t.dims[0] = 1;
    for (int i = 0; i < 5; i++) { /* the end marker, repeated in case one is lapped */
        tp_producer_offer(p, &t, src, END_MARK, 1, NULL);
        usleep(2000);
    }
    tp_ipc_publication_close(ping);
    tp_producer_close(p);
    return 0;
}

typedef struct samples_s {
    int64_t *v;
    uint32_t n, cap;
} samples_t;

typedef struct consumer_state_s {
    samples_t lat[3];
    samples_t ping;
    uint64_t burst_frames[BURSTS];
    int64_t burst_first_ns[BURSTS], burst_last_ns[BURSTS];
    int burst_hit; /* the last poll delivered frames of burst last_burst */
    uint32_t last_burst;
    int done;
} consumer_state_t;

static void add(samples_t *s, int64_t v)
{
    if (s->n < s->cap) s->v[s->n++] = v;
}

/* A burst frame is only counted: the poll loop times bursts per poll (see
 * consumer_main), so that the handler adds no clock read per frame to the
 * consumer being measured. */
static void on_frame(void *clientd, const tp_frame_t *f)
{
    consumer_state_t *st = clientd;
    if (f->header->tensor.dtype == TP_CONTROL_DTYPE_INT64 && f->len == END_MARK) {
        st->done = 1;
        return;
    }
    if (f->header->timestamp_ns < 2 + BURSTS) { /* burst */
        const uint64_t b = f->header->timestamp_ns - 2;
        if (b >= BURSTS) return;
        st->burst_frames[b]++;
        st->last_burst = (uint32_t)b;
        st->burst_hit = 1;
        return;
    }
    const int64_t now = tp_clock_monotonic_ns();
    for (int i = 0; i < 3; i++)
        if (f->len == phases[i].bytes) add(&st->lat[i], now - (int64_t)f->header->timestamp_ns);
}

static void on_ping(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    consumer_state_t *st = clientd;
    int64_t ts;
    if (len != sizeof ts) return;
    memcpy(&ts, buf, sizeof ts);
    if (ts < 0) return; /* warm-up */
    add(&st->ping, tp_clock_monotonic_ns() - ts);
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t pct(samples_t *s, double q)
{
    if (s->n == 0) return -1;
    size_t i = (size_t)(q * (double)(s->n - 1));
    return s->v[i];
}

static int consumer_main(void)
{
    /* the run's rows carry the placement regime of probes bracketing it */
    const int64_t probe_before = tp_bench_placement_probe();
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    tp_consumer_t *c = NULL;
    tp_ipc_subscription_t *ping = NULL;
    if (tp_ipc_subscription_open(&ping, &ipc, "tp:ipc", PING_STREAM) != 0 || tp_consumer_open(&c, &ctx, STREAM, 0) != 0) {
        fprintf(stderr, "bench consumer: %s\n", tp_errmsg());
        return 1;
    }
    consumer_state_t st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < 3; i++) {
        st.lat[i].cap = phases[i].frames;
        st.lat[i].v = calloc(st.lat[i].cap, sizeof(int64_t));
    }
    st.ping.cap = 10000;
    st.ping.v = calloc(st.ping.cap, sizeof(int64_t));
    const int64_t give_up = tp_clock_monotonic_ns() + 50000000000;
    int64_t now = tp_clock_monotonic_ns();
    while (!st.done && now < give_up) {
        tp_ipc_subscription_poll(ping, on_ping, &st, 64);
        st.burst_hit = 0;
        tp_consumer_poll(c, now, on_frame, &st, 64);
        const int64_t after = tp_clock_monotonic_ns();
        if (st.burst_hit) { /* a burst's span: from before its first poll to after its last (bursts are 20 ms apart) */
            const uint32_t b = st.last_burst;
            if (st.burst_first_ns[b] == 0) st.burst_first_ns[b] = now;
            st.burst_last_ns[b] = after;
        }
        now = after;
    }
    const char *regime = tp_bench_regime(probe_before, tp_bench_placement_probe());
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    qsort(st.ping.v, st.ping.n, sizeof(int64_t), cmp_i64);
    const int64_t floor50 = pct(&st.ping, 0.5);
    printf("{\"name\":\"transport_one_way_latency\",\"unit\":\"ns\",\"value\":%lld,\"p50\":%lld,\"p99\":%lld,"
           "\"samples\":%u,\"channel\":\"tp:ipc\",\"message_bytes\":8,\"regime\":\"%s\"}\n",
           (long long)floor50, (long long)floor50, (long long)pct(&st.ping, 0.99), st.ping.n, regime);
    for (int i = 0; i < 3; i++) {
        qsort(st.lat[i].v, st.lat[i].n, sizeof(int64_t), cmp_i64);
        const int64_t p50 = pct(&st.lat[i], 0.5);
        printf("{\"name\":\"e2e_commit_to_callback_latency\",\"unit\":\"ns\",\"value\":%lld,\"p50\":%lld,\"p99\":%lld,"
               "\"frame_bytes\":%u,\"samples\":%u,\"sent\":%u,\"pacing_ns\":%lld,\"regime\":\"%s\"}\n",
               (long long)p50, (long long)p50, (long long)pct(&st.lat[i], 0.99), phases[i].bytes, st.lat[i].n,
               phases[i].frames, (long long)phases[i].gap_ns, regime);
        if (i == 0 && floor50 > 0)
            printf("{\"name\":\"e2e_latency_over_transport_p50\",\"unit\":\"ratio\",\"value\":%.6g,\"frame_bytes\":64,"
                   "\"regime\":\"%s\"}\n",
                   (double)p50 / (double)floor50, regime);
    }
    uint64_t delivered = 0;
    int64_t span = 0;
    for (uint32_t b = 0; b < BURSTS; b++) {
        delivered += st.burst_frames[b];
        if (st.burst_frames[b] > 1) span += st.burst_last_ns[b] - st.burst_first_ns[b];
    }
    printf("{\"name\":\"e2e_throughput\",\"unit\":\"frames/s\",\"value\":%.6g,\"frame_bytes\":64,\"sent\":%u,"
           "\"delivered\":%llu,\"drops_gap\":%llu,\"drops_late\":%llu,\"note\":\"frames delivered per second "
           "while bursts last; no back-pressure, so a slower consumer drops\",\"regime\":\"%s\"}\n",
           span > 0 ? (double)delivered / ((double)span / 1e9) : 0.0, BURSTS * BURST_FRAMES, (unsigned long long)delivered,
           (unsigned long long)d.drops_gap, (unsigned long long)d.drops_late, regime);
    fflush(stdout);
    tp_consumer_close(c);
    tp_ipc_subscription_close(ping);
    return st.done ? 0 : 1;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(void)
{
    char dir[] = "/dev/shm/tp-bench-driver-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    chmod(dir, 0770);
    setenv("TP_DIR", dir, 1);
    tp_driver_config_t *cfg = malloc(sizeof *cfg);
    tp_driver_config_defaults(cfg);
    const char *text = "[profiles.bench]\nheader_nslots = 64\npayload_pools = [ { pool_id = 1, stride_bytes = 64 },"
                       " { pool_id = 2, stride_bytes = 65536 }, { pool_id = 3, stride_bytes = 1048576 } ]\n"
                       "[streams.bench]\nstream_id = 10000\nprofile = \"bench\"\n";
    tp_driver_embedded_t *drv = NULL;
    if (tp_driver_config_parse(cfg, text, strlen(text)) != 0 || tp_driver_config_apply_env(cfg, NULL) != 0 ||
        tp_driver_embedded_start(&drv, cfg) != 0) {
        fprintf(stderr, "bench: driver: %s\n", tp_errmsg());
        return 1;
    }
    fflush(stdout);
    const pid_t cons = fork();
    if (cons == 0) _exit(consumer_main());
    usleep(100000);
    const pid_t prod = fork();
    if (prod == 0) _exit(producer_main());
    int rc = 0;
    const int64_t end = tp_clock_monotonic_ns() + 58000000000;
    int live = 2;
    while (live > 0 && tp_clock_monotonic_ns() < end) {
        int st = 0;
        const pid_t r = waitpid(-1, &st, WNOHANG);
        if (r > 0) {
            live--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
        } else {
            usleep(10000);
        }
    }
    if (live > 0) {
        kill(cons, SIGKILL);
        kill(prod, SIGKILL);
        while (waitpid(-1, NULL, 0) > 0) {
        }
        rc = 1;
    }
    tp_driver_embedded_stop(drv);
    free(cfg);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
