/* Two "hosts" on one machine that share nothing but a network: network
 * namespaces tpbA/tpbB joined by a veth pair (10.231.<x>.1 and .2), each with
 * its own base dir, SHM driver and embedded Aeron media driver. (Without
 * namespaces — not root, no ip(8) — the same runs over 127.0.0.1 with two
 * base dirs; the test prints which ran.)
 *
 * Host A: two camera-like producers (10001, 10002) and `tp bridge` sending
 * both. Host B: `tp bridge` receiving them as 20001/20002, a local IMU-like
 * producer (20003), and in this process a sequence join of the two bridged
 * streams and plain consumers that check every frame bit for bit.
 *
 * Metadata and lineage cross too (BR-7.1): both bridges forward metadata
 * and TraceLinkSets on a metadata channel. Camera 2 on host A is a derived
 * stage (each frame's trace id is minted, with a TraceLinkSet naming the
 * raw sensor id as its parent); host B sees the cameras' DataSourceAnnounce
 * and DataSourceMeta as 20001/20002's, and only those (BR-P8); a producer on
 * host B commits one frame per sequence-join output with its parents, and
 * every output's lineage, walked over host B's control stream alone, reaches
 * host A's ids.
 *
 * Phases: clean (join pairs frame N of both cameras, payloads exact);
 * receiver SIGKILLed and restarted; sender SIGKILLed and restarted; chunk
 * loss injected with Aeron's loss generator on host B over an unreliable
 * channel. Throughout: no torn or mispaired frame is ever seen on host B,
 * every loss is counted by cause, and frames flow again after each fault.
 *
 * usage: bridge_two_hosts_test TP_BINARY */
#include "tp_test.h"
#include "two_hosts.h"

#include "tensorpool/bridge.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver.h"
#include "tensorpool/driver_config.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/producer.h"
#include "tensorpool/trace.h"
#include "tensorpool/codec/control.h"

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define FRAME (64u * 1024u)
#define CAM1 10001u
#define CAM2 10002u
#define DST1 20001u
#define DST2 20002u
#define IMU 20003u
#define OUT 30001u
#define LINEAGE 30003u /* host B: one frame per sequence-join output, with its parents */
#define META_SID 50002 /* the bridges' metadata stream on the UDP channel */
#define NSLOTS 64u

typedef struct shared_s {
    atomic_int stop_a, stop_b;
    atomic_ulong published[2];
} shared_t;

static shared_t *sh;
static const char *tp_bin;
static char base_a[128], base_b[128];
static pid_t drv_a, drv_b, prod_a[2], imu_b, br_send, br_recv;

static void sleep_ns(int64_t ns)
{
    const struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

/* ---- host roles (forked children) ---- */

static void role_driver(const char *ns, const char *base, int host_b, const char *loss)
{
    enter_host(ns);
    if (loss != NULL) {
        setenv("AERON_UDP_CHANNEL_INCOMING_INTERCEPTORS", "loss", 1);
        setenv("AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS", loss, 1);
    }
    char text[2048];
    snprintf(text, sizeof text,
             "[driver]\nembedded_media_driver = true\n"
             "[policies]\nlease_keepalive_interval_ms = 100\nannounce_period_ms = 200\n"
             "[profiles.cam]\nheader_nslots = %u\npayload_pools = [ { pool_id = 1, stride_bytes = %u } ]\n"
             "[streams.s1]\nstream_id = %u\nprofile = \"cam\"\n[streams.s2]\nstream_id = %u\nprofile = \"cam\"\n"
             "[streams.s3]\nstream_id = %u\nprofile = \"cam\"\n[streams.s4]\nstream_id = %u\nprofile = \"cam\"\n",
             NSLOTS, FRAME, host_b ? DST1 : CAM1, host_b ? DST2 : CAM2, host_b ? IMU : 10003u, host_b ? LINEAGE : 10004u);
    tp_driver_config_t cfg;
    tp_driver_config_defaults(&cfg);
    if (tp_driver_config_parse(&cfg, text, strlen(text)) != 0)
        _exit(31);
    snprintf(cfg.base_dir, sizeof cfg.base_dir, "%s", base);
    tp_driver_t *d = NULL;
    if (tp_driver_open(&d, &cfg, NULL) != 0) {
        fprintf(stderr, "driver %s: %s\n", ns, tp_errmsg());
        _exit(32);
    }
    atomic_int *stop = host_b ? &sh->stop_b : &sh->stop_a;
    while (!atomic_load(stop))
        if (tp_driver_do_work(d, tp_clock_monotonic_ns()) == 0)
            sleep_ns(200000);
    tp_driver_close(d, 0, NULL);
    _exit(0);
}

static void pattern(uint8_t *p, uint32_t len, uint32_t stream, uint64_t seq)
{
    uint64_t x = ((uint64_t)stream << 40) ^ (seq * 0x9E3779B97F4A7C15ull) ^ 1u;
    for (uint32_t i = 0; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
}

static void role_producer(const char *ns, const char *base, uint32_t stream, int k, int64_t period, atomic_int *stop)
{
    enter_host(ns);
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", base);
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &ctx, stream, 0, "cam", NULL) != 0)
        _exit(40);
    tp_tensor_header_t t;
    const int32_t dims[1] = {(int32_t)FRAME};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    int64_t next = tp_clock_monotonic_ns();
    bool meta_set = false;
    while (!atomic_load(stop)) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(p, now);
        if (k >= 0 && !meta_set && tp_producer_is_active(p)) {
            const tp_meta_attr_t attr = {"lens", "text", "wide", 4};
            meta_set = tp_producer_set_meta(p, &attr, 1) == 0;
        }
        if (tp_producer_is_active(p) && now >= next) {
            tp_shm_claim_t c;
            const uint64_t seq = tp_producer_next_seq(p);
            if (tp_producer_claim(p, &t, FRAME, &c) == 0) {
                pattern(c.payload, FRAME, stream, seq);
                const uint64_t raw = ((uint64_t)stream << 32) | seq;
                if (stream == CAM2) /* a derived stage: new trace id, TraceLinkSet to the raw id */
                    tp_producer_commit_derived(p, &c, (uint64_t)tp_clock_realtime_ns(), &raw, 1);
                else
                    tp_producer_commit_traced(p, &c, (uint64_t)tp_clock_realtime_ns(), raw);
                if (k >= 0)
                    atomic_store(&sh->published[k], seq + 1);
            }
            next += period;
        }
        sleep_ns(200000);
    }
    tp_producer_close(p);
    _exit(0);
}

static pid_t spawn(void (*fn)(void), const char *what)
{
    (void)what;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(300);
        fn();
        _exit(0);
    }
    return pid;
}

static const char *loss_args;
static void fn_drv_a(void) { role_driver(ns_a, base_a, 0, NULL); }
static void fn_drv_b(void) { role_driver(ns_b, base_b, 1, loss_args); }
static void fn_cam1(void) { role_producer(ns_a, base_a, CAM1, 0, 20 * MS, &sh->stop_a); }
static void fn_cam2(void) { role_producer(ns_a, base_a, CAM2, 1, 20 * MS, &sh->stop_a); }
static void fn_imu(void) { role_producer(ns_b, base_b, IMU, -1, 5 * MS, &sh->stop_b); }

static char cfg_send[256], cfg_recv[256];

static void write_bridge_configs(int reliable)
{
    const char *host = ip_b;
    static int port;
    if (port == 0)
        port = 41000 + (int)(getpid() % 20000);
    char channel[256];
    snprintf(channel, sizeof channel, "aeron:udp?endpoint=%s:%d|mtu=8192%s", host, port,
             reliable ? "" : "|reliable=false");
    for (int r = 0; r < 2; r++) {
        FILE *f = fopen(r ? cfg_recv : cfg_send, "w");
        if (f == NULL)
            exit(2);
        fprintf(f,
                "[bridge]\ninstance_id = \"%s\"\npayload_channel = \"%s\"\ncontrol_channel = \"%s\"\n"
                "mtu_bytes = 8192\ncrc32c = true\nassembly_timeout_ms = 200\n"
                "metadata_channel = \"%s\"\nmetadata_stream_id = %d\nforward_metadata = true\nforward_tracelink = true\n",
                r ? "host-b" : "host-a", channel, channel, channel, META_SID);
        for (int k = 0; k < 2; k++)
            fprintf(f, "[[mappings]]\ndirection = \"%s\"\nsource_stream_id = %u\ndest_stream_id = %u\n",
                    r ? "receive" : "send", k ? CAM2 : CAM1, r ? (k ? DST2 : DST1) : 0u);
        fclose(f);
    }
}

static pid_t spawn_bridge(int recv)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        enter_host(recv ? ns_b : ns_a);
        execl(tp_bin, "tp", "bridge", "-c", recv ? cfg_recv : cfg_send, "-d", recv ? base_b : base_a, (char *)NULL);
        _exit(50);
    }
    return pid;
}

static void stop_pid(pid_t *p, int sig)
{
    if (*p <= 0)
        return;
    kill(*p, sig);
    const int64_t deadline = tp_clock_monotonic_ns() + 5000 * MS;
    while (waitpid(*p, NULL, WNOHANG) != *p) {
        if (tp_clock_monotonic_ns() > deadline) {
            kill(*p, SIGKILL);
            waitpid(*p, NULL, 0);
            break;
        }
        sleep_ns(5 * MS);
    }
    *p = 0;
}

/* ---- host B checks (this process) ---- */

typedef struct check_s {
    uint64_t frames[2], bad[2], last_seq[2];
} check_t;

static uint8_t expect[FRAME];

static void on_frame(void *clientd, const tp_frame_t *f)
{
    check_t *c = clientd;
    const int k = f->stream_id == DST2;
    const uint32_t src = k ? CAM2 : CAM1;
    pattern(expect, FRAME, src, f->seq);
    /* camera 2's trace ids are minted on host A (a derived stage) */
    const int ok = f->len == FRAME && memcmp(f->payload, expect, FRAME) == 0 &&
                   (k ? f->trace_id != 0 : f->trace_id == (((uint64_t)src << 32) | f->seq));
    if (!tp_frame_intact(f))
        return; /* lapped locally while read: the consumer counts it late */
    if (!ok)
        c->bad[k]++;
    c->frames[k]++;
    c->last_seq[k] = f->seq;
}

static tp_client_context_t ctx_b;
static tp_consumer_t *cons[2];
static check_t chk;

static void pump_consumers(int64_t ms)
{
    const int64_t deadline = tp_clock_monotonic_ns() + ms * MS;
    while (tp_clock_monotonic_ns() < deadline) {
        int w = 0;
        for (int k = 0; k < 2; k++)
            w += tp_consumer_poll(cons[k], tp_clock_monotonic_ns(), on_frame, &chk, 64);
        if (w <= 0)
            sleep_ns(200000);
    }
}

/* Wait until both bridged streams delivered `more` further frames. */
static int flowing(uint64_t more, int64_t timeout_ms)
{
    const uint64_t f0 = chk.frames[0], f1 = chk.frames[1];
    const int64_t deadline = tp_clock_monotonic_ns() + timeout_ms * MS;
    while (tp_clock_monotonic_ns() < deadline) {
        pump_consumers(20);
        if (chk.frames[0] >= f0 + more && chk.frames[1] >= f1 + more)
            return 1;
    }
    fprintf(stderr, "not flowing: %llu/%llu frames (from %llu/%llu)\n", (unsigned long long)chk.frames[0],
            (unsigned long long)chk.frames[1], (unsigned long long)f0, (unsigned long long)f1);
    return 0;
}

/* Sum of receive drops from host B's status file (tp stat's source). */
static uint64_t status_drops(const char *cause)
{
    char cmd[512], out[4096] = "";
    snprintf(cmd, sizeof cmd, "%s stat --json --once %s 2>/dev/null", tp_bin, base_b);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return 0;
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    uint64_t sum = 0;
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", cause);
    for (const char *s = strstr(out, key); s != NULL; s = strstr(s + 1, key))
        sum += strtoull(s + strlen(key), NULL, 10);
    return sum;
}

/* The sequence join on host B over the two bridged streams. */
typedef struct stage_s {
    int outputs, paired, exact;
    tp_producer_t *lineage; /* commits one frame per output, parents attached */
    unsigned nout;
    uint64_t out_trace[64], out_seq[64]; /* the first outputs' trace ids and seqs */
} stage_t;

static void on_output(void *clientd, const tp_join_output_t *out)
{
    stage_t *s = clientd;
    s->outputs++;
    int pair = out->input_count == 2, exact = 1;
    for (uint32_t i = 0; i < out->input_count; i++) {
        const tp_join_input_t *in = &out->inputs[i];
        if (in->frame_count != 1 || in->frames[0].seq != out->out_seq) {
            pair = 0;
            continue;
        }
        const tp_join_frame_t *f = &in->frames[0];
        if (!f->has_view)
            continue;
        pattern(expect, FRAME, in->stream_id == DST2 ? CAM2 : CAM1, f->seq);
        if (tp_join_frame_still_valid(f) && (f->view.len != FRAME || memcmp(f->view.payload, expect, FRAME) != 0))
            exact = 0;
    }
    s->paired += pair;
    s->exact += exact && pair;
    /* TL-6.3.c over the bridge: the output's parents are host A's trace ids */
    uint64_t parents[8];
    const uint32_t np = tp_join_output_trace_parents(out, parents, 8, NULL);
    tp_tensor_header_t t;
    const int32_t dims[1] = {8};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    tp_shm_claim_t c;
    if (pair && np == 2 && s->lineage != NULL && tp_producer_is_active(s->lineage) &&
        tp_producer_claim(s->lineage, &t, 8, &c) == 0) {
        memcpy(c.payload, &out->out_seq, 8);
        if (tp_producer_commit_derived(s->lineage, &c, (uint64_t)tp_clock_realtime_ns(), parents, np) == 0 &&
            s->nout < 64) {
            s->out_trace[s->nout] = tp_producer_last_trace_id(s->lineage);
            s->out_seq[s->nout++] = out->out_seq;
        }
    }
}

/* Host B's metadata and control streams, as a consumer there sees them. */
typedef struct b_watch_s {
    unsigned announce_cam[2], announce_other, meta_cam[2];
    tp_trace_index_t *ix;
} b_watch_t;

static void on_b_meta(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    b_watch_t *w = clientd;
    tp_control_data_source_announce_dec_t a;
    tp_control_data_source_meta_dec_t m;
    if (tp_control_data_source_announce_decode(&a, buf, len) == 0) {
        const uint32_t sid = tp_control_data_source_announce_stream_id(&a);
        if (sid != DST1 && sid != DST2)
            return;
        uint32_t n = 0;
        const char *name = tp_control_data_source_announce_name(&a, &n);
        if (n == 3 && memcmp(name, "cam", 3) == 0)
            w->announce_cam[sid == DST2]++;
        else
            w->announce_other++;
    } else if (tp_control_data_source_meta_decode(&m, buf, len) == 0) {
        const uint32_t sid = tp_control_data_source_meta_stream_id(&m);
        if (sid == DST1 || sid == DST2)
            w->meta_cam[sid == DST2]++;
    }
}

static void on_b_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    b_watch_t *w = clientd;
    (void)tp_trace_index_add(w->ix, buf, len);
}

typedef struct walk_s {
    uint64_t want[2];
    int found[2];
} walk_t;

static void on_visit(void *clientd, unsigned depth, uint64_t trace_id, const tp_trace_frame_t *frame, uint32_t parent_count)
{
    (void)depth;
    (void)frame;
    (void)parent_count;
    walk_t *w = clientd;
    for (int k = 0; k < 2; k++)
        w->found[k] |= trace_id == w->want[k];
}

/* The timestamp join on host B: bridged camera 1 (trigger) with the local
 * IMU in a 20 ms window, capture times on REALTIME_SYNCED clocks. */
typedef struct ts_stage_s {
    int outputs, bad, full;
} ts_stage_t;

#define IMU_WINDOW_NS (20 * MS)

/* Wrong is: a camera frame not at out_time or not bit-exact, an IMU sample
 * outside the window. Under load an input may be absent from an output (the
 * lateness ran out, or a read lost a lap): that is the join's rule, counted
 * apart ("full" outputs have both). */
static void on_ts_output(void *clientd, const tp_join_output_t *out)
{
    ts_stage_t *s = clientd;
    s->outputs++;
    if (out->input_count != 2) {
        s->bad++;
        return;
    }
    const tp_join_input_t *cam = &out->inputs[0], *imu = &out->inputs[1];
    int bad = cam->frame_count > 1;
    for (uint32_t k = 0; k < cam->frame_count && !bad; k++) {
        const tp_join_frame_t *f = &cam->frames[k];
        if (!f->has_view)
            continue;
        pattern(expect, FRAME, CAM1, f->seq);
        bad = f->view.header.timestamp_ns != out->out_time ||
              (tp_join_frame_still_valid(f) && memcmp(f->view.payload, expect, FRAME) != 0);
    }
    for (uint32_t k = 0; k < imu->frame_count && !bad; k++) {
        if (!imu->frames[k].has_view)
            continue;
        const uint64_t t = imu->frames[k].view.header.timestamp_ns;
        bad = t > out->out_time || t + (uint64_t)IMU_WINDOW_NS < out->out_time;
    }
    s->bad += bad;
    s->full += !bad && cam->frame_count == 1 && imu->frame_count >= 1;
}

/* BR-2.1.a, BR-2.2.a, BR-3.a, BR-4.a, BR-6.f, BR-7.a, BR-7.2.a: host B's
 * sequence join pairs frame N of both bridged cameras, every payload exact. */
static void phase_join(void)
{
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = base_b;
    tp_merge_authority_config_t ac;
    tp_merge_authority_config_init(&ac);
    ac.ipc = &ipc;
    ac.reannounce_interval_ns = 100 * MS;
    tp_merge_authority_t *auth = NULL;
    CHECK_EQ_I64(tp_merge_authority_create(&ac, &auth), 0);
    tp_merge_map_t m;
    tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 4);
    tp_merge_map_reset(&m, OUT, 1);
    tp_merge_map_add_offset(&m, DST1, 0);
    tp_merge_map_add_offset(&m, DST2, 0);
    if (auth != NULL)
        CHECK(tp_merge_authority_put(auth, &m, tp_clock_monotonic_ns()) == 1);
    stage_t st = {0};
    CHECK_EQ_I64(tp_producer_open(&st.lineage, &ctx_b, LINEAGE, 0, "lineage", NULL), 0);
    b_watch_t bw = {0};
    CHECK_EQ_I64(tp_trace_index_create(&bw.ix), 0);
    tp_ipc_subscription_t *meta_sub = NULL, *ctl_sub = NULL;
    CHECK_EQ_I64(tp_ipc_subscription_open(&meta_sub, &ipc, ctx_b.channel, ctx_b.metadata_stream_id), 0);
    CHECK_EQ_I64(tp_ipc_subscription_open(&ctl_sub, &ipc, ctx_b.channel, ctx_b.control_stream_id), 0);
    tp_join_agent_config_t cfg;
    tp_join_agent_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 1);
    cfg.ipc = &ipc;
    tp_join_agent_config_add_input(&cfg, DST1, 0);
    tp_join_agent_config_add_input(&cfg, DST2, 0);
    cfg.shm_base_dir = base_b;
    cfg.on_output = on_output;
    cfg.clientd = &st;
    /* start a little ahead of what has arrived: earlier frames were lapped */
    cfg.first_out_seq = (chk.last_seq[0] > chk.last_seq[1] ? chk.last_seq[0] : chk.last_seq[1]) + 25;
    cfg.request_interval_ns = 50 * MS;
    tp_join_agent_t *a = NULL;
    CHECK_EQ_I64(tp_join_agent_create(&cfg, &a), 0);
    /* and a timestamp join of a bridged camera with the local IMU */
    tp_merge_map_t tm;
    tp_merge_map_init(&tm, TP_MERGE_KIND_TIMESTAMP, 4);
    tp_merge_map_reset(&tm, OUT + 1, 1);
    tp_merge_map_set_clock(&tm, TP_CLOCK_REALTIME_SYNCED, 30 * MS);
    tp_merge_map_add_offset_ns(&tm, DST1, TP_TS_SOURCE_SLOT_HEADER, 0);
    tp_merge_map_add_window_ns(&tm, IMU, TP_TS_SOURCE_SLOT_HEADER, IMU_WINDOW_NS);
    if (auth != NULL)
        CHECK(tp_merge_authority_put(auth, &tm, tp_clock_monotonic_ns()) == 1);
    ts_stage_t ts = {0};
    tp_join_agent_config_t tcfg;
    tp_join_agent_config_init(&tcfg, TP_JOIN_MODE_TIMESTAMP, OUT + 1, 1);
    tcfg.ipc = &ipc;
    tp_join_agent_config_add_input(&tcfg, DST1, 0);
    tp_join_agent_config_add_input(&tcfg, IMU, 0);
    tcfg.shm_base_dir = base_b;
    tcfg.on_output = on_ts_output;
    tcfg.clientd = &ts;
    tcfg.request_interval_ns = 50 * MS;
    tp_join_agent_t *ta = NULL;
    CHECK_EQ_I64(tp_join_agent_create(&tcfg, &ta), 0);
    const int64_t deadline = tp_clock_monotonic_ns() + 30000 * MS;
    while (a != NULL && ta != NULL && auth != NULL && (st.outputs < 100 || ts.outputs < 50) &&
           tp_clock_monotonic_ns() < deadline) {
        const int64_t now = tp_clock_monotonic_ns();
        int w = tp_join_agent_do_work(a, now) + tp_join_agent_do_work(ta, now) + tp_merge_authority_do_work(auth, now);
        if (st.lineage != NULL)
            w += tp_producer_do_work(st.lineage, now);
        if (meta_sub != NULL && ctl_sub != NULL && bw.ix != NULL)
            w += tp_ipc_subscription_poll(meta_sub, on_b_meta, &bw, 64) + tp_ipc_subscription_poll(ctl_sub, on_b_control, &bw, 64);
        pump_consumers(0);
        if (w == 0)
            sleep_ns(200000);
    }
    printf("sequence join: %d outputs, %d paired, %d exact; timestamp join: %d outputs, %d wrong, %d with the camera"
           " frame at out_time and IMU samples inside the window\n", st.outputs, st.paired, st.exact, ts.outputs, ts.bad,
           ts.full);
    /* BR-7.1.a, BR-P8: host B has the cameras' own announce and metadata
     * under the bridged ids, and no other announce of those streams */
    printf("host B metadata: announces of 20001/20002 from the cameras %u/%u, others %u; DataSourceMeta %u/%u\n",
           bw.announce_cam[0], bw.announce_cam[1], bw.announce_other, bw.meta_cam[0], bw.meta_cam[1]);
    CHECK(bw.announce_cam[0] > 0 && bw.announce_cam[1] > 0);
    CHECK(bw.meta_cam[0] > 0 && bw.meta_cam[1] > 0);
    CHECK_EQ_U64(bw.announce_other, 0);
    /* BR-7.1.b, BR-5.2.j: every recorded join output's lineage, walked over
     * host B's control stream, reaches both raw ids of host A (camera 2's
     * through the TraceLinkSet forwarded from host A) */
    unsigned reachable = 0;
    for (unsigned i = 0; i < st.nout && bw.ix != NULL; i++) {
        walk_t w = {{((uint64_t)CAM1 << 32) | st.out_seq[i], ((uint64_t)CAM2 << 32) | st.out_seq[i]}, {0, 0}};
        if (tp_trace_walk(bw.ix, st.out_trace[i], 4, on_visit, &w) > 0 && w.found[0] && w.found[1])
            reachable++;
    }
    printf("lineage: %u join outputs recorded on host B, %u reach both host A ids (%zu links indexed)\n", st.nout,
           reachable, bw.ix != NULL ? tp_trace_index_link_count(bw.ix) : (size_t)0);
    CHECK(st.nout >= 50);
    CHECK(reachable * 10 >= st.nout * 9);
    tp_ipc_subscription_close(meta_sub);
    tp_ipc_subscription_close(ctl_sub);
    tp_trace_index_destroy(bw.ix);
    tp_producer_close(st.lineage);
    CHECK(ts.outputs >= 50);
    CHECK_EQ_I64(ts.bad, 0);
    CHECK(ts.full >= ts.outputs / 2);
    tp_join_agent_destroy(ta);
    tp_merge_map_close(&tm);
    CHECK(st.outputs >= 100);
    CHECK_EQ_I64(st.paired, st.outputs);
    CHECK_EQ_I64(st.exact, st.outputs);
    tp_join_agent_destroy(a);
    tp_merge_authority_destroy(auth);
    tp_merge_map_close(&m);
}

static void start_host_b(void)
{
    drv_b = spawn(fn_drv_b, "driver B");
    sleep_ns(300 * MS);
    imu_b = spawn(fn_imu, "imu");
    br_recv = spawn_bridge(1);
}

static void stop_host_b(void)
{
    stop_pid(&br_recv, SIGTERM);
    atomic_store(&sh->stop_b, 1);
    stop_pid(&imu_b, 0);
    for (int k = 0; k < 2; k++) {
        tp_consumer_close(cons[k]);
        cons[k] = NULL;
    }
    stop_pid(&drv_b, 0);
    atomic_store(&sh->stop_b, 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void open_consumers(void)
{
    for (int k = 0; k < 2; k++)
        CHECK_EQ_I64(tp_consumer_open(&cons[k], &ctx_b, k ? DST2 : DST1, 0), 0);
}

static void test_two_hosts(void)
{
    use_netns = netns_up("tpb", 231);
    printf("two hosts: %s\n", use_netns ? "network namespaces joined by a veth pair"
                                         : "NO network namespaces: two base dirs over 127.0.0.1");
    snprintf(base_a, sizeof base_a, "/dev/shm/tp-bridge-a-%d", (int)getpid());
    snprintf(base_b, sizeof base_b, "/dev/shm/tp-bridge-b-%d", (int)getpid());
    mkdir(base_a, 0770);
    mkdir(base_b, 0770);
    snprintf(cfg_send, sizeof cfg_send, "%s/bridge-send.toml", base_a);
    snprintf(cfg_recv, sizeof cfg_recv, "%s/bridge-recv.toml", base_b);
    write_bridge_configs(1);
    unsetenv("AERON_DIR");
    setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
    setenv("AERON_DRIVER_TIMEOUT", "2000", 1);

    drv_a = spawn(fn_drv_a, "driver A");
    start_host_b();
    sleep_ns(300 * MS);
    prod_a[0] = spawn(fn_cam1, "cam1");
    prod_a[1] = spawn(fn_cam2, "cam2");
    br_send = spawn_bridge(0);
    tp_client_context_init(&ctx_b);
    snprintf(ctx_b.base_dir, sizeof ctx_b.base_dir, "%s", base_b);
    open_consumers();

    /* clean run */
    CHECK(flowing(50, 30000));
    phase_join();
    CHECK_EQ_U64(chk.bad[0] + chk.bad[1], 0);

    /* BR-8.c, BR-P2: the receiver SIGKILLed and restarted: it waits for the
     * next forwarded announce, attaches in a new local epoch, and frames flow
     * again to the same unchanged consumers (BR-9.c) */
    stop_pid(&br_recv, SIGKILL);
    br_recv = spawn_bridge(1);
    CHECK(flowing(50, 30000));
    CHECK_EQ_U64(chk.bad[0] + chk.bad[1], 0);

    /* the sender SIGKILLed mid-frame and restarted: partial frames never appear */
    stop_pid(&br_send, SIGKILL);
    br_send = spawn_bridge(0);
    CHECK(flowing(50, 30000));
    CHECK_EQ_U64(chk.bad[0] + chk.bad[1], 0);

    /* host B's SHM driver (and the media driver inside it) SIGKILLed and
     * restarted: the bridge and the consumers attach again, frames flow */
    stop_pid(&drv_b, SIGKILL);
    drv_b = spawn(fn_drv_b, "driver B");
    CHECK(flowing(50, 60000));
    CHECK_EQ_U64(chk.bad[0] + chk.bad[1], 0);

    /* BR-8.a, BR-8.c, BR-P5: host A's driver SIGKILLed and restarted: the cameras
     * attach again in a new source epoch (their seq starts over), host B
     * drops what was in flight and re-attaches in a new local epoch */
    const uint64_t remaps = status_drops("remap");
    stop_pid(&drv_a, SIGKILL);
    drv_a = spawn(fn_drv_a, "driver A");
    CHECK(flowing(50, 60000));
    CHECK_EQ_U64(chk.bad[0] + chk.bad[1], 0);
    printf("source epoch change: remap drops %llu -> %llu\n", (unsigned long long)remaps,
           (unsigned long long)status_drops("remap"));

    /* BR-3.c, BR-5.3.a, BR-5.3.b: loss on host B over an unreliable channel
     * (Aeron's loss generator drops 2% of data frames): lost frames are
     * dropped and counted, never published torn. */
    stop_pid(&br_send, SIGTERM);
    stop_host_b();
    write_bridge_configs(0);
    loss_args = "rate=0.02|recv-msg-mask=0x2";
    start_host_b();
    br_send = spawn_bridge(0);
    open_consumers();
    CHECK(flowing(100, 60000));
    pump_consumers(1500); /* the status file is rewritten every second */
    const uint64_t lost = status_drops("missing") + status_drops("timeout");
    printf("loss phase: %llu frames dropped as missing/timeout; bad %llu\n", (unsigned long long)lost,
           (unsigned long long)(chk.bad[0] + chk.bad[1]));
    CHECK(lost > 0);
    CHECK_EQ_U64(chk.bad[0] + chk.bad[1], 0);
    printf("frames checked on host B: %llu + %llu\n", (unsigned long long)chk.frames[0],
           (unsigned long long)chk.frames[1]);

    stop_pid(&br_send, SIGTERM);
    stop_host_b();
    atomic_store(&sh->stop_a, 1);
    stop_pid(&prod_a[0], 0);
    stop_pid(&prod_a[1], 0);
    stop_pid(&drv_a, 0);
    if (use_netns)
        netns_down();
    nftw(base_a, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(base_b, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TP_BINARY\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 2;
    memset(sh, 0, sizeof *sh);
    RUN(test_two_hosts);
    TP_TEST_END();
}
