/* A plain Aeron subscriber, knowing nothing of tensorpool: writes the first
 * N messages received on (channel, stream) back to back to FILE, as
 * `tp decode` reads them. Exits 0 once it has N, 1 after 15 s without.
 * usage: aeron_plain_subscriber CHANNEL STREAM N FILE  (media driver: AERON_DIR) */
#include <aeronc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    FILE *out;
    long got, want;
} sink_t;

static void on_fragment(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    (void)header;
    sink_t *s = clientd;
    if (s->got < s->want && fwrite(buffer, 1, length, s->out) == length) s->got++; /* exactly want */
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s CHANNEL STREAM N FILE\n", argv[0]);
        return 2;
    }
    const int32_t stream = (int32_t)atoi(argv[2]);
    const long want = atol(argv[3]);
    sink_t sink = {fopen(argv[4], "wb"), 0, want};
    aeron_context_t *ctx = NULL;
    aeron_t *aeron = NULL;
    aeron_async_add_subscription_t *async = NULL;
    aeron_subscription_t *sub = NULL;
    if (sink.out == NULL || aeron_context_init(&ctx) < 0 || aeron_init(&aeron, ctx) < 0 || aeron_start(aeron) < 0 ||
        aeron_async_add_subscription(&async, aeron, argv[1], stream, NULL, NULL, NULL, NULL) < 0) {
        fprintf(stderr, "aeron: %s\n", aeron_errmsg());
        return 1;
    }
    const struct timespec ms = {0, 1000000};
    const time_t end = time(NULL) + 15;
    while (sub == NULL && time(NULL) < end) {
        if (aeron_async_add_subscription_poll(&sub, async) < 0) {
            fprintf(stderr, "aeron: %s\n", aeron_errmsg());
            return 1;
        }
        nanosleep(&ms, NULL);
    }
    /* whole messages only: tensorpool's control messages fit one frame */
    while (sub != NULL && sink.got < want && time(NULL) < end) {
        if (aeron_subscription_poll(sub, on_fragment, &sink, 10) == 0) nanosleep(&ms, NULL);
    }
    fclose(sink.out);
    printf("received %ld message(s)\n", sink.got);
    aeron_close(aeron);
    aeron_context_close(ctx);
    return sink.got >= want ? 0 : 1;
}
