/* Embedded IPC reader, at the log level: a reader waiting for a tag looks at
 * the writer's tail only now and then (TP_IPC_TAIL_CHECK_EVERY empty polls),
 * yet a log whose tail moved on with no tag where the next record should be
 * (corrupt, or a hostile writer) does not hold it for good: it skips to the
 * tail, counts the loss and reads what is published there. */
#include "ipc_log_pair.h"

static tp_ipc_context_t ctx;

static void publish(tp_ipc_log_writer_t *w, uint64_t i)
{
    uint8_t src[64];
    tp_test_fill(src, sizeof src, 0, i);
    uint8_t *dst = tp_ipc_log_writer_reserve(w, sizeof src);
    tp_ipc_log_writer_copy(dst, src, sizeof src);
    tp_ipc_log_writer_publish(w);
}

static void test_tail_without_tags_is_skipped(void)
{
    tp_test_log_pair_t lp;
    tp_test_log_pair_open(&lp, "reader", 24, 1u << 16, 4096);
    tp_ipc_log_writer_t *w = &lp.w;
    tp_ipc_log_reader_t *r = &lp.r;
    static uint8_t scratch[8192];
    uint64_t end;
    for (uint64_t i = 0; i < 3; i++) publish(w, i);
    CHECK(tp_ipc_log_reader_copy(r, scratch, sizeof scratch, 8, &end) == 3);
    r->position = end;
    r->next_sequence = 3;
    /* The writer's tail and count move on by two records that were never
     * tagged: the reader finds no tag at its position. */
    const uint64_t forged = end + 2 * tp_ipc_rec_size(64);
    atomic_store(&w->meta->tail, forged);
    atomic_store(&w->meta->tail_sequence, 5);
    int polls = 0;
    while (r->position == end && polls < 4 * TP_IPC_TAIL_CHECK_EVERY) {
        CHECK(tp_ipc_log_reader_copy(r, scratch, sizeof scratch, 8, &end) == 0);
        polls++;
    }
    CHECK_EQ_U64(r->position, forged);
    CHECK(polls <= TP_IPC_TAIL_CHECK_EVERY);
    CHECK_EQ_U64(r->loss, 2);
    /* A record published at the tail is read from there. */
    w->position = forged;
    w->sequence = 5;
    publish(w, 5);
    CHECK(tp_ipc_log_reader_copy(r, scratch, sizeof scratch, 8, &end) == 1);
    uint32_t pubi;
    uint64_t seq;
    CHECK(tp_test_verify(scratch + TP_IPC_REC_HEADER, 64, &pubi, &seq) && seq == 5);
    tp_test_log_pair_close(&lp);
}

int main(void)
{
    tp_test_dir_setup(&ctx);
    RUN(test_tail_without_tags_is_skipped);
    tp_test_dir_cleanup();
    TP_TEST_END();
}
