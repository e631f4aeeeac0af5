#include "tensorpool/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { TP_ERRMSG_CAP = 512 };

static _Thread_local tp_errcode_t tl_code = TP_OK;
static _Thread_local char tl_msg[TP_ERRMSG_CAP];

tp_errcode_t tp_errcode(void) { return tl_code; }

const char *tp_errmsg(void) { return tl_msg; }

const char *tp_errcode_name(tp_errcode_t code)
{
    static const char *const names[TP_ERR_COUNT_] = {
        [TP_OK] = "ok",
        [TP_ERR_INVALID_ARG] = "invalid argument",
        [TP_ERR_MALFORMED] = "malformed",
        [TP_ERR_TRUNCATED] = "truncated",
        [TP_ERR_NOT_MINE] = "not mine",
        [TP_ERR_UNSUPPORTED] = "unsupported",
        [TP_ERR_CAPACITY] = "capacity",
        [TP_ERR_INVALID_ENUM] = "invalid enum",
        [TP_ERR_IO] = "i/o",
        [TP_ERR_STATE] = "state",
        [TP_ERR_NOT_FOUND] = "not found",
        [TP_ERR_PERMISSION] = "permission",
    };
    if ((unsigned)code >= TP_ERR_COUNT_) return "unknown";
    return names[code];
}

int tp_err_set(tp_errcode_t code, const char *fmt, ...)
{
    va_list ap;
    tl_code = code;
    va_start(ap, fmt);
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    return -1;
}

int tp_err_wrap(const char *fmt, ...)
{
    char prefix[TP_ERRMSG_CAP];
    char old[TP_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tl_msg, sizeof old);
    /* Truncation is acceptable: the message is diagnostic text. */
    size_t n = strnlen(prefix, sizeof prefix - 1);
    memcpy(tl_msg, prefix, n);
    if (n + 2 < sizeof tl_msg) {
        tl_msg[n++] = ':';
        tl_msg[n++] = ' ';
    }
    size_t rest = sizeof tl_msg - 1 - n;
    size_t m = strnlen(old, rest);
    memcpy(tl_msg + n, old, m);
    tl_msg[n + m] = '\0';
    return -1;
}

void tp_err_clear(void)
{
    tl_code = TP_OK;
    tl_msg[0] = '\0';
}
