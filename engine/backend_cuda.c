/*
 * backend_cuda.c - the CUDA backend of the network executor (backend.h, eng_device.h): the
 * device mirror of a network and its nodes run through engine/cuda/net_ops.h and eng_cuda.h
 * (the quantized layers in backend_cuda_quant.c). No fusions.
 *
 * The device mirror keeps the host's parameter layout (one arena with the host's offsets, so
 * a sync is one copy) and gives every node its own activation and gradient buffer (device
 * memory is plentiful; the executor's sharing plan is not followed). Plain C: in builds
 * without CUDA the calls reach engine/cuda_none.c and attach answers ENG_ERR_UNSUPPORTED.
 */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "backend_cuda_quant.h"
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
 * Memory
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

static void dev_free(net_dev *d)
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

static void cuda_release(eng_net *net)
{
    dev_free(net->dev);
    net->dev = NULL;
}

static eng_status cuda_supports_op(const eng_net *net, const eng_node *nd);

/* The device mirror of the host parameters (and gradients, if any). */
static eng_status cuda_attach(eng_net *net)
{
    for (int i = 1; i < net->n_nodes; i++) ENG_TRY(cuda_supports_op(net, &net->nodes[i]));
    net_dev *d = calloc(1, sizeof *d);
    if (!d) return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    size_t bytes = net->n_param_floats * sizeof(float);
    eng_status st;
    if ((st = eng_cuda_kernels_get(&d->dk)) != ENG_OK) goto fail;
    if ((st = cuda_net_ops_get(&d->ops)) != ENG_OK) goto fail;
    d->n_nodes = net->n_nodes;
    d->act = calloc((size_t)net->n_nodes, sizeof *d->act);
    d->grad = calloc((size_t)net->n_nodes, sizeof *d->grad);
    d->quant = calloc((size_t)net->n_nodes, sizeof *d->quant);
    if (!d->act || !d->grad || !d->quant) {
        st = eng_error(ENG_ERR_NOMEM, "network: out of memory");
        goto fail;
    }
    if ((st = eng_cuda_malloc(bytes, (void **)&d->params)) != ENG_OK) goto fail;
    if ((st = eng_cuda_copy_to_device(d->params, net->params, bytes)) != ENG_OK) goto fail;
    if (net->grads) {
        if ((st = eng_cuda_malloc(bytes, (void **)&d->grads)) != ENG_OK) goto fail;
        if ((st = eng_cuda_copy_to_device(d->grads, net->grads, bytes)) != ENG_OK) goto fail;
    }
    net->dev = d;
    return ENG_OK;
fail:
    dev_free(d);
    return st;
}

static eng_status cuda_sync_host(eng_net *net)
{
    net_dev *d = net->dev;
    size_t bytes = net->n_param_floats * sizeof(float);
    ENG_TRY(eng_cuda_copy_to_host(net->params, d->params, bytes));
    if (net->grads && d->grads) ENG_TRY(eng_cuda_copy_to_host(net->grads, d->grads, bytes));
    return ENG_OK;
}

static eng_status cuda_sync_device(eng_net *net)
{
    return eng_cuda_copy_to_device(net->dev->params, net->params,
                                   net->n_param_floats * sizeof(float));
}

/* Device arenas for p->cap images and gradients when p->grads (every node its own buffers).
 * On error the old buffers stay. */
static eng_status cuda_reserve(eng_net *net, const net_plan *p)
{
    net_dev *d = net->dev;
    size_t pbytes = net->n_param_floats * sizeof(float);
    if (p->grads && !d->grads) {
        ENG_TRY(eng_cuda_malloc(pbytes, (void **)&d->grads));
        ENG_TRY(eng_cuda_memset(d->grads, 0, pbytes));
    }
    if (d->batch == p->cap && d->train == p->grads) return ENG_OK;
    int out = net_output(net);
    size_t cap = (size_t)p->cap, total = 0, max_node = 0;
    for (int i = 0; i <= out; i++) {
        total += node_size(&net->nodes[i]);
        if (node_size(&net->nodes[i]) > max_node) max_node = node_size(&net->nodes[i]);
    }
    net_dev fresh = *d;
    fresh.acts = fresh.act_grads = fresh.scratch = fresh.dlogits = fresh.host_act = NULL;
    fresh.labels = NULL;
    fresh.result = NULL;
    const size_t arena = total * cap * sizeof(float);
    eng_status st;
    if ((st = eng_cuda_malloc(arena, (void **)&fresh.acts)) != ENG_OK) goto fail;
    if (p->grads && (st = eng_cuda_malloc(arena, (void **)&fresh.act_grads)) != ENG_OK) goto fail;
    if ((st = eng_cuda_malloc(max_node * cap * sizeof(float), (void **)&fresh.scratch)) != ENG_OK)
        goto fail;
    if ((st = eng_cuda_malloc((size_t)net->classes * cap * sizeof(float),
                              (void **)&fresh.dlogits)) != ENG_OK)
        goto fail;
    if ((st = eng_cuda_malloc(cap, (void **)&fresh.labels)) != ENG_OK) goto fail;
    if ((st = eng_cuda_malloc(2 * sizeof(double), (void **)&fresh.result)) != ENG_OK) goto fail;
    fresh.host_act = eng_alloc(max_node * cap * sizeof(float));
    if (!fresh.host_act) {
        st = eng_error(ENG_ERR_NOMEM, "network: out of memory");
        goto fail;
    }
    dev_arenas_free(d);
    d->acts = fresh.acts;
    d->act_grads = fresh.act_grads;
    d->scratch = fresh.scratch;
    d->dlogits = fresh.dlogits;
    d->labels = fresh.labels;
    d->result = fresh.result;
    d->host_act = fresh.host_act;
    d->batch = p->cap;
    d->train = p->grads;
    size_t off = 0;   /* nodes after the output never run: they get no buffer */
    for (int i = 0; i < net->n_nodes; i++) {
        d->act[i] = i <= out ? d->acts + off * cap : NULL;
        d->grad[i] = i <= out && d->act_grads ? d->act_grads + off * cap : NULL;
        if (i <= out) off += node_size(&net->nodes[i]);
    }
    return ENG_OK;
fail:
    dev_arenas_free(&fresh);
    return st;
}

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

/* The workspace for the planned capacity (the executor's reserve settled net->batch). */
static eng_status cuda_workspace(eng_net *net, int n)
{
    (void)n;
    net_dev *d = net->dev;
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

static float *cuda_act(const eng_net *net, int node)
{
    return net->dev->act[node];
}

static float *cuda_grad(const eng_net *net, int node)
{
    return net->dev->grad[node];
}

static float *cuda_scratch(const eng_net *net)
{
    return net->dev->scratch;
}

static eng_status cuda_input(eng_net *net, const float *x, int n)
{
    return eng_cuda_copy_to_device(net->dev->act[0], x,
                                   node_size(&net->nodes[0]) * (size_t)n * sizeof(float));
}

static eng_status cuda_seed(eng_net *net, const float *dy)
{
    net_dev *d = net->dev;
    int out = net_output(net);
    size_t bytes = node_size(&net->nodes[out]) * (size_t)net->last_n * sizeof(float);
    if (dy) return eng_cuda_copy_to_device(d->grad[out], dy, bytes);
    return eng_cuda_copy_on_device(d->grad[out], d->dlogits, bytes);
}

/* The activation copied to the host staging buffer, valid until the next call or forward. */
static const float *cuda_download(const eng_net *net, int node)
{
    size_t bytes = node_size(&net->nodes[node]) * (size_t)net->last_n * sizeof(float);
    if (eng_cuda_copy_to_host(net->dev->host_act, net->dev->act[node], bytes) != ENG_OK)
        return NULL;
    return net->dev->host_act;
}

static eng_status cuda_copy(float *dst, const float *src, size_t count)
{
    return eng_cuda_copy_on_device(dst, src, count * sizeof(float));
}

static eng_status cuda_accumulate(float *dst, const float *src, size_t count)
{
    const cuda_net_ops *o;
    ENG_TRY(cuda_net_ops_get(&o));
    return o->add(count, dst, src, dst);
}

static eng_status cuda_zero_param_grads(eng_net *net, const eng_node *nd)
{
    net_dev *d = net->dev;
    if (nd->off_weight != SIZE_MAX)
        ENG_TRY(eng_cuda_memset(dgrad(d, nd->off_weight), 0, nd->n_weight * 4));
    if (nd->off_bias != SIZE_MAX)
        ENG_TRY(eng_cuda_memset(dgrad(d, nd->off_bias), 0, nd->n_bias * 4));
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Forward
 * ---------------------------------------------------------------------------------------- */

/* conv2d, depthwise and dense: float or quantized */
static eng_status mul_forward(node_io *io)
{
    eng_net *net = io->net;
    net_dev *d = net->dev;
    const cuda_net_ops *o = d->ops;
    eng_node *nd = io->nd;
    const eng_node *src = &net->nodes[nd->inputs[0]];
    const float *w = dparam(d, nd->off_weight), *b = dbias(d, nd);
    int n = io->n;
    if (nd->quantized)
        return net_device_quant_forward(net, &d->quant[io->id], nd, n, io->x, w, b, io->training,
                                        io->y, d->ws);
    if (nd->op == ENG_OP_DENSE) {
        ENG_TRY(d->dk->sgemm(false, false, nd->c, n, src->c, 1.0f, w, src->c, io->x, n, 0.0f,
                             io->y, n));
        return b ? o->bias_add(nd->c, (size_t)n, b, io->y) : ENG_OK;
    }
    eng_conv_shape s;
    ENG_TRY(net_conv_shape(net, nd, n, &s));
    if (nd->op == ENG_OP_CONV2D) return o->conv2d_forward(&s, nd->c, io->x, w, b, io->y, d->ws);
    return o->depthwise_forward(&s, io->x, w, b, io->y);
}

static eng_status batchnorm_forward(node_io *io)
{
    net_dev *d = io->net->dev;
    const cuda_net_ops *o = d->ops;
    eng_node *nd = io->nd;
    size_t m = (size_t)io->n * nd->h * nd->w, count = node_size(nd) * (size_t)io->n;
    float *aux = dparam(d, nd->off_aux);
    const float *gamma = dparam(d, nd->off_weight), *beta = dparam(d, nd->off_bias);
    if (nd->folded) return eng_cuda_copy_on_device(io->y, io->x, count * sizeof(float));
    if (io->training)
        return o->batchnorm_forward_train(nd->c, m, io->x, gamma, beta, nd->eps, nd->momentum,
                                          dparam(d, nd->off_mean), dparam(d, nd->off_var),
                                          io->y, aux, aux + nd->c, d->ws);
    return o->batchnorm_forward_eval(nd->c, m, io->x, gamma, beta, dparam(d, nd->off_mean),
                                     dparam(d, nd->off_var), nd->eps, io->y);
}

static eng_status relu_forward(node_io *io)
{
    return io->net->dev->ops->relu_forward(node_size(io->nd) * (size_t)io->n, io->x, io->y);
}

static eng_status relu6_forward(node_io *io)
{
    return io->net->dev->ops->relu6_forward(node_size(io->nd) * (size_t)io->n, io->x, io->y);
}

static eng_status hardswish_forward(node_io *io)
{
    return io->net->dev->ops->hardswish_forward(node_size(io->nd) * (size_t)io->n, io->x, io->y);
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
    return io->net->dev->ops->maxpool_forward(&ps, io->x, io->y);
}

static eng_status avgpool_forward(node_io *io)
{
    eng_pool_shape ps;
    ENG_TRY(pool_shape(io, &ps));
    return io->net->dev->ops->avgpool_forward(&ps, io->nd->count_include_pad, io->x, io->y);
}

static eng_status global_avgpool_forward(node_io *io)
{
    const eng_node *src = &io->net->nodes[io->nd->inputs[0]];
    return io->net->dev->ops->global_avgpool_forward((size_t)src->c * io->n,
                                                     (size_t)src->h * src->w, io->x, io->y);
}

static eng_status add_forward(node_io *io)
{
    net_dev *d = io->net->dev;
    const eng_node *nd = io->nd;
    size_t count = node_size(nd) * (size_t)io->n;
    ENG_TRY(d->ops->add(count, io->x, d->act[nd->inputs[1]], io->y));
    for (int j = 2; j < nd->n_inputs; j++)
        ENG_TRY(d->ops->add(count, io->y, d->act[nd->inputs[j]], io->y));
    return ENG_OK;
}

static eng_status concat_forward(node_io *io)
{
    net_dev *d = io->net->dev;
    float *dst = io->y;
    for (int j = 0; j < io->nd->n_inputs; j++) {
        size_t part = node_size(&io->net->nodes[io->nd->inputs[j]]) * (size_t)io->n;
        ENG_TRY(eng_cuda_copy_on_device(dst, d->act[io->nd->inputs[j]], part * sizeof *dst));
        dst += part;
    }
    return ENG_OK;
}

static eng_status flatten_forward(node_io *io)
{
    const eng_node *src = &io->net->nodes[io->nd->inputs[0]];
    return io->net->dev->ops->flatten_forward(src->c, io->n, src->h, src->w, io->x, io->y);
}

static eng_status channel_pad_forward(node_io *io)
{
    const eng_node *nd = io->nd, *src = &io->net->nodes[nd->inputs[0]];
    float *y = io->y;
    size_t plane = (size_t)io->n * src->h * src->w;
    ENG_TRY(eng_cuda_memset(y, 0, (size_t)nd->pad_before * plane * sizeof *y));
    ENG_TRY(eng_cuda_copy_on_device(y + (size_t)nd->pad_before * plane, io->x,
                                    (size_t)src->c * plane * sizeof *y));
    return eng_cuda_memset(y + (size_t)(nd->pad_before + src->c) * plane, 0,
                           (size_t)nd->pad_after * plane * sizeof *y);
}

/* ------------------------------------------------------------------------------------------
 * Backward
 * ---------------------------------------------------------------------------------------- */

static size_t in_count(const node_io *io)
{
    return node_size(&io->net->nodes[io->nd->inputs[io->k]]) * (size_t)io->n;
}

static eng_status mul_backward(node_io *io)
{
    eng_net *net = io->net;
    net_dev *d = net->dev;
    const cuda_net_ops *o = d->ops;
    eng_node *nd = io->nd;
    const eng_node *src = &net->nodes[nd->inputs[0]];
    const float *w = dparam(d, nd->off_weight), *x = io->x, *dy = io->dy;
    float *dw = dgrad(d, nd->off_weight), *db = dgrad(d, nd->off_bias);
    float *dx = io->dx, *dx_or_null = io->dx_needed ? io->dx : NULL;
    int n = io->n;
    if (nd->quantized)
        return net_device_quant_backward(net, d->quant[io->id], nd, n, x, w, dy, dx_or_null, dw,
                                         db, d->ws);
    if (nd->op == ENG_OP_DENSE) {
        int in = src->c, out = nd->c;
        if (db) ENG_TRY(o->bias_backward(out, (size_t)n, dy, db));
        ENG_TRY(d->dk->sgemm(false, true, out, in, n, 1.0f, dy, n, x, n, 0.0f, dw, in));
        if (dx_or_null)
            ENG_TRY(d->dk->sgemm(true, false, in, n, out, 1.0f, w, in, dy, n, 0.0f, dx, n));
        return ENG_OK;
    }
    eng_conv_shape s;
    ENG_TRY(net_conv_shape(net, nd, n, &s));
    if (nd->op == ENG_OP_CONV2D)
        return o->conv2d_backward(&s, nd->c, x, w, dy, dx_or_null, dw, db, d->ws);
    return o->depthwise_backward(&s, x, w, dy, dx_or_null, dw, db);
}

static eng_status batchnorm_backward(node_io *io)
{
    net_dev *d = io->net->dev;
    eng_node *nd = io->nd;
    const float *aux = dparam(d, nd->off_aux);
    return d->ops->batchnorm_backward(nd->c, (size_t)io->n * nd->h * nd->w, io->x,
                                      dparam(d, nd->off_weight), aux, aux + nd->c, io->dy,
                                      io->dx, dgrad(d, nd->off_weight), dgrad(d, nd->off_bias),
                                      d->ws);
}

static eng_status relu_backward(node_io *io)
{
    return io->net->dev->ops->relu_backward(in_count(io), io->y, io->dy, io->dx);
}

static eng_status relu6_backward(node_io *io)
{
    return io->net->dev->ops->relu6_backward(in_count(io), io->x, io->dy, io->dx);
}

static eng_status hardswish_backward(node_io *io)
{
    return io->net->dev->ops->hardswish_backward(in_count(io), io->x, io->dy, io->dx);
}

static eng_status maxpool_backward(node_io *io)
{
    eng_pool_shape ps;
    ENG_TRY(pool_shape(io, &ps));
    return io->net->dev->ops->maxpool_backward(&ps, io->x, io->dy, io->dx);
}

static eng_status avgpool_backward(node_io *io)
{
    eng_pool_shape ps;
    ENG_TRY(pool_shape(io, &ps));
    return io->net->dev->ops->avgpool_backward(&ps, io->nd->count_include_pad, io->dy, io->dx);
}

static eng_status global_avgpool_backward(node_io *io)
{
    const eng_node *src = &io->net->nodes[io->nd->inputs[0]];
    return io->net->dev->ops->global_avgpool_backward((size_t)src->c * io->n,
                                                      (size_t)src->h * src->w, io->dy, io->dx);
}

static eng_status add_backward(node_io *io)
{
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
    return io->net->dev->ops->flatten_backward(src->c, io->n, src->h, src->w, io->dy, io->dx);
}

static eng_status channel_pad_backward(node_io *io)
{
    const eng_node *nd = io->nd, *src = &io->net->nodes[nd->inputs[0]];
    size_t plane = (size_t)io->n * src->h * src->w;
    return eng_cuda_copy_on_device(io->dx, io->dy + (size_t)nd->pad_before * plane,
                                   in_count(io) * sizeof(float));
}

/* ------------------------------------------------------------------------------------------
 * Loss, SGD, the table
 * ---------------------------------------------------------------------------------------- */

static eng_status cuda_loss(eng_net *net, const uint8_t *labels, int n, float *loss,
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
    return ENG_OK;
}

/* *block: the device velocities, allocated on the first call from the host velocities. */
static eng_status cuda_sgd_step(eng_net *net, const int *index, int count, float lr,
                                float momentum, float weight_decay, bool nesterov,
                                float *velocity, float **block)
{
    net_dev *d = net->dev;
    if (!d->grads) return eng_error(ENG_ERR_ARG, "sgd: the network has no gradients yet");
    if (!*block) {
        size_t total = 0;
        for (int t = 0; t < count; t++) total += net->param_list[index[t]].count;
        float *v;
        ENG_TRY(eng_cuda_malloc((total ? total : 1) * sizeof(float), (void **)&v));
        eng_status st = eng_cuda_copy_to_device(v, velocity, total * sizeof(float));
        if (st != ENG_OK) {
            eng_cuda_free(v);
            return st;
        }
        *block = v;
    }
    size_t off = 0;
    for (int t = 0; t < count; t++) {
        const eng_param *p = &net->param_list[index[t]];
        size_t at = (size_t)(p->data - net->params);
        float wd = p->kind == ENG_PARAM_WEIGHT ? weight_decay : 0.0f;
        ENG_TRY(d->ops->sgd_update(p->count, lr, momentum, wd, nesterov, d->params + at,
                                   *block + off, d->grads + at));
        off += p->count;
    }
    return ENG_OK;
}

static void cuda_free_block(float *block)
{
    eng_cuda_free(block);
}

static eng_status cuda_block_to_host(float *host, const float *block, size_t count)
{
    return eng_cuda_copy_to_host(host, block, count * sizeof(float));
}

static eng_status cuda_block_from_host(float *block, const float *host, size_t count)
{
    return eng_cuda_copy_to_device(block, host, count * sizeof(float));
}

const net_backend net_backend_cuda = {
    .name = "cuda",
    .tag = " (cuda)",
    .device = ENG_DEVICE_CUDA,
    .fuses = false,
    .attach = cuda_attach,
    .release = cuda_release,
    .reserve = cuda_reserve,
    .workspace = cuda_workspace,
    .act = cuda_act,
    .grad = cuda_grad,
    .scratch = cuda_scratch,
    .input = cuda_input,
    .seed = cuda_seed,
    .download = cuda_download,
    .copy = cuda_copy,
    .accumulate = cuda_accumulate,
    .zero_param_grads = cuda_zero_param_grads,
    .sync_host = cuda_sync_host,
    .sync_device = cuda_sync_device,
    .supports_op = cuda_supports_op,
    .forward = {
        [ENG_OP_CONV2D] = mul_forward,
        [ENG_OP_DEPTHWISE] = mul_forward,
        [ENG_OP_DENSE] = mul_forward,
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
        [ENG_OP_CONV2D] = mul_backward,
        [ENG_OP_DEPTHWISE] = mul_backward,
        [ENG_OP_DENSE] = mul_backward,
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
    .loss = cuda_loss,
    .sgd_step = cuda_sgd_step,
    .free_block = cuda_free_block,
    .block_to_host = cuda_block_to_host,
    .block_from_host = cuda_block_from_host,
};

/* Every op kind of the table; quantized layers with the STE only. */
static eng_status cuda_supports_op(const eng_net *net, const eng_node *nd)
{
    (void)net;
    if (nd->quantized && nd->qcfg.table_gradient)
        return eng_error(ENG_ERR_UNSUPPORTED, "network: %s: the table gradient runs on the "
                         "CPU only (use the STE on the device)", nd->name);
    if (!net_backend_cuda.forward[nd->op] || !net_backend_cuda.backward[nd->op])
        return eng_error(ENG_ERR_UNSUPPORTED, "network: %s: no CUDA operation for op %d",
                         nd->name, (int)nd->op);
    return ENG_OK;
}
