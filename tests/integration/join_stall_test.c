/* Joins that are right or say why not (issue 14 items 2-3), end to end on
 * `tp demo`: every role is its own process, the driver lives in the demo
 * process. The demo checks each sequence-join output: both frames must carry
 * the same capture tick (demo_pipeline.c, on_seq_output), else `misaligned`.
 *
 *   join_stall_test PATH_TO_TP
 *
 * Proves, each against a stall longer than the lease timeout (3 s):
 *  - SIGSTOP/SIGCONT of the driver, of cam1 and of cam2 for 6 s: the cameras
 *    re-attach in new epochs restarting at seq 0; the sequence join pairs no
 *    frames of different ticks (misaligned 0, at most a second's worth of
 *    incomplete outputs), shows itself blocked while it waits for the
 *    authority's new map, and flows again within RECOVERY_S of SIGCONT; the demo's
 *    result is DEGRADED (exit 3), naming the epoch change.
 *  - with the authority stopped too, the blocked join is visible in `tp stat`
 *    (waiting-map for the next epoch) for as long as it lasts, and recovers
 *    once the authority runs again.
 *  - forged SequenceMergeMapAnnounces (other offsets, same and higher
 *    epochs) and a replay of the authority's own announce, published from
 *    another process, are refused and counted: misaligned 0, no stall,
 *    result OK, and `tp stat` does not pass either claimant's rules off as
 *    the ones in force: it marks the join contested, naming both pids.
 *  - forged FrameDescriptors on the cameras' and the IMU's descriptor stream
 *    (a higher epoch, a seq far ahead, replays of an old and of a recent
 *    real one), published from another process of the same user: both joins
 *    refuse and count them (descriptors of another epoch, refused by the
 *    slot they name or as replays), never stop for FORGED_BOUND_MS, pair no
 *    frames of different ticks, and the demo's result is OK.
 * On the code before this change the stall tests fail on misaligned
 * (driver stall) or on incomplete outputs until the end (camera stall), the
 * forger test on misaligned. */
#include "ipc_test_util.h"
#include "tp_test.h"

#include "tensorpool/client.h"
#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/ipc.h"
#include "tensorpool/merge_map.h"
#include "tensorpool/merge_map_codec.h"

#include <ftw.h>
#include <sys/stat.h>

static const char *tp;
static char out[1 << 16];

#include "tp_proc.h"

#define STALL_S 6
/* Bound from SIGCONT to flowing again: the stalled producer's re-attach
 * (client backoff up to 3.2 s), then the authority's consumer re-attach to
 * read it (another backoff), then the new map; ~7 s seen under full load. */
#define RECOVERY_S 9

enum { CAM1, CAM2, IMU, AUTHORITY, SEQ_JOIN, TS_JOIN, ROLES };
static const char *const comms[ROLES] = {"tp-cam1", "tp-cam2", "tp-imu", "tp-authority", "tp-seq-join", "tp-ts-join"};

typedef struct demo_run_s {
    char dir[64];
    char log[96];
    pid_t pid;
    int role[ROLES];
} demo_run_t;

static void sleep_ms(int ms) { tp_test_sleep_ns((int64_t)ms * 1000000); }

/* Start the demo and wait until it has printed its second status line. */
static int start_demo(demo_run_t *r, const char *duration)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/dev/shm/tp-stall-XXXXXX");
    if (mkdtemp(r->dir) == NULL) return -1;
    snprintf(r->log, sizeof r->log, "%s.log", r->dir);
    const char *const args[] = {"demo", "--duration", duration, "--dir", r->dir, NULL};
    r->pid = spawn_tp(r->log, args);
    if (r->pid <= 0) return -1;
    for (int i = 0; i < ROLES; i++)
        if ((r->role[i] = find_child(r->pid, comms[i], 15000)) <= 0) return -1;
    for (int waited = 0; waited < 30000; waited += 100) {
        slurp(r->log);
        if (strstr(out, "[  2.0s]") != NULL) return 0;
        if (strstr(out, "result:") != NULL) return -1;
        sleep_ms(100);
    }
    return -1;
}

/* Wait for the demo to end; its output in out[]; the exit status (-1 abnormal). */
static int finish_demo(demo_run_t *r)
{
    const int st = wait_exit(r->pid, 90000);
    slurp(r->log);
    fputs(out, stdout);
    unlink(r->log);
    nftw(r->dir, tp_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The summary's "not flowing" line of a join: total and longest seconds. */
static int not_flowing(const char *join, double *total, double *longest, char *why, size_t why_len)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "  %-8s not flowing ", join);
    const char *l = strstr(out, prefix);
    if (l == NULL) return -1;
    unsigned long long n;
    if (sscanf(l + strlen(prefix), "%lf s in %llu stretches (longest %lf s:", total, &n, longest) != 3) return -1;
    const char *colon = strchr(l + strlen(prefix), ':');
    const char *eol = strchr(l, '\n');
    if (colon == NULL || eol == NULL || colon > eol) return -1;
    snprintf(why, why_len, "%.*s", (int)(eol - colon - 1), colon + 2);
    return 0;
}

/* Outputs the seq-join made during each of the last `n` status lines: the
 * smallest of them (-1 if fewer lines). */
static long long last_seq_rates_min(int n)
{
    const char *lines[64];
    int count = 0;
    for (const char *l = out; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (l[0] == '[' && count < 64) lines[count++] = l;
    if (count < n) return -1;
    long long min = -1;
    for (int i = count - n; i < count; i++) {
        const char *j = strstr(lines[i], "seq-join out ");
        unsigned long long total, plus;
        if (j == NULL || sscanf(j, "seq-join out %llu +%llu", &total, &plus) != 2) return -1;
        if (min < 0 || (long long)plus < min) min = (long long)plus;
    }
    return min;
}

/* What every stall test asserts about a finished run. */
static void check_stalled_run(int rc, const char *what)
{
    printf("-- %s: exit %d\n", what, rc);
    CHECK_EQ_I64(field("  seq-join out 100", "misaligned"), 0); /* output by output: same capture tick */
    const double incomplete = field("  seq-join out 100", "incomplete");
    /* Blocked, not pairing holes, while it waits: the few incomplete outputs
     * allowed are frames whose single read failed around the restart (counted
     * as dropped), at most 2 s of camera frames on a loaded or sanitized run. */
    CHECK(incomplete >= 0 && incomplete <= 60);
    CHECK(field("  seq-join out 100", "outputs") > 0);
    CHECK(strstr(out, "[blocked: input") != NULL); /* visible in the live status while it lasts */
    double total = -1, longest = -1;
    char why[128] = "";
    CHECK(not_flowing("seq-join", &total, &longest, why, sizeof why) == 0);
    CHECK(strstr(why, "input epoch changed, waiting for map") != NULL);
    CHECK(longest > 0 && longest <= STALL_S + RECOVERY_S);
    CHECK(field("  seq-join not flowing", "blocks") >= 1);
    CHECK(last_seq_rates_min(2) >= 15); /* flowing again at the end (30 Hz cameras) */
    CHECK(rc == 3 && strstr(out, "result: DEGRADED") != NULL);
    CHECK(strstr(out, "DEGRADED: seq-join was not flowing") != NULL);
}

static void stall(int role, const char *what)
{
    demo_run_t r;
    CHECK(start_demo(&r, "20") == 0);
    const pid_t target = role < 0 ? r.pid : r.role[role];
    CHECK(kill(target, SIGSTOP) == 0);
    sleep_ms(STALL_S * 1000);
    CHECK(kill(target, SIGCONT) == 0);
    check_stalled_run(finish_demo(&r), what);
}

static void test_driver_stall(void) { stall(-1, "driver SIGSTOP 6 s"); }
static void test_cam1_stall(void) { stall(CAM1, "cam1 SIGSTOP 6 s"); }
static void test_cam2_stall(void) { stall(CAM2, "cam2 SIGSTOP 6 s"); }

static int stat_shows(const char *dir, const char *needle, int timeout_ms)
{
    char args[160];
    snprintf(args, sizeof args, "stat %s --once --json", dir);
    for (int waited = 0; waited < timeout_ms; waited += 300) {
        if (run(args) == 0 && strstr(out, needle) != NULL) return 1;
        sleep_ms(300);
    }
    return 0;
}

/* The authority is stopped while cam1 re-attaches: the join stays blocked,
 * tp stat says so (waiting-map for epoch 2), and it recovers once the
 * authority runs again. */
static void test_blocked_is_visible_until_map(void)
{
    demo_run_t r;
    CHECK(start_demo(&r, "30") == 0);
    CHECK(kill(r.role[AUTHORITY], SIGSTOP) == 0);
    CHECK(kill(r.role[CAM1], SIGSTOP) == 0);
    sleep_ms(STALL_S * 1000);
    CHECK(kill(r.role[CAM1], SIGCONT) == 0);
    const int seen = stat_shows(r.dir, "\"out_stream_id\":100,\"epoch\":\"2\",\"state\":\"waiting-map\"", 10000);
    CHECK(seen);
    if (!seen) fputs(out, stdout);
    sleep_ms(2000);
    CHECK(stat_shows(r.dir, "\"out_stream_id\":100,\"epoch\":\"2\",\"state\":\"waiting-map\"", 3000)); /* still */
    slurp(r.log);
    CHECK(strstr(out, "[blocked: input 1]") != NULL);
    CHECK(kill(r.role[AUTHORITY], SIGCONT) == 0);
    /* the map for epoch 2 in force: tp stat sees it announced and flowing */
    CHECK(stat_shows(r.dir, "\"out_stream_id\":100,\"epoch\":\"2\",\"state\":\"flowing\"", RECOVERY_S * 1000 + 4000));
    const int rc = finish_demo(&r);
    printf("-- authority stopped while cam1 re-attached: exit %d\n", rc);
    CHECK_EQ_I64(field("  seq-join out 100", "misaligned"), 0);
    const double incomplete = field("  seq-join out 100", "incomplete");
    CHECK(incomplete >= 0 && incomplete <= 30);
    CHECK(last_seq_rates_min(2) >= 15);
    CHECK(rc == 3 && strstr(out, "input epoch changed, waiting for map") != NULL);
}

/* ---- forger ---------------------------------------------------------------- */

static uint8_t captured[256];
static size_t captured_len;

static void capture_announce(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)info;
    if (captured_len == 0 && len <= sizeof captured &&
        tp_merge_msg_classify(buf, len) == TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE) {
        memcpy(captured, buf, len);
        captured_len = len;
    }
}

static long forged_announce(uint8_t *buf, size_t cap, uint64_t epoch, int32_t cam2_offset)
{
    tp_merge_map_t m;
    if (tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 2) != 0) return -1;
    tp_merge_map_reset(&m, 100, epoch);
    tp_merge_map_add_offset(&m, 1, 0);
    tp_merge_map_add_offset(&m, 2, cam2_offset);
    const long n = tp_merge_announce_encode(&m, 2, buf, cap);
    tp_merge_map_close(&m);
    return n;
}

/* A forger's subscription and publication on one of the demo's streams
 * (0: the control stream, 1: the descriptor stream). 0 or -1. */
static int open_demo_stream(const char *dir, int descriptors, tp_ipc_subscription_t **sub, tp_ipc_publication_t **pub)
{
    tp_client_context_t cctx;
    tp_client_context_init(&cctx);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = dir;
    ipc.namespace_name = cctx.ns;
    const int32_t stream = descriptors ? cctx.descriptor_stream_id : cctx.control_stream_id;
    if (tp_ipc_subscription_open(sub, &ipc, "tp:ipc", stream) != 0) return -1;
    return tp_ipc_publication_open(pub, &ipc, "tp:ipc", stream);
}

/* A process of the same user publishing on the demo's control stream: a
 * replay of the authority's own announce, and forged ones with the offset
 * of an aligned pair broken, at the current epoch and above it. */
static void run_forger(const char *dir, int64_t duration_ns)
{
    tp_ipc_subscription_t *sub = NULL;
    tp_ipc_publication_t *pub = NULL;
    if (open_demo_stream(dir, 0, &sub, &pub) != 0) _exit(2);
    const int64_t end = tp_clock_monotonic_ns() + duration_ns;
    while (captured_len == 0 && tp_clock_monotonic_ns() < end) {
        tp_ipc_subscription_poll(sub, capture_announce, NULL, 64);
        sleep_ms(5);
    }
    uint8_t same[64], higher[64];
    const long ns = forged_announce(same, sizeof same, 1, 0);   /* 58 bytes: epoch 1, cam2 offset 0 */
    const long nh = forged_announce(higher, sizeof higher, 7, 3); /* a newer epoch */
    int sent = 0;
    while (tp_clock_monotonic_ns() < end) {
        if (captured_len > 0 && tp_ipc_publication_offer(pub, captured, captured_len) > 0) sent++;
        if (ns > 0 && tp_ipc_publication_offer(pub, same, (size_t)ns) > 0) sent++;
        if (nh > 0 && tp_ipc_publication_offer(pub, higher, (size_t)nh) > 0) sent++;
        tp_ipc_subscription_poll(sub, capture_announce, NULL, 64); /* keep the log moving */
        sleep_ms(150);
    }
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
    _exit(sent > 0 && captured_len > 0 ? 0 : 3);
}

static void test_forged_and_replayed_announces_refused(void)
{
    demo_run_t r;
    CHECK(start_demo(&r, "10") == 0);
    fflush(NULL);
    const pid_t forger = fork();
    if (forger == 0) run_forger(r.dir, 5000000000LL);
    CHECK(forger > 0);
    sleep_ms(1500);
    /* tp stat (its own monitor) shows the authority's rules and the refusals */
    char args[160];
    snprintf(args, sizeof args, "stat %s --once", r.dir);
    int shown = 0;
    for (int i = 0; i < 10 && !shown; i++) {
        shown = run(args) == 0 && strstr(out, "[contested: rules of pid") != NULL;
        if (!shown) sleep_ms(300);
    }
    if (!shown) fputs(out, stdout);
    CHECK(shown);
    int st = wait_exit(forger, 20000);
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0); /* it did replay and forge */
    const int rc = finish_demo(&r);
    printf("-- forger: exit %d\n", rc);
    CHECK_EQ_I64(field("  seq-join out 100", "misaligned"), 0);
    CHECK_EQ_I64(field("  seq-join out 100", "incomplete"), 0);
    CHECK(field("  seq-join not flowing", "refused") >= 9); /* 3 kinds x at least 3 rounds */
    /* No announce blocks the map: a block takes an input that restarted, and
     * an input restarts only when its producer got a new lease (a producer
     * starved past its lease under a loaded sanitizer run attaches again). */
    const double blocks = field("  seq-join not flowing", "blocks");
    const double restarts = field("  seq-join not flowing", "restarts");
    const double reattached = field("  cam1", "leases") - 1 + field("  cam2", "leases") - 1;
    if (blocks != 0) printf("-- seq-join epoch blocks %.0f, input restarts %.0f, camera re-attaches %.0f\n", blocks, restarts, reattached);
    CHECK(blocks >= 0 && blocks <= restarts);
    CHECK(restarts <= reattached);
    CHECK(rc == 0 && strstr(out, "result: OK") != NULL); /* the real map stayed in force throughout */
}

/* ---- forged FrameDescriptors -------------------------------------------- */

/* A join may not stop longer than this because of forged descriptors (the
 * demo's own status sampling is 100 ms; a join with nothing forged never
 * stops at all). */
#define FORGED_BOUND_MS 1000

typedef struct desc_seen_s {
    int have_old;
    uint8_t old[128]; /* the first real descriptor seen: replayed once overwritten */
    size_t old_len;
    uint8_t recent[8][128]; /* the last real ones: replayed while their slots hold them */
    size_t recent_len[8];
    uint32_t nrecent;
    uint64_t epoch, seq, ts; /* the newest real one */
} desc_seen_t;

static desc_seen_t seen_desc[4]; /* by demo stream id 1..3 */

static void capture_descriptor(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    tp_control_frame_descriptor_dec_t d;
    if (info->publisher_pid == (int32_t)getpid()) return; /* its own forgeries */
    if (len > sizeof seen_desc[0].old || tp_control_frame_descriptor_decode(&d, buf, len) != 0) return;
    const uint32_t s = tp_control_frame_descriptor_stream_id(&d);
    if (s < 1 || s > 3) return;
    desc_seen_t *x = &seen_desc[s];
    if (!x->have_old) {
        memcpy(x->old, buf, len);
        x->old_len = len;
        x->have_old = 1;
    }
    memcpy(x->recent[x->nrecent % 8], buf, len);
    x->recent_len[x->nrecent % 8] = len;
    x->nrecent++;
    x->epoch = tp_control_frame_descriptor_epoch(&d);
    x->seq = tp_control_frame_descriptor_seq(&d);
    x->ts = tp_control_frame_descriptor_timestamp_ns(&d);
}

static void offer_descriptor(tp_ipc_publication_t *pub, uint32_t stream, uint64_t epoch, uint64_t seq, uint64_t ts)
{
    uint8_t buf[128];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
    tp_control_frame_descriptor_set_stream_id(&e, stream);
    tp_control_frame_descriptor_set_epoch(&e, epoch);
    tp_control_frame_descriptor_set_seq(&e, seq);
    tp_control_frame_descriptor_set_timestamp_ns(&e, ts);
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    const long n = tp_control_frame_descriptor_encode_end(&e);
    if (n > 0) (void)tp_ipc_publication_offer(pub, buf, (size_t)n);
}

/* A process of the same user on the demo's descriptor stream: each round,
 * for every source, a descriptor of the next epoch, one 100000 frames ahead,
 * a replay of the first real one (long overwritten) and of one 4 frames old.
 * Exits with the number of rounds (0: it could not forge). */
static void run_descriptor_forger(const char *dir, int64_t duration_ns)
{
    tp_ipc_subscription_t *sub = NULL;
    tp_ipc_publication_t *pub = NULL;
    if (open_demo_stream(dir, 1, &sub, &pub) != 0) _exit(0);
    const int64_t end = tp_clock_monotonic_ns() + duration_ns;
    const int64_t warm = tp_clock_monotonic_ns() + 1000000000LL; /* the first descriptors are overwritten by then */
    while (tp_clock_monotonic_ns() < warm) {
        tp_ipc_subscription_poll(sub, capture_descriptor, NULL, 256);
        sleep_ms(2);
    }
    int rounds = 0;
    while (tp_clock_monotonic_ns() < end && rounds < 100) {
        tp_ipc_subscription_poll(sub, capture_descriptor, NULL, 256);
        int ok = 1;
        for (uint32_t s = 1; s <= 3; s++) {
            const desc_seen_t *x = &seen_desc[s];
            if (!x->have_old || x->nrecent < 8) {
                ok = 0;
                continue;
            }
            offer_descriptor(pub, s, x->epoch + 1, x->seq + 1, x->ts);   /* a higher epoch */
            offer_descriptor(pub, s, x->epoch, x->seq + 100000, x->ts);  /* a seq far ahead */
            (void)tp_ipc_publication_offer(pub, x->old, x->old_len);     /* an old one, overwritten */
            const uint32_t r = (x->nrecent - 4) % 8;
            (void)tp_ipc_publication_offer(pub, x->recent[r], x->recent_len[r]); /* a recent one */
        }
        rounds += ok;
        sleep_ms(250);
    }
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
    _exit(rounds);
}

static void test_forged_descriptors_refused(void)
{
    demo_run_t r;
    CHECK(start_demo(&r, "10") == 0);
    fflush(NULL);
    const pid_t forger = fork();
    if (forger == 0) run_descriptor_forger(r.dir, 5000000000LL);
    CHECK(forger > 0);
    const int st = wait_exit(forger, 20000);
    const int rounds = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 0;
    CHECK(rounds >= 5); /* it did forge, every 250 ms for 4 s */
    const int rc = finish_demo(&r);
    printf("-- descriptor forger: %d rounds, exit %d\n", rounds, rc);
    for (int k = 0; k < 2; k++) {
        const char *outl = k == 0 ? "  seq-join out 100" : "  ts-join  out 200";
        const char *nfl = k == 0 ? "  seq-join not flowing" : "  ts-join  not flowing";
        const char *name = k == 0 ? "seq-join" : "ts-join";
        if (k == 0) CHECK_EQ_I64(field(outl, "misaligned"), 0); /* output by output: same capture tick */
        /* Nothing forged makes an output incomplete; a join process starved
         * for 0.5 s on a loaded machine does (the cameras' 16 slots are
         * lapped), so allow at most a second's worth: a join the forger
         * stopped misses everything after it (the bound below catches it). */
        const double incomplete = field(outl, "incomplete");
        CHECK(incomplete >= 0 && incomplete <= 30);
        CHECK(field(outl, "outputs") > 0);
        double total = -1, longest = -1;
        char why[128] = "";
        CHECK(not_flowing(name, &total, &longest, why, sizeof why) == 0);
        CHECK(longest >= 0 && longest * 1000 <= FORGED_BOUND_MS);
        CHECK_EQ_I64(field(nfl, "blocks"), 0);
        /* both inputs of each join were forged at: every refusal counted */
        CHECK(field(nfl, "other-epoch") >= 2 * rounds);
        const double not_in_slot = field(nfl, "not-in-slot"), replayed = field(nfl, "replayed");
        CHECK(not_in_slot >= 2 * rounds); /* far ahead */
        CHECK(replayed >= 2 * rounds);    /* the recent one */
        /* the old one: overwritten (not in slot), or a replay while the ring
         * still holds it (the IMU's 512 slots hold 1.7 s) */
        CHECK(not_in_slot + replayed >= 2 * 3 * rounds);
    }
    CHECK(last_seq_rates_min(2) >= 15); /* still flowing at the end (30 Hz cameras) */
    CHECK(rc == 0 && strstr(out, "result: OK") != NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: join_stall_test PATH_TO_TP\n");
        return 2;
    }
    tp = argv[1];
    unsetenv("TP_DIR");
    if (argc > 2) { /* one test by name, for debugging */
        if (strcmp(argv[2], "descriptors") == 0) RUN(test_forged_descriptors_refused);
        if (strcmp(argv[2], "announces") == 0) RUN(test_forged_and_replayed_announces_refused);
        TP_TEST_END();
    }
    RUN(test_forged_descriptors_refused);
    RUN(test_forged_and_replayed_announces_refused);
    RUN(test_driver_stall);
    RUN(test_cam1_stall);
    RUN(test_cam2_stall);
    RUN(test_blocked_is_visible_until_map);
    TP_TEST_END();
}
