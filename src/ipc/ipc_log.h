/* Embedded IPC: one publication's broadcast log, a single-writer ring in a
 * memory-mapped file.
 *
 * File layout (little-endian, host order):
 *   [0, 256)   tp_ipc_log_meta_t: identity, owner (pid + start time),
 *              closed time, and the writer's cache line (tail_intent, tail)
 *   [256, 256 + capacity)  the ring of records
 * A record is a 16-byte header {length, type, sequence} and the payload,
 * padded to 16 bytes. Records never wrap: when one does not fit before the
 * end of the ring, a padding record fills the rest and it starts at offset 0.
 *
 * Protocol (position = bytes written since creation, never wraps):
 *   writer: tail_intent := end of the bytes it is about to write; release
 *           fence; write padding/header/payload; tail := end (release).
 *   reader: tail (acquire); copy the records in [pos, tail) to private
 *           memory; acquire fence; tail_intent. If tail_intent > pos +
 *           capacity, the writer may have overwritten what was copied: the
 *           reader was lapped, discards the copy and jumps to tail. Otherwise
 *           the copy is exactly what was committed and is delivered.
 * A writer killed at any point leaves tail at its last complete message, so
 * readers never see a torn record and never wait on it.
 */
#ifndef TP_IPC_LOG_H
#define TP_IPC_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define TP_IPC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TP_IPC_TSAN 1
#endif
#endif
#ifndef TP_IPC_TSAN
#define TP_IPC_TSAN 0
#endif

#define TP_IPC_LOG_MAGIC 0x31474C4350495054ULL /* "TPIPCLG1" */
#define TP_IPC_LOG_VERSION 1u

enum {
    TP_IPC_LOG_HEADER_BYTES = 256,
    TP_IPC_REC_HEADER = 16,
    TP_IPC_REC_ALIGN = 16,
    TP_IPC_REC_DATA = 1,
    TP_IPC_REC_PAD = 2,
    TP_IPC_LOG_MIN_CAPACITY = 4096,
    TP_IPC_LOG_MAX_CAPACITY = 1 << 30,
};

typedef struct tp_ipc_log_meta_s {
    uint64_t magic;
    uint32_t version;
    uint32_t header_bytes;
    uint32_t capacity;
    uint32_t max_message;
    int32_t stream_id;
    int32_t pid;
    uint64_t start_time;        /* owner's /proc/<pid>/stat starttime (ticks since boot) */
    uint64_t log_id;            /* random; the publisher id seen by subscribers */
    int64_t created_ns;         /* CLOCK_REALTIME */
    _Atomic int64_t closed_ns;  /* 0 while open; CLOCK_REALTIME of a clean close */
    uint8_t reserved0[64];
    /* The writer's line: written on every message, read once per reader poll.
     * Kept 128 bytes away from the metadata and the ring so neither shares a
     * line (or an adjacent-line prefetch pair) with it. */
    _Atomic uint64_t tail_intent;
    _Atomic uint64_t tail;
    _Atomic uint64_t tail_sequence; /* messages committed; stored after tail */
    uint8_t reserved1[104];
} tp_ipc_log_meta_t;

_Static_assert(sizeof(tp_ipc_log_meta_t) == TP_IPC_LOG_HEADER_BYTES, "log header is 256 bytes");
_Static_assert(offsetof(tp_ipc_log_meta_t, tail_intent) == 128, "writer line at 128");

typedef struct tp_ipc_rec_s {
    _Atomic int32_t length; /* payload bytes (padding: bytes after this header) */
    _Atomic int32_t type;   /* TP_IPC_REC_DATA or TP_IPC_REC_PAD */
    _Atomic uint64_t sequence;
} tp_ipc_rec_t;

_Static_assert(sizeof(tp_ipc_rec_t) == TP_IPC_REC_HEADER, "record header is 16 bytes");

static inline uint32_t tp_ipc_rec_size(size_t payload)
{
    return (uint32_t)((payload + TP_IPC_REC_HEADER + TP_IPC_REC_ALIGN - 1) & ~(size_t)(TP_IPC_REC_ALIGN - 1));
}

/* Copy between the ring and private memory. Under ThreadSanitizer the ring
 * side uses relaxed atomic words: racing with a lapping writer is part of the
 * protocol (detected by tail_intent) and must not be reported as a data race.
 * n is a multiple of 8 on the ring side. */
static inline void tp_ipc_copy_from_ring(void *dst, const uint8_t *src, size_t n)
{
#if TP_IPC_TSAN
    const _Atomic uint64_t *s = (const _Atomic uint64_t *)(const void *)src;
    uint8_t *d = dst;
    for (size_t i = 0; i < n / 8; i++) {
        uint64_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
        memcpy(d + 8 * i, &v, 8);
    }
#else
    memcpy(dst, src, n);
#endif
}

static inline void tp_ipc_copy_to_ring(uint8_t *dst, const void *src, size_t n)
{
#if TP_IPC_TSAN
    _Atomic uint64_t *d = (_Atomic uint64_t *)(void *)dst;
    const uint8_t *s = src;
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t v;
        memcpy(&v, s + 8 * i, 8);
        atomic_store_explicit(&d[i], v, memory_order_relaxed);
    }
    if (n % 8) {
        uint64_t v = 0;
        memcpy(&v, s + 8 * words, n % 8);
        atomic_store_explicit(&d[words], v, memory_order_relaxed);
    }
#else
    memcpy(dst, src, n);
#endif
}

/* ---- writer (the publication's process-local state) ---- */

typedef struct tp_ipc_log_writer_s {
    tp_ipc_log_meta_t *meta;
    uint8_t *ring;
    uint64_t position;  /* == meta->tail */
    uint64_t intent;    /* == meta->tail_intent; never decreases */
    uint64_t sequence;  /* of the next message */
    uint64_t claim_pos; /* record start of the outstanding claim */
    uint32_t capacity;
    uint32_t mask;
    uint32_t max_message;
    int claimed;
} tp_ipc_log_writer_t;

/* Make room for a record with length payload bytes (length <= max_message,
 * checked by the caller) and return where the payload goes. */
static inline uint8_t *tp_ipc_log_writer_reserve(tp_ipc_log_writer_t *w, size_t length)
{
    uint32_t rec = tp_ipc_rec_size(length);
    uint64_t pos = w->position;
    uint32_t off = (uint32_t)pos & w->mask;
    uint32_t pad = off + rec > w->capacity ? w->capacity - off : 0;
    uint64_t end = pos + pad + rec;
    if (end > w->intent) {
        w->intent = end;
        atomic_store_explicit(&w->meta->tail_intent, end, memory_order_relaxed);
        /* Readers that copy any byte written below must see the new intent. */
        atomic_thread_fence(memory_order_release);
    }
    if (pad) {
        tp_ipc_rec_t *p = (tp_ipc_rec_t *)(void *)(w->ring + off);
        atomic_store_explicit(&p->length, (int32_t)(pad - TP_IPC_REC_HEADER), memory_order_relaxed);
        atomic_store_explicit(&p->type, TP_IPC_REC_PAD, memory_order_relaxed);
        atomic_store_explicit(&p->sequence, 0, memory_order_relaxed);
        pos += pad;
        off = 0;
    }
    w->claim_pos = pos;
    return w->ring + off + TP_IPC_REC_HEADER;
}

/* Publish the reserved record; returns the new position. */
static inline uint64_t tp_ipc_log_writer_publish(tp_ipc_log_writer_t *w, size_t length)
{
    tp_ipc_rec_t *r = (tp_ipc_rec_t *)(void *)(w->ring + ((uint32_t)w->claim_pos & w->mask));
    atomic_store_explicit(&r->length, (int32_t)length, memory_order_relaxed);
    atomic_store_explicit(&r->type, TP_IPC_REC_DATA, memory_order_relaxed);
    atomic_store_explicit(&r->sequence, w->sequence, memory_order_relaxed);
    uint64_t end = w->claim_pos + tp_ipc_rec_size(length);
    atomic_store_explicit(&w->meta->tail, end, memory_order_release);
    w->position = end;
    w->sequence++;
    /* After tail: a reader that sees this count sees a tail at least as new. */
    atomic_store_explicit(&w->meta->tail_sequence, w->sequence, memory_order_release);
    return end;
}

/* ---- reader (one subscription's view of one log) ---- */

typedef struct tp_ipc_log_reader_s {
    const tp_ipc_log_meta_t *meta;
    const uint8_t *ring;
    uint64_t position;
    uint64_t next_sequence;
    uint64_t loss;     /* messages skipped after being lapped */
    uint64_t log_id;
    uint32_t capacity;
    uint32_t mask;
    uint32_t max_message;
    int32_t stream_id;
    int sequence_known;
    int corrupt;       /* a committed record failed validation */
} tp_ipc_log_reader_t;

typedef void (*tp_ipc_log_handler_t)(void *clientd, const uint8_t *buffer, size_t length,
                                     const void *info);

/* Committed end of the log. */
static inline uint64_t tp_ipc_log_reader_tail(const tp_ipc_log_reader_t *r)
{
    return atomic_load_explicit(&r->meta->tail, memory_order_acquire);
}

/* Join at the current end. tail is read before the count, so the first record
 * read has a sequence <= next_sequence (never a false loss). */
static inline void tp_ipc_log_reader_join_tail(tp_ipc_log_reader_t *r)
{
    r->position = atomic_load_explicit(&r->meta->tail, memory_order_acquire);
    r->next_sequence = atomic_load_explicit(&r->meta->tail_sequence, memory_order_acquire);
    r->sequence_known = 1;
}

/* Lapped: skip to the end and count what was skipped. The count is read
 * before tail, so tail is at least as new; records between are counted by
 * the sequence gap of the next record read. */
static inline void tp_ipc_log_reader_skip_ahead(tp_ipc_log_reader_t *r)
{
    uint64_t seq = atomic_load_explicit(&r->meta->tail_sequence, memory_order_acquire);
    r->position = atomic_load_explicit(&r->meta->tail, memory_order_acquire);
    if (r->sequence_known && seq > r->next_sequence) r->loss += seq - r->next_sequence;
    r->next_sequence = seq;
    r->sequence_known = 1;
}

/* Copy up to limit committed records into scratch (scratch_cap >= largest
 * record), validate, and return how many were copied (0 if none, lapped or
 * corrupt). *end receives the position after the last copied record. */
static inline int tp_ipc_log_reader_copy(tp_ipc_log_reader_t *r, uint8_t *scratch, size_t scratch_cap, int limit,
                                         uint64_t *end)
{
    uint64_t pos = r->position;
    uint64_t tail = atomic_load_explicit(&r->meta->tail, memory_order_acquire);
    if (tail == pos) return 0;
    int lapped = tail - pos > r->capacity;
    int n = 0;
    int bad = 0;
    uint64_t p = pos;
    size_t used = 0;
    while (!lapped && p < tail && n < limit) {
        uint32_t off = (uint32_t)p & r->mask;
        const tp_ipc_rec_t *h = (const tp_ipc_rec_t *)(const void *)(r->ring + off);
        int32_t len = atomic_load_explicit(&h->length, memory_order_relaxed);
        int32_t type = atomic_load_explicit(&h->type, memory_order_relaxed);
        if (type == TP_IPC_REC_PAD) {
            if ((uint32_t)len != r->capacity - off - TP_IPC_REC_HEADER) {
                bad = 1;
                break;
            }
            p += r->capacity - off;
            continue;
        }
        if (type != TP_IPC_REC_DATA || len < 0 || (uint32_t)len > r->max_message ||
            off + tp_ipc_rec_size((size_t)len) > r->capacity) {
            bad = 1;
            break;
        }
        uint32_t rec = tp_ipc_rec_size((size_t)len);
        if (used + rec > scratch_cap) break;
        tp_ipc_copy_from_ring(scratch + used, r->ring + off, rec);
        used += rec;
        p += rec;
        n++;
    }
    /* Seqlock-style validation: did the writer start overwriting [pos, p)? */
    atomic_thread_fence(memory_order_acquire);
    uint64_t intent = atomic_load_explicit(&r->meta->tail_intent, memory_order_relaxed);
    if (lapped || intent > pos + r->capacity) {
        tp_ipc_log_reader_skip_ahead(r);
        return 0;
    }
    if (bad && n == 0) {
        r->corrupt = 1;
        return 0;
    }
    *end = p;
    return n;
}

#endif
