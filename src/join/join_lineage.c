/* Lineage of a join output (not to be confused with join_trace.c, the
 * viewer's record of recent outputs): the trace ids of the frames it was made of
 * (docs/spec/tracelink.md TL-D4), gathered for the output's producer. */
#include "tensorpool/join_agent.h"

uint32_t tp_join_output_trace_parents(const tp_join_output_t *out, uint64_t *parents, uint32_t cap, int *truncated)
{
    uint32_t n = 0;
    int more = 0;
    for (uint32_t r = 0; r < out->input_count; r++) {
        const tp_join_input_t *in = &out->inputs[r];
        for (uint32_t k = 0; k < in->frame_count; k++) {
            const uint64_t id = in->frames[k].trace_id;
            if (id == 0) continue;
            /* The same frame may serve two rules of one input: list it once.
             * n is at most a few hundred, so a linear scan beats a set. */
            int seen = 0;
            for (uint32_t i = 0; i < n && !seen; i++) seen = parents[i] == id;
            if (seen) continue;
            if (n == cap) {
                more = 1;
                continue;
            }
            parents[n++] = id;
        }
    }
    if (truncated != NULL) *truncated = more;
    return n;
}
