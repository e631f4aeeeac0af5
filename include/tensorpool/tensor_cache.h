/* The last TensorHeader message a writer encoded or a reader validated: its
 * 192 wire bytes beside the decoded header, its resolved strides and its
 * element extent.
 *
 * Most streams keep one shape for their whole life, so the per-frame work on
 * the TensorHeader (a writer's check and encode, a reader's copy, decode and
 * check) is paid once:
 *   - a writer whose header matches the cache skips the check and writes the
 *     slot's TensorHeader lines only where they differ from the cached bytes
 *     (a slot reused with the same shape is left alone, so the lines stay
 *     shared with the readers' caches instead of moving to the writer and
 *     back on every frame; a neighbour's scribble is still overwritten);
 *   - a reader whose slot holds exactly the cached bytes takes the cached
 *     decode, which passed every check when it was stored. Comparing the
 *     live bytes instead of copying them changes nothing the seqlock
 *     guarantees: the frame's header is still a private, validated copy, and
 *     a writer that changes the slot meanwhile fails the second load.
 *
 * Hot path: no allocation, no syscall.
 */
#ifndef TENSORPOOL_TENSOR_CACHE_H
#define TENSORPOOL_TENSOR_CACHE_H

#include "tensorpool/shm_layout.h"
#include "tensorpool/tensor_header.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_tensor_cache_s {
    uint8_t msg[TP_SHM_HEADER_BYTES_LEN]; /* the message as on the wire */
    tp_tensor_header_t tensor;            /* msg decoded */
    int32_t strides[TP_TENSOR_MAX_DIMS];  /* resolved (tp_tensor_header_check) */
    uint64_t extent;                      /* tp_tensor_header_extent */
    int valid;
} tp_tensor_cache_t;

/* Writer: 1 if t would encode to the cached message (every field a producer
 * encodes is equal; dims and strides past ndims are not encoded). */
TP_INTERNAL int tp_tensor_cache_same(const tp_tensor_cache_t *c, const tp_tensor_header_t *t);

/* Writer: remember t, which passed tp_tensor_header_check with `strides` and
 * has `extent`, and its encoding. */
TP_INTERNAL void tp_tensor_cache_put(tp_tensor_cache_t *c, const tp_tensor_header_t *t,
                                     const int32_t strides[TP_TENSOR_MAX_DIMS], uint64_t extent);

/* Writer: make the slot's TensorHeader message the cached one, storing only
 * the 64-byte lines that differ. */
TP_INTERNAL void tp_tensor_cache_write_slot(const tp_tensor_cache_t *c, uint8_t *slot);

/* Reader: 1 if the live slot's TensorHeader message is byte for byte the
 * cached one. */
TP_INTERNAL int tp_tensor_cache_matches_slot(const tp_tensor_cache_t *c, const uint8_t *slot);

/* Reader: remember a message (a private copy) whose decode h passed every
 * TensorHeader check, with its resolved strides and extent. */
TP_INTERNAL void tp_tensor_cache_store(tp_tensor_cache_t *c, const uint8_t *msg, const tp_slot_header_t *h,
                                       const int32_t strides[TP_TENSOR_MAX_DIMS], uint64_t extent);

/* Reader: the cached decode into h (the embedded message header and the
 * tensor) and strides. */
TP_INTERNAL void tp_tensor_cache_load(const tp_tensor_cache_t *c, tp_slot_header_t *h,
                                      int32_t strides[TP_TENSOR_MAX_DIMS]);

#ifdef __cplusplus
}
#endif
#endif
