/* libFuzzer target: region URIs come from announces (untrusted). Property:
 * whatever parses formats back to the same bytes when it is in canonical
 * form, and re-parses to the same value. */
#include "tensorpool/shm_uri.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tp_shm_uri_t a, b;
    static char buf[TP_SHM_PATH_MAX + 64];
    char *in = malloc(size + 1); /* exact size: ASan sees any over-read */
    memcpy(in, data, size);
    if (tp_shm_uri_parse(in, size, &a) == 0) {
        int n = tp_shm_uri_format(buf, sizeof buf, a.path, a.require_hugepages);
        if (n < 0 || tp_shm_uri_parse(buf, (size_t)n, &b) != 0)
            abort();
        if (strcmp(a.path, b.path) != 0 || a.require_hugepages != b.require_hugepages)
            abort();
    }
    free(in);
    return 0;
}
