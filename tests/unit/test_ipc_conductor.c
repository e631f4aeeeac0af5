/* The tp:ipc conductor thread (ipc_conductor.h): publications come, close
 * and die while a subscriber polls, and
 *  - the polling thread makes no syscall at all, across several rescan
 *    intervals, new publications and dropped ones (run under seccomp strict
 *    mode, where any syscall but read/write/exit kills the process);
 *  - every message of every publication arrives, in order, and the set of
 *    followed publications grows and shrinks as they come and go;
 *  - a publisher killed with SIGKILL is noticed and its log reclaimed;
 *  - after fork() a child gets its own conductor for its own subscriptions.
 * With --churn-only it runs only the churn test (the ThreadSanitizer target). */
#include "ipc_test_util.h"
#include "tp_test.h"

#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tensorpool/clock.h"

static tp_ipc_context_t ctx;
enum { STREAM = 7, PUBS = 3, PER_PUB = 400 };

/* What the polling thread saw. */
typedef struct {
    uint64_t count[PUBS];
    uint64_t next[PUBS];
    uint64_t bad;
    uint32_t max_images;
    uint32_t images_at_end;
    uint64_t polls;
} seen_t;

typedef struct {
    tp_ipc_subscription_t *sub;
    seen_t seen;
    _Atomic int stop;
    _Atomic uint64_t from_dead; /* messages of the publisher that is killed, for churn() to wait on */
    int strict; /* enter seccomp strict mode first */
    int fd;     /* strict: where to write seen_t before exiting */
} poller_t;

static void rx(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    seen_t *s = clientd;
    uint32_t p;
    uint64_t seq;
    if (!tp_test_verify(buf, len, &p, &seq) || p >= PUBS || seq != s->next[p] || info->sequence != seq) {
        s->bad++;
        return;
    }
    s->next[p] = seq + 1;
    s->count[p]++;
}

static void *poller_main(void *arg)
{
    poller_t *pl = arg;
    if (pl->strict && prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) return (void *)1;
    while (!atomic_load_explicit(&pl->stop, memory_order_acquire)) {
        tp_ipc_subscription_poll(pl->sub, rx, &pl->seen, 64);
        const uint32_t n = (uint32_t)tp_ipc_subscription_image_count(pl->sub);
        if (n > pl->seen.max_images) pl->seen.max_images = n;
        pl->seen.polls++;
        atomic_store_explicit(&pl->from_dead, pl->seen.count[2], memory_order_relaxed);
    }
    /* what is still on its way */
    for (int i = 0; i < 1000; i++) tp_ipc_subscription_poll(pl->sub, rx, &pl->seen, 64);
    pl->seen.images_at_end = (uint32_t)tp_ipc_subscription_image_count(pl->sub);
    if (pl->strict) {
        /* glibc's thread exit makes syscalls (munmap, futex): leave with the bare one */
        const ssize_t w = write(pl->fd, &pl->seen, sizeof pl->seen);
        syscall(SYS_exit, w == (ssize_t)sizeof pl->seen ? 0 : 1);
    }
    return NULL;
}

static void pause_ms(int ms)
{
    const struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void offer_all(tp_ipc_publication_t *pub, uint32_t id)
{
    uint8_t buf[128];
    for (uint64_t i = 0; i < PER_PUB; i++) {
        const size_t len = 16 + (size_t)(i % 100);
        tp_test_fill(buf, len, id, i);
        while (tp_ipc_publication_offer(pub, buf, len) == TP_IPC_BACK_PRESSURED) pause_ms(1);
        if (i % 50 == 0) pause_ms(2); /* spread over several conductor passes */
    }
}

/* Publications open, publish and close (one of them in a child killed with
 * SIGKILL) over ~6 rescan intervals while the poller thread polls. */
static void churn(poller_t *pl)
{
    tp_ipc_publication_t *p0, *p1;
    if (tp_ipc_publication_open(&p0, &ctx, "tp:ipc?lossless=true", STREAM) != 0) exit(10);
    offer_all(p0, 0);
    pause_ms(150);
    if (tp_ipc_publication_open(&p1, &ctx, "tp:ipc?lossless=true", STREAM) != 0) exit(11);
    offer_all(p1, 1);
    tp_ipc_publication_close(p0); /* linger 0: dropped once drained */
    pause_ms(150);
    const pid_t kid = fork();
    if (kid == 0) {
        tp_ipc_publication_t *p2;
        if (tp_ipc_publication_open(&p2, &ctx, "tp:ipc?lossless=true", STREAM) != 0) _exit(12);
        offer_all(p2, 2);
        for (;;) pause(); /* killed: never closes */
    }
    /* until the poller has everything from the dead one */
    for (int i = 0; i < 5000 && atomic_load_explicit(&pl->from_dead, memory_order_relaxed) < PER_PUB; i++)
        pause_ms(1);
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    pause_ms(400); /* four rescan intervals: the dead one is dropped */
    tp_ipc_publication_close(p1);
    pause_ms(300);
    atomic_store_explicit(&pl->stop, 1, memory_order_release);
}

static void check_seen(const seen_t *s)
{
    CHECK_EQ_U64(s->bad, 0);
    for (int p = 0; p < PUBS; p++) CHECK_EQ_U64(s->count[p], PER_PUB);
    CHECK(s->max_images >= 2);
    CHECK_EQ_U64(s->images_at_end, 0);
    CHECK(s->polls > 1000);
}

static void test_poll_makes_no_syscall(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        static poller_t pl;
        if (tp_ipc_subscription_open(&pl.sub, &ctx, "tp:ipc", STREAM) != 0) _exit(2);
        pl.strict = 1;
        pl.fd = fds[1];
        pthread_t t;
        if (pthread_create(&t, NULL, poller_main, &pl) != 0) _exit(3);
        churn(&pl);
        pthread_join(t, NULL);
        _exit(0);
    }
    close(fds[1]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) fprintf(stderr, "killed by signal %d: the polling thread made a syscall?\n", WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seen_t s;
    memset(&s, 0, sizeof s);
    CHECK(read(fds[0], &s, sizeof s) == (ssize_t)sizeof s);
    close(fds[0]);
    printf("  %llu polls under seccomp; messages %llu/%llu/%llu; images max %u, at end %u\n",
           (unsigned long long)s.polls, (unsigned long long)s.count[0], (unsigned long long)s.count[1],
           (unsigned long long)s.count[2], s.max_images, s.images_at_end);
    check_seen(&s);
}

/* The same churn without seccomp, in this process (ThreadSanitizer sees the
 * hand-over between the conductor and the poller). */
static void test_churn_threads(void)
{
    static poller_t pl;
    memset(&pl, 0, sizeof pl);
    CHECK(tp_ipc_subscription_open(&pl.sub, &ctx, "tp:ipc", STREAM) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, poller_main, &pl) == 0);
    churn(&pl);
    pthread_join(t, NULL);
    check_seen(&pl.seen);
    tp_ipc_subscription_close(pl.sub);
}

/* The child's half of test_fork_child_has_a_conductor: open a subscription
 * and a publication of its own and receive one message. 0 when it did. */
static int child_receives(int32_t stream)
{
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    if (tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", stream) != 0) return 2;
    if (tp_ipc_publication_open(&pub, &ctx, "tp:ipc", stream) != 0) return 3;
    uint8_t buf[32];
    tp_test_fill(buf, sizeof buf, 0, 0);
    if (tp_ipc_publication_offer(pub, buf, sizeof buf) <= 0) return 4;
    seen_t s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 10000 && s.count[0] == 0; i++) {
        tp_ipc_subscription_poll(sub, rx, &s, 8);
        pause_ms(1);
    }
    return s.count[0] == 1 && s.bad == 0 ? 0 : 5;
}

/* A child that opens its own subscription after fork() has a conductor: it
 * finds a publication opened after it. Twenty times, each time forking right
 * after the parent's first subscription started the parent's conductor. A
 * fork while that thread was still starting up once left the child's
 * allocator lock held under ASan (test_ipc_multiprocess hung in 4 of 22
 * runs here); open now waits for the thread to be up. The window is
 * microseconds, so this loop only rarely hit it: test_ipc_multiprocess
 * under ASan is the one that showed it. */
static void test_fork_child_has_a_conductor(void)
{
    int ok = 0;
    for (int round = 0; round < 20; round++) {
        fflush(NULL);
        const pid_t parent = fork();
        if (parent == 0) {
            tp_ipc_subscription_t *first; /* starts this process's conductor */
            if (tp_ipc_subscription_open(&first, &ctx, "tp:ipc", STREAM + 2) != 0) _exit(6);
            const pid_t kid = fork();
            if (kid == 0) _exit(child_receives(STREAM + 3 + round));
            int st = 0;
            if (waitpid(kid, &st, 0) != kid) _exit(7);
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 8);
        }
        int status = 0;
        CHECK(waitpid(parent, &status, 0) == parent);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++;
        else fprintf(stderr, "round %d: status %d\n", round, status);
    }
    CHECK_EQ_I64(ok, 20);
}

int main(int argc, char **argv)
{
    tp_test_dir_setup(&ctx);
    ctx.rescan_interval_ns = 100000000LL; /* 100 ms */
    ctx.linger_ns = 0;
    ctx.log_capacity = 64 * 1024;
    ctx.max_message = 1024;
    const int churn_only = argc > 1 && strcmp(argv[1], "--churn-only") == 0;
    if (!churn_only) RUN(test_poll_makes_no_syscall);
    RUN(test_churn_threads);
    if (!churn_only) RUN(test_fork_child_has_a_conductor);
    tp_test_dir_cleanup();
    TP_TEST_END();
}
