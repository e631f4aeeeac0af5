/* Producer client: attaches as the stream's PRODUCER, maps the regions the
 * driver created read-write (never creating one, D-2.2.b), writes frames
 * under the seqlock and publishes a FrameDescriptor for each (W-10.2.1.a/g).
 * Also sends QosProducer and DataSourceAnnounce at the QoS cadence and
 * DataSourceMeta on change and periodically (docs/spec/wire.md §10.3, §10.4).
 *
 * Single-threaded: call tp_producer_do_work regularly (it drives the lease);
 * claim/commit/offer in between. Hot path (claim, commit, offer): no
 * allocation, no syscall.
 */
#ifndef TENSORPOOL_PRODUCER_H
#define TENSORPOOL_PRODUCER_H

#include "tensorpool/client.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/shm_writer.h"
#include "tensorpool/tensor_header.h"
#include "tensorpool/trace.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_producer_s tp_producer_t;

/* One DataSourceMeta attribute (key/format/value, W-10.3.2.a). */
typedef struct tp_meta_attr_s {
    const char *key;
    const char *format; /* e.g. "text", "json" */
    const void *value;
    size_t value_len;
} tp_meta_attr_t;

/* Open and start attaching to stream_id (REQUIRE_EXISTING unless create is
 * non-zero). name/summary go into DataSourceAnnounce (may be NULL). 0 or -1. */
TP_API int tp_producer_open(tp_producer_t **out, const tp_client_context_t *ctx, uint32_t stream_id, int create, const char *name,
                            const char *summary);

/* Drive the lease, QoS and metadata. Work count or -1. */
TP_API int tp_producer_do_work(tp_producer_t *p, int64_t now_ns);

/* 1 when attached and mapped (frames can be written). */
TP_API int tp_producer_is_active(const tp_producer_t *p);

/* Epoch of the current mapping (0 when not active). */
TP_API uint64_t tp_producer_epoch(const tp_producer_t *p);

/* Times the producer gave up an epoch because another process truncated one
 * of its region files (SIGBUS caught, see src/shm/README.md) or overwrote a
 * superblock; *why (if not NULL) gets the latest reason ("" if none). It
 * then attaches anew and continues in a fresh epoch. */
TP_API uint64_t tp_producer_faults(const tp_producer_t *p, const char **why);

/* Seq the next frame will get. */
TP_API uint64_t tp_producer_next_seq(const tp_producer_t *p);

/* Start a frame of len bytes described by t: the payload is then written
 * in place at c->payload. -1 when not active (TP_ERR_STATE) or as
 * tp_shm_writer_claim. */
TP_API int tp_producer_claim(tp_producer_t *p, const tp_tensor_header_t *t, uint32_t len, tp_shm_claim_t *c);

/* Commit a claimed frame (capture time timestamp_ns) and publish its
 * FrameDescriptor. 0, or -1 when the descriptor could not be sent (the frame
 * is committed), or -1 with TP_ERR_TRUNCATED when someone else truncated the
 * epoch's files under the frame: it is not committed (what was written went
 * nowhere a consumer can see), and the producer gives the epoch up and
 * attaches anew at once (tp_producer_faults says why). */
TP_API int tp_producer_commit(tp_producer_t *p, tp_shm_claim_t *c, uint64_t timestamp_ns);

/* Claim for a given seq (>= tp_producer_next_seq): a bridge receiver keeps
 * the source's sequence numbers (docs/spec/bridge.md BR-6.g). */
TP_INTERNAL int tp_producer_claim_at(tp_producer_t *p, const tp_tensor_header_t *t, uint32_t len, uint64_t seq,
                                     tp_shm_claim_t *c);

/* Whether the producer sends its own DataSourceAnnounce (default on). A
 * bridge receiver that republishes the source's forwarded announce turns it
 * off so the stream has exactly one (docs/spec/bridge.md BR-P8). */
TP_INTERNAL void tp_producer_set_announce(tp_producer_t *p, bool on);

/* Whether FrameDescriptor.timestamp_ns carries the publish time, read from
 * CLOCK_MONOTONIC right after each commit (default on; $TP_PUBLISH_TIMESTAMP
 * = "off" makes every producer of the process start off). Off, the field is
 * null, as docs/spec/wire.md W-10.2.1.e recommends when nothing needs it,
 * and a commit reads no clock. That read is more than its own 20-25 ns:
 * a two-process frame round trip (two commits) was 88-97 ns shorter
 * without it on the development VM (bench_frame_rtt, mid placement).
 * Keep it on when a join rule takes FRAME_DESCRIPTOR time (a null time is
 * never ready, JB-8.2.k) or consumers rate-limit by publish time (they fall
 * back to their own clock, W-11.c). Takes effect at the next commit. */
TP_API void tp_producer_set_publish_timestamp(tp_producer_t *p, bool on);

/* claim + copy from a user buffer + commit + publish. *seq_out may be NULL. */
TP_API int tp_producer_offer(tp_producer_t *p, const tp_tensor_header_t *t, const void *payload, uint32_t len,
                             uint64_t timestamp_ns, uint64_t *seq_out);

/* Replace the metadata attributes in one call. If they differ from those
 * set before, meta_version goes up by one (W-10.3.2.b) and the new
 * DataSourceMeta is sent at once and then with every QoS period; the same
 * attributes again change nothing. Frames committed afterwards carry the new
 * version. Strings are copied. 0 or -1 (more than 32 KiB encoded). Not hot path. */
TP_API int tp_producer_set_meta(tp_producer_t *p, const tp_meta_attr_t *attrs, unsigned count);

/* Replace the meta blob (large metadata such as a calibration file;
 * docs/spec/wire.md W-10.3.3.a): copied, up to 64 MiB, CRC32C-checked (D-18).
 * meta_version goes up by one, the DataSourceMeta is re-sent under it, and
 * the blob goes out as MetaBlobAnnounce, chunks and MetaBlobComplete, one
 * message per tp_producer_do_work, repeated every QoS period so late
 * consumers get it. blob_type is the application's. 0 or -1. Not hot path. */
TP_API int tp_producer_set_meta_blob(tp_producer_t *p, uint32_t blob_type, const void *data, uint64_t len);

/* The current meta_version (0 before any metadata was set). */
TP_API uint32_t tp_producer_meta_version(const tp_producer_t *p);

/* ---- lineage (docs/spec/tracelink.md) ----
 * Tracing starts as $TP_TRACE says ("per-frame", else off) with node id
 * $TP_TRACE_NODE (default: stream id modulo 1024). Per frame, every
 * tp_producer_commit/offer mints a new trace id for its FrameDescriptor;
 * off, the descriptor's trace id is 0. */

/* Set the mode and node id (0..1023; -1: stream id modulo 1024). 0 or -1. */
TP_API int tp_producer_set_tracing(tp_producer_t *p, tp_trace_mode_t mode, int32_t node_id);
TP_API tp_trace_mode_t tp_producer_trace_mode(const tp_producer_t *p);

/* Commit a frame that passes on one input frame's trace id unchanged (a 1->1
 * stage, TL-6.3.b). As tp_producer_commit otherwise. */
TP_API int tp_producer_commit_traced(tp_producer_t *p, tp_shm_claim_t *c, uint64_t timestamp_ns, uint64_t trace_id);

/* Commit a frame made from several input frames (a join output): a new trace
 * id goes into its FrameDescriptor and a TraceLinkSet naming `parents` (zeros
 * and repeats skipped, at most 256) is published on the control stream after
 * it, best effort (TL-6.3.c, TL-D3, TL-D5). Whatever the producer's mode.
 * With no parents (none of the inputs was traced) it is tp_producer_commit.
 * Hot path: no allocation, no syscall. 0 or -1 as tp_producer_commit. */
TP_API int tp_producer_commit_derived(tp_producer_t *p, tp_shm_claim_t *c, uint64_t timestamp_ns,
                                      const uint64_t *parents, uint32_t parent_count);

/* Trace id of the last committed frame (0 if none or untraced). */
TP_API uint64_t tp_producer_last_trace_id(const tp_producer_t *p);
/* TraceLinkSets published and dropped (could not be offered) so far. */
TP_API void tp_producer_trace_stats(const tp_producer_t *p, uint64_t *links_sent, uint64_t *links_dropped);

/* The lease holder (state, last answer code, stats). */
TP_API tp_driver_client_t *tp_producer_driver_client(tp_producer_t *p);

/* A stage republishing another stream (tp ratelimit): frames from now on
 * carry meta_version (RL-5.a), and with quiet set the producer sends no
 * DataSourceAnnounce of its own, since the source's are forwarded for it
 * (RL-6.a). */
TP_INTERNAL void tp_producer_mirror_meta(tp_producer_t *p, uint32_t meta_version, int quiet);

/* Detach and free. NULL is a no-op. */
TP_API void tp_producer_close(tp_producer_t *p);

#ifdef __cplusplus
}
#endif
#endif
