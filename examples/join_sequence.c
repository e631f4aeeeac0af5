/* Sequence join: two cameras in lockstep. Output N is attempted once frame N
 * of camera 1 and frame N of camera 2 have been published.
 *
 *   cc join_sequence.c $(pkg-config --cflags --libs tensorpool) -o join_sequence
 *   ./join_sequence [run_ms]
 *
 * One process plays every role: an embedded driver owning streams 1 and 2,
 * two producer processes (the cameras, forked), a MergeMap authority that
 * publishes the join's rules, and the join agent that calls on_output. All
 * files live in a fresh directory under /dev/shm, removed at the end. */
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

enum { CAMERA_1 = 1, CAMERA_2 = 2, JOINED = 10 };

static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 64\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
                                  "[streams.camera1]\n"
                                  "stream_id = 1\n"
                                  "profile = \"small\"\n"
                                  "[streams.camera2]\n"
                                  "stream_id = 2\n"
                                  "profile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A camera process: frame k carries the number k (one uint64). */
static pid_t start_camera(uint32_t stream_id, int64_t period_ms, int64_t run_ms)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_client_context_t ctx;
    tp_client_context_init(&ctx); /* base dir from $TP_DIR, like the driver */
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, stream_id, 0, "camera", NULL) != 0) {
        fprintf(stderr, "camera %u: %s\n", stream_id, tp_errmsg());
        _exit(1);
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    uint64_t k = 0;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now); /* keeps the lease alive: call it often */
        if (!tp_producer_is_active(p) || now < next) continue;
        if (tp_producer_offer(p, &t, &k, sizeof k, (uint64_t)now, NULL) == 0) k++;
        next = now + period_ms * 1000000LL;
    }
    tp_producer_close(p);
    _exit(0);
}

typedef struct {
    uint64_t checked, mismatched;
} tally_t;

/* Called on the runner's thread for every output. */
static void on_output(void *clientd, const tp_join_output_t *out)
{
    tally_t *n = clientd;
    uint64_t v[2] = {0, 0};
    int ok = 1;
    for (uint32_t i = 0; i < out->input_count && i < 2; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        /* A zero-copy view: trust the bytes only if the slot still holds
         * the frame after reading them. */
        ok = ok && in->frame_count == 1 && in->frames[0].has_view;
        if (ok) memcpy(&v[i], in->frames[0].view.payload, sizeof v[i]);
        ok = ok && tp_join_frame_still_valid(&in->frames[0]);
    }
    if (!ok) return; /* no view yet, or overwritten while read: counted in frames_dropped */
    if (v[0] != out->out_seq || v[1] != out->out_seq) n->mismatched++;
    if (n->checked++ % 50 == 0)
        printf("output %llu: camera 1 frame %llu, camera 2 frame %llu\n", (unsigned long long)out->out_seq,
               (unsigned long long)v[0], (unsigned long long)v[1]);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-join-sequence-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1); /* every context below defaults to it */

    /* Fork the cameras before any thread starts. They attach once the driver runs. */
    const pid_t cam1 = start_camera(CAMERA_1, 5, run_ms);
    const pid_t cam2 = start_camera(CAMERA_2, 5, run_ms);

    /* The rules: output JOINED, epoch 1, is frame N of camera 1 with frame N
     * of camera 2 (offset 0 each; a camera k frames late would get -k). */
    tp_merge_map_t map;
    tp_merge_map_init(&map, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&map, JOINED, 1);
    tp_merge_map_add_offset(&map, CAMERA_1, 0);
    tp_merge_map_add_offset(&map, CAMERA_2, 0);

    /* The authority publishes the map and answers the join's requests. */
    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    tp_merge_authority_t *auth;
    if (tp_merge_authority_create(&acfg, &auth) != 0 || tp_merge_authority_put(auth, &map, tp_clock_monotonic_ns()) < 0) {
        fprintf(stderr, "authority: %s\n", tp_errmsg());
        return 1;
    }

    tally_t tally = {0, 0};
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, JOINED, 1);
    tp_join_agent_config_add_input(&cfg, CAMERA_1, 0);
    tp_join_agent_config_add_input(&cfg, CAMERA_2, 0);
    cfg.shm_base_dir = dir; /* map the cameras' pools for zero-copy views */
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
    tp_agent_composite_init(&group, "join-stage", agents, 2);
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
    printf("outputs %llu (%llu checked, %llu mismatched), frames read %llu, dropped %llu\n",
           (unsigned long long)st.outputs, (unsigned long long)tally.checked, (unsigned long long)tally.mismatched,
           (unsigned long long)st.frames_read, (unsigned long long)st.frames_dropped);
    waitpid(cam1, NULL, 0);
    waitpid(cam2, NULL, 0);
    tp_join_agent_destroy(join);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&map);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return tally.checked > 0 && tally.mismatched == 0 ? 0 : 1;
}
