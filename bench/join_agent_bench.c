/* JoinBarrierAgent end to end, lockstep two-camera case (JSON lines):
 *   join_agent_lockstep_latency_p50 / _p99: last required input committed
 *     (its slot timestamp, written just before the commit store) -> stage
 *     callback, in ns, producers at a fixed rate; median over runs;
 *   join_agent_lockstep_outputs_per_s: complete outputs (both frames read
 *     and validated) per second from start to the last output, with both
 *     producers publishing as fast as the stage takes them: each stays at
 *     most WINDOW frames (half its pool) ahead of the stage's outputs and
 *     sleeps 20 us when it is (3 processes share 2 cores), so no frame is
 *     overwritten before it is read; incomplete_fraction is the share of
 *     outputs whose frames were overwritten all the same (expected 0).
 *     Without that credit the row measured how the scheduler interleaved
 *     three processes: 0 % or 93 % incomplete, 16x apart between runs.
 *   join_agent_lockstep_stage_outputs_per_s: what the stage alone sustains
 *     on one core: frames published beforehand, clock runs while it joins.
 *   join_agent_lockstep_stage_capacity_fraction: outputs_per_s over the
 *     stage capacity measured right after it in the same run, median of the
 *     per-run ratios (the load of a shared machine moves both).
 *   join_agent_transport_latency (p50, p99) and _ratio: the same latency
 *     over tp:ipc and, in builds with Aeron, over aeron:ipc with an embedded
 *     media driver, both in each run between two placement probes
 *     (placement.h), each channel in two legs of frames/2 ordered A B B A
 *     (B A A B on odd runs) so both sample the same stretch of the machine's
 *     load; medians per regime. _ratio (p50 and p99) = tp:ipc / aeron:ipc,
 *     the median of the per-run ratios (paired: load moves both legs of a
 *     run alike); ratio_of_medians beside it. These legs run with the stage
 *     pinned to CPU 0 and the producers to CPU 1 (the CPUs the probes
 *     measure). Unpinned, the latency was mostly scheduling: a producer
 *     that woke on the stage's CPU (0-78 % of a leg's frames, depending on
 *     what else ran on the other vCPU) made the stage wait ~11 us for it
 *     instead of ~2 us across cores, for either channel, so a leg's p50 was
 *     ~2 or ~11 us by chance; one leg each, tp:ipc always first, compared
 *     two draws of that (the 2-13x "gaps" of earlier runs). The
 *     lockstep_latency rows are the tp:ipc legs.
 * Producers are separate processes writing SHM and publishing descriptors on
 * the deployment's transport (stand-in producer, $DRIVER_CONTROL_CHANNEL);
 * the stage busy-polls.
 *
 *   bench_join_agent [runs] [frames]                                       */
#include "../tests/stand_in_producer.h"
#include "ipc/ipc_media_driver.h"
#include "placement.h"
#include "tensorpool/clock.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"

#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

typedef struct {
    _Atomic int go;
    _Atomic int done[2];
    _Atomic uint64_t outputs; /* the stage's, for the producers' credit */
} shared_t;

enum { POOL_SLOTS = 256, WINDOW = POOL_SLOTS / 2 };

static char base[256];
static tp_ipc_context_t ctx;
static shared_t *sh;
static int pin_producers; /* latency legs: producers on CPU 1, the stage on CPU 0 */

typedef struct {
    uint64_t *lat;
    size_t n, cap;
    uint64_t outputs, complete;
    int64_t first_ns, last_ns;
} stage_t;

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

static void on_output(void *clientd, const tp_join_output_t *out)
{
    stage_t *s = clientd;
    const int64_t now = tp_clock_monotonic_ns(); /* measurement, not the cycle's cached clock */
    s->outputs++;
    atomic_store_explicit(&sh->outputs, s->outputs, memory_order_release);
    s->last_ns = now;
    uint64_t committed = 0;
    for (uint32_t i = 0; i < out->input_count; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        if (in->frame_count != 1 || !in->frames[0].has_view) return;
        if (in->frames[0].view.header.timestamp_ns > committed) committed = in->frames[0].view.header.timestamp_ns;
    }
    s->complete++;
    if (s->n < s->cap && (uint64_t)now >= committed) s->lat[s->n++] = (uint64_t)now - committed;
}

static pid_t producer(uint32_t stream, int k, int frames, int64_t period_ns)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    alarm(120);
    if (pin_producers) tp_bench_pin(1);
    tp_stand_in_producer_t p;
    if (tp_stand_in_producer_open(&p, &ctx, base, stream, 1, POOL_SLOTS, TP_DESCRIPTOR_STREAM_DEFAULT,
                                  TP_CONTROL_STREAM_DEFAULT, (uint64_t)tp_clock_monotonic_ns()) != 0)
        _exit(1);
    /* announce until the run starts, as a driver announces periodically:
     * over Aeron an announce offered before the agent's subscription is
     * connected is dropped */
    for (int64_t next = 0; !atomic_load(&sh->go); sleep_ns(100000)) {
        const int64_t now = tp_clock_monotonic_ns();
        if (now < next) continue;
        tp_stand_in_producer_announce(&p, (uint64_t)now);
        next = now + 20 * MS;
    }
    int64_t next = tp_clock_monotonic_ns();
    for (int i = 0; i < frames; i++) {
        if (period_ns > 0) { /* sleep, do not spin: 2 cores are shared with the stage */
            struct timespec ts = {(time_t)(next / 1000000000LL), (long)(next % 1000000000LL)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            next += period_ns;
        } else { /* credit: never more than WINDOW frames ahead of the stage */
            while ((uint64_t)i >= atomic_load_explicit(&sh->outputs, memory_order_acquire) + WINDOW) sleep_ns(20000);
        }
        const uint64_t t = (uint64_t)tp_clock_monotonic_ns();
        tp_stand_in_producer_publish(&p, (uint64_t)i, t, t, NULL);
        if ((i & 1023) == 0) tp_shm_writer_heartbeat(&p.w, t);
    }
    atomic_store(&sh->done[k], 1);
    sleep_ns(300 * MS); /* keep the regions while the stage drains */
    tp_stand_in_producer_close(&p);
    _exit(0);
}

/* One run; returns 0 and fills the stage. */
static int run(stage_t *st, int frames, int64_t period_ns)
{
    snprintf(base, sizeof base, "/dev/shm/tp-bench-join-%d-XXXXXX", (int)getpid());
    if (mkdtemp(base) == NULL) return -1;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base;
    ctx.log_capacity = 8u << 20; /* room for the whole run's descriptors */
    memset(sh, 0, sizeof *sh);

    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&m, 10, 1);
    tp_merge_map_add_offset(&m, 1, 0);
    tp_merge_map_add_offset(&m, 2, 0);
    tp_merge_authority_config_t ac;
    tp_merge_authority_config_init(&ac);
    ac.ipc = &ctx;
    ac.reannounce_interval_ns = 50 * MS; /* the map arrives soon also over Aeron */
    tp_merge_authority_t *auth = NULL;
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, 10, 1);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 2, 0);
    cfg.shm_base_dir = base;
    cfg.on_output = on_output;
    cfg.clientd = st;
    cfg.first_out_seq = 0;
    cfg.poll_limit = 256;
    cfg.max_outputs_per_cycle = 256;
    tp_join_agent_t *a = NULL;
    if (tp_merge_authority_create(&ac, &auth) != 0 || tp_join_agent_create(&cfg, &a) != 0) {
        fprintf(stderr, "setup: %s\n", tp_errmsg());
        return -1;
    }
    tp_merge_authority_put(auth, &m, tp_clock_monotonic_ns());
    pid_t p1 = producer(1, 0, frames, period_ns), p2 = producer(2, 1, frames, period_ns);
    tp_join_agent_stats_t s;
    int64_t deadline = tp_clock_monotonic_ns() + 5000 * MS;
    do { /* map applied and both pools mapped */
        tp_merge_authority_do_work(auth, tp_clock_monotonic_ns());
        tp_join_agent_do_work(a, tp_clock_monotonic_ns());
        tp_join_agent_stats(a, &s);
    } while ((!tp_join_barrier_has_map(tp_join_agent_barrier(a)) || s.mappings < 2) &&
             tp_clock_monotonic_ns() < deadline);
    atomic_store(&sh->go, 1);
    st->first_ns = tp_clock_monotonic_ns();
    deadline = tp_clock_monotonic_ns() + 60000 * MS;
    int64_t quiet_since = 0;
    while (tp_clock_monotonic_ns() < deadline) {
        const int w = tp_join_agent_do_work(a, tp_clock_monotonic_ns());
        if (st->outputs >= (uint64_t)frames) break;
        if (atomic_load(&sh->done[0]) && atomic_load(&sh->done[1]) && w == 0) {
            if (quiet_since == 0) quiet_since = tp_clock_monotonic_ns();
            if (tp_clock_monotonic_ns() - quiet_since > 200 * MS) break;
        } else {
            quiet_since = 0;
        }
    }
    tp_join_agent_stats(a, &s);
    if (getenv("TP_BENCH_VERBOSE") != NULL)
        fprintf(stderr, "run: outputs %llu complete %llu descriptors %llu read %llu dropped %llu cycles %llu\n",
                (unsigned long long)s.outputs, (unsigned long long)st->complete, (unsigned long long)s.descriptors,
                (unsigned long long)s.frames_read, (unsigned long long)s.frames_dropped,
                (unsigned long long)s.duty_cycles);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
    waitpid(p1, NULL, 0);
    waitpid(p2, NULL, 0);
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* The stage's own capacity: both inputs' frames (and descriptors) are
 * published beforehand in this process, then the clock runs while the agent
 * turns them into outputs (descriptor decode, barrier, two slot reads and
 * validation, callback). Independent of how the machine schedules producers. */
static double stage_capacity(int frames)
{
    snprintf(base, sizeof base, "/dev/shm/tp-bench-join-%d-XXXXXX", (int)getpid());
    if (mkdtemp(base) == NULL) return -1;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base;
    ctx.log_capacity = 8u << 20;
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&m, 10, 1);
    tp_merge_map_add_offset(&m, 1, 0);
    tp_merge_map_add_offset(&m, 2, 0);
    tp_merge_authority_config_t ac;
    tp_merge_authority_config_init(&ac);
    ac.ipc = &ctx;
    stage_t st = {0};
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, 10, 1);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 2, 0);
    cfg.shm_base_dir = base;
    cfg.on_output = on_output;
    cfg.clientd = &st;
    cfg.first_out_seq = 0;
    cfg.poll_limit = 256;
    cfg.max_outputs_per_cycle = 256;
    tp_merge_authority_t *auth = NULL;
    tp_join_agent_t *a = NULL;
    tp_stand_in_producer_t p1, p2;
    const int64_t now = tp_clock_monotonic_ns();
    if (tp_merge_authority_create(&ac, &auth) != 0 || tp_join_agent_create(&cfg, &a) != 0 ||
        tp_stand_in_producer_open(&p1, &ctx, base, 1, 1, 8192, TP_DESCRIPTOR_STREAM_DEFAULT,
                                  TP_CONTROL_STREAM_DEFAULT, (uint64_t)now) != 0 ||
        tp_stand_in_producer_open(&p2, &ctx, base, 2, 1, 8192, TP_DESCRIPTOR_STREAM_DEFAULT,
                                  TP_CONTROL_STREAM_DEFAULT, (uint64_t)now) != 0) {
        fprintf(stderr, "setup: %s\n", tp_errmsg());
        return -1;
    }
    /* announced after the agent exists: it maps only announces newer than its
     * own start (docs/spec/wire.md W-10.1.1.f) */
    const int64_t announced = tp_clock_monotonic_ns();
    tp_merge_authority_put(auth, &m, announced);
    tp_stand_in_producer_announce(&p1, (uint64_t)announced);
    tp_stand_in_producer_announce(&p2, (uint64_t)announced);
    /* before the frames: the map in force and both inputs mapped. The
     * producers' logs are new, and the agent's subscriptions find them at
     * their conductor's next pass; a fixed 100 cycles was sometimes too few
     * (CI: 7744 of 8000 outputs complete, the first 256 without input 2) */
    const int64_t ready_by = tp_clock_monotonic_ns() + 5000 * MS;
    tp_join_agent_stats_t js;
    do {
        tp_join_agent_do_work(a, tp_clock_monotonic_ns());
        tp_join_agent_stats(a, &js);
    } while ((js.mappings < 2 || !tp_join_barrier_has_map(tp_join_agent_barrier(a))) &&
             tp_clock_monotonic_ns() < ready_by);
    for (int i = 0; i < frames; i++) {
        tp_stand_in_producer_publish(&p1, (uint64_t)i, (uint64_t)now, (uint64_t)now, NULL);
        tp_stand_in_producer_publish(&p2, (uint64_t)i, (uint64_t)now, (uint64_t)now, NULL);
    }
    const int64_t t0 = tp_clock_monotonic_ns();
    while (st.outputs < (uint64_t)frames && tp_clock_monotonic_ns() - t0 < 10000 * MS)
        tp_join_agent_do_work(a, tp_clock_monotonic_ns());
    const int64_t t1 = tp_clock_monotonic_ns();
    double rate = (double)frames / ((double)(t1 - t0) / 1e9);
    if (st.complete != (uint64_t)frames) { /* a broken setup is an error, not a rate of 0 */
        fprintf(stderr, "stage capacity: %llu of %d outputs complete\n", (unsigned long long)st.complete, frames);
        rate = -1;
    }
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(&p1);
    tp_stand_in_producer_close(&p2);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rate;
}

static int cmp_u64(const void *x, const void *y)
{
    const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1));
    return v[i];
}

static double median_d(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    int frames = argc > 2 ? atoi(argv[2]) : 5000;
    if (runs < 1 || runs > 50 || frames < 100) {
        fprintf(stderr, "usage: bench_join_agent [runs 1..50] [frames >= 100]\n");
        return 2;
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 1;
    double p50[50], p99[50], tput[50], drop[50], cap[50], frac[50];
    /* [regime][channel][stat][run] of the transport comparison */
    static double tl[TP_BENCH_NREGIMES][2][2][50];
    static double tr[TP_BENCH_NREGIMES][2][50]; /* [regime][stat][run]: tp:ipc / aeron:ipc of the same run */
    int tn[TP_BENCH_NREGIMES] = {0};
    const int64_t period = 1 * MS; /* 1 kHz per camera for latency */
    char md_dir[128];
    snprintf(md_dir, sizeof md_dir, "/dev/shm/tp-bench-join-md-%d", (int)getpid());
    tp_ipc_context_t md_ctx;
    tp_ipc_context_init(&md_ctx);
    tp_ipc_media_driver_t *md = NULL;
    const int have_aeron = tp_ipc_media_driver_start(&md, &md_ctx, md_dir) == 0;
    if (!have_aeron) fprintf(stderr, "bench_join_agent: no aeron:ipc rows: %s\n", tp_errmsg());
    setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
    static const char *const channels[2] = {"tp:ipc", "aeron:ipc"};
    const char *const *regimes = tp_bench_regime_names;
    const char *regime = NULL; /* of all runs' bracketing probes; "mixed" when they differ */
    for (int r = 0; r < runs; r++) {
        const int64_t before = tp_bench_placement_probe();
        double lat[2][2];
        /* ABBA: each channel runs two legs of frames/2, in the order
         * A B B A (B A A B on odd runs), so both sample the same stretch of a
         * machine whose load drifts; one leg each, tp:ipc always first, made
         * the ratio a measure of whatever else ran in each window. */
        const int nch = have_aeron ? 2 : 1;
        /* The stage on CPU 0, both producers on CPU 1: the CPUs the probes
         * bracketing these legs measure. Unpinned, a producer woke on the
         * stage's CPU for 0-78 % of a leg's frames (whatever else ran on the
         * other vCPU decided), and the stage then waited for it to go back to
         * sleep: ~11 us instead of ~2 us, which set a leg's p50 for either
         * channel. */
        cpu_set_t all;
        const int have_all = sched_getaffinity(0, sizeof all, &all) == 0;
        tp_bench_pin(0);
        pin_producers = 1;
        uint64_t *pool[2] = {NULL, NULL};
        size_t pooled[2] = {0, 0};
        for (int leg = 0; leg < 2 * nch; leg++) {
            const int c = nch == 1 ? 0 : (leg == 0 || leg == 3) ? (r & 1) : 1 - (r & 1);
            setenv("DRIVER_CONTROL_CHANNEL", channels[c], 1);
            if (pool[c] == NULL && (pool[c] = calloc((size_t)frames, sizeof *pool[c])) == NULL) return 1;
            const int n = frames / 2 + (pooled[c] > 0 ? frames % 2 : 0); /* legs of one channel: frames */
            stage_t st = {0};
            st.cap = (size_t)frames - pooled[c];
            st.lat = pool[c] + pooled[c];
            if (run(&st, n, period) != 0) return 1;
            pooled[c] += st.n;
        }
        pin_producers = 0;
        if (have_all) sched_setaffinity(0, sizeof all, &all);
        for (int c = 0; c < nch; c++) {
            lat[c][0] = (double)pct(pool[c], pooled[c], 0.50);
            lat[c][1] = (double)pct(pool[c], pooled[c], 0.99);
            free(pool[c]);
        }
        setenv("DRIVER_CONTROL_CHANNEL", "tp:ipc", 1);
        /* the transport comparison's own bracket: its latency runs only */
        const char *lat_regime = tp_bench_regime(before, tp_bench_placement_probe());
        const int g = tp_bench_regime_index(lat_regime);
        for (int c = 0; c < (have_aeron ? 2 : 1); c++)
            for (int k = 0; k < 2; k++) tl[g][c][k][tn[g]] = lat[c][k];
        if (have_aeron)
            for (int k = 0; k < 2; k++) tr[g][k][tn[g]] = lat[1][k] > 0 ? lat[0][k] / lat[1][k] : 0;
        tn[g]++;
        p50[r] = lat[0][0];
        p99[r] = lat[0][1];

        stage_t ft = {0};
        if (run(&ft, frames * 4, 0) != 0) return 1;
        const double secs = (double)(ft.last_ns - ft.first_ns) / 1e9;
        tput[r] = secs > 0 ? (double)ft.complete / secs : 0; /* go -> last output, complete outputs only */
        drop[r] = ft.outputs ? 1.0 - (double)ft.complete / (double)ft.outputs : 0;
        cap[r] = stage_capacity(8000);
        if (cap[r] < 0) return 1;
        frac[r] = tput[r] / cap[r]; /* paired: the capacity measured right after, same load */
        const char *rr = tp_bench_regime(before, tp_bench_placement_probe());
        regime = regime == NULL || strcmp(regime, rr) == 0 ? rr : "mixed";
    }
    printf("{\"name\":\"join_agent_lockstep_latency_p50\",\"unit\":\"ns\",\"value\":%.6g,\"runs\":%d,\"frames\":%d,"
           "\"rate_hz\":1000,\"inputs\":2,\"regime\":\"%s\"}\n", median_d(p50, runs), runs, frames, regime);
    printf("{\"name\":\"join_agent_lockstep_latency_p99\",\"unit\":\"ns\",\"value\":%.6g,\"runs\":%d,\"frames\":%d,"
           "\"rate_hz\":1000,\"inputs\":2,\"regime\":\"%s\"}\n", median_d(p99, runs), runs, frames, regime);
    printf("{\"name\":\"join_agent_lockstep_outputs_per_s\",\"unit\":\"outputs/s\",\"value\":%.6g,\"runs\":%d,"
           "\"frames\":%d,\"inputs\":2,\"incomplete_fraction\":%.6g,\"window\":%d,\"regime\":\"%s\"}\n",
           median_d(tput, runs), runs, frames * 4, median_d(drop, runs), WINDOW, regime);
    /* the machine's load moves both rates together; their per-run ratio much less */
    printf("{\"name\":\"join_agent_lockstep_stage_capacity_fraction\",\"unit\":\"ratio\",\"value\":%.6g,"
           "\"runs\":%d,\"inputs\":2,\"regime\":\"%s\"}\n", median_d(frac, runs), runs, regime);
    for (int g = 0; g < TP_BENCH_NREGIMES; g++) {
        if (tn[g] == 0) continue;
        double med[2][2];
        for (int c = 0; c < (have_aeron ? 2 : 1); c++)
            for (int k = 0; k < 2; k++) {
                med[c][k] = median_d(tl[g][c][k], tn[g]);
                printf("{\"name\":\"join_agent_transport_latency\",\"unit\":\"ns\",\"value\":%.6g,\"stat\":\"%s\","
                       "\"channel\":\"%s\",\"regime\":\"%s\",\"runs\":%d,\"frames\":%d,\"rate_hz\":1000,\"inputs\":2}\n",
                       med[c][k], k == 0 ? "p50" : "p99", channels[c], regimes[g], tn[g], frames);
            }
        if (have_aeron)
            for (int k = 0; k < 2; k++)
                printf("{\"name\":\"join_agent_transport_latency_ratio\",\"unit\":\"ratio\",\"value\":%.6g,\"stat\":\"%s\","
                       "\"regime\":\"%s\",\"runs\":%d,\"ratio\":\"tp:ipc/aeron:ipc\",\"paired\":true,"
                       "\"ratio_of_medians\":%.6g}\n",
                       median_d(tr[g][k], tn[g]), k == 0 ? "p50" : "p99", regimes[g], tn[g], med[0][k] / med[1][k]);
    }
    tp_ipc_media_driver_stop(md);
    printf("{\"name\":\"join_agent_lockstep_stage_outputs_per_s\",\"unit\":\"outputs/s\",\"value\":%.6g,\"runs\":%d,"
           "\"frames\":8000,\"inputs\":2,\"prepublished\":true}\n", median_d(cap, runs), runs);
    return 0;
}
