/* Embedded IPC: the doorbell (ipc_doorbell.h). */
#include "ipc_doorbell.h"
#include "ipc_embedded.h"

#include "tensorpool/error.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct tp_ipc_doorbell_s {
    tp_ipc_index_t *index;
    uint32_t slot;
    int armed;
};

static uint32_t slot_of(int32_t stream_id) { return (uint32_t)stream_id % TP_IPC_DOORBELL_SLOTS; }

int tp_ipc_doorbell_open(tp_ipc_doorbell_t **out, const tp_ipc_context_t *ctx, const char *channel, int32_t stream_id)
{
    *out = NULL;
    tp_ipc_embedded_channel_t params;
    if (tp_ipc_embedded_channel_parse(channel, &params) != 0) return 0;
    tp_ipc_doorbell_t *db = calloc(1, sizeof *db);
    if (db == NULL) return tp_err_set(TP_ERR_CAPACITY, "doorbell: out of memory");
    const int dirfd = tp_ipc_dir_open_ctx(ctx, 1);
    if (dirfd < 0 || tp_ipc_index_open(dirfd, &db->index) < 0) {
        if (dirfd >= 0) close(dirfd);
        free(db);
        return -1;
    }
    close(dirfd);
    db->slot = slot_of(stream_id);
    *out = db;
    return 0;
}

void tp_ipc_doorbell_close(tp_ipc_doorbell_t *db)
{
    if (db == NULL) return;
    tp_ipc_doorbell_disarm(db);
    tp_ipc_index_close(db->index);
    free(db);
}

uint32_t tp_ipc_doorbell_arm(tp_ipc_doorbell_t *db)
{
    if (!db->armed) {
        /* seq_cst: the count is stored before the poll that follows loads
         * anything (ring's fence is the other half) */
        atomic_fetch_add_explicit(&db->index->sleepers[db->slot], 1, memory_order_seq_cst);
        db->armed = 1;
    }
    return atomic_load_explicit(&db->index->ring, memory_order_acquire);
}

void tp_ipc_doorbell_disarm(tp_ipc_doorbell_t *db)
{
    if (db == NULL || !db->armed) return;
    db->armed = 0;
    /* never below 0: someone else may have zeroed the count */
    _Atomic uint32_t *n = &db->index->sleepers[db->slot];
    uint32_t v = atomic_load_explicit(n, memory_order_relaxed);
    while (v != 0 && !atomic_compare_exchange_weak_explicit(n, &v, v - 1, memory_order_relaxed, memory_order_relaxed)) {
    }
}

int tp_ipc_doorbell_armed(const tp_ipc_doorbell_t *db) { return db != NULL && db->armed; }

uint32_t tp_ipc_doorbell_sleep(tp_ipc_doorbell_t *db, uint32_t seen, int64_t timeout_ns)
{
    if (timeout_ns > 0) {
        const struct timespec ts = {(time_t)(timeout_ns / 1000000000LL), (long)(timeout_ns % 1000000000LL)};
        /* EAGAIN (rung since seen), EINTR, ETIMEDOUT, EFAULT: the sleep is over */
        (void)syscall(SYS_futex, (uint32_t *)(uintptr_t)&db->index->ring, FUTEX_WAIT, seen, &ts, NULL, 0);
    }
    return atomic_load_explicit(&db->index->ring, memory_order_acquire);
}

const char *tp_ipc_waking_channel(char *buf, size_t cap, const char *channel)
{
    tp_ipc_embedded_channel_t params;
    if (tp_ipc_embedded_channel_parse(channel, &params) != 0) return channel;
    const int n = snprintf(buf, cap, "%s%swake=true", channel, strchr(channel, '?') == NULL ? "?" : "|");
    return n > 0 && (size_t)n < cap ? buf : channel;
}

void tp_ipc_doorbell_ring(tp_ipc_index_t *index, int32_t stream_id)
{
    /* the message's stores before the look at the sleepers (arm's seq_cst
     * add is the other half): a sleeper that armed too late for this load
     * polls after the message is visible */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&index->sleepers[slot_of(stream_id)], memory_order_relaxed) == 0) return;
    atomic_fetch_add_explicit(&index->ring, 1, memory_order_release);
    (void)syscall(SYS_futex, (uint32_t *)(uintptr_t)&index->ring, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
