/*
 * net_device.h - the device side of a network (eng_device.h), private to the engine: the
 * hooks net_run.c, net_build.c and train.c call when a network is on the GPU.
 *
 * net_device.c keeps the device mirror of a network (parameter arena, gradients, one
 * activation and one gradient buffer per node, workspace) and runs the nodes through
 * the CUDA backend's operations (engine/cuda/net_ops.h, eng_cuda.h); net_device_quant.c runs
 * the quantized layers. Plain C: it compiles in every build, and without CUDA every entry
 * answers ENG_ERR_UNSUPPORTED through the backend's stubs.
 */
#ifndef NET_DEVICE_H
#define NET_DEVICE_H

#include "eng_device.h"
#include "eng_ops.h"

typedef struct eng_node eng_node;
typedef struct net_dev net_dev;

/* eng_net_forward / eng_net_loss / eng_net_backward(_from) on the device (the same contracts;
 * dy: host array, or NULL for the loss gradient kept on the device). */
eng_status net_device_forward(eng_net *net, const float *x, int n, bool training);
eng_status net_device_loss(eng_net *net, const uint8_t *labels, int n, float *loss,
                           int *correct);
eng_status net_device_backward(eng_net *net, const float *dy);

/* Activation `node` of the last forward pass copied to a host buffer of the device mirror,
 * valid until the next call or forward pass (NULL on error or when none). */
const float *net_device_activation(const eng_net *net, int node);

/* One SGD step (eng_sgd_step) on the trainable tensors index[0..count-1]. *velocity: the
 * optimizer's device velocity block (allocated on the first call from the host velocities
 * host_velocity, same layout: the tensors one after another). */
eng_status net_device_sgd_step(eng_net *net, const int *index, int count, float lr,
                               float momentum, float weight_decay, bool nesterov,
                               const float *host_velocity, float **velocity);

/* Frees a device block from net_device_sgd_step (NULL allowed). */
void net_device_free_block(float *block);

/* Frees the device mirror of a network (NULL allowed) without copying anything back. */
void net_device_release(net_dev *dev);

/* ------------------------------------------------------------------------------------------
 * Quantized layers (net_device_quant.c)
 * ---------------------------------------------------------------------------------------- */

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

#endif /* NET_DEVICE_H */
