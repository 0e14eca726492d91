/*
 * eng_train.h - training and evaluation of networks: SGD, learning-rate schedules, the epoch
 * loop, accuracy, post-training calibration.
 *
 * The optimizer is SGD with momentum (PyTorch's formulation), optional Nesterov momentum and
 * weight decay (L2, added to the gradient of conv/depthwise/dense weights only; biases and
 * batch-norm parameters are not decayed):
 *
 *     g = grad + wd * w;   v = momentum * v + g;   w -= lr * (nesterov ? g + momentum * v : v)
 *
 * Schedules give the learning rate per step from the fraction of training done:
 *   constant: lr;
 *   cosine:   lr * (1 + cos(pi * t / T)) / 2, t = steps done, T = all steps (no restarts);
 *   step:     lr * gamma^floor(epoch / step_epochs).
 *
 * eng_train is the one training loop (the `train` command, `finalize` and the search's
 * candidates all run it): whole epochs of a seeded shuffle of the training set, batches (the
 * last partial batch is dropped, so batch norm never sees a tiny batch) with the augmentation
 * of the config, forward, loss, backward, update. A step hook after every step (live progress,
 * stop requests, checkpoints) and an epoch hook after every epoch (the epoch's mean loss,
 * training accuracy, throughput and, when given, validation accuracy) can stop it with a
 * status; a non-finite loss stops it with ENG_ERR_DIVERGED. All randomness (order,
 * augmentation) comes from cfg.seed, so the same network, data, config and thread count give
 * bit-identical weights, also across a checkpoint and resume. Buffers are allocated once per
 * call, never per batch.
 *
 * Example:
 *
 *     static eng_status print_epoch(void *user, eng_trainer *tr, const eng_epoch_stats *s)
 *     {
 *         printf("epoch %d/%d loss %.4f\n", s->epoch, s->epochs, s->loss);
 *         return ENG_OK;
 *     }
 *     ...
 *     eng_train_cfg cfg;
 *     eng_train_cfg_default(&cfg);            // 10 epochs, batch 64, lr 0.05, cosine ...
 *     cfg.epochs = 3;
 *     cfg.on_epoch = print_epoch;
 *     ENG_TRY(eng_train(net, &train, &val, &cfg, NULL));
 *     double acc;
 *     ENG_TRY(eng_evaluate(net, &test, 256, &acc, NULL));
 */
#ifndef ENG_TRAIN_H
#define ENG_TRAIN_H

#include "eng_data.h"
#include "eng_net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Optimizer and schedules
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_lr_schedule {
    ENG_LR_CONSTANT = 0,
    ENG_LR_COSINE,
    ENG_LR_STEP,
    ENG_LR_SCHEDULE_COUNT
} eng_lr_schedule;

/* "constant", "cosine", "step"; and back (ENG_ERR_ARG for an unknown name). */
const char *eng_lr_schedule_name(eng_lr_schedule s);
eng_status eng_lr_schedule_parse(const char *name, eng_lr_schedule *out);

typedef struct eng_sgd_cfg {
    float lr;                 /* base learning rate, > 0 */
    float momentum;           /* in [0, 1) */
    bool nesterov;            /* Nesterov momentum (needs momentum > 0) */
    float weight_decay;       /* L2 coefficient on weights, >= 0 */
    eng_lr_schedule schedule;
    int step_epochs;          /* step schedule: epochs between decays, >= 1 */
    float step_gamma;         /* step schedule: factor per decay, in (0, 1] */
} eng_sgd_cfg;

/* Learning rate after `step` of `total_steps` steps, `steps_per_epoch` per epoch. */
float eng_sgd_lr(const eng_sgd_cfg *cfg, long step, long total_steps, long steps_per_epoch);

typedef struct eng_sgd eng_sgd;   /* optimizer state (velocities) of one network */

/* An optimizer for net's trainable parameters (velocities start at 0). ENG_ERR_ARG for a bad
 * cfg. The network must outlive the optimizer. */
eng_status eng_sgd_create(eng_net *net, const eng_sgd_cfg *cfg, eng_sgd **out);
void eng_sgd_free(eng_sgd *opt);

/* One update with learning rate lr from the gradients of the last eng_net_backward.
 * ENG_ERR_ARG when the network has no gradients yet. */
eng_status eng_sgd_step(eng_sgd *opt, float lr);

/* ------------------------------------------------------------------------------------------
 * Training loop
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_trainer eng_trainer;   /* a training in progress, as its hooks see it */

/* Where a training stands, as the step hook and eng_train_checkpoint_pos give it. */
typedef struct eng_train_pos {
    int epoch;                /* 1-based epoch in progress (or just finished) */
    int epochs;
    long step;                /* steps of this epoch done (steps: the epoch is finished) */
    long steps;               /* steps per epoch */
    long trained;             /* steps trained by this call (a resumed checkpoint's not counted) */
    float loss;               /* the last step's loss (NAN: none in this call) */
    double mean_loss;         /* mean loss of the epoch's steps done (NAN: none yet) */
    float lr;                 /* learning rate of the last step (0: none in this call) */
} eng_train_pos;

typedef struct eng_epoch_stats {
    int epoch;                /* 1-based */
    int epochs;
    long steps;               /* steps per epoch */
    long trained;             /* steps trained by this call so far */
    double loss;              /* mean training loss over the epoch's steps */
    double accuracy;          /* training accuracy over the epoch's steps of this call
                                 (training-mode forward) */
    double val_accuracy;      /* validation accuracy after the epoch; NAN when no validation */
    double images_per_s;      /* training throughput of the epoch */
    double seconds;           /* wall time of the epoch's training steps */
    float lr;                 /* learning rate of the epoch's last step */
} eng_epoch_stats;

/* Hooks: called from the training thread; a status other than ENG_OK stops the training,
 * and eng_train returns it (stop requests: ENG_ERR_INTERRUPTED, with eng_error's message).
 * The weights are then those after that step (epoch). tr may be given to
 * eng_train_checkpoint during the call. */
typedef eng_status (*eng_train_step_hook)(void *user, eng_trainer *tr,
                                          const eng_train_pos *pos);
typedef eng_status (*eng_train_epoch_hook)(void *user, eng_trainer *tr,
                                           const eng_epoch_stats *stats);

/* All settings of a training: one struct for every caller (train, finalize, the search). */
typedef struct eng_train_cfg {
    int epochs;               /* >= 1 */
    int batch;                /* images per step, >= 1 (<= training set size) */
    eng_sgd_cfg sgd;          /* optimizer and learning-rate schedule */
    eng_augment augment;      /* zeros = none; CIFAR recipe {4, true} */
    uint64_t seed;            /* start of the RNG of the data order and augmentation */
    eng_train_step_hook on_step;    /* after every step, or NULL */
    eng_train_epoch_hook on_epoch;  /* after every epoch (and its validation), or NULL */
    void *user;               /* passed to the hooks */
    const void *resume;       /* a checkpoint (eng_train_checkpoint) to continue, or NULL */
    size_t resume_size;
} eng_train_cfg;

/* epochs 10, batch 64, lr 0.05, momentum 0.9, Nesterov off, weight decay 5e-4, cosine,
 * step 30 epochs x 0.1, no augmentation, seed 1, no hooks, no resume. */
void eng_train_cfg_default(eng_train_cfg *cfg);

/* Trains net on `train` (images normalized with train's statistics), evaluating `val` (may be
 * NULL) after each epoch. Per step: the batch of the epoch's seeded order (augmented), forward,
 * loss; a loss that is not finite (NaN or infinite) stops with ENG_ERR_DIVERGED before the
 * update, so the trained parameters stay those of the last finite step (the running
 * statistics and activation ranges have seen its batch); else backward, SGD update at the
 * schedule's rate, then cfg->on_step. After each epoch: validation, then cfg->on_epoch. With
 * cfg->resume the training continues that checkpoint (ENG_ERR_FORMAT when it is not one of
 * this network, data set size, epochs, batch size and seed; the parameters are then
 * unchanged) and ends bit-identical to one that never stopped, on the same thread count.
 * The data sets must match the network's input shape and classes (ENG_ERR_SHAPE); last (may
 * be NULL) receives the last epoch's figures. */
eng_status eng_train(eng_net *net,
                     const eng_dataset *train,    // training images
                     const eng_dataset *val,      // validation images, or NULL
                     const eng_train_cfg *cfg,    // settings and hooks
                     eng_epoch_stats *last);      // out, or NULL

/* A checkpoint of a training in progress, taken from one of its hooks: the engine state
 * (eng_train_state_save below) plus the loop's epoch, step, data order, RNG state and the
 * epoch's loss sum. Taken in a step hook it continues after that step; at an epoch's last
 * step or in the epoch hook, with the next epoch. Size: about 8 bytes per trainable
 * parameter, 4 per running statistic and 4 per training image, plus 100 bytes.
 *
 * Format (version 1, host byte order, little-endian on the supported machines):
 *
 *   offset size  field
 *   0      8     magic "EVAXCK\r\n"
 *   8      4     version (1)
 *   12     4     epochs of the training
 *   16     4     epochs finished
 *   20     4     batch size
 *   24     8     steps of the current epoch done (0 at an epoch boundary)
 *   32     8     steps per epoch
 *   40     8     eng_train_cfg.seed ^ 0x5DEECE66D (the search's candidate seed, whose data
 *                RNG starts at seed ^ 0x5DEECE66D: the field is that seed since version 1)
 *   48     8     RNG state (order and augmentation)
 *   56     8     sum of the current epoch's step losses (double; at a boundary the last's)
 *   64     4     training images C (the data order's length)
 *   68     4     reserved (0)
 *   72     8     engine state size S
 *   80     4*C   the data order (int32): the current epoch's, else the last one's
 *   ..     S     eng_train_state_save's network and optimizer state */
size_t eng_train_checkpoint_size(const eng_trainer *tr);

/* Writes the checkpoint into buf of `size` bytes (ENG_ERR_ARG when fewer than
 * eng_train_checkpoint_size). A network on a device is copied back to the host first. */
eng_status eng_train_checkpoint(eng_trainer *tr, void *buf, size_t size);

/* The position a checkpoint stands for (trained 0, loss NAN, lr 0); ENG_ERR_FORMAT when the
 * bytes are none. */
eng_status eng_train_checkpoint_pos(const void *data, size_t size, eng_train_pos *pos);

/* ------------------------------------------------------------------------------------------
 * Training state (checkpoints)
 *
 * Everything a network and its optimizer carry from one training step to the next, as bytes,
 * so that training can stop and continue later (in another process) with bit-identical
 * results: every parameter tensor (weights, biases, batch-norm gamma, beta and running
 * statistics), the activation-range observers of the quantized layers (EMA range, whether a
 * batch was seen, mode) and the optimizer's momentum velocities. The caller keeps the rest of
 * its loop's state (epoch, batch, data order, RNG) next to it.
 *
 * Format (version 1, host byte order; the engine's machines are little-endian):
 *
 *   offset size  field
 *   0      8     magic "EVAXTS\r\n"
 *   8      4     version (1)
 *   12     4     tensor count T
 *   16     4     quantized layer count Q
 *   20     4     reserved (0)
 *   24     8     velocity float count V
 *   32     16*T  per tensor: u32 node, u32 kind (eng_param_kind), u64 float count
 *   ..     20*Q  per quantized layer: u32 node, u32 observer mode, u32 valid, f32 lo, f32 hi
 *   ..     4*N   the tensors' floats in table order (N = sum of the counts)
 *   ..     4*V   the velocities, trainable tensors in parameter order
 *
 * Size: 32 + 16 T + 20 Q + 4 (N + V) bytes, about 8 bytes per trainable parameter.
 *
 * Example (stop after some steps, continue in a fresh network of the same structure):
 *
 *     size_t n = eng_train_state_size(net, opt);
 *     void *buf = malloc(n);
 *     ENG_TRY(eng_train_state_save(net, opt, buf, n));
 *     ... later: build net2 the same way, eng_sgd_create(net2, &cfg, &opt2) ...
 *     ENG_TRY(eng_train_state_load(net2, opt2, buf, n));
 * ---------------------------------------------------------------------------------------- */

/* Bytes eng_train_state_save writes for net and opt (0 when net's parameters cannot be
 * allocated). */
size_t eng_train_state_size(eng_net *net, const eng_sgd *opt);

/* Writes the training state of net and its optimizer opt (made for net) into buf, which has
 * `size` bytes (ENG_ERR_ARG when fewer than eng_train_state_size). A network on a device is
 * copied back to the host first (eng_net_sync_host; device errors pass through). */
eng_status eng_train_state_save(eng_net *net,
                                const eng_sgd *opt,   // optimizer of net
                                void *buf,            // out, >= eng_train_state_size bytes
                                size_t size);

/* Restores a state from eng_train_state_save into a network of the same structure and its
 * optimizer. ENG_ERR_FORMAT when the bytes are not such a state or do not match the network
 * (tensor table, quantized layers, velocity count, exact size); the network and optimizer are
 * unchanged then. A network on a device gets the state there too. */
eng_status eng_train_state_load(eng_net *net,
                                eng_sgd *opt,
                                const void *buf,
                                size_t size);

/* ------------------------------------------------------------------------------------------
 * Evaluation and calibration
 * ---------------------------------------------------------------------------------------- */

/* Evaluation-mode accuracy (and mean loss; loss may be NULL) of net on all of ds, in batches
 * of up to `batch` images. */
eng_status eng_evaluate(eng_net *net, const eng_dataset *ds, int batch, double *accuracy,
                        double *loss);

/* Post-training calibration of a quantized network: records the activation ranges of every
 * quantized layer over the first `images` images of ds (all when <= 0 or more than ds has),
 * evaluation mode, and freezes them (eng_net_calibrate_begin / _end). */
eng_status eng_calibrate(eng_net *net, const eng_dataset *ds, int images, int batch);

#ifdef __cplusplus
}
#endif

#endif /* ENG_TRAIN_H */
