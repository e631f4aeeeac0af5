#include "tensorpool/agent.h"

#include <sched.h>
#include <string.h>
#include <time.h>

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000LL), .tv_nsec = (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

static void init_kind(tp_idle_strategy_t *s, tp_idle_kind_t kind)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
}

void tp_idle_strategy_init_busy_spin(tp_idle_strategy_t *s) { init_kind(s, TP_IDLE_BUSY_SPIN); }

void tp_idle_strategy_init_yield(tp_idle_strategy_t *s) { init_kind(s, TP_IDLE_YIELD); }

void tp_idle_strategy_init_noop(tp_idle_strategy_t *s) { init_kind(s, TP_IDLE_NOOP); }

void tp_idle_strategy_init_sleep(tp_idle_strategy_t *s, int64_t ns)
{
    init_kind(s, TP_IDLE_SLEEP);
    s->sleep_ns = ns > 0 ? ns : 1;
}

void tp_idle_strategy_init_backoff(tp_idle_strategy_t *s, uint32_t max_spins, uint32_t max_yields,
                                   int64_t min_sleep_ns, int64_t max_sleep_ns)
{
    init_kind(s, TP_IDLE_BACKOFF);
    s->max_spins = max_spins;
    s->max_yields = max_yields;
    s->sleep_ns = min_sleep_ns > 0 ? min_sleep_ns : 1;
    s->max_sleep_ns = max_sleep_ns >= s->sleep_ns ? max_sleep_ns : s->sleep_ns;
    s->cur_sleep_ns = s->sleep_ns;
}

void tp_idle_strategy_set_park(tp_idle_strategy_t *s, void (*park)(void *arg, int64_t ns), void *arg)
{
    s->park = park;
    s->park_arg = park != NULL ? arg : NULL;
}

void tp_idle_strategy_reset(tp_idle_strategy_t *s)
{
    s->spins = 0;
    s->yields = 0;
    s->cur_sleep_ns = s->sleep_ns;
}

void tp_idle_strategy_idle(tp_idle_strategy_t *s, int work_count)
{
    if (work_count > 0) {
        if (s->kind == TP_IDLE_BACKOFF) tp_idle_strategy_reset(s);
        return;
    }
    switch (s->kind) {
    case TP_IDLE_BUSY_SPIN:
        cpu_relax();
        break;
    case TP_IDLE_YIELD:
        sched_yield();
        break;
    case TP_IDLE_SLEEP:
        sleep_ns(s->sleep_ns);
        break;
    case TP_IDLE_BACKOFF:
        if (s->spins < s->max_spins) {
            s->spins++;
            cpu_relax();
        } else if (s->yields < s->max_yields) {
            s->yields++;
            sched_yield();
        } else {
            if (s->park != NULL)
                s->park(s->park_arg, s->cur_sleep_ns);
            else
                sleep_ns(s->cur_sleep_ns);
            s->cur_sleep_ns = s->cur_sleep_ns * 2 <= s->max_sleep_ns ? s->cur_sleep_ns * 2 : s->max_sleep_ns;
        }
        break;
    case TP_IDLE_NOOP:
    default:
        break;
    }
}
