#include "tensorpool/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void tp_json_init(tp_json_t *j, FILE *out)
{
    j->out = out;
    j->depth = 0;
    j->after_key = false;
    j->has_items[0] = false;
}

/* Separator before a value or key at the current level. */
static void sep(tp_json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0 && j->has_items[j->depth])
        fputc(',', j->out);
    if (j->depth > 0)
        j->has_items[j->depth] = true;
}

static void open(tp_json_t *j, char c)
{
    sep(j);
    fputc(c, j->out);
    if (j->depth + 1 < TP_JSON_MAX_DEPTH)
        j->depth++;
    j->has_items[j->depth] = false;
}

static void close_level(tp_json_t *j, char c)
{
    fputc(c, j->out);
    if (j->depth > 0)
        j->depth--;
}

void tp_json_begin_object(tp_json_t *j) { open(j, '{'); }
void tp_json_end_object(tp_json_t *j) { close_level(j, '}'); }
void tp_json_begin_array(tp_json_t *j) { open(j, '['); }
void tp_json_end_array(tp_json_t *j) { close_level(j, ']'); }

/* Length of the well-formed UTF-8 sequence at s[0..len) (RFC 3629: no overlong
 * form, no surrogate, nothing above U+10FFFF), or 0 when it is ill-formed;
 * then *bad is the length of its maximal ill-formed subpart (>= 1), which is
 * replaced by one U+FFFD (Unicode's recommended practice). */
static size_t utf8_sequence(const unsigned char *s, size_t len, size_t *bad)
{
    const unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0) lo = 0xa0;      /* overlong */
        else if (c == 0xed) hi = 0x9f; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0) lo = 0x90;      /* overlong */
        else if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else {
        *bad = 1; /* stray continuation byte, C0/C1 (always overlong), F5..FF */
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < len; i++) {
        const unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xbf;
        if (s[i] < lo_i || s[i] > hi_i) break;
    }
    if (i == need) return need;
    *bad = i; /* truncated or interrupted: the valid prefix is one subpart */
    return 0;
}

/* A JSON string of the bytes s[0..len): valid UTF-8 passes through, '"', '\'
 * and control characters (and DEL) are escaped, and each ill-formed sequence
 * becomes U+FFFD, so the output is always valid UTF-8 and valid JSON. */
static void put_escaped(FILE *out, const char *str, size_t len)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': fputs("\\\"", out); break;
            case '\\': fputs("\\\\", out); break;
            case '\n': fputs("\\n", out); break;
            case '\r': fputs("\\r", out); break;
            case '\t': fputs("\\t", out); break;
            case '\b': fputs("\\b", out); break;
            case '\f': fputs("\\f", out); break;
            default:
                if (c < 0x20 || c == 0x7f)
                    fprintf(out, "\\u%04x", c);
                else
                    fputc(c, out);
            }
            i++;
            continue;
        }
        size_t bad = 0;
        const size_t n = utf8_sequence(s + i, len - i, &bad);
        if (n > 0) {
            fwrite(s + i, 1, n, out);
            i += n;
        } else {
            fputs(replacement, out);
            i += bad;
        }
    }
    fputc('"', out);
}

void tp_json_key(tp_json_t *j, const char *key)
{
    sep(j);
    put_escaped(j->out, key, strlen(key));
    fputc(':', j->out);
    j->after_key = true;
}

void tp_json_u64(tp_json_t *j, uint64_t v)
{
    sep(j);
    fprintf(j->out, "%" PRIu64, v);
}

void tp_json_i64(tp_json_t *j, int64_t v)
{
    sep(j);
    fprintf(j->out, "%" PRId64, v);
}

void tp_json_u64_string(tp_json_t *j, uint64_t v)
{
    sep(j);
    fprintf(j->out, "\"%" PRIu64 "\"", v);
}

void tp_json_i64_string(tp_json_t *j, int64_t v)
{
    sep(j);
    fprintf(j->out, "\"%" PRId64 "\"", v);
}

void tp_json_double(tp_json_t *j, double v)
{
    sep(j);
    if (isfinite(v))
        fprintf(j->out, "%.6g", v);
    else
        fputs("null", j->out);
}

void tp_json_bool(tp_json_t *j, bool v)
{
    sep(j);
    fputs(v ? "true" : "false", j->out);
}

void tp_json_null(tp_json_t *j)
{
    sep(j);
    fputs("null", j->out);
}

void tp_json_string(tp_json_t *j, const char *s, size_t len)
{
    sep(j);
    put_escaped(j->out, s, len);
}

void tp_json_cstring(tp_json_t *j, const char *s) { tp_json_string(j, s, strlen(s)); }

void tp_json_hex(tp_json_t *j, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    sep(j);
    fputc('"', j->out);
    for (size_t i = 0; i < len; i++) {
        fputc(digits[p[i] >> 4], j->out);
        fputc(digits[p[i] & 15], j->out);
    }
    fputc('"', j->out);
}
