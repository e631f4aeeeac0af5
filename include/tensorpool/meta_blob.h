/* Meta blob assembler (docs/spec/wire.md §10.3, W-10.3.3.a, W-15.9.a, D-18):
 * a pure state machine with no I/O that turns MetaBlobAnnounce, MetaBlobChunk
 * and MetaBlobComplete into one reassembled blob, or refuses it with one
 * reason. Chunks must arrive in order, back to back: any offset other than
 * the next expected byte is a gap (ahead) or an overlap (behind), and the
 * blob is thrown away; so is a blob whose CRC32C does not match a non-zero
 * checksum (D-18: the CRC32C zero-extended, 0 = none). Retransmission is not
 * covered (W-10.3.3.a): the producer repeats the whole blob periodically.
 *
 * Two buffers of `cap` bytes are allocated by init: the blob being assembled
 * and the last complete one, so a broken repeat never destroys a good blob.
 * announce/chunk/complete allocate nothing. Single-threaded. */
#ifndef TENSORPOOL_META_BLOB_H
#define TENSORPOOL_META_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_META_CHUNK_MAX 65536u /* W-15.9.a CHUNK_MAX */

/* What one message did. Stable order; negative values are refusals. */
typedef enum tp_meta_blob_result_e {
    TP_META_BLOB_IGNORED = 0,      /* nothing to do (a repeat of the blob already held) */
    TP_META_BLOB_PROGRESS = 1,     /* taken; the blob is not complete yet */
    TP_META_BLOB_DONE = 2,         /* a new blob is complete and held */
    TP_META_BLOB_OVERSIZED = -1,   /* announced total_len above the limit, or a chunk above CHUNK_MAX */
    TP_META_BLOB_GAP = -2,         /* chunk offset ahead of the next byte, or completed short */
    TP_META_BLOB_OVERLAP = -3,     /* chunk offset behind the next byte, or past total_len */
    TP_META_BLOB_CHECKSUM = -4,    /* CRC32C mismatch, or announce and complete disagree */
    TP_META_BLOB_MALFORMED = -5,   /* chunk or complete with no announce of its version,
                                    * checksum with high bits set (D-18) */
} tp_meta_blob_result_t;

typedef struct tp_meta_blob_asm_s {
    uint64_t cap;
    uint8_t *work, *done;
    /* blob being assembled */
    int active;
    uint32_t version, type;
    uint64_t total, checksum, next;
    /* a repeat of the held blob: its chunks are skipped without counting */
    int skipping;
    uint32_t skip_version;
    /* last complete blob */
    int have;
    uint32_t done_version, done_type;
    uint64_t done_len, done_checksum;
} tp_meta_blob_asm_t;

/* Allocate the two buffers of cap bytes (cap 0: every blob is oversized). 0 or -1. */
TP_INTERNAL int tp_meta_blob_asm_init(tp_meta_blob_asm_t *a, uint64_t cap);
TP_INTERNAL void tp_meta_blob_asm_fini(tp_meta_blob_asm_t *a);

TP_INTERNAL tp_meta_blob_result_t tp_meta_blob_asm_announce(tp_meta_blob_asm_t *a, uint32_t version, uint32_t type,
                                                            uint64_t total_len, uint64_t checksum);
TP_INTERNAL tp_meta_blob_result_t tp_meta_blob_asm_chunk(tp_meta_blob_asm_t *a, uint32_t version, uint64_t offset,
                                                         const uint8_t *data, size_t len);
TP_INTERNAL tp_meta_blob_result_t tp_meta_blob_asm_complete(tp_meta_blob_asm_t *a, uint32_t version, uint64_t checksum);

/* "ignored", "progress", "done", "oversized", "gap", "overlap", "checksum", "malformed". */
TP_INTERNAL const char *tp_meta_blob_result_name(tp_meta_blob_result_t r);

#ifdef __cplusplus
}
#endif
#endif
