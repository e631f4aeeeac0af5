/* The client's side of the protocol against a simulated driver: this test
 * reads the client's requests and answers with crafted responses (docs/spec/driver.md
 * §3.5, §3.8, §6 scenarios 22-25, 31-40, 49-53, 58, 59). */
#include "tp_test.h"

#include "driver_test_rig.h"
#include "ipc/ipc_media_driver.h"
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

static char g_why[128]; /* reason of the last lease loss */

static void cb_lost(void *clientd, const char *why)
{
    (void)clientd;
    snprintf(g_why, sizeof g_why, "%s", why != NULL ? why : "");
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

/* Step until cond holds or ms pass (bounded waits that tolerate a loaded machine). */
#define STEP_UNTIL(cond, ms)                                                     \
    do {                                                                         \
        const int64_t until_ = tp_clock_monotonic_ns() + (int64_t)(ms) * 1000000; \
        while (!(cond) && tp_clock_monotonic_ns() < until_) step(2);             \
    } while (0)

static tp_client_context_t g_ctx;
static tp_ipc_media_driver_t *g_media_driver; /* Aeron runs only: this process plays the media driver too */

static void start(uint32_t client_id)
{
    snprintf(g_rig_dir, sizeof g_rig_dir, "/dev/shm/tp-dcltest-XXXXXX");
    if (mkdtemp(g_rig_dir) == NULL) exit(1);
    chmod(g_rig_dir, 0770);
    if (rig_on_aeron()) {
        unsetenv("AERON_DIR");
        setenv("DRIVER_CONTROL_CHANNEL", rig_channel(), 1);
        setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
        tp_ipc_context_t ipc;
        tp_ipc_context_init(&ipc);
        ipc.base_dir = g_rig_dir;
        CHECK_EQ_I64(tp_ipc_media_driver_start(&g_media_driver, &ipc, NULL), 0);
    }
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
    STEP_UNTIL(g_seen.attaches > 0, 20000); /* the request is in: g_seen.corr answers it */
}

static void stop(void)
{
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    tp_ipc_publication_close(g_rig_pub);
    tp_ipc_subscription_close(g_rig_sub);
    tp_ipc_media_driver_stop(g_media_driver);
    g_media_driver = NULL;
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

/* Scenarios 31-35, 37 (D-4.2.n-q/s, D-4.7a.a): fail closed, nothing mapped, Backoff.
 * W-10.1.1.b: header_slot_bytes 512 in the answer is one of the refusals. */
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

/* Scenario 36 (D-4.2.r): no expiry -> accepted, keepalives on schedule.
 * W-10.1.a: the null leaseExpiryTimestampNs (all ones) is read as "not
 * provided", not as a deadline (read as a time it would end the lease at once). */
static void test_null_expiry_accepted(void)
{
    start(0);
    respond_ok(g_seen.corr, M_EXPIRY_NULL);
    STEP_UNTIL(g_seen.keepalives >= 3, 3000);
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
    STEP_UNTIL(g_seen.corr != corr, 3000); /* 24: the attach timeout leads to Backoff, then a new attempt with a new corr */
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
    STEP_UNTIL(g_seen.corr != c1, 3000);
    CHECK(g_seen.client != x && g_seen.client != 0 && g_seen.corr != c1);
    respond_ok(g_seen.corr, M_NONE);
    step(10);
    CHECK(tp_driver_client_state(g_dc) == TP_DC_ATTACHED);
    CHECK(tp_driver_client_id(g_dc) != x);
    stop();
    start(4242);
    const int64_t c0 = g_seen.corr;
    respond_error(c0, TP_DRIVER_RESPONSE_CODE_REJECTED, "client_id already attached");
    STEP_UNTIL(g_seen.corr != c0, 3000);
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
    STEP_UNTIL(g_seen.attaches > before, 3000);
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
    g_ctx.attach_timeout_ns = 20000000000; /* a loaded machine must not turn this into an attach timeout */
    tp_driver_client_close(g_dc);
    memset(&g_seen, 0, sizeof g_seen);
    g_why[0] = '\0';
    const tp_driver_client_handlers_t h = {.on_attached = cb_attached, .on_lease_lost = cb_lost};
    CHECK_EQ_I64(tp_driver_client_open(&g_dc, &g_ctx, 10000, TP_ROLE_CONSUMER, 1, &h), 0);
    STEP_UNTIL(g_seen.attaches > 0, 20000); /* answer the request actually sent */
    CHECK(g_seen.attaches > 0);
    /* The silence is counted from the attach, which happens after this
     * moment: the loss cannot be observed sooner than 3 periods after it. */
    const int64_t t0 = tp_clock_monotonic_ns();
    respond_ok(g_seen.corr, M_NONE);
    STEP_UNTIL(tp_driver_client_state(g_dc) == TP_DC_ATTACHED || g_lost_calls > 0, 20000);
    CHECK(g_attached_calls == 1);
    STEP_UNTIL(g_lost_calls > 0, 20000);
    const int64_t waited = tp_clock_monotonic_ns() - t0;
    CHECK_EQ_I64(g_lost_calls, 1);
    CHECK(waited >= 150000000); /* not before 3 announce periods of silence */
    /* lost for the silence, not for the lease deadline (3 s) or anything else */
    CHECK(strstr(g_why, "no announce") != NULL);
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

static void respond_ok_uris(int64_t corr, const char *ring, const char *pool)
{
    tp_driver_shm_attach_response_enc_t e;
    tp_driver_shm_attach_response_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_attach_response_set_correlation_id(&e, corr);
    tp_driver_shm_attach_response_set_code(&e, 0);
    tp_driver_shm_attach_response_set_lease_id(&e, 77);
    tp_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns() + 3000000000ull);
    tp_driver_shm_attach_response_set_stream_id(&e, 10000);
    tp_driver_shm_attach_response_set_epoch(&e, 5);
    tp_driver_shm_attach_response_set_layout_version(&e, 1);
    tp_driver_shm_attach_response_set_header_nslots(&e, 64);
    tp_driver_shm_attach_response_set_header_slot_bytes(&e, 256);
    tp_driver_shm_attach_response_set_node_id(&e, 9);
    tp_driver_shm_attach_response_payload_pools_encode_begin(&e, 1);
    tp_driver_shm_attach_response_payload_pools_encode_next(&e);
    tp_driver_shm_attach_response_payload_pools_set_pool_id(&e, 1);
    tp_driver_shm_attach_response_payload_pools_set_pool_nslots(&e, 64);
    tp_driver_shm_attach_response_payload_pools_set_stride_bytes(&e, 4096);
    tp_driver_shm_attach_response_payload_pools_put_region_uri(&e, pool, strlen(pool));
    tp_driver_shm_attach_response_put_header_region_uri(&e, ring, strlen(ring));
    tp_driver_shm_attach_response_put_error_message(&e, "", 0);
    const long n = tp_driver_shm_attach_response_encode_end(&e);
    tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n);
}

static uint32_t g_announce_stream = 10000; /* streamId the next announces carry */

static void send_announce_full(uint64_t epoch, uint64_t ts, uint8_t domain, uint16_t slot_bytes, const char *ring,
                               const char *pool)
{
    tp_control_shm_pool_announce_enc_t e;
    tp_control_shm_pool_announce_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_control_shm_pool_announce_set_stream_id(&e, g_announce_stream);
    tp_control_shm_pool_announce_set_producer_id(&e, 0);
    tp_control_shm_pool_announce_set_epoch(&e, epoch);
    tp_control_shm_pool_announce_set_announce_timestamp_ns(&e, ts);
    tp_control_shm_pool_announce_set_announce_clock_domain(&e, domain);
    tp_control_shm_pool_announce_set_layout_version(&e, 1);
    tp_control_shm_pool_announce_set_header_nslots(&e, 64);
    tp_control_shm_pool_announce_set_header_slot_bytes(&e, slot_bytes);
    tp_control_shm_pool_announce_payload_pools_encode_begin(&e, 1);
    tp_control_shm_pool_announce_payload_pools_encode_next(&e);
    tp_control_shm_pool_announce_payload_pools_set_pool_id(&e, 1);
    tp_control_shm_pool_announce_payload_pools_set_pool_nslots(&e, 64);
    tp_control_shm_pool_announce_payload_pools_set_stride_bytes(&e, 4096);
    tp_control_shm_pool_announce_payload_pools_put_region_uri(&e, pool, strlen(pool));
    tp_control_shm_pool_announce_put_header_region_uri(&e, ring, strlen(ring));
    const long n = tp_control_shm_pool_announce_encode_end(&e);
    tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n);
}

static void send_announce_ts(uint64_t epoch, uint64_t ts, const char *ring, const char *pool)
{
    send_announce_full(epoch, ts, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC, 256, ring, pool);
}

static void send_announce(uint64_t epoch, const char *ring, const char *pool)
{
    send_announce_ts(epoch, (uint64_t)tp_clock_monotonic_ns(), ring, pool);
}

/* Stream 10000's files of one epoch, made as the driver would make them;
 * ring and pool get their URIs (4200 bytes each). */
static void open_writer(tp_shm_writer_t *w, uint64_t epoch, char *ring, char *pool)
{
    tp_shm_writer_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.base_dir = g_rig_dir;
    wc.ns = "default";
    wc.stream_id = 10000;
    wc.epoch = epoch;
    wc.nslots = 64;
    wc.npools = 1;
    wc.pools[0].pool_id = 1;
    wc.pools[0].stride_bytes = 4096;
    wc.now_ns = (uint64_t)tp_clock_monotonic_ns();
    CHECK_EQ_I64(tp_shm_writer_open(w, &wc), 0);
    tp_shm_writer_ring_uri(w, ring, 4200);
    tp_shm_writer_pool_uri(w, 0, pool, 4200);
}

/* Play the driver for consumer c until it has mapped ring and pool (or
 * 10 s passed): answer each of its attach requests, as a driver does. Over
 * Aeron the consumer's first request can reach us before its subscription
 * follows our publication, so that first answer is lost and the consumer's
 * retransmission (or next attempt) is the one that counts; the regions
 * stay live meanwhile (their activity timestamp is fresh), as a producer's
 * are. */
static void consumer_mapped_by_rig(tp_consumer_t *c, tp_shm_writer_t *w, const char *ring, const char *pool)
{
    int answered = g_seen.attaches;
    const int64_t end = tp_clock_monotonic_ns() + 10000000000LL;
    while (!tp_consumer_is_mapped(c) && tp_clock_monotonic_ns() < end) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        if (g_seen.attaches > answered) {
            answered = g_seen.attaches;
            tp_shm_writer_heartbeat(w, (uint64_t)tp_clock_monotonic_ns());
            respond_ok_uris(g_seen.corr, ring, pool);
        }
        usleep(500);
    }
}

/* Scenario 50 (D-4.9.g, D-4.9.l): the producer of a consumed stream is
 * revoked -> the consumer unmaps and waits for a newer epoch; when only the
 * old epoch keeps being announced for 3 periods it backs off and attaches
 * anew (detach + new attach). */
static void test_consumer_remap_wait_is_bounded(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    g_ctx.announce_period_ns = 50000000;
    static tp_shm_writer_t w; /* the test plays the driver: it may create files */
    char ring[4200], pool[4200];
    open_writer(&w, 5, ring, pool);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return stop();
    consumer_mapped_by_rig(c, &w, ring, pool);
    CHECK(tp_consumer_is_mapped(c));
    send_revoked(999, 10000, TP_ROLE_PRODUCER, TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED);
    const int attaches = g_seen.attaches;
    int unmapped_at_once = -1;
    const int64_t end = tp_clock_monotonic_ns() + 400000000;
    while (tp_clock_monotonic_ns() < end) {
        send_announce(5, ring, pool); /* the driver stays alive but never announces a newer epoch */
        for (int k = 0; k < 20; k++) {
            tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
            tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
            if (unmapped_at_once < 0) unmapped_at_once = !tp_consumer_is_mapped(c);
            usleep(500);
        }
    }
    CHECK_EQ_I64(unmapped_at_once, 1);
    CHECK(g_seen.detaches >= 1);
    CHECK(g_seen.attaches > attaches);
    tp_consumer_close(c);
    tp_shm_writer_close(&w, 1);
    stop();
}

/* docs/spec/wire.md §5.1 steps 3-5 (W-10.1.1.e, W-10.1.1.f, D-6.b): a stale announce,
 * one older than the consumer's join time and one of a lower epoch are
 * ignored; a fresh announce of a newer epoch remaps. */
static void test_announce_freshness_and_join_time(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    static tp_shm_writer_t w5, w6;
    char ring5[4200], pool5[4200], ring6[4200], pool6[4200];
    open_writer(&w5, 5, ring5, pool5);
    open_writer(&w6, 6, ring6, pool6);
    const int64_t before_join = tp_clock_monotonic_ns();
    usleep(2000);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return stop();
    consumer_mapped_by_rig(c, &w5, ring5, pool5);
    CHECK_EQ_U64(tp_consumer_epoch(c), 5);
    const int64_t now = tp_clock_monotonic_ns();
    const uint64_t bad_ts[2] = {(uint64_t)(now - 31000000000LL), /* older than 3 periods (10 s here) */
                                (uint64_t)before_join};          /* fresh, but before the join time */
    for (int k = 0; k < 2; k++) {
        send_announce_ts(6, bad_ts[k], ring6, pool6);
        for (int i = 0; i < 20; i++) {
            tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
            usleep(500);
        }
        CHECK_EQ_U64(tp_consumer_epoch(c), 5);
    }
    send_announce(4, ring5, pool5); /* lower epoch: ignored */
    for (int i = 0; i < 20; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    CHECK_EQ_U64(tp_consumer_epoch(c), 5);
    send_announce(6, ring6, pool6); /* fresh and newer: remap */
    for (int i = 0; i < 100 && tp_consumer_epoch(c) != 6; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    CHECK_EQ_U64(tp_consumer_epoch(c), 6);
    CHECK_EQ_U64(tp_consumer_maps(c), 2);
    tp_consumer_close(c);
    tp_shm_writer_close(&w5, 1);
    tp_shm_writer_close(&w6, 1);
    stop();
}

/* ---- consumer mapping states, epochs and clock domains (docs/spec/wire.md §5.1-§5.3) ---- */

typedef struct frames_s {
    int n;
    uint64_t seq, epoch, slot_ts, desc_ts;
} frames_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    frames_t *r = clientd;
    r->n++;
    r->seq = f->seq;
    r->epoch = f->epoch;
    r->slot_ts = f->header->timestamp_ns;
    r->desc_ts = f->descriptor_timestamp_ns;
}

static void spin(tp_consumer_t *c, int n, frames_t *fr)
{
    for (int i = 0; i < n; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), fr != NULL ? on_frame : NULL, fr, 16);
        usleep(500);
    }
}

/* Poll until cond or 2 s (a loaded machine), then settle a little so that a
 * message that should have been ignored had its chance to be processed. */
#define SPIN_UNTIL(c, fr, cond)                                                  \
    do {                                                                         \
        const int64_t until_ = tp_clock_monotonic_ns() + 2000000000LL;           \
        while (!(cond) && tp_clock_monotonic_ns() < until_) spin((c), 1, (fr)); \
        spin((c), 20, (fr));                                                     \
    } while (0)

/* Open a consumer and let it attach (lease epoch 5) to ring/pool. */
static tp_consumer_t *consumer_at(const char *ring, const char *pool)
{
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return NULL;
    for (int i = 0; i < 200 && g_seen.attaches == 0; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        usleep(1000);
    }
    respond_ok_uris(g_seen.corr, ring, pool);
    SPIN_UNTIL(c, NULL, tp_consumer_is_mapped(c));
    CHECK_EQ_U64(tp_consumer_epoch(c), 5);
    return c;
}

static tp_ipc_publication_t *g_desc_pub;

static void send_descriptor(uint64_t epoch, uint64_t seq, uint64_t ts)
{
    uint8_t b[128];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, b, sizeof b);
    tp_control_frame_descriptor_set_stream_id(&e, 10000);
    tp_control_frame_descriptor_set_epoch(&e, epoch);
    tp_control_frame_descriptor_set_seq(&e, seq);
    tp_control_frame_descriptor_set_timestamp_ns(&e, ts);
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    const long n = tp_control_frame_descriptor_encode_end(&e);
    CHECK(n > 0 && tp_ipc_publication_offer(g_desc_pub, b, (size_t)n) > 0);
}

static void send_progress_complete(uint64_t epoch, uint64_t seq, uint64_t filled)
{
    uint8_t b[128];
    tp_control_frame_progress_enc_t e;
    tp_control_frame_progress_encode_begin(&e, b, sizeof b);
    tp_control_frame_progress_set_stream_id(&e, 10000);
    tp_control_frame_progress_set_epoch(&e, epoch);
    tp_control_frame_progress_set_seq(&e, seq);
    tp_control_frame_progress_set_payload_bytes_filled(&e, filled);
    tp_control_frame_progress_set_state(&e, TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE);
    const long n = tp_control_frame_progress_encode_end(&e);
    CHECK(n > 0 && tp_ipc_publication_offer(g_desc_pub, b, (size_t)n) > 0);
}

/* Commit the writer's next frame (16 bytes) with capture time slot_ts. */
static uint64_t write_frame(tp_shm_writer_t *w, uint64_t slot_ts)
{
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 16;
    uint8_t src[16] = {0};
    uint64_t seq = UINT64_MAX;
    CHECK_EQ_I64(tp_shm_writer_publish(w, &t, src, 16, slot_ts, 0, &seq), 0);
    return seq;
}

/* Clock domains of ShmPoolAnnounce (docs/spec/wire.md §5.1 steps 2-4, 7, 10):
 * W-10.1.1.f: a MONOTONIC announce stamped before the consumer's join time is
 *   ignored, though fresh;
 * W-10.1.1.g: a REALTIME_SYNCED announce stamped before the join (in its own
 *   clock) is accepted: no join-time rule, only the freshness window, measured
 *   on CLOCK_REALTIME (a stale one, or one stamped with a monotonic value, is
 *   ignored);
 * D-19: the join time is taken when the consumer subscribes, not at the first
 *   announce, so the very first announce it receives is accepted;
 * W-10.1.1.b: an announce with header_slot_bytes != 256 is ignored;
 * W-10.1.1.c: the consumer maps from the announce and validates the
 *   superblocks: an announce whose files carry another epoch is not mapped;
 * W-15.21a.1.a: the consumer maps the paths the announce names, even ones no
 *   naming rule would give (epoch 7's files renamed to arbitrary names). */
static void test_announce_clock_domains_and_join_time(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    static tp_shm_writer_t w5, w6, w7;
    char ring5[4200], pool5[4200], ring6[4200], pool6[4200], ring7[4200], pool7[4200];
    open_writer(&w5, 5, ring5, pool5);
    open_writer(&w6, 6, ring6, pool6);
    open_writer(&w7, 7, ring7, pool7);
    char odd_ring[512], odd_pool[512];
    snprintf(odd_ring, sizeof odd_ring, "%s/any-name-ring", g_rig_dir);
    snprintf(odd_pool, sizeof odd_pool, "%s/other-name", g_rig_dir);
    CHECK(rename(w7.ring_path, odd_ring) == 0 && rename(w7.pool_path[0], odd_pool) == 0);
    char odd_ring_uri[600], odd_pool_uri[600];
    snprintf(odd_ring_uri, sizeof odd_ring_uri, "shm:file?path=%s|require_hugepages=false", odd_ring);
    snprintf(odd_pool_uri, sizeof odd_pool_uri, "shm:file?path=%s|require_hugepages=false", odd_pool);
    const int64_t mono_before_join = tp_clock_monotonic_ns();
    const int64_t rt_before_join = tp_clock_realtime_ns();
    usleep(2000);
    tp_consumer_t *c = consumer_at(ring5, pool5);
    if (c == NULL) return stop();

    send_announce(6, ring6, pool6); /* the first announce it ever sees (D-19) */
    SPIN_UNTIL(c, NULL, tp_consumer_epoch(c) == 6);
    CHECK_EQ_U64(tp_consumer_epoch(c), 6);

    const uint64_t now = (uint64_t)tp_clock_monotonic_ns();
    send_announce_full(7, now, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC, 512, odd_ring_uri, odd_pool_uri); /* W-10.1.1.b */
    send_announce_full(7, (uint64_t)mono_before_join, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC, 256, odd_ring_uri,
                       odd_pool_uri); /* W-10.1.1.f */
    send_announce_full(7, (uint64_t)(tp_clock_realtime_ns() - 31000000000LL), TP_CONTROL_CLOCK_DOMAIN_REALTIME_SYNCED,
                       256, odd_ring_uri, odd_pool_uri); /* stale on CLOCK_REALTIME */
    send_announce_full(7, now, TP_CONTROL_CLOCK_DOMAIN_REALTIME_SYNCED, 256, odd_ring_uri,
                       odd_pool_uri); /* a monotonic stamp is decades old as realtime */
    send_announce_full(7, now, 0, 256, odd_ring_uri, odd_pool_uri); /* no such domain (§5.1 step 2) */
    spin(c, 60, NULL);
    CHECK_EQ_U64(tp_consumer_epoch(c), 6);
    CHECK_EQ_U64(tp_consumer_maps(c), 2);

    /* W-10.1.1.g: older than the join, fresh in its own clock: accepted.
     * (Our join time is a CLOCK_MONOTONIC reading; this step fails for a
     * consumer that kept a realtime join time and applied it here.) */
    send_announce_full(7, (uint64_t)rt_before_join, TP_CONTROL_CLOCK_DOMAIN_REALTIME_SYNCED, 256, odd_ring_uri,
                       odd_pool_uri);
    SPIN_UNTIL(c, NULL, tp_consumer_epoch(c) == 7);
    CHECK_EQ_U64(tp_consumer_epoch(c), 7);
    CHECK_EQ_U64(tp_consumer_maps(c), 3);

    /* W-10.1.1.c: epoch 8 announced, but its files' superblocks say 7: not
     * mapped, and the working mapping of 7 stays (docs/threat-model.md) */
    tp_consumer_counters_t k;
    send_announce(8, odd_ring_uri, odd_pool_uri);
    SPIN_UNTIL(c, NULL, (tp_consumer_counters(c, &k), k.refused_announce > 0));
    CHECK(k.refused_announce > 0);
    CHECK(tp_consumer_is_mapped(c));
    CHECK_EQ_U64(tp_consumer_epoch(c), 7);
    CHECK_EQ_U64(tp_consumer_maps(c), 3);
    tp_consumer_close(c);
    unlink(odd_ring);
    unlink(odd_pool);
    tp_shm_writer_close(&w5, 1);
    tp_shm_writer_close(&w6, 1);
    tp_shm_writer_close(&w7, 1);
    stop();
}

/* The epoch boundary, descriptor by descriptor (docs/spec/wire.md §5.3, §5.5):
 * W-10.2.1.f: slot and descriptor timestamps differ and both reach the
 *   application as given;
 * W-10.2.2.h: a FrameProgress COMPLETE for a committed slot delivers nothing;
 *   the FrameDescriptor does;
 * W-10.2.1.h: a descriptor of a lower epoch is ignored (nothing delivered,
 *   still mapped); one of a higher epoch is not read from the old regions;
 * docs/threat-model.md (where W-15.21.c/d would unmap): that higher-epoch
 *   descriptor is counted as a frame lost to an epoch not mapped, and changes
 *   nothing else: the in-flight frame of the current epoch is still read;
 *   only the announce of the new epoch maps again (M1), and a repeated
 *   announce of the same epoch does not remap;
 * W-10.1.1.d, W-15.2.b, W-15.18.b: after the remap the sequence tracking
 *   starts afresh: seq 0 of the new epoch is accepted, no gap, no regression,
 *   and stale descriptors of the old epoch are dropped. */
static void test_consumer_epoch_boundary(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    CHECK_EQ_I64(tp_ipc_publication_open(&g_desc_pub, &g_rig_ipc, rig_channel(), g_ctx.descriptor_stream_id), 0);
    static tp_shm_writer_t w5, w6;
    char ring5[4200], pool5[4200], ring6[4200], pool6[4200];
    open_writer(&w5, 5, ring5, pool5);
    open_writer(&w6, 6, ring6, pool6);
    tp_consumer_t *c = consumer_at(ring5, pool5);
    if (c == NULL) {
        tp_ipc_publication_close(g_desc_pub);
        return stop();
    }
    frames_t fr;
    memset(&fr, 0, sizeof fr);
    for (uint64_t i = 0; i < 3; i++) send_descriptor(5, write_frame(&w5, 1000 + i), 5000 + i);
    SPIN_UNTIL(c, &fr, fr.n == 3);
    CHECK_EQ_I64(fr.n, 3);
    CHECK_EQ_U64(fr.seq, 2);
    CHECK_EQ_U64(fr.slot_ts, 1002); /* W-10.2.1.f: both kept, unequal */
    CHECK_EQ_U64(fr.desc_ts, 5002);

    const uint64_t s3 = write_frame(&w5, 1003); /* committed */
    send_progress_complete(5, s3, 16);
    spin(c, 40, &fr);
    CHECK_EQ_I64(fr.n, 3); /* W-10.2.2.h */
    send_descriptor(5, s3, 5003);
    SPIN_UNTIL(c, &fr, fr.n == 4);
    CHECK_EQ_I64(fr.n, 4);

    send_descriptor(4, write_frame(&w5, 1004), 5004); /* a lower epoch: ignored */
    spin(c, 40, &fr);
    CHECK_EQ_I64(fr.n, 4);
    CHECK_EQ_U64(tp_consumer_epoch(c), 5);

    const uint64_t s5 = write_frame(&w5, 1005); /* in flight when the epoch changes */
    send_descriptor(6, write_frame(&w6, 2000), 6000);
    send_descriptor(5, s5, 5005);
    send_descriptor(6, 0, 6000);
    spin(c, 60, &fr);
    CHECK(tp_consumer_is_mapped(c)); /* a descriptor never unmaps */
    CHECK_EQ_U64(tp_consumer_epoch(c), 5);
    CHECK_EQ_I64(fr.n, 5); /* s5 read in epoch 5 */
    tp_consumer_counters_t k;
    tp_consumer_counters(c, &k);
    CHECK_EQ_U64(k.lost_other_epoch, 2);
    CHECK_EQ_U64(k.lost_stale_epoch, 1);

    send_announce(6, ring6, pool6);
    SPIN_UNTIL(c, &fr, tp_consumer_epoch(c) == 6);
    CHECK_EQ_U64(tp_consumer_epoch(c), 6);
    CHECK_EQ_U64(tp_consumer_maps(c), 2);
    send_announce(6, ring6, pool6); /* same epoch: refresh only */
    spin(c, 40, &fr);
    CHECK_EQ_U64(tp_consumer_maps(c), 2);

    send_descriptor(6, 0, 6000); /* seq restarts at 0: below epoch 5's last seq 3 */
    send_descriptor(6, write_frame(&w6, 2001), 6001);
    SPIN_UNTIL(c, &fr, fr.n == 7);
    CHECK_EQ_I64(fr.n, 7);
    CHECK_EQ_U64(fr.epoch, 6);
    CHECK_EQ_U64(fr.seq, 1);
    send_descriptor(5, s5, 5005); /* stale epoch: dropped, stays mapped */
    spin(c, 40, &fr);
    CHECK_EQ_I64(fr.n, 7);
    CHECK_EQ_U64(tp_consumer_epoch(c), 6);
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    CHECK_EQ_U64(d.drops_gap, 1); /* epoch 5's seq 4 was only ever described as epoch 4 */
    CHECK_EQ_U64(d.drops_late, 0);
    CHECK_EQ_U64(d.accepted, 7);
    CHECK_EQ_U64(d.last_seq_seen, 1);
    tp_consumer_close(c);
    tp_ipc_publication_close(g_desc_pub);
    g_desc_pub = NULL;
    tp_shm_writer_close(&w5, 1);
    tp_shm_writer_close(&w6, 1);
    stop();
}

/* W-15.14.c, docs/spec/wire.md §5.2: with a 200 ms announce period the consumer stays
 * mapped while the activity timestamp is refreshed; when refreshing stops it
 * unmaps after 3 periods, ignores further announces of that epoch, and maps
 * the next epoch when it is announced. */
static void test_consumer_liveness_timeout(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    g_ctx.announce_period_ns = 200000000; /* a window of 600 ms: room for a loaded machine */
    static tp_shm_writer_t w5, w6;
    char ring5[4200], pool5[4200], ring6[4200], pool6[4200];
    open_writer(&w5, 5, ring5, pool5);
    open_writer(&w6, 6, ring6, pool6);
    tp_consumer_t *c = consumer_at(ring5, pool5);
    if (c == NULL) return stop();
    int64_t end = tp_clock_monotonic_ns() + 1000000000; /* 5 periods, refreshed */
    int stayed = 1;
    while (tp_clock_monotonic_ns() < end) {
        tp_shm_writer_heartbeat(&w5, (uint64_t)tp_clock_monotonic_ns());
        send_announce(5, ring5, pool5); /* the driver is alive (D-4.13.e) */
        spin(c, 10, NULL);
        stayed &= tp_consumer_is_mapped(c);
    }
    CHECK(stayed);
    const int64_t stop_at = tp_clock_monotonic_ns(); /* no more refreshes */
    int64_t unmapped_at = 0;
    end = stop_at + 3000000000LL;
    while (tp_clock_monotonic_ns() < end && unmapped_at == 0) {
        send_announce(5, ring5, pool5);
        spin(c, 10, NULL);
        if (!tp_consumer_is_mapped(c)) unmapped_at = tp_clock_monotonic_ns();
    }
    CHECK(unmapped_at != 0);
    CHECK(unmapped_at - stop_at >= 3 * g_ctx.announce_period_ns - 100000000); /* not before ~3 periods */
    for (int i = 0; i < 5; i++) { /* same epoch, fresh announce: stays unmapped */
        send_announce(5, ring5, pool5);
        spin(c, 10, NULL);
    }
    CHECK(!tp_consumer_is_mapped(c));
    tp_shm_writer_heartbeat(&w6, (uint64_t)tp_clock_monotonic_ns());
    send_announce(6, ring6, pool6);
    SPIN_UNTIL(c, NULL, tp_consumer_epoch(c) == 6);
    CHECK_EQ_U64(tp_consumer_epoch(c), 6);
    tp_consumer_close(c);
    tp_shm_writer_close(&w5, 1);
    tp_shm_writer_close(&w6, 1);
    stop();
}

/* D-4.9.m: after the producer of its stream is revoked, the consumer
 * remaps only on an announce whose streamId is its own and whose epoch is
 * strictly greater than the one it held: an announce of epoch 6 for another
 * stream, and one of the old epoch 5 for its stream, leave it unmapped. */
static void test_consumer_checks_announce_after_revocation(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    static tp_shm_writer_t w5, w6;
    char ring5[4200], pool5[4200], ring6[4200], pool6[4200];
    open_writer(&w5, 5, ring5, pool5);
    open_writer(&w6, 6, ring6, pool6);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return stop();
    consumer_mapped_by_rig(c, &w5, ring5, pool5);
    CHECK(tp_consumer_is_mapped(c) && tp_consumer_epoch(c) == 5);
    send_revoked(999, 10000, TP_ROLE_PRODUCER, TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED);
    for (int i = 0; i < 20; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    CHECK(!tp_consumer_is_mapped(c));
    g_announce_stream = 10001; /* newer epoch, files that would map, but another stream */
    send_announce(6, ring6, pool6);
    g_announce_stream = 10000;
    send_announce(5, ring5, pool5); /* its stream, but not a newer epoch */
    for (int i = 0; i < 40; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    CHECK(!tp_consumer_is_mapped(c));
    CHECK_EQ_U64(tp_consumer_maps(c), 1);
    send_announce(6, ring6, pool6); /* its stream, newer epoch: remap */
    for (int i = 0; i < 100 && !tp_consumer_is_mapped(c); i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    CHECK(tp_consumer_is_mapped(c));
    CHECK_EQ_U64(tp_consumer_epoch(c), 6);
    CHECK_EQ_U64(tp_consumer_maps(c), 2);
    tp_consumer_close(c);
    tp_shm_writer_close(&w5, 1);
    tp_shm_writer_close(&w6, 1);
    stop();
}

static void send_consumer_config(uint32_t consumer, const char *channel, uint32_t desc_stream)
{
    tp_control_consumer_config_enc_t e;
    tp_control_consumer_config_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_control_consumer_config_set_stream_id(&e, 10000);
    tp_control_consumer_config_set_consumer_id(&e, consumer);
    tp_control_consumer_config_set_use_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_config_set_mode(&e, TP_CONTROL_MODE_STREAM);
    tp_control_consumer_config_set_descriptor_stream_id(&e, desc_stream);
    tp_control_consumer_config_set_control_stream_id(&e, 0);
    tp_control_consumer_config_put_payload_fallback_uri(&e, "", 0);
    tp_control_consumer_config_put_descriptor_channel(&e, channel, strlen(channel));
    tp_control_consumer_config_put_control_channel(&e, "", 0);
    const long n = tp_control_consumer_config_encode_end(&e);
    tp_ipc_publication_offer(g_rig_pub, g_rig_buf, (size_t)n);
}

/* W-10.1.b: a var-data field of length 0 is absent. A ConsumerConfig whose
 * descriptorChannel has length 0 grants nothing even with a non-zero
 * descriptorStreamId: the consumer returns to the shared descriptor stream,
 * while the same config with the channel present moves it. */
static void test_empty_var_data_is_absent(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    static tp_shm_writer_t w;
    char ring[4200], pool[4200];
    open_writer(&w, 5, ring, pool);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, -1), 0);
    if (c == NULL) return stop();
    consumer_mapped_by_rig(c, &w, ring, pool);
    CHECK(tp_consumer_is_mapped(c));
    const int32_t shared = tp_consumer_descriptor_stream(c);
    const uint32_t me = tp_driver_client_id(tp_consumer_driver_client(c));
    send_consumer_config(me, g_ctx.channel, 31500);
    for (int i = 0; i < 100 && tp_consumer_descriptor_stream(c) != 31500; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), 31500);
    send_consumer_config(me, "", 31501); /* channel absent: declined, whatever the id */
    for (int i = 0; i < 100 && tp_consumer_descriptor_stream(c) == 31500; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
    CHECK_EQ_I64(tp_consumer_descriptor_stream(c), shared);
    tp_consumer_close(c);
    tp_shm_writer_close(&w, 1);
    stop();
}

/* Random and mutated driver notices/answers and announces on the control
 * stream: never a crash; the client stays in a valid state. */
static void test_random_control_traffic_never_crashes(void)
{
    start(0);
    respond_ok(g_seen.corr, M_NONE);
    step(5);
    unsigned seed = 7;
    uint8_t msg[300];
    for (int i = 0; i < 20000; i++) {
        const size_t n = (size_t)(rand_r(&seed) % (int)sizeof msg);
        for (size_t k = 0; k < n; k++) msg[k] = (uint8_t)rand_r(&seed);
        if (n >= 8) {
            const int drv = rand_r(&seed) % 2;
            msg[2] = (uint8_t)(drv ? 1 + rand_r(&seed) % 8 : 1 + rand_r(&seed) % 13);
            msg[3] = 0;
            msg[4] = drv ? 0x85 : 0x84; /* 901 or 900 */
            msg[5] = 0x03;
            msg[6] = 1;
            msg[7] = 0;
        }
        tp_ipc_publication_offer(g_rig_pub, msg, n);
        if (i % 32 == 0) tp_driver_client_do_work(g_dc, tp_clock_monotonic_ns());
    }
    step(10);
    const tp_driver_client_state_t st = tp_driver_client_state(g_dc);
    CHECK(st == TP_DC_ATTACHED || st == TP_DC_BACKOFF || st == TP_DC_ATTACHING);
    stop();
}

/* Scenario 27 (D-B.1.a-c, §3.9): two process starts draw correlation ids
 * from different random seeds; neither sequence contains 0. Each start is a
 * fresh exec of this binary with --print-ids. */
static int64_t first_corr_of_new_process(void)
{
    char exe[512], cmd[600];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    snprintf(cmd, sizeof cmd, "'%s' --print-ids", exe);
    FILE *p = popen(cmd, "r");
    long long v = 0;
    if (p == NULL) return 0;
    if (fscanf(p, "%lld", &v) != 1) v = 0;
    pclose(p);
    return (int64_t)v;
}

static void test_identity_seeding(void)
{
    const int64_t a = first_corr_of_new_process(), b = first_corr_of_new_process();
    CHECK(a != 0 && b != 0);
    CHECK(a != b);
    for (int i = 0; i < 1000; i++) CHECK(tp_correlation_id_next() > 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-ids") == 0) {
        printf("%lld\n", (long long)tp_correlation_id_next());
        return 0;
    }
    RUN(test_invalid_ok_is_protocol_error);
    RUN(test_null_expiry_accepted);
    RUN(test_ignored_answers);
    RUN(test_client_id_retry);
    RUN(test_long_error_text_truncated);
    RUN(test_revocations_and_shutdown);
    RUN(test_silent_driver_detected);
    RUN(test_consumer_refuses_outside_uri);
    RUN(test_identity_seeding);
    RUN(test_consumer_remap_wait_is_bounded);
    RUN(test_announce_freshness_and_join_time);
    RUN(test_announce_clock_domains_and_join_time);
    RUN(test_consumer_epoch_boundary);
    RUN(test_consumer_liveness_timeout);
    RUN(test_consumer_checks_announce_after_revocation);
    RUN(test_empty_var_data_is_absent);
    RUN(test_random_control_traffic_never_crashes);
    TP_TEST_END();
}
