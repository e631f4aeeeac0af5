/* tp: the tensorpool command-line tool. Its --help texts are also its manual
 * pages: tools/man_from_help.py turns them into tp(1), tp-COMMAND(1) and
 * tensorpool(7) at build time (format rules in commands.h). */
#include "commands.h"

#include "tensorpool/version.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} tp_command_t;

/* Every command listed here gets a manual page tp-NAME(1) from its --help. */
static const tp_command_t commands[] = {
    {"bridge", tp_cmd_bridge, "carry streams between hosts over Aeron UDP (SHM <-> Aeron UDP bridge)"},
    {"clean", tp_cmd_clean, "remove the SHM files and logs of streams and processes that are gone"},
    {"demo", tp_cmd_demo, "run driver, producers and two joins, one process each, with live status"},
    {"discovery", tp_cmd_discovery, "find streams by name and tags (schema 910), or serve the answers"},
    {"decode", tp_cmd_decode, "print SBE messages (schemas 900-910) and SHM structures as JSON"},
    {"driver", tp_cmd_driver, "run the SHM driver (leases, epochs, announces) in the foreground"},
    {"inspect", tp_cmd_inspect, "describe an SHM region file: superblock, validity, per-slot summary"},
    {"ratelimit", tp_cmd_ratelimit, "republish a stream at a lower frame rate into a stream of its own"},
    {"stat", tp_cmd_stat, "live view of a running system: streams, clients, rates, drops, joins"},
    {"supervise", tp_cmd_supervise, "steer consumers by policy: rate-limit those that keep dropping"},
#ifdef TP_HAVE_VIEW
    {"view", tp_cmd_view, "live web page of a running system: streams, thumbnails, joins, transport"},
#endif
    {"trace", tp_cmd_trace, "record frame lineage; show which input frames made an output"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void list_commands(FILE *out)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "    %-12s%s\n", commands[i].name, commands[i].summary);
}

static void help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tp - the tensorpool command-line tool\n"
            "\n"
            "SYNOPSIS\n"
            "    tp COMMAND [OPTIONS] [ARGS...]\n"
            "    tp help [COMMAND]\n"
            "    tp --version\n"
            "\n"
            "DESCRIPTION\n"
            "    tensorpool moves tensors between processes of one Linux host through\n"
            "    shared-memory rings managed by an SHM driver; JoinBarriers combine several\n"
            "    streams. tp runs the driver, runs a complete demonstration, watches a running\n"
            "    system and takes apart its files and messages. See tensorpool(7) for the\n"
            "    concepts and the files a running system uses.\n"
            "\n"
            "    Each command documents itself: 'tp COMMAND --help' prints the same text as its\n"
            "    manual page tp-COMMAND(1).\n"
            "\n"
            "COMMANDS\n");
    list_commands(out);
    fprintf(out,
            "    help        print this text, or with COMMAND that command's help\n"
            "    version     print the version, as --version does\n"
            "\n"
            "OPTIONS\n"
            "    -h, --help     print this text and exit\n"
            "    -V, --version  print 'tp (tensorpool) VERSION' and exit\n"
            "\n"
            "EXIT STATUS\n"
            "    The same for every command:\n"
            "    0  success\n"
            "    1  a runtime failure (named on standard error)\n"
            "    2  bad input or usage\n"
            "\n"
            "ENVIRONMENT\n"
            "    TP_DIR  base directory of the SHM files and the transport (default\n"
            "            /dev/shm/tensorpool); see each command for the variables it reads\n"
            "\n"
            "EXAMPLES\n"
            "    Run the demonstration for 5 seconds:\n"
            "        tp demo --duration 5\n"
            "\n"
            "    Decode a message saved to a file:\n"
            "        tp decode message.bin\n"
            "\n"
            "SEE ALSO\n"
            "    ");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(out, "tp-%s(1), ", commands[i].name);
    fprintf(out, "tensorpool(7)\n");
}

/* tensorpool(7): the overview page, printed by 'tp help tensorpool'. */
static void overview(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    tensorpool - shared-memory tensor transport and join barriers for one Linux host\n"
            "\n"
            "SYNOPSIS\n"
            "    #include <tensorpool/tensorpool.h>\n"
            "    cc app.c $(pkg-config --cflags --libs tensorpool)\n"
            "\n"
            "DESCRIPTION\n"
            "    tensorpool moves tensors and images between processes on one host at memory\n"
            "    speed. A producer writes each frame into a payload pool and its header into a\n"
            "    slot of a header ring, both files in shared memory; consumers map the same\n"
            "    files read-only and read frames in place, with no copy. A seqlock in every\n"
            "    slot lets a consumer detect a frame overwritten while it read it (no torn\n"
            "    reads).\n"
            "\n"
            "    The SHM driver owns the files. Producers and consumers attach to it over the\n"
            "    control stream and keep their leases alive with keepalives; the driver\n"
            "    creates each epoch's ring and pools, allows one producer per stream, starts a\n"
            "    new epoch whenever a producer attaches or its lease ends, and announces the\n"
            "    live streams once per announce period. Messages between processes use SBE\n"
            "    schemas 900 (control), 901 (driver) and 903 (MergeMap) on a local transport\n"
            "    of append-only log files. tp bridge carries streams to another host over\n"
            "    Aeron UDP (schema 902).\n"
            "\n"
            "    A JoinBarrier gates a processing stage on several input streams: by sequence\n"
            "    (with per-input offsets), by timestamp with a lateness budget, or by latest\n"
            "    value. Its rules, the MergeMap, are announced on the control stream by a\n"
            "    MergeMap authority; a join agent consumes the inputs and calls the stage when\n"
            "    a set is complete.\n"
            "\n"
            "    Functions return 0 (or a count) on success and -1 on failure, with a\n"
            "    thread-local code and message (tp_errcode(), tp_errmsg()). Hot paths\n"
            "    (publish, poll, slot read) do not allocate, lock or make system calls after\n"
            "    initialisation.\n"
            "\n"
            "    A program includes <tensorpool/tensorpool.h>, which brings in the whole user\n"
            "    API (one header per concept under tensorpool/: producer.h, consumer.h,\n"
            "    driver.h, join_agent.h, ...; version.h gives the version), and links\n"
            "    libtensorpool: with pkg-config as above, or in CMake with\n"
            "    find_package(tensorpool) and the target tensorpool::tensorpool.\n"
            "\n"
            "ENVIRONMENT\n"
            "    TP_DIR          base directory of SHM files and transport logs\n"
            "                    (default /dev/shm/tensorpool)\n"
            "    SHM_BASE_DIR    the driver's and clients' base directory; wins over TP_DIR\n"
            "    SHM_NAMESPACE   namespace below the base directory (default 'default')\n"
            "\n"
            "    The driver reads every configuration key from the environment too (the key\n"
            "    upper-cased, '.' replaced by '_'); see tp-driver(1).\n"
            "\n"
            "FILES\n"
            "    <base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/header.ring\n"
            "        a stream's header ring: a 64-byte superblock, then one 256-byte slot\n"
            "        per frame\n"
            "    <base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/<pool_id>.pool\n"
            "        a payload pool: a superblock, then fixed-stride payload slots\n"
            "    <base>/tensorpool-<user>/<namespace>/driver.lock\n"
            "        held by the running driver; one driver per namespace\n"
            "    <base>/tensorpool-<user>/<namespace>/ipc/\n"
            "        the transport's logs, one per publication\n"
            "\n"
            "EXAMPLES\n"
            "    Start a driver, then watch what attaches to it:\n"
            "        tp driver -c driver.toml &\n"
            "        tp stat\n"
            "\n"
            "    Check a stream's header ring:\n"
            "        tp inspect /dev/shm/tensorpool/tensorpool-$USER/default/10000/1/header.ring\n"
            "\n"
            "    The user guide (share/doc/tensorpool/user-guide.md) walks through the API\n"
            "    with complete programs; they are installed in share/doc/tensorpool/examples\n"
            "    with a CMakeLists.txt that builds them against the installed package.\n"
            "\n"
            "SEE ALSO\n"
            "    tp(1), ");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(out, "tp-%s(1)%s", commands[i].name, i + 1 < NCOMMANDS ? ", " : "\n");
}

static void version(void) { printf("tp (tensorpool) %s\n", tp_version()); }

static const tp_command_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) return &commands[i];
    return NULL;
}

static int unknown(const char *name)
{
    fprintf(stderr, "tp: unknown command '%s'; the commands are:\n", name);
    list_commands(stderr);
    fprintf(stderr, "(tp --help describes them)\n");
    return 2;
}

/* tp help [COMMAND|tensorpool] */
static int help_command(int argc, char **argv)
{
    if (argc < 2) {
        help(stdout);
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "tp help: one COMMAND at a time\n");
        return 2;
    }
    if (strcmp(argv[1], "tensorpool") == 0) {
        overview(stdout);
        return 0;
    }
    const tp_command_t *c = find(argv[1]);
    if (c == NULL) return unknown(argv[1]);
    char *args[] = {argv[1], (char *)"--help", NULL};
    return c->run(2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tp COMMAND [OPTIONS] [ARGS...]   (tp --help lists the commands)\n");
        return 2;
    }
    const char *a = argv[1];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        help(stdout);
        return 0;
    }
    if (strcmp(a, "help") == 0) return help_command(argc - 1, argv + 1);
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0 || strcmp(a, "version") == 0) {
        version();
        return 0;
    }
    const tp_command_t *c = find(a);
    if (c == NULL) return unknown(a);
    return c->run(argc - 1, argv + 1);
}
