/* Per-frame structural checks of a decoded header slot that need no
 * announce (docs/spec/wire.md §5.4 items 1-4 and 7-14). The pool checks (items 5 and 6)
 * need the mapped pools and live in the reader. */
#ifndef TENSORPOOL_SLOT_CHECK_H
#define TENSORPOOL_SLOT_CHECK_H

#include "tensorpool/shm_layout.h"
#include "tensorpool/tensor_header.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Check h, decoded from header slot `index`: headerBytes length 192 (W-8.2.d),
 * embedded header {184, 52, 900, 1} (W-8.3.c/d), payload_offset 0 (W-8.2.i),
 * payload_slot == index (W-9.e), then the tensor rules
 * (tp_tensor_header_check). On TP_REJECT_NONE, resolved (if not NULL) holds
 * the resolved strides. No allocation, no error text. */
/* The items of tp_slot_header_check that are not in the embedded
 * TensorHeader message (length, payload_offset, payload_slot, in that
 * order): all a slot needs when its message is one already checked
 * (tensor_cache.h). */
TP_INTERNAL tp_reject_t tp_slot_root_check(const tp_slot_header_t *h, uint32_t index);

TP_INTERNAL tp_reject_t tp_slot_header_check(const tp_slot_header_t *h, uint32_t index, int32_t resolved[TP_TENSOR_MAX_DIMS]);

#ifdef __cplusplus
}
#endif
#endif
