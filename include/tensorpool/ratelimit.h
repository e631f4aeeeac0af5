/* The RateLimiter agent (docs/spec/ratelimiter.md): consumes a source stream
 * as a RATE_LIMITED consumer, copies the frames it lets pass (at most
 * max_rate_hz a second, always the newest) into a stream of its own, with
 * its own pools and epoch, keeping each frame's seq, tensor header, capture
 * timestamp, meta_version and trace id, and republishes the source's
 * DataSourceAnnounce/DataSourceMeta for that stream. Downstream consumers
 * see an ordinary stream at the lower rate.
 *
 * Single-threaded: tp_ratelimit_do_work does everything; after open it does
 * not allocate.
 */
#ifndef TENSORPOOL_RATELIMIT_H
#define TENSORPOOL_RATELIMIT_H

#include "tensorpool/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_ratelimit_config_s {
    char instance_id[64];        /* rate_limiter.instance_id (default "ratelimit") */
    uint32_t max_rate_hz;        /* rate_limiter.max_rate_hz / mapping max_rate_hz; 0 = unlimited */
    bool forward_metadata;       /* rate_limiter.forward_metadata (default true, RL-6.a) */
    uint32_t source_stream_id;   /* mappings[0].source_stream_id */
    uint32_t dest_stream_id;     /* mappings[0].dest_stream_id, != source */
    uint32_t metadata_stream_id; /* mappings[0].metadata_stream_id: stream id forwarded metadata names; 0 = dest */
} tp_ratelimit_config_t;

TP_API void tp_ratelimit_config_init(tp_ratelimit_config_t *cfg);

/* Read a TOML configuration (docs/configuration.md "tp ratelimit") into cfg,
 * over what it holds. Unknown keys, wrong types, out-of-range values and a
 * second [[mappings]] are errors naming the line. 0 or -1. */
TP_API int tp_ratelimit_config_parse(tp_ratelimit_config_t *cfg, const char *text, size_t len);

/* The same from a file (at most 1 MiB). 0 or -1. */
TP_API int tp_ratelimit_config_load_file(tp_ratelimit_config_t *cfg, const char *path);

/* Both stream ids set and distinct (RL-3.a). 0 or -1. */
TP_API int tp_ratelimit_config_validate(const tp_ratelimit_config_t *cfg);

typedef struct tp_ratelimit_stats_s {
    uint64_t source_epoch;        /* epoch of the source mapping (0 = unmapped) */
    uint64_t dest_epoch;          /* epoch of the output stream (0 = not attached) */
    uint64_t frames_out;          /* frames republished */
    uint64_t frames_skipped;      /* source frames passed over to keep the rate */
    uint64_t drops_no_slot;       /* frames that could not be claimed or committed (RL-5.b) */
    uint64_t source_restarts;     /* source epoch changes that restarted the output epoch (RL-7.a) */
    uint64_t metadata_forwarded;  /* DataSourceAnnounce/Meta republished for the output (RL-6.a) */
    uint64_t metadata_refused;    /* metadata of the source stream that did not decode */
} tp_ratelimit_stats_t;

typedef struct tp_ratelimit_s tp_ratelimit_t;

/* Validate cfg, open the source consumer (RATE_LIMITED) and the output
 * producer (creating its stream). 0 or -1. */
TP_API int tp_ratelimit_open(tp_ratelimit_t **out, const tp_client_context_t *ctx, const tp_ratelimit_config_t *cfg);

/* One duty cycle. Work count, or -1 if a client failed. */
TP_API int tp_ratelimit_do_work(tp_ratelimit_t *rl, int64_t now_ns);

TP_API void tp_ratelimit_stats(const tp_ratelimit_t *rl, tp_ratelimit_stats_t *out);

/* Detach both ends and free. NULL is a no-op. */
TP_API void tp_ratelimit_close(tp_ratelimit_t *rl);

#ifdef __cplusplus
}
#endif
#endif
