/* tp demo's stream metadata (see demo_meta.h). */
#include "demo_meta.h"

#include "demo_pipeline.h"

#include <stdio.h>
#include <string.h>

static const char intrinsics_head[] = "{\"model\":\"pinhole\"";

int demo_meta_publish(tp_producer_t *p, int camera, const int32_t *dims, unsigned nd)
{
    char shape[64] = "";
    for (unsigned i = 0; i < nd; i++) {
        const size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%s%d", i ? "x" : "", (int)dims[i]);
    }
    if (!camera) {
        const tp_meta_attr_t imu[2] = {{"sensor", "text/plain", "imu", 3}, {"units", "text/plain", "m/s^2, rad/s", 12}};
        return tp_producer_set_meta(p, imu, 2);
    }
    const tp_meta_attr_t cam[3] = {{"sensor", "text/plain", "camera", 6},
                                   {"frame_shape", "text/plain", shape, strlen(shape)},
                                   {"intrinsics_blob_type", "text/plain", "1", 1}};
    if (tp_producer_set_meta(p, cam, 3) != 0) return -1;
    /* a synthetic pinhole calibration for the frame size (HxWx3) */
    const int h = nd == 3 ? dims[0] : 1, w = nd == 3 ? dims[1] : DEMO_IMAGE_W;
    char blob[512];
    const int n = snprintf(blob, sizeof blob,
                           "%s,\"width\":%d,\"height\":%d,\"fx\":%.1f,\"fy\":%.1f,\"cx\":%.1f,\"cy\":%.1f,"
                           "\"distortion\":[0.0,0.0,0.0,0.0,0.0]}",
                           intrinsics_head, w, h, 0.9 * w, 0.9 * w, w / 2.0, h / 2.0);
    return tp_producer_set_meta_blob(p, DEMO_BLOB_INTRINSICS, blob, (uint64_t)n);
}

uint32_t demo_meta_intrinsics_held(const tp_join_agent_t *a)
{
    static const uint32_t cams[2] = {DEMO_STREAM_CAM1, DEMO_STREAM_CAM2};
    uint32_t n = 0;
    for (int i = 0; i < 2; i++) {
        const tp_meta_store_t *s = tp_join_agent_input_meta(a, cams[i]);
        tp_meta_blob_view_t b;
        if (s != NULL && tp_meta_blob(s, &b) && b.blob_type == DEMO_BLOB_INTRINSICS && b.len > sizeof intrinsics_head &&
            memcmp(b.data, intrinsics_head, sizeof intrinsics_head - 1) == 0)
            n++;
    }
    return n;
}
