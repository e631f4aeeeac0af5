/* Driver, producers and consumers as real processes (docs/spec/driver.md §6), each
 * test in its own TP_DIR under /dev/shm, with short timers (keepalive and
 * announce 100 ms, lease expiry after 10 keepalive intervals) so the suite
 * stays fast. Every wait is for
 * a condition (a line in a child's log, an exit) with a generous bound, never
 * a fixed sleep before a check; every child is killed and reaped at the end.
 *
 * argv[1]: the tp binary, argv[2]: driver_helper.
 *
 * Runs once per transport (test_transport.h): test_driver_multiprocess and
 * test_driver_multiprocess_aeron.
 */
#include "test_transport.h"
#include "tp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process_rig.h"

/* D-2.2.a, D-2.3.a, D-5.b, W-10.2.1.a: driver + producer + two consumers
 * exchange self-checking frames across processes. */
static void test_e2e_producer_two_consumers(void)
{
    setup("e2e");
    const pid_t drv = start_driver("driver.log");
    const pid_t c1 = start_consumer("c1.log", "300", "1", "15000");
    const pid_t c2 = start_consumer("c2.log", "300", "1", "15000");
    const pid_t p = start_producer("p.log", "4096");
    CHECK_EQ_I64(wait_exit(c1, 20000), 0);
    CHECK_EQ_I64(wait_exit(c2, 20000), 0);
    kill(p, SIGTERM);
    kill_hard(p);
    kill(drv, SIGTERM); /* clean exit on SIGTERM */
    CHECK_EQ_I64(wait_exit(drv, 5000), 0);
    teardown();
}

/* D-4.4.d, D-4.7a.b, D-7.b, D-6.a, D-6.b, D-4.9.g: producer SIGKILLed -> its
 * lease expires -> a new producer attaches at a new epoch -> the consumers
 * remap and verify frames of both epochs. */
static void test_producer_killed_new_epoch(void)
{
    setup("pkill");
    const pid_t drv = start_driver("driver.log");
    const pid_t c1 = start_consumer("c1.log", "100", "2", "20000");
    const pid_t c2 = start_consumer("c2.log", "100", "2", "20000");
    const pid_t p1 = start_producer("p1.log", "4096");
    /* kill only once both consumers have their first epoch's frames */
    CHECK(wait_log("c1.log", "c2.log", "epochs done=1"));
    kill_hard(p1);
    const pid_t p2 = start_producer("p2.log", "65536"); /* refused until the lease expires, then a new epoch */
    CHECK_EQ_I64(wait_exit(c1, 25000), 0);
    CHECK_EQ_I64(wait_exit(c2, 25000), 0);
    CHECK(log_has("driver.log", "lease expired"));
    kill_hard(p2);
    kill_hard(drv);
    teardown();
}

/* D-10.a-c, D-4.13.e, D-14.a, [R] 22: driver SIGKILLed and restarted ->
 * clients notice the silence, re-attach, and frames flow at a newer epoch. */
static void test_driver_killed_restarted(void)
{
    setup("dkill");
    pid_t drv = start_driver("driver1.log");
    const pid_t c = start_consumer("c.log", "100", "2", "25000");
    const pid_t p = start_producer("p.log", "4096");
    CHECK(wait_log("c.log", NULL, "epochs done=1")); /* the first epoch is read in full */
    kill_hard(drv);
    sleep_ms(200);
    drv = start_driver("driver2.log");
    CHECK_EQ_I64(wait_exit(c, 30000), 0);
    kill_hard(p);
    kill_hard(drv);
    teardown();
}

/* §6 scenario 3: a consumer attached before any producer maps E1, then moves
 * to the producer's E2 and reads its frames. */
static void test_consumer_before_producer(void)
{
    setup("cfirst");
    const pid_t drv = start_driver("driver.log");
    const pid_t c = start_consumer("c.log", "100", "1", "15000");
    /* the consumer holds a lease on the empty stream and mapped its E1 */
    CHECK(wait_log("c.log", NULL, "consumer mapped n=1 "));
    const pid_t p = start_producer("p.log", "4096");
    CHECK_EQ_I64(wait_exit(c, 30000), 0);
    /* It mapped the empty stream's E1 first, then read its frames from a
     * later epoch (the producer's), remapping only forward in epoch. */
    char path[512], buf[8192];
    snprintf(path, sizeof path, "%s/c.log", g_dir);
    FILE *f = fopen(path, "r");
    const size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f != NULL) fclose(f);
    buf[n] = '\0';
    unsigned long long e1 = 0, ef = 0, prev = 0, e, maps = 0;
    int forward = 1, k;
    for (const char *l = strstr(buf, "consumer mapped n="); l != NULL; l = strstr(l + 1, "consumer mapped n=")) {
        if (sscanf(l, "consumer mapped n=%d epoch=%llu", &k, &e) != 2) continue;
        if (k == 1) e1 = e;
        if (e < prev) forward = 0;
        prev = e;
    }
    const char *fl = strstr(buf, "consumer frames from epoch=");
    if (fl != NULL) sscanf(fl, "consumer frames from epoch=%llu", &ef);
    const char *ml = strstr(buf, " maps=");
    if (ml != NULL) sscanf(ml, " maps=%llu", &maps);
    CHECK(e1 != 0 && ef > e1);
    CHECK(forward);
    CHECK(maps >= 2);
    if (!(e1 != 0 && ef > e1 && forward && maps >= 2)) fprintf(stderr, "c.log:\n%s\n", buf);
    kill_hard(p);
    kill_hard(drv);
    teardown();
}

/* D-5.a, §6 scenario 2; D-4.3.a (scenario 12 via REQUIRE_EXISTING on a
 * stream that is not provisioned: scenario 5); D-2.1.c (second driver). */
static void test_refusals(void)
{
    setup("refuse");
    const pid_t drv = start_driver("driver.log");
    const pid_t p = start_producer("p.log", "4096");
    CHECK(wait_log("p.log", NULL, "active")); /* the producer holds the stream */
    const char *second[] = {g_helper, "attach", "10000", "1", "5000", NULL};
    CHECK_EQ_I64(wait_exit(spawn("p2.log", second), 10000), 3);
    CHECK(log_has("p2.log", "code=3 message=producer already attached"));
    const char *unknown[] = {g_helper, "attach", "20001", "2", "5000", NULL};
    CHECK_EQ_I64(wait_exit(spawn("u.log", unknown), 10000), 3);
    CHECK(log_has("u.log", "code=3 message=stream not provisioned"));
    /* a second driver on the same directory is refused (lock file) */
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/driver.toml", g_dir);
    const char *d2[] = {g_tp, "driver", "-c", cfg, NULL};
    CHECK_EQ_I64(wait_exit(spawn("driver2.log", d2), 5000), 1);
    kill_hard(p);
    kill_hard(drv);
    teardown();
}

/* D-4.13.a-c, §6 scenarios 54-55: a wrong token is ignored (the driver keeps
 * serving) and tp driver --request-shutdown says so with exit 1 after its
 * documented wait (shutdown_timeout_ms + 3 s); the right one drains and stops
 * the driver (both exit 0); with no driver running it exits 1 at once. */
static void test_shutdown_token(void)
{
    setup("token");
    const pid_t drv = start_driver("driver.log");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/driver.toml", g_dir);
    const char *bad[] = {g_tp, "driver", "-c", cfg, "--request-shutdown", "--token", "nope", NULL};
    /* The driver may not be subscribed yet (a request before that is simply
     * not seen): send until it says it ignored one (bounded). */
    int ignored = 0;
    for (const int64_t end = now_ms() + 30000; !ignored && now_ms() < end;) {
        const int64_t t0 = now_ms();
        CHECK_EQ_I64(wait_exit(spawn("bad.log", bad), 10000), 1);
        CHECK(now_ms() - t0 >= 3300); /* it waited the documented time before giving up */
        CHECK(log_has("bad.log", "did not shut down within 3300 ms"));
        ignored = log_has("driver.log", "shutdown request ignored");
    }
    CHECK(ignored); /* seen, and ignored */
    const char *attach[] = {g_helper, "attach", "10000", "2", "5000", NULL};
    CHECK_EQ_I64(wait_exit(spawn("a.log", attach), 10000), 0); /* still serving */
    CHECK(waitpid(drv, NULL, WNOHANG) == 0);
    const char *notoken[] = {g_tp, "driver", "--request-shutdown", NULL};
    CHECK_EQ_I64(wait_exit(spawn("notoken.log", notoken), 5000), 2);
    CHECK(log_has("notoken.log", "needs the driver's shutdown token"));
    const char *good[] = {g_tp, "driver", "-c", cfg, "--request-shutdown", "--token", "s3cret", NULL};
    CHECK_EQ_I64(wait_exit(spawn("good.log", good), 10000), 0);
    CHECK(log_has("good.log", "accepted the request"));
    CHECK_EQ_I64(wait_exit(drv, 5000), 0);
    /* no driver any more: a clear refusal, no wait */
    const int64_t t0 = now_ms();
    CHECK_EQ_I64(wait_exit(spawn("nodriver.log", good), 10000), 1);
    CHECK(now_ms() - t0 < 3000);
    CHECK(log_has("nodriver.log", "no driver is running"));
    teardown();
}

/* Issue 14.6: remote shutdown off on the driver (empty token) makes any request
 * fail with exit 1; a nonexistent -d is refused without creating anything. */
static void test_shutdown_refusals(void)
{
    setup("tokoff");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/driver.toml", g_dir);
    const char *argv[] = {g_tp, "driver", "-c", cfg, "-s", "policies.shutdown_token=", NULL};
    const pid_t drv = spawn("driver.log", argv);
    CHECK(wait_log("driver.log", NULL, "running"));
    const char *req[] = {g_tp, "driver", "-c", cfg, "--request-shutdown", "--token", "s3cret", NULL};
    int ignored = 0;
    for (const int64_t end = now_ms() + 30000; !ignored && now_ms() < end;) {
        CHECK_EQ_I64(wait_exit(spawn("req.log", req), 10000), 1);
        CHECK(log_has("req.log", "remote shutdown is off"));
        ignored = log_has("driver.log", "shutdown request ignored (feature off)");
    }
    CHECK(ignored);
    CHECK(waitpid(drv, NULL, WNOHANG) == 0);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no/such/dir", g_dir);
    const char *nodir[] = {g_tp, "driver", "--request-shutdown", "--token", "s3cret", "-d", missing, NULL};
    CHECK_EQ_I64(wait_exit(spawn("nodir.log", nodir), 5000), 1);
    CHECK(log_has("nodir.log", "no driver is running"));
    char no[512];
    snprintf(no, sizeof no, "%s/no", g_dir);
    struct stat st;
    CHECK(lstat(no, &st) != 0 && errno == ENOENT); /* nothing created */
    kill_hard(drv);
    teardown();
}

/* W-10.1.2.e, docs/spec/wire.md §5.8: a consumer asking for a per-consumer descriptor
 * stream is granted one and reads its frames there. */
static void test_per_consumer_stream(void)
{
    setup("pcs");
    const pid_t drv = start_driver("driver.log");
    const pid_t p = start_producer("p.log", "4096");
    const char *argv[] = {g_helper, "consumer", "10000", "200", "1", "15000", "31000", NULL};
    const pid_t c = spawn("c.log", argv);
    CHECK_EQ_I64(wait_exit(c, 20000), 0);
    CHECK(log_has("c.log", "desc_stream=31000"));
    kill_hard(p);
    kill_hard(drv);
    teardown();
}

/* D-11.c, docs/spec/driver.md §5.5: a consumer asking the authority (id 0) gets a
 * per-consumer descriptor stream from the driver's range; the producer follows
 * the driver's ConsumerConfig and the consumer reads its frames there. */
static void test_per_consumer_stream_from_driver(void)
{
    setup("pcsdrv");
    setenv("DRIVER_DESCRIPTOR_STREAM_ID_RANGE", "31500-31509", 1); /* §5.2: env for the range */
    const pid_t drv = start_driver("driver.log");
    unsetenv("DRIVER_DESCRIPTOR_STREAM_ID_RANGE");
    const pid_t p = start_producer("p.log", "4096");
    const char *argv[] = {g_helper, "consumer", "10000", "200", "1", "15000", "-1", NULL};
    const pid_t c = spawn("c.log", argv);
    CHECK_EQ_I64(wait_exit(c, 20000), 0);
    CHECK(log_has("c.log", "desc_stream=31500"));
    kill_hard(p);
    kill_hard(drv);
    teardown();
}

/* tp driver as a command: man-page help, --check, a malformed file reported
 * with its line (exit 2), an invalid configuration refused (D-17.c, exit 2). */
static void test_cli(void)
{
    setup("cli");
    const char *help[] = {g_tp, "driver", "--help", NULL};
    CHECK_EQ_I64(wait_exit(spawn("help.log", help), 5000), 0);
    CHECK(log_has("help.log", "SYNOPSIS") && log_has("help.log", "EXIT STATUS"));
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/driver.toml", g_dir);
    const char *check[] = {g_tp, "driver", "-c", cfg, "--check", NULL};
    CHECK_EQ_I64(wait_exit(spawn("check.log", check), 5000), 0);
    CHECK(log_has("check.log", "stream_id = 10000"));
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.toml", g_dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "[driver]\ninstance_id = \"x\"\ncontrol_stream_id = \n");
    fclose(f);
    const char *badrun[] = {g_tp, "driver", "-c", bad, NULL};
    CHECK_EQ_I64(wait_exit(spawn("bad.log", badrun), 5000), 2);
    CHECK(log_has("bad.log", "line 3"));
    const char *noprof[] = {g_tp, "driver", "-s", "policies.announce_period_ms=50", NULL};
    CHECK_EQ_I64(wait_exit(spawn("noprof.log", noprof), 5000), 2);
    CHECK(log_has("noprof.log", "no profiles"));
    const char *badset[] = {g_tp, "driver", "-c", cfg, "-s", "policies.nope=1", NULL};
    CHECK_EQ_I64(wait_exit(spawn("badset.log", badset), 5000), 2);
    /* Issue 14.7: modes the clients would refuse, and a base_dir outside the
     * allowlist, fail --check and the real start alike with exit 2 */
    const char *sets[] = {"shm.permissions_mode=666", "shm.permissions_mode=664", "shm.permissions_mode=440"};
    for (int i = 0; i < 3; i++) {
        const char *chk[] = {g_tp, "driver", "-c", cfg, "-s", sets[i], "--check", NULL};
        CHECK_EQ_I64(wait_exit(spawn("mode.log", chk), 5000), 2);
        CHECK(log_has("mode.log", "shm.permissions_mode"));
        const char *run[] = {g_tp, "driver", "-c", cfg, "-s", sets[i], NULL};
        CHECK_EQ_I64(wait_exit(spawn("moderun.log", run), 5000), 2);
        CHECK(log_has("moderun.log", "shm.permissions_mode"));
    }
    char allowed[512], outside[600];
    snprintf(allowed, sizeof allowed, "shm.allowed_base_dirs=%s/allowed", g_dir);
    snprintf(outside, sizeof outside, "shm.base_dir=%s/outside", g_dir);
    const char *chk_out[] = {g_tp, "driver", "-c", cfg, "-s", allowed, "-s", outside, "--check", NULL};
    CHECK_EQ_I64(wait_exit(spawn("outside.log", chk_out), 5000), 2);
    CHECK(log_has("outside.log", "outside shm.allowed_base_dirs"));
    const char *run_out[] = {g_tp, "driver", "-c", cfg, "-s", allowed, "-s", outside, NULL};
    CHECK_EQ_I64(wait_exit(spawn("outside_run.log", run_out), 5000), 2);
    CHECK(log_has("outside_run.log", "outside shm.allowed_base_dirs"));
    char outdir[512];
    snprintf(outdir, sizeof outdir, "%s/outside", g_dir);
    struct stat st;
    CHECK(lstat(outdir, &st) != 0); /* refused before anything was created */
    /* a symlink inside the allowed dir that points outside it is refused too */
    char allowed_dir[512], link[600], via_link[700];
    snprintf(allowed_dir, sizeof allowed_dir, "%s/allowed", g_dir);
    mkdir(allowed_dir, 0770);
    mkdir(outdir, 0770);
    snprintf(link, sizeof link, "%s/escape", allowed_dir);
    CHECK(symlink(outdir, link) == 0);
    snprintf(via_link, sizeof via_link, "shm.base_dir=%s/escape", allowed_dir);
    const char *chk_link[] = {g_tp, "driver", "-c", cfg, "-s", allowed, "-s", via_link, "--check", NULL};
    CHECK_EQ_I64(wait_exit(spawn("link.log", chk_link), 5000), 2);
    snprintf(via_link, sizeof via_link, "shm.base_dir=%s/inside", allowed_dir);
    const char *chk_in[] = {g_tp, "driver", "-c", cfg, "-s", allowed, "-s", via_link, "--check", NULL};
    CHECK_EQ_I64(wait_exit(spawn("inside.log", chk_in), 5000), 0); /* a base not created yet is fine */
    teardown();
}

int main(int argc, char **argv)
{
    rig_args(argc, argv);
    RUN(test_e2e_producer_two_consumers);
    RUN(test_producer_killed_new_epoch);
    RUN(test_driver_killed_restarted);
    RUN(test_consumer_before_producer);
    RUN(test_refusals);
    RUN(test_shutdown_token);
    RUN(test_shutdown_refusals);
    RUN(test_per_consumer_stream);
    RUN(test_per_consumer_stream_from_driver);
    RUN(test_cli);
    TP_TEST_END();
}
