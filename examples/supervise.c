/* A supervisor moves a slow consumer to rate-limited delivery: a producer
 * publishes at about 1 kHz into a 64-slot ring, a consumer that reads only
 * every 150 ms keeps dropping, and a supervisor running the policy below
 * tells it RATE_LIMITED at 5 Hz; a second consumer, past the policy's
 * max_consumers, is told REJECTED and sees it as an error.
 *
 *   cc supervise.c $(pkg-config --cflags --libs tensorpool) -o supervise
 *   ./supervise [run_ms]
 *
 * The driver is embedded here; the producer and the supervisor (in a
 * deployment `tp supervise --policy FILE`) are forked processes. All files
 * live in a fresh directory under /dev/shm, removed at the end. */
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
                                  "[streams.camera]\nstream_id = 7\nprofile = \"small\"\n";

static const char policy[] = "# more than 20 drops within 1 s: 5 Hz\n"
                             "drops stream=7 max=20 window=1s rate_hz=5\n"
                             "# one consumer of the camera only\n"
                             "max_consumers stream=7 count=1\n";

static void sleep_ms(int64_t ms)
{
    const struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static pid_t start_producer(void)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_producer_t *p;
    if (tp_producer_open(&p, &ctx, 7, 0, "camera", "example camera") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        _exit(1);
    }
    tp_tensor_header_t t;
    const int32_t dims[1] = {8};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    for (;;) { /* until SIGTERM */
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(p, now);
        tp_shm_claim_t c;
        if (tp_producer_is_active(p) && tp_producer_claim(p, &t, 8, &c) == 0) {
            memset(c.payload, 1, 8);
            tp_producer_commit(p, &c, (uint64_t)now);
        }
        sleep_ms(1);
    }
}

/* The supervisor: decisions are printed as they are made. */
static void on_decision(void *clientd, const tp_supervisor_decision_t *d)
{
    (void)clientd;
    printf("supervisor: %s\n", d->text);
    fflush(stdout);
}

static pid_t start_supervisor(void)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_supervisor_config_t cfg;
    tp_supervisor_config_init(&cfg); /* directory and streams from the environment */
    tp_supervisor_t *s;
    if (tp_supervisor_policy_parse(&cfg.policy, policy, strlen(policy)) != 0 ||
        tp_supervisor_open(&s, &cfg, on_decision, NULL) != 0) {
        fprintf(stderr, "supervisor: %s\n", tp_errmsg());
        _exit(1);
    }
    for (;;)
        if (tp_supervisor_poll(s, tp_clock_monotonic_ns()) == 0) sleep_ms(5);
}

/* A ControlResponse error reaching a consumer (here: REJECTED). */
static int rejected;
static void on_response(void *clientd, int32_t code, const char *message)
{
    (void)clientd;
    printf("second consumer: %s\n", message);
    if (code == TP_CONTROL_RESPONSE_CODE_REJECTED) rejected = 1;
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)f;
    (*(uint64_t *)clientd)++;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const int64_t run_ms = argc > 1 ? atoll(argv[1]) : 1000;
    char dir[] = "/dev/shm/tp-supervise-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TP_DIR", dir, 1);
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1); /* announce often: a short example */
    static tp_driver_config_t dcfg;
    tp_driver_config_defaults(&dcfg);
    tp_driver_embedded_t *driver = NULL;
    if (tp_driver_config_parse(&dcfg, driver_toml, strlen(driver_toml)) != 0 ||
        tp_driver_config_apply_env(&dcfg, NULL) != 0 || tp_driver_embedded_start(&driver, &dcfg) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        return 1;
    }
    const pid_t kids[2] = {start_producer(), start_supervisor()};

    /* Two consumers with fixed client ids (the supervisor counts them in id
     * order); QoS every 100 ms so the supervisor sees drops soon. */
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    ctx.qos_interval_ns = 100000000;
    tp_consumer_t *slow = NULL, *second = NULL;
    ctx.client_id = 101;
    const int opened = tp_consumer_open(&slow, &ctx, 7, 0) == 0;
    ctx.client_id = 102;
    if (!opened || tp_consumer_open(&second, &ctx, 7, 0) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    tp_consumer_set_response_handler(second, on_response, NULL);

    uint64_t frames = 0;
    tp_consumer_settings_t s = {0};
    const int64_t give_up = tp_clock_monotonic_ns() + (run_ms + 5000) * 1000000LL;
    while (tp_clock_monotonic_ns() < give_up && !(s.mode == TP_CONTROL_MODE_RATE_LIMITED && s.max_rate_hz > 0 && rejected)) {
        tp_consumer_poll(slow, tp_clock_monotonic_ns(), on_frame, &frames, 1024);
        for (int i = 0; i < 15; i++) { /* the second one keeps up; the first reads every 150 ms */
            tp_consumer_poll(second, tp_clock_monotonic_ns(), on_frame, &frames, 1024);
            sleep_ms(10);
        }
        tp_consumer_settings(slow, &s);
    }
    tp_shm_drops_t d;
    tp_consumer_drops(slow, &d);
    printf("slow consumer: %llu frames dropped, mode %s at %u Hz (%llu configs)\n",
           (unsigned long long)(d.drops_gap + d.drops_late),
           s.mode == TP_CONTROL_MODE_RATE_LIMITED ? "RATE_LIMITED" : "STREAM", s.max_rate_hz,
           (unsigned long long)s.configs);
    const int ok = s.mode == TP_CONTROL_MODE_RATE_LIMITED && s.max_rate_hz == 5 && rejected;
    printf("%s\n", ok ? "the supervisor rate-limited the slow consumer and rejected the extra one"
                      : "the supervisor did NOT act as the policy says");

    for (int i = 0; i < 2; i++) {
        kill(kids[i], SIGTERM);
        waitpid(kids[i], NULL, 0);
    }
    tp_consumer_close(slow);
    tp_consumer_close(second);
    tp_driver_embedded_stop(driver);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ok ? 0 : 1;
}
