/* Latest-value join: a fast sensor (every 5 ms) and a slow one (every 40 ms)
 * that falls silent half way. Each new value of either input produces an output
 * with the latest frame of both; once the slow one has been silent longer
 * than the map's stale timeout (100 ms) it is reported stale, and its last
 * value is still offered.
 *
 *   cc join_latest.c $(pkg-config --cflags --libs tensorpool) -o join_latest
 *   ./join_latest [run_ms]
 *
 * One process plays every role: an embedded driver owning streams 1 and 2,
 * two producer processes (forked), a MergeMap authority that publishes the
 * join's rules, and the join agent that calls on_output. All files live in a
 * fresh directory under /dev/shm, removed at the end. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <tensorpool/tensorpool.h>

#include <ftw.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { FAST = 1, SLOW = 2, JOINED = 30 };

static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 64\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
                                  "[streams.fast]\n"
                                  "stream_id = 1\n"
                                  "profile = \"small\"\n"
                                  "[streams.slow]\n"
                                  "stream_id = 2\n"
                                  "profile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A sensor process: frame k carries the number k (one uint64). It publishes
 * for quiet_after_ms after attaching, then stays attached but silent until
 * run_ms. */
static pid_t start_sensor(uint32_t stream_id, int64_t period_ms, int64_t quiet_after_ms, int64_t run_ms)
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
    /* The windows count from attaching (on a loaded machine the driver may
     * start late); give up 10 s after run_ms if it never comes. */
    const int64_t give_up = tp_clock_monotonic_ns() + (run_ms + 10000) * 1000000LL;
    int64_t end = give_up, quiet = 0; /* 0: not attached yet */
    uint64_t k = 0;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now); /* keeps the lease alive: call it often */
        if (!tp_producer_is_active(p)) continue;
        if (quiet == 0) {
            quiet = now + quiet_after_ms * 1000000LL;
            end = now + run_ms * 1000000LL;
        }
        if (now < next || now >= quiet) continue;
        if (tp_producer_offer(p, &t, &k, sizeof k, (uint64_t)now, NULL) == 0) k++;
        next = now + period_ms * 1000000LL;
    }
    tp_producer_close(p);
    _exit(0);
}

typedef struct {
    atomic_uint_fast64_t stale; /* read by main while the runner's thread writes it */
    uint64_t last_fast, wrong;
} tally_t;

/* Called on the runner's thread for each new value of either input. */
static void on_output(void *clientd, const tp_join_output_t *out)
{
    tally_t *n = clientd;
    const tp_join_input_t *fast = &out->inputs[0], *slow = &out->inputs[1];
    if (fast->frame_count == 1 && fast->frames[0].has_view) {
        uint64_t v;
        memcpy(&v, fast->frames[0].view.payload, sizeof v);
        /* The latest value never goes back in time (within one epoch). */
        if (tp_join_frame_still_valid(&fast->frames[0])) {
            n->wrong += v < n->last_fast;
            n->last_fast = v;
        }
    }
    if (slow->status == TP_JOIN_INPUT_STALE && slow->frame_count == 1 && atomic_fetch_add(&n->stale, 1) == 0)
        printf("output %llu: sensor %u is stale, its last frame %llu still offered\n",
               (unsigned long long)out->out_seq, slow->stream_id, (unsigned long long)slow->frames[0].seq);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-join-latest-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1); /* every context below defaults to it */

    /* Fork the sensors before any thread starts. They attach once the driver runs. */
    const pid_t fast = start_sensor(FAST, 5, run_ms, run_ms);
    const pid_t slow = start_sensor(SLOW, 40, run_ms / 2, run_ms); /* falls silent half way */

    /* The rules: output JOINED, epoch 1, from inputs FAST and SLOW (a
     * latest-value join ignores the rules' parameters); an input silent for
     * 100 ms is stale. */
    tp_merge_map_t map;
    tp_merge_map_init(&map, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(&map, JOINED, 1);
    tp_merge_map_add_offset(&map, FAST, 0);
    tp_merge_map_add_offset(&map, SLOW, 0);
    tp_merge_map_set_stale_timeout(&map, 100000000);

    /* The authority publishes the map and answers the join's requests. */
    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    tp_merge_authority_t *auth;
    if (tp_merge_authority_create(&acfg, &auth) != 0 || tp_merge_authority_put(auth, &map, tp_clock_monotonic_ns()) < 0) {
        fprintf(stderr, "authority: %s\n", tp_errmsg());
        return 1;
    }

    static tally_t tally; /* zero */
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_LATEST_VALUE, JOINED, 1);
    tp_join_agent_config_add_input(&cfg, FAST, 0);
    tp_join_agent_config_add_input(&cfg, SLOW, 0);
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
    tp_agent_composite_init(&group, "latest", agents, 2);
    tp_agent_t stage = tp_agent_composite_as_agent(&group);
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 100, 10, 100000, 1000000);
    tp_agent_runner_t runner;
    tp_agent_runner_init(&runner, &stage, &idle);
    tp_agent_runner_start(&runner);
    /* Until the slow sensor was seen stale (a loaded machine may take longer
     * than run_ms to get there), at most 5 s more. */
    for (int64_t waited = 0; atomic_load(&tally.stale) == 0 && waited < run_ms + 5000; waited += 10) sleep_ms(10);
    tp_agent_runner_stop(&runner); /* joins the thread; on_close releases subscriptions and mappings */

    tp_join_agent_stats_t st;
    tp_join_agent_stats(join, &st);
    printf("outputs %llu, with the slow sensor stale %llu, frames read %llu, dropped %llu\n",
           (unsigned long long)st.outputs, (unsigned long long)st.outputs_with_stale,
           (unsigned long long)st.frames_read, (unsigned long long)st.frames_dropped);
    waitpid(fast, NULL, 0);
    waitpid(slow, NULL, 0);
    tp_join_agent_destroy(join);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&map);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return st.outputs > 0 && atomic_load(&tally.stale) > 0 && tally.wrong == 0 ? 0 : 1;
}
