/* IPC across real processes: several publishers and subscribers,
 * publishers killed with SIGKILL (inside a claim and at random points), and
 * reclaim of dead publishers' logs. Runs once per transport (TP_TEST_CHANNEL,
 * ipc.cmake): on Aeron the publishers retry while back-pressured, and what is
 * tp:ipc's own (its log files, publisher pids) is checked on tp:ipc only. */
#include "ipc_test_util.h"
#include "tp_test.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <time.h>

#include "ipc/ipc_log_file.h"
#include "tensorpool/clock.h"

static tp_ipc_context_t ctx;
static const char *CH; /* channel under test */

enum { MAXPUB = 8 };

typedef struct {
    uint64_t count[MAXPUB];
    uint64_t next[MAXPUB];
    int seen[MAXPUB];
    int32_t pid[MAXPUB]; /* publisher_pid of publisher p's messages (-1 if they disagreed) */
    uint64_t total;
    uint64_t bad;
    uint64_t gaps;
} rx_t;

static void rx_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    rx_t *rx = clientd;
    uint32_t p;
    uint64_t seq;
    if (!tp_test_verify(buf, len, &p, &seq) || p >= MAXPUB || seq != info->sequence) {
        rx->bad++;
        return;
    }
    if (rx->seen[p] && seq != rx->next[p]) {
        if (seq > rx->next[p])
            rx->gaps++;
        else
            rx->bad++; /* out of order or duplicate */
    }
    if (!rx->seen[p])
        rx->pid[p] = info->publisher_pid;
    else if (rx->pid[p] != info->publisher_pid)
        rx->pid[p] = -1;
    rx->seen[p] = 1;
    rx->next[p] = seq + 1;
    rx->count[p]++;
    rx->total++;
}

/* Poll until want messages arrived or timeout; returns messages received. */
static uint64_t poll_until(tp_ipc_subscription_t *sub, rx_t *rx, uint64_t want, int64_t timeout_ms)
{
    int64_t deadline = tp_clock_monotonic_ns() + timeout_ms * 1000000LL;
    while (rx->total < want && tp_clock_monotonic_ns() < deadline) {
        if (tp_ipc_subscription_poll(sub, rx_handler, rx, 256) == 0) sched_yield();
    }
    return rx->total;
}

static void publish_n(uint32_t pubi, int32_t stream, uint64_t n)
{
    tp_ipc_publication_t *pub;
    if (tp_ipc_publication_open(&pub, &ctx, CH, stream) < 0) _exit(10);
    uint8_t buf[512];
    for (uint64_t i = 0; i < n; i++) {
        size_t len = 16 + (size_t)((i * 13 + pubi) % 240);
        tp_test_fill(buf, len, pubi, i);
        if (tp_test_offer_when_connected(pub, buf, len) < 0) _exit(11);
    }
    tp_ipc_publication_close(pub);
}

static int wait_ok(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_many_publishers_many_processes(void)
{
    enum { NPUB = 3, N = 20000, STREAM = 100 };
    tp_ipc_context_t saved = ctx;
    ctx.log_capacity = 8u << 20; /* holds a whole run: no loss is allowed here */
    tp_ipc_subscription_t *sub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, CH, STREAM) == 0);

    /* A second subscriber in its own process; reports through a pipe. */
    int ready[2], result[2];
    CHECK(pipe(ready) == 0 && pipe(result) == 0);
    pid_t subpid = fork();
    if (subpid == 0) {
        tp_ipc_subscription_t *s2;
        if (tp_ipc_subscription_open(&s2, &ctx, CH, STREAM) < 0) _exit(20);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1) _exit(21);
        rx_t rx2;
        memset(&rx2, 0, sizeof rx2);
        poll_until(s2, &rx2, (uint64_t)NPUB * N, 60000);
        uint64_t out[4] = {rx2.total, rx2.bad, rx2.gaps, tp_ipc_subscription_loss_count(s2)};
        if (write(result[1], out, sizeof out) != (ssize_t)sizeof out) _exit(22);
        tp_ipc_subscription_close(s2);
        _exit(0);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);

    pid_t pubs[NPUB];
    for (int i = 0; i < NPUB; i++) {
        pubs[i] = fork();
        if (pubs[i] == 0) {
            publish_n((uint32_t)i, STREAM, N);
            _exit(0);
        }
    }
    rx_t rx;
    memset(&rx, 0, sizeof rx);
    poll_until(sub, &rx, (uint64_t)NPUB * N, 60000);
    for (int i = 0; i < NPUB; i++) CHECK(wait_ok(pubs[i]));
    CHECK_EQ_U64(rx.total, (uint64_t)NPUB * N);
    CHECK_EQ_U64(rx.bad, 0);
    CHECK_EQ_U64(rx.gaps, 0);
    for (int i = 0; i < NPUB; i++) CHECK_EQ_U64(rx.count[i], N);
    /* tp:ipc: every message names the process that published it; Aeron
     * does not say (publisher_pid 0), the content tells the publishers apart */
    for (int i = 0; i < NPUB; i++)
        CHECK_EQ_U64((uint64_t)rx.pid[i], tp_test_channel_is_embedded() ? (uint64_t)pubs[i] : 0);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 0);

    uint64_t out[4] = {0};
    CHECK(read(result[0], out, sizeof out) == (ssize_t)sizeof out);
    CHECK(wait_ok(subpid));
    CHECK_EQ_U64(out[0], (uint64_t)NPUB * N);
    CHECK_EQ_U64(out[1], 0);
    CHECK_EQ_U64(out[2], 0);
    CHECK_EQ_U64(out[3], 0);
    close(ready[0]);
    close(ready[1]);
    close(result[0]);
    close(result[1]);
    tp_ipc_subscription_close(sub);
    ctx = saved;
}

static int count_logs_of_pid(int pid)
{
    char dir[PATH_MAX];
    if (tp_ipc_context_dir(&ctx, dir, sizeof dir) < 0) return -1;
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    tp_ipc_log_name_t ln;
    while ((e = readdir(d)) != NULL)
        if (tp_ipc_log_name_parse(e->d_name, &ln) == 0 && ln.pid == pid) n++;
    closedir(d);
    return n;
}

/* A publisher stopped inside a claim (half a message written) is killed. */
static void test_sigkill_inside_claim(void)
{
    enum { STREAM = 101 };
    tp_ipc_context_t saved = ctx;
    ctx.rescan_interval_ns = 1000000; /* notice the death quickly */
    ctx.linger_ns = 200000000;        /* dead logs linger 200 ms, then go */
    tp_ipc_subscription_t *sub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, CH, STREAM) == 0);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t victim = fork();
    if (victim == 0) {
        tp_ipc_publication_t *pub;
        if (tp_ipc_publication_open(&pub, &ctx, CH, STREAM) < 0) _exit(10);
        uint8_t buf[256];
        for (uint64_t i = 0; i < 100; i++) {
            tp_test_fill(buf, 64, 0, i);
            if (tp_test_offer_when_connected(pub, buf, 64) < 0) _exit(13);
        }
        tp_ipc_claim_t claim;
        if (tp_ipc_publication_try_claim(pub, 200, &claim) < 0) _exit(11);
        tp_test_fill(buf, 200, 0, 100);
        memcpy(claim.data, buf, 100); /* half written, never committed */
        char c = 'r';
        if (write(ready[1], &c, 1) != 1) _exit(12);
        for (;;) pause();
    }
    CHECK(victim > 0);
    if (victim <= 0) return; /* never kill(-1, ...) */
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    /* Follow the victim before it dies (a log nobody followed is simply reclaimed). */
    rx_t rx;
    memset(&rx, 0, sizeof rx);
    poll_until(sub, &rx, 100, 20000);
    CHECK_EQ_U64(rx.count[0], 100);
    kill(victim, SIGKILL);
    int status;
    CHECK(waitpid(victim, &status, 0) == victim);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* Another publisher, in another process, is not blocked by the dead one. */
    pid_t other = fork();
    if (other == 0) {
        publish_n(1, STREAM, 100);
        _exit(0);
    }
    CHECK(wait_ok(other));
    poll_until(sub, &rx, 200, 20000);
    CHECK_EQ_U64(rx.count[0], 100); /* all committed, nothing of the torn claim */
    CHECK_EQ_U64(rx.count[1], 100);
    CHECK_EQ_U64(rx.bad, 0);
    CHECK_EQ_U64(rx.gaps, 0);
    CHECK(poll_until(sub, &rx, 201, 50) == 200); /* and nothing more arrives */

    /* tp:ipc: the dead publisher's log is reclaimed by the subscription
     * (Aeron's media driver owns its logs and reclaims them itself). */
    int64_t deadline = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_test_channel_is_embedded() && count_logs_of_pid(victim) != 0 && tp_clock_monotonic_ns() < deadline) {
        tp_ipc_subscription_poll(sub, rx_handler, &rx, 16);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (tp_test_channel_is_embedded()) CHECK_EQ_I64(count_logs_of_pid(victim), 0);
    close(ready[0]);
    close(ready[1]);
    tp_ipc_subscription_close(sub);
    ctx = saved;
}

/* Kill publishers at arbitrary points while they offer: readers never see a
 * torn record, never stall, and every message the victim committed is either
 * delivered or counted lost. */
static void test_sigkill_at_random_points(void)
{
    enum { STREAM = 102, ROUNDS = 8 };
    tp_ipc_context_t saved = ctx;
    ctx.max_message = 1024;
    void *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared != MAP_FAILED);
    _Atomic uint64_t *committed = shared;
    tp_ipc_subscription_t *sub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, CH, STREAM) == 0);
    srand(12345);
    rx_t rx;
    memset(&rx, 0, sizeof rx);
    for (int round = 0; round < ROUNDS; round++) {
        uint32_t pubi = (uint32_t)(round % MAXPUB);
        atomic_store(committed, 0);
        int ready[2];
        CHECK(pipe(ready) == 0);
        pid_t victim = fork();
        if (victim == 0) {
            tp_ipc_publication_t *pub;
            if (tp_ipc_publication_open(&pub, &ctx, CH, STREAM) < 0) _exit(10);
            char c = 'r';
            if (write(ready[1], &c, 1) != 1) _exit(12);
            uint8_t buf[1024];
            for (uint64_t i = 0;; i++) {
                size_t len = 16 + (size_t)(i * 31 % 1000);
                tp_test_fill(buf, len, pubi, i);
                /* tp:ipc takes it (or laps the reader: counted lost); Aeron
                 * back-pressures until the reader catches up */
                if (tp_test_offer_when_connected(pub, buf, len) < 0) _exit(11);
                atomic_store_explicit(committed, i + 1, memory_order_release);
                if (i % 64 == 63) sched_yield(); /* leave the reader some CPU on small boxes */
            }
        }
        CHECK(victim > 0);
        if (victim <= 0) break; /* never kill(-1, ...) */
        char c;
        CHECK(read(ready[0], &c, 1) == 1);
        uint64_t loss_before = tp_ipc_subscription_loss_count(sub);
        rx.seen[pubi] = 0;
        rx.count[pubi] = 0;
        /* let it get going, then kill it at a random moment */
        int64_t until = tp_clock_monotonic_ns() + 20000000000LL;
        /* wait until this publisher's log is found and delivering, so a
         * loaded box cannot turn the whole round into lapped loss */
        while ((atomic_load(committed) == 0 || rx.count[pubi] == 0) && tp_clock_monotonic_ns() < until)
            tp_ipc_subscription_poll(sub, rx_handler, &rx, 64);
        CHECK(rx.count[pubi] > 0);
        until = tp_clock_monotonic_ns() + (rand() % 20) * 1000000LL + rand() % 1000000;
        while (tp_clock_monotonic_ns() < until) tp_ipc_subscription_poll(sub, rx_handler, &rx, 64);
        kill(victim, SIGKILL);
        waitpid(victim, NULL, 0);
        uint64_t done = atomic_load(committed);
        /* drain what is left; it must end (no waiting on the dead writer) */
        for (int i = 0; i < 1000; i++) tp_ipc_subscription_poll(sub, rx_handler, &rx, 256);
        uint64_t accounted = rx.count[pubi] + tp_ipc_subscription_loss_count(sub) - loss_before;
        /* the kill may land between a completed offer and the counter store */
        CHECK(accounted == done || accounted == done + 1);
        CHECK(done > 0);
        close(ready[0]);
        close(ready[1]);
    }
    CHECK(rx.total > 0);
    CHECK_EQ_U64(rx.bad, 0);
    tp_ipc_subscription_close(sub);
    munmap(shared, 4096);
    ctx = saved;
}

/* A publisher that exits without closing: a subscription still drains what
 * it published. tp:ipc: its temp file goes at once, its log is marked closed
 * and lingers (a subscription that finds it late still drains it), then it
 * is deleted; live logs are never touched. (Aeron's media driver owns and
 * reclaims its logs: there only the drain is ours to check.) */
static void test_reclaim_dead_logs(void)
{
    enum { STREAM = 103 };
    tp_ipc_context_t saved = ctx;
    /* "still lingering" must not depend on how fast this runs: linger an hour
     * here, and reclaim with linger 0 below when deletion is the point */
    ctx.linger_ns = 3600LL * 1000000000LL;
    tp_ipc_subscription_t *sub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, CH, STREAM) == 0);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        publish_n(2, STREAM + 1, 0); /* touch another stream too */
        tp_ipc_publication_t *pub;
        if (tp_ipc_publication_open(&pub, &ctx, CH, STREAM) < 0) _exit(10);
        uint8_t buf[64];
        for (uint64_t i = 0; i < 10; i++) {
            tp_test_fill(buf, sizeof buf, 3, i);
            if (tp_test_offer_when_connected(pub, buf, sizeof buf) < 0) _exit(14);
        }
        char c = 'r';
        if (!tp_test_channel_is_embedded()) {
            if (write(ready[1], &c, 1) != 1) _exit(13);
            _exit(0); /* no close: as good as dead */
        }
        /* also leave a temp file, as if killed while creating a log */
        char dir[PATH_MAX], path[PATH_MAX + 100];
        uint64_t st;
        if (tp_ipc_context_dir(&ctx, dir, sizeof dir) < 0 || tp_ipc_self_start_time(&st) < 0) _exit(11);
        snprintf(path, sizeof path, "%s/.tmp-%d-%llu-77", dir, (int)getpid(), (unsigned long long)st);
        FILE *f = fopen(path, "w");
        if (f == NULL) _exit(12);
        fclose(f);
        if (write(ready[1], &c, 1) != 1) _exit(13);
        _exit(0); /* no close: as good as dead */
    }
    CHECK(child > 0);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK(wait_ok(child));
    if (!tp_test_channel_is_embedded()) {
        rx_t rx;
        memset(&rx, 0, sizeof rx);
        poll_until(sub, &rx, 10, 20000);
        CHECK_EQ_U64(rx.count[3], 10);
        CHECK_EQ_U64(rx.bad, 0);
        CHECK_EQ_U64(rx.gaps, 0);
        tp_ipc_subscription_close(sub);
        close(ready[0]);
        close(ready[1]);
        ctx = saved;
        return;
    }
    CHECK_EQ_I64(count_logs_of_pid(child), 3); /* two logs + temp file */
    /* Opening a publication reclaims: the temp file is deleted, the dead
     * publisher's log is marked closed and lingers. */
    tp_ipc_publication_t *mine;
    CHECK(tp_ipc_publication_open(&mine, &ctx, CH, STREAM) == 0);
    CHECK_EQ_I64(count_logs_of_pid(child), 2);
    /* The subscription had not polled yet: it still gets all ten messages. */
    rx_t rx;
    memset(&rx, 0, sizeof rx);
    poll_until(sub, &rx, 10, 20000);
    CHECK_EQ_U64(rx.count[3], 10);
    CHECK_EQ_U64(rx.bad, 0);
    CHECK(tp_ipc_reclaim(&ctx) >= 0);
    CHECK_EQ_I64(count_logs_of_pid(child), 2); /* still lingering */
    tp_ipc_context_t now = ctx;
    now.linger_ns = 0;
    CHECK(tp_ipc_reclaim(&now) >= 2); /* plus closed logs left by earlier tests */
    CHECK_EQ_I64(count_logs_of_pid(child), 0);
    CHECK_EQ_I64(count_logs_of_pid((int)getpid()), 1); /* the live one stays */
    CHECK_EQ_I64(tp_ipc_reclaim(&now), 0);
    tp_ipc_publication_close(mine);
    tp_ipc_subscription_close(sub);
    close(ready[0]);
    close(ready[1]);
    ctx = saved;
}

int main(void)
{
    tp_test_dir_setup(&ctx);
    tp_test_transport_start(&ctx);
    CH = tp_test_channel();
    fprintf(stderr, "channel under test: %s\n", CH);
    RUN(test_many_publishers_many_processes);
    RUN(test_sigkill_inside_claim);
    RUN(test_sigkill_at_random_points);
    RUN(test_reclaim_dead_logs);
    tp_test_transport_stop();
    tp_test_dir_cleanup();
    TP_TEST_END();
}
