/* RATE_LIMITED consumer state (src/client/consumer_rate.h; W-11.b/c). */
#include "consumer_rate.h"

#include <string.h>

void tp_consumer_rate_init(tp_consumer_rate_t *r, uint32_t max_rate_hz)
{
    const tp_consumer_rate_t keep = *r; /* counters outlive a change of rate */
    memset(r, 0, sizeof *r);
    r->delivered = keep.delivered;
    r->skipped_local = keep.skipped_local;
    r->skipped_producer = keep.skipped_producer;
    tp_rate_gate_init(&r->gate, max_rate_hz);
}

int tp_consumer_rate_on(const tp_consumer_rate_t *r) { return r->gate.max_rate_hz != 0; }

void tp_consumer_rate_reset(tp_consumer_rate_t *r)
{
    tp_rate_gate_reset(&r->gate);
    if (r->pending) r->skipped_local++;
    r->pending = 0;
    r->granted = 0;
}

void tp_consumer_rate_offer(tp_consumer_rate_t *r, uint64_t epoch, uint64_t seq, uint64_t desc_ts, uint64_t trace_id,
                            uint32_t meta_version, uint64_t now_ns)
{
    const uint64_t t = tp_rate_gate_frame_time(desc_ts, TP_RATE_TS_NULL, now_ns);
    if (!tp_rate_gate_eligible(&r->gate, t)) {
        r->skipped_local++;
        return;
    }
    if (r->pending) r->skipped_local++; /* a newer eligible frame replaces it */
    r->pending = 1;
    r->p_epoch = epoch;
    r->p_seq = seq;
    r->p_desc_ts = desc_ts;
    r->p_time = t;
    r->p_trace = trace_id;
    r->p_meta_version = meta_version;
}

void tp_consumer_rate_on_gap(tp_consumer_rate_t *r, tp_shm_drops_t *d, uint64_t gaps_before)
{
    if (!r->granted || d->drops_gap <= gaps_before) return;
    r->skipped_producer += d->drops_gap - gaps_before;
    d->drops_gap = gaps_before;
}

void tp_consumer_rate_done(tp_consumer_rate_t *r, int delivered)
{
    r->pending = 0;
    if (!delivered) return;
    tp_rate_gate_take(&r->gate, r->p_time);
    r->delivered++;
}

void tp_consumer_rate_stats_of(const tp_consumer_rate_t *r, tp_consumer_rate_stats_t *out)
{
    out->max_rate_hz = r->gate.max_rate_hz;
    out->granted = r->granted;
    out->delivered = r->delivered;
    out->skipped_local = r->skipped_local;
    out->skipped_producer = r->skipped_producer;
}
