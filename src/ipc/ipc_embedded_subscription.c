/* Embedded backend, receiving side: follows every log of its stream in the
 * transport directory (an "image" per publication), drains them round-robin,
 * and notices new, closed and dead publications from the non-hot part of poll. */
#include "ipc_embedded.h"
#include "ipc_dir.h"
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
    tp_ipc_log_reader_t r;
    void *map;
    size_t map_len;
    int pid;
    uint64_t start_time;
    int present; /* listed by the latest directory scan */
    char name[TP_IPC_LOG_NAME_MAX];
    tp_ipc_log_meta_t identity; /* the header as opened: a changed one means the log is gone */
} tp_ipc_image_t;

typedef struct tp_ipc_embedded_sub_s {
    tp_ipc_subscription_t base;
    int dirfd;
    tp_ipc_index_t *index;
    uint64_t index_ino;   /* the index file mapped: another one in its place means re-map */
    uint64_t generation;
    tp_ipc_image_t *images;
    uint32_t image_count;
    uint32_t max_images;
    uint32_t rr;
    uint32_t max_message;
    uint8_t *scratch;
    size_t scratch_cap;
    uint8_t *dents;
    int64_t linger_ns;
    int64_t rescan_interval_ns;
    int64_t last_scan_ns;
    int64_t scan_credit_ns; /* time the generation may still make us spend scanning */
    int64_t credit_at_ns;
    uint64_t polls;
    uint64_t loss_retired; /* loss of images already dropped */
    uint64_t errors;
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

/* Remember a bad log so it is counted once, not on every scan. */
static void refuse(tp_ipc_embedded_sub_t *s, const char *name)
{
    s->errors++;
    snprintf(s->refused[s->refused_next], TP_IPC_LOG_NAME_MAX, "%s", name);
    s->refused_next = (s->refused_next + 1) % REFUSED_MAX;
}

static void drop_image(tp_ipc_embedded_sub_t *s, uint32_t i)
{
    tp_ipc_image_t *img = &s->images[i];
    s->loss_retired += img->r.loss;
    tp_ipc_log_reader_release(&img->r);
    tp_ipc_log_unmap(img->map, img->map_len, img->r.guard);
    s->images[i] = s->images[--s->image_count];
}

/* The table is full: a log of our own uid takes the place of one of another
 * uid (refused from then on), so logs planted by another user of the group
 * can never keep our own publications out (docs/threat-model.md, 1). 1 when
 * a place was freed. */
static int make_room_for(tp_ipc_embedded_sub_t *s, uint32_t owner)
{
    if (owner != s->euid) return 0;
    for (uint32_t i = 0; i < s->image_count; i++) {
        if (s->images[i].r.owner_uid != s->euid) {
            refuse(s, s->images[i].name);
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
        if (strcmp(s->images[i].name, name) == 0) {
            s->images[i].present = 1;
            return 0;
        }
    }
    if (is_refused(s, name)) return 0;
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
    tp_ipc_image_t *img = &s->images[s->image_count];
    memset(img, 0, sizeof *img);
    if (tp_ipc_log_open_reader(s->dirfd, name, s->base.stream_id, s->max_message, &img->r, &img->map,
                               &img->map_len) < 0) {
        /* Deleted between listing and opening: not an error. */
        if (tp_errcode() != TP_ERR_NOT_FOUND) refuse(s, name);
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
    s->image_count++;
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
        s->errors++;
        return;
    }
    tp_ipc_index_close(s->index);
    s->index = ix;
    s->index_ino = index_ino(s->dirfd);
}

static void rescan_dir(tp_ipc_embedded_sub_t *s)
{
    for (uint32_t i = 0; i < s->image_count; i++) s->images[i].present = 0;
    s->foreign_opens = 0;
    if (tp_ipc_dir_scan(s->dirfd, s->dents, DENTS_BYTES, scan_entry, s) < 0) {
        s->errors++;
        return;
    }
    int64_t now_real = tp_clock_realtime_ns();
    int reclaimed = 0;
    for (uint32_t i = s->image_count; i-- > 0;) {
        tp_ipc_image_t *img = &s->images[i];
        if (img->r.corrupt) {
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
        /* >= rather than ==: a writer killed between tagging a padding
         * record and the record after it leaves the reader past tail. */
        int drained = (int64_t)(img->r.position - tp_ipc_log_reader_tail(&img->r)) >= 0;
        if (!drained) continue;
        int64_t closed = atomic_load_explicit(&img->r.meta->closed_ns, memory_order_acquire);
        if (closed == 0 && !tp_ipc_proc_alive(img->pid, img->start_time)) {
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
static void rescan(tp_ipc_embedded_sub_t *s)
{
    check_index(s);
    s->generation = tp_ipc_index_generation(s->index);
    const int64_t c0 = thread_cpu_ns();
    rescan_dir(s);
    s->scan_credit_ns -= thread_cpu_ns() - c0;
    s->last_scan_ns = tp_clock_monotonic_ns();
}

/* The index is writable by the group, so anyone there can bump its
 * generation on every poll, and the directory can hold thousands of
 * planted files: scans asked for by the generation get at most a tenth of
 * the time (a burst of SCAN_BURST_NS first), so that neither stalls the
 * poller. Scans are rare and short when nobody abuses it: never delayed. */
static int scan_allowed(tp_ipc_embedded_sub_t *s)
{
    const int64_t now = tp_clock_monotonic_ns();
    s->scan_credit_ns += (now - s->credit_at_ns) / SCAN_DUTY_DIVISOR;
    if (s->scan_credit_ns > SCAN_BURST_NS) s->scan_credit_ns = SCAN_BURST_NS;
    s->credit_at_ns = now;
    return s->scan_credit_ns > 0;
}

int tp_ipc_embedded_subscription_open(tp_ipc_subscription_t **out, const tp_ipc_context_t *ctx,
                                      const char *channel, int32_t stream_id)
{
    (void)channel;
    const int dirfd = tp_ipc_dir_open_ctx(ctx, 1);
    if (dirfd < 0) return -1;
    tp_ipc_embedded_sub_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        close(dirfd);
        return tp_err_set(TP_ERR_CAPACITY, "out of memory for subscription");
    }
    s->dirfd = dirfd;
    s->euid = (uint32_t)geteuid();
    s->max_images = ctx->max_images;
    s->max_message = ctx->max_message;
    s->scratch_cap = tp_ipc_rec_size(ctx->max_message) + SCRATCH_BATCH;
    s->images = calloc(ctx->max_images, sizeof *s->images);
    s->scratch = aligned_alloc(64, (s->scratch_cap + 63) & ~(size_t)63);
    s->dents = malloc(DENTS_BYTES);
    if (s->images == NULL || s->scratch == NULL || s->dents == NULL) {
        tp_err_set(TP_ERR_CAPACITY, "out of memory for subscription buffers");
        goto fail;
    }
    if (tp_ipc_index_open(s->dirfd, &s->index) < 0) goto fail;
    s->index_ino = index_ino(s->dirfd);
    int marked = 0;
    if (tp_ipc_reclaim_dir(s->dirfd, s->dents, DENTS_BYTES, ctx->linger_ns, &marked) > 0 || marked > 0)
        tp_ipc_index_bump(s->index);
    s->linger_ns = ctx->linger_ns;
    s->rescan_interval_ns = ctx->rescan_interval_ns;
    s->scan_credit_ns = SCAN_BURST_NS;
    s->credit_at_ns = tp_clock_monotonic_ns();
    s->base.backend = &tp_ipc_embedded_backend;
    s->base.stream_id = stream_id;
    s->initial_scan = 1;
    rescan(s);
    s->initial_scan = 0;
    *out = &s->base;
    return 0;
fail:
    if (s->dirfd >= 0) close(s->dirfd);
    free(s->images);
    free(s->scratch);
    free(s->dents);
    free(s);
    return tp_err_wrap("open subscription tp:ipc stream %d", stream_id);
}

/* Deliver records copied into scratch; account for sequence gaps (loss). */
static int image_poll(tp_ipc_embedded_sub_t *s, tp_ipc_image_t *img, tp_ipc_handler_t handler, void *clientd,
                      int limit)
{
    uint64_t end;
    int n = tp_ipc_log_reader_copy(&img->r, s->scratch, s->scratch_cap, limit, &end);
    if (n <= 0) {
        tp_ipc_log_reader_report(&img->r); /* padding passed or skipped ahead */
        return 0;
    }
    tp_ipc_log_reader_t *r = &img->r;
    r->position = end;
    tp_ipc_log_reader_report(r); /* the records are in scratch now: the writer may reuse their space */
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
        handler(clientd, p + TP_IPC_REC_HEADER, (size_t)len, &info);
        p += tp_ipc_rec_size((size_t)len);
    }
    return n;
}

int tp_ipc_embedded_poll(tp_ipc_subscription_t *sub, tp_ipc_handler_t handler, void *clientd, int limit)
{
    tp_ipc_embedded_sub_t *s = (tp_ipc_embedded_sub_t *)sub;
    if (handler == NULL || limit <= 0) return tp_err_set(TP_ERR_INVALID_ARG, "poll needs a handler and limit >= 1");
    s->polls++;
    /* The clock (vDSO, tens of ns) is read every 64 polls only, so even a
     * slowly polling caller notices dead publishers about once per interval. */
    if ((tp_ipc_index_generation(s->index) != s->generation && scan_allowed(s)) ||
        ((s->polls & LIVENESS_POLL_MASK) == 0 && tp_clock_monotonic_ns() - s->last_scan_ns >= s->rescan_interval_ns))
        rescan(s);
    uint32_t n = s->image_count;
    if (n == 0) return 0;
    if (++s->rr >= n) s->rr = 0;
    int total = 0;
    for (uint32_t i = 0, k = s->rr; i < n && total < limit; i++) {
        total += image_poll(s, &s->images[k], handler, clientd, limit - total);
        if (++k == n) k = 0;
    }
    return total;
}

uint64_t tp_ipc_embedded_loss_count(const tp_ipc_subscription_t *sub)
{
    const tp_ipc_embedded_sub_t *s = (const tp_ipc_embedded_sub_t *)sub;
    uint64_t loss = s->loss_retired;
    for (uint32_t i = 0; i < s->image_count; i++) loss += s->images[i].r.loss;
    return loss;
}

size_t tp_ipc_embedded_image_count(const tp_ipc_subscription_t *sub)
{
    return ((const tp_ipc_embedded_sub_t *)sub)->image_count;
}

uint64_t tp_ipc_embedded_error_count(const tp_ipc_subscription_t *sub)
{
    return ((const tp_ipc_embedded_sub_t *)sub)->errors;
}

int tp_ipc_embedded_subscription_close(tp_ipc_subscription_t *sub)
{
    tp_ipc_embedded_sub_t *s = (tp_ipc_embedded_sub_t *)sub;
    while (s->image_count > 0) drop_image(s, s->image_count - 1);
    tp_ipc_index_close(s->index);
    close(s->dirfd);
    free(s->images);
    free(s->scratch);
    free(s->dents);
    free(s);
    return 0;
}
