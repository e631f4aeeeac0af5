/* Producer half of FrameProgress (docs/spec/wire.md W-10.2.2.a/j/k,
 * W-10.1.2.c/d, D-24): who opted in, the merged throttle, and the
 * STARTED -> PROGRESS* -> COMPLETE messages of the frame being filled. */
#include "progress_internal.h"

#include "tensorpool/error.h"

#include <stdatomic.h>
#include <string.h>

static const tp_progress_policy_t k_defaults = {
    .interval_us = 250, .bytes_delta = 65536, .major_delta_units = 0, .floor_interval_us = 200, .floor_bytes_delta = 4096};

/* W-10.1.2.d, W-10.2.2.k: the smallest interval and deltas any opted-in
 * consumer asked for (null = the producer's default), never below the
 * floors; the producer keeps the final say. */
static void merge(tp_progress_tx_t *t)
{
    const tp_progress_policy_t *p = &t->policy;
    uint64_t iv = p->interval_us, bytes = p->bytes_delta;
    uint32_t units = p->major_delta_units;
    int first = 1;
    for (unsigned i = 0; i < TP_PROGRESS_MAX_CONSUMERS; i++) {
        const tp_progress_peer_t *e = &t->peer[i];
        if (!e->used) continue;
        const uint64_t hi = e->hints.interval_us != 0 ? e->hints.interval_us : p->interval_us;
        const uint64_t hb = e->hints.bytes_delta != 0 ? e->hints.bytes_delta : p->bytes_delta;
        iv = first || hi < iv ? hi : iv;
        bytes = first || hb < bytes ? hb : bytes;
        if (e->hints.major_delta_units != 0 && (units == 0 || e->hints.major_delta_units < units))
            units = e->hints.major_delta_units;
        first = 0;
    }
    if (iv < p->floor_interval_us) iv = p->floor_interval_us;
    if (bytes < p->floor_bytes_delta) bytes = p->floor_bytes_delta;
    t->interval_ns = (int64_t)iv * 1000;
    t->bytes_delta = bytes;
    t->major_units = units;
}

void tp_progress_tx_init(tp_progress_tx_t *t)
{
    memset(t, 0, sizeof *t);
    t->policy = k_defaults;
    t->last_sent_ns = INT64_MIN / 2;
    merge(t);
}

int tp_progress_tx_set_policy(tp_progress_tx_t *t, const tp_progress_policy_t *policy)
{
    const tp_progress_policy_t *p = policy != NULL ? policy : &k_defaults;
    if (p->interval_us == 0 || p->bytes_delta == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "progress: interval and bytes delta must be > 0");
    t->policy = *p;
    merge(t);
    return 0;
}

static tp_progress_peer_t *find(tp_progress_tx_t *t, uint32_t cid)
{
    for (unsigned i = 0; i < TP_PROGRESS_MAX_CONSUMERS; i++)
        if (t->peer[i].used && t->peer[i].consumer_id == cid) return &t->peer[i];
    return NULL;
}

static void drop(tp_progress_tx_t *t, tp_progress_peer_t *e)
{
    e->used = 0;
    t->npeers--;
    merge(t);
}

void tp_progress_tx_on_hello(tp_progress_tx_t *t, const tp_control_consumer_hello_dec_t *m, int64_t now_ns)
{
    const uint32_t cid = tp_control_consumer_hello_consumer_id(m);
    tp_progress_peer_t *e = find(t, cid);
    if (tp_control_consumer_hello_supports_progress(m) != TP_CONTROL_BOOL_TRUE) {
        if (e != NULL) drop(t, e); /* opted out */
        return;
    }
    if (e == NULL) {
        for (unsigned i = 0; i < TP_PROGRESS_MAX_CONSUMERS && e == NULL; i++)
            if (!t->peer[i].used) e = &t->peer[i];
        if (e == NULL) return; /* full: the extra consumer just gets whole frames */
        e->used = 1;
        e->consumer_id = cid;
        t->npeers++;
    }
    e->last_seen_ns = now_ns;
    /* W-10.1.2.c: null (or 0) means "the producer's default" */
    e->hints.interval_us = tp_control_consumer_hello_progress_interval_us_is_present(m) ? tp_control_consumer_hello_progress_interval_us(m) : 0;
    e->hints.bytes_delta = tp_control_consumer_hello_progress_bytes_delta_is_present(m) ? tp_control_consumer_hello_progress_bytes_delta(m) : 0;
    e->hints.major_delta_units =
        tp_control_consumer_hello_progress_major_delta_units_is_present(m) ? tp_control_consumer_hello_progress_major_delta_units(m) : 0;
    merge(t);
}

void tp_progress_tx_seen(tp_progress_tx_t *t, uint32_t consumer_id, int alive, int64_t now_ns)
{
    tp_progress_peer_t *e = find(t, consumer_id);
    if (e == NULL) return;
    if (alive)
        e->last_seen_ns = now_ns;
    else
        drop(t, e);
}

long tp_progress_encode(uint8_t *buf, size_t cap, uint32_t stream_id, uint64_t epoch, uint64_t seq, uint64_t filled,
                        uint8_t state)
{
    tp_control_frame_progress_enc_t e;
    tp_control_frame_progress_encode_begin(&e, buf, cap);
    tp_control_frame_progress_set_stream_id(&e, stream_id);
    tp_control_frame_progress_set_epoch(&e, epoch);
    tp_control_frame_progress_set_seq(&e, seq);
    tp_control_frame_progress_set_payload_bytes_filled(&e, filled);
    tp_control_frame_progress_set_state(&e, state);
    return tp_control_frame_progress_encode_end(&e);
}

static int send(tp_progress_tx_t *t, const tp_progress_out_t *o, uint8_t state, uint64_t filled, int64_t now_ns)
{
    const long n = tp_progress_encode(t->tx, sizeof t->tx, o->stream_id, o->epoch, t->seq, filled, state);
    /* the payload stores before this point must be visible before the
     * message is (the consumer reads them after receiving it) */
    atomic_thread_fence(memory_order_release);
    if (n <= 0 || tp_ipc_publication_offer(o->pub, t->tx, (size_t)n) <= 0) {
        t->throttled++; /* back pressure: a later call sends the newer state */
        return 0;
    }
    t->state = state;
    t->sent_filled = filled;
    if (state == TP_CONTROL_FRAME_PROGRESS_STATE_PROGRESS) t->last_sent_ns = now_ns;
    t->sent++;
    return 1;
}

void tp_progress_tx_do_work(tp_progress_tx_t *t, const tp_progress_out_t *o, int64_t stale_ns, int64_t now_ns)
{
    for (unsigned i = 0; i < TP_PROGRESS_MAX_CONSUMERS; i++) /* W-5.d-like liveness: Hello or QoS */
        if (t->peer[i].used && now_ns - t->peer[i].last_seen_ns > stale_ns) drop(t, &t->peer[i]);
    /* W-10.2.2.k: intermediate updates may be skipped, the latest one goes
     * out at the end of the interval */
    if (t->active && t->npeers > 0 && o->epoch == t->epoch && t->pending_filled > t->sent_filled &&
        t->state != TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE && now_ns - t->last_sent_ns >= t->interval_ns)
        send(t, o, TP_CONTROL_FRAME_PROGRESS_STATE_PROGRESS, t->pending_filled, now_ns);
}

int tp_progress_tx_update(tp_progress_tx_t *t, const tp_progress_out_t *o, tp_shm_writer_t *w, const tp_shm_claim_t *c,
                          uint32_t meta_version, uint64_t bytes_filled, int64_t now_ns)
{
    if (bytes_filled > c->len)
        return tp_err_set(TP_ERR_INVALID_ARG, "progress: %llu bytes filled of a %u-byte frame", (unsigned long long)bytes_filled,
                          c->len);
    const int same = t->active && t->seq == c->seq && t->epoch == o->epoch;
    if (same && bytes_filled < t->pending_filled)
        return tp_err_set(TP_ERR_INVALID_ARG, "progress: bytes filled went down (W-10.2.2.f)");
    if (t->npeers == 0) { /* W-10.2.2.k: nobody opted in */
        t->active = 0;
        return 0;
    }
    if (!same) { /* a new frame: header first (D-24), then STARTED (W-10.2.2.a/j) */
        int32_t res[TP_TENSOR_MAX_DIMS];
        t->row_bytes = tp_tensor_header_check(&c->tensor, res) == TP_REJECT_NONE ? tp_progress_row_bytes(&c->tensor, res) : 0;
        tp_shm_writer_stage_header(w, c, 0, meta_version);
        t->active = 1;
        t->seq = c->seq;
        t->epoch = o->epoch;
        t->len = c->len;
        t->sent_filled = 0;
        t->pending_filled = bytes_filled;
        t->state = TP_CONTROL_FRAME_PROGRESS_STATE_UNKNOWN;
        return send(t, o, TP_CONTROL_FRAME_PROGRESS_STATE_STARTED, bytes_filled, now_ns);
    }
    t->pending_filled = bytes_filled;
    if (t->state == TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE) return 0;
    if (bytes_filled == t->len) return send(t, o, TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE, bytes_filled, now_ns);
    const uint64_t delta = bytes_filled - t->sent_filled;
    const int grown = delta >= t->bytes_delta || (t->major_units != 0 && t->row_bytes != 0 && delta >= t->major_units * t->row_bytes);
    if (!grown || now_ns - t->last_sent_ns < t->interval_ns) {
        t->throttled++;
        return 0;
    }
    return send(t, o, TP_CONTROL_FRAME_PROGRESS_STATE_PROGRESS, bytes_filled, now_ns);
}

void tp_progress_tx_on_commit(tp_progress_tx_t *t, const tp_progress_out_t *o, const tp_shm_claim_t *c)
{
    if (!t->active || t->seq != c->seq || t->epoch != o->epoch) return;
    if (t->state != TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE && t->npeers > 0)
        send(t, o, TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE, c->len, t->last_sent_ns);
    t->active = 0;
}
