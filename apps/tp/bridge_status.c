/* Bridge status files (bridge_status.h). */
#include "bridge_status.h"

#include "tensorpool/ipc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tp_bridge_status_dir(const char *base_dir, const char *ns, char *out, size_t cap)
{
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = base_dir;
    ipc.namespace_name = ns;
    /* beside the transport's ipc/ directory */
    if (tp_ipc_context_dir(&ipc, out, cap) != 0)
        return -1;
    const size_t n = strlen(out);
    if (n < 4 || strcmp(out + n - 4, "/ipc") != 0 || n + 4 >= cap)
        return -1;
    snprintf(out + n - 4, cap - (n - 4), "/bridge");
    return 0;
}

static void path_of(const char *dir, const tp_bridge_config_t *cfg, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.status%s", dir, cfg->instance_id, suffix);
}

int tp_bridge_status_write(const char *dir, const tp_bridge_config_t *cfg, const tp_bridge_t *b)
{
    char tmp[4096], path[4096];
    path_of(dir, cfg, ".tmp", tmp, sizeof tmp);
    path_of(dir, cfg, "", path, sizeof path);
    mkdir(dir, 0770);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    for (unsigned i = 0; i < cfg->nmappings; i++) {
        tp_bridge_counters_t n;
        if (tp_bridge_counters(b, i, &n) != 0)
            continue;
        fprintf(f,
                "pid=%d direction=%s source=%" PRIu32 " dest=%" PRIu32 " frames_sent=%" PRIu64 " chunks_sent=%" PRIu64
                " bytes_sent=%" PRIu64 " send_aborted=%" PRIu64 " announces_forwarded=%" PRIu64
                " chunks_received=%" PRIu64 " frames_rebuilt=%" PRIu64 " duplicates=%" PRIu64 " local_epoch=%" PRIu64
                " source_epoch=%" PRIu64 " metadata_forwarded=%" PRIu64 " tracelinks_forwarded=%" PRIu64
                " metadata_republished=%" PRIu64 " tracelinks_republished=%" PRIu64 " forward_dropped=%" PRIu64
                " qos_forwarded=%" PRIu64 " qos_republished=%" PRIu64 " dest_remaps=%" PRIu64 " dest_failed=%" PRIu64,
                (int)getpid(), n.direction == TP_BRIDGE_SEND ? "send" : "receive", n.source_stream_id, n.dest_stream_id,
                n.frames_sent, n.chunks_sent, n.bytes_sent, n.send_aborted, n.announces_forwarded, n.chunks_received,
                n.frames_rebuilt, n.duplicates, n.local_epoch, n.source_epoch, n.metadata_forwarded, n.tracelinks_forwarded,
                n.metadata_republished, n.tracelinks_republished, n.forward_dropped, n.qos_forwarded, n.qos_republished,
                n.dest_remaps, n.dest_failed);
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++)
            fprintf(f, " drop_%s=%" PRIu64, tp_bridge_drop_name((tp_bridge_drop_t)k), n.drops[k]);
        fputc('\n', f);
    }
    const int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

void tp_bridge_status_remove(const char *dir, const tp_bridge_config_t *cfg)
{
    char path[4096];
    path_of(dir, cfg, "", path, sizeof path);
    unlink(path);
}

static uint64_t *field(tp_bridge_counters_t *n, const char *key)
{
    static const struct {
        const char *name;
        size_t off;
    } f[] = {
        {"frames_sent", offsetof(tp_bridge_counters_t, frames_sent)},
        {"chunks_sent", offsetof(tp_bridge_counters_t, chunks_sent)},
        {"bytes_sent", offsetof(tp_bridge_counters_t, bytes_sent)},
        {"send_aborted", offsetof(tp_bridge_counters_t, send_aborted)},
        {"announces_forwarded", offsetof(tp_bridge_counters_t, announces_forwarded)},
        {"chunks_received", offsetof(tp_bridge_counters_t, chunks_received)},
        {"frames_rebuilt", offsetof(tp_bridge_counters_t, frames_rebuilt)},
        {"duplicates", offsetof(tp_bridge_counters_t, duplicates)},
        {"local_epoch", offsetof(tp_bridge_counters_t, local_epoch)},
        {"source_epoch", offsetof(tp_bridge_counters_t, source_epoch)},
        {"metadata_forwarded", offsetof(tp_bridge_counters_t, metadata_forwarded)},
        {"tracelinks_forwarded", offsetof(tp_bridge_counters_t, tracelinks_forwarded)},
        {"metadata_republished", offsetof(tp_bridge_counters_t, metadata_republished)},
        {"tracelinks_republished", offsetof(tp_bridge_counters_t, tracelinks_republished)},
        {"forward_dropped", offsetof(tp_bridge_counters_t, forward_dropped)},
        {"qos_forwarded", offsetof(tp_bridge_counters_t, qos_forwarded)},
        {"qos_republished", offsetof(tp_bridge_counters_t, qos_republished)},
        {"dest_remaps", offsetof(tp_bridge_counters_t, dest_remaps)},
        {"dest_failed", offsetof(tp_bridge_counters_t, dest_failed)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcmp(key, f[i].name) == 0)
            return (uint64_t *)(void *)((char *)n + f[i].off);
    if (strncmp(key, "drop_", 5) == 0)
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++)
            if (strcmp(key + 5, tp_bridge_drop_name((tp_bridge_drop_t)k)) == 0)
                return &n->drops[k];
    return NULL;
}

/* Parse one line; unknown keys are skipped (a newer writer). */
static int parse_line(char *line, tp_bridge_status_row_t *r)
{
    memset(&r->n, 0, sizeof r->n);
    r->pid = 0;
    int have = 0;
    for (char *save = NULL, *w = strtok_r(line, " \n", &save); w != NULL; w = strtok_r(NULL, " \n", &save)) {
        char *eq = strchr(w, '=');
        if (eq == NULL)
            return -1;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(w, "pid") == 0)
            r->pid = atoi(v);
        else if (strcmp(w, "direction") == 0)
            r->n.direction = strcmp(v, "send") == 0 ? TP_BRIDGE_SEND : TP_BRIDGE_RECEIVE, have++;
        else if (strcmp(w, "source") == 0)
            r->n.source_stream_id = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(w, "dest") == 0)
            r->n.dest_stream_id = (uint32_t)strtoul(v, NULL, 10);
        else {
            uint64_t *p = field(&r->n, w);
            if (p != NULL)
                *p = strtoull(v, NULL, 10);
        }
    }
    return have ? 0 : -1;
}

unsigned tp_bridge_status_read(const char *dir, tp_bridge_status_row_t *rows, unsigned cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    unsigned n = 0;
    for (struct dirent *e; n < cap && (e = readdir(d)) != NULL;) {
        const size_t l = strlen(e->d_name);
        if (l <= 7 || strcmp(e->d_name + l - 7, ".status") != 0 || l - 7 >= sizeof rows[0].instance)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        char line[2048];
        while (n < cap && fgets(line, sizeof line, f) != NULL) {
            tp_bridge_status_row_t *r = &rows[n];
            if (parse_line(line, r) != 0)
                continue;
            memcpy(r->instance, e->d_name, l - 7);
            r->instance[l - 7] = '\0';
            r->pid_alive = r->pid > 0 && (kill(r->pid, 0) == 0 || errno == EPERM);
            n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}
