/* tp driver: run the SHM driver in the foreground (docs/spec/driver.md). */
#include "commands.h"
#include "stop_signal.h"

#include "tensorpool/agent.h"
#include "tensorpool/clock.h"
#include "tensorpool/codec/driver.h"
#include "tensorpool/discovery.h"
#include "tensorpool/driver.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/shm_dir.h"
#include "tensorpool/shm_path.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp driver - run the tensorpool SHM driver in the foreground\n"
            "\n"
            "SYNOPSIS\n"
            "    tp driver [-c FILE] [-d DIR] [-n NAMESPACE] [-s KEY=VALUE]... [--discovery]\n"
            "              [--check | --print-config]\n"
            "    tp driver --request-shutdown [--token TOKEN] [-d DIR] [-n NAMESPACE] [-c FILE]\n"
            "\n"
            "DESCRIPTION\n"
            "    The driver owns the shared-memory files of its streams. Producers and consumers\n"
            "    attach to it over the control stream; it creates each epoch's header ring and\n"
            "    payload pools under\n"
            "        <shm.base_dir>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/\n"
            "    hands out leases kept alive by keepalives, allows one producer per stream,\n"
            "    advances the epoch whenever a producer attaches or its lease ends, and announces\n"
            "    every live stream (ShmPoolAnnounce) once per announce period.\n"
            "\n"
            "    Only one driver may run per <base_dir>/tensorpool-<user>/<namespace>: a second one\n"
            "    fails to take the lock file driver.lock there and exits with status 1. The last\n"
            "    epoch of each stream is kept in <stream_id>/last_epoch, so a restarted driver\n"
            "    never reuses an epoch.\n"
            "\n"
            "OPTIONS\n"
            "    -c, --config FILE     TOML configuration (keys of docs/spec/driver.md section 5.1)\n"
            "    -d, --dir DIR         shm.base_dir (absolute); same as TP_DIR\n"
            "    -n, --namespace NS    shm.namespace\n"
            "    -s, --set KEY=VALUE   set one scalar key, e.g. -s policies.announce_period_ms=250\n"
            "        --check           validate the configuration (values, permissions_mode, base_dir\n"
            "                          inside allowed_base_dirs), print it, and exit; creates nothing\n"
            "        --print-config    print the effective configuration before running\n"
            "        --discovery       also answer discovery requests (schema 910, tp discovery list)\n"
            "                          from inside the driver, on its control stream\n"
            "        --request-shutdown\n"
            "                          send ShmDriverShutdownRequest (reason ADMIN) to the driver\n"
            "                          running on DIR/NAMESPACE and wait until it has shut down;\n"
            "                          the token comes from --token or POLICIES_SHUTDOWN_TOKEN.\n"
            "                          The driver ignores a refused request, so the command waits\n"
            "                          at most policies.shutdown_timeout_ms + 3000 ms for the\n"
            "                          driver's ShmDriverShutdown (or its exit). Exit 0 when it\n"
            "                          shut down; 1 when no driver holds DIR's driver.lock or it\n"
            "                          did not shut down in time (wrong token, remote shutdown off);\n"
            "                          2 when no token is given. Creates no file or directory.\n"
            "        --token TOKEN     shutdown token for --request-shutdown\n"
            "    -h, --help            this text\n"
            "\n"
            "CONFIGURATION\n"
            "    Precedence, lowest first: built-in defaults, the file, the environment, flags.\n"
            "    Environment names are the dotted key upper-cased with '.' -> '_' (for example\n"
            "    DRIVER_CONTROL_STREAM_ID, SHM_BASE_DIR, POLICIES_LEASE_KEEPALIVE_INTERVAL_MS,\n"
            "    POLICIES_SHUTDOWN_TOKEN); arrays are comma-separated; TP_DIR sets shm.base_dir\n"
            "    below SHM_BASE_DIR. Profiles and streams come only from the file.\n"
            "\n"
            "    Defaults: control channel tp:ipc stream 1000 (announces on the same stream),\n"
            "    QoS stream 1200, base dir /dev/shm/tensorpool, namespace default, keepalive\n"
            "    1000 ms with expiry after 3 missed intervals, announce period 1000 ms, node-id\n"
            "    cooldown 1000 ms, epoch GC on (keep 2, minimum age 3 announce periods), shutdown\n"
            "    drain 2000 ms, shutdown token empty (remote shutdown off), dynamic streams off.\n"
            "\n"
            "    Aeron (builds with Aeron): driver.control_channel = \"aeron:ipc\" (or\n"
            "    aeron:udp?endpoint=HOST:PORT) puts the control plane on Aeron;\n"
            "    driver.embedded_media_driver = true runs Aeron's media driver inside this\n"
            "    process, in driver.aeron_dir (default <base>/tensorpool-<user>/<ns>/aeron, where\n"
            "    clients look too); otherwise driver.aeron_dir or AERON_DIR names an external\n"
            "    aeronmd's directory. Clients follow DRIVER_CONTROL_CHANNEL.\n"
            "    The file must define at least one profile, e.g.:\n"
            "\n"
            "        [profiles.camera]\n"
            "        header_nslots = 64\n"
            "        payload_pools = [ { pool_id = 1, stride_bytes = 1048576 } ]\n"
            "\n"
            "        [streams.cam1]\n"
            "        stream_id = 10000\n"
            "        profile = \"camera\"\n"
            "\n"
            "    The reader accepts a strict TOML subset (tables, arrays of tables, strings,\n"
            "    integers, booleans, arrays, inline tables) and reports the line of any error.\n"
            "    Unknown keys are errors, except under [supervisor], which is ignored.\n"
            "\n"
            "SIGNALS\n"
            "    SIGINT and SIGTERM stop the driver cleanly: it publishes ShmDriverShutdown(NORMAL)\n"
            "    and exits 0. An accepted shutdown request drains for policies.shutdown_timeout_ms\n"
            "    (new attaches refused, keepalives honoured), then exits 0.\n"
            "\n"
            "EXIT STATUS\n"
            "    0 clean exit, 1 runtime failure (another driver holds the lock, I/O error),\n"
            "    2 usage or configuration error.\n"
            "\n"
            "FILES\n"
            "    <base_dir>/tensorpool-<user>/<namespace>/driver.lock\n"
            "        held while the driver runs: one driver per namespace\n"
            "    <base_dir>/tensorpool-<user>/<namespace>/<stream_id>/last_epoch\n"
            "        the last epoch handed out for the stream\n"
            "    <base_dir>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/\n"
            "        header.ring and <pool_id>.pool of each live epoch\n"
            "\n"
            "EXAMPLES\n"
            "    Check a configuration file without starting the driver:\n"
            "        tp driver --check -c driver.toml\n"
            "\n"
            "    Run it in a private directory with a faster announce period:\n"
            "        tp driver -c driver.toml -d /dev/shm/mine -s policies.announce_period_ms=250\n"
            "\n"
            "    Stop it from elsewhere (needs policies.shutdown_token set in its configuration):\n"
            "        tp driver --request-shutdown --token SECRET -d /dev/shm/mine\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), tp-stat(1), tp-inspect(1), tensorpool(7)\n");
}

/* Margin beyond the drain period for the driver's ShmDriverShutdown to arrive. */
#define SHUTDOWN_REPLY_MARGIN_MS 3000

typedef struct {
    int got_shutdown;
} shutdown_wait_t;

static void on_control(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    (void)info;
    shutdown_wait_t *w = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_header_read(buf, len, &h) == 0 && h.schema_id == TP_DRIVER_SCHEMA_ID &&
        h.template_id == TP_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID)
        w->got_shutdown = 1;
}

/* 1 while some process holds driver.lock exclusively (a driver runs), 0 if not. */
static int driver_holds_lock(int lock_fd)
{
    if (flock(lock_fd, LOCK_SH | LOCK_NB) != 0) return 1;
    flock(lock_fd, LOCK_UN);
    return 0;
}

/* The driver ignores a refused request (wrong token, remote shutdown off: D-4.13.b),
 * so success is seen only from outside: the driver drains, publishes
 * ShmDriverShutdown and releases its lock. Nothing is created on the way: the
 * namespace directory and its driver.lock must already exist. */
static int request_shutdown(const tp_driver_config_t *cfg, const char *token)
{
    if (token == NULL) token = cfg->shutdown_token;
    if (token[0] == '\0') {
        fprintf(stderr, "tp driver: --request-shutdown needs the driver's shutdown token (--token or "
                        "POLICIES_SHUTDOWN_TOKEN)\n");
        return 2;
    }
    char user[128], lock_path[TP_SHM_PATH_MAX + 32];
    if (tp_shm_user_effective(user, sizeof user) < 0 ||
        snprintf(lock_path, sizeof lock_path, "%s/tensorpool-%s/%s/driver.lock", cfg->base_dir, user, cfg->ns) >=
            (int)sizeof lock_path) {
        fprintf(stderr, "tp driver: %s\n", tp_errmsg());
        return 1;
    }
    const int lock_fd = open(lock_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (lock_fd < 0 || !driver_holds_lock(lock_fd)) {
        fprintf(stderr, "tp driver: no driver is running on %s (namespace %s): %s\n", cfg->base_dir, cfg->ns,
                lock_fd < 0 ? strerror(errno) : "driver.lock is not held");
        if (lock_fd >= 0) close(lock_fd);
        return 1;
    }
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = cfg->base_dir;
    ipc.namespace_name = cfg->ns;
    if (cfg->aeron_dir[0] != '\0') setenv("AERON_DIR", cfg->aeron_dir, 1); /* the driver's media driver */
    tp_ipc_publication_t *pub = NULL;
    tp_ipc_subscription_t *sub = NULL;
    int rc = 1;
    /* subscribe first, so the driver's answer cannot slip past */
    if (tp_ipc_subscription_open(&sub, &ipc, cfg->control_channel, (int32_t)cfg->control_stream_id) != 0 ||
        tp_ipc_publication_open(&pub, &ipc, cfg->control_channel, (int32_t)cfg->control_stream_id) != 0) {
        fprintf(stderr, "tp driver: %s\n", tp_errmsg());
        goto out;
    }
    uint8_t buf[600];
    tp_driver_shm_driver_shutdown_request_enc_t e;
    tp_driver_shm_driver_shutdown_request_encode_begin(&e, buf, sizeof buf);
    tp_driver_shm_driver_shutdown_request_set_correlation_id(&e, tp_correlation_id_next());
    tp_driver_shm_driver_shutdown_request_set_reason(&e, TP_DRIVER_SHUTDOWN_REASON_ADMIN);
    tp_driver_shm_driver_shutdown_request_put_token(&e, token, strlen(token));
    tp_driver_shm_driver_shutdown_request_put_error_message(&e, "tp driver --request-shutdown", 28);
    const long n = tp_driver_shm_driver_shutdown_request_encode_end(&e);
    if (n <= 0 || tp_ipc_publication_offer(pub, buf, (size_t)n) <= 0) {
        fprintf(stderr, "tp driver: cannot send the request: %s\n", tp_errmsg());
        goto out;
    }
    const int64_t wait_ms = (int64_t)cfg->shutdown_timeout_ms + SHUTDOWN_REPLY_MARGIN_MS;
    const int64_t deadline = tp_clock_monotonic_ns() + wait_ms * 1000000;
    shutdown_wait_t w = {0};
    while (!w.got_shutdown && tp_clock_monotonic_ns() < deadline) {
        if (tp_ipc_subscription_poll(sub, on_control, &w, 16) > 0) continue;
        if (!driver_holds_lock(lock_fd)) break; /* the driver has gone */
        const struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    if (w.got_shutdown || !driver_holds_lock(lock_fd)) {
        fprintf(stderr, "tp driver: the driver accepted the request and shut down\n");
        rc = 0;
    } else {
        fprintf(stderr,
                "tp driver: the driver did not shut down within %lld ms (policies.shutdown_timeout_ms + %d ms): "
                "wrong token, or remote shutdown is off on the driver (empty policies.shutdown_token)\n",
                (long long)wait_ms, SHUTDOWN_REPLY_MARGIN_MS);
    }
out:
    tp_ipc_publication_close(pub);
    tp_ipc_subscription_close(sub);
    close(lock_fd);
    return rc;
}

int tp_cmd_driver(int argc, char **argv)
{
    tp_driver_config_t *cfg = malloc(sizeof *cfg);
    if (cfg == NULL) return 1;
    tp_driver_config_defaults(cfg);
    const char *config = NULL, *dir = NULL, *ns = NULL, *token = NULL;
    int check = 0, print = 0, shutdown = 0, discovery = 0, rc = 2;
    const char *sets[64];
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has_value = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            rc = 0;
            goto out;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && has_value) {
            config = argv[++i];
        } else if ((strcmp(a, "-d") == 0 || strcmp(a, "--dir") == 0) && has_value) {
            dir = argv[++i];
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0) && has_value) {
            ns = argv[++i];
        } else if ((strcmp(a, "-s") == 0 || strcmp(a, "--set") == 0) && has_value) {
            if (nsets == 64) {
                fprintf(stderr, "tp driver: too many --set options\n");
                goto out;
            }
            sets[nsets++] = argv[++i];
        } else if (strcmp(a, "--token") == 0 && has_value) {
            token = argv[++i];
        } else if (strcmp(a, "--check") == 0) {
            check = 1;
        } else if (strcmp(a, "--print-config") == 0) {
            print = 1;
        } else if (strcmp(a, "--discovery") == 0) {
            discovery = 1;
        } else if (strcmp(a, "--request-shutdown") == 0) {
            shutdown = 1;
        } else {
            fprintf(stderr, "tp driver: unknown or incomplete option '%s' (see tp driver --help)\n", a);
            goto out;
        }
    }
    if ((config != NULL && tp_driver_config_load_file(cfg, config) != 0) || tp_driver_config_apply_env(cfg, NULL) != 0 ||
        (dir != NULL && tp_driver_config_set(cfg, "shm.base_dir", dir) != 0) ||
        (ns != NULL && tp_driver_config_set(cfg, "shm.namespace", ns) != 0)) {
        fprintf(stderr, "tp driver: %s\n", tp_errmsg());
        goto out;
    }
    for (int i = 0; i < nsets; i++) {
        char key[256];
        const char *eq = strchr(sets[i], '=');
        if (eq == NULL || (size_t)(eq - sets[i]) >= sizeof key) {
            fprintf(stderr, "tp driver: --set needs KEY=VALUE, got '%s'\n", sets[i]);
            goto out;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = '\0';
        if (tp_driver_config_set(cfg, key, eq + 1) != 0) {
            fprintf(stderr, "tp driver: --set: %s\n", tp_errmsg());
            goto out;
        }
    }
    if (shutdown) {
        rc = request_shutdown(cfg, token);
        goto out;
    }
    if (tp_driver_config_validate(cfg) != 0 || tp_driver_base_dir_check(cfg) != 0) {
        fprintf(stderr, "tp driver: configuration: %s\n", tp_errmsg());
        goto out;
    }
    if (check || print) tp_driver_config_print(cfg, stdout);
    if (check) {
        rc = 0;
        goto out;
    }
    tp_app_catch_stop_signals(false);
    tp_driver_t *d = NULL;
    if (tp_driver_open(&d, cfg, stderr) != 0) {
        fprintf(stderr, "tp driver: %s\n", tp_errmsg());
        /* configuration (bad value, refused directory) vs. runtime (lock held, I/O) */
        rc = tp_errcode() == TP_ERR_INVALID_ARG || tp_errcode() == TP_ERR_UNSUPPORTED || tp_errcode() == TP_ERR_PERMISSION
                 ? 2
                 : 1;
        goto out;
    }
    /* an embedded discovery provider, driven in the same loop (docs/spec/discovery.md) */
    tp_discovery_t *disc = NULL;
    if (discovery) {
        tp_discovery_config_t dc;
        tp_discovery_config_from_driver(&dc, cfg);
        if (tp_discovery_create(&dc, &disc) != 0) {
            fprintf(stderr, "tp driver: discovery: %s\n", tp_errmsg());
            tp_driver_close(d, 1, tp_errmsg());
            rc = 1;
            goto out;
        }
    }
    tp_idle_strategy_t idle;
    tp_driver_idle_strategy(cfg, d, &idle);
    rc = 0;
    while (!tp_app_stop && !tp_driver_is_stopped(d)) {
        int work = tp_driver_do_work(d, tp_clock_monotonic_ns());
        if (disc != NULL && work >= 0) work += tp_discovery_do_work(disc, tp_clock_monotonic_ns());
        if (work < 0) {
            fprintf(stderr, "tp driver: %s\n", tp_errmsg());
            tp_discovery_destroy(disc);
            tp_driver_close(d, 1, tp_errmsg());
            rc = 1;
            goto out;
        }
        tp_idle_strategy_idle(&idle, work);
    }
    fprintf(stderr, "tp driver: stopping\n");
    tp_discovery_destroy(disc);
    tp_driver_close(d, 0, NULL);
out:
    free(cfg);
    return rc;
}
