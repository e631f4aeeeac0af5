/* A user's program built against an installed tensorpool. */
#include <tensorpool/codec/control.h>
#include <stdio.h>

int main(void)
{
    unsigned char buf[64];
    tp_control_frame_descriptor_enc_t e;
    tp_control_frame_descriptor_encode_begin(&e, buf, sizeof buf);
    tp_control_frame_descriptor_set_seq(&e, 42);
    long n = tp_control_frame_descriptor_encode_end(&e);
    tp_control_frame_descriptor_dec_t d;
    if (n != 48 || tp_control_frame_descriptor_decode(&d, buf, (size_t)n) != 0 ||
        tp_control_frame_descriptor_seq(&d) != 42) {
        fprintf(stderr, "round trip failed: %s\n", tp_errmsg());
        return 1;
    }
    puts("installed tensorpool works");
    return 0;
}
