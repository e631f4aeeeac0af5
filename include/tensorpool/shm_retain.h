/* Keeping dropped read mappings addressable while a binding's views live.
 *
 * A consumer or join stage unmaps a pool when its epoch changes or its lease
 * is lost. In C the frame's view ends with the callback, so that is safe. A
 * language binding (the Python package) hands out arrays that point into the
 * pool and may be kept past that moment; touching one after munmap kills the
 * process. While a binding holds views (tp_shm_retain_hold), a reader that
 * drops a mapping instead replaces its pages with anonymous zero pages at the
 * same address (the file is released at once, the address stays readable)
 * and remembers it; when the last hold goes (tp_shm_retain_release) every
 * remembered range is unmapped. A stale view therefore reads zeros, never
 * faults; the binding's own seqlock check reports the frame as overwritten.
 *
 * Process-wide and thread-safe. Hold/release are one atomic each; the lock
 * is taken only when a mapping is dropped or the last hold goes, never on
 * the frame path. Without holds, drops unmap as before. */
#ifndef TENSORPOOL_SHM_RETAIN_H
#define TENSORPOOL_SHM_RETAIN_H

#include "tensorpool/shm_region.h"

#include <stddef.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A view into a reader's mapping now exists (one per view object). */
TP_API void tp_shm_retain_hold(void);

/* A view is gone. At the last one, every retained range is unmapped. */
TP_API void tp_shm_retain_release(void);

/* Ranges currently retained (kept addressable for views), for tests/stats. */
TP_API size_t tp_shm_retained_count(void);

/* Reader side: drop r's mapping. With holds, its pages become anonymous zero
 * pages at the same address and the range is retained; otherwise (or if the
 * overlay fails) r is unmapped. r is left empty either way. */
TP_INTERNAL void tp_shm_region_drop(tp_shm_region_t *r);

#ifdef __cplusplus
}
#endif

#endif
