/* tp discovery: run a discovery provider, or ask one which streams exist
 * (docs/spec/discovery.md; provider and client are the library's). */
#include "commands.h"
#include "stop_signal.h"

#include "tensorpool/clock.h"
#include "tensorpool/discovery.h"
#include "tensorpool/error.h"
#include "tensorpool/json_writer.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fputs("NAME\n"
          "    tp discovery - find streams by name and tags, or serve the answers\n"
          "\n"
          "SYNOPSIS\n"
          "    tp discovery [list] [--stream ID] [--name NAME] [--tag TAG]... [--dtype T]\n"
          "                 [--shape S] [--json] [--timeout SECONDS] [--namespace NS]\n"
          "                 [--request-channel CH] [--request-stream N] [--response-channel CH]\n"
          "                 [TP_DIR]\n"
          "    tp discovery serve [--instance ID] [--driver ID=DIR]... [--namespace NS]\n"
          "                 [--request-channel CH] [--request-stream N] [TP_DIR]\n"
          "\n"
          "DESCRIPTION\n"
          "    A discovery provider follows the driver's ShmPoolAnnounce (layout, epoch,\n"
          "    producer) and the producers' DataSourceAnnounce and DataSourceMeta (name;\n"
          "    tags are the values of meta attributes keyed \"tag\", and attributes keyed\n"
          "    \"dtype\" and \"shape\" become the tags dtype=V and shape=V) on the deployment under\n"
          "    TP_DIR (default $TP_DIR, else /dev/shm/tensorpool) and answers\n"
          "    DiscoveryRequests (schema 910) sent on the driver's control stream. A stream\n"
          "    is listed while the driver announces it with a producer attached; one whose\n"
          "    announces stop expires after three announce periods.\n"
          "\n"
          "    tp discovery serve runs a provider in the foreground until SIGINT/SIGTERM.\n"
          "    With --driver it is a registry: it also follows the driver whose deployment\n"
          "    is DIR (same namespace and streams) and lists its streams under instance ID;\n"
          "    a stream is keyed by driver and stream id. With --request-channel it reads\n"
          "    requests there instead of on the control stream, e.g. an aeron:udp endpoint\n"
          "    of this host that clients on other hosts send to (needs the media driver of\n"
          "    the deployment in TP_DIR, e.g. tp driver with embedded_media_driver).\n"
          "\n"
          "    tp discovery list (the default) asks the provider and prints one line per\n"
          "    stream that matches every filter given:\n"
          "        stream S  producer P  epoch E  name NAME  tags T,...  slots N  pools K\n"
          "        driver ID on CHANNEL stream C\n"
          "    A result is a snapshot: attach through the driver it names, which checks\n"
          "    everything again.\n"
          "\n"
          "OPTIONS\n"
          "    --stream ID        list: only stream ID\n"
          "    --name NAME        list: only streams whose data source name is NAME (exact)\n"
          "    --tag TAG          list: only streams having TAG (repeat: all of them, <= 8)\n"
          "    --dtype T          list: only streams whose producer declares dtype T (the tag\n"
          "                       dtype=T), e.g. uint8, float32\n"
          "    --shape S          list: only streams whose producer declares shape S (the tag\n"
          "                       shape=S), e.g. 480x640x3\n"
          "    --json             list: one JSON object per stream (docs/json.md)\n"
          "    --timeout SECONDS  list: wait this long for the answer (default 2)\n"
          "    --instance ID      serve: driver instance id reported in results (default local)\n"
          "    --driver ID=DIR    serve: also aggregate the driver of the deployment in DIR,\n"
          "                       as instance ID (repeat: up to 7)\n"
          "    --request-channel CH\n"
          "                       serve: read requests on CH (default $DISCOVERY_CHANNEL, else\n"
          "                       the control channel); list: send the request to CH\n"
          "    --request-stream N serve, list: the request stream (default\n"
          "                       $DISCOVERY_STREAM_ID, else the control stream)\n"
          "    --response-channel CH\n"
          "                       list: have the answer sent to CH, e.g. an aeron:udp\n"
          "                       endpoint of this host (default the control channel)\n"
          "    --namespace NS     shm.namespace (default $SHM_NAMESPACE, else default)\n"
          "    -h, --help         print this text and exit\n"
          "\n"
          "ENVIRONMENT\n"
          "    DISCOVERY_CHANNEL    default of --request-channel\n"
          "    DISCOVERY_STREAM_ID  default of --request-stream\n"
          "    TP_DIR               the deployment's base directory\n"
          "\n"
          "EXIT STATUS\n"
          "    0  served until a signal, or the answer came (possibly with no stream)\n"
          "    1  no answer within the timeout, the provider answered ERROR, or the\n"
          "       transport could not be opened\n"
          "    2  usage error\n"
          "\n"
          "EXAMPLES\n"
          "    tp discovery serve &\n"
          "    tp discovery list --tag camera\n"
          "    tp discovery list --name front --json\n"
          "    tp discovery serve --request-channel 'aeron:udp?endpoint=10.0.0.1:40123'\n"
          "    tp discovery list --request-channel 'aeron:udp?endpoint=10.0.0.1:40123' \\\n"
          "        --response-channel 'aeron:udp?endpoint=10.0.0.2:40124'\n"
          "\n"
          "SEE ALSO\n"
          "    tp(1), tp-stat(1), tp-driver(1), tensorpool(7)\n",
          out);
}

static int serve(tp_discovery_config_t *cfg)
{
    tp_discovery_t *p = NULL;
    if (tp_discovery_create(cfg, &p) != 0) {
        fprintf(stderr, "tp discovery serve: %s\n", tp_errmsg());
        return 1;
    }
    printf("tp discovery: serving %s namespace %s", cfg->client.base_dir, cfg->client.ns);
    for (uint32_t i = 0; i < cfg->nextra; i++)
        printf(", %s as %s", cfg->extra[i].client.base_dir, cfg->extra[i].driver_instance_id);
    printf(", requests on %s stream %d\n", cfg->request_channel[0] ? cfg->request_channel : cfg->client.channel,
           cfg->request_stream_id > 0 ? cfg->request_stream_id : cfg->client.control_stream_id);
    fflush(stdout);
    tp_app_catch_stop_signals(false);
    while (!tp_app_stop)
        if (tp_discovery_do_work(p, tp_clock_monotonic_ns()) <= 0) {
            const struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
    tp_discovery_stats_t st;
    tp_discovery_stats(p, tp_clock_monotonic_ns(), &st);
    printf("tp discovery: %" PRIu64 " requests answered (%" PRIu64 " after a wait to connect), %" PRIu64
           " dropped, %" PRIu64 " not sent\n",
           st.requests, st.delayed, st.dropped, st.send_failed);
    tp_discovery_destroy(p);
    return 0;
}

static void print_result(const tp_discovery_result_t *r, int json)
{
    if (json) {
        tp_json_t j;
        tp_json_init(&j, stdout);
        tp_json_begin_object(&j);
        tp_json_key(&j, "stream_id");
        tp_json_u64(&j, r->stream_id);
        tp_json_key(&j, "producer_id");
        tp_json_u64(&j, r->producer_id);
        tp_json_key(&j, "epoch");
        tp_json_u64_string(&j, r->epoch);
        tp_json_key(&j, "data_source_name");
        tp_json_cstring(&j, r->data_source_name);
        tp_json_key(&j, "tags");
        tp_json_begin_array(&j);
        for (uint32_t i = 0; i < r->ntags; i++) tp_json_cstring(&j, r->tags[i]);
        tp_json_end_array(&j);
        tp_json_key(&j, "layout_version");
        tp_json_u64(&j, r->layout_version);
        tp_json_key(&j, "header_nslots");
        tp_json_u64(&j, r->header_nslots);
        tp_json_key(&j, "header_slot_bytes");
        tp_json_u64(&j, r->header_slot_bytes);
        tp_json_key(&j, "header_region_uri");
        tp_json_cstring(&j, r->header_region_uri);
        tp_json_key(&j, "payload_pools");
        tp_json_begin_array(&j);
        for (uint32_t i = 0; i < r->npools; i++) {
            tp_json_begin_object(&j);
            tp_json_key(&j, "pool_id");
            tp_json_u64(&j, r->pools[i].pool_id);
            tp_json_key(&j, "pool_nslots");
            tp_json_u64(&j, r->pools[i].pool_nslots);
            tp_json_key(&j, "stride_bytes");
            tp_json_u64(&j, r->pools[i].stride_bytes);
            tp_json_key(&j, "region_uri");
            tp_json_cstring(&j, r->pools[i].region_uri);
            tp_json_end_object(&j);
        }
        tp_json_end_array(&j);
        tp_json_key(&j, "driver_instance_id");
        tp_json_cstring(&j, r->driver_instance_id);
        tp_json_key(&j, "driver_control_channel");
        tp_json_cstring(&j, r->driver_control_channel);
        tp_json_key(&j, "driver_control_stream_id");
        tp_json_u64(&j, r->driver_control_stream_id);
        tp_json_end_object(&j);
        putchar('\n');
        return;
    }
    printf("stream %" PRIu32 "  producer %" PRIu32 "  epoch %" PRIu64 "  name %s  tags ", r->stream_id,
           r->producer_id, r->epoch, r->data_source_name[0] ? r->data_source_name : "-");
    for (uint32_t i = 0; i < r->ntags; i++) printf("%s%s", i ? "," : "", r->tags[i]);
    printf("%s  slots %" PRIu32 "  pools %" PRIu32 "  driver %s on %s stream %" PRIu32 "\n", r->ntags ? "" : "-",
           r->header_nslots, r->npools, r->driver_instance_id, r->driver_control_channel,
           r->driver_control_stream_id);
}

static int list(const tp_client_context_t *ctx, const tp_discovery_query_t *q, int json)
{
    static tp_discovery_result_t results[256];
    uint32_t n = 0;
    const int rc = tp_discovery_query(ctx, q, results, 256, &n);
    if (rc < 0) {
        fprintf(stderr, "tp discovery: %s\n", tp_errmsg());
        return 1;
    }
    for (uint32_t i = 0; i < n; i++) print_result(&results[i], json);
    fflush(stdout);
    return 0;
}

int tp_cmd_discovery(int argc, char **argv)
{
    static const struct option opts[] = {{"stream", required_argument, NULL, 's'},
                                         {"name", required_argument, NULL, 'N'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"dtype", required_argument, NULL, 'D'},
                                         {"shape", required_argument, NULL, 'S'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"instance", required_argument, NULL, 'i'},
                                         {"namespace", required_argument, NULL, 'n'},
                                         {"driver", required_argument, NULL, 'R'},
                                         {"request-channel", required_argument, NULL, 'C'},
                                         {"request-stream", required_argument, NULL, 'I'},
                                         {"response-channel", required_argument, NULL, 'A'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    tp_discovery_config_t cfg;
    tp_discovery_config_init(&cfg);
    tp_discovery_query_t q;
    memset(&q, 0, sizeof q);
    static char kv[2][TP_DISCOVERY_TAG_MAX]; /* dtype=..., shape=... */
    static char extra_id[TP_DISCOVERY_MAX_DRIVERS][64], extra_dir[TP_DISCOVERY_MAX_DRIVERS][TP_SHM_PATH_MAX];
    unsigned nextra = 0;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 's': {
            const unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v == 0 || v > UINT32_MAX) {
                fprintf(stderr, "tp discovery: --stream wants a stream id, not '%s'\n", optarg);
                return 2;
            }
            q.stream_id = (uint32_t)v;
            break;
        }
        case 'N': q.data_source_name = optarg; break;
        case 't':
            if (q.ntags == TP_DISCOVERY_MAX_TAGS) {
                fprintf(stderr, "tp discovery: at most %u --tag\n", TP_DISCOVERY_MAX_TAGS);
                return 2;
            }
            q.tags[q.ntags++] = optarg;
            break;
        case 'D':
        case 'S':
            if (q.ntags == TP_DISCOVERY_MAX_TAGS || strlen(optarg) + 7 > TP_DISCOVERY_TAG_MAX) {
                fprintf(stderr, "tp discovery: too many filters, or '%s' is too long\n", optarg);
                return 2;
            }
            snprintf(kv[c == 'S'], sizeof kv[0], "%s=%s", c == 'D' ? "dtype" : "shape", optarg);
            q.tags[q.ntags++] = kv[c == 'S'];
            break;
        case 'j': json = 1; break;
        case 'T': {
            const double s = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(s > 0) || s > 3600) {
                fprintf(stderr, "tp discovery: --timeout wants seconds in (0, 3600], not '%s'\n", optarg);
                return 2;
            }
            q.timeout_ns = (int64_t)(s * 1e9);
            break;
        }
        case 'i': snprintf(cfg.driver_instance_id, sizeof cfg.driver_instance_id, "%s", optarg); break;
        case 'n': snprintf(cfg.client.ns, sizeof cfg.client.ns, "%s", optarg); break;
        case 'R': {
            const char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg || (size_t)(eq - optarg) >= sizeof extra_id[0] || eq[1] != '/' ||
                strlen(eq + 1) >= sizeof extra_dir[0] || nextra == TP_DISCOVERY_MAX_DRIVERS - 1) {
                fprintf(stderr, "tp discovery: --driver wants ID=/ABSOLUTE/DIR (at most %u), not '%s'\n",
                        TP_DISCOVERY_MAX_DRIVERS - 1, optarg);
                return 2;
            }
            snprintf(extra_id[nextra], sizeof extra_id[0], "%.*s", (int)(eq - optarg), optarg);
            snprintf(extra_dir[nextra++], sizeof extra_dir[0], "%s", eq + 1);
            break;
        }
        case 'C':
        case 'A':
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof cfg.request_channel) {
                fprintf(stderr, "tp discovery: a channel of 1..255 bytes, not '%s'\n", optarg);
                return 2;
            }
            if (c == 'C') snprintf(cfg.request_channel, sizeof cfg.request_channel, "%s", optarg);
            if (c == 'C') q.request_channel = optarg;
            if (c == 'A') q.response_channel = optarg;
            break;
        case 'I': {
            const long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v <= 0 || v > INT32_MAX) {
                fprintf(stderr, "tp discovery: --request-stream wants a stream id, not '%s'\n", optarg);
                return 2;
            }
            cfg.request_stream_id = q.request_stream_id = (int32_t)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int do_serve = 0;
    if (optind < argc && (strcmp(argv[optind], "serve") == 0 || strcmp(argv[optind], "list") == 0)) {
        do_serve = argv[optind][0] == 's';
        optind++;
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    if (optind < argc) {
        if (argv[optind][0] != '/' || strlen(argv[optind]) >= sizeof cfg.client.base_dir) {
            fprintf(stderr, "tp discovery: TP_DIR '%s' must be an absolute path\n", argv[optind]);
            return 2;
        }
        snprintf(cfg.client.base_dir, sizeof cfg.client.base_dir, "%s", argv[optind]);
    }
    if (!do_serve) return list(&cfg.client, &q, json); /* the library reads $DISCOVERY_* itself */
    for (unsigned i = 0; i < nextra; i++) {
        tp_client_context_t other = cfg.client;
        memcpy(other.base_dir, extra_dir[i], sizeof other.base_dir); /* both TP_SHM_PATH_MAX, checked */
        if (tp_discovery_config_add_driver(&cfg, &other, extra_id[i]) != 0) {
            fprintf(stderr, "tp discovery: %s\n", tp_errmsg());
            return 2;
        }
    }
    return serve(&cfg);
}
