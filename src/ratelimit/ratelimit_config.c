/* The RateLimiter's TOML configuration (docs/configuration.md "tp ratelimit",
 * docs/spec/ratelimiter.md §8), read with the driver's strict TOML subset
 * reader. The input is untrusted: every mistake is an error naming the line. */
#include "tensorpool/ratelimit.h"

#include "../driver/driver_toml.h"
#include "tensorpool/error.h"

#include <stdio.h>
#include <string.h>

void tp_ratelimit_config_init(tp_ratelimit_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->instance_id, sizeof cfg->instance_id, "ratelimit");
    cfg->forward_metadata = true;
}

static int u32_of(const tp_toml_value_t *v, const char *key, int64_t lo, uint32_t *out)
{
    if (v->type != TP_TOML_INT) return tp_err_set(TP_ERR_MALFORMED, "%s must be an integer", key);
    if (v->i < lo || v->i > (int64_t)INT32_MAX)
        return tp_err_set(TP_ERR_MALFORMED, "%s = %lld is out of range (%lld..2147483647)", key, (long long)v->i,
                          (long long)lo);
    *out = (uint32_t)v->i;
    return 0;
}

/* The one [[mappings]] entry (RL-4.a: one policy per instance). */
static int mapping_key(tp_ratelimit_config_t *c, const char *key, const tp_toml_value_t *v)
{
    if (strncmp(key, "mappings[0].", 12) != 0)
        return tp_err_set(TP_ERR_MALFORMED, "%s: one [[mappings]] per instance (run one tp ratelimit per mapping)", key);
    const char *k = key + 12;
    if (strcmp(k, "source_stream_id") == 0) return u32_of(v, key, 1, &c->source_stream_id);
    if (strcmp(k, "dest_stream_id") == 0) return u32_of(v, key, 1, &c->dest_stream_id);
    if (strcmp(k, "metadata_stream_id") == 0) return u32_of(v, key, 0, &c->metadata_stream_id);
    if (strcmp(k, "max_rate_hz") == 0) return u32_of(v, key, 0, &c->max_rate_hz);
    return tp_err_set(TP_ERR_MALFORMED, "unknown key %s", key);
}

static int handler(void *ud, const char *key, const tp_toml_value_t *v)
{
    tp_ratelimit_config_t *c = ud;
    if (strncmp(key, "mappings[", 9) == 0) return mapping_key(c, key, v);
    if (strncmp(key, "rate_limiter.", 13) != 0)
        return tp_err_set(TP_ERR_MALFORMED, "unknown key %s (keys live under [rate_limiter] and [[mappings]])", key);
    const char *k = key + 13;
    if (strcmp(k, "instance_id") == 0) {
        if (v->type != TP_TOML_STRING) return tp_err_set(TP_ERR_MALFORMED, "%s must be a string", key);
        if (v->str[0] == '\0' || strlen(v->str) >= sizeof c->instance_id)
            return tp_err_set(TP_ERR_MALFORMED, "%s must be 1..%zu bytes", key, sizeof c->instance_id - 1);
        memcpy(c->instance_id, v->str, strlen(v->str) + 1);
        return 0;
    }
    if (strcmp(k, "max_rate_hz") == 0) return u32_of(v, key, 0, &c->max_rate_hz);
    if (strcmp(k, "forward_metadata") == 0) {
        if (v->type != TP_TOML_BOOL) return tp_err_set(TP_ERR_MALFORMED, "%s must be a boolean", key);
        c->forward_metadata = v->b != 0;
        return 0;
    }
    if (strcmp(k, "forward_progress") == 0 || strcmp(k, "forward_qos") == 0) {
        if (v->type != TP_TOML_BOOL) return tp_err_set(TP_ERR_MALFORMED, "%s must be a boolean", key);
        if (v->b) return tp_err_set(TP_ERR_UNSUPPORTED, "%s = true: not built (RL-6.1.a)", key);
        return 0;
    }
    return tp_err_set(TP_ERR_MALFORMED, "unknown key %s", key);
}

int tp_ratelimit_config_parse(tp_ratelimit_config_t *cfg, const char *text, size_t len)
{
    return tp_toml_parse(text, len, handler, cfg);
}

int tp_ratelimit_config_load_file(tp_ratelimit_config_t *cfg, const char *path)
{
    return tp_toml_parse_file(path, handler, cfg);
}

int tp_ratelimit_config_validate(const tp_ratelimit_config_t *cfg)
{
    if (cfg->source_stream_id == 0 || cfg->dest_stream_id == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "ratelimit: source_stream_id and dest_stream_id are required");
    if (cfg->source_stream_id == cfg->dest_stream_id) /* RL-3.a */
        return tp_err_set(TP_ERR_INVALID_ARG, "ratelimit: dest_stream_id must differ from source_stream_id (%u)",
                          cfg->source_stream_id);
    if (cfg->source_stream_id > INT32_MAX || cfg->dest_stream_id > INT32_MAX || cfg->metadata_stream_id > INT32_MAX)
        return tp_err_set(TP_ERR_INVALID_ARG, "ratelimit: stream ids must be at most 2147483647");
    return 0;
}
