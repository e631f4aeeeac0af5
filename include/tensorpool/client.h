/* Client-side settings shared by the driver client, producers and consumers.
 *
 * Clients never own SHM files (D-2.2.b, D-2.3.b): they learn every path from
 * the driver. What they must know out-of-band (D-4.4.f) is where the
 * transport lives, the stream ids and the driver's timers; the defaults match
 * the driver's (docs/spec/driver.md §5.1) and the same environment variables override
 * both sides.
 */
#ifndef TENSORPOOL_CLIENT_H
#define TENSORPOOL_CLIENT_H

#include "tensorpool/shm_uri.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_client_context_s {
    char base_dir[TP_SHM_PATH_MAX]; /* shm.base_dir; also the only allowed base for containment */
    char ns[64];                    /* shm.namespace */
    char channel[256];              /* transport channel of every stream ("tp:ipc") */
    int32_t control_stream_id;      /* 1000 */
    int32_t announce_stream_id;     /* 0: the control stream */
    int32_t descriptor_stream_id;   /* 1100 (docs/spec/wire.md §6) */
    int32_t qos_stream_id;          /* 1200 */
    int32_t metadata_stream_id;     /* 1300 */
    int64_t keepalive_interval_ns;  /* policies.lease_keepalive_interval_ms */
    uint32_t expiry_grace_intervals;
    int64_t announce_period_ns;     /* policies.announce_period_ms */
    int64_t qos_interval_ns;        /* QosProducer/QosConsumer/DataSourceAnnounce cadence, 1 s */
    int64_t attach_timeout_ns;      /* 2 s ([R] 24) */
    int64_t attach_retransmit_ns;   /* 200 ms */
    int64_t backoff_min_ns;         /* 100 ms */
    int64_t backoff_max_ns;         /* 3.2 s */
    uint32_t client_id;             /* 0: auto-assign (D-B.2.a) */
} tp_client_context_t;

/* Defaults, then the environment: TP_DIR and SHM_BASE_DIR (base dir),
 * SHM_NAMESPACE, DRIVER_CONTROL_STREAM_ID, DRIVER_ANNOUNCE_STREAM_ID,
 * DRIVER_QOS_STREAM_ID, POLICIES_LEASE_KEEPALIVE_INTERVAL_MS,
 * POLICIES_LEASE_EXPIRY_GRACE_INTERVALS, POLICIES_ANNOUNCE_PERIOD_MS,
 * DRIVER_DESCRIPTOR_STREAM_ID, TP_METADATA_STREAM_ID, TP_CLIENT_BACKOFF_MAX_MS.
 * Malformed values are ignored (the default stays). */
TP_API void tp_client_context_init(tp_client_context_t *ctx);

#ifdef __cplusplus
}
#endif
#endif
