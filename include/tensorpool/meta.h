/* Stream metadata as a consumer holds it (docs/spec/wire.md §10.3): the
 * producer's DataSourceAnnounce (name, summary, meta_version), its
 * DataSourceMeta attributes (key/format/value, W-10.3.2.a) and its meta blob
 * (MetaBlobAnnounce/Chunk/Complete, W-10.3.3.a), kept by a store fed with
 * the messages of the metadata stream.
 *
 * Bounded memory: every buffer is allocated when the store opens, from the
 * limits; feeding it allocates nothing. A DataSourceMeta with more
 * attributes or bytes than the limits, or one that does not decode (or whose
 * key is empty or not printable ASCII), is refused whole and counted: the
 * attributes held stay as they were. Blobs are refused as meta_blob.h says.
 *
 * Versions: W-10.3.2.b ties a frame to the DataSourceMeta whose meta_version
 * its FrameDescriptor names; tp_meta_current says whether the store holds
 * the attributes of a version (0 means "no metadata": always current). */
#ifndef TENSORPOOL_META_H
#define TENSORPOOL_META_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_meta_limits_s {
    uint32_t max_attrs;      /* attributes per DataSourceMeta (default 64) */
    uint32_t max_attr_bytes; /* key + format + value bytes of all attributes (default 64 KiB) */
    uint64_t max_blob_bytes; /* largest meta blob (default 1 MiB; 0 refuses every blob) */
} tp_meta_limits_t;

TP_API void tp_meta_limits_init(tp_meta_limits_t *l);

/* The latest DataSourceAnnounce (strings NUL-terminated, truncated to 255
 * and 1023 bytes). */
typedef struct tp_meta_source_s {
    uint32_t stream_id;
    uint32_t producer_id;
    uint64_t epoch;
    uint32_t meta_version; /* the producer's current version as announced */
    const char *name;
    const char *summary;
} tp_meta_source_t;

/* One attribute; key and format are NUL-terminated, value has a NUL after
 * value_len bytes (handy for text; the value may hold NULs itself). */
typedef struct tp_meta_attr_view_s {
    const char *key;
    const char *format;
    const uint8_t *value;
    uint32_t value_len;
} tp_meta_attr_view_t;

typedef struct tp_meta_blob_view_s {
    uint32_t meta_version;
    uint32_t blob_type;
    uint64_t checksum; /* CRC32C zero-extended, 0 if the producer sent none (D-18) */
    const uint8_t *data;
    uint64_t len;
} tp_meta_blob_view_t;

typedef struct tp_meta_counters_s {
    uint64_t announces;          /* DataSourceAnnounces that changed what is held */
    uint64_t metas;              /* DataSourceMeta versions taken */
    uint64_t blobs;              /* blobs reassembled and taken */
    uint64_t refused_malformed;  /* metadata messages for this stream that did not decode or broke a rule */
    uint64_t refused_oversized;  /* DataSourceMeta above max_attrs or max_attr_bytes */
    uint64_t refused_foreign;    /* from a transport log another uid owns */
    uint64_t blob_oversized;     /* blob refusals by cause (meta_blob.h) */
    uint64_t blob_gap;
    uint64_t blob_overlap;
    uint64_t blob_checksum;
    uint64_t blob_malformed;
} tp_meta_counters_t;

typedef enum tp_meta_event_e {
    TP_META_EVENT_ANNOUNCE = 1,   /* a new or changed DataSourceAnnounce */
    TP_META_EVENT_ATTRIBUTES = 2, /* a new DataSourceMeta version */
    TP_META_EVENT_BLOB = 3        /* a new blob */
} tp_meta_event_t;

typedef struct tp_meta_store_s tp_meta_store_t;

/* Called after the store changed; the store may be queried inside. */
typedef void (*tp_meta_handler_t)(void *clientd, const tp_meta_store_t *store, tp_meta_event_t event);

/* A store for stream_id (limits NULL: defaults). Allocates everything. 0 or -1. */
TP_API int tp_meta_store_open(tp_meta_store_t **out, uint32_t stream_id, const tp_meta_limits_t *limits);
TP_API void tp_meta_store_close(tp_meta_store_t *s);

/* Feed one message of the metadata stream (any stream's: others are
 * ignored). trusted is 0 when it came from a transport log another uid owns
 * (counted, ignored). Returns the event it caused (and calls the handler,
 * if set), 0 if nothing changed. Allocates nothing. */
TP_API int tp_meta_store_on_message(tp_meta_store_t *s, const uint8_t *buf, size_t len, int trusted);
TP_API void tp_meta_store_set_handler(tp_meta_store_t *s, tp_meta_handler_t h, void *clientd);

TP_API uint32_t tp_meta_stream_id(const tp_meta_store_t *s);
/* 1 and *out filled once a DataSourceAnnounce was taken, else 0. */
TP_API int tp_meta_source(const tp_meta_store_t *s, tp_meta_source_t *out);
/* meta_version of the attributes held (0: none held yet). */
TP_API uint32_t tp_meta_version(const tp_meta_store_t *s);
/* 1 if the store holds the attributes of meta_version (always for 0). */
TP_API int tp_meta_current(const tp_meta_store_t *s, uint32_t meta_version);
TP_API uint32_t tp_meta_attr_count(const tp_meta_store_t *s);
/* Attribute i (0-based, in the producer's order). 0, or -1 out of range. */
TP_API int tp_meta_attr(const tp_meta_store_t *s, uint32_t i, tp_meta_attr_view_t *out);
/* The first attribute named key. 0, or -1 if there is none. */
TP_API int tp_meta_find(const tp_meta_store_t *s, const char *key, tp_meta_attr_view_t *out);
/* 1 and *out filled if a blob is held, else 0. */
TP_API int tp_meta_blob(const tp_meta_store_t *s, tp_meta_blob_view_t *out);
TP_API void tp_meta_counters(const tp_meta_store_t *s, tp_meta_counters_t *out);

#ifdef __cplusplus
}
#endif
#endif
