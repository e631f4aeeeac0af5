/* Discovery client (docs/spec/discovery.md §7): one request, one answer. */
#include "tensorpool/discovery.h"
#include "../ipc/ipc_doorbell.h"

#include "tensorpool/clock.h"
#include "tensorpool/codec/discovery.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct wait_s {
    uint64_t request_id;
    tp_discovery_result_t *out;
    uint32_t cap, count;
    int done;   /* 0 waiting, 1 answered */
    uint8_t status;
    char error[256];
} wait_t;

static void copy_text(char *dst, size_t cap, const char *src, uint32_t n)
{
    if (n >= cap) n = (uint32_t)cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void take_result(wait_t *w, const tp_discovery_discovery_response_results_iter_t *it)
{
#define RS(f) tp_discovery_discovery_response_results_##f
    /* DS-5.2.c: a result naming no driver endpoint is not usable */
    uint32_t n;
    RS(driver_control_channel)(it, &n);
    if (n == 0 || RS(driver_control_stream_id)(it) == 0 || w->count >= w->cap) return;
    tp_discovery_result_t *r = &w->out[w->count++];
    memset(r, 0, sizeof *r);
    r->stream_id = RS(stream_id)(it);
    r->producer_id = RS(producer_id)(it);
    r->epoch = RS(epoch)(it);
    r->layout_version = RS(layout_version)(it);
    r->header_nslots = RS(header_nslots)(it);
    r->header_slot_bytes = RS(header_slot_bytes)(it);
    r->max_dims = RS(max_dims)(it);
    r->data_source_id = RS(data_source_id)(it);
    r->driver_control_stream_id = RS(driver_control_stream_id)(it);
    const char *s;
    RS(payload_pools_iter_t) pi;
    RS(payload_pools_iter)(it, &pi);
    while (RS(payload_pools_next)(&pi) > 0 && r->npools < TP_SHM_MAX_POOLS) {
        r->pools[r->npools].pool_id = RS(payload_pools_pool_id)(&pi);
        r->pools[r->npools].pool_nslots = RS(payload_pools_pool_nslots)(&pi);
        r->pools[r->npools].stride_bytes = RS(payload_pools_stride_bytes)(&pi);
        s = RS(payload_pools_region_uri)(&pi, &n);
        copy_text(r->pools[r->npools].region_uri, sizeof r->pools[0].region_uri, s, n);
        r->npools++;
    }
    RS(tags_iter_t) ti;
    RS(tags_iter)(it, &ti);
    while (RS(tags_next)(&ti) > 0 && r->ntags < TP_DISCOVERY_MAX_TAGS) {
        s = RS(tags_tag)(&ti, &n);
        copy_text(r->tags[r->ntags++], TP_DISCOVERY_TAG_MAX, s, n);
    }
    s = RS(header_region_uri)(it, &n);
    copy_text(r->header_region_uri, sizeof r->header_region_uri, s, n);
    s = RS(data_source_name)(it, &n);
    copy_text(r->data_source_name, sizeof r->data_source_name, s, n);
    s = RS(driver_instance_id)(it, &n);
    copy_text(r->driver_instance_id, sizeof r->driver_instance_id, s, n);
    s = RS(driver_control_channel)(it, &n);
    copy_text(r->driver_control_channel, sizeof r->driver_control_channel, s, n);
#undef RS
}

static void on_answer(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    wait_t *w = clientd;
    tp_discovery_discovery_response_dec_t d;
    /* DS-10.a: the codec refuses other schemas and newer versions */
    if (w->done || tp_discovery_discovery_response_decode(&d, buf, len) != 0) return;
    if (tp_discovery_discovery_response_request_id(&d) != w->request_id) return; /* DS-5.2.a */
    w->done = 1;
    w->status = tp_discovery_discovery_response_status(&d);
    uint32_t n;
    const char *err = tp_discovery_discovery_response_error_message(&d, &n);
    copy_text(w->error, sizeof w->error, err, n);
    if (w->status != TP_DISCOVERY_DISCOVERY_STATUS_OK) return; /* DS-5.2.d: results ignored */
    tp_discovery_discovery_response_results_iter_t it;
    tp_discovery_discovery_response_results_iter(&d, &it);
    while (tp_discovery_discovery_response_results_next(&it) > 0) take_result(w, &it);
}

static long encode_request(const char *response_channel, const tp_discovery_query_t *q, uint64_t id,
                           int32_t response_stream, uint8_t *buf, size_t cap)
{
    tp_discovery_discovery_request_enc_t e;
    tp_discovery_discovery_request_encode_begin(&e, buf, cap);
    tp_discovery_discovery_request_set_request_id(&e, id);
    tp_discovery_discovery_request_set_client_id(&e, (uint32_t)getpid());
    tp_discovery_discovery_request_set_response_stream_id(&e, (uint32_t)response_stream);
    tp_discovery_discovery_request_set_stream_id(
        &e, q->stream_id != 0 ? q->stream_id : (uint32_t)TP_DISCOVERY_DISCOVERY_REQUEST_STREAM_ID_NULL_VALUE);
    tp_discovery_discovery_request_set_producer_id(&e, (uint32_t)TP_DISCOVERY_DISCOVERY_REQUEST_PRODUCER_ID_NULL_VALUE);
    tp_discovery_discovery_request_set_data_source_id(&e, TP_DISCOVERY_DISCOVERY_REQUEST_DATA_SOURCE_ID_NULL_VALUE);
    tp_discovery_discovery_request_tags_encode_begin(&e, (uint16_t)q->ntags);
    for (uint32_t i = 0; i < q->ntags; i++) {
        tp_discovery_discovery_request_tags_encode_next(&e);
        tp_discovery_discovery_request_tags_put_tag(&e, q->tags[i], strlen(q->tags[i]));
    }
    tp_discovery_discovery_request_put_response_channel(&e, response_channel, strlen(response_channel));
    if (q->data_source_name != NULL)
        tp_discovery_discovery_request_put_data_source_name(&e, q->data_source_name, strlen(q->data_source_name));
    return tp_discovery_discovery_request_encode_end(&e);
}

int tp_discovery_query(const tp_client_context_t *ctx, const tp_discovery_query_t *q, tp_discovery_result_t *out,
                       uint32_t cap, uint32_t *count)
{
    static unsigned seq;
    *count = 0;
    if (q->ntags > TP_DISCOVERY_MAX_TAGS) return tp_err_set(TP_ERR_INVALID_ARG, "discovery: at most %u tags", TP_DISCOVERY_MAX_TAGS);
    /* an answer stream of our own: the pid and a per-process counter */
    const int32_t rs = (int32_t)(0x30000000u + (((uint32_t)getpid() & 0xFFFFFu) << 4) + (seq++ & 15u));
    wait_t w = {.out = out, .cap = cap};
    w.request_id = ((uint64_t)tp_clock_realtime_ns() << 8) ^ (uint64_t)getpid() ^ seq;
    if (w.request_id == 0) w.request_id = 1;
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx->base_dir;
    ipc.namespace_name = ctx->ns;
    tp_ipc_subscription_t *sub = NULL;
    tp_ipc_publication_t *pub = NULL;
    uint8_t buf[4096];
    /* DS-D8: across hosts the request goes to the provider's endpoint and
     * the answer comes back to one of this host's */
    tp_discovery_config_t env; /* $DISCOVERY_CHANNEL, $DISCOVERY_STREAM_ID, as the provider reads them */
    tp_discovery_config_init(&env);
    const char *req_ch = q->request_channel != NULL && q->request_channel[0] ? q->request_channel
                         : env.request_channel[0]                           ? env.request_channel
                                                                            : ctx->channel;
    const char *resp_ch = q->response_channel != NULL && q->response_channel[0] ? q->response_channel : ctx->channel;
    const int32_t req_stream = q->request_stream_id > 0    ? q->request_stream_id
                               : env.request_stream_id > 0 ? env.request_stream_id
                                                           : ctx->control_stream_id;
    const long n = encode_request(resp_ch, q, w.request_id, rs, buf, sizeof buf);
    /* a provider in a driver sleeping on the control stream wakes for it (src/ipc/ipc_doorbell.h) */
    char req_waking[sizeof env.request_channel + 16];
    int rc = -1;
    if (n < 0) {
        tp_err_wrap("discovery request");
    } else if (tp_ipc_subscription_open(&sub, &ipc, resp_ch, rs) != 0 ||
               tp_ipc_publication_open(&pub, &ipc, tp_ipc_waking_channel(req_waking, sizeof req_waking, req_ch),
                                       req_stream) != 0) {
        tp_err_wrap("discovery");
    } else {
        const int64_t timeout = q->timeout_ns > 0 ? q->timeout_ns : 2000000000LL;
        const int64_t deadline = tp_clock_monotonic_ns() + timeout;
        int sent = 0;
        while (!w.done && tp_clock_monotonic_ns() < deadline) {
            if (!sent) sent = tp_ipc_publication_offer(pub, buf, (size_t)n) > 0;
            if (tp_ipc_subscription_poll(sub, on_answer, &w, 16) <= 0) {
                const struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
        }
        if (!w.done)
            tp_err_set(TP_ERR_STATE, "discovery: no answer within %.1f s (is a provider running?)", (double)timeout / 1e9);
        else if (w.status == TP_DISCOVERY_DISCOVERY_STATUS_OK)
            rc = 0;
        else if (w.status == TP_DISCOVERY_DISCOVERY_STATUS_NOT_FOUND)
            rc = 1;
        else
            tp_err_set(TP_ERR_STATE, "discovery: provider answered ERROR: %s", w.error);
    }
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
    *count = w.count;
    return rc;
}
