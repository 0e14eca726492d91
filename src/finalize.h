/*
 * finalize.h - retrains the networks of a search's Pareto front longer, on the whole training
 * part (all training images except the validation split), and records their test accuracy in
 * the archive (evaluations.test_accuracy, final_epochs).
 */
#ifndef FINALIZE_H
#define FINALIZE_H

#include <signal.h>
#include <stdio.h>

#include "eng_common.h"

/* Finalizes every member of the run's front (pareto_front view) that has no test accuracy
 * for this many epochs yet. epochs <= 0 takes the config's finalize.epochs; threads <= 0 all
 * cores (one network per thread). Each result is committed as soon as it is known, so an
 * interrupted finalize keeps what it did. log (may be NULL) gets one line per network.
 * *done receives the number of networks finalized by this call. */
eng_status finalize_front(const char *db_path, int epochs, int threads, FILE *log,
                          volatile sig_atomic_t *stop, int *done);

#endif /* FINALIZE_H */
