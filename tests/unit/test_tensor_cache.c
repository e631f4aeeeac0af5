/* The writer's and reader's TensorHeader cache (tensor_cache.h): which
 * headers count as the cached one, which slot lines a writer stores, and
 * that a reader sees a difference in any single byte of the slot's message. */
#include "tensorpool/tensor_cache.h"
#include "tp_test.h"

#include <string.h>

static tp_tensor_header_t u8_3x4(void)
{
    tp_tensor_header_t h;
    const int32_t dims[2] = {3, 4};
    tp_tensor_header_init(&h, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    return h;
}

static void put(tp_tensor_cache_t *c, const tp_tensor_header_t *h)
{
    int32_t res[TP_TENSOR_MAX_DIMS];
    CHECK_EQ_I64(tp_tensor_header_check(h, res), TP_REJECT_NONE);
    tp_tensor_cache_put(c, h, res, tp_tensor_header_extent(h, res));
}

/* W-8.2.j: dims and strides past ndims are not encoded, so they do not make
 * a header differ; any dim or stride within ndims, or ndims itself, does. */
static void test_same_compares_encoded_fields_only(void)
{
    tp_tensor_cache_t c;
    memset(&c, 0, sizeof c);
    const tp_tensor_header_t h = u8_3x4();
    CHECK(!tp_tensor_cache_same(&c, &h)); /* empty cache */
    put(&c, &h);
    CHECK(tp_tensor_cache_same(&c, &h));
    tp_tensor_header_t t = h;
    t.dims[5] = 77;
    t.strides[7] = -3;
    CHECK(tp_tensor_cache_same(&c, &t));
    for (int i = 0; i < 2; i++) {
        t = h;
        t.dims[i] ^= 1 << 20;
        CHECK(!tp_tensor_cache_same(&c, &t));
        t = h;
        t.strides[i] = (int32_t)0x80000000u; /* a difference in the top bit only */
        CHECK(!tp_tensor_cache_same(&c, &t));
    }
    t = h;
    t.ndims = 3;
    t.dims[2] = 1;
    CHECK(!tp_tensor_cache_same(&c, &t));
    t = h;
    t.dtype = TP_CONTROL_DTYPE_INT8;
    CHECK(!tp_tensor_cache_same(&c, &t));
}

/* A cache holding u8_3x4 and a slot of `fill` bytes given its message. */
static void cached_slot(tp_tensor_cache_t *c, uint8_t slot[TP_SHM_SLOT_BYTES], uint8_t fill)
{
    memset(c, 0, sizeof *c);
    const tp_tensor_header_t h = u8_3x4();
    put(c, &h);
    memset(slot, fill, TP_SHM_SLOT_BYTES);
    tp_tensor_cache_write_slot(c, slot);
}

/* write_slot makes the slot's message the cached one, from any bytes, and
 * repairs a neighbour's scribble in any of its lines; the slot's root
 * block before the message is left alone. */
static void test_write_slot_repairs_every_line(void)
{
    tp_tensor_cache_t c;
    uint8_t slot[TP_SHM_SLOT_BYTES];
    cached_slot(&c, slot, 0xee);
    CHECK(memcmp(slot + TP_SHM_SLOT_TENSOR_OFFSET, c.msg, TP_SHM_HEADER_BYTES_LEN) == 0);
    CHECK(slot[TP_SHM_SLOT_TENSOR_OFFSET - 1] == 0xee); /* nothing before the message */
    CHECK(tp_tensor_cache_matches_slot(&c, slot));
    /* one byte scribbled in the first line, the last byte of the middle
     * one, the last byte of the message */
    const unsigned scribbled[3] = {3, 127, TP_SHM_HEADER_BYTES_LEN - 1};
    for (int k = 0; k < 3; k++) slot[TP_SHM_SLOT_TENSOR_OFFSET + scribbled[k]] ^= 0x5a;
    CHECK(!tp_tensor_cache_matches_slot(&c, slot));
    tp_tensor_cache_write_slot(&c, slot);
    for (int k = 0; k < 3; k++) CHECK(slot[TP_SHM_SLOT_TENSOR_OFFSET + scribbled[k]] == c.msg[scribbled[k]]);
    CHECK(tp_tensor_cache_matches_slot(&c, slot));
}

/* The reader compares word by word: a flipped bit in any byte of the
 * 192-byte message, first to last, is a mismatch. */
static void test_matches_slot_sees_every_byte(void)
{
    tp_tensor_cache_t c;
    uint8_t slot[TP_SHM_SLOT_BYTES];
    cached_slot(&c, slot, 0);
    for (unsigned i = 0; i < TP_SHM_HEADER_BYTES_LEN; i++) {
        slot[TP_SHM_SLOT_TENSOR_OFFSET + i] ^= 0x01;
        CHECK(!tp_tensor_cache_matches_slot(&c, slot));
        slot[TP_SHM_SLOT_TENSOR_OFFSET + i] ^= 0x01;
    }
    CHECK(tp_tensor_cache_matches_slot(&c, slot));
    c.valid = 0;
    CHECK(!tp_tensor_cache_matches_slot(&c, slot));
}

int main(void)
{
    RUN(test_same_compares_encoded_fields_only);
    RUN(test_write_slot_repairs_every_line);
    RUN(test_matches_slot_sees_every_byte);
    TP_TEST_END();
}
