/* Aeron backend, publishing side: one exclusive publication per
 * tensorpool publication, so each has its own Aeron session (publisher). */
#include "ipc_aeron.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tp_ipc_aeron_pub_s {
    tp_ipc_publication_t base;
    aeron_t *client;
    aeron_exclusive_publication_t *pub;
    aeron_buffer_claim_t claim; /* the one outstanding claim, if any */
    int claimed;
} tp_ipc_aeron_pub_t;

enum { CLAIM_TAG = 0x41455243 };

static void sleep_1ms(void)
{
    const struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tp_ipc_aeron_publication_open(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                  int32_t stream_id)
{
    tp_ipc_aeron_pub_t *p = calloc(1, sizeof *p);
    if (p == NULL) return tp_err_set(TP_ERR_CAPACITY, "out of memory for publication");
    if (tp_ipc_aeron_client_acquire(ctx, &p->client) < 0) {
        free(p);
        return tp_err_wrap("open publication %s stream %d", channel, stream_id);
    }
    aeron_async_add_exclusive_publication_t *async = NULL;
    if (aeron_async_add_exclusive_publication(&async, p->client, channel, stream_id) < 0) {
        tp_err_set(TP_ERR_INVALID_ARG, "open publication %s stream %d: %s", channel, stream_id, aeron_errmsg());
        goto fail;
    }
    /* The media driver answers within its timeout; a dead one fails the
     * client, which fails this poll: never waits for ever. */
    const int64_t end = now_ms() + tp_ipc_aeron_setup_timeout_ms();
    int rc;
    while ((rc = aeron_async_add_exclusive_publication_poll(&p->pub, async)) == 0) {
        if (now_ms() > end) {
            tp_err_set(TP_ERR_IO, "open publication %s stream %d: the media driver did not answer", channel,
                       stream_id);
            goto fail; /* Aeron frees async when the late answer comes or the client closes */
        }
        sleep_1ms();
    }
    if (rc < 0) {
        tp_err_set(TP_ERR_INVALID_ARG, "open publication %s stream %d: %s", channel, stream_id, aeron_errmsg());
        goto fail;
    }
    aeron_publication_constants_t k;
    if (aeron_exclusive_publication_constants(p->pub, &k) < 0) {
        tp_err_set(TP_ERR_IO, "publication %s stream %d: %s", channel, stream_id, aeron_errmsg());
        goto fail;
    }
    p->base.backend = &tp_ipc_aeron_backend;
    p->base.stream_id = stream_id;
    /* Unfragmented messages only (see ipc_aeron.h). */
    p->base.max_message = ctx->max_message < k.max_payload_length ? ctx->max_message : k.max_payload_length;
    *out = &p->base;
    return 0;
fail:
    if (p->pub != NULL) aeron_exclusive_publication_close(p->pub, NULL, NULL);
    tp_ipc_aeron_client_release();
    free(p);
    return -1;
}

/* Aeron's negative offer results as our errors and counters. */
static int64_t offer_failed(tp_ipc_aeron_pub_t *p, int64_t r)
{
    switch (r) {
    case AERON_PUBLICATION_NOT_CONNECTED:
        TP_IPC_AERON_COUNT(not_connected);
        return tp_err_set(TP_ERR_STATE, "aeron stream %d: no subscriber connected", p->base.stream_id);
    case AERON_PUBLICATION_BACK_PRESSURED:
        TP_IPC_AERON_COUNT(back_pressured);
        return tp_err_set(TP_ERR_CAPACITY, "aeron stream %d: back-pressured", p->base.stream_id);
    case AERON_PUBLICATION_ADMIN_ACTION:
        TP_IPC_AERON_COUNT(admin_action);
        return tp_err_set(TP_ERR_CAPACITY, "aeron stream %d: admin action, retry", p->base.stream_id);
    case AERON_PUBLICATION_CLOSED:
        TP_IPC_AERON_COUNT(closed);
        return tp_err_set(TP_ERR_STATE, "aeron stream %d: publication closed (%s)", p->base.stream_id,
                          tp_ipc_aeron_client_last_error());
    case AERON_PUBLICATION_MAX_POSITION_EXCEEDED:
        TP_IPC_AERON_COUNT(max_position_exceeded);
        return tp_err_set(TP_ERR_CAPACITY, "aeron stream %d: max position exceeded", p->base.stream_id);
    default:
        TP_IPC_AERON_COUNT(offer_errors);
        return tp_err_set(TP_ERR_IO, "aeron stream %d: offer failed: %s", p->base.stream_id, aeron_errmsg());
    }
}

int64_t tp_ipc_aeron_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length)
{
    tp_ipc_aeron_pub_t *p = (tp_ipc_aeron_pub_t *)pub;
    if (p->claimed) return tp_err_set(TP_ERR_STATE, "offer while a claim is outstanding");
    if (length > p->base.max_message)
        return tp_err_set(TP_ERR_CAPACITY, "message of %zu bytes exceeds max %zu (the channel's MTU payload)", length,
                          p->base.max_message);
    int64_t r = aeron_exclusive_publication_offer(p->pub, buffer, length, NULL, NULL);
    /* An admin action (term rotation) is over by the next call: retry once. */
    if (r == AERON_PUBLICATION_ADMIN_ACTION) r = aeron_exclusive_publication_offer(p->pub, buffer, length, NULL, NULL);
    return r > 0 ? r : offer_failed(p, r);
}

int tp_ipc_aeron_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim)
{
    tp_ipc_aeron_pub_t *p = (tp_ipc_aeron_pub_t *)pub;
    if (claim == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "claim is NULL");
    if (p->claimed) return tp_err_set(TP_ERR_STATE, "a claim is already outstanding");
    if (length > p->base.max_message)
        return tp_err_set(TP_ERR_CAPACITY, "claim of %zu bytes exceeds max %zu", length, p->base.max_message);
    int64_t r = aeron_exclusive_publication_try_claim(p->pub, length, &p->claim);
    if (r == AERON_PUBLICATION_ADMIN_ACTION) r = aeron_exclusive_publication_try_claim(p->pub, length, &p->claim);
    if (r <= 0) return (int)offer_failed(p, r);
    p->claimed = 1;
    claim->data = p->claim.data;
    claim->length = length;
    claim->internal_[0] = CLAIM_TAG;
    claim->internal_[1] = (uint64_t)r;
    return 0;
}

static int claim_ok(const tp_ipc_aeron_pub_t *p, const tp_ipc_claim_t *claim)
{
    if (claim == NULL || !p->claimed || claim->internal_[0] != CLAIM_TAG || claim->data != p->claim.data)
        return tp_err_set(TP_ERR_STATE, "no such outstanding claim");
    return 0;
}

int64_t tp_ipc_aeron_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim)
{
    tp_ipc_aeron_pub_t *p = (tp_ipc_aeron_pub_t *)pub;
    if (claim_ok(p, claim) < 0) return -1;
    p->claimed = 0;
    claim->internal_[0] = 0;
    if (aeron_buffer_claim_commit(&p->claim) < 0) return tp_err_set(TP_ERR_IO, "commit: %s", aeron_errmsg());
    return (int64_t)claim->internal_[1];
}

int tp_ipc_aeron_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim)
{
    tp_ipc_aeron_pub_t *p = (tp_ipc_aeron_pub_t *)pub;
    if (claim_ok(p, claim) < 0) return -1;
    p->claimed = 0;
    claim->internal_[0] = 0;
    if (aeron_buffer_claim_abort(&p->claim) < 0) return tp_err_set(TP_ERR_IO, "abort: %s", aeron_errmsg());
    return 0;
}

int tp_ipc_aeron_publication_close(tp_ipc_publication_t *pub)
{
    tp_ipc_aeron_pub_t *p = (tp_ipc_aeron_pub_t *)pub;
    if (p->claimed) aeron_buffer_claim_abort(&p->claim);
    aeron_exclusive_publication_close(p->pub, NULL, NULL);
    tp_ipc_aeron_client_release();
    free(p);
    return 0;
}
