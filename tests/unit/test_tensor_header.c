/* TensorHeader drop rules (docs/spec/wire.md §5.4 items 7-14, §7 scenarios 44, 49-52,
 * 55, 56; W-8.2.e/h/j/k/m, D-11, D-12, D-17, D-22). */
#include "tensorpool/tensor_header.h"
#include "tp_test.h"

static tp_tensor_header_t f32_2x2(tp_control_major_order_t order, int32_t s0, int32_t s1)
{
    tp_tensor_header_t h;
    const int32_t dims[2] = {2, 2};
    tp_tensor_header_init(&h, TP_CONTROL_DTYPE_FLOAT32, order, 2, dims);
    h.strides[0] = s0;
    h.strides[1] = s1;
    return h;
}

/* §7 #39 (stride part): zero strides resolve to [8, 4] for ROW FLOAT32 2x2. */
static void test_resolve_dense_row(void)
{
    tp_tensor_header_t h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 0, 0);
    int32_t res[8];
    CHECK_EQ_I64(tp_tensor_header_check(&h, res), TP_REJECT_NONE);
    CHECK_EQ_I64(res[0], 8);
    CHECK_EQ_I64(res[1], 4);
    CHECK_EQ_U64(tp_tensor_header_extent(&h, res), 16);
}

/* W-8.2.h, §7 #44: ndims 0 and 9 drop; 8 with valid dims accepted. */
static void test_ndims_bounds(void)
{
    tp_tensor_header_t h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 0, 0);
    h.ndims = 0;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NDIMS);
    h.ndims = 9;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NDIMS);
    const int32_t dims[8] = {1, 2, 1, 2, 1, 2, 1, 3};
    CHECK(tp_tensor_header_init(&h, TP_CONTROL_DTYPE_UINT16, TP_CONTROL_MAJOR_ORDER_ROW, 8, dims) == 0);
    int32_t res[8];
    CHECK_EQ_I64(tp_tensor_header_check(&h, res), TP_REJECT_NONE);
    CHECK_EQ_I64(res[7], 2);
    CHECK_EQ_I64(res[0], 2 * 3 * 2 * 2 * 2);
    CHECK(tp_tensor_header_init(&h, TP_CONTROL_DTYPE_UINT16, TP_CONTROL_MAJOR_ORDER_ROW, 9, dims) != 0);
}

/* D-11, W-15.8.a, §7 #49: dtype 0/12/15, major 0/3, progress_unit 3 drop. */
static void test_enum_checks(void)
{
    tp_tensor_header_t h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 0, 0);
    const int16_t bad_dtypes[] = {0, 12, 15, -1, -32768};
    for (unsigned i = 0; i < sizeof bad_dtypes / sizeof bad_dtypes[0]; i++) {
        h.dtype = bad_dtypes[i];
        CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_DTYPE);
    }
    h.dtype = TP_CONTROL_DTYPE_FLOAT32;
    h.major_order = 0;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_MAJOR_ORDER);
    h.major_order = 3;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_MAJOR_ORDER);
    h.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    h.progress_unit = 3;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_PROGRESS_UNIT);
}

/* D-17 and §4.2 element sizes; every assigned dtype is accepted. */
static void test_dtype_sizes(void)
{
    const int one[] = {1, 2, 11, 13, 14}, two[] = {3, 4}, four[] = {5, 6, 9}, eight[] = {7, 8, 10};
    for (unsigned i = 0; i < 5; i++) CHECK_EQ_U64(tp_dtype_size(one[i]), 1);
    for (unsigned i = 0; i < 2; i++) CHECK_EQ_U64(tp_dtype_size(two[i]), 2);
    for (unsigned i = 0; i < 3; i++) CHECK_EQ_U64(tp_dtype_size(four[i]), 4);
    for (unsigned i = 0; i < 3; i++) CHECK_EQ_U64(tp_dtype_size(eight[i]), 8);
    CHECK_EQ_U64(tp_dtype_size(0), 0);
    CHECK_EQ_U64(tp_dtype_size(12), 0);
    CHECK(tp_control_dtype_name(12) == NULL);
    CHECK_STR(tp_control_dtype_name(TP_CONTROL_DTYPE_BIT), "BIT");
}

/* W-8.2.k, §7 #50: negative stride or dim drops. */
static void test_negative_values(void)
{
    tp_tensor_header_t h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, -8, 0);
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NEGATIVE);
    h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 0, 0);
    h.dims[1] = -1;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NEGATIVE);
}

/* W-8.2.k, D-22, §7 #51: row-major strides. */
static void test_row_major_strides(void)
{
    tp_tensor_header_t h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 4, 4);
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_STRIDES); /* overlap */
    h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 8, 4);
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NONE);
    h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 16, 4); /* padded rows */
    int32_t res[8];
    CHECK_EQ_I64(tp_tensor_header_check(&h, res), TP_REJECT_NONE);
    CHECK_EQ_U64(tp_tensor_header_extent(&h, res), 4 + 16 + 4);
    h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 8, 2); /* D-22: innermost below element size */
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_STRIDES);
    h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 0, 8); /* explicit inner, inferred outer: 16 */
    CHECK_EQ_I64(tp_tensor_header_check(&h, res), TP_REJECT_NONE);
    CHECK_EQ_I64(res[0], 16);
    h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 4, 8); /* column-like strides in a ROW tensor */
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_STRIDES);
}

/* W-8.2.k, §7 #52: column-major strides, dims [2, 3]. */
static void test_column_major_strides(void)
{
    tp_tensor_header_t h;
    const int32_t dims[2] = {2, 3};
    tp_tensor_header_init(&h, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_COLUMN, 2, dims);
    h.strides[0] = 4;
    h.strides[1] = 8;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NONE);
    h.strides[0] = 8;
    h.strides[1] = 4;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_STRIDES);
    h.strides[0] = 0;
    h.strides[1] = 0;
    int32_t res[8];
    CHECK_EQ_I64(tp_tensor_header_check(&h, res), TP_REJECT_NONE);
    CHECK_EQ_I64(res[0], 4);
    CHECK_EQ_I64(res[1], 8);
}

/* §5.4.12: a resolved stride above INT32_MAX drops; no overflow on the way. */
static void test_stride_range(void)
{
    tp_tensor_header_t h;
    const int32_t dims[3] = {2, INT32_MAX, 4};
    tp_tensor_header_init(&h, TP_CONTROL_DTYPE_FLOAT64, TP_CONTROL_MAJOR_ORDER_ROW, 3, dims);
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_STRIDE_RANGE);
    h.strides[1] = INT32_MAX; /* explicit huge stride: still above need? need = 32 */
    h.strides[0] = 0;         /* inferred: INT32_MAX * INT32_MAX > INT32_MAX */
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_STRIDE_RANGE);
}

/* W-8.2.e, W-8.2.m, D-12, §7 #55: progress stride rules. */
static void test_progress_stride(void)
{
    tp_tensor_header_t h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 0, 0);
    h.progress_unit = TP_CONTROL_PROGRESS_UNIT_ROWS;
    h.progress_stride_bytes = 0;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_PROGRESS_STRIDE);
    h.progress_stride_bytes = 4;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_PROGRESS_STRIDE);
    h.progress_stride_bytes = 8;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NONE);
    h.progress_unit = TP_CONTROL_PROGRESS_UNIT_COLUMNS; /* D-12: resolved strides[1] = 4 */
    h.progress_stride_bytes = 4;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NONE);
    const int32_t d1[1] = {8};
    tp_tensor_header_init(&h, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 1, d1);
    h.progress_unit = TP_CONTROL_PROGRESS_UNIT_COLUMNS; /* COLUMNS needs ndims >= 2 */
    h.progress_stride_bytes = 4;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_PROGRESS_STRIDE);
    h.progress_unit = TP_CONTROL_PROGRESS_UNIT_NONE; /* D-12: ignored when NONE */
    h.progress_stride_bytes = 12345;
    CHECK_EQ_I64(tp_tensor_header_check(&h, NULL), TP_REJECT_NONE);
}

/* W-8.2.j, §5.4.14, §7 #56: entries beyond ndims are never read. */
static void test_garbage_beyond_ndims(void)
{
    tp_tensor_header_t h = f32_2x2(TP_CONTROL_MAJOR_ORDER_ROW, 0, 0);
    h.dims[5] = 77;
    h.strides[7] = -5;
    h.dims[2] = -1;
    int32_t res[8];
    CHECK_EQ_I64(tp_tensor_header_check(&h, res), TP_REJECT_NONE);
    CHECK_EQ_I64(res[5], 0);
    CHECK_EQ_U64(tp_tensor_header_extent(&h, res), 16);
}

/* §7 #53: a zero dim is an empty tensor with extent 0. */
static void test_empty_tensor(void)
{
    tp_tensor_header_t h;
    const int32_t d[1] = {0};
    tp_tensor_header_init(&h, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 1, d);
    int32_t res[8];
    CHECK_EQ_I64(tp_tensor_header_check(&h, res), TP_REJECT_NONE);
    CHECK_EQ_U64(tp_tensor_header_extent(&h, res), 0);
}

static void test_reject_names(void)
{
    for (int r = 0; r < TP_REJECT_COUNT_; r++) CHECK(strcmp(tp_reject_name((tp_reject_t)r), "unknown") != 0);
    CHECK_STR(tp_reject_name(TP_REJECT_COUNT_), "unknown");
}

int main(void)
{
    RUN(test_resolve_dense_row);
    RUN(test_ndims_bounds);
    RUN(test_enum_checks);
    RUN(test_dtype_sizes);
    RUN(test_negative_values);
    RUN(test_row_major_strides);
    RUN(test_column_major_strides);
    RUN(test_stride_range);
    RUN(test_progress_stride);
    RUN(test_garbage_beyond_ndims);
    RUN(test_empty_tensor);
    RUN(test_reject_names);
    TP_TEST_END();
}
