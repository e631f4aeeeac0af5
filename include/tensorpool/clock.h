/* tensorpool clocks.
 *
 * Direct reads (tp_clock_*_ns) go through the vDSO: no syscall, but still tens
 * of nanoseconds. Agents read a tp_cached_clock_t instead, which the runner or
 * invoker refreshes once per duty cycle, so a duty cycle sees one consistent
 * "now" and pays for one clock read however many agents ask.
 */
#ifndef TENSORPOOL_CLOCK_H
#define TENSORPOOL_CLOCK_H

#include <stdint.h>

#include "tensorpool/atomic.h"

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CLOCK_MONOTONIC now, in nanoseconds. */
TP_API int64_t tp_clock_monotonic_ns(void);

/* CLOCK_REALTIME now, in nanoseconds since the Unix epoch. */
TP_API int64_t tp_clock_realtime_ns(void);

/* A clock value read once per duty cycle. Fields are atomics so another thread
 * may read the cached value while the owner updates it. */
typedef struct tp_cached_clock_s {
    TP_ATOMIC(int64_t) monotonic_ns;
    TP_ATOMIC(int64_t) realtime_ns;
} tp_cached_clock_t;

/* Initialise and take a first reading. */
TP_API void tp_cached_clock_init(tp_cached_clock_t *clock);

/* Read both clocks and store them; called by runners/invokers once per cycle. */
TP_API void tp_cached_clock_update(tp_cached_clock_t *clock);

/* Store explicit values (tests, simulated time). */
TP_API void tp_cached_clock_set(tp_cached_clock_t *clock, int64_t monotonic_ns, int64_t realtime_ns);

/* Cached CLOCK_MONOTONIC value of the current duty cycle. */
static inline int64_t tp_cached_clock_monotonic_ns(const tp_cached_clock_t *clock)
{
    return atomic_load_explicit(&clock->monotonic_ns, memory_order_relaxed);
}

/* Cached CLOCK_REALTIME value of the current duty cycle. */
static inline int64_t tp_cached_clock_realtime_ns(const tp_cached_clock_t *clock)
{
    return atomic_load_explicit(&clock->realtime_ns, memory_order_relaxed);
}

#ifdef __cplusplus
}
#endif
#endif
