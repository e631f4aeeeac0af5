/* JoinBarrierAgent: a JoinBarrier wired to real streams
 * (docs/spec/join-barrier.md §3.9, §3.10; docs/architecture.md layer `join`).
 *
 * One agent gates one output stream. Each duty cycle it
 *   1. uses one cached clock value as `now` (from the runner/invoker);
 *   2. polls the control stream: schema-903 announces are applied to the
 *      barrier (schema id checked before decoding, JB-14.1), requests are
 *      passed to an optional co-located authority, ShmPoolAnnounce (schema
 *      900) of an input maps that input's SHM, ShmLeaseRevoked (schema 901)
 *      of an input's producer releases its mapping;
 *   3. polls the inputs' descriptor streams: each FrameDescriptor feeds the
 *      observed cursor (seq, and its timestamp under a timestamp map); rules
 *      reading SLOT_HEADER time get it from the slot, read once under the
 *      seqlock (JB-8.2.c, drop on failure);
 *   4. runs timers: while an output epoch is expected but no map is active it
 *      sends a MergeMapRequest, then retries with doubling backoff (§3.10,
 *      JB-10.3.b); every second it checks that mapped producers are alive;
 *   5. evaluates readiness for the next output and, when ready, reads the
 *      selected frames once each and calls the stage callback.
 *
 * The agent only gates attempts: it never waits for a slot commit and never
 * holds a slot against overwrite (JB-5.2, JB-7.2, JB-8.3, JB-9.3.b). A frame
 * that fails validation is reported as dropped, never retried.
 * After tp_join_agent_create the duty cycle allocates nothing (JB-5.1); only
 * mapping a newly announced pool does syscalls.
 * Not thread-safe: drive one agent from one thread (runner or invoker).
 *
 * Choices where docs/spec/join-barrier.md is silent:
 *  - Output candidates. SEQUENCE: consecutive out_seq from first_out_seq,
 *    never below the first out_seq every rule can satisfy. TIMESTAMP: the
 *    observed times of a trigger input (its rule's source), queued in order.
 *    LATEST_VALUE: one output when ready and some input's selected frame
 *    changed since the previous output.
 *  - Frames. OFFSET: seq out+k. WINDOW: the newest max_frames_per_input of
 *    the window. OFFSET_NS: the newest frame at or before out_time+d.
 *    WINDOW_NS: frames timed in [out_time-W, out_time]. Times come from the
 *    descriptors remembered per input (`history`). A frame whose single read
 *    fails is counted in `dropped` and not delivered; in SEQUENCE/TIMESTAMP
 *    the output still goes out (the stage sees the hole), in LATEST_VALUE the
 *    input is absent and the output waits for its next value (JB-9.1.d/e).
 *  - A stale input is absent (no frames) in SEQUENCE/TIMESTAMP outputs; in
 *    LATEST_VALUE it keeps offering its last frame (JB-9.3.a).
 *  - Disconnect (producer lease revoked, or producer gone: pid or activity
 *    stamp) releases that input's mapping only; its cursors stay so the map's
 *    staleTimeoutNs makes it stale rather than blocking. A new input epoch
 *    resets the input (barrier slot, remembered frames, old mapping).
 *  - Input epochs (docs/threat-model.md). A descriptor is a claim by whoever
 *    can publish on the stream: it never moves an input to another epoch nor
 *    touches its mapping. The epoch moves on the driver's word: the grant
 *    (attach_via_driver) or an accepted ShmPoolAnnounce of the stream whose
 *    files map and validate (without shm_base_dir: the accepted announce).
 *    Descriptors of another epoch are dropped (descriptors_other_epoch). Until
 *    the first announce or grant the descriptors' epoch is taken
 *    provisionally (newer wins, as the spec's consumer would), so agents
 *    without a driver or announces still work; the first announce or grant
 *    replaces it, lower or not. In the mapped epoch a descriptor feeds the
 *    barrier only if the slot it names holds its seq (one slot-header read,
 *    descriptors_not_in_slot) and its seq is above the newest taken in the
 *    epoch (descriptors_replayed). Leaving an epoch no frame of which was
 *    taken (a grant before the producer attached) is not an input restart,
 *    nor is the driver's word naming an epoch below a provisional one (a
 *    producer's epochs only grow: the descriptors were forged, or the grant
 *    is older than them).
 *  - Messages from transport logs another uid owns are dropped on the
 *    control and descriptor streams (control_foreign, descriptors_foreign).
 *  - Requests: one at once when blocked, then every request_interval_ns
 *    doubling up to request_backoff_max_ns (equal values: fixed cadence).
 *  - An announce for our output with more rules than the barrier's capacity
 *    is handled as an invalid map (blocked until replaced, §3.2 V1).
 *  - Processed cursors/times are reported after the callback returns, only
 *    when the barrier gates on them (use_processed, JB-4.2).
 *  - With attach_via_driver the agent holds one CONSUMER lease per input
 *    (driver client) and maps what it grants; without it, it maps pools from
 *    ShmPoolAnnounce directly (useful without a driver, e.g. in tests).
 *  - MergeMap authority. Announces for our output are taken from one
 *    publication only: the one whose process is authority_pid when that is
 *    set, else the first publication a valid map was taken from ("sticks").
 *    An announce for our output from any other publication is refused and
 *    counted (announces_refused) and changes nothing, not even the expected
 *    epoch, so the authority's later announces are never "stale" because of
 *    it. The pin moves only when the pinned publication has been silent for
 *    authority_timeout_ns (its soft-state re-announces stopped) or its process
 *    is gone; a new authority starts its own epoch history (its first map is
 *    taken whatever its epoch). Identity is the transport's publisher id and
 *    pid (tp_ipc_msg_info_t); a process able to write into the authority's
 *    own transport log is outside this defence.
 *  - Input epoch change (SEQUENCE). A MergeMap names only the output epoch, so
 *    it cannot say which input epochs its offsets relate. Rule: when an input
 *    of a SEQUENCE join moves to a newer epoch, the map in force (or awaited)
 *    no longer relates its frames: the join expects output epoch E+1 (E = the
 *    epoch expected so far), drops the map and pairs nothing until a map of
 *    epoch >= E+1 is applied; meanwhile it sends MergeMapRequest (out, E+1).
 *    Status: blocked, "input S epoch changed, waiting for map epoch E+1".
 *    Once it arrives, outputs restart at the newest out_seq every input
 *    reaches (as TP_JOIN_OUT_AUTO; so does every map after the first): the
 *    frames of the wait are mostly gone. An
 *    authority answers such a request for exactly (its newest epoch + 1) by
 *    deriving a map for its inputs' current epochs and announcing it under a
 *    new epoch (tp_merge_authority_take_bump_request); it also re-derives by
 *    itself when it sees its inputs' epochs change. TIMESTAMP and
 *    LATEST_VALUE joins keep their map: times, not sequences, relate frames.
 *  - Status (tp_join_agent_status): blocked while there is no map or the next
 *    output has not been ready for blocked_after_ns; degraded while the last
 *    output went out with an input that delivered no frame (stale, absent or
 *    a failed read); flowing otherwise.
 */
#ifndef TENSORPOOL_JOIN_AGENT_H
#define TENSORPOOL_JOIN_AGENT_H

#include "tensorpool/agent.h"
#include "tensorpool/client.h"
#include "tensorpool/ipc.h"
#include "tensorpool/join_barrier.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/meta.h"
#include "tensorpool/shm_reader.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_JOIN_AGENT_MAX_INPUTS 16
#define TP_DESCRIPTOR_STREAM_DEFAULT 1100 /* Stream ID Conventions: shared descriptor stream */

/* How a stage gets out_seq / out_time candidates. */
#define TP_JOIN_OUT_AUTO UINT64_MAX

/* One input data stream the agent follows. */
typedef struct tp_join_input_config_s {
    uint32_t stream_id;            /* data stream id as named by the MergeMap rules */
    int32_t descriptor_stream_id;  /* ipc stream carrying its FrameDescriptors; 0: the client context's
                                      (DRIVER_DESCRIPTOR_STREAM_ID, else 1100) */
} tp_join_input_config_t;

/* Status of one input in an output (JB-7.4.d: absence is visible). */
typedef enum tp_join_input_status_e {
    TP_JOIN_INPUT_READY = 0,  /* its rule is satisfied */
    TP_JOIN_INPUT_STALE,      /* silent longer than staleTimeoutNs: absent this tick (JB-7.4.c) */
    TP_JOIN_INPUT_ABSENT      /* not satisfied (quorum extension only) */
} tp_join_input_status_t;

/* One selected frame of an input. `view` is meaningful only when has_view:
 * the slot was mapped and passed the single-attempt read (seqlock begin +
 * slot checks). Bytes read through the view are trustworthy only if
 * tp_join_frame_still_valid() says so after reading them. */
typedef struct tp_join_frame_s {
    uint64_t seq;
    uint64_t timestamp_ns;   /* FrameDescriptor timestamp if seen, else UINT64_MAX */
    int has_view;
    tp_shm_view_t view;
    const tp_shm_reader_t *reader_; /* internal */
    uint64_t trace_id;       /* its FrameDescriptor's trace id, 0 if none (docs/spec/tracelink.md) */
} tp_join_frame_t;

/* One rule's input in an output, in rule order. */
typedef struct tp_join_input_s {
    uint32_t stream_id;
    tp_join_input_status_t status;
    uint64_t epoch;          /* input epoch the frames belong to (0 if unknown) */
    uint64_t first_seq;      /* requested range (sequence rules), inclusive */
    uint64_t last_seq;
    uint32_t frame_count;    /* frames below, oldest first */
    uint32_t dropped;        /* frames in range that failed their single read (JB-6.2.2.d) */
    const tp_join_frame_t *frames;
} tp_join_input_t;

/* What the stage callback receives. Valid only during the callback. */
typedef struct tp_join_output_s {
    uint32_t out_stream_id;
    uint64_t epoch;                /* output epoch of the active map */
    tp_join_mode_t mode;
    uint64_t out_seq;              /* SEQUENCE: the output position; else a running count */
    uint64_t out_time;             /* TIMESTAMP: the output time; else UINT64_MAX */
    int64_t now_ns;                /* cached monotonic clock of this duty cycle */
    uint32_t input_count;          /* = rule count of the active map */
    const tp_join_input_t *inputs;
    const tp_join_result_t *result; /* barrier lists: stale / missing ids */
} tp_join_output_t;

typedef void (*tp_join_stage_fn)(void *clientd, const tp_join_output_t *out);

typedef struct tp_join_agent_config_s {
    const tp_ipc_context_t *ipc;      /* NULL: defaults ($TP_DIR) */
    const char *channel;              /* NULL: $DRIVER_CONTROL_CHANNEL, else "tp:ipc" */
    int32_t control_stream_id;        /* 0: the client context's (DRIVER_CONTROL_STREAM_ID, else 1000) */
    tp_join_barrier_config_t barrier; /* mode, out stream, capacity, ... */
    uint64_t epoch;                   /* output epoch to expect (JB-6.4.c) */
    /* Output epoch follows this input's epoch (0 = off): when this stream
     * moves to a newer epoch (driver announce or grant; a descriptor only
     * before the first of those) the barrier expects that epoch and blocks
     * until its map arrives (§3.9; typically the authority's own stream). */
    uint32_t epoch_follow_stream_id;
    uint32_t input_count;
    tp_join_input_config_t inputs[TP_JOIN_AGENT_MAX_INPUTS];
    /* SHM: allowed base directories for mapping announced pools. NULL: no
     * mapping (descriptor-only gating; frames carry no view). */
    const char *shm_base_dir;
    /* Hold a CONSUMER lease per input with the SHM driver (docs/spec/driver.md D-2.3.a)
     * and map only what a lease grants (attach answer, then announces of later
     * epochs while attached). 0: map announced pools without a lease (no
     * driver needed). The lease is renewed in the duty cycle. */
    int attach_via_driver;
    /* stream-id defaults, and with attach_via_driver the driver client's
     * settings; NULL = tp_client_context_init (environment) */
    const tp_client_context_t *client;
    uint64_t activity_window_ns;      /* producer liveness window; 0: 3 s */
    int64_t request_interval_ns;      /* first retry after; 0: 250 ms */
    int64_t request_backoff_max_ns;   /* retry interval doubles up to this; 0: 4x interval */
    uint32_t max_frames_per_input;    /* window frames delivered per input (newest); 0: 8; WINDOW_NS at most 64 */
    uint32_t history;                 /* descriptors remembered per input (power of 2); 0: 256 */
    /* SEQUENCE: first output under the first map applied (raised to the
     * first out_seq the rules allow; later maps start as TP_JOIN_OUT_AUTO);
     * TP_JOIN_OUT_AUTO: the newest output every input can still reach, derived
     * once every input has been observed after the map was applied. */
    uint64_t first_out_seq;
    /* TIMESTAMP: candidates for out_time are the observed times of this input
     * (0: the first rule's input), with its rule's timestamp source. */
    uint32_t trigger_stream_id;
    uint32_t max_outputs_per_cycle;   /* 0: 16 */
    int poll_limit;                   /* messages per subscription per cycle; 0: 64 */
    tp_join_stage_fn on_output;       /* required */
    void *clientd;
    tp_merge_authority_t *authority;  /* optional co-located authority: answers requests seen here */
    /* MergeMaps only from this process's publication (transport publisher
     * pid); 0: the first publication a valid map came from sticks. On a
     * transport that reports no pid (aeron:) the first publication sticks
     * either way. */
    int32_t authority_pid;
    int64_t authority_timeout_ns;     /* pinned authority silent this long counts as gone; 0: 5 s */
    int64_t blocked_after_ns;         /* next output not ready this long -> blocked; 0: 1 s */
} tp_join_agent_config_t;

/* Defaults for a join of `mode` producing `out_stream_id` at output epoch
 * `epoch` (capacity 8; everything else 0 = default). */
TP_API void tp_join_agent_config_init(tp_join_agent_config_t *cfg, tp_join_mode_t mode, uint32_t out_stream_id,
                                      uint64_t epoch);

/* Add an input stream (descriptor stream 0 = 1100). 0 or -1 when full/bad. */
TP_API int tp_join_agent_config_add_input(tp_join_agent_config_t *cfg, uint32_t stream_id, int32_t descriptor_stream_id);

typedef struct tp_join_agent_s tp_join_agent_t;

/* Allocate everything and open the control subscription and publication and
 * one subscription per distinct descriptor stream. 0 or -1. */
TP_API int tp_join_agent_create(const tp_join_agent_config_t *cfg, tp_join_agent_t **out);

/* Release every subscription, publication and mapping, then free. NULL-safe. */
TP_API void tp_join_agent_destroy(tp_join_agent_t *a);

/* One duty cycle at monotonic time `now` (no allocation). Returns work done
 * (messages + outputs + requests), -1 on error. */
TP_API int tp_join_agent_do_work(tp_join_agent_t *a, int64_t now);

/* Agent interface for a runner/invoker: do_work with the cached clock, and
 * on_close releases subscriptions and mappings (destroy still frees). */
TP_API tp_agent_t tp_join_agent_as_agent(tp_join_agent_t *a);

/* Release subscriptions, publication and mappings now (idempotent). */
TP_API void tp_join_agent_close(tp_join_agent_t *a);

/* Expect output epoch `epoch` (§3.9): a different one drops the map and
 * blocks until a map for it arrives; the request timer restarts. */
TP_API int tp_join_agent_set_output_epoch(tp_join_agent_t *a, uint64_t epoch);

/* The trace ids of the frames an output was made of, for
 * tp_producer_commit_derived: every delivered frame of every input, in input
 * order and within an input oldest first, zeros and repeats left out
 * (TL-D4). Writes at most cap (TL-D6: 256 suffice for a TraceLinkSet) and
 * returns how many it wrote; *truncated (may be NULL) says whether more
 * frames had ids. No allocation. */
TP_API uint32_t tp_join_output_trace_parents(const tp_join_output_t *out, uint64_t *parents, uint32_t cap,
                                             int *truncated);

/* Re-check bytes read through a frame's view (seqlock end, §3.6): 1 if the
 * slot was not overwritten meanwhile, 0 if the data must be discarded. */
TP_API int tp_join_frame_still_valid(const tp_join_frame_t *f);

/* The barrier (read-only use: explain, stale query). */
TP_API const tp_join_barrier_t *tp_join_agent_barrier(const tp_join_agent_t *a);

/* ---- per-input metadata (tensorpool/meta.h) ----
 * Each input's DataSourceAnnounce, DataSourceMeta and meta blob, followed on
 * the metadata stream (the client context's metadata_stream_id) during
 * tp_join_agent_do_work, into stores with the default limits allocated at
 * create. A frame's version is its view's header.meta_version: check it
 * with tp_meta_current. */

/* The store of input stream_id, NULL if it is not an input. */
TP_API const tp_meta_store_t *tp_join_agent_input_meta(const tp_join_agent_t *a, uint32_t stream_id);
/* One handler for every input (tp_meta_stream_id tells which). */
TP_API void tp_join_agent_on_meta(tp_join_agent_t *a, tp_meta_handler_t h, void *clientd);

typedef struct tp_join_agent_stats_s {
    uint64_t duty_cycles;
    uint64_t outputs;            /* stage callbacks */
    uint64_t outputs_with_stale; /* outputs with at least one stale input */
    uint64_t outputs_waited;     /* outputs first found not ready with some input already there
                                    (the stage waited on the others) */
    uint64_t descriptors;        /* FrameDescriptors of tracked inputs */
    uint64_t announces_applied;  /* REPLACED */
    uint64_t announces_refreshed;
    uint64_t announces_invalid;
    uint64_t announces_ignored;  /* other stream, kind, stale epoch */
    uint64_t requests_sent;
    uint64_t malformed;          /* control or descriptor messages that failed to decode */
    uint64_t frames_read;        /* single reads that succeeded */
    uint64_t frames_dropped;     /* single reads that failed (late, torn, invalid): not delivered */
    uint64_t frames_unmapped;    /* frames delivered without a view because their input's pool was not
                                    mapped yet (before the attach answer or the announce); only when
                                    shm_base_dir is set (descriptor-only agents never have views) */
    uint64_t outputs_without_view; /* outputs (counted in `outputs`) in which some present input
                                    delivered no frame, a dropped one or one without a view; only when
                                    shm_base_dir is set. outputs - outputs_without_view outputs carried
                                    a payload view for every frame of every present input. */
    uint64_t mappings;           /* pools mapped */
    uint64_t map_failures;       /* announced pools that could not be mapped */
    uint64_t disconnects;        /* mappings released: lease revoked or producer gone */
    uint64_t input_epoch_changes;
    uint64_t control_loss;       /* ipc messages lost (lapped) on the control stream */
    uint64_t unbound_rules;      /* rules of the active map naming a stream that is not an input (never ready) */
    uint64_t leases;             /* attach_via_driver: CONSUMER leases granted */
    uint64_t leases_lost;        /* attach_via_driver: leases revoked, expired or lost */
    uint64_t announces_refused;  /* announces for our output from a publication other than the authority's */
    uint64_t epoch_blocks;       /* SEQUENCE: maps dropped because an input moved to a newer epoch */
    uint64_t outputs_incomplete; /* outputs where some rule's input delivered no frame */
    /* FrameDescriptors refused (docs/threat-model.md), not in `descriptors` when foreign: */
    uint64_t descriptors_other_epoch; /* not of the input's epoch (only the driver's announce or grant moves it) */
    uint64_t descriptors_not_in_slot; /* the slot it names does not hold that seq (never written, or overwritten) */
    uint64_t descriptors_replayed;    /* at or below the newest seq already taken in the epoch */
    uint64_t descriptors_foreign;     /* from a transport log another uid owns */
    uint64_t control_foreign;         /* control messages from a transport log another uid owns */
} tp_join_agent_stats_t;
TP_API void tp_join_agent_stats(const tp_join_agent_t *a, tp_join_agent_stats_t *out);

/* What the agent is doing, for operators (explain). */
typedef enum tp_join_agent_state_e {
    TP_JOIN_AGENT_FLOWING = 0, /* map in force, outputs complete */
    TP_JOIN_AGENT_BLOCKED,     /* no map in force, or the next output not ready for blocked_after_ns */
    TP_JOIN_AGENT_DEGRADED     /* the last output had an input with no frame */
} tp_join_agent_state_t;

typedef struct tp_join_agent_status_s {
    tp_join_agent_state_t state;
    int64_t since_ns;            /* monotonic time the state began (0: unknown) */
    uint32_t stream_id;          /* the input the reason names, 0 if none */
    uint64_t wanted_epoch;       /* output epoch awaited when blocked without a map */
    char reason[128];            /* e.g. "input 2 epoch changed, waiting for map epoch 3" */
} tp_join_agent_status_t;

/* Current status (no allocation). */
TP_API void tp_join_agent_status(const tp_join_agent_t *a, tp_join_agent_status_t *out);

/* "flowing", "blocked", "degraded". */
TP_API const char *tp_join_agent_state_name(tp_join_agent_state_t s);

#ifdef __cplusplus
}
#endif
#endif
