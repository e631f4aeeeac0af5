/* Fault guard: SIGBUS on our own file mappings becomes zero pages and a flag
 * (see fault_guard.h for why and how). */
#include "fault_guard.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

tp_fault_slot_t tp_fault_slots[TP_FAULT_GUARD_SLOTS];

static _Atomic unsigned slots_used; /* high-water mark: the handler scans [0, slots_used) */
static _Atomic uint64_t faults;
static struct sigaction previous;  /* written once, before our handler can run */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_rc;
static int install_errno;

/* The slot holding addr, or NULL. Lock-free: reads only atomics. */
static tp_fault_slot_t *slot_of(uintptr_t addr)
{
    const unsigned n = atomic_load_explicit(&slots_used, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        tp_fault_slot_t *s = &tp_fault_slots[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != 2) continue;
        const uintptr_t base = atomic_load_explicit(&s->base, memory_order_relaxed);
        const size_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
        if (addr >= base && addr - base < len) return s;
    }
    return NULL;
}

/* Not ours: what would have happened without us. */
static void chain(int sig, siginfo_t *info, void *uctx)
{
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction != NULL) {
            previous.sa_sigaction(sig, info, uctx);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* Default action: restore it and raise; the signal is blocked in this
     * handler, so it is delivered (and kills) as soon as we return. A real
     * fault would also simply happen again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGBUS, &dfl, NULL);
    raise(SIGBUS);
}

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
    const int saved = errno;
    /* si_code > 0: raised by the kernel for a memory access (kill/raise give <= 0) */
    tp_fault_slot_t *s = info != NULL && info->si_code > 0 ? slot_of((uintptr_t)info->si_addr) : NULL;
    if (s == NULL) {
        chain(sig, info, uctx);
        errno = saved;
        return;
    }
    void *base = (void *)atomic_load_explicit(&s->base, memory_order_relaxed);
    const size_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
    const int prot = atomic_load_explicit(&s->prot, memory_order_relaxed);
    /* Same address, length and protection, now private zero pages: every
     * pointer into the mapping stays valid and reads fail validation. */
    if (mmap(base, len, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
        chain(sig, info, uctx); /* cannot repair: behave as without us */
        errno = saved;
        return;
    }
    atomic_store_explicit(&s->lost, TP_FAULT_SIGBUS, memory_order_release);
    atomic_fetch_add_explicit(&faults, 1, memory_order_relaxed);
    errno = saved;
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) != 0) {
        install_rc = -1;
        install_errno = errno;
    }
}

int tp_fault_guard_install(void)
{
    pthread_once(&install_once, install);
    if (install_rc != 0) return tp_err_set(TP_ERR_IO, "install SIGBUS handler: %s", strerror(install_errno));
    return 0;
}

int tp_fault_guard_add(void *base, size_t len, int prot)
{
    if (base == NULL || len == 0) return tp_err_set(TP_ERR_INVALID_ARG, "fault guard: empty mapping");
    if (tp_fault_guard_install() != 0) return -1;
    for (unsigned i = 0; i < TP_FAULT_GUARD_SLOTS; i++) {
        tp_fault_slot_t *s = &tp_fault_slots[i];
        int want = 0;
        if (!atomic_compare_exchange_strong_explicit(&s->state, &want, 1, memory_order_acq_rel, memory_order_relaxed))
            continue;
        atomic_store_explicit(&s->base, (uintptr_t)base, memory_order_relaxed);
        atomic_store_explicit(&s->len, len, memory_order_relaxed);
        atomic_store_explicit(&s->prot, prot, memory_order_relaxed);
        atomic_store_explicit(&s->lost, TP_FAULT_NONE, memory_order_relaxed);
        unsigned used = atomic_load_explicit(&slots_used, memory_order_relaxed);
        while (used < i + 1 &&
               !atomic_compare_exchange_weak_explicit(&slots_used, &used, i + 1, memory_order_acq_rel,
                                                      memory_order_relaxed)) {
        }
        atomic_store_explicit(&s->state, 2, memory_order_release);
        return (int)i + 1;
    }
    return tp_err_set(TP_ERR_CAPACITY, "fault guard: all %d slots in use", TP_FAULT_GUARD_SLOTS);
}

void tp_fault_guard_remove(int handle)
{
    if (handle <= 0 || handle > TP_FAULT_GUARD_SLOTS) return;
    atomic_store_explicit(&tp_fault_slots[handle - 1].state, 0, memory_order_release);
}

int tp_fault_guard_probe(int handle)
{
    if (handle <= 0 || handle > TP_FAULT_GUARD_SLOTS) return TP_FAULT_NONE;
    tp_fault_slot_t *s = &tp_fault_slots[handle - 1];
    if (atomic_load_explicit(&s->state, memory_order_acquire) != 2) return TP_FAULT_NONE;
    const volatile uint8_t *base = (const volatile uint8_t *)atomic_load_explicit(&s->base, memory_order_relaxed);
    const size_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
    (void)base[0];
    (void)base[len - 1]; /* past a shrunk file's end: caught, the flag is set */
    return tp_fault_guard_lost(handle);
}

int tp_fault_guard_find(const void *base)
{
    const unsigned n = atomic_load_explicit(&slots_used, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (atomic_load_explicit(&tp_fault_slots[i].state, memory_order_acquire) == 2 &&
            atomic_load_explicit(&tp_fault_slots[i].base, memory_order_relaxed) == (uintptr_t)base)
            return (int)i + 1;
    return 0;
}

uint64_t tp_fault_guard_count(void) { return atomic_load_explicit(&faults, memory_order_relaxed); }
