/* tp view's picture of a directory: tp stat's monitor, plus (only while
 * someone watches) a thumbnail of each image-like stream and the join
 * stages' traces (tensorpool/join_trace.h), serialised as one JSON object
 * (keys in docs/json.md). Single-threaded: the server's model thread owns it. */
#ifndef TP_APP_VIEW_MODEL_H
#define TP_APP_VIEW_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct view_model_s view_model_t;

/* dir: the SHM base directory (absolute), ns: the namespace. 0 or -1. */
int view_model_open(view_model_t **out, const char *dir, const char *ns);

/* Poll the monitor; every period_ns refresh, and if watched also read
 * thumbnails and traces (and declare the watch to the stages), then write a
 * new snapshot. Returns 1 when a new snapshot is ready, 0 if not, -1 on
 * error. */
int view_model_step(view_model_t *m, int64_t now_ns, int watched, int64_t period_ns);

/* The latest snapshot (NUL-terminated JSON); valid until the next step. */
const char *view_model_json(const view_model_t *m, size_t *len);

void view_model_close(view_model_t *m);

#endif
