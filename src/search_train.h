/*
 * search_train.h - the evaluation recipe of a candidate: SGD training (momentum, weight decay,
 * cosine or constant learning rate) of an engine network, then its error on a data set.
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

#include "eng_data.h"
#include "eng_device.h"
#include "eng_net.h"

typedef struct search_train_cfg {
    int epochs;
    int batch_size;
    double learning_rate;
    double momentum;
    double weight_decay;        /* L2 on conv/dense weights only */
    bool cosine;                /* cosine decay to 0 over all steps, else constant */
    eng_augment augment;        /* zeros = none */
    eng_device device;          /* where to train (the network moves there after its
                                   initialization) */
} search_train_cfg;

/* Trains net (parameters initialized from seed) on ds. Stops early with ENG_ERR_INTERRUPTED
 * when *stop becomes non-zero (checked between batches; stop may be NULL). A non-finite loss
 * gives ENG_ERR_ARG ("training diverged"). */
eng_status search_train(eng_net *net,
                        const eng_dataset *ds,            // training images
                        const search_train_cfg *cfg,
                        uint64_t seed,                    // weights, order, augmentation
                        volatile sig_atomic_t *stop);     // interrupt flag, or NULL

/* Classification error of net (evaluation mode) on ds, in [0, 1]. */
eng_status search_train_error(eng_net *net,
                              const eng_dataset *ds,
                              int batch_size,             // images per forward pass
                              double *error);             // out

#endif /* SEARCH_TRAIN_H */
