/* JoinBarrier with the real SHM driver and producer clients, all separate
 * processes: a driver process owns the SHM and announces pools on the
 * control stream, producer processes (tp_producer) attach and write frames,
 * a supervisor process is the MergeMap authority, and this process is the
 * join stage, either mapping the driver-announced pools itself or holding a
 * CONSUMER lease per input and mapping what the driver grants. The driver
 * never sees a MergeMap message (JB-10.3.d). Runs once per transport
 * (test_transport.h): join_driver_test and join_driver_test_aeron. */
#include "test_transport.h"
#include "tp_test.h"

#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/producer.h"

#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define OUT 10
#define NSLOTS 64          /* header_nslots of the driver's profile below */
#define WAIT (20000 * MS)  /* bound on waits for a condition: generous, a loaded machine is slow, not wrong */

typedef struct {
    _Atomic int go, stop;
    _Atomic uint64_t published[2];
    _Atomic int held[2], release[2];
    _Atomic int active[2]; /* producer attached and mapped */
    _Atomic uint64_t driver_merge_msgs; /* MergeMap messages the driver answered: must stay 0 */
} shared_t;

static shared_t *sh;
static char dir[256];
static pid_t kids[8];
static int nkids;

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

static uint64_t value_of(uint32_t stream, uint64_t epoch, uint64_t seq)
{
    return ((uint64_t)stream << 40) | (epoch << 32) | seq;
}

static void setup(const char *tag)
{
    snprintf(dir, sizeof dir, "/dev/shm/tp-join-drv-%s-%d-XXXXXX", tag, (int)getpid());
    if (mkdtemp(dir) == NULL) exit(2);
    chmod(dir, 0770);
    setenv("TP_DIR", dir, 1);
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    /* 2 s of silence before a live client's lease expires: a descheduled
     * producer must not lose its stream (and epoch) under load */
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "20", 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);
    tp_test_deployment_transport_start(dir);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) exit(2);
    memset(sh, 0, sizeof *sh);
    nkids = 0;
}

static void teardown(void)
{
    atomic_store(&sh->stop, 1);
    for (int i = nkids - 1; i >= 0; i--) { /* producers before the driver */
        const int64_t deadline = tp_clock_monotonic_ns() + 10000 * MS;
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
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void spawn_driver(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        static const char toml[] =
            "[driver]\ninstance_id = \"join-test\"\n"
            "[profiles.cam]\nheader_nslots = 64\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
            "[streams.cam1]\nstream_id = 1\nprofile = \"cam\"\n"
            "[streams.cam2]\nstream_id = 2\nprofile = \"cam\"\n";
        static tp_driver_config_t cfg;
        tp_driver_config_defaults(&cfg);
        if (tp_driver_config_parse(&cfg, toml, sizeof toml - 1) != 0 || tp_driver_config_apply_env(&cfg, NULL) != 0) {
            fprintf(stderr, "driver config: %s\n", tp_errmsg());
            _exit(30);
        }
        tp_driver_t *d;
        if (tp_driver_open(&d, &cfg, NULL) != 0) {
            fprintf(stderr, "driver: %s\n", tp_errmsg());
            _exit(31);
        }
        while (!atomic_load(&sh->stop))
            if (tp_driver_do_work(d, tp_clock_monotonic_ns()) == 0) sleep_ns(200000);
        tp_driver_close(d, 0, NULL);
        _exit(0);
    }
    kids[nkids++] = pid;
}

/* A tp_producer client writing self-checking frames every period. */
static void spawn_producer(int k, uint32_t stream, int hold_at, int64_t period_ns)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        tp_client_context_t cctx;
        tp_client_context_init(&cctx);
        tp_producer_t *p = NULL;
        if (tp_producer_open(&p, &cctx, stream, 0, "camera", NULL) != 0) _exit(10);
        tp_tensor_header_t t;
        const int32_t dims[1] = {1};
        tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
        int i = 0;
        while (!atomic_load(&sh->stop)) {
            const int64_t now = tp_clock_monotonic_ns();
            tp_producer_do_work(p, now);
            atomic_store(&sh->active[k], tp_producer_is_active(p));
            if (atomic_load(&sh->go) && tp_producer_is_active(p)) {
                if (i == hold_at && !atomic_load(&sh->release[k])) {
                    atomic_store(&sh->held[k], 1);
                } else {
                    const uint64_t v = value_of(stream, tp_producer_epoch(p), tp_producer_next_seq(p));
                    if (tp_producer_offer(p, &t, &v, sizeof v, (uint64_t)now, NULL) == 0) {
                        i++;
                        atomic_store(&sh->published[k], (uint64_t)i);
                    }
                }
            }
            sleep_ns(period_ns);
        }
        tp_producer_close(p);
        _exit(0);
    }
    kids[nkids++] = pid;
}

static void spawn_authority(const tp_merge_map_t *m)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        tp_merge_authority_config_t ac;
        tp_merge_authority_config_init(&ac);
        ac.reannounce_interval_ns = 100 * MS; /* ipc context from $TP_DIR */
        tp_merge_authority_t *auth;
        if (tp_merge_authority_create(&ac, &auth) != 0 || tp_merge_authority_put(auth, m, tp_clock_monotonic_ns()) != 1)
            _exit(20);
        while (!atomic_load(&sh->stop))
            if (tp_merge_authority_do_work(auth, tp_clock_monotonic_ns()) == 0) sleep_ns(200000);
        tp_merge_authority_destroy(auth);
        _exit(0);
    }
    kids[nkids++] = pid;
}

/* ---- join stage ---- */
typedef struct {
    uint64_t out_seq;
    tp_join_input_status_t status[2];
    uint32_t frames[2], dropped[2];
    uint64_t seq[2];      /* delivered frame, or the requested one (first_seq) */
    int has_view[2];
    uint64_t published[2]; /* frames the producer had published when the stage saw this output */
    int values_ok, views;
} rec_t;

static rec_t log_[4096];
static int nlog;
static int nstale; /* outputs with camera 2 STALE */

static void on_output(void *clientd, const tp_join_output_t *out)
{
    (void)clientd;
    if (nlog >= 4096) return;
    rec_t *r = &log_[nlog++];
    memset(r, 0, sizeof *r);
    r->out_seq = out->out_seq;
    r->values_ok = 1;
    for (uint32_t i = 0; i < out->input_count && i < 2; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        /* read after the frames were read: an upper bound of what the
         * producer had written when the stage read (input i = producer i) */
        r->published[i] = atomic_load(&sh->published[i]);
        r->status[i] = in->status;
        r->frames[i] = in->frame_count;
        r->dropped[i] = in->dropped;
        r->seq[i] = in->first_seq;
        if (i == 1 && in->status == TP_JOIN_INPUT_STALE) nstale++;
        if (in->frame_count == 0) continue;
        const tp_join_frame_t *f = &in->frames[0];
        r->seq[i] = f->seq;
        if (!f->has_view) continue;
        r->has_view[i] = 1;
        r->views++;
        uint64_t v;
        memcpy(&v, f->view.payload, sizeof v);
        if (tp_join_frame_still_valid(f) && v != value_of(in->stream_id, in->epoch, f->seq)) r->values_ok = 0;
    }
}

static tp_join_agent_t *make_stage(int attach)
{
    nlog = 0;
    nstale = 0;
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 1);
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 2, 0);
    cfg.shm_base_dir = dir;
    cfg.on_output = on_output;
    cfg.first_out_seq = 0;
    cfg.activity_window_ns = 5000 * MS; /* a dead producer is found by its pid at once; this is for hung ones */
    cfg.request_interval_ns = 50 * MS;
    cfg.attach_via_driver = attach; /* CONSUMER leases through the driver client (D-2.3.a) */
    tp_join_agent_t *a = NULL;
    if (tp_join_agent_create(&cfg, &a) != 0) fprintf(stderr, "join agent: %s\n", tp_errmsg());
    return a;
}

typedef int (*cond_fn)(tp_join_agent_t *a, const void *arg);
static int run_until(tp_join_agent_t *a, cond_fn cond, const void *arg, int64_t timeout_ns)
{
    const int64_t deadline = tp_clock_monotonic_ns() + timeout_ns;
    while (tp_clock_monotonic_ns() < deadline) {
        if (cond != NULL && cond(a, arg)) return 1;
        if (tp_join_agent_do_work(a, tp_clock_monotonic_ns()) == 0) sleep_ns(100000);
    }
    return cond != NULL ? cond(a, arg) : 1;
}

static uint64_t g_want_mappings; /* pools the stage must have mapped before go */

static int ready_to_go(tp_join_agent_t *a, const void *arg)
{
    (void)arg;
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    return tp_join_barrier_has_map(tp_join_agent_barrier(a)) && st.mappings >= g_want_mappings &&
           atomic_load(&sh->active[0]) && atomic_load(&sh->active[1]);
}

static int leases_on_empty_streams(tp_join_agent_t *a, const void *arg)
{
    (void)arg;
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    return st.leases == 2 && st.mappings == 2;
}

/* Start the stage and both producers so that, at go, the stage has mapped the
 * epochs the producers write. Without leases the stage maps what the driver
 * announces once a producer holds the stream: 2 mappings. With leases the
 * stage attaches first and maps the producer-less epochs it is granted
 * (docs/spec/driver.md scenario 3), then each producer's newer epoch when announced:
 * 4 mappings. Epochs change only when a producer attaches, so these counts
 * say the right epochs are mapped, whatever the machine's speed. */
static int start_producers_and_settle(tp_join_agent_t *a, int attach, int64_t period_ns, int hold_at_2)
{
    g_want_mappings = 2;
    if (attach) {
        if (!run_until(a, leases_on_empty_streams, NULL, WAIT)) return 0;
        g_want_mappings = 4;
    }
    spawn_producer(0, 1, -1, period_ns);
    spawn_producer(1, 2, hold_at_2, period_ns);
    return run_until(a, ready_to_go, NULL, WAIT);
}

static int is_held(tp_join_agent_t *a, const void *arg)
{
    (void)a;
    return atomic_load(&sh->held[*(const int *)arg]);
}

static int outputs_at_least(tp_join_agent_t *a, const void *arg)
{
    (void)a;
    return nlog >= *(const int *)arg;
}

static tp_merge_map_t lockstep_map(uint64_t stale_ns)
{
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&m, OUT, 1);
    tp_merge_map_add_offset(&m, 1, 0);
    tp_merge_map_add_offset(&m, 2, 0);
    if (stale_ns) tp_merge_map_set_stale_timeout(&m, stale_ns);
    return m;
}

static int outputs_with_stale_at_least(tp_join_agent_t *a, const void *arg)
{
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    return st.disconnects >= 1 && nstale >= *(const int *)arg;
}

/* Every input of every output is accounted for, whatever the timing: either
 * its frame was read (a view, the self-checking value verified in
 * on_output), or the read failed because the producer had already lapped
 * the ring over it (published >= seq + NSLOTS when the stage saw the
 * output). A drop for any other reason, or a frame delivered without a
 * mapping, is a failure: reads succeed whenever the reader keeps up. */
static int reads_accounted(int from, int to)
{
    int ok = 1;
    for (int i = from; i < to; i++) {
        const rec_t *r = &log_[i];
        for (int k = 0; k < 2; k++) {
            if (r->frames[k] == 1 && !r->has_view[k]) {
                fprintf(stderr, "output %d input %d: frame delivered without a view\n", i, k);
                ok = 0;
            }
            if (r->dropped[k] != 0 && r->published[k] < r->seq[k] + NSLOTS) {
                fprintf(stderr, "output %d input %d: seq %llu dropped, producer at %llu (not lapped)\n", i, k,
                        (unsigned long long)r->seq[k], (unsigned long long)r->published[k]);
                ok = 0;
            }
        }
    }
    return ok;
}

/* JB-7.1.a, JB-10.2.a: lockstep over driver-provisioned streams. Camera 2
 * held at 100 frames: exactly outputs 0..99; released: up to 199. */
static void lockstep_with_driver(int attach)
{
    setup(attach ? "lockstep-lease" : "lockstep");
    tp_merge_map_t m = lockstep_map(0);
    spawn_driver();
    spawn_authority(&m);
    tp_join_agent_t *a = make_stage(attach);
    CHECK(a != NULL);
    if (a == NULL) return teardown();
    /* map applied, the producers' epochs mapped */
    CHECK(start_producers_and_settle(a, attach, 1 * MS, 100));
    atomic_store(&sh->go, 1);
    int k = 1;
    CHECK(run_until(a, is_held, &k, WAIT));
    /* camera 1 runs on to 200 (laps its frames 100..135) while camera 2 is held */
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    while (atomic_load(&sh->published[0]) < 200 && tp_clock_monotonic_ns() < deadline) run_until(a, NULL, NULL, 10 * MS);
    CHECK(atomic_load(&sh->published[0]) >= 200);
    int want = 100;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    run_until(a, NULL, NULL, 200 * MS); /* room for a wrong 101st output to show */
    CHECK_EQ_U64(nlog, 100);
    atomic_store(&sh->release[1], 1);
    want = 200;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    /* Camera 1 kept running during the hold and lapped its 64-slot ring: its
     * frames 100..135 were overwritten before the stage could ask for them.
     * They are dropped once, never waited for (JB-5.2, JB-7.2.b/c). */
    int ok = 1, lapped_dropped = 0, held_read = 0;
    for (int i = 0; i < nlog; i++) {
        const rec_t *r = &log_[i];
        if (r->out_seq != (uint64_t)i || !r->values_ok) ok = 0;
        if (r->frames[0] == 1 && r->seq[0] != r->out_seq) ok = 0;
        if (r->frames[1] == 1 && r->seq[1] != r->out_seq) ok = 0;
        if (r->frames[0] + r->dropped[0] != 1 || r->frames[1] + r->dropped[1] != 1) ok = 0;
        if (i >= 100 && i <= 135 && r->dropped[0] == 1) lapped_dropped++;
        /* camera 2 wrote nothing after frame 99 until released, after output
         * 99: its frames 36..99 could not be lapped and must have been read */
        if (i >= 36 && i <= 99 && r->has_view[1]) held_read++;
    }
    CHECK(ok);
    CHECK(reads_accounted(0, nlog));
    CHECK_EQ_I64(held_read, 64);
    CHECK_EQ_I64(lapped_dropped, 36);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    /* live producers are never unmapped; with leases the first grant is a
     * producer-less epoch, remapped once when the producer's is announced */
    CHECK(st.disconnects == 0 && st.mappings == (attach ? 4u : 2u));
    if (attach) CHECK(st.leases == 2 && st.leases_lost == 0);
    if (st.disconnects != 0 || st.mappings != (attach ? 4u : 2u))
        fprintf(stderr, "disconnects %llu mappings %llu leases %llu lost %llu failures %llu\n",
                (unsigned long long)st.disconnects, (unsigned long long)st.mappings, (unsigned long long)st.leases,
                (unsigned long long)st.leases_lost, (unsigned long long)st.map_failures);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

/* JB-7.4.b-d with the driver: camera 2's producer is SIGKILLed. Outputs go on
 * with camera 2 STALE; the driver expires its lease and announces the
 * revocation, and the stage releases that mapping (disconnect). */
static void killed_producer_with_driver(int attach)
{
    setup(attach ? "kill-lease" : "kill");
    tp_merge_map_t m = lockstep_map(200 * MS);
    spawn_driver();
    spawn_authority(&m);
    tp_join_agent_t *a = make_stage(attach);
    CHECK(a != NULL);
    if (a == NULL) return teardown();
    CHECK(start_producers_and_settle(a, attach, 2 * MS, -1));
    atomic_store(&sh->go, 1);
    int want = 100;
    CHECK(run_until(a, outputs_at_least, &want, WAIT));
    CHECK(reads_accounted(0, nlog));
    kill(kids[3], SIGKILL); /* kids: driver, authority, camera 1, camera 2 */
    waitpid(kids[3], NULL, 0);
    kids[3] = kids[--nkids];
    const int killed_at = nlog;
    want = nstale + 101;
    CHECK(run_until(a, outputs_with_stale_at_least, &want, WAIT));
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    int stale = 0, ok = 1;
    for (int i = killed_at; i < nlog; i++) {
        const rec_t *r = &log_[i];
        if (!r->values_ok) ok = 0;
        if (r->status[1] == TP_JOIN_INPUT_STALE) {
            stale++;
            if (r->frames[1] != 0 || r->status[0] != TP_JOIN_INPUT_READY) ok = 0;
        }
    }
    CHECK(ok);
    CHECK(stale > 100);
    CHECK(st.disconnects >= 1);
    tp_join_agent_destroy(a);
    tp_merge_map_close(&m);
    teardown();
}

static void test_lockstep_with_driver(void) { lockstep_with_driver(0); }
static void test_killed_producer_with_driver(void) { killed_producer_with_driver(0); }
static void test_lockstep_with_driver_leases(void) { lockstep_with_driver(1); }
static void test_killed_producer_with_driver_leases(void) { killed_producer_with_driver(1); }

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_lockstep_with_driver);
    RUN(test_killed_producer_with_driver);
    RUN(test_lockstep_with_driver_leases);
    RUN(test_killed_producer_with_driver_leases);
    TP_TEST_END();
}
