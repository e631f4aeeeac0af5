/* The supervisor across processes (W-10.5.a, W-15.17.a, W-P1, W-P3, W-P4):
 * a driver, a producer (driver_helper), `tp supervise` and consumers, each
 * its own process. A consumer that keeps dropping is moved to RATE_LIMITED
 * at the policy's rate and reports it; a consumer past max_consumers gets
 * ControlResponse REJECTED as its last error; a dry-run supervisor decides
 * without sending; a supervisor SIGKILLed and restarted resumes (new
 * offenders handled, standing decisions re-sent).
 *
 * usage: supervise_multiprocess_test TP DRIVER_HELPER
 *        (re-executes itself as "consumer CLIENT_ID SLOW_MS SECONDS") */
#include "tp_test.h"
#include "process_rig.h"

#include "tensorpool/clock.h"
#include "tensorpool/consumer.h"
#include "tensorpool/consumer_rate.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/control_response.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"

#include <limits.h>

static const char *g_self;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)f;
    (*(uint64_t *)clientd)++;
}

/* A consumer process: prints "mapped", each change of its settings and each
 * new ControlResponse error. SLOW_MS > 0 sleeps that long between polls, so
 * the producer laps it and it keeps dropping. */
static int run_consumer(uint32_t client_id, int slow_ms, int seconds)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    ctx.client_id = client_id;
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, 10000, 0) != 0) {
        fprintf(stderr, "consumer: %s\n", tp_errmsg());
        return 1;
    }
    uint64_t frames = 0, errors = 0, configs = 0, refused = 0;
    int mapped = 0;
    tp_consumer_state_t state = TP_CONSUMER_UNMAPPED;
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)seconds * 1000000000;
    while (tp_clock_monotonic_ns() < end) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame, &frames, 4096);
        if (!mapped && tp_consumer_is_mapped(c)) {
            mapped = 1;
            printf("mapped\n");
        }
        tp_consumer_settings_t s;
        tp_consumer_settings(c, &s);
        if (s.configs != configs) {
            configs = s.configs;
            printf("settings configs=%llu mode=%s max_rate_hz=%u\n", (unsigned long long)configs,
                   s.mode == 2 ? "RATE_LIMITED" : "STREAM", s.max_rate_hz);
        }
        int32_t code = 0;
        const char *msg = NULL;
        const uint64_t e = tp_consumer_last_error(c, &code, &msg);
        if (e != errors) {
            errors = e;
            printf("error %llu code=%d %s\n", (unsigned long long)e, code, msg);
        }
        const tp_consumer_state_t st = tp_consumer_state(c);
        if (st != state) {
            state = st;
            printf("state %s uri=%s\n", tp_consumer_state_name(st), s.fallback_uri);
        }
        tp_consumer_counters_t k;
        tp_consumer_counters(c, &k);
        if (k.refused_response != refused) {
            refused = k.refused_response;
            printf("refused_response %llu\n", (unsigned long long)refused);
        }
        tp_shm_drops_t d;
        tp_consumer_drops(c, &d);
        static uint64_t printed_drops;
        if (d.drops_gap + d.drops_late >= printed_drops + 100) {
            printed_drops = d.drops_gap + d.drops_late;
            printf("drops %llu\n", (unsigned long long)printed_drops);
        }
        tp_consumer_rate_stats_t rs; /* a forced rate is applied, not only reported */
        tp_consumer_rate_stats(c, &rs);
        static int printed_gate;
        if (!printed_gate && rs.max_rate_hz != 0 && rs.skipped_local > 0) {
            printed_gate = 1;
            printf("gate %u Hz skipped %llu\n", rs.max_rate_hz, (unsigned long long)rs.skipped_local);
        }
        fflush(stdout);
        sleep_ms(slow_ms > 0 ? slow_ms : 1);
    }
    tp_consumer_close(c);
    return 0;
}

/* Publish one message on the control stream, as any process of the user could. */
static void control_send(const uint8_t *buf, long n)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    ipc.namespace_name = ctx.ns;
    tp_ipc_publication_t *pub = NULL;
    CHECK(n > 0 && tp_ipc_publication_open(&pub, &ipc, ctx.channel, ctx.control_stream_id) == 0);
    if (pub == NULL) return;
    CHECK(tp_ipc_publication_offer(pub, buf, (size_t)n) >= 0);
    tp_ipc_publication_close(pub);
}

static void send_config(uint32_t cid, uint8_t use_shm, const char *uri)
{
    uint8_t buf[512];
    control_send(buf, tp_consumer_config_encode(buf, sizeof buf, 10000, cid, use_shm, TP_CONTROL_MODE_STREAM, uri));
}

/* A ConsumerHello asking for descriptor stream 5 without a channel (half-filled, W-10.1.3.c). */
static void send_half_hello(uint32_t cid)
{
    uint8_t buf[512];
    tp_control_consumer_hello_enc_t e;
    tp_control_consumer_hello_encode_begin(&e, buf, sizeof buf);
    tp_control_consumer_hello_set_stream_id(&e, 10000);
    tp_control_consumer_hello_set_consumer_id(&e, cid);
    tp_control_consumer_hello_set_supports_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_hello_set_supports_progress(&e, TP_CONTROL_BOOL_FALSE);
    tp_control_consumer_hello_set_mode(&e, TP_CONTROL_MODE_STREAM);
    tp_control_consumer_hello_set_max_rate_hz(&e, 0);
    tp_control_consumer_hello_set_expected_layout_version(&e, 1);
    tp_control_consumer_hello_set_progress_bytes_delta(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_interval_us(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_major_delta_units(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_descriptor_stream_id(&e, 5);
    tp_control_consumer_hello_set_control_stream_id(&e, 0);
    tp_control_consumer_hello_put_descriptor_channel(&e, "", 0);
    tp_control_consumer_hello_put_control_channel(&e, "", 0);
    control_send(buf, tp_control_consumer_hello_encode_end(&e));
}

static pid_t consumer(const char *log, const char *id, const char *slow_ms)
{
    const char *argv[] = {g_self, "consumer", id, slow_ms, "90", NULL};
    return spawn(log, argv);
}

static pid_t supervisor(const char *log, int dry_run)
{
    char policy[300];
    snprintf(policy, sizeof policy, "%s/supervise.policy", g_dir);
    const char *argv[] = {g_tp, "supervise", g_dir, "--policy", policy, dry_run ? "--dry-run" : NULL, NULL};
    return spawn(log, argv);
}

/* W-10.5.a, W-P4, W-P3, W-15.17.a, W-P1 */
static void test_supervisor_moves_dropping_consumer(void)
{
    setup("supervise");
    char path[300];
    snprintf(path, sizeof path, "%s/supervise.policy", g_dir);
    FILE *f = fopen(path, "w");
    fputs("# slow consumers of the camera go to 5 Hz\n"
          "drops stream=10000 max=50 window=3s rate_hz=5\n"
          "max_consumers stream=10000 count=2\n",
          f);
    fclose(f);
    start_driver("driver.log");
    const char *pargv[] = {g_helper, "producer", "10000", "1024", "90", NULL};
    spawn("producer.log", pargv);
    const pid_t sup = supervisor("supervisor.log", 0);
    supervisor("dry.log", 1);
    consumer("slow.log", "100", "150");
    consumer("fast.log", "200", "0");
    CHECK(wait_log("slow.log", "fast.log", "mapped"));
    consumer("extra.log", "300", "0"); /* third on the stream: past count=2 */
    CHECK(wait_log("slow.log", NULL, "drops "));
    /* the slow consumer is told RATE_LIMITED at 5 Hz, and reports it */
    CHECK(wait_log("slow.log", NULL, "mode=RATE_LIMITED max_rate_hz=5"));
    CHECK(wait_log("slow.log", NULL, "gate 5 Hz skipped")); /* and its gate runs at that rate */
    CHECK(wait_log("supervisor.log", NULL, "consumer 100: drops grew by"));
    CHECK(log_has("supervisor.log", "RATE_LIMITED at 5 Hz"));
    /* the third consumer gets REJECTED as its last error; the first two do not */
    CHECK(wait_log("extra.log", NULL, "code=3 REJECTED: supervisor: stream 10000 allows at most 2 consumers"));
    CHECK(wait_log("supervisor.log", NULL, "consumer 300: 3 live consumers (> 2, policy line 3): REJECTED"));
    CHECK(!log_has("fast.log", "error "));
    CHECK(!log_has("fast.log", "RATE_LIMITED"));
    /* the dry run decided the same and marked it */
    CHECK(wait_log("dry.log", NULL, "consumer 100: drops grew by"));
    CHECK(log_has("dry.log", "(dry run, not sent)"));

    /* SIGKILL the supervisor, restart it: it resumes */
    kill_hard(sup);
    supervisor("supervisor2.log", 0);
    CHECK(wait_log("supervisor2.log", NULL, "supervising"));
    consumer("slow2.log", "400", "150"); /* a new offender, seen only by the new supervisor */
    CHECK(wait_log("slow2.log", NULL, "mode=RATE_LIMITED max_rate_hz=5"));
    CHECK(wait_log("supervisor2.log", NULL, "consumer 400: drops grew by"));
    /* the standing REJECTED is relearned and sent again; 400 is past count=2 too */
    CHECK(wait_log("supervisor2.log", NULL, ": REJECTED"));
    CHECK(wait_log("extra.log", NULL, "error 2 code=3"));
    CHECK(wait_log("slow2.log", NULL, "code=3 REJECTED"));
    CHECK(!log_has("fast.log", "error ")); /* the first two stay within the limit */
    CHECK(!log_has("slow.log", "error "));
    teardown();
}

/* W-15.12.a, W-10.1.3.a (scenario 80), W-P1, W-P2, W-P5: FALLBACK entered and
 * left on ConsumerConfig, and lapsing when not sent again; a producer's decline reaches the consumer as an
 * error; a ControlResponse naming the consumer on another stream is refused */
static void test_fallback_and_responses(void)
{
    setup("fallback");
    start_driver("driver.log");
    const char *pargv[] = {g_helper, "producer", "10000", "1024", "90", NULL};
    spawn("producer.log", pargv);
    consumer("c.log", "500", "0");
    CHECK(wait_log("c.log", NULL, "state MAPPED"));
    send_config(500, TP_CONTROL_BOOL_FALSE, "ftp://h/x"); /* unsupported: stays on SHM */
    send_config(500, TP_CONTROL_BOOL_FALSE, "bridge://3");
    CHECK(wait_log("c.log", NULL, "state FALLBACK uri=bridge://3"));
    CHECK(log_has("c.log", "settings configs=1 mode=STREAM")); /* the ftp one was not followed */
    sleep_ms(300); /* three announce periods: announces do not map it back */
    CHECK(!log_has("c.log", "state MAPPED uri=bridge://3"));
    send_config(500, TP_CONTROL_BOOL_TRUE, "");
    CHECK(wait_log("c.log", NULL, "state MAPPED uri=bridge://3"));
    /* W-P5: a FALLBACK nobody sends again lapses after 3 s and SHM maps again */
    send_config(500, TP_CONTROL_BOOL_FALSE, "aeron:udp?endpoint=h:4000");
    CHECK(wait_log("c.log", NULL, "state FALLBACK uri=aeron:udp?endpoint=h:4000"));
    const int64_t t0 = now_ms();
    CHECK(wait_log("c.log", NULL, "state MAPPED uri=aeron:udp?endpoint=h:4000"));
    CHECK(now_ms() - t0 >= 2500); /* not before the lapse (3 s after the config) */
    /* W-P2: the producer declines a half-filled request with INVALID_PARAMS */
    send_half_hello(500);
    CHECK(wait_log("c.log", NULL, "code=2 INVALID_PARAMS: descriptor channel and stream id must be given together"));
    /* W-P1: our consumer id on another stream is refused and counted */
    uint8_t buf[512];
    control_send(buf, tp_control_response_encode(buf, sizeof buf, 10001, 500, TP_CONTROL_RESPONSE_CODE_REJECTED, "forged"));
    CHECK(wait_log("c.log", NULL, "refused_response 1"));
    CHECK(!log_has("c.log", "forged"));
    teardown();
}

int main(int argc, char **argv)
{
    g_self = argv[0];
    if (argc >= 5 && strcmp(argv[1], "consumer") == 0)
        return run_consumer((uint32_t)atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    rig_args(argc, argv);
    RUN(test_supervisor_moves_dropping_consumer);
    RUN(test_fallback_and_responses);
    TP_TEST_END();
}
