/* Writer/reader seqlock protocol and per-frame slot checks (W-8.3, W-9,
 * W-10.2.1, §3.6, §5.4, D-14, D-15; §7 scenarios 1, 39-48, 53, 54, 82, 83). */
#include "tensorpool/shm_seqlock.h"
#include "tp_test.h"
#include "unit/shm_test_rig.h"

static tp_test_rig_t rig;
static const tp_shm_pool_config_t POOL1[1] = {{.pool_id = 1, .stride_bytes = 64}};

static uint8_t *wslot(uint64_t seq)
{
    return rig.w.ring.base + 64 + (size_t)(seq & rig.w.mask) * 256;
}

static tp_tensor_header_t f32_2x2(void)
{
    tp_tensor_header_t t;
    const int32_t dims[2] = {2, 2};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    return t;
}

/* A valid slot header for seq in pool 1 (§7 #39 shape), to be corrupted. */
static tp_slot_header_t good_header(uint64_t seq)
{
    tp_slot_header_t h = {
        .values_len_bytes = 16, .payload_slot = (uint32_t)(seq & 3), .pool_id = 1,
        .header_bytes_len = 192, .block_length = 184, .template_id = 52, .schema_id = 900, .version = 1,
    };
    h.tensor = f32_2x2();
    return h;
}

/* Write h into slot(seq) exactly as given and commit it. */
static void put_slot(uint64_t seq, const tp_slot_header_t *h)
{
    tp_seqlock_write_begin(wslot(seq), seq);
    tp_slot_header_write_raw(wslot(seq), h);
    tp_seqlock_write_commit(wslot(seq), seq);
}

static void reset_counters(void) { tp_shm_drops_reset(&rig.r.drops, 0); }

/* Expect a structural drop with the given reason and no drops_late. */
static void expect_invalid(uint64_t seq, const tp_slot_header_t *h, tp_reject_t why)
{
    put_slot(seq, h);
    reset_counters();
    tp_shm_view_t v;
    const tp_shm_read_t st = tp_shm_reader_begin(&rig.r, seq, &v);
    CHECK_EQ_I64(st, TP_SHM_READ_INVALID);
    CHECK_EQ_I64(rig.r.last_reject, why);
    CHECK_EQ_U64(rig.r.drops.drops_invalid, 1);
    CHECK_EQ_U64(rig.r.drops.drops_late, 0); /* D-15 */
    CHECK_EQ_U64(rig.r.drops.accepted, 0);
}

static void expect_ok(uint64_t seq, const tp_slot_header_t *h)
{
    put_slot(seq, h);
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, seq, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
}

/* §7 #39, W-8.3.c, W-9.e, W-10.2.1.j: seq 5 lands in slot 1 (64-aligned,
 * W-8.2.g) with seq_commit 11 (W-10.2.1.b), is accepted with the right payload
 * at 64 + 1*stride (W-9.a) and shape from the slot (W-10.2.1.i); the copy-out
 * read agrees. */
static void test_happy_path_read(void)
{
    const float vals[4] = {1, 2, 3, 4};
    const tp_tensor_header_t t = f32_2x2();
    uint64_t seq = 0;
    for (int i = 0; i <= 5; i++) CHECK(tp_shm_writer_publish(&rig.w, &t, vals, 16, 123, 7, &seq) == 0);
    CHECK_EQ_U64(seq, 5);
    CHECK_EQ_U64(tp_seqlock_read_begin(wslot(5)), 11);
    CHECK_EQ_U64((uintptr_t)wslot(5) % 64, 0);
    reset_counters();
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_OK);
    CHECK_EQ_U64(v.len, 16);
    CHECK_EQ_U64(v.header.payload_slot, 1);
    CHECK_EQ_U64(v.header.timestamp_ns, 123);
    CHECK_EQ_U64(v.header.meta_version, 7);
    CHECK_EQ_I64(v.strides[0], 8);
    CHECK_EQ_I64(v.strides[1], 4);
    CHECK(v.payload == rig.r.pool[0].base + 64 + 1 * 64);
    CHECK(memcmp(v.payload, vals, 16) == 0);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
    float out[16];
    CHECK_EQ_I64(tp_shm_reader_read(&rig.r, 5, out, sizeof out, &v), TP_SHM_READ_OK);
    CHECK(memcmp(out, vals, 16) == 0);
    CHECK_EQ_U64(rig.r.drops.accepted, 2);
    /* copy-out into a too-small buffer is a local drop, never an overflow */
    CHECK_EQ_I64(tp_shm_reader_read(&rig.r, 5, out, 8, &v), TP_SHM_READ_INVALID);
    CHECK_EQ_I64(rig.r.last_reject, TP_REJECT_VALUES_LEN);
}

/* W-8.2.l: the pool stride places payload slots (slot i at 64 + i*64 here);
 * the tensor strides describe the layout inside one slot and are taken from
 * the header as given: an explicit padded row stride of 12 bytes (2x2 float32,
 * extent 12 + 4 + 4 = 20) is neither the pool stride nor derived from it. */
static void test_pool_stride_independent_of_tensor_strides(void)
{
    tp_tensor_header_t t = f32_2x2();
    t.strides[0] = 12;
    t.strides[1] = 4;
    const uint8_t vals[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    uint64_t seq = 0;
    CHECK_EQ_I64(tp_shm_writer_publish(&rig.w, &t, vals, 20, 1, 0, &seq), 0);
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, seq, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(v.strides[0], 12);
    CHECK_EQ_I64(v.strides[1], 4);
    CHECK_EQ_U64(v.len, 20);
    CHECK(v.payload == rig.r.pool[0].base + 64 + (size_t)(seq & 3) * 64);
    CHECK(memcmp(v.payload, vals, 20) == 0);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
}

/* tensor_cache.h, writer side: a slot reused with the same shape is left as
 * the encoder would write it, a neighbour's scribble there is overwritten,
 * and a new shape (or dims past ndims that differ) is encoded as such. */
static void test_tensor_cache_writer(void)
{
    const uint8_t vals[16] = {0};
    tp_tensor_header_t a = f32_2x2(), b = f32_2x2();
    b.dims[1] = 1;
    uint8_t want_a[TP_SHM_HEADER_BYTES_LEN], want_b[TP_SHM_HEADER_BYTES_LEN];
    tp_tensor_message_write(want_a, &a);
    tp_tensor_message_write(want_b, &b);
    uint64_t seq = 0;
    CHECK_EQ_I64(tp_shm_writer_publish(&rig.w, &a, vals, 16, 1, 0, &seq), 0);
    uint8_t *msg = wslot(seq) + TP_SHM_SLOT_TENSOR_OFFSET;
    CHECK(memcmp(msg, want_a, sizeof want_a) == 0);
    msg[12] = 0;                /* TensorHeader.ndims */
    msg[150] = 0x5A;            /* pad, in the last line */
    for (int i = 0; i < 4; i++) /* 4 slots: back to the same one */
        CHECK_EQ_I64(tp_shm_writer_publish(&rig.w, &a, vals, 16, 1, 0, &seq), 0);
    CHECK(wslot(seq) + TP_SHM_SLOT_TENSOR_OFFSET == msg);
    CHECK(memcmp(msg, want_a, sizeof want_a) == 0);
    CHECK_EQ_I64(tp_shm_writer_publish(&rig.w, &b, vals, 8, 1, 0, &seq), 0);
    CHECK(memcmp(wslot(seq) + TP_SHM_SLOT_TENSOR_OFFSET, want_b, sizeof want_b) == 0);
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, seq, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(v.header.tensor.dims[1], 1);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
    a.dims[5] = 77; /* past ndims: encoded as 0 (W-8.2.j), so the same message */
    CHECK_EQ_I64(tp_shm_writer_publish(&rig.w, &a, vals, 16, 1, 0, &seq), 0);
    CHECK(memcmp(wslot(seq) + TP_SHM_SLOT_TENSOR_OFFSET, want_a, sizeof want_a) == 0);
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, seq, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(v.header.tensor.dims[1], 2);
    CHECK_EQ_I64(v.header.tensor.dims[5], 0);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
}

/* tensor_cache.h, reader side: after a frame of one shape, a slot whose
 * message differs (a hostile one, another valid shape) is decoded and
 * checked anew, and a bad SlotHeader field beside the cached message is
 * still refused. */
static void test_tensor_cache_reader(void)
{
    tp_slot_header_t h = good_header(5);
    expect_ok(5, &h); /* the cache now holds 2x2 float32 */
    h.tensor.ndims = 0;
    expect_invalid(5, &h, TP_REJECT_NDIMS);
    h = good_header(5);
    h.tensor.dims[0] = -2;
    expect_invalid(5, &h, TP_REJECT_NEGATIVE);
    h = good_header(5);
    h.block_length = 183;
    expect_invalid(5, &h, TP_REJECT_EMBEDDED_HEADER);
    h = good_header(5);
    h.tensor.dims[0] = 1; /* another valid shape: its own decode, not the cached one */
    put_slot(5, &h);
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(v.header.tensor.dims[0], 1);
    CHECK_EQ_I64(v.strides[0], 8);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
    h = good_header(5);
    expect_ok(5, &h);
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_OK); /* from the cache */
    CHECK_EQ_I64(v.header.tensor.dims[0], 2);
    CHECK_EQ_I64(v.strides[0], 8);
    CHECK_EQ_I64(v.header.block_length, 184);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
    h.payload_slot = 2; /* the message is the cached one; the root is not right */
    expect_invalid(5, &h, TP_REJECT_PAYLOAD_SLOT);
    h = good_header(5);
    h.values_len_bytes = 12; /* 2x2 float32 needs 16 */
    expect_invalid(5, &h, TP_REJECT_EXTENT);
}

/* §7 #40, W-15.21.b: an IN-PROGRESS slot drops at once (drops_late). */
static void test_slot_in_progress(void)
{
    tp_seqlock_write_begin(wslot(5), 5); /* seq_commit 10 */
    reset_counters();
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_LATE);
    CHECK_EQ_U64(rig.r.drops.drops_late, 1);
    char buf[64];
    CHECK_EQ_I64(tp_shm_reader_read(&rig.r, 5, buf, sizeof buf, &v), TP_SHM_READ_LATE);
    CHECK_EQ_U64(rig.r.drops.drops_late, 2);
}

/* §7 #41, W-15.3.b, W-8.3.f, §3.6 zero-copy: the producer starts seq 9 in
 * slot 1 while a view of seq 5 is open; end() reports torn (drops_late). */
static void test_torn_read_view(void)
{
    tp_slot_header_t h = good_header(5);
    put_slot(5, &h);
    reset_counters();
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_OK);
    tp_seqlock_write_begin(wslot(9), 9); /* stores 18 */
    CHECK_EQ_U64(tp_seqlock_read_begin(wslot(5)), 18);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_LATE);
    CHECK_EQ_U64(rig.r.drops.drops_late, 1);
    CHECK_EQ_U64(rig.r.drops.accepted, 0);
}

/* §7 #42, #43, W-10.2.1.k, W-8.2.f, W-15.3.a: a newer or older committed seq
 * drops. */
static void test_stale_reuse(void)
{
    tp_slot_header_t h = good_header(9);
    put_slot(9, &h); /* seq_commit 19 in slot 1 */
    reset_counters();
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_LATE);
    h = good_header(1);
    put_slot(1, &h); /* seq_commit 3 in slot 1 */
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_LATE);
    CHECK_EQ_U64(rig.r.drops.drops_late, 2);
    /* a descriptor ahead of the slot (slot 2 still holds seq 2) */
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 6, &v), TP_SHM_READ_LATE);
    CHECK_EQ_U64(rig.r.drops.drops_late, 3);
}

/* §7 #44, W-8.2.h: ndims 0/9 invalid, 8 accepted; drops_late unchanged. */
static void test_slot_ndims(void)
{
    tp_slot_header_t h = good_header(5);
    h.tensor.ndims = 0;
    expect_invalid(5, &h, TP_REJECT_NDIMS);
    h.tensor.ndims = 9;
    expect_invalid(5, &h, TP_REJECT_NDIMS);
    h = good_header(5);
    const int32_t dims[8] = {1, 1, 1, 1, 1, 1, 2, 2};
    tp_tensor_header_init(&h.tensor, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 8, dims);
    expect_ok(5, &h);
}

/* §7 #45, W-9.e, W-15.5.b, W-10.2.1.l: payload_slot must equal the header index. */
static void test_slot_payload_slot(void)
{
    tp_slot_header_t h = good_header(5);
    h.payload_slot = 2;
    expect_invalid(5, &h, TP_REJECT_PAYLOAD_SLOT);
    h.payload_slot = 4;
    expect_invalid(5, &h, TP_REJECT_PAYLOAD_SLOT);
    h.payload_slot = UINT32_MAX;
    expect_invalid(5, &h, TP_REJECT_PAYLOAD_SLOT);
}

/* §7 #46, W-10.2.1.m: values_len 65 > stride 64 drops; 64 accepted. */
static void test_slot_values_len(void)
{
    tp_slot_header_t h = good_header(5);
    const int32_t d[1] = {64};
    tp_tensor_header_init(&h.tensor, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, d);
    h.values_len_bytes = 65;
    expect_invalid(5, &h, TP_REJECT_VALUES_LEN);
    h.values_len_bytes = UINT32_MAX;
    expect_invalid(5, &h, TP_REJECT_VALUES_LEN);
    h.values_len_bytes = 64;
    expect_ok(5, &h);
    /* §5.4 note: a tensor whose elements overrun values_len is refused */
    h.values_len_bytes = 63;
    expect_invalid(5, &h, TP_REJECT_EXTENT);
}

/* §7 #47, W-8.2.i: payload_offset must be 0. */
static void test_slot_payload_offset(void)
{
    tp_slot_header_t h = good_header(5);
    h.payload_offset = 64;
    expect_invalid(5, &h, TP_REJECT_PAYLOAD_OFFSET);
}

/* §7 #48, W-8.2.d, W-8.3.c, W-8.3.d: headerBytes length and embedded header. */
static void test_slot_embedded_header(void)
{
    tp_slot_header_t h = good_header(5);
    h.header_bytes_len = 191;
    expect_invalid(5, &h, TP_REJECT_HEADER_LENGTH);
    h.header_bytes_len = 193;
    expect_invalid(5, &h, TP_REJECT_HEADER_LENGTH);
    h = good_header(5);
    h.template_id = 51;
    expect_invalid(5, &h, TP_REJECT_EMBEDDED_HEADER);
    h = good_header(5);
    h.schema_id = 901;
    expect_invalid(5, &h, TP_REJECT_EMBEDDED_HEADER);
    h = good_header(5);
    h.version = 2;
    expect_invalid(5, &h, TP_REJECT_EMBEDDED_HEADER);
    h = good_header(5);
    h.block_length = 183;
    expect_invalid(5, &h, TP_REJECT_EMBEDDED_HEADER);
}

/* §7 #49-52, #55 through the slot path (tensor rules are unit-tested in
 * test_tensor_header): each lands in drops_invalid. */
static void test_slot_tensor_rules(void)
{
    tp_slot_header_t h = good_header(5);
    h.tensor.dtype = 12;
    expect_invalid(5, &h, TP_REJECT_DTYPE);
    h = good_header(5);
    h.tensor.major_order = 3;
    expect_invalid(5, &h, TP_REJECT_MAJOR_ORDER);
    h = good_header(5);
    h.tensor.progress_unit = 3;
    expect_invalid(5, &h, TP_REJECT_PROGRESS_UNIT);
    h = good_header(5);
    h.tensor.strides[0] = -8;
    expect_invalid(5, &h, TP_REJECT_NEGATIVE);
    h = good_header(5);
    h.tensor.strides[0] = 4;
    h.tensor.strides[1] = 4;
    expect_invalid(5, &h, TP_REJECT_STRIDES);
    h = good_header(5);
    h.tensor.progress_unit = TP_CONTROL_PROGRESS_UNIT_ROWS;
    h.tensor.progress_stride_bytes = 4;
    expect_invalid(5, &h, TP_REJECT_PROGRESS_STRIDE);
    h.tensor.progress_stride_bytes = 8;
    expect_ok(5, &h);
    h = good_header(5); /* §7 #56 */
    h.tensor.dims[5] = 77;
    expect_ok(5, &h);
}

/* W-8.2.c, W-8.2.o: padding is opaque; garbage in the SlotHeader pad, in
 * pad_align and in the TensorHeader pad is ignored. Offsets from §3.3/§3.4. */
static void test_padding_ignored(void)
{
    tp_slot_header_t h = good_header(5);
    put_slot(5, &h);
    uint8_t *s = wslot(5);
    tp_seqlock_write_begin(s, 5);
    memset(s + 34, 0xA5, 26);   /* SlotHeader.pad */
    s[77] = 0x5A;               /* TensorHeader.pad_align */
    memset(s + 147, 0xC3, 109); /* TensorHeader.pad */
    tp_seqlock_write_commit(s, 5);
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 5, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
}

/* §7 #53, W-8.2.p: an empty payload is a valid committed frame. */
static void test_empty_payload(void)
{
    tp_tensor_header_t t;
    const int32_t d[1] = {0};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 1, d);
    uint64_t seq;
    CHECK(tp_shm_writer_publish(&rig.w, &t, NULL, 0, 1, 0, &seq) == 0);
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, seq, &v), TP_SHM_READ_OK);
    CHECK_EQ_U64(v.len, 0);
    CHECK(v.payload == NULL);
    CHECK_EQ_U64(v.header.payload_slot, seq & 3);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(tp_shm_reader_read(&rig.r, seq, NULL, 0, &v), TP_SHM_READ_OK);
    tp_slot_header_t h = good_header(5);
    h.values_len_bytes = 0;
    h.tensor.dims[0] = 0;
    expect_ok(5, &h);
    h.payload_slot = 2;
    expect_invalid(5, &h, TP_REJECT_PAYLOAD_SLOT);
}

/* §7 #54, §5.4.5: a pool the reader did not map. */
static void test_unknown_pool(void)
{
    tp_slot_header_t h = good_header(5);
    h.pool_id = 9;
    expect_invalid(5, &h, TP_REJECT_POOL_ID);
}

/* §7 #82, W-9.d: an oversized frame is dropped by the producer: no slot
 * write, no seq advance. */
static void test_oversized_frame(void)
{
    uint8_t big[70] = {0};
    tp_tensor_header_t t;
    const int32_t d[1] = {70};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, d);
    const uint64_t next = rig.w.next_seq;
    const uint64_t before = tp_seqlock_read_begin(wslot(next));
    const uint64_t drops = rig.w.drops_no_pool;
    uint64_t seq = 999;
    CHECK(tp_shm_writer_publish(&rig.w, &t, big, 70, 0, 0, &seq) == -1);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    CHECK_EQ_U64(seq, 999);
    CHECK_EQ_U64(rig.w.next_seq, next);
    CHECK_EQ_U64(rig.w.drops_no_pool, drops + 1);
    CHECK_EQ_U64(tp_seqlock_read_begin(wslot(next)), before);
    /* the producer also refuses a header that a consumer would drop */
    const int32_t d2[1] = {64};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, d2);
    CHECK(tp_shm_writer_publish(&rig.w, &t, big, 60, 0, 0, &seq) == -1); /* extent 64 > 60 */
    t.major_order = 0;
    CHECK(tp_shm_writer_publish(&rig.w, &t, big, 64, 0, 0, &seq) == -1);
    CHECK_EQ_U64(rig.w.next_seq, next);
}

/* §7 #83, W-8.3.b, W-10.2.1.g, W-15.21.a (S1 WRITING -> S2 COMMITTED):
 * IN-PROGRESS is visible from claim until commit; the whole slot is rewritten
 * over garbage; COMMITTED comes last. */
static void test_producer_ordering(void)
{
    const uint64_t next = rig.w.next_seq;
    memset(wslot(next) + 8, 0xFF, 248); /* never rely on earlier zeroing */
    tp_tensor_header_t t = f32_2x2();
    tp_shm_claim_t c;
    CHECK(tp_shm_writer_claim(&rig.w, &t, 16, &c) == 0);
    CHECK_EQ_U64(c.seq, next);
    CHECK_EQ_U64(tp_seqlock_read_begin(c.slot), tp_seq_in_progress(next));
    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, next, &v), TP_SHM_READ_LATE);
    memset(c.payload, 0x5A, 16);
    tp_shm_writer_commit(&rig.w, &c, 55, 3);
    CHECK_EQ_U64(tp_seqlock_read_begin(c.slot), tp_seq_committed(next));
    CHECK_EQ_U64(rig.w.next_seq, next + 1);
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, next, &v), TP_SHM_READ_OK);
    CHECK_EQ_I64(tp_shm_reader_end(&rig.r, &v), TP_SHM_READ_OK);
    tp_slot_header_t back;
    tp_slot_header_read(c.slot, &back);
    CHECK_EQ_I64(back.tensor.dims[2], 0);
    CHECK_EQ_U64(back.payload_offset, 0);
    for (int i = 34; i < 60; i++) CHECK_EQ_U64(c.slot[i], 0);
}

/* W-9.b, W-9.c: with size classes, the smallest pool whose stride fits is chosen. */
static void test_smallest_pool(void)
{
    tp_test_rig_t *saved = malloc(sizeof *saved);
    memcpy(saved, &rig, sizeof rig);
    const tp_shm_pool_config_t pools[3] = {{.pool_id = 3, .stride_bytes = 4096},
                                           {.pool_id = 1, .stride_bytes = 64},
                                           {.pool_id = 2, .stride_bytes = 256}};
    CHECK(tp_test_rig_open(&rig, "pools", 4, 3, pools) == 0);
    static uint8_t buf[4096];
    tp_tensor_header_t t;
    tp_shm_view_t v0; /* §3.1, W-15.21.a S0: a fresh slot reads 0 = seq 0 in progress: dropped */
    CHECK_EQ_I64(tp_shm_reader_begin(&rig.r, 0, &v0), TP_SHM_READ_LATE);
    const uint32_t lens[] = {1, 64, 65, 256, 257, 4096};
    const uint16_t want[] = {1, 1, 2, 2, 3, 3};
    for (unsigned i = 0; i < 6; i++) {
        const int32_t d[1] = {(int32_t)lens[i]};
        tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, d);
        uint64_t seq;
        CHECK(tp_shm_writer_publish(&rig.w, &t, buf, lens[i], 0, 0, &seq) == 0);
        tp_shm_view_t v;
        CHECK_EQ_I64(tp_shm_reader_read(&rig.r, seq, buf, sizeof buf, &v), TP_SHM_READ_OK);
        CHECK_EQ_U64(v.header.pool_id, want[i]);
    }
    tp_test_rig_close(&rig);
    memcpy(&rig, saved, sizeof rig);
    free(saved);
}

/* W-15.22.g, §5.1 step 11: if one region fails, nothing stays mapped. */
static void test_open_all_or_nothing(void)
{
    tp_shm_reader_t r2;
    tp_shm_reader_config_t rc = rig.rc;
    rc.pools[0].stride_bytes = 128; /* pool superblock says 64 */
    CHECK(tp_shm_reader_open(&r2, &rig.bases, &rc) == -1);
    CHECK(strstr(tp_errmsg(), "pool 1") != NULL);
    CHECK(r2.ring.base == NULL);
    rc = rig.rc;
    rc.epoch = 8;
    CHECK(tp_shm_reader_open(&r2, &rig.bases, &rc) == -1);
    CHECK(strstr(tp_errmsg(), "header ring") != NULL);
    rc = rig.rc;
    rc.ring_uri = "shm:file?path=/etc/passwd";
    rc.ring_uri_len = strlen(rc.ring_uri);
    CHECK(tp_shm_reader_open(&r2, &rig.bases, &rc) == -1);
    rc = rig.rc;
    rc.npools = 2;
    rc.pools[1] = rc.pools[0]; /* D-20: duplicate pool id */
    CHECK(tp_shm_reader_open(&r2, &rig.bases, &rc) == -1);
}

/* §5.2, W-15.14.a: liveness follows the heartbeat and the pid. */
static void test_liveness(void)
{
    const uint64_t now = tp_test_now_ns();
    tp_shm_writer_heartbeat(&rig.w, now);
    const uint64_t pid = (uint64_t)getpid();
    CHECK(tp_shm_reader_live(&rig.r, pid, now + 1000000000ull, 3000000000ull) == 1);
    CHECK(tp_shm_reader_live(&rig.r, pid, now + 4000000000ull, 3000000000ull) == 0);
    CHECK(tp_shm_reader_live(&rig.r, pid + 1, now, 3000000000ull) == 0);
    /* W-15.18.b, §5.1 step 8: a mapped superblock whose magic, layout_version
     * or epoch changed calls for a remap; restored, it is live again */
    static const size_t offs[] = {0, 8, 12}; /* magic, layout_version, epoch */
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        for (int region = 0; region < 2; region++) {
            uint8_t *b = region == 0 ? rig.w.ring.base : rig.w.pool[0].base;
            b[offs[k]] ^= 0x40;
            CHECK(tp_shm_reader_live(&rig.r, pid, now, 3000000000ull) == 0);
            b[offs[k]] ^= 0x40;
            CHECK(tp_shm_reader_live(&rig.r, pid, now, 3000000000ull) == 1);
        }
    }
}

/* Files 0660 and directories 0770 or stricter (W-15.10.a, D-21), at the
 * canonical place (W-15.21a.3.a). */
static void test_created_modes(void)
{
    struct stat st;
    CHECK(stat(rig.w.ring_path, &st) == 0);
    CHECK((st.st_mode & 0007) == 0);
    CHECK((st.st_mode & 0777 & ~0660u) == 0);
    CHECK(stat(rig.w.pool_path[0], &st) == 0);
    CHECK((st.st_mode & 0007) == 0);
    CHECK(stat(rig.w.epoch_dir, &st) == 0);
    CHECK((st.st_mode & 0777 & ~0770u) == 0);
    char want[600];
    snprintf(want, sizeof want, "%s/tensorpool-tester/test/10000/7/header.ring", rig.base);
    CHECK_STR(rig.w.ring_path, want);
}

/* D-26, W-15.21a.2.a, W-15.21a.4.a: a writer whose shm_base_dir is reached
 * through a symlink still announces canonical absolute paths, which the
 * containment rules accept; closing with unlink removes the epoch directory
 * (W-15.21a.7.a). */
static void test_writer_canonical_paths(void)
{
    char link[300];
    snprintf(link, sizeof link, "%s-link", rig.base);
    CHECK(symlink(rig.base, link) == 0);
    tp_shm_writer_config_t cfg = {.base_dir = link, .user = "u", .ns = "canon", .stream_id = 1, .epoch = 1,
                                  .nslots = 2, .npools = 1, .now_ns = tp_test_now_ns()};
    cfg.pools[0].pool_id = 1;
    cfg.pools[0].stride_bytes = 64;
    tp_shm_writer_t *w = malloc(sizeof *w);
    CHECK(tp_shm_writer_open(w, &cfg) == 0);
    CHECK(strncmp(w->ring_path, rig.base, strlen(rig.base)) == 0);
    tp_shm_file_t f;
    CHECK(tp_shm_path_open(&rig.bases, w->pool_path[0], 0, &f) == 0);
    close(f.fd);
    char epoch_dir[TP_SHM_PATH_MAX];
    memcpy(epoch_dir, w->epoch_dir, sizeof epoch_dir);
    tp_shm_writer_close(w, 1);
    CHECK(access(epoch_dir, F_OK) != 0);
    free(w);
    unlink(link);
    /* a bad configuration fails cleanly */
    cfg.base_dir = "relative";
    w = malloc(sizeof *w);
    CHECK(tp_shm_writer_open(w, &cfg) == -1);
    cfg.base_dir = rig.base;
    cfg.ns = "bad/ns";
    CHECK(tp_shm_writer_open(w, &cfg) == -1);
    cfg.ns = "ok";
    cfg.nslots = 3;
    CHECK(tp_shm_writer_open(w, &cfg) == -1);
    cfg.nslots = 2;
    cfg.npools = 2;
    cfg.pools[1] = cfg.pools[0]; /* D-20 */
    CHECK(tp_shm_writer_open(w, &cfg) == -1);
    cfg.npools = 1;
    cfg.pools[0].stride_bytes = 100;
    CHECK(tp_shm_writer_open(w, &cfg) == -1);
    free(w);
}

/* The backlog prefetch's window: at most TP_SHM_PREFETCH_AHEAD frames past
 * the one taken, and a forged seq far ahead does not leave later, genuine
 * seqs without prefetches (the window follows seq, not the highest seen). */
static void test_prefetch_backlog_window(void)
{
    rig.r.prefetched = 0;
    tp_shm_reader_prefetch_backlog(&rig.r, 10, 3);
    CHECK_EQ_U64(rig.r.prefetched, 13);
    tp_shm_reader_prefetch_backlog(&rig.r, 11, 1000); /* bounded */
    CHECK_EQ_U64(rig.r.prefetched, 11 + TP_SHM_PREFETCH_AHEAD);
    tp_shm_reader_prefetch_backlog(&rig.r, UINT64_C(1) << 62, 5); /* forged; masked into the ring, never faults */
    CHECK_EQ_U64(rig.r.prefetched, (UINT64_C(1) << 62) + 5);
    tp_shm_reader_prefetch_backlog(&rig.r, 20, 2);
    CHECK_EQ_U64(rig.r.prefetched, 22);
    tp_shm_reader_prefetch_backlog(&rig.r, UINT64_MAX - 2, 1000); /* the window does not wrap */
    CHECK_EQ_U64(rig.r.prefetched, UINT64_MAX);
}

/* Rings of 4 over a pool of stride 4096 for the truncation tests: slot k is
 * [64 + 4096k, 64 + 4096(k + 1)) of the pool file, so slots straddle pages. */
static tp_test_rig_t page_rig;
static uint8_t old_bytes[4096], new_bytes[4096];

static int page_rig_open(const char *tag, tp_tensor_header_t *t)
{
    static const tp_shm_pool_config_t page_pool[1] = {{.pool_id = 1, .stride_bytes = 4096}};
    if (tp_test_rig_open(&page_rig, tag, 4, 1, page_pool) != 0) {
        fprintf(stderr, "rig: %s\n", tp_errmsg());
        CHECK(!"page rig opens");
        return -1;
    }
    memset(old_bytes, 0xAA, sizeof old_bytes);
    memset(new_bytes, 0xBB, sizeof new_bytes);
    const int32_t dims[1] = {4096};
    tp_tensor_header_init(t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    return 0;
}

/* What another member of the group may do to the pool file at any time. */
static void page_rig_truncate_pool(off_t size)
{
    const int fd = open(page_rig.w.pool_path[0], O_WRONLY | O_NOFOLLOW);
    CHECK(fd >= 0 && ftruncate(fd, size) == 0);
    if (fd >= 0) close(fd);
}

/* Someone truncates the pool under a live writer (src/shm/README.md): the
 * writer's next payload store faults and the fault guard swaps private zero
 * pages in under its whole pool mapping. From then on no frame may be
 * committed: a reader that has not faulted (it never touched the cut part)
 * would otherwise take the kept page's older bytes, validated, as the new
 * frame. */
static void test_lost_pool_mapping_not_committed(void)
{
    tp_tensor_header_t t;
    if (page_rig_open("lostpool", &t) != 0) return;
    uint64_t seq = 99;
    CHECK_EQ_I64(tp_shm_writer_publish(&page_rig.w, &t, old_bytes, 4096, 1, 0, &seq), 0);
    CHECK_EQ_U64(seq, 0);
    page_rig_truncate_pool(8192); /* keeps slot 0 whole, cuts slot 2 off */

    tp_shm_claim_t c;
    CHECK_EQ_I64(tp_shm_writer_claim_at(&page_rig.w, &t, 4096, 2, &c), 0);
    memcpy(c.payload, new_bytes, 4096); /* faults: caught, the mapping is lost */
    CHECK_EQ_I64(tp_shm_writer_commit(&page_rig.w, &c, 2, 0), -1);
    CHECK_EQ_I64(tp_errcode(), TP_ERR_TRUNCATED);
    CHECK(strstr(tp_errmsg(), "pool 1: file truncated") != NULL);

    CHECK_EQ_I64(tp_shm_writer_claim_at(&page_rig.w, &t, 4096, 4, &c), 0); /* slot 0 again, in the kept page */
    memcpy(c.payload, new_bytes, 4096);                                    /* goes to the private zero pages */
    CHECK_EQ_I64(tp_shm_writer_commit(&page_rig.w, &c, 4, 0), -1);
    CHECK_EQ_I64(tp_shm_writer_publish(&page_rig.w, &t, new_bytes, 4096, 5, 0, NULL), -1);

    tp_shm_view_t v; /* the slots stay IN-PROGRESS: late, never the kept page's 0xAA as frame 4 */
    CHECK_EQ_I64(tp_shm_reader_begin(&page_rig.r, 4, &v), TP_SHM_READ_LATE);
    CHECK_EQ_I64(tp_shm_reader_begin(&page_rig.r, 2, &v), TP_SHM_READ_LATE);
    tp_test_rig_close(&page_rig);
}

/* The documented limit of a truncate to a size that is not a multiple of
 * the page: the rest of the page holding the new end stays mapped and reads
 * as zeros without a fault. A committed frame reaching into it (slot 1 here)
 * reads whole, with zeros at its end: a change no seqlock can see, as any
 * write of a neighbour into a payload. A frame reaching past that page
 * (slot 2) faults and is never intact; the one before (slot 0) is untouched. */
static void test_unaligned_truncate_zeroes_the_cut_frame(void)
{
    tp_tensor_header_t t;
    if (page_rig_open("cutpool", &t) != 0) return;
    for (int i = 0; i < 3; i++) CHECK_EQ_I64(tp_shm_writer_publish(&page_rig.w, &t, old_bytes, 4096, 1, 0, NULL), 0);
    page_rig_truncate_pool(8192 + 32); /* slot 1 ends at 8256: 32 bytes cut, in the kept page */

    tp_shm_view_t v;
    CHECK_EQ_I64(tp_shm_reader_begin(&page_rig.r, 0, &v), TP_SHM_READ_OK);
    CHECK(memcmp(v.payload, old_bytes, 4096) == 0 && tp_shm_view_intact(&v));
    CHECK_EQ_I64(tp_shm_reader_begin(&page_rig.r, 1, &v), TP_SHM_READ_OK);
    CHECK(memcmp(v.payload, old_bytes, 4096 - 32) == 0);
    CHECK(v.payload[4096 - 32] == 0 && v.payload[4095] == 0);
    CHECK(tp_shm_view_intact(&v));
    CHECK_EQ_I64(tp_shm_reader_begin(&page_rig.r, 2, &v), TP_SHM_READ_OK);
    CHECK(v.payload[4095] == 0); /* faults in page 3: caught */
    CHECK(!tp_shm_view_intact(&v));
    tp_test_rig_close(&page_rig);
}

int main(void)
{
    if (tp_test_rig_open(&rig, "seqlock", 4, 1, POOL1) != 0) {
        fprintf(stderr, "rig: %s\n", tp_errmsg());
        return 1;
    }
    RUN(test_happy_path_read);
    RUN(test_slot_in_progress);
    RUN(test_torn_read_view);
    RUN(test_stale_reuse);
    RUN(test_slot_ndims);
    RUN(test_slot_payload_slot);
    RUN(test_slot_values_len);
    RUN(test_slot_payload_offset);
    RUN(test_slot_embedded_header);
    RUN(test_slot_tensor_rules);
    RUN(test_padding_ignored);
    RUN(test_empty_payload);
    RUN(test_unknown_pool);
    RUN(test_oversized_frame);
    RUN(test_producer_ordering);
    RUN(test_smallest_pool);
    RUN(test_open_all_or_nothing);
    RUN(test_liveness);
    RUN(test_created_modes);
    RUN(test_writer_canonical_paths);
    RUN(test_prefetch_backlog_window);
    RUN(test_lost_pool_mapping_not_committed);
    RUN(test_unaligned_truncate_zeroes_the_cut_frame);
    RUN(test_tensor_cache_reader);
    RUN(test_tensor_cache_writer); /* advances the writer's seq */
    RUN(test_pool_stride_independent_of_tensor_strides); /* last: advances the writer's seq */
    tp_test_rig_close(&rig);
    TP_TEST_END();
}
