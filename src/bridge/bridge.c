/* The bridge agent: sender and receiver mappings over one payload and one
 * control channel (docs/spec/bridge.md §2-§8). */
#include "tensorpool/bridge.h"

#include "tensorpool/codec/bridge.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/tracelink.h"
#include "tensorpool/clock.h"
#include "tensorpool/consumer.h"
#include "tensorpool/error.h"
#include "tensorpool/frame_progress.h"
#include "tensorpool/ipc.h"
#include "tensorpool/producer.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_seqlock.h"
#include "tensorpool/trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of chunk 0 besides its payload: message header, root block, two
 * var-data lengths, the 256 header bytes and a CRC trailer; and Aeron's
 * 32-byte frame header, all inside one MTU (BR-5.2.i). */
#define CHUNK0_OVERHEAD (8u + 49u + 4u + 256u + 4u + 4u)
#define AERON_FRAME_HEADER 32u
/* The largest forwarded metadata message the receiver republishes (a
 * producer's DataSourceMeta is at most 32 KiB); larger ones are dropped. */
#define FWD_MAX (64u * 1024u)

typedef struct mapping_s {
    tp_bridge_t *b;
    tp_bridge_mapping_t m;
    tp_bridge_counters_t n;
    /* send */
    tp_consumer_t *cons;
    /* receive */
    tp_producer_t *prod;
    tp_bridge_asm_t *as;
    tp_shm_claim_t claim;
    bool claimed;
    bool prog_tensor; /* BR-P11: claim.tensor is the frame's own (from chunk 0) */
    uint64_t prog_filled; /* BR-P11: prefix last reported for the claim */
    bool reopen;    /* source epoch changed: attach again for a new local epoch */
    /* BR-4.a, BR-P9: the destination held by another producer */
    bool ranged;           /* dest_stream_id came from the range: may move on */
    bool failed;           /* held and nowhere to go: the mapping stopped */
    int64_t busy_since;    /* first refusal of this attempt, 0 = none */
    uint64_t refused_seen; /* the driver client's refusal count last looked at */
} mapping_t;

struct tp_bridge_s {
    tp_bridge_config_t cfg;
    tp_client_context_t ctx;
    tp_ipc_context_t ipc;
    uint32_t unit;
    int64_t now;
    bool any_send, any_recv;
    tp_ipc_publication_t *payload_pub, *control_pub; /* send */
    tp_ipc_subscription_t *announce_sub;             /* send: local announces */
    tp_ipc_subscription_t *payload_sub, *control_sub; /* receive */
    /* BR-7.1: metadata and TraceLinkSet forwarding */
    tp_ipc_subscription_t *local_meta_sub, *local_ctl_sub; /* send: local metadata / control (if not the announce stream) */
    tp_ipc_publication_t *metadata_pub;                    /* send */
    tp_ipc_subscription_t *metadata_sub;                   /* receive */
    tp_ipc_publication_t *local_meta_pub, *local_ctl_pub;  /* receive: republish */
    tp_ipc_subscription_t *local_qos_sub;                  /* send: BR-9.b */
    tp_ipc_publication_t *local_qos_pub;                   /* receive: BR-9.b */
    uint8_t fwd[FWD_MAX];
    uint8_t header[TP_BRIDGE_HEADER_BYTES];
    mapping_t maps[TP_BRIDGE_MAX_MAPPINGS];
};

void tp_bridge_config_init(tp_bridge_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->instance_id, sizeof cfg->instance_id, "bridge");
    cfg->payload_stream_id = 50000;
    cfg->control_stream_id = 50001;
    cfg->mtu_bytes = 1408;
    cfg->max_chunk_bytes = 65535;
    cfg->max_payload_bytes = TP_BRIDGE_MAX_PAYLOAD;
    cfg->assembly_timeout_ms = 250;
    cfg->send_timeout_ms = 100;
    cfg->dest_busy_timeout_ms = 10000;
}

uint32_t tp_bridge_config_chunk_unit(const tp_bridge_config_t *cfg)
{
    if (cfg->mtu_bytes <= AERON_FRAME_HEADER + CHUNK0_OVERHEAD)
        return 0;
    uint32_t u = cfg->mtu_bytes - AERON_FRAME_HEADER - CHUNK0_OVERHEAD;
    if (cfg->chunk_bytes != 0 && cfg->chunk_bytes < u)
        u = cfg->chunk_bytes;
    if (cfg->max_chunk_bytes < u)
        u = cfg->max_chunk_bytes;
    return u;
}

static bool ids_clash(uint32_t lo, uint32_t hi, uint32_t id) { return id >= lo && id <= hi; }

int tp_bridge_config_validate(const tp_bridge_config_t *cfg)
{
    if (cfg->payload_channel[0] == '\0' || cfg->control_channel[0] == '\0')
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: payload_channel and control_channel are required");
    if (cfg->payload_stream_id <= 0 || cfg->control_stream_id <= 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: payload_stream_id and control_stream_id must be > 0");
    if (strcmp(cfg->payload_channel, cfg->control_channel) == 0 && cfg->payload_stream_id == cfg->control_stream_id)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: payload and control share channel and stream id %d",
                          cfg->payload_stream_id);
    if (tp_bridge_config_chunk_unit(cfg) == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: mtu_bytes %u leaves no room for a chunk (min %u)", cfg->mtu_bytes,
                          AERON_FRAME_HEADER + CHUNK0_OVERHEAD + 1);
    if (cfg->max_chunk_bytes == 0 || cfg->max_chunk_bytes > 65535)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: max_chunk_bytes %u outside 1..65535", cfg->max_chunk_bytes);
    if (cfg->max_payload_bytes == 0 || cfg->max_payload_bytes > TP_BRIDGE_MAX_PAYLOAD)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: max_payload_bytes %u outside 1..2^30", cfg->max_payload_bytes);
    if (cfg->assembly_timeout_ms == 0 || cfg->dest_busy_timeout_ms == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: assembly_timeout_ms and dest_busy_timeout_ms must be > 0");
    if (cfg->nmappings == 0 || cfg->nmappings > TP_BRIDGE_MAX_MAPPINGS)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: 1..%u mappings required, %u given", TP_BRIDGE_MAX_MAPPINGS,
                          cfg->nmappings);
    if ((cfg->forward_metadata || cfg->forward_tracelink) &&
        (cfg->metadata_channel[0] == '\0' || cfg->metadata_stream_id <= 0)) /* BR-7.1.a: fail fast */
        return tp_err_set(TP_ERR_INVALID_ARG,
                          "bridge: forward_metadata/forward_tracelink need metadata_channel and metadata_stream_id");
    if (cfg->metadata_channel[0] != '\0' &&
        ((strcmp(cfg->metadata_channel, cfg->payload_channel) == 0 && cfg->metadata_stream_id == cfg->payload_stream_id) ||
         (strcmp(cfg->metadata_channel, cfg->control_channel) == 0 && cfg->metadata_stream_id == cfg->control_stream_id)))
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: metadata shares channel and stream id %d with payload or control",
                          cfg->metadata_stream_id);
    const uint32_t lo = cfg->dest_range_lo, hi = cfg->dest_range_hi;
    if (lo > hi)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: dest_stream_id_range %u-%u is empty", lo, hi);
    if (hi != 0 && (ids_clash(lo, hi, (uint32_t)cfg->payload_stream_id) || ids_clash(lo, hi, (uint32_t)cfg->control_stream_id)))
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: dest_stream_id_range %u-%u overlaps the bridge's own stream ids", lo,
                          hi); /* BR-4.b */
    for (unsigned i = 0; i < cfg->nmappings; i++) {
        const tp_bridge_mapping_t *m = &cfg->mappings[i];
        if (m->direction != TP_BRIDGE_SEND && m->direction != TP_BRIDGE_RECEIVE)
            return tp_err_set(TP_ERR_INVALID_ARG, "bridge: mapping %u: direction must be send or receive", i);
        if (m->source_stream_id == 0)
            return tp_err_set(TP_ERR_INVALID_ARG, "bridge: mapping %u: source_stream_id must be > 0", i);
        if (m->direction == TP_BRIDGE_RECEIVE && m->dest_stream_id == 0 && hi == 0)
            return tp_err_set(TP_ERR_INVALID_ARG, "bridge: mapping %u: dest_stream_id 0 needs dest_stream_id_range", i);
        if (m->direction == TP_BRIDGE_RECEIVE && m->dest_stream_id != 0 && hi != 0 && ids_clash(lo, hi, m->dest_stream_id))
            return tp_err_set(TP_ERR_INVALID_ARG, "bridge: mapping %u: dest_stream_id %u lies inside dest_stream_id_range", i,
                              m->dest_stream_id);
        for (unsigned k = 0; k < i; k++) {
            const tp_bridge_mapping_t *o = &cfg->mappings[k];
            if (o->direction == m->direction && o->source_stream_id == m->source_stream_id)
                return tp_err_set(TP_ERR_INVALID_ARG, "bridge: mappings %u and %u both %s stream %u", k, i,
                                  m->direction == TP_BRIDGE_SEND ? "send" : "receive", m->source_stream_id);
            if (m->direction == TP_BRIDGE_RECEIVE && o->direction == TP_BRIDGE_RECEIVE && m->dest_stream_id != 0 &&
                o->dest_stream_id == m->dest_stream_id)
                return tp_err_set(TP_ERR_INVALID_ARG, "bridge: mappings %u and %u both produce stream %u", k, i,
                                  m->dest_stream_id);
        }
    }
    return 0;
}

/* BR-4.b: the lowest id of the range from `from` on that no fixed mapping
 * and no other allocation (maps[0..upto) but self) uses. */
static uint32_t allocate_dest(const tp_bridge_config_t *cfg, const mapping_t *maps, unsigned upto, const mapping_t *self,
                              uint32_t from)
{
    for (uint32_t id = from > cfg->dest_range_lo ? from : cfg->dest_range_lo; id != 0 && id <= cfg->dest_range_hi; id++) {
        bool used = false;
        for (unsigned i = 0; i < cfg->nmappings && !used; i++)
            used = cfg->mappings[i].direction == TP_BRIDGE_RECEIVE && cfg->mappings[i].dest_stream_id == id;
        for (unsigned i = 0; i < upto && !used; i++)
            used = &maps[i] != self && maps[i].m.direction == TP_BRIDGE_RECEIVE && maps[i].m.dest_stream_id == id;
        if (!used)
            return id;
        if (id == UINT32_MAX)
            break;
    }
    return 0;
}

/* ---- receiver: the assembler's sink is the local producer ---- */

static uint8_t *acquire_slot(void *ctx, uint64_t epoch, uint64_t seq, uint32_t len)
{
    (void)epoch;
    mapping_t *m = ctx;
    if (m->prod == NULL || m->reopen || !tp_producer_is_active(m->prod))
        return NULL;
    /* A stand-in tensor for the claim (1-D bytes); the frame's own header,
     * checked by the assembler, replaces it at commit. */
    tp_tensor_header_t t;
    const int32_t dims[1] = {(int32_t)len};
    if (tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims) != 0)
        return NULL;
    if (tp_producer_claim_at(m->prod, &t, len, seq, &m->claim) != 0)
        return NULL; /* behind the stream (a source restart before its announce) or fits no pool */
    m->claimed = true;
    m->prog_tensor = false;
    m->prog_filled = 0;
    static uint8_t empty[1];
    return m->claim.payload != NULL ? m->claim.payload : empty;
}

static void release_slot(void *ctx, uint8_t *buf)
{
    (void)buf;
    mapping_t *m = ctx;
    m->claimed = false; /* the slot stays marked in progress; no descriptor names it */
}

static void commit_frame(mapping_t *m, const tp_bridge_frame_t *f)
{
    if (!m->claimed || m->claim.seq != f->seq)
        return;
    tp_slot_header_t h;
    tp_slot_header_read(f->header, &h);
    m->claim.tensor = h.tensor; /* BR-6.e: the source's tensor; pool and slot stay local */
    m->claimed = false;
    /* BR-6.f, BR-7.a: commit, then the descriptor with the chunks' traceId */
    if (tp_producer_commit_traced(m->prod, &m->claim, h.timestamp_ns, f->trace_id) == 0)
        m->n.frames_rebuilt++;
    else
        m->n.drops[TP_BRIDGE_DROP_NO_SLOT]++;
}

/* BR-9.a as BR-P11 builds it: not the source's FrameProgress relayed, but
 * this host's own for the destination stream, through the producer's
 * progress path (opt-in, throttle, hints). The claimed slot gets the
 * frame's header on the first report, and bytes_filled never passes the
 * chunks written in order from offset 0. */
static void report_progress(mapping_t *m, const tp_bridge_chunk_t *c)
{
    if (!m->claimed || m->claim.seq != c->seq || m->prod == NULL)
        return;
    const uint8_t *hb = NULL;
    const uint64_t filled = tp_bridge_asm_prefix(m->as, c->epoch, c->seq, &hb);
    if (filled <= m->prog_filled)
        return;
    if (!m->prog_tensor) {
        tp_slot_header_t h;
        tp_slot_header_read(hb, &h);
        m->claim.tensor = h.tensor; /* the staged header describes the real frame */
        m->prog_tensor = true;
    }
    if (tp_producer_progress(m->prod, &m->claim, filled) >= 0)
        m->prog_filled = filled;
}

static mapping_t *recv_map(tp_bridge_t *b, uint32_t source)
{
    for (unsigned i = 0; i < b->cfg.nmappings; i++)
        if (b->maps[i].m.direction == TP_BRIDGE_RECEIVE && b->maps[i].m.source_stream_id == source)
            return &b->maps[i];
    return NULL;
}

static void on_chunk(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_bridge_t *b = clientd;
    tp_bridge_chunk_t c;
    if (tp_bridge_chunk_parse(buf, len, b->cfg.crc32c, &c) != 0) {
        /* count it against the stream it names, if it names one of ours */
        mapping_t *m = len >= 12 ? recv_map(b, tp_sbe_get_u32(buf + 8)) : NULL;
        if (m != NULL) {
            const bool crc_only = b->cfg.crc32c && tp_bridge_chunk_parse(buf, len, false, &c) == 0;
            m->n.drops[crc_only ? TP_BRIDGE_DROP_CRC : TP_BRIDGE_DROP_MALFORMED]++;
        }
        return;
    }
    mapping_t *m = recv_map(b, c.stream_id);
    if (m == NULL || m->as == NULL)
        return;
    m->n.chunks_received++;
    tp_bridge_frame_t f;
    const tp_bridge_result_t r = tp_bridge_asm_on_chunk(m->as, &c, (uint64_t)b->now, &f, NULL);
    if (r == TP_BRIDGE_COMPLETE)
        commit_frame(m, &f);
    else if (r == TP_BRIDGE_PENDING && b->cfg.forward_progress)
        report_progress(m, &c);
}

/* ---- QoS forwarding (BR-9.b) ---- */

static bool qos_kind(const tp_sbe_header_t *h)
{
    return h->schema_id == TP_CONTROL_SCHEMA_ID && (h->template_id == TP_CONTROL_QOS_PRODUCER_TEMPLATE_ID ||
                                                    h->template_id == TP_CONTROL_QOS_CONSUMER_TEMPLATE_ID);
}

/* A QosProducer/QosConsumer checked in full by its decoder; both carry
 * streamId at root offset 0. */
static bool qos_valid(const uint8_t *buf, size_t len)
{
    tp_control_qos_producer_dec_t p;
    tp_control_qos_consumer_dec_t c;
    return tp_control_qos_producer_decode(&p, buf, len) == 0 || tp_control_qos_consumer_decode(&c, buf, len) == 0;
}

/* Receiver: a forwarded QoS message goes out on this host's QoS stream with
 * streamId rewritten to the destination, every other field kept. */
static void republish_qos(tp_bridge_t *b, const uint8_t *buf, size_t len)
{
    mapping_t *m = len >= 12 ? recv_map(b, tp_sbe_get_u32(buf + 8)) : NULL;
    if (m == NULL || !b->cfg.forward_qos || m->failed)
        return;
    if (!qos_valid(buf, len) || len > sizeof b->fwd) {
        m->n.forward_dropped++;
        return;
    }
    memcpy(b->fwd, buf, len);
    tp_sbe_put_u32(b->fwd + 8, m->m.dest_stream_id);
    if (tp_ipc_publication_offer(b->local_qos_pub, b->fwd, len) > 0)
        m->n.qos_republished++;
    else
        m->n.forward_dropped++;
}

/* Sender: QoS of a mapped source stream from this host's QoS stream onto
 * the bridge control channel, unchanged. */
static void on_local_qos(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_bridge_t *b = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0 || !qos_kind(&h) || !qos_valid(buf, len))
        return;
    const uint32_t s = tp_sbe_get_u32(buf + 8);
    for (unsigned i = 0; i < b->cfg.nmappings; i++) {
        mapping_t *m = &b->maps[i];
        if (m->m.direction == TP_BRIDGE_SEND && m->m.source_stream_id == s &&
            tp_ipc_publication_offer(b->control_pub, buf, len) > 0)
            m->n.qos_forwarded++;
    }
}

/* A forwarded ShmPoolAnnounce (BR-7.2.a); schema id first (BR-7.2.b). */
static void on_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_bridge_t *b = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0 || h.schema_id != TP_CONTROL_SCHEMA_ID)
        return;
    if (qos_kind(&h)) {
        republish_qos(b, buf, len);
        return;
    }
    tp_control_shm_pool_announce_dec_t d;
    if (h.template_id != TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID || tp_control_shm_pool_announce_decode(&d, buf, len) != 0)
        return;
    mapping_t *m = recv_map(b, tp_control_shm_pool_announce_stream_id(&d));
    if (m == NULL || m->as == NULL)
        return;
    tp_bridge_announce_t a;
    memset(&a, 0, sizeof a);
    a.epoch = tp_control_shm_pool_announce_epoch(&d);
    tp_control_shm_pool_announce_payload_pools_iter_t it;
    tp_control_shm_pool_announce_payload_pools_iter(&d, &it);
    while (tp_control_shm_pool_announce_payload_pools_next(&it) > 0 && a.npools < TP_BRIDGE_MAX_POOLS) {
        a.pool_id[a.npools] = tp_control_shm_pool_announce_payload_pools_pool_id(&it);
        a.stride[a.npools] = tp_control_shm_pool_announce_payload_pools_stride_bytes(&it);
        a.npools++;
    }
    if (m->n.source_epoch != 0 && a.epoch > m->n.source_epoch)
        m->reopen = true; /* BR-8.a: the source's seq starts again; so does a new local epoch */
    if (a.epoch >= m->n.source_epoch)
        m->n.source_epoch = a.epoch;
    tp_bridge_asm_set_announce(m->as, &a);
}

/* ---- sender ---- */

/* Claim len bytes, waiting out back-pressure until the deadline. */
/* Back-pressure is waited out per chunk, not per frame: a large frame that
 * keeps moving at the link's pace is never given up, one that stops moving
 * for send_timeout_ms is. The clock is read only once a claim is refused. */
static int claim(tp_bridge_t *b, mapping_t *m, size_t len, tp_ipc_claim_t *c)
{
    int64_t deadline = 0;
    for (;;) {
        if (tp_ipc_publication_try_claim(b->payload_pub, len, c) == 0)
            return 0;
        const int64_t now = tp_clock_monotonic_ns();
        if (deadline == 0) deadline = now + (int64_t)b->cfg.send_timeout_ms * 1000000;
        if (tp_errcode() != TP_ERR_CAPACITY || now > deadline) {
            m->n.send_aborted++;
            return -1;
        }
    }
}

static void send_frame(void *clientd, const tp_frame_t *f)
{
    mapping_t *m = clientd;
    tp_bridge_t *b = m->b;
    const uint32_t unit = b->unit, len = f->len;
    const uint32_t n = len == 0 ? 1 : (uint32_t)(((uint64_t)len + unit - 1) / unit);
    if (n > TP_BRIDGE_MAX_CHUNKS || len > b->cfg.max_payload_bytes) {
        m->n.send_aborted++;
        return;
    }
    /* The 256 header bytes as the slot holds them, committed (BR-5.2.c). */
    memset(b->header, 0, sizeof b->header);
    tp_slot_header_write(b->header, f->header);
    const uint64_t commit = tp_seq_committed(f->seq);
    memcpy(b->header, &commit, sizeof commit);
    tp_bridge_chunk_t c = {
        .stream_id = m->m.source_stream_id,
        .epoch = f->epoch,
        .seq = f->seq,
        .trace_id = f->trace_id, /* BR-5.2.j */
        .chunk_count = n,
        .payload_length = len,
    };
    for (uint32_t i = 0; i < n; i++) {
        c.chunk_index = i;
        c.chunk_offset = i * unit;
        c.chunk_length = i + 1 < n ? unit : len - i * unit;
        c.header_included = i == 0;
        c.header = i == 0 ? b->header : NULL;
        c.header_len = i == 0 ? TP_BRIDGE_HEADER_BYTES : 0;
        c.payload = f->payload != NULL ? f->payload + c.chunk_offset : NULL;
        c.payload_len = c.chunk_length;
        const size_t size = tp_bridge_chunk_size(i == 0, c.chunk_length, b->cfg.crc32c);
        tp_ipc_claim_t cl;
        if (claim(b, m, size, &cl) != 0)
            return; /* the receiver drops the partial frame (missing/timeout) */
        /* The one copy: from the mapped pool straight into Aeron's term. */
        if (tp_bridge_chunk_encode(&c, b->cfg.crc32c, cl.data, cl.length) < 0) {
            tp_ipc_publication_abort(b->payload_pub, &cl);
            m->n.send_aborted++;
            return;
        }
        /* Before the last chunk goes out, make sure nothing read was being
         * overwritten: a lapped frame never completes on the far side. */
        if (i + 1 == n && !tp_frame_intact(f)) {
            tp_ipc_publication_abort(b->payload_pub, &cl);
            m->n.send_aborted++;
            return;
        }
        tp_ipc_publication_commit(b->payload_pub, &cl);
        m->n.chunks_sent++;
    }
    m->n.frames_sent++;
    m->n.bytes_sent += len;
}

/* ---- metadata and TraceLinkSet forwarding (BR-7.1) ---- */

typedef enum fwd_kind_e { FWD_MALFORMED = -1, FWD_OTHER = 0, FWD_META = 1, FWD_TRACE = 2 } fwd_kind_t;

/* What buf is, decided by schemaId first (BR-7.2.b, TL-13.a) and checked in
 * full by its decoder; *stream is the stream id it names. */
static fwd_kind_t fwd_classify(const uint8_t *buf, size_t len, uint32_t *stream)
{
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0)
        return FWD_MALFORMED;
    *stream = len >= 12 ? tp_sbe_get_u32(buf + 8) : 0;
    if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID) {
        tp_control_data_source_announce_dec_t d;
        return tp_control_data_source_announce_decode(&d, buf, len) == 0 ? FWD_META : FWD_MALFORMED;
    }
    if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_DATA_SOURCE_META_TEMPLATE_ID) {
        tp_control_data_source_meta_dec_t d;
        return tp_control_data_source_meta_decode(&d, buf, len) == 0 ? FWD_META : FWD_MALFORMED;
    }
    if (h.schema_id == TP_TRACELINK_SCHEMA_ID) {
        tp_trace_link_t l;
        return tp_trace_link_decode(&l, buf, len) == 0 ? FWD_TRACE : FWD_MALFORMED;
    }
    return FWD_OTHER;
}

static bool fwd_enabled(const tp_bridge_t *b, fwd_kind_t k)
{
    return (k == FWD_META && b->cfg.forward_metadata) || (k == FWD_TRACE && b->cfg.forward_tracelink);
}

/* Sender: a local metadata message or TraceLinkSet of a mapped source
 * stream goes out unchanged on the metadata channel; others stay home. */
static void forward_local(tp_bridge_t *b, const uint8_t *buf, size_t len)
{
    uint32_t s = 0;
    const fwd_kind_t k = fwd_classify(buf, len, &s);
    if (!fwd_enabled(b, k))
        return;
    for (unsigned i = 0; i < b->cfg.nmappings; i++) {
        mapping_t *m = &b->maps[i];
        if (m->m.direction == TP_BRIDGE_SEND && m->m.source_stream_id == s &&
            tp_ipc_publication_offer(b->metadata_pub, buf, len) > 0) {
            if (k == FWD_META)
                m->n.metadata_forwarded++;
            else
                m->n.tracelinks_forwarded++;
        }
    }
}

static void on_local_forward(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    forward_local(clientd, buf, len);
}

/* Receiver: republish on this host's metadata stream (DataSourceAnnounce,
 * DataSourceMeta) or control stream (TraceLinkSet, where TL-D3 puts them)
 * with stream_id, at root offset 0 of all three, rewritten (BR-7.1.a/b);
 * meta_version and everything else kept. */
static void on_metadata(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_bridge_t *b = clientd;
    uint32_t s = 0;
    const fwd_kind_t k = fwd_classify(buf, len, &s);
    mapping_t *m = recv_map(b, s);
    if (m == NULL || m->failed)
        return; /* not for a stream this receiver maps (or one that stopped) */
    if (k == FWD_MALFORMED || k == FWD_OTHER || len > sizeof b->fwd) {
        m->n.forward_dropped++;
        return;
    }
    if (!fwd_enabled(b, k))
        return;
    memcpy(b->fwd, buf, len);
    tp_sbe_put_u32(b->fwd + 8, m->m.metadata_stream_id != 0 ? m->m.metadata_stream_id : m->m.dest_stream_id);
    if (tp_ipc_publication_offer(k == FWD_META ? b->local_meta_pub : b->local_ctl_pub, b->fwd, len) <= 0)
        m->n.forward_dropped++;
    else if (k == FWD_META)
        m->n.metadata_republished++;
    else
        m->n.tracelinks_republished++;
}

/* Local announces of the mapped source streams go to the control channel;
 * TraceLinkSets on the same stream go to the metadata channel. */
static void on_local_announce(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_bridge_t *b = clientd;
    tp_sbe_header_t h;
    if (b->cfg.forward_tracelink && tp_sbe_header_read(buf, len, &h) == 0 && h.schema_id == TP_TRACELINK_SCHEMA_ID) {
        forward_local(b, buf, len);
        return;
    }
    tp_control_shm_pool_announce_dec_t d;
    if (tp_control_shm_pool_announce_decode(&d, buf, len) != 0)
        return;
    const uint32_t s = tp_control_shm_pool_announce_stream_id(&d);
    for (unsigned i = 0; i < b->cfg.nmappings; i++) {
        mapping_t *m = &b->maps[i];
        if (m->m.direction == TP_BRIDGE_SEND && m->m.source_stream_id == s &&
            tp_ipc_publication_offer(b->control_pub, buf, len) > 0)
            m->n.announces_forwarded++;
    }
}

/* ---- lifecycle ---- */

static int open_receiver(tp_bridge_t *b, mapping_t *m)
{
    m->busy_since = 0;
    m->refused_seen = 0;
    if (tp_producer_open(&m->prod, &b->ctx, m->m.dest_stream_id, 1, b->cfg.instance_id, "bridged stream") != 0)
        return -1;
    /* BR-P8: with the source's announce forwarded onto this very stream id,
     * that one is the stream's only DataSourceAnnounce. */
    const uint32_t meta = m->m.metadata_stream_id != 0 ? m->m.metadata_stream_id : m->m.dest_stream_id;
    if (b->cfg.forward_metadata && meta == m->m.dest_stream_id)
        tp_producer_set_announce(m->prod, false);
    return 0;
}

static void event(tp_bridge_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(tp_bridge_t *b, const char *fmt, ...)
{
    if (b->cfg.on_event == NULL)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->cfg.on_event(b->cfg.event_clientd, msg);
}

/* BR-4.a, BR-P9: the local driver keeps refusing the destination because
 * another producer holds it. After dest_busy_timeout_ms a ranged mapping
 * moves to the next free id of the range; a fixed one (or a ranged one with
 * no id left) stops, and says so. */
static void check_dest(tp_bridge_t *b, mapping_t *m, unsigned idx)
{
    if (m->prod == NULL || m->failed)
        return;
    if (tp_producer_is_active(m->prod)) {
        m->busy_since = 0;
        return;
    }
    tp_driver_client_t *dc = tp_producer_driver_client(m->prod);
    const char *why = NULL;
    tp_driver_client_last_code(dc, &why);
    tp_driver_client_stats_t st;
    tp_driver_client_stats(dc, &st);
    if (why == NULL || strstr(why, "producer already attached") == NULL) {
        m->busy_since = 0;
        return;
    }
    if (st.refused > m->refused_seen) { /* a fresh refusal, not an old answer */
        m->refused_seen = st.refused;
        if (m->busy_since == 0)
            m->busy_since = b->now;
    }
    if (m->busy_since == 0 || b->now - m->busy_since < (int64_t)b->cfg.dest_busy_timeout_ms * 1000000)
        return;
    const uint32_t old = m->m.dest_stream_id;
    const uint32_t next = m->ranged && old < UINT32_MAX ? allocate_dest(&b->cfg, b->maps, b->cfg.nmappings, m, old + 1) : 0;
    tp_bridge_asm_reset(m->as, TP_BRIDGE_DROP_NO_SLOT);
    tp_producer_close(m->prod);
    m->prod = NULL;
    if (next != 0) {
        m->m.dest_stream_id = m->n.dest_stream_id = next;
        m->n.dest_remaps++;
        event(b, "mapping %u: stream %u already has a producer on this host; now producing stream %u (BR-4.a)", idx, old,
              next);
        if (open_receiver(b, m) == 0)
            return;
    }
    m->failed = true;
    m->n.dest_failed = 1;
    event(b, "mapping %u: stream %u already has a producer on this host and %s; mapping stopped (BR-4.a)", idx, old,
          m->ranged ? "dest_stream_id_range has no free id left" : "dest_stream_id is fixed");
}

int tp_bridge_open(tp_bridge_t **out, const tp_client_context_t *ctx, const tp_bridge_config_t *cfg)
{
    if (out == NULL || ctx == NULL || cfg == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: NULL argument");
    if (tp_bridge_config_validate(cfg) != 0)
        return -1;
    tp_bridge_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return tp_err_set(TP_ERR_CAPACITY, "bridge: out of memory");
    b->cfg = *cfg;
    b->ctx = *ctx;
    b->unit = tp_bridge_config_chunk_unit(cfg);
    b->now = tp_clock_monotonic_ns();
    tp_ipc_context_init(&b->ipc);
    b->ipc.base_dir = b->ctx.base_dir;
    b->ipc.namespace_name = b->ctx.ns;
    for (unsigned i = 0; i < cfg->nmappings; i++) {
        mapping_t *m = &b->maps[i];
        m->b = b;
        m->m = cfg->mappings[i];
        m->ranged = m->m.direction == TP_BRIDGE_RECEIVE && m->m.dest_stream_id == 0;
        if (m->ranged)
            m->m.dest_stream_id = allocate_dest(cfg, b->maps, i, m, 0);
        m->n.direction = m->m.direction;
        m->n.source_stream_id = m->m.source_stream_id;
        m->n.dest_stream_id = m->m.dest_stream_id;
        b->any_send |= m->m.direction == TP_BRIDGE_SEND;
        b->any_recv |= m->m.direction == TP_BRIDGE_RECEIVE;
    }
    int rc = 0;
    if (b->any_send) {
        const int32_t ann = b->ctx.announce_stream_id != 0 ? b->ctx.announce_stream_id : b->ctx.control_stream_id;
        rc |= tp_ipc_publication_open(&b->payload_pub, &b->ipc, cfg->payload_channel, cfg->payload_stream_id);
        rc |= rc ? rc : tp_ipc_publication_open(&b->control_pub, &b->ipc, cfg->control_channel, cfg->control_stream_id);
        rc |= rc ? rc : tp_ipc_subscription_open(&b->announce_sub, &b->ipc, b->ctx.channel, ann);
        if (rc == 0 && (cfg->forward_metadata || cfg->forward_tracelink))
            rc = tp_ipc_publication_open(&b->metadata_pub, &b->ipc, cfg->metadata_channel, cfg->metadata_stream_id);
        if (rc == 0 && cfg->forward_metadata)
            rc = tp_ipc_subscription_open(&b->local_meta_sub, &b->ipc, b->ctx.channel, b->ctx.metadata_stream_id);
        if (rc == 0 && cfg->forward_tracelink && ann != b->ctx.control_stream_id)
            rc = tp_ipc_subscription_open(&b->local_ctl_sub, &b->ipc, b->ctx.channel, b->ctx.control_stream_id);
        if (rc == 0 && cfg->forward_qos)
            rc = tp_ipc_subscription_open(&b->local_qos_sub, &b->ipc, b->ctx.channel, b->ctx.qos_stream_id);
    }
    if (rc == 0 && b->any_recv) {
        rc |= tp_ipc_subscription_open(&b->payload_sub, &b->ipc, cfg->payload_channel, cfg->payload_stream_id);
        rc |= rc ? rc : tp_ipc_subscription_open(&b->control_sub, &b->ipc, cfg->control_channel, cfg->control_stream_id);
        if (rc == 0 && (cfg->forward_metadata || cfg->forward_tracelink))
            rc = tp_ipc_subscription_open(&b->metadata_sub, &b->ipc, cfg->metadata_channel, cfg->metadata_stream_id);
        if (rc == 0 && cfg->forward_metadata)
            rc = tp_ipc_publication_open(&b->local_meta_pub, &b->ipc, b->ctx.channel, b->ctx.metadata_stream_id);
        if (rc == 0 && cfg->forward_tracelink)
            rc = tp_ipc_publication_open(&b->local_ctl_pub, &b->ipc, b->ctx.channel, b->ctx.control_stream_id);
        if (rc == 0 && cfg->forward_qos)
            rc = tp_ipc_publication_open(&b->local_qos_pub, &b->ipc, b->ctx.channel, b->ctx.qos_stream_id);
    }
    for (unsigned i = 0; rc == 0 && i < cfg->nmappings; i++) {
        mapping_t *m = &b->maps[i];
        if (m->m.direction == TP_BRIDGE_SEND) {
            rc = tp_consumer_open(&m->cons, &b->ctx, m->m.source_stream_id, 0);
            continue;
        }
        if (m->m.dest_stream_id == 0) {
            rc = tp_err_set(TP_ERR_CAPACITY, "bridge: mapping %u: dest_stream_id_range %u-%u has no free id", i,
                            cfg->dest_range_lo, cfg->dest_range_hi);
            break;
        }
        tp_bridge_asm_config_t ac;
        tp_bridge_asm_config_init(&ac, m->m.source_stream_id);
        ac.max_chunk_bytes = b->unit;
        ac.max_payload_bytes = cfg->max_payload_bytes;
        ac.timeout_ns = (uint64_t)cfg->assembly_timeout_ms * 1000000u;
        ac.assemblies = 1; /* one claim per destination stream at a time */
        ac.crc32c = cfg->crc32c;
        const tp_bridge_sink_t sink = {acquire_slot, release_slot, m};
        rc = tp_bridge_asm_init(&m->as, &ac, &sink);
        if (rc == 0)
            rc = open_receiver(b, m);
    }
    if (rc != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", tp_errmsg());
        tp_bridge_close(b);
        return tp_err_set(TP_ERR_STATE, "%s", why);
    }
    *out = b;
    return 0;
}

int tp_bridge_do_work(tp_bridge_t *b, int64_t now_ns)
{
    if (b == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: NULL");
    b->now = now_ns;
    int work = 0;
    if (b->announce_sub != NULL)
        work += tp_ipc_subscription_poll(b->announce_sub, on_local_announce, b, 16);
    if (b->control_sub != NULL)
        work += tp_ipc_subscription_poll(b->control_sub, on_control, b, 16);
    if (b->local_meta_sub != NULL)
        work += tp_ipc_subscription_poll(b->local_meta_sub, on_local_forward, b, 16);
    if (b->local_ctl_sub != NULL)
        work += tp_ipc_subscription_poll(b->local_ctl_sub, on_local_forward, b, 16);
    if (b->metadata_sub != NULL)
        work += tp_ipc_subscription_poll(b->metadata_sub, on_metadata, b, 16);
    if (b->local_qos_sub != NULL)
        work += tp_ipc_subscription_poll(b->local_qos_sub, on_local_qos, b, 16);
    if (b->payload_sub != NULL)
        work += tp_ipc_subscription_poll(b->payload_sub, on_chunk, b, 256);
    for (unsigned i = 0; i < b->cfg.nmappings; i++) {
        mapping_t *m = &b->maps[i];
        if (m->cons != NULL) {
            const int w = tp_consumer_poll(m->cons, now_ns, send_frame, m, 16);
            work += w > 0 ? w : 0;
        }
        if (m->as == NULL)
            continue;
        work += (int)tp_bridge_asm_poll(m->as, (uint64_t)now_ns);
        check_dest(b, m, i);
        if (m->reopen && !m->failed) {
            /* BR-8.a, BR-8.c: drop what is in flight and attach again, so
             * the source's new seqs start a new local epoch. */
            tp_bridge_asm_reset(m->as, TP_BRIDGE_DROP_REMAP);
            tp_producer_close(m->prod);
            m->prod = NULL;
            m->reopen = false;
            if (open_receiver(b, m) != 0)
                m->prod = NULL;
            work++;
        }
        if (m->prod != NULL) {
            const uint64_t epoch = tp_producer_epoch(m->prod);
            const int w = tp_producer_do_work(m->prod, now_ns);
            work += w > 0 ? w : 0;
            m->n.local_epoch = tp_producer_epoch(m->prod);
            /* The producer maps and unmaps only in its do_work: a frame being
             * rebuilt into a slot of a mapping that just went away is dropped
             * before another chunk is written (the lease ended, or a new epoch). */
            if (m->claimed && (m->n.local_epoch != epoch || !tp_producer_is_active(m->prod)))
                tp_bridge_asm_reset(m->as, TP_BRIDGE_DROP_NO_SLOT);
        }
    }
    return work;
}

int tp_bridge_counters(const tp_bridge_t *b, unsigned i, tp_bridge_counters_t *out)
{
    if (b == NULL || out == NULL || i >= b->cfg.nmappings)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge: no mapping %u", i);
    const mapping_t *m = &b->maps[i];
    *out = m->n;
    if (m->as != NULL) {
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++)
            out->drops[k] += tp_bridge_asm_drops(m->as, (tp_bridge_drop_t)k);
        out->duplicates = tp_bridge_asm_duplicates(m->as);
    }
    return 0;
}

void tp_bridge_close(tp_bridge_t *b)
{
    if (b == NULL)
        return;
    for (unsigned i = 0; i < b->cfg.nmappings; i++) {
        mapping_t *m = &b->maps[i];
        tp_consumer_close(m->cons);
        tp_bridge_asm_destroy(m->as);
        tp_producer_close(m->prod);
    }
    tp_ipc_publication_close(b->payload_pub);
    tp_ipc_publication_close(b->control_pub);
    tp_ipc_subscription_close(b->announce_sub);
    tp_ipc_subscription_close(b->payload_sub);
    tp_ipc_subscription_close(b->control_sub);
    tp_ipc_subscription_close(b->local_meta_sub);
    tp_ipc_subscription_close(b->local_ctl_sub);
    tp_ipc_publication_close(b->metadata_pub);
    tp_ipc_subscription_close(b->metadata_sub);
    tp_ipc_publication_close(b->local_meta_pub);
    tp_ipc_publication_close(b->local_ctl_pub);
    tp_ipc_subscription_close(b->local_qos_sub);
    tp_ipc_publication_close(b->local_qos_pub);
    free(b);
}
