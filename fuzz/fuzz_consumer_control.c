/* libFuzzer target: what a consumer takes from the control stream besides
 * announces, ConsumerConfig and ControlResponse (src/client/consumer_control.c;
 * W-15.17.a, W-P1, W-P3, W-P4, W-P5): each input is a sequence of messages
 * (u16 length, bytes) fed to one consumer's state; the settings stay
 * consistent and the texts stay NUL-terminated and printable. */
#include "client/consumer_control.h"
#include "tensorpool/codec/control.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_consumer_control_t cc;
    tp_consumer_control_init(&cc);
    int fallback = 0;
    size_t off = 0;
    while (off + 2 <= size) {
        const size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (n > size - off) break;
        const uint8_t *m = data + off;
        off += n;
        /* stream 10000, consumer 7: the seeds address them */
        const tp_consumer_config_action_t a = tp_consumer_control_on_config(&cc, m, n, 10000, 7, fallback, (int64_t)off);
        if (a == TP_CC_ENTER_FALLBACK) fallback = 1;
        if (a == TP_CC_LEAVE_FALLBACK) fallback = 0;
        /* a message starting 0xFF stands for time passing: W-P5 lapse */
        if (n > 0 && m[0] == 0xFF && tp_consumer_control_lapse(&cc, (int64_t)off + TP_CONSUMER_SETTINGS_LAPSE_NS)) fallback = 0;
        (void)tp_consumer_control_on_response(&cc, m, n, 10000, 7);
        const tp_consumer_settings_t *s = &cc.settings;
        if (s->mode != TP_CONTROL_MODE_STREAM && s->mode != TP_CONTROL_MODE_RATE_LIMITED) abort();
        if (s->max_rate_hz != 0 && s->mode != TP_CONTROL_MODE_RATE_LIMITED) abort();
        if (fallback && (s->use_shm || !tp_payload_fallback_uri_supported(s->fallback_uri, strlen(s->fallback_uri))))
            abort();
        if (memchr(cc.last_error, '\0', sizeof cc.last_error) == NULL) abort();
        for (const char *p = cc.last_error; *p; p++)
            if (*p < 0x20 || *p > 0x7e) abort();
    }
    return 0;
}
