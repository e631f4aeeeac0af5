/* The pipeline `tp demo` runs, one OS process per role: the parent (the
 * `tp demo` process) hosts the embedded driver and prints; each synthetic
 * producer, the MergeMap authority and each join stage is a child process
 * forked before the parent starts any thread. They talk only through the
 * driver's control streams and the shared memory it hands out, like separate
 * programs would; the one extra is an anonymous shared page where each child
 * keeps its counters for the parent to print. */
#ifndef TP_APP_DEMO_PIPELINE_H
#define TP_APP_DEMO_PIPELINE_H

#include "demo_preview.h"
#include "tensorpool/latency_hist.h"

#include <stdint.h>

enum { DEMO_CAM1 = 0, DEMO_CAM2 = 1, DEMO_IMU = 2, DEMO_SOURCES = 3 };
enum { DEMO_SEQ_JOIN = 0, DEMO_TS_JOIN = 1, DEMO_JOINS = 2 };

/* Child processes: the sources first (same index), then these. The readers
 * (joins, preview) come last, from DEMO_ROLE_SEQ_JOIN on: they are stopped
 * first (demo_pipeline_stop_roles). */
enum { DEMO_ROLE_AUTHORITY = DEMO_SOURCES, DEMO_ROLE_SEQ_JOIN, DEMO_ROLE_TS_JOIN, DEMO_ROLE_PREVIEW, DEMO_ROLES };

/* Stream ids the demo uses (documented in --help). */
#define DEMO_STREAM_CAM1 1
#define DEMO_STREAM_CAM2 2
#define DEMO_STREAM_IMU 3
#define DEMO_OUT_SEQ 100
#define DEMO_OUT_TS 200
#define DEMO_IMAGE_W 640 /* camera frames are HxWx3 with this width when the size allows */
#define DEMO_CAM2_LAG 2 /* camera 2's seq lags camera 1's by this many frames */

typedef struct demo_options_s {
    const char *dir;        /* shm.base_dir and transport dir (absolute) */
    double rate_hz;         /* camera rate; the IMU runs at 10x */
    uint32_t frame_bytes;   /* camera frame size */
    int64_t lateness_ns;    /* timestamp join lateness budget */
    int64_t degraded_after_ns; /* a join not flowing longer than this in one stretch: DEGRADED */
} demo_options_t;

typedef struct demo_source_stats_s {
    const char *name;
    uint32_t stream_id;
    int active;          /* attached to the driver and mapped */
    uint64_t epoch;
    uint64_t leases;     /* epochs the driver granted it: more than 1 means it re-attached */
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
    uint64_t outputs_with_view;    /* the stage saw a payload view for every frame (its own count) */
    uint64_t outputs_without_view; /* the agent's count of the others (tp_join_agent_stats_t) */
    uint64_t incomplete;     /* outputs missing a view for some input */
    uint64_t misaligned;     /* sequence join: camera ticks differ (offset wrong) */
    uint64_t window_frames;  /* timestamp join: IMU samples delivered in total */
    uint64_t refused;        /* MergeMap announces refused (not from the authority's publication) */
    uint64_t epoch_blocks;   /* maps dropped because an input moved to a newer epoch */
    uint64_t input_restarts; /* inputs that moved to a new epoch after frames were taken */
    uint64_t desc_other_epoch; /* FrameDescriptors refused: not of the input's announced epoch, */
    uint64_t desc_not_in_slot; /* ... naming a slot that does not hold that seq, */
    uint64_t desc_replayed;    /* ... a seq already taken in the epoch */
    uint64_t foreign;          /* descriptors and control messages from another uid's logs */
    int state;               /* tp_join_agent_state_t now (flowing once the sources stopped) */
    uint32_t state_stream;   /* the input that state names */
    uint64_t not_flowing_ns; /* blocked or degraded while the sources ran, in total */
    uint64_t longest_ns;     /* the longest such stretch ... */
    uint64_t stretches;
    uint32_t intrinsics;       /* camera inputs whose intrinsics blob the join received */
    int longest_state;       /* ... its state (blocked / degraded) */
    int longest_epoch_change; /* ... blocked by an input epoch change */
    uint32_t longest_stream; /* ... the input it named */
    tp_latency_hist_t latency; /* last-required-input commit -> callback */
} demo_join_stats_t;

typedef enum demo_role_state_e {
    DEMO_ROLE_RUNNING = 0,
    DEMO_ROLE_STOPPED, /* exited 0 after it was asked to stop */
    DEMO_ROLE_FAILED   /* died, exited on its own or non-zero, or had to be killed: see why */
} demo_role_state_t;

typedef struct demo_role_status_s {
    const char *name;  /* cam1, cam2, imu, authority, seq-join, ts-join, preview */
    int pid;           /* 0: never started */
    demo_role_state_t state;
    char why[320];     /* FAILED: how it ended, e.g. "was killed by signal 9 (Killed)" */
} demo_role_status_t;

typedef struct demo_snapshot_s {
    int64_t now_ns;
    uint64_t map_epochs;     /* sequence MergeMap epochs the authority announced */
    demo_source_stats_t src[DEMO_SOURCES];
    demo_join_stats_t join[DEMO_JOINS];
    demo_preview_stats_t preview; /* the 5 Hz RATE_LIMITED consumer of cam1 */
    demo_role_status_t role[DEMO_ROLES];
} demo_snapshot_t;

typedef struct demo_pipeline_s demo_pipeline_t;

/* Fork one child process per role (cam1, cam2, imu, authority, seq-join,
 * ts-join), then start the embedded driver here and let the children attach.
 * Call before this process has started any thread. 0 or -1 (tp_errmsg); on
 * -1 *out may still be set: pass it to demo_pipeline_stop. */
int demo_pipeline_start(demo_pipeline_t **out, const demo_options_t *opt);

/* Wait up to timeout_ns for every producer to be active and both joins to
 * hold their MergeMap and both inputs, then release the producers together so
 * the cameras' frame ticks line up. 0, or -1 naming the laggard or saying a
 * role process ended (demo_pipeline_stop_roles then tells which and how). */
int demo_pipeline_go(demo_pipeline_t *p, int64_t timeout_ns);

/* Collect role processes that ended without being asked to. Never blocks.
 * Returns how many roles have failed so far. */
int demo_pipeline_reap(demo_pipeline_t *p);

/* Copy the current counters (cumulative; latency histograms too) and the
 * roles' states. */
void demo_pipeline_snapshot(demo_pipeline_t *p, demo_snapshot_t *out);

/* Stop the producers at a common tick and let the joins take the last
 * frames (until no output for 100 ms, at most drain_ns). */
void demo_pipeline_quiesce(demo_pipeline_t *p, int64_t drain_ns);

/* SIGTERM every role still running and wait for it, up to timeout_ns in all;
 * one still there then is killed (and FAILED). The counters are final after
 * this. Returns how many roles failed. */
int demo_pipeline_stop_roles(demo_pipeline_t *p, int64_t timeout_ns);

/* Stop the roles (if not done), then the driver; free. NULL is a no-op. */
void demo_pipeline_stop(demo_pipeline_t *p);

#endif
