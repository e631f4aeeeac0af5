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

/* Parameters of a tp:ipc channel URI: "tp:ipc", or "tp:ipc?" and key=value
 * pairs separated by '|': lossless=true|false (default false), stall-ms=N
 * (lossless: a subscription that has not moved for N ms while holding the
 * publication back is cut loose and laps, counting its loss; 1..3600000,
 * default 5000), wake=true|false (a publication's messages wake processes
 * sleeping on the stream's doorbell, ipc_doorbell.h; default false). */
#define TP_IPC_STALL_NS_DEFAULT (5000LL * 1000000LL)
typedef struct tp_ipc_embedded_channel_s {
    int lossless;
    int wake;
    int64_t stall_ns;
} tp_ipc_embedded_channel_t;

/* 0 and *out filled, or -1 (not a valid tp:ipc URI; no error set). */
int tp_ipc_embedded_channel_parse(const char *channel, tp_ipc_embedded_channel_t *out);

#endif
