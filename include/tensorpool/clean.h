/* Removing what dead drivers, producers and publishers left in a base
 * directory (the library behind `tp clean`):
 *
 *   <base>/tensorpool-<user>/<ns>/<stream_id>/<epoch>/   header ring and pools
 *   <base>/tensorpool-<user>/<ns>/<stream_id>/last_epoch
 *   <base>/tensorpool-<user>/<ns>/ipc/                    transport logs, index
 *   <base>/tensorpool-<user>/<ns>/driver.lock
 *
 * An item is removed only when nothing live can use it:
 *  - an epoch directory when the process that created its region files (the
 *    superblock's pid) is gone or a zombie, no live process maps any of its
 *    files, and, if no superblock names a creator, it has not changed for a
 *    minute (the superblock's start time is on the creator's own clock, so a
 *    recycled pid keeps the files until that process ends: the safe error);
 *  - a stream directory's last_epoch, the namespace's driver.lock and the
 *    empty directories above them only when no driver holds driver.lock (a
 *    new driver picks epochs from the monotonic clock, so forgetting
 *    last_epoch cannot make it reuse one during this boot);
 *  - a transport log when its publisher is gone (pid + /proc start time in
 *    its header, so a recycled pid does not count) or it was closed at least linger_ns ago, and no live process
 *    maps it; the ipc index once no log is left and nothing maps it.
 * Everything else is kept and reported with the reason. The walk goes from
 * the base directory down through directory fds opened with
 * O_DIRECTORY|O_NOFOLLOW and removes with unlinkat: a symlink is never
 * followed (a planted one is removed as a link, its target untouched).
 * Mappings are read from /proc/<pid>/maps of the processes this user may
 * inspect; another user's mapping is not seen (unlinking a mapped file does
 * not disturb the mapping, but its memory is freed only when it is unmapped).
 * Not for hot paths. */
#ifndef TENSORPOOL_CLEAN_H
#define TENSORPOOL_CLEAN_H

#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One thing examined, as reported to tp_clean_options_t.report. */
typedef struct tp_clean_item_s {
    const char *path; /* relative to the base directory */
    const char *kind; /* "epoch", "stream", "log", "index", "namespace", "user", "file" */
    uint64_t bytes;   /* space it takes (allocated blocks) */
    int removed;      /* 1 removed (or, dry run, would be), 0 kept */
    int error;        /* 1 when it could not be examined or removed (why says why) */
    const char *why;
} tp_clean_item_t;

typedef void (*tp_clean_report_fn)(void *clientd, const tp_clean_item_t *item);

typedef struct tp_clean_options_s {
    int dry_run;              /* decide and report, remove nothing */
    int64_t log_linger_ns;    /* closed logs younger than this stay (default 5 s, as the transport) */
    int gone_pid;             /* treat this process as gone (0: none): a program cleaning up after itself */
    tp_clean_report_fn report; /* NULL: no per-item report */
    void *clientd;
} tp_clean_options_t;

typedef struct tp_clean_summary_s {
    uint64_t removed;
    uint64_t kept;
    uint64_t errors;
    uint64_t bytes_freed; /* (dry run: would be freed) */
} tp_clean_summary_t;

TP_API void tp_clean_options_init(tp_clean_options_t *opt);

/* Clean base_dir (absolute, an existing directory reached without symlinks).
 * 0 when the walk completed (items that could not be removed are counted in
 * summary->errors and reported), -1 if base_dir cannot be opened. */
TP_API int tp_clean(const char *base_dir, const tp_clean_options_t *opt, tp_clean_summary_t *summary);

#ifdef __cplusplus
}
#endif
#endif
