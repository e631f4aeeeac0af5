/* Lineage: where did this output come from? A camera (every 33 ms) and an
 * IMU (every 5 ms) trace every frame; a timestamp join makes one output per
 * camera frame from it and the IMU samples of the 10 ms before, publishes
 * the output on its own stream and links it to exactly those frames. This
 * program keeps the lineage messages in an index as they pass, then walks
 * the last output back to its camera frame and IMU samples.
 *
 *   cc lineage.c $(pkg-config --cflags --libs tensorpool) -o lineage
 *   ./lineage [run_ms]
 *
 * One process plays the driver (embedded), the authority, the join stage
 * and the recorder; the two sensors are forked processes. All files live in
 * a fresh directory under /dev/shm, removed at the end. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <tensorpool/tensorpool.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CAMERA = 1, IMU = 2, FUSED = 20, MAX_PARENTS = 64 };

static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 64\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
                                  "[streams.camera]\nstream_id = 1\nprofile = \"small\"\n"
                                  "[streams.imu]\nstream_id = 2\nprofile = \"small\"\n"
                                  "[streams.fused]\nstream_id = 20\nprofile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A sensor process that gives every frame a fresh trace id. */
static pid_t start_sensor(uint32_t stream_id, int64_t period_ms, int64_t run_ms)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, stream_id, 0, "sensor", NULL) != 0 ||
        tp_producer_set_tracing(p, TP_TRACE_PER_FRAME, -1) != 0) {
        fprintf(stderr, "sensor %u: %s\n", stream_id, tp_errmsg());
        _exit(1);
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    int64_t next = 0;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) {
        tp_producer_do_work(p, now);
        if (!tp_producer_is_active(p) || now < next) continue;
        const uint64_t capture_ns = (uint64_t)now;
        tp_producer_offer(p, &t, &capture_ns, sizeof capture_ns, capture_ns, NULL);
        next = now + period_ms * 1000000LL;
    }
    tp_producer_close(p);
    _exit(0);
}

/* The join stage's state: its output producer and the last output made. */
typedef struct {
    tp_producer_t *out;
    uint64_t outputs, last_trace_id;
    uint32_t last_count;
    uint64_t last_parents[MAX_PARENTS];
} stage_t;

static void on_output(void *clientd, const tp_join_output_t *out)
{
    stage_t *s = clientd;
    uint64_t parents[MAX_PARENTS];
    /* the trace ids of exactly the frames this output was given */
    const uint32_t n = tp_join_output_trace_parents(out, parents, MAX_PARENTS, NULL);
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    tp_shm_claim_t c;
    if (n < 2 || tp_producer_claim(s->out, &t, 8, &c) != 0) return;
    memcpy(c.payload, &out->out_time, 8);
    /* a new trace id for the output, and a TraceLinkSet naming its parents */
    if (tp_producer_commit_derived(s->out, &c, out->out_time, parents, n) != 0) return;
    s->outputs++;
    s->last_trace_id = tp_producer_last_trace_id(s->out);
    s->last_count = n;
    memcpy(s->last_parents, parents, n * sizeof parents[0]);
}

/* Every message on the recorded streams goes to the index; it keeps traced
 * FrameDescriptors and TraceLinkSets and ignores the rest. */
static void record(void *clientd, const uint8_t *msg, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_trace_index_add(clientd, msg, len);
}

typedef struct {
    uint32_t depth1, depth1_recorded;
} walk_t;

static void print_frame(void *clientd, unsigned depth, uint64_t id, const tp_trace_frame_t *f, uint32_t parents)
{
    walk_t *w = clientd;
    if (depth == 1) w->depth1++;
    if (depth == 1 && f != NULL && (f->stream_id == CAMERA || f->stream_id == IMU)) w->depth1_recorded++;
    if (f == NULL) {
        printf("%*strace %llu (not recorded)\n", (int)(2 * depth), "", (unsigned long long)id);
        return;
    }
    printf("%*strace %llu  stream %u  seq %llu%s", (int)(2 * depth), "", (unsigned long long)id, f->stream_id,
           (unsigned long long)f->seq, parents > 0 ? "" : "\n");
    if (parents > 0) printf("  from %u frames\n", parents);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-lineage-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1);
    const pid_t camera = start_sensor(CAMERA, 33, run_ms);
    const pid_t imu = start_sensor(IMU, 5, run_ms);

    /* Output FUSED: the camera frame at T with the IMU samples of [T - 10 ms, T]. */
    tp_merge_map_t map;
    tp_merge_map_init(&map, TP_MERGE_KIND_TIMESTAMP, 2);
    tp_merge_map_reset(&map, FUSED, 1);
    tp_merge_map_set_clock(&map, TP_CLOCK_MONOTONIC, 5000000);
    tp_merge_map_add_offset_ns(&map, CAMERA, TP_TS_SOURCE_SLOT_HEADER, 0);
    tp_merge_map_add_window_ns(&map, IMU, TP_TS_SOURCE_SLOT_HEADER, 10000000);
    tp_merge_authority_config_t acfg;
    tp_merge_authority_config_init(&acfg);
    tp_merge_authority_t *auth;
    if (tp_merge_authority_create(&acfg, &auth) != 0 || tp_merge_authority_put(auth, &map, tp_clock_monotonic_ns()) < 0) {
        fprintf(stderr, "authority: %s\n", tp_errmsg());
        return 1;
    }

    /* The recorder: FrameDescriptors travel on the descriptor stream, the
     * join's TraceLinkSets on the control stream. */
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    ipc.namespace_name = ctx.ns;
    tp_trace_index_t *index;
    tp_ipc_subscription_t *descriptors, *control;
    if (tp_trace_index_create(&index) != 0 ||
        tp_ipc_subscription_open(&descriptors, &ipc, ctx.channel, ctx.descriptor_stream_id) != 0 ||
        tp_ipc_subscription_open(&control, &ipc, ctx.channel, ctx.control_stream_id) != 0) {
        fprintf(stderr, "recorder: %s\n", tp_errmsg());
        return 1;
    }

    stage_t stage = {0};
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_TIMESTAMP, FUSED, 1);
    tp_join_agent_config_add_input(&cfg, CAMERA, 0);
    tp_join_agent_config_add_input(&cfg, IMU, 0);
    cfg.shm_base_dir = dir; /* map the sensors' pools: the rules read slot-header times */
    cfg.on_output = on_output;
    cfg.clientd = &stage;
    tp_join_agent_t *join;
    if (tp_producer_open(&stage.out, &ctx, FUSED, 0, "fused", NULL) != 0 || tp_join_agent_create(&cfg, &join) != 0) {
        fprintf(stderr, "join stage: %s\n", tp_errmsg());
        return 1;
    }

    static tp_driver_config_t dcfg;
    tp_driver_config_defaults(&dcfg);
    tp_driver_embedded_t *driver = NULL;
    if (tp_driver_config_parse(&dcfg, driver_toml, strlen(driver_toml)) != 0 ||
        tp_driver_config_apply_env(&dcfg, NULL) != 0 || tp_driver_embedded_start(&driver, &dcfg) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        return 1;
    }

    /* One thread drives the authority, the join, its output producer and the recorder. */
    const int64_t end = tp_clock_monotonic_ns() + (run_ms + 200) * 1000000LL;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end;) {
        int work = tp_merge_authority_do_work(auth, now) + tp_join_agent_do_work(join, now);
        work += tp_producer_do_work(stage.out, now);
        work += tp_ipc_subscription_poll(descriptors, record, index, 64);
        work += tp_ipc_subscription_poll(control, record, index, 64);
        if (work == 0) sleep_ms(1);
    }

    /* The join stopped with the loop; let the recorder catch up with the
     * last output's link (it is on its way through the control stream). */
    const uint64_t *parents = NULL;
    const int64_t drain_end = tp_clock_monotonic_ns() + 2000000000LL;
    while (stage.outputs > 0 && tp_trace_index_parents(index, stage.last_trace_id, &parents) < 0 &&
           tp_clock_monotonic_ns() < drain_end) {
        tp_ipc_subscription_poll(descriptors, record, index, 64);
        tp_ipc_subscription_poll(control, record, index, 64);
        sleep_ms(1);
    }

    /* Where did the last output come from? */
    printf("%llu outputs; %zu traced frames and %zu links recorded; the last output:\n",
           (unsigned long long)stage.outputs, tp_trace_index_frame_count(index), tp_trace_index_link_count(index));
    walk_t w = {0, 0};
    const long visited = stage.outputs > 0 ? tp_trace_walk(index, stage.last_trace_id, 4, print_frame, &w) : -1;
    const long n = stage.outputs > 0 ? tp_trace_index_parents(index, stage.last_trace_id, &parents) : -1;
    const int ok = visited > 0 && n == (long)stage.last_count && memcmp(parents, stage.last_parents, n * 8) == 0 &&
                   w.depth1 == stage.last_count && w.depth1_recorded == stage.last_count;
    printf("lineage of the last output %s\n", ok ? "matches the frames it was made of" : "is WRONG");

    waitpid(camera, NULL, 0);
    waitpid(imu, NULL, 0);
    tp_join_agent_destroy(join);
    tp_producer_close(stage.out);
    tp_ipc_subscription_close(descriptors);
    tp_ipc_subscription_close(control);
    tp_trace_index_destroy(index);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&map);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ok ? 0 : 1;
}
