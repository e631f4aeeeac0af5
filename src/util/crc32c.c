/* CRC32C: reflected polynomial 0x82F63B78. The SSE4.2 crc32 instruction
 * when the CPU has it (checked once), else a byte table built on first use. */
#include "tensorpool/crc32c.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TP_CRC_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n-- > 0)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

static uint32_t table[256];
static bool table_ready;

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
    if (!table_ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t v = i;
            for (int k = 0; k < 8; k++)
                v = (v >> 1) ^ (0x82F63B78u & (0u - (v & 1u)));
            table[i] = v;
        }
        table_ready = true;
    }
    while (n-- > 0)
        c = table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return c;
}

uint32_t tp_crc32c(uint32_t crc, const void *p, size_t len)
{
    uint32_t c = ~crc;
#ifdef TP_CRC_HW
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc_hw(c, p, len);
#endif
    return ~crc_sw(c, p, len);
}
