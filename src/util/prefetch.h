/* Write prefetch: ask for a cache line in the exclusive state before storing
 * to it, so the store does not wait for another core to give it up. Like
 * every prefetch it changes no data and never faults, even on an address
 * whose page is gone (a truncated mapping). */
#ifndef TP_UTIL_PREFETCH_H
#define TP_UTIL_PREFETCH_H

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* Whether tp_prefetch_write may be issued: on x86 PREFETCHW is not a
 * baseline instruction, so CPUID is asked (leaf 0x80000001, ECX bit 8).
 * Not for hot paths: callers keep the answer. */
static inline int tp_prefetch_write_available(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 8)) != 0;
#else
    return 1;
#endif
}

static inline void tp_prefetch_write(const void *a)
{
#if defined(__x86_64__) || defined(__i386__)
    /* Without -mprfchw, __builtin_prefetch(a, 1) is a read prefetch. */
    __asm__ __volatile__("prefetchw (%0)" : : "r"(a));
#else
    __builtin_prefetch(a, 1, 3);
#endif
}

#endif
