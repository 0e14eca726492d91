/*
 * bench_nets.h - the networks section of `evoapproxnas bench`: inference and training-step
 * time of zoo networks in exact float and quantized through an approximate multiplier.
 *
 * Two copies of each network are built with the same weights: one stays exact float, the
 * other is quantized (8-bit asymmetric, per tensor, STE backward) with every multiplying layer
 * through the multiplier's table. The two are timed in turns (median of repeats after a warm-up
 * call each). A training step is forward (training mode) + loss + backward + SGD update.
 * On the GPU (ENG_DEVICE_CUDA) both copies live on the device and each timed call ends when
 * the device has finished its work.
 */
#ifndef BENCH_NETS_H
#define BENCH_NETS_H

#include <stdbool.h>

#include "eng_device.h"
#include "eng_kernels.h"
#include "eng_mul.h"

typedef struct bench_net_spec {
    const char *model;      /* zoo name */
    int batch;              /* images per call */
    bool train;             /* also time training steps */
} bench_net_spec;

typedef struct bench_net_result {
    const bench_net_spec *spec;
    const char *mul;        /* name of the multiplier of the approximate copy */
    int threads;
    double mmac_per_image;  /* multiply-accumulates of one image, millions */
    double infer_float_ms;  /* one evaluation forward of the batch */
    double infer_approx_ms;
    double train_float_ms;  /* one training step of the batch; 0 when not measured */
    double train_approx_ms;
    double infer_overhead;  /* median over the rounds of approximate / float in one round */
    double train_overhead;  /* the same for training steps; 0 when not measured */
} bench_net_result;

/* The networks. CPU: CIFAR-size ResNet-20 v1/v2, ResNet-56 v1, MobileNetV2 at batch 64
 * (inference and training), ResNet50V2 and MobileNetV2 at 224x224, batch 8 (inference). CUDA:
 * ResNet-20 v1, ResNet-56 v1 and MobileNetV2 (CIFAR) at batch 128, inference and training.
 * quick: ResNet-20 v1 only. Sets *count. */
const bench_net_spec *bench_net_specs(bool quick, eng_device dev, int *count);

/* Batch size of a zoo model given by name on dev: 64 (CPU) or 128 (CUDA) with training for
 * CIFAR-size inputs (<= 32x32), else 8 (inference only). */
bench_net_spec bench_net_spec_for(const char *model, int height, eng_device dev);

/* Measures one network on dev (CPU: at `threads` threads with kernel set k) with multiplier
 * mul. Returns the engine's status (message in eng_last_error()) when a network cannot be
 * built, moved to the device or run. */
eng_status bench_net_measure(const eng_kernels *k, const bench_net_spec *spec, const eng_mul *mul,
                             eng_device dev, int threads, int repeats, bench_net_result *result);

/* ------------------------------------------------------------------------------------------
 * Time per op type (eng_net_set_timing)
 * ---------------------------------------------------------------------------------------- */

enum { BENCH_OP_TYPES = 32 };

typedef struct bench_op_time {
    char type[32];          /* op and geometry: "conv2d 1x1", "depthwise 3x3 s2", "batchnorm" */
    int layers;             /* nodes of this type, summed over the networks added */
    double fwd_ms, bwd_ms;  /* summed node times */
    double inf_ms;          /* summed node times of an inference (evaluation forward) */
} bench_op_time;

typedef struct bench_profile {
    int count;                              /* types in use */
    bench_op_time ops[BENCH_OP_TYPES];      /* in order of first appearance */
} bench_profile;

/* Adds node times ms[2 * eng_net_node_count(net)] (eng_net_set_timing's layout) of net into
 * p by op type. Types beyond BENCH_OP_TYPES go to an "other" entry. Can't fail. */
void bench_profile_add(bench_profile *p, const eng_net *net, const double *ms);

/* Adds node times ms[eng_net_node_count(net)] of an evaluation forward pass into the inf_ms of
 * p by op type (bench_profile_add's types). Can't fail. */
void bench_profile_add_inference(bench_profile *p, const eng_net *net, const double *ms);

/* Times `repeats` training steps (after one warm-up step) of spec's network, exact float when
 * mul is NULL, else quantized through mul, at `threads` threads with kernel set k, node by
 * node, then `repeats` inferences (evaluation forward passes, after a warm-up): fills *out
 * with the mean ms per step and per inference of every op type (zeroed first). Returns the
 * engine's status when the network cannot be built or run. CPU only. */
eng_status bench_net_profile(const eng_kernels *k, const bench_net_spec *spec, const eng_mul *mul,
                             int threads, int repeats, bench_profile *out);

#endif /* BENCH_NETS_H */
