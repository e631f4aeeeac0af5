/* Public subscription API: argument checks and dispatch to the backend. */
#include "ipc_backend.h"

int tp_ipc_subscription_open(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx, const char *channel,
                             int32_t stream_id)
{
    if (out == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "subscription out pointer is NULL");
    *out = NULL;
    if (tp_ipc_context_validate(ctx) < 0) return -1;
    const tp_ipc_backend_t *b = tp_ipc_backend_for_channel(channel);
    if (b == NULL) return -1;
    return b->subscription_open(out, ctx, channel, stream_id);
}

int tp_ipc_subscription_poll(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit)
{
    return sub->backend->poll(sub, handler, clientd, limit);
}

uint64_t tp_ipc_subscription_loss_count(const tp_ipc_subscription_t *sub) { return sub->backend->loss_count(sub); }

size_t tp_ipc_subscription_image_count(const tp_ipc_subscription_t *sub) { return sub->backend->image_count(sub); }

uint64_t tp_ipc_subscription_error_count(const tp_ipc_subscription_t *sub)
{
    return sub->backend->error_count(sub);
}

int tp_ipc_subscription_close(tp_ipc_subscription_t *sub)
{
    if (sub == NULL) return 0;
    return sub->backend->subscription_close(sub);
}
