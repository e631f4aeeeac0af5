/* tp supervise: the supervisor agent (W-10.5.a) in the foreground. */
#include "client_dir.h"
#include "commands.h"
#include "stop_signal.h"

#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "tensorpool/supervisor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *out)
{
    fputs("NAME\n"
          "    tp supervise - steer consumers by policy: rate-limit those that keep dropping\n"
          "\n"
          "SYNOPSIS\n"
          "    tp supervise [DIR] --policy FILE [--namespace NS] [--dry-run] [--once]\n"
          "\n"
          "DESCRIPTION\n"
          "    Runs the supervisor role of the wire specification (W-10.5.a) on the system in\n"
          "    DIR (the shm.base_dir; default $TP_DIR, else /dev/shm/tensorpool). It watches\n"
          "    what tp stat watches (ShmPoolAnnounce, DataSourceAnnounce, the driver's lease\n"
          "    keepalives, QosConsumer and QosProducer) and applies the rules of the policy\n"
          "    FILE (format in docs/configuration.md, \"Supervisor policy\"):\n"
          "        drops stream=S max=N window=T rate_hz=R\n"
          "            a consumer of stream S (or * for any) whose drops_gap + drops_late\n"
          "            grow by more than N within T (e.g. 5s, 500ms) is moved to RATE_LIMITED:\n"
          "            ConsumerConfig with mode RATE_LIMITED, then ControlResponse OK\n"
          "            \"max_rate_hz=R\" (W-P3, W-P4)\n"
          "        max_consumers stream=S count=K\n"
          "            consumers of S past the first K live ones (in attach order) are sent\n"
          "            ControlResponse REJECTED; their applications see it as the consumer's\n"
          "            last error (tp_consumer_last_error)\n"
          "\n"
          "    Every decision is printed once, as one line starting with the time; a standing\n"
          "    decision is re-sent every second while its consumer lives, so a consumer that\n"
          "    missed it, or a supervisor restarted after a crash, converges again. The\n"
          "    supervisor keeps no state of its own: a restarted one relearns the drop counts\n"
          "    from QoS within one window.\n"
          "\n"
          "OPTIONS\n"
          "    --policy FILE       the policy (required); a malformed file is an error naming\n"
          "                        its line and column, and nothing runs\n"
          "    --namespace NS      shm.namespace (default $SHM_NAMESPACE, else default)\n"
          "    --dry-run           decide and print as usual, but send nothing\n"
          "    --once              check the policy file, print its rules and exit\n"
          "    -h, --help          this text\n"
          "\n"
          "OUTPUT\n"
          "    One line per decision, e.g.\n"
          "        12:00:03 stream 10000 consumer 7: drops grew by 80 in 2000 ms (> 50,\n"
          "        policy line 2): RATE_LIMITED at 5 Hz\n"
          "    and on exit one line of totals: decisions, configs and responses sent.\n"
          "\n"
          "SIGNALS\n"
          "    SIGINT, SIGTERM  print the totals and exit 0\n"
          "\n"
          "EXIT STATUS\n"
          "    0  stopped by a signal, or --once with a valid policy\n"
          "    1  the supervisor could not start (transport directory, out of memory)\n"
          "    2  bad option, bad DIR, or a malformed policy file\n"
          "\n"
          "EXAMPLES\n"
          "    tp supervise --policy /etc/tensorpool/supervise.policy\n"
          "    tp supervise /dev/shm/tp-live --policy p.policy --dry-run\n"
          "\n"
          "SEE ALSO\n"
          "    tp(1), tp-stat(1), tp-driver(1), tensorpool(7)\n",
          out);
}

static void on_decision(void *clientd, const tp_supervisor_decision_t *d)
{
    (void)clientd;
    const time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    printf("%02d:%02d:%02d %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, d->text);
    fflush(stdout);
}

int tp_cmd_supervise(int argc, char **argv)
{
    const char *dir = NULL, *policy = NULL, *ns = NULL;
    int dry_run = 0, once = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "--policy") == 0 && i + 1 < argc) {
            policy = argv[++i];
        } else if (strcmp(a, "--namespace") == 0 && i + 1 < argc) {
            ns = argv[++i];
        } else if (strcmp(a, "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(a, "--once") == 0) {
            once = 1;
        } else if (a[0] != '-' && dir == NULL) {
            dir = a;
        } else {
            fprintf(stderr, "tp supervise: unknown option or extra argument '%s' (see tp supervise --help)\n", a);
            return 2;
        }
    }
    if (policy == NULL) {
        fprintf(stderr, "tp supervise: --policy FILE is required (see tp supervise --help)\n");
        return 2;
    }
    tp_supervisor_config_t cfg;
    tp_supervisor_config_init(&cfg);
    cfg.dry_run = dry_run;
    if (tp_supervisor_policy_load(&cfg.policy, policy) != 0) {
        fprintf(stderr, "tp supervise: policy %s\n", tp_errmsg());
        return 2;
    }
    if (once) {
        for (uint32_t i = 0; i < cfg.policy.nrules; i++) {
            char line[160];
            tp_supervisor_rule_format(&cfg.policy.rules[i], line, sizeof line);
            printf("line %u: %s\n", cfg.policy.rules[i].line, line);
        }
        return 0;
    }
    const int bad = tp_app_client_dir("supervise", &cfg.ctx, dir, ns, true);
    if (bad != 0) return bad;
    tp_app_catch_stop_signals(false);
    tp_supervisor_t *s = NULL;
    if (tp_supervisor_open(&s, &cfg, on_decision, NULL) != 0) {
        fprintf(stderr, "tp supervise: %s\n", tp_errmsg());
        return 1;
    }
    printf("supervising %s namespace %s: %u rule%s%s\n", cfg.ctx.base_dir, cfg.ctx.ns, cfg.policy.nrules,
           cfg.policy.nrules == 1 ? "" : "s", dry_run ? " (dry run)" : "");
    fflush(stdout);
    while (!tp_app_stop) {
        if (tp_supervisor_poll(s, tp_clock_monotonic_ns()) == 0) {
            const struct timespec ts = {0, 10000000}; /* 10 ms: a control-plane agent */
            nanosleep(&ts, NULL);
        }
    }
    tp_supervisor_stats_t sts;
    tp_supervisor_stats(s, &sts);
    printf("decisions %llu, configs sent %llu, responses sent %llu\n", (unsigned long long)sts.decisions,
           (unsigned long long)sts.configs_sent, (unsigned long long)sts.responses_sent);
    tp_supervisor_close(s);
    return 0;
}
