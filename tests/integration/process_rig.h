/* Shared by the multi-process integration tests: children started with
 * their output in a log file under a per-test TP_DIR in /dev/shm, waits on
 * conditions (a line in a log, an exit) with generous bounds, and teardown
 * that kills and reaps every child. The including file defines nothing of
 * these names; g_tp and g_helper are set from argv by its main. */
#ifndef TP_TEST_PROCESS_RIG_H
#define TP_TEST_PROCESS_RIG_H

#include "test_transport.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_tp, *g_helper;
static char g_dir[256];
static pid_t g_kids[32];
static int g_nkids;

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Start argv with stdout to <dir>/<log>; the child dies with the test (PDEATHSIG). */
static inline pid_t spawn(const char *log, const char *const argv[])
{
    char *args[16];
    for (int i = 0; i < 16; i++) {
        memcpy(&args[i], &argv[i], sizeof args[i]); /* execv's prototype is not const-correct */
        if (argv[i] == NULL) break;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, log);
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(args[0], args);
        _exit(127);
    }
    if (pid > 0 && g_nkids < 32) g_kids[g_nkids++] = pid;
    return pid;
}

/* Exit status of pid, or -1 after timeout_ms (the child is then killed). */
static inline int wait_exit(pid_t pid, int timeout_ms)
{
    const int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        const pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            for (int i = 0; i < g_nkids; i++)
                if (g_kids[i] == pid) g_kids[i] = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        if (now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            for (int i = 0; i < g_nkids; i++)
                if (g_kids[i] == pid) g_kids[i] = 0;
            return -1;
        }
        sleep_ms(10);
    }
}

static inline void kill_hard(pid_t pid)
{
    kill(pid, SIGKILL);
    wait_exit(pid, 5000);
}

static inline int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* A fresh TP_DIR with short timers and a driver.toml with stream cam1
 * (10000, profile small); extra_toml (may be "") is appended to it. */
static inline void setup_with(const char *name, const char *extra_toml)
{
    snprintf(g_dir, sizeof g_dir, "/dev/shm/tp-drvtest-%s-XXXXXX", name);
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    chmod(g_dir, 0770);
    setenv("TP_DIR", g_dir, 1);
    setenv("POLICIES_LEASE_KEEPALIVE_INTERVAL_MS", "100", 1);
    setenv("POLICIES_LEASE_EXPIRY_GRACE_INTERVALS", "10", 1); /* 1 s: a descheduled client keeps its lease */
    setenv("POLICIES_ANNOUNCE_PERIOD_MS", "100", 1);
    setenv("TP_CLIENT_BACKOFF_MAX_MS", "200", 1);
    tp_test_deployment_transport_start(g_dir); /* TP_TEST_CHANNEL: tp:ipc, or Aeron with its media driver */
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/driver.toml", g_dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "# test configuration\n[driver]\ninstance_id = \"test-%s\"\n\n[policies]\nshutdown_token = \"s3cret\"\n"
               "shutdown_timeout_ms = 300\n\n"
               "[profiles.small]\nheader_nslots = 64\n"
               "payload_pools = [ { pool_id = 1, stride_bytes = 4096 }, { pool_id = 2, stride_bytes = 65536 } ]\n\n"
               "[streams.cam1]\nstream_id = 10000\nprofile = \"small\"\n",
            name);
    fputs(extra_toml, f);
    fclose(f);
}

static inline void setup(const char *name) { setup_with(name, ""); }

static inline void teardown(void)
{
    for (int i = 0; i < g_nkids; i++)
        if (g_kids[i] > 0) kill_hard(g_kids[i]);
    g_nkids = 0;
    tp_test_deployment_transport_stop();
    if (getenv("TP_TEST_KEEP") == NULL) nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); /* kept for a post-mortem */
}

static inline pid_t start_driver(const char *log)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/driver.toml", g_dir);
    const char *argv[] = {g_tp, "driver", "-c", cfg, NULL};
    const pid_t pid = spawn(log, argv);
    sleep_ms(150);
    return pid;
}

static inline pid_t start_producer(const char *log, const char *size)
{
    const char *argv[] = {g_helper, "producer", "10000", size, "30", NULL};
    return spawn(log, argv);
}

static inline pid_t start_consumer(const char *log, const char *per_epoch, const char *epochs, const char *timeout_ms)
{
    const char *argv[] = {g_helper, "consumer", "10000", per_epoch, epochs, timeout_ms, NULL};
    return spawn(log, argv);
}

static inline int log_has(const char *log, const char *needle)
{
    static char buf[1 << 20]; /* the first MiB of the log */
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, log);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* Wait (generously: a loaded machine is slow, never wrong) until both logs
 * (log2 may be NULL) show needle; 1 if they did. */
static inline int wait_log(const char *log1, const char *log2, const char *needle)
{
    const int64_t end = now_ms() + 20000;
    while (now_ms() < end) {
        if (log_has(log1, needle) && (log2 == NULL || log_has(log2, needle))) return 1;
        sleep_ms(10);
    }
    return 0;
}

/* main's set-up: argv[1] the tp binary, argv[2] driver_helper. Exits 2 on
 * a wrong command line. */
static inline void rig_args(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TP_BINARY DRIVER_HELPER\n", argv[0]);
        exit(2);
    }
    g_tp = argv[1];
    g_helper = argv[2];
    signal(SIGPIPE, SIG_IGN);
}

#endif
