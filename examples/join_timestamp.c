/* Timestamp join: camera + IMU. Each camera frame (time T) is attempted once
 * the IMU has published up to T - lateness; the stage gets the IMU samples of
 * the last 10 ms before T (JB-8.1.c, WINDOW_NS).
 *
 *   join_timestamp [run_ms]     (base dir: $TP_DIR or a temp dir) */
#include "example_util.h"
#include "tensorpool/agent.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"

enum { CAMERA = 1, IMU = 2 };

static void on_output(void *clientd, const tp_join_output_t *out)
{
    uint64_t *n = clientd;
    if ((*n)++ % 10 == 0)
        printf("camera frame at %llu ns: %u IMU samples in [T-10ms, T], %u dropped\n",
               (unsigned long long)out->out_time, out->inputs[1].frame_count, out->inputs[1].dropped);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    const char *base = example_base_dir();
    tp_ipc_context_t ctx;
    tp_ipc_context_init(&ctx);
    ctx.base_dir = base;

    /* Output 20, epoch 1: the camera frame itself, the IMU over 10 ms before
     * it; 5 ms lateness budget for the IMU; times from FrameDescriptors. */
    tp_merge_map_t map;
    tp_merge_map_init(&map, TP_MERGE_KIND_TIMESTAMP, 2);
    tp_merge_map_reset(&map, 20, 1);
    tp_merge_map_set_clock(&map, TP_CLOCK_MONOTONIC, 5000000);
    tp_merge_map_add_offset_ns(&map, CAMERA, TP_TS_SOURCE_FRAME_DESCRIPTOR, 0);
    tp_merge_map_add_window_ns(&map, IMU, TP_TS_SOURCE_FRAME_DESCRIPTOR, 10000000);

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
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_TIMESTAMP, 20, 1);
    cfg.ipc = &ctx;
    tp_join_agent_config_add_input(&cfg, CAMERA, 0); /* the first rule's input triggers outputs */
    tp_join_agent_config_add_input(&cfg, IMU, 0);
    cfg.shm_base_dir = base;
    cfg.on_output = on_output;
    cfg.clientd = &outputs;
    tp_join_agent_t *join;
    if (tp_join_agent_create(&cfg, &join) != 0) {
        fprintf(stderr, "join agent: %s\n", tp_errmsg());
        return 1;
    }

    pid_t camera = example_producer(&ctx, base, CAMERA, 33, run_ms);
    pid_t imu = example_producer(&ctx, base, IMU, 5, run_ms);

    tp_agent_t agents[2] = {tp_merge_authority_as_agent(auth), tp_join_agent_as_agent(join)};
    tp_agent_composite_t group;
    tp_agent_composite_init(&group, "fusion", agents, 2);
    tp_agent_t stage = tp_agent_composite_as_agent(&group);
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 100, 10, 100000, 1000000);
    tp_agent_runner_t runner;
    tp_agent_runner_init(&runner, &stage, &idle);
    tp_agent_runner_start(&runner);
    example_sleep_ms(run_ms + 200);
    tp_agent_runner_stop(&runner);

    tp_join_agent_stats_t st;
    tp_join_agent_stats(join, &st);
    printf("outputs %llu (camera frames joined), frames read %llu, dropped %llu\n", (unsigned long long)st.outputs,
           (unsigned long long)st.frames_read, (unsigned long long)st.frames_dropped);
    example_reap(camera);
    example_reap(imu);
    tp_join_agent_destroy(join);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&map);
    example_cleanup();
    return st.outputs > 0 ? 0 : 1;
}
