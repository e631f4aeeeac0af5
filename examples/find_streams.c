/* Find the camera streams: two cameras and an IMU name and tag themselves;
 * a discovery provider follows the driver's announces and their metadata;
 * a client asks for the streams tagged "camera" and gets their stream ids,
 * names, layouts and the driver to attach through, without knowing any
 * stream id in advance.
 *
 *   cc find_streams.c $(pkg-config --cflags --libs tensorpool) -o find_streams
 *   ./find_streams [run_ms]
 *
 * The driver is embedded here; the sensors and the provider (in a
 * deployment `tp discovery serve`, or `tp driver --discovery`) are forked
 * processes. All files live in a fresh directory under /dev/shm, removed at
 * the end. */
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

static const char driver_toml[] = "[profiles.small]\n"
                                  "header_nslots = 64\n"
                                  "payload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"
                                  "[streams.front]\nstream_id = 7\nprofile = \"small\"\n"
                                  "[streams.rear]\nstream_id = 8\nprofile = \"small\"\n"
                                  "[streams.imu]\nstream_id = 9\nprofile = \"small\"\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A sensor that names itself (DataSourceAnnounce) and tags itself
 * (DataSourceMeta attributes keyed "tag"), then keeps its lease. */
static pid_t start_sensor(uint32_t stream_id, const char *name, const char *tag, int64_t run_ms)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p;
    const tp_meta_attr_t attrs[2] = {{"tag", "text", tag, strlen(tag)}, {"dtype", "text", "uint8", 5}};
    if (tp_producer_open(&p, &ctx, stream_id, 0, name, "example sensor") != 0 || tp_producer_set_meta(p, attrs, 2) != 0) {
        fprintf(stderr, "sensor %u: %s\n", stream_id, tp_errmsg());
        _exit(1);
    }
    const int64_t end = tp_clock_monotonic_ns() + run_ms * 1000000LL;
    for (int64_t now; (now = tp_clock_monotonic_ns()) < end; sleep_ms(1)) tp_producer_do_work(p, now);
    tp_producer_close(p);
    _exit(0);
}

/* The provider: answers DiscoveryRequests until SIGTERM. */
static pid_t start_provider(void)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_discovery_config_t cfg;
    tp_discovery_config_init(&cfg); /* directory, streams and periods from the environment */
    tp_discovery_t *d;
    if (tp_discovery_create(&cfg, &d) != 0) {
        fprintf(stderr, "provider: %s\n", tp_errmsg());
        _exit(1);
    }
    for (;;)
        if (tp_discovery_do_work(d, tp_clock_monotonic_ns()) == 0) sleep_ms(1);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-find-streams-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1); /* announce often: a short example */
    const pid_t kids[4] = {start_sensor(7, "front-camera", "camera", run_ms + 3000),
                           start_sensor(8, "rear-camera", "camera", run_ms + 3000),
                           start_sensor(9, "imu", "inertial", run_ms + 3000), start_provider()};

    static tp_driver_config_t dcfg;
    tp_driver_config_defaults(&dcfg);
    tp_driver_embedded_t *driver = NULL;
    if (tp_driver_config_parse(&dcfg, driver_toml, strlen(driver_toml)) != 0 ||
        tp_driver_config_apply_env(&dcfg, NULL) != 0 || tp_driver_embedded_start(&driver, &dcfg) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        return 1;
    }

    /* Ask for the streams tagged "camera" until both cameras have attached
     * and announced themselves (or run_ms + 2 s passed). */
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_discovery_query_t q = {.tags = {"camera"}, .ntags = 1, .timeout_ns = 1000000000};
    static tp_discovery_result_t found[16];
    uint32_t n = 0;
    const int64_t give_up = tp_clock_monotonic_ns() + (run_ms + 2000) * 1000000LL;
    while (tp_clock_monotonic_ns() < give_up) {
        if (tp_discovery_query(&ctx, &q, found, 16, &n) == 0 && n == 2 && found[0].data_source_name[0] != '\0' &&
            found[1].data_source_name[0] != '\0')
            break;
        sleep_ms(50);
    }
    int ok = n == 2;
    for (uint32_t i = 0; i < n; i++) {
        const tp_discovery_result_t *r = &found[i];
        printf("stream %u  %s  tags", r->stream_id, r->data_source_name);
        for (uint32_t t = 0; t < r->ntags; t++) printf(" %s", r->tags[t]);
        printf("  epoch %llu  %u slots  driver %s on %s stream %u\n", (unsigned long long)r->epoch, r->header_nslots,
               r->driver_instance_id, r->driver_control_channel, r->driver_control_stream_id);
        ok = ok && (r->stream_id == 7 || r->stream_id == 8) && strstr(r->data_source_name, "camera") != NULL;
    }
    printf("%s\n", ok ? "found both cameras, and only them" : "did NOT find exactly the two cameras");

    kill(kids[3], SIGTERM);
    for (int i = 0; i < 4; i++) {
        if (i < 3) kill(kids[i], SIGTERM); /* no need to wait out their run time */
        waitpid(kids[i], NULL, 0);
    }
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ok ? 0 : 1;
}
