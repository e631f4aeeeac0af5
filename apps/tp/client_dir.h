/* The --dir DIR and --namespace NS options of tp commands that act as
 * clients (stat, supervise, bridge): checked once, the same way, into a
 * client context. */
#ifndef TP_APP_CLIENT_DIR_H
#define TP_APP_CLIENT_DIR_H

#include "tensorpool/client.h"

#include <stdbool.h>

/* Set ctx's base dir (absolute) and namespace (non-empty) from the options
 * given (NULL: keep ctx's); with must_exist, the base dir must be an existing
 * directory. 0, or 2 (the usage exit code) after a message naming cmd. */
int tp_app_client_dir(const char *cmd, tp_client_context_t *ctx, const char *dir, const char *ns, bool must_exist);

#endif
