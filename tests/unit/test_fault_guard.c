/* Fault guard (src/util/fault_guard.c): a file we mapped and someone else
 * truncated reads as zeros with the mapping's flag set, in any thread; a
 * fault outside every guarded mapping still kills the process with SIGBUS. */
#include "tp_test.h"
#include "util/fault_guard.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FILE_BYTES = 4 * 4096 };

/* A file of FILE_BYTES bytes of 0xAB in /dev/shm (or /tmp), unlinked at once. */
static int make_file(void)
{
    char path[] = "/dev/shm/tp-fault-guard-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        char alt[] = "/tmp/tp-fault-guard-XXXXXX";
        fd = mkstemp(alt);
        if (fd >= 0) unlink(alt);
    } else {
        unlink(path);
    }
    if (fd < 0) return -1;
    uint8_t buf[FILE_BYTES];
    memset(buf, 0xAB, sizeof buf);
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A guarded shared mapping of a fresh file. */
typedef struct guarded_s {
    int fd;
    uint8_t *m;
    int h;
} guarded_t;

static int guarded_open(guarded_t *g, int prot)
{
    g->fd = make_file();
    CHECK(g->fd >= 0);
    if (g->fd < 0) return -1;
    g->m = mmap(NULL, FILE_BYTES, prot, MAP_SHARED, g->fd, 0);
    CHECK(g->m != MAP_FAILED);
    g->h = tp_fault_guard_add(g->m, FILE_BYTES, prot);
    CHECK(g->h > 0);
    return g->m != MAP_FAILED && g->h > 0 ? 0 : -1;
}

static void guarded_close(guarded_t *g)
{
    tp_fault_guard_remove(g->h);
    munmap(g->m, FILE_BYTES);
    close(g->fd);
}

static void test_truncated_reads_zeros_and_flags(void)
{
    guarded_t g;
    if (guarded_open(&g, PROT_READ | PROT_WRITE) != 0) return;
    const uint64_t before = tp_fault_guard_count();
    CHECK_EQ_U64(g.m[FILE_BYTES - 1], 0xAB);
    CHECK_EQ_U64(tp_fault_guard_probe(g.h), TP_FAULT_NONE);
    CHECK(ftruncate(g.fd, FILE_BYTES / 2) == 0); /* another process would do this */
    CHECK_EQ_U64(g.m[0], 0xAB);                   /* the first half is still file */
    CHECK_EQ_U64(tp_fault_guard_lost(g.h), TP_FAULT_NONE);
    volatile uint8_t *v = g.m;
    CHECK_EQ_U64(v[FILE_BYTES - 1], 0); /* faulted: the whole mapping is zeros now */
    CHECK_EQ_U64(v[0], 0);
    CHECK_EQ_U64(tp_fault_guard_lost(g.h), TP_FAULT_SIGBUS);
    CHECK_EQ_U64(tp_fault_guard_count(), before + 1);
    v[100] = 7; /* still writable, as mapped */
    CHECK_EQ_U64(v[100], 7);
    guarded_close(&g);
}

static void test_probe_notices_shrink(void)
{
    guarded_t g;
    if (guarded_open(&g, PROT_READ) != 0) return;
    CHECK(ftruncate(g.fd, 0) == 0);
    CHECK_EQ_U64(tp_fault_guard_lost(g.h), TP_FAULT_NONE); /* nobody touched it yet */
    CHECK_EQ_U64(tp_fault_guard_probe(g.h), TP_FAULT_SIGBUS);
    guarded_close(&g);
}

typedef struct toucher_s {
    volatile uint8_t *m;
    uint64_t sum;
} toucher_t;

static void *touch_all(void *arg)
{
    toucher_t *t = arg;
    for (size_t i = 0; i < FILE_BYTES; i += 512) t->sum += t->m[i];
    return NULL;
}

static void test_other_thread_faults(void)
{
    guarded_t g;
    if (guarded_open(&g, PROT_READ) != 0) return;
    CHECK(ftruncate(g.fd, 4096) == 0);
    toucher_t t = {g.m, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, touch_all, &t) == 0);
    pthread_join(th, NULL);
    CHECK_EQ_U64(tp_fault_guard_lost(g.h), TP_FAULT_SIGBUS);
    guarded_close(&g);
}

/* After removal the range is no longer ours: the fault kills, as before. */
static void test_foreign_fault_still_kills(void)
{
    CHECK(tp_fault_guard_install() == 0);
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = make_file();
        if (fd < 0) _exit(3);
        uint8_t *m = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
        const int h = tp_fault_guard_add(m, FILE_BYTES, PROT_READ);
        tp_fault_guard_remove(h);
        if (ftruncate(fd, 0) != 0) _exit(3);
        volatile uint8_t x = m[FILE_BYTES - 1];
        (void)x;
        _exit(0); /* survived: wrong */
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st));
#if defined(__SANITIZE_ADDRESS__)
    /* under ASan the handler before ours is ASan's: it reports and aborts */
    if (WIFSIGNALED(st)) CHECK(WTERMSIG(st) == SIGBUS || WTERMSIG(st) == SIGABRT);
#else
    if (WIFSIGNALED(st)) CHECK_EQ_I64(WTERMSIG(st), SIGBUS);
#endif
}

/* A handler installed before ours still gets the faults that are not ours.
 * Runs first, in a child, before anything in this process installs ours. */
static void earlier_handler(int sig)
{
    (void)sig;
    _exit(42);
}

static void test_foreign_fault_chains(void)
{
    const pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = earlier_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, NULL);
        if (tp_fault_guard_install() != 0) _exit(3);
        const int fd = make_file();
        if (fd < 0) _exit(3);
        uint8_t *m = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
        if (ftruncate(fd, 0) != 0) _exit(3);
        volatile uint8_t x = m[0];
        (void)x;
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    if (WIFEXITED(st)) CHECK_EQ_I64(WEXITSTATUS(st), 42);
}

static void test_registry_full(void)
{
    static int handles[TP_FAULT_GUARD_SLOTS];
    uint8_t page[64];
    int n = 0;
    for (; n < TP_FAULT_GUARD_SLOTS; n++) {
        handles[n] = tp_fault_guard_add(page, sizeof page, PROT_READ);
        if (handles[n] < 0) break;
    }
    CHECK(n < TP_FAULT_GUARD_SLOTS || tp_fault_guard_add(page, sizeof page, PROT_READ) < 0);
    for (int i = 0; i < n; i++) tp_fault_guard_remove(handles[i]);
    const int h = tp_fault_guard_add(page, sizeof page, PROT_READ);
    CHECK(h > 0); /* slots come back */
    tp_fault_guard_remove(h);
}

int main(void)
{
    RUN(test_foreign_fault_chains); /* first: nothing installed yet */
    RUN(test_truncated_reads_zeros_and_flags);
    RUN(test_probe_notices_shrink);
    RUN(test_other_thread_faults);
    RUN(test_foreign_fault_still_kills);
    RUN(test_registry_full);
    TP_TEST_END();
}
