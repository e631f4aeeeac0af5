/* TraceLinkSet glue over the generated schema-904 codec, with the rules the
 * schema cannot state (docs/spec/tracelink.md TL-9.2.c). */
#include "tensorpool/trace.h"

#include "tensorpool/codec/tracelink.h"
#include "tensorpool/error.h"

#include <inttypes.h>

size_t tp_trace_link_length(uint32_t parent_count)
{
    return TP_SBE_HEADER_LENGTH + TP_TRACELINK_TRACE_LINK_SET_BLOCK_LENGTH + TP_SBE_GROUP_HEADER_LENGTH +
           (size_t)parent_count * 8u;
}

/* TL-9.2.c: 1..256 parents, none zero, none twice; the output id not zero.
 * Quadratic, but n <= 256 and no allocation. */
static int check_link(const tp_trace_link_t *l)
{
    if (l->trace_id == 0) return tp_err_set(TP_ERR_MALFORMED, "TraceLinkSet: trace id 0 is the null id");
    if (l->parent_count == 0) return tp_err_set(TP_ERR_MALFORMED, "TraceLinkSet: no parents");
    if (l->parent_count > TP_TRACE_MAX_PARENTS)
        return tp_err_set(TP_ERR_CAPACITY, "TraceLinkSet: %u parents, at most %u", l->parent_count,
                          TP_TRACE_MAX_PARENTS);
    for (uint32_t i = 0; i < l->parent_count; i++) {
        if (l->parents[i] == 0) return tp_err_set(TP_ERR_MALFORMED, "TraceLinkSet: parent %u is the null id 0", i);
        for (uint32_t k = 0; k < i; k++)
            if (l->parents[k] == l->parents[i])
                return tp_err_set(TP_ERR_MALFORMED, "TraceLinkSet: parent %" PRIu64 " listed twice (%u and %u)",
                                  l->parents[i], k, i);
    }
    return 0;
}

long tp_trace_link_encode(const tp_trace_link_t *l, void *buf, size_t cap)
{
    if (l == NULL || buf == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "TraceLinkSet: no link or buffer");
    if (check_link(l) < 0) return -1;
    tp_tracelink_trace_link_set_enc_t e;
    tp_tracelink_trace_link_set_encode_begin(&e, buf, cap);
    tp_tracelink_trace_link_set_set_stream_id(&e, l->stream_id);
    tp_tracelink_trace_link_set_set_epoch(&e, l->epoch);
    tp_tracelink_trace_link_set_set_seq(&e, l->seq);
    tp_tracelink_trace_link_set_set_trace_id(&e, l->trace_id);
    tp_tracelink_trace_link_set_parents_encode_begin(&e, (uint16_t)l->parent_count);
    for (uint32_t i = 0; i < l->parent_count; i++) {
        tp_tracelink_trace_link_set_parents_encode_next(&e);
        tp_tracelink_trace_link_set_parents_set_trace_id(&e, l->parents[i]);
    }
    return tp_tracelink_trace_link_set_encode_end(&e);
}

int tp_trace_link_decode(tp_trace_link_t *l, const void *buf, size_t len)
{
    tp_tracelink_trace_link_set_dec_t d;
    if (tp_tracelink_trace_link_set_decode(&d, buf, len) < 0) return -1;
    const uint16_t n = tp_tracelink_trace_link_set_parents_count(&d);
    if (n > TP_TRACE_MAX_PARENTS)
        return tp_err_set(TP_ERR_CAPACITY, "TraceLinkSet: %u parents, at most %u", n, TP_TRACE_MAX_PARENTS);
    l->stream_id = tp_tracelink_trace_link_set_stream_id(&d);
    l->epoch = tp_tracelink_trace_link_set_epoch(&d);
    l->seq = tp_tracelink_trace_link_set_seq(&d);
    l->trace_id = tp_tracelink_trace_link_set_trace_id(&d);
    l->parent_count = 0;
    tp_tracelink_trace_link_set_parents_iter_t it;
    tp_tracelink_trace_link_set_parents_iter(&d, &it);
    while (tp_tracelink_trace_link_set_parents_next(&it) > 0)
        l->parents[l->parent_count++] = tp_tracelink_trace_link_set_parents_trace_id(&it);
    return check_link(l);
}

int tp_trace_link_add_parent(tp_trace_link_t *l, uint64_t parent)
{
    if (parent == 0) return 0;
    for (uint32_t k = 0; k < l->parent_count; k++)
        if (l->parents[k] == parent) return 0;
    if (l->parent_count >= TP_TRACE_MAX_PARENTS) return -1;
    l->parents[l->parent_count++] = parent;
    return 1;
}
