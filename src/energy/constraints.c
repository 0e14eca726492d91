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
 * NULL, as a list in the written order; what names it in messages. */
static eng_status read_dims(ys_doc *d, yaml_node_t *n, const char *what, unsigned *mask,
                            int *order, int *len)
{
    const char *s = ys_scalar(n);
    if (!s) return ys_fail(d, n, ENG_ERR_FORMAT, "%s: a string of dimension letters (%s) is "
                           "needed", what, dim_letters);
    *mask = 0;
    int count = 0;
    for (const char *p = s; *p; p++) {
        if (*p == ' ') continue;
        const char *at = strchr(dim_letters, *p);
        if (!at)
            return ys_fail(d, n, ENG_ERR_FORMAT, "%s: unknown dimension '%c' (the dimensions "
                           "are %s)", what, *p, dim_letters);
        const int dim = (int)(at - dim_letters);
        if (*mask & (1u << dim))
            return ys_fail(d, n, ENG_ERR_FORMAT, "%s: dimension %c listed twice", what, *p);
        *mask |= 1u << dim;
        if (order) order[count] = dim;
        count++;
    }
    if (len) *len = count;
    return ENG_OK;
}

/* A map {DIM: factor}: 0 = the whole remaining dimension (ENERGY_FACTOR_FULL), v >= 1 an
 * exact loop bound. */
static eng_status read_factors(const ys_map *target, int *factor)
{
    ys_doc *d = target->doc;
    yaml_node_t *n = ys_map_get(target, "factors");
    char what[256];
    ys_map_path(target, "factors", what, sizeof what);
    if (n->type != YAML_MAPPING_NODE)
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s: a map such as {N: 1, R: 0} is needed", what);
    ys_map m;
    ENG_TRY(ys_map_open(d, n, what, NULL, &m));     /* free keys, no repeats */
    for (int i = 0; i < ys_map_len(&m); i++) {
        const char *name = ys_scalar(ys_map_key(&m, i));
        const char *at = strlen(name) == 1 ? strchr(dim_letters, name[0]) : NULL;
        if (!at)
            return ys_fail(d, ys_map_key(&m, i), ENG_ERR_FORMAT, "%s: unknown dimension '%s' "
                           "(the dimensions are %s)", what, name, dim_letters);
        char kp[280];
        int f;
        ENG_TRY(ys_node_int(d, ys_map_value(&m, i), ys_map_path(&m, name, kp, sizeof kp), 0,
                            MAX_FACTOR, &f));
        factor[at - dim_letters] = f == 0 ? ENERGY_FACTOR_FULL : f;
    }
    return ENG_OK;
}

/* A list of tensor names under key, each at most once, as a mask (0 when absent). */
static eng_status read_tensors(const ys_map *m, const char *key, unsigned *mask)
{
    static const char *const names[ENERGY_TENSOR_COUNT] = {"weights", "inputs", "outputs"};
    *mask = 0;
    yaml_node_t *v;
    int len;
    char what[256];
    ENG_TRY(ys_get_seq(m, key, false, 0, 64, &v, &len));
    ys_map_path(m, key, what, sizeof what);
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = ys_seq_item(m->doc, v, i);
        int t;
        ENG_TRY(ys_node_enum(m->doc, e, what, names, ENERGY_TENSOR_COUNT, &t));
        if (*mask & (1u << t))
            return ys_fail(m->doc, e, ENG_ERR_FORMAT, "%s: '%s' listed twice", what, names[t]);
        *mask |= 1u << t;
    }
    return ENG_OK;
}

static eng_status read_bypass(const ys_map *m, energy_level *lv, bool explicit_keeps)
{
    unsigned keep = 0, bypass = 0;
    yaml_node_t *kn = ys_map_get(m, "keep"), *bn = ys_map_get(m, "bypass");
    if (!kn && !bn)
        return ys_fail(m->doc, m->node, ENG_ERR_FORMAT, "a bypass target needs 'keep' or "
                       "'bypass'");
    ENG_TRY(read_tensors(m, "keep", &keep));
    ENG_TRY(read_tensors(m, "bypass", &bypass));
    for (int t = 0; t < ENERGY_TENSOR_COUNT; t++) {
        const char *name = energy_tensor_name((energy_tensor)t);
        if (keep & bypass & (1u << t))
            return ys_fail(m->doc, bn, ENG_ERR_FORMAT, "%s: %s is both kept and bypassed",
                           lv->name, name);
        if (explicit_keeps && (bypass & lv->keeps & (1u << t)))
            return ys_fail(m->doc, bn, ENG_ERR_FORMAT, "%s: %s is bypassed, but the level's "
                           "keeps lists it", lv->name, name);
        if (explicit_keeps && (keep & ~lv->keeps & (1u << t)))
            return ys_fail(m->doc, kn, ENG_ERR_FORMAT, "%s: %s is kept, but the level's keeps "
                           "does not list it", lv->name, name);
    }
    lv->keeps = (lv->keeps | keep) & ~bypass;
    if (!lv->keeps)
        return ys_fail(m->doc, m->node, ENG_ERR_FORMAT, "%s: every tensor is bypassed",
                       lv->name);
    return ENG_OK;
}

/* Combines the temporal factors of the per-PE levels (raw[k][d], NO_TARGET for a level with
 * no temporal target) into the first per-PE level: they run one loop nest in this model. */
static eng_status combine_pe(ys_doc *d, yaml_node_t *list, energy_accel *a, int raw[][ND])
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
            return ys_fail(d, list, ENG_ERR_FORMAT, "per-PE targets disagree on dimension %c "
                           "(the per-PE levels share one loop nest in this model)",
                           dim_letters[dim]);
        for (int k = fp; k < a->n_levels; k++) a->cons.factor[k][dim] = ENERGY_FACTOR_FREE;
        if (fp < a->n_levels) a->cons.factor[fp][dim] = combined;
    }
    return ENG_OK;
}

/* One spatial target (m) of the level right above the PE array. */
static eng_status read_spatial(const ys_map *m, energy_accel *a)
{
    yaml_node_t *rows = ys_map_get(m, "rows"), *cols = ys_map_get(m, "cols");
    if (!rows || !cols)
        return ys_fail(m->doc, m->node, ENG_ERR_FORMAT, "a spatial target needs 'rows' and "
                       "'cols'");
    char what[256];
    ENG_TRY(read_dims(m->doc, rows, ys_map_path(m, "rows", what, sizeof what), &a->cons.rows,
                      NULL, NULL));
    ENG_TRY(read_dims(m->doc, cols, ys_map_path(m, "cols", what, sizeof what), &a->cons.cols,
                      NULL, NULL));
    yaml_node_t *f = ys_map_get(m, "factors");
    if (f) ENG_TRY(read_factors(m, a->cons.spatial_factor));
    for (int dim = 0; dim < ND; dim++) {
        const int v = a->cons.spatial_factor[dim];
        if (v > 1 && !((a->cons.rows | a->cons.cols) & (1u << dim)))
            return ys_fail(m->doc, f, ENG_ERR_FORMAT, "%s: %c is spread over %d PEs but is in "
                           "neither rows nor cols", ys_map_path(m, "factors", what, sizeof what),
                           dim_letters[dim], v);
    }
    a->cons.spatial = true;
    return ENG_OK;
}

eng_status constraints_read(ys_doc *d, yaml_node_t *list, energy_accel *a,
                            const bool *explicit_keeps)
{
    static const char *const keys[] = {"target", "type", "keep", "bypass", "rows", "cols",
                                       "permutation", "factors", NULL};
    static const char *const types[] = {"bypass", "spatial", "temporal"};
    int len;
    ENG_TRY(ys_seq_check(d, list, "constraints", 0, 4096, &len));
    const int fp = constraints_first_pe(a);
    int raw[ENERGY_MAX_LEVELS][ND];
    bool seen[ENERGY_MAX_LEVELS][3];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < ENERGY_MAX_LEVELS; k++)
        for (int dim = 0; dim < ND; dim++) raw[k][dim] = NO_TARGET;
    for (int i = 0; i < len; i++) {
        yaml_node_t *n = ys_seq_item(d, list, i);
        char where[32];
        snprintf(where, sizeof where, "constraints[%d]", i);
        ys_map m;
        ENG_TRY(ys_map_open(d, n, where, keys, &m));
        char target[ENERGY_NAME_MAX];
        int ty = 0;
        ENG_TRY(ys_get_string(&m, "target", true, target, sizeof target));
        ENG_TRY(ys_get_enum(&m, "type", true, types, 3, &ty));
        int k = -1;
        for (int j = 0; j < a->n_levels; j++)
            if (strcmp(a->levels[j].name, target) == 0) k = j;
        if (k < 0)
            return ys_fail(d, ys_map_get(&m, "target"), ENG_ERR_FORMAT, "%s.target: no level "
                           "named '%s'", where, target);
        if (seen[k][ty])
            return ys_fail(d, n, ENG_ERR_FORMAT, "a second %s target for level %s", types[ty],
                           target);
        seen[k][ty] = true;
        static const char *const allowed[3][4] = {{"keep", "bypass", NULL},
                                                  {"rows", "cols", "factors", NULL},
                                                  {"permutation", "factors", NULL}};
        for (int j = 2; keys[j]; j++) {
            bool ok = false;
            for (int q = 0; allowed[ty][q]; q++) ok |= strcmp(allowed[ty][q], keys[j]) == 0;
            if (!ok && ys_map_get(&m, keys[j]))
                return ys_fail(d, ys_map_get(&m, keys[j]), ENG_ERR_FORMAT, "%s.%s: not a key of "
                               "a %s target", where, keys[j], types[ty]);
        }
        if (ty == 0) {
            ENG_TRY(read_bypass(&m, &a->levels[k], explicit_keeps[k]));
        } else if (ty == 1) {
            if (k != fp - 1)
                return ys_fail(d, n, ENG_ERR_FORMAT, "a spatial target must name the level "
                               "right above the PE array (%s)",
                               fp > 0 ? a->levels[fp - 1].name : "none");
            ENG_TRY(read_spatial(&m, a));
        } else {
            unsigned mask = 0;
            yaml_node_t *p = ys_map_get(&m, "permutation");
            if (!p && !ys_map_get(&m, "factors"))
                return ys_fail(d, n, ENG_ERR_FORMAT, "a temporal target needs 'permutation' or "
                               "'factors'");
            char what[256];
            if (p)
                ENG_TRY(read_dims(d, p, ys_map_path(&m, "permutation", what, sizeof what), &mask,
                                  a->cons.perm[k], &a->cons.perm_len[k]));
            int fac[ND];
            for (int dim = 0; dim < ND; dim++) fac[dim] = ENERGY_FACTOR_FREE;
            if (ys_map_get(&m, "factors")) ENG_TRY(read_factors(&m, fac));
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
