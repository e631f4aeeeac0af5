#include "ipc_conductor.h"
#include "ipc_proc.h"

#include "tensorpool/clock.h"
#include "tensorpool/error.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A neighbour in the group can bump the index in a loop: passes are at
 * least MIN_PASS_GAP_NS apart, so that costs this thread a bounded share
 * of a CPU. Jobs watching another directory than the one slept on are
 * looked at every OTHER_DIR_NS. */
#define MIN_PASS_GAP_NS 1000000LL
#define OTHER_DIR_NS 10000000LL

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static tp_ipc_conductor_job_t *jobs;
static int running;                   /* this process has the thread */
static _Atomic uint32_t kick;         /* private futex: a job was added */
static _Atomic uint32_t thread_up;    /* private futex: the thread is running its own code */
static const tp_ipc_index_t *sleeping_on; /* index the thread sleeps on (NULL: on kick) */

/* Recent liveness answers (their own lock: a subscription's first scan runs
 * in its open, outside the conductor's). */
static pthread_mutex_t alive_lock = PTHREAD_MUTEX_INITIALIZER;
enum { ALIVE_CACHE = 64 };
static struct {
    int pid;
    uint64_t start_time;
    int64_t at_ns;
    int alive;
} alive_cache[ALIVE_CACHE];
static unsigned alive_next;

int tp_ipc_conductor_proc_alive(int pid, uint64_t start_time, int64_t now_ns)
{
    pthread_mutex_lock(&alive_lock);
    for (unsigned i = 0; i < ALIVE_CACHE; i++) {
        if (alive_cache[i].pid == pid && alive_cache[i].start_time == start_time && alive_cache[i].at_ns != 0 &&
            now_ns - alive_cache[i].at_ns < TP_IPC_ALIVE_REUSE_NS) {
            const int alive = alive_cache[i].alive;
            pthread_mutex_unlock(&alive_lock);
            return alive;
        }
    }
    const int alive = tp_ipc_proc_alive(pid, start_time);
    const unsigned i = alive_next++ % ALIVE_CACHE;
    alive_cache[i].pid = pid;
    alive_cache[i].start_time = start_time;
    alive_cache[i].at_ns = now_ns;
    alive_cache[i].alive = alive;
    pthread_mutex_unlock(&alive_lock);
    return alive;
}

static void futex_private(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
    (void)syscall(SYS_futex, (void *)(uintptr_t)word, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

static void sleep_ns(int64_t ns)
{
    const struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

/* fork: hold the lock across it so the child's copy is consistent; the
 * child has no thread, and the jobs belong to the parent's. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_lock(&alive_lock); /* order as in a job's run */
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&alive_lock);
    pthread_mutex_unlock(&lock);
}

static void fork_child(void)
{
    for (tp_ipc_conductor_job_t *j = jobs; j != NULL; j = j->next) j->listed = 0;
    jobs = NULL;
    running = 0;
    sleeping_on = NULL;
    pthread_mutex_unlock(&alive_lock);
    pthread_mutex_unlock(&lock);
}

static void register_fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void *conductor_main(void *arg)
{
    (void)arg;
    (void)tp_errcode(); /* the error state's TLS, allocated now if it is dynamic (a dlopen'ed library) */
    atomic_store_explicit(&thread_up, 1, memory_order_release);
    futex_private(&thread_up, FUTEX_WAKE, 1, NULL);
    pthread_mutex_lock(&lock);
    for (;;) {
        const int64_t pass_at = tp_clock_monotonic_ns();
        int64_t next = INT64_MAX;
        const tp_ipc_index_t *watch = NULL;
        uint64_t seen = 0, ino = 0;
        int other_dir = 0;
        for (tp_ipc_conductor_job_t *j = jobs; j != NULL; j = j->next) {
            const int64_t due = j->run(j, pass_at);
            if (due < next) next = due;
            if (watch == NULL) {
                watch = j->watch;
                seen = j->watch_seen;
                ino = j->watch_ino;
            } else if (j->watch_ino != ino) {
                other_dir = 1;
            }
        }
        sleeping_on = watch;
        if (watch == NULL) {
            /* No jobs: sleep until one is added. */
            const uint32_t k = atomic_load_explicit(&kick, memory_order_acquire);
            pthread_mutex_unlock(&lock);
            futex_private(&kick, FUTEX_WAIT, k, NULL);
        } else {
            pthread_mutex_unlock(&lock);
            int64_t wait = next - tp_clock_monotonic_ns();
            if (other_dir && wait > OTHER_DIR_NS) wait = OTHER_DIR_NS;
            /* The index may be unmapped meanwhile (its subscription closed):
             * the wait then ends at once or at its timeout, nothing worse. */
            tp_ipc_index_wait(watch, seen, wait);
            const int64_t since = tp_clock_monotonic_ns() - pass_at;
            if (since < MIN_PASS_GAP_NS) sleep_ns(MIN_PASS_GAP_NS - since);
        }
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

/* The thread takes no asynchronous signal: they stay the application's.
 * Faults (SIGBUS from a truncated log: src/util/fault_guard.h) still reach it. */
static int start_thread(void)
{
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    atomic_store_explicit(&thread_up, 0, memory_order_relaxed);
    const int rc = pthread_create(&t, &attr, conductor_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) return tp_err_set(TP_ERR_IO, "cannot start the tp:ipc conductor thread: %s", strerror(rc));
    pthread_setname_np(t, "tp-conductor");
    /* Wait until the new thread runs its own code: thread start-up
     * allocates (TLS, and a sanitizer's own state), and a fork() right
     * after the first subscription opened must not find an allocator lock
     * held by a half-started thread. From here on it allocates nothing. */
    const struct timespec ms = {0, 1000000};
    while (atomic_load_explicit(&thread_up, memory_order_acquire) == 0) futex_private(&thread_up, FUTEX_WAIT, 0, &ms);
    return 0;
}

int tp_ipc_conductor_add(tp_ipc_conductor_job_t *job)
{
    pthread_once(&once, register_fork_handlers);
    pthread_mutex_lock(&lock);
    if (!running) {
        if (start_thread() < 0) {
            pthread_mutex_unlock(&lock);
            return -1;
        }
        running = 1;
    }
    job->next = jobs;
    jobs = job;
    job->listed = 1;
    /* Wake the thread for a first pass with this job in it (its deadline
     * may be sooner than the one slept towards). */
    atomic_fetch_add_explicit(&kick, 1, memory_order_release);
    futex_private(&kick, FUTEX_WAKE, 1, NULL);
    if (sleeping_on != NULL) tp_ipc_index_wake(sleeping_on);
    pthread_mutex_unlock(&lock);
    return 0;
}

void tp_ipc_conductor_remove(tp_ipc_conductor_job_t *job)
{
    pthread_mutex_lock(&lock);
    if (job->listed) {
        for (tp_ipc_conductor_job_t **p = &jobs; *p != NULL; p = &(*p)->next) {
            if (*p == job) {
                *p = job->next;
                break;
            }
        }
        job->listed = 0;
    }
    if (sleeping_on == job->watch) sleeping_on = NULL;
    pthread_mutex_unlock(&lock);
}
