/* Embedded IPC benchmarks, as JSON lines on stdout.
 *
 *   shm_cacheline_rtt        one cache line bounced between two processes
 *                            through shared memory (p50/p99/p99.9); its half
 *                            is the cache-line floor
 *   ipc_sized_floor_half_rtt the size-matched floor (sized_floor.h): half the
 *                            round trip of N bytes + a flag each way, measured
 *                            right before the IPC ping-pong of that size
 *   ipc_oneway_latency       ping-pong over two tp:ipc streams between two
 *                            processes, reported as round trip / 2, for 64 B
 *                            and 1 KiB; ratio_to_sized_floor = value / the
 *                            size-matched floor of the same size and stat,
 *                            ratio_to_cacheline_floor = value / (cache-line
 *                            rtt / 2)
 *   ipc_transport_rtt        the same ping-pong (full round trip, p50 and
 *                            p99) at 32 B, 256 B and 1 KiB over tp:ipc and,
 *                            in builds with Aeron, over aeron:ipc (16 MiB
 *                            term) with an embedded media driver, in the
 *                            same run; trials bracketed by the placement
 *                            probe (placement.h), medians per regime
 *                            (near/mid/far/mixed); ipc_transport_rtt_ratio =
 *                            tp:ipc p50 / aeron p50 of the same regime
 *   ipc_throughput           32-byte messages/s offered by one and by two
 *                            publisher processes, and delivered to one
 *                            subscriber process (with the loss it counted);
 *                            no back-pressure, so a subscriber slower than
 *                            the publisher loses messages and counts them.
 *                            With two publishers on a 2-CPU box the second
 *                            publisher shares a CPU with the subscriber.
 *                            side=offered_no_subscriber: one publisher alone.
 *   ipc_transport_throughput one publisher, one subscriber process, 32 B and
 *                            256 B, over tp:ipc (16 MiB log, lossy:
 *                            loss beside it), tp:ipc?lossless=true (same
 *                            log, back-pressured) and aeron:ipc (16 MiB
 *                            term, back-pressured, lossless) in the same
 *                            run, trials bracketed by the placement probe,
 *                            medians per regime, loss_fraction and
 *                            messages_lost beside each delivered rate;
 *                            _ratio = each tp:ipc mode's delivered / aeron
 *                            delivered. Every throughput run first sends
 *                            64 MiB through the log untimed, so page faults
 *                            of a fresh log are not measured. reader_batch
 *                            beside each delivered rate: messages per poll
 *                            that delivered any; side=offered_no_subscriber:
 *                            the tp:ipc publisher with nobody reading, in the
 *                            same trial
 *   ipc_transport_reader_cost lossless delivered / offered_no_subscriber
 *
 * Every cross-core row carries "regime" (near / mid / far / mixed / unknown) from
 * placement probes bracketing it (placement.h); a floor and the measurement
 * it bounds share one bracket.
 *
 * Both processes are pinned to different CPUs when there are at least two.
 * Usage: bench_ipc [--quick] [--latency-only] [--transports]
 *                  [--transport-throughput-only] [--transport-rtt-only]
 *   --quick: fewer samples, for smoke runs; --latency-only: skip throughput;
 *   --transports: only the tp:ipc / aeron:ipc side-by-side runs;
 *   --transport-throughput-only: only the ipc_transport_throughput rows;
 *   --transport-rtt-only: only the ipc_transport_rtt rows
 */
#include "tensorpool/clock.h"
#include "tensorpool/ipc.h"
#include "sized_floor.h"
#include "placement.h"
#include "ipc/ipc_media_driver.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>

typedef struct {
    _Alignas(64) _Atomic uint64_t ping;
    _Alignas(64) _Atomic uint64_t pong;
    _Alignas(64) _Atomic int ready;
    _Atomic int go;
    _Atomic int done;
    _Atomic uint64_t received;
    _Atomic uint64_t lost;
    _Atomic uint64_t busy_polls; /* the subscriber's polls that delivered something */
    _Atomic int64_t sub_elapsed_ns;
    _Atomic int64_t pub_elapsed_ns[2];
} shared_t;

static shared_t *sh;
static tp_ipc_context_t ctx;
static char base_dir[256];
static int quick;


static int64_t pct(const int64_t *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* Placement regime of the measurement being reported (placement.h); rows
 * that carry their own ("regime" in params) keep it. */
static const char *g_regime;

static void emit(const char *name, const char *unit, double value, const char *params)
{
    const int add = g_regime != NULL && strstr(params, "\"regime\"") == NULL;
    printf("{\"name\":\"%s\",\"unit\":\"%s\",\"value\":%.6g%s%s%s%s%s}\n", name, unit, value, params[0] ? "," : "",
           params, add ? (params[0] ? ",\"regime\":\"" : "\"regime\":\"") : "", add ? g_regime : "", add ? "\"" : "");
    fflush(stdout);
}

/* Trials of a cross-core measurement are grouped by the regime of the
 * probes bracketing them (placement.h). */
enum { MAX_TRIALS = 16 };

/* ---- floor: a cache line bounced between two processes ---- */

static void floor_run(size_t samples, int64_t out_pct[3], double *clock_overhead)
{
    int64_t *rtt = malloc(samples * sizeof *rtt);
    if (rtt == NULL || tp_bench_cacheline_rtts(rtt, samples) != 0) exit(1);
    tp_bench_pin(0);
    qsort(rtt, samples, sizeof *rtt, tp_bench_cmp_i64);
    out_pct[0] = pct(rtt, samples, 0.5);
    out_pct[1] = pct(rtt, samples, 0.99);
    out_pct[2] = pct(rtt, samples, 0.999);
    free(rtt);
    /* Cost of the two clock reads inside each sample, for the record. */
    int64_t t0 = tp_clock_monotonic_ns();
    for (int i = 0; i < 100000; i++) (void)tp_clock_monotonic_ns();
    *clock_overhead = (double)(tp_clock_monotonic_ns() - t0) / 100000.0;
}

/* ---- ipc ping-pong ---- */

typedef struct {
    tp_ipc_publication_t *pub;
    uint64_t count;
    uint64_t last;
} echo_t;

/* Offer until accepted: tp:ipc always accepts; Aeron refuses until the
 * other side is connected and while back-pressured. A refused offer yields
 * the CPU, as an Aeron publisher's idle strategy does: an Aeron publication
 * only moves ahead when the media driver's conductor thread has seen the
 * subscriber's progress, and on 2 CPUs held by a spinning publisher and a
 * spinning subscriber that thread gets none unless someone yields (the
 * publisher spinning on back-pressure held aeron:ipc to ~1 M msg/s). */
static void offer_until_taken(tp_ipc_publication_t *pub, const void *buf, size_t len)
{
    for (long i = 0; tp_ipc_publication_offer(pub, buf, len) < 0; i++) {
        if (i > 100000000L) {
            fprintf(stderr, "offer never accepted: %s\n", tp_errmsg());
            _exit(1);
        }
        sched_yield();
    }
}

static void echo_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    echo_t *e = clientd;
    (void)info;
    offer_until_taken(e->pub, buf, len);
    e->count++;
}

static void count_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)buf;
    (void)len;
    (void)info;
    (*(uint64_t *)clientd)++;
}

/* Counts the throughput runs' timed messages (not the warm-up's, whose
 * first 8 bytes are all ones). */
static void timed_count_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)len;
    (void)info;
    uint64_t v;
    memcpy(&v, buf, sizeof v);
    if (v != UINT64_MAX) (*(uint64_t *)clientd)++;
}

/* The pinger's side of a round trip that reads the reply: the echo must be
 * the message sent, byte for byte. */
typedef struct {
    uint64_t got;
    const uint8_t *sent;
    size_t len;
    uint64_t wrong;
} echo_check_t;

static void echo_check_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    echo_check_t *c = clientd;
    (void)info;
    if (len != c->len || memcmp(buf, c->sent, len) != 0) c->wrong++;
    c->got++;
}

/* Ping on stream `ping`, echo on ping + 1. Each size gets its own pair, so
 * a run does not also poll the previous run's closed (lingering) logs. */
static void latency_run(const char *ch, size_t msg, size_t samples, int64_t out_pct[3], int32_t ping,
                        int read_reply)
{
    size_t total = samples + samples / 10;
    atomic_store(&sh->ready, 0);
    tp_ipc_subscription_t *back;
    if (tp_ipc_subscription_open(&back, &ctx, ch, ping + 1) < 0) {
        fprintf(stderr, "sub: %s\n", tp_errmsg());
        exit(1);
    }
    pid_t child = fork();
    if (child == 0) {
        tp_bench_pin(1);
        tp_ipc_subscription_t *in;
        echo_t e = {0};
        if (tp_ipc_subscription_open(&in, &ctx, ch, ping) < 0 ||
            tp_ipc_publication_open(&e.pub, &ctx, ch, ping + 1) < 0)
            _exit(1);
        atomic_store(&sh->ready, 1);
        while (e.count < total) tp_ipc_subscription_poll(in, echo_handler, &e, 16);
        tp_ipc_publication_close(e.pub);
        tp_ipc_subscription_close(in);
        _exit(0);
    }
    tp_bench_pin(0);
    tp_ipc_publication_t *out;
    if (tp_ipc_publication_open(&out, &ctx, ch, ping) < 0) exit(1);
    while (!atomic_load(&sh->ready)) sched_yield();
    /* wait until both sides follow each other's publication */
    while (tp_ipc_subscription_image_count(back) < 1) {
        uint64_t dummy = 0;
        tp_ipc_subscription_poll(back, count_handler, &dummy, 1);
    }
    uint8_t *buf = calloc(1, msg);
    int64_t *rtt = malloc(samples * sizeof *rtt);
    echo_check_t check = {.sent = buf, .len = msg};
    for (uint64_t i = 0; i < total; i++) {
        memcpy(buf, &i, sizeof i);
        int64_t t0 = tp_clock_monotonic_ns();
        offer_until_taken(out, buf, msg);
        if (read_reply)
            while (check.got == i) tp_ipc_subscription_poll(back, echo_check_handler, &check, 1);
        else
            while (check.got == i) tp_ipc_subscription_poll(back, count_handler, &check.got, 1);
        int64_t t1 = tp_clock_monotonic_ns();
        if (i >= total - samples) rtt[i - (total - samples)] = t1 - t0;
    }
    waitpid(child, NULL, 0);
    if (check.wrong != 0) {
        fprintf(stderr, "bench_ipc: %s: %llu of %llu echoes differ from what was sent\n", ch,
                (unsigned long long)check.wrong, (unsigned long long)total);
        exit(1);
    }
    qsort(rtt, samples, sizeof *rtt, tp_bench_cmp_i64);
    out_pct[0] = pct(rtt, samples, 0.5);
    out_pct[1] = pct(rtt, samples, 0.99);
    out_pct[2] = pct(rtt, samples, 0.999);
    free(rtt);
    free(buf);
    tp_ipc_publication_close(out);
    tp_ipc_subscription_close(back);
}

/* ---- throughput ---- */

typedef struct {
    double offered;   /* msgs/s over the publishing window */
    double delivered; /* msgs/s delivered over the same window */
    uint64_t got;
    uint64_t lost;
    double reader_batch; /* messages per poll that delivered any */
} tput_result_t;

/* npub publisher processes offer per_pub messages of msg_bytes each on ch,
 * one subscriber process counts them. Plain tp:ipc never waits (a slow
 * reader is lapped and counts the loss), so its offers are taken as they
 * come; tp:ipc?lossless=true and Aeron publications wait while
 * back-pressured (offer_until_taken), so they lose nothing. With
 * subscribed == 0 the subscriber process listens on another stream: the
 * publishers run alone, with the same processes and pinning. */
static tput_result_t throughput_once_on(const char *ch, size_t msg_bytes, int npub, uint64_t per_pub, int32_t stream,
                                        uint32_t log_capacity, int subscribed)
{
    tp_ipc_context_t saved = ctx;
    ctx.log_capacity = log_capacity;
    atomic_store(&sh->ready, 0);
    atomic_store(&sh->go, 0);
    atomic_store(&sh->done, 0);
    pid_t sub_pid = fork();
    if (sub_pid == 0) {
        tp_bench_pin(1);
        tp_ipc_subscription_t *sub;
        if (tp_ipc_subscription_open(&sub, &ctx, ch, subscribed ? stream : stream + 50000) < 0) _exit(1);
        atomic_fetch_add(&sh->ready, 1);
        uint64_t got = 0, busy = 0;
        while (!atomic_load_explicit(&sh->go, memory_order_acquire))
            tp_ipc_subscription_poll(sub, timed_count_handler, &got, 4096); /* the warm-up */
        const uint64_t lost_before = tp_ipc_subscription_loss_count(sub);
        int64_t t0 = tp_clock_monotonic_ns();
        int idle = 0;
        for (;;) {
            int n = tp_ipc_subscription_poll(sub, timed_count_handler, &got, 4096);
            busy += n > 0;
            if (n == 0 && atomic_load_explicit(&sh->done, memory_order_acquire) == npub) {
                if (++idle > 10000) break;
            }
        }
        int64_t t1 = tp_clock_monotonic_ns();
        atomic_store(&sh->received, got);
        atomic_store(&sh->busy_polls, busy);
        atomic_store(&sh->lost, tp_ipc_subscription_loss_count(sub) - lost_before);
        atomic_store(&sh->sub_elapsed_ns, t1 - t0);
        tp_ipc_subscription_close(sub);
        _exit(0);
    }
    pid_t pubs[2];
    for (int p = 0; p < npub; p++) {
        pubs[p] = fork();
        if (pubs[p] == 0) {
            tp_bench_pin(p == 0 ? 0 : 1);
            tp_ipc_publication_t *pub;
            if (tp_ipc_publication_open(&pub, &ctx, ch, stream) < 0) _exit(1);
            uint8_t msg[256] = {0};
            const int waits = strncmp(ch, "tp:", 3) != 0 || strstr(ch, "lossless=true") != NULL;
            /* Warm-up: 64 MiB of frames through the log first, so every page
             * of it (16 MiB here, 3 x 16 MiB for Aeron's terms) is mapped
             * before the clock runs: a first touch of a page of a fresh log
             * costs a page fault in the publisher and in the subscriber, and
             * on this VM faults cost more than the messages themselves. */
            const uint64_t warm = (64u << 20) / ((msg_bytes + 32 + 31) & ~(size_t)31);
            memset(msg, 0xFF, 8); /* the subscriber does not count these */
            for (uint64_t i = 0; i < warm; i++) {
                if (waits)
                    offer_until_taken(pub, msg, msg_bytes);
                else
                    tp_ipc_publication_offer(pub, msg, msg_bytes);
            }
            atomic_fetch_add(&sh->ready, 1);
            while (!atomic_load_explicit(&sh->go, memory_order_acquire)) tp_bench_relax();
            int64_t t0 = tp_clock_monotonic_ns();
            for (uint64_t i = 0; i < per_pub; i++) {
                memcpy(msg, &i, sizeof i);
                if (waits)
                    offer_until_taken(pub, msg, msg_bytes);
                else
                    tp_ipc_publication_offer(pub, msg, msg_bytes);
            }
            int64_t t1 = tp_clock_monotonic_ns();
            atomic_store(&sh->pub_elapsed_ns[p], t1 - t0);
            atomic_fetch_add(&sh->done, 1);
            tp_ipc_publication_close(pub);
            _exit(0);
        }
    }
    while (atomic_load(&sh->ready) < npub + 1) sched_yield();
    /* let the subscriber find the publications (it polls while waiting) */
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    atomic_store_explicit(&sh->go, 1, memory_order_release);
    for (int p = 0; p < npub; p++) waitpid(pubs[p], NULL, 0);
    waitpid(sub_pid, NULL, 0);
    int64_t pub_ns = 0;
    for (int p = 0; p < npub; p++)
        if (atomic_load(&sh->pub_elapsed_ns[p]) > pub_ns) pub_ns = atomic_load(&sh->pub_elapsed_ns[p]);
    uint64_t sent = per_pub * (uint64_t)npub;
    tput_result_t res;
    res.got = atomic_load(&sh->received);
    res.lost = atomic_load(&sh->lost);
    const uint64_t busy = atomic_load(&sh->busy_polls);
    res.reader_batch = busy > 0 ? (double)res.got / (double)busy : 0;
    res.offered = (double)sent / ((double)pub_ns / 1e9);
    /* delivery rate over the publishing window (the subscriber's tail idle time excluded) */
    res.delivered = (double)res.got / ((double)pub_ns / 1e9);
    ctx = saved;
    return res;
}

static tput_result_t throughput_once(const char *ch, size_t msg_bytes, int npub, uint64_t per_pub, int32_t stream,
                                     uint32_t log_capacity)
{
    return throughput_once_on(ch, msg_bytes, npub, per_pub, stream, log_capacity, 1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Run a configuration several times (the box is shared and noisy), each
 * trial bracketed by placement probes (placement.h), and report the medians
 * of the trials of each regime, with their spread and loss beside them. */
static void throughput_run(const char *name, const char *ch, size_t msg_bytes, int npub, uint64_t per_pub,
                           int32_t stream, uint32_t log_capacity, int trials)
{
    uint64_t lost[8];
    double off[8], del[8], lossf[8];
    const char *regime[8];
    if (trials > 8) trials = 8;
    for (int t = 0; t < trials; t++) {
        const int64_t before = tp_bench_placement_probe();
        tput_result_t r = throughput_once(ch, msg_bytes, npub, per_pub, stream + 100 * t, log_capacity);
        regime[t] = tp_bench_regime(before, tp_bench_placement_probe());
        lost[t] = r.lost + (per_pub * (uint64_t)npub - r.lost - r.got); /* counted lost, and never seen */
        off[t] = r.offered;
        del[t] = r.delivered;
        lossf[t] = (double)r.lost / (double)(per_pub * (uint64_t)npub);
    }
    for (int g = 0; g < TP_BENCH_NREGIMES; g++) {
        uint64_t gl[8];
        double go[8], gd[8], gf[8];
        int n = 0;
        for (int t = 0; t < trials; t++) {
            if (strcmp(regime[t], tp_bench_regime_names[g]) != 0) continue;
            gl[n] = lost[t];
            go[n] = off[t];
            gd[n] = del[t];
            gf[n] = lossf[t];
            n++;
        }
        if (n == 0) continue;
        qsort(go, (size_t)n, sizeof go[0], cmp_double);
        qsort(gd, (size_t)n, sizeof gd[0], cmp_double);
        qsort(gf, (size_t)n, sizeof gf[0], cmp_double);
        qsort(gl, (size_t)n, sizeof gl[0], cmp_u64);
        const int m = n / 2;
        char params[480];
        snprintf(params, sizeof params,
                 "\"channel\":\"%s\",\"publishers\":%d,\"msg_bytes\":%zu,\"messages\":%llu,\"side\":\"offered\","
                 "\"log_capacity\":%u,\"regime\":\"%s\",\"trials\":%d,\"min\":%.6g,\"max\":%.6g",
                 ch, npub, msg_bytes, (unsigned long long)(per_pub * (uint64_t)npub), log_capacity, tp_bench_regime_names[g], n,
                 go[0], go[n - 1]);
        emit(name, "msgs/s", go[m], params);
        snprintf(params, sizeof params,
                 "\"channel\":\"%s\",\"publishers\":%d,\"msg_bytes\":%zu,\"messages\":%llu,\"side\":\"delivered\","
                 "\"log_capacity\":%u,\"regime\":\"%s\",\"trials\":%d,\"min\":%.6g,\"max\":%.6g,"
                 "\"loss_fraction\":%.6g,\"messages_lost\":%llu",
                 ch, npub, msg_bytes, (unsigned long long)(per_pub * (uint64_t)npub), log_capacity, tp_bench_regime_names[g], n,
                 gd[0], gd[n - 1], gf[m], (unsigned long long)gl[m]);
        emit(name, "msgs/s", gd[m], params);
    }
}

/* The publisher's own cost: offers with nobody reading (no cache-line
 * traffic from a subscriber). */
static void publisher_only_run(uint64_t n)
{
    tp_bench_pin(0);
    tp_ipc_publication_t *pub;
    if (tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 13) < 0) exit(1);
    uint8_t msg[32] = {0};
    int64_t t0 = tp_clock_monotonic_ns();
    for (uint64_t i = 0; i < n; i++) {
        memcpy(msg, &i, sizeof i);
        tp_ipc_publication_offer(pub, msg, sizeof msg);
    }
    int64_t t1 = tp_clock_monotonic_ns();
    tp_ipc_publication_close(pub);
    char params[160];
    snprintf(params, sizeof params,
             "\"publishers\":1,\"msg_bytes\":32,\"messages\":%llu,\"side\":\"offered_no_subscriber\",\"log_capacity\":%u",
             (unsigned long long)n, ctx.log_capacity);
    emit("ipc_throughput", "msgs/s", (double)n / ((double)(t1 - t0) / 1e9), params);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* The Aeron channel the side-by-side runs use: IPC with a 16 MiB term, the
 * size of the tp:ipc log of the throughput runs. (tensorpool's embedded media
 * driver defaults IPC terms to 1 MiB to save memory: a publisher may then run
 * only 512 KiB ahead of its subscriber, and the media driver's conductor,
 * which sleeps up to 1 ms when idle, must move that limit on every 8192
 * messages of 32 B: the publisher waits on it and one-way throughput falls to
 * a few M msg/s. Aeron's own default is 64 MiB.) */
static const char *aeron_bench_channel(void)
{
    const char *c = getenv("TP_BENCH_AERON_CHANNEL"); /* to try other Aeron parameters */
    return c != NULL && c[0] != '\0' ? c : "aeron:ipc?term-length=16m";
}


/* The same ping-pong over tp:ipc and aeron:ipc, at 32 B, 256 B and 1 KiB,
 * in the same run: each trial runs every size over both transports between
 * two placement probes (so a ratio always compares runs of one placement),
 * with an embedded media driver in this process (no aeron rows without
 * Aeron). Per regime: medians over its trials of each run's p50 and p99,
 * and the ratio tp:ipc / aeron:ipc of the p50 medians.
 *
 * Each is run twice (param "reply"): "read", where the pinger compares the
 * echo with what it sent, byte for byte, as any receiver reads a message;
 * and "ignored", where it only counts the reply. Aeron hands a handler the
 * bytes in its log, so an ignored reply's payload never leaves the echo's
 * cache; tp:ipc copies every record out before delivering it (a copy is
 * what makes a lapped or hostile writer harmless), so it moves the payload
 * either way. The "ignored" row is the notification-only case. */
static void transport_rtt_runs(size_t samples, int trials)
{
    static const size_t sizes[] = {32, 256, 1024};
    tp_ipc_media_driver_t *md = NULL;
    const int have_aeron = tp_ipc_media_driver_start(&md, &ctx, NULL) == 0;
    if (!have_aeron) fprintf(stderr, "bench_ipc: no aeron:ipc rows: %s\n", tp_errmsg());
    const char *channels[2] = {"tp:ipc", aeron_bench_channel()};
    const int nch = have_aeron ? 2 : 1;
    static const char *const replies[2] = {"read", "ignored"};
    static int64_t p50[TP_BENCH_NREGIMES][2][2][3][MAX_TRIALS], p99[TP_BENCH_NREGIMES][2][2][3][MAX_TRIALS];
    int count[TP_BENCH_NREGIMES] = {0};
    int32_t stream = 101;
    for (int t = 0; t < trials; t++) {
        int64_t r[2][2][3][2];
        const int64_t before = tp_bench_placement_probe();
        for (int s = 0; s < 3; s++)
            for (int q = 0; q < 2; q++)
                for (int c = 0; c < nch; c++) {
                    int64_t lat[3];
                    latency_run(channels[c], sizes[s], samples, lat, stream, q == 0);
                    stream += 2;
                    r[q][c][s][0] = lat[0];
                    r[q][c][s][1] = lat[1];
                }
        const int64_t after = tp_bench_placement_probe();
        const int g = tp_bench_regime_index(tp_bench_regime(before, after));
        fprintf(stderr, "bench_ipc: rtt trial %d: probe %lld/%lld ns -> %s\n", t, (long long)before, (long long)after,
                tp_bench_regime_names[g]);
        for (int q = 0; q < 2; q++)
            for (int c = 0; c < nch; c++)
                for (int s = 0; s < 3; s++) {
                    p50[g][q][c][s][count[g]] = r[q][c][s][0];
                    p99[g][q][c][s][count[g]] = r[q][c][s][1];
                }
        count[g]++;
    }
    for (int g = 0; g < TP_BENCH_NREGIMES; g++) {
        const int n = count[g];
        if (n == 0) continue;
        for (int q = 0; q < 2; q++) {
            int64_t med50[2][3];
            for (int c = 0; c < nch; c++)
                for (int s = 0; s < 3; s++) {
                    qsort(p50[g][q][c][s], (size_t)n, sizeof(int64_t), tp_bench_cmp_i64);
                    qsort(p99[g][q][c][s], (size_t)n, sizeof(int64_t), tp_bench_cmp_i64);
                    med50[c][s] = p50[g][q][c][s][n / 2];
                    for (int k = 0; k < 2; k++) {
                        char params[360];
                        snprintf(params, sizeof params,
                                 "\"stat\":\"%s\",\"msg_bytes\":%zu,\"channel\":\"%s\",\"reply\":\"%s\",\"regime\":\"%s\","
                                 "\"trials\":%d,\"samples\":%zu,\"of\":\"median over trials\"",
                                 k == 0 ? "p50" : "p99", sizes[s], channels[c], replies[q], tp_bench_regime_names[g], n,
                                 samples);
                        emit("ipc_transport_rtt", "ns", (double)(k == 0 ? med50[c][s] : p99[g][q][c][s][n / 2]),
                             params);
                    }
                }
            for (int s = 0; have_aeron && s < 3; s++) {
                char params[256];
                snprintf(params, sizeof params,
                         "\"stat\":\"p50\",\"msg_bytes\":%zu,\"reply\":\"%s\",\"regime\":\"%s\",\"trials\":%d,"
                         "\"ratio\":\"tp:ipc/aeron:ipc\"",
                         sizes[s], replies[q], tp_bench_regime_names[g], n);
                emit("ipc_transport_rtt_ratio", "ratio", (double)med50[0][s] / (double)med50[1][s], params);
            }
        }
    }
    tp_ipc_media_driver_stop(md);
}

/* One-way throughput, one publisher and one subscriber process, at 32 B and
 * 256 B over tp:ipc (16 MiB log, lossy: the loss is printed beside it),
 * tp:ipc?lossless=true (same log, back-pressured) and aeron:ipc (16 MiB
 * term, back-pressured, lossless) with an embedded media driver, in the
 * same run; each trial runs all of them between two placement probes. Per
 * regime: the medians over its trials, loss and the reader's batch (messages
 * per poll that delivered any) beside each, and the ratio of each tp:ipc
 * mode's delivered rate to aeron:ipc's. The same trial also runs the tp:ipc
 * publisher with nobody reading its log (side=offered_no_subscriber), and
 * ipc_transport_reader_cost is the lossless delivered rate over that: what a
 * subscriber reading right behind the publisher costs it. A reader that
 * keeps up polls the line the publisher writes next, so each message moves
 * that line between the caches twice; a reader that lags (aeron:ipc's, held
 * back in steps of its media driver's publication limit: batches of hundreds
 * to thousands) reads lines the publisher left long ago. */
static void transport_throughput_runs(uint64_t n, int trials)
{
    static const size_t sizes[] = {32, 256};
    enum { NCH = 3, AERON = 2, ALONE = 3, NROWS = 4 };
    tp_ipc_media_driver_t *md = NULL;
    const int have_aeron = tp_ipc_media_driver_start(&md, &ctx, NULL) == 0;
    if (!have_aeron) fprintf(stderr, "bench_ipc: no aeron:ipc throughput rows: %s\n", tp_errmsg());
    const char *channels[NROWS] = {"tp:ipc", "tp:ipc?lossless=true", aeron_bench_channel(), "tp:ipc"};
    const int nch = have_aeron ? NCH : NCH - 1;
    static double off[TP_BENCH_NREGIMES][NROWS][2][MAX_TRIALS], del[TP_BENCH_NREGIMES][NROWS][2][MAX_TRIALS];
    static double batch[TP_BENCH_NREGIMES][NROWS][2][MAX_TRIALS];
    static uint64_t lost[TP_BENCH_NREGIMES][NROWS][2][MAX_TRIALS];
    int count[TP_BENCH_NREGIMES] = {0};
    int32_t stream = 1001; /* past the round-trip runs' streams (101 up, 24 per trial) */
    if (trials > MAX_TRIALS) trials = MAX_TRIALS;
    for (int t = 0; t < trials; t++) {
        tput_result_t r[NROWS][2];
        const int64_t before = tp_bench_placement_probe();
        for (int s = 0; s < 2; s++) {
            for (int c = 0; c < nch; c++) r[c][s] = throughput_once(channels[c], sizes[s], 1, n, stream++, 16u << 20);
            r[ALONE][s] = throughput_once_on(channels[ALONE], sizes[s], 1, n, stream++, 16u << 20, 0);
        }
        const int64_t after = tp_bench_placement_probe();
        const int g = tp_bench_regime_index(tp_bench_regime(before, after));
        fprintf(stderr, "bench_ipc: throughput trial %d: probe %lld/%lld ns -> %s\n", t, (long long)before,
                (long long)after, tp_bench_regime_names[g]);
        for (int c = 0; c < NROWS; c++)
            for (int s = 0; s < 2; s++) {
                off[g][c][s][count[g]] = r[c][s].offered;
                del[g][c][s][count[g]] = r[c][s].delivered;
                batch[g][c][s][count[g]] = r[c][s].reader_batch;
                lost[g][c][s][count[g]] = n - r[c][s].got; /* counted lost, and never seen */
            }
        count[g]++;
    }
    for (int g = 0; g < TP_BENCH_NREGIMES; g++) {
        const int k = count[g];
        if (k == 0) continue;
        double med_del[NCH][2], med_alone[2];
        for (int s = 0; s < 2; s++) {
            qsort(off[g][ALONE][s], (size_t)k, sizeof(double), cmp_double);
            med_alone[s] = off[g][ALONE][s][k / 2];
            char params[320];
            snprintf(params, sizeof params,
                     "\"channel\":\"tp:ipc\",\"publishers\":1,\"msg_bytes\":%zu,\"messages\":%llu,"
                     "\"side\":\"offered_no_subscriber\",\"regime\":\"%s\",\"trials\":%d,\"min\":%.6g,\"max\":%.6g",
                     sizes[s], (unsigned long long)n, tp_bench_regime_names[g], k, off[g][ALONE][s][0], off[g][ALONE][s][k - 1]);
            emit("ipc_transport_throughput", "msgs/s", med_alone[s], params);
        }
        for (int c = 0; c < nch; c++)
            for (int s = 0; s < 2; s++) {
                qsort(off[g][c][s], (size_t)k, sizeof(double), cmp_double);
                qsort(del[g][c][s], (size_t)k, sizeof(double), cmp_double);
                qsort(batch[g][c][s], (size_t)k, sizeof(double), cmp_double);
                qsort(lost[g][c][s], (size_t)k, sizeof(uint64_t), cmp_u64);
                med_del[c][s] = del[g][c][s][k / 2];
                const uint64_t med_lost = lost[g][c][s][k / 2];
                char params[480];
                snprintf(params, sizeof params,
                         "\"channel\":\"%s\",\"publishers\":1,\"msg_bytes\":%zu,\"messages\":%llu,\"side\":\"offered\","
                         "\"regime\":\"%s\",\"trials\":%d,\"min\":%.6g,\"max\":%.6g",
                         channels[c], sizes[s], (unsigned long long)n, tp_bench_regime_names[g], k, off[g][c][s][0],
                         off[g][c][s][k - 1]);
                emit("ipc_transport_throughput", "msgs/s", off[g][c][s][k / 2], params);
                snprintf(params, sizeof params,
                         "\"channel\":\"%s\",\"publishers\":1,\"msg_bytes\":%zu,\"messages\":%llu,\"side\":\"delivered\","
                         "\"regime\":\"%s\",\"trials\":%d,\"min\":%.6g,\"max\":%.6g,\"loss_fraction\":%.6g,"
                         "\"messages_lost\":%llu,\"reader_batch\":%.4g",
                         channels[c], sizes[s], (unsigned long long)n, tp_bench_regime_names[g], k, del[g][c][s][0],
                         del[g][c][s][k - 1], (double)med_lost / (double)n, (unsigned long long)med_lost,
                         batch[g][c][s][k / 2]);
                emit("ipc_transport_throughput", "msgs/s", med_del[c][s], params);
            }
        for (int s = 0; s < 2; s++) {
            char params[160];
            snprintf(params, sizeof params,
                     "\"msg_bytes\":%zu,\"regime\":\"%s\",\"trials\":%d,"
                     "\"ratio\":\"tp:ipc?lossless=true delivered/tp:ipc offered_no_subscriber\"",
                     sizes[s], tp_bench_regime_names[g], k);
            emit("ipc_transport_reader_cost", "ratio", med_del[1][s] / med_alone[s], params);
        }
        for (int c = 0; have_aeron && c < AERON; c++) /* each tp:ipc mode against aeron:ipc */
            for (int s = 0; s < 2; s++) {
                char params[256];
                snprintf(params, sizeof params,
                         "\"side\":\"delivered\",\"msg_bytes\":%zu,\"regime\":\"%s\",\"trials\":%d,"
                         "\"ratio\":\"%s/aeron:ipc\"",
                         sizes[s], tp_bench_regime_names[g], k, channels[c]);
                emit("ipc_transport_throughput_ratio", "ratio", med_del[c][s] / med_del[AERON][s], params);
            }
    }
    tp_ipc_media_driver_stop(md);
}

int main(int argc, char **argv)
{
    int latency_only = 0, transports_only = 0, throughput_only = 0, rtt_only = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[a], "--transports") == 0) {
            transports_only = 1;
        } else if (strcmp(argv[a], "--latency-only") == 0) {
            latency_only = 1;
        } else if (strcmp(argv[a], "--transport-throughput-only") == 0) {
            throughput_only = 1;
        } else if (strcmp(argv[a], "--transport-rtt-only") == 0) {
            rtt_only = 1;
        } else {
            fprintf(stderr, "usage: bench_ipc [--quick] [--latency-only] [--transports] "
                            "[--transport-throughput-only] [--transport-rtt-only]\n");
            return 2;
        }
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 1;
    snprintf(base_dir, sizeof base_dir, "/dev/shm/tp-bench-ipc-%d", (int)getpid());
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base_dir;

    if (throughput_only) { /* the one-way rows of every transport, nothing else */
        transport_throughput_runs(quick ? 2000000 : 10000000, quick ? 1 : 5);
        nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }
    size_t samples = quick ? 20000 : 200000;
    if (rtt_only) { /* the round-trip rows of every transport, nothing else */
        transport_rtt_runs(samples, quick ? 1 : 5);
        nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }
    if (transports_only) { /* the side-by-side comparison alone */
        transport_rtt_runs(samples, quick ? 1 : 5);
        transport_throughput_runs(quick ? 2000000 : 10000000, quick ? 1 : 5);
        nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }
    int64_t floor_pct[3];
    double clock_ns;
    int64_t probe = tp_bench_placement_probe();
    floor_run(samples, floor_pct, &clock_ns);
    g_regime = tp_bench_regime(probe, tp_bench_placement_probe());
    char params[256];
    const char *pn[3] = {"p50", "p99", "p99.9"};
    for (int i = 0; i < 3; i++) {
        snprintf(params, sizeof params, "\"stat\":\"%s\",\"samples\":%zu,\"clock_read_ns\":%.6g", pn[i], samples,
                 clock_ns);
        emit("shm_cacheline_rtt", "ns", (double)floor_pct[i], params);
    }
    double half = (double)floor_pct[0] / 2.0;
    snprintf(params, sizeof params, "\"stat\":\"p50\"");
    emit("shm_cacheline_half_rtt", "ns", half, params);

    for (int s = 0; s < TP_BENCH_IPC_NSIZES; s++) {
        size_t msg = tp_bench_ipc_sizes[s];
        int64_t fl[3], lat[3];
        probe = tp_bench_placement_probe(); /* floor and measurement in one bracket */
        if (tp_bench_sized_round_trip(msg, samples, fl) < 0) return 1;
        for (int i = 0; i < 3; i++) {
            snprintf(params, sizeof params, "\"stat\":\"%s\",\"msg_bytes\":%zu,\"method\":\"rtt/2\",\"samples\":%zu",
                     pn[i], msg, samples);
            emit("ipc_sized_floor_half_rtt", "ns", (double)fl[i] / 2.0, params);
        }
        latency_run("tp:ipc", msg, samples, lat, 1 + 2 * s, 0);
        g_regime = tp_bench_regime(probe, tp_bench_placement_probe());
        for (int i = 0; i < 3; i++) {
            double oneway = (double)lat[i] / 2.0;
            double sized = (double)fl[i] / 2.0;
            snprintf(params, sizeof params,
                     "\"stat\":\"%s\",\"msg_bytes\":%zu,\"method\":\"rtt/2\",\"samples\":%zu,"
                     "\"sized_floor_ns\":%.6g,\"ratio_to_sized_floor\":%.6g,"
                     "\"cacheline_floor_ns\":%.6g,\"ratio_to_cacheline_floor\":%.6g",
                     pn[i], msg, samples, sized, oneway / sized, half, oneway / half);
            emit("ipc_oneway_latency", "ns", oneway, params);
        }
    }
    transport_rtt_runs(samples, quick ? 1 : 5);
    if (latency_only) {
        nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }

    /* 1 MiB is the default log; 16 MiB shows how much of the loss comes from
     * the subscriber being descheduled on a shared box. */
    uint64_t n = quick ? 2000000 : 10000000;
    int trials = quick ? 1 : 3;
    g_regime = NULL; /* one process: no placement */
    publisher_only_run(n);
    throughput_run("ipc_throughput", "tp:ipc", 32, 1, n, 10, 1u << 20, trials);
    throughput_run("ipc_throughput", "tp:ipc", 32, 1, n, 12, 16u << 20, trials);
    throughput_run("ipc_throughput", "tp:ipc", 32, 2, n / 2, 11, 16u << 20, trials);
    transport_throughput_runs(n, quick ? 1 : 5);

    nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
