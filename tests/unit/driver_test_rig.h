/* Test rig for the driver protocol: a temp TP_DIR, a driver pumped on the
 * test's thread, raw requests encoded with the generated codecs, and every
 * message seen on the control stream recorded as an event.
 *
 * The channel is $TP_TEST_CHANNEL (default tp:ipc), for the driver, the rig
 * and the clients (DRIVER_CONTROL_CHANNEL); on Aeron the driver runs the
 * media driver itself (driver.embedded_media_driver), as tp driver would. */
#ifndef TP_DRIVER_TEST_RIG_H
#define TP_DRIVER_TEST_RIG_H

#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct rig_ev_s {
    char kind; /* A attach response, D detach response, R revoked, N announce, S shutdown */
    int64_t corr;
    int32_t code;
    uint64_t lease, epoch, expiry;
    uint32_t stream, node, nslots, layout, producer, client;
    uint16_t slot_bytes, npools, pool_id;
    uint32_t pool_nslots, stride;
    uint8_t reason, role;
    char msg[1100];
    char ring_uri[600];
    char pool_uri[600];
    uint32_t ctl_id;      /* ConsumerConfig: control stream id */
    char ctl_channel[64]; /* ConsumerConfig: control channel */
} rig_ev_t;

#define RIG_MAX_EV 8192
static rig_ev_t g_ev[RIG_MAX_EV];
static int g_nev;
static char g_rig_dir[256];
static tp_ipc_context_t g_rig_ipc;
static tp_ipc_publication_t *g_rig_pub;
static tp_ipc_subscription_t *g_rig_sub;
static tp_driver_t *g_drv;
static uint8_t g_rig_buf[4096];

static inline void rig_copy(char *dst, size_t cap, const char *s, uint32_t n)
{
    if (n >= cap) n = (uint32_t)cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static inline void rig_on_msg(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)info;
    if (g_nev == RIG_MAX_EV) return;
    rig_ev_t *e = &g_ev[g_nev];
    memset(e, 0, sizeof *e);
    uint32_t n = 0;
    const char *s;
    tp_driver_shm_attach_response_dec_t a;
    tp_driver_shm_detach_response_dec_t d;
    tp_driver_shm_lease_revoked_dec_t r;
    tp_driver_shm_driver_shutdown_dec_t sd;
    tp_control_shm_pool_announce_dec_t an;
    tp_control_consumer_config_dec_t cc;
    tp_control_control_response_dec_t cr;
    if (tp_driver_shm_attach_response_decode(&a, buf, len) == 0) {
        e->kind = 'A';
        e->corr = tp_driver_shm_attach_response_correlation_id(&a);
        e->code = tp_driver_shm_attach_response_code(&a);
        e->lease = tp_driver_shm_attach_response_lease_id(&a);
        e->expiry = tp_driver_shm_attach_response_lease_expiry_timestamp_ns(&a);
        e->stream = tp_driver_shm_attach_response_stream_id(&a);
        e->epoch = tp_driver_shm_attach_response_epoch(&a);
        e->layout = tp_driver_shm_attach_response_layout_version(&a);
        e->nslots = tp_driver_shm_attach_response_header_nslots(&a);
        e->slot_bytes = tp_driver_shm_attach_response_header_slot_bytes(&a);
        e->node = tp_driver_shm_attach_response_node_id(&a);
        e->npools = tp_driver_shm_attach_response_payload_pools_count(&a);
        tp_driver_shm_attach_response_payload_pools_iter_t it;
        tp_driver_shm_attach_response_payload_pools_iter(&a, &it);
        if (tp_driver_shm_attach_response_payload_pools_next(&it) == 1) {
            e->pool_id = tp_driver_shm_attach_response_payload_pools_pool_id(&it);
            e->pool_nslots = tp_driver_shm_attach_response_payload_pools_pool_nslots(&it);
            e->stride = tp_driver_shm_attach_response_payload_pools_stride_bytes(&it);
            s = tp_driver_shm_attach_response_payload_pools_region_uri(&it, &n);
            rig_copy(e->pool_uri, sizeof e->pool_uri, s, n);
        }
        s = tp_driver_shm_attach_response_header_region_uri(&a, &n);
        rig_copy(e->ring_uri, sizeof e->ring_uri, s, n);
        s = tp_driver_shm_attach_response_error_message(&a, &n);
        rig_copy(e->msg, sizeof e->msg, s, n);
    } else if (tp_driver_shm_detach_response_decode(&d, buf, len) == 0) {
        e->kind = 'D';
        e->corr = tp_driver_shm_detach_response_correlation_id(&d);
        e->code = tp_driver_shm_detach_response_code(&d);
        s = tp_driver_shm_detach_response_error_message(&d, &n);
        rig_copy(e->msg, sizeof e->msg, s, n);
    } else if (tp_driver_shm_lease_revoked_decode(&r, buf, len) == 0) {
        e->kind = 'R';
        e->lease = tp_driver_shm_lease_revoked_lease_id(&r);
        e->stream = tp_driver_shm_lease_revoked_stream_id(&r);
        e->client = tp_driver_shm_lease_revoked_client_id(&r);
        e->role = tp_driver_shm_lease_revoked_role(&r);
        e->reason = tp_driver_shm_lease_revoked_reason(&r);
        s = tp_driver_shm_lease_revoked_error_message(&r, &n);
        rig_copy(e->msg, sizeof e->msg, s, n);
    } else if (tp_driver_shm_driver_shutdown_decode(&sd, buf, len) == 0) {
        e->kind = 'S';
        e->reason = tp_driver_shm_driver_shutdown_reason(&sd);
    } else if (tp_control_shm_pool_announce_decode(&an, buf, len) == 0) {
        e->kind = 'N';
        e->stream = tp_control_shm_pool_announce_stream_id(&an);
        e->epoch = tp_control_shm_pool_announce_epoch(&an);
        e->producer = tp_control_shm_pool_announce_producer_id(&an);
        e->nslots = tp_control_shm_pool_announce_header_nslots(&an);
        tp_control_shm_pool_announce_payload_pools_iter_t it;
        tp_control_shm_pool_announce_payload_pools_iter(&an, &it);
        if (tp_control_shm_pool_announce_payload_pools_next(&it) == 1) {
            s = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &n);
            rig_copy(e->pool_uri, sizeof e->pool_uri, s, n);
        }
        s = tp_control_shm_pool_announce_header_region_uri(&an, &n);
        rig_copy(e->ring_uri, sizeof e->ring_uri, s, n);
    } else if (tp_control_consumer_config_decode(&cc, buf, len) == 0) {
        e->kind = 'C';
        e->stream = tp_control_consumer_config_stream_id(&cc);
        e->client = tp_control_consumer_config_consumer_id(&cc);
        e->producer = tp_control_consumer_config_descriptor_stream_id(&cc); /* reused: descriptor stream id */
        s = tp_control_consumer_config_descriptor_channel(&cc, &n);
        rig_copy(e->msg, sizeof e->msg, s, n);
        e->ctl_id = tp_control_consumer_config_control_stream_id(&cc);
        s = tp_control_consumer_config_control_channel(&cc, &n);
        rig_copy(e->ctl_channel, sizeof e->ctl_channel, s, n);
    } else if (tp_control_control_response_decode(&cr, buf, len) == 0) {
        e->kind = 'E'; /* W-P1: correlation = stream << 32 | consumer */
        e->corr = tp_control_control_response_correlation_id(&cr);
        e->stream = (uint32_t)((uint64_t)e->corr >> 32);
        e->client = (uint32_t)e->corr;
        e->code = tp_control_control_response_code(&cr);
        s = tp_control_control_response_error_message(&cr, &n);
        rig_copy(e->msg, sizeof e->msg, s, n);
    } else {
        return; /* requests (ours) and anything else */
    }
    g_nev++;
}

static inline const char *rig_channel(void)
{
    const char *c = getenv("TP_TEST_CHANNEL");
    return c != NULL && c[0] != '\0' ? c : "tp:ipc";
}

static inline int rig_on_aeron(void) { return strncmp(rig_channel(), "aeron:", 6) == 0; }

/* Run the driver and record control traffic for ms milliseconds. */
static inline void rig_pump(int ms)
{
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)ms * 1000000;
    do {
        if (g_drv != NULL) tp_driver_do_work(g_drv, tp_clock_monotonic_ns());
        tp_ipc_subscription_poll(g_rig_sub, rig_on_msg, NULL, 64);
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    } while (tp_clock_monotonic_ns() < end);
}

/* Offer until the rig's publication takes it (15 s at most), pumping the
 * driver meanwhile. tp:ipc takes every offer at once; Aeron refuses while
 * no subscription is connected, while back-pressured and while the rig's
 * client reconnects to a restarted media driver (the offer is what makes
 * it reconnect). */
static inline void rig_offer(const void *buf, size_t len)
{
    const int64_t end = tp_clock_monotonic_ns() + 15000000000LL;
    while (tp_ipc_publication_offer(g_rig_pub, buf, len) <= 0) {
        if (tp_clock_monotonic_ns() > end) {
            fprintf(stderr, "rig: message not taken within 15 s: %s\n", tp_errmsg());
            return;
        }
        rig_pump(1);
    }
}

/* The last request with a correlation id, resent by rig_wait over Aeron:
 * there an offer that was taken can still be lost (a client that has not
 * yet noticed that its media driver was restarted writes into the old
 * driver's log), so the rig retries requests until answered, as the
 * driver client does (docs/spec/driver.md §3.4 step 3); the driver
 * replays its answer to a retransmission. tp:ipc loses nothing: no resend. */
static uint8_t g_rig_req[4096];
static size_t g_rig_req_len;
static int64_t g_rig_req_corr;

static inline void rig_request(int64_t corr, const void *buf, size_t len)
{
    memcpy(g_rig_req, buf, len);
    g_rig_req_len = len;
    g_rig_req_corr = corr;
    rig_offer(buf, len);
}

/* Index of the first event of kind (with corr, unless corr is 0) at or after
 * from, pumping up to ms; -1 if none. */
static inline int rig_wait(char kind, int64_t corr, int from, int ms)
{
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)ms * 1000000;
    int64_t resend = tp_clock_monotonic_ns() + 300000000;
    for (;;) {
        for (int i = from; i < g_nev; i++)
            if (g_ev[i].kind == kind && (corr == 0 || g_ev[i].corr == corr)) return i;
        const int64_t now = tp_clock_monotonic_ns();
        if (now > end) return -1;
        if (rig_on_aeron() && corr != 0 && corr == g_rig_req_corr && now > resend) {
            rig_offer(g_rig_req, g_rig_req_len); /* same bytes, same correlation id */
            resend = now + 300000000;
        }
        rig_pump(2);
    }
}

static int64_t g_rig_corr = 1000;

/* An attach request with the caller's correlation id. */
static inline void rig_attach_corr(int64_t corr, uint32_t stream, uint32_t client, uint8_t role, uint32_t layout, uint8_t mode,
                                   uint8_t huge, uint32_t node)
{
    tp_driver_shm_attach_request_enc_t e;
    tp_driver_shm_attach_request_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_attach_request_set_correlation_id(&e, corr);
    tp_driver_shm_attach_request_set_stream_id(&e, stream);
    tp_driver_shm_attach_request_set_client_id(&e, client);
    tp_driver_shm_attach_request_set_role(&e, role);
    tp_driver_shm_attach_request_set_expected_layout_version(&e, layout);
    tp_driver_shm_attach_request_set_publish_mode(&e, mode);
    tp_driver_shm_attach_request_set_require_hugepages(&e, huge);
    tp_driver_shm_attach_request_set_desired_node_id(&e, node);
    const long n = tp_driver_shm_attach_request_encode_end(&e);
    rig_request(corr, g_rig_buf, (size_t)n);
}

static inline int64_t rig_attach(uint32_t stream, uint32_t client, uint8_t role, uint32_t layout, uint8_t mode, uint8_t huge,
                                 uint32_t node)
{
    const int64_t corr = ++g_rig_corr;
    rig_attach_corr(corr, stream, client, role, layout, mode, huge, node);
    return corr;
}

/* Attach and wait for the answer; the event index or -1. */
static inline int rig_attach_wait(uint32_t stream, uint32_t client, uint8_t role)
{
    const int64_t corr = rig_attach(stream, client, role, 1, 1, 0, 0xFFFFFFFFu);
    return rig_wait('A', corr, 0, 2000);
}

static inline int64_t rig_detach(uint64_t lease, uint32_t stream, uint32_t client, uint8_t role)
{
    const int64_t corr = ++g_rig_corr;
    tp_driver_shm_detach_request_enc_t e;
    tp_driver_shm_detach_request_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_detach_request_set_correlation_id(&e, corr);
    tp_driver_shm_detach_request_set_lease_id(&e, lease);
    tp_driver_shm_detach_request_set_stream_id(&e, stream);
    tp_driver_shm_detach_request_set_client_id(&e, client);
    tp_driver_shm_detach_request_set_role(&e, role);
    const long n = tp_driver_shm_detach_request_encode_end(&e);
    rig_request(corr, g_rig_buf, (size_t)n);
    return corr;
}

static inline void rig_keepalive(uint64_t lease, uint32_t stream, uint32_t client, uint8_t role)
{
    tp_driver_shm_lease_keepalive_enc_t e;
    tp_driver_shm_lease_keepalive_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_lease_keepalive_set_lease_id(&e, lease);
    tp_driver_shm_lease_keepalive_set_stream_id(&e, stream);
    tp_driver_shm_lease_keepalive_set_client_id(&e, client);
    tp_driver_shm_lease_keepalive_set_role(&e, role);
    tp_driver_shm_lease_keepalive_set_client_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    const long n = tp_driver_shm_lease_keepalive_encode_end(&e);
    rig_offer(g_rig_buf, (size_t)n);
}

/* ConsumerHello asking for a per-consumer descriptor and/or control stream
 * (an empty channel: that kind not requested). */
static inline void rig_hello2(uint32_t stream, uint32_t consumer, const char *channel, uint32_t desc_id,
                              const char *ctl_channel, uint32_t ctl_id)
{
    tp_control_consumer_hello_enc_t e;
    tp_control_consumer_hello_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_control_consumer_hello_set_stream_id(&e, stream);
    tp_control_consumer_hello_set_consumer_id(&e, consumer);
    tp_control_consumer_hello_set_supports_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_hello_set_supports_progress(&e, TP_CONTROL_BOOL_FALSE);
    tp_control_consumer_hello_set_mode(&e, TP_CONTROL_MODE_STREAM);
    tp_control_consumer_hello_set_expected_layout_version(&e, 1);
    tp_control_consumer_hello_set_progress_bytes_delta(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_interval_us(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_progress_major_delta_units(&e, 0xFFFFFFFFu);
    tp_control_consumer_hello_set_descriptor_stream_id(&e, desc_id);
    tp_control_consumer_hello_set_control_stream_id(&e, ctl_id);
    tp_control_consumer_hello_put_descriptor_channel(&e, channel, strlen(channel));
    tp_control_consumer_hello_put_control_channel(&e, ctl_channel, strlen(ctl_channel));
    const long n = tp_control_consumer_hello_encode_end(&e);
    rig_offer(g_rig_buf, (size_t)n);
}

static inline void rig_hello(uint32_t stream, uint32_t consumer, const char *channel, uint32_t desc_id)
{
    rig_hello2(stream, consumer, channel, desc_id, "", 0);
}

static inline void rig_shutdown_request(const char *token, uint8_t reason)
{
    tp_driver_shm_driver_shutdown_request_enc_t e;
    tp_driver_shm_driver_shutdown_request_encode_begin(&e, g_rig_buf, sizeof g_rig_buf);
    tp_driver_shm_driver_shutdown_request_set_correlation_id(&e, ++g_rig_corr);
    tp_driver_shm_driver_shutdown_request_set_reason(&e, reason);
    tp_driver_shm_driver_shutdown_request_put_token(&e, token, strlen(token));
    tp_driver_shm_driver_shutdown_request_put_error_message(&e, "", 0);
    const long n = tp_driver_shm_driver_shutdown_request_encode_end(&e);
    rig_offer(g_rig_buf, (size_t)n);
}

static inline int rig_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static tp_driver_config_t g_rig_cfg;

/* C0 of docs/spec/driver.md §6 with a small profile and short timers. */
static tp_driver_config_t *rig_config(const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[policies]\nlease_keepalive_interval_ms = 100\nannounce_period_ms = 100\nnode_id_reuse_cooldown_ms = 1000\n"
             "shutdown_timeout_ms = 300\n%s\n"
             "[profiles.camera]\nheader_nslots = 64\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
             "[streams.cam1]\nstream_id = 10000\nprofile = \"camera\"\n",
             extra != NULL ? extra : "");
    tp_driver_config_defaults(&g_rig_cfg);
    if (tp_driver_config_parse(&g_rig_cfg, text, strlen(text)) != 0) {
        fprintf(stderr, "rig config: %s\n", tp_errmsg());
        exit(1);
    }
    snprintf(g_rig_cfg.base_dir, sizeof g_rig_cfg.base_dir, "%s", g_rig_dir);
    snprintf(g_rig_cfg.control_channel, sizeof g_rig_cfg.control_channel, "%s", rig_channel());
    snprintf(g_rig_cfg.qos_channel, sizeof g_rig_cfg.qos_channel, "%s", rig_channel());
    g_rig_cfg.embedded_media_driver = rig_on_aeron();
    return &g_rig_cfg;
}

static inline void rig_open_transport(void)
{
    tp_ipc_context_init(&g_rig_ipc);
    g_rig_ipc.base_dir = g_rig_dir;
    if (tp_ipc_publication_open(&g_rig_pub, &g_rig_ipc, rig_channel(), 1000) != 0 ||
        tp_ipc_subscription_open(&g_rig_sub, &g_rig_ipc, rig_channel(), 1000) != 0) {
        fprintf(stderr, "rig transport: %s\n", tp_errmsg());
        exit(1);
    }
    /* Aeron drops what is offered before a subscription is connected: wait
     * until the rig's subscription sees the driver's publication and the
     * rig's own (connected to the driver's subscription in the same step). */
    const size_t images = g_drv != NULL ? 2 : 1; /* no driver: the rig plays it */
    for (int i = 0; rig_on_aeron() && i < 5000 && tp_ipc_subscription_image_count(g_rig_sub) < images; i++) {
        const struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* New temp dir, driver from rig_config(extra), transport. */
static inline void rig_setup(const char *extra)
{
    snprintf(g_rig_dir, sizeof g_rig_dir, "/dev/shm/tp-drvproto-XXXXXX");
    if (mkdtemp(g_rig_dir) == NULL) exit(1);
    chmod(g_rig_dir, 0770);
    g_nev = 0;
    if (rig_on_aeron()) {
        unsetenv("AERON_DIR"); /* the driver's media driver goes under this test's dir */
        setenv("DRIVER_CONTROL_CHANNEL", rig_channel(), 1);
        setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
        /* tests restart the driver, and with it the media driver: the
         * rig's client notices within a second and reconnects */
        setenv("AERON_DRIVER_TIMEOUT", "1000", 0); /* unless the test chose (no restarts: longer) */
    }
    if (tp_driver_open(&g_drv, rig_config(extra), NULL) != 0) {
        fprintf(stderr, "rig driver: %s\n", tp_errmsg());
        exit(1);
    }
    rig_open_transport();
}

static inline void rig_teardown(void)
{
    /* the rig's transport first: on Aeron the driver takes the media driver with it */
    tp_ipc_publication_close(g_rig_pub);
    tp_ipc_subscription_close(g_rig_sub);
    g_rig_pub = NULL;
    g_rig_sub = NULL;
    tp_driver_close(g_drv, 0, NULL);
    g_drv = NULL;
    nftw(g_rig_dir, rig_rm, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
