/* A user's program built against an installed tensorpool: the umbrella
 * header and a few exported calls that need no running system. */
#include <tensorpool/tensorpool.h>
#include <stdio.h>

int main(void)
{
    tp_tensor_header_t t;
    const int32_t dims[2] = {480, 640};
    int32_t strides[TP_TENSOR_MAX_DIMS];
    if (tp_tensor_header_init(&t, TP_CONTROL_DTYPE_FLOAT32, TP_CONTROL_MAJOR_ORDER_ROW, 2, dims) != 0 ||
        tp_tensor_header_check(&t, strides) != TP_REJECT_NONE || tp_tensor_header_extent(&t, strides) != 480 * 640 * 4) {
        fprintf(stderr, "tensor header: %s\n", tp_errmsg());
        return 1;
    }
    tp_merge_map_t map;
    if (tp_merge_map_init(&map, TP_MERGE_KIND_SEQUENCE, 2) != 0) return 1;
    tp_merge_map_reset(&map, 10, 1);
    tp_merge_map_add_offset(&map, 1, 0);
    const int valid = tp_merge_map_validate(&map, 2);
    tp_merge_map_close(&map);
    if (valid != 0) {
        fprintf(stderr, "merge map: %s\n", tp_errmsg());
        return 1;
    }
    puts("installed tensorpool works");
    return 0;
}
