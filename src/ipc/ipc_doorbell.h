/* Embedded IPC: the doorbell, so that a process idle on a stream can sleep
 * until a message arrives instead of waking on a timer to look.
 *
 * A sleeper counts itself in the index file's sleepers slot of the stream
 * (arm), polls once more, then waits on the index's ring word (a futex
 * shared by every mapping of the file) for a bounded time. A publication
 * opened with `wake=true` (tp:ipc?wake=true) looks at that slot after every
 * message and, when someone sleeps there, bumps ring and wakes them. Both
 * sides order their store before their load with a full fence, so a message
 * published while the sleeper arms is either seen by its last poll or rings.
 *
 * The driver sleeps on its control stream this way, and clients' control
 * publications wake it (and discovery requests, which go on that stream by
 * default): an attach is answered at once by a driver that otherwise parks
 * up to driver.idle_park_max_us. Ordinary publications
 * (descriptors, progress, metadata) never look, so their offers make no
 * syscall. Anyone in the group can write the index: a forged sleeper count
 * costs waking publications a futex wake per message, a forged ring wakes
 * sleepers early, a replaced or truncated index leaves sleepers to their
 * timeout: the park they would have slept anyway. */
#ifndef TP_IPC_DOORBELL_H
#define TP_IPC_DOORBELL_H

#include <stddef.h>
#include <stdint.h>

#include "ipc_dir.h"

typedef struct tp_ipc_doorbell_s tp_ipc_doorbell_t;

/* Map the index of ctx's transport directory for sleeping on stream_id of
 * channel. 0 or -1; a channel that is not tp:ipc has no doorbell: 0 with
 * *out NULL. */
int tp_ipc_doorbell_open(tp_ipc_doorbell_t **out, const tp_ipc_context_t *ctx, const char *channel, int32_t stream_id);

/* Disarms if armed. NULL is a no-op. */
void tp_ipc_doorbell_close(tp_ipc_doorbell_t *db);

/* Count us as a sleeper on the stream (once; again only after disarm) and
 * return the ring value to sleep on: poll once more before sleeping. */
uint32_t tp_ipc_doorbell_arm(tp_ipc_doorbell_t *db);

/* No longer a sleeper (after work turned up). Not armed, or NULL: nothing. */
void tp_ipc_doorbell_disarm(tp_ipc_doorbell_t *db);

int tp_ipc_doorbell_armed(const tp_ipc_doorbell_t *db);

/* Sleep until ring differs from seen, a wake, or timeout_ns; returns the
 * ring value now, to sleep on next time (poll once more first). */
uint32_t tp_ipc_doorbell_sleep(tp_ipc_doorbell_t *db, uint32_t seen, int64_t timeout_ns);

/* For publications of requests to a process that may sleep on the stream
 * (the driver): a tp:ipc channel with wake=true added, written into buf;
 * any other channel (or one that would not fit in cap) is returned as is. */
const char *tp_ipc_waking_channel(char *buf, size_t cap, const char *channel);

/* Publication side, after a message on stream_id is published: wake the
 * stream's sleepers, if any. */
void tp_ipc_doorbell_ring(tp_ipc_index_t *index, int32_t stream_id);

#endif
