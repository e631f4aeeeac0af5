/* Operator view of a JoinBarrier: why is output N not ready?
 *
 * For each rule of the active map, what it requires for a given output, what
 * has been observed and processed, and how far the input lags. A pure query:
 * it changes nothing (not even the output watermark) and does not allocate.
 * A join agent's overall state (flowing / blocked / degraded, and why, e.g.
 * "input 2 epoch changed, waiting for map epoch 3") is tp_join_agent_status.
 */
#ifndef TENSORPOOL_JOIN_EXPLAIN_H
#define TENSORPOOL_JOIN_EXPLAIN_H

#include "tensorpool/join_barrier.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tp_join_explain_status_e {
    TP_JOIN_EXPLAIN_SATISFIED = 0,      /* meets its rule (LatestValue: has a current value) */
    TP_JOIN_EXPLAIN_NOT_YET,            /* the rule cannot be met for this output (underflow/overflow) */
    TP_JOIN_EXPLAIN_NEVER_OBSERVED,     /* nothing observed in the current state */
    TP_JOIN_EXPLAIN_LAGGING,            /* observed below the required position */
    TP_JOIN_EXPLAIN_PROCESSED_LAGGING,  /* observed enough, processed not (use_processed) */
    TP_JOIN_EXPLAIN_STALE,              /* unsatisfied and silent past staleTimeoutNs */
    TP_JOIN_EXPLAIN_INVALIDATED,        /* LatestValue: selected frame failed validation */
    TP_JOIN_EXPLAIN_REJECTED            /* clock domain or timestamp order violated; blocks */
} tp_join_explain_status_t;

typedef struct tp_join_explain_s {
    uint32_t rule_index;
    uint32_t stream_id;
    uint8_t source;             /* timestamp rules */
    tp_join_explain_status_t status;
    int is_time;                /* positions below are ns (1) or sequences (0) */
    int has_required;
    uint64_t required;          /* threshold tested: required position minus lateness */
    int has_observed;
    uint64_t observed;
    int has_processed;
    uint64_t processed;
    uint64_t observed_lag;      /* required - observed when observed is below, else 0 */
    uint64_t processed_lag;     /* same for processed (0 unless use_processed) */
    int has_last_obs;
    uint64_t since_last_obs_ns; /* now - last accepted observation (0 if now is earlier) */
    int stale;                  /* silent past the timeout (whether satisfied or not) */
    int has_epoch;
    uint64_t epoch;             /* input epoch the slot holds */
    int has_min_seq;
    uint64_t min_seq_in_epoch;  /* first sequence observed in that epoch (JB-9.1.g) */
} tp_join_explain_t;

/* Explain every rule for output `out` (ignored by LatestValue) at local time
 * `now`. Writes min(cap, rule count) entries and returns the rule count; 0
 * when no map is active; -1 on a NULL barrier. */
TP_API int tp_join_barrier_explain(const tp_join_barrier_t *b, uint64_t out, uint64_t now, tp_join_explain_t *out_entries,
                                   uint32_t cap);

/* One line of text for an entry, e.g.
 * "input 7 rule 0: LAGGING required seq 12 observed 9 (lag 3) last obs 1200 ns ago".
 * Returns what snprintf returns. */
TP_API int tp_join_explain_format(const tp_join_explain_t *e, char *buf, size_t len);

/* Short name of a status ("LAGGING"). */
TP_API const char *tp_join_explain_status_name(tp_join_explain_status_t status);

#ifdef __cplusplus
}
#endif
#endif
