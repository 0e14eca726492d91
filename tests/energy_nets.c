/*
 * energy_nets.c - ResNet-20 (CIFAR-10) as an energy-model layer list, for tests and benchmarks.
 */
#include "energy_nets.h"

#include <stdio.h>
#include <string.h>

static void conv(energy_layer *l, const char *name, int c, int hw, int m, int stride)
{
    memset(l, 0, sizeof *l);
    l->kind = ENERGY_LAYER_CONV;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->c = c, l->h = l->w = hw, l->m = m, l->r = l->s = 3, l->stride = stride, l->pad = 1;
    l->batchnorm = true;
}

int energy_resnet20_layers(energy_layer *layers)
{
    int n = 0;
    conv(&layers[n++], "conv1", 3, 32, 16, 1);
    int c = 16, hw = 32;
    for (int stage = 0; stage < 3; stage++) {
        const int m = 16 << stage;
        for (int block = 0; block < 3; block++) {
            const int stride = stage > 0 && block == 0 ? 2 : 1;
            char name[32];
            snprintf(name, sizeof name, "s%db%d_conv_a", stage + 1, block + 1);
            conv(&layers[n++], name, c, hw, m, stride);
            hw /= stride;
            snprintf(name, sizeof name, "s%db%d_conv_b", stage + 1, block + 1);
            conv(&layers[n++], name, m, hw, m, 1);
            energy_layer *add = &layers[n++];
            memset(add, 0, sizeof *add);
            add->kind = ENERGY_LAYER_ELTWISE;
            snprintf(add->name, sizeof add->name, "s%db%d_add", stage + 1, block + 1);
            add->c = m, add->h = add->w = hw;
            c = m;
        }
    }
    energy_layer *pool = &layers[n++];
    memset(pool, 0, sizeof *pool);
    pool->kind = ENERGY_LAYER_POOL;
    snprintf(pool->name, sizeof pool->name, "avgpool");
    pool->c = 64, pool->h = pool->w = 8, pool->r = pool->s = 8;
    energy_layer *fc = &layers[n++];
    memset(fc, 0, sizeof *fc);
    fc->kind = ENERGY_LAYER_DENSE;
    snprintf(fc->name, sizeof fc->name, "fc");
    fc->c = 64, fc->h = fc->w = 1, fc->m = 10, fc->bias = true;
    for (int i = 0; i < n; i++) energy_layer_finish(&layers[i]);
    return n;
}
