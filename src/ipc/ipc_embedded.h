/* Embedded backend entry points, referenced by its operation table. */
#ifndef TP_IPC_EMBEDDED_H
#define TP_IPC_EMBEDDED_H

#include "ipc_backend.h"

int tp_ipc_embedded_publication_open(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                     int32_t stream_id);
int tp_ipc_embedded_publication_close(tp_ipc_publication_t *pub);
int64_t tp_ipc_embedded_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length);
int tp_ipc_embedded_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim);
int64_t tp_ipc_embedded_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
int tp_ipc_embedded_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
int tp_ipc_embedded_subscription_open(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx,
                                      const char *channel, int32_t stream_id);
int tp_ipc_embedded_poll(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit);
uint64_t tp_ipc_embedded_loss_count(const tp_ipc_subscription_t *sub);
size_t tp_ipc_embedded_image_count(const tp_ipc_subscription_t *sub);
uint64_t tp_ipc_embedded_error_count(const tp_ipc_subscription_t *sub);
int tp_ipc_embedded_subscription_close(tp_ipc_subscription_t *sub);

/* "tp:ipc" or "tp:ipc?lossless=false": 0; "tp:ipc?lossless=true": 1; else -1. */
int tp_ipc_embedded_channel_lossless(const char *channel);

#endif
