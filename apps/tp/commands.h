/* Subcommands of the tp command. Each lives in its own file and returns the
 * process exit status: 0 success, 1 runtime failure, 2 bad input or usage.
 *
 * A command's --help text is also its manual page tp-NAME(1), made at build
 * time by tools/man_from_help.py (test: man_pages_match_help), so it follows
 * the manual's layout:
 *   - section titles in capitals at column 0: NAME, SYNOPSIS, DESCRIPTION,
 *     OPTIONS, EXIT STATUS and SEE ALSO are required; ENVIRONMENT, FILES,
 *     SIGNALS, EXAMPLES and others as needed;
 *   - NAME is one line "tp NAME - what it does";
 *   - section text indented 4 spaces; a blank line ends a paragraph;
 *   - "TAG  text" (an option, a value, an exit status; two or more spaces
 *     before the text) starts a tagged item, lines indented deeper continue it;
 *   - other lines indented deeper than 4 (examples, tables) are kept as they
 *     are.
 * A new command needs only its entry in main.c's table and such a text. */
#ifndef TP_APP_COMMANDS_H
#define TP_APP_COMMANDS_H

int tp_cmd_bridge(int argc, char **argv);
int tp_cmd_clean(int argc, char **argv);
int tp_cmd_decode(int argc, char **argv);
int tp_cmd_demo(int argc, char **argv);
int tp_cmd_discovery(int argc, char **argv);
int tp_cmd_driver(int argc, char **argv);
int tp_cmd_inspect(int argc, char **argv);
int tp_cmd_ratelimit(int argc, char **argv);
int tp_cmd_stat(int argc, char **argv);
int tp_cmd_supervise(int argc, char **argv);
#ifdef TP_HAVE_VIEW
int tp_cmd_view(int argc, char **argv); /* built with libmicrohttpd only */
#endif
int tp_cmd_trace(int argc, char **argv);

#endif
