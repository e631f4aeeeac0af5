#include "client_dir.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int tp_app_client_dir(const char *cmd, tp_client_context_t *ctx, const char *dir, const char *ns, bool must_exist)
{
    if (dir != NULL) {
        if (dir[0] != '/' || strlen(dir) >= sizeof ctx->base_dir) {
            fprintf(stderr, "tp %s: DIR '%s' must be an absolute path\n", cmd, dir);
            return 2;
        }
        snprintf(ctx->base_dir, sizeof ctx->base_dir, "%s", dir);
    }
    if (ns != NULL) {
        if (ns[0] == '\0' || strlen(ns) >= sizeof ctx->ns) {
            fprintf(stderr, "tp %s: bad --namespace '%s'\n", cmd, ns);
            return 2;
        }
        snprintf(ctx->ns, sizeof ctx->ns, "%s", ns);
    }
    struct stat st;
    if (must_exist && (stat(ctx->base_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "tp %s: '%s' is not an existing directory\n", cmd, ctx->base_dir);
        return 2;
    }
    return 0;
}
