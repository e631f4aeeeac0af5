/* Metadata store and meta blob assembler, fed with encoded messages
 * (docs/spec/wire.md §10.3): attributes taken whole or refused whole within
 * the limits, versions, foreign logs, and blobs reassembled or thrown away
 * on a gap, an overlap or a checksum mismatch (W-10.3.3.a, W-15.9.a, D-18). */
#include "tp_test.h"

#include "alloc_count.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/crc32c.h"
#include "tensorpool/meta.h"
#include "tensorpool/meta_blob.h"

#include <stdlib.h>
#include <string.h>

static uint8_t g_buf[70000];

typedef struct {
    const char *k, *f, *v;
} kv_t;

static long enc_meta(uint32_t stream, uint32_t version, const kv_t *kv, unsigned n)
{
    tp_control_data_source_meta_enc_t e;
    tp_control_data_source_meta_encode_begin(&e, g_buf, sizeof g_buf);
    tp_control_data_source_meta_set_stream_id(&e, stream);
    tp_control_data_source_meta_set_meta_version(&e, version);
    tp_control_data_source_meta_set_timestamp_ns(&e, 1);
    tp_control_data_source_meta_attributes_encode_begin(&e, (uint16_t)n);
    for (unsigned i = 0; i < n; i++) {
        tp_control_data_source_meta_attributes_encode_next(&e);
        tp_control_data_source_meta_attributes_put_key(&e, kv[i].k, strlen(kv[i].k));
        tp_control_data_source_meta_attributes_put_format(&e, kv[i].f, strlen(kv[i].f));
        tp_control_data_source_meta_attributes_put_value(&e, kv[i].v, strlen(kv[i].v));
    }
    return tp_control_data_source_meta_encode_end(&e);
}

static long enc_source(uint32_t stream, uint32_t version, const char *name)
{
    tp_control_data_source_announce_enc_t e;
    tp_control_data_source_announce_encode_begin(&e, g_buf, sizeof g_buf);
    tp_control_data_source_announce_set_stream_id(&e, stream);
    tp_control_data_source_announce_set_producer_id(&e, 5);
    tp_control_data_source_announce_set_epoch(&e, 3);
    tp_control_data_source_announce_set_meta_version(&e, version);
    tp_control_data_source_announce_put_name(&e, name, strlen(name));
    tp_control_data_source_announce_put_summary(&e, "a summary", 9);
    return tp_control_data_source_announce_encode_end(&e);
}

static int g_events[4];
static void on_event(void *clientd, const tp_meta_store_t *s, tp_meta_event_t ev)
{
    (void)clientd;
    (void)s;
    g_events[ev]++;
}

static void test_attributes_taken_and_versioned(void) /* W-10.3.2.a, W-10.3.2.b, W-10.3.1.a */
{
    tp_meta_store_t *s = NULL;
    CHECK_EQ_I64(tp_meta_store_open(&s, 7, NULL), 0);
    tp_meta_store_set_handler(s, on_event, NULL);
    memset(g_events, 0, sizeof g_events);
    CHECK(tp_meta_current(s, 0));
    CHECK(!tp_meta_current(s, 1));
    long n = enc_source(7, 1, "cam-left");
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), TP_META_EVENT_ANNOUNCE);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0); /* the 1 Hz repeat changes nothing */
    tp_meta_source_t src;
    CHECK_EQ_I64(tp_meta_source(s, &src), 1);
    CHECK_STR(src.name, "cam-left");
    CHECK_STR(src.summary, "a summary");
    CHECK_EQ_U64(src.meta_version, 1);
    CHECK_EQ_U64(src.epoch, 3);
    const kv_t kv[2] = {{"units", "text/plain", "mm"}, {"fx", "text/plain", "600.5"}};
    n = enc_meta(7, 1, kv, 2);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), TP_META_EVENT_ATTRIBUTES);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0);
    CHECK_EQ_U64(tp_meta_version(s), 1);
    CHECK(tp_meta_current(s, 1));
    CHECK(!tp_meta_current(s, 2));
    CHECK_EQ_U64(tp_meta_attr_count(s), 2);
    tp_meta_attr_view_t v;
    CHECK_EQ_I64(tp_meta_find(s, "fx", &v), 0);
    CHECK_STR((const char *)v.value, "600.5");
    CHECK_EQ_U64(v.value_len, 5);
    CHECK_STR(v.format, "text/plain");
    CHECK_EQ_I64(tp_meta_attr(s, 0, &v), 0);
    CHECK_STR(v.key, "units");
    CHECK_EQ_I64(tp_meta_attr(s, 2, &v), -1);
    CHECK_EQ_I64(tp_meta_find(s, "nope", &v), -1);
    /* another stream's metadata is not ours */
    n = enc_meta(8, 9, kv, 1);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0);
    CHECK_EQ_U64(tp_meta_version(s), 1);
    /* a new version with an attribute removed replaces the set */
    n = enc_meta(7, 2, kv, 1);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), TP_META_EVENT_ATTRIBUTES);
    CHECK_EQ_U64(tp_meta_attr_count(s), 1);
    CHECK(tp_meta_current(s, 2));
    CHECK_EQ_I64(g_events[TP_META_EVENT_ANNOUNCE], 1);
    CHECK_EQ_I64(g_events[TP_META_EVENT_ATTRIBUTES], 2);
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    CHECK_EQ_U64(c.metas, 2);
    CHECK_EQ_U64(c.refused_malformed + c.refused_oversized + c.refused_foreign, 0);
    tp_meta_store_close(s);
}

static void test_hostile_metadata_refused_and_counted(void)
{
    tp_meta_limits_t lim;
    tp_meta_limits_init(&lim);
    lim.max_attrs = 2;
    lim.max_attr_bytes = 64;
    tp_meta_store_t *s = NULL;
    CHECK_EQ_I64(tp_meta_store_open(&s, 7, &lim), 0);
    const kv_t good[1] = {{"k", "text/plain", "v"}};
    long n = enc_meta(7, 1, good, 1);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), TP_META_EVENT_ATTRIBUTES);
    /* too many attributes */
    const kv_t many[3] = {{"a", "", "1"}, {"b", "", "2"}, {"c", "", "3"}};
    n = enc_meta(7, 2, many, 3);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0);
    /* too many bytes */
    char big[100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const kv_t fat[1] = {{"a", "", big}};
    n = enc_meta(7, 3, fat, 1);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0);
    /* a key with a control character, an empty key */
    const kv_t bad[1] = {{"a\nb", "", "1"}};
    n = enc_meta(7, 4, bad, 1);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0);
    const kv_t empty[1] = {{"", "", "1"}};
    n = enc_meta(7, 5, empty, 1);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0);
    /* truncated: every shorter prefix is refused */
    n = enc_meta(7, 6, good, 1);
    int taken = 0;
    for (long cut = 12; cut < n; cut++) taken += tp_meta_store_on_message(s, g_buf, (size_t)cut, 1) != 0;
    CHECK_EQ_I64(taken, 0);
    /* a count that lies about the entries */
    n = enc_meta(7, 7, good, 1);
    g_buf[8 + 16 + 2] = 2;
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), 0);
    /* another uid's log */
    n = enc_meta(7, 8, good, 1);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 0), 0);
    n = enc_source(7, 8, "forged");
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 0), 0);
    tp_meta_source_t src;
    CHECK_EQ_I64(tp_meta_source(s, &src), 0);
    /* what was held stayed */
    CHECK_EQ_U64(tp_meta_version(s), 1);
    CHECK_EQ_U64(tp_meta_attr_count(s), 1);
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    CHECK_EQ_U64(c.refused_oversized, 2);
    CHECK(c.refused_malformed >= 3 + 1);
    CHECK_EQ_U64(c.refused_foreign, 2);
    tp_meta_store_close(s);
}

/* ---- blobs ---- */

static void blob_announce(tp_meta_store_t *s, uint32_t ver, uint64_t total, uint64_t crc, int want)
{
    tp_control_meta_blob_announce_enc_t e;
    tp_control_meta_blob_announce_encode_begin(&e, g_buf, sizeof g_buf);
    tp_control_meta_blob_announce_set_stream_id(&e, 7);
    tp_control_meta_blob_announce_set_meta_version(&e, ver);
    tp_control_meta_blob_announce_set_blob_type(&e, 42);
    tp_control_meta_blob_announce_set_total_len(&e, total);
    tp_control_meta_blob_announce_set_checksum(&e, crc);
    const long n = tp_control_meta_blob_announce_encode_end(&e);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), want);
}

static void blob_chunk(tp_meta_store_t *s, uint32_t ver, uint64_t off, const uint8_t *p, size_t len, int want)
{
    tp_control_meta_blob_chunk_enc_t e;
    tp_control_meta_blob_chunk_encode_begin(&e, g_buf, sizeof g_buf);
    tp_control_meta_blob_chunk_set_stream_id(&e, 7);
    tp_control_meta_blob_chunk_set_meta_version(&e, ver);
    tp_control_meta_blob_chunk_set_chunk_offset(&e, off);
    tp_control_meta_blob_chunk_put_bytes(&e, p, len);
    const long n = tp_control_meta_blob_chunk_encode_end(&e);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), want);
}

static void blob_complete(tp_meta_store_t *s, uint32_t ver, uint64_t crc, int want)
{
    tp_control_meta_blob_complete_enc_t e;
    tp_control_meta_blob_complete_encode_begin(&e, g_buf, sizeof g_buf);
    tp_control_meta_blob_complete_set_stream_id(&e, 7);
    tp_control_meta_blob_complete_set_meta_version(&e, ver);
    tp_control_meta_blob_complete_set_checksum(&e, crc);
    const long n = tp_control_meta_blob_complete_encode_end(&e);
    CHECK_EQ_I64(tp_meta_store_on_message(s, g_buf, (size_t)n, 1), want);
}

static uint8_t g_blob[200000];

static void test_blob_reassembled(void) /* W-10.3.3.a, W-15.9.a, D-18 */
{
    for (size_t i = 0; i < sizeof g_blob; i++) g_blob[i] = (uint8_t)(i * 7 + (i >> 9));
    const uint64_t crc = tp_crc32c(0, g_blob, sizeof g_blob);
    tp_meta_store_t *s = NULL;
    CHECK_EQ_I64(tp_meta_store_open(&s, 7, NULL), 0);
    const uint64_t a0 = tp_alloc_count();
    blob_announce(s, 3, sizeof g_blob, crc, 0);
    for (size_t off = 0; off < sizeof g_blob; off += TP_META_CHUNK_MAX) {
        const size_t len = sizeof g_blob - off < TP_META_CHUNK_MAX ? sizeof g_blob - off : TP_META_CHUNK_MAX;
        blob_chunk(s, 3, off, g_blob + off, len, 0);
    }
    blob_complete(s, 3, crc, TP_META_EVENT_BLOB);
    CHECK_EQ_U64(tp_alloc_count() - a0, 0); /* bounded: buffers allocated at open */
    tp_meta_blob_view_t b;
    CHECK_EQ_I64(tp_meta_blob(s, &b), 1);
    CHECK_EQ_U64(b.len, sizeof g_blob);
    CHECK_EQ_U64(b.meta_version, 3);
    CHECK_EQ_U64(b.blob_type, 42);
    CHECK(memcmp(b.data, g_blob, sizeof g_blob) == 0);
    /* the same blob repeated: skipped, no new event */
    blob_announce(s, 3, sizeof g_blob, crc, 0);
    blob_chunk(s, 3, 0, g_blob, 100, 0);
    blob_complete(s, 3, crc, 0);
    /* an empty blob without checksum */
    blob_announce(s, 4, 0, 0, 0);
    blob_complete(s, 4, 0, TP_META_EVENT_BLOB);
    CHECK_EQ_I64(tp_meta_blob(s, &b), 1);
    CHECK_EQ_U64(b.len, 0);
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    CHECK_EQ_U64(c.blobs, 2);
    CHECK_EQ_U64(c.blob_gap + c.blob_overlap + c.blob_checksum + c.blob_malformed + c.blob_oversized, 0);
    tp_meta_store_close(s);
}

static void test_blob_gap_overlap_checksum_thrown_away(void) /* W-10.3.3.a, D-18 */
{
    static uint8_t d[1000];
    for (size_t i = 0; i < sizeof d; i++) d[i] = (uint8_t)i;
    const uint64_t crc = tp_crc32c(0, d, sizeof d);
    tp_meta_limits_t lim;
    tp_meta_limits_init(&lim);
    lim.max_blob_bytes = 4096;
    tp_meta_store_t *s = NULL;
    CHECK_EQ_I64(tp_meta_store_open(&s, 7, &lim), 0);
    /* a good one first: refusals below must not destroy it */
    blob_announce(s, 1, sizeof d, crc, 0);
    blob_chunk(s, 1, 0, d, sizeof d, 0);
    blob_complete(s, 1, crc, TP_META_EVENT_BLOB);
    /* gap: second chunk starts past the first's end */
    blob_announce(s, 2, sizeof d, crc, 0);
    blob_chunk(s, 2, 0, d, 400, 0);
    blob_chunk(s, 2, 500, d + 500, 500, 0);
    blob_complete(s, 2, crc, 0);
    /* overlap: second chunk starts inside the first */
    blob_announce(s, 3, sizeof d, crc, 0);
    blob_chunk(s, 3, 0, d, 600, 0);
    blob_chunk(s, 3, 500, d + 500, 500, 0);
    /* past total_len */
    blob_announce(s, 4, 10, 0, 0);
    blob_chunk(s, 4, 0, d, 11, 0);
    /* completed short: [0, total) not covered */
    blob_announce(s, 5, sizeof d, crc, 0);
    blob_chunk(s, 5, 0, d, 999, 0);
    blob_complete(s, 5, crc, 0);
    /* a corrupted byte */
    blob_announce(s, 6, sizeof d, crc, 0);
    d[10] ^= 1;
    blob_chunk(s, 6, 0, d, sizeof d, 0);
    d[10] ^= 1;
    blob_complete(s, 6, crc, 0);
    /* announce and complete disagree */
    blob_announce(s, 7, sizeof d, crc, 0);
    blob_chunk(s, 7, 0, d, sizeof d, 0);
    blob_complete(s, 7, crc ^ 1, 0);
    /* larger than the limit; checksum with high bits set; orphan chunk */
    blob_announce(s, 8, 4097, 0, 0);
    blob_announce(s, 9, 10, 1ull << 40, 0);
    blob_chunk(s, 99, 0, d, 10, 0);
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    CHECK_EQ_U64(c.blobs, 1);
    CHECK_EQ_U64(c.blob_gap, 2);
    CHECK_EQ_U64(c.blob_overlap, 2);
    CHECK_EQ_U64(c.blob_checksum, 2);
    CHECK_EQ_U64(c.blob_oversized, 1);
    CHECK(c.blob_malformed >= 2); /* high bits, orphan (and the gap's/overlap's stray complete) */
    tp_meta_blob_view_t b;
    CHECK_EQ_I64(tp_meta_blob(s, &b), 1);
    CHECK_EQ_U64(b.meta_version, 1);
    CHECK(b.len == sizeof d && memcmp(b.data, d, sizeof d) == 0);
    tp_meta_store_close(s);
}

static void test_assembler_chunk_max(void) /* W-15.9.a */
{
    tp_meta_blob_asm_t a;
    CHECK_EQ_I64(tp_meta_blob_asm_init(&a, 200000), 0);
    CHECK_EQ_I64(tp_meta_blob_asm_announce(&a, 1, 0, 100000, 0), TP_META_BLOB_PROGRESS);
    static uint8_t big[TP_META_CHUNK_MAX + 1];
    CHECK_EQ_I64(tp_meta_blob_asm_chunk(&a, 1, 0, big, sizeof big), TP_META_BLOB_OVERSIZED);
    CHECK_EQ_I64(tp_meta_blob_asm_complete(&a, 1, 0), TP_META_BLOB_MALFORMED); /* thrown away already */
    CHECK_STR(tp_meta_blob_result_name(TP_META_BLOB_GAP), "gap");
    tp_meta_blob_asm_fini(&a);
    /* limit 0: every blob is oversized */
    CHECK_EQ_I64(tp_meta_blob_asm_init(&a, 0), 0);
    CHECK_EQ_I64(tp_meta_blob_asm_announce(&a, 1, 0, 1, 0), TP_META_BLOB_OVERSIZED);
    tp_meta_blob_asm_fini(&a);
}

int main(void)
{
    RUN(test_attributes_taken_and_versioned);
    RUN(test_hostile_metadata_refused_and_counted);
    RUN(test_blob_reassembled);
    RUN(test_blob_gap_overlap_checksum_thrown_away);
    RUN(test_assembler_chunk_max);
    TP_TEST_END();
}
