/* Consumer side of one data source's SHM: maps the announced ring and pools
 * (all or nothing, W-15.22.g) and reads frames under the seqlock with the
 * per-frame checks of docs/spec/wire.md §3.6 (consumer) and §5.4.
 *
 * Zero-copy reads are shaped begin(seq) -> view -> end(view) (§3.6): bytes
 * seen through a view are trustworthy only if end() returns TP_SHM_READ_OK.
 * Hot path (begin/end/read): no allocation, no syscall, never waits.
 */
#ifndef TENSORPOOL_SHM_READER_H
#define TENSORPOOL_SHM_READER_H

#include "tensorpool/shm_drops.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_path.h"
#include "tensorpool/shm_region.h"
#include "tensorpool/tensor_cache.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_shm_reader_pool_s {
    uint16_t pool_id;
    uint32_t stride_bytes;
    const char *uri; /* region URI as announced, not NUL-terminated */
    size_t uri_len;
} tp_shm_reader_pool_t;

/* The accepted announce, as far as SHM is concerned. */
typedef struct tp_shm_reader_config_s {
    uint32_t stream_id;
    uint64_t epoch;
    uint32_t layout_version;
    uint32_t nslots;          /* header_nslots */
    const char *ring_uri;
    size_t ring_uri_len;
    unsigned npools;
    tp_shm_reader_pool_t pools[TP_SHM_MAX_POOLS];
    uint64_t now_ns;          /* CLOCK_MONOTONIC at map time */
    uint64_t activity_window_ns; /* freshness window (3 s default); 0 skips the check */
    uint64_t max_seq_gap;     /* 0: TP_SHM_DEFAULT_MAX_SEQ_GAP */
} tp_shm_reader_config_t;

typedef struct tp_shm_reader_s {
    tp_shm_region_t ring;
    unsigned npools;
    tp_shm_region_t pool[TP_SHM_MAX_POOLS];
    uint16_t pool_id[TP_SHM_MAX_POOLS];
    uint32_t stride[TP_SHM_MAX_POOLS];
    uint32_t mask;        /* mapped nslots - 1 (W-10.2.1.j) */
    uint64_t epoch;
    uint32_t layout_version;
    tp_shm_drops_t drops; /* reset on every open (§5.3) */
    tp_reject_t last_reject; /* reason of the latest drops_invalid */
    tp_tensor_cache_t tensor; /* the last TensorHeader message that passed every check */
    unsigned last_pool;       /* the pool of the last frame begun: its payload is prefetched */
    unsigned idle_calls;      /* tp_shm_reader_prefetch_idle calls: it acts on every few */
    uint64_t prefetched;      /* the end of the window tp_shm_reader_prefetch_backlog last asked for */
} tp_shm_reader_t;

typedef enum tp_shm_read_e {
    TP_SHM_READ_OK = 0,  /* accepted (accepted++) */
    TP_SHM_READ_LATE,    /* not committed, other seq, or torn (drops_late++) */
    TP_SHM_READ_INVALID  /* stable slot failed a §5.4 check (drops_invalid++, D-15) */
} tp_shm_read_t;

/* A validated frame. header and strides come from the private copy of the
 * slot (§3.6 step 5); payload points into the mapped pool. */
typedef struct tp_shm_view_s {
    uint64_t seq;
    uint64_t seq_commit;     /* first load */
    const uint8_t *slot;     /* live slot, for end() */
    tp_slot_header_t header;
    int32_t strides[TP_TENSOR_MAX_DIMS]; /* resolved byte strides */
    const uint8_t *payload;  /* values_len_bytes readable bytes; NULL when 0 */
    uint32_t len;
    int payload_guard;       /* fault guard of the payload's pool mapping (truncated file: zeros) */
} tp_shm_view_t;

/* Map the ring and every pool (§5.1 step 10) through the containment rules
 * of bases, validating every superblock against cfg. On failure nothing
 * stays mapped (W-15.22.g) and the error names the region and the reason. */
TP_INTERNAL int tp_shm_reader_open(tp_shm_reader_t *r, const tp_shm_bases_t *bases, const tp_shm_reader_config_t *cfg);

TP_INTERNAL void tp_shm_reader_close(tp_shm_reader_t *r);

/* §3.6 consumer steps 2-7 for frame seq. TP_SHM_READ_OK: *v is a live view
 * that must be finished with tp_shm_reader_end. Any other result is final
 * (already counted) and v must not be used. r must be open: the epoch check
 * and the M0 rule (drop everything while unmapped, W-15.21.d) belong to the
 * caller, as does gap accounting (tp_shm_drops_on_descriptor) before it. */
TP_INTERNAL tp_shm_read_t tp_shm_reader_begin(tp_shm_reader_t *r, uint64_t seq, tp_shm_view_t *v);

/* Start fetching the lines tp_shm_reader_begin(seq) will read first (slot
 * header, payload), for a frame known to be committed already, so that
 * their misses overlap the frames read meanwhile. Only a hint: it reads
 * and changes nothing, and never faults. */
TP_INTERNAL void tp_shm_reader_prefetch(const tp_shm_reader_t *r, uint64_t seq);

/* seq is being taken and `backlog` more descriptors are already read: their
 * frames (most likely seq + 1, seq + 2, ...) were committed before them. Asks
 * for the lines of those up to TP_SHM_PREFETCH_AHEAD ahead not yet asked
 * for, so their misses overlap this frame's work instead of each following
 * the one before. One ahead hides a miss only if a frame takes as long as a
 * miss: across cores here a miss is 100-480 ns, a frame of a burst under
 * 100 ns. A forged seq moves the window for one call only. */
enum { TP_SHM_PREFETCH_AHEAD = 8 };
TP_INTERNAL void tp_shm_reader_prefetch_backlog(tp_shm_reader_t *r, uint64_t seq, uint32_t backlog);

/* For a reader with nothing to read, waiting for frame seq (the newest
 * taken + 1): every TP_SHM_IDLE_PREFETCH_EVERY calls, tp_shm_reader_prefetch
 * (seq). Called on each idle pass of a consumer or join agent
 * (shm_reader.c says why, and why not on every pass). */
TP_INTERNAL void tp_shm_reader_prefetch_idle(tp_shm_reader_t *r, uint64_t seq);

/* Whether the view's bytes were stable: the slot's seqlock word is unchanged
 * and the payload's pool file was not truncated under the mapping (its
 * pages would read as zeros, see tp_shm_region_guard). Two loads. */
TP_INTERNAL int tp_shm_view_intact(const tp_shm_view_t *v);

/* FrameProgress read of frame seq's slot while it may still be written
 * (D-24, docs/spec/wire.md §5.6): both seqlock loads must name seq (in
 * progress or committed) and the header copy must pass the §5.4 checks.
 * TP_SHM_READ_OK fills *v (payload: the slot's start, even when len is 0);
 * LATE: the slot holds another frame or changed; INVALID: *why says which
 * check failed. Counts nothing. */
TP_INTERNAL tp_shm_read_t tp_shm_reader_peek(const tp_shm_reader_t *r, uint64_t seq, tp_shm_view_t *v, tp_reject_t *why);

/* 1 if v's slot still names v->seq (in progress or committed) and its pool
 * was not truncated: bytes read through a peeked view are then the frame's. */
TP_INTERNAL int tp_shm_view_same_frame(const tp_shm_view_t *v);

/* §3.6 steps 8-11 after the caller is done with the view's bytes: OK if the
 * view is intact (tp_shm_view_intact; accepted++), else TP_SHM_READ_LATE
 * (drops_late++) and any work done on the view must be discarded. */
TP_INTERNAL tp_shm_read_t tp_shm_reader_end(tp_shm_reader_t *r, const tp_shm_view_t *v);

/* Copy-out read: begin, copy the payload to dst, end (re-checks after the
 * copy). On OK, dst holds exactly v->len bytes of frame seq. A payload longer
 * than cap is dropped as invalid (reason values-len). */
TP_INTERNAL tp_shm_read_t tp_shm_reader_read(tp_shm_reader_t *r, uint64_t seq, void *dst, size_t cap, tp_shm_view_t *v);

/* 1 if the activity timestamp of every mapped region is fresh at now_ns, the
 * ring's pid is unchanged (§5.2) and every superblock still has the magic,
 * layout_version and epoch it was mapped with (§5.1 step 8, W-15.18.b), and
 * no region's file was truncated under its mapping (tp_shm_region_lost); 0
 * means the consumer must unmap, with the reason in tp_errmsg()
 * (TP_ERR_TRUNCATED for a lost mapping, TP_ERR_MALFORMED for a changed
 * superblock, TP_ERR_STATE otherwise). */
TP_INTERNAL int tp_shm_reader_live(const tp_shm_reader_t *r, uint64_t pid, uint64_t now_ns, uint64_t window_ns);

/* The frame number the slot of seq holds or is being written with (its
 * seq_commit >> 1), without counting anything. A producer commits a slot
 * before it sends the slot's descriptor (W-10.2.1.g), so a descriptor whose
 * seq is above this names a frame that was never written: a forgery, to be
 * refused before it touches the gap accounting. r must be open. */
TP_INTERNAL uint64_t tp_shm_reader_slot_seq(const tp_shm_reader_t *r, uint64_t seq);

#ifdef __cplusplus
}
#endif
#endif
