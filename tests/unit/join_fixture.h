/* Shared fixture for the JoinBarrier tests (docs/spec/join-barrier.md §6):
 * output stream 10, epoch 1, capacity 8, allow_stale on, use_processed off,
 * LatestValue ordering SEQUENCE, MONOTONIC, lateness and stale timeout absent. */
#ifndef TP_JOIN_FIXTURE_H
#define TP_JOIN_FIXTURE_H

#include "tp_test.h"

#include "tensorpool/error.h"
#include "tensorpool/join_barrier.h"
#include "tensorpool/merge_map.h"

#include <stdio.h>
#include <stdlib.h>

#define OUT 10u
#define FD TP_TS_SOURCE_FRAME_DESCRIPTOR
#define SH TP_TS_SOURCE_SLOT_HEADER
#define MONO TP_CLOCK_MONOTONIC
#define RT TP_CLOCK_REALTIME_SYNCED
#define NO_STALE TP_MERGE_NULL_U64

static tp_merge_map_t fx_map;

static inline tp_join_barrier_t *fx_barrier_cfg(const tp_join_barrier_config_t *cfg)
{
    tp_join_barrier_t *b = NULL;
    if (tp_join_barrier_create(cfg, &b) != 0) {
        fprintf(stderr, "barrier create: %s\n", tp_errmsg());
        abort();
    }
    return b;
}

static inline tp_join_barrier_t *fx_barrier(tp_join_mode_t mode)
{
    tp_join_barrier_config_t cfg;
    tp_join_barrier_config_init(&cfg, mode, OUT, 8);
    return fx_barrier_cfg(&cfg);
}

/* Start a map in the shared fixture storage (capacity 64 rules). */
static inline tp_merge_map_t *fx_new_map(tp_merge_kind_t kind, uint64_t epoch, uint64_t stale)
{
    tp_merge_map_close(&fx_map);
    if (tp_merge_map_init(&fx_map, kind, 64) != 0 || tp_merge_map_reset(&fx_map, OUT, epoch) != 0) abort();
    fx_map.stale_timeout_ns = stale;
    return &fx_map;
}

static inline tp_merge_map_t *fx_seq_map(uint64_t epoch, uint64_t stale) { return fx_new_map(TP_MERGE_KIND_SEQUENCE, epoch, stale); }

static inline tp_merge_map_t *fx_time_map(uint64_t epoch, uint64_t stale, tp_clock_domain_t domain, uint64_t lateness)
{
    tp_merge_map_t *m = fx_new_map(TP_MERGE_KIND_TIMESTAMP, epoch, stale);
    m->clock_domain = (uint8_t)domain;
    m->lateness_ns = lateness;
    return m;
}

static inline void fx_raw(tp_merge_map_t *m, uint32_t id, uint8_t type, uint8_t source, int64_t offset, uint64_t window)
{
    tp_merge_rule_t r = {id, type, source, offset, window};
    if (tp_merge_map_add_raw(m, &r) != 0) abort();
}

/* Format the result lists as "1,2" for compact comparison. */
static inline const char *fx_list(const uint32_t *ids, uint32_t n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < n && o < len; i++) o += (size_t)snprintf(buf + o, len - o, i ? ",%u" : "%u", ids[i]);
    return buf;
}

static inline void fx_check_result(const tp_join_barrier_t *b, int ready, const char *missing, const char *stale,
                            const char *rejected, int out_rej, const char *file, int line)
{
    const tp_join_result_t *r = tp_join_barrier_result(b);
    char m[256], s[256], j[256];
    fx_list(r->missing, r->missing_count, m, sizeof m);
    fx_list(r->stale, r->stale_count, s, sizeof s);
    fx_list(r->rejected, r->rejected_count, j, sizeof j);
    if (r->ready != ready || strcmp(m, missing) != 0 || strcmp(s, stale) != 0 || strcmp(j, rejected) != 0 ||
        r->output_rejected != out_rej) {
        fprintf(stderr,
                "%s:%d: result {ready %d; missing [%s]; stale [%s]; rejected [%s]; out_rej %d}, "
                "expected {ready %d; missing [%s]; stale [%s]; rejected [%s]; out_rej %d}\n",
                file, line, r->ready, m, s, j, r->output_rejected, ready, missing, stale, rejected, out_rej);
        tp_test_failed_checks++;
    }
}

/* Evaluate by the barrier's mode (time in MONOTONIC unless rdy_dom is used). */
static inline int fx_rdy(tp_join_barrier_t *b, uint64_t x, tp_clock_domain_t dom, uint64_t now)
{
    switch (tp_join_barrier_mode(b)) {
    case TP_JOIN_MODE_SEQUENCE: return tp_join_barrier_ready_seq(b, x, now);
    case TP_JOIN_MODE_TIMESTAMP: return tp_join_barrier_ready_time(b, x, dom, now);
    default: return tp_join_barrier_ready_latest(b, now);
    }
}

/* RDY(b, x, now, ready, "missing", "stale", "rejected", out_rej) */
#define RDY_AT(b, x, now, ready, mi, st, rj, orj)                                                                  \
    do {                                                                                                           \
        int rc_ = fx_rdy((b), (x), MONO, (now));                                                                   \
        CHECK(rc_ == (ready));                                                                                     \
        fx_check_result((b), (ready), (mi), (st), (rj), (orj), __FILE__, __LINE__);                                \
    } while (0)
#define RDY(b, x, ready, mi) RDY_AT(b, x, 0, ready, mi, "", "", 0)
#define RDY_DOM(b, x, dom, ready, mi, st, rj, orj)                                                                 \
    do {                                                                                                           \
        int rc_ = fx_rdy((b), (x), (dom), 0);                                                                      \
        CHECK(rc_ == (ready));                                                                                     \
        fx_check_result((b), (ready), (mi), (st), (rj), (orj), __FILE__, __LINE__);                                \
    } while (0)

#define APPLY(b, m, expect) CHECK_STR(tp_join_apply_name(tp_join_barrier_apply((b), (m), 0)), tp_join_apply_name(expect))
#define UPD(call, expect) CHECK_STR(tp_join_update_name(call), tp_join_update_name(expect))

#define OBS(b, s, q) UPD(tp_join_barrier_observe_seq((b), (s), (q), 0), TP_JOIN_UPDATE_OK)
#define OBS_AT(b, s, q, now) UPD(tp_join_barrier_observe_seq((b), (s), (q), (now)), TP_JOIN_UPDATE_OK)
#define OBST(b, s, t) UPD(tp_join_barrier_observe_time((b), (s), FD, (t), MONO, 0), TP_JOIN_UPDATE_OK)
#define OBST_AT(b, s, t, now) UPD(tp_join_barrier_observe_time((b), (s), FD, (t), MONO, (now)), TP_JOIN_UPDATE_OK)

#endif
