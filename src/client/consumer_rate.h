/* A consumer's RATE_LIMITED state (W-11.b/c, W-5.e): the requested rate, whether
 * the producer paces our per-consumer stream for us, the local gate, and
 * the newest eligible descriptor of the current poll, read only once the
 * poll's batch is through so that the frame delivered is always the newest
 * one the gate lets pass. Private to src/client. */
#ifndef TP_CLIENT_CONSUMER_RATE_H
#define TP_CLIENT_CONSUMER_RATE_H

#include "tensorpool/consumer_rate.h"
#include "tensorpool/rate_gate.h"
#include "tensorpool/shm_drops.h"

typedef struct tp_consumer_rate_s {
    tp_rate_gate_t gate;
    int granted;      /* ConsumerConfig granted RATE_LIMITED on our per-consumer stream */
    int pending;      /* a descriptor waits for the end of the batch */
    uint64_t p_epoch, p_seq, p_desc_ts, p_time, p_trace;
    uint32_t p_meta_version;
    uint64_t delivered, skipped_local, skipped_producer;
} tp_consumer_rate_t;

TP_INTERNAL void tp_consumer_rate_init(tp_consumer_rate_t *r, uint32_t max_rate_hz);

/* 1 when the consumer is in RATE_LIMITED mode (max_rate_hz > 0). */
TP_INTERNAL int tp_consumer_rate_on(const tp_consumer_rate_t *r);

/* A new mapping or epoch: the gate starts again and nothing stays pending (RL-4.d). */
TP_INTERNAL void tp_consumer_rate_reset(tp_consumer_rate_t *r);

/* A readable descriptor in RATE_LIMITED mode: skipped (counted) if the
 * gate holds it back, otherwise it becomes the pending one, and the one it
 * replaces is skipped. */
TP_INTERNAL void tp_consumer_rate_offer(tp_consumer_rate_t *r, uint64_t epoch, uint64_t seq, uint64_t desc_ts,
                                        uint64_t trace_id, uint32_t meta_version, uint64_t now_ns);

/* After tp_shm_drops_on_descriptor: on a stream the producer paces for us,
 * a seq gap is frames it held back on purpose, so it moves from drops_gap
 * (gaps_before was drops_gap before the call) to skipped_producer. */
TP_INTERNAL void tp_consumer_rate_on_gap(tp_consumer_rate_t *r, tp_shm_drops_t *d, uint64_t gaps_before);

/* The pending frame was handed to the application (1) or could not be read (0). */
TP_INTERNAL void tp_consumer_rate_done(tp_consumer_rate_t *r, int delivered);

TP_INTERNAL void tp_consumer_rate_stats_of(const tp_consumer_rate_t *r, tp_consumer_rate_stats_t *out);

#endif
