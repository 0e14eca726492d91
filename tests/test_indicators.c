/*
 * test_indicators.c - hypervolume against hand-computed values, inclusion-exclusion and the
 * published ZDT1 figure; IGD, IGD+, spread and generalized spread on hand-computed cases.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "evo_indicators.h"
#include "evo_problems.h"
#include "testutil.h"

static double hv(const double *f, int n, int m, const double *ref)
{
    double v = -1;
    ck_assert_int_eq(evo_hypervolume(f, n, m, ref, &v), EVO_OK);
    return v;
}

START_TEST(test_hv_hand_cases)
{
    /* 2-D staircase: 3 + 2 + 1; a dominated point, a duplicate and points on or beyond the
     * reference add nothing */
    const double f2[7][2] = {{1, 3}, {2, 2}, {3, 1}, {3, 3}, {2, 2}, {5, 0}, {4, 1}};
    const double r2[2] = {4, 4};
    ck_assert_double_eq_tol(hv(&f2[0][0], 3, 2, r2), 6.0, 1e-15);
    ck_assert_double_eq_tol(hv(&f2[0][0], 7, 2, r2), 6.0, 1e-15);
    ck_assert_double_eq_tol(hv(&f2[2][0], 1, 2, r2), 3.0, 1e-15);
    /* 3-D: one box; two boxes 4 + 2 overlapping in a unit cube */
    const double one[3] = {1, 1, 1}, r3a[3] = {2, 3, 4};
    ck_assert_double_eq_tol(hv(one, 1, 3, r3a), 6.0, 1e-15);
    const double two[2][3] = {{0, 0, 1}, {1, 1, 0}}, r3[3] = {2, 2, 2};
    ck_assert_double_eq_tol(hv(&two[0][0], 2, 3, r3), 5.0, 1e-15);
    /* 4-D: 8 + 2 - 1 */
    const double four[2][4] = {{0, 0, 0, 1}, {1, 1, 1, 0}}, r4[4] = {2, 2, 2, 2};
    ck_assert_double_eq_tol(hv(&four[0][0], 2, 4, r4), 9.0, 1e-15);
    /* 1-D and empty sets */
    const double f1[2] = {0.3, 0.7}, r1 = 1.0;
    ck_assert_double_eq_tol(hv(f1, 2, 1, &r1), 0.7, 1e-15);
    ck_assert_double_eq(hv(f1, 0, 1, &r1), 0.0);
    double v = 42;
    ck_assert_int_eq(evo_hypervolume(f1, 2, 0, &r1, &v), EVO_ERR_ARG);
    ck_assert_double_eq(v, 42);
}
END_TEST

/* Inclusion-exclusion over all subsets: an independent exact reference for small sets. */
static double hv_inclusion_exclusion(const double *f, int n, int m, const double *ref)
{
    double total = 0;
    for (unsigned mask = 1; mask < 1u << n; mask++) {
        double vol = 1;
        int bits = 0;
        for (int j = 0; j < m; j++) {
            double worst = -INFINITY;
            for (int i = 0; i < n; i++)
                if (mask >> i & 1) worst = fmax(worst, f[i * m + j]);
            vol *= fmax(ref[j] - worst, 0.0);
        }
        for (int i = 0; i < n; i++) bits += mask >> i & 1;
        total += bits % 2 ? vol : -vol;
    }
    return total;
}

START_TEST(test_hv_matches_inclusion_exclusion)
{
    uint64_t state = 77;
    const double ref[6] = {1, 1, 1, 1, 1, 1};
    for (int t = 0; t < 400; t++) {
        int m = 2 + t % 5, n = 1 + (int)(test_rand_u64(&state) % 11);
        double f[11 * 6];
        for (int i = 0; i < n * m; i++)   /* coarse values: many ties and equal points */
            f[i] = (double)(test_rand_u64(&state) % 9) / 8.0;
        ck_assert_double_eq_tol(hv(f, n, m, ref), hv_inclusion_exclusion(f, n, m, ref), 1e-12);
    }
}
END_TEST

START_TEST(test_hv_zdt1_front)
{
    /* the figure: the ZDT1 front sampled at 100 points, reference (1.1, 1.1) */
    evo_test_problem tp;
    ck_assert_int_eq(evo_test_problem_init(&tp, "zdt1", 0, 0), EVO_OK);
    double *front;
    int n;
    ck_assert_int_eq(evo_test_problem_front(&tp, 100, &front, &n), EVO_OK);
    ck_assert_int_eq(n, 100);
    const double ref[2] = {1.1, 1.1};
    ck_assert_double_eq_tol(hv(front, n, 2, ref), 0.871409, 5e-7);
    free(front);
    /* the continuous DTLZ2 sphere octant leaves 1.1^3 - pi/6: a dense lattice approaches it */
    ck_assert_int_eq(evo_test_problem_init(&tp, "dtlz2", 3, 0), EVO_OK);
    ck_assert_int_eq(evo_test_problem_front(&tp, 5000, &front, &n), EVO_OK);
    const double r3[3] = {1.1, 1.1, 1.1};
    double v = hv(front, n, 3, r3);
    ck_assert(v < 1.331 - M_PI / 6 && v > 1.331 - M_PI / 6 - 0.01);
    free(front);
}
END_TEST

START_TEST(test_igd_hand_cases)
{
    const double ref[2][2] = {{0, 1}, {1, 0}};
    const double a[1][2] = {{0, 1}};
    ck_assert_double_eq_tol(evo_igd(&a[0][0], 1, &ref[0][0], 2, 2), sqrt(2.0) / 2, 1e-15);
    const double b[1][2] = {{0.5, 1.5}};
    ck_assert_double_eq_tol(evo_igd(&b[0][0], 1, &ref[0][0], 2, 2),
                            (sqrt(0.5) + sqrt(0.25 + 2.25)) / 2, 1e-15);
    ck_assert_double_eq_tol(evo_igd_plus(&b[0][0], 1, &ref[0][0], 2, 2), (sqrt(0.5) + 1.5) / 2,
                            1e-15);
    /* a point that dominates the whole reference front: IGD+ 0, IGD not */
    const double c[1][2] = {{-1, -1}};
    ck_assert_double_eq(evo_igd_plus(&c[0][0], 1, &ref[0][0], 2, 2), 0.0);
    ck_assert_double_gt(evo_igd(&c[0][0], 1, &ref[0][0], 2, 2), 1.0);
    ck_assert(isinf(evo_igd(&c[0][0], 0, &ref[0][0], 2, 2)));
    ck_assert_double_eq(evo_igd(&c[0][0], 1, &ref[0][0], 0, 2), 0.0);
    ck_assert_double_eq(evo_igd(&ref[0][0], 2, &ref[0][0], 2, 2), 0.0);
}
END_TEST

START_TEST(test_spread_hand_cases)
{
    const double ref[2][2] = {{0, 1}, {1, 0}};
    double even[5][2], s = -1;
    for (int i = 0; i < 5; i++) {
        even[i][0] = (4 - i) / 4.0;   /* unsorted on purpose */
        even[i][1] = i / 4.0;
    }
    ck_assert_int_eq(evo_spread(&even[0][0], 5, &ref[0][0], 2, &s), EVO_OK);
    ck_assert_double_eq_tol(s, 0.0, 1e-15);
    ck_assert_int_eq(evo_generalized_spread(&even[0][0], 5, &ref[0][0], 2, 2, &s), EVO_OK);
    ck_assert_double_eq_tol(s, 0.0, 1e-15);
    /* gaps sqrt(2)/4 and 3 sqrt(2)/4 through both extremes: Deb's Delta 1/2; generalized:
     * nearest-neighbour distances (1, 1, 3) sqrt(2)/4, so (2/3 + 2/3 + 4/3) / 5 = 8/15 */
    const double three[3][2] = {{0, 1}, {0.25, 0.75}, {1, 0}};
    ck_assert_int_eq(evo_spread(&three[0][0], 3, &ref[0][0], 2, &s), EVO_OK);
    ck_assert_double_eq_tol(s, 0.5, 1e-15);
    ck_assert_int_eq(evo_generalized_spread(&three[0][0], 3, &ref[0][0], 2, 2, &s), EVO_OK);
    ck_assert_double_eq_tol(s, 8.0 / 15.0, 1e-15);
    /* evenly spaced but short of both extremes by a quarter: d_f = d_l = d_mean, Delta 1/2 */
    const double inner[2][2] = {{0.25, 0.75}, {0.75, 0.25}};
    ck_assert_int_eq(evo_spread(&inner[0][0], 2, &ref[0][0], 2, &s), EVO_OK);
    ck_assert_double_eq_tol(s, 0.5, 1e-15);
    s = 7;
    ck_assert_int_eq(evo_spread(&inner[0][0], 1, &ref[0][0], 2, &s), EVO_ERR_ARG);
    ck_assert_int_eq(evo_generalized_spread(&inner[0][0], 2, &ref[0][0], 0, 2, &s), EVO_ERR_ARG);
    ck_assert_double_eq(s, 7);
}
END_TEST

START_TEST(test_normalize)
{
    const double f[2][2] = {{1, 3}, {2, 5}}, ideal[2] = {1, 3}, nadir[2] = {3, 3};
    double out[2][2];
    evo_normalize(&f[0][0], 2, 2, ideal, nadir, &out[0][0]);
    ck_assert_double_eq(out[0][0], 0.0);
    ck_assert_double_eq(out[1][0], 0.5);
    ck_assert_double_eq(out[1][1], 2.0);   /* zero range: shifted only */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("indicators");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_hv_hand_cases);
    tcase_add_test(tc, test_hv_matches_inclusion_exclusion);
    tcase_add_test(tc, test_hv_zdt1_front);
    tcase_add_test(tc, test_igd_hand_cases);
    tcase_add_test(tc, test_spread_hand_cases);
    tcase_add_test(tc, test_normalize);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
