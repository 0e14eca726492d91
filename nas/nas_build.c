/*
 * nas_build.c - nas_arch -> eng_net through the engine's builder API.
 */
#include "nas_build.h"

#include <stdlib.h>

eng_status nas_arch_build(const nas_arch *arch, const nas_space *sp, const eng_mul *const *muls,
                          const eng_approx_cfg *q, eng_net **out, int *node_of_layer)
{
    *out = NULL;
    eng_net *net;
    ENG_TRY(eng_net_create(sp->in_channels, sp->in_height, sp->in_width, sp->classes, &net));
    int *node = malloc(sizeof(int) * (size_t)(arch->n > 0 ? arch->n : 1));
    if (!node) {
        eng_net_free(net);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    eng_status st = ENG_OK;
    for (int i = 0; i < arch->n && st == ENG_OK; i++) {
        const nas_layer *l = &arch->layers[i];
        int x = l->in[0] < 0 ? ENG_NET_INPUT : node[l->in[0]];
        int two[2] = {x, l->in[1] == -1 ? ENG_NET_INPUT : (l->in[1] >= 0 ? node[l->in[1]] : 0)};
        int id;
        switch (l->kind) {
        case NAS_LAYER_CONV:
            id = eng_net_conv2d(net, x, l->out_c, l->k, l->stride, l->pad, 1, false);
            break;
        case NAS_LAYER_DEPTHWISE:
            id = eng_net_depthwise(net, x, l->k, l->stride, l->pad, 1, false);
            break;
        case NAS_LAYER_DENSE:
            id = eng_net_dense(net, x, l->out_c, true);
            break;
        case NAS_LAYER_BATCHNORM: id = eng_net_batchnorm(net, x, 0.1f, 1e-5f); break;
        case NAS_LAYER_RELU: id = eng_net_relu(net, x); break;
        case NAS_LAYER_RELU6: id = eng_net_relu6(net, x); break;
        case NAS_LAYER_MAXPOOL: id = eng_net_maxpool(net, x, l->k, l->stride, l->pad); break;
        case NAS_LAYER_AVGPOOL:
            id = eng_net_avgpool(net, x, l->k, l->stride, l->pad, false);
            break;
        case NAS_LAYER_GLOBAL_AVGPOOL: id = eng_net_global_avgpool(net, x); break;
        case NAS_LAYER_ADD: id = eng_net_add(net, two, 2); break;
        case NAS_LAYER_CONCAT: id = eng_net_concat(net, two, 2); break;
        default: id = -ENG_ERR_INTERNAL; break;
        }
        if (id < 0) {
            st = eng_error_prefix((eng_status)-id, "layer %d (%s)", i,
                                  nas_layer_kind_name(l->kind));
            break;
        }
        node[i] = id;
        if (q && l->mul >= 0) {
            st = eng_net_set_quant(net, id, q);
            if (st == ENG_OK) st = eng_net_set_multiplier(net, id, muls ? muls[l->mul] : NULL);
            if (st != ENG_OK)
                st = eng_error_prefix(st, "layer %d (%s)", i, nas_layer_kind_name(l->kind));
        }
    }
    if (st != ENG_OK) {
        free(node);
        eng_net_free(net);
        return st;
    }
    if (node_of_layer)
        for (int i = 0; i < arch->n; i++) node_of_layer[i] = node[i];
    free(node);
    *out = net;
    return ENG_OK;
}
