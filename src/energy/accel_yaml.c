/*
 * accel_yaml.c - accelerator descriptions for the energy model: the strict YAML loader and
 * the validation of the invariants the mapper relies on.
 */
#include "constraints.h"
#include "energy.h"
#include "energy_yaml.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const tensor_names[ENERGY_TENSOR_COUNT] = {"weights", "inputs", "outputs"};
static const char *const dataflow_names[ENERGY_DATAFLOW_COUNT] = {
    "weight_stationary", "output_stationary", "row_stationary", "constrained"};
static const char *const scope_names[] = {"offchip", "global", "pe"};
static const char *const dim_names[ENERGY_DIM_COUNT] = {"N", "G", "M", "C", "P", "Q", "R", "S"};

const char *energy_tensor_name(energy_tensor t)
{
    return (unsigned)t < ENERGY_TENSOR_COUNT ? tensor_names[t] : "?";
}

const char *energy_dataflow_name(energy_dataflow df)
{
    return (unsigned)df < ENERGY_DATAFLOW_COUNT ? dataflow_names[df] : "?";
}

const char *energy_dim_name(energy_dim d)
{
    return (unsigned)d < ENERGY_DIM_COUNT ? dim_names[d] : "?";
}

#define ALL_TENSORS ((1u << ENERGY_TENSOR_COUNT) - 1)
#define MAX_PJ 1e9

eng_status energy_accel_validate(const energy_accel *a)
{
    if (!a->name[0]) return eng_error(ENG_ERR_ARG, "accelerator: empty name");
    if (a->word_bits < 1 || a->word_bits > 64)
        return eng_error(ENG_ERR_ARG, "accelerator %s: word_bits %d not in [1, 64]", a->name,
                         a->word_bits);
    if (a->pe_rows < 1 || a->pe_cols < 1 || a->pe_rows > 4096 || a->pe_cols > 4096)
        return eng_error(ENG_ERR_ARG, "accelerator %s: PE array %dx%d out of range", a->name,
                         a->pe_rows, a->pe_cols);
    if (!(a->mac_pj > 0 && a->mac_pj < MAX_PJ))
        return eng_error(ENG_ERR_ARG, "accelerator %s: MAC energy must be positive", a->name);
    if (!(a->multiplier_share >= 0 && a->multiplier_share <= 1))
        return eng_error(ENG_ERR_ARG, "accelerator %s: multiplier_share not in [0, 1]", a->name);
    if (!a->dataflows || a->dataflows >= (1u << ENERGY_DATAFLOW_COUNT))
        return eng_error(ENG_ERR_ARG, "accelerator %s: no valid dataflow", a->name);
    if (a->n_levels < 1 || a->n_levels > ENERGY_MAX_LEVELS)
        return eng_error(ENG_ERR_ARG, "accelerator %s: %d levels (1..%d)", a->name, a->n_levels,
                         ENERGY_MAX_LEVELS);
    for (int i = 0; i < a->n_levels; i++) {
        const energy_level *l = &a->levels[i];
        if (!l->name[0]) return eng_error(ENG_ERR_ARG, "accelerator %s: level %d has no name",
                                          a->name, i);
        if (i == 0 && (l->scope != ENERGY_SCOPE_OFFCHIP || l->keeps != ALL_TENSORS))
            return eng_error(ENG_ERR_ARG, "level %s: the first level must be off-chip and keep "
                             "weights, inputs and outputs", l->name);
        if (i > 0 && l->scope == ENERGY_SCOPE_OFFCHIP)
            return eng_error(ENG_ERR_ARG, "level %s: only the first level can be off-chip",
                             l->name);
        if (i > 0 && l->scope < a->levels[i - 1].scope)
            return eng_error(ENG_ERR_ARG, "level %s: global levels must come before per-PE ones",
                             l->name);
        if (l->scope != ENERGY_SCOPE_OFFCHIP && l->capacity_words < 1)
            return eng_error(ENG_ERR_ARG, "level %s: capacity_words must be positive", l->name);
        if (l->capacity_words < 0)
            return eng_error(ENG_ERR_ARG, "level %s: negative capacity", l->name);
        if (l->word_bits < 1 || l->word_bits > 1024)
            return eng_error(ENG_ERR_ARG, "level %s: word_bits %d not in [1, 1024]", l->name,
                             l->word_bits);
        if (!(l->read_pj >= 0 && l->read_pj < MAX_PJ) || !(l->write_pj >= 0 && l->write_pj < MAX_PJ))
            return eng_error(ENG_ERR_ARG, "level %s: energies must be finite and >= 0", l->name);
        if (!l->keeps || (l->keeps & ~ALL_TENSORS))
            return eng_error(ENG_ERR_ARG, "level %s: keeps no tensor", l->name);
        for (int j = 0; j < i; j++) {
            if (strcmp(a->levels[j].name, l->name) == 0)
                return eng_error(ENG_ERR_ARG, "level %s: name used twice", l->name);
            if (l->scope == ENERGY_SCOPE_PE && a->levels[j].scope == ENERGY_SCOPE_PE &&
                (a->levels[j].keeps & l->keeps))
                return eng_error(ENG_ERR_ARG, "level %s: per-PE levels are siblings and must "
                                 "keep different tensors", l->name);
        }
    }
    return constraints_validate(a);
}

/* A sequence of names from `names` (count entries) as a bit mask. */
static eng_status read_name_set(ey_doc *d, yaml_node_t *map, const char *key,
                                const char *const *names, int count, unsigned *mask)
{
    yaml_node_t *v = ey_map_get(d, map, key);
    if (!v) return ey_fail(d, map, "missing key '%s'", key);
    if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.start == v->data.sequence.items.top)
        return ey_fail(d, v, "%s must be a non-empty list", key);
    *mask = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(&d->doc, *it);
        const char *s = ey_scalar(e);
        int k = -1;
        for (int i = 0; s && i < count; i++)
            if (strcmp(s, names[i]) == 0) k = i;
        if (k < 0) {
            char list[256] = "";
            for (int i = 0; i < count; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         names[i]);
            return ey_fail(d, e, "%s: '%s' is not one of %s", key, s ? s : "(not a name)", list);
        }
        if (*mask & (1u << k)) return ey_fail(d, e, "%s: '%s' listed twice", key, s);
        *mask |= 1u << k;
    }
    return ENG_OK;
}

static eng_status read_level(ey_doc *d, yaml_node_t *n, const energy_accel *a, int index,
                             energy_level *l, bool *explicit_keeps)
{
    static const char *const keys[] = {"name", "scope", "capacity_words", "word_bits", "keeps",
                                       "read_pj", "write_pj", NULL};
    ENG_TRY(ey_map_check(d, n, "level", keys));
    memset(l, 0, sizeof *l);
    ENG_TRY(ey_get_string(d, n, "name", true, l->name, sizeof l->name));
    char scope[16];
    ENG_TRY(ey_get_string(d, n, "scope", true, scope, sizeof scope));
    int s = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(scope, scope_names[i]) == 0) s = i;
    if (s < 0) return ey_fail(d, ey_map_get(d, n, "scope"), "scope: '%s' is not one of offchip, "
                              "global, pe", scope);
    l->scope = (energy_scope)s;
    int64_t v = 0;
    ENG_TRY(ey_get_int(d, n, "capacity_words", s != ENERGY_SCOPE_OFFCHIP, 1, INT64_C(1) << 40, &v));
    if (s == ENERGY_SCOPE_OFFCHIP && ey_map_get(d, n, "capacity_words"))
        return ey_fail(d, ey_map_get(d, n, "capacity_words"),
                       "capacity_words: an off-chip level is unlimited");
    l->capacity_words = v;
    v = a->word_bits;
    ENG_TRY(ey_get_int(d, n, "word_bits", false, 1, 1024, &v));
    l->word_bits = (int)v;
    *explicit_keeps = ey_map_get(d, n, "keeps") != NULL;
    l->keeps = ALL_TENSORS;     /* Timeloop's default: a level keeps what is not bypassed */
    if (*explicit_keeps)
        ENG_TRY(read_name_set(d, n, "keeps", tensor_names, ENERGY_TENSOR_COUNT, &l->keeps));
    ENG_TRY(ey_get_double(d, n, "read_pj", true, 0, MAX_PJ, &l->read_pj));
    ENG_TRY(ey_get_double(d, n, "write_pj", true, 0, MAX_PJ, &l->write_pj));
    if (index == 0 && (s != ENERGY_SCOPE_OFFCHIP || l->keeps != ALL_TENSORS))
        return ey_fail(d, n, "the first level must be off-chip (scope: offchip) and keep "
                       "weights, inputs and outputs");
    if (index > 0 && s == ENERGY_SCOPE_OFFCHIP)
        return ey_fail(d, n, "level %s: only the first level can be off-chip", l->name);
    if (index > 0 && l->scope < a->levels[index - 1].scope)
        return ey_fail(d, n, "level %s: global levels must come before per-PE levels", l->name);
    for (int j = 0; j < index; j++) {
        if (strcmp(a->levels[j].name, l->name) == 0)
            return ey_fail(d, n, "level name '%s' used twice", l->name);
        if (*explicit_keeps && s == ENERGY_SCOPE_PE && a->levels[j].scope == ENERGY_SCOPE_PE &&
            (a->levels[j].keeps & l->keeps))
            return ey_fail(d, ey_map_get(d, n, "keeps"), "level %s: per-PE levels are siblings "
                           "and must keep different tensors (%s keeps one of them)", l->name,
                           a->levels[j].name);
    }
    return ENG_OK;
}

static eng_status read_accel(ey_doc *d, energy_accel *a)
{
    static const char *const keys[] = {"name", "technology", "word_bits", "pe_array", "mac",
                                       "dataflows", "levels", "constraints", NULL};
    static const char *const pe_keys[] = {"rows", "cols", NULL};
    static const char *const mac_keys[] = {"energy_pj", "multiplier_share", NULL};
    yaml_node_t *root = ey_root(d);
    ENG_TRY(ey_map_check(d, root, "accelerator", keys));
    memset(a, 0, sizeof *a);
    energy_constraints_clear(&a->cons);
    char tech[32];
    ENG_TRY(ey_get_string(d, root, "name", true, a->name, sizeof a->name));
    ENG_TRY(ey_get_string(d, root, "technology", false, tech, sizeof tech));
    int64_t v;
    ENG_TRY(ey_get_int(d, root, "word_bits", true, 1, 64, &v));
    a->word_bits = (int)v;

    yaml_node_t *pe = ey_map_get(d, root, "pe_array");
    if (!pe) return ey_fail(d, root, "missing key 'pe_array'");
    ENG_TRY(ey_map_check(d, pe, "pe_array", pe_keys));
    ENG_TRY(ey_get_int(d, pe, "rows", true, 1, 4096, &v));
    a->pe_rows = (int)v;
    ENG_TRY(ey_get_int(d, pe, "cols", true, 1, 4096, &v));
    a->pe_cols = (int)v;

    yaml_node_t *mac = ey_map_get(d, root, "mac");
    if (!mac) return ey_fail(d, root, "missing key 'mac'");
    ENG_TRY(ey_map_check(d, mac, "mac", mac_keys));
    ENG_TRY(ey_get_double(d, mac, "energy_pj", true, 0, MAX_PJ, &a->mac_pj));
    if (!(a->mac_pj > 0)) return ey_fail(d, ey_map_get(d, mac, "energy_pj"),
                                         "energy_pj: a MAC must cost more than 0 pJ");
    ENG_TRY(ey_get_double(d, mac, "multiplier_share", true, 0, 1, &a->multiplier_share));

    ENG_TRY(read_name_set(d, root, "dataflows", dataflow_names, ENERGY_DATAFLOW_COUNT,
                          &a->dataflows));

    bool explicit_keeps[ENERGY_MAX_LEVELS] = {false};
    yaml_node_t *levels = ey_map_get(d, root, "levels");
    if (!levels) return ey_fail(d, root, "missing key 'levels'");
    if (levels->type != YAML_SEQUENCE_NODE) return ey_fail(d, levels, "levels must be a list");
    for (yaml_node_item_t *it = levels->data.sequence.items.start;
         it < levels->data.sequence.items.top; it++) {
        yaml_node_t *n = yaml_document_get_node(&d->doc, *it);
        if (a->n_levels == ENERGY_MAX_LEVELS)
            return ey_fail(d, n, "more than %d levels", ENERGY_MAX_LEVELS);
        ENG_TRY(read_level(d, n, a, a->n_levels, &a->levels[a->n_levels],
                           &explicit_keeps[a->n_levels]));
        a->n_levels++;
    }
    if (a->n_levels == 0) return ey_fail(d, levels, "levels: at least the off-chip level is needed");
    yaml_node_t *cons = ey_map_get(d, root, "constraints");
    if (cons) ENG_TRY(constraints_read(d, cons, a, explicit_keeps));
    if ((a->dataflows & (1u << ENERGY_DATAFLOW_CONSTRAINED)) && !a->cons.spatial)
        return ey_fail(d, ey_map_get(d, root, "dataflows"), "dataflows: 'constrained' needs a "
                       "spatial constraint (rows and cols of the PE array)");
    eng_status st = energy_accel_validate(a);
    if (st != ENG_OK) return eng_error_prefix(ENG_ERR_FORMAT, "%s:%d", d->path, ey_line(root));
    return ENG_OK;
}

eng_status energy_accel_load(const char *path, energy_accel *out)
{
    ey_doc d;
    ENG_TRY(ey_load(path, &d));
    energy_accel a;
    eng_status st = read_accel(&d, &a);
    ey_free(&d);
    if (st == ENG_OK) {
        snprintf(a.source, sizeof a.source, "%s", path);
        *out = a;
    }
    return st;
}
