/* Producer: region creation and the seqlock write path (§3.6, W-8.3.b). */
#include "tensorpool/shm_writer.h"

#include "../util/dir_fd.h"
#include "../util/fault_guard.h"
#include "../util/prefetch.h"

#include "tensorpool/error.h"
#include "tensorpool/shm_dir.h"
#include "tensorpool/shm_seqlock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pools_check(const tp_shm_writer_config_t *cfg)
{
    if (cfg->npools == 0 || cfg->npools > TP_SHM_MAX_POOLS)
        return tp_err_set(TP_ERR_INVALID_ARG, "writer: %u pools, need 1..%d", cfg->npools, TP_SHM_MAX_POOLS);
    for (unsigned i = 0; i < cfg->npools; i++) {
        if (tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_PAYLOAD_POOL, cfg->nslots, cfg->pools[i].stride_bytes) != 0)
            return tp_err_wrap("writer: pool %u", cfg->pools[i].pool_id);
        for (unsigned j = 0; j < i; j++)
            if (cfg->pools[j].pool_id == cfg->pools[i].pool_id)
                return tp_err_set(TP_ERR_INVALID_ARG, "writer: duplicate pool_id %u (D-20)", cfg->pools[i].pool_id);
    }
    return 0;
}

int tp_shm_writer_open(tp_shm_writer_t *w, const tp_shm_writer_config_t *cfg)
{
    memset(w, 0, sizeof *w);
    w->prefetch_write = tp_prefetch_write_available();
    if (tp_shm_geometry_check(TP_CONTROL_REGION_TYPE_HEADER_RING, cfg->nslots, 0) != 0) return tp_err_wrap("writer");
    if (pools_check(cfg) != 0) return -1;
    char user[256];
    if (cfg->user != NULL) {
        if (tp_shm_user_sanitize(user, sizeof user, cfg->user) < 0) return -1;
    } else if (tp_shm_user_effective(user, sizeof user) < 0) {
        return -1;
    }
    const char *base = cfg->base_dir != NULL ? cfg->base_dir : TP_SHM_DEFAULT_BASE_DIR;
    if (base[0] != '/')
        return tp_err_set(TP_ERR_INVALID_ARG, "writer: shm_base_dir '%s' is not absolute (§5.7)", base);
    /* The base is configuration and may sit behind a symlink; resolve it once
     * so the announced paths are canonical (D-26). Below it nothing is
     * followed: tp_shm_dir_create refuses planted symlinks. */
    char canon_base[TP_SHM_PATH_MAX];
    if (realpath(base, canon_base) == NULL) {
        if (tp_shm_dir_create(base) != 0) return -1;
        if (realpath(base, canon_base) == NULL)
            return tp_err_set(TP_ERR_IO, "writer: realpath '%s': %s", base, strerror(errno));
    }
    if (tp_shm_dir_epoch_path(w->epoch_dir, sizeof w->epoch_dir, canon_base, user, cfg->ns, cfg->stream_id,
                              cfg->epoch) < 0)
        return -1;
    if (tp_shm_dir_create(w->epoch_dir) != 0) return -1;

    /* insertion sort by stride so claim() takes the first pool that fits */
    w->npools = cfg->npools;
    for (unsigned i = 0; i < cfg->npools; i++) {
        unsigned k = i;
        while (k > 0 && w->stride[k - 1] > cfg->pools[i].stride_bytes) {
            w->stride[k] = w->stride[k - 1];
            w->pool_id[k] = w->pool_id[k - 1];
            k--;
        }
        w->stride[k] = cfg->pools[i].stride_bytes;
        w->pool_id[k] = cfg->pools[i].pool_id;
    }
    w->mask = cfg->nslots - 1;
    w->require_hugepages = cfg->require_hugepages;

    const unsigned flags = cfg->region_flags | (cfg->require_hugepages ? TP_SHM_CREATE_REQUIRE_HUGEPAGES : 0u);
    tp_superblock_t sb = {
        .magic = TP_SHM_MAGIC,
        .layout_version = TP_SHM_LAYOUT_VERSION,
        .epoch = cfg->epoch,
        .stream_id = cfg->stream_id,
        .region_type = TP_CONTROL_REGION_TYPE_HEADER_RING,
        .pool_id = 0,
        .nslots = cfg->nslots,
        .slot_bytes = TP_SHM_SLOT_BYTES,
        .stride_bytes = 0, /* D-5 */
        .pid = (uint64_t)getpid(),
        .start_timestamp_ns = cfg->now_ns,
        .activity_timestamp_ns = cfg->now_ns,
    };
    if (tp_shm_dir_ring_path(w->ring_path, sizeof w->ring_path, w->epoch_dir) < 0 ||
        tp_shm_region_create(&w->ring, w->ring_path, &sb, flags) != 0)
        goto fail;
    for (unsigned i = 0; i < w->npools; i++) {
        sb.region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL;
        sb.pool_id = w->pool_id[i];
        sb.slot_bytes = TP_SHM_POOL_SLOT_BYTES_NULL; /* D-5 */
        sb.stride_bytes = w->stride[i];
        if (tp_shm_dir_pool_path(w->pool_path[i], sizeof w->pool_path[i], w->epoch_dir, w->pool_id[i]) < 0 ||
            tp_shm_region_create(&w->pool[i], w->pool_path[i], &sb, flags) != 0)
            goto fail;
    }
    return 0;
fail:
    tp_shm_writer_close(w, 1);
    return -1;
}

/* Remove the files this writer made and its epoch directory, by name in
 * directory fds opened without following symlinks (dir_fd.h): a directory
 * swapped for a symlink since is left alone, and so is anything not ours. */
static void remove_files(const tp_shm_writer_t *w, unsigned npools)
{
    const int efd = tp_dir_open(AT_FDCWD, w->epoch_dir);
    if (efd >= 0) {
        if (w->ring_path[0] != '\0') tp_dir_unlink_file(efd, strrchr(w->ring_path, '/') + 1);
        for (unsigned i = 0; i < npools; i++)
            if (w->pool_path[i][0] != '\0') tp_dir_unlink_file(efd, strrchr(w->pool_path[i], '/') + 1);
        close(efd);
    }
    const char *name;
    const int sfd = tp_dir_open_parent(w->epoch_dir, &name);
    if (sfd >= 0) {
        unlinkat(sfd, name, AT_REMOVEDIR); /* only if empty; a symlink there fails ENOTDIR */
        close(sfd);
    }
}

void tp_shm_writer_close(tp_shm_writer_t *w, int unlink_files)
{
    tp_shm_region_unmap(&w->ring);
    for (unsigned i = 0; i < w->npools; i++) tp_shm_region_unmap(&w->pool[i]);
    if (unlink_files && w->epoch_dir[0] != '\0') remove_files(w, w->npools);
    w->npools = 0;
}

int tp_shm_writer_ring_uri(const tp_shm_writer_t *w, char *buf, size_t cap)
{
    return tp_shm_uri_format(buf, cap, w->ring_path, w->require_hugepages);
}

int tp_shm_writer_pool_uri(const tp_shm_writer_t *w, unsigned i, char *buf, size_t cap)
{
    if (i >= w->npools) return tp_err_set(TP_ERR_INVALID_ARG, "writer: no pool index %u", i);
    return tp_shm_uri_format(buf, cap, w->pool_path[i], w->require_hugepages);
}

int tp_shm_writer_claim(tp_shm_writer_t *w, const tp_tensor_header_t *t, uint32_t len, tp_shm_claim_t *c)
{
    return tp_shm_writer_claim_at(w, t, len, w->next_seq, c);
}

int tp_shm_writer_claim_at(tp_shm_writer_t *w, const tp_tensor_header_t *t, uint32_t len, uint64_t seq,
                           tp_shm_claim_t *c)
{
    if (seq < w->next_seq) return tp_err_set(TP_ERR_STATE, "writer: seq %" PRIu64 " is behind the stream", seq);
    if (seq > TP_SEQ_MAX) return tp_err_set(TP_ERR_STATE, "writer: seq exhausted, bump the epoch (D-13)");
    if (!tp_tensor_cache_same(&w->tensor, t)) { /* a new shape: checked and encoded once */
        int32_t res[TP_TENSOR_MAX_DIMS];
        const tp_reject_t r = tp_tensor_header_check(t, res);
        if (r != TP_REJECT_NONE)
            return tp_err_set(TP_ERR_MALFORMED, "writer: tensor header rejected: %s", tp_reject_name(r));
        tp_tensor_cache_put(&w->tensor, t, res, tp_tensor_header_extent(t, res));
    }
    if (w->tensor.extent > len)
        return tp_err_set(TP_ERR_MALFORMED, "writer: tensor extent exceeds %u payload bytes", len);
    unsigned p = 0;
    while (p < w->npools && w->stride[p] < len) p++;
    if (p == w->npools) { /* W-9.d: drop, never block; slot and seq untouched */
        w->drops_no_pool++;
        return tp_err_set(TP_ERR_CAPACITY, "writer: %u-byte frame fits no pool (W-9.d)", len);
    }
    const uint32_t i = (uint32_t)(seq & w->mask);
    c->seq = seq;
    c->slot = tp_shm_slot_at(w->ring.base, i, TP_SHM_SLOT_BYTES);
    c->payload = tp_shm_slot_at(w->pool[p].base, i, w->stride[p]);
    c->len = len;
    c->pool = p;
    c->tensor = *t;
    tp_seqlock_write_begin(c->slot, seq); /* W-8.3.b step 1, D-14 fence */
    if (w->prefetch_write) { /* the lines a later frame will store to (shm_writer.h) */
        const uint32_t j = (uint32_t)((seq + TP_SHM_WRITER_PREFETCH_AHEAD) & w->mask);
        tp_prefetch_write(tp_shm_slot_at(w->ring.base, j, TP_SHM_SLOT_BYTES));
        tp_prefetch_write(tp_shm_slot_at(w->pool[p].base, j, w->stride[p]));
    }
    return 0;
}

static tp_slot_header_t header_of(const tp_shm_writer_t *w, const tp_shm_claim_t *c, uint64_t timestamp_ns,
                                  uint32_t meta_version)
{
    const tp_slot_header_t h = {
        .values_len_bytes = c->len,
        .payload_slot = (uint32_t)(c->seq & w->mask), /* W-9.e */
        .pool_id = w->pool_id[c->pool],
        .payload_offset = 0, /* W-8.2.i */
        .timestamp_ns = timestamp_ns,
        .meta_version = meta_version,
        .tensor = c->tensor,
    };
    return h;
}

void tp_shm_writer_stage_header(tp_shm_writer_t *w, const tp_shm_claim_t *c, uint64_t timestamp_ns,
                                uint32_t meta_version)
{
    const tp_slot_header_t h = header_of(w, c, timestamp_ns, meta_version);
    /* step 3: the whole slot, never assume zeroes; lines already holding the
     * claimed shape's bytes are left alone (tensor_cache.h) */
    tp_slot_root_image_write(&w->root, c->slot, &h);
    if (tp_tensor_cache_same(&w->tensor, &c->tensor)) tp_tensor_cache_write_slot(&w->tensor, c->slot);
    else tp_tensor_message_write(c->slot + TP_SHM_SLOT_TENSOR_OFFSET, &c->tensor);
}

/* Refuse to commit a frame whose stores went to a lost mapping. After
 * someone else's truncate, the fault guard swapped private zero pages in
 * under our whole mapping (src/util/fault_guard.h): the payload just written
 * is visible to no reader, while the part of the file still there holds an
 * older frame's bytes. Committing would let a reader that has not faulted
 * yet take those bytes, validated, as frame c. Two atomic loads. */
static int claim_lost(const tp_shm_writer_t *w, const tp_shm_claim_t *c)
{
    const int ring = tp_fault_guard_lost(w->ring.guard) != TP_FAULT_NONE;
    if (!ring && tp_fault_guard_lost(w->pool[c->pool].guard) == TP_FAULT_NONE) return 0;
    return tp_shm_region_lost_error(ring ? "header ring" : "pool", ring ? 0u : w->pool_id[c->pool]);
}

int tp_shm_writer_commit(tp_shm_writer_t *w, const tp_shm_claim_t *c, uint64_t timestamp_ns, uint32_t meta_version)
{
    if (claim_lost(w, c) != 0) return -1;
    tp_shm_writer_stage_header(w, c, timestamp_ns, meta_version);
    tp_seqlock_write_commit(c->slot, c->seq); /* steps 4-5: CPU-coherent, release store */
    w->next_seq = c->seq + 1;
    return 0;
}

int tp_shm_writer_commit_staged(tp_shm_writer_t *w, const tp_shm_claim_t *c, uint64_t timestamp_ns,
                                uint32_t meta_version)
{
    if (claim_lost(w, c) != 0) return -1;
    const tp_slot_header_t h = header_of(w, c, timestamp_ns, meta_version);
    tp_slot_root_image_write(&w->root, c->slot, &h); /* the TensorHeader staged earlier stays as it is */
    tp_seqlock_write_commit(c->slot, c->seq);
    w->next_seq = c->seq + 1;
    return 0;
}

int tp_shm_writer_publish(tp_shm_writer_t *w, const tp_tensor_header_t *t, const void *payload, uint32_t len,
                          uint64_t timestamp_ns, uint32_t meta_version, uint64_t *seq_out)
{
    tp_shm_claim_t c;
    if (tp_shm_writer_claim(w, t, len, &c) != 0) return -1;
    if (len != 0) memcpy(c.payload, payload, len); /* step 2 */
    if (tp_shm_writer_commit(w, &c, timestamp_ns, meta_version) != 0) return -1;
    if (seq_out != NULL) *seq_out = c.seq;
    return 0;
}

void tp_shm_writer_heartbeat(tp_shm_writer_t *w, uint64_t now_ns)
{
    tp_superblock_activity_store(w->ring.base, now_ns);
    for (unsigned i = 0; i < w->npools; i++) tp_superblock_activity_store(w->pool[i].base, now_ns);
}
