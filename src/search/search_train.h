/*
 * search_train.h - the training of a candidate: the engine's training loop (eng_train.h) with
 * the search's recipe (SGD with momentum, weight decay, cosine or constant learning rate), the
 * stop flag, timed checkpoints and progress as hooks; then its error on a data set.
 *
 * Everything random (epoch order, augmentation) comes from the seed, so the same network,
 * data and seed give the same result on any thread count (the engine's reductions have a
 * fixed order).
 */
#ifndef SEARCH_TRAIN_H
#define SEARCH_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "eng_data.h"
#include "eng_net.h"
#include "eng_train.h"

/* The search's recipe as the engine's settings: the config's training section with `epochs`
 * epochs, the batch size at most `images`, the data order and augmentation from
 * seed ^ 0x5DEECE66D (the weights come from the seed itself: eng_net_init_params); no hooks.
 * This function can't fail. */
void search_train_recipe(const cfg_search *c,
                         int epochs,
                         uint64_t seed,           // the candidate's seed
                         int images,              // training images
                         eng_train_cfg *out);

/* The hooks see the engine's position (eng_train_pos: step = batch of the epoch, mean_loss =
 * the epoch's mean loss so far). */
typedef enum search_train_event {
    SEARCH_TRAIN_BATCH,         /* a batch was trained */
    SEARCH_TRAIN_EPOCH,         /* an epoch ended (after the batch event of its last batch) */
} search_train_event;

/* Optional checkpoints and progress of search_train; all members may be zero/NULL.
 *
 * A checkpoint is the whole state (eng_train_checkpoint: the network and optimizer state,
 * plus the loop's epoch, batch, data order, RNG state and the epoch's loss sum): continuing
 * from it gives bit-identical weights and losses to a training that never stopped, on the
 * same thread count. Checkpoints are taken at every epoch end (including the last),
 * mid-epoch when checkpoint_s seconds passed since the last one, and when *stop ends the
 * training (after the batch it stopped at). Size: about 8 bytes per trainable parameter, 4
 * per running statistic and 4 per training image, plus 100 bytes. */
typedef struct search_train_hooks {
    const void *resume;         /* a checkpoint to continue from, or NULL to start */
    size_t resume_size;
    double checkpoint_s;        /* mid-epoch checkpoint interval in seconds (<= 0: none) */
    /* Receives a checkpoint (valid during the call); a failure ends the training with it. */
    eng_status (*checkpoint)(void *user, const void *data, size_t size,
                             const eng_train_pos *pos);
    /* Called after every batch and at every epoch's end (from the training thread). */
    void (*progress)(void *user, search_train_event ev, const eng_train_pos *pos);
    void *user;
} search_train_hooks;

/* Trains net (its parameters initialized and the network placed by the caller) with cfg
 * (search_train_recipe; its hooks and resume are replaced by the search's) on ds, or
 * continues hooks->resume. Stops early with ENG_ERR_INTERRUPTED when *stop becomes non-zero
 * (checked after every step but an epoch's last, and after every epoch but the last; stop
 * may be NULL), after a last checkpoint. A non-finite loss gives ENG_ERR_DIVERGED. A resume
 * checkpoint that is not one of this network, data set, config and seed is ENG_ERR_FORMAT.
 * hooks may be NULL. */
eng_status search_train(eng_net *net,
                        const eng_dataset *ds,            // training images
                        const eng_train_cfg *cfg,         // the recipe
                        volatile sig_atomic_t *stop,      // interrupt flag, or NULL
                        const search_train_hooks *hooks); // checkpoints, progress, or NULL

/* A ready-made progress hook for plain logs: one line per epoch, "  LABEL epoch E/N loss L
 * Ts", flushed (lines of concurrent trainings are serialized). Use it as hooks.progress with
 * a search_train_logger as hooks.user. */
typedef struct search_train_logger {
    FILE *out;
    const char *label;          /* e.g. the network's hash */
    double t_epoch;             /* internal: epoch start (the first epoch: its first batch's end) */
} search_train_logger;

void search_train_log_progress(void *user, search_train_event ev, const eng_train_pos *pos);

/* Classification error of net (evaluation mode) on ds, in [0, 1]. */
eng_status search_train_error(eng_net *net,
                              const eng_dataset *ds,
                              int batch_size,             // images per forward pass
                              double *error);             // out

#endif /* SEARCH_TRAIN_H */
