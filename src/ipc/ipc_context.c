#include "ipc_backend.h"

#include <string.h>

void tp_ipc_context_init(tp_ipc_context_t *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->log_capacity = 1u << 20;
    ctx->max_message = TP_IPC_MAX_MESSAGE_DEFAULT;
    ctx->max_images = 64;
    ctx->linger_ns = 5LL * 1000000000LL;
    ctx->rescan_interval_ns = 1000000000LL;
}

int tp_ipc_context_validate(const tp_ipc_context_t *ctx)
{
    if (ctx == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "ipc context is NULL");
    uint32_t cap = ctx->log_capacity;
    if (cap < 4096 || cap > (1u << 30) || (cap & (cap - 1)) != 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "log_capacity %u must be a power of two in [4096, 2^30]", cap);
    if (ctx->max_message == 0 || ctx->max_message > cap / 4)
        return tp_err_set(TP_ERR_INVALID_ARG, "max_message %u must be in [1, log_capacity/4 = %u]", ctx->max_message,
                          cap / 4);
    if (ctx->max_images == 0 || ctx->max_images > 4096)
        return tp_err_set(TP_ERR_INVALID_ARG, "max_images %u must be in [1, 4096]", ctx->max_images);
    if (ctx->linger_ns < 0 || ctx->rescan_interval_ns <= 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "linger_ns must be >= 0 and rescan_interval_ns > 0");
    if (ctx->conductor != TP_IPC_CONDUCTOR_THREAD && ctx->conductor != TP_IPC_CONDUCTOR_CALLER)
        return tp_err_set(TP_ERR_INVALID_ARG, "conductor %d must be TP_IPC_CONDUCTOR_THREAD or _CALLER",
                          ctx->conductor);
    return 0;
}
