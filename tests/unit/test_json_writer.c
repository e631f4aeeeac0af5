/* JSON writer (issue 13.7): strings come out as valid UTF-8 JSON whatever the
 * input bytes: well-formed UTF-8 passes through unchanged, control characters
 * are escaped, each ill-formed sequence (overlong, surrogate, above U+10FFFF,
 * truncated, stray byte) becomes one U+FFFD per maximal subpart; 64-bit
 * identifiers can be written as decimal strings. */
#include "tp_test.h"

#include "tensorpool/json_writer.h"

#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>

#define FFFD "\xef\xbf\xbd"

static char g_buf[1 << 16];

/* tp_json_string(bytes) as written, in g_buf. */
static const char *json_of(const char *bytes, size_t len)
{
    char *mem = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&mem, &size);
    tp_json_t j;
    tp_json_init(&j, f);
    tp_json_string(&j, bytes, len);
    fclose(f);
    snprintf(g_buf, sizeof g_buf, "%s", mem);
    free(mem);
    return g_buf;
}

static int same(const char *bytes, size_t len, const char *want)
{
    const char *got = json_of(bytes, len);
    if (strcmp(got, want) == 0) return 1;
    fprintf(stderr, "input of %zu bytes: got [%s], want [%s]\n", len, got, want);
    return 0;
}

#define SAME(lit, want) same(lit, sizeof(lit) - 1, want)

static void test_valid_utf8_passes_through(void)
{
    CHECK(SAME("cam\xc3\xa9ra-1", "\"cam\xc3\xa9ra-1\"")); /* the example: "caméra-1" */
    CHECK(SAME("\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\"")); /* 3-byte */
    CHECK(SAME("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""));                  /* 4-byte (U+1F600) */
    CHECK(SAME("\xc2\x80", "\"\xc2\x80\""));                                  /* smallest 2-byte */
    CHECK(SAME("\xe0\xa0\x80", "\"\xe0\xa0\x80\""));                          /* smallest 3-byte */
    CHECK(SAME("\xed\x9f\xbf", "\"\xed\x9f\xbf\""));                          /* U+D7FF, below the surrogates */
    CHECK(SAME("\xee\x80\x80", "\"\xee\x80\x80\""));                          /* U+E000, above them */
    CHECK(SAME("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""));                  /* U+10FFFF */
    CHECK(SAME("\xef\xbf\xbd", "\"" FFFD "\""));                              /* a real U+FFFD stays one */
}

static void test_escapes(void)
{
    CHECK(SAME("a\"b\\c", "\"a\\\"b\\\\c\""));
    CHECK(SAME("\n\t\r\b\f", "\"\\n\\t\\r\\b\\f\""));
    CHECK(SAME("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""));
    CHECK(same("a\0b", 3, "\"a\\u0000b\"")); /* an embedded NUL of a counted string */
    CHECK(SAME("", "\"\""));
}

static void test_ill_formed_becomes_replacement(void)
{
    CHECK(SAME("\xc0\xaf", "\"" FFFD FFFD "\""));                     /* overlong '/', C0 never valid */
    CHECK(SAME("\xc1\xbf", "\"" FFFD FFFD "\""));
    CHECK(SAME("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\""));            /* overlong 3-byte */
    CHECK(SAME("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\""));   /* overlong 4-byte */
    CHECK(SAME("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\""));            /* surrogate U+D800 */
    CHECK(SAME("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\""));            /* surrogate U+DFFF */
    CHECK(SAME("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""));   /* U+110000 */
    CHECK(SAME("\xf5\x80", "\"" FFFD FFFD "\""));                     /* F5..FF never valid */
    CHECK(SAME("\xff", "\"" FFFD "\""));
    CHECK(SAME("\x80", "\"" FFFD "\""));                              /* stray continuation */
    CHECK(SAME("\xe2\x82", "\"" FFFD "\""));                          /* truncated at the end: one subpart */
    CHECK(SAME("\xf0\x9f\x98", "\"" FFFD "\""));
    CHECK(SAME("\xe2\x82" "A", "\"" FFFD "A\""));                     /* interrupted by ASCII */
    CHECK(SAME("\xe2\x82\xe2\x82\xac", "\"" FFFD "\xe2\x82\xac\""));  /* interrupted by a valid sequence */
    CHECK(SAME("\xc3" "\"", "\"" FFFD "\\\"\""));                     /* a quote is never swallowed */
    CHECK(SAME("x\xc3", "\"x" FFFD "\""));
}

/* 1 if s[0..len) is valid UTF-8, by glibc's decoder (independent of ours). */
static int iconv_accepts(const char *s, size_t len)
{
    iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
    if (cd == (iconv_t)-1) return -1;
    static char out[1 << 18];
    char *in = (char *)(uintptr_t)s, *o = out;
    size_t il = len, ol = sizeof out;
    const size_t r = iconv(cd, &in, &il, &o, &ol);
    iconv_close(cd);
    return r != (size_t)-1 && il == 0;
}

/* Random bytes, biased to the interesting ones: the output is always valid
 * UTF-8 (glibc agrees), starts and ends with a quote, and has no raw control byte. */
static void test_random_bytes_give_valid_utf8(void)
{
    static const unsigned char pool[] = {0x00, 0x0a, 0x1f, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
                                         0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
    CHECK(iconv_accepts("\xed\xa0\x80", 3) == 0); /* the oracle itself rejects a surrogate */
    srand(13);
    char in[64];
    for (int n = 0; n < 20000; n++) {
        const size_t len = (size_t)(rand() % 12);
        for (size_t i = 0; i < len; i++)
            in[i] = (char)(rand() % 4 == 0 ? rand() % 256 : pool[(size_t)rand() % sizeof pool]);
        const char *got = json_of(in, len);
        const size_t gl = strlen(got);
        int ok = gl >= 2 && got[0] == '"' && got[gl - 1] == '"' && iconv_accepts(got, gl) == 1;
        for (size_t i = 0; i < gl; i++) ok &= (unsigned char)got[i] >= 0x20 && got[i] != 0x7f;
        if (!ok) {
            CHECK(ok);
            break;
        }
    }
}

static void test_u64_strings(void)
{
    char *mem = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&mem, &size);
    tp_json_t j;
    tp_json_init(&j, f);
    tp_json_begin_object(&j);
    tp_json_key(&j, "lease_id");
    tp_json_u64_string(&j, UINT64_MAX);
    tp_json_key(&j, "offset_ns");
    tp_json_i64_string(&j, INT64_MIN);
    tp_json_key(&j, "n");
    tp_json_u64(&j, 9007199254740993ull); /* 2^53 + 1 as a number: what the string form avoids */
    tp_json_end_object(&j);
    fclose(f);
    CHECK(strcmp(mem, "{\"lease_id\":\"18446744073709551615\",\"offset_ns\":\"-9223372036854775808\","
                      "\"n\":9007199254740993}") == 0);
    free(mem);
}

int main(void)
{
    RUN(test_valid_utf8_passes_through);
    RUN(test_escapes);
    RUN(test_ill_formed_becomes_replacement);
    RUN(test_random_bytes_give_valid_utf8);
    RUN(test_u64_strings);
    TP_TEST_END();
}
