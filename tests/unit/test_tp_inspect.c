/* tp inspect end to end: a live ring and pool from the writer, a corrupted
 * superblock, a truncated file, a FIFO, and usage errors (exit 0/1/2). */
#include "tensorpool/shm_seqlock.h"
#include "tp_test.h"
#include "unit/shm_test_rig.h"

#include <sys/wait.h>

static const char *g_tp = "tp";
static tp_test_rig_t rig;
static char g_out[1 << 16];

/* Run `tp inspect ARGS` through the shell; capture stdout+stderr. */
static int run(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' inspect %s 2>&1", g_tp, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(g_out, 1, sizeof g_out - 1, p);
    g_out[n] = '\0';
    const int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_ring_text(void)
{
    const float vals[4] = {1, 2, 3, 4};
    tp_tensor_header_t t;
    const int32_t dims[2] = {2, 2};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims);
    for (int i = 0; i < 6; i++) tp_shm_writer_publish(&rig.w, &t, vals, 16, 0, 0, NULL);
    tp_shm_claim_t c;
    tp_shm_writer_claim(&rig.w, &t, 16, &c); /* seq 6 left in progress in slot 2 */
    char args[TP_SHM_PATH_MAX + 16];
    snprintf(args, sizeof args, "'%s'", rig.w.ring_path);
    CHECK_EQ_I64(run(args), 0);
    CHECK(strstr(g_out, "superblock  valid") != NULL);
    CHECK(strstr(g_out, "HEADER_RING (1)") != NULL);
    CHECK(strstr(g_out, "epoch                 7") != NULL);
    CHECK(strstr(g_out, "4 of 4 listed") != NULL);
    CHECK(strstr(g_out, "committed") != NULL);
    CHECK(strstr(g_out, "in-progress") != NULL);
    CHECK(strstr(g_out, "FLOAT32  ROW    [2,2]") != NULL);
    CHECK(strstr(g_out, "(fresh)") != NULL);
    if (strstr(g_out, "superblock  valid") == NULL) fputs(g_out, stderr);
}

static void test_ring_json_and_pool(void)
{
    char args[TP_SHM_PATH_MAX + 64];
    snprintf(args, sizeof args, "--json --max-slots 2 '%s'", rig.w.ring_path);
    CHECK_EQ_I64(run(args), 0);
    CHECK(g_out[0] == '{');
    CHECK(strstr(g_out, "\"valid\":true") != NULL);
    CHECK(strstr(g_out, "\"region_type\":\"HEADER_RING\"") != NULL);
    CHECK(strstr(g_out, "\"slots_listed\":2") != NULL);
    CHECK(strstr(g_out, "\"dims\":[2,2]") != NULL);
    CHECK(strstr(g_out, "\"check\":\"ok\"") != NULL);
    /* docs/json.md: 64-bit epochs, seq and times are strings; monotonic times say so */
    CHECK(strstr(g_out, "\"epoch\":\"") != NULL && strstr(g_out, "\"seq\":\"") != NULL);
    CHECK(strstr(g_out, "\"activity_timestamp_mono_ns\":\"") != NULL);
    CHECK(strstr(g_out, "\"streamId\"") == NULL && strstr(g_out, "\"stream_id\":") != NULL);
    snprintf(args, sizeof args, "--json '%s'", rig.w.pool_path[0]);
    CHECK_EQ_I64(run(args), 0);
    CHECK(strstr(g_out, "\"region_type\":\"PAYLOAD_POOL\"") != NULL);
    CHECK(strstr(g_out, "\"stride_bytes\":64") != NULL);
    CHECK(strstr(g_out, "\"slots_listed\":0") != NULL);
}

/* A slot that fails a check is named with its reason (§5.4). */
static void test_bad_slot_reported(void)
{
    uint8_t *slot = rig.w.ring.base + 64 + 3 * 256;
    tp_slot_header_t h;
    tp_slot_header_read(slot, &h);
    h.payload_slot = 2;
    tp_slot_header_write(slot, &h);
    char args[TP_SHM_PATH_MAX + 16];
    snprintf(args, sizeof args, "'%s'", rig.w.ring_path);
    CHECK_EQ_I64(run(args), 0); /* the superblock is still valid */
    CHECK(strstr(g_out, "payload-slot") != NULL);
}

static void test_invalid_files(void)
{
    char path[600], args[700];
    uint8_t buf[64 + 4 * 256];
    memcpy(buf, rig.w.ring.base, sizeof buf);
    buf[0] ^= 0xFF; /* bad magic */
    buf[28] = 6;    /* nslots 6 */
    snprintf(path, sizeof path, "%s/corrupt.ring", rig.base);
    CHECK(tp_test_write_file(path, buf, sizeof buf, 0600) == 0);
    snprintf(args, sizeof args, "'%s'", path);
    CHECK_EQ_I64(run(args), 2);
    CHECK(strstr(g_out, "INVALID") != NULL);
    CHECK(strstr(g_out, "magic") != NULL);
    CHECK(strstr(g_out, "power of two") != NULL);
    snprintf(args, sizeof args, "--json '%s'", path);
    CHECK_EQ_I64(run(args), 2);
    CHECK(strstr(g_out, "\"valid\":false") != NULL);
    /* truncated: a good superblock over a short file */
    memcpy(buf, rig.w.ring.base, sizeof buf);
    CHECK(tp_test_write_file(path, buf, 64 + 3 * 256, 0600) == 0);
    snprintf(args, sizeof args, "'%s'", path);
    CHECK_EQ_I64(run(args), 2);
    CHECK(strstr(g_out, "shorter") != NULL);
    CHECK(tp_test_write_file(path, buf, 10, 0600) == 0);
    CHECK_EQ_I64(run(args), 2);
    CHECK(strstr(g_out, "not a region file") != NULL);
    snprintf(path, sizeof path, "%s/fifo", rig.base);
    CHECK(mkfifo(path, 0600) == 0);
    snprintf(args, sizeof args, "'%s'", path);
    CHECK_EQ_I64(run(args), 2);
    CHECK(strstr(g_out, "not a regular file") != NULL);
    snprintf(args, sizeof args, "'%s/missing'", rig.base);
    CHECK_EQ_I64(run(args), 1);
}

static void test_usage(void)
{
    CHECK_EQ_I64(run("--help"), 0);
    CHECK(strstr(g_out, "SYNOPSIS\n    tp inspect [--json]") != NULL);
    CHECK(strstr(g_out, "EXIT STATUS") != NULL);
    CHECK_EQ_I64(run(""), 2);
    CHECK_EQ_I64(run("--bogus x"), 2);
    CHECK_EQ_I64(run("--max-slots -1 x"), 2);
    CHECK_EQ_I64(run("--max-slots abc x"), 2);
    CHECK_EQ_I64(run("a b"), 2);
}

int main(int argc, char **argv)
{
    if (argc > 1) g_tp = argv[1];
    const tp_shm_pool_config_t pool = {.pool_id = 1, .stride_bytes = 64};
    if (tp_test_rig_writer(&rig, "inspect", 4, 1, &pool) != 0) {
        fprintf(stderr, "rig: %s\n", tp_errmsg());
        return 1;
    }
    RUN(test_ring_text);
    RUN(test_ring_json_and_pool);
    RUN(test_bad_slot_reported);
    RUN(test_invalid_files);
    RUN(test_usage);
    tp_shm_writer_close(&rig.w, 1);
    tp_test_rmtree(rig.base);
    TP_TEST_END();
}
