/* libFuzzer target for the JoinBarrierAgent's message handlers: the input is
 * a sequence of messages fed into one live agent (in-process, no driver,
 * attach_via_driver off), each followed by a duty cycle, with invariants
 * checked after every step.
 *
 * Input: records of [op u8][arg u8][len u8][len bytes]. op % 8 selects:
 *   0 raw control message (any bytes, any schema)
 *   1 raw descriptor message
 *   2 FrameDescriptor built from the bytes: input, epoch, seq, timestamp
 *   3 SequenceMergeMapAnnounce built from the bytes: epoch and rules
 *   4 SequenceMergeMapRequest / TimestampMergeMapRequest
 *   5 ShmLeaseRevoked of an input's producer
 *   6 ShmPoolAnnounce: raw bytes after a valid header (URIs, geometry)
 *   7 advance the clock by arg * 50 ms
 * arg % 4 names the publisher (transport id and pid) of control messages, so
 * authority pinning is exercised; arg & 0x40 makes a control or descriptor
 * message come from a transport log another uid owns.
 *
 * Invariants (abort on violation; ASan/UBSan catch the rest):
 *  - counters never decrease (unbound_rules is a gauge); the status is a
 *    known state with a reason;
 *  - an active map is for our output, within capacity, of epoch >= the one
 *    expected;
 *  - once a publication is pinned (and not silent past the timeout), an
 *    announce from another one changes neither the map nor the expected
 *    epoch, and is counted as refused;
 *  - a message from another uid's log changes nothing but its counter;
 *  - a descriptor never moves an input whose epoch the driver confirmed
 *    (announce or grant) to another epoch;
 *  - a SEQUENCE join whose bound input (with frames taken) moves to a newer
 *    epoch holds no map right after it (blocked until a newer one);
 *  - every output pairs each input only in the epoch that input had when
 *    the map in force was applied (first observation under it). */
#include "../src/join/join_agent_impl.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/merge_map.h"
#include "tensorpool/merge_map_codec.h"

#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT 10
#define NIN 2
static const uint32_t inputs[NIN] = {1, 2};

static char g_dir[64];

static uint64_t rd64(const uint8_t *p, size_t len, size_t off)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) v |= (uint64_t)(off + i < len ? p[off + i] : 0) << (8 * i);
    return v;
}

/* Outputs check: per input, the epoch seen under the current map. */
typedef struct harness_s {
    tp_join_agent_t *a;
    uint64_t applied;      /* announces_applied when epochs were recorded */
    int has_epoch[NIN];
    uint64_t epoch[NIN];
} harness_t;

static void on_output(void *clientd, const tp_join_output_t *out)
{
    harness_t *h = clientd;
    tp_join_agent_stats_t st;
    tp_join_agent_stats(h->a, &st);
    if (st.announces_applied != h->applied) {
        h->applied = st.announces_applied;
        memset(h->has_epoch, 0, sizeof h->has_epoch);
    }
    if (out->out_stream_id != OUT || out->result == NULL) abort();
    for (uint32_t r = 0; r < out->input_count; r++) {
        const tp_join_input_t *ji = &out->inputs[r];
        for (int i = 0; i < NIN; i++) {
            if (ji->stream_id != inputs[i] || ji->frame_count == 0) continue;
            if (out->mode == TP_JOIN_MODE_SEQUENCE && h->has_epoch[i] && h->epoch[i] != ji->epoch) abort();
            h->has_epoch[i] = 1;
            h->epoch[i] = ji->epoch;
        }
    }
}

/* Every field but unbound_rules (a gauge of the active map) only grows. */
static void check_counters(const tp_join_agent_stats_t *before, const tp_join_agent_stats_t *after)
{
    const uint64_t *b = (const uint64_t *)before, *a = (const uint64_t *)after;
    const size_t gauge = offsetof(tp_join_agent_stats_t, unbound_rules) / sizeof(uint64_t);
    for (size_t i = 0; i < sizeof *before / sizeof(uint64_t); i++)
        if (i != gauge && a[i] < b[i]) abort();
}

static void check_state(const tp_join_agent_t *a)
{
    const tp_join_barrier_t *b = tp_join_agent_barrier(a);
    const tp_merge_map_t *m = tp_join_barrier_active_map(b);
    uint64_t want = 0;
    const int has_want = tp_join_barrier_expected_epoch(b, &want);
    if (m != NULL) {
        if (m->out_stream_id != OUT || m->rule_count == 0 || m->rule_count > a->capacity) abort();
        if (has_want && m->epoch < want) abort();
    }
    tp_join_agent_status_t st;
    tp_join_agent_status(a, &st);
    if (st.state != TP_JOIN_AGENT_FLOWING && st.state != TP_JOIN_AGENT_BLOCKED && st.state != TP_JOIN_AGENT_DEGRADED)
        abort();
    if (memchr(st.reason, '\0', sizeof st.reason) == NULL || st.reason[0] == '\0') abort();
    if (m == NULL && st.state != TP_JOIN_AGENT_BLOCKED) abort();
}

static long build_descriptor(uint8_t *buf, size_t cap, const uint8_t *p, size_t len, uint8_t arg)
{
    tp_control_frame_descriptor_enc_t e;
    if (tp_control_frame_descriptor_encode_begin(&e, buf, cap) != 0) return -1;
    tp_control_frame_descriptor_set_stream_id(&e, (arg & 4) ? (uint32_t)rd64(p, len, 0) : inputs[arg & 1]);
    tp_control_frame_descriptor_set_epoch(&e, 1 + (len > 0 ? p[0] % 4 : 0));
    tp_control_frame_descriptor_set_seq(&e, rd64(p, len, 1) % 64);
    tp_control_frame_descriptor_set_timestamp_ns(&e, rd64(p, len, 9));
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    return tp_control_frame_descriptor_encode_end(&e);
}

static long build_announce(uint8_t *buf, size_t cap, const uint8_t *p, size_t len, tp_merge_map_t *m)
{
    tp_merge_map_reset(m, len > 0 && p[0] == 0xff ? OUT + 1 : OUT, len > 1 ? p[1] % 4 : 1);
    const uint32_t n = len > 2 ? 1 + p[2] % 3 : 1;
    for (uint32_t r = 0; r < n; r++) {
        const size_t o = 3 + r * 3;
        tp_merge_rule_t rule;
        memset(&rule, 0, sizeof rule);
        rule.input_stream_id = o < len && p[o] >= 0xf0 ? 9 : inputs[r % NIN];
        rule.rule_type = o + 1 < len ? p[o + 1] % 3 : TP_MERGE_RULE_OFFSET; /* 2: invalid */
        const int8_t k = o + 2 < len ? (int8_t)p[o + 2] : 0;
        rule.offset = rule.rule_type == TP_MERGE_RULE_OFFSET ? k : TP_MERGE_NULL_OFFSET;
        rule.window = rule.rule_type == TP_MERGE_RULE_WINDOW ? (uint64_t)(k & 7) : TP_MERGE_NULL_U32;
        if (tp_merge_map_add_raw(m, &rule) != 0) break;
    }
    return tp_merge_announce_encode(m, 8, buf, cap);
}

static long build_revoke(uint8_t *buf, size_t cap, const uint8_t *p, size_t len, uint8_t arg)
{
    tp_driver_shm_lease_revoked_enc_t e;
    if (tp_driver_shm_lease_revoked_encode_begin(&e, buf, cap) != 0) return -1;
    tp_driver_shm_lease_revoked_set_timestamp_ns(&e, rd64(p, len, 0));
    tp_driver_shm_lease_revoked_set_lease_id(&e, rd64(p, len, 8));
    tp_driver_shm_lease_revoked_set_stream_id(&e, inputs[arg & 1]);
    tp_driver_shm_lease_revoked_set_client_id(&e, 7);
    tp_driver_shm_lease_revoked_set_role(&e, len > 16 ? p[16] % 3 : TP_DRIVER_ROLE_PRODUCER);
    tp_driver_shm_lease_revoked_set_reason(&e, len > 17 ? p[17] % 5 : TP_DRIVER_LEASE_REVOKE_REASON_EXPIRED);
    if (tp_driver_shm_lease_revoked_put_error_message(&e, "x", 1) != 0) return -1;
    return tp_driver_shm_lease_revoked_encode_end(&e);
}

/* A control message as `arg`'s publisher sends it, with the pinning check. */
static void feed_control(tp_join_agent_t *a, const uint8_t *buf, size_t len, uint8_t arg)
{
    const int foreign = (arg & 0x40) != 0;
    const tp_ipc_msg_info_t info = {.stream_id = 1000,
                                    .publisher_id = 100 + (arg % 4),
                                    .sequence = 0,
                                    .publisher_pid = (int32_t)getpid(), /* alive: only silence unpins */
                                    .publisher_uid = (uint32_t)geteuid() + (uint32_t)foreign};
    const tp_join_barrier_t *b = tp_join_agent_barrier(a);
    const int pinned_other = a->auth_pinned && a->auth_publisher_id != info.publisher_id &&
                             a->now - a->auth_last_ns <= a->cfg.authority_timeout_ns;
    const tp_merge_map_t *m0 = tp_join_barrier_active_map(b);
    const uint64_t map_epoch0 = m0 != NULL ? m0->epoch : UINT64_MAX;
    uint64_t want0 = 0, want1 = 0;
    const int has0 = tp_join_barrier_expected_epoch(b, &want0);
    tp_join_agent_stats_t st0, st1;
    tp_join_agent_stats(a, &st0);
    ja_on_control(a, buf, len, &info);
    tp_join_agent_stats(a, &st1);
    if (pinned_other && st1.announces_refused == st0.announces_refused + 1) {
        const tp_merge_map_t *m1 = tp_join_barrier_active_map(b);
        const int has1 = tp_join_barrier_expected_epoch(b, &want1);
        if ((m1 != NULL) != (m0 != NULL) || (m1 != NULL && m1->epoch != map_epoch0) || has1 != has0 ||
            want1 != want0 || st1.announces_applied != st0.announces_applied)
            abort();
    }
    if (pinned_other && st1.announces_applied != st0.announces_applied) abort(); /* never from another */
    if (foreign) { /* refused before anything is read */
        const tp_merge_map_t *m1 = tp_join_barrier_active_map(b);
        const int has1 = tp_join_barrier_expected_epoch(b, &want1);
        st0.control_foreign++;
        st0.duty_cycles = st1.duty_cycles;
        if (memcmp(&st0, &st1, sizeof st0) != 0 || (m1 != NULL ? m1->epoch : UINT64_MAX) != map_epoch0 ||
            has1 != has0 || want1 != want0)
            abort();
    }
}

/* A descriptor, with the epoch checks. */
static void feed_descriptor(tp_join_agent_t *a, const uint8_t *buf, size_t len, uint8_t arg)
{
    const int foreign = (arg & 0x40) != 0;
    tp_control_frame_descriptor_dec_t d;
    int change = 0;
    uint32_t idx = NO_INPUT;
    input_t before;
    memset(&before, 0, sizeof before);
    if (tp_control_frame_descriptor_decode(&d, buf, len) == 0) {
        idx = ja_input_find(a, tp_control_frame_descriptor_stream_id(&d));
        const tp_merge_map_t *m = tp_join_barrier_active_map(tp_join_agent_barrier(a));
        if (idx != NO_INPUT) before = a->inputs[idx];
        /* the provisional rule (no epoch from the driver yet): an input restart */
        if (idx != NO_INPUT && m != NULL && !foreign && before.has_epoch && !before.epoch_confirmed &&
            before.epoch_has_last && tp_control_frame_descriptor_epoch(&d) > before.epoch)
            for (uint32_t r = 0; r < m->rule_count; r++) change |= a->rule_input[r] == idx;
    }
    const tp_ipc_msg_info_t info = {.stream_id = 1100,
                                    .publisher_id = 7,
                                    .sequence = 0,
                                    .publisher_pid = 1,
                                    .publisher_uid = (uint32_t)geteuid() + (uint32_t)foreign};
    tp_join_agent_stats_t st0, st1;
    tp_join_agent_stats(a, &st0);
    ja_on_descriptor(a, buf, len, &info);
    tp_join_agent_stats(a, &st1);
    if (change && tp_join_barrier_has_map(tp_join_agent_barrier(a))) abort();
    if (idx == NO_INPUT) return;
    const input_t *in = &a->inputs[idx];
    if ((before.epoch_confirmed || foreign) && (in->epoch != before.epoch || in->has_epoch != before.has_epoch))
        abort(); /* a descriptor alone moved an epoch the driver named, or a foreign one moved anything */
    if (foreign && (st1.descriptors_foreign != st0.descriptors_foreign + 1 || st1.descriptors != st0.descriptors))
        abort();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The transport directory of this run goes at exit (libFuzzer exits normally). */
static void remove_dir(void) { nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_dir[0] == '\0') {
        snprintf(g_dir, sizeof g_dir, "/dev/shm/tp-fuzz-join-%d", (int)getpid());
        (void)mkdir(g_dir, 0700);
        atexit(remove_dir);
    }
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = g_dir;
    harness_t h;
    memset(&h, 0, sizeof h);
    tp_join_agent_config_t cfg;
    const int ts_mode = size > 0 && data[0] == 0xaa; /* mostly SEQUENCE, sometimes TIMESTAMP */
    tp_join_agent_config_init(&cfg, ts_mode ? TP_JOIN_MODE_TIMESTAMP : TP_JOIN_MODE_SEQUENCE, OUT, 1);
    cfg.ipc = &ipc;
    cfg.shm_base_dir = g_dir;
    cfg.history = 16;
    cfg.on_output = on_output;
    cfg.clientd = &h;
    for (int i = 0; i < NIN; i++) tp_join_agent_config_add_input(&cfg, inputs[i], 0);
    if (tp_join_agent_create(&cfg, &h.a) != 0) abort();
    tp_join_agent_t *a = h.a;
    tp_merge_map_t m;
    if (tp_merge_map_init(&m, TP_MERGE_KIND_SEQUENCE, 8) != 0) abort();
    int64_t now = 1000000000LL;
    tp_join_agent_stats_t prev;
    tp_join_agent_stats(a, &prev);
    uint8_t buf[512];
    size_t off = 0;
    for (int steps = 0; off + 3 <= size && steps < 256; steps++) {
        const uint8_t op = data[off] % 8, arg = data[off + 1];
        size_t len = data[off + 2];
        off += 3;
        if (len > size - off) len = size - off;
        const uint8_t *p = data + off;
        off += len;
        long n = -1;
        switch (op) {
        case 0: feed_control(a, p, len, arg); break;
        case 1: feed_descriptor(a, p, len, arg); break;
        case 2:
            if ((n = build_descriptor(buf, sizeof buf, p, len, arg)) > 0) feed_descriptor(a, buf, (size_t)n, arg);
            break;
        case 3:
            if ((n = build_announce(buf, sizeof buf, p, len, &m)) > 0) feed_control(a, buf, (size_t)n, arg);
            break;
        case 4: {
            tp_merge_request_t req = {(arg & 1) ? TP_MERGE_KIND_TIMESTAMP : TP_MERGE_KIND_SEQUENCE,
                                      (arg & 2) ? OUT + 1 : OUT, rd64(p, len, 0) % 8};
            if ((n = tp_merge_request_encode(&req, buf, sizeof buf)) > 0) feed_control(a, buf, (size_t)n, arg);
            break;
        }
        case 5:
            if ((n = build_revoke(buf, sizeof buf, p, len, arg)) > 0) feed_control(a, buf, (size_t)n, arg);
            break;
        case 6: {
            const uint16_t hd[4] = {35, TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID, TP_CONTROL_SCHEMA_ID, 1};
            for (int i = 0; i < 4; i++) { /* little-endian SBE message header */
                buf[2 * i] = (uint8_t)(hd[i] & 0xff);
                buf[2 * i + 1] = (uint8_t)(hd[i] >> 8);
            }
            if (len + 8 <= sizeof buf) {
                memcpy(buf + 8, p, len);
                feed_control(a, buf, len + 8, arg);
            }
            break;
        }
        default: now += (int64_t)arg * 50000000LL; break;
        }
        if (tp_join_agent_do_work(a, now) < 0) abort();
        tp_join_agent_stats_t cur;
        tp_join_agent_stats(a, &cur);
        check_counters(&prev, &cur);
        prev = cur;
        check_state(a);
    }
    tp_merge_map_close(&m);
    tp_join_agent_destroy(a);
    return 0;
}
