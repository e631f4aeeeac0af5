/* Status files of running bridges, for tp stat: each tp bridge rewrites
 * <base>/tensorpool-<user>/<namespace>/bridge/<instance_id>.status once a
 * second (write to a temporary name, then rename) and removes it on exit.
 * One line per mapping of "key=value" words. */
#ifndef TP_APP_BRIDGE_STATUS_H
#define TP_APP_BRIDGE_STATUS_H

#include "tensorpool/bridge.h"

#include <stddef.h>

/* The status directory of (base_dir, ns) into out. 0 or -1. */
int tp_bridge_status_dir(const char *base_dir, const char *ns, char *out, size_t cap);

/* Write the status file of bridge b (instance id from cfg). 0 or -1. */
int tp_bridge_status_write(const char *dir, const tp_bridge_config_t *cfg, const tp_bridge_t *b);

/* Remove it. */
void tp_bridge_status_remove(const char *dir, const tp_bridge_config_t *cfg);

/* One mapping read back from a status file. */
typedef struct tp_bridge_status_row_s {
    char instance[64];
    int pid;
    int pid_alive;
    tp_bridge_counters_t n;
} tp_bridge_status_row_t;

/* Read every status file in dir into rows (at most cap). Returns the count. */
unsigned tp_bridge_status_read(const char *dir, tp_bridge_status_row_t *rows, unsigned cap);

#endif
