/* tp demo end to end: runs the real command and checks what it printed.
 *
 *   demo_test PATH_TO_TP
 *
 * Proves: the whole pipeline (embedded driver, three tp_producer clients,
 * sequence join with offset -2, timestamp join with lateness) works in one
 * command; status lines appear once per second; both joins produce outputs;
 * the summary's numbers agree with each other and with the status lines; bad
 * flags exit 2. */
#include "tp_test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *tp;
static char out[1 << 16];

/* Run `tp ARGS`, stdout into out[], return the exit status (-1 if abnormal). */
static int run(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s", tp, args);
    FILE *f = popen(cmd, "r");
    if (f == NULL) return -1;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    const int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The number after `key ` on the first line that starts with `line_prefix`. */
static double field(const char *line_prefix, const char *key)
{
    for (const char *l = out; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, line_prefix, strlen(line_prefix)) != 0) continue;
        const char *eol = strchr(l, '\n');
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", key);
        const char *k = strstr(l, pat);
        if (k == NULL || (eol != NULL && k > eol)) return -1;
        return strtod(k + strlen(pat), NULL);
    }
    return -1;
}

static void test_demo_runs_and_reports(void)
{
    const int rc = run("demo --duration 3 2>&1");
    fputs(out, stdout);
    CHECK(rc == 0);
    CHECK(strstr(out, "result: OK") != NULL);

    /* Status lines: one per second, cumulative outputs rising, +N adding up. */
    int lines = 0;
    uint64_t seq_sum = 0, ts_sum = 0, seq_last = 0, ts_last = 0;
    for (const char *l = out; (l = strstr(l, "\n[")) != NULL; l++) {
        unsigned long long so, sp, to, tpl;
        const char *s = strstr(l, "seq-join out "), *t = strstr(l, "ts-join out ");
        const char *eol = strchr(l + 1, '\n');
        CHECK(s != NULL && t != NULL && s < eol && t < eol);
        if (s == NULL || t == NULL) break;
        CHECK(sscanf(s, "seq-join out %llu +%llu", &so, &sp) == 2);
        CHECK(sscanf(t, "ts-join out %llu +%llu", &to, &tpl) == 2);
        CHECK(so >= seq_last && to >= ts_last);
        seq_sum += sp;
        ts_sum += tpl;
        seq_last = so;
        ts_last = to;
        CHECK(strstr(l, "cam1 ") != NULL && strstr(l, "imu ") != NULL && strstr(l, " drops ") != NULL);
        lines++;
    }
    CHECK(lines >= 2 && lines <= 4);
    CHECK_EQ_U64(seq_sum, seq_last);
    CHECK_EQ_U64(ts_sum, ts_last);

    const double cam1 = field("  cam1", "published"), cam2 = field("  cam2", "published"),
                 imu = field("  imu", "published");
    const double so = field("  seq-join", "outputs"), aligned = field("  seq-join", "aligned"),
                 mis = field("  seq-join", "misaligned"), inc = field("  seq-join", "incomplete");
    const double to = field("  ts-join", "outputs"), per = field("  ts-join", "imu-per-output");
    printf("cam1 %.0f cam2 %.0f imu %.0f seq %.0f (aligned %.0f) ts %.0f (%.1f imu each)\n", cam1, cam2, imu, so,
           aligned, to, per);
    /* ~30 Hz for ~3 s; camera 2 skips the first two ticks; the IMU runs at 10x. */
    CHECK(cam1 >= 60 && cam1 <= 100);
    CHECK(cam2 >= cam1 - 2 - 3 && cam2 <= cam1 - 2);
    CHECK(imu >= 8 * cam1 && imu <= 11 * cam1);
    /* Both joins produced outputs; the summary is at least the last status line. */
    CHECK(so > 0 && to > 0);
    CHECK(so >= (double)seq_last && to >= (double)ts_last);
    /* Sequence join (JB-6.2.1.a, in_seq = out_seq + offset): output N = cam1 N + cam2 N-2, so it
     * can not exceed camera 2's frames, and after the drain it has joined nearly all of them;
     * every pair has the same capture tick. */
    CHECK(so <= cam2 && so >= cam2 - 3);
    CHECK(mis == 0 && aligned + mis + inc == so);
    /* Timestamp join: one output per camera frame; ~10 IMU samples in each camera period. */
    CHECK(to <= cam1 && to >= cam1 - 3);
    CHECK(per >= 5 && per <= 12);
    const double p50 = field("  seq-join", "p50"), p99 = field("  seq-join", "p99");
    CHECK(p50 >= 0 && p50 <= p99);
}

static void test_bad_input_exits_2(void)
{
    CHECK(run("demo --rate 0 2>/dev/null") == 2);
    CHECK(run("demo --duration abc 2>/dev/null") == 2);
    CHECK(run("demo --frame-bytes 12 2>/dev/null") == 2);
    CHECK(run("demo --dir relative/dir 2>/dev/null") == 2);
    CHECK(run("demo --dir /nonexistent-tp-demo-dir 2>/dev/null") == 2);
    CHECK(run("demo --bogus 2>/dev/null") == 2);
    CHECK(run("demo --duration 2>/dev/null") == 2);
    CHECK(run("demo --help") == 0 && strstr(out, "EXIT STATUS") != NULL && strstr(out, "default 10") != NULL);
}

/* Count occurrences of needle in out[]. */
static int count(const char *needle)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* tp stat --once --json against a running demo lists every stream with its
 * producer and superblock, and both joins with their rules and a state. */
static void test_stat_sees_running_demo(void)
{
    char dir[] = "/dev/shm/tp-stat-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s demo --duration 8 --dir %s", tp, dir);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    sleep(1); /* producers attached and publishing */
    char args[300];
    snprintf(args, sizeof args, "stat %s --once --json", dir);
    const int rc = run(args);
    fputs(out, stdout);
    CHECK(rc == 0);
    CHECK(count("\n") == 1 && out[0] == '{'); /* one JSON object, one line */
    CHECK(count("{\"stream_id\":1,\"name\":\"cam1\",\"announced\":true") == 1);
    CHECK(count("{\"stream_id\":2,\"name\":\"cam2\",\"announced\":true") == 1);
    CHECK(count("{\"stream_id\":3,\"name\":\"imu\",\"announced\":true") == 1);
    CHECK(count("\"producers\":1,") == 3);
    /* the joins hold a CONSUMER lease per input: cam1 feeds both joins */
    CHECK(count("\"producers\":1,\"consumers\":2,") == 1);
    CHECK(count("\"producers\":1,\"consumers\":1,") == 2);
    CHECK(count("\"superblock\":{\"ok\":true") == 3);
    CHECK(count("\"pid_alive\":true") == 3);
    CHECK(count("{\"kind\":\"sequence\",\"out_stream_id\":100,\"epoch\":1,\"state\":\"flowing\"") == 1);
    CHECK(count("{\"kind\":\"timestamp\",\"out_stream_id\":200,\"epoch\":1,\"state\":\"flowing\"") == 1);
    CHECK(count("\"type\":\"offset\",\"offset\":-2}") == 1); /* camera 2's compensation */
    CHECK(count("\"lateness_ns\":5000000") == 1);
    /* (well before the running demo ends) A stage that cannot start fails the demo with a clear message: a second
     * demo on the same directory cannot take the driver lock. */
    snprintf(args, sizeof args, "demo --duration 1 --dir %s 2>&1", dir);
    CHECK(run(args) == 1);
    CHECK(strstr(out, "FAILED") != NULL && strstr(out, "another driver") != NULL);
    /* The text view shows the same. */
    snprintf(args, sizeof args, "stat %s --once --interval 0.5", dir);
    CHECK(run(args) == 0);
    CHECK(strstr(out, "cam2") != NULL && strstr(out, "sequence") != NULL && strstr(out, "flowing") != NULL);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    /* bad input */
    CHECK(run("stat relative 2>/dev/null") == 2);
    CHECK(run("stat /nonexistent-tp-stat-dir --once 2>/dev/null") == 2);
    CHECK(run("stat /tmp --interval 0 2>/dev/null") == 2);
    CHECK(run("stat --bogus 2>/dev/null") == 2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: demo_test PATH_TO_TP\n");
        return 2;
    }
    tp = argv[1];
    RUN(test_bad_input_exits_2);
    RUN(test_demo_runs_and_reports);
    RUN(test_stat_sees_running_demo);
    TP_TEST_END();
}
