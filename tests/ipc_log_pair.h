/* Tests at the log level: one log created in a fresh directory under the
 * test base, with a writer and a reader mapped on it. */
#ifndef TP_IPC_LOG_PAIR_H
#define TP_IPC_LOG_PAIR_H

#include "ipc_test_util.h"
#include "tp_test.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "ipc/ipc_log.h"
#include "ipc/ipc_log_file.h"

typedef struct {
    char dir[512];
    int dirfd;
    char name[TP_IPC_LOG_NAME_MAX];
    tp_ipc_log_writer_t w;
    void *wmap;
    size_t wlen;
    tp_ipc_log_reader_t r;
    void *rmap;
    size_t rlen;
} tp_test_log_pair_t;

/* A log of capacity bytes for stream, in <tp_test_base>/<subdir>. */
static inline void tp_test_log_pair_open(tp_test_log_pair_t *lp, const char *subdir, int32_t stream,
                                         uint32_t capacity, uint32_t max_message)
{
    snprintf(lp->dir, sizeof lp->dir, "%s/%s", tp_test_base, subdir);
    CHECK(mkdir(lp->dir, 0770) == 0);
    lp->dirfd = open(lp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(lp->dirfd >= 0);
    CHECK(tp_ipc_log_create(lp->dirfd, stream, capacity, max_message, &lp->w, &lp->wmap, &lp->wlen, lp->name,
                            sizeof lp->name) == 0);
    CHECK(tp_ipc_log_open_reader(lp->dirfd, lp->name, stream, max_message, &lp->r, &lp->rmap, &lp->rlen) == 0);
}

static inline void tp_test_log_pair_close(tp_test_log_pair_t *lp)
{
    tp_ipc_log_unmap(lp->rmap, lp->rlen, lp->r.guard);
    tp_ipc_log_unmap(lp->wmap, lp->wlen, lp->w.guard);
    unlinkat(lp->dirfd, lp->name, 0);
    close(lp->dirfd);
    rmdir(lp->dir);
}

#endif
