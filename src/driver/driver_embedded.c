/* Embedded driver (D-2.1.b): the driver agent on its own thread. */
#include "driver_impl.h"

#include "tensorpool/error.h"

#include <stdlib.h>

struct tp_driver_embedded_s {
    tp_driver_t *driver;
    tp_agent_runner_t runner;
};

int tp_driver_embedded_start(tp_driver_embedded_t **out, const tp_driver_config_t *cfg)
{
    *out = NULL;
    tp_driver_embedded_t *e = calloc(1, sizeof *e);
    if (e == NULL) return tp_err_set(TP_ERR_CAPACITY, "embedded driver: out of memory");
    if (tp_driver_open(&e->driver, cfg, NULL) != 0) {
        free(e);
        return -1;
    }
    tp_idle_strategy_t idle;
    tp_driver_idle_strategy(cfg, e->driver, &idle);
    const tp_agent_t agent = tp_driver_agent(e->driver);
    if (tp_agent_runner_init(&e->runner, &agent, &idle) != 0 || tp_agent_runner_start(&e->runner) != 0) {
        tp_driver_close(e->driver, 1, "embedded start failed");
        free(e);
        return -1;
    }
    *out = e;
    return 0;
}

tp_driver_t *tp_driver_embedded_driver(tp_driver_embedded_t *e) { return e->driver; }

void tp_driver_embedded_stop(tp_driver_embedded_t *e)
{
    if (e == NULL) return;
    tp_agent_runner_stop(&e->runner);
    tp_driver_close(e->driver, 0, NULL);
    free(e);
}
