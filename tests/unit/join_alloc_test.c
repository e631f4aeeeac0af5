/* JB-5.1 / scenario 92 (barrier part): after create and one apply, updates,
 * readiness checks, selection, explanation, re-announces, epoch changes and
 * announce decode/encode perform zero allocations (counted via --wrap). */
#include "alloc_count.h"
#include "join_fixture.h"

#include "tensorpool/join_explain.h"
#include "tensorpool/merge_map_codec.h"

static void exercise(tp_join_barrier_t *b, tp_merge_map_t *m, tp_merge_map_t *decoded, int rounds)
{
    uint8_t wire[512];
    tp_join_latest_t sel[8];
    tp_join_explain_t ex[8];
    uint32_t ids[8];
    for (int i = 0; i < rounds; i++) {
        uint64_t now = (uint64_t)i * 10;
        for (uint32_t s = 1; s <= 4; s++) {
            tp_join_barrier_observe_seq(b, s, (uint64_t)i, now);
            tp_join_barrier_observe_seq_in_epoch(b, s, 1, (uint64_t)i, now);
            tp_join_barrier_process_seq(b, s, (uint64_t)i);
            tp_join_barrier_process_seq_in_epoch(b, s, 1, (uint64_t)i);
            tp_join_barrier_observe_time(b, s, FD, (uint64_t)i * 100, MONO, now);
            tp_join_barrier_observe_time_in_epoch(b, s, 1, FD, (uint64_t)i * 100, MONO, now);
            tp_join_barrier_process_time(b, s, FD, (uint64_t)i * 100, MONO);
            tp_join_barrier_process_time_in_epoch(b, s, 1, FD, (uint64_t)i * 100, MONO);
        }
        tp_join_barrier_observe_seq(b, 99, 1, now); /* untracked */
        tp_join_barrier_observe_descriptor(b, 3, 1, (uint64_t)i, (uint64_t)i * 100, now);
        switch (tp_join_barrier_mode(b)) {
        case TP_JOIN_MODE_SEQUENCE: tp_join_barrier_ready_seq(b, (uint64_t)i, now); break;
        case TP_JOIN_MODE_TIMESTAMP: tp_join_barrier_ready_time(b, (uint64_t)i * 100, MONO, now); break;
        default:
            tp_join_barrier_ready_latest(b, now);
            tp_join_barrier_ready_latest_out(b, (uint64_t)i, now);
            tp_join_barrier_collect_latest(b, sel, 8);
            tp_join_barrier_invalidate_latest(b, 2);
            break;
        }
        tp_join_barrier_collect_stale(b, now + 1000, ids, 8);
        tp_join_barrier_explain(b, (uint64_t)i, now, ex, 8);
        /* soft-state re-announce through the codec: encode, decode, apply */
        long n = tp_merge_announce_encode(m, 8, wire, sizeof wire);
        if (n > 0) tp_merge_announce_decode(decoded, wire, (size_t)n);
        tp_join_barrier_apply(b, decoded, now); /* REFRESHED */
    }
    /* replacement, invalid map, epoch change: still no allocation */
    uint64_t saved = m->epoch;
    m->epoch = saved + 1;
    tp_join_barrier_apply(b, m, 0);
    uint32_t count = m->rule_count;
    m->rule_count = 0;
    tp_join_barrier_apply(b, m, 0); /* INVALID */
    m->rule_count = count;
    tp_join_barrier_set_active_epoch(b, saved + 2);
    m->epoch = saved + 2;
    tp_join_barrier_apply(b, m, 0);
    m->epoch = saved;
}

static void run_mode(tp_join_mode_t mode, tp_merge_kind_t kind)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, mode, OUT, 8);
    cfg.use_processed = 1;
    tp_join_barrier_t *b = fx_barrier_cfg(&cfg);
    tp_merge_map_t *m = kind == TP_MERGE_KIND_SEQUENCE ? fx_seq_map(1, 50) : fx_time_map(1, 50, MONO, 10);
    for (uint32_t s = 1; s <= 4; s++) {
        if (kind == TP_MERGE_KIND_SEQUENCE) tp_merge_map_add_offset(m, s, -(int32_t)s);
        else tp_merge_map_add_window_ns(m, s, FD, 20);
    }
    tp_merge_map_t decoded;
    CHECK(tp_merge_map_init(&decoded, TP_MERGE_KIND_SEQUENCE, 8) == 0);
    CHECK(tp_join_barrier_apply(b, m, 0) == TP_JOIN_APPLY_REPLACED);
    exercise(b, m, &decoded, 3); /* warm-up: first calls of libc paths */

    uint64_t before = tp_alloc_count();
    exercise(b, m, &decoded, 1000);
    CHECK_EQ_U64(tp_alloc_count() - before, 0);

    tp_merge_map_close(&decoded);
    tp_join_barrier_destroy(b);
}

static void s92_no_allocation_sequence(void) { run_mode(TP_JOIN_MODE_SEQUENCE, TP_MERGE_KIND_SEQUENCE); }
static void s92_no_allocation_timestamp(void) { run_mode(TP_JOIN_MODE_TIMESTAMP, TP_MERGE_KIND_TIMESTAMP); }
static void s92_no_allocation_latest_value(void) { run_mode(TP_JOIN_MODE_LATEST_VALUE, TP_MERGE_KIND_SEQUENCE); }

/* The counter itself works (guards against a silently unwrapped build). */
static void alloc_counter_sees_barrier_create(void)
{
    uint64_t before = tp_alloc_count();
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    CHECK(tp_alloc_count() > before);
    tp_join_barrier_destroy(b);
}

int main(void)
{
    RUN(alloc_counter_sees_barrier_create);
    RUN(s92_no_allocation_sequence);
    RUN(s92_no_allocation_timestamp);
    RUN(s92_no_allocation_latest_value);
    tp_merge_map_close(&fx_map);
    TP_TEST_END();
}
