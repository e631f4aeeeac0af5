/* SHM driver configuration (docs/spec/driver.md §5.1-§5.3): canonical keys and
 * defaults, a strict TOML reader, environment overrides (D-17.b) and the
 * load-time validation that refuses to start on any failure.
 *
 * Deviations from the spec's defaults, because this build has no Aeron
 * (docs/architecture.md "The transport"): channels default to "tp:ipc" and the
 * "aeron:..." defaults are not accepted by the transport.
 */
#ifndef TENSORPOOL_DRIVER_CONFIG_H
#define TENSORPOOL_DRIVER_CONFIG_H

#include "tensorpool/shm_path.h"
#include "tensorpool/shm_writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TP_DRIVER_NAME_MAX 64
#define TP_DRIVER_CHANNEL_MAX 256
#define TP_DRIVER_MAX_PROFILES 16
#define TP_DRIVER_MAX_STREAMS 64
#define TP_DRIVER_MAX_RANGES 8
#define TP_DRIVER_TOKEN_MAX 256
/* driver.idle_park_max_us: default (10 ms) and upper bound (1 s). Each park
 * that ends wakes the driver on a CPU where, on a host with no idle core,
 * it interrupts a spinning producer or consumer (docs/configuration.md). */
#define TP_DRIVER_IDLE_PARK_MAX_US_DEFAULT 10000u
#define TP_DRIVER_IDLE_PARK_MAX_US_LIMIT 1000000u

typedef struct tp_driver_range_s {
    uint32_t start, end; /* inclusive, 1 <= start <= end */
} tp_driver_range_t;

typedef struct tp_driver_ranges_s {
    unsigned count;
    tp_driver_range_t r[TP_DRIVER_MAX_RANGES];
} tp_driver_ranges_t;

typedef struct tp_driver_profile_s {
    char name[TP_DRIVER_NAME_MAX];
    uint32_t header_nslots; /* power of two */
    unsigned npools;        /* >= 1 (D-17.c) */
    tp_shm_pool_config_t pools[TP_SHM_MAX_POOLS];
} tp_driver_profile_t;

typedef struct tp_driver_stream_cfg_s {
    char name[TP_DRIVER_NAME_MAX];
    uint32_t stream_id;
    char profile[TP_DRIVER_NAME_MAX];
} tp_driver_stream_cfg_t;

typedef struct tp_driver_config_s {
    /* [driver] */
    char instance_id[TP_DRIVER_NAME_MAX];
    char control_channel[TP_DRIVER_CHANNEL_MAX];
    uint32_t control_stream_id;
    char announce_channel[TP_DRIVER_CHANNEL_MAX]; /* "" = control_channel */
    uint32_t announce_stream_id;                  /* 0 = control_stream_id */
    char qos_channel[TP_DRIVER_CHANNEL_MAX];
    uint32_t qos_stream_id;
    uint32_t descriptor_stream_id; /* shared FrameDescriptor stream named in ConsumerConfig; 1100 (extension) */
    tp_driver_ranges_t stream_id_range;
    tp_driver_ranges_t descriptor_stream_id_range;
    tp_driver_ranges_t control_stream_id_range;
    /* [shm] */
    char base_dir[TP_SHM_PATH_MAX];
    char ns[TP_DRIVER_NAME_MAX];
    bool require_hugepages;
    uint32_t page_size_bytes;
    uint32_t permissions_mode; /* e.g. 0660 */
    unsigned n_allowed_base_dirs; /* 0 = [base_dir] */
    char allowed_base_dirs[TP_SHM_MAX_BASES][TP_SHM_PATH_MAX];
    /* [policies] */
    bool allow_dynamic_streams;
    char default_profile[TP_DRIVER_NAME_MAX]; /* "" = first profile */
    uint32_t announce_period_ms;
    uint32_t lease_keepalive_interval_ms;
    uint32_t lease_expiry_grace_intervals;
    uint32_t node_id_reuse_cooldown_ms;
    bool prefault_shm;
    bool mlock_shm;
    bool epoch_gc_enabled;
    uint32_t epoch_gc_keep;
    uint64_t epoch_gc_min_age_ns; /* 0 = 3 x announce period */
    bool epoch_gc_on_startup;
    uint32_t shutdown_timeout_ms;
    char shutdown_token[TP_DRIVER_TOKEN_MAX];
    /* [profiles.*], [streams.*] in file order */
    unsigned nprofiles;
    tp_driver_profile_t profiles[TP_DRIVER_MAX_PROFILES];
    unsigned nstreams;
    tp_driver_stream_cfg_t streams[TP_DRIVER_MAX_STREAMS];
    /* [driver], Aeron (kept last so the fields above keep their offsets) */
    char aeron_dir[TP_SHM_PATH_MAX]; /* "" = $AERON_DIR, else <base>/tensorpool-<user>/<ns>/aeron */
    bool embedded_media_driver;      /* run Aeron's media driver inside the driver process */
    /* the longest park of the driver's idle loop, in us (driver.idle_park_max_us) */
    uint32_t idle_park_max_us;
} tp_driver_config_t;

/* Fill every key with its documented default (§5.1, with the transport
 * deviation above). No profile or stream is defined. */
TP_API void tp_driver_config_defaults(tp_driver_config_t *cfg);

/* Read TOML text into cfg (on top of what it holds). Unknown keys outside
 * [supervisor] are refused. 0, or -1 with "line N: ..." in tp_errmsg(). */
TP_API int tp_driver_config_parse(tp_driver_config_t *cfg, const char *text, size_t len);

/* Read a file (at most 1 MiB) with tp_driver_config_parse; the message names
 * the file. */
TP_API int tp_driver_config_load_file(tp_driver_config_t *cfg, const char *path);

/* Apply environment overrides (§5.2): upper-cased key with '.' -> '_', e.g.
 * DRIVER_CONTROL_STREAM_ID, SHM_BASE_DIR, POLICIES_SHUTDOWN_TOKEN; arrays are
 * comma-separated. TP_DIR sets shm.base_dir too (docs/architecture.md), below
 * SHM_BASE_DIR. getenv_fn NULL means getenv. 0 or -1 naming the variable. */
TP_API int tp_driver_config_apply_env(tp_driver_config_t *cfg, const char *(*getenv_fn)(const char *name));

/* Set one scalar key from text as the environment would ("policies.announce_period_ms",
 * "250"). Used for flags and environment. 0 or -1. */
TP_API int tp_driver_config_set(tp_driver_config_t *cfg, const char *key, const char *value);

/* Validate (§5.3, D-11.e/f, D-17.c): refuse to start on any failure. 0 or -1
 * with a message naming the key. */
TP_API int tp_driver_config_validate(const tp_driver_config_t *cfg);

/* Parse a range list "20000-29999" or "7" (or several, comma-separated). */
TP_API int tp_driver_ranges_parse(tp_driver_ranges_t *out, const char *text);

/* Write the effective configuration as TOML (tp driver --print-config). */
TP_API void tp_driver_config_print(const tp_driver_config_t *cfg, void *file /* FILE* */);

#ifdef __cplusplus
}
#endif
#endif
