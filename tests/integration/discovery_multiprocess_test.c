/* Discovery across processes: an SHM driver, two producers (a camera tagged
 * "camera","rgb" and an IMU tagged "imu") and `tp discovery serve`, each its
 * own process; this process asks through the library and through
 * `tp discovery list --json`. Results match what the driver announces; the
 * SIGKILLed camera drops out; after the driver is SIGKILLed and restarted the
 * IMU comes back in its new epoch. Runs once per transport (TP_TEST_CHANNEL;
 * discovery_multiprocess_test_aeron over aeron:ipc).
 * usage: discovery_multiprocess_test TP_BINARY */
#include "forked_driver.h"
#include "test_transport.h"
#include "tp_test.h"

#include "tensorpool/clock.h"
#include "tensorpool/discovery.h"
#include "tensorpool/driver.h"
#include "tensorpool/producer.h"

#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define CAM 1
#define IMU 3
#define WAIT (30000 * MS)

static const char *tp_bin;
static char dir[256];
typedef struct {
    _Atomic int stop, driver_stop;
    _Atomic uint64_t epoch[2];
} shared_t;
static shared_t *sh;
static pid_t driver, cam, imu, provider;
static int driver_is_tp; /* driver is `tp driver --discovery` (stops on SIGTERM) */
static tp_client_context_t ctx;
static tp_discovery_result_t res[16];

static pid_t spawn_driver(void)
{
    static const char toml[] = "[driver]\ninstance_id = \"disc-test\"\n"
                               "[profiles.p]\nheader_nslots = 32\npayload_pools = [ { pool_id = 1, stride_bytes = 512 } ]\n"
                               "[streams.cam]\nstream_id = 1\nprofile = \"p\"\n"
                               "[streams.imu]\nstream_id = 3\nprofile = \"p\"\n";
    return spawn_toml_driver(toml, &sh->stop);
}

/* A producer with a name and tags (DataSourceMeta attributes keyed "tag"). */
static pid_t spawn_producer(int k, uint32_t stream, const char *name, const char *tag1, const char *tag2)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        tp_client_context_t c;
        tp_client_context_init(&c);
        tp_producer_t *p = NULL;
        if (tp_producer_open(&p, &c, stream, 0, name, "discovery test") != 0) _exit(10);
        /* the camera also declares its tensor: dtype and shape become tags */
        const tp_meta_attr_t attrs[4] = {{"tag", "text", tag1, strlen(tag1)},
                                         {"tag", "text", tag2 != NULL ? tag2 : "", tag2 != NULL ? strlen(tag2) : 0},
                                         {"dtype", "text", "uint8", 5},
                                         {"shape", "text", "480x640x3", 9}};
        if (tp_producer_set_meta(p, attrs, tag2 != NULL ? 4 : 1) != 0) _exit(11);
        while (!atomic_load(&sh->stop)) {
            tp_producer_do_work(p, tp_clock_monotonic_ns());
            atomic_store(&sh->epoch[k], tp_producer_is_active(p) ? tp_producer_epoch(p) : 0);
            sleep_ns(2 * MS);
        }
        tp_producer_close(p);
        _exit(0);
    }
    return pid;
}

static pid_t spawn_provider(void)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        execl(tp_bin, tp_bin, "discovery", "serve", "--instance", "disc-test", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void reap(pid_t pid, int sig)
{
    if (pid <= 0) return;
    if (sig != 0) kill(pid, sig);
    const int64_t deadline = tp_clock_monotonic_ns() + 10000 * MS;
    while (waitpid(pid, NULL, WNOHANG) != pid) {
        if (tp_clock_monotonic_ns() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        sleep_ns(1 * MS);
    }
}

/* Ask with these filters; the number of results, -1 without an answer. */
static int ask(uint32_t stream, const char *name, const char *tag1, const char *tag2)
{
    tp_discovery_query_t q;
    memset(&q, 0, sizeof q);
    q.stream_id = stream;
    q.data_source_name = name;
    if (tag1 != NULL) q.tags[q.ntags++] = tag1;
    if (tag2 != NULL) q.tags[q.ntags++] = tag2;
    q.timeout_ns = 2000 * MS;
    uint32_t n = 0;
    return tp_discovery_query(&ctx, &q, res, 16, &n) == 0 ? (int)n : -1;
}

/* The IMU producer's epoch once it differs from `before` (0 after WAIT). */
static uint64_t wait_new_epoch(uint64_t before)
{
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    uint64_t after = 0;
    while (tp_clock_monotonic_ns() < deadline && ((after = atomic_load(&sh->epoch[1])) == 0 || after == before))
        sleep_ns(10 * MS);
    return after == before ? 0 : after;
}

/* Run a command; its standard output in out, 1 if it exited 0. */
static int run_capture(const char *cmd, char *out, size_t cap)
{
    FILE *pp = popen(cmd, "r");
    const size_t got = pp != NULL ? fread(out, 1, cap - 1, pp) : 0;
    out[got] = '\0';
    return pp != NULL && pclose(pp) == 0;
}

static const tp_discovery_result_t *find(int n, uint32_t stream)
{
    for (int i = 0; i < n; i++)
        if (res[i].stream_id == stream) return &res[i];
    return NULL;
}

/* Until the unfiltered answer lists exactly `want` streams, with `stream` (if
 * non-zero) in epoch `epoch` (if non-zero) and tagged as published. */
static int wait_listing(int want, uint32_t stream, uint64_t epoch)
{
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    while (tp_clock_monotonic_ns() < deadline) {
        const int n = ask(0, NULL, NULL, NULL);
        const tp_discovery_result_t *r = stream != 0 && n > 0 ? find(n, stream) : NULL;
        if (n == want && (stream == 0 || (r != NULL && (epoch == 0 || r->epoch == epoch) && r->ntags > 0))) return 1;
        sleep_ns(50 * MS);
    }
    return 0;
}

static void finds_streams_by_name_and_tags(void) /* DS-5.1.a, DS-5.2.a, DS-5.2.b, DS-6.4.a, DS-4.3.a, DS-D5, DS-D6, DS-D7 */
{
    CHECK(wait_listing(2, CAM, 0) && wait_listing(2, IMU, 0));
    int n = ask(0, NULL, NULL, NULL);
    CHECK_EQ_I64(n, 2);
    const tp_discovery_result_t *c = find(n, CAM);
    CHECK(c != NULL);
    if (c == NULL) return;
    /* what the driver announced for the camera's lease */
    CHECK_EQ_U64(c->epoch, atomic_load(&sh->epoch[0]));
    CHECK(c->producer_id != 0);
    CHECK_EQ_U64(c->header_nslots, 32);
    CHECK_EQ_U64(c->header_slot_bytes, 256);
    CHECK_EQ_U64(c->max_dims, 8);
    CHECK_EQ_U64(c->npools, 1);
    CHECK(c->pools[0].pool_id == 1 && c->pools[0].stride_bytes == 512 && c->pools[0].pool_nslots == 32);
    CHECK(strstr(c->header_region_uri, dir) != NULL && strstr(c->pools[0].region_uri, dir) != NULL);
    CHECK_STR(c->data_source_name, "front-camera");
    CHECK(c->ntags == 4 && strcmp(c->tags[0], "camera") == 0 && strcmp(c->tags[1], "rgb") == 0 &&
          strcmp(c->tags[2], "dtype=uint8") == 0 && strcmp(c->tags[3], "shape=480x640x3") == 0);
    CHECK_STR(c->driver_instance_id, "disc-test");
    CHECK_EQ_U64(c->driver_control_stream_id, 1000);
    /* filters combine with AND */
    CHECK_EQ_I64(ask(0, NULL, "camera", NULL), 1);
    CHECK(find(1, CAM) != NULL);
    CHECK_EQ_I64(ask(0, NULL, "rgb", "camera"), 1);
    CHECK_EQ_I64(ask(0, NULL, "rgb", "imu"), 0);
    CHECK_EQ_I64(ask(0, "imu", NULL, NULL), 1);
    CHECK(find(1, IMU) != NULL);
    CHECK_EQ_I64(ask(0, "IMU", NULL, NULL), 0); /* byte for byte */
    CHECK_EQ_I64(ask(IMU, NULL, "camera", NULL), 0);
    CHECK_EQ_I64(ask(CAM, "front-camera", "rgb", NULL), 1);
    CHECK_EQ_I64(ask(0, NULL, "dtype=uint8", "shape=480x640x3"), 1); /* data type and shape */
    CHECK_EQ_I64(ask(0, NULL, "dtype=float32", NULL), 0);

    /* the command line asks the same provider */
    char cmd[600], out[8192];
    snprintf(cmd, sizeof cmd, "%s discovery list --dtype uint8 --shape 480x640x3 %s", tp_bin, dir);
    CHECK(run_capture(cmd, out, sizeof out));
    CHECK(strstr(out, "stream 1  ") != NULL && strstr(out, "stream 3  ") == NULL);
    snprintf(cmd, sizeof cmd, "%s discovery list --json --tag imu %s", tp_bin, dir);
    CHECK(run_capture(cmd, out, sizeof out));
    CHECK(strstr(out, "\"stream_id\":3,") != NULL && strstr(out, "\"data_source_name\":\"imu\"") != NULL);
    CHECK(strstr(out, "\"stream_id\":1,") == NULL);

    /* tp stat shows the names and tags the provider knows */
    snprintf(cmd, sizeof cmd, "%s stat --once --discovery %s", tp_bin, dir);
    CHECK(run_capture(cmd, out, sizeof out));
    CHECK(strstr(out, "discovery: 2 streams") != NULL);
    CHECK(strstr(out, "stream 1  name front-camera  tags camera,rgb,dtype=uint8,shape=480x640x3") != NULL);
}

static void killed_producer_drops_out(void) /* DS-D4 */
{
    reap(cam, SIGKILL);
    cam = 0;
    CHECK(wait_listing(1, IMU, 0));
    CHECK_EQ_I64(ask(CAM, NULL, NULL, NULL), 0);
}

static void driver_restart_lists_the_new_epoch(void) /* DS-6.2.a, DS-6.3.a */
{
    const uint64_t before = atomic_load(&sh->epoch[1]);
    reap(driver, SIGKILL);
    /* announces stop: the IMU expires after three announce periods */
    CHECK(wait_listing(0, 0, 0));
    driver = spawn_driver();
    const uint64_t after = wait_new_epoch(before);
    CHECK(after != 0 && after != before);
    CHECK(wait_listing(1, IMU, after));
}

/* `tp driver --discovery`: the provider inside the driver process answers
 * the same requests; the standalone one is gone. */
static void embedded_in_the_driver_answers(void) /* DS-D7 */
{
    reap(provider, SIGTERM);
    provider = 0;
    const uint64_t before = atomic_load(&sh->epoch[1]);
    reap(driver, SIGKILL);
    char toml[400];
    snprintf(toml, sizeof toml, "%s/driver.toml", dir);
    FILE *f = fopen(toml, "w");
    CHECK(f != NULL);
    if (f == NULL) return;
    fputs("[driver]\ninstance_id = \"embedded\"\n"
          "[profiles.p]\nheader_nslots = 32\npayload_pools = [ { pool_id = 1, stride_bytes = 512 } ]\n"
          "[streams.cam]\nstream_id = 1\nprofile = \"p\"\n[streams.imu]\nstream_id = 3\nprofile = \"p\"\n",
          f);
    fclose(f);
    fflush(NULL);
    driver = fork();
    if (driver == 0) {
        alarm(120);
        execl(tp_bin, tp_bin, "driver", "-c", toml, "--discovery", (char *)NULL);
        _exit(127);
    }
    driver_is_tp = 1;
    const uint64_t after = wait_new_epoch(before);
    CHECK(after != 0 && after != before);
    CHECK(wait_listing(1, IMU, after));
    const int n = ask(IMU, "imu", "imu", NULL);
    CHECK_EQ_I64(n, 1);
    if (n == 1) CHECK_STR(res[0].driver_instance_id, "embedded");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TP_BINARY\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    snprintf(dir, sizeof dir, "/dev/shm/tp-disc-%d-XXXXXX", (int)getpid());
    if (mkdtemp(dir) == NULL) return 2;
    setenv("TP_DIR", dir, 1);
    tp_test_deployment_transport_start(dir); /* TP_TEST_CHANNEL: tp:ipc, or Aeron with its media driver */
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "10", 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    memset(sh, 0, sizeof *sh);
    tp_client_context_init(&ctx);
    driver = spawn_driver();
    provider = spawn_provider();
    cam = spawn_producer(0, CAM, "front-camera", "camera", "rgb");
    imu = spawn_producer(1, IMU, "imu", "imu", NULL);
    RUN(finds_streams_by_name_and_tags);
    RUN(killed_producer_drops_out);
    RUN(driver_restart_lists_the_new_epoch);
    RUN(embedded_in_the_driver_answers);
    atomic_store(&sh->stop, 1);
    reap(cam, 0);
    reap(imu, 0);
    reap(provider, SIGTERM);
    reap(driver, driver_is_tp ? SIGTERM : 0);
    tp_test_deployment_transport_stop();
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TP_TEST_END();
}
