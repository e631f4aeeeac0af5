/* Frame lineage (docs/spec/tracelink.md, schema 904; docs/architecture.md
 * layer `trace`).
 *
 * A frame's trace id travels in its FrameDescriptor (TL-8.1.a). A producer
 * mints one per root frame with a tp_trace_gen_t; a stage that makes one
 * output from several input frames mints a new id for the output and
 * publishes a TraceLinkSet naming the inputs' ids (TL-6.3.c). A recorder
 * keeps both kinds of message; tp_trace_index_t answers "which frames made
 * this output?" from them, hop by hop back to the root frames.
 *
 * Hot path: tp_trace_gen_next, tp_trace_link_encode and tp_trace_link_decode
 * neither allocate nor make a syscall. The index allocates (it is a tool).
 */
#ifndef TENSORPOOL_TRACE_H
#define TENSORPOOL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parents one TraceLinkSet carries at most (TL-D6). */
#define TP_TRACE_MAX_PARENTS 256u
/* Node ids are 10 bits (TL-D1). */
#define TP_TRACE_MAX_NODE 1023u

/* Tracing of a producer: off (trace id 0 in every descriptor) or one fresh
 * id per frame. */
typedef enum tp_trace_mode_e { TP_TRACE_OFF = 0, TP_TRACE_PER_FRAME = 1 } tp_trace_mode_t;

/* Trace id generator of one node (TL-D1): ids strictly increase. */
typedef struct tp_trace_gen_s {
    uint64_t node;
    uint64_t last;
} tp_trace_gen_t;

/* node_id 0..1023; -1 (TP_ERR_INVALID_ARG) otherwise. */
TP_API int tp_trace_gen_init(tp_trace_gen_t *g, uint32_t node_id);
/* A new non-zero trace id, given CLOCK_REALTIME now (tp_clock_realtime_ns). */
TP_API uint64_t tp_trace_gen_next(tp_trace_gen_t *g, int64_t realtime_ns);
/* The parts of a tensorpool trace id: Unix milliseconds, node, sequence. */
TP_API void tp_trace_id_parts(uint64_t trace_id, uint64_t *unix_ms, uint32_t *node, uint32_t *seq);

/* One TraceLinkSet (TL-9.2.a): output frame and its parents' trace ids. */
typedef struct tp_trace_link_s {
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
    uint32_t parent_count;
    uint64_t parents[TP_TRACE_MAX_PARENTS];
} tp_trace_link_t;

/* Bytes of a TraceLinkSet of n parents, message header included. */
TP_API size_t tp_trace_link_length(uint32_t parent_count);
/* Encode (TL-9.2.c checked first: 1..256 parents, none 0, none twice,
 * trace_id not 0). Length, or -1 with the error set. */
TP_API long tp_trace_link_encode(const tp_trace_link_t *l, void *buf, size_t cap);
/* Decode and check one TraceLinkSet: -1 with TP_ERR_NOT_MINE for another
 * message, or the codec's / TL-9.2.c's reason. */
TP_API int tp_trace_link_decode(tp_trace_link_t *l, const void *buf, size_t len);
/* Add parent id to l unless it is 0 or already there (TL-9.2.c); returns 1
 * added, 0 skipped, -1 full (TL-D6). */
TP_API int tp_trace_link_add_parent(tp_trace_link_t *l, uint64_t parent);

/* ---- the lineage index (not hot path) ---- */

/* A frame as its FrameDescriptor named it. */
typedef struct tp_trace_frame_s {
    uint64_t trace_id;
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t timestamp_ns; /* UINT64_MAX when the descriptor had none */
} tp_trace_frame_t;

typedef struct tp_trace_index_s tp_trace_index_t;

TP_API int tp_trace_index_create(tp_trace_index_t **out);
TP_API void tp_trace_index_destroy(tp_trace_index_t *ix);
/* Index one message: a FrameDescriptor with a trace id, or a TraceLinkSet.
 * 1 indexed, 0 another message (or a descriptor without trace id), -1
 * malformed or out of memory. */
TP_API int tp_trace_index_add(tp_trace_index_t *ix, const void *buf, size_t len);
/* Index every message of a file of back-to-back SBE messages (what
 * `tp trace record` writes). Number indexed, or -1 (unreadable, or a
 * malformed message: the error names its offset). */
TP_API long tp_trace_index_load(tp_trace_index_t *ix, const char *path);
/* The frame of trace_id: 0, or -1 (TP_ERR_NOT_FOUND). */
TP_API int tp_trace_index_frame(const tp_trace_index_t *ix, uint64_t trace_id, tp_trace_frame_t *out);
/* The parents of trace_id: their count (*parents points into the index,
 * valid until the next add), or -1 (TP_ERR_NOT_FOUND) when no TraceLinkSet
 * of trace_id was recorded. A TraceLinkSet also names its output frame:
 * tp_trace_index_frame finds it even if its descriptor was not recorded. */
TP_API long tp_trace_index_parents(const tp_trace_index_t *ix, uint64_t trace_id, const uint64_t **parents);
TP_API size_t tp_trace_index_frame_count(const tp_trace_index_t *ix);
TP_API size_t tp_trace_index_link_count(const tp_trace_index_t *ix);

/* Visit trace_id and, depth first, every ancestor (depth 0 = trace_id).
 * frame is NULL when no descriptor of that id was recorded; parent_count is
 * 0 for a root (no link recorded). Stops below max_depth. Returns the
 * number of nodes visited, or -1 (TP_ERR_NOT_FOUND) when the index knows
 * neither a frame nor a link of trace_id. */
typedef void (*tp_trace_visit_fn)(void *clientd, unsigned depth, uint64_t trace_id, const tp_trace_frame_t *frame,
                                  uint32_t parent_count);
TP_API long tp_trace_walk(const tp_trace_index_t *ix, uint64_t trace_id, unsigned max_depth, tp_trace_visit_fn fn,
                          void *clientd);

#ifdef __cplusplus
}
#endif
#endif
