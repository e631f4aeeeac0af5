/* Producer side of meta blobs (W-10.3.3.a, W-15.9.a, D-18). */
#include "meta_blob_out.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/crc32c.h"
#include "tensorpool/error.h"
#include "tensorpool/meta_blob.h"

#include <stdlib.h>
#include <string.h>

int tp_meta_blob_out_set(tp_meta_blob_out_t *o, uint32_t type, uint32_t version, const void *data, uint64_t len,
                         size_t max_message)
{
    if (len > TP_META_BLOB_OUT_MAX)
        return tp_err_set(TP_ERR_INVALID_ARG, "meta blob: %llu bytes, at most %llu", (unsigned long long)len,
                          (unsigned long long)TP_META_BLOB_OUT_MAX);
    if (max_message < 8 + 16 + 4 + 1) return tp_err_set(TP_ERR_INVALID_ARG, "meta blob: transport messages too small");
    uint8_t *copy = malloc(len > 0 ? (size_t)len : 1);
    const size_t txcap = max_message < 8 + 16 + 4 + TP_META_CHUNK_MAX ? max_message : 8 + 16 + 4 + TP_META_CHUNK_MAX;
    uint8_t *tx = o->tx != NULL && o->txcap == txcap ? o->tx : malloc(txcap);
    if (copy == NULL || tx == NULL) {
        free(copy);
        if (tx != o->tx) free(tx);
        return tp_err_set(TP_ERR_CAPACITY, "meta blob: out of memory");
    }
    if (len > 0) memcpy(copy, data, (size_t)len);
    free(o->data);
    if (o->tx != tx) free(o->tx);
    o->data = copy;
    o->len = len;
    o->type = type;
    o->version = version;
    /* D-18: the CRC32C over the whole blob, zero-extended (a blob whose CRC
     * happens to be 0 goes unchecked: 0 means "none") */
    o->checksum = tp_crc32c(0, copy, (size_t)len);
    o->tx = tx;
    o->txcap = txcap;
    o->sending = 1; /* a new blob replaces one half sent */
    o->next = 0;
    return 0;
}

void tp_meta_blob_out_start(tp_meta_blob_out_t *o)
{
    if (o->data == NULL || o->sending != 0) return;
    o->sending = 1;
    o->next = 0;
}

int tp_meta_blob_out_pump(tp_meta_blob_out_t *o, tp_ipc_publication_t *pub, uint32_t stream_id)
{
    if (o->sending == 0) return 0;
    long n = -1;
    if (o->sending == 1) {
        tp_control_meta_blob_announce_enc_t e;
        tp_control_meta_blob_announce_encode_begin(&e, o->tx, o->txcap);
        tp_control_meta_blob_announce_set_stream_id(&e, stream_id);
        tp_control_meta_blob_announce_set_meta_version(&e, o->version);
        tp_control_meta_blob_announce_set_blob_type(&e, o->type);
        tp_control_meta_blob_announce_set_total_len(&e, o->len);
        tp_control_meta_blob_announce_set_checksum(&e, o->checksum);
        n = tp_control_meta_blob_announce_encode_end(&e);
        o->sending = o->len > 0 ? 2 : 3;
    } else if (o->sending == 2) {
        const size_t room = o->txcap - (8 + 16 + 4);
        const uint64_t left = o->len - o->next;
        const size_t chunk = left < room ? (size_t)left : room;
        tp_control_meta_blob_chunk_enc_t e;
        tp_control_meta_blob_chunk_encode_begin(&e, o->tx, o->txcap);
        tp_control_meta_blob_chunk_set_stream_id(&e, stream_id);
        tp_control_meta_blob_chunk_set_meta_version(&e, o->version);
        tp_control_meta_blob_chunk_set_chunk_offset(&e, o->next);
        tp_control_meta_blob_chunk_put_bytes(&e, o->data + o->next, chunk);
        n = tp_control_meta_blob_chunk_encode_end(&e);
        o->next += chunk;
        if (o->next == o->len) o->sending = 3;
    } else {
        tp_control_meta_blob_complete_enc_t e;
        tp_control_meta_blob_complete_encode_begin(&e, o->tx, o->txcap);
        tp_control_meta_blob_complete_set_stream_id(&e, stream_id);
        tp_control_meta_blob_complete_set_meta_version(&e, o->version);
        tp_control_meta_blob_complete_set_checksum(&e, o->checksum);
        n = tp_control_meta_blob_complete_encode_end(&e);
        o->sending = 0;
        o->sent++;
    }
    if (n > 0) tp_ipc_publication_offer(pub, o->tx, (size_t)n); /* lost: the consumer drops it, the repeat mends */
    return 1;
}

void tp_meta_blob_out_free(tp_meta_blob_out_t *o)
{
    free(o->data);
    free(o->tx);
    memset(o, 0, sizeof *o);
}
