/* Streaming JSON writer for tools (tp decode, tp inspect, tp stat).
 * Writes compact JSON to a FILE*; commas are placed automatically. Strings are
 * written as UTF-8 so that any byte sequence yields valid JSON: well-formed
 * UTF-8 passes through, control characters and DEL are escaped (\n, \u0001),
 * and each ill-formed sequence (overlong, surrogate, truncated, stray byte)
 * becomes U+FFFD. Conventions of the tools' output: docs/json.md. Not for hot
 * paths. */
#ifndef TENSORPOOL_JSON_WRITER_H
#define TENSORPOOL_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { TP_JSON_MAX_DEPTH = 32 };

typedef struct tp_json_s {
    FILE *out;
    int depth;
    bool after_key;
    bool has_items[TP_JSON_MAX_DEPTH];
} tp_json_t;

TP_INTERNAL void tp_json_init(tp_json_t *j, FILE *out);
TP_INTERNAL void tp_json_begin_object(tp_json_t *j);
TP_INTERNAL void tp_json_end_object(tp_json_t *j);
TP_INTERNAL void tp_json_begin_array(tp_json_t *j);
TP_INTERNAL void tp_json_end_array(tp_json_t *j);
TP_INTERNAL void tp_json_key(tp_json_t *j, const char *key);
TP_INTERNAL void tp_json_u64(tp_json_t *j, uint64_t v);
TP_INTERNAL void tp_json_i64(tp_json_t *j, int64_t v);
/* A 64-bit integer as a JSON string of its decimal digits ("18446744073709551615"):
 * identifiers, positions and nanosecond times a double would round (docs/json.md). */
TP_INTERNAL void tp_json_u64_string(tp_json_t *j, uint64_t v);
TP_INTERNAL void tp_json_i64_string(tp_json_t *j, int64_t v);
TP_INTERNAL void tp_json_double(tp_json_t *j, double v);
TP_INTERNAL void tp_json_bool(tp_json_t *j, bool v);
TP_INTERNAL void tp_json_null(tp_json_t *j);
/* A string of len bytes (not NUL-terminated). */
TP_INTERNAL void tp_json_string(tp_json_t *j, const char *s, size_t len);
TP_INTERNAL void tp_json_cstring(tp_json_t *j, const char *s);
/* Bytes as a lower-case hex string. */
TP_INTERNAL void tp_json_hex(tp_json_t *j, const uint8_t *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
