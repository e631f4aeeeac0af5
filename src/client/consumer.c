/* Consumer client (docs/spec/driver.md §3.10 "Consumer", docs/spec/wire.md §5.1-§5.5, §5.8). */
#include "tensorpool/consumer.h"

#include "client_map.h"
#include "consumer_rate.h"
#include "progress_internal.h"
#include "consumer_control.h"
#include "tensorpool/pool_announce.h"
#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_reader.h"
#include "tensorpool/shm_seqlock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies of the announced URIs (the announce buffer is transient). */
typedef struct uri_store_s {
    char ring[TP_SHM_PATH_MAX + 64];
    char pool[TP_SHM_MAX_POOLS][TP_SHM_PATH_MAX + 64];
} uri_store_t;

/* The FrameDescriptor fields a consumer acts on. One of an epoch not mapped,
 * seen before this pass ran the upkeep, is held until the upkeep has read
 * the driver's announce (upkeep). */
typedef struct descriptor_s {
    uint64_t epoch, seq, ts, trace;
    uint32_t meta_version;
} descriptor_t;
enum { HELD_MAX = 16 };

struct tp_consumer_s {
    tp_client_context_t ctx;
    tp_driver_client_t *dc;
    tp_shm_bases_t bases;
    tp_ipc_context_t ipc;
    tp_ipc_subscription_t *desc_sub;
    tp_ipc_subscription_t *meta_sub; /* metadata stream, into `meta` (tensorpool/meta.h) */
    tp_meta_store_t *meta;
    tp_meta_handler_t meta_handler; /* kept across tp_consumer_set_meta_limits */
    void *meta_clientd;
    tp_ipc_publication_t *qos_pub, *ctl_pub;
    uint32_t stream_id;
    int32_t want_pc_stream;  /* requested per-consumer descriptor stream, 0 = none */
    int32_t desc_stream;     /* in use */
    int mapped;
    uint64_t min_epoch;      /* next mapping must be at least this epoch (D-4.9.g, §5.3) */
    uint64_t highest_epoch;  /* W-10.1.1.e epoch preference */
    uint64_t map_pid;
    int64_t mapped_at_ns;
    int64_t join_time_ns;    /* W-10.1.1.f */
    int64_t now_ns, next_qos_ns, next_live_ns, next_hello_ns;
    int64_t remap_deadline_ns; /* waiting for a newer epoch after the producer's revocation (D-4.9.l), 0 = not */
    uint64_t maps;
    uint64_t faults;         /* mappings dropped because a file was truncated or a superblock broken */
    char fault[192];         /* the latest such reason */
    tp_shm_drops_t past;     /* counters of epochs already unmapped */
    tp_frame_handler_t handler;
    void *clientd;
    uint8_t tx[512];
    tp_shm_reader_config_t rc;
    tp_shm_reader_t r;
    tp_shm_reader_t next; /* a new epoch's mapping, validated before the current one goes */
    uri_store_t store; /* the URIs of the announce being mapped */
    uint32_t own_uid;  /* descriptors are taken only from logs this uid owns */
    /* Accounting that outlives a mapping (every lost frame counted): the
     * last seq accounted for in acct_epoch, and descriptors of that epoch
     * seen while unmapped (settled when a mapping of it reads again). */
    int acct_have;
    uint64_t acct_epoch, acct_last;
    uint64_t unmapped_seen;
    uint64_t map_lost;  /* lost_unmapped settled since the latest map, reported in QoS drops_gap */
    tp_consumer_counters_t cnt;
    tp_consumer_rate_t rate; /* RATE_LIMITED mode (consumer_rate.c) */
    tp_progress_rx_t prog; /* FrameProgress opt-in (progress_rx.c) */
    tp_consumer_control_t cc; /* ConsumerConfig settings, ControlResponses (consumer_control.c) */
    int fallback;             /* W-15.12.a FALLBACK: 1 forced by a config, 2 after a failed map */
    uint32_t own_rate_hz;     /* tp_consumer_set_max_rate's; a supervisor's forced rate wins while it holds */
    /* The control side is polled now and then, not on every pass (upkeep) */
    unsigned passes_since_upkeep;
    int64_t upkeep_ns;  /* when it last ran */
    int upkept;         /* it ran in this pass */
    unsigned held_n;    /* descriptors held until it runs (hold) */
    descriptor_t held[HELD_MAX];
};

static void switch_descriptor_stream(tp_consumer_t *c, int32_t stream);

static void unmap(tp_consumer_t *c)
{
    if (!c->mapped) return;
    const tp_shm_drops_t *d = &c->r.drops;
    c->past.drops_gap += d->drops_gap;
    c->past.drops_late += d->drops_late;
    c->past.drops_invalid += d->drops_invalid;
    c->past.accepted += d->accepted;
    c->past.duplicates += d->duplicates;
    c->past.resyncs += d->resyncs;
    tp_shm_reader_close(&c->r);
    c->mapped = 0;
}

/* Map an epoch (announce or attach answer): the new files are mapped and
 * validated first, and only then replace the current mapping, so an
 * announce that does not hold up changes nothing. 0 or -1. */
static int map_epoch(tp_consumer_t *c, const tp_shm_reader_config_t *rc)
{
    tp_shm_reader_config_t cfg = *rc;
    cfg.now_ns = (uint64_t)c->now_ns;
    cfg.activity_window_ns = (uint64_t)(3 * c->ctx.announce_period_ns);
    if (tp_shm_reader_open(&c->next, &c->bases, &cfg) != 0) return -1;
    unmap(c);
    c->r = c->next;
    c->rc = cfg;
    if (c->acct_have && c->acct_epoch != c->r.epoch) { /* that epoch is over for us */
        c->cnt.lost_unmapped += c->unmapped_seen;
        c->acct_have = 0;
    }
    c->unmapped_seen = 0;
    c->map_lost = 0;
    tp_superblock_t sb;
    tp_superblock_read(c->r.ring.base, &sb);
    c->map_pid = sb.pid;
    c->mapped = 1;
    c->mapped_at_ns = c->now_ns;
    c->next_live_ns = c->now_ns + c->ctx.announce_period_ns; /* one full window before judging (§5.2) */
    c->maps++;
    if (c->rc.epoch > c->highest_epoch) c->highest_epoch = c->rc.epoch;
    c->min_epoch = c->rc.epoch;
    c->remap_deadline_ns = 0;
    c->next_hello_ns = c->now_ns; /* ConsumerHello after each (re)map (docs/spec/wire.md §6) */
    tp_consumer_rate_reset(&c->rate); /* RL-4.d: the first frame of a mapping passes at once */
    /* a new epoch may have a new producer that knows nothing of our grant:
     * read the shared stream until it grants again */
    if (c->want_pc_stream != 0) switch_descriptor_stream(c, c->ctx.descriptor_stream_id);
    return 0;
}

static int on_attached(void *clientd, const tp_lease_t *l)
{
    tp_consumer_t *c = clientd;
    unmap(c);
    c->stream_id = l->stream_id;
    if (c->fallback == 1) return 0; /* a config said: no SHM (W-10.1.3.f) */
    tp_shm_reader_config_t rc;
    tp_lease_reader_config(l, &rc);
    /* The URIs live in the lease, which the driver client keeps while ATTACHED;
     * a later announce repoints rc at its own copy. */
    return map_epoch(c, &rc);
}

static void on_lease_lost(void *clientd, const char *why)
{
    (void)why;
    tp_consumer_t *c = clientd;
    c->remap_deadline_ns = 0;
    unmap(c); /* D-4.7.b, D-4.13.d: drop everything in flight */
}

static void on_other_revoked(void *clientd, uint64_t lease_id, uint32_t client_id, uint8_t role, uint8_t reason)
{
    (void)lease_id;
    (void)client_id;
    (void)reason;
    tp_consumer_t *c = clientd;
    if (role != TP_ROLE_PRODUCER || !c->mapped) return; /* D-4.9.h: consumer leases do not concern us */
    /* D-4.9.g: hold off until the announce with a higher epoch; D-4.9.l: not forever */
    c->min_epoch = c->r.epoch + 1;
    c->remap_deadline_ns = c->now_ns + 3 * c->ctx.announce_period_ns;
    unmap(c);
}

/* docs/spec/wire.md §5.1 checks 1-7, then map when the epoch is new (steps 8-11). */
/* Copy an accepted announce's URIs out of the message (it is gone by the
 * time the mapping is retried); 0 if they all fit. */
static int store_uris(uri_store_t *store, tp_shm_reader_config_t *rc)
{
    if (rc->ring_uri_len >= sizeof store->ring) return -1;
    memcpy(store->ring, rc->ring_uri, rc->ring_uri_len);
    store->ring[rc->ring_uri_len] = '\0';
    rc->ring_uri = store->ring;
    for (unsigned i = 0; i < rc->npools; i++) {
        tp_shm_reader_pool_t *p = &rc->pools[i];
        if (p->uri_len >= sizeof store->pool[i]) return -1;
        memcpy(store->pool[i], p->uri, p->uri_len);
        store->pool[i][p->uri_len] = '\0';
        p->uri = store->pool[i];
    }
    return 0;
}

/* Announces reach us only from the driver that granted the lease (the
 * driver client refuses the rest), and a new epoch replaces the mapping only
 * once its files validate: a forged or broken announce cannot unmap a
 * working stream. */
static void on_announce(tp_consumer_t *c, const uint8_t *buf, size_t len, uri_store_t *store)
{
    tp_control_shm_pool_announce_dec_t m;
    if (tp_control_shm_pool_announce_decode(&m, buf, len) != 0) return;
    const tp_announce_filter_t f = {c->stream_id, c->now_ns, c->join_time_ns,
                                    (uint64_t)(3 * c->ctx.announce_period_ns)};
    tp_shm_reader_config_t rc;
    if (tp_pool_announce_accept(&m, &f, &rc) != TP_ANNOUNCE_ACCEPTED) return; /* §5.1 steps 1-4, 7 */
    if (rc.epoch < c->highest_epoch || rc.epoch < c->min_epoch) return; /* epoch preference */
    if (c->mapped && rc.epoch == c->r.epoch) return; /* same epoch: liveness is checked on the superblocks */
    if (c->fallback == 1) return; /* a config said: no SHM */
    if (tp_driver_client_lease(c->dc) == NULL) return; /* only with a live lease (D-4.7.b) */
    if (store_uris(store, &rc) != 0) return;
    /* §5.1 steps 9-11: drop in-flight frames, reset counters, map; files that
     * do not validate leave the current mapping (or none) as it was, and the
     * driver's next announce tries again */
    if (map_epoch(c, &rc) != 0) {
        c->cnt.refused_announce++;
        /* §5.1 step 11: a known fallback instead of staying unmapped (W-15.22.g) */
        if (!c->mapped && c->cc.settings.fallback_uri[0] != '\0') c->fallback = 2;
    } else {
        c->fallback = 0;
    }
}

/* Move descriptor reading to another stream (per-consumer grant, or back to
 * the shared one). Opens a subscription: control-path work, not hot path. */
static void switch_descriptor_stream(tp_consumer_t *c, int32_t stream)
{
    if (stream == c->desc_stream) return;
    tp_ipc_subscription_t *sub = NULL;
    if (tp_ipc_subscription_open(&sub, &c->ipc, c->ctx.channel, stream) != 0) return;
    tp_ipc_subscription_close(c->desc_sub);
    c->desc_sub = sub;
    c->desc_stream = stream;
}

/* ConsumerConfig from a producer, the driver or a supervisor (W-10.5.a):
 * its settings (mode, useShm, fallback URI) are taken by consumer_control.c;
 * a descriptor assignment only when we asked for one. */
static void on_consumer_config(tp_consumer_t *c, const uint8_t *buf, size_t len)
{
    tp_control_consumer_config_dec_t m;
    if (tp_control_consumer_config_view(&m, buf, len) != 0 || tp_control_consumer_config_stream_id(&m) != c->stream_id ||
        tp_control_consumer_config_consumer_id(&m) != tp_driver_client_id(c->dc))
        return;
    if (tp_control_consumer_config_decode(&m, buf, len) != 0) { /* ours, but malformed or an unknown enum (W-15.8.a) */
        c->cnt.refused_config++;
        return;
    }
    uint32_t clen = 0;
    const char *ch = tp_control_consumer_config_descriptor_channel(&m, &clen);
    const uint32_t sid = tp_control_consumer_config_descriptor_stream_id(&m);
    if (c->want_pc_stream == 0 && (clen != 0 || sid != 0)) { /* not asked for: would move us off the shared stream */
        c->cnt.refused_config++;
        return;
    }
    switch (tp_consumer_control_on_config(&c->cc, buf, len, c->stream_id, tp_driver_client_id(c->dc), c->fallback == 1,
                                          c->now_ns)) {
    case TP_CC_REFUSED: c->cnt.refused_config++; return;
    case TP_CC_ENTER_FALLBACK:
        c->fallback = 1; /* W-15.12.a: everything in flight is dropped, nothing is mapped */
        unmap(c);
        return;
    case TP_CC_LEAVE_FALLBACK:
        c->fallback = 0; /* the driver's next announce maps again */
        break;
    default: break;
    }
    if (c->want_pc_stream == 0) return;
    if (clen == 0 || sid == 0 || sid > INT32_MAX || clen != strlen(c->ctx.channel) ||
        memcmp(ch, c->ctx.channel, clen) != 0) {
        switch_descriptor_stream(c, c->ctx.descriptor_stream_id); /* declined or unusable: the shared stream (W-10.1.3.c/d) */
        c->rate.granted = 0; /* W-11.b: declined, we decimate on our own side */
        return;
    }
    switch_descriptor_stream(c, (int32_t)sid); /* §5.8: the shared descriptor subscription closes */
    /* W-5.e: the producer paces this stream for us when it answers RATE_LIMITED */
    c->rate.granted = c->desc_stream == (int32_t)sid && tp_consumer_rate_on(&c->rate) &&
                      tp_control_consumer_config_mode(&m) == TP_CONTROL_MODE_RATE_LIMITED;
}

static void on_message(void *clientd, const uint8_t *buf, size_t len)
{
    tp_consumer_t *c = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0 || h.schema_id != TP_CONTROL_SCHEMA_ID) return;
    if (h.template_id == TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID) on_announce(c, buf, len, &c->store);
    else if (h.template_id == TP_CONTROL_CONSUMER_CONFIG_TEMPLATE_ID) on_consumer_config(c, buf, len);
    else if (h.template_id == TP_CONTROL_FRAME_PROGRESS_TEMPLATE_ID)
        tp_progress_rx_on_message(&c->prog, c->mapped ? &c->r : NULL, c->stream_id, buf, len);
    else if (h.template_id == TP_CONTROL_CONTROL_RESPONSE_TEMPLATE_ID &&
             tp_consumer_control_on_response(&c->cc, buf, len, c->stream_id, tp_driver_client_id(c->dc)) < 0)
        c->cnt.refused_response++;
}

/* ---- frames ---- */

int tp_frame_intact(const tp_frame_t *f)
{
    const tp_shm_view_t *v = f->internal_;
    return tp_shm_view_intact(v);
}

/* A descriptor while unmapped: its frame cannot be read. Those of the epoch
 * being accounted are settled exactly when that epoch is read again; any
 * other is one lost frame of an epoch not (yet) mapped. */
static void on_descriptor_unmapped(tp_consumer_t *c, uint64_t epoch, uint64_t seq)
{
    if (c->acct_have && epoch == c->acct_epoch) {
        if (seq > c->acct_last) c->unmapped_seen++;
        return;
    }
    c->cnt.lost_other_epoch++;
}

static void on_meta(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info);
enum { META_POLL_LIMIT = 16 };

/* Read the slot once and hand the frame to the application; 1 if it was. */
static int deliver(tp_consumer_t *c, uint64_t epoch, uint64_t seq, uint64_t desc_ts, uint64_t trace_id,
                   uint32_t meta_version)
{
    tp_shm_view_t v;
    if (tp_shm_reader_begin(&c->r, seq, &v) != TP_SHM_READ_OK) return 0; /* counted late/invalid */
    if (!tp_meta_current(c->meta, meta_version)) /* published before the frame: a frame of a new version finds it held */
        (void)tp_ipc_subscription_poll(c->meta_sub, on_meta, c, META_POLL_LIMIT);
    const tp_frame_t f = {
        .stream_id = c->stream_id,
        .epoch = epoch,
        .seq = seq,
        .header = &v.header,
        .strides = v.strides,
        .payload = v.payload,
        .len = v.len,
        .descriptor_timestamp_ns = desc_ts,
        .internal_ = &v,
        .trace_id = trace_id,
        .meta_version = meta_version,
        .meta_current = tp_meta_current(c->meta, meta_version),
    };
    if (c->handler != NULL) c->handler(c->clientd, &f);
    return tp_shm_reader_end(&c->r, &v) == TP_SHM_READ_OK; /* accepted++ or drops_late++ */
}

static void take_descriptor(tp_consumer_t *c, const descriptor_t *d);

/* A descriptor is a claim by whoever could write to the stream: it may count
 * or refuse, never change the mapping (docs/threat-model.md). The slot it
 * names and the accounting so far decide whether it is believed. */
static void on_descriptor(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_consumer_t *c = clientd;
    tp_control_frame_descriptor_dec_t m;
    if (tp_control_frame_descriptor_decode(&m, buf, len) != 0) return;
    if (tp_control_frame_descriptor_stream_id(&m) != c->stream_id) return; /* the shared stream carries others */
    if (info->publisher_uid != c->own_uid) {
        c->cnt.refused_foreign++;
        return;
    }
    const descriptor_t d = {
        .epoch = tp_control_frame_descriptor_epoch(&m),
        .seq = tp_control_frame_descriptor_seq(&m),
        .ts = tp_control_frame_descriptor_timestamp_ns(&m),
        .trace = tp_control_frame_descriptor_trace_id(&m),
        .meta_version = tp_control_frame_descriptor_meta_version(&m),
    };
    if (!c->upkept && (!c->mapped || d.epoch > c->r.epoch) && c->held_n < HELD_MAX) {
        c->held[c->held_n++] = d; /* its announce may be waiting on the control stream */
        return;
    }
    /* A backlog: the next descriptors are already read, so their frames
     * (most likely seq + 1, ...) were committed before them; their lines'
     * misses can overlap this frame's read instead of following it. */
    if (info->batch_remaining != 0 && c->mapped) tp_shm_reader_prefetch_backlog(&c->r, d.seq, info->batch_remaining);
    take_descriptor(c, &d);
}

/* A descriptor from our own uid for our stream: counted, refused or read. */
static void take_descriptor(tp_consumer_t *c, const descriptor_t *d)
{
    const uint64_t epoch = d->epoch;
    const uint64_t seq = d->seq;
    if (!c->mapped) {
        on_descriptor_unmapped(c, epoch, seq);
        return;
    }
    if (epoch < c->r.epoch) { /* stale (§5.3): the old epoch's last frames, or a replay */
        c->cnt.lost_stale_epoch++;
        return;
    }
    if (epoch > c->r.epoch) { /* W-10.2.1.h: only its announce (from the driver) moves us there */
        c->cnt.lost_other_epoch++;
        return;
    }
    if (tp_shm_reader_slot_seq(&c->r, seq) < seq) { /* committed before sent: never written */
        c->cnt.refused_unwritten++;
        return;
    }
    if (c->acct_have && c->acct_epoch == epoch && seq <= c->acct_last && !(c->r.drops.have_last && seq == c->acct_last)) {
        /* back in an epoch: a producer that restarts always gets a new epoch
         * (D-6.a), so this is a replay; refusing it keeps the mapping and the
         * accounting (instead of W-15.2.c's remap, which a replay could force) */
        c->cnt.refused_replayed++;
        return;
    }
    if (!c->r.drops.have_last && c->acct_have && c->acct_epoch == epoch && seq > c->acct_last + 1) {
        c->map_lost = seq - c->acct_last - 1; /* published while we were unmapped */
        c->cnt.lost_unmapped += c->map_lost;
    }
    c->unmapped_seen = 0;
    const uint64_t gaps_before = c->r.drops.drops_gap;
    const tp_seq_action_t a = tp_shm_drops_on_descriptor(&c->r.drops, seq);
    tp_consumer_rate_on_gap(&c->rate, &c->r.drops, gaps_before); /* W-5.e: paced, not lost */
    if (a == TP_SEQ_DUPLICATE || a == TP_SEQ_REGRESSION) return; /* regression: excluded above */
    c->acct_have = 1;
    c->acct_epoch = epoch;
    c->acct_last = seq;
    const uint64_t ts = d->ts;
    const uint64_t trace = d->trace;
    const uint32_t meta_version = d->meta_version;
    if (tp_consumer_rate_on(&c->rate)) { /* W-11.b/c: read at the end of the batch, if at all */
        tp_consumer_rate_offer(&c->rate, epoch, seq, ts, trace, meta_version, (uint64_t)c->now_ns);
        return;
    }
    deliver(c, epoch, seq, ts, trace, meta_version);
}

/* Metadata is taken only from logs this uid owns, like descriptors. */
static void on_meta(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_consumer_t *c = clientd;
    tp_meta_store_on_message(c->meta, buf, len, info->publisher_uid == c->own_uid);
}

/* ---- periodic ---- */

static void send_qos(tp_consumer_t *c)
{
    tp_control_qos_consumer_enc_t e;
    tp_control_qos_consumer_encode_begin(&e, c->tx, sizeof c->tx);
    tp_control_qos_consumer_set_stream_id(&e, c->stream_id);
    tp_control_qos_consumer_set_consumer_id(&e, tp_driver_client_id(c->dc));
    tp_control_qos_consumer_set_epoch(&e, c->r.epoch);
    tp_control_qos_consumer_set_last_seq_seen(&e, c->r.drops.last_seq_seen);
    tp_control_qos_consumer_set_drops_gap(&e, c->r.drops.drops_gap + c->map_lost);
    tp_control_qos_consumer_set_drops_late(&e, c->r.drops.drops_late);
    tp_control_qos_consumer_set_mode(&e, tp_consumer_rate_on(&c->rate) ? TP_CONTROL_MODE_RATE_LIMITED : c->cc.settings.mode);
    const long n = tp_control_qos_consumer_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(c->qos_pub, c->tx, (size_t)n);
}

static void send_hello(tp_consumer_t *c)
{
    tp_control_consumer_hello_enc_t e;
    tp_control_consumer_hello_encode_begin(&e, c->tx, sizeof c->tx);
    tp_control_consumer_hello_set_stream_id(&e, c->stream_id);
    tp_control_consumer_hello_set_consumer_id(&e, tp_driver_client_id(c->dc));
    tp_control_consumer_hello_set_supports_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_hello_set_mode(&e, tp_consumer_rate_on(&c->rate) ? TP_CONTROL_MODE_RATE_LIMITED : TP_CONTROL_MODE_STREAM);
    tp_control_consumer_hello_set_max_rate_hz(&e, c->rate.gate.max_rate_hz); /* W-11.b: authoritative */
    tp_control_consumer_hello_set_expected_layout_version(&e, 1);
    tp_progress_rx_hello(&c->prog, &e); /* supports_progress and hints, null unless opted in */
    tp_control_consumer_hello_set_descriptor_stream_id(&e, c->want_pc_stream > 0 ? (uint32_t)c->want_pc_stream : 0);
    tp_control_consumer_hello_set_control_stream_id(&e, 0);
    const char *ch = c->want_pc_stream != 0 ? c->ctx.channel : "";
    tp_control_consumer_hello_put_descriptor_channel(&e, ch, strlen(ch));
    tp_control_consumer_hello_put_control_channel(&e, "", 0);
    const long n = tp_control_consumer_hello_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(c->ctl_pub, c->tx, (size_t)n);
}

/* The rate the gate runs at: a supervisor's forced RATE_LIMITED rate (W-P3,
 * W-P4) while it holds, else our own (tp_consumer_set_max_rate; 0 = every
 * frame). Re-initialised only when it changes. */
static void apply_rate(tp_consumer_t *c)
{
    const uint32_t forced = c->cc.settings.mode == TP_CONTROL_MODE_RATE_LIMITED ? c->cc.settings.max_rate_hz : 0;
    const uint32_t want = forced != 0 ? forced : c->own_rate_hz;
    if (want != c->rate.gate.max_rate_hz) tp_consumer_rate_init(&c->rate, want);
}

/* Leases, announces, configs, metadata and the periodic messages: the
 * control side. It changes in milliseconds, while a waiting application
 * polls every few tens of ns, and polling it costs more than the descriptor
 * stream (the control stream has an image per process on it), so it runs
 * every UPKEEP_PASSES passes or UPKEEP_NS, whichever comes first: a slowly
 * polling application still runs it on every pass. With FrameProgress on it
 * runs on every pass (progress messages come on the control stream). A
 * descriptor of an epoch not mapped waits for it (held). */
enum { UPKEEP_PASSES = 16, HELD_UPKEEPS = 4 };
#define UPKEEP_NS 2000

static int upkeep(tp_consumer_t *c, int64_t now_ns)
{
    c->passes_since_upkeep = 0;
    c->upkeep_ns = now_ns;
    c->upkept = 1;
    int work = tp_driver_client_do_work(c->dc, now_ns);
    if (work < 0) return -1;
    if (c->mapped && now_ns >= c->next_live_ns) { /* §5.2: activity and pid every announce period */
        c->next_live_ns = now_ns + c->ctx.announce_period_ns;
        if (!tp_shm_reader_live(&c->r, c->map_pid, (uint64_t)now_ns, (uint64_t)(3 * c->ctx.announce_period_ns))) {
            c->min_epoch = c->r.epoch + 1;
            if (tp_errcode() == TP_ERR_TRUNCATED || tp_errcode() == TP_ERR_MALFORMED) {
                /* someone else broke the files: the driver rolls the stream to a
                 * new epoch; if none comes in 3 periods, attach anew (D-4.9.l) */
                c->faults++;
                snprintf(c->fault, sizeof c->fault, "stream %u epoch %llu: %s", c->stream_id,
                         (unsigned long long)c->r.epoch, tp_errmsg());
                c->remap_deadline_ns = now_ns + 3 * c->ctx.announce_period_ns;
            }
            unmap(c);
        }
    }
    if (!c->mapped && c->remap_deadline_ns != 0 && now_ns > c->remap_deadline_ns) {
        c->remap_deadline_ns = 0; /* D-4.9.l: no newer epoch in 3 periods: back off and attach anew */
        tp_driver_client_reattach(c->dc, "no newer epoch announced after the producer's revocation");
    }
    if (c->cc.lapse_ns != 0 && tp_consumer_control_lapse(&c->cc, now_ns) && c->fallback == 1)
        c->fallback = 0; /* W-P5: a forced FALLBACK not re-sent is over; the next announce maps */
    apply_rate(c);
    if (c->mapped && now_ns >= c->next_hello_ns) {
        send_hello(c);
        c->next_hello_ns = c->want_pc_stream != 0 || c->prog.enabled ? now_ns + c->ctx.qos_interval_ns : INT64_MAX;
    }
    if (c->mapped && now_ns >= c->next_qos_ns) { /* W-10.4.1.a */
        c->next_qos_ns = now_ns + c->ctx.qos_interval_ns;
        send_qos(c);
    }
    /* metadata before descriptors: a frame of a new version finds it held */
    const int nm = tp_ipc_subscription_poll(c->meta_sub, on_meta, c, META_POLL_LIMIT);
    if (nm > 0) work += nm;
    return work;
}

int tp_consumer_poll(tp_consumer_t *c, int64_t now_ns, tp_frame_handler_t handler, void *clientd, int limit)
{
    c->now_ns = now_ns;
    c->handler = handler;
    c->clientd = clientd;
    c->upkept = 0;
    int work = 0;
    if (c->prog.enabled || ++c->passes_since_upkeep >= UPKEEP_PASSES || now_ns - c->upkeep_ns >= UPKEEP_NS) {
        work = upkeep(c, now_ns);
        if (work < 0) return -1;
    }
    const int n = tp_ipc_subscription_poll(c->desc_sub, on_descriptor, c, limit > 0 ? limit : 1);
    if (n > 0) work += n;
    else if (c->mapped && c->acct_have) tp_shm_reader_prefetch_idle(&c->r, c->acct_last + 1); /* the next frame's lines */
    if (c->held_n > 0) { /* after the subscription's poll: an announce may switch the descriptor stream */
        for (int i = 0; i < HELD_UPKEEPS; i++) { /* the announce may be behind other messages: to the end, bounded */
            const int w = upkeep(c, now_ns);
            if (w < 0) return -1;
            if (w == 0) break;
        }
        const unsigned held = c->held_n;
        c->held_n = 0;
        for (unsigned i = 0; i < held; i++) take_descriptor(c, &c->held[i]);
    }
    if (c->rate.pending) /* the newest frame the gate let pass in this batch (W-11.b) */
        tp_consumer_rate_done(&c->rate, c->mapped && c->r.epoch == c->rate.p_epoch &&
                                            deliver(c, c->rate.p_epoch, c->rate.p_seq, c->rate.p_desc_ts, c->rate.p_trace,
                                                    c->rate.p_meta_version));
    return work;
}

int tp_consumer_open(tp_consumer_t **out, const tp_client_context_t *ctx, uint32_t stream_id, int32_t per_consumer_stream_id)
{
    *out = NULL;
    tp_consumer_t *c = calloc(1, sizeof *c);
    if (c == NULL) return tp_err_set(TP_ERR_CAPACITY, "consumer: out of memory");
    c->ctx = *ctx;
    c->stream_id = stream_id;
    c->want_pc_stream = per_consumer_stream_id > 0 ? per_consumer_stream_id : per_consumer_stream_id < 0 ? -1 : 0;
    c->desc_stream = ctx->descriptor_stream_id;
    c->now_ns = tp_clock_monotonic_ns();
    c->join_time_ns = c->now_ns; /* the subscription below is available from now on */
    c->own_uid = (uint32_t)geteuid();
    tp_consumer_control_init(&c->cc);
    tp_ipc_context_init(&c->ipc);
    c->ipc.base_dir = c->ctx.base_dir;
    c->ipc.namespace_name = c->ctx.ns;
    const tp_driver_client_handlers_t h = {.clientd = c,
                                           .on_attached = on_attached,
                                           .on_lease_lost = on_lease_lost,
                                           .on_other_revoked = on_other_revoked,
                                           .on_message = on_message};
    if (tp_client_bases(&c->ctx, &c->bases) != 0 || tp_meta_store_open(&c->meta, stream_id, NULL) != 0 ||
        tp_ipc_subscription_open(&c->meta_sub, &c->ipc, c->ctx.channel, c->ctx.metadata_stream_id) != 0 ||
        tp_ipc_subscription_open(&c->desc_sub, &c->ipc, c->ctx.channel, c->ctx.descriptor_stream_id) != 0 ||
        tp_ipc_publication_open(&c->qos_pub, &c->ipc, c->ctx.channel, c->ctx.qos_stream_id) != 0 ||
        tp_ipc_publication_open(&c->ctl_pub, &c->ipc, c->ctx.channel, c->ctx.control_stream_id) != 0 ||
        tp_driver_client_open(&c->dc, &c->ctx, stream_id, TP_ROLE_CONSUMER, 1, &h) != 0) {
        tp_err_wrap("consumer");
        tp_consumer_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

int tp_consumer_set_progress(tp_consumer_t *c, const tp_progress_hints_t *hints, tp_progress_handler_t handler, void *clientd)
{
    c->prog.enabled = handler != NULL;
    c->prog.handler = handler;
    c->prog.clientd = clientd;
    memset(&c->prog.hints, 0, sizeof c->prog.hints);
    if (hints != NULL) c->prog.hints = *hints;
    c->next_hello_ns = c->now_ns; /* tell the producer now (and then every QoS interval) */
    return 0;
}

void tp_consumer_progress_counters(const tp_consumer_t *c, tp_progress_counters_t *out) { *out = c->prog.cnt; }

int tp_consumer_is_mapped(const tp_consumer_t *c) { return c->mapped; }

int tp_consumer_set_max_rate(tp_consumer_t *c, uint32_t max_rate_hz)
{
    if (c == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "consumer: NULL");
    c->own_rate_hz = max_rate_hz;
    apply_rate(c);
    c->next_hello_ns = c->now_ns; /* tell the producer the new mode (W-11.b) */
    return 0;
}

void tp_consumer_rate_stats(const tp_consumer_t *c, tp_consumer_rate_stats_t *out) { tp_consumer_rate_stats_of(&c->rate, out); }

tp_consumer_state_t tp_consumer_state(const tp_consumer_t *c)
{
    return c->mapped ? TP_CONSUMER_MAPPED : c->fallback ? TP_CONSUMER_FALLBACK : TP_CONSUMER_UNMAPPED;
}

const char *tp_consumer_state_name(tp_consumer_state_t s)
{
    return s == TP_CONSUMER_MAPPED ? "MAPPED" : s == TP_CONSUMER_FALLBACK ? "FALLBACK" : "UNMAPPED";
}

void tp_consumer_settings(const tp_consumer_t *c, tp_consumer_settings_t *out) { *out = c->cc.settings; }

void tp_consumer_set_response_handler(tp_consumer_t *c, tp_consumer_response_handler_t h, void *clientd)
{
    c->cc.handler = h;
    c->cc.clientd = clientd;
}

uint64_t tp_consumer_last_error(const tp_consumer_t *c, int32_t *code, const char **message)
{
    if (code != NULL) *code = c->cc.last_code;
    if (message != NULL) *message = c->cc.last_error;
    return c->cc.errors;
}
void tp_consumer_counters(const tp_consumer_t *c, tp_consumer_counters_t *out) { *out = c->cnt; }
uint64_t tp_consumer_epoch(const tp_consumer_t *c) { return c->mapped ? c->r.epoch : 0; }
uint64_t tp_consumer_maps(const tp_consumer_t *c) { return c->maps; }

uint64_t tp_consumer_faults(const tp_consumer_t *c, const char **why)
{
    if (why != NULL) *why = c->fault;
    return c->faults;
}
const tp_meta_store_t *tp_consumer_meta(const tp_consumer_t *c) { return c->meta; }

void tp_consumer_on_meta(tp_consumer_t *c, tp_meta_handler_t h, void *clientd)
{
    c->meta_handler = h;
    c->meta_clientd = clientd;
    tp_meta_store_set_handler(c->meta, h, clientd);
}

int tp_consumer_set_meta_limits(tp_consumer_t *c, const tp_meta_limits_t *limits)
{
    tp_meta_store_t *s = NULL;
    if (tp_meta_store_open(&s, c->stream_id, limits) != 0) return tp_err_wrap("consumer");
    tp_meta_store_close(c->meta); /* what was held is taken again from the repeats */
    c->meta = s;
    tp_meta_store_set_handler(s, c->meta_handler, c->meta_clientd);
    return 0;
}

int32_t tp_consumer_descriptor_stream(const tp_consumer_t *c) { return c->desc_stream; }
tp_driver_client_t *tp_consumer_driver_client(tp_consumer_t *c) { return c->dc; }

void tp_consumer_drops(const tp_consumer_t *c, tp_shm_drops_t *out)
{
    *out = c->past;
    if (!c->mapped) return;
    const tp_shm_drops_t *d = &c->r.drops;
    out->drops_gap += d->drops_gap;
    out->drops_late += d->drops_late;
    out->drops_invalid += d->drops_invalid;
    out->accepted += d->accepted;
    out->duplicates += d->duplicates;
    out->resyncs += d->resyncs;
    out->last_seq_seen = d->last_seq_seen;
    out->have_last = d->have_last;
}

void tp_consumer_close(tp_consumer_t *c)
{
    if (c == NULL) return;
    tp_driver_client_close(c->dc);
    unmap(c);
    tp_ipc_subscription_close(c->desc_sub);
    tp_ipc_subscription_close(c->meta_sub);
    tp_meta_store_close(c->meta);
    tp_ipc_publication_close(c->qos_pub);
    tp_ipc_publication_close(c->ctl_pub);
    free(c);
}
