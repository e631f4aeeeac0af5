/* The last TensorHeader message written or validated (tensor_cache.h). */
#include "tensorpool/tensor_cache.h"

#include "tensorpool/codec/control.h"

#include <string.h>

enum { LINE = 64 };
_Static_assert(TP_SHM_HEADER_BYTES_LEN % LINE == 0 && TP_SHM_SLOT_TENSOR_OFFSET % LINE == 0,
               "the message is whole cache lines of a 64-byte aligned slot");

int tp_tensor_cache_same(const tp_tensor_cache_t *c, const tp_tensor_header_t *t)
{
    const tp_tensor_header_t *k = &c->tensor; /* valid: passed the check, so ndims is 1..8 */
    if (!c->valid || t->dtype != k->dtype || t->major_order != k->major_order || t->ndims != k->ndims ||
        t->progress_unit != k->progress_unit)
        return 0;
    /* D-12: the stride is encoded as 0 without a progress unit */
    if (t->progress_unit != TP_CONTROL_PROGRESS_UNIT_NONE && t->progress_stride_bytes != k->progress_stride_bytes) return 0;
    /* W-8.2.j: dims and strides past ndims are encoded as 0. A loop, not
     * memcmp: a few elements, compared on every claim and commit */
    uint32_t diff = 0;
    for (uint8_t i = 0; i < t->ndims; i++) diff |= (uint32_t)(t->dims[i] ^ k->dims[i]) | (uint32_t)(t->strides[i] ^ k->strides[i]);
    return diff == 0;
}

/* The decode beside c->msg, which the caller has just filled. */
static void keep(tp_tensor_cache_t *c, const tp_tensor_header_t *t, const int32_t strides[TP_TENSOR_MAX_DIMS],
                 uint64_t extent)
{
    c->tensor = *t;
    memcpy(c->strides, strides, sizeof c->strides);
    c->extent = extent;
    c->valid = 1;
}

void tp_tensor_cache_put(tp_tensor_cache_t *c, const tp_tensor_header_t *t, const int32_t strides[TP_TENSOR_MAX_DIMS],
                         uint64_t extent)
{
    tp_tensor_message_write(c->msg, t);
    keep(c, t, strides, extent);
}

/* Whether n bytes (a multiple of 16) at a and b differ: 16 bytes at a time,
 * all of them, inlined where memcmp would be a library call per line. GCC and
 * clang lower the vector type to SSE2 on x86-64 and NEON on arm64, and to
 * plain words elsewhere. */
typedef uint64_t tp_u64x2_t __attribute__((vector_size(16)));

static int differ(const uint8_t *a, const uint8_t *b, unsigned n)
{
    tp_u64x2_t d = {0, 0};
#pragma GCC unroll 12 /* n is a constant 64 or 192 where this inlines: no loop left */
    for (unsigned off = 0; off < n; off += 16) {
        tp_u64x2_t x, y;
        memcpy(&x, a + off, 16);
        memcpy(&y, b + off, 16);
        d |= x ^ y;
    }
    return (d[0] | d[1]) != 0;
}

void tp_tensor_cache_write_slot(const tp_tensor_cache_t *c, uint8_t *slot)
{
    uint8_t *dst = slot + TP_SHM_SLOT_TENSOR_OFFSET;
    for (unsigned off = 0; off < TP_SHM_HEADER_BYTES_LEN; off += LINE)
        if (differ(dst + off, c->msg + off, LINE)) memcpy(dst + off, c->msg + off, LINE);
}

int tp_tensor_cache_matches_slot(const tp_tensor_cache_t *c, const uint8_t *slot)
{
    return c->valid && !differ(slot + TP_SHM_SLOT_TENSOR_OFFSET, c->msg, TP_SHM_HEADER_BYTES_LEN);
}

void tp_tensor_cache_store(tp_tensor_cache_t *c, const uint8_t *msg, const tp_slot_header_t *h,
                           const int32_t strides[TP_TENSOR_MAX_DIMS], uint64_t extent)
{
    memcpy(c->msg, msg, sizeof c->msg);
    keep(c, &h->tensor, strides, extent);
}

void tp_tensor_cache_load(const tp_tensor_cache_t *c, tp_slot_header_t *h, int32_t strides[TP_TENSOR_MAX_DIMS])
{
    /* stored only after passing W-8.3.c/d: the header was exactly this */
    h->block_length = TP_SHM_TENSOR_BLOCK_LENGTH;
    h->template_id = TP_SHM_TENSOR_TEMPLATE_ID;
    h->schema_id = TP_SHM_SCHEMA_ID;
    h->version = TP_SHM_SCHEMA_VERSION;
    h->tensor = c->tensor;
    memcpy(strides, c->strides, sizeof c->strides);
}
