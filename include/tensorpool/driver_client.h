/* Driver client: one lease holder (docs/spec/driver.md §3.4-§3.10 "Driver client").
 *
 * Attaches with retransmit, timeout and exponential backoff, validates the
 * answer (§3.5), keeps the lease alive, and notices every way of losing it:
 * its own revocation, a ShmDriverShutdown, a local deadline, or a driver that
 * stopped announcing (D-4.13.e). After a loss it backs off and attaches again
 * on its own. Everything happens inside tp_driver_client_do_work on the
 * caller's thread; nothing blocks except tp_driver_client_close (bounded).
 */
#ifndef TENSORPOOL_DRIVER_CLIENT_H
#define TENSORPOOL_DRIVER_CLIENT_H

#include "tensorpool/client.h"
#include "tensorpool/shm_reader.h"
#include "tensorpool/shm_writer.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_ROLE_PRODUCER 1
#define TP_ROLE_CONSUMER 2

/* An accepted attach (every field validated, §3.5). URIs are NUL-terminated. */
typedef struct tp_lease_s {
    uint64_t lease_id;
    uint32_t stream_id;
    uint32_t client_id;
    uint8_t role;
    uint64_t epoch;
    uint32_t layout_version;
    uint32_t header_nslots;
    uint32_t node_id;           /* 0xFFFFFFFF when none */
    uint64_t expiry_ns;         /* 0xFFFF... when absent (D-4.2.r) */
    unsigned npools;
    uint16_t pool_id[TP_SHM_MAX_POOLS];
    uint32_t stride_bytes[TP_SHM_MAX_POOLS];
    char pool_uri[TP_SHM_MAX_POOLS][TP_SHM_PATH_MAX + 64];
    char ring_uri[TP_SHM_PATH_MAX + 64];
} tp_lease_t;

typedef enum tp_driver_client_state_e {
    TP_DC_UNATTACHED = 0,
    TP_DC_ATTACHING,
    TP_DC_ATTACHED,
    TP_DC_BACKOFF,
    TP_DC_DETACHING,
    TP_DC_CLOSED
} tp_driver_client_state_t;

/* Callbacks into the lease's owner (producer or consumer), on the do_work
 * thread. */
typedef struct tp_driver_client_handlers_s {
    void *clientd;
    /* A validated OK arrived: map the regions. Return -1 (with tp_err_set) if
     * mapping or superblock validation fails: that is a protocol error, the
     * client detaches best-effort and backs off (§3.5 step 8). */
    int (*on_attached)(void *clientd, const tp_lease_t *lease);
    /* The lease is gone (revoked, expired, shutdown, driver silent): stop
     * touching every region obtained through it now (D-4.7.b, D-4.9.f). */
    void (*on_lease_lost)(void *clientd, const char *why);
    /* A ShmLeaseRevoked for some other lease on this client's stream
     * (D-4.9.g/h), with that lease's client id. Optional. */
    void (*on_other_revoked)(void *clientd, uint64_t lease_id, uint32_t client_id, uint8_t role, uint8_t reason);
    /* Every message on the control/announce streams that is not schema 901
     * (announces, ConsumerHello/Config, ...). Optional. */
    void (*on_message)(void *clientd, const uint8_t *buf, size_t len);
} tp_driver_client_handlers_t;

typedef struct tp_driver_client_s tp_driver_client_t;

/* Open the control transport and start attaching (state ATTACHING).
 * stream_id 0 asks for a dynamic stream (docs/spec/driver.md [R] 2); publish_mode is
 * 1 (REQUIRE_EXISTING) or 2 (EXISTING_OR_CREATE). 0 or -1. Init-time only. */
TP_INTERNAL int tp_driver_client_open(tp_driver_client_t **out, const tp_client_context_t *ctx, uint32_t stream_id, uint8_t role,
                                      uint8_t publish_mode, const tp_driver_client_handlers_t *handlers);

/* One duty cycle: poll control messages, retransmit/time out attaches,
 * back off, keep alive, check deadlines. Work count, or -1 on misuse. */
TP_INTERNAL int tp_driver_client_do_work(tp_driver_client_t *dc, int64_t now_ns);

TP_API tp_driver_client_state_t tp_driver_client_state(const tp_driver_client_t *dc);

/* The current lease (valid in ATTACHED), or NULL. */
TP_API const tp_lease_t *tp_driver_client_lease(const tp_driver_client_t *dc);

/* A reader configuration for what the lease grants (stream, epoch, ring and
 * pools). rc points into the lease's URIs: valid while the lease is. */
TP_INTERNAL void tp_lease_reader_config(const tp_lease_t *l, tp_shm_reader_config_t *rc);

/* The client id in use (auto-assigned ones change on `client_id already
 * attached`, D-B.2.b). */
TP_API uint32_t tp_driver_client_id(const tp_driver_client_t *dc);

/* Code and text of the latest non-OK answer (code -1 when none). The text is
 * truncated to 1024 bytes ([R] §3.5 7.6). */
TP_API int32_t tp_driver_client_last_code(const tp_driver_client_t *dc, const char **message);

/* Counters: attaches accepted, answers refused, protocol errors, leases lost. */
typedef struct tp_driver_client_stats_s {
    uint64_t attached;
    uint64_t refused;
    uint64_t protocol_errors;
    uint64_t lost;
    uint64_t keepalives;
    /* control messages refused because of who sent them (docs/threat-model.md) */
    uint64_t refused_foreign;    /* from a transport log another uid owns */
    uint64_t refused_not_driver; /* while attached: a revocation/shutdown not from the granting
                                  * driver's publication, an announce not from its process */
    uint64_t control_loss;       /* control/announce messages lost before this client read them
                                  * (lapped; answers are replayed on retransmit, announces repeat) */
} tp_driver_client_stats_t;
TP_API void tp_driver_client_stats(const tp_driver_client_t *dc, tp_driver_client_stats_t *out);

/* Give up the current lease (best-effort detach, no wait), report it through
 * on_lease_lost and attach again after a backoff step. For owners that find
 * their lease unusable, e.g. a consumer whose producer was revoked and no
 * newer epoch was announced in time (D-4.9.l). No-op unless ATTACHED. */
TP_INTERNAL void tp_driver_client_reattach(tp_driver_client_t *dc, const char *why);

/* Detach (if attached) and wait up to one keepalive interval for the answer
 * ([R] §3.2), then free. NULL is a no-op. */
TP_INTERNAL void tp_driver_client_close(tp_driver_client_t *dc);

/* Per-process identity sources (§3.9): a random non-zero seed, incremented,
 * 0 skipped. */
TP_INTERNAL uint32_t tp_client_id_next(void);
TP_INTERNAL int64_t tp_correlation_id_next(void);

#ifdef __cplusplus
}
#endif
#endif
