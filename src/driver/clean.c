/* Removing the leftovers of dead drivers, producers and publishers
 * (tensorpool/clean.h). Every directory is opened relative to its parent's fd
 * with O_DIRECTORY|O_NOFOLLOW and every removal is an unlinkat in that fd, so
 * a neighbour who renames or symlinks entries meanwhile can at worst make an
 * item be kept, never send a removal outside the base. */
#include "tensorpool/clean.h"

#include "../ipc/ipc_log_file.h"
#include "../ipc/ipc_proc.h"
#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_path.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* A file whose creator is unknown (no readable superblock) is kept while it
 * changed this recently: it may be an epoch being created right now. */
#define RECENT_NS (60LL * 1000000000LL)
#define DEFAULT_LINGER_NS (5LL * 1000000000LL)
#define PATH_CAP 1024

typedef struct {
    const tp_clean_options_t *opt;
    tp_clean_summary_t *sum;
    dev_t dev;          /* file system of the base: mappings elsewhere are irrelevant */
    ino_t *mapped;      /* inodes on dev that some live process maps, sorted */
    size_t nmapped;
    int64_t now_real_ns;
} clean_t;

static void report(clean_t *c, const char *path, const char *kind, uint64_t bytes, int removed, int error,
                   const char *why)
{
    if (error) c->sum->errors++;
    else if (removed) {
        c->sum->removed++;
        c->sum->bytes_freed += bytes;
    } else {
        c->sum->kept++;
    }
    if (c->opt->report != NULL) {
        const tp_clean_item_t item = {path, kind, bytes, removed, error, why};
        c->opt->report(c->opt->clientd, &item);
    }
}

static int all_digits(const char *s)
{
    if (*s == '\0') return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* out = "a/b" (PATH_CAP bytes); -1 when it does not fit (then it is skipped). */
static int path_join(char *out, const char *a, const char *b)
{
    return snprintf(out, PATH_CAP, "%s/%s", a, b) < PATH_CAP ? 0 : -1;
}

/* A listing of the directory fd from its start (the dup shares the offset of
 * earlier listings, hence the rewind); the fd itself stays open. */
static DIR *listing(int dirfd)
{
    const int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL && fd >= 0) close(fd);
    if (d != NULL) rewinddir(d);
    return d;
}

static int open_dir_at(int parent, const char *name)
{
    return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* ---- who is alive ---- */

static int cmp_ino(const void *a, const void *b)
{
    const ino_t x = *(const ino_t *)a, y = *(const ino_t *)b;
    return x < y ? -1 : x > y;
}

/* Inodes on c->dev mapped by any process whose maps we may read, except
 * opt->gone_pid. Unreadable processes are skipped (see clean.h). */
static void collect_mappings(clean_t *c)
{
    DIR *proc = opendir("/proc");
    if (proc == NULL) return;
    size_t cap = 0;
    struct dirent *e;
    char path[64], line[PATH_CAP];
    while ((e = readdir(proc)) != NULL) {
        if (!all_digits(e->d_name) || atoi(e->d_name) == c->opt->gone_pid) continue;
        if (snprintf(path, sizeof path, "/proc/%s/maps", e->d_name) >= (int)sizeof path) continue;
        FILE *f = fopen(path, "re");
        if (f == NULL) continue;
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned maj, min;
            unsigned long long ino;
            if (sscanf(line, "%*x-%*x %*s %*x %x:%x %llu", &maj, &min, &ino) != 3 || ino == 0) continue;
            if (makedev(maj, min) != c->dev) continue;
            if (c->nmapped == cap) {
                const size_t ncap = cap ? cap * 2 : 256;
                ino_t *n = realloc(c->mapped, ncap * sizeof *n);
                if (n == NULL) break;
                c->mapped = n;
                cap = ncap;
            }
            c->mapped[c->nmapped++] = (ino_t)ino;
        }
        fclose(f);
    }
    closedir(proc);
    if (c->nmapped > 0) qsort(c->mapped, c->nmapped, sizeof *c->mapped, cmp_ino);
}

static int is_mapped(const clean_t *c, ino_t ino)
{
    return c->nmapped > 0 && bsearch(&ino, c->mapped, c->nmapped, sizeof ino, cmp_ino) != NULL;
}

/* Whether the process that wrote a superblock still runs (not a zombie). Its
 * start_timestamp_ns is on the creator's own clock (a library user may drive
 * the driver with any), so it cannot tell a recycled pid reliably: a recycled
 * pid keeps the files until that process ends, the safe way to be wrong. */
static int creator_alive(const clean_t *c, uint64_t pid)
{
    uint64_t ticks;
    return pid != 0 && pid <= INT32_MAX && (int)pid != c->opt->gone_pid && tp_ipc_proc_start_time((int)pid, &ticks) == 0;
}

static int publisher_alive(const clean_t *c, int pid, uint64_t start_time)
{
    return pid != c->opt->gone_pid && tp_ipc_proc_alive(pid, start_time);
}

/* pid holding an flock on the file (dev, ino), from /proc/locks; 0 if none;
 * -1 when /proc/locks cannot be read (then the caller assumes a holder). */
static int flock_holder(dev_t dev, ino_t ino)
{
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL) return -1;
    char line[256];
    int holder = 0;
    while (holder == 0 && fgets(line, sizeof line, f) != NULL) {
        char type[16];
        int pid;
        unsigned maj, min;
        unsigned long long i;
        /* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF" (blocked waiters have "->") */
        if (strstr(line, "->") != NULL) continue;
        if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%llu", type, &pid, &maj, &min, &i) != 5) continue;
        if (strcmp(type, "FLOCK") == 0 && makedev(maj, min) == dev && (ino_t)i == ino) holder = pid > 0 ? pid : 1;
    }
    fclose(f);
    return holder;
}

/* ---- one epoch directory ---- */

typedef struct {
    uint64_t bytes;
    char why[160]; /* empty: removable */
    int creators;  /* files whose superblock named a creator */
} verdict_t;

static int64_t mtime_ns(const struct stat *st) { return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec; }

static void judge_region_file(clean_t *c, int efd, const char *name, const struct stat *st, verdict_t *v)
{
    v->bytes += (uint64_t)st->st_blocks * 512u;
    if (is_mapped(c, st->st_ino)) {
        if (v->why[0] == '\0' && snprintf(v->why, sizeof v->why, "%.64s is mapped by a live process", name) < 0) v->why[0] = '?';
        return;
    }
    const int fd = openat(efd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    uint8_t raw[TP_SHM_SUPERBLOCK_SIZE];
    tp_superblock_t sb;
    if (fd >= 0 && pread(fd, raw, sizeof raw, 0) == (ssize_t)sizeof raw) {
        tp_superblock_read(raw, &sb);
        if (sb.magic == TP_SHM_MAGIC) {
            v->creators++;
            if (creator_alive(c, sb.pid) && v->why[0] == '\0')
                snprintf(v->why, sizeof v->why, "its creator, pid %" PRIu64 ", is alive", sb.pid);
        }
    }
    if (fd >= 0) close(fd);
}

/* Decide on <stream>/<epoch> and remove it when nothing live uses it. */
static void clean_epoch(clean_t *c, int sfd, const char *name, const char *rel)
{
    const int efd = open_dir_at(sfd, name);
    if (efd < 0) {
        report(c, rel, "epoch", 0, 0, 1, strerror(errno));
        return;
    }
    verdict_t v = {0};
    int64_t newest = 0;
    struct stat dst;
    if (fstat(efd, &dst) == 0) newest = mtime_ns(&dst);
    DIR *d = listing(efd);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (fstatat(efd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (mtime_ns(&st) > newest) newest = mtime_ns(&st);
        if (S_ISREG(st.st_mode)) judge_region_file(c, efd, e->d_name, &st, &v);
        else if (!S_ISLNK(st.st_mode) && v.why[0] == '\0')
            snprintf(v.why, sizeof v.why, "it holds something other than files");
    }
    if (d != NULL) closedir(d);
    if (v.why[0] == '\0' && v.creators == 0 && c->now_real_ns - newest < RECENT_NS)
        snprintf(v.why, sizeof v.why, "no superblock names a creator and it changed less than a minute ago");
    if (v.why[0] != '\0') {
        report(c, rel, "epoch", v.bytes, 0, 0, v.why);
        close(efd);
        return;
    }
    const char *why = v.creators > 0 ? "its creator is gone and nothing maps it" : "no creator, unchanged for a minute, not mapped";
    int failed = 0;
    if (!c->opt->dry_run) {
        d = listing(efd);
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            if (unlinkat(efd, e->d_name, 0) != 0 && errno != ENOENT) failed = errno;
        }
        if (d != NULL) closedir(d);
        if (!failed && unlinkat(sfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) failed = errno;
    }
    close(efd);
    report(c, rel, "epoch", v.bytes, !failed, failed != 0, failed ? strerror(failed) : why);
}

/* Remove name (a file or an empty directory) in dirfd: an item of its own. */
static int remove_item(clean_t *c, int dirfd, const char *name, int dir, const char *rel, const char *kind,
                       uint64_t bytes, const char *why)
{
    int err = 0;
    if (!c->opt->dry_run && unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) err = errno;
    report(c, rel, kind, bytes, !err, err != 0, err ? strerror(err) : why);
    return err ? -1 : 0;
}

/* Entries left in a directory fd other than those listed in `ignore`
 * (NULL-terminated). With dry_run, entries reported removed still count, so
 * the caller also passes how many of them it removed. */
static int entries_except(int dirfd, const char *const *ignore)
{
    DIR *d = listing(dirfd);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        int skip = 0;
        for (int i = 0; ignore != NULL && ignore[i] != NULL; i++) skip |= strcmp(e->d_name, ignore[i]) == 0;
        n += !skip;
    }
    closedir(d);
    return n;
}

static uint64_t file_bytes(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)st.st_blocks * 512u : 0;
}

/* <ns>/<stream_id>: its epochs, then (no driver) last_epoch and the directory. */
static int clean_stream(clean_t *c, int nsfd, const char *name, const char *rel, int driver_pid)
{
    const int sfd = open_dir_at(nsfd, name);
    if (sfd < 0) {
        report(c, rel, "stream", 0, 0, 1, strerror(errno));
        return 1;
    }
    int left = 0, gone = 0;
    DIR *d = listing(sfd);
    struct dirent *e;
    char sub[PATH_CAP];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (!all_digits(e->d_name)) continue;
        struct stat st;
        if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (path_join(sub, rel, e->d_name) != 0) continue;
        const uint64_t before = c->sum->removed;
        clean_epoch(c, sfd, e->d_name, sub);
        if (c->sum->removed > before) gone++;
        else left++;
    }
    if (d != NULL) closedir(d);
    static const char *const epoch_files[] = {"last_epoch", "last_epoch.tmp", NULL};
    const int others = entries_except(sfd, epoch_files) - gone * c->opt->dry_run;
    int kept = 1;
    if (driver_pid != 0) {
        if (left == 0 && others == 0) report(c, rel, "stream", 0, 0, 0, "the namespace's driver is running: it keeps last_epoch");
    } else if (others == 0) {
        uint64_t bytes = 0;
        for (int i = 0; epoch_files[i] != NULL; i++) bytes += file_bytes(sfd, epoch_files[i]);
        int err = 0;
        for (int i = 0; !c->opt->dry_run && epoch_files[i] != NULL; i++)
            if (unlinkat(sfd, epoch_files[i], 0) != 0 && errno != ENOENT) err = errno;
        if (err == 0)
            kept = remove_item(c, nsfd, name, 1, rel, "stream", bytes,
                               "no epoch left, no driver running: a new one takes its epochs from the clock") != 0;
        else
            report(c, rel, "stream", bytes, 0, 1, strerror(err));
    }
    close(sfd);
    return kept;
}

/* <ns>/ipc: logs of gone publishers, closed logs past their linger, the index
 * once nothing is left. Returns 1 if the ipc directory stays. */
static int clean_ipc(clean_t *c, int nsfd, const char *rel_ns)
{
    const int ifd = open_dir_at(nsfd, "ipc");
    if (ifd < 0) return errno == ENOENT ? 0 : 1;
    char rel[PATH_CAP];
    int logs_left = 0, others = 0;
    DIR *d = listing(ifd);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "index") == 0) continue;
        if (snprintf(rel, sizeof rel, "%s/ipc/%s", rel_ns, e->d_name) >= (int)sizeof rel) continue;
        struct stat st;
        tp_ipc_log_name_t ln;
        if (fstatat(ifd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode) || tp_ipc_log_name_parse(e->d_name, &ln) != 0) {
            others++;
            report(c, rel, "file", 0, 0, 0, "not a transport log");
            continue;
        }
        const uint64_t bytes = (uint64_t)st.st_blocks * 512u;
        char why[128] = "";
        tp_ipc_log_meta_t meta;
        if (is_mapped(c, st.st_ino)) {
            snprintf(why, sizeof why, "mapped by a live process");
        } else if (ln.is_tmp) {
            if (publisher_alive(c, ln.pid, ln.start_time)) snprintf(why, sizeof why, "being created by pid %d", ln.pid);
        } else if (tp_ipc_log_read_meta(ifd, e->d_name, &meta) != 0) {
            snprintf(why, sizeof why, "its header cannot be read: %s", tp_errmsg());
        } else {
            const int64_t closed = atomic_load_explicit(&meta.closed_ns, memory_order_relaxed);
            if (closed != 0 && c->now_real_ns - closed < c->opt->log_linger_ns)
                snprintf(why, sizeof why, "closed %.1f s ago: lingers for subscribers",
                         (double)(c->now_real_ns - closed) / 1e9);
            else if (closed == 0 && publisher_alive(c, meta.pid, meta.start_time))
                snprintf(why, sizeof why, "its publisher, pid %d, is alive", (int)meta.pid);
        }
        if (why[0] != '\0') {
            logs_left++;
            report(c, rel, "log", bytes, 0, 0, why);
        } else if (remove_item(c, ifd, e->d_name, 0, rel, "log", bytes,
                               ln.is_tmp ? "unfinished log of a gone process" : "closed or its publisher is gone") != 0) {
            logs_left++;
        }
    }
    if (d != NULL) closedir(d);
    int stays = 1;
    struct stat st;
    const int has_index = fstatat(ifd, "index", &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (path_join(rel, rel_ns, "ipc/index") != 0) rel[0] = '\0';
    if (has_index && (logs_left > 0 || others > 0))
        report(c, rel, "index", (uint64_t)st.st_blocks * 512u, 0, 0, "logs are left");
    else if (has_index && is_mapped(c, st.st_ino))
        report(c, rel, "index", (uint64_t)st.st_blocks * 512u, 0, 0, "mapped by a live process");
    else if (logs_left == 0 && others == 0 &&
             (!has_index || remove_item(c, ifd, "index", 0, rel, "index", (uint64_t)st.st_blocks * 512u,
                                        "no log left, nothing maps it") == 0)) {
        if (path_join(rel, rel_ns, "ipc") != 0) rel[0] = '\0';
        stays = remove_item(c, nsfd, "ipc", 1, rel, "namespace", 0, "empty") != 0;
    }
    close(ifd);
    return stays;
}

/* join-<out>-<pid>.trace, a regular file, and that pid no longer runs. */
static int is_trace_of_gone(const clean_t *c, int nsfd, const char *name, struct stat *st)
{
    unsigned out;
    int pid, end = 0;
    if (sscanf(name, "join-%u-%d.trace%n", &out, &pid, &end) != 2 || end == 0 || name[end] != '\0' || pid <= 0)
        return 0;
    if (fstatat(nsfd, name, st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st->st_mode)) return 0;
    return !creator_alive(c, (uint64_t)pid);
}

static void clean_namespace(clean_t *c, int ufd, const char *name, const char *rel)
{
    const int nsfd = open_dir_at(ufd, name);
    if (nsfd < 0) {
        report(c, rel, "namespace", 0, 0, 1, strerror(errno));
        return;
    }
    int driver_pid = 0;
    struct stat lk;
    const int has_lock = fstatat(nsfd, "driver.lock", &lk, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(lk.st_mode);
    if (has_lock) driver_pid = flock_holder(lk.st_dev, lk.st_ino);
    if (driver_pid > 0 && driver_pid == c->opt->gone_pid) driver_pid = 0;
    int left = 0; /* entries that stay: kept streams, anything not ours */
    char sub[PATH_CAP];
    DIR *d = listing(nsfd);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "ipc") == 0 ||
            strcmp(e->d_name, "driver.lock") == 0)
            continue;
        struct stat st;
        if (is_trace_of_gone(c, nsfd, e->d_name, &st)) { /* a join stage's trace (join_trace.h) whose process is gone */
            if (path_join(sub, rel, e->d_name) != 0 ||
                remove_item(c, nsfd, e->d_name, 0, sub, "file", (uint64_t)st.st_size, "join trace of a gone process") != 0)
                left++;
            continue;
        }
        if (!all_digits(e->d_name) || fstatat(nsfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
            path_join(sub, rel, e->d_name) != 0) {
            left++; /* not a stream directory: not ours to judge */
            continue;
        }
        left += clean_stream(c, nsfd, e->d_name, sub, driver_pid);
    }
    if (d != NULL) closedir(d);
    left += clean_ipc(c, nsfd, rel);
    if (path_join(sub, rel, "driver.lock") != 0) sub[0] = '\0';
    if (driver_pid != 0) {
        char why[96];
        snprintf(why, sizeof why, driver_pid > 0 ? "a driver (pid %d) holds it" : "/proc/locks unreadable: assumed held",
                 driver_pid);
        report(c, sub, "file", 0, 0, 0, why);
    } else if (left == 0 && (!has_lock || remove_item(c, nsfd, "driver.lock", 0, sub, "file", 0, "no driver holds it") == 0)) {
        remove_item(c, ufd, name, 1, rel, "namespace", 0, "empty");
    }
    close(nsfd);
}

void tp_clean_options_init(tp_clean_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->log_linger_ns = DEFAULT_LINGER_NS;
}

int tp_clean(const char *base_dir, const tp_clean_options_t *opt, tp_clean_summary_t *summary)
{
    memset(summary, 0, sizeof *summary);
    const int bfd = tp_shm_dir_open_nofollow(base_dir);
    if (bfd < 0) return tp_err_set(TP_ERR_NOT_FOUND, "cannot open '%s' without following a symlink: %s", base_dir, strerror(errno));
    struct stat bst;
    if (fstat(bfd, &bst) != 0) {
        close(bfd);
        return tp_err_set(TP_ERR_IO, "stat '%s': %s", base_dir, strerror(errno));
    }
    clean_t c = {.opt = opt, .sum = summary, .dev = bst.st_dev, .now_real_ns = tp_clock_realtime_ns()};
    collect_mappings(&c);
    DIR *d = listing(bfd);
    struct dirent *e;
    char rel[PATH_CAP];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "tensorpool-", 11) != 0) continue; /* not ours */
        const int ufd = open_dir_at(bfd, e->d_name);
        if (ufd < 0) continue; /* a symlink or a file of that name: not a user directory */
        struct stat ust;
        if (fstat(ufd, &ust) == 0 && ust.st_uid != geteuid() && geteuid() != 0) {
            report(&c, e->d_name, "user", 0, 0, 0, "belongs to another user");
            close(ufd);
            continue;
        }
        DIR *u = listing(ufd);
        struct dirent *n;
        while (u != NULL && (n = readdir(u)) != NULL) {
            struct stat st;
            if (n->d_name[0] == '.' || fstatat(ufd, n->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
                continue;
            if (path_join(rel, e->d_name, n->d_name) != 0) continue;
            clean_namespace(&c, ufd, n->d_name, rel);
        }
        if (u != NULL) closedir(u);
        if (!opt->dry_run && entries_except(ufd, NULL) == 0) remove_item(&c, bfd, e->d_name, 1, e->d_name, "user", 0, "empty");
        close(ufd);
    }
    if (d != NULL) closedir(d);
    close(bfd);
    free(c.mapped);
    return 0;
}
