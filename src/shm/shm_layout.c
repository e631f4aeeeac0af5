/* The one place that knows the byte offsets of the superblock, the SlotHeader
 * and the TensorHeader (wire.md §3.2-§3.4). Hand-written with memcpy-based
 * little-endian helpers (fields sit at unaligned offsets, W-8.2.n, D-3) until
 * the generated SBE flyweights land; callers use only the functions in
 * shm_layout.h. W-15.1.d: little-endian hosts only. */
#include "tensorpool/shm_layout.h"

#include <stdatomic.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensorpool SHM layout supports little-endian hosts only (W-15.1.d)"
#endif

/* Superblock offsets (§3.2). */
enum {
    SB_MAGIC = 0, SB_LAYOUT_VERSION = 8, SB_EPOCH = 12, SB_STREAM_ID = 20,
    SB_REGION_TYPE = 24, SB_POOL_ID = 26, SB_NSLOTS = 28, SB_SLOT_BYTES = 32,
    SB_STRIDE_BYTES = 36, SB_PID = 40, SB_START_TS = 48, SB_ACTIVITY_TS = 56
};
_Static_assert(SB_ACTIVITY_TS == TP_SHM_ACTIVITY_OFFSET, "activity offset");

/* Slot offsets (§3.3); body offsets of TensorHeader are relative to SLOT_BODY. */
enum {
    SLOT_VALUES_LEN = 8, SLOT_PAYLOAD_SLOT = 12, SLOT_POOL_ID = 16,
    SLOT_PAYLOAD_OFFSET = 18, SLOT_TIMESTAMP = 22, SLOT_META_VERSION = 30,
    SLOT_PAD = 34, SLOT_PAD_LEN = 26, SLOT_HEADER_LEN = 60, SLOT_MSG = 64
};
enum {
    MSG_BLOCK_LENGTH = 0, MSG_TEMPLATE_ID = 2, MSG_SCHEMA_ID = 4, MSG_VERSION = 6,
    MSG_BODY = 8
};
enum {
    TH_DTYPE = 0, TH_MAJOR = 2, TH_NDIMS = 4, TH_PAD_ALIGN = 5, TH_PROGRESS_UNIT = 6,
    TH_PROGRESS_STRIDE = 7, TH_DIMS = 11, TH_STRIDES = 43, TH_PAD = 75, TH_PAD_LEN = 109
};
_Static_assert(SLOT_MSG + MSG_BODY + TH_PAD + TH_PAD_LEN == TP_SHM_SLOT_BYTES, "slot size");

static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void st16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void st32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void st64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

void tp_superblock_read(const uint8_t *src, tp_superblock_t *out)
{
    out->magic = ld64(src + SB_MAGIC);
    out->layout_version = ld32(src + SB_LAYOUT_VERSION);
    out->epoch = ld64(src + SB_EPOCH);
    out->stream_id = ld32(src + SB_STREAM_ID);
    out->region_type = (int16_t)ld16(src + SB_REGION_TYPE);
    out->pool_id = ld16(src + SB_POOL_ID);
    out->nslots = ld32(src + SB_NSLOTS);
    out->slot_bytes = ld32(src + SB_SLOT_BYTES);
    out->stride_bytes = ld32(src + SB_STRIDE_BYTES);
    out->pid = ld64(src + SB_PID);
    out->start_timestamp_ns = ld64(src + SB_START_TS);
    out->activity_timestamp_ns = ld64(src + SB_ACTIVITY_TS);
}

void tp_superblock_write(uint8_t *dst, const tp_superblock_t *sb)
{
    st64(dst + SB_MAGIC, sb->magic);
    st32(dst + SB_LAYOUT_VERSION, sb->layout_version);
    st64(dst + SB_EPOCH, sb->epoch);
    st32(dst + SB_STREAM_ID, sb->stream_id);
    st16(dst + SB_REGION_TYPE, (uint16_t)sb->region_type);
    st16(dst + SB_POOL_ID, sb->pool_id);
    st32(dst + SB_NSLOTS, sb->nslots);
    st32(dst + SB_SLOT_BYTES, sb->slot_bytes);
    st32(dst + SB_STRIDE_BYTES, sb->stride_bytes);
    st64(dst + SB_PID, sb->pid);
    st64(dst + SB_START_TS, sb->start_timestamp_ns);
    st64(dst + SB_ACTIVITY_TS, sb->activity_timestamp_ns);
}

uint64_t tp_superblock_activity_load(const uint8_t *base)
{
    /* The atomic object is the aligned u64 at offset 56 of a mapped region. */
    const _Atomic uint64_t *a = (const _Atomic uint64_t *)(const void *)(base + SB_ACTIVITY_TS);
    return atomic_load_explicit(a, memory_order_relaxed);
}

void tp_superblock_activity_store(uint8_t *base, uint64_t now_ns)
{
    _Atomic uint64_t *a = (_Atomic uint64_t *)(void *)(base + SB_ACTIVITY_TS);
    atomic_store_explicit(a, now_ns, memory_order_relaxed);
}

static void tensor_body_read(const uint8_t *b, tp_tensor_header_t *t)
{
    t->dtype = (int16_t)ld16(b + TH_DTYPE);
    t->major_order = (int16_t)ld16(b + TH_MAJOR);
    t->ndims = b[TH_NDIMS];
    t->progress_unit = b[TH_PROGRESS_UNIT];
    t->progress_stride_bytes = ld32(b + TH_PROGRESS_STRIDE);
    for (unsigned k = 0; k < TP_TENSOR_MAX_DIMS; k++) {
        t->dims[k] = (int32_t)ld32(b + TH_DIMS + 4 * k);
        t->strides[k] = (int32_t)ld32(b + TH_STRIDES + 4 * k);
    }
}

/* raw != 0 writes every value exactly as given (hostile-input tests, tools);
 * raw == 0 is the producer encoding with the W-8.2.j/D-12 zeroing rules. */
static void tensor_body_write(uint8_t *b, const tp_tensor_header_t *t, int raw)
{
    st16(b + TH_DTYPE, (uint16_t)t->dtype);
    st16(b + TH_MAJOR, (uint16_t)t->major_order);
    b[TH_NDIMS] = t->ndims;
    b[TH_PAD_ALIGN] = 0;
    b[TH_PROGRESS_UNIT] = t->progress_unit;
    const int no_progress = !raw && t->progress_unit == TP_PROGRESS_NONE; /* D-12 */
    st32(b + TH_PROGRESS_STRIDE, no_progress ? 0u : t->progress_stride_bytes);
    for (unsigned k = 0; k < TP_TENSOR_MAX_DIMS; k++) {
        const int used = raw || k < t->ndims; /* W-8.2.j: zero beyond ndims */
        st32(b + TH_DIMS + 4 * k, used ? (uint32_t)t->dims[k] : 0u);
        st32(b + TH_STRIDES + 4 * k, used ? (uint32_t)t->strides[k] : 0u);
    }
    memset(b + TH_PAD, 0, TH_PAD_LEN);
}

void tp_tensor_message_read(const uint8_t *src, tp_slot_header_t *out)
{
    out->block_length = ld16(src + MSG_BLOCK_LENGTH);
    out->template_id = ld16(src + MSG_TEMPLATE_ID);
    out->schema_id = ld16(src + MSG_SCHEMA_ID);
    out->version = ld16(src + MSG_VERSION);
    tensor_body_read(src + MSG_BODY, &out->tensor);
}

static void message_header_write(uint8_t *dst, uint16_t block_length, uint16_t template_id,
                                 uint16_t schema_id, uint16_t version)
{
    st16(dst + MSG_BLOCK_LENGTH, block_length);
    st16(dst + MSG_TEMPLATE_ID, template_id);
    st16(dst + MSG_SCHEMA_ID, schema_id);
    st16(dst + MSG_VERSION, version);
}

void tp_tensor_message_write(uint8_t *dst, const tp_tensor_header_t *t)
{
    message_header_write(dst, TP_SHM_TENSOR_BLOCK_LENGTH, TP_SHM_TENSOR_TEMPLATE_ID,
                         TP_SHM_SCHEMA_ID, TP_SHM_SCHEMA_VERSION);
    tensor_body_write(dst + MSG_BODY, t, 0);
}

void tp_slot_header_read(const uint8_t *slot, tp_slot_header_t *out)
{
    out->values_len_bytes = ld32(slot + SLOT_VALUES_LEN);
    out->payload_slot = ld32(slot + SLOT_PAYLOAD_SLOT);
    out->pool_id = ld16(slot + SLOT_POOL_ID);
    out->payload_offset = ld32(slot + SLOT_PAYLOAD_OFFSET);
    out->timestamp_ns = ld64(slot + SLOT_TIMESTAMP);
    out->meta_version = ld32(slot + SLOT_META_VERSION);
    out->header_bytes_len = ld32(slot + SLOT_HEADER_LEN);
    tp_tensor_message_read(slot + SLOT_MSG, out);
}

static void slot_fields_write(uint8_t *slot, const tp_slot_header_t *h)
{
    st32(slot + SLOT_VALUES_LEN, h->values_len_bytes);
    st32(slot + SLOT_PAYLOAD_SLOT, h->payload_slot);
    st16(slot + SLOT_POOL_ID, h->pool_id);
    st32(slot + SLOT_PAYLOAD_OFFSET, h->payload_offset);
    st64(slot + SLOT_TIMESTAMP, h->timestamp_ns);
    st32(slot + SLOT_META_VERSION, h->meta_version);
    memset(slot + SLOT_PAD, 0, SLOT_PAD_LEN);
}

void tp_slot_header_write(uint8_t *slot, const tp_slot_header_t *h)
{
    slot_fields_write(slot, h);
    st32(slot + SLOT_HEADER_LEN, TP_SHM_HEADER_BYTES_LEN);
    tp_tensor_message_write(slot + SLOT_MSG, &h->tensor);
}

void tp_slot_header_write_raw(uint8_t *slot, const tp_slot_header_t *h)
{
    slot_fields_write(slot, h);
    st32(slot + SLOT_HEADER_LEN, h->header_bytes_len);
    message_header_write(slot + SLOT_MSG, h->block_length, h->template_id, h->schema_id, h->version);
    tensor_body_write(slot + SLOT_MSG + MSG_BODY, &h->tensor, 1);
}
