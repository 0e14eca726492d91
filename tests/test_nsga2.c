/*
 * test_nsga2.c - the generic NSGA-II: RNG, dominance, non-dominated sorting, crowding and
 * tournament on hand-computed cases, variation operators, callbacks, constraints, duplicates,
 * and save/restore equivalence of a run.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evo_nsga2.h"
#include "evo_problems.h"

/* ------------------------------------------------------------------------------------------
 * RNG
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_rng_reference_values)
{
    /* xoshiro256** from state {1, 2, 3, 4}: outputs of the authors' reference code */
    evo_rng r = {{1, 2, 3, 4}};
    ck_assert_uint_eq(evo_rng_next(&r), 11520u);
    ck_assert_uint_eq(evo_rng_next(&r), 0u);
    ck_assert_uint_eq(evo_rng_next(&r), 1509978240u);
    ck_assert_uint_eq(evo_rng_next(&r), 1215971899390074240u);
    /* seeding is splitmix64: its published first output for seed 1234567 */
    evo_rng_seed(&r, 1234567);
    ck_assert_uint_eq(r.s[0], 0x599ed017fb08fc85u);
    ck_assert_uint_eq(r.s[1], 0x2c73f08458540fa5u);
}
END_TEST

START_TEST(test_rng_save_restore)
{
    evo_rng a, b;
    evo_rng_seed(&a, 99);
    for (int i = 0; i < 10; i++) evo_rng_next(&a);
    unsigned char bytes[EVO_RNG_STATE_SIZE];
    evo_rng_save(&a, bytes);
    /* little-endian words */
    ck_assert_uint_eq(bytes[0], (unsigned)(a.s[0] & 0xff));
    ck_assert_uint_eq(bytes[31], (unsigned)(a.s[3] >> 56));
    evo_rng_seed(&b, 1);
    ck_assert_int_eq(evo_rng_restore(&b, bytes), EVO_OK);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(evo_rng_next(&a), evo_rng_next(&b));
    unsigned char zero[EVO_RNG_STATE_SIZE] = {0};
    evo_rng before = b;
    ck_assert_int_eq(evo_rng_restore(&b, zero), EVO_ERR_FORMAT);
    ck_assert_mem_eq(&before, &b, sizeof b);
}
END_TEST

START_TEST(test_rng_ranges)
{
    evo_rng r;
    evo_rng_seed(&r, 5);
    int seen[7] = {0};
    double sum = 0;
    for (int i = 0; i < 70000; i++) {
        int64_t v = evo_rng_range(&r, -3, 3);
        ck_assert(v >= -3 && v <= 3);
        seen[v + 3]++;
        double u = evo_rng_uniform(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
    }
    for (int i = 0; i < 7; i++) ck_assert(seen[i] > 9000 && seen[i] < 11000);
    ck_assert_double_eq_tol(sum / 70000, 0.5, 0.01);
    ck_assert_uint_eq(evo_rng_below(&r, 1), 0);
    evo_rng c1, c2, r2;
    evo_rng_seed(&r2, 5);
    evo_rng_seed(&r, 5);
    evo_rng_split(&r, &c1);
    evo_rng_split(&r2, &c2);
    ck_assert_uint_eq(evo_rng_next(&c1), evo_rng_next(&c2));
    ck_assert_uint_ne(evo_rng_next(&c1), evo_rng_next(&r));
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Dominance, sorting, crowding, tournament (hand-computed)
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_dominance)
{
    double a[2] = {1, 2}, b[2] = {1, 3}, c[2] = {0, 4};
    ck_assert(evo_dominates(a, 0, b, 0, 2));
    ck_assert(!evo_dominates(b, 0, a, 0, 2));
    ck_assert(!evo_dominates(a, 0, a, 0, 2));        /* equal: neither */
    ck_assert(!evo_dominates(a, 0, c, 0, 2));        /* incomparable */
    ck_assert(!evo_dominates(c, 0, a, 0, 2));
    ck_assert(evo_dominates(b, 0, a, 0.1, 2));       /* feasible beats infeasible */
    ck_assert(!evo_dominates(a, 0.1, b, 0, 2));
    ck_assert(evo_dominates(b, 0.1, a, 0.2, 2));     /* less violation wins */
    ck_assert(!evo_dominates(a, 0.2, b, 0.2, 2));    /* equal violation: neither */
    ck_assert(!evo_dominates(b, 0.2, a, 0.2, 2));
}
END_TEST

START_TEST(test_sort_hand_case)
{
    /* feasible: fronts {0,1,2}, {3,5}, {4}; infeasible after them by violation: {7,8}, {6} */
    const double f[9][2] = {{1, 5}, {2, 3}, {3, 1}, {2, 4}, {3, 4},
                            {4, 2}, {0, 0}, {9, 9}, {5, 5}};
    const double viol[9] = {0, 0, 0, 0, 0, 0, 0.5, 0.2, 0.2};
    const int want[9] = {0, 0, 0, 1, 2, 1, 4, 3, 3};
    int rank[9], fronts;
    ck_assert_int_eq(evo_sort_nondominated(&f[0][0], viol, 9, 2, rank, &fronts), EVO_OK);
    ck_assert_int_eq(fronts, 5);
    for (int i = 0; i < 9; i++) ck_assert_int_eq(rank[i], want[i]);
    /* without violations (0,0) dominates everything, then (3,4) < (5,5) < (9,9) */
    const int want_free[9] = {1, 1, 1, 2, 3, 2, 0, 5, 4};
    ck_assert_int_eq(evo_sort_nondominated(&f[0][0], NULL, 9, 2, rank, &fronts), EVO_OK);
    ck_assert_int_eq(fronts, 6);
    for (int i = 0; i < 9; i++) ck_assert_int_eq(rank[i], want_free[i]);
}
END_TEST

START_TEST(test_sort_three_objectives_and_large)
{
    const double f[4][3] = {{1, 2, 3}, {3, 2, 1}, {2, 3, 4}, {1, 2, 3}};
    int rank[4];
    ck_assert_int_eq(evo_sort_nondominated(&f[0][0], NULL, 4, 3, rank, NULL), EVO_OK);
    ck_assert_int_eq(rank[0], 0);
    ck_assert_int_eq(rank[1], 0);
    ck_assert_int_eq(rank[2], 1);
    ck_assert_int_eq(rank[3], 0);   /* a duplicate is not dominated */
    /* a chain of 200 points (i, i): rank i, crossing the 64-bit word boundaries */
    double chain[200][2];
    int r[200], fronts;
    for (int i = 0; i < 200; i++) chain[i][0] = chain[i][1] = 199 - i;
    ck_assert_int_eq(evo_sort_nondominated(&chain[0][0], NULL, 200, 2, r, &fronts), EVO_OK);
    ck_assert_int_eq(fronts, 200);
    for (int i = 0; i < 200; i++) ck_assert_int_eq(r[i], 199 - i);
}
END_TEST

START_TEST(test_crowding_hand_case)
{
    /* f1 range 4, f2 range 3: (1,1.5) = 3/4 + 2/3, (3,1) = 3/4 + 1.5/3 */
    const double f[5][2] = {{0, 3}, {9, 9}, {1, 1.5}, {3, 1}, {4, 0}};
    const int members[4] = {0, 2, 3, 4};
    double c[4];
    ck_assert_int_eq(evo_crowding_distance(&f[0][0], 2, members, 4, c), EVO_OK);
    ck_assert(isinf(c[0]) && isinf(c[3]));
    ck_assert_double_eq_tol(c[1], 0.75 + 2.0 / 3.0, 1e-15);
    ck_assert_double_eq_tol(c[2], 0.75 + 0.5, 1e-15);
    /* two members: both extremes; a constant objective adds nothing */
    const double g[3][2] = {{0, 1}, {1, 1}, {2, 1}};
    const int all[3] = {0, 1, 2};
    ck_assert_int_eq(evo_crowding_distance(&g[0][0], 2, all, 2, c), EVO_OK);
    ck_assert(isinf(c[0]) && isinf(c[1]));
    ck_assert_int_eq(evo_crowding_distance(&g[0][0], 2, all, 3, c), EVO_OK);
    ck_assert_double_eq_tol(c[1], 1.0, 1e-15);
}
END_TEST

START_TEST(test_tournament)
{
    const int rank[4] = {0, 1, 1, 1};
    const double crowd[4] = {0.1, 5.0, 2.0, 2.0};
    ck_assert_int_lt(evo_crowded_compare(0, 0.1, 1, 5.0), 0);
    ck_assert_int_gt(evo_crowded_compare(1, 2.0, 1, 5.0), 0);
    ck_assert_int_eq(evo_crowded_compare(1, INFINITY, 1, INFINITY), 0);
    evo_rng r, before;
    evo_rng_seed(&r, 3);
    before = r;
    ck_assert_int_eq(evo_tournament(rank, crowd, 1, 0, &r), 0);      /* lower rank */
    ck_assert_int_eq(evo_tournament(rank, crowd, 2, 1, &r), 1);      /* larger crowding */
    ck_assert_mem_eq(&r, &before, sizeof r);                         /* no draw needed */
    int wins2 = 0;
    for (int i = 0; i < 1000; i++) wins2 += evo_tournament(rank, crowd, 2, 3, &r) == 2;
    ck_assert(wins2 > 400 && wins2 < 600);                           /* a fair coin */
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Variation operators
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_sbx_properties)
{
    evo_rng r;
    evo_rng_seed(&r, 11);
    int crossed = 0;
    for (int i = 0; i < 2000; i++) {
        double c1, c2;
        evo_sbx(&r, 20, 0.0, 1.0, 0.2, 0.7, &c1, &c2);
        ck_assert(c1 >= 0 && c1 <= 1 && c2 >= 0 && c2 <= 1);
        crossed += !(c1 == 0.2 && c2 == 0.7);
        /* far from the bounds both spread factors agree: the children keep the mean */
        evo_sbx(&r, 20, -1e9, 1e9, 0.2, 0.7, &c1, &c2);
        ck_assert_double_eq_tol(c1 + c2, 0.9, 1e-12);
        /* identical parents give copies */
        evo_sbx(&r, 20, 0.0, 1.0, 0.4, 0.4, &c1, &c2);
        ck_assert(c1 == 0.4 && c2 == 0.4);
    }
    ck_assert(crossed > 800 && crossed < 1200);   /* each gene crossed with probability 1/2 */
}
END_TEST

START_TEST(test_polynomial_mutation_properties)
{
    evo_rng r;
    evo_rng_seed(&r, 12);
    double mean = 0, small = 0;
    for (int i = 0; i < 20000; i++) {
        double y = evo_polynomial_mutation(&r, 20, -1.0, 1.0, 0.0);
        ck_assert(y >= -1 && y <= 1);
        mean += y / 20000;
        small += fabs(y) < 0.2;   /* eta 20: |delta| < 0.1 of the range with P = 1 - 0.9^21 */
        double e = evo_polynomial_mutation(&r, 20, 0.0, 1.0, 1.0);
        ck_assert(e >= 0 && e <= 1);
    }
    ck_assert_double_eq_tol(mean, 0.0, 0.005);
    ck_assert_double_eq_tol(small / 20000, 1.0 - pow(0.9, 21), 0.01);
    ck_assert(evo_polynomial_mutation(&r, 20, 2.0, 2.0, 2.0) == 2.0);
}
END_TEST

static const evo_gene mixed_genes[8] = {
    {EVO_GENE_REAL, 0, 1}, {EVO_GENE_REAL, 0, 1}, {EVO_GENE_REAL, 0, 1},
    {EVO_GENE_INT, 0, 10}, {EVO_GENE_INT, 0, 10}, {EVO_GENE_INT, 0, 10},
    {EVO_GENE_CAT, 0, 4},  {EVO_GENE_CAT, 0, 4},
};

START_TEST(test_discrete_crossover)
{
    evo_params par;
    evo_params_default(&par);
    evo_rng r;
    evo_rng_seed(&r, 13);
    const double p1[8] = {0.1, 0.2, 0.3, 0, 0, 0, 0, 0};
    const double p2[8] = {0.9, 0.8, 0.7, 10, 10, 10, 4, 4};
    for (int kind = 0; kind < EVO_INT_CROSSOVER_COUNT; kind++) {
        par.int_crossover = (evo_int_crossover)kind;
        int swapped = 0;
        for (int t = 0; t < 300; t++) {
            double c1[8], c2[8];
            evo_crossover_builtin(&r, mixed_genes, 8, &par, p1, p2, c1, c2);
            int from2 = 0, switches = 0;
            for (int i = 3; i < 8; i++) {
                ck_assert(c1[i] == p1[i] || c1[i] == p2[i]);
                ck_assert(c2[i] == (c1[i] == p1[i] ? p2[i] : p1[i]));   /* complementary */
                bool b = c1[i] == p2[i];
                from2 |= b << (i - 3);
                if (i > 3 && b != (c1[i - 1] == p2[i - 1])) switches++;
            }
            if (kind == EVO_INT_CROSSOVER_ONE_POINT) {   /* one tail swapped */
                ck_assert_int_eq(switches, 1);
                ck_assert(!(from2 & 1));
            }
            if (kind == EVO_INT_CROSSOVER_TWO_POINT) {   /* a middle segment */
                ck_assert_int_eq(switches, 2);
                ck_assert(!(from2 & 1) && !(from2 & 16));
            }
            swapped += from2 != 0;
            for (int i = 0; i < 3; i++) ck_assert(c1[i] >= 0 && c1[i] <= 1);
        }
        ck_assert_int_gt(swapped, 250);   /* the operators do swap genes */
    }
}
END_TEST

START_TEST(test_discrete_mutation)
{
    evo_params par;
    evo_params_default(&par);
    par.p_mutation = 1.0;
    evo_rng r;
    evo_rng_seed(&r, 14);
    int seen_int[11] = {0}, seen_cat[5] = {0};
    for (int t = 0; t < 2000; t++) {
        double x[8] = {0.5, 0.5, 0.5, 5, 0, 10, 2, 0};
        evo_mutation_builtin(&r, mixed_genes, 8, &par, x);
        ck_assert(x[3] != 5 && x[6] != 2);   /* reset picks another value */
        for (int i = 3; i < 8; i++) ck_assert(x[i] == floor(x[i]));
        seen_int[(int)x[3]]++;
        seen_cat[(int)x[6]]++;
    }
    for (int v = 0; v <= 10; v++) ck_assert(v == 5 ? seen_int[v] == 0 : seen_int[v] > 100);
    for (int v = 0; v < 5; v++) ck_assert(v == 2 ? seen_cat[v] == 0 : seen_cat[v] > 350);
    par.int_mutation = EVO_INT_MUTATION_CREEP;
    par.creep_step = 2;
    int steps[5] = {0};
    for (int t = 0; t < 2000; t++) {
        double x[8] = {0.5, 0.5, 0.5, 5, 0, 10, 2, 0};
        evo_mutation_builtin(&r, mixed_genes, 8, &par, x);
        ck_assert(fabs(x[3] - 5) >= 1 && fabs(x[3] - 5) <= 2);
        steps[(int)x[3] - 3]++;
        ck_assert(x[4] >= 0 && x[4] <= 2);     /* clamped at the bounds */
        ck_assert(x[5] >= 8 && x[5] <= 10);
        ck_assert(x[6] != 2);                  /* categorical genes are still reset */
    }
    ck_assert(steps[0] > 0 && steps[1] > 0 && steps[2] == 0 && steps[3] > 0 && steps[4] > 0);
}
END_TEST

START_TEST(test_genome_find)
{
    const double others[3][2] = {{1, 2}, {3, 4}, {1, 2}};
    const double a[2] = {1, 2}, b[2] = {2, 1};
    ck_assert_int_eq(evo_genome_find(a, &others[0][0], 3, 2), 0);
    ck_assert_int_eq(evo_genome_find(b, &others[0][0], 3, 2), -1);
    ck_assert_int_eq(evo_genome_find(a, &others[0][0], 0, 2), -1);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * The algorithm through its callbacks
 * ---------------------------------------------------------------------------------------- */

typedef struct mixed_ctx {
    int calls;              /* evaluate calls */
    int fail_at;            /* evaluate call that fails (0: none) */
    int last_n;             /* size of the last batch */
    uint64_t last_first_id; /* id of its first individual */
    int hook_calls;
    int stop_at;            /* generation at which the hook stops the run (-1: never) */
    bool write_nan;
    bool check_distinct;    /* hook asserts that the population has no duplicates */
} mixed_ctx;

/* A mixed-genome, constrained problem: feasible when x2 <= 0.5. */
static evo_status mixed_eval(void *vctx, const evo_batch *b)
{
    mixed_ctx *ctx = vctx;
    ctx->calls++;
    if (ctx->calls == ctx->fail_at) return evo_error(EVO_ERR_CALLBACK, "planned failure");
    ctx->last_n = b->n;
    ctx->last_first_id = b->id[0];
    for (int i = 0; i < b->n; i++) {
        const double *x = b->x + (size_t)i * b->n_genes;
        double *f = b->f + (size_t)i * b->n_obj;
        f[0] = x[0] + 0.1 * x[3] + (x[6] == 2 ? 0 : 0.5);
        f[1] = (1 - x[0]) + 0.1 * (10 - x[4]) + x[1] * x[1] + 0.05 * x[5] + (x[7] == 1 ? 0 : 0.3);
        if (ctx->write_nan) f[1] = NAN;
        b->g[i] = x[2] - 0.5;
    }
    return EVO_OK;
}

static evo_status mixed_hook(void *vctx, const evo_nsga2 *ga)
{
    mixed_ctx *ctx = vctx;
    ctx->hook_calls++;
    if (ctx->check_distinct) {
        const int ng = evo_nsga2_problem(ga)->n_genes;
        for (int i = 1; i < evo_nsga2_pop_size(ga); i++) {
            evo_individual a = evo_nsga2_individual(ga, i);
            for (int j = 0; j < i; j++)
                ck_assert_int_ne(memcmp(a.x, evo_nsga2_individual(ga, j).x, ng * sizeof(double)),
                                 0);
        }
    }
    if (evo_nsga2_generation(ga) == ctx->stop_at) return EVO_ERR_INTERRUPTED;
    return EVO_OK;
}

static bool exact_duplicate(void *ctx, const double *x, const double *others, int n_others)
{
    (void)ctx;
    return evo_genome_find(x, others, n_others, 8) >= 0;
}

static evo_problem mixed_problem(mixed_ctx *ctx)
{
    *ctx = (mixed_ctx){.stop_at = -1};
    return (evo_problem){.n_genes = 8, .genes = mixed_genes, .n_obj = 2, .n_con = 1, .ctx = ctx,
                         .evaluate = mixed_eval, .on_generation = mixed_hook,
                         .is_duplicate = exact_duplicate};
}

static evo_params small_params(uint64_t seed)
{
    evo_params p;
    evo_params_default(&p);
    p.pop_size = 24;
    p.seed = seed;
    p.int_crossover = EVO_INT_CROSSOVER_TWO_POINT;
    p.int_mutation = EVO_INT_MUTATION_CREEP;
    return p;
}

static unsigned char *save_state(const evo_nsga2 *ga, size_t *size)
{
    unsigned char *buf;
    ck_assert_int_eq(evo_nsga2_save(ga, &buf, size), EVO_OK);
    return buf;
}

START_TEST(test_run_mixed_constrained)
{
    mixed_ctx ctx;
    evo_problem prob = mixed_problem(&ctx);
    ctx.check_distinct = true;
    evo_params par = small_params(3);
    par.n_offspring = 10;
    evo_nsga2 *ga;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert(!evo_nsga2_has_population(ga));
    ck_assert_int_eq(evo_nsga2_step(ga), EVO_ERR_ARG);   /* no population yet */
    ck_assert_int_eq(evo_nsga2_init(ga), EVO_OK);
    ck_assert_int_eq(ctx.last_n, 24);
    ck_assert_uint_eq(ctx.last_first_id, 0);
    for (int i = 0; i < 24; i++) {
        evo_individual ind = evo_nsga2_individual(ga, i);
        ck_assert_uint_eq(ind.parent[0], EVO_NO_PARENT);
        ck_assert_int_eq(ind.birth_generation, 0);
    }
    ck_assert_int_eq(evo_nsga2_run(ga, 60), EVO_OK);
    ck_assert_int_eq(ctx.last_n, 10);                     /* lambda children per step */
    ck_assert_uint_eq(ctx.last_first_id, 24 + 59 * 10);
    ck_assert_uint_eq(evo_nsga2_evaluations(ga), 24 + 60 * 10);
    ck_assert_int_eq(ctx.hook_calls, 61);
    ck_assert_int_eq(evo_nsga2_generation(ga), 60);
    /* constraint handling: every survivor is feasible, the best ones found the optimum genes */
    int best_cat = 0;
    for (int i = 0; i < 24; i++) {
        evo_individual ind = evo_nsga2_individual(ga, i);
        ck_assert_double_eq(ind.violation, 0.0);
        ck_assert(ind.g[0] <= 0);
        ck_assert(ind.x[3] == floor(ind.x[3]) && ind.x[6] == floor(ind.x[6]));
        best_cat += ind.x[6] == 2 && ind.x[7] == 1;
        if (ind.birth_generation > 0) {
            ck_assert_uint_ne(ind.parent[0], EVO_NO_PARENT);
            ck_assert_uint_lt(ind.parent[0], ind.id);
        }
    }
    ck_assert_int_ge(best_cat, 20);
    evo_nsga2_free(ga);
}
END_TEST

START_TEST(test_save_restore_equivalence)
{
    mixed_ctx c1, c2, c3;
    evo_problem p1 = mixed_problem(&c1), p2 = mixed_problem(&c2), p3 = mixed_problem(&c3);
    evo_params par = small_params(21);
    evo_nsga2 *full, *part, *resumed;
    ck_assert_int_eq(evo_nsga2_create(&p1, &par, &full), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(full, 40), EVO_OK);
    size_t full_size, mid_size, end_size;
    unsigned char *full_state = save_state(full, &full_size);

    ck_assert_int_eq(evo_nsga2_create(&p2, &par, &part), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(part, 17), EVO_OK);
    unsigned char *mid = save_state(part, &mid_size);
    evo_nsga2_free(part);

    ck_assert_int_eq(evo_nsga2_create(&p3, &par, &resumed), EVO_OK);
    ck_assert_int_eq(evo_nsga2_restore(resumed, mid, mid_size), EVO_OK);
    ck_assert_int_eq(evo_nsga2_generation(resumed), 17);
    ck_assert_int_eq(c3.hook_calls, 0);
    ck_assert_int_eq(evo_nsga2_run(resumed, 40), EVO_OK);
    unsigned char *end = save_state(resumed, &end_size);
    ck_assert_uint_eq(end_size, full_size);
    ck_assert_mem_eq(end, full_state, full_size);
    ck_assert_uint_eq(evo_nsga2_evaluations(resumed), evo_nsga2_evaluations(full));
    free(full_state);
    free(mid);
    free(end);
    evo_nsga2_free(full);
    evo_nsga2_free(resumed);
}
END_TEST

START_TEST(test_restore_rejects_bad_states)
{
    mixed_ctx ctx;
    evo_problem prob = mixed_problem(&ctx);
    evo_params par = small_params(4);
    evo_nsga2 *ga, *other;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    unsigned char *buf;
    size_t size;
    ck_assert_int_eq(evo_nsga2_save(ga, &buf, &size), EVO_ERR_ARG);   /* nothing to save */
    ck_assert_ptr_null(buf);
    ck_assert_int_eq(evo_nsga2_run(ga, 3), EVO_OK);
    buf = save_state(ga, &size);

    /* magic, version, truncation, damage */
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &other), EVO_OK);
    unsigned char *bad = malloc(size);
    memcpy(bad, buf, size);
    bad[0] = 'X';
    ck_assert_int_eq(evo_nsga2_restore(other, bad, size), EVO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "magic"));
    memcpy(bad, buf, size);
    bad[8] = 2;
    ck_assert_int_eq(evo_nsga2_restore(other, bad, size), EVO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "version 2"));
    ck_assert_int_eq(evo_nsga2_restore(other, buf, size - 1), EVO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "truncated"));
    memcpy(bad, buf, size);
    bad[size / 2] ^= 0x10;
    ck_assert_int_eq(evo_nsga2_restore(other, bad, size), EVO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "checksum"));
    ck_assert_int_eq(evo_nsga2_restore(other, buf, 10), EVO_ERR_FORMAT);
    ck_assert(!evo_nsga2_has_population(other));   /* failed restores change nothing */
    evo_nsga2_free(other);

    /* a run with other parameters or dimensions refuses the state */
    evo_params p2 = par;
    p2.eta_c = 15;
    ck_assert_int_eq(evo_nsga2_create(&prob, &p2, &other), EVO_OK);
    ck_assert_int_eq(evo_nsga2_restore(other, buf, size), EVO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "eta_c"));
    evo_nsga2_free(other);
    p2 = par;
    p2.pop_size = 26;
    ck_assert_int_eq(evo_nsga2_create(&prob, &p2, &other), EVO_OK);
    ck_assert_int_eq(evo_nsga2_restore(other, buf, size), EVO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "pop_size"));
    evo_nsga2_free(other);
    evo_gene genes2[8];
    memcpy(genes2, mixed_genes, sizeof genes2);
    genes2[4].hi = 11;
    evo_problem prob2 = prob;
    prob2.genes = genes2;
    ck_assert_int_eq(evo_nsga2_create(&prob2, &par, &other), EVO_OK);
    ck_assert_int_eq(evo_nsga2_restore(other, buf, size), EVO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "gene 4"));
    evo_nsga2_free(other);
    free(bad);
    free(buf);
    evo_nsga2_free(ga);
}
END_TEST

START_TEST(test_callback_failure_leaves_state)
{
    mixed_ctx c1, c2;
    evo_problem p1 = mixed_problem(&c1), p2 = mixed_problem(&c2);
    evo_params par = small_params(8);
    evo_nsga2 *ga, *ref;
    ck_assert_int_eq(evo_nsga2_create(&p1, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_create(&p2, &par, &ref), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(ga, 5), EVO_OK);
    size_t s_before, s_after, s_ref;
    unsigned char *before = save_state(ga, &s_before);
    c1.fail_at = c1.calls + 1;
    ck_assert_int_eq(evo_nsga2_step(ga), EVO_ERR_CALLBACK);
    ck_assert_str_eq(evo_last_error(), "planned failure");
    unsigned char *after = save_state(ga, &s_after);
    ck_assert_mem_eq(before, after, s_before);
    /* retrying gives what an uninterrupted run gives */
    ck_assert_int_eq(evo_nsga2_run(ga, 9), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(ref, 9), EVO_OK);
    free(after);
    after = save_state(ga, &s_after);
    unsigned char *r = save_state(ref, &s_ref);
    ck_assert_mem_eq(after, r, s_ref);
    /* NaN objectives are refused */
    c1.write_nan = true;
    ck_assert_int_eq(evo_nsga2_step(ga), EVO_ERR_CALLBACK);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "NaN"));
    free(before);
    free(after);
    free(r);
    evo_nsga2_free(ga);
    evo_nsga2_free(ref);
}
END_TEST

START_TEST(test_hook_stops_and_resumes)
{
    mixed_ctx ctx;
    evo_problem prob = mixed_problem(&ctx);
    ctx.stop_at = 4;
    evo_params par = small_params(9);
    evo_nsga2 *ga;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(ga, 10), EVO_ERR_INTERRUPTED);
    ck_assert_int_eq(evo_nsga2_generation(ga), 4);   /* the completed generation is kept */
    ck_assert_int_eq(evo_nsga2_run(ga, 10), EVO_OK);
    ck_assert_int_eq(evo_nsga2_generation(ga), 10);
    ck_assert_int_eq(ctx.hook_calls, 11);
    evo_nsga2_free(ga);
}
END_TEST

/* A custom mutation that breaks the bounds, and one that keeps them. */
static evo_status bad_mutate(void *ctx, evo_rng *rng, double *x)
{
    (void)ctx;
    (void)rng;
    x[3] = 11;
    return EVO_OK;
}

typedef struct custom_ctx {
    mixed_ctx base;
    int crossovers;
    int mutations;
    int inits;
} custom_ctx;

static evo_status flip_mutate(void *vctx, evo_rng *rng, double *x)
{
    custom_ctx *ctx = vctx;
    ctx->mutations++;
    x[6] = (double)evo_rng_range(rng, 0, 4);
    return EVO_OK;
}

static evo_status swap_crossover(void *vctx, evo_rng *rng, const double *p1, const double *p2,
                                 double *c1, double *c2)
{
    custom_ctx *ctx = vctx;
    (void)rng;
    ctx->crossovers++;
    memcpy(c1, p2, 8 * sizeof(double));
    memcpy(c2, p1, 8 * sizeof(double));
    return EVO_OK;
}

static evo_status fixed_init(void *vctx, evo_rng *rng, double *x)
{
    custom_ctx *ctx = vctx;
    ctx->inits++;
    for (int i = 0; i < 8; i++) x[i] = i < 3 ? evo_rng_uniform(rng) : 1;
    return EVO_OK;
}

START_TEST(test_custom_operators)
{
    custom_ctx ctx = {.base = {.stop_at = -1}};
    evo_problem prob = {.n_genes = 8, .genes = mixed_genes, .n_obj = 2, .n_con = 1, .ctx = &ctx,
                        .evaluate = mixed_eval, .init = fixed_init, .mutate = flip_mutate,
                        .crossover = swap_crossover};
    evo_params par = small_params(10);
    par.p_crossover = 0.5;
    evo_nsga2 *ga;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(ga, 10), EVO_OK);
    ck_assert_int_eq(ctx.inits, 24);
    ck_assert_int_eq(ctx.mutations, 240);                 /* once per child */
    ck_assert(ctx.crossovers > 40 && ctx.crossovers < 80); /* 120 pairs at p = 0.5 */
    for (int i = 0; i < 24; i++) {   /* only gene 6 is ever changed from the init values */
        evo_individual ind = evo_nsga2_individual(ga, i);
        ck_assert(ind.x[3] == 1 && ind.x[7] == 1);
    }
    evo_nsga2_free(ga);
    prob.mutate = bad_mutate;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_init(ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_step(ga), EVO_ERR_CALLBACK);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "gene 3 = 11"));
    evo_nsga2_free(ga);
}
END_TEST

/* Two integer genes in [0, 9] or one in [0, 2]: a small space to test duplicate handling. */
typedef struct grid_ctx {
    int n_genes;
    bool check_distinct;
} grid_ctx;

static evo_status grid_eval(void *vctx, const evo_batch *b)
{
    (void)vctx;
    for (int i = 0; i < b->n; i++) {
        const double *x = b->x + (size_t)i * b->n_genes;
        double y = b->n_genes > 1 ? x[1] : 0;
        b->f[2 * i] = x[0] + y;
        b->f[2 * i + 1] = (9 - x[0]) + y;
    }
    return EVO_OK;
}

static bool grid_duplicate(void *vctx, const double *x, const double *others, int n_others)
{
    grid_ctx *ctx = vctx;
    return evo_genome_find(x, others, n_others, ctx->n_genes) >= 0;
}

static evo_status grid_hook(void *vctx, const evo_nsga2 *ga)
{
    grid_ctx *ctx = vctx;
    for (int i = 0; ctx->check_distinct && i < evo_nsga2_pop_size(ga); i++)
        for (int j = 0; j < i; j++)
            ck_assert_int_eq(evo_genome_find(evo_nsga2_individual(ga, i).x,
                                             evo_nsga2_individual(ga, j).x, 1, ctx->n_genes), -1);
    return EVO_OK;
}

START_TEST(test_duplicates)
{
    const evo_gene genes[2] = {{EVO_GENE_INT, 0, 9}, {EVO_GENE_INT, 0, 9}};
    grid_ctx ctx = {.n_genes = 2, .check_distinct = true};
    evo_problem prob = {.n_genes = 2, .genes = genes, .n_obj = 2, .ctx = &ctx,
                        .evaluate = grid_eval, .is_duplicate = grid_duplicate,
                        .on_generation = grid_hook};
    evo_params par;
    evo_params_default(&par);
    par.pop_size = 30;
    evo_nsga2 *ga;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(ga, 30), EVO_OK);
    ck_assert_uint_eq(evo_nsga2_duplicates_accepted(ga), 0);
    /* the whole front x1 = 0, x0 = 0..9 is found */
    int front = 0;
    for (int i = 0; i < 30; i++) front += evo_nsga2_individual(ga, i).x[1] == 0;
    ck_assert_int_eq(front, 10);
    evo_nsga2_free(ga);

    /* three possible genomes, population 4: the run goes on with accepted duplicates */
    const evo_gene one[1] = {{EVO_GENE_INT, 0, 2}};
    grid_ctx ctx1 = {.n_genes = 1, .check_distinct = false};
    prob.n_genes = 1;
    prob.genes = one;
    prob.ctx = &ctx1;
    par.pop_size = 4;
    par.max_duplicate_tries = 5;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_run(ga, 3), EVO_OK);
    ck_assert_uint_ge(evo_nsga2_duplicates_accepted(ga), 1 + 3 * 2);
    evo_nsga2_free(ga);
}
END_TEST

START_TEST(test_determinism_and_seeds)
{
    evo_test_problem tp;
    ck_assert_int_eq(evo_test_problem_init(&tp, "zdt1", 0, 0), EVO_OK);
    evo_problem prob;
    evo_test_problem_as_problem(&tp, &prob);
    unsigned char *s[3];
    size_t n[3];
    for (int k = 0; k < 3; k++) {
        evo_params par;
        evo_params_default(&par);
        par.pop_size = 20;
        par.seed = k == 2 ? 8 : 7;
        evo_nsga2 *ga;
        ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
        ck_assert_int_eq(evo_nsga2_run(ga, 20), EVO_OK);
        s[k] = save_state(ga, &n[k]);
        evo_nsga2_free(ga);
    }
    ck_assert_mem_eq(s[0], s[1], n[0]);
    ck_assert_int_ne(memcmp(s[0], s[2], n[0]), 0);
    for (int k = 0; k < 3; k++) free(s[k]);
}
END_TEST

START_TEST(test_create_rejects_bad_arguments)
{
    mixed_ctx ctx;
    evo_problem good = mixed_problem(&ctx);
    evo_params par = small_params(1);
    evo_nsga2 *ga = (evo_nsga2 *)&ctx;
    evo_gene genes[8];
    memcpy(genes, mixed_genes, sizeof genes);
    const char *needles[] = {"n_genes", "evaluate", "bounds", "integers",
                             "pop_size", "p_crossover", "eta_m", "n_obj"};
    for (size_t c = 0; c < sizeof needles / sizeof needles[0]; c++) {
        evo_problem p = good;
        evo_params q = par;
        memcpy(genes, mixed_genes, sizeof genes);
        p.genes = genes;
        switch (c) {
        case 0: p.n_genes = 0; break;
        case 1: p.evaluate = NULL; break;
        case 2: genes[1].lo = 2; break;
        case 3: genes[4].hi = 7.5; break;
        case 4: q.pop_size = 1; break;
        case 5: q.p_crossover = 1.5; break;
        case 6: q.eta_m = -1; break;
        default: p.n_obj = 0; break;
        }
        ck_assert_int_eq(evo_nsga2_create(&p, &q, &ga), EVO_ERR_ARG);
        ck_assert_ptr_null(ga);
        ck_assert_ptr_nonnull(strstr(evo_last_error(), needles[c]));
    }
    ck_assert_str_eq(evo_status_name(EVO_ERR_FORMAT), "format");
    ck_assert_str_eq(evo_status_name((evo_status)99), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nsga2");
    TCase *tc = tcase_create("building_blocks");
    tcase_add_test(tc, test_rng_reference_values);
    tcase_add_test(tc, test_rng_save_restore);
    tcase_add_test(tc, test_rng_ranges);
    tcase_add_test(tc, test_dominance);
    tcase_add_test(tc, test_sort_hand_case);
    tcase_add_test(tc, test_sort_three_objectives_and_large);
    tcase_add_test(tc, test_crowding_hand_case);
    tcase_add_test(tc, test_tournament);
    tcase_add_test(tc, test_sbx_properties);
    tcase_add_test(tc, test_polynomial_mutation_properties);
    tcase_add_test(tc, test_discrete_crossover);
    tcase_add_test(tc, test_discrete_mutation);
    tcase_add_test(tc, test_genome_find);
    suite_add_tcase(s, tc);
    TCase *ta = tcase_create("algorithm");
    tcase_set_timeout(ta, 30);
    tcase_add_test(ta, test_run_mixed_constrained);
    tcase_add_test(ta, test_save_restore_equivalence);
    tcase_add_test(ta, test_restore_rejects_bad_states);
    tcase_add_test(ta, test_callback_failure_leaves_state);
    tcase_add_test(ta, test_hook_stops_and_resumes);
    tcase_add_test(ta, test_custom_operators);
    tcase_add_test(ta, test_duplicates);
    tcase_add_test(ta, test_determinism_and_seeds);
    tcase_add_test(ta, test_create_rejects_bad_arguments);
    suite_add_tcase(s, ta);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
