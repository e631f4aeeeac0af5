/* Well-formed UTF-8 (RFC 3629), for tools that print names and paths that
 * came from outside. Internal. */
#ifndef TP_UTIL_UTF8_H
#define TP_UTIL_UTF8_H

#include <stddef.h>

/* Length (2..4) of the well-formed multi-byte sequence at s[0..len), whose
 * first byte is >= 0x80: no overlong form, no surrogate, nothing above
 * U+10FFFF. 0 when it is ill-formed; then *bad is the length (>= 1) of its
 * maximal ill-formed subpart, the bytes one U+FFFD replaces (Unicode's
 * recommended practice). */
size_t tp_utf8_sequence(const unsigned char *s, size_t len, size_t *bad);

#endif
