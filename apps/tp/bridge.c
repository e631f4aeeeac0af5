/* tp bridge: run SHM <-> Aeron UDP bridge mappings from a TOML file
 * (docs/spec/bridge.md, docs/configuration.md "tp bridge"). */
#include "client_dir.h"
#include "bridge_status.h"
#include "commands.h"
#include "stop_signal.h"

#include "tensorpool/bridge.h"
#include "tensorpool/clock.h"
#include "tensorpool/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp bridge - carry streams between hosts over Aeron UDP\n"
            "\n"
            "SYNOPSIS\n"
            "    tp bridge -c FILE [-d DIR] [-n NAMESPACE] [--check]\n"
            "\n"
            "DESCRIPTION\n"
            "    Runs the mappings of a bridge configuration until SIGINT or SIGTERM. A send\n"
            "    mapping consumes a stream of this host like any consumer and sends each frame\n"
            "    as BridgeFrameChunk messages (schema 902) on bridge.payload_channel, an\n"
            "    aeron:udp channel; the payload goes from the mapped pool straight into Aeron's\n"
            "    buffers. It also forwards the stream's ShmPoolAnnounce on\n"
            "    bridge.control_channel, and, when forward_metadata or forward_tracelink is on,\n"
            "    the stream's DataSourceAnnounce/DataSourceMeta and TraceLinkSet messages on\n"
            "    bridge.metadata_channel. A receive mapping is the producer of its destination\n"
            "    stream on this host: it rebuilds each frame directly in a slot of that stream's\n"
            "    pool, keeping the source's sequence number, capture timestamp, tensor header\n"
            "    and trace id, and publishes an ordinary FrameDescriptor after the commit, so\n"
            "    consumers and joins here see a local stream. A frame missing any chunk, or\n"
            "    failing a check, is dropped and counted by cause; nothing partial is ever\n"
            "    published. Forwarded metadata and TraceLinkSets are published on this\n"
            "    host's metadata and control streams with the stream id rewritten to the\n"
            "    mapping's metadata_stream_id (default dest_stream_id); the forwarded\n"
            "    DataSourceAnnounce is then the stream's only one (the receiver's own producer\n"
            "    stays silent). With forward_qos the source stream's QosProducer and\n"
            "    QosConsumer messages travel on the control channel and are published on this\n"
            "    host's QoS stream with the stream id rewritten to dest_stream_id.\n"
            "    With forward_progress a receiver publishes FrameProgress for the destination\n"
            "    stream itself, as its producer, while it rebuilds a frame: the slot header is\n"
            "    written first and bytes_filled never passes the chunks written in order from\n"
            "    offset 0; the source's own FrameProgress is not relayed (BR-P11).\n"
            "\n"
            "    When another producer already holds a receive mapping's destination stream,\n"
            "    the receiver waits dest_busy_timeout_ms (its own stale lease after a crash\n"
            "    expires in that time), then moves to the next free id of\n"
            "    dest_stream_id_range if the mapping took its id from the range, or stops the\n"
            "    mapping if dest_stream_id is fixed or no id is left. Either is printed on\n"
            "    standard error and shown by tp stat (dest_remaps, dest_failed).\n"
            "\n"
            "    Each host runs its own SHM driver and an Aeron media driver (for example the\n"
            "    one tp driver embeds with driver.embedded_media_driver = true); the bridge\n"
            "    uses the media driver of DIR/NAMESPACE. Both ends use the same configuration\n"
            "    keys; mappings say which way each stream goes.\n"
            "\n"
            "    Every second the counters of every mapping are written to a status file that\n"
            "    tp stat shows in its BRIDGE table.\n"
            "\n"
            "OPTIONS\n"
            "    -c, --config FILE     the bridge configuration (TOML; keys below)\n"
            "    -d, --dir DIR         shm.base_dir of this host (absolute); default $TP_DIR,\n"
            "                          else /dev/shm/tensorpool\n"
            "    -n, --namespace NS    shm.namespace (default $SHM_NAMESPACE, else default)\n"
            "        --check           read and validate the configuration, print the effective\n"
            "                          settings, and exit; opens nothing\n"
            "    -h, --help            this text\n"
            "\n"
            "CONFIGURATION\n"
            "    [bridge]\n"
            "    instance_id           name of this bridge in tp stat (default \"bridge\")\n"
            "    payload_channel       aeron:udp channel of the chunks (required)\n"
            "    payload_stream_id     its stream id (default 50000)\n"
            "    control_channel       channel of the forwarded announces (required)\n"
            "    control_stream_id     its stream id (default 50001)\n"
            "    mtu_bytes             the payload channel's MTU (default 1408; set mtu=8192 in\n"
            "                          the channel and here for bulk frames)\n"
            "    chunk_bytes           payload bytes per chunk; 0 = as many as fit one MTU\n"
            "    max_chunk_bytes       hard cap per chunk (default 65535)\n"
            "    max_payload_bytes     hard cap per frame (default 1073741824)\n"
            "    assembly_timeout_ms   an incomplete frame is dropped after this (default 250)\n"
            "    send_timeout_ms       how long a sender waits for one chunk to get past\n"
            "                          back-pressure before it gives the frame up (default\n"
            "                          100); a frame that keeps moving is never given up\n"
            "    crc32c                add and check a CRC32C per chunk (default false; both\n"
            "                          ends must agree)\n"
            "    dest_stream_id_range  \"LO-HI\" or [LO, HI]: ids for receive mappings with\n"
            "                          dest_stream_id = 0\n"
            "    metadata_channel      aeron:udp channel of forwarded metadata and TraceLinkSets\n"
            "                          (needed by the two keys below)\n"
            "    metadata_stream_id    its stream id\n"
            "    forward_metadata      forward DataSourceAnnounce/DataSourceMeta (default false)\n"
            "    forward_tracelink     forward TraceLinkSet (default false)\n"
            "    forward_qos           forward QosProducer/QosConsumer on the control channel\n"
            "                          (default false)\n"
            "    forward_progress      receive: publish FrameProgress for the destination\n"
            "                          stream while a frame is rebuilt, never past the bytes\n"
            "                          written in order from offset 0 (default false)\n"
            "    dest_busy_timeout_ms  how long a receiver waits for a destination stream held\n"
            "                          by another producer before it remaps or stops the\n"
            "                          mapping (default 10000; keep it above the driver's lease\n"
            "                          expiry)\n"
            "\n"
            "    [[mappings]]\n"
            "    direction             \"send\" or \"receive\"\n"
            "    source_stream_id      the stream on the sending host\n"
            "    dest_stream_id        receive: the stream produced here (0: from the range)\n"
            "    metadata_stream_id    receive: the stream id forwarded metadata and\n"
            "                          TraceLinkSets carry here (default dest_stream_id)\n"
            "\n"
            "SIGNALS\n"
            "    SIGINT, SIGTERM  close every mapping (detaching from the driver), remove the\n"
            "                     status file and exit 0\n"
            "\n"
            "EXIT STATUS\n"
            "    0  clean exit (or --check passed)\n"
            "    1  runtime failure (a mapping could not be opened)\n"
            "    2  usage or configuration error\n"
            "\n"
            "FILES\n"
            "    <base_dir>/tensorpool-<user>/<namespace>/bridge/<instance_id>.status\n"
            "        the counters, rewritten every second while the bridge runs\n"
            "\n"
            "EXAMPLES\n"
            "    Host A sends streams 10001 and 10002 to host B (10.0.0.2):\n"
            "        [bridge]\n"
            "        payload_channel = \"aeron:udp?endpoint=10.0.0.2:40456|mtu=8192\"\n"
            "        control_channel = \"aeron:udp?endpoint=10.0.0.2:40457\"\n"
            "        mtu_bytes = 8192\n"
            "        [[mappings]]\n"
            "        direction = \"send\"\n"
            "        source_stream_id = 10001\n"
            "\n"
            "    Host B: the same [bridge] table, and direction = \"receive\" with\n"
            "    dest_stream_id = 20001.\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), tp-driver(1), tp-stat(1), tensorpool(7)\n");
}

static void print_config(const tp_bridge_config_t *c)
{
    printf("bridge.instance_id = \"%s\"\n", c->instance_id);
    printf("bridge.payload_channel = \"%s\" (stream %d)\n", c->payload_channel, c->payload_stream_id);
    printf("bridge.control_channel = \"%s\" (stream %d)\n", c->control_channel, c->control_stream_id);
    printf("bridge.mtu_bytes = %u (chunk payload %u bytes)\n", c->mtu_bytes, tp_bridge_config_chunk_unit(c));
    printf("bridge.assembly_timeout_ms = %u, send_timeout_ms = %u, crc32c = %s\n", c->assembly_timeout_ms,
           c->send_timeout_ms, c->crc32c ? "true" : "false");
    if (c->metadata_channel[0] != '\0')
        printf("bridge.metadata_channel = \"%s\" (stream %d)\n", c->metadata_channel, c->metadata_stream_id);
    printf("bridge.forward_metadata = %s, forward_tracelink = %s, forward_qos = %s, forward_progress = %s\n",
           c->forward_metadata ? "true" : "false", c->forward_tracelink ? "true" : "false",
           c->forward_qos ? "true" : "false", c->forward_progress ? "true" : "false");
    printf("bridge.dest_busy_timeout_ms = %u\n", c->dest_busy_timeout_ms);
    if (c->dest_range_hi != 0)
        printf("bridge.dest_stream_id_range = %u-%u\n", c->dest_range_lo, c->dest_range_hi);
    for (unsigned i = 0; i < c->nmappings; i++) {
        const tp_bridge_mapping_t *m = &c->mappings[i];
        if (m->direction == TP_BRIDGE_SEND)
            printf("mapping %u: send %u\n", i, m->source_stream_id);
        else
            printf("mapping %u: receive %u -> %u%s\n", i, m->source_stream_id, m->dest_stream_id,
                   m->dest_stream_id == 0 ? " (from the range)" : "");
    }
}

static void on_event(void *clientd, const char *msg)
{
    fprintf(stderr, "tp bridge: %s: %s\n", (const char *)clientd, msg);
}

int tp_cmd_bridge(int argc, char **argv)
{
    const char *file = NULL, *dir = NULL, *ns = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            file = argv[++i];
        } else if ((strcmp(a, "-d") == 0 || strcmp(a, "--dir") == 0) && i + 1 < argc) {
            dir = argv[++i];
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0) && i + 1 < argc) {
            ns = argv[++i];
        } else if (strcmp(a, "--check") == 0) {
            check = 1;
        } else {
            fprintf(stderr, "tp bridge: unknown argument '%s' (see tp bridge --help)\n", a);
            return 2;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "tp bridge: -c FILE is required (see tp bridge --help)\n");
        return 2;
    }
    tp_bridge_config_t cfg;
    tp_bridge_config_init(&cfg);
    if (tp_bridge_config_load_file(&cfg, file) != 0 || tp_bridge_config_validate(&cfg) != 0) {
        fprintf(stderr, "tp bridge: %s\n", tp_errmsg());
        return 2;
    }
    tp_client_context_t ctx;
    tp_client_context_init(&ctx);
    const int bad = tp_app_client_dir("bridge", &ctx, dir, ns, false);
    if (bad != 0) return bad;
    if (check) {
        print_config(&cfg);
        printf("configuration ok\n");
        return 0;
    }
    char status_dir[4096];
    if (tp_bridge_status_dir(ctx.base_dir, ctx.ns, status_dir, sizeof status_dir) != 0) {
        fprintf(stderr, "tp bridge: bad directory or namespace\n");
        return 2;
    }
    tp_app_catch_stop_signals(false);
    cfg.on_event = on_event;
    cfg.event_clientd = cfg.instance_id;
    tp_bridge_t *b = NULL;
    if (tp_bridge_open(&b, &ctx, &cfg) != 0) {
        fprintf(stderr, "tp bridge: %s\n", tp_errmsg());
        return 1;
    }
    fprintf(stderr, "tp bridge: %s running %u mapping(s) on %s (namespace %s)\n", cfg.instance_id, cfg.nmappings,
            ctx.base_dir, ctx.ns);
    int64_t next_status = 0;
    while (!tp_app_stop) {
        const int64_t now = tp_clock_monotonic_ns();
        const int work = tp_bridge_do_work(b, now);
        if (now >= next_status) {
            (void)tp_bridge_status_write(status_dir, &cfg, b);
            next_status = now + 1000000000;
        }
        if (work <= 0) {
            const struct timespec ts = {0, 100000}; /* idle: 100 us */
            nanosleep(&ts, NULL);
        }
    }
    for (unsigned i = 0; i < cfg.nmappings; i++) {
        tp_bridge_counters_t n;
        tp_bridge_counters(b, i, &n);
        uint64_t drops = 0;
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++)
            drops += n.drops[k];
        if (n.direction == TP_BRIDGE_SEND)
            fprintf(stderr, "tp bridge: send %u: %" PRIu64 " frames, %" PRIu64 " chunks, %" PRIu64 " aborted\n",
                    n.source_stream_id, n.frames_sent, n.chunks_sent, n.send_aborted);
        else
            fprintf(stderr, "tp bridge: receive %u -> %u: %" PRIu64 " frames rebuilt, %" PRIu64 " dropped\n",
                    n.source_stream_id, n.dest_stream_id, n.frames_rebuilt, drops);
    }
    tp_bridge_close(b);
    tp_bridge_status_remove(status_dir, &cfg);
    return 0;
}
