/*
 * test_nsga2_steady.c - the steady-state NSGA-II (evo_nsga2_breed / evo_nsga2_insert): mu + 1
 * survival against a brute-force survival computed here, out-of-order arrivals, save/restore
 * equivalence, duplicates and refused input.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evo_nsga2.h"

#define NG 3
#define MU 10

static const evo_gene genes[NG] = {
    {EVO_GENE_REAL, 0, 1}, {EVO_GENE_REAL, 0, 1}, {EVO_GENE_REAL, 0, 1}};

/* ZDT1 on three genes, with one constraint: infeasible when x1 > 0.8. */
static void zdt1(const double *x, double *f, double *g)
{
    double s = 1 + 9 * (x[1] + x[2]) / 2;
    f[0] = x[0];
    f[1] = s * (1 - sqrt(x[0] / s));
    g[0] = x[1] - 0.8;
}

static evo_status eval(void *ctx, const evo_batch *b)
{
    (void)ctx;
    for (int i = 0; i < b->n; i++)
        zdt1(b->x + (size_t)i * NG, b->f + (size_t)i * 2, b->g + i);
    return EVO_OK;
}

static evo_nsga2 *make(uint64_t seed)
{
    evo_problem prob = {.n_genes = NG, .genes = genes, .n_obj = 2, .n_con = 1, .evaluate = eval};
    evo_params par;
    evo_params_default(&par);
    par.pop_size = MU;
    par.n_offspring = 4;
    par.seed = seed;
    evo_nsga2 *ga;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_init(ga), EVO_OK);
    return ga;
}

/* One candidate of the brute-force survival. */
typedef struct cand {
    uint64_t id;
    double f[2], viol;
    int rank;
    double crowd;
} cand;

static bool dominates(const cand *a, const cand *b)
{
    if (a->viol == 0 && b->viol > 0) return true;
    if (a->viol > 0 || b->viol > 0) return a->viol > 0 && b->viol > 0 && a->viol < b->viol;
    return a->f[0] <= b->f[0] && a->f[1] <= b->f[1] && (a->f[0] < b->f[0] || a->f[1] < b->f[1]);
}

/* Ranks by peeling non-dominated sets, then crowding by the definition: within a front, the
 * members sorted by each objective (equal values by position in c), the first and last get
 * +inf, the others the normalized gap between their neighbours in that order. */
static void brute_rank(cand *c, int n)
{
    for (int i = 0; i < n; i++) c[i].rank = -1;
    for (int r = 0, left = n; left > 0; r++) {
        bool in[MU + 1] = {false};
        for (int i = 0; i < n; i++) {
            if (c[i].rank >= 0) continue;
            in[i] = true;
            for (int j = 0; j < n; j++)
                if (j != i && c[j].rank < 0 && dominates(&c[j], &c[i])) in[i] = false;
        }
        for (int i = 0; i < n; i++)
            if (in[i]) c[i].rank = r, left--;
    }
    for (int i = 0; i < n; i++) c[i].crowd = 0;
    for (int r = 0; r <= n; r++) {
        for (int m = 0; m < 2; m++) {
            int idx[MU + 1], k = 0;
            for (int i = 0; i < n; i++)
                if (c[i].rank == r) idx[k++] = i;
            if (k == 0) continue;
            for (int a = 0; a < k; a++)       /* selection sort by (value, position) */
                for (int b = a + 1; b < k; b++)
                    if (c[idx[b]].f[m] < c[idx[a]].f[m] ||
                        (c[idx[b]].f[m] == c[idx[a]].f[m] && idx[b] < idx[a])) {
                        int t = idx[a];
                        idx[a] = idx[b];
                        idx[b] = t;
                    }
            double lo = c[idx[0]].f[m], hi = c[idx[k - 1]].f[m];
            c[idx[0]].crowd = c[idx[k - 1]].crowd = INFINITY;
            for (int a = 1; a < k - 1 && hi > lo; a++)
                c[idx[a]].crowd += (c[idx[a + 1]].f[m] - c[idx[a - 1]].f[m]) / (hi - lo);
        }
    }
}

/* The survivors' ids of population + child: all but the least crowded member of the worst
 * front (ties: the later one, the child being last). */
static void brute_survive(cand *c, int n, uint64_t *keep)
{
    brute_rank(c, n);
    int worst = 0;
    for (int i = 1; i < n; i++)
        if (c[i].rank > c[worst].rank || (c[i].rank == c[worst].rank && c[i].crowd <= c[worst].crowd))
            worst = i;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (i != worst) keep[k++] = c[i].id;
}

static int population(const evo_nsga2 *ga, cand *c)
{
    for (int i = 0; i < MU; i++) {
        evo_individual ind = evo_nsga2_individual(ga, i);
        c[i] = (cand){.id = ind.id, .f = {ind.f[0], ind.f[1]}, .viol = ind.violation};
    }
    return MU;
}

static bool contains(const uint64_t *ids, int n, uint64_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

/* Inserts the child and checks the result against the brute force: the survivors, and their
 * ranks and crowding among themselves. */
static void insert_checked(evo_nsga2 *ga, const evo_child *ch)
{
    double f[2], g[1];
    zdt1(ch->x, f, g);
    cand all[MU + 1], now[MU];
    uint64_t keep[MU];
    population(ga, all);
    all[MU] = (cand){.id = ch->id, .f = {f[0], f[1]}, .viol = g[0] > 0 ? g[0] : 0};
    brute_survive(all, MU + 1, keep);
    int gen = evo_nsga2_generation(ga);
    uint64_t evals = evo_nsga2_evaluations(ga);
    ck_assert_int_eq(evo_nsga2_insert(ga, ch, f, g), EVO_OK);
    ck_assert_int_eq(evo_nsga2_generation(ga), gen + 1);
    ck_assert_uint_eq(evo_nsga2_evaluations(ga), evals + 1);
    population(ga, now);
    brute_rank(now, MU);
    for (int i = 0; i < MU; i++) {
        evo_individual ind = evo_nsga2_individual(ga, i);
        ck_assert_msg(contains(keep, MU, ind.id), "individual %llu should have been removed",
                      (unsigned long long)ind.id);
        ck_assert_int_eq(ind.rank, now[i].rank);
        if (isinf(now[i].crowd)) ck_assert(isinf(ind.crowding));
        else ck_assert_double_eq_tol(ind.crowding, now[i].crowd, 1e-12);
        if (ind.id == ch->id) {
            ck_assert_mem_eq(ind.x, ch->x, NG * sizeof(double));
            ck_assert_int_eq(ind.birth_generation, ch->birth_generation);
            ck_assert_uint_eq(ind.parent[0], ch->parent[0]);
            ck_assert_uint_eq(ind.seed, ch->seed);
        }
    }
}

START_TEST(test_mu_plus_one_matches_brute_force)
{
    evo_nsga2 *ga = make(11);
    double x[NG];
    uint64_t next = MU;
    for (int it = 0; it < 300; it++) {
        evo_child ch = {.x = x};
        ck_assert_int_eq(evo_nsga2_breed(ga, &ch), EVO_OK);
        ck_assert_uint_eq(ch.id, next++);
        ck_assert_int_eq(ch.birth_generation, it + 1);
        for (int i = 0; i < NG; i++) ck_assert(x[i] >= 0 && x[i] <= 1);
        insert_checked(ga, &ch);
    }
    evo_nsga2_free(ga);
}
END_TEST

START_TEST(test_out_of_order_arrivals)
{
    /* three children out at once, arriving in reverse order: each insert is still a mu + 1
     * survival over the population of its moment */
    evo_nsga2 *ga = make(12);
    double x[3][NG];
    for (int round = 0; round < 40; round++) {
        evo_child ch[3];
        for (int k = 0; k < 3; k++) {
            ch[k] = (evo_child){.x = x[k]};
            ck_assert_int_eq(evo_nsga2_breed(ga, &ch[k]), EVO_OK);
        }
        ck_assert_uint_eq(ch[1].id, ch[0].id + 1);
        ck_assert_int_eq(ch[2].birth_generation, ch[0].birth_generation);
        for (int k = 2; k >= 0; k--) insert_checked(ga, &ch[k]);
    }
    ck_assert_int_eq(evo_nsga2_generation(ga), 120);
    evo_nsga2_free(ga);
}
END_TEST

static void assert_same_population(const evo_nsga2 *a, const evo_nsga2 *b)
{
    for (int i = 0; i < MU; i++) {
        evo_individual p = evo_nsga2_individual(a, i), q = evo_nsga2_individual(b, i);
        ck_assert_uint_eq(p.id, q.id);
        ck_assert_mem_eq(p.x, q.x, NG * sizeof(double));
        ck_assert_mem_eq(p.f, q.f, 2 * sizeof(double));
        ck_assert_int_eq(p.rank, q.rank);
    }
}

START_TEST(test_save_restore_continues_identically)
{
    /* the uninterrupted run against one saved after a breed (the child out) and restored
     * into a fresh object, which receives that child from its caller */
    evo_nsga2 *a = make(13), *b = make(13);
    double xa[NG], xb[NG];
    for (int it = 0; it < 60; it++) {
        evo_child ca = {.x = xa}, cb = {.x = xb};
        ck_assert_int_eq(evo_nsga2_breed(a, &ca), EVO_OK);
        ck_assert_int_eq(evo_nsga2_breed(b, &cb), EVO_OK);
        if (it == 25) {
            unsigned char *buf;
            size_t n;
            ck_assert_int_eq(evo_nsga2_save(b, &buf, &n), EVO_OK);
            evo_nsga2_free(b);
            evo_problem prob = {.n_genes = NG, .genes = genes, .n_obj = 2, .n_con = 1,
                                .evaluate = eval};
            evo_params par;
            evo_params_default(&par);
            par.pop_size = MU;
            par.n_offspring = 4;
            par.seed = 999;   /* the restored RNG replaces it */
            ck_assert_int_eq(evo_nsga2_create(&prob, &par, &b), EVO_OK);
            ck_assert_int_eq(evo_nsga2_restore(b, buf, n), EVO_OK);
            free(buf);
        }
        ck_assert_uint_eq(ca.id, cb.id);
        ck_assert_uint_eq(ca.seed, cb.seed);
        ck_assert_mem_eq(xa, xb, sizeof xa);
        double f[2], g[1];
        zdt1(xa, f, g);
        ck_assert_int_eq(evo_nsga2_insert(a, &ca, f, g), EVO_OK);
        ck_assert_int_eq(evo_nsga2_insert(b, &cb, f, g), EVO_OK);
        assert_same_population(a, b);
    }
    ck_assert_uint_eq(evo_nsga2_evaluations(a), evo_nsga2_evaluations(b));
    evo_nsga2_free(a);
    evo_nsga2_free(b);
}
END_TEST

static const evo_gene grid_genes[2] = {{EVO_GENE_INT, 0, 3}, {EVO_GENE_INT, 0, 3}};

static evo_status grid_eval(void *ctx, const evo_batch *b)
{
    (void)ctx;
    for (int i = 0; i < b->n; i++) {
        b->f[2 * i] = b->x[2 * i];
        b->f[2 * i + 1] = 3 - b->x[2 * i] + b->x[2 * i + 1];
    }
    return EVO_OK;
}

static bool grid_duplicate(void *ctx, const double *x, const double *others, int n_others)
{
    (void)ctx;
    return evo_genome_find(x, others, n_others, 2) >= 0;
}

START_TEST(test_breed_avoids_duplicates)
{
    /* 16 genomes, a population of 6: a bred child is never a member of the population */
    evo_problem prob = {.n_genes = 2, .genes = grid_genes, .n_obj = 2, .evaluate = grid_eval,
                        .is_duplicate = grid_duplicate};
    evo_params par;
    evo_params_default(&par);
    par.pop_size = 6;
    par.seed = 3;
    evo_nsga2 *ga;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_init(ga), EVO_OK);
    for (int it = 0; it < 100; it++) {
        double x[2], f[2];
        evo_child ch = {.x = x};
        ck_assert_int_eq(evo_nsga2_breed(ga, &ch), EVO_OK);
        for (int i = 0; i < 6; i++)
            ck_assert(memcmp(evo_nsga2_individual(ga, i).x, x, sizeof x) != 0);
        f[0] = x[0];
        f[1] = 3 - x[0] + x[1];
        ck_assert_int_eq(evo_nsga2_insert(ga, &ch, f, NULL), EVO_OK);
    }
    ck_assert_uint_eq(evo_nsga2_duplicates_accepted(ga), 0);
    evo_nsga2_free(ga);
}
END_TEST

START_TEST(test_refused_input_changes_nothing)
{
    evo_problem prob = {.n_genes = NG, .genes = genes, .n_obj = 2, .n_con = 1, .evaluate = eval};
    evo_params par;
    evo_params_default(&par);
    par.pop_size = MU;
    evo_nsga2 *ga;
    ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
    double x[NG] = {0.5, 0.5, 0.5}, f[2] = {1, 1}, g[1] = {0};
    evo_child ch = {.x = x};
    ck_assert_int_eq(evo_nsga2_breed(ga, &ch), EVO_ERR_ARG);
    ck_assert_int_eq(evo_nsga2_insert(ga, &ch, f, g), EVO_ERR_ARG);
    ck_assert_int_eq(evo_nsga2_init(ga), EVO_OK);
    ck_assert_int_eq(evo_nsga2_breed(ga, &ch), EVO_OK);
    unsigned char *before, *after;
    size_t nb, na;
    ck_assert_int_eq(evo_nsga2_save(ga, &before, &nb), EVO_OK);
    f[1] = NAN;
    ck_assert_int_eq(evo_nsga2_insert(ga, &ch, f, g), EVO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "NaN"));
    f[1] = 1;
    g[0] = NAN;
    ck_assert_int_eq(evo_nsga2_insert(ga, &ch, f, g), EVO_ERR_ARG);
    g[0] = 0;
    x[2] = 1.5;
    ck_assert_int_eq(evo_nsga2_insert(ga, &ch, f, g), EVO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "gene 2"));
    ck_assert_int_eq(evo_nsga2_save(ga, &after, &na), EVO_OK);
    ck_assert_uint_eq(nb, na);
    ck_assert_mem_eq(before, after, nb);
    free(before);
    free(after);
    evo_nsga2_free(ga);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nsga2_steady");
    TCase *tc = tcase_create("steady");
    tcase_add_test(tc, test_mu_plus_one_matches_brute_force);
    tcase_add_test(tc, test_out_of_order_arrivals);
    tcase_add_test(tc, test_save_restore_continues_identically);
    tcase_add_test(tc, test_breed_avoids_duplicates);
    tcase_add_test(tc, test_refused_input_changes_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
