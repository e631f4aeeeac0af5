/* Bridge throughput and latency (docs/spec/bridge.md) on this machine over
 * aeron:udp on 127.0.0.1 (mtu 8192), two processes: "host A" (producer of
 * stream 10001 + tp bridge sender) and "host B" (tp bridge receiver into
 * 20001 + a consumer), one SHM driver with an embedded media driver in a
 * third. Results, JSON lines:
 *   bridge_fps, bridge_mb_per_s   at 64 KiB, 1 MiB, 4 MiB frames, with up to
 *                                 4 frames in flight (credit from B)
 *   bridge_latency_p50/p99        commit on A -> consumer callback on B, ns,
 *                                 one frame in flight
 *   aeron_udp_mb_per_s            the floor: raw 8000-byte Aeron messages on
 *                                 the same kind of channel, offer as fast as
 *                                 Aeron takes them
 *   aeron_sample_udp_mb_per_s     the floor by Aeron's own C samples
 *                                 (streaming_publisher -> rate_subscriber,
 *                                 8000-byte messages, each side with its own
 *                                 aeronmd): the median of its per-second
 *                                 reports (built when Aeron is built from
 *                                 source)
 * The memcpy floor is bench_floor's.
 *
 * With --netns (root and ip(8)) "host A" and "host B" are two network
 * namespaces joined by a veth pair, each with its own SHM driver and
 * embedded media driver and its own base dir, exactly as in
 * bridge_two_hosts_test; every line then says "hosts":"netns".
 *
 * usage: bench_bridge [--quick] [--netns] */
#include "tensorpool/bridge.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver.h"
#include "tensorpool/driver_config.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/producer.h"

#include "../tests/integration/two_hosts.h"

#include <ftw.h>
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

#define SRC 10001u
#define DST 20001u
#define MAX_FRAME (4u << 20)
#define MAX_LAT 4096

typedef struct shared_s {
    atomic_int stop_driver, stop_a, ready;
    atomic_ulong received, sent;
    atomic_uint window;
} shared_t;

static shared_t *sh;
static char base[128], base_a[128]; /* host B's and host A's (the same without --netns) */
static int netns;
static const char *hosts = "loopback";
static char channel[160], raw_channel[160];

static void sleep_ns(int64_t ns)
{
    const struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

static void emit(const char *name, const char *unit, double value, const char *params)
{
    printf("{\"name\":\"%s\",\"unit\":\"%s\",\"value\":%.6g,\"hosts\":\"%s\"%s%s}\n", name, unit, value, hosts,
           params[0] ? "," : "", params);
    fflush(stdout);
}

static void run_driver(const char *dir, const char *ns)
{
    enter_host(ns);
    char text[1024];
    snprintf(text, sizeof text,
             "[driver]\nembedded_media_driver = true\n[policies]\nannounce_period_ms = 200\n"
             "[profiles.big]\nheader_nslots = 16\npayload_pools = [ { pool_id = 1, stride_bytes = %u } ]\n"
             "[streams.src]\nstream_id = %u\nprofile = \"big\"\n[streams.dst]\nstream_id = %u\nprofile = \"big\"\n",
             MAX_FRAME, SRC, DST);
    tp_driver_config_t cfg;
    tp_driver_config_defaults(&cfg);
    if (tp_driver_config_parse(&cfg, text, strlen(text)) != 0)
        _exit(10);
    snprintf(cfg.base_dir, sizeof cfg.base_dir, "%s", dir);
    tp_driver_t *d = NULL;
    if (tp_driver_open(&d, &cfg, NULL) != 0) {
        fprintf(stderr, "bench_bridge: driver: %s\n", tp_errmsg());
        _exit(11);
    }
    while (!atomic_load(&sh->stop_driver))
        if (tp_driver_do_work(d, tp_clock_monotonic_ns()) == 0)
            sleep_ns(100000);
    tp_driver_close(d, 0, NULL);
    _exit(0);
}

static void bridge_cfg(tp_bridge_config_t *c, tp_bridge_direction_t dir)
{
    tp_bridge_config_init(c);
    snprintf(c->payload_channel, sizeof c->payload_channel, "%s", channel);
    snprintf(c->control_channel, sizeof c->control_channel, "%s", channel);
    c->mtu_bytes = 8192;
    c->nmappings = 1;
    c->mappings[0] = (tp_bridge_mapping_t){dir, SRC, dir == TP_BRIDGE_RECEIVE ? DST : 0, 0};
}

static tp_client_context_t ctx, ctx_a;

/* Host A: producer + sender. Sends frames of `len` bytes until stopped,
 * keeping at most sh->window frames ahead of what B received or lost. */
static void run_host_a(uint32_t len)
{
    tp_producer_t *p = NULL;
    tp_bridge_t *b = NULL;
    tp_bridge_config_t cfg;
    bridge_cfg(&cfg, TP_BRIDGE_SEND);
    enter_host(netns ? ns_a : NULL);
    if (tp_producer_open(&p, &ctx_a, SRC, 0, "bench", NULL) != 0 || tp_bridge_open(&b, &ctx_a, &cfg) != 0) {
        fprintf(stderr, "bench_bridge: host A: %s\n", tp_errmsg());
        _exit(20);
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {(int32_t)len};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    unsigned sent = 0;
    while (!atomic_load(&sh->stop_a)) {
        const int64_t now = tp_clock_monotonic_ns();
        int w = tp_producer_do_work(p, now) + tp_bridge_do_work(b, now);
        if (atomic_load(&sh->ready) && tp_producer_is_active(p) &&
            sent < atomic_load(&sh->received) + atomic_load(&sh->window)) {
            tp_shm_claim_t c;
            if (tp_producer_claim(p, &t, len, &c) == 0) {
                memset(c.payload, (int)(sent & 0xFF), len);
                tp_producer_commit(p, &c, (uint64_t)tp_clock_monotonic_ns());
                sent++;
                atomic_store(&sh->sent, sent);
                w++;
            }
        }
        if (w <= 0)
            sleep_ns(20000);
    }
    tp_bridge_close(b);
    tp_producer_close(p);
    _exit(0);
}

typedef struct rx_s {
    uint64_t got;
    uint64_t lat[MAX_LAT];
    unsigned nlat;
    int64_t first_ns, last_ns;
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    rx_t *r = clientd;
    const int64_t now = tp_clock_monotonic_ns();
    if (r->nlat < MAX_LAT)
        r->lat[r->nlat++] = (uint64_t)(now - (int64_t)f->header->timestamp_ns);
    if (r->got == 0)
        r->first_ns = now;
    r->last_ns = now;
    r->got++;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One run: a fresh host A; host B counts `count` frames. 0 or -1. */
static int run_size(uint32_t len, unsigned count, unsigned window, rx_t *r)
{
    memset(r, 0, sizeof *r);
    atomic_store(&sh->received, 0);
    atomic_store(&sh->sent, 0);
    atomic_store(&sh->ready, 0);
    atomic_store(&sh->stop_a, 0);
    atomic_store(&sh->window, window);
    tp_bridge_config_t cfg;
    bridge_cfg(&cfg, TP_BRIDGE_RECEIVE);
    tp_bridge_t *b = NULL;
    tp_consumer_t *c = NULL;
    if (tp_bridge_open(&b, &ctx, &cfg) != 0 || tp_consumer_open(&c, &ctx, DST, 0) != 0) {
        fprintf(stderr, "bench_bridge: host B: %s\n", tp_errmsg());
        return -1;
    }
    fflush(NULL);
    const pid_t a = fork();
    if (a == 0) {
        alarm(300);
        run_host_a(len);
    }
    const int64_t deadline = tp_clock_monotonic_ns() + 120000000000LL;
    tp_bridge_counters_t n = {0};
    while (r->got < count && tp_clock_monotonic_ns() < deadline) {
        const int64_t now = tp_clock_monotonic_ns();
        int w = tp_bridge_do_work(b, now);
        const int cw = tp_consumer_poll(c, now, on_frame, r, 16);
        w += cw > 0 ? cw : 0;
        tp_bridge_counters(b, 0, &n);
        if (!atomic_load(&sh->ready) && n.source_epoch != 0 && n.local_epoch != 0 && tp_consumer_is_mapped(c))
            atomic_store(&sh->ready, 1);
        /* credit for A: frames arrived or lost on the way */
        uint64_t dropped = 0;
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++)
            dropped += n.drops[k];
        atomic_store(&sh->received, r->got + dropped);
        if (w <= 0)
            sleep_ns(20000);
    }
    atomic_store(&sh->stop_a, 1);
    waitpid(a, NULL, 0);
    tp_consumer_close(c);
    tp_bridge_close(b);
    return r->got >= count ? 0 : -1;
}

static void count_bytes(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)buf;
    (void)info;
    *(uint64_t *)clientd += len;
}

/* The floor: raw Aeron messages of 8000 bytes over UDP between two processes. */
static void raw_aeron(unsigned mbytes)
{
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = base;
    tp_ipc_subscription_t *sub = NULL;
    if (tp_ipc_subscription_open(&sub, &ipc, raw_channel, 60001) != 0)
        return;
    const uint64_t total = (uint64_t)mbytes << 20;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(300);
        tp_ipc_publication_t *pub = NULL;
        static uint8_t msg[8000];
        ipc.base_dir = base_a; /* host A's media driver */
        enter_host(netns ? ns_a : NULL);
        if (tp_ipc_publication_open(&pub, &ipc, raw_channel, 60001) != 0)
            _exit(30);
        uint64_t sent = 0;
        const int64_t deadline = tp_clock_monotonic_ns() + 120000000000LL;
        while (sent < total + (64u << 20) && tp_clock_monotonic_ns() < deadline && !atomic_load(&sh->stop_a)) {
            if (tp_ipc_publication_offer(pub, msg, sizeof msg) > 0)
                sent += sizeof msg;
            else
                sleep_ns(20000); /* back-pressured: leave the cores to the media driver, as the bridge does */
        }
        tp_ipc_publication_close(pub);
        _exit(0);
    }
    atomic_store(&sh->stop_a, 0);
    int64_t t0 = 0;
    const int64_t deadline = tp_clock_monotonic_ns() + 120000000000LL;
    struct {
        uint64_t bytes;
    } cnt = {0};
    while (cnt.bytes < total && tp_clock_monotonic_ns() < deadline) {
        const int n = tp_ipc_subscription_poll(sub, count_bytes, &cnt.bytes, 256);
        if (n > 0 && t0 == 0)
            t0 = tp_clock_monotonic_ns();
        if (n <= 0)
            sleep_ns(20000);
    }
    const int64_t t1 = tp_clock_monotonic_ns();
    atomic_store(&sh->stop_a, 1);
    waitpid(pid, NULL, 0);
    tp_ipc_subscription_close(sub);
    if (cnt.bytes >= total && t1 > t0) {
        char params[128];
        snprintf(params, sizeof params, "\"msg_bytes\":8000,\"mtu_bytes\":8192,\"total_bytes\":%llu",
                 (unsigned long long)cnt.bytes);
        emit("aeron_udp_mb_per_s", "MB/s", (double)cnt.bytes / 1048576.0 / ((double)(t1 - t0) / 1e9), params);
    }
}

#ifdef TP_AERON_PUB
static pid_t spawn_sample(const char *ns, const char *aeron_dir, int out_fd, char *const argv[])
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(300);
        enter_host(ns);
        setenv("AERON_DIR", aeron_dir, 1);
        /* as the SHM drivers' embedded media drivers run: one shared thread */
        setenv("AERON_THREADING_MODE", "SHARED", 1);
        if (out_fd >= 0)
            dup2(out_fd, 1);
        else
            dup2(open("/dev/null", O_WRONLY), 1);
        execv(argv[0], argv);
        _exit(41);
    }
    return pid;
}

static void stop_sample(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGINT);
    for (int i = 0; i < 500 && waitpid(pid, NULL, WNOHANG) != pid; i++)
        sleep_ns(10000000);
    if (kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* Aeron's streaming_publisher on host A to its rate_subscriber on host B,
 * each with a standalone aeronmd: the median of the subscriber's reports. */
static void aeron_samples(int port, unsigned reports)
{
    char dir_a[96], dir_b[96], chan[160];
    snprintf(dir_a, sizeof dir_a, "/dev/shm/tp-bench-aeron-a-%d", (int)getpid());
    snprintf(dir_b, sizeof dir_b, "/dev/shm/tp-bench-aeron-b-%d", (int)getpid());
    snprintf(chan, sizeof chan, "aeron:udp?endpoint=%s:%d|mtu=8192", netns ? ip_b : "127.0.0.1", port);
    char *md[] = {(char *)TP_AERONMD, NULL};
    const pid_t md_a = spawn_sample(netns ? ns_a : NULL, dir_a, -1, md);
    const pid_t md_b = spawn_sample(netns ? ns_b : NULL, dir_b, -1, md);
    sleep_ns(1000000000); /* the drivers create their directories */
    int fds[2];
    if (pipe(fds) != 0)
        return;
    char *sub_argv[] = {(char *)TP_AERON_SUB, "-c", chan, "-s", "1001", NULL};
    char *pub_argv[] = {(char *)TP_AERON_PUB, "-c", chan, "-s", "1001", "-L", "8000", "-m", "100000000", NULL};
    const pid_t sub = spawn_sample(netns ? ns_b : NULL, dir_b, fds[1], sub_argv);
    close(fds[1]);
    sleep_ns(500000000);
    const pid_t pub = spawn_sample(netns ? ns_a : NULL, dir_a, -1, pub_argv);
    FILE *in = fdopen(fds[0], "r");
    double rate[64];
    unsigned n = 0, seen = 0;
    char line[512];
    const int64_t deadline = tp_clock_monotonic_ns() + 60000000000LL;
    while (in != NULL && n < reports && n < 64 && tp_clock_monotonic_ns() < deadline && fgets(line, sizeof line, in)) {
        const char *m = strstr(line, "msgs/sec, ");
        if (m == NULL)
            continue;
        const double bps = strtod(m + 10, NULL);
        if (bps <= 0 || seen++ == 0) /* idle, or the first (partial) second */
            continue;
        rate[n++] = bps / 1048576.0;
    }
    stop_sample(pub);
    stop_sample(sub);
    if (in != NULL)
        fclose(in);
    stop_sample(md_a);
    stop_sample(md_b);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir_a, dir_b);
    (void)two_hosts_sh(cmd);
    if (n == 0) {
        fprintf(stderr, "bench_bridge: Aeron samples reported no throughput\n");
        return;
    }
    for (unsigned i = 1; i < n; i++) /* insertion sort: a handful of values */
        for (unsigned k = i; k > 0 && rate[k - 1] > rate[k]; k--) {
            const double t = rate[k];
            rate[k] = rate[k - 1];
            rate[k - 1] = t;
        }
    char params[160];
    snprintf(params, sizeof params, "\"msg_bytes\":8000,\"mtu_bytes\":8192,\"threading\":\"shared\",\"reports\":%u,\"min\":%.6g,\"max\":%.6g", n,
             rate[0], rate[n - 1]);
    emit("aeron_sample_udp_mb_per_s", "MB/s", rate[n / 2], params);
}
#endif

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--netns") == 0)
            netns = 1;
        else {
            fprintf(stderr, "usage: bench_bridge [--quick] [--netns]\n");
            return 2;
        }
    }
    if (netns && !netns_up("tpbb", 231)) {
        fprintf(stderr, "bench_bridge: --netns needs root and ip(8) (network namespaces could not be made)\n");
        return 2;
    }
    if (netns)
        hosts = "netns";
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    memset(sh, 0, sizeof *sh);
    snprintf(base, sizeof base, "/dev/shm/tp-bench-bridge-%d", (int)getpid());
    mkdir(base, 0770);
    snprintf(base_a, sizeof base_a, netns ? "/dev/shm/tp-bench-bridge-a-%d" : "/dev/shm/tp-bench-bridge-%d", (int)getpid());
    mkdir(base_a, 0770);
    const int port = 42000 + (int)(getpid() % 20000);
    const char *host_b = netns ? ip_b : "127.0.0.1";
    snprintf(channel, sizeof channel, "aeron:udp?endpoint=%s:%d|mtu=8192", host_b, port);
    snprintf(raw_channel, sizeof raw_channel, "aeron:udp?endpoint=%s:%d|mtu=8192", host_b, port + 1);
    unsetenv("AERON_DIR");
    setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", base);
    ctx_a = ctx;
    snprintf(ctx_a.base_dir, sizeof ctx_a.base_dir, "%s", base_a);
    fflush(NULL);
    const pid_t drv = fork();
    if (drv == 0)
        run_driver(base, netns ? ns_b : NULL);
    pid_t drv_a = 0;
    if (netns) {
        drv_a = fork();
        if (drv_a == 0)
            run_driver(base_a, ns_a);
        enter_host(ns_b); /* this process is host B */
    }
    sleep_ns(500000000);
    int rc = 0;
    const uint32_t sizes[] = {64u << 10, 1u << 20, 4u << 20};
    static rx_t r;
    for (unsigned i = 0; i < 3; i++) {
        const uint32_t len = sizes[i];
        const unsigned count = quick ? 10 : (unsigned)(i == 0 ? 2000 : i == 1 ? 300 : 100);
        char params[160];
        snprintf(params, sizeof params, "\"frame_bytes\":%u,\"frames\":%u,\"in_flight\":4,\"mtu_bytes\":8192", len, count);
        if (run_size(len, count, 4, &r) != 0) {
            fprintf(stderr, "bench_bridge: %u-byte frames: only %llu of %u arrived\n", len, (unsigned long long)r.got,
                    count);
            rc = 1;
            continue;
        }
        const double secs = (double)(r.last_ns - r.first_ns) / 1e9;
        const double fps = secs > 0 ? (double)(r.got - 1) / secs : 0;
        emit("bridge_fps", "frames/s", fps, params);
        emit("bridge_mb_per_s", "MB/s", fps * len / 1048576.0, params);
        const unsigned lcount = quick ? 10 : (i == 2 ? 50 : 200);
        if (run_size(len, lcount, 1, &r) != 0) {
            rc = 1;
            continue;
        }
        qsort(r.lat, r.nlat, sizeof r.lat[0], cmp_u64);
        snprintf(params, sizeof params, "\"frame_bytes\":%u,\"frames\":%u,\"in_flight\":1,\"mtu_bytes\":8192", len,
                 r.nlat);
        emit("bridge_latency_p50", "ns", (double)r.lat[r.nlat / 2], params);
        emit("bridge_latency_p99", "ns", (double)r.lat[(r.nlat * 99) / 100 < r.nlat ? (r.nlat * 99) / 100 : r.nlat - 1],
             params);
    }
    raw_aeron(quick ? 16 : 512);
#ifdef TP_AERON_PUB
    aeron_samples(port + 2, quick ? 3 : 9);
#endif
    atomic_store(&sh->stop_driver, 1);
    waitpid(drv, NULL, 0);
    if (drv_a > 0)
        waitpid(drv_a, NULL, 0);
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(base_a, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (netns)
        netns_down();
    return rc;
}
