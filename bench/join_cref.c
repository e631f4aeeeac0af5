/* The C reference's sequence readiness algorithm (see join_cref.h). */
#include "join_cref.h"

static bool cref_stale(const cref_barrier_t *b, const cref_state_t *s, uint64_t now)
{
    if (!b->allow_stale || b->stale_timeout_ns == UINT64_MAX) return false;
    if (s->last_observed_update_ns == 0) return false;
    return now - s->last_observed_update_ns > b->stale_timeout_ns;
}

int cref_ready_sequence(cref_barrier_t *b, uint64_t out_seq, uint64_t now_ns)
{
    if (b == 0 || b->type != 1) return -1;
    if (b->rule_count == 0) return 0;
    for (uint32_t i = 0; i < b->rule_count; i++) {
        const cref_rule_t *r = &b->rules[i];
        const cref_state_t *s = &b->state[i];
        int64_t need;
        if (cref_stale(b, s, now_ns)) continue;
        if (!s->has_observed_seq) return 0;
        if (r->rule_type == 0) {
            need = (int64_t)out_seq + r->offset;
            if (need < 0) return 0;
        } else if (r->rule_type == 1) {
            if (r->window_size == 0 || out_seq + 1 < r->window_size) return 0;
            need = (int64_t)out_seq;
        } else {
            return -1;
        }
        if (s->observed_seq < (uint64_t)need) return 0;
        if (b->require_processed && (!s->has_processed_seq || s->processed_seq < (uint64_t)need)) return 0;
    }
    return 1;
}
