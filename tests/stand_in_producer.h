/* A stand-in producer for the tests and benchmarks of the join layer that run
 * without a driver: it writes frames into its own SHM regions with the shm
 * writer, publishes a FrameDescriptor per frame on a descriptor stream, and
 * announces its pools (ShmPoolAnnounce) on the control stream itself, which
 * the driver would normally do. It uses library internals (TP_INTERNAL), so
 * it links the static library; programs for users use tp_producer
 * (examples/). Header-only. */
#ifndef TP_STAND_IN_PRODUCER_H
#define TP_STAND_IN_PRODUCER_H

#include "tensorpool/codec/control.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The channel: $DRIVER_CONTROL_CHANNEL (as the join agent and the MergeMap
 * authority take it), else tp:ipc. */
static inline const char *tp_stand_in_channel(void)
{
    const char *c = getenv("DRIVER_CONTROL_CHANNEL");
    return c != NULL && c[0] != '\0' ? c : "tp:ipc";
}

/* Offer as a producer client would: on Aeron, retry (10 s at most) while
 * back-pressured; a publication nobody is connected to drops the message,
 * as a tp:ipc message nobody reads is never seen, so that is not an error.
 * tp:ipc takes every offer, so there a refusal is an error at once. 0/-1. */
static inline int tp_stand_in_offer(tp_ipc_publication_t *pub, const void *buf, size_t len)
{
    for (int i = 0; i < 100000; i++) {
        if (tp_ipc_publication_offer(pub, buf, len) > 0) return 0;
        if (strncmp(tp_stand_in_channel(), "tp:", 3) == 0) return -1;
        if (tp_errcode() == TP_ERR_STATE && strstr(tp_errmsg(), "no subscriber connected") != NULL) return 0;
        if (tp_errcode() != TP_ERR_CAPACITY) return -1;
        const struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

typedef struct tp_stand_in_producer_s {
    tp_shm_writer_t w;
    tp_ipc_publication_t *desc;
    tp_ipc_publication_t *ctl;
    uint32_t stream_id;
    uint64_t epoch;
    uint32_t nslots;
    int open;
} tp_stand_in_producer_t;

/* Open SHM under base_dir (the same dir the ipc context resolves to) and the
 * two publications. */
static inline int tp_stand_in_producer_open(tp_stand_in_producer_t *p, const tp_ipc_context_t *ctx,
                                            const char *base_dir, uint32_t stream_id, uint64_t epoch,
                                            uint32_t nslots, int32_t desc_stream, int32_t ctl_stream,
                                            uint64_t now_ns)
{
    memset(p, 0, sizeof *p);
    tp_shm_writer_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.base_dir = base_dir;
    cfg.ns = ctx->namespace_name != NULL ? ctx->namespace_name : "default";
    cfg.stream_id = stream_id;
    cfg.epoch = epoch;
    cfg.nslots = nslots;
    cfg.npools = 1;
    cfg.pools[0].pool_id = 1;
    cfg.pools[0].stride_bytes = 64;
    cfg.now_ns = now_ns;
    if (tp_shm_writer_open(&p->w, &cfg) != 0) return -1;
    if (tp_ipc_publication_open(&p->desc, ctx, tp_stand_in_channel(), desc_stream) != 0 ||
        tp_ipc_publication_open(&p->ctl, ctx, tp_stand_in_channel(), ctl_stream) != 0) {
        tp_ipc_publication_close(p->desc);
        tp_shm_writer_close(&p->w, 1);
        return -1;
    }
    p->stream_id = stream_id;
    p->epoch = epoch;
    p->nslots = nslots;
    p->open = 1;
    return 0;
}

/* Publish a ShmPoolAnnounce for the regions (soft state: repeat it). */
static inline int tp_stand_in_producer_announce(tp_stand_in_producer_t *p, uint64_t now_ns)
{
    char ring[TP_SHM_PATH_MAX + 64], pool[TP_SHM_PATH_MAX + 64];
    const int rl = tp_shm_writer_ring_uri(&p->w, ring, sizeof ring);
    const int pl = tp_shm_writer_pool_uri(&p->w, 0, pool, sizeof pool);
    if (rl < 0 || pl < 0) return -1;
    uint8_t buf[2 * TP_SHM_PATH_MAX + 256];
    tp_control_shm_pool_announce_enc_t e;
    tp_control_shm_pool_announce_encode_begin(&e, buf, sizeof buf);
    tp_control_shm_pool_announce_set_stream_id(&e, p->stream_id);
    tp_control_shm_pool_announce_set_producer_id(&e, p->stream_id);
    tp_control_shm_pool_announce_set_epoch(&e, p->epoch);
    tp_control_shm_pool_announce_set_announce_timestamp_ns(&e, now_ns);
    tp_control_shm_pool_announce_set_announce_clock_domain(&e, TP_CONTROL_CLOCK_DOMAIN_MONOTONIC);
    tp_control_shm_pool_announce_set_layout_version(&e, 1);
    tp_control_shm_pool_announce_set_header_nslots(&e, p->nslots);
    tp_control_shm_pool_announce_set_header_slot_bytes(&e, 256);
    tp_control_shm_pool_announce_payload_pools_encode_begin(&e, 1);
    tp_control_shm_pool_announce_payload_pools_encode_next(&e);
    tp_control_shm_pool_announce_payload_pools_set_pool_id(&e, p->w.pool_id[0]);
    tp_control_shm_pool_announce_payload_pools_set_pool_nslots(&e, p->nslots);
    tp_control_shm_pool_announce_payload_pools_set_stride_bytes(&e, p->w.stride[0]);
    tp_control_shm_pool_announce_payload_pools_put_region_uri(&e, pool, (size_t)pl);
    tp_control_shm_pool_announce_put_header_region_uri(&e, ring, (size_t)rl);
    const long n = tp_control_shm_pool_announce_encode_end(&e);
    if (n < 0) return -1;
    tp_shm_writer_heartbeat(&p->w, now_ns);
    return tp_stand_in_offer(p->ctl, buf, (size_t)n);
}

/* Publish a FrameDescriptor on `pub` (also usable without SHM). */
static inline int tp_stand_in_descriptor(tp_ipc_publication_t *pub, uint32_t stream_id, uint64_t epoch,
                                         uint64_t seq, uint64_t timestamp_ns)
{
    uint8_t buf[64];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
    tp_control_frame_descriptor_set_stream_id(&e, stream_id);
    tp_control_frame_descriptor_set_epoch(&e, epoch);
    tp_control_frame_descriptor_set_seq(&e, seq);
    tp_control_frame_descriptor_set_timestamp_ns(&e, timestamp_ns);
    tp_control_frame_descriptor_set_meta_version(&e, 0);
    tp_control_frame_descriptor_set_trace_id(&e, 0);
    const long n = tp_control_frame_descriptor_encode_end(&e);
    if (n < 0) return -1;
    return tp_stand_in_offer(pub, buf, (size_t)n);
}

/* Write one frame (a uint64 value, FLOAT64-free on purpose: 8 bytes of
 * UINT64) with slot timestamp `slot_ts`, commit it, then publish its
 * descriptor with `fd_ts` (W-10.2.1.g: descriptor after commit). */
static inline int tp_stand_in_producer_publish(tp_stand_in_producer_t *p, uint64_t value, uint64_t slot_ts,
                                               uint64_t fd_ts, uint64_t *seq_out)
{
    tp_tensor_header_t t;
    const int32_t dims[1] = {1};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT64, TP_CONTROL_MAJOR_ORDER_ROW, 1, dims);
    uint64_t seq;
    if (tp_shm_writer_publish(&p->w, &t, &value, sizeof value, slot_ts, 0, &seq) != 0) return -1;
    if (seq_out != NULL) *seq_out = seq;
    return tp_stand_in_descriptor(p->desc, p->stream_id, p->epoch, seq, fd_ts);
}

static inline void tp_stand_in_producer_close(tp_stand_in_producer_t *p)
{
    if (!p->open) return;
    tp_ipc_publication_close(p->desc);
    tp_ipc_publication_close(p->ctl);
    tp_shm_writer_close(&p->w, 1);
    p->open = 0;
}

#endif
