/* TensorHeader values: dtype table, construction and the per-header drop
 * rules of docs/spec/wire.md §5.4 (items 7-14). Pure functions, no allocation. */
#include "tensorpool/tensor_header.h"

#include "tensorpool/error.h"

#include <string.h>

const char *tp_reject_name(tp_reject_t reason)
{
    static const char *const names[TP_REJECT_COUNT_] = {
        [TP_REJECT_NONE] = "none",
        [TP_REJECT_HEADER_LENGTH] = "header-length",
        [TP_REJECT_EMBEDDED_HEADER] = "embedded-header",
        [TP_REJECT_PAYLOAD_OFFSET] = "payload-offset",
        [TP_REJECT_PAYLOAD_SLOT] = "payload-slot",
        [TP_REJECT_POOL_ID] = "pool-id",
        [TP_REJECT_VALUES_LEN] = "values-len",
        [TP_REJECT_NDIMS] = "ndims",
        [TP_REJECT_DTYPE] = "dtype",
        [TP_REJECT_MAJOR_ORDER] = "major-order",
        [TP_REJECT_PROGRESS_UNIT] = "progress-unit",
        [TP_REJECT_NEGATIVE] = "negative-dim-or-stride",
        [TP_REJECT_STRIDES] = "strides-overlap",
        [TP_REJECT_STRIDE_RANGE] = "stride-range",
        [TP_REJECT_PROGRESS_STRIDE] = "progress-stride",
        [TP_REJECT_EXTENT] = "extent",
    };
    if ((unsigned)reason >= TP_REJECT_COUNT_) return "unknown";
    return names[reason];
}

size_t tp_dtype_size(int dtype)
{
    switch (dtype) {
    case TP_CONTROL_DTYPE_UINT8: case TP_CONTROL_DTYPE_INT8: case TP_CONTROL_DTYPE_BOOLEAN:
    case TP_CONTROL_DTYPE_BYTES: case TP_CONTROL_DTYPE_BIT: /* D-17 */
        return 1;
    case TP_CONTROL_DTYPE_UINT16: case TP_CONTROL_DTYPE_INT16:
        return 2;
    case TP_CONTROL_DTYPE_UINT32: case TP_CONTROL_DTYPE_INT32: case TP_CONTROL_DTYPE_FLOAT32:
        return 4;
    case TP_CONTROL_DTYPE_UINT64: case TP_CONTROL_DTYPE_INT64: case TP_CONTROL_DTYPE_FLOAT64:
        return 8;
    default: /* UNKNOWN, 12 and anything outside the table (D-11) */
        return 0;
    }
}

int tp_tensor_header_init(tp_tensor_header_t *h, tp_control_dtype_t dtype, tp_control_major_order_t order,
                          unsigned ndims, const int32_t *dims)
{
    if (h == NULL || dims == NULL || ndims == 0 || ndims > TP_TENSOR_MAX_DIMS)
        return tp_err_set(TP_ERR_INVALID_ARG, "tensor header: ndims %u outside 1..%d", ndims,
                          TP_TENSOR_MAX_DIMS);
    memset(h, 0, sizeof *h); /* W-8.2.j: unused dims/strides are zero */
    h->dtype = (int16_t)dtype;
    h->major_order = (int16_t)order;
    h->ndims = (uint8_t)ndims;
    h->progress_unit = TP_CONTROL_PROGRESS_UNIT_NONE;
    memcpy(h->dims, dims, ndims * sizeof dims[0]);
    return 0;
}

/* Resolve zero strides and check non-overlap in the order's direction
 * (§5.4.12): walk from the innermost dimension outwards; each stride must be
 * at least the extent of the dimension inside it. */
static tp_reject_t resolve_strides(const tp_tensor_header_t *h, int64_t elem,
                                   int32_t out[TP_TENSOR_MAX_DIMS])
{
    const int n = h->ndims;
    const int row = h->major_order == TP_CONTROL_MAJOR_ORDER_ROW;
    int64_t inner_extent = elem; /* bytes spanned by the dims inside k */
    for (int step = 0; step < n; step++) {
        const int k = row ? n - 1 - step : step;
        int64_t s = h->strides[k];
        if (s == 0) {
            s = inner_extent;
        } else if (s < inner_extent) {
            /* overlap; for the innermost dim this is D-22 (stride < element) */
            return TP_REJECT_STRIDES;
        }
        if (s > INT32_MAX) return TP_REJECT_STRIDE_RANGE;
        out[k] = (int32_t)s;
        const int64_t d = h->dims[k] > 1 ? h->dims[k] : 1;
        inner_extent = s * d; /* <= 2^31 * 2^31: fits in int64 */
    }
    return TP_REJECT_NONE;
}

tp_reject_t tp_tensor_header_check(const tp_tensor_header_t *h, int32_t resolved[TP_TENSOR_MAX_DIMS])
{
    int32_t local[TP_TENSOR_MAX_DIMS];
    int32_t *res = resolved != NULL ? resolved : local;
    memset(res, 0, sizeof local);

    if (h->ndims == 0 || h->ndims > TP_TENSOR_MAX_DIMS) return TP_REJECT_NDIMS; /* W-8.2.h */
    const size_t elem = tp_dtype_size(h->dtype);
    if (elem == 0) return TP_REJECT_DTYPE;                                      /* D-11 */
    if (h->major_order != TP_CONTROL_MAJOR_ORDER_ROW && h->major_order != TP_CONTROL_MAJOR_ORDER_COLUMN)
        return TP_REJECT_MAJOR_ORDER;                                           /* D-11 */
    if (h->progress_unit > TP_CONTROL_PROGRESS_UNIT_COLUMNS) return TP_REJECT_PROGRESS_UNIT; /* W-15.8.a */
    for (unsigned k = 0; k < h->ndims; k++) /* §5.4.14: never look past ndims */
        if (h->dims[k] < 0 || h->strides[k] < 0) return TP_REJECT_NEGATIVE;    /* W-8.2.k */

    const tp_reject_t r = resolve_strides(h, (int64_t)elem, res);
    if (r != TP_REJECT_NONE) return r;

    /* W-8.2.e/m, D-12: ROWS is strides[0], COLUMNS is strides[1], whatever the order. */
    if (h->progress_unit == TP_CONTROL_PROGRESS_UNIT_ROWS) {
        if (h->progress_stride_bytes == 0 || (int64_t)h->progress_stride_bytes != res[0])
            return TP_REJECT_PROGRESS_STRIDE;
    } else if (h->progress_unit == TP_CONTROL_PROGRESS_UNIT_COLUMNS) {
        if (h->ndims < 2 || h->progress_stride_bytes == 0 ||
            (int64_t)h->progress_stride_bytes != res[1])
            return TP_REJECT_PROGRESS_STRIDE;
    }
    return TP_REJECT_NONE;
}

uint64_t tp_tensor_header_extent(const tp_tensor_header_t *h, const int32_t resolved[TP_TENSOR_MAX_DIMS])
{
    const unsigned n = h->ndims < TP_TENSOR_MAX_DIMS ? h->ndims : TP_TENSOR_MAX_DIMS;
    for (unsigned k = 0; k < n; k++)
        if (h->dims[k] <= 0) return 0; /* empty tensor */
    uint64_t extent = tp_dtype_size(h->dtype);
    for (unsigned k = 0; k < n; k++) {
        extent += (uint64_t)(h->dims[k] - 1) * (uint64_t)(uint32_t)resolved[k];
        /* each term is below 2^62; stop before a sum could wrap */
        if (extent > UINT32_MAX) return UINT64_MAX;
    }
    return extent;
}
