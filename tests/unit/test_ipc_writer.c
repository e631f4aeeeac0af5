/* Embedded IPC writer: large records (over TP_IPC_REC_SMALL) get their header
 * written at publish, after the payload, and the writer prefetches the next
 * record's lines. These check that this keeps records whole and invisible
 * until published, at every header alignment, through offer, claim/commit,
 * claim/abort, ring wrap and lapping. */
#include "ipc_log_pair.h"

#include <sys/mman.h>

static tp_ipc_context_t ctx;

typedef struct {
    int count;
    int bad;
    uint64_t next_seq;
    size_t last_len;
} rx_t;

static void rx_handler(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    rx_t *rx = clientd;
    uint32_t pubi;
    uint64_t seq;
    if (!tp_test_verify(buf, len, &pubi, &seq) || pubi != 0 || seq != info->sequence) {
        rx->bad++;
        return;
    }
    rx->next_seq = seq + 1;
    rx->last_len = len;
    rx->count++;
}

static int drain(tp_ipc_subscription_t *sub, rx_t *rx)
{
    int total = 0, n;
    while ((n = tp_ipc_subscription_poll(sub, rx_handler, rx, 1000)) > 0) total += n;
    return total;
}

/* Offers and claims of sizes on both sides of TP_IPC_REC_SMALL, with the
 * header landing at each of the four 16-byte slots of a line. */
static void test_large_records_every_alignment(void)
{
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", 20) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 20) == 0);
    rx_t rx = {0};
    uint8_t buf[2048];
    uint64_t seq = 0;
    /* 1040-byte records move the header 16 bytes along a line each time. */
    const size_t sizes[] = {1024, 1024, 1024, 1024, 112, 113, 100, 2000, 16, 1025, 1031};
    int alignments = 0;
    for (int round = 0; round < 40; round++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t len = sizes[k];
            int64_t pos;
            if ((round + (int)k) % 2 == 0) {
                tp_test_fill(buf, len, 0, seq);
                pos = tp_ipc_publication_offer(pub, buf, len);
            } else {
                tp_ipc_claim_t claim;
                CHECK(tp_ipc_publication_try_claim(pub, len, &claim) == 0);
                tp_test_fill(claim.data, len, 0, seq);
                CHECK(drain(sub, &rx) == 0); /* not visible before commit */
                pos = tp_ipc_publication_commit(pub, &claim);
            }
            CHECK(pos > 0);
            alignments |= 1 << ((pos & 63) / 16);
            seq++;
            CHECK(drain(sub, &rx) == 1);
            CHECK(rx.last_len == len);
        }
    }
    CHECK(alignments == 15); /* records ended (so the next header sat) at all four slots */
    CHECK(rx.bad == 0);
    CHECK_EQ_U64((uint64_t)rx.count, seq);
    CHECK_EQ_U64(rx.next_seq, seq);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 0);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

/* An aborted large claim leaves nothing behind: a later record at the same
 * place, large or small, is read with its own length and sequence. */
static void test_aborted_large_claim_then_reuse(void)
{
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", 21) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", 21) == 0);
    rx_t rx = {0};
    uint8_t buf[1024];
    uint64_t seq = 0;
    for (int i = 0; i < 200; i++) {
        tp_ipc_claim_t claim;
        CHECK(tp_ipc_publication_try_claim(pub, 600 + (size_t)i, &claim) == 0);
        memset(claim.data, 0xEE, claim.length);
        CHECK(tp_ipc_publication_abort(pub, &claim) == 0);
        size_t len = i % 2 ? 40 : 300 + (size_t)i;
        tp_test_fill(buf, len, 0, seq++);
        CHECK(tp_ipc_publication_offer(pub, buf, len) > 0);
        CHECK(drain(sub, &rx) == 1);
        CHECK(rx.last_len == len);
    }
    CHECK(rx.bad == 0);
    CHECK_EQ_U64(rx.next_seq, seq);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 0);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

/* Large records through a small ring: padding, wrap, then a lapped reader
 * (its skip-ahead scans for headers) still gets whole records only, and
 * delivered + lost == sent. */
static void test_large_records_wrap_and_lap(void)
{
    tp_ipc_context_t c = ctx;
    c.log_capacity = 8192;
    c.max_message = 2048;
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &c, "tp:ipc", 22) == 0);
    CHECK(tp_ipc_publication_open(&pub, &c, "tp:ipc", 22) == 0);
    rx_t rx = {0};
    uint8_t buf[2048];
    uint64_t seq = 0;
    for (; seq < 3000; seq++) { /* lockstep: every record read */
        size_t len = 120 + (seq * 97) % 1900;
        tp_test_fill(buf, len, 0, seq);
        CHECK(tp_ipc_publication_offer(pub, buf, len) > 0);
        if (seq % 2) drain(sub, &rx);
    }
    drain(sub, &rx);
    CHECK(rx.bad == 0);
    CHECK_EQ_U64((uint64_t)rx.count, 3000);
    CHECK_EQ_U64(tp_ipc_subscription_loss_count(sub), 0);
    for (; seq < 3500; seq++) { /* many laps without reading */
        size_t len = 120 + (seq * 97) % 1900;
        tp_test_fill(buf, len, 0, seq);
        CHECK(tp_ipc_publication_offer(pub, buf, len) > 0);
    }
    for (int k = 0; k < 3; k++) drain(sub, &rx);
    CHECK(rx.bad == 0);
    CHECK(rx.count > 3000);
    CHECK_EQ_U64(rx.next_seq, 3500);
    CHECK_EQ_U64((uint64_t)rx.count + tp_ipc_subscription_loss_count(sub), 3500);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
}

/* At the log level: after reserve and copy, a large record's payload is in
 * place but its header line still holds no length, sequence or tag (publish
 * writes them last, so the reader's line changes hands once); a reader sees
 * nothing until publish and then the right length and sequence. */
static void test_large_header_written_at_publish(void)
{
    tp_test_log_pair_t lp;
    tp_test_log_pair_open(&lp, "writer", 23, 1u << 16, 4096);
    tp_ipc_log_writer_t *w = &lp.w;
    tp_ipc_log_reader_t *r = &lp.r;
    static uint8_t scratch[8192], src[2048];
    for (uint64_t i = 0; i < 8; i++) {
        size_t len = 1024 + 16 * (size_t)i;
        tp_test_fill(src, len, 0, i);
        uint64_t pos = w->position;
        uint8_t *dst = tp_ipc_log_writer_reserve(w, len);
        tp_ipc_log_writer_copy(dst, src, len);
        const tp_ipc_rec_t *h = (const tp_ipc_rec_t *)(const void *)(dst - TP_IPC_REC_HEADER);
        CHECK(memcmp(dst, src, len) == 0);
        CHECK(atomic_load(&h->length) == 0); /* fresh log: nothing stored there yet */
        CHECK(atomic_load(&h->sequence) == 0);
        CHECK(atomic_load(&h->tag) == 0);
        uint64_t end;
        CHECK(tp_ipc_log_reader_copy(r, scratch, sizeof scratch, 4, &end) == 0);
        CHECK_EQ_U64(tp_ipc_log_writer_publish(w), pos + tp_ipc_rec_size(len));
        CHECK(atomic_load(&h->length) == (int32_t)len);
        CHECK(atomic_load(&h->sequence) == (uint32_t)i);
        CHECK_EQ_U64(atomic_load(&h->tag), tp_ipc_rec_tag(pos, TP_IPC_REC_DATA));
        CHECK(tp_ipc_log_reader_copy(r, scratch, sizeof scratch, 4, &end) == 1);
        int32_t rl;
        memcpy(&rl, scratch + 8, sizeof rl);
        CHECK(rl == (int32_t)len);
        uint32_t pubi;
        uint64_t seq;
        CHECK(tp_test_verify(scratch + TP_IPC_REC_HEADER, len, &pubi, &seq) && seq == i);
        r->position = end;
    }
    tp_test_log_pair_close(&lp);
}

int main(void)
{
    tp_test_dir_setup(&ctx);
    /* These tests check the scan rules poll by poll, so poll does the upkeep
     * (TP_IPC_CONDUCTOR_CALLER); the conductor thread, the default, has its
     * own tests (test_ipc_conductor) and runs under every other test. */
    ctx.conductor = TP_IPC_CONDUCTOR_CALLER;
    RUN(test_large_records_every_alignment);
    RUN(test_aborted_large_claim_then_reuse);
    RUN(test_large_records_wrap_and_lap);
    RUN(test_large_header_written_at_publish);
    tp_test_dir_cleanup();
    TP_TEST_END();
}
