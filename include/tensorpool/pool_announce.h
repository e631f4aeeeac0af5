/* Accepting a ShmPoolAnnounce (docs/spec/wire.md §5.1 steps 1-4 and 7): the checks
 * every consumer of announces makes before it maps anything — the consumer
 * client and the JoinBarrierAgent share them. Control path, no allocation. */
#ifndef TENSORPOOL_POOL_ANNOUNCE_H
#define TENSORPOOL_POOL_ANNOUNCE_H

#include "tensorpool/codec/control.h"
#include "tensorpool/shm_reader.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_announce_filter_s {
    uint32_t stream_id;      /* only announces of this stream */
    int64_t now_ns;          /* CLOCK_MONOTONIC now (the caller's cached clock) */
    int64_t join_time_ns;    /* CLOCK_MONOTONIC when the control subscription opened (W-10.1.1.f) */
    uint64_t max_age_ns;     /* freshness: 3 x the announce period (W-10.1.1.e) */
} tp_announce_filter_t;

typedef enum tp_announce_verdict_e {
    TP_ANNOUNCE_ACCEPTED = 0,
    TP_ANNOUNCE_OTHER_STREAM,  /* not the filter's stream: not an error */
    TP_ANNOUNCE_UNKNOWN_CLOCK, /* clock domain neither MONOTONIC nor REALTIME_SYNCED */
    TP_ANNOUNCE_STALE,         /* older than max_age in its own clock domain */
    TP_ANNOUNCE_BEFORE_JOIN,   /* MONOTONIC and stamped before join time */
    TP_ANNOUNCE_INVALID        /* layout, slot size, nslots, pools or URIs break §4.2/§7 */
} tp_announce_verdict_t;

/* Check a decoded announce against f. On TP_ANNOUNCE_ACCEPTED, rc holds
 * stream, epoch, layout version, nslots and the pools; its ring and pool URIs
 * point INTO the message buffer (copy them if the message does not outlive
 * the use). Epoch preference and lease state are the caller's. */
TP_INTERNAL tp_announce_verdict_t tp_pool_announce_accept(const tp_control_shm_pool_announce_dec_t *m,
                                                          const tp_announce_filter_t *f, tp_shm_reader_config_t *rc);

#ifdef __cplusplus
}
#endif
#endif
