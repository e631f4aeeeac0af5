#include "tensorpool/clock.h"

#include <time.h>

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these clock ids on Linux. */
    (void)clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t tp_clock_monotonic_ns(void) { return read_clock(CLOCK_MONOTONIC); }

int64_t tp_clock_realtime_ns(void) { return read_clock(CLOCK_REALTIME); }

void tp_cached_clock_init(tp_cached_clock_t *clock)
{
    atomic_init(&clock->monotonic_ns, 0);
    atomic_init(&clock->realtime_ns, 0);
    tp_cached_clock_update(clock);
}

void tp_cached_clock_update(tp_cached_clock_t *clock)
{
    tp_cached_clock_set(clock, tp_clock_monotonic_ns(), tp_clock_realtime_ns());
}

void tp_cached_clock_set(tp_cached_clock_t *clock, int64_t monotonic_ns, int64_t realtime_ns)
{
    atomic_store_explicit(&clock->monotonic_ns, monotonic_ns, memory_order_relaxed);
    atomic_store_explicit(&clock->realtime_ns, realtime_ns, memory_order_relaxed);
}
