/* A strict reader for the TOML subset the driver configuration needs
 * (docs/spec/driver.md §5.1): comments, [tables], [[arrays of tables]], bare and dotted
 * keys, basic strings, decimal integers, booleans, arrays (possibly spanning
 * lines) of scalars or of inline tables, and inline tables.
 *
 * The input is untrusted: anything else is an error naming the line, never a
 * crash. Each value is handed to a callback under a flat key path in which
 * array elements appear as "[i]", e.g.
 *   profiles.camera.payload_pools[0].stride_bytes
 *   driver.stream_id_range[1]
 * Duplicate keys are refused. Internal to the driver layer.
 */
#ifndef TP_DRIVER_TOML_H
#define TP_DRIVER_TOML_H

#include <stddef.h>
#include <stdint.h>

#define TP_TOML_KEY_MAX 256
#define TP_TOML_STR_MAX 4096

typedef enum tp_toml_type_e { TP_TOML_STRING = 1, TP_TOML_INT, TP_TOML_BOOL } tp_toml_type_t;

typedef struct tp_toml_value_s {
    tp_toml_type_t type;
    const char *str; /* STRING: NUL-terminated, valid during the callback */
    int64_t i;       /* INT */
    int b;           /* BOOL */
    int line;        /* 1-based line of the value */
} tp_toml_value_t;

/* Called once per scalar. Return 0 to go on, -1 (with tp_err_set) to stop;
 * the parser then prefixes the message with the line number. */
typedef int (*tp_toml_handler_t)(void *ud, const char *key, const tp_toml_value_t *v);

/* Parse len bytes of text. 0, or -1 with TP_ERR_MALFORMED "line N: ..." (or the
 * handler's error, prefixed the same way). */
int tp_toml_parse(const char *text, size_t len, tp_toml_handler_t handler, void *ud);

/* The same for a file of at most 1 MiB; errors read "config 'PATH': ...". */
int tp_toml_parse_file(const char *path, tp_toml_handler_t handler, void *ud);

#endif
