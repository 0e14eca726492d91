/*
 * model.c - the energy model proper: layer and network costs, the multiplier substitution
 * and the cache of mappings shared by layers of the same shape.
 */
#include "energy.h"
#include "mapper.h"

#include <stdlib.h>
#include <string.h>

/* What a mapping depends on: the shape and the operand widths, not the multiplier. */
typedef struct cache_key {
    int kind, n, c, h, w, m, r, s, stride, pad, groups, inputs, weight_bits, act_bits;
} cache_key;

typedef struct cache_entry {
    cache_key key;
    energy_layer_cost cost;     /* memory terms, utilization and mapping */
} cache_entry;

struct energy_model {
    energy_accel accel;
    cache_entry *cache;
    int cached, capacity;
};

eng_status energy_model_create(const energy_accel *accel, energy_model **out)
{
    ENG_TRY(energy_accel_validate(accel));
    energy_model *m = calloc(1, sizeof *m);
    if (!m) return eng_error(ENG_ERR_NOMEM, "out of memory");
    m->accel = *accel;
    *out = m;
    return ENG_OK;
}

void energy_model_free(energy_model *m)
{
    if (!m) return;
    free(m->cache);
    free(m);
}

double energy_mac_scale(const energy_layer *l, double multiplier_share)
{
    double exact = l->mul_exact_power_mw > 0 ? l->mul_exact_power_mw
                   : l->mul_is_signed        ? ENERGY_EXACT_MUL8S_POWER_MW
                                             : ENERGY_EXACT_MUL8U_POWER_MW;
    double ax = l->mul_power_mw > 0 ? l->mul_power_mw : exact;
    return 1 - multiplier_share * (1 - ax / exact);
}

static cache_key key_of(const energy_accel *a, const energy_layer *l)
{
    cache_key k;
    memset(&k, 0, sizeof k);
    k.kind = l->kind;
    k.n = l->n, k.c = l->c, k.h = l->h, k.w = l->w, k.m = l->m, k.r = l->r, k.s = l->s;
    k.stride = l->stride, k.pad = l->pad, k.groups = l->groups, k.inputs = l->inputs;
    k.weight_bits = l->weight_bits ? l->weight_bits : a->word_bits;
    k.act_bits = l->act_bits ? l->act_bits : a->word_bits;
    return k;
}

/* Pooling and element-wise layers: inputs read once from DRAM, outputs written once, one
 * adder operation per element combined, or per element scaled and shifted by a standalone
 * batch norm (costed as the non-multiplier part of a MAC). */
static void cost_unmapped(const energy_accel *a, const energy_layer *l, energy_layer_cost *c)
{
    const int abits = l->act_bits ? l->act_bits : a->word_bits;
    const energy_level *dram = &a->levels[0];
    const double frac = (double)abits / dram->word_bits;
    const double out = (double)l->n * l->c * l->p * l->q;
    double in, ops;
    if (l->kind == ENERGY_LAYER_POOL) {
        in = (double)l->n * l->c * l->h * l->w;
        ops = out * (l->r * l->s - 1);
    } else {
        in = (double)l->n * l->c * l->h * l->w * l->inputs;
        ops = out * (l->inputs - 1 + l->batchnorm);   /* a batch norm: one scale-and-shift */
    }
    memset(c, 0, sizeof *c);
    c->reads[0][ENERGY_TENSOR_INPUTS] = in;
    c->writes[0][ENERGY_TENSOR_OUTPUTS] = out;
    c->level_pj[0] = in * dram->read_pj * frac + out * dram->write_pj * frac;
    c->ops = (int64_t)ops;
}

eng_status energy_layer_estimate(energy_model *m, const energy_layer *l, energy_layer_cost *out)
{
    energy_layer t = *l;
    ENG_TRY(energy_layer_finish(&t));
    if (t.p != l->p || t.q != l->q)
        return eng_error(ENG_ERR_ARG, "layer %s: not finished (call energy_layer_finish)", l->name);
    const energy_accel *a = &m->accel;
    energy_layer_cost c;
    if (!energy_layer_multiplies(l)) {
        cost_unmapped(a, l, &c);
    } else {
        cache_key key = key_of(a, l);
        int i = 0;
        while (i < m->cached && memcmp(&m->cache[i].key, &key, sizeof key) != 0) i++;
        if (i == m->cached) {
            if (m->cached == m->capacity) {
                int cap = m->capacity ? 2 * m->capacity : 16;
                cache_entry *grown = realloc(m->cache, sizeof *grown * (size_t)cap);
                if (!grown) return eng_error(ENG_ERR_NOMEM, "out of memory");
                m->cache = grown;
                m->capacity = cap;
            }
            ENG_TRY(mapper_search(a, l, &m->cache[i].cost));
            m->cache[i].key = key;
            m->cached++;
        }
        c = m->cache[i].cost;
    }
    c.macs = energy_layer_macs(l);
    c.params = energy_layer_params(l);
    const double mac = (double)c.macs * a->mac_pj;
    c.mul_pj = mac * a->multiplier_share * energy_mac_scale(l, 1.0);
    c.mac_rest_pj = mac * (1 - a->multiplier_share) +
                    (double)c.ops * a->mac_pj * (1 - a->multiplier_share);
    c.total_pj = c.mul_pj + c.mac_rest_pj;
    for (int k = 0; k < a->n_levels; k++) c.total_pj += c.level_pj[k];
    *out = c;
    return ENG_OK;
}

eng_status energy_net_estimate(energy_model *m, const energy_layer *layers, int count,
                               energy_layer_cost *per_layer, energy_layer_cost *total)
{
    energy_layer_cost sum;
    memset(&sum, 0, sizeof sum);
    double used = 0;
    for (int i = 0; i < count; i++) {
        energy_layer_cost c;
        eng_status st = energy_layer_estimate(m, &layers[i], &c);
        if (st != ENG_OK) return eng_error_prefix(st, "layer %d (%s)", i, layers[i].name);
        if (per_layer) per_layer[i] = c;
        sum.macs += c.macs;
        sum.params += c.params;
        sum.ops += c.ops;
        sum.mul_pj += c.mul_pj;
        sum.mac_rest_pj += c.mac_rest_pj;
        sum.total_pj += c.total_pj;
        used += c.utilization * (double)c.macs;
        for (int k = 0; k < ENERGY_MAX_LEVELS; k++) {
            sum.level_pj[k] += c.level_pj[k];
            for (int t = 0; t < ENERGY_TENSOR_COUNT; t++) {
                sum.reads[k][t] += c.reads[k][t];
                sum.writes[k][t] += c.writes[k][t];
            }
        }
    }
    sum.utilization = sum.macs ? used / (double)sum.macs : 0;
    *total = sum;
    return ENG_OK;
}
