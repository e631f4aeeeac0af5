/* Encoding and decoding a FrameDescriptor (the per-frame message) and a
 * MergeMap announce allocate nothing. */
#include "alloc_count.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/merge.h"
#include "tp_test.h"

#include <stdlib.h>

static void frame_descriptor_round_trip_allocates_nothing(void)
{
    uint8_t buf[64];
    uint64_t before = tp_alloc_count();
    uint64_t sum = 0;
    for (uint64_t seq = 0; seq < 100000; seq++) {
        tp_control_frame_descriptor_enc_t e;
        tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
        tp_control_frame_descriptor_set_stream_id(&e, 10000);
        tp_control_frame_descriptor_set_epoch(&e, 1);
        tp_control_frame_descriptor_set_seq(&e, seq);
        long n = tp_control_frame_descriptor_encode_end(&e);
        tp_control_frame_descriptor_dec_t d;
        if (n < 0 || tp_control_frame_descriptor_decode(&d, buf, (size_t)n) < 0)
            break;
        sum += tp_control_frame_descriptor_seq(&d);
    }
    CHECK_EQ_U64(sum, 99999ull * 100000ull / 2);
    CHECK_EQ_U64(tp_alloc_count() - before, 0);
}

static void announce_decode_and_iterate_allocates_nothing(void)
{
    uint8_t buf[256];
    tp_merge_sequence_merge_map_announce_enc_t e;
    tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, sizeof buf);
    tp_merge_sequence_merge_map_announce_rules_encode_begin(&e, 4);
    for (uint32_t i = 0; i < 4; i++) {
        tp_merge_sequence_merge_map_announce_rules_encode_next(&e);
        tp_merge_sequence_merge_map_announce_rules_set_input_stream_id(&e, i + 1);
    }
    long n = tp_merge_sequence_merge_map_announce_encode_end(&e);
    uint64_t before = tp_alloc_count();
    uint64_t ids = 0;
    for (int k = 0; k < 1000; k++) {
        tp_merge_sequence_merge_map_announce_dec_t d;
        if (tp_merge_sequence_merge_map_announce_decode(&d, buf, (size_t)n) < 0)
            break;
        tp_merge_sequence_merge_map_announce_rules_iter_t it;
        tp_merge_sequence_merge_map_announce_rules_iter(&d, &it);
        while (tp_merge_sequence_merge_map_announce_rules_next(&it) == 1)
            ids += tp_merge_sequence_merge_map_announce_rules_input_stream_id(&it);
    }
    CHECK_EQ_U64(ids, 10 * 1000);
    CHECK_EQ_U64(tp_alloc_count() - before, 0);
}

static void counter_sees_library_allocations(void)
{
    /* The counter must be live, or the tests above prove nothing. */
    uint64_t before = tp_alloc_count();
    void *volatile p = malloc(16);
    CHECK(tp_alloc_count() == before + 1);
    free(p);
}

int main(void)
{
    RUN(counter_sees_library_allocations);
    RUN(frame_descriptor_round_trip_allocates_nothing);
    RUN(announce_decode_and_iterate_allocates_nothing);
    TP_TEST_END();
}
