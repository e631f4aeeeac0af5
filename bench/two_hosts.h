/* Two "hosts" on one machine: network namespaces joined by a veth pair
 * (10.231.<n>.1 on A, .2 on B). Needs root and ip(8). Shared by the
 * benchmarks that measure across them; header-only, process-wide state. */
#ifndef TP_BENCH_TWO_HOSTS_H
#define TP_BENCH_TWO_HOSTS_H

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char th_ns_a[32], th_ns_b[32], th_ip_b[32];

static int th_run(const char *cmd)
{
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void th_down(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", th_ns_a, th_ns_b);
    (void)th_run(cmd);
}

/* 1 when both namespaces are up, 0 when they cannot be had. */
static int th_up(const char *tag)
{
    snprintf(th_ns_a, sizeof th_ns_a, "%sA%d", tag, (int)getpid());
    snprintf(th_ns_b, sizeof th_ns_b, "%sB%d", tag, (int)getpid());
    const int subnet = 1 + (int)(getpid() % 250);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ip netns add %1$s && ip netns add %2$s && "
             "ip link add %1$sv type veth peer name %2$sv && "
             "ip link set %1$sv netns %1$s && ip link set %2$sv netns %2$s && "
             "ip -n %1$s addr add 10.231.%3$d.1/24 dev %1$sv && ip -n %2$s addr add 10.231.%3$d.2/24 dev %2$sv && "
             "ip -n %1$s link set %1$sv up && ip -n %2$s link set %2$sv up && "
             "ip -n %1$s link set lo up && ip -n %2$s link set lo up",
             th_ns_a, th_ns_b, subnet);
    if (getuid() != 0 || th_run("command -v ip >/dev/null 2>&1") != 0 || th_run(cmd) != 0) {
        th_down();
        return 0;
    }
    snprintf(th_ip_b, sizeof th_ip_b, "10.231.%d.2", subnet);
    return 1;
}

/* Move the calling process into namespace ns (NULL: stay). 0 or -1. */
static int th_enter(const char *ns)
{
    if (ns == NULL || ns[0] == '\0')
        return 0;
    char path[128];
    snprintf(path, sizeof path, "/var/run/netns/%s", ns);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        perror("setns");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

#endif
