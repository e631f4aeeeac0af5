/* A discovery registry aggregating two drivers (docs/spec/discovery.md
 * DS-6.1.a, DS-D9), every role its own process: drivers "drv-a" and "drv-b"
 * in two deployments (two base dirs), each with a producer on stream 1, and
 * `tp discovery serve --instance drv-a --driver drv-b=DIR_B DIR_A`. This
 * process asks the registry (on a request stream of its own, 1900, in drv-a's
 * deployment; DISCOVERY_STREAM_ID for the command line): stream 1 is listed
 * twice, once per driver, each with its own driver's layout and name. Driver
 * B SIGKILLed: its entry expires, driver A's stays; driver B restarted: its
 * stream is back in the new epoch. Runs once per transport (TP_TEST_CHANNEL;
 * over Aeron each deployment has its own media driver).
 * usage: discovery_registry_test TP_BINARY */
#include "forked_driver.h"
#include "test_transport.h"
#include "tp_test.h"

#include "tensorpool/discovery.h"
#include "tensorpool/producer.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MS 1000000LL
#define WAIT (30000 * MS)

typedef struct shared_s {
    _Atomic int stop, stop_b, stop_md;
} shared_t;

static shared_t *sh;
static const char *tp_bin;
static char dir_a[256], dir_b[256];
static pid_t drv_a, drv_b, prod_a, prod_b, registry, md_b;
static tp_client_context_t ctx;
static tp_discovery_result_t res[8];

static pid_t spawn_driver(const char *dir, const char *instance, _Atomic int *stop)
{
    char toml[512];
    snprintf(toml, sizeof toml,
             "[driver]\ninstance_id = \"%s\"\n"
             "[profiles.p]\nheader_nslots = %d\npayload_pools = [ { pool_id = 1, stride_bytes = 512 } ]\n"
             "[streams.cam]\nstream_id = 1\nprofile = \"p\"\n",
             instance, dir == dir_a ? 16 : 64);
    setenv("TP_DIR", dir, 1);
    const pid_t pid = spawn_toml_driver(toml, stop);
    setenv("TP_DIR", dir_a, 1);
    return pid;
}

static pid_t spawn_producer(const char *dir, const char *name)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(150);
        tp_client_context_t c;
        tp_client_context_init(&c);
        snprintf(c.base_dir, sizeof c.base_dir, "%s", dir);
        tp_producer_t *p = NULL;
        if (tp_producer_open(&p, &c, 1, 0, name, "registry test") != 0) _exit(10);
        const tp_meta_attr_t tag = {"tag", "text", "camera", 6};
        if (tp_producer_set_meta(p, &tag, 1) != 0) _exit(11);
        while (!atomic_load(&sh->stop)) {
            tp_producer_do_work(p, tp_clock_monotonic_ns());
            sleep_ns(2 * MS);
        }
        tp_producer_close(p);
        _exit(0);
    }
    return pid;
}

/* Over Aeron, deployment B's media driver, in a process of its own so that
 * SIGKILLing driver B leaves the transport up (as an aeronmd would). */
static pid_t spawn_media_driver_b(void)
{
    if (tp_test_channel_is_embedded()) return 0;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(150);
        tp_ipc_context_t ipc;
        tp_ipc_context_init(&ipc);
        ipc.base_dir = dir_b;
        tp_ipc_media_driver_t *md = NULL;
        if (tp_ipc_media_driver_start(&md, &ipc, NULL) != 0) _exit(20);
        while (!atomic_load(&sh->stop_md)) sleep_ns(10 * MS);
        tp_ipc_media_driver_stop(md);
        _exit(0);
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

#define REQUESTS 1900 /* the registry reads requests on a stream of their own (DS-D8) */

static int ask(const char *name)
{
    tp_discovery_query_t q;
    memset(&q, 0, sizeof q);
    q.request_stream_id = REQUESTS;
    q.data_source_name = name;
    q.tags[q.ntags++] = "camera";
    q.timeout_ns = 3000 * MS;
    uint32_t n = 0;
    return tp_discovery_query(&ctx, &q, res, 8, &n) == 0 ? (int)n : -1;
}

static const tp_discovery_result_t *of(int n, const char *instance)
{
    for (int i = 0; i < n; i++)
        if (strcmp(res[i].driver_instance_id, instance) == 0) return &res[i];
    return NULL;
}

/* Until the answer lists `want` streams, drv-b's (if want_b) in an epoch
 * other than `not_epoch`. */
static int wait_listing(int want, int want_b, uint64_t not_epoch)
{
    const int64_t deadline = tp_clock_monotonic_ns() + WAIT;
    while (tp_clock_monotonic_ns() < deadline) {
        const int n = ask(NULL);
        const tp_discovery_result_t *b = n > 0 ? of(n, "drv-b") : NULL;
        if (n == want && (!want_b || (b != NULL && b->epoch != not_epoch && b->producer_id != 0))) return 1;
        sleep_ns(50 * MS);
    }
    return 0;
}

static uint64_t epoch_b;

/* DS-6.1.a, DS-D9, DS-6.4.a, DS-5.2.b: one entry per (driver, stream id) */
static void lists_the_same_stream_of_both_drivers(void)
{
    CHECK(wait_listing(2, 1, 0));
    const int n = ask(NULL);
    CHECK_EQ_I64(n, 2);
    const tp_discovery_result_t *a = of(n, "drv-a"), *b = of(n, "drv-b");
    CHECK(a != NULL && b != NULL);
    if (a == NULL || b == NULL) return;
    CHECK(a->stream_id == 1 && b->stream_id == 1);
    CHECK_EQ_U64(a->header_nslots, 16); /* each driver's own layout */
    CHECK_EQ_U64(b->header_nslots, 64);
    CHECK(strstr(a->header_region_uri, dir_a) != NULL && strstr(b->header_region_uri, dir_b) != NULL);
    CHECK_STR(a->data_source_name, "cam-a");
    CHECK_STR(b->data_source_name, "cam-b");
    CHECK_EQ_U64(a->driver_control_stream_id, 1000);
    CHECK_EQ_U64(b->driver_control_stream_id, 1000);
    epoch_b = b->epoch;
    CHECK_EQ_I64(ask("cam-b"), 1);
    CHECK(of(1, "drv-b") != NULL);

    /* the command line asks the registry too */
    char cmd[700], out[8192];
    snprintf(cmd, sizeof cmd, "DISCOVERY_STREAM_ID=1900 %s discovery list --json --stream 1 %s", tp_bin, dir_a);
    FILE *pp = popen(cmd, "r");
    const size_t got = pp != NULL ? fread(out, 1, sizeof out - 1, pp) : 0;
    out[got] = '\0';
    CHECK(pp != NULL && pclose(pp) == 0);
    CHECK(strstr(out, "\"driver_instance_id\":\"drv-a\"") != NULL && strstr(out, "\"driver_instance_id\":\"drv-b\"") != NULL);
}

/* DS-D8: with a request stream of its own, the registry ignores requests
 * on the control stream */
static void requests_only_on_their_stream(void)
{
    tp_discovery_query_t q;
    memset(&q, 0, sizeof q);
    q.timeout_ns = 500 * MS;
    uint32_t n = 0;
    CHECK_EQ_I64(tp_discovery_query(&ctx, &q, res, 8, &n), -1);
    CHECK_EQ_I64(tp_errcode(), TP_ERR_STATE); /* no answer */
}

/* DS-D9: a driver instance id given twice is refused (usage error) */
static void duplicate_instance_is_refused(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s discovery serve --instance drv-a --driver drv-a=%s %s 2>/dev/null", tp_bin, dir_b, dir_a);
    const int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

/* DS-6.2.a: driver B SIGKILLed: its entry expires, driver A's stays */
static void killed_driver_expires_alone(void)
{
    reap(&drv_b, SIGKILL);
    const int64_t t0 = tp_clock_monotonic_ns();
    CHECK(wait_listing(1, 0, 0));
    printf("driver B SIGKILLed: its stream gone from the registry after %.2f s\n",
           (double)(tp_clock_monotonic_ns() - t0) / 1e9);
    const int n = ask(NULL);
    CHECK_EQ_I64(n, 1);
    CHECK(n == 1 && strcmp(res[0].driver_instance_id, "drv-a") == 0);
}

/* DS-6.3.a: driver B restarted: its stream is back, in a new epoch */
static void restarted_driver_comes_back(void)
{
    atomic_store(&sh->stop_b, 0);
    drv_b = spawn_driver(dir_b, "drv-b", &sh->stop_b);
    CHECK(wait_listing(2, 1, epoch_b));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TP_BINARY\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    snprintf(dir_a, sizeof dir_a, "/dev/shm/tp-reg-a-%d-XXXXXX", (int)getpid());
    snprintf(dir_b, sizeof dir_b, "/dev/shm/tp-reg-b-%d-XXXXXX", (int)getpid());
    if (mkdtemp(dir_a) == NULL || mkdtemp(dir_b) == NULL) return 2;
    setenv("TP_DIR", dir_a, 1);
    tp_test_deployment_transport_start(dir_a); /* TP_TEST_CHANNEL: tp:ipc, or Aeron with its media driver */
    /* each deployment finds its own media driver beside its base dir, not
     * the one the line above exported for every process */
    unsetenv("AERON_DIR");
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "10", 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 2;
    memset(sh, 0, sizeof *sh);
    tp_client_context_init(&ctx);
    md_b = spawn_media_driver_b();
    drv_a = spawn_driver(dir_a, "drv-a", &sh->stop);
    drv_b = spawn_driver(dir_b, "drv-b", &sh->stop_b);
    prod_a = spawn_producer(dir_a, "cam-a");
    prod_b = spawn_producer(dir_b, "cam-b");
    char drv_arg[300];
    snprintf(drv_arg, sizeof drv_arg, "drv-b=%s", dir_b);
    fflush(NULL);
    registry = fork();
    if (registry == 0) {
        alarm(150);
        setenv("DISCOVERY_STREAM_ID", "1900", 1);
        execl(tp_bin, tp_bin, "discovery", "serve", "--instance", "drv-a", "--driver", drv_arg, dir_a, (char *)NULL);
        _exit(127);
    }
    RUN(lists_the_same_stream_of_both_drivers);
    RUN(requests_only_on_their_stream);
    RUN(duplicate_instance_is_refused);
    RUN(killed_driver_expires_alone);
    RUN(restarted_driver_comes_back);
    atomic_store(&sh->stop, 1);
    atomic_store(&sh->stop_b, 1);
    reap(&prod_a, 0);
    reap(&prod_b, 0);
    reap(&registry, SIGTERM);
    reap(&drv_a, 0);
    reap(&drv_b, 0);
    atomic_store(&sh->stop_md, 1);
    reap(&md_b, 0);
    tp_test_deployment_transport_stop();
    nftw(dir_a, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(dir_b, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TP_TEST_END();
}
