/* A consumer's ConsumerConfig settings and ControlResponse handling
 * (docs/spec/wire.md §5.8, W-10.1.3.a/f, W-15.8.a, W-15.12.a, W-15.17.a,
 * W-P1..W-P3). */
#include "consumer_control.h"

#include "tensorpool/codec/control.h"

#include <stdio.h>
#include <string.h>

void tp_consumer_control_init(tp_consumer_control_t *cc)
{
    memset(cc, 0, sizeof *cc);
    cc->settings.mode = TP_CONTROL_MODE_STREAM;
    cc->settings.use_shm = 1;
}

tp_consumer_config_action_t tp_consumer_control_on_config(tp_consumer_control_t *cc, const uint8_t *buf, size_t len,
                                                          uint32_t stream_id, uint32_t consumer_id, int in_fallback,
                                                          int64_t now_ns)
{
    tp_control_consumer_config_dec_t m;
    /* the raw fixed fields say whom it is for; then the full (validating) decode */
    if (tp_control_consumer_config_view(&m, buf, len) != 0 || tp_control_consumer_config_stream_id(&m) != stream_id ||
        tp_control_consumer_config_consumer_id(&m) != consumer_id)
        return TP_CC_NOT_OURS;
    if (tp_control_consumer_config_decode(&m, buf, len) != 0) return TP_CC_REFUSED; /* W-15.8.a: unknown enum, bad var data */
    const uint8_t mode = tp_control_consumer_config_mode(&m);
    const uint8_t use_shm = tp_control_consumer_config_use_shm(&m);
    if ((mode != TP_CONTROL_MODE_STREAM && mode != TP_CONTROL_MODE_RATE_LIMITED) ||
        (use_shm != TP_CONTROL_BOOL_TRUE && use_shm != TP_CONTROL_BOOL_FALSE))
        return TP_CC_REFUSED;
    uint32_t ulen = 0;
    const char *uri = tp_control_consumer_config_payload_fallback_uri(&m, &ulen);
    const int usable = tp_payload_fallback_uri_supported(uri, ulen); /* W-10.1.3.a: others are ignored */
    if (use_shm == TP_CONTROL_BOOL_FALSE && !usable) return TP_CC_REFUSED; /* nowhere to go: stay on SHM */
    tp_consumer_settings_t *s = &cc->settings;
    s->configs++;
    if (mode != s->mode) s->max_rate_hz = 0; /* a forced rate belongs to the config that forced the mode */
    s->mode = mode;
    if (usable) {
        memcpy(s->fallback_uri, uri, ulen);
        s->fallback_uri[ulen] = '\0';
    }
    s->use_shm = use_shm == TP_CONTROL_BOOL_TRUE;
    /* W-P5: what differs from the defaults holds only while it is re-sent */
    cc->lapse_ns = (s->mode != TP_CONTROL_MODE_STREAM || !s->use_shm) ? now_ns + TP_CONSUMER_SETTINGS_LAPSE_NS : 0;
    if (!s->use_shm) return TP_CC_ENTER_FALLBACK;
    return in_fallback ? TP_CC_LEAVE_FALLBACK : TP_CC_APPLIED;
}

int tp_consumer_control_lapse(tp_consumer_control_t *cc, int64_t now_ns)
{
    if (cc->lapse_ns == 0 || now_ns < cc->lapse_ns) return 0;
    cc->lapse_ns = 0;
    tp_consumer_settings_t *s = &cc->settings;
    const int was_fallback = !s->use_shm;
    s->mode = TP_CONTROL_MODE_STREAM;
    s->max_rate_hz = 0;
    s->use_shm = 1; /* the fallback URI stays known (§5.1 step 11) */
    return was_fallback;
}

int tp_consumer_control_on_response(tp_consumer_control_t *cc, const uint8_t *buf, size_t len, uint32_t stream_id,
                                    uint32_t consumer_id)
{
    tp_control_control_response_dec_t m;
    if (tp_control_control_response_decode(&m, buf, len) != 0) {
        cc->refused++;
        return -1;
    }
    const uint64_t corr = (uint64_t)tp_control_control_response_correlation_id(&m);
    if ((uint32_t)corr != consumer_id) return 0; /* another consumer's answer (W-P1) */
    if ((uint32_t)(corr >> 32) != stream_id) { /* our id on a stream we do not read: forged or misrouted */
        cc->refused++;
        return -1;
    }
    const int32_t code = tp_control_control_response_code(&m);
    if (!tp_control_response_code_is_valid(code)) { /* W-15.8.a */
        cc->refused++;
        return -1;
    }
    uint32_t mlen = 0;
    const char *msg = tp_control_control_response_error_message(&m, &mlen);
    if (mlen >= TP_CONTROL_RESPONSE_MESSAGE_MAX) mlen = TP_CONTROL_RESPONSE_MESSAGE_MAX - 1;
    cc->responses++;
    if (code == TP_CONTROL_RESPONSE_CODE_OK) {
        const uint32_t hz = tp_control_response_rate_hz(msg, mlen); /* W-P3 */
        if (hz != 0 && cc->settings.mode == TP_CONTROL_MODE_RATE_LIMITED) cc->settings.max_rate_hz = hz;
        return 1;
    }
    cc->errors++;
    cc->last_code = code;
    char text[TP_CONTROL_RESPONSE_MESSAGE_MAX];
    size_t k = 0;
    for (uint32_t i = 0; i < mlen; i++) /* printable only: the text reaches logs and terminals */
        text[k++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
    text[k] = '\0';
    snprintf(cc->last_error, sizeof cc->last_error, "%s: %s", tp_control_response_code_name(code), text);
    if (cc->handler != NULL) cc->handler(cc->clientd, code, cc->last_error);
    return 1;
}
