/* libFuzzer target for the metadata store and the meta blob assembler
 * (src/client/meta_store.c, meta_blob.c): the input is a sequence of
 * metadata-stream messages fed into one store with small limits.
 *
 * Input: records of [op u8][len u8][len bytes]. op % 6 selects:
 *   0 raw message (any bytes)
 *   1 MetaBlobAnnounce: version, type, total_len and checksum from the bytes
 *   2 MetaBlobChunk: version and offset from the first bytes, the rest as data
 *   3 MetaBlobComplete: version and checksum from the bytes
 *   4 DataSourceMeta: a valid header and root, the bytes as the group
 *   5 DataSourceAnnounce: a valid header, the bytes as root and var data
 * op & 0x80 marks the message as coming from another uid's log.
 *
 * Invariants (abort on violation; ASan/UBSan catch the rest):
 *  - counters never decrease, and a message changes at most one of them;
 *  - the attributes held are within the limits, keys non-empty printable
 *    ASCII, strings NUL-terminated where the views say;
 *  - a held blob fits the limit, and if it has a checksum its CRC32C matches
 *    (W-10.3.3.a, D-18); it changes only with a blob event;
 *  - a message from another uid's log changes nothing but its counter. */
#include "tensorpool/codec/control.h"
#include "tensorpool/crc32c.h"
#include "tensorpool/meta.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STREAM 7u

static uint64_t rd(const uint8_t *p, size_t len, size_t off, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && off + i < len; i++) v |= (uint64_t)p[off + i] << (8 * i);
    return v;
}

static size_t build(uint8_t op, const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    long r = -1;
    switch (op % 6) {
    case 0:
        memcpy(out, p, n);
        return n;
    case 1: {
        tp_control_meta_blob_announce_enc_t e;
        tp_control_meta_blob_announce_encode_begin(&e, out, cap);
        tp_control_meta_blob_announce_set_stream_id(&e, STREAM);
        tp_control_meta_blob_announce_set_meta_version(&e, (uint32_t)rd(p, n, 0, 1) % 4);
        tp_control_meta_blob_announce_set_blob_type(&e, (uint32_t)rd(p, n, 1, 1));
        tp_control_meta_blob_announce_set_total_len(&e, rd(p, n, 2, 2) | (rd(p, n, 4, 1) == 0xff ? 1ull << 40 : 0));
        tp_control_meta_blob_announce_set_checksum(&e, rd(p, n, 5, 1) < 0x80 ? 0 : rd(p, n, 6, 5));
        r = tp_control_meta_blob_announce_encode_end(&e);
        break;
    }
    case 2: {
        tp_control_meta_blob_chunk_enc_t e;
        tp_control_meta_blob_chunk_encode_begin(&e, out, cap);
        tp_control_meta_blob_chunk_set_stream_id(&e, STREAM);
        tp_control_meta_blob_chunk_set_meta_version(&e, (uint32_t)rd(p, n, 0, 1) % 4);
        tp_control_meta_blob_chunk_set_chunk_offset(&e, rd(p, n, 1, 2));
        tp_control_meta_blob_chunk_put_bytes(&e, p + (n < 3 ? n : 3), n < 3 ? 0 : n - 3);
        r = tp_control_meta_blob_chunk_encode_end(&e);
        break;
    }
    case 3: {
        tp_control_meta_blob_complete_enc_t e;
        tp_control_meta_blob_complete_encode_begin(&e, out, cap);
        tp_control_meta_blob_complete_set_stream_id(&e, STREAM);
        tp_control_meta_blob_complete_set_meta_version(&e, (uint32_t)rd(p, n, 0, 1) % 4);
        tp_control_meta_blob_complete_set_checksum(&e, rd(p, n, 1, 1) < 0x80 ? 0 : rd(p, n, 2, 5));
        r = tp_control_meta_blob_complete_encode_end(&e);
        break;
    }
    case 4:
    case 5: {
        const int meta = op % 6 == 4;
        const uint16_t bl = meta ? 16 : 20;
        const uint16_t tid = meta ? TP_CONTROL_DATA_SOURCE_META_TEMPLATE_ID : TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID;
        const uint8_t hdr[8] = {(uint8_t)bl, 0, (uint8_t)tid, 0, 0x84, 0x03, 1, 0}; /* schema 900, version 1 */
        memcpy(out, hdr, 8);
        const uint32_t sid = STREAM;
        memcpy(out + 8, &sid, 4);
        if (meta) {
            memset(out + 12, 0, 12);
            out[12] = (uint8_t)rd(p, n, 0, 1) % 4; /* metaVersion */
        }
        const size_t at = meta ? 24 : 12;
        memcpy(out + at, p, n);
        return at + n;
    }
    }
    return r > 0 ? (size_t)r : 0;
}

static void check_store(const tp_meta_store_t *s, const tp_meta_limits_t *lim)
{
    const uint32_t n = tp_meta_attr_count(s);
    if (n > lim->max_attrs) abort();
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        tp_meta_attr_view_t v;
        if (tp_meta_attr(s, i, &v) != 0) abort();
        const size_t kl = strlen(v.key);
        if (kl == 0) abort();
        for (size_t k = 0; k < kl; k++)
            if ((unsigned char)v.key[k] < 0x20 || (unsigned char)v.key[k] > 0x7e) abort();
        if (v.value[v.value_len] != '\0') abort();
        bytes += kl + strlen(v.format) + v.value_len;
    }
    if (bytes > lim->max_attr_bytes) abort();
    if (!tp_meta_current(s, 0)) abort();
    tp_meta_blob_view_t b;
    if (tp_meta_blob(s, &b)) {
        if (b.len > lim->max_blob_bytes) abort();
        if (b.checksum >> 32 != 0) abort();
        if (b.checksum != 0 && tp_crc32c(0, b.data, (size_t)b.len) != (uint32_t)b.checksum) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t msg[512];
    tp_meta_limits_t lim = {.max_attrs = 4, .max_attr_bytes = 256, .max_blob_bytes = 2048};
    tp_meta_store_t *s = NULL;
    if (tp_meta_store_open(&s, STREAM, &lim) != 0) abort();
    size_t pos = 0;
    while (pos + 2 <= size) {
        const uint8_t op = data[pos];
        size_t n = data[pos + 1];
        pos += 2;
        if (n > size - pos) n = size - pos;
        const size_t len = build(op, data + pos, n, msg, sizeof msg);
        pos += n;
        tp_meta_counters_t c0, c1;
        tp_meta_counters(s, &c0);
        tp_meta_blob_view_t b0, b1;
        const int had = tp_meta_blob(s, &b0);
        const uint32_t v0 = tp_meta_version(s);
        const int trusted = (op & 0x80) == 0;
        const int ev = tp_meta_store_on_message(s, msg, len, trusted);
        tp_meta_counters(s, &c1);
        const uint64_t *a = (const uint64_t *)&c0, *z = (const uint64_t *)&c1;
        int changed = 0;
        for (size_t i = 0; i < sizeof c0 / sizeof(uint64_t); i++) {
            if (z[i] < a[i]) abort();
            changed += z[i] != a[i];
        }
        if (changed > 1) abort();
        const int has = tp_meta_blob(s, &b1);
        if (ev != TP_META_EVENT_BLOB && (has != had || (has && (b1.len != b0.len || b1.meta_version != b0.meta_version))))
            abort();
        if (ev != TP_META_EVENT_ATTRIBUTES && tp_meta_version(s) != v0) abort();
        if (!trusted && (ev != 0 || (changed == 1 && c1.refused_foreign == c0.refused_foreign))) abort();
        check_store(s, &lim);
    }
    tp_meta_store_close(s);
    return 0;
}
