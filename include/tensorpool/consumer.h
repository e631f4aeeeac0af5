/* Consumer client: attaches as a CONSUMER, maps the regions read-only, follows
 * ShmPoolAnnounce (freshness, join time, epoch preference, wire.md §5.1),
 * remaps on every epoch change (D-6.b), and turns FrameDescriptors into
 * validated zero-copy frame views handed to a callback, with drop accounting
 * (drops_gap / drops_late, §5.5) and QosConsumer at 1 Hz.
 *
 * Single-threaded: tp_consumer_poll does everything. Hot path (descriptor
 * poll and slot read): no allocation, no syscall.
 */
#ifndef TENSORPOOL_CONSUMER_H
#define TENSORPOOL_CONSUMER_H

#include "tensorpool/client.h"
#include "tensorpool/driver_client.h"
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
} tp_frame_t;

typedef void (*tp_frame_handler_t)(void *clientd, const tp_frame_t *frame);

/* Open and start attaching to stream_id. per_consumer_stream_id > 0 asks the
 * producer for that per-consumer descriptor stream with ConsumerHello
 * (W-10.1.2.e); < 0 asks the authority (the driver) to choose one from its
 * driver.descriptor_stream_id_range (driver.md §5.5, [R] 18); 0 uses the
 * shared stream only. Declined requests stay on the shared stream. 0 or -1. */
TP_API int tp_consumer_open(tp_consumer_t **out, const tp_client_context_t *ctx, uint32_t stream_id, int32_t per_consumer_stream_id);

/* One duty cycle: lease, announces, liveness, QoS, and up to limit
 * descriptors. Returns the work count, or -1 on misuse. */
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

/* Unmap, detach and free. NULL is a no-op. */
TP_API void tp_consumer_close(tp_consumer_t *c);

#ifdef __cplusplus
}
#endif
#endif
