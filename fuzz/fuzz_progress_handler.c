/* libFuzzer target for the consumer's FrameProgress handler
 * (src/client/progress_rx.c, docs/spec/wire.md §5.6): a sequence of
 * messages fed to one opted-in handler over a fake mapping (a 4-slot ring
 * and one 4096-byte pool in memory) whose slot headers and seqlock words
 * the input also sets.
 *
 * Input: records of [op u8][a u8][b u8][c u8][len u8][len bytes]. op % 4:
 *   0 the bytes as a raw message
 *   1 a FrameProgress built from a, b, c and the bytes: epoch (mapped or
 *     not), stream (ours or not), seq, payload_bytes_filled, state
 *   2 rewrite slot a % 4 for seq b (committed or in progress by c & 1) with
 *     a tensor taken from the bytes (dims, dtype, strides, progress fields)
 *   3 scribble the bytes over a slot header (a torn or hostile header)
 *
 * Invariants (abort on violation; ASan/UBSan catch the rest):
 *  - every message is counted exactly once (delivered, ignored or one
 *    refusal cause);
 *  - a delivered prefix is never past payload_bytes_filled, which is never
 *    past values_len_bytes, never past the pool slot, and is whole rows;
 *  - a delivered fill is what the frame's tracking holds (so the next
 *    one is checked against it, W-10.2.2.f). */
#include "../src/client/progress_internal.h"

#include "tensorpool/shm_seqlock.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOTS 4u
#define STRIDE 4096u
#define EPOCH 5u
#define STREAM 77u

static uint8_t g_ring[TP_SHM_SUPERBLOCK_SIZE + NSLOTS * TP_SHM_SLOT_BYTES] __attribute__((aligned(64)));
static uint8_t g_pool[TP_SHM_SUPERBLOCK_SIZE + NSLOTS * STRIDE] __attribute__((aligned(64)));
static tp_progress_rx_t g_x;

static void on_progress(void *clientd, const tp_progress_t *p)
{
    (void)clientd;
    if (p->readable > p->bytes_filled || p->bytes_filled > p->values_len || p->values_len > STRIDE) abort();
    if (p->row_bytes != 0 ? p->readable % p->row_bytes != 0 : p->readable != 0) abort();
    if (p->payload < g_pool + TP_SHM_SUPERBLOCK_SIZE || p->payload + p->readable > g_pool + sizeof g_pool) abort();
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < p->readable; i++) sink ^= p->payload[i]; /* every byte handed out is mapped */
    (void)sink;
    int tracked = 0; /* the frame's tracking now holds this fill, the highest seen (W-10.2.2.f) */
    for (unsigned i = 0; i < TP_PROGRESS_TRACKED; i++) {
        const tp_progress_track_t *t = &g_x.track[i];
        if (t->used && t->epoch == p->epoch && t->seq == p->seq) tracked = t->filled == p->bytes_filled && !t->dropped;
    }
    if (!tracked) abort();
}

static uint8_t *slot_at(unsigned i) { return g_ring + TP_SHM_SUPERBLOCK_SIZE + (size_t)i * TP_SHM_SLOT_BYTES; }

static void write_slot(unsigned i, uint64_t seq, int committed, const uint8_t *b, size_t n)
{
    uint8_t in[24] = {0};
    memcpy(in, b, n < sizeof in ? n : sizeof in);
    tp_slot_header_t h;
    memset(&h, 0, sizeof h);
    h.values_len_bytes = (uint32_t)(in[0] | in[1] << 8) & 0x1FFF; /* up to 8191: past the stride too */
    h.payload_slot = in[2] & 0x80 ? in[2] & 7 : i;
    h.pool_id = in[3] & 0x80 ? in[3] : 1;
    h.tensor.dtype = (int16_t)(in[4] % 16);
    h.tensor.major_order = (int16_t)(1 + in[5] % 2);
    h.tensor.ndims = (uint8_t)(1 + in[6] % 3);
    h.tensor.progress_unit = (uint8_t)(in[7] % 4);
    h.tensor.progress_stride_bytes = in[8];
    for (unsigned k = 0; k < 3; k++) {
        h.tensor.dims[k] = in[9 + k] % 64;
        h.tensor.strides[k] = in[12] & (1u << k) ? in[13 + k] : 0;
    }
    tp_seqlock_write_begin(slot_at(i), seq);
    tp_slot_header_write(slot_at(i), &h);
    if (committed) tp_seqlock_write_commit(slot_at(i), seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&g_x, 0, sizeof g_x);
    memset(g_ring, 0, sizeof g_ring);
    g_x.enabled = 1;
    g_x.handler = on_progress;
    tp_shm_reader_t r;
    memset(&r, 0, sizeof r);
    r.ring.base = g_ring;
    r.ring.size = sizeof g_ring;
    r.npools = 1;
    r.pool[0].base = g_pool;
    r.pool[0].size = sizeof g_pool;
    r.pool_id[0] = 1;
    r.stride[0] = STRIDE;
    r.mask = NSLOTS - 1;
    r.epoch = EPOCH;
    uint64_t messages = 0;
    size_t at = 0;
    while (at + 5 <= size) {
        const uint8_t op = data[at], a = data[at + 1], b = data[at + 2], c = data[at + 3];
        size_t n = data[at + 4];
        at += 5;
        if (n > size - at) n = size - at;
        const uint8_t *bytes = data + at;
        at += n;
        switch (op % 4) {
        case 0:
            tp_progress_rx_on_message(&g_x, a & 1 ? NULL : &r, STREAM, bytes, n);
            messages++;
            break;
        case 1: {
            uint8_t buf[64];
            uint64_t filled = 0;
            memcpy(&filled, bytes, n < sizeof filled ? n : sizeof filled);
            if (!(c & 0x80)) filled &= 0x1FFF;
            const long len = tp_progress_encode(buf, sizeof buf, a & 0x40 ? STREAM + 1 : STREAM, a & 0x20 ? EPOCH + 1 : EPOCH, b,
                                                filled, (uint8_t)(c % 5));
            if (len < 0) abort();
            tp_progress_rx_on_message(&g_x, a & 1 ? NULL : &r, STREAM, buf, (size_t)len);
            messages++;
            break;
        }
        case 2: write_slot(a % NSLOTS, b, c & 1, bytes, n); break;
        case 3: {
            uint8_t *s = slot_at(a % NSLOTS);
            const size_t off = 8 + b % (TP_SHM_SLOT_BYTES - 8);
            memcpy(s + off, bytes, n < TP_SHM_SLOT_BYTES - off ? n : TP_SHM_SLOT_BYTES - off);
            break;
        }
        default: break;
        }
    }
    const tp_progress_counters_t *k = &g_x.cnt;
    const uint64_t counted = k->delivered + k->ignored + k->refused_malformed + k->refused_epoch + k->refused_slot +
                             k->refused_length + k->refused_backwards + k->refused_layout + k->refused_dropped;
    if (counted != messages) abort();
    return 0;
}
