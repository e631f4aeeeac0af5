/* Plumbing shared by the join examples: a private base dir (unless $TP_DIR is
 * set) and producer processes built on the stand-in producer. */
#ifndef TP_EXAMPLE_UTIL_H
#define TP_EXAMPLE_UTIL_H

#include "stand_in_producer.h"
#include "tensorpool/clean.h"
#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "tensorpool/join_agent.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char example_dir[256];
static int example_own_dir;

static inline int example_rm(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

/* The base dir for SHM and the transport: $TP_DIR, else a fresh temp dir. */
static inline const char *example_base_dir(void)
{
    const char *env = getenv("TP_DIR");
    if (env != NULL && env[0] != '\0') return env;
    snprintf(example_dir, sizeof example_dir, "/dev/shm/tp-example-%d-XXXXXX", (int)getpid());
    if (mkdtemp(example_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    example_own_dir = 1;
    return example_dir;
}

/* Leave the SHM directory as it was found: remove the private temp dir, or,
 * under $TP_DIR, what this program and its children left there (tp_clean
 * keeps whatever other live processes use). */
static inline void example_cleanup(void)
{
    if (example_own_dir) {
        nftw(example_dir, example_rm, 16, FTW_DEPTH | FTW_PHYS);
        return;
    }
    tp_clean_options_t opt;
    tp_clean_options_init(&opt);
    opt.gone_pid = (int)getpid(); /* this program is done with its files */
    opt.log_linger_ns = 0;        /* its logs' readers were its own children */
    tp_clean_summary_t sum;
    if (tp_clean(getenv("TP_DIR"), &opt, &sum) != 0) fprintf(stderr, "cleanup: %s\n", tp_errmsg());
}

static inline void example_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Fork a producer of `stream` publishing every period_ms for run_ms (frame
 * time = its monotonic clock), announcing its pools every 100 ms. */
static inline pid_t example_producer(const tp_ipc_context_t *ctx, const char *base, uint32_t stream, int64_t period_ms,
                              int64_t run_ms)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    alarm(60);
    tp_stand_in_producer_t p;
    tp_client_context_t ids; /* the stream ids the join agent uses too (environment, else 1100 / 1000) */
    tp_client_context_init(&ids);
    int64_t now = tp_clock_monotonic_ns();
    if (tp_stand_in_producer_open(&p, ctx, base, stream, 1, 64, ids.descriptor_stream_id, ids.control_stream_id,
                                  (uint64_t)now) != 0) {
        fprintf(stderr, "producer %u: %s\n", stream, tp_errmsg());
        _exit(1);
    }
    const int64_t end = now + run_ms * 1000000LL;
    int64_t next_announce = 0;
    for (uint64_t i = 0; (now = tp_clock_monotonic_ns()) < end; i++) {
        if (now >= next_announce) {
            tp_stand_in_producer_announce(&p, (uint64_t)now);
            next_announce = now + 100000000LL;
        }
        tp_stand_in_producer_publish(&p, i, (uint64_t)now, (uint64_t)now, NULL);
        example_sleep_ms(period_ms);
    }
    tp_stand_in_producer_close(&p);
    _exit(0);
}

static inline void example_reap(pid_t pid)
{
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        example_sleep_ms(1);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

#endif
