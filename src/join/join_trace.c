/* Join trace file: writer (the stage) and reader (a viewer). See join_trace.h. */
#include "tensorpool/join_trace.h"

#include "join_agent_impl.h"

#include "tensorpool/error.h"
#include "tensorpool/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* File layout (host byte order; writer and readers share one host):
 *   0  magic u64, 8 version u32, 12 pid i32, 16 out_stream u32, 20 kind u8,
 *   24 entry_bytes u32, 28 entries u32, 32 status_bytes u32
 *   64 watched_until i64 (written by viewers)   72 records u64
 *   128 status: seq u64, pad, body (tp_join_trace_status_t)
 *   STATUS_END.. entries: seq u64, pad, body (tp_join_trace_output_t)
 * A seq word is odd while its body is written (single writer). */
#define TRACE_MAGIC 0x4543415254504a54ULL /* "TJPTRACE" */
#define TRACE_VERSION 1u
#define OFF_WATCHED 64
#define OFF_RECORDS 72
#define OFF_STATUS 128
#define SLOT_HDR 16
#define STATUS_SLOT (SLOT_HDR + sizeof(tp_join_trace_status_t))
#define ENTRY_SLOT (SLOT_HDR + sizeof(tp_join_trace_output_t))
#define OFF_ENTRIES (OFF_STATUS + ((STATUS_SLOT + 63) / 64) * 64)
#define FILE_BYTES (OFF_ENTRIES + TP_JOIN_TRACE_ENTRIES * ENTRY_SLOT)
#define STATUS_PERIOD_NS 100000000LL

struct tp_join_trace_s {
    uint8_t *base;
    char path[PATH_MAX];
    uint64_t records;
    int64_t last_status_ns;
    tp_join_trace_output_t scratch;
    tp_join_trace_status_t st;
};

static uint64_t *word(uint8_t *base, size_t off) { return (uint64_t *)(void *)(base + off); }
static const uint64_t *cword(const uint8_t *base, size_t off) { return (const uint64_t *)(const void *)(base + off); }

/* Seqlock write of one slot's body (single writer). */
static void slot_write(uint8_t *slot, const void *body, size_t len)
{
    uint64_t *seq = word(slot, 0);
    const uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    __atomic_store_n(seq, s | 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(slot + SLOT_HDR, body, len);
    __atomic_store_n(seq, (s | 1) + 1, __ATOMIC_RELEASE);
}

/* Single-attempt seqlock read: 0 if a stable copy was taken. */
static int slot_read(const uint8_t *slot, void *body, size_t len)
{
    const uint64_t s0 = __atomic_load_n(cword(slot, 0), __ATOMIC_ACQUIRE);
    if (s0 & 1 || s0 == 0) return -1;
    memcpy(body, slot + SLOT_HDR, len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(cword(slot, 0), __ATOMIC_RELAXED) == s0 ? 0 : -1;
}

static int ns_dir(const tp_ipc_context_t *ctx, char *out, size_t len)
{
    if (tp_ipc_context_dir(ctx, out, len) != 0) return -1;
    char *slash = strrchr(out, '/'); /* .../<ns>/ipc -> .../<ns> */
    if (slash == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "ipc directory without a parent");
    *slash = '\0';
    return 0;
}

int tp_join_trace_create(tp_join_trace_t **out, const tp_ipc_context_t *ctx, uint32_t out_stream_id, uint8_t kind)
{
    *out = NULL;
    tp_join_trace_t *t = calloc(1, sizeof *t);
    if (t == NULL) return tp_err_set(TP_ERR_CAPACITY, "join trace: out of memory");
    char dir[PATH_MAX - 64];
    if (ns_dir(ctx, dir, sizeof dir) != 0) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%s/join-%u-%d.trace", dir, out_stream_id, (int)getpid());
    const int fd = open(t->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        const int e = errno;
        free(t);
        return tp_err_set(TP_ERR_IO, "join trace: create in %s: %s", dir, strerror(e));
    }
    void *m = MAP_FAILED;
    if (ftruncate(fd, (off_t)FILE_BYTES) == 0)
        m = mmap(NULL, FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        unlink(t->path);
        free(t);
        return tp_err_set(TP_ERR_IO, "join trace: map: %s", strerror(e));
    }
    t->base = m;
    uint8_t *b = t->base;
    const uint32_t ver = TRACE_VERSION, es = (uint32_t)sizeof(tp_join_trace_output_t),
                   ne = TP_JOIN_TRACE_ENTRIES, ss = (uint32_t)sizeof(tp_join_trace_status_t);
    const int32_t pid = (int32_t)getpid();
    memcpy(b + 8, &ver, 4);
    memcpy(b + 12, &pid, 4);
    memcpy(b + 16, &out_stream_id, 4);
    b[20] = kind;
    memcpy(b + 24, &es, 4);
    memcpy(b + 28, &ne, 4);
    memcpy(b + 32, &ss, 4);
    __atomic_store_n(word(b, 0), TRACE_MAGIC, __ATOMIC_RELEASE); /* last: readers accept from here */
    *out = t;
    return 0;
}

int tp_join_trace_watched(const tp_join_trace_t *t, int64_t now_ns)
{
    return t != NULL && (int64_t)__atomic_load_n(cword(t->base, OFF_WATCHED), __ATOMIC_RELAXED) > now_ns;
}

static void range(const tp_join_input_t *in, tp_join_trace_input_t *o)
{
    o->stream_id = in->stream_id;
    o->status = (uint32_t)in->status;
    o->frame_count = in->frame_count;
    o->dropped = in->dropped;
    o->first_seq = o->last_seq = o->first_ts_ns = o->last_ts_ns = TP_JOIN_TRACE_NONE;
    if (in->frame_count == 0) return;
    const tp_join_frame_t *a = &in->frames[0], *z = &in->frames[in->frame_count - 1];
    o->first_seq = a->seq;
    o->last_seq = z->seq;
    o->first_ts_ns = a->timestamp_ns;
    o->last_ts_ns = z->timestamp_ns;
}

void tp_join_trace_record(tp_join_trace_t *t, const tp_join_output_t *out, int64_t now_ns)
{
    if (!tp_join_trace_watched(t, now_ns)) return;
    tp_join_trace_output_t *e = &t->scratch;
    memset(e, 0, sizeof *e);
    e->index = t->records;
    e->out_seq = out->out_seq;
    e->out_time = out->out_time;
    e->at_ns = now_ns;
    e->epoch = out->epoch;
    e->input_count = out->input_count < TP_JOIN_TRACE_MAX_INPUTS ? out->input_count : TP_JOIN_TRACE_MAX_INPUTS;
    for (uint32_t i = 0; i < e->input_count; i++) range(&out->inputs[i], &e->in[i]);
    slot_write(t->base + OFF_ENTRIES + (t->records & (TP_JOIN_TRACE_ENTRIES - 1)) * ENTRY_SLOT, e, sizeof *e);
    t->records++;
    __atomic_store_n(word(t->base, OFF_RECORDS), t->records, __ATOMIC_RELEASE);
}

void tp_join_trace_status(tp_join_trace_t *t, const tp_join_agent_t *agent, int64_t now_ns)
{
    if (!tp_join_trace_watched(t, now_ns) || now_ns - t->last_status_ns < STATUS_PERIOD_NS) return;
    t->last_status_ns = now_ns;
    tp_join_agent_status_t as;
    tp_join_agent_status(agent, &as);
    tp_join_agent_stats_t stats;
    tp_join_agent_stats(agent, &stats);
    tp_join_trace_status_t *s = &t->st;
    memset(s, 0, sizeof *s);
    s->at_ns = now_ns;
    s->state = (uint32_t)as.state;
    s->stream_id = as.stream_id;
    s->since_ns = as.since_ns;
    s->outputs = stats.outputs;
    memcpy(s->reason, as.reason, sizeof s->reason);
    s->reason[sizeof s->reason - 1] = '\0';
    const tp_join_barrier_t *b = tp_join_agent_barrier(agent);
    /* Sequence joins: the output the agent waits for; others: one at now. */
    s->next_out = tp_join_barrier_mode(b) == TP_JOIN_MODE_SEQUENCE && agent->next_out_seq != TP_JOIN_OUT_AUTO
                      ? agent->next_out_seq
                      : (uint64_t)now_ns;
    tp_join_explain_t ex[TP_JOIN_TRACE_MAX_INPUTS];
    const int n = tp_join_barrier_explain(b, s->next_out, (uint64_t)now_ns, ex, TP_JOIN_TRACE_MAX_INPUTS);
    s->explain_count = n < 0 ? 0 : n > TP_JOIN_TRACE_MAX_INPUTS ? TP_JOIN_TRACE_MAX_INPUTS : (uint32_t)n;
    for (uint32_t i = 0; i < s->explain_count; i++) tp_join_explain_format(&ex[i], s->explain[i], sizeof s->explain[i]);
    slot_write(t->base + OFF_STATUS, s, sizeof *s);
}

void tp_join_trace_close(tp_join_trace_t *t)
{
    if (t == NULL) return;
    munmap(t->base, FILE_BYTES);
    unlink(t->path);
    free(t);
}

/* ---- reader ---- */

int tp_join_trace_reader_open(tp_join_trace_reader_t *r, const char *path)
{
    memset(r, 0, sizeof *r);
    const int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return tp_err_set(TP_ERR_IO, "join trace %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (size_t)st.st_size != FILE_BYTES) {
        close(fd);
        return tp_err_set(TP_ERR_MALFORMED, "join trace %s: not a trace file of this build and user", path);
    }
    void *m = mmap(NULL, FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return tp_err_set(TP_ERR_IO, "join trace %s: map: %s", path, strerror(errno));
    const uint8_t *b = m;
    uint32_t ver, es, ne, ss;
    memcpy(&ver, b + 8, 4);
    memcpy(&es, b + 24, 4);
    memcpy(&ne, b + 28, 4);
    memcpy(&ss, b + 32, 4);
    if (__atomic_load_n(cword(b, 0), __ATOMIC_ACQUIRE) != TRACE_MAGIC || ver != TRACE_VERSION ||
        es != sizeof(tp_join_trace_output_t) || ne != TP_JOIN_TRACE_ENTRIES || ss != sizeof(tp_join_trace_status_t)) {
        munmap(m, FILE_BYTES);
        return tp_err_set(TP_ERR_MALFORMED, "join trace %s: bad header", path);
    }
    r->base = m;
    r->len = FILE_BYTES;
    memcpy(&r->pid, b + 12, 4);
    memcpy(&r->out_stream_id, b + 16, 4);
    r->kind = b[20];
    return 0;
}

void tp_join_trace_reader_watch(tp_join_trace_reader_t *r, int64_t until_ns)
{
    __atomic_store_n(word(r->base, OFF_WATCHED), (uint64_t)until_ns, __ATOMIC_RELAXED);
}

int tp_join_trace_entry_decode(const uint8_t *raw, size_t len, tp_join_trace_output_t *out)
{
    if (len != sizeof *out) return tp_err_set(TP_ERR_TRUNCATED, "join trace entry: %zu bytes", len);
    memcpy(out, raw, sizeof *out);
    if (out->input_count > TP_JOIN_TRACE_MAX_INPUTS)
        return tp_err_set(TP_ERR_MALFORMED, "join trace entry: %u inputs", out->input_count);
    for (uint32_t i = 0; i < out->input_count; i++) {
        const tp_join_trace_input_t *in = &out->in[i];
        if (in->status > TP_JOIN_INPUT_ABSENT || (in->frame_count == 0) != (in->first_seq == TP_JOIN_TRACE_NONE) ||
            (in->frame_count > 0 && in->last_seq < in->first_seq))
            return tp_err_set(TP_ERR_MALFORMED, "join trace entry: input %u inconsistent", i);
    }
    return 0;
}

int tp_join_trace_status_decode(const uint8_t *raw, size_t len, tp_join_trace_status_t *out)
{
    if (len != sizeof *out) return tp_err_set(TP_ERR_TRUNCATED, "join trace status: %zu bytes", len);
    memcpy(out, raw, sizeof *out);
    if (out->state > TP_JOIN_AGENT_DEGRADED || out->explain_count > TP_JOIN_TRACE_MAX_INPUTS)
        return tp_err_set(TP_ERR_MALFORMED, "join trace status: state %u, %u explain lines", out->state,
                          out->explain_count);
    out->reason[sizeof out->reason - 1] = '\0';
    for (uint32_t i = 0; i < TP_JOIN_TRACE_MAX_INPUTS; i++) out->explain[i][sizeof out->explain[i] - 1] = '\0';
    return 0;
}

uint32_t tp_join_trace_reader_outputs(const tp_join_trace_reader_t *r, tp_join_trace_output_t *out, uint32_t cap)
{
    const uint64_t records = __atomic_load_n(cword(r->base, OFF_RECORDS), __ATOMIC_ACQUIRE);
    uint32_t n = 0;
    uint8_t raw[sizeof(tp_join_trace_output_t)];
    for (uint64_t k = 0; k < TP_JOIN_TRACE_ENTRIES && k < records && n < cap; k++) {
        const uint64_t idx = records - 1 - k;
        const uint8_t *slot = r->base + OFF_ENTRIES + (idx & (TP_JOIN_TRACE_ENTRIES - 1)) * ENTRY_SLOT;
        if (slot_read(slot, raw, sizeof raw) != 0) continue;
        if (tp_join_trace_entry_decode(raw, sizeof raw, &out[n]) != 0 || out[n].index != idx) continue;
        n++;
    }
    return n;
}

int tp_join_trace_reader_status(const tp_join_trace_reader_t *r, tp_join_trace_status_t *out)
{
    uint8_t raw[sizeof(tp_join_trace_status_t)];
    if (slot_read(r->base + OFF_STATUS, raw, sizeof raw) != 0)
        return tp_err_set(TP_ERR_STATE, "join trace: no stable status");
    return tp_join_trace_status_decode(raw, sizeof raw, out);
}

void tp_join_trace_reader_close(tp_join_trace_reader_t *r)
{
    if (r->base != NULL) munmap(r->base, r->len);
    memset(r, 0, sizeof *r);
}
