/* Embedded IPC: the transport directory and its index file.
 *
 * <base>/tensorpool-<user>/<namespace>/ipc/ holds one log per publication
 * and a small "index" file whose generation counter is bumped whenever a log
 * appears, closes or is reclaimed, so subscriptions re-scan the directory only
 * when something changed. */
#ifndef TP_IPC_DIR_H
#define TP_IPC_DIR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/ipc.h"

#define TP_IPC_INDEX_MAGIC 0x31584449435049ULL /* "IPCIDX1" */

enum { TP_IPC_DOORBELL_SLOTS = 16 };

typedef struct tp_ipc_index_s {
    uint64_t magic;
    uint32_t version;
    uint32_t reserved0;
    uint8_t reserved1[48];
    _Atomic uint64_t generation; /* own line: written rarely, read every poll */
    uint8_t reserved2[56];
    /* The doorbell (ipc_doorbell.h), zero in files of older builds. ring is
     * the futex word sleepers wait on; sleepers[stream % SLOTS] counts them,
     * read by every offer of a waking publication of such a stream. */
    _Atomic uint32_t ring;
    uint8_t reserved3[60];
    _Atomic uint32_t sleepers[TP_IPC_DOORBELL_SLOTS];
} tp_ipc_index_t;

enum { TP_IPC_INDEX_FILE_BYTES = 4096, TP_IPC_DIR_MODE = 0770, TP_IPC_FILE_MODE = 0660 };

/* Base dir a context resolves to (ctx field, $TP_DIR, default). */
const char *tp_ipc_dir_base(const tp_ipc_context_t *ctx);

/* Open the context's transport directory <base>/tensorpool-<user>/<ns>/ipc,
 * with create making the missing directories (mode 0770 exactly). The base
 * is resolved once (configuration); below it no symlink is followed, at any
 * moment (dir_fd.h). fd (O_DIRECTORY) or -1. */
int tp_ipc_dir_open_ctx(const tp_ipc_context_t *ctx, int create);

/* Map (creating if missing, replacing if truncated or overwritten) the index
 * file of the directory. The mapping is fault-guarded (src/util/fault_guard.h):
 * a truncate by someone else reads as generation 0 instead of a SIGBUS.
 * 0 or -1. */
int tp_ipc_index_open(int dirfd, tp_ipc_index_t **index);

void tp_ipc_index_close(tp_ipc_index_t *index);

/* Non-zero if the index file no longer backs the mapping (truncated): map it
 * again with tp_ipc_index_open. Periodic checks only (scans the guard). */
int tp_ipc_index_lost(const tp_ipc_index_t *index);

static inline uint64_t tp_ipc_index_generation(const tp_ipc_index_t *index)
{
    return atomic_load_explicit(&index->generation, memory_order_acquire);
}

/* Bump the generation and wake every conductor sleeping on it (a futex on
 * its low 32 bits, shared by all mappings of the file). Cold paths only:
 * opening, closing or reclaiming a log. */
void tp_ipc_index_bump(tp_ipc_index_t *index);

/* Wake every conductor sleeping on the index, without a bump. */
void tp_ipc_index_wake(const tp_ipc_index_t *index);

/* Sleep until the generation's low 32 bits differ from those of seen, the
 * generation is bumped, or timeout_ns passes (conductor thread only). */
void tp_ipc_index_wait(const tp_ipc_index_t *index, uint64_t seen, int64_t timeout_ns);

/* Call fn for every entry name of dirfd (except "." and ".."), reading with
 * getdents64 into the caller's buffer: no allocation. fn returns 0 to go on,
 * non-zero to stop. 0 or -1. */
int tp_ipc_dir_scan(int dirfd, void *buf, size_t buf_len, int (*fn)(void *arg, const char *name), void *arg);

#endif
