/* tp view: a live web page of a running directory (see view_server.h). */
#include "../commands.h"
#include "../stop_signal.h"
#include "view_server.h"

#include "tensorpool/client.h"
#include "tensorpool/error.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp view - watch a running tensorpool directory in a web browser\n"
            "\n"
            "SYNOPSIS\n"
            "    tp view [DIR] [--listen HOST:PORT] [--allow-remote] [--namespace NS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Serves a read-only web page that shows, live, the system whose SHM and\n"
            "    transport live under DIR (the shm.base_dir; default $TP_DIR, else\n"
            "    /dev/shm/tensorpool). It prints the page's address and serves until SIGINT or\n"
            "    SIGTERM. The page (HTML, CSS and JavaScript compiled into tp; it loads\n"
            "    nothing from elsewhere) receives a new picture twice a second over\n"
            "    server-sent events:\n"
            "\n"
            "    Streams: id, producer name, epoch, frames per second, last seq, producer\n"
            "    process, consumer leases and their drops, as tp stat shows them (the same\n"
            "    monitor: it listens on the control, descriptor, QoS and metadata streams).\n"
            "    For image-like streams (uint8 tensors HxW, HxWx1, HxWx3 or HxWx4, row-major)\n"
            "    a thumbnail of the newest frame, at most 160 pixels wide: the frame is read\n"
            "    with one seqlock attempt, like any consumer reads it (sample, then check the\n"
            "    slot was not overwritten; a torn read is dropped and counted, never retried),\n"
            "    and no slot is ever held, so a producer never waits for the page.\n"
            "\n"
            "    Joins: each MergeMap's rules and the state derived from outside (flowing,\n"
            "    blocked with the silent inputs, waiting-map). Join stages that keep a join\n"
            "    trace (tensorpool/join_trace.h; tp demo's do) also show their own state and\n"
            "    reason, the explain of their next output (what each rule requires and has\n"
            "    seen), and a timeline of their recent outputs: per output, which sequence\n"
            "    numbers and capture timestamps of each input it used, with the offset to\n"
            "    the output's position, so offsets, lateness and misalignment can be seen.\n"
            "\n"
            "    Transport: messages seen, lost (lapped) and malformed; per transport stream\n"
            "    the publication logs in the transport directory with their processes, and\n"
            "    the subscribers: processes of this user that map another process's logs of\n"
            "    the stream (from /proc/PID/maps; tp:ipc keeps no list of its readers).\n"
            "\n"
            "    Cost: while no page is open (no /events stream, no /state.json in the last\n"
            "    5 s), tp view only listens like tp stat, maps no frames and the join stages\n"
            "    write no trace entries. While one is, it reads one frame per image stream\n"
            "    per picture and the stages copy about 200 bytes per output into their trace\n"
            "    file.\n"
            "\n"
            "    Paths served: / (the page), /events (text/event-stream, one JSON picture per\n"
            "    event), /state.json (the latest picture). Only GET and HEAD are answered; at\n"
            "    most 16 connections at once.\n"
            "\n"
            "OPTIONS\n"
            "    --listen HOST:PORT  address to serve on (default " VIEW_DEFAULT_LISTEN "); port 0\n"
            "                        picks a free port. HOST is an IPv4 address or localhost;\n"
            "                        anything but a loopback address (127.x.x.x) is refused\n"
            "                        without --allow-remote\n"
            "    --allow-remote      serve on a non-loopback address: everyone who can reach it\n"
            "                        sees the frames, stream names and process ids\n"
            "    --namespace NS      shm.namespace (default $SHM_NAMESPACE, else default)\n"
            "    -h, --help          this text\n"
            "\n"
            "OUTPUT\n"
            "    One line on standard output once serving: \"tp view: serving DIR at URL\".\n"
            "    The JSON picture holds tp stat --json's keys plus watched, publications,\n"
            "    thumbnails and stages (docs/json.md).\n"
            "\n"
            "EXIT STATUS\n"
            "    0 stopped by a signal, 1 cannot serve (e.g. the address is in use), 2 bad\n"
            "    option, address or directory\n"
            "\n"
            "ENVIRONMENT\n"
            "    SHM_BASE_DIR, TP_DIR   DIR when none is given (SHM_BASE_DIR wins)\n"
            "    SHM_NAMESPACE          the namespace when --namespace is not given\n"
            "\n"
            "EXAMPLES\n"
            "    Watch the demo in a browser:\n"
            "        tp demo --duration 600 --view\n"
            "\n"
            "    Or a directory that is already running, on a port of your choice:\n"
            "        tp view /dev/shm/tp-live --listen 127.0.0.1:8080\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), tp-stat(1), tp-demo(1), tensorpool(7)\n");
}

int tp_cmd_view(int argc, char **argv)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    view_options_t opt = {.dir = ctx.base_dir, .ns = ctx.ns, .listen = VIEW_DEFAULT_LISTEN};
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            opt.listen = argv[++i];
        } else if (strcmp(a, "--allow-remote") == 0) {
            opt.allow_remote = 1;
        } else if (strcmp(a, "--namespace") == 0 && i + 1 < argc) {
            opt.ns = argv[++i];
        } else if (a[0] != '-' && dir == NULL) {
            dir = a;
        } else {
            fprintf(stderr, "tp view: unknown or incomplete option '%s' (see tp view --help)\n", a);
            return 2;
        }
    }
    if (dir != NULL) opt.dir = dir;
    struct stat st;
    if (opt.dir[0] != '/' || stat(opt.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "tp view: DIR '%s' must be an existing directory, given as an absolute path\n", opt.dir);
        return 2;
    }
    char err[256];
    if (view_check_listen(&opt, err, sizeof err) != 0) {
        fprintf(stderr, "tp view: %s\n", err);
        return 2;
    }
    view_server_t *s = NULL;
    if (view_server_start(&s, &opt) != 0) {
        fprintf(stderr, "tp view: %s\n", tp_errmsg());
        return tp_errcode() == TP_ERR_INVALID_ARG ? 2 : 1;
    }
    tp_app_catch_stop_signals(false);
    printf("tp view: serving %s at %s\n", opt.dir, view_server_url(s));
    fflush(stdout);
    while (!tp_app_stop) {
        const struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    view_server_stop(s);
    return 0;
}
