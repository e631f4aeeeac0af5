/* Embedded backend, publishing side: one log file per publication. */
#include "ipc_embedded.h"
#include "ipc_dir.h"
#include "ipc_doorbell.h"
#include "ipc_log_file.h"
#include "tensorpool/clock.h"
#include "../util/fault_guard.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct tp_ipc_embedded_pub_s {
    tp_ipc_publication_t base;
    tp_ipc_log_writer_t w;
    void *map;
    size_t map_len;
    tp_ipc_index_t *index;
    int dirfd;               /* kept to re-create the log or the index */
    uint64_t generation;     /* of the index at the last self-check */
    uint32_t check_countdown;
    uint32_t capacity;
    uint64_t recreated;      /* logs re-created after a truncate or a scribbled header */
    uint32_t flags;          /* of the log (TP_IPC_LOG_LOSSLESS) */
    int wake;                /* tp:ipc?wake=true: ring the stream's doorbell after each message */
    tp_ipc_log_meta_t identity; /* the log's header as created */
    char name[TP_IPC_LOG_NAME_MAX];
} tp_ipc_embedded_pub_t;

/* Self-check at least every this many offers, and whenever the index
 * changes (a subscription that finds our header bad bumps it). */
enum { CLAIM_TAG = 0x434c41494d, CHECK_EVERY = 256 };

int64_t tp_ipc_embedded_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
int tp_ipc_embedded_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);

int tp_ipc_embedded_publication_open(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                     int32_t stream_id)
{
    tp_ipc_embedded_channel_t params;
    if (tp_ipc_embedded_channel_parse(channel, &params) < 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "channel '%s' is not tp:ipc", channel);
    const int lossless = params.lossless;
    int dirfd = tp_ipc_dir_open_ctx(ctx, 1);
    if (dirfd < 0) return -1;
    tp_ipc_embedded_pub_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        close(dirfd);
        return tp_err_set(TP_ERR_CAPACITY, "out of memory for publication");
    }
    if (tp_ipc_index_open(dirfd, &p->index) < 0) goto fail;
    /* Tidy up after crashed publishers while we are here (set-up, not hot). */
    char buf[8192];
    int marked = 0;
    if (tp_ipc_reclaim_dir(dirfd, buf, sizeof buf, ctx->linger_ns, &marked) > 0 || marked > 0)
        tp_ipc_index_bump(p->index);
    p->flags = lossless ? TP_IPC_LOG_LOSSLESS : 0;
    if (tp_ipc_log_create_flags(dirfd, stream_id, ctx->log_capacity, ctx->max_message, p->flags, &p->w, &p->map,
                                &p->map_len, p->name, sizeof p->name) < 0)
        goto fail;
    memcpy(&p->identity, p->map, sizeof p->identity);
    p->w.stall_ns = params.stall_ns;
    p->wake = params.wake;
    p->dirfd = dirfd;
    p->capacity = ctx->log_capacity;
    p->check_countdown = CHECK_EVERY;
    tp_ipc_index_bump(p->index);
    p->generation = tp_ipc_index_generation(p->index);
    p->base.backend = &tp_ipc_embedded_backend;
    p->base.stream_id = stream_id;
    p->base.max_message = ctx->max_message;
    *out = &p->base;
    return 0;
fail:
    close(dirfd);
    tp_ipc_index_close(p->index);
    free(p);
    return tp_err_wrap("open publication tp:ipc stream %d", stream_id);
}

/* Replace our log by a fresh one (new name, new publisher id, sequence 0)
 * after someone truncated it or overwrote its header: subscribers drop the
 * old one (a bad header is a gone log) and find the new one through the
 * index. On failure the old one stays and the next check tries again. */
static void recreate_log(tp_ipc_embedded_pub_t *p)
{
    tp_ipc_log_writer_t w;
    void *map = NULL;
    size_t len = 0;
    char name[TP_IPC_LOG_NAME_MAX];
    if (tp_ipc_log_create_flags(p->dirfd, p->base.stream_id, p->capacity, p->w.max_message, p->flags, &w, &map, &len,
                                name, sizeof name) < 0)
        return;
    if (tp_fault_guard_lost(p->w.guard) == TP_FAULT_NONE) /* a scribbled but whole file: let it go as closed */
        atomic_store_explicit(&p->w.meta->closed_ns, tp_clock_realtime_ns(), memory_order_release);
    unlinkat(p->dirfd, p->name, 0); /* ours (our pid in its name); nobody can trust it any more */
    tp_ipc_log_unmap(p->map, p->map_len, p->w.guard);
    w.stall_ns = p->w.stall_ns;
    p->w = w;
    p->map = map;
    p->map_len = len;
    snprintf(p->name, sizeof p->name, "%s", name);
    memcpy(&p->identity, map, sizeof p->identity);
    p->recreated++;
    tp_ipc_index_bump(p->index);
}

/* The index itself was truncated or replaced: map it again (tp_ipc_index_open
 * repairs a broken one). Keeps the old mapping if that fails. */
static void reopen_index(tp_ipc_embedded_pub_t *p)
{
    tp_ipc_index_t *ix = NULL;
    if (tp_ipc_index_open(p->dirfd, &ix) < 0) return;
    tp_ipc_index_close(p->index);
    p->index = ix;
}

/* Cold path of offer/claim: is our log (and the index) still sound? Memory
 * loads only, unless something has to be re-created. */
static __attribute__((noinline)) void self_check(tp_ipc_embedded_pub_t *p)
{
    p->check_countdown = CHECK_EVERY;
    if (tp_ipc_index_lost(p->index)) reopen_index(p);
    p->generation = tp_ipc_index_generation(p->index);
    const tp_ipc_log_meta_t *m = p->w.meta;
    const char *why = tp_ipc_log_header_problem(m, &p->identity, p->w.guard);
    if (why == NULL && (atomic_load_explicit(&m->closed_ns, memory_order_acquire) != 0 ||
                        atomic_load_explicit(&m->tail, memory_order_acquire) != p->w.position ||
                        atomic_load_explicit(&m->tail_intent, memory_order_acquire) != p->w.intent ||
                        atomic_load_explicit(&m->tail_sequence, memory_order_acquire) != p->w.sequence))
        why = "header overwritten";
    if (why != NULL) recreate_log(p);
}

/* Per offer: one load of our mapping's fault flag and one of the index
 * generation (both lines rarely written); the full check runs rarely. */
static inline void watch(tp_ipc_embedded_pub_t *p)
{
    if (tp_fault_guard_lost(p->w.guard) != TP_FAULT_NONE || tp_ipc_index_generation(p->index) != p->generation ||
        --p->check_countdown == 0)
        self_check(p);
}

int64_t tp_ipc_embedded_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length)
{
    tp_ipc_embedded_pub_t *p = (tp_ipc_embedded_pub_t *)pub;
    if (length > p->w.max_message)
        return tp_err_set(TP_ERR_CAPACITY, "message of %zu bytes exceeds the maximum of %u", length, p->w.max_message);
    if (p->w.claimed) return tp_err_set(TP_ERR_STATE, "offer while a claim is outstanding");
    watch(p);
    if (p->w.readers != NULL && !tp_ipc_log_writer_room(&p->w, length)) return TP_IPC_BACK_PRESSURED;
    uint8_t *dst = tp_ipc_log_writer_reserve(&p->w, length);
    tp_ipc_log_writer_copy(dst, buffer, length);
    const int64_t end = (int64_t)tp_ipc_log_writer_publish(&p->w);
    if (p->wake) tp_ipc_doorbell_ring(p->index, p->base.stream_id);
    return end;
}

int tp_ipc_embedded_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim)
{
    tp_ipc_embedded_pub_t *p = (tp_ipc_embedded_pub_t *)pub;
    if (length > p->w.max_message)
        return tp_err_set(TP_ERR_CAPACITY, "claim of %zu bytes exceeds the maximum of %u", length, p->w.max_message);
    if (p->w.claimed) return tp_err_set(TP_ERR_STATE, "a claim is already outstanding");
    watch(p); /* not while claimed: re-creating would move claim->data */
    if (p->w.readers != NULL && !tp_ipc_log_writer_room(&p->w, length)) return TP_IPC_BACK_PRESSURED;
    claim->data = tp_ipc_log_writer_reserve(&p->w, length);
    claim->length = length;
    claim->internal_[0] = p->w.claim_pos;
    claim->internal_[1] = CLAIM_TAG;
    p->w.claimed = 1;
    return 0;
}

static int claim_matches(const tp_ipc_embedded_pub_t *p, const tp_ipc_claim_t *claim)
{
    return p->w.claimed && claim->internal_[1] == CLAIM_TAG && claim->internal_[0] == p->w.claim_pos;
}

int64_t tp_ipc_embedded_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim)
{
    tp_ipc_embedded_pub_t *p = (tp_ipc_embedded_pub_t *)pub;
    if (!claim_matches(p, claim)) return tp_err_set(TP_ERR_STATE, "commit of a claim that is not outstanding");
    p->w.claimed = 0;
    claim->internal_[1] = 0;
    const int64_t end = (int64_t)tp_ipc_log_writer_publish(&p->w);
    if (p->wake) tp_ipc_doorbell_ring(p->index, p->base.stream_id);
    return end;
}

int tp_ipc_embedded_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim)
{
    tp_ipc_embedded_pub_t *p = (tp_ipc_embedded_pub_t *)pub;
    if (!claim_matches(p, claim)) return tp_err_set(TP_ERR_STATE, "abort of a claim that is not outstanding");
    /* Nothing was published: tail stays put and the space is reused. */
    p->w.claimed = 0;
    claim->internal_[1] = 0;
    return 0;
}

int tp_ipc_embedded_publication_close(tp_ipc_publication_t *pub)
{
    tp_ipc_embedded_pub_t *p = (tp_ipc_embedded_pub_t *)pub;
    /* Leave the file for linger_ns so late subscribers can still drain it. */
    atomic_store_explicit(&p->w.meta->closed_ns, tp_clock_realtime_ns(), memory_order_release);
    tp_ipc_log_unmap(p->map, p->map_len, p->w.guard);
    tp_ipc_index_bump(p->index);
    tp_ipc_index_close(p->index);
    close(p->dirfd);
    free(p);
    return 0;
}
