/* ControlResponse (schema 900 template 9) and the other answers a consumer
 * gets on the control stream from producers and supervisors (W-15.17.a,
 * docs/spec/wire.md §5.8 and "Project rules: ControlResponse and the
 * supervisor", W-P1..W-P4).
 *
 * ControlResponse carries only a correlation id, a code and a message, so
 * tensorpool fixes what the correlation id names when the answer concerns a
 * consumer: (stream_id << 32) | consumer_id (W-P1). A consumer takes a
 * response only when both halves are its own.
 */
#ifndef TENSORPOOL_CONTROL_RESPONSE_H
#define TENSORPOOL_CONTROL_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest errorMessage kept by a receiver (longer ones are cut, not refused). */
#define TP_CONTROL_RESPONSE_MESSAGE_MAX 256
/* Longest payload_fallback_uri kept by a consumer. */
#define TP_FALLBACK_URI_MAX 256

/* W-P1: the correlation id of a response about (stream_id, consumer_id). */
TP_API int64_t tp_control_response_correlation(uint32_t stream_id, uint32_t consumer_id);

/* Encode a ControlResponse about (stream_id, consumer_id) with code
 * (tp_control_response_code_t) and message (NUL-terminated, may be NULL).
 * Returns the encoded length, or -1 (TP_ERR_CAPACITY) when cap is short. */
TP_API long tp_control_response_encode(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t consumer_id, int32_t code,
                                       const char *message);

/* A ConsumerConfig about (stream_id, consumer_id) that assigns no stream
 * (empty channels, ids 0) and sets use_shm (1/0), mode (TP_CONTROL_MODE_*)
 * and the payload fallback URI (NULL or "" for none): what a supervisor
 * sends (W-P4, W-10.1.3.f). Returns the encoded length, or -1. */
TP_API long tp_consumer_config_encode(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t consumer_id, int use_shm,
                                      uint8_t mode, const char *fallback_uri);

/* W-P3: the message of an OK response carrying a forced rate,
 * "max_rate_hz=<R>", R in 1..1000000. Returns R, or 0 when the text is not
 * exactly that form. */
TP_API uint32_t tp_control_response_rate_hz(const char *message, size_t len);

/* W-10.1.3.a: 1 when a payload_fallback_uri names a transport a consumer may
 * use (begins with "aeron:" or "bridge://" and has more after it, printable
 * ASCII only), 0 otherwise (unsupported: ignored). */
TP_API int tp_payload_fallback_uri_supported(const char *uri, size_t len);

#ifdef __cplusplus
}
#endif
#endif
