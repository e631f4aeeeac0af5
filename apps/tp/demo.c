/* tp demo: the whole system in one command (driver, producers, authority, two
 * joins; one process per role), with a status line per second and a summary. */
#include "commands.h"
#include "stop_signal.h"
#include "demo_pipeline.h"
#ifdef TP_HAVE_VIEW
#include "view/view_server.h"
#endif

#include "tensorpool/clean.h"
#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "tensorpool/join_agent.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp demo - run a complete tensorpool pipeline and report on it live\n"
            "\n"
            "SYNOPSIS\n"
            "    tp demo [--duration SECONDS] [--rate HZ] [--frame-bytes N] [--lateness-ms MS]\n"
            "            [--degraded-after-ms MS] [--dir DIR] [--transport tp|aeron]\n"
            "\n"
            "DESCRIPTION\n"
            "    Starts an embedded SHM driver, three synthetic producers, a MergeMap authority and\n"
            "    two JoinBarrier stages, each role in its own OS process, then prints one status\n"
            "    line per second and a summary:\n"
            "\n"
            "      cam1  stream 1   camera, HxWx3 uint8 frames at --rate\n"
            "      cam2  stream 2   camera at the same rate, deliberately two frames late: it skips\n"
            "                       the first two capture ticks, so its seq N is cam1's seq N+2\n"
            "      imu   stream 3   64-byte samples at 10 x --rate\n"
            "      authority        MergeMap authority: announces both joins' MergeMaps and\n"
            "                       answers their MergeMapRequests; it reads both cameras and,\n"
            "                       when one moves to a new epoch (it re-attached after a driver\n"
            "                       or producer stall and restarted at seq 0), derives the\n"
            "                       sequence offset again from two frames of one capture time\n"
            "                       and announces it under a new map epoch\n"
            "      seq-join  out 100  SequenceJoinBarrier: output N = cam1 frame N + cam2 frame N-2\n"
            "                         (offset compensation -2); every output is checked to pair\n"
            "                         frames of the same capture tick. When a camera moves to a\n"
            "                         new epoch it pairs nothing until the authority's new map\n"
            "                         arrives (state blocked); MergeMaps from any process but the\n"
            "                         authority are refused and counted\n"
            "      ts-join   out 200  TimestampJoinBarrier: the cam1 frame captured at T + the IMU\n"
            "                         samples in [T - camera period, T], slot-header capture times,\n"
            "                         ready once the IMU reached T - lateness\n"
            "      preview   stream 1 a RATE_LIMITED consumer of cam1 at 5 Hz, as a UI thumbnail\n"
            "                         would read it: it gets the newest frame each 200 ms and\n"
            "                         counts the frames it passes over apart from drops\n"
            "\n"
            "    Processes: the `tp demo` process runs the driver and prints; it forks one child\n"
            "    per role above, named tp-cam1, tp-cam2, tp-imu, tp-authority, tp-seq-join and\n"
            "    tp-ts-join (see ps, or /proc/PID/comm), and prints their pids on the second line.\n"
            "    The roles talk to each other only as separate programs would: through the\n"
            "    driver's control streams and the shared memory it hands out. Each producer is a\n"
            "    tp_producer client attached to the driver, which creates the SHM files and\n"
            "    announces them; each join holds a CONSUMER lease per input and maps what the\n"
            "    driver grants, read-only. The two joins are separate processes, as stages of\n"
            "    different programs would be: neither can stall the other's duty cycle, and\n"
            "    both get their MergeMaps from the authority over the control stream.\n"
            "    The counters printed here come from an anonymous shared page each child writes\n"
            "    its own part of. A child never outlives the demo (PR_SET_PDEATHSIG: it gets\n"
            "    SIGTERM when the demo process dies, even by SIGKILL).\n"
            "\n"
            "    Status line, once per second:\n"
            "      [  2.0s] cam1 30.0/s cam2 30.0/s imu 300.0/s drops 0 | seq-join out 58 +30\n"
            "               waits 30 p50 0.41ms p99 0.98ms | ts-join out 60 +30 waits 0 ...\n"
            "    RATE/s      frames published per second by each producer over the last second\n"
            "    drops       producer publish failures + join frame reads that failed (slot\n"
            "                overwritten or invalid when read; the join drops, never retries)\n"
            "    out T +N    join outputs in total and during the last second\n"
            "    waits       outputs (in total) that were held back by a missing input while the\n"
            "                other input was already there\n"
            "    p50 p99     latency over the last second from the commit of the last required\n"
            "                input (its FrameDescriptor time) to the join callback\n"
            "    [blocked]   the join's state when it is not flowing: blocked (no map in force, or\n"
            "                the next output not ready for 1 s) or degraded (its last output had\n"
            "                an input with no frame)\n"
            "\n"
            "    Summary, at the end: per producer its epoch, 'leases' (epochs the driver granted it:\n"
            "    more than 1 means it lost its lease and attached again), frames published and failed.\n"
            "    Per join its outputs, dropped (frame reads that failed) and\n"
            "    no-view: outputs the join delivered while some input had no payload view (its\n"
            "    pool not mapped yet, typically the first outputs after start, or a dropped read;\n"
            "    the join agent's outputs_without_view). Every output either carried a view for\n"
            "    each frame or is counted in no-view: `with-view + no-view = outputs` is checked.\n"
            "    Then per join 'not flowing' (time blocked or degraded while the producers ran, in\n"
            "    how many stretches, the longest and why), 'epoch blocks' (maps dropped because an\n"
            "    input moved to a new epoch), 'input restarts' (inputs that moved to a new epoch\n"
            "    after the join took their frames), 'refused' (MergeMap announces from a process\n"
            "    other than the authority) and the FrameDescriptors the join refused: of another\n"
            "    epoch than the driver announced, naming a slot that does not hold that frame, a\n"
            "    replay, or from another user's transport log ('foreign', control messages too).\n"
            "\n"
            "    Watch it from another terminal with `tp stat DIR` (use --dir to choose DIR): each\n"
            "    stream shows its producer's pid, a different process per stream.\n"
            "\n"
            "OPTIONS\n"
            "    --duration SECONDS  run time, 0.5 .. 86400 (default 10)\n"
            "    --rate HZ           camera rate, 1 .. 1000 (default 30); the IMU runs at 10 x HZ\n"
            "    --frame-bytes N     camera frame size, 64 .. 67108864 (default 921600 = 640x480x3)\n"
            "    --lateness-ms MS    lateness budget of the timestamp join, 0 .. 1000 (default 5)\n"
            "    --degraded-after-ms MS\n"
            "                        a join blocked or degraded for longer than this in one stretch\n"
            "                        makes the result DEGRADED, 0 .. 3600000 (default 1000)\n"
            "    --dir DIR           existing absolute directory for the SHM files and the\n"
            "                        transport (default: $TP_DIR if set, else a fresh directory\n"
            "                        /dev/shm/tp-demo-XXXXXX that is removed at exit, also when\n"
            "                        the demo is killed (a janitor process removes it once the\n"
            "                        demo and its roles are gone)); DIR and $TP_DIR stay, and\n"
            "                        what the demo left in them is removed at exit, or by the\n"
            "                        janitor after a kill, as `tp clean` would: the files of\n"
            "                        other live processes there are kept\n"
            "    --transport T       tp (default): the embedded tp:ipc transport; aeron: every\n"
            "                        process on aeron:ipc, with Aeron's media driver running\n"
            "                        inside the driver process, in DIR (builds with Aeron only;\n"
            "                        sets DRIVER_CONTROL_CHANNEL and DRIVER_EMBEDDED_MEDIA_DRIVER)\n"
            "    --view              also serve the live web page of tp view for the demo's\n"
            "                        directory (streams, camera thumbnails, the joins' timelines)\n"
            "                        and print its address; stays up until the demo ends\n"
            "                        (builds with libmicrohttpd only)\n"
            "    --listen HOST:PORT  where --view serves (default 127.0.0.1:8470, port 0: a free\n"
            "                        one); loopback addresses only, as tp view without\n"
            "                        --allow-remote\n"
            "    -h, --help          this text\n"
            "\n"
            "    Driver settings come from the environment as for `tp driver` (for example\n"
            "    POLICIES_ANNOUNCE_PERIOD_MS); the streams and profiles are built in.\n"
            "\n"
            "SIGNALS\n"
            "    SIGINT and SIGTERM (and a closed output pipe) end the run early: the summary covers\n"
            "    the time run and the temporary directory is still removed. The role processes\n"
            "    ignore SIGINT (Ctrl-C reaches the whole process group): the demo stops them with\n"
            "    SIGTERM once the last frames are through, the joins and the preview before the\n"
            "    sources and the authority, waits up to 3 s in all, then uses SIGKILL.\n"
            "    A role process that dies or exits on its own ends the run early; the demo names\n"
            "    it and how it ended (signal or exit status), prints the summary and exits 1.\n"
            "\n"
            "EXIT STATUS\n"
            "    0  every producer published and both joins produced outputs, all sequence-join\n"
            "       outputs paired frames of the same capture tick, and each join's outputs add\n"
            "       up (with-view + no-view)\n"
            "    1  a stage failed (named on stderr): a producer could not attach or publish, a\n"
            "       join produced no output, the sequence join paired the wrong frames, a join's\n"
            "       outputs do not add up, or a role\n"
            "       process died, exited on its own or did not stop when asked\n"
            "    2  bad option or directory\n"
            "    3  DEGRADED: everything above held, but a join was blocked or degraded for longer\n"
            "       than --degraded-after-ms in one stretch (named on stderr with its reason)\n"
            "\n"
            "ENVIRONMENT\n"
            "    TP_DIR  directory for the SHM files and the transport when --dir is not given\n"
            "\n"
            "EXAMPLES\n"
            "    A 60-second run in a directory another terminal can watch:\n"
            "        mkdir -p /dev/shm/tp-live\n"
            "        tp demo --duration 60 --dir /dev/shm/tp-live &\n"
            "        tp stat /dev/shm/tp-live\n"
            "\n"
            "    Full-HD frames at 60 Hz with a 2 ms lateness budget:\n"
            "        tp demo --rate 60 --frame-bytes 6220800 --lateness-ms 2\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), tp-stat(1), tp-driver(1), tensorpool(7)\n");
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static char g_tmpdir[256];

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

/* Remove from a directory the demo did not make (--dir, TP_DIR) what its
 * driver, producers and joins left there, and nothing of anyone else's:
 * tp_clean with the demo's own process counted as gone and no linger for its
 * closed logs (their readers were its roles). */
/* Counts what tp_clean kept of the demo's own kinds (not others' files). */
static void count_kept(void *clientd, const tp_clean_item_t *item)
{
    if (!item->removed && strcmp(item->kind, "file") != 0) (*(int *)clientd)++;
}

static void clean_after_demo(const char *dir, int demo_pid)
{
    tp_clean_options_t opt;
    tp_clean_options_init(&opt);
    opt.gone_pid = demo_pid;
    opt.log_linger_ns = 0;
    opt.report = count_kept;
    /* A process that has just let go of the pipe may still be on its way out
     * (its mappings, its /proc entry): clean again until nothing of the
     * demo's is kept, for at most 30 s (a sanitized build on a loaded
     * machine has needed more than 10). */
    for (int round = 0; round < 150; round++) {
        int kept = 0;
        opt.clientd = &kept;
        tp_clean_summary_t sum;
        if (tp_clean(dir, &opt, &sum) != 0 || kept == 0) return;
        const struct timespec pause = {0, 200000000};
        nanosleep(&pause, NULL);
    }
}

/* The demo must leave the SHM directory as it found it, even when it is
 * killed with SIGKILL (nothing of it then runs). A janitor process, forked
 * while this one is still single-threaded, waits on a pipe whose write ends
 * only this process and its roles hold: EOF means every one of them is gone,
 * so the files are no longer used. It then removes the demo's own directory
 * (own) or cleans what the demo left in a given one (normally already done at
 * exit). It is neither driver nor client: it never maps a file. */
static int start_janitor(const char *dir, int own)
{
    const int demo_pid = (int)getpid();
    int fds[2];
    if (pipe(fds) != 0) return -1;
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[1]);
        signal(SIGINT, SIG_IGN); /* Ctrl-C reaches the whole group; the janitor stays for the end */
        signal(SIGTERM, SIG_IGN);
        const int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) { /* hold no terminal or pipe the user waits on */
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        char c;
        for (;;) { /* nobody writes: this ends at EOF */
            const ssize_t n = read(fds[0], &c, 1);
            if (n == 0 || (n < 0 && errno != EINTR)) break;
        }
        if (own)
            nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        else
            clean_after_demo(dir, demo_pid);
        _exit(0);
    }
    close(fds[0]); /* the write end stays open in this process and its roles, unused */
    return 0;
}

/* An existing, writable, absolute directory. */
static int check_dir(const char *dir, const char *what)
{
    struct stat st;
    if (dir[0] != '/') {
        fprintf(stderr, "tp demo: %s '%s' must be an absolute path\n", what, dir);
        return -1;
    }
    if (strlen(dir) > 200) {
        fprintf(stderr, "tp demo: %s '%s' is too long (at most 200 characters)\n", what, dir);
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "tp demo: %s '%s' is not an existing directory\n", what, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "tp demo: %s '%s' is not writable\n", what, dir);
        return -1;
    }
    return 0;
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void print_status(const demo_snapshot_t *cur, const demo_snapshot_t *prev, double t)
{
    const double dt = (double)(cur->now_ns - prev->now_ns) / 1e9;
    uint64_t drops = 0;
    printf("[%5.1fs]", t);
    for (int i = 0; i < DEMO_SOURCES; i++) {
        printf(" %s %.1f/s", cur->src[i].name,
               dt > 0 ? (double)(cur->src[i].published - prev->src[i].published) / dt : 0.0);
        drops += cur->src[i].failed;
    }
    for (int i = 0; i < DEMO_JOINS; i++) drops += cur->join[i].frames_dropped;
    printf(" drops %llu", (unsigned long long)drops);
    for (int i = 0; i < DEMO_JOINS; i++) {
        const demo_join_stats_t *j = &cur->join[i];
        tp_latency_hist_t d;
        tp_latency_hist_diff(&d, &j->latency, &prev->join[i].latency);
        printf(" | %s out %llu +%llu waits %llu", j->name, (unsigned long long)j->outputs,
               (unsigned long long)(j->outputs - prev->join[i].outputs), (unsigned long long)j->outputs_waited);
        if (d.count > 0)
            printf(" p50 %.2fms p99 %.2fms", ms(tp_latency_hist_quantile(&d, 0.5)), ms(tp_latency_hist_quantile(&d, 0.99)));
        else
            printf(" p50 - p99 -%s", j->has_map ? "" : " (no map yet)");
        if (j->state != TP_JOIN_AGENT_FLOWING)
            printf(" [%s: input %u]", tp_join_agent_state_name((tp_join_agent_state_t)j->state), (unsigned)j->state_stream);
    }
    printf(" | preview %.1f/s", dt > 0 ? (double)(cur->preview.frames - prev->preview.frames) / dt : 0.0);
    printf("\n");
}

/* One line naming each role's process, so `ps` and `tp stat` can be matched up. */
static void print_processes(const demo_snapshot_t *s)
{
    printf("tp demo: processes: driver+status %d", (int)getpid());
    for (int i = 0; i < DEMO_ROLES; i++) printf(", %s %d", s->role[i].name, s->role[i].pid);
    printf("\n");
}

/* Each role process that failed, on stderr; returns how many. */
static int report_roles(const demo_snapshot_t *s)
{
    int n = 0;
    for (int i = 0; i < DEMO_ROLES; i++)
        if (s->role[i].state == DEMO_ROLE_FAILED) {
            fprintf(stderr, "tp demo: FAILED: role %s (pid %d) %s\n", s->role[i].name, s->role[i].pid,
                    s->role[i].why);
            n++;
        }
    return n;
}

/* One join's time not flowing; 1 when its longest stretch exceeds the threshold. */
static int print_not_flowing(const demo_join_stats_t *j, int64_t degraded_after_ns)
{
    const char *why = j->longest_epoch_change                   ? "input epoch changed, waiting for map"
                      : j->longest_state == TP_JOIN_AGENT_BLOCKED ? "blocked"
                                                                   : "degraded";
    printf("  %-8s not flowing %.2f s in %llu stretches (longest %.2f s: %s, input %u)  epoch blocks %llu  "
           "input restarts %llu  refused %llu  descriptors refused: other-epoch %llu  not-in-slot %llu  replayed %llu"
           "  foreign %llu\n",
           j->name, (double)j->not_flowing_ns / 1e9, (unsigned long long)j->stretches, (double)j->longest_ns / 1e9,
           j->stretches ? why : "-", (unsigned)j->longest_stream, (unsigned long long)j->epoch_blocks,
           (unsigned long long)j->input_restarts,
           (unsigned long long)j->refused, (unsigned long long)j->desc_other_epoch,
           (unsigned long long)j->desc_not_in_slot, (unsigned long long)j->desc_replayed,
           (unsigned long long)j->foreign);
    if (j->longest_ns <= (uint64_t)degraded_after_ns) return 0;
    fprintf(stderr, "tp demo: DEGRADED: %s was not flowing for %.2f s in one stretch (%s, input %u)\n", j->name,
            (double)j->longest_ns / 1e9, why, (unsigned)j->longest_stream);
    return 1;
}

/* Summary and verdict: 0 when every stage worked, 1 when one failed, 3 when
 * a join was blocked or degraded too long (reason on stderr). */
static int print_summary(const demo_snapshot_t *s, double secs, const demo_options_t *opt)
{
    printf("summary: %.1f s, cameras %.1f Hz (%u-byte frames), IMU %.1f Hz\n", secs, opt->rate_hz,
           (unsigned)opt->frame_bytes, opt->rate_hz * 10);
    for (int i = 0; i < DEMO_SOURCES; i++) {
        const demo_source_stats_t *x = &s->src[i];
        printf("  %-8s stream %u  epoch %llu  leases %llu  published %llu  failed %llu  %.1f/s%s\n", x->name,
               (unsigned)x->stream_id, (unsigned long long)x->epoch, (unsigned long long)x->leases,
               (unsigned long long)x->published,
               (unsigned long long)x->failed, secs > 0 ? (double)x->published / secs : 0.0,
               i == DEMO_CAM2 ? "  (2 frames late)" : "");
    }
    const demo_join_stats_t *q = &s->join[DEMO_SEQ_JOIN], *t = &s->join[DEMO_TS_JOIN];
    printf("  %-8s out %u  outputs %llu  aligned %llu  misaligned %llu  incomplete %llu  dropped %llu  with-view %llu"
           "  no-view %llu  waits %llu  latency p50 %.2fms p99 %.2fms max %.2fms\n",
           q->name, (unsigned)q->out_stream_id, (unsigned long long)q->outputs,
           (unsigned long long)(q->outputs - q->misaligned - q->incomplete), (unsigned long long)q->misaligned,
           (unsigned long long)q->incomplete, (unsigned long long)q->frames_dropped,
           (unsigned long long)q->outputs_with_view, (unsigned long long)q->outputs_without_view,
           (unsigned long long)q->outputs_waited, ms(tp_latency_hist_quantile(&q->latency, 0.5)),
           ms(tp_latency_hist_quantile(&q->latency, 0.99)), ms(q->latency.max_ns));
    printf("  %-8s out %u  outputs %llu  imu-per-output %.1f  incomplete %llu  dropped %llu  with-view %llu"
           "  no-view %llu  waits %llu  latency p50 %.2fms p99 %.2fms max %.2fms\n",
           t->name, (unsigned)t->out_stream_id, (unsigned long long)t->outputs,
           t->outputs > 0 ? (double)t->window_frames / (double)t->outputs : 0.0, (unsigned long long)t->incomplete,
           (unsigned long long)t->frames_dropped, (unsigned long long)t->outputs_with_view,
           (unsigned long long)t->outputs_without_view, (unsigned long long)t->outputs_waited,
           ms(tp_latency_hist_quantile(&t->latency, 0.5)), ms(tp_latency_hist_quantile(&t->latency, 0.99)),
           ms(t->latency.max_ns));
    const demo_preview_stats_t *v = &s->preview; /* W-11.b: a RATE_LIMITED consumer */
    printf("  %-8s stream %u  max %u Hz  frames %llu  skipped %llu  drops %llu  rate %.1f /s\n", "preview",
           (unsigned)v->stream_id, (unsigned)v->rate_hz, (unsigned long long)v->frames, (unsigned long long)v->skipped,
           (unsigned long long)v->drops, secs > 0 ? (double)v->frames / secs : 0.0);
    int rc = 0;
    for (int i = 0; i < DEMO_SOURCES; i++)
        if (s->src[i].published == 0) {
            fprintf(stderr, "tp demo: FAILED: producer %s published no frame\n", s->src[i].name);
            rc = 1;
        }
    for (int i = 0; i < DEMO_JOINS; i++)
        if (s->join[i].outputs == 0) {
            fprintf(stderr, "tp demo: FAILED: %s produced no output (%s)\n", s->join[i].name,
                    s->join[i].has_map ? "its MergeMap was applied; inputs never satisfied it"
                                       : "its MergeMap never arrived");
            rc = 1;
        }
    for (int i = 0; i < DEMO_JOINS; i++) {
        const demo_join_stats_t *j = &s->join[i];
        if (j->outputs_with_view + j->outputs_without_view != j->outputs) {
            fprintf(stderr, "tp demo: FAILED: %s outputs do not add up: %llu with a view + %llu without != %llu\n",
                    j->name, (unsigned long long)j->outputs_with_view, (unsigned long long)j->outputs_without_view,
                    (unsigned long long)j->outputs);
            rc = 1;
        }
    }
    if (report_roles(s) > 0) rc = 1;
    if (q->misaligned > 0) {
        fprintf(stderr, "tp demo: FAILED: %s paired frames of different capture ticks %llu times\n", q->name,
                (unsigned long long)q->misaligned);
        rc = 1;
    }
    int degraded = 0;
    for (int i = 0; i < DEMO_JOINS; i++) degraded |= print_not_flowing(&s->join[i], opt->degraded_after_ns);
    /* metadata: each camera's intrinsics blob as its joins received it (tp stat --meta shows it too) */
    printf("  intrinsics blobs received: %s %u of 2 cameras, %s %u of 1\n", q->name, (unsigned)q->intrinsics, t->name,
           (unsigned)t->intrinsics);
    printf("  authority sequence map epochs announced after the first: %llu\n", (unsigned long long)s->map_epochs);
    if (rc == 0 && degraded) rc = 3;
    printf("result: %s\n", rc == 0 ? "OK" : rc == 3 ? "DEGRADED" : "FAILED");
    return rc;
}

/* --view: tp view's server inside this process, started once the roles are
 * forked (it runs threads). */
#ifdef TP_HAVE_VIEW
static view_server_t *g_view;

static int demo_view_check(const char *listen)
{
    const view_options_t vo = {.listen = listen};
    char err[256];
    if (view_check_listen(&vo, err, sizeof err) == 0) return 0;
    fprintf(stderr, "tp demo: %s\n", err);
    return -1;
}

static int demo_view_start(const demo_options_t *opt, const char *listen)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx); /* the namespace the roles use */
    const view_options_t vo = {.dir = opt->dir, .ns = ctx.ns, .listen = listen};
    if (view_server_start(&g_view, &vo) != 0) {
        fprintf(stderr, "tp demo: FAILED: --view: %s\n", tp_errmsg());
        return -1;
    }
    printf("tp demo: view at %s\n", view_server_url(g_view));
    return 0;
}

static void demo_view_stop(void)
{
    view_server_stop(g_view);
    g_view = NULL;
}
#else
static int demo_view_check(const char *listen)
{
    (void)listen;
    fprintf(stderr, "tp demo: --view needs tp built with libmicrohttpd (Debian: libmicrohttpd-dev)\n");
    return -1;
}
static int demo_view_start(const demo_options_t *opt, const char *listen)
{
    (void)opt;
    (void)listen;
    return -1;
}
static void demo_view_stop(void) {}
#endif

int tp_cmd_demo(int argc, char **argv)
{
    demo_options_t opt = {NULL, 30.0, 640u * 480u * 3u, 5000000, 1000000000};
    double duration = 10.0;
    int view = 0;
    const char *listen = "127.0.0.1:8470";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "--duration") == 0 && v != NULL) {
            i++;
            if (parse_double(v, 0.5, 86400, &duration) != 0) {
                fprintf(stderr, "tp demo: --duration wants seconds in 0.5..86400, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--rate") == 0 && v != NULL) {
            i++;
            if (parse_double(v, 1, 1000, &opt.rate_hz) != 0) {
                fprintf(stderr, "tp demo: --rate wants Hz in 1..1000, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--frame-bytes") == 0 && v != NULL) {
            i++;
            if (parse_double(v, 64, 64.0 * 1024 * 1024, &x) != 0 || x != (double)(uint32_t)x) {
                fprintf(stderr, "tp demo: --frame-bytes wants an integer in 64..67108864, got '%s'\n", v);
                return 2;
            }
            opt.frame_bytes = (uint32_t)x;
        } else if (strcmp(a, "--lateness-ms") == 0 && v != NULL) {
            i++;
            if (parse_double(v, 0, 1000, &x) != 0) {
                fprintf(stderr, "tp demo: --lateness-ms wants 0..1000, got '%s'\n", v);
                return 2;
            }
            opt.lateness_ns = (int64_t)(x * 1e6);
        } else if (strcmp(a, "--degraded-after-ms") == 0 && v != NULL) {
            i++;
            if (parse_double(v, 0, 3600000, &x) != 0) {
                fprintf(stderr, "tp demo: --degraded-after-ms wants 0..3600000, got '%s'\n", v);
                return 2;
            }
            opt.degraded_after_ns = (int64_t)(x * 1e6);
        } else if (strcmp(a, "--dir") == 0 && v != NULL) {
            i++;
            opt.dir = v;
        } else if (strcmp(a, "--view") == 0) {
            view = 1;
        } else if (strcmp(a, "--listen") == 0 && v != NULL) {
            i++;
            listen = v;
        } else if (strcmp(a, "--transport") == 0 && v != NULL) {
            i++;
            if (strcmp(v, "aeron") == 0) {
                /* every role reads these (the driver, clients, joins, authority) */
                setenv("DRIVER_CONTROL_CHANNEL", "aeron:ipc", 1);
                setenv("DRIVER_EMBEDDED_MEDIA_DRIVER", "true", 1);
                unsetenv("AERON_DIR"); /* the media driver lives in the demo's directory */
            } else if (strcmp(v, "tp") != 0) {
                fprintf(stderr, "tp demo: --transport wants tp or aeron, got '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "tp demo: unknown or incomplete option '%s' (see tp demo --help)\n", a);
            return 2;
        }
    }
    if (view && demo_view_check(listen) != 0) return 2;
    int own_dir = 0;
    if (opt.dir == NULL) {
        const char *env = getenv("TP_DIR");
        if (env != NULL && env[0] != '\0') {
            if (check_dir(env, "TP_DIR") != 0) return 2;
            opt.dir = env;
        } else {
            snprintf(g_tmpdir, sizeof g_tmpdir, "/dev/shm/tp-demo-XXXXXX");
            if (mkdtemp(g_tmpdir) == NULL) {
                fprintf(stderr, "tp demo: cannot create a directory under /dev/shm: %s\n", strerror(errno));
                return 1;
            }
            opt.dir = g_tmpdir;
            own_dir = 1;
            if (start_janitor(g_tmpdir, 1) != 0)
                fprintf(stderr, "tp demo: warning: no janitor (%s): %s stays if the demo is killed\n",
                        strerror(errno), g_tmpdir);
        }
    } else if (check_dir(opt.dir, "--dir") != 0) {
        return 2;
    }
    if (!own_dir && start_janitor(opt.dir, 0) != 0)
        fprintf(stderr, "tp demo: warning: no janitor (%s): its files stay in %s if the demo is killed\n",
                strerror(errno), opt.dir);
    setvbuf(stdout, NULL, _IOLBF, 0); /* status lines appear as they happen, also in a pipe */
    tp_app_catch_stop_signals(true); /* SIGPIPE too: output closed (| head), still remove the temp dir */

    printf("tp demo: dir %s, cameras %.1f Hz x %u bytes, IMU %.1f Hz, lateness %.1f ms, %.1f s\n", opt.dir,
           opt.rate_hz, (unsigned)opt.frame_bytes, opt.rate_hz * 10, (double)opt.lateness_ns / 1e6, duration);
    int rc = 1;
    demo_pipeline_t *p = NULL;
    demo_snapshot_t prev, cur;
    /* The roles are forked before this process starts any thread (the driver's). */
    if (demo_pipeline_start(&p, &opt) != 0) {
        fprintf(stderr, "tp demo: FAILED: %s\n", tp_errmsg());
        goto failed;
    }
    demo_pipeline_snapshot(p, &prev);
    print_processes(&prev);
    if (view && demo_view_start(&opt, listen) != 0) goto failed;
    if (demo_pipeline_go(p, 5000000000LL) != 0) {
        fprintf(stderr, "tp demo: FAILED: %s\n", tp_errmsg());
        goto failed;
    }
    demo_pipeline_snapshot(p, &prev);
    const int64_t start = prev.now_ns;
    const int64_t end = start + (int64_t)(duration * 1e9);
    int64_t next = start + 1000000000LL;
    /* A role that dies ends the run early: the pipeline is broken. */
    while (!tp_app_stop && demo_pipeline_reap(p) == 0) {
        const int64_t now = tp_clock_monotonic_ns();
        if (now >= next && next <= end) {
            demo_pipeline_snapshot(p, &cur);
            print_status(&cur, &prev, (double)(cur.now_ns - start) / 1e9);
            prev = cur;
            next += 1000000000LL;
            continue;
        }
        if (now >= end) break;
        const int64_t wake = next < end ? next : end;
        const int64_t d = wake - now < 100000000 ? wake - now : 100000000; /* reap at least every 0.1 s */
        const struct timespec ts = {(time_t)(d / 1000000000), (long)(d % 1000000000)};
        nanosleep(&ts, NULL);
    }
    const double secs = (double)(tp_clock_monotonic_ns() - start) / 1e9;
    demo_pipeline_quiesce(p, 2000000000);
    demo_pipeline_stop_roles(p, 3000000000LL); /* the counters are final once every role has exited */
    demo_pipeline_snapshot(p, &cur);
    rc = print_summary(&cur, secs, &opt);
    demo_view_stop();
    demo_pipeline_stop(p);
    goto out;
failed:
    if (p != NULL) {
        demo_pipeline_stop_roles(p, 3000000000LL);
        demo_pipeline_snapshot(p, &cur);
        report_roles(&cur);
    }
    printf("result: FAILED\n");
    demo_view_stop();
    demo_pipeline_stop(p);
out:
    if (own_dir)
        nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        clean_after_demo(opt.dir, (int)getpid());
    return rc;
}
