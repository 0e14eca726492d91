/*
 * test_conv_same.c - the 3x3 and 5x5 stride-1 same-padding float convolution kernels
 * (conv_same_f32_* of every kernel set) against im2col + the reference sgemm on random shapes
 * with tails, tiny and odd images and channel counts; gradients against finite differences of
 * a loss; bit-identical results at 1 and 2 threads; the conv2d ops on such shapes with the
 * (empty) workspace eng_conv2d_workspace_size gives.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_kernels.h"
#include "eng_ops.h"
#include "kernel_sets.h"
#include "testutil.h"

static const char *const set_names[] = {"scalar", "avx2", "avx512"};
enum { SET_COUNT = 3 };

/* The set of loop index i, or NULL (with a note) when this CPU lacks it. Every set has the
 * three kernels. */
static const eng_kernels *set_or_skip(int i)
{
    const eng_kernels *k = test_kernel_set(set_names[i]);
    if (k == NULL)
        return NULL;
    ck_assert_msg(k->conv_same_f32_forward && k->conv_same_f32_backward_data &&
                  k->conv_same_f32_backward_weights, "set %s lacks a conv_same kernel", k->name);
    return k;
}

static float *random_floats(size_t count, uint64_t *rng)
{
    float *v = malloc(sizeof(float) * (count ? count : 1));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < count; i++)
        v[i] = test_rand_uniform(rng, -1.0f, 1.0f);
    return v;
}

static float *absolute(const float *v, size_t count)
{
    float *a = malloc(sizeof(float) * count);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < count; i++)
        a[i] = fabsf(v[i]);
    return a;
}

/* The definitions through im2col + reference sgemm (double sums):
 * y = W cols (+ bias), dw = dy cols^T, dx = col2im(W^T dy). */
static void def_forward(const eng_conv_shape *s, int oc, const float *x, const float *w,
                        const float *bias, float *y)
{
    const eng_kernels *r = eng_kernels_ref();
    const int K = s->c * s->kh * s->kw, P = s->n * s->h * s->w;
    float *cols = malloc(sizeof(float) * K * P);
    ck_assert_int_eq(r->im2col_f32(s, x, 0.0f, cols), ENG_OK);
    ck_assert_int_eq(r->sgemm(false, false, oc, P, K, 1.0f, w, K, cols, P, 0.0f, y, P), ENG_OK);
    for (int o = 0; bias && o < oc; o++)
        for (int p = 0; p < P; p++)
            y[(size_t)o * P + p] += bias[o];
    free(cols);
}

static void def_backward_weights(const eng_conv_shape *s, int oc, const float *x,
                                 const float *dy, float *dw)
{
    const eng_kernels *r = eng_kernels_ref();
    const int K = s->c * s->kh * s->kw, P = s->n * s->h * s->w;
    float *cols = malloc(sizeof(float) * K * P);
    ck_assert_int_eq(r->im2col_f32(s, x, 0.0f, cols), ENG_OK);
    ck_assert_int_eq(r->sgemm(false, true, oc, K, P, 1.0f, dy, P, cols, P, 0.0f, dw, K), ENG_OK);
    free(cols);
}

static void def_backward_data(const eng_conv_shape *s, int oc, const float *dy, const float *w,
                              float *dx)
{
    const eng_kernels *r = eng_kernels_ref();
    const int K = s->c * s->kh * s->kw, P = s->n * s->h * s->w;
    float *cols = malloc(sizeof(float) * K * P);
    ck_assert_int_eq(r->sgemm(true, false, K, P, oc, 1.0f, w, K, dy, P, 0.0f, cols, P), ENG_OK);
    ck_assert_int_eq(r->col2im_f32(s, cols, dx), ENG_OK);
    free(cols);
}

/* |got - want| <= tol * scale for every element, scale = the same sum over absolute values
 * (a bound on float rounding of any summation order), plus a tiny floor for exact zeros. */
static void assert_within(const char *what, const char *set, const float *got, const float *want,
                          const float *scale, size_t count, double tol)
{
    for (size_t i = 0; i < count; i++) {
        double err = fabs((double)got[i] - want[i]);
        ck_assert_msg(err <= tol * scale[i] + 1e-30, "%s (%s): [%zu] = %.9g, want %.9g (scale %g)",
                      what, set, i, (double)got[i], (double)want[i], (double)scale[i]);
    }
}

typedef struct shape_case {
    int n, c, oc, h, w;
} shape_case;

static const shape_case fixed_cases[] = {
    {1, 1, 1, 1, 1},   {1, 2, 3, 2, 2},   {2, 3, 5, 7, 7},   {3, 17, 9, 5, 16},
    {1, 40, 33, 17, 17}, {2, 16, 16, 8, 8}, {3, 1, 40, 3, 17}, {1, 7, 8, 17, 1},
    {2, 9, 11, 1, 13}, {3, 33, 31, 4, 4},
    {3, 10, 9, 29, 30}, /* P = 2610: backward weights carries its sums over two passes */
};
enum { FIXED_COUNT = sizeof fixed_cases / sizeof fixed_cases[0], RANDOM_COUNT = 12 };

static shape_case case_of(int i, uint64_t *rng)
{
    if (i < FIXED_COUNT)
        return fixed_cases[i];
    shape_case sc;
    sc.n = 1 + (int)(test_rand_u64(rng) % 3);
    sc.c = 1 + (int)(test_rand_u64(rng) % 40);
    sc.oc = 1 + (int)(test_rand_u64(rng) % 40);
    sc.h = 1 + (int)(test_rand_u64(rng) % 17);
    sc.w = 1 + (int)(test_rand_u64(rng) % 17);
    return sc;
}

/* The kernel size of loop index i: 3 for even, 5 for odd ones. */
static int size_of(int i)
{
    return i % 2 ? 5 : 3;
}

/* Every kernel of every set against the definitions on case _i / 2, kernel size_of(_i). */
START_TEST(test_against_im2col_gemm)
{
    const int ks = size_of(_i);
    uint64_t rng = 0x3c3c0000u + (uint64_t)(_i / 2);
    shape_case sc = case_of(_i / 2, &rng);
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, sc.n, sc.c, sc.h, sc.w, ks, ks, 1, ks / 2, 1),
                     ENG_OK);
    ck_assert(eng_conv_shape_is_same(&s));
    const size_t X = (size_t)sc.c * sc.n * sc.h * sc.w, Y = (size_t)sc.oc * sc.n * sc.h * sc.w;
    const size_t W = (size_t)sc.oc * sc.c * ks * ks;
    float *x = random_floats(X, &rng), *w = random_floats(W, &rng), *dy = random_floats(Y, &rng);
    float *bias = random_floats((size_t)sc.oc, &rng);
    float *ax = absolute(x, X), *aw = absolute(w, W), *ady = absolute(dy, Y);
    float *abias = absolute(bias, (size_t)sc.oc);
    float *y_def = malloc(4 * Y), *y_abs = malloc(4 * Y), *dx_def = malloc(4 * X);
    float *dx_abs = malloc(4 * X), *dw_def = malloc(4 * W), *dw_abs = malloc(4 * W);
    def_forward(&s, sc.oc, x, w, bias, y_def);
    def_forward(&s, sc.oc, ax, aw, abias, y_abs);
    def_backward_data(&s, sc.oc, dy, w, dx_def);
    def_backward_data(&s, sc.oc, ady, aw, dx_abs);
    def_backward_weights(&s, sc.oc, x, dy, dw_def);
    def_backward_weights(&s, sc.oc, ax, ady, dw_abs);

    float *y = malloc(4 * Y), *dx = malloc(4 * X), *dw = malloc(4 * W);
    float *y0 = malloc(4 * Y), *y0_def = malloc(4 * Y);
    def_forward(&s, sc.oc, x, w, NULL, y0_def);
    int tested = 0;
    for (int i = 0; i < SET_COUNT; i++) {
        const eng_kernels *k = set_or_skip(i);
        if (k == NULL)
            continue;
        tested++;
        /* garbage in the outputs: the kernels must overwrite every element */
        memset(y, 0x7f, 4 * Y);
        memset(dx, 0x7f, 4 * X);
        memset(dw, 0x7f, 4 * W);
        ck_assert_int_eq(k->conv_same_f32_forward(&s, sc.oc, x, w, bias, y), ENG_OK);
        ck_assert_int_eq(k->conv_same_f32_forward(&s, sc.oc, x, w, NULL, y0), ENG_OK);
        ck_assert_int_eq(k->conv_same_f32_backward_data(&s, sc.oc, dy, w, dx), ENG_OK);
        ck_assert_int_eq(k->conv_same_f32_backward_weights(&s, sc.oc, x, dy, dw), ENG_OK);
        assert_within("forward", k->name, y, y_def, y_abs, Y, 1e-5);
        assert_within("forward, no bias", k->name, y0, y0_def, y_abs, Y, 1e-5);
        assert_within("backward data", k->name, dx, dx_def, dx_abs, X, 1e-5);
        assert_within("backward weights", k->name, dw, dw_def, dw_abs, W, 1e-5);
    }
    ck_assert_int_ge(tested, 1); /* the scalar set always has them */
    free(x); free(w); free(dy); free(bias); free(ax); free(aw); free(ady); free(abias);
    free(y_def); free(y_abs); free(dx_def); free(dx_abs); free(dw_def); free(dw_abs);
    free(y); free(dx); free(dw); free(y0); free(y0_def);
}
END_TEST

/* L = sum_i y_i r_i computed in double from a set's forward. */
static double loss(const eng_kernels *k, const eng_conv_shape *s, int oc, const float *x,
                   const float *w, const float *r, float *y)
{
    const size_t Y = (size_t)oc * s->n * s->h * s->w;
    ck_assert_int_eq(k->conv_same_f32_forward(s, oc, x, w, NULL, y), ENG_OK);
    double sum = 0.0;
    for (size_t i = 0; i < Y; i++)
        sum += (double)y[i] * r[i];
    return sum;
}

/* Every element of p (p is x or w, count elements) perturbed by +-eps: the central difference
 * of the loss must match grad[j]. */
static void check_central_differences(const char *what, const eng_kernels *k,
                                      const eng_conv_shape *s, int oc, float *x, float *w,
                                      const float *r, float *y, float *p, size_t count,
                                      const float *grad)
{
    const float eps = 1e-2f;
    for (size_t j = 0; j < count; j++) {
        const float keep = p[j];
        p[j] = keep + eps;
        const double lp = loss(k, s, oc, x, w, r, y);
        p[j] = keep - eps;
        const double lm = loss(k, s, oc, x, w, r, y);
        p[j] = keep;
        const double fd = (lp - lm) / (2.0 * eps);
        ck_assert_msg(fabs(fd - grad[j]) <= 1e-3 * (1.0 + fabs(fd)),
                      "%s: %s[%zu] = %g, finite difference %g", k->name, what, j,
                      (double)grad[j], fd);
    }
}

/* dL/dw = backward_weights(x, r), dL/dx = backward_data(r, w), by central differences (the
 * loss is linear in w and x, so only rounding separates them); kernel size_of(_i). */
START_TEST(test_gradients_finite_differences)
{
    const int ks = size_of(_i);
    uint64_t rng = 77;
    eng_conv_shape s;
    const int oc = 4;
    ck_assert_int_eq(eng_conv_shape_init(&s, 2, 3, 5, 6, ks, ks, 1, ks / 2, 1), ENG_OK);
    const size_t X = 2 * 3 * 5 * 6, Y = (size_t)oc * 2 * 5 * 6, W = (size_t)oc * 3 * ks * ks;
    float *x = random_floats(X, &rng), *w = random_floats(W, &rng), *r = random_floats(Y, &rng);
    float *y = malloc(4 * Y), *dw = malloc(4 * W), *dx = malloc(4 * X);
    for (int i = 0; i < SET_COUNT; i++) {
        const eng_kernels *k = set_or_skip(i);
        if (k == NULL)
            continue;
        ck_assert_int_eq(k->conv_same_f32_backward_weights(&s, oc, x, r, dw), ENG_OK);
        ck_assert_int_eq(k->conv_same_f32_backward_data(&s, oc, r, w, dx), ENG_OK);
        check_central_differences("dw", k, &s, oc, x, w, r, y, w, W, dw);
        check_central_differences("dx", k, &s, oc, x, w, r, y, x, X, dx);
    }
    free(x); free(w); free(r); free(y); free(dw); free(dx);
}
END_TEST

/* The direct kernels (scalar, avx512) give bit-identical results at 1 and 2 threads; every set
 * gives bit-identical results when run twice with the same thread count; kernel size_of(_i). */
START_TEST(test_thread_count_independent)
{
    const int ks = size_of(_i);
    uint64_t rng = 5;
    eng_conv_shape s;
    const int oc = 24;
    ck_assert_int_eq(eng_conv_shape_init(&s, 3, 20, 17, 13, ks, ks, 1, ks / 2, 1), ENG_OK);
    const size_t X = (size_t)20 * 3 * 17 * 13, Y = (size_t)oc * 3 * 17 * 13;
    const size_t W = (size_t)oc * 20 * ks * ks;
    float *x = random_floats(X, &rng), *w = random_floats(W, &rng), *dy = random_floats(Y, &rng);
    float *bias = random_floats((size_t)oc, &rng);
    float *out[2][3];
    for (int i = 0; i < SET_COUNT; i++) {
        const eng_kernels *k = set_or_skip(i);
        if (k == NULL)
            continue;
        const bool any_count = strcmp(k->name, "avx2") != 0; /* avx2: OpenBLAS */
        for (int t = 0; t < 2; t++) {
            test_set_threads(any_count ? t + 1 : 2);
            out[t][0] = malloc(4 * Y);
            out[t][1] = malloc(4 * X);
            out[t][2] = malloc(4 * W);
            ck_assert_int_eq(k->conv_same_f32_forward(&s, oc, x, w, bias, out[t][0]), ENG_OK);
            ck_assert_int_eq(k->conv_same_f32_backward_data(&s, oc, dy, w, out[t][1]), ENG_OK);
            ck_assert_int_eq(k->conv_same_f32_backward_weights(&s, oc, x, dy, out[t][2]), ENG_OK);
        }
        test_set_threads(2);
        ck_assert_msg(memcmp(out[0][0], out[1][0], 4 * Y) == 0, "%s forward", k->name);
        ck_assert_msg(memcmp(out[0][1], out[1][1], 4 * X) == 0, "%s backward data", k->name);
        ck_assert_msg(memcmp(out[0][2], out[1][2], 4 * W) == 0, "%s backward weights", k->name);
        for (int t = 0; t < 2; t++)
            for (int j = 0; j < 3; j++)
                free(out[t][j]);
    }
    free(x); free(w); free(dy); free(bias);
}
END_TEST

/* eng_conv2d_forward / _backward on a same-padding shape (kernel size_of(_i)) agree with the
 * definitions for every set; such a shape needs no workspace (NULL is passed). */
START_TEST(test_conv2d_ops_direct_shape)
{
    const int ks = size_of(_i);
    uint64_t rng = 11;
    eng_conv_shape s;
    const int oc = 10;
    ck_assert_int_eq(eng_conv_shape_init(&s, 2, 6, 9, 11, ks, ks, 1, ks / 2, 1), ENG_OK);
    const size_t X = (size_t)6 * 2 * 9 * 11, Y = (size_t)oc * 2 * 9 * 11;
    const size_t W = (size_t)oc * 6 * ks * ks;
    float *x = random_floats(X, &rng), *w = random_floats(W, &rng), *dy = random_floats(Y, &rng);
    float *bias = random_floats((size_t)oc, &rng);
    float *ax = absolute(x, X), *aw = absolute(w, W), *ady = absolute(dy, Y);
    float *abias = absolute(bias, (size_t)oc);
    float *y_def = malloc(4 * Y), *y_abs = malloc(4 * Y), *dx_def = malloc(4 * X);
    float *dx_abs = malloc(4 * X), *dw_def = malloc(4 * W), *dw_abs = malloc(4 * W);
    def_forward(&s, oc, x, w, bias, y_def);
    def_forward(&s, oc, ax, aw, abias, y_abs);
    def_backward_data(&s, oc, dy, w, dx_def);
    def_backward_data(&s, oc, ady, aw, dx_abs);
    def_backward_weights(&s, oc, x, dy, dw_def);
    def_backward_weights(&s, oc, ax, ady, dw_abs);
    float *y = malloc(4 * Y), *dx = malloc(4 * X), *dw = malloc(4 * W), db[10];
    ck_assert_uint_eq(eng_conv2d_workspace_size(&s, oc, NULL), 0);
    void *ws = NULL;
    for (int i = 0; i < SET_COUNT; i++) {
        const eng_kernels *k = eng_kernels_by_name(set_names[i]);
        if (k == NULL)
            continue;
        ck_assert_int_eq(eng_conv2d_forward(k, &s, oc, x, w, bias, NULL, false, y, ws), ENG_OK);
        ck_assert_int_eq(eng_conv2d_backward(k, &s, oc, x, w, NULL, dy, dx, dw, db, ws), ENG_OK);
        assert_within("conv2d forward", k->name, y, y_def, y_abs, Y, 1e-5);
        assert_within("conv2d backward data", k->name, dx, dx_def, dx_abs, X, 1e-5);
        assert_within("conv2d backward weights", k->name, dw, dw_def, dw_abs, W, 1e-5);
        for (int o = 0; o < oc; o++) {
            double sum = 0.0;
            for (size_t p = 0; p < Y / oc; p++)
                sum += dy[(size_t)o * (Y / oc) + p];
            ck_assert_msg(fabs(sum - db[o]) <= 1e-5 * (1.0 + fabs(sum)), "%s db[%d]", k->name, o);
        }
    }
    free(x); free(w); free(dy); free(bias); free(ax); free(aw); free(ady); free(abias);
    free(y_def); free(y_abs); free(dx_def); free(dx_abs); free(dw_def); free(dw_abs);
    free(y); free(dx); free(dw);
}
END_TEST

/* The shape predicate accepts exactly 3x3 pad 1 and 5x5 pad 2, stride 1, dilation 1. */
START_TEST(test_shape_predicate)
{
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 3, 3, 1, 1, 1), ENG_OK);
    ck_assert(eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 3, 3, 2, 1, 1), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 3, 3, 1, 0, 1), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 3, 3, 1, 1, 2), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 5, 5, 1, 2, 1), ENG_OK);
    ck_assert(eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 5, 5, 1, 1, 1), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 5, 5, 2, 2, 1), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 5, 3, 1, 2, 1), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 7, 7, 1, 3, 1), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 1, 3, 1, 1, 1), ENG_OK);
    ck_assert(!eng_conv_shape_is_same(&s));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_same");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_against_im2col_gemm, 0, 2 * (FIXED_COUNT + RANDOM_COUNT));
    tcase_add_loop_test(tc, test_gradients_finite_differences, 0, 2);
    tcase_add_loop_test(tc, test_thread_count_independent, 0, 2);
    tcase_add_loop_test(tc, test_conv2d_ops_direct_shape, 0, 2);
    tcase_add_test(tc, test_shape_predicate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
