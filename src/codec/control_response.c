/* ControlResponse helpers shared by producers, supervisors and consumers
 * (W-15.17.a, W-P1..W-P3) and the payload fallback URI check (W-10.1.3.a). */
#include "tensorpool/control_response.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/error.h"

#include <string.h>

int64_t tp_control_response_correlation(uint32_t stream_id, uint32_t consumer_id)
{
    return (int64_t)(((uint64_t)stream_id << 32) | consumer_id);
}

long tp_control_response_encode(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t consumer_id, int32_t code,
                                const char *message)
{
    tp_control_control_response_enc_t e;
    if (tp_control_control_response_encode_begin(&e, buf, cap) != 0)
        return tp_err_set(TP_ERR_CAPACITY, "control response: buffer of %zu bytes is too short", cap);
    tp_control_control_response_set_correlation_id(&e, tp_control_response_correlation(stream_id, consumer_id));
    tp_control_control_response_set_code(&e, code);
    const char *m = message != NULL ? message : "";
    tp_control_control_response_put_error_message(&e, m, strnlen(m, TP_CONTROL_RESPONSE_MESSAGE_MAX - 1));
    const long n = tp_control_control_response_encode_end(&e);
    if (n <= 0) return tp_err_set(TP_ERR_CAPACITY, "control response: buffer of %zu bytes is too short", cap);
    return n;
}

long tp_consumer_config_encode(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t consumer_id, int use_shm,
                               uint8_t mode, const char *fallback_uri)
{
    tp_control_consumer_config_enc_t e;
    if (tp_control_consumer_config_encode_begin(&e, buf, cap) != 0)
        return tp_err_set(TP_ERR_CAPACITY, "consumer config: buffer of %zu bytes is too short", cap);
    const char *uri = fallback_uri != NULL ? fallback_uri : "";
    tp_control_consumer_config_set_stream_id(&e, stream_id);
    tp_control_consumer_config_set_consumer_id(&e, consumer_id);
    tp_control_consumer_config_set_use_shm(&e, use_shm ? TP_CONTROL_BOOL_TRUE : TP_CONTROL_BOOL_FALSE);
    tp_control_consumer_config_set_mode(&e, mode);
    tp_control_consumer_config_set_descriptor_stream_id(&e, 0);
    tp_control_consumer_config_set_control_stream_id(&e, 0);
    tp_control_consumer_config_put_payload_fallback_uri(&e, uri, strlen(uri));
    tp_control_consumer_config_put_descriptor_channel(&e, "", 0);
    tp_control_consumer_config_put_control_channel(&e, "", 0);
    const long n = tp_control_consumer_config_encode_end(&e);
    if (n <= 0) return tp_err_set(TP_ERR_CAPACITY, "consumer config: buffer of %zu bytes is too short", cap);
    return n;
}

uint32_t tp_control_response_rate_hz(const char *message, size_t len)
{
    static const char key[] = "max_rate_hz=";
    const size_t k = sizeof key - 1;
    if (message == NULL || len <= k || len > k + 7 || memcmp(message, key, k) != 0) return 0;
    uint32_t r = 0;
    for (size_t i = k; i < len; i++) {
        if (message[i] < '0' || message[i] > '9') return 0;
        r = r * 10 + (uint32_t)(message[i] - '0');
    }
    if (message[k] == '0' || r > 1000000) return 0; /* no leading zeros, no 0 */
    return r;
}

int tp_payload_fallback_uri_supported(const char *uri, size_t len)
{
    if (uri == NULL || len == 0 || len >= TP_FALLBACK_URI_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (uri[i] < 0x21 || uri[i] > 0x7e) return 0;
    static const char *const schemes[] = {"aeron:", "bridge://"};
    for (size_t s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
        const size_t n = strlen(schemes[s]);
        if (len > n && memcmp(uri, schemes[s], n) == 0) return 1;
    }
    return 0;
}
