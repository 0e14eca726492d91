/*
 * energy_nets.h - layer lists of published networks for the energy model's tests and
 * benchmark (written from the papers' architecture descriptions).
 */
#ifndef ENERGY_NETS_H
#define ENERGY_NETS_H

#include "energy/energy.h"

/* ResNet-20 for CIFAR-10 (He et al., CVPR 2016, section 4.2): a 3x3 conv to 16 channels,
 * three stages of three basic blocks (16, 32, 64 channels; the first conv of stages 2 and 3
 * has stride 2; option-A shortcuts: identity or subsampling with zero channels, no
 * parameters), every conv followed by batch norm (no bias), global average pooling and a
 * 64->10 dense layer with bias. 269,722 parameters, 40.55 M MACs. Fills layers (at least
 * ENERGY_RESNET20_LAYERS entries), finished; returns the count. */
#define ENERGY_RESNET20_LAYERS 32
int energy_resnet20_layers(energy_layer *layers);

#endif /* ENERGY_NETS_H */
