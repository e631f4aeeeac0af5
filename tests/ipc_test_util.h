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
#include "ipc/ipc_media_driver.h"
#include "test_channel.h"

#include <time.h>

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

static tp_ipc_media_driver_t *tp_test_media_driver;

/* Start what the channel needs besides this process: for Aeron, an embedded
 * media driver in the test's own directory. Call after tp_test_dir_setup. */
static inline void tp_test_transport_start(const tp_ipc_context_t *ctx)
{
    if (tp_test_channel_is_embedded()) return;
    unsetenv("AERON_DIR"); /* the test's own directory, never a shared driver */
    setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1); /* tests never fill their logs */
    if (tp_ipc_media_driver_start(&tp_test_media_driver, ctx, NULL) != 0) {
        fprintf(stderr, "cannot start a media driver for %s: %s\n", tp_test_channel(), tp_errmsg());
        exit(2);
    }
}

static inline void tp_test_transport_stop(void)
{
    tp_ipc_media_driver_stop(tp_test_media_driver);
    tp_test_media_driver = NULL;
}

static inline void tp_test_discard(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)clientd;
    (void)buf;
    (void)len;
    (void)info;
}

/* Wait (5 s at most) until sub follows n publications, so that Aeron
 * publications are connected before the first offer. Polls sub: call it
 * before anything is published that the test wants to receive. 1 when
 * reached. */
static inline int tp_test_await_images(tp_ipc_subscription_t *sub, size_t n)
{
    for (int i = 0; i < 5000; i++) {
        tp_ipc_subscription_poll(sub, tp_test_discard, NULL, 1);
        if (tp_ipc_subscription_image_count(sub) >= n) return 1;
        const struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Offer, retrying (5 s at most) while the transport refuses for want of
 * space: tp:ipc never does; an Aeron publication is back-pressured until its
 * media driver has seen the subscribers move on, which a tight loop can
 * outrun even when they keep up. Returns what the last offer returned. */
static inline int64_t tp_test_offer(tp_ipc_publication_t *pub, const void *buf, size_t len)
{
    int64_t r = -1;
    for (int i = 0; i < 50000; i++) {
        r = tp_ipc_publication_offer(pub, buf, len);
        if (r > 0 || tp_errcode() != TP_ERR_CAPACITY || len > tp_ipc_publication_max_message(pub)) return r;
        const struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return r;
}

/* Offer from a process that opened its publication just now: on Aeron it is
 * refused (TP_ERR_STATE) until the media driver has connected it to the
 * subscribers, and back-pressured while they catch up, so retry both (10 s
 * at most); tp:ipc takes every offer at once, so there it is one offer. */
static inline int64_t tp_test_offer_when_connected(tp_ipc_publication_t *pub, const void *buf, size_t len)
{
    if (tp_test_channel_is_embedded()) return tp_ipc_publication_offer(pub, buf, len);
    int64_t r = -1;
    for (int i = 0; i < 100000; i++) {
        r = tp_ipc_publication_offer(pub, buf, len);
        if (r > 0 || (tp_errcode() != TP_ERR_CAPACITY && tp_errcode() != TP_ERR_STATE)) return r;
        const struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return r;
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
