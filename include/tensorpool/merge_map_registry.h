/* MergeMap registry: the maps an authority owns, keyed by
 * (kind, out_stream_id, epoch) (spec §3.10).
 *
 * Fixed capacity chosen at create; no allocation afterwards. One live epoch
 * per (kind, out stream): storing epoch E drops the other epochs of that
 * output and kind, since an authority announces only its current epoch.
 * Sequence and timestamp maps of one (out, epoch) are separate entries, so a
 * request of one kind is never answered with the other.
 */
#ifndef TENSORPOOL_MERGE_MAP_REGISTRY_H
#define TENSORPOOL_MERGE_MAP_REGISTRY_H

#include "tensorpool/merge_map.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_merge_registry_s tp_merge_registry_t;

/* Room for `max_maps` maps of up to `max_rules` rules each. Returns 0 or -1. */
TP_INTERNAL int tp_merge_registry_create(uint32_t max_maps, uint32_t max_rules, tp_merge_registry_t **out);
TP_INTERNAL void tp_merge_registry_destroy(tp_merge_registry_t *reg);

/* Store a copy of `map`. Refuses an invalid map (spec §3.10; reason in
 * tp_errmsg()), out_stream_id 0, more rules than max_rules, or a new key when
 * full (TP_ERR_CAPACITY). Returns 1 when the content changed (new or
 * different: announce it now), 0 when identical to what was stored, -1 on error. */
TP_INTERNAL int tp_merge_registry_put(tp_merge_registry_t *reg, const tp_merge_map_t *map);

/* Exact-key lookup; NULL when absent. The pointer stays valid until the next
 * put/remove. */
TP_INTERNAL const tp_merge_map_t *tp_merge_registry_get(const tp_merge_registry_t *reg, tp_merge_kind_t kind,
                                                        uint32_t out_stream_id, uint64_t epoch);

/* Remove an entry. Returns 0, or -1 with TP_ERR_NOT_FOUND. */
TP_INTERNAL int tp_merge_registry_remove(tp_merge_registry_t *reg, tp_merge_kind_t kind, uint32_t out_stream_id,
                                         uint64_t epoch);

/* Iteration (e.g. periodic re-announce): entries 0..count-1, in no set order. */
TP_INTERNAL uint32_t tp_merge_registry_count(const tp_merge_registry_t *reg);
TP_INTERNAL const tp_merge_map_t *tp_merge_registry_at(const tp_merge_registry_t *reg, uint32_t i);

#ifdef __cplusplus
}
#endif
#endif
