/* Schema 903 glue: scenarios 72–84 of docs/spec/join-barrier.md §6 against the
 * golden vectors of §4.9 and the interop files (argv[1] = interop folder). */
#include "join_fixture.h"

#include "tensorpool/merge_map_codec.h"

static const char *interop_dir; /* argv[1]: the interop vectors folder */

static const uint8_t seq_announce_golden[45] = {
    0x14, 0x00, 0x01, 0x00, 0x87, 0x03, 0x01, 0x00, 0xd0, 0x07, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x42, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x00,
    0x01, 0x00, 0xe9, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
static const uint8_t seq_request_golden[20] = {0x0c, 0x00, 0x02, 0x00, 0x87, 0x03, 0x01, 0x00, 0xd0, 0x07,
                                               0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t time_announce_golden[63] = {
    0x1d, 0x00, 0x03, 0x00, 0x87, 0x03, 0x01, 0x00, 0xd1, 0x07, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x40, 0x42, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x00, 0x01, 0x00, 0xea, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t time_request_golden[20] = {0x0c, 0x00, 0x04, 0x00, 0x87, 0x03, 0x01, 0x00, 0xd1, 0x07,
                                                0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t seq_announce_out5[58] = {
    0x14, 0x00, 0x01, 0x00, 0x87, 0x03, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0d, 0x00,
    0x02, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x0b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x80, 0x04, 0x00, 0x00, 0x00};
static const uint8_t time_announce_out8[63] = {
    0x1d, 0x00, 0x03, 0x00, 0x87, 0x03, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0a, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x00, 0x01, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0,
    0xb4, 0xb3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t seq_request_9_42[20] = {0x0c, 0x00, 0x02, 0x00, 0x87, 0x03, 0x01, 0x00, 0x09, 0x00,
                                             0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

static tp_merge_map_t dm; /* decode target, capacity 8 */

static tp_merge_decode_t dec(const void *buf, size_t len) { return tp_merge_announce_decode(&dm, buf, len); }

#define DEC(buf, len, expect) CHECK_STR(tp_merge_decode_name(dec((buf), (len))), tp_merge_decode_name(expect))

static size_t read_file(const char *name, uint8_t *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", interop_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        tp_test_failed_checks++;
        return 0;
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void check_reencode(const tp_merge_map_t *m, const uint8_t *want, size_t len)
{
    uint8_t out[256];
    long n = tp_merge_announce_encode(m, 0, out, sizeof out);
    CHECK_EQ_I64(n, (int64_t)len);
    CHECK(n == (long)len && memcmp(out, want, len) == 0);
}

/* JB-10.1.a, JB-10.1.b, JB-10.1.c, JB-10.1.e, JB-10.1.h, JB-10.4.a, JB-10.4.b, JB-10.4.c, JB-10.4.d,
 * JB-10.3.e, JB-10.5.a, JB-1.1 */
static void s72_decode_golden_vectors(void)
{
    DEC(seq_announce_golden, sizeof seq_announce_golden, TP_MERGE_DECODE_OK);
    CHECK(dm.kind == TP_MERGE_KIND_SEQUENCE);
    CHECK_EQ_U64(dm.out_stream_id, 2000);
    CHECK_EQ_U64(dm.epoch, 1);
    CHECK_EQ_U64(dm.stale_timeout_ns, 1000000);
    CHECK_EQ_U64(dm.rule_count, 1);
    CHECK_EQ_U64(dm.rules[0].input_stream_id, 1001);
    CHECK_EQ_U64(dm.rules[0].rule_type, TP_MERGE_RULE_OFFSET);
    CHECK_EQ_I64(dm.rules[0].offset, 0);
    CHECK_EQ_U64(dm.rules[0].window, TP_MERGE_NULL_U32);
    check_reencode(&dm, seq_announce_golden, sizeof seq_announce_golden);

    DEC(time_announce_golden, sizeof time_announce_golden, TP_MERGE_DECODE_OK);
    CHECK(dm.kind == TP_MERGE_KIND_TIMESTAMP);
    CHECK_EQ_U64(dm.out_stream_id, 2001);
    CHECK_EQ_U64(dm.epoch, 1);
    CHECK_EQ_U64(dm.stale_timeout_ns, 1000000);
    CHECK_EQ_U64(dm.clock_domain, TP_CLOCK_MONOTONIC);
    CHECK_EQ_U64(dm.lateness_ns, 0);
    CHECK_EQ_U64(dm.rule_count, 1);
    CHECK_EQ_U64(dm.rules[0].input_stream_id, 1002);
    CHECK_EQ_U64(dm.rules[0].rule_type, TP_MERGE_RULE_OFFSET);
    CHECK_EQ_U64(dm.rules[0].timestamp_source, TP_TS_SOURCE_FRAME_DESCRIPTOR);
    CHECK_EQ_I64(dm.rules[0].offset, 0);
    CHECK_EQ_U64(dm.rules[0].window, TP_MERGE_NULL_U64);
    check_reencode(&dm, time_announce_golden, sizeof time_announce_golden);

    const uint8_t *reqs[2] = {seq_request_golden, time_request_golden};
    for (int i = 0; i < 2; i++) {
        tp_merge_request_t req;
        CHECK(tp_merge_request_decode(&req, reqs[i], 20) == TP_MERGE_DECODE_OK);
        CHECK(req.kind == (i == 0 ? TP_MERGE_KIND_SEQUENCE : TP_MERGE_KIND_TIMESTAMP));
        CHECK_EQ_U64(req.out_stream_id, 2000 + (unsigned)i);
        CHECK_EQ_U64(req.epoch, 1);
        uint8_t out[32];
        CHECK_EQ_I64(tp_merge_request_encode(&req, out, sizeof out), 20);
        CHECK(memcmp(out, reqs[i], 20) == 0);
    }

    /* The interop files hold the same bytes. */
    uint8_t file[256];
    CHECK_EQ_U64(read_file("merge_sequence_map_announce.bin", file, sizeof file), 45);
    CHECK(memcmp(file, seq_announce_golden, 45) == 0);
    CHECK_EQ_U64(read_file("merge_sequence_map_request.bin", file, sizeof file), 20);
    CHECK(memcmp(file, seq_request_golden, 20) == 0);
    CHECK_EQ_U64(read_file("merge_timestamp_map_announce.bin", file, sizeof file), 63);
    CHECK(memcmp(file, time_announce_golden, 63) == 0);
    CHECK_EQ_U64(read_file("merge_timestamp_map_request.bin", file, sizeof file), 20);
    CHECK(memcmp(file, time_request_golden, 20) == 0);
}

/* JB-10.1.d (null sentinels), §4.8 E1, E2 */
static void s73_encode_computed_vectors(void)
{
    tp_merge_map_t m;
    uint8_t out[128];
    CHECK(tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 4) == 0);
    tp_merge_map_reset(&m, 5, 7);
    tp_merge_map_add_offset(&m, 10, -1);
    tp_merge_map_add_window(&m, 11, 4);
    CHECK_EQ_U64(tp_merge_announce_length(&m), 58);
    CHECK_EQ_I64(tp_merge_announce_encode(&m, 0, out, sizeof out), 58);
    CHECK(memcmp(out, seq_announce_out5, 58) == 0);
    DEC(out, 58, TP_MERGE_DECODE_OK);
    CHECK(tp_merge_map_equivalent(&dm, &m));
    tp_merge_map_close(&m);

    CHECK(tp_merge_map_init(&m, TP_MERGE_KIND_TIMESTAMP, 4) == 0);
    tp_merge_map_reset(&m, 8, 2);
    tp_merge_map_set_clock(&m, TP_CLOCK_MONOTONIC, 10);
    tp_merge_map_add_offset_ns(&m, 20, FD, -5000000);
    CHECK_EQ_I64(tp_merge_announce_encode(&m, 0, out, sizeof out), 63);
    CHECK(memcmp(out, time_announce_out8, 63) == 0);
    DEC(out, 63, TP_MERGE_DECODE_OK);
    CHECK(tp_merge_map_equivalent(&dm, &m));
    CHECK_EQ_U64(dm.lateness_ns, 10);
    tp_merge_map_close(&m);

    tp_merge_request_t req = {TP_MERGE_KIND_SEQUENCE, 9, 42}, back;
    CHECK_EQ_I64(tp_merge_request_encode(&req, out, sizeof out), 20);
    CHECK(memcmp(out, seq_request_9_42, 20) == 0);
    CHECK(tp_merge_request_decode(&back, out, 20) == TP_MERGE_DECODE_OK);
    CHECK(back.kind == req.kind && back.out_stream_id == 9 && back.epoch == 42);
}

/* JB-14.1, JB-10.1.h: schemaId checked before decoding */
static void s74_schema_guard(void)
{
    uint8_t b[45];
    memcpy(b, seq_announce_golden, 45);
    b[4] = 0x01;
    b[5] = 0x00;
    tp_join_barrier_t *bar = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(bar, m, TP_JOIN_APPLY_REPLACED);
    OBS(bar, 1, 5);
    DEC(b, 45, TP_MERGE_DECODE_NOT_MINE);
    RDY(bar, 5, 1, ""); /* no barrier change */
    /* schema 900 on the control stream: the merge dispatcher skips it */
    b[4] = 0x84;
    b[5] = 0x03;
    CHECK_EQ_I64(tp_merge_msg_classify(b, 45), 0);
    DEC(b, 45, TP_MERGE_DECODE_NOT_MINE);
    tp_join_barrier_destroy(bar);
}

static void s75_template_guard(void)
{
    DEC(seq_request_golden, 20, TP_MERGE_DECODE_NOT_MINE);
    tp_merge_request_t req;
    CHECK(tp_merge_request_decode(&req, seq_announce_golden, 45) == TP_MERGE_DECODE_NOT_MINE);
    uint8_t b[45];
    memcpy(b, seq_announce_golden, 45);
    b[2] = 9;
    CHECK_EQ_I64(tp_merge_msg_classify(b, 45), 0); /* skipped by the dispatcher */
    DEC(b, 45, TP_MERGE_DECODE_NOT_MINE);
    CHECK_EQ_I64(tp_merge_msg_classify(seq_announce_golden, 45), 1);
    CHECK_EQ_I64(tp_merge_msg_classify(time_request_golden, 20), 4);
}

/* §4.7 D4, §7 item 11 */
static void s76_version(void)
{
    uint8_t b[45];
    memcpy(b, seq_announce_golden, 45);
    b[6] = 0;
    DEC(b, 45, TP_MERGE_DECODE_MALFORMED);
    b[6] = 2;
    DEC(b, 45, TP_MERGE_DECODE_UNSUPPORTED_VERSION);
}

/* §4.7 D5 (forward compatibility) */
static void s77_larger_root_block(void)
{
    uint8_t b[49];
    memcpy(b, seq_announce_golden, 28);
    memset(b + 28, 0, 4);
    memcpy(b + 32, seq_announce_golden + 28, 17);
    b[0] = 24;
    DEC(b, 49, TP_MERGE_DECODE_OK);
    CHECK_EQ_U64(dm.out_stream_id, 2000);
    CHECK_EQ_U64(dm.stale_timeout_ns, 1000000);
    CHECK_EQ_U64(dm.rule_count, 1);
    CHECK_EQ_U64(dm.rules[0].input_stream_id, 1001);
}

static void s78_smaller_root_block(void)
{
    uint8_t b[45];
    memcpy(b, seq_announce_golden, 45);
    b[0] = 12;
    DEC(b, 45, TP_MERGE_DECODE_MALFORMED);
}

/* §4.7 D1, D6, D8 */
static void s79_truncation(void)
{
    uint8_t b[45];
    memcpy(b, seq_announce_golden, 45);
    b[30] = 3;
    DEC(b, 45, TP_MERGE_DECODE_MALFORMED);
    DEC(seq_announce_golden, 44, TP_MERGE_DECODE_MALFORMED);
    DEC(seq_announce_golden, 7, TP_MERGE_DECODE_MALFORMED);
    DEC(seq_announce_golden, 0, TP_MERGE_DECODE_MALFORMED);
    CHECK_EQ_I64(tp_merge_msg_classify(seq_announce_golden, 7), -1);
}

/* §4.7 D7 */
static void s80_group_stride(void)
{
    uint8_t b[128];
    /* two rules, stride 16: three zero bytes after each entry */
    memcpy(b, seq_announce_out5, 28);
    b[28] = 16;
    b[29] = 0;
    b[30] = 2;
    b[31] = 0;
    memcpy(b + 32, seq_announce_out5 + 32, 13);
    memset(b + 45, 0, 3);
    memcpy(b + 48, seq_announce_out5 + 45, 13);
    memset(b + 61, 0, 3);
    DEC(b, 64, TP_MERGE_DECODE_OK);
    CHECK_EQ_U64(dm.rule_count, 2);
    CHECK_EQ_U64(dm.rules[0].input_stream_id, 10);
    CHECK_EQ_I64(dm.rules[0].offset, -1);
    CHECK_EQ_U64(dm.rules[1].input_stream_id, 11);
    CHECK_EQ_U64(dm.rules[1].rule_type, TP_MERGE_RULE_WINDOW);
    CHECK_EQ_U64(dm.rules[1].window, 4);
    b[28] = 12;
    DEC(b, 64, TP_MERGE_DECODE_MALFORMED);
    /* D10: bytes after the last entry are ignored */
    uint8_t c[50];
    memcpy(c, seq_announce_golden, 45);
    memset(c + 45, 0xab, 5);
    DEC(c, 50, TP_MERGE_DECODE_OK);
}

/* JB-10.3.f: an extended request (larger root block) still yields the minimal fields */
static void request_forward_compatible(void)
{
    uint8_t b[24];
    memcpy(b, seq_request_9_42, 20);
    memset(b + 20, 0x77, 4);
    b[0] = 16;
    tp_merge_request_t req;
    CHECK(tp_merge_request_decode(&req, b, 24) == TP_MERGE_DECODE_OK);
    CHECK(req.out_stream_id == 9 && req.epoch == 42 && req.kind == TP_MERGE_KIND_SEQUENCE);
    CHECK(tp_merge_request_decode(&req, b, 20) == TP_MERGE_DECODE_MALFORMED); /* block claims 16, only 12 there */
    uint8_t small[8];
    CHECK(tp_merge_request_encode(&req, small, sizeof small) == -1);
}

/* §4.7 D9 */
static void s81_capacity(void)
{
    tp_merge_map_t m, small;
    uint8_t out[128];
    CHECK(tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 4) == 0);
    CHECK(tp_merge_map_init(&small, TP_MERGE_KIND_SEQUENCE, 2) == 0);
    tp_merge_map_reset(&m, 10, 3);
    tp_merge_map_add_offset(&m, 1, 0);
    tp_merge_map_add_offset(&m, 2, 0);
    tp_merge_map_add_offset(&m, 3, 0);
    long n = tp_merge_announce_encode(&m, 0, out, sizeof out);
    CHECK(n > 0);
    CHECK(tp_merge_announce_decode(&small, out, (size_t)n) == TP_MERGE_DECODE_CAPACITY);
    CHECK_EQ_U64(small.out_stream_id, 10);
    CHECK_EQ_U64(small.epoch, 3);
    /* the barrier then judges it: INVALID for its own stream (capacity) */
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, TP_JOIN_MODE_SEQUENCE, OUT, 2);
    tp_join_barrier_t *b = fx_barrier_cfg(&cfg);
    CHECK(tp_join_barrier_apply(b, &m, 0) == TP_JOIN_APPLY_INVALID);
    tp_join_barrier_destroy(b);
    /* E4: encoder refuses more rules than the configured maximum */
    CHECK(tp_merge_announce_encode(&m, 2, out, sizeof out) == -1);
    CHECK(tp_errcode() == TP_ERR_CAPACITY);
    tp_merge_map_close(&m);
    tp_merge_map_close(&small);
}

/* JB-10.4.e, JB-8.2.f */
static void s82_nulls(void)
{
    uint8_t b[63];
    memcpy(b, time_announce_golden, 63);
    memset(b + 8 + 21, 0xff, 8);
    DEC(b, 63, TP_MERGE_DECODE_OK);
    CHECK_EQ_U64(dm.lateness_ns, TP_MERGE_NULL_U64);
    CHECK_EQ_U64(tp_merge_map_effective_lateness(&dm), 0);
    memset(b + 8 + 12, 0xff, 8);
    DEC(b, 63, TP_MERGE_DECODE_OK);
    CHECK_EQ_U64(dm.stale_timeout_ns, TP_MERGE_NULL_U64);
}

/* §4.8 E3 */
static void s83_encoder_refuses(void)
{
    uint8_t out[128];
    memset(out, 0x5a, sizeof out);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    fx_raw(m, 1, TP_MERGE_RULE_WINDOW, 0, TP_MERGE_NULL_OFFSET, 0);
    CHECK(tp_merge_announce_encode(m, 0, out, sizeof out) == -1);
    m = fx_seq_map(1, NO_STALE);
    fx_raw(m, 1, 99, 0, 0, TP_MERGE_NULL_U32);
    CHECK(tp_merge_announce_encode(m, 0, out, sizeof out) == -1);
    m = fx_time_map(1, NO_STALE, MONO, 0);
    fx_raw(m, 1, TP_MERGE_RULE_OFFSET, 0, 0, TP_MERGE_NULL_U64);
    CHECK(tp_merge_announce_encode(m, 0, out, sizeof out) == -1);
    m = fx_time_map(1, NO_STALE, MONO, 0);
    tp_merge_map_add_offset_ns(m, 1, FD, 0);
    m->clock_domain = 0;
    CHECK(tp_merge_announce_encode(m, 0, out, sizeof out) == -1);
    /* E5: a buffer short of the group is refused too */
    m->clock_domain = MONO;
    CHECK(tp_merge_announce_encode(m, 0, out, 40) == -1);
    for (size_t i = 0; i < sizeof out; i++) CHECK(out[i] == 0x5a); /* nothing written */
}

/* §4.7 D11, JB-6.2.f */
static void s84_semantic_errors_pass_decoder(void)
{
    uint8_t b[45];
    memcpy(b, seq_announce_golden, 45);
    b[8] = 10; /* outStreamId 10 */
    b[9] = 0;
    b[8 + 20 + 4 + 4] = 99; /* ruleType */
    tp_join_barrier_t *bar = fx_barrier(TP_JOIN_MODE_SEQUENCE);
    tp_merge_map_t *m = fx_seq_map(1, NO_STALE);
    tp_merge_map_add_offset(m, 1, 0);
    APPLY(bar, m, TP_JOIN_APPLY_REPLACED);
    DEC(b, 45, TP_MERGE_DECODE_OK);
    CHECK_EQ_U64(dm.rules[0].rule_type, 99);
    APPLY(bar, &dm, TP_JOIN_APPLY_INVALID);
    CHECK(!tp_join_barrier_has_map(bar));
    RDY(bar, 5, 0, "");
    tp_join_barrier_destroy(bar);
}

/* Decoder robustness: mutated and truncated golden vectors never crash (ASan/UBSan
 * builds check memory), always give one of the §4.7 outcomes, and whatever
 * decodes OK and validates re-encodes to something that decodes to the same map. */
static void decode_mutations_are_safe(void)
{
    const uint8_t *seeds[4] = {seq_announce_golden, time_announce_golden, seq_announce_out5, time_announce_out8};
    const size_t lens[4] = {45, 63, 58, 63};
    uint64_t x = 0x1234567887654321ull;
    tp_merge_map_t again;
    CHECK(tp_merge_map_init(&again, TP_MERGE_KIND_SEQUENCE, 8) == 0);
    unsigned ok = 0;
    for (int i = 0; i < 200000; i++) {
        uint8_t b[80];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int k = (int)(x % 4);
        size_t len = lens[k];
        memcpy(b, seeds[k], len);
        int flips = 1 + (int)((x >> 8) % 3);
        for (int f = 0; f < flips; f++) b[(x >> (16 + 8 * f)) % len] ^= (uint8_t)(x >> (40 + f));
        if ((x >> 60) == 0) len = (size_t)((x >> 20) % len);
        tp_merge_decode_t rc = dec(b, len);
        CHECK(rc <= TP_MERGE_DECODE_CAPACITY);
        if (rc != TP_MERGE_DECODE_OK || tp_merge_map_validate(&dm, 8) != 0) continue;
        ok++;
        uint8_t out[256];
        long n = tp_merge_announce_encode(&dm, 8, out, sizeof out);
        CHECK(n > 0);
        if (n <= 0) continue;
        CHECK(tp_merge_announce_decode(&again, out, (size_t)n) == TP_MERGE_DECODE_OK);
        CHECK(tp_merge_map_equivalent(&again, &dm) && again.lateness_ns == dm.lateness_ns);
    }
    CHECK(ok > 1000); /* the mutations do reach the encoder */
    tp_merge_map_close(&again);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s INTEROP_DIR\n", argv[0]);
        return 2;
    }
    interop_dir = argv[1];
    if (tp_merge_map_init(&dm, TP_MERGE_KIND_SEQUENCE, 8) != 0) return 1;
    RUN(s72_decode_golden_vectors);
    RUN(s73_encode_computed_vectors);
    RUN(s74_schema_guard);
    RUN(s75_template_guard);
    RUN(s76_version);
    RUN(s77_larger_root_block);
    RUN(s78_smaller_root_block);
    RUN(s79_truncation);
    RUN(s80_group_stride);
    RUN(request_forward_compatible);
    RUN(s81_capacity);
    RUN(s82_nulls);
    RUN(s83_encoder_refuses);
    RUN(s84_semantic_errors_pass_decoder);
    RUN(decode_mutations_are_safe);
    tp_merge_map_close(&dm);
    tp_merge_map_close(&fx_map);
    TP_TEST_END();
}
