/*
 * config.c - the search configuration: each section read through the strict YAML reader
 * (yaml_strict.h) into a cfg_search, with the cross-key checks and path resolution.
 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "yaml_limits.h"
#include "yaml_strict.h"

static const char *const objective_names[CFG_OBJECTIVE_COUNT] = {"error", "energy", "params",
                                                                 "macs", "mul_energy"};

static const char *const strategy_names[] = {"nsga2", "model_search"};
static const char *const algorithm_names[] = {"random", "coordinate_descent",
                                              "constrained_descent"};
static const char *const budget_names[] = {"mul_energy", "energy", "params", "macs"};

const char *cfg_strategy_name(cfg_strategy s)
{
    return (unsigned)s < 2 ? strategy_names[s] : "?";
}

const char *cfg_ms_algorithm_name(cfg_ms_algorithm a)
{
    return (unsigned)a < 3 ? algorithm_names[a] : "?";
}

const char *cfg_objective_name(cfg_objective obj)
{
    return (unsigned)obj < CFG_OBJECTIVE_COUNT ? objective_names[obj] : "?";
}

/* ------------------------------------------------------------------------------------------
 * Reader context and paths
 * ---------------------------------------------------------------------------------------- */

typedef struct reader {
    ys_doc d;
    char dir[CFG_PATH_MAX];     /* directory of the config file ("." when none) */
    const cfg_paths *paths;     /* overrides of the file paths, or NULL */
} reader;

/* Resolves the path under key (node at, already copied to path) relative to the config
 * file's directory and checks that it exists and is a directory (want_dir) or a file. */
static eng_status resolve_path(reader *r, const ys_map *m, const char *key, yaml_node_t *at,
                               char *path, size_t size, bool want_dir)
{
    char kp[160], full[CFG_PATH_MAX];
    ys_map_path(m, key, kp, sizeof kp);
    const char *over = !r->paths ? NULL
                     : strcmp(kp, "dataset.path") == 0 ? r->paths->dataset
                     : strcmp(kp, "energy.accelerator") == 0 ? r->paths->accelerator : NULL;
    if (over) snprintf(path, size, "%s", over);
    if (path[0] == '/' || over) snprintf(full, sizeof full, "%s", path);
    else if ((size_t)snprintf(full, sizeof full, "%s/%s", r->dir, path) >= sizeof full)
        return ys_fail(&r->d, at, ENG_ERR_ARG, "%s: path too long", kp);
    struct stat sb;
    if (r->paths && r->paths->unchecked) {
        snprintf(path, size, "%s", full);
        return ENG_OK;
    }
    if (stat(full, &sb) != 0) {
        if (over)
            return ys_fail(&r->d, at, ENG_ERR_NOT_FOUND, "%s: '%s' (given instead of the "
                           "config's) does not exist", kp, full);
        return ys_fail(&r->d, at, ENG_ERR_NOT_FOUND, "%s: '%s' does not exist (relative paths "
                       "are taken from the config file's directory %s)", kp, full, r->dir);
    }
    if (want_dir != S_ISDIR(sb.st_mode))
        return ys_fail(&r->d, at, ENG_ERR_NOT_FOUND, "%s: '%s' is not a %s", kp, full,
                       want_dir ? "directory" : "file");
    snprintf(path, size, "%s", full);
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Sections
 * ---------------------------------------------------------------------------------------- */

static eng_status read_dataset(reader *r, const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"kind", "path", "train", "validation", "test", NULL};
    static const char *const kinds[CFG_DATASET_COUNT] = {"idx", "cifar10"};
    ys_map m;
    if (!ys_map_get(top, "dataset"))
        return ys_fail(&r->d, top->node, ENG_ERR_FORMAT, "missing required section 'dataset' "
                       "(kind, path, train, validation)");
    ENG_TRY(ys_get_map(top, "dataset", true, keys, &m));
    int kind = CFG_DATASET_IDX;
    ENG_TRY(ys_get_enum(&m, "kind", true, kinds, CFG_DATASET_COUNT, &kind));
    c->dataset.kind = (cfg_dataset_kind)kind;
    ENG_TRY(ys_get_string(&m, "path", true, c->dataset.path, sizeof c->dataset.path));
    ENG_TRY(resolve_path(r, &m, "path", ys_map_get(&m, "path"), c->dataset.path,
                         sizeof c->dataset.path, true));
    c->dataset.train = 5000, c->dataset.validation = 1000, c->dataset.test = 0;
    ENG_TRY(ys_get_int(&m, "train", false, 10, 10000000, &c->dataset.train));
    ENG_TRY(ys_get_int(&m, "validation", false, 10, 10000000, &c->dataset.validation));
    ENG_TRY(ys_get_int(&m, "test", false, 0, 10000000, &c->dataset.test));
    return ENG_OK;
}

static eng_status read_ops(reader *r, const ys_map *m, nas_space *sp)
{
    yaml_node_t *ops;
    ENG_TRY(ys_get_seq(m, "ops", false, 1, NAS_OP_COUNT, &ops, &sp->n_ops));
    if (!ops) {
        sp->n_ops = NAS_OP_COUNT;
        for (int i = 0; i < NAS_OP_COUNT; i++) sp->ops[i] = (nas_op)i;
        return ENG_OK;
    }
    const char *names[NAS_OP_COUNT];
    for (int k = 0; k < NAS_OP_COUNT; k++) names[k] = nas_op_name((nas_op)k);
    for (int i = 0; i < sp->n_ops; i++) {
        yaml_node_t *it = ys_seq_item(&r->d, ops, i);
        const char *w;
        ENG_TRY(ys_node_word(&r->d, it, "search_space.ops", &w));
        int op = nas_op_from_name(w);
        if (op < 0) {
            char all[256] = "";
            for (int k = 0; k < NAS_OP_COUNT; k++) {
                strncat(all, k ? ", " : "", sizeof all - strlen(all) - 1);
                strncat(all, names[k], sizeof all - strlen(all) - 1);
            }
            const char *hint = ys_nearest(w, names, NAS_OP_COUNT);
            return ys_fail(&r->d, it, ENG_ERR_ARG, "search_space.ops: unknown op '%s' (known: "
                           "%s)%s%s%s", w, all, hint ? " (did you mean '" : "", hint ? hint : "",
                           hint ? "'?)" : "");
        }
        for (int k = 0; k < i; k++)
            if ((int)sp->ops[k] == op)
                return ys_fail(&r->d, it, ENG_ERR_ARG, "search_space.ops: '%s' listed twice", w);
        sp->ops[i] = (nas_op)op;
    }
    return ENG_OK;
}

static eng_status read_multipliers(reader *r, const ys_map *m, cfg_search *c)
{
    nas_space *sp = &c->space;
    yaml_node_t *muls;
    ENG_TRY(ys_get_seq(m, "multipliers", false, 1, NAS_MAX_MULS, &muls, &sp->n_muls));
    if (!muls)
        return ys_fail(&r->d, m->node, ENG_ERR_FORMAT, "missing required key "
                       "'search_space.multipliers' (a list of multiplier names such as "
                       "[mul8u_1JFF, mul8u_2AC]; see `evoapproxnas luts`)");
    c->mul_names = calloc((size_t)sp->n_muls, sizeof *c->mul_names);
    c->mul_lines = calloc((size_t)sp->n_muls, sizeof *c->mul_lines);
    if (!c->mul_names || !c->mul_lines) return eng_error(ENG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sp->n_muls; i++) {
        yaml_node_t *it = ys_seq_item(&r->d, muls, i);
        const char *w;
        ENG_TRY(ys_node_word(&r->d, it, "search_space.multipliers", &w));
        if (strlen(w) >= CFG_NAME_MAX)
            return ys_fail(&r->d, it, ENG_ERR_ARG, "search_space.multipliers: name too long");
        for (int k = 0; k < i; k++)
            if (strcmp(c->mul_names[k], w) == 0)
                return ys_fail(&r->d, it, ENG_ERR_ARG, "search_space.multipliers: '%s' listed "
                               "twice", w);
        snprintf(c->mul_names[i], CFG_NAME_MAX, "%s", w);
        c->mul_lines[i] = (int)it->start_mark.line + 1;
    }
    return ENG_OK;
}

static eng_status read_space(reader *r, const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"stages", "nodes", "shared_cells", "ops", "widths",
                                       "width_growth", "stem_width", "stem_stride",
                                       "multipliers", NULL};
    ys_map m;
    nas_space *sp = &c->space;
    if (!ys_map_get(top, "search_space"))
        return ys_fail(&r->d, top->node, ENG_ERR_FORMAT, "missing required section "
                       "'search_space' (at least its 'multipliers' list)");
    ENG_TRY(ys_get_map(top, "search_space", true, keys, &m));
    sp->stages = 2, sp->nodes = 4, sp->shared_cells = false;
    ENG_TRY(ys_get_int(&m, "stages", false, 1, NAS_MAX_STAGES, &sp->stages));
    ENG_TRY(ys_get_int(&m, "nodes", false, 1, NAS_MAX_NODES, &sp->nodes));
    ENG_TRY(ys_get_bool(&m, "shared_cells", false, &sp->shared_cells));
    ENG_TRY(read_ops(r, &m, sp));
    yaml_node_t *widths;
    ENG_TRY(ys_get_seq(&m, "widths", false, 1, NAS_MAX_WIDTHS, &widths, &sp->n_widths));
    for (int i = 0; i < sp->n_widths; i++)
        ENG_TRY(ys_node_int(&r->d, ys_seq_item(&r->d, widths, i), "search_space.widths", 1, 1024,
                            &sp->widths[i]));
    if (!widths) sp->n_widths = 2, sp->widths[0] = 16, sp->widths[1] = 32;
    sp->width_growth = 2, sp->stem_width = 16, sp->stem_stride = 1;
    ENG_TRY(ys_get_int(&m, "width_growth", false, 1, 4, &sp->width_growth));
    ENG_TRY(ys_get_int(&m, "stem_width", false, 1, 1024, &sp->stem_width));
    ENG_TRY(ys_get_int(&m, "stem_stride", false, 1, 2, &sp->stem_stride));
    return read_multipliers(r, &m, c);
}

static eng_status read_nsga2(reader *r, const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"population", "offspring", "generations",
                                       "crossover_rate", "mutation_rate", "exact_share",
                                       "uniform_share", "mode", NULL};
    static const char *const modes[] = {"generational", "asynchronous"};
    ys_map m;
    c->nsga2.population = 16, c->nsga2.generations = 10;
    c->nsga2.crossover_rate = 0.9, c->nsga2.mutation_rate = 0.05;
    c->nsga2.exact_share = 0.25, c->nsga2.uniform_share = 0.25;
    ENG_TRY(ys_get_map(top, "nsga2", false, keys, &m));
    if (!m.node) {
        c->nsga2.offspring = c->nsga2.population;
        return ENG_OK;
    }
    ENG_TRY(ys_get_int(&m, "population", false, 4, 10000, &c->nsga2.population));
    c->nsga2.offspring = c->nsga2.population;
    ENG_TRY(ys_get_int(&m, "offspring", false, 2, 10000, &c->nsga2.offspring));
    ENG_TRY(ys_get_int(&m, "generations", false, 1, 100000, &c->nsga2.generations));
    ENG_TRY(ys_get_double(&m, "crossover_rate", false, 0.0, 1.0, &c->nsga2.crossover_rate));
    ENG_TRY(ys_get_double(&m, "mutation_rate", false, 0.0, 1.0, &c->nsga2.mutation_rate));
    ENG_TRY(ys_get_double(&m, "exact_share", false, 0.0, 1.0, &c->nsga2.exact_share));
    ENG_TRY(ys_get_double(&m, "uniform_share", false, 0.0, 1.0, &c->nsga2.uniform_share));
    int mode = 0;
    ENG_TRY(ys_get_enum(&m, "mode", false, modes, 2, &mode));
    c->nsga2.asynchronous = mode == 1;
    if (c->nsga2.exact_share + c->nsga2.uniform_share > 1.0)
        return ys_fail(&r->d, m.node, ENG_ERR_ARG, "nsga2: exact_share + uniform_share = %g is "
                       "more than 1", c->nsga2.exact_share + c->nsga2.uniform_share);
    return ENG_OK;
}

/* The default block library: every op of the search space at every width a stage of the
 * genome can have (widths x growth^s), pools and identity once, and the genome's reductions
 * as downsampling blocks. */
static void default_blocks(cfg_search *c)
{
    const nas_space *sp = &c->space;
    int *n = &c->model_search.n_blocks;
    for (int i = 0; i < sp->n_ops; i++) {
        nas_op op = sp->ops[i];
        if (op == NAS_OP_MAXPOOL || op == NAS_OP_AVGPOOL || op == NAS_OP_IDENTITY) {
            if (*n < NAS_TOWER_MAX_LIBRARY)
                c->model_search.blocks[(*n)++] = (nas_tower_block){.op = op};
            continue;
        }
        int growth = 1;
        for (int s = 0; s < sp->stages; s++, growth *= sp->width_growth) {
            for (int w = 0; w < sp->n_widths; w++) {
                nas_tower_block b = {.op = op, .width = sp->widths[w] * growth};
                bool seen = false;
                for (int k = 0; k < *n; k++)
                    seen |= !c->model_search.blocks[k].down &&
                            c->model_search.blocks[k].op == op &&
                            c->model_search.blocks[k].width == b.width;
                if (!seen && *n < NAS_TOWER_MAX_LIBRARY) c->model_search.blocks[(*n)++] = b;
            }
        }
    }
    int growth = 1;
    for (int s = 1; s < sp->stages; s++) {
        growth *= sp->width_growth;
        if (*n < NAS_TOWER_MAX_LIBRARY)
            c->model_search.blocks[(*n)++] =
                (nas_tower_block){.down = true, .width = sp->stem_width * growth};
    }
}

/* model_search.blocks: the block library as written. */
static eng_status read_blocks(reader *r, yaml_node_t *blocks, cfg_model_search *ms)
{
    for (int i = 0; i < ms->n_blocks; i++) {
        yaml_node_t *it = ys_seq_item(&r->d, blocks, i);
        const char *w;
        ENG_TRY(ys_node_word(&r->d, it, "model_search.blocks", &w));
        if (nas_tower_block_parse(w, &ms->blocks[i]) != ENG_OK)
            return ys_fail(&r->d, it, ENG_ERR_ARG, "model_search.blocks: %s", eng_last_error());
        char a[32], b[32];
        for (int k = 0; k < i; k++)
            if (strcmp(nas_tower_block_name(&ms->blocks[k], a, sizeof a),
                       nas_tower_block_name(&ms->blocks[i], b, sizeof b)) == 0)
                return ys_fail(&r->d, it, ENG_ERR_ARG, "model_search.blocks: '%s' listed twice",
                               w);
    }
    return ENG_OK;
}

/* model_search.budget (m: the model_search mapping). */
static eng_status read_budget(reader *r, const ys_map *m, cfg_model_search *ms)
{
    static const char *const keys[] = {"kind", "values", NULL};
    ys_map bm;
    ENG_TRY(ys_get_map(m, "budget", false, keys, &bm));
    if (!bm.node) return ENG_OK;
    int kind = CFG_BUDGET_MUL_ENERGY;
    ENG_TRY(ys_get_enum(&bm, "kind", false, budget_names, 4, &kind));
    ms->budget_kind = (cfg_budget_kind)kind;
    yaml_node_t *vals;
    int n;
    ENG_TRY(ys_get_seq(&bm, "values", false, 1, CFG_MAX_BUDGETS, &vals, &n));
    if (!vals)
        return ys_fail(&r->d, bm.node, ENG_ERR_FORMAT, "missing required key "
                       "'model_search.budget.values' (a list of limits, swept in this order)");
    for (int i = 0; i < n; i++) {
        yaml_node_t *it = ys_seq_item(&r->d, vals, i);
        double x;
        ENG_TRY(ys_node_double(&r->d, it, "model_search.budget.values", -HUGE_VAL, HUGE_VAL,
                               &x));
        if (x <= 0)
            return ys_fail(&r->d, it, ENG_ERR_ARG, "model_search.budget.values: '%s' is not a "
                           "positive number", ys_scalar(it));
        if (i > 0 && x <= ms->budgets[i - 1])
            return ys_fail(&r->d, it, ENG_ERR_ARG, "model_search.budget.values: %g is not "
                           "larger than the value before it (sweep in ascending order)", x);
        ms->budgets[ms->n_budgets++] = x;
    }
    return ENG_OK;
}

/* model_search: (read after search_space and nsga2, whose values give the defaults). */
static eng_status read_model_search(reader *r, const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"algorithm", "trials", "random_trials", "exact_share",
                                       "top_k", "batch", "blocks", "min_blocks", "max_blocks",
                                       "ensemble", "budget", NULL};
    ys_map m;
    const nas_space *sp = &c->space;
    cfg_model_search *ms = &c->model_search;
    int trials = c->nsga2.population + c->nsga2.generations * c->nsga2.offspring;
    ms->algorithm = CFG_MS_COORDINATE_DESCENT;
    ms->trials = trials;
    ms->random_trials = trials / 3 > 1 ? trials / 3 : 1;
    ms->exact_share = c->nsga2.exact_share;
    ms->top_k = 5;
    ms->batch = c->nsga2.offspring;
    ms->min_blocks = 1;
    ms->max_blocks = sp->stages * sp->nodes + sp->stages - 1;
    if (ms->max_blocks > NAS_TOWER_MAX_BLOCKS) ms->max_blocks = NAS_TOWER_MAX_BLOCKS;
    ms->budget_kind = CFG_BUDGET_MUL_ENERGY;
    yaml_node_t *n = ys_map_get(top, "model_search");
    if (!n) {
        default_blocks(c);
        if (c->strategy == CFG_STRATEGY_MODEL_SEARCH && ms->trials > 0 &&
            ms->random_trials > ms->trials)
            ms->random_trials = ms->trials;
        return ENG_OK;
    }
    if (c->strategy != CFG_STRATEGY_MODEL_SEARCH)
        return ys_fail(&r->d, n, ENG_ERR_FORMAT, "model_search: given, but the strategy is nsga2 "
                       "(add 'strategy: model_search')");
    ENG_TRY(ys_map_open(&r->d, n, "model_search", keys, &m));
    int algorithm = CFG_MS_COORDINATE_DESCENT;
    ENG_TRY(ys_get_enum(&m, "algorithm", false, algorithm_names, 3, &algorithm));
    ms->algorithm = (cfg_ms_algorithm)algorithm;
    ENG_TRY(ys_get_int(&m, "trials", false, 1, 1000000, &ms->trials));
    ms->random_trials = ms->trials / 3 > 1 ? ms->trials / 3 : 1;
    ENG_TRY(ys_get_int(&m, "random_trials", false, 1, 1000000, &ms->random_trials));
    ENG_TRY(ys_get_double(&m, "exact_share", false, 0.0, 1.0, &ms->exact_share));
    ENG_TRY(ys_get_int(&m, "top_k", false, 1, 10000, &ms->top_k));
    ENG_TRY(ys_get_int(&m, "batch", false, 1, 10000, &ms->batch));
    yaml_node_t *blocks;
    ENG_TRY(ys_get_seq(&m, "blocks", false, 1, NAS_TOWER_MAX_LIBRARY, &blocks, &ms->n_blocks));
    if (blocks) ENG_TRY(read_blocks(r, blocks, ms));
    else default_blocks(c);
    ENG_TRY(ys_get_int(&m, "min_blocks", false, 1, NAS_TOWER_MAX_BLOCKS, &ms->min_blocks));
    if (ms->max_blocks < ms->min_blocks) ms->max_blocks = ms->min_blocks;
    ENG_TRY(ys_get_int(&m, "max_blocks", false, 1, NAS_TOWER_MAX_BLOCKS, &ms->max_blocks));
    if (ms->min_blocks > ms->max_blocks)
        return ys_fail(&r->d, n, ENG_ERR_ARG, "model_search: min_blocks %d is more than "
                       "max_blocks %d", ms->min_blocks, ms->max_blocks);
    if (ms->random_trials > ms->trials)
        return ys_fail(&r->d, n, ENG_ERR_ARG, "model_search: random_trials %d is more than "
                       "trials %d", ms->random_trials, ms->trials);
    ENG_TRY(ys_get_int(&m, "ensemble", false, 0, NAS_TOWER_MAX_ENSEMBLE, &ms->ensemble));
    if (ms->ensemble == 1)
        return ys_fail(&r->d, n, ENG_ERR_ARG, "model_search: ensemble 1 is no ensemble (0 for "
                       "none, 2 to %d)", NAS_TOWER_MAX_ENSEMBLE);
    ENG_TRY(read_budget(r, &m, ms));
    yaml_node_t *bn = ys_map_get(&m, "budget");
    if ((ms->algorithm == CFG_MS_CONSTRAINED_DESCENT) != (bn != NULL))
        return ys_fail(&r->d, bn ? bn : n, ENG_ERR_FORMAT, bn ? "model_search.budget: only "
                       "constrained_descent has a budget" : "model_search: constrained_descent "
                       "needs a 'budget' (kind and values)");
    return ENG_OK;
}

static eng_status read_quant(const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"mode", "weight_bits", "per_channel", "table_gradient",
                                       "ema_momentum", NULL};
    static const char *const modes[] = {"asym", "sym"};
    ys_map m;
    c->quant.mode = CFG_QUANT_ASYM, c->quant.weight_bits = 0, c->quant.per_channel = true;
    c->quant.table_gradient = false, c->quant.ema_momentum = 0.01;
    ENG_TRY(ys_get_map(top, "quantization", false, keys, &m));
    if (!m.node) return ENG_OK;
    int mode = CFG_QUANT_ASYM;
    ENG_TRY(ys_get_enum(&m, "mode", false, modes, 2, &mode));
    c->quant.mode = (cfg_quant_mode)mode;
    ENG_TRY(ys_get_int(&m, "weight_bits", false, 2, 8, &c->quant.weight_bits));
    ENG_TRY(ys_get_bool(&m, "per_channel", false, &c->quant.per_channel));
    ENG_TRY(ys_get_bool(&m, "table_gradient", false, &c->quant.table_gradient));
    ENG_TRY(ys_get_double(&m, "ema_momentum", false, 1e-6, 1.0, &c->quant.ema_momentum));
    return ENG_OK;
}

static eng_status read_training(const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"epochs", "batch_size", "learning_rate", "momentum",
                                       "weight_decay", "schedule", "crop_pad", "hflip",
                                       "checkpoint_minutes", NULL};
    static const char *const schedules[] = {"constant", "cosine"};
    ys_map m;
    c->training.epochs = 1, c->training.batch_size = 64, c->training.learning_rate = 0.05;
    c->training.momentum = 0.9, c->training.weight_decay = 5e-4, c->training.cosine = true;
    c->training.checkpoint_minutes = 5.0;
    ENG_TRY(ys_get_map(top, "training", false, keys, &m));
    if (!m.node) return ENG_OK;
    ENG_TRY(ys_get_int(&m, "epochs", false, 1, 1000, &c->training.epochs));
    ENG_TRY(ys_get_int(&m, "batch_size", false, 1, 4096, &c->training.batch_size));
    ENG_TRY(ys_get_double(&m, "learning_rate", false, 1e-7, 10.0, &c->training.learning_rate));
    ENG_TRY(ys_get_double(&m, "momentum", false, 0.0, 0.999, &c->training.momentum));
    ENG_TRY(ys_get_double(&m, "weight_decay", false, 0.0, 1.0, &c->training.weight_decay));
    int schedule = 1;
    ENG_TRY(ys_get_enum(&m, "schedule", false, schedules, 2, &schedule));
    c->training.cosine = schedule == 1;
    ENG_TRY(ys_get_int(&m, "crop_pad", false, 0, 16, &c->training.crop_pad));
    ENG_TRY(ys_get_bool(&m, "hflip", false, &c->training.hflip));
    ENG_TRY(ys_get_double(&m, "checkpoint_minutes", false, 0.0, 1440.0,
                          &c->training.checkpoint_minutes));
    return ENG_OK;
}

static eng_status read_energy(reader *r, const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"accelerator", NULL};
    ys_map m;
    if (!ys_map_get(top, "energy"))
        return ys_fail(&r->d, top->node, ENG_ERR_FORMAT, "missing required section 'energy' "
                       "(its 'accelerator' file, e.g. accelerators/eyeriss.yaml next to the "
                       "config)");
    ENG_TRY(ys_get_map(top, "energy", true, keys, &m));
    ENG_TRY(ys_get_string(&m, "accelerator", true, c->energy.accelerator,
                          sizeof c->energy.accelerator));
    return resolve_path(r, &m, "accelerator", ys_map_get(&m, "accelerator"),
                        c->energy.accelerator, sizeof c->energy.accelerator, false);
}

static eng_status read_objectives(reader *r, const ys_map *top, cfg_search *c)
{
    yaml_node_t *v;
    c->n_objectives = 2;
    c->objectives[0] = CFG_OBJECTIVE_ERROR, c->objectives[1] = CFG_OBJECTIVE_ENERGY;
    ENG_TRY(ys_get_seq(top, "objectives", false, 2, CFG_MAX_OBJECTIVES, &v, &c->n_objectives));
    if (!v) c->n_objectives = 2;
    for (int i = 0; v && i < c->n_objectives; i++) {
        yaml_node_t *it = ys_seq_item(&r->d, v, i);
        int k;
        ENG_TRY(ys_node_enum(&r->d, it, "objectives", objective_names, CFG_OBJECTIVE_COUNT,
                             &k));
        for (int j = 0; j < i; j++)
            if ((int)c->objectives[j] == k)
                return ys_fail(&r->d, it, ENG_ERR_ARG, "objectives: '%s' listed twice",
                               objective_names[k]);
        c->objectives[i] = (cfg_objective)k;
    }
    return ENG_OK;
}

static eng_status read_constraints(const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"max_params", "max_macs", "max_error", NULL};
    ys_map m;
    c->constraints.max_error = 1.0;
    ENG_TRY(ys_get_map(top, "constraints", false, keys, &m));
    if (!m.node) return ENG_OK;
    int64_t v = 0;
    ENG_TRY(ys_get_i64(&m, "max_params", false, 0, LONG_MAX, &v));
    c->constraints.max_params = (long)v;
    v = 0;
    ENG_TRY(ys_get_i64(&m, "max_macs", false, 0, LONG_MAX, &v));
    c->constraints.max_macs = (long)v;
    ENG_TRY(ys_get_double(&m, "max_error", false, 0.0, 1.0, &c->constraints.max_error));
    return ENG_OK;
}

static eng_status read_finalize(const ys_map *top, cfg_search *c)
{
    static const char *const keys[] = {"epochs", NULL};
    ys_map m;
    c->finalize.epochs = 10;
    ENG_TRY(ys_get_map(top, "finalize", false, keys, &m));
    if (!m.node) return ENG_OK;
    return ys_get_int(&m, "epochs", false, 1, 1000, &c->finalize.epochs);
}

static bool valid_name(const char *s)
{
    if (!s[0]) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static eng_status read_top(reader *r, cfg_search *c)
{
    static const char *const keys[] = {"name", "seed", "output", "dataset", "search_space",
                                       "strategy", "nsga2", "model_search", "quantization",
                                       "training", "energy", "objectives", "constraints",
                                       "parallel", "device", "finalize", NULL};
    static const char *const parallel[] = {"auto", "candidates", "within"};
    static const char *const devices[] = {"cpu", "cuda", "auto"};
    ys_map top;
    ENG_TRY(ys_map_open(&r->d, ys_doc_root(&r->d), "", keys, &top));
    ENG_TRY(ys_get_string(&top, "name", true, c->name, sizeof c->name));
    if (!valid_name(c->name))
        return ys_fail(&r->d, ys_map_get(&top, "name"), ENG_ERR_ARG, "name: '%s' may use only "
                       "letters, digits, '_', '-' and '.'", c->name);
    int64_t seed = 1;
    ENG_TRY(ys_get_i64(&top, "seed", false, 0, LONG_MAX, &seed));
    c->seed = (uint64_t)seed;
    snprintf(c->output, sizeof c->output, "results/%s.db", c->name);
    ENG_TRY(ys_get_string(&top, "output", false, c->output, sizeof c->output));
    ENG_TRY(read_dataset(r, &top, c));
    ENG_TRY(read_space(r, &top, c));
    int strategy = CFG_STRATEGY_NSGA2;
    ENG_TRY(ys_get_enum(&top, "strategy", false, strategy_names, 2, &strategy));
    c->strategy = (cfg_strategy)strategy;
    ENG_TRY(read_nsga2(r, &top, c));
    ENG_TRY(read_model_search(r, &top, c));
    ENG_TRY(read_quant(&top, c));
    ENG_TRY(read_training(&top, c));
    ENG_TRY(read_energy(r, &top, c));
    ENG_TRY(read_objectives(r, &top, c));
    ENG_TRY(read_constraints(&top, c));
    int par = CFG_PARALLEL_AUTO, dev = ENG_DEVICE_CPU;
    ENG_TRY(ys_get_enum(&top, "parallel", false, parallel, 3, &par));
    c->parallel = (cfg_parallel)par;
    ENG_TRY(ys_get_enum(&top, "device", false, devices, 3, &dev));
    c->device_auto = dev == 2;
    c->device = c->device_auto ? ENG_DEVICE_CPU : (eng_device)dev;
    return read_finalize(&top, c);
}

/* ------------------------------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------------------------- */

eng_status cfg_parse(const char *text, const char *path, cfg_search *out)
{
    return cfg_parse_with(text, path, NULL, out);
}

eng_status cfg_parse_with(const char *text, const char *path, const cfg_paths *paths,
                          cfg_search *out)
{
    memset(out, 0, sizeof *out);
    reader r = {.paths = paths};
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(r.dir, sizeof r.dir, "%.*s", (int)(slash - path), path);
    else snprintf(r.dir, sizeof r.dir, ".");
    if (!r.dir[0]) snprintf(r.dir, sizeof r.dir, "/");

    eng_status st = ys_doc_parse(&r.d, path, text, strlen(text));
    if (st != ENG_OK) goto fail;
    if (!ys_doc_root(&r.d)) {
        st = ys_fail(&r.d, NULL, ENG_ERR_FORMAT, "the config is empty (start from "
                     "configs/quickstart.yaml)");
        goto fail;
    }
    out->text = strdup(text);
    if (!out->text) {
        st = eng_error(ENG_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    st = read_top(&r, out);
    if (st != ENG_OK) goto fail;
    ys_doc_free(&r.d);
    return ENG_OK;
fail:
    ys_doc_free(&r.d);
    cfg_free(out);
    return st;
}

eng_status cfg_load(const char *path, cfg_search *out)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    ENG_TRY(yaml_read_file(path, &buf, &len));
    eng_status st = cfg_parse(buf, path, out);
    free(buf);
    return st;
}

void cfg_free(cfg_search *cfg)
{
    if (!cfg) return;
    free(cfg->text);
    free(cfg->mul_names);
    free(cfg->mul_lines);
    memset(cfg, 0, sizeof *cfg);
}
