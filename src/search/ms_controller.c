/*
 * ms_controller.c - Model Search proposals: random phase, coordinate and constrained descent.
 */
#include "ms_controller.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#define MS_MAX_DRAWS 200

int ms_trial_budget(const cfg_model_search *cfg, int t)
{
    if (cfg->algorithm != CFG_MS_CONSTRAINED_DESCENT || cfg->n_budgets == 0 ||
        t < cfg->random_trials)
        return -1;
    long descent = cfg->trials - cfg->random_trials;
    if (descent <= 0) return -1;
    long b = (long)(t - cfg->random_trials) * cfg->n_budgets / descent;
    return b < cfg->n_budgets ? (int)b : cfg->n_budgets - 1;
}

double ms_cost(cfg_budget_kind kind, double mul_energy_pj, double energy_pj, long long params,
               long long macs)
{
    switch (kind) {
    case CFG_BUDGET_ENERGY: return energy_pj;
    case CFG_BUDGET_PARAMS: return (double)params;
    case CFG_BUDGET_MACS: return (double)macs;
    default: return mul_energy_pj;
    }
}

double ms_violation(const cfg_model_search *cfg, double cost)
{
    if (cfg->algorithm != CFG_MS_CONSTRAINED_DESCENT || cfg->n_budgets == 0) return 0;
    double limit = cfg->budgets[cfg->n_budgets - 1];
    return cost > limit ? cost / limit - 1.0 : 0.0;
}

/* Indices of the (up to) k feasible results with the lowest error whose cost is within
 * limit (ties: the earlier first). Returns how many. */
static int top_k(const ms_result *res, int n, int k, double limit, int *idx)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (res[i].violation > 0 || res[i].cost > limit) continue;
        int pos = m < k ? m++ : k;
        if (pos == k && !(res[i].error < res[idx[k - 1]].error)) continue;
        if (pos == k) pos = k - 1;
        while (pos > 0 && res[i].error < res[idx[pos - 1]].error) {
            idx[pos] = idx[pos - 1];
            pos--;
        }
        idx[pos] = i;
    }
    return m;
}

static bool seen(const ms_result *res, int n, const ms_proposal *out, int n_out, uint64_t h)
{
    for (int i = 0; i < n; i++)
        if (res[i].hash == h) return true;
    for (int i = 0; i < n_out; i++)
        if (out[i].hash == h) return true;
    return false;
}

/* Draws one proposal for trial t into *p; *fits: within its budget. */
static eng_status draw(const ms_controller *c, const ms_result *res, int t, uint64_t *rng,
                       const int *parents, int n_parents, ms_proposal *p, bool *fits)
{
    const cfg_model_search *cfg = c->cfg;
    p->parent = -1, p->kind = -1;
    p->budget = ms_trial_budget(cfg, t);
    bool descent = cfg->algorithm != CFG_MS_RANDOM && t >= cfg->random_trials;
    if (descent && n_parents > 0) {
        p->parent = parents[(int)(nas_rng_next(rng) % (uint64_t)n_parents)];
        nas_tower_move_kind kind;
        ENG_TRY(nas_tower_move(&c->space, rng, &res[p->parent].tower, &p->tower, &kind));
        p->kind = (int)kind;
    } else {
        int n_exact = (int)lround(cfg->exact_share * cfg->random_trials);
        int mul = t < n_exact && c->exact_mul >= 0 ? c->exact_mul : -1;
        ENG_TRY(nas_tower_random(&c->space, rng, mul, &p->tower));
    }
    nas_arch arch;
    ENG_TRY(nas_tower_decode(&c->space, &p->tower, &arch));
    p->hash = nas_arch_hash(&arch);
    *fits = true;
    if (p->budget >= 0 && c->cost) {
        double cost = c->cost(c->cost_ctx, &arch);
        if (cost < 0) {
            nas_arch_free(&arch);
            return eng_error(ENG_ERR_ARG, "cannot measure a proposal: %s", eng_last_error());
        }
        *fits = cost <= cfg->budgets[p->budget];
    }
    nas_arch_free(&arch);
    return ENG_OK;
}

eng_status ms_propose(const ms_controller *c, const ms_result *results, int n_results,
                      int batch, int first, int n, ms_proposal *out)
{
    const cfg_model_search *cfg = c->cfg;
    int *parents = malloc(sizeof(int) * (size_t)(cfg->top_k + 1));
    if (!parents) return eng_error(ENG_ERR_NOMEM, "out of memory");
    uint64_t rng = c->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(batch + 1));
    eng_status st = ENG_OK;
    for (int i = 0; i < n && st == ENG_OK; i++) {
        int t = first + i, budget = ms_trial_budget(cfg, t);
        double limit = budget >= 0 ? cfg->budgets[budget] : INFINITY;
        int n_parents = top_k(results, n_results, cfg->top_k, limit, parents);
        /* the first draw that is new and within budget; failing that, after MS_MAX_DRAWS,
         * the first within budget (the evaluator reuses a known network), else the first
         * new one, else the first */
        ms_proposal best = {0};
        int best_score = -1;
        for (int d = 0; d < MS_MAX_DRAWS && best_score < 3; d++) {
            ms_proposal p;
            bool fits;
            st = draw(c, results, t, &rng, parents, n_parents, &p, &fits);
            if (st != ENG_OK) break;
            int score = 2 * fits + !seen(results, n_results, out, i, p.hash);
            if (score > best_score) best = p, best_score = score;
        }
        out[i] = best;
    }
    free(parents);
    return st;
}
