/* JoinBarrier: may a multi-input stage attempt output N now?
 * (docs/spec/join-barrier.md §3, JB-7, JB-8, JB-9)
 *
 * One barrier gates one output stream in one of three modes:
 *   SEQUENCE      ready for out_seq when every rule's required input sequence
 *                 has been observed (and processed, if configured);
 *   TIMESTAMP     the same over timestamps, with lateness and clock domains;
 *   LATEST_VALUE  ready when every input has a current value in its epoch.
 *
 * The barrier only gates attempts (JB-5.2, JB-5.3, JB-7.2, JB-8.3, JB-9.3.b):
 * it never waits for a slot commit and never protects a slot; reading inputs
 * stays single-attempt, drop on failure, in the caller.
 *
 * Pure: no I/O, no clock reads (`now` is the caller's cached local monotonic
 * time), no allocation after tp_join_barrier_create (JB-5.1). Updates cost the
 * same whatever the number of inputs (stream ids are hashed at map apply).
 * Readiness is incremental: each update reclassifies only the inputs it
 * reaches and the barrier keeps a count per class, so checking the same
 * output again, or the next output while every input is ahead of it, costs
 * the same for 1 or 64 inputs, whichever input is missing; a new output with
 * some input behind reclassifies every input once. The result's lists are
 * built only when tp_join_barrier_result is called.
 * Not thread-safe: one barrier belongs to one join stage's thread.
 *
 * Where docs/spec/join-barrier.md §3 leaves a choice, this implementation:
 *  - runs the input-epoch step first in every update: a sample from an older
 *    input epoch has no effect at all (not even a domain rejection); one from
 *    a newer epoch resets the slot even if the sample is then refused;
 *  - reports, for an update reaching several rules of one stream, the first
 *    non-OK slot outcome in rule order;
 *  - with the quorum extension, lets collect_latest succeed when ready and
 *    marks absent inputs with valid = 0;
 *  - treats a pure query (explain, collect_stale) as side-effect free: the
 *    output watermark only moves in ready_seq / ready_time.
 */
#ifndef TENSORPOOL_JOIN_BARRIER_H
#define TENSORPOOL_JOIN_BARRIER_H

#include "tensorpool/merge_map.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tp_join_mode_e {
    TP_JOIN_MODE_SEQUENCE = 1,
    TP_JOIN_MODE_TIMESTAMP = 2,
    TP_JOIN_MODE_LATEST_VALUE = 3
} tp_join_mode_t;

/* How LatestValue picks "most recent" (JB-9.2.a, JB-9.2.b): one per barrier. */
typedef enum tp_join_ordering_e {
    TP_JOIN_ORDER_SEQUENCE = 0,
    TP_JOIN_ORDER_TIMESTAMP = 1
} tp_join_ordering_t;

typedef struct tp_join_barrier_config_s {
    tp_join_mode_t mode;
    uint32_t out_stream_id;            /* non-zero */
    uint32_t capacity;                 /* max rules of an applicable map, 1..65535 */
    int use_processed;                 /* also gate on processed cursors/times (default 0) */
    int allow_stale;                   /* staleness policy switch (default 1), JB-7.4.a */
    tp_join_ordering_t latest_ordering; /* LATEST_VALUE only (default SEQUENCE) */
    /* Project extension, not in the spec: ready when at least `quorum` inputs
     * are satisfied and none is rejected. 0 (default) = the spec rule: every
     * input satisfied or stale, at least one satisfied. Clamped to the active
     * map's rule count. */
    uint32_t quorum;
} tp_join_barrier_config_t;

/* Fill `cfg` with the defaults of spec §3.1 for the given mode and output. */
TP_API void tp_join_barrier_config_init(tp_join_barrier_config_t *cfg, tp_join_mode_t mode,
                                        uint32_t out_stream_id, uint32_t capacity);

/* Outcome of applying an announce (spec §3.2). */
typedef enum tp_join_apply_e {
    TP_JOIN_APPLY_REPLACED = 0,          /* new active map; barrier reset */
    TP_JOIN_APPLY_REFRESHED,             /* identical to the active map; state kept */
    TP_JOIN_APPLY_INVALID,               /* ours but invalid: map dropped, barrier blocked; reason in tp_errmsg() */
    TP_JOIN_APPLY_IGNORED_OTHER_STREAM,  /* another output stream; nothing changed */
    TP_JOIN_APPLY_IGNORED_KIND,          /* kind this mode cannot use; nothing changed */
    TP_JOIN_APPLY_IGNORED_STALE_EPOCH    /* older than the expected epoch; nothing changed */
} tp_join_apply_t;

/* Outcome of an input update (spec §3.7). With several rules on one stream the
 * update reaches every matching slot; the outcome is the first slot's (in rule
 * order) that did not accept it, else OK. */
typedef enum tp_join_update_e {
    TP_JOIN_UPDATE_OK = 0,
    TP_JOIN_UPDATE_NOT_TRACKED,     /* no rule reads this stream (and source) */
    TP_JOIN_UPDATE_REGRESSION,      /* sequence below the stored cursor; ignored */
    TP_JOIN_UPDATE_STALE_EPOCH,     /* from an older input epoch; ignored (JB-9.1.f) */
    TP_JOIN_UPDATE_IGNORED_NULL,    /* null timestamp; ignored (JB-8.2.k) */
    TP_JOIN_UPDATE_TIME_REJECTED,   /* timestamp went backwards; input rejected (JB-8.2.j) */
    TP_JOIN_UPDATE_DOMAIN_REJECTED  /* clock domain differs from the map's; input rejected (JB-8.2.e) */
} tp_join_update_t;

/* Result of the last readiness evaluation. Lists hold input stream ids in rule
 * order (a stream with two rules may appear twice); storage belongs to the
 * barrier and is overwritten by the next evaluation. Counts and lists are
 * built by tp_join_barrier_result and describe the inputs as they were at the
 * readiness call, even when updates came in between. */
typedef struct tp_join_result_s {
    int ready;
    int output_rejected;        /* out value regressed or in another clock domain (JB-8.2.l) */
    uint32_t satisfied_count;   /* inputs that met their rule this tick */
    uint32_t missing_count;
    uint32_t stale_count;       /* absent for this tick, not blocking (JB-7.4.c/d) */
    uint32_t rejected_count;    /* rejected inputs; always block */
    const uint32_t *missing;
    const uint32_t *stale;
    const uint32_t *rejected;
} tp_join_result_t;

typedef struct tp_join_barrier_s tp_join_barrier_t;

/* Create a barrier; all storage is allocated here. Returns 0 or -1 (bad
 * config: zero out stream, capacity outside 1..65535, unknown mode/ordering). */
TP_API int tp_join_barrier_create(const tp_join_barrier_config_t *cfg, tp_join_barrier_t **out);

/* Free the barrier. NULL-safe. */
TP_API void tp_join_barrier_destroy(tp_join_barrier_t *b);

/* Apply a decoded or locally built map (spec §3.2); `now` is recorded as the
 * last announce time. Returns a tp_join_apply_t, or -1 for NULL arguments. */
TP_API int tp_join_barrier_apply(tp_join_barrier_t *b, const tp_merge_map_t *map, uint64_t now);

/* Accept output epoch `epoch` (spec §3.9, JB-6.4.c): when it differs from the
 * expected one the active map is dropped and the barrier reset and blocked
 * until a map with epoch >= `epoch` is applied. Same epoch: no-op. */
TP_API int tp_join_barrier_set_active_epoch(tp_join_barrier_t *b, uint64_t epoch);

/* Change the quorum extension (0 = off). */
TP_API int tp_join_barrier_set_quorum(tp_join_barrier_t *b, uint32_t quorum);

/* Input updates (spec §3.7). The *_in_epoch variants carry the input stream's
 * epoch: a newer epoch resets the input's slot, an older one is ignored.
 * `now` is the local monotonic time of the observation (staleness, §3.6).
 * Each returns a tp_join_update_t, or -1 for a NULL barrier. */
TP_API int tp_join_barrier_observe_seq(tp_join_barrier_t *b, uint32_t stream_id, uint64_t seq, uint64_t now);
TP_API int tp_join_barrier_observe_seq_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch,
                                                uint64_t seq, uint64_t now);
TP_API int tp_join_barrier_process_seq(tp_join_barrier_t *b, uint32_t stream_id, uint64_t seq);
TP_API int tp_join_barrier_process_seq_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch, uint64_t seq);
TP_API int tp_join_barrier_observe_time(tp_join_barrier_t *b, uint32_t stream_id, tp_timestamp_source_t source,
                                        uint64_t ts, tp_clock_domain_t domain, uint64_t now);
TP_API int tp_join_barrier_observe_time_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch,
                                                 tp_timestamp_source_t source, uint64_t ts,
                                                 tp_clock_domain_t domain, uint64_t now);
TP_API int tp_join_barrier_process_time(tp_join_barrier_t *b, uint32_t stream_id, tp_timestamp_source_t source,
                                        uint64_t ts, tp_clock_domain_t domain);
TP_API int tp_join_barrier_process_time_in_epoch(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch,
                                                 tp_timestamp_source_t source, uint64_t ts, tp_clock_domain_t domain);

/* One FrameDescriptor as the agent's duty cycle feeds it (spec §3.10 step 3):
 * observe_seq_in_epoch(stream, epoch, seq), and when a timestamp map is
 * active also observe_time_in_epoch(stream, epoch, FRAME_DESCRIPTOR,
 * timestamp_ns, map's clock domain). Returns the sequence update's outcome,
 * or the time update's when the sequence was accepted and the time was not
 * (NOT_TRACKED from a time update is not reported: the rule may read
 * SLOT_HEADER time, which the stage feeds itself). */
TP_API int tp_join_barrier_observe_descriptor(tp_join_barrier_t *b, uint32_t stream_id, uint64_t epoch, uint64_t seq,
                                              uint64_t timestamp_ns, uint64_t now);

/* Readiness (spec §3.5, §3.8). Return 1 ready, 0 not ready, -1 when called on
 * a barrier of another mode. Details in tp_join_barrier_result(). */
TP_API int tp_join_barrier_ready_seq(tp_join_barrier_t *b, uint64_t out_seq, uint64_t now);
TP_API int tp_join_barrier_ready_time(tp_join_barrier_t *b, uint64_t out_time, tp_clock_domain_t out_domain, uint64_t now);
TP_API int tp_join_barrier_ready_latest(tp_join_barrier_t *b, uint64_t now);
/* LatestValue with the output value the stage is about to publish: out_seq,
 * or out_time under TIMESTAMP ordering (the C reference checks the latter).
 * An output below the previous one is refused for this call: returns 0 with
 * tp_join_barrier_result()->output_rejected set and the watermark unchanged
 * (JB-P1, as JB-8.2.l for the other modes). tp_join_barrier_ready_latest
 * checks no output value. */
TP_API int tp_join_barrier_ready_latest_out(tp_join_barrier_t *b, uint64_t out, uint64_t now);

/* The result of the last readiness call. */
TP_API const tp_join_result_t *tp_join_barrier_result(const tp_join_barrier_t *b);

/* LatestValue: the selected frame of `stream_id` failed slot validation; the
 * input is absent until its next accepted observation (JB-9.1.d). Returns the
 * number of slots invalidated (0: not tracked), -1 for a NULL barrier. */
TP_API int tp_join_barrier_invalidate_latest(tp_join_barrier_t *b, uint32_t stream_id);

/* One selected input of a LatestValue join. */
typedef struct tp_join_latest_s {
    uint32_t stream_id;
    uint8_t source;  /* timestamp maps: rule's source; else 0 */
    uint8_t valid;   /* 1 unless the quorum extension let the join proceed without it */
    uint64_t seq;    /* observed sequence (UINT64_MAX if never observed) */
    uint64_t time;   /* observed time (UINT64_MAX if never observed) */
} tp_join_latest_t;

/* Selection per rule, in rule order (spec §3.8). Returns the rule count, or -1:
 * TP_ERR_STATE when not ready (missing or rejected inputs, or below quorum),
 * TP_ERR_CAPACITY when cap < rule count. */
TP_API int tp_join_barrier_collect_latest(const tp_join_barrier_t *b, tp_join_latest_t *out, uint32_t cap);

/* Every input stale at `now`, satisfied or not (spec §3.6; operator view).
 * Writes up to `cap` ids in rule order, returns how many are stale (may exceed
 * cap, as snprintf). */
TP_API uint32_t tp_join_barrier_collect_stale(const tp_join_barrier_t *b, uint64_t now, uint32_t *ids, uint32_t cap);

/* State queries. */
TP_API int tp_join_barrier_has_map(const tp_join_barrier_t *b);
/* The active map, or NULL when blocked. */
TP_API const tp_merge_map_t *tp_join_barrier_active_map(const tp_join_barrier_t *b);
/* 1 and *epoch set when an expected output epoch exists, else 0. */
TP_API int tp_join_barrier_expected_epoch(const tp_join_barrier_t *b, uint64_t *epoch);
/* Local time of the last applied (replaced or refreshed) announce; 0 if none. */
TP_API uint64_t tp_join_barrier_last_announce_ns(const tp_join_barrier_t *b);
TP_API tp_join_mode_t tp_join_barrier_mode(const tp_join_barrier_t *b);

/* Names for logs. */
TP_API const char *tp_join_apply_name(int outcome);
TP_API const char *tp_join_update_name(int outcome);

#ifdef __cplusplus
}
#endif
#endif
