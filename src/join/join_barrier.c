/* JoinBarrier core: map apply, epochs, input updates, readiness
 * (docs/spec/join-barrier.md §3.2–§3.9). */
#include "join_barrier_impl.h"

#include "tensorpool/error.h"

#include <stdlib.h>
#include <string.h>

#define TP_JOIN_MAX_CAPACITY 65535u

void tp_join_barrier_config_init(tp_join_barrier_config_t *cfg, tp_join_mode_t mode, uint32_t out_stream_id,
                                 uint32_t capacity)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = mode;
    cfg->out_stream_id = out_stream_id;
    cfg->capacity = capacity;
    cfg->use_processed = 0;
    cfg->allow_stale = 1;
    cfg->latest_ordering = TP_JOIN_ORDER_SEQUENCE;
    cfg->quorum = 0;
}

int tp_join_barrier_create(const tp_join_barrier_config_t *cfg, tp_join_barrier_t **out)
{
    if (cfg == NULL || out == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: NULL argument");
    *out = NULL;
    if (cfg->mode != TP_JOIN_MODE_SEQUENCE && cfg->mode != TP_JOIN_MODE_TIMESTAMP &&
        cfg->mode != TP_JOIN_MODE_LATEST_VALUE)
        return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: unknown mode %d", (int)cfg->mode);
    if (cfg->out_stream_id == 0) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: out_stream_id must be non-zero");
    if (cfg->capacity == 0 || cfg->capacity > TP_JOIN_MAX_CAPACITY)
        return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: capacity %u outside 1..%u", cfg->capacity,
                          TP_JOIN_MAX_CAPACITY);
    if (cfg->latest_ordering != TP_JOIN_ORDER_SEQUENCE && cfg->latest_ordering != TP_JOIN_ORDER_TIMESTAMP)
        return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: unknown latest ordering %d", (int)cfg->latest_ordering);

    tp_join_barrier_t *b = calloc(1, sizeof *b);
    if (b == NULL) return tp_err_set(TP_ERR_CAPACITY, "join barrier: out of memory");
    b->cfg = *cfg;
    b->cfg.use_processed = cfg->use_processed != 0;
    b->cfg.allow_stale = cfg->allow_stale != 0;
    uint32_t isize = 4;
    while (isize < 2 * cfg->capacity) isize <<= 1;
    b->index_mask = isize - 1;
    /* cache-line aligned slots: a check touches one line per input */
    b->slots = aligned_alloc(_Alignof(tp_join_slot_t), cfg->capacity * sizeof *b->slots);
    if (b->slots != NULL) memset(b->slots, 0, cfg->capacity * sizeof *b->slots);
    b->index = malloc(isize * sizeof *b->index);
    b->missing = calloc(cfg->capacity, sizeof *b->missing);
    b->stale = calloc(cfg->capacity, sizeof *b->stale);
    b->rejected = calloc(cfg->capacity, sizeof *b->rejected);
    if (b->slots == NULL || b->index == NULL || b->missing == NULL || b->stale == NULL || b->rejected == NULL ||
        tp_merge_map_init(&b->map, TP_MERGE_KIND_SEQUENCE, cfg->capacity) != 0) {
        tp_join_barrier_destroy(b);
        return tp_err_set(TP_ERR_CAPACITY, "join barrier: out of memory for capacity %u", cfg->capacity);
    }
    for (uint32_t i = 0; i <= b->index_mask; i++) b->index[i].first_slot = TP_JOIN_NO_SLOT;
    b->result.missing = b->missing;
    b->result.stale = b->stale;
    b->result.rejected = b->rejected;
    *out = b;
    return 0;
}

void tp_join_barrier_destroy(tp_join_barrier_t *b)
{
    if (b == NULL) return;
    tp_merge_map_close(&b->map);
    free(b->slots);
    free(b->index);
    free(b->missing);
    free(b->stale);
    free(b->rejected);
    free(b);
}

/* ---- slot classes, counts, lazy result ---- */

/* Whether slot s holds a usable latest value (spec §3.8). */
static int latest_present(const tp_join_barrier_t *b, const tp_join_slot_t *s)
{
    int has = b->cfg.latest_ordering == TP_JOIN_ORDER_TIMESTAMP ? s->has_obs_time : s->has_obs_seq;
    return has && s->latest_valid;
}

/* Class of slot s for output `out` (ignored by LatestValue): the per-slot
 * part of spec §3.5 / §3.8 that does not depend on `now`. */
static tp_join_cls_t slot_cls(const tp_join_barrier_t *b, const tp_join_slot_t *s, uint64_t out)
{
    if (s->rejected) return TP_JOIN_CLS_REJ;
    if (b->cfg.mode == TP_JOIN_MODE_LATEST_VALUE) return latest_present(b, s) ? TP_JOIN_CLS_SAT : TP_JOIN_CLS_HARD;
    uint64_t t;
    if (!tp_join_slot_threshold(s, out, b->lateness, &t)) return TP_JOIN_CLS_HARD; /* missing even if stale */
    int ok;
    if (b->cfg.mode == TP_JOIN_MODE_TIMESTAMP)
        ok = s->has_obs_time && s->obs_time >= t && (!b->cfg.use_processed || (s->has_proc_time && s->proc_time >= t));
    else
        ok = s->has_obs_seq && s->obs_seq >= t && (!b->cfg.use_processed || (s->has_proc_seq && s->proc_seq >= t));
    if (ok) return TP_JOIN_CLS_SAT;
    /* tp_join_slot_is_stale without its `now` part */
    return b->cfg.allow_stale && b->map.stale_timeout_ns != TP_MERGE_NULL_U64 && s->has_any_obs ? TP_JOIN_CLS_SOFT
                                                                                                 : TP_JOIN_CLS_HARD;
}

/* Where slot s goes in the result of an evaluation at (out, now). */
static tp_join_final_t slot_final(const tp_join_barrier_t *b, const tp_join_slot_t *s, uint64_t out, uint64_t now)
{
    switch (slot_cls(b, s, out)) {
    case TP_JOIN_CLS_SAT:
        return b->cfg.mode == TP_JOIN_MODE_LATEST_VALUE && tp_join_slot_is_stale(b, s, now) ? TP_JOIN_FINAL_SAT_STALE
                                                                                             : TP_JOIN_FINAL_SAT;
    case TP_JOIN_CLS_SOFT: return tp_join_slot_is_stale(b, s, now) ? TP_JOIN_FINAL_STALE : TP_JOIN_FINAL_MISSING;
    case TP_JOIN_CLS_HARD: return TP_JOIN_FINAL_MISSING;
    default: return TP_JOIN_FINAL_REJ;
    }
}

/* Sequence/timestamp: one past the highest output the cursors of s meet
 * (0: none). Met for out ⇔ min_out <= out < lim, since the threshold grows
 * with out: out + d - lateness <= cursor ⇔ out <= cursor + lateness - d. */
static uint64_t slot_lim(const tp_join_barrier_t *b, const tp_join_slot_t *s)
{
    if (s->rejected) return 0;
    const int use_time = b->cfg.mode == TP_JOIN_MODE_TIMESTAMP;
    if (!(use_time ? s->has_obs_time : s->has_obs_seq)) return 0;
    uint64_t c = use_time ? s->obs_time : s->obs_seq;
    if (b->cfg.use_processed) {
        if (!(use_time ? s->has_proc_time : s->has_proc_seq)) return 0;
        uint64_t p = use_time ? s->proc_time : s->proc_seq;
        if (p < c) c = p;
    }
    /* add is the rule's signed offset d modulo 2^64 (compile_rule) */
    __int128 hi = (__int128)c + (__int128)b->lateness - (__int128)(int64_t)s->add;
    if (hi > (__int128)s->max_out) hi = (__int128)s->max_out;
    if (hi < (__int128)s->min_out) return 0;
    return hi >= (__int128)UINT64_MAX ? UINT64_MAX : (uint64_t)hi + 1; /* UINT64_MAX itself: recount */
}

static int result_pending(const tp_join_barrier_t *b) { return b->gen != b->built_gen; }

/* Before an update changes slot s: if a result is pending and s has not been
 * saved for it yet, save where s goes in it. */
static inline void slot_touch(tp_join_barrier_t *b, tp_join_slot_t *s)
{
    if (result_pending(b) && s->snap_gen != b->gen) {
        s->snap_cls = (uint8_t)slot_final(b, s, b->cache_out, b->pend_now);
        s->snap_gen = b->gen;
    }
}

/* After an update changed slot s: move it between the class counts. */
static inline void slot_reclass(tp_join_barrier_t *b, tp_join_slot_t *s)
{
    if (!b->cache_valid) return;
    if (b->cfg.mode != TP_JOIN_MODE_LATEST_VALUE) {
        uint64_t lim = slot_lim(b, s);
        if (lim < b->lim_lb) b->lim_lb = lim;
    }
    uint8_t c = (uint8_t)slot_cls(b, s, b->cache_out);
    if (c != s->cls) {
        b->cnt[s->cls]--;
        b->cnt[c]++;
        s->cls = c;
    }
}

/* Classify every slot for `out` (a new output, or a new map). */
static void recount(tp_join_barrier_t *b, uint64_t out)
{
    memset(b->cnt, 0, sizeof b->cnt);
    const int aligned = b->cfg.mode != TP_JOIN_MODE_LATEST_VALUE;
    uint64_t max_lo = 0, lim_lb = UINT64_MAX;
    for (uint32_t i = 0; i < b->nslots; i++) {
        tp_join_slot_t *s = &b->slots[i];
        s->cls = (uint8_t)slot_cls(b, s, out);
        b->cnt[s->cls]++;
        if (aligned) {
            uint64_t lim = slot_lim(b, s);
            if (lim < lim_lb) lim_lb = lim;
            if (s->min_out > max_lo) max_lo = s->min_out;
        }
    }
    b->max_lo = max_lo;
    b->lim_lb = lim_lb;
    b->cache_out = out;
    b->cache_valid = 1;
}

static void result_clear(tp_join_result_t *r)
{
    r->ready = 0;
    r->output_rejected = 0;
    r->satisfied_count = 0;
    r->missing_count = 0;
    r->stale_count = 0;
    r->rejected_count = 0;
}

/* Build the pending result's counts and lists, in rule order. */
static void build_result(tp_join_barrier_t *b)
{
    tp_join_result_t *r = &b->result;
    int ready = r->ready;
    result_clear(r);
    r->ready = ready;
    for (uint32_t i = 0; i < b->nslots; i++) {
        const tp_join_slot_t *s = &b->slots[i];
        tp_join_final_t f =
            s->snap_gen == b->gen ? (tp_join_final_t)s->snap_cls : slot_final(b, s, b->cache_out, b->pend_now);
        switch (f) {
        case TP_JOIN_FINAL_SAT: r->satisfied_count++; break;
        case TP_JOIN_FINAL_SAT_STALE:
            r->satisfied_count++;
            b->stale[r->stale_count++] = s->stream_id;
            break;
        case TP_JOIN_FINAL_MISSING: b->missing[r->missing_count++] = s->stream_id; break;
        case TP_JOIN_FINAL_STALE: b->stale[r->stale_count++] = s->stream_id; break;
        case TP_JOIN_FINAL_REJ: b->rejected[r->rejected_count++] = s->stream_id; break;
        }
    }
    b->built_gen = b->gen;
}

/* A result computed in full by the caller: nothing pending. */
static void result_settled(tp_join_barrier_t *b) { b->built_gen = b->gen; }

/* ---- slots, index, reset ---- */

static void slot_reset(tp_join_slot_t *s)
{
    size_t keep = offsetof(tp_join_slot_t, rejected);
    memset((char *)s + keep, 0, sizeof *s - keep);
}

static void barrier_reset(tp_join_barrier_t *b)
{
    if (result_pending(b)) build_result(b); /* the pending result describes the slots as they were */
    for (uint32_t i = 0; i < b->nslots; i++) slot_reset(&b->slots[i]);
    b->has_last_out = 0;
    b->cache_valid = 0;
}

static uint32_t index_home(const tp_join_barrier_t *b, uint32_t stream_id)
{
    return (uint32_t)((stream_id * 2654435761u) >> 7) & b->index_mask;
}

static uint32_t index_first(const tp_join_barrier_t *b, uint32_t stream_id)
{
    for (uint32_t h = index_home(b, stream_id);; h = (h + 1) & b->index_mask) {
        const tp_join_index_entry_t *e = &b->index[h];
        if (e->first_slot == TP_JOIN_NO_SLOT || e->stream_id == stream_id) return e->first_slot;
    }
}

static void drop_map(tp_join_barrier_t *b)
{
    barrier_reset(b);
    b->has_map = 0;
    b->nslots = 0;
    b->lateness = 0;
    for (uint32_t i = 0; i <= b->index_mask; i++) b->index[i].first_slot = TP_JOIN_NO_SLOT;
}

/* Compile rule r into slot s (spec §3.3, §3.4); the map is valid. */
static void compile_rule(tp_join_slot_t *s, const tp_merge_rule_t *r, tp_merge_kind_t kind)
{
    s->stream_id = r->input_stream_id;
    s->source = kind == TP_MERGE_KIND_TIMESTAMP ? r->timestamp_source : 0;
    s->min_out = 0;
    s->max_out = UINT64_MAX;
    s->add = 0;
    if (r->rule_type == TP_MERGE_RULE_OFFSET) {
        if (r->offset >= 0) {
            s->add = (uint64_t)r->offset;
            s->max_out = UINT64_MAX - s->add; /* overflow guard: NOT_YET above */
        } else {
            /* -(d + 1) + 1 never overflows, even for INT64_MIN + 1. */
            uint64_t m = (uint64_t)(-(r->offset + 1)) + 1;
            s->min_out = m; /* JB-6.2.1.c, JB-6.3.1.c */
            s->add = 0 - m; /* out + (2^64 - m) == out - m for out >= m */
        }
    } else if (kind == TP_MERGE_KIND_SEQUENCE) {
        s->min_out = r->window - 1; /* out_seq + 1 >= N, JB-6.2.2.c */
    } else {
        s->min_out = r->window; /* out_time >= W, JB-6.3.2.c */
    }
}

static void install_map(tp_join_barrier_t *b)
{
    b->nslots = b->map.rule_count;
    b->lateness = b->map.kind == TP_MERGE_KIND_TIMESTAMP ? tp_merge_map_effective_lateness(&b->map) : 0;
    for (uint32_t i = 0; i <= b->index_mask; i++) b->index[i].first_slot = TP_JOIN_NO_SLOT;
    /* Walk backwards so each chain ends up in rule order. */
    for (uint32_t i = b->nslots; i-- > 0;) {
        tp_join_slot_t *s = &b->slots[i];
        compile_rule(s, &b->map.rules[i], b->map.kind);
        slot_reset(s);
        uint32_t h = index_home(b, s->stream_id);
        while (b->index[h].first_slot != TP_JOIN_NO_SLOT && b->index[h].stream_id != s->stream_id)
            h = (h + 1) & b->index_mask;
        s->next_same_stream = b->index[h].first_slot;
        b->index[h].stream_id = s->stream_id;
        b->index[h].first_slot = i;
    }
    b->has_map = 1;
    b->has_last_out = 0;
}

/* ---- announces and epochs ---- */

void tp_join_barrier_forget_input(tp_join_barrier_t *b, uint32_t stream_id)
{
    for (uint32_t i = index_first(b, stream_id); i != TP_JOIN_NO_SLOT; i = b->slots[i].next_same_stream) {
        slot_touch(b, &b->slots[i]);
        slot_reset(&b->slots[i]);
        slot_reclass(b, &b->slots[i]);
    }
}

static int kind_usable(const tp_join_barrier_t *b, tp_merge_kind_t kind)
{
    switch (b->cfg.mode) {
    case TP_JOIN_MODE_SEQUENCE: return kind == TP_MERGE_KIND_SEQUENCE;
    case TP_JOIN_MODE_TIMESTAMP: return kind == TP_MERGE_KIND_TIMESTAMP;
    default: return kind == TP_MERGE_KIND_SEQUENCE || kind == TP_MERGE_KIND_TIMESTAMP;
    }
}

int tp_join_barrier_apply(tp_join_barrier_t *b, const tp_merge_map_t *map, uint64_t now)
{
    if (b == NULL || map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier apply: NULL argument");
    if (map->out_stream_id != b->cfg.out_stream_id) return TP_JOIN_APPLY_IGNORED_OTHER_STREAM;
    if (!kind_usable(b, map->kind)) return TP_JOIN_APPLY_IGNORED_KIND;
    if (b->has_expected_epoch && map->epoch < b->expected_epoch) return TP_JOIN_APPLY_IGNORED_STALE_EPOCH;
    if (tp_merge_map_validate(map, b->cfg.capacity) != 0) {
        /* JB-6.2.f, JB-6.3.f: invalid until a replacement arrives. */
        drop_map(b);
        return TP_JOIN_APPLY_INVALID;
    }
    if (b->has_map && tp_merge_map_equivalent(&b->map, map)) {
        b->last_announce_ns = now;
        return TP_JOIN_APPLY_REFRESHED;
    }
    drop_map(b);
    b->map.kind = map->kind;
    if (tp_merge_map_copy(&b->map, map) != 0) return -1; /* unreachable: validated against capacity */
    install_map(b);
    b->has_expected_epoch = 1;
    b->expected_epoch = map->epoch;
    b->last_announce_ns = now;
    return TP_JOIN_APPLY_REPLACED;
}

int tp_join_barrier_set_active_epoch(tp_join_barrier_t *b, uint64_t epoch)
{
    if (b == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: NULL barrier");
    if (b->has_expected_epoch && b->expected_epoch == epoch) return 0;
    b->has_expected_epoch = 1;
    b->expected_epoch = epoch;
    drop_map(b);
    return 0;
}

int tp_join_barrier_set_quorum(tp_join_barrier_t *b, uint32_t quorum)
{
    if (b == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: NULL barrier");
    b->cfg.quorum = quorum;
    return 0;
}

/* ---- input updates ---- */

/* The input epoch step of §3.7 for one slot: 0 to go on, or an outcome. */
static int epoch_step(tp_join_slot_t *s, int has_epoch, uint64_t epoch)
{
    if (!has_epoch) return TP_JOIN_UPDATE_OK;
    if (!s->has_epoch || epoch > s->epoch) {
        if (s->has_epoch) slot_reset(s);
        s->has_epoch = 1;
        s->epoch = epoch;
        return TP_JOIN_UPDATE_OK;
    }
    return epoch < s->epoch ? TP_JOIN_UPDATE_STALE_EPOCH : TP_JOIN_UPDATE_OK;
}

static int seq_update(tp_join_barrier_t *b, uint32_t stream_id, int has_epoch, uint64_t epoch, uint64_t seq,
                      int observed, uint64_t now)
{
    if (b == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: NULL barrier");
    uint32_t i = index_first(b, stream_id);
    if (i == TP_JOIN_NO_SLOT) return TP_JOIN_UPDATE_NOT_TRACKED;
    int outcome = TP_JOIN_UPDATE_OK;
    for (; i != TP_JOIN_NO_SLOT; i = b->slots[i].next_same_stream) {
        tp_join_slot_t *s = &b->slots[i];
        slot_touch(b, s);
        int rc = epoch_step(s, has_epoch, epoch);
        if (rc == TP_JOIN_UPDATE_OK) {
            if (observed) {
                if (s->has_obs_seq && seq < s->obs_seq) {
                    rc = TP_JOIN_UPDATE_REGRESSION;
                } else {
                    s->obs_seq = seq;
                    s->has_obs_seq = 1;
                    if (!s->has_min) {
                        s->has_min = 1;
                        s->min_seq_in_epoch = seq;
                    }
                    s->last_obs_ns = now;
                    s->has_any_obs = 1;
                    if (b->cfg.latest_ordering == TP_JOIN_ORDER_SEQUENCE) s->latest_valid = 1;
                }
            } else if (s->has_proc_seq && seq < s->proc_seq) {
                rc = TP_JOIN_UPDATE_REGRESSION;
            } else {
                s->proc_seq = seq;
                s->has_proc_seq = 1;
            }
        }
        slot_reclass(b, s);
        if (outcome == TP_JOIN_UPDATE_OK) outcome = rc;
    }
    return outcome;
}

static int time_update(tp_join_barrier_t *b, uint32_t stream_id, int has_epoch, uint64_t epoch,
                       tp_timestamp_source_t source, uint64_t ts, tp_clock_domain_t domain, int observed,
                       uint64_t now)
{
    if (b == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: NULL barrier");
    int found = 0;
    int outcome = TP_JOIN_UPDATE_OK;
    for (uint32_t i = index_first(b, stream_id); i != TP_JOIN_NO_SLOT; i = b->slots[i].next_same_stream) {
        tp_join_slot_t *s = &b->slots[i];
        /* sequence rules have source 0: a timestamp never reaches them, even with source 0 */
        if (s->source == 0 || s->source != (uint8_t)source) continue;
        found = 1;
        slot_touch(b, s);
        int rc = epoch_step(s, has_epoch, epoch);
        if (rc != TP_JOIN_UPDATE_OK) {
            /* older input epoch: no effect at all */
        } else if ((unsigned)domain != b->map.clock_domain) {
            s->rejected = 1;
            rc = TP_JOIN_UPDATE_DOMAIN_REJECTED;
        } else if (ts == TP_MERGE_NULL_U64) {
            rc = TP_JOIN_UPDATE_IGNORED_NULL;
        } else if (observed) {
            if (s->has_obs_time && ts < s->obs_time) {
                s->rejected = 1;
                rc = TP_JOIN_UPDATE_TIME_REJECTED;
            } else {
                s->obs_time = ts;
                s->has_obs_time = 1;
                s->last_obs_ns = now;
                s->has_any_obs = 1;
                if (b->cfg.latest_ordering == TP_JOIN_ORDER_TIMESTAMP) s->latest_valid = 1;
            }
        } else if (s->has_proc_time && ts < s->proc_time) {
            s->rejected = 1;
            rc = TP_JOIN_UPDATE_TIME_REJECTED;
        } else {
            s->proc_time = ts;
            s->has_proc_time = 1;
        }
        slot_reclass(b, s);
        if (outcome == TP_JOIN_UPDATE_OK) outcome = rc;
    }
    return found ? outcome : TP_JOIN_UPDATE_NOT_TRACKED;
}

int tp_join_barrier_observe_seq(tp_join_barrier_t *b, uint32_t stream_id, uint64_t seq, uint64_t now)
{
    return seq_update(b, stream_id, 0, 0, seq, 1, now);
}

int tp_join_barrier_observe_seq_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch, uint64_t seq,
                                         uint64_t now)
{
    return seq_update(b, stream_id, 1, epoch, seq, 1, now);
}

int tp_join_barrier_process_seq(tp_join_barrier_t *b, uint32_t stream_id, uint64_t seq)
{
    return seq_update(b, stream_id, 0, 0, seq, 0, 0);
}

int tp_join_barrier_process_seq_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch, uint64_t seq)
{
    return seq_update(b, stream_id, 1, epoch, seq, 0, 0);
}

int tp_join_barrier_observe_time(tp_join_barrier_t *b, uint32_t stream_id, tp_timestamp_source_t source,
                                 uint64_t ts, tp_clock_domain_t domain, uint64_t now)
{
    return time_update(b, stream_id, 0, 0, source, ts, domain, 1, now);
}

int tp_join_barrier_observe_time_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch,
                                          tp_timestamp_source_t source, uint64_t ts, tp_clock_domain_t domain,
                                          uint64_t now)
{
    return time_update(b, stream_id, 1, epoch, source, ts, domain, 1, now);
}

int tp_join_barrier_process_time(tp_join_barrier_t *b, uint32_t stream_id, tp_timestamp_source_t source,
                                 uint64_t ts, tp_clock_domain_t domain)
{
    return time_update(b, stream_id, 0, 0, source, ts, domain, 0, 0);
}

int tp_join_barrier_process_time_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch,
                                          tp_timestamp_source_t source, uint64_t ts, tp_clock_domain_t domain)
{
    return time_update(b, stream_id, 1, epoch, source, ts, domain, 0, 0);
}

int tp_join_barrier_observe_descriptor(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch, uint64_t seq,
                                       uint64_t timestamp_ns, uint64_t now)
{
    int rc = seq_update(b, stream_id, 1, epoch, seq, 1, now);
    if (rc < 0 || !b->has_map || b->map.kind != TP_MERGE_KIND_TIMESTAMP) return rc;
    int trc = time_update(b, stream_id, 1, epoch, TP_TS_SOURCE_FRAME_DESCRIPTOR, timestamp_ns,
                          (tp_clock_domain_t)b->map.clock_domain, 1, now);
    if (rc == TP_JOIN_UPDATE_OK && trc != TP_JOIN_UPDATE_NOT_TRACKED) rc = trc;
    return rc;
}

/* ---- readiness ---- */

/* The verdict of spec §3.5 / §3.8 (and the quorum extension) from the class
 * counts: one comparison when every input is met, two when one is unmet and
 * cannot be stale. Only unmet inputs that may be stale are looked at. */
static __attribute__((noinline)) int all_soft_stale(const tp_join_barrier_t *b, uint64_t now)
{
    for (uint32_t i = 0; i < b->nslots; i++) {
        const tp_join_slot_t *s = &b->slots[i];
        if (s->cls == TP_JOIN_CLS_SOFT && !tp_join_slot_is_stale(b, s, now)) return 0;
    }
    return 1;
}

static inline int counts_verdict(const tp_join_barrier_t *b, uint64_t now)
{
    const uint32_t n = b->nslots, sat = b->cnt[TP_JOIN_CLS_SAT];
    if (sat == n && n != 0) return 1;
    if (b->cnt[TP_JOIN_CLS_REJ] != 0) return 0;
    uint32_t q = b->cfg.quorum;
    if (q != 0) return sat >= (q > n ? n : q);
    if (b->cnt[TP_JOIN_CLS_HARD] != 0 || sat == 0) return 0;
    return all_soft_stale(b, now);
}

/* Record a verdict whose lists tp_join_barrier_result builds on demand. */
static inline int pend(tp_join_barrier_t *b, int ready, uint64_t now)
{
    b->result.ready = ready;
    b->pend_now = now;
    b->gen++;
    return ready;
}

/* A verdict with nothing to list. */
static int settle_empty(tp_join_barrier_t *b, int output_rejected)
{
    result_clear(&b->result);
    b->result.output_rejected = output_rejected;
    result_settled(b);
    return 0;
}

/* Sequence and timestamp evaluation. The same output again (a stage polling
 * while it waits) reads only the counts; a new output reclassifies each slot
 * once. */
static __attribute__((noinline)) int evaluate_new_output(tp_join_barrier_t *b, uint64_t out, uint64_t now)
{
    if (b->has_last_out && out < b->last_out) return settle_empty(b, 1); /* JB-8.2.l: this call only */
    b->last_out = out;
    b->has_last_out = 1;
    if (!b->has_map) return settle_empty(b, 0); /* JB-7.3.a */
    recount(b, out);
    return pend(b, counts_verdict(b, now), now);
}

static inline int evaluate(tp_join_barrier_t *b, uint64_t out, uint64_t now)
{
    if (!(b->cache_valid && out == b->cache_out)) { /* cache_valid: has_map, last_out == cache_out */
        /* every slot met before and still met at out: classes unchanged */
        if (!(b->cache_valid && out > b->cache_out && b->cnt[TP_JOIN_CLS_SAT] == b->nslots && out >= b->max_lo &&
              out < b->lim_lb))
            return evaluate_new_output(b, out, now);
        b->last_out = b->cache_out = out;
    }
    return pend(b, counts_verdict(b, now), now);
}

int tp_join_barrier_ready_seq(tp_join_barrier_t *b, uint64_t out_seq, uint64_t now)
{
    if (b == NULL || b->cfg.mode != TP_JOIN_MODE_SEQUENCE)
        return tp_err_set(TP_ERR_STATE, "join barrier: ready_seq needs a SEQUENCE barrier");
    return evaluate(b, out_seq, now);
}

int tp_join_barrier_ready_time(tp_join_barrier_t *b, uint64_t out_time, tp_clock_domain_t out_domain, uint64_t now)
{
    if (b == NULL || b->cfg.mode != TP_JOIN_MODE_TIMESTAMP)
        return tp_err_set(TP_ERR_STATE, "join barrier: ready_time needs a TIMESTAMP barrier");
    if (b->has_map && (unsigned)out_domain != b->map.clock_domain)
        return settle_empty(b, 1); /* JB-8.2.e: this call only; watermark untouched. */
    return evaluate(b, out_time, now);
}

static int latest_ordering_usable(const tp_join_barrier_t *b)
{
    return b->cfg.latest_ordering != TP_JOIN_ORDER_TIMESTAMP || b->map.kind == TP_MERGE_KIND_TIMESTAMP;
}

/* JB-P1: a LatestValue output value (out_seq, or out_time under TIMESTAMP
 * ordering) never goes back on one output stream, as JB-8.2.l requires of
 * the other modes: a regressing call is refused (output_rejected) and
 * leaves the watermark where it was. */
int tp_join_barrier_ready_latest_out(tp_join_barrier_t *b, uint64_t out, uint64_t now)
{
    if (b == NULL || b->cfg.mode != TP_JOIN_MODE_LATEST_VALUE)
        return tp_err_set(TP_ERR_STATE, "join barrier: ready_latest needs a LATEST_VALUE barrier");
    if (b->has_last_out && out < b->last_out) return settle_empty(b, 1);
    b->last_out = out;
    b->has_last_out = 1;
    return tp_join_barrier_ready_latest(b, now);
}

int tp_join_barrier_ready_latest(tp_join_barrier_t *b, uint64_t now)
{
    if (b == NULL || b->cfg.mode != TP_JOIN_MODE_LATEST_VALUE)
        return tp_err_set(TP_ERR_STATE, "join barrier: ready_latest needs a LATEST_VALUE barrier");
    if (!b->has_map) return settle_empty(b, 0);
    if (!latest_ordering_usable(b)) {
        /* timestamp ordering needs timestamps: every input is missing */
        tp_join_result_t *r = &b->result;
        settle_empty(b, 0);
        for (uint32_t i = 0; i < b->nslots; i++) b->missing[r->missing_count++] = b->slots[i].stream_id;
        return 0;
    }
    if (!b->cache_valid) recount(b, 0);
    return pend(b, counts_verdict(b, now), now);
}

const tp_join_result_t *tp_join_barrier_result(const tp_join_barrier_t *b)
{
    /* The lists are a cache of the last call, built on first request; the
     * barrier itself is never const (tp_join_barrier_create made it). */
    if (result_pending(b)) build_result((tp_join_barrier_t *)(uintptr_t)b);
    return &b->result;
}

uint32_t tp_join_barrier_last_satisfied(const tp_join_barrier_t *b)
{
    return result_pending(b) ? b->cnt[TP_JOIN_CLS_SAT] : b->result.satisfied_count;
}

/* ---- LatestValue selection, staleness query ---- */

int tp_join_barrier_invalidate_latest(tp_join_barrier_t *b, uint32_t stream_id)
{
    if (b == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join barrier: NULL barrier");
    int n = 0;
    for (uint32_t i = index_first(b, stream_id); i != TP_JOIN_NO_SLOT; i = b->slots[i].next_same_stream) {
        slot_touch(b, &b->slots[i]);
        b->slots[i].latest_valid = 0;
        slot_reclass(b, &b->slots[i]);
        n++;
    }
    return n;
}

int tp_join_barrier_collect_latest(const tp_join_barrier_t *b, tp_join_latest_t *out, uint32_t cap)
{
    if (b == NULL || b->cfg.mode != TP_JOIN_MODE_LATEST_VALUE)
        return tp_err_set(TP_ERR_STATE, "join barrier: collect_latest needs a LATEST_VALUE barrier");
    if (!b->has_map) return tp_err_set(TP_ERR_STATE, "join barrier: not ready (no active MergeMap)");
    if (!latest_ordering_usable(b))
        return tp_err_set(TP_ERR_STATE, "join barrier: not ready (timestamp ordering needs a timestamp map)");
    uint32_t present = 0;
    for (uint32_t i = 0; i < b->nslots; i++) {
        const tp_join_slot_t *s = &b->slots[i];
        if (s->rejected)
            return tp_err_set(TP_ERR_STATE, "join barrier: not ready (input %u rejected)", s->stream_id);
        if (latest_present(b, s)) present++;
        else if (b->cfg.quorum == 0)
            return tp_err_set(TP_ERR_STATE, "join barrier: not ready (input %u has no current value)", s->stream_id);
    }
    uint32_t q = b->cfg.quorum > b->nslots ? b->nslots : b->cfg.quorum;
    if (present < q)
        return tp_err_set(TP_ERR_STATE, "join barrier: not ready (%u of quorum %u inputs present)", present, q);
    if (out == NULL || cap < b->nslots)
        return tp_err_set(TP_ERR_CAPACITY, "join barrier: collect_latest needs room for %u inputs, got %u",
                          b->nslots, cap);
    for (uint32_t i = 0; i < b->nslots; i++) {
        const tp_join_slot_t *s = &b->slots[i];
        out[i].stream_id = s->stream_id;
        out[i].source = s->source;
        out[i].valid = (uint8_t)latest_present(b, s);
        out[i].seq = s->has_obs_seq ? s->obs_seq : UINT64_MAX;
        out[i].time = s->has_obs_time ? s->obs_time : UINT64_MAX;
    }
    return (int)b->nslots;
}

uint32_t tp_join_barrier_collect_stale(const tp_join_barrier_t *b, uint64_t now, uint32_t *ids, uint32_t cap)
{
    uint32_t n = 0;
    if (b == NULL) return 0;
    for (uint32_t i = 0; i < b->nslots; i++) {
        if (!tp_join_slot_is_stale(b, &b->slots[i], now)) continue;
        if (ids != NULL && n < cap) ids[n] = b->slots[i].stream_id;
        n++;
    }
    return n;
}

/* ---- queries ---- */

int tp_join_barrier_has_map(const tp_join_barrier_t *b) { return b != NULL && b->has_map; }

const tp_merge_map_t *tp_join_barrier_active_map(const tp_join_barrier_t *b)
{
    return b != NULL && b->has_map ? &b->map : NULL;
}

int tp_join_barrier_expected_epoch(const tp_join_barrier_t *b, uint64_t *epoch)
{
    if (b == NULL || !b->has_expected_epoch) return 0;
    if (epoch != NULL) *epoch = b->expected_epoch;
    return 1;
}

uint64_t tp_join_barrier_last_announce_ns(const tp_join_barrier_t *b) { return b->last_announce_ns; }

tp_join_mode_t tp_join_barrier_mode(const tp_join_barrier_t *b) { return b->cfg.mode; }

const char *tp_join_apply_name(int outcome)
{
    switch (outcome) {
    case TP_JOIN_APPLY_REPLACED: return "REPLACED";
    case TP_JOIN_APPLY_REFRESHED: return "REFRESHED";
    case TP_JOIN_APPLY_INVALID: return "INVALID";
    case TP_JOIN_APPLY_IGNORED_OTHER_STREAM: return "IGNORED_OTHER_STREAM";
    case TP_JOIN_APPLY_IGNORED_KIND: return "IGNORED_KIND";
    case TP_JOIN_APPLY_IGNORED_STALE_EPOCH: return "IGNORED_STALE_EPOCH";
    default: return "ERROR";
    }
}

const char *tp_join_update_name(int outcome)
{
    switch (outcome) {
    case TP_JOIN_UPDATE_OK: return "OK";
    case TP_JOIN_UPDATE_NOT_TRACKED: return "NOT_TRACKED";
    case TP_JOIN_UPDATE_REGRESSION: return "REGRESSION";
    case TP_JOIN_UPDATE_STALE_EPOCH: return "STALE_EPOCH";
    case TP_JOIN_UPDATE_IGNORED_NULL: return "IGNORED_NULL";
    case TP_JOIN_UPDATE_TIME_REJECTED: return "TIME_REJECTED";
    case TP_JOIN_UPDATE_DOMAIN_REJECTED: return "DOMAIN_REJECTED";
    default: return "ERROR";
    }
}
