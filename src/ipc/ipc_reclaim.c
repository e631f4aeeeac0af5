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
#include <unistd.h>

typedef struct {
    int dirfd;
    int64_t linger_ns;
    int64_t now_ns;
    int deleted;
} reclaim_scan_t;

static int reclaim_entry(void *arg, const char *name)
{
    reclaim_scan_t *s = arg;
    tp_ipc_log_name_t ln;
    if (tp_ipc_log_name_parse(name, &ln) < 0) return 0;
    int remove = 0;
    if (ln.is_tmp) {
        remove = !tp_ipc_proc_alive(ln.pid, ln.start_time);
    } else {
        tp_ipc_log_meta_t meta;
        /* A log we cannot read or validate is not ours to delete. */
        if (tp_ipc_log_read_meta(s->dirfd, name, &meta) < 0) return 0;
        int64_t closed = atomic_load_explicit(&meta.closed_ns, memory_order_relaxed);
        if (closed != 0)
            remove = s->now_ns - closed >= s->linger_ns;
        else
            remove = !tp_ipc_proc_alive(meta.pid, meta.start_time);
    }
    if (remove && unlinkat(s->dirfd, name, 0) == 0) s->deleted++;
    return 0;
}

int tp_ipc_reclaim_dir(int dirfd, void *buf, size_t buf_len, int64_t linger_ns)
{
    reclaim_scan_t s = {.dirfd = dirfd, .linger_ns = linger_ns, .now_ns = tp_clock_realtime_ns(), .deleted = 0};
    if (tp_ipc_dir_scan(dirfd, buf, buf_len, reclaim_entry, &s) < 0) return -1;
    return s.deleted;
}

int tp_ipc_reclaim(const tp_ipc_context_t *ctx)
{
    char dir[PATH_MAX];
    if (tp_ipc_context_validate(ctx) < 0) return -1;
    if (tp_ipc_context_dir(ctx, dir, sizeof dir) < 0) return -1;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0) {
        if (errno == ENOENT) return 0;
        return tp_err_set(TP_ERR_IO, "open %s: %s", dir, strerror(errno));
    }
    char buf[8192];
    int n = tp_ipc_reclaim_dir(dirfd, buf, sizeof buf, ctx->linger_ns);
    if (n > 0) {
        tp_ipc_index_t *ix;
        if (tp_ipc_index_open(dirfd, &ix) == 0) {
            tp_ipc_index_bump(ix);
            tp_ipc_index_close(ix);
        }
    }
    close(dirfd);
    return n;
}
