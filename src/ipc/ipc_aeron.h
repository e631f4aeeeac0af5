/* Aeron backend ("aeron:ipc", "aeron:udp?..."): shared parts.
 *
 * One Aeron client per process, created by the first Aeron publication or
 * subscription and closed with the last; it finds its media driver in
 * AERON_DIR (Aeron's own variable) or else beside the tp:ipc directory
 * (tp_ipc_aeron_dir), and gives up after AERON_DRIVER_TIMEOUT ms. Publications are exclusive publications (one
 * Aeron session each, so every tensorpool publication is its own publisher,
 * as with tp:ipc). Messages up to max_message (64 KiB by default; at most
 * an eighth of Aeron's term) are accepted; Aeron splits those longer than
 * one MTU (1376 payload bytes by default) and the subscription joins them
 * with Aeron's fragment assembler. One-frame messages (every control message
 * tensorpool sends) pass through it without allocating; the assembler
 * allocates a buffer per publisher the first time that publisher sends a
 * longer message (and grows it for a longer one), which is the only
 * allocation on the poll path. A zero-copy claim is limited to one MTU's
 * payload (Aeron cannot split a claim). */
#ifndef TP_IPC_AERON_H
#define TP_IPC_AERON_H

#include "ipc_backend.h"

#include <aeronc.h>
#include <stdatomic.h>

/* The counters (tp_ipc_aeron_counters_t, tensorpool/ipc.h) are process-wide. */
/* Count one event (field of tp_ipc_aeron_counters_t). */
void tp_ipc_aeron_count(size_t field_offset);
#define TP_IPC_AERON_COUNT(field) tp_ipc_aeron_count(offsetof(tp_ipc_aeron_counters_t, field))

/* The media driver directory for ctx: $AERON_DIR, else
 * <base>/tensorpool-<user>/<namespace>/aeron (so TP_DIR moves it too). */
int tp_ipc_aeron_dir(const tp_ipc_context_t *ctx, char *out, size_t out_len);

/* The process's Aeron client for media driver directory dir, created on
 * first use and shared. A client whose media driver stopped answering
 * closes itself for good (Aeron's rule); the next acquire then makes a new
 * one while holders of the old one let go of it one by one. 0 or -1 (no
 * media driver within the timeout, ...). Every acquire is matched by a
 * release. */
typedef struct tp_ipc_aeron_client_s tp_ipc_aeron_client_t;
int tp_ipc_aeron_client_acquire(const char *dir, tp_ipc_aeron_client_t **out);
void tp_ipc_aeron_client_release(tp_ipc_aeron_client_t *c);
aeron_t *tp_ipc_aeron_client_aeron(const tp_ipc_aeron_client_t *c);

/* A media driver of this process started or stopped: new users get a new
 * client (the current one may be bound to a media driver that is gone, and
 * would only notice after the driver timeout); its holders keep it. */
void tp_ipc_aeron_client_renew(void);

/* Has this client closed (media driver timeout)? Cheap: one load. */
int tp_ipc_aeron_client_is_closed(const tp_ipc_aeron_client_t *c);

/* Should a closed client's user try to reconnect now? Rate-limited by the
 * caller's *next_ns (once a second) and true only when a media driver in
 * dir is heartbeating. Makes syscalls: call only when closed. */
int tp_ipc_aeron_reconnect_due(const char *dir, int64_t *next_ns);

/* The last error the Aeron client reported (driver timeout...), "" if none. */
const char *tp_ipc_aeron_client_last_error(void);

/* Is channel an Aeron channel this backend serves (aeron:ipc, aeron:udp)? */
int tp_ipc_aeron_channel_ok(const char *channel);

/* Milliseconds an add of a publication or subscription may take. */
int64_t tp_ipc_aeron_setup_timeout_ms(void);

extern const tp_ipc_backend_t tp_ipc_aeron_backend;

int tp_ipc_aeron_publication_open(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                  int32_t stream_id);
int64_t tp_ipc_aeron_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length);
int tp_ipc_aeron_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim);
int64_t tp_ipc_aeron_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
int tp_ipc_aeron_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);
int tp_ipc_aeron_publication_close(tp_ipc_publication_t *pub);

int tp_ipc_aeron_subscription_open(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                   int32_t stream_id);
int tp_ipc_aeron_poll(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit);
uint64_t tp_ipc_aeron_loss_count(const tp_ipc_subscription_t *sub);
size_t tp_ipc_aeron_image_count(const tp_ipc_subscription_t *sub);
uint64_t tp_ipc_aeron_error_count(const tp_ipc_subscription_t *sub);
int tp_ipc_aeron_subscription_close(tp_ipc_subscription_t *sub);

#endif
