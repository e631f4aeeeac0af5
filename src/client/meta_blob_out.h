/* Producer side of meta blobs (docs/spec/wire.md W-10.3.3.a, W-15.9.a, D-18):
 * a copy of the blob, its CRC32C, and a paced sender that puts out one
 * MetaBlobAnnounce, the chunks in order (at most one per pump, so a large
 * blob does not lap the metadata log of a consumer that polls it), then
 * MetaBlobComplete. Restarted for the periodic repeat. */
#ifndef TP_CLIENT_META_BLOB_OUT_H
#define TP_CLIENT_META_BLOB_OUT_H

#include "tensorpool/ipc.h"

#include <stddef.h>
#include <stdint.h>

#define TP_META_BLOB_OUT_MAX (64ull * 1024 * 1024) /* largest blob a producer accepts */

typedef struct tp_meta_blob_out_s {
    uint8_t *data;
    uint64_t len;
    uint32_t type, version;
    uint64_t checksum;
    uint8_t *tx;
    size_t txcap;
    int sending;   /* 1: announce next; 2: chunks; 3: complete */
    uint64_t next; /* next chunk offset */
    uint64_t sent; /* blobs put out whole */
} tp_meta_blob_out_t;

/* Replace the blob (copied; not hot path). 0 or -1. */
int tp_meta_blob_out_set(tp_meta_blob_out_t *o, uint32_t type, uint32_t version, const void *data, uint64_t len,
                         size_t max_message);
/* Start a (re)send from the announce, unless one is under way. */
void tp_meta_blob_out_start(tp_meta_blob_out_t *o);
/* Send the next message if one is due. Messages sent (0 or 1). */
int tp_meta_blob_out_pump(tp_meta_blob_out_t *o, tp_ipc_publication_t *pub, uint32_t stream_id);
void tp_meta_blob_out_free(tp_meta_blob_out_t *o);

#endif
