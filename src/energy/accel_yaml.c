/*
 * accel_yaml.c - accelerator descriptions for the energy model: the strict YAML loader and
 * the validation of the invariants the mapper relies on.
 */
#include "constraints.h"
#include "energy.h"
#include "yaml_strict.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const scope_names[] = {"offchip", "global", "pe"};

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

/* A list of names from `names` (count entries), each at most once, as a bit mask. */
static eng_status read_name_set(const ys_map *m, const char *key, const char *const *names,
                                int count, unsigned *mask)
{
    yaml_node_t *v;
    int len;
    char kp[256];
    ENG_TRY(ys_get_seq(m, key, true, 1, 64, &v, &len));
    ys_map_path(m, key, kp, sizeof kp);
    *mask = 0;
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = ys_seq_item(m->doc, v, i);
        int k;
        ENG_TRY(ys_node_enum(m->doc, e, kp, names, count, &k));
        if (*mask & (1u << k))
            return ys_fail(m->doc, e, ENG_ERR_FORMAT, "%s: '%s' listed twice", kp, names[k]);
        *mask |= 1u << k;
    }
    return ENG_OK;
}

static eng_status read_level(ys_doc *d, yaml_node_t *n, const energy_accel *a, int index,
                             energy_level *l, bool *explicit_keeps)
{
    static const char *const keys[] = {"name", "scope", "capacity_words", "word_bits", "keeps",
                                       "read_pj", "write_pj", NULL};
    char where[32];
    snprintf(where, sizeof where, "levels[%d]", index);
    ys_map m;
    ENG_TRY(ys_map_open(d, n, where, keys, &m));
    memset(l, 0, sizeof *l);
    ENG_TRY(ys_get_string(&m, "name", true, l->name, sizeof l->name));
    int s = 0;
    ENG_TRY(ys_get_enum(&m, "scope", true, scope_names, 3, &s));
    l->scope = (energy_scope)s;
    yaml_node_t *cap = ys_map_get(&m, "capacity_words");
    if (s == ENERGY_SCOPE_OFFCHIP && cap)
        return ys_fail(d, cap, ENG_ERR_FORMAT, "%s.capacity_words: an off-chip level is "
                       "unlimited", where);
    ENG_TRY(ys_get_i64(&m, "capacity_words", s != ENERGY_SCOPE_OFFCHIP, 1, INT64_C(1) << 40,
                       &l->capacity_words));
    l->word_bits = a->word_bits;
    ENG_TRY(ys_get_int(&m, "word_bits", false, 1, 1024, &l->word_bits));
    *explicit_keeps = ys_map_get(&m, "keeps") != NULL;
    l->keeps = ALL_TENSORS;     /* Timeloop's default: a level keeps what is not bypassed */
    if (*explicit_keeps)
        ENG_TRY(read_name_set(&m, "keeps", energy_tensor_names, ENERGY_TENSOR_COUNT, &l->keeps));
    ENG_TRY(ys_get_double(&m, "read_pj", true, 0, MAX_PJ, &l->read_pj));
    ENG_TRY(ys_get_double(&m, "write_pj", true, 0, MAX_PJ, &l->write_pj));
    if (index == 0 && (s != ENERGY_SCOPE_OFFCHIP || l->keeps != ALL_TENSORS))
        return ys_fail(d, n, ENG_ERR_FORMAT, "the first level must be off-chip (scope: offchip) "
                       "and keep weights, inputs and outputs");
    if (index > 0 && s == ENERGY_SCOPE_OFFCHIP)
        return ys_fail(d, n, ENG_ERR_FORMAT, "level %s: only the first level can be off-chip",
                       l->name);
    if (index > 0 && l->scope < a->levels[index - 1].scope)
        return ys_fail(d, n, ENG_ERR_FORMAT, "level %s: global levels must come before per-PE "
                       "levels", l->name);
    for (int j = 0; j < index; j++) {
        if (strcmp(a->levels[j].name, l->name) == 0)
            return ys_fail(d, n, ENG_ERR_FORMAT, "level name '%s' used twice", l->name);
        if (*explicit_keeps && s == ENERGY_SCOPE_PE && a->levels[j].scope == ENERGY_SCOPE_PE &&
            (a->levels[j].keeps & l->keeps))
            return ys_fail(d, ys_map_get(&m, "keeps"), ENG_ERR_FORMAT, "level %s: per-PE levels "
                           "are siblings and must keep different tensors (%s keeps one of them)",
                           l->name, a->levels[j].name);
    }
    return ENG_OK;
}

static eng_status read_accel(ys_doc *d, energy_accel *a)
{
    static const char *const keys[] = {"name", "technology", "word_bits", "pe_array", "mac",
                                       "dataflows", "levels", "constraints", NULL};
    static const char *const pe_keys[] = {"rows", "cols", NULL};
    static const char *const mac_keys[] = {"energy_pj", "multiplier_share", NULL};
    yaml_node_t *root_node = ys_doc_root(d);
    if (!root_node) return ys_fail(d, NULL, ENG_ERR_FORMAT, "empty document (see "
                                   "configs/accelerators/ for examples)");
    ys_map root, pe, mac;
    ENG_TRY(ys_map_open(d, root_node, "", keys, &root));
    memset(a, 0, sizeof *a);
    energy_constraints_clear(&a->cons);
    char tech[32];
    ENG_TRY(ys_get_string(&root, "name", true, a->name, sizeof a->name));
    ENG_TRY(ys_get_string(&root, "technology", false, tech, sizeof tech));
    ENG_TRY(ys_get_int(&root, "word_bits", true, 1, 64, &a->word_bits));

    ENG_TRY(ys_get_map(&root, "pe_array", true, pe_keys, &pe));
    ENG_TRY(ys_get_int(&pe, "rows", true, 1, 4096, &a->pe_rows));
    ENG_TRY(ys_get_int(&pe, "cols", true, 1, 4096, &a->pe_cols));

    ENG_TRY(ys_get_map(&root, "mac", true, mac_keys, &mac));
    ENG_TRY(ys_get_double(&mac, "energy_pj", true, 0, MAX_PJ, &a->mac_pj));
    if (!(a->mac_pj > 0))
        return ys_fail(d, ys_map_get(&mac, "energy_pj"), ENG_ERR_FORMAT, "mac.energy_pj: a MAC "
                       "must cost more than 0 pJ");
    ENG_TRY(ys_get_double(&mac, "multiplier_share", true, 0, 1, &a->multiplier_share));

    ENG_TRY(read_name_set(&root, "dataflows", energy_dataflow_names, ENERGY_DATAFLOW_COUNT,
                          &a->dataflows));

    bool explicit_keeps[ENERGY_MAX_LEVELS] = {false};
    yaml_node_t *levels;
    int n_levels;
    ENG_TRY(ys_get_seq(&root, "levels", true, 0, INT_MAX, &levels, &n_levels));
    if (n_levels == 0)
        return ys_fail(d, levels, ENG_ERR_FORMAT, "levels: at least the off-chip level is "
                       "needed");
    if (n_levels > ENERGY_MAX_LEVELS)
        return ys_fail(d, ys_seq_item(d, levels, ENERGY_MAX_LEVELS), ENG_ERR_FORMAT, "levels: "
                       "more than %d levels", ENERGY_MAX_LEVELS);
    for (int i = 0; i < n_levels; i++) {
        ENG_TRY(read_level(d, ys_seq_item(d, levels, i), a, i, &a->levels[i],
                           &explicit_keeps[i]));
        a->n_levels++;
    }
    yaml_node_t *cons = ys_map_get(&root, "constraints");
    if (cons) ENG_TRY(constraints_read(d, cons, a, explicit_keeps));
    if ((a->dataflows & (1u << ENERGY_DATAFLOW_CONSTRAINED)) && !a->cons.spatial)
        return ys_fail(d, ys_map_get(&root, "dataflows"), ENG_ERR_FORMAT, "dataflows: "
                       "'constrained' needs a spatial constraint (rows and cols of the PE "
                       "array)");
    if (energy_accel_validate(a) != ENG_OK)
        return ys_fail(d, root_node, ENG_ERR_FORMAT, "%s", eng_last_error());
    return ENG_OK;
}

eng_status energy_accel_load(const char *path, energy_accel *out)
{
    ys_doc d;
    energy_accel a;
    eng_status st = ys_doc_load(&d, path);
    if (st != ENG_OK) goto done;
    st = read_accel(&d, &a);
    if (st != ENG_OK) goto done;
    snprintf(a.source, sizeof a.source, "%s", path);
    *out = a;
done:
    ys_doc_free(&d);
    /* this loader's contract: a file that cannot be read is ENG_ERR_IO, any bad content
       (a value out of range included) ENG_ERR_FORMAT */
    return st == ENG_ERR_NOT_FOUND ? ENG_ERR_IO : st == ENG_ERR_ARG ? ENG_ERR_FORMAT : st;
}
