/* Monitor: the picture it builds from control, descriptor and QoS traffic,
 * fed here by hand-made messages on a private transport directory. */
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/clock.h"
#include "tensorpool/ipc.h"
#include "tensorpool/merge_map.h"
#include "tensorpool/merge_map_codec.h"
#include "tensorpool/monitor.h"
#include "alloc_count.h"
#include "tp_test.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS 1000000LL

static char dir[128];
static tp_ipc_context_t ipc;
static tp_ipc_publication_t *ctl, *desc, *qos;

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

static void descriptor(uint32_t stream, uint64_t seq)
{
    uint8_t buf[64];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
    tp_control_frame_descriptor_set_stream_id(&e, stream);
    tp_control_frame_descriptor_set_epoch(&e, 7);
    tp_control_frame_descriptor_set_seq(&e, seq);
    tp_control_frame_descriptor_set_timestamp_ns(&e, 1000 + seq);
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    const long n = tp_control_frame_descriptor_encode_end(&e);
    CHECK(n > 0 && tp_ipc_publication_offer(desc, buf, (size_t)n) > 0);
}

static void seq_map(tp_merge_map_t *m)
{
    tp_merge_map_init(m, TP_MERGE_KIND_SEQUENCE, 2);
    tp_merge_map_reset(m, 100, 1);
    tp_merge_map_add_offset(m, 1, 0);
    tp_merge_map_add_offset(m, 2, -2);
}

static const tp_monitor_join_t *join_of(const tp_monitor_t *m, uint32_t out)
{
    for (uint32_t i = 0; i < tp_monitor_join_count(m); i++)
        if (tp_monitor_join(m, i)->out_stream_id == out) return tp_monitor_join(m, i);
    return NULL;
}

static const tp_monitor_stream_t *stream_of(const tp_monitor_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < tp_monitor_stream_count(m); i++)
        if (tp_monitor_stream(m, i)->stream_id == id) return tp_monitor_stream(m, i);
    return NULL;
}

/* A monitor of the test's directory (default live window). */
static tp_monitor_t *open_monitor(void)
{
    tp_monitor_config_t cfg;
    tp_monitor_config_init(&cfg);
    snprintf(cfg.ctx.base_dir, sizeof cfg.ctx.base_dir, "%s", dir);
    tp_monitor_t *m = NULL;
    CHECK(tp_monitor_open(&m, &cfg) == 0);
    return m;
}

static void test_join_states_and_streams(void)
{
    tp_monitor_t *m = open_monitor();
    int64_t now = 1000 * MS;
    tp_monitor_poll(m, now, 0);
    tp_monitor_refresh(m, now);

    /* A stage asks for a map nobody announced: waiting-map. */
    tp_merge_request_t req = {TP_MERGE_KIND_SEQUENCE, 100, 1};
    uint8_t buf[512];
    long n = tp_merge_request_encode(&req, buf, sizeof buf);
    CHECK(n > 0 && tp_ipc_publication_offer(ctl, buf, (size_t)n) > 0);
    now += 100 * MS;
    CHECK(tp_monitor_poll(m, now, 0) == 1);
    tp_monitor_refresh(m, now);
    const tp_monitor_join_t *j = join_of(m, 100);
    CHECK(j != NULL && j->state == TP_MONITOR_JOIN_WAITING_MAP && j->requests == 1 && !j->announced);

    /* The map arrives; only stream 1 flows: blocked on 2. */
    tp_merge_map_t map;
    seq_map(&map);
    n = tp_merge_announce_encode(&map, 0, buf, sizeof buf);
    CHECK(n > 0 && tp_ipc_publication_offer(ctl, buf, (size_t)n) > 0);
    for (uint64_t s = 0; s < 10; s++) descriptor(1, s);
    now += 1000 * MS;
    tp_monitor_poll(m, now, 0);
    tp_monitor_refresh(m, now);
    j = join_of(m, 100);
    CHECK(j != NULL && j->announced && j->rule_count == 2 && j->rules[1].offset == -2);
    CHECK(j->state == TP_MONITOR_JOIN_BLOCKED && j->silent_count == 1 && j->silent[0] == 2);
    const tp_monitor_stream_t *s1 = stream_of(m, 1);
    CHECK(s1 != NULL && s1->frames == 10 && s1->last_seq == 9 && s1->last_desc_epoch == 7);
    CHECK(s1 != NULL && s1->rate_hz > 9.9 && s1->rate_hz < 10.1); /* 10 frames in 1 s */

    /* Stream 2 (two frames late) flows too: output 9 needs 1[9] and 2[7].
     * Polling known traffic allocates nothing. */
    for (uint64_t s = 0; s < 8; s++) descriptor(2, s);
    now += 500 * MS;
    const uint64_t allocs = tp_alloc_count();
    CHECK(tp_monitor_poll(m, now, 0) == 8);
    CHECK_EQ_U64(tp_alloc_count() - allocs, 0);
    tp_monitor_refresh(m, now);
    j = join_of(m, 100);
    CHECK(j->state == TP_MONITOR_JOIN_FLOWING && j->silent_count == 0);
    CHECK_EQ_U64(j->ready_through, 9);

    /* Everything silent for longer than the live window: blocked on both. */
    now += 4000 * MS;
    tp_monitor_poll(m, now, 0);
    tp_monitor_refresh(m, now);
    j = join_of(m, 100);
    CHECK(j->state == TP_MONITOR_JOIN_BLOCKED && j->silent_count == 2);
    CHECK(stream_of(m, 1)->rate_hz == 0.0);

    /* A newer epoch of the map replaces the old row. */
    tp_merge_map_reset(&map, 100, 2);
    tp_merge_map_add_offset(&map, 1, 0);
    n = tp_merge_announce_encode(&map, 0, buf, sizeof buf);
    CHECK(n > 0 && tp_ipc_publication_offer(ctl, buf, (size_t)n) > 0);
    tp_monitor_poll(m, now, 0);
    CHECK_EQ_U64(tp_monitor_join_count(m), 1);
    CHECK(join_of(m, 100)->epoch == 2 && join_of(m, 100)->rule_count == 1 && join_of(m, 100)->requests == 0);
    tp_merge_map_close(&map);

    /* Leases from keepalives; consumer drops from QoS; a revoke ends the lease. */
    tp_driver_shm_lease_keepalive_enc_t ka;
    tp_driver_shm_lease_keepalive_encode_begin(&ka, buf, sizeof buf);
    tp_driver_shm_lease_keepalive_set_lease_id(&ka, 42);
    tp_driver_shm_lease_keepalive_set_stream_id(&ka, 1);
    tp_driver_shm_lease_keepalive_set_client_id(&ka, 5);
    tp_driver_shm_lease_keepalive_set_role(&ka, 2);
    tp_driver_shm_lease_keepalive_set_client_timestamp_ns(&ka, 1);
    n = tp_driver_shm_lease_keepalive_encode_end(&ka);
    CHECK(n > 0 && tp_ipc_publication_offer(ctl, buf, (size_t)n) > 0);
    tp_control_qos_consumer_enc_t q;
    tp_control_qos_consumer_encode_begin(&q, buf, sizeof buf);
    tp_control_qos_consumer_set_stream_id(&q, 1);
    tp_control_qos_consumer_set_consumer_id(&q, 5);
    tp_control_qos_consumer_set_epoch(&q, 7);
    tp_control_qos_consumer_set_last_seq_seen(&q, 9);
    tp_control_qos_consumer_set_drops_gap(&q, 3);
    tp_control_qos_consumer_set_drops_late(&q, 4);
    tp_control_qos_consumer_set_mode(&q, TP_CONTROL_MODE_STREAM);
    n = tp_control_qos_consumer_encode_end(&q);
    CHECK(n > 0 && tp_ipc_publication_offer(qos, buf, (size_t)n) > 0);
    tp_monitor_poll(m, now, 0);
    CHECK_EQ_U64(tp_monitor_client_count(m), 1);
    const tp_monitor_client_t *c = tp_monitor_client(m, 0);
    CHECK(c->lease_id == 42 && c->role == 2 && c->has_qos && c->drops_gap == 3 && c->drops_late == 4);
    /* the keepalive came in through a log this process opened: its pid is the client's */
    CHECK_EQ_U64((uint64_t)c->pid, (uint64_t)getpid());
    tp_driver_shm_lease_revoked_enc_t rv;
    tp_driver_shm_lease_revoked_encode_begin(&rv, buf, sizeof buf);
    tp_driver_shm_lease_revoked_set_timestamp_ns(&rv, 1);
    tp_driver_shm_lease_revoked_set_lease_id(&rv, 42);
    tp_driver_shm_lease_revoked_set_stream_id(&rv, 1);
    tp_driver_shm_lease_revoked_set_client_id(&rv, 5);
    tp_driver_shm_lease_revoked_set_role(&rv, 2);
    tp_driver_shm_lease_revoked_set_reason(&rv, 1);
    tp_driver_shm_lease_revoked_put_error_message(&rv, "", 0);
    n = tp_driver_shm_lease_revoked_encode_end(&rv);
    CHECK(n > 0 && tp_ipc_publication_offer(ctl, buf, (size_t)n) > 0);
    tp_monitor_poll(m, now, 0);
    CHECK(tp_monitor_client(m, 0)->revoked == 1);

    /* A stream announced with a ring that is not there: the superblock row says why. */
    tp_control_shm_pool_announce_enc_t a;
    char uri[256];
    const int ul = snprintf(uri, sizeof uri, "shm:file?path=%s/no-such-ring", dir);
    tp_control_shm_pool_announce_encode_begin(&a, buf, sizeof buf);
    tp_control_shm_pool_announce_set_stream_id(&a, 3);
    tp_control_shm_pool_announce_set_producer_id(&a, 9);
    tp_control_shm_pool_announce_set_epoch(&a, 11);
    tp_control_shm_pool_announce_set_announce_timestamp_ns(&a, 1);
    tp_control_shm_pool_announce_set_announce_clock_domain(&a, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC);
    tp_control_shm_pool_announce_set_layout_version(&a, 1);
    tp_control_shm_pool_announce_set_header_nslots(&a, 16);
    tp_control_shm_pool_announce_set_header_slot_bytes(&a, 256);
    tp_control_shm_pool_announce_payload_pools_encode_begin(&a, 1);
    tp_control_shm_pool_announce_payload_pools_encode_next(&a);
    tp_control_shm_pool_announce_payload_pools_set_pool_id(&a, 1);
    tp_control_shm_pool_announce_payload_pools_set_pool_nslots(&a, 16);
    tp_control_shm_pool_announce_payload_pools_set_stride_bytes(&a, 4096);
    tp_control_shm_pool_announce_payload_pools_put_region_uri(&a, uri, (size_t)ul);
    tp_control_shm_pool_announce_put_header_region_uri(&a, uri, (size_t)ul);
    n = tp_control_shm_pool_announce_encode_end(&a);
    CHECK(n > 0 && tp_ipc_publication_offer(ctl, buf, (size_t)n) > 0);
    tp_monitor_poll(m, now, 0);
    tp_monitor_refresh(m, now);
    const tp_monitor_stream_t *s3 = stream_of(m, 3);
    CHECK(s3 != NULL && s3->announced && s3->epoch == 11 && s3->header_nslots == 16 && s3->stride_bytes == 4096);
    CHECK(s3 != NULL && !s3->sb_ok && s3->sb_error[0] != '\0');

    /* Garbage is counted, never fatal. */
    const uint8_t junk[3] = {1, 2, 3};
    CHECK(tp_ipc_publication_offer(ctl, junk, sizeof junk) > 0);
    tp_monitor_poll(m, now, 0);
    tp_monitor_stats_t st;
    tp_monitor_stats(m, &st);
    CHECK(st.malformed == 1 && st.lost == 0);
    tp_monitor_close(m);
}

/* Issue 13.7: a producer's name keeps its UTF-8 ("caméra-1") but nothing a
 * terminal would obey (ESC, C1 controls) nor ill-formed bytes. */
static void test_names_keep_utf8_drop_controls(void)
{
    tp_ipc_publication_t *meta;
    CHECK(tp_ipc_publication_open(&meta, &ipc, "tp:ipc", 1300) == 0);
    tp_monitor_t *m = open_monitor();
    tp_monitor_poll(m, 0, 0);
    static const struct {
        uint32_t stream;
        const char *name, *want;
    } cases[] = {
        {41, "cam\xc3\xa9ra-1", "cam\xc3\xa9ra-1"},
        {42, "x\x1b[2Jy\x07", "x?[2Jy?"},
        {43, "a\xc2\x9b" "1m", "a?1m"},          /* C1 CSI */
        {44, "b\xed\xa0\x80" "c\xff", "b???c?"}, /* surrogate, stray byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[256];
        tp_control_data_source_announce_enc_t e;
        tp_control_data_source_announce_encode_begin(&e, buf, sizeof buf);
        tp_control_data_source_announce_set_stream_id(&e, cases[i].stream);
        tp_control_data_source_announce_set_producer_id(&e, 1);
        tp_control_data_source_announce_set_epoch(&e, 1);
        tp_control_data_source_announce_set_meta_version(&e, 0);
        tp_control_data_source_announce_put_name(&e, cases[i].name, strlen(cases[i].name));
        tp_control_data_source_announce_put_summary(&e, "", 0);
        const long n = tp_control_data_source_announce_encode_end(&e);
        CHECK(n > 0 && tp_ipc_publication_offer(meta, buf, (size_t)n) > 0);
    }
    tp_monitor_poll(m, 100 * MS, 0);
    tp_monitor_refresh(m, 100 * MS);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tp_monitor_stream_t *s = stream_of(m, cases[i].stream);
        CHECK(s != NULL && strcmp(s->name, cases[i].want) == 0);
        if (s != NULL && strcmp(s->name, cases[i].want) != 0) fprintf(stderr, "name [%s]\n", s->name);
    }
    tp_monitor_close(m);
    tp_ipc_publication_close(meta);
}

/* A forger process names twice as many joins and streams as the picture
 * holds, each once; a join and a stream heard of afterwards still get in
 * (the longest-silent entries give way). */
static void test_forged_ids_do_not_fill_the_picture(void)
{
    tp_monitor_t *m = open_monitor();
    int64_t now = 100000 * MS;
    tp_monitor_poll(m, now, 0);
    const pid_t pid = fork();
    if (pid == 0) {
        tp_ipc_publication_t *c = NULL;
        if (tp_ipc_publication_open(&c, &ipc, "tp:ipc", 1000) != 0 || tp_ipc_publication_open(&desc, &ipc, "tp:ipc", 1100) != 0)
            _exit(1);
        uint8_t buf[64];
        for (uint32_t i = 0; i < 2 * TP_MONITOR_MAX_JOINS; i++) {
            const tp_merge_request_t req = {TP_MERGE_KIND_SEQUENCE, 5000 + i, 1};
            const long n = tp_merge_request_encode(&req, buf, sizeof buf);
            if (n <= 0 || tp_ipc_publication_offer(c, buf, (size_t)n) <= 0) _exit(2);
        }
        for (uint32_t i = 0; i < 2 * TP_MONITOR_MAX_STREAMS; i++) descriptor(6000 + i, 0);
        _exit(tp_test_failed_checks == 0 ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the monitor's subscriptions find the forger's logs on their
     * conductor's time: poll until the picture is full (5 s at most) */
    const int64_t until = tp_clock_monotonic_ns() + 5000 * MS;
    while ((tp_monitor_join_count(m) < TP_MONITOR_MAX_JOINS || tp_monitor_stream_count(m) < TP_MONITOR_MAX_STREAMS) &&
           tp_clock_monotonic_ns() < until) {
        if (tp_monitor_poll(m, now, 0) == 0) usleep(1000);
    }
    for (int i = 0; i < 100 && tp_monitor_poll(m, now, 0) > 0; i++) now += MS;
    CHECK(tp_monitor_join_count(m) == TP_MONITOR_MAX_JOINS);
    CHECK(tp_monitor_stream_count(m) == TP_MONITOR_MAX_STREAMS);

    now += 5000 * MS;
    tp_merge_map_t map;
    seq_map(&map);
    uint8_t buf[512];
    const long n = tp_merge_announce_encode(&map, 0, buf, sizeof buf);
    tp_merge_map_close(&map);
    CHECK(n > 0 && tp_ipc_publication_offer(ctl, buf, (size_t)n) > 0);
    descriptor(1, 0);
    tp_monitor_poll(m, now, 0);
    tp_monitor_refresh(m, now);
    const tp_monitor_join_t *j = join_of(m, 100);
    CHECK(j != NULL && j->announced && j->rule_count == 2);
    CHECK(stream_of(m, 1) != NULL);
    tp_monitor_close(m);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/dev/shm/tp-monitor-test-%d-XXXXXX", (int)getpid());
    if (mkdtemp(dir) == NULL) return 2;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = dir;
    if (tp_ipc_publication_open(&ctl, &ipc, "tp:ipc", 1000) != 0 || tp_ipc_publication_open(&desc, &ipc, "tp:ipc", 1100) != 0 ||
        tp_ipc_publication_open(&qos, &ipc, "tp:ipc", 1200) != 0)
        return 2;
    RUN(test_join_states_and_streams);
    RUN(test_names_keep_utf8_drop_controls);
    RUN(test_forged_ids_do_not_fill_the_picture);
    tp_ipc_publication_close(ctl);
    tp_ipc_publication_close(desc);
    tp_ipc_publication_close(qos);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TP_TEST_END();
}
