/* JoinBarrierAgent, MergeMap side (docs/spec/join-barrier.md §3.2, §3.10): apply
 * announces for our output to the barrier, bind the active map's rules to the
 * agent's inputs and restart output candidates, and send MergeMapRequests
 * while blocked. */
#include "join_agent_impl.h"

#include "tensorpool/merge_map_codec.h"

#include <errno.h>
#include <signal.h>

/* After REPLACED: bind rules to inputs and restart output candidates; the
 * barrier has reset every input slot, so "seen since apply" restarts too. */
static void on_map_replaced(tp_join_agent_t *a)
{
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    for (uint32_t i = 0; i < a->ninputs; i++) {
        a->inputs[i].needs_slot_ts = 0;
        a->inputs[i].has_seq = 0;
        a->inputs[i].fired = 0;
    }
    a->stats.unbound_rules = 0;
    for (uint32_t r = 0; r < m->rule_count; r++) {
        const tp_merge_rule_t *rule = &m->rules[r];
        a->rule_input[r] = ja_input_find(a, rule->input_stream_id);
        if (a->rule_input[r] == NO_INPUT) a->stats.unbound_rules++; /* visible, not silent */
        if (m->kind == TP_MERGE_KIND_TIMESTAMP && rule->timestamp_source == TP_TS_SOURCE_SLOT_HEADER &&
            a->rule_input[r] != NO_INPUT)
            a->inputs[a->rule_input[r]].needs_slot_ts = 1;
    }
    /* Below the floor a rule is NOT_YET forever (JB-6.2.1.c, JB-6.2.2.c):
     * never start there, or the stage would wait for nothing. */
    a->out_floor = 0;
    if (m->kind == TP_MERGE_KIND_SEQUENCE) {
        for (uint32_t r = 0; r < m->rule_count; r++) {
            const tp_merge_rule_t *rule = &m->rules[r];
            const uint64_t min_out = rule->rule_type == TP_MERGE_RULE_OFFSET
                                         ? (rule->offset < 0 ? (uint64_t)(-rule->offset) : 0)
                                         : rule->window - 1;
            if (min_out > a->out_floor) a->out_floor = min_out;
        }
    }
    /* first_out_seq is where the first map starts. A later map (new offsets,
     * a new epoch after an input epoch change) starts at the newest output
     * every input reaches: the frames before it are mostly overwritten. */
    a->next_out_seq = a->stats.announces_applied > 1 ? TP_JOIN_OUT_AUTO : a->cfg.first_out_seq;
    if (a->next_out_seq != TP_JOIN_OUT_AUTO && a->next_out_seq < a->out_floor) a->next_out_seq = a->out_floor;
    a->tq_head = a->tq_len = 0;
    a->trigger_input = NO_INPUT;
    if (m->kind == TP_MERGE_KIND_TIMESTAMP) {
        const uint32_t want = a->cfg.trigger_stream_id != 0 ? a->cfg.trigger_stream_id : m->rules[0].input_stream_id;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            if (m->rules[r].input_stream_id == want) {
                a->trigger_input = a->rule_input[r];
                a->trigger_source = m->rules[r].timestamp_source;
                break;
            }
        }
    }
    a->cur_request_interval = a->cfg.request_interval_ns;
    a->epoch_blocked = 0;
}

/* The pinned authority's process no longer exists (kill 0: ESRCH). Only on
 * a refused announce, never on the hot path. */
static int pid_gone(int32_t pid) { return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH; }

/* May an announce for our output from this publication change anything?
 * *fresh is set when the pin moves to a new authority (see join_agent.h). */
static int from_authority(tp_join_agent_t *a, const tp_ipc_msg_info_t *info, int *fresh)
{
    *fresh = 0;
    if (info == NULL) return 1; /* no transport identity (fed in-process) */
    /* publisher_pid 0: the transport cannot tell (aeron:), so the pin is by publication alone */
    if (a->cfg.authority_pid > 0 && info->publisher_pid != 0 && info->publisher_pid != a->cfg.authority_pid)
        return 0;
    if (!a->auth_pinned) return 1;
    if (info->publisher_id == a->auth_publisher_id) {
        a->auth_last_ns = a->now;
        return 1;
    }
    if (a->now - a->auth_last_ns > a->cfg.authority_timeout_ns || pid_gone(a->auth_pid)) {
        a->auth_pinned = 0; /* the old authority is gone: the next one starts its own history */
        *fresh = 1;
        return 1;
    }
    return 0;
}

void ja_apply_announce(tp_join_agent_t *a, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_merge_map_t *m = &a->scratch;
    const tp_merge_decode_t d = tp_merge_announce_decode(m, buf, len);
    if (d == TP_MERGE_DECODE_CAPACITY) {
        /* More rules than we can hold: for our stream that is an invalid map
         * (spec §3.2 V1, scenario 51); zero rules makes apply say INVALID. */
        m->rule_count = 0;
    } else if (d != TP_MERGE_DECODE_OK) {
        a->stats.malformed++;
        return;
    }
    int fresh = 0;
    if (m->out_stream_id == a->cfg.barrier.out_stream_id) {
        if (!from_authority(a, info, &fresh)) {
            a->stats.announces_refused++; /* nothing changes, not even the expected epoch */
            return;
        }
        uint64_t want;
        if (fresh && tp_join_barrier_expected_epoch(a->barrier, &want) && m->epoch < want)
            (void)ja_expect_epoch(a, m->epoch);
    }
    const int r = tp_join_barrier_apply(a->barrier, m, (uint64_t)a->now);
    if ((r == TP_JOIN_APPLY_REPLACED || r == TP_JOIN_APPLY_REFRESHED) && info != NULL && !a->auth_pinned) {
        a->auth_pinned = 1;
        a->auth_publisher_id = info->publisher_id;
        a->auth_pid = info->publisher_pid;
        a->auth_last_ns = a->now;
    }
    switch (r) {
    case TP_JOIN_APPLY_REPLACED:
        a->stats.announces_applied++;
        on_map_replaced(a);
        break;
    case TP_JOIN_APPLY_REFRESHED: a->stats.announces_refreshed++; break;
    case TP_JOIN_APPLY_INVALID:
        a->stats.announces_invalid++;
        a->next_request = a->now; /* blocked again: ask at once (JB-6.2.f) */
        break;
    default: a->stats.announces_ignored++; break;
    }
}

void ja_send_request(tp_join_agent_t *a)
{
    uint64_t epoch;
    if (!tp_join_barrier_expected_epoch(a->barrier, &epoch)) return;
    tp_merge_request_t req;
    req.out_stream_id = a->cfg.barrier.out_stream_id;
    req.epoch = epoch;
    switch (a->cfg.barrier.mode) {
    case TP_JOIN_MODE_TIMESTAMP: req.kind = TP_MERGE_KIND_TIMESTAMP; break;
    case TP_JOIN_MODE_LATEST_VALUE:
        req.kind = a->cfg.barrier.latest_ordering == TP_JOIN_ORDER_TIMESTAMP ? TP_MERGE_KIND_TIMESTAMP
                                                                             : TP_MERGE_KIND_SEQUENCE;
        break;
    default: req.kind = TP_MERGE_KIND_SEQUENCE; break;
    }
    uint8_t buf[32];
    const long n = tp_merge_request_encode(&req, buf, sizeof buf);
    if (n > 0 && tp_ipc_publication_offer(a->control_pub, buf, (size_t)n) > 0) {
        a->stats.requests_sent++;
        a->work++;
    }
}

int ja_expect_epoch(tp_join_agent_t *a, uint64_t epoch)
{
    if (tp_join_barrier_set_active_epoch(a->barrier, epoch) != 0) return -1;
    a->next_request = a->now;
    a->cur_request_interval = a->cfg.request_interval_ns;
    return 0;
}

void ja_on_input_epoch_change(tp_join_agent_t *a, const input_t *in)
{
    if (a->cfg.barrier.mode != TP_JOIN_MODE_SEQUENCE || a->cfg.epoch_follow_stream_id == in->stream_id) return;
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    if (m != NULL) { /* an input no rule names does not matter */
        const uint32_t idx = (uint32_t)(in - a->inputs);
        uint32_t r = 0;
        while (r < m->rule_count && a->rule_input[r] != idx) r++;
        if (r == m->rule_count) return;
    }
    uint64_t cur;
    if (!tp_join_barrier_expected_epoch(a->barrier, &cur) || cur == UINT64_MAX) return;
    a->stats.epoch_blocks++;
    a->epoch_blocked = 1;
    a->epoch_block_stream = in->stream_id;
    (void)ja_expect_epoch(a, cur + 1); /* drops the map: nothing is paired until a newer one */
}
