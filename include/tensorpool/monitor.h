/* Monitor: a passive, read-only view of a running tensorpool directory, for
 * tools like `tp stat` and for programs that want to watch a system.
 *
 * It subscribes to the control, descriptor, QoS and metadata streams and
 * builds its picture only from what goes by there (soft state: announces,
 * keepalives, QoS and MergeMap announces repeat about once per second), plus
 * each stream's header-ring superblock (epoch, pid of the files' creator,
 * activity time), read through the consumer containment rules. It never sends
 * a message, never attaches and never maps payloads, so watching cannot
 * disturb the system (the one side effect: the transport directory is
 * created if missing).
 *
 * Join stages publish no state of their own: a join's row is its MergeMap
 * (from the authority's announces) and whether each input is flowing on the
 * descriptor stream, plus the MergeMap requests of stages still waiting for a
 * map (a request for the epoch after the announced one means a stage dropped
 * its map, e.g. after an input epoch change: the row shows waiting-map for
 * that epoch). Descriptors on per-consumer descriptor streams are not seen.
 *
 * All storage is allocated at open; poll does not allocate (test_monitor
 * counts); refresh opens and reads each announced ring's superblock.
 * Not thread-safe: one monitor belongs to one thread.
 */
#ifndef TENSORPOOL_MONITOR_H
#define TENSORPOOL_MONITOR_H

#include "tensorpool/client.h"
#include "tensorpool/shm_region.h"
#include "tensorpool/shm_uri.h"

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_MONITOR_MAX_STREAMS 64
#define TP_MONITOR_MAX_CLIENTS 128
#define TP_MONITOR_MAX_JOINS 32
#define TP_MONITOR_MAX_RULES 16
#define TP_MONITOR_NAME_MAX 64

/* A lease seen in keepalives (producer or consumer of a stream). */
typedef struct tp_monitor_client_s {
    uint64_t lease_id;
    uint32_t stream_id;
    uint32_t client_id;
    uint8_t role;              /* 1 producer, 2 consumer (schema 901 Role) */
    int64_t last_seen_ns;      /* last keepalive */
    int32_t pid;               /* process that sent the last keepalive (transport log owner); 0 unknown */
    int revoked;               /* a ShmLeaseRevoked named it */
    /* consumers: latest QosConsumer */
    int has_qos;
    uint64_t epoch;
    uint64_t last_seq_seen;
    uint64_t drops_gap;
    uint64_t drops_late;
} tp_monitor_client_t;

typedef struct tp_monitor_stream_s {
    uint32_t stream_id;
    /* ShmPoolAnnounce (driver) */
    int announced;
    uint64_t epoch;
    uint32_t producer_id;
    uint32_t header_nslots;
    uint32_t pool_count;
    uint32_t stride_bytes;     /* first pool */
    int64_t last_announce_ns;
    uint64_t announcer;        /* transport publication the announces are taken from */
    uint64_t refused_announces; /* from another publication while that one announces */
    char ring_path[TP_SHM_PATH_MAX];
    /* DataSourceAnnounce (producer) */
    char name[TP_MONITOR_NAME_MAX];
    uint32_t meta_version;     /* the producer's metadata version (W-10.3.1.a); 0 = none set */
    /* QosProducer */
    int has_producer_qos;
    uint64_t producer_seq;
    /* FrameDescriptors on the shared descriptor stream */
    uint64_t frames;           /* seen since the monitor started, of the announced epoch */
    uint64_t desc_other_epoch; /* descriptors not of the announced epoch (a new epoch before its
                                * announce, an old one's stragglers, or forged): not in frames */
    uint64_t last_seq;
    uint64_t last_desc_epoch;
    int64_t last_desc_ns;      /* monitor clock when the last one arrived */
    double rate_hz;            /* over the last refresh interval */
    uint64_t frames_at_refresh;
    /* header-ring superblock, read at refresh */
    int sb_ok;                 /* read and plausible */
    char sb_error[96];
    uint64_t sb_epoch;
    uint64_t sb_pid;           /* the files' creator: the driver, for clients attached through one */
    int sb_pid_alive;
    uint64_t sb_activity_ns;   /* CLOCK_MONOTONIC of the producer's last heartbeat */
    /* The accepted announce's regions as announced (URIs NUL-terminated), for
     * a viewer that maps them to read frames (tp view's thumbnails). */
    uint32_t layout_version;
    char ring_uri[TP_SHM_PATH_MAX + 64];
    uint16_t pool_id[TP_SHM_MAX_POOLS];
    uint32_t pool_stride[TP_SHM_MAX_POOLS];
    char pool_uri[TP_SHM_MAX_POOLS][TP_SHM_PATH_MAX + 64];
} tp_monitor_stream_t;

typedef struct tp_monitor_rule_s {
    uint32_t stream_id;
    uint8_t rule_type;         /* tp_merge_rule_type_t */
    uint8_t timestamp_source;  /* timestamp maps */
    int64_t offset;            /* seq offset or offset_ns; null sentinels of merge_map.h */
    uint64_t window;           /* window size or window_ns */
} tp_monitor_rule_t;

/* What a join's inputs look like from outside. */
typedef enum tp_monitor_join_state_e {
    TP_MONITOR_JOIN_FLOWING = 0,   /* map announced, every input delivered within the window */
    TP_MONITOR_JOIN_BLOCKED,       /* map announced, some input silent (listed) */
    TP_MONITOR_JOIN_WAITING_MAP    /* a stage requested the map; no announce seen */
} tp_monitor_join_state_t;

typedef struct tp_monitor_join_s {
    uint8_t kind;              /* tp_merge_kind_t */
    uint32_t out_stream_id;
    uint64_t epoch;
    int announced;
    int64_t last_announce_ns;
    uint64_t announces;
    uint64_t requests;         /* MergeMapRequests seen for (kind, out, epoch) */
    uint64_t stale_timeout_ns; /* TP_MERGE_NULL_U64 = absent */
    uint64_t lateness_ns;      /* timestamp maps */
    uint32_t rule_count;
    tp_monitor_rule_t rules[TP_MONITOR_MAX_RULES];
    /* computed at refresh */
    tp_monitor_join_state_t state;
    uint32_t silent_count;
    uint32_t silent[TP_MONITOR_MAX_RULES];
    /* sequence maps: newest out_seq every OFFSET/WINDOW input has reached
     * (UINT64_MAX when unknown) */
    uint64_t ready_through;
    /* The publication the map is taken from, as the join agents do (see
     * join_agent.h): the first one announcing this output; another's
     * announces are refused (counted, rules not shown) until it has been
     * silent 5 s or its process is gone. */
    int has_authority;
    uint64_t authority_publisher_id;
    int32_t authority_pid;
    uint64_t refused;          /* announces for this output from another publication */
    /* Another publication announced this output within the last 5 s: the
     * monitor cannot tell which one the stages took (each keeps the one it
     * pinned first, or the configured one), so the rules above are only the
     * first publication's claim. */
    int contested;
    int32_t other_pid;
    int64_t other_last_ns;
} tp_monitor_join_t;

typedef struct tp_monitor_config_s {
    tp_client_context_t ctx;   /* base dir, namespace, stream ids (tp_client_context_init) */
    int64_t live_window_ns;    /* input/lease counts as live if seen within; 0: 3 s */
} tp_monitor_config_t;

/* ctx from tp_client_context_init (environment applied), window 3 s. */
TP_API void tp_monitor_config_init(tp_monitor_config_t *cfg);

typedef struct tp_monitor_s tp_monitor_t;

/* Open the subscriptions. The transport directory need not exist yet: like
 * any subscriber's, opening creates it (empty) when missing. 0 or -1. */
TP_API int tp_monitor_open(tp_monitor_t **out, const tp_monitor_config_t *cfg);

/* Drain every subscription (up to `limit` messages each). Messages or -1. */
TP_API int tp_monitor_poll(tp_monitor_t *m, int64_t now_ns, int limit);

/* Close an observation interval at now_ns: rates since the previous refresh,
 * superblocks re-read, join states derived. */
TP_API void tp_monitor_refresh(tp_monitor_t *m, int64_t now_ns);

TP_API uint32_t tp_monitor_stream_count(const tp_monitor_t *m);
TP_API const tp_monitor_stream_t *tp_monitor_stream(const tp_monitor_t *m, uint32_t i);
TP_API uint32_t tp_monitor_client_count(const tp_monitor_t *m);
TP_API const tp_monitor_client_t *tp_monitor_client(const tp_monitor_t *m, uint32_t i);
TP_API uint32_t tp_monitor_join_count(const tp_monitor_t *m);
TP_API const tp_monitor_join_t *tp_monitor_join(const tp_monitor_t *m, uint32_t i);

/* Transport health: messages seen, lost (lapped) and undecodable. */
typedef struct tp_monitor_stats_s {
    uint64_t messages;
    uint64_t lost;
    uint64_t malformed;
    uint64_t driver_shutdowns; /* ShmDriverShutdown seen */
    uint64_t refused_foreign;  /* messages from transport logs another uid owns: ignored */
} tp_monitor_stats_t;
TP_API void tp_monitor_stats(const tp_monitor_t *m, tp_monitor_stats_t *out);

/* "flowing", "blocked", "waiting-map". */
TP_API const char *tp_monitor_join_state_name(tp_monitor_join_state_t s);

TP_API void tp_monitor_close(tp_monitor_t *m);

#ifdef __cplusplus
}
#endif
#endif
