/* MergeMap aligner (merge_map_aligner.h): a two-input sequence offset kept
 * true to the inputs' epochs by capture time. */
#include "tensorpool/merge_map_aligner.h"

#include "tensorpool/consumer.h"
#include "tensorpool/error.h"
#include "tensorpool/merge_map.h"

#include <stdlib.h>
#include <string.h>

#define HISTORY 64 /* reference frames remembered (current epoch): how far apart two inputs may be read */

struct tp_merge_aligner_s {
    tp_merge_aligner_config_t cfg;
    tp_merge_authority_t *auth;
    tp_merge_map_t map;            /* the map put last */
    tp_consumer_t *in[2];          /* 0: reference, 1: other */
    uint64_t epoch[2];             /* newest frame's epoch per input, 0: none yet */
    uint64_t map_epoch[2];         /* input epochs the map relates; 0: not known yet; UINT64_MAX: none */
    uint64_t ref_ts[HISTORY], ref_seq[HISTORY];
    uint32_t ref_next, ref_count;
    int have;                      /* `offset` derived from frames of input epochs off_epoch */
    int64_t offset;
    uint64_t off_epoch[2];
    int64_t last_bump_ns;
    uint64_t want;                 /* epoch a join asked for */
    uint64_t maps;
};

static void on_frame(void *clientd, const tp_frame_t *f)
{
    tp_merge_aligner_t *al = clientd;
    const int k = f->stream_id == al->cfg.ref_stream_id ? 0 : 1;
    const uint64_t ts = f->header->timestamp_ns; /* capture time: equal for one tick on both inputs */
    if (f->epoch != al->epoch[k]) {
        al->epoch[k] = f->epoch;
        if (k == 0) al->ref_count = 0;
    }
    if (k == 0) {
        al->ref_ts[al->ref_next] = ts;
        al->ref_seq[al->ref_next] = f->seq;
        al->ref_next = (al->ref_next + 1) % HISTORY;
        if (al->ref_count < HISTORY) al->ref_count++;
        return;
    }
    for (uint32_t i = 0; i < al->ref_count; i++) {
        if (al->ref_ts[i] != ts) continue;
        al->offset = (int64_t)f->seq - (int64_t)al->ref_seq[i];
        al->off_epoch[0] = al->epoch[0];
        al->off_epoch[1] = al->epoch[1];
        al->have = 1;
        return;
    }
}

static int poll_inputs(tp_merge_aligner_t *al, int64_t now)
{
    int w = 0;
    for (int k = 0; k < 2; k++) {
        const int n = tp_consumer_poll(al->in[k], now, on_frame, al, 64);
        if (n > 0) w += n;
    }
    return w;
}

static int put_map(tp_merge_aligner_t *al, uint64_t epoch, int32_t offset, int64_t now)
{
    tp_merge_map_reset(&al->map, al->cfg.out_stream_id, epoch);
    tp_merge_map_add_offset(&al->map, al->cfg.ref_stream_id, 0);
    tp_merge_map_add_offset(&al->map, al->cfg.other_stream_id, offset);
    return tp_merge_authority_put(al->auth, &al->map, now);
}

void tp_merge_aligner_destroy(tp_merge_aligner_t *al)
{
    if (al == NULL) return;
    tp_consumer_close(al->in[0]);
    tp_consumer_close(al->in[1]);
    tp_merge_map_close(&al->map);
    free(al);
}

int tp_merge_aligner_create(const tp_merge_aligner_config_t *cfg, tp_merge_authority_t *auth,
                            tp_merge_aligner_t **out)
{
    if (cfg == NULL || auth == NULL || out == NULL || cfg->client == NULL)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge aligner: NULL argument");
    *out = NULL;
    if (cfg->ref_stream_id == 0 || cfg->other_stream_id == 0 || cfg->ref_stream_id == cfg->other_stream_id)
        return tp_err_set(TP_ERR_INVALID_ARG, "merge aligner: two different input streams needed");
    tp_merge_aligner_t *al = calloc(1, sizeof *al);
    if (al == NULL) return tp_err_set(TP_ERR_CAPACITY, "merge aligner: out of memory");
    al->cfg = *cfg;
    if (al->cfg.initial_epoch == 0) al->cfg.initial_epoch = 1;
    if (al->cfg.bump_min_interval_ns <= 0) al->cfg.bump_min_interval_ns = 500000000LL;
    al->auth = auth;
    al->last_bump_ns = INT64_MIN / 2;
    if (tp_merge_map_init(&al->map, TP_MERGE_KIND_SEQUENCE, 2) != 0 ||
        put_map(al, al->cfg.initial_epoch, cfg->initial_offset, 0) < 0 ||
        tp_consumer_open(&al->in[0], cfg->client, cfg->ref_stream_id, 0) != 0 ||
        tp_consumer_open(&al->in[1], cfg->client, cfg->other_stream_id, 0) != 0) {
        tp_err_wrap("merge aligner");
        tp_merge_aligner_destroy(al);
        return -1;
    }
    *out = al;
    return 0;
}

/* Next-epoch requests for our output: a join saw an input epoch we may not
 * have seen yet. Read what is there now and derive only from later frames. */
static void take_requests(tp_merge_aligner_t *al, int64_t now)
{
    tp_merge_kind_t kind;
    uint32_t out;
    uint64_t asked;
    while (now - al->last_bump_ns >= al->cfg.bump_min_interval_ns &&
           tp_merge_authority_take_bump_request(al->auth, &kind, &out, &asked)) {
        if (kind != TP_MERGE_KIND_SEQUENCE || out != al->cfg.out_stream_id || asked <= al->map.epoch) continue;
        al->last_bump_ns = now;
        for (int i = 0; i < 64 && poll_inputs(al, now) > 0; i++) {
        }
        al->have = 0;
        al->ref_count = 0;
        al->map_epoch[0] = al->map_epoch[1] = UINT64_MAX; /* no epochs related until derived again */
        if (asked > al->want) al->want = asked;
    }
}

int tp_merge_aligner_do_work(tp_merge_aligner_t *al, int64_t now)
{
    if (al == NULL) return tp_err_set(TP_ERR_INVALID_ARG, "merge aligner: NULL argument");
    const int work = poll_inputs(al, now);
    take_requests(al, now);
    if (al->epoch[0] == 0 || al->epoch[1] == 0) return work;
    if (al->map_epoch[0] == 0) { /* the initial offset relates the first epochs seen */
        al->map_epoch[0] = al->epoch[0];
        al->map_epoch[1] = al->epoch[1];
        return work;
    }
    if (al->map_epoch[0] == al->epoch[0] && al->map_epoch[1] == al->epoch[1]) return work;
    if (!al->have || al->off_epoch[0] != al->epoch[0] || al->off_epoch[1] != al->epoch[1]) return work;
    if (al->offset <= INT32_MIN || al->offset > INT32_MAX) return work; /* INT32_MIN is the null offset */
    const uint64_t next = al->map.epoch + 1 > al->want ? al->map.epoch + 1 : al->want;
    if (put_map(al, next, (int32_t)al->offset, now) < 0) return work;
    al->map_epoch[0] = al->epoch[0];
    al->map_epoch[1] = al->epoch[1];
    al->maps++;
    return work + 1;
}

int tp_merge_aligner_ready(const tp_merge_aligner_t *al)
{
    return al != NULL && tp_consumer_is_mapped(al->in[0]) && tp_consumer_is_mapped(al->in[1]);
}

uint64_t tp_merge_aligner_maps(const tp_merge_aligner_t *al) { return al != NULL ? al->maps : 0; }
