/* Latency histogram: exact small values, bounded relative error, merge. */
#include "tensorpool/latency_hist.h"
#include "tp_test.h"

static void test_empty_and_exact(void)
{
    tp_latency_hist_t h;
    tp_latency_hist_reset(&h);
    CHECK_EQ_U64(tp_latency_hist_quantile(&h, 0.5), 0);
    for (int i = 1; i <= 10; i++) tp_latency_hist_record(&h, i);
    CHECK_EQ_U64(h.count, 10);
    CHECK_EQ_U64(tp_latency_hist_quantile(&h, 0.5), 5);
    CHECK_EQ_U64(tp_latency_hist_quantile(&h, 1.0), 10);
    tp_latency_hist_record(&h, -3); /* clock skew never wraps around */
    CHECK_EQ_U64(tp_latency_hist_quantile(&h, 0.01), 0);
}

static void test_relative_error(void)
{
    tp_latency_hist_t h;
    tp_latency_hist_reset(&h);
    /* 1..100000 us: p50 ~ 50 ms, p99 ~ 99 ms, within 1/16. */
    for (int64_t i = 1; i <= 100000; i++) tp_latency_hist_record(&h, i * 1000);
    const double p50 = (double)tp_latency_hist_quantile(&h, 0.5);
    const double p99 = (double)tp_latency_hist_quantile(&h, 0.99);
    CHECK(p50 >= 50e6 && p50 <= 50e6 * (1.0 + 1.0 / 16));
    CHECK(p99 >= 99e6 && p99 <= 99e6 * (1.0 + 1.0 / 16));
    CHECK_EQ_U64(tp_latency_hist_quantile(&h, 1.0), 100000000);
}

static void test_merge(void)
{
    tp_latency_hist_t a, b;
    tp_latency_hist_reset(&a);
    tp_latency_hist_reset(&b);
    for (int i = 0; i < 99; i++) tp_latency_hist_record(&a, 1000);
    tp_latency_hist_record(&b, 1000000);
    tp_latency_hist_add(&a, &b);
    CHECK_EQ_U64(a.count, 100);
    CHECK(tp_latency_hist_quantile(&a, 0.5) < 1100);
    CHECK_EQ_U64(tp_latency_hist_quantile(&a, 1.0), 1000000);
    CHECK_EQ_U64(a.max_ns, 1000000);
    tp_latency_hist_t d;
    tp_latency_hist_diff(&d, &a, &b); /* back to a's own 99 values */
    CHECK_EQ_U64(d.count, 99);
    CHECK(tp_latency_hist_quantile(&d, 0.99) < 1100);
}

int main(void)
{
    RUN(test_empty_and_exact);
    RUN(test_relative_error);
    RUN(test_merge);
    TP_TEST_END();
}
