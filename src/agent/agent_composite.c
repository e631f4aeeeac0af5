#include "tensorpool/agent.h"

#include <stdio.h>

int tp_agent_composite_init(tp_agent_composite_t *c, const char *name, tp_agent_t *agents, size_t count)
{
    if (c == NULL || name == NULL || agents == NULL || count == 0)
        return tp_err_set(TP_ERR_INVALID_ARG, "composite needs a name and at least one agent");
    for (size_t i = 0; i < count; i++) {
        if (agents[i].do_work == NULL || agents[i].name == NULL)
            return tp_err_set(TP_ERR_INVALID_ARG, "composite '%s': member %zu lacks name or do_work", name, i);
    }
    c->name = name;
    c->agents = agents;
    c->count = count;
    c->started = 0;
    return 0;
}

static void composite_close(void *state)
{
    tp_agent_composite_t *c = state;
    while (c->started > 0) {
        tp_agent_t *a = &c->agents[--c->started];
        if (a->on_close != NULL) a->on_close(a->state);
    }
}

static int composite_start(void *state)
{
    tp_agent_composite_t *c = state;
    for (c->started = 0; c->started < c->count; c->started++) {
        tp_agent_t *a = &c->agents[c->started];
        if (a->on_start != NULL && a->on_start(a->state) < 0) {
            tp_err_wrap("composite '%s' member '%s'", c->name, a->name);
            /* Keep the member's error while undoing the ones already started. */
            tp_errcode_t code = tp_errcode();
            char msg[256];
            snprintf(msg, sizeof msg, "%s", tp_errmsg());
            composite_close(c);
            return tp_err_set(code, "%s", msg);
        }
    }
    return 0;
}

static int composite_work(void *state, const tp_cached_clock_t *clock)
{
    tp_agent_composite_t *c = state;
    int total = 0;
    for (size_t i = 0; i < c->count; i++) {
        tp_agent_t *a = &c->agents[i];
        int w = a->do_work(a->state, clock);
        if (w < 0) {
            if (a->on_error != NULL) a->on_error(a->state, tp_errcode(), tp_errmsg());
            continue;
        }
        total += w;
    }
    return total;
}

tp_agent_t tp_agent_composite_as_agent(tp_agent_composite_t *c)
{
    tp_agent_t a = {
        .name = c->name,
        .state = c,
        .on_start = composite_start,
        .do_work = composite_work,
        .on_close = composite_close,
        .on_error = NULL,
    };
    return a;
}
