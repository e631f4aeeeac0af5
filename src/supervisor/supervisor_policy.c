/* Strict parser of the supervisor policy file (supervisor_policy.h). */
#include "tensorpool/supervisor_policy.h"

#include "tensorpool/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct cursor_s {
    const char *s;
    size_t len, pos;
    uint32_t line;
    size_t line_start;
} cursor_t;

static int fail(tp_supervisor_policy_t *p, const cursor_t *c, size_t at, const char *what, const char *detail)
{
    p->nrules = 0;
    return tp_err_set(TP_ERR_MALFORMED, "line %u, column %zu: %s%s", c->line, at - c->line_start + 1, what, detail);
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }
static int is_word(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '*';
}

/* A decimal u64 of at most 19 digits, then an optional unit. */
static int parse_u64(const char *v, size_t n, uint64_t *out, size_t *digits)
{
    uint64_t x = 0;
    size_t i = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9') {
        if (i == 19) return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
        i++;
    }
    if (i == 0 || (i > 1 && v[0] == '0')) return -1;
    *out = x;
    *digits = i;
    return 0;
}

enum { K_STREAM, K_MAX, K_WINDOW, K_RATE, K_COUNT, NKEYS };
static const char *const key_names[NKEYS] = {"stream", "max", "window", "rate_hz", "count"};

/* key=value: 0, or -1 with the message set */
static int parse_value(tp_supervisor_policy_t *p, const cursor_t *c, size_t at, int key, const char *v, size_t n,
                       tp_supervisor_rule_t *r)
{
    uint64_t x = 0;
    size_t d = 0;
    if (key == K_STREAM && n == 1 && v[0] == '*') {
        r->stream_id = TP_SUPERVISOR_ANY_STREAM;
        return 0;
    }
    if (parse_u64(v, n, &x, &d) != 0) return fail(p, c, at, "expected a decimal number without leading zeros", "");
    const char *unit = v + d;
    const size_t un = n - d;
    if (key == K_WINDOW) {
        uint64_t scale;
        if (un == 2 && memcmp(unit, "ms", 2) == 0) scale = 1000000ull;
        else if (un == 1 && unit[0] == 's') scale = 1000000000ull;
        else return fail(p, c, at + d, "window needs a unit: ms or s", "");
        if (x == 0 || x > 86400000000000ull / scale) return fail(p, c, at, "window must be within 1 ms .. 1 day", "");
        r->window_ns = x * scale;
        return 0;
    }
    if (un != 0) return fail(p, c, at + d, "unexpected text after the number", "");
    switch (key) {
    case K_STREAM:
        if (x == 0 || x >= UINT32_MAX) return fail(p, c, at, "stream must be 1..4294967294 or *", "");
        r->stream_id = (uint32_t)x;
        return 0;
    case K_MAX: r->max_drops = x; return 0;
    case K_RATE:
        if (x == 0 || x > 1000000) return fail(p, c, at, "rate_hz must be 1..1000000", "");
        r->rate_hz = (uint32_t)x;
        return 0;
    default:
        if (x == 0 || x > 1000000) return fail(p, c, at, "count must be 1..1000000", "");
        r->count = (uint32_t)x;
        return 0;
    }
}

/* One non-empty, non-comment line starting at c->pos; c->pos ends at its '\n' or the end. */
static int parse_rule(tp_supervisor_policy_t *p, cursor_t *c)
{
    const size_t w0 = c->pos;
    while (c->pos < c->len && is_word(c->s[c->pos])) c->pos++;
    const size_t wn = c->pos - w0;
    tp_supervisor_rule_t r = {.stream_id = TP_SUPERVISOR_ANY_STREAM, .line = c->line};
    uint32_t allowed, required;
    if (wn == 5 && memcmp(c->s + w0, "drops", 5) == 0) {
        r.kind = TP_SUPERVISOR_RULE_DROPS;
        allowed = 1u << K_STREAM | 1u << K_MAX | 1u << K_WINDOW | 1u << K_RATE;
        required = 1u << K_MAX | 1u << K_WINDOW | 1u << K_RATE;
    } else if (wn == 13 && memcmp(c->s + w0, "max_consumers", 13) == 0) {
        r.kind = TP_SUPERVISOR_RULE_MAX_CONSUMERS;
        allowed = 1u << K_STREAM | 1u << K_COUNT;
        required = 1u << K_COUNT;
    } else {
        return fail(p, c, w0, "unknown rule (expected drops or max_consumers)", "");
    }
    uint32_t seen = 0;
    for (;;) {
        const size_t b = c->pos;
        while (c->pos < c->len && is_blank(c->s[c->pos])) c->pos++;
        if (c->pos == c->len || c->s[c->pos] == '\n' || c->s[c->pos] == '#') break;
        if (c->pos == b) return fail(p, c, c->pos, "expected a space before the next key", "");
        const size_t k0 = c->pos;
        while (c->pos < c->len && c->s[c->pos] >= 'a' && c->s[c->pos] <= 'z') c->pos++;
        while (c->pos < c->len && c->s[c->pos] == '_') { /* rate_hz */
            c->pos++;
            while (c->pos < c->len && c->s[c->pos] >= 'a' && c->s[c->pos] <= 'z') c->pos++;
        }
        const size_t kn = c->pos - k0;
        int key = -1;
        for (int i = 0; i < NKEYS; i++)
            if (strlen(key_names[i]) == kn && memcmp(key_names[i], c->s + k0, kn) == 0) key = i;
        if (key < 0 || !(allowed & (1u << key))) return fail(p, c, k0, "unknown key for this rule", "");
        if (seen & (1u << key)) return fail(p, c, k0, "key given twice: ", key_names[key]);
        if (c->pos == c->len || c->s[c->pos] != '=') return fail(p, c, c->pos, "expected '=' after ", key_names[key]);
        c->pos++;
        const size_t v0 = c->pos;
        while (c->pos < c->len && is_word(c->s[c->pos])) c->pos++;
        if (c->pos == v0) return fail(p, c, v0, "expected a value for ", key_names[key]);
        if (parse_value(p, c, v0, key, c->s + v0, c->pos - v0, &r) != 0) return -1;
        seen |= 1u << key;
    }
    if (c->pos < c->len && c->s[c->pos] == '#') return fail(p, c, c->pos, "a comment must be on a line of its own", "");
    for (int i = 0; i < NKEYS; i++)
        if ((required & (1u << i)) && !(seen & (1u << i))) return fail(p, c, c->pos, "missing key ", key_names[i]);
    if (p->nrules == TP_SUPERVISOR_MAX_RULES) {
        fail(p, c, w0, "too many rules", "");
        tp_err_set(TP_ERR_CAPACITY, "line %u: more than %d rules", c->line, TP_SUPERVISOR_MAX_RULES);
        return -1;
    }
    p->rules[p->nrules++] = r;
    return 0;
}

int tp_supervisor_policy_parse(tp_supervisor_policy_t *p, const char *text, size_t len)
{
    memset(p, 0, sizeof *p);
    cursor_t c = {.s = text, .len = len, .line = 1};
    while (c.pos < c.len) {
        while (c.pos < c.len && is_blank(c.s[c.pos])) c.pos++;
        if (c.pos < c.len && c.s[c.pos] == '#') {
            while (c.pos < c.len && c.s[c.pos] != '\n') {
                const unsigned char ch = (unsigned char)c.s[c.pos];
                if (ch < 0x20 && ch != '\t') return fail(p, &c, c.pos, "control byte in a comment", "");
                c.pos++;
            }
        } else if (c.pos < c.len && c.s[c.pos] != '\n') {
            if (!is_word(c.s[c.pos]) || c.s[c.pos] == '*')
                return fail(p, &c, c.pos, "expected a rule name", c.s[c.pos] == '\r' ? " (CR line endings are not accepted)" : "");
            if (parse_rule(p, &c) != 0) return -1;
        }
        if (c.pos < c.len) { /* at '\n' */
            c.pos++;
            c.line++;
            c.line_start = c.pos;
        }
    }
    return 0;
}

int tp_supervisor_policy_load(tp_supervisor_policy_t *p, const char *path)
{
    enum { CAP = 65536 + 1 };
    memset(p, 0, sizeof *p);
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return tp_err_set(TP_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc(CAP); /* at load, not on a hot path */
    if (buf == NULL) {
        close(fd);
        return tp_err_set(TP_ERR_CAPACITY, "%s: out of memory", path);
    }
    size_t n = 0;
    for (;;) {
        const ssize_t r = read(fd, buf + n, CAP - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            const int e = errno;
            close(fd);
            free(buf);
            return tp_err_set(TP_ERR_IO, "%s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == CAP) {
            close(fd);
            free(buf);
            return tp_err_set(TP_ERR_CAPACITY, "%s: larger than 64 KiB", path);
        }
    }
    close(fd);
    const int rc = tp_supervisor_policy_parse(p, buf, n);
    free(buf);
    if (rc != 0) return tp_err_wrap("%s", path);
    return 0;
}

int tp_supervisor_rule_format(const tp_supervisor_rule_t *r, char *buf, size_t cap)
{
    char st[16];
    if (r->stream_id == TP_SUPERVISOR_ANY_STREAM) snprintf(st, sizeof st, "*");
    else snprintf(st, sizeof st, "%u", r->stream_id);
    if (r->kind == TP_SUPERVISOR_RULE_DROPS)
        return snprintf(buf, cap, "drops stream=%s max=%" PRIu64 " window=%" PRIu64 "ms rate_hz=%u", st, r->max_drops,
                        r->window_ns / UINT64_C(1000000), r->rate_hz);
    return snprintf(buf, cap, "max_consumers stream=%s count=%u", st, r->count);
}
