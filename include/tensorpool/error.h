/* tensorpool error reporting.
 *
 * Every fallible call returns 0 (or a non-negative count/position) on success
 * and -1 on failure, leaving a code and a message in thread-local storage.
 * Reading them never allocates; setting them formats into a fixed buffer.
 */
#ifndef TENSORPOOL_ERROR_H
#define TENSORPOOL_ERROR_H

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tp_errcode_e {
    TP_OK = 0,
    TP_ERR_INVALID_ARG,      /* a caller-supplied argument is out of range */
    TP_ERR_MALFORMED,        /* input bytes do not form a valid message/structure */
    TP_ERR_TRUNCATED,        /* input ends before the structure it claims to hold */
    TP_ERR_NOT_MINE,         /* message of another schema or template */
    TP_ERR_UNSUPPORTED,      /* version or feature this build does not support */
    TP_ERR_CAPACITY,         /* a count or size exceeds the space available */
    TP_ERR_INVALID_ENUM,     /* an enum field holds a value outside its table */
    TP_ERR_IO,               /* a system call failed; message carries errno text */
    TP_ERR_STATE,            /* call not valid in the object's current state */
    TP_ERR_NOT_FOUND,        /* the named thing does not exist */
    TP_ERR_PERMISSION,       /* refused for safety (path, mode, token) */
    TP_ERR_COUNT_
} tp_errcode_t;

/* Code of the last failure on this thread (TP_OK if none since tp_err_clear). */
TP_API tp_errcode_t tp_errcode(void);

/* Message of the last failure on this thread; never NULL. */
TP_API const char *tp_errmsg(void);

/* Short stable name of a code, e.g. "truncated". */
TP_API const char *tp_errcode_name(tp_errcode_t code);

/* Record a failure; always returns -1 so callers can `return tp_err_set(...)`. */
TP_API int tp_err_set(tp_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context ("while X: <old message>"). */
TP_API int tp_err_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

TP_API void tp_err_clear(void);

#ifdef __cplusplus
}
#endif
#endif
