/* Embedded IPC: one publication's broadcast log, a single-writer ring in a
 * memory-mapped file.
 *
 * File layout (little-endian, host order):
 *   [0, 256)   tp_ipc_log_meta_t: identity, owner (pid + start time),
 *              closed time, tail_intent (own line, written once per
 *              sixteenth of the ring) and the writer's line (tail, count)
 *   [256, 256 + capacity)  the ring of records
 * A record is a 16-byte header {tag, length, sequence} and the payload,
 * padded to 16 bytes. Records never wrap: when one does not fit before the
 * end of the ring, a padding record fills the rest and it starts at offset 0.
 *
 * Protocol (position = bytes written since creation, never wraps):
 *   writer: tail_intent := at least the end of the bytes it is about to
 *           write (rounded up to a sixteenth of the ring); release fence;
 *           write length/sequence and payload; then, with release, the
 *           record's tag := position | type << 1 | 1, tail := end and
 *           tail_sequence := count.
 *   reader: a record at position p is committed when its tag (acquire) is
 *           p's DATA or PAD tag: the tag is the commit flag, so a reader
 *           waiting for the next message watches the record's own cache
 *           line, not the writer's. It copies committed records to private
 *           memory, then (acquire fence) checks tail_intent: if tail_intent >
 *           start + capacity the writer may have overwritten what was
 *           copied, so the reader was lapped: it discards the copy, skips
 *           ahead (see tp_ipc_log_reader_skip_ahead) and counts the skipped
 *           messages. Otherwise the copy is delivered. No tag where one should be while tail says there is
 *           more means a corrupt log; that is checked every
 *           TP_IPC_TAIL_CHECK_EVERY empty polls.
 * A writer killed at any point leaves its last record untagged and tail at
 * its last complete message, so readers never see a torn record and never
 * wait on it.
 */
#ifndef TP_IPC_LOG_H
#define TP_IPC_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../util/prefetch.h"

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
    /* Records up to this size (two lines) are "small": their reader prefetches
     * the second line while waiting; bigger ones get the writer's prefetch and
     * have their header line written last (see tp_ipc_log_writer_*). */
    TP_IPC_REC_SMALL = 128,
    TP_IPC_LOG_MAX_CAPACITY = 1 << 30,
    /* A reader finding no tag loads tail on every this many empty polls
     * (a power of 2). A lapped reader is caught by tail_intent on every
     * poll; this check is only for a log whose tail moved on without tags
     * (corrupt or hostile), about 10-20 us of spinning. Checking every 16th
     * poll made the writer's tail line bounce between the caches on every
     * message of a ping-pong: 32 B round trips were 5 % slower. */
    TP_IPC_TAIL_CHECK_EVERY = 1024,
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
    /* Upper bound of every byte the writer may have written, rounded up to a
     * sixteenth of the ring so it changes rarely: readers check it after each
     * copy, and on a line of its own that check is a cache hit. */
    _Atomic uint64_t tail_intent;
    uint32_t flags; /* TP_IPC_LOG_LOSSLESS; set at creation, never changed */
    uint8_t reserved0[52];
    /* The writer's line: written on every message, read once per reader poll.
     * Kept 128 bytes away from the ring so they do not share a line (or an
     * adjacent-line prefetch pair). */
    _Atomic uint64_t tail;
    _Atomic uint64_t tail_sequence; /* messages committed; stored after tail */
    uint8_t reserved1[112];
} tp_ipc_log_meta_t;

_Static_assert(sizeof(tp_ipc_log_meta_t) == TP_IPC_LOG_HEADER_BYTES, "log header is 256 bytes");

/* ---- lossless logs: registered readers' positions ----
 *
 * A log created lossless has, after the ring (page aligned), a page of
 * reader slots. A subscription following the log claims a slot (owner :=
 * its pid by compare-and-swap), stores where it reads and bumps generation;
 * after each poll it stores its new position. The writer never announces
 * (tail_intent) past the lowest registered position plus the capacity, so a
 * registered reader is never lapped: offer reports back-pressure instead.
 * It reads the slots only when it announces a new sixteenth of the ring and
 * the generation changed or its cached limit is in the way. A slot whose
 * owner died is freed by the writer while it is held back (checked every
 * TP_IPC_DEAD_CHECK_EVERY refused offers, a /proc read), and so is one that
 * has held it back without moving for the writer's stall time (the reader
 * then finds its slot gone, reads lossy and counts what it loses). */
enum {
    TP_IPC_LOG_LOSSLESS = 1u,
    TP_IPC_PAGE_BYTES = 4096,
    TP_IPC_READER_SLOTS = 63,
    TP_IPC_DEAD_CHECK_EVERY = 1024,
};

/* owner of a slot the writer cut loose: nobody claims it (claims start from
 * 0) and the writer ignores it until its reader (or the dead-reader check)
 * frees it, so a late position store by that reader harms no one. */
#define TP_IPC_SLOT_CUT (1ull << 63)

typedef struct tp_ipc_reader_slot_s {
    _Atomic uint64_t owner;    /* 0 free, else the reader's pid (| TP_IPC_SLOT_CUT once cut loose) */
    _Atomic uint64_t position; /* the reader has consumed everything below */
    _Atomic uint64_t start_time; /* the owner's start time (pid reuse) */
    uint8_t pad[40];
} tp_ipc_reader_slot_t;

typedef struct tp_ipc_log_readers_s {
    _Atomic uint64_t generation; /* bumped after a slot is claimed */
    uint8_t pad[56];
    tp_ipc_reader_slot_t slot[TP_IPC_READER_SLOTS];
} tp_ipc_log_readers_t;

_Static_assert(sizeof(tp_ipc_log_readers_t) == TP_IPC_PAGE_BYTES, "reader slots fill one page");

/* Offset of the reader slots in a lossless log of this capacity. */
static inline uint64_t tp_ipc_log_readers_offset(uint32_t capacity)
{
    return ((uint64_t)TP_IPC_LOG_HEADER_BYTES + capacity + TP_IPC_PAGE_BYTES - 1) & ~(uint64_t)(TP_IPC_PAGE_BYTES - 1);
}

/* File size of a log. */
static inline uint64_t tp_ipc_log_file_bytes(uint32_t capacity, uint32_t flags)
{
    return flags & TP_IPC_LOG_LOSSLESS ? tp_ipc_log_readers_offset(capacity) + TP_IPC_PAGE_BYTES
                                       : (uint64_t)TP_IPC_LOG_HEADER_BYTES + capacity;
}
_Static_assert(offsetof(tp_ipc_log_meta_t, tail_intent) == 64, "intent line at 64");
_Static_assert(offsetof(tp_ipc_log_meta_t, tail) == 128, "writer line at 128");

typedef struct tp_ipc_rec_s {
    _Atomic uint64_t tag;      /* position | type << 1 | 1 once committed (stored last) */
    _Atomic int32_t length;    /* payload bytes (padding: bytes after this header) */
    _Atomic uint32_t sequence; /* low 32 bits of the publication's message count */
} tp_ipc_rec_t;

/* Tag of a committed record of type t (TP_IPC_REC_DATA/PAD) at position pos. */
static inline uint64_t tp_ipc_rec_tag(uint64_t pos, uint32_t t)
{
    return pos | ((uint64_t)t << 1) | 1u;
}

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
    uint64_t pad_pos;   /* padding written for it, if pad_len */
    uint32_t pad_len;
    size_t claim_len;   /* its payload length (the caller's claim struct is not trusted) */
    uint32_t capacity;
    uint32_t mask;
    uint32_t max_message;
    int claimed;
    int prefetch_write; /* write prefetches available (x86: PREFETCHW per CPUID) */
    int guard;          /* fault guard handle of the mapping (src/util/fault_guard.h) */
    /* lossless logs only (readers != NULL) */
    tp_ipc_log_readers_t *readers;
    uint64_t limit;      /* tail_intent may go up to here (lowest reader + capacity) */
    uint64_t readers_gen; /* generation the limit was computed at */
    uint32_t refused;     /* consecutive refused announcements (dead-reader check) */
    int64_t stall_ns;     /* a reader in the way that long without moving is cut loose */
    uint64_t stall_pos;   /* position of the reader in the way, and since when */
    int64_t stall_since_ns;
} tp_ipc_log_writer_t;

/* Lossless: recompute the limit; 1 when `want` fits under it. Cold path. */
int tp_ipc_log_writer_refresh_limit(tp_ipc_log_writer_t *w, uint64_t want);

/* Lossless: may a record of `length` payload bytes be written now without
 * lapping a registered reader? 1 yes, 0 back-pressured. Costs a compare
 * unless the record starts a new sixteenth of the ring. */
static inline int tp_ipc_log_writer_room(tp_ipc_log_writer_t *w, size_t length)
{
    uint32_t rec = tp_ipc_rec_size(length);
    uint32_t off = (uint32_t)w->position & w->mask;
    uint64_t end = w->position + (off + rec > w->capacity ? w->capacity - off : 0) + rec;
    if (end <= w->intent) return 1; /* already announced, and checked then */
    uint64_t chunk = w->capacity / 16;
    uint64_t want = (end + chunk - 1) & ~(chunk - 1); /* what reserve will announce */
    if (want <= w->limit && atomic_load_explicit(&w->readers->generation, memory_order_acquire) == w->readers_gen)
        return 1;
    return tp_ipc_log_writer_refresh_limit(w, want);
}

/* Make room for a record with length payload bytes (length <= max_message,
 * checked by the caller) and return where the payload goes. Nothing is
 * visible to readers until publish. */
static inline uint8_t *tp_ipc_log_writer_reserve(tp_ipc_log_writer_t *w, size_t length)
{
    uint32_t rec = tp_ipc_rec_size(length);
    uint64_t pos = w->position;
    uint32_t off = (uint32_t)pos & w->mask;
    uint32_t pad = off + rec > w->capacity ? w->capacity - off : 0;
    uint64_t end = pos + pad + rec;
    if (end > w->intent) {
        /* Announce a whole chunk at a time (see tail_intent): a reader then
         * counts as lapped up to one chunk early, which is safe. */
        uint64_t chunk = w->capacity / 16;
        w->intent = (end + chunk - 1) & ~(chunk - 1);
        atomic_store_explicit(&w->meta->tail_intent, w->intent, memory_order_relaxed);
        /* Readers that copy any byte written below must see the new intent. */
        atomic_thread_fence(memory_order_release);
    }
    w->pad_len = pad;
    if (pad) {
        tp_ipc_rec_t *p = (tp_ipc_rec_t *)(void *)(w->ring + off);
        atomic_store_explicit(&p->length, (int32_t)(pad - TP_IPC_REC_HEADER), memory_order_relaxed);
        atomic_store_explicit(&p->sequence, (uint32_t)w->sequence, memory_order_relaxed);
        w->pad_pos = pos;
        pos += pad;
        off = 0;
    }
    /* A small record's length and sequence go first, next to the payload's
     * first bytes on the same line; readers look at them only after the tag,
     * which publish stores last. A large record's header line is left for
     * publish (see there). */
    if (rec <= TP_IPC_REC_SMALL) {
        tp_ipc_rec_t *r = (tp_ipc_rec_t *)(void *)(w->ring + off);
        atomic_store_explicit(&r->length, (int32_t)length, memory_order_relaxed);
        atomic_store_explicit(&r->sequence, (uint32_t)w->sequence, memory_order_relaxed);
    }
    w->claim_pos = pos;
    w->claim_len = length;
    return w->ring + off + TP_IPC_REC_HEADER;
}

/* Ask for ownership of the lines the next record of about rec bytes will
 * fill. They were last written a lap ago and are usually in another cache or
 * L3 by now; without this, the stores of the next message wait for those
 * transfers before its tag can become visible (10-25% of the one-way
 * latency of a 1 KiB message in bench_ipc runs). The line holding the
 * next header is skipped: a waiting reader polls it and would only lose it
 * early. After a small record, only the line two lines past the end is
 * asked for: the reader polls the next line and prefetches the one after
 * (tp_ipc_log_reader_copy), and two caches asking for the same line would
 * just trade it; the line beyond is the writer's alone until it gets
 * there, and a stream of small messages no longer waits on a transfer per
 * line. A prefetch changes no data, so a lapped reader copying these lines
 * is still caught by tail_intent as before. */
static inline void tp_ipc_log_writer_prefetch(const tp_ipc_log_writer_t *w, uint64_t end, uint32_t rec)
{
    if (!w->prefetch_write) return;
    if (rec <= TP_IPC_REC_SMALL) {
        tp_prefetch_write(w->ring + ((((uint32_t)end & ~63u) + 2 * 64) & w->mask));
        return;
    }
    uint32_t lines = rec / 64 + 1;
    if (lines > 32) lines = 32; /* 2 KiB, so a large message does not issue hundreds */
    uint32_t first = ((uint32_t)end & ~63u) + 64;
    for (uint32_t i = 0; i < lines; i++) tp_prefetch_write(w->ring + ((first + 64 * i) & w->mask));
}

/* Copy an offered payload to dst (from reserve). A large record's first line
 * (header and the payload's first bytes) is the line a waiting reader polls,
 * and each store to it while the reader holds it must take it back first; so
 * the rest of the payload goes first and that line last, right before
 * publish writes the header and tag on it, and the writer takes the line
 * once per message instead of once for the header and again for the tag. */
static inline void tp_ipc_log_writer_copy(uint8_t *dst, const void *src, size_t length)
{
    size_t head = length;
    if (tp_ipc_rec_size(length) > TP_IPC_REC_SMALL) {
        head = (size_t)(64 - (((uintptr_t)dst) & 63)) & 63; /* payload bytes on the header's line */
        tp_ipc_copy_to_ring(dst + head, (const uint8_t *)src + head, length - head);
    }
    tp_ipc_copy_to_ring(dst, src, head);
}

/* Publish the reserved record; returns the new position. */
static inline uint64_t tp_ipc_log_writer_publish(tp_ipc_log_writer_t *w)
{
    if (w->pad_len) {
        tp_ipc_rec_t *p = (tp_ipc_rec_t *)(void *)(w->ring + ((uint32_t)w->pad_pos & w->mask));
        atomic_store_explicit(&p->tag, tp_ipc_rec_tag(w->pad_pos, TP_IPC_REC_PAD), memory_order_release);
    }
    tp_ipc_rec_t *r = (tp_ipc_rec_t *)(void *)(w->ring + ((uint32_t)w->claim_pos & w->mask));
    if (tp_ipc_rec_size(w->claim_len) > TP_IPC_REC_SMALL) {
        atomic_store_explicit(&r->length, (int32_t)w->claim_len, memory_order_relaxed);
        atomic_store_explicit(&r->sequence, (uint32_t)w->sequence, memory_order_relaxed);
    }
    atomic_store_explicit(&r->tag, tp_ipc_rec_tag(w->claim_pos, TP_IPC_REC_DATA), memory_order_release);
    uint64_t end = w->claim_pos + tp_ipc_rec_size(w->claim_len);
    atomic_store_explicit(&w->meta->tail, end, memory_order_release);
    w->position = end;
    w->sequence++;
    /* After tail: a reader that sees this count sees a tail at least as new. */
    atomic_store_explicit(&w->meta->tail_sequence, w->sequence, memory_order_release);
    tp_ipc_log_writer_prefetch(w, end, tp_ipc_rec_size(w->claim_len));
    return end;
}

/* ---- reader (one subscription's view of one log) ---- */

typedef struct tp_ipc_log_reader_s {
    const tp_ipc_log_meta_t *meta;
    const uint8_t *ring;
    uint64_t position;
    uint64_t next_sequence; /* expected sequence of the next record; a jump past it is loss */
    uint64_t loss;          /* messages skipped after being lapped */
    uint64_t log_id;
    uint32_t owner_uid; /* the log file's owner at open (fstat): who can have created it */
    uint32_t capacity;
    uint32_t mask;
    uint32_t max_message;
    int32_t stream_id;
    uint32_t empty_polls; /* polls that found no tag; tail is checked every few */
    uint32_t last_rec;    /* size of the last record read (prefetch hint) */
    uint64_t seq_base;    /* where to rebuild 64-bit sequences from after a skip */
    int has_seq_base;
    int corrupt;       /* a committed record failed validation */
    int guard;         /* fault guard handle of the mapping (src/util/fault_guard.h) */
    /* lossless logs: the reader slots (mapped read-write) and ours in them */
    tp_ipc_log_readers_t *readers;
    tp_ipc_reader_slot_t *slot; /* NULL: not registered (lossy for us) */
    int readers_guard;
    uint64_t reported; /* position last stored in our slot */
    uint64_t owner;    /* our pid, as claimed in the slot */
} tp_ipc_log_reader_t;

/* Lossless: tell the writer how far we have read (after each poll). A slot
 * the writer took back (we stalled it) is no longer ours: we read lossy. */
static inline void tp_ipc_log_reader_report(tp_ipc_log_reader_t *r)
{
    if (r->slot != NULL && r->position != r->reported) {
        uint64_t owner = atomic_load_explicit(&r->slot->owner, memory_order_acquire);
        if (owner != r->owner) {
            /* cut loose: the writer marked the slot; free it for others */
            if (owner == (r->owner | TP_IPC_SLOT_CUT))
                atomic_compare_exchange_strong_explicit(&r->slot->owner, &owner, 0, memory_order_acq_rel,
                                                        memory_order_relaxed);
            r->slot = NULL;
            return;
        }
        r->reported = r->position;
        atomic_store_explicit(&r->slot->position, r->position, memory_order_release);
    }
}

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
}

/* Lapped: skip ahead. Landing right at tail would leave the reader on the
 * writer's heels, where every line costs a full cache-to-cache miss and the
 * writer soon laps it again; so it re-enters half a ring behind tail, where
 * lines are complete and stream. Headers are self-describing (a tag holds
 * its own position), so the first record at or after the target is found by
 * scanning 16-byte slots; the copy is validated against tail_intent as usual,
 * and the skipped messages are counted by the sequence gap of that record.
 * If no header turns up within one record's length, it jumps to tail and
 * counts from tail_sequence (read before tail, so tail is at least as new). */
static inline void tp_ipc_log_reader_skip_ahead(tp_ipc_log_reader_t *r)
{
    uint64_t seq = atomic_load_explicit(&r->meta->tail_sequence, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->meta->tail, memory_order_acquire);
    uint64_t half = r->capacity / 2;
    if (tail > half && !(tail & (TP_IPC_REC_ALIGN - 1))) {
        uint64_t q = tail - half;
        uint64_t limit = q + tp_ipc_rec_size(r->max_message);
        if (q > r->position) {
            for (; q < limit && q < tail; q += TP_IPC_REC_ALIGN) {
                const tp_ipc_rec_t *h = (const tp_ipc_rec_t *)(const void *)(r->ring + ((uint32_t)q & r->mask));
                uint64_t tag = atomic_load_explicit(&h->tag, memory_order_acquire);
                if (tag == tp_ipc_rec_tag(q, TP_IPC_REC_DATA) || tag == tp_ipc_rec_tag(q, TP_IPC_REC_PAD)) {
                    r->position = q;
                    /* Records hold 32-bit sequences; rebuild the next one
                     * from the writer's count, which is within half a ring
                     * of it, however far behind this reader fell. */
                    r->seq_base = seq;
                    r->has_seq_base = 1;
                    return;
                }
            }
        }
    }
    r->position = tail;
    if (seq > r->next_sequence) r->loss += seq - r->next_sequence;
    r->next_sequence = seq;
    r->has_seq_base = 0;
}

/* Copy up to limit committed records into scratch (scratch_cap >= largest
 * record), validate, and return how many were copied (0 if none, lapped or
 * corrupt). *end receives the position after the last copied record. In the
 * scratch copy each record's length field holds the checked length. */
static inline int tp_ipc_log_reader_copy(tp_ipc_log_reader_t *r, uint8_t *scratch, size_t scratch_cap, int limit,
                                         uint64_t *end)
{
    uint64_t pos = r->position;
    if (pos & (TP_IPC_REC_ALIGN - 1)) {
        /* Only a corrupt or hostile log has a position off the record grid. */
        r->corrupt = 1;
        return 0;
    }
    int n = 0;
    int bad = 0;
    uint64_t p = pos;
    size_t used = 0;
    while (n < limit) {
        uint32_t off = (uint32_t)p & r->mask;
        const tp_ipc_rec_t *h = (const tp_ipc_rec_t *)(const void *)(r->ring + off);
        uint64_t tag = atomic_load_explicit(&h->tag, memory_order_acquire);
        if (tag == tp_ipc_rec_tag(p, TP_IPC_REC_PAD)) {
            int32_t len = atomic_load_explicit(&h->length, memory_order_relaxed);
            if ((uint32_t)len != r->capacity - off - TP_IPC_REC_HEADER) {
                bad = 1;
                break;
            }
            p += r->capacity - off;
            continue;
        }
        if (tag != tp_ipc_rec_tag(p, TP_IPC_REC_DATA)) break;
        int32_t len = atomic_load_explicit(&h->length, memory_order_relaxed);
        if (len < 0 || (uint32_t)len > r->max_message || off + tp_ipc_rec_size((size_t)len) > r->capacity) {
            bad = 1;
            break;
        }
        uint32_t rec = tp_ipc_rec_size((size_t)len);
        if (used + rec > scratch_cap) break;
        /* A record of one line (a FrameDescriptor is 64 bytes) is copied
         * as a whole line: a fixed-size copy is a few moves inline, where
         * the record's own size makes it a library call. The bytes past the
         * record are the ring's and the scratch's, and are never read. */
        if (rec <= 64 && off + 64 <= r->capacity && used + 64 <= scratch_cap)
            tp_ipc_copy_from_ring(scratch + used, r->ring + off, 64);
        else
            tp_ipc_copy_from_ring(scratch + used, r->ring + off, rec);
        /* Keep the length that was checked: a hostile writer could change
         * the header between the check and the copy. */
        memcpy(scratch + used + 8, &len, sizeof len);
        used += rec;
        p += rec;
        n++;
        r->last_rec = rec;
    }
    /* Seqlock-style validation: did the writer start overwriting [pos, p)? */
    atomic_thread_fence(memory_order_acquire);
    uint64_t intent = atomic_load_explicit(&r->meta->tail_intent, memory_order_relaxed);
    if (intent > pos + r->capacity) {
        tp_ipc_log_reader_skip_ahead(r);
        return 0;
    }
    if (bad && n == 0) {
        r->corrupt = 1;
        return 0;
    }
    if (n > 0) {
        *end = p;
        return n;
    }
    r->position = p; /* committed padding may have been passed */
    /* When messages are small, fetch the next record's second line now so
     * both of its misses overlap when it lands; for large ones this only
     * fights the writer for a line it is still filling. */
    if (r->last_rec <= TP_IPC_REC_SMALL) __builtin_prefetch(r->ring + ((uint32_t)(p + 64) & r->mask));
    /* No tag where the next record should be: usually nothing is published
     * yet, but a corrupt log shows no tag either, so now and then ask tail
     * whether there is more (see TP_IPC_TAIL_CHECK_EVERY). */
    if ((++r->empty_polls & (TP_IPC_TAIL_CHECK_EVERY - 1)) == 0) {
        uint64_t tail = atomic_load_explicit(&r->meta->tail, memory_order_acquire);
        if ((int64_t)(tail - p) > 0) {
            const tp_ipc_rec_t *h = (const tp_ipc_rec_t *)(const void *)(r->ring + ((uint32_t)p & r->mask));
            uint64_t tag = atomic_load_explicit(&h->tag, memory_order_acquire);
            if (tag != tp_ipc_rec_tag(p, TP_IPC_REC_DATA) && tag != tp_ipc_rec_tag(p, TP_IPC_REC_PAD))
                tp_ipc_log_reader_skip_ahead(r);
        }
    }
    return 0;
}

#endif
