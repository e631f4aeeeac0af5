/* Embedded IPC across threads (the ThreadSanitizer target): two publisher
 * threads, one of them using claims, and two subscriber threads, one driven by
 * an agent runner. Small logs make lapping happen; every delivered message
 * must be intact and in per-publisher order, and delivered + lost must add up. */
#include "ipc_test_util.h"
#include "tp_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "tensorpool/agent.h"
#include "tensorpool/clock.h"

static tp_ipc_context_t ctx;
enum { N = 200000, STREAM = 5 };

typedef struct {
    uint64_t next[2];
    int seen[2];
    uint64_t count[2];
    uint64_t bad;
    uint64_t last_seq[2];
} rx_t;

static void rx_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    rx_t *rx = clientd;
    uint32_t p;
    uint64_t seq;
    if (!tp_test_verify(buf, len, &p, &seq) || p >= 2 || seq != info->sequence) {
        rx->bad++;
        return;
    }
    if (rx->seen[p] && seq < rx->next[p]) rx->bad++;
    rx->seen[p] = 1;
    rx->next[p] = seq + 1;
    rx->last_seq[p] = seq;
    rx->count[p]++;
}

static _Atomic int publishers_done;
static _Atomic int subscribers_ready;

static void *publisher_main(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    tp_ipc_publication_t *pub;
    if (tp_ipc_publication_open(&pub, &ctx, tp_test_channel(), STREAM) < 0) return (void *)1;
    while (atomic_load(&subscribers_ready) < 2) sched_yield();
    uint8_t buf[256];
    for (uint64_t i = 0; i < N; i++) {
        size_t len = 16 + (size_t)(i % 100);
        if (id == 1) {
            tp_ipc_claim_t claim;
            int64_t end = tp_clock_monotonic_ns() + 20000000000LL; /* Aeron: retried while back-pressured */
            while (tp_ipc_publication_try_claim(pub, len, &claim) < 0)
                if (tp_test_channel_is_embedded() || tp_clock_monotonic_ns() > end) return (void *)2;
            tp_test_fill(buf, len, id, i);
            memcpy(claim.data, buf, len);
            tp_ipc_publication_commit(pub, &claim);
        } else {
            tp_test_fill(buf, len, id, i);
            /* tp:ipc never refuses (a slow reader is lapped and counts the
             * loss); Aeron refuses until connected and while back-pressured,
             * and loses nothing once accepted: retried. */
            int64_t end = tp_clock_monotonic_ns() + 20000000000LL;
            while (tp_ipc_publication_offer(pub, buf, len) < 0 && !tp_test_channel_is_embedded())
                if (tp_clock_monotonic_ns() > end) return (void *)3;
        }
        if (i % 1024 == 0) sched_yield(); /* let readers keep up some of the time */
    }
    atomic_fetch_add(&publishers_done, 1);
    tp_ipc_publication_close(pub);
    return NULL;
}

typedef struct {
    tp_ipc_subscription_t *sub;
    rx_t rx;
    int idle_polls_after_done;
    _Atomic int drained; /* set by the polling thread once idle after the publishers finished */
} sub_agent_t;

static int sub_work(void *state, const tp_cached_clock_t *clock)
{
    (void)clock;
    sub_agent_t *a = state;
    int n = tp_ipc_subscription_poll(a->sub, rx_handler, &a->rx, 128);
    if (n == 0 && atomic_load(&publishers_done) == 2 && ++a->idle_polls_after_done == 1000)
        atomic_store(&a->drained, 1);
    return n;
}

static void *subscriber_main(void *arg)
{
    sub_agent_t *a = arg;
    atomic_fetch_add(&subscribers_ready, 1);
    while (!atomic_load(&a->drained)) sub_work(a, NULL);
    return NULL;
}

static void check_rx(sub_agent_t *a)
{
    uint64_t delivered = a->rx.count[0] + a->rx.count[1];
    uint64_t loss = tp_ipc_subscription_loss_count(a->sub);
    printf("     delivered %llu, lost %llu\n", (unsigned long long)delivered, (unsigned long long)loss);
    CHECK_EQ_U64(a->rx.bad, 0);
    /* How much is delivered depends on scheduling (a loaded 2-CPU box may
     * starve a reader for a whole run), so only the invariants are checked. */
    /* Every message is either delivered (intact, in order) or counted lost. */
    CHECK_EQ_U64(delivered + loss, 2 * (uint64_t)N);
}

static void test_threads_publish_and_subscribe(void)
{
    ctx.log_capacity = 64 * 1024;
    ctx.max_message = 1024;
    sub_agent_t s1 = {0}, s2 = {0};
    CHECK(tp_ipc_subscription_open(&s1.sub, &ctx, tp_test_channel(), STREAM) == 0);
    CHECK(tp_ipc_subscription_open(&s2.sub, &ctx, tp_test_channel(), STREAM) == 0);

    pthread_t pubs[2], sub_thread;
    for (uintptr_t i = 0; i < 2; i++) pthread_create(&pubs[i], NULL, publisher_main, (void *)i);
    pthread_create(&sub_thread, NULL, subscriber_main, &s1);

    /* The second subscriber runs as an agent on a runner thread. */
    tp_agent_t agent = {.name = "ipc-sub", .state = &s2, .do_work = sub_work};
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 100, 10, 1000, 100000);
    tp_agent_runner_t runner;
    CHECK(tp_agent_runner_init(&runner, &agent, &idle) == 0);
    CHECK(tp_agent_runner_start(&runner) == 0);
    atomic_fetch_add(&subscribers_ready, 1);

    for (int i = 0; i < 2; i++) pthread_join(pubs[i], NULL);
    pthread_join(sub_thread, NULL);
    int64_t deadline = tp_clock_monotonic_ns() + 20000000000LL;
    while (!atomic_load(&s2.drained) && tp_clock_monotonic_ns() < deadline) sched_yield();
    CHECK(atomic_load(&s2.drained) == 1);
    CHECK(tp_agent_runner_stop(&runner) == 0);

    check_rx(&s1);
    check_rx(&s2);
    tp_ipc_subscription_close(s1.sub);
    tp_ipc_subscription_close(s2.sub);
}

int main(void)
{
    tp_test_dir_setup(&ctx);
    tp_test_transport_start(&ctx);
    RUN(test_threads_publish_and_subscribe);
    tp_test_transport_stop();
    tp_test_dir_cleanup();
    TP_TEST_END();
}
