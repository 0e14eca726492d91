/*
 * test_convergence.c - NSGA-II converges on the whole ZDT / DTLZ suite: for each problem the
 * median over 5 seeds of the final front's hypervolume and IGD must reach a threshold.
 *
 * Settings as in Deb et al. 2002 and the issue: population 100, SBX eta 20, polynomial
 * mutation eta 20, crossover 0.9, mutation 1/n; 250 generations, except DTLZ1 (500) and
 * DTLZ3 / DTLZ6 (1000), whose multimodal or biased g functions need longer, as in Deb et al.
 * 2005. Hypervolume at (1.1, ..., 1.1): ZDT objectives as they are (ZDT1 >= 0.865 and ZDT2 >=
 * 0.530 are the figures), DTLZ objectives normalized by the true front's ideal and
 * nadir points. The other thresholds sit a little below the medians measured when the test
 * was written (noted per line), against the true front's own value where it helps. DTLZ6
 * stays above its curve: NSGA-II is known not to reach it (Deb et al. 2005, section 6), so its
 * bounds only check clear progress.
 */
#include <check.h>
#include <stdlib.h>

#include "evo_indicators.h"
#include "evo_problems.h"

typedef struct convergence_case {
    const char *name;
    int gens;
    double min_hv;      /* median hypervolume must reach this */
    double max_igd;     /* median IGD must stay below this */
} convergence_case;

static const convergence_case cases[] = {
    {"zdt1", 250, 0.865, 0.010},    /* measured median 0.8693 / 0.0050; front 0.8714 */
    {"zdt2", 250, 0.530, 0.010},    /* 0.5361 / 0.0049; front 0.5383 */
    {"zdt3", 250, 1.320, 0.010},    /* 1.3279 / 0.0053; front 1.3292 */
    {"zdt4", 250, 0.850, 0.020},    /* 0.8662 / 0.0061 (multimodal: one seed 0.855) */
    {"zdt6", 250, 0.490, 0.010},    /* 0.4969 / 0.0067; front 0.5045 */
    {"dtlz1", 500, 1.050, 0.040},   /* 1.0870 / 0.0288 */
    {"dtlz2", 250, 0.680, 0.080},   /* 0.7043 / 0.0691 */
    {"dtlz3", 1000, 0.680, 0.080},  /* 0.7133 / 0.0674 */
    {"dtlz4", 250, 0.680, 0.080},   /* 0.7084 / 0.0687 */
    {"dtlz5", 250, 0.260, 0.010},   /* 0.2649 / 0.0056; continuous curve ~0.2698 */
    {"dtlz6", 1000, 0.120, 0.120},  /* 0.1666 / 0.0798 */
    {"dtlz7", 250, 0.520, 0.090},   /* 0.5317 / 0.0746 */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_converges)
{
    const convergence_case *c = &cases[_i];
    evo_test_problem tp;
    ck_assert_int_eq(evo_test_problem_init(&tp, c->name, 0, 0), EVO_OK);
    const int m = tp.n_obj;
    double *true_front;
    int n_true;
    ck_assert_int_eq(evo_test_problem_front(&tp, 1000, &true_front, &n_true), EVO_OK);
    double ideal[EVO_TEST_MAX_OBJ], nadir[EVO_TEST_MAX_OBJ], ref[EVO_TEST_MAX_OBJ];
    evo_front_bounds(true_front, n_true, m, ideal, nadir);
    for (int j = 0; j < m; j++) ref[j] = 1.1;
    evo_problem prob;
    evo_test_problem_as_problem(&tp, &prob);
    double hv[5], igd[5];
    double *front = malloc(100 * (size_t)m * sizeof *front);
    for (int seed = 1; seed <= 5; seed++) {
        evo_params par;
        evo_params_default(&par);
        par.seed = (uint64_t)seed;
        evo_nsga2 *ga;
        ck_assert_int_eq(evo_nsga2_create(&prob, &par, &ga), EVO_OK);
        ck_assert_int_eq(evo_nsga2_run(ga, c->gens), EVO_OK);
        int k = 0;
        for (int i = 0; i < 100; i++) {
            evo_individual ind = evo_nsga2_individual(ga, i);
            if (ind.rank != 0) continue;
            for (int j = 0; j < m; j++) front[(size_t)k * m + j] = ind.f[j];
            k++;
        }
        evo_nsga2_free(ga);
        igd[seed - 1] = evo_igd(front, k, true_front, n_true, m);
        if (tp.id >= EVO_TEST_DTLZ1) evo_normalize(front, k, m, ideal, nadir, front);
        ck_assert_int_eq(evo_hypervolume(front, k, m, ref, &hv[seed - 1]), EVO_OK);
    }
    qsort(hv, 5, sizeof hv[0], cmp_double);
    qsort(igd, 5, sizeof igd[0], cmp_double);
    ck_assert_msg(hv[2] >= c->min_hv, "%s: median hypervolume %.6f < %.6f", c->name, hv[2],
                  c->min_hv);
    ck_assert_msg(igd[2] <= c->max_igd, "%s: median IGD %.6f > %.6f", c->name, igd[2],
                  c->max_igd);
    free(front);
    free(true_front);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("convergence");
    TCase *tc = tcase_create("suite");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_converges, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
