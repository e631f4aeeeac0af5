/* JoinBarrierAgent, per-input data plane: map an input's SHM from a
 * ShmPoolAnnounce or from what its driver CONSUMER lease grants, release the
 * mapping when the producer's lease is revoked, the agent's lease is lost or
 * the producer is gone (pid, activity stamp). Only the mapping goes: the
 * input's cursors stay, so the barrier reports it stale (JB-7.4). */
#include "join_agent_impl.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/pool_announce.h"
#include "tensorpool/shm_reader.h"

#include <string.h>

void ja_input_unmap(tp_join_agent_t *a, input_t *in, int disconnect)
{
    if (!in->mapped) return;
    tp_shm_reader_close(&in->reader);
    in->mapped = 0;
    if (disconnect) a->stats.disconnects++;
}

/* Map an input's regions (all or nothing, W-15.22.g) through the
 * containment rules of the allowed base dir. */
static int open_reader(tp_join_agent_t *a, input_t *in, tp_shm_reader_config_t *rc)
{
    if (!a->bases_ok) { /* the dir may not exist when the agent is created */
        const char *dirs[1] = {a->cfg.shm_base_dir};
        if (tp_shm_bases_init(&a->bases, dirs, 1) != 0) {
            a->stats.map_failures++;
            return -1;
        }
        a->bases_ok = 1;
    }
    rc->now_ns = (uint64_t)a->now;
    rc->activity_window_ns = a->cfg.activity_window_ns;
    ja_input_unmap(a, in, 0);
    if (tp_shm_reader_open(&in->reader, &a->bases, rc) != 0) {
        a->stats.map_failures++;
        return -1;
    }
    tp_superblock_t sb;
    tp_superblock_read(in->reader.ring.base, &sb);
    in->mapped = 1;
    in->mapped_epoch = rc->epoch;
    in->mapped_pid = sb.pid;
    a->stats.mappings++;
    return 0;
}

/* ---- driver leases (attach_via_driver) ---- */

int ja_lease_attached(void *clientd, const tp_lease_t *l)
{
    input_t *in = clientd;
    tp_join_agent_t *a = in->agent;
    a->stats.leases++;
    if (in->epoch_confirmed && l->epoch < in->epoch) return 0; /* the driver already announced a newer one */
    tp_shm_reader_config_t rc;
    tp_lease_reader_config(l, &rc);
    rc.stream_id = in->stream_id;
    /* A region that does not map is a protocol error for the driver client
     * (it detaches and retries); the barrier keeps gating on descriptors. */
    if (open_reader(a, in, &rc) != 0) return -1;
    ja_input_enter_epoch(a, in, l->epoch, 1); /* the driver's grant names the epoch */
    return 0;
}

void ja_lease_lost(void *clientd, const char *why)
{
    (void)why;
    input_t *in = clientd;
    in->agent->stats.leases_lost++;
    ja_input_unmap(in->agent, in, 1); /* stop touching its regions now (D-4.7.b) */
}

void ja_on_pool_announce(tp_join_agent_t *a, const uint8_t *buf, size_t len)
{
    tp_control_shm_pool_announce_dec_t d;
    if (tp_control_shm_pool_announce_decode(&d, buf, len) != 0) {
        a->stats.malformed++;
        return;
    }
    const uint32_t idx = ja_input_find(a, tp_control_shm_pool_announce_stream_id(&d));
    if (idx == NO_INPUT) return;
    input_t *in = &a->inputs[idx];
    /* The same acceptance as every consumer (docs/spec/wire.md §5.1 steps 1-4, 7):
     * fresh, not from before we joined, a geometry the layout allows. */
    const tp_announce_filter_t f = {in->stream_id, a->now, a->join_time_ns, a->cfg.activity_window_ns};
    tp_shm_reader_config_t rc;
    const tp_announce_verdict_t v = tp_pool_announce_accept(&d, &f, &rc);
    if (v == TP_ANNOUNCE_INVALID || v == TP_ANNOUNCE_UNKNOWN_CLOCK) a->stats.malformed++;
    if (v != TP_ANNOUNCE_ACCEPTED) return;
    if (in->epoch_confirmed && rc.epoch < in->epoch) return; /* an older epoch's pools */
    if (in->mapped && in->mapped_epoch > rc.epoch) return;
    /* With leases, only an input we are attached to may be mapped (D-2.3.a). */
    if (in->dc != NULL && tp_driver_client_state(in->dc) != TP_DC_ATTACHED) return;
    /* The announce moves the input's epoch only once its files validate (a
     * forged one naming the real files fails the superblock check); an
     * agent that maps nothing takes the accepted announce's word. */
    const int repeat = in->mapped && in->mapped_epoch == rc.epoch; /* soft state */
    if (a->cfg.shm_base_dir != NULL && !repeat && open_reader(a, in, &rc) != 0) return;
    ja_input_enter_epoch(a, in, rc.epoch, 1);
}

void ja_on_lease_revoked(tp_join_agent_t *a, const uint8_t *buf, size_t len)
{
    tp_driver_shm_lease_revoked_dec_t d;
    if (tp_driver_shm_lease_revoked_decode(&d, buf, len) != 0) {
        a->stats.malformed++;
        return;
    }
    /* Discard notices with unknown role or reason (D-4.9.j); only a
     * producer's lease concerns an input (D-4.9.h). */
    if (!tp_driver_role_is_valid(tp_driver_shm_lease_revoked_role(&d)) ||
        !tp_driver_lease_revoke_reason_is_valid(tp_driver_shm_lease_revoked_reason(&d))) {
        a->stats.malformed++;
        return;
    }
    if (tp_driver_shm_lease_revoked_role(&d) != TP_DRIVER_ROLE_PRODUCER) return;
    const uint32_t idx = ja_input_find(a, tp_driver_shm_lease_revoked_stream_id(&d));
    if (idx != NO_INPUT) ja_input_unmap(a, &a->inputs[idx], 1);
}

void ja_check_liveness(tp_join_agent_t *a)
{
    for (uint32_t i = 0; i < a->ninputs; i++) {
        input_t *in = &a->inputs[i];
        /* Producer gone (W-15.14.a pid, activity freshness): release the
         * mapping. Cursors stay, so the barrier reports it stale (JB-7.4). */
        if (in->mapped &&
            !tp_shm_reader_live(&in->reader, in->mapped_pid, (uint64_t)a->now, a->cfg.activity_window_ns))
            ja_input_unmap(a, in, 1);
    }
}
