/* The client's side of the protocol against a simulated driver: this test
 * reads the client's requests and answers with crafted responses (driver.md
 * §3.5, §3.8, §6 scenarios 22-25, 31-40, 49-53, 58, 59). */
#include "tp_test.h"

#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver_client.h"

#include <unistd.h>

#define URI_RING "shm:file?path=/dev/shm/none/header.ring|require_hugepages=false"
#define URI_POOL "shm:file?path=/dev/shm/none/1.pool|require_hugepages=false"

typedef struct seen_s {
    int attaches, keepalives, detaches;
    int64_t corr;
    uint32_t client;
} seen_t;
static seen_t g_seen;

static void on_request(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)info;
    tp_driver_shm_attach_request_dec_t a;
    tp_driver_shm_lease_keepalive_dec_t k;
    tp_driver_shm_detach_request_dec_t d;
    if (tp_driver_shm_attach_request_decode(&a, buf, len) == 0) {
        g_seen.attaches++;
        g_seen.corr = tp_driver_shm_attach_request_correlation_id(&a);
        g_seen.client = tp_driver_shm_attach_request_client_id(&a);
    } else if (tp_driver_shm_lease_keepalive_decode(&k, buf, len) == 0) {
        g_seen.keepalives++;
    } else if (tp_driver_shm_detach_request_decode(&d, buf, len) == 0) {
        g_seen.detaches++;
    }
}

static tp_driver_client_t *g_dc;
static int g_attached_calls, g_lost_calls;

static int cb_attached(void *clientd, const tp_lease_t *l)
{
    (void)clientd;
    (void)l;
    g_attached_calls++;
    return 0;
}

static void cb_lost(void *clientd, const char *why)
{
    (void)clientd;
    (void)why;
    g_lost_calls++;
}

/* Run the client and collect its requests for ms. */
static void step(int ms)
{
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)ms * 1000000;
    do {
        if (g_dc != NULL) tp_driver_client_do_work(g_dc, tp_clock_monotonic_ns());
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        usleep(500);
    } while (tp_clock_monotonic_ns() < end);
}

static tp_client_context_t g_ctx;

static void start(uint32_t client_id)
{
    snprintf(g_rig_dir, sizeof g_rig_dir, "/dev/shm/tp-dcltest-XXXXXX");
    if (mkdtemp(g_rig_dir) == NULL) exit(1);
    chmod(g_rig_dir, 0770);
    rig_open_transport();
    tp_client_context_init(&g_ctx);
    snprintf(g_ctx.base_dir, sizeof g_ctx.base_dir, "%s", g_rig_dir);
    g_ctx.attach_timeout_ns = 400000000;
    g_ctx.announce_period_ns = 10000000000; /* silence detection off unless a test wants it */
    g_ctx.keepalive_interval_ns = 50000000;
    g_ctx.backoff_min_ns = 20000000;
    g_ctx.backoff_max_ns = 40000000;
    g_ctx.client_id = client_id;
    memset(&g_seen, 0, sizeof g_seen);
    g_attached_calls = g_lost_calls = 0;
    const tp_driver_client_handlers_t h = {.on_attached = cb_attached, .on_lease_lost = cb_lost};
    CHECK_EQ_I64(tp_driver_client_open(&g_dc, &g_ctx, 10000, TP_ROLE_CONSUMER, 1, &h), 0);
    step(20);
}

static void stop(void)
{
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    tp_ipc_publication_close(g_rig_pub);
    tp_ipc_subscription_close(g_rig_sub);
    nftw(g_rig_dir, rig_rm, 16, FTW_DEPTH | FTW_PHYS);
}

enum { M_NONE, M_SLOT512, M_COUNT0, M_NSLOTS32, M_BLANK_URI, M_EPOCH_NULL, M_REL_URI, M_EXPIRY_NULL, M_VERSION2, M_OUTSIDE_URI };

static void respond_ok(int64_t corr, int mutate)
{
    tp_driver_shm_attach_response_enc_t e;
    tp_driver_shm_attach_response_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_attach_response_set_correlation_id(&e, corr);
    tp_driver_shm_attach_response_set_code(&e, 0);
    tp_driver_shm_attach_response_set_lease_id(&e, 77);
    tp_driver_shm_attach_response_set_lease_expiry_timestamp_ns(
        &e, mutate == M_EXPIRY_NULL ? UINT64_MAX : (uint64_t)tp_clock_monotonic_ns() + 3000000000ull);
    tp_driver_shm_attach_response_set_stream_id(&e, 10000);
    tp_driver_shm_attach_response_set_epoch(&e, mutate == M_EPOCH_NULL ? UINT64_MAX : 5);
    tp_driver_shm_attach_response_set_layout_version(&e, 1);
    tp_driver_shm_attach_response_set_header_nslots(&e, 64);
    tp_driver_shm_attach_response_set_header_slot_bytes(&e, mutate == M_SLOT512 ? 512 : 256);
    tp_driver_shm_attach_response_set_node_id(&e, 9);
    tp_driver_shm_attach_response_payload_pools_encode_begin(&e, mutate == M_COUNT0 ? 0 : 1);
    if (mutate != M_COUNT0) {
        tp_driver_shm_attach_response_payload_pools_encode_next(&e);
        tp_driver_shm_attach_response_payload_pools_set_pool_id(&e, 1);
        tp_driver_shm_attach_response_payload_pools_set_pool_nslots(&e, mutate == M_NSLOTS32 ? 32 : 64);
        tp_driver_shm_attach_response_payload_pools_set_stride_bytes(&e, 4096);
        const char *pool = mutate == M_OUTSIDE_URI ? "shm:file?path=/etc/passwd|require_hugepages=false" : URI_POOL;
        tp_driver_shm_attach_response_payload_pools_put_region_uri(&e, pool, strlen(pool));
    }
    const char *ring = mutate == M_BLANK_URI ? "   " : mutate == M_REL_URI ? "shm:file?path=relative/x" : URI_RING;
    tp_driver_shm_attach_response_put_header_region_uri(&e, ring, strlen(ring));
    tp_driver_shm_attach_response_put_error_message(&e, "", 0);
    const long n = tp_driver_shm_attach_response_encode_end(&e);
    if (mutate == M_VERSION2) g_rig_buf[6] = 2;
    tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n);
}

static void respond_error(int64_t corr, int32_t code, const char *msg)
{
    static uint8_t big[4096];
    tp_driver_shm_attach_response_enc_t e;
    tp_driver_shm_attach_response_encode_begin(&e, big, sizeof big);
    tp_driver_shm_attach_response_set_correlation_id(&e, corr);
    tp_driver_shm_attach_response_set_code(&e, code);
    tp_driver_shm_attach_response_set_lease_id(&e, UINT64_MAX);
    tp_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&e, UINT64_MAX);
    tp_driver_shm_attach_response_set_stream_id(&e, UINT32_MAX);
    tp_driver_shm_attach_response_set_epoch(&e, UINT64_MAX);
    tp_driver_shm_attach_response_set_layout_version(&e, UINT32_MAX);
    tp_driver_shm_attach_response_set_header_nslots(&e, UINT32_MAX);
    tp_driver_shm_attach_response_set_header_slot_bytes(&e, 0xFFFF);
    tp_driver_shm_attach_response_set_node_id(&e, UINT32_MAX);
    tp_driver_shm_attach_response_payload_pools_encode_begin(&e, 0);
    tp_driver_shm_attach_response_put_header_region_uri(&e, "", 0);
    tp_driver_shm_attach_response_put_error_message(&e, msg, strlen(msg));
    const long n = tp_driver_shm_attach_response_encode_end(&e);
    tp_ipc_publication_offer(g_rig_pub, big, (size_t)n);
}

static void send_revoked(uint64_t lease, uint32_t stream, uint8_t role, uint8_t reason)
{
    tp_driver_shm_lease_revoked_enc_t e;
    tp_driver_shm_lease_revoked_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_lease_revoked_set_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    tp_driver_shm_lease_revoked_set_lease_id(&e, lease);
    tp_driver_shm_lease_revoked_set_stream_id(&e, stream);
    tp_driver_shm_lease_revoked_set_client_id(&e, 1);
    tp_driver_shm_lease_revoked_set_role(&e, role);
    tp_driver_shm_lease_revoked_set_reason(&e, reason);
    tp_driver_shm_lease_revoked_put_error_message(&e, "", 0);
    const long n = tp_driver_shm_lease_revoked_encode_end(&e);
    tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n);
}

/* Scenarios 31-35, 37 (D-4.2.n-q/s, D-4.7a.a): fail closed, nothing mapped, Backoff. */
static void test_invalid_ok_is_protocol_error(void)
{
    static const int cases[] = {M_SLOT512, M_COUNT0, M_NSLOTS32, M_BLANK_URI, M_EPOCH_NULL, M_REL_URI};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        start(0);
        CHECK(g_seen.attaches >= 1);
        respond_ok(g_seen.corr, cases[i]);
        step(10);
        tp_driver_client_stats_t s;
        tp_driver_client_stats(g_dc, &s);
        if (s.protocol_errors != 1 || g_attached_calls != 0 || tp_driver_client_state(g_dc) != TP_DC_BACKOFF) {
            fprintf(stderr, "mutation %d: errors %llu attached %d state %d\n", cases[i], (unsigned long long)s.protocol_errors,
                    g_attached_calls, tp_driver_client_state(g_dc));
            CHECK(0);
        }
        stop();
    }
}

/* Scenario 36 (D-4.2.r): no expiry -> accepted, keepalives on schedule. */
static void test_null_expiry_accepted(void)
{
    start(0);
    respond_ok(g_seen.corr, M_EXPIRY_NULL);
    step(300);
    CHECK_EQ_I64(g_attached_calls, 1);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHED);
    CHECK(g_seen.keepalives >= 3);
    stop();
}

/* Scenarios 24, 25, 38, 39 (D-B.1.d/e, D-4.4a.a/c). */
static void test_ignored_answers(void)
{
    start(0);
    const int64_t corr = g_seen.corr;
    respond_ok(corr - 1, M_NONE); /* 24: another corr */
    respond_ok(corr, M_VERSION2); /* 38: newer version: dropped, still pending */
    uint8_t hello[128];           /* 39: schema 900 template 2 is not an attach response */
    tp_control_consumer_hello_enc_t h;
    tp_control_consumer_hello_encode_begin(&h, hello, sizeof hello);
    tp_control_consumer_hello_put_descriptor_channel(&h, "", 0);
    tp_control_consumer_hello_put_control_channel(&h, "", 0);
    const long hn = tp_control_consumer_hello_encode_end(&h);
    if (hn > 0) tp_ipc_publication_offer(g_rig_pub, hello, (size_t)hn);
    step(50);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHING);
    CHECK_EQ_I64(g_attached_calls, 0);
    step(450); /* 24: the attach timeout leads to Backoff, then a new attempt with a new corr */
    CHECK(g_seen.corr != corr);
    /* 25: OK accepted, then a REJECTED with the same corr changes nothing */
    const int64_t c2 = g_seen.corr;
    respond_ok(c2, M_NONE);
    step(10);
    respond_error(c2, TP_DRIVER_RESPONSE_CODE_REJECTED, "client_id already attached");
    step(10);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHED);
    CHECK_EQ_I64(g_attached_calls, 1);
    stop();
}

/* Scenarios 22, 23 (D-B.2.a/b): only an auto-assigned id is changed. */
static void test_client_id_retry(void)
{
    start(0);
    const uint32_t x = g_seen.client;
    const int64_t c1 = g_seen.corr;
    CHECK(x != 0);
    respond_error(c1, TP_DRIVER_RESPONSE_CODE_REJECTED, "client_id already attached");
    step(150);
    CHECK(g_seen.client != x && g_seen.client != 0 && g_seen.corr != c1);
    respond_ok(g_seen.corr, M_NONE);
    step(10);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHED);
    CHECK(tp_driver_client_id(g_dc) != x);
    stop();
    start(4242);
    respond_error(g_seen.corr, TP_DRIVER_RESPONSE_CODE_REJECTED, "client_id already attached");
    step(150);
    CHECK_EQ_U64(g_seen.client, 4242);
    const char *msg = NULL;
    CHECK_EQ_I64(tp_driver_client_last_code(g_dc, &msg), TP_DRIVER_RESPONSE_CODE_REJECTED);
    stop();
}

/* Scenario 40 ([R] §3.5 7.6): a 2000-byte text is truncated, not an error. */
static void test_long_error_text_truncated(void)
{
    start(0);
    char text[2001];
    memset(text, 'x', 2000);
    text[2000] = '\0';
    respond_error(g_seen.corr, TP_DRIVER_RESPONSE_CODE_REJECTED, text);
    step(10);
    const char *msg = NULL;
    CHECK_EQ_I64(tp_driver_client_last_code(g_dc, &msg), TP_DRIVER_RESPONSE_CODE_REJECTED);
    CHECK_EQ_U64(strlen(msg), 1024);
    stop();
}

/* Scenarios 49, 51, 52, 53, 58 (D-4.9.f/h/j/n, D-4.13.d). */
static void test_revocations_and_shutdown(void)
{
    start(0);
    respond_ok(g_seen.corr, M_NONE);
    step(10);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHED);
    send_revoked(78, 10000, TP_ROLE_CONSUMER, 3); /* 51: someone else's lease */
    send_revoked(77, 10000, TP_ROLE_CONSUMER, 9); /* 52: unknown reason */
    step(10);
    CHECK_EQ_I64(g_lost_calls, 0);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHED);
    const int before = g_seen.attaches;
    send_revoked(77, 10000, TP_ROLE_CONSUMER, 3); /* 49 */
    send_revoked(77, 10000, TP_ROLE_CONSUMER, 3); /* 53: duplicate */
    step(10);
    CHECK_EQ_I64(g_lost_calls, 1);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_BACKOFF);
    step(100);
    CHECK(g_seen.attaches > before); /* reattach after the backoff */
    respond_ok(g_seen.corr, M_NONE);
    step(10);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHED);
    tp_driver_shm_driver_shutdown_enc_t e; /* 58 */
    tp_driver_shm_driver_shutdown_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_driver_shutdown_set_timestamp_ns(&e, 1);
    tp_driver_shm_driver_shutdown_set_reason(&e, TP_DRIVER_SHUTDOWN_REASON_NORMAL);
    tp_driver_shm_driver_shutdown_put_error_message(&e, "", 0);
    const long n = tp_driver_shm_driver_shutdown_encode_end(&e);
    tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n);
    step(10);
    CHECK_EQ_I64(g_lost_calls, 2);
    CHECK(tp_driver_client_state(g_dc) != TP_DC_ATTACHED);
    stop();
}

/* Scenario 59 (D-4.13.e): a silent driver (no announces for 3 periods) means
 * the lease is lost. */
static void test_silent_driver_detected(void)
{
    start(0);
    g_ctx.announce_period_ns = 50000000;
    tp_driver_client_close(g_dc);
    memset(&g_seen, 0, sizeof g_seen);
    const tp_driver_client_handlers_t h = {.on_attached = cb_attached, .on_lease_lost = cb_lost};
    CHECK_EQ_I64(tp_driver_client_open(&g_dc, &g_ctx, 10000, TP_ROLE_CONSUMER, 1, &h), 0);
    step(20);
    respond_ok(g_seen.corr, M_NONE);
    step(100);
    CHECK_EQ_I64(g_lost_calls, 0);
    step(150);
    CHECK_EQ_I64(g_lost_calls, 1);
    stop();
}

/* Scenario 37 (D-4.2.s, D-9.b): a URI outside the allowed base directories
 * is refused by the consumer's containment check; nothing stays mapped. */
static void test_consumer_refuses_outside_uri(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return stop();
    for (int i = 0; i < 20 && g_seen.attaches == 0; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        usleep(1000);
    }
    respond_ok(g_seen.corr, M_OUTSIDE_URI);
    for (int i = 0; i < 20; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    tp_driver_client_stats_t s;
    tp_driver_client_stats(tp_consumer_driver_client(c), &s);
    CHECK_EQ_U64(s.protocol_errors, 1);
    CHECK(!tp_consumer_is_mapped(c));
    tp_consumer_close(c);
    stop();
}

int main(void)
{
    RUN(test_invalid_ok_is_protocol_error);
    RUN(test_null_expiry_accepted);
    RUN(test_ignored_answers);
    RUN(test_client_id_retry);
    RUN(test_long_error_text_truncated);
    RUN(test_revocations_and_shutdown);
    RUN(test_silent_driver_detected);
    RUN(test_consumer_refuses_outside_uri);
    TP_TEST_END();
}
