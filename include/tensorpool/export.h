/* Symbol export for libtensorpool.
 *
 * The library is compiled with -fvisibility=hidden: only declarations marked
 * TP_API are exported from the shared object, so internal helpers stay out of
 * the ABI (tests/unit/abi_exports_test.py checks both directions).
 */
#ifndef TENSORPOOL_EXPORT_H
#define TENSORPOOL_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define TP_API __attribute__((visibility("default")))
#else
#define TP_API
#endif

#endif
