/* Internal layout of tp_join_barrier_t, shared by join_barrier.c and
 * join_explain.c. Not installed. */
#ifndef TP_JOIN_BARRIER_IMPL_H
#define TP_JOIN_BARRIER_IMPL_H

#include "tensorpool/join_barrier.h"

#include <stdint.h>

#define TP_JOIN_NO_SLOT UINT32_MAX

/* One input slot per rule (spec §3.1). The rule is compiled at apply into
 * "out must lie in [min_out, max_out]; required = out + add (mod 2^64)", which
 * covers OFFSET of either sign and WINDOW without overflow (§3.3, §3.4): a
 * negative offset -m is stored as add = 2^64 - m with min_out = m, so the
 * unsigned sum wraps to out - m exactly when out >= m.
 * A readiness check reads no slot: each slot's class at the barrier's
 * current output (`cls`) is kept up to date by the update that changes it,
 * and the barrier counts slots per class. */
typedef struct tp_join_slot_s {
    /* compiled rule */
    _Alignas(64) uint64_t min_out;
    uint64_t max_out;
    uint64_t add;
    uint32_t stream_id;
    uint32_t next_same_stream; /* next slot of this stream id, in rule order */
    uint8_t source;            /* timestamp rules; 0 for sequence rules */
    uint8_t cls;               /* tp_join_cls_t at b->cache_out, while b->cache_valid */
    uint8_t snap_cls;          /* tp_join_final_t at the pending evaluation, when snap_gen == b->gen */
    uint64_t snap_gen;
    /* state; "reset" clears everything from `rejected` on */
    uint8_t rejected;
    uint8_t has_obs_seq;
    uint8_t has_obs_time;
    uint8_t has_proc_seq;
    uint8_t has_proc_time;
    uint8_t latest_valid;
    uint8_t has_any_obs;
    uint8_t has_epoch;
    uint8_t has_min;
    uint64_t obs_seq;
    uint64_t obs_time;
    uint64_t proc_seq;
    uint64_t proc_time;
    uint64_t last_obs_ns;
    uint64_t epoch;
    uint64_t min_seq_in_epoch;
} tp_join_slot_t;

/* Open-addressed stream id -> first slot index (power-of-two size). */
typedef struct tp_join_index_entry_s {
    uint32_t stream_id;
    uint32_t first_slot; /* TP_JOIN_NO_SLOT = empty */
} tp_join_index_entry_t;

struct tp_join_barrier_s {
    tp_join_barrier_config_t cfg;
    int has_map;
    tp_merge_map_t map; /* active map (kind set at apply); storage = capacity */
    uint64_t lateness;  /* effective lateness of the active map */
    uint64_t last_announce_ns;
    int has_expected_epoch;
    uint64_t expected_epoch;
    int has_last_out;
    uint64_t last_out;
    uint32_t nslots; /* = map.rule_count while has_map, else 0 */
    tp_join_slot_t *slots;
    tp_join_index_entry_t *index;
    uint32_t index_mask;
    /* Incremental readiness. While cache_valid, every slot's cls is its class
     * for output cache_out and cnt[] counts slots per class, so a check at
     * the same output reads only the counts. */
    int cache_valid;
    uint64_t cache_out;
    uint32_t cnt[4];
    /* Sequence/timestamp: every rule's lowest output (max of min_out) and a
     * lower bound of the outputs every slot's cursors meet (exclusive): while
     * all slots are met, a next output in [max_lo, lim_lb) is met too and
     * needs no reclassification. Updates only lower lim_lb. */
    uint64_t max_lo;
    uint64_t lim_lb;
    /* Lazy result: a ready call records (gen, pend_now); the lists are built
     * by tp_join_barrier_result. An update that reaches a slot first saves
     * the slot's outcome for the pending evaluation (snap_cls) so the lists
     * still describe the state at the call. pending = gen != built_gen. */
    uint64_t gen;
    uint64_t built_gen;
    uint64_t pend_now;
    tp_join_result_t result;
    uint32_t *missing;
    uint32_t *stale;
    uint32_t *rejected;
};

/* Class of a slot for the output the counts are kept at. SOFT: unmet but
 * could be stale (whether it is depends on `now`). */
typedef enum tp_join_cls_e { TP_JOIN_CLS_SAT = 0, TP_JOIN_CLS_HARD, TP_JOIN_CLS_SOFT, TP_JOIN_CLS_REJ } tp_join_cls_t;

/* A slot's outcome in one evaluation (its place in the result lists). */
typedef enum tp_join_final_e {
    TP_JOIN_FINAL_SAT = 0,
    TP_JOIN_FINAL_SAT_STALE, /* LatestValue: usable, reported stale */
    TP_JOIN_FINAL_MISSING,
    TP_JOIN_FINAL_STALE,
    TP_JOIN_FINAL_REJ
} tp_join_final_t;

/* Whether the rule of `s` can be met for `out`, and its threshold (required
 * minus lateness, saturating at 0). */
static inline int tp_join_slot_threshold(const tp_join_slot_t *s, uint64_t out, uint64_t lateness,
                                         uint64_t *threshold)
{
    if (out < s->min_out || out > s->max_out) return 0;
    uint64_t required = out + s->add; /* wraps by design for negative offsets */
    *threshold = required >= lateness ? required - lateness : 0;
    return 1;
}

/* Staleness of an input (spec §3.6). */
static inline int tp_join_slot_is_stale(const struct tp_join_barrier_s *b, const tp_join_slot_t *s, uint64_t now)
{
    uint64_t timeout = b->map.stale_timeout_ns;
    return b->cfg.allow_stale && timeout != TP_MERGE_NULL_U64 && s->has_any_obs && now >= s->last_obs_ns &&
           now - s->last_obs_ns > timeout;
}

/* Forget what the slots of `stream_id` observed, epoch included (the join
 * agent's input moved to the epoch the driver announced, which may be below
 * one a forged descriptor claimed). Internal: not part of the ABI. */
void tp_join_barrier_forget_input(struct tp_join_barrier_s *b, uint32_t stream_id);

/* satisfied_count of the last readiness call without building its lists;
 * exact when no update came in between (the agent asks right after). */
uint32_t tp_join_barrier_last_satisfied(const struct tp_join_barrier_s *b);

#endif
