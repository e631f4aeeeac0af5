/* libFuzzer target: join trace entries and statuses are read from a shared
 * file any process of the user can write (untrusted). Property: decode never
 * reads out of bounds, and what it accepts is consistent. */
#include "tensorpool/join_trace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tp_join_trace_output_t e;
    static tp_join_trace_status_t s;
    uint8_t *in = malloc(size + 1); /* exact size: ASan sees any over-read */
    memcpy(in, data, size);
    if (tp_join_trace_entry_decode(in, size, &e) == 0) {
        if (e.input_count > TP_JOIN_TRACE_MAX_INPUTS) abort();
        for (uint32_t i = 0; i < e.input_count; i++)
            if (e.in[i].frame_count > 0 && e.in[i].last_seq < e.in[i].first_seq) abort();
    }
    if (tp_join_trace_status_decode(in, size, &s) == 0) {
        if (s.explain_count > TP_JOIN_TRACE_MAX_INPUTS || strlen(s.reason) >= sizeof s.reason) abort();
    }
    free(in);
    return 0;
}
