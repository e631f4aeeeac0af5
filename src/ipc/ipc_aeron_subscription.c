/* Aeron backend, receiving side: one Aeron subscription; each message's
 * publisher is its Aeron session. Like a publication, a subscription whose
 * client closed (media driver gone) delivers nothing and re-adds itself once
 * a media driver heartbeats again. */
#include "ipc_aeron.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

/* Per publisher (session): the next sequence number to hand out. A fixed
 * table sized at open (max_images), so poll never allocates. */
typedef struct {
    int32_t session_id;
    int used;
    uint64_t next_sequence;
} session_seq_t;

typedef struct tp_ipc_aeron_sub_s {
    tp_ipc_subscription_t base;
    tp_ipc_aeron_client_t *client;
    aeron_subscription_t *sub;            /* NULL while reconnecting */
    aeron_async_add_subscription_t *async; /* a re-add under way */
    aeron_fragment_assembler_t *assembler; /* joins messages longer than one MTU */
    size_t max_message;
    int64_t next_retry_ns;
    char *channel;
    char dir[512];
    session_seq_t *sessions;
    uint32_t nsessions, next_victim;
    uint64_t errors;              /* messages longer than max_message, dropped */
    uint32_t own_uid;             /* reported as every publisher's uid (see ipc.h) */
    /* valid during one poll */
    tp_ipc_handler_t handler;
    void *clientd;
    int delivered;
} tp_ipc_aeron_sub_t;


static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Conductor thread: a publisher went away (closed, died, or timed out). */
static void on_unavailable_image(void *clientd, aeron_subscription_t *subscription, aeron_image_t *image)
{
    (void)subscription;
    (void)image;
    (void)clientd; /* process-wide count: a late call may outlive the subscription */
    TP_IPC_AERON_COUNT(images_unavailable);
}

static void on_message(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header);

int tp_ipc_aeron_subscription_open(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                   int32_t stream_id)
{
    tp_ipc_aeron_sub_t *s = calloc(1, sizeof *s);
    session_seq_t *sessions = calloc(ctx->max_images, sizeof *sessions);
    char *ch = strdup(channel);
    if (s == NULL || sessions == NULL || ch == NULL) {
        free(s);
        free(sessions);
        free(ch);
        return tp_err_set(TP_ERR_CAPACITY, "out of memory for subscription");
    }
    s->sessions = sessions;
    s->nsessions = ctx->max_images;
    s->channel = ch;
    s->max_message = ctx->max_message;
    s->own_uid = (uint32_t)geteuid();
    if (aeron_fragment_assembler_create(&s->assembler, on_message, s) < 0) {
        free(sessions);
        free(ch);
        free(s);
        return tp_err_set(TP_ERR_CAPACITY, "subscription %s stream %d: %s", channel, stream_id, aeron_errmsg());
    }
    if (tp_ipc_aeron_dir(ctx, s->dir, sizeof s->dir) < 0 || tp_ipc_aeron_client_acquire(s->dir, &s->client) < 0) {
        aeron_fragment_assembler_delete(s->assembler);
        free(sessions);
        free(ch);
        free(s);
        return tp_err_wrap("open subscription %s stream %d", channel, stream_id);
    }
    aeron_async_add_subscription_t *async = NULL;
    if (aeron_async_add_subscription(&async, tp_ipc_aeron_client_aeron(s->client), channel, stream_id, NULL, NULL, on_unavailable_image, NULL) <
        0) {
        tp_err_set(TP_ERR_INVALID_ARG, "open subscription %s stream %d: %s", channel, stream_id, aeron_errmsg());
        goto fail;
    }
    const int64_t end = now_ms() + tp_ipc_aeron_setup_timeout_ms();
    int rc;
    while ((rc = aeron_async_add_subscription_poll(&s->sub, async)) == 0) {
        if (now_ms() > end) {
            tp_err_set(TP_ERR_IO, "open subscription %s stream %d: the media driver did not answer", channel,
                       stream_id);
            goto fail;
        }
        const struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (rc < 0) {
        tp_err_set(TP_ERR_INVALID_ARG, "open subscription %s stream %d: %s", channel, stream_id, aeron_errmsg());
        goto fail;
    }
    s->base.backend = &tp_ipc_aeron_backend;
    s->base.stream_id = stream_id;
    *out = &s->base;
    return 0;
fail:
    if (s->sub != NULL) aeron_subscription_close(s->sub, NULL, NULL);
    tp_ipc_aeron_client_release(s->client);
    aeron_fragment_assembler_delete(s->assembler);
    free(sessions);
    free(ch);
    free(s);
    return -1;
}

/* Progress a reconnection without blocking (see the publication's). */
static void reconnect(tp_ipc_aeron_sub_t *s)
{
    if (s->async != NULL) {
        const int rc = aeron_async_add_subscription_poll(&s->sub, s->async);
        if (rc == 0) return;
        s->async = NULL;
        if (rc < 0) s->sub = NULL;
        return;
    }
    if (!tp_ipc_aeron_reconnect_due(s->dir, &s->next_retry_ns)) return;
    s->sub = NULL;
    tp_ipc_aeron_client_release(s->client);
    s->client = NULL;
    if (tp_ipc_aeron_client_acquire(s->dir, &s->client) < 0) return;
    if (aeron_async_add_subscription(&s->async, tp_ipc_aeron_client_aeron(s->client), s->channel, s->base.stream_id,
                                     NULL, NULL, on_unavailable_image, NULL) < 0)
        s->async = NULL;
}

/* Next sequence of session; a new session takes a free entry or, when the
 * table is full, the next one round-robin (its count restarts). */
static uint64_t next_sequence(tp_ipc_aeron_sub_t *s, int32_t session_id)
{
    uint32_t free_slot = s->nsessions;
    for (uint32_t i = 0; i < s->nsessions; i++) {
        if (s->sessions[i].used && s->sessions[i].session_id == session_id) return s->sessions[i].next_sequence++;
        if (!s->sessions[i].used && free_slot == s->nsessions) free_slot = i;
    }
    if (free_slot == s->nsessions) free_slot = s->next_victim++ % s->nsessions;
    s->sessions[free_slot] = (session_seq_t){.session_id = session_id, .used = 1, .next_sequence = 1};
    return 0;
}

/* A whole message (the assembler passes one-frame messages straight on). */
static void on_message(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    tp_ipc_aeron_sub_t *s = clientd;
    aeron_header_values_t v;
    if (aeron_header_values(header, &v) < 0) return;
    if (length > s->max_message) { /* someone else's publisher: larger than we accept */
        s->errors++;
        TP_IPC_AERON_COUNT(messages_too_long);
        return;
    }
    const tp_ipc_msg_info_t info = {
        .stream_id = v.frame.stream_id,
        .publisher_id = (uint64_t)(uint32_t)v.frame.session_id,
        .sequence = next_sequence(s, v.frame.session_id),
        .publisher_pid = 0,             /* Aeron does not say which process published */
        .publisher_uid = s->own_uid,    /* nor as which user: whoever may use the media driver */
    };
    s->delivered++;
    s->handler(s->clientd, buffer, length, &info);
}

int tp_ipc_aeron_poll(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit)
{
    tp_ipc_aeron_sub_t *s = (tp_ipc_aeron_sub_t *)sub;
    if (handler == NULL || limit < 1) return tp_err_set(TP_ERR_INVALID_ARG, "poll: handler NULL or limit < 1");
    if (s->sub == NULL || s->client == NULL || tp_ipc_aeron_client_is_closed(s->client)) {
        if (s->client != NULL && s->sub != NULL) s->sub = NULL; /* went with its client */
        reconnect(s);
        if (s->sub == NULL) return 0;
    }
    s->handler = handler;
    s->clientd = clientd;
    s->delivered = 0;
    /* limit counts fragments for Aeron, so at most limit messages; the
     * result counts messages, as the API says */
    aeron_subscription_poll(s->sub, aeron_fragment_assembler_handler, s->assembler, (size_t)limit);
    return s->delivered; /* a closed client delivers nothing; counters say why */
}

uint64_t tp_ipc_aeron_loss_count(const tp_ipc_subscription_t *sub)
{
    (void)sub;
    return 0; /* Aeron is reliable: a publisher is either received in full or its image goes unavailable */
}

size_t tp_ipc_aeron_image_count(const tp_ipc_subscription_t *sub)
{
    const tp_ipc_aeron_sub_t *s = (const tp_ipc_aeron_sub_t *)sub;
    const int n = s->sub != NULL ? aeron_subscription_image_count(s->sub) : 0;
    return n > 0 ? (size_t)n : 0;
}

uint64_t tp_ipc_aeron_error_count(const tp_ipc_subscription_t *sub)
{
    const tp_ipc_aeron_sub_t *s = (const tp_ipc_aeron_sub_t *)sub;
    return s->errors;
}

int tp_ipc_aeron_subscription_close(tp_ipc_subscription_t *sub)
{
    tp_ipc_aeron_sub_t *s = (tp_ipc_aeron_sub_t *)sub;
    /* A re-add under way is freed only by polling it to its answer (see the
     * publication's close). */
    for (const int64_t end = now_ms() + tp_ipc_aeron_setup_timeout_ms();
         s->async != NULL && s->client != NULL && !tp_ipc_aeron_client_is_closed(s->client) && now_ms() < end;) {
        reconnect(s);
        if (s->async != NULL) {
            const struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (s->sub != NULL && s->client != NULL && !tp_ipc_aeron_client_is_closed(s->client))
        aeron_subscription_close(s->sub, NULL, NULL);
    tp_ipc_aeron_client_release(s->client);
    aeron_fragment_assembler_delete(s->assembler);
    free(s->channel);
    free(s->sessions);
    free(s);
    return 0;
}
