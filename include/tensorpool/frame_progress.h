/* Progressive frames: FrameProgress (docs/spec/wire.md W-10.2.2, W-10.1.2.c/d,
 * D-24, consumer rules §5.6).
 *
 * A producer filling a large claimed slot reports how far it got with
 * tp_producer_progress: STARTED on the first call for a frame, throttled
 * PROGRESS after that, COMPLETE when the whole payload is filled (or at
 * commit). It publishes only while some consumer has opted in, on the shared
 * control stream, throttled by the merge of the opted-in consumers' hints
 * and the producer's floors (W-10.2.2.k).
 *
 * A consumer opts in with tp_consumer_set_progress; its ConsumerHello then
 * says supports_progress = TRUE with its hints. For each accepted
 * FrameProgress it gets a tp_progress_t naming a prefix of the in-progress
 * slot that holds only whole outer-dimension rows (rounded down) and no byte
 * the producer has not reported filled. The bytes are provisional: they are
 * trustworthy only if tp_progress_intact() still says 1 after they were
 * read. The frame itself still arrives through the frame handler with its
 * FrameDescriptor (W-10.2.2.h). Hot paths on both sides: no allocation, no
 * syscall beyond the publish.
 */
#ifndef TENSORPOOL_FRAME_PROGRESS_H
#define TENSORPOOL_FRAME_PROGRESS_H

#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"
#include "tensorpool/shm_layout.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Consumer hints (ConsumerHello, W-10.1.2.c). 0 in a field sends the null
 * value: "use the producer's default". */
typedef struct tp_progress_hints_s {
    uint32_t interval_us;       /* at most one PROGRESS per this many µs */
    uint32_t bytes_delta;       /* only once this many more bytes are filled */
    uint32_t major_delta_units; /* ... or this many more rows */
} tp_progress_hints_t;

/* Producer policy (W-10.2.2.k). Defaults: 250 µs, 65536 bytes, no row hint,
 * floors 200 µs and 4096 bytes. Hints below a floor are raised to it. */
typedef struct tp_progress_policy_s {
    uint32_t interval_us;
    uint32_t bytes_delta;
    uint32_t major_delta_units;
    uint32_t floor_interval_us;
    uint32_t floor_bytes_delta;
} tp_progress_policy_t;

/* One accepted FrameProgress, valid only during the callback. */
typedef struct tp_progress_s {
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint8_t state;                  /* tp_control_frame_progress_state_t */
    uint64_t bytes_filled;          /* as reported (<= values_len) */
    uint32_t values_len;            /* the frame's values_len_bytes */
    uint32_t row_bytes;             /* outer-dimension stride; 0: no prefix is layout-safe (W-10.2.2.i) */
    uint64_t rows;                  /* whole rows in the prefix */
    uint64_t readable;              /* rows * row_bytes: bytes at payload that may be read */
    const uint8_t *payload;         /* the slot's payload in the mapped pool */
    const tp_slot_header_t *header; /* private copy of the slot header */
    const void *internal_;
} tp_progress_t;

typedef void (*tp_progress_handler_t)(void *clientd, const tp_progress_t *progress);

/* What an opted-in consumer did with FrameProgress messages. */
typedef struct tp_progress_counters_s {
    uint64_t delivered;         /* handler calls */
    uint64_t ignored;           /* other stream, unmapped, or a state older than the latest (§5.6) */
    uint64_t refused_malformed; /* does not decode, or an unknown state value */
    uint64_t refused_epoch;     /* epoch is not the mapped one */
    uint64_t refused_slot;      /* the slot holds or is being written with another frame */
    uint64_t refused_length;    /* payload_bytes_filled beyond values_len_bytes (W-10.2.2.e) */
    uint64_t refused_backwards; /* payload_bytes_filled went down: the frame's progress is dropped (W-10.2.2.f) */
    uint64_t refused_layout;    /* the slot header failed the layout checks (W-10.2.2.d) */
    uint64_t refused_dropped;   /* more messages for a frame whose progress was dropped */
    uint64_t overwritten;       /* the slot was reused while the handler read it */
} tp_progress_counters_t;

/* ---- producer ---- */

/* Report that the first bytes_filled bytes of claim c are final. The first
 * call for a frame writes the slot header (D-24) and sends STARTED; later
 * calls send PROGRESS when the throttle allows, COMPLETE once bytes_filled
 * reaches c->len. Sends nothing while no consumer opted in. Returns 1 when a
 * message was published, 0 when none was (throttled, nobody opted in), -1
 * (TP_ERR_INVALID_ARG) when bytes_filled exceeds c->len or goes down, or
 * (TP_ERR_STATE) when not attached. Hot path: no allocation, no syscall but
 * the publish. The slot header written by the first call is final: readers
 * may copy it at any time until the commit, so the commit leaves its tensor
 * part as it is (a change to c->tensor after that call is not published). */
TP_API int tp_producer_progress(tp_producer_t *p, const tp_shm_claim_t *c, uint64_t bytes_filled);

/* Replace the throttle policy (NULL: the defaults). 0 or -1. */
TP_API int tp_producer_set_progress_policy(tp_producer_t *p, const tp_progress_policy_t *policy);

/* Consumers currently opted in to progress (supports_progress in a Hello,
 * alive by Hello or QoS within 3 QoS intervals). */
TP_API unsigned tp_producer_progress_consumers(const tp_producer_t *p);

/* FrameProgress messages published and throttled away so far. */
TP_API void tp_producer_progress_stats(const tp_producer_t *p, uint64_t *sent, uint64_t *throttled);

/* ---- consumer ---- */

/* Opt in (handler != NULL) or out (NULL): the next ConsumerHello, sent at
 * once and then every QoS interval, carries supports_progress and hints
 * (NULL hints: all null). handler runs inside tp_consumer_poll. 0 or -1. */
TP_API int tp_consumer_set_progress(tp_consumer_t *c, const tp_progress_hints_t *hints, tp_progress_handler_t handler,
                                    void *clientd);

TP_API void tp_consumer_progress_counters(const tp_consumer_t *c, tp_progress_counters_t *out);

/* 1 if the progress' slot still holds its frame (in progress or committed)
 * and its pool was not truncated: bytes read from the prefix before this
 * call are then the producer's. */
TP_API int tp_progress_intact(const tp_progress_t *progress);

#ifdef __cplusplus
}
#endif
#endif
