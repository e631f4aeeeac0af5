/* MergeMap construction and validation (docs/spec/join-barrier.md §3.2). */
#include "tensorpool/merge_map.h"

#include "tensorpool/error.h"

#include <stdlib.h>
#include <string.h>

/* The wire's group count is a u16. */
#define TP_MERGE_MAX_RULES 65535u

static const char *kind_name(tp_merge_kind_t kind)
{
    return kind == TP_MERGE_KIND_SEQUENCE ? "sequence" : "timestamp";
}

static int kind_ok(tp_merge_kind_t kind)
{
    return kind == TP_MERGE_KIND_SEQUENCE || kind == TP_MERGE_KIND_TIMESTAMP;
}

int tp_merge_map_init(tp_merge_map_t *map, tp_merge_kind_t kind, uint32_t rule_capacity)
{
    if (map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: NULL map");
    memset(map, 0, sizeof *map);
    if (!kind_ok(kind)) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: unknown kind %d", (int)kind);
    if (rule_capacity == 0 || rule_capacity > TP_MERGE_MAX_RULES)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map: rule capacity %u outside 1..%u",
                          rule_capacity, TP_MERGE_MAX_RULES);
    map->rules = calloc(rule_capacity, sizeof *map->rules);
    if (map->rules == NULL) return tp_err_set(TP_ERR_CAPACITY, "merge map: out of memory for %u rules", rule_capacity);
    map->kind = kind;
    map->rule_capacity = rule_capacity;
    map->stale_timeout_ns = TP_MERGE_NULL_U64;
    map->lateness_ns = TP_MERGE_NULL_U64;
    map->clock_domain = kind == TP_MERGE_KIND_TIMESTAMP ? TP_CLOCK_MONOTONIC : 0;
    return 0;
}

void tp_merge_map_close(tp_merge_map_t *map)
{
    if (map == NULL) return;
    free(map->rules);
    memset(map, 0, sizeof *map);
}

int tp_merge_map_reset(tp_merge_map_t *map, uint32_t out_stream_id, uint64_t epoch)
{
    if (map == NULL || map->rules == NULL)
        return tp_err_set(TP_ERR_STATE, "merge map: not initialised");
    if (out_stream_id == 0) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: out_stream_id must be non-zero");
    map->out_stream_id = out_stream_id;
    map->epoch = epoch;
    map->stale_timeout_ns = TP_MERGE_NULL_U64;
    map->lateness_ns = TP_MERGE_NULL_U64;
    map->clock_domain = map->kind == TP_MERGE_KIND_TIMESTAMP ? TP_CLOCK_MONOTONIC : 0;
    map->rule_count = 0;
    return 0;
}

int tp_merge_map_copy(tp_merge_map_t *dst, const tp_merge_map_t *src)
{
    if (dst == NULL || src == NULL || dst->rules == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map copy: NULL or uninitialised map");
    if (dst->kind != src->kind)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map copy: kind %s into %s",
                          kind_name(src->kind), kind_name(dst->kind));
    if (src->rule_count > dst->rule_capacity)
        return tp_err_set(TP_ERR_CAPACITY, "merge map copy: %u rules, capacity %u",
                          src->rule_count, dst->rule_capacity);
    tp_merge_rule_t *rules = dst->rules;
    uint32_t cap = dst->rule_capacity;
    *dst = *src;
    dst->rules = rules;
    dst->rule_capacity = cap;
    if (src->rule_count > 0) memcpy(rules, src->rules, src->rule_count * sizeof *rules);
    return 0;
}

int tp_merge_map_set_stale_timeout(tp_merge_map_t *map, uint64_t timeout_ns)
{
    if (map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: NULL map");
    if (timeout_ns == 0 || timeout_ns == TP_MERGE_NULL_U64)
        return tp_err_set(TP_ERR_INVALID_ARG,
                          "merge map: stale timeout %llu is not sensible (use 1..2^64-2 ns, or clear it)",
                          (unsigned long long)timeout_ns);
    map->stale_timeout_ns = timeout_ns;
    return 0;
}

void tp_merge_map_clear_stale_timeout(tp_merge_map_t *map)
{
    if (map != NULL) map->stale_timeout_ns = TP_MERGE_NULL_U64;
}

int tp_merge_map_set_clock(tp_merge_map_t *map, tp_clock_domain_t domain, uint64_t lateness_ns)
{
    if (map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: NULL map");
    if (map->kind != TP_MERGE_KIND_TIMESTAMP)
        return tp_err_set(TP_ERR_STATE, "merge map: clock domain and lateness belong to timestamp maps");
    if (domain != TP_CLOCK_MONOTONIC && domain != TP_CLOCK_REALTIME_SYNCED)
        return tp_err_set(TP_ERR_INVALID_ENUM, "merge map: clock domain %d is neither MONOTONIC(1) nor REALTIME_SYNCED(2)",
                          (int)domain);
    map->clock_domain = (uint8_t)domain;
    map->lateness_ns = lateness_ns;
    return 0;
}

static int push(tp_merge_map_t *map, const tp_merge_rule_t *rule)
{
    if (map->rules == NULL) return tp_err_set(TP_ERR_STATE, "merge map: not initialised");
    if (map->rule_count >= map->rule_capacity)
        return tp_err_set(TP_ERR_CAPACITY, "merge map: rule capacity %u reached", map->rule_capacity);
    map->rules[map->rule_count++] = *rule;
    return 0;
}

static int add_checked(tp_merge_map_t *map, tp_merge_kind_t kind, const tp_merge_rule_t *rule)
{
    if (map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: NULL map");
    if (map->kind != kind)
        return tp_err_set(TP_ERR_STATE, "merge map: %s rule added to a %s map", kind_name(kind), kind_name(map->kind));
    if (rule->input_stream_id == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map: input_stream_id must be non-zero");
    return push(map, rule);
}

int tp_merge_map_add_offset(tp_merge_map_t *map, uint32_t input_stream_id, int32_t offset)
{
    if (offset == TP_MERGE_NULL_OFFSET)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map: offset INT32_MIN is the null sentinel");
    tp_merge_rule_t r = {input_stream_id, TP_MERGE_RULE_OFFSET, TP_TS_SOURCE_NONE, offset, TP_MERGE_NULL_U32};
    return add_checked(map, TP_MERGE_KIND_SEQUENCE, &r);
}

int tp_merge_map_add_window(tp_merge_map_t *map, uint32_t input_stream_id, uint32_t window_size)
{
    if (window_size == 0 || window_size == TP_MERGE_NULL_U32)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map: window size %u outside 1..2^32-2", window_size);
    tp_merge_rule_t r = {input_stream_id, TP_MERGE_RULE_WINDOW, TP_TS_SOURCE_NONE, TP_MERGE_NULL_OFFSET, window_size};
    return add_checked(map, TP_MERGE_KIND_SEQUENCE, &r);
}

static int source_ok(tp_timestamp_source_t source)
{
    return source == TP_TS_SOURCE_FRAME_DESCRIPTOR || source == TP_TS_SOURCE_SLOT_HEADER;
}

int tp_merge_map_add_offset_ns(tp_merge_map_t *map, uint32_t input_stream_id,
                               tp_timestamp_source_t source, int64_t offset_ns)
{
    if (offset_ns == TP_MERGE_NULL_OFFSET_NS)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map: offsetNs INT64_MIN is the null sentinel");
    if (!source_ok(source))
        return tp_err_set(TP_ERR_INVALID_ENUM, "merge map: timestamp source %d is neither FRAME_DESCRIPTOR(1) nor SLOT_HEADER(2)",
                          (int)source);
    tp_merge_rule_t r = {input_stream_id, TP_MERGE_RULE_OFFSET, (uint8_t)source, offset_ns, TP_MERGE_NULL_U64};
    return add_checked(map, TP_MERGE_KIND_TIMESTAMP, &r);
}

int tp_merge_map_add_window_ns(tp_merge_map_t *map, uint32_t input_stream_id,
                               tp_timestamp_source_t source, uint64_t window_ns)
{
    if (window_ns == 0 || window_ns == TP_MERGE_NULL_U64)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map: windowNs %llu outside 1..2^64-2",
                          (unsigned long long)window_ns);
    if (!source_ok(source))
        return tp_err_set(TP_ERR_INVALID_ENUM, "merge map: timestamp source %d is neither FRAME_DESCRIPTOR(1) nor SLOT_HEADER(2)",
                          (int)source);
    tp_merge_rule_t r = {input_stream_id, TP_MERGE_RULE_WINDOW, (uint8_t)source, TP_MERGE_NULL_OFFSET_NS, window_ns};
    return add_checked(map, TP_MERGE_KIND_TIMESTAMP, &r);
}

int tp_merge_map_add_raw(tp_merge_map_t *map, const tp_merge_rule_t *rule)
{
    if (map == NULL || rule == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: NULL argument");
    return push(map, rule);
}

/* V2 (JB-6.2.c-e, JB-6.2.2.b). */
static int validate_seq_rule(const tp_merge_rule_t *r, uint32_t i)
{
    int has_offset = r->offset != TP_MERGE_NULL_OFFSET;
    int has_window = r->window != TP_MERGE_NULL_U32;
    if (r->offset < INT32_MIN || r->offset > INT32_MAX)
        return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: offset %lld does not fit int32 (JB-6.2.1.b)", i,
                          (long long)r->offset);
    if (r->window > TP_MERGE_NULL_U32)
        return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: windowSize %llu does not fit uint32", i,
                          (unsigned long long)r->window);
    switch (r->rule_type) {
    case TP_MERGE_RULE_OFFSET:
        if (!has_offset) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: OFFSET without offset (JB-6.2.d)", i);
        if (has_window) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: OFFSET with windowSize set (JB-6.2.d)", i);
        return 0;
    case TP_MERGE_RULE_WINDOW:
        if (!has_window) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: WINDOW without windowSize (JB-6.2.e)", i);
        if (has_offset) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: WINDOW with offset set (JB-6.2.e)", i);
        if (r->window == 0) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: WINDOW size 0 (JB-6.2.2.b)", i);
        return 0;
    default:
        return tp_err_set(TP_ERR_INVALID_ENUM, "rule %u: ruleType %u is neither OFFSET(0) nor WINDOW(1)", i,
                          r->rule_type);
    }
}

/* V3 (JB-6.3.c-e, JB-6.3.2.b, JB-8.2.a). */
static int validate_time_rule(const tp_merge_rule_t *r, uint32_t i)
{
    int has_offset = r->offset != TP_MERGE_NULL_OFFSET_NS;
    int has_window = r->window != TP_MERGE_NULL_U64;
    if (r->rule_type != TP_MERGE_RULE_OFFSET && r->rule_type != TP_MERGE_RULE_WINDOW)
        return tp_err_set(TP_ERR_INVALID_ENUM, "rule %u: ruleType %u is neither OFFSET_NS(0) nor WINDOW_NS(1)", i,
                          r->rule_type);
    if (!source_ok((tp_timestamp_source_t)r->timestamp_source))
        return tp_err_set(TP_ERR_INVALID_ENUM,
                          "rule %u: timestampSource %u is neither FRAME_DESCRIPTOR(1) nor SLOT_HEADER(2) (JB-8.2.a)", i,
                          r->timestamp_source);
    if (r->rule_type == TP_MERGE_RULE_OFFSET) {
        if (!has_offset) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: OFFSET_NS without offsetNs (JB-6.3.d)", i);
        if (has_window) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: OFFSET_NS with windowNs set (JB-6.3.d)", i);
        return 0;
    }
    if (!has_window) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: WINDOW_NS without windowNs (JB-6.3.e)", i);
    if (has_offset) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: WINDOW_NS with offsetNs set (JB-6.3.e)", i);
    if (r->window == 0) return tp_err_set(TP_ERR_INVALID_ARG, "rule %u: WINDOW_NS width 0 (JB-6.3.2.b)", i);
    return 0;
}

int tp_merge_map_validate(const tp_merge_map_t *map, uint32_t capacity)
{
    if (map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: NULL map");
    if (!kind_ok(map->kind)) return tp_err_set(TP_ERR_INVALID_ARG, "merge map: unknown kind %d", (int)map->kind);
    uint32_t limit = capacity == 0 || capacity > TP_MERGE_MAX_RULES ? TP_MERGE_MAX_RULES : capacity;
    if (map->rule_count == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge map %u/%llu: no rules (JB-6.2.a)", map->out_stream_id,
                          (unsigned long long)map->epoch);
    if (map->rule_count > limit)
        return tp_err_set(TP_ERR_CAPACITY, "merge map %u/%llu: %u rules, capacity %u", map->out_stream_id,
                          (unsigned long long)map->epoch, map->rule_count, limit);
    if (map->kind == TP_MERGE_KIND_TIMESTAMP && map->clock_domain != TP_CLOCK_MONOTONIC &&
        map->clock_domain != TP_CLOCK_REALTIME_SYNCED)
        return tp_err_set(TP_ERR_INVALID_ENUM,
                          "merge map %u/%llu: clockDomain %u is neither MONOTONIC(1) nor REALTIME_SYNCED(2) (JB-6.3.b)",
                          map->out_stream_id, (unsigned long long)map->epoch, map->clock_domain);
    for (uint32_t i = 0; i < map->rule_count; i++) {
        int rc = map->kind == TP_MERGE_KIND_SEQUENCE ? validate_seq_rule(&map->rules[i], i)
                                                     : validate_time_rule(&map->rules[i], i);
        if (rc != 0)
            return tp_err_wrap("merge map %u/%llu", map->out_stream_id, (unsigned long long)map->epoch);
    }
    return 0;
}

int tp_merge_map_equivalent(const tp_merge_map_t *a, const tp_merge_map_t *b)
{
    if (a->kind != b->kind || a->out_stream_id != b->out_stream_id || a->epoch != b->epoch ||
        a->stale_timeout_ns != b->stale_timeout_ns || a->rule_count != b->rule_count)
        return 0;
    if (a->kind == TP_MERGE_KIND_TIMESTAMP &&
        (a->clock_domain != b->clock_domain ||
         tp_merge_map_effective_lateness(a) != tp_merge_map_effective_lateness(b)))
        return 0;
    for (uint32_t i = 0; i < a->rule_count; i++) {
        const tp_merge_rule_t *x = &a->rules[i], *y = &b->rules[i];
        if (x->input_stream_id != y->input_stream_id || x->rule_type != y->rule_type ||
            x->timestamp_source != y->timestamp_source || x->offset != y->offset || x->window != y->window)
            return 0;
    }
    return 1;
}
