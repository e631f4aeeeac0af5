/* Producer and consumer clients against a driver pumped on the test thread:
 * what the regions' superblocks do over time, the timestamps the clients
 * carry, and a producer restart seen end to end (docs/spec/wire.md §3.1, §5.2, §5.3,
 * §10.2.1). */
#include "tp_test.h"

#include "driver_test_rig.h"
#include "tensorpool/consumer.h"
#include "tensorpool/producer.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_uri.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

/* The first 64 bytes of the file a region URI names; 0 or -1. */
static int read_superblock(const char *uri, uint32_t len, uint8_t out[64])
{
    tp_shm_uri_t u;
    if (tp_shm_uri_parse(uri, len, &u) != 0) return -1;
    const int fd = open(u.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t n = pread(fd, out, 64, 0);
    close(fd);
    return n == 64 ? 0 : -1;
}

typedef struct watch_s {
    int announces, bad;
    uint64_t last_ts, epoch, activity_first, activity_last;
    uint8_t ring[64], pool[64]; /* superblocks as first seen in the epoch */
} watch_t;
static watch_t g_w;

/* Bytes other than activity_timestamp_ns unchanged since the snapshot. */
static int same_but_activity(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, TP_SHM_ACTIVITY_OFFSET) == 0 &&
           memcmp(a + TP_SHM_ACTIVITY_OFFSET + 8, b + TP_SHM_ACTIVITY_OFFSET + 8,
                  TP_SHM_SUPERBLOCK_SIZE - TP_SHM_ACTIVITY_OFFSET - 8) == 0;
}

static void on_announce(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)info;
    tp_control_shm_pool_announce_dec_t m;
    if (tp_control_shm_pool_announce_decode(&m, buf, len) != 0) return;
    g_w.announces++;
    const uint64_t ts = tp_control_shm_pool_announce_announce_timestamp_ns(&m);
    if (tp_control_shm_pool_announce_header_slot_bytes(&m) != 256) g_w.bad++; /* W-10.1.1.b */
    if (tp_control_shm_pool_announce_announce_clock_domain(&m) != TP_CONTROL_CLOCK_DOMAIN_MONOTONIC ||
        ts < g_w.last_ts || ts > (uint64_t)tp_clock_monotonic_ns())
        g_w.bad++;
    g_w.last_ts = ts;
    uint8_t ring[64], pool[64];
    uint32_t n = 0;
    const char *u = tp_control_shm_pool_announce_header_region_uri(&m, &n);
    if (read_superblock(u, n, ring) != 0) {
        g_w.bad++;
        return;
    }
    tp_control_shm_pool_announce_payload_pools_iter_t it;
    tp_control_shm_pool_announce_payload_pools_iter(&m, &it);
    if (tp_control_shm_pool_announce_payload_pools_next(&it) != 1) {
        g_w.bad++;
        return;
    }
    u = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &n);
    if (read_superblock(u, n, pool) != 0) {
        g_w.bad++;
        return;
    }
    tp_superblock_t sb;
    tp_superblock_read(ring, &sb);
    const uint64_t epoch = tp_control_shm_pool_announce_epoch(&m);
    if (sb.magic != TP_SHM_MAGIC || sb.epoch != epoch || sb.stream_id != 10000) g_w.bad++;
    if (epoch != g_w.epoch) { /* a new epoch: new files, new snapshot */
        g_w.epoch = epoch;
        memcpy(g_w.ring, ring, 64);
        memcpy(g_w.pool, pool, 64);
        g_w.activity_first = g_w.activity_last = sb.activity_timestamp_ns;
        return;
    }
    if (!same_but_activity(ring, g_w.ring) || !same_but_activity(pool, g_w.pool)) g_w.bad++;
    if (sb.activity_timestamp_ns < g_w.activity_last) g_w.bad++;
    g_w.activity_last = sb.activity_timestamp_ns;
}

typedef struct frames_s {
    int n, bad;
    uint64_t epoch, first_seq, last_seq, last_slot_ts, last_desc_ts;
    int64_t desc_lo, desc_hi; /* the window the current offer ran in */
} frames_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    frames_t *r = clientd;
    if (f->epoch != r->epoch) { /* the first frame of an epoch */
        r->epoch = f->epoch;
        r->first_seq = f->seq;
        r->last_desc_ts = 0;
    }
    r->n++;
    r->last_seq = f->seq;
    /* W-15.7.b: the descriptor's publish time never goes back */
    if (f->descriptor_timestamp_ns < r->last_desc_ts) r->bad++;
    r->last_desc_ts = f->descriptor_timestamp_ns;
    r->last_slot_ts = f->header->timestamp_ns;
}

static tp_client_context_t g_ctx;

static void ctx_init(void)
{
    tp_client_context_init(&g_ctx);
    snprintf(g_ctx.base_dir, sizeof g_ctx.base_dir, "%s", g_rig_dir);
    g_ctx.announce_period_ns = 100000000; /* the rig driver's period */
}

static void pump(tp_producer_t *p, tp_consumer_t *c, tp_ipc_subscription_t *ann, frames_t *fr)
{
    const int64_t now = tp_clock_monotonic_ns();
    tp_driver_do_work(g_drv, now);
    if (p != NULL) tp_producer_do_work(p, now);
    if (c != NULL) tp_consumer_poll(c, now, on_frame, fr, 64);
    if (ann != NULL) tp_ipc_subscription_poll(ann, on_announce, NULL, 64);
    usleep(1000);
}

static void offer(tp_producer_t *p, frames_t *fr, uint64_t capture_ts)
{
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 16;
    uint8_t src[16] = {0};
    fr->desc_lo = tp_clock_monotonic_ns();
    CHECK_EQ_I64(tp_producer_offer(p, &t, src, 16, capture_ts, NULL), 0);
    fr->desc_hi = tp_clock_monotonic_ns();
}

static void close_pair(tp_producer_t *p, tp_consumer_t *c)
{
    tp_consumer_close(c);
    tp_producer_close(p);
    rig_teardown();
}

/* A new rig, and a producer and a consumer of stream 10000 on g_ctx (with
 * qos_interval_ns if not 0), pumped until both are in the same epoch
 * (bounded). 0, or -1 if either did not open. */
static int open_pair(tp_producer_t **p, tp_consumer_t **c, frames_t *fr, int64_t qos_interval_ns)
{
    rig_setup(NULL);
    ctx_init();
    if (qos_interval_ns != 0) g_ctx.qos_interval_ns = qos_interval_ns;
    *p = NULL;
    *c = NULL;
    CHECK_EQ_I64(tp_producer_open(p, &g_ctx, 10000, 0, "cam", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(c, &g_ctx, 10000, 0), 0);
    if (*p == NULL || *c == NULL) return -1;
    memset(fr, 0, sizeof *fr);
    const int64_t until = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_clock_monotonic_ns() < until && !(tp_producer_is_active(*p) && tp_consumer_is_mapped(*c) &&
                                                tp_consumer_epoch(*c) == tp_producer_epoch(*p)))
        pump(*p, *c, NULL, fr);
    return 0;
}

/* W-7.1.b: for a second of traffic (frames committed, the driver refreshing
 * the activity timestamp every 100 ms, the producer's heartbeat) the
 * superblocks of the ring and the pool, read from the files each time an
 * announce arrives, never change except activity_timestamp_ns, which moves
 * forward.
 * W-15.7.b: the timestamps present are monotonic in their declared domain:
 * announce_timestamp_ns (declared MONOTONIC) never goes back and never runs
 * ahead of CLOCK_MONOTONIC; activity timestamps and FrameDescriptor
 * timestamps never go back.
 * W-10.1.1.b: every announce says header_slot_bytes 256. */
static void test_superblock_written_once_and_timestamps_monotonic(void)
{
    rig_setup(NULL);
    memset(&g_w, 0, sizeof g_w);
    ctx_init();
    tp_ipc_subscription_t *ann = NULL;
    CHECK_EQ_I64(tp_ipc_subscription_open(&ann, &g_rig_ipc, rig_channel(), 1000), 0);
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &g_ctx, 10000, 0, "cam", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &g_ctx, 10000, 0), 0);
    if (p == NULL || c == NULL || ann == NULL) return rig_teardown();
    frames_t fr;
    memset(&fr, 0, sizeof fr);
    /* at least 1.2 s, and until 5 announces and 100 frames were seen
     * (bounded: a loaded machine is slow, not wrong) */
    const int64_t start = tp_clock_monotonic_ns();
    while (tp_clock_monotonic_ns() < start + 20000000000LL &&
           (tp_clock_monotonic_ns() < start + 1200000000 || g_w.announces < 5 || fr.n <= 100 ||
            g_w.activity_last <= g_w.activity_first)) {
        if (tp_producer_is_active(p)) offer(p, &fr, (uint64_t)tp_clock_monotonic_ns());
        pump(p, c, ann, &fr);
    }
    CHECK(g_w.announces >= 5);
    CHECK_EQ_I64(g_w.bad, 0);
    CHECK(g_w.activity_last > g_w.activity_first); /* refreshed, in place */
    CHECK(fr.n > 100);
    CHECK_EQ_I64(fr.bad, 0);
    tp_consumer_close(c);
    tp_producer_close(p);
    tp_ipc_subscription_close(ann);
    rig_teardown();
}

/* A producer restart, end to end:
 * W-15.2.a: the restarted producer gets a higher epoch;
 * W-15.2.b: its seq restarts at 0, and the consumer drops the old epoch,
 *   remaps and accepts the new epoch's frames from seq 0 (no gap counted);
 * W-10.2.1.d: the slot carries the capture time the application gave, the
 *   descriptor the publish time, read after commit (inside the offer call);
 * W-10.2.1.f: the two differ and the consumer hands both over unchanged;
 * W-15.7.a: the descriptor's timestamp is a CLOCK_MONOTONIC reading (it lies
 *   in the monotonic window around the offer call). */
static void test_producer_restart_and_frame_timestamps(void)
{
    tp_producer_t *p;
    tp_consumer_t *c;
    frames_t fr;
    if (open_pair(&p, &c, &fr, 0) != 0) return rig_teardown();
    int64_t until;
    const uint64_t e1 = tp_producer_epoch(p);
    CHECK(e1 != 0 && tp_consumer_epoch(c) == e1);
    for (uint64_t i = 0; i < 10; i++) offer(p, &fr, 1000 + i); /* capture times from "the camera" */
    until = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_clock_monotonic_ns() < until && fr.n < 10) pump(p, c, NULL, &fr);
    CHECK_EQ_I64(fr.n, 10);
    CHECK_EQ_U64(fr.last_slot_ts, 1009);
    CHECK(fr.last_desc_ts >= (uint64_t)fr.desc_lo && fr.last_desc_ts <= (uint64_t)fr.desc_hi);

    tp_producer_close(p); /* restart */
    p = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &g_ctx, 10000, 0, "cam", NULL), 0);
    if (p == NULL) return rig_teardown();
    until = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_clock_monotonic_ns() < until && !(tp_producer_is_active(p) && tp_consumer_epoch(c) == tp_producer_epoch(p)))
        pump(p, c, NULL, &fr);
    const uint64_t e2 = tp_producer_epoch(p);
    CHECK(e2 > e1);
    CHECK_EQ_U64(tp_producer_next_seq(p), 0);
    CHECK_EQ_U64(tp_consumer_epoch(c), e2);
    for (uint64_t i = 0; i < 5; i++) offer(p, &fr, 2000 + i);
    until = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_clock_monotonic_ns() < until && fr.n < 15) pump(p, c, NULL, &fr);
    CHECK_EQ_I64(fr.n, 15);
    CHECK_EQ_U64(fr.epoch, e2);
    CHECK_EQ_U64(fr.first_seq, 0);
    CHECK_EQ_U64(fr.last_seq, 4);
    CHECK_EQ_U64(fr.last_slot_ts, 2004);
    CHECK(fr.last_desc_ts >= (uint64_t)fr.desc_lo && fr.last_desc_ts <= (uint64_t)fr.desc_hi);
    tp_shm_drops_t d;
    tp_consumer_drops(c, &d);
    CHECK_EQ_U64(d.drops_gap, 0);
    CHECK_EQ_U64(d.last_seq_seen, 4);
    close_pair(p, c);
}

/* consumer.c upkeep: a consumer polling fast reads the control side only
 * every few passes, so the first descriptor of a producer's new epoch can
 * come in a pass that has not read the driver's announce of it (the driver
 * announces before it answers the attach, §3.4 step 15, so the announce is
 * always there first). The descriptor is held, the pass reads the control
 * side, maps the new epoch and takes it: the frame is delivered, not counted
 * lost. The driver revokes the producer's lease, so it attaches again into
 * a new epoch while the consumer keeps its own lease. Each round polls the
 * consumer before the driver, so the round in which the producer becomes
 * active leaves the announce unread; the next poll comes at the time of the
 * previous one, so neither the time nor the pass count makes it read the
 * control side before the descriptors. (With the hold taken out, this test
 * fails with the frame counted lost_other_epoch.) */
static void test_new_epoch_frame_before_its_announce_is_read(void)
{
    tp_producer_t *p;
    tp_consumer_t *c;
    frames_t fr;
    if (open_pair(&p, &c, &fr, 0) != 0) return rig_teardown();
    const uint64_t e1 = tp_producer_epoch(p);
    const tp_lease_t *l = tp_driver_client_lease(tp_producer_driver_client(p));
    CHECK(l != NULL);
    if (l == NULL) return rig_teardown();
    CHECK_EQ_I64(tp_driver_revoke(g_drv, l->lease_id, "test"), 0); /* the producer attaches again: a new epoch */
    int64_t t = 0;
    const int64_t until = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_clock_monotonic_ns() < until && !(tp_producer_is_active(p) && tp_producer_epoch(p) != e1)) {
        t = tp_clock_monotonic_ns();
        tp_consumer_poll(c, t, on_frame, &fr, 64);
        tp_driver_do_work(g_drv, t);
        tp_producer_do_work(p, t);
        usleep(1000);
    }
    const uint64_t e2 = tp_producer_epoch(p);
    CHECK(e2 > e1);
    CHECK(tp_consumer_epoch(c) != e2); /* else this test shows nothing */
    offer(p, &fr, 3000);
    CHECK(tp_consumer_poll(c, t, on_frame, &fr, 64) >= 0);
    CHECK_EQ_I64(fr.n, 1);
    CHECK_EQ_U64(fr.epoch, e2);
    CHECK_EQ_U64(fr.first_seq, 0);
    CHECK_EQ_U64(fr.last_slot_ts, 3000);
    tp_consumer_counters_t k;
    tp_consumer_counters(c, &k);
    CHECK_EQ_U64(k.lost_other_epoch, 0);
    CHECK_EQ_U64(k.lost_unmapped, 0);
    close_pair(p, c);
}

/* Reads the whole payload, then asks whether the frame was intact. */
static void on_frame_read(void *clientd, const tp_frame_t *f)
{
    int *intact_and_torn = clientd;
    volatile uint8_t sum = 0;
    for (uint32_t i = 0; i < f->len; i++) sum = (uint8_t)(sum + f->payload[i]);
    (void)sum;
    intact_and_torn[tp_frame_intact(f) ? 0 : 1]++;
}

/* The one file `name` under <rig dir>/tensorpool-<user>/<ns>/10000/<epoch>/. */
static int epoch_file(uint64_t epoch, const char *name, char *out, size_t cap)
{
    char ns[1024];
    int found = -1;
    DIR *top = opendir(g_rig_dir);
    for (struct dirent *e = top != NULL ? readdir(top) : NULL; e != NULL && found != 0; e = readdir(top)) {
        if (strncmp(e->d_name, "tensorpool-", 11) != 0) continue;
        snprintf(ns, sizeof ns, "%s/%s", g_rig_dir, e->d_name);
        DIR *nd = opendir(ns);
        for (struct dirent *n = nd != NULL ? readdir(nd) : NULL; n != NULL && found != 0; n = readdir(nd)) {
            snprintf(out, cap, "%s/%s/10000/%llu/%s", ns, n->d_name, (unsigned long long)epoch, name);
            if (access(out, F_OK) == 0) found = 0;
        }
        if (nd != NULL) closedir(nd);
    }
    if (top != NULL) closedir(top);
    return found;
}

/* Someone truncates the pool of the live epoch (issue 14): the producer's
 * write is caught instead of killing the process, and the frame it went to
 * is refused at commit (it went nowhere a consumer can see), so no
 * descriptor goes out and the producer gives the epoch up at once, with the
 * reason. The consumer, which read nothing, notices on its liveness
 * schedule. Both carry on in a new epoch. The driver is not pumped
 * meanwhile, so the clients notice by themselves. */
static void test_truncated_pool_fails_stream_with_reason(void)
{
    tp_producer_t *p;
    tp_consumer_t *c;
    frames_t fr;
    if (open_pair(&p, &c, &fr, 50000000) != 0) return rig_teardown(); /* the producer checks its regions this often */
    int64_t until;
    const uint64_t e1 = tp_producer_epoch(p);
    char path[1400];
    CHECK(epoch_file(e1, "1.pool", path, sizeof path) == 0);
    const int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && ftruncate(fd, 0) == 0); /* (a partly kept page would still hold the slot) */
    if (fd >= 0) close(fd);

    tp_tensor_header_t t;
    const int32_t dims[1] = {16};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    const uint8_t src[16] = {0};
    CHECK_EQ_I64(tp_producer_offer(p, &t, src, 16, 1, NULL), -1); /* the payload write faults (caught) */
    CHECK_EQ_I64(tp_errcode(), TP_ERR_TRUNCATED);
    const char *pwhy = "", *cwhy = "";
    CHECK_EQ_U64(tp_producer_faults(p, &pwhy), 1); /* at once, not at the next check */
    CHECK(strstr(pwhy, "pool 1: file truncated") != NULL);
    CHECK(!tp_producer_is_active(p));

    tp_shm_drops_t d0, d1;
    tp_consumer_drops(c, &d0);
    until = tp_clock_monotonic_ns() + 5000000000LL;
    int seen[2] = {0, 0}; /* intact, torn */
    while (tp_clock_monotonic_ns() < until && tp_consumer_faults(c, NULL) == 0) {
        tp_consumer_poll(c, tp_clock_monotonic_ns(), on_frame_read, seen, 64);
        usleep(1000);
    }
    tp_consumer_drops(c, &d1);
    CHECK_EQ_U64(tp_consumer_faults(c, &cwhy), 1);
    CHECK(strstr(cwhy, "pool 1: file truncated") != NULL);
    CHECK_EQ_I64(seen[0] + seen[1], 0); /* no descriptor for the refused frame */
    CHECK_EQ_U64(d1.drops_late, d0.drops_late);
    CHECK_EQ_U64(d1.accepted, d0.accepted);

    until = tp_clock_monotonic_ns() + 20000000000LL; /* everyone pumped again: a new epoch */
    while (tp_clock_monotonic_ns() < until && !(tp_producer_is_active(p) && tp_producer_epoch(p) > e1 &&
                                                tp_consumer_epoch(c) == tp_producer_epoch(p)))
        pump(p, c, NULL, &fr);
    CHECK(tp_producer_epoch(p) > e1 && tp_consumer_epoch(c) == tp_producer_epoch(p));
    const int before = fr.n;
    for (uint64_t i = 0; i < 5; i++) offer(p, &fr, 3000 + i);
    until = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_clock_monotonic_ns() < until && fr.n < before + 5) pump(p, c, NULL, &fr);
    CHECK_EQ_I64(fr.n, before + 5);
    CHECK_EQ_U64(fr.epoch, tp_producer_epoch(p));
    close_pair(p, c);
}

int main(void)
{
    RUN(test_superblock_written_once_and_timestamps_monotonic);
    RUN(test_producer_restart_and_frame_timestamps);
    RUN(test_new_epoch_frame_before_its_announce_is_read);
    RUN(test_truncated_pool_fails_stream_with_reason);
    TP_TEST_END();
}
