/* Latest-value join: a fast sensor and a slow one that stops half way. Each
 * new value of either input produces an output with the latest frame of
 * both; once the slow one has been silent longer than the map's stale
 * timeout it is reported stale, and its last value is still offered
 * (JB-9.1.a, JB-9.3.a, JB-7.4.d).
 *
 *   join_latest [run_ms]        (base dir: $TP_DIR or a temp dir) */
#include "example_util.h"
#include "tensorpool/agent.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"

#include <stdatomic.h>

static void on_output(void *clientd, const tp_join_output_t *out)
{
    atomic_uint_fast64_t *stale_outputs = clientd; /* read by main while the runner thread calls this */
    const tp_join_input_t *slow = &out->inputs[1];
    if (slow->status == TP_JOIN_INPUT_STALE && atomic_fetch_add(stale_outputs, 1) == 0)
        printf("output %llu: sensor %u stale, still offering its frame %llu\n", (unsigned long long)out->out_seq,
               slow->stream_id, (unsigned long long)(slow->frame_count ? slow->frames[0].seq : 0));
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    const char *base = example_base_dir();
    tp_ipc_context_t ctx;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base;

    /* Output 30, epoch 1: inputs 1 and 2 (rule parameters are ignored by a
     * LatestValue join, JB-9.1.b); inputs silent for 100 ms are stale. */
    tp_merge_map_t map;
    tp_merge_map_init(&map, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&map, 30, 1);
    tp_merge_map_add_offset(&map, 1, 0);
    tp_merge_map_add_offset(&map, 2, 0);
    tp_merge_map_set_stale_timeout(&map, 100000000);

    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    acfg.ipc = &ctx;
    tp_merge_authority_t *auth;
    if (tp_merge_authority_create(&acfg, &auth) != 0 || tp_merge_authority_put(auth, &map, tp_clock_monotonic_ns()) < 0) {
        fprintf(stderr, "authority: %s\n", tp_errmsg());
        return 1;
    }

    atomic_uint_fast64_t stale_outputs = 0;
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_LATEST_VALUE, 30, 1);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, 1, 0);
    tp_join_agent_config_add_input(&cfg, 2, 0);
    cfg.shm_base_dir = base;
    cfg.on_output = on_output;
    cfg.clientd = &stale_outputs;
    tp_join_agent_t *join;
    if (tp_join_agent_create(&cfg, &join) != 0) {
        fprintf(stderr, "join agent: %s\n", tp_errmsg());
        return 1;
    }

    pid_t fast = example_producer(&ctx, base, 1, 5, run_ms);
    pid_t slow = example_producer(&ctx, base, 2, 40, run_ms / 2); /* stops half way */

    tp_agent_t agents[2] = {tp_merge_authority_as_agent(auth), tp_join_agent_as_agent(join)};
    tp_agent_composite_t group;
    tp_agent_composite_init(&group, "latest", agents, 2);
    tp_agent_t stage = tp_agent_composite_as_agent(&group);
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 100, 10, 100000, 1000000);
    tp_agent_runner_t runner;
    tp_agent_runner_init(&runner, &stage, &idle);
    tp_agent_runner_start(&runner);
    /* until the slow sensor was seen stale (a loaded machine may take longer
     * than run_ms to get there), at most 5 s more */
    for (int64_t waited = 0; atomic_load(&stale_outputs) == 0 && waited < run_ms + 5000; waited += 10)
        example_sleep_ms(10);
    tp_agent_runner_stop(&runner);

    tp_join_agent_stats_t st;
    tp_join_agent_stats(join, &st);
    printf("outputs %llu, with the slow sensor stale %llu\n", (unsigned long long)st.outputs,
           (unsigned long long)st.outputs_with_stale);
    example_reap(fast);
    example_reap(slow);
    tp_join_agent_destroy(join);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&map);
    example_cleanup();
    return st.outputs > 0 && st.outputs_with_stale > 0 ? 0 : 1;
}
