/*
 * run_signal.c - SIGINT/SIGTERM/SIGHUP as a stop request; a second signal kills at once.
 */
#include "run_signal.h"

#include <string.h>

static volatile sig_atomic_t stop_flag;
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS (int)(sizeof stop_signals / sizeof stop_signals[0])

static void set_action(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(stop_signals[i], &sa, NULL);
}

static void on_stop_signal(int sig)
{
    stop_flag = sig;
    set_action(SIG_DFL); /* sigaction is async-signal-safe; the next signal kills */
}

volatile sig_atomic_t *run_signal_install(void)
{
    stop_flag = 0;
    set_action(on_stop_signal);
    return &stop_flag;
}

void run_signal_restore(void) { set_action(SIG_DFL); }

int run_signal_caught(void) { return (int)stop_flag; }

const char *run_signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return NULL;
    }
}
