/*
 * layers_yaml.c - YAML layer lists for the energy model (`evoapproxnas energy --layers`):
 * any network described by its layer shapes, read strictly with file:line messages.
 */
#include "energy.h"
#include "energy_yaml.h"

#include <stdlib.h>
#include <string.h>

/* A list [a, b, ...] of 1..max integers in [1, 2^24], or a single integer (count 1). */
static eng_status read_ints(ey_doc *d, yaml_node_t *map, const char *key, int max, int *v,
                            int *count)
{
    yaml_node_t *n = ey_map_get(d, map, key);
    *count = 0;
    if (!n) return ENG_OK;
    int64_t x;
    if (n->type == YAML_SCALAR_NODE) {
        ENG_TRY(ey_scalar_int(d, n, key, 1, 1 << 24, &x));
        v[(*count)++] = (int)x;
        return ENG_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE) return ey_fail(d, n, "%s must be an integer or a list", key);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        if (*count == max) return ey_fail(d, n, "%s: at most %d numbers", key, max);
        ENG_TRY(ey_scalar_int(d, yaml_document_get_node(&d->doc, *it), key, 1, 1 << 24, &x));
        v[(*count)++] = (int)x;
    }
    if (*count == 0) return ey_fail(d, n, "%s: empty list", key);
    return ENG_OK;
}

static eng_status read_layer(ey_doc *d, yaml_node_t *n, int batch, energy_layer *l)
{
    static const char *const keys[] = {"name", "kind", "input", "out_channels", "kernel",
                                       "stride", "pad", "groups", "inputs", "bias", "batchnorm",
                                       "weight_bits", "act_bits", NULL};
    static const char *const kinds[] = {"conv", "depthwise", "dense", "pool", "eltwise"};
    ENG_TRY(ey_map_check(d, n, "layer", keys));
    memset(l, 0, sizeof *l);
    l->n = batch;
    ENG_TRY(ey_get_string(d, n, "name", true, l->name, sizeof l->name));
    char kind[16];
    ENG_TRY(ey_get_string(d, n, "kind", true, kind, sizeof kind));
    int k = -1;
    for (int i = 0; i < ENERGY_LAYER_KIND_COUNT; i++)
        if (strcmp(kind, kinds[i]) == 0) k = i;
    if (k < 0) return ey_fail(d, ey_map_get(d, n, "kind"), "kind: '%s' is not one of conv, "
                              "depthwise, dense, pool, eltwise", kind);
    l->kind = (energy_layer_kind)k;

    int in[3], nin, ker[2], nker;
    ENG_TRY(read_ints(d, n, "input", 3, in, &nin));
    if (nin == 0) return ey_fail(d, n, "missing key 'input'");
    if (nin == 2) return ey_fail(d, ey_map_get(d, n, "input"), "input: give [C, H, W] or [C]");
    l->c = in[0];
    l->h = nin == 3 ? in[1] : 1;
    l->w = nin == 3 ? in[2] : 1;
    ENG_TRY(read_ints(d, n, "kernel", 2, ker, &nker));
    const bool needs_kernel = l->kind != ENERGY_LAYER_DENSE && l->kind != ENERGY_LAYER_ELTWISE;
    if (needs_kernel && nker == 0) return ey_fail(d, n, "missing key 'kernel'");
    if (!needs_kernel && nker) return ey_fail(d, ey_map_get(d, n, "kernel"),
                                              "kernel: not used by a %s layer", kind);
    l->r = nker ? ker[0] : 1;
    l->s = nker == 2 ? ker[1] : l->r;

    const bool has_out = l->kind == ENERGY_LAYER_CONV || l->kind == ENERGY_LAYER_DENSE;
    int64_t v = 0;
    if (!has_out && ey_map_get(d, n, "out_channels"))
        return ey_fail(d, ey_map_get(d, n, "out_channels"), "out_channels: a %s layer keeps "
                       "its channels", kind);
    ENG_TRY(ey_get_int(d, n, "out_channels", has_out, 1, 1 << 24, &v));
    l->m = (int)v;
    v = 0;
    ENG_TRY(ey_get_int(d, n, "stride", false, 1, 1024, &v));
    l->stride = (int)v;
    v = 0;
    ENG_TRY(ey_get_int(d, n, "pad", false, 0, 1024, &v));
    l->pad = (int)v;
    v = 0;
    if (l->kind != ENERGY_LAYER_CONV && ey_map_get(d, n, "groups"))
        return ey_fail(d, ey_map_get(d, n, "groups"), "groups: only for conv layers");
    ENG_TRY(ey_get_int(d, n, "groups", false, 1, 1 << 24, &v));
    l->groups = (int)v;
    v = 0;
    if (l->kind != ENERGY_LAYER_ELTWISE && ey_map_get(d, n, "inputs"))
        return ey_fail(d, ey_map_get(d, n, "inputs"), "inputs: only for eltwise layers");
    ENG_TRY(ey_get_int(d, n, "inputs", false, 2, 64, &v));
    l->inputs = (int)v;
    ENG_TRY(ey_get_bool(d, n, "bias", false, &l->bias));
    ENG_TRY(ey_get_bool(d, n, "batchnorm", false, &l->batchnorm));
    v = 0;
    ENG_TRY(ey_get_int(d, n, "weight_bits", false, 1, 32, &v));
    l->weight_bits = (int)v;
    v = 0;
    ENG_TRY(ey_get_int(d, n, "act_bits", false, 1, 32, &v));
    l->act_bits = (int)v;
    eng_status st = energy_layer_finish(l);
    if (st != ENG_OK) return eng_error_prefix(ENG_ERR_FORMAT, "%s:%d", d->path, ey_line(n));
    return ENG_OK;
}

static eng_status read_list(ey_doc *d, energy_layer **layers, int *count, char *name)
{
    static const char *const keys[] = {"name", "batch", "layers", NULL};
    yaml_node_t *root = ey_root(d);
    ENG_TRY(ey_map_check(d, root, "layer list", keys));
    char nm[ENERGY_NAME_MAX];
    ENG_TRY(ey_get_string(d, root, "name", true, nm, sizeof nm));
    int64_t batch = 1;
    ENG_TRY(ey_get_int(d, root, "batch", false, 1, 1 << 16, &batch));
    yaml_node_t *list = ey_map_get(d, root, "layers");
    if (!list) return ey_fail(d, root, "missing key 'layers'");
    if (list->type != YAML_SEQUENCE_NODE) return ey_fail(d, list, "layers must be a list");
    const int n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0) return ey_fail(d, list, "layers: the list is empty");
    energy_layer *out = malloc(sizeof *out * (size_t)n);
    if (!out) return eng_error(ENG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        yaml_node_t *e = yaml_document_get_node(&d->doc, list->data.sequence.items.start[i]);
        eng_status st = read_layer(d, e, (int)batch, &out[i]);
        for (int j = 0; st == ENG_OK && j < i; j++)
            if (strcmp(out[j].name, out[i].name) == 0)
                st = ey_fail(d, e, "layer name '%s' used twice", out[i].name);
        if (st != ENG_OK) {
            free(out);
            return st;
        }
    }
    *layers = out;
    *count = n;
    if (name) memcpy(name, nm, sizeof nm);
    return ENG_OK;
}

eng_status energy_layers_load(const char *path, energy_layer **layers, int *count, char *name)
{
    ey_doc d;
    ENG_TRY(ey_load(path, &d));
    eng_status st = read_list(&d, layers, count, name);
    ey_free(&d);
    return st;
}
