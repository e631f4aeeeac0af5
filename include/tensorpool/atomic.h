/* Atomics in the public headers, usable from C11 and from C++.
 *
 * C gets _Atomic from <stdatomic.h>. C++ before C++23 has no <stdatomic.h>,
 * so it gets std::atomic, which gcc and clang lay out exactly like _Atomic
 * for the lock-free integer types used here, and the same free functions.
 */
#ifndef TENSORPOOL_ATOMIC_H
#define TENSORPOOL_ATOMIC_H

#ifdef __cplusplus
#include <atomic>
#define TP_ATOMIC(T) std::atomic<T>
#define TP_STATIC_ASSERT static_assert
using std::atomic_load_explicit;
using std::atomic_store_explicit;
using std::atomic_thread_fence;
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
#else
#include <stdatomic.h>
#define TP_ATOMIC(T) _Atomic(T)
#define TP_STATIC_ASSERT _Static_assert
#endif

#endif
