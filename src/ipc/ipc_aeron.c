/* Aeron backend: the process's shared Aeron client, the counters, and the
 * backend table. */
#include "ipc_aeron.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void tp_ipc_aeron_counters(tp_ipc_aeron_counters_t *out)
{
    uint64_t v[NCOUNTERS];
    for (size_t i = 0; i < NCOUNTERS; i++) v[i] = atomic_load_explicit(&g_counters[i], memory_order_relaxed);
    memcpy(out, v, sizeof *out);
}

/* ---- the shared client (set-up and tear-down only, so a mutex is fine) ---- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static aeron_context_t *g_ctx;
static aeron_t *g_client;
static int g_refs;
static char g_last_error[256]; /* written by the conductor thread, under g_err_lock */
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

static void client_destroy(void)
{
    if (g_client != NULL) aeron_close(g_client);
    if (g_ctx != NULL) aeron_context_close(g_ctx);
    g_client = NULL;
    g_ctx = NULL;
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

int tp_ipc_aeron_client_acquire(const tp_ipc_context_t *ctx, aeron_t **out)
{
    char dir[512];
    if (tp_ipc_aeron_dir(ctx, dir, sizeof dir) < 0) return -1;
    pthread_mutex_lock(&g_lock);
    /* A client whose media driver timed out is closed for good: start afresh
     * once nobody holds it any more. */
    if (g_client != NULL && g_refs == 0 && aeron_is_closed(g_client)) client_destroy();
    if (g_client == NULL) {
        if (aeron_context_init(&g_ctx) < 0 ||
            aeron_context_set_error_handler(g_ctx, on_client_error, NULL) < 0 ||
            aeron_context_set_client_name(g_ctx, "tensorpool") < 0 || aeron_context_set_dir(g_ctx, dir) < 0 ||
            aeron_init(&g_client, g_ctx) < 0 ||
            aeron_start(g_client) < 0) {
            tp_err_set(TP_ERR_IO, "Aeron client: no media driver answering in '%s' (set AERON_DIR, start aeronmd "
                                  "or the embedded media driver): %s",
                       dir, aeron_errmsg());
            if (g_client != NULL) aeron_close(g_client);
            g_client = NULL;
            if (g_ctx != NULL) aeron_context_close(g_ctx);
            g_ctx = NULL;
            pthread_mutex_unlock(&g_lock);
            return -1;
        }
    }
    if (aeron_is_closed(g_client)) {
        tp_err_set(TP_ERR_STATE, "Aeron client closed (%s); close every Aeron publication and subscription to "
                                 "reconnect",
                   tp_ipc_aeron_client_last_error());
        pthread_mutex_unlock(&g_lock);
        return -1;
    }
    g_refs++;
    *out = g_client;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

void tp_ipc_aeron_client_release(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_refs > 0 && --g_refs == 0) client_destroy();
    pthread_mutex_unlock(&g_lock);
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
