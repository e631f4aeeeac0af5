/* Frame round trip between two processes, with its floor measured in the same
 * bracket (docs/benchmarks.md "bench_frame_rtt").
 *
 * Zero-copy ping-pong, as iceoryx's: the pinger (pinned to CPU 0) claims a
 * slot of stream PING, writes an 8-byte stamp at the start of the payload,
 * commits; the ponger (CPU 1) gets the frame from tp_consumer_poll, reads the
 * stamp, checks the seqlock again (tp_frame_intact) and answers with a frame
 * of the same size on stream PONG, which the pinger reads the same way. The
 * round trip is CLOCK_MONOTONIC from before the claim to after the pinger's
 * validated read. Payload sizes 64 B, 4 KiB, 1 MiB, each from its own pool;
 * only the stamp's line of the payload is written and read (the zero-copy
 * cost, not a memcpy of the frame). Each direction has its own descriptor
 * stream, as the floor's two message streams. One more run repeats 64 B with
 * both producers' publish timestamp off (tp_producer_set_publish_timestamp:
 * no clock read per commit; row parameter "publish_timestamp":"off").
 *
 * Floor, taken inside the same probe bracket: the transport's own message
 * round trip (tp:ipc ping-pong of a FrameDescriptor-sized message, 48 B,
 * between the same two processes) plus one cache-line round trip between
 * the same two processes (line_pong: the slot header line, one way each
 * direction). ratio = frame round trip / floor, per statistic.
 *
 * Tail floor: the same cache-line ping-pong with each side busy before it
 * answers, so that a round lasts as long as the trial's 64 B frame round
 * trip (p50); its p99 and p99.9 are what the machine does to any round trip
 * that long (frame_rtt_ratio_to_tail_floor).
 *
 * Each trial (the placement probe runs in the coordinating process, so the
 * pinger never forks): placement probe, cache-line floor, message round
 * trip, the three frame sizes, 64 B without publish time, tail floor,
 * placement probe; the rows are medians over trials of one regime (near /
 * mid / far / mixed). JSON lines on stdout, one trial summary per line on stderr.
 *
 * Before the trials, frame_rtt_idle_pass: what one pass of each wait loop
 * costs with nothing arriving (see idle_pass_ns).
 *
 * usage: bench_frame_rtt [--quick] [--trials N] [--samples N]
 * Environment: TP_BENCH_FAR_NS (placement.h), DRIVER_IDLE_PARK_MAX_US (the
 * benchmark's driver thread, docs/configuration.md). */
#include "tensorpool/agent.h"
#include "tensorpool/clock.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/producer.h"

#include "placement.h"
#include "round_trip_args.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PING_STREAM 10100u
#define PONG_STREAM 10101u
#define PING_DESC 1101
#define PONG_DESC 1102
#define MSG_PING 4301
#define MSG_PONG 4302
#define MSG_BYTES 48u /* SBE header 8 + FrameDescriptor block 40 */
#define MAX_TRIALS 32
/* kinds: the sizes, then 64 B with the publish timestamp off, the message
 * round trip, the tail floor and the cache-line round trip */
enum { NSIZES = 3, NSTATS = 3, KIND_NO_TS = NSIZES, KIND_MSG, KIND_TAIL, KIND_CL, NKINDS };
static const uint32_t sizes[NSIZES] = {64, 4096, 1048576};
static const double quantiles[NSTATS] = {0.5, 0.99, 0.999};
static const char *const stat_names[NSTATS] = {"p50", "p99", "p99.9"};

/* The stamp at the start of each payload: the round it answers. */
typedef struct stamp_s {
    uint64_t round;
} stamp_t;

/* The probe forks a process pinned to CPU 1; it runs in the coordinator,
 * asked through this shared block, so that the pinger never forks: a fork
 * would turn its private pages copy-on-write and its next rounds would pay
 * the page faults. */
enum { REQ_PROBE = 1 };
/* phase: which input both sides poll, so that the floor's message round
 * trip is the transport's alone and a frame round trip pays no message poll;
 * PHASE_LINE: the tail floor's rounds (line_pong), no tensorpool call */
enum { PHASE_ANY, PHASE_MSG, PHASE_FRAME, PHASE_LINE };
typedef struct shared_s {
    _Alignas(64) _Atomic int phase;
    _Atomic int64_t pad_ns; /* the tail floor's busy time per side */
    _Alignas(64) int64_t probe_ns;
    _Alignas(64) _Atomic uint64_t line_ping; /* the tail floor's line, one per direction */
    _Alignas(64) _Atomic uint64_t line_pong;
} shared_t;
static shared_t *shared;
static int req_fd[2] = {-1, -1}, rsp_fd[2] = {-1, -1}; /* pinger -> coordinator, back */

typedef struct side_s side_t;
static void duty(side_t *s);

/* In the pinger: have the coordinator run the placement probe, waiting on a
 * pipe (so that neither side spins meanwhile) with the duty cycle every 10
 * ms; the probe's ns, -1 if it failed. */
static int64_t ask_probe(side_t *s)
{
    char req = REQ_PROBE, done;
    if (write(req_fd[1], &req, 1) != 1) return -1;
    struct pollfd pfd = {.fd = rsp_fd[0], .events = POLLIN};
    while (poll(&pfd, 1, 10) == 0) duty(s);
    if (read(rsp_fd[0], &done, 1) != 1) return -1;
    return shared->probe_ns;
}

/* End of run: the pinger sends this round number. */
#define ROUND_END UINT64_MAX

typedef struct side_s {
    tp_producer_t *prod;
    tp_consumer_t *cons;
    tp_ipc_publication_t *msg_pub;
    tp_ipc_subscription_t *msg_sub;
    tp_tensor_header_t t;
    uint64_t got;      /* the last round read intact */
    uint32_t got_len;
    uint64_t torn;     /* reads that failed tp_frame_intact */
    int fresh;         /* got was just set */
    int got_no_ts;     /* the frame's descriptor had no publish time: answer the same way */
    uint32_t passes;   /* wait-loop passes, for the clock's refresh */
    int64_t now;       /* the clock as of the last refresh */
} side_t;

static void ctx_for(tp_client_context_t *ctx, int32_t desc)
{
    tp_client_context_init(ctx);
    ctx->descriptor_stream_id = desc;
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    side_t *s = clientd;
    if (f->len < sizeof(stamp_t)) return;
    stamp_t st;
    memcpy(&st, f->payload, sizeof st);
    if (!tp_frame_intact(f)) { /* the validated read: the stamp is trusted only now */
        s->torn++;
        return;
    }
    s->got = st.round;
    s->fresh = 1;
    s->got_len = f->len;
    s->got_no_ts = f->descriptor_timestamp_ns == UINT64_MAX;
}

static void on_msg(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    side_t *s = clientd;
    if (len < sizeof(uint64_t)) return;
    memcpy(&s->got, buf, sizeof s->got);
    s->fresh = 1;
    s->got_len = 0;
}

static int send_frame(side_t *s, uint32_t len, uint64_t round)
{
    s->t.dims[0] = (int32_t)len;
    tp_shm_claim_t c;
    if (tp_producer_claim(s->prod, &s->t, len, &c) != 0) return -1;
    const stamp_t st = {round};
    memcpy(c.payload, &st, sizeof st);
    return tp_producer_commit(s->prod, &c, round);
}


/* send_frame, and when the producer is not attached (its lease lost on an
 * overloaded machine), the duty cycle until it is again, up to 20 s. */
static int send_frame_retry(side_t *s, uint32_t len, uint64_t round)
{
    const int64_t give_up = tp_clock_monotonic_ns() + 20000000000;
    while (send_frame(s, len, round) != 0) {
        if (tp_clock_monotonic_ns() > give_up) return -1;
        duty(s);
        usleep(1000);
    }
    return 0;
}

static void send_msg(side_t *s, uint64_t round)
{
    uint8_t m[MSG_BYTES] = {0};
    memcpy(m, &round, sizeof round);
    while (tp_ipc_publication_offer(s->msg_pub, m, sizeof m) <= 0) {
    }
}

/* Busy for ns (0: not at all), reading the clock as the frame loops do. */
static void spin_for(int64_t ns)
{
    if (ns <= 0) return;
    const int64_t end = tp_bench_now_ns() + ns;
    while (tp_bench_now_ns() < end) tp_bench_relax();
}

/* One poll of the phase's inputs. tp_consumer_poll needs the time only for
 * its control side's cadence, so the loop reads the clock on every 16th
 * pass, as a spinning application can (consumer.h): a clock read is 25 ns
 * here, more than the rest of an idle pass. */
static int poll_once(side_t *s, int phase)
{
    int n = 0;
    if (phase != PHASE_FRAME) n += tp_ipc_subscription_poll(s->msg_sub, on_msg, s, 1);
    if (phase != PHASE_MSG) {
        if ((s->passes++ & 15) == 0) s->now = tp_clock_monotonic_ns();
        n += tp_consumer_poll(s->cons, s->now, on_frame, s, 1);
    }
    return n;
}

static int open_side(side_t *s, uint32_t out_stream, int32_t out_desc, uint32_t in_stream, int32_t in_desc, int msg_out,
                     int msg_in)
{
    memset(s, 0, sizeof *s);
    s->got = 0;
    s->t.dtype = TP_CONTROL_DTYPE_UINT8;
    s->t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    s->t.ndims = 1;
    tp_client_context_t pc, cc;
    ctx_for(&pc, out_desc);
    ctx_for(&cc, in_desc);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = pc.base_dir;
    if (tp_producer_open(&s->prod, &pc, out_stream, 0, "frame_rtt", NULL) != 0 ||
        tp_consumer_open(&s->cons, &cc, in_stream, 0) != 0 ||
        tp_ipc_publication_open(&s->msg_pub, &ipc, "tp:ipc", msg_out) != 0 ||
        tp_ipc_subscription_open(&s->msg_sub, &ipc, "tp:ipc", msg_in) != 0) {
        fprintf(stderr, "bench_frame_rtt: open: %s\n", tp_errmsg());
        return -1;
    }
    const int64_t give_up = tp_clock_monotonic_ns() + 20000000000;
    while ((!tp_producer_is_active(s->prod) || !tp_consumer_is_mapped(s->cons)) && tp_clock_monotonic_ns() < give_up) {
        tp_producer_do_work(s->prod, tp_clock_monotonic_ns());
        poll_once(s, PHASE_ANY);
        usleep(1000);
    }
    if (!tp_producer_is_active(s->prod) || !tp_consumer_is_mapped(s->cons)) {
        fprintf(stderr, "bench_frame_rtt: never attached/mapped\n");
        return -1;
    }
    return 0;
}

/* The clients' own duty cycles (leases, keepalives, announces), which the
 * measured loops run only now and then: a consumer left unpolled for the
 * lease's grace period would lose its mapping and with it a round. */
static void duty(side_t *s)
{
    const int64_t now = tp_clock_monotonic_ns();
    tp_producer_do_work(s->prod, now);
    tp_consumer_poll(s->cons, now, on_frame, s, 1);
}

/* Why a side may have stopped: its counters, on stderr. */
static void dump_side(const char *who, const side_t *s)
{
    tp_shm_drops_t d;
    tp_consumer_drops(s->cons, &d);
    tp_consumer_counters_t k;
    tp_consumer_counters(s->cons, &k);
    fprintf(stderr,
            "bench_frame_rtt: %s: producer active %d, consumer mapped %d maps %llu, torn %llu, accepted %llu gap %llu "
            "late %llu invalid %llu, unwritten %llu replayed %llu other_epoch %llu stale %llu, msg loss %llu\n",
            who, tp_producer_is_active(s->prod), tp_consumer_is_mapped(s->cons), (unsigned long long)tp_consumer_maps(s->cons),
            (unsigned long long)s->torn, (unsigned long long)d.accepted, (unsigned long long)d.drops_gap,
            (unsigned long long)d.drops_late, (unsigned long long)d.drops_invalid, (unsigned long long)k.refused_unwritten,
            (unsigned long long)k.refused_replayed, (unsigned long long)k.lost_other_epoch, (unsigned long long)k.lost_stale_epoch,
            (unsigned long long)tp_ipc_subscription_loss_count(s->msg_sub));
}

static void close_side(side_t *s)
{
    tp_ipc_subscription_close(s->msg_sub);
    tp_ipc_publication_close(s->msg_pub);
    tp_consumer_close(s->cons);
    tp_producer_close(s->prod);
}

/* The ponger: answers every frame with a frame of the same size and every
 * message with a message, spinning while busy and sleeping between a
 * pinger's runs (so it leaves CPU 1 to the placement probe). */
static int ponger_main(void)
{
    tp_bench_pin(1);
    side_t s;
    if (open_side(&s, PONG_STREAM, PONG_DESC, PING_STREAM, PING_DESC, MSG_PONG, MSG_PING) != 0) return 1;
    uint64_t answered = 0;
    int64_t last_work = tp_clock_monotonic_ns();
    int64_t last_duty = last_work;
    uint32_t idle = 0;
    uint64_t line_answered = 0;
    int worked = 0, dumped = 0;
    for (;;) {
        const int phase = atomic_load_explicit(&shared->phase, memory_order_relaxed);
        if (phase == PHASE_LINE) {
            const uint64_t v = atomic_load_explicit(&shared->line_ping, memory_order_acquire);
            if (v != line_answered) {
                spin_for(atomic_load_explicit(&shared->pad_ns, memory_order_relaxed));
                atomic_store_explicit(&shared->line_pong, v, memory_order_release);
                line_answered = v;
                worked = 1;
                idle = 0;
                continue;
            }
        } else {
            poll_once(&s, phase);
        }
        if (s.fresh) { /* every ping is answered, a resent one too */
            s.fresh = 0;
            if (s.got == ROUND_END) break;
            answered = s.got;
            if (s.got_len != 0) tp_producer_set_publish_timestamp(s.prod, !s.got_no_ts);
            if (s.got_len == 0) send_msg(&s, answered);
            else if (send_frame_retry(&s, s.got_len, answered) != 0) {
                fprintf(stderr, "bench_frame_rtt: ponger: %s\n", tp_errmsg());
                dump_side("ponger", &s);
                return 1;
            }
            worked = 1;
            idle = 0;
            if ((answered & 1023) == 0) duty(&s);
            continue;
        }
        if ((++idle & 1023) != 0) continue; /* the clock only now and then: no clock read between rounds */
        const int64_t now = tp_clock_monotonic_ns();
        if (worked) last_work = now;
        worked = 0;
        if (now - last_duty > 1000000) {
            duty(&s);
            last_duty = now;
        }
        if (now - last_work > 2000000) usleep(200);
        if (now - last_work > 5000000000 && !dumped) { /* the pinger waits 10 s: say what we saw */
            dump_side("ponger idle 5 s", &s);
            dumped = 1;
        }
    }
    close_side(&s);
    return 0;
}

typedef struct trial_s {
    const char *regime;
    int64_t v[NKINDS][NSTATS]; /* ns */
    /* rounds slower than 5 us / 50 us, and the pinger's page faults and
     * context switches while measuring, per kind: where the tail comes from */
    int64_t pad_ns; /* the tail floor's busy time per side */
    int64_t slow5[NKINDS - 1], slow50[NKINDS - 1], minflt[NKINDS - 1], nvcsw[NKINDS - 1], nivcsw[NKINDS - 1];
} trial_t;

/* One measured ping-pong run of `samples` rounds after samples/10 unmeasured
 * (len 0: messages), frames with or without the publish timestamp (the
 * ponger answers alike). Percentiles into out. 0, or -1 when the ponger
 * stopped answering. */
/* A run's statistics and where its slow rounds may come from, into tr. */
static void summarize(trial_t *tr, int kind, int64_t *buf, size_t samples, const struct rusage *ru0,
                      const struct rusage *ru1)
{
    tr->minflt[kind] = ru1->ru_minflt - ru0->ru_minflt;
    tr->nvcsw[kind] = ru1->ru_nvcsw - ru0->ru_nvcsw;
    tr->nivcsw[kind] = ru1->ru_nivcsw - ru0->ru_nivcsw;
    tr->slow5[kind] = tr->slow50[kind] = 0;
    for (size_t i = 0; i < samples; i++) {
        tr->slow5[kind] += buf[i] >= 5000;
        tr->slow50[kind] += buf[i] >= 50000;
    }
    for (int k = 0; k < NSTATS; k++) tr->v[kind][k] = tp_bench_quantile_i64(buf, samples, quantiles[k]);
}

static int ping_pong(side_t *s, uint32_t len, int publish_ts, uint64_t *round, size_t samples, int64_t *buf,
                     trial_t *tr, int kind)
{
    const size_t warm = samples / 10 + 100;
    const int phase = len == 0 ? PHASE_MSG : PHASE_FRAME;
    atomic_store(&shared->phase, phase);
    tp_producer_set_publish_timestamp(s->prod, publish_ts);
    duty(s);
    struct rusage ru0, ru1;
    for (size_t i = 0; i < warm + samples; i++) {
        const uint64_t r = ++*round;
        const int64_t t0 = tp_bench_now_ns();
        if (len == 0) send_msg(s, r);
        else if (send_frame_retry(s, len, r) != 0) {
            fprintf(stderr, "bench_frame_rtt: pinger: %s\n", tp_errmsg());
            dump_side("pinger", s);
            return -1;
        }
        const int64_t give_up = t0 + 20000000000;
        int64_t resend = t0 + 1000000000;
        for (uint32_t n = 1; s->got != r; n++) {
            poll_once(s, phase);
            if ((n & 4095) != 0 || s->got == r) continue;
            const int64_t now = tp_bench_now_ns();
            if (now > give_up) {
                fprintf(stderr, "bench_frame_rtt: no answer to round %llu (%u bytes) in 20 s\n", (unsigned long long)r, len);
                dump_side("pinger", s);
                return -1;
            }
            if (now > resend) { /* lost to a lease or epoch change on an overloaded machine: ask again */
                resend = now + 1000000000;
                duty(s);
                if (len == 0) send_msg(s, r);
                else if (send_frame(s, len, r) != 0) continue;
            }
        }
        const int64_t t1 = tp_bench_now_ns();
        if (i == warm - 1) getrusage(RUSAGE_SELF, &ru0);
        if (i >= warm) buf[i - warm] = t1 - t0;
        if ((i & 1023) == 0) duty(s);
    }
    getrusage(RUSAGE_SELF, &ru1);
    tp_producer_set_publish_timestamp(s->prod, 1);
    summarize(tr, kind, buf, samples, &ru0, &ru1);
    return 0;
}

/* One cache line each way between the pinger and the ponger, each side
 * busy for pad_ns before it answers. With pad 0: the floor's cache-line
 * round trip (KIND_CL). Padded so that a round lasts as long as a 64 B frame
 * round trip, running no tensorpool code at all: the tail floor (KIND_TAIL),
 * whose p99 and p99.9 are what this machine (timer ticks, the hypervisor
 * taking a vCPU away) does to any round trip of that length. */
static int line_pong(side_t *s, int64_t pad_ns, uint64_t *round, size_t samples, int64_t *buf, trial_t *tr, int kind)
{
    const size_t warm = samples / 10 + 100;
    atomic_store(&shared->pad_ns, pad_ns);
    atomic_store(&shared->phase, PHASE_LINE);
    if (kind == KIND_TAIL) tr->pad_ns = pad_ns;
    struct rusage ru0, ru1;
    for (size_t i = 0; i < warm + samples; i++) {
        const uint64_t r = ++*round;
        const int64_t t0 = tp_bench_now_ns();
        spin_for(pad_ns);
        atomic_store_explicit(&shared->line_ping, r, memory_order_release);
        for (uint32_t n = 1; atomic_load_explicit(&shared->line_pong, memory_order_acquire) != r; n++) {
            tp_bench_relax();
            if ((n & 65535) == 0 && tp_bench_now_ns() - t0 > 20000000000) {
                fprintf(stderr, "bench_frame_rtt: the ponger left tail-floor round %llu unanswered for 20 s\n",
                        (unsigned long long)r);
                return -1;
            }
        }
        const int64_t t1 = tp_bench_now_ns();
        if (i == warm - 1) getrusage(RUSAGE_SELF, &ru0);
        if (i >= warm) buf[i - warm] = t1 - t0;
        if ((i & 1023) == 0) duty(s); /* outside the timed rounds, as in ping_pong */
    }
    getrusage(RUSAGE_SELF, &ru1);
    atomic_store(&shared->phase, PHASE_ANY);
    summarize(tr, kind, buf, samples, &ru0, &ru1);
    return 0;
}

static void emit_row(const char *name, const char *unit, double value, const char *stat, uint32_t bytes,
                     const char *regime, int trials, const char *extra)
{
    printf("{\"name\":\"%s\",\"unit\":\"%s\",\"value\":%.6g,\"stat\":\"%s\"", name, unit, value, stat);
    if (bytes != 0) printf(",\"frame_bytes\":%u", bytes);
    printf(",\"trials\":%d,\"regime\":\"%s\"%s}\n", trials, regime, extra);
}

/* Medians over the trials of each regime. */
static void report(const trial_t *tr, int ntrials, size_t samples)
{
    const char *const *regimes = tp_bench_regime_names;
    char extra[128];
    snprintf(extra, sizeof extra, ",\"samples\":%zu", samples);
    for (size_t g = 0; g < TP_BENCH_NREGIMES; g++) {
        int64_t col[MAX_TRIALS];
        int64_t med[NKINDS][NSTATS];
        int n = 0;
        for (int t = 0; t < ntrials; t++) n += strcmp(tr[t].regime, regimes[g]) == 0;
        if (n == 0) continue;
        for (int k = 0; k < NKINDS; k++)
            for (int q = 0; q < NSTATS; q++) {
                int m = 0;
                for (int t = 0; t < ntrials; t++)
                    if (strcmp(tr[t].regime, regimes[g]) == 0) col[m++] = tr[t].v[k][q];
                med[k][q] = tp_bench_median_i64(col, m);
            }
        for (int q = 0; q < NSTATS; q++) {
            const int64_t floor_ns = med[KIND_MSG][q] + med[KIND_CL][q];
            emit_row("frame_rtt_transport_rtt", "ns", (double)med[KIND_MSG][q], stat_names[q], 0, regimes[g], n,
                     ",\"channel\":\"tp:ipc\",\"msg_bytes\":48");
            emit_row("frame_rtt_cacheline_rtt", "ns", (double)med[KIND_CL][q], stat_names[q], 0, regimes[g], n, "");
            emit_row("frame_rtt_floor", "ns", (double)floor_ns, stat_names[q], 0, regimes[g], n,
                     ",\"note\":\"tp:ipc message rtt + cache-line rtt\"");
            emit_row("frame_rtt_tail_floor", "ns", (double)med[KIND_TAIL][q], stat_names[q], 0, regimes[g], n,
                     ",\"note\":\"cache-line rtt padded to the 64 B frame rtt's p50, no tensorpool code\"");
            for (int k = 0; k <= KIND_NO_TS; k++) {
                const char *ts = k == KIND_NO_TS ? ",\"publish_timestamp\":\"off\"" : "";
                const uint32_t bytes = k == KIND_NO_TS ? sizes[0] : sizes[k];
                char with_ratio[192]; /* bench/run shows ratio_to_floor in its ratio column */
                snprintf(with_ratio, sizeof with_ratio, "%s%s,\"ratio_to_floor\":%.6g", extra, ts,
                         (double)med[k][q] / (double)floor_ns);
                emit_row("frame_rtt", "ns", (double)med[k][q], stat_names[q], bytes, regimes[g], n, with_ratio);
                emit_row("frame_rtt_ratio_to_floor", "ratio", (double)med[k][q] / (double)floor_ns, stat_names[q],
                         bytes, regimes[g], n, ts);
                if (q > 0) /* the tail: against a round trip as long that runs none of our code */
                    emit_row("frame_rtt_ratio_to_tail_floor", "ratio", (double)med[k][q] / (double)med[KIND_TAIL][q],
                             stat_names[q], bytes, regimes[g], n, ts);
            }
        }
    }
}

/* One pass of a phase's wait loop with nothing arriving, in ns: the frame
 * phase polls the consumer (descriptors, and every 16th pass the clock and
 * its control side), the message phase polls one subscription. A
 * message that lands during a pass is seen at the end of it, so each
 * direction waits half a pass on average: the frame round trip pays about
 * one frame pass where its floor pays one message pass. */
static double idle_pass_ns(side_t *s, int phase)
{
    enum { PASSES = 200000 };
    atomic_store(&shared->phase, phase);
    const int64_t t0 = tp_clock_monotonic_ns();
    for (int i = 0; i < PASSES; i++) poll_once(s, phase);
    return (double)(tp_clock_monotonic_ns() - t0) / PASSES;
}

static int pinger_main(int ntrials, size_t samples)
{
    tp_bench_pin(0);
    side_t s;
    if (open_side(&s, PING_STREAM, PING_DESC, PONG_STREAM, PONG_DESC, MSG_PING, MSG_PONG) != 0) return 1;
    /* subscriptions notice a new publication at their rescan cadence (1 s):
     * until the ponger answers one message and one frame of each size, keep
     * asking */
    uint64_t round = 0;
    const int64_t give_up = tp_clock_monotonic_ns() + 20000000000;
    for (int k = -1; k < NSIZES; k++) {
        do {
            const uint64_t r = ++round;
            if (k < 0) send_msg(&s, r);
            else if (send_frame(&s, sizes[k], r) != 0) break;
            const int64_t until = tp_clock_monotonic_ns() + 10000000;
            while (s.got != r && tp_clock_monotonic_ns() < until) poll_once(&s, PHASE_ANY);
        } while (s.got != round && tp_clock_monotonic_ns() < give_up);
    }
    int64_t *buf = malloc(samples * sizeof *buf);
    trial_t *tr = calloc(MAX_TRIALS, sizeof *tr);
    if (s.got != round || buf == NULL || tr == NULL) {
        fprintf(stderr, "bench_frame_rtt: the ponger never answered\n");
        return 1;
    }
    /* its first writes would fault inside a measured run; not 0, which the
     * compiler may turn into calloc's untouched pages */
    memset(buf, 0xff, samples * sizeof *buf);
    const double pass_msg = idle_pass_ns(&s, PHASE_MSG), pass_frame = idle_pass_ns(&s, PHASE_FRAME);
    /* a padded side overshoots its pad by about one clock read */
    const int64_t c0 = tp_bench_now_ns();
    for (int i = 0; i < 10000; i++) (void)tp_bench_now_ns();
    const int64_t clock_ns = (tp_bench_now_ns() - c0) / 10000;
    printf("{\"name\":\"frame_rtt_idle_pass\",\"unit\":\"ns\",\"value\":%.4g,\"phase\":\"message\","
           "\"polls\":\"one subscription\"}\n", pass_msg);
    printf("{\"name\":\"frame_rtt_idle_pass\",\"unit\":\"ns\",\"value\":%.4g,\"phase\":\"frame\","
           "\"polls\":\"tp_consumer_poll, clock every 16th\"}\n", pass_frame);
    int rc = 0;
    for (int t = 0; t < ntrials && rc == 0; t++) {
        atomic_store(&shared->phase, PHASE_ANY);
        usleep(5000); /* the ponger goes to sleep: CPUs 0 and 1 are the probe's */
        const int64_t before = ask_probe(&s);
        if (line_pong(&s, 0, &round, samples, buf, &tr[t], KIND_CL) != 0) rc = -1;
        if (rc == 0 && ping_pong(&s, 0, 1, &round, samples, buf, &tr[t], KIND_MSG) != 0) rc = -1;
        for (int k = 0; k < NSIZES && rc == 0; k++)
            if (ping_pong(&s, sizes[k], 1, &round, samples, buf, &tr[t], k) != 0) rc = -1;
        if (rc == 0 && ping_pong(&s, sizes[0], 0, &round, samples, buf, &tr[t], KIND_NO_TS) != 0) rc = -1;
        /* the tail floor, as long as this trial's 64 B round trip */
        const int64_t pad = (tr[t].v[0][0] - tr[t].v[KIND_CL][0]) / 2 - clock_ns;
        if (rc == 0 && line_pong(&s, pad > 0 ? pad : 0, &round, samples, buf, &tr[t], KIND_TAIL) != 0) rc = -1;
        usleep(5000);
        const int64_t after = ask_probe(&s);
        tr[t].regime = tp_bench_regime(before, after);
        if (rc == 0)
            fprintf(stderr,
                    "bench_frame_rtt: trial %d %s (probe %lld/%lld ns): p50 cl %lld msg %lld | 64B %lld 4KiB %lld 1MiB %lld"
                    " 64B-no-ts %lld; p99.9 %lld %lld %lld; tail floor (pad %lld) p50 %lld p99.9 %lld\n",
                    t, tr[t].regime, (long long)before, (long long)after, (long long)tr[t].v[KIND_CL][0],
                    (long long)tr[t].v[KIND_MSG][0], (long long)tr[t].v[0][0], (long long)tr[t].v[1][0],
                    (long long)tr[t].v[2][0], (long long)tr[t].v[KIND_NO_TS][0], (long long)tr[t].v[0][2],
                    (long long)tr[t].v[1][2], (long long)tr[t].v[2][2], (long long)tr[t].pad_ns,
                    (long long)tr[t].v[KIND_TAIL][0], (long long)tr[t].v[KIND_TAIL][2]);
        static const char *const kind_names[NKINDS - 1] = {"64B", "4KiB", "1MiB", "64B-no-ts", "msg", "tail-floor"};
        for (int k = 0; k < NKINDS - 1 && rc == 0; k++)
            fprintf(stderr, "  %s: >=5us %lld >=50us %lld minflt %lld nvcsw %lld nivcsw %lld\n",
                    kind_names[k], (long long)tr[t].slow5[k],
                    (long long)tr[t].slow50[k], (long long)tr[t].minflt[k], (long long)tr[t].nvcsw[k],
                    (long long)tr[t].nivcsw[k]);
    }
    if (rc == 0) report(tr, ntrials, samples);
    fflush(stdout);
    atomic_store(&shared->phase, PHASE_ANY);
    send_msg(&s, ROUND_END);
    usleep(10000);
    close_side(&s);
    free(buf);
    free(tr);
    return rc == 0 ? 0 : 1;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    int ntrials;
    size_t samples;
    const int bad_args = tp_bench_round_trip_args(argc, argv, "bench_frame_rtt", MAX_TRIALS, &ntrials, &samples);
    if (bad_args != 0) return bad_args;
    char dir[] = "/dev/shm/tp-bench-frame-rtt-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    chmod(dir, 0770);
    setenv("TP_DIR", dir, 1);
    tp_driver_config_t *cfg = malloc(sizeof *cfg);
    tp_driver_config_defaults(cfg);
    const char *text = "[profiles.rtt]\nheader_nslots = 16\npayload_pools = [ { pool_id = 1, stride_bytes = 64 },"
                       " { pool_id = 2, stride_bytes = 4096 }, { pool_id = 3, stride_bytes = 1048576 } ]\n"
                       "[streams.ping]\nstream_id = 10100\nprofile = \"rtt\"\n"
                       "[streams.pong]\nstream_id = 10101\nprofile = \"rtt\"\n";
    /* The driver on a thread of this process, idling as `tp driver` and the
     * embedded driver do (tp_driver_idle_strategy: parks up to
     * driver.idle_park_max_us, 1 ms unless DRIVER_IDLE_PARK_MAX_US says
     * otherwise): its wake-ups share the two CPUs with the ping-pong */
    tp_driver_t *drv = NULL;
    tp_idle_strategy_t idle;
    tp_agent_runner_t runner;
    tp_agent_t agent;
    if (tp_driver_config_parse(cfg, text, strlen(text)) != 0 || tp_driver_config_apply_env(cfg, NULL) != 0 ||
        tp_driver_open(&drv, cfg, NULL) != 0 ||
        (tp_driver_idle_strategy(cfg, drv, &idle), agent = tp_driver_agent(drv),
         tp_agent_runner_init(&runner, &agent, &idle)) != 0 ||
        tp_agent_runner_start(&runner) != 0) {
        fprintf(stderr, "bench_frame_rtt: driver: %s\n", tp_errmsg());
        return 1;
    }
    const int64_t t_start = tp_clock_monotonic_ns();
    const uint64_t cycles0 = tp_agent_runner_duty_cycles(&runner);
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return 1;
    fflush(stdout);
    const pid_t pong = fork();
    if (pong == 0) _exit(ponger_main());
    if (pipe(req_fd) != 0 || pipe(rsp_fd) != 0) return 1;
    const pid_t ping = fork();
    if (ping == 0) {
        close(req_fd[0]);
        close(rsp_fd[1]);
        _exit(pinger_main(ntrials, samples));
    }
    close(req_fd[1]);
    close(rsp_fd[0]);
    int rc = 0, st = 0;
    char req;
    while (read(req_fd[0], &req, 1) == 1) { /* serve the pinger's probes until it ends (EOF) */
        shared->probe_ns = tp_bench_placement_probe();
        if (write(rsp_fd[1], &req, 1) != 1) break;
    }
    if (waitpid(ping, &st, 0) != ping) st = 1 << 8;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
    /* the ponger ends on the pinger's last message; if that never came, stop it */
    const int64_t end = tp_clock_monotonic_ns() + 5000000000;
    while (waitpid(pong, &st, WNOHANG) == 0) {
        if (tp_clock_monotonic_ns() > end) {
            kill(pong, SIGKILL);
            waitpid(pong, &st, 0);
            rc = 1;
            break;
        }
        usleep(10000);
    }
    const double secs = (double)(tp_clock_monotonic_ns() - t_start) / 1e9;
    if (rc == 0)
        printf("{\"name\":\"frame_rtt_driver_duty_cycles\",\"unit\":\"1/s\",\"value\":%.6g,\"driver_park_max_us\":%lld}\n",
               (double)(tp_agent_runner_duty_cycles(&runner) - cycles0) / secs, (long long)cfg->idle_park_max_us);
    tp_agent_runner_stop(&runner);
    tp_driver_close(drv, 0, NULL);
    free(cfg);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
