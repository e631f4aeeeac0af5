/* Well-formed UTF-8 (utf8.h). */
#include "utf8.h"

size_t tp_utf8_sequence(const unsigned char *s, size_t len, size_t *bad)
{
    const unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0) lo = 0xa0;      /* overlong */
        else if (c == 0xed) hi = 0x9f; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0) lo = 0x90;      /* overlong */
        else if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else {
        *bad = 1; /* stray continuation byte, C0/C1 (always overlong), F5..FF */
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < len; i++) {
        const unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xbf;
        if (s[i] < lo_i || s[i] > hi_i) break;
    }
    if (i == need) return need;
    *bad = i; /* truncated or interrupted: the valid prefix is one subpart */
    return 0;
}

