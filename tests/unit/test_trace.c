/* Trace ids, the TraceLinkSet codec glue and the lineage index
 * (docs/spec/tracelink.md). */
#include "alloc_count.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/tracelink.h"
#include "tensorpool/error.h"
#include "tensorpool/trace.h"
#include "tp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *interop_dir;
static const int64_t NOW = INT64_C(1780000000123456789); /* 2026 */

static void gen_ids_increase_and_carry_node(void) /* TL-6.1.a, TL-6.2.a, TL-6.3.a, TL-D1 */
{
    tp_trace_gen_t g;
    CHECK(tp_trace_gen_init(&g, 1024) < 0 && tp_errcode() == TP_ERR_INVALID_ARG);
    CHECK(tp_trace_gen_init(&g, 37) == 0);
    uint64_t prev = 0;
    int ok = 1;
    /* 10000 ids in one millisecond: past 4096 they borrow the next ms */
    for (int i = 0; i < 10000; i++) {
        const uint64_t id = tp_trace_gen_next(&g, NOW);
        uint32_t node, seq;
        uint64_t ms;
        tp_trace_id_parts(id, &ms, &node, &seq);
        if (id <= prev || node != 37 || ms < (uint64_t)(NOW / 1000000)) ok = 0;
        prev = id;
    }
    CHECK(ok);
    uint64_t ms;
    uint32_t seq;
    tp_trace_id_parts(prev, &ms, NULL, &seq);
    CHECK_EQ_U64(ms, (uint64_t)(NOW / 1000000) + 2); /* 4096 + 4096 + 1808 */
    CHECK_EQ_U64(seq, 10000 - 2 * 4096 - 1);
    /* a clock stepping back never repeats an id; a clock before 2020 never gives 0 */
    CHECK(tp_trace_gen_next(&g, NOW - INT64_C(5000000000)) > prev);
    tp_trace_gen_t z;
    tp_trace_gen_init(&z, 0);
    CHECK(tp_trace_gen_next(&z, 0) != 0);
}

static long read_vector(const char *name, uint8_t *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", interop_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -1;
    const size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

static void interop_link_decodes_to_reference_values(void) /* TL-9.2.a, TL-9.2.b */
{
    uint8_t buf[256], again[256];
    const long n = read_vector("tracelink_trace_link_set.bin", buf, sizeof buf);
    CHECK(n == 56);
    tp_trace_link_t l;
    CHECK(tp_trace_link_decode(&l, buf, (size_t)n) == 0);
    CHECK_EQ_U64(l.stream_id, 1000);
    CHECK_EQ_U64(l.epoch, 1);
    CHECK_EQ_U64(l.seq, 0);
    CHECK_EQ_U64(l.trace_id, 0x1234);
    CHECK_EQ_U64(l.parent_count, 2);
    CHECK_EQ_U64(l.parents[0], 0x1111);
    CHECK_EQ_U64(l.parents[1], 0x2222);
    CHECK_EQ_U64(tp_trace_link_length(2), 56);
    CHECK(tp_trace_link_encode(&l, again, sizeof again) == 56 && memcmp(again, buf, 56) == 0);
}

static void bad_links_refused_both_ways(void) /* TL-9.2.c */
{
    uint8_t buf[256];
    tp_trace_link_t l = {.stream_id = 7, .epoch = 1, .seq = 3, .trace_id = 99, .parent_count = 2, .parents = {5, 6}};
    const long n = tp_trace_link_encode(&l, buf, sizeof buf);
    CHECK(n == 56);
    tp_trace_link_t d;
    /* a parent of 0 */
    tp_sbe_put_u64(buf + 48, 0);
    CHECK(tp_trace_link_decode(&d, buf, (size_t)n) < 0 && tp_errcode() == TP_ERR_MALFORMED);
    /* a parent twice */
    tp_sbe_put_u64(buf + 48, 6);
    tp_sbe_put_u64(buf + 40, 6);
    CHECK(tp_trace_link_decode(&d, buf, (size_t)n) < 0 && strstr(tp_errmsg(), "twice") != NULL);
    /* no parents at all */
    tp_sbe_put_u16(buf + 38, 0);
    CHECK(tp_trace_link_decode(&d, buf, 40) < 0 && strstr(tp_errmsg(), "no parents") != NULL);
    /* output trace id 0, and the encoder refuses the same things */
    l.trace_id = 0;
    CHECK(tp_trace_link_encode(&l, buf, sizeof buf) < 0);
    l.trace_id = 99;
    l.parents[1] = 5;
    CHECK(tp_trace_link_encode(&l, buf, sizeof buf) < 0);
    l.parent_count = 0;
    CHECK(tp_trace_link_encode(&l, buf, sizeof buf) < 0);
    /* another schema is not ours; a larger blockLength is refused (TL-D2) */
    l.parent_count = 1;
    CHECK(tp_trace_link_encode(&l, buf, sizeof buf) == 48);
    tp_sbe_put_u16(buf + 4, 900);
    CHECK(tp_trace_link_decode(&d, buf, 48) < 0 && tp_errcode() == TP_ERR_NOT_MINE);
    tp_sbe_put_u16(buf + 4, 904);
    tp_sbe_put_u16(buf, 29);
    CHECK(tp_trace_link_decode(&d, buf, 48) < 0 && tp_errcode() == TP_ERR_MALFORMED);
    /* add_parent: skips 0 and duplicates, stops at 256 (TL-D6) */
    l.parent_count = 0;
    CHECK(tp_trace_link_add_parent(&l, 0) == 0);
    CHECK(tp_trace_link_add_parent(&l, 4) == 1);
    CHECK(tp_trace_link_add_parent(&l, 4) == 0);
    for (uint64_t p = 10; l.parent_count < TP_TRACE_MAX_PARENTS; p++) tp_trace_link_add_parent(&l, p);
    CHECK(tp_trace_link_add_parent(&l, 100000) == -1);
}

static long fd_msg(uint8_t *buf, uint32_t stream, uint64_t seq, uint64_t ts, uint64_t trace)
{
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, buf, 64);
    tp_control_frame_descriptor_set_stream_id(&e, stream);
    tp_control_frame_descriptor_set_epoch(&e, 4);
    tp_control_frame_descriptor_set_seq(&e, seq);
    tp_control_frame_descriptor_set_timestamp_ns(&e, ts);
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, trace);
    return tp_control_frame_descriptor_encode_end(&e);
}

typedef struct visit_s {
    int n;
    unsigned depth[16];
    uint64_t id[16];
    uint32_t stream[16];
} visit_t;

static void on_visit(void *clientd, unsigned depth, uint64_t id, const tp_trace_frame_t *f, uint32_t np)
{
    (void)np;
    visit_t *v = clientd;
    if (v->n >= 16) return;
    v->depth[v->n] = depth;
    v->id[v->n] = id;
    v->stream[v->n] = f != NULL ? f->stream_id : 0;
    v->n++;
}

/* Two hops: cam frames 11, 12 and imu 21 make join output 31; 31 and cam 13
 * make 41. A file of these messages (as tp trace record writes) walks back
 * to the roots; a descriptor without trace id is skipped. */
static void index_walks_two_hops_from_a_file(void) /* TL-8.1.a, TL-13.a */
{
    char path[] = "/tmp/tp-trace-test-XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    uint8_t b[512];
    long n;
    const struct { uint32_t s; uint64_t seq, id; } frames[] = {{1, 0, 11}, {1, 1, 12}, {3, 5, 21}, {1, 2, 13},
                                                                {9, 7, 0}};
    for (unsigned i = 0; i < 5; i++) {
        n = fd_msg(b, frames[i].s, frames[i].seq, 1000 + i, frames[i].id);
        fwrite(b, 1, (size_t)n, f);
    }
    tp_trace_link_t l = {.stream_id = 100, .epoch = 2, .seq = 0, .trace_id = 31, .parent_count = 3, .parents = {11, 12, 21}};
    n = tp_trace_link_encode(&l, b, sizeof b);
    fwrite(b, 1, (size_t)n, f);
    l = (tp_trace_link_t){.stream_id = 200, .epoch = 1, .seq = 9, .trace_id = 41, .parent_count = 2, .parents = {31, 13}};
    n = tp_trace_link_encode(&l, b, sizeof b);
    fwrite(b, 1, (size_t)n, f);
    fclose(f);

    tp_trace_index_t *ix;
    CHECK(tp_trace_index_create(&ix) == 0);
    CHECK(tp_trace_index_load(ix, path) == 6);
    CHECK_EQ_U64(tp_trace_index_link_count(ix), 2);
    CHECK_EQ_U64(tp_trace_index_frame_count(ix), 6); /* 4 traced descriptors + the 2 outputs */
    visit_t v = {0};
    CHECK(tp_trace_walk(ix, 41, 8, on_visit, &v) == 6);
    const uint64_t want_id[] = {41, 31, 11, 12, 21, 13};
    const unsigned want_depth[] = {0, 1, 2, 2, 2, 1};
    const uint32_t want_stream[] = {200, 100, 1, 1, 3, 1};
    for (int i = 0; i < 6; i++) {
        CHECK_EQ_U64(v.id[i], want_id[i]);
        CHECK_EQ_U64(v.depth[i], want_depth[i]);
        CHECK_EQ_U64(v.stream[i], want_stream[i]);
    }
    tp_trace_frame_t fr;
    CHECK(tp_trace_index_frame(ix, 21, &fr) == 0 && fr.seq == 5 && fr.epoch == 4 && fr.timestamp_ns == 1002);
    v.n = 0;
    CHECK(tp_trace_walk(ix, 41, 1, on_visit, &v) == 1); /* depth limit */
    CHECK(tp_trace_walk(ix, 777, 8, on_visit, &v) < 0 && tp_errcode() == TP_ERR_NOT_FOUND);
    tp_trace_index_destroy(ix);

    /* a cut-off message fails the load and names its offset */
    f = fopen(path, "ab");
    fwrite(b, 1, 20, f);
    fclose(f);
    CHECK(tp_trace_index_create(&ix) == 0);
    CHECK(tp_trace_index_load(ix, path) < 0 && strstr(tp_errmsg(), "byte offset") != NULL);
    tp_trace_index_destroy(ix);
    unlink(path);
}

static void hot_path_allocates_nothing(void) /* TL-5.b */
{
    tp_trace_gen_t g;
    tp_trace_gen_init(&g, 5);
    static tp_trace_link_t l, d;
    uint8_t buf[4096];
    const uint64_t before = tp_alloc_count();
    int ok = 1;
    for (int i = 0; i < 10000; i++) {
        l.trace_id = tp_trace_gen_next(&g, NOW + i);
        l.parent_count = 0;
        for (uint64_t p = 1; p <= 10; p++) tp_trace_link_add_parent(&l, p + (uint64_t)i);
        const long n = tp_trace_link_encode(&l, buf, sizeof buf);
        if (n < 0 || tp_trace_link_decode(&d, buf, (size_t)n) < 0 || d.parent_count != 10) ok = 0;
    }
    CHECK(ok);
    CHECK_EQ_U64(tp_alloc_count() - before, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s INTEROP_DIR\n", argv[0]);
        return 2;
    }
    interop_dir = argv[1];
    RUN(gen_ids_increase_and_carry_node);
    RUN(interop_link_decodes_to_reference_values);
    RUN(bad_links_refused_both_ways);
    RUN(index_walks_two_hops_from_a_file);
    RUN(hot_path_allocates_nothing);
    TP_TEST_END();
}
