/* A neighbour in the transport directory, as a separate process: files it
 * plants under log names must cost a subscription little and must never keep
 * the owner's own publications out (docs/threat-model.md, 1 and "File
 * system").
 *
 *   sparse   any uid: a 512 MiB sparse file with a valid-looking log header
 *            is refused without being mapped (the reader's resident size
 *            does not grow by it), and the subscription still works
 *   foreign  as root: a process of uid 65534 in the directory's group fills
 *            a subscription's whole image table with live, valid logs of the
 *            stream and plants a thousand junk ones; a publication of the
 *            owner opened afterwards is still heard, and a scan or a
 *            reclaim pass opens a bounded number of the neighbour's files
 *   bump     any uid: a process bumping the index generation without pause
 *            (the index is writable by the group) while 400 junk files
 *            wait in the directory does not keep the poller scanning
 *   ring     any uid: a header ring grown (sparse) to 512 MiB by another
 *            process before the producer maps it is mapped only as far as
 *            its layout needs
 *   squat    as root: tensorpool-<user>/<ns>/ipc made first, world-writable,
 *            by uid 65534 of the base's group is refused with a clear error
 */
#include "ipc_test_util.h"
#include "tp_test.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "ipc/ipc_dir.h"
#include "ipc/ipc_log.h"
#include "ipc/ipc_log_file.h"
#include "client/client_map.h"
#include "tensorpool/clock.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/shm_path.h"
#include "tensorpool/shm_region.h"

enum { STREAM = 4242, TABLE = 8, NEIGHBOUR_LOGS = 12, JUNK_LOGS = 1000 };

static tp_ipc_context_t ctx;

static long resident_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Pages faulted in by this process so far (MAP_POPULATE counts its pages). */
static long faults(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt + ru.ru_majflt : -1;
}

/* Read-type system calls made by this process so far (each header a scan
 * or a reclaim pass reads is one). */
static long read_calls(void)
{
    long v = -1;
    char line[128];
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "syscr: %ld", &v) == 1) break;
    fclose(f);
    return v;
}

static int ipc_dirfd(void)
{
    return tp_ipc_dir_open_ctx(&ctx, 1);
}

typedef struct {
    int got;
} rx_t;

static void rx(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    if (len == 5 && memcmp(buf, "owner", 5) == 0) ((rx_t *)clientd)->got++;
}

/* Poll up to 3 s for the owner's message; 1 when it came. */
static int heard_owner(tp_ipc_subscription_t *sub)
{
    rx_t r = {0};
    const int64_t end = tp_clock_monotonic_ns() + 3000000000LL;
    while (r.got == 0 && tp_clock_monotonic_ns() < end) {
        if (tp_ipc_subscription_poll(sub, rx, &r, 100) == 0) usleep(1000);
    }
    return r.got > 0;
}

/* The planter: a child that writes a sparse file of `bytes` with a header a
 * log of STREAM would have (its own pid, so it looks alive). */
static void plant_sparse(int dirfd, off_t bytes)
{
    const pid_t pid = fork();
    if (pid == 0) {
        uint64_t st = 0;
        if (tp_ipc_self_start_time(&st) != 0) _exit(1);
        char name[TP_IPC_LOG_NAME_MAX];
        snprintf(name, sizeof name, "%d-%d-%llu-7.log", STREAM, (int)getpid(), (unsigned long long)st);
        tp_ipc_log_meta_t m;
        memset(&m, 0, sizeof m);
        m.magic = TP_IPC_LOG_MAGIC;
        m.version = TP_IPC_LOG_VERSION;
        m.header_bytes = TP_IPC_LOG_HEADER_BYTES;
        m.capacity = 1u << 20;
        m.max_message = 1024;
        m.stream_id = STREAM;
        m.pid = (int32_t)getpid();
        m.start_time = st;
        const int fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0660);
        if (fd < 0 || pwrite(fd, &m, sizeof m, 0) != (ssize_t)sizeof m || ftruncate(fd, bytes) != 0) _exit(1);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_sparse_log_is_not_mapped(void)
{
    const int dirfd = ipc_dirfd();
    CHECK(dirfd >= 0);
    if (dirfd < 0) return;
    plant_sparse(dirfd, (off_t)512 << 20);
    const long before = resident_kib(), faults_before = faults();
    tp_ipc_subscription_t *sub = NULL;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", STREAM) == 0);
    const long after = resident_kib(), faulted = faults() - faults_before;
    printf("  resident before %ld KiB, after the subscription's scan %ld KiB; %ld pages faulted in\n", before, after,
           faulted);
    /* 512 MiB would be 131072 pages; the scan's own buffers are a few hundred */
    CHECK(before > 0 && after - before < 32 * 1024);
    CHECK(faulted >= 0 && faulted < 8192);
    CHECK(tp_ipc_subscription_error_count(sub) >= 1); /* refused and counted */
    CHECK(tp_ipc_subscription_image_count(sub) == 0);
    tp_ipc_publication_t *pub = NULL;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", STREAM) == 0);
    CHECK(tp_ipc_publication_offer(pub, "owner", 5) > 0);
    CHECK(heard_owner(sub));
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
    close(dirfd);
}

/* The neighbour: uid 65534 with group root (the directory's group); makes
 * NEIGHBOUR_LOGS real logs of STREAM through the library, reports on
 * `ready`, waits for a byte on `go`, makes JUNK_LOGS files with bad headers
 * under log names, reports again and stays alive (its logs look
 * live) until killed. */
static pid_t start_neighbour(int dirfd, int ready, int go)
{
    const pid_t pid = fork();
    if (pid != 0) return pid;
    if (setresgid(0, 0, 0) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(1);
    for (int i = 0; i < NEIGHBOUR_LOGS; i++) {
        tp_ipc_log_writer_t w;
        void *map;
        size_t len;
        char name[TP_IPC_LOG_NAME_MAX];
        if (tp_ipc_log_create(dirfd, STREAM, 1u << 16, 1024, &w, &map, &len, name, sizeof name) != 0) _exit(2);
    }
    char c;
    if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1) _exit(4);
    uint64_t st = 0;
    tp_ipc_self_start_time(&st);
    for (int i = 0; i < JUNK_LOGS; i++) {
        char name[TP_IPC_LOG_NAME_MAX];
        snprintf(name, sizeof name, "%d-%d-%llu-%d.log", STREAM, (int)getpid(), (unsigned long long)st, 100000 + i);
        const int fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0660);
        if (fd < 0 || write(fd, "junk", 4) != 4) _exit(3);
        close(fd);
    }
    if (write(ready, "r", 1) != 1) _exit(4);
    for (;;) pause();
}

static void test_foreign_logs_cannot_fill_the_table(void)
{
    /* the directory is 0770, group root: the neighbour writes in it as a group member */
    const int dirfd = ipc_dirfd();
    CHECK(dirfd >= 0);
    if (dirfd < 0) return;
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    const pid_t n = start_neighbour(dirfd, up[1], down[0]);
    char c = 0;
    CHECK(read(up[0], &c, 1) == 1 && c == 'r');

    /* counts what each scan does, scan by scan: poll does the upkeep
     * (the conductor thread would scan on its own time) */
    ctx.conductor = TP_IPC_CONDUCTOR_CALLER;
    tp_ipc_subscription_t *sub = NULL;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", STREAM) == 0);
    if (sub == NULL) goto out;
    /* the neighbour's live logs took every place */
    CHECK(tp_ipc_subscription_image_count(sub) == TABLE);
    CHECK(write(down[1], "g", 1) == 1);
    CHECK(read(up[0], &c, 1) == 1 && c == 'r');
    /* a few scans over the thousand junk files */
    for (int i = 0; i < 4; i++) {
        tp_ipc_publication_t *bump = NULL; /* opening a publication makes every subscription rescan */
        CHECK(tp_ipc_publication_open(&bump, &ctx, "tp:ipc", STREAM + 1) == 0);
        tp_ipc_subscription_poll(sub, rx, &(rx_t){0}, 10);
        tp_ipc_publication_close(bump);
    }
    const uint64_t errors = tp_ipc_subscription_error_count(sub);
    printf("  images %zu of %d, errors after 4 scans %llu\n", tp_ipc_subscription_image_count(sub), TABLE,
           (unsigned long long)errors);
    /* each scan opened a bounded number of the neighbour's files, not all thousand */
    CHECK(errors >= 1 && errors <= 5 * 16);
    /* opening a publication and a subscription reclaims the logs of dead
     * publishers: a bounded number of the neighbour's files is read, not all */
    const long reads_before = read_calls();
    tp_ipc_publication_t *other = NULL;
    tp_ipc_subscription_t *other_sub = NULL;
    CHECK(tp_ipc_publication_open(&other, &ctx, "tp:ipc", STREAM + 2) == 0);
    CHECK(tp_ipc_subscription_open(&other_sub, &ctx, "tp:ipc", STREAM + 2) == 0);
    const long reads = read_calls() - reads_before;
    printf("  read calls to open a publication and a subscription: %ld\n", reads);
    CHECK(reads_before >= 0 && reads < 200);
    if (other != NULL) tp_ipc_publication_close(other);
    if (other_sub != NULL) tp_ipc_subscription_close(other_sub);

    tp_ipc_publication_t *pub = NULL;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", STREAM) == 0);
    if (pub != NULL) {
        CHECK(tp_ipc_publication_offer(pub, "owner", 5) > 0);
        CHECK(heard_owner(sub)); /* the owner's publication took a neighbour's place */
        tp_ipc_publication_close(pub);
    }
    tp_ipc_subscription_close(sub);
out:
    kill(n, SIGKILL);
    waitpid(n, NULL, 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    close(dirfd);
}

static int64_t cpu_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void)
{
    return cpu_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* The bumper: a child that maps the index (0660, writable by the group) and
 * bumps its generation as fast as it can until killed. */
static pid_t start_bumper(int dirfd)
{
    const pid_t pid = fork();
    if (pid != 0) return pid;
    tp_ipc_index_t *ix = NULL;
    if (tp_ipc_index_open(dirfd, &ix) != 0) _exit(1);
    for (;;) tp_ipc_index_bump(ix);
}

static void test_generation_bumps_do_not_stall_the_poller(void)
{
    const int dirfd = ipc_dirfd();
    CHECK(dirfd >= 0);
    if (dirfd < 0) return;
    /* files every scan has to look at again (only 16 refusals are remembered) */
    for (int i = 0; i < 400; i++) {
        char name[64];
        snprintf(name, sizeof name, "%d-%d-1-%d.log", STREAM, (int)getpid(), i);
        const int fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0660);
        CHECK(fd >= 0 && write(fd, "junk", 4) == 4);
        if (fd >= 0) close(fd);
    }
    tp_ipc_subscription_t *sub = NULL;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", STREAM) == 0);
    const pid_t b = start_bumper(dirfd);
    usleep(100000);
    /* poll for 1 s as a duty cycle would, with a short idle between polls.
     * The time inside poll is this thread's CPU time: on a loaded machine a
     * preemption inside poll would otherwise count as work it did. */
    int64_t inside = 0;
    const int64_t process0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), thread0 = thread_cpu_ns();
    const int64_t start = tp_clock_monotonic_ns();
    while (tp_clock_monotonic_ns() - start < 1000000000LL) {
        const int64_t t = thread_cpu_ns();
        tp_ipc_subscription_poll(sub, rx, &(rx_t){0}, 10);
        inside += thread_cpu_ns() - t;
        usleep(100);
    }
    const int64_t wall = tp_clock_monotonic_ns() - start;
    /* the rest of this process's CPU time is its conductor thread's, which
     * does the scans the bumps ask for */
    const int64_t others = (cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - process0) - (thread_cpu_ns() - thread0);
    const double share = (double)inside / (double)wall, conductor = (double)others / (double)wall;
    printf("  share of the time spent inside poll (CPU) while the generation is bumped: %.2f; conductor thread: %.2f\n",
           share, conductor);
    CHECK(share < 0.5); /* the poller: nothing to scan (the conductor does it) */
    CHECK(conductor < 0.5); /* scans asked for by the generation get a tenth of the time, passes >= 1 ms apart */
    tp_ipc_publication_t *pub = NULL;
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", STREAM) == 0);
    if (pub != NULL) {
        CHECK(tp_ipc_publication_offer(pub, "owner", 5) > 0);
        CHECK(heard_owner(sub)); /* still discovered, within the scan budget */
        tp_ipc_publication_close(pub);
    }
    kill(b, SIGKILL);
    waitpid(b, NULL, 0);
    tp_ipc_subscription_close(sub);
    close(dirfd);
}

/* The producer's side: a header ring the driver made, grown (sparse) to
 * 512 MiB by a neighbour before the producer maps it. */
static void test_grown_ring_is_not_mapped_whole(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/7", tp_test_base);
    snprintf(path, sizeof path, "%s/header.ring", dir);
    CHECK(mkdir(dir, 0770) == 0);
    tp_superblock_t sb;
    memset(&sb, 0, sizeof sb);
    sb.magic = TP_SHM_MAGIC;
    sb.layout_version = TP_SHM_LAYOUT_VERSION;
    sb.epoch = 3;
    sb.stream_id = 7;
    sb.region_type = TP_CONTROL_REGION_TYPE_HEADER_RING;
    sb.nslots = 64;
    sb.slot_bytes = TP_SHM_SLOT_BYTES;
    sb.pid = (uint64_t)getpid();
    tp_shm_region_t made;
    CHECK(tp_shm_region_create(&made, path, &sb, TP_SHM_CREATE_NO_POPULATE) == 0);
    tp_shm_region_unmap(&made);
    const pid_t pid = fork();
    if (pid == 0) _exit(truncate(path, (off_t)512 << 20) == 0 ? 0 : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    tp_lease_t lease;
    memset(&lease, 0, sizeof lease);
    lease.stream_id = 7;
    lease.role = TP_ROLE_PRODUCER;
    lease.epoch = 3;
    lease.layout_version = TP_SHM_LAYOUT_VERSION;
    lease.header_nslots = 64;
    snprintf(lease.ring_uri, sizeof lease.ring_uri, "shm:file?path=%s", path);
    const char *dirs[] = {tp_test_base};
    tp_shm_bases_t bases;
    CHECK(tp_shm_bases_init(&bases, dirs, 1) == 0);
    tp_shm_writer_t *w = calloc(1, sizeof *w);
    CHECK(w != NULL);
    if (w == NULL) return;
    const long before = faults();
    const int rc = tp_client_map_writer(w, &bases, &lease, (uint64_t)tp_clock_realtime_ns());
    const long faulted = faults() - before;
    printf("  map_writer %d (%s), %ld pages faulted in\n", rc, rc == 0 ? "mapped" : tp_errmsg(), faulted);
    CHECK(rc == 0); /* the superblock is the driver's: the ring itself is usable */
    CHECK(faulted >= 0 && faulted < 8192); /* 512 MiB would be 131072 pages */
    if (rc == 0) tp_client_unmap_writer(w);
    free(w);
}

/* As root: a uid-65534 process of the base's group makes the owner's
 * tensorpool-<user>/<ns>/ipc first, world-writable. The owner must refuse it,
 * saying why, rather than run in a tree another user controls. */
static void test_squatted_tree_is_refused(void)
{
    char ipc[PATH_MAX];
    CHECK(tp_ipc_context_dir(&ctx, ipc, sizeof ipc) == 0);
    CHECK(chmod(tp_test_base, 0770) == 0); /* the base is the group's */
    const pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(0, 0, 0) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(1);
        umask(0);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s", ipc);
        for (char *p = path + strlen(tp_test_base) + 1;; p++) { /* mkdir -p below the base */
            const char c = *p;
            if (c != '/' && c != '\0') continue;
            *p = '\0';
            if (mkdir(path, 0777) != 0) _exit(2);
            *p = c;
            if (c == '\0') break;
        }
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tp_ipc_subscription_t *sub = NULL;
    tp_ipc_publication_t *pub = NULL;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", STREAM) == -1);
    CHECK(tp_errcode() == TP_ERR_PERMISSION);
    printf("  refused: %s\n", tp_errmsg());
    CHECK(strstr(tp_errmsg(), "belongs to uid 65534") != NULL);
    CHECK(tp_ipc_publication_open(&pub, &ctx, "tp:ipc", STREAM) == -1);
    if (sub != NULL) tp_ipc_subscription_close(sub);
    if (pub != NULL) tp_ipc_publication_close(pub);
    /* once the squatter's tree is gone, the owner makes its own and works */
    tp_test_dir_cleanup();
    CHECK(mkdir(tp_test_base, 0770) == 0);
    sub = NULL;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "tp:ipc", STREAM) == 0);
    if (sub != NULL) tp_ipc_subscription_close(sub);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";
    if ((strcmp(which, "foreign") == 0 || strcmp(which, "squat") == 0) && geteuid() != 0) {
        printf("skip: acting as another uid of the group needs root\n");
        return 77;
    }
    tp_test_dir_setup(&ctx);
    ctx.max_images = TABLE;
    if (strcmp(which, "sparse") == 0) RUN(test_sparse_log_is_not_mapped);
    else if (strcmp(which, "foreign") == 0) RUN(test_foreign_logs_cannot_fill_the_table);
    else if (strcmp(which, "bump") == 0) RUN(test_generation_bumps_do_not_stall_the_poller);
    else if (strcmp(which, "ring") == 0) RUN(test_grown_ring_is_not_mapped_whole);
    else if (strcmp(which, "squat") == 0) RUN(test_squatted_tree_is_refused);
    else {
        fprintf(stderr, "usage: test_hostile_neighbour sparse|foreign|bump|ring|squat\n");
        return 2;
    }
    tp_test_dir_cleanup();
    TP_TEST_END();
}
