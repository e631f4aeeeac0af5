/* JoinBarrier scenarios 1–71 of docs/spec/join-barrier.md §6, one test each,
 * named sNN_<scenario>. Requirement IDs are cited where each is shown. */
#include "join_fixture.h"

#include "tensorpool/join_explain.h"

/* ---------------- Sequence ---------------- */

/* JB-7.1.a, JB-7.1.b, JB-6.2.1.a, JB-6.1.a */
static void s01_sequence_two_inputs(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    RDY(b, 5, 0, "1,2");
    OBS(b, 1, 5);
    RDY(b, 5, 0, "2");
    OBS(b, 2, 5);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.1.a */
static void s02_positive_offset(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 3);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 7);
    RDY(b, 5, 0, "1");
    OBS(b, 1, 8);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.1.a, JB-6.2.1.b (negative int32) */
static void s03_negative_offset(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, -2);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 12034);
    OBS(b, 2, 12031);
    RDY(b, 12034, 0, "2");
    OBS(b, 2, 12032);
    RDY(b, 12034, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.1.c */
static void s04_negative_underflow(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, -3);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 100);
    RDY(b, 2, 0, "1");
    RDY(b, 3, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-7.1.a: an unset cursor never satisfies (spec §7 item 13) */
static void s05_no_observation_threshold_zero(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    RDY(b, 0, 0, "1");
    OBS(b, 1, 0);
    RDY(b, 0, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.2.a: upper bound only */
static void s06_window(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_window(m, 1, 5);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 9);
    RDY(b, 10, 0, "1");
    OBS(b, 1, 10);
    RDY(b, 10, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.2.c */
static void s07_window_underflow(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_window(m, 1, 4);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 100);
    RDY(b, 2, 0, "1");
    RDY(b, 3, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.2.b, JB-6.2.2.c */
static void s08_window_one_at_zero(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_window(m, 1, 1);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 0);
    RDY(b, 0, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.a (several rules per entry) */
static void s09_mixed(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_window(m, 2, 3);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    RDY(b, 1, 0, "1,2");
    OBS(b, 1, 5);
    OBS(b, 2, 5);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.1.b (u64 sequences), §7 item 15 */
static void s10_overflow_guard(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 1);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, UINT64_MAX);
    RDY(b, UINT64_MAX - 1, 1, "");
    RDY(b, UINT64_MAX, 0, "1");
    tp_join_barrier_destroy(b);
}

/* §7 item 9 */
static void s11_sequence_regression(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 10);
    UPD(tp_join_barrier_observe_seq(b, 1, 7, 0), TP_JOIN_UPDATE_REGRESSION);
    RDY(b, 10, 1, "");
    RDY(b, 11, 0, "1");
    tp_join_barrier_destroy(b);
}

static void s12_untracked(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_seq(b, 99, 5, 0), TP_JOIN_UPDATE_NOT_TRACKED);
    RDY(b, 5, 0, "1");
    tp_join_barrier_destroy(b);
}

/* §7 item 16 */
static void s13_duplicate_ids(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 1, -2);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 1, "");
    RDY(b, 7, 0, "1");
    RDY(b, 8, 0, "1,1");
    tp_join_barrier_destroy(b);
}

/* ---------------- Processed gating ---------------- */

static tp_join_barrier_t *processed_barrier(tp_join_mode_t mode)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, mode, OUT, 8);
    cfg.use_processed = 1;
    return fx_barrier_cfg(&cfg);
}

/* JB-7.1.a (processed gating), JB-4.2 */
static void s14_processed_gating(void)
{
    tp_join_barrier_t *b = processed_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 0, "1");
    UPD(tp_join_barrier_process_seq(b, 1, 4), TP_JOIN_UPDATE_OK);
    RDY(b, 5, 0, "1");
    UPD(tp_join_barrier_process_seq(b, 1, 5), TP_JOIN_UPDATE_OK);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* §7 item 13 */
static void s15_processed_unset_at_zero(void)
{
    tp_join_barrier_t *b = processed_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 0);
    RDY(b, 0, 0, "1");
    UPD(tp_join_barrier_process_seq(b, 1, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 0, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.1.c (processed gating), JB-4.1 (processed time by the rule's source) */
static void s16_timestamp_processed_gating(void)
{
    tp_join_barrier_t *b = processed_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 7, 100);
    RDY(b, 100, 0, "7");
    UPD(tp_join_barrier_process_time(b, 7, FD, 99, MONO), TP_JOIN_UPDATE_OK);
    RDY(b, 100, 0, "7");
    UPD(tp_join_barrier_process_time(b, 7, FD, 100, MONO), TP_JOIN_UPDATE_OK);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-7.4.b: processed updates never refresh the staleness clock */
static void s17_processed_does_not_refresh_staleness(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, 10);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 9, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 4, 5);
    UPD(tp_join_barrier_process_seq(b, 1, 5), TP_JOIN_UPDATE_OK); /* at now 15: processed updates take no time */
    OBS_AT(b, 9, 5, 16);
    RDY_AT(b, 5, 16, 1, "", "1", "", 0);
    tp_join_barrier_destroy(b);
}

/* ---------------- Staleness ---------------- */

/* JB-7.4.a, JB-7.4.b, JB-7.4.c, JB-7.4.d */
static void s18_staleness(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, 5000000000ull);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 10, 1);
    OBS_AT(b, 2, 10, 1);
    RDY_AT(b, 10, 6000000000ull, 1, "", "", "", 0);
    OBS_AT(b, 1, 11, 6000000000ull);
    RDY_AT(b, 11, 12000000000ull, 1, "", "2", "", 0);
    tp_join_barrier_destroy(b);
}

/* JB-7.4.b: strictly greater than */
static void s19_stale_strict_boundary(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, 10);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 9, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 4, 5);
    OBS_AT(b, 9, 5, 5);
    RDY_AT(b, 5, 15, 0, "1", "", "", 0);
    RDY_AT(b, 5, 16, 1, "", "1", "", 0);
    tp_join_barrier_destroy(b);
}

/* §7 item 4: never observed is missing, never stale */
static void s20_never_observed_not_stale(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, 5);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 1, 1);
    RDY_AT(b, 1, 1000000000000ull, 0, "2", "", "", 0);
    tp_join_barrier_destroy(b);
}

static void s21_observation_at_time_zero_counts(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, 10);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 9, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 4, 0);
    OBS_AT(b, 9, 5, 11);
    RDY_AT(b, 5, 11, 1, "", "1", "", 0);
    tp_join_barrier_destroy(b);
}

/* JB-7.4.e */
static void s22_no_timeout_keeps_blocking(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 4, 0);
    RDY_AT(b, 5, 1000000000000000ull, 0, "1", "", "", 0);
    tp_join_barrier_destroy(b);
}

/* JB-7.4.a: the policy is optional (local switch) */
static void s23_stale_policy_off(void)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 8);
    cfg.allow_stale = 0;
    tp_join_barrier_t *b = fx_barrier_cfg(&cfg);
    tp_merge_map_t *m = fx_seq_map(1, 10);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 4, 5);
    RDY_AT(b, 5, 100, 0, "1", "", "", 0);
    tp_join_barrier_destroy(b);
}

static void s24_timestamp_stale(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, 10, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    tp_merge_map_add_offset_ns(m, 9, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST_AT(b, 7, 100, 5);
    OBST_AT(b, 9, 200, 20);
    RDY_AT(b, 200, 20, 1, "", "7", "", 0);
    tp_join_barrier_destroy(b);
}

/* §7 item 18 */
static void s24a_all_stale(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, 10);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 4, 5);
    RDY_AT(b, 5, 16, 0, "", "1", "", 0);
    tp_join_barrier_destroy(b);

    b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    m = fx_seq_map(1, 10);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 4, 5);
    OBS_AT(b, 2, 4, 5);
    RDY_AT(b, 5, 16, 0, "", "1,2", "", 0);
    tp_join_barrier_destroy(b);
}

/* §7 item 19 (project extension) */
static void s24b_quorum(void)
{
    uint32_t quorums[3] = {2, 3, 0};
    int expect[3] = {1, 0, 0};
    for (int k = 0; k < 3; k++) {
        tp_join_barrier_config_t cfg;
        tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 8);
        cfg.quorum = quorums[k];
        tp_join_barrier_t *b = fx_barrier_cfg(&cfg);
        tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
        tp_merge_map_add_offset(m, 1, 0);
        tp_merge_map_add_offset(m, 2, 0);
        tp_merge_map_add_offset(m, 3, 0);
        APPLY(b, m, TP_JOIN_APPLY_REPLACED);
        OBS(b, 1, 5);
        OBS(b, 2, 5);
        RDY(b, 5, expect[k], "3");
        tp_join_barrier_destroy(b);
    }
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_TIMESTAMP, OUT, 8);
    cfg.quorum = 1;
    tp_join_barrier_t *b = fx_barrier_cfg(&cfg);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    tp_merge_map_add_offset_ns(m, 8, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 7, 100);
    OBST(b, 8, 100);
    UPD(tp_join_barrier_observe_time(b, 8, FD, 50, MONO, 0), TP_JOIN_UPDATE_TIME_REJECTED);
    RDY_AT(b, 100, 0, 0, "", "", "8", 0);
    /* a quorum above the rule count is clamped to it */
    tp_join_barrier_set_quorum(b, 50);
    tp_join_barrier_set_active_epoch(b, 2);
    m->epoch = 2;
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 7, 100);
    RDY(b, 100, 0, "8");
    OBST(b, 8, 100);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-7.4.d (visibility of silent inputs, satisfied or not) */
static void s25_silent_input_query(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, 5);
    tp_merge_map_add_offset(m, 6, 0);
    tp_merge_map_add_offset(m, 7, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 6, 1, 1);
    OBS_AT(b, 7, 1, 6);
    uint32_t ids[4];
    CHECK_EQ_U64(tp_join_barrier_collect_stale(b, 10, ids, 4), 1);
    CHECK_EQ_U64(ids[0], 6);
    tp_join_barrier_destroy(b);
}

/* ---------------- Timestamp ---------------- */

/* JB-6.3.a, JB-8.1.c, JB-8.1.d, JB-6.3.1.a, JB-8.2.b */
static void s26_timestamp_basic(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    RDY(b, 100, 0, "7");
    OBST(b, 7, 100);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.3.1.b (negative int64), JB-8.1.a, JB-8.1.b, JB-14.3 */
static void s27_negative_offset_realtime(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, RT, 0);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    tp_merge_map_add_offset_ns(m, 2, FD, -5000000);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    const uint64_t t0 = 1700000000000000000ull;
    UPD(tp_join_barrier_observe_time(b, 1, FD, t0, RT, 0), TP_JOIN_UPDATE_OK);
    UPD(tp_join_barrier_observe_time(b, 2, FD, t0 - 5000001, RT, 0), TP_JOIN_UPDATE_OK);
    RDY_DOM(b, t0, RT, 0, "2", "", "", 0);
    UPD(tp_join_barrier_observe_time(b, 2, FD, t0 - 5000000, RT, 0), TP_JOIN_UPDATE_OK);
    RDY_DOM(b, t0, RT, 1, "", "", "", 0);
    tp_join_barrier_destroy(b);
}

/* JB-6.3.1.c, §7 item 7 */
static void s28_negative_underflow_ignores_lateness(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 5000);
    tp_merge_map_add_offset_ns(m, 1, FD, -1000);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 10000);
    RDY(b, 999, 0, "1");
    RDY(b, 1000, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.1.c, JB-6.3.1.d, JB-8.2.g, §7 item 8 */
static void s29_positive_offset_with_lateness(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 30);
    tp_merge_map_add_offset_ns(m, 1, FD, 100);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 169);
    RDY(b, 100, 0, "1");
    OBST(b, 1, 170);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.3.2.d, JB-6.3.2.e, JB-8.2.h, JB-8.2.i, JB-8.2.f */
static void s30_window_needs_lateness(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 0);
    tp_merge_map_add_window_ns(m, 9, FD, 50);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 9, 95);
    RDY(b, 100, 0, "9");
    m->lateness_ns = 10;
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 9, 95);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.3.2.a, JB-6.3.2.c */
static void s31_window_ns_underflow(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 100);
    tp_merge_map_add_window_ns(m, 1, FD, 50);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 1000);
    RDY(b, 49, 0, "1");
    RDY(b, 50, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.1.c, §3.4 sat_sub */
static void s32_lateness_saturates(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 1000);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 1);
    RDY(b, 500, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.1.e */
static void s33_camera_imu(void)
{
    for (int fresh = 0; fresh < 2; fresh++) {
        tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
        tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 10000000);
        tp_merge_map_add_offset_ns(m, 1, FD, 0);
        tp_merge_map_add_window_ns(m, 2, FD, 10000000);
        APPLY(b, m, TP_JOIN_APPLY_REPLACED);
        OBST(b, 1, 20000000);
        if (!fresh) {
            OBST(b, 2, 15000000);
            RDY(b, 20000000, 1, "");
        } else {
            OBST(b, 2, 9999999);
            RDY(b, 20000000, 0, "2");
        }
        tp_join_barrier_destroy(b);
    }
}

static void s34_fusion(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 50000000);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    tp_merge_map_add_window_ns(m, 2, FD, 50000000);
    tp_merge_map_add_window_ns(m, 3, FD, 10000000);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 100000000);
    OBST(b, 2, 60000000);
    OBST(b, 3, 55000000);
    RDY(b, 100000000, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.2.k */
static void s35_null_timestamp(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 3, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_time(b, 3, FD, UINT64_MAX, MONO, 0), TP_JOIN_UPDATE_IGNORED_NULL);
    RDY(b, 100, 0, "3");
    OBST(b, 3, 100);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.2.j, JB-8.0.a, §7 item 6 */
static void s36_non_monotonic_input(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 7, 200);
    UPD(tp_join_barrier_observe_time(b, 7, FD, 100, MONO, 0), TP_JOIN_UPDATE_TIME_REJECTED);
    RDY_AT(b, 200, 0, 0, "", "", "7", 0);
    OBST(b, 7, 300);
    RDY_AT(b, 300, 0, 0, "", "", "7", 0);
    m->epoch = 2;
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 7, 300);
    RDY(b, 300, 1, "");
    tp_join_barrier_destroy(b);
}

static void s37_equal_timestamps(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 7, 200);
    OBST(b, 7, 200);
    RDY(b, 200, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.2.e, JB-8.2.d, JB-14.3 */
static void s38_input_domain_mismatch(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_time(b, 7, FD, 100, RT, 0), TP_JOIN_UPDATE_DOMAIN_REJECTED);
    RDY_AT(b, 100, 0, 0, "", "", "7", 0);
    tp_join_barrier_destroy(b);
}

/* JB-8.2.e, JB-8.2.l (domain of out_time) */
static void s39_output_domain_mismatch(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 7, 100);
    RDY_DOM(b, 100, RT, 0, "", "", "", 1);
    RDY_DOM(b, 100, MONO, 1, "", "", "", 0);
    tp_join_barrier_destroy(b);
}

/* JB-8.2.a, JB-8.2.c, JB-4.1 */
static void s40_source_mismatch(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 9, SH, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_time(b, 9, FD, 500, MONO, 0), TP_JOIN_UPDATE_NOT_TRACKED);
    RDY(b, 500, 0, "9");
    UPD(tp_join_barrier_observe_time(b, 9, SH, 500, MONO, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 500, 1, "");
    tp_join_barrier_destroy(b);
}

static void s41_one_stream_two_sources(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 5, FD, 0);
    tp_merge_map_add_offset_ns(m, 5, SH, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_time(b, 5, FD, 100, MONO, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 100, 0, "5");
    UPD(tp_join_barrier_observe_time(b, 5, SH, 100, MONO, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* ---------------- Output monotonicity ---------------- */

/* JB-8.2.l (applied to out_seq too, §7 item 5) */
static void s42_out_seq_regression(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 20);
    RDY(b, 10, 1, "");
    RDY_AT(b, 9, 0, 0, "", "", "", 1);
    RDY(b, 10, 1, "");
    RDY(b, 11, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.2.l */
static void s43_out_time_regression(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 300);
    RDY(b, 200, 1, "");
    RDY_AT(b, 100, 0, 0, "", "", "", 1);
    RDY(b, 200, 1, "");
    RDY(b, 300, 1, "");
    tp_join_barrier_destroy(b);
}

static void s44_watermark_reset(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 20);
    RDY(b, 10, 1, "");
    m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 1);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 20);
    RDY(b, 3, 1, "");
    tp_join_barrier_destroy(b);
}

/* ---------------- Map validity and replacement ---------------- */

/* JB-6.2.c, JB-6.2.d, JB-6.2.f, JB-6.4.b */
static void s45_both_parameters_invalid(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 1, "");
    m = fx_seq_map(1, NO_STALE);
    fx_raw(m, 1, TP_MERGE_RULE_OFFSET, 0, 0, 4);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    CHECK(strstr(tp_errmsg(), "OFFSET with windowSize") != NULL);
    RDY(b, 5, 0, "");
    CHECK(!tp_join_barrier_has_map(b));
    m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.c, JB-6.2.d, JB-6.2.e, JB-6.3.c, JB-6.3.d, JB-6.3.e, JB-6.3.f */
static void s46_no_parameter_invalid(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    fx_raw(m, 1, TP_MERGE_RULE_OFFSET, 0, TP_MERGE_NULL_OFFSET, TP_MERGE_NULL_U32);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    RDY(b, 5, 0, "");
    m = fx_seq_map(1, NO_STALE);
    fx_raw(m, 1, TP_MERGE_RULE_WINDOW, 0, TP_MERGE_NULL_OFFSET, TP_MERGE_NULL_U32);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    RDY(b, 5, 0, "");
    tp_join_barrier_destroy(b);

    b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    fx_raw(m, 1, TP_MERGE_RULE_OFFSET, FD, TP_MERGE_NULL_OFFSET_NS, TP_MERGE_NULL_U64);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    RDY(b, 5, 0, "");
    m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    fx_raw(m, 1, TP_MERGE_RULE_WINDOW, FD, 5, 10);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    RDY(b, 5, 0, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.2.2.b, JB-6.3.2.b */
static void s47_zero_window_invalid(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    fx_raw(m, 1, TP_MERGE_RULE_WINDOW, 0, TP_MERGE_NULL_OFFSET, 0);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    CHECK(tp_merge_map_add_window(m, 1, 0) == -1);
    tp_join_barrier_destroy(b);
    b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    fx_raw(m, 1, TP_MERGE_RULE_WINDOW, FD, TP_MERGE_NULL_OFFSET_NS, 0);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    CHECK(tp_merge_map_add_window_ns(m, 1, FD, 0) == -1);
    tp_join_barrier_destroy(b);
}

/* JB-6.2.a, §7 item 1 */
static void s48_zero_rules_invalid(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    RDY(b, 0, 0, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.3.b */
static void s49_bad_clock_domain(void)
{
    const uint8_t bad[3] = {0, 3, 255};
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    for (int i = 0; i < 3; i++) {
        tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
        tp_merge_map_add_offset_ns(m, 1, FD, 0);
        m->clock_domain = bad[i];
        APPLY(b, m, TP_JOIN_APPLY_INVALID);
        CHECK(tp_merge_map_set_clock(m, (tp_clock_domain_t)bad[i], 0) == -1);
    }
    tp_join_barrier_destroy(b);
}

/* JB-6.2.b, JB-8.2.a */
static void s50_unknown_enums(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    fx_raw(m, 1, 99, 0, 0, TP_MERGE_NULL_U32);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    tp_join_barrier_destroy(b);
    b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    const uint8_t bad[2] = {0, 99};
    for (int i = 0; i < 2; i++) {
        m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
        fx_raw(m, 1, TP_MERGE_RULE_OFFSET, bad[i], 0, TP_MERGE_NULL_U64);
        APPLY(b, m, TP_JOIN_APPLY_INVALID);
        CHECK(tp_merge_map_add_offset_ns(m, 1, (tp_timestamp_source_t)bad[i], 0) == -1);
    }
    tp_join_barrier_destroy(b);
}

static void s51_capacity(void)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 2);
    tp_join_barrier_t *b = fx_barrier_cfg(&cfg);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, 0);
    tp_merge_map_add_offset(m, 3, 0);
    APPLY(b, m, TP_JOIN_APPLY_INVALID);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    RDY(b, 0, 0, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.4.a, §7 item 17 */
static void s52_other_output_stream(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 1, "");
    m = fx_seq_map(1, NO_STALE);
    m->out_stream_id = 11;
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_IGNORED_OTHER_STREAM);
    m = fx_seq_map(1, NO_STALE); /* invalid (no rules) and for 11 */
    m->out_stream_id = 11;
    APPLY(b, m, TP_JOIN_APPLY_IGNORED_OTHER_STREAM);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* §7 item 17 */
static void s53_wrong_kind(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 1, "");
    m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_IGNORED_KIND);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.4.b */
static void s54_replacement_resets_inputs(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 1, "");
    tp_merge_map_add_offset(m, 2, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    RDY(b, 5, 0, "1,2");
    tp_join_barrier_destroy(b);
}

/* JB-10.1.f (soft state), JB-5.4 (maps are low-rate configuration), §7 item 3 */
static void s55_identical_reannounce(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    RDY(b, 5, 1, "");
    CHECK_EQ_I64(tp_join_barrier_apply(b, m, 77), TP_JOIN_APPLY_REFRESHED);
    CHECK_EQ_U64(tp_join_barrier_last_announce_ns(b), 77);
    RDY(b, 5, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-8.2.f, JB-10.4.e */
static void s56_lateness_zero_equals_absent(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, 0);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 100);
    RDY(b, 100, 1, "");
    m->lateness_ns = TP_MERGE_NULL_U64;
    APPLY(b, m, TP_JOIN_APPLY_REFRESHED);
    RDY(b, 100, 1, "");
    tp_join_barrier_destroy(b);
}

/* ---------------- Epochs ---------------- */

/* JB-6.4.c, JB-7.3.a, JB-7.3.b */
static void s57_set_active_epoch(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 8, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 8, 3);
    RDY(b, 3, 1, "");
    CHECK(tp_join_barrier_set_active_epoch(b, 2) == 0);
    RDY(b, 3, 0, "");
    m->epoch = 2;
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    RDY(b, 3, 0, "8");
    OBS(b, 8, 3);
    RDY(b, 3, 1, "");
    tp_join_barrier_destroy(b);
}

/* JB-6.4.a, JB-6.4.c */
static void s58_new_epoch_announce(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 8, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 8, 3);
    RDY(b, 3, 1, "");
    m->epoch = 2;
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    RDY(b, 3, 0, "8");
    tp_join_barrier_destroy(b);
}

/* §7 item 10 */
static void s59_older_epoch_announce(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 8, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 8, 3);
    m->epoch = 2;
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    m->epoch = 1;
    APPLY(b, m, TP_JOIN_APPLY_IGNORED_STALE_EPOCH);
    CHECK(tp_join_barrier_has_map(b));
    CHECK_EQ_U64(tp_join_barrier_active_map(b)->epoch, 2);
    tp_join_barrier_destroy(b);
}

/* JB-9.1.f applied to every barrier (§3.7 input epochs) */
static void s60_input_epoch_newer_resets_slot(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 1, 1, 10, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 10, 1, "");
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 1, 2, 5, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 10, 0, "1");
    tp_join_barrier_destroy(b);
}

static void s61_input_epoch_older_ignored(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 1, 2, 10, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 10, 1, "");
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 1, 1, 50, 0), TP_JOIN_UPDATE_STALE_EPOCH);
    RDY(b, 11, 0, "1");
    tp_join_barrier_destroy(b);
}

static void s62_newer_input_epoch_clears_rejection(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_time_in_epoch(b, 7, 1, FD, 200, MONO, 0), TP_JOIN_UPDATE_OK);
    UPD(tp_join_barrier_observe_time_in_epoch(b, 7, 1, FD, 100, MONO, 0), TP_JOIN_UPDATE_TIME_REJECTED);
    UPD(tp_join_barrier_observe_time_in_epoch(b, 7, 2, FD, 50, MONO, 0), TP_JOIN_UPDATE_OK);
    RDY(b, 50, 1, "");
    tp_join_barrier_destroy(b);
}

/* ---------------- LatestValue ---------------- */

static tp_join_barrier_t *latest_barrier(tp_join_ordering_t ordering)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_LATEST_VALUE, OUT, 8);
    cfg.latest_ordering = ordering;
    return fx_barrier_cfg(&cfg);
}

static tp_merge_map_t *map_45(uint64_t epoch, uint64_t stale)
{
    tp_merge_map_t *m = fx_seq_map(epoch, stale);
    tp_merge_map_add_offset(m, 4, 0);
    tp_merge_map_add_offset(m, 5, 0);
    return m;
}

#define LRDY(b, now, ready, mi, st, rj) RDY_AT(b, 0, now, ready, mi, st, rj, 0)

/* JB-9.1.a, JB-9.1.b, JB-9.1.c, JB-9.2.a, JB-9.2.b */
static void s63_latest_value_basic(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 4, 0);
    tp_merge_map_add_window(m, 5, 1);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    LRDY(b, 0, 0, "4,5", "", "");
    OBS(b, 4, 1);
    LRDY(b, 0, 0, "5", "", "");
    OBS(b, 5, 2);
    LRDY(b, 0, 1, "", "", "");
    tp_join_latest_t sel[8];
    CHECK_EQ_I64(tp_join_barrier_collect_latest(b, sel, 8), 2);
    CHECK_EQ_U64(sel[0].stream_id, 4);
    CHECK_EQ_U64(sel[0].seq, 1);
    CHECK_EQ_U64(sel[1].stream_id, 5);
    CHECK_EQ_U64(sel[1].seq, 2);

    tp_join_barrier_destroy(b);
}

/* JB-P1, JB-8.2.l: a LatestValue output value that goes back is refused for
 * that call only; a new map resets the watermark */
static void s63b_latest_output_regression(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_SEQUENCE);
    tp_merge_map_t *m = map_45(1, NO_STALE);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 4, 1);
    OBS(b, 5, 2);
    CHECK_EQ_I64(tp_join_barrier_ready_latest_out(b, 10, 0), 1);
    CHECK_EQ_I64(tp_join_barrier_result(b)->output_rejected, 0);
    CHECK_EQ_I64(tp_join_barrier_ready_latest_out(b, 10, 0), 1); /* the same output again */
    CHECK_EQ_I64(tp_join_barrier_ready_latest_out(b, 9, 0), 0);  /* regression */
    CHECK_EQ_I64(tp_join_barrier_result(b)->output_rejected, 1);
    CHECK_EQ_I64(tp_join_barrier_ready_latest_out(b, 11, 0), 1); /* watermark stayed at 10 */
    CHECK_EQ_I64(tp_join_barrier_result(b)->output_rejected, 0);
    CHECK_EQ_I64(tp_join_barrier_ready_latest_out(b, 10, 0), 0);
    CHECK_EQ_I64(tp_join_barrier_ready_latest(b, 0), 1); /* the old call checks no output */
    tp_merge_map_t *m2 = map_45(2, NO_STALE);
    APPLY(b, m2, TP_JOIN_APPLY_REPLACED);
    OBS(b, 4, 3);
    OBS(b, 5, 3);
    CHECK_EQ_I64(tp_join_barrier_ready_latest_out(b, 0, 0), 1); /* new map: watermark reset */
    /* another mode refuses the call */
    tp_join_barrier_t *s = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    CHECK_EQ_I64(tp_join_barrier_ready_latest_out(s, 1, 0), -1);
    tp_join_barrier_destroy(s);
    tp_join_barrier_destroy(b);
}

/* JB-9.1.d, JB-9.1.e, JB-9.2.d */
static void s64_latest_invalidation(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 4, 0);
    tp_merge_map_add_window(m, 5, 1);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 4, 1);
    OBS(b, 5, 2);
    LRDY(b, 0, 1, "", "", "");
    CHECK_EQ_I64(tp_join_barrier_invalidate_latest(b, 4), 1);
    LRDY(b, 0, 0, "4", "", "");
    OBS(b, 4, 3);
    LRDY(b, 0, 1, "", "", "");
    tp_join_latest_t sel[8];
    CHECK_EQ_I64(tp_join_barrier_collect_latest(b, sel, 8), 2);
    CHECK_EQ_U64(sel[0].seq, 3);
    CHECK_EQ_U64(sel[1].seq, 2);
    /* the same value re-observed also restores validity */
    tp_join_barrier_invalidate_latest(b, 5);
    OBS(b, 5, 2);
    LRDY(b, 0, 1, "", "", "");
    tp_join_barrier_destroy(b);
}

/* JB-9.1.b, JB-9.1.c */
static void s65_latest_parameters_ignored(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_window(m, 4, 1000);
    tp_merge_map_add_offset(m, 5, -50);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 4, 0);
    OBS(b, 5, 0);
    LRDY(b, 0, 1, "", "", "");
    tp_join_barrier_destroy(b);
}

/* JB-9.2.c */
static void s66_timestamp_ordering_without_timestamp_map(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_TIMESTAMP);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 1);
    OBS(b, 2, 1);
    LRDY(b, 0, 0, "1,2", "", "");
    tp_join_barrier_destroy(b);
}

/* JB-9.2.a (by timestamp), JB-9.2.c */
static void s67_timestamp_ordering(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 5);
    LRDY(b, 0, 0, "1", "", "");
    OBST(b, 1, 123);
    LRDY(b, 0, 1, "", "", "");
    tp_join_latest_t sel[2];
    CHECK_EQ_I64(tp_join_barrier_collect_latest(b, sel, 2), 1);
    CHECK_EQ_U64(sel[0].stream_id, 1);
    CHECK_EQ_U64(sel[0].seq, 5);
    CHECK_EQ_U64(sel[0].time, 123);
    CHECK_EQ_U64(sel[0].source, FD);
    tp_join_barrier_destroy(b);
}

/* JB-9.1.f, JB-9.1.g */
static void s68_latest_no_prior_epoch_frames(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_SEQUENCE);
    tp_merge_map_t *m = map_45(1, NO_STALE);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 4, 7);
    OBS(b, 5, 8);
    LRDY(b, 0, 1, "", "", "");
    tp_join_barrier_set_active_epoch(b, 2);
    LRDY(b, 0, 0, "", "", "");
    m->epoch = 2;
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    LRDY(b, 0, 0, "4,5", "", "");
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 4, 2, 1, 0), TP_JOIN_UPDATE_OK);
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 5, 2, 1, 0), TP_JOIN_UPDATE_OK);
    LRDY(b, 0, 1, "", "", "");
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 4, 1, 99, 0), TP_JOIN_UPDATE_STALE_EPOCH);
    tp_join_latest_t sel[2];
    CHECK_EQ_I64(tp_join_barrier_collect_latest(b, sel, 2), 2);
    CHECK_EQ_U64(sel[0].seq, 1);
    CHECK_EQ_U64(sel[1].seq, 1);
    /* JB-9.1.g: the first in-epoch sequence is kept for threshold use */
    UPD(tp_join_barrier_observe_seq_in_epoch(b, 4, 2, 6, 0), TP_JOIN_UPDATE_OK);
    tp_join_explain_t ex[2];
    CHECK_EQ_I64(tp_join_barrier_explain(b, 0, 0, ex, 2), 2);
    CHECK(ex[0].has_epoch && ex[0].epoch == 2 && ex[0].has_min_seq && ex[0].min_seq_in_epoch == 1);
    tp_join_barrier_destroy(b);
}

/* JB-9.3.a */
static void s69_latest_stale_but_usable(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_SEQUENCE);
    APPLY(b, map_45(1, 5), TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 4, 1, 1);
    OBS_AT(b, 5, 1, 10);
    LRDY(b, 10, 1, "", "4", "");
    tp_join_barrier_destroy(b);
}

/* JB-8.2.j for LatestValue in timestamp ordering */
static void s70_latest_rejected_input(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 200);
    UPD(tp_join_barrier_observe_time(b, 1, FD, 100, MONO, 0), TP_JOIN_UPDATE_TIME_REJECTED);
    LRDY(b, 0, 0, "", "", "1");
    tp_join_barrier_destroy(b);
}

static void s71_collect_refuses_when_not_ready(void)
{
    tp_join_barrier_t *b = latest_barrier(TP_JOIN_ORDER_SEQUENCE);
    APPLY(b, map_45(1, NO_STALE), TP_JOIN_APPLY_REPLACED);
    OBS(b, 4, 1);
    tp_join_latest_t sel[2];
    CHECK(tp_join_barrier_collect_latest(b, sel, 2) == -1);
    CHECK(tp_errcode() == TP_ERR_STATE);
    OBS(b, 5, 1);
    CHECK(tp_join_barrier_collect_latest(b, sel, 1) == -1);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    CHECK_EQ_I64(tp_join_barrier_collect_latest(b, sel, 2), 2);
    tp_join_barrier_destroy(b);
}

int main(void)
{
    RUN(s01_sequence_two_inputs);
    RUN(s02_positive_offset);
    RUN(s03_negative_offset);
    RUN(s04_negative_underflow);
    RUN(s05_no_observation_threshold_zero);
    RUN(s06_window);
    RUN(s07_window_underflow);
    RUN(s08_window_one_at_zero);
    RUN(s09_mixed);
    RUN(s10_overflow_guard);
    RUN(s11_sequence_regression);
    RUN(s12_untracked);
    RUN(s13_duplicate_ids);
    RUN(s14_processed_gating);
    RUN(s15_processed_unset_at_zero);
    RUN(s16_timestamp_processed_gating);
    RUN(s17_processed_does_not_refresh_staleness);
    RUN(s18_staleness);
    RUN(s19_stale_strict_boundary);
    RUN(s20_never_observed_not_stale);
    RUN(s21_observation_at_time_zero_counts);
    RUN(s22_no_timeout_keeps_blocking);
    RUN(s23_stale_policy_off);
    RUN(s24_timestamp_stale);
    RUN(s24a_all_stale);
    RUN(s24b_quorum);
    RUN(s25_silent_input_query);
    RUN(s26_timestamp_basic);
    RUN(s27_negative_offset_realtime);
    RUN(s28_negative_underflow_ignores_lateness);
    RUN(s29_positive_offset_with_lateness);
    RUN(s30_window_needs_lateness);
    RUN(s31_window_ns_underflow);
    RUN(s32_lateness_saturates);
    RUN(s33_camera_imu);
    RUN(s34_fusion);
    RUN(s35_null_timestamp);
    RUN(s36_non_monotonic_input);
    RUN(s37_equal_timestamps);
    RUN(s38_input_domain_mismatch);
    RUN(s39_output_domain_mismatch);
    RUN(s40_source_mismatch);
    RUN(s41_one_stream_two_sources);
    RUN(s42_out_seq_regression);
    RUN(s43_out_time_regression);
    RUN(s44_watermark_reset);
    RUN(s45_both_parameters_invalid);
    RUN(s46_no_parameter_invalid);
    RUN(s47_zero_window_invalid);
    RUN(s48_zero_rules_invalid);
    RUN(s49_bad_clock_domain);
    RUN(s50_unknown_enums);
    RUN(s51_capacity);
    RUN(s52_other_output_stream);
    RUN(s53_wrong_kind);
    RUN(s54_replacement_resets_inputs);
    RUN(s55_identical_reannounce);
    RUN(s56_lateness_zero_equals_absent);
    RUN(s57_set_active_epoch);
    RUN(s58_new_epoch_announce);
    RUN(s59_older_epoch_announce);
    RUN(s60_input_epoch_newer_resets_slot);
    RUN(s61_input_epoch_older_ignored);
    RUN(s62_newer_input_epoch_clears_rejection);
    RUN(s63_latest_value_basic);
    RUN(s64_latest_invalidation);
    RUN(s65_latest_parameters_ignored);
    RUN(s66_timestamp_ordering_without_timestamp_map);
    RUN(s67_timestamp_ordering);
    RUN(s63b_latest_output_regression);
    RUN(s68_latest_no_prior_epoch_frames);
    RUN(s69_latest_stale_but_usable);
    RUN(s70_latest_rejected_input);
    RUN(s71_collect_refuses_when_not_ready);
    tp_merge_map_close(&fx_map);
    TP_TEST_END();
}
