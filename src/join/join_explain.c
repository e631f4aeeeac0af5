/* Per-input explanation of a JoinBarrier's readiness for operators. */
#include "tensorpool/join_explain.h"

#include "join_barrier_impl.h"
#include "tensorpool/error.h"

#include <inttypes.h>
#include <stdio.h>

static void explain_positions(const tp_join_barrier_t *b, const tp_join_slot_t *s, tp_join_explain_t *e)
{
    e->is_time = b->cfg.mode == TP_JOIN_MODE_TIMESTAMP ||
                 (b->cfg.mode == TP_JOIN_MODE_LATEST_VALUE && b->cfg.latest_ordering == TP_JOIN_ORDER_TIMESTAMP);
    e->has_observed = e->is_time ? s->has_obs_time : s->has_obs_seq;
    e->observed = e->is_time ? s->obs_time : s->obs_seq;
    e->has_processed = e->is_time ? s->has_proc_time : s->has_proc_seq;
    e->processed = e->is_time ? s->proc_time : s->proc_seq;
}

/* Sequence / timestamp: mirrors evaluate() in join_barrier.c. */
static tp_join_explain_status_t classify_aligned(const tp_join_barrier_t *b, const tp_join_slot_t *s,
                                               uint64_t out, uint64_t now, tp_join_explain_t *e)
{
    if (s->rejected) return TP_JOIN_EXPLAIN_REJECTED;
    uint64_t t;
    if (!tp_join_slot_threshold(s, out, b->lateness, &t)) return TP_JOIN_EXPLAIN_NOT_YET;
    e->has_required = 1;
    e->required = t;
    int obs_ok = e->has_observed && e->observed >= t;
    int proc_ok = !b->cfg.use_processed || (e->has_processed && e->processed >= t);
    if (e->has_observed && e->observed < t) e->observed_lag = t - e->observed;
    if (b->cfg.use_processed && e->has_processed && e->processed < t) e->processed_lag = t - e->processed;
    if (obs_ok && proc_ok) return TP_JOIN_EXPLAIN_SATISFIED;
    if (tp_join_slot_is_stale(b, s, now)) return TP_JOIN_EXPLAIN_STALE;
    if (!e->has_observed) return TP_JOIN_EXPLAIN_NEVER_OBSERVED;
    return obs_ok ? TP_JOIN_EXPLAIN_PROCESSED_LAGGING : TP_JOIN_EXPLAIN_LAGGING;
}

/* LatestValue: mirrors tp_join_barrier_ready_latest(). */
static tp_join_explain_status_t classify_latest(const tp_join_barrier_t *b, const tp_join_slot_t *s,
                                              const tp_join_explain_t *e)
{
    if (b->cfg.latest_ordering == TP_JOIN_ORDER_TIMESTAMP && b->map.kind != TP_MERGE_KIND_TIMESTAMP)
        return TP_JOIN_EXPLAIN_NEVER_OBSERVED;
    if (s->rejected) return TP_JOIN_EXPLAIN_REJECTED;
    if (!e->has_observed) return TP_JOIN_EXPLAIN_NEVER_OBSERVED;
    return s->latest_valid ? TP_JOIN_EXPLAIN_SATISFIED : TP_JOIN_EXPLAIN_INVALIDATED;
}

int tp_join_barrier_explain(const tp_join_barrier_t *b, uint64_t out, uint64_t now, tp_join_explain_t *out_entries,
                            uint32_t cap)
{
    if (b == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join explain: NULL barrier");
    if (!b->has_map) return 0;
    for (uint32_t i = 0; i < b->nslots && i < cap && out_entries != NULL; i++) {
        const tp_join_slot_t *s = &b->slots[i];
        tp_join_explain_t *e = &out_entries[i];
        *e = (tp_join_explain_t){0};
        e->rule_index = i;
        e->stream_id = s->stream_id;
        e->source = s->source;
        explain_positions(b, s, e);
        e->has_last_obs = s->has_any_obs;
        if (s->has_any_obs && now >= s->last_obs_ns) e->since_last_obs_ns = now - s->last_obs_ns;
        e->stale = tp_join_slot_is_stale(b, s, now);
        e->has_epoch = s->has_epoch;
        e->epoch = s->epoch;
        e->has_min_seq = s->has_min;
        e->min_seq_in_epoch = s->min_seq_in_epoch;
        e->status = b->cfg.mode == TP_JOIN_MODE_LATEST_VALUE ? classify_latest(b, s, e)
                                                             : classify_aligned(b, s, out, now, e);
    }
    return (int)b->nslots;
}

const char *tp_join_explain_status_name(tp_join_explain_status_t status)
{
    switch (status) {
    case TP_JOIN_EXPLAIN_SATISFIED: return "SATISFIED";
    case TP_JOIN_EXPLAIN_NOT_YET: return "NOT_YET";
    case TP_JOIN_EXPLAIN_NEVER_OBSERVED: return "NEVER_OBSERVED";
    case TP_JOIN_EXPLAIN_LAGGING: return "LAGGING";
    case TP_JOIN_EXPLAIN_PROCESSED_LAGGING: return "PROCESSED_LAGGING";
    case TP_JOIN_EXPLAIN_STALE: return "STALE";
    case TP_JOIN_EXPLAIN_INVALIDATED: return "INVALIDATED";
    case TP_JOIN_EXPLAIN_REJECTED: return "REJECTED";
    }
    return "UNKNOWN";
}

int tp_join_explain_format(const tp_join_explain_t *e, char *buf, size_t len)
{
    const char *unit = e->is_time ? "time" : "seq";
    char req[48] = "-", obs[48] = "never", proc[48] = "never", last[48] = "never";
    if (e->has_required) snprintf(req, sizeof req, "%" PRIu64, e->required);
    if (e->has_observed) snprintf(obs, sizeof obs, "%" PRIu64 " (lag %" PRIu64 ")", e->observed, e->observed_lag);
    if (e->has_processed)
        snprintf(proc, sizeof proc, "%" PRIu64 " (lag %" PRIu64 ")", e->processed, e->processed_lag);
    if (e->has_last_obs) snprintf(last, sizeof last, "%" PRIu64 " ns ago", e->since_last_obs_ns);
    return snprintf(buf, len, "input %u rule %u: %s required %s %s observed %s processed %s last obs %s%s",
                    e->stream_id, e->rule_index, tp_join_explain_status_name(e->status), unit, req, obs, proc, last,
                    e->stale ? " (stale)" : "");
}
