/* Producer side of one data source's SHM: creates the header ring and the
 * payload pools in the canonical layout, and publishes frames under the
 * seqlock (docs/spec/wire.md §3.6 producer, W-8.3.b, W-9).
 *
 * Hot path (claim/commit/publish): no allocation, no syscall.
 */
#ifndef TENSORPOOL_SHM_WRITER_H
#define TENSORPOOL_SHM_WRITER_H

#include "tensorpool/shm_region.h"
#include "tensorpool/shm_uri.h"
#include "tensorpool/tensor_cache.h"
#include "tensorpool/tensor_header.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_shm_pool_config_s {
    uint16_t pool_id;
    uint32_t stride_bytes; /* non-zero multiple of 64 (W-15.22.e) */
} tp_shm_pool_config_t;

typedef struct tp_shm_writer_config_s {
    const char *base_dir;  /* absolute shm_base_dir; NULL: TP_SHM_DEFAULT_BASE_DIR */
    const char *user;      /* NULL: the effective user (W-15.21a.3.b) */
    const char *ns;        /* namespace, [A-Za-z0-9_-]+ */
    uint32_t stream_id;
    uint64_t epoch;
    uint32_t nslots;       /* power of two */
    unsigned npools;       /* 1..TP_SHM_MAX_POOLS, unique pool ids (D-20) */
    tp_shm_pool_config_t pools[TP_SHM_MAX_POOLS];
    int require_hugepages; /* all regions on hugetlbfs, or open fails */
    unsigned region_flags; /* more TP_SHM_CREATE_* for every region (NO_PREFAULT, NO_POPULATE); 0: reserved and faulted */
    uint64_t now_ns;       /* CLOCK_MONOTONIC: start and first activity timestamp (D-10) */
} tp_shm_writer_config_t;

typedef struct tp_shm_writer_s {
    tp_shm_region_t ring;
    unsigned npools; /* pools sorted by ascending stride (W-9.c smallest fit) */
    tp_shm_region_t pool[TP_SHM_MAX_POOLS];
    uint16_t pool_id[TP_SHM_MAX_POOLS];
    uint32_t stride[TP_SHM_MAX_POOLS];
    uint32_t mask;       /* nslots - 1 */
    uint64_t next_seq;   /* seq of the next frame; starts at 0 (§5.3) */
    uint64_t drops_no_pool; /* frames dropped because no pool fits (W-9.d) */
    int require_hugepages;
    int prefetch_write;  /* write prefetches available: each claim asks for a later slot's lines */
    tp_tensor_cache_t tensor; /* the last header claimed with, checked and encoded */
    tp_slot_root_image_t root; /* the SlotHeader root block, rewritten per frame */
    char epoch_dir[TP_SHM_PATH_MAX];
    char ring_path[TP_SHM_PATH_MAX];
    char pool_path[TP_SHM_MAX_POOLS][TP_SHM_PATH_MAX];
} tp_shm_writer_t;

/* A claim asks for ownership of the slot header line and first payload
 * line of the slot this many frames ahead (in the claimed frame's pool).
 * A consumer keeping up has read those lines a lap ago, so a frame's stores
 * would otherwise each wait for a line to come back from the consumer's
 * cache; asked for early, the transfers overlap the frames in between.
 * Only a consumer lagging by nearly a lap reads those lines meanwhile, and
 * it loses them sooner, no data: a prefetch writes nothing. */
#define TP_SHM_WRITER_PREFETCH_AHEAD 2u

/* A frame being written: the payload may be filled in place. */
typedef struct tp_shm_claim_s {
    uint64_t seq;
    uint8_t *slot;        /* header slot */
    uint8_t *payload;     /* payload slot base, 64-byte aligned */
    uint32_t len;         /* values_len_bytes to commit */
    unsigned pool;        /* index into the writer's pools */
    tp_tensor_header_t tensor;
} tp_shm_claim_t;

/* Create the epoch directory (0770), the ring and every pool (0660), write
 * the superblocks and fsync them (W-15.14.b). On failure nothing is left
 * mapped and the files created so far are removed. */
TP_INTERNAL int tp_shm_writer_open(tp_shm_writer_t *w, const tp_shm_writer_config_t *cfg);

/* Unmap everything; with unlink_files also remove the files and the epoch
 * directory (W-15.21a.7.a). */
TP_INTERNAL void tp_shm_writer_close(tp_shm_writer_t *w, int unlink_files);

/* URIs to announce for the ring and for pool index i (§5.7, explicit
 * require_hugepages). Return the length or -1. */
TP_INTERNAL int tp_shm_writer_ring_uri(const tp_shm_writer_t *w, char *buf, size_t cap);
TP_INTERNAL int tp_shm_writer_pool_uri(const tp_shm_writer_t *w, unsigned i, char *buf, size_t cap);

/* Start frame next_seq: check the tensor (tp_tensor_header_check, extent <=
 * len), pick the smallest pool with stride >= len (W-9.c) and store
 * IN-PROGRESS (W-8.3.b step 1). Fails with -1 and touches nothing when no pool
 * fits (W-9.d, drops_no_pool++; TP_ERR_CAPACITY), when the tensor is invalid
 * (TP_ERR_MALFORMED) or when seq would exceed TP_SEQ_MAX (D-13, TP_ERR_STATE). */
TP_INTERNAL int tp_shm_writer_claim(tp_shm_writer_t *w, const tp_tensor_header_t *t, uint32_t len, tp_shm_claim_t *c);

/* As tp_shm_writer_claim, for a given seq >= the next one (a bridge receiver
 * keeps the source's seq, docs/spec/bridge.md BR-6.g); seqs skipped are
 * frames lost on the way. -1 (TP_ERR_STATE) for a seq behind the stream. */
TP_INTERNAL int tp_shm_writer_claim_at(tp_shm_writer_t *w, const tp_tensor_header_t *t, uint32_t len, uint64_t seq,
                                       tp_shm_claim_t *c);

/* Write claim c's whole slot header while the slot is still IN-PROGRESS:
 * FrameProgress readers need it before the commit (D-24). Commit it with
 * tp_shm_writer_commit_staged, which leaves the TensorHeader alone. */
TP_INTERNAL void tp_shm_writer_stage_header(tp_shm_writer_t *w, const tp_shm_claim_t *c, uint64_t timestamp_ns,
                                            uint32_t meta_version);

/* Finish a claimed frame: write the whole slot header (W-8.3.b step 3),
 * store COMMITTED with release (step 5) and advance next_seq. Only after this
 * may a FrameDescriptor for c->seq be sent (W-10.2.1.g). -1 (TP_ERR_TRUNCATED)
 * when the ring or c's pool mapping was lost to someone else's truncate
 * (src/shm/README.md): what was written went to private zero pages, so the
 * frame is not committed (its slot stays IN-PROGRESS, readers skip it) and
 * the epoch is unusable. */
TP_INTERNAL int tp_shm_writer_commit(tp_shm_writer_t *w, const tp_shm_claim_t *c, uint64_t timestamp_ns,
                                     uint32_t meta_version);

/* tp_shm_writer_commit for a claim whose header tp_shm_writer_stage_header
 * already wrote: only the root block (timestamp, meta_version) is written
 * again, so a FrameProgress reader never sees the TensorHeader rewritten
 * (tp_slot_root_image_write, as tp_slot_header_write_root). Refuses a
 * lost mapping as tp_shm_writer_commit does. */
TP_INTERNAL int tp_shm_writer_commit_staged(tp_shm_writer_t *w, const tp_shm_claim_t *c, uint64_t timestamp_ns,
                                            uint32_t meta_version);

/* claim + copy len bytes from payload + commit. *seq_out gets the seq. */
TP_INTERNAL int tp_shm_writer_publish(tp_shm_writer_t *w, const tp_tensor_header_t *t, const void *payload, uint32_t len,
                                      uint64_t timestamp_ns, uint32_t meta_version, uint64_t *seq_out);

/* Refresh activity_timestamp_ns in every region (W-7.1.d, 1 Hz). */
TP_INTERNAL void tp_shm_writer_heartbeat(tp_shm_writer_t *w, uint64_t now_ns);

#ifdef __cplusplus
}
#endif
#endif
