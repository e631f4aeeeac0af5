/* Driver configuration: the strict TOML reader, canonical keys and defaults,
 * environment overrides and load-time validation (docs/spec/driver.md §5, §6 scenarios
 * 11, 61-63). The reader takes untrusted input: every malformed case must be
 * an error naming the line, never a crash (also fed random bytes). */
#include "tp_test.h"

#include "tensorpool/driver.h"
#include "tensorpool/driver_config.h"
#include "tensorpool/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *C0 =
    "# C0 of docs/spec/driver.md §6\n"
    "[driver]\n"
    "control_stream_id = 1000\n"
    "announce_stream_id = 1001\n"
    "\n"
    "[shm]\n"
    "base_dir = \"/dev/shm\"\n"
    "namespace = \"default\"  # trailing comment\n"
    "\n"
    "[policies]\n"
    "allow_dynamic_streams = false\n"
    "lease_keepalive_interval_ms = 1_000\n"
    "\n"
    "[profiles.camera]\n"
    "header_nslots = 64\n"
    "payload_pools = [\n"
    "  { pool_id = 1, stride_bytes = 1048576 },\n"
    "]\n"
    "\n"
    "[streams.cam1]\n"
    "stream_id = 10000\n"
    "profile = \"camera\"\n";

static int parse(tp_driver_config_t *c, const char *text)
{
    tp_driver_config_defaults(c);
    return tp_driver_config_parse(c, text, strlen(text));
}

static tp_driver_config_t g_cfg;

static void test_defaults_are_documented_values(void)
{
    tp_driver_config_t *c = &g_cfg;
    tp_driver_config_defaults(c);
    CHECK_STR(c->instance_id, "driver-01");
    CHECK_EQ_U64(c->control_stream_id, 1000);
    CHECK_EQ_U64(c->qos_stream_id, 1200);
    CHECK_STR(c->base_dir, "/dev/shm/tensorpool"); /* [R] 14 */
    CHECK_STR(c->ns, "default");                   /* [R] 15 */
    CHECK_EQ_U64(c->announce_period_ms, 1000);
    CHECK_EQ_U64(c->lease_keepalive_interval_ms, 1000); /* D-4.4.e */
    CHECK_EQ_U64(c->lease_expiry_grace_intervals, 3);
    CHECK_EQ_U64(c->permissions_mode, 0660);
    CHECK_EQ_U64(c->epoch_gc_keep, 2);
    CHECK_EQ_U64(c->shutdown_timeout_ms, 2000);
    CHECK_EQ_U64(c->idle_park_max_us, 10000);
    CHECK(c->shutdown_token[0] == '\0');
    CHECK(tp_driver_config_validate(c) != 0); /* D-17.c: no profile */
}

static void test_c0_parses_and_validates(void)
{
    tp_driver_config_t *c = &g_cfg;
    CHECK_EQ_I64(parse(c, C0), 0);
    CHECK_EQ_U64(c->announce_stream_id, 1001);
    CHECK_STR(c->base_dir, "/dev/shm");
    CHECK_EQ_U64(c->nprofiles, 1);
    CHECK_STR(c->profiles[0].name, "camera");
    CHECK_EQ_U64(c->profiles[0].header_nslots, 64);
    CHECK_EQ_U64(c->profiles[0].npools, 1);
    CHECK_EQ_U64(c->profiles[0].pools[0].pool_id, 1);
    CHECK_EQ_U64(c->profiles[0].pools[0].stride_bytes, 1048576);
    CHECK_EQ_U64(c->nstreams, 1);
    CHECK_EQ_U64(c->streams[0].stream_id, 10000);
    CHECK_EQ_I64(tp_driver_config_validate(c), 0);
}

static void test_array_of_tables_pools(void)
{
    tp_driver_config_t *c = &g_cfg;
    CHECK_EQ_I64(parse(c, "[profiles.p]\nheader_nslots = 8\n[[profiles.p.payload_pools]]\npool_id = 1\nstride_bytes = 64\n"
                          "[[profiles.p.payload_pools]]\npool_id = 2\nstride_bytes = 128\n"),
                 0);
    CHECK_EQ_U64(c->profiles[0].npools, 2);
    CHECK_EQ_U64(c->profiles[0].pools[1].stride_bytes, 128);
    CHECK_EQ_I64(tp_driver_config_validate(c), 0);
}

static void test_ranges_string_or_array(void)
{
    tp_driver_config_t *c = &g_cfg;
    CHECK_EQ_I64(parse(c, "[driver]\nstream_id_range = \"20000-29999\"\ndescriptor_stream_id_range = [\"31000-31499\", \"31500\"]\n"), 0);
    CHECK_EQ_U64(c->stream_id_range.count, 1);
    CHECK_EQ_U64(c->stream_id_range.r[0].start, 20000);
    CHECK_EQ_U64(c->stream_id_range.r[0].end, 29999);
    CHECK_EQ_U64(c->descriptor_stream_id_range.count, 2);
    CHECK_EQ_U64(c->descriptor_stream_id_range.r[1].start, 31500);
    CHECK_EQ_U64(c->descriptor_stream_id_range.r[1].end, 31500);
}

/* Malformed text: an error with the line number, never a crash. */
static void test_malformed_reports_line(void)
{
    static const struct {
        const char *text;
        const char *line;
    } cases[] = {
        {"[driver]\ncontrol_stream_id = \n", "line 2"},
        {"[driver]\n\ninstance_id = \"unterminated\n", "line 3"},
        {"[driver\n", "line 1"},
        {"[driver]\ncontrol_stream_id = 1.5\n", "line 2"},
        {"[driver]\ncontrol_stream_id = 0x10\n", "line 2"},
        {"[driver]\ncontrol_stream_id = 99999999999999999999999\n", "line 2"},
        {"[driver]\ncontrol_stream_id = 1 2\n", "line 2"},
        {"[driver]\ncontrol_stream_id = 1\ncontrol_stream_id = 2\n", "line 3"},
        {"[shm]\n[shm]\n", "line 2"},
        {"[driver]\nnot_a_key = 1\n", "line 2"},
        {"[driver]\ncontrol_stream_id = \"1000\"\n", "line 2"},
        {"[driver]\ncontrol_stream_id = -5\n", "line 2"},
        {"[policies]\nallow_dynamic_streams = yes\n", "line 2"},
        {"[profiles.p]\npayload_pools = [ { pool_id = 1, stride_bytes = 64 }\n", "line 2"},
        {"[profiles.p]\npayload_pools = [ { pool_id = 1 stride_bytes = 64 } ]\n", "line 2"},
        {"x = 'literal'\n", "line 1"},
        {"\"quoted\" = 1\n", "line 1"},
        {"[driver]\ninstance_id = \"bad \\q escape\"\n", "line 2"},
        {"[profiles.p]\nheader_nslots = 64\npayload_pools = [{pool_id = 70000, stride_bytes = 64}]\n", "line 3"},
        {"[profiles.bad name]\n", "line 1"},
        {"[shm]\npermissions_mode = \"999\"\n", "line 2"},
        {"a = [[[[[[[[[[[[[1]]]]]]]]]]]]]\n", "line 1"},
    };
    tp_driver_config_t *c = &g_cfg;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int rc = parse(c, cases[i].text);
        CHECK_EQ_I64(rc, -1);
        if (rc == -1 && strstr(tp_errmsg(), cases[i].line) == NULL) {
            fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, tp_errmsg(), cases[i].line);
            CHECK(0);
        }
    }
}

/* §6 scenario 62 and D-17.c: bad profiles refused. */
static void test_bad_profiles_refused(void)
{
    tp_driver_config_t *c = &g_cfg;
    CHECK_EQ_I64(parse(c, "[profiles.p]\nheader_nslots = 100\npayload_pools = [{pool_id = 1, stride_bytes = 64}]\n"), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK(strstr(tp_errmsg(), "power of two") != NULL);
    CHECK_EQ_I64(parse(c, "[profiles.p]\nheader_nslots = 64\npayload_pools = [{pool_id = 1, stride_bytes = 1000}]\n"), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK(strstr(tp_errmsg(), "multiple of 64") != NULL);
    CHECK_EQ_I64(parse(c, "[profiles.p]\npayload_pools = [{pool_id = 1, stride_bytes = 64}, {pool_id = 1, stride_bytes = 128}]\n"), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK(strstr(tp_errmsg(), "duplicate pool_id") != NULL);
    CHECK_EQ_I64(parse(c, "[profiles.p]\nheader_nslots = 64\n"), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1); /* no pools */
    CHECK_EQ_I64(parse(c, "[profiles.p]\npayload_pools = [{pool_id=1, stride_bytes=64}]\n[streams.s]\nstream_id = 5\nprofile = \"nope\"\n"), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
}

/* §6 scenario 63 and 11, D-11.b/e/f. */
static void test_ranges_validated(void)
{
    tp_driver_config_t *c = &g_cfg;
    CHECK_EQ_I64(parse(c, "[driver]\nstream_id_range = \"900-1100\"\n[profiles.p]\npayload_pools = [{pool_id=1, stride_bytes=64}]\n"), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK(strstr(tp_errmsg(), "overlaps driver stream id 1000") != NULL);
    CHECK_EQ_I64(parse(c, "[driver]\nstream_id_range = \"20000-29999\"\ndescriptor_stream_id_range = \"29000-31000\"\n"
                          "[profiles.p]\npayload_pools = [{pool_id=1, stride_bytes=64}]\n"),
                 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK_EQ_I64(parse(c, "[driver]\nstream_id_range = \"10-20\"\n[profiles.p]\npayload_pools = [{pool_id=1, stride_bytes=64}]\n"
                          "[streams.s]\nstream_id = 15\nprofile = \"p\"\n"),
                 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1); /* overlaps a static stream */
    CHECK_EQ_I64(parse(c, "[driver]\nstream_id_range = \"30-20\"\n"), -1);
    CHECK_EQ_I64(parse(c, "[policies]\nallow_dynamic_streams = true\n[profiles.p]\npayload_pools = [{pool_id=1, stride_bytes=64}]\n"), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1); /* scenario 11 */
    CHECK(strstr(tp_errmsg(), "stream_id_range") != NULL);
}

/* driver.descriptor_stream_id (extension): the shared FrameDescriptor stream
 * the driver names in ConsumerConfig (D-11.c); 1100 by default, from TOML or
 * DRIVER_DESCRIPTOR_STREAM_ID, non-zero, and no range may cover it (D-11.e). */
static const char *descriptor_env(const char *name)
{
    return strcmp(name, "DRIVER_DESCRIPTOR_STREAM_ID") == 0 ? "1105" : NULL;
}

static void test_descriptor_stream_id(void)
{
    tp_driver_config_t *c = &g_cfg;
    const char *profile = "[profiles.p]\npayload_pools = [{pool_id=1, stride_bytes=64}]\n";
    char toml[256];
    CHECK_EQ_I64(parse(c, profile), 0);
    CHECK_EQ_U64(c->descriptor_stream_id, 1100);
    snprintf(toml, sizeof toml, "[driver]\ndescriptor_stream_id = 1101\n%s", profile);
    CHECK_EQ_I64(parse(c, toml), 0);
    CHECK_EQ_U64(c->descriptor_stream_id, 1101);
    CHECK_EQ_I64(tp_driver_config_validate(c), 0);
    CHECK_EQ_I64(tp_driver_config_apply_env(c, descriptor_env), 0);
    CHECK_EQ_U64(c->descriptor_stream_id, 1105);
    snprintf(toml, sizeof toml, "[driver]\ndescriptor_stream_id = 0\n%s", profile);
    CHECK_EQ_I64(parse(c, toml), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK(strstr(tp_errmsg(), "driver.descriptor_stream_id") != NULL);
    snprintf(toml, sizeof toml, "[driver]\ndescriptor_stream_id_range = \"1050-1150\"\n%s", profile);
    CHECK_EQ_I64(parse(c, toml), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK(strstr(tp_errmsg(), "overlaps driver stream id 1100") != NULL);
}

static const char *fake_env(const char *name)
{
    if (strcmp(name, "DRIVER_CONTROL_STREAM_ID") == 0) return "2000";
    if (strcmp(name, "SHM_ALLOWED_BASE_DIRS") == 0) return "/dev/shm,/tmp";
    if (strcmp(name, "DRIVER_STREAM_ID_RANGE") == 0) return "20000-20009,20020-20029";
    if (strcmp(name, "POLICIES_ALLOW_DYNAMIC_STREAMS") == 0) return "true";
    return NULL;
}

static const char *bad_env(const char *name)
{
    return strcmp(name, "POLICIES_ANNOUNCE_PERIOD_MS") == 0 ? "soon" : NULL;
}

/* §6 scenario 61, D-17.b, [R] 19. */
static void test_environment_overrides_toml(void)
{
    tp_driver_config_t *c = &g_cfg;
    CHECK_EQ_I64(parse(c, C0), 0);
    CHECK_EQ_I64(tp_driver_config_apply_env(c, fake_env), 0);
    CHECK_EQ_U64(c->control_stream_id, 2000);
    CHECK_EQ_U64(c->n_allowed_base_dirs, 2);
    CHECK_STR(c->allowed_base_dirs[1], "/tmp");
    CHECK_EQ_U64(c->stream_id_range.count, 2);
    CHECK(c->allow_dynamic_streams);
    CHECK_EQ_I64(tp_driver_config_apply_env(c, bad_env), -1);
    CHECK(strstr(tp_errmsg(), "POLICIES_ANNOUNCE_PERIOD_MS") != NULL);
}

/* Random bytes and mutations of a valid file: never a crash (ASan in the
 * sanitizer build), always 0 or -1 with a message. */
static void test_random_input_never_crashes(void)
{
    tp_driver_config_t *c = &g_cfg;
    char buf[512];
    unsigned seed = 12345;
    const size_t n0 = strlen(C0);
    for (int i = 0; i < 20000; i++) {
        size_t n;
        if (i % 2 == 0) {
            n = (size_t)(rand_r(&seed) % (int)sizeof buf);
            for (size_t k = 0; k < n; k++) buf[k] = (char)(rand_r(&seed) % 128);
        } else {
            n = n0 < sizeof buf ? n0 : sizeof buf;
            memcpy(buf, C0, n);
            for (int k = 0; k < 4; k++) buf[rand_r(&seed) % (int)n] = "[]{}=\",.#\n 0aZ_-"[rand_r(&seed) % 17];
        }
        tp_driver_config_defaults(c);
        const int rc = tp_driver_config_parse(c, buf, n);
        CHECK(rc == 0 || (rc == -1 && tp_errmsg()[0] != '\0'));
    }
}

static const char *g_config_doc; /* docs/configuration.md, from the command line */

/* The "Default" cell of key's row in the configuration reference table
 * (| `key` | type | default | ...), or "" when the row is missing. */
static void doc_default(const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(g_config_doc, "r");
    CHECK(f != NULL);
    if (f == NULL) return;
    char line[1024], want[160];
    snprintf(want, sizeof want, "| `%s` |", key);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, want, strlen(want)) != 0) continue;
        const char *type_end = strchr(line + strlen(want), '|');
        if (type_end == NULL) break;
        const char *v = type_end + 1;
        while (*v == ' ') v++;
        size_t n = strcspn(v, "|");
        while (n > 0 && v[n - 1] == ' ') n--;
        snprintf(out, cap, "%.*s", (int)n, v);
        break;
    }
    fclose(f);
}

/* D-4.4.f: the keepalive period and expiry grace this driver uses are
 * published out-of-band: the defaults in the configuration reference
 * (docs/configuration.md) are the values the driver starts from, and any
 * other values come from its configuration and are printed by
 * `tp driver --check` / `--print-config` (tp_driver_config_print). */
static void test_lease_timing_published(void)
{
    tp_driver_config_t *c = &g_cfg;
    tp_driver_config_defaults(c);
    char v[64], want[64];
    doc_default("policies.lease_keepalive_interval_ms", v, sizeof v);
    snprintf(want, sizeof want, "%u", c->lease_keepalive_interval_ms);
    CHECK_STR(v, want);
    doc_default("policies.lease_expiry_grace_intervals", v, sizeof v);
    snprintf(want, sizeof want, "%u", c->lease_expiry_grace_intervals);
    CHECK_STR(v, want);
    CHECK_EQ_I64(parse(c, "[policies]\nlease_keepalive_interval_ms = 250\nlease_expiry_grace_intervals = 5\n"
                          "[profiles.p]\nheader_nslots = 8\npayload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"),
                 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (f == NULL) return;
    tp_driver_config_print(c, f);
    fclose(f);
    CHECK(strstr(text, "\nlease_keepalive_interval_ms = 250\n") != NULL);
    CHECK(strstr(text, "\nlease_expiry_grace_intervals = 5\n") != NULL);
    free(text);
}

/* D-17.d: this driver does not lock regions, so policies.mlock_shm=true
 * can never be honoured; the failure to lock is fatal up front: the
 * configuration is refused (tp driver exits non-zero) rather than the
 * driver running unlocked. */
static const char *park_env(const char *name)
{
    return strcmp(name, "DRIVER_IDLE_PARK_MAX_US") == 0 ? "5000" : NULL;
}

/* driver.idle_park_max_us: file, environment, bounds, and the idle loop it
 * gives (tp_driver_idle_strategy). */
static void test_idle_park(void)
{
    tp_driver_config_t *c = &g_cfg;
    const char *profile = "[profiles.p]\npayload_pools = [{pool_id=1, stride_bytes=64}]\n";
    char toml[256];
    tp_idle_strategy_t idle;
    CHECK_EQ_I64(parse(c, profile), 0);
    tp_driver_idle_strategy(c, NULL, &idle);
    CHECK(idle.kind == TP_IDLE_BACKOFF);
    CHECK_EQ_I64(idle.sleep_ns, 100000);
    CHECK_EQ_I64(idle.max_sleep_ns, 10000000);
    snprintf(toml, sizeof toml, "[driver]\nidle_park_max_us = 20000\n%s", profile);
    CHECK_EQ_I64(parse(c, toml), 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), 0);
    tp_driver_idle_strategy(c, NULL, &idle);
    CHECK_EQ_I64(idle.max_sleep_ns, 20000000);
    CHECK_EQ_I64(tp_driver_config_apply_env(c, park_env), 0);
    CHECK_EQ_U64(c->idle_park_max_us, 5000);
    snprintf(toml, sizeof toml, "[driver]\nidle_park_max_us = 50\n%s", profile);
    CHECK_EQ_I64(parse(c, toml), 0);
    tp_driver_idle_strategy(c, NULL, &idle); /* shorter than the first park: every park is that long */
    CHECK_EQ_I64(idle.sleep_ns, 50000);
    CHECK_EQ_I64(idle.max_sleep_ns, 50000);
    char doc[64];
    doc_default("driver.idle_park_max_us", doc, sizeof doc);
    CHECK_STR(doc, "10000");
    static const char *const refused[] = {"0", "1000001"};
    for (int i = 0; i < 2; i++) {
        snprintf(toml, sizeof toml, "[driver]\nidle_park_max_us = %s\n%s", refused[i], profile);
        CHECK_EQ_I64(parse(c, toml), 0);
        CHECK_EQ_I64(tp_driver_config_validate(c), -1);
        CHECK(strstr(tp_errmsg(), "driver.idle_park_max_us") != NULL);
    }
}

static void test_mlock_shm_refused(void)
{
    tp_driver_config_t *c = &g_cfg;
    CHECK_EQ_I64(parse(c, "[policies]\nmlock_shm = true\n"
                          "[profiles.p]\nheader_nslots = 8\npayload_pools = [ { pool_id = 1, stride_bytes = 64 } ]\n"),
                 0);
    CHECK_EQ_I64(tp_driver_config_validate(c), -1);
    CHECK(tp_errcode() == TP_ERR_UNSUPPORTED);
    CHECK(strstr(tp_errmsg(), "mlock_shm") != NULL);
    c->mlock_shm = false;
    CHECK_EQ_I64(tp_driver_config_validate(c), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_driver_config docs/configuration.md\n");
        return 2;
    }
    g_config_doc = argv[1];
    RUN(test_defaults_are_documented_values);
    RUN(test_c0_parses_and_validates);
    RUN(test_array_of_tables_pools);
    RUN(test_ranges_string_or_array);
    RUN(test_malformed_reports_line);
    RUN(test_bad_profiles_refused);
    RUN(test_ranges_validated);
    RUN(test_descriptor_stream_id);
    RUN(test_environment_overrides_toml);
    RUN(test_random_input_never_crashes);
    RUN(test_lease_timing_published);
    RUN(test_mlock_shm_refused);
    RUN(test_idle_park);
    TP_TEST_END();
}
