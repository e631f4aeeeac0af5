/* A media driver run inside this process, for transports that need one
 * (Aeron). Backend-neutral: callers outside src/ipc ask for "the media
 * driver" and never learn which transport it serves. */
#ifndef TP_IPC_MEDIA_DRIVER_H
#define TP_IPC_MEDIA_DRIVER_H

#include "tensorpool/ipc.h"

typedef struct tp_ipc_media_driver_s tp_ipc_media_driver_t;

/* Start an embedded media driver on its own threads, in dir (NULL or "":
 * $AERON_DIR, else <base>/tensorpool-<user>/<namespace>/aeron of ctx), and
 * point this process's clients (and its children) at it by setting
 * AERON_DIR. A stale driver directory is replaced; a live media driver
 * already in dir is an error. 0, or -1 (TP_ERR_UNSUPPORTED when this build
 * has no Aeron media driver). */
int tp_ipc_media_driver_start(tp_ipc_media_driver_t **out, const tp_ipc_context_t *ctx, const char *dir);

/* The directory the driver serves. */
const char *tp_ipc_media_driver_dir(const tp_ipc_media_driver_t *md);

/* Stop it and delete its directory. NULL is a no-op. */
void tp_ipc_media_driver_stop(tp_ipc_media_driver_t *md);

#endif
