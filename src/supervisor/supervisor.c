/* Supervisor agent (supervisor.h; W-10.5.a, W-P1..W-P4). */
#include "tensorpool/supervisor.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/control_response.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/monitor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the supervisor remembers of one consumer lease. */
typedef struct watched_s {
    int used;
    uint32_t stream_id, consumer_id;
    int64_t window_start_ns;
    uint64_t window_base;   /* drops_gap + drops_late at window start */
    int limited;            /* a DROPS decision stands: rule index + 1 */
    int rejected;           /* a MAX_CONSUMERS decision stands: rule index + 1 */
    int64_t next_send_ns;
    int64_t seen_ns;        /* last pass that found it live */
} watched_t;

struct tp_supervisor_s {
    tp_supervisor_config_t cfg;
    tp_monitor_t *mon;
    tp_ipc_context_t ipc;
    tp_ipc_publication_t *ctl_pub;
    tp_supervisor_decision_handler_t handler;
    void *clientd;
    watched_t w[TP_MONITOR_MAX_CLIENTS];
    tp_supervisor_stats_t st;
    uint8_t tx[512];
};

void tp_supervisor_config_init(tp_supervisor_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    tp_client_context_init(&cfg->ctx);
}

int tp_supervisor_open(tp_supervisor_t **out, const tp_supervisor_config_t *cfg, tp_supervisor_decision_handler_t handler,
                       void *clientd)
{
    *out = NULL;
    tp_supervisor_t *s = calloc(1, sizeof *s);
    if (s == NULL) return tp_err_set(TP_ERR_CAPACITY, "supervisor: out of memory");
    s->cfg = *cfg;
    if (s->cfg.resend_ns <= 0) s->cfg.resend_ns = 1000000000LL;
    if (s->cfg.live_window_ns <= 0) s->cfg.live_window_ns = 3000000000LL;
    s->handler = handler;
    s->clientd = clientd;
    tp_monitor_config_t mc;
    tp_monitor_config_init(&mc);
    mc.ctx = cfg->ctx;
    mc.live_window_ns = s->cfg.live_window_ns;
    tp_ipc_context_init(&s->ipc);
    s->ipc.base_dir = s->cfg.ctx.base_dir;
    s->ipc.namespace_name = s->cfg.ctx.ns;
    if (tp_monitor_open(&s->mon, &mc) != 0 ||
        (!cfg->dry_run &&
         tp_ipc_publication_open(&s->ctl_pub, &s->ipc, s->cfg.ctx.channel, s->cfg.ctx.control_stream_id) != 0)) {
        tp_err_wrap("supervisor");
        tp_supervisor_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

static watched_t *watched_get(tp_supervisor_t *s, uint32_t stream, uint32_t cid, int64_t now)
{
    watched_t *free_w = NULL;
    for (unsigned i = 0; i < TP_MONITOR_MAX_CLIENTS; i++) {
        if (s->w[i].used && s->w[i].stream_id == stream && s->w[i].consumer_id == cid) return &s->w[i];
        if (!s->w[i].used && free_w == NULL) free_w = &s->w[i];
    }
    if (free_w == NULL) return NULL;
    memset(free_w, 0, sizeof *free_w);
    free_w->used = 1;
    free_w->stream_id = stream;
    free_w->consumer_id = cid;
    free_w->window_start_ns = now;
    return free_w;
}

static const tp_supervisor_rule_t *rule_for(const tp_supervisor_t *s, tp_supervisor_rule_kind_t kind, uint32_t stream,
                                            int *index)
{
    for (uint32_t i = 0; i < s->cfg.policy.nrules; i++) {
        const tp_supervisor_rule_t *r = &s->cfg.policy.rules[i];
        if (r->kind == kind && (r->stream_id == TP_SUPERVISOR_ANY_STREAM || r->stream_id == stream)) {
            *index = (int)i;
            return r;
        }
    }
    return NULL;
}

static void offer(tp_supervisor_t *s, long n)
{
    if (n > 0 && s->ctl_pub != NULL) tp_ipc_publication_offer(s->ctl_pub, s->tx, (size_t)n);
}

/* W-P4: RATE_LIMITED is forced with ConsumerConfig (no assignment, SHM kept)
 * followed by ControlResponse OK "max_rate_hz=R" (W-P3). */
static void send_rate_limit(tp_supervisor_t *s, const watched_t *w, uint32_t rate_hz)
{
    if (s->cfg.dry_run) return;
    offer(s, tp_consumer_config_encode(s->tx, sizeof s->tx, w->stream_id, w->consumer_id, 1, TP_CONTROL_MODE_RATE_LIMITED, NULL));
    s->st.configs_sent++;
    char msg[32];
    snprintf(msg, sizeof msg, "max_rate_hz=%u", rate_hz);
    offer(s, tp_control_response_encode(s->tx, sizeof s->tx, w->stream_id, w->consumer_id, TP_CONTROL_RESPONSE_CODE_OK, msg));
    s->st.responses_sent++;
}

static void send_reject(tp_supervisor_t *s, const watched_t *w, uint32_t limit)
{
    if (s->cfg.dry_run) return;
    char msg[96];
    snprintf(msg, sizeof msg, "supervisor: stream %u allows at most %u consumers", w->stream_id, limit);
    offer(s, tp_control_response_encode(s->tx, sizeof s->tx, w->stream_id, w->consumer_id, TP_CONTROL_RESPONSE_CODE_REJECTED, msg));
    s->st.responses_sent++;
}

static void decide(tp_supervisor_t *s, tp_supervisor_decision_t *d)
{
    d->sent = !s->cfg.dry_run;
    s->st.decisions++;
    if (s->handler != NULL) s->handler(s->clientd, d);
}

static int live(const tp_supervisor_t *s, const tp_monitor_client_t *c, int64_t now)
{
    return c->role == TP_ROLE_CONSUMER && !c->revoked && c->last_seen_ns != 0 && now - c->last_seen_ns <= s->cfg.live_window_ns;
}

static int eval_drops(tp_supervisor_t *s, const tp_monitor_client_t *c, watched_t *w, int64_t now)
{
    int ri = -1;
    const tp_supervisor_rule_t *r = rule_for(s, TP_SUPERVISOR_RULE_DROPS, c->stream_id, &ri);
    if (r == NULL || !c->has_qos || w->limited) return 0;
    const uint64_t drops = c->drops_gap + c->drops_late;
    if (drops < w->window_base || now - w->window_start_ns > (int64_t)r->window_ns) { /* remapped, or a new window */
        w->window_base = drops;
        w->window_start_ns = now;
        return 0;
    }
    if (drops - w->window_base <= r->max_drops) return 0;
    w->limited = ri + 1;
    w->next_send_ns = now;
    tp_supervisor_decision_t d = {.at_ns = now, .kind = r->kind, .rule_line = r->line, .stream_id = w->stream_id,
                                  .consumer_id = w->consumer_id, .drops = drops - w->window_base,
                                  .window_ns = (uint64_t)(now - w->window_start_ns), .rate_hz = r->rate_hz};
    snprintf(d.text, sizeof d.text,
             "stream %u consumer %u: drops grew by %" PRIu64 " in %" PRId64 " ms (> %" PRIu64
             ", policy line %u): RATE_LIMITED at %u Hz%s",
             w->stream_id, w->consumer_id, d.drops, (now - w->window_start_ns) / 1000000, r->max_drops, r->line,
             r->rate_hz, s->cfg.dry_run ? " (dry run, not sent)" : "");
    decide(s, &d);
    return 1;
}

/* MAX_CONSUMERS: the live consumers of each stream in client-id order (the
 * driver hands ids out in attach order); those past the limit are told
 * REJECTED. */
static int eval_max_consumers(tp_supervisor_t *s, int64_t now)
{
    int work = 0;
    const uint32_t n = tp_monitor_client_count(s->mon);
    for (uint32_t i = 0; i < n; i++) {
        const tp_monitor_client_t *c = tp_monitor_client(s->mon, i);
        int ri = -1;
        const tp_supervisor_rule_t *r = rule_for(s, TP_SUPERVISOR_RULE_MAX_CONSUMERS, c->stream_id, &ri);
        if (r == NULL || !live(s, c, now)) continue;
        uint32_t before = 0, total = 0;
        for (uint32_t j = 0; j < n; j++) {
            const tp_monitor_client_t *o = tp_monitor_client(s->mon, j);
            if (o->stream_id != c->stream_id || !live(s, o, now)) continue;
            total++;
            if (o->client_id < c->client_id) before++;
        }
        watched_t *w = watched_get(s, c->stream_id, c->client_id, now);
        if (before < r->count) { /* within the limit (again: others left) */
            if (w != NULL) w->rejected = 0;
            continue;
        }
        if (w == NULL || w->rejected) continue;
        w->rejected = ri + 1;
        w->next_send_ns = now;
        tp_supervisor_decision_t d = {.at_ns = now, .kind = r->kind, .rule_line = r->line, .stream_id = c->stream_id,
                                      .consumer_id = c->client_id, .consumers = total};
        snprintf(d.text, sizeof d.text, "stream %u consumer %u: %u live consumers (> %u, policy line %u): REJECTED%s",
                 c->stream_id, c->client_id, total, r->count, r->line, s->cfg.dry_run ? " (dry run, not sent)" : "");
        decide(s, &d);
        work++;
    }
    return work;
}

int tp_supervisor_poll(tp_supervisor_t *s, int64_t now)
{
    int work = tp_monitor_poll(s->mon, now, 256);
    if (work < 0) return -1;
    const uint32_t n = tp_monitor_client_count(s->mon);
    uint32_t consumers = 0;
    for (uint32_t i = 0; i < n; i++) {
        const tp_monitor_client_t *c = tp_monitor_client(s->mon, i);
        if (!live(s, c, now)) continue;
        consumers++;
        watched_t *w = watched_get(s, c->stream_id, c->client_id, now);
        if (w == NULL) continue;
        w->seen_ns = now;
        work += eval_drops(s, c, w, now);
    }
    work += eval_max_consumers(s, now);
    for (unsigned i = 0; i < TP_MONITOR_MAX_CLIENTS; i++) {
        watched_t *w = &s->w[i];
        if (!w->used) continue;
        if (w->seen_ns != now) { /* gone (lease over or silent): forget it */
            w->used = 0;
            continue;
        }
        if ((!w->limited && !w->rejected) || now < w->next_send_ns) continue;
        w->next_send_ns = now + s->cfg.resend_ns;
        if (w->limited) send_rate_limit(s, w, s->cfg.policy.rules[w->limited - 1].rate_hz);
        if (w->rejected) send_reject(s, w, s->cfg.policy.rules[w->rejected - 1].count);
        work++;
    }
    s->st.consumers = consumers;
    s->st.streams = tp_monitor_stream_count(s->mon);
    return work;
}

void tp_supervisor_stats(const tp_supervisor_t *s, tp_supervisor_stats_t *out) { *out = s->st; }

void tp_supervisor_close(tp_supervisor_t *s)
{
    if (s == NULL) return;
    tp_monitor_close(s->mon);
    tp_ipc_publication_close(s->ctl_pub);
    free(s);
}
