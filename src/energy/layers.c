/*
 * layers.c - the energy model's layer description: validation, MAC and parameter counts, and
 * the built-in layer lists of published networks.
 */
#include "energy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[ENERGY_LAYER_KIND_COUNT] = {"conv", "depthwise", "dense",
                                                                "pool", "eltwise"};

const char *energy_layer_kind_name(energy_layer_kind k)
{
    return (unsigned)k < ENERGY_LAYER_KIND_COUNT ? kind_names[k] : "?";
}

#define MAX_SIZE (1 << 24)

static bool in_range(int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

eng_status energy_layer_finish(energy_layer *l)
{
    energy_layer t = *l;
    const char *nm = t.name[0] ? t.name : "(unnamed)";
    if ((unsigned)t.kind >= ENERGY_LAYER_KIND_COUNT)
        return eng_error(ENG_ERR_ARG, "layer %s: unknown kind %d", nm, (int)t.kind);
    if (!memchr(t.name, 0, sizeof t.name))
        return eng_error(ENG_ERR_ARG, "layer: name is not NUL-terminated");
    if (t.n == 0) t.n = 1;
    if (!in_range(t.n, 1, 1 << 16)) return eng_error(ENG_ERR_ARG, "layer %s: batch %d", nm, t.n);
    if (!in_range(t.c, 1, MAX_SIZE) || !in_range(t.h, 1, MAX_SIZE) || !in_range(t.w, 1, MAX_SIZE))
        return eng_error(ENG_ERR_ARG, "layer %s: input %dx%dx%d out of range", nm, t.c, t.h, t.w);
    if (!in_range(t.weight_bits, 0, 32) || !in_range(t.act_bits, 0, 32))
        return eng_error(ENG_ERR_ARG, "layer %s: operand widths must be in [0, 32] bits", nm);
    if (!(t.mul_power_mw >= 0 && t.mul_power_mw < 1e6) ||
        !(t.mul_exact_power_mw >= 0 && t.mul_exact_power_mw < 1e6))
        return eng_error(ENG_ERR_ARG, "layer %s: multiplier power must be finite and >= 0", nm);
    if (t.stride < 0 || t.pad < 0 || t.groups < 0 || t.inputs < 0)
        return eng_error(ENG_ERR_ARG, "layer %s: negative stride, pad, groups or inputs", nm);
    switch (t.kind) {
    case ENERGY_LAYER_DENSE:
        if ((int64_t)t.c * t.h * t.w > MAX_SIZE)
            return eng_error(ENG_ERR_ARG, "layer %s: too many input features", nm);
        t.c *= t.h * t.w;
        t.h = t.w = t.r = t.s = t.stride = t.groups = 1;
        t.pad = 0;
        break;
    case ENERGY_LAYER_DEPTHWISE:
    case ENERGY_LAYER_POOL:
        t.m = t.groups = t.c;
        break;
    case ENERGY_LAYER_ELTWISE:
        t.m = t.groups = t.c;
        t.r = t.s = t.stride = 1;
        t.pad = 0;
        if (t.inputs == 0) t.inputs = 2;
        if (t.inputs < 2) return eng_error(ENG_ERR_ARG, "layer %s: eltwise needs >= 2 inputs", nm);
        break;
    case ENERGY_LAYER_CONV:
        if (t.groups == 0) t.groups = 1;
        break;
    default:
        break;
    }
    if (t.stride == 0) t.stride = t.kind == ENERGY_LAYER_POOL ? t.r : 1;
    if (!in_range(t.m, 1, MAX_SIZE))
        return eng_error(ENG_ERR_ARG, "layer %s: output channels %d out of range", nm, t.m);
    if (!in_range(t.r, 1, 1024) || !in_range(t.s, 1, 1024) || !in_range(t.stride, 1, 1024) ||
        t.pad > 1024)
        return eng_error(ENG_ERR_ARG, "layer %s: kernel %dx%d, stride %d, pad %d out of range", nm,
                         t.r, t.s, t.stride, t.pad);
    if (t.c % t.groups || t.m % t.groups)
        return eng_error(ENG_ERR_ARG, "layer %s: %d groups do not divide %d input and %d output "
                         "channels", nm, t.groups, t.c, t.m);
    if (t.h + 2 * t.pad < t.r || t.w + 2 * t.pad < t.s)
        return eng_error(ENG_ERR_ARG, "layer %s: kernel %dx%d larger than the padded input "
                         "%dx%d", nm, t.r, t.s, t.h + 2 * t.pad, t.w + 2 * t.pad);
    t.p = (t.h + 2 * t.pad - t.r) / t.stride + 1;
    t.q = (t.w + 2 * t.pad - t.s) / t.stride + 1;
    if (t.kind == ENERGY_LAYER_CONV || t.kind == ENERGY_LAYER_DENSE || t.kind == ENERGY_LAYER_DEPTHWISE) {
        double macs = (double)t.n * t.m * t.p * t.q * (t.c / t.groups) * t.r * t.s;
        if (macs > 1e17) return eng_error(ENG_ERR_ARG, "layer %s: too many MACs", nm);
    }
    *l = t;
    return ENG_OK;
}

bool energy_layer_multiplies(const energy_layer *l)
{
    return l->kind == ENERGY_LAYER_CONV || l->kind == ENERGY_LAYER_DEPTHWISE ||
           l->kind == ENERGY_LAYER_DENSE;
}

int64_t energy_layer_macs(const energy_layer *l)
{
    if (!energy_layer_multiplies(l)) return 0;
    return (int64_t)l->n * l->m * l->p * l->q * (l->c / l->groups) * l->r * l->s;
}

int64_t energy_layer_params(const energy_layer *l)
{
    if (!energy_layer_multiplies(l)) return 0;
    int64_t p = (int64_t)l->m * (l->c / l->groups) * l->r * l->s;
    if (l->bias) p += l->m;
    if (l->batchnorm) p += 2 * (int64_t)l->m;
    return p;
}

/* ------------------------------------------------------------------------------------------
 * Built-in networks
 * ---------------------------------------------------------------------------------------- */

#define CONV(nm, C, H, M, K, ST, PD, G) \
    {.kind = ENERGY_LAYER_CONV, .name = nm, .c = C, .h = H, .w = H, .m = M, .r = K, .s = K, \
     .stride = ST, .pad = PD, .groups = G, .bias = true}
#define POOL(nm, C, H, K, ST) \
    {.kind = ENERGY_LAYER_POOL, .name = nm, .c = C, .h = H, .w = H, .r = K, .s = K, .stride = ST}
#define DENSE(nm, C, M) {.kind = ENERGY_LAYER_DENSE, .name = nm, .c = C, .h = 1, .w = 1, .m = M, \
                         .bias = true}

/* AlexNet (Krizhevsky, Sutskever, Hinton, NIPS 2012) with the 227x227 input of the
 * Timeloop/Eyeriss exercises; conv2, conv4 and conv5 are split over the paper's two GPUs
 * (groups = 2), as in the exercises' layer shapes (conv2: C = 48 per group). */
static const energy_layer alexnet[] = {
    CONV("conv1", 3, 227, 96, 11, 4, 0, 1),
    POOL("pool1", 96, 55, 3, 2),
    CONV("conv2", 96, 27, 256, 5, 1, 2, 2),
    POOL("pool2", 256, 27, 3, 2),
    CONV("conv3", 256, 13, 384, 3, 1, 1, 1),
    CONV("conv4", 384, 13, 384, 3, 1, 1, 2),
    CONV("conv5", 384, 13, 256, 3, 1, 1, 2),
    POOL("pool5", 256, 13, 3, 2),
    DENSE("fc6", 256 * 6 * 6, 4096),
    DENSE("fc7", 4096, 4096),
    DENSE("fc8", 4096, 1000),
};

const char *const energy_model_names[] = {"alexnet", "alexnet-conv1", NULL};

eng_status energy_model_layers(const char *name, energy_layer **layers, int *count)
{
    const energy_layer *src;
    int n;
    if (strcmp(name, "alexnet") == 0) {
        src = alexnet;
        n = (int)(sizeof alexnet / sizeof alexnet[0]);
    } else if (strcmp(name, "alexnet-conv1") == 0) {
        src = alexnet;
        n = 1;
    } else {
        return eng_error(ENG_ERR_NOT_FOUND, "unknown model '%s' (built in: alexnet, "
                         "alexnet-conv1)", name);
    }
    energy_layer *out = malloc(sizeof *out * (size_t)n);
    if (!out) return eng_error(ENG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        out[i] = src[i];
        eng_status st = energy_layer_finish(&out[i]);
        if (st != ENG_OK) {
            free(out);
            return st;
        }
    }
    *layers = out;
    *count = n;
    return ENG_OK;
}

eng_status energy_layer_set_multiplier(energy_layer *l, double power_mw, int w_bits,
                                       bool is_signed, int base_bits)
{
    if (w_bits < 1 || w_bits > 8 || !(power_mw > 0 && power_mw < 1e6) || base_bits < 1)
        return eng_error(ENG_ERR_ARG, "layer %s: bad multiplier (8x%d, %g mW)", l->name, w_bits,
                         power_mw);
    l->mul_power_mw = power_mw;
    l->mul_is_signed = is_signed;
    if (w_bits < 8) {
        int base = l->weight_bits ? l->weight_bits : base_bits;
        l->weight_bits = base * w_bits / 8 > 0 ? base * w_bits / 8 : 1;
    }
    return ENG_OK;
}
