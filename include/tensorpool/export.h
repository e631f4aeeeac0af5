/* Symbol export for libtensorpool.
 *
 * The library is compiled with -fvisibility=hidden. Every function or
 * variable a public header declares carries one of two marks:
 *
 *   TP_API       part of the user API: exported from libtensorpool.so and
 *                recorded in abi/libtensorpool.symbols.
 *   TP_INTERNAL  a building block of the library (wire codecs, SHM layout,
 *                JSON writer, ...). Declared in an installed header because
 *                public structs embed its types, but not exported from the
 *                shared object and not a stable interface: only code linked
 *                with the static library (the tp tool, tests, benchmarks)
 *                may call it.
 *
 * abi/README.md gives the rule for which is which; tests/unit/abi_exports_test.py
 * checks that the exports are exactly the TP_API declarations and the
 * recorded list.
 */
#ifndef TENSORPOOL_EXPORT_H
#define TENSORPOOL_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define TP_API __attribute__((visibility("default")))
#define TP_INTERNAL __attribute__((visibility("hidden")))
#else
#define TP_API
#define TP_INTERNAL
#endif

#endif
