/* Region URIs: `shm:file?path=<abs>[|require_hugepages=<true|false>]`
 * (W-15.22, docs/spec/wire.md §5.7), parsed strictly per D-25. */
#ifndef TENSORPOOL_SHM_URI_H
#define TENSORPOOL_SHM_URI_H

#include <stddef.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest path accepted, including the terminating NUL (Linux PATH_MAX). */
#define TP_SHM_PATH_MAX 4096

typedef struct tp_shm_uri_s {
    char path[TP_SHM_PATH_MAX]; /* absolute, NUL-terminated */
    int require_hugepages;      /* 0 unless the URI says `true` (W-15.22.c) */
} tp_shm_uri_t;

/* Parse len bytes at uri (not NUL-terminated: it may come straight from a
 * var-ascii field). Accepts exactly `shm:file?path=V` optionally followed by
 * `|require_hugepages=true` or `|require_hugepages=false`, where V is one or
 * more bytes in 0x21..0x7E other than `?` and `|`, starting with `/`.
 * Everything else (other schemes, keys, order, duplicates, empty values,
 * trailing `|`, upper-case booleans) fails with TP_ERR_MALFORMED or
 * TP_ERR_UNSUPPORTED (unknown scheme). */
TP_INTERNAL int tp_shm_uri_parse(const char *uri, size_t len, tp_shm_uri_t *out);

/* Write the canonical URI for path into buf, always with an explicit
 * require_hugepages parameter. Returns the length written (without NUL), or
 * -1 (TP_ERR_CAPACITY / TP_ERR_INVALID_ARG) if it does not fit or path is not
 * a valid URI path. */
TP_INTERNAL int tp_shm_uri_format(char *buf, size_t cap, const char *path, int require_hugepages);

#ifdef __cplusplus
}
#endif
#endif
