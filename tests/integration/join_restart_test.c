/* A sequence join across SIGKILL and restart of the SHM driver and of each
 * producer, every role its own process: a driver process, two camera
 * producers publishing on common capture ticks (camera 2 skips the first
 * two, so its seq N is camera 1's N+2), a MergeMap authority with a merge
 * aligner (merge_map_aligner.h), and this process as the join stage holding
 * a CONSUMER lease per input. Each output is checked: both frames must carry
 * the same capture tick (the tick is the payload; the capture time, the slot
 * header's timestamp, is t0 + tick * period).
 *
 * A restarted role comes back as a new process: producers re-attach in new
 * epochs restarting at seq 0 at the current tick. Proves, per fault: no
 * output pairs frames of different ticks; the join reports itself blocked
 * ("input N epoch changed") while it waits for the authority's new map; and
 * it delivers 20 complete outputs in a row within RECOVERY_S of the
 * restart. On the code before the change the camera restarts fail on
 * misaligned outputs (the old offset is kept across the new epoch). */
#include "ipc_test_util.h"
#include "tp_test.h"

#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_aligner.h"
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
#define PERIOD (20 * MS) /* 50 Hz cameras */
#define OUT 10
#define RECOVERY_S 8     /* restart -> 20 complete outputs in a row, on a loaded machine */

enum { DRIVER, CAM1, CAM2, AUTHORITY, ROLES };

typedef struct {
    _Atomic int stop;
    _Atomic int64_t t0; /* common tick 0; 0 until the stage is ready */
    _Atomic int active[2];
} shared_t;

static shared_t *sh;
static char dir[128];
static pid_t role[ROLES];

#define sleep_ns tp_test_sleep_ns

static void run_driver(void)
{
    static const char toml[] = "[driver]\ninstance_id = \"restart-test\"\n"
                               "[profiles.cam]\nheader_nslots = 32\npayload_pools = [ { pool_id = 1, stride_bytes = 256 } ]\n"
                               "[streams.cam1]\nstream_id = 1\nprofile = \"cam\"\n"
                               "[streams.cam2]\nstream_id = 2\nprofile = \"cam\"\n";
    static tp_driver_config_t cfg;
    tp_driver_config_defaults(&cfg);
    if (tp_driver_config_parse(&cfg, toml, sizeof toml - 1) != 0 || tp_driver_config_apply_env(&cfg, NULL) != 0) _exit(30);
    tp_driver_t *d;
    for (int tries = 0; tp_driver_open(&d, &cfg, NULL) != 0; tries++) { /* the killed one's files may linger */
        if (tries == 100) {
            fprintf(stderr, "driver: %s\n", tp_errmsg());
            _exit(31);
        }
        sleep_ns(100 * MS);
    }
    while (!atomic_load(&sh->stop))
        if (tp_driver_do_work(d, tp_clock_monotonic_ns()) == 0) sleep_ns(200000);
    tp_driver_close(d, 0, NULL);
    _exit(0);
}

/* A camera: publishes every due tick from where the clock is when it starts
 * (camera 2 never before tick 2), the tick as payload, capture time in the
 * slot header. */
static void run_camera(int k)
{
    const uint32_t stream = (uint32_t)k + 1;
    tp_client_context_t cctx;
    tp_client_context_init(&cctx);
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &cctx, stream, 0, k == 0 ? "cam1" : "cam2", NULL) != 0) _exit(10);
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    uint64_t tick = 0;
    int started = 0;
    while (!atomic_load(&sh->stop)) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(p, now);
        atomic_store(&sh->active[k], tp_producer_is_active(p));
        const int64_t t0 = atomic_load(&sh->t0);
        if (t0 != 0 && tp_producer_is_active(p)) {
            if (!started) { /* a restarted camera joins at the current tick */
                tick = now > t0 ? (uint64_t)((now - t0) / PERIOD) : 0;
                started = 1;
            }
            for (int n = 0; n < 4; n++) {
                const int64_t due = t0 + (int64_t)tick * PERIOD;
                if (now < due) break;
                if (k == 0 || tick >= 2) {
                    if (tp_producer_offer(p, &t, &tick, sizeof tick, (uint64_t)due, NULL) != 0) break;
                }
                tick++;
            }
        }
        sleep_ns(2 * MS);
    }
    tp_producer_close(p);
    _exit(0);
}

static void run_authority(void)
{
    tp_client_context_t cctx;
    tp_client_context_init(&cctx);
    tp_merge_authority_config_t ac;
    tp_merge_authority_config_init(&ac);
    ac.reannounce_interval_ns = 200 * MS;
    tp_merge_authority_t *auth = NULL;
    tp_merge_aligner_t *al = NULL;
    const tp_merge_aligner_config_t gc = {
        .client = &cctx, .out_stream_id = OUT, .ref_stream_id = 1, .other_stream_id = 2, .initial_offset = -2};
    if (tp_merge_authority_create(&ac, &auth) != 0 || tp_merge_aligner_create(&gc, auth, &al) != 0) _exit(20);
    while (!atomic_load(&sh->stop)) {
        const int64_t now = tp_clock_monotonic_ns();
        const int w = tp_merge_authority_do_work(auth, now) + tp_merge_aligner_do_work(al, now);
        if (w <= 0) sleep_ns(500000);
    }
    tp_merge_aligner_destroy(al);
    tp_merge_authority_destroy(auth);
    _exit(0);
}

static void spawn(int r)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(180);
        if (r == DRIVER) run_driver();
        if (r == CAM1 || r == CAM2) run_camera(r - CAM1);
        run_authority();
    }
    role[r] = pid;
}

static void kill_role(int r)
{
    kill(role[r], SIGKILL);
    waitpid(role[r], NULL, 0);
    role[r] = 0;
}

/* ---- the join stage (this process) ---- */

typedef struct {
    uint64_t outputs, aligned, misaligned, incomplete;
    uint64_t run;          /* complete and aligned outputs in a row */
    int saw_epoch_block;   /* status said "epoch changed" */
} stage_t;

static stage_t stage;

static int read_tick(const tp_join_frame_t *f, uint64_t *tick)
{
    if (!f->has_view || f->view.payload == NULL) return 0;
    memcpy(tick, f->view.payload, sizeof *tick);
    return tp_join_frame_still_valid(f);
}

static void on_output(void *clientd, const tp_join_output_t *out)
{
    (void)clientd;
    stage.outputs++;
    uint64_t a, b;
    const int ok = out->input_count == 2 && out->inputs[0].frame_count == 1 && out->inputs[1].frame_count == 1 &&
                   read_tick(&out->inputs[0].frames[0], &a) && read_tick(&out->inputs[1].frames[0], &b);
    if (!ok) {
        stage.incomplete++;
        stage.run = 0;
    } else if (a != b) {
        stage.misaligned++;
        stage.run = 0;
        fprintf(stderr, "misaligned: out %llu ticks %llu/%llu (seq %llu/%llu, epochs %llu/%llu)\n",
                (unsigned long long)out->out_seq, (unsigned long long)a, (unsigned long long)b,
                (unsigned long long)out->inputs[0].frames[0].seq, (unsigned long long)out->inputs[1].frames[0].seq,
                (unsigned long long)out->inputs[0].epoch, (unsigned long long)out->inputs[1].epoch);
    } else {
        stage.aligned++;
        stage.run++;
    }
}

static tp_join_agent_t *make_stage(void)
{
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 1);
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 2, 0);
    cfg.attach_via_driver = 1;
    cfg.request_interval_ns = 100 * MS;
    cfg.authority_pid = role[AUTHORITY];
    cfg.on_output = on_output;
    tp_join_agent_t *a = NULL;
    if (tp_join_agent_create(&cfg, &a) != 0) fprintf(stderr, "stage: %s\n", tp_errmsg());
    return a;
}

/* Run the stage for up to timeout_ns or until `run` complete outputs in a row. */
static int run_stage(tp_join_agent_t *a, int64_t timeout_ns, uint64_t run)
{
    const int64_t end = tp_clock_monotonic_ns() + timeout_ns;
    while (tp_clock_monotonic_ns() < end) {
        if (tp_join_agent_do_work(a, tp_clock_monotonic_ns()) == 0) sleep_ns(500000);
        tp_join_agent_status_t st;
        tp_join_agent_status(a, &st);
        if (st.state == TP_JOIN_AGENT_BLOCKED && strstr(st.reason, "epoch changed") != NULL) stage.saw_epoch_block = 1;
        if (run > 0 && stage.run >= run) return 0;
    }
    return run > 0 ? -1 : 0;
}

static tp_join_agent_t *start_system(void)
{
    snprintf(dir, sizeof dir, "/dev/shm/tp-join-restart-%d-XXXXXX", (int)getpid());
    if (mkdtemp(dir) == NULL) exit(2);
    chmod(dir, 0770);
    setenv("TP_DIR", dir, 1);
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "10", 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);
    memset(sh, 0, sizeof *sh);
    memset(&stage, 0, sizeof stage);
    spawn(DRIVER);
    spawn(CAM1);
    spawn(CAM2);
    for (int i = 0; i < 2000 && !(atomic_load(&sh->active[0]) && atomic_load(&sh->active[1])); i++) sleep_ns(10 * MS);
    spawn(AUTHORITY);
    tp_join_agent_t *a = make_stage();
    if (a == NULL) return NULL;
    /* the map and both mappings before tick 0 */
    tp_join_agent_stats_t st;
    const int64_t end = tp_clock_monotonic_ns() + 20000 * MS;
    do {
        tp_join_agent_do_work(a, tp_clock_monotonic_ns());
        tp_join_agent_stats(a, &st);
        sleep_ns(MS);
    } while ((!tp_join_barrier_has_map(tp_join_agent_barrier(a)) || st.mappings < 2) &&
             tp_clock_monotonic_ns() < end);
    sleep_ns(300 * MS); /* the authority maps its inputs too */
    atomic_store(&sh->t0, tp_clock_monotonic_ns() + 50 * MS);
    return a;
}

static void stop_system(tp_join_agent_t *a)
{
    tp_join_agent_destroy(a);
    atomic_store(&sh->stop, 1);
    for (int r = ROLES; r-- > 0;) {
        if (role[r] <= 0) continue;
        for (int i = 0; i < 300; i++) {
            if (waitpid(role[r], NULL, WNOHANG) == role[r]) {
                role[r] = 0;
                break;
            }
            sleep_ns(10 * MS);
        }
        if (role[r] > 0) kill_role(r);
    }
    nftw(dir, tp_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Flowing, then `r` is SIGKILLed and started again as a new process. */
static void restart(int r, const char *what)
{
    tp_join_agent_t *a = start_system();
    CHECK(a != NULL);
    if (a == NULL) return;
    CHECK(run_stage(a, 20000 * MS, 40) == 0); /* aligned before the fault */
    const uint64_t before = stage.outputs;
    kill_role(r);
    run_stage(a, 1000 * MS, 0); /* the survivors carry on without it for a while */
    spawn(r);
    stage.run = 0;
    const int64_t t = tp_clock_monotonic_ns();
    const int recovered = run_stage(a, RECOVERY_S * 1000 * MS, 20) == 0;
    const double secs = (double)(tp_clock_monotonic_ns() - t) / 1e9;
    run_stage(a, 1000 * MS, 0);
    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    printf("-- %s: recovered %d in %.2f s; outputs %llu (%llu after the fault) aligned %llu misaligned %llu "
           "incomplete %llu; epoch blocks %llu, maps applied %llu, epoch-block status seen %d\n",
           what, recovered, secs, (unsigned long long)stage.outputs, (unsigned long long)(stage.outputs - before),
           (unsigned long long)stage.aligned, (unsigned long long)stage.misaligned,
           (unsigned long long)stage.incomplete, (unsigned long long)st.epoch_blocks,
           (unsigned long long)st.announces_applied, stage.saw_epoch_block);
    CHECK_EQ_U64(stage.misaligned, 0);
    CHECK(recovered);
    CHECK(stage.outputs > before);
    if (r != DRIVER || st.epoch_blocks > 0) CHECK(stage.saw_epoch_block); /* visible while it lasted */
    if (r != DRIVER) CHECK(st.epoch_blocks >= 1);
    stop_system(a);
}

static void test_driver_killed_and_restarted(void) { restart(DRIVER, "driver SIGKILL + restart"); }
static void test_cam1_killed_and_restarted(void) { restart(CAM1, "cam1 SIGKILL + restart"); }
static void test_cam2_killed_and_restarted(void) { restart(CAM2, "cam2 SIGKILL + restart"); }

int main(void)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    RUN(test_cam1_killed_and_restarted);
    RUN(test_cam2_killed_and_restarted);
    RUN(test_driver_killed_and_restarted);
    TP_TEST_END();
}
