/* What a consumer takes from its control stream besides announces: the
 * settings part of ConsumerConfig (mode, useShm, payload fallback URI;
 * W-10.1.3.a/f, W-15.12.a) and ControlResponse (W-15.17.a, W-P1..W-P3).
 * Pure: decodes and decides, the consumer acts. Not installed. */
#ifndef TP_CLIENT_CONSUMER_CONTROL_H
#define TP_CLIENT_CONSUMER_CONTROL_H

#include "tensorpool/consumer.h"
#include "tensorpool/control_response.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tp_consumer_control_s {
    tp_consumer_settings_t settings;
    uint64_t responses;      /* accepted ControlResponses, OK included */
    uint64_t errors;         /* accepted ones whose code is not OK */
    int32_t last_code;
    char last_error[TP_CONTROL_RESPONSE_MESSAGE_MAX + 32]; /* "REJECTED: <message>" */
    uint64_t refused;        /* malformed, unknown code, or our consumer id on another stream */
    tp_consumer_response_handler_t handler;
    void *clientd;
    int64_t lapse_ns;        /* W-P5: non-default settings return to STREAM on SHM then, 0 = none held */
} tp_consumer_control_t;

/* W-P5: how long a config's RATE_LIMITED, rate or useShm FALSE is kept
 * without being sent again (the supervisor re-sends every second). */
#define TP_CONSUMER_SETTINGS_LAPSE_NS 3000000000LL

void tp_consumer_control_init(tp_consumer_control_t *cc);

typedef enum tp_consumer_config_action_e {
    TP_CC_NOT_OURS = 0,   /* another stream or consumer: ignore */
    TP_CC_REFUSED,        /* ours, but it cannot be followed: count it */
    TP_CC_APPLIED,        /* settings taken (mode, rate) */
    TP_CC_ENTER_FALLBACK, /* useShm FALSE with a supported fallback URI */
    TP_CC_LEAVE_FALLBACK  /* useShm TRUE while in a forced fallback */
} tp_consumer_config_action_t;

/* The settings part of a ConsumerConfig already decoded and addressed to
 * (stream_id, consumer_id); in_fallback says whether a config put the
 * consumer in FALLBACK. The descriptor assignment is the consumer's part. */
tp_consumer_config_action_t tp_consumer_control_on_config(tp_consumer_control_t *cc, const uint8_t *buf, size_t len,
                                                          uint32_t stream_id, uint32_t consumer_id, int in_fallback,
                                                          int64_t now_ns);

/* W-P5: at now_ns, settings not refreshed for TP_CONSUMER_SETTINGS_LAPSE_NS
 * return to STREAM on SHM. Returns 1 when they did (the consumer leaves a
 * forced FALLBACK), else 0. */
int tp_consumer_control_lapse(tp_consumer_control_t *cc, int64_t now_ns);

/* A ControlResponse: 1 taken (handler called for a non-OK code), 0 not
 * ours, -1 refused (counted). */
int tp_consumer_control_on_response(tp_consumer_control_t *cc, const uint8_t *buf, size_t len, uint32_t stream_id,
                                    uint32_t consumer_id);

#endif
