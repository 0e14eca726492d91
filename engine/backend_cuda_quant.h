/*
 * backend_cuda_quant.h - the quantized conv2d, depthwise and dense layers of the CUDA backend
 * (backend_cuda.c), private to the engine: the arithmetic of eng_ops.h through the device
 * table kernels (eng_cuda.h) and the pieces of engine/cuda/net_ops.h. Plain C: it compiles in
 * every build; without CUDA every entry answers ENG_ERR_UNSUPPORTED through the stubs.
 */
#ifndef ENG_BACKEND_CUDA_QUANT_H
#define ENG_BACKEND_CUDA_QUANT_H

#include "net_internal.h"

/* Per-node device state of a quantized layer (the table and parameters on the device). */
typedef struct net_dev_quant net_dev_quant;

/* Device workspace bytes a quantized node needs for batch n (forward and backward). */
size_t net_device_quant_workspace(const eng_net *net, const eng_node *nd, int n,
                                  size_t conv_ws);

/* Forward of quantized node nd: x -> y through its multiplier table, with the CPU's
 * quantization parameters (the min/max of x and of the weights are read back). */
eng_status net_device_quant_forward(eng_net *net, net_dev_quant **state, eng_node *nd, int n,
                                    const float *x, const float *w, const float *bias,
                                    bool training, float *y, void *ws);

/* STE backward of quantized node nd with the parameters of its last forward. */
eng_status net_device_quant_backward(eng_net *net, net_dev_quant *state, eng_node *nd, int n,
                                     const float *x, const float *w, const float *dy,
                                     float *dx, float *dw, float *db, void *ws);

void net_device_quant_free(net_dev_quant *state);

#endif /* ENG_BACKEND_CUDA_QUANT_H */
