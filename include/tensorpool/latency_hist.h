/* Latency histogram for reporting p50/p99 without storing samples.
 *
 * Log-linear buckets: values below 2^TP_LATENCY_SUB_BITS ns are exact, above
 * that each power of two is split into 2^TP_LATENCY_SUB_BITS buckets, so a
 * reported quantile is within 1/2^TP_LATENCY_SUB_BITS (6 %) of the true value.
 * Fixed size, no allocation; record is a few instructions. Not thread-safe:
 * one writer; merge snapshots with tp_latency_hist_add.
 */
#ifndef TENSORPOOL_LATENCY_HIST_H
#define TENSORPOOL_LATENCY_HIST_H

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_LATENCY_SUB_BITS 4
#define TP_LATENCY_BUCKETS ((64 - TP_LATENCY_SUB_BITS + 1) << TP_LATENCY_SUB_BITS)

typedef struct tp_latency_hist_s {
    uint64_t count;
    uint64_t max_ns;
    uint64_t sum_ns;
    uint32_t bucket[TP_LATENCY_BUCKETS];
} tp_latency_hist_t;

TP_INTERNAL void tp_latency_hist_reset(tp_latency_hist_t *h);

/* Record one value in ns (negative values count as 0). */
TP_INTERNAL void tp_latency_hist_record(tp_latency_hist_t *h, int64_t ns);

/* dst += src. */
TP_INTERNAL void tp_latency_hist_add(tp_latency_hist_t *dst, const tp_latency_hist_t *src);

/* out = cur - prev, for the values recorded between two snapshots of one
 * histogram (out->max_ns is cur's maximum: an upper bound). */
TP_INTERNAL void tp_latency_hist_diff(tp_latency_hist_t *out, const tp_latency_hist_t *cur, const tp_latency_hist_t *prev);

/* Value at quantile q (0..1]: the upper edge of the bucket holding it, capped
 * at the largest value seen. 0 when empty. */
TP_INTERNAL uint64_t tp_latency_hist_quantile(const tp_latency_hist_t *h, double q);

#ifdef __cplusplus
}
#endif
#endif
