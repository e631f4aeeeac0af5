/* Supervisor policy parser (supervisor_policy.h, docs/configuration.md
 * "Supervisor policy"; W-10.5.a): what parses, and that each malformed
 * input is refused with its line and column. */
#include "tensorpool/error.h"
#include "tensorpool/supervisor_policy.h"
#include "tp_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(tp_supervisor_policy_t *p, const char *text) { return tp_supervisor_policy_parse(p, text, strlen(text)); }

/* W-10.5.a: both rule kinds, defaults, comments, blank lines */
static void test_valid_policy(void)
{
    tp_supervisor_policy_t p;
    CHECK_EQ_I64(parse(&p, "# preview consumers\n\n  drops stream=10000 max=50 window=5s rate_hz=5\n"
                           "max_consumers count=2\t\n"
                           "drops max=0 window=250ms rate_hz=1000000 stream=*\n"),
                 0);
    CHECK_EQ_U64(p.nrules, 3);
    CHECK_EQ_I64(p.rules[0].kind, TP_SUPERVISOR_RULE_DROPS);
    CHECK_EQ_U64(p.rules[0].stream_id, 10000);
    CHECK_EQ_U64(p.rules[0].max_drops, 50);
    CHECK_EQ_U64(p.rules[0].window_ns, 5000000000ull);
    CHECK_EQ_U64(p.rules[0].rate_hz, 5);
    CHECK_EQ_U64(p.rules[0].line, 3);
    CHECK_EQ_I64(p.rules[1].kind, TP_SUPERVISOR_RULE_MAX_CONSUMERS);
    CHECK_EQ_U64(p.rules[1].stream_id, TP_SUPERVISOR_ANY_STREAM);
    CHECK_EQ_U64(p.rules[1].count, 2);
    CHECK_EQ_U64(p.rules[2].window_ns, 250000000ull);
    CHECK_EQ_U64(p.rules[2].stream_id, TP_SUPERVISOR_ANY_STREAM);
    char line[160];
    tp_supervisor_rule_format(&p.rules[0], line, sizeof line);
    CHECK_STR(line, "drops stream=10000 max=50 window=5000ms rate_hz=5");
    /* the formatted rule parses back to the same rule */
    tp_supervisor_policy_t q;
    CHECK_EQ_I64(parse(&q, line), 0);
    CHECK_EQ_U64(q.rules[0].window_ns, p.rules[0].window_ns);
    CHECK_EQ_I64(parse(&q, ""), 0);
    CHECK_EQ_U64(q.nrules, 0);
}

static void expect_error(const char *text, const char *msg)
{
    tp_supervisor_policy_t p;
    const int rc = parse(&p, text);
    CHECK_EQ_I64(rc, -1);
    CHECK_EQ_U64(p.nrules, 0);
    if (rc == -1 && strstr(tp_errmsg(), msg) == NULL) {
        fprintf(stderr, "for %s: got \"%s\", want \"%s\"\n", text, tp_errmsg(), msg);
        CHECK(0);
    }
}

static void test_errors_name_line_and_column(void)
{
    expect_error("drop max=1 window=1s rate_hz=1", "line 1, column 1: unknown rule");
    expect_error("\n\ndrops max=1 window=1s rate_hz=1 color=red", "line 3, column 33: unknown key");
    expect_error("drops max=1 window=1s", "line 1, column 22: missing key rate_hz");
    expect_error("drops max=1 max=2 window=1s rate_hz=1", "line 1, column 13: key given twice: max");
    expect_error("drops max=1 window=5 rate_hz=1", "line 1, column 21: window needs a unit");
    expect_error("drops max=1 window=0s rate_hz=1", "line 1, column 20: window must be within");
    expect_error("drops max=1 window=2d rate_hz=1", "line 1, column 21: window needs a unit");
    expect_error("drops max=01 window=1s rate_hz=1", "line 1, column 11: expected a decimal number");
    expect_error("drops max=1 window=1s rate_hz=0", "line 1, column 31: rate_hz must be 1..1000000");
    expect_error("drops max=99999999999999999999 window=1s rate_hz=1", "column 11: expected a decimal number");
    expect_error("max_consumers count=1 max=3", "column 23: unknown key for this rule");
    expect_error("max_consumers count=0", "count must be");
    expect_error("max_consumers stream=0 count=1", "stream must be");
    expect_error("max_consumers stream=4294967295 count=1", "stream must be");
    expect_error("max_consumers count=1 # why", "a comment must be on a line of its own");
    expect_error("max_consumers count=1\r\n", "expected a space");
    expect_error("max_consumers  count", "expected '=' after count");
    expect_error("max_consumers count=", "expected a value for count");
    expect_error("max_consumers=1", "expected a space before the next key");
    expect_error("max_consumers count=1x", "unexpected text after the number");
    expect_error("=x", "line 1, column 1: expected a rule name");
    expect_error("# ok\n# bad \x01 byte\n", "line 2, column 7: control byte in a comment");
    char many[40 * 24 + 1] = "";
    for (int i = 0; i < 33; i++) strcat(many, "max_consumers count=1\n");
    tp_supervisor_policy_t p;
    CHECK_EQ_I64(tp_supervisor_policy_parse(&p, many, strlen(many)), -1);
    CHECK_EQ_I64(tp_errcode(), TP_ERR_CAPACITY);
    CHECK(strstr(tp_errmsg(), "line 33") != NULL);
}

/* the file reader: a missing file and a file error both name the path */
static void test_load_names_the_file(void)
{
    tp_supervisor_policy_t p;
    CHECK_EQ_I64(tp_supervisor_policy_load(&p, "/nonexistent/supervise.policy"), -1);
    CHECK(strstr(tp_errmsg(), "/nonexistent/supervise.policy") != NULL);
    char path[] = "/tmp/tp-policy-test-XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char text[] = "drops max=1 window=1s rate_hz=5\nbogus\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    CHECK_EQ_I64(tp_supervisor_policy_load(&p, path), -1);
    CHECK(strstr(tp_errmsg(), path) != NULL);
    CHECK(strstr(tp_errmsg(), "line 2, column 1") != NULL);
    /* more than 64 KiB is refused before parsing */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        for (int i = 0; i < 7000; i++) fputs("# padding\n", f);
        fclose(f);
    }
    CHECK_EQ_I64(tp_supervisor_policy_load(&p, path), -1);
    CHECK_EQ_I64(tp_errcode(), TP_ERR_CAPACITY);
    CHECK(strstr(tp_errmsg(), "larger than 64 KiB") != NULL);
    unlink(path);
}

int main(void)
{
    RUN(test_valid_policy);
    RUN(test_errors_name_line_and_column);
    RUN(test_load_names_the_file);
    TP_TEST_END();
}
