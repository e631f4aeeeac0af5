/* tp clean: remove what dead drivers, producers and publishers left behind
 * (the logic is tp_clean, tensorpool/clean.h). */
#include "commands.h"

#include "tensorpool/clean.h"
#include "tensorpool/error.h"
#include "tensorpool/json_writer.h"
#include "tensorpool/shm_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp clean - remove the files of tensorpool streams and processes that are gone\n"
            "\n"
            "SYNOPSIS\n"
            "    tp clean [DIR] [--dry-run] [--json]\n"
            "\n"
            "DESCRIPTION\n"
            "    Looks through DIR (the shm.base_dir; default $TP_DIR, else /dev/shm/tensorpool)\n"
            "    and removes what nothing live can use any more, in every namespace of the\n"
            "    current user:\n"
            "        <DIR>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/  header ring, pools\n"
            "        <DIR>/tensorpool-<user>/<namespace>/<stream_id>/last_epoch\n"
            "        <DIR>/tensorpool-<user>/<namespace>/ipc/                   transport logs\n"
            "        <DIR>/tensorpool-<user>/<namespace>/driver.lock\n"
            "        <DIR>/tensorpool-<user>/<namespace>/join-<out>-<pid>.trace  join traces\n"
            "    and the directories this leaves empty (never DIR itself).\n"
            "\n"
            "    An epoch directory is removed when the process that created its files (the\n"
            "    pid in their superblocks) is gone and no live process maps any of them; files\n"
            "    that name no creator must also be unchanged for a minute. A transport log is\n"
            "    removed when its publisher is gone (pid and start time in its header: a\n"
            "    recycled pid does not count), or it was closed more than 5 s ago, and nothing\n"
            "    maps it; the ipc index once no log is left. last_epoch, driver.lock and the\n"
            "    namespace directory go only when no driver holds driver.lock (a driver picks\n"
            "    its next epoch from the monotonic clock, so it never reuses one). A join trace\n"
            "    (kept by a join stage for tp view) goes when the process in its name is gone.\n"
            "    A recycled creator pid keeps an epoch until that process ends. Everything\n"
            "    live is kept: the files of a running driver, producer or publisher, and\n"
            "    anything a live process has mapped (as far as /proc/PID/maps of this user's\n"
            "    processes shows).\n"
            "\n"
            "    Directories are opened one level at a time without following symlinks and\n"
            "    entries are removed relative to them: a symlink planted in DIR is removed as a\n"
            "    link and its target is never touched. Other users' directories are left alone.\n"
            "\n"
            "    Every item is printed: 'removed' or 'kept' (with --dry-run 'would remove'),\n"
            "    its kind (epoch, stream, log, index, namespace, user, file), its size, its\n"
            "    path under DIR and why; then a summary line with the bytes freed.\n"
            "\n"
            "OPTIONS\n"
            "    --dry-run   decide and print as usual, but remove nothing\n"
            "    --json      print one JSON object instead: dir, dry_run, removed and kept\n"
            "                (arrays of {path, kind, bytes, why}), bytes_freed, errors\n"
            "                (docs/json.md)\n"
            "    -h, --help  this text\n"
            "\n"
            "EXIT STATUS\n"
            "    0  the walk completed (whether or not anything was removed)\n"
            "    1  some item could not be examined or removed (named in the output)\n"
            "    2  bad option, or DIR is not an existing directory reached without symlinks\n"
            "\n"
            "EXAMPLES\n"
            "    tp clean --dry-run            what would go from /dev/shm/tensorpool\n"
            "    tp clean /dev/shm/tp-live     clean a --dir used by tp demo or tp driver -d\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), tp-stat(1), tp-driver(1), tensorpool(7)\n");
}

/* Items as reported, kept for the JSON object (which groups them). */
typedef struct {
    char *path, *why;
    const char *kind;
    uint64_t bytes;
    int removed, error;
} item_t;

typedef struct {
    int json;
    int dry_run;
    item_t *items;
    size_t n, cap;
    int out_of_memory;
} printer_t;

static const char *size_text(uint64_t b, char *buf, size_t cap)
{
    if (b >= 1u << 20) snprintf(buf, cap, "%.1f MiB", (double)b / (1u << 20));
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
    else snprintf(buf, cap, "%llu B", (unsigned long long)b);
    return buf;
}

/* src for a terminal: names under DIR come from anyone in the group, so
 * control characters (C0, DEL, and C1 as UTF-8, which terminals obey: a
 * planted name must not move the cursor, recolour or forge a line) are
 * printed as '?'. Other bytes are kept (UTF-8 names stay readable). */
static const char *printable(const char *src, char *dst, size_t cap)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    for (size_t i = 0; s[i] != '\0' && o + 1 < cap; i++) {
        if (s[i] == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
            dst[o++] = '?';
            i++;
        } else {
            dst[o++] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
        }
    }
    dst[o] = '\0';
    return dst;
}

static void on_item(void *clientd, const tp_clean_item_t *it)
{
    printer_t *p = clientd;
    if (!p->json) {
        char sz[32], path[4096], why[4096];
        const char *verb = it->error ? "ERROR" : it->removed ? (p->dry_run ? "would remove" : "removed") : "kept";
        printf("%-12s %-9s %10s  %s  (%s)\n", verb, it->kind, size_text(it->bytes, sz, sizeof sz),
               printable(it->path, path, sizeof path), printable(it->why, why, sizeof why));
        return;
    }
    if (p->n == p->cap) {
        const size_t cap = p->cap ? p->cap * 2 : 64;
        item_t *n = realloc(p->items, cap * sizeof *n);
        if (n == NULL) {
            p->out_of_memory = 1;
            return;
        }
        p->items = n;
        p->cap = cap;
    }
    item_t *x = &p->items[p->n];
    x->path = strdup(it->path);
    x->why = strdup(it->why);
    if (x->path == NULL || x->why == NULL) {
        free(x->path);
        free(x->why);
        p->out_of_memory = 1;
        return;
    }
    x->kind = it->kind;
    x->bytes = it->bytes;
    x->removed = it->removed;
    x->error = it->error;
    p->n++;
}

/* removed (want 0), kept (1) or errors (2) of the collected items. */
static void json_items(tp_json_t *j, const printer_t *p, int want)
{
    tp_json_begin_array(j);
    for (size_t i = 0; i < p->n; i++) {
        const item_t *x = &p->items[i];
        if ((x->error ? 2 : x->removed ? 0 : 1) != want) continue;
        if (want == 2) {
            char line[2100];
            snprintf(line, sizeof line, "%s: %s", x->path, x->why);
            tp_json_cstring(j, line);
            continue;
        }
        tp_json_begin_object(j);
        tp_json_key(j, "path");
        tp_json_cstring(j, x->path);
        tp_json_key(j, "kind");
        tp_json_cstring(j, x->kind);
        tp_json_key(j, "bytes");
        tp_json_u64(j, x->bytes);
        tp_json_key(j, "why");
        tp_json_cstring(j, x->why);
        tp_json_end_object(j);
    }
    tp_json_end_array(j);
}

int tp_cmd_clean(int argc, char **argv)
{
    const char *dir = NULL;
    int json = 0, dry_run = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (a[0] != '-' && dir == NULL) {
            dir = a;
        } else {
            fprintf(stderr, "tp clean: unknown option or extra argument '%s' (see tp clean --help)\n", a);
            return 2;
        }
    }
    if (dir == NULL) dir = getenv("TP_DIR") != NULL && getenv("TP_DIR")[0] != '\0' ? getenv("TP_DIR") : TP_SHM_DEFAULT_BASE_DIR;
    if (dir[0] != '/') {
        fprintf(stderr, "tp clean: DIR '%s' must be an absolute path\n", dir);
        return 2;
    }
    tp_clean_options_t opt;
    tp_clean_options_init(&opt);
    opt.dry_run = dry_run;
    printer_t pr = {json, dry_run, NULL, 0, 0, 0};
    opt.report = on_item;
    opt.clientd = &pr;
    tp_clean_summary_t sum;
    if (tp_clean(dir, &opt, &sum) != 0) {
        fprintf(stderr, "tp clean: %s\n", tp_errmsg());
        return 2;
    }
    char sz[32];
    if (!json) {
        printf("tp clean: %s: %s %llu item%s (%s), kept %llu, %llu error%s%s\n", dir,
               dry_run ? "would remove" : "removed", (unsigned long long)sum.removed, sum.removed == 1 ? "" : "s",
               size_text(sum.bytes_freed, sz, sizeof sz), (unsigned long long)sum.kept, (unsigned long long)sum.errors,
               sum.errors == 1 ? "" : "s", dry_run ? " (dry run: nothing removed)" : "");
        return sum.errors > 0 ? 1 : 0;
    }
    tp_json_t j;
    tp_json_init(&j, stdout);
    tp_json_begin_object(&j);
    tp_json_key(&j, "dir");
    tp_json_cstring(&j, dir);
    tp_json_key(&j, "dry_run");
    tp_json_bool(&j, dry_run != 0);
    tp_json_key(&j, "removed");
    json_items(&j, &pr, 0);
    tp_json_key(&j, "kept");
    json_items(&j, &pr, 1);
    tp_json_key(&j, "bytes_freed");
    tp_json_u64(&j, sum.bytes_freed);
    tp_json_key(&j, "errors");
    json_items(&j, &pr, 2);
    tp_json_end_object(&j);
    fputc('\n', stdout);
    for (size_t i = 0; i < pr.n; i++) {
        free(pr.items[i].path);
        free(pr.items[i].why);
    }
    free(pr.items);
    if (pr.out_of_memory) {
        fprintf(stderr, "tp clean: out of memory: the lists are incomplete\n");
        return 1;
    }
    return sum.errors > 0 ? 1 : 0;
}
