/* Meta blob assembler (docs/spec/wire.md W-10.3.3.a, W-15.9.a, D-18). */
#include "tensorpool/meta_blob.h"

#include "tensorpool/crc32c.h"
#include "tensorpool/error.h"

#include <stdlib.h>
#include <string.h>

int tp_meta_blob_asm_init(tp_meta_blob_asm_t *a, uint64_t cap)
{
    memset(a, 0, sizeof *a);
    a->cap = cap;
    if (cap == 0) return 0;
    if (cap > SIZE_MAX / 2) return tp_err_set(TP_ERR_INVALID_ARG, "meta blob: limit %llu too large", (unsigned long long)cap);
    a->work = malloc((size_t)cap);
    a->done = malloc((size_t)cap);
    if (a->work == NULL || a->done == NULL) {
        tp_meta_blob_asm_fini(a);
        return tp_err_set(TP_ERR_CAPACITY, "meta blob: cannot allocate 2 x %llu bytes", (unsigned long long)cap);
    }
    return 0;
}

void tp_meta_blob_asm_fini(tp_meta_blob_asm_t *a)
{
    free(a->work);
    free(a->done);
    a->work = a->done = NULL;
    a->active = a->have = 0;
}

/* A new announce replaces whatever was being assembled (W-10.3.3.a: no
 * repair), unless it repeats the blob already held. */
tp_meta_blob_result_t tp_meta_blob_asm_announce(tp_meta_blob_asm_t *a, uint32_t version, uint32_t type, uint64_t total_len,
                                                uint64_t checksum)
{
    a->active = 0;
    a->skipping = 0;
    if (checksum >> 32 != 0) return TP_META_BLOB_MALFORMED; /* D-18: a CRC32C zero-extended */
    if (total_len > a->cap) return TP_META_BLOB_OVERSIZED;
    if (a->have && version == a->done_version && type == a->done_type && total_len == a->done_len &&
        checksum == a->done_checksum) {
        a->skipping = 1;
        a->skip_version = version;
        return TP_META_BLOB_IGNORED;
    }
    a->active = 1;
    a->version = version;
    a->type = type;
    a->total = total_len;
    a->checksum = checksum;
    a->next = 0;
    return TP_META_BLOB_PROGRESS;
}

tp_meta_blob_result_t tp_meta_blob_asm_chunk(tp_meta_blob_asm_t *a, uint32_t version, uint64_t offset, const uint8_t *data,
                                             size_t len)
{
    if (a->skipping && version == a->skip_version) return TP_META_BLOB_IGNORED;
    if (!a->active || version != a->version) return TP_META_BLOB_MALFORMED;
    tp_meta_blob_result_t r = TP_META_BLOB_PROGRESS;
    if (len > TP_META_CHUNK_MAX) r = TP_META_BLOB_OVERSIZED;
    else if (offset > a->next) r = TP_META_BLOB_GAP;
    else if (offset < a->next || len > a->total - a->next) r = TP_META_BLOB_OVERLAP;
    if (r != TP_META_BLOB_PROGRESS) {
        a->active = 0; /* thrown away (W-10.3.3.a) */
        return r;
    }
    if (len > 0) memcpy(a->work + a->next, data, len);
    a->next += len;
    return TP_META_BLOB_PROGRESS;
}

tp_meta_blob_result_t tp_meta_blob_asm_complete(tp_meta_blob_asm_t *a, uint32_t version, uint64_t checksum)
{
    if (a->skipping && version == a->skip_version) {
        a->skipping = 0;
        return TP_META_BLOB_IGNORED;
    }
    if (!a->active || version != a->version) return TP_META_BLOB_MALFORMED;
    a->active = 0;
    if (a->next != a->total) return TP_META_BLOB_GAP; /* [0, total_len) not covered */
    if (checksum >> 32 != 0) return TP_META_BLOB_MALFORMED;
    if (checksum != 0 && a->checksum != 0 && checksum != a->checksum) return TP_META_BLOB_CHECKSUM;
    const uint64_t want = a->checksum != 0 ? a->checksum : checksum;
    if (want != 0 && (uint64_t)tp_crc32c(0, a->work, (size_t)a->total) != want) return TP_META_BLOB_CHECKSUM;
    /* swap: the assembled buffer becomes the held one */
    uint8_t *t = a->done;
    a->done = a->work;
    a->work = t;
    a->have = 1;
    a->done_version = a->version;
    a->done_type = a->type;
    a->done_len = a->total;
    a->done_checksum = a->checksum;
    return TP_META_BLOB_DONE;
}

const char *tp_meta_blob_result_name(tp_meta_blob_result_t r)
{
    switch (r) {
    case TP_META_BLOB_IGNORED: return "ignored";
    case TP_META_BLOB_PROGRESS: return "progress";
    case TP_META_BLOB_DONE: return "done";
    case TP_META_BLOB_OVERSIZED: return "oversized";
    case TP_META_BLOB_GAP: return "gap";
    case TP_META_BLOB_OVERLAP: return "overlap";
    case TP_META_BLOB_CHECKSUM: return "checksum";
    case TP_META_BLOB_MALFORMED: return "malformed";
    }
    return "unknown";
}
