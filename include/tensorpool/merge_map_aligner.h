/* MergeMap aligner: keeps a two-input SEQUENCE MergeMap true to its inputs'
 * epochs, for the authority of a join whose inputs capture on common ticks
 * (cameras triggered together, a producer that stamps capture time).
 *
 * A sequence offset holds only while both inputs stay in the epochs it was
 * made for: an input that re-attaches (driver or producer stall, restart)
 * restarts at seq 0 at whatever tick it has reached, and a join applying the
 * old offset would pair frames of different ticks. The aligner reads both
 * inputs as a consumer (one CONSUMER lease each) and, whenever their epochs
 * differ from the ones its map relates, or a join asks for the next map
 * epoch (tp_merge_authority_take_bump_request, see join_agent.h), derives
 * the offset again from two frames of equal capture time (slot-header
 * timestamp_ns) seen in the inputs' current epochs, and puts it into the
 * authority under a new epoch:
 *   out N = reference seq N (OFFSET 0) + other seq N + d (OFFSET d),
 *   d = other seq - reference seq of one capture time.
 * The first epochs seen get the configured initial offset.
 *
 * Next-epoch requests can come from anyone on the control stream, so they
 * are honoured at most once per bump_min_interval_ns; each makes the aligner
 * derive from frames read after it (it drains both inputs first).
 * do_work polls and derives without allocating. Not thread-safe. */
#ifndef TENSORPOOL_MERGE_MAP_ALIGNER_H
#define TENSORPOOL_MERGE_MAP_ALIGNER_H

#include "tensorpool/client.h"
#include "tensorpool/merge_map_authority.h"

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_merge_aligner_config_s {
    const tp_client_context_t *client; /* the consumers' context (base dir, streams); required */
    uint32_t out_stream_id;
    uint32_t ref_stream_id;            /* rule 0, OFFSET 0 */
    uint32_t other_stream_id;          /* rule 1, OFFSET derived */
    int32_t initial_offset;            /* offset for the first epochs seen */
    uint64_t initial_epoch;            /* map epoch of the initial offset; 0: 1 */
    int64_t bump_min_interval_ns;      /* 0: 500 ms */
} tp_merge_aligner_config_t;

typedef struct tp_merge_aligner_s tp_merge_aligner_t;

/* Open a consumer per input and put the initial map into `auth` (which
 * announces it). `auth` must outlive the aligner. 0 or -1. */
TP_API int tp_merge_aligner_create(const tp_merge_aligner_config_t *cfg, tp_merge_authority_t *auth,
                                   tp_merge_aligner_t **out);

/* Poll both inputs, take next-epoch requests for our output, and put a
 * re-derived map when the inputs' epochs moved. Returns work done. */
TP_API int tp_merge_aligner_do_work(tp_merge_aligner_t *al, int64_t now);

/* 1 when both inputs are mapped (frames can be read). */
TP_API int tp_merge_aligner_ready(const tp_merge_aligner_t *al);

/* Maps put after the initial one. */
TP_API uint64_t tp_merge_aligner_maps(const tp_merge_aligner_t *al);

/* Close the consumers and free. NULL-safe. */
TP_API void tp_merge_aligner_destroy(tp_merge_aligner_t *al);

#ifdef __cplusplus
}
#endif
#endif
