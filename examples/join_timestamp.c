/* Timestamp join: a camera (every 33 ms) and an IMU (every 5 ms) at their
 * own rates. Each camera frame at time T is joined with the IMU samples of
 * the 10 ms before it, once the IMU has published up to T - 5 ms (the
 * lateness budget).
 *
 *   cc join_timestamp.c $(pkg-config --cflags --libs tensorpool) -o join_timestamp
 *   ./join_timestamp [run_ms]
 *
 * One process plays every role: an embedded driver owning streams 1 and 2,
 * two producer processes (forked), a MergeMap authority that publishes the
 * join's rules, and the join agent that calls on_output. All files live in a
 * fresh directory under /dev/shm, removed at the end. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <tensorpool/tensorpool.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CAMERA = 1, IMU = 2, JOINED = 20 };

static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 64\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
                                  "[streams.camera]\n"
                                  "stream_id = 1\n"
                                  "profile = \"small\"\n"
                                  "[streams.imu]\n"
                                  "stream_id = 2\n"
                                  "profile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A sensor process: each frame carries its capture time (one uint64, ns of
 * tp_clock_monotonic_ns), which is also the slot header's timestamp. */
static pid_t start_sensor(uint32_t stream_id, int64_t period_ms, int64_t run_ms)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_client_context_t ctx;
    tp_client_context_init(&ctx); /* base dir from $TP_DIR, like the driver */
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, stream_id, 0, "sensor", NULL) != 0) {
        fprintf(stderr, "sensor %u: %s\n", stream_id, tp_errmsg());
        _exit(1);
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now); /* keeps the lease alive: call it often */
        if (!tp_producer_is_active(p) || now < next) continue;
        const uint64_t capture_ns = (uint64_t)now;
        tp_producer_offer(p, &t, &capture_ns, sizeof capture_ns, capture_ns, NULL);
        next = now + period_ms * 1000000LL;
    }
    tp_producer_close(p);
    _exit(0);
}

typedef struct {
    uint64_t checked, with_imu, wrong;
} tally_t;

/* Called on the runner's thread for every camera frame joined. */
static void on_output(void *clientd, const tp_join_output_t *out)
{
    tally_t *n = clientd;
    const tp_join_input_t *camera = &out->inputs[0], *imu = &out->inputs[1];
    if (camera->frame_count != 1 || !camera->frames[0].has_view) return; /* no view (yet): counted as dropped */
    uint64_t camera_ns, imu_ns[64];
    memcpy(&camera_ns, camera->frames[0].view.payload, sizeof camera_ns);
    uint32_t k = 0;
    for (uint32_t i = 0; i < imu->frame_count && k < 64; i++) {
        if (!imu->frames[i].has_view) continue;
        memcpy(&imu_ns[k], imu->frames[i].view.payload, sizeof imu_ns[k]);
        if (tp_join_frame_still_valid(&imu->frames[i])) k++; /* else overwritten while read */
    }
    if (!tp_join_frame_still_valid(&camera->frames[0])) return;
    /* The camera frame is the one at out_time; the IMU samples are from [T - 10 ms, T]. */
    int ok = camera_ns == out->out_time;
    for (uint32_t i = 0; i < k; i++) ok = ok && imu_ns[i] <= out->out_time && imu_ns[i] + 10000000 >= out->out_time;
    if (!ok && n->wrong++ == 0)
        fprintf(stderr, "wrong: output at %llu ns has the camera frame of %llu ns and %u IMU samples, first %llu ns\n",
                (unsigned long long)out->out_time, (unsigned long long)camera_ns, k,
                (unsigned long long)(k > 0 ? imu_ns[0] : 0));
    n->with_imu += k > 0;
    if (n->checked++ % 10 == 0)
        printf("camera frame at %llu ns: %u IMU samples in [T-10ms, T], %u dropped\n",
               (unsigned long long)out->out_time, k, imu->dropped);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-join-timestamp-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1); /* every context below defaults to it */

    /* Fork the sensors before any thread starts. They attach once the driver runs. */
    const pid_t camera = start_sensor(CAMERA, 33, run_ms);
    const pid_t imu = start_sensor(IMU, 5, run_ms);

    /* The rules: output JOINED, epoch 1, is the camera frame at T (offset 0)
     * with the IMU frames of [T - 10 ms, T] (a window), times taken from the
     * slot headers (the capture times the producers committed), on the
     * monotonic clock, with 5 ms lateness budget for the IMU. */
    tp_merge_map_t map;
    tp_merge_map_init(&map, TP_MERGE_KIND_TIMESTAMP, 2);
    tp_merge_map_reset(&map, JOINED, 1);
    tp_merge_map_set_clock(&map, TP_CLOCK_MONOTONIC, 5000000);
    tp_merge_map_add_offset_ns(&map, CAMERA, TP_TS_SOURCE_SLOT_HEADER, 0);
    tp_merge_map_add_window_ns(&map, IMU, TP_TS_SOURCE_SLOT_HEADER, 10000000);

    /* The authority publishes the map and answers the join's requests. */
    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    tp_merge_authority_t *auth;
    if (tp_merge_authority_create(&acfg, &auth) != 0 || tp_merge_authority_put(auth, &map, tp_clock_monotonic_ns()) < 0) {
        fprintf(stderr, "authority: %s\n", tp_errmsg());
        return 1;
    }

    tally_t tally = {0, 0, 0};
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_TIMESTAMP, JOINED, 1);
    tp_join_agent_config_add_input(&cfg, CAMERA, 0); /* the first rule's input triggers outputs */
    tp_join_agent_config_add_input(&cfg, IMU, 0);
    cfg.shm_base_dir = dir; /* map the sensors' pools for zero-copy views */
    cfg.on_output = on_output;
    cfg.clientd = &tally;
    tp_join_agent_t *join;
    if (tp_join_agent_create(&cfg, &join) != 0) {
        fprintf(stderr, "join agent: %s\n", tp_errmsg());
        return 1;
    }

    /* Start the driver last: the join already listens for the pools it
     * announces when each producer attaches. */
    static tp_driver_config_t dcfg; /* large: not on the stack */
    tp_driver_config_defaults(&dcfg);
    tp_driver_embedded_t *driver = NULL;
    if (tp_driver_config_parse(&dcfg, driver_toml, strlen(driver_toml)) != 0 ||
        tp_driver_config_apply_env(&dcfg, NULL) != 0 || tp_driver_embedded_start(&driver, &dcfg) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        return 1;
    }

    /* Authority and join share one thread: a composite agent on a runner. */
    tp_agent_t agents[2] = {tp_merge_authority_as_agent(auth), tp_join_agent_as_agent(join)};
    tp_agent_composite_t group;
    tp_agent_composite_init(&group, "fusion", agents, 2);
    tp_agent_t stage = tp_agent_composite_as_agent(&group);
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 100, 10, 100000, 1000000);
    tp_agent_runner_t runner;
    tp_agent_runner_init(&runner, &stage, &idle);
    tp_agent_runner_start(&runner);
    sleep_ms(run_ms + 200);
    tp_agent_runner_stop(&runner); /* joins the thread; on_close releases subscriptions and mappings */

    tp_join_agent_stats_t st;
    tp_join_agent_stats(join, &st);
    printf("outputs %llu (%llu checked, %llu with IMU samples, %llu wrong), frames read %llu, dropped %llu\n",
           (unsigned long long)st.outputs, (unsigned long long)tally.checked, (unsigned long long)tally.with_imu,
           (unsigned long long)tally.wrong, (unsigned long long)st.frames_read, (unsigned long long)st.frames_dropped);
    waitpid(camera, NULL, 0);
    waitpid(imu, NULL, 0);
    tp_join_agent_destroy(join);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&map);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return tally.with_imu > 0 && tally.wrong == 0 ? 0 : 1;
}
