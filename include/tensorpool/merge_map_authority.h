/* MergeMap authority: the producer or supervisor that owns output streams and
 * publishes their MergeMaps on the control stream (docs/spec/join-barrier.md §3.10,
 * JB-10.1.f/g, JB-10.3, JB-10.4.f).
 *
 * It announces a map when it is put (new or changed), re-announces every map
 * at a low configurable cadence (soft state), and answers a request of kind K
 * for exactly (out_stream_id, epoch) with that map's announce; anything else
 * gets no reply (the schema has none). The driver plays no part (JB-10.3.d).
 *
 * All storage is allocated at create; do_work and request handling never
 * allocate (JB-5.1). Not thread-safe: one authority belongs to one thread.
 */
#ifndef TENSORPOOL_MERGE_MAP_AUTHORITY_H
#define TENSORPOOL_MERGE_MAP_AUTHORITY_H

#include "tensorpool/agent.h"
#include "tensorpool/ipc.h"
#include "tensorpool/merge_map.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_CONTROL_STREAM_DEFAULT 1000 /* Stream ID Conventions: shared control stream */

typedef struct tp_merge_authority_config_s {
    const tp_ipc_context_t *ipc;  /* NULL: defaults ($TP_DIR) */
    const char *channel;          /* NULL: $DRIVER_CONTROL_CHANNEL, else "tp:ipc" */
    int32_t control_stream_id;    /* 0: $DRIVER_CONTROL_STREAM_ID, else 1000 (as every client) */
    uint32_t max_maps;            /* registry size; 0: 16 */
    uint32_t max_rules;           /* per map; 0: 64 */
    int64_t reannounce_interval_ns; /* 0: 1 s (§3.10 project default); < 0 disables re-announce */
    int subscribe;                /* 1: own a control subscription and answer requests in do_work */
} tp_merge_authority_config_t;

/* Defaults above, subscribe = 1. */
TP_API void tp_merge_authority_config_init(tp_merge_authority_config_t *cfg);

typedef struct tp_merge_authority_s tp_merge_authority_t;

/* Open the control publication (and subscription when cfg->subscribe) and the
 * registry. 0 or -1. */
TP_API int tp_merge_authority_create(const tp_merge_authority_config_t *cfg, tp_merge_authority_t **out);

/* Close publication and subscription and free everything. NULL-safe. */
TP_API void tp_merge_authority_destroy(tp_merge_authority_t *a);

/* Hold `map` (validated, copied) and announce it now if it is new or changed
 * (JB-10.1.f). A new epoch of the same (kind, out stream) replaces the old.
 * `now` is the caller's monotonic time (starts the re-announce timer).
 * Returns 1 announced, 0 unchanged (nothing sent), -1 invalid map or full. */
TP_API int tp_merge_authority_put(tp_merge_authority_t *a, const tp_merge_map_t *map, int64_t now);

/* Stop holding a map. 0, or -1 with TP_ERR_NOT_FOUND. */
TP_API int tp_merge_authority_remove(tp_merge_authority_t *a, tp_merge_kind_t kind, uint32_t out_stream_id,
                                     uint64_t epoch);

/* Feed one control-stream message (any schema). A Sequence/Timestamp
 * MergeMapRequest for a held (kind, out, epoch) is answered with its announce
 * (JB-10.1.g, JB-10.3.c); everything else is ignored. Returns 1 answered, 0
 * not answered, -1 if publishing failed. */
TP_API int tp_merge_authority_on_message(tp_merge_authority_t *a, const uint8_t *buf, size_t len);

/* A join that saw an input move to a newer epoch asks for the epoch after
 * the newest one held for (kind, out) (see join_agent.h): the held map may
 * not relate the new input epochs. Such requests are queued (up to
 * TP_MERGE_AUTHORITY_MAX_BUMPS keys); this takes one: 1 with its key and
 * the epoch asked for, 0 when none is pending. The owner should then derive
 * a map from its inputs as they are now (not from what it saw before the
 * request) and put it under an epoch >= the one asked for. */
#define TP_MERGE_AUTHORITY_MAX_BUMPS 8
TP_API int tp_merge_authority_take_bump_request(tp_merge_authority_t *a, tp_merge_kind_t *kind,
                                                uint32_t *out_stream_id, uint64_t *epoch);

/* One duty cycle at `now`: poll the control subscription (if any) and answer
 * requests, then re-announce every held map when the interval has passed.
 * Returns work done (messages handled + announces sent), -1 on error. */
TP_API int tp_merge_authority_do_work(tp_merge_authority_t *a, int64_t now);

/* An agent whose do_work calls tp_merge_authority_do_work with the cached
 * monotonic clock (for a runner or invoker). */
TP_API tp_agent_t tp_merge_authority_as_agent(tp_merge_authority_t *a);

/* Counters. */
typedef struct tp_merge_authority_stats_s {
    uint64_t announces_sent;    /* initial, changed and periodic */
    uint64_t requests_seen;     /* well-formed requests, any key */
    uint64_t requests_answered;
    uint64_t malformed;         /* schema-903 messages that failed to decode */
    uint64_t publish_failures;
    uint64_t bump_requests;     /* requests for the epoch after a held one (queued for the owner) */
    uint64_t refused_foreign;   /* control messages from transport logs another uid owns (docs/threat-model.md) */
} tp_merge_authority_stats_t;
TP_API void tp_merge_authority_stats(const tp_merge_authority_t *a, tp_merge_authority_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
