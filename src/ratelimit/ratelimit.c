/* The RateLimiter agent (include/tensorpool/ratelimit.h, docs/spec/ratelimiter.md).
 *
 * Source side: an ordinary consumer in RATE_LIMITED mode, so the decimation
 * is the consumer's (W-11.b/c, RL-4.b): at most max_rate_hz frames, timed by
 * their descriptor timestamps, always the newest the gate lets pass.
 * Output side: an ordinary producer of dest_stream_id that owns that
 * stream's pools and epoch; each frame the source consumer delivers is
 * copied into a slot claimed at the source's seq (RL-4.c), committed with
 * the source's tensor header, timestamp, meta_version and trace id (RL-5.a),
 * and announced with a FrameDescriptor by the producer. */
#include "tensorpool/ratelimit.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/consumer.h"
#include "tensorpool/consumer_rate.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_CAP (64u * 1024u) /* the largest metadata message forwarded */

struct tp_ratelimit_s {
    tp_client_context_t ctx;
    tp_ratelimit_config_t cfg;
    tp_consumer_t *cons;
    tp_producer_t *prod;
    tp_ipc_context_t ipc;
    tp_ipc_subscription_t *meta_sub;
    tp_ipc_publication_t *meta_pub;
    uint64_t source_epoch; /* the source epoch the output's current epoch copies */
    int reopen;            /* the source moved to a new epoch: the output needs one too */
    char summary[160];
    tp_ratelimit_stats_t st;
    uint8_t fwd[FWD_CAP];
};

static int open_producer(tp_ratelimit_t *rl)
{
    if (tp_producer_open(&rl->prod, &rl->ctx, rl->cfg.dest_stream_id, 1, rl->cfg.instance_id, rl->summary) != 0)
        return -1;
    tp_producer_mirror_meta(rl->prod, 0, rl->cfg.forward_metadata); /* RL-6.a: the source's metadata only */
    return 0;
}

/* A frame the source consumer let pass: copy it into the output stream at
 * the same seq, or drop and count it; never wait (RL-5.b). */
static void on_frame(void *clientd, const tp_frame_t *f)
{
    tp_ratelimit_t *rl = clientd;
    if (rl->source_epoch != f->epoch) { /* RL-7.a: a remap boundary on the source */
        if (rl->source_epoch != 0) {
            rl->reopen = 1;
            rl->st.source_restarts++;
        }
        rl->source_epoch = f->epoch;
    }
    if (rl->reopen || rl->prod == NULL || !tp_producer_is_active(rl->prod)) {
        rl->st.drops_no_slot++;
        return;
    }
    tp_shm_claim_t cl;
    if (tp_producer_claim_at(rl->prod, &f->header->tensor, f->len, f->seq, &cl) != 0) {
        rl->st.drops_no_slot++; /* fits no pool, or behind the output stream */
        return;
    }
    if (f->len > 0) memcpy(cl.payload, f->payload, f->len);
    if (!tp_frame_intact(f)) { /* overwritten while copied: the claim is never committed */
        rl->st.drops_no_slot++;
        return;
    }
    tp_producer_mirror_meta(rl->prod, f->header->meta_version, rl->cfg.forward_metadata); /* RL-5.a */
    if (tp_producer_commit_traced(rl->prod, &cl, f->header->timestamp_ns, f->trace_id) == 0) rl->st.frames_out++;
    else rl->st.drops_no_slot++;
}

/* DataSourceAnnounce/DataSourceMeta of the source stream, republished for
 * the output with stream_id (at offset 0 of both bodies) rewritten and
 * everything else, meta_version included, kept (RL-6.a). */
static void on_metadata(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    tp_ratelimit_t *rl = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0 || h.schema_id != TP_CONTROL_SCHEMA_ID || len < 12) return;
    if (h.template_id != TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID && h.template_id != TP_CONTROL_DATA_SOURCE_META_TEMPLATE_ID)
        return;
    if (tp_sbe_get_u32(buf + 8) != rl->cfg.source_stream_id) return; /* another stream's, or our own copy */
    int ok;
    if (h.template_id == TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID) {
        tp_control_data_source_announce_dec_t d;
        ok = tp_control_data_source_announce_decode(&d, buf, len) == 0;
    } else {
        tp_control_data_source_meta_dec_t d;
        ok = tp_control_data_source_meta_decode(&d, buf, len) == 0;
    }
    if (!ok || len > sizeof rl->fwd) {
        rl->st.metadata_refused++;
        return;
    }
    memcpy(rl->fwd, buf, len);
    tp_sbe_put_u32(rl->fwd + 8, rl->cfg.metadata_stream_id != 0 ? rl->cfg.metadata_stream_id : rl->cfg.dest_stream_id);
    if (tp_ipc_publication_offer(rl->meta_pub, rl->fwd, len) > 0) rl->st.metadata_forwarded++;
}

int tp_ratelimit_do_work(tp_ratelimit_t *rl, int64_t now_ns)
{
    int work = 0;
    if (rl->reopen) {
        /* RL-7.a/b: the source's seq starts again, so the output takes a new
         * epoch of its own: detach and attach anew */
        tp_producer_close(rl->prod);
        rl->prod = NULL;
        rl->reopen = 0;
        if (open_producer(rl) != 0) return -1;
        work++;
    }
    const int p = tp_producer_do_work(rl->prod, now_ns);
    if (p < 0) return -1;
    const int c = tp_consumer_poll(rl->cons, now_ns, on_frame, rl, 64);
    if (c < 0) return -1;
    work += p + c;
    if (rl->meta_sub != NULL) work += tp_ipc_subscription_poll(rl->meta_sub, on_metadata, rl, 16);
    return work;
}

int tp_ratelimit_open(tp_ratelimit_t **out, const tp_client_context_t *ctx, const tp_ratelimit_config_t *cfg)
{
    *out = NULL;
    if (tp_ratelimit_config_validate(cfg) != 0) return -1;
    tp_ratelimit_t *rl = calloc(1, sizeof *rl);
    if (rl == NULL) return tp_err_set(TP_ERR_CAPACITY, "ratelimit: out of memory");
    rl->ctx = *ctx;
    rl->cfg = *cfg;
    snprintf(rl->summary, sizeof rl->summary, "stream %u at most %u Hz", cfg->source_stream_id, cfg->max_rate_hz);
    tp_ipc_context_init(&rl->ipc);
    rl->ipc.base_dir = rl->ctx.base_dir;
    rl->ipc.namespace_name = rl->ctx.ns;
    if (open_producer(rl) != 0 || tp_consumer_open(&rl->cons, &rl->ctx, cfg->source_stream_id, 0) != 0 ||
        tp_consumer_set_max_rate(rl->cons, cfg->max_rate_hz) != 0 ||
        (cfg->forward_metadata &&
         (tp_ipc_subscription_open(&rl->meta_sub, &rl->ipc, rl->ctx.channel, rl->ctx.metadata_stream_id) != 0 ||
          tp_ipc_publication_open(&rl->meta_pub, &rl->ipc, rl->ctx.channel, rl->ctx.metadata_stream_id) != 0))) {
        tp_err_wrap("ratelimit %s", cfg->instance_id);
        tp_ratelimit_close(rl);
        return -1;
    }
    *out = rl;
    return 0;
}

void tp_ratelimit_stats(const tp_ratelimit_t *rl, tp_ratelimit_stats_t *out)
{
    *out = rl->st;
    out->source_epoch = tp_consumer_epoch(rl->cons);
    out->dest_epoch = rl->prod != NULL && tp_producer_is_active(rl->prod) ? tp_producer_epoch(rl->prod) : 0;
    tp_consumer_rate_stats_t r;
    tp_consumer_rate_stats(rl->cons, &r);
    out->frames_skipped = r.skipped_local + r.skipped_producer;
}

void tp_ratelimit_close(tp_ratelimit_t *rl)
{
    if (rl == NULL) return;
    tp_consumer_close(rl->cons);
    tp_producer_close(rl->prod);
    tp_ipc_subscription_close(rl->meta_sub);
    tp_ipc_publication_close(rl->meta_pub);
    free(rl);
}
