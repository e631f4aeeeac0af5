/* The bridge receiver's frame assembler (docs/spec/bridge.md §3): chunking
 * rules, out-of-order assembly, duplicates and conflicts, the timeout, CRC32C,
 * size limits and epochs, each with its drop counter. */
#include "bridge_fixture.h"
#include "tp_test.h"

#include "tensorpool/codec/bridge.h"
#include "tensorpool/crc32c.h"
#include "tensorpool/error.h"

static fx_sink_t sink;

/* Feed chunks of f in the order given; returns the last result. */
static tp_bridge_result_t feed(tp_bridge_asm_t *a, const fx_frame_t *f, const unsigned *order, unsigned n,
                               tp_bridge_frame_t *out)
{
    tp_bridge_result_t r = TP_BRIDGE_PENDING;
    for (unsigned k = 0; k < n; k++)
        r = tp_bridge_asm_on_chunk(a, &f->c[order ? order[k] : k], 100, out, NULL);
    return r;
}

static uint64_t total_drops(const tp_bridge_asm_t *a)
{
    uint64_t n = 0;
    for (int i = 0; i < TP_BRIDGE_DROP_COUNT_; i++)
        n += tp_bridge_asm_drops(a, (tp_bridge_drop_t)i);
    return n;
}

static bool frame_equals(const tp_bridge_frame_t *out, const fx_frame_t *f)
{
    return out->payload_length == f->len && memcmp(out->buf, f->payload, f->len) == 0 &&
           memcmp(out->header, f->header, TP_BRIDGE_HEADER_BYTES) == 0;
}

/* BR-5.1.a, BR-6.g, BR-7.a: in order, bit-exact, seq and traceId carried. */
static void test_in_order_complete(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 42, 100000, 1408, 0xABCDEFu, false);
    tp_bridge_frame_t out;
    for (unsigned i = 0; i + 1 < f.n; i++)
        CHECK(tp_bridge_asm_on_chunk(a, &f.c[i], 100, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[f.n - 1], 100, &out, NULL) == TP_BRIDGE_COMPLETE);
    CHECK(frame_equals(&out, &f));
    CHECK_EQ_U64(out.seq, 42);
    CHECK_EQ_U64(out.epoch, FX_EPOCH);
    CHECK_EQ_U64(out.trace_id, 0xABCDEFu);
    CHECK_EQ_U64(tp_bridge_asm_completed(a), 1);
    CHECK_EQ_U64(total_drops(a), 0);
    CHECK_EQ_U64(tp_bridge_asm_in_flight(a), 0);
    fx_done(&sink, out.buf);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.k: reversed, interleaved and shuffled orders all rebuild the frame. */
static void test_out_of_order(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    static unsigned order[FX_MAX_CHUNKS];
    uint64_t x = 12345;
    for (unsigned trial = 0; trial < 40; trial++) {
        fx_frame_t f;
        const uint32_t len = 1 + (uint32_t)((trial * 7919u) % 60000u);
        fx_cut(&f, FX_EPOCH, 100 + trial, len, 1000, 0, false);
        for (unsigned i = 0; i < f.n; i++)
            order[i] = trial % 2 == 0 ? f.n - 1 - i : i;
        for (unsigned i = f.n; trial % 2 == 1 && i > 1; i--) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            unsigned j = (unsigned)((x >> 33) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        tp_bridge_frame_t out;
        CHECK(feed(a, &f, order, f.n, &out) == TP_BRIDGE_COMPLETE);
        CHECK(frame_equals(&out, &f));
        fx_done(&sink, out.buf);
        fx_free(&f);
    }
    CHECK_EQ_U64(tp_bridge_asm_completed(a), 40);
    CHECK_EQ_U64(total_drops(a), 0);
    tp_bridge_asm_destroy(a);
}

/* BR-P11: the prefix a receiver may report as progress covers only chunks
 * 0..k-1 all written, whatever order they came in, and names the frame's
 * checked header; nothing before chunk 0 arrives. */
static void test_prefix_in_order_only(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 77, 9500, 1000, 0, false); /* 10 chunks, the last of 500 bytes */
    CHECK_EQ_U64(f.n, 10);
    static const unsigned order[10] = {1, 2, 0, 4, 3, 9, 5, 6, 7, 8};
    static const uint64_t want[9] = {0, 0, 3000, 3000, 5000, 5000, 6000, 7000, 8000};
    tp_bridge_frame_t out;
    const uint8_t *hb = NULL;
    for (unsigned k = 0; k < 9; k++) {
        CHECK(tp_bridge_asm_on_chunk(a, &f.c[order[k]], 100, &out, NULL) == TP_BRIDGE_PENDING);
        CHECK_EQ_U64(tp_bridge_asm_prefix(a, FX_EPOCH, 77, &hb), want[k]);
    }
    CHECK(hb != NULL && memcmp(hb, f.header, TP_BRIDGE_HEADER_BYTES) == 0);
    CHECK_EQ_U64(tp_bridge_asm_prefix(a, FX_EPOCH, 78, NULL), 0);     /* not in flight */
    CHECK_EQ_U64(tp_bridge_asm_prefix(a, FX_EPOCH + 1, 77, NULL), 0); /* another epoch */
    /* the last chunk completes the frame: nothing is in flight any more */
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[order[9]], 100, &out, NULL) == TP_BRIDGE_COMPLETE);
    CHECK(frame_equals(&out, &f));
    CHECK_EQ_U64(tp_bridge_asm_prefix(a, FX_EPOCH, 77, NULL), 0);
    fx_done(&sink, out.buf);
    fx_free(&f);
    /* in order, the prefix follows every chunk */
    fx_cut(&f, FX_EPOCH, 79, 2500, 1000, 0, false);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 100, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK_EQ_U64(tp_bridge_asm_prefix(a, FX_EPOCH, 79, NULL), 1000);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[1], 100, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK_EQ_U64(tp_bridge_asm_prefix(a, FX_EPOCH, 79, NULL), 2000);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[2], 100, &out, NULL) == TP_BRIDGE_COMPLETE);
    CHECK_EQ_U64(tp_bridge_asm_prefix(a, FX_EPOCH, 79, NULL), 0);
    fx_done(&sink, out.buf);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.k: two frames interleaved chunk by chunk, both complete. */
static void test_interleaved_frames(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f, g;
    fx_cut(&f, FX_EPOCH, 1, 5000, 1000, 0, false);
    fx_cut(&g, FX_EPOCH, 2, 5000, 1000, 0, false);
    tp_bridge_frame_t out;
    int done = 0;
    for (unsigned i = 0; i < f.n; i++) {
        if (tp_bridge_asm_on_chunk(a, &g.c[i], 1, &out, NULL) == TP_BRIDGE_COMPLETE) {
            CHECK(frame_equals(&out, &g));
            fx_done(&sink, out.buf);
            done++;
        }
        if (tp_bridge_asm_on_chunk(a, &f.c[i], 1, &out, NULL) == TP_BRIDGE_COMPLETE) {
            CHECK(frame_equals(&out, &f));
            fx_done(&sink, out.buf);
            done++;
        }
    }
    CHECK_EQ_I64(done, 2);
    fx_free(&f);
    fx_free(&g);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.l: an identical repeat is ignored, also after the frame completed;
 * counters count the frame once. */
static void test_duplicates_ignored(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 9, 4000, 1000, 0, false);
    tp_bridge_frame_t out;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, NULL) == TP_BRIDGE_DUPLICATE);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[2], 1, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[2], 1, &out, NULL) == TP_BRIDGE_DUPLICATE);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[1], 1, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[3], 1, &out, NULL) == TP_BRIDGE_COMPLETE);
    CHECK(frame_equals(&out, &f));
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[3], 1, &out, NULL) == TP_BRIDGE_DUPLICATE);
    CHECK_EQ_U64(tp_bridge_asm_duplicates(a), 3);
    CHECK_EQ_U64(tp_bridge_asm_completed(a), 1);
    CHECK_EQ_U64(total_drops(a), 0);
    fx_done(&sink, out.buf);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.l, BR-5.3.a: same index with other bytes drops the frame as
 * conflict, once; its remaining chunks do not count again or complete. */
static void test_conflicting_duplicate(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 9, 4000, 1000, 0, false);
    tp_bridge_frame_t out;
    unsigned before = sink.released;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[1], 1, &out, NULL) == TP_BRIDGE_PENDING);
    uint8_t other[1000];
    memcpy(other, f.c[1].payload, 1000);
    other[500] ^= 1;
    tp_bridge_chunk_t bad = f.c[1];
    bad.payload = other;
    tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT_;
    CHECK(tp_bridge_asm_on_chunk(a, &bad, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_CONFLICT);
    CHECK_EQ_U64(sink.released, before + 1); /* the destination slot went back */
    for (unsigned i = 0; i < f.n; i++)
        CHECK(tp_bridge_asm_on_chunk(a, &f.c[i], 1, &out, NULL) == TP_BRIDGE_DROPPED);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_CONFLICT), 1);
    CHECK_EQ_U64(total_drops(a), 1);
    CHECK_EQ_U64(tp_bridge_asm_completed(a), 0);
    CHECK_EQ_U64(tp_bridge_asm_in_flight(a), 0);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.l: chunk 0 repeated with a different header is a conflict. */
static void test_conflicting_header(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 3, 2000, 1000, 0, false);
    tp_bridge_frame_t out;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    uint8_t h[TP_BRIDGE_HEADER_BYTES];
    memcpy(h, f.header, sizeof h);
    h[40] ^= 0xFF; /* timestamp byte */
    tp_bridge_chunk_t c0 = f.c[0];
    c0.header = h;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &c0, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_CONFLICT);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.d, BR-P1: a slice that is not the one its index implies, or that
 * overlaps another chunk's, drops the frame as overlap. */
static void test_overlap(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 4000, 1000, 0, false);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    tp_bridge_chunk_t c = f.c[1];
    c.chunk_offset = 900; /* overlaps chunk 0 */
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_OVERLAP);
    /* shorter middle chunk: leaves a hole, also refused */
    fx_frame_t g;
    fx_cut(&g, FX_EPOCH, 5, 4000, 1000, 0, false);
    c = g.c[2];
    c.chunk_length = c.payload_len = 999;
    CHECK(tp_bridge_asm_on_chunk(a, &g.c[1], 1, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_OVERLAP);
    /* last chunk first, with an offset that is no multiple of the unit */
    fx_frame_t h;
    fx_cut(&h, FX_EPOCH, 6, 3500, 1000, 0, false);
    c = h.c[3];
    c.chunk_offset = 3001;
    c.chunk_length = c.payload_len = 499;
    c.payload = h.payload + 3001;
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_OVERLAP);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_OVERLAP), 3);
    fx_free(&f);
    fx_free(&g);
    fx_free(&h);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.l: chunkCount or payloadLength that disagree with the frame's. */
static void test_frame_fields_conflict(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 4000, 1000, 0, false);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    tp_bridge_chunk_t c = f.c[1];
    c.chunk_count = 5;
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_CONFLICT);
    fx_frame_t g;
    fx_cut(&g, FX_EPOCH, 8, 4000, 1000, 0, false);
    CHECK(tp_bridge_asm_on_chunk(a, &g.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    c = g.c[1];
    c.payload_length = 3999;
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_CONFLICT);
    fx_free(&f);
    fx_free(&g);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.j: traceId differing across chunks of one frame. */
static void test_trace_mismatch(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 77, false);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    tp_bridge_chunk_t c = f.c[1];
    c.trace_id = 78;
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_TRACE);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_TRACE), 1);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.2.a, BR-5.2.b, BR-5.2.c, BR-5.2.e: every rule a chunk breaks alone. */
static void test_malformed_chunks(void)
{
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
    for (int rule = 0; rule < 10; rule++) {
        tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
        tp_bridge_chunk_t c = f.c[rule % 2 == 0 ? 0 : 1];
        switch (rule) {
        case 0: c.chunk_count = 0; break;                                  /* BR-5.2.a */
        case 1: c.chunk_count = 65536; c.chunk_index = 1; break;           /* BR-5.2.a */
        case 2: c.chunk_index = 3; break;                                  /* BR-5.2.b */
        case 3: c.header_included = 1; c.header = f.header; c.header_len = 256; break; /* BR-5.2.c */
        case 4: c.header_included = 0; c.header_len = 0; break;            /* BR-5.2.c */
        case 5: c.header_len = 0; c.header = NULL; c.header_included = 0; c.chunk_index = 1; c.chunk_offset = 1000; c.header_included = 1; break; /* BR-5.2.c */
        case 6: c.header_len = 255; break;                                 /* BR-5.2.c */
        case 7: c.header_len = 12; c.header = f.header; break;             /* BR-5.2.c */
        case 8: c.chunk_offset = 1000; break;                              /* BR-5.2.c offset 0 */
        case 9: c.payload_len = 999; break;                                /* BR-5.2.e */
        }
        tp_bridge_frame_t out;
        tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT_;
        CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
        if (why != TP_BRIDGE_DROP_MALFORMED)
            fprintf(stderr, "rule %d: %s\n", rule, tp_bridge_drop_name(why));
        CHECK(why == TP_BRIDGE_DROP_MALFORMED);
        CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_MALFORMED), 1);
        CHECK_EQ_U64(tp_bridge_asm_in_flight(a), 0);
        tp_bridge_asm_destroy(a);
    }
    /* a slice past payloadLength (BR-5.2.d) */
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    tp_bridge_chunk_t c = f.c[2];
    c.chunk_offset = 2500;
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_MALFORMED);
    tp_bridge_asm_destroy(a);
    fx_free(&f);
}

/* BR-5.2.f, BR-5.2.g: chunk and payload size limits. */
static void test_size_limits(void)
{
    tp_bridge_asm_config_t cfg;
    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.max_chunk_bytes = 999;
    tp_bridge_asm_t *a = fx_asm(&sink, &cfg, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[1], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_TOO_LARGE);
    tp_bridge_asm_destroy(a);

    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.max_payload_bytes = 2999;
    a = fx_asm(&sink, &cfg, true);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_TOO_LARGE);
    tp_bridge_asm_destroy(a);

    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.local_max_stride = 2048; /* largest local pool (BR-5.2.f, BR-6.d) */
    a = fx_asm(&sink, &cfg, true);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_TOO_LARGE);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_TOO_LARGE), 1);
    /* the rest of the frame is discarded without counting again */
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[1], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_TOO_LARGE), 1);
    tp_bridge_asm_destroy(a);
    fx_free(&f);
}

/* BR-5.2.h: nothing is taken before the mapping's announce. */
static void test_no_announce(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, false);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    unsigned acquired = sink.acquired;
    for (unsigned i = 0; i < f.n; i++)
        CHECK(tp_bridge_asm_on_chunk(a, &f.c[i], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_NO_ANNOUNCE), 1);
    CHECK_EQ_U64(sink.acquired, acquired); /* no slot was taken */
    fx_announce(a, FX_EPOCH);
    fx_frame_t g;
    fx_cut(&g, FX_EPOCH, 5, 3000, 1000, 0, false);
    CHECK(feed(a, &g, NULL, g.n, &out) == TP_BRIDGE_COMPLETE);
    fx_done(&sink, out.buf);
    fx_free(&f);
    fx_free(&g);
    tp_bridge_asm_destroy(a);
}

/* BR-6.a, BR-8.a, BR-8.b: the announce's epoch gates chunks; a new epoch
 * drops what is in flight; an older announce is ignored. */
static void test_epochs(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t old, cur, next;
    fx_cut(&old, FX_EPOCH - 1, 4, 3000, 1000, 0, false);
    fx_cut(&cur, FX_EPOCH, 4, 3000, 1000, 0, false);
    fx_cut(&next, FX_EPOCH + 1, 1, 3000, 1000, 0, false);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &old.c[0], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_EPOCH);
    /* a newer epoch's chunks before its announce: dropped too (BR-6.a) */
    CHECK(tp_bridge_asm_on_chunk(a, &next.c[0], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_EPOCH);
    CHECK(tp_bridge_asm_on_chunk(a, &cur.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    unsigned released = sink.released;
    fx_announce(a, FX_EPOCH + 1); /* remap boundary */
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_REMAP), 1);
    CHECK_EQ_U64(sink.released, released + 1);
    CHECK_EQ_U64(tp_bridge_asm_in_flight(a), 0);
    fx_announce(a, FX_EPOCH); /* older: ignored (BR-8.b) */
    CHECK(tp_bridge_asm_on_chunk(a, &cur.c[1], 1, &out, &why) == TP_BRIDGE_DROPPED);
    fx_frame_t next2;
    fx_cut(&next2, FX_EPOCH + 1, 2, 3000, 1000, 0, false);
    CHECK(feed(a, &next2, NULL, next2.n, &out) == TP_BRIDGE_COMPLETE);
    CHECK(frame_equals(&out, &next2));
    fx_done(&sink, out.buf);
    fx_free(&old);
    fx_free(&cur);
    fx_free(&next);
    fx_free(&next2);
    tp_bridge_asm_destroy(a);
}

/* BR-5.3.b: an incomplete frame is dropped after the timeout and its slot released. */
static void test_timeout(void)
{
    tp_bridge_asm_config_t cfg;
    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.timeout_ns = 1000;
    tp_bridge_asm_t *a = fx_asm(&sink, &cfg, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
    tp_bridge_frame_t out;
    unsigned released = sink.released;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 5000, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[1], 5500, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK_EQ_U64(tp_bridge_asm_poll(a, 5999), 0);
    CHECK_EQ_U64(tp_bridge_asm_poll(a, 6000), 1);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_TIMEOUT), 1);
    CHECK_EQ_U64(sink.released, released + 1);
    /* the late last chunk neither completes nor counts again */
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[2], 7000, &out, NULL) == TP_BRIDGE_DROPPED);
    CHECK_EQ_U64(total_drops(a), 1);
    CHECK_EQ_U64(tp_bridge_asm_completed(a), 0);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.3.a, BR-3.c: with one assembly (the receiver's setting), a newer
 * frame's chunk drops the incomplete older one as missing. */
static void test_missing_chunk(void)
{
    tp_bridge_asm_config_t cfg;
    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.assemblies = 1;
    tp_bridge_asm_t *a = fx_asm(&sink, &cfg, true);
    fx_frame_t f, g;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
    fx_cut(&g, FX_EPOCH, 5, 3000, 1000, 0, false);
    tp_bridge_frame_t out;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[2], 1, &out, NULL) == TP_BRIDGE_PENDING); /* chunk 1 lost */
    CHECK(feed(a, &g, NULL, g.n, &out) == TP_BRIDGE_COMPLETE);
    CHECK(frame_equals(&out, &g));
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_MISSING), 1);
    fx_done(&sink, out.buf);
    fx_free(&f);
    fx_free(&g);
    tp_bridge_asm_destroy(a);
}

/* BR-5.4.a, BR-P3: with crc32c the trailer is required and checked. */
static void test_crc32c(void)
{
    static const char check[] = "123456789";
    CHECK_EQ_U64(tp_crc32c(0, check, 9), 0xE3069283u); /* the CRC-32C check value */
    tp_bridge_asm_config_t cfg;
    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.crc32c = true;
    tp_bridge_asm_t *a = fx_asm(&sink, &cfg, true);
    fx_frame_t f, g;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, true);
    tp_bridge_frame_t out;
    CHECK(feed(a, &f, NULL, f.n, &out) == TP_BRIDGE_COMPLETE);
    CHECK(frame_equals(&out, &f));
    fx_done(&sink, out.buf);
    /* a flipped payload bit in flight */
    fx_cut(&g, FX_EPOCH, 5, 3000, 1000, 0, true);
    g.msg[1][g.msg_len[1] - 10] ^= 4;
    tp_bridge_chunk_t c;
    CHECK(tp_bridge_chunk_parse(g.msg[1], g.msg_len[1], true, &c) == 0);
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &g.c[0], 1, &out, NULL) == TP_BRIDGE_PENDING);
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_CRC);
    /* a chunk without the trailer */
    fx_frame_t h;
    fx_cut(&h, FX_EPOCH, 6, 3000, 1000, 0, false);
    CHECK(tp_bridge_chunk_parse(h.msg[0], h.msg_len[0], true, &c) == -1);
    CHECK(tp_bridge_asm_on_chunk(a, &h.c[0], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_CRC);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_CRC), 2);
    fx_free(&f);
    fx_free(&g);
    fx_free(&h);
    tp_bridge_asm_destroy(a);
}

/* BR-6.b, BR-6.c, BR-6.g: the 256 header bytes are checked. */
static void test_header_checks(void)
{
    for (int rule = 0; rule < 6; rule++) {
        tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
        fx_frame_t f;
        fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
        uint8_t h[TP_BRIDGE_HEADER_BYTES];
        switch (rule) {
        case 0: fx_header(h, 4, 2999, FX_POOL); break;     /* values_len != payloadLength */
        case 1: fx_header(h, 4, 3000, 9); break;           /* pool not in the announce */
        case 2: fx_header(h, 4, 3000, FX_POOL + 1); break; /* control: the second pool, 3000 <= 4096 */
        case 3: fx_header(h, 5, 3000, FX_POOL); break;     /* seq_commit >> 1 != seq */
        case 4: fx_header(h, 4, 3000, FX_POOL); h[60] = 191; break; /* headerBytes length */
        case 5: fx_header(h, 4, 3000, FX_POOL); h[64 + 8 + 4] = 0; break; /* ndims 0 */
        }
        tp_bridge_chunk_t c = f.c[0];
        c.header = h;
        tp_bridge_frame_t out;
        tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT_;
        tp_bridge_result_t r = tp_bridge_asm_on_chunk(a, &c, 1, &out, &why);
        if (rule == 2) {
            CHECK(r == TP_BRIDGE_PENDING); /* control: a valid header passes */
        } else {
            CHECK(r == TP_BRIDGE_DROPPED);
            CHECK(why == TP_BRIDGE_DROP_HEADER);
        }
        tp_bridge_asm_destroy(a);
        fx_free(&f);
    }
    /* payloadLength over the source pool's stride (BR-6.c) */
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 5000, 1000, 0, false);
    uint8_t h[TP_BRIDGE_HEADER_BYTES];
    fx_header(h, 4, 5000, FX_POOL + 1);
    tp_bridge_chunk_t c = f.c[0];
    c.header = h;
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_HEADER);
    tp_bridge_asm_destroy(a);
    fx_free(&f);
}

/* BR-6.d: no local slot for the frame. */
static void test_no_slot(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
    sink.refuse = true;
    tp_bridge_frame_t out;
    tp_bridge_drop_t why;
    CHECK(tp_bridge_asm_on_chunk(a, &f.c[0], 1, &out, &why) == TP_BRIDGE_DROPPED);
    CHECK(why == TP_BRIDGE_DROP_NO_SLOT);
    sink.refuse = false;
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_NO_SLOT), 1);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* Chunks of another stream are not this mapping's (BR-2.3.a). */
static void test_other_stream(void)
{
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0, false);
    tp_bridge_chunk_t c = f.c[0];
    c.stream_id = FX_STREAM + 1;
    tp_bridge_frame_t out;
    CHECK(tp_bridge_asm_on_chunk(a, &c, 1, &out, NULL) == TP_BRIDGE_OTHER_STREAM);
    CHECK_EQ_U64(total_drops(a), 0);
    fx_free(&f);
    tp_bridge_asm_destroy(a);
}

/* BR-5.1.a, BR-7.2.b: the wire form: offsets, schema id first, strict
 * blockLength, no stray bytes, the 256 cap of headerBytes. */
static void test_parse(void)
{
    fx_frame_t f;
    fx_cut(&f, FX_EPOCH, 4, 3000, 1000, 0x1122u, false);
    const uint8_t *m = f.msg[0];
    CHECK_EQ_U64(tp_sbe_get_u16(m), 49);
    CHECK_EQ_U64(tp_sbe_get_u16(m + 2), 1);
    CHECK_EQ_U64(tp_sbe_get_u16(m + 4), 902);
    CHECK_EQ_U64(tp_sbe_get_u32(m + 8), FX_STREAM);
    CHECK_EQ_U64(tp_sbe_get_u64(m + 8 + 4), FX_EPOCH);
    CHECK_EQ_U64(tp_sbe_get_u64(m + 8 + 12), 4);
    CHECK_EQ_U64(tp_sbe_get_u64(m + 8 + 20), 0x1122u);
    CHECK_EQ_U64(tp_sbe_get_u32(m + 8 + 44), 3000);
    CHECK_EQ_U64(m[8 + 48], 1);
    CHECK_EQ_U64(tp_sbe_get_u32(m + 8 + 49), 256);
    CHECK_EQ_U64(f.msg_len[0], 8 + 49 + 4 + 256 + 4 + 1000);
    tp_bridge_chunk_t c;
    uint8_t buf[2048];
    memcpy(buf, m, f.msg_len[0]);
    tp_sbe_put_u16(buf + 4, 900);
    CHECK(tp_bridge_chunk_parse(buf, f.msg_len[0], false, &c) == -1);
    CHECK(tp_errcode() == TP_ERR_NOT_MINE);
    memcpy(buf, m, f.msg_len[0]);
    tp_sbe_put_u16(buf, 50);
    CHECK(tp_bridge_chunk_parse(buf, f.msg_len[0], false, &c) == -1);
    memcpy(buf, m, f.msg_len[0]);
    CHECK(tp_bridge_chunk_parse(buf, f.msg_len[0] + 1, false, &c) == -1); /* a stray byte */
    CHECK(tp_bridge_chunk_parse(buf, f.msg_len[0] - 1, false, &c) == -1); /* cut short */
    tp_sbe_put_u32(buf + 8 + 49, 257); /* headerBytes over its maxValue */
    CHECK(tp_bridge_chunk_parse(buf, f.msg_len[0], false, &c) == -1);
    fx_free(&f);
}

/* Random frames with random loss, duplication and reordering against a
 * model: a frame completes exactly when all its chunks arrived, bit-exact;
 * every other frame is counted once (BR-5.3.a, BR-5.2.k, BR-5.2.l). */
static void test_random_model(void)
{
    tp_bridge_asm_config_t cfg;
    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.max_chunk_bytes = 4096;
    cfg.timeout_ns = 10;
    tp_bridge_asm_t *a = fx_asm(&sink, &cfg, true);
    uint64_t x = 99;
    static unsigned order[2 * FX_MAX_CHUNKS];
    uint64_t want_complete = 0, want_lost = 0;
    uint64_t now = 1000;
    for (unsigned trial = 0; trial < 300; trial++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        const uint32_t len = 1 + (uint32_t)((x >> 40) % 200000);
        uint32_t unit = 1 + (uint32_t)((x >> 20) % 4096);
        if (unit < len / (FX_MAX_CHUNKS - 1) + 1)
            unit = len / (FX_MAX_CHUNKS - 1) + 1;
        fx_frame_t f;
        fx_cut(&f, FX_EPOCH, trial, len, unit, trial, false);
        unsigned n = 0;
        bool lost = false;
        for (unsigned i = 0; i < f.n; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            const unsigned r = (unsigned)(x >> 58);
            if (r == 0 && trial % 3 == 0) {
                lost = true;
                continue;
            }
            order[n++] = i;
            if (r == 1)
                order[n++] = i;
        }
        for (unsigned i = n; i > 1; i--) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            unsigned j = (unsigned)((x >> 33) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        unsigned completions = 0;
        for (unsigned k = 0; k < n; k++) {
            tp_bridge_frame_t out;
            if (tp_bridge_asm_on_chunk(a, &f.c[order[k]], now, &out, NULL) == TP_BRIDGE_COMPLETE) {
                completions++;
                CHECK(frame_equals(&out, &f));
                CHECK_EQ_U64(out.trace_id, trial);
                fx_done(&sink, out.buf);
            }
        }
        now += 100;
        tp_bridge_asm_poll(a, now);
        CHECK_EQ_U64(completions, lost ? 0 : 1);
        want_complete += !lost;
        want_lost += lost;
        fx_free(&f);
    }
    CHECK_EQ_U64(tp_bridge_asm_completed(a), want_complete);
    CHECK_EQ_U64(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_TIMEOUT), want_lost);
    CHECK_EQ_U64(total_drops(a), want_lost);
    CHECK(want_lost > 0 && want_complete > 0);
    tp_bridge_asm_destroy(a);
}

static void test_bad_config(void)
{
    tp_bridge_asm_config_t cfg;
    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    const tp_bridge_sink_t s = {fx_acquire, fx_release, &sink};
    tp_bridge_asm_t *a = NULL;
    cfg.assemblies = 0;
    CHECK(tp_bridge_asm_init(&a, &cfg, &s) == -1);
    cfg.assemblies = 9;
    CHECK(tp_bridge_asm_init(&a, &cfg, &s) == -1);
    cfg.assemblies = 1;
    cfg.max_chunk_bytes = 65536;
    CHECK(tp_bridge_asm_init(&a, &cfg, &s) == -1);
    CHECK(a == NULL);
    CHECK_STR(tp_bridge_drop_name(TP_BRIDGE_DROP_TIMEOUT), "timeout");
    CHECK_STR(tp_bridge_drop_name(TP_BRIDGE_DROP_COUNT_), "unknown");
}

int main(void)
{
    fx_sink_init(&sink);
    RUN(test_in_order_complete);
    RUN(test_out_of_order);
    RUN(test_prefix_in_order_only);
    RUN(test_interleaved_frames);
    RUN(test_duplicates_ignored);
    RUN(test_conflicting_duplicate);
    RUN(test_conflicting_header);
    RUN(test_overlap);
    RUN(test_frame_fields_conflict);
    RUN(test_trace_mismatch);
    RUN(test_malformed_chunks);
    RUN(test_size_limits);
    RUN(test_no_announce);
    RUN(test_epochs);
    RUN(test_timeout);
    RUN(test_missing_chunk);
    RUN(test_crc32c);
    RUN(test_header_checks);
    RUN(test_no_slot);
    RUN(test_other_stream);
    RUN(test_parse);
    RUN(test_random_model);
    RUN(test_bad_config);
    fx_sink_free(&sink);
    TP_TEST_END();
}
