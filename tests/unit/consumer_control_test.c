/* What a consumer takes from ConsumerConfig and ControlResponse
 * (src/client/consumer_control.c): W-15.17.a, W-10.1.3.a, W-10.1.3.f,
 * W-15.8.a, W-15.12.a, W-P1, W-P3, W-P4; wire.md scenario 80. */
#include "client/consumer_control.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/control_response.h"
#include "tp_test.h"

#include <string.h>

enum { STREAM = 10000, ME = 7 };
static int64_t g_now = 1000;

static int on_cfg(tp_consumer_control_t *cc, uint32_t stream, uint32_t cid, uint8_t use_shm, uint8_t mode,
                  const char *uri, int in_fallback)
{
    uint8_t buf[512];
    const long n = tp_consumer_config_encode(buf, sizeof buf, stream, cid, 1, mode, uri);
    CHECK(n > 0);
    if (use_shm > 1) buf[8 + 8] = use_shm; /* an out-of-range Bool (W-15.8.a): useShm is at offset 8 of the block */
    else if (!use_shm) buf[8 + 8] = 0;
    return (int)tp_consumer_control_on_config(cc, buf, (size_t)n, STREAM, ME, in_fallback, g_now);
}

static int on_resp(tp_consumer_control_t *cc, uint32_t stream, uint32_t cid, int32_t code, const char *msg)
{
    uint8_t buf[512];
    const long n = tp_control_response_encode(buf, sizeof buf, stream, cid, code, msg);
    CHECK(n > 0);
    return tp_consumer_control_on_response(cc, buf, (size_t)n, STREAM, ME);
}

/* W-10.1.3.f, W-P4: a config that forces RATE_LIMITED; W-P3 gives its rate */
static void test_rate_limited_config_and_rate(void)
{
    tp_consumer_control_t cc;
    tp_consumer_control_init(&cc);
    CHECK_EQ_U64(cc.settings.mode, TP_CONTROL_MODE_STREAM);
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME + 1, 1, TP_CONTROL_MODE_RATE_LIMITED, "", 0), TP_CC_NOT_OURS); /* scenario 77 */
    CHECK_EQ_I64(on_cfg(&cc, STREAM + 1, ME, 1, TP_CONTROL_MODE_RATE_LIMITED, "", 0), TP_CC_NOT_OURS);
    CHECK_EQ_U64(cc.settings.configs, 0);
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_RATE_LIMITED, "", 0), TP_CC_APPLIED);
    CHECK_EQ_U64(cc.settings.mode, TP_CONTROL_MODE_RATE_LIMITED);
    CHECK_EQ_U64(cc.settings.configs, 1);
    CHECK_EQ_I64(on_resp(&cc, STREAM, ME, TP_CONTROL_RESPONSE_CODE_OK, "max_rate_hz=5"), 1);
    CHECK_EQ_U64(cc.settings.max_rate_hz, 5);
    CHECK_EQ_U64(cc.errors, 0); /* OK is no error */
    /* the same mode again keeps the rate; another mode clears it */
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_RATE_LIMITED, "", 0), TP_CC_APPLIED);
    CHECK_EQ_U64(cc.settings.max_rate_hz, 5);
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_STREAM, "", 0), TP_CC_APPLIED);
    CHECK_EQ_U64(cc.settings.max_rate_hz, 0);
    /* a rate while in STREAM mode is not taken */
    CHECK_EQ_I64(on_resp(&cc, STREAM, ME, TP_CONTROL_RESPONSE_CODE_OK, "max_rate_hz=9"), 1);
    CHECK_EQ_U64(cc.settings.max_rate_hz, 0);
    /* W-15.8.a: unknown mode or Bool value refused */
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, 7, "", 0), TP_CC_REFUSED);
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 5, TP_CONTROL_MODE_STREAM, "", 0), TP_CC_REFUSED);
}

/* W-P3: only exactly "max_rate_hz=R" */
static void test_rate_text(void)
{
    CHECK_EQ_U64(tp_control_response_rate_hz("max_rate_hz=5", 13), 5);
    CHECK_EQ_U64(tp_control_response_rate_hz("max_rate_hz=1000000", 19), 1000000);
    CHECK_EQ_U64(tp_control_response_rate_hz("max_rate_hz=1000001", 19), 0);
    CHECK_EQ_U64(tp_control_response_rate_hz("max_rate_hz=0", 13), 0);
    CHECK_EQ_U64(tp_control_response_rate_hz("max_rate_hz=05", 14), 0);
    CHECK_EQ_U64(tp_control_response_rate_hz("max_rate_hz=5x", 14), 0);
    CHECK_EQ_U64(tp_control_response_rate_hz("max_rate_hz=", 12), 0);
    CHECK_EQ_U64(tp_control_response_rate_hz("rate=5", 6), 0);
    CHECK_EQ_U64(tp_control_response_rate_hz(NULL, 0), 0);
}

/* W-10.1.3.a, scenario 80; W-15.12.a FALLBACK entered and left */
static void test_fallback_uris_and_state(void)
{
    CHECK_EQ_I64(tp_payload_fallback_uri_supported("ftp://h/x", 9), 0);
    CHECK_EQ_I64(tp_payload_fallback_uri_supported("aeron:udp?endpoint=h:4000", 25), 1);
    CHECK_EQ_I64(tp_payload_fallback_uri_supported("bridge://3", 10), 1);
    CHECK_EQ_I64(tp_payload_fallback_uri_supported("bridge://", 9), 0);
    CHECK_EQ_I64(tp_payload_fallback_uri_supported("aeron:ud p", 10), 0);
    CHECK_EQ_I64(tp_payload_fallback_uri_supported("", 0), 0);
    tp_consumer_control_t cc;
    tp_consumer_control_init(&cc);
    /* an unsupported URI is ignored: useShm TRUE is followed, FALSE has nowhere to go */
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_STREAM, "ftp://h/x", 0), TP_CC_APPLIED);
    CHECK_STR(cc.settings.fallback_uri, "");
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 0, TP_CONTROL_MODE_STREAM, "ftp://h/x", 0), TP_CC_REFUSED);
    CHECK_EQ_I64(cc.settings.use_shm, 1);
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 0, TP_CONTROL_MODE_STREAM, "bridge://3", 0), TP_CC_ENTER_FALLBACK);
    CHECK_EQ_I64(cc.settings.use_shm, 0);
    CHECK_STR(cc.settings.fallback_uri, "bridge://3");
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_STREAM, "", 1), TP_CC_LEAVE_FALLBACK);
    CHECK_EQ_I64(cc.settings.use_shm, 1);
    CHECK_STR(cc.settings.fallback_uri, "bridge://3"); /* still known, for a failed mapping (§5.1 step 11) */
}

static int32_t g_code;
static char g_msg[400];
static int g_calls;
static void handler(void *clientd, int32_t code, const char *message)
{
    (void)clientd;
    g_code = code;
    snprintf(g_msg, sizeof g_msg, "%s", message);
    g_calls++;
}

/* W-15.17.a, W-P1: errors reach the application; hostile responses are counted */
static void test_responses(void)
{
    tp_consumer_control_t cc;
    tp_consumer_control_init(&cc);
    cc.handler = handler;
    CHECK_EQ_I64(on_resp(&cc, STREAM, ME + 1, TP_CONTROL_RESPONSE_CODE_REJECTED, "not you"), 0);
    CHECK_EQ_I64(g_calls, 0);
    CHECK_EQ_I64(on_resp(&cc, STREAM, ME, TP_CONTROL_RESPONSE_CODE_REJECTED, "stream allows at most 2 consumers"), 1);
    CHECK_EQ_I64(g_calls, 1);
    CHECK_EQ_I64(g_code, TP_CONTROL_RESPONSE_CODE_REJECTED);
    CHECK_STR(g_msg, "REJECTED: stream allows at most 2 consumers");
    CHECK_STR(cc.last_error, g_msg);
    CHECK_EQ_U64(cc.errors, 1);
    /* our id on another stream: forged or misrouted */
    CHECK_EQ_I64(on_resp(&cc, STREAM + 1, ME, TP_CONTROL_RESPONSE_CODE_INVALID_PARAMS, "x"), -1);
    /* an unknown code (W-15.8.a) */
    CHECK_EQ_I64(on_resp(&cc, STREAM, ME, 99, "x"), -1);
    CHECK_EQ_U64(cc.refused, 2);
    CHECK_EQ_I64(g_calls, 1);
    /* malformed: truncated */
    uint8_t buf[512];
    const long n = tp_control_response_encode(buf, sizeof buf, STREAM, ME, TP_CONTROL_RESPONSE_CODE_OK, "");
    CHECK_EQ_I64(tp_consumer_control_on_response(&cc, buf, (size_t)n - 6, STREAM, ME), -1);
    CHECK_EQ_U64(cc.refused, 3);
    /* control bytes in the message are not passed on */
    CHECK_EQ_I64(on_resp(&cc, STREAM, ME, TP_CONTROL_RESPONSE_CODE_INTERNAL_ERROR, "a\x1b[2Jb"), 1);
    CHECK_STR(cc.last_error, "INTERNAL_ERROR: a?[2Jb");
    /* too short a buffer is an error, not a crash */
    CHECK_EQ_I64(tp_control_response_encode(buf, 8, STREAM, ME, 0, "x"), -1);
    CHECK_EQ_I64(tp_control_response_correlation(STREAM, ME), ((int64_t)STREAM << 32) | ME);
}

/* W-P5: forced settings lapse unless sent again */
static void test_settings_lapse(void)
{
    tp_consumer_control_t cc;
    tp_consumer_control_init(&cc);
    g_now = 1000;
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_STREAM, "", 0), TP_CC_APPLIED);
    CHECK_EQ_I64(cc.lapse_ns, 0); /* the defaults hold without re-sending */
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_RATE_LIMITED, "", 0), TP_CC_APPLIED);
    CHECK_EQ_I64(on_resp(&cc, STREAM, ME, TP_CONTROL_RESPONSE_CODE_OK, "max_rate_hz=5"), 1);
    g_now += TP_CONSUMER_SETTINGS_LAPSE_NS - 1;
    CHECK_EQ_I64(tp_consumer_control_lapse(&cc, g_now), 0);
    CHECK_EQ_U64(cc.settings.mode, TP_CONTROL_MODE_RATE_LIMITED);
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 1, TP_CONTROL_MODE_RATE_LIMITED, "", 0), TP_CC_APPLIED); /* re-sent */
    g_now += TP_CONSUMER_SETTINGS_LAPSE_NS - 1;
    CHECK_EQ_I64(tp_consumer_control_lapse(&cc, g_now), 0);
    CHECK_EQ_U64(cc.settings.max_rate_hz, 5);
    g_now += 1;
    CHECK_EQ_I64(tp_consumer_control_lapse(&cc, g_now), 0); /* lapsed; no fallback to leave */
    CHECK_EQ_U64(cc.settings.mode, TP_CONTROL_MODE_STREAM);
    CHECK_EQ_U64(cc.settings.max_rate_hz, 0);
    CHECK_EQ_I64(on_cfg(&cc, STREAM, ME, 0, TP_CONTROL_MODE_STREAM, "aeron:udp?endpoint=h:4000", 0), TP_CC_ENTER_FALLBACK);
    g_now += TP_CONSUMER_SETTINGS_LAPSE_NS;
    CHECK_EQ_I64(tp_consumer_control_lapse(&cc, g_now), 1); /* leave the forced FALLBACK */
    CHECK_EQ_I64(cc.settings.use_shm, 1);
    CHECK_STR(cc.settings.fallback_uri, "aeron:udp?endpoint=h:4000");
}

int main(void)
{
    RUN(test_settings_lapse);
    RUN(test_rate_limited_config_and_rate);
    RUN(test_rate_text);
    RUN(test_fallback_uris_and_state);
    RUN(test_responses);
    TP_TEST_END();
}
