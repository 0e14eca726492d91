/*
 * evo_nsga2.c - the NSGA-II generation loop: checks, initial population, tournament
 * selection, variation, batch evaluation and elitist (mu + lambda) survival; the steady-state
 * breed / insert (mu + 1) pair.
 */
#include "evo_nsga2_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVO_MAX_POP 1000000
#define EVO_MAX_INT_GENE 9007199254740992.0   /* 2^53: integers exact in a double */

void evo_params_default(evo_params *p)
{
    *p = (evo_params){
        .pop_size = 100,
        .n_offspring = 0,
        .p_crossover = 0.9,
        .p_mutation = -1.0,
        .eta_c = 20.0,
        .eta_m = 20.0,
        .int_crossover = EVO_INT_CROSSOVER_UNIFORM,
        .int_mutation = EVO_INT_MUTATION_RESET,
        .creep_step = 1,
        .max_duplicate_tries = 100,
        .seed = 1,
    };
}

static evo_status check_problem(const evo_problem *p)
{
    if (p->n_genes < 1) return evo_error(EVO_ERR_ARG, "problem: n_genes %d < 1", p->n_genes);
    if (!p->genes) return evo_error(EVO_ERR_ARG, "problem: genes is NULL");
    if (p->n_obj < 1) return evo_error(EVO_ERR_ARG, "problem: n_obj %d < 1", p->n_obj);
    if (p->n_con < 0) return evo_error(EVO_ERR_ARG, "problem: n_con %d < 0", p->n_con);
    if (!p->evaluate) return evo_error(EVO_ERR_ARG, "problem: evaluate callback is NULL");
    for (int i = 0; i < p->n_genes; i++) {
        const evo_gene *g = &p->genes[i];
        if ((unsigned)g->kind >= EVO_GENE_KIND_COUNT)
            return evo_error(EVO_ERR_ARG, "gene %d: unknown kind %d", i, (int)g->kind);
        if (!isfinite(g->lo) || !isfinite(g->hi) || g->lo > g->hi)
            return evo_error(EVO_ERR_ARG, "gene %d: bounds [%g, %g] are not a finite interval",
                             i, g->lo, g->hi);
        if (g->kind != EVO_GENE_REAL &&
            (g->lo != floor(g->lo) || g->hi != floor(g->hi) || fabs(g->lo) > EVO_MAX_INT_GENE ||
             fabs(g->hi) > EVO_MAX_INT_GENE))
            return evo_error(EVO_ERR_ARG, "gene %d: discrete bounds [%g, %g] are not integers "
                             "within +-2^53", i, g->lo, g->hi);
    }
    return EVO_OK;
}

static evo_status check_params(const evo_params *p)
{
    if (p->pop_size < 2 || p->pop_size > EVO_MAX_POP)
        return evo_error(EVO_ERR_ARG, "pop_size %d is not in [2, %d]", p->pop_size, EVO_MAX_POP);
    if (p->n_offspring < 0 || p->n_offspring > EVO_MAX_POP)
        return evo_error(EVO_ERR_ARG, "n_offspring %d is not in [0, %d]", p->n_offspring,
                         EVO_MAX_POP);
    if (!(p->p_crossover >= 0 && p->p_crossover <= 1))
        return evo_error(EVO_ERR_ARG, "p_crossover %g is not in [0, 1]", p->p_crossover);
    if (!(p->p_mutation <= 1) || isnan(p->p_mutation))
        return evo_error(EVO_ERR_ARG, "p_mutation %g is not in [0, 1] (or < 0 for 1/n)",
                         p->p_mutation);
    if (!(p->eta_c >= 0 && isfinite(p->eta_c)))
        return evo_error(EVO_ERR_ARG, "eta_c %g is not a finite value >= 0", p->eta_c);
    if (!(p->eta_m >= 0 && isfinite(p->eta_m)))
        return evo_error(EVO_ERR_ARG, "eta_m %g is not a finite value >= 0", p->eta_m);
    if ((unsigned)p->int_crossover >= EVO_INT_CROSSOVER_COUNT)
        return evo_error(EVO_ERR_ARG, "int_crossover %d is unknown", (int)p->int_crossover);
    if ((unsigned)p->int_mutation >= EVO_INT_MUTATION_COUNT)
        return evo_error(EVO_ERR_ARG, "int_mutation %d is unknown", (int)p->int_mutation);
    if (p->creep_step < 1) return evo_error(EVO_ERR_ARG, "creep_step %d < 1", p->creep_step);
    if (p->max_duplicate_tries < 0)
        return evo_error(EVO_ERR_ARG, "max_duplicate_tries %d < 0", p->max_duplicate_tries);
    return EVO_OK;
}

static void pool_free(evo_pool *p)
{
    free(p->x);
    free(p->f);
    free(p->g);
    free(p->viol);
    free(p->crowd);
    free(p->rank);
    free(p->birth);
    free(p->id);
    free(p->parent);
    free(p->seed);
}

static bool pool_alloc(evo_pool *p, size_t cap, int ng, int no, int nc)
{
    p->x = malloc(cap * ng * sizeof(double));
    p->f = malloc(cap * no * sizeof(double));
    p->g = nc ? malloc(cap * nc * sizeof(double)) : NULL;
    p->viol = malloc(cap * sizeof(double));
    p->crowd = malloc(cap * sizeof(double));
    p->rank = malloc(cap * sizeof(int));
    p->birth = malloc(cap * sizeof(int));
    p->id = malloc(cap * sizeof(uint64_t));
    p->parent = malloc(cap * 2 * sizeof(uint64_t));
    p->seed = malloc(cap * sizeof(uint64_t));
    return p->x && p->f && (p->g || !nc) && p->viol && p->crowd && p->rank && p->birth &&
           p->id && p->parent && p->seed;
}

void evo_pool_copy(const evo_nsga2 *ga, evo_pool *dst, int di, const evo_pool *src, int si)
{
    const int ng = ga->prob.n_genes, no = ga->prob.n_obj, nc = ga->prob.n_con;
    memcpy(dst->x + (size_t)di * ng, src->x + (size_t)si * ng, ng * sizeof(double));
    memcpy(dst->f + (size_t)di * no, src->f + (size_t)si * no, no * sizeof(double));
    if (nc) memcpy(dst->g + (size_t)di * nc, src->g + (size_t)si * nc, nc * sizeof(double));
    dst->viol[di] = src->viol[si];
    dst->crowd[di] = src->crowd[si];
    dst->rank[di] = src->rank[si];
    dst->birth[di] = src->birth[si];
    dst->id[di] = src->id[si];
    dst->parent[2 * di] = src->parent[2 * si];
    dst->parent[2 * di + 1] = src->parent[2 * si + 1];
    dst->seed[di] = src->seed[si];
}

evo_status evo_nsga2_create(const evo_problem *problem, const evo_params *params, evo_nsga2 **out)
{
    *out = NULL;
    evo_status st = check_problem(problem);
    if (st == EVO_OK) st = check_params(params);
    if (st != EVO_OK) return st;
    evo_nsga2 *ga = calloc(1, sizeof *ga);
    if (!ga) return evo_error(EVO_ERR_NOMEM, "nsga2: out of memory");
    ga->prob = *problem;
    ga->par = *params;
    if (ga->par.n_offspring == 0) ga->par.n_offspring = ga->par.pop_size;
    if (ga->par.p_mutation < 0) ga->par.p_mutation = 1.0 / problem->n_genes;
    ga->cap = ga->par.pop_size + ga->par.n_offspring;
    const size_t cap = (size_t)ga->cap;
    ga->genes = malloc((size_t)problem->n_genes * sizeof *ga->genes);
    ga->perm = malloc((size_t)ga->par.pop_size * sizeof *ga->perm);
    ga->members = malloc(cap * sizeof *ga->members);
    ga->crowd_scratch = malloc(cap * sizeof *ga->crowd_scratch);
    bool ok = ga->genes && ga->perm && ga->members && ga->crowd_scratch;
    ok = pool_alloc(&ga->cur, cap, problem->n_genes, problem->n_obj, problem->n_con) && ok;
    ok = pool_alloc(&ga->tmp, cap, problem->n_genes, problem->n_obj, problem->n_con) && ok;
    if (!ok) {
        evo_nsga2_free(ga);
        return evo_error(EVO_ERR_NOMEM, "nsga2: out of memory for %zu individuals", cap);
    }
    memcpy(ga->genes, problem->genes, (size_t)problem->n_genes * sizeof *ga->genes);
    ga->prob.genes = ga->genes;
    evo_rng_seed(&ga->rng, params->seed);
    *out = ga;
    return EVO_OK;
}

void evo_nsga2_free(evo_nsga2 *ga)
{
    if (!ga) return;
    pool_free(&ga->cur);
    pool_free(&ga->tmp);
    free(ga->genes);
    free(ga->perm);
    free(ga->members);
    free(ga->crowd_scratch);
    free(ga);
}

/* Checks that a produced genome lies within the bounds (integral for discrete genes). */
static evo_status check_genome(const evo_nsga2 *ga, const double *x, const char *who)
{
    for (int i = 0; i < ga->prob.n_genes; i++) {
        const evo_gene *g = &ga->genes[i];
        if (!(x[i] >= g->lo && x[i] <= g->hi) || (g->kind != EVO_GENE_REAL && x[i] != floor(x[i])))
            return evo_error(EVO_ERR_CALLBACK, "%s produced gene %d = %g outside %s[%g, %g]", who,
                             i, x[i], g->kind == EVO_GENE_REAL ? "" : "the integers of ", g->lo,
                             g->hi);
    }
    return EVO_OK;
}

/* Decides whether candidate x may join: others = the first n_others slots of pool p. */
static bool accept_candidate(evo_nsga2 *ga, const evo_pool *p, const double *x, int n_others,
                             int *rejections)
{
    if (!ga->prob.is_duplicate) return true;
    if (!ga->prob.is_duplicate(ga->prob.ctx, x, p->x, n_others)) {
        *rejections = 0;
        return true;
    }
    if (*rejections >= ga->par.max_duplicate_tries) {
        ga->dup_accepted++;
        *rejections = 0;
        return true;
    }
    (*rejections)++;
    return false;
}

/* Evaluates slots [first, first + n) of pool p and computes their violations. */
static evo_status evaluate_slots(evo_nsga2 *ga, evo_pool *p, int first, int n)
{
    const int ng = ga->prob.n_genes, no = ga->prob.n_obj, nc = ga->prob.n_con;
    for (size_t i = 0; i < (size_t)n * no; i++) p->f[(size_t)first * no + i] = NAN;
    for (size_t i = 0; i < (size_t)n * nc; i++) p->g[(size_t)first * nc + i] = NAN;
    evo_batch b = {
        .n = n, .n_genes = ng, .n_obj = no, .n_con = nc,
        .x = p->x + (size_t)first * ng,
        .f = p->f + (size_t)first * no,
        .g = nc ? p->g + (size_t)first * nc : NULL,
        .id = p->id + first,
        .seed = p->seed + first,
    };
    evo_status st = ga->prob.evaluate(ga->prob.ctx, &b);
    if (st != EVO_OK) return st;
    for (int i = first; i < first + n; i++) {
        double v = 0.0;
        for (int j = 0; j < no; j++)
            if (isnan(p->f[(size_t)i * no + j]))
                return evo_error(EVO_ERR_CALLBACK, "evaluate left objective %d of individual "
                                 "%llu NaN", j, (unsigned long long)p->id[i]);
        for (int j = 0; j < nc; j++) {
            double gj = p->g[(size_t)i * nc + j];
            if (isnan(gj))
                return evo_error(EVO_ERR_CALLBACK, "evaluate left constraint %d of individual "
                                 "%llu NaN", j, (unsigned long long)p->id[i]);
            if (gj > 0) v += gj;
        }
        p->viol[i] = v;
    }
    ga->n_evals += (uint64_t)n;
    return EVO_OK;
}

/* Ranks slots [0, n) of pool p and computes each front's crowding distances. */
static evo_status rank_pool(evo_nsga2 *ga, evo_pool *p, int n)
{
    int n_fronts;
    evo_status st = evo_sort_nondominated(p->f, p->viol, n, ga->prob.n_obj, p->rank, &n_fronts);
    for (int r = 0; st == EVO_OK && r < n_fronts; r++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (p->rank[i] == r) ga->members[k++] = i;
        st = evo_crowding_distance(p->f, ga->prob.n_obj, ga->members, k, ga->crowd_scratch);
        for (int i = 0; st == EVO_OK && i < k; i++) p->crowd[ga->members[i]] = ga->crowd_scratch[i];
    }
    return st;
}

evo_status evo_nsga2_init(evo_nsga2 *ga)
{
    const int mu = ga->par.pop_size, ng = ga->prob.n_genes;
    const evo_rng rng_before = ga->rng;
    const uint64_t evals_before = ga->n_evals;
    evo_pool *p = &ga->tmp;
    evo_status st = EVO_OK;
    int rejections = 0;
    for (int k = 0; k < mu && st == EVO_OK;) {
        double *x = p->x + (size_t)k * ng;
        if (ga->prob.init) {
            st = ga->prob.init(ga->prob.ctx, &ga->rng, x);
            if (st == EVO_OK) st = check_genome(ga, x, "init");
        } else {
            for (int i = 0; i < ng; i++) {
                const evo_gene *g = &ga->genes[i];
                x[i] = g->kind == EVO_GENE_REAL
                           ? g->lo + (g->hi - g->lo) * evo_rng_uniform(&ga->rng)
                           : (double)evo_rng_range(&ga->rng, (int64_t)g->lo, (int64_t)g->hi);
            }
        }
        if (st != EVO_OK || !accept_candidate(ga, p, x, k, &rejections)) continue;
        p->id[k] = (uint64_t)k;
        p->parent[2 * k] = p->parent[2 * k + 1] = EVO_NO_PARENT;
        p->birth[k] = 0;
        p->seed[k] = evo_rng_next(&ga->rng);
        k++;
    }
    ga->n_evals = 0;
    if (st == EVO_OK) st = evaluate_slots(ga, p, 0, mu);
    if (st == EVO_OK) st = rank_pool(ga, p, mu);
    if (st != EVO_OK) {
        ga->rng = rng_before;
        ga->n_evals = evals_before;
        return st;
    }
    evo_pool swap = ga->cur;
    ga->cur = ga->tmp;
    ga->tmp = swap;
    ga->has_pop = true;
    ga->generation = 0;
    ga->next_id = (uint64_t)mu;
    if (ga->prob.on_generation) return ga->prob.on_generation(ga->prob.ctx, ga);
    return EVO_OK;
}

/* The next tournament contestant: successive entries of random permutations of the
 * population (Deb's scheme: every member enters the same number of tournaments). */
static int next_contestant(evo_nsga2 *ga)
{
    const int mu = ga->par.pop_size;
    if (ga->perm_pos == mu) {
        for (int i = 0; i < mu; i++) ga->perm[i] = i;
        for (int i = mu - 1; i > 0; i--) {
            int j = (int)evo_rng_below(&ga->rng, (uint64_t)i + 1);
            int t = ga->perm[i];
            ga->perm[i] = ga->perm[j];
            ga->perm[j] = t;
        }
        ga->perm_pos = 0;
    }
    return ga->perm[ga->perm_pos++];
}

static int select_parent(evo_nsga2 *ga)
{
    int a = next_contestant(ga), b = next_contestant(ga);
    return evo_tournament(ga->cur.rank, ga->cur.crowd, a, b, &ga->rng);
}

/* Fills offspring slots [mu, cap) of the current pool. */
static evo_status make_offspring(evo_nsga2 *ga)
{
    const int mu = ga->par.pop_size, ng = ga->prob.n_genes;
    evo_pool *p = &ga->cur;
    double *child[2] = {ga->tmp.x, ga->tmp.x + ng};   /* tmp is free during a step */
    int rejections = 0;
    ga->perm_pos = mu;
    for (int k = mu; k < ga->cap;) {
        int pa = select_parent(ga), pb = select_parent(ga);
        const double *xa = p->x + (size_t)pa * ng, *xb = p->x + (size_t)pb * ng;
        evo_status st = EVO_OK;
        if (evo_rng_uniform(&ga->rng) < ga->par.p_crossover) {
            if (ga->prob.crossover) {
                st = ga->prob.crossover(ga->prob.ctx, &ga->rng, xa, xb, child[0], child[1]);
            } else {
                evo_crossover_builtin(&ga->rng, ga->genes, ng, &ga->par, xa, xb, child[0],
                                      child[1]);
            }
        } else {
            memcpy(child[0], xa, ng * sizeof(double));
            memcpy(child[1], xb, ng * sizeof(double));
        }
        for (int c = 0; c < 2 && st == EVO_OK; c++) {
            if (ga->prob.mutate) st = ga->prob.mutate(ga->prob.ctx, &ga->rng, child[c]);
            else evo_mutation_builtin(&ga->rng, ga->genes, ng, &ga->par, child[c]);
            if (st == EVO_OK)
                st = check_genome(ga, child[c], ga->prob.crossover || ga->prob.mutate
                                                    ? "crossover/mutate" : "variation");
        }
        if (st != EVO_OK) return st;
        for (int c = 0; c < 2 && k < ga->cap; c++) {
            if (!accept_candidate(ga, p, child[c], k, &rejections)) continue;
            memcpy(p->x + (size_t)k * ng, child[c], ng * sizeof(double));
            p->id[k] = ga->next_id + (uint64_t)(k - mu);
            p->parent[2 * k] = p->id[pa];
            p->parent[2 * k + 1] = p->id[pb];
            p->birth[k] = ga->generation + 1;
            p->seed[k] = evo_rng_next(&ga->rng);
            k++;
        }
    }
    return EVO_OK;
}

static int crowd_desc_cmp(int ia, int ib, const double *crowd)
{
    if (crowd[ia] > crowd[ib]) return -1;
    if (crowd[ia] < crowd[ib]) return 1;
    return (ia > ib) - (ia < ib);
}

/* Insertion sort by decreasing crowding, ties by slot (one front; deterministic). */
static void sort_by_crowding(int *idx, int k, const double *crowd)
{
    for (int i = 1; i < k; i++) {
        int v = idx[i], j = i;
        while (j > 0 && crowd_desc_cmp(idx[j - 1], v, crowd) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* Elitist survival: parents and offspring (slots [0, n) of cur) are copied to tmp and
 * ranked there, so that a failure leaves cur intact; the best pop_size, by front and then by
 * crowding, go back to cur [0, pop_size) with the rank and crowding computed on the merged
 * population, as in Deb's code. */
static evo_status survive(evo_nsga2 *ga, int n)
{
    const int mu = ga->par.pop_size;
    for (int i = 0; i < n; i++) evo_pool_copy(ga, &ga->tmp, i, &ga->cur, i);
    evo_status st = rank_pool(ga, &ga->tmp, n);
    if (st != EVO_OK) return st;
    int taken = 0;
    for (int r = 0; taken < mu; r++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (ga->tmp.rank[i] == r) ga->members[k++] = i;
        if (taken + k > mu) sort_by_crowding(ga->members, k, ga->tmp.crowd);
        for (int i = 0; i < k && taken < mu; i++)
            evo_pool_copy(ga, &ga->cur, taken++, &ga->tmp, ga->members[i]);
    }
    return EVO_OK;
}

evo_status evo_nsga2_step(evo_nsga2 *ga)
{
    if (!ga->has_pop) return evo_error(EVO_ERR_ARG, "nsga2 step: no population (init first)");
    const int mu = ga->par.pop_size, lambda = ga->par.n_offspring;
    const evo_rng rng_before = ga->rng;
    const uint64_t evals_before = ga->n_evals;
    evo_status st = make_offspring(ga);
    if (st == EVO_OK) st = evaluate_slots(ga, &ga->cur, mu, lambda);
    if (st == EVO_OK) st = survive(ga, ga->cap);
    if (st != EVO_OK) {
        ga->rng = rng_before;
        ga->n_evals = evals_before;
        return st;
    }
    ga->next_id += (uint64_t)lambda;
    ga->generation++;
    if (ga->prob.on_generation) return ga->prob.on_generation(ga->prob.ctx, ga);
    return EVO_OK;
}

evo_status evo_nsga2_breed(evo_nsga2 *ga, evo_child *child)
{
    if (!ga->has_pop) return evo_error(EVO_ERR_ARG, "nsga2 breed: no population (init first)");
    const int mu = ga->par.pop_size, ng = ga->prob.n_genes;
    const evo_pool *p = &ga->cur;
    double *pair[2] = {ga->tmp.x, ga->tmp.x + ng};   /* tmp is scratch between calls */
    const evo_rng rng_before = ga->rng;
    int rejections = 0;
    ga->perm_pos = mu;
    for (;;) {
        int pa = select_parent(ga), pb = select_parent(ga);
        const double *xa = p->x + (size_t)pa * ng, *xb = p->x + (size_t)pb * ng;
        evo_status st = EVO_OK;
        if (evo_rng_uniform(&ga->rng) < ga->par.p_crossover) {
            if (ga->prob.crossover)
                st = ga->prob.crossover(ga->prob.ctx, &ga->rng, xa, xb, pair[0], pair[1]);
            else
                evo_crossover_builtin(&ga->rng, ga->genes, ng, &ga->par, xa, xb, pair[0], pair[1]);
        } else {
            memcpy(pair[0], xa, ng * sizeof(double));
            memcpy(pair[1], xb, ng * sizeof(double));
        }
        for (int c = 0; c < 2 && st == EVO_OK; c++) {
            if (ga->prob.mutate) st = ga->prob.mutate(ga->prob.ctx, &ga->rng, pair[c]);
            else evo_mutation_builtin(&ga->rng, ga->genes, ng, &ga->par, pair[c]);
            if (st == EVO_OK)
                st = check_genome(ga, pair[c], ga->prob.crossover || ga->prob.mutate
                                                   ? "crossover/mutate" : "variation");
        }
        if (st != EVO_OK) {
            ga->rng = rng_before;
            return st;
        }
        for (int c = 0; c < 2; c++) {
            if (!accept_candidate(ga, p, pair[c], mu, &rejections)) continue;
            memcpy(child->x, pair[c], ng * sizeof(double));
            child->id = ga->next_id++;
            child->parent[0] = p->id[pa];
            child->parent[1] = p->id[pb];
            child->birth_generation = ga->generation + 1;
            child->seed = evo_rng_next(&ga->rng);
            return EVO_OK;
        }
    }
}

evo_status evo_nsga2_insert(evo_nsga2 *ga, const evo_child *child, const double *f,
                            const double *g)
{
    if (!ga->has_pop) return evo_error(EVO_ERR_ARG, "nsga2 insert: no population (init first)");
    const int mu = ga->par.pop_size, ng = ga->prob.n_genes, no = ga->prob.n_obj,
              nc = ga->prob.n_con;
    evo_status st = check_genome(ga, child->x, "insert: the child");
    if (st != EVO_OK) return evo_error(EVO_ERR_ARG, "nsga2 %s", evo_last_error());
    double v = 0.0;
    for (int j = 0; j < no; j++)
        if (isnan(f[j]))
            return evo_error(EVO_ERR_ARG, "nsga2 insert: objective %d of individual %llu is NaN",
                             j, (unsigned long long)child->id);
    for (int j = 0; j < nc; j++) {
        if (isnan(g[j]))
            return evo_error(EVO_ERR_ARG, "nsga2 insert: constraint %d of individual %llu is NaN",
                             j, (unsigned long long)child->id);
        if (g[j] > 0) v += g[j];
    }
    evo_pool *p = &ga->cur;
    memcpy(p->x + (size_t)mu * ng, child->x, ng * sizeof(double));
    memcpy(p->f + (size_t)mu * no, f, no * sizeof(double));
    if (nc) memcpy(p->g + (size_t)mu * nc, g, nc * sizeof(double));
    p->viol[mu] = v;
    p->id[mu] = child->id;
    p->parent[2 * mu] = child->parent[0];
    p->parent[2 * mu + 1] = child->parent[1];
    p->birth[mu] = child->birth_generation;
    p->seed[mu] = child->seed;
    st = survive(ga, mu + 1);
    if (st == EVO_OK) st = rank_pool(ga, p, mu);
    if (st != EVO_OK) return st;
    ga->n_evals++;
    ga->generation++;
    return EVO_OK;
}

evo_status evo_nsga2_run(evo_nsga2 *ga, int generations)
{
    if (generations < 0) return evo_error(EVO_ERR_ARG, "generations %d < 0", generations);
    evo_status st = ga->has_pop ? EVO_OK : evo_nsga2_init(ga);
    while (st == EVO_OK && ga->generation < generations) st = evo_nsga2_step(ga);
    return st;
}

bool evo_nsga2_has_population(const evo_nsga2 *ga)
{
    return ga->has_pop;
}

int evo_nsga2_generation(const evo_nsga2 *ga)
{
    return ga->generation;
}

uint64_t evo_nsga2_evaluations(const evo_nsga2 *ga)
{
    return ga->n_evals;
}

uint64_t evo_nsga2_duplicates_accepted(const evo_nsga2 *ga)
{
    return ga->dup_accepted;
}

int evo_nsga2_pop_size(const evo_nsga2 *ga)
{
    return ga->par.pop_size;
}

const evo_problem *evo_nsga2_problem(const evo_nsga2 *ga)
{
    return &ga->prob;
}

evo_individual evo_nsga2_individual(const evo_nsga2 *ga, int i)
{
    const evo_pool *p = &ga->cur;
    const int ng = ga->prob.n_genes, no = ga->prob.n_obj, nc = ga->prob.n_con;
    return (evo_individual){
        .x = p->x + (size_t)i * ng,
        .f = p->f + (size_t)i * no,
        .g = nc ? p->g + (size_t)i * nc : NULL,
        .violation = p->viol[i],
        .rank = p->rank[i],
        .crowding = p->crowd[i],
        .id = p->id[i],
        .parent = {p->parent[2 * i], p->parent[2 * i + 1]},
        .birth_generation = p->birth[i],
        .seed = p->seed[i],
    };
}
