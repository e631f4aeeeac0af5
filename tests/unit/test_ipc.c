/* IPC transport, single process: API contract, ordering, wrap,
 * lapping/loss, join semantics, corrupt input, files and modes.
 * Runs once per transport (TP_TEST_CHANNEL, see ipc.cmake): the contract
 * tests run on every channel with the same assertions; the tests of the
 * embedded log's files, lapping and limits run on tp:ipc only, and Aeron's
 * back-pressure (its answer to a slow reader) on Aeron channels only.
 * test_ipc_aeron_udp runs the contract over UDP on loopback. */
#include "ipc_test_util.h"
#include "tp_test.h"
#include "tensorpool/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ipc/ipc_log.h"
#include "ipc/ipc_log_file.h"

static tp_ipc_context_t ctx;
static const char *CH; /* channel under test */

typedef struct {
    int count;
    int bad;
    int gaps; /* sequence jumps forward: loss */
    uint64_t last_seq[8];
    int seen[8];
    uint64_t first_seq;
    uint64_t last_info_seq;
    size_t last_len;
    uint8_t last[256];
} rx_t;

static void rx_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    rx_t *rx = clientd;
    uint32_t pubi;
    uint64_t seq;
    if (!tp_test_verify(buf, len, &pubi, &seq) || pubi >= 8) {
        rx->bad++;
        return;
    }
    if (rx->seen[pubi] && seq != rx->last_seq[pubi] + 1) {
        if (seq > rx->last_seq[pubi] + 1)
            rx->gaps++;
        else
            rx->bad++;
    }
    if (!rx->seen[pubi] && rx->count == 0) rx->first_seq = seq;
    if (info->sequence != seq) rx->bad++; /* tests publish seq == transport sequence */
    rx->seen[pubi] = 1;
    rx->last_seq[pubi] = seq;
    rx->last_info_seq = info->sequence;
    rx->count++;
    rx->last_len = len;
}

/* Everything published so far: over shared memory, what one round of polls
 * finds; over UDP, what arrives until the stream has been quiet 100 ms. */
static int drain_quiet(tp_ipc_subscription_t *sub, rx_t *rx, int quiet_ms)
{
    int total = 0;
    for (int idle_ms = 0;;) {
        const int n = tp_ipc_subscription_poll(sub, rx_handler, rx, 1000);
        if (n > 0) {
            total += n;
            idle_ms = 0;
        } else if (idle_ms++ < quiet_ms) {
            tp_test_sleep_ns(1000000);
        } else {
            return total;
        }
    }
}

static int drain(tp_ipc_subscription_t *sub, rx_t *rx) { return drain_quiet(sub, rx, tp_test_channel_is_network() ? 100 : 0); }

static void offer_pattern(tp_ipc_publication_t *pub, uint32_t pubi, uint64_t seq, size_t len)
{
    uint8_t buf[70000];
    tp_test_fill(buf, len, pubi, seq);
    CHECK(tp_test_offer(pub, buf, len) > 0);
}

static void test_channel_uris(void)
{
    tp_ipc_publication_t *pub = NULL;
    tp_ipc_subscription_t *sub = NULL;
#ifdef TP_HAVE_AERON
    /* Aeron channels are this build's; a malformed one is refused */
    CHECK(tp_ipc_publication_open(&pub, &ctx, "aeron:tcp?endpoint=x:1", 1) == -1);
    CHECK(tp_errcode() == TP_ERR_INVALID_ARG);
    if (!tp_test_channel_is_embedded()) {
        /* Aeron's own parameters pass through to Aeron, which checks them */
        CHECK(tp_ipc_publication_open(&pub, &ctx, "aeron:ipc?term-length=64k", 1) == 0);
        CHECK(tp_ipc_publication_close(pub) == 0);
        pub = NULL;
        CHECK(tp_ipc_publication_open(&pub, &ctx, "aeron:ipc?term-length=1000", 1) == -1);
        CHECK(strstr(tp_errmsg(), "term-length") != NULL || strstr(tp_errmsg(), "term") != NULL);
    }
#else
    CHECK(tp_ipc_publication_open(&pub, &ctx, "aeron:ipc?term-length=4m", 1) == -1);
    CHECK(tp_errcode() == TP_ERR_UNSUPPORTED);
    CHECK(strstr(tp_errmsg(), "Aeron") != NULL);
#endif
    CHECK(tp_ipc_publication_open(&pub, &ctx, "udp://localhost:1", 1) == -1);
    CHECK(tp_errcode() == TP_ERR_INVALID_ARG);
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc?x=1", 1) == -1);
    CHECK(tp_errcode() == TP_ERR_INVALID_ARG);
    /* tp:ipc's own parameters: lossless=true|false, stall-ms=1..3600000, '|' between */
    static const char *const bad[] = {"tp:ipc?", "tp:ipc?lossless=yes", "tp:ipc?lossless=true|", "tp:ipc?stall-ms=0",
                                      "tp:ipc?stall-ms=3600001", "tp:ipc?stall-ms=1x", "tp:ipc?lossless=true&stall-ms=5",
                                      "tp:ipcx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(tp_ipc_publication_open(&pub, &ctx, bad[i], 1) == -1);
        CHECK(tp_errcode() == TP_ERR_INVALID_ARG);
    }
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc?lossless=true|stall-ms=3600000", 1) == 0);
    CHECK(tp_ipc_publication_close(pub) == 0);
    pub = NULL;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc?lossless=false", 1) == 0);
    CHECK(tp_ipc_publication_close(pub) == 0);
    pub = NULL;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, NULL, 1) == -1);
    CHECK(pub == NULL && sub == NULL);
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 1) == 0);
    CHECK(pub != NULL);
    CHECK(tp_ipc_publication_stream_id(pub) == 1);
    CHECK(tp_ipc_publication_max_message(pub) == 64 * 1024);
    CHECK(tp_ipc_publication_close(pub) == 0);
    CHECK(tp_ipc_publication_close(NULL) == 0);
    CHECK(tp_ipc_subscription_close(NULL) == 0);
}

static void test_context_validation(void)
{
    tp_ipc_context_t c = ctx;
    tp_ipc_publication_t *pub = NULL;
    c.log_capacity = 5000;
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 1) == -1);
    CHECK(tp_errcode() == TP_ERR_INVALID_ARG);
    c = ctx;
    c.max_message = c.log_capacity / 4 + 1;
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 1) == -1);
    c = ctx;
    c.namespace_name = "../escape";
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 1) == -1);
    CHECK(tp_errcode() == TP_ERR_INVALID_ARG);
    c = ctx;
    c.base_dir = "relative/dir";
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 1) == -1);
    CHECK(pub == NULL);
}

static void test_order_and_content(void)
{
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, CH, 10) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, CH, 10) == 0);
    rx_t rx = {0};
    CHECK(tp_test_await_images(sub, 1));
    CHECK(tp_ipc_subscription_poll(sub, rx_handler, &rx, 10) == 0);
    CHECK(tp_ipc_subscription_image_count(sub) == 1);
    for (uint64_t i = 0; i < 1000; i++) offer_pattern(pub, 0, i, 16 + (i * 7) % 200);
    /* limit is honoured (over UDP, once the messages have arrived) */
    if (tp_test_channel_is_network()) tp_test_sleep_ns(200000000);
    CHECK(tp_ipc_subscription_poll(sub, rx_handler, &rx, 7) == 7);
    drain(sub, &rx);
    CHECK(rx.count == 1000);
    CHECK(rx.bad == 0);
    CHECK(rx.gaps == 0);
    CHECK(rx.first_seq == 0);
    CHECK(rx.last_seq[0] == 999);
    CHECK(tp_ipc_subscription_loss_count(sub) == 0);
    /* a publication on another stream is not seen */
    tp_ipc_publication_t *other;
    CHECK(tp_ipc_publication_open(&other, &ctx, CH, 11) == 0);
    tp_ipc_publication_offer(other, "x", 1); /* Aeron: not connected, tp:ipc: unread */
    CHECK(drain(sub, &rx) == 0);
    CHECK(tp_ipc_subscription_image_count(sub) == 1);
    tp_ipc_publication_close(other);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

static void test_max_message_and_claims(void)
{
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, CH, 12) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, CH, 12) == 0);
    CHECK(tp_test_await_images(sub, 1));
    /* 64 KiB (the context's max_message; test_channel_uris), split into
     * MTU-sized fragments on Aeron and joined again */
    const size_t max = tp_ipc_publication_max_message(pub);
    CHECK(max >= 1024 && max <= 64 * 1024);
    static uint8_t big[64 * 1024 + 1];
    tp_test_fill(big, max, 0, 0);
    CHECK(tp_ipc_publication_offer(pub, big, max) > 0);
    CHECK(tp_ipc_publication_offer(pub, big, max + 1) == -1);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    tp_ipc_claim_t claim;
    CHECK(tp_ipc_publication_try_claim(pub, max + 1, &claim) == -1);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);

    /* claim + commit: written in place */
    CHECK(tp_ipc_publication_try_claim(pub, 100, &claim) == 0);
    CHECK(claim.length == 100);
    tp_test_fill(claim.data, 100, 0, 1);
    tp_ipc_claim_t second;
    CHECK(tp_ipc_publication_try_claim(pub, 10, &second) == -1);
    CHECK(tp_errcode() == TP_ERR_STATE);
    CHECK(tp_ipc_publication_offer(pub, big, 16) == -1);
    CHECK(tp_errcode() == TP_ERR_STATE);
    rx_t rx = {0};
    CHECK(drain(sub, &rx) == 1); /* the claim is not visible before commit */
    claim.length = 5000; /* a caller scribbling on the claim cannot change what is published */
    CHECK(tp_ipc_publication_commit(pub, &claim) > 0);
    CHECK(tp_ipc_publication_commit(pub, &claim) == -1); /* not twice */
    CHECK(drain(sub, &rx) == 1);
    CHECK(rx.last_len == 100);

    /* claim + abort: nothing published, sequence not consumed */
    CHECK(tp_ipc_publication_try_claim(pub, 50, &claim) == 0);
    memset(claim.data, 0xAB, 50);
    CHECK(tp_ipc_publication_abort(pub, &claim) == 0);
    CHECK(tp_ipc_publication_abort(pub, &claim) == -1);
    CHECK(drain(sub, &rx) == 0);
    offer_pattern(pub, 0, 2, 40);
    CHECK(drain(sub, &rx) == 1);
    CHECK(rx.bad == 0);
    CHECK(rx.last_seq[0] == 2);
    CHECK(tp_ipc_subscription_loss_count(sub) == 0);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

/* Lockstep through a small ring: every size crosses the wrap point with padding. */
static void test_wrap_with_padding(void)
{
    tp_ipc_context_t c = ctx;
    c.log_capacity = 4096;
    c.max_message = 1000;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, CH, 13) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, CH, 13) == 0);
    CHECK(tp_test_await_images(sub, 1));
    rx_t rx = {0};
    for (uint64_t i = 0; i < 5000; i++) {
        offer_pattern(pub, 0, i, 16 + (i * 37) % 985);
        if (i % 3 == 2) drain_quiet(sub, &rx, 0); /* lockstep: what is there now */
    }
    drain(sub, &rx);
    CHECK(rx.count == 5000);
    CHECK(rx.bad == 0);
    CHECK(tp_ipc_subscription_loss_count(sub) == 0);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

static void test_lapping_counts_loss(void)
{
    tp_ipc_context_t c = ctx;
    c.log_capacity = 4096;
    c.max_message = 1000;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 14) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 14) == 0);
    rx_t rx = {0};
    /* 48-byte records: 85 fit in 4 KiB; publish 1000 without reading. */
    for (uint64_t i = 0; i < 1000; i++) offer_pattern(pub, 0, i, 32);
    /* Lapped: it re-enters half a ring behind the end, so it delivers the
     * newest ~42 messages and counts the rest as lost. */
    int got = 0;
    for (int k = 0; k < 3; k++) got += drain(sub, &rx); /* the poll that notices the lap delivers 0 */
    CHECK(got >= 40 && got <= 43);
    CHECK(rx.bad == 0);
    CHECK(rx.gaps == 0); /* the first message after the jump starts the run */
    CHECK_EQ_U64(rx.first_seq, 1000 - (uint64_t)got);
    CHECK(rx.last_seq[0] == 999);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 1000 - (uint64_t)got);
    for (uint64_t i = 1000; i < 1010; i++) offer_pattern(pub, 0, i, 32);
    CHECK(drain(sub, &rx) == 10);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 1000 - (uint64_t)got);
    /* Partly lapped while behind: whatever is delivered + lost == sent. */
    for (uint64_t i = 1010; i < 1200; i++) offer_pattern(pub, 0, i, 32);
    drain(sub, &rx);
    for (uint64_t i = 1200; i < 1210; i++) offer_pattern(pub, 0, i, 32);
    drain(sub, &rx);
    CHECK(rx.bad == 0);
    CHECK(rx.gaps >= 1);
    CHECK(rx.last_seq[0] == 1209);
    CHECK_EQ_U64((uint64_t)rx.count + tp_ipc_subscription_loss_count(sub), 1210);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

/* Offer 32-byte messages until back-pressured; how many went out. */
static uint64_t offer_until_back_pressure(tp_ipc_publication_t *pub, uint64_t seq)
{
    uint8_t buf[32];
    uint64_t n = 0;
    for (;; n++) {
        tp_test_fill(buf, sizeof buf, 0, seq + n);
        int64_t r = tp_ipc_publication_offer(pub, buf, sizeof buf);
        if (r == TP_IPC_BACK_PRESSURED) return n;
        if (r <= 0 || n > 100000) return UINT64_MAX; /* neither taken nor refused, or never refused */
    }
}

/* tp:ipc?lossless=true: the writer is held back instead of lapping a
 * subscription; nothing is lost over many laps. */
static void test_lossless_back_pressure_loses_nothing(void)
{
    tp_ipc_context_t c = ctx;
    c.log_capacity = 4096;
    c.max_message = 1000;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 17) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc?lossless=true", 17) == 0);
    CHECK(tp_test_await_images(sub, 1)); /* lossless from when it follows the log */
    rx_t rx = {0};
    uint64_t sent = 0;
    for (int lap = 0; lap < 50; lap++) {
        uint64_t n = offer_until_back_pressure(pub, sent);
        CHECK(n != UINT64_MAX);
        if (n == UINT64_MAX) break;
        /* 48-byte records, 85 to a 4 KiB ring; announced a sixteenth at a time */
        CHECK(lap == 0 ? (n >= 60 && n <= 85) : (n >= 1 && n <= 85));
        sent += n;
        drain(sub, &rx);
        CHECK_EQ_U64((uint64_t)rx.count, sent);
    }
    CHECK(sent > 50 * 60);
    CHECK(rx.bad == 0 && rx.gaps == 0);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 0);
    CHECK(rx.last_seq[0] == sent - 1);
    /* A claim is refused the same way and leaves nothing outstanding. */
    (void)offer_until_back_pressure(pub, sent);
    tp_ipc_claim_t claim;
    CHECK(tp_ipc_publication_try_claim(pub, 32, &claim) == TP_IPC_BACK_PRESSURED);
    CHECK(tp_ipc_publication_abort(pub, &claim) == -1);
    /* Without a subscription nothing holds it back. */
    tp_ipc_subscription_close(sub);
    uint8_t buf[32] = {0};
    int taken = 0;
    for (int i = 0; i < 1000; i++) taken += tp_ipc_publication_offer(pub, buf, sizeof buf) > 0;
    CHECK(taken == 1000);
    tp_ipc_publication_close(pub);
}

/* A subscription whose process died without closing stops holding a
 * lossless publication back (its slot is freed by the writer). */
static void test_lossless_dead_subscriber_released(void)
{
    tp_ipc_context_t c = ctx;
    c.log_capacity = 4096;
    c.max_message = 1000;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc?lossless=true", 18) == 0);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        tp_ipc_subscription_t *sub;
        if (tp_ipc_subscription_open(&sub, &c, "tp:ipc", 18) != 0 || tp_ipc_subscription_image_count(sub) != 1)
            _exit(2);
        char x = 1;
        if (write(ready[1], &x, 1) != 1) _exit(3);
        _exit(0); /* no close: the slot stays claimed */
    }
    char x = 0;
    CHECK(read(ready[0], &x, 1) == 1 && x == 1);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    close(ready[1]);
    uint8_t buf[32] = {0};
    uint64_t taken = 0, refused = 0;
    for (uint64_t i = 0; i < 1000000 && taken < 1000; i++) {
        int64_t r = tp_ipc_publication_offer(pub, buf, sizeof buf);
        if (r > 0) taken++;
        else if (r == TP_IPC_BACK_PRESSURED) refused++;
        else break;
    }
    CHECK_EQ_U64(taken, 1000);
    CHECK(refused >= 1); /* it was held back until the dead reader was noticed */
    tp_ipc_publication_close(pub);
}

/* A live subscription that stops polling holds a lossless publication back
 * only for the stall time; then it is cut loose, laps and counts the loss. */
static void test_lossless_stalled_subscriber_cut_loose(void)
{
    tp_ipc_context_t c = ctx;
    c.log_capacity = 4096;
    c.max_message = 1000;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 19) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc?lossless=true|stall-ms=100", 19) == 0);
    CHECK(tp_test_await_images(sub, 1));
    uint8_t buf[32];
    uint64_t taken = 0, refused = 0;
    const int64_t t0 = tp_clock_monotonic_ns();
    while (taken < 1000 && tp_clock_monotonic_ns() - t0 < 10000000000LL) { /* the subscription never polls */
        tp_test_fill(buf, sizeof buf, 0, taken);
        const int64_t r = tp_ipc_publication_offer(pub, buf, sizeof buf);
        if (r > 0) taken++;
        else if (r == TP_IPC_BACK_PRESSURED) refused++;
        else break;
    }
    const int64_t held = tp_clock_monotonic_ns() - t0;
    CHECK_EQ_U64(taken, 1000);
    CHECK(refused > 0);
    CHECK(held >= 100000000LL); /* not before the stall time */
    rx_t rx = {0};
    for (int k = 0; k < 3; k++) drain(sub, &rx);
    CHECK(rx.bad == 0);
    CHECK(tp_ipc_subscription_loss_count(sub) > 0);
    CHECK_EQ_U64((uint64_t)rx.count + tp_ipc_subscription_loss_count(sub), 1000);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

static void test_join_semantics_and_broadcast(void)
{
    tp_ipc_publication_t *early;
    CHECK(tp_ipc_publication_open(&early, &ctx, CH, 15) == 0);
    /* Before any subscription: not seen. tp:ipc takes it (sequence 0 is
     * used up); Aeron refuses it (not connected), so it never existed. */
    uint8_t x[32];
    tp_test_fill(x, sizeof x, 0, 0);
    const uint64_t early_seq0 = tp_ipc_publication_offer(early, x, sizeof x) > 0 ? 1 : 0;
    CHECK(early_seq0 == (tp_test_channel_is_embedded() ? 1u : 0u));
    tp_ipc_subscription_t *s1, *s2;
    CHECK(tp_ipc_subscription_open(&s1, &ctx, CH, 15) == 0);
    CHECK(tp_ipc_subscription_open(&s2, &ctx, CH, 15) == 0);
    tp_ipc_publication_t *late;
    CHECK(tp_ipc_publication_open(&late, &ctx, CH, 15) == 0);
    if (!tp_test_channel_is_embedded()) /* Aeron drops offers until connected */
        CHECK(tp_test_await_images(s1, 2) && tp_test_await_images(s2, 2));
    /* published before the subscriptions notice `late`: still seen (read from start) */
    for (uint64_t i = 0; i < 5; i++) offer_pattern(late, 1, i, 64);
    for (uint64_t i = early_seq0; i < early_seq0 + 3; i++) offer_pattern(early, 0, i, 64);
    rx_t r1 = {0}, r2 = {0};
    drain(s1, &r1);
    drain(s2, &r2);
    CHECK(r1.count == 8 && r2.count == 8);
    CHECK(r1.bad == 0 && r2.bad == 0);
    CHECK(r1.last_seq[0] == early_seq0 + 2 && r1.last_seq[1] == 4);
    CHECK(r2.last_seq[0] == early_seq0 + 2 && r2.last_seq[1] == 4);
    CHECK(tp_ipc_subscription_image_count(s1) == 2);
    tp_ipc_publication_close(early);
    tp_ipc_publication_close(late);
    tp_ipc_subscription_close(s1);
    tp_ipc_subscription_close(s2);
}

static void ipc_dir(char *out, size_t n, const tp_ipc_context_t *c)
{
    CHECK(tp_ipc_context_dir(c, out, n) == 0);
}

static void test_files_and_modes(void)
{
    char dir[PATH_MAX];
    ipc_dir(dir, sizeof dir, &ctx);
    CHECK(strncmp(dir, tp_test_base, strlen(tp_test_base)) == 0);
    CHECK(strstr(dir, "/tensorpool-") != NULL);
    CHECK(strcmp(dir + strlen(dir) - strlen("/default/ipc"), "/default/ipc") == 0);
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 16) == 0);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0770);
    DIR *d = opendir(dir);
    int logs = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "16-", 3) != 0) continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        CHECK(stat(path, &st) == 0);
        CHECK((st.st_mode & 0777) == 0660);
        CHECK(st.st_size == 256 + (1 << 20));
        logs++;
    }
    if (d) closedir(d);
    CHECK(logs == 1);
    tp_ipc_publication_close(pub);

    /* TP_DIR is used when the context names no base dir. */
    tp_ipc_context_t c;
    tp_ipc_context_init(&c);
    char base2[400];
    snprintf(base2, sizeof base2, "%s/envbase", tp_test_base);
    setenv("TP_DIR", base2, 1);
    c.namespace_name = "ns_1";
    ipc_dir(dir, sizeof dir, &c);
    CHECK(strncmp(dir, base2, strlen(base2)) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 1) == 0);
    CHECK(stat(dir, &st) == 0);
    tp_ipc_publication_close(pub);
    unsetenv("TP_DIR");
}

static void write_file(const char *dir, const char *name, const void *data, size_t len, size_t total)
{
    char path[PATH_MAX + 100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0660);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(ftruncate(fd, (off_t)total) == 0);
    CHECK(pwrite(fd, data, len, 0) == (ssize_t)len);
    close(fd);
}

static void test_corrupt_logs_are_errors(void)
{
    tp_ipc_context_t c = ctx;
    c.namespace_name = "corrupt";
    char dir[PATH_MAX];
    ipc_dir(dir, sizeof dir, &c);
    tp_ipc_subscription_t *sub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 20) == 0);
    char name[128];
    int me = (int)getpid();
    /* garbage */
    uint8_t junk[512];
    memset(junk, 0x5A, sizeof junk);
    snprintf(name, sizeof name, "20-%d-1-900.log", me);
    write_file(dir, name, junk, sizeof junk, sizeof junk);
    /* truncated: header promises a bigger file */
    tp_ipc_log_meta_t m;
    memset(&m, 0, sizeof m);
    m.magic = TP_IPC_LOG_MAGIC;
    m.version = 1;
    m.header_bytes = 256;
    m.capacity = 4096;
    m.max_message = 1000;
    m.stream_id = 20;
    m.pid = me;
    CHECK(tp_ipc_self_start_time(&m.start_time) == 0); /* looks alive: not reclaimed */
    snprintf(name, sizeof name, "20-%d-1-901.log", me);
    write_file(dir, name, &m, sizeof m, 1000);
    /* a foreign file and a tiny file are ignored or refused, never fatal */
    write_file(dir, "README", junk, 10, 10);
    snprintf(name, sizeof name, "20-%d-1-902.log", me);
    write_file(dir, name, junk, 3, 3);
    /* valid header, committed record with an impossible length */
    uint8_t file[256 + 4096];
    memset(file, 0, sizeof file);
    atomic_store(&m.tail, 64);
    atomic_store(&m.tail_intent, 64);
    memcpy(file, &m, sizeof m);
    int32_t bad_len = 100000;
    uint64_t tag = tp_ipc_rec_tag(0, TP_IPC_REC_DATA); /* committed, impossible length */
    memcpy(file + 256, &tag, 8);
    memcpy(file + 256 + 8, &bad_len, 4);
    snprintf(name, sizeof name, "20-%d-1-903.log", me);
    rx_t rx = {0};
    tp_ipc_subscription_poll(sub, rx_handler, &rx, 10); /* notices the first three */
    write_file(dir, name, file, sizeof file, sizeof file);
    tp_ipc_subscription_poll(sub, rx_handler, &rx, 10);
    tp_ipc_publication_t *pub; /* bumps the generation: the record file is found (from 0) */
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 20) == 0);
    for (int i = 0; i < 5; i++) tp_ipc_subscription_poll(sub, rx_handler, &rx, 10);
    offer_pattern(pub, 0, 0, 40);
    drain(sub, &rx);
    /* force a rescan so the corrupt image is dropped and counted */
    tp_ipc_publication_t *pub2;
    CHECK(tp_ipc_publication_open(&pub2, &c, "tp:ipc", 21) == 0);
    drain(sub, &rx);
    CHECK(rx.count == 1);
    CHECK(rx.bad == 0);
    CHECK_EQ_U64(tp_ipc_subscription_error_count(sub), 4);
    CHECK(tp_ipc_subscription_image_count(sub) == 1);
    /* reclaim leaves files it cannot validate alone */
    CHECK(tp_ipc_reclaim(&c) == 0);
    tp_ipc_publication_close(pub);
    tp_ipc_publication_close(pub2);
    tp_ipc_subscription_close(sub);
}

static int count_logs(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".log") != NULL) n++;
    if (d) closedir(d);
    return n;
}

static void test_closed_logs_linger_then_reclaim(void)
{
    tp_ipc_context_t c = ctx;
    c.namespace_name = "linger";
    char dir[PATH_MAX];
    ipc_dir(dir, sizeof dir, &c);
    tp_ipc_subscription_t *sub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 30) == 0);
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 30) == 0);
    offer_pattern(pub, 0, 0, 32);
    offer_pattern(pub, 0, 1, 32);
    tp_ipc_publication_close(pub);
    CHECK(count_logs(dir) == 1);
    CHECK(tp_ipc_reclaim(&c) == 0); /* lingering, owner alive */
    /* a closed log is still drained */
    rx_t rx = {0};
    CHECK(drain(sub, &rx) == 2);
    c.linger_ns = 0;
    CHECK(tp_ipc_reclaim(&c) == 1);
    CHECK(count_logs(dir) == 0);
    drain(sub, &rx); /* notices the removal */
    CHECK(tp_ipc_subscription_image_count(sub) == 0);
    tp_ipc_subscription_close(sub);
}

/* A subscription follows at most max_images publications; the rest are
 * counted as errors (once each), and the followed ones keep working. */
static void test_max_images_limit(void)
{
    tp_ipc_context_t c = ctx;
    c.namespace_name = "images";
    c.max_images = 2;
    tp_ipc_subscription_t *sub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 50) == 0);
    tp_ipc_publication_t *pubs[4];
    for (int i = 0; i < 4; i++) CHECK(tp_ipc_publication_open(&pubs[i], &c, "tp:ipc", 50) == 0);
    rx_t rx = {0};
    for (int i = 0; i < 4; i++) offer_pattern(pubs[i], (uint32_t)i, 0, 32);
    drain(sub, &rx);
    drain(sub, &rx);
    CHECK(tp_ipc_subscription_image_count(sub) == 2);
    CHECK(rx.count == 2);
    CHECK_EQ_U64(tp_ipc_subscription_error_count(sub), 2);
    for (int i = 0; i < 4; i++) tp_ipc_publication_close(pubs[i]);
    tp_ipc_subscription_close(sub);
}

/* The context's base dir wins over $TP_DIR. */
static void test_context_dir_beats_env(void)
{
    char dir[PATH_MAX];
    setenv("TP_DIR", "/nonexistent-tp-dir", 1);
    ipc_dir(dir, sizeof dir, &ctx);
    CHECK(strncmp(dir, tp_test_base, strlen(tp_test_base)) == 0);
    tp_ipc_context_t c;
    tp_ipc_context_init(&c);
    ipc_dir(dir, sizeof dir, &c);
    CHECK(strncmp(dir, "/nonexistent-tp-dir/tensorpool-", 31) == 0);
    unsetenv("TP_DIR");
    ipc_dir(dir, sizeof dir, &c);
    CHECK(strncmp(dir, "/dev/shm/tensorpool/tensorpool-", 31) == 0);
}

static size_t hostile_max_len;
static int hostile_too_long;

static void hostile_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    (*(int *)clientd)++;
    if (len > hostile_max_len) hostile_too_long++;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < len; i++) sink ^= buf[i]; /* touch every byte: ASan checks bounds */
    (void)sink;
}

/* A writer that scribbles over its own log (headers, lengths, tail, intent)
 * must not make a subscriber crash, read out of bounds or stall the others. */
static void test_hostile_log_never_crashes(void)
{
    tp_ipc_context_t c = ctx;
    c.namespace_name = "hostile";
    c.log_capacity = 4096;
    c.max_message = 1000;
    hostile_max_len = c.max_message;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 40) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 40) == 0);
    int got = 0;
    tp_ipc_subscription_poll(sub, hostile_handler, &got, 10);
    CHECK(tp_ipc_subscription_image_count(sub) == 1);
    /* map the same log read-write, as the hostile writer */
    char dir[PATH_MAX], path[PATH_MAX + 300];
    ipc_dir(dir, sizeof dir, &c);
    DIR *d = opendir(dir);
    struct dirent *e;
    path[0] = '\0';
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "40-", 3) == 0) snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (d) closedir(d);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    if (fd < 0) return;
    uint8_t *m = mmap(NULL, 256 + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    CHECK(m != MAP_FAILED);
    if (m == MAP_FAILED) return;
    tp_ipc_log_meta_t *meta = (tp_ipc_log_meta_t *)(void *)m;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        switch (x % 6) {
        case 0: m[256 + (x >> 8) % 4096] = (uint8_t)(x >> 40); break;
        case 1: { /* plausible committed header with a wild length */
            uint32_t off = (uint32_t)((x >> 8) % 256) * 16;
            int32_t len = (int32_t)(x >> 32);
            uint64_t pos = atomic_load(&meta->tail) & ~(uint64_t)4095;
            uint64_t tag = tp_ipc_rec_tag(pos + off, (uint32_t)(1 + (x >> 20) % 2));
            memcpy(m + 256 + off, &tag, 8);
            memcpy(m + 256 + off + 8, &len, 4);
            break;
        }
        case 2: atomic_store(&meta->tail, (x >> 8) % 20000); break;
        case 3: atomic_store(&meta->tail_intent, (x >> 8) % 30000); break;
        case 4: atomic_store(&meta->tail_sequence, x >> 3); break;
        default: offer_pattern(pub, 0, (uint64_t)i, 16 + (x >> 8) % 900); break;
        }
        tp_ipc_subscription_poll(sub, hostile_handler, &got, 50);
    }
    CHECK(hostile_too_long == 0);
    munmap(m, 256 + 4096);
    /* an honest publication on the same stream still gets through */
    tp_ipc_publication_t *honest;
    CHECK(tp_ipc_publication_open(&honest, &c, "tp:ipc", 40) == 0);
    rx_t rx = {0};
    for (uint64_t i = 0; i < 5; i++) offer_pattern(honest, 1, i, 48);
    for (int i = 0; i < 10; i++) tp_ipc_subscription_poll(sub, rx_handler, &rx, 100);
    CHECK(rx.seen[1] && rx.last_seq[1] == 4);
    tp_ipc_publication_close(honest);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

static void count_msgs(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)buf;
    (void)len;
    (void)info;
    (*(int *)clientd)++;
}

/* The name of the one log of stream 41 in dir ("" if none). */
static void log_41(const char *dir, char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL; e = readdir(d))
        if (strncmp(e->d_name, "41-", 3) == 0) snprintf(out, cap, "%s", e->d_name);
    if (d != NULL) closedir(d);
}

/* n rounds of one offer on pub, one poll of sub (counting into *got), 1 ms. */
static void pump(tp_ipc_publication_t *pub, tp_ipc_subscription_t *sub, int n, int *got)
{
    const uint8_t msg[64] = {1};
    for (int i = 0; i < n; i++) {
        tp_ipc_publication_offer(pub, msg, sizeof msg);
        tp_ipc_subscription_poll(sub, count_msgs, got, 100);
        usleep(1000);
    }
}

/* Someone overwrites a live log's header, then truncates the index: the
 * subscription drops the log, the publication re-creates it under a new
 * name, the index is repaired, and messages (and a new publication) get
 * through again. */
static void test_scribbled_log_and_truncated_index_recover(void)
{
    tp_ipc_context_t c = ctx;
    c.rescan_interval_ns = 1000000; /* 1 ms: subscriptions look often */
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 41) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 41) == 0);
    char dir[PATH_MAX], old_name[256], new_name[256], path[PATH_MAX + 300];
    CHECK(tp_ipc_context_dir(&c, dir, sizeof dir) == 0);
    log_41(dir, old_name, sizeof old_name);
    CHECK(old_name[0] != '\0');
    uint8_t msg[64] = {1};
    int got = 0;
    for (int i = 0; i < 5; i++) CHECK(tp_ipc_publication_offer(pub, msg, sizeof msg) > 0);
    while (tp_ipc_subscription_poll(sub, count_msgs, &got, 100) > 0) {
    }
    CHECK_EQ_I64(got, 5);

    snprintf(path, sizeof path, "%s/%s", dir, old_name);
    uint8_t junk[256];
    memset(junk, 0xFF, sizeof junk);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, junk, sizeof junk, 0) == (ssize_t)sizeof junk);
    close(fd);
    got = 0;
    pump(pub, sub, 300, &got);
    log_41(dir, new_name, sizeof new_name);
    CHECK(new_name[0] != '\0' && strcmp(new_name, old_name) != 0); /* re-created, the old one gone */
    CHECK(got >= 200);                                            /* flowing again well before the end */
    CHECK(tp_ipc_subscription_error_count(sub) >= 1);             /* the bad log was refused */

    snprintf(path, sizeof path, "%s/index", dir);
    fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && ftruncate(fd, 0) == 0);
    close(fd);
    got = 0;
    pump(pub, sub, 50, &got);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 4096); /* repaired */
    tp_ipc_publication_t *pub2;
    CHECK(tp_ipc_publication_open(&pub2, &c, "tp:ipc", 41) == 0); /* found through the new index */
    const int before = got;
    pump(pub2, sub, 20, &got);
    CHECK(got >= 40 && got - before >= 20);
    CHECK_EQ_U64(tp_ipc_subscription_image_count(sub), 2);
    tp_ipc_publication_close(pub2);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

#ifdef TP_HAVE_AERON
#include "ipc/ipc_aeron.h"

/* Aeron's answer to a reader that does not keep up: the publication is
 * back-pressured (an error the caller sees and a counter), nothing is lost. */
static void test_aeron_back_pressure_loses_nothing(void)
{
    const char *ch = "aeron:ipc?term-length=64k";
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, ch, 16) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, ch, 16) == 0);
    CHECK(tp_test_await_images(sub, 1));
    tp_ipc_aeron_counters_t before, after;
    tp_ipc_aeron_counters(&before);
    uint8_t buf[256];
    uint64_t sent = 0;
    int refused = 0;
    while (sent < 100000 && !refused) {
        tp_test_fill(buf, 200, 0, sent);
        if (tp_ipc_publication_offer(pub, buf, 200) > 0)
            sent++;
        else
            refused = 1;
    }
    CHECK(refused);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    CHECK(strstr(tp_errmsg(), "back-pressured") != NULL);
    tp_ipc_aeron_counters(&after);
    CHECK(after.back_pressured > before.back_pressured);
    CHECK(sent > 100); /* a window's worth went out first */
    rx_t rx = {0};
    drain(sub, &rx);
    CHECK_EQ_U64((uint64_t)rx.count, sent);
    CHECK(rx.bad == 0 && rx.gaps == 0);
    CHECK(tp_ipc_subscription_loss_count(sub) == 0);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}
#endif

int main(void)
{
    tp_test_dir_setup(&ctx);
    /* These tests check the scan rules poll by poll, so poll does the upkeep
     * (TP_IPC_CONDUCTOR_CALLER); the conductor thread, the default, has its
     * own tests (test_ipc_conductor) and runs under every other test. */
    ctx.conductor = TP_IPC_CONDUCTOR_CALLER;
    tp_test_transport_start(&ctx);
    CH = tp_test_channel();
    fprintf(stderr, "channel under test: %s\n", CH);
    RUN(test_channel_uris);
    RUN(test_context_validation);
    RUN(test_order_and_content);
    RUN(test_max_message_and_claims);
    RUN(test_wrap_with_padding);
    RUN(test_join_semantics_and_broadcast);
    if (tp_test_channel_is_embedded()) {
        RUN(test_lapping_counts_loss);
        RUN(test_lossless_back_pressure_loses_nothing);
        RUN(test_lossless_dead_subscriber_released);
        RUN(test_lossless_stalled_subscriber_cut_loose);
        RUN(test_files_and_modes);
        RUN(test_corrupt_logs_are_errors);
        RUN(test_closed_logs_linger_then_reclaim);
        RUN(test_hostile_log_never_crashes);
        RUN(test_max_images_limit);
        RUN(test_context_dir_beats_env);
        RUN(test_scribbled_log_and_truncated_index_recover);
    }
#ifdef TP_HAVE_AERON
    else
        RUN(test_aeron_back_pressure_loses_nothing);
#endif
    tp_test_transport_stop();
    tp_test_dir_cleanup();
    TP_TEST_END();
}
