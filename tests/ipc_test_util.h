/* Helpers for ipc tests: a private transport directory per test run, removed
 * at the end, and a message pattern that detects torn or misordered data. */
#ifndef TP_IPC_TEST_UTIL_H
#define TP_IPC_TEST_UTIL_H

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tensorpool/ipc.h"

static char tp_test_base[256];

static int tp_test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Sleep ns nanoseconds (tests that pace processes). */
static inline void tp_test_sleep_ns(int64_t ns)
{
    const struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

/* Create a unique base dir under /dev/shm (or /tmp) and point ctx at it. */
static inline void tp_test_dir_setup(tp_ipc_context_t *ctx)
{
    snprintf(tp_test_base, sizeof tp_test_base, "/dev/shm/tp-ipc-test-%d-XXXXXX", (int)getpid());
    if (mkdtemp(tp_test_base) == NULL) {
        snprintf(tp_test_base, sizeof tp_test_base, "/tmp/tp-ipc-test-%d-XXXXXX", (int)getpid());
        if (mkdtemp(tp_test_base) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
    }
    tp_ipc_context_init(ctx);
    ctx->base_dir = tp_test_base;
}

static inline void tp_test_dir_cleanup(void)
{
    if (tp_test_base[0] != '\0') nftw(tp_test_base, tp_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Fill buf with a pattern derived from (publisher, seq); first 16 bytes hold them. */
static inline void tp_test_fill(uint8_t *buf, size_t len, uint32_t publisher, uint64_t seq)
{
    uint64_t x = seq * 0x9E3779B97F4A7C15ULL + publisher;
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(x >> ((i % 8) * 8)) ^ (uint8_t)i;
    if (len >= 16) {
        memcpy(buf, &publisher, 4);
        uint32_t l = (uint32_t)len;
        memcpy(buf + 4, &l, 4);
        memcpy(buf + 8, &seq, 8);
    }
}

/* 1 if buf holds exactly what tp_test_fill wrote; fills publisher/seq. */
static inline int tp_test_verify(const uint8_t *buf, size_t len, uint32_t *publisher, uint64_t *seq)
{
    if (len < 16) return 0;
    uint32_t l;
    memcpy(publisher, buf, 4);
    memcpy(&l, buf + 4, 4);
    memcpy(seq, buf + 8, 8);
    if (l != len) return 0;
    uint64_t x = *seq * 0x9E3779B97F4A7C15ULL + *publisher;
    for (size_t i = 16; i < len; i++)
        if (buf[i] != ((uint8_t)(x >> ((i % 8) * 8)) ^ (uint8_t)i)) return 0;
    return 1;
}

#endif
