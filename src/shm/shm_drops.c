/* Descriptor gap accounting (§5.5, D-23). */
#include "tensorpool/shm_drops.h"

#include <string.h>

void tp_shm_drops_reset(tp_shm_drops_t *d, uint64_t max_seq_gap)
{
    memset(d, 0, sizeof *d);
    d->max_seq_gap = max_seq_gap != 0 ? max_seq_gap : TP_SHM_DEFAULT_MAX_SEQ_GAP;
}

tp_seq_action_t tp_shm_drops_on_descriptor(tp_shm_drops_t *d, uint64_t seq)
{
    if (!d->have_last) { /* D-23: the first descriptor after a (re)map is never a gap */
        d->have_last = 1;
        d->first_seq = seq;
        d->last_seq_seen = seq;
        return TP_SEQ_READ;
    }
    if (seq == d->last_seq_seen) {
        d->duplicates++;
        return TP_SEQ_DUPLICATE;
    }
    if (seq < d->last_seq_seen) return TP_SEQ_REGRESSION;
    const uint64_t gap = seq - d->last_seq_seen - 1;
    d->drops_gap += gap;
    d->last_seq_seen = seq;
    if (gap > d->max_seq_gap) {
        d->resyncs++;
        return TP_SEQ_RESYNC;
    }
    return TP_SEQ_READ;
}
