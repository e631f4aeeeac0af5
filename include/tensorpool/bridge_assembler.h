/* The bridge receiver's frame assembler (docs/spec/bridge.md §3): a pure
 * state machine with no I/O. It is handed parsed BridgeFrameChunks and the
 * time, writes each chunk's bytes straight into the destination buffer the
 * sink gave for the frame, and says when a frame is complete or why it was
 * dropped, with one counter per cause.
 *
 * Counters count frames, not chunks: once a frame is dropped its key is
 * remembered for a while and its remaining chunks are discarded without
 * counting again (and without starting a doomed assembly); a chunk that
 * cannot belong to any frame counts once on its own.
 *
 * All memory is allocated by tp_bridge_asm_init; on_chunk, poll and
 * set_announce allocate nothing. Single-threaded. */
#ifndef TENSORPOOL_BRIDGE_ASSEMBLER_H
#define TENSORPOOL_BRIDGE_ASSEMBLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_BRIDGE_HEADER_BYTES 256u   /* SlotHeader block + TensorHeader (BR-5.2.c) */
#define TP_BRIDGE_MAX_CHUNKS 65535u   /* BR-5.2.a */
#define TP_BRIDGE_MAX_PAYLOAD (1u << 30)
#define TP_BRIDGE_MAX_ASSEMBLIES 8u
#define TP_BRIDGE_MAX_POOLS 16u

/* Why a chunk or a frame was dropped; one counter each. Stable order. */
typedef enum tp_bridge_drop_e {
    TP_BRIDGE_DROP_MALFORMED = 0, /* chunk breaks a §5.2 rule on its own */
    TP_BRIDGE_DROP_NO_ANNOUNCE,   /* no forwarded ShmPoolAnnounce yet (BR-5.2.h) */
    TP_BRIDGE_DROP_EPOCH,         /* epoch not the announce's (BR-6.a, BR-8.b) */
    TP_BRIDGE_DROP_TOO_LARGE,     /* payloadLength or chunkLength above a limit (BR-5.2.f/g) */
    TP_BRIDGE_DROP_CONFLICT,      /* same index, different bytes or frame fields (BR-5.2.l) */
    TP_BRIDGE_DROP_OVERLAP,       /* slice not the one its index implies (BR-P1) */
    TP_BRIDGE_DROP_TRACE,         /* traceId differs across chunks (BR-5.2.j) */
    TP_BRIDGE_DROP_CRC,           /* CRC32C trailer missing or wrong (BR-P3) */
    TP_BRIDGE_DROP_TIMEOUT,       /* incomplete after the assembly timeout (BR-5.3.b) */
    TP_BRIDGE_DROP_MISSING,       /* incomplete when a newer frame needed its assembly (BR-5.3.a) */
    TP_BRIDGE_DROP_HEADER,        /* 256 header bytes fail BR-6.b/c or seq != seq_commit>>1 */
    TP_BRIDGE_DROP_NO_SLOT,       /* no local buffer for the frame (BR-6.d) */
    TP_BRIDGE_DROP_REMAP,         /* in flight when the source epoch changed (BR-8.a) */
    TP_BRIDGE_DROP_COUNT_
} tp_bridge_drop_t;

/* Short stable name ("timeout"); never NULL. */
TP_INTERNAL const char *tp_bridge_drop_name(tp_bridge_drop_t cause);

/* One chunk, parsed (pointers into the received message). */
typedef struct tp_bridge_chunk_s {
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
    uint32_t chunk_index;
    uint32_t chunk_count;
    uint32_t chunk_offset;
    uint32_t chunk_length;
    uint32_t payload_length;
    uint8_t header_included;
    const uint8_t *header;  /* header_len bytes */
    uint32_t header_len;
    const uint8_t *payload; /* payload_len bytes */
    uint32_t payload_len;
    bool has_crc;           /* a 4-byte trailer followed the message (BR-P3) */
    uint32_t crc;
} tp_bridge_chunk_t;

/* Parse one received Aeron message as a BridgeFrameChunk (schema 902,
 * checked before anything else, BR-7.2.b). With crc, the message must be
 * followed by exactly 4 trailer bytes. 0, or -1 with tp_errmsg() saying why
 * (TP_ERR_NOT_MINE for another schema). No allocation. */
TP_INTERNAL int tp_bridge_chunk_parse(const void *buf, size_t len, bool crc, tp_bridge_chunk_t *out);

/* Encoded size of a chunk with payload_len bytes (header_included adds the
 * 256 header bytes), plus 4 with crc. */
TP_INTERNAL size_t tp_bridge_chunk_size(bool header_included, uint32_t payload_len, bool crc);

/* Encode c into buf (cap bytes), payload bytes copied from c->payload and
 * header bytes from c->header; with crc, the CRC32C trailer of the payload
 * after it. Returns the length written, or -1. */
TP_INTERNAL long tp_bridge_chunk_encode(const tp_bridge_chunk_t *c, bool crc, void *buf, size_t cap);

/* The source pools of the latest forwarded ShmPoolAnnounce (BR-7.2.a). */
typedef struct tp_bridge_announce_s {
    uint64_t epoch;
    unsigned npools;
    uint16_t pool_id[TP_BRIDGE_MAX_POOLS];
    uint32_t stride[TP_BRIDGE_MAX_POOLS];
} tp_bridge_announce_t;

/* Where rebuilt frames go: the receiver hands out a destination slot. */
typedef struct tp_bridge_sink_s {
    /* A buffer of at least len bytes for frame (epoch, seq), or NULL (the
     * frame drops as no_slot). */
    uint8_t *(*acquire)(void *ctx, uint64_t epoch, uint64_t seq, uint32_t len);
    /* The frame held buf and was dropped: buf is free again. */
    void (*release)(void *ctx, uint8_t *buf);
    void *ctx;
} tp_bridge_sink_t;

typedef struct tp_bridge_asm_config_s {
    uint32_t stream_id;         /* chunks of other streams are not this mapping's */
    uint32_t max_chunk_bytes;   /* effective chunk bound (BR-5.2.g), <= 65535 */
    uint32_t max_payload_bytes; /* bridge.max_payload_bytes (BR-5.2.f) */
    uint32_t local_max_stride;  /* largest local pool stride; 0 = no local limit */
    uint64_t timeout_ns;        /* assembly timeout (BR-5.3.b) */
    unsigned assemblies;        /* frames in flight, 1..TP_BRIDGE_MAX_ASSEMBLIES */
    bool crc32c;                /* require the BR-P3 trailer */
} tp_bridge_asm_config_t;

/* Defaults: 1408-byte chunks (1536 MTU - 128), 2^30 payload, no local
 * limit, 250 ms, 4 assemblies, no CRC. */
TP_INTERNAL void tp_bridge_asm_config_init(tp_bridge_asm_config_t *c, uint32_t stream_id);

/* A complete frame: buf holds payload_length bytes; header the 256 source
 * header bytes (checked). The caller now owns buf. */
typedef struct tp_bridge_frame_s {
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
    uint32_t payload_length;
    uint8_t *buf;
    const uint8_t *header;
} tp_bridge_frame_t;

typedef enum tp_bridge_result_e {
    TP_BRIDGE_PENDING = 0, /* chunk taken; the frame is not complete yet */
    TP_BRIDGE_COMPLETE,    /* *frame is filled in */
    TP_BRIDGE_DUPLICATE,   /* identical repeat, ignored */
    TP_BRIDGE_DROPPED,     /* chunk (and its frame, if any) dropped; counted */
    TP_BRIDGE_OTHER_STREAM /* not this mapping's stream; nothing counted */
} tp_bridge_result_t;

typedef struct tp_bridge_asm_s tp_bridge_asm_t;

/* Allocate an assembler. 0 or -1 (bad config: TP_ERR_INVALID_ARG). */
TP_INTERNAL int tp_bridge_asm_init(tp_bridge_asm_t **out, const tp_bridge_asm_config_t *cfg, const tp_bridge_sink_t *sink);
TP_INTERNAL void tp_bridge_asm_destroy(tp_bridge_asm_t *a);

/* A forwarded announce arrived. A new epoch drops what is in flight (BR-8.a);
 * an older epoch than one already seen is ignored (BR-8.b). */
TP_INTERNAL void tp_bridge_asm_set_announce(tp_bridge_asm_t *a, const tp_bridge_announce_t *ann);

/* Feed one chunk at time now_ns. On TP_BRIDGE_DROPPED, *cause (if not
 * NULL) says why. */
TP_INTERNAL tp_bridge_result_t tp_bridge_asm_on_chunk(tp_bridge_asm_t *a, const tp_bridge_chunk_t *c, uint64_t now_ns,
                                                      tp_bridge_frame_t *frame, tp_bridge_drop_t *cause);

/* Drop frames older than the timeout. Returns how many dropped. */
TP_INTERNAL unsigned tp_bridge_asm_poll(tp_bridge_asm_t *a, uint64_t now_ns);

/* Drop everything in flight (e.g. the local producer lost its mapping),
 * counted under cause. */
TP_INTERNAL void tp_bridge_asm_reset(tp_bridge_asm_t *a, tp_bridge_drop_t cause);

/* BR-P11: bytes of the frame (epoch, seq) in flight that are written in
 * order from offset 0 (chunks 0..k-1 all arrived), and its checked source
 * header in *header; 0 when it is not in flight or chunk 0 is missing. */
TP_INTERNAL uint64_t tp_bridge_asm_prefix(const tp_bridge_asm_t *a, uint64_t epoch, uint64_t seq, const uint8_t **header);

/* Counters. */
TP_INTERNAL uint64_t tp_bridge_asm_drops(const tp_bridge_asm_t *a, tp_bridge_drop_t cause);
TP_INTERNAL uint64_t tp_bridge_asm_completed(const tp_bridge_asm_t *a);
TP_INTERNAL uint64_t tp_bridge_asm_duplicates(const tp_bridge_asm_t *a);
TP_INTERNAL unsigned tp_bridge_asm_in_flight(const tp_bridge_asm_t *a);

#ifdef __cplusplus
}
#endif
#endif
