/*
 * layers_yaml.c - YAML layer lists for the energy model (`evoapproxnas energy --layers`):
 * any network described by its layer shapes, read strictly with file:line messages.
 */
#include "energy.h"
#include "yaml_strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A list [a, b, ...] of 1..max integers in [1, 2^24], or a single integer (count 1); count 0
 * when the key is absent. */
static eng_status read_ints(const ys_map *m, const char *key, int max, int *v, int *count)
{
    yaml_node_t *n = ys_map_get(m, key);
    *count = 0;
    if (!n) return ENG_OK;
    char what[256];
    ys_map_path(m, key, what, sizeof what);
    if (n->type == YAML_SCALAR_NODE) {
        ENG_TRY(ys_node_int(m->doc, n, what, 1, 1 << 24, &v[0]));
        *count = 1;
        return ENG_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return ys_fail(m->doc, n, ENG_ERR_FORMAT, "%s: expected an integer or a list of at most "
                       "%d", what, max);
    ENG_TRY(ys_seq_check(m->doc, n, what, 1, max, count));
    for (int i = 0; i < *count; i++)
        ENG_TRY(ys_node_int(m->doc, ys_seq_item(m->doc, n, i), what, 1, 1 << 24, &v[i]));
    return ENG_OK;
}

static eng_status read_layer(ys_doc *d, yaml_node_t *n, int index, int batch, energy_layer *l)
{
    static const char *const keys[] = {"name", "kind", "input", "out_channels", "kernel",
                                       "stride", "pad", "groups", "inputs", "bias", "batchnorm",
                                       "weight_bits", "act_bits", NULL};
    static const char *const kinds[] = {"conv", "depthwise", "dense", "pool", "eltwise"};
    char where[32], kp[64];
    snprintf(where, sizeof where, "layers[%d]", index);
    ys_map m;
    ENG_TRY(ys_map_open(d, n, where, keys, &m));
    memset(l, 0, sizeof *l);
    l->n = batch;
    ENG_TRY(ys_get_string(&m, "name", true, l->name, sizeof l->name));
    int k = 0;
    ENG_TRY(ys_get_enum(&m, "kind", true, kinds, ENERGY_LAYER_KIND_COUNT, &k));
    l->kind = (energy_layer_kind)k;
    const char *kind = kinds[k];

    int in[3], nin, ker[2], nker;
    ENG_TRY(read_ints(&m, "input", 3, in, &nin));
    if (nin == 0)
        return ys_fail(d, n, ENG_ERR_FORMAT, "missing required key '%s' ([C, H, W] or [C])",
                       ys_map_path(&m, "input", kp, sizeof kp));
    if (nin == 2)
        return ys_fail(d, ys_map_get(&m, "input"), ENG_ERR_FORMAT, "%s: give [C, H, W] or [C]",
                       ys_map_path(&m, "input", kp, sizeof kp));
    l->c = in[0];
    l->h = nin == 3 ? in[1] : 1;
    l->w = nin == 3 ? in[2] : 1;
    ENG_TRY(read_ints(&m, "kernel", 2, ker, &nker));
    const bool needs_kernel = l->kind != ENERGY_LAYER_DENSE && l->kind != ENERGY_LAYER_ELTWISE;
    ys_map_path(&m, "kernel", kp, sizeof kp);
    if (needs_kernel && nker == 0)
        return ys_fail(d, n, ENG_ERR_FORMAT, "missing required key '%s' (R or [R, S])", kp);
    if (!needs_kernel && nker)
        return ys_fail(d, ys_map_get(&m, "kernel"), ENG_ERR_FORMAT, "%s: not used by a %s "
                       "layer", kp, kind);
    l->r = nker ? ker[0] : 1;
    l->s = nker == 2 ? ker[1] : l->r;

    const bool has_out = l->kind == ENERGY_LAYER_CONV || l->kind == ENERGY_LAYER_DENSE;
    if (!has_out && ys_map_get(&m, "out_channels"))
        return ys_fail(d, ys_map_get(&m, "out_channels"), ENG_ERR_FORMAT, "%s: a %s layer keeps "
                       "its channels", ys_map_path(&m, "out_channels", kp, sizeof kp), kind);
    ENG_TRY(ys_get_int(&m, "out_channels", has_out, 1, 1 << 24, &l->m));
    ENG_TRY(ys_get_int(&m, "stride", false, 1, 1024, &l->stride));
    ENG_TRY(ys_get_int(&m, "pad", false, 0, 1024, &l->pad));
    if (l->kind != ENERGY_LAYER_CONV && ys_map_get(&m, "groups"))
        return ys_fail(d, ys_map_get(&m, "groups"), ENG_ERR_FORMAT, "%s: only for conv layers",
                       ys_map_path(&m, "groups", kp, sizeof kp));
    ENG_TRY(ys_get_int(&m, "groups", false, 1, 1 << 24, &l->groups));
    if (l->kind != ENERGY_LAYER_ELTWISE && ys_map_get(&m, "inputs"))
        return ys_fail(d, ys_map_get(&m, "inputs"), ENG_ERR_FORMAT, "%s: only for eltwise "
                       "layers", ys_map_path(&m, "inputs", kp, sizeof kp));
    ENG_TRY(ys_get_int(&m, "inputs", false, 2, 64, &l->inputs));
    ENG_TRY(ys_get_bool(&m, "bias", false, &l->bias));
    ENG_TRY(ys_get_bool(&m, "batchnorm", false, &l->batchnorm));
    ENG_TRY(ys_get_int(&m, "weight_bits", false, 1, 32, &l->weight_bits));
    ENG_TRY(ys_get_int(&m, "act_bits", false, 1, 32, &l->act_bits));
    if (energy_layer_finish(l) != ENG_OK)
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s", eng_last_error());
    return ENG_OK;
}

static eng_status read_list(ys_doc *d, energy_layer **layers, int *count, char *name)
{
    static const char *const keys[] = {"name", "batch", "layers", NULL};
    energy_layer *out = NULL;
    yaml_node_t *root_node = ys_doc_root(d), *list;
    if (!root_node)
        return ys_fail(d, NULL, ENG_ERR_FORMAT, "empty document (see tests/data/energy/ for an "
                       "example)");
    ys_map root;
    ENG_TRY(ys_map_open(d, root_node, "", keys, &root));
    char nm[ENERGY_NAME_MAX];
    ENG_TRY(ys_get_string(&root, "name", true, nm, sizeof nm));
    int batch = 1, n;
    ENG_TRY(ys_get_int(&root, "batch", false, 1, 1 << 16, &batch));
    ENG_TRY(ys_get_seq(&root, "layers", true, 0, 1 << 20, &list, &n));
    if (n == 0) return ys_fail(d, list, ENG_ERR_FORMAT, "layers: the list is empty");
    out = malloc(sizeof *out * (size_t)n);
    if (!out) return eng_error(ENG_ERR_NOMEM, "out of memory");
    eng_status st = ENG_OK;
    for (int i = 0; i < n; i++) {
        yaml_node_t *e = ys_seq_item(d, list, i);
        st = read_layer(d, e, i, batch, &out[i]);
        if (st != ENG_OK) goto fail;
        for (int j = 0; j < i; j++)
            if (strcmp(out[j].name, out[i].name) == 0) {
                st = ys_fail(d, e, ENG_ERR_FORMAT, "layer name '%s' used twice", out[i].name);
                goto fail;
            }
    }
    *layers = out;
    *count = n;
    if (name) memcpy(name, nm, sizeof nm);
    return ENG_OK;
fail:
    free(out);
    return st;
}

eng_status energy_layers_load(const char *path, energy_layer **layers, int *count, char *name)
{
    ys_doc d;
    eng_status st = ys_doc_load(&d, path);
    if (st != ENG_OK) goto done;
    st = read_list(&d, layers, count, name);
done:
    ys_doc_free(&d);
    /* as energy_accel_load: unreadable ENG_ERR_IO, bad content ENG_ERR_FORMAT */
    return st == ENG_ERR_NOT_FOUND ? ENG_ERR_IO : st == ENG_ERR_ARG ? ENG_ERR_FORMAT : st;
}
