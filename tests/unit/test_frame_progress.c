/* FrameProgress, producer and consumer in one process next to the rig's
 * driver (docs/spec/wire.md W-10.2.2, W-10.1.2.c/d, §5.6, D-24).
 *
 * Frames are 64 rows of 64 bytes (uint8 [64, 64], 4096 bytes, the rig's
 * pool stride). Row r of frame seq holds the byte (seq * 7 + r) & 0xFF, so a
 * byte the producer has not written yet still holds the previous frame's
 * value and a prefix check catches it. */
#include "tp_test.h"

#include "client/progress_internal.h"
#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/frame_progress.h"
#include "tensorpool/producer.h"
#include "tensorpool/shm_layout.h"

#include <unistd.h>

#define STREAM 10000u
#define ROW 64u
#define NROWS 64u

static tp_producer_t *g_p;
static tp_consumer_t *g_c;

typedef struct seen_s {
    uint64_t calls, state_back, bad_bytes, torn_rows, over_filled, frames, intact_false;
    uint64_t last_seq;
    uint8_t states[16], last_state;
    unsigned nstates;
    uint64_t max_readable;
    int lap_on_first; /* overwrite the slot from inside the handler */
} seen_t;

static uint8_t row_byte(uint64_t seq, unsigned r) { return (uint8_t)((seq * 7 + r) & 0xFF); }

static void tensor(tp_tensor_header_t *t)
{
    const int32_t dims[2] = {NROWS, ROW};
    tp_tensor_header_init(t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
}

static void pump(tp_frame_handler_t fh, void *fd)
{
    const int64_t now = tp_clock_monotonic_ns();
    tp_driver_do_work(g_drv, now);
    tp_producer_do_work(g_p, now);
    tp_consumer_poll(g_c, now, fh, fd, 64);
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    seen_t *s = clientd;
    (void)f;
    s->frames++;
}

static void publish_plain(unsigned n)
{
    tp_tensor_header_t t;
    tensor(&t);
    uint8_t buf[NROWS * ROW];
    for (unsigned i = 0; i < n; i++) {
        memset(buf, 0xEE, sizeof buf);
        tp_producer_offer(g_p, &t, buf, sizeof buf, 1, NULL);
    }
}

static void on_progress(void *clientd, const tp_progress_t *p)
{
    seen_t *s = clientd;
    s->calls++;
    if (s->nstates < sizeof s->states) s->states[s->nstates++] = p->state;
    s->last_seq = p->seq;
    if (p->state < s->last_state) s->state_back++; /* W-10.2.2.j */
    s->last_state = p->state;
    if (p->readable > p->bytes_filled) s->over_filled++; /* never a byte not reported filled */
    if (p->row_bytes == 0 || p->readable % p->row_bytes != 0) s->torn_rows++;
    if (p->readable > s->max_readable) s->max_readable = p->readable;
    for (uint64_t i = 0; i < p->readable; i++)
        if (p->payload[i] != row_byte(p->seq, (unsigned)(i / ROW))) s->bad_bytes++;
    if (s->lap_on_first && s->calls == 1) publish_plain(64); /* the ring laps: slot reused */
    if (!tp_progress_intact(p)) s->intact_false++;
}

static void open_pair(const tp_progress_hints_t *hints, seen_t *s)
{
    rig_setup(NULL);
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    ctx.keepalive_interval_ns = 50000000;
    ctx.announce_period_ns = 100000000;
    ctx.qos_interval_ns = 100000000;
    CHECK_EQ_I64(tp_producer_open(&g_p, &ctx, STREAM, 0, "progress", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&g_c, &ctx, STREAM, 0), 0);
    if (s != NULL) CHECK_EQ_I64(tp_consumer_set_progress(g_c, hints, on_progress, s), 0);
    for (int i = 0; i < 10000 && !(tp_producer_is_active(g_p) && tp_consumer_is_mapped(g_c) &&
                                   (s == NULL || tp_producer_progress_consumers(g_p) == 1));
         i++) {
        pump(on_frame, s);
        usleep(200);
    }
    CHECK(tp_producer_is_active(g_p));
    CHECK(tp_consumer_is_mapped(g_c));
}

static void close_pair(void)
{
    tp_consumer_close(g_c);
    tp_producer_close(g_p);
    g_c = NULL;
    g_p = NULL;
    rig_teardown();
}

/* Fill one frame row by row, reporting each row, the consumer polling after
 * each; then commit. Returns the seq. */
static uint64_t fill_frame(seen_t *s, int commit)
{
    tp_tensor_header_t t;
    tensor(&t);
    tp_shm_claim_t cl;
    CHECK_EQ_I64(tp_producer_claim(g_p, &t, NROWS * ROW, &cl), 0);
    CHECK(tp_producer_progress(g_p, &cl, 0) == 1); /* STARTED */
    for (unsigned r = 0; r < NROWS; r++) { /* half rows reported: the consumer rounds down */
        memset(cl.payload + (size_t)r * ROW, row_byte(cl.seq, r), ROW / 2);
        CHECK(tp_producer_progress(g_p, &cl, (uint64_t)r * ROW + ROW / 2) >= 0);
        pump(on_frame, s);
        memset(cl.payload + (size_t)r * ROW + ROW / 2, row_byte(cl.seq, r), ROW / 2);
        CHECK(tp_producer_progress(g_p, &cl, (uint64_t)(r + 1) * ROW) >= 0);
        pump(on_frame, s);
    }
    if (commit) CHECK_EQ_I64(tp_producer_commit(g_p, &cl, 1), 0);
    return cl.seq;
}

/* W-10.2.2.a/d/i/j, D-24, W-10.1.2.c: an opted-in consumer sees STARTED,
 * PROGRESS and COMPLETE for a frame being filled, each with a prefix of whole
 * rows that holds only bytes the producer wrote; the frame then arrives as
 * usual with its descriptor. */
static void test_prefixes_while_filling(void)
{
    seen_t s;
    memset(&s, 0, sizeof s);
    const tp_progress_hints_t hints = {.interval_us = 1, .bytes_delta = 1, .major_delta_units = 0};
    open_pair(&hints, &s);
    const tp_progress_policy_t pol = {
        .interval_us = 250, .bytes_delta = 65536, .floor_interval_us = 0, .floor_bytes_delta = 3 * ROW / 2};
    CHECK_EQ_I64(tp_producer_set_progress_policy(g_p, &pol), 0);
    publish_plain(3); /* the slots hold other bytes first */
    for (int i = 0; i < 200 && s.frames < 3; i++) pump(on_frame, &s), usleep(500);
    const uint64_t seq = fill_frame(&s, 1);
    for (int i = 0; i < 2000 && s.frames < 4; i++) pump(on_frame, &s), usleep(500);
    CHECK_EQ_U64(s.frames, 4);
    CHECK(s.calls >= 3);
    CHECK_EQ_U64(s.last_seq, seq);
    CHECK_EQ_U64(s.bad_bytes, 0);
    CHECK_EQ_U64(s.over_filled, 0);
    CHECK_EQ_U64(s.torn_rows, 0);
    CHECK_EQ_U64(s.intact_false, 0);
    CHECK_EQ_U64(s.max_readable, NROWS * ROW);
    CHECK_EQ_I64(s.states[0], TP_CONTROL_FRAME_PROGRESS_STATE_STARTED);
    CHECK_EQ_I64(s.last_state, TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE);
    CHECK_EQ_U64(s.state_back, 0);
    tp_progress_counters_t pc;
    tp_consumer_progress_counters(g_c, &pc);
    CHECK_EQ_U64(pc.delivered, s.calls);
    CHECK_EQ_U64(pc.refused_backwards + pc.refused_length + pc.refused_slot + pc.refused_epoch, 0);
    /* the producer refuses a fill that goes down or past the frame */
    tp_tensor_header_t t;
    tensor(&t);
    tp_shm_claim_t cl;
    CHECK_EQ_I64(tp_producer_claim(g_p, &t, NROWS * ROW, &cl), 0);
    CHECK(tp_producer_progress(g_p, &cl, 2 * ROW) >= 0);
    CHECK_EQ_I64(tp_producer_progress(g_p, &cl, ROW), -1);
    CHECK_EQ_I64(tp_producer_progress(g_p, &cl, NROWS * ROW + 1), -1);
    CHECK_EQ_I64(tp_producer_commit(g_p, &cl, 1), 0);
    close_pair();
}

/* W-10.2.2.g/h: COMPLETE is not the frame; only the descriptor after the
 * commit delivers it. */
static void test_complete_is_not_the_frame(void)
{
    seen_t s;
    memset(&s, 0, sizeof s);
    open_pair(NULL, &s);
    const uint64_t before = s.frames;
    fill_frame(&s, 0);
    for (int i = 0; i < 200; i++) pump(on_frame, &s), usleep(200);
    CHECK_EQ_I64(s.last_state, TP_CONTROL_FRAME_PROGRESS_STATE_COMPLETE);
    CHECK_EQ_U64(s.frames, before); /* COMPLETE seen, no frame */
    close_pair();
}

/* W-10.2.2.b, W-10.2.2.k: with nobody opted in the producer sends nothing,
 * and a consumer that did not opt in ignores FrameProgress. */
static void test_nobody_opted_in(void)
{
    open_pair(NULL, NULL);
    for (int i = 0; i < 100; i++) pump(on_frame, NULL), usleep(500);
    CHECK_EQ_I64(tp_producer_progress_consumers(g_p), 0);
    tp_tensor_header_t t;
    tensor(&t);
    tp_shm_claim_t cl;
    CHECK_EQ_I64(tp_producer_claim(g_p, &t, NROWS * ROW, &cl), 0);
    CHECK_EQ_I64(tp_producer_progress(g_p, &cl, 0), 0);
    CHECK_EQ_I64(tp_producer_progress(g_p, &cl, NROWS * ROW), 0);
    uint64_t sent = 9;
    tp_producer_progress_stats(g_p, &sent, NULL);
    CHECK_EQ_U64(sent, 0);
    CHECK_EQ_I64(tp_producer_commit(g_p, &cl, 1), 0);
    close_pair();
}

/* W-10.2.2.k: one STARTED, PROGRESS at most once an interval (1 s here) and
 * only past the delta, COMPLETE at the end: 64 reported rows send 2 messages. */
static void test_throttled(void)
{
    seen_t s;
    memset(&s, 0, sizeof s);
    open_pair(NULL, &s);
    const tp_progress_policy_t pol = {.interval_us = 1000000, .bytes_delta = 64, .floor_interval_us = 200, .floor_bytes_delta = 64};
    CHECK_EQ_I64(tp_producer_set_progress_policy(g_p, &pol), 0);
    uint64_t sent0 = 0, sent1 = 0, thr = 0;
    tp_producer_progress_stats(g_p, &sent0, NULL);
    fill_frame(&s, 1); /* well under a second on any machine? not guaranteed: bound it */
    tp_producer_progress_stats(g_p, &sent1, &thr);
    CHECK(sent1 - sent0 >= 2);
    CHECK(sent1 - sent0 <= 2 + 1 + 64 / 8); /* a loaded machine may pass an interval now and then */
    CHECK(thr >= 50);
    close_pair();
}

/* W-10.2.2.k: a fill that grew by the row hint triggers PROGRESS although
 * the bytes delta (64 KiB here) is far away; and a report the interval held
 * back goes out, as the latest state, once the interval has passed
 * (tp_producer_do_work), without another report. */
static void test_row_trigger_and_flush(void)
{
    seen_t s;
    memset(&s, 0, sizeof s);
    const tp_progress_hints_t hints = {.interval_us = 1, .bytes_delta = 0, .major_delta_units = 2};
    open_pair(&hints, &s);
    const tp_progress_policy_t rows = {.interval_us = 250, .bytes_delta = 65536, .floor_interval_us = 0, .floor_bytes_delta = 4096};
    CHECK_EQ_I64(tp_producer_set_progress_policy(g_p, &rows), 0);
    fill_frame(&s, 1);
    for (int i = 0; i < 200; i++) pump(on_frame, &s), usleep(200);
    CHECK(s.calls >= 16); /* STARTED, about one PROGRESS per 2 rows of 64, COMPLETE; a slow machine merges some */
    CHECK_EQ_U64(s.bad_bytes, 0);
    /* now an interval of 1 s: after the first PROGRESS every report is held
     * back. It must be the floor: the consumer's hint (1 us) wins over the
     * policy's interval (W-10.1.2.d), so a 1 s interval alone left a 1 us one
     * and the test passed only while the rows came less than 1 us apart. The premise holds only if the half-frame fill takes less than the
     * interval; a preempted fill (seen under CI load) sends its last report on
     * time and proves nothing, so that attempt is committed and retried. */
    const tp_progress_policy_t slow = {.interval_us = 1000000, .bytes_delta = 64, .floor_interval_us = 1000000, .floor_bytes_delta = 64};
    CHECK_EQ_I64(tp_producer_set_progress_policy(g_p, &slow), 0);
    tp_tensor_header_t t;
    tensor(&t);
    tp_shm_claim_t cl;
    int attempts = 0, held_back = 0;
    uint64_t sent = 0;
    while (!held_back && attempts++ < 5) {
        memset(&s, 0, sizeof s);
        CHECK_EQ_I64(tp_producer_claim(g_p, &t, NROWS * ROW, &cl), 0);
        const int64_t t0 = tp_clock_monotonic_ns();
        CHECK_EQ_I64(tp_producer_progress(g_p, &cl, 0), 1); /* STARTED */
        for (unsigned r = 0; r < NROWS / 2; r++) {
            memset(cl.payload + (size_t)r * ROW, row_byte(cl.seq, r), ROW);
            tp_producer_progress(g_p, &cl, (uint64_t)(r + 1) * ROW);
        }
        tp_producer_progress_stats(g_p, &sent, NULL);
        held_back = tp_clock_monotonic_ns() - t0 < 900000000; /* margin below the 1 s interval */
        if (!held_back) {
            for (unsigned r = NROWS / 2; r < NROWS; r++) memset(cl.payload + (size_t)r * ROW, row_byte(cl.seq, r), ROW);
            CHECK_EQ_I64(tp_producer_commit(g_p, &cl, 1), 0);
            for (int i = 0; i < 50; i++) pump(on_frame, &s), usleep(200);
        }
    }
    CHECK(held_back);
    for (int i = 0; i < 10000 && s.max_readable < NROWS / 2 * ROW; i++) pump(on_frame, &s), usleep(500);
    CHECK_EQ_U64(s.max_readable, NROWS / 2 * ROW); /* the held-back half frame arrived */
    CHECK_EQ_U64(s.bad_bytes, 0);
    uint64_t sent2 = 0;
    tp_producer_progress_stats(g_p, &sent2, NULL);
    CHECK(sent2 > sent); /* by the interval flush, not by another report */
    CHECK_EQ_I64(tp_producer_commit(g_p, &cl, 1), 0);
    close_pair();
}

/* D-24: once STARTED went out, readers may copy the slot header at any time
 * while the seqlock names this seq, and the commit does not change that word
 * before its end. So the commit must not rewrite the TensorHeader (an encode
 * zeroes it first, and a reader took the zeroed dims for a 1-byte row: seen
 * under ASan as a read past the pool). Only the root block (timestamp,
 * meta_version) is written again. A frame nobody reported is committed with
 * its whole header, as always. */
static void test_commit_keeps_staged_header(void)
{
    seen_t s;
    memset(&s, 0, sizeof s);
    const tp_progress_hints_t hints = {.interval_us = 1, .bytes_delta = 1, .major_delta_units = 0};
    open_pair(&hints, &s);
    tp_tensor_header_t t;
    tensor(&t);
    for (int staged = 1; staged >= 0; staged--) {
        tp_shm_claim_t cl;
        CHECK_EQ_I64(tp_producer_claim(g_p, &t, NROWS * ROW, &cl), 0);
        if (staged) CHECK_EQ_I64(tp_producer_progress(g_p, &cl, 0), 1); /* STARTED: header staged */
        uint8_t *tensor_bytes = cl.slot + 64; /* the embedded TensorHeader, bytes 64..255 */
        memset(tensor_bytes, 0xA5, 192);       /* a marker only a rewrite removes */
        CHECK_EQ_I64(tp_producer_commit(g_p, &cl, 12345), 0);
        unsigned marked = 0;
        for (unsigned i = 0; i < 192; i++) marked += tensor_bytes[i] == 0xA5;
        if (staged) CHECK_EQ_U64(marked, 192); /* not written again */
        else CHECK(marked < 192);              /* written whole */
        tp_slot_header_t h;
        tp_slot_header_read(cl.slot, &h);
        CHECK_EQ_U64(h.timestamp_ns, 12345); /* the root block is the commit's */
        CHECK_EQ_U64(h.values_len_bytes, NROWS * ROW);
    }
    close_pair();
}

static long encode_hello(uint8_t *buf, size_t cap, uint32_t cid, int progress, uint32_t iv, uint32_t bytes, uint32_t units)
{
    tp_control_consumer_hello_enc_t e;
    tp_control_consumer_hello_encode_begin(&e, buf, cap);
    tp_control_consumer_hello_set_stream_id(&e, STREAM);
    tp_control_consumer_hello_set_consumer_id(&e, cid);
    tp_control_consumer_hello_set_supports_shm(&e, TP_CONTROL_BOOL_TRUE);
    tp_control_consumer_hello_set_supports_progress(&e, progress ? TP_CONTROL_BOOL_TRUE : TP_CONTROL_BOOL_FALSE);
    tp_control_consumer_hello_set_mode(&e, TP_CONTROL_MODE_STREAM);
    tp_control_consumer_hello_set_max_rate_hz(&e, 0);
    tp_control_consumer_hello_set_expected_layout_version(&e, 1);
    tp_control_consumer_hello_set_progress_interval_us(&e, iv);
    tp_control_consumer_hello_set_progress_bytes_delta(&e, bytes);
    tp_control_consumer_hello_set_progress_major_delta_units(&e, units);
    tp_control_consumer_hello_set_descriptor_stream_id(&e, 0);
    tp_control_consumer_hello_set_control_stream_id(&e, 0);
    tp_control_consumer_hello_put_descriptor_channel(&e, "", 0);
    tp_control_consumer_hello_put_control_channel(&e, "", 0);
    return tp_control_consumer_hello_encode_end(&e);
}

static void hello(tp_progress_tx_t *t, uint32_t cid, int progress, uint32_t iv, uint32_t bytes, uint32_t units, int64_t now)
{
    uint8_t buf[256];
    const long n = encode_hello(buf, sizeof buf, cid, progress, iv, bytes, units);
    tp_control_consumer_hello_dec_t m;
    CHECK_EQ_I64(tp_control_consumer_hello_decode(&m, buf, (size_t)n), 0);
    tp_progress_tx_on_hello(t, &m, now);
}

/* W-10.1.2.c, W-10.1.2.d, W-10.2.2.k: null hints take the producer's defaults (250 µs,
 * 64 KiB, no rows); hints merge to the smallest, bounded below by the floors;
 * an opt-out, a revoked lease and silence remove a consumer's hints. */
static void test_hint_merge(void)
{
    tp_progress_tx_t t;
    tp_progress_tx_init(&t);
    const uint32_t null = 0xFFFFFFFFu;
    hello(&t, 1, 1, null, null, null, 0);
    CHECK_EQ_U64(t.npeers, 1);
    CHECK_EQ_I64(t.interval_ns, 250000);
    CHECK_EQ_U64(t.bytes_delta, 65536);
    CHECK_EQ_U64(t.major_units, 0);
    hello(&t, 2, 1, 400, 8192, 4, 0);
    CHECK_EQ_I64(t.interval_ns, 250000); /* consumer 1's default is smaller */
    CHECK_EQ_U64(t.bytes_delta, 8192);
    CHECK_EQ_U64(t.major_units, 4);
    hello(&t, 3, 1, 10, 100, 2, 0); /* below the floors (200 µs, 4096 bytes) */
    CHECK_EQ_I64(t.interval_ns, 200000);
    CHECK_EQ_U64(t.bytes_delta, 4096);
    CHECK_EQ_U64(t.major_units, 2);
    hello(&t, 3, 0, null, null, null, 0); /* opts out */
    CHECK_EQ_U64(t.npeers, 2);
    CHECK_EQ_U64(t.bytes_delta, 8192);
    tp_progress_tx_seen(&t, 2, 0, 0); /* lease revoked */
    CHECK_EQ_U64(t.npeers, 1);
    CHECK_EQ_U64(t.bytes_delta, 65536);
    const tp_progress_out_t o = {NULL, STREAM, 1};
    tp_progress_tx_seen(&t, 1, 1, 500);
    tp_progress_tx_do_work(&t, &o, 1000, 1400); /* seen 900 ago: stays */
    CHECK_EQ_U64(t.npeers, 1);
    tp_progress_tx_do_work(&t, &o, 1000, 1600); /* silent too long */
    CHECK_EQ_U64(t.npeers, 0);
    hello(&t, 4, 1, null, null, null, 0);
    tp_progress_policy_t bad = {.interval_us = 0, .bytes_delta = 1};
    CHECK_EQ_I64(tp_progress_tx_set_policy(&t, &bad), -1);
}

/* §5.6, W-10.2.2.e/f: hostile or wrong FrameProgress is refused and counted
 * by cause and never reaches the handler; a slot reused while the handler
 * reads it is reported (tp_progress_intact 0, overwritten++). */
static void send_progress(uint64_t epoch, uint64_t seq, uint64_t filled, uint8_t state)
{
    const long n = tp_progress_encode(g_rig_buf, sizeof g_rig_buf, STREAM, epoch, seq, filled, state);
    rig_offer(g_rig_buf, (size_t)n);
}

static void test_hostile_refused(void)
{
    seen_t s;
    memset(&s, 0, sizeof s);
    open_pair(NULL, &s);
    publish_plain(4); /* seq 0..3 committed */
    for (int i = 0; i < 200; i++) pump(on_frame, &s), usleep(200);
    const uint64_t ep = tp_producer_epoch(g_p);
    const uint8_t P = TP_CONTROL_FRAME_PROGRESS_STATE_PROGRESS;
    send_progress(ep + 1, 1, 64, P);           /* wrong epoch */
    send_progress(ep, 1000, 64, P);            /* unknown slot: seq never written */
    send_progress(ep, 1, NROWS * ROW + 1, P);  /* beyond values_len_bytes */
    send_progress(ep, 2, 2048, P);             /* fine (committed bytes) ... */
    send_progress(ep, 2, 1024, P);             /* ... then backwards: progress of seq 2 dropped */
    send_progress(ep, 2, 4096, P);             /* after the drop */
    send_progress(ep, 3, 64, 9);               /* unknown state value */
    send_progress(ep, 3, 64, P);
    {
        uint8_t cut[18]; /* truncated: the header and 10 of 29 body bytes */
        tp_progress_encode(g_rig_buf, sizeof g_rig_buf, STREAM, ep, 3, 64, P);
        memcpy(cut, g_rig_buf, sizeof cut);
        rig_offer(cut, sizeof cut);
    }
    for (int i = 0; i < 200; i++) pump(on_frame, &s), usleep(200);
    tp_progress_counters_t pc;
    tp_consumer_progress_counters(g_c, &pc);
    CHECK_EQ_U64(pc.refused_epoch, 1);
    CHECK_EQ_U64(pc.refused_slot, 1);
    CHECK_EQ_U64(pc.refused_length, 1);
    CHECK_EQ_U64(pc.refused_backwards, 1);
    CHECK_EQ_U64(pc.refused_dropped, 1);
    CHECK_EQ_U64(pc.refused_malformed, 2); /* the state value and the cut one */
    CHECK_EQ_U64(pc.delivered, 2);
    CHECK_EQ_U64(s.calls, 2);
    CHECK_EQ_U64(s.bad_bytes, 2048 + 64); /* committed plain frames hold 0xEE, not the row pattern: seen and checked */
    /* slot reuse during the handler */
    memset(&s, 0, sizeof s);
    s.lap_on_first = 1;
    send_progress(ep, 3, 128, P);
    for (int i = 0; i < 200 && s.calls == 0; i++) pump(on_frame, &s), usleep(200);
    CHECK_EQ_U64(s.calls, 1);
    CHECK_EQ_U64(s.intact_false, 1);
    tp_consumer_progress_counters(g_c, &pc);
    CHECK_EQ_U64(pc.overwritten, 1);
    close_pair();
}

int main(void)
{
    RUN(test_hint_merge);
    RUN(test_prefixes_while_filling);
    RUN(test_complete_is_not_the_frame);
    RUN(test_nobody_opted_in);
    RUN(test_throttled);
    RUN(test_row_trigger_and_flush);
    RUN(test_hostile_refused);
    RUN(test_commit_keeps_staged_header);
    TP_TEST_END();
}
