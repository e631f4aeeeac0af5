/* Lossless tp:ipc logs: reader registration and the writer's limit
 * (protocol in ipc_log.h, "lossless logs"). Everything here is off the hot
 * path: the writer comes here once per sixteenth of the ring at most while
 * it is not held back, readers when they open or drop a log. */
#include "ipc_log_file.h"
#include "ipc_proc.h"
#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "../util/fault_guard.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Free the slots of readers that died while holding the writer back, and
 * those cut loose whose reader died before freeing them. */
static void free_dead_readers(tp_ipc_log_writer_t *w, uint64_t want)
{
    for (int i = 0; i < TP_IPC_READER_SLOTS; i++) {
        tp_ipc_reader_slot_t *s = &w->readers->slot[i];
        uint64_t owner = atomic_load_explicit(&s->owner, memory_order_acquire);
        if (owner == 0) continue;
        const int cut = (owner & TP_IPC_SLOT_CUT) != 0;
        if (!cut && atomic_load_explicit(&s->position, memory_order_acquire) + w->capacity >= want) continue;
        const uint64_t pid = owner & ~TP_IPC_SLOT_CUT;
        uint64_t start = atomic_load_explicit(&s->start_time, memory_order_acquire);
        if (pid > INT32_MAX || !tp_ipc_proc_alive((int)pid, start))
            atomic_compare_exchange_strong_explicit(&s->owner, &owner, 0, memory_order_acq_rel, memory_order_relaxed);
    }
}

static uint64_t lowest_reader(const tp_ipc_log_writer_t *w)
{
    uint64_t low = UINT64_MAX;
    for (int i = 0; i < TP_IPC_READER_SLOTS; i++) {
        const tp_ipc_reader_slot_t *s = &w->readers->slot[i];
        const uint64_t owner = atomic_load_explicit(&s->owner, memory_order_acquire);
        if (owner == 0 || (owner & TP_IPC_SLOT_CUT)) continue;
        uint64_t pos = atomic_load_explicit(&s->position, memory_order_acquire);
        if (pos < low) low = pos;
    }
    return low;
}

/* Held back by readers at `low`: if they have not moved for stall_ns, cut
 * them loose (they lap and count the loss, as on a lossy log). 1 when some
 * slot was cut. Reads the clock, so only every 64th refusal. */
static int cut_stalled_readers(tp_ipc_log_writer_t *w, uint64_t low)
{
    const int64_t now = tp_clock_monotonic_ns();
    if (low != w->stall_pos || w->stall_since_ns == 0) {
        w->stall_pos = low;
        w->stall_since_ns = now;
        return 0;
    }
    if (now - w->stall_since_ns < w->stall_ns) return 0;
    int cut = 0;
    for (int i = 0; i < TP_IPC_READER_SLOTS; i++) {
        tp_ipc_reader_slot_t *s = &w->readers->slot[i];
        uint64_t owner = atomic_load_explicit(&s->owner, memory_order_acquire);
        if (owner == 0 || (owner & TP_IPC_SLOT_CUT) || atomic_load_explicit(&s->position, memory_order_acquire) != low)
            continue;
        cut += atomic_compare_exchange_strong_explicit(&s->owner, &owner, owner | TP_IPC_SLOT_CUT,
                                                       memory_order_acq_rel, memory_order_relaxed);
    }
    w->stall_since_ns = 0;
    return cut;
}

int tp_ipc_log_writer_refresh_limit(tp_ipc_log_writer_t *w, uint64_t want)
{
    /* generation first: a reader stores its slot before bumping it */
    w->readers_gen = atomic_load_explicit(&w->readers->generation, memory_order_acquire);
    uint64_t low = lowest_reader(w);
    w->limit = low == UINT64_MAX ? UINT64_MAX : low + w->capacity;
    if (want <= w->limit) {
        w->refused = 0;
        w->stall_since_ns = 0;
        return 1;
    }
    ++w->refused;
    int changed = 0;
    if (w->refused % TP_IPC_DEAD_CHECK_EVERY == 0) {
        free_dead_readers(w, want);
        changed = 1;
    }
    if (w->stall_ns > 0 && w->refused % 64 == 0 && cut_stalled_readers(w, low) > 0) changed = 1;
    if (changed) {
        low = lowest_reader(w);
        w->limit = low == UINT64_MAX ? UINT64_MAX : low + w->capacity;
        if (want <= w->limit) return 1;
    }
    return 0;
}

void tp_ipc_log_reader_map_readers(tp_ipc_log_reader_t *r, int dirfd, const char *name, uint64_t dev, uint64_t ino)
{
    r->readers = NULL;
    r->slot = NULL;
    r->readers_guard = -1;
    int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return; /* no write access: we read it lossy */
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino &&
        (uint64_t)st.st_size == tp_ipc_log_file_bytes(r->capacity, TP_IPC_LOG_LOSSLESS))
        m = mmap(NULL, TP_IPC_PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                 (off_t)tp_ipc_log_readers_offset(r->capacity));
    close(fd);
    if (m == MAP_FAILED) return;
    int guard = tp_fault_guard_add(m, TP_IPC_PAGE_BYTES, PROT_READ | PROT_WRITE);
    if (guard < 0) {
        munmap(m, TP_IPC_PAGE_BYTES);
        return;
    }
    r->readers = m;
    r->readers_guard = guard;
}

int tp_ipc_log_reader_register(tp_ipc_log_reader_t *r, uint64_t from)
{
    if (r->readers == NULL) return -1;
    uint64_t start = 0;
    if (tp_ipc_self_start_time(&start) < 0) return -1;
    const uint64_t pid = (uint64_t)getpid();
    for (int i = 0; i < TP_IPC_READER_SLOTS; i++) {
        tp_ipc_reader_slot_t *s = &r->readers->slot[i];
        uint64_t free_owner = 0;
        if (!atomic_compare_exchange_strong_explicit(&s->owner, &free_owner, pid, memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue;
        /* Until these land the writer may see the previous owner's position
         * or 0: never higher than a reader that just joined (see release). */
        atomic_store_explicit(&s->start_time, start, memory_order_relaxed);
        atomic_store_explicit(&s->position, from, memory_order_release);
        atomic_fetch_add_explicit(&r->readers->generation, 1, memory_order_seq_cst);
        r->slot = s;
        r->owner = pid;
        r->reported = from;
        return 0;
    }
    return -1; /* all taken: this reader is lossy for this log */
}

void tp_ipc_log_reader_release(tp_ipc_log_reader_t *r)
{
    if (r->slot != NULL && tp_fault_guard_lost(r->readers_guard) == TP_FAULT_NONE) {
        atomic_store_explicit(&r->slot->position, 0, memory_order_relaxed);
        atomic_store_explicit(&r->slot->owner, 0, memory_order_release);
    }
    r->slot = NULL;
    if (r->readers != NULL) {
        tp_fault_guard_remove(r->readers_guard);
        munmap(r->readers, TP_IPC_PAGE_BYTES);
        r->readers = NULL;
    }
}
