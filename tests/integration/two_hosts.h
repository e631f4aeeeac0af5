/* Two "hosts" on one machine that share nothing but a network: network
 * namespaces joined by a veth pair (10.<net>.<x>.1 on host A, .2 on host B),
 * when the test runs as root with ip(8); otherwise both "hosts" are this
 * one and talk over 127.0.0.1 (the test prints which). Shared by
 * bridge_two_hosts_test, discovery_two_hosts_test and bench_bridge --netns.
 * Header-only. */
#ifndef TP_TEST_TWO_HOSTS_H
#define TP_TEST_TWO_HOSTS_H

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char ns_a[32], ns_b[32], ip_a[32], ip_b[32];
static int use_netns;

static int two_hosts_sh(const char *cmd)
{
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Enter host ns's network namespace (in a child; nothing without namespaces
 * or for NULL/""); a failure ends the child with status 30. */
static void enter_host(const char *ns)
{
    if (!use_netns || ns == NULL || ns[0] == '\0') return;
    char path[128];
    snprintf(path, sizeof path, "/var/run/netns/%s", ns);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        perror("setns");
        _exit(30);
    }
    close(fd);
}

static void netns_down(void)
{
    if (ns_a[0] == '\0') return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_a, ns_b);
    (void)two_hosts_sh(cmd);
}

/* Namespaces <tag>A<pid> and <tag>B<pid> on 10.<net>.<pid % 250 + 1>.0/24
 * (a tag and net of each test's own, so tests never share names). Sets
 * use_netns and ip_a/ip_b (127.0.0.1 without namespaces); returns use_netns. */
static int netns_up(const char *tag, int net)
{
    snprintf(ns_a, sizeof ns_a, "%sA%d", tag, (int)getpid());
    snprintf(ns_b, sizeof ns_b, "%sB%d", tag, (int)getpid());
    const int subnet = 1 + (int)(getpid() % 250);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ip netns add %1$s && ip netns add %2$s && "
             "ip link add %1$sv type veth peer name %2$sv && "
             "ip link set %1$sv netns %1$s && ip link set %2$sv netns %2$s && "
             "ip -n %1$s addr add 10.%4$d.%3$d.1/24 dev %1$sv && ip -n %2$s addr add 10.%4$d.%3$d.2/24 dev %2$sv && "
             "ip -n %1$s link set %1$sv up && ip -n %2$s link set %2$sv up && "
             "ip -n %1$s link set lo up && ip -n %2$s link set lo up",
             ns_a, ns_b, subnet, net);
    use_netns = getuid() == 0 && two_hosts_sh("command -v ip >/dev/null 2>&1") == 0 && two_hosts_sh(cmd) == 0;
    if (!use_netns) netns_down();
    snprintf(ip_a, sizeof ip_a, use_netns ? "10.%d.%d.1" : "127.0.0.1", net, subnet);
    snprintf(ip_b, sizeof ip_b, use_netns ? "10.%d.%d.2" : "127.0.0.1", net, subnet);
    return use_netns;
}

#endif
