/* Agent runtime: runner, invoker, composite, idle strategies. */
#include "tensorpool/agent.h"
#include "tp_test.h"

#include <sched.h>
#include <stdatomic.h>

typedef struct {
    _Atomic int started;
    _Atomic int closed;
    _Atomic int work_calls;
    _Atomic int errors_seen;
    int fail_start;
    int fail_work_every; /* 0 = never */
    int *order_log; /* shared by the probes of one test */
    int *order_pos;
    int id;
    int clock_mismatch; /* clock read twice in one cycle differed */
    int64_t last_clock;
    int clock_went_back;
} probe_t;

static int probe_start(void *s)
{
    probe_t *p = s;
    if (p->order_pos) p->order_log[(*p->order_pos)++ & 15] = p->id;
    if (p->fail_start) return tp_err_set(TP_ERR_STATE, "probe %d refuses to start", p->id);
    atomic_store(&p->started, 1);
    return 0;
}

static int probe_work(void *s, const tp_cached_clock_t *clock)
{
    probe_t *p = s;
    int n = atomic_fetch_add(&p->work_calls, 1) + 1;
    int64_t t1 = tp_cached_clock_monotonic_ns(clock);
    int64_t t2 = tp_cached_clock_monotonic_ns(clock);
    if (t1 != t2) p->clock_mismatch = 1;
    if (t1 < p->last_clock) p->clock_went_back = 1;
    p->last_clock = t1;
    if (p->fail_work_every && n % p->fail_work_every == 0) return tp_err_set(TP_ERR_IO, "probe work failed");
    return 1;
}

static void probe_close(void *s)
{
    probe_t *p = s;
    if (p->order_pos) p->order_log[(*p->order_pos)++ & 15] = -p->id;
    atomic_store(&p->closed, 1);
}

static void probe_error(void *s, tp_errcode_t code, const char *msg)
{
    probe_t *p = s;
    (void)msg;
    if (code == TP_ERR_IO) atomic_fetch_add(&p->errors_seen, 1);
}

static tp_agent_t probe_agent(probe_t *p, const char *name)
{
    tp_agent_t a = {.name = name, .state = p, .on_start = probe_start, .do_work = probe_work,
                    .on_close = probe_close, .on_error = probe_error};
    return a;
}

static void test_runner_runs_and_stops(void)
{
    probe_t p = {0};
    p.fail_work_every = 10;
    tp_agent_t a = probe_agent(&p, "probe");
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_yield(&idle);
    tp_agent_runner_t r;
    CHECK(tp_agent_runner_init(&r, &a, &idle) == 0);
    CHECK(tp_agent_runner_start(&r) == 0);
    CHECK(atomic_load(&p.started) == 1);
    CHECK(tp_agent_runner_state(&r) == TP_RUNNER_RUNNING);
    while (atomic_load(&p.work_calls) < 100) sched_yield();
    CHECK(tp_agent_runner_stop(&r) == 0);
    CHECK(tp_agent_runner_state(&r) == TP_RUNNER_STOPPED);
    CHECK(atomic_load(&p.closed) == 1);
    int calls = atomic_load(&p.work_calls);
    CHECK(tp_agent_runner_duty_cycles(&r) == (uint64_t)calls);
    CHECK(tp_agent_runner_errors(&r) == (uint64_t)(calls / 10));
    CHECK(atomic_load(&p.errors_seen) == calls / 10);
    CHECK(!p.clock_mismatch);
    CHECK(!p.clock_went_back);
    /* Stop is idempotent; a second start is refused. */
    CHECK(tp_agent_runner_stop(&r) == 0);
    CHECK(tp_agent_runner_start(&r) == -1);
    CHECK(tp_errcode() == TP_ERR_STATE);
}

static void test_runner_start_failure_reported(void)
{
    probe_t p = {0};
    p.fail_start = 1;
    p.id = 7;
    tp_agent_t a = probe_agent(&p, "bad");
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_busy_spin(&idle);
    tp_agent_runner_t r;
    CHECK(tp_agent_runner_init(&r, &a, &idle) == 0);
    CHECK(tp_agent_runner_start(&r) == -1);
    CHECK(tp_errcode() == TP_ERR_STATE);
    CHECK(strstr(tp_errmsg(), "probe 7 refuses") != NULL);
    CHECK(strstr(tp_errmsg(), "bad") != NULL);
    CHECK(atomic_load(&p.work_calls) == 0);
    CHECK(atomic_load(&p.closed) == 0);
    CHECK(tp_agent_runner_stop(&r) == 0);
}

static void test_runner_rejects_bad_agent(void)
{
    tp_agent_t a = {.name = "x"};
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_noop(&idle);
    tp_agent_runner_t r;
    CHECK(tp_agent_runner_init(&r, &a, &idle) == -1);
    CHECK(tp_errcode() == TP_ERR_INVALID_ARG);
}

static void test_invoker_on_caller_thread(void)
{
    probe_t p = {0};
    p.fail_work_every = 3;
    tp_agent_t a = probe_agent(&p, "inv");
    tp_agent_invoker_t inv;
    CHECK(tp_agent_invoker_init(&inv, &a) == 0);
    CHECK(tp_agent_invoker_invoke(&inv) == -1); /* not started */
    CHECK(tp_agent_invoker_start(&inv) == 0);
    CHECK(tp_agent_invoker_invoke(&inv) == 1);
    CHECK(tp_agent_invoker_invoke(&inv) == 1);
    CHECK(tp_agent_invoker_invoke(&inv) == -1);
    CHECK(inv.errors == 1);
    CHECK(atomic_load(&p.errors_seen) == 1);
    CHECK(atomic_load(&p.work_calls) == 3);
    /* The clock advances between cycles but is fixed within one. */
    CHECK(!p.clock_mismatch);
    tp_agent_invoker_close(&inv);
    tp_agent_invoker_close(&inv);
    CHECK(atomic_load(&p.closed) == 1);
    CHECK(tp_agent_invoker_invoke(&inv) == -1);
}

static void test_composite_order_and_rollback(void)
{
    int pos = 0;
    int log[16] = {0};
    probe_t p[3] = {{0}};
    tp_agent_t members[3];
    const char *names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        p[i].id = i + 1;
        p[i].order_pos = &pos;
        p[i].order_log = log;
        members[i] = probe_agent(&p[i], names[i]);
    }
    tp_agent_composite_t comp;
    CHECK(tp_agent_composite_init(&comp, "comp", members, 3) == 0);
    tp_agent_t ca = tp_agent_composite_as_agent(&comp);
    tp_agent_invoker_t inv;
    CHECK(tp_agent_invoker_init(&inv, &ca) == 0);
    CHECK(tp_agent_invoker_start(&inv) == 0);
    CHECK(tp_agent_invoker_invoke(&inv) == 3);
    p[1].fail_work_every = 1; /* one member failing does not stop the others */
    CHECK(tp_agent_invoker_invoke(&inv) == 2);
    CHECK(atomic_load(&p[1].errors_seen) == 1);
    CHECK(atomic_load(&p[2].work_calls) == 2);
    tp_agent_invoker_close(&inv);
    /* started 1,2,3 then closed 3,2,1 */
    int want[6] = {1, 2, 3, -3, -2, -1};
    CHECK(pos == 6);
    for (int i = 0; i < 6; i++) CHECK(log[i] == want[i]);

    /* Second member fails to start: first is closed again, third never starts. */
    pos = 0;
    for (int i = 0; i < 3; i++) {
        atomic_store(&p[i].closed, 0);
        atomic_store(&p[i].started, 0);
        p[i].order_pos = &pos;
    }
    p[1].fail_start = 1;
    CHECK(tp_agent_composite_init(&comp, "comp", members, 3) == 0);
    ca = tp_agent_composite_as_agent(&comp);
    CHECK(ca.on_start(ca.state) == -1);
    CHECK(tp_errcode() == TP_ERR_STATE);
    CHECK(strstr(tp_errmsg(), "member 'b'") != NULL);
    CHECK(atomic_load(&p[0].closed) == 1);
    CHECK(atomic_load(&p[2].started) == 0);
    CHECK(atomic_load(&p[1].closed) == 0);
    /* started a, tried b, closed a */
    CHECK(pos == 3);
    CHECK(log[0] == 1 && log[1] == 2 && log[2] == -1);
}

static void test_backoff_progression(void)
{
    tp_idle_strategy_t s;
    tp_idle_strategy_init_backoff(&s, 2, 1, 1000, 4000);
    tp_idle_strategy_idle(&s, 0);
    tp_idle_strategy_idle(&s, 0);
    CHECK(s.spins == 2 && s.yields == 0);
    tp_idle_strategy_idle(&s, 0);
    CHECK(s.yields == 1);
    tp_idle_strategy_idle(&s, 0); /* sleeps 1000 */
    CHECK(s.cur_sleep_ns == 2000);
    tp_idle_strategy_idle(&s, 0);
    tp_idle_strategy_idle(&s, 0);
    CHECK(s.cur_sleep_ns == 4000); /* capped */
    tp_idle_strategy_idle(&s, 5);  /* work resets */
    CHECK(s.spins == 0 && s.yields == 0 && s.cur_sleep_ns == 1000);
    tp_idle_strategy_init_sleep(&s, 0);
    CHECK(s.sleep_ns == 1);
}

int main(void)
{
    RUN(test_runner_runs_and_stops);
    RUN(test_runner_start_failure_reported);
    RUN(test_runner_rejects_bad_agent);
    RUN(test_invoker_on_caller_thread);
    RUN(test_composite_order_and_rollback);
    RUN(test_backoff_progression);
    TP_TEST_END();
}
