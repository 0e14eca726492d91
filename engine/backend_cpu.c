/*
 * backend_cpu.c - the CPU backend of the network executor (backend.h): host buffers shared
 * by the executor's lifetime plan, the layers of eng_layers.h / eng_ops.h over the network's
 * kernel set, and the fusions.
 *
 * Fusions (net_internal.h): a batch norm or an add that forms a pair with the ReLU/ReLU6 after
 * it runs the fused kernel and writes the activation's output (the executor hands it that
 * buffer as y and skips the activation); in evaluation a convolution whose only consumer is
 * a batch norm runs that batch norm, and the activation of its pair, as its epilogue,
 * bit-identical to the nodes run one by one.
 */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "eng_layers.h"

static float *param_ptr(const eng_net *net, size_t off)
{
    return off == SIZE_MAX ? NULL : net->params + off;
}

static float *grad_ptr(const eng_net *net, size_t off)
{
    return off == SIZE_MAX ? NULL : net->grads + off;
}

/* Bias used by a conv/depthwise/dense forward: its own, the fold bias, or none. */
static const float *node_bias(const eng_net *net, const eng_node *nd)
{
    if (nd->bias) return param_ptr(net, nd->off_bias);
    if (nd->fold_bias) return param_ptr(net, nd->off_aux);
    return NULL;
}

static eng_approx *node_q(const eng_node *nd)
{
    return nd->quantized ? nd->q : NULL;
}

/* ------------------------------------------------------------------------------------------
 * Memory
 * ---------------------------------------------------------------------------------------- */

/* Workspace bytes the layers need for batch n (given their current quantization states). */
static size_t workspace_size(const eng_net *net, int n)
{
    size_t best = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        const eng_node *nd = &net->nodes[i];
        const eng_approx *q = node_q(nd);
        eng_conv_shape s;
        size_t need = 0;
        if (nd->op == ENG_OP_CONV2D) {
            if (net_conv_shape(net, nd, n, &s) == ENG_OK)
                need = eng_conv2d_workspace_size(&s, nd->c, q);
        } else if (nd->op == ENG_OP_DEPTHWISE) {
            if (net_conv_shape(net, nd, n, &s) == ENG_OK)
                need = eng_depthwise_workspace_size(&s, q);
        } else if (nd->op == ENG_OP_DENSE) {
            need = eng_dense_workspace_size(net->nodes[nd->inputs[0]].c, nd->c, n, q);
        }
        if (need > best) best = need;
    }
    return best;
}

static eng_status cpu_workspace(eng_net *net, int n)
{
    size_t need = workspace_size(net, n);
    if (net->ws && need <= net->ws_size) return ENG_OK;
    void *ws = eng_alloc(need);
    if (!ws) return eng_error(ENG_ERR_NOMEM, "network: no memory for a %zu-byte workspace", need);
    eng_free(net->ws);
    net->ws = ws;
    net->ws_size = need;
    return ENG_OK;
}

static eng_status cpu_attach(eng_net *net)
{
    (void)net;
    return ENG_OK;
}

static void cpu_release(eng_net *net)
{
    eng_free(net->acts);
    eng_free(net->act_grads);
    eng_free(net->scratch);
    eng_free(net->ws);
    eng_free(net->dlogits);
    net->acts = net->act_grads = net->scratch = net->dlogits = NULL;
    net->ws = NULL;
    net->ws_size = 0;
    for (int i = 0; i < net->n_nodes; i++) net->nodes[i].act = net->nodes[i].grad = NULL;
}

static eng_status cpu_reserve(eng_net *net, const net_plan *p)
{
    size_t cap = (size_t)p->cap;
    float *acts = eng_alloc(p->act_total * cap * sizeof(float));
    float *act_grads = p->grads ? eng_alloc(p->grad_total * cap * sizeof(float)) : NULL;
    float *scratch = eng_alloc(p->max_node * cap * sizeof(float));
    float *dlogits = eng_alloc((size_t)net->classes * cap * sizeof(float));
    if (!acts || (p->grads && !act_grads) || !scratch || !dlogits) {
        eng_free(acts);
        eng_free(act_grads);
        eng_free(scratch);
        eng_free(dlogits);
        return eng_error(ENG_ERR_NOMEM, "network: no memory for activations of batch %d "
                         "(%zu floats per image)", p->cap, p->act_total + p->grad_total);
    }
    eng_free(net->acts);
    eng_free(net->act_grads);
    eng_free(net->scratch);
    eng_free(net->dlogits);
    net->acts = acts;
    net->act_grads = act_grads;
    net->scratch = scratch;
    net->dlogits = dlogits;
    for (int i = 0; i < net->n_nodes; i++) {
        eng_node *nd = &net->nodes[i];
        nd->act = acts + p->act_off[i] * cap;
        nd->grad = act_grads ? act_grads + p->grad_off[i] * cap : NULL;
    }
    return ENG_OK;
}

static float *cpu_act(const eng_net *net, int node)
{
    return net->nodes[node].act;
}

static float *cpu_grad(const eng_net *net, int node)
{
    return net->nodes[node].grad;
}

static float *cpu_scratch(const eng_net *net)
{
    return net->scratch;
}

static eng_status cpu_input(eng_net *net, const float *x, int n)
{
    memcpy(net->nodes[0].act, x, node_size(&net->nodes[0]) * (size_t)n * sizeof(float));
    return ENG_OK;
}

static eng_status cpu_seed(eng_net *net, const float *dy)
{
    eng_node *o = &net->nodes[net_output(net)];
    if (!dy) dy = net->dlogits;
    if (o->grad != dy) memcpy(o->grad, dy, node_size(o) * (size_t)net->last_n * sizeof(float));
    return ENG_OK;
}

static const float *cpu_download(const eng_net *net, int node)
{
    return net->nodes[node].act;
}

static eng_status cpu_copy(float *dst, const float *src, size_t count)
{
    memcpy(dst, src, count * sizeof *dst);
    return ENG_OK;
}

static eng_status cpu_accumulate(float *dst, const float *src, size_t count)
{
    ptrdiff_t total = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (total > 32768)
    for (ptrdiff_t i = 0; i < total; i++) dst[i] += src[i];
    return ENG_OK;
}

static eng_status cpu_zero_param_grads(eng_net *net, const eng_node *nd)
{
    if (nd->off_weight != SIZE_MAX) memset(net->grads + nd->off_weight, 0, nd->n_weight * 4);
    if (nd->off_bias != SIZE_MAX) memset(net->grads + nd->off_bias, 0, nd->n_bias * 4);
    return ENG_OK;
}

static eng_status cpu_sync(eng_net *net)
{
    (void)net;
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Forward
 * ---------------------------------------------------------------------------------------- */

/* Forward of convolution node id with the batch norm after it (and its pair's activation)
 * as epilogue (net_bn_epilogue): writes the output of the pair, or of the batch norm. */
static eng_status conv_epilogue(eng_net *net, int id, const eng_conv_shape *s)
{
    eng_node *nd = &net->nodes[id];
    const eng_node *bn = &net->nodes[id + 1];
    const bool pair = net_relu_pair(net, id + 1);
    float *y = net->nodes[id + (pair ? 2 : 1)].act;
    float *aff = malloc(2 * sizeof(float) * (size_t)nd->c);
    if (!aff) return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    eng_batchnorm_eval_affine(nd->c, param_ptr(net, bn->off_weight), param_ptr(net, bn->off_bias),
                              param_ptr(net, bn->off_mean), param_ptr(net, bn->off_var), bn->eps,
                              aff, aff + nd->c);
    const eng_epilogue ep = {
        .scale = aff,
        .shift = aff + nd->c,
        .act = !pair                         ? ENG_EPILOGUE_NONE
               : net_pair_relu6(net, id + 1) ? ENG_EPILOGUE_RELU6
                                             : ENG_EPILOGUE_RELU,
    };
    const float *x = net->nodes[nd->inputs[0]].act;
    eng_status st =
        nd->op == ENG_OP_DEPTHWISE
            ? eng_depthwise_forward_fused(net->k, s, x, param_ptr(net, nd->off_weight),
                                          node_bias(net, nd), node_q(nd), false, &ep, y, net->ws)
            : eng_conv2d_forward_fused(net->k, s, nd->c, x, param_ptr(net, nd->off_weight),
                                       node_bias(net, nd), node_q(nd), false, &ep, y, net->ws);
    free(aff);
    return st;
}

static eng_status conv2d_forward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    eng_conv_shape s;
    ENG_TRY(net_conv_shape(net, nd, io->n, &s));
    if (!io->training && net_bn_epilogue(net, io->id)) return conv_epilogue(net, io->id, &s);
    return eng_conv2d_forward(net->k, &s, nd->c, io->x, param_ptr(net, nd->off_weight),
                              node_bias(net, nd), node_q(nd), io->training, io->y, net->ws);
}

static eng_status depthwise_forward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    eng_conv_shape s;
    ENG_TRY(net_conv_shape(net, nd, io->n, &s));
    if (!io->training && net_bn_epilogue(net, io->id)) return conv_epilogue(net, io->id, &s);
    return eng_depthwise_forward(net->k, &s, io->x, param_ptr(net, nd->off_weight),
                                 node_bias(net, nd), node_q(nd), io->training, io->y, net->ws);
}

static eng_status dense_forward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    return eng_dense_forward(net->k, net->nodes[nd->inputs[0]].c, nd->c, io->n, io->x,
                             param_ptr(net, nd->off_weight), node_bias(net, nd), node_q(nd),
                             io->training, io->y, net->ws);
}

static eng_status batchnorm_forward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    const bool fused = net_relu_pair(net, io->id);
    const bool six = fused && net_pair_relu6(net, io->id);
    size_t m = (size_t)io->n * nd->h * nd->w, count = node_size(nd) * (size_t)io->n;
    float *aux = param_ptr(net, nd->off_aux);
    const float *gamma = param_ptr(net, nd->off_weight), *beta = param_ptr(net, nd->off_bias);
    float *mean = param_ptr(net, nd->off_mean), *var = param_ptr(net, nd->off_var);
    const float *x = io->x;
    float *y = io->y;
    if (nd->folded && fused)  /* a folded batch norm is the identity */
        (six ? eng_relu6_forward : eng_relu_forward)(count, x, y);
    else if (nd->folded)
        memcpy(y, x, count * sizeof *y);
    else if (io->training)
        (six     ? eng_batchnorm_relu6_forward_train
         : fused ? eng_batchnorm_relu_forward_train
                 : eng_batchnorm_forward_train)(nd->c, m, x, gamma, beta, nd->eps, nd->momentum,
                                                mean, var, y, aux, aux + nd->c);
    else
        (six     ? eng_batchnorm_relu6_forward_eval
         : fused ? eng_batchnorm_relu_forward_eval
                 : eng_batchnorm_forward_eval)(nd->c, m, x, gamma, beta, mean, var, nd->eps, y);
    return ENG_OK;
}

static eng_status relu_forward(node_io *io)
{
    eng_relu_forward(node_size(io->nd) * (size_t)io->n, io->x, io->y);
    return ENG_OK;
}

static eng_status relu6_forward(node_io *io)
{
    eng_relu6_forward(node_size(io->nd) * (size_t)io->n, io->x, io->y);
    return ENG_OK;
}

static eng_status hardswish_forward(node_io *io)
{
    eng_hardswish_forward(node_size(io->nd) * (size_t)io->n, io->x, io->y);
    return ENG_OK;
}

static eng_status pool_shape(const node_io *io, eng_pool_shape *ps)
{
    const eng_node *nd = io->nd, *src = &io->net->nodes[nd->inputs[0]];
    return eng_pool_shape_init(ps, src->c * io->n, src->h, src->w, nd->kernel, nd->stride,
                               nd->pad);
}

static eng_status maxpool_forward(node_io *io)
{
    eng_pool_shape ps;
    ENG_TRY(pool_shape(io, &ps));
    eng_maxpool_forward(&ps, io->x, io->y);
    return ENG_OK;
}

static eng_status avgpool_forward(node_io *io)
{
    eng_pool_shape ps;
    ENG_TRY(pool_shape(io, &ps));
    eng_avgpool_forward(&ps, io->nd->count_include_pad, io->x, io->y);
    return ENG_OK;
}

static eng_status global_avgpool_forward(node_io *io)
{
    const eng_node *src = &io->net->nodes[io->nd->inputs[0]];
    eng_global_avgpool_forward((size_t)src->c * io->n, (size_t)src->h * src->w, io->x, io->y);
    return ENG_OK;
}

static eng_status add_forward(node_io *io)
{
    eng_net *net = io->net;
    const eng_node *nd = io->nd;
    const bool fused = net_relu_pair(net, io->id);
    size_t count = node_size(nd) * (size_t)io->n;
    ptrdiff_t total = (ptrdiff_t)count;
    const float *x = io->x, *x1 = net->nodes[nd->inputs[1]].act;
    float *y = io->y;
    if (fused && nd->n_inputs == 2) {
#pragma omp parallel for simd schedule(static) if (total > 32768)
        for (ptrdiff_t i = 0; i < total; i++) {
            float v = x[i] + x1[i];
            y[i] = v > 0.0f ? v : 0.0f;
        }
        return ENG_OK;
    }
#pragma omp parallel for simd schedule(static) if (total > 32768)
    for (ptrdiff_t i = 0; i < total; i++) y[i] = x[i] + x1[i];
    for (int j = 2; j < nd->n_inputs; j++) {
        const float *xj = net->nodes[nd->inputs[j]].act;
#pragma omp parallel for simd schedule(static) if (total > 32768)
        for (ptrdiff_t i = 0; i < total; i++) y[i] += xj[i];
    }
    if (fused) eng_relu_forward(count, y, y);
    return ENG_OK;
}

static eng_status concat_forward(node_io *io)
{
    float *dst = io->y;
    for (int j = 0; j < io->nd->n_inputs; j++) {
        const eng_node *in = &io->net->nodes[io->nd->inputs[j]];
        size_t part = node_size(in) * (size_t)io->n;
        memcpy(dst, in->act, part * sizeof *dst);
        dst += part;
    }
    return ENG_OK;
}

static eng_status flatten_forward(node_io *io)
{
    const eng_node *src = &io->net->nodes[io->nd->inputs[0]];
    eng_flatten_forward(src->c, io->n, src->h, src->w, io->x, io->y);
    return ENG_OK;
}

static eng_status channel_pad_forward(node_io *io)
{
    const eng_node *nd = io->nd, *src = &io->net->nodes[nd->inputs[0]];
    eng_channel_pad_forward(src->c, (size_t)io->n * src->h * src->w, nd->pad_before,
                            nd->pad_after, io->x, io->y);
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Backward
 * ---------------------------------------------------------------------------------------- */

static size_t in_count(const node_io *io)
{
    return node_size(&io->net->nodes[io->nd->inputs[io->k]]) * (size_t)io->n;
}

static eng_status conv2d_backward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    eng_conv_shape s;
    ENG_TRY(net_conv_shape(net, nd, io->n, &s));
    return eng_conv2d_backward(net->k, &s, nd->c, io->x, param_ptr(net, nd->off_weight),
                               node_q(nd), io->dy, io->dx_needed ? io->dx : NULL,
                               grad_ptr(net, nd->off_weight), grad_ptr(net, nd->off_bias),
                               net->ws);
}

static eng_status depthwise_backward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    eng_conv_shape s;
    ENG_TRY(net_conv_shape(net, nd, io->n, &s));
    return eng_depthwise_backward(net->k, &s, io->x, param_ptr(net, nd->off_weight), node_q(nd),
                                  io->dy, io->dx_needed ? io->dx : NULL,
                                  grad_ptr(net, nd->off_weight), grad_ptr(net, nd->off_bias),
                                  net->ws);
}

static eng_status dense_backward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    return eng_dense_backward(net->k, net->nodes[nd->inputs[0]].c, nd->c, io->n, io->x,
                              param_ptr(net, nd->off_weight), node_q(nd), io->dy,
                              io->dx_needed ? io->dx : NULL, grad_ptr(net, nd->off_weight),
                              grad_ptr(net, nd->off_bias), net->ws);
}

static eng_status batchnorm_backward(node_io *io)
{
    eng_net *net = io->net;
    eng_node *nd = io->nd;
    const float *aux = param_ptr(net, nd->off_aux);
    const float *gamma = param_ptr(net, nd->off_weight);
    size_t m = (size_t)io->n * nd->h * nd->w;
    float *dgamma = grad_ptr(net, nd->off_weight), *dbeta = grad_ptr(net, nd->off_bias);
    if (net_relu_pair(net, io->id))
        (net_pair_relu6(net, io->id) ? eng_batchnorm_relu6_backward
                                     : eng_batchnorm_relu_backward)(
            nd->c, m, io->x, gamma, param_ptr(net, nd->off_bias), aux, aux + nd->c, io->dy,
            io->dx, dgamma, dbeta);
    else
        eng_batchnorm_backward(nd->c, m, io->x, gamma, aux, aux + nd->c, io->dy, io->dx, dgamma,
                               dbeta);
    return ENG_OK;
}

static eng_status relu_backward(node_io *io)
{
    eng_relu_backward(in_count(io), io->y, io->dy, io->dx);
    return ENG_OK;
}

static eng_status relu6_backward(node_io *io)
{
    eng_relu6_backward(in_count(io), io->x, io->dy, io->dx);
    return ENG_OK;
}

static eng_status hardswish_backward(node_io *io)
{
    eng_hardswish_backward(in_count(io), io->x, io->dy, io->dx);
    return ENG_OK;
}

static eng_status maxpool_backward(node_io *io)
{
    eng_pool_shape ps;
    ENG_TRY(pool_shape(io, &ps));
    eng_maxpool_backward(&ps, io->x, io->dy, io->dx);
    return ENG_OK;
}

static eng_status avgpool_backward(node_io *io)
{
    eng_pool_shape ps;
    ENG_TRY(pool_shape(io, &ps));
    eng_avgpool_backward(&ps, io->nd->count_include_pad, io->dy, io->dx);
    return ENG_OK;
}

static eng_status global_avgpool_backward(node_io *io)
{
    const eng_node *src = &io->net->nodes[io->nd->inputs[0]];
    eng_global_avgpool_backward((size_t)src->c * io->n, (size_t)src->h * src->w, io->dy, io->dx);
    return ENG_OK;
}

/* Every input receives dy; a fused add first runs its ReLU's backward (for each input: the
 * same values). */
static eng_status add_backward(node_io *io)
{
    if (net_relu_pair(io->net, io->id))
        eng_relu_backward(in_count(io), io->net->nodes[io->id + 1].act, io->dy, io->dx);
    else
        io->dx_from = io->dy;
    return ENG_OK;
}

static eng_status concat_backward(node_io *io)
{
    const float *part = io->dy;
    for (int i = 0; i < io->k; i++)
        part += node_size(&io->net->nodes[io->nd->inputs[i]]) * (size_t)io->n;
    io->dx_from = part;
    return ENG_OK;
}

static eng_status flatten_backward(node_io *io)
{
    const eng_node *src = &io->net->nodes[io->nd->inputs[0]];
    eng_flatten_backward(src->c, io->n, src->h, src->w, io->dy, io->dx);
    return ENG_OK;
}

static eng_status channel_pad_backward(node_io *io)
{
    const eng_node *nd = io->nd, *src = &io->net->nodes[nd->inputs[0]];
    eng_channel_pad_backward(src->c, (size_t)io->n * src->h * src->w, nd->pad_before, io->dy,
                             io->dx);
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Loss, SGD, the table
 * ---------------------------------------------------------------------------------------- */

static eng_status cpu_loss(eng_net *net, const uint8_t *labels, int n, float *loss, int *correct)
{
    *loss = eng_softmax_xent(net->classes, n, net->nodes[net_output(net)].act, labels, correct,
                             net->last_training ? net->dlogits : NULL);
    return ENG_OK;
}

static eng_status cpu_sgd_step(eng_net *net, const int *index, int count, float lr, float mu,
                               float weight_decay, bool nesterov, float *velocity, float **block)
{
    (void)block;
    if (!net->grads) return eng_error(ENG_ERR_ARG, "sgd: the network has no gradients yet");
    for (int t = 0; t < count; t++) {
        const eng_param p = net->param_list[index[t]];
        const float wd = p.kind == ENG_PARAM_WEIGHT ? weight_decay : 0.0f;
        float *w = p.data, *v = velocity;
        const float *g = net->grads + (p.data - net->params);
        ptrdiff_t total = (ptrdiff_t)p.count;
#pragma omp parallel for simd schedule(static) if (total > 65536)
        for (ptrdiff_t i = 0; i < total; i++) {
            float gi = g[i] + wd * w[i];
            float vi = mu * v[i] + gi;
            v[i] = vi;
            w[i] -= lr * (nesterov ? gi + mu * vi : vi);
        }
        velocity += p.count;
    }
    return ENG_OK;
}

static eng_status cpu_supports_op(const eng_net *net, const eng_node *nd);

const net_backend net_backend_cpu = {
    .name = "cpu",
    .tag = "",
    .device = ENG_DEVICE_CPU,
    .fuses = true,
    .attach = cpu_attach,
    .release = cpu_release,
    .reserve = cpu_reserve,
    .workspace = cpu_workspace,
    .act = cpu_act,
    .grad = cpu_grad,
    .scratch = cpu_scratch,
    .input = cpu_input,
    .seed = cpu_seed,
    .download = cpu_download,
    .copy = cpu_copy,
    .accumulate = cpu_accumulate,
    .zero_param_grads = cpu_zero_param_grads,
    .sync_host = cpu_sync,
    .sync_device = cpu_sync,
    .supports_op = cpu_supports_op,
    .forward = {
        [ENG_OP_CONV2D] = conv2d_forward,
        [ENG_OP_DEPTHWISE] = depthwise_forward,
        [ENG_OP_DENSE] = dense_forward,
        [ENG_OP_BATCHNORM] = batchnorm_forward,
        [ENG_OP_RELU] = relu_forward,
        [ENG_OP_RELU6] = relu6_forward,
        [ENG_OP_MAXPOOL] = maxpool_forward,
        [ENG_OP_AVGPOOL] = avgpool_forward,
        [ENG_OP_GLOBAL_AVGPOOL] = global_avgpool_forward,
        [ENG_OP_ADD] = add_forward,
        [ENG_OP_CONCAT] = concat_forward,
        [ENG_OP_FLATTEN] = flatten_forward,
        [ENG_OP_CHANNEL_PAD] = channel_pad_forward,
        [ENG_OP_HARDSWISH] = hardswish_forward,
    },
    .backward = {
        [ENG_OP_CONV2D] = conv2d_backward,
        [ENG_OP_DEPTHWISE] = depthwise_backward,
        [ENG_OP_DENSE] = dense_backward,
        [ENG_OP_BATCHNORM] = batchnorm_backward,
        [ENG_OP_RELU] = relu_backward,
        [ENG_OP_RELU6] = relu6_backward,
        [ENG_OP_MAXPOOL] = maxpool_backward,
        [ENG_OP_AVGPOOL] = avgpool_backward,
        [ENG_OP_GLOBAL_AVGPOOL] = global_avgpool_backward,
        [ENG_OP_ADD] = add_backward,
        [ENG_OP_CONCAT] = concat_backward,
        [ENG_OP_FLATTEN] = flatten_backward,
        [ENG_OP_CHANNEL_PAD] = channel_pad_backward,
        [ENG_OP_HARDSWISH] = hardswish_backward,
    },
    .loss = cpu_loss,
    .sgd_step = cpu_sgd_step,
};

/* The CPU runs every op kind (it is the definition). */
static eng_status cpu_supports_op(const eng_net *net, const eng_node *nd)
{
    (void)net;
    if (!net_backend_cpu.forward[nd->op] || !net_backend_cpu.backward[nd->op])
        return eng_error(ENG_ERR_UNSUPPORTED, "network: %s: no CPU operation for op %d",
                         nd->name, (int)nd->op);
    return ENG_OK;
}
