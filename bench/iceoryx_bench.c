/* The iceoryx anchor: iceoryx's own zero-copy ping-pong and burst
 * throughput between two processes, measured the way bench_frame_rtt and
 * bench_driver measure tensorpool, so that bench/run can put the two side
 * by side per placement regime (docs/benchmarks.md "bench_iceoryx").
 *
 * Built only when Debian's iceoryx C binding is installed
 * (scripts/deps.sh --iceoryx). The benchmark starts its own RouDi (iceoryx's
 * broker, `iox-roudi`, found on PATH) with a memory configuration of its own,
 * and stops it at the end; it refuses to run while another RouDi is up.
 *
 * Round trip (iceoryx_frame_rtt), as bench_frame_rtt's frame_rtt: the
 * pinger (CPU 0) loans a chunk of the payload size from its publisher,
 * writes an 8-byte stamp at its start, publishes; the ponger (CPU 1) takes
 * it from its subscriber by busy polling, reads the stamp, releases it and
 * answers with a chunk of the same size on the other service, which the
 * pinger takes and reads the same way. CLOCK_MONOTONIC from before the loan
 * to after the pinger read the stamp. 64 B, 4 KiB, 1 MiB; only the stamp's
 * line is written and read. iceoryx does no torn-read check: there is none
 * to do, as a loaned chunk is never written again while a reader holds it.
 *
 * Throughput (iceoryx_throughput), as bench_driver's e2e_throughput: 20
 * bursts of 5000 chunks of 64 B, each chunk written whole (as
 * tp_producer_offer copies its 64 B), 20 ms apart; the subscriber reads
 * each chunk's burst number; frames delivered per second while bursts
 * last. Twice: with iceoryx's default policies (the subscriber's queue of
 * 256 drops its oldest chunk when full, as tensorpool's consumer drops a
 * frame it was lapped on), and lossless (the publisher waits for the
 * subscriber's queue).
 *
 * Each trial: placement probe, the three round trips, placement probe; the
 * throughput runs are one more bracketed trial. Rows are medians over the
 * trials of one regime. JSON lines on stdout, a line per trial on stderr.
 *
 * usage: bench_iceoryx [--quick] [--trials N] [--samples N]
 * Environment: TP_BENCH_NEAR_NS, TP_BENCH_FAR_NS (placement.h). */
#include "placement.h"
#include "round_trip_args.h"

#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUDI_SOCKET "/tmp/roudi" /* iceoryx 2.0's fixed name for RouDi's socket */
#define ICEORYX_VERSION "2.0.3" /* the Debian 12 package this is built against */
#define MAX_TRIALS 32
#define ROUND_END UINT64_MAX
#define BURSTS 20u
#define BURST_FRAMES 5000u
#define BURST_BYTES 64u
enum { NSIZES = 3, NSTATS = 3, NPOLICIES = 2 };
static const uint32_t sizes[NSIZES] = {64, 4096, 1048576};
static const double quantiles[NSTATS] = {0.5, 0.99, 0.999};
static const char *const stat_names[NSTATS] = {"p50", "p99", "p99.9"};
static const char *const policy_names[NPOLICIES] = {"discard_oldest", "lossless"};

/* RouDi's shared memory: chunks for every payload size used here. A
 * mempool's size is the largest payload its chunks hold. */
static const char roudi_config[] = "[general]\nversion = 1\n\n[[segment]]\n\n"
                                   "[[segment.mempool]]\nsize = 128\ncount = 12000\n\n"
                                   "[[segment.mempool]]\nsize = 4096\ncount = 64\n\n"
                                   "[[segment.mempool]]\nsize = 1048576\ncount = 16\n";

/* Commands from the coordinator to the pinger and the ponger, one byte on
 * their pipe; each answers a byte on the shared answer pipe when done. */
enum { CMD_RTT = 0 /* + size index */, CMD_THROUGHPUT = 8 /* + policy */, CMD_QUIT = 16 };

/* What the pinger and the subscriber of the throughput run report back. */
typedef struct shared_s {
    int64_t rtt[NSIZES][NSTATS];
    int rtt_ok;
    uint64_t delivered[NPOLICIES];
    int64_t span_ns[NPOLICIES]; /* summed first-to-last take time of each burst */
    int64_t publish_ns[NPOLICIES];
    int tput_ok[NPOLICIES];
} shared_t;
static shared_t *shared;

typedef struct side_s {
    iox_pub_storage_t pub_storage[NSIZES + NPOLICIES];
    iox_sub_storage_t sub_storage[NSIZES + NPOLICIES];
    iox_pub_t pub[NSIZES + NPOLICIES]; /* the round trips' outgoing services, then the bursts' */
    iox_sub_t sub[NSIZES + NPOLICIES];
} side_t;

/* The round trip's services are "tp-bench/ping|pong/<bytes>"; the bursts'
 * "tp-bench/burst/<policy>". The pinger publishes ping and bursts, the
 * ponger publishes pong. */
static int open_side(side_t *s, int is_pinger)
{
    for (int k = 0; k < NSIZES + NPOLICIES; k++) {
        char event[32];
        const int burst = k >= NSIZES;
        const int lossless = burst && k - NSIZES == 1;
        if (burst) snprintf(event, sizeof event, "%s", policy_names[k - NSIZES]);
        else snprintf(event, sizeof event, "%u", sizes[k]);
        s->pub[k] = NULL;
        s->sub[k] = NULL;
        if (is_pinger || !burst) {
            iox_pub_options_t o;
            iox_pub_options_init(&o);
            o.historyCapacity = 0;
            if (lossless) o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
            s->pub[k] = iox_pub_init(&s->pub_storage[k], "tp-bench", burst ? "burst" : is_pinger ? "ping" : "pong",
                                     event, &o);
        }
        if (!is_pinger || !burst) {
            iox_sub_options_t o;
            iox_sub_options_init(&o);
            o.historyRequest = 0;
            o.queueCapacity = 256;
            if (lossless) o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
            s->sub[k] = iox_sub_init(&s->sub_storage[k], "tp-bench", burst ? "burst" : is_pinger ? "pong" : "ping",
                                     event, &o);
        }
    }
    /* RouDi connects publishers and subscribers in its discovery loop */
    const int64_t give_up = tp_bench_now_ns() + 20000000000;
    for (int k = 0; k < NSIZES + NPOLICIES; k++) {
        while ((s->sub[k] != NULL && iox_sub_get_subscription_state(s->sub[k]) != SubscribeState_SUBSCRIBED) ||
               (s->pub[k] != NULL && !iox_pub_has_subscribers(s->pub[k]))) {
            if (tp_bench_now_ns() > give_up) {
                fprintf(stderr, "bench_iceoryx: %s: service %d never connected\n", is_pinger ? "pinger" : "ponger", k);
                return -1;
            }
            usleep(1000);
        }
    }
    return 0;
}

/* Loan a chunk of len bytes, retrying while the pool is momentarily dry
 * (the lossless burst: chunks in the subscriber's queue). NULL on a real
 * failure. */
static void *loan(iox_pub_t pub, uint32_t len)
{
    void *chunk = NULL;
    for (;;) {
        const enum iox_AllocationResult r = iox_pub_loan_chunk(pub, &chunk, len);
        if (r == AllocationResult_SUCCESS) return chunk;
        if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS) {
            fprintf(stderr, "bench_iceoryx: loan of %u bytes failed (%d)\n", len, (int)r);
            return NULL;
        }
        tp_bench_relax();
    }
}

static int publish_stamp(iox_pub_t pub, uint32_t len, uint64_t stamp)
{
    void *chunk = loan(pub, len);
    if (chunk == NULL) return -1;
    memcpy(chunk, &stamp, sizeof stamp);
    iox_pub_publish_chunk(pub, chunk);
    return 0;
}

/* Busy-poll sub for one chunk: its stamp into *stamp, the chunk released.
 * -1 when none came in 20 s (the other side failed). */
static int take_stamp(iox_sub_t sub, uint64_t *stamp)
{
    const void *chunk;
    for (uint32_t n = 1; iox_sub_take_chunk(sub, &chunk) != ChunkReceiveResult_SUCCESS; n++) {
        static int64_t since;
        if ((n & 65535) != 0) continue;
        const int64_t now = tp_bench_now_ns();
        if (n == 65536) since = now;
        else if (now - since > 20000000000) {
            fprintf(stderr, "bench_iceoryx: nothing received for 20 s\n");
            return -1;
        }
    }
    memcpy(stamp, chunk, sizeof *stamp);
    iox_sub_release_chunk(sub, chunk);
    return 0;
}

static int pinger_rtt(side_t *s, int k, size_t samples, int64_t *buf)
{
    const size_t warm = samples / 10 + 100;
    static uint64_t round;
    for (size_t i = 0; i < warm + samples; i++) {
        const uint64_t r = ++round;
        const int64_t t0 = tp_bench_now_ns();
        uint64_t got;
        if (publish_stamp(s->pub[k], sizes[k], r) != 0 || take_stamp(s->sub[k], &got) != 0) return -1;
        const int64_t t1 = tp_bench_now_ns();
        if (got != r) {
            fprintf(stderr, "bench_iceoryx: round %llu answered with %llu\n", (unsigned long long)r,
                    (unsigned long long)got);
            return -1;
        }
        if (i >= warm) buf[i - warm] = t1 - t0;
    }
    for (int q = 0; q < NSTATS; q++) shared->rtt[k][q] = tp_bench_quantile_i64(buf, samples, quantiles[q]);
    return publish_stamp(s->pub[k], sizes[k], ROUND_END);
}

static int ponger_rtt(side_t *s, int k)
{
    for (;;) {
        uint64_t r;
        if (take_stamp(s->sub[k], &r) != 0) return -1;
        if (r == ROUND_END) return 0;
        if (publish_stamp(s->pub[k], sizes[k], r) != 0) return -1;
    }
}

/* Bursts of 64 B chunks, each written whole, burst number in the first
 * word; then an end chunk. */
static int pinger_bursts(side_t *s, int policy)
{
    iox_pub_t pub = s->pub[NSIZES + policy];
    uint8_t src[BURST_BYTES];
    memset(src, 0x5a, sizeof src);
    int64_t busy = 0;
    for (uint64_t b = 0; b < BURSTS; b++) {
        usleep(20000);
        memcpy(src, &b, sizeof b);
        const int64_t t0 = tp_bench_now_ns();
        for (uint32_t i = 0; i < BURST_FRAMES; i++) {
            void *chunk = loan(pub, BURST_BYTES);
            if (chunk == NULL) return -1;
            memcpy(chunk, src, sizeof src);
            iox_pub_publish_chunk(pub, chunk);
        }
        busy += tp_bench_now_ns() - t0;
    }
    usleep(20000);
    shared->publish_ns[policy] = busy;
    return publish_stamp(pub, BURST_BYTES, ROUND_END);
}

/* Takes chunks until the end chunk, counting each burst's chunks and timing
 * it per batch of takes (one clock read per batch, as bench_driver's
 * consumer per poll). */
static int ponger_bursts(side_t *s, int policy)
{
    iox_sub_t sub = s->sub[NSIZES + policy];
    uint64_t count[BURSTS] = {0};
    int64_t first[BURSTS] = {0}, last[BURSTS] = {0};
    const int64_t give_up = tp_bench_now_ns() + 60000000000;
    for (uint32_t n = 1;; n++) {
        if ((n & 65535) == 0 && tp_bench_now_ns() > give_up) {
            fprintf(stderr, "bench_iceoryx: the bursts did not end in 60 s\n");
            return -1;
        }
        const void *chunk;
        uint64_t batch_burst = UINT64_MAX;
        while (iox_sub_take_chunk(sub, &chunk) == ChunkReceiveResult_SUCCESS) {
            uint64_t b;
            memcpy(&b, chunk, sizeof b);
            iox_sub_release_chunk(sub, chunk);
            if (b == ROUND_END) {
                uint64_t delivered = 0;
                int64_t span = 0;
                for (uint32_t i = 0; i < BURSTS; i++) {
                    delivered += count[i];
                    if (count[i] > 1) span += last[i] - first[i];
                }
                shared->delivered[policy] = delivered;
                shared->span_ns[policy] = span;
                return 0;
            }
            if (b >= BURSTS) continue;
            count[b]++;
            batch_burst = b;
        }
        if (batch_burst != UINT64_MAX) {
            const int64_t now = tp_bench_now_ns();
            if (first[batch_burst] == 0) first[batch_burst] = now;
            last[batch_burst] = now;
        }
    }
}

/* The pinger or the ponger: serves the coordinator's commands until
 * CMD_QUIT. */
static int side_main(int is_pinger, int cmd_fd, int done_fd, size_t samples)
{
    tp_bench_pin(is_pinger ? 0 : 1);
    iox_set_loglevel(Iceoryx_LogLevel_Warn);
    iox_runtime_init(is_pinger ? "tp-bench-iceoryx-ping" : "tp-bench-iceoryx-pong");
    static side_t s;
    int rc = open_side(&s, is_pinger);
    int64_t *buf = malloc(samples * sizeof *buf);
    if (buf == NULL) rc = -1;
    else memset(buf, 0xff, samples * sizeof *buf); /* no page fault inside a measured run */
    unsigned char cmd;
    while (rc == 0 && read(cmd_fd, &cmd, 1) == 1 && cmd != CMD_QUIT) {
        if (cmd < CMD_THROUGHPUT) {
            const int k = cmd - CMD_RTT;
            rc = is_pinger ? pinger_rtt(&s, k, samples, buf) : ponger_rtt(&s, k);
        } else {
            const int policy = cmd - CMD_THROUGHPUT;
            rc = is_pinger ? pinger_bursts(&s, policy) : ponger_bursts(&s, policy);
        }
        const char done = rc == 0 ? 'y' : 'n';
        if (write(done_fd, &done, 1) != 1) rc = -1;
    }
    free(buf);
    for (int k = 0; k < NSIZES + NPOLICIES; k++) {
        if (s.pub[k] != NULL) iox_pub_deinit(s.pub[k]);
        if (s.sub[k] != NULL) iox_sub_deinit(s.sub[k]);
    }
    iox_runtime_shutdown();
    return rc == 0 ? 0 : 1;
}

static pid_t spawn_side(int is_pinger, int cmd_pipe[2], int done_fd, size_t samples)
{
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(cmd_pipe[1]);
        /* exit, not _exit: the runtime deregisters from RouDi in its static
         * destructor, and RouDi aborts on shutdown when a registered process
         * is gone */
        exit(side_main(is_pinger, cmd_pipe[0], done_fd, samples));
    }
    close(cmd_pipe[0]);
    return pid;
}

/* Send cmd to both sides and wait for both answers; 0 if both succeeded. */
static int command(const int cmd_fd[2], int done_fd, unsigned char cmd)
{
    int ok = 1;
    for (int i = 0; i < 2; i++)
        if (write(cmd_fd[i], &cmd, 1) != 1) return -1;
    for (int i = 0; i < 2; i++) {
        char done;
        if (read(done_fd, &done, 1) != 1) return -1;
        ok &= done == 'y';
    }
    return ok ? 0 : -1;
}

/* Whether a RouDi answers on its socket; one that died leaves the socket
 * file behind, which refuses connections and which a new RouDi replaces. */
static int roudi_listening(void)
{
    const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", ROUDI_SOCKET);
    const int up = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 || errno == EPROTOTYPE;
    close(fd);
    return up;
}

/* iox-roudi, from PATH, with our config, its log quiet; waits until its
 * socket is there. Its pid, or -1. */
static pid_t start_roudi(const char *dir)
{
    if (roudi_listening()) {
        fprintf(stderr, "bench_iceoryx: another RouDi is running (" ROUDI_SOCKET "); stop it first\n");
        return -1;
    }
    unlink(ROUDI_SOCKET); /* a dead RouDi's: wait below for the new one's */
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/roudi.toml", dir);
    FILE *f = fopen(cfg, "w");
    if (f == NULL || fputs(roudi_config, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "bench_iceoryx: cannot write %s: %s\n", cfg, strerror(errno));
        return -1;
    }
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGINT); /* a killed benchmark leaves no RouDi behind */
        dup2(2, 1); /* RouDi talks on stdout, which is for our JSON lines */
        execlp("iox-roudi", "iox-roudi", "-c", cfg, "-l", "warning", (char *)NULL);
        fprintf(stderr, "bench_iceoryx: cannot run iox-roudi: %s (scripts/deps.sh --iceoryx installs it)\n",
                strerror(errno));
        _exit(127);
    }
    for (int i = 0; i < 1000 && pid > 0; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return -1;
        if (access(ROUDI_SOCKET, F_OK) == 0) return pid;
        usleep(10000);
    }
    fprintf(stderr, "bench_iceoryx: RouDi did not come up in 10 s\n");
    if (pid > 0) kill(pid, SIGKILL);
    return -1;
}

typedef struct trial_s {
    const char *regime;
    int64_t rtt[NSIZES][NSTATS];
} trial_t;

static void report_rtt(const trial_t *tr, int ntrials, size_t samples)
{
    for (int g = 0; g < TP_BENCH_NREGIMES; g++) {
        const char *regime = tp_bench_regime_names[g];
        for (int k = 0; k < NSIZES; k++)
            for (int q = 0; q < NSTATS; q++) {
                int64_t col[MAX_TRIALS];
                int n = 0;
                for (int t = 0; t < ntrials; t++)
                    if (strcmp(tr[t].regime, regime) == 0) col[n++] = tr[t].rtt[k][q];
                if (n == 0) continue;
                printf("{\"name\":\"iceoryx_frame_rtt\",\"unit\":\"ns\",\"value\":%lld,\"stat\":\"%s\","
                       "\"frame_bytes\":%u,\"trials\":%d,\"regime\":\"%s\",\"samples\":%zu,\"anchor\":\"iceoryx "
                       ICEORYX_VERSION "\"}\n",
                       (long long)tp_bench_median_i64(col, n), stat_names[q], sizes[k], n, regime, samples);
            }
    }
}

static void report_throughput(const char *regime)
{
    for (int p = 0; p < NPOLICIES; p++) {
        const uint64_t sent = (uint64_t)BURSTS * BURST_FRAMES;
        printf("{\"name\":\"iceoryx_throughput\",\"unit\":\"frames/s\",\"value\":%.6g,\"frame_bytes\":%u,"
               "\"policy\":\"%s\",\"sent\":%llu,\"delivered\":%llu,\"lost\":%llu,\"publish_rate\":%.6g,"
               "\"regime\":\"%s\",\"anchor\":\"iceoryx " ICEORYX_VERSION "\"}\n",
               (double)shared->delivered[p] / ((double)shared->span_ns[p] / 1e9), BURST_BYTES, policy_names[p],
               (unsigned long long)sent, (unsigned long long)shared->delivered[p],
               (unsigned long long)(sent - shared->delivered[p]),
               (double)sent / ((double)shared->publish_ns[p] / 1e9), regime);
    }
}

int main(int argc, char **argv)
{
    int ntrials;
    size_t samples;
    const int bad_args = tp_bench_round_trip_args(argc, argv, "bench_iceoryx", MAX_TRIALS, &ntrials, &samples);
    if (bad_args != 0) return bad_args;
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char dir[] = "/tmp/tp-bench-iceoryx-XXXXXX";
    if (shared == MAP_FAILED || mkdtemp(dir) == NULL) return 1;
    const pid_t roudi = start_roudi(dir);
    if (roudi < 0) {
        rmdir(dir);
        return 1;
    }
    int ping_cmd[2], pong_cmd[2], done[2];
    if (pipe(ping_cmd) != 0 || pipe(pong_cmd) != 0 || pipe(done) != 0) return 1;
    const pid_t pinger = spawn_side(1, ping_cmd, done[1], samples);
    const pid_t ponger = spawn_side(0, pong_cmd, done[1], samples);
    close(done[1]); /* a side that dies ends the coordinator's read */
    const int cmd_fd[2] = {ping_cmd[1], pong_cmd[1]};
    trial_t tr[MAX_TRIALS];
    int rc = 0;
    for (int t = 0; t < ntrials && rc == 0; t++) {
        const int64_t before = tp_bench_placement_probe();
        for (int k = 0; k < NSIZES && rc == 0; k++) {
            rc = command(cmd_fd, done[0], (unsigned char)(CMD_RTT + k));
            memcpy(tr[t].rtt[k], shared->rtt[k], sizeof tr[t].rtt[k]);
        }
        const int64_t after = tp_bench_placement_probe();
        tr[t].regime = tp_bench_regime(before, after);
        if (rc == 0)
            fprintf(stderr, "bench_iceoryx: trial %d %s (probe %lld/%lld ns): p50 64B %lld 4KiB %lld 1MiB %lld;"
                    " p99.9 %lld %lld %lld\n", t, tr[t].regime, (long long)before, (long long)after,
                    (long long)tr[t].rtt[0][0], (long long)tr[t].rtt[1][0], (long long)tr[t].rtt[2][0],
                    (long long)tr[t].rtt[0][2], (long long)tr[t].rtt[1][2], (long long)tr[t].rtt[2][2]);
    }
    if (rc == 0) report_rtt(tr, ntrials, samples);
    if (rc == 0) {
        const int64_t before = tp_bench_placement_probe();
        for (int p = 0; p < NPOLICIES && rc == 0; p++) rc = command(cmd_fd, done[0], (unsigned char)(CMD_THROUGHPUT + p));
        const int64_t after = tp_bench_placement_probe();
        if (rc == 0) report_throughput(tp_bench_regime(before, after));
    }
    if (rc != 0) fprintf(stderr, "bench_iceoryx: a run failed\n");
    const unsigned char quit = CMD_QUIT;
    for (int i = 0; i < 2; i++) {
        if (write(cmd_fd[i], &quit, 1) != 1) rc = -1;
        close(cmd_fd[i]);
    }
    int st;
    if (waitpid(pinger, &st, 0) != pinger || !WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = -1;
    if (waitpid(ponger, &st, 0) != ponger || !WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = -1;
    kill(roudi, SIGINT); /* RouDi cleans its shared memory up on SIGINT */
    waitpid(roudi, NULL, 0);
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/roudi.toml", dir);
    unlink(cfg);
    rmdir(dir);
    return rc == 0 ? 0 : 1;
}
