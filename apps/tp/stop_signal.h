/* Clean stop for long-running tp commands: SIGINT/SIGTERM (and optionally
 * SIGPIPE) set a flag the command's loop polls, so it can release its
 * resources and exit normally. */
#ifndef TP_APP_STOP_SIGNAL_H
#define TP_APP_STOP_SIGNAL_H

#include <signal.h>
#include <stdbool.h>

extern volatile sig_atomic_t tp_app_stop;

/* Install the handlers; also_sigpipe: a closed output (| head) stops too. */
void tp_app_catch_stop_signals(bool also_sigpipe);

#endif
