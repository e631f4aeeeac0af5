/* Per-slot seqlock on seq_commit (slot offset 0), docs/spec/wire.md §3.6, W-8.3.
 *
 * seq_commit = (seq << 1) | committed. The producer stores IN-PROGRESS,
 * writes payload and header, then stores COMMITTED; the consumer loads it
 * before and after reading and accepts only two equal committed loads of the
 * expected seq. The fences are the ones D-14 adds: a release fence after
 * IN-PROGRESS so later data stores cannot pass it, and an acquire fence before
 * the second load so earlier data loads cannot pass it.
 *
 * Hot path: inline, no allocation, no syscall.
 */
#ifndef TENSORPOOL_SHM_SEQLOCK_H
#define TENSORPOOL_SHM_SEQLOCK_H

#include <stdint.h>

#include "tensorpool/atomic.h"

#ifdef __cplusplus
extern "C" {
#endif

TP_STATIC_ASSERT(ATOMIC_LLONG_LOCK_FREE == 2, "seq_commit needs lock-free 64-bit atomics (§3.6)");

/* Largest logical sequence a slot can carry: seq << 1 must not lose bit 63 (D-13). */
#define TP_SEQ_MAX ((UINT64_C(1) << 63) - 1)

/* W-8.3.a encodings. */
static inline uint64_t tp_seq_in_progress(uint64_t seq) { return seq << 1; }
static inline uint64_t tp_seq_committed(uint64_t seq) { return (seq << 1) | 1u; }
static inline uint64_t tp_seq_of(uint64_t seq_commit) { return seq_commit >> 1; }
static inline int tp_seq_is_committed(uint64_t seq_commit) { return (int)(seq_commit & 1u); }

/* The atomic word at slot offset 0. Slots are 64-byte aligned in a mapping,
 * so the 8-byte atomic never crosses a cache line (W-8.2.g). */
static inline TP_ATOMIC(uint64_t) *tp_seqlock_word(uint8_t *slot)
{
    return (TP_ATOMIC(uint64_t) *)(void *)slot;
}

/* Producer step 3: IN-PROGRESS with release, then a release fence (D-14). */
static inline void tp_seqlock_write_begin(uint8_t *slot, uint64_t seq)
{
    atomic_store_explicit(tp_seqlock_word(slot), tp_seq_in_progress(seq), memory_order_release);
    atomic_thread_fence(memory_order_release);
}

/* Producer step 7: COMMITTED with release, after payload and header writes. */
static inline void tp_seqlock_write_commit(uint8_t *slot, uint64_t seq)
{
    atomic_store_explicit(tp_seqlock_word(slot), tp_seq_committed(seq), memory_order_release);
}

/* Consumer step 3: first load, acquire. */
static inline uint64_t tp_seqlock_read_begin(const uint8_t *slot)
{
    return atomic_load_explicit((const TP_ATOMIC(uint64_t) *)(const void *)slot, memory_order_acquire);
}

/* Consumer steps 8-9: acquire fence (D-14), then the second load. */
static inline uint64_t tp_seqlock_read_end(const uint8_t *slot)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit((const TP_ATOMIC(uint64_t) *)(const void *)slot, memory_order_acquire);
}

#ifdef __cplusplus
}
#endif
#endif
