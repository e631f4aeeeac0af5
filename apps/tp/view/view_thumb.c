/* tp view thumbnails: see view_thumb.h. */
#include "view_thumb.h"

#include "tensorpool/error.h"

#include <stdio.h>
#include <string.h>

void view_thumb_release(view_thumb_t *t)
{
    if (t->mapped) tp_shm_reader_close(&t->r);
    t->mapped = 0;
}

static int map(view_thumb_t *t, const tp_shm_bases_t *bases, const tp_monitor_stream_t *s, int64_t now_ns)
{
    view_thumb_release(t);
    tp_shm_reader_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stream_id = s->stream_id;
    cfg.epoch = s->epoch;
    cfg.layout_version = s->layout_version;
    cfg.nslots = s->header_nslots;
    cfg.ring_uri = s->ring_uri;
    cfg.ring_uri_len = strlen(s->ring_uri);
    cfg.npools = s->pool_count < TP_SHM_MAX_POOLS ? s->pool_count : TP_SHM_MAX_POOLS;
    for (unsigned i = 0; i < cfg.npools; i++) {
        cfg.pools[i].pool_id = s->pool_id[i];
        cfg.pools[i].stride_bytes = s->pool_stride[i];
        cfg.pools[i].uri = s->pool_uri[i];
        cfg.pools[i].uri_len = strlen(s->pool_uri[i]);
    }
    cfg.now_ns = (uint64_t)now_ns;
    cfg.activity_window_ns = 0; /* the monitor judges liveness; an idle stream still shows its last frame */
    if (tp_shm_reader_open(&t->r, bases, &cfg) != 0) {
        snprintf(t->why, sizeof t->why, "cannot map: %.80s", tp_errmsg());
        return -1;
    }
    t->mapped = 1;
    t->epoch = s->epoch;
    return 0;
}

/* The image shape of a tensor, or 0 if it is not one we draw. */
static int image_shape(const tp_tensor_header_t *h, uint32_t *H, uint32_t *W, uint32_t *C)
{
    if (h->dtype != TP_CONTROL_DTYPE_UINT8 || h->major_order != TP_CONTROL_MAJOR_ORDER_ROW) return 0;
    if (h->ndims == 2 || (h->ndims == 3 && (h->dims[2] == 1 || h->dims[2] == 3 || h->dims[2] == 4))) {
        *H = (uint32_t)h->dims[0];
        *W = (uint32_t)h->dims[1];
        *C = h->ndims == 3 ? (uint32_t)h->dims[2] : 1;
        return *H > 0 && *W > 0;
    }
    return 0;
}

int view_thumb_update(view_thumb_t *t, const tp_shm_bases_t *bases, const tp_monitor_stream_t *s, uint64_t seq,
                      int64_t now_ns)
{
    if (!s->announced || s->ring_uri[0] == '\0') {
        snprintf(t->why, sizeof t->why, "no announce yet");
        return 0;
    }
    if ((!t->mapped || t->epoch != s->epoch) && map(t, bases, s, now_ns) != 0) return 0;
    if (t->have && seq == t->seq) return 0;
    tp_shm_view_t v;
    t->reads++;
    if (tp_shm_reader_begin(&t->r, seq, &v) != TP_SHM_READ_OK) {
        t->dropped++;
        return 0;
    }
    uint32_t H, W, C;
    if (!image_shape(&v.header.tensor, &H, &W, &C) || v.payload == NULL) {
        snprintf(t->why, sizeof t->why, "not an image (uint8 HxW[x1|3|4])");
        tp_shm_reader_end(&t->r, &v);
        return 0;
    }
    /* Every k-th pixel of every k-th row, k so that the thumbnail fits. */
    uint32_t k = (W + VIEW_THUMB_MAX_W - 1) / VIEW_THUMB_MAX_W;
    const uint32_t kh = (H + VIEW_THUMB_MAX_H - 1) / VIEW_THUMB_MAX_H;
    if (kh > k) k = kh;
    const uint32_t w = W / k, h = H / k;
    const int64_t rs = v.strides[0], ps = v.strides[1];
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *px = v.payload + (int64_t)(y * k) * rs + (int64_t)(x * k) * ps;
            uint8_t *o = t->next + ((size_t)y * w + x) * 3;
            o[0] = px[0];
            o[1] = C >= 3 ? px[1] : px[0];
            o[2] = C >= 3 ? px[2] : px[0];
        }
    if (tp_shm_reader_end(&t->r, &v) != TP_SHM_READ_OK) { /* overwritten while we copied: drop it */
        t->dropped++;
        return 0;
    }
    memcpy(t->rgb, t->next, (size_t)w * h * 3);
    t->w = w;
    t->h = h;
    t->src_h = H;
    t->src_w = W;
    t->src_c = C;
    t->seq = seq;
    t->have = 1;
    t->why[0] = '\0';
    return 1;
}
