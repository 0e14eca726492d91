/*
 * net_quant.c - per-layer quantization configs, multipliers, calibration and batch-norm folding.
 */
#include "net_internal.h"

#include <math.h>

#include "eng_mul.h"

static eng_status check_mul_node(const eng_net *net, int node)
{
    if (node < 0 || node >= net->n_nodes || !eng_op_multiplies(net->nodes[node].op))
        return eng_error(ENG_ERR_ARG, "network: node %d is not a conv2d, depthwise or dense "
                         "layer", node);
    return ENG_OK;
}

/* Gives one node the config (NULL = float); on error the node is unchanged. */
static eng_status node_set_quant(eng_node *nd, const eng_approx_cfg *cfg)
{
    if (!cfg) {
        eng_approx_free(nd->q);
        nd->q = NULL;
        nd->quantized = false;
        return ENG_OK;
    }
    eng_approx *q;
    eng_status st = eng_approx_create(cfg, nd->mul, nd->c, &q);
    if (st != ENG_OK) return eng_error_prefix(st, "%s", nd->name);
    eng_approx_free(nd->q);
    nd->q = q;
    nd->qcfg = *cfg;
    nd->quantized = true;
    return ENG_OK;
}

eng_status eng_net_set_quant(eng_net *net, int node, const eng_approx_cfg *cfg)
{
    if (node >= 0) {
        ENG_TRY(check_mul_node(net, node));
        return node_set_quant(&net->nodes[node], cfg);
    }
    /* all layers, in order; stops at the first that rejects cfg */
    for (int i = 1; i < net->n_nodes; i++)
        if (eng_op_multiplies(net->nodes[i].op))
            ENG_TRY(node_set_quant(&net->nodes[i], cfg));
    return ENG_OK;
}

static eng_status node_set_mul(eng_node *nd, const eng_mul *mul)
{
    if (nd->quantized) {
        eng_status st = eng_approx_set_mul(nd->q, mul);
        if (st != ENG_OK) return eng_error_prefix(st, "%s", nd->name);
    }
    nd->mul = mul;
    return ENG_OK;
}

eng_status eng_net_set_multiplier(eng_net *net, int node, const eng_mul *mul)
{
    if (node >= 0) {
        ENG_TRY(check_mul_node(net, node));
        return node_set_mul(&net->nodes[node], mul);
    }
    for (int i = 1; i < net->n_nodes; i++)
        if (eng_op_multiplies(net->nodes[i].op)) ENG_TRY(node_set_mul(&net->nodes[i], mul));
    return ENG_OK;
}

int eng_net_mul_layers(const eng_net *net, int *nodes, int max)
{
    int count = 0;
    for (int i = 1; i < net->n_nodes; i++)
        if (eng_op_multiplies(net->nodes[i].op)) {
            if (count < max) nodes[count] = i;
            count++;
        }
    return count;
}

eng_status eng_net_calibrate_begin(eng_net *net)
{
    for (int i = 1; i < net->n_nodes; i++)
        if (net->nodes[i].quantized) eng_approx_calibrate_begin(net->nodes[i].q);
    return ENG_OK;
}

eng_status eng_net_calibrate_end(eng_net *net)
{
    for (int i = 1; i < net->n_nodes; i++)
        if (net->nodes[i].quantized) eng_approx_calibrate_end(net->nodes[i].q);
    return ENG_OK;
}

eng_status eng_net_fold_batchnorm(eng_net *net, int *folded)
{
    ENG_TRY(net_params_alloc(net));
    int count = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        eng_node *bn = &net->nodes[i];
        if (bn->op != ENG_OP_BATCHNORM || bn->folded) continue;
        eng_node *conv = &net->nodes[bn->inputs[0]];
        if ((conv->op != ENG_OP_CONV2D && conv->op != ENG_OP_DEPTHWISE) || conv->consumers != 1)
            continue;
        if (bn->inputs[0] == net_output(net)) continue;
        const float *gamma = net->params + bn->off_weight, *beta = net->params + bn->off_bias;
        const float *mean = net->params + bn->off_mean, *var = net->params + bn->off_var;
        float *w = net->params + conv->off_weight;
        float *b = net->params + (conv->bias ? conv->off_bias : conv->off_aux);
        size_t per = conv->n_weight / (size_t)conv->c;
        for (int o = 0; o < conv->c; o++) {
            float scale = gamma[o] / sqrtf(var[o] + bn->eps);
            for (size_t j = 0; j < per; j++) w[(size_t)o * per + j] *= scale;
            float b0 = (conv->bias || conv->fold_bias) ? b[o] : 0.0f;
            b[o] = (b0 - mean[o]) * scale + beta[o];
        }
        if (!conv->bias) conv->fold_bias = true;
        bn->folded = true;
        count++;
    }
    if (count) net_replan(net);
    if (folded) *folded = count;
    return ENG_OK;
}

bool eng_net_get_quant(const eng_net *net, int node, eng_approx_cfg *cfg)
{
    if (node < 0 || node >= net->n_nodes || !net->nodes[node].quantized) return false;
    if (cfg) *cfg = net->nodes[node].qcfg;
    return true;
}

bool eng_net_act_range(const eng_net *net, int node, float *lo, float *hi)
{
    if (!eng_net_get_quant(net, node, NULL)) return false;
    return eng_approx_act_range(net->nodes[node].q, lo, hi);
}

eng_status eng_net_set_act_range(eng_net *net, int node, float lo, float hi)
{
    if (!eng_net_get_quant(net, node, NULL))
        return eng_error(ENG_ERR_ARG, "network: node %d is not a quantized layer", node);
    return eng_approx_set_act_range(net->nodes[node].q, lo, hi);
}
