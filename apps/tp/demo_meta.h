/* tp demo's stream metadata: the cameras describe themselves with
 * attributes and publish their intrinsics as a meta blob; the joins check
 * that the blob of each camera input arrived. */
#ifndef TP_APP_DEMO_META_H
#define TP_APP_DEMO_META_H

#include "tensorpool/join_agent.h"
#include "tensorpool/producer.h"

#include <stdint.h>

#define DEMO_BLOB_INTRINSICS 1u /* blob_type of the cameras' intrinsics (JSON) */

/* Attributes for a camera (frame shape dims[0..nd)) or the IMU, and for a
 * camera its intrinsics blob. 0 or -1. */
int demo_meta_publish(tp_producer_t *p, int camera, const int32_t *dims, unsigned nd);

/* How many of the join's inputs hold a camera intrinsics blob. */
uint32_t demo_meta_intrinsics_held(const tp_join_agent_t *a);

#endif
