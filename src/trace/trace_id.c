/* Trace id generator (docs/spec/tracelink.md TL-D1): time, node, sequence. */
#include "tensorpool/trace.h"

#include "tensorpool/error.h"

/* 2020-01-01T00:00:00Z in Unix milliseconds: 42 bits of ms from here last
 * until the 2150s. */
#define TRACE_EPOCH_MS UINT64_C(1577836800000)
#define SEQ_BITS 12
#define NODE_BITS 10
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)

int tp_trace_gen_init(tp_trace_gen_t *g, uint32_t node_id)
{
    if (g == NULL || node_id > TP_TRACE_MAX_NODE)
        return tp_err_set(TP_ERR_INVALID_ARG, "trace node id %u is not in 0..%u", node_id, TP_TRACE_MAX_NODE);
    g->node = node_id;
    g->last = 0;
    return 0;
}

uint64_t tp_trace_gen_next(tp_trace_gen_t *g, int64_t realtime_ns)
{
    const uint64_t unix_ms = realtime_ns > 0 ? (uint64_t)realtime_ns / 1000000u : 0;
    const uint64_t ms = unix_ms > TRACE_EPOCH_MS ? unix_ms - TRACE_EPOCH_MS : 0;
    uint64_t id = (ms << (SEQ_BITS + NODE_BITS)) | (g->node << SEQ_BITS);
    if (id <= g->last) {
        /* Same millisecond (or the clock stepped back): next sequence; past
         * 4095 borrow the next millisecond, so ids never repeat. */
        if ((g->last & SEQ_MASK) == SEQ_MASK)
            id = (((g->last >> (SEQ_BITS + NODE_BITS)) + 1) << (SEQ_BITS + NODE_BITS)) | (g->node << SEQ_BITS);
        else
            id = g->last + 1;
    }
    if (id == 0) id = 1; /* a clock before 2020 on node 0: still never the null id */
    g->last = id;
    return id;
}

void tp_trace_id_parts(uint64_t trace_id, uint64_t *unix_ms, uint32_t *node, uint32_t *seq)
{
    if (unix_ms != NULL) *unix_ms = (trace_id >> (SEQ_BITS + NODE_BITS)) + TRACE_EPOCH_MS;
    if (node != NULL) *node = (uint32_t)((trace_id >> SEQ_BITS) & TP_TRACE_MAX_NODE);
    if (seq != NULL) *seq = (uint32_t)(trace_id & SEQ_MASK);
}
