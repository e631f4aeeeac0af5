/* Sequence join: two cameras in lockstep. Output N is attempted once frame N
 * of camera 1 and frame N of camera 2 have been published (JB-7.1).
 *
 *   join_sequence [run_ms]      (base dir: $TP_DIR or a temp dir)
 *
 * Roles, each its own object: two producer processes, a MergeMap authority
 * (supervisor role) and the join stage, both run by one agent runner. */
#include "example_util.h"
#include "tensorpool/agent.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"

static void on_output(void *clientd, const tp_join_output_t *out)
{
    uint64_t *n = clientd;
    if ((*n)++ < 3 || out->out_seq % 50 == 0) {
        printf("out %llu:", (unsigned long long)out->out_seq);
        for (uint32_t i = 0; i < out->input_count; i++) {
            const tp_join_input_t *in = &out->inputs[i];
            /* Zero-copy view; trust the bytes only if the slot was not overwritten meanwhile. */
            uint64_t v = 0;
            int ok = in->frame_count == 1 && in->frames[0].has_view;
            if (ok) memcpy(&v, in->frames[0].view.payload, sizeof v);
            ok = ok && tp_join_frame_still_valid(&in->frames[0]);
            printf("  camera %u frame %llu%s", in->stream_id, (unsigned long long)v, ok ? "" : " (dropped)");
        }
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    const char *base = example_base_dir();
    tp_ipc_context_t ctx;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base;

    /* MergeMap for output 10, epoch 1: frame N of streams 1 and 2. */
    tp_merge_map_t map;
    tp_merge_map_init(&map, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&map, 10, 1);
    tp_merge_map_add_offset(&map, 1, 0);
    tp_merge_map_add_offset(&map, 2, 0);

    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    acfg.ipc = &ctx;
    tp_merge_authority_t *auth;
    if (tp_merge_authority_create(&acfg, &auth) != 0 || tp_merge_authority_put(auth, &map, tp_clock_monotonic_ns()) < 0) {
        fprintf(stderr, "authority: %s\n", tp_errmsg());
        return 1;
    }

    uint64_t outputs = 0;
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, 10, 1);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 2, 0);
    cfg.shm_base_dir = base; /* map the producers' pools for zero-copy views */
    cfg.on_output = on_output;
    cfg.clientd = &outputs;
    tp_join_agent_t *join;
    if (tp_join_agent_create(&cfg, &join) != 0) {
        fprintf(stderr, "join agent: %s\n", tp_errmsg());
        return 1;
    }

    pid_t cam1 = example_producer(&ctx, base, 1, 5, run_ms);
    pid_t cam2 = example_producer(&ctx, base, 2, 5, run_ms);

    tp_agent_t agents[2] = {tp_merge_authority_as_agent(auth), tp_join_agent_as_agent(join)};
    tp_agent_composite_t group;
    tp_agent_composite_init(&group, "join-stage", agents, 2);
    tp_agent_t stage = tp_agent_composite_as_agent(&group);
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 100, 10, 100000, 1000000);
    tp_agent_runner_t runner;
    tp_agent_runner_init(&runner, &stage, &idle);
    tp_agent_runner_start(&runner);
    example_sleep_ms(run_ms + 200);
    tp_agent_runner_stop(&runner); /* on_close releases subscriptions and mappings */

    tp_join_agent_stats_t st;
    tp_join_agent_stats(join, &st);
    printf("outputs %llu, frames read %llu, dropped %llu, map requests %llu\n", (unsigned long long)st.outputs,
           (unsigned long long)st.frames_read, (unsigned long long)st.frames_dropped,
           (unsigned long long)st.requests_sent);
    example_reap(cam1);
    example_reap(cam2);
    tp_join_agent_destroy(join);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&map);
    example_cleanup();
    return st.outputs > 0 ? 0 : 1;
}
