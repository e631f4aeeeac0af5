/* Strict region URI parser (W-15.22, §5.7, D-25). No allocation. */
#include "tensorpool/shm_uri.h"

#include "tensorpool/error.h"

#include <stdio.h>
#include <string.h>

static const char k_prefix[] = "shm:file?";
static const char k_path_key[] = "path=";
static const char k_huge_key[] = "|require_hugepages=";

static int starts_with(const char *s, size_t len, const char *lit, size_t litlen)
{
    return len >= litlen && memcmp(s, lit, litlen) == 0;
}

/* Path value bytes: printable ASCII without space, '?' or '|' (§5.7). */
static int path_char_ok(unsigned char c) { return c >= 0x21 && c <= 0x7E && c != '?' && c != '|'; }

int tp_shm_uri_parse(const char *uri, size_t len, tp_shm_uri_t *out)
{
    if (uri == NULL || out == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "shm uri: NULL argument");
    const size_t plen = sizeof k_prefix - 1;
    if (!starts_with(uri, len, k_prefix, plen))
        return tp_err_set(TP_ERR_UNSUPPORTED, "shm uri: unsupported scheme (expected 'shm:file?') (W-15.22.d)");
    size_t pos = plen;
    const size_t klen = sizeof k_path_key - 1;
    if (!starts_with(uri + pos, len - pos, k_path_key, klen))
        return tp_err_set(TP_ERR_MALFORMED, "shm uri: first parameter must be 'path=' (W-15.22.b, D-25)");
    pos += klen;
    const size_t vstart = pos;
    while (pos < len && path_char_ok((unsigned char)uri[pos])) pos++;
    const size_t vlen = pos - vstart;
    if (vlen == 0) return tp_err_set(TP_ERR_MALFORMED, "shm uri: empty path (D-25)");
    if (uri[vstart] != '/') return tp_err_set(TP_ERR_MALFORMED, "shm uri: path must be absolute (W-15.22.b)");
    if (vlen >= TP_SHM_PATH_MAX) return tp_err_set(TP_ERR_MALFORMED, "shm uri: path longer than %d bytes", TP_SHM_PATH_MAX - 1);

    int huge = 0;
    if (pos < len) {
        if (uri[pos] != '|')
            return tp_err_set(TP_ERR_MALFORMED, "shm uri: byte 0x%02x not allowed in path at offset %zu",
                              (unsigned)(unsigned char)uri[pos], pos);
        const size_t hlen = sizeof k_huge_key - 1;
        if (!starts_with(uri + pos, len - pos, k_huge_key, hlen))
            return tp_err_set(TP_ERR_MALFORMED, "shm uri: unknown parameter after path (W-15.22.d, D-25)");
        pos += hlen;
        const size_t rest = len - pos;
        if (rest == 4 && memcmp(uri + pos, "true", 4) == 0) {
            huge = 1;
        } else if (rest == 5 && memcmp(uri + pos, "false", 5) == 0) {
            huge = 0;
        } else {
            /* also catches duplicates and trailing parameters: only the exact value may follow */
            return tp_err_set(TP_ERR_MALFORMED,
                              "shm uri: require_hugepages must be exactly 'true' or 'false' and last (D-25)");
        }
    }
    memcpy(out->path, uri + vstart, vlen);
    out->path[vlen] = '\0';
    out->require_hugepages = huge;
    return 0;
}

int tp_shm_uri_format(char *buf, size_t cap, const char *path, int require_hugepages)
{
    if (buf == NULL || path == NULL || path[0] != '/')
        return tp_err_set(TP_ERR_INVALID_ARG, "shm uri: path must be absolute");
    for (const char *p = path; *p; p++)
        if (!path_char_ok((unsigned char)*p))
            return tp_err_set(TP_ERR_INVALID_ARG, "shm uri: path holds a byte a URI cannot carry");
    const int n = snprintf(buf, cap, "%s%s%s%s%s", k_prefix, k_path_key, path, k_huge_key,
                           require_hugepages ? "true" : "false");
    if (n < 0 || (size_t)n >= cap) return tp_err_set(TP_ERR_CAPACITY, "shm uri: buffer too small");
    return n;
}
