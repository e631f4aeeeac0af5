/* Containment under attack (issue 14 item 1): a neighbour in the group may
 * rename and symlink inside our 0770 directories at any moment. A separate
 * process races the driver:
 *
 *  - racer: every new entry of the stream directory (epoch directories,
 *    last_epoch.tmp) and of the ipc directory (log files) is swapped for a
 *    symlink into a victim directory outside the base as soon as inotify
 *    reports it, and the stream and ipc directories themselves are swapped
 *    with symlinks to the victim now and then, while the driver attaches and
 *    detaches producers (each attach a new epoch, epoch GC on) and
 *    publications come and go;
 *  - toggler: with epoch GC running, an old epoch directory toggles between
 *    a real directory and a symlink to the victim (RENAME_EXCHANGE).
 *
 * Afterwards the victim directory is unchanged: names, modes, sizes and
 * contents, and the driver still creates a working epoch. */
#include "tp_test.h"

#include "unit/driver_test_rig.h"
#include "tensorpool/shm_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define P TP_DRIVER_ROLE_PRODUCER
#define VICTIM_FILES 20
#define RACE_SECONDS 3

/* Names our code uses, so a followed link would hit a same-named victim file. */
static const char *const victim_names[VICTIM_FILES] = {
    "header.ring", "1.pool", "last_epoch", "last_epoch.tmp", "driver.lock", "index", "f06", "f07", "f08", "f09",
    "f10",         "f11",    "f12",        "f13",            "f14",         "f15",   "f16", "f17", "f18", "f19"};

typedef struct {
    char name[256];
    mode_t mode;
    off_t size;
    uint64_t hash;
} entry_t;

typedef struct {
    mode_t dir_mode;
    int n;
    entry_t e[64];
} snapshot_t;

static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void snapshot(const char *dir, snapshot_t *s)
{
    memset(s, 0, sizeof *s);
    struct stat st;
    if (lstat(dir, &st) == 0) s->dir_mode = st.st_mode;
    DIR *d = opendir(dir);
    if (d == NULL) return;
    for (struct dirent *e = readdir(d); e != NULL && s->n < 64; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        entry_t *x = &s->e[s->n++];
        snprintf(x->name, sizeof x->name, "%s", e->d_name);
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0) continue;
        x->mode = st.st_mode;
        x->size = st.st_size;
        x->hash = 0xcbf29ce484222325ull;
        const int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
        if (fd >= 0) {
            uint8_t buf[4096];
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0) x->hash = fnv(buf, (size_t)n, x->hash);
            close(fd);
        }
    }
    closedir(d);
}

static const entry_t *find(const snapshot_t *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i].name, name) == 0) return &s->e[i];
    return NULL;
}

/* Report every difference (name by name); returns how many. */
static int snapshot_diff(const snapshot_t *a, const snapshot_t *b)
{
    int diffs = 0;
    if (a->dir_mode != b->dir_mode) {
        fprintf(stderr, "victim dir mode %o -> %o\n", (unsigned)a->dir_mode & 07777, (unsigned)b->dir_mode & 07777);
        diffs++;
    }
    for (int i = 0; i < a->n; i++) {
        const entry_t *x = &a->e[i], *y = find(b, x->name);
        if (y == NULL) {
            fprintf(stderr, "victim file '%s' deleted\n", x->name);
            diffs++;
        } else if (x->mode != y->mode || x->size != y->size || x->hash != y->hash) {
            fprintf(stderr, "victim file '%s': mode %o -> %o, %lld -> %lld bytes%s\n", x->name,
                    (unsigned)x->mode & 07777, (unsigned)y->mode & 07777, (long long)x->size, (long long)y->size,
                    x->hash != y->hash ? ", content changed" : "");
            diffs++;
        }
    }
    for (int i = 0; i < b->n; i++)
        if (find(a, b->e[i].name) == NULL) {
            fprintf(stderr, "victim has a new entry '%s'\n", b->e[i].name);
            diffs++;
        }
    return diffs;
}

static void make_victim(char *dir, size_t cap)
{
    snprintf(dir, cap, "/dev/shm/tp-victim-XXXXXX");
    if (mkdtemp(dir) == NULL) exit(1);
    chmod(dir, 0755);
    static const mode_t modes[4] = {0644, 0600, 0640, 0664};
    for (int i = 0; i < VICTIM_FILES; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, victim_names[i]);
        const int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) exit(1);
        char buf[2000];
        const size_t n = 100 + (size_t)i * 37;
        for (size_t k = 0; k < n; k++) buf[k] = (char)('a' + (k * 7 + (size_t)i) % 26);
        if (write(fd, buf, n) != (ssize_t)n) exit(1);
        fchmod(fd, modes[i % 4]);
        close(fd);
    }
}

static void remove_victim(const char *dir)
{
    for (int i = 0; i < VICTIM_FILES; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, victim_names[i]);
        unlink(p);
    }
    /* anything a broken driver left there */
    nftw(dir, rig_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void ns_dir(char *out, size_t cap)
{
    char user[128];
    tp_shm_user_effective(user, sizeof user);
    if (snprintf(out, cap, "%s/tensorpool-%s/default", g_rig_dir, user) >= (int)cap) exit(1);
}

/* Swap path (a real directory) with a symlink to target, atomically, via
 * a side name; again swaps back. */
static int exchange(int dirfd, const char *name, const char *side)
{
    return renameat2(dirfd, name, dirfd, side, RENAME_EXCHANGE);
}

static int skip_name(const char *name)
{
    return name[0] == '.' && (strncmp(name, ".moved", 6) == 0 || strncmp(name, ".x", 2) == 0);
}

/* Replace the new entry name in dirfd by a symlink into the victim. */
static int swap_for_link(int dirfd, const char *name, const char *victim, unsigned *seq)
{
    struct stat st;
    if (skip_name(name) || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode)) return 0;
    char moved[64], target[600];
    snprintf(moved, sizeof moved, ".moved-%u", (*seq)++);
    if (S_ISDIR(st.st_mode)) {
        snprintf(target, sizeof target, "%s", victim);
    } else {
        /* a same-named victim file if there is one, else the first */
        snprintf(target, sizeof target, "%s/%s", victim, name);
        if (access(target, F_OK) != 0) snprintf(target, sizeof target, "%s/%s", victim, victim_names[0]);
    }
    if (renameat(dirfd, name, dirfd, moved) != 0) return 0;
    return symlinkat(target, dirfd, name) == 0;
}

/* The racer: runs until killed; counts its swaps in *swaps. */
static void racer(const char *sdir, const char *idir, const char *victim, volatile unsigned *swaps)
{
    const int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    const int sfd = open(sdir, O_RDONLY | O_DIRECTORY), ifd = open(idir, O_RDONLY | O_DIRECTORY);
    const int ws = inotify_add_watch(in, sdir, IN_CREATE | IN_MOVED_TO);
    inotify_add_watch(in, idir, IN_CREATE | IN_MOVED_TO);
    if (in < 0 || sfd < 0 || ifd < 0 || ws < 0) _exit(2);
    /* parents of the stream and ipc dirs, for swapping those dirs themselves */
    char parent[600];
    snprintf(parent, sizeof parent, "%s/..", sdir);
    const int pfd = open(parent, O_RDONLY | O_DIRECTORY);
    char sname[64];
    snprintf(sname, sizeof sname, "%s", strrchr(sdir, '/') + 1);
    symlinkat(victim, pfd, ".xstream");
    symlinkat(victim, pfd, ".xipc");
    unsigned seq = 0;
    for (unsigned round = 0;; round++) {
        struct pollfd p = {in, POLLIN, 0};
        poll(&p, 1, 1);
        char buf[8192] __attribute__((aligned(8)));
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0) {
            for (char *c = buf; c < buf + n;) {
                const struct inotify_event *ev = (const struct inotify_event *)(void *)c;
                c += sizeof *ev + ev->len;
                if (ev->len == 0) continue;
                if (swap_for_link(ev->wd == ws ? sfd : ifd, ev->name, victim, &seq)) (*swaps)++;
            }
        }
        /* now and then the stream or the ipc directory itself is a symlink for a moment */
        if (round % 16 == 5 || round % 16 == 6) {
            if (exchange(pfd, sname, ".xstream") == 0) (*swaps)++;
        }
        if (round % 32 == 9 || round % 32 == 10) {
            if (exchange(pfd, "ipc", ".xipc") == 0) (*swaps)++;
        }
    }
}

/* Put the stream and ipc directories back if the racer left them swapped. */
static void restore(const char *ns)
{
    const int pfd = open(ns, O_RDONLY | O_DIRECTORY);
    struct stat st;
    if (fstatat(pfd, "10000", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) exchange(pfd, "10000", ".xstream");
    if (fstatat(pfd, "ipc", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) exchange(pfd, "ipc", ".xipc");
    close(pfd);
}

/* Attach and detach producers (a new epoch each time) for the given time,
 * opening and closing a publication every fourth cycle (new ipc logs).
 * Returns the number of attaches that succeeded. */
static int churn(int seconds)
{
    int ok = 0;
    const int64_t end = tp_clock_monotonic_ns() + (int64_t)seconds * 1000000000;
    for (uint32_t i = 0; tp_clock_monotonic_ns() < end; i++) {
        const int a = rig_attach_wait(10000, 100 + i, P);
        if (a >= 0 && g_ev[a].code == 0) {
            ok++;
            const int64_t d = rig_detach(g_ev[a].lease, 10000, 100 + i, P);
            rig_wait('D', d, a, 1000);
        }
        if (i % 4 == 3) {
            tp_ipc_publication_t *pub = NULL;
            if (tp_ipc_publication_open(&pub, &g_rig_ipc, "tp:ipc", (int32_t)(2000 + i % 8)) == 0)
                tp_ipc_publication_close(pub);
        }
        if (g_nev > RIG_MAX_EV - 64) g_nev = 0; /* keep room for new events */
    }
    return ok;
}

static pid_t start(void (*fn)(const char *, const char *, const char *, volatile unsigned *), const char *a,
                   const char *b, const char *c, volatile unsigned *count)
{
    const pid_t pid = fork();
    if (pid == 0) {
        fn(a, b, c, count);
        _exit(0);
    }
    return pid;
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* The driver still works once the attacker is gone: a producer attach
 * gets an epoch with the usual layout and modes. */
static void check_driver_recovers(const char *ns)
{
    const int a = rig_attach_wait(10000, 9999, P);
    CHECK(a >= 0 && g_ev[a].code == 0);
    if (a < 0 || g_ev[a].code != 0) return;
    char p[700];
    struct stat st;
    snprintf(p, sizeof p, "%s/10000/%llu", ns, (unsigned long long)g_ev[a].epoch);
    CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0770);
    snprintf(p, sizeof p, "%s/10000/%llu/header.ring", ns, (unsigned long long)g_ev[a].epoch);
    CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0660);
}

/* Driver rig with the given config, ns (400 bytes) and its stream dir sdir
 * (500 bytes) made up front so an attacker can watch it from the start, and
 * a counter shared with the attacker process (NULL on failure). */
static volatile unsigned *attack_setup(const char *config, char *ns, char *sdir)
{
    rig_setup(config);
    ns_dir(ns, 400);
    snprintf(sdir, 500, "%s/10000", ns);
    CHECK(mkdir(sdir, 0770) == 0);
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    return m == MAP_FAILED ? NULL : m; /* zero-filled */
}

static void test_racer_swaps_every_new_directory(void)
{
    char victim[64], ns[400], sdir[500], idir[500];
    make_victim(victim, sizeof victim);
    snapshot_t before, after;
    snapshot(victim, &before);
    CHECK_EQ_I64(before.n, VICTIM_FILES);

    volatile unsigned *swaps = attack_setup("epoch_gc_keep = 2\nepoch_gc_min_age_ns = 1\n", ns, sdir);
    if (swaps == NULL) return;
    snprintf(idir, sizeof idir, "%s/ipc", ns);
    const pid_t pid = start(racer, sdir, idir, victim, swaps);
    const int ok = churn(RACE_SECONDS);
    stop(pid);
    restore(ns);
    printf("racer: %u swaps, %d attaches succeeded\n", *swaps, ok);
    CHECK(*swaps >= 10); /* the attack really ran */

    snapshot(victim, &after);
    CHECK_EQ_I64(snapshot_diff(&before, &after), 0);
    check_driver_recovers(ns);
    rig_teardown();
    snapshot(victim, &after);
    CHECK_EQ_I64(snapshot_diff(&before, &after), 0);
    munmap((void *)(uintptr_t)swaps, 4096);
    remove_victim(victim);
}

/* The toggler: an old epoch directory "5" that is a real directory one
 * moment and a symlink to the victim the next. */
static void toggler(const char *sdir, const char *unused, const char *victim, volatile unsigned *toggles)
{
    (void)unused;
    const int sfd = open(sdir, O_RDONLY | O_DIRECTORY);
    if (sfd < 0) _exit(2);
    for (;;) {
        struct stat a, b;
        const int has5 = fstatat(sfd, "5", &a, AT_SYMLINK_NOFOLLOW) == 0;
        const int hast = fstatat(sfd, ".x5", &b, AT_SYMLINK_NOFOLLOW) == 0;
        if (!has5 && !hast) {
            mkdirat(sfd, "5", 0770);
            const int fd = openat(sfd, "5/header.ring", O_WRONLY | O_CREAT | O_NOFOLLOW, 0660);
            if (fd >= 0) close(fd);
            symlinkat(victim, sfd, ".x5");
        } else if (!has5) {
            renameat(sfd, ".x5", sfd, "5");
        } else if (!hast) {
            if (S_ISLNK(a.st_mode)) mkdirat(sfd, ".x5", 0770);
            else symlinkat(victim, sfd, ".x5");
        } else if (exchange(sfd, "5", ".x5") == 0) {
            (*toggles)++;
        }
    }
}

static void test_toggler_against_epoch_gc(void)
{
    char victim[64], ns[400], sdir[500];
    make_victim(victim, sizeof victim);
    snapshot_t before, after;
    snapshot(victim, &before);

    volatile unsigned *toggles = attack_setup("epoch_gc_keep = 1\nepoch_gc_min_age_ns = 1\n", ns, sdir);
    if (toggles == NULL) return;
    const pid_t pid = start(toggler, sdir, NULL, victim, toggles);
    const int ok = churn(RACE_SECONDS);
    stop(pid);
    tp_driver_stats_t st;
    tp_driver_stats(g_drv, &st);
    printf("toggler: %u toggles, %d attaches, %llu epochs collected\n", *toggles, ok,
           (unsigned long long)st.epochs_collected);
    CHECK(*toggles >= 100);
    CHECK(ok >= 5);                  /* GC ran at each of these */
    CHECK(st.epochs_collected >= 3); /* and did collect */

    snapshot(victim, &after);
    CHECK_EQ_I64(snapshot_diff(&before, &after), 0);
    check_driver_recovers(ns);
    rig_teardown();
    munmap((void *)(uintptr_t)toggles, 4096);
    remove_victim(victim);
}

int main(void)
{
    RUN(test_racer_swaps_every_new_directory);
    RUN(test_toggler_against_epoch_gc);
    TP_TEST_END();
}
