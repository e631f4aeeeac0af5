/* The rate gate (include/tensorpool/rate_gate.h) and the RateLimiter's
 * configuration reader: pure, no processes (W-11.b, W-11.c, RL-4.b, RL-4.d, RL-8.a;
 * the gate's rule is RL-P1). */
#include "tp_test.h"

#include "tensorpool/error.h"
#include "tensorpool/rate_gate.h"
#include "tensorpool/ratelimit.h"

#include <string.h>

#define MS 1000000ull

/* 120 Hz frames through a 5 Hz gate for 10 s: 5 a second (51 with the
 * first), never two closer than half a period, each the first frame at or
 * after its due time (RL-4.b). */
static void test_120_to_5(void)
{
    tp_rate_gate_t g;
    tp_rate_gate_init(&g, 5);
    unsigned passed = 0;
    uint64_t last = 0;
    for (uint64_t i = 0; i < 1200; i++) {
        const uint64_t ts = 1000 * MS + i * 1000000000ull / 120 + (i % 3) * MS / 2; /* jitter */
        if (!tp_rate_gate_eligible(&g, ts)) continue;
        if (passed > 0) CHECK(ts - last >= 100 * MS);
        tp_rate_gate_take(&g, ts);
        last = ts;
        passed++;
    }
    CHECK(passed >= 49 && passed <= 51);
}

/* The first frame after a reset passes at once; 0 Hz passes everything. */
static void test_reset_and_unlimited(void)
{
    tp_rate_gate_t g;
    tp_rate_gate_init(&g, 2);
    CHECK(tp_rate_gate_eligible(&g, 5 * MS));
    tp_rate_gate_take(&g, 5 * MS);
    CHECK(!tp_rate_gate_eligible(&g, 6 * MS));
    CHECK(!tp_rate_gate_eligible(&g, 504 * MS));
    CHECK(tp_rate_gate_eligible(&g, 505 * MS));
    tp_rate_gate_reset(&g); /* RL-4.d: a remap or restart */
    CHECK(tp_rate_gate_eligible(&g, 6 * MS));
    tp_rate_gate_init(&g, 0);
    for (int i = 0; i < 10; i++) {
        CHECK(tp_rate_gate_eligible(&g, 7 * MS));
        tp_rate_gate_take(&g, 7 * MS);
    }
}

/* A pause does not release a burst: a late frame re-anchors the grid. A
 * clock that went back (another producer) passes and re-anchors too. */
static void test_pause_and_clock_back(void)
{
    tp_rate_gate_t g;
    tp_rate_gate_init(&g, 10); /* 100 ms */
    tp_rate_gate_take(&g, 1000 * MS);
    CHECK(tp_rate_gate_eligible(&g, 5000 * MS));
    tp_rate_gate_take(&g, 5000 * MS);
    CHECK(!tp_rate_gate_eligible(&g, 5050 * MS));
    CHECK(tp_rate_gate_eligible(&g, 5100 * MS));
    CHECK(!tp_rate_gate_eligible(&g, 4950 * MS)); /* just behind: not a new clock */
    CHECK(tp_rate_gate_eligible(&g, 10 * MS));    /* far behind: a new clock */
    tp_rate_gate_take(&g, 10 * MS);
    CHECK(!tp_rate_gate_eligible(&g, 60 * MS));
    CHECK(tp_rate_gate_eligible(&g, 110 * MS));
}

/* W-11.c: the descriptor's timestamp, else the slot's, else the local clock. */
static void test_frame_time(void)
{
    CHECK_EQ_U64(tp_rate_gate_frame_time(7, 8, 9), 7);
    CHECK_EQ_U64(tp_rate_gate_frame_time(TP_RATE_TS_NULL, 8, 9), 8);
    CHECK_EQ_U64(tp_rate_gate_frame_time(TP_RATE_TS_NULL, TP_RATE_TS_NULL, 9), 9);
    CHECK_EQ_U64(tp_rate_gate_frame_time(0, 0, 9), 9);
}

static int parse(tp_ratelimit_config_t *c, const char *text)
{
    tp_ratelimit_config_init(c);
    return tp_ratelimit_config_parse(c, text, strlen(text));
}

/* RL-8.a: the configuration keys; one mapping per instance (RL-4.a, RL-P4);
 * progress and QoS forwarding, not built, are refused when switched on, so
 * they never start without their stream ids (RL-6.1.a, RL-6.1.b, RL-8.b);
 * wrong input is an error that names the line. */
static void test_config(void)
{
    tp_ratelimit_config_t c;
    CHECK_EQ_I64(parse(&c, "[rate_limiter]\ninstance_id = \"prev\"\nmax_rate_hz = 5\nforward_metadata = false\n"
                           "forward_qos = false\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n"
                           "metadata_stream_id = 7\n"),
                 0);
    CHECK_STR(c.instance_id, "prev");
    CHECK_EQ_U64(c.max_rate_hz, 5);
    CHECK(!c.forward_metadata);
    CHECK_EQ_U64(c.source_stream_id, 1);
    CHECK_EQ_U64(c.dest_stream_id, 2);
    CHECK_EQ_U64(c.metadata_stream_id, 7);
    CHECK_EQ_I64(tp_ratelimit_config_validate(&c), 0);
    CHECK_EQ_I64(parse(&c, "[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\nmax_rate_hz = 9\n"), 0);
    CHECK_EQ_U64(c.max_rate_hz, 9);
    CHECK(c.forward_metadata); /* default true */
    static const char *const bad[] = {
        "[rate_limiter]\nmax_rate_hz = -1\n",
        "[rate_limiter]\nmax_rate_hz = \"5\"\n",
        "[rate_limiter]\nforward_metadata = 1\n",
        "[rate_limiter]\nforward_progress = true\n",
        "[rate_limiter]\nforward_qos = true\n",
        "[rate_limiter]\nnope = 1\n",
        "[other]\nx = 1\n",
        "[rate_limiter]\ninstance_id = \"\"\n",
        "[[mappings]]\nsource_stream_id = 1\n[[mappings]]\nsource_stream_id = 2\n",
        "[[mappings]]\nsource_stream_id = 0\n",
        "[[mappings]]\ndest_stream_id = 4294967296\n",
        "[[mappings]]\nwhat = 1\n",
        "[rate_limiter\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_I64(parse(&c, bad[i]), -1);
        CHECK(strstr(tp_errmsg(), "line") != NULL);
    }
    CHECK_EQ_I64(parse(&c, "[[mappings]]\nsource_stream_id = 3\ndest_stream_id = 3\n"), 0);
    CHECK_EQ_I64(tp_ratelimit_config_validate(&c), -1); /* RL-3.a */
    CHECK_EQ_I64(parse(&c, "[[mappings]]\nsource_stream_id = 3\n"), 0);
    CHECK_EQ_I64(tp_ratelimit_config_validate(&c), -1);
    CHECK_EQ_I64(tp_ratelimit_config_load_file(&c, "/nonexistent/ratelimit.toml"), -1);
}

int main(void)
{
    RUN(test_120_to_5);
    RUN(test_reset_and_unlimited);
    RUN(test_pause_and_clock_back);
    RUN(test_frame_time);
    RUN(test_config);
    TP_TEST_END();
}
