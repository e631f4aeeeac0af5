/* tp: the tensorpool command-line tool. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} tp_command_t;

static const tp_command_t commands[] = {
    {"clean", tp_cmd_clean, "remove the SHM files and logs of streams and processes that are gone"},
    {"demo", tp_cmd_demo, "run driver, producers and two joins, one process each, with live status"},
    {"decode", tp_cmd_decode, "print SBE messages (schemas 900/901/903) and SHM structures as JSON"},
    {"driver", tp_cmd_driver, "run the SHM driver (leases, epochs, announces) in the foreground"},
    {"inspect", tp_cmd_inspect, "describe an SHM region file: superblock, validity, per-slot summary"},
    {"stat", tp_cmd_stat, "live view of a running system: streams, clients, rates, drops, joins"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tp COMMAND [ARGS...]\n"
            "\n"
            "tensorpool command-line tool. Run 'tp COMMAND --help' for a command's options.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Exit status: 0 on success, 1 on a runtime failure, 2 on bad input or usage.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "tp: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
