/* The tp:ipc doorbell (src/ipc/ipc_doorbell.h): a process armed on a stream
 * sleeps until a message of a waking publication (tp:ipc?wake=true) rings,
 * never misses one published while it arms, is not woken by ordinary
 * publications, and a forged sleeper count does not break its bookkeeping. */
#include "ipc_test_util.h"
#include "tp_test.h"

#include "tensorpool/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "ipc/ipc_doorbell.h"
#include "ipc/ipc_embedded.h"

static tp_ipc_context_t ctx;
enum { STREAM = 31 };

static int64_t ms_since(int64_t t0) { return (tp_clock_monotonic_ns() - t0) / 1000000; }

static void test_channel_parameter(void)
{
    tp_ipc_embedded_channel_t c;
    CHECK(tp_ipc_embedded_channel_parse("tp:ipc", &c) == 0 && !c.wake);
    CHECK(tp_ipc_embedded_channel_parse("tp:ipc?wake=true", &c) == 0 && c.wake);
    CHECK(tp_ipc_embedded_channel_parse("tp:ipc?lossless=true|wake=true", &c) == 0 && c.wake && c.lossless);
    CHECK(tp_ipc_embedded_channel_parse("tp:ipc?wake=true|wake=false", &c) == 0 && !c.wake);
    CHECK(tp_ipc_embedded_channel_parse("tp:ipc?wake=yes", &c) == -1);
    CHECK(tp_ipc_embedded_channel_parse("tp:ipc?wake=", &c) == -1);
    /* what requests to the driver are published on */
    char buf[64];
    CHECK_STR(tp_ipc_waking_channel(buf, sizeof buf, "tp:ipc"), "tp:ipc?wake=true");
    CHECK_STR(tp_ipc_waking_channel(buf, sizeof buf, "tp:ipc?lossless=true"), "tp:ipc?lossless=true|wake=true");
    const char *other[] = {"aeron:ipc", "tp:ipcx", "tp:ipc?lossless=true|stall-ms=100000|and-more-than-fits"};
    for (int i = 0; i < 3; i++) CHECK(tp_ipc_waking_channel(buf, 40, other[i]) == other[i]);
    tp_ipc_doorbell_t *db = (tp_ipc_doorbell_t *)buf; /* not tp:ipc: no doorbell, and no error */
    CHECK(tp_ipc_doorbell_open(&db, &ctx, "aeron:ipc", STREAM) == 0 && db == NULL);
    tp_ipc_doorbell_disarm(NULL);
}

typedef struct {
    tp_ipc_publication_t *pub;
    int64_t delay_ns;
} late_offer_t;

static void *offer_later(void *arg)
{
    late_offer_t *l = arg;
    tp_test_sleep_ns(l->delay_ns);
    uint8_t m[16] = {1};
    CHECK(tp_ipc_publication_offer(l->pub, m, sizeof m) > 0);
    return NULL;
}

/* Armed and asleep for up to 5 s: a waking publication's message 100 ms
 * later ends the sleep; an ordinary one's does not. */
static void test_waking_offer_ends_the_sleep(void)
{
    tp_ipc_doorbell_t *db;
    tp_ipc_publication_t *waking, *plain;
    CHECK(tp_ipc_doorbell_open(&db, &ctx, "tp:ipc", STREAM) == 0);
    CHECK(tp_ipc_publication_open(&waking, &ctx, "tp:ipc?wake=true", STREAM) == 0);
    CHECK(tp_ipc_publication_open(&plain, &ctx, "tp:ipc", STREAM) == 0);
    uint32_t seen = tp_ipc_doorbell_arm(db);
    CHECK(tp_ipc_doorbell_armed(db));
    pthread_t t;
    late_offer_t l = {waking, 100000000};
    CHECK(pthread_create(&t, NULL, offer_later, &l) == 0);
    int64_t t0 = tp_clock_monotonic_ns();
    seen = tp_ipc_doorbell_sleep(db, seen, 5000000000LL);
    const int64_t woke_ms = ms_since(t0);
    pthread_join(t, NULL);
    CHECK(woke_ms >= 50 && woke_ms < 2500);
    /* an ordinary publication: the sleep runs to its end */
    l.pub = plain;
    CHECK(pthread_create(&t, NULL, offer_later, &l) == 0);
    t0 = tp_clock_monotonic_ns();
    seen = tp_ipc_doorbell_sleep(db, seen, 400000000LL);
    const int64_t slept_ms = ms_since(t0);
    pthread_join(t, NULL);
    CHECK(slept_ms >= 350);
    /* disarmed: a waking message leaves the ring alone */
    tp_ipc_doorbell_disarm(db);
    CHECK(!tp_ipc_doorbell_armed(db));
    uint8_t m[16] = {2};
    CHECK(tp_ipc_publication_offer(waking, m, sizeof m) > 0);
    CHECK(tp_ipc_doorbell_sleep(db, seen, 0) == seen);
    tp_ipc_publication_close(plain);
    tp_ipc_publication_close(waking);
    tp_ipc_doorbell_close(db);
}

/* A message published between arming and sleeping (the sleeper's last poll
 * missed it) rings: the sleep returns at once instead of after 5 s. */
static void test_no_lost_wakeup(void)
{
    tp_ipc_doorbell_t *db;
    tp_ipc_publication_t *waking;
    CHECK(tp_ipc_doorbell_open(&db, &ctx, "tp:ipc", STREAM) == 0);
    CHECK(tp_ipc_publication_open(&waking, &ctx, "tp:ipc?wake=true", STREAM) == 0);
    for (int i = 0; i < 20; i++) {
        const uint32_t seen = tp_ipc_doorbell_arm(db);
        uint8_t m[16] = {3};
        CHECK(tp_ipc_publication_offer(waking, m, sizeof m) > 0);
        const int64_t t0 = tp_clock_monotonic_ns();
        CHECK(tp_ipc_doorbell_sleep(db, seen, 5000000000LL) != seen);
        CHECK(ms_since(t0) < 1000);
        tp_ipc_doorbell_disarm(db);
    }
    tp_ipc_publication_close(waking);
    tp_ipc_doorbell_close(db);
}

/* Someone zeroes the sleepers while we are armed: disarming leaves 0, not
 * a wrapped count that would make every waking offer a futex wake; and a
 * forged count only makes waking offers ring (sleepers end early). */
static void test_forged_counts(void)
{
    tp_ipc_doorbell_t *db;
    CHECK(tp_ipc_doorbell_open(&db, &ctx, "tp:ipc", STREAM) == 0);
    int dirfd = tp_ipc_dir_open_ctx(&ctx, 0);
    CHECK(dirfd >= 0);
    tp_ipc_index_t *ix;
    CHECK(tp_ipc_index_open(dirfd, &ix) == 0);
    (void)tp_ipc_doorbell_arm(db);
    CHECK(atomic_load(&ix->sleepers[STREAM % TP_IPC_DOORBELL_SLOTS]) >= 1);
    atomic_store(&ix->sleepers[STREAM % TP_IPC_DOORBELL_SLOTS], 0);
    tp_ipc_doorbell_disarm(db);
    CHECK_EQ_U64(atomic_load(&ix->sleepers[STREAM % TP_IPC_DOORBELL_SLOTS]), 0);
    atomic_store(&ix->sleepers[STREAM % TP_IPC_DOORBELL_SLOTS], 1000000);
    const uint32_t ring = atomic_load(&ix->ring);
    tp_ipc_doorbell_ring(ix, STREAM);
    CHECK(atomic_load(&ix->ring) == ring + 1);
    atomic_store(&ix->sleepers[STREAM % TP_IPC_DOORBELL_SLOTS], 0);
    tp_ipc_doorbell_ring(ix, STREAM);
    CHECK(atomic_load(&ix->ring) == ring + 1);
    tp_ipc_index_close(ix);
    close(dirfd);
    tp_ipc_doorbell_close(db);
}

int main(void)
{
    tp_test_dir_setup(&ctx);
    RUN(test_channel_parameter);
    RUN(test_waking_offer_ends_the_sleep);
    RUN(test_no_lost_wakeup);
    RUN(test_forged_counts);
    tp_test_dir_cleanup();
    TP_TEST_END();
}
