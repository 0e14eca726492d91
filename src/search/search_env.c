/*
 * search_env.c - loading a search's data, multipliers and energy model; measuring and
 * training one candidate.
 */
#include "search_env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_cuda.h"
#include "mpi_pool.h"
#include "nas_build.h"
#include "search_train.h"

static eng_status load_data(search_env *env, unsigned flags)
{
    const cfg_search *c = &env->cfg;
    eng_dataset_kind kind = c->dataset.kind == CFG_DATASET_CIFAR10 ? ENG_DATASET_CIFAR10
                                                                   : ENG_DATASET_IDX;
    eng_dataset all;
    eng_status st = eng_dataset_load(kind, c->dataset.path, true, &all);
    if (st != ENG_OK) return eng_error_prefix(st, "%s: dataset", c->path);
    int need = c->dataset.train + c->dataset.validation;
    if (need > all.count) {
        eng_dataset_free(&all);
        return eng_error(ENG_ERR_ARG, "%s: dataset.train + dataset.validation = %d is more than "
                         "the %d training images in %s", c->path, need, all.count,
                         c->dataset.path);
    }
    /* The validation split is drawn first from the seed; the subset is the start of the rest,
     * so that finalize's full training part never overlaps the validation images. */
    eng_dataset rest;
    st = eng_dataset_split(&all, all.count - c->dataset.validation, c->dataset.validation,
                           c->seed, &rest, &env->val);
    eng_dataset_free(&all);
    if (st != ENG_OK) return st;
    st = eng_dataset_split(&rest, c->dataset.train, 0, c->seed + 1, &env->train, NULL);
    if (st == ENG_OK) eng_dataset_normalize_like(&env->val, &env->train);
    if (st == ENG_OK && (flags & SEARCH_ENV_TEST)) {
        env->full_train = rest;
        rest = (eng_dataset){0};
        st = eng_dataset_load(kind, c->dataset.path, false, &env->test);
        if (st == ENG_OK && c->dataset.test > 0 && c->dataset.test < env->test.count) {
            eng_dataset sub;
            st = eng_dataset_split(&env->test, c->dataset.test, 0, c->seed + 2, &sub, NULL);
            eng_dataset_free(&env->test);
            env->test = sub;
        }
        if (st == ENG_OK) eng_dataset_normalize_like(&env->test, &env->full_train);
    }
    eng_dataset_free(&rest);
    return st;
}

/* Loads the config's multipliers, or takes those of `given` (NULL: load). */
static eng_status load_muls(search_env *env, eng_mul **given)
{
    const cfg_search *c = &env->cfg;
    for (int i = 0; i < c->space.n_muls; i++) {
        eng_status st = ENG_OK;
        if (given) {
            env->muls[i] = given[i];
            given[i] = NULL;
            if (strcmp(env->muls[i]->name, c->mul_names[i]) != 0)
                return eng_error(ENG_ERR_ARG, "%s:%d: search_space.multipliers: '%s' given "
                                 "for '%s'", c->path, c->mul_lines[i], env->muls[i]->name,
                                 c->mul_names[i]);
        } else {
            st = eng_mul_load(c->mul_names[i], &env->muls[i]);
        }
        if (st != ENG_OK) /* the message names the multiplier and `luts list` */
            return eng_error_prefix(st, "%s:%d: search_space.multipliers", c->path,
                                    c->mul_lines[i]);
        const eng_mul *m = env->muls[i];
        if (c->quant.mode == CFG_QUANT_ASYM && m->is_signed)
            return eng_error(ENG_ERR_ARG, "%s:%d: search_space.multipliers: '%s' is signed, but "
                             "quantization.mode asym needs unsigned multipliers (use mode: sym)",
                             c->path, c->mul_lines[i], m->name);
        if (c->quant.weight_bits && m->w_bits != c->quant.weight_bits)
            return eng_error(ENG_ERR_ARG, "%s:%d: search_space.multipliers: '%s' takes %d-bit "
                             "weights, but quantization.weight_bits is %d (remove "
                             "quantization.weight_bits to give each layer its multiplier's "
                             "width)", c->path, c->mul_lines[i], m->name, m->w_bits,
                             c->quant.weight_bits);
        ENG_TRY(eng_mul_exact(m->w_bits, m->is_signed, &env->exact_muls[i]));
        size_t entries = (size_t)256 << m->w_bits;
        env->mul_exact[i] =
            memcmp(env->exact_muls[i]->table, m->table, entries * sizeof(uint16_t)) == 0;
        bool energy_objective = false;
        for (int k = 0; k < c->n_objectives; k++)
            energy_objective |= c->objectives[k] == CFG_OBJECTIVE_ENERGY ||
                                c->objectives[k] == CFG_OBJECTIVE_MUL_ENERGY;
        if (energy_objective && !env->mul_exact[i] && isnan(m->published.power_mw))
            return eng_error(ENG_ERR_ARG, "%s:%d: search_space.multipliers: '%s' has no power "
                             "figure, so an energy objective cannot count it (import it with "
                             "`evoapproxnas luts import FILE --name NAME --power-mw P`)",
                             c->path, c->mul_lines[i], m->name);
    }
    return ENG_OK;
}

static eng_status open_env(search_env *env, cfg_search *cfg, unsigned flags, eng_mul **given,
                           eng_dataset *train, eng_dataset *val)
{
    memset(env, 0, sizeof *env);
    env->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    const cfg_search *c = &env->cfg;
    eng_approx_cfg_default(&env->quant);
    env->quant.mode = c->quant.mode == CFG_QUANT_SYM ? ENG_QUANT_SYM : ENG_QUANT_ASYM;
    env->quant.weight_bits = c->quant.weight_bits;
    env->quant.per_channel = c->quant.per_channel;
    env->quant.table_gradient = c->quant.table_gradient;
    env->quant.ema_momentum = (float)c->quant.ema_momentum;
    eng_device want = c->device;
    if (c->device_auto) { /* one GPU per MPI rank on its node, where the node has GPUs */
        int gpu;
        want = mpi_device_choice(true, c->device, mpi_pool_local_rank(),
                                 eng_cuda_device_count(), &gpu);
        if (want == ENG_DEVICE_CUDA && eng_cuda_init(gpu) != ENG_OK) want = ENG_DEVICE_CPU;
    }
    if (eng_device_resolve(want, &env->device) != ENG_OK)
        snprintf(env->device_note, sizeof env->device_note, "%s", eng_last_error());
    if (env->device == ENG_DEVICE_CUDA && env->quant.table_gradient) {
        env->device = ENG_DEVICE_CPU;
        snprintf(env->device_note, sizeof env->device_note, "the table gradient runs on the "
                 "CPU only");
    }

    eng_status st = load_muls(env, given);
    if (st == ENG_OK && !given) {
        st = energy_accel_load(c->energy.accelerator, &env->accel);
        if (st == ENG_OK) st = energy_model_create(&env->accel, &env->energy);
        if (st != ENG_OK) st = eng_error_prefix(st, "%s: energy.accelerator", c->path);
    }
    if (st == ENG_OK && train) {
        env->train = *train, env->val = *val;
        *train = *val = (eng_dataset){0};
    }
    if (st == ENG_OK && (flags & (SEARCH_ENV_DATA | SEARCH_ENV_TEST))) {
        if (!env->train.count) st = load_data(env, flags);
        if (st == ENG_OK) {
            env->cfg.space.in_channels = env->train.channels;
            env->cfg.space.in_height = env->train.height;
            env->cfg.space.in_width = env->train.width;
            env->cfg.space.classes = env->train.classes;
        }
    } else if (st == ENG_OK) {
        /* Shapes without loading images: the data set kinds have fixed shapes. */
        bool cifar = c->dataset.kind == CFG_DATASET_CIFAR10;
        env->cfg.space.in_channels = cifar ? 3 : 1;
        env->cfg.space.in_height = env->cfg.space.in_width = cifar ? 32 : 28;
        env->cfg.space.classes = 10;
    }
    if (st == ENG_OK) st = nas_space_check(&env->cfg.space);
    if (st != ENG_OK) search_env_close(env);
    return st;
}

eng_status search_env_open(search_env *env, cfg_search *cfg, unsigned flags)
{
    return open_env(env, cfg, flags, NULL, NULL, NULL);
}

eng_status search_env_open_given(search_env *env, cfg_search *cfg, eng_mul **muls,
                                 eng_dataset *train, eng_dataset *val)
{
    return open_env(env, cfg, SEARCH_ENV_DATA, muls, train, val);
}

void search_env_close(search_env *env)
{
    if (!env) return;
    for (int i = 0; i < NAS_MAX_MULS; i++) {
        eng_mul_free(env->muls[i]);
        eng_mul_free(env->exact_muls[i]);
    }
    energy_model_free(env->energy);
    eng_dataset_free(&env->train);
    eng_dataset_free(&env->val);
    eng_dataset_free(&env->full_train);
    eng_dataset_free(&env->test);
    cfg_free(&env->cfg);
    memset(env, 0, sizeof *env);
}

/* Which multipliers an energy estimate puts on the multiplying layers. */
typedef enum energy_case {
    ENERGY_CASE_ACTUAL,         /* each layer's multiplier and weight width */
    ENERGY_CASE_EXACT,          /* exact multipliers of the same widths */
    ENERGY_CASE_EXACT8,         /* exact 8x8 multipliers, 8-bit weights */
} energy_case;

/* The energy layers of an architecture (BN, ReLU and concat are fused or free); layer_of
 * (may be NULL) receives the architecture layer of each. */
static int energy_layers(const search_env *env, const nas_arch *arch, energy_case how,
                         energy_layer *out, int *layer_of)
{
    int n = 0;
    for (int i = 0; i < arch->n; i++) {
        const nas_layer *l = &arch->layers[i];
        energy_layer e = {.n = 1, .c = l->in_c, .h = l->in_h, .w = l->in_w, .m = l->out_c,
                          .r = l->k, .s = l->k, .stride = l->stride, .pad = l->pad,
                          .weight_bits = 8, .act_bits = 8};
        switch (l->kind) {
        case NAS_LAYER_CONV: e.kind = ENERGY_LAYER_CONV; e.batchnorm = true; break;
        case NAS_LAYER_DEPTHWISE:
            e.kind = ENERGY_LAYER_DEPTHWISE, e.groups = l->in_c, e.batchnorm = true;
            break;
        case NAS_LAYER_DENSE:
            e.kind = ENERGY_LAYER_DENSE, e.c = l->in_c * l->in_h * l->in_w, e.h = e.w = 1;
            e.r = e.s = 1, e.stride = 1, e.bias = true;
            break;
        case NAS_LAYER_MAXPOOL:
        case NAS_LAYER_AVGPOOL: e.kind = ENERGY_LAYER_POOL; break;
        case NAS_LAYER_GLOBAL_AVGPOOL:
            e.kind = ENERGY_LAYER_POOL, e.r = l->in_h, e.s = l->in_w, e.stride = 0, e.pad = 0;
            break;
        case NAS_LAYER_ADD: e.kind = ENERGY_LAYER_ELTWISE, e.inputs = 2; break;
        default: continue;
        }
        if (l->mul >= 0) {
            const eng_mul *m = env->muls[l->mul];
            double p = m->published.power_mw;
            bool exact = how != ENERGY_CASE_ACTUAL || env->mul_exact[l->mul];
            e.mul_is_signed = m->is_signed;
            e.weight_bits = how == ENERGY_CASE_EXACT8 ? 8 : m->w_bits;
            /* 0 means "exact 8x8" to the model: a zero-power circuit gets a tiny positive
             * power, an exact 8xN (N < 8) the power of that circuit */
            if (exact || isnan(p))
                e.mul_power_mw = e.weight_bits == 8 ? 0.0
                                                    : eng_mul_exact_power_mw(m->w_bits, false);
            else
                e.mul_power_mw = p > 0 ? p : 1e-9;
        }
        snprintf(e.name, sizeof e.name, "%s%d", nas_layer_kind_name(l->kind), i);
        if (layer_of) layer_of[n] = i;
        out[n++] = e;
    }
    return n;
}

/* Total cost, and per architecture layer when per_layer is not NULL (arch->n entries,
 * zeroed for layers that cost nothing). */
static eng_status estimate(search_env *env, const nas_arch *arch, energy_case how,
                           energy_layer_cost *total, energy_layer_cost *per_layer)
{
    size_t cap = (size_t)(arch->n > 0 ? arch->n : 1);
    energy_layer *layers = calloc(cap, sizeof *layers);
    energy_layer_cost *costs = per_layer ? malloc(sizeof *costs * cap) : NULL;
    int *layer_of = malloc(sizeof *layer_of * cap);
    if (!layers || !layer_of || (per_layer && !costs)) {
        free(layers);
        free(costs);
        free(layer_of);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    int n = energy_layers(env, arch, how, layers, layer_of);
    eng_status st = ENG_OK;
    for (int i = 0; i < n && st == ENG_OK; i++) st = energy_layer_finish(&layers[i]);
    if (st == ENG_OK) st = energy_net_estimate(env->energy, layers, n, costs, total);
    if (st == ENG_OK && per_layer) {
        memset(per_layer, 0, sizeof *per_layer * (size_t)arch->n);
        for (int i = 0; i < n; i++) per_layer[layer_of[i]] = costs[i];
    }
    free(layer_of);
    free(costs);
    free(layers);
    return st;
}

eng_status search_env_layer_costs(search_env *env, const nas_arch *arch,
                                  energy_layer_cost *per_layer, energy_layer_cost *total)
{
    return estimate(env, arch, ENERGY_CASE_ACTUAL, total, per_layer);
}

eng_status search_env_measure(search_env *env, const nas_arch *arch, db_evaluation *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->hash, sizeof e->hash, "%016llx", (unsigned long long)nas_arch_hash(arch));
    energy_layer_cost cost, exact_cost, exact8_cost;
    ENG_TRY(estimate(env, arch, ENERGY_CASE_ACTUAL, &cost, NULL));
    ENG_TRY(estimate(env, arch, ENERGY_CASE_EXACT, &exact_cost, NULL));
    ENG_TRY(estimate(env, arch, ENERGY_CASE_EXACT8, &exact8_cost, NULL));
    e->energy_pj = cost.total_pj;
    e->mul_energy_pj = cost.mul_pj;
    e->mul_energy_exact_pj = exact_cost.mul_pj;
    e->mul_energy_exact8_pj = exact8_cost.mul_pj;
    e->energy_exact8_pj = exact8_cost.total_pj;
    e->mac_energy_pj = cost.mul_pj + cost.mac_rest_pj;
    e->memory_energy_pj = 0;
    for (int i = 0; i < ENERGY_MAX_LEVELS; i++) e->memory_energy_pj += cost.level_pj[i];
    e->params = arch->params;
    e->macs = arch->macs;
    e->mul_layers = arch->mul_layers;
    e->exact = true;
    size_t pos = 0;
    e->multipliers[pos++] = '[';
    for (int i = 0; i < arch->n; i++) {
        const nas_layer *l = &arch->layers[i];
        if (l->mul < 0) continue;
        e->exact &= env->mul_exact[l->mul];
        int w = snprintf(e->multipliers + pos, sizeof e->multipliers - pos, "%s\"%s\"",
                         pos > 1 ? "," : "", env->cfg.mul_names[l->mul]);
        if (w < 0 || (size_t)w >= sizeof e->multipliers - pos - 1)
            return eng_error(ENG_ERR_ARG, "too many multiplying layers to list");
        pos += (size_t)w;
    }
    e->multipliers[pos++] = ']';
    e->multipliers[pos] = '\0';
    pos = 0;
    e->weight_bits[pos++] = '[';
    for (int i = 0; i < arch->n; i++) {
        const nas_layer *l = &arch->layers[i];
        if (l->mul < 0) continue;
        int w = snprintf(e->weight_bits + pos, sizeof e->weight_bits - pos, "%s%d",
                         pos > 1 ? "," : "", env->muls[l->mul]->w_bits);
        if (w < 0 || (size_t)w >= sizeof e->weight_bits - pos - 1)
            return eng_error(ENG_ERR_ARG, "too many multiplying layers to list");
        pos += (size_t)w;
    }
    e->weight_bits[pos++] = ']';
    e->weight_bits[pos] = '\0';
    /* 8xN layers: the widths join the one-line summary (8-bit-only networks read as before) */
    bool narrow = false;
    for (int i = 0; i < arch->n; i++)
        narrow |= arch->layers[i].mul >= 0 && env->muls[arch->layers[i].mul]->w_bits < 8;
    int len = snprintf(e->summary, sizeof e->summary, "%s%s%s", arch->summary,
                       narrow ? " | weight bits " : "", narrow ? e->weight_bits : "");
    if (len >= (int)sizeof e->summary) /* a long list of widths is cut, visibly */
        memcpy(e->summary + sizeof e->summary - 4, "...", 4);
    return ENG_OK;
}

eng_status search_env_train_net(const search_env *env, const nas_arch *arch, bool all_exact,
                                uint64_t seed, int epochs, const eng_dataset *train,
                                volatile sig_atomic_t *stop, const search_train_hooks *hooks,
                                eng_net **out)
{
    *out = NULL;
    const cfg_search *c = &env->cfg;
    eng_net *net;
    ENG_TRY(nas_arch_build(arch, &c->space,
                           (const eng_mul *const *)(all_exact ? env->exact_muls : env->muls),
                           &env->quant,
                           &net, NULL));
    eng_train_cfg tc;
    search_train_recipe(c, epochs, seed, train->count, &tc);
    eng_status st;
    if ((st = eng_net_init_params(net, seed)) != ENG_OK) goto fail;
    if ((st = eng_net_set_device(net, env->device)) != ENG_OK) goto fail;
    if ((st = search_train(net, train, &tc, stop, hooks)) != ENG_OK) goto fail;
    *out = net;
    return ENG_OK;
fail:
    eng_net_free(net);
    return st;
}

eng_status search_env_train(const search_env *env, const nas_arch *arch, uint64_t seed,
                            int epochs, const eng_dataset *train, const eng_dataset *eval,
                            volatile sig_atomic_t *stop, const search_train_hooks *hooks,
                            double *error)
{
    eng_net *net;
    eng_status st = search_env_train_net(env, arch, false, seed, epochs, train, stop, hooks,
                                         &net);
    if (st == ENG_ERR_DIVERGED) {
        *error = 1.0;
        return ENG_OK;
    }
    if (st == ENG_OK) st = search_train_error(net, eval, 256, error);
    eng_net_free(net);
    return st;
}
