/* JoinBarrierAgent, outputs (docs/spec/join-barrier.md §3.3-§3.5, §3.8): derive
 * the output candidates of the active map, ask the barrier whether the next
 * one is ready, select each rule's frames, read each frame once, call the
 * stage and report processed cursors back to the barrier. */
#include "join_agent_impl.h"
#include "join_barrier_impl.h"

#include "tensorpool/shm_reader.h"
#include "tensorpool/shm_seqlock.h"

#include <string.h>

static int id_listed(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

/* The input bound to rule r of the active map, NULL if the rule names no input. */
static input_t *rule_in(tp_join_agent_t *a, uint32_t r)
{
    return a->rule_input[r] != NO_INPUT ? &a->inputs[a->rule_input[r]] : NULL;
}

/* Rule r's frame slots for the current output (max_frames of them). */
static tp_join_frame_t *rule_frames(const tp_join_agent_t *a, uint32_t r)
{
    return &a->frames[(size_t)r * a->max_frames];
}

/* The remembered descriptor of `seq`, NULL if history no longer holds it. */
static const hist_entry_t *hist_lookup(const tp_join_agent_t *a, const input_t *in, uint64_t seq)
{
    const hist_entry_t *e = &in->hist[seq & a->hist_mask];
    return e->seq == seq ? e : NULL;
}

static void frame_add(tp_join_agent_t *a, input_t *in, tp_join_input_t *ji, tp_join_frame_t *slots, uint64_t seq)
{
    tp_join_frame_t *f = &slots[ji->frame_count];
    f->seq = seq;
    const hist_entry_t *e = in != NULL ? hist_lookup(a, in, seq) : NULL;
    f->timestamp_ns = e != NULL ? e->fd_ts : UINT64_MAX;
    f->trace_id = e != NULL ? e->trace_id : 0;
    f->has_view = 0;
    f->reader_ = NULL;
    if (in != NULL && !in->mapped && a->cfg.shm_base_dir != NULL) {
        a->stats.frames_unmapped++; /* delivered, but its pool is not mapped (yet): no payload */
    } else if (in != NULL && in->mapped) {
        if (tp_shm_reader_begin(&in->reader, seq, &f->view) == TP_SHM_READ_OK) { /* single attempt (JB-7.2.c) */
            f->has_view = 1;
            f->reader_ = &in->reader;
            a->stats.frames_read++;
        } else {
            ji->dropped++;
            a->stats.frames_dropped++;
            return; /* a dropped frame is not delivered (JB-6.2.2.d) */
        }
    }
    ji->frame_count++;
}

/* Frames of sequence range [first, last], newest max_frames of them. */
static void select_seq_range(tp_join_agent_t *a, input_t *in, tp_join_input_t *ji, tp_join_frame_t *slots,
                             uint64_t first, uint64_t last)
{
    ji->first_seq = first;
    ji->last_seq = last;
    if (last - first >= a->max_frames) first = last - a->max_frames + 1;
    for (uint64_t s = first;; s++) {
        frame_add(a, in, ji, slots, s);
        if (s == last) break;
    }
}

/* Timestamp rules: frames whose time (rule's source) lies in [lo, hi],
 * newest max_frames, or only the newest one when `newest_only`. */
static void select_time_range(tp_join_agent_t *a, input_t *in, tp_join_input_t *ji, tp_join_frame_t *slots,
                              uint8_t source, uint64_t lo, uint64_t hi, int newest_only)
{
    if (in == NULL || !in->has_seq) return;
    uint64_t found[64];
    uint32_t nf = 0;
    const uint32_t want = newest_only ? 1 : (a->max_frames < 64 ? a->max_frames : 64);
    uint64_t s = in->last_seq;
    for (uint32_t k = 0; k <= a->hist_mask && nf < want; k++, s--) {
        const hist_entry_t *e = &in->hist[s & a->hist_mask];
        if (e->seq != s) break; /* history ends (gap or wrapped) */
        const uint64_t t = ja_hist_ts(e, source);
        if (t != UINT64_MAX && t <= hi) {
            if (t < lo) break;
            found[nf++] = s;
        }
        if (s == 0) break;
    }
    if (nf == 0) return;
    ji->first_seq = found[nf - 1];
    ji->last_seq = found[0];
    for (uint32_t k = nf; k-- > 0;) frame_add(a, in, ji, slots, found[k]);
}

/* Close every read begun for the current output (drop accounting). */
static void release_frames(tp_join_agent_t *a, const tp_merge_map_t *m)
{
    for (uint32_t r = 0; r < m->rule_count; r++) {
        tp_join_input_t *ji = &a->out_inputs[r];
        input_t *in = rule_in(a, r);
        for (uint32_t k = 0; k < ji->frame_count; k++) {
            tp_join_frame_t *f = &rule_frames(a, r)[k];
            if (f->has_view && in != NULL && in->mapped) (void)tp_shm_reader_end(&in->reader, &f->view);
        }
    }
}

/* The first rule whose input lacks data in the current output: no frame, a
 * dropped one, or (with SHM mapping configured) one without a payload view.
 * With present_only, stale and absent inputs are skipped (they are reported
 * as such). UINT32_MAX when none lacks. */
static uint32_t first_lacking_rule(const tp_join_agent_t *a, const tp_merge_map_t *m, int present_only)
{
    for (uint32_t r = 0; r < m->rule_count; r++) {
        const tp_join_input_t *ji = &a->out_inputs[r];
        if (present_only && ji->status != TP_JOIN_INPUT_READY) continue;
        if (ji->frame_count == 0 || ji->dropped > 0) return r;
        for (uint32_t k = 0; k < ji->frame_count; k++)
            if (a->cfg.shm_base_dir != NULL && !rule_frames(a, r)[k].has_view) return r;
    }
    return UINT32_MAX;
}

/* An output where some input lacks data (absent and stale ones included) is
 * incomplete: the agent reports itself degraded until a complete one. */
static void note_completeness(tp_join_agent_t *a, const tp_merge_map_t *m)
{
    const uint32_t r = first_lacking_rule(a, m, 0);
    if (r == UINT32_MAX) {
        a->incomplete_since = 0;
        return;
    }
    a->stats.outputs_incomplete++;
    if (a->incomplete_since == 0) a->incomplete_since = a->now != 0 ? a->now : 1;
    a->incomplete_stream = a->out_inputs[r].stream_id;
}

/* Select and read the frames of one output, then call the stage. Returns 1
 * when the stage was called; 0 when a LatestValue input's selected frame
 * failed its read: that input is absent, so the join is not ready this tick
 * and is retried on its next observation (JB-9.1.d/e). */
static int deliver(tp_join_agent_t *a, uint64_t out_seq, uint64_t out_time)
{
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    const tp_join_result_t *res = tp_join_barrier_result(a->barrier);
    const tp_join_mode_t mode = a->cfg.barrier.mode;
    int any_stale = 0;
    for (uint32_t r = 0; r < m->rule_count; r++) {
        const tp_merge_rule_t *rule = &m->rules[r];
        tp_join_input_t *ji = &a->out_inputs[r];
        tp_join_frame_t *slots = rule_frames(a, r);
        input_t *in = rule_in(a, r);
        memset(ji, 0, sizeof *ji);
        ji->stream_id = rule->input_stream_id;
        ji->frames = slots;
        ji->epoch = in != NULL && in->has_epoch ? in->epoch : 0;
        if (id_listed(res->stale, res->stale_count, ji->stream_id)) {
            ji->status = TP_JOIN_INPUT_STALE;
            any_stale = 1;
        } else if (id_listed(res->missing, res->missing_count, ji->stream_id)) {
            ji->status = TP_JOIN_INPUT_ABSENT;
        }
        if (mode == TP_JOIN_MODE_LATEST_VALUE) {
            /* Stale latest values stay usable (JB-9.3.a); invalid ones are not. */
            if (a->latest[r].valid && a->latest[r].seq != UINT64_MAX)
                select_seq_range(a, in, ji, slots, a->latest[r].seq, a->latest[r].seq);
            continue;
        }
        if (ji->status != TP_JOIN_INPUT_READY) continue; /* absent this tick */
        if (mode == TP_JOIN_MODE_SEQUENCE) {
            if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
                const uint64_t s = out_seq + (uint64_t)rule->offset; /* readiness proved it in range */
                select_seq_range(a, in, ji, slots, s, s);
            } else {
                select_seq_range(a, in, ji, slots, out_seq - (rule->window - 1), out_seq);
            }
        } else {
            if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
                const uint64_t t = out_time + (uint64_t)rule->offset; /* newest frame at or before it */
                select_time_range(a, in, ji, slots, rule->timestamp_source, 0, t, 1);
            } else {
                select_time_range(a, in, ji, slots, rule->timestamp_source, out_time - rule->window, out_time, 0);
            }
        }
    }
    if (mode == TP_JOIN_MODE_LATEST_VALUE) {
        int failed = 0;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            if (a->out_inputs[r].dropped == 0) continue;
            failed = 1;
            tp_join_barrier_invalidate_latest(a->barrier, a->out_inputs[r].stream_id);
        }
        if (failed) {
            release_frames(a, m);
            return 0;
        }
    }
    note_completeness(a, m);
    tp_join_output_t out;
    out.out_stream_id = a->cfg.barrier.out_stream_id;
    out.epoch = m->epoch;
    out.mode = mode;
    out.out_seq = out_seq;
    out.out_time = out_time;
    out.now_ns = a->now;
    out.input_count = m->rule_count;
    out.inputs = a->out_inputs;
    out.result = res;
    a->cfg.on_output(a->cfg.clientd, &out);
    a->stats.outputs++;
    if (a->cfg.shm_base_dir != NULL && first_lacking_rule(a, m, 1) != UINT32_MAX) a->stats.outputs_without_view++;
    if (any_stale) a->stats.outputs_with_stale++;
    if (a->held_back) a->stats.outputs_waited++;
    a->held_back = 0;
    a->work++;
    release_frames(a, m);
    /* Record consumption (JB-4.2). */
    for (uint32_t r = 0; r < m->rule_count; r++) {
        tp_join_input_t *ji = &a->out_inputs[r];
        input_t *in = rule_in(a, r);
        if (a->cfg.barrier.use_processed && ji->frame_count > 0 && in != NULL) {
            const tp_join_frame_t *f = &rule_frames(a, r)[ji->frame_count - 1];
            tp_join_barrier_process_seq_in_epoch(a->barrier, ji->stream_id, ji->epoch, f->seq);
            if (m->kind == TP_MERGE_KIND_TIMESTAMP) {
                const hist_entry_t *e = hist_lookup(a, in, f->seq);
                const uint64_t t = e != NULL ? ja_hist_ts(e, m->rules[r].timestamp_source) : UINT64_MAX;
                if (t != UINT64_MAX)
                    tp_join_barrier_process_time_in_epoch(a->barrier, ji->stream_id, ji->epoch,
                                                          (tp_timestamp_source_t)m->rules[r].timestamp_source, t,
                                                          (tp_clock_domain_t)m->clock_domain);
            }
        }
    }
    return 1;
}

/* SEQUENCE with TP_JOIN_OUT_AUTO: start at the newest output every input can
 * still reach, but never below the first output the rules allow
 * (JB-6.2.1.c, JB-6.2.2.c), which would otherwise block forever. */
static int derive_first_out(tp_join_agent_t *a, const tp_merge_map_t *m)
{
    uint64_t start = UINT64_MAX;
    for (uint32_t r = 0; r < m->rule_count; r++) {
        const tp_merge_rule_t *rule = &m->rules[r];
        const uint32_t idx = a->rule_input[r];
        if (idx == NO_INPUT || !a->inputs[idx].has_seq) return 0;
        const uint64_t last = a->inputs[idx].last_seq;
        uint64_t cand;
        if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
            const int64_t k = rule->offset;
            cand = k >= 0 ? (last >= (uint64_t)k ? last - (uint64_t)k : 0) : last + (uint64_t)(-k);
        } else {
            cand = last;
        }
        if (cand < start) start = cand;
    }
    a->next_out_seq = start > a->out_floor ? start : a->out_floor;
    return 1;
}

/* The pending output is held back by a missing input while another input is
 * already there: it counts once in outputs_waited when it is delivered. */
static void note_not_ready(tp_join_agent_t *a)
{
    if (tp_join_barrier_last_satisfied(a->barrier) > 0) a->held_back = 1; /* lists not needed */
    if (a->not_ready_since == 0) a->not_ready_since = a->now != 0 ? a->now : 1;
}

void ja_evaluate(tp_join_agent_t *a)
{
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    if (m == NULL) return;
    const uint64_t now = (uint64_t)a->now;
    switch (a->cfg.barrier.mode) {
    case TP_JOIN_MODE_SEQUENCE:
        if (a->next_out_seq == TP_JOIN_OUT_AUTO && !derive_first_out(a, m)) return;
        for (uint32_t n = 0; n < a->cfg.max_outputs_per_cycle; n++) {
            if (tp_join_barrier_ready_seq(a->barrier, a->next_out_seq, now) != 1) {
                note_not_ready(a);
                break;
            }
            (void)deliver(a, a->next_out_seq, UINT64_MAX);
            a->not_ready_since = 0;
            a->next_out_seq++;
        }
        break;
    case TP_JOIN_MODE_TIMESTAMP:
        /* No candidate: the trigger input is silent; that is waiting too. */
        if (a->tq_len == 0 && a->not_ready_since == 0) a->not_ready_since = a->now != 0 ? a->now : 1;
        for (uint32_t n = 0; n < a->cfg.max_outputs_per_cycle && a->tq_len > 0; n++) {
            const uint64_t t = a->tq[a->tq_head];
            const int r = tp_join_barrier_ready_time(a->barrier, t, (tp_clock_domain_t)m->clock_domain, now);
            if (r == 1) {
                (void)deliver(a, a->out_count, t);
                a->not_ready_since = 0;
            }
            if (r != 1 && !tp_join_barrier_result(a->barrier)->output_rejected) {
                note_not_ready(a);
                break;
            }
            if (r != 1) a->held_back = 0; /* rejected candidate: its wait does not carry over */
            a->tq_head = (a->tq_head + 1) & a->tq_mask;
            a->tq_len--;
            if (r == 1) a->out_count++;
        }
        break;
    case TP_JOIN_MODE_LATEST_VALUE: {
        if (tp_join_barrier_ready_latest_out(a->barrier, a->out_count, now) != 1) { /* JB-P1 */
            note_not_ready(a);
            return;
        }
        a->not_ready_since = 0;
        if (tp_join_barrier_collect_latest(a->barrier, a->latest, a->capacity) < 0) return;
        /* Fire once per new value: only when some input moved (project rule). */
        int moved = 0;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            const uint32_t idx = a->rule_input[r];
            if (idx == NO_INPUT || !a->latest[r].valid) continue;
            if (!a->inputs[idx].fired || a->inputs[idx].fired_seq != a->latest[r].seq) moved = 1;
        }
        if (!moved) return;
        if (!deliver(a, a->out_count, UINT64_MAX)) return; /* an input went absent: later tick */
        a->out_count++;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            const uint32_t idx = a->rule_input[r];
            if (idx == NO_INPUT || !a->latest[r].valid) continue;
            a->inputs[idx].fired = 1;
            a->inputs[idx].fired_seq = a->latest[r].seq;
        }
        break;
    }
    }
}

int tp_join_frame_still_valid(const tp_join_frame_t *f)
{
    if (f == NULL || !f->has_view) return 0;
    /* The seqlock re-check of §3.6 steps 8-9 without drop accounting (the
     * agent counts when it closes the read after the callback). */
    return tp_shm_view_intact(&f->view);
}
