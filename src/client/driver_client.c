/* Driver client state machine (docs/spec/driver.md §3.4-§3.10). */
#include "tensorpool/driver_client.h"
#include "../ipc/ipc_doorbell.h"

#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_layout.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MSG_MAX 1024
#define U32_NULL UINT32_C(0xFFFFFFFF)
#define U64_NULL UINT64_C(0xFFFFFFFFFFFFFFFF)

struct tp_driver_client_s {
    tp_client_context_t ctx;
    tp_driver_client_handlers_t h;
    tp_ipc_context_t ipc;
    tp_ipc_publication_t *ctl_pub;
    tp_ipc_subscription_t *ctl_sub;
    tp_ipc_subscription_t *ann_sub; /* NULL when announces share the control stream */
    tp_driver_client_state_t state;
    uint32_t want_stream;
    uint8_t role;
    uint8_t publish_mode;
    uint32_t client_id;
    int auto_id;
    int64_t corr;          /* outstanding attach/detach */
    int64_t accepted_corr; /* D-B.1.d */
    int64_t attach_started_ns, next_retransmit_ns, backoff_until_ns, detach_deadline_ns;
    unsigned backoff_step;
    int auto_id_retry;     /* next attempt after backoff keeps the (new) id */
    int64_t next_keepalive_ns, deadline_ns; /* deadline 0: none */
    int64_t keepalive_period_ns;            /* configured interval, shortened to fit the granted expiry */
    int64_t last_announce_ns;
    int64_t now_ns;
    int32_t last_code;
    char last_msg[MSG_MAX + 1];
    tp_driver_client_stats_t stats;
    uint8_t req[64];
    size_t req_len;
    uint8_t tx[128];
    tp_lease_t lease;
    tp_lease_t pending;
    uint32_t own_uid;     /* control messages are taken only from logs this uid owns */
    uint64_t driver_pub;  /* publication of the accepted attach answer: the driver's control */
    int32_t driver_pid;   /* ... and its process, whose announce publication may be another */
};

/* ---- identities (§3.9, D-B.1.a-c) ---- */

static uint64_t seed64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) v = (uint64_t)tp_clock_monotonic_ns() * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    return v;
}

static _Atomic uint64_t g_corr;
static _Atomic uint32_t g_client;
static atomic_flag g_seeded = ATOMIC_FLAG_INIT;
static _Atomic int g_seed_done;

static void seed_once(void)
{
    if (!atomic_flag_test_and_set(&g_seeded)) {
        atomic_store(&g_corr, seed64() & INT64_MAX);
        atomic_store(&g_client, (uint32_t)seed64());
        atomic_store(&g_seed_done, 1);
    }
    while (!atomic_load(&g_seed_done)) {
    }
}

int64_t tp_correlation_id_next(void)
{
    seed_once();
    for (;;) {
        const int64_t v = (int64_t)(atomic_fetch_add(&g_corr, 1) & INT64_MAX);
        if (v != 0) return v; /* §3.9: never 0 */
    }
}

uint32_t tp_client_id_next(void)
{
    seed_once();
    for (;;) {
        const uint32_t v = atomic_fetch_add(&g_client, 1);
        if (v != 0 && v != U32_NULL) return v; /* D-B.2.a: 0 is never sent */
    }
}

/* ---- sending ---- */

static void encode_attach(tp_driver_client_t *dc)
{
    tp_driver_shm_attach_request_enc_t e;
    tp_driver_shm_attach_request_encode_begin(&e, dc->req, sizeof dc->req);
    tp_driver_shm_attach_request_set_correlation_id(&e, dc->corr);
    tp_driver_shm_attach_request_set_stream_id(&e, dc->want_stream);
    tp_driver_shm_attach_request_set_client_id(&e, dc->client_id);
    tp_driver_shm_attach_request_set_role(&e, dc->role);
    tp_driver_shm_attach_request_set_expected_layout_version(&e, TP_SHM_LAYOUT_VERSION);
    tp_driver_shm_attach_request_set_publish_mode(&e, dc->publish_mode);
    tp_driver_shm_attach_request_set_require_hugepages(&e, TP_DRIVER_HUGEPAGES_POLICY_UNSPECIFIED);
    tp_driver_shm_attach_request_set_desired_node_id(&e, U32_NULL);
    const long n = tp_driver_shm_attach_request_encode_end(&e);
    dc->req_len = n > 0 ? (size_t)n : 0;
}

static void start_attach(tp_driver_client_t *dc)
{
    dc->corr = tp_correlation_id_next(); /* a new attempt takes a new id (§3.9) */
    encode_attach(dc);
    dc->state = TP_DC_ATTACHING;
    dc->attach_started_ns = dc->now_ns;
    dc->next_retransmit_ns = dc->now_ns; /* send on this cycle */
}

static void enter_backoff(tp_driver_client_t *dc)
{
    /* 100 ms x 2^min(n,5), capped, with jitter (§3.2) */
    const unsigned n = dc->backoff_step < 5 ? dc->backoff_step : 5;
    int64_t wait = dc->ctx.backoff_min_ns << n;
    if (wait > dc->ctx.backoff_max_ns) wait = dc->ctx.backoff_max_ns;
    wait += (int64_t)(seed64() % (uint64_t)(wait / 4 + 1));
    dc->backoff_step++;
    dc->state = TP_DC_BACKOFF;
    dc->backoff_until_ns = dc->now_ns + wait;
}

static void lose_lease(tp_driver_client_t *dc, const char *why)
{
    if (dc->state != TP_DC_ATTACHED && dc->state != TP_DC_DETACHING) return;
    dc->lease.lease_id = 0;
    dc->stats.lost++;
    dc->h.on_lease_lost(dc->h.clientd, why);
    enter_backoff(dc);
}

static int send_detach(tp_driver_client_t *dc)
{
    tp_driver_shm_detach_request_enc_t e;
    tp_driver_shm_detach_request_encode_begin(&e, dc->tx, sizeof dc->tx);
    tp_driver_shm_detach_request_set_correlation_id(&e, dc->corr);
    tp_driver_shm_detach_request_set_lease_id(&e, dc->lease.lease_id);
    tp_driver_shm_detach_request_set_stream_id(&e, dc->lease.stream_id);
    tp_driver_shm_detach_request_set_client_id(&e, dc->client_id);
    tp_driver_shm_detach_request_set_role(&e, dc->role);
    const long n = tp_driver_shm_detach_request_encode_end(&e);
    return n > 0 && tp_ipc_publication_offer(dc->ctl_pub, dc->tx, (size_t)n) > 0 ? 0 : -1;
}

/* ---- receiving ---- */

static int blank(const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

static int copy_uri(char *dst, size_t cap, const char *s, uint32_t n)
{
    tp_shm_uri_t uri;
    if (n == 0 || blank(s, n)) return tp_err_set(TP_ERR_MALFORMED, "empty or blank region URI (D-4.2.o)");
    if (n >= cap) return tp_err_set(TP_ERR_MALFORMED, "region URI too long");
    if (tp_shm_uri_parse(s, n, &uri) != 0) return tp_err_wrap("region URI (D-4.2.s)");
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

/* §3.5 step 7: fill dc->pending from an OK, or -1 (protocol error). */
static int validate_ok(tp_driver_client_t *dc, const tp_driver_shm_attach_response_dec_t *m)
{
    tp_lease_t *l = &dc->pending;
    if (!tp_driver_shm_attach_response_lease_id_is_present(m) || !tp_driver_shm_attach_response_stream_id_is_present(m) ||
        !tp_driver_shm_attach_response_epoch_is_present(m) || !tp_driver_shm_attach_response_layout_version_is_present(m) ||
        !tp_driver_shm_attach_response_header_nslots_is_present(m) ||
        !tp_driver_shm_attach_response_header_slot_bytes_is_present(m))
        return tp_err_set(TP_ERR_MALFORMED, "OK with a null required field (D-4.2.n)");
    l->lease_id = tp_driver_shm_attach_response_lease_id(m);
    l->stream_id = tp_driver_shm_attach_response_stream_id(m);
    l->epoch = tp_driver_shm_attach_response_epoch(m);
    l->layout_version = tp_driver_shm_attach_response_layout_version(m);
    l->header_nslots = tp_driver_shm_attach_response_header_nslots(m);
    l->node_id = tp_driver_shm_attach_response_node_id(m);
    l->expiry_ns = tp_driver_shm_attach_response_lease_expiry_timestamp_ns(m);
    l->client_id = dc->client_id;
    l->role = dc->role;
    if (tp_driver_shm_attach_response_header_slot_bytes(m) != TP_SHM_SLOT_BYTES)
        return tp_err_set(TP_ERR_MALFORMED, "headerSlotBytes %u is not 256 (D-4.2.p)", tp_driver_shm_attach_response_header_slot_bytes(m));
    if (!is_pow2(l->header_nslots)) return tp_err_set(TP_ERR_MALFORMED, "headerNslots %u is not a power of two", l->header_nslots);
    if (l->layout_version != TP_SHM_LAYOUT_VERSION) return tp_err_set(TP_ERR_MALFORMED, "layoutVersion %u is not 1", l->layout_version);
    if (dc->want_stream != 0 && l->stream_id != dc->want_stream)
        return tp_err_set(TP_ERR_MALFORMED, "streamId %u does not echo the request's %u", l->stream_id, dc->want_stream);
    const uint16_t count = tp_driver_shm_attach_response_payload_pools_count(m);
    if (count == 0 || count > TP_SHM_MAX_POOLS)
        return tp_err_set(TP_ERR_MALFORMED, "%u payload pools (need 1..%d, D-4.2.p)", count, TP_SHM_MAX_POOLS);
    tp_driver_shm_attach_response_payload_pools_iter_t it;
    tp_driver_shm_attach_response_payload_pools_iter(m, &it);
    l->npools = 0;
    while (tp_driver_shm_attach_response_payload_pools_next(&it) == 1) {
        const unsigned i = l->npools++;
        l->pool_id[i] = tp_driver_shm_attach_response_payload_pools_pool_id(&it);
        l->stride_bytes[i] = tp_driver_shm_attach_response_payload_pools_stride_bytes(&it);
        if (tp_driver_shm_attach_response_payload_pools_pool_nslots(&it) != l->header_nslots)
            return tp_err_set(TP_ERR_MALFORMED, "pool %u: poolNslots differs from headerNslots (D-4.2.q)", l->pool_id[i]);
        if (l->stride_bytes[i] == 0 || l->stride_bytes[i] % 64 != 0)
            return tp_err_set(TP_ERR_MALFORMED, "pool %u: stride %u is not a non-zero multiple of 64", l->pool_id[i], l->stride_bytes[i]);
        uint32_t n = 0;
        const char *u = tp_driver_shm_attach_response_payload_pools_region_uri(&it, &n);
        if (copy_uri(l->pool_uri[i], sizeof l->pool_uri[i], u, n) != 0) return tp_err_wrap("pool %u", l->pool_id[i]);
    }
    if (l->npools != count) return tp_err_set(TP_ERR_MALFORMED, "payload pool group is cut off");
    uint32_t n = 0;
    const char *u = tp_driver_shm_attach_response_header_region_uri(m, &n);
    if (copy_uri(l->ring_uri, sizeof l->ring_uri, u, n) != 0) return tp_err_wrap("header ring");
    return 0;
}

static void on_attach_response(tp_driver_client_t *dc, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_driver_shm_attach_response_dec_t m;
    if (tp_driver_shm_attach_response_decode(&m, buf, len) != 0) {
        /* §3.5 steps 2-3: a newer version is dropped; a malformed answer to our
         * outstanding request is a protocol error, anything else is not ours */
        if (tp_errcode() == TP_ERR_UNSUPPORTED || dc->state != TP_DC_ATTACHING || len < 16) return;
        tp_sbe_dec_t raw = {.buf = buf, .len = len, .root = 8};
        m.d = raw;
        if (tp_driver_shm_attach_response_correlation_id(&m) != dc->corr) return;
        dc->stats.protocol_errors++;
        enter_backoff(dc);
        return;
    }
    const int64_t corr = tp_driver_shm_attach_response_correlation_id(&m);
    if (dc->state != TP_DC_ATTACHING || corr != dc->corr || corr == dc->accepted_corr) return; /* D-B.1.d/e, scenario 24/25 */
    const int32_t code = tp_driver_shm_attach_response_code(&m);
    if (code != TP_DRIVER_RESPONSE_CODE_OK) {
        uint32_t n = 0;
        const char *msg = tp_driver_shm_attach_response_error_message(&m, &n);
        if (n > MSG_MAX) n = MSG_MAX; /* truncate locally, not an error */
        memcpy(dc->last_msg, msg, n);
        dc->last_msg[n] = '\0';
        dc->last_code = code;
        dc->stats.refused++;
        if (dc->auto_id && code == TP_DRIVER_RESPONSE_CODE_REJECTED && strcmp(dc->last_msg, "client_id already attached") == 0) {
            uint32_t next;
            do next = tp_client_id_next(); while (next == dc->client_id);
            dc->client_id = next; /* D-B.2.b: new id, new corr after one backoff step */
        }
        enter_backoff(dc);
        return;
    }
    if (validate_ok(dc, &m) != 0) {
        dc->stats.protocol_errors++;
        snprintf(dc->last_msg, sizeof dc->last_msg, "protocol error: %s", tp_errmsg());
        dc->last_code = -1;
        enter_backoff(dc); /* D-4.7a.a: fail closed, nothing mapped */
        return;
    }
    if (dc->h.on_attached(dc->h.clientd, &dc->pending) != 0) {
        dc->stats.protocol_errors++;
        snprintf(dc->last_msg, sizeof dc->last_msg, "mapping failed: %s", tp_errmsg());
        dc->last_code = -1;
        dc->lease = dc->pending;
        dc->corr = tp_correlation_id_next();
        send_detach(dc); /* §3.5 step 8: best effort; otherwise it expires */
        dc->lease.lease_id = 0;
        enter_backoff(dc);
        return;
    }
    dc->lease = dc->pending;
    dc->accepted_corr = corr;
    dc->driver_pub = info->publisher_id;
    dc->driver_pid = info->publisher_pid;
    dc->state = TP_DC_ATTACHED;
    dc->backoff_step = 0;
    dc->stats.attached++;
    dc->last_announce_ns = dc->now_ns;
    /* D-4.4.b: a keepalive must reach the driver before the granted expiry,
     * even if the configured interval (out-of-band, D-4.4.f) is longer than
     * the driver's lease time: keep alive at least 3 times per granted TTL */
    dc->keepalive_period_ns = dc->ctx.keepalive_interval_ns;
    if (dc->lease.expiry_ns != U64_NULL && (int64_t)dc->lease.expiry_ns > dc->now_ns) {
        const int64_t third = ((int64_t)dc->lease.expiry_ns - dc->now_ns) / 3;
        if (third < dc->keepalive_period_ns) dc->keepalive_period_ns = third > 1000000 ? third : 1000000;
    }
    dc->next_keepalive_ns = dc->now_ns + dc->keepalive_period_ns;
    /* D-4.2.r: the expiry is a hard deadline; absent, only sends and revocations count */
    dc->deadline_ns = dc->lease.expiry_ns != U64_NULL ? (int64_t)dc->lease.expiry_ns : 0;
}

static void on_revoked(tp_driver_client_t *dc, const uint8_t *buf, size_t len)
{
    tp_driver_shm_lease_revoked_dec_t m;
    if (tp_driver_shm_lease_revoked_decode(&m, buf, len) != 0) return; /* D-4.9.j: unknown reason/role */
    const uint64_t lease = tp_driver_shm_lease_revoked_lease_id(&m);
    const uint32_t stream = tp_driver_shm_lease_revoked_stream_id(&m);
    const uint8_t role = tp_driver_shm_lease_revoked_role(&m);
    if (dc->state == TP_DC_ATTACHED && lease == dc->lease.lease_id) {
        if (stream != dc->lease.stream_id || role != dc->role) return; /* [R] 20 sanity check */
        lose_lease(dc, "lease revoked by the driver"); /* D-4.9.f; a duplicate finds no lease (D-4.9.n) */
        return;
    }
    if (dc->state == TP_DC_ATTACHED && stream == dc->lease.stream_id && dc->h.on_other_revoked != NULL)
        dc->h.on_other_revoked(dc->h.clientd, lease, tp_driver_shm_lease_revoked_client_id(&m), role,
                               tp_driver_shm_lease_revoked_reason(&m));
}

static void on_shutdown(tp_driver_client_t *dc, const uint8_t *buf, size_t len)
{
    tp_driver_shm_driver_shutdown_dec_t m;
    if (tp_driver_shm_driver_shutdown_decode(&m, buf, len) != 0) return; /* [R] 23 */
    lose_lease(dc, "driver shut down"); /* D-4.13.d */
}

static void on_announce_seen(tp_driver_client_t *dc, const uint8_t *buf, size_t len)
{
    tp_control_shm_pool_announce_dec_t m;
    if (dc->state != TP_DC_ATTACHED || tp_control_shm_pool_announce_decode(&m, buf, len) != 0) return;
    if (tp_control_shm_pool_announce_stream_id(&m) != dc->lease.stream_id) return;
    dc->last_announce_ns = dc->now_ns;
    /* A producer whose stream moved to a newer epoch has lost its lease, even
     * if the revocation was lost (the control plane is soft state). */
    if (dc->role == TP_ROLE_PRODUCER && tp_control_shm_pool_announce_epoch(&m) > dc->lease.epoch)
        lose_lease(dc, "stream moved to a newer epoch");
}

/* While attached, the lease's notices must come from the driver that granted
 * it: a revocation or shutdown from any other publication, or an announce
 * from any other process, is refused and counted (docs/threat-model.md). */
static int from_driver(tp_driver_client_t *dc, const tp_ipc_msg_info_t *info, int same_publication)
{
    if (dc->state != TP_DC_ATTACHED) return 1;
    if (same_publication ? info->publisher_id == dc->driver_pub : info->publisher_pid == dc->driver_pid) return 1;
    dc->stats.refused_not_driver++;
    /* Another process announces: if ours is gone, a restarted driver is
     * announcing, and the lease it knows nothing of is over (control path:
     * one kill(0) per such announce). */
    if (!same_publication && kill(dc->driver_pid, 0) != 0 && errno == ESRCH)
        lose_lease(dc, "the driver that granted the lease is gone");
    return 0;
}

static void on_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_driver_client_t *dc = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0) return;
    if (info->publisher_uid != dc->own_uid) { /* another user's log in our directory */
        dc->stats.refused_foreign++;
        return;
    }
    if (h.schema_id == TP_DRIVER_SCHEMA_ID) { /* dispatch on the pair (§3.1, D-4.4a.c) */
        switch (h.template_id) {
        case TP_DRIVER_SHM_ATTACH_RESPONSE_TEMPLATE_ID: on_attach_response(dc, buf, len, info); break;
        case TP_DRIVER_SHM_DETACH_RESPONSE_TEMPLATE_ID: {
            tp_driver_shm_detach_response_dec_t m;
            if (dc->state == TP_DC_DETACHING && tp_driver_shm_detach_response_decode(&m, buf, len) == 0 &&
                tp_driver_shm_detach_response_correlation_id(&m) == dc->corr)
                dc->state = TP_DC_UNATTACHED;
            break;
        }
        case TP_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID:
            if (from_driver(dc, info, 1)) on_revoked(dc, buf, len);
            break;
        case TP_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID:
            if (from_driver(dc, info, 1)) on_shutdown(dc, buf, len);
            break;
        default: break;
        }
        return;
    }
    if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID) {
        if (!from_driver(dc, info, 0)) return; /* neither liveness nor a mapping from it */
        on_announce_seen(dc, buf, len);
    }
    if (dc->h.on_message != NULL) dc->h.on_message(dc->h.clientd, buf, len);
}

/* ---- duty cycle ---- */

static int send_keepalive(tp_driver_client_t *dc)
{
    tp_driver_shm_lease_keepalive_enc_t e;
    tp_driver_shm_lease_keepalive_encode_begin(&e, dc->tx, sizeof dc->tx);
    tp_driver_shm_lease_keepalive_set_lease_id(&e, dc->lease.lease_id);
    tp_driver_shm_lease_keepalive_set_stream_id(&e, dc->lease.stream_id);
    tp_driver_shm_lease_keepalive_set_client_id(&e, dc->client_id);
    tp_driver_shm_lease_keepalive_set_role(&e, dc->role);
    tp_driver_shm_lease_keepalive_set_client_timestamp_ns(&e, (uint64_t)dc->now_ns);
    const long n = tp_driver_shm_lease_keepalive_encode_end(&e);
    return n > 0 && tp_ipc_publication_offer(dc->ctl_pub, dc->tx, (size_t)n) > 0 ? 0 : -1;
}

int tp_driver_client_do_work(tp_driver_client_t *dc, int64_t now_ns)
{
    if (dc == NULL || dc->state == TP_DC_CLOSED) return tp_err_set(TP_ERR_STATE, "driver client closed");
    dc->now_ns = now_ns;
    int work = 0;
    int n = tp_ipc_subscription_poll(dc->ctl_sub, on_control, dc, 16);
    if (n > 0) work += n;
    if (dc->ann_sub != NULL && (n = tp_ipc_subscription_poll(dc->ann_sub, on_control, dc, 16)) > 0) work += n;
    switch (dc->state) {
    case TP_DC_ATTACHING:
        if (now_ns - dc->attach_started_ns >= dc->ctx.attach_timeout_ns) { /* D-4.2.f */
            enter_backoff(dc);
        } else if (now_ns >= dc->next_retransmit_ns) { /* same bytes, same corr (§3.4 step 3) */
            /* Not taken (Aeron: not connected yet, back-pressured, media
             * driver reconnecting): try again on the next cycle instead of
             * a retransmit period later. */
            if (dc->req_len > 0 && tp_ipc_publication_offer(dc->ctl_pub, dc->req, dc->req_len) > 0)
                dc->next_retransmit_ns = now_ns + dc->ctx.attach_retransmit_ns;
            work++;
        }
        break;
    case TP_DC_BACKOFF:
        if (now_ns >= dc->backoff_until_ns) {
            start_attach(dc);
            work++;
        }
        break;
    case TP_DC_ATTACHED:
        if (now_ns >= dc->next_keepalive_ns) {
            if (send_keepalive(dc) != 0) { /* D-4.4.g */
                lose_lease(dc, "keepalive could not be sent");
                break;
            }
            dc->stats.keepalives++;
            const int64_t ext = now_ns + dc->keepalive_period_ns * (int64_t)dc->ctx.expiry_grace_intervals;
            if (dc->deadline_ns != 0 && ext > dc->deadline_ns) dc->deadline_ns = ext; /* [R] 9 */
            dc->next_keepalive_ns = now_ns + dc->keepalive_period_ns;
            work++;
        }
        if (dc->deadline_ns != 0 && now_ns >= dc->deadline_ns) {
            lose_lease(dc, "lease deadline passed"); /* D-4.4.b */
        } else if (now_ns - dc->last_announce_ns > 3 * dc->ctx.announce_period_ns) {
            lose_lease(dc, "no announce from the driver for 3 periods"); /* D-4.13.e, §3.12 */
        }
        break;
    case TP_DC_DETACHING:
        if (now_ns >= dc->detach_deadline_ns) dc->state = TP_DC_UNATTACHED;
        break;
    default:
        break;
    }
    return work;
}

/* ---- life cycle ---- */

int tp_driver_client_open(tp_driver_client_t **out, const tp_client_context_t *ctx, uint32_t stream_id, uint8_t role,
                          uint8_t publish_mode, const tp_driver_client_handlers_t *handlers)
{
    *out = NULL;
    if (ctx == NULL || handlers == NULL || handlers->on_attached == NULL || handlers->on_lease_lost == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "driver client: context and on_attached/on_lease_lost are required");
    if (role != TP_ROLE_PRODUCER && role != TP_ROLE_CONSUMER) return tp_err_set(TP_ERR_INVALID_ARG, "driver client: role %u", role);
    if (publish_mode != 1 && publish_mode != 2) return tp_err_set(TP_ERR_INVALID_ARG, "driver client: publish mode %u", publish_mode);
    tp_driver_client_t *dc = calloc(1, sizeof *dc);
    if (dc == NULL) return tp_err_set(TP_ERR_CAPACITY, "driver client: out of memory");
    dc->ctx = *ctx;
    dc->h = *handlers;
    dc->want_stream = stream_id;
    dc->role = role;
    dc->publish_mode = publish_mode;
    dc->auto_id = ctx->client_id == 0;
    dc->client_id = dc->auto_id ? tp_client_id_next() : ctx->client_id;
    dc->last_code = -1;
    dc->own_uid = (uint32_t)geteuid();
    tp_ipc_context_init(&dc->ipc);
    dc->ipc.base_dir = dc->ctx.base_dir;
    dc->ipc.namespace_name = dc->ctx.ns;
    const int32_t ann = ctx->announce_stream_id != 0 ? ctx->announce_stream_id : ctx->control_stream_id;
    /* our requests (attach, keepalive, detach: a few a second) wake a driver
     * sleeping on the control stream (src/ipc/ipc_doorbell.h) */
    char buf[sizeof dc->ctx.channel + 16];
    const char *to_driver = tp_ipc_waking_channel(buf, sizeof buf, dc->ctx.channel);
    if (tp_ipc_subscription_open(&dc->ctl_sub, &dc->ipc, dc->ctx.channel, ctx->control_stream_id) != 0 ||
        tp_ipc_publication_open(&dc->ctl_pub, &dc->ipc, to_driver, ctx->control_stream_id) != 0 ||
        (ann != ctx->control_stream_id && tp_ipc_subscription_open(&dc->ann_sub, &dc->ipc, dc->ctx.channel, ann) != 0)) {
        tp_err_wrap("driver client");
        tp_ipc_subscription_close(dc->ann_sub);
        tp_ipc_publication_close(dc->ctl_pub);
        tp_ipc_subscription_close(dc->ctl_sub);
        free(dc);
        return -1;
    }
    dc->now_ns = tp_clock_monotonic_ns();
    start_attach(dc);
    *out = dc;
    return 0;
}

void tp_driver_client_reattach(tp_driver_client_t *dc, const char *why)
{
    if (dc->state != TP_DC_ATTACHED) return;
    dc->corr = tp_correlation_id_next();
    send_detach(dc); /* best effort: otherwise the lease simply expires */
    lose_lease(dc, why);
}

tp_driver_client_state_t tp_driver_client_state(const tp_driver_client_t *dc) { return dc->state; }

const tp_lease_t *tp_driver_client_lease(const tp_driver_client_t *dc)
{
    return dc->state == TP_DC_ATTACHED ? &dc->lease : NULL;
}

uint32_t tp_driver_client_id(const tp_driver_client_t *dc) { return dc->client_id; }

int32_t tp_driver_client_last_code(const tp_driver_client_t *dc, const char **message)
{
    if (message != NULL) *message = dc->last_msg;
    return dc->last_code;
}

void tp_driver_client_stats(const tp_driver_client_t *dc, tp_driver_client_stats_t *out)
{
    *out = dc->stats;
    out->control_loss = (dc->ctl_sub != NULL ? tp_ipc_subscription_loss_count(dc->ctl_sub) : 0) +
                        (dc->ann_sub != NULL ? tp_ipc_subscription_loss_count(dc->ann_sub) : 0);
}

void tp_driver_client_close(tp_driver_client_t *dc)
{
    if (dc == NULL) return;
    if (dc->state == TP_DC_ATTACHED) {
        dc->h.on_lease_lost(dc->h.clientd, "closing"); /* stop using regions as soon as the detach goes out (§3.7) */
        dc->corr = tp_correlation_id_next();
        if (send_detach(dc) == 0) {
            dc->state = TP_DC_DETACHING;
            dc->now_ns = tp_clock_monotonic_ns();
            dc->detach_deadline_ns = dc->now_ns + dc->ctx.keepalive_interval_ns; /* [R] §3.2 */
            while (dc->state == TP_DC_DETACHING) {
                tp_driver_client_do_work(dc, tp_clock_monotonic_ns());
                if (dc->state == TP_DC_DETACHING) usleep(1000);
            }
        }
    }
    dc->state = TP_DC_CLOSED;
    tp_ipc_subscription_close(dc->ann_sub);
    tp_ipc_publication_close(dc->ctl_pub);
    tp_ipc_subscription_close(dc->ctl_sub);
    free(dc);
}

void tp_lease_reader_config(const tp_lease_t *l, tp_shm_reader_config_t *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->stream_id = l->stream_id;
    rc->epoch = l->epoch;
    rc->layout_version = l->layout_version;
    rc->nslots = l->header_nslots;
    rc->ring_uri = l->ring_uri;
    rc->ring_uri_len = strlen(l->ring_uri);
    rc->npools = l->npools;
    for (unsigned i = 0; i < l->npools && i < TP_SHM_MAX_POOLS; i++) {
        rc->pools[i].pool_id = l->pool_id[i];
        rc->pools[i].stride_bytes = l->stride_bytes[i];
        rc->pools[i].uri = l->pool_uri[i];
        rc->pools[i].uri_len = strlen(l->pool_uri[i]);
    }
}
