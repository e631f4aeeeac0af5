/* Internal halves of FrameProgress embedded in the producer (progress_tx.c:
 * who opted in, the merged throttle, the frame being reported) and in the
 * consumer (progress_rx.c: validation of each message against the mapped
 * slot, per-frame tracking). Fixed-size state, nothing allocated. */
#ifndef TP_CLIENT_PROGRESS_INTERNAL_H
#define TP_CLIENT_PROGRESS_INTERNAL_H

#include "tensorpool/codec/control.h"
#include "tensorpool/frame_progress.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_reader.h"
#include "tensorpool/shm_writer.h"

#include <stddef.h>
#include <stdint.h>

#define TP_PROGRESS_MAX_CONSUMERS 16
#define TP_PROGRESS_TRACKED 8

/* Bytes of one outer-dimension row, the unit a prefix is rounded down to
 * (W-10.2.2.i): the declared progress stride when progress_unit is ROWS or
 * COLUMNS, else the largest resolved stride of a contiguous tensor (all
 * strides inferred), else 0: no prefix is layout-safe. t already passed
 * tp_tensor_header_check, which resolved `resolved`. */
static inline uint64_t tp_progress_row_bytes(const tp_tensor_header_t *t, const int32_t resolved[TP_TENSOR_MAX_DIMS])
{
    if (t->progress_unit != TP_CONTROL_PROGRESS_UNIT_NONE) return t->progress_stride_bytes;
    uint64_t row = 0;
    for (unsigned k = 0; k < t->ndims && k < TP_TENSOR_MAX_DIMS; k++) {
        if (t->strides[k] != 0) return 0;
        if ((uint64_t)resolved[k] > row) row = (uint64_t)resolved[k];
    }
    return row;
}

/* ---- producer side ---- */

typedef struct tp_progress_peer_s {
    uint32_t consumer_id;
    int used;
    int64_t last_seen_ns;
    tp_progress_hints_t hints; /* 0 = null */
} tp_progress_peer_t;

typedef struct tp_progress_tx_s {
    tp_progress_policy_t policy;
    tp_progress_peer_t peer[TP_PROGRESS_MAX_CONSUMERS];
    unsigned npeers;
    /* merged throttle (W-10.1.2.d), recomputed when the peers change */
    int64_t interval_ns;
    uint64_t bytes_delta;
    uint32_t major_units;
    /* the frame being reported */
    int active;
    uint64_t epoch, seq;
    uint64_t len, row_bytes;
    uint64_t sent_filled, pending_filled;
    uint8_t state;      /* latest state sent */
    int64_t last_sent_ns; /* per stream: one PROGRESS per interval across frames */
    uint64_t sent, throttled;
    uint8_t tx[64];
} tp_progress_tx_t;

/* What a FrameProgress is sent with. */
typedef struct tp_progress_out_s {
    tp_ipc_publication_t *pub;
    uint32_t stream_id;
    uint64_t epoch;
} tp_progress_out_t;

/* Encode one FrameProgress into buf; its length or -1 when cap is short. */
long tp_progress_encode(uint8_t *buf, size_t cap, uint32_t stream_id, uint64_t epoch, uint64_t seq, uint64_t filled,
                        uint8_t state);

void tp_progress_tx_init(tp_progress_tx_t *t);
int tp_progress_tx_set_policy(tp_progress_tx_t *t, const tp_progress_policy_t *policy);
/* A ConsumerHello (decoded, our stream): opt the consumer in or out. */
void tp_progress_tx_on_hello(tp_progress_tx_t *t, const tp_control_consumer_hello_dec_t *m, int64_t now_ns);
/* A sign of life (QosConsumer) or an end (lease revoked, alive = 0). */
void tp_progress_tx_seen(tp_progress_tx_t *t, uint32_t consumer_id, int alive, int64_t now_ns);
/* Drop consumers silent for longer than stale_ns; send the latest pending
 * state once the interval has passed (W-10.2.2.k). */
void tp_progress_tx_do_work(tp_progress_tx_t *t, const tp_progress_out_t *o, int64_t stale_ns, int64_t now_ns);
/* tp_producer_progress after the attach check: stage the header on STARTED. */
int tp_progress_tx_update(tp_progress_tx_t *t, const tp_progress_out_t *o, tp_shm_writer_t *w, const tp_shm_claim_t *c,
                          uint32_t meta_version, uint64_t bytes_filled, int64_t now_ns);
/* The frame was committed: COMPLETE if it was being reported and not yet. */
void tp_progress_tx_on_commit(tp_progress_tx_t *t, const tp_progress_out_t *o, const tp_shm_claim_t *c);

/* Whether tp_progress_tx_update staged claim c's slot header (STARTED went
 * out): its commit must then leave the TensorHeader alone
 * (tp_shm_writer_commit_staged). */
static inline int tp_progress_tx_staged(const tp_progress_tx_t *t, const tp_progress_out_t *o, const tp_shm_claim_t *c)
{
    return t->active && t->seq == c->seq && t->epoch == o->epoch;
}

/* ---- consumer side ---- */

typedef struct tp_progress_track_s {
    uint64_t epoch, seq;
    uint64_t filled;
    uint8_t state;
    uint8_t used, dropped;
} tp_progress_track_t;

typedef struct tp_progress_rx_s {
    int enabled;
    tp_progress_hints_t hints;
    tp_progress_handler_t handler;
    void *clientd;
    tp_progress_track_t track[TP_PROGRESS_TRACKED];
    tp_progress_counters_t cnt;
} tp_progress_rx_t;

/* One FrameProgress (template 11, already known) for stream_id against the
 * mapping r (NULL when unmapped). Counts every outcome; calls the handler
 * for a valid one and counts `overwritten` if the slot changed under it. */
void tp_progress_rx_on_message(tp_progress_rx_t *x, const tp_shm_reader_t *r, uint32_t stream_id, const uint8_t *buf,
                               size_t len);

/* Put the hello fields (supports_progress and the three hints). */
void tp_progress_rx_hello(const tp_progress_rx_t *x, tp_control_consumer_hello_enc_t *e);

#endif
