/* Bench-only stand-in for the C reference implementation's sequence
 * readiness check (DarrylGamroth/tensor_pool_c, tp_join_barrier_is_ready_sequence),
 * rewritten here to compare algorithms on the same inputs: rules and
 * per-input state in two arrays of structs laid out like the reference's,
 * every call walks the rules in order, skips stale inputs first and returns 0
 * at the first unmet one. Not part of the library. */
#ifndef TP_BENCH_JOIN_CREF_H
#define TP_BENCH_JOIN_CREF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t input_stream_id;
    int rule_type; /* 0 offset, 1 window */
    int32_t offset;
    uint32_t window_size;
} cref_rule_t;

typedef struct {
    uint32_t stream_id;
    int timestamp_source;
    uint64_t observed_seq, processed_seq, observed_time_ns, processed_time_ns, min_seq_in_epoch;
    uint64_t last_observed_update_ns, last_processed_update_ns;
    bool has_observed_seq, has_processed_seq, has_observed_time, has_processed_time, has_min_seq_in_epoch,
        latest_valid;
} cref_state_t;

typedef struct {
    int type; /* 1 = sequence */
    uint64_t stale_timeout_ns; /* UINT64_MAX = none */
    bool allow_stale, require_processed;
    uint32_t rule_count;
    cref_rule_t *rules;
    cref_state_t *state;
} cref_barrier_t;

/* 1 ready, 0 not, -1 bad barrier or rule. Out of line, like a library call. */
int cref_ready_sequence(cref_barrier_t *b, uint64_t out_seq, uint64_t now_ns);

#endif
