/* Schema 903 glue between the generated codec and tp_merge_map_t
 * (docs/spec/join-barrier.md §4.7 decoding, §4.8 encoding). */
#include "tensorpool/merge_map_codec.h"

#include "tensorpool/codec/merge.h"
#include "tensorpool/error.h"

enum {
    SEQ_ENTRY = 13,  /* sequence rule entry size */
    TIME_ENTRY = 22, /* timestamp rule entry size */
    REQUEST_LENGTH = TP_SBE_HEADER_LENGTH + 12
};

int tp_merge_msg_classify(const void *buf, size_t len)
{
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0) return -1;
    if (h.schema_id != TP_MERGE_MAP_SCHEMA_ID) return 0; /* D2 before anything else */
    if (h.template_id < TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE || h.template_id > TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST)
        return 0;
    return h.template_id;
}

/* Map the generated decoder's error code onto the §4.7 outcomes. */
static tp_merge_decode_t decode_failure(void)
{
    switch (tp_errcode()) {
    case TP_ERR_NOT_MINE: return TP_MERGE_DECODE_NOT_MINE;
    case TP_ERR_UNSUPPORTED: return TP_MERGE_DECODE_UNSUPPORTED_VERSION;
    default: return TP_MERGE_DECODE_MALFORMED;
    }
}

static tp_merge_decode_t header_gate(const void *buf, size_t len, int want_a, int want_b, int *template_id)
{
    int t = tp_merge_msg_classify(buf, len);
    if (t < 0) {
        tp_err_set(TP_ERR_MALFORMED, "merge message of %zu bytes is shorter than the 8-byte header", len);
        return TP_MERGE_DECODE_MALFORMED;
    }
    if (t != want_a && t != want_b) {
        tp_err_set(TP_ERR_NOT_MINE, "not a schema-903 message of the expected template");
        return TP_MERGE_DECODE_NOT_MINE;
    }
    *template_id = t;
    return TP_MERGE_DECODE_OK;
}

static tp_merge_decode_t check_capacity(tp_merge_map_t *map, uint16_t count)
{
    if (count > map->rule_capacity) {
        tp_err_set(TP_ERR_CAPACITY, "merge announce %u/%llu: %u rules, capacity %u", map->out_stream_id,
                   (unsigned long long)map->epoch, count, map->rule_capacity);
        return TP_MERGE_DECODE_CAPACITY; /* D9: root fields are set */
    }
    return TP_MERGE_DECODE_OK;
}

static tp_merge_decode_t decode_sequence(tp_merge_map_t *map, const void *buf, size_t len)
{
    tp_merge_sequence_merge_map_announce_dec_t d;
    if (tp_merge_sequence_merge_map_announce_decode(&d, buf, len) != 0) return decode_failure();
    map->kind = TP_MERGE_KIND_SEQUENCE;
    map->out_stream_id = tp_merge_sequence_merge_map_announce_out_stream_id(&d);
    map->epoch = tp_merge_sequence_merge_map_announce_epoch(&d);
    map->stale_timeout_ns = tp_merge_sequence_merge_map_announce_stale_timeout_ns(&d);
    map->lateness_ns = TP_MERGE_NULL_U64;
    map->clock_domain = 0;
    map->rule_count = 0;
    tp_merge_decode_t rc = check_capacity(map, tp_merge_sequence_merge_map_announce_rules_count(&d));
    if (rc != TP_MERGE_DECODE_OK) return rc;
    tp_merge_sequence_merge_map_announce_rules_iter_t it;
    tp_merge_sequence_merge_map_announce_rules_iter(&d, &it);
    int more;
    while ((more = tp_merge_sequence_merge_map_announce_rules_next(&it)) == 1) {
        tp_merge_rule_t *r = &map->rules[map->rule_count++];
        r->input_stream_id = tp_merge_sequence_merge_map_announce_rules_input_stream_id(&it);
        r->rule_type = tp_merge_sequence_merge_map_announce_rules_rule_type(&it);
        r->timestamp_source = TP_TS_SOURCE_NONE;
        r->offset = tp_merge_sequence_merge_map_announce_rules_offset(&it);
        r->window = tp_merge_sequence_merge_map_announce_rules_window_size(&it);
    }
    return more < 0 ? TP_MERGE_DECODE_MALFORMED : TP_MERGE_DECODE_OK;
}

static tp_merge_decode_t decode_timestamp(tp_merge_map_t *map, const void *buf, size_t len)
{
    tp_merge_timestamp_merge_map_announce_dec_t d;
    if (tp_merge_timestamp_merge_map_announce_decode(&d, buf, len) != 0) return decode_failure();
    map->kind = TP_MERGE_KIND_TIMESTAMP;
    map->out_stream_id = tp_merge_timestamp_merge_map_announce_out_stream_id(&d);
    map->epoch = tp_merge_timestamp_merge_map_announce_epoch(&d);
    map->stale_timeout_ns = tp_merge_timestamp_merge_map_announce_stale_timeout_ns(&d);
    map->clock_domain = tp_merge_timestamp_merge_map_announce_clock_domain(&d);
    map->lateness_ns = tp_merge_timestamp_merge_map_announce_lateness_ns(&d);
    map->rule_count = 0;
    tp_merge_decode_t rc = check_capacity(map, tp_merge_timestamp_merge_map_announce_rules_count(&d));
    if (rc != TP_MERGE_DECODE_OK) return rc;
    tp_merge_timestamp_merge_map_announce_rules_iter_t it;
    tp_merge_timestamp_merge_map_announce_rules_iter(&d, &it);
    int more;
    while ((more = tp_merge_timestamp_merge_map_announce_rules_next(&it)) == 1) {
        tp_merge_rule_t *r = &map->rules[map->rule_count++];
        r->input_stream_id = tp_merge_timestamp_merge_map_announce_rules_input_stream_id(&it);
        r->rule_type = tp_merge_timestamp_merge_map_announce_rules_rule_type(&it);
        r->timestamp_source = tp_merge_timestamp_merge_map_announce_rules_timestamp_source(&it);
        r->offset = tp_merge_timestamp_merge_map_announce_rules_offset_ns(&it);
        r->window = tp_merge_timestamp_merge_map_announce_rules_window_ns(&it);
    }
    return more < 0 ? TP_MERGE_DECODE_MALFORMED : TP_MERGE_DECODE_OK;
}

tp_merge_decode_t tp_merge_announce_decode(tp_merge_map_t *map, const void *buf, size_t len)
{
    if (map == NULL || map->rules == NULL) {
        tp_err_set(TP_ERR_INVALID_ARG, "merge announce decode: map not initialised");
        return TP_MERGE_DECODE_MALFORMED;
    }
    int t = 0;
    tp_merge_decode_t rc = header_gate(buf, len, TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE,
                                       TP_MERGE_TEMPLATE_TIMESTAMP_ANNOUNCE, &t);
    if (rc != TP_MERGE_DECODE_OK) return rc;
    return t == TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE ? decode_sequence(map, buf, len)
                                                    : decode_timestamp(map, buf, len);
}

tp_merge_decode_t tp_merge_request_decode(tp_merge_request_t *req, const void *buf, size_t len)
{
    int t = 0;
    if (req == NULL) {
        tp_err_set(TP_ERR_INVALID_ARG, "merge request decode: NULL request");
        return TP_MERGE_DECODE_MALFORMED;
    }
    tp_merge_decode_t rc = header_gate(buf, len, TP_MERGE_TEMPLATE_SEQUENCE_REQUEST,
                                       TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST, &t);
    if (rc != TP_MERGE_DECODE_OK) return rc;
    if (t == TP_MERGE_TEMPLATE_SEQUENCE_REQUEST) {
        tp_merge_sequence_merge_map_request_dec_t d;
        if (tp_merge_sequence_merge_map_request_decode(&d, buf, len) != 0) return decode_failure();
        req->kind = TP_MERGE_KIND_SEQUENCE;
        req->out_stream_id = tp_merge_sequence_merge_map_request_out_stream_id(&d);
        req->epoch = tp_merge_sequence_merge_map_request_epoch(&d);
    } else {
        tp_merge_timestamp_merge_map_request_dec_t d;
        if (tp_merge_timestamp_merge_map_request_decode(&d, buf, len) != 0) return decode_failure();
        req->kind = TP_MERGE_KIND_TIMESTAMP;
        req->out_stream_id = tp_merge_timestamp_merge_map_request_out_stream_id(&d);
        req->epoch = tp_merge_timestamp_merge_map_request_epoch(&d);
    }
    return TP_MERGE_DECODE_OK;
}

size_t tp_merge_announce_length(const tp_merge_map_t *map)
{
    if (map->kind == TP_MERGE_KIND_SEQUENCE)
        return TP_SBE_HEADER_LENGTH + TP_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_BLOCK_LENGTH + TP_SBE_GROUP_HEADER_LENGTH +
               (size_t)map->rule_count * SEQ_ENTRY;
    return TP_SBE_HEADER_LENGTH + TP_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_BLOCK_LENGTH + TP_SBE_GROUP_HEADER_LENGTH +
           (size_t)map->rule_count * TIME_ENTRY;
}

static long encode_sequence(const tp_merge_map_t *map, void *buf, size_t cap)
{
    tp_merge_sequence_merge_map_announce_enc_t e;
    if (tp_merge_sequence_merge_map_announce_encode_begin(&e, buf, cap) != 0) return -1;
    tp_merge_sequence_merge_map_announce_set_out_stream_id(&e, map->out_stream_id);
    tp_merge_sequence_merge_map_announce_set_epoch(&e, map->epoch);
    tp_merge_sequence_merge_map_announce_set_stale_timeout_ns(&e, map->stale_timeout_ns);
    tp_merge_sequence_merge_map_announce_rules_encode_begin(&e, (uint16_t)map->rule_count);
    for (uint32_t i = 0; i < map->rule_count; i++) {
        const tp_merge_rule_t *r = &map->rules[i];
        tp_merge_sequence_merge_map_announce_rules_encode_next(&e);
        tp_merge_sequence_merge_map_announce_rules_set_input_stream_id(&e, r->input_stream_id);
        tp_merge_sequence_merge_map_announce_rules_set_rule_type(&e, r->rule_type);
        /* validated: offset fits int32 and window fits uint32, nulls included */
        tp_merge_sequence_merge_map_announce_rules_set_offset(&e, (int32_t)r->offset);
        tp_merge_sequence_merge_map_announce_rules_set_window_size(&e, (uint32_t)r->window);
    }
    return tp_merge_sequence_merge_map_announce_encode_end(&e);
}

static long encode_timestamp(const tp_merge_map_t *map, void *buf, size_t cap)
{
    tp_merge_timestamp_merge_map_announce_enc_t e;
    if (tp_merge_timestamp_merge_map_announce_encode_begin(&e, buf, cap) != 0) return -1;
    tp_merge_timestamp_merge_map_announce_set_out_stream_id(&e, map->out_stream_id);
    tp_merge_timestamp_merge_map_announce_set_epoch(&e, map->epoch);
    tp_merge_timestamp_merge_map_announce_set_stale_timeout_ns(&e, map->stale_timeout_ns);
    tp_merge_timestamp_merge_map_announce_set_clock_domain(&e, map->clock_domain);
    tp_merge_timestamp_merge_map_announce_set_lateness_ns(&e, map->lateness_ns);
    tp_merge_timestamp_merge_map_announce_rules_encode_begin(&e, (uint16_t)map->rule_count);
    for (uint32_t i = 0; i < map->rule_count; i++) {
        const tp_merge_rule_t *r = &map->rules[i];
        tp_merge_timestamp_merge_map_announce_rules_encode_next(&e);
        tp_merge_timestamp_merge_map_announce_rules_set_input_stream_id(&e, r->input_stream_id);
        tp_merge_timestamp_merge_map_announce_rules_set_rule_type(&e, r->rule_type);
        tp_merge_timestamp_merge_map_announce_rules_set_timestamp_source(&e, r->timestamp_source);
        tp_merge_timestamp_merge_map_announce_rules_set_offset_ns(&e, r->offset);
        tp_merge_timestamp_merge_map_announce_rules_set_window_ns(&e, r->window);
    }
    return tp_merge_timestamp_merge_map_announce_encode_end(&e);
}

long tp_merge_announce_encode(const tp_merge_map_t *map, uint32_t max_rules, void *buf, size_t cap)
{
    if (map == NULL || buf == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge announce encode: NULL argument");
    if (tp_merge_map_validate(map, max_rules) != 0) return tp_err_wrap("merge announce encode: refused"); /* E3, E4 */
    size_t need = tp_merge_announce_length(map);
    if (cap < need) /* E5: the whole message, group included */
        return tp_err_set(TP_ERR_CAPACITY, "merge announce encode: needs %zu bytes, buffer has %zu", need, cap);
    long n = map->kind == TP_MERGE_KIND_SEQUENCE ? encode_sequence(map, buf, cap) : encode_timestamp(map, buf, cap);
    return n < 0 ? tp_err_wrap("merge announce encode") : n;
}

long tp_merge_request_encode(const tp_merge_request_t *req, void *buf, size_t cap)
{
    if (req == NULL || buf == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge request encode: NULL argument");
    if (cap < REQUEST_LENGTH)
        return tp_err_set(TP_ERR_CAPACITY, "merge request encode: needs %d bytes, buffer has %zu", REQUEST_LENGTH, cap);
    if (req->kind == TP_MERGE_KIND_SEQUENCE) {
        tp_merge_sequence_merge_map_request_enc_t e;
        if (tp_merge_sequence_merge_map_request_encode_begin(&e, buf, cap) != 0) return -1;
        tp_merge_sequence_merge_map_request_set_out_stream_id(&e, req->out_stream_id);
        tp_merge_sequence_merge_map_request_set_epoch(&e, req->epoch);
        return tp_merge_sequence_merge_map_request_encode_end(&e);
    }
    if (req->kind == TP_MERGE_KIND_TIMESTAMP) {
        tp_merge_timestamp_merge_map_request_enc_t e;
        if (tp_merge_timestamp_merge_map_request_encode_begin(&e, buf, cap) != 0) return -1;
        tp_merge_timestamp_merge_map_request_set_out_stream_id(&e, req->out_stream_id);
        tp_merge_timestamp_merge_map_request_set_epoch(&e, req->epoch);
        return tp_merge_timestamp_merge_map_request_encode_end(&e);
    }
    return tp_err_set(TP_ERR_INVALID_ARG, "merge request encode: unknown kind %d", (int)req->kind);
}

const char *tp_merge_decode_name(tp_merge_decode_t outcome)
{
    switch (outcome) {
    case TP_MERGE_DECODE_OK: return "OK";
    case TP_MERGE_DECODE_NOT_MINE: return "NOT_MINE";
    case TP_MERGE_DECODE_MALFORMED: return "MALFORMED";
    case TP_MERGE_DECODE_UNSUPPORTED_VERSION: return "UNSUPPORTED_VERSION";
    case TP_MERGE_DECODE_CAPACITY: return "CAPACITY";
    }
    return "UNKNOWN";
}
