/*
 * search_train.c - the candidate training loop over the engine's SGD (eng_train.h), checking
 * the interrupt flag between batches.
 */
#include "search_train.h"

#include <math.h>
#include <stdlib.h>

#include "eng_train.h"

eng_status search_train(eng_net *net, const eng_dataset *ds, const search_train_cfg *cfg,
                        uint64_t seed, volatile sig_atomic_t *stop)
{
    ENG_TRY(eng_net_init_params(net, seed));
    ENG_TRY(eng_net_set_device(net, cfg->device));
    int bs = cfg->batch_size < ds->count ? cfg->batch_size : ds->count;
    eng_sgd_cfg sc = {.lr = (float)cfg->learning_rate, .momentum = (float)cfg->momentum,
                      .weight_decay = (float)cfg->weight_decay,
                      .schedule = cfg->cosine ? ENG_LR_COSINE : ENG_LR_CONSTANT,
                      .step_epochs = 1, .step_gamma = 1.0f};
    size_t img = (size_t)ds->channels * ds->height * ds->width;
    float *x = eng_alloc(sizeof(float) * img * (size_t)bs);
    uint8_t *labels = malloc((size_t)bs);
    int *order = malloc(sizeof(int) * (size_t)ds->count);
    eng_sgd *opt = NULL;
    eng_status st = x && labels && order ? ENG_OK : eng_error(ENG_ERR_NOMEM, "out of memory");
    if (st == ENG_OK) st = eng_net_reserve(net, bs, true);
    if (st == ENG_OK) st = eng_sgd_create(net, &sc, &opt);
    uint64_t rng = seed ^ 0x5DEECE66Dull;
    for (int i = 0; order && i < ds->count; i++) order[i] = i;
    long per_epoch = ds->count / bs, total = per_epoch * cfg->epochs, t = 0;
    bool aug = cfg->augment.crop_pad > 0 || cfg->augment.hflip;
    for (int e = 0; e < cfg->epochs && st == ENG_OK; e++) {
        eng_data_shuffle(order, ds->count, &rng);
        for (long b = 0; b < per_epoch && st == ENG_OK; b++, t++) {
            if (stop && *stop) {
                st = eng_error(ENG_ERR_INTERRUPTED, "training interrupted");
                break;
            }
            float loss;
            st = eng_dataset_batch(ds, order + b * bs, bs, aug ? &cfg->augment : NULL,
                                   aug ? &rng : NULL, x, labels);
            if (st == ENG_OK) st = eng_net_forward(net, x, bs, true);
            if (st == ENG_OK) st = eng_net_loss(net, labels, bs, &loss, NULL);
            if (st == ENG_OK && !isfinite(loss))
                st = eng_error(ENG_ERR_ARG, "training diverged (loss %g at step %ld)",
                               (double)loss, t);
            if (st == ENG_OK) st = eng_net_backward(net);
            if (st == ENG_OK) st = eng_sgd_step(opt, eng_sgd_lr(&sc, t, total, per_epoch));
        }
    }
    eng_sgd_free(opt);
    free(order);
    free(labels);
    eng_free(x);
    return st;
}

eng_status search_train_error(eng_net *net, const eng_dataset *ds, int batch_size,
                              double *error)
{
    double acc;
    ENG_TRY(eng_evaluate(net, ds, batch_size, &acc, NULL));
    *error = 1.0 - acc;
    return ENG_OK;
}
