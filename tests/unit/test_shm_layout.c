/* Byte layout of superblock, slot and TensorHeader (docs/spec/wire.md §3.2-§3.4, §3.7)
 * against the interop vectors of another implementation. */
#include "tensorpool/codec/control.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_seqlock.h"
#include "tp_test.h"
#include "unit/test_files.h"

static const char *g_interop; /* argv[1]: the interop vectors folder */

static long load(const char *name, uint8_t *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_interop, name);
    const long n = tp_test_read_file(path, buf, cap);
    if (n < 0) fprintf(stderr, "cannot read %s\n", path);
    return n;
}

/* expected.json: shm_superblock.bin (W-6.a, W-6.b, W-7.1.a: a 64-byte headerless
 * superblock; W-7.1.e, D-2 byte order of the magic; D-9 layout_version 1). */
static void test_interop_superblock(void)
{
    uint8_t buf[128], out[64];
    CHECK_EQ_U64(load("shm_superblock.bin", buf, sizeof buf), 64);
    CHECK(memcmp(buf, "1MHSLPOT", 8) == 0); /* D-2: on-disk bytes */
    tp_superblock_t sb;
    tp_superblock_read(buf, &sb);
    CHECK_EQ_U64(sb.magic, 6075162711091072305ULL);
    CHECK_EQ_U64(sb.magic, TP_SHM_MAGIC);
    CHECK_EQ_U64(sb.layout_version, 1);
    CHECK_EQ_U64(sb.epoch, 1);
    CHECK_EQ_U64(sb.stream_id, 1000);
    CHECK_EQ_I64(sb.region_type, TP_CONTROL_REGION_TYPE_HEADER_RING);
    CHECK_EQ_U64(sb.pool_id, 0);
    CHECK_EQ_U64(sb.nslots, 8);
    CHECK_EQ_U64(sb.slot_bytes, 256);
    CHECK_EQ_U64(sb.stride_bytes, 0);
    CHECK_EQ_U64(sb.pid, 0);
    CHECK_EQ_U64(sb.start_timestamp_ns, 0);
    CHECK_EQ_U64(sb.activity_timestamp_ns, 0);
    memset(out, 0xAA, sizeof out);
    tp_superblock_write(out, &sb);
    CHECK(memcmp(out, buf, 64) == 0); /* re-encoding reproduces the file */
}

static void check_tensor_fields(const tp_tensor_header_t *t)
{
    CHECK_EQ_I64(t->dtype, TP_CONTROL_DTYPE_FLOAT32);
    CHECK_EQ_I64(t->major_order, TP_CONTROL_MAJOR_ORDER_ROW);
    CHECK_EQ_U64(t->ndims, 1);
    CHECK_EQ_U64(t->progress_unit, TP_CONTROL_PROGRESS_UNIT_NONE);
    CHECK_EQ_U64(t->progress_stride_bytes, 0);
    CHECK_EQ_I64(t->dims[0], 1);
    for (int k = 1; k < 8; k++) CHECK_EQ_I64(t->dims[k], 0);
    for (int k = 0; k < 8; k++) CHECK_EQ_I64(t->strides[k], 0);
}

/* expected.json: shm_slot_header.bin (W-8.2.b/d, §3.3). */
static void test_interop_slot_header(void)
{
    uint8_t buf[512], out[256];
    CHECK_EQ_U64(load("shm_slot_header.bin", buf, sizeof buf), 256);
    CHECK_EQ_U64(tp_seqlock_read_begin(buf), 1); /* seqCommit 1: seq 0 committed */
    tp_slot_header_t h;
    tp_slot_header_read(buf, &h);
    CHECK_EQ_U64(h.values_len_bytes, 192);
    CHECK_EQ_U64(h.payload_slot, 0);
    CHECK_EQ_U64(h.pool_id, 1);
    CHECK_EQ_U64(h.payload_offset, 0);
    CHECK_EQ_U64(h.timestamp_ns, 0);
    CHECK_EQ_U64(h.meta_version, 0);
    CHECK_EQ_U64(h.header_bytes_len, 192);
    CHECK_EQ_U64(h.block_length, 184);
    CHECK_EQ_U64(h.template_id, 52);
    CHECK_EQ_U64(h.schema_id, 900);
    CHECK_EQ_U64(h.version, 1);
    check_tensor_fields(&h.tensor);
    memset(out, 0xAA, sizeof out);
    memcpy(out, buf, 8); /* seq_commit is not the layout's business */
    tp_slot_header_write(out, &h);
    CHECK(memcmp(out, buf, 256) == 0);
}

/* expected.json: shm_tensor_header.bin (template 52 with message header). */
static void test_interop_tensor_header(void)
{
    uint8_t buf[512], out[192];
    CHECK_EQ_U64(load("shm_tensor_header.bin", buf, sizeof buf), 192);
    tp_slot_header_t h;
    tp_tensor_message_read(buf, &h);
    CHECK_EQ_U64(h.block_length, 184);
    CHECK_EQ_U64(h.template_id, 52);
    CHECK_EQ_U64(h.schema_id, 900);
    CHECK_EQ_U64(h.version, 1);
    check_tensor_fields(&h.tensor);
    memset(out, 0xAA, sizeof out);
    tp_tensor_message_write(out, &h.tensor);
    CHECK(memcmp(out, buf, 192) == 0);
}

/* §3.7 annotated example slot, byte for byte (D-3, W-8.2.n: dims/strides at
 * unaligned offsets 83 and 115). */
static void test_annotated_example_slot(void)
{
    uint8_t slot[256];
    memset(slot, 0xEE, sizeof slot);
    tp_slot_header_t h = {
        .values_len_bytes = 16, .payload_slot = 1, .pool_id = 1, .payload_offset = 0,
        .timestamp_ns = 123, .meta_version = 7,
    };
    const int32_t dims[2] = {2, 2};
    CHECK(tp_tensor_header_init(&h.tensor, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims) == 0);
    h.tensor.strides[0] = 8;
    h.tensor.strides[1] = 4;
    tp_seqlock_write_commit(slot, 5);
    tp_slot_header_write(slot, &h);
    static const uint8_t want_head[] = {
        0x0B, 0, 0, 0, 0, 0, 0, 0,  0x10, 0, 0, 0,  0x01, 0, 0, 0,  0x01, 0,  0, 0, 0, 0,
        0x7B, 0, 0, 0, 0, 0, 0, 0,  0x07, 0, 0, 0};
    CHECK(memcmp(slot, want_head, sizeof want_head) == 0);
    for (int i = 34; i < 60; i++) CHECK_EQ_U64(slot[i], 0); /* pad zeroed (W-8.2.c) */
    static const uint8_t want_msg[] = {0xC0, 0, 0, 0, 0xB8, 0, 0x34, 0, 0x84, 0x03, 0x01, 0,
                                       0x09, 0, 0x01, 0, 0x02, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(slot + 60, want_msg, sizeof want_msg) == 0);
    CHECK_EQ_U64(slot[83], 2);
    CHECK_EQ_U64(slot[87], 2);
    CHECK_EQ_U64(slot[115], 8);
    CHECK_EQ_U64(slot[119], 4);
    for (int i = 91; i < 115; i++) CHECK_EQ_U64(slot[i], 0);
    for (int i = 123; i < 256; i++) CHECK_EQ_U64(slot[i], 0);
    tp_slot_header_t back;
    tp_slot_header_read(slot, &back);
    CHECK_EQ_U64(back.timestamp_ns, 123);
    CHECK_EQ_I64(back.tensor.strides[0], 8);
}

/* W-8.2.j, D-12: the producer encoding zeroes dims/strides beyond ndims and
 * writes progress_stride 0 for NONE; the raw encoder keeps hostile values. */
static void test_producer_zeroing_and_raw(void)
{
    uint8_t slot[256];
    tp_slot_header_t h;
    memset(&h, 0, sizeof h);
    const int32_t dims[1] = {4};
    tp_tensor_header_init(&h.tensor, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    h.tensor.dims[5] = 77;
    h.tensor.strides[6] = 99;
    h.tensor.progress_stride_bytes = 5;
    tp_slot_header_write(slot, &h);
    tp_slot_header_t back;
    tp_slot_header_read(slot, &back);
    CHECK_EQ_I64(back.tensor.dims[5], 0);
    CHECK_EQ_I64(back.tensor.strides[6], 0);
    CHECK_EQ_U64(back.tensor.progress_stride_bytes, 0);
    CHECK_EQ_U64(back.header_bytes_len, 192);
    h.header_bytes_len = 191;
    h.template_id = 51;
    tp_slot_header_write_raw(slot, &h);
    tp_slot_header_read(slot, &back);
    CHECK_EQ_I64(back.tensor.dims[5], 77);
    CHECK_EQ_U64(back.header_bytes_len, 191);
    CHECK_EQ_U64(back.template_id, 51);
}

/* §3.6: the atomic activity word sits where the codec puts
 * activity_timestamp_ns; what we encode, the validating codec decoder accepts. */
static void test_agrees_with_codec(void)
{
    _Alignas(64) uint8_t sbuf[64];
    tp_superblock_t sb = {.magic = TP_SHM_MAGIC, .layout_version = 1, .epoch = 3, .stream_id = 9,
                          .region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, .pool_id = 2, .nslots = 16,
                          .slot_bytes = TP_SHM_POOL_SLOT_BYTES_NULL, .stride_bytes = 128, .pid = 77,
                          .start_timestamp_ns = 5, .activity_timestamp_ns = 0x1122334455667788ull};
    tp_superblock_write(sbuf, &sb);
    CHECK_EQ_U64(tp_superblock_activity_load(sbuf), 0x1122334455667788ull);
    tp_superblock_activity_store(sbuf, 42);
    tp_control_shm_region_superblock_dec_t m;
    CHECK(tp_control_shm_region_superblock_decode_headerless(&m, sbuf, sizeof sbuf) == 0);
    CHECK_EQ_U64(tp_control_shm_region_superblock_activity_timestamp_ns(&m), 42);
    CHECK_EQ_U64(tp_control_shm_region_superblock_epoch(&m), 3);

    _Alignas(64) uint8_t slot[256];
    tp_slot_header_t h = {.values_len_bytes = 8, .payload_slot = 3, .pool_id = 2, .timestamp_ns = 9};
    const int32_t dims[1] = {2};
    tp_tensor_header_init(&h.tensor, TP_CONTROL_DTYPE_INT32, TP_CONTROL_MAJOR_ORDER_COLUMN, 1, dims);
    tp_seqlock_write_commit(slot, 7);
    tp_slot_header_write(slot, &h);
    CHECK_EQ_U64(tp_seqlock_read_begin(slot), 15); /* seq_commit untouched by the header write */
    tp_control_slot_header_dec_t sm;
    CHECK(tp_control_slot_header_decode_headerless(&sm, slot, sizeof slot) == 0);
    CHECK_EQ_U64(tp_control_slot_header_payload_slot(&sm), 3);
    uint32_t len = 0;
    const uint8_t *msg = tp_control_slot_header_header_bytes(&sm, &len);
    CHECK_EQ_U64(len, 192);
    tp_control_tensor_header_dec_t tm;
    CHECK(tp_control_tensor_header_decode(&tm, msg, len) == 0);
    CHECK_EQ_I64(tp_control_tensor_header_major_order(&tm), TP_CONTROL_MAJOR_ORDER_COLUMN);
    CHECK_EQ_I64(tp_control_tensor_header_dims(&tm, 0), 2);
}

/* W-8.3.a encodings. */
static void test_seq_encoding(void)
{
    CHECK_EQ_U64(tp_seq_in_progress(5), 10);
    CHECK_EQ_U64(tp_seq_committed(5), 11);
    CHECK_EQ_U64(tp_seq_of(19), 9);
    CHECK(tp_seq_is_committed(11));
    CHECK(!tp_seq_is_committed(18));
    CHECK_EQ_U64(tp_seq_of(tp_seq_committed(TP_SEQ_MAX)), TP_SEQ_MAX); /* D-13 */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s INTEROP_DIR\n", argv[0]);
        return 2;
    }
    g_interop = argv[1];
    RUN(test_interop_superblock);
    RUN(test_interop_slot_header);
    RUN(test_interop_tensor_header);
    RUN(test_annotated_example_slot);
    RUN(test_producer_zeroing_and_raw);
    RUN(test_agrees_with_codec);
    RUN(test_seq_encoding);
    TP_TEST_END();
}
