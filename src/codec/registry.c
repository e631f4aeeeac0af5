#include "tensorpool/codec/registry.h"

#include "tensorpool/codec/bridge.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/discovery.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/codec/merge.h"
#include "tensorpool/codec/tracelink.h"

#include <string.h>

static const tp_codec_schema_t *const schemas[] = {&tp_control_schema, &tp_driver_schema, &tp_bridge_schema,
                                                     &tp_merge_schema, &tp_tracelink_schema, &tp_discovery_schema};

const tp_codec_schema_t *const *tp_codec_schemas(size_t *count)
{
    *count = sizeof schemas / sizeof schemas[0];
    return schemas;
}

const tp_codec_message_t *tp_codec_find(uint16_t schema_id, uint16_t template_id)
{
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
        const tp_codec_schema_t *s = schemas[i];
        if (s->id != schema_id)
            continue;
        for (size_t k = 0; k < s->count; k++)
            if (s->messages[k].template_id == template_id)
                return &s->messages[k];
        tp_err_set(TP_ERR_NOT_MINE, "unknown template id %u in schema %u (%s)", template_id, schema_id, s->name);
        return NULL;
    }
    tp_err_set(TP_ERR_NOT_MINE, "unknown schema id %u (this build speaks 900, 901, 902, 903, 904 and 910)", schema_id);
    return NULL;
}

const tp_codec_message_t *tp_codec_find_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
        for (size_t k = 0; k < schemas[i]->count; k++)
            if (strcmp(schemas[i]->messages[k].name, name) == 0)
                return &schemas[i]->messages[k];
    tp_err_set(TP_ERR_NOT_FOUND, "no message named '%s'", name);
    return NULL;
}

int tp_codec_print_json(const void *buf, size_t len, tp_json_t *j, size_t *consumed)
{
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) < 0)
        return -1;
    const tp_codec_message_t *m = tp_codec_find(h.schema_id, h.template_id);
    if (m == NULL)
        return -1;
    return m->print_json(buf, len, false, j, consumed);
}

void tp_codec_json_message_begin(tp_json_t *j, const tp_sbe_layout_t *L, const tp_sbe_dec_t *d, bool headerless)
{
    tp_json_begin_object(j);
    tp_json_key(j, "schema_id");
    tp_json_u64(j, L->schema_id);
    tp_json_key(j, "template_id");
    tp_json_u64(j, L->template_id);
    tp_json_key(j, "message");
    tp_json_cstring(j, L->name);
    tp_json_key(j, "headerless");
    tp_json_bool(j, headerless);
    tp_json_key(j, "message_header");
    if (headerless) {
        tp_json_null(j);
    } else {
        tp_json_begin_object(j);
        tp_json_key(j, "block_length");
        tp_json_u64(j, d->block_length);
        tp_json_key(j, "template_id");
        tp_json_u64(j, L->template_id);
        tp_json_key(j, "schema_id");
        tp_json_u64(j, L->schema_id);
        tp_json_key(j, "version");
        tp_json_u64(j, d->version);
        tp_json_end_object(j);
    }
    tp_json_key(j, "length");
    tp_json_u64(j, d->end);
    tp_json_key(j, "fields");
    tp_json_begin_object(j);
}

void tp_codec_json_message_end(tp_json_t *j)
{
    tp_json_end_object(j); /* fields */
    tp_json_end_object(j); /* message */
}

void tp_codec_json_enum(tp_json_t *j, const char *name, int64_t value, int64_t null_value)
{
    if (name != NULL)
        tp_json_cstring(j, name);
    else if (value == null_value)
        tp_json_null(j);
    else
        tp_json_i64(j, value);
}

void tp_codec_json_embedded(tp_json_t *j, const uint8_t *p, size_t len)
{
    size_t consumed = 0;
    /* The printer writes nothing before it has validated the whole message,
     * so on failure the JSON stays well formed. */
    if (tp_codec_print_json(p, len, j, &consumed) == 0)
        return;
    tp_json_begin_object(j);
    tp_json_key(j, "error");
    tp_json_cstring(j, tp_errmsg());
    tp_json_end_object(j);
}
