/* tp stat: live view of a running directory, built on tp_monitor. */
#include "client_dir.h"
#include "bridge_status.h"
#include "commands.h"
#include "stat_json.h"
#include "stat_meta.h"
#include "stop_signal.h"

#include "tensorpool/clock.h"
#include "tensorpool/discovery.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/json_writer.h"
#include "tensorpool/merge_map.h"
#include "tensorpool/monitor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp stat - watch a running tensorpool directory\n"
            "\n"
            "SYNOPSIS\n"
            "    tp stat [DIR] [--once] [--json] [--interval SECONDS] [--namespace NS]\n"
            "    tp stat [DIR] --meta STREAM [--json] [--wait SECONDS] [--namespace NS]\n"
            "\n"
            "DESCRIPTION\n"
            "    Shows the streams, producers and consumers, epochs, frame rates, drops and\n"
            "    JoinBarrier states of the system whose SHM and transport live under DIR (the\n"
            "    shm.base_dir; default $TP_DIR, else /dev/shm/tensorpool), refreshed every interval.\n"
            "    It only listens: it subscribes to the control (1000), descriptor (1100), QoS\n"
            "    (1200) and metadata (1300) streams (or the DRIVER_*_STREAM_ID / TP_METADATA_STREAM_ID\n"
            "    overrides) and reads each stream's header-ring superblock; it never attaches,\n"
            "    sends or maps payloads (it creates the empty transport directory if missing, as\n"
            "    any subscriber does). Announces, keepalives, QoS and MergeMaps repeat about\n"
            "    once per second, so the first picture is complete after about a second; the\n"
            "    first refresh comes after max(interval, 1.5 s).\n"
            "\n"
            "    Per stream: id, producer name and metadata version (META: DataSourceAnnounce;\n"
            "    0 = the producer set no metadata), epoch (driver announce),\n"
            "    frames per second and last seq (FrameDescriptors on the shared descriptor stream;\n"
            "    per-consumer descriptor streams are not seen), producer and consumer leases seen\n"
            "    in keepalives in the last 3 s, the producer's process (PID: the owner of the\n"
            "    transport log its keepalives arrive in), consumer drops (QosConsumer gap + late),\n"
            "    and the superblock: pid of the process that created the SHM files (the driver,\n"
            "    for clients that attach through one) and whether it is alive, age of the\n"
            "    producer's activity timestamp.\n"
            "\n"
            "    Per join (output stream of a MergeMap): kind, epoch, rules, and a state derived\n"
            "    from outside: flowing (every input delivered frames in the last 3 s), blocked\n"
            "    (the silent inputs are listed), waiting-map (a stage requested the map and no\n"
            "    announce was seen; also when a stage asks for the epoch after the announced one:\n"
            "    it dropped its map, e.g. because an input moved to a new epoch, and waits for\n"
            "    the authority's new one). Rules come from the first publication seen announcing\n"
            "    that output; while another one announces it too the row says 'contested' with\n"
            "    both pids (the stages keep the authority they pinned or were configured with;\n"
            "    tp stat cannot see which). For sequence maps, 'ready through' is the newest output\n"
            "    every input has reached. Join stages publish nothing else, so per-stage output\n"
            "    counts are not shown (tp demo prints its own).\n"
            "\n"
            "OPTIONS\n"
            "    --once              print one snapshot and exit\n"
            "                        On a terminal the view redraws in place on the alternate\n"
            "                        screen and restores the screen on exit (SIGINT, SIGTERM);\n"
            "                        piped, with --once or with --json it prints line by line.\n"
            "    --json              one JSON object per refresh, one per line: snake_case keys,\n"
            "                        time_unix_ns (wall clock) and time_mono_ns, epochs, seq and\n"
            "                        lease ids as decimal strings; every key in docs/json.md\n"
            "    --interval SECONDS  refresh period, 0.1 .. 3600 (default 1)\n"
            "    --namespace NS      shm.namespace (default $SHM_NAMESPACE, else default)\n"
            "    --discovery         text view: after each refresh also ask the deployment's\n"
            "                        discovery provider (tp discovery serve, tp driver\n"
            "                        --discovery) and list each stream's name, tags, producer\n"
            "                        and epoch (\"discovery: no answer\" when none runs)\n"
            "    --meta STREAM       print the metadata of stream STREAM once and exit: its\n"
            "                        DataSourceAnnounce (name, summary, producer, epoch,\n"
            "                        meta_version), its DataSourceMeta attributes (key, format,\n"
            "                        value; binary values in hex) and its meta blob (type,\n"
            "                        length, CRC32C), as a consumer receives them from the\n"
            "                        metadata stream. Waits until the announce and the\n"
            "                        attributes of the announced version are in (and a blob,\n"
            "                        or one repeat period for one), at most --wait seconds.\n"
            "                        With --json: one object, keys in docs/json.md.\n"
            "    --wait SECONDS      with --meta: how long to wait, 0.1 .. 3600 (default 3)\n"
            "    -h, --help          this text\n"
            "\n"
            "EXIT STATUS\n"
            "    0 stopped by --once or a signal, or --meta printed the metadata; 1 runtime\n"
            "    failure, or --meta saw no DataSourceAnnounce of STREAM in time; 2 bad option\n"
            "    or directory\n"
            "\n"
            "ENVIRONMENT\n"
            "    SHM_BASE_DIR, TP_DIR   DIR when none is given (SHM_BASE_DIR wins)\n"
            "    SHM_NAMESPACE          the namespace when --namespace is not given\n"
            "\n"
            "    DRIVER_CONTROL_STREAM_ID, DRIVER_DESCRIPTOR_STREAM_ID, DRIVER_QOS_STREAM_ID and\n"
            "    TP_METADATA_STREAM_ID choose other streams to listen to than the defaults.\n"
            "\n"
            "EXAMPLES\n"
            "    Watch the demo from another terminal:\n"
            "        tp demo --duration 60 --dir /dev/shm/tp-live &\n"
            "        tp stat /dev/shm/tp-live\n"
            "\n"
            "    One snapshot for a script:\n"
            "        tp stat --once --json /dev/shm/tp-live\n"
            "\n"
            "    The demo's left camera: its name, attributes and intrinsics blob:\n"
            "        tp stat --meta 1 /dev/shm/tp-live\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), tp-demo(1), tp-driver(1), tp-inspect(1), tensorpool(7)\n");
}

static double age_ms(int64_t now, int64_t then) { return then == 0 ? -1.0 : (double)(now - then) / 1e6; }

static void live_clients(const tp_monitor_t *m, uint32_t stream, int64_t now, int64_t window, uint32_t *producers,
                         uint32_t *consumers, uint64_t *drops, uint32_t *producer_id, int32_t *producer_pid)
{
    *producer_pid = 0;
    *producers = *consumers = 0;
    *drops = 0;
    for (uint32_t i = 0; i < tp_monitor_client_count(m); i++) {
        const tp_monitor_client_t *c = tp_monitor_client(m, i);
        if (c->stream_id != stream) continue;
        if (c->has_qos) *drops += c->drops_gap + c->drops_late;
        if (c->revoked || c->lease_id == 0 || now - c->last_seen_ns > window) continue;
        if (c->role == 1) {
            (*producers)++;
            *producer_id = c->client_id;
            *producer_pid = c->pid;
        } else if (c->role == 2) {
            (*consumers)++;
        }
    }
}

/* This process's Aeron counters by name (tensorpool/ipc.h), for both views;
 * 0 in a build without Aeron. */
typedef struct {
    const char *name;
    uint64_t value;
} aeron_count_t;
enum { AERON_NCOUNTS = 10 };

static int aeron_counts(aeron_count_t out[AERON_NCOUNTS])
{
    tp_ipc_aeron_counters_t c;
    if (tp_ipc_aeron_counters(&c) != 0) return 0;
    const aeron_count_t v[AERON_NCOUNTS] = {
        {"not_connected", c.not_connected},       {"back_pressured", c.back_pressured},
        {"admin_action", c.admin_action},         {"closed", c.closed},
        {"max_position_exceeded", c.max_position_exceeded}, {"offer_errors", c.offer_errors},
        {"client_errors", c.client_errors},       {"driver_timeouts", c.driver_timeouts},
        {"images_unavailable", c.images_unavailable}, {"messages_too_long", c.messages_too_long},
    };
    memcpy(out, v, sizeof v);
    return 1;
}

static const char *kind_name(uint8_t kind) { return kind == TP_MERGE_KIND_SEQUENCE ? "sequence" : "timestamp"; }

static void rule_text(const tp_monitor_join_t *j, const tp_monitor_rule_t *r, char *buf, size_t cap)
{
    if (j->kind == TP_MERGE_KIND_SEQUENCE) {
        if (r->rule_type == TP_MERGE_RULE_OFFSET)
            snprintf(buf, cap, "%u[%+lld]", (unsigned)r->stream_id, (long long)r->offset);
        else
            snprintf(buf, cap, "%u[window %llu]", (unsigned)r->stream_id, (unsigned long long)r->window);
    } else {
        const char *src = r->timestamp_source == 2 ? "slot" : "desc";
        if (r->rule_type == TP_MERGE_RULE_OFFSET)
            snprintf(buf, cap, "%u[%+.1fms %s]", (unsigned)r->stream_id, (double)r->offset / 1e6, src);
        else
            snprintf(buf, cap, "%u[window %.1fms %s]", (unsigned)r->stream_id, (double)r->window / 1e6, src);
    }
}

/* What the monitor refused to believe (docs/threat-model.md): one line,
 * only when there is something to say. */
static void print_refused(const tp_monitor_t *m, const tp_monitor_stats_t *st)
{
    uint64_t other = 0, announces = 0;
    for (uint32_t i = 0; i < tp_monitor_stream_count(m); i++) {
        other += tp_monitor_stream(m, i)->desc_other_epoch;
        announces += tp_monitor_stream(m, i)->refused_announces;
    }
    if (st->refused_foreign == 0 && other == 0 && announces == 0) return;
    printf("refused: %llu messages from other users' logs, %llu descriptors not of the announced epoch, "
           "%llu announces not from the announcing publication\n",
           (unsigned long long)st->refused_foreign, (unsigned long long)other, (unsigned long long)announces);
}

#define MAX_BRIDGE_ROWS 64

/* Running bridges of this directory (their status files, bridge_status.h). */
static unsigned bridge_rows(const char *dir, const char *ns, tp_bridge_status_row_t *rows)
{
    char sdir[4096];
    if (tp_bridge_status_dir(dir, ns, sdir, sizeof sdir) != 0) return 0;
    return tp_bridge_status_read(sdir, rows, MAX_BRIDGE_ROWS);
}

static void print_bridges(const char *dir, const char *ns)
{
    static tp_bridge_status_row_t rows[MAX_BRIDGE_ROWS];
    const unsigned n = bridge_rows(dir, ns, rows);
    if (n == 0) return;
    printf("%-12s %-7s %13s %8s %10s %10s  %s\n", "BRIDGE", "DIR", "STREAMS", "PID", "FRAMES", "CHUNKS", "DROPS");
    for (unsigned i = 0; i < n; i++) {
        const tp_bridge_status_row_t *r = &rows[i];
        const bool send = r->n.direction == TP_BRIDGE_SEND;
        char streams[32], pid[24], drops[512] = "";
        if (send) snprintf(streams, sizeof streams, "%u", (unsigned)r->n.source_stream_id);
        else snprintf(streams, sizeof streams, "%u->%u", (unsigned)r->n.source_stream_id, (unsigned)r->n.dest_stream_id);
        snprintf(pid, sizeof pid, "%d%s", r->pid, r->pid_alive ? "" : " DEAD");
        size_t off = 0;
        if (send && r->n.send_aborted)
            off += (size_t)snprintf(drops, sizeof drops, "aborted %llu", (unsigned long long)r->n.send_aborted);
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT_ && off < sizeof drops - 1; k++)
            if (r->n.drops[k])
                off += (size_t)snprintf(drops + off, sizeof drops - off, "%s%s %llu", off ? ", " : "",
                                        tp_bridge_drop_name((tp_bridge_drop_t)k), (unsigned long long)r->n.drops[k]);
        if (!send && r->n.dest_failed && off < sizeof drops - 1)
            off += (size_t)snprintf(drops + off, sizeof drops - off, "%sSTOPPED: destination held", off ? ", " : "");
        else if (!send && r->n.dest_remaps && off < sizeof drops - 1)
            off += (size_t)snprintf(drops + off, sizeof drops - off, "%sremapped %llu", off ? ", " : "",
                                    (unsigned long long)r->n.dest_remaps);
        if (!send && r->n.forward_dropped && off < sizeof drops - 1)
            off += (size_t)snprintf(drops + off, sizeof drops - off, "%sforward %llu", off ? ", " : "",
                                    (unsigned long long)r->n.forward_dropped);
        printf("%-12s %-7s %13s %8s %10llu %10llu  %s\n", r->instance, send ? "send" : "receive", streams, pid,
               (unsigned long long)(send ? r->n.frames_sent : r->n.frames_rebuilt),
               (unsigned long long)(send ? r->n.chunks_sent : r->n.chunks_received), off ? drops : "-");
    }
}

static void json_bridges(tp_json_t *j, const char *dir, const char *ns)
{
    static tp_bridge_status_row_t rows[MAX_BRIDGE_ROWS];
    const unsigned n = bridge_rows(dir, ns, rows);
    tp_json_key(j, "bridges");
    tp_json_begin_array(j);
    for (unsigned i = 0; i < n; i++) {
        const tp_bridge_status_row_t *r = &rows[i];
        tp_json_begin_object(j);
        tp_json_key(j, "instance_id");
        tp_json_cstring(j, r->instance);
        tp_json_key(j, "direction");
        tp_json_cstring(j, r->n.direction == TP_BRIDGE_SEND ? "send" : "receive");
        tp_json_key(j, "pid");
        tp_json_i64(j, r->pid);
        tp_json_key(j, "pid_alive");
        tp_json_bool(j, r->pid_alive != 0);
        tp_json_key(j, "source_stream_id");
        tp_json_u64(j, r->n.source_stream_id);
        tp_json_key(j, "dest_stream_id");
        tp_json_u64(j, r->n.dest_stream_id);
        const struct { const char *k; uint64_t v; } f[] = {
            {"frames_sent", r->n.frames_sent}, {"chunks_sent", r->n.chunks_sent}, {"bytes_sent", r->n.bytes_sent},
            {"send_aborted", r->n.send_aborted}, {"announces_forwarded", r->n.announces_forwarded},
            {"chunks_received", r->n.chunks_received}, {"frames_rebuilt", r->n.frames_rebuilt},
            {"duplicates", r->n.duplicates}, {"local_epoch", r->n.local_epoch}, {"source_epoch", r->n.source_epoch},
            {"metadata_forwarded", r->n.metadata_forwarded}, {"tracelinks_forwarded", r->n.tracelinks_forwarded},
            {"metadata_republished", r->n.metadata_republished},
            {"tracelinks_republished", r->n.tracelinks_republished}, {"forward_dropped", r->n.forward_dropped},
            {"qos_forwarded", r->n.qos_forwarded}, {"qos_republished", r->n.qos_republished},
            {"dest_remaps", r->n.dest_remaps}, {"dest_failed", r->n.dest_failed},
        };
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            tp_json_key(j, f[k].k);
            tp_json_u64(j, f[k].v);
        }
        tp_json_key(j, "drops");
        tp_json_begin_object(j);
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT_; k++) {
            tp_json_key(j, tp_bridge_drop_name((tp_bridge_drop_t)k));
            tp_json_u64(j, r->n.drops[k]);
        }
        tp_json_end_object(j);
        tp_json_end_object(j);
    }
    tp_json_end_array(j);
}

static void print_text(const tp_monitor_t *m, const char *dir, const char *ns, const char *channel, int64_t now,
                       int64_t window)
{
    char when[32];
    const time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%H:%M:%S", localtime_r(&t, &tm));
    printf("tp stat %s (namespace %s) at %s\n", dir, ns, when);
    printf("%7s %-12s %5s %15s %8s %9s %9s %6s %8s %5s %6s  %s\n", "STREAM", "NAME", "META", "EPOCH", "RATE/s", "FRAMES",
           "LAST-SEQ", "PROD", "PID", "CONS", "DROPS", "SHM");
    for (uint32_t i = 0; i < tp_monitor_stream_count(m); i++) {
        const tp_monitor_stream_t *s = tp_monitor_stream(m, i);
        uint32_t np, nc, pid_client = 0;
        int32_t ppid;
        uint64_t drops;
        live_clients(m, s->stream_id, now, window, &np, &nc, &drops, &pid_client, &ppid);
        char seq[24] = "-", shm[128];
        if (s->last_seq != UINT64_MAX) snprintf(seq, sizeof seq, "%llu", (unsigned long long)s->last_seq);
        if (s->sb_ok)
            snprintf(shm, sizeof shm, "pid %llu %s, activity %.0f ms ago", (unsigned long long)s->sb_pid,
                     s->sb_pid_alive ? "alive" : "DEAD",
                     (double)((uint64_t)now > s->sb_activity_ns ? (uint64_t)now - s->sb_activity_ns : 0) / 1e6);
        else
            snprintf(shm, sizeof shm, "%s", s->sb_error[0] ? s->sb_error : "-");
        char pid[16] = "-";
        if (np > 0 && ppid > 0) snprintf(pid, sizeof pid, "%d", (int)ppid);
        printf("%7u %-12s %5u %15llu %8.1f %9llu %9s %6u %8s %5u %6llu  %s\n", (unsigned)s->stream_id,
               s->name[0] ? s->name : "-", (unsigned)s->meta_version, (unsigned long long)s->epoch, s->rate_hz, (unsigned long long)s->frames,
               seq, np, pid, nc, (unsigned long long)drops, shm);
    }
    if (tp_monitor_stream_count(m) == 0) printf("    (no stream seen yet: is a driver running on this directory?)\n");
    if (tp_monitor_join_count(m) > 0)
        printf("%-10s %5s %6s %-12s %-14s %s\n", "JOIN", "OUT", "EPOCH", "STATE", "READY-THROUGH", "RULES");
    for (uint32_t i = 0; i < tp_monitor_join_count(m); i++) {
        const tp_monitor_join_t *j = tp_monitor_join(m, i);
        char rules[512] = "", through[24] = "-", state[128];
        size_t off = 0;
        for (uint32_t r = 0; r < j->rule_count && off < sizeof rules - 1; r++) {
            char one[64];
            rule_text(j, &j->rules[r], one, sizeof one);
            off += (size_t)snprintf(rules + off, sizeof rules - off, "%s%s", r ? " + " : "", one);
        }
        if (j->kind == TP_MERGE_KIND_TIMESTAMP && j->announced && off < sizeof rules - 1)
            snprintf(rules + off, sizeof rules - off, ", lateness %.1fms",
                     j->lateness_ns == TP_MERGE_NULL_U64 ? 0.0 : (double)j->lateness_ns / 1e6);
        if (j->contested && off < sizeof rules - 1) /* two claimants: do not pass one off as what the stages use */
            off += (size_t)snprintf(rules + off, sizeof rules - off,
                                    "  [contested: rules of pid %d; %llu announces from pid %d refused]",
                                    (int)j->authority_pid, (unsigned long long)j->refused, (int)j->other_pid);
        if (j->ready_through != UINT64_MAX)
            snprintf(through, sizeof through, "%llu", (unsigned long long)j->ready_through);
        snprintf(state, sizeof state, "%s", tp_monitor_join_state_name(j->state));
        for (uint32_t k = 0; k < j->silent_count; k++) {
            const size_t l = strlen(state);
            snprintf(state + l, sizeof state - l, "%s%u", k ? "," : ":", (unsigned)j->silent[k]);
        }
        printf("%-10s %5u %6llu %-12s %-14s %s\n", kind_name(j->kind), (unsigned)j->out_stream_id,
               (unsigned long long)j->epoch, state, through, rules);
    }
    tp_monitor_stats_t st;
    tp_monitor_stats(m, &st);
    printf("transport: %llu messages, %llu lost, %llu malformed%s\n", (unsigned long long)st.messages,
           (unsigned long long)st.lost, (unsigned long long)st.malformed,
           st.driver_shutdowns ? ", driver shut down" : "");
    print_refused(m, &st);
    print_bridges(dir, ns);
    aeron_count_t ac[AERON_NCOUNTS];
    if (strncmp(channel, "aeron:", 6) == 0 && aeron_counts(ac)) {
        printf("aeron (this process):");
        for (int i = 0; i < AERON_NCOUNTS; i++) printf("%s %s %llu", i ? "," : "", ac[i].name, (unsigned long long)ac[i].value);
        printf("\n");
    }
    printf("\n");
}

void tp_stat_json(tp_json_t *out, const tp_monitor_t *m, const char *dir, const char *ns, const char *channel,
                  int64_t now, int64_t window)
{
    tp_json_t j = *out; /* the caller's writer, inside its object; handed back below */
    tp_json_key(&j, "time_unix_ns"); /* wall clock; ages below are from the monotonic one */
    tp_json_i64_string(&j, tp_clock_realtime_ns());
    tp_json_key(&j, "time_mono_ns");
    tp_json_i64_string(&j, now);
    tp_json_key(&j, "dir");
    tp_json_cstring(&j, dir);
    tp_json_key(&j, "namespace");
    tp_json_cstring(&j, ns);
    tp_json_key(&j, "streams");
    tp_json_begin_array(&j);
    for (uint32_t i = 0; i < tp_monitor_stream_count(m); i++) {
        const tp_monitor_stream_t *s = tp_monitor_stream(m, i);
        uint32_t np, nc, pid_client = 0;
        int32_t ppid;
        uint64_t drops;
        live_clients(m, s->stream_id, now, window, &np, &nc, &drops, &pid_client, &ppid);
        tp_json_begin_object(&j);
        tp_json_key(&j, "stream_id");
        tp_json_u64(&j, s->stream_id);
        tp_json_key(&j, "name");
        tp_json_cstring(&j, s->name);
        tp_json_key(&j, "announced");
        tp_json_bool(&j, s->announced != 0);
        tp_json_key(&j, "meta_version");
        tp_json_u64(&j, s->meta_version);
        tp_json_key(&j, "epoch");
        tp_json_u64_string(&j, s->epoch);
        tp_json_key(&j, "announce_age_ms");
        tp_json_double(&j, age_ms(now, s->last_announce_ns));
        tp_json_key(&j, "header_nslots");
        tp_json_u64(&j, s->header_nslots);
        tp_json_key(&j, "stride_bytes");
        tp_json_u64(&j, s->stride_bytes);
        tp_json_key(&j, "rate_hz");
        tp_json_double(&j, s->rate_hz);
        tp_json_key(&j, "frames");
        tp_json_u64(&j, s->frames);
        tp_json_key(&j, "desc_other_epoch");
        tp_json_u64(&j, s->desc_other_epoch);
        tp_json_key(&j, "refused_announces");
        tp_json_u64(&j, s->refused_announces);
        tp_json_key(&j, "last_seq");
        if (s->last_seq == UINT64_MAX)
            tp_json_null(&j);
        else
            tp_json_u64_string(&j, s->last_seq);
        tp_json_key(&j, "producer_qos_seq");
        if (s->has_producer_qos)
            tp_json_u64_string(&j, s->producer_seq);
        else
            tp_json_null(&j);
        tp_json_key(&j, "producers");
        tp_json_u64(&j, np);
        tp_json_key(&j, "producer_pid");
        if (np > 0 && ppid > 0)
            tp_json_u64(&j, (uint64_t)ppid);
        else
            tp_json_null(&j);
        tp_json_key(&j, "consumers");
        tp_json_u64(&j, nc);
        tp_json_key(&j, "consumer_drops");
        tp_json_u64(&j, drops);
        tp_json_key(&j, "superblock");
        tp_json_begin_object(&j);
        tp_json_key(&j, "ok");
        tp_json_bool(&j, s->sb_ok != 0);
        if (s->sb_ok) {
            tp_json_key(&j, "epoch");
            tp_json_u64_string(&j, s->sb_epoch);
            tp_json_key(&j, "pid");
            tp_json_u64(&j, s->sb_pid);
            tp_json_key(&j, "pid_alive");
            tp_json_bool(&j, s->sb_pid_alive != 0);
            tp_json_key(&j, "activity_age_ms");
            tp_json_double(&j, (double)((uint64_t)now > s->sb_activity_ns ? (uint64_t)now - s->sb_activity_ns : 0) / 1e6);
        } else {
            tp_json_key(&j, "error");
            tp_json_cstring(&j, s->sb_error);
        }
        tp_json_end_object(&j);
        tp_json_end_object(&j);
    }
    tp_json_end_array(&j);
    tp_json_key(&j, "clients");
    tp_json_begin_array(&j);
    for (uint32_t i = 0; i < tp_monitor_client_count(m); i++) {
        const tp_monitor_client_t *c = tp_monitor_client(m, i);
        tp_json_begin_object(&j);
        tp_json_key(&j, "stream_id");
        tp_json_u64(&j, c->stream_id);
        tp_json_key(&j, "client_id");
        tp_json_u64(&j, c->client_id);
        tp_json_key(&j, "role");
        tp_json_cstring(&j, c->role == 1 ? "producer" : c->role == 2 ? "consumer" : "unknown");
        tp_json_key(&j, "lease_id");
        tp_json_u64_string(&j, c->lease_id);
        tp_json_key(&j, "pid");
        if (c->pid > 0)
            tp_json_u64(&j, (uint64_t)c->pid);
        else
            tp_json_null(&j);
        tp_json_key(&j, "live");
        tp_json_bool(&j, !c->revoked && c->lease_id != 0 && now - c->last_seen_ns <= window);
        tp_json_key(&j, "revoked");
        tp_json_bool(&j, c->revoked != 0);
        if (c->has_qos) {
            tp_json_key(&j, "last_seq_seen");
            tp_json_u64_string(&j, c->last_seq_seen);
            tp_json_key(&j, "drops_gap");
            tp_json_u64(&j, c->drops_gap);
            tp_json_key(&j, "drops_late");
            tp_json_u64(&j, c->drops_late);
        }
        tp_json_end_object(&j);
    }
    tp_json_end_array(&j);
    tp_json_key(&j, "joins");
    tp_json_begin_array(&j);
    for (uint32_t i = 0; i < tp_monitor_join_count(m); i++) {
        const tp_monitor_join_t *jn = tp_monitor_join(m, i);
        tp_json_begin_object(&j);
        tp_json_key(&j, "kind");
        tp_json_cstring(&j, kind_name(jn->kind));
        tp_json_key(&j, "out_stream_id");
        tp_json_u64(&j, jn->out_stream_id);
        tp_json_key(&j, "epoch");
        tp_json_u64_string(&j, jn->epoch);
        tp_json_key(&j, "state");
        tp_json_cstring(&j, tp_monitor_join_state_name(jn->state));
        tp_json_key(&j, "silent_inputs");
        tp_json_begin_array(&j);
        for (uint32_t k = 0; k < jn->silent_count; k++) tp_json_u64(&j, jn->silent[k]);
        tp_json_end_array(&j);
        tp_json_key(&j, "ready_through");
        if (jn->ready_through == UINT64_MAX)
            tp_json_null(&j);
        else
            tp_json_u64_string(&j, jn->ready_through);
        tp_json_key(&j, "announces");
        tp_json_u64(&j, jn->announces);
        tp_json_key(&j, "announce_age_ms");
        tp_json_double(&j, age_ms(now, jn->last_announce_ns));
        tp_json_key(&j, "requests");
        tp_json_u64(&j, jn->requests);
        tp_json_key(&j, "announces_refused");
        tp_json_u64(&j, jn->refused);
        tp_json_key(&j, "contested_by_pid");
        if (jn->contested)
            tp_json_u64(&j, (uint64_t)(uint32_t)jn->other_pid);
        else
            tp_json_null(&j);
        if (jn->kind == TP_MERGE_KIND_TIMESTAMP) {
            tp_json_key(&j, "lateness_ns");
            tp_json_u64(&j, jn->lateness_ns == TP_MERGE_NULL_U64 ? 0 : jn->lateness_ns);
        }
        tp_json_key(&j, "rules");
        tp_json_begin_array(&j);
        for (uint32_t r = 0; r < jn->rule_count; r++) {
            const tp_monitor_rule_t *rule = &jn->rules[r];
            tp_json_begin_object(&j);
            tp_json_key(&j, "stream_id");
            tp_json_u64(&j, rule->stream_id);
            tp_json_key(&j, "type");
            tp_json_cstring(&j, rule->rule_type == TP_MERGE_RULE_OFFSET ? "offset" : "window");
            if (rule->rule_type == TP_MERGE_RULE_OFFSET) {
                tp_json_key(&j, jn->kind == TP_MERGE_KIND_SEQUENCE ? "offset" : "offset_ns");
                tp_json_i64(&j, rule->offset);
            } else {
                tp_json_key(&j, jn->kind == TP_MERGE_KIND_SEQUENCE ? "window" : "window_ns");
                tp_json_u64(&j, rule->window);
            }
            if (jn->kind == TP_MERGE_KIND_TIMESTAMP) {
                tp_json_key(&j, "timestamp_source");
                tp_json_cstring(&j, rule->timestamp_source == 2 ? "slot_header" : "frame_descriptor");
            }
            tp_json_end_object(&j);
        }
        tp_json_end_array(&j);
        tp_json_end_object(&j);
    }
    tp_json_end_array(&j);
    json_bridges(&j, dir, ns);
    tp_monitor_stats_t st;
    tp_monitor_stats(m, &st);
    tp_json_key(&j, "transport");
    tp_json_begin_object(&j);
    tp_json_key(&j, "messages");
    tp_json_u64(&j, st.messages);
    tp_json_key(&j, "lost");
    tp_json_u64(&j, st.lost);
    tp_json_key(&j, "malformed");
    tp_json_u64(&j, st.malformed);
    tp_json_key(&j, "driver_shutdowns");
    tp_json_u64(&j, st.driver_shutdowns);
    tp_json_key(&j, "refused_foreign");
    tp_json_u64(&j, st.refused_foreign);
    tp_json_key(&j, "channel");
    tp_json_cstring(&j, channel);
    tp_json_key(&j, "aeron"); /* null: a build without Aeron */
    aeron_count_t ac[AERON_NCOUNTS];
    if (aeron_counts(ac)) {
        tp_json_begin_object(&j);
        for (int i = 0; i < AERON_NCOUNTS; i++) {
            tp_json_key(&j, ac[i].name);
            tp_json_u64(&j, ac[i].value);
        }
        tp_json_end_object(&j);
    } else {
        tp_json_null(&j);
    }
    tp_json_end_object(&j);
    *out = j;
}

static void print_json(const tp_monitor_t *m, const char *dir, const char *ns, const char *channel, int64_t now,
                       int64_t window)
{
    tp_json_t j;
    tp_json_init(&j, stdout);
    tp_json_begin_object(&j);
    tp_stat_json(&j, m, dir, ns, channel, now, window);
    tp_json_end_object(&j);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Names and tags of the streams, from a discovery provider (docs/spec/discovery.md). */
static void print_discovery(const tp_client_context_t *ctx)
{
    static tp_discovery_result_t r[64];
    const tp_discovery_query_t q = {.timeout_ns = 500000000};
    uint32_t n = 0;
    if (tp_discovery_query(ctx, &q, r, 64, &n) < 0) {
        printf("discovery: no answer (%s)\n", tp_errmsg());
        return;
    }
    printf("discovery: %u streams\n", n);
    for (uint32_t i = 0; i < n; i++) {
        printf("  stream %u  name %s  tags ", r[i].stream_id, r[i].data_source_name[0] ? r[i].data_source_name : "-");
        for (uint32_t t = 0; t < r[i].ntags; t++) printf("%s%s", t ? "," : "", r[i].tags[t]);
        printf("%s  producer %u  epoch %llu\n", r[i].ntags ? "" : "-", r[i].producer_id, (unsigned long long)r[i].epoch);
    }
}

/* Seconds in 0.1..3600 for option opt; 0, or -1 after saying why. */
static int parse_seconds(const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || end == text || !(v >= 0.1 && v <= 3600)) {
        fprintf(stderr, "tp stat: %s wants seconds in 0.1..3600, got '%s'\n", opt, text);
        return -1;
    }
    *out = v;
    return 0;
}

int tp_cmd_stat(int argc, char **argv)
{
    const char *dir = NULL, *ns = NULL;
    int once = 0, json = 0, discovery = 0;
    double interval = 1.0, wait = 3.0;
    long meta_stream = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "--once") == 0) {
            once = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--discovery") == 0) {
            discovery = 1;
        } else if (strcmp(a, "--interval") == 0 && i + 1 < argc) {
            if (parse_seconds(a, argv[++i], &interval) != 0) return 2;
        } else if (strcmp(a, "--meta") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            meta_stream = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || end == argv[i] || meta_stream < 1 || meta_stream > (long)UINT32_MAX) {
                fprintf(stderr, "tp stat: --meta wants a stream id in 1..4294967295, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--wait") == 0 && i + 1 < argc) {
            if (parse_seconds(a, argv[++i], &wait) != 0) return 2;
        } else if (strcmp(a, "--namespace") == 0 && i + 1 < argc) {
            ns = argv[++i];
        } else if (a[0] != '-' && dir == NULL) {
            dir = a;
        } else {
            fprintf(stderr, "tp stat: unknown or incomplete option '%s' (see tp stat --help)\n", a);
            return 2;
        }
    }
    tp_monitor_config_t cfg;
    tp_monitor_config_init(&cfg);
    const int bad = tp_app_client_dir("stat", &cfg.ctx, dir, ns, true);
    if (bad != 0) return bad;
    if (meta_stream > 0) return tp_stat_meta(&cfg.ctx, (uint32_t)meta_stream, json, (int64_t)(wait * 1e9));
    tp_monitor_t *m = NULL;
    if (tp_monitor_open(&m, &cfg) != 0) {
        fprintf(stderr, "tp stat: %s\n", tp_errmsg());
        return tp_errcode() == TP_ERR_INVALID_ARG ? 2 : 1;
    }
    tp_app_catch_stop_signals(false);
    const int64_t period = (int64_t)(interval * 1e9);
    const int64_t start = tp_clock_monotonic_ns();
    int64_t next = start + (period > 1500000000LL ? period : 1500000000LL);
    tp_monitor_poll(m, start, 0);
    tp_monitor_refresh(m, start); /* interval starts now */
    /* On a terminal the view redraws in place on the alternate screen (home,
     * then clear to the end of the screen), so nothing scrolls and the shell's
     * screen comes back on exit; piped, --json or --once it stays line-based. */
    const int live = !json && !once && isatty(STDOUT_FILENO);
    if (live) fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, hide cursor */
    while (!tp_app_stop) {
        const int64_t now = tp_clock_monotonic_ns();
        if (tp_monitor_poll(m, now, 0) > 0) continue;
        if (now >= next) {
            tp_monitor_refresh(m, now);
            if (live) fputs("\033[H\033[J", stdout);
            if (json)
                print_json(m, cfg.ctx.base_dir, cfg.ctx.ns, cfg.ctx.channel, now, cfg.live_window_ns);
            else
                print_text(m, cfg.ctx.base_dir, cfg.ctx.ns, cfg.ctx.channel, now, cfg.live_window_ns);
            if (discovery && !json) print_discovery(&cfg.ctx);
            fflush(stdout);
            if (once) break;
            next += period;
            if (next < now) next = now + period;
            continue;
        }
        const struct timespec ts = {0, 2000000}; /* 2 ms: cheap, and logs hold ~seconds of traffic */
        nanosleep(&ts, NULL);
    }
    if (live) fputs("\033[?25h\033[?1049l", stdout); /* cursor back, main screen back */
    fflush(stdout);
    tp_monitor_close(m);
    return 0;
}
