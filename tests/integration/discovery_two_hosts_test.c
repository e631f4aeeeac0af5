/* Discovery across hosts over aeron:udp (docs/spec/discovery.md DS-D8), in
 * the two-host rig of the bridge test (two_hosts.h: network namespaces
 * joined by a veth pair, else 127.0.0.1 with two base dirs).
 *
 * Host A: an SHM driver with its media driver inside, a camera producer
 * (stream 1, tagged) and an IMU producer (stream 3), and `tp discovery
 * serve` reading requests on an aeron:udp endpoint of host A. Host B: its
 * own driver and media driver, nothing of host A's shared memory; a client
 * there (the library in a forked process, and `tp discovery list`) sends
 * its requests to host A's endpoint and has the answers sent to one of its
 * own. It lists host A's streams with host A's layout; the camera,
 * SIGKILLed on host A, drops out of the answers on host B.
 *
 * usage: discovery_two_hosts_test TP_BINARY */
#include "forked_driver.h"
#include "test_channel.h"
#include "tp_test.h"
#include "two_hosts.h"

#include "tensorpool/discovery.h"
#include "tensorpool/producer.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define MS 1000000LL
#define CAM 1u
#define IMU 3u
#define WAIT (60000 * MS)

typedef struct shared_s {
    _Atomic int stop_a, stop_b;
    int n; /* results of the last query from host B, -1: no answer */
    tp_discovery_result_t res[4];
} shared_t;

static shared_t *sh;
static const char *tp_bin;
static char base_a[128], base_b[128], req_ch[256], resp_ch[256];
static pid_t drv_a, drv_b, cam, imu, provider;

static void role_driver(const char *ns, const char *base, _Atomic int *stop)
{
    enter_host(ns);
    static const char toml[] = "[driver]\nembedded_media_driver = true\n"
                               "[profiles.p]\nheader_nslots = 32\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
                               "[streams.cam]\nstream_id = 1\nprofile = \"p\"\n"
                               "[streams.imu]\nstream_id = 3\nprofile = \"p\"\n";
    setenv("TP_DIR", base, 1);
    const pid_t pid = spawn_toml_driver(toml, stop);
    int st = 0;
    waitpid(pid, &st, 0);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

static pid_t spawn_driver(const char *ns, const char *base, _Atomic int *stop)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) role_driver(ns, base, stop);
    return pid;
}

/* A producer on host A with a name and tags (DataSourceMeta). */
static pid_t spawn_producer(uint32_t stream, const char *name, const char *tag)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(280);
        enter_host(ns_a);
        tp_client_context_t c;
        tp_client_context_init(&c);
        snprintf(c.base_dir, sizeof c.base_dir, "%s", base_a);
        tp_producer_t *p = NULL;
        if (tp_producer_open(&p, &c, stream, 0, name, "two hosts") != 0) _exit(10);
        const tp_meta_attr_t attrs[3] = {
            {"tag", "text", tag, strlen(tag)}, {"dtype", "text", "uint8", 5}, {"shape", "text", "480x640x3", 9}};
        if (tp_producer_set_meta(p, attrs, 3) != 0) _exit(11);
        while (!atomic_load(&sh->stop_a)) {
            tp_producer_do_work(p, tp_clock_monotonic_ns());
            sleep_ns(2 * MS);
        }
        tp_producer_close(p);
        _exit(0);
    }
    return pid;
}

/* `tp discovery serve` on host A, requests on its aeron:udp endpoint. */
static pid_t spawn_provider(void)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(280);
        enter_host(ns_a);
        execl(tp_bin, tp_bin, "discovery", "serve", "--instance", "host-a", "--request-channel", req_ch, base_a,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void reap(pid_t *pid, int sig)
{
    if (*pid <= 0) return;
    if (sig != 0) kill(*pid, sig);
    const int64_t deadline = tp_clock_monotonic_ns() + 10000 * MS;
    while (waitpid(*pid, NULL, WNOHANG) != *pid) {
        if (tp_clock_monotonic_ns() > deadline) {
            kill(*pid, SIGKILL);
            waitpid(*pid, NULL, 0);
            break;
        }
        sleep_ns(1 * MS);
    }
    *pid = 0;
}

/* One query through the library from host B (a forked process in its
 * namespace): the number of results in sh->n (-1 without an answer). */
static int ask_from_b(const char *tag)
{
    sh->n = -1;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(60);
        enter_host(ns_b);
        tp_client_context_t c;
        tp_client_context_init(&c);
        snprintf(c.base_dir, sizeof c.base_dir, "%s", base_b);
        tp_discovery_query_t q;
        memset(&q, 0, sizeof q);
        q.request_channel = req_ch;
        q.response_channel = resp_ch;
        if (tag != NULL) q.tags[q.ntags++] = tag;
        q.timeout_ns = 5000 * MS;
        uint32_t n = 0;
        static tp_discovery_result_t r[4];
        if (tp_discovery_query(&c, &q, r, 4, &n) != 0) {
            fprintf(stderr, "host B: %s\n", tp_errmsg());
            _exit(1);
        }
        memcpy(sh->res, r, sizeof r);
        sh->n = (int)n;
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return sh->n;
}

static const tp_discovery_result_t *find(uint32_t stream)
{
    for (int i = 0; i < sh->n && i < 4; i++)
        if (sh->res[i].stream_id == stream) return &sh->res[i];
    return NULL;
}

/* Until host B's unfiltered answer lists exactly `want` streams, `stream`
 * among them, every one with its tags (metadata reached the provider). */
static int wait_listing(int want, uint32_t stream)
{
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    while (tp_clock_monotonic_ns() < deadline) {
        int tagged = ask_from_b(NULL) == want && find(stream) != NULL;
        for (int i = 0; tagged && i < want; i++) tagged = sh->res[i].ntags == 3;
        if (tagged) return 1;
        sleep_ns(100 * MS);
    }
    fprintf(stderr, "host B: last answer %d streams, wanted %d\n", sh->n, want);
    return 0;
}

/* DS-D8, DS-4.3.a, DS-5.2.b, DS-6.4.a: the answer crosses the network with
 * host A's layout and metadata */
static void host_b_lists_host_a_streams(void)
{
    CHECK(wait_listing(2, CAM));
    const tp_discovery_result_t *c = find(CAM);
    CHECK(c != NULL);
    if (c == NULL) return;
    CHECK(c->producer_id != 0 && c->epoch != 0);
    CHECK_EQ_U64(c->header_nslots, 32);
    CHECK(c->npools == 1 && c->pools[0].stride_bytes == 4096);
    CHECK(strstr(c->header_region_uri, base_a) != NULL); /* host A's shared memory, not B's */
    CHECK_STR(c->data_source_name, "front-camera");
    CHECK_STR(c->driver_instance_id, "host-a");
    /* DS-5.1.a: filters apply on host A; each query is a fresh process on
     * host B (Aeron client, publications connecting over UDP, answer) */
    double ms[5];
    for (int i = 0; i < 5; i++) {
        const int64_t t0 = tp_clock_monotonic_ns();
        CHECK_EQ_I64(ask_from_b("camera"), 1);
        ms[i] = (double)(tp_clock_monotonic_ns() - t0) / 1e6;
        CHECK(find(CAM) != NULL);
    }
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
            const double t = ms[j];
            ms[j] = ms[j - 1];
            ms[j - 1] = t;
        }
    printf("query from host B (fresh process, over aeron:udp): median %.1f ms, min %.1f, max %.1f\n", ms[2], ms[0],
           ms[4]);
    CHECK_EQ_I64(ask_from_b("dtype=float32"), 0); /* DS-D5: data type and shape as tags */
    CHECK_EQ_I64(ask_from_b("shape=480x640x3"), 2);

    /* the command line on host B asks the same provider */
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        enter_host(ns_b);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        execl(tp_bin, tp_bin, "discovery", "list", "--json", "--tag", "imu", "--timeout", "5", "--request-channel",
              req_ch, "--response-channel", resp_ch, base_b, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char out[8192];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof out - 1 && (k = read(fds[0], out + got, sizeof out - 1 - got)) > 0) got += (size_t)k;
    out[got] = '\0';
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "\"stream_id\":3,") != NULL && strstr(out, "\"stream_id\":1,") == NULL);
    CHECK(strstr(out, "\"driver_instance_id\":\"host-a\"") != NULL);
}

/* DS-D4 across hosts: the camera SIGKILLed on host A drops out of host B's answers */
static void killed_producer_drops_out_on_host_b(void)
{
    const int64_t t0 = tp_clock_monotonic_ns();
    reap(&cam, SIGKILL);
    CHECK(wait_listing(1, IMU));
    printf("camera SIGKILLed on host A: gone from host B's answers after %.2f s\n",
           (double)(tp_clock_monotonic_ns() - t0) / 1e9);
    CHECK_EQ_I64(ask_from_b("camera"), 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TP_BINARY\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    memset(sh, 0, sizeof *sh);
    netns_up("tpd", 233);
    printf("two hosts: %s\n", use_netns ? "network namespaces joined by a veth pair"
                                         : "NO network namespaces: two base dirs over 127.0.0.1");
    snprintf(base_a, sizeof base_a, "/dev/shm/tp-disc2h-a-%d", (int)getpid());
    snprintf(base_b, sizeof base_b, "/dev/shm/tp-disc2h-b-%d", (int)getpid());
    mkdir(base_a, 0770);
    mkdir(base_b, 0770);
    const int pa = tp_test_free_udp_port(), pb = tp_test_free_udp_port();
    snprintf(req_ch, sizeof req_ch, "aeron:udp?endpoint=%s:%d", ip_a, pa);
    snprintf(resp_ch, sizeof resp_ch, "aeron:udp?endpoint=%s:%d", ip_b, pb == pa ? pb + 1 : pb);
    unsetenv("AERON_DIR");
    unsetenv("TP_TEST_CHANNEL");
    unsetenv("DRIVER_CONTROL_CHANNEL");
    setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
    setenv("AERON_DRIVER_TIMEOUT", "5000", 1);
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "10", 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);

    drv_a = spawn_driver(ns_a, base_a, &sh->stop_a);
    drv_b = spawn_driver(ns_b, base_b, &sh->stop_b);
    cam = spawn_producer(CAM, "front-camera", "camera");
    imu = spawn_producer(IMU, "imu", "imu");
    provider = spawn_provider();
    RUN(host_b_lists_host_a_streams);
    RUN(killed_producer_drops_out_on_host_b);

    reap(&provider, SIGTERM);
    atomic_store(&sh->stop_a, 1);
    reap(&cam, 0);
    reap(&imu, 0);
    reap(&drv_a, 0);
    atomic_store(&sh->stop_b, 1);
    reap(&drv_b, 0);
    netns_down();
    nftw(base_a, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(base_b, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TP_TEST_END();
}
