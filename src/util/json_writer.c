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

static void put_escaped(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
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
