/* Deleting the logs of dead publishers and of cleanly closed ones whose
 * linger time has passed. */
#include "ipc_backend.h"
#include "ipc_dir.h"
#include "ipc_log_file.h"
#include "ipc_proc.h"
#include "tensorpool/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int dirfd;
    int64_t linger_ns;
    int64_t now_ns;
    int deleted;
    int marked;
    uid_t euid;
    int foreign_left; /* files of other uids this pass may still open */
} reclaim_scan_t;

/* Files of other uids a pass opens at most: a neighbour's thousands of
 * planted files cost a pass one fstatat each, not an open and a /proc read
 * each (their dead logs are reclaimed a few per pass, by later passes). */
enum { RECLAIM_FOREIGN_PER_PASS = 16 };

static int reclaim_entry(void *arg, const char *name)
{
    reclaim_scan_t *s = arg;
    tp_ipc_log_name_t ln;
    if (tp_ipc_log_name_parse(name, &ln) < 0) return 0;
    struct stat st;
    if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
    if (st.st_uid != s->euid && s->foreign_left-- <= 0) return 0;
    int remove = 0;
    if (ln.is_tmp) {
        remove = !tp_ipc_proc_alive(ln.pid, ln.start_time);
    } else {
        tp_ipc_log_meta_t meta;
        /* A log we cannot read or validate is not ours to delete. */
        if (tp_ipc_log_read_meta(s->dirfd, name, &meta) < 0) return 0;
        int64_t closed = atomic_load_explicit(&meta.closed_ns, memory_order_relaxed);
        if (closed != 0) {
            remove = s->now_ns - closed >= s->linger_ns;
        } else if (!tp_ipc_proc_alive(meta.pid, meta.start_time)) {
            /* Dead publisher: let it linger like a closed one, so subscribers
             * that have not found it yet can still drain it. */
            if (s->linger_ns == 0)
                remove = 1;
            else if (tp_ipc_log_mark_closed(s->dirfd, name, s->now_ns) == 0)
                s->marked++;
        }
    }
    if (remove && unlinkat(s->dirfd, name, 0) == 0) s->deleted++;
    return 0;
}

int tp_ipc_reclaim_dir(int dirfd, void *buf, size_t buf_len, int64_t linger_ns, int *marked)
{
    reclaim_scan_t s = {.dirfd = dirfd,
                        .linger_ns = linger_ns,
                        .now_ns = tp_clock_realtime_ns(),
                        .euid = geteuid(),
                        .foreign_left = RECLAIM_FOREIGN_PER_PASS};
    int rc = tp_ipc_dir_scan(dirfd, buf, buf_len, reclaim_entry, &s);
    if (marked != NULL) *marked = s.marked;
    return rc < 0 ? -1 : s.deleted;
}

int tp_ipc_reclaim(const tp_ipc_context_t *ctx)
{
    if (tp_ipc_context_validate(ctx) < 0) return -1;
    int dirfd = tp_ipc_dir_open_ctx(ctx, 0);
    if (dirfd < 0) return tp_errcode() == TP_ERR_NOT_FOUND ? 0 : -1;
    char buf[8192];
    int marked = 0;
    int n = tp_ipc_reclaim_dir(dirfd, buf, sizeof buf, ctx->linger_ns, &marked);
    if (n > 0 || marked > 0) {
        tp_ipc_index_t *ix;
        if (tp_ipc_index_open(dirfd, &ix) == 0) {
            tp_ipc_index_bump(ix);
            tp_ipc_index_close(ix);
        }
    }
    close(dirfd);
    return n;
}
