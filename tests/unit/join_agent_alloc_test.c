/* No allocation in the JoinBarrierAgent's duty cycle after start (JB-5.1,
 * scenario 92): once the map is applied and the pools are mapped, duty cycles
 * handling 1000+ descriptors, soft-state re-announces, repeated pool
 * announces, map requests and stage callbacks with frame reads allocate
 * nothing, in each of the three modes, nor do refusing announces from a
 * publication other than the authority's and the status query. The MergeMap authority's duty cycle
 * (answers, re-announces) is held to the same rule. */
#include "alloc_count.h"
#include "ipc_test_util.h"
#include "tp_test.h"

#include "stand_in_producer.h"
#include "tensorpool/clock.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/merge_map_codec.h"

#define MS 1000000LL

static tp_ipc_context_t ctx;
static uint64_t outputs, views;

static void on_output(void *clientd, const tp_join_output_t *out)
{
    (void)clientd;
    outputs++;
    for (uint32_t i = 0; i < out->input_count; i++)
        for (uint32_t k = 0; k < out->inputs[i].frame_count; k++)
            if (out->inputs[i].frames[k].has_view && tp_join_frame_still_valid(&out->inputs[i].frames[k])) views++;
}

static void run_mode(tp_join_mode_t mode)
{
    tp_merge_authority_config_t ac;
    tp_merge_authority_config_init(&ac);
    ac.ipc = &ctx;
    ac.reannounce_interval_ns = 10 * MS;
    tp_merge_authority_t *auth = NULL;
    CHECK(tp_merge_authority_create(&ac, &auth) == 0);

    tp_merge_map_t m;
    const int ts = mode == TP_JOIN_MODE_TIMESTAMP;
    tp_merge_map_init(&m, ts ? TP_MERGE_KIND_TIMESTAMP : TP_MERGE_KIND_SEQUENCE, 4);
    tp_merge_map_reset(&m, 10, 1);
    if (ts) {
        tp_merge_map_set_clock(&m, TP_CLOCK_MONOTONIC, 2);
        tp_merge_map_add_offset_ns(&m, 1, TP_TS_SOURCE_FRAME_DESCRIPTOR, 0);
        tp_merge_map_add_window_ns(&m, 2, TP_TS_SOURCE_SLOT_HEADER, 3); /* slot reads in the cycle */
    } else {
        tp_merge_map_add_offset(&m, 1, 0);
        tp_merge_map_add_window(&m, 2, 3);
    }
    tp_merge_map_set_stale_timeout(&m, 1000 * MS);

    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, mode, 10, 1);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 2, 0);
    cfg.shm_base_dir = tp_test_base;
    cfg.on_output = on_output;
    cfg.first_out_seq = 0;
    cfg.authority = auth; /* requests seen by the agent are answered from its cycle */
    tp_join_agent_t *a = NULL;
    CHECK(tp_join_agent_create(&cfg, &a) == 0);

    int64_t now = tp_clock_monotonic_ns();
    tp_stand_in_producer_t p1, p2;
    CHECK(tp_stand_in_producer_open(&p1, &ctx, tp_test_base, 1, 1, 64, TP_DESCRIPTOR_STREAM_DEFAULT,
                                    TP_CONTROL_STREAM_DEFAULT, (uint64_t)now) == 0);
    CHECK(tp_stand_in_producer_open(&p2, &ctx, tp_test_base, 2, 1, 64, TP_DESCRIPTOR_STREAM_DEFAULT,
                                    TP_CONTROL_STREAM_DEFAULT, (uint64_t)now) == 0);
    tp_ipc_publication_t *req_pub;
    CHECK(tp_ipc_publication_open(&req_pub, &ctx, "tp:ipc", TP_CONTROL_STREAM_DEFAULT) == 0);
    uint8_t req[32];
    tp_merge_request_t r = {ts ? TP_MERGE_KIND_TIMESTAMP : TP_MERGE_KIND_SEQUENCE, 10, 1};
    const long rl = tp_merge_request_encode(&r, req, sizeof req);
    /* The same map announced from another publication: refused (the
     * authority's is pinned), on the measured path too. */
    uint8_t forged[128];
    const long fl = tp_merge_announce_encode(&m, 4, forged, sizeof forged);
    CHECK(fl > 0);

    /* Start: map applied, pools mapped, first outputs (allocation allowed). */
    CHECK(tp_merge_authority_put(auth, &m, now) == 1);
    tp_stand_in_producer_announce(&p1, (uint64_t)now);
    tp_stand_in_producer_announce(&p2, (uint64_t)now);
    uint64_t t = 1000;
    for (int i = 0; i < 8; i++, t += 1) {
        tp_stand_in_producer_publish(&p1, (uint64_t)i, t, t, NULL);
        tp_stand_in_producer_publish(&p2, (uint64_t)i, t, t, NULL);
    }
    for (int i = 0; i < 20; i++) tp_join_agent_do_work(a, now);
    CHECK(tp_join_barrier_has_map(tp_join_agent_barrier(a)));
    tp_join_agent_stats_t st0;
    tp_join_agent_stats(a, &st0);
    CHECK(st0.mappings == 2);
    const uint64_t out0 = outputs;
    CHECK(out0 > 0);

    /* Measured: 1000 frames per input plus control traffic. */
    const uint64_t a0 = tp_alloc_count(), f0 = tp_free_count();
    for (int i = 8; i < 1008; i++, t += 1) {
        tp_stand_in_producer_publish(&p1, (uint64_t)i, t, t, NULL);
        tp_stand_in_producer_publish(&p2, (uint64_t)i, t, t, NULL);
        if (i % 100 == 0) {
            tp_stand_in_producer_announce(&p1, (uint64_t)now); /* same epoch: no remap */
            tp_ipc_publication_offer(req_pub, req, (size_t)rl);
            tp_ipc_publication_offer(req_pub, forged, (size_t)fl);
        }
        tp_join_agent_status_t js;
        tp_join_agent_status(a, &js); /* the explain view allocates nothing either */
        now += MS; /* authority re-announces every 10 ms: REFRESHED */
        tp_merge_authority_do_work(auth, now);
        tp_join_agent_do_work(a, now);
    }
    for (int i = 0; i < 20; i++) tp_join_agent_do_work(a, now);
    const uint64_t a1 = tp_alloc_count(), f1 = tp_free_count();
    CHECK_EQ_U64(a1 - a0, 0);
    CHECK_EQ_U64(f1 - f0, 0);

    tp_join_agent_stats_t st;
    tp_join_agent_stats(a, &st);
    CHECK(st.descriptors - st0.descriptors == 2000);
    CHECK(st.announces_refreshed > 50);
    CHECK(st.announces_refused >= 10);
    CHECK(st.mappings == 2);
    CHECK(outputs - out0 >= 900);
    CHECK(views > 0);
    tp_merge_authority_stats_t as;
    tp_merge_authority_stats(auth, &as);
    CHECK(as.requests_answered >= 10);

    tp_ipc_publication_close(req_pub);
    tp_join_agent_destroy(a);
    tp_stand_in_producer_close(&p1);
    tp_stand_in_producer_close(&p2);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
}

static void test_sequence_cycle_allocates_nothing(void) { run_mode(TP_JOIN_MODE_SEQUENCE); }
static void test_timestamp_cycle_allocates_nothing(void) { run_mode(TP_JOIN_MODE_TIMESTAMP); }
static void test_latest_cycle_allocates_nothing(void) { run_mode(TP_JOIN_MODE_LATEST_VALUE); }

int main(void)
{
    tp_test_dir_setup(&ctx);
    /* Duty cycles are counted and time is synthetic here, so each poll
     * does the transport's upkeep itself (TP_IPC_CONDUCTOR_CALLER) and finds
     * new publications at once; the default conductor thread does it on
     * its own time (test_ipc_conductor, and every multi-process test). */
    ctx.conductor = TP_IPC_CONDUCTOR_CALLER;
    RUN(test_sequence_cycle_allocates_nothing);
    RUN(test_timestamp_cycle_allocates_nothing);
    RUN(test_latest_cycle_allocates_nothing);
    tp_test_dir_cleanup();
    TP_TEST_END();
}
