/* tp stat's JSON picture of a monitor, shared with tp view (which sends the
 * same keys to its page, documented once in docs/json.md). */
#ifndef TP_APP_STAT_JSON_H
#define TP_APP_STAT_JSON_H

#include "tensorpool/json_writer.h"
#include "tensorpool/monitor.h"

#include <stdint.h>

/* Write tp stat --json's keys (time_unix_ns ... transport) into the object
 * the writer is in. `window`: how recent a lease must be to count as live. */
void tp_stat_json(tp_json_t *j, const tp_monitor_t *m, const char *dir, const char *ns, const char *channel,
                  int64_t now, int64_t window);

#endif
