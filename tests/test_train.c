/*
 * test_train.c - SGD against hand-computed updates, schedules, deterministic training, and a
 * short Fashion-MNIST run that must learn (float and 8-bit quantization-aware).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_mul.h"
#include "eng_ops.h"
#include "eng_train.h"
#include "eng_zoo.h"
#include "testutil.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* A synthetic 1x8x8 set: class k has a bright 2x2 square at one of 4 places, plus noise. */
static void synthetic(eng_dataset *ds, int count, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    ds->count = count;
    ds->channels = 1;
    ds->height = ds->width = 8;
    ds->classes = 4;
    ds->images = malloc((size_t)count * 64);
    ds->labels = malloc((size_t)count);
    uint64_t s = seed;
    for (int i = 0; i < count; i++) {
        int k = (int)(test_rand_u64(&s) % 4);
        ds->labels[i] = (uint8_t)k;
        uint8_t *im = ds->images + (size_t)i * 64;
        for (int p = 0; p < 64; p++) im[p] = (uint8_t)(test_rand_u64(&s) % 60);
        int oy = (k / 2) * 4 + 1, ox = (k % 2) * 4 + 1;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++) im[(oy + y) * 8 + ox + x] = 250;
    }
    eng_dataset_normalize_self(ds);
}

static eng_net *small_net(uint64_t seed)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(1, 8, 8, 4, &net), ENG_OK);
    int x = eng_net_conv2d(net, ENG_NET_INPUT, 4, 3, 1, 1, 1, false);
    x = eng_net_relu(net, eng_net_batchnorm(net, x, 0.1f, 1e-5f));
    x = eng_net_maxpool(net, x, 2, 2, 0);
    x = eng_net_dense(net, eng_net_flatten(net, x), 4, true);
    ck_assert_int_gt(x, 0);
    ck_assert_int_eq(eng_net_init_params(net, seed), ENG_OK);
    return net;
}

START_TEST(test_sgd_update)
{
    eng_dataset ds;
    synthetic(&ds, 16, 3);
    eng_net *net = small_net(5);
    float x[16 * 64];
    uint8_t labels[16];
    int idx[16];
    for (int i = 0; i < 16; i++) idx[i] = i;
    ck_assert_int_eq(eng_dataset_batch(&ds, idx, 16, NULL, NULL, x, labels), ENG_OK);
    eng_sgd_cfg cfg = {.lr = 0.1f, .momentum = 0.9f, .nesterov = (_i == 1),
                       .weight_decay = 0.01f, .schedule = ENG_LR_CONSTANT};
    eng_sgd *opt;
    ck_assert_int_eq(eng_sgd_create(net, &cfg, &opt), ENG_OK);
    ck_assert_int_eq(eng_sgd_step(opt, 0.1f), ENG_ERR_ARG);   /* no gradients yet */
    float loss;
    eng_param w, gamma;
    ck_assert_int_eq(eng_net_param_get(net, 0, &w), ENG_OK);       /* conv weight */
    ck_assert_int_eq(eng_net_param_get(net, 1, &gamma), ENG_OK);   /* bn gamma: no decay */
    ck_assert_int_eq(gamma.kind, ENG_PARAM_BN_GAMMA);
    float v_w = 0.0f, v_g = 0.0f;
    for (int step = 0; step < 2; step++) {
        ck_assert_int_eq(eng_net_forward(net, x, 16, true), ENG_OK);
        ck_assert_int_eq(eng_net_loss(net, labels, 16, &loss, NULL), ENG_OK);
        ck_assert_int_eq(eng_net_backward(net), ENG_OK);
        ck_assert_int_eq(eng_net_param_get(net, 0, &w), ENG_OK);
        ck_assert_int_eq(eng_net_param_get(net, 1, &gamma), ENG_OK);
        float w0 = w.data[3], g0 = w.grad[3], ga0 = gamma.data[2], gg0 = gamma.grad[2];
        ck_assert_int_eq(eng_sgd_step(opt, 0.1f), ENG_OK);
        float gw = g0 + 0.01f * w0;
        v_w = 0.9f * v_w + gw;
        v_g = 0.9f * v_g + gg0;
        float want_w = w0 - 0.1f * (cfg.nesterov ? gw + 0.9f * v_w : v_w);
        float want_g = ga0 - 0.1f * (cfg.nesterov ? gg0 + 0.9f * v_g : v_g);
        ck_assert_float_eq_tol(w.data[3], want_w, 1e-6f);
        ck_assert_float_eq_tol(gamma.data[2], want_g, 1e-6f);
    }
    eng_sgd_free(opt);
    cfg.momentum = 1.0f;
    ck_assert_int_eq(eng_sgd_create(net, &cfg, &opt), ENG_ERR_ARG);
    ck_assert_ptr_null(opt);
    eng_net_free(net);
    eng_dataset_free(&ds);
}
END_TEST

START_TEST(test_schedules)
{
    eng_sgd_cfg c = {.lr = 0.2f, .schedule = ENG_LR_COSINE, .step_epochs = 2,
                     .step_gamma = 0.5f};
    ck_assert_float_eq_tol(eng_sgd_lr(&c, 0, 100, 10), 0.2f, 1e-7f);
    ck_assert_float_eq_tol(eng_sgd_lr(&c, 50, 100, 10), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(eng_sgd_lr(&c, 100, 100, 10), 0.0f, 1e-7f);
    c.schedule = ENG_LR_STEP;
    ck_assert_float_eq_tol(eng_sgd_lr(&c, 19, 100, 10), 0.2f, 1e-7f);
    ck_assert_float_eq_tol(eng_sgd_lr(&c, 20, 100, 10), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(eng_sgd_lr(&c, 45, 100, 10), 0.05f, 1e-7f);
    c.schedule = ENG_LR_CONSTANT;
    ck_assert_float_eq(eng_sgd_lr(&c, 77, 100, 10), 0.2f);
    eng_lr_schedule s;
    ck_assert_int_eq(eng_lr_schedule_parse("step", &s), ENG_OK);
    ck_assert_int_eq(s, ENG_LR_STEP);
    ck_assert_int_eq(eng_lr_schedule_parse("linear", &s), ENG_ERR_ARG);
}
END_TEST

static eng_net *train_synthetic(uint64_t seed, double *acc)
{
    eng_dataset ds;
    synthetic(&ds, 96, 8);
    eng_net *net = small_net(1);
    eng_train_cfg cfg;
    eng_train_cfg_default(&cfg);
    cfg.epochs = 4;
    cfg.batch = 16;
    cfg.seed = seed;
    cfg.augment.crop_pad = 1;   /* (flips would swap the classes) */
    eng_epoch_stats last;
    ck_assert_int_eq(eng_train(net, &ds, &ds, &cfg, &last), ENG_OK);
    ck_assert_int_eq(last.epoch, 4);
    *acc = last.val_accuracy;
    eng_dataset_free(&ds);
    return net;
}

/* Every parameter tensor of a and b (only the trainable ones: trainable_only) is
 * bit-identical. */
static bool same_params(eng_net *a, eng_net *b, bool trainable_only)
{
    int n = eng_net_param_count(a);
    for (int i = 0; i < n; i++) {
        eng_param pa, pb;
        ck_assert_int_eq(eng_net_param_get(a, i, &pa), ENG_OK);
        ck_assert_int_eq(eng_net_param_get(b, i, &pb), ENG_OK);
        if (trainable_only && !pa.trainable) continue;
        if (memcmp(pa.data, pb.data, pa.count * sizeof(float)) != 0) return false;
    }
    return true;
}

static bool same_weights(eng_net *a, eng_net *b)
{
    return same_params(a, b, false);
}

START_TEST(test_deterministic)
{
    double acc1, acc2, acc3;
    eng_net *a = train_synthetic(42, &acc1);
    eng_net *b = train_synthetic(42, &acc2);
    eng_net *c = train_synthetic(43, &acc3);
    ck_assert(same_weights(a, b));
    ck_assert(!same_weights(a, c));
    ck_assert(acc1 == acc2);
    ck_assert_msg(acc1 > 0.9, "synthetic accuracy %g", acc1);
    eng_net_free(a);
    eng_net_free(b);
    eng_net_free(c);
}
END_TEST

/* The training loop written out from the public step functions, as eng_train is defined: the
 * RNG starts at cfg->seed, a shuffle per epoch (of the last epoch's order), full batches only,
 * the schedule's rate per step. Stops after `limit` steps (all: <= 0); losses (or NULL) gets
 * every step's loss. */
static void plain_train(eng_net *net, const eng_dataset *ds, const eng_train_cfg *cfg,
                        long limit, float *losses)
{
    const int bs = cfg->batch;
    const long per_epoch = ds->count / bs, total = per_epoch * cfg->epochs;
    const bool aug = cfg->augment.crop_pad > 0 || cfg->augment.hflip;
    float *x = malloc(sizeof(float) * 64 * (size_t)bs);
    uint8_t *labels = malloc((size_t)bs);
    int *order = malloc(sizeof(int) * (size_t)ds->count);
    ck_assert(x && labels && order);
    for (int i = 0; i < ds->count; i++) order[i] = i;
    eng_sgd *opt;
    ck_assert_int_eq(eng_sgd_create(net, &cfg->sgd, &opt), ENG_OK);
    ck_assert_int_eq(eng_net_reserve(net, bs, true), ENG_OK);
    uint64_t rng = cfg->seed;
    long t = 0;
    if (limit <= 0) limit = total;
    for (int e = 0; e < cfg->epochs && t < limit; e++) {
        eng_data_shuffle(order, ds->count, &rng);
        for (long b = 0; b < per_epoch && t < limit; b++, t++) {
            float loss;
            ck_assert_int_eq(eng_dataset_batch(ds, order + b * bs, bs,
                                               aug ? &cfg->augment : NULL, aug ? &rng : NULL, x,
                                               labels), ENG_OK);
            ck_assert_int_eq(eng_net_forward(net, x, bs, true), ENG_OK);
            ck_assert_int_eq(eng_net_loss(net, labels, bs, &loss, NULL), ENG_OK);
            if (losses) losses[t] = loss;
            ck_assert_int_eq(eng_net_backward(net), ENG_OK);
            ck_assert_int_eq(eng_sgd_step(opt, eng_sgd_lr(&cfg->sgd, t, total, per_epoch)),
                             ENG_OK);
        }
    }
    eng_sgd_free(opt);
    free(order);
    free(labels);
    free(x);
}

typedef struct step_log {
    float loss[64];
    int n;
} step_log;

static eng_status log_step(void *user, eng_trainer *tr, const eng_train_pos *p)
{
    (void)tr;
    step_log *l = user;
    ck_assert_int_eq((p->epoch - 1) * p->steps + p->step, l->n + 1);
    ck_assert_int_eq(p->trained, l->n + 1);
    ck_assert_int_lt(l->n, 64);
    l->loss[l->n++] = p->loss;
    return ENG_OK;
}

/* eng_train gives bit for bit the weights, activation ranges and losses of the loop written
 * out in plain_train (a quantization-aware network through an approximate multiplier, with
 * augmentation; _i = 1: Nesterov and the step schedule). */
START_TEST(test_same_as_plain_loop)
{
    eng_dataset ds;
    synthetic(&ds, 100, 8);
    eng_mul *dm1;
    ck_assert_int_eq(eng_mul_load("mul8u_DM1", &dm1), ENG_OK);
    eng_net *net[2];
    for (int k = 0; k < 2; k++) {
        net[k] = small_net(4);
        eng_approx_cfg q;
        eng_approx_cfg_default(&q);
        ck_assert_int_eq(eng_net_set_multiplier(net[k], -1, dm1), ENG_OK);
        ck_assert_int_eq(eng_net_set_quant(net[k], -1, &q), ENG_OK);
    }
    eng_train_cfg cfg;
    eng_train_cfg_default(&cfg);
    cfg.epochs = 3;
    cfg.batch = 16;
    cfg.seed = 99;
    cfg.augment = (eng_augment){.crop_pad = 1, .hflip = true};
    if (_i == 1) {
        cfg.sgd.nesterov = true;
        cfg.sgd.schedule = ENG_LR_STEP;
        cfg.sgd.step_epochs = 1;
        cfg.sgd.step_gamma = 0.5f;
    }
    step_log hooked = {0};
    float plain[64];
    cfg.on_step = log_step, cfg.user = &hooked;
    ck_assert_int_eq(eng_train(net[0], &ds, NULL, &cfg, NULL), ENG_OK);
    plain_train(net[1], &ds, &cfg, 0, plain);
    ck_assert_int_eq(hooked.n, 3 * (100 / 16));
    ck_assert(memcmp(hooked.loss, plain, sizeof(float) * (size_t)hooked.n) == 0);
    ck_assert(same_weights(net[0], net[1]));
    float lo[2], hi[2];
    for (int k = 0; k < 2; k++) ck_assert(eng_net_act_range(net[k], 1, &lo[k], &hi[k]));
    ck_assert(memcmp(&lo[0], &lo[1], 4) == 0 && memcmp(&hi[0], &hi[1], 4) == 0);
    eng_net_free(net[0]);
    eng_net_free(net[1]);
    eng_mul_free(dm1);
    eng_dataset_free(&ds);
}
END_TEST

static eng_status stop_after_one(void *user, eng_trainer *tr, const eng_epoch_stats *st)
{
    (void)tr;
    (*(int *)user)++;
    ck_assert(st->loss > 0.0 && isfinite(st->loss));
    ck_assert(st->images_per_s > 0.0);
    ck_assert_int_eq(st->steps, 4);
    ck_assert_int_eq(st->trained, 4);
    return eng_error(ENG_ERR_INTERRUPTED, "stopped");
}

START_TEST(test_interrupt_and_errors)
{
    eng_dataset ds;
    synthetic(&ds, 32, 2);
    eng_net *net = small_net(1);
    eng_train_cfg cfg;
    eng_train_cfg_default(&cfg);
    cfg.batch = 8;
    int calls = 0;
    cfg.on_epoch = stop_after_one, cfg.user = &calls;
    ck_assert_int_eq(eng_train(net, &ds, NULL, &cfg, NULL), ENG_ERR_INTERRUPTED);
    cfg.on_epoch = NULL;
    ck_assert_int_eq(calls, 1);
    cfg.batch = 33;
    ck_assert_int_eq(eng_train(net, &ds, NULL, &cfg, NULL), ENG_ERR_ARG);
    cfg.batch = 8;
    cfg.sgd.lr = -1.0f;
    ck_assert_int_eq(eng_train(net, &ds, NULL, &cfg, NULL), ENG_ERR_ARG);
    ds.height = 9;   /* the network takes 8x8 */
    ck_assert_int_eq(eng_train(net, &ds, NULL, &cfg, NULL), ENG_ERR_SHAPE);
    ds.height = 8;
    eng_net_free(net);
    eng_dataset_free(&ds);
}
END_TEST

/* What the hooks of test_stop_at_step saw and do: stop after step `stop_step` of epoch
 * `stop_epoch` with a checkpoint taken there. */
typedef struct stopper {
    int stop_epoch;
    long stop_step;
    long steps_seen;
    int epochs_seen;
    int last_epoch;
    unsigned char *ckpt;
    size_t ckpt_size;
} stopper;

static eng_status stop_at(void *user, eng_trainer *tr, const eng_train_pos *p)
{
    stopper *s = user;
    s->steps_seen++;
    if (p->epoch != s->stop_epoch || p->step != s->stop_step) return ENG_OK;
    s->ckpt_size = eng_train_checkpoint_size(tr);
    s->ckpt = malloc(s->ckpt_size);
    ck_assert_ptr_nonnull(s->ckpt);
    ck_assert_int_eq(eng_train_checkpoint(tr, s->ckpt, s->ckpt_size - 1), ENG_ERR_ARG);
    ck_assert_int_eq(eng_train_checkpoint(tr, s->ckpt, s->ckpt_size), ENG_OK);
    return eng_error(ENG_ERR_INTERRUPTED, "stop at epoch %d step %ld", p->epoch, p->step);
}

static eng_status count_epoch(void *user, eng_trainer *tr, const eng_epoch_stats *st)
{
    (void)tr;
    stopper *s = user;
    s->epochs_seen++;
    s->last_epoch = st->epoch;
    return ENG_OK;
}

/* A step hook that returns a status stops the training after the step asked for (_i: inside
 * an epoch, at its last step), with it as the result: the weights are those of the plain
 * loop after as many steps; its checkpoint, continued in a fresh network, ends where a
 * training that never stopped does. */
START_TEST(test_stop_at_step)
{
    static const long at[2][2] = {{2, 3}, {1, 6}};   /* epoch, step (6 steps per epoch) */
    eng_dataset ds;
    synthetic(&ds, 100, 8);
    eng_train_cfg cfg;
    eng_train_cfg_default(&cfg);
    cfg.epochs = 3;
    cfg.batch = 16;
    cfg.seed = 5;
    cfg.augment.crop_pad = 1;
    stopper s = {.stop_epoch = (int)at[_i][0], .stop_step = at[_i][1]};
    cfg.on_step = stop_at, cfg.on_epoch = count_epoch, cfg.user = &s;
    eng_net *stopped = small_net(2), *plain = small_net(2);
    ck_assert_int_eq(eng_train(stopped, &ds, NULL, &cfg, NULL), ENG_ERR_INTERRUPTED);
    long steps = (at[_i][0] - 1) * 6 + at[_i][1];
    ck_assert_int_eq(s.steps_seen, steps);
    ck_assert_int_eq(s.epochs_seen, (int)at[_i][0] - 1);   /* not the stopped epoch's end */
    ck_assert_int_eq(s.last_epoch, (int)at[_i][0] - 1);
    plain_train(plain, &ds, &cfg, steps, NULL);
    ck_assert(same_weights(stopped, plain));
    eng_train_pos pos;
    ck_assert_int_eq(eng_train_checkpoint_pos(s.ckpt, s.ckpt_size, &pos), ENG_OK);
    ck_assert_int_eq(pos.epoch, (int)at[_i][0]);
    ck_assert_int_eq(pos.step, at[_i][1]);
    ck_assert_int_eq(pos.steps, 6);

    eng_net *resumed = small_net(77), *straight = small_net(2);   /* weights from the ckpt */
    stopper none = {0};
    cfg.user = &none;
    cfg.on_step = NULL;
    cfg.resume = s.ckpt, cfg.resume_size = s.ckpt_size;
    ck_assert_int_eq(eng_train(resumed, &ds, NULL, &cfg, NULL), ENG_OK);
    ck_assert_int_eq(none.epochs_seen, 3 - (int)at[_i][0] + (at[_i][1] < 6));
    ck_assert_int_eq(none.last_epoch, 3);
    cfg.resume = NULL;
    plain_train(straight, &ds, &cfg, 0, NULL);
    ck_assert(same_weights(resumed, straight));
    /* another seed or epoch count: not this training's checkpoint, nothing changed */
    cfg.resume = s.ckpt;
    cfg.seed = 6;
    ck_assert_int_eq(eng_train(resumed, &ds, NULL, &cfg, NULL), ENG_ERR_FORMAT);
    cfg.seed = 5, cfg.epochs = 4;
    ck_assert_int_eq(eng_train(resumed, &ds, NULL, &cfg, NULL), ENG_ERR_FORMAT);
    ck_assert(same_weights(resumed, straight));
    free(s.ckpt);
    eng_net_free(stopped);
    eng_net_free(plain);
    eng_net_free(resumed);
    eng_net_free(straight);
    eng_dataset_free(&ds);
}
END_TEST

static eng_status count_step(void *user, eng_trainer *tr, const eng_train_pos *p)
{
    (void)tr;
    ck_assert(isfinite(p->loss));
    (*(long *)user)++;
    return ENG_OK;
}

/* A learning rate far too high: the loss stops being finite and eng_train says
 * ENG_ERR_DIVERGED, before that step's update (the trained parameters are the plain loop's
 * after the steps with a finite loss; the running statistics have seen one batch more). */
START_TEST(test_diverged)
{
    eng_dataset ds;
    synthetic(&ds, 64, 8);
    eng_net *net = small_net(1), *plain = small_net(1);
    eng_train_cfg cfg;
    eng_train_cfg_default(&cfg);
    cfg.epochs = 3;
    cfg.batch = 16;
    cfg.sgd.lr = 1e30f;
    cfg.sgd.schedule = ENG_LR_CONSTANT;
    long steps = 0;
    cfg.on_step = count_step, cfg.user = &steps;
    ck_assert_int_eq(eng_train(net, &ds, NULL, &cfg, NULL), ENG_ERR_DIVERGED);
    ck_assert_msg(strstr(eng_last_error(), "diverged") != NULL, "%s", eng_last_error());
    ck_assert_str_eq(eng_status_name(ENG_ERR_DIVERGED), "diverged");
    ck_assert_int_lt(steps, 12);
    plain_train(plain, &ds, &cfg, steps, NULL);
    ck_assert(same_params(net, plain, true));
    eng_net_free(net);
    eng_net_free(plain);
    eng_dataset_free(&ds);
}
END_TEST

/* Quantization-aware training (8-bit asymmetric) learns the synthetic task, with the exact
 * products and through an approximate multiplier. */
START_TEST(test_qat_synthetic)
{
    eng_dataset ds;
    synthetic(&ds, 96, 8);
    eng_mul *dm1 = NULL;
    if (_i == 1) ck_assert_int_eq(eng_mul_load("mul8u_DM1", &dm1), ENG_OK);
    eng_net *net = small_net(1);
    eng_approx_cfg q;
    eng_approx_cfg_default(&q);
    q.ema_momentum = 0.1f;
    ck_assert_int_eq(eng_net_set_multiplier(net, -1, dm1), ENG_OK);
    ck_assert_int_eq(eng_net_set_quant(net, -1, &q), ENG_OK);
    eng_train_cfg cfg;
    eng_train_cfg_default(&cfg);
    cfg.epochs = 6;
    cfg.batch = 16;
    eng_epoch_stats last;
    ck_assert_int_eq(eng_train(net, &ds, &ds, &cfg, &last), ENG_OK);
    ck_assert_msg(last.val_accuracy > 0.9, "QAT accuracy %g", last.val_accuracy);
    eng_layer_info info;
    ck_assert_int_eq(eng_net_layer_info(net, 1, &info), ENG_OK);
    ck_assert(info.quantized);
    ck_assert_ptr_eq(info.mul, dm1);
    eng_net_free(net);
    eng_mul_free(dm1);
    eng_dataset_free(&ds);
}
END_TEST

/* Fashion-MNIST: LeNet-like on a few thousand training images for 2 epochs must be far above
 * chance (0.1). */
static void fmnist_run(int train_count, int test_count, double min_acc)
{
    char path[512];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", FMNIST);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "# skipped: %s not found\n", FMNIST);
        return;
    }
    eng_dataset all, train, test_all, test;
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, FMNIST, true, &all), ENG_OK);
    ck_assert_int_eq(eng_dataset_split(&all, train_count, 0, 5, &train, NULL), ENG_OK);
    eng_dataset_free(&all);
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, FMNIST, false, &test_all), ENG_OK);
    ck_assert_int_eq(eng_dataset_split(&test_all, test_count, 0, 6, &test, NULL), ENG_OK);
    eng_dataset_free(&test_all);
    eng_dataset_normalize_like(&test, &train);
    eng_net *net;
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.seed = 3;
    ck_assert_int_eq(eng_zoo_build("lenet", &opt, &net), ENG_OK);
    eng_train_cfg cfg;
    eng_train_cfg_default(&cfg);
    cfg.epochs = 2;
    cfg.batch = 32;
    cfg.sgd.lr = 0.05f;
    eng_epoch_stats last;
    ck_assert_msg(eng_train(net, &train, NULL, &cfg, &last) == ENG_OK, "%s",
                  eng_last_error());
    double acc;
    ck_assert_int_eq(eng_evaluate(net, &test, 250, &acc, NULL), ENG_OK);
    fprintf(stderr, "# fashion-mnist: train loss %.3f, test accuracy %.3f, %.0f img/s\n",
            last.loss, acc, last.images_per_s);
    ck_assert_msg(acc > min_acc, "test accuracy %g (chance 0.1)", acc);
    eng_net_free(net);
    eng_dataset_free(&train);
    eng_dataset_free(&test);
}

START_TEST(test_fashion_mnist_float)
{
    fmnist_run(3000, 500, 0.65);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_sgd_update, 0, 2);
    tcase_add_test(tc, test_schedules);
    tcase_add_test(tc, test_deterministic);
    tcase_add_loop_test(tc, test_same_as_plain_loop, 0, 2);
    tcase_add_test(tc, test_interrupt_and_errors);
    tcase_add_loop_test(tc, test_stop_at_step, 0, 2);
    tcase_add_test(tc, test_diverged);
    tcase_add_loop_test(tc, test_qat_synthetic, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("fashion_mnist");
    tcase_set_timeout(tc, 280);   /* seconds of CPU under sanitizers on a loaded machine */
    tcase_add_test(tc, test_fashion_mnist_float);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
