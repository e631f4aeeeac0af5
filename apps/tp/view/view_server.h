/* The server behind tp view and tp demo --view: a model thread that keeps
 * the picture of a directory (view_model.h) and an HTTP server
 * (libmicrohttpd, a thread per connection, at most VIEW_MAX_CONNECTIONS)
 * that serves the embedded page at /, one snapshot at /state.json and a
 * snapshot per period as server-sent events at /events. Read-only: the
 * server answers GET and HEAD only. */
#ifndef TP_APP_VIEW_SERVER_H
#define TP_APP_VIEW_SERVER_H

#include <stdint.h>

#define VIEW_MAX_CONNECTIONS 16
#define VIEW_DEFAULT_LISTEN "127.0.0.1:8470"

typedef struct view_options_s {
    const char *dir;        /* SHM base directory, absolute */
    const char *ns;         /* namespace */
    const char *listen;     /* HOST:PORT; port 0 picks a free one */
    int allow_remote;       /* listen on a non-loopback address */
    int64_t period_ns;      /* snapshot period */
} view_options_t;

typedef struct view_server_s view_server_t;

/* Parse opt->listen: an IPv4 address (or "localhost") and a port. Returns 0,
 * or 2 with a message in err for bad input or a non-loopback address without
 * allow_remote. */
int view_check_listen(const view_options_t *opt, char *err, unsigned errlen);

/* Start the model thread and the HTTP server. 0 or -1 (tp_errmsg). */
int view_server_start(view_server_t **out, const view_options_t *opt);

/* "http://127.0.0.1:PORT/" with the port actually bound. */
const char *view_server_url(const view_server_t *s);

/* Stop serving (open event streams end), join the threads, free. NULL-safe. */
void view_server_stop(view_server_t *s);

#endif
