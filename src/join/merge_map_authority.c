/* MergeMap authority (docs/spec/join-barrier.md §3.10). */
#include "tensorpool/merge_map_authority.h"

#include "tensorpool/client.h"
#include "tensorpool/error.h"
#include "tensorpool/merge_map_codec.h"
#include "tensorpool/merge_map_registry.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tp_merge_authority_s {
    tp_merge_registry_t *reg;
    tp_ipc_publication_t *pub;
    tp_ipc_subscription_t *sub;
    uint32_t max_rules;
    int64_t reannounce_ns;
    int64_t next_reannounce;
    int has_timer;
    uint32_t own_uid; /* requests are taken only from logs this uid owns */
    int handled; /* scratch: messages seen in the current poll */
    int answered;

    uint8_t *buf;
    size_t buf_cap;
    tp_merge_authority_stats_t stats;
    /* requests for the epoch after a held one, not yet taken by the owner */
    uint32_t nbumps;
    struct {
        tp_merge_kind_t kind;
        uint32_t out_stream_id;
        uint64_t epoch;
    } bumps[TP_MERGE_AUTHORITY_MAX_BUMPS];
};

void tp_merge_authority_config_init(tp_merge_authority_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_maps = 16;
    cfg->max_rules = 64;
    cfg->reannounce_interval_ns = 1000000000LL;
    cfg->subscribe = 1;
}

int tp_merge_authority_create(const tp_merge_authority_config_t *cfg, tp_merge_authority_t **out)
{
    if (cfg == NULL || out == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "authority: NULL argument");
    *out = NULL;
    tp_ipc_context_t defctx;
    const tp_ipc_context_t *ctx = cfg->ipc;
    if (ctx == NULL) {
        tp_ipc_context_init(&defctx);
        ctx = &defctx;
    }
    tp_client_context_t env_ctx; /* NULL channel: DRIVER_CONTROL_CHANNEL, else tp:ipc */
    tp_client_context_init(&env_ctx);
    const char *channel = cfg->channel != NULL ? cfg->channel : env_ctx.channel;
    int32_t stream = cfg->control_stream_id;
    if (stream == 0) { /* DRIVER_CONTROL_STREAM_ID, else 1000, as for every client */
        tp_client_context_t env;
        tp_client_context_init(&env);
        stream = env.control_stream_id;
    }
    const uint32_t max_maps = cfg->max_maps != 0 ? cfg->max_maps : 16;
    const uint32_t max_rules = cfg->max_rules != 0 ? cfg->max_rules : 64;
    if (max_rules > 65535) return tp_err_set(TP_ERR_INVALID_ARG, "authority: max_rules %u above 65535", max_rules);

    tp_merge_authority_t *a = calloc(1, sizeof *a);
    if (a == NULL) return tp_err_set(TP_ERR_CAPACITY, "authority: out of memory");
    a->own_uid = (uint32_t)geteuid();
    a->max_rules = max_rules;
    a->reannounce_ns = cfg->reannounce_interval_ns == 0 ? 1000000000LL : cfg->reannounce_interval_ns;
    /* Largest announce: timestamp root (29) + header + group header + entries (E5). */
    a->buf_cap = 8 + 29 + 4 + (size_t)max_rules * 32u;
    a->buf = malloc(a->buf_cap);
    if (a->buf == NULL) {
        free(a);
        return tp_err_set(TP_ERR_CAPACITY, "authority: out of memory");
    }
    if (tp_merge_registry_create(max_maps, max_rules, &a->reg) != 0) goto fail;
    if (tp_ipc_publication_open(&a->pub, ctx, channel, stream) != 0) goto fail;
    if (cfg->subscribe && tp_ipc_subscription_open(&a->sub, ctx, channel, stream) != 0) goto fail;
    *out = a;
    return 0;
fail:
    tp_err_wrap("merge map authority");
    tp_merge_authority_destroy(a);
    return -1;
}

void tp_merge_authority_destroy(tp_merge_authority_t *a)
{
    if (a == NULL) return;
    tp_ipc_subscription_close(a->sub);
    tp_ipc_publication_close(a->pub);
    tp_merge_registry_destroy(a->reg);
    free(a->buf);
    free(a);
}

static int announce(tp_merge_authority_t *a, const tp_merge_map_t *m)
{
    const long n = tp_merge_announce_encode(m, a->max_rules, a->buf, a->buf_cap);
    if (n < 0 || tp_ipc_publication_offer(a->pub, a->buf, (size_t)n) < 0) {
        a->stats.publish_failures++;
        return -1;
    }
    a->stats.announces_sent++;
    return 0;
}

int tp_merge_authority_put(tp_merge_authority_t *a, const tp_merge_map_t *map, int64_t now)
{
    if (a == NULL || map == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "authority: NULL argument");
    const int changed = tp_merge_registry_put(a->reg, map);
    if (changed < 0) return -1; /* invalid maps are refused here (§3.10) */
    if (!a->has_timer && a->reannounce_ns > 0) {
        a->has_timer = 1;
        a->next_reannounce = now + a->reannounce_ns;
    }
    /* Next-epoch requests this map answers are settled. */
    for (uint32_t i = a->nbumps; i-- > 0;)
        if (a->bumps[i].kind == map->kind && a->bumps[i].out_stream_id == map->out_stream_id &&
            a->bumps[i].epoch <= map->epoch)
            a->bumps[i] = a->bumps[--a->nbumps];
    if (changed == 0) return 0;
    const tp_merge_map_t *held = tp_merge_registry_get(a->reg, map->kind, map->out_stream_id, map->epoch);
    if (held == NULL || announce(a, held) != 0) return -1;
    return 1;
}

int tp_merge_authority_remove(tp_merge_authority_t *a, tp_merge_kind_t kind, uint32_t out_stream_id,
                              uint64_t epoch)
{
    if (a == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "authority: NULL argument");
    return tp_merge_registry_remove(a->reg, kind, out_stream_id, epoch);
}

/* A request for (newest held epoch + 1): a join saw one of its inputs move
 * to a newer epoch. Only the owner can derive a map for the inputs' current
 * epochs, so it is queued for tp_merge_authority_take_bump_request (one per
 * key; a full queue drops it, the join asks again). */
static void note_bump(tp_merge_authority_t *a, const tp_merge_request_t *req)
{
    a->stats.bump_requests++;
    for (uint32_t i = 0; i < a->nbumps; i++)
        if (a->bumps[i].kind == req->kind && a->bumps[i].out_stream_id == req->out_stream_id) return;
    if (a->nbumps == TP_MERGE_AUTHORITY_MAX_BUMPS) return;
    a->bumps[a->nbumps].kind = req->kind;
    a->bumps[a->nbumps].out_stream_id = req->out_stream_id;
    a->bumps[a->nbumps].epoch = req->epoch;
    a->nbumps++;
}

int tp_merge_authority_take_bump_request(tp_merge_authority_t *a, tp_merge_kind_t *kind, uint32_t *out_stream_id,
                                         uint64_t *epoch)
{
    if (a == NULL || a->nbumps == 0) return 0;
    a->nbumps--;
    if (kind != NULL) *kind = a->bumps[a->nbumps].kind;
    if (out_stream_id != NULL) *out_stream_id = a->bumps[a->nbumps].out_stream_id;
    if (epoch != NULL) *epoch = a->bumps[a->nbumps].epoch;
    return 1;
}

int tp_merge_authority_on_message(tp_merge_authority_t *a, const uint8_t *buf, size_t len)
{
    const int t = tp_merge_msg_classify(buf, len);
    if (t != TP_MERGE_TEMPLATE_SEQUENCE_REQUEST && t != TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST) return 0;
    tp_merge_request_t req;
    if (tp_merge_request_decode(&req, buf, len) != TP_MERGE_DECODE_OK) {
        a->stats.malformed++;
        return 0;
    }
    a->stats.requests_seen++;
    /* Exact key and kind only: a sequence request never gets a timestamp map
     * (§3.10, scenario 87); unknown epochs get silence (scenario 86). */
    const tp_merge_map_t *m = tp_merge_registry_get(a->reg, req.kind, req.out_stream_id, req.epoch);
    if (m == NULL) {
        if (req.epoch > 0 && tp_merge_registry_get(a->reg, req.kind, req.out_stream_id, req.epoch - 1) != NULL)
            note_bump(a, &req);
        return 0;
    }
    if (announce(a, m) != 0) return -1;
    a->stats.requests_answered++;
    return 1;
}

static void on_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_merge_authority_t *a = clientd;
    a->handled++;
    if (info->publisher_uid != a->own_uid) { /* another user's log in our directory */
        a->stats.refused_foreign++;
        return;
    }
    if (tp_merge_authority_on_message(a, buf, len) > 0) a->answered++;
}

int tp_merge_authority_do_work(tp_merge_authority_t *a, int64_t now)
{
    if (a == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "authority: NULL argument");
    int work = 0;
    if (a->sub != NULL) {
        a->handled = 0;
        a->answered = 0;
        if (tp_ipc_subscription_poll(a->sub, on_control, a, 32) < 0) return -1;
        work += a->handled;
    }
    if (a->has_timer && now >= a->next_reannounce) {
        const uint32_t n = tp_merge_registry_count(a->reg);
        for (uint32_t i = 0; i < n; i++) {
            if (announce(a, tp_merge_registry_at(a->reg, i)) == 0) work++;
        }
        /* Keep the cadence; after a long pause do not burst to catch up. */
        a->next_reannounce += a->reannounce_ns;
        if (a->next_reannounce <= now) a->next_reannounce = now + a->reannounce_ns;
    }
    return work;
}

static int agent_do_work(void *state, const tp_cached_clock_t *clock)
{
    return tp_merge_authority_do_work(state, tp_cached_clock_monotonic_ns(clock));
}

tp_agent_t tp_merge_authority_as_agent(tp_merge_authority_t *a)
{
    tp_agent_t ag;
    memset(&ag, 0, sizeof ag);
    ag.name = "merge-map-authority";
    ag.state = a;
    ag.do_work = agent_do_work;
    return ag;
}

void tp_merge_authority_stats(const tp_merge_authority_t *a, tp_merge_authority_stats_t *out)
{
    if (a == NULL || out == NULL) return;
    *out = a->stats;
}
