/* tp view's model: see view_model.h. */
#include "view_model.h"

#include "../stat_json.h"
#include "view_thumb.h"

#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/join_trace.h"
#include "tensorpool/json_writer.h"
#include "tensorpool/merge_map.h"
#include "tensorpool/monitor.h"
#include "tensorpool/shm_path.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STAGES 16
#define MAX_PUBS 256
#define WATCH_LEASE_NS 3000000000LL /* a stage keeps tracing this long after the last declaration */
#define SCAN_PERIOD_NS 1000000000LL

typedef struct stage_s {
    int open;
    char name[128];
    tp_join_trace_reader_t r;
} stage_t;

typedef struct pub_s {
    uint32_t stream_id;
    int32_t pid;
} pub_t;

/* A process mapping a stream's transport logs without owning one: a subscriber. */
typedef struct sub_s {
    uint32_t stream_id;
    int32_t pid;
} sub_t;

#define MAX_SUBS 256

struct view_model_s {
    tp_monitor_t *mon;
    tp_monitor_config_t cfg;
    char dir[PATH_MAX];
    char ns_dir[PATH_MAX];
    char ipc_dir[PATH_MAX];
    tp_shm_bases_t bases;
    int bases_ok;
    int64_t next_refresh;
    int64_t next_scan;
    int was_watched;
    view_thumb_t thumb[TP_MONITOR_MAX_STREAMS];
    stage_t stage[MAX_STAGES];
    pub_t pub[MAX_PUBS];
    uint32_t npub;
    sub_t sub[MAX_SUBS];
    uint32_t nsub;
    tp_join_trace_output_t outs[TP_JOIN_TRACE_ENTRIES];
    char b64[VIEW_THUMB_MAX_W * VIEW_THUMB_MAX_H * 4 + 4]; /* one thumbnail in base64 */
    char *json;
    size_t json_len;
};

int view_model_open(view_model_t **out, const char *dir, const char *ns)
{
    *out = NULL;
    view_model_t *m = calloc(1, sizeof *m);
    if (m == NULL) return tp_err_set(TP_ERR_CAPACITY, "out of memory");
    tp_monitor_config_init(&m->cfg);
    snprintf(m->cfg.ctx.base_dir, sizeof m->cfg.ctx.base_dir, "%s", dir);
    snprintf(m->cfg.ctx.ns, sizeof m->cfg.ctx.ns, "%s", ns);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = dir;
    ipc.namespace_name = ns;
    if (tp_ipc_context_dir(&ipc, m->ipc_dir, sizeof m->ipc_dir) != 0 || tp_monitor_open(&m->mon, &m->cfg) != 0) {
        free(m);
        return -1;
    }
    snprintf(m->ns_dir, sizeof m->ns_dir, "%s", m->ipc_dir);
    char *slash = strrchr(m->ns_dir, '/');
    if (slash != NULL) *slash = '\0';
    const char *dirs[1] = {m->dir};
    m->bases_ok = tp_shm_bases_init(&m->bases, dirs, 1) == 0;
    *out = m;
    return 0;
}

static int pid_alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

/* Subscribers: the user's processes that map another process's logs of a
 * stream (tp:ipc keeps no list of them; a subscription maps every log of its
 * stream). Only while watched: it reads /proc/PID/maps of each process. */
static void scan_subscribers(view_model_t *m)
{
    m->nsub = 0;
    DIR *proc = opendir("/proc");
    struct dirent *e;
    const size_t dl = strlen(m->ipc_dir);
    char path[64], line[PATH_MAX + 128];
    while (proc != NULL && (e = readdir(proc)) != NULL && m->nsub < MAX_SUBS) {
        char *end;
        const long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid > INT32_MAX) continue;
        snprintf(path, sizeof path, "/proc/%ld/maps", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL) continue; /* gone, or another user's */
        uint32_t last = UINT32_MAX;
        while (fgets(line, sizeof line, f) != NULL && m->nsub < MAX_SUBS) {
            const char *p = strstr(line, m->ipc_dir);
            unsigned stream;
            int owner;
            if (p == NULL || p[dl] != '/' || sscanf(p + dl + 1, "%u-%d-", &stream, &owner) != 2 || owner == pid ||
                stream == last)
                continue; /* not a log, or its own publication's */
            last = stream;
            int dup = 0;
            for (uint32_t k = 0; k < m->nsub && !dup; k++)
                dup = m->sub[k].stream_id == stream && m->sub[k].pid == (int32_t)pid;
            if (!dup) m->sub[m->nsub++] = (sub_t){stream, (int32_t)pid};
        }
        fclose(f);
    }
    if (proc != NULL) closedir(proc);
}

/* Trace files of live stages (join-<out>-<pid>.trace in the namespace
 * directory; only while watched: nothing is mapped otherwise) and the
 * transport's publication logs (<stream>-<pid>-...log). */
static void scan(view_model_t *m, int watched)
{
    for (int i = 0; i < MAX_STAGES; i++)
        if (m->stage[i].open && !pid_alive(m->stage[i].r.pid)) {
            tp_join_trace_reader_close(&m->stage[i].r);
            m->stage[i].open = 0;
        }
    DIR *d = watched ? opendir(m->ns_dir) : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        unsigned out;
        int pid;
        char tail[16];
        if (sscanf(e->d_name, "join-%u-%d.%15s", &out, &pid, tail) != 3 || strcmp(tail, "trace") != 0 ||
            !pid_alive(pid))
            continue;
        int known = 0, free_slot = -1;
        for (int i = 0; i < MAX_STAGES; i++) {
            if (m->stage[i].open && strcmp(m->stage[i].name, e->d_name) == 0) known = 1;
            if (!m->stage[i].open && free_slot < 0) free_slot = i;
        }
        if (known || free_slot < 0) continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", m->ns_dir, e->d_name) >= (int)sizeof path) continue;
        stage_t *st = &m->stage[free_slot];
        if (tp_join_trace_reader_open(&st->r, path) != 0) continue;
        snprintf(st->name, sizeof st->name, "%.127s", e->d_name);
        st->open = 1;
    }
    if (d != NULL) closedir(d);
    m->npub = 0;
    d = opendir(m->ipc_dir);
    while (d != NULL && (e = readdir(d)) != NULL && m->npub < MAX_PUBS) {
        unsigned stream;
        int pid;
        unsigned long long a, b;
        char tail[8];
        if (sscanf(e->d_name, "%u-%d-%llu-%llu.%7s", &stream, &pid, &a, &b, tail) != 5 || strcmp(tail, "log") != 0)
            continue;
        m->pub[m->npub++] = (pub_t){stream, pid};
    }
    if (d != NULL) closedir(d);
    if (watched)
        scan_subscribers(m);
    else
        m->nsub = 0;
}

static void release_all(view_model_t *m)
{
    for (int i = 0; i < TP_MONITOR_MAX_STREAMS; i++) view_thumb_release(&m->thumb[i]);
    for (int i = 0; i < MAX_STAGES; i++)
        if (m->stage[i].open) {
            tp_join_trace_reader_close(&m->stage[i].r);
            m->stage[i].open = 0;
        }
}

static void base64(tp_json_t *j, const uint8_t *p, size_t n, char *buf)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        buf[o++] = t[v >> 18 & 63];
        buf[o++] = t[v >> 12 & 63];
        buf[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        buf[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    tp_json_string(j, buf, o);
}

static void opt_u64(tp_json_t *j, const char *key, uint64_t v)
{
    tp_json_key(j, key);
    if (v == TP_JOIN_TRACE_NONE)
        tp_json_null(j);
    else
        tp_json_u64_string(j, v);
}

static void write_thumbs(view_model_t *m, tp_json_t *j)
{
    tp_json_key(j, "thumbnails");
    tp_json_begin_array(j);
    for (uint32_t i = 0; i < tp_monitor_stream_count(m->mon) && i < TP_MONITOR_MAX_STREAMS; i++) {
        const tp_monitor_stream_t *s = tp_monitor_stream(m->mon, i);
        const view_thumb_t *t = &m->thumb[i];
        tp_json_begin_object(j);
        tp_json_key(j, "stream_id");
        tp_json_u64(j, s->stream_id);
        tp_json_key(j, "reads");
        tp_json_u64(j, t->reads);
        tp_json_key(j, "reads_dropped");
        tp_json_u64(j, t->dropped);
        if (t->have) {
            tp_json_key(j, "seq");
            tp_json_u64_string(j, t->seq);
            tp_json_key(j, "frame_shape");
            tp_json_begin_array(j);
            tp_json_u64(j, t->src_h);
            tp_json_u64(j, t->src_w);
            tp_json_u64(j, t->src_c);
            tp_json_end_array(j);
            tp_json_key(j, "width");
            tp_json_u64(j, t->w);
            tp_json_key(j, "height");
            tp_json_u64(j, t->h);
            tp_json_key(j, "rgb_base64");
            base64(j, t->rgb, (size_t)t->w * t->h * 3, m->b64);
        } else {
            tp_json_key(j, "why");
            tp_json_cstring(j, t->why[0] != '\0' ? t->why : "no frame read yet");
        }
        tp_json_end_object(j);
    }
    tp_json_end_array(j);
}

static void write_stage(view_model_t *m, tp_json_t *j, const stage_t *st)
{
    tp_json_begin_object(j);
    tp_json_key(j, "out_stream_id");
    tp_json_u64(j, st->r.out_stream_id);
    tp_json_key(j, "kind");
    tp_json_cstring(j, st->r.kind == TP_MERGE_KIND_SEQUENCE ? "sequence" : "timestamp");
    tp_json_key(j, "pid");
    tp_json_u64(j, (uint64_t)st->r.pid);
    tp_join_trace_status_t s;
    if (tp_join_trace_reader_status(&st->r, &s) == 0) {
        tp_json_key(j, "state");
        tp_json_cstring(j, tp_join_agent_state_name((tp_join_agent_state_t)s.state));
        tp_json_key(j, "reason");
        tp_json_cstring(j, s.reason);
        tp_json_key(j, "outputs");
        tp_json_u64(j, s.outputs);
        tp_json_key(j, "next_out");
        tp_json_u64_string(j, s.next_out);
        tp_json_key(j, "explain");
        tp_json_begin_array(j);
        for (uint32_t k = 0; k < s.explain_count; k++) tp_json_cstring(j, s.explain[k]);
        tp_json_end_array(j);
    }
    tp_json_key(j, "timeline");
    tp_json_begin_array(j);
    const uint32_t n = tp_join_trace_reader_outputs(&st->r, m->outs, TP_JOIN_TRACE_ENTRIES);
    for (uint32_t k = 0; k < n; k++) {
        const tp_join_trace_output_t *o = &m->outs[k];
        tp_json_begin_object(j);
        tp_json_key(j, "out_seq");
        tp_json_u64_string(j, o->out_seq);
        opt_u64(j, "out_time_ns", o->out_time);
        tp_json_key(j, "at_mono_ns");
        tp_json_i64_string(j, o->at_ns);
        tp_json_key(j, "inputs");
        tp_json_begin_array(j);
        for (uint32_t i = 0; i < o->input_count; i++) {
            const tp_join_trace_input_t *in = &o->in[i];
            tp_json_begin_object(j);
            tp_json_key(j, "stream_id");
            tp_json_u64(j, in->stream_id);
            tp_json_key(j, "status");
            tp_json_cstring(j, in->status == TP_JOIN_INPUT_READY ? "ready"
                               : in->status == TP_JOIN_INPUT_STALE ? "stale"
                                                                   : "absent");
            tp_json_key(j, "frames");
            tp_json_u64(j, in->frame_count);
            tp_json_key(j, "dropped");
            tp_json_u64(j, in->dropped);
            opt_u64(j, "first_seq", in->first_seq);
            opt_u64(j, "last_seq", in->last_seq);
            opt_u64(j, "first_ts_ns", in->first_ts_ns);
            opt_u64(j, "last_ts_ns", in->last_ts_ns);
            tp_json_end_object(j);
        }
        tp_json_end_array(j);
        tp_json_end_object(j);
    }
    tp_json_end_array(j);
    tp_json_end_object(j);
}

static int snapshot(view_model_t *m, int64_t now, int watched)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return tp_err_set(TP_ERR_CAPACITY, "open_memstream: %s", strerror(errno));
    tp_json_t j;
    tp_json_init(&j, f);
    tp_json_begin_object(&j);
    tp_stat_json(&j, m->mon, m->cfg.ctx.base_dir, m->cfg.ctx.ns, m->cfg.ctx.channel, now, m->cfg.live_window_ns);
    tp_json_key(&j, "watched");
    tp_json_bool(&j, watched != 0);
    tp_json_key(&j, "publications");
    tp_json_begin_array(&j);
    for (uint32_t i = 0; i < m->npub; i++) {
        tp_json_begin_object(&j);
        tp_json_key(&j, "stream_id");
        tp_json_u64(&j, m->pub[i].stream_id);
        tp_json_key(&j, "pid");
        tp_json_u64(&j, (uint64_t)(uint32_t)m->pub[i].pid);
        tp_json_key(&j, "pid_alive");
        tp_json_bool(&j, pid_alive(m->pub[i].pid));
        tp_json_end_object(&j);
    }
    tp_json_end_array(&j);
    tp_json_key(&j, "subscribers");
    tp_json_begin_array(&j);
    for (uint32_t i = 0; i < m->nsub; i++) {
        tp_json_begin_object(&j);
        tp_json_key(&j, "stream_id");
        tp_json_u64(&j, m->sub[i].stream_id);
        tp_json_key(&j, "pid");
        tp_json_u64(&j, (uint64_t)(uint32_t)m->sub[i].pid);
        tp_json_end_object(&j);
    }
    tp_json_end_array(&j);
    if (watched) write_thumbs(m, &j);
    tp_json_key(&j, "stages");
    tp_json_begin_array(&j);
    for (int i = 0; watched && i < MAX_STAGES; i++)
        if (m->stage[i].open) write_stage(m, &j, &m->stage[i]);
    tp_json_end_array(&j);
    tp_json_end_object(&j);
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        return tp_err_set(TP_ERR_CAPACITY, "snapshot: out of memory");
    }
    free(m->json);
    m->json = buf;
    m->json_len = len;
    return 1;
}

int view_model_step(view_model_t *m, int64_t now, int watched, int64_t period_ns)
{
    if (tp_monitor_poll(m->mon, now, 0) < 0) return -1;
    if (now < m->next_refresh) return 0;
    m->next_refresh = now + period_ns;
    tp_monitor_refresh(m->mon, now);
    if (!watched && m->was_watched) release_all(m); /* nothing mapped while nobody looks */
    if (now >= m->next_scan || (watched && !m->was_watched)) {
        scan(m, watched);
        m->next_scan = now + SCAN_PERIOD_NS;
    }
    m->was_watched = watched;
    if (watched) {
        for (uint32_t i = 0; i < tp_monitor_stream_count(m->mon) && i < TP_MONITOR_MAX_STREAMS; i++) {
            const tp_monitor_stream_t *s = tp_monitor_stream(m->mon, i);
            if (m->bases_ok && s->frames > 0 && s->last_seq != UINT64_MAX)
                view_thumb_update(&m->thumb[i], &m->bases, s, s->last_seq, now);
        }
        for (int i = 0; i < MAX_STAGES; i++)
            if (m->stage[i].open) tp_join_trace_reader_watch(&m->stage[i].r, now + WATCH_LEASE_NS);
    }
    return snapshot(m, now, watched);
}

const char *view_model_json(const view_model_t *m, size_t *len)
{
    *len = m->json_len;
    return m->json != NULL ? m->json : "{}";
}

void view_model_close(view_model_t *m)
{
    if (m == NULL) return;
    release_all(m);
    tp_monitor_close(m->mon);
    free(m->json);
    free(m);
}
