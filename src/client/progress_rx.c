/* Consumer half of FrameProgress (docs/spec/wire.md §5.6, W-10.2.2.b-j,
 * D-24): each message is a claim by whoever can write the control stream,
 * checked against the mapped slot before any byte is handed out, and every
 * outcome is counted. */
#include "progress_internal.h"

#include <string.h>

static tp_progress_track_t *track_of(tp_progress_rx_t *x, uint64_t epoch, uint64_t seq)
{
    tp_progress_track_t *oldest = &x->track[0];
    for (unsigned i = 0; i < TP_PROGRESS_TRACKED; i++) {
        tp_progress_track_t *t = &x->track[i];
        if (t->used && t->epoch == epoch && t->seq == seq) return t;
        if (!t->used) oldest = t; /* a free entry beats any used one */
        else if (oldest->used && (t->epoch < oldest->epoch || (t->epoch == oldest->epoch && t->seq < oldest->seq))) oldest = t;
    }
    memset(oldest, 0, sizeof *oldest);
    oldest->used = 1;
    oldest->epoch = epoch;
    oldest->seq = seq;
    return oldest;
}

void tp_progress_rx_on_message(tp_progress_rx_t *x, const tp_shm_reader_t *r, uint32_t stream_id, const uint8_t *buf,
                               size_t len)
{
    tp_control_frame_progress_dec_t m;
    if (!x->enabled) return; /* W-10.2.2.b */
    if (tp_control_frame_progress_decode(&m, buf, len) != 0) {
        x->cnt.refused_malformed++;
        return;
    }
    if (tp_control_frame_progress_stream_id(&m) != stream_id || r == NULL) { /* the shared stream carries others */
        x->cnt.ignored++;
        return;
    }
    const uint8_t state = tp_control_frame_progress_state(&m);
    if (state > TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE) {
        x->cnt.refused_malformed++;
        return;
    }
    const uint64_t epoch = tp_control_frame_progress_epoch(&m), seq = tp_control_frame_progress_seq(&m);
    const uint64_t filled = tp_control_frame_progress_payload_bytes_filled(&m);
    if (epoch != r->epoch) { /* §5.6: epoch == mapped_epoch */
        x->cnt.refused_epoch++;
        return;
    }
    tp_shm_view_t v;
    tp_reject_t why;
    const tp_shm_read_t st = tp_shm_reader_peek(r, seq, &v, &why); /* W-10.2.2.c, D-24 */
    if (st == TP_SHM_READ_LATE) { /* the slot names another frame: unknown, or already reused */
        x->cnt.refused_slot++;
        return;
    }
    tp_progress_track_t *t = track_of(x, epoch, seq);
    if (st == TP_SHM_READ_INVALID) { /* W-10.2.2.d: layout checks failed, drop the frame */
        t->dropped = 1;
        x->cnt.refused_layout++;
        return;
    }
    if (filled > v.len) { /* W-10.2.2.e */
        t->dropped = 1;
        x->cnt.refused_length++;
        return;
    }
    if (t->dropped) {
        x->cnt.refused_dropped++;
        return;
    }
    if (filled < t->filled) { /* W-10.2.2.f */
        t->dropped = 1;
        x->cnt.refused_backwards++;
        return;
    }
    if (state != TP_CONTROL_FRAME_PROGRESS_STATE_UNKNOWN && state < t->state) { /* §5.6: older state, keep tracking */
        x->cnt.ignored++;
        return;
    }
    t->filled = filled;
    if (state != TP_CONTROL_FRAME_PROGRESS_STATE_UNKNOWN) t->state = state;
    /* W-10.2.2.i: whole rows only, and only for a layout a prefix means something in */
    const uint64_t row = tp_progress_row_bytes(&v.header.tensor, v.strides);
    const uint64_t rows = row != 0 ? filled / row : 0;
    const tp_progress_t p = {
        .stream_id = stream_id,
        .epoch = epoch,
        .seq = seq,
        .state = state,
        .bytes_filled = filled,
        .values_len = v.len,
        .row_bytes = (uint32_t)row,
        .rows = rows,
        .readable = rows * row,
        .payload = v.payload,
        .header = &v.header,
        .internal_ = &v,
    };
    x->cnt.delivered++;
    if (x->handler != NULL) x->handler(x->clientd, &p);
    if (!tp_shm_view_same_frame(&v)) x->cnt.overwritten++; /* reported, never read silently */
}

void tp_progress_rx_hello(const tp_progress_rx_t *x, tp_control_consumer_hello_enc_t *e)
{
    const uint32_t null = 0xFFFFFFFFu; /* W-10.1.2.c: the producer's defaults */
    tp_control_consumer_hello_set_supports_progress(e, x->enabled ? TP_CONTROL_BOOL_TRUE : TP_CONTROL_BOOL_FALSE);
    tp_control_consumer_hello_set_progress_interval_us(e, x->enabled && x->hints.interval_us != 0 ? x->hints.interval_us : null);
    tp_control_consumer_hello_set_progress_bytes_delta(e, x->enabled && x->hints.bytes_delta != 0 ? x->hints.bytes_delta : null);
    tp_control_consumer_hello_set_progress_major_delta_units(
        e, x->enabled && x->hints.major_delta_units != 0 ? x->hints.major_delta_units : null);
}

int tp_progress_intact(const tp_progress_t *p)
{
    const tp_shm_view_t *v = p->internal_;
    return tp_shm_view_same_frame(v);
}
