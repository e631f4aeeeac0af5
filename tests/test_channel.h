/* The channel under test: $TP_TEST_CHANNEL (ctest registers transport tests
 * once per transport), default "tp:ipc". A UDP endpoint with port 0
 * (aeron:udp?endpoint=127.0.0.1:0) means "a free port": ctest cannot know
 * one, so the test picks it here, once, and exports the result so that the
 * processes it starts use the same endpoint. */
#ifndef TP_TEST_CHANNEL_H
#define TP_TEST_CHANNEL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A UDP port on 127.0.0.1 that nothing is bound to right now, or -1. */
static inline int tp_test_free_udp_port(void)
{
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static inline const char *tp_test_channel(void)
{
    static char resolved[512];
    if (resolved[0] != '\0') return resolved;
    const char *c = getenv("TP_TEST_CHANNEL");
    if (c == NULL || c[0] == '\0') c = "tp:ipc";
    const char *ep = strstr(c, "endpoint=");
    const char *colon = ep != NULL ? strchr(ep, ':') : NULL;
    if (colon != NULL && colon[1] == '0' && (colon[2] == '\0' || colon[2] == '|')) {
        const int port = tp_test_free_udp_port();
        if (port <= 0) {
            perror("no free UDP port on 127.0.0.1");
            exit(2);
        }
        snprintf(resolved, sizeof resolved, "%.*s:%d%s", (int)(colon - c), c, port, colon + 2);
        setenv("TP_TEST_CHANNEL", resolved, 1); /* children: the same endpoint */
    } else {
        snprintf(resolved, sizeof resolved, "%s", c);
    }
    return resolved;
}

static inline int tp_test_channel_is_embedded(void) { return strncmp(tp_test_channel(), "tp:", 3) == 0; }

/* Over UDP a message reaches the subscription some time after its offer
 * returned (the media driver sends it); over shared memory, at once. */
static inline int tp_test_channel_is_network(void) { return strncmp(tp_test_channel(), "aeron:udp", 9) == 0; }

#endif
