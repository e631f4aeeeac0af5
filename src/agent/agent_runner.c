#include "tensorpool/agent.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

static int agent_valid(const tp_agent_t *a)
{
    if (a == NULL || a->do_work == NULL || a->name == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "agent needs a name and a do_work callback");
    return 0;
}

int tp_agent_runner_init(tp_agent_runner_t *r, const tp_agent_t *agent, const tp_idle_strategy_t *idle)
{
    if (r == NULL || idle == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "runner and idle strategy are required");
    if (agent_valid(agent) < 0) return -1;
    memset(r, 0, sizeof *r);
    r->agent = *agent;
    r->idle = *idle;
    tp_cached_clock_init(&r->clock);
    atomic_init(&r->stop_requested, 0);
    atomic_init(&r->state, TP_RUNNER_INIT);
    atomic_init(&r->duty_cycles, 0);
    atomic_init(&r->errors, 0);
    return 0;
}

static void *runner_main(void *arg)
{
    tp_agent_runner_t *r = arg;
    tp_agent_t *a = &r->agent;
    tp_cached_clock_update(&r->clock);
    if (a->on_start != NULL && a->on_start(a->state) < 0) {
        /* Hand the thread-local error to the starting thread. */
        r->start_failed = 1;
        r->start_errcode = tp_errcode();
        snprintf(r->start_errmsg, sizeof r->start_errmsg, "%s", tp_errmsg());
        atomic_store_explicit(&r->state, TP_RUNNER_STOPPED, memory_order_release);
        return NULL;
    }
    atomic_store_explicit(&r->state, TP_RUNNER_RUNNING, memory_order_release);
    while (!atomic_load_explicit(&r->stop_requested, memory_order_acquire)) {
        tp_cached_clock_update(&r->clock);
        int work = a->do_work(a->state, &r->clock);
        if (work < 0) {
            atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
            if (a->on_error != NULL) a->on_error(a->state, tp_errcode(), tp_errmsg());
            work = 0;
        }
        atomic_fetch_add_explicit(&r->duty_cycles, 1, memory_order_relaxed);
        tp_idle_strategy_idle(&r->idle, work);
    }
    if (a->on_close != NULL) a->on_close(a->state);
    atomic_store_explicit(&r->state, TP_RUNNER_STOPPED, memory_order_release);
    return NULL;
}

int tp_agent_runner_start(tp_agent_runner_t *r)
{
    if (r == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "runner is NULL");
    if (atomic_load(&r->state) != TP_RUNNER_INIT)
        return tp_err_set(TP_ERR_STATE, "agent runner '%s' already started", r->agent.name);
    atomic_store(&r->state, TP_RUNNER_STARTING);
    int rc = pthread_create(&r->thread, NULL, runner_main, r);
    if (rc != 0) {
        atomic_store(&r->state, TP_RUNNER_STOPPED);
        return tp_err_set(TP_ERR_IO, "pthread_create for agent '%s': %s", r->agent.name, strerror(rc));
    }
    r->thread_started = 1;
    /* Wait for on_start so the caller learns whether the agent came up. Start is
     * set-up, not a hot path, so a yield loop is fine. */
    while (atomic_load_explicit(&r->state, memory_order_acquire) == TP_RUNNER_STARTING)
        sched_yield();
    if (r->start_failed) {
        pthread_join(r->thread, NULL);
        r->thread_started = 0;
        tp_err_set(r->start_errcode, "%s", r->start_errmsg);
        return tp_err_wrap("agent '%s' on_start", r->agent.name);
    }
    return 0;
}

int tp_agent_runner_stop(tp_agent_runner_t *r)
{
    if (r == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "runner is NULL");
    atomic_store_explicit(&r->stop_requested, 1, memory_order_release);
    if (r->thread_started) {
        int rc = pthread_join(r->thread, NULL);
        r->thread_started = 0;
        if (rc != 0) return tp_err_set(TP_ERR_IO, "pthread_join agent '%s': %s", r->agent.name, strerror(rc));
    }
    atomic_store(&r->state, TP_RUNNER_STOPPED);
    return 0;
}

tp_agent_runner_state_t tp_agent_runner_state(const tp_agent_runner_t *r)
{
    return (tp_agent_runner_state_t)atomic_load_explicit(&r->state, memory_order_acquire);
}

uint64_t tp_agent_runner_duty_cycles(const tp_agent_runner_t *r)
{
    return atomic_load_explicit(&r->duty_cycles, memory_order_relaxed);
}

uint64_t tp_agent_runner_errors(const tp_agent_runner_t *r)
{
    return atomic_load_explicit(&r->errors, memory_order_relaxed);
}
