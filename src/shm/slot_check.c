/* Announce-independent slot checks (§5.4 items 1-4, 7-14). */
#include "tensorpool/slot_check.h"

tp_reject_t tp_slot_root_check(const tp_slot_header_t *h, uint32_t index)
{
    if (h->header_bytes_len != TP_SHM_HEADER_BYTES_LEN) return TP_REJECT_HEADER_LENGTH;
    if (h->payload_offset != 0) return TP_REJECT_PAYLOAD_OFFSET;
    if (h->payload_slot != index) return TP_REJECT_PAYLOAD_SLOT;
    return TP_REJECT_NONE;
}

tp_reject_t tp_slot_header_check(const tp_slot_header_t *h, uint32_t index, int32_t resolved[TP_TENSOR_MAX_DIMS])
{
    if (h->header_bytes_len != TP_SHM_HEADER_BYTES_LEN) return TP_REJECT_HEADER_LENGTH; /* item 1 before item 2 */
    if (h->block_length != TP_SHM_TENSOR_BLOCK_LENGTH || h->template_id != TP_SHM_TENSOR_TEMPLATE_ID ||
        h->schema_id != TP_SHM_SCHEMA_ID || h->version != TP_SHM_SCHEMA_VERSION)
        return TP_REJECT_EMBEDDED_HEADER;
    const tp_reject_t why = tp_slot_root_check(h, index);
    if (why != TP_REJECT_NONE) return why;
    return tp_tensor_header_check(&h->tensor, resolved);
}
