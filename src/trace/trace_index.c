/* Lineage index: frames (from FrameDescriptors) and links (TraceLinkSets)
 * keyed by trace id in open-addressing tables that grow. A tool's data
 * structure: it allocates. */
#include "tensorpool/trace.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/codec/tracelink.h"
#include "tensorpool/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct link_s {
    uint64_t trace_id; /* 0 = empty bucket */
    size_t off;        /* first parent in ix->parents */
    uint32_t n;
} link_t;

struct tp_trace_index_s {
    tp_trace_frame_t *frames; /* trace_id 0 = empty bucket */
    size_t frame_cap, frame_count;
    link_t *links;
    size_t link_cap, link_count;
    uint64_t *parents;
    size_t parent_cap, parent_count;
    tp_trace_link_t scratch; /* the link being decoded (2 KiB, heap) */
};

static size_t bucket(uint64_t id, size_t cap)
{
    id ^= id >> 33; /* ids share their low node/sequence bits: mix before masking */
    id *= UINT64_C(0xff51afd7ed558ccd);
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

static tp_trace_frame_t *frame_slot(tp_trace_frame_t *t, size_t cap, uint64_t id)
{
    size_t i = bucket(id, cap);
    while (t[i].trace_id != 0 && t[i].trace_id != id) i = (i + 1) & (cap - 1);
    return &t[i];
}

static link_t *link_slot(link_t *t, size_t cap, uint64_t id)
{
    size_t i = bucket(id, cap);
    while (t[i].trace_id != 0 && t[i].trace_id != id) i = (i + 1) & (cap - 1);
    return &t[i];
}

static int oom(void) { return tp_err_set(TP_ERR_CAPACITY, "trace index: out of memory"); }

/* Keep both tables at most half full. */
static int grow(tp_trace_index_t *ix)
{
    if ((ix->frame_count + 1) * 2 > ix->frame_cap) {
        const size_t cap = ix->frame_cap * 2;
        tp_trace_frame_t *t = calloc(cap, sizeof *t);
        if (t == NULL) return oom();
        for (size_t i = 0; i < ix->frame_cap; i++)
            if (ix->frames[i].trace_id != 0) *frame_slot(t, cap, ix->frames[i].trace_id) = ix->frames[i];
        free(ix->frames);
        ix->frames = t;
        ix->frame_cap = cap;
    }
    if ((ix->link_count + 1) * 2 > ix->link_cap) {
        const size_t cap = ix->link_cap * 2;
        link_t *t = calloc(cap, sizeof *t);
        if (t == NULL) return oom();
        for (size_t i = 0; i < ix->link_cap; i++)
            if (ix->links[i].trace_id != 0) *link_slot(t, cap, ix->links[i].trace_id) = ix->links[i];
        free(ix->links);
        ix->links = t;
        ix->link_cap = cap;
    }
    return 0;
}

int tp_trace_index_create(tp_trace_index_t **out)
{
    tp_trace_index_t *ix = calloc(1, sizeof *ix);
    if (ix == NULL) return oom();
    ix->frame_cap = ix->link_cap = 1024;
    ix->parent_cap = 4096;
    ix->frames = calloc(ix->frame_cap, sizeof *ix->frames);
    ix->links = calloc(ix->link_cap, sizeof *ix->links);
    ix->parents = malloc(ix->parent_cap * sizeof *ix->parents);
    if (ix->frames == NULL || ix->links == NULL || ix->parents == NULL) {
        tp_trace_index_destroy(ix);
        return oom();
    }
    *out = ix;
    return 0;
}

void tp_trace_index_destroy(tp_trace_index_t *ix)
{
    if (ix == NULL) return;
    free(ix->frames);
    free(ix->links);
    free(ix->parents);
    free(ix);
}

/* A frame seen again (descriptor and link of the same output) keeps the
 * first record; a descriptor's timestamp fills in one a link lacked. */
static int put_frame(tp_trace_index_t *ix, const tp_trace_frame_t *f)
{
    if (grow(ix) < 0) return -1;
    tp_trace_frame_t *s = frame_slot(ix->frames, ix->frame_cap, f->trace_id);
    if (s->trace_id == 0) {
        *s = *f;
        ix->frame_count++;
    } else if (s->timestamp_ns == UINT64_MAX) {
        s->timestamp_ns = f->timestamp_ns;
    }
    return 1;
}

static int put_link(tp_trace_index_t *ix, const tp_trace_link_t *l)
{
    if (grow(ix) < 0) return -1;
    link_t *s = link_slot(ix->links, ix->link_cap, l->trace_id);
    if (s->trace_id != 0) return 1; /* re-sent link: the first stands */
    if (ix->parent_count + l->parent_count > ix->parent_cap) {
        size_t cap = ix->parent_cap * 2 + l->parent_count;
        uint64_t *p = realloc(ix->parents, cap * sizeof *p);
        if (p == NULL) return oom();
        ix->parents = p;
        ix->parent_cap = cap;
    }
    memcpy(ix->parents + ix->parent_count, l->parents, l->parent_count * sizeof *l->parents);
    s->trace_id = l->trace_id;
    s->off = ix->parent_count;
    s->n = l->parent_count;
    ix->parent_count += l->parent_count;
    ix->link_count++;
    const tp_trace_frame_t f = {l->trace_id, l->stream_id, l->epoch, l->seq, UINT64_MAX};
    return put_frame(ix, &f);
}

int tp_trace_index_add(tp_trace_index_t *ix, const void *buf, size_t len)
{
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) < 0) return -1;
    if (h.schema_id == TP_TRACELINK_SCHEMA_ID && h.template_id == TP_TRACELINK_TRACE_LINK_SET_TEMPLATE_ID) {
        if (tp_trace_link_decode(&ix->scratch, buf, len) < 0) return -1;
        return put_link(ix, &ix->scratch);
    }
    if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_FRAME_DESCRIPTOR_TEMPLATE_ID) {
        tp_control_frame_descriptor_dec_t d;
        if (tp_control_frame_descriptor_decode(&d, buf, len) < 0) return -1;
        const uint64_t id = tp_control_frame_descriptor_trace_id(&d);
        if (id == 0) return 0;
        const tp_trace_frame_t f = {id, tp_control_frame_descriptor_stream_id(&d),
                                    tp_control_frame_descriptor_epoch(&d), tp_control_frame_descriptor_seq(&d),
                                    tp_control_frame_descriptor_timestamp_ns(&d)};
        return put_frame(ix, &f);
    }
    return 0;
}

/* One message's length from its header and schema (for walking a file). */
static long message_length(const uint8_t *b, size_t len)
{
    tp_sbe_header_t h;
    if (tp_sbe_header_read(b, len, &h) < 0) return -1;
    const tp_codec_message_t *m = tp_codec_find(h.schema_id, h.template_id);
    if (m == NULL) return -1;
    tp_sbe_dec_t d;
    size_t steps[TP_SBE_MAX_STEPS];
    if (tp_sbe_dec_wrap(m->layout, &d, steps, b, len, false) < 0) return -1;
    return (long)d.end;
}

long tp_trace_index_load(tp_trace_index_t *ix, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return tp_err_set(TP_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        if (len == cap) {
            uint8_t *b = realloc(buf, cap * 2);
            if (b == NULL) break;
            buf = b;
            cap *= 2;
        }
        const size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0) break;
        len += n;
    }
    const int read_error = ferror(f);
    fclose(f);
    if (buf == NULL || read_error) {
        free(buf);
        return buf == NULL ? oom() : tp_err_set(TP_ERR_IO, "%s: read error", path);
    }
    long indexed = 0;
    for (size_t off = 0; off < len;) {
        const long n = message_length(buf + off, len - off);
        const int rc = n < 0 ? -1 : tp_trace_index_add(ix, buf + off, (size_t)n);
        if (rc < 0) {
            tp_err_wrap("%s: message at byte offset %zu", path, off);
            free(buf);
            return -1;
        }
        indexed += rc;
        off += (size_t)n;
    }
    free(buf);
    return indexed;
}

int tp_trace_index_frame(const tp_trace_index_t *ix, uint64_t trace_id, tp_trace_frame_t *out)
{
    const tp_trace_frame_t *s = frame_slot(ix->frames, ix->frame_cap, trace_id);
    if (trace_id == 0 || s->trace_id == 0)
        return tp_err_set(TP_ERR_NOT_FOUND, "no frame with trace id %" PRIu64 " recorded", trace_id);
    *out = *s;
    return 0;
}

long tp_trace_index_parents(const tp_trace_index_t *ix, uint64_t trace_id, const uint64_t **parents)
{
    const link_t *s = link_slot(ix->links, ix->link_cap, trace_id);
    if (trace_id == 0 || s->trace_id == 0)
        return tp_err_set(TP_ERR_NOT_FOUND, "no TraceLinkSet of trace id %" PRIu64 " recorded", trace_id);
    *parents = ix->parents + s->off;
    return s->n;
}

size_t tp_trace_index_frame_count(const tp_trace_index_t *ix) { return ix->frame_count; }
size_t tp_trace_index_link_count(const tp_trace_index_t *ix) { return ix->link_count; }

static long walk(const tp_trace_index_t *ix, uint64_t id, unsigned depth, unsigned max_depth, tp_trace_visit_fn fn,
                 void *clientd)
{
    tp_trace_frame_t f;
    const int known = tp_trace_index_frame(ix, id, &f) == 0;
    const uint64_t *parents = NULL;
    long n = tp_trace_index_parents(ix, id, &parents);
    if (n < 0) n = 0;
    fn(clientd, depth, id, known ? &f : NULL, (uint32_t)n);
    long visited = 1;
    if (depth + 1 >= max_depth) return visited;
    /* Links are acyclic as written (a new id is minted after its parents),
     * but a forged log could loop: max_depth bounds the walk. */
    for (long i = 0; i < n; i++) visited += walk(ix, parents[i], depth + 1, max_depth, fn, clientd);
    return visited;
}

long tp_trace_walk(const tp_trace_index_t *ix, uint64_t trace_id, unsigned max_depth, tp_trace_visit_fn fn,
                   void *clientd)
{
    tp_trace_frame_t f;
    const uint64_t *p;
    if (tp_trace_index_frame(ix, trace_id, &f) < 0 && tp_trace_index_parents(ix, trace_id, &p) < 0)
        return tp_err_set(TP_ERR_NOT_FOUND, "trace id %" PRIu64 " is not in the recorded messages", trace_id);
    if (max_depth == 0) max_depth = 1;
    return walk(ix, trace_id, 0, max_depth, fn, clientd);
}
