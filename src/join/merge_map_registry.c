/* Fixed-capacity MergeMap store for authorities (spec §3.10). Maps are few
 * and change at control-plane rate, so lookups scan linearly. */
#include "tensorpool/merge_map_registry.h"

#include "tensorpool/error.h"

#include <stdlib.h>

struct tp_merge_registry_s {
    uint32_t max_maps;
    uint32_t max_rules;
    uint32_t count;
    tp_merge_map_t *maps; /* entries 0..count-1 are live; all initialised */
};

int tp_merge_registry_create(uint32_t max_maps, uint32_t max_rules, tp_merge_registry_t **out)
{
    if (out == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge registry: NULL out");
    *out = NULL;
    if (max_maps == 0 || max_maps > 65536)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge registry: max_maps %u outside 1..65536", max_maps);
    tp_merge_registry_t *reg = calloc(1, sizeof *reg);
    if (reg == NULL) return tp_err_set(TP_ERR_CAPACITY, "merge registry: out of memory");
    reg->max_maps = max_maps;
    reg->max_rules = max_rules;
    reg->maps = calloc(max_maps, sizeof *reg->maps);
    if (reg->maps == NULL) {
        free(reg);
        return tp_err_set(TP_ERR_CAPACITY, "merge registry: out of memory");
    }
    for (uint32_t i = 0; i < max_maps; i++) {
        if (tp_merge_map_init(&reg->maps[i], TP_MERGE_KIND_SEQUENCE, max_rules) != 0) {
            tp_merge_registry_destroy(reg);
            return tp_err_wrap("merge registry");
        }
    }
    *out = reg;
    return 0;
}

void tp_merge_registry_destroy(tp_merge_registry_t *reg)
{
    if (reg == NULL) return;
    for (uint32_t i = 0; i < reg->max_maps; i++) tp_merge_map_close(&reg->maps[i]);
    free(reg->maps);
    free(reg);
}

/* Swap entry i with the last live one and shrink; storage moves, never frees. */
static void remove_at(tp_merge_registry_t *reg, uint32_t i)
{
    tp_merge_map_t tmp = reg->maps[i];
    reg->maps[i] = reg->maps[reg->count - 1];
    reg->maps[reg->count - 1] = tmp;
    reg->count--;
}

int tp_merge_registry_put(tp_merge_registry_t *reg, const tp_merge_map_t *map)
{
    if (reg == NULL || map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge registry: NULL argument");
    if (map->out_stream_id == 0) return tp_err_set(TP_ERR_INVALID_ARG, "merge registry: out_stream_id 0");
    if (tp_merge_map_validate(map, reg->max_rules) != 0) return tp_err_wrap("merge registry: refused");
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < reg->count;) {
        tp_merge_map_t *m = &reg->maps[i];
        if (m->kind == map->kind && m->out_stream_id == map->out_stream_id) {
            if (m->epoch == map->epoch) {
                found = i;
            } else {
                remove_at(reg, i); /* one live epoch per (kind, out) */
                if (found == reg->count) found = i; /* the swap moved it here */
                continue;
            }
        }
        i++;
    }
    if (found != UINT32_MAX) {
        tp_merge_map_t *m = &reg->maps[found];
        if (tp_merge_map_equivalent(m, map) && m->lateness_ns == map->lateness_ns) return 0;
        return tp_merge_map_copy(m, map) == 0 ? 1 : -1;
    }
    if (reg->count == reg->max_maps)
        return tp_err_set(TP_ERR_CAPACITY, "merge registry: full (%u maps)", reg->max_maps);
    tp_merge_map_t *m = &reg->maps[reg->count];
    m->kind = map->kind;
    if (tp_merge_map_copy(m, map) != 0) return -1;
    reg->count++;
    return 1;
}

const tp_merge_map_t *tp_merge_registry_get(const tp_merge_registry_t *reg, tp_merge_kind_t kind,
                                            uint32_t out_stream_id, uint64_t epoch)
{
    if (reg == NULL) return NULL;
    for (uint32_t i = 0; i < reg->count; i++) {
        const tp_merge_map_t *m = &reg->maps[i];
        if (m->kind == kind && m->out_stream_id == out_stream_id && m->epoch == epoch) return m;
    }
    return NULL;
}

int tp_merge_registry_remove(tp_merge_registry_t *reg, tp_merge_kind_t kind, uint32_t out_stream_id,
                             uint64_t epoch)
{
    if (reg == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge registry: NULL registry");
    for (uint32_t i = 0; i < reg->count; i++) {
        const tp_merge_map_t *m = &reg->maps[i];
        if (m->kind == kind && m->out_stream_id == out_stream_id && m->epoch == epoch) {
            remove_at(reg, i);
            return 0;
        }
    }
    return tp_err_set(TP_ERR_NOT_FOUND, "merge registry: no %s map for %u/%llu",
                      kind == TP_MERGE_KIND_SEQUENCE ? "sequence" : "timestamp", out_stream_id,
                      (unsigned long long)epoch);
}

uint32_t tp_merge_registry_count(const tp_merge_registry_t *reg) { return reg == NULL ? 0 : reg->count; }

const tp_merge_map_t *tp_merge_registry_at(const tp_merge_registry_t *reg, uint32_t i)
{
    return reg == NULL || i >= reg->count ? NULL : &reg->maps[i];
}
