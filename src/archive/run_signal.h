/*
 * run_signal.h - the stop signals of long commands (search, resume, finalize): SIGINT, SIGTERM
 * and SIGHUP ask for a clean stop, a second one of them ends the process at once.
 *
 *     volatile sig_atomic_t *stop = run_signal_install();
 *     eng_status st = search_run(config, &(search_opts){.stop = stop, ...}, NULL);
 *     if (st == ENG_ERR_INTERRUPTED) ... run_signal_name(run_signal_caught()) ...
 *     run_signal_restore();
 *
 * The first signal stores its number in the flag (so *stop != 0 means "stop") and puts the
 * default action back for all three, so that a second signal kills the process the way it
 * would have without the handler. Handlers use SA_RESTART: system calls of the writer are not
 * cut short by the first signal.
 */
#ifndef RUN_SIGNAL_H
#define RUN_SIGNAL_H

#include <signal.h>

/* Clears the flag, installs the handlers and returns the flag (static storage). Not
 * thread-safe: call from the main thread before starting workers. Cannot fail. */
volatile sig_atomic_t *run_signal_install(void);

/* Puts the default actions back (the flag keeps its value). */
void run_signal_restore(void);

/* The signal that asked to stop, 0 when none came. */
int run_signal_caught(void);

/* "SIGINT", "SIGTERM", "SIGHUP"; NULL for any other number. */
const char *run_signal_name(int sig);

#endif /* RUN_SIGNAL_H */
