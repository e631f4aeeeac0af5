/* Embedded IPC: creating, validating and mapping log files.
 *
 * Names: "<stream>-<pid>-<starttime>-<n>.log" (stream as unsigned decimal).
 * A log is built under ".tmp-<pid>-<starttime>-<n>" and renamed into place
 * once its header is complete, so a reader never sees a half-made log. */
#ifndef TP_IPC_LOG_FILE_H
#define TP_IPC_LOG_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "ipc_log.h"

enum { TP_IPC_LOG_NAME_MAX = 96 };

typedef struct tp_ipc_log_name_s {
    uint32_t stream;
    int pid;
    uint64_t start_time;
    uint64_t n;
    int is_tmp; /* ".tmp-..." (stream is then 0) */
} tp_ipc_log_name_t;

/* Parse a directory entry name; 0 if it is a log (or temp log) name, else -1
 * (without setting an error: foreign files are simply not ours). */
int tp_ipc_log_name_parse(const char *name, tp_ipc_log_name_t *out);

/* Create, map and publish a fresh log; fills w (positioned at 0). The mapping
 * is (*map, *map_len); the file name goes to name. 0 or -1. */
int tp_ipc_log_create(int dirfd, int32_t stream_id, uint32_t capacity, uint32_t max_message,
                      tp_ipc_log_writer_t *w, void **map, size_t *map_len, char *name, size_t name_len);
/* The same with flags (TP_IPC_LOG_LOSSLESS: the file gets reader slots). */
int tp_ipc_log_create_flags(int dirfd, int32_t stream_id, uint32_t capacity, uint32_t max_message, uint32_t flags,
                            tp_ipc_log_writer_t *w, void **map, size_t *map_len, char *name, size_t name_len);

/* Lossless logs (ipc_lossless.c). Map the reader slots of the log `name`
 * read-write, if it is still the file (dev, ino) the reader mapped; without
 * write access the reader stays unregistered (lossy for it). */
void tp_ipc_log_reader_map_readers(tp_ipc_log_reader_t *r, int dirfd, const char *name, uint64_t dev, uint64_t ino);
/* Claim a slot at position `from` (0 or -1 when all are taken). */
int tp_ipc_log_reader_register(tp_ipc_log_reader_t *r, uint64_t from);
/* Free our slot and unmap the reader slots. */
void tp_ipc_log_reader_release(tp_ipc_log_reader_t *r);

/* Check a header read from a file of file_size bytes. 0 or -1 with a message. */
int tp_ipc_log_meta_validate(const tp_ipc_log_meta_t *m, uint64_t file_size);

/* Open, validate and map a log read-only for a reader (positioned at 0). The
 * log's max_message must not exceed max_message_limit. 0 or -1. */
int tp_ipc_log_open_reader(int dirfd, const char *name, int32_t stream_id, uint32_t max_message_limit,
                           tp_ipc_log_reader_t *r, void **map, size_t *map_len);

/* Read (copy) and validate the header of a log without mapping it. 0 or -1. */
int tp_ipc_log_read_meta(int dirfd, const char *name, tp_ipc_log_meta_t *out);

/* Mark a log closed at closed_ns (used for logs of dead publishers, so they
 * linger like cleanly closed ones before deletion). 0 or -1. */
int tp_ipc_log_mark_closed(int dirfd, const char *name, int64_t closed_ns);

/* Undo a create/open_reader mapping: stop guarding it, then munmap. */
void tp_ipc_log_unmap(void *map, size_t map_len, int guard);

/* Why a mapped log can no longer be trusted, or NULL: its file was truncated
 * (a SIGBUS was caught in the mapping, or touching its ends faults now; see
 * src/util/fault_guard.h), its identity (magic .. created_ns) differs from
 * the private copy taken when it was created or opened, or tail and
 * tail_intent contradict each other. A few loads; for periodic checks. */
const char *tp_ipc_log_header_problem(const tp_ipc_log_meta_t *live, const tp_ipc_log_meta_t *identity, int guard);

/* This process's pid start time (cached after the first call; set-up only). */
int tp_ipc_self_start_time(uint64_t *start_time);

#endif
