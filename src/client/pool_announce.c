/* ShmPoolAnnounce acceptance shared by every announce consumer (docs/spec/wire.md §5.1). */
#include "tensorpool/pool_announce.h"

#include "tensorpool/clock.h"
#include "tensorpool/shm_layout.h"

#include <string.h>

static int is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

/* Steps 2-4: freshness in the announce's own clock domain; the join time (a
 * CLOCK_MONOTONIC reading) applies only to MONOTONIC announces (W-10.1.1.f/g).
 * REALTIME_SYNCED reads the realtime clock here, on the control path. */
static tp_announce_verdict_t check_time(const tp_control_shm_pool_announce_dec_t *m, const tp_announce_filter_t *f)
{
    const uint8_t domain = tp_control_shm_pool_announce_announce_clock_domain(m);
    uint64_t now;
    if (domain == TP_CONTROL_CLOCK_DOMAIN_MONOTONIC)
        now = (uint64_t)f->now_ns;
    else if (domain == TP_CONTROL_CLOCK_DOMAIN_REALTIME_SYNCED)
        now = (uint64_t)tp_clock_realtime_ns();
    else
        return TP_ANNOUNCE_UNKNOWN_CLOCK;
    const uint64_t ts = tp_control_shm_pool_announce_announce_timestamp_ns(m);
    if (now > ts && now - ts > f->max_age_ns) return TP_ANNOUNCE_STALE; /* W-10.1.1.e */
    if (domain == TP_CONTROL_CLOCK_DOMAIN_MONOTONIC && ts < (uint64_t)f->join_time_ns) return TP_ANNOUNCE_BEFORE_JOIN;
    return TP_ANNOUNCE_ACCEPTED;
}

tp_announce_verdict_t tp_pool_announce_accept(const tp_control_shm_pool_announce_dec_t *m,
                                              const tp_announce_filter_t *f, tp_shm_reader_config_t *rc)
{
    if (tp_control_shm_pool_announce_stream_id(m) != f->stream_id) return TP_ANNOUNCE_OTHER_STREAM;
    const tp_announce_verdict_t t = check_time(m, f);
    if (t != TP_ANNOUNCE_ACCEPTED) return t;
    /* Step 7: the announced geometry must be one this layout allows. */
    const uint32_t nslots = tp_control_shm_pool_announce_header_nslots(m);
    if (tp_control_shm_pool_announce_layout_version(m) != TP_SHM_LAYOUT_VERSION ||
        tp_control_shm_pool_announce_header_slot_bytes(m) != TP_SHM_SLOT_BYTES || !is_pow2(nslots))
        return TP_ANNOUNCE_INVALID;
    const uint16_t count = tp_control_shm_pool_announce_payload_pools_count(m);
    if (count == 0 || count > TP_SHM_MAX_POOLS) return TP_ANNOUNCE_INVALID;
    memset(rc, 0, sizeof *rc);
    tp_control_shm_pool_announce_payload_pools_iter_t it;
    tp_control_shm_pool_announce_payload_pools_iter(m, &it);
    int more;
    while ((more = tp_control_shm_pool_announce_payload_pools_next(&it)) == 1) {
        if (rc->npools == count) return TP_ANNOUNCE_INVALID;
        tp_shm_reader_pool_t *p = &rc->pools[rc->npools];
        uint32_t n = 0;
        p->uri = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &n);
        p->uri_len = n;
        p->pool_id = tp_control_shm_pool_announce_payload_pools_pool_id(&it);
        p->stride_bytes = tp_control_shm_pool_announce_payload_pools_stride_bytes(&it);
        if (tp_control_shm_pool_announce_payload_pools_pool_nslots(&it) != nslots || p->stride_bytes == 0 ||
            p->stride_bytes % 64 != 0 || n == 0)
            return TP_ANNOUNCE_INVALID;
        for (unsigned j = 0; j < rc->npools; j++)
            if (rc->pools[j].pool_id == p->pool_id) return TP_ANNOUNCE_INVALID; /* D-20: unique pool ids */
        rc->npools++;
    }
    if (more < 0 || rc->npools != count) return TP_ANNOUNCE_INVALID;
    uint32_t n = 0;
    rc->ring_uri = tp_control_shm_pool_announce_header_region_uri(m, &n);
    rc->ring_uri_len = n;
    if (n == 0) return TP_ANNOUNCE_INVALID;
    rc->stream_id = f->stream_id;
    rc->epoch = tp_control_shm_pool_announce_epoch(m);
    rc->layout_version = TP_SHM_LAYOUT_VERSION;
    rc->nslots = nslots;
    return TP_ANNOUNCE_ACCEPTED;
}
