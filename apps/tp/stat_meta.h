/* tp stat --meta STREAM: one stream's metadata, as a consumer receives it. */
#ifndef TP_APP_STAT_META_H
#define TP_APP_STAT_META_H

#include "tensorpool/client.h"

#include <stdint.h>

/* Listen on ctx's metadata stream up to wait_ns, print what stream holds
 * (text or one JSON object). Exit status: 0, or 1 if no announce came. */
int tp_stat_meta(const tp_client_context_t *ctx, uint32_t stream, int json, int64_t wait_ns);

#endif
