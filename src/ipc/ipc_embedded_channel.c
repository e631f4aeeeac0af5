/* Parameters of a tp:ipc channel URI (see ipc_embedded.h). */
#include "ipc_embedded.h"

#include <stdint.h>
#include <string.h>

int tp_ipc_embedded_channel_parse(const char *channel, tp_ipc_embedded_channel_t *out)
{
    out->lossless = 0;
    out->wake = 0;
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
        } else if (len == 9 && strncmp(p, "wake=true", 9) == 0) {
            out->wake = 1;
        } else if (len == 10 && strncmp(p, "wake=false", 10) == 0) {
            out->wake = 0;
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
