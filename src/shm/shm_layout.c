/* SHM structures on top of the generated SBE flyweights (schema 900:
 * ShmRegionSuperblock 50, SlotHeader 51, TensorHeader 52; codec/control.h).
 * No field offset is written here; they all come from the generator.
 *
 * Decoding: these structures have fixed sizes (64 / 256 / 192 bytes), and
 * callers always hand a buffer of that size, so every generated getter reads
 * inside it. The flyweights are therefore pointed at the buffer directly
 * rather than through tp_sbe_dec_wrap: wrap would refuse exactly the hostile
 * values (bad enums, lengths, embedded headers) that the consumer must decode
 * and classify itself (§5.4, D-15), and it would cost time on the per-frame
 * path.
 *
 * Encoding: the SlotHeader root block is encoded into a private buffer and
 * copied over bytes 8..63, because the encoder zeroes its root block first
 * and seq_commit (bytes 0..7) may only ever be written with one atomic store
 * (W-8.2.g); the TensorHeader message is encoded in place at byte 64.
 */
#include "tensorpool/shm_layout.h"

#include "tensorpool/codec/control.h"

#include <stdatomic.h>
#include <string.h>

_Static_assert(TP_CONTROL_SHM_REGION_SUPERBLOCK_BLOCK_LENGTH == TP_SHM_SUPERBLOCK_SIZE, "W-6.b");
_Static_assert(TP_SBE_HEADER_LENGTH + TP_CONTROL_TENSOR_HEADER_BLOCK_LENGTH == TP_SHM_HEADER_BYTES_LEN, "W-8.2.d");
_Static_assert(TP_CONTROL_SLOT_HEADER_BLOCK_LENGTH + TP_SBE_VAR_HEADER_LENGTH + TP_SHM_HEADER_BYTES_LEN ==
                   TP_SHM_SLOT_BYTES, "W-8.1.a: 60 + 4 + 192 = 256");
_Static_assert(TP_CONTROL_TENSOR_HEADER_TEMPLATE_ID == TP_SHM_TENSOR_TEMPLATE_ID, "template 52");
_Static_assert(TP_CONTROL_TENSOR_HEADER_BLOCK_LENGTH == TP_SHM_TENSOR_BLOCK_LENGTH, "blockLength 184");
_Static_assert(TP_CONTROL_TENSOR_HEADER_DIMS_LENGTH == TP_TENSOR_MAX_DIMS, "W-8.2.a MAX_DIMS");
_Static_assert(TP_CONTROL_TENSOR_HEADER_MAX_DIMS_VALUE == TP_TENSOR_MAX_DIMS, "W-8.2.a MAX_DIMS");

/* Offset of the embedded TensorHeader message inside a slot: after the
 * SlotHeader root block and the var-data length prefix. */
enum { SLOT_MSG = TP_CONTROL_SLOT_HEADER_BLOCK_LENGTH + TP_SBE_VAR_HEADER_LENGTH };
_Static_assert(SLOT_MSG == TP_SHM_SLOT_TENSOR_OFFSET, "W-8.1.a: 60 + 4");

void tp_superblock_read(const uint8_t *src, tp_superblock_t *out)
{
    tp_control_shm_region_superblock_dec_t m;
    (void)tp_control_shm_region_superblock_view_headerless(&m, src, TP_SHM_SUPERBLOCK_SIZE); /* fixed size: cannot fail */
    out->magic = tp_control_shm_region_superblock_magic(&m);
    out->layout_version = tp_control_shm_region_superblock_layout_version(&m);
    out->epoch = tp_control_shm_region_superblock_epoch(&m);
    out->stream_id = tp_control_shm_region_superblock_stream_id(&m);
    out->region_type = tp_control_shm_region_superblock_region_type(&m);
    out->pool_id = tp_control_shm_region_superblock_pool_id(&m);
    out->nslots = tp_control_shm_region_superblock_nslots(&m);
    out->slot_bytes = tp_control_shm_region_superblock_slot_bytes(&m);
    out->stride_bytes = tp_control_shm_region_superblock_stride_bytes(&m);
    out->pid = tp_control_shm_region_superblock_pid(&m);
    out->start_timestamp_ns = tp_control_shm_region_superblock_start_timestamp_ns(&m);
    out->activity_timestamp_ns = tp_control_shm_region_superblock_activity_timestamp_ns(&m);
}

void tp_superblock_write(uint8_t *dst, const tp_superblock_t *sb)
{
    tp_control_shm_region_superblock_enc_t e;
    tp_control_shm_region_superblock_encode_begin_headerless(&e, dst, TP_SHM_SUPERBLOCK_SIZE);
    tp_control_shm_region_superblock_set_magic(&e, sb->magic);
    tp_control_shm_region_superblock_set_layout_version(&e, sb->layout_version);
    tp_control_shm_region_superblock_set_epoch(&e, sb->epoch);
    tp_control_shm_region_superblock_set_stream_id(&e, sb->stream_id);
    tp_control_shm_region_superblock_set_region_type(&e, sb->region_type);
    tp_control_shm_region_superblock_set_pool_id(&e, sb->pool_id);
    tp_control_shm_region_superblock_set_nslots(&e, sb->nslots);
    tp_control_shm_region_superblock_set_slot_bytes(&e, sb->slot_bytes);
    tp_control_shm_region_superblock_set_stride_bytes(&e, sb->stride_bytes);
    tp_control_shm_region_superblock_set_pid(&e, sb->pid);
    tp_control_shm_region_superblock_set_start_timestamp_ns(&e, sb->start_timestamp_ns);
    tp_control_shm_region_superblock_set_activity_timestamp_ns(&e, sb->activity_timestamp_ns);
    (void)tp_control_shm_region_superblock_encode_end(&e); /* cannot fail: fixed 64-byte buffer */
}

/* activity_timestamp_ns is, like seq_commit, a protocol-level atomic word
 * (§3.6); its offset is checked against the codec in test_shm_layout. */
uint64_t tp_superblock_activity_load(const uint8_t *base)
{
    const _Atomic uint64_t *a = (const _Atomic uint64_t *)(const void *)(base + TP_SHM_ACTIVITY_OFFSET);
    return atomic_load_explicit(a, memory_order_relaxed);
}

void tp_superblock_activity_store(uint8_t *base, uint64_t now_ns)
{
    _Atomic uint64_t *a = (_Atomic uint64_t *)(void *)(base + TP_SHM_ACTIVITY_OFFSET);
    atomic_store_explicit(a, now_ns, memory_order_relaxed);
}

void tp_tensor_message_read(const uint8_t *src, tp_slot_header_t *out)
{
    tp_sbe_header_t hdr;
    (void)tp_sbe_header_read(src, TP_SHM_HEADER_BYTES_LEN, &hdr);
    out->block_length = hdr.block_length;
    out->template_id = hdr.template_id;
    out->schema_id = hdr.schema_id;
    out->version = hdr.version;
    tp_control_tensor_header_dec_t m;
    (void)tp_control_tensor_header_view(&m, src, TP_SHM_HEADER_BYTES_LEN); /* fixed size: cannot fail */
    tp_tensor_header_t *t = &out->tensor;
    t->dtype = tp_control_tensor_header_dtype(&m);
    t->major_order = tp_control_tensor_header_major_order(&m);
    t->ndims = tp_control_tensor_header_ndims(&m);
    t->progress_unit = tp_control_tensor_header_progress_unit(&m);
    t->progress_stride_bytes = tp_control_tensor_header_progress_stride_bytes(&m);
    for (unsigned k = 0; k < TP_TENSOR_MAX_DIMS; k++) {
        t->dims[k] = tp_control_tensor_header_dims(&m, k);
        t->strides[k] = tp_control_tensor_header_strides(&m, k);
    }
}

/* raw != 0 writes every value exactly as given (hostile-input tests, tools);
 * raw == 0 is the producer encoding with the W-8.2.j/D-12 zeroing rules.
 * The encoder has already zeroed the body, pad and pad_align included. */
static void tensor_message_encode(uint8_t *dst, const tp_tensor_header_t *t, int raw)
{
    tp_control_tensor_header_enc_t e;
    tp_control_tensor_header_encode_begin(&e, dst, TP_SHM_HEADER_BYTES_LEN);
    tp_control_tensor_header_set_dtype(&e, t->dtype);
    tp_control_tensor_header_set_major_order(&e, t->major_order);
    tp_control_tensor_header_set_ndims(&e, t->ndims);
    tp_control_tensor_header_set_progress_unit(&e, t->progress_unit);
    const int no_progress = !raw && t->progress_unit == TP_CONTROL_PROGRESS_UNIT_NONE; /* D-12 */
    tp_control_tensor_header_set_progress_stride_bytes(&e, no_progress ? 0u : t->progress_stride_bytes);
    const unsigned n = raw || t->ndims > TP_TENSOR_MAX_DIMS ? TP_TENSOR_MAX_DIMS : t->ndims;
    for (unsigned k = 0; k < n; k++) { /* W-8.2.j: the rest stays zero */
        tp_control_tensor_header_set_dims(&e, k, t->dims[k]);
        tp_control_tensor_header_set_strides(&e, k, t->strides[k]);
    }
    (void)tp_control_tensor_header_encode_end(&e); /* cannot fail: fixed 192-byte buffer */
}

void tp_tensor_message_write(uint8_t *dst, const tp_tensor_header_t *t)
{
    tensor_message_encode(dst, t, 0);
}

void tp_slot_root_read(const uint8_t *slot, tp_slot_header_t *out)
{
    tp_control_slot_header_dec_t m;
    (void)tp_control_slot_header_view_headerless(&m, slot, TP_SHM_SLOT_BYTES); /* fixed size: cannot fail */
    out->values_len_bytes = tp_control_slot_header_values_len_bytes(&m);
    out->payload_slot = tp_control_slot_header_payload_slot(&m);
    out->pool_id = tp_control_slot_header_pool_id(&m);
    out->payload_offset = tp_control_slot_header_payload_offset(&m);
    out->timestamp_ns = tp_control_slot_header_timestamp_ns(&m);
    out->meta_version = tp_control_slot_header_meta_version(&m);
    /* the length is only reported; the message is always read at its fixed
     * place, so a hostile length cannot move the read (W-8.2.d) */
    out->header_bytes_len = tp_sbe_get_u32(slot + TP_CONTROL_SLOT_HEADER_BLOCK_LENGTH);
}

void tp_slot_header_read(const uint8_t *slot, tp_slot_header_t *out)
{
    tp_slot_root_read(slot, out);
    tp_tensor_message_read(slot + SLOT_MSG, out);
}

/* The six SlotHeader root fields of h through an encoder already begun. */
static void slot_root_set(tp_control_slot_header_enc_t *e, const tp_slot_header_t *h)
{
    tp_control_slot_header_set_values_len_bytes(e, h->values_len_bytes);
    tp_control_slot_header_set_payload_slot(e, h->payload_slot);
    tp_control_slot_header_set_pool_id(e, h->pool_id);
    tp_control_slot_header_set_payload_offset(e, h->payload_offset);
    tp_control_slot_header_set_timestamp_ns(e, h->timestamp_ns);
    tp_control_slot_header_set_meta_version(e, h->meta_version);
}

/* Encode the SlotHeader root block and the headerBytes length prefix into
 * img[0..63] (bytes 0..7 left zero). The length is written directly because
 * the data, the TensorHeader message, is encoded in place right after it. */
static void slot_root_encode(uint8_t img[SLOT_MSG], const tp_slot_header_t *h, uint32_t header_bytes_len)
{
    tp_control_slot_header_enc_t e;
    tp_control_slot_header_encode_begin_headerless(&e, img, SLOT_MSG); /* pad zeroed */
    slot_root_set(&e, h);
    /* no encode_end: the var data is not written through this encoder */
    tp_sbe_put_u32(img + TP_CONTROL_SLOT_HEADER_BLOCK_LENGTH, header_bytes_len);
}

void tp_slot_header_write_root(uint8_t *slot, const tp_slot_header_t *h)
{
    uint8_t img[SLOT_MSG];
    slot_root_encode(img, h, TP_SHM_HEADER_BYTES_LEN);
    memcpy(slot + 8, img + 8, SLOT_MSG - 8);
}

void tp_slot_root_image_write(tp_slot_root_image_t *r, uint8_t *slot, const tp_slot_header_t *h)
{
    tp_control_slot_header_enc_t *e = &r->enc;
    if (e->e.buf != r->img) { /* zeroed or moved: pad zeroed, length written once */
        tp_control_slot_header_encode_begin_headerless(e, r->img, SLOT_MSG);
        tp_sbe_put_u32(r->img + TP_CONTROL_SLOT_HEADER_BLOCK_LENGTH, TP_SHM_HEADER_BYTES_LEN);
    }
    slot_root_set(e, h);
    memcpy(slot + 8, r->img + 8, SLOT_MSG - 8);
}

void tp_slot_header_write(uint8_t *slot, const tp_slot_header_t *h)
{
    tp_slot_header_write_root(slot, h);
    tensor_message_encode(slot + SLOT_MSG, &h->tensor, 0); /* never touches bytes 0..63 */
}

void tp_slot_header_write_raw(uint8_t *slot, const tp_slot_header_t *h)
{
    uint8_t img[SLOT_MSG];
    slot_root_encode(img, h, h->header_bytes_len);
    memcpy(slot + 8, img + 8, SLOT_MSG - 8);
    tensor_message_encode(slot + SLOT_MSG, &h->tensor, 1);
    /* a hostile embedded message header the encoder would never write (SBE
     * framing: blockLength, templateId, schemaId, version; sbe.h) */
    const uint16_t hdr[4] = {h->block_length, h->template_id, h->schema_id, h->version};
    for (unsigned k = 0; k < 4; k++) tp_sbe_put_u16(slot + SLOT_MSG + 2 * k, hdr[k]);
}
