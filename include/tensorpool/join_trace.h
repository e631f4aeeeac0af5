/* Join trace: a small shared-memory file in which a join stage keeps its
 * recent outputs (which input sequences and timestamps each one used), its
 * state and the explain of its next output, for viewers such as `tp view`.
 *
 * Join stages publish nothing on the wire about their outputs; this is the
 * bounded, opt-in place where they do. A stage creates the file (one per
 * stage: <base>/tensorpool-<user>/<ns>/join-<out>-<pid>.trace), calls
 * tp_join_trace_record from its output callback and tp_join_trace_status
 * from its duty cycle. Both return at once (one relaxed load and a compare)
 * unless a viewer has declared itself in the last few seconds by writing
 * `watched_until` in the file: nobody watching costs nothing else. Watched,
 * a record is one fixed-size copy into a ring of TP_JOIN_TRACE_ENTRIES under
 * a per-entry seqlock; a viewer copies and re-checks, never blocking the
 * writer. Neither side allocates after open.
 *
 * The viewer treats the file as untrusted (any process of the user can write
 * it): tp_join_trace_entry_decode and tp_join_trace_status_decode check every
 * field before use.
 */
#ifndef TENSORPOOL_JOIN_TRACE_H
#define TENSORPOOL_JOIN_TRACE_H

#include "tensorpool/join_agent.h"
#include "tensorpool/join_explain.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_JOIN_TRACE_ENTRIES 64   /* recent outputs kept (power of 2) */
#define TP_JOIN_TRACE_MAX_INPUTS 4 /* inputs recorded per output (rule order) */
#define TP_JOIN_TRACE_NONE UINT64_MAX

/* One input of one output: the range of frames it delivered. */
typedef struct tp_join_trace_input_s {
    uint32_t stream_id;
    uint32_t status;         /* tp_join_input_status_t */
    uint32_t frame_count;
    uint32_t dropped;
    uint64_t first_seq;      /* of the delivered frames; TP_JOIN_TRACE_NONE if none */
    uint64_t last_seq;
    uint64_t first_ts_ns;    /* FrameDescriptor timestamps; TP_JOIN_TRACE_NONE if unknown */
    uint64_t last_ts_ns;
} tp_join_trace_input_t;

typedef struct tp_join_trace_output_s {
    uint64_t index;          /* running count of recorded outputs, from 0 */
    uint64_t out_seq;
    uint64_t out_time;       /* TIMESTAMP joins; else TP_JOIN_TRACE_NONE */
    int64_t at_ns;           /* CLOCK_MONOTONIC when the stage got it */
    uint64_t epoch;
    uint32_t input_count;    /* recorded inputs (<= TP_JOIN_TRACE_MAX_INPUTS) */
    uint32_t reserved_;
    tp_join_trace_input_t in[TP_JOIN_TRACE_MAX_INPUTS];
} tp_join_trace_output_t;

/* The stage's state and the explain of its next output. */
typedef struct tp_join_trace_status_s {
    int64_t at_ns;
    uint32_t state;          /* tp_join_agent_state_t */
    uint32_t stream_id;      /* the input the reason names */
    int64_t since_ns;
    uint64_t next_out;       /* the output explained */
    uint64_t outputs;        /* agent outputs so far */
    uint32_t explain_count;  /* <= TP_JOIN_TRACE_MAX_INPUTS */
    uint32_t reserved_;
    char reason[128];
    char explain[TP_JOIN_TRACE_MAX_INPUTS][128]; /* tp_join_explain_format lines */
} tp_join_trace_status_t;

typedef struct tp_join_trace_s tp_join_trace_t;

/* Create the stage's trace file under the namespace directory of ctx
 * (base dir and namespace), for output stream out_stream_id of a join of
 * `kind` (tp_merge_kind_t). 0 or -1. */
TP_API int tp_join_trace_create(tp_join_trace_t **out, const tp_ipc_context_t *ctx, uint32_t out_stream_id,
                                uint8_t kind);

/* Whether a viewer watches at now_ns (one relaxed load). */
TP_API int tp_join_trace_watched(const tp_join_trace_t *t, int64_t now_ns);

/* From the stage callback: record `out` if watched. No allocation. */
TP_API void tp_join_trace_record(tp_join_trace_t *t, const tp_join_output_t *out, int64_t now_ns);

/* From the duty cycle: if watched and 100 ms have passed since the last one,
 * store the agent's status and the explain of its next output. */
TP_API void tp_join_trace_status(tp_join_trace_t *t, const tp_join_agent_t *agent, int64_t now_ns);

/* Unmap and remove the file. NULL-safe. */
TP_API void tp_join_trace_close(tp_join_trace_t *t);

/* ---- the viewer's side ---- */

typedef struct tp_join_trace_reader_s {
    uint8_t *base;           /* mapping of the whole file, read-write (watched_until only) */
    size_t len;
    int32_t pid;             /* the stage's process (file header) */
    uint32_t out_stream_id;
    uint8_t kind;
} tp_join_trace_reader_t;

/* Map an existing trace file; the header must be valid. 0 or -1. */
TP_API int tp_join_trace_reader_open(tp_join_trace_reader_t *r, const char *path);

/* Declare a watcher until `until_ns` (CLOCK_MONOTONIC). */
TP_API void tp_join_trace_reader_watch(tp_join_trace_reader_t *r, int64_t until_ns);

/* Copy up to cap recorded outputs, newest first; entries being written or
 * failing validation are skipped. Returns how many were copied. */
TP_API uint32_t tp_join_trace_reader_outputs(const tp_join_trace_reader_t *r, tp_join_trace_output_t *out,
                                             uint32_t cap);

/* Copy the latest status. 0, or -1 if none yet, torn or invalid. */
TP_API int tp_join_trace_reader_status(const tp_join_trace_reader_t *r, tp_join_trace_status_t *out);

TP_API void tp_join_trace_reader_close(tp_join_trace_reader_t *r);

/* Validate one entry's bytes (sizeof(tp_join_trace_output_t)) and copy them
 * out: counts in range, strings terminated. 0 or -1 (TP_ERR_MALFORMED). */
TP_INTERNAL int tp_join_trace_entry_decode(const uint8_t *raw, size_t len, tp_join_trace_output_t *out);
TP_INTERNAL int tp_join_trace_status_decode(const uint8_t *raw, size_t len, tp_join_trace_status_t *out);

#ifdef __cplusplus
}
#endif
#endif
