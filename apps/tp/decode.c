#include "commands.h"
#include <stdio.h>
int tp_cmd_decode(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tp decode: not built yet\n");
    return 1;
}
