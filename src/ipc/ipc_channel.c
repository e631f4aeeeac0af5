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

int tp_ipc_embedded_channel_parse(const char *channel, tp_ipc_embedded_channel_t *out)
{
    out->lossless = 0;
    out->stall_ns = TP_IPC_STALL_NS_DEFAULT;
    if (strncmp(channel, "tp:ipc", 6) != 0) return -1;
    const char *p = channel + 6;
    if (*p == '\0') return 0;
    if (*p++ != '?' || *p == '\0') return -1;
    while (*p != '\0') { /* key=value pairs separated by '|', as in Aeron URIs */
        const char *end = strchr(p, '|');
        const size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 13 && strncmp(p, "lossless=true", 13) == 0) {
            out->lossless = 1;
        } else if (len == 14 && strncmp(p, "lossless=false", 14) == 0) {
            out->lossless = 0;
        } else if (len > 9 && strncmp(p, "stall-ms=", 9) == 0) {
            uint64_t ms = 0;
            for (size_t i = 9; i < len; i++) {
                if (p[i] < '0' || p[i] > '9' || ms > 3600000) return -1;
                ms = ms * 10 + (uint64_t)(p[i] - '0');
            }
            if (ms < 1 || ms > 3600000) return -1;
            out->stall_ns = (int64_t)ms * 1000000;
        } else {
            return -1;
        }
        p += len;
        if (*p == '|' && *++p == '\0') return -1; /* trailing separator */
    }
    return 0;
}
