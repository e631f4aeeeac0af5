/* Receiver-side frame assembly (docs/spec/bridge.md §3). Pure: no I/O, no
 * allocation after init. */
#include "tensorpool/bridge_assembler.h"

#include "tensorpool/crc32c.h"
#include "tensorpool/error.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/slot_check.h"

#include <stdlib.h>
#include <string.h>

#define BITMAP_WORDS ((TP_BRIDGE_MAX_CHUNKS + 63u) / 64u)
#define TOMBSTONES 8u

typedef struct assembly_s {
    bool in_use;
    uint64_t epoch, seq, trace_id;
    uint32_t chunk_count, payload_length;
    uint32_t unit;      /* L of BR-P1; 0 until known */
    uint32_t received;  /* distinct indices */
    uint32_t contig;    /* indices 0..contig-1 all arrived: the in-order prefix (BR-P11) */
    uint64_t start_ns;
    uint8_t *buf;
    bool have_header;
    uint8_t header[TP_BRIDGE_HEADER_BYTES];
    uint64_t *seen; /* bitmap of indices, BITMAP_WORDS words */
} assembly_t;

typedef struct tombstone_s {
    uint64_t epoch, seq;
    bool valid, completed;
} tombstone_t;

struct tp_bridge_asm_s {
    tp_bridge_asm_config_t cfg;
    tp_bridge_sink_t sink;
    bool have_announce;
    tp_bridge_announce_t ann;
    assembly_t as[TP_BRIDGE_MAX_ASSEMBLIES];
    tombstone_t tomb[TOMBSTONES];
    unsigned tomb_next;
    uint64_t drops[TP_BRIDGE_DROP_COUNT_];
    uint64_t completed, duplicates;
    uint64_t *bitmaps;
};

static const char *const drop_names[TP_BRIDGE_DROP_COUNT_] = {
    "malformed", "no_announce", "epoch", "too_large", "conflict", "overlap", "trace",
    "crc",       "timeout",     "missing", "header", "no_slot", "remap",
};

const char *tp_bridge_drop_name(tp_bridge_drop_t cause)
{
    return (unsigned)cause < TP_BRIDGE_DROP_COUNT_ ? drop_names[cause] : "unknown";
}

void tp_bridge_asm_config_init(tp_bridge_asm_config_t *c, uint32_t stream_id)
{
    memset(c, 0, sizeof *c);
    c->stream_id = stream_id;
    c->max_chunk_bytes = 1536 - 128;
    c->max_payload_bytes = TP_BRIDGE_MAX_PAYLOAD;
    c->timeout_ns = 250u * 1000000u;
    c->assemblies = 4;
}

int tp_bridge_asm_init(tp_bridge_asm_t **out, const tp_bridge_asm_config_t *cfg, const tp_bridge_sink_t *sink)
{
    if (out == NULL || cfg == NULL || sink == NULL || sink->acquire == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge assembler: no config or sink");
    if (cfg->assemblies == 0 || cfg->assemblies > TP_BRIDGE_MAX_ASSEMBLIES)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge assembler: assemblies %u outside 1..%u", cfg->assemblies,
                          TP_BRIDGE_MAX_ASSEMBLIES);
    if (cfg->max_chunk_bytes == 0 || cfg->max_chunk_bytes > 65535u)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge assembler: max_chunk_bytes %u outside 1..65535",
                          cfg->max_chunk_bytes);
    if (cfg->max_payload_bytes > TP_BRIDGE_MAX_PAYLOAD || cfg->timeout_ns == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "bridge assembler: max_payload_bytes above 2^30 or zero timeout");
    tp_bridge_asm_t *a = calloc(1, sizeof *a);
    uint64_t *bm = calloc((size_t)cfg->assemblies * BITMAP_WORDS, sizeof *bm);
    if (a == NULL || bm == NULL) {
        free(a);
        free(bm);
        return tp_err_set(TP_ERR_CAPACITY, "bridge assembler: out of memory");
    }
    a->cfg = *cfg;
    a->sink = *sink;
    a->bitmaps = bm;
    for (unsigned i = 0; i < cfg->assemblies; i++)
        a->as[i].seen = bm + (size_t)i * BITMAP_WORDS;
    *out = a;
    return 0;
}

void tp_bridge_asm_destroy(tp_bridge_asm_t *a)
{
    if (a == NULL)
        return;
    for (unsigned i = 0; i < a->cfg.assemblies; i++)
        if (a->as[i].in_use && a->sink.release != NULL)
            a->sink.release(a->sink.ctx, a->as[i].buf);
    free(a->bitmaps);
    free(a);
}

static void remember(tp_bridge_asm_t *a, uint64_t epoch, uint64_t seq, bool completed)
{
    tombstone_t *t = &a->tomb[a->tomb_next];
    a->tomb_next = (a->tomb_next + 1) % TOMBSTONES;
    t->epoch = epoch;
    t->seq = seq;
    t->valid = true;
    t->completed = completed;
}

static const tombstone_t *buried(const tp_bridge_asm_t *a, uint64_t epoch, uint64_t seq)
{
    for (unsigned i = 0; i < TOMBSTONES; i++)
        if (a->tomb[i].valid && a->tomb[i].epoch == epoch && a->tomb[i].seq == seq)
            return &a->tomb[i];
    return NULL;
}

/* Drop an assembly: release its buffer, count once, remember its key. */
static void drop_assembly(tp_bridge_asm_t *a, assembly_t *s, tp_bridge_drop_t cause)
{
    if (s->buf != NULL && a->sink.release != NULL)
        a->sink.release(a->sink.ctx, s->buf);
    s->buf = NULL;
    s->in_use = false;
    a->drops[cause]++;
    remember(a, s->epoch, s->seq, false);
}

/* A chunk that is dropped before it reached an assembly: counts once per key. */
static tp_bridge_result_t drop_loose(tp_bridge_asm_t *a, const tp_bridge_chunk_t *c, tp_bridge_drop_t cause,
                                     tp_bridge_drop_t *out)
{
    if (out != NULL)
        *out = cause;
    if (buried(a, c->epoch, c->seq) == NULL) {
        a->drops[cause]++;
        remember(a, c->epoch, c->seq, false);
    }
    return TP_BRIDGE_DROPPED;
}

static assembly_t *find(tp_bridge_asm_t *a, uint64_t epoch, uint64_t seq)
{
    for (unsigned i = 0; i < a->cfg.assemblies; i++)
        if (a->as[i].in_use && a->as[i].epoch == epoch && a->as[i].seq == seq)
            return &a->as[i];
    return NULL;
}

void tp_bridge_asm_reset(tp_bridge_asm_t *a, tp_bridge_drop_t cause)
{
    for (unsigned i = 0; i < a->cfg.assemblies; i++)
        if (a->as[i].in_use)
            drop_assembly(a, &a->as[i], cause);
}

void tp_bridge_asm_set_announce(tp_bridge_asm_t *a, const tp_bridge_announce_t *ann)
{
    if (a->have_announce && ann->epoch < a->ann.epoch)
        return; /* BR-8.b: never go back to an older epoch */
    if (a->have_announce && ann->epoch != a->ann.epoch)
        tp_bridge_asm_reset(a, TP_BRIDGE_DROP_REMAP); /* BR-8.a */
    a->ann = *ann;
    if (a->ann.npools > TP_BRIDGE_MAX_POOLS)
        a->ann.npools = TP_BRIDGE_MAX_POOLS;
    a->have_announce = true;
}

/* §5.2 rules a chunk breaks on its own (BR-5.2.a-c, e, and slice bounds). */
static bool malformed(const tp_bridge_chunk_t *c)
{
    if (c->chunk_count < 1 || c->chunk_count > TP_BRIDGE_MAX_CHUNKS || c->chunk_index >= c->chunk_count)
        return true;
    if (c->header_included > 1 || (c->chunk_index == 0) != (c->header_included == 1))
        return true;
    if (c->header_included ? c->header_len != TP_BRIDGE_HEADER_BYTES : c->header_len != 0)
        return true;
    if (c->chunk_index == 0 && c->chunk_offset != 0)
        return true;
    if (c->payload_len != c->chunk_length)
        return true;
    if ((uint64_t)c->chunk_offset + c->chunk_length > c->payload_length)
        return true;
    return false;
}

/* BR-6.b, BR-6.c, BR-6.g on the 256 header bytes. */
static bool header_ok(const tp_bridge_asm_t *a, const uint8_t *hb, uint64_t seq, uint32_t payload_length)
{
    tp_slot_header_t h;
    tp_slot_header_read(hb, &h);
    int32_t resolved[TP_TENSOR_MAX_DIMS];
    /* payload_slot is the source's and is ignored (BR-6.e): check it against itself. */
    if (tp_slot_header_check(&h, h.payload_slot, resolved) != TP_REJECT_NONE)
        return false;
    if (h.values_len_bytes != payload_length || tp_tensor_header_extent(&h.tensor, resolved) > payload_length)
        return false;
    uint64_t seq_commit;
    memcpy(&seq_commit, hb, sizeof seq_commit);
    if ((seq_commit >> 1) != seq || (seq_commit & 1u) == 0)
        return false;
    for (unsigned i = 0; i < a->ann.npools; i++)
        if (a->ann.pool_id[i] == h.pool_id)
            return payload_length <= a->ann.stride[i];
    return false;
}

/* BR-P1: the slice of index i is [i*L, i*L + len). Learns L from the chunk
 * when it is not known yet. false = the chunk's slice is not that. */
static bool slice_ok(assembly_t *s, const tp_bridge_chunk_t *c)
{
    const uint32_t n = s->chunk_count, i = c->chunk_index;
    uint32_t unit = s->unit;
    if (unit == 0) {
        if (n == 1)
            unit = c->chunk_length;
        else if (i < n - 1)
            unit = c->chunk_length;
        else if (c->chunk_offset % (n - 1) == 0)
            unit = c->chunk_offset / (n - 1);
        else
            return false;
        if (unit == 0 && s->payload_length != 0)
            return false;
        /* the last chunk holds 1..unit bytes */
        const uint64_t before = (uint64_t)(n - 1) * unit;
        if (n > 1 && (before >= s->payload_length || s->payload_length - before > unit))
            return false;
        s->unit = unit;
    }
    const uint64_t off = (uint64_t)i * unit;
    const uint64_t len = i < n - 1 ? unit : s->payload_length - off;
    return c->chunk_offset == off && c->chunk_length == len;
}

static void bit_set(uint64_t *bm, uint32_t i) { bm[i / 64] |= UINT64_C(1) << (i % 64); }
static bool bit_get(const uint64_t *bm, uint32_t i) { return (bm[i / 64] >> (i % 64)) & 1u; }

static assembly_t *start(tp_bridge_asm_t *a, const tp_bridge_chunk_t *c, uint64_t now_ns)
{
    assembly_t *s = NULL;
    for (unsigned i = 0; i < a->cfg.assemblies && s == NULL; i++)
        if (!a->as[i].in_use)
            s = &a->as[i];
    if (s == NULL) {
        s = &a->as[0];
        for (unsigned i = 1; i < a->cfg.assemblies; i++)
            if (a->as[i].start_ns < s->start_ns)
                s = &a->as[i];
        drop_assembly(a, s, TP_BRIDGE_DROP_MISSING);
    }
    s->in_use = true;
    s->epoch = c->epoch;
    s->seq = c->seq;
    s->trace_id = c->trace_id;
    s->chunk_count = c->chunk_count;
    s->payload_length = c->payload_length;
    s->unit = 0;
    s->received = 0;
    s->contig = 0;
    s->start_ns = now_ns;
    s->have_header = false;
    memset(s->seen, 0, ((c->chunk_count + 63u) / 64u) * sizeof(uint64_t));
    s->buf = a->sink.acquire(a->sink.ctx, c->epoch, c->seq, c->payload_length);
    return s;
}

tp_bridge_result_t tp_bridge_asm_on_chunk(tp_bridge_asm_t *a, const tp_bridge_chunk_t *c, uint64_t now_ns,
                                          tp_bridge_frame_t *frame, tp_bridge_drop_t *cause)
{
    if (c->stream_id != a->cfg.stream_id)
        return TP_BRIDGE_OTHER_STREAM;
    const tombstone_t *t = buried(a, c->epoch, c->seq);
    if (t != NULL) {
        if (t->completed) {
            a->duplicates++;
            return TP_BRIDGE_DUPLICATE;
        }
        if (cause != NULL)
            *cause = TP_BRIDGE_DROP_COUNT_; /* already counted */
        return TP_BRIDGE_DROPPED;
    }
    assembly_t *s = find(a, c->epoch, c->seq);
    tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT_;
    if (malformed(c))
        why = TP_BRIDGE_DROP_MALFORMED;
    else if (a->cfg.crc32c && (!c->has_crc || tp_crc32c(0, c->payload, c->payload_len) != c->crc))
        why = TP_BRIDGE_DROP_CRC;
    else if (c->chunk_length > a->cfg.max_chunk_bytes || c->payload_length > a->cfg.max_payload_bytes ||
             (a->cfg.local_max_stride != 0 && c->payload_length > a->cfg.local_max_stride))
        why = TP_BRIDGE_DROP_TOO_LARGE;
    else if (!a->have_announce)
        why = TP_BRIDGE_DROP_NO_ANNOUNCE;
    else if (c->epoch != a->ann.epoch)
        why = TP_BRIDGE_DROP_EPOCH;
    if (why != TP_BRIDGE_DROP_COUNT_) {
        if (s != NULL) {
            drop_assembly(a, s, why);
            if (cause != NULL)
                *cause = why;
            return TP_BRIDGE_DROPPED;
        }
        return drop_loose(a, c, why, cause);
    }
    if (s == NULL) {
        s = start(a, c, now_ns);
        if (s->buf == NULL)
            why = TP_BRIDGE_DROP_NO_SLOT;
    } else if (c->chunk_count != s->chunk_count || c->payload_length != s->payload_length) {
        why = TP_BRIDGE_DROP_CONFLICT;
    } else if (c->trace_id != s->trace_id) {
        why = TP_BRIDGE_DROP_TRACE;
    }
    if (why == TP_BRIDGE_DROP_COUNT_ && !slice_ok(s, c))
        why = TP_BRIDGE_DROP_OVERLAP;
    if (why == TP_BRIDGE_DROP_COUNT_ && bit_get(s->seen, c->chunk_index)) {
        /* BR-5.2.l: identical repeats are ignored, anything else kills the frame. */
        if (memcmp(s->buf + c->chunk_offset, c->payload, c->chunk_length) == 0 &&
            (c->header_included == 0 || memcmp(s->header, c->header, TP_BRIDGE_HEADER_BYTES) == 0)) {
            a->duplicates++;
            return TP_BRIDGE_DUPLICATE;
        }
        why = TP_BRIDGE_DROP_CONFLICT;
    }
    if (why == TP_BRIDGE_DROP_COUNT_ && c->header_included) {
        if (!header_ok(a, c->header, c->seq, c->payload_length))
            why = TP_BRIDGE_DROP_HEADER;
        else {
            memcpy(s->header, c->header, TP_BRIDGE_HEADER_BYTES);
            s->have_header = true;
        }
    }
    if (why != TP_BRIDGE_DROP_COUNT_) {
        drop_assembly(a, s, why);
        if (cause != NULL)
            *cause = why;
        return TP_BRIDGE_DROPPED;
    }
    memcpy(s->buf + c->chunk_offset, c->payload, c->chunk_length);
    bit_set(s->seen, c->chunk_index);
    while (s->contig < s->chunk_count && bit_get(s->seen, s->contig))
        s->contig++;
    if (++s->received < s->chunk_count)
        return TP_BRIDGE_PENDING;
    /* Every index arrived and BR-P1 held for each: the payload is covered exactly. */
    frame->epoch = s->epoch;
    frame->seq = s->seq;
    frame->trace_id = s->trace_id;
    frame->payload_length = s->payload_length;
    frame->buf = s->buf;
    frame->header = s->header;
    s->buf = NULL;
    s->in_use = false;
    a->completed++;
    remember(a, s->epoch, s->seq, true);
    return TP_BRIDGE_COMPLETE;
}

unsigned tp_bridge_asm_poll(tp_bridge_asm_t *a, uint64_t now_ns)
{
    unsigned n = 0;
    for (unsigned i = 0; i < a->cfg.assemblies; i++) {
        assembly_t *s = &a->as[i];
        if (s->in_use && now_ns - s->start_ns >= a->cfg.timeout_ns) {
            drop_assembly(a, s, TP_BRIDGE_DROP_TIMEOUT);
            n++;
        }
    }
    return n;
}

uint64_t tp_bridge_asm_prefix(const tp_bridge_asm_t *a, uint64_t epoch, uint64_t seq, const uint8_t **header)
{
    const assembly_t *s = NULL;
    for (unsigned i = 0; i < a->cfg.assemblies && s == NULL; i++)
        if (a->as[i].in_use && a->as[i].epoch == epoch && a->as[i].seq == seq)
            s = &a->as[i];
    if (s == NULL || s->buf == NULL || s->contig == 0 || !s->have_header)
        return 0;
    if (header != NULL)
        *header = s->header;
    /* chunk 0 arrived, so L is known (BR-P1); the last chunk ends the payload */
    return s->contig == s->chunk_count ? s->payload_length : (uint64_t)s->contig * s->unit;
}

uint64_t tp_bridge_asm_drops(const tp_bridge_asm_t *a, tp_bridge_drop_t cause)
{
    return (unsigned)cause < TP_BRIDGE_DROP_COUNT_ ? a->drops[cause] : 0;
}
uint64_t tp_bridge_asm_completed(const tp_bridge_asm_t *a) { return a->completed; }
uint64_t tp_bridge_asm_duplicates(const tp_bridge_asm_t *a) { return a->duplicates; }

unsigned tp_bridge_asm_in_flight(const tp_bridge_asm_t *a)
{
    unsigned n = 0;
    for (unsigned i = 0; i < a->cfg.assemblies; i++)
        n += a->as[i].in_use;
    return n;
}
