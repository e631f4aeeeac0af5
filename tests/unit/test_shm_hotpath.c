/* Hot paths make no allocation and no syscall after init (docs/architecture.md
 * "Memory"; §3.6): publish/claim/commit, begin/end, copy-out read, the drop
 * paths and gap accounting. Allocations are counted through --wrap; syscalls
 * are excluded by running the same loop in a child under seccomp strict mode,
 * where any syscall other than read/write/exit kills the child. */
#include "alloc_count.h"
#include "tensorpool/shm_seqlock.h"
#include "tp_test.h"
#include "unit/shm_test_rig.h"

#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static tp_test_rig_t rig;
static uint8_t g_src[4096];
static uint8_t g_dst[4096];

/* One round of every hot-path operation; returns accepted frames. */
static unsigned hot_round(void)
{
    unsigned ok = 0;
    tp_tensor_header_t t;
    const int32_t d[2] = {16, 4};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 2, d);
    uint64_t seq;
    tp_shm_view_t v;
    if (tp_shm_writer_publish(&rig.w, &t, g_src, 64, 1, 0, &seq) == 0) {
        tp_shm_drops_on_descriptor(&rig.r.drops, seq);
        if (tp_shm_reader_begin(&rig.r, seq, &v) == TP_SHM_READ_OK)
            ok += tp_shm_reader_end(&rig.r, &v) == TP_SHM_READ_OK;
    }
    const int32_t d2[1] = {4096};
    tp_tensor_header_init(&t, TP_CONTROL_DTYPE_UINT8, TP_CONTROL_MAJOR_ORDER_ROW, 1, d2);
    tp_shm_claim_t c;
    if (tp_shm_writer_claim(&rig.w, &t, 4096, &c) == 0) {
        memcpy(c.payload, g_src, 4096);
        tp_shm_writer_commit(&rig.w, &c, 2, 0);
        tp_shm_drops_on_descriptor(&rig.r.drops, c.seq);
        ok += tp_shm_reader_read(&rig.r, c.seq, g_dst, sizeof g_dst, &v) == TP_SHM_READ_OK;
        /* drop paths: overwritten seq (late), too-small buffer (invalid) */
        tp_shm_reader_begin(&rig.r, c.seq - 4, &v);
        tp_shm_reader_read(&rig.r, c.seq, g_dst, 16, &v);
    }
    return ok;
}

static void test_no_allocation(void)
{
    hot_round(); /* warm-up */
    const uint64_t a0 = tp_alloc_count(), f0 = tp_free_count();
    unsigned ok = 0;
    for (int i = 0; i < 10000; i++) ok += hot_round();
    CHECK_EQ_U64(tp_alloc_count(), a0);
    CHECK_EQ_U64(tp_free_count(), f0);
    CHECK_EQ_U64(ok, 20000);
    CHECK(rig.r.drops.drops_late >= 10000);
    CHECK(rig.r.drops.drops_invalid >= 10000);
}

static void test_no_syscall(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) syscall(SYS_exit, 3);
        unsigned ok = 0;
        for (int i = 0; i < 10000; i++) ok += hot_round();
        const uint8_t byte = ok == 20000;
        if (write(fds[1], &byte, 1) != 1) syscall(SYS_exit, 4);
        syscall(SYS_exit, 0);
    }
    close(fds[1]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) fprintf(stderr, "hot path child killed by signal %d (a syscall?)\n", WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    uint8_t byte = 0;
    CHECK(read(fds[0], &byte, 1) == 1 && byte == 1);
    close(fds[0]);
}

int main(void)
{
    const tp_shm_pool_config_t pools[2] = {{.pool_id = 1, .stride_bytes = 64}, {.pool_id = 2, .stride_bytes = 4096}};
    if (tp_test_rig_open(&rig, "hot", 4, 2, pools) != 0) {
        fprintf(stderr, "rig: %s\n", tp_errmsg());
        return 1;
    }
    memset(g_src, 0xA5, sizeof g_src);
    RUN(test_no_allocation);
    RUN(test_no_syscall);
    tp_test_rig_close(&rig);
    TP_TEST_END();
}
