/* Clock and cached clock behaviour. */
#include "tensorpool/clock.h"
#include "tp_test.h"

static void test_monotonic_advances(void)
{
    int64_t a = tp_clock_monotonic_ns();
    int64_t b = tp_clock_monotonic_ns();
    CHECK(a > 0);
    CHECK(b >= a);
    /* Realtime is after 2020-01-01 on any sane host. */
    CHECK(tp_clock_realtime_ns() > 1577836800LL * 1000000000LL);
}

static void test_cached_clock_holds_value_until_update(void)
{
    tp_cached_clock_t c;
    tp_cached_clock_init(&c);
    int64_t first = tp_cached_clock_monotonic_ns(&c);
    CHECK(first > 0);
    /* Spin until the real clock moves; the cached one must not. */
    while (tp_clock_monotonic_ns() == first) {
    }
    CHECK_EQ_I64(tp_cached_clock_monotonic_ns(&c), first);
    tp_cached_clock_update(&c);
    CHECK(tp_cached_clock_monotonic_ns(&c) > first);
    tp_cached_clock_set(&c, 42, 43);
    CHECK_EQ_I64(tp_cached_clock_monotonic_ns(&c), 42);
    CHECK_EQ_I64(tp_cached_clock_realtime_ns(&c), 43);
}

int main(void)
{
    RUN(test_monotonic_advances);
    RUN(test_cached_clock_holds_value_until_update);
    TP_TEST_END();
}
