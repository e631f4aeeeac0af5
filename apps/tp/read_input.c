#include "read_input.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tp_app_read_all(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return tp_err_set(TP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    int rc = 0;
    while (buf != NULL) {
        if (n == cap) {
            if (cap >= TP_APP_INPUT_MAX) {
                rc = tp_err_set(TP_ERR_CAPACITY, "%s is larger than %zu bytes", path, TP_APP_INPUT_MAX);
                break;
            }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                break;
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = tp_err_set(TP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
    }
    if (buf == NULL && rc == 0)
        rc = tp_err_set(TP_ERR_CAPACITY, "out of memory reading %s", path);
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}
