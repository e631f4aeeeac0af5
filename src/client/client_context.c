/* Client settings: defaults matching the driver's (docs/spec/driver.md §5.1, docs/spec/wire.md §6)
 * and the same environment overrides (D-17.b). */
#include "tensorpool/client.h"

#include "tensorpool/shm_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void env_i64(const char *name, int64_t min, int64_t max, int64_t scale, int64_t *out)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] < '0' || v[0] > '9') return;
    char *end = NULL;
    const long long x = strtoll(v, &end, 10);
    if (*end != '\0' || x < min || x > max) return;
    *out = (int64_t)x * scale;
}

static void env_i32(const char *name, int32_t *out)
{
    int64_t v = *out;
    env_i64(name, 1, INT32_MAX, 1, &v);
    *out = (int32_t)v;
}

void tp_client_context_init(tp_client_context_t *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", TP_SHM_DEFAULT_BASE_DIR);
    snprintf(ctx->ns, sizeof ctx->ns, "default");
    snprintf(ctx->channel, sizeof ctx->channel, "tp:ipc");
    ctx->control_stream_id = 1000;
    ctx->descriptor_stream_id = 1100;
    ctx->qos_stream_id = 1200;
    ctx->metadata_stream_id = 1300;
    ctx->keepalive_interval_ns = 1000000000;
    ctx->expiry_grace_intervals = 3;
    ctx->announce_period_ns = 1000000000;
    ctx->qos_interval_ns = 1000000000;
    ctx->attach_timeout_ns = 2000000000;
    ctx->attach_retransmit_ns = 200000000;
    ctx->backoff_min_ns = 100000000;
    ctx->backoff_max_ns = 3200000000;
    const char *v = getenv("TP_DIR");
    if (v != NULL && v[0] == '/' && strlen(v) < sizeof ctx->base_dir) snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", v);
    v = getenv("SHM_BASE_DIR");
    if (v != NULL && v[0] == '/' && strlen(v) < sizeof ctx->base_dir) snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", v);
    v = getenv("SHM_NAMESPACE");
    if (v != NULL && tp_shm_namespace_check(v) == 0 && strlen(v) < sizeof ctx->ns) snprintf(ctx->ns, sizeof ctx->ns, "%s", v);
    /* The driver's variable for its control channel names the clients' too:
     * one setting moves a whole deployment to another transport. */
    v = getenv("DRIVER_CONTROL_CHANNEL");
    if (v != NULL && v[0] != '\0' && strlen(v) < sizeof ctx->channel) snprintf(ctx->channel, sizeof ctx->channel, "%s", v);
    env_i32("DRIVER_CONTROL_STREAM_ID", &ctx->control_stream_id);
    env_i32("DRIVER_ANNOUNCE_STREAM_ID", &ctx->announce_stream_id);
    env_i32("DRIVER_QOS_STREAM_ID", &ctx->qos_stream_id);
    env_i32("DRIVER_DESCRIPTOR_STREAM_ID", &ctx->descriptor_stream_id);
    env_i32("TP_METADATA_STREAM_ID", &ctx->metadata_stream_id);
    env_i64("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", 1, 3600000, 1000000, &ctx->keepalive_interval_ns);
    int64_t grace = ctx->expiry_grace_intervals;
    env_i64("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", 1, 1000, 1, &grace);
    ctx->expiry_grace_intervals = (uint32_t)grace;
    env_i64("POLICIES_ANNOUNCE_PERIOD_MS", 1, 3600000, 1000000, &ctx->announce_period_ns);
    env_i64("TP_CLIENT_BACKOFF_MAX_MS", 1, 3600000, 1000000, &ctx->backoff_max_ns);
    if (ctx->backoff_min_ns > ctx->backoff_max_ns) ctx->backoff_min_ns = ctx->backoff_max_ns;
}
