#include "tensorpool/json_writer.h"

#include "utf8.h"

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
        const size_t n = tp_utf8_sequence(s + i, len - i, &bad);
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
