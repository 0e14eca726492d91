/*
 * energy_net.c - the adapter from the engine's networks (eng_net) to energy layers: one layer
 * per operation that costs energy, with each multiplying layer's multiplier and weight width.
 */
#include "energy.h"
#include "eng_mul.h"
#include "eng_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The energy layer of one node into *l; false when the node costs nothing of its own. */
static eng_status node_layer(const eng_layer_info *in, energy_layer *l, bool *costs)
{
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", in->name);
    l->n = 1;
    l->c = in->in_c;
    l->h = in->in_h;
    l->w = in->in_w;
    l->bias = in->bias;
    *costs = true;
    switch (in->op) {
    case ENG_OP_CONV2D:
    case ENG_OP_DEPTHWISE:
        if (in->dilation > 1)
            return eng_error(ENG_ERR_UNSUPPORTED, "node %s: dilated convolutions are not "
                             "modelled", in->name);
        l->kind = in->op == ENG_OP_CONV2D ? ENERGY_LAYER_CONV : ENERGY_LAYER_DEPTHWISE;
        l->m = in->out_c;
        l->r = l->s = in->kernel;
        l->stride = in->stride;
        l->pad = in->pad;
        l->groups = in->groups;
        break;
    case ENG_OP_DENSE:
        l->kind = ENERGY_LAYER_DENSE;
        l->m = in->out_c;
        break;
    case ENG_OP_MAXPOOL:
    case ENG_OP_AVGPOOL:
        l->kind = ENERGY_LAYER_POOL;
        l->r = l->s = in->kernel;
        l->stride = in->stride;
        l->pad = in->pad;
        break;
    case ENG_OP_GLOBAL_AVGPOOL:
        l->kind = ENERGY_LAYER_POOL;
        l->r = in->in_h;
        l->s = in->in_w;
        l->stride = 1;
        break;
    case ENG_OP_ADD:
        l->kind = ENERGY_LAYER_ELTWISE;
        l->inputs = in->n_inputs;
        break;
    case ENG_OP_BATCHNORM:
        l->kind = ENERGY_LAYER_ELTWISE;
        l->inputs = 1;
        l->batchnorm = true;
        break;
    default:
        *costs = false;
        break;
    }
    return ENG_OK;
}

/* The multiplier and weight width of a quantized multiplying layer. */
static eng_status node_multiplier(const eng_layer_info *in, int base_bits, energy_layer *l)
{
    if (!in->quantized) return ENG_OK;
    if (!in->mul) {
        if (in->weight_bits > 0 && in->weight_bits < 8)
            l->weight_bits = (base_bits * in->weight_bits + 7) / 8;
        return ENG_OK;
    }
    const double power = in->mul->published.power_mw;
    if (!(power > 0))
        return eng_error(ENG_ERR_ARG, "node %s: multiplier %s has no published power figure",
                         in->name, in->mul->name);
    return energy_layer_set_multiplier(l, power, in->mul->w_bits, in->mul->is_signed, base_bits);
}

static eng_status translate(const eng_net *net, int base_bits, energy_layer *ls, int *nodes,
                            int *layer_of, int *consumers, int *count)
{
    const int n = eng_net_node_count(net);
    for (int i = 0; i < n; i++) {
        eng_layer_info in;
        ENG_TRY(eng_net_layer_info(net, i, &in));
        layer_of[i] = -1;
        for (int j = 0; j < in.n_inputs; j++) consumers[in.inputs[j]]++;
    }
    for (int i = 0; i < n; i++) {
        eng_layer_info in;
        ENG_TRY(eng_net_layer_info(net, i, &in));
        if (in.op == ENG_OP_BATCHNORM) {
            const int src = in.inputs[0], k = layer_of[src];
            if (k >= 0 && consumers[src] == 1 && !ls[k].batchnorm &&
                (ls[k].kind == ENERGY_LAYER_CONV || ls[k].kind == ENERGY_LAYER_DEPTHWISE)) {
                ls[k].batchnorm = true;     /* folded into the layer it follows */
                continue;
            }
        }
        energy_layer l;
        bool costs;
        ENG_TRY(node_layer(&in, &l, &costs));
        if (!costs) continue;
        if (energy_layer_multiplies(&l)) ENG_TRY(node_multiplier(&in, base_bits, &l));
        ENG_TRY(energy_layer_finish(&l));
        if (l.p != in.out_h || l.q != in.out_w)
            return eng_error(ENG_ERR_INTERNAL, "node %s: output %dx%d, the energy layer's %dx%d",
                             in.name, in.out_h, in.out_w, l.p, l.q);
        layer_of[i] = *count;
        nodes[*count] = i;
        ls[(*count)++] = l;
    }
    return ENG_OK;
}

eng_status energy_layers_from_net(const eng_net *net, int base_bits, energy_layer **layers,
                                  int **nodes, int *count)
{
    if (base_bits < 1 || base_bits > 64)
        return eng_error(ENG_ERR_ARG, "energy_layers_from_net: base_bits %d", base_bits);
    const int n = eng_net_node_count(net);
    energy_layer *ls = calloc((size_t)n, sizeof *ls);
    int *ids = calloc((size_t)n, sizeof *ids);
    int *layer_of = calloc((size_t)n, sizeof *layer_of);
    int *consumers = calloc((size_t)n, sizeof *consumers);
    int got = 0;
    eng_status st = ls && ids && layer_of && consumers
                        ? translate(net, base_bits, ls, ids, layer_of, consumers, &got)
                        : eng_error(ENG_ERR_NOMEM, "out of memory");
    free(layer_of);
    free(consumers);
    if (st != ENG_OK) {
        free(ls);
        free(ids);
        return st;
    }
    *layers = ls;
    *count = got;
    if (nodes) *nodes = ids;
    else free(ids);
    return ENG_OK;
}
