/* Producer client (docs/spec/driver.md §3.10 "Producer", docs/spec/wire.md §10.2-§10.4). */
#include "tensorpool/producer.h"

#include "tensorpool/control_response.h"

#include "client_map.h"
#include "progress_internal.h"
#include "meta_blob_out.h"
#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/rate_gate.h"
#include "tensorpool/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_PRODUCER_MAX_PER_CONSUMER 8
#define META_CAP (32u * 1024u)

typedef struct per_consumer_s {
    uint32_t consumer_id;
    int32_t stream_id;
    int64_t last_seen_ns;
    tp_ipc_publication_t *pub;
    tp_rate_gate_t gate; /* W-5.e: RATE_LIMITED grant paced at ConsumerHello.max_rate_hz */
} per_consumer_t;

struct tp_producer_s {
    tp_client_context_t ctx;
    tp_driver_client_t *dc;
    tp_shm_bases_t bases;
    tp_ipc_context_t ipc;
    tp_ipc_publication_t *desc_pub, *qos_pub, *meta_pub, *ctl_pub;
    tp_ipc_subscription_t *qos_sub; /* QosConsumer keeps per-consumer streams alive (W-5.d) */
    int active;
    uint64_t epoch;
    uint32_t stream_id;
    uint32_t meta_version;
    int mirror;        /* republishing another stream's metadata (tp ratelimit, a bridge receiver): no announce or meta of our own */
    int no_publish_ts; /* FrameDescriptor.timestamp_ns left null (W-10.2.1.e): no clock read per frame */
    int64_t now_ns, next_qos_ns;
    uint64_t faults;   /* leases given up because a region file was truncated or its superblock broken */
    char fault[192];   /* the latest such reason */
    char name[256], summary[1024];
    uint8_t *meta_msg; /* encoded DataSourceMeta (stream id patched at send) */
    long meta_len;
    tp_meta_blob_out_t blob; /* the meta blob and its paced sender (meta_blob_out.h) */
    per_consumer_t pc[TP_PRODUCER_MAX_PER_CONSUMER];
    uint8_t tx[2048];
    tp_shm_writer_t w;
    /* lineage (docs/spec/tracelink.md): mode, generator, the last frame's id,
     * and the TraceLinkSet of a derived frame, encoded in place */
    tp_trace_mode_t trace_mode;
    tp_trace_gen_t trace_gen;
    uint64_t last_trace_id;
    uint64_t links_sent, links_dropped;
    tp_trace_link_t link;
    uint8_t link_tx[8 + 28 + 4 + 8 * TP_TRACE_MAX_PARENTS];
    tp_progress_tx_t prog; /* FrameProgress (progress_tx.c) */
    /* The FrameDescriptor, encoded once at open: it has no groups or var
     * data, so every commit rewrites all six fields in place and sends the
     * same length, without the encoder's set-up and end per frame */
    tp_control_frame_descriptor_enc_t desc_enc;
    uint8_t desc_tx[64];
    long desc_len;
};

static int on_attached(void *clientd, const tp_lease_t *lease)
{
    tp_producer_t *p = clientd;
    if (tp_client_map_writer(&p->w, &p->bases, lease, (uint64_t)p->now_ns) != 0) return -1;
    p->active = 1;
    p->epoch = lease->epoch;
    p->stream_id = lease->stream_id;
    p->next_qos_ns = p->now_ns; /* announce ourselves at once */
    return 0;
}

static void on_lease_lost(void *clientd, const char *why)
{
    (void)why;
    tp_producer_t *p = clientd;
    if (!p->active) return;
    p->active = 0; /* Paused: never touch the old mapping again (§3.10) */
    tp_client_unmap_writer(&p->w);
}

/* ConsumerConfig answering one consumer: the descriptor assignment (empty
 * channel and 0 = declined / not assigned, W-10.1.3.d/f) and never a control
 * stream (FrameProgress is not implemented, so such requests are declined). */
static void send_consumer_config(tp_producer_t *p, uint32_t consumer_id, const char *channel, int32_t stream_id,
                                 uint8_t mode)
{
    tp_control_consumer_config_enc_t e;
    tp_control_consumer_config_encode_begin(&e, p->tx, sizeof p->tx);
    tp_control_consumer_config_set_stream_id(&e, p->stream_id);
    tp_control_consumer_config_set_consumer_id(&e, consumer_id);
    tp_control_consumer_config_set_use_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_config_set_mode(&e, mode);
    tp_control_consumer_config_set_descriptor_stream_id(&e, (uint32_t)stream_id);
    tp_control_consumer_config_set_control_stream_id(&e, 0);
    tp_control_consumer_config_put_payload_fallback_uri(&e, "", 0);
    tp_control_consumer_config_put_descriptor_channel(&e, channel, strlen(channel));
    tp_control_consumer_config_put_control_channel(&e, "", 0);
    const long n = tp_control_consumer_config_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(p->ctl_pub, p->tx, (size_t)n);
}

/* W-P2: a declined request is followed by ControlResponse saying why
 * (docs/spec/wire.md §5.8, D-4), addressed as W-P1. */
static void send_decline(tp_producer_t *p, uint32_t consumer_id, int32_t code, const char *why)
{
    const long n = tp_control_response_encode(p->tx, sizeof p->tx, p->stream_id, consumer_id, code, why);
    if (n > 0) tp_ipc_publication_offer(p->ctl_pub, p->tx, (size_t)n);
}

static void pc_close(per_consumer_t *pc)
{
    tp_ipc_publication_close(pc->pub);
    pc->pub = NULL;
}

/* ConsumerHello (W-10.1.2.e/f, W-5.j, docs/spec/wire.md §5.8, D-4), per pair: neither
 * half set = not requested; a channel with id 0 asks the authority to choose
 * and the driver answers the whole Hello ([R] 18); anything else half-filled,
 * a foreign channel or a control stream (FrameProgress is not implemented) is
 * declined with an empty channel and 0; a full descriptor pair on our channel
 * is granted. Init-like work (opens a publication), off the hot path. */
static void on_hello(tp_producer_t *p, const uint8_t *buf, size_t len)
{
    tp_control_consumer_hello_dec_t m;
    if (tp_control_consumer_hello_decode(&m, buf, len) != 0 || tp_control_consumer_hello_stream_id(&m) != p->stream_id) return;
    const uint32_t cid = tp_control_consumer_hello_consumer_id(&m);
    tp_progress_tx_on_hello(&p->prog, &m, p->now_ns); /* progress opt-in and hints (W-10.1.2.c/d) */
    uint32_t dlen = 0, clen = 0;
    const char *ch = tp_control_consumer_hello_descriptor_channel(&m, &dlen);
    tp_control_consumer_hello_control_channel(&m, &clen);
    const uint32_t sid = tp_control_consumer_hello_descriptor_stream_id(&m);
    const uint32_t csid = tp_control_consumer_hello_control_stream_id(&m);
    if ((dlen > 0 && sid == 0) || (clen > 0 && csid == 0)) return; /* the driver's answer */
    per_consumer_t *have = NULL, *free_slot = NULL;
    for (unsigned i = 0; i < TP_PRODUCER_MAX_PER_CONSUMER; i++) {
        if (p->pc[i].pub != NULL && p->pc[i].consumer_id == cid) have = &p->pc[i];
        if (p->pc[i].pub == NULL && free_slot == NULL) free_slot = &p->pc[i];
    }
    const int want_desc = dlen > 0 || sid != 0, want_ctl = clen > 0 || csid != 0;
    if (!want_desc && have != NULL) pc_close(have); /* no longer asked for: stop publishing there */
    if (!want_desc && !want_ctl) return;            /* nothing requested (W-10.1.3.b): no answer */
    const int ours = dlen == strlen(p->ctx.channel) && memcmp(ch, p->ctx.channel, dlen) == 0;
    if (!want_desc || dlen == 0 || sid == 0 || sid > INT32_MAX || !ours) { /* W-10.1.3.c/d */
        if (have != NULL && want_desc) pc_close(have);
        send_consumer_config(p, cid, "", 0, TP_CONTROL_MODE_STREAM);
        if (!want_desc) send_decline(p, cid, TP_CONTROL_RESPONSE_CODE_UNSUPPORTED, "per-consumer control stream not offered");
        else if (dlen == 0 || sid == 0 || sid > INT32_MAX)
            send_decline(p, cid, TP_CONTROL_RESPONSE_CODE_INVALID_PARAMS, "descriptor channel and stream id must be given together");
        else send_decline(p, cid, TP_CONTROL_RESPONSE_CODE_UNSUPPORTED, "descriptor channel is not the producer's");
        return;
    }
    /* W-5.e, W-11.b: a RATE_LIMITED consumer on a stream of its own gets at
     * most max_rate_hz descriptors there; the grant says RATE_LIMITED */
    const uint32_t hz = tp_control_consumer_hello_mode(&m) == TP_CONTROL_MODE_RATE_LIMITED
                            ? tp_control_consumer_hello_max_rate_hz(&m) : 0;
    const uint8_t mode = hz != 0 ? TP_CONTROL_MODE_RATE_LIMITED : TP_CONTROL_MODE_STREAM;
    if (have != NULL && have->stream_id == (int32_t)sid) {
        have->last_seen_ns = p->now_ns;
        if (have->gate.max_rate_hz != hz) tp_rate_gate_init(&have->gate, hz);
        send_consumer_config(p, cid, p->ctx.channel, (int32_t)sid, mode);
        return;
    }
    if (have != NULL) {
        pc_close(have);
        free_slot = have;
    }
    if (free_slot == NULL || tp_ipc_publication_open(&free_slot->pub, &p->ipc, p->ctx.channel, (int32_t)sid) != 0) {
        send_consumer_config(p, cid, "", 0, TP_CONTROL_MODE_STREAM);
        send_decline(p, cid, free_slot == NULL ? TP_CONTROL_RESPONSE_CODE_REJECTED : TP_CONTROL_RESPONSE_CODE_INTERNAL_ERROR,
                     free_slot == NULL ? "per-consumer stream limit reached" : "per-consumer stream could not be opened");
        return;
    }
    free_slot->consumer_id = cid;
    free_slot->stream_id = (int32_t)sid;
    free_slot->last_seen_ns = p->now_ns;
    tp_rate_gate_init(&free_slot->gate, hz);
    send_consumer_config(p, cid, p->ctx.channel, (int32_t)sid, mode);
}

/* A ConsumerConfig from the authority (the driver) assigning a per-consumer
 * descriptor stream: publish there too. Our own grants come back here as
 * well and find the publication already open. */
static void on_config(tp_producer_t *p, const uint8_t *buf, size_t len)
{
    tp_control_consumer_config_dec_t m;
    if (tp_control_consumer_config_decode(&m, buf, len) != 0 || tp_control_consumer_config_stream_id(&m) != p->stream_id) return;
    uint32_t clen = 0;
    const char *ch = tp_control_consumer_config_descriptor_channel(&m, &clen);
    const uint32_t sid = tp_control_consumer_config_descriptor_stream_id(&m);
    const uint32_t cid = tp_control_consumer_config_consumer_id(&m);
    if (clen != strlen(p->ctx.channel) || memcmp(ch, p->ctx.channel, clen) != 0 || sid == 0 || sid > INT32_MAX) return;
    /* The driver points a consumer at the shared stream when it has no range
     * (D-11.c): nothing to open, descriptors already go there once. */
    if ((int32_t)sid == p->ctx.descriptor_stream_id) return;
    per_consumer_t *free_slot = NULL;
    for (unsigned i = 0; i < TP_PRODUCER_MAX_PER_CONSUMER; i++) {
        if (p->pc[i].pub != NULL && p->pc[i].consumer_id == cid && p->pc[i].stream_id == (int32_t)sid) {
            p->pc[i].last_seen_ns = p->now_ns;
            return;
        }
        if (p->pc[i].pub == NULL && free_slot == NULL) free_slot = &p->pc[i];
    }
    if (free_slot == NULL || tp_ipc_publication_open(&free_slot->pub, &p->ipc, p->ctx.channel, (int32_t)sid) != 0) return;
    free_slot->consumer_id = cid;
    free_slot->stream_id = (int32_t)sid;
    free_slot->last_seen_ns = p->now_ns;
    tp_rate_gate_init(&free_slot->gate, 0); /* the driver's assignment says STREAM: not paced */
}

/* A consumer's lease ended (detached, expired, revoked): it has disconnected,
 * so its per-consumer streams close now (W-5.c, W-10.1.3.e). The consumer id
 * of Hello/QoS is the consumer's driver client id. */
static void on_other_revoked(void *clientd, uint64_t lease_id, uint32_t client_id, uint8_t role, uint8_t reason)
{
    (void)lease_id;
    (void)reason;
    tp_producer_t *p = clientd;
    if (role != TP_ROLE_CONSUMER) return;
    tp_progress_tx_seen(&p->prog, client_id, 0, p->now_ns);
    for (unsigned i = 0; i < TP_PRODUCER_MAX_PER_CONSUMER; i++)
        if (p->pc[i].pub != NULL && p->pc[i].consumer_id == client_id) pc_close(&p->pc[i]);
}

/* QosConsumer from a consumer with a per-consumer stream counts as a sign of
 * life, like ConsumerHello (W-5.d). */
static void on_qos(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_producer_t *p = clientd;
    tp_control_qos_consumer_dec_t m;
    if (tp_control_qos_consumer_decode(&m, buf, len) != 0 || tp_control_qos_consumer_stream_id(&m) != p->stream_id) return;
    const uint32_t cid = tp_control_qos_consumer_consumer_id(&m);
    tp_progress_tx_seen(&p->prog, cid, 1, p->now_ns);
    for (unsigned i = 0; i < TP_PRODUCER_MAX_PER_CONSUMER; i++)
        if (p->pc[i].pub != NULL && p->pc[i].consumer_id == cid) p->pc[i].last_seen_ns = p->now_ns;
}

static void on_message(void *clientd, const uint8_t *buf, size_t len)
{
    tp_producer_t *p = clientd;
    tp_sbe_header_t h;
    if (!p->active || tp_sbe_header_read(buf, len, &h) != 0 || h.schema_id != TP_CONTROL_SCHEMA_ID) return;
    if (h.template_id == TP_CONTROL_CONSUMER_HELLO_TEMPLATE_ID) on_hello(p, buf, len);
    else if (h.template_id == TP_CONTROL_CONSUMER_CONFIG_TEMPLATE_ID) on_config(p, buf, len);
}

/* TP_TRACE=per-frame turns tracing on, TP_TRACE_NODE picks the node id
 * (default: stream id modulo 1024, TL-D1). */
static void trace_defaults(tp_producer_t *p)
{
    const char *mode = getenv("TP_TRACE");
    const char *node = getenv("TP_TRACE_NODE");
    char *end = NULL;
    unsigned long n = node != NULL ? strtoul(node, &end, 10) : TP_TRACE_MAX_NODE + 1ul;
    if (end == node || (end != NULL && *end != '\0') || n > TP_TRACE_MAX_NODE) n = p->stream_id % (TP_TRACE_MAX_NODE + 1u);
    tp_trace_gen_init(&p->trace_gen, (uint32_t)n);
    p->trace_mode = mode != NULL && strcmp(mode, "per-frame") == 0 ? TP_TRACE_PER_FRAME : TP_TRACE_OFF;
}

int tp_producer_set_tracing(tp_producer_t *p, tp_trace_mode_t mode, int32_t node_id)
{
    if (mode != TP_TRACE_OFF && mode != TP_TRACE_PER_FRAME)
        return tp_err_set(TP_ERR_INVALID_ARG, "producer: trace mode %d is neither off nor per-frame", (int)mode);
    const uint32_t node = node_id < 0 ? p->stream_id % (TP_TRACE_MAX_NODE + 1u) : (uint32_t)node_id;
    if (tp_trace_gen_init(&p->trace_gen, node) != 0) return -1;
    p->trace_mode = mode;
    return 0;
}

tp_trace_mode_t tp_producer_trace_mode(const tp_producer_t *p) { return p->trace_mode; }
uint64_t tp_producer_last_trace_id(const tp_producer_t *p) { return p->last_trace_id; }

void tp_producer_trace_stats(const tp_producer_t *p, uint64_t *links_sent, uint64_t *links_dropped)
{
    if (links_sent != NULL) *links_sent = p->links_sent;
    if (links_dropped != NULL) *links_dropped = p->links_dropped;
}

int tp_producer_open(tp_producer_t **out, const tp_client_context_t *ctx, uint32_t stream_id, int create, const char *name,
                     const char *summary)
{
    *out = NULL;
    tp_producer_t *p = calloc(1, sizeof *p);
    if (p == NULL) return tp_err_set(TP_ERR_CAPACITY, "producer: out of memory");
    p->ctx = *ctx;
    p->now_ns = tp_clock_monotonic_ns();
    p->stream_id = stream_id;
    const char *ts = getenv("TP_PUBLISH_TIMESTAMP");
    p->no_publish_ts = ts != NULL && strcmp(ts, "off") == 0;
    p->meta_msg = malloc(META_CAP);
    snprintf(p->name, sizeof p->name, "%s", name != NULL ? name : "");
    snprintf(p->summary, sizeof p->summary, "%s", summary != NULL ? summary : "");
    trace_defaults(p);
    tp_progress_tx_init(&p->prog);
    tp_control_frame_descriptor_encode_begin(&p->desc_enc, p->desc_tx, sizeof p->desc_tx);
    p->desc_len = tp_control_frame_descriptor_encode_end(&p->desc_enc); /* fixed: cannot fail in 64 bytes */
    tp_ipc_context_init(&p->ipc);
    p->ipc.base_dir = p->ctx.base_dir;
    p->ipc.namespace_name = p->ctx.ns;
    const tp_driver_client_handlers_t h = {
        .clientd = p,
        .on_attached = on_attached,
        .on_lease_lost = on_lease_lost,
        .on_other_revoked = on_other_revoked,
        .on_message = on_message};
    if (p->meta_msg == NULL || tp_client_bases(&p->ctx, &p->bases) != 0 ||
        tp_ipc_publication_open(&p->desc_pub, &p->ipc, p->ctx.channel, p->ctx.descriptor_stream_id) != 0 ||
        tp_ipc_publication_open(&p->qos_pub, &p->ipc, p->ctx.channel, p->ctx.qos_stream_id) != 0 ||
        tp_ipc_subscription_open(&p->qos_sub, &p->ipc, p->ctx.channel, p->ctx.qos_stream_id) != 0 ||
        tp_ipc_publication_open(&p->meta_pub, &p->ipc, p->ctx.channel, p->ctx.metadata_stream_id) != 0 ||
        tp_ipc_publication_open(&p->ctl_pub, &p->ipc, p->ctx.channel, p->ctx.control_stream_id) != 0 ||
        tp_driver_client_open(&p->dc, &p->ctx, stream_id, TP_ROLE_PRODUCER, create ? 2 : 1, &h) != 0) {
        tp_err_wrap("producer");
        tp_producer_close(p);
        return -1;
    }
    *out = p;
    return 0;
}

static void send_qos(tp_producer_t *p)
{
    tp_control_qos_producer_enc_t q;
    tp_control_qos_producer_encode_begin(&q, p->tx, sizeof p->tx);
    tp_control_qos_producer_set_stream_id(&q, p->stream_id);
    tp_control_qos_producer_set_producer_id(&q, tp_driver_client_id(p->dc));
    tp_control_qos_producer_set_epoch(&q, p->epoch);
    tp_control_qos_producer_set_current_seq(&q, p->w.next_seq);
    tp_control_qos_producer_set_watermark(&q, 0xFFFFFFFFu);
    long n = tp_control_qos_producer_encode_end(&q);
    if (n > 0) tp_ipc_publication_offer(p->qos_pub, p->tx, (size_t)n);

    if (p->mirror) return; /* the source's DataSourceAnnounce/Meta stand for ours (RL-6.a) */
    tp_control_data_source_announce_enc_t a;
    tp_control_data_source_announce_encode_begin(&a, p->tx, sizeof p->tx);
    tp_control_data_source_announce_set_stream_id(&a, p->stream_id);
    tp_control_data_source_announce_set_producer_id(&a, tp_driver_client_id(p->dc));
    tp_control_data_source_announce_set_epoch(&a, p->epoch);
    tp_control_data_source_announce_set_meta_version(&a, p->meta_version);
    tp_control_data_source_announce_put_name(&a, p->name, strlen(p->name));
    tp_control_data_source_announce_put_summary(&a, p->summary, strlen(p->summary));
    n = tp_control_data_source_announce_encode_end(&a);
    if (n > 0) tp_ipc_publication_offer(p->meta_pub, p->tx, (size_t)n);
    if (p->meta_len > 0) tp_ipc_publication_offer(p->meta_pub, p->meta_msg, (size_t)p->meta_len); /* periodic repeat */
    tp_meta_blob_out_start(&p->blob); /* and the blob's, paced by do_work */
}

void tp_producer_set_announce(tp_producer_t *p, bool on)
{
    if (p != NULL) p->mirror = !on; /* the same silence as a rate limiter's (RL-6.a) */
}

void tp_producer_set_publish_timestamp(tp_producer_t *p, bool on)
{
    if (p != NULL) p->no_publish_ts = !on;
}

/* Someone else truncated or overwrote our files (the reason is tp_errmsg):
 * give this epoch up and attach anew, which gets a fresh epoch (§3.4 step 12). */
static void give_up_epoch(tp_producer_t *p)
{
    p->faults++;
    snprintf(p->fault, sizeof p->fault, "stream %u epoch %llu: %s", p->stream_id, (unsigned long long)p->epoch,
             tp_errmsg());
    tp_driver_client_reattach(p->dc, p->fault); /* unmaps through on_lease_lost */
}

int tp_producer_do_work(tp_producer_t *p, int64_t now_ns)
{
    p->now_ns = now_ns;
    int work = tp_driver_client_do_work(p->dc, now_ns);
    if (work < 0) return -1;
    const int q = tp_ipc_subscription_poll(p->qos_sub, on_qos, p, 16);
    if (q > 0) work += q;
    if (p->active) work += tp_meta_blob_out_pump(&p->blob, p->meta_pub, p->stream_id);
    if (p->active && now_ns >= p->next_qos_ns && tp_client_writer_check(&p->w, p->epoch) != 0) {
        give_up_epoch(p);
        work++;
    }
    if (p->active && now_ns >= p->next_qos_ns) {
        p->next_qos_ns = now_ns + p->ctx.qos_interval_ns;
        tp_shm_writer_heartbeat(&p->w, (uint64_t)now_ns); /* W-7.1.d, D-3.e */
        send_qos(p);
        /* W-5.d, W-10.1.3.e: no Hello and no QoS for more than 3 intervals;
         * checked once an interval, so closed between 3x and 4x */
        for (unsigned i = 0; i < TP_PRODUCER_MAX_PER_CONSUMER; i++)
            if (p->pc[i].pub != NULL && now_ns - p->pc[i].last_seen_ns > 3 * p->ctx.qos_interval_ns) pc_close(&p->pc[i]);
        work++;
    }
    if (p->active) {
        const tp_progress_out_t o = {p->ctl_pub, p->stream_id, p->epoch};
        tp_progress_tx_do_work(&p->prog, &o, 3 * p->ctx.qos_interval_ns, now_ns);
    }
    return work;
}

int tp_producer_is_active(const tp_producer_t *p) { return p->active; }
uint64_t tp_producer_epoch(const tp_producer_t *p) { return p->active ? p->epoch : 0; }
uint64_t tp_producer_next_seq(const tp_producer_t *p) { return p->w.next_seq; }

uint64_t tp_producer_faults(const tp_producer_t *p, const char **why)
{
    if (why != NULL) *why = p->fault;
    return p->faults;
}
tp_driver_client_t *tp_producer_driver_client(tp_producer_t *p) { return p->dc; }

int tp_producer_claim(tp_producer_t *p, const tp_tensor_header_t *t, uint32_t len, tp_shm_claim_t *c)
{
    if (!p->active) return tp_err_set(TP_ERR_STATE, "producer: not attached");
    return tp_shm_writer_claim(&p->w, t, len, c);
}

int tp_producer_claim_at(tp_producer_t *p, const tp_tensor_header_t *t, uint32_t len, uint64_t seq, tp_shm_claim_t *c)
{
    if (!p->active) return tp_err_set(TP_ERR_STATE, "producer: not attached");
    return tp_shm_writer_claim_at(&p->w, t, len, seq, c);
}

static int commit_with_trace(tp_producer_t *p, tp_shm_claim_t *c, uint64_t timestamp_ns, uint64_t trace_id)
{
    if (!p->active) return tp_err_set(TP_ERR_STATE, "producer: lease lost before commit");
    const tp_progress_out_t o = {p->ctl_pub, p->stream_id, p->epoch};
    const int lost = tp_progress_tx_staged(&p->prog, &o, c) /* progress readers may be copying its header now */
                         ? tp_shm_writer_commit_staged(&p->w, c, timestamp_ns, p->meta_version)
                         : tp_shm_writer_commit(&p->w, c, timestamp_ns, p->meta_version);
    if (lost != 0) { /* the frame went to a mapping lost to a truncate: no descriptor, and no more frames there */
        give_up_epoch(p);
        return -1;
    }
    tp_progress_tx_on_commit(&p->prog, &o, c); /* COMPLETE, if progress was reported (W-10.2.2.a) */
    /* W-10.2.1.g: only now is the descriptor sent; its timestamp is the
     * publish time, taken after commit (W-10.2.1.d) */
    tp_control_frame_descriptor_enc_t *e = &p->desc_enc;
    const uint8_t *buf = p->desc_tx;
    tp_control_frame_descriptor_set_stream_id(e, p->stream_id);
    tp_control_frame_descriptor_set_epoch(e, p->epoch);
    tp_control_frame_descriptor_set_seq(e, c->seq);
    uint64_t ts = 0; /* the clock is read only if the descriptor or a rate gate needs it */
    if (!p->no_publish_ts) ts = (uint64_t)tp_clock_monotonic_ns();
    tp_control_frame_descriptor_set_timestamp_ns(e, ts != 0 ? ts : TP_CONTROL_FRAME_DESCRIPTOR_TIMESTAMP_NS_NULL_VALUE);
    tp_control_frame_descriptor_set_meta_version(e, p->meta_version);
    tp_control_frame_descriptor_set_trace_id(e, trace_id); /* TL-8.1.a: 0 = none */
    p->last_trace_id = trace_id;
    const long n = p->desc_len;
    if (n <= 0) return -1;
    int rc = tp_ipc_publication_offer(p->desc_pub, buf, (size_t)n) > 0 ? 0 : -1;
    for (unsigned i = 0; i < TP_PRODUCER_MAX_PER_CONSUMER; i++) {
        per_consumer_t *pc = &p->pc[i];
        if (pc->pub == NULL) continue;
        if (ts == 0) ts = (uint64_t)tp_clock_monotonic_ns();
        if (!tp_rate_gate_eligible(&pc->gate, ts)) continue; /* W-5.e */
        if (tp_ipc_publication_offer(pc->pub, buf, (size_t)n) > 0) tp_rate_gate_take(&pc->gate, ts);
    }
    return rc;
}

int tp_producer_commit(tp_producer_t *p, tp_shm_claim_t *c, uint64_t timestamp_ns)
{
    /* TL-6.3.a, TL-8.1.b: a root frame gets a fresh id when tracing is on */
    const uint64_t id = p->trace_mode == TP_TRACE_PER_FRAME ? tp_trace_gen_next(&p->trace_gen, tp_clock_realtime_ns()) : 0;
    return commit_with_trace(p, c, timestamp_ns, id);
}

int tp_producer_commit_traced(tp_producer_t *p, tp_shm_claim_t *c, uint64_t timestamp_ns, uint64_t trace_id)
{
    return commit_with_trace(p, c, timestamp_ns, trace_id); /* TL-6.3.b */
}

int tp_producer_commit_derived(tp_producer_t *p, tp_shm_claim_t *c, uint64_t timestamp_ns, const uint64_t *parents,
                               uint32_t parent_count)
{
    if (parent_count == 0) return tp_producer_commit(p, c, timestamp_ns);
    /* TL-6.3.c, TL-8.1.c: a new id for the output, its parents in a TraceLinkSet */
    const uint64_t id = tp_trace_gen_next(&p->trace_gen, tp_clock_realtime_ns());
    const uint64_t epoch = p->epoch;
    const uint64_t seq = c->seq;
    const int rc = commit_with_trace(p, c, timestamp_ns, id);
    if (!p->active) return rc;
    tp_trace_link_t *l = &p->link;
    l->stream_id = p->stream_id;
    l->epoch = epoch;
    l->seq = seq;
    l->trace_id = id;
    l->parent_count = 0;
    for (uint32_t i = 0; i < parent_count; i++)
        if (tp_trace_link_add_parent(l, parents[i]) < 0) break; /* TL-D6: the first 256 */
    /* TL-5.b: best effort, never blocks, the frame stands either way */
    const long n = l->parent_count > 0 ? tp_trace_link_encode(l, p->link_tx, sizeof p->link_tx) : -1;
    if (n > 0 && tp_ipc_publication_offer(p->ctl_pub, p->link_tx, (size_t)n) > 0)
        p->links_sent++;
    else
        p->links_dropped++;
    return rc;
}

int tp_producer_offer(tp_producer_t *p, const tp_tensor_header_t *t, const void *payload, uint32_t len,
                      uint64_t timestamp_ns, uint64_t *seq_out)
{
    tp_shm_claim_t c;
    if (tp_producer_claim(p, t, len, &c) != 0) return -1;
    if (len > 0) memcpy(c.payload, payload, len);
    if (seq_out != NULL) *seq_out = c.seq;
    return tp_producer_commit(p, &c, timestamp_ns);
}

/* ---- FrameProgress (frame_progress.h; the logic is in progress_tx.c) ---- */

int tp_producer_progress(tp_producer_t *p, const tp_shm_claim_t *c, uint64_t bytes_filled)
{
    if (!p->active) return tp_err_set(TP_ERR_STATE, "producer: not attached");
    const tp_progress_out_t o = {p->ctl_pub, p->stream_id, p->epoch};
    return tp_progress_tx_update(&p->prog, &o, &p->w, c, p->meta_version, bytes_filled, tp_clock_monotonic_ns());
}

int tp_producer_set_progress_policy(tp_producer_t *p, const tp_progress_policy_t *policy)
{
    return tp_progress_tx_set_policy(&p->prog, policy);
}

unsigned tp_producer_progress_consumers(const tp_producer_t *p) { return p->prog.npeers; }

void tp_producer_progress_stats(const tp_producer_t *p, uint64_t *sent, uint64_t *throttled)
{
    if (sent != NULL) *sent = p->prog.sent;
    if (throttled != NULL) *throttled = p->prog.throttled;
}

/* Encode a DataSourceMeta of the given version into buf. Length or -1. */
static long encode_meta(const tp_producer_t *p, uint8_t *buf, uint32_t version, const tp_meta_attr_t *attrs, unsigned count)
{
    tp_control_data_source_meta_enc_t e;
    tp_control_data_source_meta_encode_begin(&e, buf, META_CAP);
    tp_control_data_source_meta_set_stream_id(&e, p->stream_id);
    tp_control_data_source_meta_set_meta_version(&e, version);
    tp_control_data_source_meta_set_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    tp_control_data_source_meta_attributes_encode_begin(&e, (uint16_t)count);
    for (unsigned i = 0; i < count; i++) {
        tp_control_data_source_meta_attributes_encode_next(&e);
        tp_control_data_source_meta_attributes_put_key(&e, attrs[i].key, strlen(attrs[i].key));
        tp_control_data_source_meta_attributes_put_format(&e, attrs[i].format, strlen(attrs[i].format));
        tp_control_data_source_meta_attributes_put_value(&e, attrs[i].value, attrs[i].value_len);
    }
    return tp_control_data_source_meta_encode_end(&e);
}

/* Root block: streamId, metaVersion, timestampNs; the attributes follow. */
#define META_ATTRS_AT (8 + 16)

int tp_producer_set_meta(tp_producer_t *p, const tp_meta_attr_t *attrs, unsigned count)
{
    if (count > UINT16_MAX) return tp_err_set(TP_ERR_INVALID_ARG, "producer: too many attributes");
    for (unsigned i = 0; i < count; i++)
        if (attrs[i].key == NULL || attrs[i].key[0] == '\0' || attrs[i].format == NULL ||
            (attrs[i].value == NULL && attrs[i].value_len > 0))
            return tp_err_set(TP_ERR_INVALID_ARG, "producer: attribute %u needs a key, a format and a value", i);
    uint8_t *msg = malloc(META_CAP);
    if (msg == NULL) return tp_err_set(TP_ERR_CAPACITY, "producer: out of memory");
    const long n = encode_meta(p, msg, p->meta_version + 1, attrs, count);
    if (n < 0) {
        free(msg);
        return tp_err_wrap("producer: metadata does not fit in %u bytes", META_CAP);
    }
    if (p->meta_len == n && memcmp(msg + META_ATTRS_AT, p->meta_msg + META_ATTRS_AT, (size_t)n - META_ATTRS_AT) == 0) {
        free(msg); /* the same attributes: no change, no new version (W-10.3.2.b) */
        return 0;
    }
    free(p->meta_msg);
    p->meta_msg = msg;
    p->meta_len = n;
    p->meta_version++; /* W-10.3.2.b: a change bumps meta_version */
    if (p->active) tp_ipc_publication_offer(p->meta_pub, p->meta_msg, (size_t)n);
    return 0;
}

void tp_producer_mirror_meta(tp_producer_t *p, uint32_t meta_version, int quiet)
{
    p->mirror = quiet != 0;
    p->meta_version = meta_version;
}

int tp_producer_set_meta_blob(tp_producer_t *p, uint32_t blob_type, const void *data, uint64_t len)
{
    if (data == NULL && len > 0) return tp_err_set(TP_ERR_INVALID_ARG, "producer: NULL blob");
    if (tp_meta_blob_out_set(&p->blob, blob_type, p->meta_version + 1, data, len, tp_ipc_publication_max_message(p->meta_pub)) != 0)
        return tp_err_wrap("producer");
    /* the blob is metadata: a new one is a new version (W-10.3.2.b), and the
     * DataSourceMeta goes out again under it, attributes unchanged */
    p->meta_version++;
    if (p->meta_len == 0) p->meta_len = encode_meta(p, p->meta_msg, p->meta_version, NULL, 0);
    else tp_sbe_put_u32(p->meta_msg + 8 + 4, p->meta_version);
    if (p->active && p->meta_len > 0) tp_ipc_publication_offer(p->meta_pub, p->meta_msg, (size_t)p->meta_len);
    return 0;
}

uint32_t tp_producer_meta_version(const tp_producer_t *p) { return p->meta_version; }

void tp_producer_close(tp_producer_t *p)
{
    if (p == NULL) return;
    tp_driver_client_close(p->dc); /* unmaps through on_lease_lost, then detaches */
    if (p->active) tp_client_unmap_writer(&p->w);
    for (unsigned i = 0; i < TP_PRODUCER_MAX_PER_CONSUMER; i++) tp_ipc_publication_close(p->pc[i].pub);
    tp_ipc_publication_close(p->desc_pub);
    tp_ipc_publication_close(p->qos_pub);
    tp_ipc_subscription_close(p->qos_sub);
    tp_ipc_publication_close(p->meta_pub);
    tp_ipc_publication_close(p->ctl_pub);
    free(p->meta_msg);
    tp_meta_blob_out_free(&p->blob);
    free(p);
}
