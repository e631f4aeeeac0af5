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

/* Step until cond holds or ms pass (bounded waits that tolerate a loaded machine). */
#define STEP_UNTIL(cond, ms)                                                     \
    do {                                                                         \
        const int64_t until_ = tp_clock_monotonic_ns() + (int64_t)(ms) * 1000000; \
        while (!(cond) && tp_clock_monotonic_ns() < until_) step(2);             \
    } while (0)

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
    tp_driver_client_close(g_dc);
    memset(&g_seen, 0, sizeof g_seen);
    const tp_driver_client_handlers_t h = {.on_attached = cb_attached, .on_lease_lost = cb_lost};
    CHECK_EQ_I64(tp_driver_client_open(&g_dc, &g_ctx, 10000, TP_ROLE_CONSUMER, 1, &h), 0);
    step(20);
    respond_ok(g_seen.corr, M_NONE);
    STEP_UNTIL(tp_driver_client_state(g_dc) == TP_DC_ATTACHED, 3000);
    const int64_t t0 = tp_clock_monotonic_ns();
    STEP_UNTIL(g_lost_calls > 0, 3000);
    const int64_t waited = tp_clock_monotonic_ns() - t0;
    CHECK_EQ_I64(g_lost_calls, 1);
    CHECK(waited >= 140000000); /* not before 3 announce periods of silence */
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

static void send_announce_ts(uint64_t epoch, uint64_t ts, const char *ring, const char *pool)
{
    tp_control_shm_pool_announce_enc_t e;
    tp_control_shm_pool_announce_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_control_shm_pool_announce_set_stream_id(&e, g_announce_stream);
    tp_control_shm_pool_announce_set_producer_id(&e, 0);
    tp_control_shm_pool_announce_set_epoch(&e, epoch);
    tp_control_shm_pool_announce_set_announce_timestamp_ns(&e, ts);
    tp_control_shm_pool_announce_set_announce_clock_domain(&e, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC);
    tp_control_shm_pool_announce_set_layout_version(&e, 1);
    tp_control_shm_pool_announce_set_header_nslots(&e, 64);
    tp_control_shm_pool_announce_set_header_slot_bytes(&e, 256);
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

static void send_announce(uint64_t epoch, const char *ring, const char *pool)
{
    send_announce_ts(epoch, (uint64_t)tp_clock_monotonic_ns(), ring, pool);
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
    tp_shm_writer_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.base_dir = g_rig_dir;
    wc.ns = "default";
    wc.stream_id = 10000;
    wc.epoch = 5;
    wc.nslots = 64;
    wc.npools = 1;
    wc.pools[0].pool_id = 1;
    wc.pools[0].stride_bytes = 4096;
    wc.now_ns = (uint64_t)tp_clock_monotonic_ns();
    CHECK_EQ_I64(tp_shm_writer_open(&w, &wc), 0);
    char ring[4200], pool[4200];
    tp_shm_writer_ring_uri(&w, ring, sizeof ring);
    tp_shm_writer_pool_uri(&w, 0, pool, sizeof pool);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return stop();
    for (int i = 0; i < 50 && g_seen.attaches == 0; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        usleep(1000);
    }
    respond_ok_uris(g_seen.corr, ring, pool);
    for (int i = 0; i < 50 && !tp_consumer_is_mapped(c); i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
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

/* wire.md §5.1 steps 3-5 (W-10.1.1.e/f, D-6.b): a stale announce, one older
 * than the consumer's join time and one of a lower epoch are ignored; a fresh
 * announce of a newer epoch remaps. */
static void test_announce_freshness_and_join_time(void)
{
    start(0);
    tp_driver_client_close(g_dc);
    g_dc = NULL;
    static tp_shm_writer_t w5, w6;
    tp_shm_writer_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.base_dir = g_rig_dir;
    wc.ns = "default";
    wc.stream_id = 10000;
    wc.nslots = 64;
    wc.npools = 1;
    wc.pools[0].pool_id = 1;
    wc.pools[0].stride_bytes = 4096;
    wc.now_ns = (uint64_t)tp_clock_monotonic_ns();
    wc.epoch = 5;
    CHECK_EQ_I64(tp_shm_writer_open(&w5, &wc), 0);
    wc.epoch = 6;
    CHECK_EQ_I64(tp_shm_writer_open(&w6, &wc), 0);
    char ring5[4200], pool5[4200], ring6[4200], pool6[4200];
    tp_shm_writer_ring_uri(&w5, ring5, sizeof ring5);
    tp_shm_writer_pool_uri(&w5, 0, pool5, sizeof pool5);
    tp_shm_writer_ring_uri(&w6, ring6, sizeof ring6);
    tp_shm_writer_pool_uri(&w6, 0, pool6, sizeof pool6);
    const int64_t before_join = tp_clock_monotonic_ns();
    usleep(2000);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return stop();
    for (int i = 0; i < 50 && g_seen.attaches == 0; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        usleep(1000);
    }
    respond_ok_uris(g_seen.corr, ring5, pool5);
    for (int i = 0; i < 50 && !tp_consumer_is_mapped(c); i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
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
    tp_shm_writer_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.base_dir = g_rig_dir;
    wc.ns = "default";
    wc.stream_id = 10000;
    wc.nslots = 64;
    wc.npools = 1;
    wc.pools[0].pool_id = 1;
    wc.pools[0].stride_bytes = 4096;
    wc.now_ns = (uint64_t)tp_clock_monotonic_ns();
    wc.epoch = 5;
    CHECK_EQ_I64(tp_shm_writer_open(&w5, &wc), 0);
    wc.epoch = 6;
    CHECK_EQ_I64(tp_shm_writer_open(&w6, &wc), 0);
    char ring5[4200], pool5[4200], ring6[4200], pool6[4200];
    tp_shm_writer_ring_uri(&w5, ring5, sizeof ring5);
    tp_shm_writer_pool_uri(&w5, 0, pool5, sizeof pool5);
    tp_shm_writer_ring_uri(&w6, ring6, sizeof ring6);
    tp_shm_writer_pool_uri(&w6, 0, pool6, sizeof pool6);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (c == NULL) return stop();
    for (int i = 0; i < 50 && g_seen.attaches == 0; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        usleep(1000);
    }
    respond_ok_uris(g_seen.corr, ring5, pool5);
    for (int i = 0; i < 50 && !tp_consumer_is_mapped(c); i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
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
    tp_shm_writer_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.base_dir = g_rig_dir;
    wc.ns = "default";
    wc.stream_id = 10000;
    wc.epoch = 5;
    wc.nslots = 64;
    wc.npools = 1;
    wc.pools[0].pool_id = 1;
    wc.pools[0].stride_bytes = 4096;
    wc.now_ns = (uint64_t)tp_clock_monotonic_ns();
    CHECK_EQ_I64(tp_shm_writer_open(&w, &wc), 0);
    char ring[4200], pool[4200];
    tp_shm_writer_ring_uri(&w, ring, sizeof ring);
    tp_shm_writer_pool_uri(&w, 0, pool, sizeof pool);
    memset(&g_seen, 0, sizeof g_seen);
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, -1), 0);
    if (c == NULL) return stop();
    for (int i = 0; i < 50 && g_seen.attaches == 0; i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        tp_ipc_subscription_poll(g_rig_sub, on_request, NULL, 64);
        usleep(1000);
    }
    respond_ok_uris(g_seen.corr, ring, pool);
    for (int i = 0; i < 50 && !tp_consumer_is_mapped(c); i++) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), NULL, NULL, 8);
        usleep(500);
    }
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
    RUN(test_consumer_checks_announce_after_revocation);
    RUN(test_empty_var_data_is_absent);
    RUN(test_random_control_traffic_never_crashes);
    TP_TEST_END();
}
