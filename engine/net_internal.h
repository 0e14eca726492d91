/*
 * net_internal.h - the private representation of a network, shared by the net_*.c files.
 */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H

#include "eng_net.h"
#include "eng_ops.h"
#include "net_device.h"

typedef struct eng_node {
    eng_op op;
    char name[32];
    int n_inputs;
    int *inputs;              /* owned */
    int c, h, w;              /* output shape per image */
    int consumers;            /* edges leaving this node */

    /* geometry / hyperparameters */
    int kernel, stride, pad, dilation;
    bool bias;
    bool count_include_pad;
    int pad_before, pad_after;
    float momentum, eps;

    /* parameters: offsets (in floats) into net->params / net->grads, or SIZE_MAX */
    size_t n_weight, n_bias;
    size_t off_weight, off_bias;    /* conv/dense; BN: gamma, beta */
    size_t off_mean, off_var;       /* BN running statistics (state) */
    size_t off_aux;                 /* BN: saved mean + invstd [2c]; conv w/o bias: fold bias */

    /* quantization (multiplying layers) */
    bool quantized;
    eng_approx_cfg qcfg;
    eng_approx *q;                  /* owned */
    const eng_mul *mul;             /* borrowed */

    /* batch norm folded into its producer (an identity in evaluation); whoever changes it
     * calls net_replan (the evaluation buffer plan depends on it) */
    bool folded;
    /* conv/depthwise whose batch norm was folded: use the fold bias */
    bool fold_bias;

    /* run-time buffers (point into net->acts / net->act_grads) */
    size_t act_off;                 /* activation offset, floats per image of capacity */
    size_t grad_off;                /* gradient offset, floats per image of capacity */
    float *act;
    float *grad;
} eng_node;

/* Floats of one image's activation of node nd (c x h x w). */
static inline size_t node_size(const eng_node *nd)
{
    return (size_t)nd->c * nd->h * nd->w;
}

struct eng_net {
    int in_c, in_h, in_w, classes;
    int n_nodes, cap_nodes;
    eng_node *nodes;
    int output;                     /* -1 = last node */
    char arch[ENG_NET_ARCH_MAX];
    const eng_kernels *k;
    double *timing;                 /* eng_net_set_timing: [2][n_nodes] ms, or NULL */

    /* parameters: allocated on first use */
    bool params_ready;
    size_t n_param_floats;          /* trainable + state + aux */
    float *params;
    float *grads;                   /* same layout; NULL until a training reserve */
    int n_param_tensors;
    eng_param *param_list;          /* data/grad pointers into params/grads */

    /* activations for `batch` images */
    int batch;                      /* capacity, 0 = none */
    bool train_buffers;             /* act_grads allocated */
    float *acts;
    float *act_grads;
    float *scratch;                 /* the largest node's size x batch floats */
    void *ws;
    size_t ws_size;

    /* state of the last run */
    int last_n;                     /* images of the last forward, 0 = none */
    bool last_training;
    bool have_loss_grad;            /* eng_net_loss stored dlogits after a training forward */
    float *dlogits;                 /* classes * batch floats (owned) */
    bool *grad_set;                 /* per node: its gradient was written this backward */

    /* placement (eng_device.h): on CUDA, dev mirrors the buffers above in device memory */
    eng_device device;
    net_dev *dev;                   /* owned; NULL on the CPU */
};

/* Makes the next forward pass plan the buffers again (after a change the plan depends on:
 * the output node, folded batch norms). */
static inline void net_replan(eng_net *net)
{
    net->batch = 0;
    net->last_n = 0;
    net->have_loss_grad = false;
}

/* The output node id (resolving -1). */
int net_output(const eng_net *net);

/* Allocates the parameter arena if not done (zeros, gamma and running variance 1). */
eng_status net_params_alloc(eng_net *net);

/* Workspace bytes the layers need for batch n (given their current quantization states). */
size_t net_workspace_size(const eng_net *net, int n);

/* Makes sure the workspace holds at least net_workspace_size(net, n) bytes. */
eng_status net_workspace_ensure(eng_net *net, int n);

/* Convolution geometry of a conv/depthwise node for batch n. */
eng_status net_conv_shape(const eng_net *net, const eng_node *nd, int n, eng_conv_shape *s);

#endif /* NET_INTERNAL_H */
