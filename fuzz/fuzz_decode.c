/* libFuzzer target for the decoders of one schema (TP_FUZZ_SCHEMA = 900, 901,
 * 903, 904, 910) or, with TP_FUZZ_SCHEMA = 0, the headerless SHM structures.
 *
 * Properties checked on every input, besides "no crash, no out-of-bounds
 * read" (ASan/UBSan):
 *  - a message that decodes also prints as JSON and re-encodes;
 *  - strict schemas (900/901): the re-encoding equals the input bytes;
 *  - every schema: re-encoding the re-encoding changes nothing;
 *  - 900: an accepted ShmPoolAnnounce (tp_pool_announce_accept) hands out
 *    URIs inside the input and no more pools than a reader holds;
 *  - 903: a MergeMap announce that decodes and validates encodes again and
 *    decodes to an equivalent map; requests decode without harm. */
#include "tensorpool/codec/registry.h"
#include "tensorpool/merge_map_codec.h"
#include "tensorpool/pool_announce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull(void)
{
    static FILE *f;
    if (f == NULL)
        f = fopen("/dev/null", "w");
    return f;
}

static void check_message(const tp_codec_message_t *m, const uint8_t *in, size_t len, bool headerless)
{
    tp_json_t j;
    size_t consumed = 0;
    tp_json_init(&j, devnull());
    if (m->print_json(in, len, headerless, &j, &consumed) < 0)
        return;
    if (consumed > len)
        abort();
    uint8_t *out = malloc(consumed + 1);
    uint8_t *again = malloc(consumed + 1);
    long n = m->reencode(in, len, headerless, out, consumed);
    if (n < 0 || (size_t)n > consumed)
        abort();
    if (m->layout->policy == TP_SBE_POLICY_STRICT && ((size_t)n != consumed || memcmp(out, in, consumed) != 0))
        abort();
    long n2 = m->reencode(out, (size_t)n, headerless, again, (size_t)n);
    if (n2 != n || memcmp(out, again, (size_t)n) != 0)
        abort();
    free(out);
    free(again);
}

/* The semantic layer above the generated decoders, on the same input. */
static void check_semantics(const uint8_t *in, size_t len)
{
#if TP_FUZZ_SCHEMA == 900
    tp_control_shm_pool_announce_dec_t d;
    if (tp_control_shm_pool_announce_decode(&d, in, len) != 0) return;
    const uint64_t ts = tp_control_shm_pool_announce_announce_timestamp_ns(&d);
    const tp_announce_filter_t f = {tp_control_shm_pool_announce_stream_id(&d), (int64_t)(ts >> 1), 0, UINT64_MAX};
    tp_shm_reader_config_t rc;
    if (tp_pool_announce_accept(&d, &f, &rc) != TP_ANNOUNCE_ACCEPTED) return;
    const char *lo = (const char *)in, *hi = (const char *)in + len;
    if (rc.npools == 0 || rc.npools > TP_SHM_MAX_POOLS) abort();
    if (rc.ring_uri < lo || rc.ring_uri + rc.ring_uri_len > hi) abort();
    for (unsigned i = 0; i < rc.npools; i++)
        if (rc.pools[i].uri < lo || rc.pools[i].uri + rc.pools[i].uri_len > hi) abort();
#elif TP_FUZZ_SCHEMA == 903
    static tp_merge_map_t map, again;
    static uint8_t out[1 << 16];
    if (map.rules == NULL && (tp_merge_map_init(&map, TP_MERGE_KIND_SEQUENCE, 64) != 0 ||
                              tp_merge_map_init(&again, TP_MERGE_KIND_SEQUENCE, 64) != 0))
        abort();
    tp_merge_request_t req;
    (void)tp_merge_request_decode(&req, in, len);
    if (tp_merge_announce_decode(&map, in, len) != TP_MERGE_DECODE_OK) return;
    if (tp_merge_map_validate(&map, 64) != 0) return;
    const long n = tp_merge_announce_encode(&map, 64, out, sizeof out);
    if (n < 0) abort(); /* a valid map always encodes */
    if (tp_merge_announce_decode(&again, out, (size_t)n) != TP_MERGE_DECODE_OK) abort();
    if (!tp_merge_map_equivalent(&map, &again)) abort();
#else
    (void)in;
    (void)len;
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past the end is caught by ASan. */
    uint8_t *in = malloc(size + 1);
    memcpy(in, data, size);
#if TP_FUZZ_SCHEMA == 0
    check_message(tp_codec_find_by_name("ShmRegionSuperblock"), in, size, true);
    check_message(tp_codec_find_by_name("SlotHeader"), in, size, true);
#else
    if (size >= TP_SBE_HEADER_LENGTH) {
        /* Pin the schema id so the fuzzer spends its time inside this schema. */
        tp_sbe_put_u16(in + 4, TP_FUZZ_SCHEMA);
        const tp_codec_message_t *m = tp_codec_find(TP_FUZZ_SCHEMA, tp_sbe_get_u16(in + 2));
        if (m != NULL)
            check_message(m, in, size, false);
        check_semantics(in, size);
    }
    tp_json_t j;
    size_t consumed;
    tp_json_init(&j, devnull());
    (void)tp_codec_print_json(in, size, &j, &consumed);
#endif
    free(in);
    return 0;
}
