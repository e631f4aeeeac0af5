/* No allocation in offer, claim/commit and poll after set-up, including
 * lapping (tp:ipc) or back-pressure (Aeron), rescans caused by new
 * publications, and image drops. Runs once per transport (TP_TEST_CHANNEL);
 * allocations on every thread count: tp:ipc's conductor thread and Aeron's
 * client and media driver threads included. */
#include "alloc_count.h"
#include "ipc_test_util.h"
#include "tp_test.h"
#include "util/fault_guard.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>

static tp_ipc_context_t ctx;

static void count_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)buf;
    (void)len;
    (void)info;
    (*(uint64_t *)clientd)++;
}

static void test_hot_paths_do_not_allocate(void)
{
    ctx.log_capacity = 64 * 1024;
    ctx.max_message = 4096;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub, *pub2, *pub3;
    const char *ch = tp_test_channel();
    CHECK(tp_ipc_subscription_open(&sub, &ctx, ch, 1) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, ch, 1) == 0);
    CHECK(tp_ipc_publication_open(&pub2, &ctx, ch, 1) == 0);
    CHECK(tp_ipc_publication_open(&pub3, &ctx, ch, 1) == 0);
    CHECK(tp_test_await_images(sub, 3));
    uint8_t buf[4096];
    memset(buf, 7, sizeof buf);
    uint64_t got = 0;

    uint64_t a0 = tp_alloc_count(), f0 = tp_free_count();
    for (int i = 0; i < 100000; i++) {
        CHECK(tp_test_offer(pub, buf, (size_t)(i % 200)) > 0);
        if (i % 2 == 0) {
            tp_ipc_claim_t claim;
            int rc, tries = 0; /* retried while back-pressured, as tp_test_offer */
            while ((rc = tp_ipc_publication_try_claim(pub2, 64, &claim)) < 0 && tp_errcode() == TP_ERR_CAPACITY &&
                   tries++ < 50000) {
                const struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
            }
            CHECK(rc == 0);
            memset(claim.data, 1, 64);
            if (i % 4 == 0)
                CHECK(tp_ipc_publication_commit(pub2, &claim) > 0);
            else
                CHECK(tp_ipc_publication_abort(pub2, &claim) == 0);
        }
        if (i % 10 == 0) tp_ipc_subscription_poll(sub, count_handler, &got, 100);
    }
    /* lapping (tp:ipc) or back-pressure (Aeron): far more than a log's
     * worth without polling */
    int refused = 0;
    for (int i = 0; i < 50000; i++) refused += tp_ipc_publication_offer(pub, buf, 100) < 0;
    while (tp_ipc_subscription_poll(sub, count_handler, &got, 100) > 0) {
    }
    /* refused oversize offer sets an error without allocating */
    CHECK(tp_ipc_publication_offer(pub, buf, 5000) == -1);
    /* a publication closing makes the subscription rescan (no allocation) */
    const uint64_t a_close = tp_alloc_count(), f_close = tp_free_count();
    tp_ipc_publication_close(pub3); /* frees pub3 (and, for Aeron, its channel name): not hot */
    const uint64_t allocs_by_close = tp_alloc_count() - a_close, frees_by_close = tp_free_count() - f_close;
    CHECK(frees_by_close >= 1);
    for (int i = 0; i < 10; i++) tp_ipc_subscription_poll(sub, count_handler, &got, 100);
    uint64_t a1 = tp_alloc_count(), f1 = tp_free_count();

    CHECK(got > 50000);
    if (tp_test_channel_is_embedded())
        CHECK(tp_ipc_subscription_loss_count(sub) > 0);
    else
        CHECK(refused > 0 && tp_ipc_subscription_loss_count(sub) == 0);
    CHECK_EQ_U64(a1 - a0, allocs_by_close);
    CHECK_EQ_U64(f1 - f0, frees_by_close);
    tp_ipc_publication_close(pub);
    tp_ipc_publication_close(pub2);
    tp_ipc_subscription_close(sub);
}

/* Someone truncates a publication's log: the faulting offer is caught, the
 * next offers re-create the log, the subscription drops the old image and
 * reads the new one, all without allocating. */
static void test_truncated_log_recovers_without_allocating(void)
{
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", 2) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 2) == 0);
    CHECK(tp_test_await_images(sub, 1));
    char dir[PATH_MAX], path[PATH_MAX + 300] = "";
    CHECK(tp_ipc_context_dir(&ctx, dir, sizeof dir) == 0);
    DIR *d = opendir(dir);
    for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL; e = readdir(d))
        if (strncmp(e->d_name, "2-", 2) == 0) snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (d != NULL) closedir(d);
    const int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    uint8_t buf[256];
    memset(buf, 3, sizeof buf);
    uint64_t before = 0, after = 0;
    for (int i = 0; i < 10; i++) CHECK(tp_ipc_publication_offer(pub, buf, sizeof buf) > 0);
    while (tp_ipc_subscription_poll(sub, count_handler, &before, 100) > 0) {
    }

    const uint64_t a0 = tp_alloc_count(), faults0 = tp_fault_guard_count();
    CHECK(ftruncate(fd, 0) == 0);
    for (int i = 0; i < 100; i++) {
        CHECK(tp_ipc_publication_offer(pub, buf, sizeof buf) > 0); /* the first one faults */
        tp_ipc_subscription_poll(sub, count_handler, &after, 100);
    }
    /* the conductor thread finds the re-created log on its own time */
    for (int i = 0; i < 5000 && after < 99; i++) {
        tp_ipc_subscription_poll(sub, count_handler, &after, 100);
        const struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    const uint64_t a1 = tp_alloc_count();
    CHECK_EQ_U64(tp_fault_guard_count() - faults0, 2); /* our publication's mapping and our subscription's */
    CHECK_EQ_U64(before, 10);
    CHECK(after >= 98); /* at most the faulting message is lost */
    CHECK_EQ_U64(a1 - a0, 0);
    close(fd);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

/* A lossless publication held back by a subscription that does not poll,
 * then released as it polls: offers, refusals and polls do not allocate. */
static void test_lossless_back_pressure_does_not_allocate(void)
{
    tp_ipc_context_t c = ctx;
    c.log_capacity = 4096;
    c.max_message = 1000;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 3) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc?lossless=true", 3) == 0);
    CHECK(tp_test_await_images(sub, 1));
    uint8_t buf[64];
    memset(buf, 5, sizeof buf);
    uint64_t got = 0, sent = 0, refused = 0;
    const uint64_t a0 = tp_alloc_count(), f0 = tp_free_count();
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 200; i++) {
            const int64_t r = tp_ipc_publication_offer(pub, buf, sizeof buf);
            if (r > 0) sent++;
            else if (r == TP_IPC_BACK_PRESSURED) refused++;
        }
        while (tp_ipc_subscription_poll(sub, count_handler, &got, 100) > 0) {
        }
    }
    const uint64_t a1 = tp_alloc_count(), f1 = tp_free_count();
    CHECK(refused > 0);
    CHECK_EQ_U64(got, sent);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 0);
    CHECK_EQ_U64(a1 - a0, 0);
    CHECK_EQ_U64(f1 - f0, 0);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

int main(void)
{
    tp_test_dir_setup(&ctx);
    tp_test_transport_start(&ctx);
    RUN(test_hot_paths_do_not_allocate);
    if (tp_test_channel_is_embedded()) RUN(test_truncated_log_recovers_without_allocating); /* a tp:ipc log file */
    if (tp_test_channel_is_embedded()) RUN(test_lossless_back_pressure_does_not_allocate);
    tp_test_transport_stop();
    tp_test_dir_cleanup();
    TP_TEST_END();
}
