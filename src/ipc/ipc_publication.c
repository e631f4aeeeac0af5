/* Public publication API: argument checks and dispatch to the backend. */
#include "ipc_backend.h"

int tp_ipc_publication_open(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                            int32_t stream_id)
{
    if (out == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "publication out pointer is NULL");
    *out = NULL;
    if (tp_ipc_context_validate(ctx) < 0) return -1;
    const tp_ipc_backend_t *b = tp_ipc_backend_for_channel(channel);
    if (b == NULL) return -1;
    return b->publication_open(out, ctx, channel, stream_id);
}

int64_t tp_ipc_publication_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length)
{
    return pub->backend->offer(pub, buffer, length);
}

int tp_ipc_publication_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim)
{
    return pub->backend->try_claim(pub, length, claim);
}

int64_t tp_ipc_publication_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim)
{
    return pub->backend->commit(pub, claim);
}

int tp_ipc_publication_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim)
{
    return pub->backend->abort(pub, claim);
}

size_t tp_ipc_publication_max_message(const tp_ipc_publication_t *pub) { return pub->max_message; }

int32_t tp_ipc_publication_stream_id(const tp_ipc_publication_t *pub) { return pub->stream_id; }

int tp_ipc_publication_close(tp_ipc_publication_t *pub)
{
    if (pub == NULL) return 0;
    return pub->backend->publication_close(pub);
}
