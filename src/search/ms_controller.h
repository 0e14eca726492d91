/*
 * ms_controller.h - the Model Search controller: which towers to train next, as a pure
 * function of the run's seed, the batch number and the results archived so far.
 *
 * A run of `trials` proposals goes in batches of `batch` (trained in parallel). Trial t is
 *
 *   random       t < random_trials (every trial for algorithm random): a random tower, all
 *                exact (the run's first exact multiplier) for the first
 *                round(exact_share x random_trials) trials, else with random multipliers;
 *   descent      later trials: one move (nas_tower_move) from a tower drawn uniformly from
 *                the top_k feasible results by validation error (ties: earlier first);
 *   constrained  the same, the descent trials split evenly over the budgets in their order
 *                (budget b gets trials [b, b+1) x share): only results whose cost is within
 *                budget b are parents, and a proposal over budget b is redrawn before it is
 *                trained (up to 200 draws; a last one over it is trained and archived
 *                infeasible, see ms_violation).
 *
 * Every proposal is a network new to the results and to its batch (redrawn otherwise, up to
 * 200 draws). With no parent to descend from (nothing feasible under the budget yet) a
 * descent trial draws a random tower. Proposals of one batch depend only on earlier batches,
 * so the same seed and archive give the same proposals whatever the thread count, and a
 * resumed run that rebuilds the results from its archive proposes what the first run would
 * have.
 */
#ifndef MS_CONTROLLER_H
#define MS_CONTROLLER_H

#include <stdint.h>

#include "config.h"
#include "eng_common.h"
#include "nas_tower.h"

/* One archived result, in the order of the trials. */
typedef struct ms_result {
    nas_tower tower;
    uint64_t hash;              /* nas_arch_hash of its network */
    double error;               /* validation error */
    double cost;                /* the budget's quantity (ms_cost) */
    double violation;           /* total constraint violation (0 = feasible) */
} ms_result;

/* The cost a proposal is checked against before training: the budget kind's quantity of the
 * measured network (db_evaluation fields of search_env_measure), or -1 on failure. */
typedef double (*ms_cost_fn)(void *ctx, const nas_arch *arch);

typedef struct ms_controller {
    const cfg_model_search *cfg;
    nas_tower_space space;
    uint64_t seed;
    int exact_mul;              /* the first exact multiplier, -1 when none */
    ms_cost_fn cost;            /* constrained descent only (may be NULL otherwise) */
    void *cost_ctx;
} ms_controller;

/* One proposal. */
typedef struct ms_proposal {
    nas_tower tower;
    uint64_t hash;
    int parent;                 /* index into the results of the tower it moved from, -1 */
    int budget;                 /* index of its budget, -1 when none */
    int kind;                   /* nas_tower_move_kind, -1 for a random tower */
} ms_proposal;

/* The budget index of trial t (-1: random phase or no budgets). */
int ms_trial_budget(const cfg_model_search *cfg, int t);

/* The budget's quantity of an evaluated network: mul_energy_pj, energy_pj, params or macs. */
double ms_cost(cfg_budget_kind kind, double mul_energy_pj, double energy_pj, long long params,
               long long macs);

/* The violation Model Search adds to a result of constrained descent: how far its cost is
 * over the largest budget, relatively (0 within it). Zero for the other algorithms. */
double ms_violation(const cfg_model_search *cfg, double cost);

/* Proposes trials first .. first+n-1 (batch number `batch`) from results[0..n_results-1].
 * out: n proposals. ENG_ERR_SHAPE/ARG when the space admits no tower or move (nas_tower.h);
 * a failing cost function is ENG_ERR_ARG. */
eng_status ms_propose(const ms_controller *c,
                      const ms_result *results, int n_results,   // archived so far
                      int batch,                                 // batch number (seeds it)
                      int first, int n,                          // trials to propose
                      ms_proposal *out);

#endif /* MS_CONTROLLER_H */
