/*
 * net_run.c - the network executor: placement, buffer plan, forward pass, loss and backward
 * pass of a network, every node run by the backend of the network's device (backend.h).
 *
 * Nodes run in id order (a topological order by construction). Every node has an activation
 * buffer and, in training, a gradient buffer, placed in two arenas sized for the reserved batch
 * by a lifetime plan (plan_memory): buffers never alive at the same step share memory.
 * Backward visits nodes in reverse order; a node's gradient is complete when all its consumers
 * (higher ids) have run. The first contribution to a gradient is written in place, later ones
 * go through the scratch buffer and are added.
 *
 * Where the backend runs the fusions (net_internal.h), a fused pair (a batch norm or an add
 * with the ReLU/ReLU6 after it) has no activation or gradient of its own: it writes the
 * activation's buffer, the activation node is skipped, and the pair's backward reads the
 * activation's gradient; in evaluation a batch norm that runs as its convolution's epilogue is
 * skipped, the convolution writing the last node's output. The lifetime plan keeps the buffers
 * the fused nodes read alive.
 */
#include "backend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
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
        if (net_relu_pair(net, i)) {
            birth[i + 1] = i;
            size[i] = 0;
        }
    /* a convolution with its batch norm as epilogue writes the batch norm's (or its pair's)
     * output while reading its input; in evaluation it has no buffer of its own (folding a
     * batch norm plans again: net_replan) */
    for (int i = 1; i < out; i++)
        if (net_bn_epilogue(net, i)) {
            birth[net_relu_pair(net, i + 1) ? i + 2 : i + 1] = i;
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
            if (net_relu_pair(net, i)) {
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

/* Plans the buffers for cap images (gradients when grads) and has the backend reserve them;
 * on error nothing changed. */
static eng_status replan(eng_net *net, int cap, bool grads)
{
    size_t act_total = 0, grad_total = 0, max_node = 0;
    for (int i = 0; i < net->n_nodes; i++)
        if (node_size(&net->nodes[i]) > max_node) max_node = node_size(&net->nodes[i]);
    eng_status st;
    size_t *off = malloc(2 * sizeof(size_t) * (size_t)net->n_nodes);
    bool *grad_set = calloc((size_t)net->n_nodes, sizeof *grad_set);
    if (!off || !grad_set) {
        st = eng_error(ENG_ERR_NOMEM, "network: out of memory");
        goto fail;
    }
    st = plan_memory(net, grads, off, off + net->n_nodes, &act_total, &grad_total);
    if (st != ENG_OK) goto fail;
    const net_plan plan = {cap, grads, off, off + net->n_nodes, act_total, grad_total, max_node};
    if ((st = net->be->reserve(net, &plan)) != ENG_OK) goto fail;
    free(net->grad_set);
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
    return ENG_OK;
fail:
    free(off);
    free(grad_set);
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
    if (batch > net->batch || (training && !net->train_buffers))
        ENG_TRY(replan(net, batch > net->batch ? batch : net->batch,
                       training || net->train_buffers));
    return net->be->workspace(net, batch);
}

/* ------------------------------------------------------------------------------------------
 * Placement
 * ---------------------------------------------------------------------------------------- */

eng_status eng_net_set_device(eng_net *net, eng_device dev)
{
    if ((int)dev < 0 || dev >= ENG_DEVICE_COUNT)
        return eng_error(ENG_ERR_ARG, "network: unknown device %d", (int)dev);
    if (dev == net->device) return ENG_OK;
    const net_backend *to = net_backend_get(dev);
    ENG_TRY(net->be->sync_host(net));
    ENG_TRY(net_params_alloc(net));
    ENG_TRY(to->attach(net));
    net->be->release(net);
    net->be = to;
    net->fuse = to->fuses;
    net->device = dev;
    net_replan(net);
    return ENG_OK;
}

eng_device eng_net_device(const eng_net *net)
{
    return net->device;
}

eng_status eng_net_sync_host(eng_net *net)
{
    return net->be->sync_host(net);
}

eng_status eng_net_sync_device(eng_net *net)
{
    return net->be->sync_device(net);
}

/* ------------------------------------------------------------------------------------------
 * Forward and loss
 * ---------------------------------------------------------------------------------------- */

/* Node i runs inside another (the activation of a fused pair, a batch norm run as its
 * convolution's epilogue in evaluation). */
static bool node_absorbed(const eng_net *net, int i, bool training)
{
    return net_relu_pair(net, i - 1) || (!training && net_bn_epilogue(net, i - 1));
}

eng_status eng_net_forward(eng_net *net, const float *x, int n, bool training)
{
    const net_backend *be = net->be;
    if (n < 1) return eng_error(ENG_ERR_ARG, "network: forward pass of %d images", n);
    if (training)
        for (int i = 1; i < net->n_nodes; i++)
            if (net->nodes[i].folded)
                return eng_error(ENG_ERR_ARG, "network: batch norm %s is folded; a folded "
                                 "network cannot be trained", net->nodes[i].name);
    for (int i = 1; i < net->n_nodes; i++) ENG_TRY(be->supports_op(net, &net->nodes[i]));
    ENG_TRY(eng_net_reserve(net, n, training));
    net->last_n = 0;
    net->have_loss_grad = false;
    ENG_TRY(be->input(net, x, n));
    int out = net_output(net);
    for (int i = 1; i <= out; i++) {
        double t0 = net->timing ? now_ms() : 0.0;
        eng_node *nd = &net->nodes[i];
        node_io io = {.net = net, .nd = nd, .id = i, .n = n, .training = training,
                      .x = be->act(net, nd->inputs[0]),
                      .y = be->act(net, net_relu_pair(net, i) ? i + 1 : i)};
        eng_status st = node_absorbed(net, i, training) ? ENG_OK : be->forward[nd->op](&io);
        if (net->timing) net->timing[i] += now_ms() - t0;
        if (st != ENG_OK) return eng_error_prefix(st, "%s%s", nd->name, be->tag);
    }
    net->last_n = n;
    net->last_training = training;
    return ENG_OK;
}

const float *eng_net_output(const eng_net *net)
{
    return net->last_n ? net->be->download(net, net_output(net)) : NULL;
}

const float *eng_net_activation(const eng_net *net, int node)
{
    if (!net->last_n || node < 0 || node > net_output(net) || net_relu_pair(net, node) ||
        (!net->last_training && net_bn_epilogue(net, node)))
        return NULL;
    return net->be->download(net, node);
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
    ENG_TRY(net->be->loss(net, labels, n, loss, correct));
    net->have_loss_grad = net->last_training;
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Backward
 * ---------------------------------------------------------------------------------------- */

/* Where the gradient for node j goes: its own buffer on first contribution, the scratch
 * buffer otherwise (added by grad_commit). The input node has no gradient: scratch. */
static float *grad_target(eng_net *net, int j)
{
    if (j == ENG_NET_INPUT || net->grad_set[j]) return net->be->scratch(net);
    return net->be->grad(net, j);
}

static eng_status grad_commit(eng_net *net, int j, size_t count)
{
    if (j == ENG_NET_INPUT) return ENG_OK;
    if (net->grad_set[j])
        ENG_TRY(net->be->accumulate(net->be->grad(net, j), net->be->scratch(net), count));
    net->grad_set[j] = true;
    return ENG_OK;
}

/* Adds src into node j's gradient (copy on first contribution). */
static eng_status grad_accumulate(eng_net *net, int j, const float *src, size_t count)
{
    if (j == ENG_NET_INPUT) return ENG_OK;
    if (!net->grad_set[j]) {
        net->grad_set[j] = true;
        return net->be->copy(net->be->grad(net, j), src, count);
    }
    return net->be->accumulate(net->be->grad(net, j), src, count);
}

/* Backward of node id: the gradient of each input in turn. */
static eng_status node_backward(eng_net *net, int id, int n)
{
    const net_backend *be = net->be;
    eng_node *nd = &net->nodes[id];
    const bool fused = net_relu_pair(net, id);
    node_io io = {.net = net, .nd = nd, .id = id, .n = n, .training = true,
                  .y = be->act(net, id), .dy = be->grad(net, fused ? id + 1 : id)};
    for (int k = 0; k < nd->n_inputs; k++) {
        int j = nd->inputs[k];
        size_t count = node_size(&net->nodes[j]) * (size_t)n;
        io.k = k;
        io.x = be->act(net, j);
        io.dx = grad_target(net, j);
        io.dx_needed = j != ENG_NET_INPUT;
        io.dx_from = NULL;
        ENG_TRY(be->backward[nd->op](&io));
        ENG_TRY(io.dx_from ? grad_accumulate(net, j, io.dx_from, count)
                           : grad_commit(net, j, count));
    }
    return ENG_OK;
}

/* The backward pass from the output gradient dy (host), or (NULL) from the loss gradient. */
static eng_status run_backward(eng_net *net, const float *dy)
{
    const net_backend *be = net->be;
    int n = net->last_n, out = net_output(net);
    memset(net->grad_set, 0, (size_t)net->n_nodes * sizeof *net->grad_set);
    ENG_TRY(be->seed(net, dy));
    net->grad_set[out] = true;
    for (int i = net->n_nodes - 1; i >= 1; i--) {
        eng_node *nd = &net->nodes[i];
        if (i > out || !net->grad_set[i]) {
            ENG_TRY(be->zero_param_grads(net, nd));
            continue;
        }
        if (net_relu_pair(net, i - 1)) { /* the pair's backward reads this node's gradient */
            net->grad_set[i - 1] = true;
            continue;
        }
        double t0 = net->timing ? now_ms() : 0.0;
        eng_status st = node_backward(net, i, n);
        if (net->timing) net->timing[net->n_nodes + i] += now_ms() - t0;
        if (st != ENG_OK) return eng_error_prefix(st, "%s backward%s", nd->name, be->tag);
    }
    return ENG_OK;
}

eng_status eng_net_backward_from(eng_net *net, const float *dy)
{
    if (!net->last_n || !net->last_training)
        return eng_error(ENG_ERR_ARG, "network: backward pass without a training forward pass");
    return run_backward(net, dy);
}

eng_status eng_net_backward(eng_net *net)
{
    if (!net->have_loss_grad)
        return eng_error(ENG_ERR_ARG, "network: backward pass needs a training forward pass "
                         "followed by eng_net_loss");
    return run_backward(net, NULL);
}

void eng_net_set_kernels(eng_net *net, const eng_kernels *k)
{
    net->k = k ? k : eng_kernels_get();
}

void eng_net_set_timing(eng_net *net, double *ms)
{
    net->timing = ms;
}
