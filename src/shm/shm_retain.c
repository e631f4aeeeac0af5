/* Retained read mappings (include/tensorpool/shm_retain.h). */
#include "tensorpool/shm_retain.h"

#include "../util/fault_guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef struct {
    void *base;
    size_t size;
} retained_t;

static _Atomic long holds;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static retained_t *kept;
static size_t nkept, capkept;

static void unmap_all_locked(void)
{
    for (size_t i = 0; i < nkept; i++) munmap(kept[i].base, kept[i].size);
    nkept = 0;
}

void tp_shm_retain_hold(void) { atomic_fetch_add_explicit(&holds, 1, memory_order_acq_rel); }

void tp_shm_retain_release(void)
{
    if (atomic_fetch_sub_explicit(&holds, 1, memory_order_acq_rel) != 1) return;
    pthread_mutex_lock(&lock);
    /* A new hold since is for a mapping still in use, never for one in the
     * list (views are only made from current mappings): re-check anyway so a
     * hold taken meanwhile keeps everything until its own release. */
    if (atomic_load_explicit(&holds, memory_order_acquire) == 0) unmap_all_locked();
    pthread_mutex_unlock(&lock);
}

size_t tp_shm_retained_count(void)
{
    pthread_mutex_lock(&lock);
    const size_t n = nkept;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Room for one more range; 0 or -1 (then the caller unmaps). */
static int reserve_locked(void)
{
    if (nkept < capkept) return 0;
    const size_t cap = capkept == 0 ? 16 : capkept * 2;
    retained_t *n = realloc(kept, cap * sizeof *n);
    if (n == NULL) return -1;
    kept = n;
    capkept = cap;
    return 0;
}

void tp_shm_region_drop(tp_shm_region_t *r)
{
    if (r->base == NULL || atomic_load_explicit(&holds, memory_order_acquire) == 0) {
        tp_shm_region_unmap(r);
        return;
    }
    pthread_mutex_lock(&lock);
    int retained = 0;
    if (atomic_load_explicit(&holds, memory_order_acquire) > 0 && reserve_locked() == 0) {
        /* Same address, private zero pages: the file's pages are released
         * now, a stale read sees zeros instead of faulting. */
        void *p = mmap(r->base, r->size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p == r->base) {
            tp_fault_guard_remove(r->guard); /* nothing left to truncate under it */
            kept[nkept++] = (retained_t){r->base, r->size};
            retained = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!retained) {
        tp_shm_region_unmap(r);
        return;
    }
    r->guard = 0;
    r->base = NULL;
    r->size = 0;
}
