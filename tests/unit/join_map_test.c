/* MergeMap builders and validation, the registry, barrier configuration,
 * extreme offsets and the explanation API. */
#include "join_fixture.h"

#include "tensorpool/join_explain.h"
#include "tensorpool/merge_map_registry.h"

/* JB-6.2.b, JB-6.2.c–e, JB-6.2.1.b, JB-6.2.2.b: builders refuse bad rules with a reason */
static void map_builders_validate(void)
{
    tp_merge_map_t m;
    CHECK(tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 0) == -1);
    CHECK(tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 65536) == -1);
    CHECK(tp_merge_map_init(&m, (tp_merge_kind_t)7, 4) == -1);
    CHECK(tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 2) == 0);
    CHECK(tp_merge_map_reset(&m, 0, 1) == -1);
    CHECK(strstr(tp_errmsg(), "non-zero") != NULL);
    CHECK(tp_merge_map_reset(&m, OUT, 1) == 0);
    CHECK(tp_merge_map_add_offset(&m, 0, 1) == -1);
    CHECK(tp_merge_map_add_offset(&m, 1, INT32_MIN) == -1);
    CHECK(strstr(tp_errmsg(), "null sentinel") != NULL);
    CHECK(tp_merge_map_add_window(&m, 1, 0) == -1);
    CHECK(tp_merge_map_add_window(&m, 1, UINT32_MAX) == -1);
    CHECK(tp_merge_map_add_offset_ns(&m, 1, FD, 0) == -1); /* timestamp rule in a sequence map */
    CHECK(tp_merge_map_set_clock(&m, MONO, 0) == -1);
    CHECK(tp_merge_map_set_stale_timeout(&m, 0) == -1);
    CHECK(tp_merge_map_set_stale_timeout(&m, UINT64_MAX) == -1);
    CHECK(tp_merge_map_set_stale_timeout(&m, 5) == 0);
    CHECK_EQ_U64(m.stale_timeout_ns, 5);
    tp_merge_map_clear_stale_timeout(&m);
    CHECK_EQ_U64(m.stale_timeout_ns, TP_MERGE_NULL_U64);
    CHECK(tp_merge_map_validate(&m, 0) == -1); /* JB-6.2.a: no rules */
    CHECK(strstr(tp_errmsg(), "no rules") != NULL);
    CHECK(tp_merge_map_add_offset(&m, 1, INT32_MIN + 1) == 0);
    CHECK(tp_merge_map_add_window(&m, 2, UINT32_MAX - 1) == 0);
    CHECK(tp_merge_map_add_offset(&m, 3, 0) == -1);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    CHECK(tp_merge_map_validate(&m, 0) == 0);
    CHECK(tp_merge_map_validate(&m, 1) == -1);
    /* a raw rule with a parameter outside the wire type is refused with its index */
    m.rules[1].window = (uint64_t)UINT32_MAX + 5;
    CHECK(tp_merge_map_validate(&m, 0) == -1);
    CHECK(strstr(tp_errmsg(), "rule 1") != NULL);
    tp_merge_map_close(&m);

    CHECK(tp_merge_map_init(&m, TP_MERGE_KIND_TIMESTAMP, 4) == 0);
    CHECK(tp_merge_map_reset(&m, OUT, 1) == 0);
    CHECK(m.clock_domain == MONO);
    CHECK(tp_merge_map_add_offset(&m, 1, 0) == -1); /* sequence rule in a timestamp map */
    CHECK(tp_merge_map_add_offset_ns(&m, 1, FD, INT64_MIN) == -1);
    CHECK(tp_merge_map_add_offset_ns(&m, 1, TP_TS_SOURCE_NONE, 0) == -1);
    CHECK(tp_merge_map_add_window_ns(&m, 1, SH, 0) == -1);
    CHECK(tp_merge_map_add_window_ns(&m, 1, SH, UINT64_MAX) == -1);
    CHECK(tp_merge_map_set_clock(&m, (tp_clock_domain_t)3, 0) == -1);
    CHECK(tp_merge_map_set_clock(&m, RT, 7) == 0);
    CHECK(tp_merge_map_add_offset_ns(&m, 1, FD, INT64_MIN + 1) == 0);
    CHECK(tp_merge_map_add_window_ns(&m, 2, SH, UINT64_MAX - 1) == 0);
    CHECK(tp_merge_map_validate(&m, 0) == 0);
    m.rules[0].window = 5; /* OFFSET_NS with windowNs set */
    CHECK(tp_merge_map_validate(&m, 0) == -1);
    CHECK(strstr(tp_errmsg(), "JB-6.3.d") != NULL);
    tp_merge_map_close(&m);
    tp_merge_map_close(NULL);
}

/* JB-6.1.b, JB-6.2.1.b, JB-6.3.1.b: extreme offsets never overflow (checked under UBSan) */
static void extreme_offsets(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, INT32_MIN + 1);
    tp_merge_map_add_offset(m, 2, INT32_MAX);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, UINT64_MAX);
    OBS(b, 2, UINT64_MAX);
    RDY(b, (uint64_t)INT32_MAX - 1, 0, "1"); /* out must reach -offset = INT32_MAX */
    RDY(b, (uint64_t)INT32_MAX, 1, "");
    RDY(b, UINT64_MAX - INT32_MAX, 1, "");
    RDY(b, UINT64_MAX - INT32_MAX + 1, 0, "2");
    tp_join_barrier_destroy(b);

    b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    m = fx_time_map(1, NO_STALE, MONO, UINT64_MAX - 1);
    tp_merge_map_add_offset_ns(m, 1, FD, INT64_MIN + 1);
    tp_merge_map_add_offset_ns(m, 2, FD, INT64_MAX);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 0);
    OBST(b, 2, 0);
    RDY(b, (uint64_t)INT64_MAX - 1, 0, "1"); /* rule 2: threshold saturates at 0 */
    RDY(b, (uint64_t)INT64_MAX, 1, "");
    RDY(b, (uint64_t)INT64_MAX + 1, 0, "2");
    tp_join_barrier_destroy(b);
}

static void barrier_config_errors(void)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_t *b = NULL;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, 0, 4);
    CHECK(tp_join_barrier_create(&cfg, &b) == -1 && b == NULL);
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 0);
    CHECK(tp_join_barrier_create(&cfg, &b) == -1);
    tp_join_barrier_config_init(&cfg, (tp_join_mode_t)9, OUT, 4);
    CHECK(tp_join_barrier_create(&cfg, &b) == -1);
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_LATEST_VALUE, OUT, 4);
    cfg.latest_ordering = (tp_join_ordering_t)5;
    CHECK(tp_join_barrier_create(&cfg, &b) == -1);
    CHECK(tp_join_barrier_create(NULL, &b) == -1);

    b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    CHECK(tp_join_barrier_ready_time(b, 1, MONO, 0) == -1);
    CHECK(tp_join_barrier_ready_latest(b, 0) == -1);
    CHECK(tp_join_barrier_collect_latest(b, NULL, 0) == -1);
    CHECK(tp_join_barrier_apply(b, NULL, 0) == -1);
    CHECK(tp_join_barrier_active_map(b) == NULL);
    uint64_t e = 0;
    CHECK(tp_join_barrier_expected_epoch(b, &e) == 0);
    /* JB-7.3.a: no map, no readiness; observations go nowhere */
    RDY(b, 1, 0, "");
    UPD(tp_join_barrier_observe_seq(b, 1, 1, 0), TP_JOIN_UPDATE_NOT_TRACKED);
    tp_join_barrier_set_active_epoch(b, 4);
    CHECK(tp_join_barrier_expected_epoch(b, &e) == 1 && e == 4);
    tp_join_barrier_destroy(b);
    tp_join_barrier_destroy(NULL);
    CHECK(tp_join_barrier_observe_seq(NULL, 1, 1, 0) == -1);
}

/* §3.10: authority store; exact (kind, out, epoch) lookup is what an authority answers a
 * request from (JB-10.3.c), and one kind never answers the other (scenarios 86, 87 at map level) */
static void registry_keys_and_eviction(void)
{
    tp_merge_registry_t *reg = NULL;
    CHECK(tp_merge_registry_create(0, 4, &reg) == -1);
    CHECK(tp_merge_registry_create(2, 4, &reg) == 0);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    CHECK(tp_merge_registry_put(reg, m) == -1); /* invalid: no rules */
    tp_merge_map_add_offset(m, 1, 0);
    CHECK_EQ_I64(tp_merge_registry_put(reg, m), 1);
    CHECK_EQ_I64(tp_merge_registry_put(reg, m), 0); /* identical */
    CHECK(tp_merge_registry_get(reg, TP_MERGE_KIND_SEQUENCE, OUT, 1) != NULL);
    CHECK(tp_merge_registry_get(reg, TP_MERGE_KIND_SEQUENCE, OUT, 2) == NULL);   /* unknown epoch */
    CHECK(tp_merge_registry_get(reg, TP_MERGE_KIND_TIMESTAMP, OUT, 1) == NULL);  /* kind separation */
    tp_merge_map_add_offset(m, 2, -1);
    CHECK_EQ_I64(tp_merge_registry_put(reg, m), 1); /* changed content */
    CHECK_EQ_U64(tp_merge_registry_get(reg, TP_MERGE_KIND_SEQUENCE, OUT, 1)->rule_count, 2);

    tp_merge_map_t *t = fx_time_map(1, NO_STALE, MONO, 0);
    tp_merge_map_add_offset_ns(t, 1, FD, 0);
    CHECK_EQ_I64(tp_merge_registry_put(reg, t), 1);
    CHECK_EQ_U64(tp_merge_registry_count(reg), 2);
    t->out_stream_id = 12;
    CHECK(tp_merge_registry_put(reg, t) == -1); /* full */
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    t->out_stream_id = OUT;
    t->epoch = 2; /* new epoch evicts epoch 1 of the same (kind, out) */
    CHECK_EQ_I64(tp_merge_registry_put(reg, t), 1);
    CHECK(tp_merge_registry_get(reg, TP_MERGE_KIND_TIMESTAMP, OUT, 1) == NULL);
    CHECK(tp_merge_registry_get(reg, TP_MERGE_KIND_TIMESTAMP, OUT, 2) != NULL);
    CHECK(tp_merge_registry_get(reg, TP_MERGE_KIND_SEQUENCE, OUT, 1) != NULL);
    CHECK_EQ_U64(tp_merge_registry_count(reg), 2);
    CHECK(tp_merge_registry_at(reg, 0) != NULL && tp_merge_registry_at(reg, 2) == NULL);
    CHECK(tp_merge_registry_remove(reg, TP_MERGE_KIND_SEQUENCE, OUT, 1) == 0);
    CHECK(tp_merge_registry_remove(reg, TP_MERGE_KIND_SEQUENCE, OUT, 1) == -1);
    CHECK(tp_errcode() == TP_ERR_NOT_FOUND);
    CHECK_EQ_U64(tp_merge_registry_count(reg), 1);
    tp_merge_registry_destroy(reg);
}

/* JB-7.4.d: operators see per input what is required, observed, processed and the lag */
static void explain_not_ready_output(void)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 8);
    cfg.use_processed = 1;
    tp_join_barrier_t *b = fx_barrier_cfg(&cfg);
    tp_merge_map_t *m = fx_seq_map(1, 100);
    tp_merge_map_add_offset(m, 1, 0);  /* lagging */
    tp_merge_map_add_offset(m, 2, 0);  /* never observed */
    tp_merge_map_add_offset(m, 3, -50); /* not yet */
    tp_merge_map_add_offset(m, 4, 0);  /* processed lagging */
    tp_merge_map_add_offset(m, 5, 0);  /* satisfied */
    tp_merge_map_add_offset(m, 6, 0);  /* stale */
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS_AT(b, 1, 7, 1000);
    OBS_AT(b, 4, 12, 1000);
    tp_join_barrier_process_seq(b, 4, 9);
    OBS_AT(b, 5, 12, 1000);
    tp_join_barrier_process_seq(b, 5, 12);
    OBS_AT(b, 6, 3, 800);
    tp_join_explain_t ex[8];
    CHECK_EQ_I64(tp_join_barrier_explain(b, 12, 1000, ex, 8), 6);
    CHECK(ex[0].status == TP_JOIN_EXPLAIN_LAGGING && ex[0].required == 12 && ex[0].observed == 7 &&
          ex[0].observed_lag == 5 && !ex[0].has_processed);
    CHECK(ex[1].status == TP_JOIN_EXPLAIN_NEVER_OBSERVED && !ex[1].has_observed && ex[1].has_required);
    CHECK(ex[2].status == TP_JOIN_EXPLAIN_NOT_YET && !ex[2].has_required);
    CHECK(ex[3].status == TP_JOIN_EXPLAIN_PROCESSED_LAGGING && ex[3].processed_lag == 3 && ex[3].observed_lag == 0);
    CHECK(ex[4].status == TP_JOIN_EXPLAIN_SATISFIED);
    CHECK(ex[5].status == TP_JOIN_EXPLAIN_STALE && ex[5].since_last_obs_ns == 200 && ex[5].stale);
    char line[256];
    tp_join_explain_format(&ex[0], line, sizeof line);
    CHECK(strstr(line, "input 1 rule 0: LAGGING required seq 12 observed 7 (lag 5)") != NULL);
    /* explaining is a pure query: the watermark did not move */
    RDY_AT(b, 12, 1000, 0, "1,2,3,4", "6", "", 0);
    RDY_AT(b, 11, 1000, 0, "", "", "", 1);
    tp_join_barrier_destroy(b);

    b = fx_barrier(TP_JOIN_MODE_LATEST_VALUE);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 3);
    OBS(b, 2, 3);
    tp_join_barrier_invalidate_latest(b, 2);
    CHECK_EQ_I64(tp_join_barrier_explain(b, 0, 0, ex, 2), 6);
    CHECK(ex[0].status == TP_JOIN_EXPLAIN_SATISFIED && ex[1].status == TP_JOIN_EXPLAIN_INVALIDATED);
    tp_join_barrier_destroy(b);

    b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    CHECK_EQ_I64(tp_join_barrier_explain(b, 0, 0, ex, 8), 0); /* no map */
    m = fx_time_map(1, NO_STALE, MONO, 0);
    tp_merge_map_add_offset_ns(m, 7, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    tp_join_barrier_observe_time(b, 7, FD, 100, RT, 0);
    CHECK_EQ_I64(tp_join_barrier_explain(b, 100, 0, ex, 8), 1);
    CHECK(ex[0].status == TP_JOIN_EXPLAIN_REJECTED && ex[0].is_time);
    tp_join_barrier_destroy(b);
}

/* JB-5.2, JB-5.3, JB-7.2.a, JB-7.2.b, JB-7.2.c, JB-8.3.a, JB-8.3.b, JB-8.3.c, JB-9.3.b, JB-9.3.c,
 * JB-6.2.2.d, JB-6.2.2.e: the barrier only gates attempts. Its answer depends on positions alone and
 * comes back at once; it has no notion of slot commit or overwrite. The stage reads the window frames
 * once each and tolerates failures; for LatestValue it reports a failed read and retries later. */
static void gates_attempts_only(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_window(m, 1, 4);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 10);
    RDY(b, 10, 1, "");
    /* the stage tries frames 7..10; say 7 and 8 were overwritten: nothing to tell the barrier,
     * the attempt for 10 proceeds with what validated, and the answer does not change */
    RDY(b, 10, 1, "");
    RDY(b, 11, 0, "1"); /* not ready returns immediately: no waiting on a commit */
    tp_join_barrier_destroy(b);

    b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    m = fx_time_map(1, NO_STALE, MONO, 0);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBST(b, 1, 500);
    RDY(b, 500, 1, "");
    RDY(b, 501, 0, "1");
    tp_join_barrier_destroy(b);

    b = fx_barrier(TP_JOIN_MODE_LATEST_VALUE);
    m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    OBS(b, 1, 3);
    RDY(b, 0, 1, "");
    tp_join_barrier_invalidate_latest(b, 1); /* selected frame failed validation: drop, retry later */
    RDY(b, 0, 0, "1");
    OBS(b, 1, 4);
    RDY(b, 0, 1, "");
    tp_join_barrier_destroy(b);
}

/* Scenario 91 at barrier level (the agent's descriptor feed, §3.10 step 3) */
static void s91_descriptor_feed(void)
{
    tp_join_barrier_t *b = fx_barrier(TP_JOIN_MODE_TIMESTAMP);
    tp_merge_map_t *m = fx_time_map(1, NO_STALE, MONO, TP_MERGE_NULL_U64);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_descriptor(b, 1, 1, 12, 1000, 50), TP_JOIN_UPDATE_OK);
    tp_join_explain_t ex[1];
    CHECK_EQ_I64(tp_join_barrier_explain(b, 1000, 50, ex, 1), 1);
    CHECK(ex[0].has_observed && ex[0].observed == 1000 && ex[0].has_last_obs && ex[0].since_last_obs_ns == 0);
    RDY(b, 1000, 1, "");
    /* a descriptor with a backwards timestamp rejects the input */
    UPD(tp_join_barrier_observe_descriptor(b, 1, 1, 13, 900, 60), TP_JOIN_UPDATE_TIME_REJECTED);
    tp_join_barrier_destroy(b);

    /* sequence barrier: only the sequence is fed */
    b = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(b, m, TP_JOIN_APPLY_REPLACED);
    UPD(tp_join_barrier_observe_descriptor(b, 1, 1, 12, 1000, 50), TP_JOIN_UPDATE_OK);
    RDY(b, 12, 1, "");
    UPD(tp_join_barrier_observe_descriptor(b, 1, 0, 99, 1000, 50), TP_JOIN_UPDATE_STALE_EPOCH);
    tp_join_barrier_destroy(b);
}

int main(void)
{
    RUN(map_builders_validate);
    RUN(extreme_offsets);
    RUN(barrier_config_errors);
    RUN(registry_keys_and_eviction);
    RUN(explain_not_ready_output);
    RUN(gates_attempts_only);
    RUN(s91_descriptor_feed);
    tp_merge_map_close(&fx_map);
    TP_TEST_END();
}
