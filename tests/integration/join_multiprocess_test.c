/* JoinBarrier end to end across real processes: producer processes write SHM
 * slots (shm writer) and publish FrameDescriptors and ShmPoolAnnounces on the
 * embedded transport (standing in for the driver and its producer client,
 * which are not merged yet); an authority process (supervisor or producer
 * role) holds the MergeMaps; the test process is the join stage.
 *
 * Every test has its own temp base dir (removed at the end), every wait is for
 * a condition with a generous deadline (never a fixed sleep before a check),
 * children die with SIGALRM if the parent disappears, and exactness is
 * checked by holding a producer at a known frame and counting outputs. Reads
 * are checked for correctness, not speed: a frame may only be dropped when
 * its producer had lapped the ring over it.
 * Runs once per transport (test_transport.h): join_multiprocess_test and
 * join_multiprocess_test_aeron, the stand-in producers, the authority and the
 * stage on $DRIVER_CONTROL_CHANNEL. */
#include "tp_test.h"

#include "stand_in_producer.h"
#include "test_transport.h"
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
#define CTL 1000
#define DESC 1100
#define OUT 10
#define MAXP 4
#define MAXLOG 4096
#define NSLOTS 64         /* ring slots of the stand-in producers */
#define WAIT (20000 * MS) /* bound on waits for a condition: generous, a loaded machine is slow, not wrong */

/* ---- shared state between the test process and its children ---- */
typedef struct {
    _Atomic int go;
    _Atomic int stop;
    _Atomic uint64_t published[MAXP];
    _Atomic int held[MAXP];
    _Atomic int release[MAXP];
    _Atomic int64_t map_put_ns[4]; /* by epoch: when the authority put the map */
    _Atomic uint64_t answered;
} shared_t;

static shared_t *sh;
static char base[256];
static tp_ipc_context_t ctx;
static pid_t kids[8];
static int nkids;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

static void setup(const char *tag)
{
    snprintf(base, sizeof base, "/dev/shm/tp-join-mp-%s-%d-XXXXXX", tag, (int)getpid());
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base;
    tp_test_deployment_transport_start(base); /* TP_TEST_CHANNEL: tp:ipc, or Aeron with its media driver */
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) exit(2);
    memset(sh, 0, sizeof *sh);
    nkids = 0;
}

static void teardown(void)
{
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < nkids; i++) {
        int64_t deadline = tp_clock_monotonic_ns() + 3000 * MS;
        int done = 0;
        while (!done && tp_clock_monotonic_ns() < deadline) {
            if (waitpid(kids[i], NULL, WNOHANG) == kids[i])
                done = 1;
            else
                sleep_ns(1 * MS);
        }
        if (!done) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
        }
    }
    nkids = 0;
    munmap(sh, sizeof *sh);
    tp_test_deployment_transport_stop();
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- producer process ---- */
typedef struct {
    int k;            /* index in shared arrays */
    uint32_t stream;
    uint64_t epoch;
    int count;        /* frames; 0 = until stop */
    int hold_at;      /* wait for release before frame hold_at (-1: never) */
    int restart_at;   /* reopen with epoch + 1 before frame restart_at (-1: never) */
    int64_t period_ns;
    uint64_t ts_base, ts_step;
    const tp_merge_map_t *own_map; /* producer role authority: map for each of its epochs */
    int64_t map_delay_ns;          /* after a restart, put the new epoch's map this much later */
} prod_cfg_t;

static uint64_t value_of(uint32_t stream, uint64_t epoch, uint64_t seq) { return ((uint64_t)stream << 40) | (epoch << 32) | seq; }

static void put_map(tp_merge_authority_t *auth, const tp_merge_map_t *tmpl, uint64_t epoch)
{
    tp_merge_map_t m;
    tp_merge_map_init(&m, tmpl->kind, tmpl->rule_count);
    tp_merge_map_copy(&m, tmpl);
    m.epoch = epoch;
    if (tp_merge_authority_put(auth, &m, tp_clock_monotonic_ns()) < 0) _exit(21);
    atomic_store(&sh->map_put_ns[epoch & 3], tp_clock_monotonic_ns());
    tp_merge_map_close(&m);
}

static void run_producer(const prod_cfg_t *pc)
{
    alarm(120);
    tp_merge_authority_t *auth = NULL;
    if (pc->own_map != NULL) {
        tp_merge_authority_config_t ac;
        tp_merge_authority_config_init(&ac);
        ac.ipc = &ctx;
        ac.reannounce_interval_ns = 200 * MS;
        if (tp_merge_authority_create(&ac, &auth) != 0) _exit(20);
        put_map(auth, pc->own_map, pc->epoch);
    }
    tp_stand_in_producer_t p;
    uint64_t epoch = pc->epoch;
    if (tp_stand_in_producer_open(&p, &ctx, base, pc->stream, epoch, 64, DESC, CTL,
                                  (uint64_t)tp_clock_monotonic_ns()) != 0)
        _exit(10);
    int64_t next_announce = 0, pending_map_at = -1;
    while (!atomic_load(&sh->go) && !atomic_load(&sh->stop)) {
        if (auth) tp_merge_authority_do_work(auth, tp_clock_monotonic_ns());
        if (tp_clock_monotonic_ns() >= next_announce) {
            tp_stand_in_producer_announce(&p, (uint64_t)tp_clock_monotonic_ns());
            next_announce = tp_clock_monotonic_ns() + 100 * MS;
        }
        sleep_ns(1 * MS);
    }
    uint64_t frame = 0; /* frames in this epoch */
    for (int i = 0; (pc->count == 0 || i < pc->count) && !atomic_load(&sh->stop); i++) {
        if (i == pc->hold_at) {
            atomic_store(&sh->held[pc->k], 1);
            while (!atomic_load(&sh->release[pc->k]) && !atomic_load(&sh->stop)) {
                if (tp_clock_monotonic_ns() >= next_announce) {
                    tp_stand_in_producer_announce(&p, (uint64_t)tp_clock_monotonic_ns());
                    next_announce = tp_clock_monotonic_ns() + 100 * MS;
                }
                if (auth) tp_merge_authority_do_work(auth, tp_clock_monotonic_ns());
                sleep_ns(1 * MS);
            }
        }
        if (i == pc->restart_at) { /* a producer restart: new epoch, seq from 0 */
            tp_stand_in_producer_close(&p);
            epoch++;
            if (tp_stand_in_producer_open(&p, &ctx, base, pc->stream, epoch, 64, DESC, CTL,
                                          (uint64_t)tp_clock_monotonic_ns()) != 0)
                _exit(11);
            tp_stand_in_producer_announce(&p, (uint64_t)tp_clock_monotonic_ns());
            frame = 0;
            if (auth) pending_map_at = tp_clock_monotonic_ns() + pc->map_delay_ns;
        }
        const uint64_t ts = pc->ts_base + (uint64_t)i * pc->ts_step;
        if (tp_stand_in_producer_publish(&p, value_of(pc->stream, epoch, frame), ts, ts, NULL) != 0) _exit(12);
        frame++;
        atomic_store(&sh->published[pc->k], (uint64_t)i + 1);
        const int64_t now = tp_clock_monotonic_ns();
        if (now >= next_announce) {
            tp_stand_in_producer_announce(&p, (uint64_t)now);
            next_announce = now + 100 * MS;
        }
        if (pending_map_at >= 0 && now >= pending_map_at) {
            put_map(auth, pc->own_map, epoch);
            pending_map_at = -1;
        }
        if (auth) tp_merge_authority_do_work(auth, now);
        sleep_ns(pc->period_ns);
    }
    while (!atomic_load(&sh->stop)) { /* stay alive: regions and announces remain valid */
        const int64_t now = tp_clock_monotonic_ns();
        if (pending_map_at >= 0 && now >= pending_map_at) {
            put_map(auth, pc->own_map, epoch);
            pending_map_at = -1;
        }
        if (now >= next_announce) {
            tp_stand_in_producer_announce(&p, (uint64_t)now);
            next_announce = now + 100 * MS;
        }
        if (auth) tp_merge_authority_do_work(auth, now);
        sleep_ns(1 * MS);
    }
    tp_stand_in_producer_close(&p);
    tp_merge_authority_destroy(auth);
    _exit(0);
}

static void spawn_producer(const prod_cfg_t *pc)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) run_producer(pc);
    kids[nkids++] = pid;
}

/* ---- supervisor authority process ---- */
static void spawn_authority(const tp_merge_map_t *m, int64_t reannounce_ns)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        tp_merge_authority_config_t ac;
        tp_merge_authority_config_init(&ac);
        ac.ipc = &ctx;
        ac.reannounce_interval_ns = reannounce_ns;
        tp_merge_authority_t *auth;
        if (tp_merge_authority_create(&ac, &auth) != 0) _exit(20);
        if (tp_merge_authority_put(auth, m, tp_clock_monotonic_ns()) != 1) _exit(21);
        while (!atomic_load(&sh->stop)) {
            if (tp_merge_authority_do_work(auth, tp_clock_monotonic_ns()) == 0) sleep_ns(200000);
            tp_merge_authority_stats_t st;
            tp_merge_authority_stats(auth, &st);
            atomic_store(&sh->answered, st.requests_answered);
        }
        tp_merge_authority_destroy(auth);
        _exit(0);
    }
    kids[nkids++] = pid;
}

/* ---- the join stage (this process) ---- */
typedef struct {
    uint64_t out_seq, out_time, epoch;
    int64_t now;
    tp_join_input_status_t status[2];
    uint32_t frames[2];
    uint32_t dropped[2];
    uint64_t first_seq[2], last_seq[2];
    uint64_t req_first[2];  /* requested range start (sequence rules) */
    uint32_t views_in[2];   /* frames of the input with a view */
    uint64_t in_epoch[2];
    int values_ok;   /* every view read back the value its seq names */
    int views;       /* frames with a view */
    int window_ok;   /* TIMESTAMP: frame times inside the rule's range */
    uint64_t published_at_cb[2];
} rec_t;

typedef struct {
    rec_t log[MAXLOG];
    int n;
    int stale[2];  /* outputs with input i STALE */
    int epoch2;    /* outputs at output epoch 2 */
    uint64_t window_ns; /* TIMESTAMP test: WINDOW_NS of input 2 */
} stage_t;

static stage_t stage;

static void on_output(void *clientd, const tp_join_output_t *out)
{
    stage_t *s = clientd;
    if (s->n >= MAXLOG) return;
    rec_t *r = &s->log[s->n++];
    if (out->epoch == 2) s->epoch2++;
    memset(r, 0, sizeof *r);
    r->out_seq = out->out_seq;
    r->out_time = out->out_time;
    r->epoch = out->epoch;
    r->now = out->now_ns;
    r->values_ok = 1;
    r->window_ok = 1;
    for (uint32_t i = 0; i < out->input_count && i < 2; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        r->status[i] = in->status;
        r->frames[i] = in->frame_count;
        r->dropped[i] = in->dropped;
        r->in_epoch[i] = in->epoch;
        r->published_at_cb[i] = atomic_load(&sh->published[i]);
        r->req_first[i] = in->first_seq;
        if (in->status == TP_JOIN_INPUT_STALE) s->stale[i]++;
        if (in->frame_count > 0) {
            r->first_seq[i] = in->frames[0].seq;
            r->last_seq[i] = in->frames[in->frame_count - 1].seq;
        }
        for (uint32_t k = 0; k < in->frame_count; k++) {
            const tp_join_frame_t *f = &in->frames[k];
            if (!f->has_view) continue;
            r->views++;
            r->views_in[i]++;
            uint64_t v;
            memcpy(&v, f->view.payload, sizeof v);
            if (tp_join_frame_still_valid(f) && v != value_of(in->stream_id, in->epoch, f->seq)) r->values_ok = 0;
            if (out->mode == TP_JOIN_MODE_TIMESTAMP && i == 1 &&
                (f->view.header.timestamp_ns > out->out_time ||
                 f->view.header.timestamp_ns < out->out_time - s->window_ns))
                r->window_ok = 0;
        }
    }
}

static tp_join_agent_t *make_stage(tp_join_mode_t mode, uint64_t epoch, uint32_t s1, uint32_t s2,
                                   uint64_t first_out)
{
    memset(&stage, 0, sizeof stage);
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, mode, OUT, epoch);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, s1, DESC);
    tp_join_agent_config_add_input(&cfg, s2, DESC);
    cfg.shm_base_dir = base;
    cfg.on_output = on_output;
    cfg.clientd = &stage;
    cfg.first_out_seq = first_out;
    cfg.request_interval_ns = 50 * MS;
    cfg.activity_window_ns = 5000 * MS; /* a dead producer is found by its pid; this is for hung ones */
    cfg.max_outputs_per_cycle = 64;
    tp_join_agent_t *a = NULL;
    if (tp_join_agent_create(&cfg, &a) != 0) fprintf(stderr, "join agent: %s\n", tp_errmsg());
    return a;
}

/* Drive the stage until cond() or the deadline; returns cond(). */
typedef int (*cond_fn)(tp_join_agent_t *a, void *arg);
static int run_until(tp_join_agent_t *a, cond_fn cond, void *arg, int64_t timeout_ns)
{
    const int64_t deadline = tp_clock_monotonic_ns() + timeout_ns;
    while (tp_clock_monotonic_ns() < deadline) {
        if (cond != NULL && cond(a, arg)) return 1;
        if (tp_join_agent_do_work(a, tp_clock_monotonic_ns()) == 0) sleep_ns(100000);
    }
    return cond != NULL ? cond(a, arg) : 1;
}

static int has_map(tp_join_agent_t *a, void *arg)
{
    (void)arg;
    return tp_join_barrier_has_map(tp_join_agent_barrier(a));
}

/* The map applied and both producers' pools mapped (they announce while
 * waiting for go): frames read from the first one on. */
static int ready(tp_join_agent_t *a, void *arg)
{
    (void)arg;
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    return tp_join_barrier_has_map(tp_join_agent_barrier(a)) && st.mappings >= 2;
}

/* Sequence rules: every input of outputs [from, to) with a failed read
 * (dropped) names frames its producer had already lapped when the stage saw
 * the output (published >= first requested seq + NSLOTS; published counts
 * frames, seq = frame index), and every delivered frame has a view. Reads
 * succeed whenever the reader keeps up. */
static int reads_accounted(int from, int to)
{
    int ok = 1;
    for (int i = from; i < to; i++) {
        const rec_t *r = &stage.log[i];
        for (int k = 0; k < 2; k++) {
            if (r->views_in[k] != r->frames[k]) {
                fprintf(stderr, "output %d input %d: %u frames, %u views\n", i, k, r->frames[k], r->views_in[k]);
                ok = 0;
            }
            if (r->dropped[k] != 0 && r->published_at_cb[k] < r->req_first[k] + NSLOTS) {
                fprintf(stderr, "output %d input %d: dropped from seq %llu, producer at %llu (not lapped)\n", i, k,
                        (unsigned long long)r->req_first[k], (unsigned long long)r->published_at_cb[k]);
                ok = 0;
            }
        }
    }
    return ok;
}

static int outputs_at_least(tp_join_agent_t *a, void *arg)
{
    (void)a;
    return stage.n >= *(int *)arg;
}

static int held(tp_join_agent_t *a, void *arg)
{
    (void)a;
    return atomic_load(&sh->held[*(int *)arg]);
}

static int published_at_least(tp_join_agent_t *a, void *arg)
{
    (void)a;
    const uint64_t *w = arg; /* {k, count} */
    return atomic_load(&sh->published[w[0]]) >= w[1];
}

/* Hold input k, let the other finish, wait for the outputs the published
 * frames allow, then a little longer so that one too many would show: the
 * count must be exact. */
static void settle(tp_join_agent_t *a, int k, uint64_t other_total, int outputs)
{
    CHECK(run_until(a, held, &k, WAIT));
    uint64_t w[2] = {(uint64_t)(1 - k), other_total};
    CHECK(run_until(a, published_at_least, w, WAIT));
    CHECK(run_until(a, outputs_at_least, &outputs, WAIT));
    run_until(a, NULL, NULL, 150 * MS);
}

static tp_merge_map_t seq_map(uint32_t s1, int32_t off1, uint32_t s2, int window2, int32_t off2, uint64_t epoch)
{
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 4);
    tp_merge_map_reset(&m, OUT, epoch);
    tp_merge_map_add_offset(&m, s1, off1);
    if (window2 > 0)
        tp_merge_map_add_window(&m, s2, (uint32_t)window2);
    else
        tp_merge_map_add_offset(&m, s2, off2);
    return m;
}

static prod_cfg_t prod(int k, uint32_t stream, int count, int hold_at, int64_t period_ns)
{
    prod_cfg_t p;
    memset(&p, 0, sizeof p);
    p.k = k;
    p.stream = stream;
    p.epoch = 1;
    p.count = count;
    p.hold_at = hold_at;
    p.restart_at = -1;
    p.period_ns = period_ns;
    p.ts_base = 1000000000ull;
    p.ts_step = 1000000ull;
    return p;
}

/* JB-7.1.a/b, JB-6.2.1.a: lockstep two cameras, OFFSET 0 each. Input 2 held
 * after 100 frames: exactly outputs 0..99; released: 0..199, each pairing
 * frame N of both inputs, read and validated once. */
static void test_lockstep(void)
{
    setup("lockstep");
    tp_merge_map_t m = seq_map(1, 0, 2, 0, 0, 1);
    spawn_authority(&m, 100 * MS);
    prod_cfg_t p1 = prod(0, 1, 200, -1, 1 * MS), p2 = prod(1, 2, 200, 100, 1 * MS);
    tp_join_agent_t *a = make_stage(TP_JOIN_MODE_SEQUENCE, 1, 1, 2, 0);
    spawn_producer(&p1);
    spawn_producer(&p2);
    CHECK(run_until(a, ready, NULL, WAIT));
    atomic_store(&sh->go, 1);
    settle(a, 1, 200, 100);
    CHECK_EQ_U64(stage.n, 100);
    atomic_store(&sh->release[1], 1);
    int want = 200;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    run_until(a, NULL, NULL, 50 * MS);
    CHECK_EQ_U64(stage.n, 200);
    int ordered = 1, paired = 1, values = 1, gated = 1, held_read = 0;
    for (int i = 0; i < stage.n; i++) {
        const rec_t *r = &stage.log[i];
        if (r->out_seq != (uint64_t)i) ordered = 0;
        if (r->frames[0] + r->dropped[0] != 1 || r->frames[1] + r->dropped[1] != 1) paired = 0;
        if ((r->frames[0] && r->last_seq[0] != r->out_seq) || (r->frames[1] && r->last_seq[1] != r->out_seq)) paired = 0;
        if (!r->values_ok) values = 0;
        /* never before both producers reached frame N (values_ok proves the
         * frame read was the committed frame N) */
        if (r->published_at_cb[0] < r->out_seq || r->published_at_cb[1] < r->out_seq) gated = 0;
        /* input 2 wrote nothing after frame 99 until released, after output
         * 99: its frames 36..99 could not be lapped and must have been read */
        if (i >= 36 && i <= 99 && r->views_in[1] == 1) held_read++;
    }
    CHECK(ordered && paired && values && gated);
    CHECK(reads_accounted(0, stage.n));
    CHECK_EQ_I64(held_read, 64);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.disconnects == 0 && st.mappings == 2); /* live producers are never unmapped */
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

/* JB-6.2.1.c: {1:OFFSET 0, 2:OFFSET -2}. No output below 2; output N pairs
 * frame N of input 1 with frame N-2 of input 2. Input 1 held at 100. */
static void test_offset_minus_two(void)
{
    setup("offset");
    tp_merge_map_t m = seq_map(1, 0, 2, 0, -2, 1);
    spawn_authority(&m, 100 * MS);
    prod_cfg_t p1 = prod(0, 1, 200, 100, 1 * MS), p2 = prod(1, 2, 200, -1, 1 * MS);
    tp_join_agent_t *a = make_stage(TP_JOIN_MODE_SEQUENCE, 1, 1, 2, 0);
    spawn_producer(&p1);
    spawn_producer(&p2);
    CHECK(run_until(a, ready, NULL, WAIT));
    atomic_store(&sh->go, 1);
    settle(a, 0, 200, 98);
    CHECK_EQ_U64(stage.n, 98); /* outputs 2..99 */
    atomic_store(&sh->release[0], 1);
    int want = 198;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    run_until(a, NULL, NULL, 50 * MS);
    CHECK_EQ_U64(stage.n, 198);
    int ok = 1;
    for (int i = 0; i < stage.n; i++) {
        const rec_t *r = &stage.log[i];
        if (r->out_seq != (uint64_t)i + 2 || !r->values_ok) ok = 0;
        if (r->frames[0] && r->last_seq[0] != r->out_seq) ok = 0;
        if (r->frames[1] && r->last_seq[1] != r->out_seq - 2) ok = 0;
    }
    CHECK(ok);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

/* JB-6.2.2.a/c/d: {1:OFFSET 0, 2:WINDOW 4}: outputs from 3; input 2 delivers
 * frames N-3..N, each read once (a failed read is reported, not retried). */
static void test_window(void)
{
    setup("window");
    tp_merge_map_t m = seq_map(1, 0, 2, 4, 0, 1);
    spawn_authority(&m, 100 * MS);
    prod_cfg_t p1 = prod(0, 1, 200, -1, 1 * MS), p2 = prod(1, 2, 200, 100, 1 * MS);
    tp_join_agent_t *a = make_stage(TP_JOIN_MODE_SEQUENCE, 1, 1, 2, 0);
    spawn_producer(&p1);
    spawn_producer(&p2);
    CHECK(run_until(a, ready, NULL, WAIT));
    atomic_store(&sh->go, 1);
    settle(a, 1, 200, 97);
    CHECK_EQ_U64(stage.n, 97); /* outputs 3..99 */
    atomic_store(&sh->release[1], 1);
    int want = 197;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    run_until(a, NULL, NULL, 50 * MS);
    CHECK_EQ_U64(stage.n, 197);
    int ok = 1, full_held = 0;
    for (int i = 0; i < stage.n; i++) {
        const rec_t *r = &stage.log[i];
        if (r->out_seq != (uint64_t)i + 3 || !r->values_ok) ok = 0;
        if (r->frames[1] + r->dropped[1] != 4) ok = 0;
        if (r->frames[1] == 4 && (r->first_seq[1] != r->out_seq - 3 || r->last_seq[1] != r->out_seq)) ok = 0;
        /* input 2 held after frame 99: frames of outputs 39..99 (>= 36)
         * could not be lapped before release and must all have been read */
        if (r->out_seq >= 39 && r->out_seq <= 99 && r->views_in[1] == 4) full_held++;
    }
    CHECK(ok);
    CHECK(reads_accounted(0, stage.n));
    CHECK_EQ_I64(full_held, 61);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

/* JB-8.1.c, JB-8.2.g/h, scenario 33 live: camera (30 Hz in stream time) with
 * OFFSET_NS 0 and IMU (200 Hz) with WINDOW_NS 10 ms, lateness 5 ms. IMU held
 * after 200 samples (last at +995 ms): exactly the camera frames with
 * T - 5 ms <= 995 ms fire (31 of them); all 60 after release. IMU frames
 * delivered lie in [T - 10 ms, T]. */
static void test_timestamp_camera_imu(void)
{
    setup("ts");
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_TIMESTAMP, 4);
    tp_merge_map_reset(&m, OUT, 1);
    tp_merge_map_set_clock(&m, TP_CLOCK_MONOTONIC, 5 * MS);
    tp_merge_map_add_offset_ns(&m, 1, TP_TS_SOURCE_FRAME_DESCRIPTOR, 0);
    tp_merge_map_add_window_ns(&m, 2, TP_TS_SOURCE_FRAME_DESCRIPTOR, 10 * MS);
    spawn_authority(&m, 100 * MS);
    prod_cfg_t cam = prod(0, 1, 60, -1, 3 * MS), imu = prod(1, 2, 400, 200, 500000);
    cam.ts_step = 33333333ull;
    imu.ts_step = 5000000ull;
    tp_join_agent_t *a = make_stage(TP_JOIN_MODE_TIMESTAMP, 1, 1, 2, 0);
    stage.window_ns = 10 * MS;
    spawn_producer(&cam);
    spawn_producer(&imu);
    CHECK(run_until(a, ready, NULL, WAIT));
    atomic_store(&sh->go, 1);
    settle(a, 1, 60, 31);
    CHECK_EQ_U64(stage.n, 31);
    atomic_store(&sh->release[1], 1);
    int want = 60;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    run_until(a, NULL, NULL, 50 * MS);
    CHECK_EQ_U64(stage.n, 60);
    int ok = 1;
    for (int i = 0; i < stage.n; i++) {
        const rec_t *r = &stage.log[i];
        if (r->out_time != 1000000000ull + (uint64_t)i * 33333333ull) ok = 0;
        if (!r->window_ok || !r->values_ok) ok = 0;
        if (r->frames[0] + r->dropped[0] != 1) ok = 0;
        if (r->frames[1] + r->dropped[1] < 1) ok = 0; /* IMU samples within the window */
    }
    CHECK(ok);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

static int stale_at_least(tp_join_agent_t *a, void *arg)
{
    (void)a;
    return stage.stale[1] >= *(int *)arg;
}

/* JB-9.1.a, JB-9.2.a, JB-9.3.a, JB-7.4.b-d: LatestValue with input 2 stalled
 * after 10 frames and staleTimeoutNs 150 ms: outputs keep firing on input 1,
 * with input 2's last frame (seq 9), first READY then listed STALE; one
 * output per new value at most, never one per duty cycle. */
static void test_latest_value_stale(void)
{
    setup("latest");
    tp_merge_map_t m = seq_map(1, 0, 2, 0, 0, 1);
    tp_merge_map_set_stale_timeout(&m, 150 * MS);
    spawn_authority(&m, 100 * MS);
    prod_cfg_t p1 = prod(0, 1, 0, -1, 2 * MS), p2 = prod(1, 2, 0, 10, 2 * MS);
    tp_join_agent_t *a = make_stage(TP_JOIN_MODE_LATEST_VALUE, 1, 1, 2, 0);
    spawn_producer(&p1);
    spawn_producer(&p2);
    CHECK(run_until(a, ready, NULL, WAIT));
    atomic_store(&sh->go, 1);
    int want_stale = 51;
    CHECK(run_until(a, stale_at_least, &want_stale, WAIT)); /* input 1 runs until stop */
    const uint64_t values = atomic_load(&sh->published[0]) + atomic_load(&sh->published[1]);
    int ready2 = 0, stale2 = 0, ok = 1, monotonic = 1;
    for (int i = 0; i < stage.n; i++) {
        const rec_t *r = &stage.log[i];
        if (!r->values_ok) ok = 0;
        if (i > 0 && r->last_seq[0] < stage.log[i - 1].last_seq[0]) monotonic = 0;
        if (r->status[1] == TP_JOIN_INPUT_STALE) {
            stale2++;
            if (r->frames[1] != 1 || r->last_seq[1] != 9) ok = 0; /* stale but usable */
            if (r->status[0] != TP_JOIN_INPUT_READY) ok = 0;
        } else if (r->status[1] == TP_JOIN_INPUT_READY) {
            ready2++;
        }
    }
    CHECK(ok && monotonic);
    CHECK(stale2 > 50); /* after 150 ms of silence, for the rest of the run */
    CHECK(ready2 >= 1);
    /* fires on new values only, not every duty cycle */
    CHECK((uint64_t)stage.n <= values);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

static int epoch2_at_least(tp_join_agent_t *a, void *arg)
{
    (void)a;
    return stage.epoch2 >= *(int *)arg;
}

/* JB-6.4.b/c, JB-7.3.a, JB-9.1.f, §3.9: producer 1 is the authority for the
 * output (producer role) and the output epoch follows it. It restarts with
 * epoch 2 and puts the epoch-2 map 300 ms later: no output in between, the
 * stage requests the map, outputs resume with epoch-2 frames only. */
static void test_epoch_change_blocks_until_fresh_map(void)
{
    setup("epoch");
    tp_merge_map_t m = seq_map(1, 0, 2, 0, 0, 1);
    prod_cfg_t p1 = prod(0, 1, 0, -1, 2 * MS), p2 = prod(1, 2, 0, -1, 2 * MS);
    p1.restart_at = 100;
    p1.own_map = &m;
    p1.map_delay_ns = 300 * MS;
    tp_join_agent_config_t cfg;
    memset(&stage, 0, sizeof stage);
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_LATEST_VALUE, OUT, 1);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, 1, DESC);
    tp_join_agent_config_add_input(&cfg, 2, DESC);
    cfg.shm_base_dir = base;
    cfg.on_output = on_output;
    cfg.clientd = &stage;
    cfg.epoch_follow_stream_id = 1;
    cfg.request_interval_ns = 50 * MS;
    tp_join_agent_t *a = NULL;
    CHECK(tp_join_agent_create(&cfg, &a) == 0);
    spawn_producer(&p1);
    spawn_producer(&p2);
    CHECK(run_until(a, ready, NULL, WAIT));
    atomic_store(&sh->go, 1);
    uint64_t w[2] = {0, 100};
    CHECK(run_until(a, published_at_least, w, WAIT));
    int64_t put2 = 0;
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    while ((put2 = atomic_load(&sh->map_put_ns[2])) == 0 && tp_clock_monotonic_ns() < deadline)
        if (tp_join_agent_do_work(a, tp_clock_monotonic_ns()) == 0) sleep_ns(100000);
    CHECK(put2 != 0);
    int want_e2 = 21;
    CHECK(run_until(a, epoch2_at_least, &want_e2, WAIT));
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    int e1 = 0, e2 = 0, early = 0, mixed = 0;
    int64_t first_e2 = 0;
    for (int i = 0; i < stage.n; i++) {
        const rec_t *r = &stage.log[i];
        if (r->epoch == 1) e1++;
        if (r->epoch == 2) {
            if (e2++ == 0) first_e2 = r->now;
            if (r->now < put2) early++;
            if (r->in_epoch[0] != 2) mixed++; /* JB-9.1.f */
        }
        /* after the switch no epoch-1 output may appear again */
        if (e2 > 0 && r->epoch == 1) mixed++;
    }
    CHECK(e1 >= 1 && e2 > 20); /* outputs on both sides of the switch */
    CHECK(early == 0 && mixed == 0);
    CHECK(first_e2 >= put2);
    CHECK(st.requests_sent >= 2); /* initial blocked request + after the epoch change */
    CHECK(st.announces_applied >= 2);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

/* JB-10.3.a-c, scenario 85 across processes: the authority re-announces only
 * every hour, so a stage started late can get its map only by request. */
static void test_late_joiner_gets_map_by_request(void)
{
    setup("late");
    tp_merge_map_t m = seq_map(1, 0, 2, 0, 0, 1);
    spawn_authority(&m, 3600000 * MS);
    prod_cfg_t p1 = prod(0, 1, 0, -1, 2 * MS), p2 = prod(1, 2, 0, -1, 2 * MS);
    atomic_store(&sh->go, 1);
    spawn_producer(&p1);
    spawn_producer(&p2);
    const int64_t t0 = tp_clock_monotonic_ns();
    while ((atomic_load(&sh->published[0]) < 100 || atomic_load(&sh->published[1]) < 100) &&
           tp_clock_monotonic_ns() < t0 + WAIT)
        sleep_ns(1 * MS);
    CHECK(atomic_load(&sh->published[0]) >= 100 && atomic_load(&sh->published[1]) >= 100);
    tp_join_agent_t *a = make_stage(TP_JOIN_MODE_SEQUENCE, 1, 1, 2, TP_JOIN_OUT_AUTO);
    CHECK(run_until(a, has_map, NULL, WAIT)); /* within the hour: by request */
    int want = 50;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.requests_sent >= 1 && st.announces_applied == 1);
    CHECK(atomic_load(&sh->answered) >= 1);
    /* AUTO start: the stage begins near the live frames, not at seq 0. */
    CHECK(stage.n > 0 && stage.log[0].out_seq >= 50);
    int ok = 1;
    for (int i = 1; i < stage.n; i++)
        if (stage.log[i].out_seq != stage.log[i - 1].out_seq + 1 || !stage.log[i].values_ok) ok = 0;
    CHECK(ok);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

typedef struct {
    int killed_at, stale_before;
} after_kill_t;

static int killed_settled(tp_join_agent_t *a, void *arg)
{
    const after_kill_t *k = arg;
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    return st.disconnects >= 1 && stage.stale[1] - k->stale_before > 100 && stage.n - k->killed_at > 150;
}

/* JB-7.4.b-e: lockstep with staleTimeoutNs 200 ms; producer 2 is SIGKILLed.
 * Outputs continue on input 1 with input 2 reported STALE (absent, no frames);
 * its mapping is released once its activity stops; nothing hangs. */
static void test_killed_producer_is_stale(void)
{
    setup("kill");
    tp_merge_map_t m = seq_map(1, 0, 2, 0, 0, 1);
    tp_merge_map_set_stale_timeout(&m, 200 * MS);
    spawn_authority(&m, 100 * MS);
    prod_cfg_t p1 = prod(0, 1, 0, -1, 2 * MS), p2 = prod(1, 2, 0, -1, 2 * MS);
    tp_join_agent_t *a = make_stage(TP_JOIN_MODE_SEQUENCE, 1, 1, 2, 0);
    spawn_producer(&p1);
    spawn_producer(&p2);
    CHECK(run_until(a, ready, NULL, WAIT));
    atomic_store(&sh->go, 1);
    int want = 100;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    kill(kids[2], SIGKILL); /* kids: authority, p1, p2 */
    waitpid(kids[2], NULL, 0);
    kids[2] = kids[--nkids];
    const int killed_at = stage.n;
    const int stale_before = stage.stale[1];
    after_kill_t ak = {killed_at, stale_before};
    CHECK(run_until(a, killed_settled, &ak, WAIT));
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    int stale = 0, ok = 1;
    for (int i = killed_at; i < stage.n; i++) {
        const rec_t *r = &stage.log[i];
        if (r->status[1] == TP_JOIN_INPUT_STALE) {
            stale++;
            if (r->frames[1] != 0 || r->status[0] != TP_JOIN_INPUT_READY || r->frames[0] + r->dropped[0] != 1) ok = 0;
        }
    }
    CHECK(ok);
    CHECK(stale > 100); /* outputs go on after the 200 ms timeout, input 2 STALE */
    CHECK(stage.n - killed_at > 150);
    CHECK(st.outputs_with_stale == (uint64_t)stale);
    CHECK(st.disconnects >= 1); /* producer gone (pid): mapping released */
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_lockstep);
    RUN(test_offset_minus_two);
    RUN(test_window);
    RUN(test_timestamp_camera_imu);
    RUN(test_latest_value_stale);
    RUN(test_epoch_change_blocks_until_fresh_map);
    RUN(test_late_joiner_gets_map_by_request);
    RUN(test_killed_producer_is_stale);
    TP_TEST_END();
}
