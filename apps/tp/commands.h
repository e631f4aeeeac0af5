/* Subcommands of the tp command. Each lives in its own file and returns the
 * process exit status: 0 success, 1 runtime failure, 2 bad input or usage. */
#ifndef TP_APP_COMMANDS_H
#define TP_APP_COMMANDS_H

int tp_cmd_clean(int argc, char **argv);
int tp_cmd_decode(int argc, char **argv);
int tp_cmd_demo(int argc, char **argv);
int tp_cmd_driver(int argc, char **argv);
int tp_cmd_inspect(int argc, char **argv);
int tp_cmd_stat(int argc, char **argv);

#endif
