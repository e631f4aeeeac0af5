/* Region URI grammar (W-15.22.a-d, §5.7, D-25; §7 scenarios 24-29). */
#include "tensorpool/error.h"
#include "tensorpool/shm_uri.h"
#include "tp_test.h"

static int parse(const char *s, tp_shm_uri_t *u) { return tp_shm_uri_parse(s, strlen(s), u); }

/* §7 #24 */
static void test_valid_uris(void)
{
    tp_shm_uri_t u;
    CHECK(parse("shm:file?path=/dev/shm/tp-test/a", &u) == 0);
    CHECK_STR(u.path, "/dev/shm/tp-test/a");
    CHECK(u.require_hugepages == 0);
    CHECK(parse("shm:file?path=/dev/shm/tp-test/a|require_hugepages=false", &u) == 0);
    CHECK(u.require_hugepages == 0);
    CHECK(parse("shm:file?path=/dev/hugepages/a|require_hugepages=true", &u) == 0);
    CHECK(u.require_hugepages == 1);
    CHECK_STR(u.path, "/dev/hugepages/a");
}

/* §7 #25, W-15.22.d: unknown schemes. */
static void test_unknown_scheme(void)
{
    tp_shm_uri_t u;
    CHECK(parse("shm:memfd?path=/x", &u) == -1);
    CHECK(tp_errcode() == TP_ERR_UNSUPPORTED);
    CHECK(parse("file:///dev/shm/tp-test/a", &u) == -1);
    CHECK(parse("", &u) == -1);
    CHECK(parse("SHM:file?path=/x", &u) == -1);
    CHECK(parse("shm:file", &u) == -1);
}

/* §7 #26, D-25: unknown, duplicate, partial, reordered, trailing. */
static void test_bad_parameters(void)
{
    tp_shm_uri_t u;
    const char *bad[] = {
        "shm:file?path=/dev/shm/tp-test/a|mode=ro",
        "shm:file?path=/dev/shm/tp-test/a|require_hugepages=true|require_hugepages=true",
        "shm:file?path=/dev/shm/tp-test/a|",
        "shm:file?path=/dev/shm/tp-test/a|require_hugepages=false|",
        "shm:file?pa=/dev/shm/tp-test/a",
        "shm:file?paths=/dev/shm/tp-test/a",
        "shm:file?path=/a|require_huge=true",
        "shm:file?path=/a|require_hugepagesX=true",
        "shm:file?require_hugepages=false|path=/a",
        "shm:file?path=/a|path=/b",
        "shm:file?path=",
        "shm:file?=x",
        "shm:file?path=/a b",
        "shm:file?path=/a?b",
        "shm:file?path=/a\tb",
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int rc = parse(bad[i], &u);
        if (rc != -1) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(rc == -1);
    }
}

/* §7 #27: '&' is a path byte, not a separator. */
static void test_ampersand_is_path(void)
{
    tp_shm_uri_t u;
    CHECK(parse("shm:file?path=/dev/shm/tp-test/a&require_hugepages=true", &u) == 0);
    CHECK_STR(u.path, "/dev/shm/tp-test/a&require_hugepages=true");
    CHECK(u.require_hugepages == 0);
}

/* §7 #28: booleans are exact lower-case words. */
static void test_bad_boolean(void)
{
    tp_shm_uri_t u;
    CHECK(parse("shm:file?path=/a|require_hugepages=TRUE", &u) == -1);
    CHECK(parse("shm:file?path=/a|require_hugepages=1", &u) == -1);
    CHECK(parse("shm:file?path=/a|require_hugepages=", &u) == -1);
    CHECK(parse("shm:file?path=/a|require_hugepages=truee", &u) == -1);
    CHECK(parse("shm:file?path=/a|require_hugepages=tru", &u) == -1);
}

/* §7 #29, W-15.22.b: relative or missing path. */
static void test_relative_or_missing_path(void)
{
    tp_shm_uri_t u;
    CHECK(parse("shm:file?path=relative/a", &u) == -1);
    CHECK(parse("shm:file?require_hugepages=false", &u) == -1);
}

/* The length bounds the parse: bytes after len are never looked at, and an
 * embedded NUL is not a path byte. */
static void test_length_bounded(void)
{
    tp_shm_uri_t u;
    const char s[] = "shm:file?path=/abc|require_hugepages=false";
    CHECK(tp_shm_uri_parse(s, 18, &u) == 0);
    CHECK_STR(u.path, "/abc");
    const char nul[] = "shm:file?path=/a\0b";
    CHECK(tp_shm_uri_parse(nul, sizeof nul - 1, &u) == -1);
    CHECK(tp_shm_uri_parse(s, 3, &u) == -1);
    char longuri[TP_SHM_PATH_MAX + 32];
    memcpy(longuri, "shm:file?path=/", 15);
    memset(longuri + 15, 'a', TP_SHM_PATH_MAX + 10);
    CHECK(tp_shm_uri_parse(longuri, 15 + TP_SHM_PATH_MAX + 10, &u) == -1);
}

/* Format writes the explicit form, which parses back. */
static void test_format_round_trip(void)
{
    char buf[256];
    tp_shm_uri_t u;
    int n = tp_shm_uri_format(buf, sizeof buf, "/dev/shm/x/header.ring", 0);
    CHECK(n > 0);
    CHECK_STR(buf, "shm:file?path=/dev/shm/x/header.ring|require_hugepages=false");
    CHECK(tp_shm_uri_parse(buf, (size_t)n, &u) == 0);
    CHECK_STR(u.path, "/dev/shm/x/header.ring");
    CHECK(tp_shm_uri_format(buf, 10, "/dev/shm/x", 0) == -1);
    CHECK(tp_shm_uri_format(buf, sizeof buf, "rel", 0) == -1);
    CHECK(tp_shm_uri_format(buf, sizeof buf, "/a|b", 0) == -1);
}

int main(void)
{
    RUN(test_valid_uris);
    RUN(test_unknown_scheme);
    RUN(test_bad_parameters);
    RUN(test_ampersand_is_path);
    RUN(test_bad_boolean);
    RUN(test_relative_or_missing_path);
    RUN(test_length_bounded);
    RUN(test_format_round_trip);
    TP_TEST_END();
}
