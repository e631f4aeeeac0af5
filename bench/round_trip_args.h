/* The command line of the ping-pong benchmarks (bench_frame_rtt,
 * bench_iceoryx): [--quick] [--trials N] [--samples N], defaults 5 trials of
 * 20000 rounds, --quick 1 of 2000. */
#ifndef TP_BENCH_ROUND_TRIP_ARGS_H
#define TP_BENCH_ROUND_TRIP_ARGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses argv into *ntrials (1..max_trials) and *samples (>= 100); 0, or 2
 * (the exit status) after a message naming prog. */
static inline int tp_bench_round_trip_args(int argc, char **argv, const char *prog, int max_trials, int *ntrials,
                                           size_t *samples)
{
    *ntrials = 5;
    *samples = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            *ntrials = 1;
            *samples = 2000;
        } else if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc) {
            *ntrials = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            *samples = (size_t)atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--quick] [--trials N] [--samples N]\n", prog);
            return 2;
        }
    }
    if (*ntrials < 1 || *ntrials > max_trials || *samples < 100) {
        fprintf(stderr, "%s: trials 1..%d, samples >= 100\n", prog, max_trials);
        return 2;
    }
    return 0;
}

#endif
