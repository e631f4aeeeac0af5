/* Shared by trace_multiprocess_test and discovery_multiprocess_test: a
 * sleep, a remover for nftw, and an SHM driver in a forked process built
 * from a TOML text, running until *stop (shared memory) is set. */
#ifndef TP_TEST_FORKED_DRIVER_H
#define TP_TEST_FORKED_DRIVER_H

#include "tensorpool/clock.h"
#include "tensorpool/driver.h"
#include "tensorpool/error.h"

#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

static inline int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

/* The child exits 31 when the configuration or the driver fails. */
static inline pid_t spawn_toml_driver(const char *toml, _Atomic int *stop)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        static tp_driver_config_t cfg;
        tp_driver_config_defaults(&cfg);
        tp_driver_t *d;
        if (tp_driver_config_parse(&cfg, toml, strlen(toml)) != 0 || tp_driver_config_apply_env(&cfg, NULL) != 0 ||
            tp_driver_open(&d, &cfg, NULL) != 0) {
            fprintf(stderr, "driver: %s\n", tp_errmsg());
            _exit(31);
        }
        while (!atomic_load(stop))
            if (tp_driver_do_work(d, tp_clock_monotonic_ns()) == 0) sleep_ns(200000);
        tp_driver_close(d, 0, NULL);
        _exit(0);
    }
    return pid;
}

#endif
