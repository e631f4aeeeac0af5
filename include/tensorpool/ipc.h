/* tensorpool message transport: publications and subscriptions on
 * (channel, stream id).
 *
 * The interface is backend-neutral; the channel URI picks the backend.
 * "tp:ipc" is the embedded backend, always built: one memory-mapped,
 * single-writer broadcast log per publication, in
 * <base_dir>/tensorpool-<user>/<namespace>/ipc/. Every subscription of a
 * stream sees every message of every publication of that stream, each
 * publication's messages in order. By default there is no back-pressure: a
 * subscriber that falls a whole log behind skips ahead and counts the
 * messages it lost (tp_ipc_subscription_loss_count). A publication opened on
 * "tp:ipc?lossless=true" is lossless instead: it never laps a subscription
 * following it; offer and try_claim return TP_IPC_BACK_PRESSURED while the
 * slowest one is a whole log behind (the caller retries, as with Aeron's
 * BACK_PRESSURED). A subscription whose process died stops holding it back,
 * and so does one that has not moved for the stall time
 * ("tp:ipc?lossless=true|stall-ms=N", default 5000): it is cut loose, laps
 * and counts its loss.
 * After open, offer/claim/commit/poll make no syscall, take no lock and do
 * not allocate.
 *
 * Threading: a publication is single-writer (one thread at a time); a
 * subscription is single-reader. Different objects may be used from different
 * threads and processes freely.
 */
#ifndef TENSORPOOL_IPC_H
#define TENSORPOOL_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/error.h"

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returned by offer / try_claim of a lossless publication while a
 * subscriber is a whole log behind: nothing was written, retry later. No
 * error is set. */
#define TP_IPC_BACK_PRESSURED (-2)

/* Largest message any backend must accept; larger ones are refused. */
#define TP_IPC_MAX_MESSAGE_DEFAULT (64u * 1024u)

/* Settings shared by publications and subscriptions. Initialise with
 * tp_ipc_context_init, then override fields. Strings are borrowed until the
 * open call returns. */
typedef struct tp_ipc_context_s {
    const char *base_dir;       /* NULL: $TP_DIR, else /dev/shm/tensorpool */
    const char *namespace_name; /* NULL: "default"; [A-Za-z0-9_-]+ */
    uint32_t log_capacity;      /* bytes of each publication's ring; power of two, >= 4 * (max_message + 16) */
    uint32_t max_message;       /* largest payload, <= log_capacity / 4 */
    uint32_t max_images;        /* publications a subscription follows at most */
    int64_t linger_ns;          /* a closed (or dead publisher's) log stays this long before deletion */
    int64_t rescan_interval_ns; /* subscriptions re-check publisher liveness at least this often */
    int conductor;              /* who does a tp:ipc subscription's upkeep: TP_IPC_CONDUCTOR_* */
} tp_ipc_context_t;

/* Who does the upkeep of tp:ipc subscriptions: scanning the transport
 * directory for new and closed publications, checking that publishers are
 * alive (/proc), unmapping and reclaiming logs. All of it takes syscalls.
 * THREAD (the default): one background thread per process, "tp-conductor",
 * started by the first subscription; it sleeps on the transport index and
 * hands each subscription a new set of publications when they change, so
 * poll makes no syscall. It takes no asynchronous signal, and it inherits
 * the CPU affinity of the thread that opened the first subscription (a
 * program that pins that thread to an isolated CPU can move the conductor
 * by its name). A subscription inherited across fork() follows no new
 * publications in the child.
 * CALLER: poll does it, when due (a few syscalls about once per
 * rescan_interval_ns and when publications come and go); no thread. */
#define TP_IPC_CONDUCTOR_THREAD 0
#define TP_IPC_CONDUCTOR_CALLER 1

/* Defaults: capacity 1 MiB, max message 64 KiB, 64 images, linger 5 s, rescan 1 s, conductor thread. */
TP_API void tp_ipc_context_init(tp_ipc_context_t *ctx);

/* Resolve the transport directory <base>/tensorpool-<user>/<ns>/ipc into out.
 * 0, or -1 if it does not fit or the namespace is invalid. Does not create it. */
TP_API int tp_ipc_context_dir(const tp_ipc_context_t *ctx, char *out, size_t out_len);

typedef struct tp_ipc_publication_s tp_ipc_publication_t;
typedef struct tp_ipc_subscription_s tp_ipc_subscription_t;

/* Where a received message came from. */
typedef struct tp_ipc_msg_info_s {
    int32_t stream_id;
    uint64_t publisher_id; /* unique per publication (log id) */
    uint64_t sequence;     /* 0, 1, 2... per publication; gaps are lost messages */
    int32_t publisher_pid; /* process that opened the publication (from its log header, which
                            * the publisher writes: a claim, not a proof); 0 when the
                            * transport cannot tell (aeron:) */
    uint32_t publisher_uid; /* owner of the publication's log file, from fstat when the
                             * subscription opened it: only that uid (or root) can have
                             * created it. Receivers pin streams to their own uid with it
                             * (docs/threat-model.md). aeron: cannot tell, and reports the
                             * receiver's own uid: every user allowed into the media
                             * driver's directory is trusted alike. */
    uint32_t batch_remaining; /* messages of this poll after this one, already read and
                               * next to be handled: a handler may prefetch for them;
                               * 0 when the transport cannot tell (aeron:) */
} tp_ipc_msg_info_t;

/* Message handler for poll. buffer is valid only during the call. */
typedef void (*tp_ipc_handler_t)(void *clientd, const uint8_t *buffer, size_t length,
                                 const tp_ipc_msg_info_t *info);

/* A zero-copy claim: write length bytes at data, then commit or abort. */
typedef struct tp_ipc_claim_s {
    uint8_t *data;
    size_t length;
    uint64_t internal_[2]; /* backend state; do not touch */
} tp_ipc_claim_t;

/* ---- publication ---- */

/* Open a publication on (channel, stream_id). Channel "tp:ipc" selects the
 * embedded backend; anything else fails with TP_ERR_UNSUPPORTED or
 * TP_ERR_INVALID_ARG. Creates the transport directory when missing.
 * 0 or -1. */
TP_API int tp_ipc_publication_open(tp_ipc_publication_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                   int32_t stream_id);

/* Copy length bytes into the log as one message. Returns the publication's
 * position after the message (> 0), TP_IPC_BACK_PRESSURED (lossless
 * publications), or -1 if length exceeds the maximum (TP_ERR_CAPACITY) or a
 * claim is outstanding (TP_ERR_STATE). Never blocks. */
TP_API int64_t tp_ipc_publication_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length);

/* Reserve length bytes in the log for the caller to fill in place. At most one
 * claim is outstanding. 0, TP_IPC_BACK_PRESSURED or -1 (as offer). */
TP_API int tp_ipc_publication_try_claim(tp_ipc_publication_t *pub, size_t length, tp_ipc_claim_t *claim);

/* Publish a claimed message. Returns the position after it, or -1. */
TP_API int64_t tp_ipc_publication_commit(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);

/* Give up a claim; nothing is published. 0 or -1. */
TP_API int tp_ipc_publication_abort(tp_ipc_publication_t *pub, tp_ipc_claim_t *claim);

/* Largest payload this publication accepts. */
TP_API size_t tp_ipc_publication_max_message(const tp_ipc_publication_t *pub);

/* Stream id of the publication. */
TP_API int32_t tp_ipc_publication_stream_id(const tp_ipc_publication_t *pub);

/* Mark the log closed (subscribers drain it, then drop it) and free the
 * publication. NULL is a no-op. 0 or -1. */
TP_API int tp_ipc_publication_close(tp_ipc_publication_t *pub);

/* ---- subscription ---- */

/* Open a subscription on (channel, stream_id). Publications that exist now are
 * joined at their current end; publications that appear later are read from
 * their first message still in the log. 0 or -1. */
TP_API int tp_ipc_subscription_open(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx, const char *channel,
                                    int32_t stream_id);

/* Deliver up to limit messages (limit >= 1) to handler. Returns the number
 * delivered (0 when nothing is ready). Also notices new, closed and dead
 * publications at a low cadence (no syscall unless something changed or the
 * rescan interval passed). -1 only on misuse. */
TP_API int tp_ipc_subscription_poll(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit);

/* Messages this subscription skipped because it was lapped. */
TP_API uint64_t tp_ipc_subscription_loss_count(const tp_ipc_subscription_t *sub);

/* Publications currently followed. */
TP_API size_t tp_ipc_subscription_image_count(const tp_ipc_subscription_t *sub);

/* Logs refused as corrupt or unreadable so far (each counted once). */
TP_API uint64_t tp_ipc_subscription_error_count(const tp_ipc_subscription_t *sub);

/* Close and free. NULL is a no-op. 0 or -1. */
TP_API int tp_ipc_subscription_close(tp_ipc_subscription_t *sub);

/* ---- Aeron counters ---- */

/* What the Aeron backend (aeron:ipc, aeron:udp) of this process reported
 * since it started: counts over every Aeron publication and subscription
 * of the process (tp stat shows its own). Offers refused for a transient
 * reason (not connected, back-pressured, admin action) are counted each
 * time they are refused. */
typedef struct tp_ipc_aeron_counters_s {
    uint64_t not_connected;         /* offers refused: no subscriber connected */
    uint64_t back_pressured;        /* offers refused: a subscriber is a whole window behind */
    uint64_t admin_action;          /* offers refused twice in a row for a term rotation */
    uint64_t closed;                /* offers on a publication the media driver closed */
    uint64_t max_position_exceeded; /* offers past the publication's last position */
    uint64_t offer_errors;          /* other offer failures */
    uint64_t client_errors;         /* errors the Aeron client reported (driver timeout, ...) */
    uint64_t driver_timeouts;       /* the media driver stopped answering */
    uint64_t images_unavailable;    /* publishers that went away under a subscription */
    uint64_t messages_too_long;     /* received messages over the subscription's max_message, dropped */
} tp_ipc_aeron_counters_t;

/* Snapshot of this process's Aeron counters. 0, or -1 (TP_ERR_UNSUPPORTED,
 * *out all zero) in a build without Aeron. */
TP_API int tp_ipc_aeron_counters(tp_ipc_aeron_counters_t *out);

/* ---- maintenance ---- */

/* Tidy the transport directory: logs closed more than linger_ns ago are
 * deleted; logs whose publisher process is dead are marked closed (so they
 * linger for subscriptions that have not drained them) or deleted at once
 * when linger_ns is 0. Publications and subscriptions also do this on their
 * own. Returns the number deleted, or -1. */
TP_API int tp_ipc_reclaim(const tp_ipc_context_t *ctx);

#ifdef __cplusplus
}
#endif
#endif
