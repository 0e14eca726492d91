/*
 * net_internal.h - the private representation of a network, shared by the builder
 * (net_build.c, net_quant.c), the executor (net_run.c) and the backends (backend.h).
 */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H

#include "eng_net.h"
#include "eng_device.h"
#include "eng_ops.h"

typedef struct net_backend net_backend;
typedef struct net_dev net_dev;

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

    /* run-time buffers of the planned arenas (offsets: floats per image of capacity); the CPU
     * backend's pointers into net->acts / net->act_grads */
    size_t act_off;
    size_t grad_off;
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

    /* activations for `batch` images, planned by the executor (net_run.c) */
    int batch;                      /* capacity, 0 = none */
    bool train_buffers;             /* planned with gradients */
    /* the CPU backend's buffers (NULL on another backend) */
    float *acts;
    float *act_grads;
    float *scratch;                 /* the largest node's size x batch floats */
    void *ws;
    size_t ws_size;

    /* state of the last run */
    int last_n;                     /* images of the last forward, 0 = none */
    bool last_training;
    bool have_loss_grad;            /* eng_net_loss kept the loss gradient (training forward) */
    float *dlogits;                 /* CPU: classes * batch floats (owned) */
    bool *grad_set;                 /* per node: its gradient was written this backward */

    /* placement (eng_device.h): the backend that runs the nodes, and its state */
    eng_device device;
    const net_backend *be;          /* never NULL */
    bool fuse;                      /* be->fuses: the executor plans and runs the fusions */
    net_dev *dev;                   /* the backend's own state (owned), NULL on the CPU */
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
static inline int net_output(const eng_net *net)
{
    return net->output >= 0 ? net->output : net->n_nodes - 1;
}

/* Allocates the parameter arena if not done (zeros, gamma and running variance 1). */
eng_status net_params_alloc(eng_net *net);

/* Convolution geometry of a conv/depthwise node for batch n. */
static inline eng_status net_conv_shape(const eng_net *net, const eng_node *nd, int n,
                                        eng_conv_shape *s)
{
    const eng_node *src = &net->nodes[nd->inputs[0]];
    return eng_conv_shape_init(s, n, src->c, src->h, src->w, nd->kernel, nd->kernel,
                               nd->stride, nd->pad, nd->dilation);
}

/* ------------------------------------------------------------------------------------------
 * Fusions (only where the backend runs them: net->fuse). The executor plans the buffers and
 * skips the absorbed nodes with these; the CPU backend runs the fused kernels.
 * ---------------------------------------------------------------------------------------- */

/* Node i and the activation after it form a fusable pair (a batch norm or an add whose only
 * consumer is a ReLU, or a batch norm whose only consumer is a ReLU6, both up to the output):
 * the pair writes the activation's output in one pass, the activation node does nothing, and
 * the pair's backward reads the activation's gradient. */
static inline bool net_relu_pair(const eng_net *net, int i)
{
    const eng_node *nd = &net->nodes[i];
    if (!net->fuse || (nd->op != ENG_OP_BATCHNORM && nd->op != ENG_OP_ADD) ||
        nd->consumers != 1 || i + 1 > net_output(net))
        return false;
    const eng_node *next = &net->nodes[i + 1];
    if (next->inputs[0] != i)
        return false;
    return next->op == ENG_OP_RELU || (next->op == ENG_OP_RELU6 && nd->op == ENG_OP_BATCHNORM);
}

/* Node i (a fused pair's first node) is followed by a ReLU6. */
static inline bool net_pair_relu6(const eng_net *net, int i)
{
    return net->nodes[i + 1].op == ENG_OP_RELU6;
}

/* Node i is a convolution (regular or depthwise, float or quantized) whose only consumer is
 * the batch norm right after it: in evaluation that batch norm, and the ReLU/ReLU6 of its
 * pair, run as the convolution's epilogue, which writes the last node's output; the batch
 * norm node then does nothing. Folded batch norms are not (they are identities). */
static inline bool net_bn_epilogue(const eng_net *net, int i)
{
    const eng_node *nd = &net->nodes[i];
    if (!net->fuse || (nd->op != ENG_OP_CONV2D && nd->op != ENG_OP_DEPTHWISE) ||
        nd->consumers != 1 || i + 1 > net_output(net))
        return false;
    const eng_node *bn = &net->nodes[i + 1];
    return bn->op == ENG_OP_BATCHNORM && bn->inputs[0] == i && !bn->folded;
}

#endif /* NET_INTERNAL_H */
