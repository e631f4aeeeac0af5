/* The Aeron media driver SIGKILLed under a publication and a subscription:
 * offers fail with a clear error and counters within the client's driver
 * timeout (AERON_DRIVER_TIMEOUT, 1 s here), no call blocks meanwhile, and
 * once a media driver runs in the same directory again both re-add
 * themselves and messages flow. The media drivers are child processes
 * (embedded Aeron media drivers, as tp driver runs one). */
#include "ipc_test_util.h"
#include "tp_test.h"

#include <signal.h>
#include <sys/wait.h>

#include "ipc/ipc_aeron.h"

static tp_ipc_context_t ctx;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A child process running a media driver for ctx; returns once it runs. */
static pid_t start_media_driver(void)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        tp_ipc_media_driver_t *md;
        if (tp_ipc_media_driver_start(&md, &ctx, NULL) != 0) {
            fprintf(stderr, "media driver: %s\n", tp_errmsg());
            _exit(1);
        }
        if (write(fds[1], "R", 1) != 1) _exit(1);
        for (;;) pause();
    }
    close(fds[1]);
    char c = 0;
    const ssize_t n = read(fds[0], &c, 1);
    close(fds[0]);
    return n == 1 && c == 'R' ? pid : -1;
}

typedef struct {
    uint64_t count;
} rx_t;

static void on_msg(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)buf;
    (void)len;
    (void)info;
    ((rx_t *)clientd)->count++;
}

static void test_media_driver_killed_then_back(void)
{
    pid_t md = start_media_driver();
    CHECK(md > 0);
    tp_ipc_subscription_t *sub;
    tp_ipc_publication_t *pub;
    CHECK(tp_ipc_subscription_open(&sub, &ctx, "aeron:ipc", 7) == 0);
    CHECK(tp_ipc_publication_open(&pub, &ctx, "aeron:ipc", 7) == 0);
    CHECK(tp_test_await_images(sub, 1));
    rx_t rx = {0};
    for (int i = 0; i < 10; i++) CHECK(tp_test_offer(pub, "hello", 5) > 0);
    for (int i = 0; i < 100 && rx.count < 10; i++) tp_ipc_subscription_poll(sub, on_msg, &rx, 100);
    CHECK_EQ_U64(rx.count, 10);

    tp_ipc_aeron_counters_t before, after;
    tp_ipc_aeron_counters(&before);
    kill(md, SIGKILL);
    waitpid(md, NULL, 0);
    const int64_t killed = now_ms();
    int64_t noticed = -1, longest_call = 0;
    while (now_ms() - killed < 10000) {
        const int64_t t = now_ms();
        const int64_t r = tp_ipc_publication_offer(pub, "lost?", 5);
        tp_ipc_subscription_poll(sub, on_msg, &rx, 100);
        if (now_ms() - t > longest_call) longest_call = now_ms() - t;
        if (r < 0 && tp_errcode() == TP_ERR_STATE && strstr(tp_errmsg(), "media driver gone") != NULL) {
            noticed = now_ms() - killed;
            break;
        }
        const struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    printf("     noticed after %lld ms (driver timeout 1000 ms): %s\n", (long long)noticed, tp_errmsg());
    CHECK(noticed >= 0 && noticed < 6000);
    CHECK(longest_call < 500); /* never a hang */
    tp_ipc_aeron_counters(&after);
    CHECK(after.driver_timeouts > before.driver_timeouts);
    CHECK(after.closed > before.closed);

    /* a media driver is back: the same objects carry messages again */
    md = start_media_driver();
    CHECK(md > 0);
    const uint64_t seen = rx.count;
    const int64_t restarted = now_ms();
    int64_t recovered = -1;
    while (now_ms() - restarted < 15000) {
        tp_ipc_publication_offer(pub, "again", 5);
        tp_ipc_subscription_poll(sub, on_msg, &rx, 100);
        if (rx.count > seen) {
            recovered = now_ms() - restarted;
            break;
        }
        const struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    printf("     recovered %lld ms after the media driver came back\n", (long long)recovered);
    CHECK(recovered >= 0);
    CHECK(tp_ipc_subscription_image_count(sub) == 1);
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
    kill(md, SIGKILL);
    waitpid(md, NULL, 0);
}

int main(void)
{
    setenv("AERON_DRIVER_TIMEOUT", "1000", 1); /* clients and media drivers: notice within 1 s */
    setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
    unsetenv("AERON_DIR");
    tp_test_dir_setup(&ctx);
    RUN(test_media_driver_killed_then_back);
    tp_test_dir_cleanup();
    TP_TEST_END();
}
