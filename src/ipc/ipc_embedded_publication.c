/* Embedded backend, publishing side: one log file per publication. */
#include "ipc_embedded.h"
#include "ipc_dir.h"
#include "ipc_log_file.h"
#include "tensorpool/clock.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct tp_ipc_embedded_pub_s {
    tp_ipc_publication_t base;
    tp_ipc_log_writer_t w;
    void *map;
    size_t map_len;
    tp_ipc_index_t *index;
    char name[TP_IPC_LOG_NAME_MAX];
} tp_ipc_embedded_pub_t;

enum { CLAIM_TAG = 0x434c41494d };

int64_t tp_ipc_embedded_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
int tp_ipc_embedded_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);

int tp_ipc_embedded_publication_open(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                     int32_t stream_id)
{
    (void)channel;
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
    if (tp_ipc_log_create(dirfd, stream_id, ctx->log_capacity, ctx->max_message, &p->w, &p->map, &p->map_len,
                          p->name, sizeof p->name) < 0)
        goto fail;
    close(dirfd);
    tp_ipc_index_bump(p->index);
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

int64_t tp_ipc_embedded_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length)
{
    tp_ipc_embedded_pub_t *p = (tp_ipc_embedded_pub_t *)pub;
    if (length > p->w.max_message)
        return tp_err_set(TP_ERR_CAPACITY, "message of %zu bytes exceeds the maximum of %u", length, p->w.max_message);
    if (p->w.claimed) return tp_err_set(TP_ERR_STATE, "offer while a claim is outstanding");
    uint8_t *dst = tp_ipc_log_writer_reserve(&p->w, length);
    tp_ipc_log_writer_copy(dst, buffer, length);
    return (int64_t)tp_ipc_log_writer_publish(&p->w);
}

int tp_ipc_embedded_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim)
{
    tp_ipc_embedded_pub_t *p = (tp_ipc_embedded_pub_t *)pub;
    if (length > p->w.max_message)
        return tp_err_set(TP_ERR_CAPACITY, "claim of %zu bytes exceeds the maximum of %u", length, p->w.max_message);
    if (p->w.claimed) return tp_err_set(TP_ERR_STATE, "a claim is already outstanding");
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
    return (int64_t)tp_ipc_log_writer_publish(&p->w);
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
    munmap(p->map, p->map_len);
    tp_ipc_index_bump(p->index);
    tp_ipc_index_close(p->index);
    free(p);
    return 0;
}
