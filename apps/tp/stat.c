/* tp stat: placeholder until the monitor lands. */
#include "commands.h"

#include <stdio.h>

int tp_cmd_stat(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tp stat: not built yet\n");
    return 1;
}
