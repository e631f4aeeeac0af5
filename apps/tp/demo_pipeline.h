/* The pipeline `tp demo` runs in one process: an embedded driver, synthetic
 * producers (each a tp_producer on its own agent runner), and one runner for
 * the MergeMap authority and the two join stages. The main thread only reads
 * snapshots (demo_pipeline_snapshot) and prints them. */
#ifndef TP_APP_DEMO_PIPELINE_H
#define TP_APP_DEMO_PIPELINE_H

#include "tensorpool/latency_hist.h"

#include <stdint.h>

enum { DEMO_CAM1 = 0, DEMO_CAM2 = 1, DEMO_IMU = 2, DEMO_SOURCES = 3 };
enum { DEMO_SEQ_JOIN = 0, DEMO_TS_JOIN = 1, DEMO_JOINS = 2 };

/* Stream ids the demo uses (documented in --help). */
#define DEMO_STREAM_CAM1 1
#define DEMO_STREAM_CAM2 2
#define DEMO_STREAM_IMU 3
#define DEMO_OUT_SEQ 100
#define DEMO_OUT_TS 200
#define DEMO_CAM2_LAG 2 /* camera 2's seq lags camera 1's by this many frames */

typedef struct demo_options_s {
    const char *dir;        /* shm.base_dir and transport dir (absolute) */
    double rate_hz;         /* camera rate; the IMU runs at 10x */
    uint32_t frame_bytes;   /* camera frame size */
    int64_t lateness_ns;    /* timestamp join lateness budget */
} demo_options_t;

typedef struct demo_source_stats_s {
    const char *name;
    uint32_t stream_id;
    int active;          /* attached to the driver and mapped */
    uint64_t epoch;
    uint64_t published;  /* frames committed and announced */
    uint64_t failed;     /* claims or descriptor sends that failed */
} demo_source_stats_t;

typedef struct demo_join_stats_s {
    const char *name;
    uint32_t out_stream_id;
    int has_map;
    uint64_t inputs_mapped;  /* input pools mapped so far (one per input and epoch) */
    uint64_t outputs;
    uint64_t outputs_waited; /* held back by one input while another was there */
    uint64_t frames_dropped; /* single reads that failed */
    uint64_t incomplete;     /* outputs missing a view for some input */
    uint64_t misaligned;     /* sequence join: camera ticks differ (offset wrong) */
    uint64_t window_frames;  /* timestamp join: IMU samples delivered in total */
    tp_latency_hist_t latency; /* last-required-input commit -> callback */
} demo_join_stats_t;

typedef struct demo_snapshot_s {
    int64_t now_ns;
    demo_source_stats_t src[DEMO_SOURCES];
    demo_join_stats_t join[DEMO_JOINS];
} demo_snapshot_t;

typedef struct demo_pipeline_s demo_pipeline_t;

/* Start the driver, the join stage and the producers. 0 or -1 (tp_errmsg). */
int demo_pipeline_start(demo_pipeline_t **out, const demo_options_t *opt);

/* Wait up to timeout_ns for every producer to be active and both joins to
 * hold their MergeMap, then release the producers together so the cameras'
 * frame ticks line up. 0 or -1 naming the laggard. */
int demo_pipeline_go(demo_pipeline_t *p, int64_t timeout_ns);

/* Copy the current counters (cumulative; latency histograms too). */
void demo_pipeline_snapshot(demo_pipeline_t *p, demo_snapshot_t *out);

/* Stop the producers at a common tick and let the joins take the last
 * frames (until no output for 100 ms, at most drain_ns); the snapshot after
 * this is final. */
void demo_pipeline_quiesce(demo_pipeline_t *p, int64_t drain_ns);

/* Stop producers first, then the join stage, then the driver; free. */
void demo_pipeline_stop(demo_pipeline_t *p);

#endif
