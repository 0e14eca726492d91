/*
 * net_device.c - networks on the GPU (eng_device.h): placement, device buffers, and the
 * dispatcher that runs forward, loss, backward and SGD node by node through the CUDA backend.
 *
 * The device mirror keeps the host's parameter layout (one arena with the host's offsets, so
 * a sync is one copy) and gives every node its own activation and gradient buffer (device
 * memory is plentiful, and this keeps the device independent of the host's buffer sharing and
 * fusions). Backward follows net_run.c step for step: a node's first gradient contribution is
 * written in place, later ones through the scratch buffer and added.
 */
#include "net_internal.h"

#include <stdlib.h>
#include <string.h>

#include "cuda/net_ops.h"
#include "eng_cuda.h"
#include "eng_layers.h"

struct net_dev {
    const eng_cuda_kernels *dk;
    const cuda_net_ops *ops;
    float *params;                  /* mirror of net->params (n_param_floats) */
    float *grads;                   /* mirror of net->grads; NULL until training */
    int batch;                      /* capacity of the arenas below, 0 = none */
    bool train;                     /* act_grads allocated */
    float *acts, *act_grads, *scratch, *dlogits;
    float *host_act;                /* host staging for net_device_activation [max node][batch] */
    uint8_t *labels;                /* [batch] */
    double *result;                 /* [2]: loss sum, correct images */
    void *ws;
    size_t ws_size;
    int n_nodes;
    float **act, **grad;            /* per node: device buffers (host array) */
    net_dev_quant **quant;          /* per node: quantized layer state, or NULL */
};

static float *dparam(const net_dev *d, size_t off)
{
    return off == SIZE_MAX ? NULL : d->params + off;
}

static float *dgrad(const net_dev *d, size_t off)
{
    return off == SIZE_MAX ? NULL : d->grads + off;
}

static const float *dbias(const net_dev *d, const eng_node *nd)
{
    if (nd->bias) return dparam(d, nd->off_bias);
    if (nd->fold_bias) return dparam(d, nd->off_aux);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Placement
 * ---------------------------------------------------------------------------------------- */

static void dev_arenas_free(net_dev *d)
{
    eng_cuda_free(d->acts);
    eng_cuda_free(d->act_grads);
    eng_cuda_free(d->scratch);
    eng_cuda_free(d->dlogits);
    eng_cuda_free(d->labels);
    eng_cuda_free(d->result);
    eng_free(d->host_act);
    d->host_act = NULL;
    d->acts = d->act_grads = d->scratch = d->dlogits = NULL;
    d->labels = NULL;
    d->result = NULL;
    d->batch = 0;
    d->train = false;
}

void net_device_release(net_dev *d)
{
    if (!d) return;
    dev_arenas_free(d);
    eng_cuda_free(d->ws);
    eng_cuda_free(d->params);
    eng_cuda_free(d->grads);
    for (int i = 0; d->quant && i < d->n_nodes; i++) net_device_quant_free(d->quant[i]);
    free(d->act);
    free(d->grad);
    free(d->quant);
    free(d);
}

/* ENG_ERR_UNSUPPORTED naming the first node the device cannot run. */
static eng_status dev_check_nodes(const eng_net *net)
{
    for (int i = 1; i < net->n_nodes; i++) {
        const eng_node *nd = &net->nodes[i];
        if (nd->quantized && nd->qcfg.table_gradient)
            return eng_error(ENG_ERR_UNSUPPORTED, "network: %s: the table gradient runs on the "
                             "CPU only (use the STE on the device)", nd->name);
    }
    return ENG_OK;
}

static eng_status dev_create(eng_net *net, net_dev **out)
{
    net_dev *d = calloc(1, sizeof *d);
    if (!d) return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    size_t bytes = net->n_param_floats * sizeof(float);
    eng_status st = eng_cuda_kernels_get(&d->dk);
    if (st == ENG_OK) st = cuda_net_ops_get(&d->ops);
    if (st == ENG_OK) {
        d->n_nodes = net->n_nodes;
        d->act = calloc((size_t)net->n_nodes, sizeof *d->act);
        d->grad = calloc((size_t)net->n_nodes, sizeof *d->grad);
        d->quant = calloc((size_t)net->n_nodes, sizeof *d->quant);
        if (!d->act || !d->grad || !d->quant)
            st = eng_error(ENG_ERR_NOMEM, "network: out of memory");
    }
    if (st == ENG_OK) st = eng_cuda_malloc(bytes, (void **)&d->params);
    if (st == ENG_OK) st = eng_cuda_copy_to_device(d->params, net->params, bytes);
    if (st == ENG_OK && net->grads) {
        st = eng_cuda_malloc(bytes, (void **)&d->grads);
        if (st == ENG_OK) st = eng_cuda_copy_to_device(d->grads, net->grads, bytes);
    }
    if (st != ENG_OK) {
        net_device_release(d);
        return st;
    }
    *out = d;
    return ENG_OK;
}

eng_status eng_net_set_device(eng_net *net, eng_device dev)
{
    if ((int)dev < 0 || dev >= ENG_DEVICE_COUNT)
        return eng_error(ENG_ERR_ARG, "network: unknown device %d", (int)dev);
    if (dev == net->device) return ENG_OK;
    if (dev == ENG_DEVICE_CPU) {
        ENG_TRY(eng_net_sync_host(net));
        net_device_release(net->dev);
        net->dev = NULL;
        net->device = ENG_DEVICE_CPU;
        net->last_n = 0;
        net->have_loss_grad = false;
        return ENG_OK;
    }
    ENG_TRY(net_params_alloc(net));
    ENG_TRY(dev_check_nodes(net));
    net_dev *d = NULL;
    ENG_TRY(dev_create(net, &d));
    net->dev = d;
    net->device = ENG_DEVICE_CUDA;
    net->last_n = 0;
    net->have_loss_grad = false;
    return ENG_OK;
}

eng_device eng_net_device(const eng_net *net)
{
    return net->device;
}

eng_status eng_net_sync_host(eng_net *net)
{
    if (net->device == ENG_DEVICE_CPU) return ENG_OK;
    net_dev *d = net->dev;
    size_t bytes = net->n_param_floats * sizeof(float);
    ENG_TRY(eng_cuda_copy_to_host(net->params, d->params, bytes));
    if (net->grads && d->grads) ENG_TRY(eng_cuda_copy_to_host(net->grads, d->grads, bytes));
    return ENG_OK;
}

eng_status eng_net_sync_device(eng_net *net)
{
    if (net->device == ENG_DEVICE_CPU) return ENG_OK;
    return eng_cuda_copy_to_device(net->dev->params, net->params,
                                   net->n_param_floats * sizeof(float));
}

/* ------------------------------------------------------------------------------------------
 * Device buffers (after eng_net_reserve planned the host's)
 * ---------------------------------------------------------------------------------------- */

static eng_status dev_workspace_size(const eng_net *net, int n, size_t *out)
{
    const net_dev *d = net->dev;
    size_t best = 0;
    for (int i = 1; i <= net_output(net); i++) {
        const eng_node *nd = &net->nodes[i];
        if (nd->op == ENG_OP_BATCHNORM) {
            size_t need = d->ops->batchnorm_workspace(nd->c, (size_t)n * nd->h * nd->w);
            if (need > best) best = need;
        }
        if (!eng_op_multiplies(nd->op)) continue;
        size_t conv = 0;
        if (nd->op == ENG_OP_CONV2D) {
            eng_conv_shape s;
            ENG_TRY(net_conv_shape(net, nd, n, &s));
            conv = d->ops->conv2d_workspace(&s, nd->c);
        }
        size_t need = nd->quantized ? net_device_quant_workspace(net, nd, n, conv) : conv;
        if (need > best) best = need;
    }
    *out = best;
    return ENG_OK;
}

/* Device arenas for net->batch images (the capacity eng_net_reserve settled on), gradients
 * when net->train_buffers, and the workspace. On error the old buffers stay. */
static eng_status dev_reserve(eng_net *net)
{
    net_dev *d = net->dev;
    size_t pbytes = net->n_param_floats * sizeof(float);
    if (net->train_buffers && !d->grads) {
        ENG_TRY(eng_cuda_malloc(pbytes, (void **)&d->grads));
        ENG_TRY(eng_cuda_memset(d->grads, 0, pbytes));
    }
    if (d->batch != net->batch || d->train != net->train_buffers) {
        int out = net_output(net);
        size_t cap = (size_t)net->batch, total = 0, max_node = 0;
        for (int i = 0; i <= out; i++) {
            total += node_size(&net->nodes[i]);
            if (node_size(&net->nodes[i]) > max_node) max_node = node_size(&net->nodes[i]);
        }
        net_dev fresh = *d;
        fresh.acts = fresh.act_grads = fresh.scratch = fresh.dlogits = fresh.host_act = NULL;
        fresh.labels = NULL;
        fresh.result = NULL;
        eng_status st = eng_cuda_malloc(total * cap * sizeof(float), (void **)&fresh.acts);
        if (st == ENG_OK && net->train_buffers)
            st = eng_cuda_malloc(total * cap * sizeof(float), (void **)&fresh.act_grads);
        if (st == ENG_OK)
            st = eng_cuda_malloc(max_node * cap * sizeof(float), (void **)&fresh.scratch);
        if (st == ENG_OK)
            st = eng_cuda_malloc((size_t)net->classes * cap * sizeof(float),
                                 (void **)&fresh.dlogits);
        if (st == ENG_OK) st = eng_cuda_malloc(cap, (void **)&fresh.labels);
        if (st == ENG_OK) st = eng_cuda_malloc(2 * sizeof(double), (void **)&fresh.result);
        if (st == ENG_OK) {
            fresh.host_act = eng_alloc(max_node * cap * sizeof(float));
            if (!fresh.host_act) st = eng_error(ENG_ERR_NOMEM, "network: out of memory");
        }
        if (st != ENG_OK) {
            dev_arenas_free(&fresh);
            return st;
        }
        dev_arenas_free(d);
        d->acts = fresh.acts;
        d->act_grads = fresh.act_grads;
        d->scratch = fresh.scratch;
        d->dlogits = fresh.dlogits;
        d->labels = fresh.labels;
        d->result = fresh.result;
        d->host_act = fresh.host_act;
        d->batch = net->batch;
        d->train = net->train_buffers;
        size_t off = 0;   /* nodes after the output never run: they get no buffer */
        for (int i = 0; i < net->n_nodes; i++) {
            d->act[i] = i <= out ? d->acts + off * cap : NULL;
            d->grad[i] = i <= out && d->act_grads ? d->act_grads + off * cap : NULL;
            if (i <= out) off += node_size(&net->nodes[i]);
        }
    }
    size_t need;
    ENG_TRY(dev_workspace_size(net, net->batch, &need));
    if (need > d->ws_size || !d->ws) {
        void *ws;
        ENG_TRY(eng_cuda_malloc(need ? need : 256, &ws));
        eng_cuda_free(d->ws);
        d->ws = ws;
        d->ws_size = need;
    }
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Forward and loss
 * ---------------------------------------------------------------------------------------- */

static eng_status dev_node_forward(eng_net *net, int i, int n, bool training)
{
    net_dev *d = net->dev;
    const cuda_net_ops *o = d->ops;
    eng_node *nd = &net->nodes[i];
    const eng_node *src = &net->nodes[nd->inputs[0]];
    const float *x = d->act[nd->inputs[0]];
    float *y = d->act[i];
    size_t count = node_size(nd) * (size_t)n;
    eng_conv_shape s;
    eng_pool_shape ps;

    switch (nd->op) {
    case ENG_OP_CONV2D:
    case ENG_OP_DEPTHWISE:
    case ENG_OP_DENSE: {
        const float *w = dparam(d, nd->off_weight), *b = dbias(d, nd);
        if (nd->quantized)
            return net_device_quant_forward(net, &d->quant[i], nd, n, x, w, b, training, y,
                                            d->ws);
        if (nd->op == ENG_OP_DENSE) {
            ENG_TRY(d->dk->sgemm(false, false, nd->c, n, src->c, 1.0f, w, src->c, x, n, 0.0f,
                                 y, n));
            return b ? o->bias_add(nd->c, (size_t)n, b, y) : ENG_OK;
        }
        ENG_TRY(net_conv_shape(net, nd, n, &s));
        if (nd->op == ENG_OP_CONV2D) return o->conv2d_forward(&s, nd->c, x, w, b, y, d->ws);
        return o->depthwise_forward(&s, x, w, b, y);
    }
    case ENG_OP_BATCHNORM: {
        size_t m = (size_t)n * nd->h * nd->w;
        float *aux = dparam(d, nd->off_aux);
        const float *gamma = dparam(d, nd->off_weight), *beta = dparam(d, nd->off_bias);
        if (nd->folded) return eng_cuda_copy_on_device(y, x, count * sizeof *y);
        if (training)
            return o->batchnorm_forward_train(nd->c, m, x, gamma, beta, nd->eps, nd->momentum,
                                              dparam(d, nd->off_mean), dparam(d, nd->off_var),
                                              y, aux, aux + nd->c, d->ws);
        return o->batchnorm_forward_eval(nd->c, m, x, gamma, beta, dparam(d, nd->off_mean),
                                         dparam(d, nd->off_var), nd->eps, y);
    }
    case ENG_OP_RELU:
        return o->relu_forward(count, x, y);
    case ENG_OP_RELU6:
        return o->relu6_forward(count, x, y);
    case ENG_OP_MAXPOOL:
    case ENG_OP_AVGPOOL:
        ENG_TRY(eng_pool_shape_init(&ps, src->c * n, src->h, src->w, nd->kernel, nd->stride,
                                    nd->pad));
        if (nd->op == ENG_OP_MAXPOOL) return o->maxpool_forward(&ps, x, y);
        return o->avgpool_forward(&ps, nd->count_include_pad, x, y);
    case ENG_OP_GLOBAL_AVGPOOL:
        return o->global_avgpool_forward((size_t)src->c * n, (size_t)src->h * src->w, x, y);
    case ENG_OP_ADD:
        ENG_TRY(o->add(count, x, d->act[nd->inputs[1]], y));
        for (int j = 2; j < nd->n_inputs; j++) ENG_TRY(o->add(count, y, d->act[nd->inputs[j]], y));
        return ENG_OK;
    case ENG_OP_CONCAT: {
        float *dst = y;
        for (int j = 0; j < nd->n_inputs; j++) {
            size_t part = node_size(&net->nodes[nd->inputs[j]]) * (size_t)n;
            ENG_TRY(eng_cuda_copy_on_device(dst, d->act[nd->inputs[j]], part * sizeof *dst));
            dst += part;
        }
        return ENG_OK;
    }
    case ENG_OP_FLATTEN:
        return o->flatten_forward(src->c, n, src->h, src->w, x, y);
    case ENG_OP_CHANNEL_PAD: {
        size_t plane = (size_t)n * src->h * src->w;
        ENG_TRY(eng_cuda_memset(y, 0, (size_t)nd->pad_before * plane * sizeof *y));
        ENG_TRY(eng_cuda_copy_on_device(y + (size_t)nd->pad_before * plane, x,
                                        (size_t)src->c * plane * sizeof *y));
        return eng_cuda_memset(y + (size_t)(nd->pad_before + src->c) * plane, 0,
                               (size_t)nd->pad_after * plane * sizeof *y);
    }
    case ENG_OP_INPUT:
    case ENG_OP_COUNT:
        break;
    }
    return eng_error(ENG_ERR_INTERNAL, "network: node %s has no forward", nd->name);
}

eng_status net_device_forward(eng_net *net, const float *x, int n, bool training)
{
    ENG_TRY(dev_check_nodes(net));
    ENG_TRY(eng_net_reserve(net, n, training));
    ENG_TRY(dev_reserve(net));
    net->last_n = 0;
    net->have_loss_grad = false;
    net_dev *d = net->dev;
    ENG_TRY(eng_cuda_copy_to_device(d->act[0], x,
                                    node_size(&net->nodes[0]) * (size_t)n * sizeof(float)));
    int out = net_output(net);
    for (int i = 1; i <= out; i++) {
        eng_status st = dev_node_forward(net, i, n, training);
        if (st != ENG_OK) return eng_error_prefix(st, "%s (cuda)", net->nodes[i].name);
    }
    net->last_n = n;
    net->last_training = training;
    return ENG_OK;
}

const float *net_device_activation(const eng_net *net, int node)
{
    if (!net->last_n || node < 0 || node > net_output(net)) return NULL;
    size_t bytes = node_size(&net->nodes[node]) * (size_t)net->last_n * sizeof(float);
    if (eng_cuda_copy_to_host(net->dev->host_act, net->dev->act[node], bytes) != ENG_OK)
        return NULL;
    return net->dev->host_act;
}

eng_status net_device_loss(eng_net *net, const uint8_t *labels, int n, float *loss,
                           int *correct)
{
    net_dev *d = net->dev;
    double result[2];
    ENG_TRY(eng_cuda_copy_to_device(d->labels, labels, (size_t)n));
    ENG_TRY(d->ops->softmax_xent(net->classes, n, d->act[net_output(net)], d->labels, d->result,
                                 net->last_training ? d->dlogits : NULL));
    ENG_TRY(eng_cuda_copy_to_host(result, d->result, sizeof result));
    *loss = (float)(result[0] / n);
    if (correct) *correct = (int)result[1];
    net->have_loss_grad = net->last_training;
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Backward
 * ---------------------------------------------------------------------------------------- */

static float *dev_grad_target(eng_net *net, int j)
{
    if (j == ENG_NET_INPUT || net->grad_set[j]) return net->dev->scratch;
    return net->dev->grad[j];
}

static eng_status dev_grad_commit(eng_net *net, int j, size_t count)
{
    if (j == ENG_NET_INPUT) return ENG_OK;
    net_dev *d = net->dev;
    if (net->grad_set[j]) ENG_TRY(d->ops->add(count, d->grad[j], d->scratch, d->grad[j]));
    net->grad_set[j] = true;
    return ENG_OK;
}

static eng_status dev_grad_accumulate(eng_net *net, int j, const float *src, size_t count)
{
    if (j == ENG_NET_INPUT) return ENG_OK;
    net_dev *d = net->dev;
    if (!net->grad_set[j]) {
        net->grad_set[j] = true;
        return eng_cuda_copy_on_device(d->grad[j], src, count * sizeof(float));
    }
    return d->ops->add(count, d->grad[j], src, d->grad[j]);
}

static eng_status dev_node_backward(eng_net *net, int i, int n)
{
    net_dev *d = net->dev;
    const cuda_net_ops *o = d->ops;
    eng_node *nd = &net->nodes[i];
    int j = nd->inputs[0];
    const eng_node *src = &net->nodes[j];
    const float *x = d->act[j], *dy = d->grad[i];
    size_t in_count = node_size(src) * (size_t)n;
    float *dx = dev_grad_target(net, j);
    float *dx_or_null = j == ENG_NET_INPUT ? NULL : dx;
    eng_conv_shape s;
    eng_pool_shape ps;

    switch (nd->op) {
    case ENG_OP_CONV2D:
    case ENG_OP_DEPTHWISE:
    case ENG_OP_DENSE: {
        const float *w = dparam(d, nd->off_weight);
        float *dw = dgrad(d, nd->off_weight), *db = dgrad(d, nd->off_bias);
        if (nd->quantized) {
            ENG_TRY(net_device_quant_backward(net, d->quant[i], nd, n, x, w, dy, dx_or_null,
                                              dw, db, d->ws));
        } else if (nd->op == ENG_OP_DENSE) {
            int in = src->c, out = nd->c;
            if (db) ENG_TRY(o->bias_backward(out, (size_t)n, dy, db));
            ENG_TRY(d->dk->sgemm(false, true, out, in, n, 1.0f, dy, n, x, n, 0.0f, dw, in));
            if (dx_or_null)
                ENG_TRY(d->dk->sgemm(true, false, in, n, out, 1.0f, w, in, dy, n, 0.0f, dx, n));
        } else {
            ENG_TRY(net_conv_shape(net, nd, n, &s));
            if (nd->op == ENG_OP_CONV2D)
                ENG_TRY(o->conv2d_backward(&s, nd->c, x, w, dy, dx_or_null, dw, db, d->ws));
            else
                ENG_TRY(o->depthwise_backward(&s, x, w, dy, dx_or_null, dw, db));
        }
        break;
    }
    case ENG_OP_BATCHNORM: {
        const float *aux = dparam(d, nd->off_aux);
        ENG_TRY(o->batchnorm_backward(nd->c, (size_t)n * nd->h * nd->w, x,
                                      dparam(d, nd->off_weight), aux, aux + nd->c, dy, dx,
                                      dgrad(d, nd->off_weight), dgrad(d, nd->off_bias), d->ws));
        break;
    }
    case ENG_OP_RELU:
        ENG_TRY(o->relu_backward(in_count, d->act[i], dy, dx));
        break;
    case ENG_OP_RELU6:
        ENG_TRY(o->relu6_backward(in_count, x, dy, dx));
        break;
    case ENG_OP_MAXPOOL:
    case ENG_OP_AVGPOOL:
        ENG_TRY(eng_pool_shape_init(&ps, src->c * n, src->h, src->w, nd->kernel, nd->stride,
                                    nd->pad));
        if (nd->op == ENG_OP_MAXPOOL)
            ENG_TRY(o->maxpool_backward(&ps, x, dy, dx));
        else
            ENG_TRY(o->avgpool_backward(&ps, nd->count_include_pad, dy, dx));
        break;
    case ENG_OP_GLOBAL_AVGPOOL:
        ENG_TRY(o->global_avgpool_backward((size_t)src->c * n, (size_t)src->h * src->w, dy, dx));
        break;
    case ENG_OP_ADD:
        for (int k = 0; k < nd->n_inputs; k++)
            ENG_TRY(dev_grad_accumulate(net, nd->inputs[k], dy, in_count));
        return ENG_OK;
    case ENG_OP_CONCAT: {
        const float *part = dy;
        for (int k = 0; k < nd->n_inputs; k++) {
            size_t cnt = node_size(&net->nodes[nd->inputs[k]]) * (size_t)n;
            ENG_TRY(dev_grad_accumulate(net, nd->inputs[k], part, cnt));
            part += cnt;
        }
        return ENG_OK;
    }
    case ENG_OP_FLATTEN:
        ENG_TRY(o->flatten_backward(src->c, n, src->h, src->w, dy, dx));
        break;
    case ENG_OP_CHANNEL_PAD: {
        size_t plane = (size_t)n * src->h * src->w;
        ENG_TRY(eng_cuda_copy_on_device(dx, dy + (size_t)nd->pad_before * plane,
                                        in_count * sizeof *dx));
        break;
    }
    case ENG_OP_INPUT:
    case ENG_OP_COUNT:
        return eng_error(ENG_ERR_INTERNAL, "network: node %s has no backward", nd->name);
    }
    return dev_grad_commit(net, j, in_count);
}

eng_status net_device_backward(eng_net *net, const float *dy)
{
    net_dev *d = net->dev;
    int n = net->last_n, out = net_output(net);
    memset(net->grad_set, 0, (size_t)net->n_nodes * sizeof *net->grad_set);
    size_t bytes = node_size(&net->nodes[out]) * (size_t)n * sizeof(float);
    if (dy)
        ENG_TRY(eng_cuda_copy_to_device(d->grad[out], dy, bytes));
    else
        ENG_TRY(eng_cuda_copy_on_device(d->grad[out], d->dlogits, bytes));
    net->grad_set[out] = true;
    for (int i = net->n_nodes - 1; i >= 1; i--) {
        eng_node *nd = &net->nodes[i];
        if (i > out || !net->grad_set[i]) {
            if (nd->off_weight != SIZE_MAX)
                ENG_TRY(eng_cuda_memset(dgrad(d, nd->off_weight), 0, nd->n_weight * 4));
            if (nd->off_bias != SIZE_MAX)
                ENG_TRY(eng_cuda_memset(dgrad(d, nd->off_bias), 0, nd->n_bias * 4));
            continue;
        }
        eng_status st = dev_node_backward(net, i, n);
        if (st != ENG_OK) return eng_error_prefix(st, "%s backward (cuda)", nd->name);
    }
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * SGD
 * ---------------------------------------------------------------------------------------- */

eng_status net_device_sgd_step(eng_net *net, const int *index, int count, float lr,
                               float momentum, float weight_decay, bool nesterov,
                               const float *host_velocity, float **velocity)
{
    net_dev *d = net->dev;
    if (!d->grads) return eng_error(ENG_ERR_ARG, "sgd: the network has no gradients yet");
    if (!*velocity) {
        size_t total = 0;
        for (int t = 0; t < count; t++) total += net->param_list[index[t]].count;
        float *v;
        ENG_TRY(eng_cuda_malloc((total ? total : 1) * sizeof(float), (void **)&v));
        eng_status st = eng_cuda_copy_to_device(v, host_velocity, total * sizeof(float));
        if (st != ENG_OK) {
            eng_cuda_free(v);
            return st;
        }
        *velocity = v;
    }
    size_t off = 0;
    for (int t = 0; t < count; t++) {
        const eng_param *p = &net->param_list[index[t]];
        size_t at = (size_t)(p->data - net->params);
        float wd = p->kind == ENG_PARAM_WEIGHT ? weight_decay : 0.0f;
        ENG_TRY(d->ops->sgd_update(p->count, lr, momentum, wd, nesterov, d->params + at,
                                   *velocity + off, d->grads + at));
        off += p->count;
    }
    return ENG_OK;
}

void net_device_free_block(float *block)
{
    eng_cuda_free(block);
}
