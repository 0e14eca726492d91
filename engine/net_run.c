/*
 * net_run.c - buffers, forward pass, loss and backward pass of a network.
 *
 * Nodes run in id order (a topological order by construction). Every node has an activation
 * buffer and, in training, a gradient buffer, placed in two arenas sized for the reserved batch
 * by a lifetime plan (plan_memory): buffers never alive at the same step share memory.
 * Backward visits nodes in reverse order; a node's gradient is complete when all its consumers
 * (higher ids) have run. The first contribution to a gradient is written in place, later ones
 * go through the scratch buffer and are added.
 *
 * A batch norm or an add whose only consumer is the ReLU right after it, or a batch norm whose
 * only consumer is the ReLU6 right after it, runs fused with that activation (relu_pair): the
 * pair writes the activation's output in one pass, the activation node itself does nothing,
 * and the pair's backward reads the activation's gradient. The fused node has no
 * activation or gradient of its own; the lifetime plan keeps the buffers the pair reads alive.
 * In evaluation a convolution (regular or depthwise) whose only consumer is a batch norm runs
 * that batch norm, and the ReLU/ReLU6 of its pair, as its epilogue (bn_epilogue): the
 * convolution writes the last node's output, bit-identical to the nodes run one by one.
 */
#include "net_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_layers.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static float *param_ptr(const eng_net *net, size_t off)
{
    return off == SIZE_MAX ? NULL : net->params + off;
}

static float *grad_ptr(const eng_net *net, size_t off)
{
    return off == SIZE_MAX ? NULL : net->grads + off;
}

/* Node i and the activation after it form a fusable pair (a batch norm or an add whose only
 * consumer is a ReLU, or a batch norm whose only consumer is a ReLU6, both up to the output). */
static bool relu_pair(const eng_net *net, int i)
{
    const eng_node *nd = &net->nodes[i];
    if ((nd->op != ENG_OP_BATCHNORM && nd->op != ENG_OP_ADD) || nd->consumers != 1 ||
        i + 1 > net_output(net))
        return false;
    const eng_node *next = &net->nodes[i + 1];
    if (next->inputs[0] != i)
        return false;
    return next->op == ENG_OP_RELU || (next->op == ENG_OP_RELU6 && nd->op == ENG_OP_BATCHNORM);
}

/* Node i (a fused pair's first node) is followed by a ReLU6. */
static bool pair_relu6(const eng_net *net, int i)
{
    return net->nodes[i + 1].op == ENG_OP_RELU6;
}

/* Node i is a convolution (regular or depthwise, float or quantized) whose only consumer is
 * the batch norm right after it: in evaluation that batch norm, and the ReLU/ReLU6 of its
 * pair, run as the convolution's epilogue (conv_epilogue), which writes the last node's
 * output; the batch norm node then does nothing. Folded batch norms are not (they are
 * identities). */
static bool bn_epilogue(const eng_net *net, int i)
{
    const eng_node *nd = &net->nodes[i];
    if ((nd->op != ENG_OP_CONV2D && nd->op != ENG_OP_DEPTHWISE) || nd->consumers != 1 ||
        i + 1 > net_output(net))
        return false;
    const eng_node *bn = &net->nodes[i + 1];
    return bn->op == ENG_OP_BATCHNORM && bn->inputs[0] == i && !bn->folded;
}

/* Bias used by a conv/depthwise/dense forward: its own, the fold bias, or none. */
static const float *node_bias(const eng_net *net, const eng_node *nd)
{
    if (nd->bias) return param_ptr(net, nd->off_bias);
    if (nd->fold_bias) return param_ptr(net, nd->off_aux);
    return NULL;
}

eng_status net_conv_shape(const eng_net *net, const eng_node *nd, int n, eng_conv_shape *s)
{
    const eng_node *src = &net->nodes[nd->inputs[0]];
    return eng_conv_shape_init(s, n, src->c, src->h, src->w, nd->kernel, nd->kernel,
                               nd->stride, nd->pad, nd->dilation);
}

size_t net_workspace_size(const eng_net *net, int n)
{
    size_t best = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        const eng_node *nd = &net->nodes[i];
        const eng_approx *q = nd->quantized ? nd->q : NULL;
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

eng_status net_workspace_ensure(eng_net *net, int n)
{
    size_t need = net_workspace_size(net, n);
    if (net->ws && need <= net->ws_size) return ENG_OK;
    void *ws = eng_alloc(need);
    if (!ws) return eng_error(ENG_ERR_NOMEM, "network: no memory for a %zu-byte workspace", need);
    eng_free(net->ws);
    net->ws = ws;
    net->ws_size = need;
    return ENG_OK;
}

static void node_pointers(eng_net *net)
{
    size_t batch = (size_t)net->batch;
    for (int i = 0; i < net->n_nodes; i++) {
        eng_node *nd = &net->nodes[i];
        nd->act = net->acts + nd->act_off * batch;
        nd->grad = net->act_grads ? net->act_grads + nd->grad_off * batch : NULL;
    }
}

/* Places buffers with lifetimes [birth[i], death[i]] (inclusive steps) in one arena so that
 * buffers alive at the same step never overlap: in order of birth, each takes the lowest
 * offset that fits between the buffers already placed whose lifetimes intersect its own.
 * Offsets and sizes are in floats per image; returns the arena size. */
static size_t plan_buffers(int count, const int *order, const int *birth, const int *death,
                           const size_t *size, size_t *offset, int *scratch)
{
    size_t total = 0;
    for (int a = 0; a < count; a++) {
        int i = order[a];
        if (size[i] == 0) {
            offset[i] = 0;
            continue;
        }
        /* the placed buffers that live at the same time, by offset (insertion sort) */
        int n = 0;
        for (int b = 0; b < a; b++) {
            int j = order[b];
            if (size[j] == 0 || birth[j] > death[i] || birth[i] > death[j]) continue;
            int k = n++;
            while (k > 0 && offset[scratch[k - 1]] > offset[j]) {
                scratch[k] = scratch[k - 1];
                k--;
            }
            scratch[k] = j;
        }
        size_t at = 0;
        for (int k = 0; k < n; k++) {
            int j = scratch[k];
            if (offset[j] >= at + size[i]) break;
            if (offset[j] + size[j] > at) at = offset[j] + size[j];
        }
        offset[i] = at;
        if (at + size[i] > total) total = at + size[i];
    }
    return total;
}

/* Lays out activations (reused between nodes when evaluation only: a buffer is free once its
 * last consumer ran; all kept for training) and gradients (reused: a node's gradient lives
 * from its last consumer's backward step to its own). Offsets and totals in floats per image;
 * grad_off may be NULL when not training. */
static eng_status plan_memory(const eng_net *net, bool training, size_t *act_off,
                              size_t *grad_off, size_t *act_total, size_t *grad_total)
{
    int n = net->n_nodes, out = net_output(net);
    int *ints = malloc(sizeof(int) * 5 * (size_t)n);
    size_t *sizes = calloc(2 * (size_t)n, sizeof(size_t));
    if (!ints || !sizes) {
        free(ints);
        free(sizes);
        return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    }
    int *order = ints, *birth = ints + n, *death = ints + 2 * n, *last = ints + 3 * n;
    int *place = ints + 4 * n;
    size_t *size = sizes, *offset = sizes + n;
    /* last consumer (up to the output) of every node */
    for (int i = 0; i < n; i++) last[i] = i;
    for (int i = 1; i <= out; i++)
        for (int k = 0; k < net->nodes[i].n_inputs; k++) {
            int j = net->nodes[i].inputs[k];
            if (last[j] < i) last[j] = i;
        }
    for (int i = 0; i < n; i++) {
        order[i] = i;
        birth[i] = i;
        /* training keeps every activation for the backward pass; the output always lives */
        death[i] = training || i == out ? n : last[i];
        size[i] = i <= out ? node_size(&net->nodes[i]) : 0;
    }
    for (int i = 1; i < out; i++) /* a fused pair writes the ReLU while reading its inputs */
        if (relu_pair(net, i)) {
            birth[i + 1] = i;
            size[i] = 0;
        }
    /* a convolution with its batch norm as epilogue writes the batch norm's (or its pair's)
     * output while reading its input; in evaluation it has no buffer of its own (folding a
     * batch norm plans again: net_replan) */
    for (int i = 1; i < out; i++)
        if (bn_epilogue(net, i)) {
            birth[relu_pair(net, i + 1) ? i + 2 : i + 1] = i;
            if (!training) size[i] = 0;
        }
    *act_total = plan_buffers(n, order, birth, death, size, offset, place);
    memcpy(act_off, offset, (size_t)n * sizeof *act_off);
    *grad_total = 0;
    if (training) {
        /* backward step of node t is out - t; a gradient is born at its last consumer's step
         * (the output's at step 0) and dies after its own node's step; none for the input */
        int m = out + 1;
        for (int i = 0; i <= out; i++) {
            birth[i] = out - last[i];
            death[i] = out - i;
            bool used = i != 0 && (last[i] > i || i == out);
            size[i] = used ? node_size(&net->nodes[i]) : 0;
        }
        for (int i = 1; i < out; i++) /* a fused pair's backward reads the ReLU's gradient */
            if (relu_pair(net, i)) {
                death[i + 1] = out - i;
                size[i] = 0;
            }
        for (int a = 0; a < m; a++) {   /* order by birth, insertion sort */
            int v = a, b = a;
            while (b > 0 && birth[order[b - 1]] > birth[v]) {
                order[b] = order[b - 1];
                b--;
            }
            order[b] = v;
        }
        *grad_total = plan_buffers(m, order, birth, death, size, offset, place);
        for (int i = 0; i < n; i++) grad_off[i] = i <= out ? offset[i] : 0;
    }
    free(ints);
    free(sizes);
    return ENG_OK;
}

eng_status eng_net_memory(eng_net *net, bool training, size_t *bytes_per_image)
{
    ENG_TRY(net_params_alloc(net));
    size_t *off = malloc(2 * sizeof(size_t) * (size_t)net->n_nodes);
    if (!off) return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    size_t act = 0, grad = 0;
    eng_status st = plan_memory(net, training, off, off + net->n_nodes, &act, &grad);
    free(off);
    if (st == ENG_OK) *bytes_per_image = (act + grad) * sizeof(float);
    return st;
}

eng_status eng_net_reserve(eng_net *net, int batch, bool training)
{
    if (batch < 1) return eng_error(ENG_ERR_ARG, "network: batch size %d", batch);
    ENG_TRY(net_params_alloc(net));
    if (training && !net->grads) {
        net->grads = eng_calloc(net->n_param_floats ? net->n_param_floats : 1, sizeof(float));
        if (!net->grads) return eng_error(ENG_ERR_NOMEM, "network: no memory for gradients");
    }
    if (batch > net->batch || (training && !net->train_buffers)) {
        int cap = batch > net->batch ? batch : net->batch;
        bool grads = training || net->train_buffers;
        size_t act_total = 0, grad_total = 0, max_node = 0;
        for (int i = 0; i < net->n_nodes; i++)
            if (node_size(&net->nodes[i]) > max_node) max_node = node_size(&net->nodes[i]);
        size_t *off = malloc(2 * sizeof(size_t) * (size_t)net->n_nodes);
        eng_status st = off ? plan_memory(net, grads, off, off + net->n_nodes, &act_total,
                                          &grad_total)
                            : eng_error(ENG_ERR_NOMEM, "network: out of memory");
        float *acts = NULL, *act_grads = NULL, *scratch = NULL, *dlogits = NULL;
        bool *grad_set = NULL;
        if (st == ENG_OK) {
            acts = eng_alloc(act_total * (size_t)cap * sizeof(float));
            act_grads = grads ? eng_alloc(grad_total * (size_t)cap * sizeof(float)) : NULL;
            scratch = eng_alloc(max_node * (size_t)cap * sizeof(float));
            dlogits = eng_alloc((size_t)net->classes * (size_t)cap * sizeof(float));
            grad_set = calloc((size_t)net->n_nodes, sizeof *grad_set);
            if (!acts || (grads && !act_grads) || !scratch || !dlogits || !grad_set)
                st = eng_error(ENG_ERR_NOMEM, "network: no memory for activations of batch %d "
                               "(%zu floats per image)", cap, act_total + grad_total);
        }
        if (st != ENG_OK) {
            free(off);
            eng_free(acts);
            eng_free(act_grads);
            eng_free(scratch);
            eng_free(dlogits);
            free(grad_set);
            return st;
        }
        eng_free(net->acts);
        eng_free(net->act_grads);
        eng_free(net->scratch);
        eng_free(net->dlogits);
        free(net->grad_set);
        net->acts = acts;
        net->act_grads = act_grads;
        net->scratch = scratch;
        net->dlogits = dlogits;
        net->grad_set = grad_set;
        net->batch = cap;
        net->train_buffers = grads;
        net->last_n = 0;
        net->have_loss_grad = false;
        for (int i = 0; i < net->n_nodes; i++) {
            net->nodes[i].act_off = off[i];
            net->nodes[i].grad_off = grads ? off[net->n_nodes + i] : 0;
        }
        free(off);
        node_pointers(net);
    }
    return net_workspace_ensure(net, batch);
}

/* ------------------------------------------------------------------------------------------
 * Forward
 * ---------------------------------------------------------------------------------------- */

/* Forward of convolution node id with the batch norm after it (and its pair's activation)
 * as epilogue (bn_epilogue): writes the output of the pair, or of the batch norm. */
static eng_status conv_epilogue(eng_net *net, int id, const eng_conv_shape *s)
{
    eng_node *nd = &net->nodes[id];
    const eng_node *bn = &net->nodes[id + 1];
    const bool pair = relu_pair(net, id + 1);
    float *y = net->nodes[id + (pair ? 2 : 1)].act;
    float *aff = malloc(2 * sizeof(float) * (size_t)nd->c);
    if (!aff) return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    eng_batchnorm_eval_affine(nd->c, param_ptr(net, bn->off_weight), param_ptr(net, bn->off_bias),
                              param_ptr(net, bn->off_mean), param_ptr(net, bn->off_var), bn->eps,
                              aff, aff + nd->c);
    const eng_epilogue ep = {
        .scale = aff,
        .shift = aff + nd->c,
        .act = !pair                       ? ENG_EPILOGUE_NONE
               : pair_relu6(net, id + 1)   ? ENG_EPILOGUE_RELU6
                                           : ENG_EPILOGUE_RELU,
    };
    const float *x = net->nodes[nd->inputs[0]].act;
    eng_approx *q = nd->quantized ? nd->q : NULL;
    eng_status st =
        nd->op == ENG_OP_DEPTHWISE
            ? eng_depthwise_forward_fused(net->k, s, x, param_ptr(net, nd->off_weight),
                                          node_bias(net, nd), q, false, &ep, y, net->ws)
            : eng_conv2d_forward_fused(net->k, s, nd->c, x, param_ptr(net, nd->off_weight),
                                       node_bias(net, nd), q, false, &ep, y, net->ws);
    free(aff);
    return st;
}

static eng_status node_forward(eng_net *net, eng_node *nd, int n, bool training)
{
    const eng_kernels *k = net->k;
    const eng_node *src = &net->nodes[nd->inputs[0]];
    const int id = (int)(nd - net->nodes);
    const bool fused = relu_pair(net, id);
    const float *x = src->act;
    float *y = fused ? net->nodes[id + 1].act : nd->act;   /* a fused pair writes the ReLU */
    size_t count = node_size(nd) * (size_t)n;
    eng_approx *q = nd->quantized ? nd->q : NULL;
    eng_conv_shape s;
    eng_pool_shape ps;

    switch (nd->op) {
    case ENG_OP_CONV2D:
        ENG_TRY(net_conv_shape(net, nd, n, &s));
        if (!training && bn_epilogue(net, id)) return conv_epilogue(net, id, &s);
        return eng_conv2d_forward(k, &s, nd->c, x, param_ptr(net, nd->off_weight),
                                  node_bias(net, nd), q, training, y, net->ws);
    case ENG_OP_DEPTHWISE:
        ENG_TRY(net_conv_shape(net, nd, n, &s));
        if (!training && bn_epilogue(net, id)) return conv_epilogue(net, id, &s);
        return eng_depthwise_forward(k, &s, x, param_ptr(net, nd->off_weight),
                                     node_bias(net, nd), q, training, y, net->ws);
    case ENG_OP_DENSE:
        return eng_dense_forward(k, src->c, nd->c, n, x, param_ptr(net, nd->off_weight),
                                 node_bias(net, nd), q, training, y, net->ws);
    case ENG_OP_BATCHNORM: {
        size_t m = (size_t)n * nd->h * nd->w;
        float *aux = param_ptr(net, nd->off_aux);
        const float *gamma = param_ptr(net, nd->off_weight), *beta = param_ptr(net, nd->off_bias);
        float *mean = param_ptr(net, nd->off_mean), *var = param_ptr(net, nd->off_var);
        const bool six = fused && pair_relu6(net, id);
        if (!training && bn_epilogue(net, id - 1))  /* ran as the convolution's epilogue */
            return ENG_OK;
        if (nd->folded && fused)  /* a folded batch norm is the identity */
            (six ? eng_relu6_forward : eng_relu_forward)(count, x, y);
        else if (nd->folded)
            memcpy(y, x, count * sizeof *y);
        else if (training)
            (six     ? eng_batchnorm_relu6_forward_train
             : fused ? eng_batchnorm_relu_forward_train
                     : eng_batchnorm_forward_train)(nd->c, m, x, gamma, beta, nd->eps,
                                                    nd->momentum, mean, var, y, aux, aux + nd->c);
        else
            (six     ? eng_batchnorm_relu6_forward_eval
             : fused ? eng_batchnorm_relu_forward_eval
                     : eng_batchnorm_forward_eval)(nd->c, m, x, gamma, beta, mean, var, nd->eps,
                                                   y);
        return ENG_OK;
    }
    case ENG_OP_RELU:
        if (!relu_pair(net, id - 1)) eng_relu_forward(count, x, y);
        return ENG_OK;
    case ENG_OP_RELU6:
        if (!relu_pair(net, id - 1)) eng_relu6_forward(count, x, y);
        return ENG_OK;
    case ENG_OP_MAXPOOL:
    case ENG_OP_AVGPOOL:
        ENG_TRY(eng_pool_shape_init(&ps, src->c * n, src->h, src->w, nd->kernel, nd->stride,
                                    nd->pad));
        if (nd->op == ENG_OP_MAXPOOL)
            eng_maxpool_forward(&ps, x, y);
        else
            eng_avgpool_forward(&ps, nd->count_include_pad, x, y);
        return ENG_OK;
    case ENG_OP_GLOBAL_AVGPOOL:
        eng_global_avgpool_forward((size_t)src->c * n, (size_t)src->h * src->w, x, y);
        return ENG_OK;
    case ENG_OP_ADD: {
        ptrdiff_t total = (ptrdiff_t)count;
        const float *x1 = net->nodes[nd->inputs[1]].act;
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
    case ENG_OP_CONCAT: {
        float *dst = y;
        for (int j = 0; j < nd->n_inputs; j++) {
            const eng_node *in = &net->nodes[nd->inputs[j]];
            size_t part = node_size(in) * (size_t)n;
            memcpy(dst, in->act, part * sizeof *dst);
            dst += part;
        }
        return ENG_OK;
    }
    case ENG_OP_FLATTEN:
        eng_flatten_forward(src->c, n, src->h, src->w, x, y);
        return ENG_OK;
    case ENG_OP_CHANNEL_PAD:
        eng_channel_pad_forward(src->c, (size_t)n * src->h * src->w, nd->pad_before,
                                nd->pad_after, x, y);
        return ENG_OK;
    case ENG_OP_INPUT:
    case ENG_OP_COUNT:
        break;
    }
    return eng_error(ENG_ERR_INTERNAL, "network: node %s has no forward", nd->name);
}

eng_status eng_net_forward(eng_net *net, const float *x, int n, bool training)
{
    if (n < 1) return eng_error(ENG_ERR_ARG, "network: forward pass of %d images", n);
    if (training)
        for (int i = 1; i < net->n_nodes; i++)
            if (net->nodes[i].folded)
                return eng_error(ENG_ERR_ARG, "network: batch norm %s is folded; a folded "
                                 "network cannot be trained", net->nodes[i].name);
    if (net->device == ENG_DEVICE_CUDA) return net_device_forward(net, x, n, training);
    ENG_TRY(eng_net_reserve(net, n, training));
    net->last_n = 0;
    net->have_loss_grad = false;
    memcpy(net->nodes[0].act, x, node_size(&net->nodes[0]) * (size_t)n * sizeof(float));
    int out = net_output(net);
    for (int i = 1; i <= out; i++) {
        double t0 = net->timing ? now_ms() : 0.0;
        eng_status st = node_forward(net, &net->nodes[i], n, training);
        if (net->timing) net->timing[i] += now_ms() - t0;
        if (st != ENG_OK) return eng_error_prefix(st, "%s", net->nodes[i].name);
    }
    net->last_n = n;
    net->last_training = training;
    return ENG_OK;
}

const float *eng_net_output(const eng_net *net)
{
    if (net->device == ENG_DEVICE_CUDA) return net_device_activation(net, net_output(net));
    return net->last_n ? net->nodes[net_output(net)].act : NULL;
}

const float *eng_net_activation(const eng_net *net, int node)
{
    if (net->device == ENG_DEVICE_CUDA) return net_device_activation(net, node);
    if (!net->last_n || node < 0 || node > net_output(net) || relu_pair(net, node) ||
        (!net->last_training && bn_epilogue(net, node)))
        return NULL;
    return net->nodes[node].act;
}

eng_status eng_net_loss(eng_net *net, const uint8_t *labels, int n, float *loss, int *correct)
{
    if (!net->last_n || n != net->last_n)
        return eng_error(ENG_ERR_ARG, "network: loss of %d labels after a forward pass of %d "
                         "images", n, net->last_n);
    for (int b = 0; b < n; b++)
        if (labels[b] >= net->classes)
            return eng_error(ENG_ERR_ARG, "network: label %d of image %d is not below %d "
                             "classes", labels[b], b, net->classes);
    if (net->device == ENG_DEVICE_CUDA) return net_device_loss(net, labels, n, loss, correct);
    *loss = eng_softmax_xent(net->classes, n, eng_net_output(net), labels, correct,
                             net->last_training ? net->dlogits : NULL);
    net->have_loss_grad = net->last_training;
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Backward
 * ---------------------------------------------------------------------------------------- */

/* Where the gradient for input j of a node goes: its own buffer on first contribution, the
 * scratch buffer otherwise (added by grad_commit). The input node has no gradient: scratch. */
static float *grad_target(eng_net *net, int j)
{
    if (j == ENG_NET_INPUT || net->grad_set[j]) return net->scratch;
    return net->nodes[j].grad;
}

static void grad_commit(eng_net *net, int j, size_t count)
{
    if (j == ENG_NET_INPUT) return;
    if (net->grad_set[j]) {
        float *g = net->nodes[j].grad;
        const float *s = net->scratch;
        ptrdiff_t total = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (total > 32768)
        for (ptrdiff_t i = 0; i < total; i++) g[i] += s[i];
    }
    net->grad_set[j] = true;
}

/* Adds src into input j's gradient (copy on first contribution). */
static void grad_accumulate(eng_net *net, int j, const float *src, size_t count)
{
    if (j == ENG_NET_INPUT) return;
    float *g = net->nodes[j].grad;
    if (!net->grad_set[j]) {
        memcpy(g, src, count * sizeof *g);
        net->grad_set[j] = true;
        return;
    }
    ptrdiff_t total = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (total > 32768)
    for (ptrdiff_t i = 0; i < total; i++) g[i] += src[i];
}

static eng_status node_backward(eng_net *net, eng_node *nd, int n)
{
    const eng_kernels *k = net->k;
    int j = nd->inputs[0];
    const int id = (int)(nd - net->nodes);
    const bool fused = relu_pair(net, id);
    const eng_node *src = &net->nodes[j];
    const float *x = src->act;
    const float *dy = fused ? net->nodes[id + 1].grad : nd->grad;
    size_t in_count = node_size(src) * (size_t)n;
    eng_approx *q = nd->quantized ? nd->q : NULL;
    eng_conv_shape s;
    eng_pool_shape ps;
    float *dx = grad_target(net, j);

    switch (nd->op) {
    case ENG_OP_CONV2D:
        ENG_TRY(net_conv_shape(net, nd, n, &s));
        ENG_TRY(eng_conv2d_backward(k, &s, nd->c, x, param_ptr(net, nd->off_weight), q, dy,
                                    j == ENG_NET_INPUT ? NULL : dx,
                                    grad_ptr(net, nd->off_weight),
                                    grad_ptr(net, nd->off_bias), net->ws));
        break;
    case ENG_OP_DEPTHWISE:
        ENG_TRY(net_conv_shape(net, nd, n, &s));
        ENG_TRY(eng_depthwise_backward(k, &s, x, param_ptr(net, nd->off_weight), q, dy,
                                       j == ENG_NET_INPUT ? NULL : dx,
                                       grad_ptr(net, nd->off_weight),
                                       grad_ptr(net, nd->off_bias), net->ws));
        break;
    case ENG_OP_DENSE:
        ENG_TRY(eng_dense_backward(k, src->c, nd->c, n, x, param_ptr(net, nd->off_weight), q,
                                   dy, j == ENG_NET_INPUT ? NULL : dx,
                                   grad_ptr(net, nd->off_weight), grad_ptr(net, nd->off_bias),
                                   net->ws));
        break;
    case ENG_OP_BATCHNORM: {
        const float *aux = param_ptr(net, nd->off_aux);
        const float *gamma = param_ptr(net, nd->off_weight);
        size_t m = (size_t)n * nd->h * nd->w;
        float *dgamma = grad_ptr(net, nd->off_weight), *dbeta = grad_ptr(net, nd->off_bias);
        if (fused)
            (pair_relu6(net, id) ? eng_batchnorm_relu6_backward : eng_batchnorm_relu_backward)(
                nd->c, m, x, gamma, param_ptr(net, nd->off_bias), aux, aux + nd->c, dy, dx,
                dgamma, dbeta);
        else
            eng_batchnorm_backward(nd->c, m, x, gamma, aux, aux + nd->c, dy, dx, dgamma, dbeta);
        break;
    }
    case ENG_OP_RELU:
        if (relu_pair(net, id - 1)) { /* the pair's backward reads this node's gradient */
            net->grad_set[id - 1] = true;
            return ENG_OK;
        }
        eng_relu_backward(in_count, nd->act, dy, dx);
        break;
    case ENG_OP_RELU6:
        if (relu_pair(net, id - 1)) { /* the pair's backward reads this node's gradient */
            net->grad_set[id - 1] = true;
            return ENG_OK;
        }
        eng_relu6_backward(in_count, x, dy, dx);
        break;
    case ENG_OP_MAXPOOL:
    case ENG_OP_AVGPOOL:
        ENG_TRY(eng_pool_shape_init(&ps, src->c * n, src->h, src->w, nd->kernel, nd->stride,
                                    nd->pad));
        if (nd->op == ENG_OP_MAXPOOL)
            eng_maxpool_backward(&ps, x, dy, dx);
        else
            eng_avgpool_backward(&ps, nd->count_include_pad, dy, dx);
        break;
    case ENG_OP_GLOBAL_AVGPOOL:
        eng_global_avgpool_backward((size_t)src->c * n, (size_t)src->h * src->w, dy, dx);
        break;
    case ENG_OP_ADD:
        if (fused) { /* the ReLU's backward into the first input, then added to the others */
            eng_relu_backward(in_count, net->nodes[id + 1].act, dy, dx);
            grad_commit(net, j, in_count);
            for (int i = 1; i < nd->n_inputs; i++) grad_accumulate(net, nd->inputs[i], dx, in_count);
            return ENG_OK;
        }
        for (int i = 0; i < nd->n_inputs; i++)
            grad_accumulate(net, nd->inputs[i], dy, in_count);
        return ENG_OK;
    case ENG_OP_CONCAT: {
        const float *part = dy;
        for (int i = 0; i < nd->n_inputs; i++) {
            const eng_node *in = &net->nodes[nd->inputs[i]];
            size_t cnt = node_size(in) * (size_t)n;
            grad_accumulate(net, nd->inputs[i], part, cnt);
            part += cnt;
        }
        return ENG_OK;
    }
    case ENG_OP_FLATTEN:
        eng_flatten_backward(src->c, n, src->h, src->w, dy, dx);
        break;
    case ENG_OP_CHANNEL_PAD:
        eng_channel_pad_backward(src->c, (size_t)n * src->h * src->w, nd->pad_before, dy, dx);
        break;
    case ENG_OP_INPUT:
    case ENG_OP_COUNT:
        return eng_error(ENG_ERR_INTERNAL, "network: node %s has no backward", nd->name);
    }
    grad_commit(net, j, in_count);
    return ENG_OK;
}

/* Zeroes the parameter gradients of a node the loss does not depend on. */
static void node_zero_param_grads(eng_net *net, const eng_node *nd)
{
    if (nd->off_weight != SIZE_MAX) memset(net->grads + nd->off_weight, 0, nd->n_weight * 4);
    if (nd->off_bias != SIZE_MAX) memset(net->grads + nd->off_bias, 0, nd->n_bias * 4);
}

eng_status eng_net_backward_from(eng_net *net, const float *dy)
{
    if (!net->last_n || !net->last_training)
        return eng_error(ENG_ERR_ARG, "network: backward pass without a training forward pass");
    if (net->device == ENG_DEVICE_CUDA) return net_device_backward(net, dy);
    int n = net->last_n, out = net_output(net);
    memset(net->grad_set, 0, (size_t)net->n_nodes * sizeof *net->grad_set);
    eng_node *o = &net->nodes[out];
    if (o->grad != dy) memcpy(o->grad, dy, node_size(o) * (size_t)n * sizeof(float));
    net->grad_set[out] = true;
    for (int i = net->n_nodes - 1; i >= 1; i--) {
        eng_node *nd = &net->nodes[i];
        if (i > out || !net->grad_set[i]) {
            node_zero_param_grads(net, nd);
            continue;
        }
        double t0 = net->timing ? now_ms() : 0.0;
        eng_status st = node_backward(net, nd, n);
        if (net->timing) net->timing[net->n_nodes + i] += now_ms() - t0;
        if (st != ENG_OK) return eng_error_prefix(st, "%s backward", nd->name);
    }
    return ENG_OK;
}

eng_status eng_net_backward(eng_net *net)
{
    if (!net->have_loss_grad)
        return eng_error(ENG_ERR_ARG, "network: backward pass needs a training forward pass "
                         "followed by eng_net_loss");
    if (net->device == ENG_DEVICE_CUDA) return net_device_backward(net, NULL);
    return eng_net_backward_from(net, net->dlogits);
}

void eng_net_set_kernels(eng_net *net, const eng_kernels *k)
{
    net->k = k ? k : eng_kernels_get();
}

void eng_net_set_timing(eng_net *net, double *ms)
{
    net->timing = ms;
}
