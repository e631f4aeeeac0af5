#include "alloc_count.h"

#include <stdatomic.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);

static _Atomic uint64_t allocs;
static _Atomic uint64_t frees;

uint64_t tp_alloc_count(void) { return atomic_load(&allocs); }
uint64_t tp_free_count(void) { return atomic_load(&frees); }

void *__wrap_malloc(size_t n) { atomic_fetch_add(&allocs, 1); return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { atomic_fetch_add(&allocs, 1); return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { atomic_fetch_add(&allocs, 1); return __real_realloc(p, n); }
void __wrap_free(void *p) { if (p) atomic_fetch_add(&frees, 1); __real_free(p); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { atomic_fetch_add(&allocs, 1); return __real_posix_memalign(p, a, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { atomic_fetch_add(&allocs, 1); return __real_aligned_alloc(a, n); }
