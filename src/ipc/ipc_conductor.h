/* The conductor: one thread per process that does the slow, syscall-making
 * upkeep of every tp:ipc subscription (directory scans, opening and unmapping
 * logs, publisher liveness via /proc, reclaiming), so that poll itself only
 * reads memory. It sleeps on the transport index's futex (woken when a log
 * appears or closes) or until the earliest job asks to run again.
 *
 * A job is owned by its subscription; the conductor only calls it. Jobs run
 * with the conductor's lock held, so tp_ipc_conductor_remove returning means
 * the job is not running and never will again. After fork() the child starts
 * with no jobs and no thread (a subscription inherited across fork keeps
 * delivering from the logs it had but follows no new ones). */
#ifndef TP_IPC_CONDUCTOR_H
#define TP_IPC_CONDUCTOR_H

#include <stdint.h>

#include "ipc_dir.h"

typedef struct tp_ipc_conductor_job_s tp_ipc_conductor_job_t;

struct tp_ipc_conductor_job_s {
    tp_ipc_conductor_job_t *next; /* the conductor's list */
    /* Do what is due at now_ns (monotonic); return when to run next. */
    int64_t (*run)(tp_ipc_conductor_job_t *job, int64_t now_ns);
    /* Kept current by run: the index to sleep on, its inode, and the
     * generation run last acted on. */
    const tp_ipc_index_t *watch;
    uint64_t watch_ino;
    uint64_t watch_seen;
    int listed;
};

/* Add a job (starting the thread if this process has none) and run it
 * within its first sleep. 0, or -1 if no thread could be started. */
int tp_ipc_conductor_add(tp_ipc_conductor_job_t *job);

/* Take a job off the list; waits while it runs. Safe on a job that is not
 * listed (inherited across fork). */
void tp_ipc_conductor_remove(tp_ipc_conductor_job_t *job);

/* Publisher liveness (tp_ipc_proc_alive) for jobs and their set-up: an
 * answer is reused for TP_IPC_ALIVE_REUSE_NS, so that a process's many
 * subscriptions (control, descriptor, metadata streams) following the same
 * publisher cost one /proc read between them. */
#define TP_IPC_ALIVE_REUSE_NS 100000000LL
int tp_ipc_conductor_proc_alive(int pid, uint64_t start_time, int64_t now_ns);

#endif
