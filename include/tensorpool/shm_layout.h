/* Byte layout of the SHM structures (docs/spec/wire.md §3.2-§3.4): the 64-byte region
 * superblock (SBE template 50), the 256-byte header slot (SlotHeader, template
 * 51) and the TensorHeader embedded in it (template 52), all schema 900.
 *
 * Every byte offset of these structures lives behind these functions, in one
 * file (src/shm/shm_layout.c), so that it can be swapped for the generated
 * SBE flyweights without touching callers. The seqlock word at slot offset 0
 * is protocol-level and lives in shm_seqlock.h instead.
 */
#ifndef TENSORPOOL_SHM_LAYOUT_H
#define TENSORPOOL_SHM_LAYOUT_H

#include "tensorpool/codec/control.h"
#include "tensorpool/tensor_header.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_SHM_SUPERBLOCK_SIZE 64u           /* W-6.b: constant, never derived */
#define TP_SHM_SLOT_BYTES 256u               /* W-8.1.a, W-10.1.1.b */
#define TP_SHM_MAGIC 0x544F504C53484D31ULL   /* W-7.1.e, D-2 */
#define TP_SHM_LAYOUT_VERSION 1u             /* D-9 */
#define TP_SHM_SCHEMA_ID 900u
#define TP_SHM_SCHEMA_VERSION 1u
#define TP_SHM_TENSOR_TEMPLATE_ID 52u
#define TP_SHM_TENSOR_BLOCK_LENGTH 184u
#define TP_SHM_HEADER_BYTES_LEN 192u         /* W-8.2.d: 8 + 184 */
#define TP_SHM_SLOT_TENSOR_OFFSET 64u        /* the embedded TensorHeader message: after the root block and its length */
#define TP_SHM_POOL_SLOT_BYTES_NULL 0xFFFFFFFFu /* D-5 */
#define TP_SHM_ACTIVITY_OFFSET 56u           /* 8-aligned, atomic (§3.6) */

/* Where slot `index` starts: in a header ring (slot_bytes
 * TP_SHM_SLOT_BYTES) or a payload pool (slot_bytes its stride); the
 * superblock comes first (W-6.b). */
static inline uint8_t *tp_shm_slot_at(uint8_t *base, uint32_t index, uint32_t slot_bytes)
{
    return base + TP_SHM_SUPERBLOCK_SIZE + (size_t)index * slot_bytes;
}

/* region_type values: tp_control_region_type_t (codec/control.h). */

/* ShmRegionSuperblock values (docs/spec/wire.md §3.2). */
typedef struct tp_superblock_s {
    uint64_t magic;
    uint32_t layout_version;
    uint64_t epoch;
    uint32_t stream_id;
    int16_t region_type;
    uint16_t pool_id;
    uint32_t nslots;
    uint32_t slot_bytes;
    uint32_t stride_bytes;
    uint64_t pid;
    uint64_t start_timestamp_ns;
    uint64_t activity_timestamp_ns;
} tp_superblock_t;

/* Header slot values other than seq_commit (docs/spec/wire.md §3.3). The embedded
 * message header is kept as read so validation can reject it. */
typedef struct tp_slot_header_s {
    uint32_t values_len_bytes;
    uint32_t payload_slot;
    uint16_t pool_id;
    uint32_t payload_offset;
    uint64_t timestamp_ns;
    uint32_t meta_version;
    uint32_t header_bytes_len; /* must be 192 */
    uint16_t block_length;     /* embedded TensorHeader message header: 184 */
    uint16_t template_id;      /* 52 */
    uint16_t schema_id;        /* 900 */
    uint16_t version;          /* 1 */
    tp_tensor_header_t tensor;
} tp_slot_header_t;

/* Decode the 64 superblock bytes at src. activity_timestamp_ns is read as a
 * plain value; use tp_superblock_activity_load for a live mapping. */
TP_INTERNAL void tp_superblock_read(const uint8_t *src, tp_superblock_t *out);

/* Encode sb into the 64 bytes at dst. */
TP_INTERNAL void tp_superblock_write(uint8_t *dst, const tp_superblock_t *sb);

/* Atomic relaxed load/store of activity_timestamp_ns in a mapped superblock
 * (§3.6 "Activity timestamp"). base must be 8-byte aligned. */
TP_INTERNAL uint64_t tp_superblock_activity_load(const uint8_t *base);
TP_INTERNAL void tp_superblock_activity_store(uint8_t *base, uint64_t now_ns);

/* Decode slot bytes 8..255 (everything but seq_commit) from a 256-byte slot
 * image. Callers pass a private copy, never the live slot (§3.6 step 5). */
TP_INTERNAL void tp_slot_header_read(const uint8_t *slot, tp_slot_header_t *out);

/* The part of tp_slot_header_read before the embedded message: the
 * SlotHeader fields and header_bytes_len, from bytes 8..63. */
TP_INTERNAL void tp_slot_root_read(const uint8_t *slot, tp_slot_header_t *out);

/* Encode slot bytes 8..255 completely (W-8.3.b step 3): h's SlotHeader
 * fields, pad zeroed, length 192, the embedded header {184, 52, 900, 1}
 * (whatever h says) and the TensorHeader body with dims/strides >= ndims and
 * pad zeroed. Bytes 0..7 (seq_commit) are not touched. */
TP_INTERNAL void tp_slot_header_write(uint8_t *slot, const tp_slot_header_t *h);

/* Encode only slot bytes 8..63 (the SlotHeader root block and the length of
 * the embedded TensorHeader), leaving the TensorHeader at 64..255 as it is.
 * For a commit after the header was staged: rewriting the TensorHeader would
 * zero it first, and a FrameProgress reader copying it meanwhile (the seqlock
 * names the same seq throughout) would take zeroed dims as valid. */
TP_INTERNAL void tp_slot_header_write_root(uint8_t *slot, const tp_slot_header_t *h);

/* A writer's SlotHeader root block, kept encoded: the block has no groups
 * or var data, so a frame rewrites its six fields in place and copies bytes
 * 8..63 into the slot, without setting up an encoder per frame. Zeroed is a
 * valid state: the first write (or the first after the image moved) encodes
 * it. */
typedef struct tp_slot_root_image_s {
    tp_control_slot_header_enc_t enc; /* bound to img */
    uint8_t img[TP_SHM_SLOT_TENSOR_OFFSET];
} tp_slot_root_image_t;

/* tp_slot_header_write_root through the image r. */
TP_INTERNAL void tp_slot_root_image_write(tp_slot_root_image_t *r, uint8_t *slot, const tp_slot_header_t *h);

/* Encode slot bytes 8..255 exactly as h says, including header_bytes_len,
 * the embedded message header and dims/strides beyond ndims. For tests and
 * tools that must produce hostile slots; producers use tp_slot_header_write. */
TP_INTERNAL void tp_slot_header_write_raw(uint8_t *slot, const tp_slot_header_t *h);

/* Decode a complete TensorHeader message (8-byte header + 184-byte body,
 * 192 bytes at src) into the message header fields of *out and out->tensor. */
TP_INTERNAL void tp_tensor_message_read(const uint8_t *src, tp_slot_header_t *out);

/* Encode t as a complete 192-byte TensorHeader message at dst. */
TP_INTERNAL void tp_tensor_message_write(uint8_t *dst, const tp_tensor_header_t *t);

#ifdef __cplusplus
}
#endif
#endif
