/* Fault guard: no SIGBUS kills from someone else's truncate. Internal.
 *
 * Every file the library maps (SHM regions, transport logs, the transport
 * index) lives in a directory its group can write, so any member can
 * ftruncate it while we have it mapped. Touching a page of a MAP_SHARED file
 * mapping past the file's new end raises SIGBUS, which kills the process by
 * default. What Linux offers and why this module exists:
 *
 *  - Sealing (fcntl F_ADD_SEALS with F_SEAL_SHRINK) forbids shrinking, but
 *    only files created with memfd_create carry seals; the regions and logs
 *    are named files in /dev/shm (tmpfs via open, or hugetlbfs), which
 *    cannot be sealed, and naming is what lets unrelated processes find them.
 *  - A size check (fstat) before mapping rules out a short file at map time
 *    only; the file can shrink any moment after.
 *  - So a fault is caught: one process-wide SIGBUS handler (installed once,
 *    SA_SIGINFO | SA_ONSTACK | SA_RESTART, for every thread) looks up the
 *    faulting address in a fixed-size, lock-free registry of our mappings.
 *    For a fault inside one it replaces that whole mapping in place with
 *    anonymous zero pages (same address, length and protection), sets the
 *    entry's atomic "lost" flag and returns: the faulting instruction runs
 *    again on zeros. Zeros fail every validation the readers make (seqlock
 *    commit words, magic, tags), so in-flight readers drop what they read;
 *    the object owning the mapping sees the flag on its own schedule (its
 *    liveness or keepalive timer; one atomic load, no syscall), fails that
 *    stream with a reason, unmaps and recovers the normal way (re-attach, new
 *    epoch, re-created log). A fault outside our mappings goes to the handler
 *    that was installed before ours, or gets the default action (the process
 *    still dies of SIGBUS, as it would without us).
 *  - tp_fault_guard_probe touches the first and last byte of a mapping, so a
 *    shrink is noticed on the owner's schedule even before anyone reads the
 *    missing pages (same answer as an fstat of the file, without keeping its
 *    descriptor open).
 *
 * The handler allocates nothing, takes no lock and calls only mmap (a plain
 * system call on Linux) and, for foreign faults, sigaction/raise. Register
 * after mmap and unregister before munmap. A thread that unmaps a region
 * while another still reads it is a bug with or without this module.
 */
#ifndef TP_UTIL_FAULT_GUARD_H
#define TP_UTIL_FAULT_GUARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Most mappings guarded at once (per process). */
#define TP_FAULT_GUARD_SLOTS 4096

/* Why a mapping was lost (the value of the "lost" flag). */
enum { TP_FAULT_NONE = 0, TP_FAULT_SIGBUS = 1 };

typedef struct tp_fault_slot_s {
    _Atomic int state; /* 0 free, 1 being filled, 2 live */
    _Atomic int lost;  /* TP_FAULT_* */
    _Atomic uintptr_t base;
    _Atomic size_t len;
    _Atomic int prot;
} tp_fault_slot_t;

extern tp_fault_slot_t tp_fault_slots[TP_FAULT_GUARD_SLOTS];

/* Install the handler (once per process; later calls are no-ops). 0 or -1. */
int tp_fault_guard_install(void);

/* Guard [base, base + len) mapped with prot (PROT_READ [| PROT_WRITE]):
 * installs the handler if needed. Returns a handle > 0, or -1 with
 * TP_ERR_CAPACITY when the registry is full (the mapping still works, it is
 * just not guarded). Set-up time only. */
int tp_fault_guard_add(void *base, size_t len, int prot);

/* Stop guarding (before munmap). 0 is a no-op. */
void tp_fault_guard_remove(int handle);

/* TP_FAULT_* for a handle (TP_FAULT_NONE for 0 or -1). One atomic load:
 * fine on a hot path. */
static inline int tp_fault_guard_lost(int handle)
{
    if (handle <= 0) return TP_FAULT_NONE;
    return atomic_load_explicit(&tp_fault_slots[handle - 1].lost, memory_order_acquire);
}

/* Touch the first and last byte of the guarded mapping (a shrunk file then
 * faults and is caught), then return tp_fault_guard_lost. For the owner's
 * periodic check, not a hot path. */
int tp_fault_guard_probe(int handle);

/* The handle guarding the mapping that starts at base, or 0. Scans the
 * registry: set-up and periodic checks only. */
int tp_fault_guard_find(const void *base);

/* Faults caught in our mappings since the process started. */
uint64_t tp_fault_guard_count(void);

#endif
