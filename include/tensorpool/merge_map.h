/* MergeMap: which input positions an output position needs (schema 903,
 * docs/spec/join-barrier.md §3.2, JB-6).
 *
 * A map is one (kind, out_stream_id, epoch) plus rules in announce order. Rules
 * keep the wire's null sentinels for unused parameters, so a map decoded from
 * an announce and a map built here go through the same validation
 * (tp_merge_map_validate). Maps decoded from the wire may be invalid; the
 * builder functions (tp_merge_map_add_*) refuse to create invalid rules.
 *
 * Rule storage is allocated once by tp_merge_map_init and never grows.
 */
#ifndef TENSORPOOL_MERGE_MAP_H
#define TENSORPOOL_MERGE_MAP_H

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wire null sentinels (spec §4.2, §4.4). */
#define TP_MERGE_NULL_U64 UINT64_MAX      /* staleTimeoutNs, latenessNs, windowNs */
#define TP_MERGE_NULL_U32 UINT32_MAX      /* windowSize */
#define TP_MERGE_NULL_OFFSET INT32_MIN    /* offset (sequence rules) */
#define TP_MERGE_NULL_OFFSET_NS INT64_MIN /* offsetNs (timestamp rules) */
#define TP_MERGE_NULL_ENUM 255u           /* SBE null of the u8 enums */

typedef enum tp_merge_kind_e {
    TP_MERGE_KIND_SEQUENCE = 1, /* SequenceMergeMapAnnounce */
    TP_MERGE_KIND_TIMESTAMP = 2 /* TimestampMergeMapAnnounce */
} tp_merge_kind_t;

/* MergeRuleType (sequence) and MergeTimeRuleType (timestamp) share values. */
typedef enum tp_merge_rule_type_e {
    TP_MERGE_RULE_OFFSET = 0, /* OFFSET / OFFSET_NS */
    TP_MERGE_RULE_WINDOW = 1  /* WINDOW / WINDOW_NS */
} tp_merge_rule_type_t;

typedef enum tp_clock_domain_e {
    TP_CLOCK_MONOTONIC = 1,
    TP_CLOCK_REALTIME_SYNCED = 2
} tp_clock_domain_t;

typedef enum tp_timestamp_source_e {
    TP_TS_SOURCE_NONE = 0, /* sequence rules carry no source */
    TP_TS_SOURCE_FRAME_DESCRIPTOR = 1,
    TP_TS_SOURCE_SLOT_HEADER = 2
} tp_timestamp_source_t;

/* One rule, raw as on the wire.
 * Sequence map: offset is an int32 value or TP_MERGE_NULL_OFFSET, window an
 * uint32 value or TP_MERGE_NULL_U32, timestamp_source 0.
 * Timestamp map: offset in ns or TP_MERGE_NULL_OFFSET_NS, window in ns or
 * TP_MERGE_NULL_U64, timestamp_source a tp_timestamp_source_t. */
typedef struct tp_merge_rule_s {
    uint32_t input_stream_id;
    uint8_t rule_type;        /* tp_merge_rule_type_t, raw (may be invalid) */
    uint8_t timestamp_source; /* tp_timestamp_source_t, raw */
    int64_t offset;
    uint64_t window;
} tp_merge_rule_t;

typedef struct tp_merge_map_s {
    tp_merge_kind_t kind;
    uint32_t out_stream_id;
    uint64_t epoch;
    uint64_t stale_timeout_ns; /* TP_MERGE_NULL_U64 = absent */
    uint64_t lateness_ns;      /* timestamp maps; TP_MERGE_NULL_U64 = absent (= 0) */
    uint8_t clock_domain;      /* timestamp maps; tp_clock_domain_t, raw */
    uint32_t rule_count;
    uint32_t rule_capacity;
    tp_merge_rule_t *rules; /* rule_capacity entries, owned */
} tp_merge_map_t;

/* Allocate storage for up to `rule_capacity` (1..65535) rules and set an empty
 * map of `kind` (out stream 0, epoch 0, stale timeout and lateness absent,
 * clock domain MONOTONIC for timestamp maps). Returns 0 or -1. */
TP_API int tp_merge_map_init(tp_merge_map_t *map, tp_merge_kind_t kind, uint32_t rule_capacity);

/* Free the rule storage; the map may be initialised again. NULL-safe. */
TP_API void tp_merge_map_close(tp_merge_map_t *map);

/* Start a new map for (out_stream_id, epoch): drops all rules, stale timeout
 * and lateness absent. out_stream_id 0 is refused (TP_ERR_INVALID_ARG). */
TP_API int tp_merge_map_reset(tp_merge_map_t *map, uint32_t out_stream_id, uint64_t epoch);

/* Copy `src` into `dst` (same kind, dst capacity >= src rule count). */
TP_API int tp_merge_map_copy(tp_merge_map_t *dst, const tp_merge_map_t *src);

/* Set the map-wide stale timeout (JB-7.4.b). 0 and UINT64_MAX are refused as
 * not sensible; use tp_merge_map_clear_stale_timeout for "absent". */
TP_API int tp_merge_map_set_stale_timeout(tp_merge_map_t *map, uint64_t timeout_ns);
TP_API void tp_merge_map_clear_stale_timeout(tp_merge_map_t *map);

/* Timestamp maps: clock domain (JB-6.3.b) and lateness (JB-8.2.f;
 * TP_MERGE_NULL_U64 = absent, which behaves as 0). */
TP_API int tp_merge_map_set_clock(tp_merge_map_t *map, tp_clock_domain_t domain, uint64_t lateness_ns);

/* Sequence rules (JB-6.2.1, JB-6.2.2). Stream id non-zero; offset !=
 * INT32_MIN; window 1..UINT32_MAX-1. The unused parameter is written as null. */
TP_API int tp_merge_map_add_offset(tp_merge_map_t *map, uint32_t input_stream_id, int32_t offset);
TP_API int tp_merge_map_add_window(tp_merge_map_t *map, uint32_t input_stream_id, uint32_t window_size);

/* Timestamp rules (JB-6.3.1, JB-6.3.2, JB-8.2.a). offset_ns != INT64_MIN;
 * window_ns 1..UINT64_MAX-1; source FRAME_DESCRIPTOR or SLOT_HEADER. */
TP_API int tp_merge_map_add_offset_ns(tp_merge_map_t *map, uint32_t input_stream_id,
                                      tp_timestamp_source_t source, int64_t offset_ns);
TP_API int tp_merge_map_add_window_ns(tp_merge_map_t *map, uint32_t input_stream_id,
                                      tp_timestamp_source_t source, uint64_t window_ns);

/* Append a rule as decoded, without judging it (spec §4.7 D11). */
TP_API int tp_merge_map_add_raw(tp_merge_map_t *map, const tp_merge_rule_t *rule);

/* Check the map against spec §3.2 V1–V6 with `capacity` as the rule limit
 * (0 = no limit beyond the wire's 65535). Returns 0, or -1 with the reason
 * (rule index and field) in tp_errmsg(). Never modifies the map. */
TP_API int tp_merge_map_validate(const tp_merge_map_t *map, uint32_t capacity);

/* Lateness used in readiness: latenessNs, absent counted as 0 (JB-10.4.e). */
static inline uint64_t tp_merge_map_effective_lateness(const tp_merge_map_t *map)
{
    return map->lateness_ns == TP_MERGE_NULL_U64 ? 0 : map->lateness_ns;
}

/* Same content as far as the barrier is concerned (spec §3.2 step 5): kind,
 * out stream, epoch, stale timeout, effective lateness, clock domain, rules in
 * order. Returns 1 or 0. */
TP_API int tp_merge_map_equivalent(const tp_merge_map_t *a, const tp_merge_map_t *b);

#ifdef __cplusplus
}
#endif
#endif
