/* Lineage end to end, every role its own process: an SHM driver, a camera
 * and an IMU producer tracing every frame (TP_TRACE=per-frame), a MergeMap
 * authority, `tp trace record`, and this process as the join stage, which
 * publishes each output on its own stream with tp_producer_commit_derived.
 * For the three barriers (sequence, timestamp with a window holding several
 * IMU samples, latest value) every output's recorded TraceLinkSet names
 * exactly the input frames the stage was given, each recorded
 * FrameDescriptor names the stream and seq of that frame, and
 * `tp trace --json ID` walks an output back to them. Runs once per
 * transport (TP_TEST_CHANNEL; trace_multiprocess_test_aeron over aeron:ipc).
 * usage: trace_multiprocess_test TP_BINARY */
#include "forked_driver.h"
#include "test_transport.h"
#include "tp_test.h"

#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/producer.h"
#include "tensorpool/trace.h"

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
#define CAM 1
#define IMU 3
#define OUT 10
#define WANT_OUTPUTS 40
#define MAX_OUT 512
#define MAX_PARENTS 64
#define WAIT (30000 * MS) /* bound on waits: a loaded machine is slow, not wrong */

static const char *tp_bin;
static char dir[256], rec_dir[300];
static pid_t kids[8], recorder;
static int nkids;
typedef struct {
    _Atomic int stop;
    _Atomic int active[2];
} shared_t;
static shared_t *sh;

static void spawn_driver(void)
{
    static const char toml[] = "[driver]\ninstance_id = \"trace-test\"\n"
                               "[profiles.p]\nheader_nslots = 64\npayload_pools = [ { pool_id = 1, stride_bytes = 256 } ]\n"
                               "[streams.cam]\nstream_id = 1\nprofile = \"p\"\n"
                               "[streams.imu]\nstream_id = 3\nprofile = \"p\"\n"
                               "[streams.out]\nstream_id = 10\nprofile = \"p\"\n";
    kids[nkids++] = spawn_toml_driver(toml, &sh->stop);
}

/* A producer tracing per frame as the environment says (TL-8.1.b), `burst`
 * frames every period (bursts keep several IMU samples in one window even
 * when a loaded machine stretches the sleeps). */
static void spawn_producer(int k, uint32_t stream, int64_t period_ns, int burst)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        setenv("TP_TRACE", "per-frame", 1);
        tp_client_context_t cctx;
        tp_client_context_init(&cctx);
        tp_producer_t *p = NULL;
        if (tp_producer_open(&p, &cctx, stream, 0, "sensor", NULL) != 0) _exit(10);
        if (tp_producer_trace_mode(p) != TP_TRACE_PER_FRAME) _exit(11);
        tp_tensor_header_t t;
        const int32_t dims[1] = {1};
        tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
        uint64_t last = 0;
        while (!atomic_load(&sh->stop)) {
            const int64_t now = tp_clock_monotonic_ns();
            tp_producer_do_work(p, now);
            atomic_store(&sh->active[k], tp_producer_is_active(p));
            for (int b = 0; b < burst && tp_producer_is_active(p); b++) {
                const uint64_t v = tp_producer_next_seq(p);
                if (tp_producer_offer(p, &t, &v, sizeof v, (uint64_t)now, NULL) == 0) {
                    const uint64_t id = tp_producer_last_trace_id(p);
                    if (id <= last) _exit(12); /* TL-6.3.a: fresh, increasing ids */
                    last = id;
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
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        tp_merge_authority_config_t ac;
        tp_merge_authority_config_init(&ac);
        ac.reannounce_interval_ns = 100 * MS;
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

/* `tp trace record`, a real process of the tp binary; ready once its file exists. */
static int spawn_recorder(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/trace.sbe", rec_dir);
    fflush(NULL);
    recorder = fork();
    if (recorder == 0) {
        alarm(120);
        execl(tp_bin, tp_bin, "trace", "record", "--dir", rec_dir, (char *)NULL);
        _exit(127);
    }
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    struct stat st;
    while (stat(path, &st) != 0)
        if (tp_clock_monotonic_ns() > deadline) return 0;
        else sleep_ns(2 * MS);
    return 1;
}

static int stop_recorder(void)
{
    kill(recorder, SIGTERM);
    int status = 0;
    waitpid(recorder, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void setup(const char *tag)
{
    snprintf(dir, sizeof dir, "/dev/shm/tp-trace-%s-%d-XXXXXX", tag, (int)getpid());
    if (mkdtemp(dir) == NULL) exit(2);
    snprintf(rec_dir, sizeof rec_dir, "%s/lineage", dir);
    setenv("TP_DIR", dir, 1);
    tp_test_deployment_transport_start(dir); /* TP_TEST_CHANNEL: tp:ipc, or Aeron with its media driver */
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "20", 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) exit(2);
    memset(sh, 0, sizeof *sh);
    nkids = 0;
}

static void teardown(void)
{
    atomic_store(&sh->stop, 1);
    for (int i = nkids - 1; i >= 0; i--) { /* producers and authority before the driver */
        const int64_t deadline = tp_clock_monotonic_ns() + 10000 * MS;
        int done = 0, status = 0;
        while (!done && tp_clock_monotonic_ns() < deadline) {
            if (waitpid(kids[i], &status, WNOHANG) == kids[i]) done = 1;
            else sleep_ns(1 * MS);
        }
        /* every role ends cleanly: a producer exits 12 if its ids ever failed to increase */
        CHECK(done && WIFEXITED(status) && WEXITSTATUS(status) == 0);
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

/* ---- the join stage ---- */
typedef struct {
    uint64_t trace_id; /* the output's, as its producer minted it */
    uint32_t n;
    uint64_t parents[MAX_PARENTS];
    uint32_t stream[MAX_PARENTS];
    uint64_t seq[MAX_PARENTS];
    uint32_t imu_frames;
} out_rec_t;

static out_rec_t outs[MAX_OUT];
static int nouts, untraced_frames, frozen, flowing;
static tp_producer_t *out_prod;

static void on_output(void *clientd, const tp_join_output_t *out)
{
    (void)clientd;
    if (frozen || nouts >= MAX_OUT || !tp_producer_is_active(out_prod)) return;
    /* Until the stage has seen both sources, an output holds only the one it
     * has (the lateness budget lets it go). A source that attaches late is
     * seen only once the stage's subscription finds its new log (a rescan,
     * up to 1 s; longer under load, and on aeron): CI once counted 40
     * outputs without one IMU sample. Outputs before the first that holds
     * every input are not counted, nor published. */
    if (!flowing) {
        for (uint32_t i = 0; i < out->input_count; i++)
            if (out->inputs[i].frame_count == 0) return;
        flowing = 1;
    }
    out_rec_t *r = &outs[nouts];
    int truncated = 0;
    r->n = tp_join_output_trace_parents(out, r->parents, MAX_PARENTS, &truncated);
    r->imu_frames = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < out->input_count; i++)
        for (uint32_t f = 0; f < out->inputs[i].frame_count; f++) {
            if (out->inputs[i].frames[f].trace_id == 0) {
                untraced_frames++;
                continue;
            }
            if (out->inputs[i].stream_id == IMU) r->imu_frames++;
            if (k < MAX_PARENTS) {
                r->stream[k] = out->inputs[i].stream_id;
                r->seq[k] = out->inputs[i].frames[f].seq;
                k++;
            }
        }
    if (r->n == 0 || k != r->n || truncated) return; /* nothing traced: not an output this test can check */
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    tp_shm_claim_t c;
    if (tp_producer_claim(out_prod, &t, 8, &c) != 0) return;
    memcpy(c.payload, &out->out_seq, 8);
    if (tp_producer_commit_derived(out_prod, &c, (uint64_t)out->now_ns, r->parents, r->n) != 0) return;
    r->trace_id = tp_producer_last_trace_id(out_prod);
    nouts++;
}

static int stage_step(tp_join_agent_t *a)
{
    const int64_t now = tp_clock_monotonic_ns();
    return tp_join_agent_do_work(a, now) + tp_producer_do_work(out_prod, now);
}

/* Run the stage until cond holds or WAIT passes. */
static int run_until(tp_join_agent_t *a, int (*cond)(tp_join_agent_t *))
{
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    while (tp_clock_monotonic_ns() < deadline) {
        if (cond(a)) return 1;
        if (stage_step(a) == 0) sleep_ns(100000);
    }
    return cond(a);
}

static int has_map_and_output(tp_join_agent_t *a)
{
    return tp_join_barrier_has_map(tp_join_agent_barrier(a)) && tp_producer_is_active(out_prod);
}
/* The recorder's file (flushed every 100 ms) holds a link per output. */
static int recorder_has_every_link(tp_join_agent_t *a)
{
    (void)a;
    char path[400];
    snprintf(path, sizeof path, "%s/trace.sbe", rec_dir);
    tp_trace_index_t *ix = NULL;
    if (tp_trace_index_create(&ix) != 0) return 0;
    const int done = tp_trace_index_load(ix, path) >= 0 && tp_trace_index_link_count(ix) >= (size_t)nouts;
    tp_trace_index_destroy(ix);
    if (!done) sleep_ns(20 * MS);
    return done;
}

static int enough_outputs(tp_join_agent_t *a)
{
    (void)a;
    return nouts >= WANT_OUTPUTS;
}

/* Every output's TraceLinkSet and its parents' FrameDescriptors, as recorded
 * by `tp trace record` in another process. */
static void check_recorded(const char *mode, int want_window)
{
    char path[400];
    snprintf(path, sizeof path, "%s/trace.sbe", rec_dir);
    tp_trace_index_t *ix = NULL;
    CHECK(tp_trace_index_create(&ix) == 0);
    const long indexed = tp_trace_index_load(ix, path);
    CHECK(indexed > 0);
    if (indexed <= 0) fprintf(stderr, "%s: %s\n", mode, tp_errmsg());
    int links_ok = 0, frames_ok = 0, frames_total = 0, max_imu = 0;
    for (int i = 0; i < nouts; i++) {
        const out_rec_t *r = &outs[i];
        const uint64_t *p = NULL;
        const long n = tp_trace_index_parents(ix, r->trace_id, &p);
        if (n == (long)r->n && memcmp(p, r->parents, r->n * sizeof *p) == 0) links_ok++; /* TL-9.2.c, TL-D4 */
        tp_trace_frame_t of;
        if (tp_trace_index_frame(ix, r->trace_id, &of) != 0 || of.stream_id != OUT) links_ok = -1000; /* TL-9.2.b */
        for (uint32_t k = 0; k < r->n; k++) {
            tp_trace_frame_t f;
            frames_total++;
            if (tp_trace_index_frame(ix, r->parents[k], &f) == 0 && f.stream_id == r->stream[k] && f.seq == r->seq[k])
                frames_ok++;
        }
        if ((int)r->imu_frames > max_imu) max_imu = (int)r->imu_frames;
    }
    printf("%s: %d outputs, %d links match, %d/%d parent frames match, most IMU frames in one output %d\n", mode,
           nouts, links_ok, frames_ok, frames_total, max_imu);
    CHECK(nouts >= WANT_OUTPUTS);
    CHECK_EQ_I64(links_ok, nouts);
    CHECK_EQ_I64(frames_ok, frames_total);
    if (want_window) CHECK(max_imu >= 2); /* several samples of one input in one output */
    tp_trace_index_destroy(ix);

    /* tp trace --json walks the last output back to exactly its frames */
    const out_rec_t *last = &outs[nouts > 0 ? nouts - 1 : 0];
    char cmd[1024], line[1 << 16];
    snprintf(cmd, sizeof cmd, "%s trace --json --dir %s %llu", tp_bin, rec_dir, (unsigned long long)last->trace_id);
    FILE *pp = popen(cmd, "r");
    CHECK(pp != NULL);
    size_t got = pp != NULL ? fread(line, 1, sizeof line - 1, pp) : 0;
    line[got] = '\0';
    CHECK(pp != NULL && pclose(pp) == 0);
    int depth1 = 0;
    for (const char *s = line; (s = strstr(s, "\"depth\":1,")) != NULL; s++) depth1++;
    CHECK_EQ_I64(depth1, (int64_t)last->n);
    for (uint32_t k = 0; k < last->n; k++) {
        char want[160];
        snprintf(want, sizeof want, "\"trace_id\":\"%llu\",\"recorded\":true,\"stream_id\":%u,\"epoch\":",
                 (unsigned long long)last->parents[k], last->stream[k]);
        CHECK(strstr(line, want) != NULL);
        snprintf(want, sizeof want, "\"seq\":\"%llu\"", (unsigned long long)last->seq[k]);
        CHECK(strstr(line, want) != NULL);
    }
}

static void run_mode(const char *tag, tp_join_mode_t mode, const tp_merge_map_t *m, int64_t cam_period,
                     int64_t imu_period, int imu_burst, int want_window)
{
    setup(tag);
    nouts = 0;
    untraced_frames = 0;
    frozen = 0;
    flowing = 0;
    spawn_driver();
    CHECK(spawn_recorder());
    spawn_authority(m);
    tp_client_context_t cctx;
    tp_client_context_init(&cctx);
    out_prod = NULL;
    CHECK(tp_producer_open(&out_prod, &cctx, OUT, 0, "join-out", NULL) == 0);
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, mode, OUT, 1);
    tp_join_agent_config_add_input(&cfg, CAM, 0);
    tp_join_agent_config_add_input(&cfg, IMU, 0);
    cfg.on_output = on_output;
    cfg.first_out_seq = 0;
    cfg.request_interval_ns = 50 * MS;
    cfg.max_frames_per_input = 32;
    tp_join_agent_t *a = NULL;
    CHECK(tp_join_agent_create(&cfg, &a) == 0);
    if (a != NULL && out_prod != NULL) {
        CHECK(run_until(a, has_map_and_output));
        spawn_producer(0, CAM, cam_period, 1);
        spawn_producer(1, IMU, imu_period, imu_burst);
        CHECK(run_until(a, enough_outputs));
        frozen = 1; /* no more outputs: wait until the recorder has every link */
        CHECK(run_until(a, recorder_has_every_link));
        uint64_t sent = 0, dropped = 0;
        tp_producer_trace_stats(out_prod, &sent, &dropped);
        CHECK_EQ_U64(sent, (uint64_t)nouts);
        CHECK_EQ_U64(dropped, 0);
    }
    CHECK(stop_recorder());
    check_recorded(tag, want_window);
    tp_join_agent_destroy(a);
    tp_producer_close(out_prod);
    teardown();
}

static void sequence_outputs_link_to_their_frames(void) /* TL-6.3.c, TL-8.1.c, TL-D3, TL-D5 */
{
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&m, OUT, 1);
    tp_merge_map_add_offset(&m, CAM, 0);
    tp_merge_map_add_offset(&m, IMU, 0);
    run_mode("seq", TP_JOIN_MODE_SEQUENCE, &m, 5 * MS, 5 * MS, 1, 0);
    tp_merge_map_close(&m);
}

static void timestamp_window_links_every_sample(void) /* TL-D4 */
{
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_TIMESTAMP, 2);
    tp_merge_map_reset(&m, OUT, 1);
    tp_merge_map_set_clock(&m, TP_CLOCK_MONOTONIC, (uint64_t)(5 * MS));
    tp_merge_map_add_offset_ns(&m, CAM, TP_TS_SOURCE_FRAME_DESCRIPTOR, 0);
    tp_merge_map_add_window_ns(&m, IMU, TP_TS_SOURCE_FRAME_DESCRIPTOR, (uint64_t)(10 * MS));
    run_mode("ts", TP_JOIN_MODE_TIMESTAMP, &m, 10 * MS, 3 * MS, 3, 1);
    tp_merge_map_close(&m);
}

static void latest_value_links_the_values_used(void) /* TL-D4 */
{
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&m, OUT, 1);
    tp_merge_map_add_offset(&m, CAM, 0);
    tp_merge_map_add_offset(&m, IMU, 0);
    run_mode("latest", TP_JOIN_MODE_LATEST_VALUE, &m, 10 * MS, 4 * MS, 1, 0);
    tp_merge_map_close(&m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TP_BINARY\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    RUN(sequence_outputs_link_to_their_frames);
    RUN(timestamp_window_links_every_sample);
    RUN(latest_value_links_the_values_used);
    TP_TEST_END();
}
