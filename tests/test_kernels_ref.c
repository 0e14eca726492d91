/*
 * test_kernels_ref.c - the scalar reference kernels against PyTorch vectors and first
 * principles: approximate convolution accumulators, im2col/col2im adjointness, quantization.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eng_kernels.h"
#include "testutil.h"

/* approx_conv2d reference case: the accumulators must match bit for bit. */
static void check_approx_conv_case(const char *case_name, const char *table_file,
                                   int n, int c, int h, int w, int oc, int stride, int pad)
{
    const int K = 3;
    size_t tsize;
    uint16_t *table = test_read_file(test_luts_path(table_file), &tsize);
    ck_assert_uint_eq(tsize, 65536 * 2);
    const eng_kernels *k = eng_kernels_ref();
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, n, c, h, w, K, K, stride, pad, 1), ENG_OK);
    size_t plane = (size_t)h * w, oplane = (size_t)s.oh * s.ow;
    uint8_t *a_nchw = test_read_reference(case_name, "a_codes.bin", n * c * plane);
    uint8_t *wc = test_read_reference(case_name, "w_codes.bin", (size_t)oc * c * K * K);
    int32_t *acc_ref = test_read_reference(case_name, "acc.bin", 4 * n * oc * oplane);

    uint8_t *a = malloc((size_t)c * n * plane); /* NCHW -> CNHW */
    for (int b = 0; b < n; b++)
        for (int ci = 0; ci < c; ci++)
            memcpy(&a[(ci * n + b) * plane], &a_nchw[(b * c + ci) * plane], plane);
    uint8_t *cols = malloc((size_t)c * K * K * n * oplane);
    int32_t *acc = malloc(sizeof(int32_t) * oc * n * oplane);
    eng_lut lut = {.table = table, .w_bits = 8, .is_signed = false, .mode = ENG_LUT_DIRECT};
    ck_assert_int_eq(k->im2col_u8(&s, a, 37 /* a_zero_point of both cases */, cols), ENG_OK);
    ck_assert_int_eq(k->lut_gemm(&lut, oc, n * (int)oplane, c * K * K, wc, cols, acc), ENG_OK);
    for (int b = 0; b < n; b++)
        for (int o = 0; o < oc; o++)
            for (size_t p = 0; p < oplane; p++)
                ck_assert_int_eq(acc[(o * n + b) * oplane + p], acc_ref[(b * oc + o) * oplane + p]);
    free(a);
    free(cols);
    free(acc);
    free(table);
    free(a_nchw);
    free(wc);
    free(acc_ref);
}

START_TEST(test_approx_conv_exact_multiplier)
{
    check_approx_conv_case("approx_conv3x3_1JFF", "8x8_unsigned/mul8u_1JFF.bin", 1, 2, 6, 6, 3, 2, 0);
}
END_TEST

START_TEST(test_approx_conv_dm1)
{
    check_approx_conv_case("approx_conv3x3_DM1", "8x8_unsigned/mul8u_DM1.bin", 2, 3, 7, 7, 4, 1, 1);
}
END_TEST

START_TEST(test_col2im_is_adjoint)
{
    const int geo[][9] = {
        /* n c h w kh kw stride pad dil */
        {2, 3, 7, 6, 3, 3, 1, 1, 1},
        {1, 2, 9, 9, 5, 5, 2, 0, 1},
        {3, 1, 8, 8, 3, 3, 1, 2, 2},
        {2, 4, 5, 5, 1, 1, 2, 0, 1},
    };
    const eng_kernels *k = eng_kernels_ref();
    uint64_t rng = 42;
    for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
        const int *p = geo[g];
        eng_conv_shape s;
        ck_assert_int_eq(eng_conv_shape_init(&s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                                             p[8]), ENG_OK);
        size_t nx = (size_t)s.n * s.c * s.h * s.w, nc = (size_t)s.c * s.kh * s.kw * s.n * s.oh * s.ow;
        float *x = malloc(nx * 4), *dx = malloc(nx * 4), *cols = malloc(nc * 4), *c = malloc(nc * 4);
        for (size_t i = 0; i < nx; i++) x[i] = test_rand_uniform(&rng, -1, 1);
        for (size_t i = 0; i < nc; i++) c[i] = test_rand_uniform(&rng, -1, 1);
        ck_assert_int_eq(k->im2col_f32(&s, x, 0.0f, cols), ENG_OK);
        ck_assert_int_eq(k->col2im_f32(&s, c, dx), ENG_OK);
        double lhs = 0, rhs = 0;
        for (size_t i = 0; i < nc; i++) lhs += (double)cols[i] * c[i];
        for (size_t i = 0; i < nx; i++) rhs += (double)x[i] * dx[i];
        ck_assert_double_eq_tol(lhs, rhs, 1e-4 * (1 + fabs(lhs)));
        free(x); free(dx); free(cols); free(c);
    }
}
END_TEST

START_TEST(test_conv_shape_rejects_bad_geometry)
{
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 2, 2, 5, 5, 1, 0, 1), ENG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "larger than padded input"));
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 1, 8, 8, 3, 3, 0, 0, 1), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_conv_shape_init(&s, 0, 1, 8, 8, 3, 3, 1, 0, 1), ENG_ERR_SHAPE);
}
END_TEST

/* quantize against the fake-quantization reference (scale 0.05, zero point 60, [0, 255]). */
START_TEST(test_quantize_matches_reference)
{
    enum { COUNT = 2 * 3 * 4 * 4 };
    float *x = test_read_reference("fakequant_asym_u8", "x.bin", COUNT * 4);
    float *y = test_read_reference("fakequant_asym_u8", "y.bin", COUNT * 4);
    uint8_t codes[COUNT];
    ck_assert_int_eq(eng_kernels_ref()->quantize(x, COUNT, 0.05f, 60, 0, 255, codes), ENG_OK);
    for (int i = 0; i < COUNT; i++)
        ck_assert_float_eq_tol((codes[i] - 60) * 0.05f, y[i], 1e-6f);
    free(x);
    free(y);
}
END_TEST

START_TEST(test_lut_product_modes)
{
    static uint16_t table[256 * 256];
    for (int a = 0; a < 256; a++)
        for (int w = 0; w < 256; w++) table[a << 8 | w] = (uint16_t)(a * w);
    eng_lut u = {.table = table, .w_bits = 8, .is_signed = false, .mode = ENG_LUT_DIRECT};
    ck_assert_int_eq(eng_lut_product(&u, 255, 255), 65025);
    eng_lut sm = {.table = table, .w_bits = 8, .is_signed = false, .mode = ENG_LUT_SIGN_MAGNITUDE};
    ck_assert_int_eq(eng_lut_product(&sm, (uint8_t)-5, 7), -35);
    ck_assert_int_eq(eng_lut_product(&sm, (uint8_t)-128, (uint8_t)-127), 128 * 127);
    static uint16_t stable[256 * 256];
    for (int a = -128; a < 128; a++)
        for (int w = -128; w < 128; w++)
            stable[(uint8_t)a << 8 | (uint8_t)w] = (uint16_t)(int16_t)(a * w);
    eng_lut s = {.table = stable, .w_bits = 8, .is_signed = true, .mode = ENG_LUT_DIRECT};
    ck_assert_int_eq(eng_lut_product(&s, (uint8_t)-3, 100), -300);
    ck_assert_int_eq(eng_lut_product(&s, (uint8_t)-128, (uint8_t)-128), 16384);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernels_ref");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_approx_conv_exact_multiplier);
    tcase_add_test(tc, test_approx_conv_dm1);
    tcase_add_test(tc, test_col2im_is_adjoint);
    tcase_add_test(tc, test_conv_shape_rejects_bad_geometry);
    tcase_add_test(tc, test_quantize_matches_reference);
    tcase_add_test(tc, test_lut_product_modes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
