#include "ipc_backend.h"
#include "ipc_embedded.h"
#ifdef TP_HAVE_AERON
#include "ipc_aeron.h"
#endif

#include <string.h>

const tp_ipc_backend_t *tp_ipc_backend_for_channel(const char *channel)
{
    if (channel == NULL) {
        tp_err_set(TP_ERR_INVALID_ARG, "channel URI is NULL");
        return NULL;
    }
    tp_ipc_embedded_channel_t parsed;
    if (tp_ipc_embedded_channel_parse(channel, &parsed) == 0) return &tp_ipc_embedded_backend;
    if (strncmp(channel, "tp:ipc", 6) == 0) {
        tp_err_set(TP_ERR_INVALID_ARG,
                   "channel '%s': the embedded transport takes only lossless=true|false and stall-ms=1..3600000 "
                   "(separated by '|'); use \"tp:ipc\" or \"tp:ipc?lossless=true\"",
                   channel);
        return NULL;
    }
#ifdef TP_HAVE_AERON
    if (tp_ipc_aeron_channel_ok(channel)) return &tp_ipc_aeron_backend;
    if (strncmp(channel, "aeron:", 6) == 0) {
        tp_err_set(TP_ERR_INVALID_ARG, "channel '%s': expected aeron:ipc, aeron:ipc?... or aeron:udp?endpoint=...",
                   channel);
        return NULL;
    }
#endif
    if (strncmp(channel, "aeron:", 6) == 0) {
        tp_err_set(TP_ERR_UNSUPPORTED, "channel '%s': this build has no Aeron backend; use \"tp:ipc\"", channel);
        return NULL;
    }
    tp_err_set(TP_ERR_INVALID_ARG, "channel '%s' is not a known transport URI (expected \"tp:ipc\")", channel);
    return NULL;
}

#ifndef TP_HAVE_AERON
/* Without the Aeron backend there is nothing to count (ipc_aeron.c has the
 * real one). */
int tp_ipc_aeron_counters(tp_ipc_aeron_counters_t *out)
{
    memset(out, 0, sizeof *out);
    return tp_err_set(TP_ERR_UNSUPPORTED, "this build has no Aeron backend");
}
#endif
