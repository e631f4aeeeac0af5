/* CRC32C (Castagnoli), as used by the bridge's optional chunk check
 * (docs/spec/bridge.md BR-P3). Hardware instruction where the CPU has it,
 * a table otherwise; no allocation. */
#ifndef TENSORPOOL_CRC32C_H
#define TENSORPOOL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CRC32C of len bytes at p, continuing from crc (0 to start). */
TP_INTERNAL uint32_t tp_crc32c(uint32_t crc, const void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
