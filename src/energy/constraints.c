/*
 * constraints.c - mapping constraints of an accelerator: the strict reader of the YAML
 * `constraints` list (keep/bypass, spatial and temporal targets in the manner of Timeloop)
 * and their validation.
 */
#include "constraints.h"

#include <string.h>

#define ND ENERGY_DIM_COUNT
#define NO_TARGET (-2)      /* a level without a temporal target (while combining) */
#define MAX_FACTOR (1 << 24)

static const char dim_letters[ND + 1] = "NGMCPQRS";

void energy_constraints_clear(energy_constraints *c)
{
    memset(c, 0, sizeof *c);     /* ENERGY_FACTOR_FREE is 0 */
}

int constraints_first_pe(const energy_accel *a)
{
    for (int k = 0; k < a->n_levels; k++)
        if (a->levels[k].scope == ENERGY_SCOPE_PE) return k;
    return a->n_levels;
}

/* A string of dimension letters ("NCPQRS M"; spaces ignored) as a mask and, when order is not
 * NULL, as a list in the written order. */
static eng_status read_dims(ey_doc *d, yaml_node_t *n, const char *key, unsigned *mask,
                            int *order, int *len)
{
    const char *s = ey_scalar(n);
    if (!s) return ey_fail(d, n, "%s: a string of dimension letters (%s) is needed", key,
                           dim_letters);
    *mask = 0;
    int count = 0;
    for (const char *p = s; *p; p++) {
        if (*p == ' ') continue;
        const char *at = strchr(dim_letters, *p);
        if (!at)
            return ey_fail(d, n, "%s: unknown dimension '%c' (the dimensions are %s)", key, *p,
                           dim_letters);
        const int dim = (int)(at - dim_letters);
        if (*mask & (1u << dim)) return ey_fail(d, n, "%s: dimension %c listed twice", key, *p);
        *mask |= 1u << dim;
        if (order) order[count] = dim;
        count++;
    }
    if (len) *len = count;
    return ENG_OK;
}

/* A map {DIM: factor}: 0 = the whole remaining dimension (ENERGY_FACTOR_FULL), v >= 1 an
 * exact loop bound. */
static eng_status read_factors(ey_doc *d, yaml_node_t *n, int *factor)
{
    if (n->type != YAML_MAPPING_NODE)
        return ey_fail(d, n, "factors: a map such as {N: 1, R: 0} is needed");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&d->doc, p->value);
        const char *name = ey_scalar(k);
        const char *at = name && strlen(name) == 1 ? strchr(dim_letters, name[0]) : NULL;
        if (!at)
            return ey_fail(d, k, "factors: unknown dimension '%s' (the dimensions are %s)",
                           name ? name : "?", dim_letters);
        const int dim = (int)(at - dim_letters);
        if (factor[dim] != ENERGY_FACTOR_FREE)
            return ey_fail(d, k, "factors: dimension %s given twice", name);
        int64_t f;
        ENG_TRY(ey_scalar_int(d, v, "factor", 0, MAX_FACTOR, &f));
        factor[dim] = f == 0 ? ENERGY_FACTOR_FULL : (int)f;
    }
    return ENG_OK;
}

static eng_status read_tensors(ey_doc *d, yaml_node_t *n, const char *key, unsigned *mask)
{
    *mask = 0;
    if (n->type != YAML_SEQUENCE_NODE) return ey_fail(d, n, "%s must be a list of tensors", key);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(&d->doc, *it);
        const char *s = ey_scalar(e);
        int t = -1;
        for (int i = 0; s && i < ENERGY_TENSOR_COUNT; i++)
            if (strcmp(s, energy_tensor_name((energy_tensor)i)) == 0) t = i;
        if (t < 0)
            return ey_fail(d, e, "%s: unknown tensor '%s' (weights, inputs, outputs)", key,
                           s ? s : "?");
        if (*mask & (1u << t)) return ey_fail(d, e, "%s: '%s' listed twice", key, s);
        *mask |= 1u << t;
    }
    return ENG_OK;
}

static eng_status read_bypass(ey_doc *d, yaml_node_t *n, energy_level *lv, bool explicit_keeps)
{
    unsigned keep = 0, bypass = 0;
    yaml_node_t *kn = ey_map_get(d, n, "keep"), *bn = ey_map_get(d, n, "bypass");
    if (!kn && !bn) return ey_fail(d, n, "a bypass target needs 'keep' or 'bypass'");
    if (kn) ENG_TRY(read_tensors(d, kn, "keep", &keep));
    if (bn) ENG_TRY(read_tensors(d, bn, "bypass", &bypass));
    for (int t = 0; t < ENERGY_TENSOR_COUNT; t++) {
        const char *name = energy_tensor_name((energy_tensor)t);
        if (keep & bypass & (1u << t))
            return ey_fail(d, bn, "%s: %s is both kept and bypassed", lv->name, name);
        if (explicit_keeps && (bypass & lv->keeps & (1u << t)))
            return ey_fail(d, bn, "%s: %s is bypassed, but the level's keeps lists it", lv->name,
                           name);
        if (explicit_keeps && (keep & ~lv->keeps & (1u << t)))
            return ey_fail(d, kn, "%s: %s is kept, but the level's keeps does not list it",
                           lv->name, name);
    }
    lv->keeps = (lv->keeps | keep) & ~bypass;
    if (!lv->keeps) return ey_fail(d, n, "%s: every tensor is bypassed", lv->name);
    return ENG_OK;
}

/* Combines the temporal factors of the per-PE levels (raw[k][d], NO_TARGET for a level with
 * no temporal target) into the first per-PE level: they run one loop nest in this model. */
static eng_status combine_pe(ey_doc *d, yaml_node_t *list, energy_accel *a, int raw[][ND])
{
    const int fp = constraints_first_pe(a);
    for (int dim = 0; dim < ND; dim++) {
        int value = 1, givers = 0;
        bool any_full = false;
        for (int k = fp; k < a->n_levels; k++) {
            const int v = raw[k][dim] == NO_TARGET ? ENERGY_FACTOR_FREE : raw[k][dim];
            if (v == 1) continue;
            givers++;
            if (v == ENERGY_FACTOR_FULL) any_full = true;
            else if (v != ENERGY_FACTOR_FREE) value = v;
        }
        int combined;
        if (givers == 0) combined = 1;
        else if (any_full && value == 1) combined = ENERGY_FACTOR_FULL;
        else if (!any_full && value == 1) combined = ENERGY_FACTOR_FREE;
        else if (givers == 1) combined = value;
        else
            return ey_fail(d, list, "per-PE targets disagree on dimension %c (the per-PE levels "
                           "share one loop nest in this model)", dim_letters[dim]);
        for (int k = fp; k < a->n_levels; k++) a->cons.factor[k][dim] = ENERGY_FACTOR_FREE;
        if (fp < a->n_levels) a->cons.factor[fp][dim] = combined;
    }
    return ENG_OK;
}

eng_status constraints_read(ey_doc *d, yaml_node_t *list, energy_accel *a,
                            const bool *explicit_keeps)
{
    static const char *const keys[] = {"target", "type", "keep", "bypass", "rows", "cols",
                                       "permutation", "factors", NULL};
    if (list->type != YAML_SEQUENCE_NODE) return ey_fail(d, list, "constraints must be a list");
    const int fp = constraints_first_pe(a);
    int raw[ENERGY_MAX_LEVELS][ND];
    bool seen[ENERGY_MAX_LEVELS][3];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < ENERGY_MAX_LEVELS; k++)
        for (int dim = 0; dim < ND; dim++) raw[k][dim] = NO_TARGET;
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        yaml_node_t *n = yaml_document_get_node(&d->doc, *it);
        ENG_TRY(ey_map_check(d, n, "constraint", keys));
        char target[ENERGY_NAME_MAX], type[16];
        ENG_TRY(ey_get_string(d, n, "target", true, target, sizeof target));
        ENG_TRY(ey_get_string(d, n, "type", true, type, sizeof type));
        int k = -1;
        for (int i = 0; i < a->n_levels; i++)
            if (strcmp(a->levels[i].name, target) == 0) k = i;
        if (k < 0)
            return ey_fail(d, ey_map_get(d, n, "target"), "target: no level named '%s'", target);
        const int ty = strcmp(type, "bypass") == 0 ? 0 : strcmp(type, "spatial") == 0 ? 1
                       : strcmp(type, "temporal") == 0 ? 2 : -1;
        if (ty < 0)
            return ey_fail(d, ey_map_get(d, n, "type"), "type: '%s' is not one of bypass, "
                           "spatial, temporal", type);
        if (seen[k][ty])
            return ey_fail(d, n, "a second %s target for level %s", type, target);
        seen[k][ty] = true;
        static const char *const allowed[3][4] = {{"keep", "bypass", NULL},
                                                  {"rows", "cols", "factors", NULL},
                                                  {"permutation", "factors", NULL}};
        for (int i = 2; keys[i]; i++) {
            bool ok = false;
            for (int j = 0; allowed[ty][j]; j++) ok |= strcmp(allowed[ty][j], keys[i]) == 0;
            if (!ok && ey_map_get(d, n, keys[i]))
                return ey_fail(d, ey_map_get(d, n, keys[i]), "%s: not a key of a %s target",
                               keys[i], type);
        }
        yaml_node_t *f = ey_map_get(d, n, "factors");
        if (ty == 0) {
            ENG_TRY(read_bypass(d, n, &a->levels[k], explicit_keeps[k]));
        } else if (ty == 1) {
            if (k != fp - 1)
                return ey_fail(d, n, "a spatial target must name the level right above the PE "
                               "array (%s)", fp > 0 ? a->levels[fp - 1].name : "none");
            yaml_node_t *rows = ey_map_get(d, n, "rows"), *cols = ey_map_get(d, n, "cols");
            if (!rows || !cols) return ey_fail(d, n, "a spatial target needs 'rows' and 'cols'");
            ENG_TRY(read_dims(d, rows, "rows", &a->cons.rows, NULL, NULL));
            ENG_TRY(read_dims(d, cols, "cols", &a->cons.cols, NULL, NULL));
            if (f) ENG_TRY(read_factors(d, f, a->cons.spatial_factor));
            for (int dim = 0; dim < ND; dim++) {
                const int v = a->cons.spatial_factor[dim];
                if (v > 1 && !((a->cons.rows | a->cons.cols) & (1u << dim)))
                    return ey_fail(d, f, "factors: %c is spread over %d PEs but is in neither "
                                   "rows nor cols", dim_letters[dim], v);
            }
            a->cons.spatial = true;
        } else {
            unsigned mask = 0;
            yaml_node_t *p = ey_map_get(d, n, "permutation");
            if (!p && !f) return ey_fail(d, n, "a temporal target needs 'permutation' or 'factors'");
            if (p)
                ENG_TRY(read_dims(d, p, "permutation", &mask, a->cons.perm[k], &a->cons.perm_len[k]));
            int fac[ND];
            for (int dim = 0; dim < ND; dim++) fac[dim] = ENERGY_FACTOR_FREE;
            if (f) ENG_TRY(read_factors(d, f, fac));
            if (k >= fp) memcpy(raw[k], fac, sizeof fac);
            else memcpy(a->cons.factor[k], fac, sizeof fac);
        }
    }
    if (fp < a->n_levels) ENG_TRY(combine_pe(d, list, a, raw));
    return ENG_OK;
}

eng_status constraints_validate(const energy_accel *a)
{
    const energy_constraints *c = &a->cons;
    const int fp = constraints_first_pe(a);
    const unsigned all = (1u << ND) - 1;
    if (c->spatial && ((c->rows | c->cols) & ~all))
        return eng_error(ENG_ERR_ARG, "accelerator %s: spatial constraint names an unknown "
                         "dimension", a->name);
    if ((a->dataflows & (1u << ENERGY_DATAFLOW_CONSTRAINED)) && !c->spatial)
        return eng_error(ENG_ERR_ARG, "accelerator %s: the constrained dataflow needs a spatial "
                         "constraint (rows and cols of the PE array)", a->name);
    for (int dim = 0; dim < ND; dim++) {
        if (c->spatial_factor[dim] < ENERGY_FACTOR_FULL || c->spatial_factor[dim] > MAX_FACTOR)
            return eng_error(ENG_ERR_ARG, "accelerator %s: spatial factor of %c out of range",
                             a->name, dim_letters[dim]);
        for (int k = 0; k < ENERGY_MAX_LEVELS; k++) {
            const int v = c->factor[k][dim];
            if (v < ENERGY_FACTOR_FULL || v > MAX_FACTOR)
                return eng_error(ENG_ERR_ARG, "accelerator %s: factor of %c at level %d out of "
                                 "range", a->name, dim_letters[dim], k);
            if ((k > fp || k >= a->n_levels) && v != ENERGY_FACTOR_FREE)
                return eng_error(ENG_ERR_ARG, "accelerator %s: level %d has factor constraints; "
                                 "per-PE ones belong to the first per-PE level", a->name, k);
        }
    }
    for (int k = 0; k < ENERGY_MAX_LEVELS; k++) {
        if (c->perm_len[k] < 0 || c->perm_len[k] > ND || (k >= a->n_levels && c->perm_len[k]))
            return eng_error(ENG_ERR_ARG, "accelerator %s: bad permutation length at level %d",
                             a->name, k);
        unsigned seen = 0;
        for (int i = 0; i < c->perm_len[k]; i++) {
            const int dim = c->perm[k][i];
            if (dim < 0 || dim >= ND || (seen & (1u << dim)))
                return eng_error(ENG_ERR_ARG, "accelerator %s: the permutation of level %d is "
                                 "not a list of distinct dimensions", a->name, k);
            seen |= 1u << dim;
        }
    }
    return ENG_OK;
}
