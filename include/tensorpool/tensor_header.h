/* TensorHeader: the tensor description carried in every SHM header slot
 * (SBE schema 900, template 52), as a plain C struct, plus the layout rules a
 * consumer applies before touching a payload (docs/spec/wire.md §3.4, §5.4).
 *
 * Byte encoding lives in shm_layout.h; this header knows only values.
 */
#ifndef TENSORPOOL_TENSOR_HEADER_H
#define TENSORPOOL_TENSOR_HEADER_H

#include "tensorpool/codec/control.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* W-8.2.a: build-time constant; a different value is a new layout_version. */
#define TP_TENSOR_MAX_DIMS 8

/* Dtype, MajorOrder and ProgressUnit values are the generated codec's
 * (tp_control_dtype_t, tp_control_major_order_t, tp_control_progress_unit_t;
 * docs/spec/wire.md §4.2), as are their names (tp_control_dtype_name, ...). */

/* Decoded TensorHeader body. Fields keep their wire types so that any value a
 * (possibly hostile) producer wrote can be represented and then rejected. */
typedef struct tp_tensor_header_s {
    int16_t dtype;                  /* tp_control_dtype_t */
    int16_t major_order;            /* tp_control_major_order_t */
    uint8_t ndims;                  /* 1..TP_TENSOR_MAX_DIMS */
    uint8_t progress_unit;          /* tp_control_progress_unit_t */
    uint32_t progress_stride_bytes; /* 0 when progress_unit is NONE (D-12) */
    int32_t dims[TP_TENSOR_MAX_DIMS];
    int32_t strides[TP_TENSOR_MAX_DIMS]; /* bytes; 0 = contiguous, inferred */
} tp_tensor_header_t;

/* Why a header (or a slot) was refused. 0 means valid. Stable small integers
 * so a hot path can report a drop reason without formatting text. */
typedef enum tp_reject_e {
    TP_REJECT_NONE = 0,
    TP_REJECT_HEADER_LENGTH,    /* headerBytes.length != 192 (W-8.2.d) */
    TP_REJECT_EMBEDDED_HEADER,  /* embedded msg header not {184,52,900,1} (W-8.3.c/d) */
    TP_REJECT_PAYLOAD_OFFSET,   /* payload_offset != 0 (W-8.2.i) */
    TP_REJECT_PAYLOAD_SLOT,     /* payload_slot != header_index (W-9.e, W-10.2.1.l) */
    TP_REJECT_POOL_ID,          /* pool_id not among the mapped pools (§5.4.5) */
    TP_REJECT_VALUES_LEN,       /* values_len_bytes > pool stride (W-10.2.1.m) */
    TP_REJECT_NDIMS,            /* ndims == 0 or > 8 (W-8.2.h) */
    TP_REJECT_DTYPE,            /* dtype unknown or outside the table (D-11) */
    TP_REJECT_MAJOR_ORDER,      /* major_order not ROW/COLUMN (D-11) */
    TP_REJECT_PROGRESS_UNIT,    /* progress_unit > 2 (W-15.8.a) */
    TP_REJECT_NEGATIVE,         /* a dim or stride < 0 (W-8.2.k) */
    TP_REJECT_STRIDES,          /* overlapping / order-inconsistent strides (W-8.2.k, D-22) */
    TP_REJECT_STRIDE_RANGE,     /* a resolved stride exceeds INT32_MAX (§5.4.12) */
    TP_REJECT_PROGRESS_STRIDE,  /* progress stride 0 or not the true stride (W-8.2.e/m, D-12) */
    TP_REJECT_EXTENT,           /* tensor byte extent exceeds values_len_bytes (§5.4 note) */
    TP_REJECT_COUNT_
} tp_reject_t;

/* Short stable name of a reject reason, e.g. "ndims". Never NULL. */
TP_API const char *tp_reject_name(tp_reject_t reason);

/* Element size in bytes of a dtype (BIT, BYTES, BOOLEAN: 1, D-17), or 0 when
 * the value is UNKNOWN or not in the table. */
TP_API size_t tp_dtype_size(int dtype);

/* Fill *h with a dense tensor description: strides all 0 (inferred), unused
 * dims/strides zeroed (W-8.2.j), progress NONE. Returns -1 (TP_ERR_INVALID_ARG)
 * if ndims is outside 1..8 or dims is NULL. */
TP_API int tp_tensor_header_init(tp_tensor_header_t *h, tp_control_dtype_t dtype, tp_control_major_order_t order,
                                 unsigned ndims, const int32_t *dims);

/* Apply every per-header rule of docs/spec/wire.md §5.4 (items 7–14) to h.
 * On success returns TP_REJECT_NONE and, if resolved is not NULL, writes the
 * resolved byte strides (zero strides inferred; entries >= ndims set to 0).
 * Entries k >= ndims of h are never read (W-8.2.j, §5.4.14).
 * No allocation, no error text: the hot path uses it per frame. */
TP_API tp_reject_t tp_tensor_header_check(const tp_tensor_header_t *h, int32_t resolved[TP_TENSOR_MAX_DIMS]);

/* Byte extent of the tensor with the given resolved strides:
 * e + sum((dims[k]-1) * strides[k]), or 0 when any dim is 0 (empty tensor).
 * h must have passed tp_tensor_header_check. */
TP_API uint64_t tp_tensor_header_extent(const tp_tensor_header_t *h, const int32_t resolved[TP_TENSOR_MAX_DIMS]);

#ifdef __cplusplus
}
#endif
#endif
