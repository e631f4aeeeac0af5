/* Driver internals shared by the files of src/driver (not installed). */
#ifndef TP_DRIVER_IMPL_H
#define TP_DRIVER_IMPL_H

#include "tensorpool/driver.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_writer.h"
#include "../ipc/ipc_doorbell.h"
#include "../ipc/ipc_media_driver.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define DRV_MAX_LEASES 1024
#define DRV_MAX_STREAMS 256
#define DRV_MAX_COOLDOWN 1024
#define DRV_TX_CAP (64u * 1024u)
#define DRV_ERRMSG_MAX 1024 /* D-4.2.t */

typedef enum drv_state_e { DRV_RUNNING = 0, DRV_DRAINING, DRV_STOPPED } drv_state_t;

typedef struct drv_stream_s {
    uint32_t stream_id;
    int profile;          /* index into cfg.profiles */
    int live;             /* files of `epoch` exist (LIVE_* states) */
    uint64_t epoch;       /* 0 = DEFINED */
    int hugepages;        /* URI flag chosen at first materialisation (§3.4 step 10) */
    int hugepages_fixed;
    uint64_t producer_lease;   /* 0 = none */
    uint32_t producer_client;
    uint64_t last_epoch;       /* highest epoch ever used (persisted) */
    int last_epoch_loaded;
    int fds[1 + TP_SHM_MAX_POOLS]; /* open region files of `epoch`, for activity refresh */
    char epoch_dir[TP_SHM_PATH_MAX];
} drv_stream_t;

typedef struct drv_lease_s {
    int in_use;
    uint64_t lease_id;
    unsigned stream;  /* index into streams */
    uint32_t client_id;
    uint8_t role;
    uint32_t node_id;
    int64_t expiry_ns;
    int64_t correlation_id; /* of the attach that created it (replay, D-4.8.d) */
    uint64_t owner_pub;     /* transport publication the attach came from: only it may keep
                             * the lease alive or detach it (lease ids are public, they
                             * travel in every ShmAttachResponse and ShmLeaseRevoked) */
} drv_lease_t;

/* A per-consumer stream assignment (docs/spec/driver.md §5.5, D-11.c/d). */
typedef struct drv_pcs_s {
    int in_use;
    uint32_t stream_id;   /* data stream */
    uint32_t consumer_id;
    uint32_t desc_id;     /* 0 = none */
    uint32_t ctl_id;
} drv_pcs_t;
#define DRV_MAX_PCS 256

typedef struct drv_cooldown_s {
    uint32_t node_id;
    int64_t until_ns;
} drv_cooldown_t;

struct tp_driver_s {
    tp_driver_config_t cfg;
    FILE *log;
    pthread_mutex_t lock; /* do_work vs. stats/epoch queries from other threads */
    char user[256];
    char ns_dir[TP_SHM_PATH_MAX]; /* <base>/tensorpool-<user>/<ns> */
    int lock_fd;
    int on_hugetlbfs;
    tp_ipc_context_t ipc;
    tp_ipc_media_driver_t *media_driver; /* embedded_media_driver, else NULL */
    tp_ipc_subscription_t *ctl_sub;
    /* tp:ipc control channel: the driver's idle sleeps end when a client's
     * request rings (tp_driver_idle_strategy); NULL on other channels */
    tp_ipc_doorbell_t *doorbell;
    uint32_t ring_seen;
    tp_ipc_publication_t *ctl_pub;
    tp_ipc_publication_t *ann_pub; /* == ctl_pub when the streams coincide */
    drv_stream_t *streams;
    unsigned nstreams;
    drv_lease_t *leases;
    drv_cooldown_t *cool;
    unsigned ncool;
    drv_pcs_t *pcs;
    uint64_t next_lease_id;
    uint32_t own_uid; /* requests are taken only from transport logs this uid owns */
    uint32_t dyn_cursor[TP_DRIVER_MAX_RANGES];
    drv_state_t state;
    int64_t drain_deadline_ns;
    uint8_t shutdown_reason;
    char shutdown_msg[DRV_ERRMSG_MAX + 1];
    int shutdown_sent;
    int64_t now_ns;
    int64_t next_announce_ns;
    int64_t ttl_ns;
    int64_t announce_period_ns;
    uint8_t *tx;
    tp_shm_writer_t *writer; /* scratch for epoch creation */
    tp_driver_stats_t stats;
};

void drv_log(tp_driver_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* driver_epoch.c: materialise a new epoch for stream s (D-6.a, §5.8):
 * choose it above every epoch used before (persisted, D-10.c), create the
 * directory and files, refresh fds, GC old epochs. 0 or -1. */
int drv_epoch_advance(tp_driver_t *d, drv_stream_t *s);
/* Refresh activity_timestamp_ns of the live stream's regions (D-3.e). */
void drv_epoch_heartbeat(tp_driver_t *d, drv_stream_t *s);
/* Whether the live epoch's files are still what the driver made: each file
 * at least the §3.1 size and each superblock's fixed fields unchanged.
 * Reads the open fds (fstat, pread): for the announce period, not per frame.
 * 0, or -1 with the reason. */
int drv_epoch_check(const tp_driver_t *d, const drv_stream_t *s);
/* Close the fds of s. */
void drv_epoch_release(drv_stream_t *s);
/* GC for one stream directory (§5.8 step 6). */
void drv_epoch_gc(tp_driver_t *d, uint32_t stream_id, uint64_t current);
/* URIs of the current epoch: ring (pool < 0) or profile pool index. Length or -1. */
int drv_epoch_uri(const tp_driver_t *d, const drv_stream_t *s, int pool, char *buf, size_t cap);

/* driver_lock.c: flock the namespace's driver.lock (D-2.1.c). fd or -1. */
int drv_lock_acquire(const char *ns_dir);
void drv_lock_release(int fd);

#endif
