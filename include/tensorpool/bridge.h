/* The SHM <-> Aeron UDP bridge agent (docs/spec/bridge.md): sender mappings
 * consume a local stream and send each frame as BridgeFrameChunks over
 * aeron:udp, read in place from shared memory into Aeron claims; receiver
 * mappings rebuild frames straight into a slot of the local pool, where the
 * bridge is the destination stream's producer, and publish an ordinary
 * FrameDescriptor. One agent can run both kinds of mapping.
 *
 * Single-threaded: call tp_bridge_do_work in a duty cycle (or run it with an
 * agent runner). After tp_bridge_open, do_work allocates nothing. */
#ifndef TENSORPOOL_BRIDGE_H
#define TENSORPOOL_BRIDGE_H

#include "tensorpool/bridge_assembler.h"
#include "tensorpool/client.h"

#include <stdbool.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_BRIDGE_MAX_MAPPINGS 16u
#define TP_BRIDGE_CHANNEL_MAX 256u

typedef enum tp_bridge_direction_e {
    TP_BRIDGE_SEND = 1,   /* local source_stream_id -> chunks */
    TP_BRIDGE_RECEIVE = 2 /* chunks of source_stream_id -> local dest_stream_id */
} tp_bridge_direction_t;

typedef struct tp_bridge_mapping_s {
    tp_bridge_direction_t direction;
    uint32_t source_stream_id; /* the stream id on the sending host (and in chunks) */
    uint32_t dest_stream_id;   /* receive: local stream; 0 = next free id of the range (BR-4.b) */
    uint32_t metadata_stream_id; /* receive: stream id written into forwarded metadata; 0 = dest_stream_id (BR-7.1.a) */
} tp_bridge_mapping_t;

typedef struct tp_bridge_config_s {
    char instance_id[64];
    char payload_channel[TP_BRIDGE_CHANNEL_MAX]; /* aeron:udp?endpoint=... */
    int32_t payload_stream_id;
    char control_channel[TP_BRIDGE_CHANNEL_MAX]; /* forwarded ShmPoolAnnounce (BR-7.2.a) */
    int32_t control_stream_id;
    uint32_t mtu_bytes;           /* the payload channel's MTU; chunks fit one Aeron frame (BR-5.2.i) */
    uint32_t chunk_bytes;         /* 0: as large as the MTU allows */
    uint32_t max_chunk_bytes;     /* 65535 */
    uint32_t max_payload_bytes;   /* 2^30 */
    uint32_t assembly_timeout_ms; /* 250 */
    uint32_t dest_range_lo, dest_range_hi; /* inclusive; 0/0 = none */
    bool crc32c;                  /* BR-P3 trailer on every chunk */
    uint32_t send_timeout_ms;     /* how long a sender waits for one chunk past back-pressure (100) */
    /* BR-7.1: DataSourceAnnounce/DataSourceMeta and TraceLinkSet travel on
     * their own channel; either flag needs metadata_channel and
     * metadata_stream_id. */
    char metadata_channel[TP_BRIDGE_CHANNEL_MAX];
    int32_t metadata_stream_id;
    bool forward_metadata;        /* BR-7.1.a (false) */
    bool forward_tracelink;       /* BR-7.1.b (false) */
    bool forward_qos;             /* BR-9.b: QosProducer/QosConsumer over the control channel (false) */
    bool forward_progress;        /* BR-9.a, BR-P11: receivers publish FrameProgress of the in-order prefix (false) */
    /* BR-4.a, BR-P9: how long a receiver waits while its destination stream
     * is held by another producer before it moves to the next id of the
     * range (dest_stream_id 0) or stops the mapping (a fixed id). Longer than
     * the driver's lease expiry, so a receiver restarted after a crash waits
     * out its own stale lease (10000). */
    uint32_t dest_busy_timeout_ms;
    /* Told about remaps and failed mappings, once each (may be NULL). */
    void (*on_event)(void *clientd, const char *msg);
    void *event_clientd;
    unsigned nmappings;
    tp_bridge_mapping_t mappings[TP_BRIDGE_MAX_MAPPINGS];
} tp_bridge_config_t;

/* Defaults: no channels, MTU 1408 (Aeron's), chunk 0, caps as the spec,
 * timeout 250 ms, no CRC, no mappings. */
TP_API void tp_bridge_config_init(tp_bridge_config_t *cfg);

/* Read TOML text into cfg (on top of what it holds): keys under [bridge]
 * and [[mappings]] (docs/configuration.md, "tp bridge"). 0, or -1 with
 * tp_errmsg() naming the line and the key. */
TP_API int tp_bridge_config_parse(tp_bridge_config_t *cfg, const char *text, size_t len);

/* tp_bridge_config_parse of a file (at most 1 MiB). */
TP_API int tp_bridge_config_load_file(tp_bridge_config_t *cfg, const char *path);

/* Check a config (channels set, stream ids distinct, range not overlapping
 * the bridge's own ids or fixed destinations, BR-4.b). 0, or -1 with
 * tp_errmsg() naming the problem. */
TP_API int tp_bridge_config_validate(const tp_bridge_config_t *cfg);

/* Payload bytes per chunk for the config: min(chunk_bytes, what fits one
 * Aeron frame of mtu_bytes with chunk 0's 256 header bytes, max_chunk_bytes). */
TP_API uint32_t tp_bridge_config_chunk_unit(const tp_bridge_config_t *cfg);

/* Counters of one mapping. */
typedef struct tp_bridge_counters_s {
    uint32_t source_stream_id;
    uint32_t dest_stream_id;  /* receive: the local stream (after range allocation) */
    tp_bridge_direction_t direction;
    uint64_t frames_sent;     /* send */
    uint64_t chunks_sent;     /* send */
    uint64_t bytes_sent;      /* send: payload bytes */
    uint64_t send_aborted;    /* send: frame overwritten while read, or back-pressure past send_timeout */
    uint64_t announces_forwarded; /* send */
    uint64_t metadata_forwarded;  /* send: DataSourceAnnounce/DataSourceMeta sent on the metadata channel */
    uint64_t tracelinks_forwarded; /* send: TraceLinkSets sent on the metadata channel */
    uint64_t metadata_republished; /* receive: forwarded metadata published locally, stream id rewritten */
    uint64_t tracelinks_republished; /* receive: forwarded TraceLinkSets published locally */
    uint64_t forward_dropped;     /* receive: forwarded messages malformed, too large or not published */
    uint64_t qos_forwarded;       /* send: QosProducer/QosConsumer sent on the control channel (BR-9.b) */
    uint64_t qos_republished;     /* receive: forwarded QoS published locally, stream id rewritten */
    uint64_t dest_remaps;         /* receive: destination ids given up because another producer held them (BR-P9) */
    uint64_t dest_failed;         /* receive: 1 when the mapping stopped: its destination is held and no id is left */
    uint64_t chunks_received; /* receive */
    uint64_t frames_rebuilt;  /* receive: committed and published */
    uint64_t duplicates;      /* receive */
    uint64_t drops[TP_BRIDGE_DROP_COUNT_]; /* receive, by cause */
    uint64_t local_epoch;     /* receive: the destination stream's epoch (BR-8.c) */
    uint64_t source_epoch;    /* receive: latest forwarded announce's epoch */
} tp_bridge_counters_t;

typedef struct tp_bridge_s tp_bridge_t;

/* Open every mapping: consumers and publications for send, producers and
 * subscriptions for receive; attaching completes in do_work. 0 or -1. */
TP_API int tp_bridge_open(tp_bridge_t **out, const tp_client_context_t *ctx, const tp_bridge_config_t *cfg);

/* One duty cycle at now_ns (CLOCK_MONOTONIC). Work count, or -1. */
TP_API int tp_bridge_do_work(tp_bridge_t *b, int64_t now_ns);

/* Counters of mapping i (0..nmappings-1). 0 or -1. */
TP_API int tp_bridge_counters(const tp_bridge_t *b, unsigned i, tp_bridge_counters_t *out);

/* Close everything. NULL is a no-op. */
TP_API void tp_bridge_close(tp_bridge_t *b);

#ifdef __cplusplus
}
#endif
#endif
