/* Consumer drop accounting (docs/spec/wire.md §5.5, D-23, D-15).
 *
 * Per mapped epoch a consumer counts, for every descriptor that passed the
 * epoch check: gaps in the descriptor sequence (drops_gap), frames whose
 * slot was not stable at the expected seq (drops_late, reported in QoS) and
 * frames whose stable slot failed a structural check (drops_invalid, local
 * only). With no duplicates or regressions, after descriptors first..last:
 *
 *     accepted + drops_late + drops_invalid + drops_gap == last - first + 1
 */
#ifndef TENSORPOOL_SHM_DROPS_H
#define TENSORPOOL_SHM_DROPS_H

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_SHM_DEFAULT_MAX_SEQ_GAP 256u /* W-15.4.d */

typedef struct tp_shm_drops_s {
    int have_last;            /* D-23: replaces "last_seq_seen == 0" */
    uint64_t first_seq;       /* first descriptor after (re)map */
    uint64_t last_seq_seen;
    uint64_t drops_gap;
    uint64_t drops_late;
    uint64_t drops_invalid;   /* D-15: never on the wire */
    uint64_t accepted;
    uint64_t duplicates;
    uint64_t resyncs;         /* gaps above max_seq_gap (W-15.4.d) */
    uint64_t max_seq_gap;
} tp_shm_drops_t;

/* What to do with a descriptor after gap accounting. */
typedef enum tp_seq_action_e {
    TP_SEQ_READ = 0,     /* read the slot */
    TP_SEQ_RESYNC,       /* read the slot; the gap exceeded max_seq_gap: skip anything queued before it */
    TP_SEQ_DUPLICATE,    /* drop silently, nothing counted */
    TP_SEQ_REGRESSION    /* drop; the consumer must unmap and wait for a new epoch (W-15.2.c, D-6) */
} tp_seq_action_t;

/* Reset every counter, e.g. on (re)map (§5.3). max_seq_gap 0 means the default. */
TP_INTERNAL void tp_shm_drops_reset(tp_shm_drops_t *d, uint64_t max_seq_gap);

/* Gap accounting for one descriptor seq (§5.5 table). No allocation. */
TP_INTERNAL tp_seq_action_t tp_shm_drops_on_descriptor(tp_shm_drops_t *d, uint64_t seq);

#ifdef __cplusplus
}
#endif
#endif
