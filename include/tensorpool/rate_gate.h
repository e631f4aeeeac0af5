/* Rate gate: decides which frames a RATE_LIMITED reader takes so that at
 * most max_rate_hz of them pass (docs/spec/wire.md W-11.b/c, W-5.e;
 * docs/spec/ratelimiter.md RL-4.*). Pure: no clock, no I/O, no allocation.
 * Frames are timed by the timestamp they carry (FrameDescriptor.timestampNs,
 * else SlotHeader.timestampNs, else a local monotonic clock: W-11.c), never
 * by when they arrive, so a backlog read in one burst is decimated as it
 * was produced.
 *
 * The rule (RL-4.b): the first frame after a reset passes at once; after a
 * frame at time t passes, the next one due is at t + period (1e9 /
 * max_rate_hz ns) on a grid, so the long-run rate is max_rate_hz even when
 * frame times jitter around the grid; a frame later than half a period
 * past its due time re-anchors the grid at itself, so a pause never
 * releases a burst. 0 Hz means no limit: every frame passes.
 */
#ifndef TENSORPOOL_RATE_GATE_H
#define TENSORPOOL_RATE_GATE_H

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_RATE_TS_NULL UINT64_MAX /* FrameDescriptor/SlotHeader timestamp absent */

typedef struct tp_rate_gate_s {
    uint32_t max_rate_hz; /* 0 = unlimited */
    uint64_t period_ns;
    uint64_t due_ns;      /* earliest timestamp of the next frame to pass */
    int have;             /* a frame passed since the last reset */
} tp_rate_gate_t;

/* Set the rate (0 = unlimited) and reset. */
TP_API void tp_rate_gate_init(tp_rate_gate_t *g, uint32_t max_rate_hz);

/* Forget the last frame: the next one passes at once (after a remap, a new
 * epoch or a restart, RL-4.d). */
TP_API void tp_rate_gate_reset(tp_rate_gate_t *g);

/* 1 if a frame stamped ts_ns may pass now. A timestamp more than a period
 * before the last frame that passed (a clock that went back: another
 * producer) also passes, and re-anchors the grid when taken. */
TP_API int tp_rate_gate_eligible(const tp_rate_gate_t *g, uint64_t ts_ns);

/* Record that the frame stamped ts_ns passed. */
TP_API void tp_rate_gate_take(tp_rate_gate_t *g, uint64_t ts_ns);

/* The time a frame is gated by (W-11.c): the descriptor's timestamp when
 * present, else the slot header's, else now_ns. */
TP_API uint64_t tp_rate_gate_frame_time(uint64_t descriptor_ts_ns, uint64_t slot_ts_ns, uint64_t now_ns);

#ifdef __cplusplus
}
#endif
#endif
