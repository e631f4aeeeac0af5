/* Consumer client: attaches as a CONSUMER, maps the regions read-only, follows
 * ShmPoolAnnounce (freshness, join time, epoch preference, docs/spec/wire.md §5.1),
 * remaps on every epoch change (D-6.b), and turns FrameDescriptors into
 * validated zero-copy frame views handed to a callback, with drop accounting
 * (drops_gap / drops_late, §5.5) and QosConsumer at 1 Hz. Only the driver's
 * announce or attach answer changes the mapping, and only once the new files
 * validate; a descriptor can at most be refused and counted
 * (docs/threat-model.md).
 *
 * Single-threaded: tp_consumer_poll does everything. Hot path (descriptor
 * poll and slot read): no allocation, no syscall.
 */
#ifndef TENSORPOOL_CONSUMER_H
#define TENSORPOOL_CONSUMER_H

#include "tensorpool/client.h"
#include "tensorpool/control_response.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/meta.h"
#include "tensorpool/shm_drops.h"
#include "tensorpool/shm_layout.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_consumer_s tp_consumer_t;

/* A frame that passed the epoch, sequence, seqlock and §5.4 checks. Valid
 * only during the callback. The payload is read in place: bytes read through
 * it are trustworthy only if tp_frame_intact() still says 1 afterwards (the
 * producer may lap the ring, W-11.a); the consumer checks once more after the
 * callback and counts drops_late if it changed. */
typedef struct tp_frame_s {
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    const tp_slot_header_t *header; /* private copy of the slot header */
    const int32_t *strides;         /* resolved byte strides, header->tensor.ndims of them */
    const uint8_t *payload;         /* len bytes in the mapped pool; NULL when len is 0 */
    uint32_t len;
    uint64_t descriptor_timestamp_ns; /* FrameDescriptor.timestamp_ns, 0xFFFF... if absent */
    const void *internal_;
    uint64_t trace_id; /* FrameDescriptor.trace_id, 0 = none */
    uint32_t meta_version; /* FrameDescriptor.meta_version: the metadata that applies (W-10.3.2.b) */
    int meta_current;      /* 1 if tp_consumer_meta holds that version's attributes (or it is 0) */
} tp_frame_t;

typedef void (*tp_frame_handler_t)(void *clientd, const tp_frame_t *frame);

/* Open and start attaching to stream_id. per_consumer_stream_id > 0 asks the
 * producer for that per-consumer descriptor stream with ConsumerHello
 * (W-10.1.2.e); < 0 asks the authority (the driver) to choose one from its
 * driver.descriptor_stream_id_range (docs/spec/driver.md §5.5, [R] 18); 0 uses the
 * shared stream only. Declined requests stay on the shared stream. 0 or -1. */
TP_API int tp_consumer_open(tp_consumer_t **out, const tp_client_context_t *ctx, uint32_t stream_id, int32_t per_consumer_stream_id);

/* One duty cycle: up to limit descriptors, and the control side (lease,
 * announces, configs, metadata, liveness, QoS). The control side is read
 * on every 16th call or when 2 us have passed since it was last read (by
 * now_ns), whichever comes first, and on every call while FrameProgress is
 * on: a loop spinning on this call pays for the descriptor stream only. A
 * descriptor of an epoch not mapped yet makes the call read the control side
 * before taking it (its announce may be there), and a frame naming metadata
 * not held makes it read the metadata stream first. now_ns is
 * CLOCK_MONOTONIC; it only paces that control side and dates rate-limited
 * frames without a publish time, so a loop spinning on this call may read
 * the clock every few dozen passes and pass the last value. Returns the work
 * count, or -1 on misuse. */
TP_API int tp_consumer_poll(tp_consumer_t *c, int64_t now_ns, tp_frame_handler_t handler, void *clientd, int limit);

/* 1 if the frame's slot still holds that frame (seqlock re-check without
 * counting anything). */
TP_API int tp_frame_intact(const tp_frame_t *frame);

/* 1 when regions are mapped and descriptors are read. */
TP_API int tp_consumer_is_mapped(const tp_consumer_t *c);

/* Epoch of the mapping (0 when unmapped). */
TP_API uint64_t tp_consumer_epoch(const tp_consumer_t *c);

/* Drop counters summed over every epoch mapped so far, including the current. */
TP_API void tp_consumer_drops(const tp_consumer_t *c, tp_shm_drops_t *out);

/* What a consumer refused, and frames it lost outside the per-mapping drop
 * counters, by cause (docs/threat-model.md). With one producer publishing
 * seq 0..N-1 in one epoch and a consumer mapped before seq 0 (or having seen
 * its descriptors as lost_other_epoch), after it read the last descriptor:
 *
 *     N == accepted + drops_gap + drops_late + drops_invalid   (tp_consumer_drops)
 *          + lost_unmapped + lost_other_epoch
 *
 * The lost_* causes count frames; the refused_* causes count messages that
 * changed nothing. */
typedef struct tp_consumer_counters_s {
    uint64_t lost_unmapped;     /* frames of an epoch published while the consumer had lost its
                                 * mapping of it (stopped, lease lost, re-attaching): settled
                                 * from the first readable descriptor after it mapped the epoch
                                 * again, or one per descriptor seen meanwhile if it never did */
    uint64_t lost_other_epoch;  /* descriptors of an epoch not mapped: newer than the mapping
                                 * (before its announce) or seen while unmapped */
    uint64_t lost_stale_epoch;  /* descriptors of an epoch older than the mapping */
    uint64_t refused_foreign;   /* descriptors from a transport log another uid owns */
    uint64_t refused_unwritten; /* seq above what its slot holds: names a frame never written */
    uint64_t refused_replayed;  /* seq below the last one accounted in the epoch */
    uint64_t refused_announce;  /* announce of a newer epoch whose files did not validate:
                                 * the current mapping was kept */
    uint64_t refused_config;    /* ConsumerConfig the consumer did not ask for, or could not follow
                                 * (unknown mode, useShm FALSE without a usable fallback URI) */
    uint64_t refused_response;  /* ControlResponse malformed, with an unknown code, or naming
                                 * this consumer on another stream (W-P1) */
} tp_consumer_counters_t;

TP_API void tp_consumer_counters(const tp_consumer_t *c, tp_consumer_counters_t *out);

/* Times the consumer mapped an epoch (the first map counts). */
TP_API uint64_t tp_consumer_maps(const tp_consumer_t *c);

/* Times a mapping was dropped because another process truncated a region
 * file (SIGBUS caught, see src/shm/README.md) or broke a superblock; *why
 * (if why is not NULL) gets the latest reason ("" if none). The consumer
 * then waits for the driver's next epoch, or attaches anew after 3 announce
 * periods. */
TP_API uint64_t tp_consumer_faults(const tp_consumer_t *c, const char **why);

/* The descriptor stream in use (shared or granted per-consumer). */
TP_API int32_t tp_consumer_descriptor_stream(const tp_consumer_t *c);

TP_API tp_driver_client_t *tp_consumer_driver_client(tp_consumer_t *c);

/* ---- metadata (tensorpool/meta.h, docs/spec/wire.md §10.3) ----
 * The consumer follows the metadata stream of its stream: DataSourceAnnounce,
 * DataSourceMeta and meta blobs from logs its uid owns, polled in
 * tp_consumer_poll before the descriptors, into a store allocated at open
 * (default tp_meta_limits_init limits). */

/* The store: query it any time (tp_meta_source, tp_meta_attr, tp_meta_blob...). */
TP_API const tp_meta_store_t *tp_consumer_meta(const tp_consumer_t *c);
/* Called from tp_consumer_poll when the announce, the attributes or the blob change. */
TP_API void tp_consumer_on_meta(tp_consumer_t *c, tp_meta_handler_t h, void *clientd);
/* Other limits: a new store (allocated now; call before polling), empty
 * until the producer's next repeat; the handler stays. 0 or -1. */
TP_API int tp_consumer_set_meta_limits(tp_consumer_t *c, const tp_meta_limits_t *limits);

/* Mapping states (W-15.12.a). FALLBACK: SHM is not to be used and
 * tp_consumer_settings().fallback_uri names where the payloads are
 * (W-10.1.3.a); the consumer maps nothing and delivers no frames there. It
 * is entered when a ConsumerConfig says useShm FALSE with a supported URI
 * (left when one says useShm TRUE, or 3 s after the latest such config:
 * W-P5), or when an announce's files fail to map
 * while unmapped and such a URI is known (left by the next mapping). */
typedef enum tp_consumer_state_e {
    TP_CONSUMER_UNMAPPED = 0,
    TP_CONSUMER_MAPPED = 1,
    TP_CONSUMER_FALLBACK = 2
} tp_consumer_state_t;

TP_API tp_consumer_state_t tp_consumer_state(const tp_consumer_t *c);
TP_API const char *tp_consumer_state_name(tp_consumer_state_t s);

/* What producers and supervisors told this consumer in ConsumerConfig
 * (docs/spec/wire.md §5.8, W-10.1.3.f, W-10.5.a). Anything but STREAM on
 * SHM lapses 3 s after the latest config that set it (W-P5). */
typedef struct tp_consumer_settings_s {
    uint64_t configs;      /* ConsumerConfigs addressed to this consumer and followed */
    uint8_t mode;          /* TP_CONTROL_MODE_STREAM (1) or _RATE_LIMITED (2) */
    uint32_t max_rate_hz;  /* forced rate (W-P3); 0 = none given */
    int use_shm;
    char fallback_uri[TP_FALLBACK_URI_MAX]; /* latest supported payload_fallback_uri, "" = none */
} tp_consumer_settings_t;

TP_API void tp_consumer_settings(const tp_consumer_t *c, tp_consumer_settings_t *out);

/* ControlResponse errors (W-15.17.a): called from tp_consumer_poll for each
 * accepted response whose code is not OK, with the code
 * (tp_control_response_code_t) and "CODE: message". */
typedef void (*tp_consumer_response_handler_t)(void *clientd, int32_t code, const char *message);
TP_API void tp_consumer_set_response_handler(tp_consumer_t *c, tp_consumer_response_handler_t h, void *clientd);

/* The latest such error: returns how many were accepted (0: none; then
 * *code is 0 and *message ""). Either out pointer may be NULL. */
TP_API uint64_t tp_consumer_last_error(const tp_consumer_t *c, int32_t *code, const char **message);

/* Unmap, detach and free. NULL is a no-op. */
TP_API void tp_consumer_close(tp_consumer_t *c);

#ifdef __cplusplus
}
#endif
#endif
