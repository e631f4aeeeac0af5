/* Aeron backend: the process's shared Aeron client, the counters, and the
 * backend table. */
#include "ipc_aeron.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const tp_ipc_backend_t tp_ipc_aeron_backend = {
    .name = "aeron",
    .publication_open = tp_ipc_aeron_publication_open,
    .offer = tp_ipc_aeron_offer,
    .try_claim = tp_ipc_aeron_try_claim,
    .commit = tp_ipc_aeron_commit,
    .abort = tp_ipc_aeron_abort,
    .publication_close = tp_ipc_aeron_publication_close,
    .subscription_open = tp_ipc_aeron_subscription_open,
    .poll = tp_ipc_aeron_poll,
    .loss_count = tp_ipc_aeron_loss_count,
    .image_count = tp_ipc_aeron_image_count,
    .error_count = tp_ipc_aeron_error_count,
    .subscription_close = tp_ipc_aeron_subscription_close,
};

/* Counters as an array of atomics laid out like tp_ipc_aeron_counters_t. */
enum { NCOUNTERS = sizeof(tp_ipc_aeron_counters_t) / sizeof(uint64_t) };
static _Atomic uint64_t g_counters[NCOUNTERS];

void tp_ipc_aeron_count(size_t field_offset)
{
    atomic_fetch_add_explicit(&g_counters[field_offset / sizeof(uint64_t)], 1, memory_order_relaxed);
}

int tp_ipc_aeron_counters(tp_ipc_aeron_counters_t *out)
{
    uint64_t v[NCOUNTERS];
    for (size_t i = 0; i < NCOUNTERS; i++) v[i] = atomic_load_explicit(&g_counters[i], memory_order_relaxed);
    memcpy(out, v, sizeof *out);
    return 0;
}

/* ---- the shared client (set-up, tear-down and recovery only, so a mutex
 * is fine) ---- */

struct tp_ipc_aeron_client_s {
    aeron_context_t *ctx;
    aeron_t *aeron;
    int refs;
    char dir[512];
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static tp_ipc_aeron_client_t *g_current; /* the one new users get */
static char g_last_error[256];           /* written by conductor threads, under g_err_lock */
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;

/* Runs on Aeron's conductor thread: count and keep the message for errors. */
static void on_client_error(void *clientd, int errcode, const char *message)
{
    (void)clientd;
    TP_IPC_AERON_COUNT(client_errors);
    if (errcode == AERON_CLIENT_ERROR_DRIVER_TIMEOUT) TP_IPC_AERON_COUNT(driver_timeouts);
    pthread_mutex_lock(&g_err_lock);
    snprintf(g_last_error, sizeof g_last_error, "%s", message != NULL ? message : "(no message)");
    pthread_mutex_unlock(&g_err_lock);
}

const char *tp_ipc_aeron_client_last_error(void)
{
    static _Thread_local char copy[sizeof g_last_error];
    pthread_mutex_lock(&g_err_lock);
    memcpy(copy, g_last_error, sizeof copy);
    pthread_mutex_unlock(&g_err_lock);
    return copy;
}

int tp_ipc_aeron_dir(const tp_ipc_context_t *ctx, char *out, size_t out_len)
{
    const char *env = getenv("AERON_DIR");
    if (env != NULL && env[0] != '\0') {
        if (strlen(env) >= out_len) return tp_err_set(TP_ERR_INVALID_ARG, "AERON_DIR is too long");
        snprintf(out, out_len, "%s", env);
        return 0;
    }
    /* <base>/tensorpool-<user>/<ns>/ipc -> .../<ns>/aeron */
    if (tp_ipc_context_dir(ctx, out, out_len) < 0) return -1;
    const size_t n = strlen(out);
    if (n < 4 || strcmp(out + n - 4, "/ipc") != 0 || n + 2 >= out_len)
        return tp_err_set(TP_ERR_INVALID_ARG, "cannot place the Aeron directory beside '%s'", out);
    snprintf(out + n - 3, out_len - (n - 3), "aeron");
    return 0;
}

static void client_destroy(tp_ipc_aeron_client_t *c)
{
    if (c->aeron != NULL) aeron_close(c->aeron);
    if (c->ctx != NULL) aeron_context_close(c->ctx);
    free(c);
}

static tp_ipc_aeron_client_t *client_create(const char *dir)
{
    tp_ipc_aeron_client_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        tp_err_set(TP_ERR_CAPACITY, "out of memory for the Aeron client");
        return NULL;
    }
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    if (aeron_context_init(&c->ctx) < 0 || aeron_context_set_error_handler(c->ctx, on_client_error, NULL) < 0 ||
        aeron_context_set_client_name(c->ctx, "tensorpool") < 0 || aeron_context_set_dir(c->ctx, dir) < 0 ||
        aeron_init(&c->aeron, c->ctx) < 0 || aeron_start(c->aeron) < 0) {
        tp_err_set(TP_ERR_IO, "Aeron client: no media driver answering in '%s' (set AERON_DIR, start aeronmd or "
                              "the embedded media driver): %s",
                   dir, aeron_errmsg());
        client_destroy(c);
        return NULL;
    }
    return c;
}

/* A forked child has none of the parent's threads, so the parent's client
 * (its conductor thread) is dead there: the child starts its own. */
static void before_fork(void) { pthread_mutex_lock(&g_lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void after_fork_child(void)
{
    pthread_mutex_init(&g_lock, NULL);
    g_current = NULL; /* the parent's memory stays, unused */
}
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

int tp_ipc_aeron_client_acquire(const char *dir, tp_ipc_aeron_client_t **out)
{
    pthread_once(&g_atfork_once, register_atfork);
    pthread_mutex_lock(&g_lock);
    if (g_current != NULL && (aeron_is_closed(g_current->aeron) || strcmp(g_current->dir, dir) != 0)) {
        /* closed for good, or another directory: new users get a new one;
         * the old one goes with its last user (refs > 0 here: a client
         * nobody holds is freed at once) */
        g_current = NULL;
    }
    if (g_current == NULL) {
        g_current = client_create(dir);
        if (g_current == NULL) {
            pthread_mutex_unlock(&g_lock);
            return -1;
        }
    }
    g_current->refs++;
    *out = g_current;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

void tp_ipc_aeron_client_release(tp_ipc_aeron_client_t *c)
{
    if (c == NULL) return;
    pthread_mutex_lock(&g_lock);
    if (--c->refs == 0) {
        if (c == g_current) g_current = NULL;
        client_destroy(c);
    }
    pthread_mutex_unlock(&g_lock);
}

void tp_ipc_aeron_client_renew(void)
{
    pthread_mutex_lock(&g_lock);
    g_current = NULL; /* freed with its last holder (release) */
    pthread_mutex_unlock(&g_lock);
}

aeron_t *tp_ipc_aeron_client_aeron(const tp_ipc_aeron_client_t *c) { return c->aeron; }

int tp_ipc_aeron_client_is_closed(const tp_ipc_aeron_client_t *c) { return aeron_is_closed(c->aeron); }

#if TP_HAVE_AERON_DRIVER
static void quiet_log(const char *line) { (void)line; }
#endif

int tp_ipc_aeron_reconnect_due(const char *dir, int64_t *next_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (now < *next_ns) return 0;
    *next_ns = now + 1000000000LL;
#if TP_HAVE_AERON_DRIVER
    /* A media driver is back when its CnC heartbeat is fresh. */
    return aeron_is_driver_active(dir, 1000, quiet_log);
#else
    (void)dir;
    return 0; /* only libaeron_driver can tell without blocking; reopen to recover */
#endif
}

int tp_ipc_aeron_channel_ok(const char *channel)
{
    /* Parameters after '?' are Aeron's (endpoint, mtu, term-length, ...);
     * Aeron itself checks them when the publication or subscription is added. */
    return strcmp(channel, "aeron:ipc") == 0 || strncmp(channel, "aeron:ipc?", 10) == 0 ||
           strncmp(channel, "aeron:udp?", 10) == 0;
}

int64_t tp_ipc_aeron_setup_timeout_ms(void)
{
    const char *v = getenv("AERON_DRIVER_TIMEOUT");
    long long ms = v != NULL ? atoll(v) : 0;
    return ms > 0 && ms < 3600000 ? ms : 10000;
}
