/* Forged, replayed and lost messages, with real processes (docs/threat-model.md,
 * issue 14 items 2 and 5).
 *
 * A driver, a producer (~2 kHz) and two consumers run as separate processes
 * on stream 10000 (100 ms keepalives, 3 s lease time, 500 ms announces).
 *
 * test_forger: a forger process of the same uid (the strongest sender the
 * threat model has short of writing into other logs) publishes, one at a
 * time, 300 ms apart: an old FrameDescriptor replayed, one with a higher
 * epoch, one with a sequence far ahead, a ShmPoolAnnounce of a higher epoch
 * over the real files, a ShmLeaseRevoked for each consumer's lease, a
 * ShmDriverShutdown, and a detach and keepalives for each consumer's lease
 * to the driver. Bound (stated in docs/threat-model.md): no consumer goes
 * RECOVERY_BOUND_MS without a frame at any time during the attacks, no lease
 * is lost, each refusal is counted by cause, and each consumer's counters
 * add up to what the producer published (the forged higher-epoch
 * descriptors, counted as lost_other_epoch, taken out).
 *
 * test_stopped_consumer: consumer 0 is SIGSTOPped for 5 s (its lease
 * expires, its descriptor log may lap) and continued: every frame the
 * producer published is accepted or counted lost by cause, for both.
 *
 * When run as root, test_foreign_uid repeats the descriptor attacks from a
 * process of another uid in the directory's group: all of them are refused
 * as foreign and nothing else is counted.
 */
#include "tp_test.h"
#include "unit/driver_test_rig.h"

#include "tensorpool/consumer.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/monitor.h"
#include "tensorpool/producer.h"

#include <dirent.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define STREAM 10000u
#define NCONS 2
#define RECOVERY_BOUND_MS 1000 /* docs/threat-model.md: a consumer goes at most this long without a frame */

typedef struct cons_share_s {
    volatile int mapped;
    volatile int done;
    volatile int64_t last_frame_ns;
    volatile int64_t max_stall_ns; /* while share.watch */
    tp_shm_drops_t drops;
    tp_consumer_counters_t cnt;
    tp_driver_client_stats_t dc;
} cons_share_t;

typedef struct share_s {
    volatile int stop_driver, stop_producer, stop_consumers, watch;
    volatile int producer_done, driver_done;
    volatile uint64_t published, producer_epoch; /* frames of the current epoch */
    volatile uint64_t published_before;         /* frames of the producer's earlier epochs */
    volatile int producer_epochs, offer_failures;
    volatile uint64_t forged_other_epoch; /* descriptors the forger sent with an epoch the producer never had */
    volatile int forger_leases;            /* consumer leases the forger learnt from keepalives */
    tp_driver_stats_t driver;
    cons_share_t cons[NCONS];
} share_t;

static share_t *g_sh;

static void nap_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void client_ctx(tp_client_context_t *ctx)
{
    tp_client_context_init(ctx);
    snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", g_rig_dir);
    ctx->keepalive_interval_ns = 100000000;
    ctx->expiry_grace_intervals = 30;
    ctx->announce_period_ns = 500000000;
    ctx->qos_interval_ns = 200000000;
}

/* ---- the processes ---- */

/* The rig's profile and stream, with a lease time (3 s) and an announce
 * period (500 ms) that a loaded machine's scheduling does not break. */
static tp_driver_config_t *driver_config(void)
{
    static const char text[] =
        "[policies]\nlease_keepalive_interval_ms = 100\nlease_expiry_grace_intervals = 30\nannounce_period_ms = 500\n"
        "[profiles.camera]\nheader_nslots = 64\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
        "[streams.cam1]\nstream_id = 10000\nprofile = \"camera\"\n";
    tp_driver_config_defaults(&g_rig_cfg);
    if (tp_driver_config_parse(&g_rig_cfg, text, strlen(text)) != 0) {
        fprintf(stderr, "driver config: %s\n", tp_errmsg());
        _exit(1);
    }
    snprintf(g_rig_cfg.base_dir, sizeof g_rig_cfg.base_dir, "%s", g_rig_dir);
    return &g_rig_cfg;
}

static void driver_main(void)
{
    tp_driver_t *d = NULL;
    if (tp_driver_open(&d, driver_config(), NULL) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        _exit(1);
    }
    while (!g_sh->stop_driver) {
        tp_driver_do_work(d, tp_clock_monotonic_ns());
        nap_us(200);
    }
    tp_driver_stats(d, &g_sh->driver);
    g_sh->driver_done = 1;
    tp_driver_close(d, 0, NULL);
    _exit(0);
}

static void producer_main(void)
{
    tp_client_context_t ctx;
    client_ctx(&ctx);
    tp_producer_t *p = NULL;
    if (tp_producer_open(&p, &ctx, STREAM, 0, "forged", "forged-messages test") != 0) {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        _exit(1);
    }
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 64;
    uint8_t src[64] = {0};
    while (!g_sh->stop_producer) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_producer_do_work(p, now);
        if (tp_producer_is_active(p)) {
            const uint64_t e = tp_producer_epoch(p);
            if (e != g_sh->producer_epoch) { /* its lease was lost: a new epoch, seq from 0 */
                g_sh->published_before += g_sh->published;
                g_sh->published = 0;
                g_sh->producer_epoch = e;
                g_sh->producer_epochs++;
            }
            if (tp_producer_offer(p, &t, src, sizeof src, (uint64_t)now, NULL) != 0) g_sh->offer_failures++;
            g_sh->published = tp_producer_next_seq(p);
        }
        nap_us(500);
    }
    g_sh->producer_done = 1;
    tp_producer_close(p);
    _exit(0);
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)f;
    cons_share_t *cs = clientd;
    const int64_t now = tp_clock_monotonic_ns();
    if (g_sh->watch && cs->last_frame_ns != 0 && now - cs->last_frame_ns > cs->max_stall_ns)
        cs->max_stall_ns = now - cs->last_frame_ns;
    cs->last_frame_ns = now;
}

static void consumer_main(int i)
{
    cons_share_t *cs = &g_sh->cons[i];
    tp_client_context_t ctx;
    client_ctx(&ctx);
    tp_consumer_t *c = NULL;
    if (tp_consumer_open(&c, &ctx, STREAM, 0) != 0) {
        fprintf(stderr, "consumer %d: %s\n", i, tp_errmsg());
        _exit(1);
    }
    int64_t drain_until = 0;
    for (;;) {
        const int64_t now = tp_clock_monotonic_ns();
        tp_consumer_poll(c, now, on_frame, cs, 64);
        if (tp_consumer_is_mapped(c)) cs->mapped = 1;
        if (g_sh->watch && cs->last_frame_ns != 0 && now - cs->last_frame_ns > cs->max_stall_ns)
            cs->max_stall_ns = now - cs->last_frame_ns; /* a stall that has not ended yet */
        tp_consumer_drops(c, &cs->drops);
        if (g_sh->stop_consumers) {
            if (drain_until == 0) drain_until = now + 3000000000LL;
            const int drained = cs->drops.have_last && tp_consumer_is_mapped(c) && cs->drops.last_seq_seen + 1 >= g_sh->published;
            if (drained || now > drain_until) break;
        }
        nap_us(100);
    }
    tp_consumer_counters(c, &cs->cnt);
    tp_driver_client_stats(tp_consumer_driver_client(c), &cs->dc);
    cs->done = 1;
    tp_consumer_close(c);
    _exit(0);
}

/* ---- the forger ---- */

typedef struct forger_s {
    tp_ipc_context_t ipc;
    tp_ipc_publication_t *desc, *ctl;
    tp_ipc_subscription_t *ctl_sub;
    uint8_t buf[4096];
    /* learnt by listening to the control stream, as anyone in the group can */
    int nleases;
    uint64_t lease[8];
    uint32_t client[8];
    char ring_uri[600], pool_uri[600];
} forger_t;

static void forger_listen(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    forger_t *f = clientd;
    tp_driver_shm_lease_keepalive_dec_t k;
    tp_control_shm_pool_announce_dec_t a;
    if (tp_driver_shm_lease_keepalive_decode(&k, buf, len) == 0) {
        if (tp_driver_shm_lease_keepalive_role(&k) != TP_ROLE_CONSUMER || f->nleases == 8) return;
        const uint64_t l = tp_driver_shm_lease_keepalive_lease_id(&k);
        for (int i = 0; i < f->nleases; i++)
            if (f->lease[i] == l) return;
        f->lease[f->nleases] = l;
        f->client[f->nleases++] = tp_driver_shm_lease_keepalive_client_id(&k);
    } else if (tp_control_shm_pool_announce_decode(&a, buf, len) == 0 && tp_control_shm_pool_announce_stream_id(&a) == STREAM) {
        uint32_t n = 0;
        const char *s = tp_control_shm_pool_announce_header_region_uri(&a, &n);
        rig_copy(f->ring_uri, sizeof f->ring_uri, s, n);
        tp_control_shm_pool_announce_payload_pools_iter_t it;
        tp_control_shm_pool_announce_payload_pools_iter(&a, &it);
        if (tp_control_shm_pool_announce_payload_pools_next(&it) == 1) {
            s = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &n);
            rig_copy(f->pool_uri, sizeof f->pool_uri, s, n);
        }
    }
}

static void forge_descriptor(forger_t *f, uint64_t epoch, uint64_t seq)
{
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, f->buf, sizeof f->buf);
    tp_control_frame_descriptor_set_stream_id(&e, STREAM);
    tp_control_frame_descriptor_set_epoch(&e, epoch);
    tp_control_frame_descriptor_set_seq(&e, seq);
    tp_control_frame_descriptor_set_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    const long n = tp_control_frame_descriptor_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(f->desc, f->buf, (size_t)n);
}

static void forge_announce(forger_t *f, uint64_t epoch)
{
    tp_control_shm_pool_announce_enc_t e;
    tp_control_shm_pool_announce_encode_begin(&e, f->buf, sizeof f->buf);
    tp_control_shm_pool_announce_set_stream_id(&e, STREAM);
    tp_control_shm_pool_announce_set_producer_id(&e, 0);
    tp_control_shm_pool_announce_set_epoch(&e, epoch);
    tp_control_shm_pool_announce_set_announce_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    tp_control_shm_pool_announce_set_announce_clock_domain(&e, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC);
    tp_control_shm_pool_announce_set_layout_version(&e, 1);
    tp_control_shm_pool_announce_set_header_nslots(&e, 64);
    tp_control_shm_pool_announce_set_header_slot_bytes(&e, 256);
    tp_control_shm_pool_announce_payload_pools_encode_begin(&e, 1);
    tp_control_shm_pool_announce_payload_pools_encode_next(&e);
    tp_control_shm_pool_announce_payload_pools_set_pool_id(&e, 1);
    tp_control_shm_pool_announce_payload_pools_set_pool_nslots(&e, 64);
    tp_control_shm_pool_announce_payload_pools_set_stride_bytes(&e, 4096);
    tp_control_shm_pool_announce_payload_pools_put_region_uri(&e, f->pool_uri, strlen(f->pool_uri));
    tp_control_shm_pool_announce_put_header_region_uri(&e, f->ring_uri, strlen(f->ring_uri));
    const long n = tp_control_shm_pool_announce_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(f->ctl, f->buf, (size_t)n);
}

static void forge_revoked(forger_t *f, uint64_t lease, uint32_t client)
{
    tp_driver_shm_lease_revoked_enc_t e;
    tp_driver_shm_lease_revoked_encode_begin(&e, f->buf, sizeof f->buf);
    tp_driver_shm_lease_revoked_set_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    tp_driver_shm_lease_revoked_set_lease_id(&e, lease);
    tp_driver_shm_lease_revoked_set_stream_id(&e, STREAM);
    tp_driver_shm_lease_revoked_set_client_id(&e, client);
    tp_driver_shm_lease_revoked_set_role(&e, TP_DRIVER_ROLE_CONSUMER);
    tp_driver_shm_lease_revoked_set_reason(&e, TP_DRIVER_LEASE_REVOKE_REASON_REVOKED);
    tp_driver_shm_lease_revoked_put_error_message(&e, "forged", 6);
    const long n = tp_driver_shm_lease_revoked_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(f->ctl, f->buf, (size_t)n);
}

static void forge_shutdown(forger_t *f)
{
    tp_driver_shm_driver_shutdown_enc_t e;
    tp_driver_shm_driver_shutdown_encode_begin(&e, f->buf, sizeof f->buf);
    tp_driver_shm_driver_shutdown_set_timestamp_ns(&e, (uint64_t)tp_clock_monotonic_ns());
    tp_driver_shm_driver_shutdown_set_reason(&e, TP_DRIVER_SHUTDOWN_REASON_NORMAL);
    tp_driver_shm_driver_shutdown_put_error_message(&e, "forged", 6);
    const long n = tp_driver_shm_driver_shutdown_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(f->ctl, f->buf, (size_t)n);
}

static void forge_detach_and_keepalive(forger_t *f, uint64_t lease, uint32_t client)
{
    tp_driver_shm_detach_request_enc_t e;
    tp_driver_shm_detach_request_encode_begin(&e, f->buf, sizeof f->buf);
    tp_driver_shm_detach_request_set_correlation_id(&e, 424242);
    tp_driver_shm_detach_request_set_lease_id(&e, lease);
    tp_driver_shm_detach_request_set_stream_id(&e, STREAM);
    tp_driver_shm_detach_request_set_client_id(&e, client);
    tp_driver_shm_detach_request_set_role(&e, TP_DRIVER_ROLE_CONSUMER);
    long n = tp_driver_shm_detach_request_encode_end(&e);
    if (n > 0) tp_ipc_publication_offer(f->ctl, f->buf, (size_t)n);
    tp_driver_shm_lease_keepalive_enc_t k;
    tp_driver_shm_lease_keepalive_encode_begin(&k, f->buf, sizeof f->buf);
    tp_driver_shm_lease_keepalive_set_lease_id(&k, lease);
    tp_driver_shm_lease_keepalive_set_stream_id(&k, STREAM);
    tp_driver_shm_lease_keepalive_set_client_id(&k, client);
    tp_driver_shm_lease_keepalive_set_role(&k, TP_DRIVER_ROLE_CONSUMER);
    tp_driver_shm_lease_keepalive_set_client_timestamp_ns(&k, (uint64_t)tp_clock_monotonic_ns());
    n = tp_driver_shm_lease_keepalive_encode_end(&k);
    if (n > 0) tp_ipc_publication_offer(f->ctl, f->buf, (size_t)n);
}

/* Listen for ms, learning leases and URIs. */
static void forger_pause(forger_t *f, int ms)
{
    const int64_t until = tp_clock_monotonic_ns() + (int64_t)ms * 1000000;
    while (tp_clock_monotonic_ns() < until) {
        tp_ipc_subscription_poll(f->ctl_sub, forger_listen, f, 64);
        nap_us(1000);
    }
}

/* Move the logs of our own transport directory into the victim's, where
 * its subscriptions find them at their next rescan (1 s): what a group
 * member can do by hand. They keep their owner. */
static void plant_logs(const tp_ipc_context_t *own, const char *victim_dir)
{
    char dir[1024];
    if (tp_ipc_context_dir(own, dir, sizeof dir) != 0) _exit(4);
    DIR *d = opendir(dir);
    if (d == NULL) _exit(4);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0) continue;
        char from[1400], to[1400];
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        snprintf(to, sizeof to, "%s/%s", victim_dir, e->d_name);
        if (rename(from, to) != 0) _exit(5);
    }
    closedir(d);
}

/* all: every attack; otherwise the three descriptor attacks only. */
static void forger_main(int all, uid_t as_uid)
{
    static forger_t f;
    tp_ipc_context_init(&f.ipc);
    f.ipc.base_dir = g_rig_dir;
    char victim_dir[1024];
    if (tp_ipc_context_dir(&f.ipc, victim_dir, sizeof victim_dir) != 0) _exit(2);
    if (as_uid != 0) { /* another user of the directory's group (root's group 0 here) */
        if (setgroups(0, NULL) != 0 || setgid(0) != 0 || setuid(as_uid) != 0) _exit(3);
    }
    if (tp_ipc_publication_open(&f.desc, &f.ipc, "tp:ipc", 1100) != 0 ||
        tp_ipc_publication_open(&f.ctl, &f.ipc, "tp:ipc", 1000) != 0 ||
        tp_ipc_subscription_open(&f.ctl_sub, &f.ipc, "tp:ipc", 1000) != 0) {
        fprintf(stderr, "forger: %s\n", tp_errmsg());
        _exit(2);
    }
    if (as_uid != 0) {
        plant_logs(&f.ipc, victim_dir);
        forger_pause(&f, 1500);
    }
    forger_pause(&f, 400); /* keepalives every 100 ms: every lease is seen */
    const uint64_t epoch = g_sh->producer_epoch;
    forge_descriptor(&f, epoch, 5); /* an old descriptor, replayed */
    forger_pause(&f, 300);
    forge_descriptor(&f, epoch + 1, g_sh->published + 1); /* a higher epoch */
    g_sh->forged_other_epoch++;
    forger_pause(&f, 300);
    forge_descriptor(&f, epoch, g_sh->published + 1000000); /* a sequence far ahead */
    forger_pause(&f, 300);
    g_sh->forger_leases = f.nleases;
    if (all) {
        forge_announce(&f, epoch + 1); /* over the real files, whose superblocks say `epoch` */
        forger_pause(&f, 300);
        for (int i = 0; i < f.nleases; i++) forge_revoked(&f, f.lease[i], f.client[i]);
        forger_pause(&f, 300);
        forge_shutdown(&f);
        forger_pause(&f, 300);
        for (int i = 0; i < f.nleases; i++) forge_detach_and_keepalive(&f, f.lease[i], f.client[i]);
        forger_pause(&f, 300);
    }
    tp_ipc_publication_close(f.desc);
    tp_ipc_publication_close(f.ctl);
    tp_ipc_subscription_close(f.ctl_sub);
    _exit(0);
}

/* ---- the parent ---- */

static pid_t g_pid_driver, g_pid_prod, g_pid_cons[NCONS];

static pid_t spawn(void (*fn)(void))
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    return pid;
}

static int g_cons_index;
static void consumer_entry(void) { consumer_main(g_cons_index); }

static int wait_until(volatile int *flag, int ms)
{
    const int64_t until = tp_clock_monotonic_ns() + (int64_t)ms * 1000000;
    while (!*flag && tp_clock_monotonic_ns() < until) nap_us(2000);
    return *flag;
}

static void reap(pid_t pid, int ms)
{
    const int64_t until = tp_clock_monotonic_ns() + (int64_t)ms * 1000000;
    int st;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (tp_clock_monotonic_ns() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return;
        }
        nap_us(2000);
    }
}

/* Watch with the monitor behind `tp stat` until the forger exits: what it
 * refused to believe, into *st and *other_epoch. */
static void watch_forger(pid_t forger, tp_monitor_stats_t *st, uint64_t *other_epoch, uint64_t *announces)
{
    tp_monitor_config_t mc;
    tp_monitor_config_init(&mc);
    client_ctx(&mc.ctx);
    tp_monitor_t *m = NULL;
    memset(st, 0, sizeof *st);
    *other_epoch = *announces = 0;
    if (tp_monitor_open(&m, &mc) != 0) {
        reap(forger, 10000);
        return;
    }
    const int64_t until = tp_clock_monotonic_ns() + 10000000000LL;
    int status;
    while (waitpid(forger, &status, WNOHANG) == 0 && tp_clock_monotonic_ns() < until) {
        tp_monitor_poll(m, tp_clock_monotonic_ns(), 256);
        nap_us(1000);
    }
    reap(forger, 100);
    tp_monitor_poll(m, tp_clock_monotonic_ns(), 256);
    tp_monitor_stats(m, st);
    for (uint32_t i = 0; i < tp_monitor_stream_count(m); i++) {
        *other_epoch += tp_monitor_stream(m, i)->desc_other_epoch;
        *announces += tp_monitor_stream(m, i)->refused_announces;
    }
    tp_monitor_close(m);
}

/* Driver, two consumers mapped, then the producer; returns once both
 * consumers read frames (watching for stalls from then on). 0 or -1. */
static int start_system(const char *name)
{
    snprintf(g_rig_dir, sizeof g_rig_dir, "/dev/shm/tp-%s-XXXXXX", name);
    if (mkdtemp(g_rig_dir) == NULL) return -1;
    chmod(g_rig_dir, 0770);
    memset(g_sh, 0, sizeof *g_sh);
    g_pid_driver = spawn(driver_main);
    nap_us(300000);
    for (int i = 0; i < NCONS; i++) {
        g_cons_index = i;
        g_pid_cons[i] = spawn(consumer_entry);
    }
    for (int i = 0; i < NCONS; i++)
        if (!wait_until(&g_sh->cons[i].mapped, 5000)) return -1;
    g_pid_prod = spawn(producer_main);
    for (int i = 0; i < NCONS; i++) {
        const int64_t until = tp_clock_monotonic_ns() + 5000000000LL;
        while (g_sh->cons[i].last_frame_ns == 0 && tp_clock_monotonic_ns() < until) nap_us(2000);
        if (g_sh->cons[i].last_frame_ns == 0) return -1;
    }
    g_sh->watch = 1;
    return 0;
}

static void stop_system(void)
{
    g_sh->watch = 0;
    g_sh->stop_producer = 1;
    wait_until(&g_sh->producer_done, 3000);
    reap(g_pid_prod, 3000);
    g_sh->stop_consumers = 1;
    for (int i = 0; i < NCONS; i++) {
        wait_until(&g_sh->cons[i].done, 6000);
        reap(g_pid_cons[i], 3000);
    }
    g_sh->stop_driver = 1;
    wait_until(&g_sh->driver_done, 3000);
    reap(g_pid_driver, 3000);
    nftw(g_rig_dir, rig_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every frame published (in every epoch of the producer) is accepted or
 * counted lost by cause; forged higher-epoch descriptors are in
 * lost_other_epoch and taken out. */
static void check_accounting(int i, uint64_t forged_other_epoch)
{
    const cons_share_t *cs = &g_sh->cons[i];
    const tp_shm_drops_t *d = &cs->drops;
    const tp_consumer_counters_t *k = &cs->cnt;
    const uint64_t counted = d->accepted + d->drops_gap + d->drops_late + d->drops_invalid + k->lost_unmapped +
                             k->lost_other_epoch + k->lost_stale_epoch - forged_other_epoch;
    const uint64_t published = g_sh->published_before + g_sh->published;
    printf("consumer %d: published %" PRIu64 " = accepted %" PRIu64 " + gap %" PRIu64 " + late %" PRIu64
           " + invalid %" PRIu64 " + unmapped %" PRIu64 " + other-epoch %" PRIu64 " (forged %" PRIu64
           ") + stale-epoch %" PRIu64 " (%d producer epochs); refused: replayed %" PRIu64 " unwritten %" PRIu64
           " announce %" PRIu64 " foreign %" PRIu64 " not-driver %" PRIu64 "; leases lost %" PRIu64
           "; longest stall %.0f ms\n",
           i, published, d->accepted, d->drops_gap, d->drops_late, d->drops_invalid, k->lost_unmapped,
           k->lost_other_epoch, forged_other_epoch, k->lost_stale_epoch, g_sh->producer_epochs, k->refused_replayed,
           k->refused_unwritten, k->refused_announce, k->refused_foreign + cs->dc.refused_foreign,
           cs->dc.refused_not_driver, cs->dc.lost, (double)cs->max_stall_ns / 1e6);
    CHECK(cs->done);
    CHECK_EQ_U64(counted, published);
}

/* start_system, or a failed check and everything stopped. 0 or -1. */
static int start_or_fail(const char *name)
{
    if (start_system(name) == 0) return 0;
    CHECK(!"system did not start");
    stop_system();
    return -1;
}

/* A running system and a forger (forger_main(all, uid)) watched by the
 * monitor until it exits. 0 or -1. */
static int run_forger(const char *name, int all, uid_t uid, tp_monitor_stats_t *mst, uint64_t *mother, uint64_t *mann)
{
    if (start_or_fail(name) != 0) return -1;
    nap_us(300000);
    const pid_t forger = fork();
    if (forger == 0) forger_main(all, uid);
    watch_forger(forger, mst, mother, mann);
    return 0;
}

static void test_forger(void)
{
    tp_monitor_stats_t mst;
    uint64_t mother = 0, mann = 0;
    if (run_forger("forged", 1, 0, &mst, &mother, &mann) != 0) return;
    nap_us(500000);
    stop_system();
    CHECK_EQ_I64(g_sh->producer_epochs, 1);
    CHECK_EQ_I64(g_sh->offer_failures, 0);
    CHECK_EQ_I64(g_sh->forger_leases, NCONS);
    for (int i = 0; i < NCONS; i++) {
        const cons_share_t *cs = &g_sh->cons[i];
        check_accounting(i, g_sh->forged_other_epoch);
        CHECK(cs->max_stall_ns < (int64_t)RECOVERY_BOUND_MS * 1000000);
        CHECK_EQ_U64(cs->dc.lost, 0);     /* no forged revocation, shutdown or detach ended the lease */
        CHECK_EQ_U64(cs->dc.attached, 1);
        CHECK_EQ_U64(cs->cnt.refused_replayed, 1);
        CHECK_EQ_U64(cs->cnt.refused_unwritten, 1);
        CHECK_EQ_U64(cs->cnt.lost_stale_epoch, 0);
        /* W-15.21.d: a descriptor of another epoch is dropped (counted), never
         * accepted before that epoch's regions are mapped */
        CHECK(cs->cnt.lost_other_epoch >= 1);
        /* the announce, the revocation of its own lease, the shutdown (the
         * other consumer's revocation concerns another lease and is ignored) */
        CHECK(cs->dc.refused_not_driver >= 3);
    }
    CHECK_EQ_U64(g_sh->driver.refused_not_owner, 2 * NCONS); /* one detach and one keepalive per lease */
    CHECK_EQ_U64(g_sh->driver.revocations, 1 + NCONS);       /* only the real detaches at the end */
    CHECK_EQ_U64(mother, 1); /* tp stat: the higher-epoch descriptor, kept out of the frame count */
    CHECK_EQ_U64(mst.refused_foreign, 0);
    CHECK_EQ_U64(mann, 1); /* tp stat: the forged announce did not move the stream's epoch */
}

static void test_stopped_consumer(void)
{
    if (start_or_fail("stopped") != 0) return;
    nap_us(300000);
    kill(g_pid_cons[0], SIGSTOP);
    nap_us(5000000);
    g_sh->cons[0].last_frame_ns = 0; /* its stall while stopped is the test's doing */
    kill(g_pid_cons[0], SIGCONT);
    nap_us(1500000);
    stop_system();
    CHECK_EQ_I64(g_sh->offer_failures, 0);
    for (int i = 0; i < NCONS; i++) check_accounting(i, 0);
    const cons_share_t *c0 = &g_sh->cons[0];
    CHECK(c0->dc.lost >= 1); /* its lease expired while stopped */
    CHECK(c0->cnt.lost_unmapped + c0->drops.drops_gap > 0);
    CHECK(g_sh->cons[1].max_stall_ns < (int64_t)RECOVERY_BOUND_MS * 1000000);
}

static void test_foreign_uid(void)
{
    if (geteuid() != 0) TP_SKIP("test_foreign_uid needs root to act as another uid");
    /* every directory is 0770 with group root: the forger (uid 65534, group
     * root) may write in them, as a group member may in a deployment */
    tp_monitor_stats_t mst;
    uint64_t mother = 0, mann = 0;
    if (run_forger("foreign", 0, 65534, &mst, &mother, &mann) != 0) return;
    CHECK(mst.refused_foreign >= 3); /* tp stat: the three descriptors (and the forger's own control traffic) */
    CHECK_EQ_U64(mother, 0);
    nap_us(300000);
    stop_system();
    for (int i = 0; i < NCONS; i++) {
        const cons_share_t *cs = &g_sh->cons[i];
        check_accounting(i, 0); /* nothing forged was even counted as a frame */
        CHECK_EQ_U64(cs->cnt.refused_foreign, 3);
        CHECK_EQ_U64(cs->cnt.refused_replayed + cs->cnt.refused_unwritten, 0);
        CHECK(cs->max_stall_ns < (int64_t)RECOVERY_BOUND_MS * 1000000);
    }
}

int main(void)
{
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_sh == MAP_FAILED) return 1;
    RUN(test_forger);
    RUN(test_stopped_consumer);
    RUN(test_foreign_uid);
    TP_TEST_END();
}
