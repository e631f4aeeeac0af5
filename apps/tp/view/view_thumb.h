/* Thumbnails for tp view: the newest frame of an image-like stream (uint8,
 * HxW, HxWx1, HxWx3 or HxWx4, row-major), scaled down to at most
 * VIEW_THUMB_MAX_W pixels wide, as RGB bytes. Read like any consumer reads:
 * one seqlock attempt (begin, copy the sampled pixels, end); a frame
 * overwritten meanwhile is dropped, never retried, and no slot is held. */
#ifndef TP_APP_VIEW_THUMB_H
#define TP_APP_VIEW_THUMB_H

#include "tensorpool/monitor.h"
#include "tensorpool/shm_path.h"
#include "tensorpool/shm_reader.h"

#include <stdint.h>

#define VIEW_THUMB_MAX_W 160
#define VIEW_THUMB_MAX_H 160

typedef struct view_thumb_s {
    int mapped;
    uint64_t epoch;           /* of the mapping */
    tp_shm_reader_t r;
    /* the latest good thumbnail */
    int have;
    uint64_t seq;
    uint32_t src_h, src_w, src_c; /* the frame's shape */
    uint32_t w, h;
    uint8_t rgb[VIEW_THUMB_MAX_W * VIEW_THUMB_MAX_H * 3];
    uint8_t next[VIEW_THUMB_MAX_W * VIEW_THUMB_MAX_H * 3]; /* being sampled; kept only if the read held */
    /* counts */
    uint64_t reads, dropped;  /* attempts; attempts that failed (late, torn, invalid) */
    char why[96];             /* why there is no thumbnail, "" when there is */
} view_thumb_t;

/* Read frame `seq` of stream s into t (mapping s's announced regions under
 * bases first, or again after an epoch change). 1 if a new thumbnail was
 * made, 0 if not (t->why says why). */
int view_thumb_update(view_thumb_t *t, const tp_shm_bases_t *bases, const tp_monitor_stream_t *s, uint64_t seq,
                      int64_t now_ns);

/* Unmap (nobody watches any more). */
void view_thumb_release(view_thumb_t *t);

#endif
