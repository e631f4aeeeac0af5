/* tensorpool agents: bounded units of work run in duty cycles.
 *
 * An agent never blocks inside do_work; it does what is ready and returns how
 * much it did. A runner drives one agent on its own thread and idles with an
 * idle strategy when a cycle did no work; an invoker drives it from the
 * caller's thread. A composite groups several agents into one duty cycle.
 * Each cycle the driver refreshes a cached clock once and hands it to the
 * agent, so agents never read the clock themselves.
 */
#ifndef TENSORPOOL_AGENT_H
#define TENSORPOOL_AGENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/atomic.h"

#include "tensorpool/clock.h"
#include "tensorpool/error.h"

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- agent interface ---- */

typedef struct tp_agent_s {
    const char *name; /* for diagnostics; required */
    void *state;      /* passed to every callback */
    /* Called once before the first do_work, on the driving thread. 0 or -1 (tp_err_set). Optional. */
    int (*on_start)(void *state);
    /* One duty cycle: do ready work, never block. Returns work count (>= 0) or -1 (tp_err_set). Required. */
    int (*do_work)(void *state, const tp_cached_clock_t *clock);
    /* Called once after the last do_work, on the driving thread. Optional. */
    void (*on_close)(void *state);
    /* Called when do_work returns -1, with the error left by it. Optional. */
    void (*on_error)(void *state, tp_errcode_t code, const char *msg);
} tp_agent_t;

/* ---- idle strategies ---- */

typedef enum tp_idle_kind_e {
    TP_IDLE_BUSY_SPIN = 0, /* spin with a CPU pause hint: lowest latency, burns a core */
    TP_IDLE_YIELD,         /* sched_yield */
    TP_IDLE_SLEEP,         /* sleep a fixed period */
    TP_IDLE_BACKOFF,       /* spin, then yield, then sleep with doubling period */
    TP_IDLE_NOOP           /* do nothing (tests) */
} tp_idle_kind_t;

typedef struct tp_idle_strategy_s {
    tp_idle_kind_t kind;
    int64_t sleep_ns;     /* SLEEP period; BACKOFF minimum sleep */
    int64_t max_sleep_ns; /* BACKOFF maximum sleep */
    uint32_t max_spins;   /* BACKOFF spins before yielding */
    uint32_t max_yields;  /* BACKOFF yields before sleeping */
    /* backoff progress */
    uint32_t spins;
    uint32_t yields;
    int64_t cur_sleep_ns;
    /* BACKOFF: when set, each sleep calls park(park_arg, ns) instead
     * (tp_idle_strategy_set_park) */
    void (*park)(void *park_arg, int64_t ns);
    void *park_arg;
} tp_idle_strategy_t;

TP_API void tp_idle_strategy_init_busy_spin(tp_idle_strategy_t *s);
TP_API void tp_idle_strategy_init_yield(tp_idle_strategy_t *s);
TP_API void tp_idle_strategy_init_noop(tp_idle_strategy_t *s);
/* Sleep sleep_ns (> 0) whenever a cycle does no work. */
TP_API void tp_idle_strategy_init_sleep(tp_idle_strategy_t *s, int64_t sleep_ns);
/* Spin max_spins times, yield max_yields times, then sleep from min_sleep_ns doubling to max_sleep_ns. */
TP_API void tp_idle_strategy_init_backoff(tp_idle_strategy_t *s, uint32_t max_spins, uint32_t max_yields,
                                          int64_t min_sleep_ns, int64_t max_sleep_ns);

/* A BACKOFF strategy's sleeps call park(arg, ns) instead of sleeping ns:
 * for an agent that can sleep until its own work arrives, no longer than ns
 * (tp_driver_idle_strategy does so on the driver's control stream). park
 * may return early, or at once. NULL restores plain sleeps. */
TP_API void tp_idle_strategy_set_park(tp_idle_strategy_t *s, void (*park)(void *arg, int64_t ns), void *arg);

/* Idle after a cycle that did work_count units: work > 0 resets the backoff, 0 idles. */
TP_API void tp_idle_strategy_idle(tp_idle_strategy_t *s, int work_count);

/* Reset backoff progress. */
TP_API void tp_idle_strategy_reset(tp_idle_strategy_t *s);

/* ---- runner: one agent on its own thread ---- */

typedef enum tp_agent_runner_state_e {
    TP_RUNNER_INIT = 0,
    TP_RUNNER_STARTING,
    TP_RUNNER_RUNNING,
    TP_RUNNER_STOPPED, /* thread finished (after on_close) or on_start failed */
} tp_agent_runner_state_t;

typedef struct tp_agent_runner_s {
    tp_agent_t agent;
    tp_idle_strategy_t idle;
    tp_cached_clock_t clock;
    pthread_t thread;
    TP_ATOMIC(int) stop_requested;
    TP_ATOMIC(int) state;              /* tp_agent_runner_state_t */
    TP_ATOMIC(uint64_t) duty_cycles;
    TP_ATOMIC(uint64_t) errors;        /* do_work returned -1 */
    int thread_started;
    int start_failed;               /* on_start returned -1 */
    tp_errcode_t start_errcode;
    char start_errmsg[256];
} tp_agent_runner_t;

/* Prepare a runner (copies agent and idle strategy). 0 or -1 on bad arguments. */
TP_API int tp_agent_runner_init(tp_agent_runner_t *r, const tp_agent_t *agent, const tp_idle_strategy_t *idle);

/* Start the thread; it calls on_start, then do_work/idle until stopped, then on_close.
 * Returns once on_start has finished: 0, or -1 if on_start or thread creation failed
 * (the error of on_start is reported on the caller's thread). */
TP_API int tp_agent_runner_start(tp_agent_runner_t *r);

/* Ask the thread to stop after its current cycle and join it. Idempotent. */
TP_API int tp_agent_runner_stop(tp_agent_runner_t *r);

/* Current state (tp_agent_runner_state_t). */
TP_API tp_agent_runner_state_t tp_agent_runner_state(const tp_agent_runner_t *r);

/* Duty cycles completed so far. */
TP_API uint64_t tp_agent_runner_duty_cycles(const tp_agent_runner_t *r);

/* do_work failures so far. */
TP_API uint64_t tp_agent_runner_errors(const tp_agent_runner_t *r);

/* ---- invoker: one agent on the caller's thread ---- */

typedef struct tp_agent_invoker_s {
    tp_agent_t agent;
    tp_cached_clock_t clock;
    int started;
    int closed;
    uint64_t errors;
} tp_agent_invoker_t;

/* Prepare an invoker (copies agent). 0 or -1. */
TP_API int tp_agent_invoker_init(tp_agent_invoker_t *inv, const tp_agent_t *agent);

/* Call on_start. 0 or -1. */
TP_API int tp_agent_invoker_start(tp_agent_invoker_t *inv);

/* Refresh the cached clock and run one duty cycle. Work count, or -1 if do_work failed
 * (on_error has been called) or the invoker is not started. */
TP_API int tp_agent_invoker_invoke(tp_agent_invoker_t *inv);

/* Call on_close once (if started). */
TP_API void tp_agent_invoker_close(tp_agent_invoker_t *inv);

/* ---- composite: several agents in one duty cycle ---- */

typedef struct tp_agent_composite_s {
    const char *name;
    tp_agent_t *agents; /* caller-owned array, must outlive the composite */
    size_t count;
    size_t started;     /* agents whose on_start succeeded */
} tp_agent_composite_t;

/* Group count agents (count >= 1). The agents array is borrowed. 0 or -1. */
TP_API int tp_agent_composite_init(tp_agent_composite_t *c, const char *name, tp_agent_t *agents, size_t count);

/* An agent that runs every member in order each cycle and returns the summed work
 * count. on_start starts members in order and, if one fails, closes those already
 * started (reverse order) and fails; on_close closes members in reverse order.
 * A member whose do_work fails has its on_error called; the others still run. */
TP_API tp_agent_t tp_agent_composite_as_agent(tp_agent_composite_t *c);

#ifdef __cplusplus
}
#endif
#endif
