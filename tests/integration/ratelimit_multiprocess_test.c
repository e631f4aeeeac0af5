/* Rate-limited delivery with every role its own process: tp driver, a 120 Hz
 * producer, a RATE_LIMITED consumer at 5 Hz on the source (local
 * decimation, W-11.b, W-11.c), tp ratelimit republishing the source at 5 Hz
 * into stream 10001 (RL-3.a, RL-4.b, RL-5.a) and a plain consumer of that
 * stream. Both consumers get about 5 frames a second (bounds are loose: the
 * machine is shared) and every frame checks out. Then the rate limiter is
 * killed with SIGKILL and started again: it attaches as a new producer of
 * 10001, whose epoch moves on (RL-7.b), and the downstream consumer follows
 * it and gets frames again.
 *
 * usage: ratelimit_multiprocess_test TP_BINARY RATELIMIT_HELPER */
#include "tp_test.h"

#include "process_rig.h"

typedef struct window_s {
    long frames, ms, skipped, drops, bad;
    int count; /* window lines so far */
} window_t;

/* The last "window ..." line of a log, and how many there are. */
static window_t last_window(const char *log)
{
    static char buf[1 << 20];
    window_t w = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, log);
    FILE *f = fopen(path, "r");
    if (f == NULL) return w;
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (const char *p = strstr(buf, "window frames="); p != NULL; p = strstr(p + 1, "window frames=")) {
        window_t x = {0};
        if (sscanf(p, "window frames=%ld ms=%ld skipped=%ld drops=%ld bad=%ld", &x.frames, &x.ms, &x.skipped,
                   &x.drops, &x.bad) == 5) {
            x.count = w.count + 1;
            w = x;
        }
    }
    return w;
}

/* Wait until log has at least `count` window lines; the last of them. */
static window_t wait_windows(const char *log, int count)
{
    const int64_t end = now_ms() + 40000;
    window_t w = last_window(log);
    while (w.count < count && now_ms() < end) {
        sleep_ms(50);
        w = last_window(log);
    }
    return w;
}

static double rate_of(const window_t *w) { return w->ms > 0 ? (double)w->frames * 1000.0 / (double)w->ms : 0; }

static pid_t start_ratelimit(const char *log)
{
    const char *argv[] = {g_tp, "ratelimit", "--source", "10000", "--dest", "10001", "--rate", "5", "--instance", "preview", NULL};
    return spawn(log, argv);
}

static void test_rate_limited_processes(void)
{
    setup_with("ratelimit", "\n[streams.preview]\nstream_id = 10001\nprofile = \"small\"\n");
    start_driver("driver.log");
    const char *prod[] = {g_helper, "producer", "10000", "120", "120", NULL};
    const char *local[] = {g_helper, "consumer", "10000", "5", "120", NULL};
    const char *down[] = {g_helper, "consumer", "10001", "0", "120", NULL};
    CHECK(spawn("producer.log", prod) > 0);
    CHECK(spawn("local.log", local) > 0);
    const pid_t rl = start_ratelimit("rl.log");
    CHECK(rl > 0);
    CHECK(spawn("down.log", down) > 0);

    /* the second full 3 s window of each consumer (the first may include start-up) */
    const window_t lw = wait_windows("local.log", 2);
    const window_t dw = wait_windows("down.log", 2);
    printf("local RATE_LIMITED consumer: %ld frames in %ld ms = %.2f/s, skipped %ld\n", lw.frames, lw.ms, rate_of(&lw),
           lw.skipped);
    printf("downstream of tp ratelimit:  %ld frames in %ld ms = %.2f/s\n", dw.frames, dw.ms, rate_of(&dw));
    CHECK(lw.count >= 2 && dw.count >= 2);
    CHECK(rate_of(&lw) >= 2.5 && rate_of(&lw) <= 6.0);
    CHECK(rate_of(&dw) >= 2.5 && rate_of(&dw) <= 6.0);
    CHECK(lw.skipped > 10 * lw.frames); /* 120 in, 5 out: most are passed over, and counted */
    CHECK_EQ_I64(lw.bad, 0);
    CHECK_EQ_I64(dw.bad, 0);

    /* SIGKILL the rate limiter and start it again: downstream recovers */
    CHECK(wait_log("down.log", NULL, "epochs=1"));
    kill_hard(rl);
    const int64_t killed = now_ms();
    CHECK(start_ratelimit("rl2.log") > 0);
    CHECK(wait_log("down.log", NULL, "epochs=2"));
    const int64_t recovered = now_ms();
    const int before = last_window("down.log").count;
    const window_t after = wait_windows("down.log", before + 2);
    printf("downstream after the restart: back after %lld ms; %ld frames in %ld ms = %.2f/s\n",
           (long long)(recovered - killed), after.frames, after.ms, rate_of(&after));
    CHECK(after.count >= before + 2);
    CHECK(rate_of(&after) >= 2.5 && rate_of(&after) <= 6.0);
    CHECK_EQ_I64(after.bad, 0);
    CHECK(!log_has("rl2.log", "error"));
    teardown();
}

int main(int argc, char **argv)
{
    rig_args(argc, argv);
    RUN(test_rate_limited_processes);
    TP_TEST_END();
}
