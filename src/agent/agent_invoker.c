#include "tensorpool/agent.h"

#include <string.h>

int tp_agent_invoker_init(tp_agent_invoker_t *inv, const tp_agent_t *agent)
{
    if (inv == NULL || agent == NULL || agent->do_work == NULL || agent->name == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "invoker needs an agent with a name and do_work");
    memset(inv, 0, sizeof *inv);
    inv->agent = *agent;
    tp_cached_clock_init(&inv->clock);
    return 0;
}

int tp_agent_invoker_start(tp_agent_invoker_t *inv)
{
    if (inv->started) return tp_err_set(TP_ERR_STATE, "agent '%s' already started", inv->agent.name);
    tp_cached_clock_update(&inv->clock);
    if (inv->agent.on_start != NULL && inv->agent.on_start(inv->agent.state) < 0)
        return tp_err_wrap("agent '%s' on_start", inv->agent.name);
    inv->started = 1;
    return 0;
}

int tp_agent_invoker_invoke(tp_agent_invoker_t *inv)
{
    if (!inv->started || inv->closed)
        return tp_err_set(TP_ERR_STATE, "agent '%s' is not running", inv->agent.name);
    tp_cached_clock_update(&inv->clock);
    int work = inv->agent.do_work(inv->agent.state, &inv->clock);
    if (work < 0) {
        inv->errors++;
        if (inv->agent.on_error != NULL) inv->agent.on_error(inv->agent.state, tp_errcode(), tp_errmsg());
        return -1;
    }
    return work;
}

void tp_agent_invoker_close(tp_agent_invoker_t *inv)
{
    if (inv->started && !inv->closed && inv->agent.on_close != NULL) inv->agent.on_close(inv->agent.state);
    inv->closed = 1;
}
