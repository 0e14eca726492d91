/*
 * finalize.h - retrains the networks of a search's Pareto front longer, on the whole training
 * part (all training images except the validation split), and records their test accuracy in
 * the archive (evaluations.test_accuracy, final_epochs), together with two exact baselines:
 * each front network's all-exact variant (the same architecture and seed, every multiplier
 * exact) and the best exact-multiplier network of the archive (lowest validation error, then
 * energy). Results go to the table `finalized` (docs/archive.md), created on first use:
 *
 *     finalized(hash, variant 'searched' | 'exact', energy_pj, test_accuracy, epochs, weights)
 */
#ifndef FINALIZE_H
#define FINALIZE_H

#include <signal.h>
#include <stdio.h>

#include "eng_common.h"

/* Finalizes every member of the run's front (pareto_front view), its all-exact variant and
 * the archive's best exact network, skipping those finalized for this many epochs already.
 * epochs <= 0 takes the config's finalize.epochs; threads <= 0 all cores (one network per
 * thread). save_dir (NULL = keep nothing) receives the weights of every retrained network,
 * DIR/<hash>.w and DIR/<hash>-exact.w (a weights file for `export --from final`, `eval`,
 * `train --init`), created when missing, recorded with its absolute path; with save_dir,
 * networks finalized earlier without weights are trained again. Each result is committed as
 * soon as it is known, so an interrupted finalize keeps what it did. log (may be NULL) gets
 * one line per network. *done receives the number of networks finalized by this call. */
eng_status finalize_front(const char *db_path, int epochs, int threads, const char *save_dir,
                          FILE *log, volatile sig_atomic_t *stop, int *done);

#endif /* FINALIZE_H */
