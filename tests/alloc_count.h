/* Allocation counting for "no allocation on the hot path" tests.
 *
 * Test programs registered with tp_add_alloc_test() are linked with
 * -Wl,--wrap=malloc,... so every malloc/calloc/realloc/free made by the
 * library's objects goes through counters here (and then to the real
 * allocator, which may be ASan's). */
#ifndef TP_ALLOC_COUNT_H
#define TP_ALLOC_COUNT_H

#include <stdint.h>

/* Total malloc+calloc+realloc+posix_memalign+aligned_alloc calls so far. */
uint64_t tp_alloc_count(void);
/* Total free calls so far. */
uint64_t tp_free_count(void);

#endif
