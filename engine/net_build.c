/*
 * net_build.c - creating a network, the builder functions, inspection and parameters.
 */
#include "backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_layers.h"
#include "eng_mul.h"

#define NO_OFF SIZE_MAX

static const char *const op_names[] = {
    [ENG_OP_INPUT] = "input",
    [ENG_OP_CONV2D] = "conv2d",
    [ENG_OP_DEPTHWISE] = "depthwise",
    [ENG_OP_DENSE] = "dense",
    [ENG_OP_BATCHNORM] = "batchnorm",
    [ENG_OP_RELU] = "relu",
    [ENG_OP_RELU6] = "relu6",
    [ENG_OP_MAXPOOL] = "maxpool",
    [ENG_OP_AVGPOOL] = "avgpool",
    [ENG_OP_GLOBAL_AVGPOOL] = "global_avgpool",
    [ENG_OP_ADD] = "add",
    [ENG_OP_CONCAT] = "concat",
    [ENG_OP_FLATTEN] = "flatten",
    [ENG_OP_CHANNEL_PAD] = "channel_pad",
    [ENG_OP_HARDSWISH] = "hardswish",
};
_Static_assert(sizeof(op_names) / sizeof(op_names[0]) == ENG_OP_COUNT,
               "op_names out of sync with eng_op");

static const char *const kind_names[] = {
    [ENG_PARAM_WEIGHT] = "weight",
    [ENG_PARAM_BIAS] = "bias",
    [ENG_PARAM_BN_GAMMA] = "gamma",
    [ENG_PARAM_BN_BETA] = "beta",
    [ENG_PARAM_BN_MEAN] = "running_mean",
    [ENG_PARAM_BN_VAR] = "running_var",
};
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == ENG_PARAM_KIND_COUNT,
               "kind_names out of sync with eng_param_kind");

const char *eng_op_name(eng_op op)
{
    return (unsigned)op < ENG_OP_COUNT ? op_names[op] : "unknown";
}

bool eng_op_multiplies(eng_op op)
{
    return op == ENG_OP_CONV2D || op == ENG_OP_DEPTHWISE || op == ENG_OP_DENSE;
}

const char *eng_param_kind_name(eng_param_kind kind)
{
    return (unsigned)kind < ENG_PARAM_KIND_COUNT ? kind_names[kind] : "unknown";
}

eng_status eng_net_create(int channels, int height, int width, int classes, eng_net **out)
{
    *out = NULL;
    if (channels < 1 || height < 1 || width < 1 || classes < 2 ||
        channels > ENG_NET_MAX_CHANNELS || height > ENG_NET_MAX_SIDE ||
        width > ENG_NET_MAX_SIDE || classes > ENG_NET_MAX_CLASSES ||
        (int64_t)channels * height * width > ENG_NET_MAX_VALUES)
        return eng_error(ENG_ERR_ARG, "network: bad input %dx%dx%d or class count %d (limits: "
                         "sides %d, channels %d, %d values, %d classes)", height, width, channels,
                         classes, ENG_NET_MAX_SIDE, ENG_NET_MAX_CHANNELS, ENG_NET_MAX_VALUES,
                         ENG_NET_MAX_CLASSES);
    eng_net *net = calloc(1, sizeof *net);
    if (!net) return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    net->in_c = channels;
    net->in_h = height;
    net->in_w = width;
    net->classes = classes;
    net->output = -1;
    net->k = eng_kernels_get();
    net->device = ENG_DEVICE_CPU;
    net->be = &net_backend_cpu;
    net->fuse = net_backend_cpu.fuses;
    net->cap_nodes = 16;
    net->nodes = calloc((size_t)net->cap_nodes, sizeof *net->nodes);
    if (!net->nodes) {
        free(net);
        return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    }
    eng_node *in = &net->nodes[0];
    in->op = ENG_OP_INPUT;
    snprintf(in->name, sizeof in->name, "input");
    in->c = channels;
    in->h = height;
    in->w = width;
    in->off_weight = in->off_bias = in->off_mean = in->off_var = in->off_aux = NO_OFF;
    net->n_nodes = 1;
    *out = net;
    return ENG_OK;
}

void eng_net_free(eng_net *net)
{
    if (!net) return;
    for (int i = 0; i < net->n_nodes; i++) {
        free(net->nodes[i].inputs);
        eng_approx_free(net->nodes[i].q);
    }
    net->be->release(net);
    free(net->nodes);
    free(net->grad_set);
    eng_free(net->params);
    eng_free(net->grads);
    free(net->param_list);
    free(net);
}


/* ------------------------------------------------------------------------------------------
 * Adding nodes
 * ---------------------------------------------------------------------------------------- */

static int fail(eng_status st)
{
    return -(int)st;
}

static eng_status check_open(const eng_net *net)
{
    if (net->params_ready)
        return eng_error(ENG_ERR_ARG, "network: nodes cannot be added after the network was "
                         "first used");
    return ENG_OK;
}

static eng_status check_input(const eng_net *net, int input)
{
    if (input < 0 || input >= net->n_nodes)
        return eng_error(ENG_ERR_ARG, "network: input node %d does not exist", input);
    return ENG_OK;
}

/* Appends a node with the given inputs (copied); returns its index or a negative status. The
 * caller fills in the rest; on error the network is unchanged. */
static int node_append(eng_net *net, eng_op op, const int *inputs, int n_inputs,
                       eng_node **out)
{
    eng_status st = check_open(net);
    if (st != ENG_OK) return fail(st);
    for (int i = 0; i < n_inputs; i++) {
        st = check_input(net, inputs[i]);
        if (st != ENG_OK) return fail(st);
    }
    if (net->n_nodes == net->cap_nodes) {
        int cap = net->cap_nodes * 2;
        eng_node *nodes = realloc(net->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return fail(eng_error(ENG_ERR_NOMEM, "network: out of memory"));
        net->nodes = nodes;
        net->cap_nodes = cap;
    }
    int *ins = malloc((size_t)n_inputs * sizeof *ins);
    if (!ins) return fail(eng_error(ENG_ERR_NOMEM, "network: out of memory"));
    memcpy(ins, inputs, (size_t)n_inputs * sizeof *ins);
    int id = net->n_nodes;
    eng_node *nd = &net->nodes[id];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->inputs = ins;
    nd->n_inputs = n_inputs;
    nd->off_weight = nd->off_bias = nd->off_mean = nd->off_var = nd->off_aux = NO_OFF;
    snprintf(nd->name, sizeof nd->name, "%s%d", eng_op_name(op), id);
    *out = nd;
    return id;
}

/* Finishes an append: counts consumers and commits the node, unless the node has more than
 * ENG_NET_MAX_VALUES values per image (then the append is undone). */
static int node_commit(eng_net *net, eng_node *nd)
{
    if (nd->c < 1 || nd->h < 1 || nd->w < 1 ||
        (int64_t)nd->c * nd->h * nd->w > ENG_NET_MAX_VALUES) {
        eng_status st = eng_error(ENG_ERR_SHAPE, "network: %s would be %dx%dx%d, more than %d "
                                  "values per image", nd->name, nd->c, nd->h, nd->w,
                                  ENG_NET_MAX_VALUES);
        free(nd->inputs);
        memset(nd, 0, sizeof *nd);
        return fail(st);
    }
    for (int i = 0; i < nd->n_inputs; i++) net->nodes[nd->inputs[i]].consumers++;
    return net->n_nodes++;
}

static int conv_like(eng_net *net, eng_op op, int input, int out_channels, int kernel,
                     int stride, int pad, int dilation, bool bias)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    const eng_node *src = &net->nodes[input];
    eng_conv_shape s;
    st = eng_conv_shape_init(&s, 1, src->c, src->h, src->w, kernel, kernel, stride, pad,
                             dilation);
    if (st != ENG_OK) return fail(eng_error_prefix(st, "%s after %s", eng_op_name(op),
                                                   src->name));
    if (op == ENG_OP_CONV2D && out_channels < 1)
        return fail(eng_error(ENG_ERR_ARG, "conv2d: %d output channels", out_channels));
    int in_c = src->c;
    eng_node *nd;
    int id = node_append(net, op, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = op == ENG_OP_CONV2D ? out_channels : in_c;
    nd->h = s.oh;
    nd->w = s.ow;
    nd->kernel = kernel;
    nd->stride = stride;
    nd->pad = pad;
    nd->dilation = dilation;
    nd->bias = bias;
    nd->n_weight = (size_t)nd->c * (size_t)(op == ENG_OP_CONV2D ? in_c : 1) * kernel * kernel;
    nd->n_bias = bias ? (size_t)nd->c : 0;
    return node_commit(net, nd);
}

int eng_net_conv2d(eng_net *net, int input, int out_channels, int kernel, int stride, int pad,
                   int dilation, bool bias)
{
    return conv_like(net, ENG_OP_CONV2D, input, out_channels, kernel, stride, pad, dilation,
                     bias);
}

int eng_net_depthwise(eng_net *net, int input, int kernel, int stride, int pad, int dilation,
                      bool bias)
{
    return conv_like(net, ENG_OP_DEPTHWISE, input, 0, kernel, stride, pad, dilation, bias);
}

int eng_net_dense(eng_net *net, int input, int out_features, bool bias)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    const eng_node *src = &net->nodes[input];
    if (src->h != 1 || src->w != 1)
        return fail(eng_error(ENG_ERR_SHAPE, "dense after %s: input is %dx%dx%d, needs 1x1 "
                              "(flatten or global average pool first)", src->name, src->h,
                              src->w, src->c));
    if (out_features < 1)
        return fail(eng_error(ENG_ERR_ARG, "dense: %d output features", out_features));
    int in_c = src->c;
    eng_node *nd;
    int id = node_append(net, ENG_OP_DENSE, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = out_features;
    nd->h = nd->w = 1;
    nd->bias = bias;
    nd->n_weight = (size_t)out_features * in_c;
    nd->n_bias = bias ? (size_t)out_features : 0;
    return node_commit(net, nd);
}

int eng_net_batchnorm(eng_net *net, int input, float momentum, float eps)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    if (!(momentum >= 0.0f && momentum <= 1.0f) || !(eps > 0.0f))
        return fail(eng_error(ENG_ERR_ARG, "batchnorm: momentum %g must be in [0, 1] and eps "
                              "%g positive", momentum, eps));
    const eng_node *src = &net->nodes[input];
    int c = src->c, h = src->h, w = src->w;
    eng_node *nd;
    int id = node_append(net, ENG_OP_BATCHNORM, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = c;
    nd->h = h;
    nd->w = w;
    nd->momentum = momentum;
    nd->eps = eps;
    nd->n_weight = nd->n_bias = (size_t)c;   /* gamma, beta */
    return node_commit(net, nd);
}

static int same_shape(eng_net *net, eng_op op, int input)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    const eng_node *src = &net->nodes[input];
    int c = src->c, h = src->h, w = src->w;
    eng_node *nd;
    int id = node_append(net, op, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = c;
    nd->h = h;
    nd->w = w;
    return node_commit(net, nd);
}

int eng_net_relu(eng_net *net, int input)
{
    return same_shape(net, ENG_OP_RELU, input);
}

int eng_net_relu6(eng_net *net, int input)
{
    return same_shape(net, ENG_OP_RELU6, input);
}

int eng_net_hardswish(eng_net *net, int input)
{
    return same_shape(net, ENG_OP_HARDSWISH, input);
}

static int pool(eng_net *net, eng_op op, int input, int kernel, int stride, int pad,
                bool include_pad)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    const eng_node *src = &net->nodes[input];
    eng_pool_shape s;
    st = eng_pool_shape_init(&s, src->c, src->h, src->w, kernel, stride, pad);
    if (st != ENG_OK) return fail(eng_error_prefix(st, "%s after %s", eng_op_name(op),
                                                   src->name));
    int c = src->c;
    eng_node *nd;
    int id = node_append(net, op, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = c;
    nd->h = s.oh;
    nd->w = s.ow;
    nd->kernel = kernel;
    nd->stride = stride;
    nd->pad = pad;
    nd->count_include_pad = include_pad;
    return node_commit(net, nd);
}

int eng_net_maxpool(eng_net *net, int input, int kernel, int stride, int pad)
{
    return pool(net, ENG_OP_MAXPOOL, input, kernel, stride, pad, false);
}

int eng_net_avgpool(eng_net *net, int input, int kernel, int stride, int pad,
                    bool count_include_pad)
{
    return pool(net, ENG_OP_AVGPOOL, input, kernel, stride, pad, count_include_pad);
}

int eng_net_global_avgpool(eng_net *net, int input)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    int c = net->nodes[input].c;
    eng_node *nd;
    int id = node_append(net, ENG_OP_GLOBAL_AVGPOOL, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = c;
    nd->h = nd->w = 1;
    return node_commit(net, nd);
}

static int multi_input(eng_net *net, eng_op op, const int *inputs, int count)
{
    if (!inputs || count < 2)
        return fail(eng_error(ENG_ERR_ARG, "%s: needs at least 2 inputs, got %d",
                              eng_op_name(op), count));
    for (int i = 0; i < count; i++) {
        eng_status st = check_input(net, inputs[i]);
        if (st != ENG_OK) return fail(st);
    }
    const eng_node *a = &net->nodes[inputs[0]];
    int64_t c = a->c;
    for (int i = 1; i < count; i++) {
        const eng_node *b = &net->nodes[inputs[i]];
        bool ok = b->h == a->h && b->w == a->w && (op == ENG_OP_CONCAT || b->c == a->c);
        if (!ok)
            return fail(eng_error(ENG_ERR_SHAPE, "%s: %s is %dx%dx%d but %s is %dx%dx%d",
                                  eng_op_name(op), a->name, a->h, a->w, a->c, b->name, b->h,
                                  b->w, b->c));
        if (op == ENG_OP_CONCAT) c += b->c;
    }
    int h = a->h, w = a->w;
    if (c * h * w > ENG_NET_MAX_VALUES)
        return fail(eng_error(ENG_ERR_SHAPE, "%s: %lld channels of %dx%d, more than %d values per "
                              "image", eng_op_name(op), (long long)c, h, w, ENG_NET_MAX_VALUES));
    eng_node *nd;
    int id = node_append(net, op, inputs, count, &nd);
    if (id < 0) return id;
    nd->c = (int)c;
    nd->h = h;
    nd->w = w;
    return node_commit(net, nd);
}

int eng_net_add(eng_net *net, const int *inputs, int count)
{
    return multi_input(net, ENG_OP_ADD, inputs, count);
}

int eng_net_concat(eng_net *net, const int *inputs, int count)
{
    return multi_input(net, ENG_OP_CONCAT, inputs, count);
}

int eng_net_flatten(eng_net *net, int input)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    const eng_node *src = &net->nodes[input];
    int c = (int)node_size(src);            /* at most ENG_NET_MAX_VALUES */
    eng_node *nd;
    int id = node_append(net, ENG_OP_FLATTEN, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = c;
    nd->h = nd->w = 1;
    return node_commit(net, nd);
}

int eng_net_channel_pad(eng_net *net, int input, int before, int after)
{
    eng_status st = check_input(net, input);
    if (st != ENG_OK) return fail(st);
    if (before < 0 || after < 0)
        return fail(eng_error(ENG_ERR_ARG, "channel_pad: negative padding %d, %d", before,
                              after));
    const eng_node *src = &net->nodes[input];
    int64_t c = (int64_t)src->c + before + after;
    int h = src->h, w = src->w;
    if (c * h * w > ENG_NET_MAX_VALUES)
        return fail(eng_error(ENG_ERR_SHAPE, "channel_pad: %lld channels of %dx%d, more than %d "
                              "values per image", (long long)c, h, w, ENG_NET_MAX_VALUES));
    eng_node *nd;
    int id = node_append(net, ENG_OP_CHANNEL_PAD, &input, 1, &nd);
    if (id < 0) return id;
    nd->c = (int)c;
    nd->h = h;
    nd->w = w;
    nd->pad_before = before;
    nd->pad_after = after;
    return node_commit(net, nd);
}

eng_status eng_net_set_name(eng_net *net, int node, const char *name)
{
    if (node < 0 || node >= net->n_nodes)
        return eng_error(ENG_ERR_ARG, "network: node %d does not exist", node);
    if (!name || !*name || strlen(name) >= sizeof net->nodes[0].name)
        return eng_error(ENG_ERR_ARG, "network: node name must have 1 to %zu characters",
                         sizeof net->nodes[0].name - 1);
    snprintf(net->nodes[node].name, sizeof net->nodes[node].name, "%s", name);
    return ENG_OK;
}

static eng_status check_output_shape(const eng_net *net, int node)
{
    const eng_node *nd = &net->nodes[node];
    if (nd->c != net->classes || nd->h != 1 || nd->w != 1)
        return eng_error(ENG_ERR_SHAPE, "network: output %s is %dx%dx%d, expected 1x1x%d "
                         "logits", nd->name, nd->h, nd->w, nd->c, net->classes);
    return ENG_OK;
}

eng_status eng_net_set_output(eng_net *net, int node)
{
    if (node < 1 || node >= net->n_nodes)
        return eng_error(ENG_ERR_ARG, "network: output node %d does not exist", node);
    ENG_TRY(check_output_shape(net, node));
    if (node != net->output) /* the buffer plan depends on the output: plan again */
        net_replan(net);
    net->output = node;
    return ENG_OK;
}

eng_status eng_net_set_arch(eng_net *net, const char *arch)
{
    if (!arch || strlen(arch) >= sizeof net->arch)
        return eng_error(ENG_ERR_ARG, "network: architecture text longer than %zu characters",
                         sizeof net->arch - 1);
    snprintf(net->arch, sizeof net->arch, "%s", arch);
    return ENG_OK;
}

const char *eng_net_arch(const eng_net *net)
{
    return net->arch;
}

/* ------------------------------------------------------------------------------------------
 * Inspection
 * ---------------------------------------------------------------------------------------- */

int eng_net_node_count(const eng_net *net)
{
    return net->n_nodes;
}

int eng_net_output_node(const eng_net *net)
{
    return net_output(net);
}

void eng_net_input_shape(const eng_net *net, int *c, int *h, int *w)
{
    *c = net->in_c;
    *h = net->in_h;
    *w = net->in_w;
}

int eng_net_classes(const eng_net *net)
{
    return net->classes;
}

static size_t node_params(const eng_node *nd)
{
    return nd->op == ENG_OP_INPUT ? 0 : nd->n_weight + nd->n_bias;
}

static uint64_t node_macs(const eng_net *net, const eng_node *nd)
{
    uint64_t out = (uint64_t)nd->c * nd->h * nd->w;
    switch (nd->op) {
    case ENG_OP_CONV2D:
        return out * (uint64_t)net->nodes[nd->inputs[0]].c * nd->kernel * nd->kernel;
    case ENG_OP_DEPTHWISE:
        return out * (uint64_t)nd->kernel * nd->kernel;
    case ENG_OP_DENSE:
        return out * (uint64_t)net->nodes[nd->inputs[0]].c;
    default:
        return 0;
    }
}

eng_status eng_net_layer_info(const eng_net *net, int i, eng_layer_info *info)
{
    if (i < 0 || i >= net->n_nodes)
        return eng_error(ENG_ERR_ARG, "network: node %d does not exist", i);
    const eng_node *nd = &net->nodes[i];
    memset(info, 0, sizeof *info);
    info->op = nd->op;
    info->name = nd->name;
    info->id = i;
    info->n_inputs = nd->n_inputs;
    info->inputs = nd->inputs;
    const eng_node *src = nd->n_inputs ? &net->nodes[nd->inputs[0]] : nd;
    info->in_c = src->c;
    info->in_h = src->h;
    info->in_w = src->w;
    info->out_c = nd->c;
    info->out_h = nd->h;
    info->out_w = nd->w;
    info->kernel = nd->kernel;
    info->stride = nd->stride;
    info->pad = nd->pad;
    info->dilation = nd->dilation;
    info->groups = nd->op == ENG_OP_DEPTHWISE ? src->c : eng_op_multiplies(nd->op) ? 1 : 0;
    info->bias = nd->bias;
    info->params = node_params(nd);
    info->macs = node_macs(net, nd);
    info->quantized = nd->quantized;
    if (nd->quantized) {
        info->weight_bits = nd->qcfg.weight_bits ? nd->qcfg.weight_bits
                          : nd->mul ? nd->mul->w_bits : 8;
        info->mul = nd->mul;
    }
    return ENG_OK;
}

size_t eng_net_param_total(const eng_net *net)
{
    size_t total = 0;
    for (int i = 0; i < net->n_nodes; i++) total += node_params(&net->nodes[i]);
    return total;
}

uint64_t eng_net_mac_total(const eng_net *net)
{
    uint64_t total = 0;
    for (int i = 0; i < net->n_nodes; i++) total += node_macs(net, &net->nodes[i]);
    return total;
}

/* ------------------------------------------------------------------------------------------
 * Parameters
 * ---------------------------------------------------------------------------------------- */

static void param_add(eng_param *list, int *n, int node, eng_param_kind kind, float *data,
                      size_t count, bool trainable)
{
    list[*n] = (eng_param){.node = node, .kind = kind, .count = count, .data = data,
                           .trainable = trainable};
    (*n)++;
}

eng_status net_params_alloc(eng_net *net)
{
    if (net->params_ready) return ENG_OK;
    ENG_TRY(check_output_shape(net, net_output(net)));
    size_t off = 0;
    int tensors = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        eng_node *nd = &net->nodes[i];
        switch (nd->op) {
        case ENG_OP_CONV2D:
        case ENG_OP_DEPTHWISE:
        case ENG_OP_DENSE:
            nd->off_weight = off;
            off += nd->n_weight;
            tensors++;
            if (nd->bias) {
                nd->off_bias = off;
                off += nd->n_bias;
                tensors++;
            }
            break;
        case ENG_OP_BATCHNORM:
            nd->off_weight = off;
            nd->off_bias = off + (size_t)nd->c;
            nd->off_mean = off + 2 * (size_t)nd->c;
            nd->off_var = off + 3 * (size_t)nd->c;
            off += 4 * (size_t)nd->c;
            tensors += 4;
            break;
        default:
            break;
        }
    }
    /* auxiliary floats after all tensors: BN saved statistics, fold biases */
    for (int i = 1; i < net->n_nodes; i++) {
        eng_node *nd = &net->nodes[i];
        if (nd->op == ENG_OP_BATCHNORM) {
            nd->off_aux = off;
            off += 2 * (size_t)nd->c;
        } else if ((nd->op == ENG_OP_CONV2D || nd->op == ENG_OP_DEPTHWISE) && !nd->bias) {
            nd->off_aux = off;
            off += (size_t)nd->c;
        }
    }
    if (off > ENG_NET_MAX_PARAMS)
        return eng_error(ENG_ERR_SHAPE, "network: %zu parameters, more than the limit of %zu",
                         off, ENG_NET_MAX_PARAMS);
    float *params = eng_calloc(off ? off : 1, sizeof *params);
    eng_param *list = calloc((size_t)(tensors ? tensors : 1), sizeof *list);
    if (!params || !list) {
        eng_free(params);
        free(list);
        return eng_error(ENG_ERR_NOMEM, "network: no memory for %zu parameters", off);
    }
    int n = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        const eng_node *nd = &net->nodes[i];
        if (eng_op_multiplies(nd->op)) {
            param_add(list, &n, i, ENG_PARAM_WEIGHT, params + nd->off_weight, nd->n_weight,
                      true);
            if (nd->bias)
                param_add(list, &n, i, ENG_PARAM_BIAS, params + nd->off_bias, nd->n_bias, true);
        } else if (nd->op == ENG_OP_BATCHNORM) {
            size_t c = (size_t)nd->c;
            param_add(list, &n, i, ENG_PARAM_BN_GAMMA, params + nd->off_weight, c, true);
            param_add(list, &n, i, ENG_PARAM_BN_BETA, params + nd->off_bias, c, true);
            param_add(list, &n, i, ENG_PARAM_BN_MEAN, params + nd->off_mean, c, false);
            param_add(list, &n, i, ENG_PARAM_BN_VAR, params + nd->off_var, c, false);
        }
    }
    net->params = params;
    net->param_list = list;
    net->n_param_tensors = n;
    net->n_param_floats = off;
    net->params_ready = true;
    for (int i = 0; i < n; i++)
        if (list[i].kind == ENG_PARAM_BN_GAMMA || list[i].kind == ENG_PARAM_BN_VAR)
            for (size_t j = 0; j < list[i].count; j++) list[i].data[j] = 1.0f;
    return ENG_OK;
}

int eng_net_param_count(eng_net *net)
{
    eng_status st = net_params_alloc(net);
    if (st != ENG_OK) return -(int)st;
    return net->n_param_tensors;
}

eng_status eng_net_param_get(eng_net *net, int i, eng_param *out)
{
    ENG_TRY(net_params_alloc(net));
    if (i < 0 || i >= net->n_param_tensors)
        return eng_error(ENG_ERR_ARG, "network: parameter tensor %d does not exist", i);
    *out = net->param_list[i];
    if (net->grads && out->trainable)
        out->grad = net->grads + (out->data - net->params);
    return ENG_OK;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Standard normal deviate (Box-Muller on two uniforms in (0, 1]). */
static double normal01(uint64_t *s)
{
    double u1 = ((double)(splitmix64(s) >> 11) + 1.0) / 9007199254740992.0;
    double u2 = (double)(splitmix64(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

eng_status eng_net_init_params(eng_net *net, uint64_t seed)
{
    ENG_TRY(net_params_alloc(net));
    for (int t = 0; t < net->n_param_tensors; t++) {
        eng_param *p = &net->param_list[t];
        const eng_node *nd = &net->nodes[p->node];
        float fill = (p->kind == ENG_PARAM_BN_GAMMA || p->kind == ENG_PARAM_BN_VAR) ? 1.0f : 0.0f;
        if (p->kind != ENG_PARAM_WEIGHT) {
            for (size_t j = 0; j < p->count; j++) p->data[j] = fill;
            continue;
        }
        size_t fan_in = p->count / (size_t)nd->c;
        double std = sqrt(2.0 / (double)fan_in);
        uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(p->node + 1));
        for (size_t j = 0; j < p->count; j++) p->data[j] = (float)(std * normal01(&s));
    }
    for (int i = 0; i < net->n_nodes; i++) {
        if (net->nodes[i].folded) net_replan(net);
        net->nodes[i].folded = false;
        net->nodes[i].fold_bias = false;
    }
    return ENG_OK;
}
