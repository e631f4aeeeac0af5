/* Property test: the JoinBarrier against a deliberately simple reference model
 * of docs/spec/join-barrier.md §3, over random maps and event sequences.
 *
 * The model keeps the spec's shape: linear scans over rules, 128-bit
 * arithmetic for required positions (no compiled bounds), its own validation
 * and equality. Every call's outcome and every readiness result (lists
 * included) must agree.
 *
 * TP_JOIN_PROPERTY_CASES (default 1000000) scales the run, e.g. under ASan;
 * TP_JOIN_PROPERTY_SEED picks the seed. A mismatch prints the case and step.
 */
#include "tp_test.h"

#include "tensorpool/error.h"
#include "tensorpool/join_barrier.h"
#include "tensorpool/join_explain.h"
#include "tensorpool/merge_map.h"

#include <stdio.h>
#include <stdlib.h>

#define OUT 10u
#define MAXR 8

typedef unsigned __int128 u128;
typedef __int128 i128;

/* ---------------- random ---------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(uint64_t n) { return rnd() % n; }
static int chance(unsigned pct) { return below(100) < pct; }

/* ---------------- reference model ---------------- */

typedef struct {
    tp_merge_kind_t kind;
    uint32_t out;
    uint64_t epoch;
    uint64_t stale;   /* UINT64_MAX = absent */
    uint64_t late;    /* raw */
    uint8_t domain;
    uint32_t n;
    tp_merge_rule_t r[MAXR + 2];
} ref_map_t;

typedef struct {
    int has_epoch, has_obs_seq, has_proc_seq, has_obs_time, has_proc_time, has_any, latest_valid, rejected;
    uint64_t epoch, obs_seq, proc_seq, obs_time, proc_time, last_obs;
} ref_slot_t;

typedef struct {
    tp_join_mode_t mode;
    uint32_t cap;
    int use_processed, allow_stale;
    tp_join_ordering_t ordering;
    uint32_t quorum;
    int present;
    ref_map_t map;
    int has_expected;
    uint64_t expected;
    int has_last_out;
    uint64_t last_out;
    ref_slot_t s[MAXR];
    /* result */
    int ready, out_rej;
    uint32_t nm, ns, nr, nsat;
    uint32_t missing[MAXR], stale[MAXR], rejected[MAXR];
} ref_t;

static void ref_reset_all(ref_t *m)
{
    memset(m->s, 0, sizeof m->s);
    m->has_last_out = 0;
}

static int ref_valid(const ref_t *m, const ref_map_t *x)
{
    if (x->n < 1 || x->n > m->cap) return 0;
    if (x->kind == TP_MERGE_KIND_TIMESTAMP && x->domain != 1 && x->domain != 2) return 0;
    for (uint32_t i = 0; i < x->n; i++) {
        const tp_merge_rule_t *r = &x->r[i];
        if (x->kind == TP_MERGE_KIND_SEQUENCE) {
            if (r->rule_type == 0) {
                if (r->offset == INT32_MIN || r->window != UINT32_MAX) return 0;
            } else if (r->rule_type == 1) {
                if (r->window == UINT32_MAX || r->window == 0 || r->offset != INT32_MIN) return 0;
            } else {
                return 0;
            }
        } else {
            if (r->timestamp_source != 1 && r->timestamp_source != 2) return 0;
            if (r->rule_type == 0) {
                if (r->offset == INT64_MIN || r->window != UINT64_MAX) return 0;
            } else if (r->rule_type == 1) {
                if (r->window == UINT64_MAX || r->window == 0 || r->offset != INT64_MIN) return 0;
            } else {
                return 0;
            }
        }
    }
    return 1;
}

static uint64_t eff_late(const ref_map_t *x) { return x->late == UINT64_MAX ? 0 : x->late; }

static int ref_same(const ref_map_t *a, const ref_map_t *b)
{
    if (a->kind != b->kind || a->epoch != b->epoch || a->stale != b->stale || a->n != b->n) return 0;
    if (a->kind == TP_MERGE_KIND_TIMESTAMP && (a->domain != b->domain || eff_late(a) != eff_late(b))) return 0;
    for (uint32_t i = 0; i < a->n; i++)
        if (memcmp(&a->r[i], &b->r[i], sizeof a->r[i]) != 0) return 0;
    return 1;
}

static int ref_apply(ref_t *m, const ref_map_t *x)
{
    if (x->out != OUT) return TP_JOIN_APPLY_IGNORED_OTHER_STREAM;
    if ((m->mode == TP_JOIN_MODE_SEQUENCE && x->kind != TP_MERGE_KIND_SEQUENCE) ||
        (m->mode == TP_JOIN_MODE_TIMESTAMP && x->kind != TP_MERGE_KIND_TIMESTAMP))
        return TP_JOIN_APPLY_IGNORED_KIND;
    if (m->has_expected && x->epoch < m->expected) return TP_JOIN_APPLY_IGNORED_STALE_EPOCH;
    if (!ref_valid(m, x)) {
        m->present = 0;
        ref_reset_all(m);
        return TP_JOIN_APPLY_INVALID;
    }
    if (m->present && ref_same(&m->map, x)) return TP_JOIN_APPLY_REFRESHED;
    m->map = *x;
    m->present = 1;
    ref_reset_all(m);
    m->has_expected = 1;
    m->expected = x->epoch;
    return TP_JOIN_APPLY_REPLACED;
}

static void ref_set_epoch(ref_t *m, uint64_t e)
{
    if (m->has_expected && m->expected == e) return;
    m->has_expected = 1;
    m->expected = e;
    m->present = 0;
    ref_reset_all(m);
}

static int ref_nslots(const ref_t *m) { return m->present ? (int)m->map.n : 0; }

/* Epoch step for slot i; 1 = go on. */
static int ref_epoch(ref_slot_t *s, int has_e, uint64_t e)
{
    if (!has_e) return 1;
    if (!s->has_epoch) {
        s->has_epoch = 1;
        s->epoch = e;
        return 1;
    }
    if (e > s->epoch) {
        memset(s, 0, sizeof *s);
        s->has_epoch = 1;
        s->epoch = e;
        return 1;
    }
    return e == s->epoch;
}

static int ref_seq_update(ref_t *m, uint32_t id, int has_e, uint64_t e, uint64_t seq, int obs, uint64_t now)
{
    int found = 0, out = TP_JOIN_UPDATE_OK;
    for (int i = 0; i < ref_nslots(m); i++) {
        if (m->map.r[i].input_stream_id != id) continue;
        found = 1;
        ref_slot_t *s = &m->s[i];
        int rc = TP_JOIN_UPDATE_OK;
        if (!ref_epoch(s, has_e, e)) {
            rc = TP_JOIN_UPDATE_STALE_EPOCH;
        } else if (obs) {
            if (s->has_obs_seq && seq < s->obs_seq) {
                rc = TP_JOIN_UPDATE_REGRESSION;
            } else {
                s->has_obs_seq = 1;
                s->obs_seq = seq;
                s->has_any = 1;
                s->last_obs = now;
                if (m->ordering == TP_JOIN_ORDER_SEQUENCE) s->latest_valid = 1;
            }
        } else {
            if (s->has_proc_seq && seq < s->proc_seq) {
                rc = TP_JOIN_UPDATE_REGRESSION;
            } else {
                s->has_proc_seq = 1;
                s->proc_seq = seq;
            }
        }
        if (out == TP_JOIN_UPDATE_OK) out = rc;
    }
    return found ? out : TP_JOIN_UPDATE_NOT_TRACKED;
}

static int ref_time_update(ref_t *m, uint32_t id, int has_e, uint64_t e, uint8_t src, uint64_t ts, uint8_t dom,
                           int obs, uint64_t now)
{
    int found = 0, out = TP_JOIN_UPDATE_OK;
    for (int i = 0; i < ref_nslots(m); i++) {
        if (m->map.r[i].input_stream_id != id) continue;
        if (m->map.kind != TP_MERGE_KIND_TIMESTAMP || m->map.r[i].timestamp_source != src) continue;
        found = 1;
        ref_slot_t *s = &m->s[i];
        int rc = TP_JOIN_UPDATE_OK;
        if (!ref_epoch(s, has_e, e)) {
            rc = TP_JOIN_UPDATE_STALE_EPOCH;
        } else if (dom != m->map.domain) {
            s->rejected = 1;
            rc = TP_JOIN_UPDATE_DOMAIN_REJECTED;
        } else if (ts == UINT64_MAX) {
            rc = TP_JOIN_UPDATE_IGNORED_NULL;
        } else if (obs) {
            if (s->has_obs_time && ts < s->obs_time) {
                s->rejected = 1;
                rc = TP_JOIN_UPDATE_TIME_REJECTED;
            } else {
                s->has_obs_time = 1;
                s->obs_time = ts;
                s->has_any = 1;
                s->last_obs = now;
                if (m->ordering == TP_JOIN_ORDER_TIMESTAMP) s->latest_valid = 1;
            }
        } else {
            if (s->has_proc_time && ts < s->proc_time) {
                s->rejected = 1;
                rc = TP_JOIN_UPDATE_TIME_REJECTED;
            } else {
                s->has_proc_time = 1;
                s->proc_time = ts;
            }
        }
        if (out == TP_JOIN_UPDATE_OK) out = rc;
    }
    return found ? out : TP_JOIN_UPDATE_NOT_TRACKED;
}

/* Threshold of rule i for out, or -1 for NOT_YET (§3.3, §3.4 in 128 bits). */
static i128 ref_threshold(const ref_t *m, int i, uint64_t out)
{
    const tp_merge_rule_t *r = &m->map.r[i];
    i128 req;
    if (r->rule_type == 0) {
        req = (i128)out + (i128)r->offset;
        if (req < 0 || req > (i128)UINT64_MAX) return -1;
    } else if (m->map.kind == TP_MERGE_KIND_SEQUENCE) {
        if ((i128)out + 1 < (i128)r->window) return -1;
        req = out;
    } else {
        if ((u128)out < (u128)r->window) return -1;
        req = out;
    }
    i128 late = m->map.kind == TP_MERGE_KIND_TIMESTAMP ? (i128)eff_late(&m->map) : 0;
    i128 t = req - late;
    return t < 0 ? 0 : t;
}

static int ref_is_stale(const ref_t *m, int i, uint64_t now)
{
    const ref_slot_t *s = &m->s[i];
    if (!m->allow_stale || m->map.stale == UINT64_MAX || !s->has_any) return 0;
    if (now < s->last_obs) return 0;
    return (u128)(now - s->last_obs) > (u128)m->map.stale;
}

static void ref_clear(ref_t *m)
{
    m->ready = m->out_rej = 0;
    m->nm = m->ns = m->nr = m->nsat = 0;
}

static int ref_verdict(ref_t *m)
{
    if (m->nr > 0) return m->ready = 0;
    if (m->quorum) {
        uint32_t q = m->quorum < m->map.n ? m->quorum : m->map.n;
        return m->ready = m->nsat >= q;
    }
    return m->ready = m->nm == 0 && m->nsat >= 1;
}

static int ref_ready(ref_t *m, uint64_t out, uint8_t dom, uint64_t now)
{
    ref_clear(m);
    int is_time = m->mode == TP_JOIN_MODE_TIMESTAMP;
    if (is_time && m->present && dom != m->map.domain) {
        m->out_rej = 1;
        return 0;
    }
    if (m->has_last_out && out < m->last_out) {
        m->out_rej = 1;
        return 0;
    }
    m->has_last_out = 1;
    m->last_out = out;
    if (!m->present) return 0;
    for (int i = 0; i < (int)m->map.n; i++) {
        const ref_slot_t *s = &m->s[i];
        uint32_t id = m->map.r[i].input_stream_id;
        if (s->rejected) {
            m->rejected[m->nr++] = id;
            continue;
        }
        i128 t = ref_threshold(m, i, out);
        if (t < 0) {
            m->missing[m->nm++] = id;
            continue;
        }
        int has_o = is_time ? s->has_obs_time : s->has_obs_seq;
        uint64_t o = is_time ? s->obs_time : s->obs_seq;
        int has_p = is_time ? s->has_proc_time : s->has_proc_seq;
        uint64_t p = is_time ? s->proc_time : s->proc_seq;
        int ok = has_o && (i128)o >= t && (!m->use_processed || (has_p && (i128)p >= t));
        if (ok) m->nsat++;
        else if (ref_is_stale(m, i, now)) m->stale[m->ns++] = id;
        else m->missing[m->nm++] = id;
    }
    return ref_verdict(m);
}

static int ref_latest_has(const ref_t *m, int i)
{
    const ref_slot_t *s = &m->s[i];
    int has = m->ordering == TP_JOIN_ORDER_TIMESTAMP ? s->has_obs_time : s->has_obs_seq;
    return has && s->latest_valid;
}

static int ref_ready_latest(ref_t *m, uint64_t now)
{
    ref_clear(m);
    if (!m->present) return 0;
    if (m->ordering == TP_JOIN_ORDER_TIMESTAMP && m->map.kind != TP_MERGE_KIND_TIMESTAMP) {
        for (uint32_t i = 0; i < m->map.n; i++) m->missing[m->nm++] = m->map.r[i].input_stream_id;
        return 0;
    }
    for (int i = 0; i < (int)m->map.n; i++) {
        uint32_t id = m->map.r[i].input_stream_id;
        if (m->s[i].rejected) {
            m->rejected[m->nr++] = id;
        } else if (!ref_latest_has(m, i)) {
            m->missing[m->nm++] = id;
        } else {
            m->nsat++;
            if (ref_is_stale(m, i, now)) m->stale[m->ns++] = id;
        }
    }
    return ref_verdict(m);
}

/* ---------------- random inputs ---------------- */

static const uint32_t ids[] = {1, 2, 3, 4};

static uint64_t rnd_pos(void)
{
    if (chance(3)) return UINT64_MAX - below(4);
    if (chance(2)) return (uint64_t)INT64_MAX + below(3) - 1;
    return below(40);
}

static void rnd_seq_rule(tp_merge_rule_t *r)
{
    static const int64_t offs[] = {0, 1, 2, 3, -1, -2, -3, INT32_MAX, INT32_MIN + 1, INT32_MIN};
    static const uint64_t wins[] = {1, 2, 3, 5, 0, UINT32_MAX - 1, UINT32_MAX};
    r->input_stream_id = ids[below(4)];
    r->timestamp_source = 0;
    r->rule_type = chance(3) ? (uint8_t)(chance(50) ? 99 : 255) : (uint8_t)below(2);
    int pair_ok = !chance(5);
    if ((r->rule_type == 0) == pair_ok) {
        r->offset = offs[below(9)];
        r->window = pair_ok ? UINT32_MAX : wins[below(6)];
    } else {
        r->window = wins[below(6)];
        r->offset = pair_ok ? INT32_MIN : offs[below(9)];
    }
    if (chance(2)) r->offset = INT32_MIN;
    if (chance(2)) r->window = UINT32_MAX;
}

static void rnd_time_rule(tp_merge_rule_t *r)
{
    static const int64_t offs[] = {0, 5, 20, -5, -20, INT64_MAX, INT64_MIN + 1, INT64_MIN};
    static const uint64_t wins[] = {1, 10, 25, 0, UINT64_MAX - 1, UINT64_MAX};
    r->input_stream_id = ids[below(4)];
    r->timestamp_source = chance(3) ? (uint8_t)(chance(50) ? 0 : 99) : (uint8_t)(1 + below(2));
    r->rule_type = chance(3) ? 99 : (uint8_t)below(2);
    int pair_ok = !chance(5);
    if ((r->rule_type == 0) == pair_ok) {
        r->offset = offs[below(7)];
        r->window = pair_ok ? UINT64_MAX : wins[below(5)];
    } else {
        r->window = wins[below(5)];
        r->offset = pair_ok ? INT64_MIN : offs[below(7)];
    }
}

static void rnd_map(const ref_t *m, ref_map_t *x)
{
    if (m->present && chance(25)) { /* re-announce, maybe with lateness 0 <-> absent */
        *x = m->map;
        if (x->kind == TP_MERGE_KIND_TIMESTAMP && eff_late(x) == 0 && chance(50))
            x->late = x->late == 0 ? UINT64_MAX : 0;
        return;
    }
    memset(x, 0, sizeof *x);
    x->kind = m->mode == TP_JOIN_MODE_TIMESTAMP || (m->mode == TP_JOIN_MODE_LATEST_VALUE && chance(50))
                  ? TP_MERGE_KIND_TIMESTAMP
                  : TP_MERGE_KIND_SEQUENCE;
    if (chance(4)) x->kind = x->kind == TP_MERGE_KIND_SEQUENCE ? TP_MERGE_KIND_TIMESTAMP : TP_MERGE_KIND_SEQUENCE;
    x->out = chance(4) ? 11 : OUT;
    uint64_t base = m->has_expected ? m->expected : 1;
    x->epoch = chance(70) ? base : (chance(50) ? base + 1 : (base ? base - 1 : 0));
    static const uint64_t stales[] = {UINT64_MAX, UINT64_MAX, 0, 5, 10, 30};
    x->stale = stales[below(6)];
    static const uint64_t lates[] = {UINT64_MAX, 0, 0, 3, 10, 50, UINT64_MAX - 1};
    x->late = lates[below(7)];
    x->domain = chance(4) ? (uint8_t)(chance(50) ? 0 : 255) : (uint8_t)(1 + below(2));
    x->n = chance(3) ? 0 : (uint32_t)(1 + below(m->cap + (chance(5) ? 2 : 0)));
    if (x->n > MAXR + 2) x->n = MAXR + 2;
    for (uint32_t i = 0; i < x->n; i++) {
        if (x->kind == TP_MERGE_KIND_SEQUENCE) rnd_seq_rule(&x->r[i]);
        else rnd_time_rule(&x->r[i]);
    }
}

static void to_map(const ref_map_t *x, tp_merge_map_t *map)
{
    map->kind = x->kind;
    map->out_stream_id = x->out;
    map->epoch = x->epoch;
    map->stale_timeout_ns = x->stale;
    map->lateness_ns = x->late;
    map->clock_domain = x->kind == TP_MERGE_KIND_TIMESTAMP ? x->domain : 0;
    map->rule_count = x->n;
    memcpy(map->rules, x->r, x->n * sizeof x->r[0]);
}

/* ---------------- comparison ---------------- */

static int lists_equal(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static int results_agree(const ref_t *m, const tp_join_result_t *r)
{
    return r->ready == m->ready && r->output_rejected == m->out_rej && r->satisfied_count == m->nsat &&
           lists_equal(r->missing, r->missing_count, m->missing, m->nm) &&
           lists_equal(r->stale, r->stale_count, m->stale, m->ns) &&
           lists_equal(r->rejected, r->rejected_count, m->rejected, m->nr);
}

static uint64_t case_no;
static int step_no;

static int fail(const char *what, long got, long want)
{
    fprintf(stderr, "property mismatch: case %llu step %d: %s (barrier %ld, model %ld)\n",
            (unsigned long long)case_no, step_no, what, got, want);
    tp_test_failed_checks++;
    return 0;
}

/* The explanation must tell the same story as the result it explains. */
static int explain_agrees(const tp_join_barrier_t *b, uint64_t out, uint64_t now)
{
    const tp_join_result_t *r = tp_join_barrier_result(b);
    if (r->output_rejected) return 1;
    tp_join_explain_t ex[MAXR];
    int n = tp_join_barrier_explain(b, out, now, ex, MAXR);
    uint32_t miss[MAXR], stale[MAXR], rej[MAXR], nm = 0, ns = 0, nr = 0, nsat = 0;
    for (int i = 0; i < n; i++) {
        switch (ex[i].status) {
        case TP_JOIN_EXPLAIN_SATISFIED:
            nsat++;
            if (tp_join_barrier_mode(b) == TP_JOIN_MODE_LATEST_VALUE && ex[i].stale) stale[ns++] = ex[i].stream_id;
            break;
        case TP_JOIN_EXPLAIN_STALE: stale[ns++] = ex[i].stream_id; break;
        case TP_JOIN_EXPLAIN_REJECTED: rej[nr++] = ex[i].stream_id; break;
        default: miss[nm++] = ex[i].stream_id; break;
        }
    }
    return nsat == r->satisfied_count && lists_equal(miss, nm, r->missing, r->missing_count) &&
           lists_equal(stale, ns, r->stale, r->stale_count) && lists_equal(rej, nr, r->rejected, r->rejected_count);
}

static tp_merge_map_t scratch;

/* One random case; 1 when barrier and model agreed throughout. */
static int run_case(void)
{
    ref_t m;
    memset(&m, 0, sizeof m);
    tp_join_barrier_config_t cfg;
    static const tp_join_mode_t modes[3] = {TP_JOIN_MODE_SEQUENCE, TP_JOIN_MODE_TIMESTAMP, TP_JOIN_MODE_LATEST_VALUE};
    m.mode = modes[below(3)];
    m.cap = (uint32_t)(1 + below(MAXR));
    tp_join_barrier_config_init(&cfg, m.mode, OUT, m.cap);
    cfg.use_processed = m.use_processed = chance(30);
    cfg.allow_stale = m.allow_stale = !chance(20);
    cfg.latest_ordering = m.ordering = chance(40) ? TP_JOIN_ORDER_TIMESTAMP : TP_JOIN_ORDER_SEQUENCE;
    cfg.quorum = m.quorum = chance(25) ? (uint32_t)(1 + below(5)) : 0;
    tp_join_barrier_t *b;
    if (tp_join_barrier_create(&cfg, &b) != 0) return fail("create", -1, 0);

    uint64_t now = below(20);
    int ok = 1;
    int steps = 8 + (int)below(24);
    int deferred = 0; /* the last ready's result is checked after the next update instead */
    for (step_no = 0; step_no < steps && ok; step_no++) {
        const int check_deferred = deferred;
        deferred = 0;
        if (chance(60)) now += below(8);
        uint64_t op_now = chance(5) ? (now > 3 ? now - 3 : 0) : now;
        uint32_t id = chance(5) ? 9 : ids[below(4)];
        int has_e = chance(30);
        uint64_t e = 1 + below(3);
        unsigned op = (unsigned)below(100);
        if (op < 10 || (!m.present && op < 25)) {
            ref_map_t x;
            rnd_map(&m, &x);
            to_map(&x, &scratch);
            int got = tp_join_barrier_apply(b, &scratch, op_now);
            int want = ref_apply(&m, &x);
            if (got != want) ok = fail("apply", got, want);
        } else if (op < 12) {
            uint64_t ep = 1 + below(3);
            tp_join_barrier_set_active_epoch(b, ep);
            ref_set_epoch(&m, ep);
        } else if (op < 14) {
            uint32_t q = chance(50) ? 0 : (uint32_t)(1 + below(5));
            tp_join_barrier_set_quorum(b, q);
            m.quorum = q;
        } else if (op < 38) {
            uint64_t seq = rnd_pos();
            int got = has_e ? tp_join_barrier_observe_seq_in_epoch(b, id, e, seq, op_now)
                            : tp_join_barrier_observe_seq(b, id, seq, op_now);
            int want = ref_seq_update(&m, id, has_e, e, seq, 1, op_now);
            if (got != want) ok = fail("observe_seq", got, want);
        } else if (op < 44) {
            uint64_t seq = rnd_pos();
            int got = has_e ? tp_join_barrier_process_seq_in_epoch(b, id, e, seq) : tp_join_barrier_process_seq(b, id, seq);
            int want = ref_seq_update(&m, id, has_e, e, seq, 0, 0);
            if (got != want) ok = fail("process_seq", got, want);
        } else if (op < 62) {
            uint8_t src = chance(5) ? 0 : (uint8_t)(1 + below(2));
            uint8_t dom = chance(5) ? (uint8_t)(chance(50) ? 0 : 3) : (uint8_t)(1 + below(2));
            uint64_t ts = chance(4) ? UINT64_MAX : rnd_pos();
            int got = has_e ? tp_join_barrier_observe_time_in_epoch(b, id, e, (tp_timestamp_source_t)src, ts,
                                                                    (tp_clock_domain_t)dom, op_now)
                            : tp_join_barrier_observe_time(b, id, (tp_timestamp_source_t)src, ts,
                                                           (tp_clock_domain_t)dom, op_now);
            int want = ref_time_update(&m, id, has_e, e, src, ts, dom, 1, op_now);
            if (got != want) ok = fail("observe_time", got, want);
        } else if (op < 64) {
            uint64_t seq = rnd_pos(), ts = chance(4) ? UINT64_MAX : rnd_pos();
            int got = tp_join_barrier_observe_descriptor(b, id, e, seq, ts, op_now);
            int want = ref_seq_update(&m, id, 1, e, seq, 1, op_now);
            if (m.present && m.map.kind == TP_MERGE_KIND_TIMESTAMP) {
                int t = ref_time_update(&m, id, 1, e, TP_TS_SOURCE_FRAME_DESCRIPTOR, ts, m.map.domain, 1, op_now);
                if (want == TP_JOIN_UPDATE_OK && t != TP_JOIN_UPDATE_NOT_TRACKED) want = t;
            }
            if (got != want) ok = fail("observe_descriptor", got, want);
        } else if (op < 67) {
            uint8_t src = (uint8_t)(1 + below(2));
            uint8_t dom = chance(5) ? 2 : 1;
            uint64_t ts = chance(4) ? UINT64_MAX : rnd_pos();
            int got = has_e ? tp_join_barrier_process_time_in_epoch(b, id, e, (tp_timestamp_source_t)src, ts,
                                                                    (tp_clock_domain_t)dom)
                            : tp_join_barrier_process_time(b, id, (tp_timestamp_source_t)src, ts,
                                                           (tp_clock_domain_t)dom);
            int want = ref_time_update(&m, id, has_e, e, src, ts, dom, 0, 0);
            if (got != want) ok = fail("process_time", got, want);
        } else if (op < 70) {
            int got = tp_join_barrier_invalidate_latest(b, id);
            int want = 0;
            for (int i = 0; i < ref_nslots(&m); i++)
                if (m.map.r[i].input_stream_id == id) {
                    m.s[i].latest_valid = 0;
                    want++;
                }
            if (got != want) ok = fail("invalidate_latest", got, want);
        } else if (op < 73) {
            uint32_t got[MAXR], want[MAXR], ng, nw = 0;
            ng = tp_join_barrier_collect_stale(b, op_now, got, MAXR);
            for (int i = 0; i < ref_nslots(&m); i++)
                if (ref_is_stale(&m, i, op_now)) want[nw++] = m.map.r[i].input_stream_id;
            if (!lists_equal(got, ng, want, nw)) ok = fail("collect_stale", (long)ng, (long)nw);
        } else {
            int got, want;
            uint64_t out = 0;
            if (m.mode == TP_JOIN_MODE_LATEST_VALUE) {
                got = tp_join_barrier_ready_latest(b, op_now);
                want = ref_ready_latest(&m, op_now);
                if (got == 1) { /* selection must succeed exactly when ready */
                    tp_join_latest_t sel[MAXR];
                    int n = tp_join_barrier_collect_latest(b, sel, MAXR);
                    if (n != (int)m.map.n) ok = fail("collect_latest", n, (long)m.map.n);
                    for (int i = 0; ok && i < n; i++)
                        if (sel[i].stream_id != m.map.r[i].input_stream_id ||
                            sel[i].valid != ref_latest_has(&m, i) ||
                            sel[i].seq != (m.s[i].has_obs_seq ? m.s[i].obs_seq : UINT64_MAX))
                            ok = fail("collect_latest entry", i, i);
                } else if (tp_join_barrier_collect_latest(b, NULL, 0) != -1) {
                    ok = fail("collect_latest when not ready", 0, -1);
                }
            } else {
                out = chance(70) && m.has_last_out ? m.last_out + below(6) : rnd_pos();
                uint8_t dom = chance(5) ? 2 : 1;
                if (m.mode == TP_JOIN_MODE_SEQUENCE) got = tp_join_barrier_ready_seq(b, out, op_now);
                else got = tp_join_barrier_ready_time(b, out, (tp_clock_domain_t)dom, op_now);
                want = ref_ready(&m, out, dom, op_now);
            }
            if (got != want) ok = fail("ready", got, want);
            else if (chance(30)) deferred = 1; /* lists are built lazily: they must not see later updates */
            else if (!results_agree(&m, tp_join_barrier_result(b))) ok = fail("result lists", 0, 0);
            else if (!explain_agrees(b, out, op_now)) ok = fail("explain vs result", 0, 0);
            continue;
        }
        if (check_deferred && ok && !results_agree(&m, tp_join_barrier_result(b)))
            ok = fail("result lists after a later update", 0, 0);
    }
    tp_join_barrier_destroy(b);
    return ok;
}

static void property_barrier_matches_reference_model(void)
{
    const char *env = getenv("TP_JOIN_PROPERTY_CASES");
    uint64_t cases = env ? strtoull(env, NULL, 10) : 1000000;
    const char *seed = getenv("TP_JOIN_PROPERTY_SEED");
    rng_state = seed ? strtoull(seed, NULL, 10) : 0x9E3779B97F4A7C15ull;
    if (rng_state == 0) rng_state = 1;
    if (tp_merge_map_init(&scratch, TP_MERGE_KIND_SEQUENCE, MAXR + 2) != 0) abort();
    for (case_no = 0; case_no < cases; case_no++)
        if (!run_case()) break;
    printf("property: %llu cases\n", (unsigned long long)case_no);
    tp_merge_map_close(&scratch);
}

int main(void)
{
    RUN(property_barrier_matches_reference_model);
    TP_TEST_END();
}
