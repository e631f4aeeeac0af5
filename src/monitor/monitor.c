/* Monitor: passive view of a running directory (see monitor.h). */
#include "tensorpool/monitor.h"

#include "../util/utf8.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/codec/sbe.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/merge_map.h"
#include "tensorpool/merge_map_codec.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_path.h"
#include "tensorpool/shm_uri.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MON_SUBS 5

struct tp_monitor_s {
    tp_monitor_config_t cfg;
    tp_ipc_context_t ipc;
    tp_ipc_subscription_t *sub[MON_SUBS];
    int32_t sub_stream[MON_SUBS];
    unsigned nsubs;
    int64_t now;
    int64_t last_refresh;
    tp_shm_bases_t bases;
    int bases_ok;
    tp_merge_map_t scratch; /* decode target for announces */
    uint32_t nstreams, nclients, njoins;
    tp_monitor_stream_t streams[TP_MONITOR_MAX_STREAMS];
    tp_monitor_client_t clients[TP_MONITOR_MAX_CLIENTS];
    tp_monitor_join_t joins[TP_MONITOR_MAX_JOINS];
    /* when each stream / join was last heard of: a full table gives up the
     * longest-silent entry (as for clients), so entries forged once with
     * made-up ids cannot keep real ones out of the picture for good */
    int64_t stream_heard[TP_MONITOR_MAX_STREAMS];
    int64_t join_heard[TP_MONITOR_MAX_JOINS];
    tp_monitor_stats_t stats;
    uint32_t own_uid; /* messages count only from logs this uid owns (docs/threat-model.md) */
};

void tp_monitor_config_init(tp_monitor_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    tp_client_context_init(&cfg->ctx);
    cfg->live_window_ns = 3000000000LL;
}

static int add_sub(tp_monitor_t *m, int32_t stream)
{
    if (stream == 0) return 0;
    for (unsigned i = 0; i < m->nsubs; i++)
        if (m->sub_stream[i] == stream) return 0; /* announce stream may be the control stream */
    if (tp_ipc_subscription_open(&m->sub[m->nsubs], &m->ipc, m->cfg.ctx.channel, stream) != 0) return -1;
    m->sub_stream[m->nsubs++] = stream;
    return 0;
}

int tp_monitor_open(tp_monitor_t **out, const tp_monitor_config_t *cfg)
{
    *out = NULL;
    tp_monitor_t *m = calloc(1, sizeof *m);
    if (m == NULL) return tp_err_set(TP_ERR_CAPACITY, "monitor: out of memory");
    m->cfg = *cfg;
    m->own_uid = (uint32_t)geteuid();
    if (m->cfg.live_window_ns <= 0) m->cfg.live_window_ns = 3000000000LL;
    tp_ipc_context_init(&m->ipc);
    m->ipc.base_dir = m->cfg.ctx.base_dir;
    m->ipc.namespace_name = m->cfg.ctx.ns;
    if (tp_merge_map_init(&m->scratch, TP_MERGE_KIND_SEQUENCE, TP_MONITOR_MAX_RULES) != 0) {
        free(m);
        return -1;
    }
    const tp_client_context_t *c = &m->cfg.ctx;
    if (add_sub(m, c->control_stream_id) != 0 || add_sub(m, c->announce_stream_id) != 0 ||
        add_sub(m, c->descriptor_stream_id) != 0 || add_sub(m, c->qos_stream_id) != 0 ||
        add_sub(m, c->metadata_stream_id) != 0) {
        tp_monitor_close(m);
        return tp_err_wrap("monitor");
    }
    const char *dirs[1] = {c->base_dir};
    m->bases_ok = tp_shm_bases_init(&m->bases, dirs, 1) == 0; /* retried at refresh */
    *out = m;
    return 0;
}

void tp_monitor_close(tp_monitor_t *m)
{
    if (m == NULL) return;
    for (unsigned i = 0; i < m->nsubs; i++) tp_ipc_subscription_close(m->sub[i]);
    tp_merge_map_close(&m->scratch);
    free(m);
}

/* ---- tables ------------------------------------------------------------ */

static tp_monitor_stream_t *stream_get(tp_monitor_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->nstreams; i++) {
        if (m->streams[i].stream_id == id) {
            m->stream_heard[i] = m->now;
            return &m->streams[i];
        }
    }
    if (m->nstreams == TP_MONITOR_MAX_STREAMS) {
        uint32_t old = 0;
        for (uint32_t i = 1; i < m->nstreams; i++)
            if (m->stream_heard[i] < m->stream_heard[old]) old = i;
        m->nstreams--;
        memmove(&m->streams[old], &m->streams[old + 1], (m->nstreams - old) * sizeof m->streams[0]);
        memmove(&m->stream_heard[old], &m->stream_heard[old + 1], (m->nstreams - old) * sizeof m->stream_heard[0]);
    }
    /* keep the table sorted by id so output is stable */
    uint32_t at = m->nstreams;
    while (at > 0 && m->streams[at - 1].stream_id > id) at--;
    memmove(&m->streams[at + 1], &m->streams[at], (m->nstreams - at) * sizeof m->streams[0]);
    memmove(&m->stream_heard[at + 1], &m->stream_heard[at], (m->nstreams - at) * sizeof m->stream_heard[0]);
    m->stream_heard[at] = m->now;
    m->nstreams++;
    tp_monitor_stream_t *s = &m->streams[at];
    memset(s, 0, sizeof *s);
    s->stream_id = id;
    s->last_seq = UINT64_MAX;
    return s;
}

static tp_monitor_stream_t *stream_find(tp_monitor_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->nstreams; i++)
        if (m->streams[i].stream_id == id) return &m->streams[i];
    return NULL;
}

static tp_monitor_client_t *client_get(tp_monitor_t *m, uint32_t stream, uint32_t client_id, uint8_t role)
{
    for (uint32_t i = 0; i < m->nclients; i++) {
        tp_monitor_client_t *c = &m->clients[i];
        if (c->stream_id == stream && c->client_id == client_id && c->role == role) return c;
    }
    if (m->nclients == TP_MONITOR_MAX_CLIENTS) {
        /* reuse the longest-silent entry */
        uint32_t old = 0;
        for (uint32_t i = 1; i < m->nclients; i++)
            if (m->clients[i].last_seen_ns < m->clients[old].last_seen_ns) old = i;
        m->clients[old] = m->clients[--m->nclients];
    }
    tp_monitor_client_t *c = &m->clients[m->nclients++];
    memset(c, 0, sizeof *c);
    c->stream_id = stream;
    c->client_id = client_id;
    c->role = role;
    return c;
}

static tp_monitor_join_t *join_get(tp_monitor_t *m, uint8_t kind, uint32_t out, uint64_t epoch)
{
    for (uint32_t i = 0; i < m->njoins; i++) {
        tp_monitor_join_t *j = &m->joins[i];
        if (j->kind == kind && j->out_stream_id == out) {
            m->join_heard[i] = m->now;
            if (epoch > j->epoch) { /* a new epoch replaces the old map (the authority stays) */
                const tp_monitor_join_t keep = *j;
                memset(j, 0, sizeof *j);
                j->has_authority = keep.has_authority;
                j->authority_publisher_id = keep.authority_publisher_id;
                j->authority_pid = keep.authority_pid;
                j->refused = keep.refused;
                j->other_pid = keep.other_pid;
                j->other_last_ns = keep.other_last_ns;
                j->contested = keep.contested;
                j->last_announce_ns = keep.last_announce_ns;
                j->kind = kind;
                j->out_stream_id = out;
                j->epoch = epoch;
                j->ready_through = UINT64_MAX;
            }
            return epoch == j->epoch ? j : NULL;
        }
    }
    if (m->njoins == TP_MONITOR_MAX_JOINS) {
        uint32_t old = 0;
        for (uint32_t i = 1; i < m->njoins; i++)
            if (m->join_heard[i] < m->join_heard[old]) old = i;
        m->joins[old] = m->joins[--m->njoins];
        m->join_heard[old] = m->join_heard[m->njoins];
    }
    m->join_heard[m->njoins] = m->now;
    tp_monitor_join_t *j = &m->joins[m->njoins++];
    memset(j, 0, sizeof *j);
    j->kind = kind;
    j->out_stream_id = out;
    j->epoch = epoch;
    j->ready_through = UINT64_MAX;
    return j;
}

/* ---- messages ---------------------------------------------------------- */

/* A name from a message, safe to print on a terminal and as JSON: well-formed
 * UTF-8 is kept ("caméra-1"); control characters (C0, DEL and the C1 range a
 * terminal may obey), ill-formed bytes and a sequence cut by the capacity
 * become '?'. */
static void copy_str(char *dst, size_t cap, const char *src, uint32_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    for (size_t i = 0; src != NULL && i < len && o + 1 < cap;) {
        if (s[i] < 0x80) {
            dst[o++] = s[i] >= 0x20 && s[i] != 0x7f ? (char)s[i] : '?';
            i++;
            continue;
        }
        size_t bad = 0;
        const size_t n = tp_utf8_sequence(s + i, len - i, &bad);
        const int c1 = n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0; /* U+0080..U+009F */
        if (n == 0 || c1 || o + n + 1 > cap) {
            dst[o++] = '?';
            i += n == 0 ? bad : n;
        } else {
            memcpy(dst + o, s + i, n);
            o += n;
            i += n;
        }
    }
    dst[o] = '\0';
}

/* A stream's announces are taken from one publication (the driver's) while
 * it keeps announcing; another one is believed only once that one has been
 * silent for the live window (a restarted driver), so a forged announce
 * cannot move the picture to an epoch that does not exist. */
static void on_pool_announce(tp_monitor_t *m, const uint8_t *buf, size_t len, uint64_t publisher)
{
    tp_control_shm_pool_announce_dec_t d;
    if (tp_control_shm_pool_announce_decode(&d, buf, len) != 0) {
        m->stats.malformed++;
        return;
    }
    tp_monitor_stream_t *s = stream_get(m, tp_control_shm_pool_announce_stream_id(&d));
    if (s == NULL) return;
    if (s->announced && publisher != s->announcer && m->now - s->last_announce_ns <= m->cfg.live_window_ns) {
        s->refused_announces++;
        return;
    }
    const uint64_t epoch = tp_control_shm_pool_announce_epoch(&d);
    if (s->announced && epoch < s->epoch && publisher == s->announcer) return; /* an older epoch's repeat */
    s->announced = 1;
    s->announcer = publisher;
    s->epoch = epoch;
    s->producer_id = tp_control_shm_pool_announce_producer_id(&d);
    s->header_nslots = tp_control_shm_pool_announce_header_nslots(&d);
    s->last_announce_ns = m->now;
    s->pool_count = 0;
    tp_control_shm_pool_announce_payload_pools_iter_t it;
    tp_control_shm_pool_announce_payload_pools_iter(&d, &it);
    s->layout_version = tp_control_shm_pool_announce_layout_version(&d);
    while (tp_control_shm_pool_announce_payload_pools_next(&it) == 1) {
        const uint32_t k = s->pool_count++;
        if (k == 0) s->stride_bytes = tp_control_shm_pool_announce_payload_pools_stride_bytes(&it);
        if (k >= TP_SHM_MAX_POOLS) continue;
        uint32_t pl = 0;
        const char *pu = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &pl);
        s->pool_id[k] = tp_control_shm_pool_announce_payload_pools_pool_id(&it);
        s->pool_stride[k] = tp_control_shm_pool_announce_payload_pools_stride_bytes(&it);
        snprintf(s->pool_uri[k], sizeof s->pool_uri[k], "%.*s", pu != NULL && pl < sizeof s->pool_uri[k] ? (int)pl : 0,
                 pu != NULL ? pu : "");
    }
    uint32_t ul = 0;
    const char *uri = tp_control_shm_pool_announce_header_region_uri(&d, &ul);
    snprintf(s->ring_uri, sizeof s->ring_uri, "%.*s", uri != NULL && ul < sizeof s->ring_uri ? (int)ul : 0,
             uri != NULL ? uri : "");
    tp_shm_uri_t u;
    if (uri != NULL && tp_shm_uri_parse(uri, ul, &u) == 0)
        snprintf(s->ring_path, sizeof s->ring_path, "%s", u.path);
    else
        s->ring_path[0] = '\0';
}

static void on_descriptor(tp_monitor_t *m, const uint8_t *buf, size_t len)
{
    tp_control_frame_descriptor_dec_t d;
    if (tp_control_frame_descriptor_decode(&d, buf, len) != 0) {
        m->stats.malformed++;
        return;
    }
    tp_monitor_stream_t *s = stream_get(m, tp_control_frame_descriptor_stream_id(&d));
    if (s == NULL) return;
    if (s->announced && tp_control_frame_descriptor_epoch(&d) != s->epoch) { /* before its announce, stale, or forged */
        s->desc_other_epoch++;
        return;
    }
    s->frames++;
    s->last_seq = tp_control_frame_descriptor_seq(&d);
    s->last_desc_epoch = tp_control_frame_descriptor_epoch(&d);
    s->last_desc_ns = m->now;
}

static void on_qos_producer(tp_monitor_t *m, const uint8_t *buf, size_t len)
{
    tp_control_qos_producer_dec_t d;
    if (tp_control_qos_producer_decode(&d, buf, len) != 0) {
        m->stats.malformed++;
        return;
    }
    tp_monitor_stream_t *s = stream_get(m, tp_control_qos_producer_stream_id(&d));
    if (s == NULL) return;
    s->has_producer_qos = 1;
    s->producer_seq = tp_control_qos_producer_current_seq(&d);
}

static void on_qos_consumer(tp_monitor_t *m, const uint8_t *buf, size_t len)
{
    tp_control_qos_consumer_dec_t d;
    if (tp_control_qos_consumer_decode(&d, buf, len) != 0) {
        m->stats.malformed++;
        return;
    }
    tp_monitor_client_t *c =
        client_get(m, tp_control_qos_consumer_stream_id(&d), tp_control_qos_consumer_consumer_id(&d), TP_ROLE_CONSUMER);
    c->has_qos = 1;
    c->epoch = tp_control_qos_consumer_epoch(&d);
    c->last_seq_seen = tp_control_qos_consumer_last_seq_seen(&d);
    c->drops_gap = tp_control_qos_consumer_drops_gap(&d);
    c->drops_late = tp_control_qos_consumer_drops_late(&d);
    if (c->last_seen_ns == 0) c->last_seen_ns = m->now;
}

static void on_data_source(tp_monitor_t *m, const uint8_t *buf, size_t len)
{
    tp_control_data_source_announce_dec_t d;
    if (tp_control_data_source_announce_decode(&d, buf, len) != 0) {
        m->stats.malformed++;
        return;
    }
    tp_monitor_stream_t *s = stream_get(m, tp_control_data_source_announce_stream_id(&d));
    if (s == NULL) return;
    uint32_t nl = 0;
    const char *name = tp_control_data_source_announce_name(&d, &nl);
    copy_str(s->name, sizeof s->name, name, nl);
    s->meta_version = tp_control_data_source_announce_meta_version(&d);
}

static void on_keepalive(tp_monitor_t *m, const uint8_t *buf, size_t len, int32_t pid)
{
    tp_driver_shm_lease_keepalive_dec_t d;
    if (tp_driver_shm_lease_keepalive_decode(&d, buf, len) != 0) {
        m->stats.malformed++;
        return;
    }
    tp_monitor_client_t *c = client_get(m, tp_driver_shm_lease_keepalive_stream_id(&d),
                                        tp_driver_shm_lease_keepalive_client_id(&d),
                                        tp_driver_shm_lease_keepalive_role(&d));
    c->lease_id = tp_driver_shm_lease_keepalive_lease_id(&d);
    c->last_seen_ns = m->now;
    c->pid = pid;
    c->revoked = 0;
}

static void on_revoked(tp_monitor_t *m, const uint8_t *buf, size_t len)
{
    tp_driver_shm_lease_revoked_dec_t d;
    if (tp_driver_shm_lease_revoked_decode(&d, buf, len) != 0) {
        m->stats.malformed++;
        return;
    }
    const uint64_t lease = tp_driver_shm_lease_revoked_lease_id(&d);
    for (uint32_t i = 0; i < m->nclients; i++)
        if (m->clients[i].lease_id == lease) m->clients[i].revoked = 1;
}

#define AUTHORITY_SILENCE_NS 5000000000LL

/* Announces for (kind, out) count only from the publication the first one
 * came from, as at the join agents; 0 refuses (counted). */
static int from_authority(tp_monitor_t *m, uint8_t kind, uint32_t out, const tp_ipc_msg_info_t *info)
{
    if (info == NULL) return 1;
    for (uint32_t i = 0; i < m->njoins; i++) {
        tp_monitor_join_t *j = &m->joins[i];
        if (j->kind != kind || j->out_stream_id != out || !j->has_authority) continue;
        if (info->publisher_id == j->authority_publisher_id) return 1;
        const int gone = j->authority_pid > 0 && kill((pid_t)j->authority_pid, 0) != 0 && errno == ESRCH;
        if (gone || m->now - j->last_announce_ns > AUTHORITY_SILENCE_NS) {
            j->has_authority = 0; /* the next announcer is the authority */
            return 1;
        }
        j->refused++;
        j->other_pid = info->publisher_pid;
        j->other_last_ns = m->now;
        j->contested = 1;
        return 0;
    }
    return 1;
}

static void on_merge(tp_monitor_t *m, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    const int t = tp_merge_msg_classify(buf, len);
    if (t == TP_MERGE_TEMPLATE_SEQUENCE_ANNOUNCE || t == TP_MERGE_TEMPLATE_TIMESTAMP_ANNOUNCE) {
        const tp_merge_decode_t r = tp_merge_announce_decode(&m->scratch, buf, len);
        if (r != TP_MERGE_DECODE_OK && r != TP_MERGE_DECODE_CAPACITY) {
            m->stats.malformed++;
            return;
        }
        const tp_merge_map_t *mp = &m->scratch;
        if (!from_authority(m, (uint8_t)mp->kind, mp->out_stream_id, info)) return;
        tp_monitor_join_t *j = join_get(m, (uint8_t)mp->kind, mp->out_stream_id, mp->epoch);
        if (j == NULL) return;
        if (info != NULL && !j->has_authority) {
            j->has_authority = 1;
            j->authority_publisher_id = info->publisher_id;
            j->authority_pid = info->publisher_pid;
        }
        j->announced = 1;
        j->announces++;
        j->last_announce_ns = m->now;
        j->stale_timeout_ns = mp->stale_timeout_ns;
        j->lateness_ns = mp->lateness_ns;
        j->rule_count = mp->rule_count < TP_MONITOR_MAX_RULES ? mp->rule_count : TP_MONITOR_MAX_RULES;
        for (uint32_t i = 0; i < j->rule_count; i++) {
            j->rules[i].stream_id = mp->rules[i].input_stream_id;
            j->rules[i].rule_type = mp->rules[i].rule_type;
            j->rules[i].timestamp_source = mp->rules[i].timestamp_source;
            j->rules[i].offset = mp->rules[i].offset;
            j->rules[i].window = mp->rules[i].window;
        }
    } else if (t == TP_MERGE_TEMPLATE_SEQUENCE_REQUEST || t == TP_MERGE_TEMPLATE_TIMESTAMP_REQUEST) {
        tp_merge_request_t req;
        if (tp_merge_request_decode(&req, buf, len) != TP_MERGE_DECODE_OK) {
            m->stats.malformed++;
            return;
        }
        tp_monitor_join_t *j = join_get(m, (uint8_t)req.kind, req.out_stream_id, req.epoch);
        if (j != NULL) j->requests++;
    } else if (t < 0) {
        m->stats.malformed++;
    }
}

static void on_message(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_monitor_t *m = clientd;
    m->stats.messages++;
    if (info != NULL && info->publisher_uid != m->own_uid) { /* planted by another user: not part of the picture */
        m->stats.refused_foreign++;
        return;
    }
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0) {
        m->stats.malformed++;
        return;
    }
    if (h.schema_id == TP_MERGE_MAP_SCHEMA_ID) {
        on_merge(m, buf, len, info);
    } else if (h.schema_id == TP_CONTROL_SCHEMA_ID) {
        switch (h.template_id) {
        case TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID: on_pool_announce(m, buf, len, info != NULL ? info->publisher_id : 0); break;
        case TP_CONTROL_FRAME_DESCRIPTOR_TEMPLATE_ID: on_descriptor(m, buf, len); break;
        case TP_CONTROL_QOS_PRODUCER_TEMPLATE_ID: on_qos_producer(m, buf, len); break;
        case TP_CONTROL_QOS_CONSUMER_TEMPLATE_ID: on_qos_consumer(m, buf, len); break;
        case TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID: on_data_source(m, buf, len); break;
        default: break;
        }
    } else if (h.schema_id == TP_DRIVER_SCHEMA_ID) {
        switch (h.template_id) {
        case TP_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID: on_keepalive(m, buf, len, info != NULL ? info->publisher_pid : 0); break;
        case TP_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID: on_revoked(m, buf, len); break;
        case TP_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID: m->stats.driver_shutdowns++; break;
        default: break;
        }
    }
}

int tp_monitor_poll(tp_monitor_t *m, int64_t now_ns, int limit)
{
    m->now = now_ns;
    if (m->last_refresh == 0) m->last_refresh = now_ns;
    int total = 0;
    uint64_t lost = 0;
    for (unsigned i = 0; i < m->nsubs; i++) {
        const int n = tp_ipc_subscription_poll(m->sub[i], on_message, m, limit > 0 ? limit : 256);
        if (n < 0) return -1;
        total += n;
        lost += tp_ipc_subscription_loss_count(m->sub[i]);
    }
    m->stats.lost = lost;
    return total;
}

/* ---- refresh ----------------------------------------------------------- */

static void read_superblock(tp_monitor_t *m, tp_monitor_stream_t *s)
{
    s->sb_ok = 0;
    s->sb_error[0] = '\0';
    if (s->ring_path[0] == '\0') {
        snprintf(s->sb_error, sizeof s->sb_error, "no header ring announced");
        return;
    }
    if (!m->bases_ok) {
        const char *dirs[1] = {m->cfg.ctx.base_dir};
        m->bases_ok = tp_shm_bases_init(&m->bases, dirs, 1) == 0;
    }
    tp_shm_file_t f;
    if (!m->bases_ok || tp_shm_path_open(&m->bases, s->ring_path, 0, &f) != 0) {
        snprintf(s->sb_error, sizeof s->sb_error, "%.90s", tp_errmsg());
        return;
    }
    uint8_t raw[TP_SHM_SUPERBLOCK_SIZE];
    const ssize_t n = pread(f.fd, raw, sizeof raw, 0);
    close(f.fd);
    if (n != (ssize_t)sizeof raw) {
        snprintf(s->sb_error, sizeof s->sb_error, "superblock truncated");
        return;
    }
    tp_superblock_t sb;
    tp_superblock_read(raw, &sb);
    if (sb.magic != TP_SHM_MAGIC || sb.stream_id != s->stream_id) {
        snprintf(s->sb_error, sizeof s->sb_error, "superblock magic or stream id mismatch");
        return;
    }
    s->sb_ok = 1;
    s->sb_epoch = sb.epoch;
    s->sb_pid = sb.pid;
    s->sb_pid_alive = sb.pid != 0 && sb.pid <= (uint64_t)INT32_MAX && (kill((pid_t)sb.pid, 0) == 0 || errno == EPERM);
    s->sb_activity_ns = sb.activity_timestamp_ns;
}

static void join_derive(tp_monitor_t *m, tp_monitor_join_t *j)
{
    j->contested = j->refused > 0 && m->now - j->other_last_ns <= AUTHORITY_SILENCE_NS;
    j->silent_count = 0;
    j->ready_through = UINT64_MAX;
    if (!j->announced) {
        j->state = TP_MONITOR_JOIN_WAITING_MAP;
        return;
    }
    int all_seq = 1;
    uint64_t through = UINT64_MAX;
    for (uint32_t r = 0; r < j->rule_count; r++) {
        const tp_monitor_rule_t *rule = &j->rules[r];
        const tp_monitor_stream_t *s = stream_find(m, rule->stream_id);
        const int live = s != NULL && s->frames > 0 && m->now - s->last_desc_ns <= m->cfg.live_window_ns;
        if (!live) j->silent[j->silent_count++] = rule->stream_id;
        if (j->kind != TP_MERGE_KIND_SEQUENCE || s == NULL || s->last_seq == UINT64_MAX) {
            all_seq = 0;
            continue;
        }
        /* in_seq = out_seq + offset (JB-6.2.1.a), so out_seq <= last_seq - offset */
        uint64_t cand;
        if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
            const int64_t k = rule->offset;
            if (k > 0 && s->last_seq < (uint64_t)k) {
                all_seq = 0;
                continue;
            }
            cand = k >= 0 ? s->last_seq - (uint64_t)k : s->last_seq + (uint64_t)(-k);
        } else {
            cand = s->last_seq;
        }
        if (cand < through) through = cand;
    }
    if (all_seq && j->rule_count > 0) j->ready_through = through;
    j->state = j->silent_count == 0 ? TP_MONITOR_JOIN_FLOWING : TP_MONITOR_JOIN_BLOCKED;
}

void tp_monitor_refresh(tp_monitor_t *m, int64_t now_ns)
{
    m->now = now_ns;
    const int64_t dt = now_ns - m->last_refresh;
    for (uint32_t i = 0; i < m->nstreams; i++) {
        tp_monitor_stream_t *s = &m->streams[i];
        s->rate_hz = dt > 0 ? (double)(s->frames - s->frames_at_refresh) * 1e9 / (double)dt : 0.0;
        s->frames_at_refresh = s->frames;
        read_superblock(m, s);
    }
    for (uint32_t i = 0; i < m->njoins; i++) join_derive(m, &m->joins[i]);
    m->last_refresh = now_ns;
}

/* ---- accessors --------------------------------------------------------- */

uint32_t tp_monitor_stream_count(const tp_monitor_t *m) { return m->nstreams; }
const tp_monitor_stream_t *tp_monitor_stream(const tp_monitor_t *m, uint32_t i)
{
    return i < m->nstreams ? &m->streams[i] : NULL;
}
uint32_t tp_monitor_client_count(const tp_monitor_t *m) { return m->nclients; }
const tp_monitor_client_t *tp_monitor_client(const tp_monitor_t *m, uint32_t i)
{
    return i < m->nclients ? &m->clients[i] : NULL;
}
uint32_t tp_monitor_join_count(const tp_monitor_t *m) { return m->njoins; }
const tp_monitor_join_t *tp_monitor_join(const tp_monitor_t *m, uint32_t i)
{
    return i < m->njoins ? &m->joins[i] : NULL;
}
void tp_monitor_stats(const tp_monitor_t *m, tp_monitor_stats_t *out) { *out = m->stats; }

const char *tp_monitor_join_state_name(tp_monitor_join_state_t s)
{
    switch (s) {
    case TP_MONITOR_JOIN_FLOWING: return "flowing";
    case TP_MONITOR_JOIN_BLOCKED: return "blocked";
    case TP_MONITOR_JOIN_WAITING_MAP: return "waiting-map";
    }
    return "unknown";
}
