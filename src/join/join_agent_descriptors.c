/* JoinBarrierAgent, FrameDescriptor intake (docs/spec/join-barrier.md §3.7, §3.9):
 * each descriptor of a tracked input that passes the checks of the input's
 * epoch and of the slot it names feeds the barrier's observed cursor, is
 * remembered in the input's history (for frame selection by time) and, for a
 * TIMESTAMP join's trigger input, queues an out_time candidate. An input's
 * epoch moves on the driver's word only (ja_input_enter_epoch). */
#include "join_agent_impl.h"

#include "join_barrier_impl.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/shm_reader.h"

void ja_hist_clear(tp_join_agent_t *a, input_t *in)
{
    for (uint32_t i = 0; i <= a->hist_mask; i++) {
        in->hist[i].seq = UINT64_MAX;
        in->hist[i].fd_ts = UINT64_MAX;
        in->hist[i].slot_ts = UINT64_MAX;
        in->hist[i].trace_id = 0;
    }
}

/* Read a slot's header timestamp once (JB-8.2.c; drop on failure). */
static int read_slot_ts(tp_join_agent_t *a, input_t *in, uint64_t seq, uint64_t *ts)
{
    if (!in->mapped) return 0;
    tp_shm_view_t v;
    if (tp_shm_reader_begin(&in->reader, seq, &v) != TP_SHM_READ_OK) {
        a->stats.frames_dropped++;
        return 0;
    }
    const uint64_t t = v.header.timestamp_ns;
    if (tp_shm_reader_end(&in->reader, &v) != TP_SHM_READ_OK) {
        a->stats.frames_dropped++;
        return 0;
    }
    *ts = t;
    return 1;
}

static void tq_push(tp_join_agent_t *a, uint64_t t)
{
    if (t == UINT64_MAX) return;
    if (a->tq_len > 0 && t < a->tq[(a->tq_head + a->tq_len - 1) & a->tq_mask]) return; /* keep out_time monotonic */
    if (a->tq_len == a->tq_mask + 1) { /* full: the oldest candidate gives way */
        a->tq_head = (a->tq_head + 1) & a->tq_mask;
        a->tq_len--;
    }
    a->tq[(a->tq_head + a->tq_len) & a->tq_mask] = t;
    a->tq_len++;
}

void ja_input_enter_epoch(tp_join_agent_t *a, input_t *in, uint64_t epoch, int confirmed)
{
    const int changed = in->has_epoch && epoch != in->epoch;
    /* Leaving an epoch none of whose frames were taken (one granted before
     * its producer attached, docs/spec/driver.md scenario 3) relates nothing: it is no
     * input restart, so it neither counts nor blocks the map. Nor is the
     * driver's word naming an epoch below one only descriptors showed: a
     * producer's epochs only grow, so either those descriptors were forged
     * or the driver's word is older than them (a consumer lease granted
     * before the producer attached, read after its first descriptors; the
     * announce of the producer's epoch follows it on the control stream).
     * Either way no producer restarted, and dropping the map for it would
     * stop a sequence join until the authority's next map. */
    const int corrected = confirmed && !in->epoch_confirmed && epoch < in->epoch;
    const int restarted = changed && in->epoch_has_last && !corrected;
    in->epoch_confirmed |= confirmed;
    if (in->has_epoch && !changed) return;
    if (changed) {
        /* Its old frames are gone (the caller has mapped the new epoch, or
         * will). The barrier forgets the input too: a confirmed epoch may lie
         * below a provisional one a forger claimed. */
        if (restarted) a->stats.input_epoch_changes++;
        ja_hist_clear(a, in);
        in->has_seq = 0;
        in->fired = 0;
        tp_join_barrier_forget_input(a->barrier, in->stream_id);
    }
    in->has_epoch = 1;
    in->epoch = epoch;
    in->epoch_has_last = 0;
    if (restarted) ja_on_input_epoch_change(a, in);
    if (a->cfg.epoch_follow_stream_id == in->stream_id) {
        uint64_t cur;
        if (!tp_join_barrier_expected_epoch(a->barrier, &cur) || epoch > cur)
            (void)ja_expect_epoch(a, epoch); /* blocked until its map (JB-6.4.c) */
    }
}

/* Is this descriptor of the input's epoch believable? A descriptor is a claim
 * by whoever could publish on the stream (docs/threat-model.md): it may be
 * taken or refused, never move the input to another epoch once the driver
 * has named one. 1 to take it; else it is counted by cause. */
static int descriptor_believed(tp_join_agent_t *a, input_t *in, uint64_t epoch, uint64_t seq)
{
    if (in->has_epoch && epoch != in->epoch && (in->epoch_confirmed || epoch < in->epoch)) {
        a->stats.descriptors_other_epoch++; /* only the driver's announce or grant moves the input */
        return 0;
    }
    if (!in->has_epoch || epoch != in->epoch) ja_input_enter_epoch(a, in, epoch, 0); /* provisional (join_agent.h) */
    /* A producer commits a slot before it sends its descriptor: a slot that
     * does not hold this seq names a frame never written (a seq ahead) or
     * already overwritten (an old replay). One slot-header line, no write. */
    if (in->mapped && in->mapped_epoch == epoch && tp_shm_reader_slot_seq(&in->reader, seq) != seq) {
        a->stats.descriptors_not_in_slot++;
        return 0;
    }
    /* A producer never sends a seq twice in an epoch (a restart gets a new
     * one, D-6.a): at or below the newest one taken is a replay. */
    if (in->epoch_has_last && seq <= in->epoch_last) {
        a->stats.descriptors_replayed++;
        return 0;
    }
    in->epoch_has_last = 1;
    in->epoch_last = seq;
    return 1;
}

void ja_on_descriptor(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_join_agent_t *a = clientd;
    tp_sbe_header_t h;
    if (ja_msg_header(a, buf, len, &h) != 0) return;
    if (h.schema_id != TP_CONTROL_SCHEMA_ID || h.template_id != TP_CONTROL_FRAME_DESCRIPTOR_TEMPLATE_ID) return;
    tp_control_frame_descriptor_dec_t d;
    if (tp_control_frame_descriptor_decode(&d, buf, len) != 0) {
        a->stats.malformed++;
        return;
    }
    const uint32_t idx = ja_input_find(a, tp_control_frame_descriptor_stream_id(&d));
    if (idx == NO_INPUT) return;
    if (info != NULL && info->publisher_uid != a->own_uid) { /* another user's log in our directory */
        a->stats.descriptors_foreign++;
        return;
    }
    input_t *in = &a->inputs[idx];
    const uint64_t epoch = tp_control_frame_descriptor_epoch(&d);
    const uint64_t seq = tp_control_frame_descriptor_seq(&d);
    const uint64_t fd_ts = tp_control_frame_descriptor_timestamp_ns(&d);
    a->stats.descriptors++;
    if (!descriptor_believed(a, in, epoch, seq)) return;
    const int u = tp_join_barrier_observe_descriptor(a->barrier, in->stream_id, epoch, seq, fd_ts, (uint64_t)a->now);
    if (u == TP_JOIN_UPDATE_REGRESSION || u == TP_JOIN_UPDATE_STALE_EPOCH) return;
    hist_entry_t *e = &in->hist[seq & a->hist_mask];
    e->seq = seq;
    e->fd_ts = fd_ts;
    e->slot_ts = UINT64_MAX;
    e->trace_id = tp_control_frame_descriptor_trace_id(&d);
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    if (in->needs_slot_ts && m != NULL) {
        uint64_t ts;
        if (read_slot_ts(a, in, seq, &ts)) {
            e->slot_ts = ts;
            tp_join_barrier_observe_time_in_epoch(a->barrier, in->stream_id, epoch, TP_TS_SOURCE_SLOT_HEADER, ts,
                                                  (tp_clock_domain_t)m->clock_domain, (uint64_t)a->now);
        }
    }
    if (!in->has_seq || seq > in->last_seq) in->last_seq = seq;
    in->has_seq = 1;
    if (a->cfg.barrier.mode == TP_JOIN_MODE_TIMESTAMP && idx == a->trigger_input)
        tq_push(a, ja_hist_ts(e, a->trigger_source));
}

/* The slot check of every descriptor and the views of each output read
 * those lines. bench_join_agent (lockstep, mid placement, 8 alternated runs
 * each): commit-to-callback p50 1120-1593 ns before, 1031-1438 ns after
 * (medians 1356 and 1182). */
void ja_idle_prefetch(tp_join_agent_t *a)
{
    for (uint32_t i = 0; i < a->ninputs; i++) {
        input_t *in = &a->inputs[i];
        if (in->mapped && in->mapped_epoch == in->epoch && in->epoch_has_last)
            tp_shm_reader_prefetch_idle(&in->reader, in->epoch_last + 1);
    }
}
