/*
 * eng_zoo.h - the model zoo: reference networks for benchmarks, checks and training runs.
 *
 * Every model is built through the eng_net builder, with He-normal initial weights from the
 * seed in the options. Parameter counts follow the published networks (trainable parameters,
 * PyTorch's count: weights, biases, batch-norm gamma and beta):
 *
 *   name                  input     params      network
 *   lenet                 28x28x1      61,706   LeCun et al. 1998: conv5-6, pool, conv5-16, pool,
 *                                               dense 120, 84, 10 (ReLU, max pooling)
 *   resnet{8,14,20,32,56}_v1 32x32x3 (depth 20: 269,722) He et al. 2016, CIFAR ResNet, option-A
 *                                               shortcuts (subsampling + zero channels)
 *   resnet{8,14,20,32,56}_v2 32x32x3 (depth 20: 272,282) He et al. 2016b, pre-activation, 1x1
 *                                               projection shortcuts when the shape changes
 *   mobilenetv2_cifar     32x32x3   2,296,922   Sandler et al. 2018 for CIFAR: first conv and the
 *                                               second stage at stride 1, 1x1 conv + BN
 *                                               shortcuts where stride-1 blocks change width
 *   mobilenetv2           224x224x3 3,504,872   Sandler et al. 2018, ImageNet (1000 classes)
 *   resnet50v2            224x224x3 25,568,360  He et al. 2016b as in Keras ResNet50V2
 *                                               (the paper's network; 1000 classes)
 *
 * The ImageNet-size models are meant for counts and inference benchmarks.
 *
 * Example:
 *
 *     eng_zoo_options opt;
 *     eng_zoo_options_default(&opt);
 *     opt.width = 0.5f;
 *     eng_net *net;
 *     if (eng_zoo_build("mobilenetv2_cifar", &opt, &net) != ENG_OK) puts(eng_last_error());
 */
#ifndef ENG_ZOO_H
#define ENG_ZOO_H

#include "eng_net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eng_zoo_options {
    float width;        /* width multiplier of MobileNetV2 (channels rounded to multiples of 8;
                           0 = 1.0); ignored by the other models */
    int classes;        /* output classes; 0 = the model's default (10, or 1000 for ImageNet) */
    int in_c, in_h, in_w; /* input shape; 0 = the model's default */
    uint64_t seed;      /* initial weights */
} eng_zoo_options;

/* All zeros: the model defaults, seed 0. */
void eng_zoo_options_default(eng_zoo_options *opt);

/* Builds model `name` with opt (NULL = defaults) and initializes its weights. The network's
 * architecture text (eng_net_arch) is what eng_zoo_build_arch needs to rebuild it.
 * ENG_ERR_NOT_FOUND for an unknown name, ENG_ERR_ARG/SHAPE for options the model cannot take;
 * *out is NULL on error. */
eng_status eng_zoo_build(const char *name, const eng_zoo_options *opt, eng_net **out);

/* Rebuilds a network from its architecture text ("resnet20_v1 classes=10 input=32x32x3
 * width=1"), as stored in weights files. ENG_ERR_FORMAT when the text is malformed. */
eng_status eng_zoo_build_arch(const char *arch, eng_net **out);

/* The models: count, and name / one-line description of model i (NULL when out of range). */
int eng_zoo_count(void);
const char *eng_zoo_name(int i);
const char *eng_zoo_description(int i);

#ifdef __cplusplus
}
#endif

#endif /* ENG_ZOO_H */
