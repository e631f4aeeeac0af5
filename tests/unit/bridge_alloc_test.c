/* The bridge assembler allocates nothing after init (docs/spec/bridge.md §3
 * step 1): parse, assemble, duplicates, drops, timeouts and announces, with
 * CRC32C on. */
#include "alloc_count.h"
#include "bridge_fixture.h"
#include "tp_test.h"

static fx_sink_t sink;

static void exercise(tp_bridge_asm_t *a, fx_frame_t *frames, unsigned nframes, unsigned rounds)
{
    tp_bridge_frame_t out;
    tp_bridge_chunk_t c;
    uint64_t now = 1;
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned k = 0; k < nframes; k++) {
            fx_frame_t *f = &frames[k];
            for (unsigned i = f->n; i-- > 0;) {
                /* re-parse from the wire each time, as the receiver does */
                if (tp_bridge_chunk_parse(f->msg[i], f->msg_len[i], true, &c) != 0)
                    continue;
                c.seq += (uint64_t)r * nframes; /* a new frame each round */
                if (k == 1 && i == 1)
                    continue; /* frame 1 always loses a chunk: it times out */
                if (tp_bridge_asm_on_chunk(a, &c, now, &out, NULL) == TP_BRIDGE_COMPLETE)
                    fx_done(&sink, out.buf);
                if (i == 0)
                    (void)tp_bridge_asm_on_chunk(a, &c, now, &out, NULL); /* duplicate */
            }
        }
        now += 1000000000u;
        tp_bridge_asm_poll(a, now);
    }
    fx_announce(a, FX_EPOCH); /* same epoch: nothing to drop */
}

/* BR-5.3.b, BR-5.2.l, BR-P3 paths with no allocation. */
static void test_no_allocation_after_init(void)
{
    fx_frame_t *frames = calloc(3, sizeof *frames);
    for (unsigned k = 0; k < 3; k++)
        fx_cut(&frames[k], FX_EPOCH, k, 20000 + 1000 * k, 1408, k, true);
    tp_bridge_asm_config_t cfg;
    tp_bridge_asm_config_init(&cfg, FX_STREAM);
    cfg.crc32c = true;
    tp_bridge_asm_t *a = fx_asm(&sink, &cfg, true);
    exercise(a, frames, 3, 2); /* warm-up: first calls of libc paths, CRC table */
    /* Later rounds shift seq but keep the header's own seq_commit, so their
     * frames drop as header (BR-6.g): the drop paths run as well. */
    const uint64_t before = tp_alloc_count();
    exercise(a, frames, 3, 200);
    CHECK_EQ_U64(tp_alloc_count() - before, 0);
    CHECK(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_TIMEOUT) > 0);
    CHECK(tp_bridge_asm_drops(a, TP_BRIDGE_DROP_HEADER) > 0);
    CHECK(tp_bridge_asm_duplicates(a) > 0);
    tp_bridge_asm_destroy(a);
    for (unsigned k = 0; k < 3; k++)
        fx_free(&frames[k]);
    free(frames);
}

/* The counter itself works (guards against a silently unwrapped build). */
static void test_alloc_counter_sees_init(void)
{
    const uint64_t before = tp_alloc_count();
    tp_bridge_asm_t *a = fx_asm(&sink, NULL, true);
    CHECK(tp_alloc_count() > before);
    tp_bridge_asm_destroy(a);
}

int main(void)
{
    fx_sink_init(&sink);
    RUN(test_alloc_counter_sees_init);
    RUN(test_no_allocation_after_init);
    fx_sink_free(&sink);
    TP_TEST_END();
}
