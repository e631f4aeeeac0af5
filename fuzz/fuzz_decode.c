/* libFuzzer target for the decoders of one schema (TP_FUZZ_SCHEMA = 900, 901,
 * 902, 903, 904, 910) or, with TP_FUZZ_SCHEMA = 0, the headerless SHM structures.
 *
 * Properties checked on every input, besides "no crash, no out-of-bounds
 * read" (ASan/UBSan):
 *  - a message that decodes also prints as JSON and re-encodes;
 *  - strict schemas (900/901): the re-encoding equals the input bytes;
 *  - every schema: re-encoding the re-encoding changes nothing;
 *  - 900: an accepted ShmPoolAnnounce (tp_pool_announce_accept) hands out
 *    URIs inside the input and no more pools than a reader holds;
 *  - 902: a chunk that parses (with and without the CRC32C trailer, BR-P3)
 *    goes through the bridge assembler (docs/spec/bridge.md §3), whose
 *    writes stay inside the frame's buffer and which ends either pending,
 *    complete with exactly payloadLength bytes, or dropped with a cause;
 *  - 903: a MergeMap announce that decodes and validates encodes again and
 *    decodes to an equivalent map; requests decode without harm. */
#include "tensorpool/bridge_assembler.h"
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

#if TP_FUZZ_SCHEMA == 902
static uint8_t *acquire_frame(void *ctx, uint64_t epoch, uint64_t seq, uint32_t len)
{
    (void)epoch;
    (void)seq;
    return len <= (1u << 16) ? ctx : NULL;
}
#endif

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
#elif TP_FUZZ_SCHEMA == 902
    /* One frame buffer with guard bytes after it: the assembler must never
     * write past payloadLength (BR-5.2.d). Limits keep the buffer small. */
    enum { CAP = 1 << 16, GUARD = 64 };
    static uint8_t frame_buf[CAP + GUARD];
    static tp_bridge_asm_t *a;
    static uint64_t now;
    if (a == NULL) {
        tp_bridge_asm_config_t cfg;
        tp_bridge_asm_config_init(&cfg, 0);
        cfg.max_payload_bytes = CAP;
        cfg.max_chunk_bytes = 65535;
        cfg.assemblies = 1;
        const tp_bridge_sink_t sink = {acquire_frame, NULL, frame_buf};
        if (tp_bridge_asm_init(&a, &cfg, &sink) != 0) abort();
    }
    for (int crc = 0; crc < 2; crc++) {
        tp_bridge_chunk_t c;
        if (tp_bridge_chunk_parse(in, len, crc == 1, &c) != 0) continue;
        if (c.payload + c.payload_len > in + len || (c.header_len && c.header + c.header_len > in + len)) abort();
        c.stream_id = 0; /* the assembler's stream */
        tp_bridge_announce_t ann = {.epoch = c.epoch, .npools = 1, .pool_id = {1}, .stride = {CAP}};
        tp_bridge_asm_set_announce(a, &ann);
        memset(frame_buf + CAP, 0xA5, GUARD);
        tp_bridge_frame_t f;
        tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT_;
        const tp_bridge_result_t r = tp_bridge_asm_on_chunk(a, &c, now++, &f, &why);
        if (r == TP_BRIDGE_COMPLETE && (f.payload_length != c.payload_length || f.buf != frame_buf)) abort();
        for (int g = 0; g < GUARD; g++)
            if (frame_buf[CAP + g] != 0xA5) abort();
        (void)tp_bridge_asm_poll(a, now + 1000000000u);
    }
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
