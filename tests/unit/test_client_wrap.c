/* Client behaviour seen through link-time wrappers (-Wl,--wrap, see
 * driver.cmake): every libc call the library makes that can create,
 * truncate, rename or delete a file passes through the counters below, and
 * so does the transport's offer. The driver runs in this process, pumped on
 * this thread; what it (or the test harness) does is marked with g_not_client
 * and not held against the clients. */
#include "tp_test.h"

#include "driver_test_rig.h"
#include "tensorpool/codec/sbe.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/producer.h"
#include "tensorpool/shm_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

/* ---- wrappers ---- */

int __real_open(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
FILE *__real_fopen(const char *path, const char *mode);
int __real_ftruncate(int fd, off_t len);
int __real_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
int __real_mkdir(const char *path, mode_t mode);
int __real_mkdirat(int dirfd, const char *path, mode_t mode);
int __real_rename(const char *from, const char *to);
int __real_renameat(int fromfd, const char *from, int tofd, const char *to);
int __real_rmdir(const char *path);
int __real_unlink(const char *path);
int __real_unlinkat(int dirfd, const char *path, int flags);
int64_t __real_tp_ipc_publication_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length);

int __wrap_open(const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
FILE *__wrap_fopen(const char *path, const char *mode);
int __wrap_ftruncate(int fd, off_t len);
int __wrap_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
int __wrap_mkdir(const char *path, mode_t mode);
int __wrap_mkdirat(int dirfd, const char *path, mode_t mode);
int __wrap_rename(const char *from, const char *to);
int __wrap_renameat(int fromfd, const char *from, int tofd, const char *to);
int __wrap_rmdir(const char *path);
int __wrap_unlink(const char *path);
int __wrap_unlinkat(int dirfd, const char *path, int flags);
int64_t __wrap_tp_ipc_publication_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length);

static int g_not_client = 1;     /* the driver or the harness is running */
static char g_shm_root[PATH_MAX]; /* <base>/tensorpool-<user>/default; "" = not watching */
static int g_client_changes;     /* create/truncate/rename/delete in SHM by a client */
static int g_driver_changes;     /* the same by the driver: proves the wrappers see them */
static char g_first_change[PATH_MAX + 64];
enum { MAX_OPENED = 64 };
static char g_client_opened[MAX_OPENED][PATH_MAX]; /* SHM paths clients opened (any flags) */
static int g_nopened;
static int g_fail_keepalives; /* make ShmLeaseKeepalive offers fail */
static int g_keepalive_fails;

/* Absolute path of (dirfd, path); /proc/self/fd/N resolved to its file. */
static void resolve(int dirfd, const char *path, char *out, size_t cap)
{
    char base[PATH_MAX] = "";
    if (path == NULL) path = "";
    if (strncmp(path, "/proc/self/fd/", 14) == 0) {
        const ssize_t n = readlink(path, out, cap - 1);
        out[n > 0 ? n : 0] = '\0';
        return;
    }
    if (path[0] == '/') {
        snprintf(out, cap, "%s", path);
        return;
    }
    if (dirfd == AT_FDCWD) {
        if (getcwd(base, sizeof base) == NULL) base[0] = '\0';
    } else {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", dirfd);
        const ssize_t n = readlink(proc, base, sizeof base - 1);
        base[n > 0 ? n : 0] = '\0';
    }
    snprintf(out, cap, "%s/%s", base, path);
}

/* Inside the SHM namespace and not the transport's own directory. */
static int in_shm(const char *abs)
{
    const size_t n = strlen(g_shm_root);
    if (n == 0 || strncmp(abs, g_shm_root, n) != 0 || (abs[n] != '/' && abs[n] != '\0')) return 0;
    return strncmp(abs + n, "/ipc", 4) != 0 || (abs[n + 4] != '/' && abs[n + 4] != '\0');
}

static void changed(const char *what, int dirfd, const char *path)
{
    char abs[PATH_MAX];
    resolve(dirfd, path, abs, sizeof abs);
    if (!in_shm(abs)) return;
    if (g_not_client) {
        g_driver_changes++;
        return;
    }
    if (g_client_changes++ == 0) snprintf(g_first_change, sizeof g_first_change, "%s %s", what, abs);
}

static void opened(int dirfd, const char *path, int flags)
{
    if (flags & (O_CREAT | O_TRUNC)) changed(flags & O_CREAT ? "create" : "truncate", dirfd, path);
    char abs[PATH_MAX];
    resolve(dirfd, path, abs, sizeof abs);
    if (!g_not_client && in_shm(abs) && g_nopened < MAX_OPENED) snprintf(g_client_opened[g_nopened++], PATH_MAX, "%s", abs);
}

int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    opened(AT_FDCWD, path, flags);
    return __real_open(path, flags, mode);
}

int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    opened(dirfd, path, flags);
    return __real_openat(dirfd, path, flags, mode);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    opened(AT_FDCWD, path, strpbrk(mode, "wa+") != NULL ? O_CREAT : 0);
    return __real_fopen(path, mode);
}

int __wrap_ftruncate(int fd, off_t len)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    changed("ftruncate", AT_FDCWD, proc);
    return __real_ftruncate(fd, len);
}

int __wrap_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
    changed("link", newdirfd, newpath);
    return __real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
}

int __wrap_mkdir(const char *path, mode_t mode)
{
    changed("mkdir", AT_FDCWD, path);
    return __real_mkdir(path, mode);
}

int __wrap_mkdirat(int dirfd, const char *path, mode_t mode)
{
    changed("mkdir", dirfd, path);
    return __real_mkdirat(dirfd, path, mode);
}

int __wrap_rename(const char *from, const char *to)
{
    changed("rename", AT_FDCWD, from);
    changed("rename", AT_FDCWD, to);
    return __real_rename(from, to);
}

int __wrap_renameat(int fromfd, const char *from, int tofd, const char *to)
{
    changed("rename", fromfd, from);
    changed("rename", tofd, to);
    return __real_renameat(fromfd, from, tofd, to);
}

int __wrap_rmdir(const char *path)
{
    changed("rmdir", AT_FDCWD, path);
    return __real_rmdir(path);
}

int __wrap_unlink(const char *path)
{
    changed("unlink", AT_FDCWD, path);
    return __real_unlink(path);
}

int __wrap_unlinkat(int dirfd, const char *path, int flags)
{
    changed("unlink", dirfd, path);
    return __real_unlinkat(dirfd, path, flags);
}

int64_t __wrap_tp_ipc_publication_offer(tp_ipc_publication_t *pub, const void *buffer, size_t length)
{
    tp_sbe_header_t h;
    if (g_fail_keepalives && tp_sbe_header_read(buffer, length, &h) == 0 && h.schema_id == TP_DRIVER_SCHEMA_ID &&
        h.template_id == TP_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID) {
        g_keepalive_fails++;
        return -1;
    }
    return __real_tp_ipc_publication_offer(pub, buffer, length);
}

/* ---- harness ---- */

static void drive(void)
{
    g_not_client = 1;
    tp_driver_do_work(g_drv, tp_clock_monotonic_ns());
    tp_ipc_subscription_poll(g_rig_sub, rig_on_msg, NULL, 64);
    g_not_client = 0;
}

static void setup(void)
{
    g_not_client = 1;
    rig_setup(NULL);
    char user[64];
    tp_shm_user_effective(user, sizeof user);
    snprintf(g_shm_root, sizeof g_shm_root, "%s/tensorpool-%s/default", g_rig_dir, user);
    g_not_client = 0;
}

static void teardown(void)
{
    g_not_client = 1;
    rig_teardown();
    g_shm_root[0] = '\0';
}

static tp_client_context_t client_context(void)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", g_rig_dir);
    ctx.keepalive_interval_ns = 50000000;
    ctx.announce_period_ns = 100000000;
    ctx.backoff_min_ns = 20000000;
    ctx.backoff_max_ns = 40000000;
    return ctx;
}

static uint64_t g_frames;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    (void)clientd;
    (void)f;
    g_frames++;
}

static uint64_t driver_announces(void)
{
    tp_driver_stats_t st;
    tp_driver_stats(g_drv, &st);
    return st.announces;
}

/* Run driver, producer (offering frames) and consumer for ms, or until cond. */
#define RUN_CLIENTS(p, c, ms, cond)                                                    \
    do {                                                                               \
        const int64_t end_ = tp_clock_monotonic_ns() + (int64_t)(ms) * 1000000;        \
        while (tp_clock_monotonic_ns() < end_ && !(cond)) {                            \
            const int64_t now_ = tp_clock_monotonic_ns();                              \
            drive();                                                                   \
            if ((p) != NULL) {                                                         \
                tp_producer_do_work((p), now_);                                        \
                if (tp_producer_is_active(p)) tp_producer_offer((p), &t, src, 64, (uint64_t)now_, NULL); \
            }                                                                          \
            if ((c) != NULL) tp_consumer_poll((c), now_, on_frame, NULL, 16);           \
            usleep(500);                                                               \
        }                                                                              \
    } while (0)

/* The path part of a region URI the driver sent ("" if none). */
static void uri_path(const char *uri, char *out, size_t cap)
{
    const char *p = strstr(uri, "path=");
    out[0] = '\0';
    if (p != NULL) snprintf(out, cap, "%.*s", (int)strcspn(p + 5, "|"), p + 5);
}

/* path is a region path from a driver answer or announce, or one of its
 * directories. */
static int driver_given(const char *path)
{
    const size_t n = strlen(path);
    for (int i = 0; i < g_nev; i++) {
        if (!(g_ev[i].kind == 'A' && g_ev[i].code == 0) && g_ev[i].kind != 'N') continue;
        char u[2][700];
        uri_path(g_ev[i].ring_uri, u[0], sizeof u[0]);
        uri_path(g_ev[i].pool_uri, u[1], sizeof u[1]);
        for (int k = 0; k < 2; k++)
            if (strncmp(u[k], path, n) == 0 && (u[k][n] == '\0' || u[k][n] == '/')) return 1;
    }
    return 0;
}

/* D-2.2.b, D-2.3.b, D-3.b: a producer and a consumer attach through the
 * driver, exchange frames, go through an epoch change (the producer detaches
 * and attaches again, the consumer remaps) and close. Through all of it no
 * client call creates, truncates, renames or deletes anything in the SHM
 * namespace (the driver's own creations are seen, so the wrappers work), and
 * every SHM path a client opens is a region path the driver handed out in
 * an attach answer or an announce, or a directory on the way to one. */
static void test_clients_never_create_or_choose_files(void)
{
    setup();
    const tp_client_context_t ctx = client_context();
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 64;
    uint8_t src[64];
    memset(src, 7, sizeof src);
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, 10000, 1 /* EXISTING_OR_CREATE */, "wrap", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, 10000, 0), 0);
    if (p == NULL || c == NULL) return teardown();
    g_frames = 0;
    RUN_CLIENTS(p, c, 20000, g_frames >= 20);
    CHECK(g_frames >= 20);
    const uint64_t epoch1 = tp_consumer_epoch(c);
    tp_producer_close(p); /* detach: the driver moves the stream to a new epoch */
    p = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, 10000, 0, "wrap", NULL), 0);
    g_frames = 0;
    RUN_CLIENTS(p, c, 20000, g_frames >= 20 && tp_consumer_epoch(c) > epoch1);
    CHECK(tp_consumer_epoch(c) > epoch1);
    CHECK(g_frames >= 20);
    tp_consumer_close(c);
    tp_producer_close(p);
    CHECK(g_driver_changes > 0);
    if (g_client_changes != 0) fprintf(stderr, "first client change: %s\n", g_first_change);
    CHECK_EQ_I64(g_client_changes, 0);
    CHECK(g_nopened > 0);
    for (int i = 0; i < g_nopened; i++) {
        if (!driver_given(g_client_opened[i])) fprintf(stderr, "client chose path %s\n", g_client_opened[i]);
        CHECK(driver_given(g_client_opened[i]));
    }
    teardown();
}

/* W-10.1.e: with the driver, only the driver announces the pools: every
 * ShmPoolAnnounce on the control stream is one the driver counted as sent,
 * while a producer was attached and publishing. */
static void test_only_the_driver_announces(void)
{
    setup();
    const tp_client_context_t ctx = client_context();
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 64;
    uint8_t src[64];
    memset(src, 7, sizeof src);
    tp_producer_t *p = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, 10000, 0, "wrap", NULL), 0);
    if (p == NULL) return teardown();
    tp_consumer_t *none = NULL;
    drive();
    tp_driver_stats_t st0;
    tp_driver_stats(g_drv, &st0);
    const int from = g_nev;
    RUN_CLIENTS(p, none, 20000, tp_producer_is_active(p));
    CHECK(tp_producer_is_active(p));
    RUN_CLIENTS(p, none, 20000, driver_announces() - st0.announces >= 5); /* five announce periods, however long */
    tp_producer_close(p);
    p = NULL;
    RUN_CLIENTS(p, none, 50, 0);
    tp_driver_stats_t st;
    tp_driver_stats(g_drv, &st);
    int seen = 0;
    for (int i = from; i < g_nev; i++) seen += g_ev[i].kind == 'N';
    CHECK(st.announces - st0.announces >= 5);
    CHECK_EQ_U64((uint64_t)seen, st.announces - st0.announces);
    teardown();
}

/* ---- every message is SBE; no SHM regions beyond ring and pools ---- */

typedef struct {
    int messages, bad;
    char first_bad[96];
} wire_seen_t;

static void on_wire(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    wire_seen_t *w = clientd;
    tp_sbe_header_t h;
    w->messages++;
    const int ok = tp_sbe_header_read(buf, len, &h) == 0 && h.version == 1 && len >= 8u + h.block_length &&
                   ((h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id >= 1 && h.template_id <= 13) ||
                    h.schema_id == TP_DRIVER_SCHEMA_ID || h.schema_id == 903 /* MergeMap */);
    if (!ok && w->bad++ == 0)
        snprintf(w->first_bad, sizeof w->first_bad, "stream %d: %zu bytes, schema %u template %u", (int)info->stream_id, len,
                 (unsigned)h.schema_id, (unsigned)h.template_id);
}

static int numeric(const char *s)
{
    if (*s == '\0') return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* Names in dir that are neither a numeric directory nor allowed; -1 if dir cannot be read. */
static int unexpected_entries(const char *dir, int epoch_dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int bad = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
        if (epoch_dir) {
            const char *dot = strrchr(n, '.');
            const int pool = dot != NULL && strcmp(dot, ".pool") == 0 && dot > n &&
                             strspn(n, "0123456789") == (size_t)(dot - n);
            if (strcmp(n, "header.ring") != 0 && !pool) {
                fprintf(stderr, "unexpected file in an epoch directory: %s/%s\n", dir, n);
                bad++;
            }
        } else if (numeric(n)) {
            char sub[PATH_MAX + 300];
            snprintf(sub, sizeof sub, "%s/%s", dir, n);
            const int b = unexpected_entries(sub, 1);
            bad += b < 0 ? 1 : b;
        } else if (strcmp(n, "last_epoch") != 0) { /* the driver's persisted epoch number */
            fprintf(stderr, "unexpected entry in the stream directory: %s/%s\n", dir, n);
            bad++;
        }
    }
    closedir(d);
    return bad;
}

/* W-15.16.a: no invented SHM counter regions, SBE for every message. With a
 * producer and a consumer running (QoS, metadata and keepalives included),
 * every message on the control, descriptor, QoS and metadata streams starts
 * with an SBE message header of a known schema (900 control messages only,
 * 901, 903) and holds its root block; and the SHM stream directory holds
 * only epoch directories of one header ring and payload pools (plus the
 * driver's last_epoch number): counters travel as QoS messages. */
static void test_sbe_only_and_no_counter_regions(void)
{
    setup();
    tp_client_context_t ctx = client_context();
    ctx.qos_interval_ns = 50000000;
    tp_ipc_subscription_t *subs[4] = {NULL, NULL, NULL, NULL};
    const int32_t streams[4] = {ctx.control_stream_id, ctx.descriptor_stream_id, ctx.qos_stream_id, ctx.metadata_stream_id};
    g_not_client = 1;
    for (int i = 0; i < 4; i++) CHECK_EQ_I64(tp_ipc_subscription_open(&subs[i], &g_rig_ipc, "tp:ipc", streams[i]), 0);
    g_not_client = 0;
    tp_tensor_header_t t;
    memset(&t, 0, sizeof t);
    t.dtype = TP_CONTROL_DTYPE_UINT8;
    t.major_order = TP_CONTROL_MAJOR_ORDER_ROW;
    t.ndims = 1;
    t.dims[0] = 64;
    uint8_t src[64];
    memset(src, 7, sizeof src);
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    CHECK_EQ_I64(tp_producer_open(&p, &ctx, 10000, 0, "wrap", NULL), 0);
    CHECK_EQ_I64(tp_consumer_open(&c, &ctx, 10000, 0), 0);
    wire_seen_t seen[4];
    memset(seen, 0, sizeof seen);
    g_frames = 0;
    /* at least 600 ms, and until control, descriptors and QoS all carried
     * traffic (bounded: a loaded machine is slow, not wrong) */
    const int64_t start = tp_clock_monotonic_ns();
    while (p != NULL && c != NULL && tp_clock_monotonic_ns() < start + 20000000000LL &&
           (tp_clock_monotonic_ns() < start + 600000000LL || g_frames == 0 || seen[0].messages == 0 ||
            seen[1].messages == 0 || seen[2].messages == 0)) {
        RUN_CLIENTS(p, c, 5, 0);
        for (int i = 0; i < 4; i++)
            if (subs[i] != NULL) tp_ipc_subscription_poll(subs[i], on_wire, &seen[i], 64);
    }
    CHECK(g_frames > 0);
    for (int i = 0; i < 4; i++) {
        if (seen[i].bad != 0) fprintf(stderr, "not SBE: %s\n", seen[i].first_bad);
        CHECK_EQ_I64(seen[i].bad, 0);
        if (i < 3) CHECK(seen[i].messages > 0); /* control, descriptors, QoS all carried traffic */
    }
    char sdir[PATH_MAX + 16];
    snprintf(sdir, sizeof sdir, "%s/10000", g_shm_root);
    CHECK_EQ_I64(unexpected_entries(sdir, 0), 0);
    tp_consumer_close(c);
    tp_producer_close(p);
    g_not_client = 1;
    for (int i = 0; i < 4; i++) tp_ipc_subscription_close(subs[i]);
    teardown();
}

/* D-4.4.g: a keepalive the client cannot send ends its lease on the client
 * side at once (on_lease_lost), and it attaches anew; the fresh lease is
 * granted once the driver has expired the old one (same client id). */
static int g_lost;
static char g_lost_why[128];

static int cb_attached(void *clientd, const tp_lease_t *l)
{
    (void)clientd;
    (void)l;
    return 0;
}

static void cb_lost(void *clientd, const char *why)
{
    (void)clientd;
    g_lost++;
    snprintf(g_lost_why, sizeof g_lost_why, "%s", why);
}

static void test_failed_keepalive_means_lease_lost(void)
{
    setup();
    const tp_client_context_t ctx = client_context();
    const tp_driver_client_handlers_t h = {.on_attached = cb_attached, .on_lease_lost = cb_lost};
    tp_driver_client_t *dc = NULL;
    CHECK_EQ_I64(tp_driver_client_open(&dc, &ctx, 10000, TP_ROLE_CONSUMER, 1, &h), 0);
    if (dc == NULL) return teardown();
    const int64_t end = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_driver_client_state(dc) != TP_DC_ATTACHED && tp_clock_monotonic_ns() < end) {
        drive();
        tp_driver_client_do_work(dc, tp_clock_monotonic_ns());
        usleep(500);
    }
    CHECK(tp_driver_client_state(dc) == TP_DC_ATTACHED);
    const uint64_t lease1 = tp_driver_client_lease(dc) ? tp_driver_client_lease(dc)->lease_id : 0;
    CHECK(lease1 != 0);
    g_fail_keepalives = 1;
    int64_t until = tp_clock_monotonic_ns() + 20000000000LL;
    while (g_lost == 0 && tp_clock_monotonic_ns() < until) {
        drive();
        tp_driver_client_do_work(dc, tp_clock_monotonic_ns());
        usleep(500);
    }
    g_fail_keepalives = 0;
    CHECK_EQ_I64(g_keepalive_fails, 1);
    CHECK_EQ_I64(g_lost, 1);
    CHECK_STR(g_lost_why, "keepalive could not be sent");
    CHECK(tp_driver_client_state(dc) != TP_DC_ATTACHED);
    until = tp_clock_monotonic_ns() + 20000000000LL;
    while (tp_driver_client_state(dc) != TP_DC_ATTACHED && tp_clock_monotonic_ns() < until) {
        drive();
        tp_driver_client_do_work(dc, tp_clock_monotonic_ns());
        usleep(500);
    }
    CHECK(tp_driver_client_state(dc) == TP_DC_ATTACHED);
    const tp_lease_t *l = tp_driver_client_lease(dc);
    CHECK(l != NULL && l->lease_id != 0 && l->lease_id != lease1);
    tp_driver_client_stats_t s;
    tp_driver_client_stats(dc, &s);
    CHECK_EQ_U64(s.lost, 1);
    g_not_client = 1;
    tp_driver_client_close(dc);
    teardown();
}

int main(void)
{
    RUN(test_clients_never_create_or_choose_files);
    RUN(test_only_the_driver_announces);
    RUN(test_failed_keepalive_means_lease_lost);
    RUN(test_sbe_only_and_no_counter_regions);
    TP_TEST_END();
}
