/* Someone else's truncate or scribble (issue 14 item 4): a driver, one
 * process producing two streams and two processes consuming both, all real
 * processes; files under them are truncated or overwritten from here, as any
 * member of the group could. No process may die of a signal; the broken
 * stream fails with a reason and recovers in a new epoch while the other
 * stream of the same processes goes on; the transport recovers from a
 * truncated index, a truncated log and a scribbled log header without a
 * driver restart.
 *
 * argv[1]: the tp binary, argv[2]: driver_helper. TP_TEST_ONLY=regions|
 * superblock|transport|scribble runs one test; TP_TEST_KEEP=1 keeps TP_DIR.
 */
#include "tp_test.h"

#include "process_rig.h"

#include <dirent.h>

#define A "10000" /* the stream that is broken */
#define B "10001" /* the stream that must go on */
#define EXTRA_STREAM "\n[streams.cam2]\nstream_id = 10001\nprofile = \"small\"\n"

/* <TP_DIR>/tensorpool-<user>/<ns> (the only namespace the tests use). */
static int ns_dir(char *out, size_t cap)
{
    DIR *d = opendir(g_dir);
    if (d == NULL) return -1;
    int rc = -1;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
        if (strncmp(e->d_name, "tensorpool-", 11) == 0) {
            snprintf(out, cap, "%s/%s/default", g_dir, e->d_name);
            rc = 0;
            break;
        }
    closedir(d);
    return rc;
}

/* Path of file `name` in the newest epoch directory of stream A. */
static int newest_epoch_file(const char *name, char *out, size_t cap)
{
    char ns[1024], sdir[1100];
    if (ns_dir(ns, sizeof ns) != 0) return -1;
    snprintf(sdir, sizeof sdir, "%s/" A, ns);
    DIR *d = opendir(sdir);
    if (d == NULL) return -1;
    unsigned long long best = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        const unsigned long long v = strtoull(e->d_name, NULL, 10);
        if (v > best) best = v;
    }
    closedir(d);
    if (best == 0) return -1;
    snprintf(out, cap, "%s/%llu/%s", sdir, best, name);
    return 0;
}

/* Path of the transport log of stream `stream` published by pid. */
static int log_of(const char *stream, pid_t pid, char *out, size_t cap)
{
    char ns[1024], ipc[1100], prefix[64];
    if (ns_dir(ns, sizeof ns) != 0) return -1;
    snprintf(ipc, sizeof ipc, "%s/ipc", ns);
    snprintf(prefix, sizeof prefix, "%s-%d-", stream, (int)pid);
    DIR *d = opendir(ipc);
    if (d == NULL) return -1;
    int rc = -1;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(out, cap, "%s/%s", ipc, e->d_name);
            rc = 0;
            break;
        }
    closedir(d);
    return rc;
}

static int truncate_to(const char *path, off_t size)
{
    const int fd = open(path, O_WRONLY | O_NOFOLLOW);
    if (fd < 0) return -1;
    const int rc = ftruncate(fd, size);
    close(fd);
    return rc;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int overwrite(const char *path, int byte, size_t len)
{
    uint8_t buf[256];
    memset(buf, byte, sizeof buf);
    const int fd = open(path, O_WRONLY | O_NOFOLLOW);
    if (fd < 0 || len > sizeof buf) return -1;
    const int rc = pwrite(fd, buf, len, 0) == (ssize_t)len ? 0 : -1;
    close(fd);
    return rc;
}

/* Highest "stream=S count=K" milestone in a consumer log. */
static unsigned count_now(const char *log, const char *stream)
{
    unsigned k = 0;
    char needle[64];
    for (;;) {
        snprintf(needle, sizeof needle, "stream=%s count=%u\n", stream, k + 500);
        if (!log_has(log, needle)) return k;
        k += 500;
    }
}

/* 1 once stream has 1000 more verified frames in both consumer logs. */
static int flows_on(const char *stream)
{
    const unsigned k1 = count_now("c1.log", stream), k2 = count_now("c2.log", stream);
    char n1[64], n2[64];
    snprintf(n1, sizeof n1, "stream=%s count=%u\n", stream, k1 + 1000);
    snprintf(n2, sizeof n2, "stream=%s count=%u\n", stream, k2 + 1000);
    return wait_log("c1.log", NULL, n1) && wait_log("c2.log", NULL, n2);
}

/* Still running, not dead of a signal (or anything else). */
static int alive(pid_t pid)
{
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        fprintf(stderr, "pid %d ended: %s %d\n", (int)pid, WIFSIGNALED(st) ? "signal" : "exit",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        for (int i = 0; i < g_nkids; i++)
            if (g_kids[i] == pid) g_kids[i] = 0;
    }
    return r == 0;
}

/* 1 if every frame a consumer found corrupt ("corrupt stream=S slot=K")
 * was on stream A in slot cut_slot (-1: none may be), and at most one was. */
static int corrupt_only_in(const char *log, int cut_slot)
{
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, log);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    int n = 0, ok = 1;
    unsigned stream = 0;
    int slot = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "corrupt stream=%u slot=%d", &stream, &slot) == 2) {
            fprintf(stderr, "%s: %s", log, line);
            ok = ok && stream == (unsigned)atoi(A) && slot == cut_slot && ++n <= 1;
        }
    fclose(f);
    return ok;
}

/* Every process of start_all still running (none died of a signal), no
 * corrupt frame but the one a truncate may cut (cut_slot, see
 * test_ring_and_pool_truncated), then the usual teardown. */
static void finish(pid_t drv, pid_t p, pid_t c1, pid_t c2, int cut_slot)
{
    CHECK(alive(drv));
    CHECK(alive(p));
    CHECK(alive(c1));
    CHECK(alive(c2));
    CHECK(corrupt_only_in("c1.log", cut_slot));
    CHECK(corrupt_only_in("c2.log", cut_slot));
    teardown();
}

static pid_t start_duo(const char *log, const char *role)
{
    const char *argv[] = {g_helper, "duo", role, "90", A, B, NULL};
    return spawn(log, argv);
}

/* A fresh consumer of B must attach (control messages both ways) and read
 * 100 frames. */
static int new_consumer_works(const char *log)
{
    const char *argv[] = {g_helper, "consumer", B, "100", "1", "15000", NULL};
    return wait_exit(spawn(log, argv), 20000) == 0;
}

static pid_t start_all(const char *name, pid_t *p, pid_t *c1, pid_t *c2)
{
    setup_with(name, EXTRA_STREAM);
    const pid_t drv = start_driver("driver.log");
    *c1 = start_duo("c1.log", "consume");
    *c2 = start_duo("c2.log", "consume");
    *p = start_duo("p.log", "produce");
    CHECK(wait_log("c1.log", "c2.log", "stream=" A " epochs=1\n"));
    CHECK(wait_log("c1.log", "c2.log", "stream=" B " epochs=1\n"));
    return drv;
}

/* Ring truncated to 0, then a pool of the new epoch to half its size: each
 * time the driver names the broken file and moves A to a new epoch, both
 * consumers read A again from it, and B never stops.
 *
 * Half the pool (64-byte superblock + 64 slots of 4096) is not a multiple
 * of the page: the rest of the page holding the new end reads as zeros
 * without a fault. So the frame in the slot that holds the new end, if a
 * consumer had not read it yet, reads whole with zeros at its end, a change
 * no seqlock sees (src/shm/README.md). That one frame may be corrupt; any
 * other may not (a frame reaching past that page faults and is dropped). */
static void test_ring_and_pool_truncated(void)
{
    pid_t p, c1, c2;
    const pid_t drv = start_all("trunc", &p, &c1, &c2);
    char path[1400];

    CHECK(newest_epoch_file("header.ring", path, sizeof path) == 0);
    CHECK(truncate_to(path, 0) == 0);
    CHECK(wait_log("c1.log", "c2.log", "stream=" A " epochs=2\n"));
    CHECK(flows_on(B));

    CHECK(newest_epoch_file("1.pool", path, sizeof path) == 0);
    const off_t cut = size_of(path) / 2;
    const int cut_slot = cut % sysconf(_SC_PAGESIZE) != 0 ? (int)((cut - 64) / 4096) : -1;
    CHECK(truncate_to(path, cut) == 0);
    CHECK(wait_log("c1.log", "c2.log", "stream=" A " epochs=3\n"));
    CHECK(flows_on(A));
    CHECK(flows_on(B));

    /* Whoever checks first names the broken file and gives the epoch up: the
     * driver (announce period) or the producer (QoS interval, reported by
     * driver_helper as its n-th fault). Both are on a schedule, so a loaded
     * machine may let either win. */
    CHECK(log_has("driver.log", "header ring: no superblock (truncated)") ||
          log_has("p.log", "fault stream=" A " n=1 "));
    CHECK(log_has("driver.log", "pool file truncated to") || log_has("p.log", "fault stream=" A " n=2 ") ||
          log_has("p.log", "fault stream=" A " n=1 "));
    finish(drv, p, c1, c2, cut_slot);
}

/* A's ring superblock zeroed once: consumers drop it, the driver notices on
 * its schedule and moves A to a new epoch, the consumers map it. */
static void test_superblock_zeroed(void)
{
    pid_t p, c1, c2;
    const pid_t drv = start_all("zero", &p, &c1, &c2);
    char path[1400];
    CHECK(newest_epoch_file("header.ring", path, sizeof path) == 0);
    CHECK(overwrite(path, 0, 64) == 0);
    CHECK(wait_log("c1.log", "c2.log", "stream=" A " epochs=2\n"));
    CHECK(flows_on(A));
    CHECK(flows_on(B));
    CHECK(log_has("driver.log", "region files broken"));
    CHECK(log_has("driver.log", "bad magic"));
    finish(drv, p, c1, c2, -1);
}

/* The index truncated, the producer's descriptor log truncated, the driver's
 * log truncated: frames keep flowing, and a new consumer attaches through
 * the driver after the index and after the driver's log. */
static void test_transport_truncated(void)
{
    pid_t p, c1, c2;
    const pid_t drv = start_all("ipc", &p, &c1, &c2);
    char ns[1024], path[1400];
    CHECK(ns_dir(ns, sizeof ns) == 0);

    snprintf(path, sizeof path, "%s/ipc/index", ns);
    CHECK(truncate_to(path, 0) == 0);
    CHECK(flows_on(A) && flows_on(B));
    CHECK(new_consumer_works("n1.log"));

    CHECK(log_of("1100", p, path, sizeof path) == 0); /* descriptors */
    CHECK(truncate_to(path, 0) == 0);
    CHECK(flows_on(A) && flows_on(B));

    CHECK(log_of("1000", drv, path, sizeof path) == 0); /* the driver's control/announce log */
    CHECK(truncate_to(path, 100) == 0);
    CHECK(flows_on(A) && flows_on(B));
    CHECK(new_consumer_works("n2.log"));

    finish(drv, p, c1, c2, -1);
}

/* The driver's log header overwritten with 0xFF: subscribers drop the log,
 * the driver re-creates it, and the system goes on without a restart (a new
 * consumer attaches, frames flow after more than 3 announce periods). */
static void test_driver_log_scribbled(void)
{
    pid_t p, c1, c2;
    const pid_t drv = start_all("scribble", &p, &c1, &c2);
    char path[1400];
    CHECK(log_of("1000", drv, path, sizeof path) == 0);
    CHECK(overwrite(path, 0xFF, 256) == 0);
    CHECK(new_consumer_works("n1.log"));
    CHECK(flows_on(A) && flows_on(B));
    finish(drv, p, c1, c2, -1);
}

int main(int argc, char **argv)
{
    rig_args(argc, argv);
    const char *only = getenv("TP_TEST_ONLY");
    if (only == NULL || strcmp(only, "regions") == 0) RUN(test_ring_and_pool_truncated);
    if (only == NULL || strcmp(only, "superblock") == 0) RUN(test_superblock_zeroed);
    if (only == NULL || strcmp(only, "transport") == 0) RUN(test_transport_truncated);
    if (only == NULL || strcmp(only, "scribble") == 0) RUN(test_driver_log_scribbled);
    TP_TEST_END();
}
