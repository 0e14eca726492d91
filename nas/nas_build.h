/*
 * nas_build.h - turns a decoded NAS architecture (nas_arch) into an engine network.
 *
 * Every nas_layer becomes one eng_net node (BN momentum 0.1, eps 1e-5; average pooling does
 * not count the padding); multiplying layers are quantized with the given config and get the
 * multiplier of their gene. The builder keeps nothing: the network borrows the multipliers,
 * which must outlive it.
 *
 *     eng_net *net;
 *     int *node = malloc(sizeof(int) * arch.n);
 *     ENG_TRY(nas_arch_build(&arch, &space, muls, &qcfg, &net, node));
 */
#ifndef NAS_BUILD_H
#define NAS_BUILD_H

#include "eng_net.h"
#include "eng_ops.h"
#include "nas_genome.h"

/* Builds the network of arch for the input shape and classes of space. muls[i] is the
 * multiplier of set index i (NULL = exact integer products); q is the quantization of every
 * multiplying layer (NULL = exact float, muls ignored). node_of_layer (arch->n entries, may be
 * NULL) receives the eng_net node id of each layer. On error *out is NULL and the message names
 * the layer. */
eng_status nas_arch_build(const nas_arch *arch,
                          const nas_space *space,       // input shape, classes
                          const eng_mul *const *muls,   // space->n_muls multipliers
                          const eng_approx_cfg *q,      // quantization, NULL = float
                          eng_net **out,                // the new network
                          int *node_of_layer);          // out: node ids, or NULL

#endif /* NAS_BUILD_H */
