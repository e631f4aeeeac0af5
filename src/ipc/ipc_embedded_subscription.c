/* Embedded backend, receiving side: follows every log of its stream in the
 * transport directory (an "image" per publication) and drains them
 * round-robin. Noticing new, closed and dead publications takes syscalls, so
 * the conductor thread does it (ipc_conductor.h) and hands the poller a new
 * immutable set of images when they change; poll only reads memory. With
 * TP_IPC_CONDUCTOR_CALLER, poll does that upkeep itself when it is due. */
#include "ipc_embedded.h"
#include "ipc_conductor.h"
#include "ipc_dir.h"
#include "ipc_doorbell.h"
#include "ipc_log_file.h"
#include "ipc_proc.h"
#include "tensorpool/clock.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { REFUSED_MAX = 16, FOREIGN_OPENS_PER_SCAN = 16, SCAN_DUTY_DIVISOR = 10, DENTS_BYTES = 32768, SCRATCH_BATCH = 64 * 1024, LIVENESS_POLL_MASK = 63 };

#define SCAN_BURST_NS 20000000LL /* 20 ms of scanning at once when unused */

typedef struct tp_ipc_image_s {
    tp_ipc_log_reader_t r;       /* the poller's once the image is handed over (set up by the conductor) */
    _Atomic uint64_t polled_to;  /* poller -> conductor: how far it has read (is it drained?); only the poller writes it */
    _Atomic int corrupt;         /* poller -> conductor: a record failed validation */
    /* the conductor's */
    void *map;
    size_t map_len;
    int pid;
    uint64_t start_time;
    int present;     /* listed by the latest directory scan */
    uint64_t gone_in; /* version of the first set without it; unmapped once the poller took that one */
    char name[TP_IPC_LOG_NAME_MAX];
    tp_ipc_log_meta_t identity; /* the header as opened: a changed one means the log is gone */
} tp_ipc_image_t;

/* What the poller reads: an immutable list of images, replaced whole. */
typedef struct tp_ipc_image_set_s {
    uint64_t version;
    uint32_t count;
    tp_ipc_image_t *img[];
} tp_ipc_image_set_t;

typedef struct tp_ipc_embedded_sub_s {
    tp_ipc_subscription_t base;
    /* the poller's */
    tp_ipc_image_set_t *active;
    uint32_t rr;
    int caller_conducts; /* TP_IPC_CONDUCTOR_CALLER: poll does the upkeep itself */
    uint8_t *scratch;
    size_t scratch_cap;
    uint64_t loss_retired; /* loss of images no longer in the active set */
    uint64_t polls;
    /* the hand-over, on its own line */
    _Alignas(64) _Atomic(tp_ipc_image_set_t *) offered; /* conductor -> poller: the newest set */
    _Atomic uint64_t taken;                              /* poller -> conductor: version of the set in use */
    _Atomic uint64_t errors;
    /* the conductor's (or, in caller mode, the poller's) */
    _Alignas(64) tp_ipc_conductor_job_t job;
    tp_ipc_image_set_t *in_use;  /* the set the poller took last, as far as we know */
    tp_ipc_image_set_t *pending; /* offered, not taken yet */
    int64_t pending_at_ns;
    uint64_t next_version;
    int dirty; /* images changed since the last set offered */
    tp_ipc_image_t **images; /* followed */
    uint32_t image_count;
    uint32_t max_images;
    tp_ipc_image_t **doomed; /* dropped, still mapped until the poller has let go */
    uint32_t doomed_count;
    /* Everything is allocated at open, so neither poll nor the upkeep
     * allocates: 2 * max_images images (followed + dropped ones the poller
     * may still read) and the two sets the hand-over alternates between. */
    tp_ipc_image_t *pool;
    tp_ipc_image_t **free_images;
    uint32_t free_count;
    tp_ipc_image_set_t *set_buf[2];
    int dirfd;
    tp_ipc_index_t *index;
    uint64_t index_ino;   /* the index file mapped: another one in its place means re-map */
    uint64_t generation;
    uint32_t max_message;
    uint8_t *dents;
    int64_t linger_ns;
    int64_t rescan_interval_ns;
    int64_t last_scan_ns;
    int64_t scan_credit_ns; /* time the generation may still make us spend scanning */
    int64_t credit_at_ns;
    int initial_scan;
    uint32_t euid; /* our own uid: its logs come first when the table is full */
    uint32_t foreign_opens; /* logs of other uids looked at in this scan */
    uint32_t refused_next;
    char refused[REFUSED_MAX][TP_IPC_LOG_NAME_MAX];
} tp_ipc_embedded_sub_t;

static int is_refused(const tp_ipc_embedded_sub_t *s, const char *name)
{
    for (int i = 0; i < REFUSED_MAX; i++)
        if (strcmp(s->refused[i], name) == 0) return 1;
    return 0;
}

static void count_error(tp_ipc_embedded_sub_t *s)
{
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
}

/* Remember a bad log so it is counted once, not on every scan. */
static void refuse(tp_ipc_embedded_sub_t *s, const char *name)
{
    count_error(s);
    snprintf(s->refused[s->refused_next], TP_IPC_LOG_NAME_MAX, "%s", name);
    s->refused_next = (s->refused_next + 1) % REFUSED_MAX;
}

static void unmap_image(tp_ipc_embedded_sub_t *s, tp_ipc_image_t *img)
{
    tp_ipc_log_reader_release(&img->r);
    tp_ipc_log_unmap(img->map, img->map_len, img->r.guard);
    s->free_images[s->free_count++] = img;
}

/* Stop following image i. The poller may still be reading it, so it stays
 * mapped until the poller has taken a set without it (collect). */
static void drop_image(tp_ipc_embedded_sub_t *s, uint32_t i)
{
    s->doomed[s->doomed_count++] = s->images[i]; /* gone_in is 0 until a set leaves it out */
    s->images[i] = s->images[--s->image_count];
    s->dirty = 1;
}

/* The table is full: a log of our own uid takes the place of one of another
 * uid (refused from then on), so logs planted by another user of the group
 * can never keep our own publications out (docs/threat-model.md, 1). 1 when
 * a place was freed. */
static int make_room_for(tp_ipc_embedded_sub_t *s, uint32_t owner)
{
    if (owner != s->euid) return 0;
    for (uint32_t i = 0; i < s->image_count; i++) {
        if (s->images[i]->r.owner_uid != s->euid) {
            refuse(s, s->images[i]->name);
            drop_image(s, i);
            return 1;
        }
    }
    return 0;
}

static int scan_entry(void *arg, const char *name)
{
    tp_ipc_embedded_sub_t *s = arg;
    tp_ipc_log_name_t ln;
    if (tp_ipc_log_name_parse(name, &ln) < 0 || ln.is_tmp || ln.stream != (uint32_t)s->base.stream_id) return 0;
    for (uint32_t i = 0; i < s->image_count; i++) {
        if (strcmp(s->images[i]->name, name) == 0) {
            s->images[i]->present = 1;
            return 0;
        }
    }
    if (is_refused(s, name)) return 0;
    /* Images the poller has not let go of yet hold places in the pool: new
     * logs wait for a later scan while it is empty. */
    if (s->free_count == 0) return 0;
    /* A name we do not follow yet costs one fstatat; opening it is bounded
     * per scan when another uid owns it, so thousands of files planted by a
     * neighbour cost a scan no more than FOREIGN_OPENS_PER_SCAN opens (the
     * rest are looked at on later scans; they are only counted anyway). */
    struct stat st;
    if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0; /* gone since the listing */
    const uint32_t owner = (uint32_t)st.st_uid;
    if (owner != s->euid && s->foreign_opens++ >= FOREIGN_OPENS_PER_SCAN) return 0;
    if (s->image_count == s->max_images && !make_room_for(s, owner)) {
        refuse(s, name);
        return 0;
    }
    tp_ipc_image_t *img = s->free_images[--s->free_count];
    memset(img, 0, sizeof *img);
    if (tp_ipc_log_open_reader(s->dirfd, name, s->base.stream_id, s->max_message, &img->r, &img->map,
                               &img->map_len) < 0) {
        /* Deleted between listing and opening: not an error. */
        if (tp_errcode() != TP_ERR_NOT_FOUND) refuse(s, name);
        s->free_images[s->free_count++] = img;
        return 0;
    }
    memcpy(&img->identity, img->map, sizeof img->identity);
    img->pid = img->r.meta->pid;
    img->start_time = img->r.meta->start_time;
    img->present = 1;
    snprintf(img->name, sizeof img->name, "%s", name);
    /* A lossless log holds its writer back for us from here on; registered
     * at 0 first (holding it back at once), the position is stored below. */
    (void)tp_ipc_log_reader_register(&img->r, 0);
    if (s->initial_scan) {
        /* Existing publications are joined at their current end. */
        tp_ipc_log_reader_join_tail(&img->r);
    } else {
        /* A publication that appeared since: read from its start (a lap
         * already overwritten is skipped and counted as loss). */
        img->r.position = 0;
        img->r.next_sequence = 0;
    }
    tp_ipc_log_reader_report(&img->r);
    atomic_init(&img->polled_to, img->r.position);
    atomic_init(&img->corrupt, 0);
    s->images[s->image_count++] = img;
    s->dirty = 1;
    return 0;
}

static uint64_t index_ino(int dirfd)
{
    struct stat st;
    return fstatat(dirfd, "index", &st, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)st.st_ino : 0;
}

/* The index was truncated (its mapping lost) or replaced: map the one in
 * place now (tp_ipc_index_open repairs a broken one). */
static void check_index(tp_ipc_embedded_sub_t *s)
{
    const uint64_t ino = index_ino(s->dirfd);
    if (!tp_ipc_index_lost(s->index) && ino == s->index_ino) return;
    tp_ipc_index_t *ix = NULL;
    if (tp_ipc_index_open(s->dirfd, &ix) < 0) {
        count_error(s);
        return;
    }
    tp_ipc_index_close(s->index);
    s->index = ix;
    s->index_ino = index_ino(s->dirfd);
}

/* Has the poller read everything the publisher committed? */
static int drained(const tp_ipc_image_t *img)
{
    /* >= rather than ==: a writer killed between tagging a padding record
     * and the record after it leaves the reader past tail. */
    const uint64_t read_to = atomic_load_explicit(&img->polled_to, memory_order_acquire);
    return (int64_t)(read_to - tp_ipc_log_reader_tail(&img->r)) >= 0;
}

/* The conductor shares answers between the process's subscriptions; a
 * caller-mode poller asks /proc itself. */
static int publisher_alive(const tp_ipc_embedded_sub_t *s, const tp_ipc_image_t *img, int64_t now)
{
    if (s->caller_conducts) return tp_ipc_proc_alive(img->pid, img->start_time);
    return tp_ipc_conductor_proc_alive(img->pid, img->start_time, now);
}

static void rescan_dir(tp_ipc_embedded_sub_t *s, int64_t now)
{
    for (uint32_t i = 0; i < s->image_count; i++) s->images[i]->present = 0;
    s->foreign_opens = 0;
    if (tp_ipc_dir_scan(s->dirfd, s->dents, DENTS_BYTES, scan_entry, s) < 0) {
        count_error(s);
        return;
    }
    int64_t now_real = tp_clock_realtime_ns();
    int reclaimed = 0;
    for (uint32_t i = s->image_count; i-- > 0;) {
        tp_ipc_image_t *img = s->images[i];
        if (atomic_load_explicit(&img->corrupt, memory_order_relaxed)) {
            refuse(s, img->name);
            drop_image(s, i);
            continue;
        }
        if (tp_ipc_log_header_problem(img->r.meta, &img->identity, img->r.guard) != NULL) {
            /* truncated or scribbled: gone for us; the bump makes its
             * publisher look at itself and re-create it */
            refuse(s, img->name);
            drop_image(s, i);
            reclaimed++;
            continue;
        }
        if (!drained(img)) continue;
        int64_t closed = atomic_load_explicit(&img->r.meta->closed_ns, memory_order_acquire);
        if (closed == 0 && !publisher_alive(s, img, now)) {
            /* Publisher died (maybe mid-message) and we have everything it
             * committed. Mark the log closed so it lingers for subscriptions
             * that have not found it yet (the bump makes them look), then the
             * branch below deletes it. */
            if (!img->present || s->linger_ns == 0) {
                if (img->present && unlinkat(s->dirfd, img->name, 0) == 0) reclaimed++;
                drop_image(s, i);
            } else if (tp_ipc_log_mark_closed(s->dirfd, img->name, now_real) == 0) {
                reclaimed++;
            }
        } else if (closed != 0 && (!img->present || now_real - closed >= s->linger_ns)) {
            if (img->present && unlinkat(s->dirfd, img->name, 0) == 0) reclaimed++;
            drop_image(s, i);
        } else if (!img->present) {
            drop_image(s, i);
        }
    }
    if (reclaimed) tp_ipc_index_bump(s->index);
}

/* CPU time of this thread: what a scan costs us, without the time another
 * process ran meanwhile (a busy machine must not use up the budget). */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One scan, its cost charged to the scan budget. */
static void rescan(tp_ipc_embedded_sub_t *s, int64_t now)
{
    check_index(s);
    s->generation = tp_ipc_index_generation(s->index);
    const int64_t c0 = thread_cpu_ns();
    rescan_dir(s, now);
    s->scan_credit_ns -= thread_cpu_ns() - c0;
    s->last_scan_ns = now;
}

/* The index is writable by the group, so anyone there can bump its
 * generation all the time, and the directory can hold thousands of planted
 * files: scans asked for by the generation get at most a tenth of the time
 * (a burst of SCAN_BURST_NS first), so that neither stalls the conductor (or
 * a poller doing the upkeep). Scans are rare and short when nobody abuses
 * it: never delayed. */
static int scan_allowed(tp_ipc_embedded_sub_t *s, int64_t now)
{
    s->scan_credit_ns += (now - s->credit_at_ns) / SCAN_DUTY_DIVISOR;
    if (s->scan_credit_ns > SCAN_BURST_NS) s->scan_credit_ns = SCAN_BURST_NS;
    s->credit_at_ns = now;
    return s->scan_credit_ns > 0;
}

/* The poller took the set offered last: free the one before and unmap the
 * images no set in use holds any more. */
static void collect(tp_ipc_embedded_sub_t *s)
{
    if (s->pending == NULL || atomic_load_explicit(&s->taken, memory_order_acquire) != s->pending->version) return;
    s->in_use = s->pending;
    s->pending = NULL;
    for (uint32_t i = s->doomed_count; i-- > 0;) {
        tp_ipc_image_t *img = s->doomed[i];
        if (img->gone_in != 0 && img->gone_in <= s->in_use->version) {
            unmap_image(s, img);
            s->doomed[i] = s->doomed[--s->doomed_count];
        }
    }
}

/* Hand the current images to the poller, one set at a time. */
static void offer_set(tp_ipc_embedded_sub_t *s, int64_t now)
{
    if (!s->dirty || s->pending != NULL) return;
    /* The buffer the poller no longer reads (it took in_use) */
    tp_ipc_image_set_t *set = s->in_use == s->set_buf[0] ? s->set_buf[1] : s->set_buf[0];
    set->version = ++s->next_version;
    set->count = s->image_count;
    memcpy(set->img, s->images, (size_t)s->image_count * sizeof set->img[0]);
    for (uint32_t i = 0; i < s->doomed_count; i++)
        if (s->doomed[i]->gone_in == 0) s->doomed[i]->gone_in = set->version;
    s->pending = set;
    s->pending_at_ns = now;
    s->dirty = 0;
    atomic_store_explicit(&s->offered, set, memory_order_release);
    /* A process sleeping on this stream's doorbell may have been woken by a
     * new publisher's first message before this set held its log, polled,
     * found nothing and slept again: wake it once more (ipc_doorbell.h). */
    tp_ipc_doorbell_ring(s->index, s->base.stream_id);
}

/* The upkeep, on the conductor thread (or in poll, caller mode): returns
 * when it wants to run next. */
static int64_t conduct(tp_ipc_embedded_sub_t *s, int64_t now)
{
    collect(s);
    const uint64_t generation = tp_ipc_index_generation(s->index);
    int64_t due = s->last_scan_ns + s->rescan_interval_ns;
    const int scanned = now >= due || (generation != s->generation && scan_allowed(s, now));
    if (scanned) {
        rescan(s, now);
        due = now + s->rescan_interval_ns;
    } else if (generation != s->generation) {
        /* out of scan budget: come back when it has grown positive again */
        const int64_t back = now + (1 - s->scan_credit_ns) * SCAN_DUTY_DIVISOR;
        if (back < due) due = back;
    }
    offer_set(s, now);
    if (s->pending != NULL) {
        /* Waiting for the poller to take a set: look again soon, less
         * often the longer it takes (a subscription nobody polls). */
        int64_t again = now + 1000000 + (now - s->pending_at_ns) / 8;
        if (again < due) due = again;
    }
    s->job.watch = s->index;
    s->job.watch_ino = s->index_ino;
    /* After a scan: the generation it acted on, so a bump during the scan
     * wakes us at once. Out of budget: the one seen, so we sleep. */
    s->job.watch_seen = scanned ? s->generation : generation;
    return due;
}

static int64_t conduct_job(tp_ipc_conductor_job_t *job, int64_t now)
{
    tp_ipc_embedded_sub_t *s = (tp_ipc_embedded_sub_t *)((char *)job - offsetof(tp_ipc_embedded_sub_t, job));
    return conduct(s, now);
}

/* Poller: switch to the newest set offered, if any (one load otherwise). */
static inline void take_offered(tp_ipc_embedded_sub_t *s)
{
    tp_ipc_image_set_t *set = atomic_load_explicit(&s->offered, memory_order_acquire);
    tp_ipc_image_set_t *old = s->active;
    if (set == old) return;
    /* the loss of images left behind stays counted */
    for (uint32_t i = 0; i < old->count; i++) {
        uint32_t k = 0;
        while (k < set->count && set->img[k] != old->img[i]) k++;
        if (k == set->count) s->loss_retired += old->img[i]->r.loss;
    }
    s->active = set;
    atomic_store_explicit(&s->taken, set->version, memory_order_release);
}

static void free_all(tp_ipc_embedded_sub_t *s)
{
    for (uint32_t i = 0; i < s->image_count; i++) unmap_image(s, s->images[i]);
    for (uint32_t i = 0; i < s->doomed_count; i++) unmap_image(s, s->doomed[i]);
    free(s->pool);
    free(s->free_images);
    free(s->set_buf[0]);
    free(s->set_buf[1]);
    if (s->index != NULL) tp_ipc_index_close(s->index);
    if (s->dirfd >= 0) close(s->dirfd);
    free(s->images);
    free(s->doomed);
    free(s->scratch);
    free(s->dents);
    free(s);
}

int tp_ipc_embedded_subscription_open(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx,
                                      const char *channel, int32_t stream_id)
{
    (void)channel;
    const int dirfd = tp_ipc_dir_open_ctx(ctx, 1);
    if (dirfd < 0) return -1;
    tp_ipc_embedded_sub_t *s = aligned_alloc(64, (sizeof *s + 63) & ~(size_t)63);
    if (s == NULL) {
        close(dirfd);
        return tp_err_set(TP_ERR_CAPACITY, "out of memory for subscription");
    }
    memset(s, 0, sizeof *s);
    s->dirfd = dirfd;
    s->euid = (uint32_t)geteuid();
    s->max_images = ctx->max_images;
    s->max_message = ctx->max_message;
    s->caller_conducts = ctx->conductor == TP_IPC_CONDUCTOR_CALLER;
    s->scratch_cap = tp_ipc_rec_size(ctx->max_message) + SCRATCH_BATCH;
    s->images = calloc(ctx->max_images, sizeof *s->images);
    const size_t pool = 2 * (size_t)ctx->max_images;
    s->doomed = calloc(pool, sizeof *s->doomed);
    s->pool = calloc(pool, sizeof *s->pool);
    s->free_images = calloc(pool, sizeof *s->free_images);
    for (int b = 0; b < 2; b++)
        s->set_buf[b] = malloc(sizeof *s->set_buf[b] + (size_t)ctx->max_images * sizeof s->set_buf[b]->img[0]);
    s->scratch = aligned_alloc(64, (s->scratch_cap + 63) & ~(size_t)63);
    s->dents = malloc(DENTS_BYTES);
    if (s->images == NULL || s->doomed == NULL || s->pool == NULL || s->free_images == NULL ||
        s->set_buf[0] == NULL || s->set_buf[1] == NULL || s->scratch == NULL || s->dents == NULL) {
        tp_err_set(TP_ERR_CAPACITY, "out of memory for subscription buffers");
        goto fail;
    }
    for (size_t i = pool; i-- > 0;) s->free_images[s->free_count++] = &s->pool[i];
    if (tp_ipc_index_open(s->dirfd, &s->index) < 0) goto fail;
    s->index_ino = index_ino(s->dirfd);
    int marked = 0;
    if (tp_ipc_reclaim_dir(s->dirfd, s->dents, DENTS_BYTES, ctx->linger_ns, &marked) > 0 || marked > 0)
        tp_ipc_index_bump(s->index);
    s->linger_ns = ctx->linger_ns;
    s->rescan_interval_ns = ctx->rescan_interval_ns;
    s->scan_credit_ns = SCAN_BURST_NS;
    s->base.backend = &tp_ipc_embedded_backend;
    s->base.stream_id = stream_id;
    /* The first scan and set are made here, so the subscription follows
     * every existing publication when open returns. */
    const int64_t now = tp_clock_monotonic_ns();
    s->credit_at_ns = now;
    s->initial_scan = 1;
    rescan(s, now);
    s->initial_scan = 0;
    s->dirty = 1;
    offer_set(s, now);
    s->active = s->pending;
    atomic_store_explicit(&s->taken, s->active->version, memory_order_relaxed);
    collect(s);
    s->job.run = conduct_job;
    s->job.watch = s->index;
    s->job.watch_ino = s->index_ino;
    s->job.watch_seen = s->generation;
    if (!s->caller_conducts && tp_ipc_conductor_add(&s->job) < 0) goto fail;
    *out = &s->base;
    return 0;
fail:
    free_all(s);
    return tp_err_wrap("open subscription tp:ipc stream %d", stream_id);
}

/* Deliver records copied into scratch; account for sequence gaps (loss). */
static int image_poll(tp_ipc_embedded_sub_t *s, tp_ipc_image_t *img, tp_ipc_handler_t handler, void *clientd,
                      int limit)
{
    uint64_t end;
    tp_ipc_log_reader_t *r = &img->r;
    int n = tp_ipc_log_reader_copy(r, s->scratch, s->scratch_cap, limit, &end);
    if (n > 0) r->position = end;
    tp_ipc_log_reader_report(r); /* the records are in scratch now (or padding was passed, or skipped ahead):
                                  * the writer may reuse their space */
    if (r->position != atomic_load_explicit(&img->polled_to, memory_order_relaxed))
        atomic_store_explicit(&img->polled_to, r->position, memory_order_release);
    if (__builtin_expect(r->corrupt, 0)) atomic_store_explicit(&img->corrupt, 1, memory_order_relaxed);
    if (n <= 0) return 0;
    tp_ipc_msg_info_t info = {
        .stream_id = r->stream_id, .publisher_id = r->log_id, .sequence = 0, .publisher_pid = r->meta->pid,
        .publisher_uid = r->owner_uid};
    const uint8_t *p = s->scratch;
    for (int i = 0; i < n; i++) {
        int32_t len;
        uint32_t seq_lo;
        memcpy(&len, p + offsetof(tp_ipc_rec_t, length), sizeof len);
        memcpy(&seq_lo, p + offsetof(tp_ipc_rec_t, sequence), sizeof seq_lo);
        /* Records carry the low 32 bits of the sequence; the signed distance
         * to the expected one (or, after a skip, to the writer's count)
         * rebuilds it. A jump forward is loss; backward happens only right
         * after joining at the tail. */
        uint64_t base = r->has_seq_base ? r->seq_base : r->next_sequence;
        uint64_t seq = base + (uint64_t)(int64_t)(int32_t)(seq_lo - (uint32_t)base);
        if (seq > r->next_sequence) r->loss += seq - r->next_sequence;
        r->has_seq_base = 0;
        r->next_sequence = seq + 1;
        info.sequence = seq;
        info.batch_remaining = (uint32_t)(n - 1 - i);
        handler(clientd, p + TP_IPC_REC_HEADER, (size_t)len, &info);
        p += tp_ipc_rec_size((size_t)len);
    }
    return n;
}

/* Caller mode: the upkeep the conductor thread would do, when it is due.
 * The clock (vDSO, tens of ns) is read every 64 polls only, so even a
 * slowly polling caller notices dead publishers about once per interval. */
static void conduct_in_poll(tp_ipc_embedded_sub_t *s)
{
    s->polls++;
    if (tp_ipc_index_generation(s->index) == s->generation && !s->dirty) {
        if ((s->polls & LIVENESS_POLL_MASK) != 0) return;
        if (tp_clock_monotonic_ns() - s->last_scan_ns < s->rescan_interval_ns) return;
    }
    conduct(s, tp_clock_monotonic_ns());
    take_offered(s);
    collect(s);
}

int tp_ipc_embedded_poll(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit)
{
    tp_ipc_embedded_sub_t *s = (tp_ipc_embedded_sub_t *)sub;
    if (handler == NULL || limit <= 0) return tp_err_set(TP_ERR_INVALID_ARG, "poll needs a handler and limit >= 1");
    if (s->caller_conducts) conduct_in_poll(s);
    else take_offered(s);
    const tp_ipc_image_set_t *set = s->active;
    uint32_t n = set->count;
    if (n == 0) return 0;
    if (++s->rr >= n) s->rr = 0;
    int total = 0;
    for (uint32_t i = 0, k = s->rr; i < n && total < limit; i++) {
        total += image_poll(s, set->img[k], handler, clientd, limit - total);
        if (++k == n) k = 0;
    }
    return total;
}

uint64_t tp_ipc_embedded_loss_count(const tp_ipc_subscription_t *sub)
{
    const tp_ipc_embedded_sub_t *s = (const tp_ipc_embedded_sub_t *)sub;
    uint64_t loss = s->loss_retired;
    for (uint32_t i = 0; i < s->active->count; i++) loss += s->active->img[i]->r.loss;
    return loss;
}

size_t tp_ipc_embedded_image_count(const tp_ipc_subscription_t *sub)
{
    return ((const tp_ipc_embedded_sub_t *)sub)->active->count;
}

uint64_t tp_ipc_embedded_error_count(const tp_ipc_subscription_t *sub)
{
    return atomic_load_explicit(&((const tp_ipc_embedded_sub_t *)sub)->errors, memory_order_relaxed);
}

int tp_ipc_embedded_subscription_close(tp_ipc_subscription_t *sub)
{
    tp_ipc_embedded_sub_t *s = (tp_ipc_embedded_sub_t *)sub;
    if (!s->caller_conducts) tp_ipc_conductor_remove(&s->job);
    free_all(s);
    return 0;
}
