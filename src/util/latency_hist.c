/* Log-linear latency histogram (see latency_hist.h). */
#include "tensorpool/latency_hist.h"

#include <string.h>

#define SUB (1u << TP_LATENCY_SUB_BITS)

static uint32_t bucket_of(uint64_t v)
{
    if (v < SUB) return (uint32_t)v;
    const uint32_t msb = 63u - (uint32_t)__builtin_clzll(v); /* >= TP_LATENCY_SUB_BITS */
    const uint32_t shift = msb - TP_LATENCY_SUB_BITS;
    const uint32_t sub = (uint32_t)(v >> shift) & (SUB - 1u);
    return (shift + 1u) * SUB + sub;
}

/* Largest value that falls in bucket b. */
static uint64_t bucket_top(uint32_t b)
{
    if (b < SUB) return b;
    const uint32_t shift = b / SUB - 1u;
    const uint64_t base = (uint64_t)(SUB + (b % SUB)) << shift;
    return base + ((UINT64_C(1) << shift) - 1u);
}

void tp_latency_hist_reset(tp_latency_hist_t *h) { memset(h, 0, sizeof *h); }

void tp_latency_hist_record(tp_latency_hist_t *h, int64_t ns)
{
    const uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
    h->bucket[bucket_of(v)]++;
    h->count++;
    h->sum_ns += v;
    if (v > h->max_ns) h->max_ns = v;
}

void tp_latency_hist_add(tp_latency_hist_t *dst, const tp_latency_hist_t *src)
{
    for (uint32_t i = 0; i < TP_LATENCY_BUCKETS; i++) dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->max_ns > dst->max_ns) dst->max_ns = src->max_ns;
}

void tp_latency_hist_diff(tp_latency_hist_t *out, const tp_latency_hist_t *cur, const tp_latency_hist_t *prev)
{
    for (uint32_t i = 0; i < TP_LATENCY_BUCKETS; i++) out->bucket[i] = cur->bucket[i] - prev->bucket[i];
    out->count = cur->count - prev->count;
    out->sum_ns = cur->sum_ns - prev->sum_ns;
    out->max_ns = cur->max_ns;
}

uint64_t tp_latency_hist_quantile(const tp_latency_hist_t *h, double q)
{
    if (h->count == 0) return 0;
    if (q <= 0.0) q = 0.0;
    if (q > 1.0) q = 1.0;
    /* rank of the q-th value, 1-based, rounded up */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count) rank++;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < TP_LATENCY_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            const uint64_t top = bucket_top(i);
            return top < h->max_ns ? top : h->max_ns;
        }
    }
    return h->max_ns;
}
