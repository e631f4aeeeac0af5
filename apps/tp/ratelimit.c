/* tp ratelimit: republish a stream decimated to at most N frames a second
 * into a stream of its own (docs/spec/ratelimiter.md, docs/configuration.md
 * "tp ratelimit"). */
#include "commands.h"
#include "stop_signal.h"

#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "tensorpool/ratelimit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp ratelimit - republish a stream at a lower frame rate\n"
            "\n"
            "SYNOPSIS\n"
            "    tp ratelimit (-c FILE | --source ID --dest ID --rate HZ) [--metadata-stream ID]\n"
            "                 [--no-metadata] [--instance NAME] [-d DIR] [-n NAMESPACE]\n"
            "                 [--duration SEC] [--check]\n"
            "\n"
            "DESCRIPTION\n"
            "    Runs the RateLimiter agent until SIGINT or SIGTERM. It reads the source stream\n"
            "    as a RATE_LIMITED consumer and lets at most HZ frames a second through, timed\n"
            "    by the frames' descriptor timestamps and always the newest frame when the\n"
            "    next rate slot opens. Each frame let through is copied into the destination\n"
            "    stream, which the rate limiter creates and is the only producer of, with its\n"
            "    own pools and its own epoch; the frame keeps its sequence number, tensor\n"
            "    header, capture timestamp, meta_version and trace id, so the destination has\n"
            "    gaps in its sequence where frames were passed over. Consumers of the\n"
            "    destination stream see an ordinary stream at the lower rate, for example a\n"
            "    5 Hz preview of a 120 Hz camera, without slowing the source or its other\n"
            "    consumers.\n"
            "\n"
            "    The source's DataSourceAnnounce and DataSourceMeta are republished for the\n"
            "    destination with their stream id rewritten (to --metadata-stream, default\n"
            "    the destination id) and meta_version kept, unless --no-metadata is given.\n"
            "    When the source moves to a new epoch (its producer restarted), the rate\n"
            "    limiter drops what is in flight and attaches the destination again, which\n"
            "    gives it a new epoch too. Killed and started again, the rate limiter\n"
            "    attaches as a new producer of the destination: its consumers remap to the\n"
            "    new epoch and go on.\n"
            "\n"
            "    One instance runs one mapping at one rate; run one process per mapping.\n"
            "\n"
            "OPTIONS\n"
            "    -c, --config FILE       read the mapping from a TOML file (keys below); the\n"
            "                            options that follow it override the file\n"
            "        --source ID         the stream to decimate\n"
            "        --dest ID           the stream to publish (must differ from --source)\n"
            "        --rate HZ           at most HZ frames a second (0 = every frame)\n"
            "        --metadata-stream ID\n"
            "                            the stream id forwarded metadata names (default\n"
            "                            --dest)\n"
            "        --no-metadata       do not forward DataSourceAnnounce/DataSourceMeta\n"
            "        --instance NAME     name shown for the destination's producer (default\n"
            "                            ratelimit)\n"
            "    -d, --dir DIR           shm.base_dir (absolute); default $TP_DIR, else\n"
            "                            /dev/shm/tensorpool\n"
            "    -n, --namespace NS      shm.namespace (default $SHM_NAMESPACE, else default)\n"
            "        --duration SEC      exit 0 after SEC seconds (default: run until a signal)\n"
            "        --check             validate the settings, print them and exit; opens\n"
            "                            nothing\n"
            "    -h, --help              this text\n"
            "\n"
            "CONFIGURATION\n"
            "    [rate_limiter]\n"
            "    instance_id             as --instance\n"
            "    max_rate_hz             as --rate (default 0)\n"
            "    forward_metadata        false is --no-metadata (default true)\n"
            "    forward_progress        only false (forwarding FrameProgress is not built)\n"
            "    forward_qos             only false (forwarding QoS is not built)\n"
            "\n"
            "    [[mappings]]            exactly one\n"
            "    source_stream_id        as --source\n"
            "    dest_stream_id          as --dest\n"
            "    max_rate_hz             overrides rate_limiter.max_rate_hz\n"
            "    metadata_stream_id      as --metadata-stream\n"
            "\n"
            "OUTPUT\n"
            "    On exit, one line on stderr: frames republished, frames passed over to keep\n"
            "    the rate, frames dropped (no slot, overwritten while copied, or during a\n"
            "    restart), source restarts and metadata messages forwarded.\n"
            "\n"
            "SIGNALS\n"
            "    SIGINT, SIGTERM  detach from both streams and exit 0\n"
            "\n"
            "EXIT STATUS\n"
            "    0  clean exit (or --check passed)\n"
            "    1  runtime failure (the streams could not be opened, or a client failed)\n"
            "    2  usage or configuration error\n"
            "\n"
            "EXAMPLES\n"
            "    A 5 Hz preview (stream 20001) of camera stream 10001:\n"
            "        tp ratelimit --source 10001 --dest 20001 --rate 5\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), tp-driver(1), tp-stat(1), tensorpool(7)\n");
}

static int number(const char *flag, const char *s, uint32_t lo, uint32_t *out)
{
    char *end;
    errno = 0;
    const unsigned long v = strtoul(s, &end, 10);
    if (s[0] == '\0' || s[0] == '-' || *end != '\0' || errno != 0 || v < lo || v > INT32_MAX) {
        fprintf(stderr, "tp ratelimit: %s wants an integer %u..2147483647, not '%s'\n", flag, lo, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int path_arg(const char *what, const char *s, char *dst, size_t cap)
{
    if (s[0] == '\0' || strlen(s) >= cap || (what[0] == 'D' && s[0] != '/')) {
        fprintf(stderr, "tp ratelimit: bad %s '%s'\n", what, s);
        return -1;
    }
    snprintf(dst, cap, "%s", s);
    return 0;
}

int tp_cmd_ratelimit(int argc, char **argv)
{
    tp_ratelimit_config_t cfg;
    tp_ratelimit_config_init(&cfg);
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    int check = 0;
    uint32_t duration = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has = i + 1 < argc;
        int rc = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && has) {
            if (tp_ratelimit_config_load_file(&cfg, argv[++i]) != 0) {
                fprintf(stderr, "tp ratelimit: %s\n", tp_errmsg());
                return 2;
            }
        } else if (strcmp(a, "--source") == 0 && has) {
            rc = number(a, argv[++i], 1, &cfg.source_stream_id);
        } else if (strcmp(a, "--dest") == 0 && has) {
            rc = number(a, argv[++i], 1, &cfg.dest_stream_id);
        } else if (strcmp(a, "--rate") == 0 && has) {
            rc = number(a, argv[++i], 0, &cfg.max_rate_hz);
        } else if (strcmp(a, "--metadata-stream") == 0 && has) {
            rc = number(a, argv[++i], 1, &cfg.metadata_stream_id);
        } else if (strcmp(a, "--duration") == 0 && has) {
            rc = number(a, argv[++i], 1, &duration);
        } else if (strcmp(a, "--no-metadata") == 0) {
            cfg.forward_metadata = false;
        } else if (strcmp(a, "--instance") == 0 && has) {
            rc = path_arg("instance", argv[++i], cfg.instance_id, sizeof cfg.instance_id);
        } else if ((strcmp(a, "-d") == 0 || strcmp(a, "--dir") == 0) && has) {
            rc = path_arg("DIR", argv[++i], ctx.base_dir, sizeof ctx.base_dir);
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0) && has) {
            rc = path_arg("namespace", argv[++i], ctx.ns, sizeof ctx.ns);
        } else if (strcmp(a, "--check") == 0) {
            check = 1;
        } else {
            fprintf(stderr, "tp ratelimit: unknown argument '%s' (see tp ratelimit --help)\n", a);
            return 2;
        }
        if (rc != 0) return 2;
    }
    if (tp_ratelimit_config_validate(&cfg) != 0) {
        fprintf(stderr, "tp ratelimit: %s (see tp ratelimit --help)\n", tp_errmsg());
        return 2;
    }
    if (check) {
        printf("rate_limiter.instance_id = \"%s\"\nrate_limiter.forward_metadata = %s\n", cfg.instance_id,
               cfg.forward_metadata ? "true" : "false");
        printf("mapping: %u -> %u at %u Hz%s, metadata as stream %u\n", cfg.source_stream_id, cfg.dest_stream_id,
               cfg.max_rate_hz, cfg.max_rate_hz == 0 ? " (unlimited)" : "",
               cfg.metadata_stream_id != 0 ? cfg.metadata_stream_id : cfg.dest_stream_id);
        printf("configuration ok\n");
        return 0;
    }
    tp_app_catch_stop_signals(false);
    tp_ratelimit_t *rl = NULL;
    if (tp_ratelimit_open(&rl, &ctx, &cfg) != 0) {
        fprintf(stderr, "tp ratelimit: %s\n", tp_errmsg());
        return 1;
    }
    fprintf(stderr, "tp ratelimit: %s: stream %u -> %u at most %u Hz on %s (namespace %s)\n", cfg.instance_id,
            cfg.source_stream_id, cfg.dest_stream_id, cfg.max_rate_hz, ctx.base_dir, ctx.ns);
    const int64_t end = duration != 0 ? tp_clock_monotonic_ns() + (int64_t)duration * 1000000000 : INT64_MAX;
    int status = 0;
    while (!tp_app_stop) {
        const int64_t now = tp_clock_monotonic_ns();
        if (now >= end) break;
        const int work = tp_ratelimit_do_work(rl, now);
        if (work < 0) {
            fprintf(stderr, "tp ratelimit: %s\n", tp_errmsg());
            status = 1;
            break;
        }
        if (work == 0) {
            const struct timespec ts = {0, 200000}; /* idle: 200 us */
            nanosleep(&ts, NULL);
        }
    }
    tp_ratelimit_stats_t s;
    tp_ratelimit_stats(rl, &s);
    fprintf(stderr,
            "tp ratelimit: %s: frames_out %" PRIu64 " skipped %" PRIu64 " dropped %" PRIu64 " source_restarts %" PRIu64
            " metadata_forwarded %" PRIu64 "\n",
            cfg.instance_id, s.frames_out, s.frames_skipped, s.drops_no_slot, s.source_restarts, s.metadata_forwarded);
    tp_ratelimit_close(rl);
    return status;
}
