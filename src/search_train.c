/*
 * search_train.c - SGD with momentum and weight decay over an engine network.
 */
#include "search_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

eng_status search_train(eng_net *net, const eng_dataset *ds, const search_train_cfg *cfg,
                        uint64_t seed, volatile sig_atomic_t *stop)
{
    ENG_TRY(eng_net_init_params(net, seed));
    int n_params = eng_net_param_count(net);
    if (n_params < 0) return (eng_status)-n_params;
    int bs = cfg->batch_size < ds->count ? cfg->batch_size : ds->count;
    size_t img = (size_t)ds->channels * ds->height * ds->width;
    float *x = eng_alloc(sizeof(float) * img * (size_t)bs);
    uint8_t *labels = malloc((size_t)bs);
    int *order = malloc(sizeof(int) * (size_t)ds->count);
    float **vel = calloc((size_t)n_params, sizeof *vel);
    eng_status st = ENG_OK;
    if (!x || !labels || !order || !vel) st = eng_error(ENG_ERR_NOMEM, "out of memory");
    eng_param *p = calloc((size_t)n_params, sizeof *p);
    if (!p && st == ENG_OK) st = eng_error(ENG_ERR_NOMEM, "out of memory");
    if (st == ENG_OK) st = eng_net_reserve(net, bs, true);
    for (int i = 0; i < n_params && st == ENG_OK; i++) {
        st = eng_net_param_get(net, i, &p[i]);
        if (st == ENG_OK && p[i].trainable) {
            vel[i] = eng_calloc(p[i].count, sizeof(float));
            if (!vel[i]) st = eng_error(ENG_ERR_NOMEM, "out of memory");
        }
    }
    uint64_t rng = seed ^ 0x5DEECE66Dull;
    for (int i = 0; i < ds->count; i++) order[i] = i;
    int steps_per_epoch = ds->count / bs;
    long total = (long)steps_per_epoch * cfg->epochs, t = 0;
    bool aug = cfg->augment.crop_pad > 0 || cfg->augment.hflip;
    for (int e = 0; e < cfg->epochs && st == ENG_OK; e++) {
        eng_data_shuffle(order, ds->count, &rng);
        for (int b = 0; b < steps_per_epoch && st == ENG_OK; b++, t++) {
            if (stop && *stop) {
                st = eng_error(ENG_ERR_INTERRUPTED, "training interrupted");
                break;
            }
            st = eng_dataset_batch(ds, order + (size_t)b * bs, bs, aug ? &cfg->augment : NULL,
                                   aug ? &rng : NULL, x, labels);
            float loss;
            if (st == ENG_OK) st = eng_net_forward(net, x, bs, true);
            if (st == ENG_OK) st = eng_net_loss(net, labels, bs, &loss, NULL);
            if (st == ENG_OK && !isfinite(loss))
                st = eng_error(ENG_ERR_ARG, "training diverged (loss %g at step %ld)",
                               (double)loss, t);
            if (st == ENG_OK) st = eng_net_backward(net);
            if (st != ENG_OK) break;
            double lr = cfg->learning_rate;
            if (cfg->cosine && total > 0) lr *= 0.5 * (1.0 + cos(M_PI * (double)t / total));
            const float mom = (float)cfg->momentum, flr = (float)lr;
            for (int i = 0; i < n_params; i++) {
                if (!vel[i]) continue;
                float *w = p[i].data, *g = p[i].grad, *v = vel[i];
                const float wd = p[i].kind == ENG_PARAM_WEIGHT ? (float)cfg->weight_decay : 0.f;
                for (size_t k = 0; k < p[i].count; k++) {
                    v[k] = mom * v[k] + g[k] + wd * w[k];
                    w[k] -= flr * v[k];
                }
            }
        }
    }
    for (int i = 0; vel && i < n_params; i++) eng_free(vel[i]);
    free(vel);
    free(p);
    free(order);
    free(labels);
    eng_free(x);
    return st;
}

eng_status search_train_error(eng_net *net, const eng_dataset *ds, int batch_size,
                              double *error)
{
    int bs = batch_size < ds->count ? batch_size : ds->count;
    size_t img = (size_t)ds->channels * ds->height * ds->width;
    float *x = eng_alloc(sizeof(float) * img * (size_t)bs);
    uint8_t *labels = malloc((size_t)bs);
    int *idx = malloc(sizeof(int) * (size_t)bs);
    eng_status st = x && labels && idx ? ENG_OK : eng_error(ENG_ERR_NOMEM, "out of memory");
    long correct = 0;
    for (int start = 0; start < ds->count && st == ENG_OK; start += bs) {
        int n = ds->count - start < bs ? ds->count - start : bs;
        for (int i = 0; i < n; i++) idx[i] = start + i;
        int c = 0;
        float loss;
        st = eng_dataset_batch(ds, idx, n, NULL, NULL, x, labels);
        if (st == ENG_OK) st = eng_net_forward(net, x, n, false);
        if (st == ENG_OK) st = eng_net_loss(net, labels, n, &loss, &c);
        correct += c;
    }
    if (st == ENG_OK) *error = 1.0 - (double)correct / ds->count;
    free(idx);
    free(labels);
    eng_free(x);
    return st;
}
