/* The SHM driver agent: attach / keepalive / detach / expiry / revocation,
 * exclusive producer, epochs, announces and shutdown (docs/spec/driver.md §3). */
#include "driver_impl.h"
#include "tensorpool/control_response.h"

#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/shm_dir.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <unistd.h>

#define RC_OK TP_DRIVER_RESPONSE_CODE_OK
#define RC_UNSUPPORTED TP_DRIVER_RESPONSE_CODE_UNSUPPORTED
#define RC_INVALID TP_DRIVER_RESPONSE_CODE_INVALID_PARAMS
#define RC_REJECTED TP_DRIVER_RESPONSE_CODE_REJECTED
#define RC_INTERNAL TP_DRIVER_RESPONSE_CODE_INTERNAL_ERROR
#define U32_NULL UINT32_C(0xFFFFFFFF)
#define U64_NULL UINT64_C(0xFFFFFFFFFFFFFFFF)

void drv_log(tp_driver_t *d, const char *fmt, ...)
{
    if (d->log == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(d->log, "tp driver [%s]: ", d->cfg.instance_id);
    vfprintf(d->log, fmt, ap);
    fputc('\n', d->log);
    fflush(d->log);
    va_end(ap);
}

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) v = (uint64_t)tp_clock_monotonic_ns() ^ ((uint64_t)getpid() << 32);
    return v;
}

/* ---- sending ---- */

static void drv_send(tp_driver_t *d, tp_ipc_publication_t *pub, long len)
{
    if (len <= 0) {
        drv_log(d, "internal: encoding failed: %s", tp_errmsg());
        return;
    }
    if (tp_ipc_publication_offer(pub, d->tx, (size_t)len) < 0) drv_log(d, "offer failed: %s", tp_errmsg());
}

static size_t clip(const char *msg)
{
    const size_t n = msg != NULL ? strlen(msg) : 0;
    return n > DRV_ERRMSG_MAX ? DRV_ERRMSG_MAX : n; /* D-4.2.t */
}

/* Non-OK ShmAttachResponse: optional fields null, no pools, empty URI (D-4.2.j/k). */
static void send_attach_error(tp_driver_t *d, int64_t corr, int32_t code, const char *msg)
{
    tp_driver_shm_attach_response_enc_t e;
    tp_driver_shm_attach_response_encode_begin(&e, d->tx, DRV_TX_CAP);
    tp_driver_shm_attach_response_set_correlation_id(&e, corr);
    tp_driver_shm_attach_response_set_code(&e, code);
    tp_driver_shm_attach_response_set_lease_id(&e, U64_NULL);
    tp_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&e, U64_NULL);
    tp_driver_shm_attach_response_set_stream_id(&e, U32_NULL);
    tp_driver_shm_attach_response_set_epoch(&e, U64_NULL);
    tp_driver_shm_attach_response_set_layout_version(&e, U32_NULL);
    tp_driver_shm_attach_response_set_header_nslots(&e, U32_NULL);
    tp_driver_shm_attach_response_set_header_slot_bytes(&e, 0xFFFF);
    tp_driver_shm_attach_response_set_node_id(&e, U32_NULL);
    tp_driver_shm_attach_response_payload_pools_encode_begin(&e, 0);
    tp_driver_shm_attach_response_put_header_region_uri(&e, "", 0);
    tp_driver_shm_attach_response_put_error_message(&e, msg, clip(msg));
    drv_send(d, d->ctl_pub, tp_driver_shm_attach_response_encode_end(&e));
    d->stats.attach_refused++;
    drv_log(d, "attach corr %" PRId64 " refused: %s (%s)", corr, tp_driver_response_code_name(code), msg);
}

static int send_attach_ok(tp_driver_t *d, const drv_lease_t *l, int64_t corr)
{
    const drv_stream_t *s = &d->streams[l->stream];
    const tp_driver_profile_t *p = &d->cfg.profiles[s->profile];
    char uri[TP_SHM_PATH_MAX + 64];
    tp_driver_shm_attach_response_enc_t e;
    tp_driver_shm_attach_response_encode_begin(&e, d->tx, DRV_TX_CAP);
    tp_driver_shm_attach_response_set_correlation_id(&e, corr);
    tp_driver_shm_attach_response_set_code(&e, RC_OK);
    tp_driver_shm_attach_response_set_lease_id(&e, l->lease_id);
    tp_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&e, (uint64_t)l->expiry_ns);
    tp_driver_shm_attach_response_set_stream_id(&e, s->stream_id);
    tp_driver_shm_attach_response_set_epoch(&e, s->epoch);
    tp_driver_shm_attach_response_set_layout_version(&e, TP_SHM_LAYOUT_VERSION);
    tp_driver_shm_attach_response_set_header_nslots(&e, p->header_nslots);
    tp_driver_shm_attach_response_set_header_slot_bytes(&e, TP_SHM_SLOT_BYTES);
    tp_driver_shm_attach_response_set_node_id(&e, l->node_id);
    tp_driver_shm_attach_response_payload_pools_encode_begin(&e, (uint16_t)p->npools);
    for (unsigned i = 0; i < p->npools; i++) {
        tp_driver_shm_attach_response_payload_pools_encode_next(&e);
        tp_driver_shm_attach_response_payload_pools_set_pool_id(&e, p->pools[i].pool_id);
        tp_driver_shm_attach_response_payload_pools_set_pool_nslots(&e, p->header_nslots); /* D-4.2.q */
        tp_driver_shm_attach_response_payload_pools_set_stride_bytes(&e, p->pools[i].stride_bytes);
        const int n = drv_epoch_uri(d, s, (int)i, uri, sizeof uri);
        if (n < 0) return -1;
        tp_driver_shm_attach_response_payload_pools_put_region_uri(&e, uri, (size_t)n);
    }
    const int n = drv_epoch_uri(d, s, -1, uri, sizeof uri);
    if (n < 0) return -1;
    tp_driver_shm_attach_response_put_header_region_uri(&e, uri, (size_t)n);
    tp_driver_shm_attach_response_put_error_message(&e, "", 0);
    const long len = tp_driver_shm_attach_response_encode_end(&e);
    if (len < 0) return -1;
    drv_send(d, d->ctl_pub, len);
    return 0;
}

static void send_announce(tp_driver_t *d, const drv_stream_t *s)
{
    const tp_driver_profile_t *p = &d->cfg.profiles[s->profile];
    char uri[TP_SHM_PATH_MAX + 64];
    tp_control_shm_pool_announce_enc_t e;
    tp_control_shm_pool_announce_encode_begin(&e, d->tx, DRV_TX_CAP);
    tp_control_shm_pool_announce_set_stream_id(&e, s->stream_id);
    tp_control_shm_pool_announce_set_producer_id(&e, s->producer_lease != 0 ? s->producer_client : 0); /* D-8.b */
    tp_control_shm_pool_announce_set_epoch(&e, s->epoch);
    tp_control_shm_pool_announce_set_announce_timestamp_ns(&e, (uint64_t)d->now_ns);
    tp_control_shm_pool_announce_set_announce_clock_domain(&e, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC);
    tp_control_shm_pool_announce_set_layout_version(&e, TP_SHM_LAYOUT_VERSION);
    tp_control_shm_pool_announce_set_header_nslots(&e, p->header_nslots);
    tp_control_shm_pool_announce_set_header_slot_bytes(&e, TP_SHM_SLOT_BYTES);
    tp_control_shm_pool_announce_payload_pools_encode_begin(&e, (uint16_t)p->npools);
    for (unsigned i = 0; i < p->npools; i++) {
        tp_control_shm_pool_announce_payload_pools_encode_next(&e);
        tp_control_shm_pool_announce_payload_pools_set_pool_id(&e, p->pools[i].pool_id);
        tp_control_shm_pool_announce_payload_pools_set_pool_nslots(&e, p->header_nslots);
        tp_control_shm_pool_announce_payload_pools_set_stride_bytes(&e, p->pools[i].stride_bytes);
        const int n = drv_epoch_uri(d, s, (int)i, uri, sizeof uri);
        tp_control_shm_pool_announce_payload_pools_put_region_uri(&e, uri, n > 0 ? (size_t)n : 0);
    }
    const int n = drv_epoch_uri(d, s, -1, uri, sizeof uri);
    tp_control_shm_pool_announce_put_header_region_uri(&e, uri, n > 0 ? (size_t)n : 0);
    drv_send(d, d->ann_pub, tp_control_shm_pool_announce_encode_end(&e));
    d->stats.announces++;
}

static void send_revoked(tp_driver_t *d, const drv_lease_t *l, uint8_t reason, const char *msg)
{
    tp_driver_shm_lease_revoked_enc_t e;
    tp_driver_shm_lease_revoked_encode_begin(&e, d->tx, DRV_TX_CAP);
    tp_driver_shm_lease_revoked_set_timestamp_ns(&e, (uint64_t)d->now_ns);
    tp_driver_shm_lease_revoked_set_lease_id(&e, l->lease_id);
    tp_driver_shm_lease_revoked_set_stream_id(&e, d->streams[l->stream].stream_id);
    tp_driver_shm_lease_revoked_set_client_id(&e, l->client_id);
    tp_driver_shm_lease_revoked_set_role(&e, l->role);
    tp_driver_shm_lease_revoked_set_reason(&e, reason);
    tp_driver_shm_lease_revoked_put_error_message(&e, msg, clip(msg));
    drv_send(d, d->ctl_pub, tp_driver_shm_lease_revoked_encode_end(&e));
    d->stats.revocations++;
}

static void send_shutdown(tp_driver_t *d, uint8_t reason, const char *msg)
{
    if (d->shutdown_sent) return;
    tp_driver_shm_driver_shutdown_enc_t e;
    tp_driver_shm_driver_shutdown_encode_begin(&e, d->tx, DRV_TX_CAP);
    tp_driver_shm_driver_shutdown_set_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    tp_driver_shm_driver_shutdown_set_reason(&e, reason);
    tp_driver_shm_driver_shutdown_put_error_message(&e, msg, clip(msg));
    drv_send(d, d->ctl_pub, tp_driver_shm_driver_shutdown_encode_end(&e));
    d->shutdown_sent = 1;
    drv_log(d, "ShmDriverShutdown sent (reason %s)", tp_driver_shutdown_reason_name(reason));
}

/* ---- leases, node ids, streams ---- */

static drv_lease_t *lease_find(tp_driver_t *d, uint64_t lease_id)
{
    for (unsigned i = 0; i < DRV_MAX_LEASES; i++)
        if (d->leases[i].in_use && d->leases[i].lease_id == lease_id) return &d->leases[i];
    return NULL;
}

static drv_lease_t *lease_by_client(tp_driver_t *d, uint32_t client_id)
{
    for (unsigned i = 0; i < DRV_MAX_LEASES; i++)
        if (d->leases[i].in_use && d->leases[i].client_id == client_id) return &d->leases[i];
    return NULL;
}

static int node_busy(tp_driver_t *d, uint32_t node)
{
    for (unsigned i = 0; i < DRV_MAX_LEASES; i++)
        if (d->leases[i].in_use && d->leases[i].node_id == node) return 1;
    for (unsigned i = 0; i < d->ncool; i++)
        if (d->cool[i].node_id == node && d->cool[i].until_ns > d->now_ns) return 1;
    return 0;
}

static void node_cooldown(tp_driver_t *d, uint32_t node)
{
    if (d->cfg.node_id_reuse_cooldown_ms == 0) return;
    unsigned slot = d->ncool;
    for (unsigned i = 0; i < d->ncool; i++)
        if (d->cool[i].until_ns <= d->now_ns) {
            slot = i;
            break;
        }
    if (slot == d->ncool) {
        if (d->ncool == DRV_MAX_COOLDOWN) return; /* full: the id becomes reusable at once */
        d->ncool++;
    }
    d->cool[slot].node_id = node;
    d->cool[slot].until_ns = d->now_ns + (int64_t)d->cfg.node_id_reuse_cooldown_ms * 1000000;
}

static drv_stream_t *stream_find(tp_driver_t *d, uint32_t stream_id)
{
    for (unsigned i = 0; i < d->nstreams; i++)
        if (d->streams[i].stream_id == stream_id) return &d->streams[i];
    return NULL;
}

static int profile_index(const tp_driver_config_t *cfg, const char *name)
{
    if (name[0] == '\0') return cfg->nprofiles > 0 ? 0 : -1; /* [R] 17: first in file order */
    for (unsigned i = 0; i < cfg->nprofiles; i++)
        if (strcmp(cfg->profiles[i].name, name) == 0) return (int)i;
    return -1;
}

static drv_stream_t *stream_add(tp_driver_t *d, uint32_t stream_id, int profile)
{
    if (d->nstreams == DRV_MAX_STREAMS) return NULL;
    drv_stream_t *s = &d->streams[d->nstreams++];
    memset(s, 0, sizeof *s);
    s->stream_id = stream_id;
    s->profile = profile;
    for (unsigned i = 0; i < 1 + TP_SHM_MAX_POOLS; i++) s->fds[i] = -1;
    return s;
}

/* Dynamic allocation (§3.4 step 7, §5.4): stream_id 0 takes the next free id
 * of the range; a non-zero id must lie in the range. NULL + *why on refusal. */
static drv_stream_t *stream_dynamic(tp_driver_t *d, uint32_t want, const char **why)
{
    const tp_driver_ranges_t *rs = &d->cfg.stream_id_range;
    const int profile = profile_index(&d->cfg, d->cfg.default_profile);
    if (rs->count == 0) {
        *why = "no stream ids available";
        return NULL;
    }
    if (profile < 0) {
        *why = "default profile missing";
        return NULL;
    }
    if (want != 0) {
        for (unsigned i = 0; i < rs->count; i++)
            if (want >= rs->r[i].start && want <= rs->r[i].end) {
                drv_stream_t *s = stream_add(d, want, profile);
                if (s == NULL) *why = "no stream ids available";
                return s;
            }
        *why = "stream id outside range";
        return NULL;
    }
    for (unsigned i = 0; i < rs->count; i++) {
        const uint64_t span = (uint64_t)rs->r[i].end - rs->r[i].start + 1;
        if (d->dyn_cursor[i] < rs->r[i].start || d->dyn_cursor[i] > rs->r[i].end) d->dyn_cursor[i] = rs->r[i].start;
        for (uint64_t k = 0; k < span && k < DRV_MAX_STREAMS + 1; k++) {
            const uint32_t id = d->dyn_cursor[i];
            d->dyn_cursor[i] = id == rs->r[i].end ? rs->r[i].start : id + 1; /* wraps (§5.4) */
            if (stream_find(d, id) == NULL) {
                drv_stream_t *s = stream_add(d, id, profile);
                if (s == NULL) break;
                return s;
            }
        }
    }
    *why = "no stream ids available";
    return NULL;
}

/* End a lease (§3.7 step 3-4, §3.8): Revoked first (D-4.9.k), node cooldown,
 * producer slot cleared, and for a producer a new epoch + announce (D-4.7a.b,
 * D-4.9.c, D-6.a.2). */
static void lease_end(tp_driver_t *d, drv_lease_t *l, uint8_t reason, const char *msg)
{
    send_revoked(d, l, reason, msg);
    node_cooldown(d, l->node_id);
    drv_stream_t *s = &d->streams[l->stream];
    const int producer = l->role == TP_DRIVER_ROLE_PRODUCER && s->producer_lease == l->lease_id;
    drv_log(d, "lease %" PRIu64 " (client %u, %s, stream %u) ended: %s", l->lease_id, l->client_id,
            tp_driver_role_name(l->role), s->stream_id, msg);
    l->in_use = 0;
    d->stats.leases_active--;
    if (l->role == TP_DRIVER_ROLE_CONSUMER) /* its per-consumer stream ids go back to the ranges */
        for (unsigned i = 0; i < DRV_MAX_PCS; i++)
            if (d->pcs[i].in_use && d->pcs[i].consumer_id == l->client_id && d->pcs[i].stream_id == s->stream_id)
                d->pcs[i].in_use = 0;
    if (producer) {
        s->producer_lease = 0;
        s->producer_client = 0;
        if (drv_epoch_advance(d, s) != 0) {
            drv_log(d, "stream %u: cannot create the next epoch: %s", s->stream_id, tp_errmsg());
            s->live = 0; /* no files: stop announcing a dead epoch */
            drv_epoch_release(s);
            return;
        }
        send_announce(d, s);
    }
}

/* Someone truncated a region file or overwrote a superblock of the live
 * epoch: clients would stay unmapped (or fault) for good, so move the stream
 * to a new epoch now. With a producer, revoking its lease does that (and it
 * attaches again); without one, the driver advances the epoch itself. */
static void roll_broken_epoch(tp_driver_t *d, drv_stream_t *s, const char *why)
{
    char msg[DRV_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "region files broken: %s", why);
    d->stats.regions_broken++;
    drv_log(d, "stream %u: %s; moving to a new epoch", s->stream_id, msg);
    drv_lease_t *l = s->producer_lease != 0 ? lease_find(d, s->producer_lease) : NULL;
    if (l != NULL) {
        lease_end(d, l, TP_DRIVER_LEASE_REVOKE_REASON_REVOKED, msg);
        return;
    }
    if (drv_epoch_advance(d, s) != 0) {
        drv_log(d, "stream %u: cannot create the next epoch: %s", s->stream_id, tp_errmsg());
        s->live = 0;
        drv_epoch_release(s);
        return;
    }
    send_announce(d, s);
}

/* ---- request handlers ---- */

/* Wrap a request whose header and root block are sound but whose enum
 * fields failed decoding: the driver still answers it (§4.5: INVALID_PARAMS).
 * Uses the generated accessors on a hand-made decoder state. */
static int wrap_raw(tp_sbe_dec_t *dec, const uint8_t *buf, size_t len, uint16_t block_length)
{
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0 || h.version != TP_DRIVER_SCHEMA_VERSION ||
        h.block_length != block_length || len < 8u + block_length)
        return -1;
    memset(dec, 0, sizeof *dec);
    dec->buf = buf;
    dec->len = len;
    dec->root = 8;
    dec->end = 8u + block_length;
    dec->block_length = block_length;
    dec->version = h.version;
    return 0;
}

static int hugepages_wanted(const tp_driver_t *d, uint8_t policy)
{
    if (policy == TP_DRIVER_HUGEPAGES_POLICY_HUGEPAGES) return 1;
    if (policy == TP_DRIVER_HUGEPAGES_POLICY_STANDARD) return 0;
    return d->cfg.require_hugepages; /* D-4.3.e */
}

static void on_attach(tp_driver_t *d, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_driver_shm_attach_request_dec_t m;
    if (tp_driver_shm_attach_request_decode(&m, buf, len) != 0) {
        if (tp_errcode() == TP_ERR_UNSUPPORTED && len >= 16) { /* D-4.4a.b: no common version */
            tp_sbe_dec_t raw = {.buf = buf, .len = len, .root = 8};
            m.d = raw;
            send_attach_error(d, tp_driver_shm_attach_request_correlation_id(&m), RC_UNSUPPORTED, "unsupported schema version");
            return;
        }
        if (wrap_raw(&m.d, buf, len, TP_DRIVER_SHM_ATTACH_REQUEST_BLOCK_LENGTH) != 0) {
            d->stats.malformed++;
            drv_log(d, "malformed ShmAttachRequest dropped: %s", tp_errmsg());
            return;
        }
    }
    const int64_t corr = tp_driver_shm_attach_request_correlation_id(&m);
    const uint8_t role = tp_driver_shm_attach_request_role(&m);
    const uint32_t client = tp_driver_shm_attach_request_client_id(&m);
    const uint32_t want_stream = tp_driver_shm_attach_request_stream_id(&m);
    const uint32_t layout = tp_driver_shm_attach_request_expected_layout_version(&m);
    const uint8_t mode = tp_driver_shm_attach_request_publish_mode(&m);
    const uint8_t huge = tp_driver_shm_attach_request_require_hugepages(&m);
    const uint32_t desired_node = tp_driver_shm_attach_request_desired_node_id(&m);

    if (role != TP_DRIVER_ROLE_PRODUCER && role != TP_DRIVER_ROLE_CONSUMER)
        return send_attach_error(d, corr, RC_INVALID, "invalid role");
    if (client == 0) return send_attach_error(d, corr, RC_INVALID, "client_id must be non-zero"); /* [R] 7 */
    drv_lease_t *held = lease_by_client(d, client);
    if (held != NULL) {
        if (held->correlation_id == corr && held->owner_pub == info->publisher_id &&
            d->state == DRV_RUNNING) { /* retransmission: replay the OK (D-4.8.d) */
            if (send_attach_ok(d, held, corr) != 0) send_attach_error(d, corr, RC_INTERNAL, "lease allocation failed");
            return;
        }
        return send_attach_error(d, corr, RC_REJECTED, "client_id already attached"); /* D-4.8.c, exact text (D-B.2.b) */
    }
    if (d->state != DRV_RUNNING) return send_attach_error(d, corr, RC_REJECTED, "driver shutting down"); /* [R] 12 */
    if (layout != 0 && layout != TP_SHM_LAYOUT_VERSION) /* D-4.3.a, [R] 5 */
        return send_attach_error(d, corr, RC_REJECTED, "layout version mismatch");
    if (mode != TP_DRIVER_PUBLISH_MODE_REQUIRE_EXISTING && mode != TP_DRIVER_PUBLISH_MODE_EXISTING_OR_CREATE && mode != 255)
        return send_attach_error(d, corr, RC_UNSUPPORTED, "unsupported publish mode"); /* [R] 3 */
    drv_stream_t *s = want_stream != 0 ? stream_find(d, want_stream) : NULL;
    if (s == NULL) { /* D-4.2.e, D-4.3.b, D-11.b */
        if (mode == TP_DRIVER_PUBLISH_MODE_REQUIRE_EXISTING || !d->cfg.allow_dynamic_streams)
            return send_attach_error(d, corr, RC_REJECTED, "stream not provisioned");
        const char *why = NULL;
        s = stream_dynamic(d, want_stream, &why);
        if (s == NULL) return send_attach_error(d, corr, RC_INVALID, why);
        drv_log(d, "stream %u created dynamically (profile %s)", s->stream_id, d->cfg.profiles[s->profile].name);
    }
    if (d->cfg.profiles[s->profile].npools == 0) /* D-4.3.f */
        return send_attach_error(d, corr, RC_INVALID, "invalid profile");
    if (role == TP_DRIVER_ROLE_PRODUCER && s->producer_lease != 0) /* D-5.a */
        return send_attach_error(d, corr, RC_REJECTED, "producer already attached");
    if (!tp_driver_hugepages_policy_is_valid(huge)) return send_attach_error(d, corr, RC_INVALID, "invalid hugepages policy");
    const int want_huge = hugepages_wanted(d, huge);
    if (want_huge && !d->on_hugetlbfs) return send_attach_error(d, corr, RC_REJECTED, "hugepages not available"); /* D-4.3.c */
    if (huge == TP_DRIVER_HUGEPAGES_POLICY_STANDARD && d->on_hugetlbfs) /* D-4.3.d */
        return send_attach_error(d, corr, RC_REJECTED, "standard pages requested");
    if (desired_node != U32_NULL && node_busy(d, desired_node)) /* D-4.2.d */
        return send_attach_error(d, corr, RC_REJECTED, "desired node_id unavailable");

    drv_lease_t *l = NULL;
    for (unsigned i = 0; i < DRV_MAX_LEASES && l == NULL; i++)
        if (!d->leases[i].in_use) l = &d->leases[i];
    if (l == NULL) return send_attach_error(d, corr, RC_INTERNAL, "lease allocation failed");
    uint32_t node = desired_node;
    for (int tries = 0; node == U32_NULL && tries < 1000; tries++) { /* random, != 0, != null, free (§3.9) */
        const uint32_t c = (uint32_t)random_u64();
        if (c != 0 && c != U32_NULL && !node_busy(d, c)) node = c;
    }
    if (node == U32_NULL) return send_attach_error(d, corr, RC_INTERNAL, "node_id allocation failed");

    /* §3.4 step 12: a producer always gets a fresh epoch; a consumer only when
     * the stream was never materialised. Files exist before any answer. */
    if (!s->hugepages_fixed) {
        s->hugepages = want_huge;
        s->hugepages_fixed = 1;
    }
    if (role == TP_DRIVER_ROLE_PRODUCER || !s->live) {
        if (drv_epoch_advance(d, s) != 0) {
            char why[DRV_ERRMSG_MAX + 1]; /* the cause, e.g. a full file system, for the client to report */
            snprintf(why, sizeof why, "shm creation failed: %s", tp_errmsg());
            drv_log(d, "stream %u: %s", s->stream_id, tp_errmsg());
            return send_attach_error(d, corr, RC_INTERNAL, why);
        }
    }
    memset(l, 0, sizeof *l);
    l->in_use = 1;
    l->lease_id = d->next_lease_id++;
    if (d->next_lease_id == 0 || d->next_lease_id == U64_NULL) d->next_lease_id = 1;
    l->stream = (unsigned)(s - d->streams);
    l->client_id = client;
    l->role = role;
    l->node_id = node;
    l->expiry_ns = d->now_ns + d->ttl_ns;
    l->correlation_id = corr;
    l->owner_pub = info->publisher_id;
    d->stats.leases_active++;
    d->stats.leases_issued++;
    d->stats.attach_ok++;
    if (role == TP_DRIVER_ROLE_PRODUCER) {
        s->producer_lease = l->lease_id;
        s->producer_client = client;
    }
    send_announce(d, s); /* step 15, then the answer */
    if (send_attach_ok(d, l, corr) != 0) drv_log(d, "attach corr %" PRId64 ": encoding failed: %s", corr, tp_errmsg());
    drv_log(d, "lease %" PRIu64 " granted: client %u %s stream %u epoch %" PRIu64, l->lease_id, client,
            tp_driver_role_name(role), s->stream_id, s->epoch);
}

static void send_detach_response(tp_driver_t *d, int64_t corr, int32_t code, const char *msg)
{
    tp_driver_shm_detach_response_enc_t e;
    tp_driver_shm_detach_response_encode_begin(&e, d->tx, DRV_TX_CAP);
    tp_driver_shm_detach_response_set_correlation_id(&e, corr);
    tp_driver_shm_detach_response_set_code(&e, code);
    tp_driver_shm_detach_response_put_error_message(&e, msg, clip(msg));
    drv_send(d, d->ctl_pub, tp_driver_shm_detach_response_encode_end(&e));
}

static void on_detach(tp_driver_t *d, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_driver_shm_detach_request_dec_t m;
    if (tp_driver_shm_detach_request_decode(&m, buf, len) != 0 &&
        wrap_raw(&m.d, buf, len, TP_DRIVER_SHM_DETACH_REQUEST_BLOCK_LENGTH) != 0) {
        d->stats.malformed++;
        drv_log(d, "malformed ShmDetachRequest dropped: %s", tp_errmsg());
        return;
    }
    const int64_t corr = tp_driver_shm_detach_request_correlation_id(&m);
    const uint8_t role = tp_driver_shm_detach_request_role(&m);
    if (!tp_driver_role_is_valid(role)) return send_detach_response(d, corr, RC_INVALID, "invalid role");
    drv_lease_t *l = lease_find(d, tp_driver_shm_detach_request_lease_id(&m));
    if (l == NULL || d->streams[l->stream].stream_id != tp_driver_shm_detach_request_stream_id(&m) ||
        l->client_id != tp_driver_shm_detach_request_client_id(&m) || l->role != role)
        return send_detach_response(d, corr, RC_REJECTED, "lease not found"); /* D-4.9.b, lease untouched */
    if (l->owner_pub != info->publisher_id) { /* someone else's lease: same answer, lease untouched */
        d->stats.refused_not_owner++;
        drv_log(d, "detach of lease %" PRIu64 " from another publication refused", l->lease_id);
        return send_detach_response(d, corr, RC_REJECTED, "lease not found");
    }
    lease_end(d, l, TP_DRIVER_LEASE_REVOKE_REASON_DETACHED, "lease detached"); /* D-4.9.a/c/e */
    send_detach_response(d, corr, RC_OK, ""); /* D-4.9.d, after Revoked and Announce (§3.8) */
}

static void on_keepalive(tp_driver_t *d, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_driver_shm_lease_keepalive_dec_t m;
    if (tp_driver_shm_lease_keepalive_decode(&m, buf, len) != 0) {
        d->stats.malformed++;
        return;
    }
    drv_lease_t *l = lease_find(d, tp_driver_shm_lease_keepalive_lease_id(&m));
    /* §3.6: every identity field must match, otherwise silently ignored (scenario 44, 60) */
    if (l == NULL || d->streams[l->stream].stream_id != tp_driver_shm_lease_keepalive_stream_id(&m) ||
        l->client_id != tp_driver_shm_lease_keepalive_client_id(&m) || l->role != tp_driver_shm_lease_keepalive_role(&m))
        return;
    if (l->owner_pub != info->publisher_id) { /* would keep a dead client's lease alive forever */
        d->stats.refused_not_owner++;
        return;
    }
    l->expiry_ns = d->now_ns + d->ttl_ns; /* D-4.4.c */
}

/* Length-checked, constant-time token comparison (§3.11 step 1). */
static int token_ok(const char *want, const char *got, uint32_t got_len)
{
    const size_t n = strlen(want);
    if (n == 0 || got_len == 0 || got_len != n) return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(want[i] ^ got[i]);
    return diff == 0;
}

static void on_shutdown_request(tp_driver_t *d, const uint8_t *buf, size_t len)
{
    tp_driver_shm_driver_shutdown_request_dec_t m;
    if (tp_driver_shm_driver_shutdown_request_decode(&m, buf, len) != 0) {
        d->stats.malformed++;
        return;
    }
    uint32_t tlen = 0, mlen = 0;
    const char *tok = tp_driver_shm_driver_shutdown_request_token(&m, &tlen);
    const char *msg = tp_driver_shm_driver_shutdown_request_error_message(&m, &mlen);
    if (!token_ok(d->cfg.shutdown_token, tok, tlen)) { /* D-4.13.b: refused = ignored, logged */
        d->stats.shutdown_refused++;
        drv_log(d, "shutdown request ignored (%s)", d->cfg.shutdown_token[0] == '\0' ? "feature off" : "bad or missing token");
        return;
    }
    if (d->state != DRV_RUNNING) return;
    d->state = DRV_DRAINING; /* D-4.13.c */
    d->drain_deadline_ns = d->now_ns + (int64_t)d->cfg.shutdown_timeout_ms * 1000000;
    d->shutdown_reason = tp_driver_shm_driver_shutdown_request_reason(&m);
    if (mlen > DRV_ERRMSG_MAX) mlen = DRV_ERRMSG_MAX;
    memcpy(d->shutdown_msg, msg, mlen);
    d->shutdown_msg[mlen] = '\0';
    drv_log(d, "shutdown requested: draining for %u ms", d->cfg.shutdown_timeout_ms);
    for (unsigned i = 0; i < d->nstreams; i++)
        if (d->streams[i].live) send_announce(d, &d->streams[i]);
}

/* ---- per-consumer stream authority (§5.5, D-11.c/d, [R] 18) ---- */

static int pcs_taken(const tp_driver_t *d, uint32_t id)
{
    for (unsigned i = 0; i < DRV_MAX_PCS; i++)
        if (d->pcs[i].in_use && (d->pcs[i].desc_id == id || d->pcs[i].ctl_id == id)) return 1;
    return 0;
}

/* Next free id of a range list: 0 when the list is empty or exhausted. */
static uint32_t pcs_pick(const tp_driver_t *d, const tp_driver_ranges_t *rs)
{
    for (unsigned i = 0; i < rs->count; i++)
        for (uint64_t id = rs->r[i].start; id <= rs->r[i].end && id - rs->r[i].start <= DRV_MAX_PCS * 2; id++)
            if (!pcs_taken(d, (uint32_t)id)) return (uint32_t)id;
    return 0;
}

static void send_consumer_config(tp_driver_t *d, uint32_t stream_id, uint32_t consumer_id, uint32_t desc_id,
                                 uint32_t ctl_id)
{
    const char *ch = d->cfg.control_channel; /* every stream of this driver uses one transport */
    tp_control_consumer_config_enc_t e;
    tp_control_consumer_config_encode_begin(&e, d->tx, DRV_TX_CAP);
    tp_control_consumer_config_set_stream_id(&e, stream_id);
    tp_control_consumer_config_set_consumer_id(&e, consumer_id);
    tp_control_consumer_config_set_use_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_config_set_mode(&e, TP_CONTROL_MODE_STREAM);
    tp_control_consumer_config_set_descriptor_stream_id(&e, desc_id);
    tp_control_consumer_config_set_control_stream_id(&e, ctl_id);
    tp_control_consumer_config_put_payload_fallback_uri(&e, "", 0);
    /* an id of 0 goes with an empty channel: "not assigned" (W-10.1.3.f) */
    tp_control_consumer_config_put_descriptor_channel(&e, ch, desc_id != 0 ? strlen(ch) : 0);
    tp_control_consumer_config_put_control_channel(&e, ch, ctl_id != 0 ? strlen(ch) : 0);
    drv_send(d, d->ctl_pub, tp_control_consumer_config_encode_end(&e));
}

/* ConsumerHello asking the authority to choose (channel set, stream id 0),
 * per kind (descriptor, control): with no range configured, point the
 * consumer at the shared channel and stream (D-11.c, §5.5); otherwise pick a
 * free id of the range, or decline with an empty channel and 0 when it is
 * exhausted (D-11.d). Requests naming an id are the producer's business
 * (docs/spec/wire.md §5.8). */
static void on_consumer_hello(tp_driver_t *d, const uint8_t *buf, size_t len)
{
    tp_control_consumer_hello_dec_t m;
    if (tp_control_consumer_hello_decode(&m, buf, len) != 0) return;
    const uint32_t stream = tp_control_consumer_hello_stream_id(&m), cid = tp_control_consumer_hello_consumer_id(&m);
    uint32_t dlen = 0, clen = 0;
    tp_control_consumer_hello_descriptor_channel(&m, &dlen);
    tp_control_consumer_hello_control_channel(&m, &clen);
    const int want_desc = dlen > 0 && tp_control_consumer_hello_descriptor_stream_id(&m) == 0;
    const int want_ctl = clen > 0 && tp_control_consumer_hello_control_stream_id(&m) == 0;
    if ((!want_desc && !want_ctl) || stream_find(d, stream) == NULL) return;
    const tp_driver_ranges_t *drange = &d->cfg.descriptor_stream_id_range, *crange = &d->cfg.control_stream_id_range;
    drv_pcs_t *a = NULL, *free_slot = NULL;
    for (unsigned i = 0; i < DRV_MAX_PCS; i++) {
        if (d->pcs[i].in_use && d->pcs[i].stream_id == stream && d->pcs[i].consumer_id == cid) a = &d->pcs[i];
        if (!d->pcs[i].in_use && free_slot == NULL) free_slot = &d->pcs[i];
    }
    if (a == NULL && free_slot != NULL && ((want_desc && drange->count > 0) || (want_ctl && crange->count > 0))) {
        drv_pcs_t n = {.in_use = 1, .stream_id = stream, .consumer_id = cid};
        if (want_desc) n.desc_id = pcs_pick(d, drange);
        if (want_ctl) n.ctl_id = pcs_pick(d, crange);
        if (n.desc_id != 0 || n.ctl_id != 0) {
            *free_slot = n;
            a = free_slot;
            drv_log(d, "stream %u consumer %u: per-consumer descriptor stream %u, control stream %u", stream, cid,
                    a->desc_id, a->ctl_id);
        }
    }
    /* no slot left or range exhausted: a == NULL and the ranged kinds answer 0 */
    /* no range: the shared stream, driver.descriptor_stream_id (1100 by the §5.4
     * conventions; clients read the same DRIVER_DESCRIPTOR_STREAM_ID) */
    const uint32_t desc = want_desc && drange->count == 0 ? d->cfg.descriptor_stream_id : a != NULL ? a->desc_id : 0;
    const uint32_t ctl = want_ctl && crange->count == 0 ? d->cfg.control_stream_id : a != NULL ? a->ctl_id : 0;
    send_consumer_config(d, stream, cid, desc, ctl);
    if ((want_desc && desc == 0) || (want_ctl && ctl == 0)) /* W-P2: say why (D-11.d) */
        drv_send(d, d->ctl_pub,
                 tp_control_response_encode(d->tx, DRV_TX_CAP, stream, cid, TP_CONTROL_RESPONSE_CODE_REJECTED,
                                            "driver: per-consumer stream id range exhausted"));
}

static void on_message(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_driver_t *d = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0) return;
    if (info->publisher_uid != d->own_uid) { /* another user's log in our directory (threat model) */
        d->stats.refused_foreign++;
        return;
    }
    if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_CONSUMER_HELLO_TEMPLATE_ID) {
        on_consumer_hello(d, buf, len);
        return;
    }
    if (h.schema_id != TP_DRIVER_SCHEMA_ID) return; /* other schemas: not ours */
    switch (h.template_id) {
    case TP_DRIVER_SHM_ATTACH_REQUEST_TEMPLATE_ID: on_attach(d, buf, len, info); break;
    case TP_DRIVER_SHM_DETACH_REQUEST_TEMPLATE_ID: on_detach(d, buf, len, info); break;
    case TP_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID: on_keepalive(d, buf, len, info); break;
    case TP_DRIVER_SHM_DRIVER_SHUTDOWN_REQUEST_TEMPLATE_ID: on_shutdown_request(d, buf, len); break;
    default: break; /* our own responses and notices */
    }
}

/* ---- duty cycle ---- */

int tp_driver_do_work(tp_driver_t *d, int64_t now_ns)
{
    pthread_mutex_lock(&d->lock);
    d->now_ns = now_ns;
    int work = 0;
    if (d->state == DRV_STOPPED) {
        pthread_mutex_unlock(&d->lock);
        return 0;
    }
    const int n = tp_ipc_subscription_poll(d->ctl_sub, on_message, d, 32);
    if (n > 0) work += n;
    for (unsigned i = 0; i < DRV_MAX_LEASES; i++) { /* §3.2: strictly later (Ref) */
        drv_lease_t *l = &d->leases[i];
        if (l->in_use && now_ns > l->expiry_ns) {
            lease_end(d, l, TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED, "lease expired"); /* D-4.4.d */
            work++;
        }
    }
    if (now_ns >= d->next_announce_ns) {
        d->next_announce_ns = now_ns + d->announce_period_ns;
        for (unsigned i = 0; i < d->nstreams; i++)
            if (d->streams[i].live) {
                if (drv_epoch_check(d, &d->streams[i]) != 0) {
                    roll_broken_epoch(d, &d->streams[i], tp_errmsg());
                    work++;
                    if (!d->streams[i].live) continue;
                }
                drv_epoch_heartbeat(d, &d->streams[i]);
                send_announce(d, &d->streams[i]);
                work++;
            }
    }
    if (d->state == DRV_DRAINING && now_ns >= d->drain_deadline_ns) {
        send_shutdown(d, d->shutdown_reason, d->shutdown_msg);
        d->state = DRV_STOPPED;
        work++;
    }
    if (work > 0) tp_ipc_doorbell_disarm(d->doorbell); /* busy: requests need not ring */
    pthread_mutex_unlock(&d->lock);
    return work;
}

int tp_driver_is_stopped(const tp_driver_t *d) { return d->state == DRV_STOPPED; }

int tp_driver_revoke(tp_driver_t *d, uint64_t lease_id, const char *why)
{
    pthread_mutex_lock(&d->lock);
    drv_lease_t *l = lease_find(d, lease_id);
    int rc = 0;
    if (l == NULL) rc = tp_err_set(TP_ERR_NOT_FOUND, "no live lease %" PRIu64, lease_id);
    else lease_end(d, l, TP_DRIVER_LEASE_REVOKE_REASON_REVOKED, why != NULL ? why : "lease revoked");
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int tp_driver_stream_epoch(const tp_driver_t *d, uint32_t stream_id, uint64_t *epoch)
{
    tp_driver_t *m = (tp_driver_t *)(uintptr_t)d;
    pthread_mutex_lock(&m->lock);
    const drv_stream_t *s = stream_find(m, stream_id);
    if (s != NULL) *epoch = s->epoch;
    pthread_mutex_unlock(&m->lock);
    return s != NULL ? 0 : tp_err_set(TP_ERR_NOT_FOUND, "stream %u unknown", stream_id);
}

void tp_driver_stats(const tp_driver_t *d, tp_driver_stats_t *out)
{
    tp_driver_t *m = (tp_driver_t *)(uintptr_t)d;
    pthread_mutex_lock(&m->lock);
    *out = m->stats;
    out->control_loss = m->ctl_sub != NULL ? tp_ipc_subscription_loss_count(m->ctl_sub) : 0; /* polled under the lock */
    pthread_mutex_unlock(&m->lock);
}

/* ---- life cycle ---- */

/* Release everything tp_driver_open acquired (publications, lock, tables). */
static void driver_free(tp_driver_t *d)
{
    if (d->ann_pub != NULL && d->ann_pub != d->ctl_pub) tp_ipc_publication_close(d->ann_pub);
    tp_ipc_publication_close(d->ctl_pub);
    tp_ipc_subscription_close(d->ctl_sub);
    tp_ipc_doorbell_close(d->doorbell);
    tp_ipc_media_driver_stop(d->media_driver); /* after its last client */
    drv_lock_release(d->lock_fd);
    free(d->streams);
    free(d->leases);
    free(d->cool);
    free(d->pcs);
    free(d->tx);
    free(d->writer);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* path equals one of dirs or lies below one, as written, with no "." or
 * ".." component. */
static int written_inside(const char *path, const char *const *dirs, unsigned n)
{
    for (const char *c = path; *c != '\0';) {
        while (*c == '/') c++;
        const size_t k = strcspn(c, "/");
        if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.')) return 0;
        c += k;
    }
    for (unsigned i = 0; i < n; i++) {
        size_t len = strlen(dirs[i]);
        while (len > 1 && dirs[i][len - 1] == '/') len--;
        if (strncmp(path, dirs[i], len) == 0 && (path[len] == '\0' || path[len] == '/' || len == 1)) return 1;
    }
    return 0;
}

/* Canonical form of a directory that may not exist yet: its deepest
 * existing ancestor through realpath, then the missing components, which
 * cannot be symlinks ("." and ".." among them are refused). 0 or -1. */
static int resolve_dir(const char *path, char *out, size_t cap)
{
    char head[TP_SHM_PATH_MAX], canon[PATH_MAX];
    if (snprintf(head, sizeof head, "%s", path) >= (int)sizeof head || head[0] != '/') return -1;
    size_t cut = strlen(head);
    while (realpath(head, canon) == NULL) {
        if (errno != ENOENT) return -1;
        char *slash = strrchr(head, '/');
        if (slash == NULL || slash == head) return -1;
        *slash = '\0';
        cut = (size_t)(slash - head);
    }
    const char *rest = path + cut;
    for (const char *c = rest; *c != '\0';) {
        while (*c == '/') c++;
        const size_t n = strcspn(c, "/");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return -1;
        c += n;
    }
    return snprintf(out, cap, "%s%s", canon, rest) < (int)cap ? 0 : -1;
}

/* The allowlist, or base_dir alone when it is empty; returns the count. */
static unsigned allowed_dirs(const tp_driver_config_t *cfg, const char **dirs)
{
    unsigned nd = cfg->n_allowed_base_dirs;
    for (unsigned i = 0; i < nd; i++) dirs[i] = cfg->allowed_base_dirs[i];
    if (nd == 0) {
        dirs[0] = cfg->base_dir;
        nd = 1;
    }
    return nd;
}

int tp_driver_base_dir_check(const tp_driver_config_t *cfg)
{
    const char *dirs[TP_SHM_MAX_BASES];
    const unsigned nd = allowed_dirs(cfg, dirs);
    char canon[TP_SHM_PATH_MAX], base[TP_SHM_PATH_MAX];
    if (resolve_dir(cfg->base_dir, canon, sizeof canon) != 0)
        return tp_err_set(TP_ERR_PERMISSION, "driver: shm.base_dir '%s' does not resolve", cfg->base_dir);
    for (unsigned i = 0; i < nd; i++) {
        if (resolve_dir(dirs[i], base, sizeof base) != 0) continue; /* unresolvable: allows nothing */
        size_t n = strlen(base);
        while (n > 1 && base[n - 1] == '/') n--;
        if (strncmp(canon, base, n) == 0 && (canon[n] == '\0' || canon[n] == '/' || n == 1)) return 0;
    }
    return tp_err_set(TP_ERR_PERMISSION, "driver: shm.base_dir '%s' is outside shm.allowed_base_dirs (D-9.a)", canon);
}

int tp_driver_open(tp_driver_t **out, const tp_driver_config_t *cfg, FILE *log)
{
    *out = NULL;
    if (tp_driver_config_validate(cfg) != 0) return -1;
    tp_driver_t *d = calloc(1, sizeof *d);
    if (d == NULL) return tp_err_set(TP_ERR_CAPACITY, "driver: out of memory");
    d->cfg = *cfg;
    d->log = log;
    d->lock_fd = -1;
    pthread_mutex_init(&d->lock, NULL);
    d->streams = calloc(DRV_MAX_STREAMS, sizeof *d->streams);
    d->leases = calloc(DRV_MAX_LEASES, sizeof *d->leases);
    d->cool = calloc(DRV_MAX_COOLDOWN, sizeof *d->cool);
    d->pcs = calloc(DRV_MAX_PCS, sizeof *d->pcs);
    d->tx = malloc(DRV_TX_CAP);
    d->writer = calloc(1, sizeof *d->writer);
    if (d->streams == NULL || d->leases == NULL || d->cool == NULL || d->pcs == NULL || d->tx == NULL || d->writer == NULL) {
        tp_err_set(TP_ERR_CAPACITY, "driver: out of memory");
        goto fail;
    }
    if (tp_shm_user_effective(d->user, sizeof d->user) < 0) goto fail;
    if (snprintf(d->ns_dir, sizeof d->ns_dir, "%s/tensorpool-%s/%s", cfg->base_dir, d->user, cfg->ns) >= (int)sizeof d->ns_dir) {
        tp_err_set(TP_ERR_CAPACITY, "driver: directory path too long");
        goto fail;
    }
    /* §5.8 step 1: base_dir must lie inside an allowed base (resolved once,
     * here), checked before anything is created under it (D-9.a) */
    {
        const char *dirs[TP_SHM_MAX_BASES];
        const unsigned nd = allowed_dirs(cfg, dirs);
        /* Inside the allowlist as written: creating it first (so that it and the
         * allowed dirs resolve) cannot leave the allowlist, because
         * tp_shm_dir_create follows no symlink. Anything else is created only
         * after the canonical check below. */
        if (written_inside(cfg->base_dir, dirs, nd) && tp_shm_dir_create(d->ns_dir) != 0) goto fail;
        if (tp_driver_base_dir_check(cfg) != 0) goto fail;
        if (tp_shm_dir_create(d->ns_dir) != 0) goto fail;
        struct statfs sfs;
        d->on_hugetlbfs = statfs(cfg->base_dir, &sfs) == 0 && (uint32_t)sfs.f_type == TP_HUGETLBFS_MAGIC;
    }
    d->lock_fd = drv_lock_acquire(d->ns_dir);
    if (d->lock_fd < 0) goto fail;
    tp_ipc_context_init(&d->ipc);
    d->ipc.base_dir = cfg->base_dir;
    d->ipc.namespace_name = cfg->ns;
    /* The transport's media driver (Aeron) inside this process, so one
     * command runs the whole system; or the one in driver.aeron_dir. Both
     * reach this process's channels and its children through AERON_DIR. */
    if (cfg->embedded_media_driver) {
        if (tp_ipc_media_driver_start(&d->media_driver, &d->ipc, cfg->aeron_dir) != 0) goto fail;
        drv_log(d, "embedded media driver in %s", tp_ipc_media_driver_dir(d->media_driver));
    } else if (cfg->aeron_dir[0] != '\0') {
        setenv("AERON_DIR", cfg->aeron_dir, 1);
    }
    const int32_t ctl = (int32_t)cfg->control_stream_id;
    const int32_t ann = cfg->announce_stream_id != 0 ? (int32_t)cfg->announce_stream_id : ctl;
    const char *ann_ch = cfg->announce_channel[0] != '\0' ? cfg->announce_channel : cfg->control_channel;
    if (tp_ipc_subscription_open(&d->ctl_sub, &d->ipc, cfg->control_channel, ctl) != 0 ||
        tp_ipc_publication_open(&d->ctl_pub, &d->ipc, cfg->control_channel, ctl) != 0)
        goto fail;
    if (tp_ipc_doorbell_open(&d->doorbell, &d->ipc, cfg->control_channel, ctl) != 0)
        drv_log(d, "no doorbell on the control stream (idles on the timer alone): %s", tp_errmsg());
    if (ann == ctl && strcmp(ann_ch, cfg->control_channel) == 0) d->ann_pub = d->ctl_pub;
    else if (tp_ipc_publication_open(&d->ann_pub, &d->ipc, ann_ch, ann) != 0) goto fail;
    d->next_lease_id = (random_u64() >> 1) | 1; /* §3.9: random 63-bit seed, never 0 */
    d->own_uid = (uint32_t)geteuid();
    d->ttl_ns = (int64_t)cfg->lease_keepalive_interval_ms * cfg->lease_expiry_grace_intervals * 1000000;
    d->announce_period_ns = (int64_t)(cfg->announce_period_ms != 0 ? cfg->announce_period_ms : 1000) * 1000000;
    d->now_ns = tp_clock_monotonic_ns();
    for (unsigned i = 0; i < cfg->nstreams; i++) {
        if (stream_add(d, cfg->streams[i].stream_id, profile_index(cfg, cfg->streams[i].profile)) == NULL) {
            tp_err_set(TP_ERR_CAPACITY, "driver: too many streams");
            goto fail;
        }
        if (cfg->epoch_gc_enabled && cfg->epoch_gc_on_startup && cfg->epoch_gc_keep > 0)
            drv_epoch_gc(d, cfg->streams[i].stream_id, 0);
    }
    drv_log(d, "running: dir %s, control %s:%d, announce %s:%d, lease ttl %lld ms", d->ns_dir, cfg->control_channel, ctl,
            ann_ch, ann, (long long)(d->ttl_ns / 1000000));
    *out = d;
    return 0;
fail:
    tp_err_wrap("driver");
    {
        char saved[512];
        snprintf(saved, sizeof saved, "%s", tp_errmsg());
        const tp_errcode_t code = tp_errcode();
        driver_free(d);
        tp_err_set(code, "%s", saved);
    }
    return -1;
}

void tp_driver_close(tp_driver_t *d, int error, const char *message)
{
    if (d == NULL) return;
    send_shutdown(d, error ? TP_DRIVER_SHUTDOWN_REASON_ERROR : TP_DRIVER_SHUTDOWN_REASON_NORMAL,
                  message != NULL ? message : ""); /* D-4.13.d */
    for (unsigned i = 0; i < d->nstreams; i++) drv_epoch_release(&d->streams[i]);
    driver_free(d);
}

static int agent_do_work(void *state, const tp_cached_clock_t *clock)
{
    return tp_driver_do_work(state, tp_cached_clock_monotonic_ns(clock));
}

tp_agent_t tp_driver_agent(tp_driver_t *d)
{
    tp_agent_t a = {.name = "tp-driver", .state = d, .do_work = agent_do_work};
    return a;
}

/* The driver's park (tp_driver_idle_strategy) on a tp:ipc control stream:
 * sleep on its doorbell, so that a client's request (its control
 * publication rings, tp:ipc?wake=true) ends the sleep at once, and the
 * park's length bounds only the driver's own timers (leases, announces).
 * The first park arms and returns at once: the loop then polls once more,
 * armed, before it sleeps (ipc_doorbell.h). do_work disarms when it finds
 * work. Runs on the driver's thread, like do_work. */
static void doorbell_park(void *arg, int64_t ns)
{
    tp_driver_t *d = arg;
    if (!tp_ipc_doorbell_armed(d->doorbell))
        d->ring_seen = tp_ipc_doorbell_arm(d->doorbell);
    else
        d->ring_seen = tp_ipc_doorbell_sleep(d->doorbell, d->ring_seen, ns);
}

void tp_driver_idle_strategy(const tp_driver_config_t *cfg, tp_driver_t *d, tp_idle_strategy_t *idle)
{
    const int64_t max_ns = (int64_t)(cfg->idle_park_max_us != 0 ? cfg->idle_park_max_us : TP_DRIVER_IDLE_PARK_MAX_US_DEFAULT) * 1000;
    const int64_t first_ns = max_ns < 100000 ? max_ns : 100000;
    tp_idle_strategy_init_backoff(idle, 10, 10, first_ns, max_ns);
    if (d != NULL && d->doorbell != NULL) tp_idle_strategy_set_park(idle, doorbell_park, d);
}
