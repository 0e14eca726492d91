/*
 * test_problems.c - ZDT and DTLZ problems: hand-computed evaluations, Pareto-optimal decision
 * vectors landing on the front, and the geometry of the true-front samples (ZDT3 and DTLZ7
 * pieces against published boundaries, DTLZ1 simplex, DTLZ2-6 sphere and curve).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evo_problems.h"
#include "testutil.h"

static evo_test_problem setup(const char *name, int m)
{
    evo_test_problem tp;
    ck_assert_int_eq(evo_test_problem_init(&tp, name, m, 0), EVO_OK);
    return tp;
}

START_TEST(test_init_and_errors)
{
    evo_test_problem tp = setup("zdt1", 0);
    ck_assert_int_eq(tp.n_var, 30);
    ck_assert_int_eq(tp.n_obj, 2);
    tp = setup("zdt4", 0);
    ck_assert_int_eq(tp.n_var, 10);
    ck_assert(tp.genes[0].lo == 0 && tp.genes[0].hi == 1);
    ck_assert(tp.genes[1].lo == -5 && tp.genes[1].hi == 5);
    tp = setup("dtlz1", 0);
    ck_assert_int_eq(tp.n_obj, 3);
    ck_assert_int_eq(tp.n_var, 7);    /* M + k - 1, k = 5 */
    tp = setup("dtlz2", 5);
    ck_assert_int_eq(tp.n_var, 14);   /* k = 10 */
    tp = setup("dtlz7", 3);
    ck_assert_int_eq(tp.n_var, 22);   /* k = 20 */
    evo_test_problem before = tp;
    ck_assert_int_eq(evo_test_problem_init(&tp, "zdt5", 0, 0), EVO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(evo_last_error(), "unknown test problem 'zdt5'"));
    ck_assert_int_eq(evo_test_problem_init(&tp, "zdt1", 3, 0), EVO_ERR_ARG);
    ck_assert_int_eq(evo_test_problem_init(&tp, "dtlz2", 11, 0), EVO_ERR_ARG);
    ck_assert_int_eq(evo_test_problem_init(&tp, "dtlz2", 4, 3), EVO_ERR_ARG);
    ck_assert_mem_eq(&tp, &before, sizeof tp);
    ck_assert_int_eq(evo_test_problem_init(&tp, "dtlz2", 4, 4), EVO_OK);
}
END_TEST

static void eval(const evo_test_problem *tp, const double *x, double *f)
{
    evo_test_problem_evaluate(tp, x, f);
}

START_TEST(test_hand_evaluations)
{
    double x[EVO_TEST_MAX_VARS], f[EVO_TEST_MAX_OBJ];
    evo_test_problem tp = setup("zdt1", 0);
    for (int i = 0; i < 30; i++) x[i] = 1;
    eval(&tp, x, f);   /* g = 10 */
    ck_assert_double_eq_tol(f[0], 1.0, 1e-15);
    ck_assert_double_eq_tol(f[1], 10 * (1 - sqrt(0.1)), 1e-13);
    memset(x, 0, sizeof x);
    x[0] = 0.25;
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[1], 0.5, 1e-15);
    tp = setup("zdt2", 0);
    x[0] = 0.5;
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[1], 0.75, 1e-15);
    tp = setup("zdt3", 0);
    eval(&tp, x, f);   /* sin(5 pi) = 0 */
    ck_assert_double_eq_tol(f[1], 1 - sqrt(0.5), 1e-14);
    tp = setup("zdt4", 0);
    x[0] = 0.25;
    eval(&tp, x, f);   /* g = 1 + 90 + 9 * (0 - 10) = 1 */
    ck_assert_double_eq_tol(f[1], 0.5, 1e-13);
    x[1] = 1;          /* g = 1 + 1 - 10 cos(4 pi) + 10 = 2 */
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[1], 2 * (1 - sqrt(0.125)), 1e-12);
    tp = setup("zdt6", 0);
    memset(x, 0, sizeof x);
    x[0] = 1.0 / 12;   /* sin(pi / 2) = 1 */
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[0], 1 - exp(-1.0 / 3), 1e-15);
    ck_assert_double_eq_tol(f[1], 1 - f[0] * f[0], 1e-15);

    for (int i = 0; i < EVO_TEST_MAX_VARS; i++) x[i] = 0.5;
    tp = setup("dtlz1", 3);
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[0], 0.125, 1e-15);
    ck_assert_double_eq_tol(f[1], 0.125, 1e-15);
    ck_assert_double_eq_tol(f[2], 0.25, 1e-15);
    const char *sphere[4] = {"dtlz2", "dtlz3", "dtlz5", "dtlz6"};
    for (int p = 0; p < 4; p++) {
        tp = setup(sphere[p], 3);
        if (p == 3)
            for (int i = 2; i < tp.n_var; i++) x[i] = 0;   /* DTLZ6: g = sum x^0.1 */
        eval(&tp, x, f);
        ck_assert_double_eq_tol(f[0], 0.5, 1e-13);
        ck_assert_double_eq_tol(f[1], 0.5, 1e-13);
        ck_assert_double_eq_tol(f[2], sqrt(0.5), 1e-13);
    }
    tp = setup("dtlz4", 3);
    for (int i = 2; i < tp.n_var; i++) x[i] = 0.5;   /* g = 0 */
    x[0] = x[1] = 1;   /* theta = pi / 2 */
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[0], 0.0, 1e-15);
    ck_assert_double_eq_tol(f[2], 1.0, 1e-15);
    tp = setup("dtlz2", 3);
    x[0] = x[1] = 0;
    for (int i = 2; i < tp.n_var; i++) x[i] = 1;   /* g = 10 * 0.25 */
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[0], 3.5, 1e-13);
    ck_assert_double_eq_tol(f[1], 0.0, 1e-13);
    tp = setup("dtlz7", 3);
    memset(x, 0, sizeof x);
    eval(&tp, x, f);   /* g = 1, h = 3 */
    ck_assert_double_eq_tol(f[2], 6.0, 1e-15);
    x[0] = 0.5;        /* sin(1.5 pi) = -1: h stays 3 */
    eval(&tp, x, f);
    ck_assert_double_eq_tol(f[0], 0.5, 1e-15);
    ck_assert_double_eq_tol(f[2], 6.0, 1e-13);
}
END_TEST

/* Decision vectors with random position variables and optimal distance variables evaluate
 * onto the front's equation. */
START_TEST(test_optimal_vectors_on_front)
{
    uint64_t rs = 5;
    const char *names[12] = {"zdt1", "zdt2", "zdt4", "zdt6", "dtlz1", "dtlz2",
                             "dtlz3", "dtlz4", "dtlz5", "dtlz6", "dtlz7", "zdt3"};
    for (int p = 0; p < 12; p++) {
        for (int m = 2; m <= (names[p][0] == 'z' ? 2 : 5); m++) {
            evo_test_problem tp = setup(names[p], m);
            for (int t = 0; t < 50; t++) {
                double x[EVO_TEST_MAX_VARS], f[EVO_TEST_MAX_OBJ], s = 0, s2 = 0;
                int n_pos = tp.id <= EVO_TEST_ZDT6 ? 1 : m - 1;
                double opt = tp.id == EVO_TEST_DTLZ6 || tp.id == EVO_TEST_DTLZ7 ||
                                     tp.id <= EVO_TEST_ZDT6 ? 0.0 : 0.5;
                for (int i = 0; i < tp.n_var; i++)
                    x[i] = i < n_pos ? test_rand_uniform(&rs, 0, 1) : opt;
                eval(&tp, x, f);
                for (int j = 0; j < m; j++) {
                    s += f[j];
                    s2 += f[j] * f[j];
                }
                switch (tp.id) {
                case EVO_TEST_ZDT1:
                case EVO_TEST_ZDT4:
                    ck_assert_double_eq_tol(f[1], 1 - sqrt(f[0]), 1e-12);
                    break;
                case EVO_TEST_ZDT2:
                case EVO_TEST_ZDT6:
                    ck_assert_double_eq_tol(f[1], 1 - f[0] * f[0], 1e-12);
                    break;
                case EVO_TEST_ZDT3:
                    ck_assert_double_eq_tol(f[1], 1 - sqrt(f[0]) - f[0] * sin(10 * M_PI * f[0]),
                                            1e-12);
                    break;
                case EVO_TEST_DTLZ1:
                    ck_assert_double_eq_tol(s, 0.5, 1e-12);
                    break;
                case EVO_TEST_DTLZ7: {
                    double h = m;
                    for (int j = 0; j < m - 1; j++) h -= f[j] / 2 * (1 + sin(3 * M_PI * f[j]));
                    ck_assert_double_eq_tol(f[m - 1], 2 * h, 1e-12);
                    break;
                }
                default:
                    ck_assert_double_eq_tol(s2, 1.0, 1e-12);
                    if (tp.id >= EVO_TEST_DTLZ5 && m > 2)   /* the degenerate curve */
                        ck_assert_double_eq_tol(f[0], f[1], 1e-12);
                    break;
                }
            }
        }
    }
}
END_TEST

static double *front_of(const evo_test_problem *tp, int request, int *n)
{
    double *front;
    ck_assert_int_eq(evo_test_problem_front(tp, request, &front, n), EVO_OK);
    /* every sample is mutually non-dominated */
    int *rank = malloc((size_t)*n * sizeof *rank), fronts;
    ck_assert_int_eq(evo_sort_nondominated(front, NULL, *n, tp->n_obj, rank, &fronts), EVO_OK);
    ck_assert_int_eq(fronts, 1);
    free(rank);
    return front;
}

/* Splits a two-objective front sorted by f1 into pieces at f1 gaps wider than `gap`. */
static int pieces(const double *front, int n, double gap, double lo[], double hi[])
{
    int k = 0;
    lo[0] = front[0];
    for (int i = 1; i < n; i++) {
        ck_assert(front[2 * i] > front[2 * (i - 1)]);
        if (front[2 * i] - front[2 * (i - 1)] > gap) {
            hi[k++] = front[2 * (i - 1)];
            lo[k] = front[2 * i];
        }
    }
    hi[k++] = front[2 * (n - 1)];
    return k;
}

START_TEST(test_zdt_fronts)
{
    int n;
    const char *names[4] = {"zdt1", "zdt2", "zdt4", "zdt6"};
    for (int p = 0; p < 4; p++) {
        evo_test_problem tp = setup(names[p], 0);
        double *f = front_of(&tp, 100, &n);
        ck_assert_int_eq(n, 100);
        double lo = p == 3 ? 0.2807753191 : 0.0;
        ck_assert_double_eq_tol(f[0], lo, 1e-12);
        ck_assert_double_eq_tol(f[2 * 99], 1.0, 1e-12);
        for (int i = 0; i < n; i++) {
            double x = f[2 * i], want = (p == 0 || p == 2) ? 1 - sqrt(x) : 1 - x * x;
            ck_assert_double_eq_tol(f[2 * i + 1], want, 1e-12);
            ck_assert_double_eq_tol(x, lo + (1 - lo) * i / 99.0, 1e-12);   /* even in f1 */
        }
        free(f);
    }
    /* ZDT3: five pieces; boundaries as published (e.g. jMetal / pymoo reference fronts) */
    evo_test_problem tp = setup("zdt3", 0);
    double *f = front_of(&tp, 1000, &n);
    ck_assert_int_eq(n, 1000);
    double lo[8], hi[8];
    ck_assert_int_eq(pieces(f, n, 0.05, lo, hi), 5);
    const double pub[5][2] = {{0.0, 0.0830015349},          {0.1822287280, 0.2577623634},
                              {0.4093136748, 0.4538821041}, {0.6183967944, 0.6525117038},
                              {0.8233317983, 0.8518328654}};
    for (int k = 0; k < 5; k++) {
        ck_assert_double_eq_tol(lo[k], pub[k][0], 1e-3);
        ck_assert_double_eq_tol(hi[k], pub[k][1], 1e-3);
    }
    for (int i = 0; i < n; i++) {
        double x = f[2 * i];
        ck_assert_double_eq_tol(f[2 * i + 1], 1 - sqrt(x) - x * sin(10 * M_PI * x), 1e-12);
    }
    free(f);
}
END_TEST

START_TEST(test_dtlz_fronts)
{
    int n;
    for (int m = 2; m <= 5; m++) {
        evo_test_problem tp = setup("dtlz1", m);
        double *f = front_of(&tp, 300, &n);
        if (m == 2) ck_assert_int_eq(n, 300);
        if (m == 3) ck_assert_int_eq(n, 300);   /* 23 divisions: C(25, 2) */
        if (m == 4) ck_assert_int_eq(n, 286);   /* 10 divisions: C(13, 3) */
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < m; j++) {
                ck_assert(f[i * m + j] >= 0);
                s += f[i * m + j];
            }
            ck_assert_double_eq_tol(s, 0.5, 1e-12);
        }
        free(f);
        const char *sphere[5] = {"dtlz2", "dtlz3", "dtlz4", "dtlz5", "dtlz6"};
        for (int p = 0; p < 5; p++) {
            tp = setup(sphere[p], m);
            f = front_of(&tp, 300, &n);
            double ideal[EVO_TEST_MAX_OBJ], nadir[EVO_TEST_MAX_OBJ];
            evo_front_bounds(f, n, m, ideal, nadir);
            for (int i = 0; i < n; i++) {
                double s2 = 0;
                for (int j = 0; j < m; j++) s2 += f[i * m + j] * f[i * m + j];
                ck_assert_double_eq_tol(s2, 1.0, 1e-12);
                if (p >= 3) {   /* curve: f1 = f2, f_j = sqrt(2) f_(j-1) for 2 < j < M */
                    if (m > 2) ck_assert_double_eq_tol(f[i * m], f[i * m + 1], 1e-12);
                    for (int j = 2; j < m - 1; j++)
                        ck_assert_double_eq_tol(f[i * m + j], sqrt(2) * f[i * m + j - 1], 1e-12);
                }
            }
            ck_assert_double_eq_tol(nadir[m - 1], 1.0, 1e-12);
            if (p >= 3) ck_assert_double_eq_tol(nadir[0], pow(sqrt(0.5), m - 2), 1e-12);
            free(f);
        }
    }
    /* DTLZ7, M = 2: two pieces, boundaries as published */
    evo_test_problem tp = setup("dtlz7", 2);
    double *f = front_of(&tp, 500, &n);
    ck_assert_int_eq(n, 500);
    double lo[4], hi[4];
    ck_assert_int_eq(pieces(f, n, 0.05, lo, hi), 2);
    ck_assert_double_eq_tol(lo[0], 0.0, 1e-3);
    ck_assert_double_eq_tol(hi[0], 0.2514118360, 1e-3);
    ck_assert_double_eq_tol(lo[1], 0.6316265307, 1e-3);
    ck_assert_double_eq_tol(hi[1], 0.8594008566, 1e-3);
    free(f);
    /* M = 3: four regions, the products of the two intervals */
    tp = setup("dtlz7", 3);
    f = front_of(&tp, 1000, &n);
    ck_assert_int_ge(n, 200);
    int regions[4] = {0};
    for (int i = 0; i < n; i++) {
        int r = 0;
        for (int j = 0; j < 2; j++) {
            double v = f[3 * i + j];
            ck_assert(v <= 0.2514118360 + 0.02 || (v >= 0.6316265307 - 0.02 &&
                                                   v <= 0.8594008566 + 0.02));
            r |= (v > 0.5) << j;
        }
        regions[r]++;
        double h = 3 - f[3 * i] / 2 * (1 + sin(3 * M_PI * f[3 * i])) -
                   f[3 * i + 1] / 2 * (1 + sin(3 * M_PI * f[3 * i + 1]));
        ck_assert_double_eq_tol(f[3 * i + 2], 2 * h, 1e-12);
    }
    for (int r = 0; r < 4; r++) ck_assert_int_gt(regions[r], 10);
    free(f);
    double *none = (double *)&tp;
    ck_assert_int_eq(evo_test_problem_front(&tp, 1, &none, &n), EVO_ERR_ARG);
    ck_assert_ptr_null(none);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("problems");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_init_and_errors);
    tcase_add_test(tc, test_hand_evaluations);
    tcase_add_test(tc, test_optimal_vectors_on_front);
    tcase_add_test(tc, test_zdt_fronts);
    tcase_add_test(tc, test_dtlz_fronts);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
