/* A writer and a reader on one data source in a fresh temp base directory
 * (§7 setup: stream 10000, epoch 7, layout 1, N = 4, pool 1 stride 64). */
#ifndef TP_SHM_TEST_RIG_H
#define TP_SHM_TEST_RIG_H

#include "tensorpool/error.h"
#include "tensorpool/shm_reader.h"
#include "tensorpool/shm_writer.h"
#include "unit/shm_test_util.h"

typedef struct {
    char base[256];
    tp_shm_bases_t bases;
    tp_shm_writer_t w;
    tp_shm_reader_t r;
    char ring_uri[TP_SHM_PATH_MAX + 64];
    char pool_uri[TP_SHM_MAX_POOLS][TP_SHM_PATH_MAX + 64];
    tp_shm_reader_config_t rc;
} tp_test_rig_t;

/* Open the writer (pools as given) and fill rig->rc from its URIs. */
static inline int tp_test_rig_writer(tp_test_rig_t *rig, const char *tag, uint32_t nslots, unsigned npools,
                                     const tp_shm_pool_config_t *pools)
{
    memset(rig, 0, sizeof *rig);
    tp_test_mkdtemp(rig->base, sizeof rig->base, tag);
    const char *dirs[] = {rig->base};
    if (tp_shm_bases_init(&rig->bases, dirs, 1) != 0) return -1;
    tp_shm_writer_config_t cfg = {
        .base_dir = rig->base, .user = "tester", .ns = "test", .stream_id = 10000, .epoch = 7,
        .nslots = nslots, .npools = npools, .now_ns = tp_test_now_ns(),
    };
    memcpy(cfg.pools, pools, npools * sizeof pools[0]);
    if (tp_shm_writer_open(&rig->w, &cfg) != 0) return -1;
    tp_shm_reader_config_t *rc = &rig->rc;
    rc->stream_id = 10000;
    rc->epoch = 7;
    rc->layout_version = 1;
    rc->nslots = nslots;
    rc->ring_uri = rig->ring_uri;
    rc->ring_uri_len = (size_t)tp_shm_writer_ring_uri(&rig->w, rig->ring_uri, sizeof rig->ring_uri);
    rc->npools = rig->w.npools;
    for (unsigned i = 0; i < rig->w.npools; i++) {
        rc->pools[i].pool_id = rig->w.pool_id[i];
        rc->pools[i].stride_bytes = rig->w.stride[i];
        rc->pools[i].uri = rig->pool_uri[i];
        rc->pools[i].uri_len = (size_t)tp_shm_writer_pool_uri(&rig->w, i, rig->pool_uri[i], sizeof rig->pool_uri[i]);
    }
    rc->now_ns = tp_test_now_ns();
    rc->activity_window_ns = 3000000000ull;
    return 0;
}

static inline int tp_test_rig_open(tp_test_rig_t *rig, const char *tag, uint32_t nslots, unsigned npools,
                                   const tp_shm_pool_config_t *pools)
{
    if (tp_test_rig_writer(rig, tag, nslots, npools, pools) != 0) return -1;
    return tp_shm_reader_open(&rig->r, &rig->bases, &rig->rc);
}

static inline void tp_test_rig_close(tp_test_rig_t *rig)
{
    tp_shm_reader_close(&rig->r);
    tp_shm_writer_close(&rig->w, 1);
    tp_test_rmtree(rig->base);
}

#endif
