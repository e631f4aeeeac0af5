/* Shared fixture of the bridge assembler tests: frames cut into encoded
 * BridgeFrameChunks the way the sender cuts them (docs/spec/bridge.md BR-P1),
 * a valid 256-byte source header, and a sink of fixed buffers. */
#ifndef BRIDGE_FIXTURE_H
#define BRIDGE_FIXTURE_H

#include "tensorpool/bridge_assembler.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_seqlock.h"
#include "tensorpool/tensor_header.h"

#include <stdlib.h>
#include <string.h>

#define FX_STREAM 7001u
#define FX_EPOCH 5u
#define FX_POOL 1u
#define FX_STRIDE (1u << 20)
#define FX_MAX_CHUNKS 1024u
#define FX_BUFS 8u

/* The 256 header bytes of a committed frame seq of len bytes, uint8 1-D. */
static void fx_header(uint8_t out[TP_BRIDGE_HEADER_BYTES], uint64_t seq, uint32_t len, uint16_t pool_id)
{
    tp_slot_header_t h;
    memset(&h, 0, sizeof h);
    memset(out, 0, TP_BRIDGE_HEADER_BYTES);
    h.values_len_bytes = len;
    h.payload_slot = (uint32_t)(seq % 16u);
    h.pool_id = pool_id;
    h.timestamp_ns = 1000u + seq;
    const int32_t dims[1] = {(int32_t)len};
    tp_tensor_header_init(&h.tensor, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    tp_slot_header_write(out, &h);
    const uint64_t commit = tp_seq_committed(seq);
    memcpy(out, &commit, sizeof commit);
}

/* One frame cut into chunks: encoded messages and their parsed views. */
typedef struct fx_frame_s {
    unsigned n;
    uint8_t header[TP_BRIDGE_HEADER_BYTES];
    uint8_t *payload;
    uint32_t len;
    uint8_t *msg[FX_MAX_CHUNKS];
    size_t msg_len[FX_MAX_CHUNKS];
    tp_bridge_chunk_t c[FX_MAX_CHUNKS];
} fx_frame_t;

static void fx_fill(uint8_t *p, uint32_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15u + 1u;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

/* Cut frame (epoch, seq) of len bytes into chunks of unit bytes. */
static void fx_cut(fx_frame_t *f, uint64_t epoch, uint64_t seq, uint32_t len, uint32_t unit, uint64_t trace, bool crc)
{
    memset(f, 0, sizeof *f);
    f->len = len;
    f->payload = malloc(len ? len : 1);
    fx_fill(f->payload, len, seq + epoch * 1000003u);
    fx_header(f->header, seq, len, FX_POOL);
    f->n = len == 0 ? 1 : (len + unit - 1) / unit;
    for (unsigned i = 0; i < f->n; i++) {
        tp_bridge_chunk_t c;
        memset(&c, 0, sizeof c);
        c.stream_id = FX_STREAM;
        c.epoch = epoch;
        c.seq = seq;
        c.trace_id = trace;
        c.chunk_index = i;
        c.chunk_count = f->n;
        c.chunk_offset = i * unit;
        c.chunk_length = i + 1 < f->n ? unit : len - i * unit;
        c.payload_length = len;
        c.header_included = i == 0;
        c.header = i == 0 ? f->header : NULL;
        c.header_len = i == 0 ? TP_BRIDGE_HEADER_BYTES : 0;
        c.payload = f->payload + c.chunk_offset;
        c.payload_len = c.chunk_length;
        const size_t cap = tp_bridge_chunk_size(i == 0, c.chunk_length, crc);
        f->msg[i] = malloc(cap);
        const long n = tp_bridge_chunk_encode(&c, crc, f->msg[i], cap);
        f->msg_len[i] = n < 0 ? 0 : (size_t)n;
        if (n < 0 || tp_bridge_chunk_parse(f->msg[i], f->msg_len[i], crc, &f->c[i]) != 0)
            abort();
    }
}

static void fx_free(fx_frame_t *f)
{
    for (unsigned i = 0; i < f->n; i++)
        free(f->msg[i]);
    free(f->payload);
    f->n = 0;
}

/* A sink of FX_BUFS fixed buffers; counts acquire/release. */
typedef struct fx_sink_s {
    uint8_t *buf[FX_BUFS];
    bool used[FX_BUFS];
    unsigned acquired, released;
    bool refuse;
} fx_sink_t;

static uint8_t *fx_acquire(void *ctx, uint64_t epoch, uint64_t seq, uint32_t len)
{
    (void)epoch;
    (void)seq;
    fx_sink_t *s = ctx;
    if (s->refuse || len > FX_STRIDE)
        return NULL;
    for (unsigned i = 0; i < FX_BUFS; i++)
        if (!s->used[i]) {
            s->used[i] = true;
            s->acquired++;
            return s->buf[i];
        }
    return NULL;
}

static void fx_release(void *ctx, uint8_t *buf)
{
    fx_sink_t *s = ctx;
    for (unsigned i = 0; i < FX_BUFS; i++)
        if (s->buf[i] == buf) {
            s->used[i] = false;
            s->released++;
        }
}

static void fx_sink_init(fx_sink_t *s)
{
    memset(s, 0, sizeof *s);
    for (unsigned i = 0; i < FX_BUFS; i++)
        s->buf[i] = malloc(FX_STRIDE);
}

static void fx_sink_free(fx_sink_t *s)
{
    for (unsigned i = 0; i < FX_BUFS; i++)
        free(s->buf[i]);
}

/* The caller is done with a completed frame's buffer (the receiver commits it). */
static void fx_done(fx_sink_t *s, uint8_t *buf)
{
    for (unsigned i = 0; i < FX_BUFS; i++)
        if (s->buf[i] == buf)
            s->used[i] = false;
}

static void fx_announce(tp_bridge_asm_t *a, uint64_t epoch)
{
    tp_bridge_announce_t ann;
    memset(&ann, 0, sizeof ann);
    ann.epoch = epoch;
    ann.npools = 2;
    ann.pool_id[0] = FX_POOL;
    ann.stride[0] = FX_STRIDE;
    ann.pool_id[1] = FX_POOL + 1;
    ann.stride[1] = 4096;
    tp_bridge_asm_set_announce(a, &ann);
}

static tp_bridge_asm_t *fx_asm(fx_sink_t *s, const tp_bridge_asm_config_t *cfg_in, bool announce)
{
    tp_bridge_asm_config_t cfg;
    if (cfg_in != NULL)
        cfg = *cfg_in;
    else
        tp_bridge_asm_config_init(&cfg, FX_STREAM);
    const tp_bridge_sink_t sink = {fx_acquire, fx_release, s};
    tp_bridge_asm_t *a = NULL;
    if (tp_bridge_asm_init(&a, &cfg, &sink) != 0)
        abort();
    if (announce)
        fx_announce(a, FX_EPOCH);
    return a;
}

#endif
