/* JoinBarrierAgent (docs/spec/join-barrier.md §3.9, §3.10): a JoinBarrier fed from
 * the control stream and the inputs' descriptor streams, gating a stage
 * callback. This file holds its lifecycle (config, create, close, destroy),
 * the duty cycle with its timers, the control-stream dispatch and the agent
 * glue; the rest is split by concept (see join_agent_impl.h).
 * Everything is allocated in tp_join_agent_create (JB-5.1). */
#include "join_agent_impl.h"

#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/error.h"
#include "tensorpool/merge_map_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIVENESS_INTERVAL_NS 1000000000LL

void tp_join_agent_config_init(tp_join_agent_config_t *cfg, tp_join_mode_t mode, uint32_t out_stream_id,
                               uint64_t epoch)
{
    memset(cfg, 0, sizeof *cfg);
    tp_join_barrier_config_init(&cfg->barrier, mode, out_stream_id, 8);
    cfg->epoch = epoch;
    cfg->first_out_seq = TP_JOIN_OUT_AUTO;
}

int tp_join_agent_config_add_input(tp_join_agent_config_t *cfg, uint32_t stream_id, int32_t descriptor_stream_id)
{
    if (cfg == NULL || stream_id == 0 || descriptor_stream_id < 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "join agent: bad input (stream %u)", stream_id);
    if (cfg->input_count >= TP_JOIN_AGENT_MAX_INPUTS)
        return tp_err_set(TP_ERR_CAPACITY, "join agent: more than %d inputs", TP_JOIN_AGENT_MAX_INPUTS);
    cfg->inputs[cfg->input_count].stream_id = stream_id;
    cfg->inputs[cfg->input_count].descriptor_stream_id = descriptor_stream_id;
    cfg->input_count++;
    return 0;
}

int tp_join_agent_create(const tp_join_agent_config_t *cfg, tp_join_agent_t **out)
{
    if (cfg == NULL || out == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join agent: NULL argument");
    *out = NULL;
    if (cfg->on_output == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join agent: on_output is required");
    if (cfg->input_count == 0 || cfg->input_count > TP_JOIN_AGENT_MAX_INPUTS)
        return tp_err_set(TP_ERR_INVALID_ARG, "join agent: %u inputs (1..%d)", cfg->input_count,
                          TP_JOIN_AGENT_MAX_INPUTS);
    if (cfg->history != 0 && (cfg->history & (cfg->history - 1)) != 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "join agent: history %u is not a power of two", cfg->history);
    if (cfg->channel != NULL && strlen(cfg->channel) >= 64)
        return tp_err_set(TP_ERR_INVALID_ARG, "join agent: channel name too long");
    for (uint32_t i = 0; i < cfg->input_count; i++) {
        if (cfg->inputs[i].stream_id == 0 || cfg->inputs[i].descriptor_stream_id < 0)
            return tp_err_set(TP_ERR_INVALID_ARG, "join agent: input %u has stream id 0", i);
        for (uint32_t j = 0; j < i; j++)
            if (cfg->inputs[j].stream_id == cfg->inputs[i].stream_id)
                return tp_err_set(TP_ERR_INVALID_ARG, "join agent: input stream %u listed twice",
                                  cfg->inputs[i].stream_id);
    }

    tp_join_agent_t *a = calloc(1, sizeof *a);
    if (a == NULL) return tp_err_set(TP_ERR_CAPACITY, "join agent: out of memory");
    a->cfg = *cfg;
    if (cfg->ipc != NULL)
        a->ipc = *cfg->ipc;
    else
        tp_ipc_context_init(&a->ipc);
    a->cfg.ipc = &a->ipc;
    a->own_uid = (uint32_t)geteuid();
    /* NULL: the deployment's channel, DRIVER_CONTROL_CHANNEL (read by
     * tp_client_context_init), else tp:ipc */
    tp_client_context_t env_ctx;
    tp_client_context_init(&env_ctx);
    const char *channel = cfg->channel != NULL ? cfg->channel : env_ctx.channel;
    if (strlen(channel) >= sizeof a->channel) {
        free(a);
        return tp_err_set(TP_ERR_INVALID_ARG, "join agent: channel '%s' is longer than %zu bytes", channel,
                          sizeof a->channel - 1);
    }
    strcpy(a->channel, channel);
    /* stream ids left 0 are the deployment's: the same environment
     * (DRIVER_CONTROL_STREAM_ID, DRIVER_DESCRIPTOR_STREAM_ID) the driver,
     * producers and consumers read, else the §6 conventions 1000 / 1100 */
    if (cfg->client != NULL)
        a->client = *cfg->client;
    else
        tp_client_context_init(&a->client);
    if (a->cfg.control_stream_id == 0) a->cfg.control_stream_id = a->client.control_stream_id;
    if (a->cfg.activity_window_ns == 0) a->cfg.activity_window_ns = 3000000000ull;
    if (a->cfg.request_interval_ns <= 0) a->cfg.request_interval_ns = 250000000LL;
    if (a->cfg.request_backoff_max_ns <= 0) a->cfg.request_backoff_max_ns = 4 * a->cfg.request_interval_ns;
    if (a->cfg.request_backoff_max_ns < a->cfg.request_interval_ns)
        a->cfg.request_backoff_max_ns = a->cfg.request_interval_ns;
    if (a->cfg.max_frames_per_input == 0) a->cfg.max_frames_per_input = 8;
    if (a->cfg.history == 0) a->cfg.history = 256;
    if (a->cfg.max_outputs_per_cycle == 0) a->cfg.max_outputs_per_cycle = 16;
    if (a->cfg.poll_limit <= 0) a->cfg.poll_limit = 64;
    if (a->cfg.authority_timeout_ns <= 0) a->cfg.authority_timeout_ns = 5000000000LL;
    if (a->cfg.blocked_after_ns <= 0) a->cfg.blocked_after_ns = 1000000000LL;
    a->cur_request_interval = a->cfg.request_interval_ns;
    a->next_out_seq = a->cfg.first_out_seq;
    a->max_frames = a->cfg.max_frames_per_input;
    a->hist_mask = a->cfg.history - 1;
    a->trigger_input = NO_INPUT;

    if (tp_join_barrier_create(&a->cfg.barrier, &a->barrier) != 0) goto fail;
    a->capacity = a->cfg.barrier.capacity;
    /* Decoding accepts either kind: a LatestValue join may get both. */
    if (tp_merge_map_init(&a->scratch, TP_MERGE_KIND_SEQUENCE, a->capacity) != 0) goto fail;
    a->rule_input = calloc(a->capacity, sizeof *a->rule_input);
    a->out_inputs = calloc(a->capacity, sizeof *a->out_inputs);
    a->frames = calloc((size_t)a->capacity * a->max_frames, sizeof *a->frames);
    a->latest = calloc(a->capacity, sizeof *a->latest);
    a->tq = calloc(a->cfg.history, sizeof *a->tq);
    a->tq_mask = a->cfg.history - 1;
    if (a->rule_input == NULL || a->out_inputs == NULL || a->frames == NULL || a->latest == NULL || a->tq == NULL) {
        tp_err_set(TP_ERR_CAPACITY, "join agent: out of memory");
        goto fail;
    }
    a->ninputs = cfg->input_count;
    for (uint32_t i = 0; i < a->ninputs; i++) {
        input_t *in = &a->inputs[i];
        in->stream_id = cfg->inputs[i].stream_id;
        in->desc_stream = cfg->inputs[i].descriptor_stream_id != 0 ? cfg->inputs[i].descriptor_stream_id
                                                                   : a->client.descriptor_stream_id;
        in->hist = calloc(a->cfg.history, sizeof *in->hist);
        if (in->hist == NULL) {
            tp_err_set(TP_ERR_CAPACITY, "join agent: out of memory");
            goto fail;
        }
        ja_hist_clear(a, in);
        uint32_t d = 0;
        while (d < a->ndesc && a->desc[d].stream != in->desc_stream) d++;
        if (d == a->ndesc) {
            a->desc[d].stream = in->desc_stream;
            if (tp_ipc_subscription_open(&a->desc[d].sub, &a->ipc, a->channel, in->desc_stream) != 0) goto fail;
            a->ndesc++;
        }
    }
    if (a->cfg.attach_via_driver) {
        a->cfg.client = &a->client;
        if (a->cfg.shm_base_dir == NULL) a->cfg.shm_base_dir = a->client.base_dir;
        for (uint32_t i = 0; i < a->ninputs; i++) {
            input_t *in = &a->inputs[i];
            in->agent = a;
            tp_driver_client_handlers_t h;
            memset(&h, 0, sizeof h);
            h.clientd = in;
            h.on_attached = ja_lease_attached;
            h.on_lease_lost = ja_lease_lost;
            /* REQUIRE_EXISTING (1): a join stage never creates streams. */
            if (tp_driver_client_open(&in->dc, &a->client, in->stream_id, TP_ROLE_CONSUMER, 1, &h) != 0) goto fail;
        }
    }
    if (ja_meta_open(a) != 0) goto fail;
    if (tp_ipc_subscription_open(&a->control, &a->ipc, a->channel, a->cfg.control_stream_id) != 0) goto fail;
    a->join_time_ns = tp_clock_monotonic_ns();
    if (tp_ipc_publication_open(&a->control_pub, &a->ipc, a->channel, a->cfg.control_stream_id) != 0) goto fail;
    if (tp_join_barrier_set_active_epoch(a->barrier, a->cfg.epoch) != 0) goto fail;
    *out = a;
    return 0;
fail:
    tp_err_wrap("join agent");
    tp_join_agent_destroy(a);
    return -1;
}

void tp_join_agent_close(tp_join_agent_t *a)
{
    if (a == NULL || a->closed) return;
    a->closed = 1;
    for (uint32_t d = 0; d < a->ndesc; d++) {
        tp_ipc_subscription_close(a->desc[d].sub);
        a->desc[d].sub = NULL;
    }
    tp_ipc_subscription_close(a->control);
    a->control = NULL;
    ja_meta_close(a);
    tp_ipc_publication_close(a->control_pub);
    a->control_pub = NULL;
    for (uint32_t i = 0; i < a->ninputs; i++) {
        ja_input_unmap(a, &a->inputs[i], 0);
        tp_driver_client_close(a->inputs[i].dc); /* detach, bounded wait */
        a->inputs[i].dc = NULL;
    }
}

void tp_join_agent_destroy(tp_join_agent_t *a)
{
    if (a == NULL) return;
    tp_join_agent_close(a);
    for (uint32_t i = 0; i < a->ninputs; i++) free(a->inputs[i].hist);
    ja_meta_free(a);
    free(a->rule_input);
    free(a->out_inputs);
    free(a->frames);
    free(a->latest);
    free(a->tq);
    tp_merge_map_close(&a->scratch);
    tp_join_barrier_destroy(a->barrier);
    free(a);
}

/* ---- control stream ---------------------------------------------------- */

void ja_on_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_join_agent_t *a = clientd;
    if (info != NULL && info->publisher_uid != a->own_uid) { /* another user's log in our directory */
        a->work++;
        a->stats.control_foreign++;
        return;
    }
    tp_sbe_header_t h;
    if (ja_msg_header(a, buf, len, &h) != 0) return;
    /* Schema id before any decode (JB-14.1). */
    if (h.schema_id == TP_MERGE_MAP_SCHEMA_ID) {
        const int t = tp_merge_msg_classify(buf, len);
        if (t == TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE || t == TP_MERGE_TEMPLATE_TIMESTAMP_ANNOUNCE)
            ja_apply_announce(a, buf, len, info);
        else if ((t == TP_MERGE_TEMPLATE_SEQUENCE_REQUEST || t == TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST) &&
                 a->cfg.authority != NULL)
            (void)tp_merge_authority_on_message(a->cfg.authority, buf, len);
    } else if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID) {
        ja_on_pool_announce(a, buf, len);
    } else if (h.schema_id == TP_DRIVER_SCHEMA_ID && h.template_id == TP_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID) {
        ja_on_lease_revoked(a, buf, len);
    }
}

/* ---- duty cycle -------------------------------------------------------- */

int tp_join_agent_do_work(tp_join_agent_t *a, int64_t now)
{
    if (a == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join agent: NULL agent");
    if (a->closed) return tp_err_set(TP_ERR_STATE, "join agent: closed");
    a->now = now;
    a->work = 0;
    a->stats.duty_cycles++;
    if (tp_ipc_subscription_poll(a->control, ja_on_control, a, a->cfg.poll_limit) < 0) return -1;
    const uint64_t descriptors_before = a->stats.descriptors;
    for (uint32_t d = 0; d < a->ndesc; d++)
        if (tp_ipc_subscription_poll(a->desc[d].sub, ja_on_descriptor, a, a->cfg.poll_limit) < 0) return -1;
    if (a->stats.descriptors == descriptors_before) ja_idle_prefetch(a);
    a->stats.control_loss = tp_ipc_subscription_loss_count(a->control);
    ja_meta_poll(a);
    for (uint32_t i = 0; i < a->ninputs; i++) /* leases: attach, keepalive, loss */
        if (a->inputs[i].dc != NULL && tp_driver_client_do_work(a->inputs[i].dc, now) > 0) a->work++;
    /* Late join (§3.10): blocked with an expected epoch -> request, back off. */
    if (!tp_join_barrier_has_map(a->barrier) && now >= a->next_request) {
        ja_send_request(a);
        a->next_request = now + a->cur_request_interval;
        a->cur_request_interval *= 2;
        if (a->cur_request_interval > a->cfg.request_backoff_max_ns)
            a->cur_request_interval = a->cfg.request_backoff_max_ns;
    }
    if (!tp_join_barrier_has_map(a->barrier)) {
        if (a->blocked_since == 0) a->blocked_since = now != 0 ? now : 1;
        a->not_ready_since = 0;
    } else {
        a->blocked_since = 0;
    }
    if (now >= a->next_liveness) {
        ja_check_liveness(a);
        a->next_liveness = now + LIVENESS_INTERVAL_NS;
    }
    ja_evaluate(a);
    return a->work;
}

static int agent_do_work(void *state, const tp_cached_clock_t *clock)
{
    return tp_join_agent_do_work(state, tp_cached_clock_monotonic_ns(clock));
}

static void agent_on_close(void *state) { tp_join_agent_close(state); }

tp_agent_t tp_join_agent_as_agent(tp_join_agent_t *a)
{
    tp_agent_t ag;
    memset(&ag, 0, sizeof ag);
    ag.name = "join-barrier";
    ag.state = a;
    ag.do_work = agent_do_work;
    ag.on_close = agent_on_close;
    return ag;
}

int tp_join_agent_set_output_epoch(tp_join_agent_t *a, uint64_t epoch)
{
    if (a == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "join agent: NULL agent");
    uint64_t cur;
    if (tp_join_barrier_expected_epoch(a->barrier, &cur) && cur == epoch) return 0;
    return ja_expect_epoch(a, epoch);
}

const tp_join_barrier_t *tp_join_agent_barrier(const tp_join_agent_t *a) { return a != NULL ? a->barrier : NULL; }

void tp_join_agent_stats(const tp_join_agent_t *a, tp_join_agent_stats_t *out)
{
    if (a == NULL || out == NULL) return;
    *out = a->stats;
}

const char *tp_join_agent_state_name(tp_join_agent_state_t s)
{
    switch (s) {
    case TP_JOIN_AGENT_FLOWING: return "flowing";
    case TP_JOIN_AGENT_BLOCKED: return "blocked";
    case TP_JOIN_AGENT_DEGRADED: return "degraded";
    }
    return "unknown";
}

/* The first input the barrier's last evaluation found missing, else stale. */
static uint32_t first_waited_input(const tp_join_agent_t *a, const char **what)
{
    const tp_join_result_t *res = tp_join_barrier_result(a->barrier);
    *what = "missing";
    if (res->missing_count > 0) return res->missing[0];
    *what = "rejected";
    if (res->rejected_count > 0) return res->rejected[0];
    *what = "stale";
    return res->stale_count > 0 ? res->stale[0] : 0;
}

void tp_join_agent_status(const tp_join_agent_t *a, tp_join_agent_status_t *out)
{
    if (out == NULL) return;
    memset(out, 0, sizeof *out);
    if (a == NULL) return;
    uint64_t want = 0;
    (void)tp_join_barrier_expected_epoch(a->barrier, &want);
    if (!tp_join_barrier_has_map(a->barrier)) {
        out->state = TP_JOIN_AGENT_BLOCKED;
        out->since_ns = a->blocked_since;
        out->wanted_epoch = want;
        if (a->epoch_blocked) {
            out->stream_id = a->epoch_block_stream;
            snprintf(out->reason, sizeof out->reason, "input %u epoch changed, waiting for map epoch %" PRIu64,
                     a->epoch_block_stream, want);
        } else {
            snprintf(out->reason, sizeof out->reason, "waiting for map epoch %" PRIu64, want);
        }
        return;
    }
    if (a->not_ready_since != 0 && a->now - a->not_ready_since >= a->cfg.blocked_after_ns) {
        const char *what;
        out->state = TP_JOIN_AGENT_BLOCKED;
        out->since_ns = a->not_ready_since;
        out->stream_id = first_waited_input(a, &what);
        snprintf(out->reason, sizeof out->reason, "next output not ready: input %u %s", out->stream_id, what);
        return;
    }
    if (a->incomplete_since != 0) {
        out->state = TP_JOIN_AGENT_DEGRADED;
        out->since_ns = a->incomplete_since;
        out->stream_id = a->incomplete_stream;
        snprintf(out->reason, sizeof out->reason, "input %u delivered no frame to the last output",
                 a->incomplete_stream);
        return;
    }
    out->state = TP_JOIN_AGENT_FLOWING;
    snprintf(out->reason, sizeof out->reason, "flowing");
}
