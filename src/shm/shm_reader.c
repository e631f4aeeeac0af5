/* Consumer: mapping and the seqlock read path (§3.6 consumer, §5.4, D-15). */
#include "tensorpool/shm_reader.h"

#include "tensorpool/error.h"
#include "tensorpool/shm_retain.h"
#include "tensorpool/shm_seqlock.h"
#include "tensorpool/slot_check.h"

#include "../util/fault_guard.h"

#include <string.h>

int tp_shm_reader_open(tp_shm_reader_t *r, const tp_shm_bases_t *bases, const tp_shm_reader_config_t *cfg)
{
    memset(r, 0, sizeof *r);
    if (cfg->npools == 0 || cfg->npools > TP_SHM_MAX_POOLS)
        return tp_err_set(TP_ERR_INVALID_ARG, "reader: %u pools, need 1..%d", cfg->npools, TP_SHM_MAX_POOLS);
    for (unsigned i = 0; i < cfg->npools; i++)
        for (unsigned j = 0; j < i; j++)
            if (cfg->pools[i].pool_id == cfg->pools[j].pool_id)
                return tp_err_set(TP_ERR_INVALID_ARG, "reader: duplicate pool_id %u (D-20)", cfg->pools[i].pool_id);
    tp_shm_uri_t uri;
    tp_shm_region_expect_t e = {
        .layout_version = cfg->layout_version,
        .epoch = cfg->epoch,
        .stream_id = cfg->stream_id,
        .region_type = TP_CONTROL_REGION_TYPE_HEADER_RING,
        .pool_id = 0,
        .nslots = cfg->nslots,
        .stride_bytes = 0,
    };
    if (tp_shm_uri_parse(cfg->ring_uri, cfg->ring_uri_len, &uri) != 0 ||
        tp_shm_region_map(&r->ring, bases, &uri, &e, cfg->now_ns, cfg->activity_window_ns) != 0) {
        tp_err_wrap("header ring");
        goto fail;
    }
    for (unsigned i = 0; i < cfg->npools; i++) {
        const tp_shm_reader_pool_t *p = &cfg->pools[i];
        e.region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL;
        e.pool_id = p->pool_id;
        e.stride_bytes = p->stride_bytes;
        if (tp_shm_uri_parse(p->uri, p->uri_len, &uri) != 0 ||
            tp_shm_region_map(&r->pool[i], bases, &uri, &e, cfg->now_ns, cfg->activity_window_ns) != 0) {
            tp_err_wrap("pool %u", p->pool_id);
            goto fail;
        }
        r->npools = i + 1;
        r->pool_id[i] = p->pool_id;
        r->stride[i] = p->stride_bytes;
    }
    r->mask = cfg->nslots - 1;
    r->epoch = cfg->epoch;
    r->layout_version = cfg->layout_version;
    tp_shm_drops_reset(&r->drops, cfg->max_seq_gap);
    return 0;
fail:
    tp_shm_reader_close(r); /* W-15.22.g: nothing partly consumed */
    return -1;
}

void tp_shm_reader_close(tp_shm_reader_t *r)
{
    /* views a binding handed out may outlive the mapping (shm_retain.h) */
    tp_shm_region_drop(&r->ring);
    for (unsigned i = 0; i < r->npools; i++) tp_shm_region_drop(&r->pool[i]);
    r->npools = 0;
}

/* §5.4 items 5-6 and the element extent: the pool the slot names. */
static tp_reject_t pool_check(const tp_shm_reader_t *r, const tp_slot_header_t *h, uint64_t extent, unsigned *pool_out)
{
    unsigned p = 0;
    while (p < r->npools && r->pool_id[p] != h->pool_id) p++;
    if (p == r->npools) return TP_REJECT_POOL_ID;
    if (h->values_len_bytes > r->stride[p]) return TP_REJECT_VALUES_LEN; /* W-10.2.1.m */
    /* §5.4 recommendation, applied: elements must lie inside the payload */
    if (extent > h->values_len_bytes) return TP_REJECT_EXTENT;
    *pool_out = p;
    return TP_REJECT_NONE;
}

/* §5.4 on the private copy: the announce-independent items, then the pool.
 * *extent is set when the TensorHeader message passed. */
static tp_reject_t slot_check(const tp_shm_reader_t *r, uint32_t index, tp_shm_view_t *v, unsigned *pool_out,
                              uint64_t *extent)
{
    const tp_slot_header_t *h = &v->header;
    const tp_reject_t why = tp_slot_header_check(h, index, v->strides);
    if (why != TP_REJECT_NONE) return why;
    *extent = tp_tensor_header_extent(&h->tensor, v->strides);
    return pool_check(r, h, *extent, pool_out);
}

/* Step 5-6: the private copy of slot bytes 8..255, decoded and checked. A
 * TensorHeader message equal to the last one that passed is not copied,
 * decoded or checked again: its decode is taken from the cache. */
static tp_reject_t read_slot(tp_shm_reader_t *r, const uint8_t *slot, uint32_t index, tp_shm_view_t *v, unsigned *p)
{
    uint8_t copy[TP_SHM_SLOT_BYTES];
    if (tp_tensor_cache_matches_slot(&r->tensor, slot)) {
        memcpy(copy + 8, slot + 8, TP_SHM_SLOT_TENSOR_OFFSET - 8);
        tp_slot_root_read(copy, &v->header);
        tp_tensor_cache_load(&r->tensor, &v->header, v->strides);
        const tp_reject_t why = tp_slot_root_check(&v->header, index);
        return why != TP_REJECT_NONE ? why : pool_check(r, &v->header, r->tensor.extent, p);
    }
    memcpy(copy + 8, slot + 8, TP_SHM_SLOT_BYTES - 8);
    tp_slot_header_read(copy, &v->header);
    uint64_t extent = 0;
    const tp_reject_t why = slot_check(r, index, v, p, &extent);
    /* a torn copy that passed is still a valid message, decoded right: the
     * cache maps bytes to their decode, whoever wrote them */
    if (why == TP_REJECT_NONE) tp_tensor_cache_store(&r->tensor, copy + TP_SHM_SLOT_TENSOR_OFFSET, &v->header, v->strides, extent);
    return why;
}

/* The payload's first line in the pool of the last frame read: its own pool
 * is known only from its header. */
static const uint8_t *likely_payload(const tp_shm_reader_t *r, uint32_t index)
{
    return tp_shm_slot_at(r->pool[r->last_pool].base, index, r->stride[r->last_pool]);
}

void tp_shm_reader_prefetch(const tp_shm_reader_t *r, uint64_t seq)
{
    const uint32_t index = (uint32_t)(seq & r->mask);
    __builtin_prefetch(tp_shm_slot_at(r->ring.base, index, TP_SHM_SLOT_BYTES));
    __builtin_prefetch(likely_payload(r, index));
}

void tp_shm_reader_prefetch_backlog(tp_shm_reader_t *r, uint64_t seq, uint32_t backlog)
{
    uint64_t n = backlog < TP_SHM_PREFETCH_AHEAD ? backlog : TP_SHM_PREFETCH_AHEAD;
    if (n > UINT64_MAX - seq) n = UINT64_MAX - seq; /* a forged seq near the top: no wrap */
    const uint64_t last = seq + n;
    /* the last seq asked for: believed only inside this window */
    uint64_t s = r->prefetched >= seq && r->prefetched <= last ? r->prefetched : seq;
    while (s != last) tp_shm_reader_prefetch(r, ++s);
    r->prefetched = last;
}

/* The producer takes the slot header and payload lines to write frame seq,
 * then publishes its descriptor; asked for in between, they are back in the
 * reader's cache while the descriptor is still on its way, so reading the
 * frame costs no miss after the descriptor's. Both lines are needed: the
 * payload's address waits for the header's pool id, so with the header
 * alone the payload miss still follows the descriptor's. Asking on every
 * idle pass takes the header line from the producer between its two stores
 * to it (claim, commit); every 4th pass (about 50 ns apart here) does not.
 * bench_frame_rtt (mid placement, 64 B): 835-853 ns without, 710-742 ns on
 * every pass, 706-730 ns every 4th, 734-783 ns every 16th. */
enum { TP_SHM_IDLE_PREFETCH_EVERY = 4 };

void tp_shm_reader_prefetch_idle(tp_shm_reader_t *r, uint64_t seq)
{
    if ((++r->idle_calls & (TP_SHM_IDLE_PREFETCH_EVERY - 1)) == 0) tp_shm_reader_prefetch(r, seq);
}

tp_shm_read_t tp_shm_reader_begin(tp_shm_reader_t *r, uint64_t seq, tp_shm_view_t *v)
{
    const uint32_t index = (uint32_t)(seq & r->mask); /* W-10.2.1.j */
    const uint8_t *slot = tp_shm_slot_at(r->ring.base, index, TP_SHM_SLOT_BYTES);
    /* The payload's address waits for the header (its pool), so its first
     * line would be fetched only after the header's: fetch both at once when
     * the frame is in the pool the last one was in. A prefetch never faults. */
    __builtin_prefetch(likely_payload(r, index));
    const uint64_t s1 = tp_seqlock_read_begin(slot);
    if (!tp_seq_is_committed(s1) || tp_seq_of(s1) != seq) { /* step 4, W-15.3.a, W-10.2.1.k */
        r->drops.drops_late++;
        return TP_SHM_READ_LATE;
    }
    unsigned p = 0;
    const tp_reject_t why = read_slot(r, slot, index, v, &p);
    if (why != TP_REJECT_NONE) {
        if (tp_seqlock_read_end(slot) != s1) { /* step 10: torn beats invalid (D-15) */
            r->drops.drops_late++;
            return TP_SHM_READ_LATE;
        }
        r->drops.drops_invalid++;
        r->last_reject = why;
        return TP_SHM_READ_INVALID;
    }
    v->seq = seq;
    v->seq_commit = s1;
    v->slot = slot;
    v->len = v->header.values_len_bytes;
    /* addressed from the private copy: stays inside pool p even if torn */
    v->payload = v->len != 0 ? tp_shm_slot_at(r->pool[p].base, index, r->stride[p]) : NULL;
    v->payload_guard = r->pool[p].guard;
    r->last_pool = p;
    return TP_SHM_READ_OK;
}

/* FrameProgress (D-24, §5.6): the slot may still be IN-PROGRESS; its header
 * was written before STARTED was sent. Both loads must name seq (the commit
 * may land in between: the header is rewritten with the same layout). */
tp_shm_read_t tp_shm_reader_peek(const tp_shm_reader_t *r, uint64_t seq, tp_shm_view_t *v, tp_reject_t *why)
{
    const uint32_t index = (uint32_t)(seq & r->mask); /* W-10.2.2.c */
    const uint8_t *slot = tp_shm_slot_at(r->ring.base, index, TP_SHM_SLOT_BYTES);
    const uint64_t s1 = tp_seqlock_read_begin(slot);
    *why = TP_REJECT_NONE;
    if (tp_seq_of(s1) != seq) return TP_SHM_READ_LATE;
    uint8_t copy[TP_SHM_SLOT_BYTES];
    memcpy(copy + 8, slot + 8, TP_SHM_SLOT_BYTES - 8);
    tp_slot_header_read(copy, &v->header);
    unsigned p = 0;
    uint64_t extent;
    const tp_reject_t bad = slot_check(r, index, v, &p, &extent);
    if (tp_seq_of(tp_seqlock_read_end(slot)) != seq) return TP_SHM_READ_LATE; /* torn beats invalid */
    if (bad != TP_REJECT_NONE) {
        *why = bad;
        return TP_SHM_READ_INVALID;
    }
    v->seq = seq;
    v->seq_commit = s1;
    v->slot = slot;
    v->len = v->header.values_len_bytes;
    v->payload = tp_shm_slot_at(r->pool[p].base, index, r->stride[p]);
    v->payload_guard = r->pool[p].guard;
    return TP_SHM_READ_OK;
}

int tp_shm_view_same_frame(const tp_shm_view_t *v)
{
    return tp_seq_of(tp_seqlock_read_end(v->slot)) == v->seq && tp_fault_guard_lost(v->payload_guard) == TP_FAULT_NONE;
}

int tp_shm_view_intact(const tp_shm_view_t *v)
{
    /* a truncated ring reads as zeros, so its seqlock word changes; a
     * truncated pool leaves the slot alone and only its flag tells */
    return tp_seqlock_read_end(v->slot) == v->seq_commit && tp_fault_guard_lost(v->payload_guard) == TP_FAULT_NONE;
}

tp_shm_read_t tp_shm_reader_end(tp_shm_reader_t *r, const tp_shm_view_t *v)
{
    if (!tp_shm_view_intact(v)) { /* steps 8-10 */
        r->drops.drops_late++;
        return TP_SHM_READ_LATE;
    }
    r->drops.accepted++;
    return TP_SHM_READ_OK;
}

tp_shm_read_t tp_shm_reader_read(tp_shm_reader_t *r, uint64_t seq, void *dst, size_t cap, tp_shm_view_t *v)
{
    const tp_shm_read_t st = tp_shm_reader_begin(r, seq, v);
    if (st != TP_SHM_READ_OK) return st;
    if (v->len > cap) {
        if (!tp_shm_view_intact(v)) {
            r->drops.drops_late++;
            return TP_SHM_READ_LATE;
        }
        r->drops.drops_invalid++;
        r->last_reject = TP_REJECT_VALUES_LEN;
        return TP_SHM_READ_INVALID;
    }
    if (v->len != 0) memcpy(dst, v->payload, v->len); /* step 7 */
    return tp_shm_reader_end(r, v);
}

int tp_shm_reader_live(const tp_shm_reader_t *r, uint64_t pid, uint64_t now_ns, uint64_t window_ns)
{
    for (unsigned i = 0; i <= r->npools; i++) /* first: a lost mapping reads as zeros below */
        if (tp_shm_region_lost(i == 0 ? &r->ring : &r->pool[i - 1])) {
            tp_shm_region_lost_error(i == 0 ? "header ring" : "pool", i == 0 ? 0u : r->pool_id[i - 1]);
            return 0;
        }
    tp_superblock_t sb;
    tp_superblock_read(r->ring.base, &sb);
    if (sb.pid != pid) { /* W-15.14.a */
        tp_err_set(TP_ERR_STATE, "header ring: pid %llu, mapped with %llu", (unsigned long long)sb.pid,
                   (unsigned long long)pid);
        return 0;
    }
    for (unsigned i = 0; i <= r->npools; i++) {
        const uint8_t *base = i == 0 ? r->ring.base : r->pool[i - 1].base;
        tp_superblock_read(base, &sb);
        /* written once (W-7.1.b): any change here is another writer or a
         * mix-up of regions, so remap (W-15.18.b) */
        if (sb.magic != TP_SHM_MAGIC || sb.layout_version != r->layout_version || sb.epoch != r->epoch) {
            tp_err_set(TP_ERR_MALFORMED, "%s %u: superblock changed (magic, layout or epoch)",
                       i == 0 ? "header ring" : "pool", i == 0 ? 0u : r->pool_id[i - 1]);
            return 0;
        }
        if (!tp_shm_activity_fresh(tp_superblock_activity_load(base), now_ns, window_ns)) {
            tp_err_set(TP_ERR_STATE, "activity timestamp is stale (W-15.1.c)");
            return 0;
        }
    }
    return 1;
}

uint64_t tp_shm_reader_slot_seq(const tp_shm_reader_t *r, uint64_t seq)
{
    const uint8_t *slot = tp_shm_slot_at(r->ring.base, (uint32_t)(seq & r->mask), TP_SHM_SLOT_BYTES);
    return tp_seq_of(tp_seqlock_read_begin(slot));
}
