/* tp view's server: see view_server.h. */
#include "view_server.h"

#include "view_model.h"

#include "tensorpool/clock.h"
#include "tensorpool/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

extern const unsigned char tp_view_page[];
extern const unsigned long tp_view_page_len;

#define STATE_LEASE_NS 5000000000LL /* a /state.json request counts as watching this long */

struct view_server_s {
    view_options_t opt;
    struct sockaddr_in addr;
    char url[64];
    struct MHD_Daemon *mhd;
    pthread_t model_thread;
    int model_started;
    view_model_t *model;
    /* shared with the connection threads, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int streams;            /* open /events connections */
    int64_t state_until_ns; /* a /state.json asked recently */
    uint64_t version;       /* snapshots published */
    char *json;             /* the latest snapshot */
    size_t json_len;
};

int view_check_listen(const view_options_t *opt, char *err, unsigned errlen)
{
    const char *colon = strrchr(opt->listen, ':');
    if (colon == NULL || colon == opt->listen || colon[1] == '\0') {
        snprintf(err, errlen, "--listen wants HOST:PORT, got '%s'", opt->listen);
        return 2;
    }
    char host[64];
    const size_t hl = (size_t)(colon - opt->listen);
    if (hl >= sizeof host) {
        snprintf(err, errlen, "--listen: host too long");
        return 2;
    }
    memcpy(host, opt->listen, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    const unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port > 65535) {
        snprintf(err, errlen, "--listen: bad port '%s'", colon + 1);
        return 2;
    }
    struct in_addr a;
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a) != 1) {
        snprintf(err, errlen, "--listen: '%s' is not an IPv4 address (or localhost)", host);
        return 2;
    }
    const int loopback = (ntohl(a.s_addr) >> 24) == 127;
    if (!loopback && !opt->allow_remote) {
        snprintf(err, errlen,
                 "--listen %s is not a loopback address: the page shows frames and process ids to anyone who "
                 "can reach it; add --allow-remote to serve it there anyway",
                 opt->listen);
        return 2;
    }
    return 0;
}

static int64_t watched_now(view_server_t *s, int64_t now)
{
    pthread_mutex_lock(&s->mu);
    const int w = s->streams > 0 || now < s->state_until_ns;
    pthread_mutex_unlock(&s->mu);
    return w;
}

/* The model thread: poll every 2 ms (the transport logs hold seconds), a
 * snapshot every period. */
static void *model_main(void *arg)
{
    view_server_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        const int stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        const int64_t now = tp_clock_monotonic_ns();
        const int r = view_model_step(s->model, now, (int)watched_now(s, now), s->opt.period_ns);
        if (r > 0) {
            size_t len;
            const char *j = view_model_json(s->model, &len);
            char *copy = malloc(len + 1);
            if (copy != NULL) {
                memcpy(copy, j, len + 1);
                pthread_mutex_lock(&s->mu);
                free(s->json);
                s->json = copy;
                s->json_len = len;
                s->version++;
                pthread_cond_broadcast(&s->cv);
                pthread_mutex_unlock(&s->mu);
            }
        }
        const struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* One /events connection. */
typedef struct sse_s {
    view_server_t *s;
    uint64_t sent_version;
    char *buf;       /* the event being sent */
    size_t len, off;
} sse_t;

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    sse_t *c = cls;
    view_server_t *s = c->s;
    if (c->off == c->len) { /* next event: wait for a newer snapshot (a comment every 2 s keeps proxies happy) */
        pthread_mutex_lock(&s->mu);
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 2;
        while (!s->stopping && s->version == c->sent_version)
            if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        free(c->buf);
        c->buf = NULL;
        c->len = c->off = 0;
        if (s->version != c->sent_version && s->json != NULL) {
            c->buf = malloc(s->json_len + 16);
            if (c->buf != NULL) {
                c->len = (size_t)snprintf(c->buf, s->json_len + 16, "data: %s\n\n", s->json);
                c->sent_version = s->version;
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (c->buf == NULL) {
            static const char ping[] = ": ping\n\n";
            const size_t n = sizeof ping - 1 < max ? sizeof ping - 1 : max;
            memcpy(out, ping, n);
            return (ssize_t)n;
        }
    }
    const size_t n = c->len - c->off < max ? c->len - c->off : max;
    memcpy(out, c->buf + c->off, n);
    c->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_t *c = cls;
    pthread_mutex_lock(&c->s->mu);
    c->s->streams--;
    pthread_mutex_unlock(&c->s->mu);
    free(c->buf);
    free(c);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type, const void *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                                          "style-src 'unsafe-inline'; script-src 'unsafe-inline'");
    const enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* DNS rebinding: a web page elsewhere can point a name of its own at
 * 127.0.0.1 and have the browser read us. Such a request names that host;
 * ours name an IP address or localhost. */
static int host_ok(const view_server_t *s, struct MHD_Connection *conn)
{
    if (s->opt.allow_remote) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (h == NULL) return 1; /* HTTP/1.0 without Host: not a browser */
    char host[64];
    const char *colon = strrchr(h, ':');
    const size_t n = colon != NULL ? (size_t)(colon - h) : strlen(h);
    if (n == 0 || n >= sizeof host) return 0;
    memcpy(host, h, n);
    host[n] = '\0';
    struct in_addr a;
    return strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &a) == 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
    (void)version;
    (void)upload;
    view_server_t *s = cls;
    if (*con_cls == NULL) { /* first call: headers only */
        *con_cls = s;
        return MHD_YES;
    }
    if (!host_ok(s, conn)) {
        static const char msg[] = "forbidden: Host must be an IP address or localhost\n";
        return reply(conn, MHD_HTTP_FORBIDDEN, "text/plain", msg, sizeof msg - 1, MHD_RESPMEM_PERSISTENT);
    }
    if (*upload_len != 0 || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
        static const char msg[] = "read-only: GET only\n";
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg, sizeof msg - 1, MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", tp_view_page, tp_view_page_len,
                     MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/state.json") == 0) {
        const int64_t now = tp_clock_monotonic_ns();
        pthread_mutex_lock(&s->mu);
        s->state_until_ns = now + STATE_LEASE_NS;
        char *copy = s->json != NULL ? strdup(s->json) : strdup("{}");
        pthread_mutex_unlock(&s->mu);
        if (copy == NULL) return MHD_NO;
        return reply(conn, MHD_HTTP_OK, "application/json", copy, strlen(copy), MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/events") == 0) {
        sse_t *c = calloc(1, sizeof *c);
        if (c == NULL) return MHD_NO;
        c->s = s;
        pthread_mutex_lock(&s->mu);
        s->streams++;
        pthread_mutex_unlock(&s->mu);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sse_read, c, sse_free);
        if (r == NULL) {
            sse_free(c);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        const enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    static const char nf[] = "not found\n";
    return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", nf, sizeof nf - 1, MHD_RESPMEM_PERSISTENT);
}

int view_server_start(view_server_t **out, const view_options_t *opt)
{
    *out = NULL;
    char err[256];
    if (view_check_listen(opt, err, sizeof err) != 0) return tp_err_set(TP_ERR_INVALID_ARG, "%s", err);
    view_server_t *s = calloc(1, sizeof *s);
    if (s == NULL) return tp_err_set(TP_ERR_CAPACITY, "out of memory");
    s->opt = *opt;
    if (s->opt.period_ns <= 0) s->opt.period_ns = 500000000LL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    const char *colon = strrchr(opt->listen, ':');
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - opt->listen), opt->listen);
    s->addr.sin_family = AF_INET;
    s->addr.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
    inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &s->addr.sin_addr);
    if (view_model_open(&s->model, opt->dir, opt->ns) != 0) {
        view_server_stop(s);
        return -1;
    }
    if (pthread_create(&s->model_thread, NULL, model_main, s) != 0) {
        view_server_stop(s);
        return tp_err_set(TP_ERR_IO, "cannot start the model thread");
    }
    s->model_started = 1;
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                              NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&s->addr,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)VIEW_MAX_CONNECTIONS, MHD_OPTION_END);
    if (s->mhd == NULL) {
        view_server_stop(s);
        return tp_err_set(TP_ERR_IO, "cannot listen on %s (address in use?)", opt->listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    uint16_t port = ntohs(s->addr.sin_port);
    if (info != NULL && getsockname(info->listen_fd, (struct sockaddr *)&bound, &bl) == 0) port = ntohs(bound.sin_port);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &s->addr.sin_addr, ip, sizeof ip);
    snprintf(s->url, sizeof s->url, "http://%s:%u/", ip, (unsigned)port);
    *out = s;
    return 0;
}

const char *view_server_url(const view_server_t *s) { return s->url; }

void view_server_stop(view_server_t *s)
{
    if (s == NULL) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->mhd != NULL) MHD_stop_daemon(s->mhd);
    if (s->model_started) pthread_join(s->model_thread, NULL);
    view_model_close(s->model);
    free(s->json);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
