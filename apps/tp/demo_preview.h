/* tp demo's preview role: a RATE_LIMITED consumer of camera 1 at
 * DEMO_PREVIEW_HZ (docs/spec/wire.md W-11.b), as a UI thumbnail or a logger
 * would read a fast stream. It counts what it was given, what it passed
 * over to keep the rate and what it lost, for the status page. */
#ifndef TP_APP_DEMO_PREVIEW_H
#define TP_APP_DEMO_PREVIEW_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define DEMO_PREVIEW_HZ 5

typedef struct demo_shared_preview_s {
    _Atomic int mapped;
    _Atomic uint64_t frames;  /* delivered */
    _Atomic uint64_t skipped; /* passed over to keep the rate (not drops) */
    _Atomic uint64_t drops;   /* lost: gaps, late or invalid reads */
} demo_shared_preview_t;

typedef struct demo_preview_stats_s {
    uint32_t stream_id, rate_hz;
    int mapped;
    uint64_t frames, skipped, drops;
} demo_preview_stats_t;

/* Run the preview until tp_app_stop; 0, or 1 with the reason in err. */
int demo_preview_main(const char *dir, uint32_t stream_id, demo_shared_preview_t *out, char *err, size_t errcap);

void demo_preview_read(demo_shared_preview_t *in, uint32_t stream_id, demo_preview_stats_t *out);

#endif
