/* Aeron backend, publishing side: one exclusive publication per
 * tensorpool publication, so each has its own Aeron session (publisher).
 * When the media driver goes away the client closes; offers then fail
 * (TP_ERR_STATE, counted) and, once a media driver heartbeats in the same
 * directory again, the publication re-adds itself on a new client without
 * blocking (checked at most once a second). */
#include "ipc_aeron.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tp_ipc_aeron_pub_s {
    tp_ipc_publication_t base;
    tp_ipc_aeron_client_t *client;
    aeron_exclusive_publication_t *pub;          /* NULL while reconnecting */
    aeron_async_add_exclusive_publication_t *async; /* a re-add under way */
    int64_t next_retry_ns;
    char *channel;
    char dir[512];
    aeron_buffer_claim_t claim; /* the one outstanding claim, if any */
    int claimed;
    size_t max_claim; /* one MTU's payload: Aeron cannot split a claim */
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
    if (p == NULL || (p->channel = strdup(channel)) == NULL) {
        free(p);
        return tp_err_set(TP_ERR_CAPACITY, "out of memory for publication");
    }
    if (tp_ipc_aeron_dir(ctx, p->dir, sizeof p->dir) < 0 || tp_ipc_aeron_client_acquire(p->dir, &p->client) < 0) {
        free(p->channel);
        free(p);
        return tp_err_wrap("open publication %s stream %d", channel, stream_id);
    }
    aeron_async_add_exclusive_publication_t *async = NULL;
    if (aeron_async_add_exclusive_publication(&async, tp_ipc_aeron_client_aeron(p->client), channel, stream_id) <
        0) {
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
    /* Longer than one MTU is split by Aeron (see ipc_aeron.h). */
    p->base.max_message = ctx->max_message < k.max_message_length ? ctx->max_message : k.max_message_length;
    p->max_claim = k.max_payload_length < p->base.max_message ? k.max_payload_length : p->base.max_message;
    *out = &p->base;
    return 0;
fail:
    if (p->pub != NULL) aeron_exclusive_publication_close(p->pub, NULL, NULL);
    tp_ipc_aeron_client_release(p->client);
    free(p->channel);
    free(p);
    return -1;
}

/* Progress a reconnection without blocking; 1 once the publication is back.
 * The old publication belonged to the closed client and goes with it. */
static int reconnect(tp_ipc_aeron_pub_t *p)
{
    if (p->async != NULL) {
        const int rc = aeron_async_add_exclusive_publication_poll(&p->pub, p->async);
        if (rc == 0) return 0;
        p->async = NULL; /* answered: Aeron has freed it */
        if (rc < 0) p->pub = NULL;
        return p->pub != NULL;
    }
    if (!tp_ipc_aeron_reconnect_due(p->dir, &p->next_retry_ns)) return 0;
    p->pub = NULL;
    tp_ipc_aeron_client_release(p->client);
    p->client = NULL;
    if (tp_ipc_aeron_client_acquire(p->dir, &p->client) < 0) return 0;
    if (aeron_async_add_exclusive_publication(&p->async, tp_ipc_aeron_client_aeron(p->client), p->channel,
                                              p->base.stream_id) < 0)
        p->async = NULL;
    return 0;
}

static int64_t reconnecting(tp_ipc_aeron_pub_t *p)
{
    TP_IPC_AERON_COUNT(closed);
    return tp_err_set(TP_ERR_STATE, "aeron stream %d: media driver gone (%s), reconnecting", p->base.stream_id,
                      tp_ipc_aeron_client_last_error());
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
        return tp_err_set(TP_ERR_STATE, "aeron stream %d: publication closed", p->base.stream_id);
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
        return tp_err_set(TP_ERR_CAPACITY, "message of %zu bytes exceeds max %zu", length,
                          p->base.max_message);
    if (p->pub == NULL && !reconnect(p)) return reconnecting(p);
    int64_t r = aeron_exclusive_publication_offer(p->pub, buffer, length, NULL, NULL);
    /* An admin action (term rotation) is over by the next call: retry once. */
    if (r == AERON_PUBLICATION_ADMIN_ACTION) r = aeron_exclusive_publication_offer(p->pub, buffer, length, NULL, NULL);
    if (r > 0) return r;
    if ((r == AERON_PUBLICATION_CLOSED || r == AERON_PUBLICATION_ERROR) && tp_ipc_aeron_client_is_closed(p->client)) {
        reconnect(p);
        return reconnecting(p);
    }
    return offer_failed(p, r);
}

int tp_ipc_aeron_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim)
{
    tp_ipc_aeron_pub_t *p = (tp_ipc_aeron_pub_t *)pub;
    if (claim == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "claim is NULL");
    if (p->claimed) return tp_err_set(TP_ERR_STATE, "a claim is already outstanding");
    if (length > p->max_claim)
        return tp_err_set(TP_ERR_CAPACITY, "claim of %zu bytes exceeds max %zu (one MTU's payload on Aeron)", length,
                          p->max_claim);
    if (p->pub == NULL && !reconnect(p)) return (int)reconnecting(p);
    int64_t r = aeron_exclusive_publication_try_claim(p->pub, length, &p->claim);
    if (r == AERON_PUBLICATION_ADMIN_ACTION) r = aeron_exclusive_publication_try_claim(p->pub, length, &p->claim);
    if (r <= 0 && (r == AERON_PUBLICATION_CLOSED || r == AERON_PUBLICATION_ERROR) &&
        tp_ipc_aeron_client_is_closed(p->client)) {
        reconnect(p);
        return (int)reconnecting(p);
    }
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
    /* A re-add under way is freed only by polling it to its answer (which
     * comes within the setup timeout from a live media driver); then the
     * publication it made is closed below. */
    for (const int64_t end = now_ms() + tp_ipc_aeron_setup_timeout_ms();
         p->async != NULL && !tp_ipc_aeron_client_is_closed(p->client) && now_ms() < end;)
        if (reconnect(p) == 0 && p->async != NULL) sleep_1ms();
    if (p->pub != NULL && !tp_ipc_aeron_client_is_closed(p->client)) {
        if (p->claimed) aeron_buffer_claim_abort(&p->claim);
        aeron_exclusive_publication_close(p->pub, NULL, NULL);
    }
    tp_ipc_aeron_client_release(p->client); /* a re-add under way goes with the client */
    free(p->channel);
    free(p);
    return 0;
}
