/* Epochs on disk (docs/spec/driver.md §5.8, D-6.a, D-10.c, D-14.a): choose the next
 * epoch above every one used before, create its directory and files, keep
 * their activity timestamps fresh, and collect old epoch directories. */
#include "driver_impl.h"

#include "../util/dir_fd.h"

#include "tensorpool/error.h"
#include "tensorpool/shm_dir.h"
#include "tensorpool/shm_layout.h"
#include "tensorpool/shm_region.h"
#include "tensorpool/shm_uri.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int stream_dir(const tp_driver_t *d, uint32_t stream_id, char *out, size_t cap)
{
    const int n = snprintf(out, cap, "%s/%" PRIu32, d->ns_dir, stream_id);
    if (n < 0 || (size_t)n >= cap) return tp_err_set(TP_ERR_CAPACITY, "stream directory path too long");
    return 0;
}

/* Decimal name -> value; 0 for anything that is not a plain epoch number. */
static uint64_t numeric_name(const char *s)
{
    if (s[0] < '1' || s[0] > '9' || strlen(s) > 20) return 0;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        const uint64_t nv = v * 10 + (uint64_t)(*p - '0');
        if (nv / 10 != v) return 0;
        v = nv;
    }
    return v;
}

/* Highest epoch ever used for the stream: the persisted value and every
 * epoch directory still on disk (§3.12, [R] 22). sfd: the stream directory. */
static uint64_t load_last_epoch(int sfd)
{
    uint64_t last = 0;
    const int fd = tp_dir_open_file(sfd, "last_epoch", O_RDONLY, 0, 0); /* ours, no link followed */
    if (fd >= 0) {
        char buf[32];
        const ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        last = numeric_name(buf);
    }
    DIR *dir = fdopendir(openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir != NULL) {
        for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
            const uint64_t v = numeric_name(e->d_name);
            if (v > last) last = v;
        }
        closedir(dir);
    }
    return last;
}

/* Write last_epoch.tmp in the stream directory and rename it over
 * last_epoch, both by name in sfd. */
static int persist_last_epoch(int sfd, const char *sdir, uint64_t epoch)
{
    static const char tmp[] = "last_epoch.tmp";
    tp_dir_unlink_file(sfd, tmp); /* a leftover of ours, or a planted link */
    const int fd = tp_dir_open_file(sfd, tmp, O_WRONLY, 0660, TP_DIR_CREATE | TP_DIR_TRUNCATE);
    if (fd < 0) return tp_err_wrap("persist epoch in '%s'", sdir);
    char buf[32];
    const int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", epoch);
    const int ok = write(fd, buf, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (!ok || renameat(sfd, tmp, sfd, "last_epoch") != 0) {
        const int e = errno;
        tp_dir_unlink_file(sfd, tmp);
        return tp_err_set(TP_ERR_IO, "persist epoch in '%s': %s", sdir, strerror(e));
    }
    return 0;
}

void drv_epoch_release(drv_stream_t *s)
{
    for (unsigned i = 0; i < 1 + TP_SHM_MAX_POOLS; i++) {
        if (s->fds[i] >= 0) close(s->fds[i]);
        s->fds[i] = -1;
    }
}

static uint32_t dir_mode(uint32_t file_mode)
{
    return file_mode | ((file_mode & 0444) >> 2); /* x wherever r is set: 0660 -> 0770 (§5.8) */
}

/* Open the new epoch's files by name in its directory (never through a
 * symlink, only files we own) and set the configured modes with fchmod on
 * those fds, so the umask cannot weaken them (§5.8 step 1 [R]). The fds stay
 * in s->fds for the activity refresh. */
static int epoch_files_adopt(tp_driver_t *d, drv_stream_t *s, int sfd, uint64_t epoch)
{
    const tp_shm_writer_t *w = d->writer;
    const uint32_t fmode = d->cfg.permissions_mode, dmode = dir_mode(fmode);
    char name[24];
    snprintf(name, sizeof name, "%" PRIu64, epoch);
    const int efd = tp_dir_open(sfd, name);
    if (efd < 0) return -1;
    int rc = tp_dir_fchmod_own(efd, dmode, w->epoch_dir) == 0 && tp_dir_fchmod_own(sfd, dmode, "stream directory") == 0
                 ? 0
                 : -1;
    for (unsigned i = 0; rc == 0 && i <= w->npools; i++) {
        const char *path = i == 0 ? w->ring_path : w->pool_path[i - 1];
        s->fds[i] = tp_dir_open_file(efd, strrchr(path, '/') + 1, O_RDWR, 0, 0);
        if (s->fds[i] < 0 || tp_dir_fchmod_own(s->fds[i], fmode, path) != 0) rc = -1;
    }
    close(efd);
    return rc;
}

/* drv_epoch_advance with the stream directory open as sfd. */
static int epoch_advance_in(tp_driver_t *d, drv_stream_t *s, int sfd, const char *sdir)
{
    const tp_driver_profile_t *p = &d->cfg.profiles[s->profile];
    if (!s->last_epoch_loaded) {
        const uint64_t disk = load_last_epoch(sfd);
        if (disk > s->last_epoch) s->last_epoch = disk;
        s->last_epoch_loaded = 1;
    }
    if (s->epoch > s->last_epoch) s->last_epoch = s->epoch;
    /* W-7.1.g: an epoch must neither wrap (it would sort below the old ones
     * and every consumer would ignore it) nor reach UINT64_MAX, the null
     * value on the wire. Refuse; the operator clears the stream directory. */
    if (s->last_epoch >= UINT64_MAX - 1)
        return tp_err_set(TP_ERR_STATE, "epoch space exhausted (last epoch %" PRIu64 " in %s) (W-7.1.g)", s->last_epoch,
                          sdir);
    /* [R] 22: max(monotonic now, previous + 1), strictly above anything used */
    uint64_t epoch = s->last_epoch + 1;
    const uint64_t now = (uint64_t)d->now_ns;
    if (now > epoch) epoch = now;
    if (persist_last_epoch(sfd, sdir, epoch) != 0) return -1;
    s->last_epoch = epoch;

    tp_shm_writer_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.base_dir = d->cfg.base_dir;
    wc.user = d->user;
    wc.ns = d->cfg.ns;
    wc.stream_id = s->stream_id;
    wc.epoch = epoch;
    wc.nslots = p->header_nslots;
    wc.npools = p->npools;
    memcpy(wc.pools, p->pools, sizeof wc.pools);
    wc.require_hugepages = s->hugepages;
    /* the driver drops the mapping below; producers populate their own */
    wc.region_flags = TP_SHM_CREATE_NO_POPULATE | (d->cfg.prefault_shm ? 0u : TP_SHM_CREATE_NO_PREFAULT);
    wc.now_ns = now;
    if (tp_shm_writer_open(d->writer, &wc) != 0) return tp_err_wrap("stream %u epoch %" PRIu64, s->stream_id, epoch);
    /* Keep the paths, drop the mapping: the driver never maps payloads. */
    tp_shm_writer_t *w = d->writer;
    drv_epoch_release(s);
    if (epoch_files_adopt(d, s, sfd, epoch) != 0) {
        tp_err_wrap("stream %u epoch %" PRIu64, s->stream_id, epoch);
        drv_epoch_release(s);
        tp_shm_writer_close(w, 1);
        return -1;
    }
    snprintf(s->epoch_dir, sizeof s->epoch_dir, "%s", w->epoch_dir);
    tp_shm_writer_close(w, 0);
    s->epoch = epoch;
    s->live = 1;
    d->stats.epochs_created++;
    drv_log(d, "stream %u: epoch %" PRIu64 " created in %s", s->stream_id, epoch, s->epoch_dir);
    if (d->cfg.epoch_gc_enabled && d->cfg.epoch_gc_keep > 0) drv_epoch_gc(d, s->stream_id, epoch);
    return 0;
}

int drv_epoch_advance(tp_driver_t *d, drv_stream_t *s)
{
    char sdir[TP_SHM_PATH_MAX];
    if (stream_dir(d, s->stream_id, sdir, sizeof sdir) != 0) return -1;
    const int sfd = tp_dir_make(AT_FDCWD, sdir, 0770, 0, NULL);
    if (sfd < 0) return -1;
    if (tp_dir_check_own(sfd, sdir) != 0) { /* made first by another user: not ours to fill */
        close(sfd);
        return -1;
    }
    const int rc = epoch_advance_in(d, s, sfd, sdir);
    close(sfd);
    return rc;
}

void drv_epoch_heartbeat(tp_driver_t *d, drv_stream_t *s)
{
    uint8_t le[8];
    const uint64_t now = (uint64_t)d->now_ns;
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(now >> (8 * i));
    for (unsigned i = 0; i < 1 + TP_SHM_MAX_POOLS; i++)
        if (s->fds[i] >= 0 && pwrite(s->fds[i], le, sizeof le, TP_SHM_ACTIVITY_OFFSET) != (ssize_t)sizeof le)
            drv_log(d, "stream %u: activity refresh failed: %s", s->stream_id, strerror(errno));
}

int drv_epoch_uri(const tp_driver_t *d, const drv_stream_t *s, int pool, char *buf, size_t cap)
{
    char path[TP_SHM_PATH_MAX];
    const int n = pool < 0 ? tp_shm_dir_ring_path(path, sizeof path, s->epoch_dir)
                           : tp_shm_dir_pool_path(path, sizeof path, s->epoch_dir,
                                                  d->cfg.profiles[s->profile].pools[pool].pool_id);
    if (n < 0) return -1;
    return tp_shm_uri_format(buf, cap, path, s->hugepages);
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Epoch GC: the stream directory is read and its entries removed by name
 * through its fd; an old epoch found as a symlink is removed as a link and
 * never entered; a directory is emptied through its own fd (dir_fd.h). */
void drv_epoch_gc(tp_driver_t *d, uint32_t stream_id, uint64_t current)
{
    char sdir[TP_SHM_PATH_MAX];
    if (stream_dir(d, stream_id, sdir, sizeof sdir) != 0) return;
    const int sfd = tp_dir_open(AT_FDCWD, sdir);
    if (sfd < 0) return;
    DIR *dir = fdopendir(openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir == NULL) {
        close(sfd);
        return;
    }
    uint64_t found[512];
    unsigned n = 0;
    for (struct dirent *e = readdir(dir); e != NULL && n < 512; e = readdir(dir)) {
        const uint64_t v = numeric_name(e->d_name);
        if (v != 0 && v != current) found[n++] = v;
    }
    closedir(dir);
    qsort(found, n, sizeof found[0], cmp_u64);
    const unsigned keep_old = d->cfg.epoch_gc_keep - 1; /* current + N-1 older */
    const uint64_t min_age = d->cfg.epoch_gc_min_age_ns != 0 ? d->cfg.epoch_gc_min_age_ns
                                                               : 3ull * (uint64_t)d->announce_period_ns;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t now_rt = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    for (unsigned i = 0; n > keep_old && i < n - keep_old; i++) {
        char name[24];
        snprintf(name, sizeof name, "%" PRIu64, found[i]);
        struct stat st;
        if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISLNK(st.st_mode)) {
            if (unlinkat(sfd, name, 0) == 0)
                drv_log(d, "stream %u: '%s' was a symlink, not an epoch directory: link removed, not followed",
                        stream_id, name);
            continue;
        }
        if (!S_ISDIR(st.st_mode)) continue;
        const int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (now_rt - mtime < (int64_t)min_age) continue;
        if (tp_dir_remove_tree(sfd, name) != 0) {
            drv_log(d, "stream %u: epoch %" PRIu64 " not collected: %s", stream_id, found[i], strerror(errno));
            continue;
        }
        d->stats.epochs_collected++;
        drv_log(d, "stream %u: epoch %" PRIu64 " collected", stream_id, found[i]);
    }
    close(sfd);
}

int drv_epoch_check(const tp_driver_t *d, const drv_stream_t *s)
{
    const tp_driver_profile_t *p = &d->cfg.profiles[s->profile];
    for (unsigned i = 0; i < 1 + TP_SHM_MAX_POOLS; i++) {
        if (s->fds[i] < 0) continue;
        const char *what = i == 0 ? "header ring" : "pool file";
        uint8_t raw[TP_SHM_SUPERBLOCK_SIZE];
        struct stat st;
        if (fstat(s->fds[i], &st) != 0 || pread(s->fds[i], raw, sizeof raw, 0) != (ssize_t)sizeof raw)
            return tp_err_set(TP_ERR_TRUNCATED, "stream %u epoch %" PRIu64 ": %s: no superblock (truncated)",
                              s->stream_id, s->epoch, what);
        tp_superblock_t sb;
        tp_superblock_read(raw, &sb);
        tp_shm_region_expect_t e = {.layout_version = TP_SHM_LAYOUT_VERSION,
                                    .epoch = s->epoch,
                                    .stream_id = s->stream_id,
                                    .region_type = TP_CONTROL_REGION_TYPE_HEADER_RING,
                                    .nslots = p->header_nslots};
        if (i > 0) { /* fds follow the writer's stride order: find the pool by the id it claims */
            unsigned k = 0;
            while (k < p->npools && p->pools[k].pool_id != sb.pool_id) k++;
            if (k == p->npools)
                return tp_err_set(TP_ERR_MALFORMED, "stream %u epoch %" PRIu64 ": %s: superblock names pool %u",
                                  s->stream_id, s->epoch, what, sb.pool_id);
            e.region_type = TP_CONTROL_REGION_TYPE_PAYLOAD_POOL;
            e.pool_id = sb.pool_id;
            e.stride_bytes = p->pools[k].stride_bytes;
        }
        if (tp_superblock_check(&sb, &e) != 0)
            return tp_err_wrap("stream %u epoch %" PRIu64 ": %s", s->stream_id, s->epoch, what);
        const uint64_t min = tp_shm_region_min_size(e.region_type, e.nslots, e.stride_bytes);
        if ((uint64_t)st.st_size < min)
            return tp_err_set(TP_ERR_TRUNCATED, "stream %u epoch %" PRIu64 ": %s truncated to %lld bytes, %" PRIu64
                              " needed", s->stream_id, s->epoch, what, (long long)st.st_size, min);
    }
    return 0;
}
