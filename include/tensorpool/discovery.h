/* Stream discovery (docs/spec/discovery.md, schema 910; docs/architecture.md
 * layer `discovery`).
 *
 * A provider follows one driver's ShmPoolAnnounce (layout, epoch, producer)
 * and its producers' DataSourceAnnounce / DataSourceMeta (name, tags), and
 * answers DiscoveryRequests with the streams that match. A client asks with
 * tp_discovery_query and gets results it must still attach through the
 * driver they name (DS-3.a): a result is a snapshot, never a grant.
 *
 * tensorpool's choices (DS-D4..DS-D7): a stream is listed while the driver
 * keeps announcing it with a producer attached (a producer that dies loses
 * its lease, and the driver's next announce names producer 0); a stream
 * whose announces stop (driver gone) expires after three announce periods.
 * Tags are the values of the producer's DataSourceMeta attributes whose key
 * is "tag". Requests arrive on the driver's control stream (schema-gated,
 * DS-4.2.a) or on a request channel of their own (aeron:udp for clients on
 * other hosts, DS-D8); answers go to the channel and stream each request
 * names. A registry follows several drivers (DS-D9).
 * Not thread-safe: one thread drives a provider.
 */
#ifndef TENSORPOOL_DISCOVERY_H
#define TENSORPOOL_DISCOVERY_H

#include "tensorpool/client.h"
#include "tensorpool/shm_region.h" /* TP_SHM_MAX_POOLS */
#include "tensorpool/shm_uri.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_DISCOVERY_MAX_TAGS 8u
#define TP_DISCOVERY_TAG_MAX 64u
#define TP_DISCOVERY_NAME_MAX 256u
#define TP_DISCOVERY_MAX_DRIVERS 8u

/* One stream as a provider knows it (a DiscoveryResponse result). */
typedef struct tp_discovery_result_s {
    uint32_t stream_id;
    uint32_t producer_id;
    uint64_t epoch;
    uint32_t layout_version;
    uint32_t header_nslots;
    uint16_t header_slot_bytes;
    uint8_t max_dims;
    uint64_t data_source_id;            /* UINT64_MAX: none */
    uint32_t driver_control_stream_id;
    char header_region_uri[TP_SHM_PATH_MAX + 64];
    uint32_t npools;
    struct {
        uint16_t pool_id;
        uint32_t pool_nslots;
        uint32_t stride_bytes;
        char region_uri[TP_SHM_PATH_MAX + 64];
    } pools[TP_SHM_MAX_POOLS];
    uint32_t ntags;
    char tags[TP_DISCOVERY_MAX_TAGS][TP_DISCOVERY_TAG_MAX];
    char data_source_name[TP_DISCOVERY_NAME_MAX];
    char driver_instance_id[64];
    char driver_control_channel[256];
} tp_discovery_result_t;

/* ---- provider ---- */

/* A further driver a registry aggregates (DS-D9). */
typedef struct tp_discovery_driver_s {
    tp_client_context_t client;       /* its deployment: dir, namespace, channel, stream ids */
    char driver_instance_id[64];      /* must differ from every other driver's */
} tp_discovery_driver_t;

typedef struct tp_discovery_config_s {
    tp_client_context_t client;       /* dir, namespace, channel, stream ids, announce period */
    char driver_instance_id[64];      /* reported in results; default "local" */
    int64_t expiry_ns;                /* 0: 3 x the driver's announce period (DS-6.2.a) */
    uint32_t max_results;             /* 0: 1000 (DS-5.2.e) */
    /* Where requests are read (DS-D8): "" is client.channel; e.g.
     * "aeron:udp?endpoint=HOST:PORT" answers clients on other hosts.
     * Default $DISCOVERY_CHANNEL. Answers go out through client's deployment. */
    char request_channel[256];
    int32_t request_stream_id;        /* 0: client.control_stream_id; default $DISCOVERY_STREAM_ID */
    uint32_t nextra;                  /* drivers aggregated besides `client` (tp_discovery_config_add_driver) */
    tp_discovery_driver_t extra[TP_DISCOVERY_MAX_DRIVERS - 1];
} tp_discovery_config_t;

/* Defaults from the environment (tp_client_context_init, DISCOVERY_CHANNEL,
 * DISCOVERY_STREAM_ID). */
TP_API void tp_discovery_config_init(tp_discovery_config_t *cfg);

/* Aggregate one more driver (DS-6.1.a, DS-D9): entries are keyed by (driver,
 * stream id), so the same stream id under two drivers is two entries. 0, or
 * -1 when TP_DISCOVERY_MAX_DRIVERS are there already or the instance id is
 * empty or already used (TP_ERR_INVALID_ARG). */
TP_API int tp_discovery_config_add_driver(tp_discovery_config_t *cfg, const tp_client_context_t *client,
                                          const char *driver_instance_id);

/* The settings of a provider embedded in the driver of `driver`: its
 * directory, namespace, control channel and stream, announce stream and
 * period, instance id. */
struct tp_driver_config_s;
TP_API void tp_discovery_config_from_driver(tp_discovery_config_t *cfg, const struct tp_driver_config_s *driver);

typedef struct tp_discovery_s tp_discovery_t;

/* Open the subscriptions (control and metadata streams). 0 or -1. */
TP_API int tp_discovery_create(const tp_discovery_config_t *cfg, tp_discovery_t **out);
/* Poll announces and requests, answer; work count or -1. */
TP_API int tp_discovery_do_work(tp_discovery_t *p, int64_t now_ns);
TP_API void tp_discovery_destroy(tp_discovery_t *p);

typedef struct tp_discovery_stats_s {
    uint64_t announces;   /* ShmPoolAnnounce taken */
    uint64_t requests;    /* DiscoveryRequests answered */
    uint64_t dropped;     /* requests dropped: no response channel (DS-5.1.b) or malformed */
    uint64_t send_failed; /* answers that could not be published */
    uint64_t delayed;     /* answers sent on a retry: their publication was not connected at first (DS-D8) */
    uint32_t streams;     /* streams listed now */
} tp_discovery_stats_t;
TP_API void tp_discovery_stats(const tp_discovery_t *p, int64_t now_ns, tp_discovery_stats_t *out);

/* ---- client ---- */

/* Filters, combined with AND (DS-5.1.a); 0 / NULL / no tags: any. */
typedef struct tp_discovery_query_s {
    uint32_t stream_id;
    const char *data_source_name;     /* byte for byte */
    const char *tags[TP_DISCOVERY_MAX_TAGS];
    uint32_t ntags;
    int64_t timeout_ns;               /* 0: 2 s */
    /* Across hosts (DS-D8): where the provider reads requests (NULL:
     * $DISCOVERY_CHANNEL, else ctx->channel) and where it answers (NULL:
     * ctx->channel), e.g. aeron:udp endpoints of the provider's host and of
     * this one. Both through ctx's deployment (its media driver for aeron:). */
    const char *request_channel;
    int32_t request_stream_id;        /* 0: $DISCOVERY_STREAM_ID, else ctx->control_stream_id */
    const char *response_channel;
} tp_discovery_query_t;

/* Ask the provider on ctx's control stream and wait for its answer (not a
 * hot path: opens and closes a publication and a subscription). Fills at
 * most cap results; *count = results received. 0 (status OK, possibly no
 * results), 1 (NOT_FOUND), or -1 (ERROR with the provider's message, no
 * answer within the timeout: TP_ERR_STATE, or a transport error). */
TP_API int tp_discovery_query(const tp_client_context_t *ctx, const tp_discovery_query_t *q,
                              tp_discovery_result_t *out, uint32_t cap, uint32_t *count);

#ifdef __cplusplus
}
#endif
#endif
