/* Transport backends behind the public publication/subscription API.
 *
 * Each backend fills one table of operations; publication and subscription
 * objects start with a base struct pointing at their backend's table, so
 * callers never know which backend they use. Adding a backend (e.g. Aeron)
 * means a new table and a new entry in tp_ipc_backend_for_channel. */
#ifndef TP_IPC_BACKEND_H
#define TP_IPC_BACKEND_H

#include "tensorpool/ipc.h"

typedef struct tp_ipc_backend_s tp_ipc_backend_t;

struct tp_ipc_publication_s {
    const tp_ipc_backend_t *backend;
    int32_t stream_id;
    size_t max_message;
};

struct tp_ipc_subscription_s {
    const tp_ipc_backend_t *backend;
    int32_t stream_id;
};

struct tp_ipc_backend_s {
    const char *name;
    int (*publication_open)(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                            int32_t stream_id);
    int64_t (*offer)(tp_ipc_publication_t *pub, const void *buffer, size_t length);
    int (*try_claim)(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim);
    int64_t (*commit)(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
    int (*abort)(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
    int (*publication_close)(tp_ipc_publication_t *pub);

    int (*subscription_open)(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx, const char *channel,
                             int32_t stream_id);
    int (*poll)(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit);
    uint64_t (*loss_count)(const tp_ipc_subscription_t *sub);
    size_t (*image_count)(const tp_ipc_subscription_t *sub);
    uint64_t (*error_count)(const tp_ipc_subscription_t *sub);
    int (*subscription_close)(tp_ipc_subscription_t *sub);
};

/* The embedded shared-memory backend ("tp:ipc"). */
extern const tp_ipc_backend_t tp_ipc_embedded_backend;

/* Backend serving a channel URI, or NULL with an error set. */
const tp_ipc_backend_t *tp_ipc_backend_for_channel(const char *channel);

/* Check a context's numeric settings. 0 or -1. */
int tp_ipc_context_validate(const tp_ipc_context_t *ctx);

/* Reclaim dead/lingered logs in an open transport directory; buf is scratch
 * for directory reads. Returns the number deleted (>= 0). */
int tp_ipc_reclaim_dir(int dirfd, void *buf, size_t buf_len, int64_t linger_ns);

#endif
