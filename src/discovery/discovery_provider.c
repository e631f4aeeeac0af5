/* Discovery provider (docs/spec/discovery.md): a registry fed by the
 * announces of one or several drivers (DS-D9) and their producers'
 * metadata, answering requests read on the first driver's control stream or
 * on a request channel of their own (DS-D8). */
#include "tensorpool/discovery.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/codec/discovery.h"
#include "tensorpool/driver_config.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 256
#define MAX_PUBS 8
#define TX_CAP (64u * 1024u)
#define MAX_PENDING 4
#define PENDING_NS 3000000000LL

typedef struct entry_s {
    int used;
    unsigned drv;    /* DS-6.1.a: keyed by (driver, stream id) */
    int announced;   /* a ShmPoolAnnounce filled the layout */
    int64_t seen_ns; /* last ShmPoolAnnounce */
    tp_discovery_result_t r;
} entry_t;

typedef struct pub_s {
    tp_ipc_publication_t *pub;
    char channel[256];
    int32_t stream_id;
    int64_t used_ns;
} pub_t;

/* One driver followed: its deployment, subscriptions and identity. */
typedef struct source_s {
    tp_discovery_t *p;
    unsigned idx;
    tp_client_context_t client;
    char instance[64];
    int64_t expiry_ns;
    tp_ipc_context_t ipc;
    tp_ipc_subscription_t *ctl, *ann, *meta;
} source_t;

/* An answer not yet taken: over aeron:udp a new publication is not
 * connected for its first milliseconds, so the answer is offered again
 * from do_work until it goes or PENDING_NS pass. */
typedef struct pending_s {
    int64_t deadline_ns; /* 0: free */
    char channel[256];
    int32_t stream_id;
    size_t len;
    uint8_t buf[TX_CAP];
} pending_t;

struct tp_discovery_s {
    tp_discovery_config_t cfg;
    source_t src[TP_DISCOVERY_MAX_DRIVERS];
    unsigned nsrc;
    source_t req;            /* the request subscription when it has a channel or stream of its own */
    entry_t e[MAX_ENTRIES];
    pub_t pubs[MAX_PUBS];
    int64_t now;
    tp_discovery_stats_t st;
    uint8_t tx[TX_CAP];
    pending_t pending[MAX_PENDING];
};

void tp_discovery_config_init(tp_discovery_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    tp_client_context_init(&cfg->client);
    snprintf(cfg->driver_instance_id, sizeof cfg->driver_instance_id, "local");
    const char *v = getenv("DISCOVERY_CHANNEL");
    if (v != NULL && strlen(v) < sizeof cfg->request_channel)
        snprintf(cfg->request_channel, sizeof cfg->request_channel, "%s", v);
    v = getenv("DISCOVERY_STREAM_ID");
    char *end = NULL;
    const long id = v != NULL ? strtol(v, &end, 10) : 0;
    if (v != NULL && end != v && *end == '\0' && id > 0 && id <= INT32_MAX) cfg->request_stream_id = (int32_t)id;
}

int tp_discovery_config_add_driver(tp_discovery_config_t *cfg, const tp_client_context_t *client,
                                   const char *driver_instance_id)
{
    if (cfg->nextra >= TP_DISCOVERY_MAX_DRIVERS - 1)
        return tp_err_set(TP_ERR_INVALID_ARG, "discovery: at most %u drivers", TP_DISCOVERY_MAX_DRIVERS);
    if (driver_instance_id == NULL || driver_instance_id[0] == '\0' ||
        strlen(driver_instance_id) >= sizeof cfg->driver_instance_id)
        return tp_err_set(TP_ERR_INVALID_ARG, "discovery: a driver needs an instance id of 1..63 bytes");
    int dup = strcmp(cfg->driver_instance_id, driver_instance_id) == 0;
    for (uint32_t i = 0; i < cfg->nextra; i++) dup |= strcmp(cfg->extra[i].driver_instance_id, driver_instance_id) == 0;
    if (dup) return tp_err_set(TP_ERR_INVALID_ARG, "discovery: driver instance id '%s' given twice", driver_instance_id);
    tp_discovery_driver_t *d = &cfg->extra[cfg->nextra++];
    d->client = *client;
    snprintf(d->driver_instance_id, sizeof d->driver_instance_id, "%s", driver_instance_id);
    return 0;
}

void tp_discovery_config_from_driver(tp_discovery_config_t *cfg, const tp_driver_config_t *d)
{
    tp_discovery_config_init(cfg);
    tp_client_context_t *c = &cfg->client;
    snprintf(c->base_dir, sizeof c->base_dir, "%s", d->base_dir);
    snprintf(c->ns, sizeof c->ns, "%s", d->ns);
    snprintf(c->channel, sizeof c->channel, "%s", d->control_channel);
    c->control_stream_id = (int32_t)d->control_stream_id;
    c->announce_stream_id = (int32_t)d->announce_stream_id;
    c->announce_period_ns = (int64_t)d->announce_period_ms * 1000000;
    snprintf(cfg->driver_instance_id, sizeof cfg->driver_instance_id, "%s", d->instance_id[0] ? d->instance_id : "local");
}

static void copy_text(char *dst, size_t cap, const char *src, uint32_t n)
{
    if (n >= cap) n = (uint32_t)cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int expired(const tp_discovery_t *p, const entry_t *x, int64_t now);

static entry_t *entry_for(tp_discovery_t *p, unsigned drv, uint32_t stream_id, int create)
{
    entry_t *free_slot = NULL, *stale = NULL;
    for (unsigned i = 0; i < MAX_ENTRIES; i++) {
        if (p->e[i].used && p->e[i].drv == drv && p->e[i].r.stream_id == stream_id) return &p->e[i];
        if (!p->e[i].used && free_slot == NULL) free_slot = &p->e[i];
        if (p->e[i].used && stale == NULL && expired(p, &p->e[i], p->now)) stale = &p->e[i];
    }
    if (free_slot == NULL) free_slot = stale; /* full: a stream gone for longer than the expiry makes room */
    if (!create || free_slot == NULL) return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = 1;
    free_slot->drv = drv;
    free_slot->r.stream_id = stream_id;
    free_slot->r.data_source_id = UINT64_MAX;
    return free_slot;
}

static int expired(const tp_discovery_t *p, const entry_t *x, int64_t now)
{
    return now - x->seen_ns > p->src[x->drv].expiry_ns;
}

/* DS-D4: listed while announced recently with a producer attached. */
static int listed(const tp_discovery_t *p, const entry_t *x, int64_t now)
{
    return x->used && x->announced && x->r.producer_id != 0 && !expired(p, x, now);
}

static void on_announce(source_t *src, const uint8_t *buf, size_t len)
{
    tp_discovery_t *p = src->p;
    tp_control_shm_pool_announce_dec_t d;
    if (tp_control_shm_pool_announce_decode(&d, buf, len) != 0) return;
    entry_t *x = entry_for(p, src->idx, tp_control_shm_pool_announce_stream_id(&d), 1);
    if (x == NULL) return;
    const uint64_t epoch = tp_control_shm_pool_announce_epoch(&d);
    /* DS-6.3.a: an older epoch only once the entry has expired (the driver
     * restarted and counts anew) */
    if (x->announced && epoch < x->r.epoch && !expired(p, x, p->now)) return;
    tp_discovery_result_t *r = &x->r;
    r->producer_id = tp_control_shm_pool_announce_producer_id(&d);
    r->epoch = epoch;
    r->layout_version = tp_control_shm_pool_announce_layout_version(&d);
    r->header_nslots = tp_control_shm_pool_announce_header_nslots(&d);
    r->header_slot_bytes = tp_control_shm_pool_announce_header_slot_bytes(&d);
    r->max_dims = TP_CONTROL_TENSOR_HEADER_DIMS_LENGTH;
    r->driver_control_stream_id = (uint32_t)src->client.control_stream_id; /* DS-D7, DS-6.4.a */
    snprintf(r->driver_instance_id, sizeof r->driver_instance_id, "%s", src->instance);
    snprintf(r->driver_control_channel, sizeof r->driver_control_channel, "%s", src->client.channel);
    uint32_t n;
    const char *s = tp_control_shm_pool_announce_header_region_uri(&d, &n);
    copy_text(r->header_region_uri, sizeof r->header_region_uri, s, n);
    r->npools = 0;
    tp_control_shm_pool_announce_payload_pools_iter_t it;
    tp_control_shm_pool_announce_payload_pools_iter(&d, &it);
    while (tp_control_shm_pool_announce_payload_pools_next(&it) > 0 && r->npools < TP_SHM_MAX_POOLS) {
        r->pools[r->npools].pool_id = tp_control_shm_pool_announce_payload_pools_pool_id(&it);
        r->pools[r->npools].pool_nslots = tp_control_shm_pool_announce_payload_pools_pool_nslots(&it);
        r->pools[r->npools].stride_bytes = tp_control_shm_pool_announce_payload_pools_stride_bytes(&it);
        s = tp_control_shm_pool_announce_payload_pools_region_uri(&it, &n);
        copy_text(r->pools[r->npools].region_uri, sizeof r->pools[0].region_uri, s, n);
        r->npools++;
    }
    x->announced = 1;
    x->seen_ns = p->now;
    p->st.announces++;
}

static void on_source(source_t *src, const uint8_t *buf, size_t len)
{
    tp_discovery_t *p = src->p;
    tp_control_data_source_announce_dec_t d;
    if (tp_control_data_source_announce_decode(&d, buf, len) != 0) return;
    entry_t *x = entry_for(p, src->idx, tp_control_data_source_announce_stream_id(&d), 1);
    if (x == NULL) return;
    uint32_t n;
    const char *s = tp_control_data_source_announce_name(&d, &n);
    copy_text(x->r.data_source_name, sizeof x->r.data_source_name, s, n); /* DS-5.2.b: as announced */
}

/* DS-D5: tags are the values of attributes keyed "tag"; attributes keyed
 * "dtype" and "shape" become the tags "dtype=V" and "shape=V", so a request
 * can filter on them with the protocol's tags. */
static void on_meta(source_t *src, const uint8_t *buf, size_t len)
{
    tp_discovery_t *p = src->p;
    tp_control_data_source_meta_dec_t d;
    if (tp_control_data_source_meta_decode(&d, buf, len) != 0) return;
    entry_t *x = entry_for(p, src->idx, tp_control_data_source_meta_stream_id(&d), 1);
    if (x == NULL) return;
    x->r.ntags = 0;
    tp_control_data_source_meta_attributes_iter_t it;
    tp_control_data_source_meta_attributes_iter(&d, &it);
    while (tp_control_data_source_meta_attributes_next(&it) > 0 && x->r.ntags < TP_DISCOVERY_MAX_TAGS) {
        uint32_t kn, vn;
        const char *k = tp_control_data_source_meta_attributes_key(&it, &kn);
        const uint8_t *v = tp_control_data_source_meta_attributes_value(&it, &vn);
        if (vn == 0) continue;
        if (kn == 3 && memcmp(k, "tag", 3) == 0) {
            copy_text(x->r.tags[x->r.ntags++], TP_DISCOVERY_TAG_MAX, (const char *)v, vn);
        } else if ((kn == 5 && memcmp(k, "dtype", 5) == 0) || (kn == 5 && memcmp(k, "shape", 5) == 0)) {
            char *t = x->r.tags[x->r.ntags++];
            memcpy(t, k, 5);
            t[5] = '=';
            copy_text(t + 6, TP_DISCOVERY_TAG_MAX - 6, (const char *)v, vn);
        }
    }
}

static int has_tag(const tp_discovery_result_t *r, const char *t, uint32_t n)
{
    for (uint32_t i = 0; i < r->ntags; i++)
        if (strlen(r->tags[i]) == n && memcmp(r->tags[i], t, n) == 0) return 1;
    return 0;
}

/* DS-5.1.a: every filter given must hold. */
static int matches(const entry_t *x, const tp_discovery_discovery_request_dec_t *q)
{
    const tp_discovery_result_t *r = &x->r;
    if (tp_discovery_discovery_request_stream_id_is_present(q) && tp_discovery_discovery_request_stream_id(q) != r->stream_id)
        return 0;
    if (tp_discovery_discovery_request_producer_id_is_present(q) &&
        tp_discovery_discovery_request_producer_id(q) != r->producer_id)
        return 0;
    if (tp_discovery_discovery_request_data_source_id_is_present(q) &&
        tp_discovery_discovery_request_data_source_id(q) != r->data_source_id)
        return 0;
    uint32_t n;
    const char *name = tp_discovery_discovery_request_data_source_name(q, &n);
    if (n > 0 && (strlen(r->data_source_name) != n || memcmp(r->data_source_name, name, n) != 0)) return 0;
    tp_discovery_discovery_request_tags_iter_t it;
    tp_discovery_discovery_request_tags_iter(q, &it);
    while (tp_discovery_discovery_request_tags_next(&it) > 0) {
        const char *t = tp_discovery_discovery_request_tags_tag(&it, &n);
        if (!has_tag(r, t, n)) return 0;
    }
    return 1;
}

static tp_ipc_publication_t *pub_for(tp_discovery_t *p, const char *channel, uint32_t channel_len, int32_t stream_id)
{
    char ch[256];
    copy_text(ch, sizeof ch, channel, channel_len);
    pub_t *lru = &p->pubs[0];
    for (unsigned i = 0; i < MAX_PUBS; i++) {
        pub_t *b = &p->pubs[i];
        if (b->pub != NULL && b->stream_id == stream_id && strcmp(b->channel, ch) == 0) {
            b->used_ns = p->now;
            return b->pub;
        }
        if (b->pub == NULL || b->used_ns < lru->used_ns) lru = b;
        if (b->pub == NULL) break;
    }
    tp_ipc_publication_close(lru->pub);
    lru->pub = NULL;
    if (tp_ipc_publication_open(&lru->pub, &p->src[0].ipc, ch, stream_id) != 0) return NULL;
    snprintf(lru->channel, sizeof lru->channel, "%s", ch);
    lru->stream_id = stream_id;
    lru->used_ns = p->now;
    return lru->pub;
}

static void put_result(tp_discovery_discovery_response_enc_t *e, const tp_discovery_result_t *r)
{
#define RS(f) tp_discovery_discovery_response_results_##f
    RS(encode_next)(e);
    RS(set_stream_id)(e, r->stream_id);
    RS(set_producer_id)(e, r->producer_id);
    RS(set_epoch)(e, r->epoch);
    RS(set_layout_version)(e, r->layout_version);
    RS(set_header_nslots)(e, r->header_nslots);
    RS(set_header_slot_bytes)(e, r->header_slot_bytes);
    RS(set_max_dims)(e, r->max_dims);
    RS(set_data_source_id)(e, r->data_source_id);
    RS(set_driver_control_stream_id)(e, r->driver_control_stream_id);
    RS(payload_pools_encode_begin)(e, (uint16_t)r->npools);
    for (uint32_t i = 0; i < r->npools; i++) {
        RS(payload_pools_encode_next)(e);
        RS(payload_pools_set_pool_id)(e, r->pools[i].pool_id);
        RS(payload_pools_set_pool_nslots)(e, r->pools[i].pool_nslots);
        RS(payload_pools_set_stride_bytes)(e, r->pools[i].stride_bytes);
        RS(payload_pools_put_region_uri)(e, r->pools[i].region_uri, strlen(r->pools[i].region_uri));
    }
    RS(tags_encode_begin)(e, (uint16_t)r->ntags); /* DS-5.2.b: the full tag set */
    for (uint32_t i = 0; i < r->ntags; i++) {
        RS(tags_encode_next)(e);
        RS(tags_put_tag)(e, r->tags[i], strlen(r->tags[i]));
    }
    RS(put_header_region_uri)(e, r->header_region_uri, strlen(r->header_region_uri));
    RS(put_data_source_name)(e, r->data_source_name, strlen(r->data_source_name));
    RS(put_driver_instance_id)(e, r->driver_instance_id, strlen(r->driver_instance_id));
    RS(put_driver_control_channel)(e, r->driver_control_channel, strlen(r->driver_control_channel));
#undef RS
}

static long encode_answer(tp_discovery_t *p, const tp_discovery_discovery_request_dec_t *q, uint8_t status,
                          const char *error)
{
    tp_discovery_discovery_response_enc_t e;
    tp_discovery_discovery_response_encode_begin(&e, p->tx, sizeof p->tx);
    tp_discovery_discovery_response_set_request_id(&e, tp_discovery_discovery_request_request_id(q));
    tp_discovery_discovery_response_set_status(&e, status);
    if (status == TP_DISCOVERY_DISCOVERY_STATUS_OK) {
        uint16_t n = 0;
        for (unsigned i = 0; i < MAX_ENTRIES; i++)
            if (listed(p, &p->e[i], p->now) && matches(&p->e[i], q)) n++;
        tp_discovery_discovery_response_results_encode_begin(&e, n);
        for (unsigned i = 0; i < MAX_ENTRIES; i++)
            if (listed(p, &p->e[i], p->now) && matches(&p->e[i], q)) put_result(&e, &p->e[i].r);
    } else {
        tp_discovery_discovery_response_put_error_message(&e, error, strlen(error)); /* DS-5.2.d: no results */
    }
    return tp_discovery_discovery_response_encode_end(&e);
}

static void on_request(tp_discovery_t *p, const uint8_t *buf, size_t len)
{
    tp_discovery_discovery_request_dec_t q;
    if (tp_discovery_discovery_request_decode(&q, buf, len) != 0) {
        p->st.dropped++;
        return;
    }
    uint32_t chn;
    const char *ch = tp_discovery_discovery_request_response_channel(&q, &chn);
    if (chn == 0 || chn >= 256) { /* DS-5.1.b: nowhere to answer */
        p->st.dropped++;
        return;
    }
    const uint32_t rs = tp_discovery_discovery_request_response_stream_id(&q);
    const int32_t stream = rs == 0 || rs > INT32_MAX ? 0 : (int32_t)rs;
    tp_ipc_publication_t *pub = pub_for(p, ch, chn, stream);
    long n;
    if (rs == 0 || rs > INT32_MAX) {
        n = encode_answer(p, &q, TP_DISCOVERY_DISCOVERY_STATUS_ERROR, "response stream id must be 1..2^31-1");
    } else {
        uint32_t count = 0;
        for (unsigned i = 0; i < MAX_ENTRIES; i++)
            if (listed(p, &p->e[i], p->now) && matches(&p->e[i], &q)) count++;
        n = count > p->cfg.max_results
                ? encode_answer(p, &q, TP_DISCOVERY_DISCOVERY_STATUS_ERROR, "too many results: narrow the filters")
                : encode_answer(p, &q, TP_DISCOVERY_DISCOVERY_STATUS_OK, "");
        if (n < 0) n = encode_answer(p, &q, TP_DISCOVERY_DISCOVERY_STATUS_ERROR, "answer too large: narrow the filters");
    }
    if (pub != NULL && n >= 0 && tp_ipc_publication_offer(pub, p->tx, (size_t)n) > 0) {
        p->st.requests++;
        return;
    }
    pending_t *pd = NULL;
    for (unsigned i = 0; i < MAX_PENDING && pd == NULL; i++)
        if (p->pending[i].deadline_ns == 0) pd = &p->pending[i];
    if (pub == NULL || n < 0 || pd == NULL) {
        p->st.send_failed++;
        return;
    }
    pd->deadline_ns = p->now + PENDING_NS;
    copy_text(pd->channel, sizeof pd->channel, ch, chn);
    pd->stream_id = stream;
    pd->len = (size_t)n;
    memcpy(pd->buf, p->tx, (size_t)n);
}

/* Offer the answers still waiting for their publication to connect. */
static int retry_pending(tp_discovery_t *p)
{
    int w = 0;
    for (unsigned i = 0; i < MAX_PENDING; i++) {
        pending_t *pd = &p->pending[i];
        if (pd->deadline_ns == 0) continue;
        tp_ipc_publication_t *pub = pub_for(p, pd->channel, (uint32_t)strlen(pd->channel), pd->stream_id);
        if (pub != NULL && tp_ipc_publication_offer(pub, pd->buf, pd->len) > 0) {
            p->st.requests++;
            p->st.delayed++;
            pd->deadline_ns = 0;
            w++;
        } else if (p->now > pd->deadline_ns) {
            p->st.send_failed++;
            pd->deadline_ns = 0;
        }
    }
    return w;
}

/* Requests are taken only where this provider reads them: the request
 * subscription of its own, else the first driver's control stream. */
static int takes_requests(const tp_discovery_t *p, const source_t *src)
{
    return p->req.ctl != NULL ? src == &p->req : src->idx == 0;
}

static void on_message(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    source_t *src = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) != 0) return;
    /* DS-4.2.a: the schema id picks the decoder; anything else is not ours */
    if (h.schema_id == TP_DISCOVERY_SCHEMA_ID && h.template_id == TP_DISCOVERY_DISCOVERY_REQUEST_TEMPLATE_ID) {
        if (takes_requests(src->p, src)) on_request(src->p, buf, len);
    } else if (h.schema_id != TP_CONTROL_SCHEMA_ID || src == &src->p->req) {
        return;
    } else if (h.template_id == TP_CONTROL_SHM_POOL_ANNOUNCE_TEMPLATE_ID) {
        on_announce(src, buf, len);
    } else if (h.template_id == TP_CONTROL_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID) {
        on_source(src, buf, len);
    } else if (h.template_id == TP_CONTROL_DATA_SOURCE_META_TEMPLATE_ID) {
        on_meta(src, buf, len);
    }
}

static int source_open(tp_discovery_t *p, unsigned idx, const tp_client_context_t *c, const char *instance)
{
    source_t *s = &p->src[idx];
    s->p = p;
    s->idx = idx;
    s->client = *c;
    snprintf(s->instance, sizeof s->instance, "%s", instance);
    s->expiry_ns = p->cfg.expiry_ns > 0 ? p->cfg.expiry_ns : 3 * c->announce_period_ns;
    tp_ipc_context_init(&s->ipc);
    s->ipc.base_dir = s->client.base_dir;
    s->ipc.namespace_name = s->client.ns;
    const tp_client_context_t *k = &s->client;
    if (tp_ipc_subscription_open(&s->ctl, &s->ipc, k->channel, k->control_stream_id) != 0 ||
        (k->announce_stream_id != 0 && k->announce_stream_id != k->control_stream_id &&
         tp_ipc_subscription_open(&s->ann, &s->ipc, k->channel, k->announce_stream_id) != 0) ||
        tp_ipc_subscription_open(&s->meta, &s->ipc, k->channel, k->metadata_stream_id) != 0)
        return tp_err_wrap("discovery: driver '%s'", instance);
    return 0;
}

static int source_poll(source_t *s)
{
    int w = s->ctl != NULL ? tp_ipc_subscription_poll(s->ctl, on_message, s, 64) : 0;
    if (s->ann != NULL) w += tp_ipc_subscription_poll(s->ann, on_message, s, 64);
    if (s->meta != NULL) w += tp_ipc_subscription_poll(s->meta, on_message, s, 64);
    return w;
}

static void source_close(source_t *s)
{
    tp_ipc_subscription_close(s->ctl);
    tp_ipc_subscription_close(s->ann);
    tp_ipc_subscription_close(s->meta);
    s->ctl = s->ann = s->meta = NULL;
}

int tp_discovery_create(const tp_discovery_config_t *cfg, tp_discovery_t **out)
{
    *out = NULL;
    tp_discovery_t *p = calloc(1, sizeof *p);
    if (p == NULL) return tp_err_set(TP_ERR_CAPACITY, "discovery: out of memory");
    p->cfg = *cfg;
    if (p->cfg.max_results == 0) p->cfg.max_results = 1000;
    if (p->cfg.nextra > TP_DISCOVERY_MAX_DRIVERS - 1) p->cfg.nextra = TP_DISCOVERY_MAX_DRIVERS - 1;
    int rc = source_open(p, 0, &p->cfg.client, p->cfg.driver_instance_id);
    for (uint32_t i = 0; rc == 0 && i < p->cfg.nextra; i++) {
        p->nsrc = i + 1;
        rc = source_open(p, i + 1, &p->cfg.extra[i].client, p->cfg.extra[i].driver_instance_id);
    }
    p->nsrc = p->cfg.nextra + 1;
    /* DS-D8: a request channel or stream of its own, opened in the first
     * driver's deployment (its media driver for aeron:) */
    const tp_client_context_t *c = &p->cfg.client;
    const char *rch = p->cfg.request_channel[0] != '\0' ? p->cfg.request_channel : c->channel;
    const int32_t rsid = p->cfg.request_stream_id > 0 ? p->cfg.request_stream_id : c->control_stream_id;
    p->req.p = p;
    p->req.idx = 0;
    if (rc == 0 && (strcmp(rch, c->channel) != 0 || rsid != c->control_stream_id) &&
        tp_ipc_subscription_open(&p->req.ctl, &p->src[0].ipc, rch, rsid) != 0)
        rc = tp_err_wrap("discovery: request channel '%s' stream %d", rch, (int)rsid);
    if (rc != 0) {
        tp_discovery_destroy(p);
        return -1;
    }
    *out = p;
    return 0;
}

int tp_discovery_do_work(tp_discovery_t *p, int64_t now_ns)
{
    p->now = now_ns;
    int w = retry_pending(p) + source_poll(&p->req);
    for (unsigned i = 0; i < p->nsrc; i++) w += source_poll(&p->src[i]);
    return w;
}

void tp_discovery_stats(const tp_discovery_t *p, int64_t now_ns, tp_discovery_stats_t *out)
{
    *out = p->st;
    out->streams = 0;
    for (unsigned i = 0; i < MAX_ENTRIES; i++)
        if (listed(p, &p->e[i], now_ns)) out->streams++;
}

void tp_discovery_destroy(tp_discovery_t *p)
{
    if (p == NULL) return;
    for (unsigned i = 0; i < MAX_PUBS; i++) tp_ipc_publication_close(p->pubs[i].pub);
    source_close(&p->req);
    for (unsigned i = 0; i < p->nsrc; i++) source_close(&p->src[i]);
    free(p);
}
