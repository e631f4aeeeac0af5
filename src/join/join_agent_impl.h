/* Internal layout of tp_join_agent_t, shared by the join_agent*.c files:
 *   join_agent.c             lifecycle, duty cycle, control dispatch, agent glue
 *   join_agent_maps.c        MergeMap announces and requests, rule binding
 *   join_agent_inputs.c      per-input data plane: pool announces, driver leases,
 *                            mapping, revoke, producer liveness
 *   join_agent_descriptors.c FrameDescriptor intake and the remembered history
 *   join_agent_output.c      readiness, frame selection, delivery to the stage
 * Not installed. The ja_ functions are hidden: they are not part of the
 * shared library's ABI. */
#ifndef TP_JOIN_AGENT_IMPL_H
#define TP_JOIN_AGENT_IMPL_H

#include "tensorpool/codec/sbe.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/ipc.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/meta.h"

#include <stddef.h>
#include <stdint.h>

#define NO_INPUT UINT32_MAX

/* One remembered FrameDescriptor, for frame selection by time. */
typedef struct hist_entry_s {
    uint64_t seq;     /* UINT64_MAX = empty */
    uint64_t fd_ts;   /* descriptor timestamp, UINT64_MAX if null */
    uint64_t slot_ts; /* slot-header timestamp if it was read, else UINT64_MAX */
    uint64_t trace_id; /* descriptor's trace id, 0 if none */
} hist_entry_t;

typedef struct input_s {
    uint32_t stream_id;
    int32_t desc_stream;
    int has_epoch;
    uint64_t epoch;
    int epoch_confirmed; /* `epoch` came from the driver (announce or grant), not from a descriptor */
    int epoch_has_last;  /* a descriptor of `epoch` was taken: epoch_last is the newest seq */
    uint64_t epoch_last;
    int has_seq;      /* a descriptor seen since the last map apply */
    uint64_t last_seq;
    int fired;        /* LatestValue: fired_seq is set */
    uint64_t fired_seq;
    int needs_slot_ts; /* some rule of the active map reads SLOT_HEADER time */
    hist_entry_t *hist;
    /* data plane */
    int mapped;
    uint64_t mapped_epoch;
    uint64_t mapped_pid;
    tp_shm_reader_t reader;
    tp_driver_client_t *dc; /* attach_via_driver: this input's CONSUMER lease */
    tp_meta_store_t *meta;  /* the input's metadata (join_agent_meta.c) */
    struct tp_join_agent_s *agent;
} input_t;

typedef struct desc_sub_s {
    int32_t stream;
    tp_ipc_subscription_t *sub;
} desc_sub_t;

struct tp_join_agent_s {
    tp_join_agent_config_t cfg;
    tp_ipc_context_t ipc;
    tp_client_context_t client;
    char channel[64];
    tp_join_barrier_t *barrier;
    tp_merge_map_t scratch; /* decoded announce, capacity = barrier capacity */
    tp_ipc_subscription_t *control;
    tp_ipc_publication_t *control_pub;
    uint32_t ndesc;
    desc_sub_t desc[TP_JOIN_AGENT_MAX_INPUTS];
    uint32_t ninputs;
    input_t inputs[TP_JOIN_AGENT_MAX_INPUTS];
    uint32_t hist_mask;
    /* per rule of the active map */
    uint32_t capacity;
    uint32_t *rule_input;
    tp_join_input_t *out_inputs;
    tp_join_frame_t *frames; /* capacity * max_frames */
    tp_join_latest_t *latest;
    uint32_t max_frames;
    /* SHM bases, initialised on the first pool announce (the dir may not exist at create) */
    int bases_ok;
    tp_shm_bases_t bases;
    /* output candidates */
    uint64_t next_out_seq; /* TP_JOIN_OUT_AUTO until derived */
    uint64_t out_floor;    /* SEQUENCE: first out_seq every rule can ever satisfy */
    uint64_t out_count;
    int held_back; /* the pending output was found partly satisfied and not ready */
    uint64_t *tq;          /* TIMESTAMP: pending out_time candidates (ring) */
    uint32_t tq_mask, tq_head, tq_len;
    uint32_t trigger_input; /* index into inputs, NO_INPUT if none */
    uint8_t trigger_source;
    /* timers */
    int64_t next_request;
    int64_t cur_request_interval;
    int64_t next_liveness;
    int closed;
    int64_t now; /* cached clock of the current cycle */
    int64_t join_time_ns; /* when the control subscription opened (W-10.1.1.f) */
    uint32_t own_uid;     /* messages are taken only from transport logs this uid owns */
    /* MergeMap authority pin: the publication maps are taken from */
    int auth_pinned;
    uint64_t auth_publisher_id;
    int32_t auth_pid;
    int64_t auth_last_ns;
    /* SEQUENCE: blocked by an input epoch change until a map of wanted epoch */
    int epoch_blocked;
    uint32_t epoch_block_stream;
    /* status */
    int64_t not_ready_since; /* pending output first found not ready; 0: none */
    int64_t blocked_since;   /* no map since; 0: a map is in force */
    int64_t incomplete_since; /* first of the current run of incomplete outputs; 0: last output complete */
    uint32_t incomplete_stream;
    int work;
    tp_join_agent_stats_t stats;
    tp_ipc_subscription_t *meta_sub; /* metadata stream (join_agent_meta.c) */
};

/* join_agent_meta.c: per-input metadata stores and the metadata subscription. */
int ja_meta_open(tp_join_agent_t *a);
void ja_meta_poll(tp_join_agent_t *a);
void ja_meta_close(tp_join_agent_t *a);
void ja_meta_free(tp_join_agent_t *a);

static inline uint32_t ja_input_find(const tp_join_agent_t *a, uint32_t stream_id)
{
    for (uint32_t i = 0; i < a->ninputs; i++)
        if (a->inputs[i].stream_id == stream_id) return i;
    return NO_INPUT;
}

/* A remembered frame's time under timestamp source `source`. */
static inline uint64_t ja_hist_ts(const hist_entry_t *e, uint8_t source)
{
    return source == TP_TS_SOURCE_SLOT_HEADER ? e->slot_ts : e->fd_ts;
}

/* Every message polled counts as work; one shorter than an SBE header is
 * malformed. 0 with *h read, or -1. */
static inline int ja_msg_header(tp_join_agent_t *a, const uint8_t *buf, size_t len, tp_sbe_header_t *h)
{
    a->work++;
    if (tp_sbe_header_read(buf, len, h) == 0) return 0;
    a->stats.malformed++;
    return -1;
}

/* join_agent.c: one control-stream message (also the fuzz target's entry) */
void ja_on_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info);

/* join_agent_maps.c */
void ja_apply_announce(tp_join_agent_t *a, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info);
/* SEQUENCE: input `in` moved to a newer epoch; the map no longer relates it. */
void ja_on_input_epoch_change(tp_join_agent_t *a, const input_t *in);
void ja_send_request(tp_join_agent_t *a);
/* Expect output epoch `epoch` (drops a map of another epoch) and ask for its
 * map in this cycle. 0 or -1. */
int ja_expect_epoch(tp_join_agent_t *a, uint64_t epoch);

/* join_agent_inputs.c */
void ja_input_unmap(tp_join_agent_t *a, input_t *in, int disconnect);
int ja_lease_attached(void *clientd, const tp_lease_t *l);
void ja_lease_lost(void *clientd, const char *why);
void ja_on_pool_announce(tp_join_agent_t *a, const uint8_t *buf, size_t len);
void ja_on_lease_revoked(tp_join_agent_t *a, const uint8_t *buf, size_t len);
void ja_check_liveness(tp_join_agent_t *a);

/* join_agent_descriptors.c */
void ja_hist_clear(tp_join_agent_t *a, input_t *in);
/* The input's frames are now those of `epoch`: a change resets what the
 * input and the barrier remember of it and, in a SEQUENCE join, blocks the
 * map (ja_on_input_epoch_change). `confirmed`: the driver said so (announce
 * or grant); else a descriptor did, provisionally. */
void ja_input_enter_epoch(tp_join_agent_t *a, input_t *in, uint64_t epoch, int confirmed);
void ja_on_descriptor(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info);
/* A duty cycle that took no descriptor: each mapped input's reader asks
 * for its next frame's lines now and then (tp_shm_reader_prefetch_idle). */
void ja_idle_prefetch(tp_join_agent_t *a);

/* join_agent_output.c */
void ja_evaluate(tp_join_agent_t *a);

#endif
