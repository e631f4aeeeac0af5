/* Metadata store (docs/spec/wire.md §10.3): DataSourceAnnounce, DataSourceMeta
 * and meta blobs of one stream, in buffers sized once from the limits. */
#include "tensorpool/meta.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/error.h"
#include "tensorpool/meta_blob.h"

#include <stdlib.h>
#include <string.h>

typedef struct attr_s {
    uint32_t key, format, value; /* offsets into the arena */
    uint32_t value_len;
} attr_t;

struct tp_meta_store_s {
    uint32_t stream_id;
    tp_meta_limits_t lim;
    tp_meta_handler_t handler;
    void *clientd;
    int announced;
    tp_meta_source_t src;
    char name[256], summary[1024];
    /* attributes held: nattrs entries, strings in arena (each NUL-terminated) */
    int have_meta;
    uint32_t version;
    uint32_t nattrs;
    attr_t *attrs;
    char *arena;
    size_t arena_cap;
    tp_meta_blob_asm_t blob;
    tp_meta_counters_t cnt;
};

void tp_meta_limits_init(tp_meta_limits_t *l)
{
    l->max_attrs = 64;
    l->max_attr_bytes = 64u * 1024u;
    l->max_blob_bytes = 1024u * 1024u;
}

int tp_meta_store_open(tp_meta_store_t **out, uint32_t stream_id, const tp_meta_limits_t *limits)
{
    *out = NULL;
    tp_meta_store_t *s = calloc(1, sizeof *s);
    if (s == NULL) return tp_err_set(TP_ERR_CAPACITY, "meta store: out of memory");
    if (limits != NULL) s->lim = *limits;
    else tp_meta_limits_init(&s->lim);
    s->stream_id = stream_id;
    /* three NULs per attribute on top of the bytes themselves */
    s->arena_cap = (size_t)s->lim.max_attr_bytes + 3u * (size_t)s->lim.max_attrs + 1;
    s->attrs = calloc(s->lim.max_attrs > 0 ? s->lim.max_attrs : 1, sizeof *s->attrs);
    s->arena = malloc(s->arena_cap);
    if (s->attrs == NULL || s->arena == NULL || tp_meta_blob_asm_init(&s->blob, s->lim.max_blob_bytes) != 0) {
        tp_meta_store_close(s);
        return tp_err_set(TP_ERR_CAPACITY, "meta store: cannot allocate for the limits");
    }
    s->src.name = s->name;
    s->src.summary = s->summary;
    *out = s;
    return 0;
}

void tp_meta_store_close(tp_meta_store_t *s)
{
    if (s == NULL) return;
    tp_meta_blob_asm_fini(&s->blob);
    free(s->attrs);
    free(s->arena);
    free(s);
}

void tp_meta_store_set_handler(tp_meta_store_t *s, tp_meta_handler_t h, void *clientd)
{
    s->handler = h;
    s->clientd = clientd;
}

static void copy_str(char *dst, size_t cap, const char *src, uint32_t len)
{
    if (len >= cap) len = (uint32_t)(cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int on_source(tp_meta_store_t *s, const uint8_t *buf, size_t len)
{
    tp_control_data_source_announce_dec_t m;
    if (tp_control_data_source_announce_decode(&m, buf, len) != 0) {
        s->cnt.refused_malformed++;
        return 0;
    }
    uint32_t nl = 0, sl = 0;
    const char *name = tp_control_data_source_announce_name(&m, &nl);
    const char *summary = tp_control_data_source_announce_summary(&m, &sl);
    const uint32_t pid = tp_control_data_source_announce_producer_id(&m);
    const uint64_t epoch = tp_control_data_source_announce_epoch(&m);
    const uint32_t ver = tp_control_data_source_announce_meta_version(&m);
    char n[sizeof s->name], su[sizeof s->summary];
    copy_str(n, sizeof n, name, nl);
    copy_str(su, sizeof su, summary, sl);
    if (s->announced && pid == s->src.producer_id && epoch == s->src.epoch && ver == s->src.meta_version &&
        strcmp(n, s->name) == 0 && strcmp(su, s->summary) == 0)
        return 0; /* the 1 Hz repeat (W-10.3.1.a) */
    memcpy(s->name, n, sizeof n);
    memcpy(s->summary, su, sizeof su);
    s->src.stream_id = s->stream_id;
    s->src.producer_id = pid;
    s->src.epoch = epoch;
    s->src.meta_version = ver;
    s->announced = 1;
    s->cnt.announces++;
    return TP_META_EVENT_ANNOUNCE;
}

/* Printable ASCII, not empty: what a key must be to be shown and looked up. */
static int key_ok(const char *k, uint32_t len)
{
    if (len == 0) return 0;
    for (uint32_t i = 0; i < len; i++)
        if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e) return 0;
    return 1;
}

static uint32_t put(tp_meta_store_t *s, size_t *pos, const void *p, uint32_t len)
{
    const uint32_t off = (uint32_t)*pos;
    if (len > 0) memcpy(s->arena + off, p, len);
    s->arena[off + len] = '\0';
    *pos += (size_t)len + 1;
    return off;
}

/* Check the whole message first (count, sizes, keys), then copy: a refused
 * one leaves what is held untouched. */
static int on_attributes(tp_meta_store_t *s, const uint8_t *buf, size_t len)
{
    tp_control_data_source_meta_dec_t m;
    if (tp_control_data_source_meta_decode(&m, buf, len) != 0) {
        s->cnt.refused_malformed++;
        return 0;
    }
    const uint32_t ver = tp_control_data_source_meta_meta_version(&m);
    if (s->have_meta && ver == s->version) return 0; /* the periodic repeat (W-10.3.2.a) */
    const uint32_t count = tp_control_data_source_meta_attributes_count(&m);
    if (count > s->lim.max_attrs) {
        s->cnt.refused_oversized++;
        return 0;
    }
    tp_control_data_source_meta_attributes_iter_t it;
    tp_control_data_source_meta_attributes_iter(&m, &it);
    uint64_t bytes = 0;
    uint32_t n = 0;
    int r;
    while ((r = tp_control_data_source_meta_attributes_next(&it)) == 1) {
        uint32_t kl, fl, vl;
        const char *k = tp_control_data_source_meta_attributes_key(&it, &kl);
        const char *f = tp_control_data_source_meta_attributes_format(&it, &fl);
        (void)tp_control_data_source_meta_attributes_value(&it, &vl);
        if (!key_ok(k, kl) || (fl > 0 && !key_ok(f, fl))) {
            s->cnt.refused_malformed++;
            return 0;
        }
        bytes += (uint64_t)kl + fl + vl;
        n++;
    }
    if (r < 0 || n != count) {
        s->cnt.refused_malformed++;
        return 0;
    }
    if (bytes > s->lim.max_attr_bytes) {
        s->cnt.refused_oversized++;
        return 0;
    }
    tp_control_data_source_meta_attributes_iter(&m, &it);
    size_t pos = 0;
    for (uint32_t i = 0; i < n && tp_control_data_source_meta_attributes_next(&it) == 1; i++) {
        uint32_t kl, fl, vl;
        const char *k = tp_control_data_source_meta_attributes_key(&it, &kl);
        const char *f = tp_control_data_source_meta_attributes_format(&it, &fl);
        const uint8_t *v = tp_control_data_source_meta_attributes_value(&it, &vl);
        s->attrs[i].key = put(s, &pos, k, kl);
        s->attrs[i].format = put(s, &pos, f, fl);
        s->attrs[i].value = put(s, &pos, v, vl);
        s->attrs[i].value_len = vl;
    }
    s->nattrs = n;
    s->version = ver;
    s->have_meta = 1;
    s->cnt.metas++;
    return TP_META_EVENT_ATTRIBUTES;
}

static int blob_result(tp_meta_store_t *s, tp_meta_blob_result_t r)
{
    switch (r) {
    case TP_META_BLOB_DONE: s->cnt.blobs++; return TP_META_EVENT_BLOB;
    case TP_META_BLOB_OVERSIZED: s->cnt.blob_oversized++; break;
    case TP_META_BLOB_GAP: s->cnt.blob_gap++; break;
    case TP_META_BLOB_OVERLAP: s->cnt.blob_overlap++; break;
    case TP_META_BLOB_CHECKSUM: s->cnt.blob_checksum++; break;
    case TP_META_BLOB_MALFORMED: s->cnt.blob_malformed++; break;
    case TP_META_BLOB_IGNORED:
    case TP_META_BLOB_PROGRESS: break;
    }
    return 0;
}

static int on_blob(tp_meta_store_t *s, uint16_t template_id, const uint8_t *buf, size_t len)
{
    if (template_id == TP_CONTROL_META_BLOB_ANNOUNCE_TEMPLATE_ID) {
        tp_control_meta_blob_announce_dec_t m;
        if (tp_control_meta_blob_announce_decode(&m, buf, len) != 0) return blob_result(s, TP_META_BLOB_MALFORMED);
        return blob_result(s, tp_meta_blob_asm_announce(&s->blob, tp_control_meta_blob_announce_meta_version(&m),
                                                        tp_control_meta_blob_announce_blob_type(&m),
                                                        tp_control_meta_blob_announce_total_len(&m),
                                                        tp_control_meta_blob_announce_checksum(&m)));
    }
    if (template_id == TP_CONTROL_META_BLOB_CHUNK_TEMPLATE_ID) {
        tp_control_meta_blob_chunk_dec_t m;
        if (tp_control_meta_blob_chunk_decode(&m, buf, len) != 0) return blob_result(s, TP_META_BLOB_MALFORMED);
        uint32_t bl = 0;
        const uint8_t *b = tp_control_meta_blob_chunk_bytes(&m, &bl);
        return blob_result(s, tp_meta_blob_asm_chunk(&s->blob, tp_control_meta_blob_chunk_meta_version(&m),
                                                     tp_control_meta_blob_chunk_chunk_offset(&m), b, bl));
    }
    tp_control_meta_blob_complete_dec_t m;
    if (tp_control_meta_blob_complete_decode(&m, buf, len) != 0) return blob_result(s, TP_META_BLOB_MALFORMED);
    return blob_result(s, tp_meta_blob_asm_complete(&s->blob, tp_control_meta_blob_complete_meta_version(&m),
                                                    tp_control_meta_blob_complete_checksum(&m)));
}

/* Every metadata message starts with its stream id (root offset 0), so a
 * message for another stream is skipped before it is decoded. */
int tp_meta_store_on_message(tp_meta_store_t *s, const uint8_t *buf, size_t len, int trusted)
{
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0 || h.schema_id != TP_CONTROL_SCHEMA_ID) return 0;
    const uint16_t t = h.template_id;
    const int meta = t == TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID || t == TP_CONTROL_DATA_SOURCE_META_TEMPLATE_ID ||
                     t == TP_CONTROL_META_BLOB_ANNOUNCE_TEMPLATE_ID || t == TP_CONTROL_META_BLOB_CHUNK_TEMPLATE_ID ||
                     t == TP_CONTROL_META_BLOB_COMPLETE_TEMPLATE_ID;
    if (!meta) return 0;
    if (len < TP_SBE_HEADER_LENGTH + 4) {
        s->cnt.refused_malformed++; /* cannot even tell the stream: refused by whoever reads it */
        return 0;
    }
    if (tp_sbe_get_u32(buf + TP_SBE_HEADER_LENGTH) != s->stream_id) return 0;
    if (!trusted) {
        s->cnt.refused_foreign++;
        return 0;
    }
    int ev;
    if (t == TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID) ev = on_source(s, buf, len);
    else if (t == TP_CONTROL_DATA_SOURCE_META_TEMPLATE_ID) ev = on_attributes(s, buf, len);
    else ev = on_blob(s, t, buf, len);
    if (ev != 0 && s->handler != NULL) s->handler(s->clientd, s, (tp_meta_event_t)ev);
    return ev;
}

uint32_t tp_meta_stream_id(const tp_meta_store_t *s) { return s->stream_id; }

int tp_meta_source(const tp_meta_store_t *s, tp_meta_source_t *out)
{
    if (!s->announced) return 0;
    *out = s->src;
    return 1;
}

uint32_t tp_meta_version(const tp_meta_store_t *s) { return s->have_meta ? s->version : 0; }
int tp_meta_current(const tp_meta_store_t *s, uint32_t v) { return v == 0 || (s->have_meta && s->version == v); }
uint32_t tp_meta_attr_count(const tp_meta_store_t *s) { return s->have_meta ? s->nattrs : 0; }

int tp_meta_attr(const tp_meta_store_t *s, uint32_t i, tp_meta_attr_view_t *out)
{
    if (!s->have_meta || i >= s->nattrs) return -1;
    const attr_t *a = &s->attrs[i];
    out->key = s->arena + a->key;
    out->format = s->arena + a->format;
    out->value = (const uint8_t *)s->arena + a->value;
    out->value_len = a->value_len;
    return 0;
}

int tp_meta_find(const tp_meta_store_t *s, const char *key, tp_meta_attr_view_t *out)
{
    for (uint32_t i = 0; i < tp_meta_attr_count(s); i++)
        if (strcmp(s->arena + s->attrs[i].key, key) == 0) return tp_meta_attr(s, i, out);
    return -1;
}

int tp_meta_blob(const tp_meta_store_t *s, tp_meta_blob_view_t *out)
{
    const tp_meta_blob_asm_t *a = &s->blob;
    if (!a->have) return 0;
    out->meta_version = a->done_version;
    out->blob_type = a->done_type;
    out->checksum = a->done_checksum;
    out->data = a->done;
    out->len = a->done_len;
    return 1;
}

void tp_meta_counters(const tp_meta_store_t *s, tp_meta_counters_t *out) { *out = s->cnt; }
