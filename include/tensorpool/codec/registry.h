/* The schemas this build speaks, for tools that take any message: look up a
 * message by (schema id, template id) and print or re-encode it generically. */
#ifndef TENSORPOOL_CODEC_REGISTRY_H
#define TENSORPOOL_CODEC_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/codec/sbe.h"
#include "tensorpool/json_writer.h"

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_codec_message_s {
    uint16_t template_id;
    const char *name;
    const tp_sbe_layout_t *layout;
    bool headerless;  /* also stored without a message header (SHM structures) */
    int (*print_json)(const void *buf, size_t len, bool headerless, tp_json_t *j, size_t *consumed);
    long (*reencode)(const void *buf, size_t len, bool headerless, void *out, size_t cap);
} tp_codec_message_t;

typedef struct tp_codec_schema_s {
    uint16_t id;
    uint16_t version;
    const char *name;
    const tp_codec_message_t *messages;
    size_t count;
} tp_codec_schema_t;

/* Every schema of this build (900 control, 901 driver, 902 bridge, 903 merge, 904 tracelink, 910 discovery). */
TP_INTERNAL const tp_codec_schema_t *const *tp_codec_schemas(size_t *count);

/* The message (schema_id, template_id), or NULL with TP_ERR_NOT_MINE set. */
TP_INTERNAL const tp_codec_message_t *tp_codec_find(uint16_t schema_id, uint16_t template_id);

/* A message by name ("SlotHeader"), or NULL with TP_ERR_NOT_FOUND set. */
TP_INTERNAL const tp_codec_message_t *tp_codec_find_by_name(const char *name);

/* Print the message at buf (header first) as one JSON object; *consumed is its
 * length. -1 with the reason (unknown schema/template, truncated, ...). */
TP_INTERNAL int tp_codec_print_json(const void *buf, size_t len, tp_json_t *j, size_t *consumed);

/* Helpers for the generated printers. */
TP_INTERNAL void tp_codec_json_message_begin(tp_json_t *j, const tp_sbe_layout_t *layout, const tp_sbe_dec_t *d,
                                             bool headerless);
TP_INTERNAL void tp_codec_json_message_end(tp_json_t *j);
/* An enum value: its name, null for the null sentinel, else the raw number. */
TP_INTERNAL void tp_codec_json_enum(tp_json_t *j, const char *name, int64_t value, int64_t null_value);
/* Var data that holds a whole message: its decoded JSON, or an object with
 * "error" when it does not decode. */
TP_INTERNAL void tp_codec_json_embedded(tp_json_t *j, const uint8_t *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
