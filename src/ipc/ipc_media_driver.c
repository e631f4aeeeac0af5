/* The embedded Aeron C media driver (aeron_driver_start on its own thread). */
#include "ipc_media_driver.h"

#include <stdlib.h>

#if defined(TP_HAVE_AERON_DRIVER) && TP_HAVE_AERON_DRIVER
#include "ipc_aeron.h"
#include "ipc_dir.h"

#include <aeronmd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct tp_ipc_media_driver_s {
    aeron_driver_context_t *ctx;
    aeron_driver_t *driver;
    char dir[512];
};

/* Aeron's default IPC term is 64 MiB, three per publication, and every
 * tensorpool client opens several: 1 MiB (the size of a tp:ipc log) unless
 * AERON_IPC_TERM_BUFFER_LENGTH says otherwise. */
static int ipc_term_default(aeron_driver_context_t *ctx)
{
    if (getenv("AERON_IPC_TERM_BUFFER_LENGTH") != NULL) return 0;
    return aeron_driver_context_set_ipc_term_buffer_length(ctx, 1u << 20);
}

int tp_ipc_media_driver_start(tp_ipc_media_driver_t **out, const tp_ipc_context_t *ctx, const char *dir)
{
    tp_ipc_media_driver_t *md = calloc(1, sizeof *md);
    if (md == NULL) return tp_err_set(TP_ERR_CAPACITY, "out of memory for the media driver");
    if (dir != NULL && dir[0] != '\0') {
        if (strlen(dir) >= sizeof md->dir) {
            free(md);
            return tp_err_set(TP_ERR_INVALID_ARG, "media driver dir '%s' is too long", dir);
        }
        snprintf(md->dir, sizeof md->dir, "%s", dir);
    } else {
        /* Beside the ipc directory, whose parents this creates with our modes. */
        const int dirfd = tp_ipc_dir_open_ctx(ctx, 1);
        if (dirfd < 0 || tp_ipc_aeron_dir(ctx, md->dir, sizeof md->dir) < 0) {
            if (dirfd >= 0) close(dirfd);
            free(md);
            return -1;
        }
        close(dirfd);
    }
    /* A live driver in dir refuses (its CnC file is heartbeating); a dead
     * one's directory is deleted and made afresh. Shared threading: one
     * thread, which backs off to sleeping when idle. */
    if (aeron_driver_context_init(&md->ctx) < 0 || aeron_driver_context_set_dir(md->ctx, md->dir) < 0 ||
        aeron_driver_context_set_dir_delete_on_start(md->ctx, true) < 0 ||
        aeron_driver_context_set_dir_delete_on_shutdown(md->ctx, true) < 0 ||
        aeron_driver_context_set_threading_mode(md->ctx, AERON_THREADING_MODE_SHARED) < 0 ||
        ipc_term_default(md->ctx) < 0 || aeron_driver_init(&md->driver, md->ctx) < 0 || aeron_driver_start(md->driver, false) < 0) {
        tp_err_set(TP_ERR_IO, "embedded Aeron media driver in '%s': %s", md->dir, aeron_errmsg());
        if (md->driver != NULL) aeron_driver_close(md->driver);
        if (md->ctx != NULL) aeron_driver_context_close(md->ctx);
        free(md);
        return -1;
    }
    setenv("AERON_DIR", md->dir, 1);
    tp_ipc_aeron_client_renew();
    *out = md;
    return 0;
}

const char *tp_ipc_media_driver_dir(const tp_ipc_media_driver_t *md) { return md->dir; }

void tp_ipc_media_driver_stop(tp_ipc_media_driver_t *md)
{
    if (md == NULL) return;
    tp_ipc_aeron_client_renew();
    aeron_driver_close(md->driver);
    aeron_driver_context_close(md->ctx);
    free(md);
}

#else

struct tp_ipc_media_driver_s {
    int unused;
};

int tp_ipc_media_driver_start(tp_ipc_media_driver_t **out, const tp_ipc_context_t *ctx, const char *dir)
{
    (void)out;
    (void)ctx;
    (void)dir;
    return tp_err_set(TP_ERR_UNSUPPORTED, "this build has no Aeron media driver (configure with AERON_ROOT or an "
                                          "installed Aeron)");
}

const char *tp_ipc_media_driver_dir(const tp_ipc_media_driver_t *md)
{
    (void)md;
    return "";
}

void tp_ipc_media_driver_stop(tp_ipc_media_driver_t *md) { (void)md; }

#endif
