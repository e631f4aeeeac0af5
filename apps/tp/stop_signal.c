#include "stop_signal.h"

#include <string.h>

volatile sig_atomic_t tp_app_stop;

static void on_signal(int sig)
{
    (void)sig;
    tp_app_stop = 1;
}

void tp_app_catch_stop_signals(bool also_sigpipe)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (also_sigpipe)
        sigaction(SIGPIPE, &sa, NULL);
}
