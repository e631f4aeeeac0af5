/* JoinBarrierAgent (spec/join-barrier.md §3.9, §3.10): a JoinBarrier fed from
 * the control stream and the inputs' descriptor streams, gating a stage
 * callback. Everything is allocated in tp_join_agent_create (JB-5.1). */
#include "tensorpool/join_agent.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/codec/sbe.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/error.h"
#include "tensorpool/merge_map_codec.h"
#include "tensorpool/shm_seqlock.h"

#include <stdlib.h>
#include <string.h>

#define LIVENESS_INTERVAL_NS 1000000000LL
#define NO_INPUT UINT32_MAX

/* One remembered FrameDescriptor, for frame selection by time. */
typedef struct hist_entry_s {
    uint64_t seq;     /* UINT64_MAX = empty */
    uint64_t fd_ts;   /* descriptor timestamp, UINT64_MAX if null */
    uint64_t slot_ts; /* slot-header timestamp if it was read, else UINT64_MAX */
} hist_entry_t;

typedef struct input_s {
    uint32_t stream_id;
    int32_t desc_stream;
    int has_epoch;
    uint64_t epoch;
    int has_seq;      /* a descriptor seen since the last map apply */
    uint64_t last_seq;
    int fired;        /* LatestValue: fired_seq is set */
    uint64_t fired_seq;
    int needs_slot_ts; /* some rule of the active map reads SLOT_HEADER time */
    hist_entry_t *hist;
    /* data plane */
    int mapped;
    uint64_t mapped_epoch;
    uint64_t mapped_pid;
    tp_shm_reader_t reader;
    tp_driver_client_t *dc; /* attach_via_driver: this input's CONSUMER lease */
    struct tp_join_agent_s *agent;
} input_t;

typedef struct desc_sub_s {
    int32_t stream;
    tp_ipc_subscription_t *sub;
} desc_sub_t;

struct tp_join_agent_s {
    tp_join_agent_config_t cfg;
    tp_ipc_context_t ipc;
    tp_client_context_t client;
    char channel[64];
    tp_join_barrier_t *barrier;
    tp_merge_map_t scratch; /* decoded announce, capacity = barrier capacity */
    tp_ipc_subscription_t *control;
    tp_ipc_publication_t *control_pub;
    uint32_t ndesc;
    desc_sub_t desc[TP_JOIN_AGENT_MAX_INPUTS];
    uint32_t ninputs;
    input_t inputs[TP_JOIN_AGENT_MAX_INPUTS];
    uint32_t hist_mask;
    /* per rule of the active map */
    uint32_t capacity;
    uint32_t *rule_input;
    tp_join_input_t *out_inputs;
    tp_join_frame_t *frames; /* capacity * max_frames */
    tp_join_latest_t *latest;
    uint32_t max_frames;
    /* SHM bases, initialised on the first pool announce (the dir may not exist at create) */
    int bases_ok;
    tp_shm_bases_t bases;
    /* output candidates */
    uint64_t next_out_seq; /* TP_JOIN_OUT_AUTO until derived */
    uint64_t out_floor;    /* SEQUENCE: first out_seq every rule can ever satisfy */
    uint64_t out_count;
    int held_back; /* the pending output was found partly satisfied and not ready */
    uint64_t *tq;          /* TIMESTAMP: pending out_time candidates (ring) */
    uint32_t tq_mask, tq_head, tq_len;
    uint32_t trigger_input; /* index into inputs, NO_INPUT if none */
    uint8_t trigger_source;
    /* timers */
    int64_t next_request;
    int64_t cur_request_interval;
    int64_t next_liveness;
    int closed;
    int64_t now; /* cached clock of the current cycle */
    int work;
    tp_join_agent_stats_t stats;
};

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

static uint32_t input_find(const tp_join_agent_t *a, uint32_t stream_id)
{
    for (uint32_t i = 0; i < a->ninputs; i++)
        if (a->inputs[i].stream_id == stream_id) return i;
    return NO_INPUT;
}

static void hist_clear(tp_join_agent_t *a, input_t *in)
{
    for (uint32_t i = 0; i <= a->hist_mask; i++) {
        in->hist[i].seq = UINT64_MAX;
        in->hist[i].fd_ts = UINT64_MAX;
        in->hist[i].slot_ts = UINT64_MAX;
    }
}

static void input_unmap(tp_join_agent_t *a, input_t *in, int disconnect)
{
    if (!in->mapped) return;
    tp_shm_reader_close(&in->reader);
    in->mapped = 0;
    if (disconnect) a->stats.disconnects++;
}

static int lease_attached(void *clientd, const tp_lease_t *l);
static void lease_lost(void *clientd, const char *why);

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
    strcpy(a->channel, cfg->channel != NULL ? cfg->channel : "tp:ipc");
    if (a->cfg.control_stream_id == 0) a->cfg.control_stream_id = TP_CONTROL_STREAM_DEFAULT;
    if (a->cfg.activity_window_ns == 0) a->cfg.activity_window_ns = 3000000000ull;
    if (a->cfg.request_interval_ns <= 0) a->cfg.request_interval_ns = 250000000LL;
    if (a->cfg.request_backoff_max_ns <= 0) a->cfg.request_backoff_max_ns = 4 * a->cfg.request_interval_ns;
    if (a->cfg.request_backoff_max_ns < a->cfg.request_interval_ns)
        a->cfg.request_backoff_max_ns = a->cfg.request_interval_ns;
    if (a->cfg.max_frames_per_input == 0) a->cfg.max_frames_per_input = 8;
    if (a->cfg.history == 0) a->cfg.history = 256;
    if (a->cfg.max_outputs_per_cycle == 0) a->cfg.max_outputs_per_cycle = 16;
    if (a->cfg.poll_limit <= 0) a->cfg.poll_limit = 64;
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
                                                                   : TP_DESCRIPTOR_STREAM_DEFAULT;
        in->hist = calloc(a->cfg.history, sizeof *in->hist);
        if (in->hist == NULL) {
            tp_err_set(TP_ERR_CAPACITY, "join agent: out of memory");
            goto fail;
        }
        hist_clear(a, in);
        uint32_t d = 0;
        while (d < a->ndesc && a->desc[d].stream != in->desc_stream) d++;
        if (d == a->ndesc) {
            a->desc[d].stream = in->desc_stream;
            if (tp_ipc_subscription_open(&a->desc[d].sub, &a->ipc, a->channel, in->desc_stream) != 0) goto fail;
            a->ndesc++;
        }
    }
    if (a->cfg.attach_via_driver) {
        if (cfg->client != NULL)
            a->client = *cfg->client;
        else
            tp_client_context_init(&a->client);
        a->cfg.client = &a->client;
        if (a->cfg.shm_base_dir == NULL) a->cfg.shm_base_dir = a->client.base_dir;
        for (uint32_t i = 0; i < a->ninputs; i++) {
            input_t *in = &a->inputs[i];
            in->agent = a;
            tp_driver_client_handlers_t h;
            memset(&h, 0, sizeof h);
            h.clientd = in;
            h.on_attached = lease_attached;
            h.on_lease_lost = lease_lost;
            /* REQUIRE_EXISTING (1): a join stage never creates streams. */
            if (tp_driver_client_open(&in->dc, &a->client, in->stream_id, TP_ROLE_CONSUMER, 1, &h) != 0) goto fail;
        }
    }
    if (tp_ipc_subscription_open(&a->control, &a->ipc, a->channel, a->cfg.control_stream_id) != 0) goto fail;
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
    tp_ipc_publication_close(a->control_pub);
    a->control_pub = NULL;
    for (uint32_t i = 0; i < a->ninputs; i++) {
        input_unmap(a, &a->inputs[i], 0);
        tp_driver_client_close(a->inputs[i].dc); /* detach, bounded wait */
        a->inputs[i].dc = NULL;
    }
}

void tp_join_agent_destroy(tp_join_agent_t *a)
{
    if (a == NULL) return;
    tp_join_agent_close(a);
    for (uint32_t i = 0; i < a->ninputs; i++) free(a->inputs[i].hist);
    free(a->rule_input);
    free(a->out_inputs);
    free(a->frames);
    free(a->latest);
    free(a->tq);
    tp_merge_map_close(&a->scratch);
    tp_join_barrier_destroy(a->barrier);
    free(a);
}

/* ---- map activation ---------------------------------------------------- */

/* After REPLACED: bind rules to inputs and restart output candidates; the
 * barrier has reset every input slot, so "seen since apply" restarts too. */
static void on_map_replaced(tp_join_agent_t *a)
{
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    for (uint32_t i = 0; i < a->ninputs; i++) {
        a->inputs[i].needs_slot_ts = 0;
        a->inputs[i].has_seq = 0;
        a->inputs[i].fired = 0;
    }
    a->stats.unbound_rules = 0;
    for (uint32_t r = 0; r < m->rule_count; r++) {
        const tp_merge_rule_t *rule = &m->rules[r];
        a->rule_input[r] = input_find(a, rule->input_stream_id);
        if (a->rule_input[r] == NO_INPUT) a->stats.unbound_rules++; /* visible, not silent */
        if (m->kind == TP_MERGE_KIND_TIMESTAMP && rule->timestamp_source == TP_TS_SOURCE_SLOT_HEADER &&
            a->rule_input[r] != NO_INPUT)
            a->inputs[a->rule_input[r]].needs_slot_ts = 1;
    }
    /* Below the floor a rule is NOT_YET forever (JB-6.2.1.c, JB-6.2.2.c):
     * never start there, or the stage would wait for nothing. */
    a->out_floor = 0;
    if (m->kind == TP_MERGE_KIND_SEQUENCE) {
        for (uint32_t r = 0; r < m->rule_count; r++) {
            const tp_merge_rule_t *rule = &m->rules[r];
            const uint64_t min_out = rule->rule_type == TP_MERGE_RULE_OFFSET
                                         ? (rule->offset < 0 ? (uint64_t)(-rule->offset) : 0)
                                         : rule->window - 1;
            if (min_out > a->out_floor) a->out_floor = min_out;
        }
    }
    a->next_out_seq = a->cfg.first_out_seq;
    if (a->next_out_seq != TP_JOIN_OUT_AUTO && a->next_out_seq < a->out_floor) a->next_out_seq = a->out_floor;
    a->tq_head = a->tq_len = 0;
    a->trigger_input = NO_INPUT;
    if (m->kind == TP_MERGE_KIND_TIMESTAMP) {
        const uint32_t want = a->cfg.trigger_stream_id != 0 ? a->cfg.trigger_stream_id : m->rules[0].input_stream_id;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            if (m->rules[r].input_stream_id == want) {
                a->trigger_input = a->rule_input[r];
                a->trigger_source = m->rules[r].timestamp_source;
                break;
            }
        }
    }
    a->cur_request_interval = a->cfg.request_interval_ns;
}

static void apply_announce(tp_join_agent_t *a, const uint8_t *buf, size_t len)
{
    tp_merge_map_t *m = &a->scratch;
    const tp_merge_decode_t d = tp_merge_announce_decode(m, buf, len);
    if (d == TP_MERGE_DECODE_CAPACITY) {
        /* More rules than we can hold: for our stream that is an invalid map
         * (spec §3.2 V1, scenario 51); zero rules makes apply say INVALID. */
        m->rule_count = 0;
    } else if (d != TP_MERGE_DECODE_OK) {
        a->stats.malformed++;
        return;
    }
    const int r = tp_join_barrier_apply(a->barrier, m, (uint64_t)a->now);
    switch (r) {
    case TP_JOIN_APPLY_REPLACED:
        a->stats.announces_applied++;
        on_map_replaced(a);
        break;
    case TP_JOIN_APPLY_REFRESHED: a->stats.announces_refreshed++; break;
    case TP_JOIN_APPLY_INVALID:
        a->stats.announces_invalid++;
        a->next_request = a->now; /* blocked again: ask at once (JB-6.2.f) */
        break;
    default: a->stats.announces_ignored++; break;
    }
}

static void send_request(tp_join_agent_t *a)
{
    uint64_t epoch;
    if (!tp_join_barrier_expected_epoch(a->barrier, &epoch)) return;
    tp_merge_request_t req;
    req.out_stream_id = a->cfg.barrier.out_stream_id;
    req.epoch = epoch;
    switch (a->cfg.barrier.mode) {
    case TP_JOIN_MODE_TIMESTAMP: req.kind = TP_MERGE_KIND_TIMESTAMP; break;
    case TP_JOIN_MODE_LATEST_VALUE:
        req.kind = a->cfg.barrier.latest_ordering == TP_JOIN_ORDER_TIMESTAMP ? TP_MERGE_KIND_TIMESTAMP
                                                                             : TP_MERGE_KIND_SEQUENCE;
        break;
    default: req.kind = TP_MERGE_KIND_SEQUENCE; break;
    }
    uint8_t buf[32];
    const long n = tp_merge_request_encode(&req, buf, sizeof buf);
    if (n > 0 && tp_ipc_publication_offer(a->control_pub, buf, (size_t)n) > 0) {
        a->stats.requests_sent++;
        a->work++;
    }
}

/* ---- data plane -------------------------------------------------------- */

/* Map an input's regions (all or nothing, W-15.22.g) through the
 * containment rules of the allowed base dir. */
static int open_reader(tp_join_agent_t *a, input_t *in, tp_shm_reader_config_t *rc)
{
    if (!a->bases_ok) { /* the dir may not exist when the agent is created */
        const char *dirs[1] = {a->cfg.shm_base_dir};
        if (tp_shm_bases_init(&a->bases, dirs, 1) != 0) {
            a->stats.map_failures++;
            return -1;
        }
        a->bases_ok = 1;
    }
    rc->now_ns = (uint64_t)a->now;
    rc->activity_window_ns = a->cfg.activity_window_ns;
    input_unmap(a, in, 0);
    if (tp_shm_reader_open(&in->reader, &a->bases, rc) != 0) {
        a->stats.map_failures++;
        return -1;
    }
    tp_superblock_t sb;
    tp_superblock_read(in->reader.ring.base, &sb);
    in->mapped = 1;
    in->mapped_epoch = rc->epoch;
    in->mapped_pid = sb.pid;
    a->stats.mappings++;
    return 0;
}

/* ---- driver leases (attach_via_driver) ---- */

static int lease_attached(void *clientd, const tp_lease_t *l)
{
    input_t *in = clientd;
    tp_join_agent_t *a = in->agent;
    a->stats.leases++;
    if (in->has_epoch && l->epoch < in->epoch) return 0; /* frames already newer: wait for the announce */
    tp_shm_reader_config_t rc;
    memset(&rc, 0, sizeof rc);
    rc.stream_id = in->stream_id;
    rc.epoch = l->epoch;
    rc.layout_version = l->layout_version;
    rc.nslots = l->header_nslots;
    rc.ring_uri = l->ring_uri;
    rc.ring_uri_len = strlen(l->ring_uri);
    rc.npools = l->npools;
    for (unsigned i = 0; i < l->npools && i < TP_SHM_MAX_POOLS; i++) {
        rc.pools[i].pool_id = l->pool_id[i];
        rc.pools[i].stride_bytes = l->stride_bytes[i];
        rc.pools[i].uri = l->pool_uri[i];
        rc.pools[i].uri_len = strlen(l->pool_uri[i]);
    }
    /* A region that does not map is a protocol error for the driver client
     * (it detaches and retries); the barrier keeps gating on descriptors. */
    return open_reader(a, in, &rc);
}

static void lease_lost(void *clientd, const char *why)
{
    (void)why;
    input_t *in = clientd;
    in->agent->stats.leases_lost++;
    input_unmap(in->agent, in, 1); /* stop touching its regions now (D-4.7.b) */
}

static void on_pool_announce(tp_join_agent_t *a, const uint8_t *buf, size_t len)
{
    tp_control_shm_pool_announce_dec_t d;
    if (tp_control_shm_pool_announce_decode(&d, buf, len) != 0) {
        a->stats.malformed++;
        return;
    }
    const uint32_t idx = input_find(a, tp_control_shm_pool_announce_stream_id(&d));
    if (idx == NO_INPUT || a->cfg.shm_base_dir == NULL) return;
    input_t *in = &a->inputs[idx];
    const uint64_t epoch = tp_control_shm_pool_announce_epoch(&d);
    if (in->has_epoch && epoch < in->epoch) return; /* an older epoch's pools */
    if (in->mapped && in->mapped_epoch >= epoch) return; /* soft-state repeat */
    /* With leases, only an input we are attached to may be mapped (D-2.3.a). */
    if (in->dc != NULL && tp_driver_client_state(in->dc) != TP_DC_ATTACHED) return;
    tp_shm_reader_config_t rc;
    memset(&rc, 0, sizeof rc);
    rc.stream_id = in->stream_id;
    rc.epoch = epoch;
    rc.layout_version = tp_control_shm_pool_announce_layout_version(&d);
    rc.nslots = tp_control_shm_pool_announce_header_nslots(&d);
    tp_control_shm_pool_announce_payload_pools_iter_t it;
    tp_control_shm_pool_announce_payload_pools_iter(&d, &it);
    int more;
    while ((more = tp_control_shm_pool_announce_payload_pools_next(&it)) == 1) {
        if (rc.npools == TP_SHM_MAX_POOLS) {
            a->stats.map_failures++;
            return;
        }
        tp_shm_reader_pool_t *p = &rc.pools[rc.npools++];
        uint32_t ul = 0;
        p->pool_id = tp_control_shm_pool_announce_payload_pools_pool_id(&it);
        p->stride_bytes = tp_control_shm_pool_announce_payload_pools_stride_bytes(&it);
        p->uri = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &ul);
        p->uri_len = ul;
    }
    if (more < 0) {
        a->stats.malformed++;
        return;
    }
    uint32_t hl = 0;
    rc.ring_uri = tp_control_shm_pool_announce_header_region_uri(&d, &hl);
    rc.ring_uri_len = hl;
    (void)open_reader(a, in, &rc);
}

static void on_lease_revoked(tp_join_agent_t *a, const uint8_t *buf, size_t len)
{
    tp_driver_shm_lease_revoked_dec_t d;
    if (tp_driver_shm_lease_revoked_decode(&d, buf, len) != 0) {
        a->stats.malformed++;
        return;
    }
    /* Discard notices with unknown role or reason (D-4.9.j); only a
     * producer's lease concerns an input (D-4.9.h). */
    if (!tp_driver_role_is_valid(tp_driver_shm_lease_revoked_role(&d)) ||
        !tp_driver_lease_revoke_reason_is_valid(tp_driver_shm_lease_revoked_reason(&d))) {
        a->stats.malformed++;
        return;
    }
    if (tp_driver_shm_lease_revoked_role(&d) != TP_DRIVER_ROLE_PRODUCER) return;
    const uint32_t idx = input_find(a, tp_driver_shm_lease_revoked_stream_id(&d));
    if (idx != NO_INPUT) input_unmap(a, &a->inputs[idx], 1);
}

static void on_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_join_agent_t *a = clientd;
    a->work++;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0) { /* shorter than a header */
        a->stats.malformed++;
        return;
    }
    /* Schema id before any decode (JB-14.1). */
    if (h.schema_id == TP_MERGE_MAP_SCHEMA_ID) {
        const int t = tp_merge_msg_classify(buf, len);
        if (t == TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE || t == TP_MERGE_TEMPLATE_TIMESTAMP_ANNOUNCE)
            apply_announce(a, buf, len);
        else if ((t == TP_MERGE_TEMPLATE_SEQUENCE_REQUEST || t == TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST) &&
                 a->cfg.authority != NULL)
            (void)tp_merge_authority_on_message(a->cfg.authority, buf, len);
    } else if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID) {
        on_pool_announce(a, buf, len);
    } else if (h.schema_id == TP_DRIVER_SCHEMA_ID && h.template_id == TP_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID) {
        on_lease_revoked(a, buf, len);
    }
}

/* Read a slot's header timestamp once (JB-8.2.c; drop on failure). */
static int read_slot_ts(tp_join_agent_t *a, input_t *in, uint64_t seq, uint64_t *ts)
{
    if (!in->mapped) return 0;
    tp_shm_view_t v;
    if (tp_shm_reader_begin(&in->reader, seq, &v) != TP_SHM_READ_OK) {
        a->stats.frames_dropped++;
        return 0;
    }
    const uint64_t t = v.header.timestamp_ns;
    if (tp_shm_reader_end(&in->reader, &v) != TP_SHM_READ_OK) {
        a->stats.frames_dropped++;
        return 0;
    }
    *ts = t;
    return 1;
}

static void tq_push(tp_join_agent_t *a, uint64_t t)
{
    if (t == UINT64_MAX) return;
    if (a->tq_len > 0 && t < a->tq[(a->tq_head + a->tq_len - 1) & a->tq_mask]) return; /* keep out_time monotonic */
    if (a->tq_len == a->tq_mask + 1) { /* full: the oldest candidate gives way */
        a->tq_head = (a->tq_head + 1) & a->tq_mask;
        a->tq_len--;
    }
    a->tq[(a->tq_head + a->tq_len) & a->tq_mask] = t;
    a->tq_len++;
}

static void on_descriptor(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_join_agent_t *a = clientd;
    a->work++;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0) {
        a->stats.malformed++;
        return;
    }
    if (h.schema_id != TP_CONTROL_SCHEMA_ID || h.template_id != TP_CONTROL_FRAME_DESCRIPTOR_TEMPLATE_ID) return;
    tp_control_frame_descriptor_dec_t d;
    if (tp_control_frame_descriptor_decode(&d, buf, len) != 0) {
        a->stats.malformed++;
        return;
    }
    const uint32_t idx = input_find(a, tp_control_frame_descriptor_stream_id(&d));
    if (idx == NO_INPUT) return;
    input_t *in = &a->inputs[idx];
    const uint64_t epoch = tp_control_frame_descriptor_epoch(&d);
    const uint64_t seq = tp_control_frame_descriptor_seq(&d);
    const uint64_t fd_ts = tp_control_frame_descriptor_timestamp_ns(&d);
    a->stats.descriptors++;
    if (in->has_epoch && epoch < in->epoch) return; /* never mix epochs (JB-9.1.f) */
    if (!in->has_epoch || epoch > in->epoch) {
        if (in->has_epoch) {
            /* The input restarted: its old frames and pools are gone. The
             * barrier resets its slot on the newer epoch (§3.7). */
            a->stats.input_epoch_changes++;
            hist_clear(a, in);
            in->has_seq = 0;
            in->fired = 0;
            if (in->mapped && in->mapped_epoch < epoch) input_unmap(a, in, 1);
        }
        in->has_epoch = 1;
        in->epoch = epoch;
        if (a->cfg.epoch_follow_stream_id == in->stream_id) {
            uint64_t cur;
            if (!tp_join_barrier_expected_epoch(a->barrier, &cur) || epoch > cur) {
                tp_join_barrier_set_active_epoch(a->barrier, epoch); /* blocked until its map (JB-6.4.c) */
                a->next_request = a->now;
                a->cur_request_interval = a->cfg.request_interval_ns;
            }
        }
    }
    const int u = tp_join_barrier_observe_descriptor(a->barrier, in->stream_id, epoch, seq, fd_ts, (uint64_t)a->now);
    if (u == TP_JOIN_UPDATE_REGRESSION || u == TP_JOIN_UPDATE_STALE_EPOCH) return;
    hist_entry_t *e = &in->hist[seq & a->hist_mask];
    e->seq = seq;
    e->fd_ts = fd_ts;
    e->slot_ts = UINT64_MAX;
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    if (in->needs_slot_ts && m != NULL) {
        uint64_t ts;
        if (read_slot_ts(a, in, seq, &ts)) {
            e->slot_ts = ts;
            tp_join_barrier_observe_time_in_epoch(a->barrier, in->stream_id, epoch, TP_TS_SOURCE_SLOT_HEADER, ts,
                                                  (tp_clock_domain_t)m->clock_domain, (uint64_t)a->now);
        }
    }
    if (!in->has_seq || seq > in->last_seq) in->last_seq = seq;
    in->has_seq = 1;
    if (a->cfg.barrier.mode == TP_JOIN_MODE_TIMESTAMP && idx == a->trigger_input)
        tq_push(a, a->trigger_source == TP_TS_SOURCE_SLOT_HEADER ? e->slot_ts : fd_ts);
}

static void check_liveness(tp_join_agent_t *a)
{
    for (uint32_t i = 0; i < a->ninputs; i++) {
        input_t *in = &a->inputs[i];
        /* Producer gone (W-15.14.a pid, activity freshness): release the
         * mapping. Cursors stay, so the barrier reports it stale (JB-7.4). */
        if (in->mapped &&
            !tp_shm_reader_live(&in->reader, in->mapped_pid, (uint64_t)a->now, a->cfg.activity_window_ns))
            input_unmap(a, in, 1);
    }
}

/* ---- outputs ----------------------------------------------------------- */

static int id_listed(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

static uint64_t hist_ts(const hist_entry_t *e, uint8_t source)
{
    return source == TP_TS_SOURCE_SLOT_HEADER ? e->slot_ts : e->fd_ts;
}

static void frame_add(tp_join_agent_t *a, input_t *in, tp_join_input_t *ji, tp_join_frame_t *slots, uint64_t seq)
{
    tp_join_frame_t *f = &slots[ji->frame_count];
    f->seq = seq;
    const hist_entry_t *e = in != NULL ? &in->hist[seq & a->hist_mask] : NULL;
    f->timestamp_ns = (e != NULL && e->seq == seq) ? e->fd_ts : UINT64_MAX;
    f->has_view = 0;
    f->reader_ = NULL;
    if (in != NULL && in->mapped) {
        if (tp_shm_reader_begin(&in->reader, seq, &f->view) == TP_SHM_READ_OK) { /* single attempt (JB-7.2.c) */
            f->has_view = 1;
            f->reader_ = &in->reader;
            a->stats.frames_read++;
        } else {
            ji->dropped++;
            a->stats.frames_dropped++;
            return; /* a dropped frame is not delivered (JB-6.2.2.d) */
        }
    }
    ji->frame_count++;
}

/* Frames of sequence range [first, last], newest max_frames of them. */
static void select_seq_range(tp_join_agent_t *a, input_t *in, tp_join_input_t *ji, tp_join_frame_t *slots,
                             uint64_t first, uint64_t last)
{
    ji->first_seq = first;
    ji->last_seq = last;
    if (last - first >= a->max_frames) first = last - a->max_frames + 1;
    for (uint64_t s = first;; s++) {
        frame_add(a, in, ji, slots, s);
        if (s == last) break;
    }
}

/* Timestamp rules: frames whose time (rule's source) lies in [lo, hi],
 * newest max_frames, or only the newest one when `newest_only`. */
static void select_time_range(tp_join_agent_t *a, input_t *in, tp_join_input_t *ji, tp_join_frame_t *slots,
                              uint8_t source, uint64_t lo, uint64_t hi, int newest_only)
{
    if (in == NULL || !in->has_seq) return;
    uint64_t found[64];
    uint32_t nf = 0;
    const uint32_t want = newest_only ? 1 : (a->max_frames < 64 ? a->max_frames : 64);
    uint64_t s = in->last_seq;
    for (uint32_t k = 0; k <= a->hist_mask && nf < want; k++, s--) {
        const hist_entry_t *e = &in->hist[s & a->hist_mask];
        if (e->seq != s) break; /* history ends (gap or wrapped) */
        const uint64_t t = hist_ts(e, source);
        if (t != UINT64_MAX && t <= hi) {
            if (t < lo) break;
            found[nf++] = s;
        }
        if (s == 0) break;
    }
    if (nf == 0) return;
    ji->first_seq = found[nf - 1];
    ji->last_seq = found[0];
    for (uint32_t k = nf; k-- > 0;) frame_add(a, in, ji, slots, found[k]);
}

/* Close every read begun for the current output (drop accounting). */
static void release_frames(tp_join_agent_t *a, const tp_merge_map_t *m)
{
    for (uint32_t r = 0; r < m->rule_count; r++) {
        tp_join_input_t *ji = &a->out_inputs[r];
        input_t *in = a->rule_input[r] != NO_INPUT ? &a->inputs[a->rule_input[r]] : NULL;
        for (uint32_t k = 0; k < ji->frame_count; k++) {
            tp_join_frame_t *f = &a->frames[(size_t)r * a->max_frames + k];
            if (f->has_view && in != NULL && in->mapped) (void)tp_shm_reader_end(&in->reader, &f->view);
        }
    }
}

/* Select and read the frames of one output, then call the stage. Returns 1
 * when the stage was called; 0 when a LatestValue input's selected frame
 * failed its read: that input is absent, so the join is not ready this tick
 * and is retried on its next observation (JB-9.1.d/e). */
static int deliver(tp_join_agent_t *a, uint64_t out_seq, uint64_t out_time)
{
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    const tp_join_result_t *res = tp_join_barrier_result(a->barrier);
    const tp_join_mode_t mode = a->cfg.barrier.mode;
    int any_stale = 0;
    for (uint32_t r = 0; r < m->rule_count; r++) {
        const tp_merge_rule_t *rule = &m->rules[r];
        tp_join_input_t *ji = &a->out_inputs[r];
        tp_join_frame_t *slots = &a->frames[(size_t)r * a->max_frames];
        input_t *in = a->rule_input[r] != NO_INPUT ? &a->inputs[a->rule_input[r]] : NULL;
        memset(ji, 0, sizeof *ji);
        ji->stream_id = rule->input_stream_id;
        ji->frames = slots;
        ji->epoch = in != NULL && in->has_epoch ? in->epoch : 0;
        if (id_listed(res->stale, res->stale_count, ji->stream_id)) {
            ji->status = TP_JOIN_INPUT_STALE;
            any_stale = 1;
        } else if (id_listed(res->missing, res->missing_count, ji->stream_id)) {
            ji->status = TP_JOIN_INPUT_ABSENT;
        }
        if (mode == TP_JOIN_MODE_LATEST_VALUE) {
            /* Stale latest values stay usable (JB-9.3.a); invalid ones are not. */
            if (a->latest[r].valid && a->latest[r].seq != UINT64_MAX)
                select_seq_range(a, in, ji, slots, a->latest[r].seq, a->latest[r].seq);
            continue;
        }
        if (ji->status != TP_JOIN_INPUT_READY) continue; /* absent this tick */
        if (mode == TP_JOIN_MODE_SEQUENCE) {
            if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
                const uint64_t s = out_seq + (uint64_t)rule->offset; /* readiness proved it in range */
                select_seq_range(a, in, ji, slots, s, s);
            } else {
                select_seq_range(a, in, ji, slots, out_seq - (rule->window - 1), out_seq);
            }
        } else {
            if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
                const uint64_t t = out_time + (uint64_t)rule->offset; /* newest frame at or before it */
                select_time_range(a, in, ji, slots, rule->timestamp_source, 0, t, 1);
            } else {
                select_time_range(a, in, ji, slots, rule->timestamp_source, out_time - rule->window, out_time, 0);
            }
        }
    }
    if (mode == TP_JOIN_MODE_LATEST_VALUE) {
        int failed = 0;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            if (a->out_inputs[r].dropped == 0) continue;
            failed = 1;
            tp_join_barrier_invalidate_latest(a->barrier, a->out_inputs[r].stream_id);
        }
        if (failed) {
            release_frames(a, m);
            return 0;
        }
    }
    tp_join_output_t out;
    out.out_stream_id = a->cfg.barrier.out_stream_id;
    out.epoch = m->epoch;
    out.mode = mode;
    out.out_seq = out_seq;
    out.out_time = out_time;
    out.now_ns = a->now;
    out.input_count = m->rule_count;
    out.inputs = a->out_inputs;
    out.result = res;
    a->cfg.on_output(a->cfg.clientd, &out);
    a->stats.outputs++;
    if (any_stale) a->stats.outputs_with_stale++;
    if (a->held_back) a->stats.outputs_waited++;
    a->held_back = 0;
    a->work++;
    release_frames(a, m);
    /* Record consumption (JB-4.2). */
    for (uint32_t r = 0; r < m->rule_count; r++) {
        tp_join_input_t *ji = &a->out_inputs[r];
        input_t *in = a->rule_input[r] != NO_INPUT ? &a->inputs[a->rule_input[r]] : NULL;
        if (a->cfg.barrier.use_processed && ji->frame_count > 0 && in != NULL) {
            const tp_join_frame_t *f = &a->frames[(size_t)r * a->max_frames + ji->frame_count - 1];
            tp_join_barrier_process_seq_in_epoch(a->barrier, ji->stream_id, ji->epoch, f->seq);
            if (m->kind == TP_MERGE_KIND_TIMESTAMP) {
                const hist_entry_t *e = &in->hist[f->seq & a->hist_mask];
                const uint64_t t = e->seq == f->seq ? hist_ts(e, m->rules[r].timestamp_source) : UINT64_MAX;
                if (t != UINT64_MAX)
                    tp_join_barrier_process_time_in_epoch(a->barrier, ji->stream_id, ji->epoch,
                                                          (tp_timestamp_source_t)m->rules[r].timestamp_source, t,
                                                          (tp_clock_domain_t)m->clock_domain);
            }
        }
    }
    return 1;
}

/* SEQUENCE with TP_JOIN_OUT_AUTO: start at the newest output every input can
 * still reach, but never below the first output the rules allow
 * (JB-6.2.1.c, JB-6.2.2.c), which would otherwise block forever. */
static int derive_first_out(tp_join_agent_t *a, const tp_merge_map_t *m)
{
    uint64_t start = UINT64_MAX;
    for (uint32_t r = 0; r < m->rule_count; r++) {
        const tp_merge_rule_t *rule = &m->rules[r];
        const uint32_t idx = a->rule_input[r];
        if (idx == NO_INPUT || !a->inputs[idx].has_seq) return 0;
        const uint64_t last = a->inputs[idx].last_seq;
        uint64_t cand;
        if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
            const int64_t k = rule->offset;
            cand = k >= 0 ? (last >= (uint64_t)k ? last - (uint64_t)k : 0) : last + (uint64_t)(-k);
        } else {
            cand = last;
        }
        if (cand < start) start = cand;
    }
    a->next_out_seq = start > a->out_floor ? start : a->out_floor;
    return 1;
}

/* The pending output is held back by a missing input while another input is
 * already there: it counts once in outputs_waited when it is delivered. */
static void note_not_ready(tp_join_agent_t *a)
{
    if (tp_join_barrier_result(a->barrier)->satisfied_count > 0) a->held_back = 1;
}

static void evaluate(tp_join_agent_t *a)
{
    const tp_merge_map_t *m = tp_join_barrier_active_map(a->barrier);
    if (m == NULL) return;
    const uint64_t now = (uint64_t)a->now;
    switch (a->cfg.barrier.mode) {
    case TP_JOIN_MODE_SEQUENCE:
        if (a->next_out_seq == TP_JOIN_OUT_AUTO && !derive_first_out(a, m)) return;
        for (uint32_t n = 0; n < a->cfg.max_outputs_per_cycle; n++) {
            if (tp_join_barrier_ready_seq(a->barrier, a->next_out_seq, now) != 1) {
                note_not_ready(a);
                break;
            }
            (void)deliver(a, a->next_out_seq, UINT64_MAX);
            a->next_out_seq++;
        }
        break;
    case TP_JOIN_MODE_TIMESTAMP:
        for (uint32_t n = 0; n < a->cfg.max_outputs_per_cycle && a->tq_len > 0; n++) {
            const uint64_t t = a->tq[a->tq_head];
            const int r = tp_join_barrier_ready_time(a->barrier, t, (tp_clock_domain_t)m->clock_domain, now);
            if (r == 1) (void)deliver(a, a->out_count, t);
            if (r != 1 && !tp_join_barrier_result(a->barrier)->output_rejected) {
                note_not_ready(a);
                break;
            }
            if (r != 1) a->held_back = 0; /* rejected candidate: its wait does not carry over */
            a->tq_head = (a->tq_head + 1) & a->tq_mask;
            a->tq_len--;
            if (r == 1) a->out_count++;
        }
        break;
    case TP_JOIN_MODE_LATEST_VALUE: {
        if (tp_join_barrier_ready_latest(a->barrier, now) != 1) return;
        if (tp_join_barrier_collect_latest(a->barrier, a->latest, a->capacity) < 0) return;
        /* Fire once per new value: only when some input moved (project rule). */
        int moved = 0;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            const uint32_t idx = a->rule_input[r];
            if (idx == NO_INPUT || !a->latest[r].valid) continue;
            if (!a->inputs[idx].fired || a->inputs[idx].fired_seq != a->latest[r].seq) moved = 1;
        }
        if (!moved) return;
        if (!deliver(a, a->out_count, UINT64_MAX)) return; /* an input went absent: later tick */
        a->out_count++;
        for (uint32_t r = 0; r < m->rule_count; r++) {
            const uint32_t idx = a->rule_input[r];
            if (idx == NO_INPUT || !a->latest[r].valid) continue;
            a->inputs[idx].fired = 1;
            a->inputs[idx].fired_seq = a->latest[r].seq;
        }
        break;
    }
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
    if (tp_ipc_subscription_poll(a->control, on_control, a, a->cfg.poll_limit) < 0) return -1;
    for (uint32_t d = 0; d < a->ndesc; d++)
        if (tp_ipc_subscription_poll(a->desc[d].sub, on_descriptor, a, a->cfg.poll_limit) < 0) return -1;
    a->stats.control_loss = tp_ipc_subscription_loss_count(a->control);
    for (uint32_t i = 0; i < a->ninputs; i++) /* leases: attach, keepalive, loss */
        if (a->inputs[i].dc != NULL && tp_driver_client_do_work(a->inputs[i].dc, now) > 0) a->work++;
    /* Late join (§3.10): blocked with an expected epoch -> request, back off. */
    if (!tp_join_barrier_has_map(a->barrier) && now >= a->next_request) {
        send_request(a);
        a->next_request = now + a->cur_request_interval;
        a->cur_request_interval *= 2;
        if (a->cur_request_interval > a->cfg.request_backoff_max_ns)
            a->cur_request_interval = a->cfg.request_backoff_max_ns;
    }
    if (now >= a->next_liveness) {
        check_liveness(a);
        a->next_liveness = now + LIVENESS_INTERVAL_NS;
    }
    evaluate(a);
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
    if (tp_join_barrier_set_active_epoch(a->barrier, epoch) != 0) return -1;
    a->next_request = a->now;
    a->cur_request_interval = a->cfg.request_interval_ns;
    return 0;
}

int tp_join_frame_still_valid(const tp_join_frame_t *f)
{
    if (f == NULL || !f->has_view) return 0;
    /* The seqlock re-check of §3.6 steps 8-9 without drop accounting (the
     * agent counts when it closes the read after the callback). */
    return tp_seqlock_read_end(f->view.slot) == f->view.seq_commit;
}

const tp_join_barrier_t *tp_join_agent_barrier(const tp_join_agent_t *a) { return a != NULL ? a->barrier : NULL; }

void tp_join_agent_stats(const tp_join_agent_t *a, tp_join_agent_stats_t *out)
{
    if (a == NULL || out == NULL) return;
    *out = a->stats;
}
