/* RATE_LIMITED consumers (docs/spec/wire.md W-11.b/c, W-5.e; user guide
 * "Rate-limited delivery").
 *
 * A consumer that wants at most N frames a second (a UI preview, a logger)
 * sets max_rate_hz. It then says so in ConsumerHello (mode RATE_LIMITED).
 * If it also asked for a per-consumer descriptor stream and the producer
 * grants it in RATE_LIMITED mode, the producer publishes there at most N
 * descriptors a second (W-5.e); otherwise, or in addition, the consumer
 * decimates on its own side: of the descriptors it reads it delivers at
 * most N a second, timed by their FrameDescriptor timestamps (W-11.c), and
 * always the newest one the gate lets pass in a poll. Frames passed over
 * are counted here, apart from drops. Nothing here allocates on the poll
 * path.
 */
#ifndef TENSORPOOL_CONSUMER_RATE_H
#define TENSORPOOL_CONSUMER_RATE_H

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tp_consumer_s;

typedef struct tp_consumer_rate_stats_s {
    uint32_t max_rate_hz;      /* requested; 0 = STREAM mode */
    int granted;               /* 1 while the producer paces our per-consumer stream (W-5.e) */
    uint64_t delivered;        /* frames handed to the application in RATE_LIMITED mode */
    uint64_t skipped_local;    /* frames this consumer passed over to keep the rate */
    uint64_t skipped_producer; /* seq gaps on a stream the producer paces: frames it held back */
} tp_consumer_rate_stats_t;

/* Switch to RATE_LIMITED at max_rate_hz (0: back to STREAM). Takes effect
 * with the next descriptor; a fresh ConsumerHello goes out with the next
 * poll. 0, or -1 if c is NULL. */
TP_API int tp_consumer_set_max_rate(struct tp_consumer_s *c, uint32_t max_rate_hz);

TP_API void tp_consumer_rate_stats(const struct tp_consumer_s *c, tp_consumer_rate_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
