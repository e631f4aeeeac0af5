/* The SHM driver (docs/spec/driver.md): owns the SHM files of its streams, hands out
 * leases (attach / keepalive / detach / expiry / revocation), numbers epochs,
 * enforces one producer per stream and announces pools. It never maps
 * payloads: files are created, sized, superblocked and then left to clients.
 *
 * Runs as an agent: tp_driver_do_work is one non-blocking duty cycle (poll
 * the control stream, sweep expired leases, announce at its cadence). Use it
 * from a `tp driver` process, or embedded in a process with
 * tp_driver_embedded_start (own thread).
 */
#ifndef TENSORPOOL_DRIVER_H
#define TENSORPOOL_DRIVER_H

#include "tensorpool/agent.h"
#include "tensorpool/driver_config.h"

#include <stdint.h>
#include <stdio.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_driver_s tp_driver_t;

/* Counters for diagnostics and tests. */
typedef struct tp_driver_stats_s {
    uint64_t leases_active;
    uint64_t leases_issued;
    uint64_t attach_ok;
    uint64_t attach_refused;
    /* Requests refused because of who sent them (docs/threat-model.md): */
    uint64_t refused_foreign;    /* from a transport log another uid owns */
    uint64_t refused_not_owner;  /* keepalive or detach for a live lease, from a publication
                                  * other than the one that attached it */
    uint64_t revocations;
    uint64_t announces;
    uint64_t epochs_created;
    uint64_t epochs_collected;
    uint64_t malformed;          /* driver-schema messages dropped as malformed */
    uint64_t shutdown_refused;   /* shutdown requests with a missing/wrong token */
    uint64_t regions_broken;     /* live epochs rolled over because someone truncated a region file or
                                    overwrote a superblock (checked every announce period) */
    uint64_t control_loss;       /* control-stream messages lost before the driver read them (its
                                    subscription was lapped; clients retransmit requests) */
} tp_driver_stats_t;

/* Whether cfg's shm.base_dir lies inside shm.allowed_base_dirs (or is the base
 * itself when the list is empty) once symlinks in the existing part of each
 * path are resolved (D-9.a). Creates nothing, so `tp driver --check` can run
 * it. 0, or -1 (TP_ERR_PERMISSION) naming the resolved directory. */
TP_API int tp_driver_base_dir_check(const tp_driver_config_t *cfg);

/* Validate cfg (tp_driver_config_validate), take the per-namespace lock file
 * (<base>/tensorpool-<user>/<ns>/driver.lock, flock; a second driver on the
 * same directory fails with TP_ERR_STATE naming the holder's pid), open the
 * control/announce transport and, if configured, run epoch GC. log receives
 * one line per notable event (NULL: silent). 0 or -1. */
TP_API int tp_driver_open(tp_driver_t **out, const tp_driver_config_t *cfg, FILE *log);

/* One duty cycle at now_ns (CLOCK_MONOTONIC). Returns the work count (>= 0)
 * or -1 on an internal failure. Never blocks. */
TP_API int tp_driver_do_work(tp_driver_t *d, int64_t now_ns);

/* 1 once an accepted shutdown request has drained and ShmDriverShutdown has
 * been sent (D-4.13.c); the owner should then close the driver. */
TP_API int tp_driver_is_stopped(const tp_driver_t *d);

/* Revoke one lease administratively (reason REVOKED, D-4.9.e; a producer
 * lease also bumps the epoch, D-4.7a.b). 0, or -1 (TP_ERR_NOT_FOUND). */
TP_API int tp_driver_revoke(tp_driver_t *d, uint64_t lease_id, const char *why);

/* Current epoch of a stream (0 when never materialised). 0 or -1. */
TP_API int tp_driver_stream_epoch(const tp_driver_t *d, uint32_t stream_id, uint64_t *epoch);

TP_API void tp_driver_stats(const tp_driver_t *d, tp_driver_stats_t *out);

/* Send ShmDriverShutdown (reason NORMAL, or ERROR with message) unless it was
 * already sent, close the transport, release the lock and free. NULL is a
 * no-op. */
TP_API void tp_driver_close(tp_driver_t *d, int error, const char *message);

/* The driver as an agent (do_work reads the cached clock). */
TP_API tp_agent_t tp_driver_agent(tp_driver_t *d);

/* The idle strategy a driver loop runs with (`tp driver`, the embedded
 * driver): after 10 spins and 10 yields without work it parks, 100 us first,
 * doubling up to cfg->idle_park_max_us. Each park's end wakes a thread on
 * one of the host's CPUs, where it interrupts whatever spins there
 * (docs/configuration.md, driver.idle_park_max_us). With d (opened with
 * cfg; NULL: none) on a tp:ipc control channel a park also ends when a
 * client's control message arrives, so requests are answered at once
 * however long the park. The strategy then refers to d: use it only with
 * d's loop, and only while d is open. */
TP_API void tp_driver_idle_strategy(const tp_driver_config_t *cfg, tp_driver_t *d, tp_idle_strategy_t *idle);

/* ---- embedded driver: one call to start, one to stop ---- */

typedef struct tp_driver_embedded_s tp_driver_embedded_t;

/* Open a driver with cfg and run it on its own thread (yielding idle
 * strategy, 1 ms sleep when idle). 0 or -1. */
TP_API int tp_driver_embedded_start(tp_driver_embedded_t **out, const tp_driver_config_t *cfg);

/* The running driver; only thread-safe calls (stats, stream_epoch) may be
 * made on it while the thread runs. */
TP_API tp_driver_t *tp_driver_embedded_driver(tp_driver_embedded_t *e);

/* Stop the thread, close the driver (ShmDriverShutdown NORMAL) and free. */
TP_API void tp_driver_embedded_stop(tp_driver_embedded_t *e);

#ifdef __cplusplus
}
#endif
#endif
