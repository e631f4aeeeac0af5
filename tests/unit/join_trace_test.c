/* Join trace (tensorpool/join_trace.h): a stage records outputs only while a
 * viewer watches; the viewer reads them newest first, bounded to the ring;
 * recording allocates nothing; the decoders refuse inconsistent entries and
 * statuses; the reader refuses files that are not traces. */
#include "alloc_count.h"
#include "tp_test.h"

#include "tensorpool/ipc.h"
#include "tensorpool/join_trace.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];
static tp_ipc_context_t g_ipc;

static void output(tp_join_output_t *o, tp_join_input_t in[2], tp_join_frame_t fr[3], uint64_t out_seq)
{
    memset(o, 0, sizeof *o);
    memset(in, 0, 2 * sizeof in[0]);
    memset(fr, 0, 3 * sizeof fr[0]);
    fr[0].seq = out_seq;
    fr[0].timestamp_ns = 1000 + out_seq;
    fr[1].seq = out_seq * 10;
    fr[1].timestamp_ns = UINT64_MAX;
    fr[2].seq = out_seq * 10 + 4;
    fr[2].timestamp_ns = 2000 + out_seq;
    in[0] = (tp_join_input_t){.stream_id = 1, .frame_count = 1, .frames = &fr[0]};
    in[1] = (tp_join_input_t){.stream_id = 3, .frame_count = 2, .frames = &fr[1]};
    o->out_seq = out_seq;
    o->out_time = UINT64_MAX;
    o->epoch = 1;
    o->input_count = 2;
    o->inputs = in;
}

static char g_path[512];

static tp_join_trace_t *make(tp_join_trace_reader_t *r)
{
    tp_join_trace_t *t = NULL;
    CHECK(tp_join_trace_create(&t, &g_ipc, 100, 1) == 0);
    char ipcdir[400];
    CHECK(tp_ipc_context_dir(&g_ipc, ipcdir, sizeof ipcdir) == 0);
    *strrchr(ipcdir, '/') = '\0';
    snprintf(g_path, sizeof g_path, "%s/join-100-%d.trace", ipcdir, (int)getpid());
    CHECK(tp_join_trace_reader_open(r, g_path) == 0);
    CHECK_EQ_U64(r->out_stream_id, 100);
    CHECK_EQ_U64((uint64_t)r->pid, (uint64_t)getpid());
    return t;
}

static void unwatched_records_nothing(void)
{
    tp_join_trace_reader_t r;
    tp_join_trace_t *t = make(&r);
    tp_join_output_t o;
    tp_join_input_t in[2];
    tp_join_frame_t fr[3];
    output(&o, in, fr, 7);
    tp_join_trace_output_t got[4];
    CHECK(!tp_join_trace_watched(t, 1000));
    tp_join_trace_record(t, &o, 1000);
    CHECK_EQ_U64(tp_join_trace_reader_outputs(&r, got, 4), 0);
    /* watched until 5000: recorded at 2000, not at 6000 */
    tp_join_trace_reader_watch(&r, 5000);
    tp_join_trace_record(t, &o, 2000);
    CHECK_EQ_U64(tp_join_trace_reader_outputs(&r, got, 4), 1);
    CHECK_EQ_U64(got[0].out_seq, 7);
    CHECK_EQ_U64(got[0].input_count, 2);
    CHECK_EQ_U64(got[0].in[0].first_seq, 7);
    CHECK_EQ_U64(got[0].in[0].first_ts_ns, 1007);
    CHECK_EQ_U64(got[0].in[1].first_seq, 70);
    CHECK_EQ_U64(got[0].in[1].last_seq, 74);
    CHECK_EQ_U64(got[0].in[1].first_ts_ns, TP_JOIN_TRACE_NONE);
    CHECK_EQ_U64(got[0].in[1].last_ts_ns, 2007);
    CHECK_EQ_U64(got[0].in[1].frame_count, 2);
    tp_join_trace_record(t, &o, 6000);
    CHECK_EQ_U64(tp_join_trace_reader_outputs(&r, got, 4), 1);
    tp_join_trace_reader_close(&r);
    tp_join_trace_close(t);
    CHECK(access(g_path, F_OK) != 0); /* close removes the file */
}

static void ring_is_bounded_newest_first_and_allocation_free(void)
{
    tp_join_trace_reader_t r;
    tp_join_trace_t *t = make(&r);
    tp_join_trace_reader_watch(&r, INT64_MAX);
    tp_join_output_t o;
    tp_join_input_t in[2];
    tp_join_frame_t fr[3];
    const uint64_t before = tp_alloc_count();
    for (uint64_t k = 1; k <= 200; k++) {
        output(&o, in, fr, k);
        tp_join_trace_record(t, &o, (int64_t)k);
    }
    CHECK_EQ_U64(tp_alloc_count() - before, 0);
    static tp_join_trace_output_t got[TP_JOIN_TRACE_ENTRIES + 8];
    const uint32_t n = tp_join_trace_reader_outputs(&r, got, TP_JOIN_TRACE_ENTRIES + 8);
    CHECK_EQ_U64(n, TP_JOIN_TRACE_ENTRIES);
    CHECK_EQ_U64(got[0].out_seq, 200);
    CHECK_EQ_U64(got[n - 1].out_seq, 200 - TP_JOIN_TRACE_ENTRIES + 1);
    tp_join_trace_reader_close(&r);
    tp_join_trace_close(t);
}

static void decoders_refuse_inconsistent_bytes(void)
{
    tp_join_trace_output_t e, out;
    memset(&e, 0, sizeof e);
    e.input_count = 1;
    e.in[0].frame_count = 1;
    e.in[0].first_seq = 5;
    e.in[0].last_seq = 6;
    CHECK(tp_join_trace_entry_decode((const uint8_t *)&e, sizeof e, &out) == 0);
    CHECK(tp_join_trace_entry_decode((const uint8_t *)&e, sizeof e - 1, &out) != 0);
    e.in[0].last_seq = 4; /* range backwards */
    CHECK(tp_join_trace_entry_decode((const uint8_t *)&e, sizeof e, &out) != 0);
    e.in[0].last_seq = 6;
    e.in[0].status = 9;
    CHECK(tp_join_trace_entry_decode((const uint8_t *)&e, sizeof e, &out) != 0);
    e.in[0].status = 0;
    e.in[0].frame_count = 0; /* no frames but a seq */
    CHECK(tp_join_trace_entry_decode((const uint8_t *)&e, sizeof e, &out) != 0);
    e.in[0].frame_count = 1;
    e.input_count = TP_JOIN_TRACE_MAX_INPUTS + 1;
    CHECK(tp_join_trace_entry_decode((const uint8_t *)&e, sizeof e, &out) != 0);
    tp_join_trace_status_t s, so;
    memset(&s, 'x', sizeof s); /* unterminated strings get terminated */
    s.state = 0;
    s.explain_count = 1;
    CHECK(tp_join_trace_status_decode((const uint8_t *)&s, sizeof s, &so) == 0);
    CHECK(strlen(so.reason) < sizeof so.reason);
    CHECK(strlen(so.explain[0]) < sizeof so.explain[0]);
    s.state = 7;
    CHECK(tp_join_trace_status_decode((const uint8_t *)&s, sizeof s, &so) != 0);
    s.state = 0;
    s.explain_count = TP_JOIN_TRACE_MAX_INPUTS + 1;
    CHECK(tp_join_trace_status_decode((const uint8_t *)&s, sizeof s, &so) != 0);
}

static void reader_refuses_other_files(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/not-a-trace", g_dir);
    const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 4096) == 0);
    close(fd);
    tp_join_trace_reader_t r;
    CHECK(tp_join_trace_reader_open(&r, path) != 0);
    unlink(path);
    CHECK(tp_join_trace_reader_open(&r, path) != 0); /* missing */
}

static void rm_tree(const char *dir)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/tp-join-trace-XXXXXX");
    if (mkdtemp(g_dir) == NULL) return 1;
    tp_ipc_context_init(&g_ipc);
    g_ipc.base_dir = g_dir;
    /* the namespace directory exists once a subscription or publication made it */
    char ipcdir[400];
    tp_ipc_context_dir(&g_ipc, ipcdir, sizeof ipcdir);
    char cmd[500];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", ipcdir);
    if (system(cmd) != 0) return 1;
    RUN(unwatched_records_nothing);
    RUN(ring_is_bounded_newest_first_and_allocation_free);
    RUN(decoders_refuse_inconsistent_bytes);
    RUN(reader_refuses_other_files);
    rm_tree(g_dir);
    TP_TEST_END();
}
