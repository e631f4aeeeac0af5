/* Strict TOML-subset reader for the driver configuration (docs/spec/driver.md §5.1). */
#include "driver_toml.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOML_MAX_KEYS 4096 /* bounds the duplicate check; a real config has ~100 */
#define TOML_MAX_DEPTH 8

typedef struct named_count_s {
    char path[TP_TOML_KEY_MAX];
    int count;
} named_count_t;

typedef struct toml_s {
    const char *p, *end;
    int line;
    tp_toml_handler_t handler;
    void *ud;
    char table[TP_TOML_KEY_MAX]; /* current table prefix, "" at the root */
    char (*keys)[TP_TOML_KEY_MAX];
    int nkeys, cap_keys;
    named_count_t *arrays; /* [[x]] counters and plain [x] tables (count -1) */
    int narrays, cap_arrays;
    char str[TP_TOML_STR_MAX];
} toml_t;

static int fail(toml_t *t, const char *what)
{
    return tp_err_set(TP_ERR_MALFORMED, "line %d: %s", t->line, what);
}

static int at_end(const toml_t *t) { return t->p >= t->end; }

static void skip_ws(toml_t *t)
{
    while (!at_end(t) && (*t->p == ' ' || *t->p == '\t')) t->p++;
}

/* Skip blanks, comments and newlines (inside arrays). */
static int skip_ws_nl(toml_t *t)
{
    for (;;) {
        skip_ws(t);
        if (at_end(t)) return 0;
        if (*t->p == '#') {
            while (!at_end(t) && *t->p != '\n') {
                if ((unsigned char)*t->p < 0x20 && *t->p != '\t') return fail(t, "control character in comment");
                t->p++;
            }
        } else if (*t->p == '\r' && t->p + 1 < t->end && t->p[1] == '\n') {
            t->p++;
        } else if (*t->p == '\n') {
            t->p++;
            t->line++;
        } else {
            return 0;
        }
    }
}

/* After a value or header: blanks, an optional comment, then newline or end. */
static int end_of_line(toml_t *t)
{
    skip_ws(t);
    if (!at_end(t) && *t->p == '#') {
        while (!at_end(t) && *t->p != '\n') {
            if ((unsigned char)*t->p < 0x20 && *t->p != '\t') return fail(t, "control character in comment");
            t->p++;
        }
    }
    if (!at_end(t) && *t->p == '\r') t->p++;
    if (at_end(t)) return 0;
    if (*t->p != '\n') return fail(t, "expected end of line after value");
    t->p++;
    t->line++;
    return 0;
}

static int is_bare(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int append(toml_t *t, char *dst, const char *s, size_t n)
{
    const size_t have = strlen(dst);
    if (have + n + 1 > TP_TOML_KEY_MAX) return fail(t, "key path too long");
    memcpy(dst + have, s, n);
    dst[have + n] = '\0';
    return 0;
}

/* Dotted bare key appended to out (which already holds the prefix). */
static int parse_key(toml_t *t, char *out)
{
    for (;;) {
        skip_ws(t);
        const char *s = t->p;
        while (!at_end(t) && is_bare(*t->p)) t->p++;
        if (t->p == s) {
            if (!at_end(t) && *t->p == '"') return fail(t, "quoted keys are not supported");
            return fail(t, "expected a key");
        }
        if (out[0] != '\0' && append(t, out, ".", 1) != 0) return -1;
        if (append(t, out, s, (size_t)(t->p - s)) != 0) return -1;
        skip_ws(t);
        if (at_end(t) || *t->p != '.') return 0;
        t->p++;
    }
}

static int parse_string(toml_t *t)
{
    t->p++; /* opening quote */
    if (t->end - t->p >= 2 && t->p[0] == '"' && t->p[1] == '"') return fail(t, "multi-line strings are not supported");
    size_t n = 0;
    for (;;) {
        if (at_end(t) || *t->p == '\n') return fail(t, "unterminated string");
        char c = *t->p++;
        if (c == '"') break;
        if ((unsigned char)c < 0x20 && c != '\t') return fail(t, "control character in string");
        if (c == '\\') {
            if (at_end(t)) return fail(t, "unterminated string");
            const char e = *t->p++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            default: return fail(t, "unsupported escape in string");
            }
        }
        if (n + 1 >= sizeof t->str) return fail(t, "string too long");
        t->str[n++] = c;
    }
    t->str[n] = '\0';
    if (strlen(t->str) != n) return fail(t, "NUL in string");
    return 0;
}

static int parse_int(toml_t *t, int64_t *out)
{
    int neg = 0;
    if (*t->p == '+' || *t->p == '-') {
        neg = *t->p == '-';
        t->p++;
    }
    if (at_end(t) || *t->p < '0' || *t->p > '9') return fail(t, "invalid value");
    if (*t->p == '0' && t->p + 1 < t->end && (is_bare(t->p[1]) || t->p[1] == '.'))
        return fail(t, "leading zeros, floats and non-decimal integers are not supported");
    uint64_t v = 0;
    int prev_digit = 0;
    while (!at_end(t) && (is_bare(*t->p) || *t->p == '.')) {
        const char c = *t->p;
        if (c == '_') {
            if (!prev_digit || t->p + 1 >= t->end || t->p[1] < '0' || t->p[1] > '9')
                return fail(t, "misplaced '_' in integer");
            prev_digit = 0;
        } else if (c >= '0' && c <= '9') {
            if (v > (UINT64_C(9223372036854775808) - (uint64_t)(c - '0')) / 10) return fail(t, "integer out of range");
            v = v * 10 + (uint64_t)(c - '0');
            prev_digit = 1;
        } else {
            return fail(t, "invalid integer (floats are not supported)");
        }
        t->p++;
    }
    if (!neg && v > (uint64_t)INT64_MAX) return fail(t, "integer out of range");
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int emit(toml_t *t, const char *key, const tp_toml_value_t *v)
{
    for (int i = 0; i < t->nkeys; i++)
        if (strcmp(t->keys[i], key) == 0) return tp_err_set(TP_ERR_MALFORMED, "line %d: duplicate key '%s'", t->line, key);
    if (t->nkeys == TOML_MAX_KEYS) return fail(t, "too many keys");
    if (t->nkeys == t->cap_keys) { /* grow: most files have a few dozen keys */
        const int cap = t->cap_keys * 2;
        void *k = realloc(t->keys, (size_t)cap * sizeof *t->keys);
        if (k == NULL) return tp_err_set(TP_ERR_CAPACITY, "toml: out of memory");
        t->keys = k;
        t->cap_keys = cap;
    }
    memcpy(t->keys[t->nkeys++], key, strlen(key) + 1);
    if (t->handler(t->ud, key, v) != 0) return tp_err_wrap("line %d", v->line);
    return 0;
}

static int parse_value(toml_t *t, const char *key, int depth);

static int indexed(toml_t *t, char *out, const char *key, int i)
{
    const int n = snprintf(out, TP_TOML_KEY_MAX, "%s[%d]", key, i);
    if (n < 0 || n >= TP_TOML_KEY_MAX) return fail(t, "key path too long");
    return 0;
}

static int parse_array(toml_t *t, const char *key, int depth)
{
    const int start = t->line;
    t->p++; /* [ */
    for (int i = 0;; i++) {
        if (skip_ws_nl(t) != 0) return -1;
        if (at_end(t)) {
            t->line = start; /* point at the opening bracket */
            return fail(t, "unterminated array");
        }
        if (*t->p == ']') {
            t->p++;
            return 0;
        }
        char k[TP_TOML_KEY_MAX];
        if (indexed(t, k, key, i) != 0 || parse_value(t, k, depth + 1) != 0) return -1;
        if (skip_ws_nl(t) != 0) return -1;
        if (at_end(t)) {
            t->line = start;
            return fail(t, "unterminated array");
        }
        if (*t->p == ',') {
            t->p++;
        } else if (*t->p != ']') {
            return fail(t, "expected ',' or ']' in array");
        }
    }
}

static int parse_inline_table(toml_t *t, const char *key, int depth)
{
    t->p++; /* { */
    skip_ws(t);
    if (!at_end(t) && *t->p == '}') {
        t->p++;
        return 0;
    }
    for (;;) {
        char k[TP_TOML_KEY_MAX];
        memcpy(k, key, strlen(key) + 1);
        if (parse_key(t, k) != 0) return -1;
        if (at_end(t) || *t->p != '=') return fail(t, "expected '=' in inline table");
        t->p++;
        skip_ws(t);
        if (parse_value(t, k, depth + 1) != 0) return -1;
        skip_ws(t);
        if (at_end(t) || *t->p == '\n') return fail(t, "unterminated inline table");
        if (*t->p == '}') {
            t->p++;
            return 0;
        }
        if (*t->p != ',') return fail(t, "expected ',' or '}' in inline table");
        t->p++;
    }
}

static int parse_value(toml_t *t, const char *key, int depth)
{
    if (depth > TOML_MAX_DEPTH) return fail(t, "values nested too deeply");
    if (at_end(t)) return fail(t, "missing value");
    tp_toml_value_t v = {.line = t->line};
    const char c = *t->p;
    if (c == '"') {
        if (parse_string(t) != 0) return -1;
        v.type = TP_TOML_STRING;
        v.str = t->str;
        return emit(t, key, &v);
    }
    if (c == '\'') return fail(t, "literal strings are not supported; use \"...\"");
    if (c == '[') return parse_array(t, key, depth);
    if (c == '{') return parse_inline_table(t, key, depth);
    if (t->end - t->p >= 4 && memcmp(t->p, "true", 4) == 0 && (t->end - t->p == 4 || !is_bare(t->p[4]))) {
        t->p += 4;
        v.type = TP_TOML_BOOL;
        v.b = 1;
        return emit(t, key, &v);
    }
    if (t->end - t->p >= 5 && memcmp(t->p, "false", 5) == 0 && (t->end - t->p == 5 || !is_bare(t->p[5]))) {
        t->p += 5;
        v.type = TP_TOML_BOOL;
        v.b = 0;
        return emit(t, key, &v);
    }
    if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
        if (parse_int(t, &v.i) != 0) return -1;
        v.type = TP_TOML_INT;
        return emit(t, key, &v);
    }
    return fail(t, "invalid value (expected a string, integer, boolean, array or inline table)");
}

static named_count_t *find_named(toml_t *t, const char *path)
{
    for (int i = 0; i < t->narrays; i++)
        if (strcmp(t->arrays[i].path, path) == 0) return &t->arrays[i];
    return NULL;
}

static int parse_header(toml_t *t)
{
    const int array = t->end - t->p >= 2 && t->p[1] == '[';
    t->p += array ? 2 : 1;
    char path[TP_TOML_KEY_MAX] = "";
    if (parse_key(t, path) != 0) return -1;
    if (at_end(t) || *t->p != ']') return fail(t, "expected ']' after table name");
    t->p++;
    if (array) {
        if (at_end(t) || *t->p != ']') return fail(t, "expected ']]' after array-of-tables name");
        t->p++;
    }
    named_count_t *n = find_named(t, path);
    if (n != NULL && (n->count < 0) != !array)
        return fail(t, "table defined both as [table] and [[array of tables]]");
    if (n != NULL && !array) return tp_err_set(TP_ERR_MALFORMED, "line %d: table [%s] defined twice", t->line, path);
    if (n == NULL) {
        if (t->narrays == TOML_MAX_KEYS) return fail(t, "too many tables");
        if (t->narrays == t->cap_arrays) {
            const int cap = t->cap_arrays * 2;
            void *a = realloc(t->arrays, (size_t)cap * sizeof *t->arrays);
            if (a == NULL) return tp_err_set(TP_ERR_CAPACITY, "toml: out of memory");
            t->arrays = a;
            t->cap_arrays = cap;
        }
        n = &t->arrays[t->narrays++];
        memcpy(n->path, path, strlen(path) + 1);
        n->count = array ? 0 : -1;
    }
    if (array) {
        if (indexed(t, t->table, path, n->count++) != 0) return -1;
    } else {
        memcpy(t->table, path, strlen(path) + 1);
    }
    return end_of_line(t);
}

int tp_toml_parse(const char *text, size_t len, tp_toml_handler_t handler, void *ud)
{
    if (text == NULL || handler == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "toml: NULL argument");
    toml_t *t = calloc(1, sizeof *t);
    if (t == NULL) return tp_err_set(TP_ERR_CAPACITY, "toml: out of memory");
    t->cap_keys = 32;
    t->cap_arrays = 16;
    t->keys = malloc((size_t)t->cap_keys * sizeof *t->keys);
    t->arrays = malloc((size_t)t->cap_arrays * sizeof *t->arrays);
    int rc = -1;
    if (t->keys == NULL || t->arrays == NULL) {
        tp_err_set(TP_ERR_CAPACITY, "toml: out of memory");
        goto out;
    }
    t->p = text;
    t->end = text + len;
    t->line = 1;
    t->handler = handler;
    t->ud = ud;
    if (memchr(text, '\0', len) != NULL) {
        tp_err_set(TP_ERR_MALFORMED, "NUL byte in configuration text");
        goto out;
    }
    for (;;) {
        if (skip_ws_nl(t) != 0) goto out;
        if (at_end(t)) break;
        if (*t->p == '[') {
            if (parse_header(t) != 0) goto out;
            continue;
        }
        char key[TP_TOML_KEY_MAX];
        memcpy(key, t->table, strlen(t->table) + 1);
        if (parse_key(t, key) != 0) goto out;
        if (at_end(t) || *t->p != '=') {
            fail(t, "expected '=' after key");
            goto out;
        }
        t->p++;
        skip_ws(t);
        if (parse_value(t, key, 0) != 0 || end_of_line(t) != 0) goto out;
    }
    rc = 0;
out:
    free(t->keys);
    free(t->arrays);
    free(t);
    return rc;
}

int tp_toml_parse_file(const char *path, tp_toml_handler_t handler, void *ud)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return tp_err_set(TP_ERR_IO, "config '%s': %s", path, strerror(errno));
    const size_t cap = 1u << 20;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        fclose(f);
        return tp_err_set(TP_ERR_CAPACITY, "config '%s': out of memory", path);
    }
    const size_t n = fread(buf, 1, cap + 1, f);
    const int err = ferror(f);
    fclose(f);
    int rc;
    if (err) rc = tp_err_set(TP_ERR_IO, "config '%s': read error", path);
    else if (n > cap) rc = tp_err_set(TP_ERR_CAPACITY, "config '%s': larger than 1 MiB", path);
    else rc = tp_toml_parse(buf, n, handler, ud) != 0 ? tp_err_wrap("config '%s'", path) : 0;
    free(buf);
    return rc;
}
