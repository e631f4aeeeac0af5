/* tp trace: record lineage messages, and walk an output back to its sources
 * (docs/spec/tracelink.md; the index and walk are the library's, trace.h). */
#include "commands.h"
#include "stop_signal.h"

#include "tensorpool/client.h"
#include "tensorpool/clock.h"
#include "tensorpool/codec/control.h"
#include "tensorpool/codec/tracelink.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/json_writer.h"
#include "tensorpool/trace.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TRACE_FILE "trace.sbe"

static void usage(FILE *out)
{
    fputs("NAME\n"
          "    tp trace - record frame lineage and show which frames an output came from\n"
          "\n"
          "SYNOPSIS\n"
          "    tp trace [--dir DIR] [--depth N] [--json] TRACE_ID\n"
          "    tp trace record [--dir DIR] [--duration SECONDS] [--namespace NS] [TP_DIR]\n"
          "\n"
          "DESCRIPTION\n"
          "    A traced frame carries a trace id in its FrameDescriptor; a stage that makes\n"
          "    one output from several input frames (a join) gives the output a new trace id\n"
          "    and publishes a TraceLinkSet naming the trace ids of the exact input frames\n"
          "    it used (docs/spec/tracelink.md). Producers trace their frames when\n"
          "    TP_TRACE=per-frame (or tp_producer_set_tracing).\n"
          "\n"
          "    tp trace record listens to the control (1000) and descriptor (1100) streams of\n"
          "    the deployment under TP_DIR (default $TP_DIR, else /dev/shm/tensorpool) and\n"
          "    appends every FrameDescriptor that has a trace id and every TraceLinkSet to\n"
          "    DIR/trace.sbe, as back-to-back SBE messages (tp decode reads the file). It\n"
          "    records what is published while it runs, flushing every 100 ms, until\n"
          "    SIGINT/SIGTERM or --duration, then prints how many messages it kept.\n"
          "\n"
          "    tp trace TRACE_ID reads DIR/trace.sbe and prints the frame TRACE_ID names and,\n"
          "    indented below it, the frames it was made of, hop by hop back to the root\n"
          "    frames (the ones no TraceLinkSet derives). Each line is\n"
          "        trace ID  stream S  epoch E  seq N  time T  [from K frames]\n"
          "    where time is the FrameDescriptor's timestamp_ns and \"from K frames\" says the\n"
          "    frame was derived; a parent whose FrameDescriptor was not recorded prints as\n"
          "    \"(not recorded)\". TRACE_ID is decimal or 0x-prefixed hexadecimal.\n"
          "\n"
          "OPTIONS\n"
          "    --dir DIR          where trace.sbe is (default $TP_TRACE_DIR, else the current\n"
          "                       directory); record creates DIR if missing\n"
          "    --depth N          show at most N levels (default 16)\n"
          "    --json             one JSON object: trace_id and frames, an array of objects\n"
          "                       with depth, trace_id, recorded, stream_id, epoch, seq,\n"
          "                       timestamp_ns and parent_count (docs/json.md)\n"
          "    --duration SECONDS record: stop after this long (default: until a signal)\n"
          "    --namespace NS     record: shm.namespace (default $SHM_NAMESPACE, else default)\n"
          "    -h, --help         print this text and exit\n"
          "\n"
          "ENVIRONMENT\n"
          "    TP_TRACE_DIR  default of --dir\n"
          "    TP_DIR        record: the deployment's base directory\n"
          "\n"
          "FILES\n"
          "    DIR/trace.sbe  the recorded FrameDescriptors and TraceLinkSets\n"
          "\n"
          "EXIT STATUS\n"
          "    0  recorded, or the trace was found and printed\n"
          "    1  the file could not be read or written, or holds a malformed message\n"
          "    2  usage error, or TRACE_ID is not in the recorded messages\n"
          "\n"
          "EXAMPLES\n"
          "    Record while a traced pipeline runs, then ask where an output came from:\n"
          "        TP_TRACE=per-frame my-cameras &\n"
          "        tp trace record --dir /tmp/lineage --duration 10\n"
          "        tp decode /tmp/lineage/trace.sbe | grep TraceLinkSet | head -1\n"
          "        tp trace --dir /tmp/lineage 7203851763254427648\n"
          "\n"
          "SEE ALSO\n"
          "    tp(1), tp-decode(1), tp-stat(1), tensorpool(7)\n",
          out);
}

static const char *default_dir(const char *dir)
{
    if (dir != NULL) return dir;
    const char *env = getenv("TP_TRACE_DIR");
    return env != NULL && env[0] != '\0' ? env : ".";
}

/* ---- record ---- */

typedef struct recorder_s {
    FILE *out;
    uint64_t descriptors, links, failed;
} recorder_t;

static void on_message(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    recorder_t *r = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) < 0) return;
    if (h.schema_id == TP_TRACELINK_SCHEMA_ID) {
        tp_tracelink_trace_link_set_dec_t d;
        if (tp_tracelink_trace_link_set_decode(&d, buf, len) < 0) return;
        len = tp_tracelink_trace_link_set_length(&d);
        r->links++;
    } else if (h.schema_id == TP_CONTROL_SCHEMA_ID && h.template_id == TP_CONTROL_FRAME_DESCRIPTOR_TEMPLATE_ID) {
        tp_control_frame_descriptor_dec_t d;
        if (tp_control_frame_descriptor_decode(&d, buf, len) < 0 || tp_control_frame_descriptor_trace_id(&d) == 0) return;
        len = tp_control_frame_descriptor_length(&d);
        r->descriptors++;
    } else {
        return;
    }
    if (fwrite(buf, 1, len, r->out) != len) r->failed++;
}

static int record(const char *dir, const char *tp_dir, const char *ns, double duration)
{
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    if (tp_dir != NULL) snprintf(ctx.base_dir, sizeof ctx.base_dir, "%s", tp_dir);
    if (ns != NULL) snprintf(ctx.ns, sizeof ctx.ns, "%s", ns);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "tp trace record: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx.base_dir;
    ipc.namespace_name = ctx.ns;
    tp_ipc_subscription_t *ctl = NULL, *desc = NULL;
    if (tp_ipc_subscription_open(&ctl, &ipc, ctx.channel, ctx.control_stream_id) != 0 ||
        (ctx.descriptor_stream_id != ctx.control_stream_id &&
         tp_ipc_subscription_open(&desc, &ipc, ctx.channel, ctx.descriptor_stream_id) != 0)) {
        fprintf(stderr, "tp trace record: %s\n", tp_errmsg());
        tp_ipc_subscription_close(ctl);
        return 1;
    }
    /* The file appears only once both streams are subscribed: a script may
     * wait for it and then start what it wants recorded. */
    char path[4096];
    snprintf(path, sizeof path, "%s/" TRACE_FILE, dir);
    recorder_t r = {0};
    r.out = fopen(path, "ab");
    if (r.out == NULL) {
        fprintf(stderr, "tp trace record: cannot open %s: %s\n", path, strerror(errno));
        tp_ipc_subscription_close(ctl);
        tp_ipc_subscription_close(desc);
        return 1;
    }
    fflush(r.out);
    tp_app_catch_stop_signals(false);
    const int64_t start = tp_clock_monotonic_ns();
    int64_t next_flush = start;
    while (!tp_app_stop) {
        const int64_t now = tp_clock_monotonic_ns();
        if (duration > 0 && (double)(now - start) >= duration * 1e9) break;
        int work = tp_ipc_subscription_poll(ctl, on_message, &r, 256);
        if (desc != NULL) work += tp_ipc_subscription_poll(desc, on_message, &r, 256);
        if (now >= next_flush) {
            fflush(r.out);
            next_flush = now + 100000000;
        }
        if (work <= 0) {
            const struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
    }
    const uint64_t lost = tp_ipc_subscription_loss_count(ctl) + (desc != NULL ? tp_ipc_subscription_loss_count(desc) : 0);
    const int write_failed = fclose(r.out) != 0 || r.failed > 0;
    tp_ipc_subscription_close(ctl);
    tp_ipc_subscription_close(desc);
    printf("tp trace record: %s: %" PRIu64 " traced descriptors, %" PRIu64 " trace links, %" PRIu64
           " messages lost\n",
           path, r.descriptors, r.links, lost);
    if (write_failed) {
        fprintf(stderr, "tp trace record: writing %s failed\n", path);
        return 1;
    }
    return 0;
}

/* ---- walk ---- */

typedef struct printer_s {
    tp_json_t *j;
} printer_t;

static void print_line(void *clientd, unsigned depth, uint64_t id, const tp_trace_frame_t *f, uint32_t np)
{
    printer_t *p = clientd;
    if (p->j != NULL) {
        tp_json_t *j = p->j;
        tp_json_begin_object(j);
        tp_json_key(j, "depth");
        tp_json_u64(j, depth);
        tp_json_key(j, "trace_id");
        tp_json_u64_string(j, id);
        tp_json_key(j, "recorded");
        tp_json_bool(j, f != NULL);
        tp_json_key(j, "stream_id");
        if (f != NULL) tp_json_u64(j, f->stream_id); else tp_json_null(j);
        tp_json_key(j, "epoch");
        if (f != NULL) tp_json_u64_string(j, f->epoch); else tp_json_null(j);
        tp_json_key(j, "seq");
        if (f != NULL) tp_json_u64_string(j, f->seq); else tp_json_null(j);
        tp_json_key(j, "timestamp_ns");
        if (f != NULL && f->timestamp_ns != UINT64_MAX) tp_json_u64_string(j, f->timestamp_ns); else tp_json_null(j);
        tp_json_key(j, "parent_count");
        tp_json_u64(j, np);
        tp_json_end_object(j);
        return;
    }
    printf("%*strace %" PRIu64, (int)(2 * depth), "", id);
    if (f == NULL) {
        printf("  (not recorded)");
    } else {
        printf("  stream %" PRIu32 "  epoch %" PRIu64 "  seq %" PRIu64, f->stream_id, f->epoch, f->seq);
        if (f->timestamp_ns != UINT64_MAX) printf("  time %" PRIu64, f->timestamp_ns);
    }
    if (np > 0) printf("  from %" PRIu32 " frames", np);
    putchar('\n');
}

static int walk(const char *dir, const char *id_text, unsigned depth, int json)
{
    char *end = NULL;
    errno = 0;
    const uint64_t id = strtoull(id_text, &end, 0);
    if (errno != 0 || end == id_text || *end != '\0' || id == 0) {
        fprintf(stderr, "tp trace: '%s' is not a trace id (a non-zero decimal or 0x number)\n", id_text);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/" TRACE_FILE, dir);
    tp_trace_index_t *ix = NULL;
    if (tp_trace_index_create(&ix) != 0 || tp_trace_index_load(ix, path) < 0) {
        fprintf(stderr, "tp trace: %s\n", tp_errmsg());
        tp_trace_index_destroy(ix);
        return 1;
    }
    tp_json_t j;
    printer_t p = {NULL};
    if (json) {
        tp_json_init(&j, stdout);
        p.j = &j;
        tp_json_begin_object(&j);
        tp_json_key(&j, "trace_id");
        tp_json_u64_string(&j, id);
        tp_json_key(&j, "frames");
        tp_json_begin_array(&j);
    }
    const long n = tp_trace_walk(ix, id, depth, print_line, &p);
    if (json && n >= 0) {
        tp_json_end_array(&j);
        tp_json_end_object(&j);
        putchar('\n');
    }
    tp_trace_index_destroy(ix);
    if (n < 0) {
        fprintf(stderr, "tp trace: %s (%s)\n", tp_errmsg(), path);
        return 2;
    }
    return 0;
}

int tp_cmd_trace(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"depth", required_argument, NULL, 'D'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"duration", required_argument, NULL, 't'},
                                         {"namespace", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *ns = NULL;
    unsigned depth = 16;
    int json = 0;
    double duration = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'd': dir = optarg; break;
        case 'n': ns = optarg; break;
        case 'j': json = 1; break;
        case 'D': {
            const unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v == 0 || v > 1000) {
                fprintf(stderr, "tp trace: --depth wants 1..1000, not '%s'\n", optarg);
                return 2;
            }
            depth = (unsigned)v;
            break;
        }
        case 't':
            duration = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(duration > 0)) {
                fprintf(stderr, "tp trace: --duration wants seconds > 0, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc && strcmp(argv[optind], "record") == 0) {
        if (argc - optind > 2) {
            usage(stderr);
            return 2;
        }
        return record(default_dir(dir), optind + 1 < argc ? argv[optind + 1] : NULL, ns, duration);
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    return walk(default_dir(dir), argv[optind], depth, json);
}
