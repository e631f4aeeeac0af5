/* Descriptor gap accounting (§5.5, D-23, D-6, W-15.4.d; §7 scenarios 59-62). */
#include "tensorpool/shm_drops.h"
#include "tp_test.h"

/* §7 #59: 10, 11, 14 -> drops_gap 2, last 14. */
static void test_sequence_gap(void)
{
    tp_shm_drops_t d;
    tp_shm_drops_reset(&d, 0);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 10), TP_SEQ_READ);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 11), TP_SEQ_READ);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 14), TP_SEQ_READ);
    CHECK_EQ_U64(d.drops_gap, 2);
    CHECK_EQ_U64(d.last_seq_seen, 14);
}

/* §7 #60, D-23: the first descriptor after (re)map is never a gap, even 1000
 * or 0. */
static void test_first_descriptor(void)
{
    tp_shm_drops_t d;
    tp_shm_drops_reset(&d, 0);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 1000), TP_SEQ_READ);
    CHECK_EQ_U64(d.drops_gap, 0);
    tp_shm_drops_reset(&d, 0);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 0), TP_SEQ_READ);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 1), TP_SEQ_READ); /* seq 0 behaves normally */
    CHECK_EQ_U64(d.drops_gap, 0);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 3), TP_SEQ_READ);
    CHECK_EQ_U64(d.drops_gap, 1);
}

/* §7 #61, D-6, W-15.2.c: a duplicate changes nothing; a regression asks for
 * an unmap and changes no counter. */
static void test_duplicate_and_regression(void)
{
    tp_shm_drops_t d;
    tp_shm_drops_reset(&d, 0);
    tp_shm_drops_on_descriptor(&d, 10);
    tp_shm_drops_on_descriptor(&d, 14);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 14), TP_SEQ_DUPLICATE);
    CHECK_EQ_U64(d.drops_gap, 3);
    CHECK_EQ_U64(d.last_seq_seen, 14);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 12), TP_SEQ_REGRESSION);
    CHECK_EQ_U64(d.drops_gap, 3);
    CHECK_EQ_U64(d.last_seq_seen, 14);
}

/* §7 #62, W-15.4.d: a gap above max_outstanding_seq_gap resyncs and counts. */
static void test_large_gap_resync(void)
{
    tp_shm_drops_t d;
    tp_shm_drops_reset(&d, 0);
    CHECK_EQ_U64(d.max_seq_gap, 256);
    tp_shm_drops_on_descriptor(&d, 100);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 500), TP_SEQ_RESYNC);
    CHECK_EQ_U64(d.drops_gap, 399);
    CHECK_EQ_U64(d.last_seq_seen, 500);
    CHECK_EQ_U64(d.resyncs, 1);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 757), TP_SEQ_READ); /* gap 256: not above */
    tp_shm_drops_reset(&d, 4);
    tp_shm_drops_on_descriptor(&d, 0);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 6), TP_SEQ_RESYNC);
}

/* §5.3: reset clears everything, including have_last. */
static void test_reset(void)
{
    tp_shm_drops_t d;
    tp_shm_drops_reset(&d, 0);
    tp_shm_drops_on_descriptor(&d, 1);
    tp_shm_drops_on_descriptor(&d, 9);
    d.drops_late = 5;
    tp_shm_drops_reset(&d, 0);
    CHECK(!d.have_last);
    CHECK_EQ_U64(d.drops_gap + d.drops_late + d.drops_invalid + d.accepted + d.last_seq_seen, 0);
    CHECK_EQ_I64(tp_shm_drops_on_descriptor(&d, 3), TP_SEQ_READ);
    CHECK_EQ_U64(d.drops_gap, 0);
    CHECK_EQ_U64(d.first_seq, 3);
}

int main(void)
{
    RUN(test_sequence_gap);
    RUN(test_first_descriptor);
    RUN(test_duplicate_and_regression);
    RUN(test_large_gap_resync);
    RUN(test_reset);
    TP_TEST_END();
}
