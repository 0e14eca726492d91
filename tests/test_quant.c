/*
 * test_quant.c - quantization (eng_quant.h) and the quantized-approximate paths of conv2d,
 * depthwise and dense (eng_ops.h): PyTorch fake-quantize vectors, TFApprox approximate
 * convolutions, bit-exactness of exact tables against direct integer arithmetic, the
 * asymmetric decomposition, STE masks, table gradients against finite differences, observers,
 * the small-batch (transposed) dense GEMM and the table parts the states share.
 */
#include <check.h>
#include <float.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_config.h"
#include "approx_internal.h"
#include "eng_ops.h"
#include "kernel_sets.h"
#include "testutil.h"
#if ENG_HAVE_OPENMP
#include <omp.h>
#endif

static eng_mul *load_mul(const char *name)
{
    eng_mul *m = NULL;
    eng_status st = eng_mul_load(name, &m);
    ck_assert_msg(st == ENG_OK, "%s: %s", name, eng_last_error());
    return m;
}

static void *xmalloc(size_t size)
{
    void *p = eng_alloc(size ? size : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ------------------------------------------------------------------------------------------
 * Quantization parameters, fake-quantization, observers
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_qparams_hand_computed)
{
    /* [-1, 3] on 0..255: scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64 */
    eng_qparams p = eng_qparams_from_range(-1.0f, 3.0f, 0, 255, false);
    ck_assert_float_eq_tol(p.scale, 4.0f / 255.0f, 1e-9f);
    ck_assert_int_eq(p.zero_point, 64);
    /* ranges are widened to contain 0: [0.5, 2] acts as [0, 2] */
    p = eng_qparams_from_range(0.5f, 2.0f, 0, 255, false);
    ck_assert_int_eq(p.zero_point, 0);
    ck_assert_float_eq_tol(p.scale, 2.0f / 255.0f, 1e-9f);
    ck_assert_int_eq(eng_quant_code(&p, 0.0f), 0);
    p = eng_qparams_from_range(-4.0f, -1.0f, 0, 15, false);
    ck_assert_int_eq(p.zero_point, 15);
    ck_assert_int_eq(eng_quant_code(&p, 0.0f), 15);
    /* symmetric: max |x| / 127 and zero point 0 */
    p = eng_qparams_from_range(-2.54f, 1.0f, -127, 127, true);
    ck_assert_float_eq_tol(p.scale, 0.02f, 1e-8f);
    ck_assert_int_eq(p.zero_point, 0);
    ck_assert_int_eq(eng_quant_code(&p, -2.54f), -127);
    ck_assert_int_eq(eng_quant_code(&p, 100.0f), 127);         /* clipped */
    ck_assert_int_eq(eng_quant_in_range(&p, 100.0f), 0);
    /* constant tensors get a positive scale and keep 0 exact */
    p = eng_qparams_from_range(0.0f, 0.0f, 0, 255, false);
    ck_assert(p.scale > 0.0f);
    ck_assert_int_eq(p.zero_point, 0);
    ck_assert_float_eq(((float)eng_quant_code(&p, 0.0f) - p.zero_point) * p.scale, 0.0f);
    p = eng_qparams_from_range(NAN, NAN, -127, 127, true);
    ck_assert(p.scale > 0.0f);
    p = eng_qparams_from_range(-INFINITY, 2.0f, 0, 255, false);     /* inf counts as 0 */
    ck_assert_float_eq_tol(p.scale, 2.0f / 255.0f, 1e-9f);
    /* round half to even: 2.5 -> 2, 3.5 -> 4 */
    p = (eng_qparams){.scale = 1.0f, .zero_point = 0, .qmin = -10, .qmax = 10};
    ck_assert_int_eq(eng_quant_code(&p, 2.5f), 2);
    ck_assert_int_eq(eng_quant_code(&p, 3.5f), 4);
    ck_assert_int_eq(eng_quant_code(&p, -2.5f), -2);
}
END_TEST

START_TEST(test_fakequant_asym_reference)
{
    const size_t n = 2 * 3 * 4 * 4;
    float *x = test_read_reference("fakequant_asym_u8", "x.bin", 4 * n);
    float *y_ref = test_read_reference("fakequant_asym_u8", "y.bin", 4 * n);
    float *dy = test_read_reference("fakequant_asym_u8", "dy.bin", 4 * n);
    float *dx_ref = test_read_reference("fakequant_asym_u8", "dx.bin", 4 * n);
    float y[96], dx[96];
    eng_qparams p = {.scale = 0.05f, .zero_point = 60, .qmin = 0, .qmax = 255};
    eng_fake_quantize(&p, x, n, y);
    eng_fake_quantize_backward(&p, x, dy, n, dx);
    int clipped = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(y[i] == y_ref[i], "y[%zu] %.9g vs %.9g", i, (double)y[i],
                      (double)y_ref[i]);
        ck_assert_float_eq(dx[i], dx_ref[i]);
        clipped += dx_ref[i] == 0.0f && dy[i] != 0.0f;
    }
    ck_assert_int_gt(clipped, 0);        /* the case exercises the STE mask */
    free(x); free(y_ref); free(dy); free(dx_ref);
}
END_TEST

START_TEST(test_fakequant_sym_per_channel_reference)
{
    const int C = 4;
    const size_t K = 27, n = 4 * 27;
    float *w = test_read_reference("fakequant_sym_i8_per_channel", "w.bin", 4 * n);
    float *scale = test_read_reference("fakequant_sym_i8_per_channel", "scale.bin", 4 * C);
    float *y_ref = test_read_reference("fakequant_sym_i8_per_channel", "y.bin", 4 * n);
    float *dy = test_read_reference("fakequant_sym_i8_per_channel", "dy.bin", 4 * n);
    float *dw_ref = test_read_reference("fakequant_sym_i8_per_channel", "dw.bin", 4 * n);
    eng_qparams p[4];
    float y[108], dw[108];
    eng_qparams_per_channel(w, C, K, -127, 127, true, p);
    for (int c = 0; c < C; c++) {
        ck_assert_float_eq(p[c].scale, scale[c]);
        ck_assert_int_eq(p[c].zero_point, 0);
        eng_fake_quantize(&p[c], w + c * K, K, y + c * K);
        eng_fake_quantize_backward(&p[c], w + c * K, dy + c * K, K, dw + c * K);
    }
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(y[i] == y_ref[i], "y[%zu] %.9g vs %.9g", i, (double)y[i],
                      (double)y_ref[i]);
        ck_assert_float_eq(dw[i], dw_ref[i]);
    }
    free(w); free(scale); free(y_ref); free(dy); free(dw_ref);
}
END_TEST

START_TEST(test_observer)
{
    eng_observer o = {.mode = ENG_OBSERVER_EMA, .momentum = 0.25f};
    eng_observer_update(&o, -1.0f, 2.0f);           /* first batch sets the range */
    ck_assert(o.valid);
    ck_assert_float_eq(o.lo, -1.0f);
    ck_assert_float_eq(o.hi, 2.0f);
    eng_observer_update(&o, -3.0f, 6.0f);           /* lo += 0.25 * (-3 + 1), hi += 0.25 * 4 */
    ck_assert_float_eq(o.lo, -1.5f);
    ck_assert_float_eq(o.hi, 3.0f);
    o.mode = ENG_OBSERVER_MINMAX;
    eng_observer_update(&o, -1.0f, 5.0f);
    ck_assert_float_eq(o.lo, -1.5f);
    ck_assert_float_eq(o.hi, 5.0f);
    o.mode = ENG_OBSERVER_FROZEN;
    eng_observer_update(&o, -10.0f, 10.0f);
    ck_assert_float_eq(o.lo, -1.5f);
    ck_assert_float_eq(o.hi, 5.0f);
    float lo, hi;
    const float v[] = {NAN, 3.0f, -2.0f, NAN, 1.0f};
    eng_quant_minmax(v, 5, &lo, &hi);
    ck_assert_float_eq(lo, -2.0f);
    ck_assert_float_eq(hi, 3.0f);
}
END_TEST

/* Activation ranges of a layer state: EMA in training, none in inference, calibration. */
START_TEST(test_approx_activation_range)
{
    const eng_kernels *k = eng_kernels_get();
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.ema_momentum = 0.5f;
    eng_approx *q;
    ck_assert_int_eq(eng_approx_create(&cfg, NULL, 2, &q), ENG_OK);
    float x1[6] = {-1, 0, 1, 2, 0.5f, 0}, x2[6] = {-3, 0, 1, 6, 0, 0}, x3[6] = {-8, 9, 0, 0, 0, 0};
    float w[6] = {1, -1, 0.5f, 0.25f, -0.5f, 1}, y[6];
    float lo, hi;
    ck_assert(!eng_approx_act_range(q, &lo, &hi));
    /* inference without a range: the batch's own range, not stored */
    void *ws = xmalloc(eng_dense_workspace_size(3, 2, 2, q));
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x1, w, NULL, q, false, y, ws), ENG_OK);
    ck_assert(!eng_approx_act_range(q, &lo, &hi));
    ck_assert_float_eq_tol(eng_approx_act_qparams(q).scale, 3.0f / 255.0f, 1e-9f);
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x1, w, NULL, q, true, y, ws), ENG_OK);
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x2, w, NULL, q, true, y, ws), ENG_OK);
    ck_assert(eng_approx_act_range(q, &lo, &hi));
    ck_assert_float_eq(lo, -2.0f);                 /* -1 + 0.5 * (-3 + 1) */
    ck_assert_float_eq(hi, 4.0f);                  /*  2 + 0.5 * (6 - 2) */
    ck_assert_float_eq_tol(eng_approx_act_qparams(q).scale, 6.0f / 255.0f, 1e-9f);
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x3, w, NULL, q, false, y, ws), ENG_OK);
    ck_assert(eng_approx_act_range(q, &lo, &hi));  /* inference leaves the EMA alone */
    ck_assert_float_eq(lo, -2.0f);
    /* calibration: running min/max over the batches, then frozen even for training */
    eng_approx_calibrate_begin(q);
    ck_assert(!eng_approx_act_range(q, &lo, &hi));
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x1, w, NULL, q, false, y, ws), ENG_OK);
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x2, w, NULL, q, false, y, ws), ENG_OK);
    eng_approx_calibrate_end(q);
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x3, w, NULL, q, true, y, ws), ENG_OK);
    ck_assert(eng_approx_act_range(q, &lo, &hi));
    ck_assert_float_eq(lo, -3.0f);
    ck_assert_float_eq(hi, 6.0f);
    /* a set range is frozen too; bad ranges are refused and change nothing */
    ck_assert_int_eq(eng_approx_set_act_range(q, 1.0f, 0.0f), ENG_ERR_ARG);
    ck_assert_int_eq(eng_approx_set_act_range(q, -INFINITY, 0.0f), ENG_ERR_ARG);
    ck_assert_int_eq(eng_approx_set_act_range(q, -0.5f, 0.25f), ENG_OK);
    ck_assert_int_eq(eng_dense_forward(k, 3, 2, 2, x2, w, NULL, q, true, y, ws), ENG_OK);
    ck_assert(eng_approx_act_range(q, &lo, &hi));
    ck_assert_float_eq(lo, -0.5f);
    ck_assert_float_eq(hi, 0.25f);
    eng_approx_range_reset(q);
    ck_assert(!eng_approx_act_range(q, &lo, &hi));
    eng_free(ws);
    eng_approx_free(q);
}
END_TEST

START_TEST(test_approx_config_errors)
{
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    eng_approx *q = NULL;
    eng_mul *s8 = load_mul("mul8s_1KV8"), *u4 = load_mul("mul8x4u_2UU"), *u8 = load_mul("mul8u_1JFF");
    ck_assert_int_eq(eng_approx_create(&cfg, s8, 3, &q), ENG_ERR_UNSUPPORTED);  /* ASYM, signed */
    ck_assert_ptr_null(q);
    cfg.weight_bits = 9;
    ck_assert_int_eq(eng_approx_create(&cfg, NULL, 3, &q), ENG_ERR_ARG);
    cfg.weight_bits = 8;
    ck_assert_int_eq(eng_approx_create(&cfg, u4, 3, &q), ENG_ERR_ARG);          /* 8 > 4 bits */
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "8x4"));
    cfg.weight_bits = 0;
    cfg.ema_momentum = 0.0f;
    ck_assert_int_eq(eng_approx_create(&cfg, NULL, 3, &q), ENG_ERR_ARG);
    cfg.ema_momentum = 0.01f;
    ck_assert_int_eq(eng_approx_create(&cfg, NULL, 0, &q), ENG_ERR_ARG);
    /* weight width follows the multiplier; a failing swap leaves the state unchanged */
    ck_assert_int_eq(eng_approx_create(&cfg, u4, 3, &q), ENG_OK);
    float x[4] = {0.5f, -1, 2, 0}, w[6] = {1, 2, 3, -1, -2, 0}, dy[6] = {0}, dw[6];
    ck_assert_int_eq(eng_dense_backward(eng_kernels_get(), 2, 3, 2, x, w, q, dy, NULL, dw, NULL,
                                        NULL), ENG_ERR_ARG);   /* no forward yet */
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "no quantized forward"));
    int32_t amin, amax, wmin, wmax;
    eng_approx_code_ranges(q, &amin, &amax, &wmin, &wmax);
    ck_assert_int_eq(wmax, 15);
    ck_assert_int_eq(amax, 255);
    ck_assert_int_eq(eng_approx_set_mul(q, s8), ENG_ERR_UNSUPPORTED);
    ck_assert_ptr_eq(eng_approx_lut(q)->table, u4->table);
    ck_assert_int_eq(eng_approx_set_mul(q, u8), ENG_OK);
    eng_approx_code_ranges(q, &amin, &amax, &wmin, &wmax);
    ck_assert_int_eq(wmax, 255);
    eng_approx_free(q);
    /* SYM: signed tables directly, unsigned tables as sign-magnitude */
    cfg.mode = ENG_QUANT_SYM;
    ck_assert_int_eq(eng_approx_create(&cfg, s8, 3, &q), ENG_OK);
    ck_assert_int_eq(eng_approx_lut(q)->mode, ENG_LUT_DIRECT);
    eng_approx_code_ranges(q, &amin, &amax, &wmin, &wmax);
    ck_assert_int_eq(amin, -127);
    ck_assert_int_eq(wmax, 127);
    ck_assert_int_eq(eng_approx_set_mul(q, u4), ENG_OK);
    ck_assert_int_eq(eng_approx_lut(q)->mode, ENG_LUT_SIGN_MAGNITUDE);
    eng_approx_code_ranges(q, &amin, &amax, &wmin, &wmax);
    ck_assert_int_eq(wmin, -15);
    ck_assert_int_eq(wmax, 15);
    eng_approx_free(q);
    eng_approx_free(NULL);
    eng_mul_free(s8); eng_mul_free(u4); eng_mul_free(u8);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * TFApprox reference: approximate convolution on codes
 * ---------------------------------------------------------------------------------------- */

static void check_approx_case(const char *name, const char *mul_name, int n, int c, int h, int w,
                              int oc, int stride, int pad)
{
    const eng_kernels *k = eng_kernels_get();
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, n, c, h, w, 3, 3, stride, pad, 1), ENG_OK);
    const size_t plane = (size_t)h * w, oplane = (size_t)s.oh * s.ow, Y = (size_t)n * oc * oplane;
    uint8_t *a_nchw = test_read_reference(name, "a_codes.bin", n * c * plane);
    uint8_t *wc = test_read_reference(name, "w_codes.bin", (size_t)oc * c * 9);
    int32_t *acc_ref = test_read_reference(name, "acc.bin", 4 * Y);
    float *y_ref = test_read_reference(name, "y.bin", 4 * Y);
    uint8_t *a = xmalloc((size_t)c * n * plane);
    for (int b = 0; b < n; b++)
        for (int ci = 0; ci < c; ci++)
            memcpy(&a[(ci * n + b) * plane], &a_nchw[(b * c + ci) * plane], plane);
    eng_mul *mul = load_mul(mul_name);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    eng_approx *q;
    ck_assert_int_eq(eng_approx_create(&cfg, mul, oc, &q), ENG_OK);
    eng_qparams aq = {.scale = 0.02f, .zero_point = 37, .qmin = 0, .qmax = 255};
    eng_qparams wq[4];
    for (int o = 0; o < oc; o++)
        wq[o] = (eng_qparams){.scale = 0.005f, .zero_point = 121, .qmin = 0, .qmax = 255};
    int32_t *acc = xmalloc(4 * Y);
    float *y = xmalloc(4 * Y);
    void *ws = xmalloc(eng_conv2d_workspace_size(&s, oc, q));
    ck_assert_int_eq(eng_conv2d_forward_codes(k, &s, oc, q, a, &aq, wc, wq, NULL, acc, y, ws),
                     ENG_OK);
    for (int b = 0; b < n; b++)
        for (int o = 0; o < oc; o++)
            for (size_t p = 0; p < oplane; p++) {
                size_t e = (o * n + b) * oplane + p, r = (b * oc + o) * oplane + p;
                ck_assert_int_eq(acc[e], acc_ref[r]);
                ck_assert_msg(fabsf(y[e] - y_ref[r]) <= 1e-5f * (1.0f + fabsf(y_ref[r])),
                              "y %g vs %g", (double)y[e], (double)y_ref[r]);
            }
    eng_free(ws); eng_free(acc); eng_free(y); eng_free(a);
    eng_approx_free(q);
    eng_mul_free(mul);
    free(a_nchw); free(wc); free(acc_ref); free(y_ref);
}

START_TEST(test_approx_conv_1jff_reference)
{
    check_approx_case("approx_conv3x3_1JFF", "mul8u_1JFF", 1, 2, 6, 6, 3, 2, 0);
}
END_TEST

START_TEST(test_approx_conv_dm1_reference)
{
    check_approx_case("approx_conv3x3_DM1", "mul8u_DM1", 2, 3, 7, 7, 4, 1, 1);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Layers under test: conv2d, depthwise and dense behind one interface. Dense x[in][n] is the
 * CNHW layout of a 1x1 convolution over 1x1 images, so the naive references below serve all.
 * ---------------------------------------------------------------------------------------- */

typedef enum op_kind { OP_CONV, OP_DEPTHWISE, OP_DENSE } op_kind;

typedef struct layer {
    op_kind kind;
    eng_conv_shape s;       /* dense: n, c = in, h = w = 1, 1x1 kernel */
    int oc;                 /* output channels */
    size_t X, W, Y, K;      /* sizes; K = products per output */
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
    void *ws;
} layer;

static void layer_init(layer *l, op_kind kind, int n, int c, int h, int w, int oc, int kh,
                       int stride, int pad, int dil, uint64_t seed)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->oc = kind == OP_DEPTHWISE ? c : oc;
    ck_assert_int_eq(eng_conv_shape_init(&l->s, n, c, h, w, kh, kh, stride, pad, dil), ENG_OK);
    l->K = (size_t)(kind == OP_DEPTHWISE ? 1 : c) * kh * kh;
    l->X = (size_t)n * c * h * w;
    l->W = (size_t)l->oc * l->K;
    l->Y = (size_t)n * l->oc * l->s.oh * l->s.ow;
    l->x = xmalloc(4 * l->X), l->dx = xmalloc(4 * l->X);
    l->w = xmalloc(4 * l->W), l->dw = xmalloc(4 * l->W);
    l->b = xmalloc(4 * l->oc), l->db = xmalloc(4 * l->oc);
    l->y = xmalloc(4 * l->Y), l->dy = xmalloc(4 * l->Y);
    uint64_t rng = seed;
    for (size_t i = 0; i < l->X; i++) l->x[i] = test_rand_uniform(&rng, -0.7f, 1.6f);
    for (size_t i = 0; i < l->W; i++) l->w[i] = test_rand_uniform(&rng, -0.6f, 0.4f);
    for (int i = 0; i < l->oc; i++) l->b[i] = test_rand_uniform(&rng, -0.3f, 0.3f);
    for (size_t i = 0; i < l->Y; i++) l->dy[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
}

static void layer_free(layer *l)
{
    eng_free(l->x); eng_free(l->dx); eng_free(l->w); eng_free(l->dw); eng_free(l->b);
    eng_free(l->db); eng_free(l->y); eng_free(l->dy); eng_free(l->ws);
}

static size_t layer_ws_size(const layer *l, const eng_approx *q)
{
    return l->kind == OP_CONV        ? eng_conv2d_workspace_size(&l->s, l->oc, q)
           : l->kind == OP_DEPTHWISE ? eng_depthwise_workspace_size(&l->s, q)
                                     : eng_dense_workspace_size(l->s.c, l->oc, l->s.n, q);
}

static void layer_forward(layer *l, eng_approx *q, bool training, float *y)
{
    const eng_kernels *k = eng_kernels_get();
    if (!l->ws) l->ws = xmalloc(layer_ws_size(l, q));
    eng_status st = l->kind == OP_CONV
        ? eng_conv2d_forward(k, &l->s, l->oc, l->x, l->w, l->b, q, training, y, l->ws)
        : l->kind == OP_DEPTHWISE
        ? eng_depthwise_forward(k, &l->s, l->x, l->w, l->b, q, training, y, l->ws)
        : eng_dense_forward(k, l->s.c, l->oc, l->s.n, l->x, l->w, l->b, q, training, y, l->ws);
    ck_assert_msg(st == ENG_OK, "%s", eng_last_error());
}

static void layer_backward_of(layer *l, const float *x, const float *w, eng_approx *q, float *dx,
                              float *dw, float *db)
{
    const eng_kernels *k = eng_kernels_get();
    if (!l->ws) l->ws = xmalloc(layer_ws_size(l, q));
    eng_status st = l->kind == OP_CONV
        ? eng_conv2d_backward(k, &l->s, l->oc, x, w, q, l->dy, dx, dw, db, l->ws)
        : l->kind == OP_DEPTHWISE
        ? eng_depthwise_backward(k, &l->s, x, w, q, l->dy, dx, dw, db, l->ws)
        : eng_dense_backward(k, l->s.c, l->oc, l->s.n, x, w, q, l->dy, dx, dw, db, l->ws);
    ck_assert_msg(st == ENG_OK, "%s", eng_last_error());
}

/* Calls f(o, p, tap index, input index or -1 when padded, weight index) for every product. */
#define LAYER_FOR_PRODUCTS(l, BODY)                                                          \
    do {                                                                                     \
        const eng_conv_shape *s_ = &(l)->s;                                                  \
        const int cin_ = (l)->kind == OP_DEPTHWISE ? 1 : s_->c;                              \
        for (int o = 0; o < (l)->oc; o++)                                                    \
            for (int n_ = 0; n_ < s_->n; n_++)                                               \
                for (int oy_ = 0; oy_ < s_->oh; oy_++)                                       \
                    for (int ox_ = 0; ox_ < s_->ow; ox_++) {                                 \
                        size_t p = (((size_t)o * s_->n + n_) * s_->oh + oy_) * s_->ow + ox_; \
                        for (int ci_ = 0; ci_ < cin_; ci_++) {                               \
                            int c_ = (l)->kind == OP_DEPTHWISE ? o : ci_;                    \
                            for (int i_ = 0; i_ < s_->kh; i_++)                              \
                                for (int j_ = 0; j_ < s_->kw; j_++) {                        \
                                    int iy_ = oy_ * s_->stride + i_ * s_->dilation - s_->pad; \
                                    int ix_ = ox_ * s_->stride + j_ * s_->dilation - s_->pad; \
                                    long xi = (iy_ < 0 || iy_ >= s_->h || ix_ < 0 ||          \
                                               ix_ >= s_->w)                                  \
                                                  ? -1                                        \
                                                  : (long)((((size_t)c_ * s_->n + n_) *       \
                                                            s_->h + iy_) * s_->w + ix_);      \
                                    size_t wi = (((size_t)o * cin_ + ci_) * s_->kh + i_) *    \
                                                    s_->kw + j_;                              \
                                    BODY                                                      \
                                }                                                             \
                        }                                                                     \
                    }                                                                         \
    } while (0)

/* The quantized forward computed directly from the codes the parameters of the last forward
 * give: y = sa*sw*sum((a - za)(w - zw)) + b with exact integers, by the same dequantization
 * formula (double product, rounded to float, plus bias) so that equality is bit for bit. */
static void direct_quantized_forward(layer *l, const eng_approx *q, float *y)
{
    const eng_qparams a = eng_approx_act_qparams(q);
    const eng_qparams *wq = eng_approx_weight_qparams(q);
    int64_t *v = calloc(l->Y, sizeof *v);
    LAYER_FOR_PRODUCTS(l, {
        if (xi >= 0)
            v[p] += (int64_t)(eng_quant_code(&a, l->x[xi]) - a.zero_point) *
                    (eng_quant_code(&wq[o], l->w[wi]) - wq[o].zero_point);
    });
    const size_t plane = l->Y / l->oc;
    for (size_t p = 0; p < l->Y; p++) {
        int o = (int)(p / plane);
        y[p] = (float)((double)a.scale * wq[o].scale * (double)v[p]) + l->b[o];
    }
    free(v);
}

/* Forward of the float layer on fake-quantized operands (q's parameters). */
static void fake_quantized_forward(layer *l, const eng_approx *q, float *y, float *xq, float *wq)
{
    const eng_qparams a = eng_approx_act_qparams(q);
    const eng_qparams *w = eng_approx_weight_qparams(q);
    eng_fake_quantize(&a, l->x, l->X, xq);
    for (int o = 0; o < l->oc; o++) eng_fake_quantize(&w[o], l->w + o * l->K, l->K, wq + o * l->K);
    float *x0 = l->x, *w0 = l->w;
    void *ws = l->ws;
    l->x = xq, l->w = wq, l->ws = NULL;
    layer_forward(l, NULL, false, y);
    eng_free(l->ws);
    l->x = x0, l->w = w0, l->ws = ws;
}

/* Configurations: quantization mode, multiplier (NULL = none, i.e. exact; "exact" =
 * eng_mul_exact of the mode's signedness), weight bits, per channel. */
typedef struct qconfig {
    eng_quant_mode mode;
    const char *mul;
    int weight_bits;
    bool per_channel;
} qconfig;

static const qconfig exact_configs[] = {
    {ENG_QUANT_ASYM, NULL, 0, false},             /* internal exact table */
    {ENG_QUANT_ASYM, "mul8u_1JFF", 0, true},      /* exact EvoApprox table, 8 bits */
    {ENG_QUANT_ASYM, "mul8x4u_2UU", 4, false},    /* exact 8x4, 4-bit weights */
    {ENG_QUANT_ASYM, "mul8x4u_2UU", 3, true},     /* 3-bit weights through an 8x4 table */
    {ENG_QUANT_SYM, "mul8s_1KV8", 0, true},       /* signed codes, signed exact table */
    {ENG_QUANT_SYM, "mul8s_1KV8", 5, false},
    {ENG_QUANT_SYM, "mul8u_1JFF", 0, false},      /* sign-magnitude via unsigned exact */
    {ENG_QUANT_SYM, "mul8x4u_2UU", 0, true},      /* sign-magnitude, |w| <= 15 */
    {ENG_QUANT_SYM, NULL, 2, false},              /* internal signed table, w in [-1, 1] */
    {ENG_QUANT_ASYM, "exact", 6, true},           /* eng_mul_exact(6, unsigned) */
    {ENG_QUANT_SYM, "exact", 0, false},           /* eng_mul_exact(8, signed) */
};
#define N_EXACT_CONFIGS ((int)(sizeof exact_configs / sizeof *exact_configs))

static eng_approx *make_state(const qconfig *qc, bool table_gradient, int oc, eng_mul **mul)
{
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.mode = qc->mode;
    cfg.weight_bits = qc->weight_bits;
    cfg.per_channel = qc->per_channel;
    cfg.table_gradient = table_gradient;
    *mul = NULL;
    if (qc->mul && strcmp(qc->mul, "exact") == 0)
        ck_assert_int_eq(eng_mul_exact(qc->weight_bits ? qc->weight_bits : 8,
                                       qc->mode == ENG_QUANT_SYM, mul), ENG_OK);
    else if (qc->mul)
        *mul = load_mul(qc->mul);
    eng_approx *q;
    ck_assert_int_eq(eng_approx_create(&cfg, *mul, oc, &q), ENG_OK);
    return q;
}

static void layer_init_kind(layer *l, int kind, uint64_t seed)
{
    switch (kind) {
    case 0: layer_init(l, OP_CONV, 2, 3, 7, 6, 4, 3, 1, 1, 1, seed); break;
    case 1: layer_init(l, OP_CONV, 1, 2, 9, 9, 3, 3, 2, 2, 2, seed); break;
    case 2: layer_init(l, OP_CONV, 2, 5, 4, 4, 3, 1, 1, 0, 1, seed); break;     /* pointwise */
    case 3: layer_init(l, OP_DEPTHWISE, 2, 4, 8, 7, 0, 3, 2, 1, 1, seed); break;
    case 4: layer_init(l, OP_DEPTHWISE, 3, 5, 2, 2, 0, 5, 1, 2, 1, seed); break; /* 5x5 on 2x2 */
    case 5: layer_init(l, OP_DEPTHWISE, 1, 3, 7, 5, 0, 3, 1, 2, 2, seed); break; /* dilated */
    case 6: layer_init(l, OP_DEPTHWISE, 2, 3, 1, 1, 0, 3, 2, 1, 1, seed); break; /* 1x1 image */
    default: layer_init(l, OP_DENSE, 3, 12, 1, 1, 5, 1, 1, 0, 1, seed); break;
    }
}
#define N_LAYER_KINDS 8

/* Exact tables through the table path equal the exact integer computation bit for bit
 * (asymmetric: the decomposition equals the direct sum of (a - za)(w - zw)). */
START_TEST(test_exact_tables_bit_exact)
{
    const qconfig *qc = &exact_configs[_i % N_EXACT_CONFIGS];
    layer l;
    layer_init_kind(&l, _i / N_EXACT_CONFIGS, 100 + _i);
    eng_mul *mul;
    eng_approx *q = make_state(qc, false, l.oc, &mul);
    float *yd = xmalloc(4 * l.Y), *yf = xmalloc(4 * l.Y);
    float *xq = xmalloc(4 * l.X), *wq = xmalloc(4 * l.W);
    layer_forward(&l, q, true, l.y);
    direct_quantized_forward(&l, q, yd);
    for (size_t i = 0; i < l.Y; i++)
        ck_assert_msg(l.y[i] == yd[i], "%s y[%zu]: %.9g, direct %.9g", qc->mul ? qc->mul : "exact",
                      i, (double)l.y[i], (double)yd[i]);
    /* and it is the float layer on fake-quantized operands, to float rounding */
    fake_quantized_forward(&l, q, yf, xq, wq);
    for (size_t i = 0; i < l.Y; i++)
        ck_assert_msg(fabsf(l.y[i] - yf[i]) <= 1e-5f * (1.0f + fabsf(yf[i])), "y[%zu] %g vs %g",
                      i, (double)l.y[i], (double)yf[i]);
    /* weight codes stay in the configured width */
    const eng_qparams *wp = eng_approx_weight_qparams(q);
    int32_t amin, amax, wmin, wmax;
    eng_approx_code_ranges(q, &amin, &amax, &wmin, &wmax);
    for (int o = 0; o < l.oc; o++) {
        ck_assert_int_eq(wp[o].qmin, wmin);
        ck_assert_int_eq(wp[o].qmax, wmax);
    }
    if (qc->weight_bits)
        ck_assert_int_eq(wmax - wmin, qc->mode == ENG_QUANT_ASYM
                                          ? (1 << qc->weight_bits) - 1
                                          : 2 * ((1 << (qc->weight_bits - 1)) - 1));
    eng_free(yd); eng_free(yf); eng_free(xq); eng_free(wq);
    eng_approx_free(q);
    eng_mul_free(mul);
    layer_free(&l);
}
END_TEST

/* Approximate tables: y is the definition computed naively from the codes: the sum of table
 * products over every tap (padding = code za), the exact zero-point terms, dequantization. */
static const qconfig approx_configs[] = {
    {ENG_QUANT_ASYM, "mul8u_DM1", 0, false},
    {ENG_QUANT_ASYM, "mul8u_L40", 0, true},
    {ENG_QUANT_ASYM, "mul8x4u_0S7", 0, true},
    {ENG_QUANT_SYM, "mul8s_1KR3", 0, true},
    {ENG_QUANT_SYM, "mul8u_DM1", 0, false},       /* sign-magnitude through an approximate table */
};
#define N_APPROX_CONFIGS ((int)(sizeof approx_configs / sizeof *approx_configs))

/* l.y after a forward with q is the definition: the sum of table products over every tap
 * (padding = code za), the exact zero-point terms, dequantization; returns how many outputs
 * differ from the exact integer computation. */
static int assert_table_definition(layer *l, const eng_approx *q, const qconfig *qc,
                                   const char *what)
{
    const eng_lut *lut = eng_approx_lut(q);
    const eng_qparams a = eng_approx_act_qparams(q);
    const eng_qparams *wq = eng_approx_weight_qparams(q);
    const bool asym = qc->mode == ENG_QUANT_ASYM;
    int64_t *v = calloc(l->Y, sizeof *v);
    LAYER_FOR_PRODUCTS(l, {
        int32_t ac = xi >= 0 ? eng_quant_code(&a, l->x[xi]) : a.zero_point;
        int32_t wc = eng_quant_code(&wq[o], l->w[wi]);
        v[p] += eng_lut_product(lut, (uint8_t)ac, (uint8_t)wc);
        if (asym)
            v[p] += -(int64_t)wq[o].zero_point * ac - (int64_t)a.zero_point * wc +
                    (int64_t)a.zero_point * wq[o].zero_point;
    });
    const size_t plane = l->Y / l->oc;
    int differ = 0;
    float *yx = xmalloc(4 * l->Y);
    direct_quantized_forward(l, q, yx);
    size_t bad = l->Y;      /* the first output that differs (one check per layer: Check
                             * reports every assertion through a pipe) */
    float bad_def = 0.0f;
    for (size_t p = 0; p < l->Y; p++) {
        int o = (int)(p / plane);
        float y = (float)((double)a.scale * wq[o].scale * (double)v[p]) + l->b[o];
        if (l->y[p] != y && bad == l->Y) bad = p, bad_def = y;
        differ += yx[p] != y;
    }
    ck_assert_msg(bad == l->Y, "%s %s y[%zu]: %.9g, definition %.9g", qc->mul, what, bad,
                  bad < l->Y ? (double)l->y[bad] : 0.0, (double)bad_def);
    free(v);
    eng_free(yx);
    return differ;
}

START_TEST(test_approx_tables_definition)
{
    const qconfig *qc = &approx_configs[_i % N_APPROX_CONFIGS];
    layer l;
    layer_init_kind(&l, _i / N_APPROX_CONFIGS, 300 + _i);
    eng_mul *mul;
    eng_approx *q = make_state(qc, false, l.oc, &mul);
    layer_forward(&l, q, true, l.y);
    ck_assert_int_gt(assert_table_definition(&l, q, qc, ""), 0); /* really approximate here */
    eng_approx_free(q);
    eng_mul_free(mul);
    layer_free(&l);
}
END_TEST

/* Pointwise convolutions with many positions run the GEMM, the column sums and the
 * dequantization block by block (6728 positions in blocks of 3328: a ragged last block): the
 * definition still, bit for bit, and the same at 1 and 2 threads. */
START_TEST(test_pointwise_blocked_definition)
{
    static const qconfig configs[] = {
        {ENG_QUANT_ASYM, "mul8u_2HH", 0, false},
        {ENG_QUANT_SYM, "mul8u_2HH", 0, true},
        {ENG_QUANT_ASYM, "mul8u_DM1", 0, true},
        {ENG_QUANT_SYM, "mul8s_1KR3", 0, false},
    };
    const qconfig *qc = &configs[_i];
    layer l;
    layer_init(&l, OP_CONV, 2, 2, 58, 58, 300, 1, 1, 0, 1, 1200 + _i);
    eng_mul *mul;
    eng_approx *q = make_state(qc, false, l.oc, &mul);
    ck_assert_int_eq(eng_approx_set_act_range(q, -0.7f, 1.6f), ENG_OK);
    float *y1 = xmalloc(4 * l.Y);
    test_set_threads(1);
    layer_forward(&l, q, false, y1);
    test_set_threads(2);
    memset(l.y, 0xff, 4 * l.Y);
    layer_forward(&l, q, false, l.y);
    test_set_threads(1);
    ck_assert_mem_eq(y1, l.y, 4 * l.Y);
    assert_table_definition(&l, q, qc, "");
    eng_free(y1);
    eng_approx_free(q);
    eng_mul_free(mul);
    layer_free(&l);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Backward
 * ---------------------------------------------------------------------------------------- */

/* STE: the exact float gradient through fq(x) and fq(w), zero where clipped. A frozen narrow
 * activation range clips part of x. */
START_TEST(test_ste_backward)
{
    const qconfig *qc = &approx_configs[_i % N_APPROX_CONFIGS];
    layer l;
    layer_init_kind(&l, _i / N_APPROX_CONFIGS, 500 + _i);
    eng_mul *mul;
    eng_approx *q = make_state(qc, false, l.oc, &mul);
    ck_assert_int_eq(eng_approx_set_act_range(q, -0.5f, 1.0f), ENG_OK);
    layer_forward(&l, q, true, l.y);
    layer_backward_of(&l, l.x, l.w, q, l.dx, l.dw, l.db);

    float *xq = xmalloc(4 * l.X), *wq = xmalloc(4 * l.W), *yf = xmalloc(4 * l.Y);
    float *dx = xmalloc(4 * l.X), *dw = xmalloc(4 * l.W), *db = xmalloc(4 * l.oc);
    fake_quantized_forward(&l, q, yf, xq, wq);
    void *ws = l.ws;
    l.ws = NULL;
    layer_backward_of(&l, xq, wq, NULL, dx, dw, db);
    eng_free(l.ws);
    l.ws = ws;
    const eng_qparams a = eng_approx_act_qparams(q);
    const eng_qparams *wp = eng_approx_weight_qparams(q);
    int clipped = 0;
    for (size_t i = 0; i < l.X; i++) {
        float ref = eng_quant_in_range(&a, l.x[i]) ? dx[i] : 0.0f;
        clipped += !eng_quant_in_range(&a, l.x[i]);
        ck_assert_msg(fabsf(l.dx[i] - ref) <= 1e-5f * (1.0f + fabsf(ref)), "dx[%zu] %g vs %g", i,
                      (double)l.dx[i], (double)ref);
    }
    ck_assert_int_gt(clipped, 0);
    for (size_t i = 0; i < l.W; i++) {
        float ref = eng_quant_in_range(&wp[i / l.K], l.w[i]) ? dw[i] : 0.0f;
        ck_assert_msg(fabsf(l.dw[i] - ref) <= 1e-5f * (1.0f + fabsf(ref)), "dw[%zu] %g vs %g", i,
                      (double)l.dw[i], (double)ref);
    }
    for (int o = 0; o < l.oc; o++) ck_assert_float_eq_tol(l.db[o], db[o], 1e-5f);
    eng_free(xq); eng_free(wq); eng_free(yf); eng_free(dx); eng_free(dw); eng_free(db);
    eng_approx_free(q);
    eng_mul_free(mul);
    layer_free(&l);
}
END_TEST

/* With an exact table, the table gradient is the STE (derivative of a*w along a is w). */
START_TEST(test_table_gradient_exact_is_ste)
{
    const qconfig *qc = &exact_configs[_i % N_EXACT_CONFIGS];
    layer l;
    layer_init_kind(&l, _i / N_EXACT_CONFIGS, 700 + _i);
    eng_mul *mul1, *mul2;
    eng_approx *q_ste = make_state(qc, false, l.oc, &mul1);
    eng_approx *q_tg = make_state(qc, true, l.oc, &mul2);
    float *dx = xmalloc(4 * l.X), *dw = xmalloc(4 * l.W), *db = xmalloc(4 * l.oc);
    layer_forward(&l, q_ste, true, l.y);
    layer_backward_of(&l, l.x, l.w, q_ste, l.dx, l.dw, l.db);
    eng_free(l.ws);
    l.ws = NULL;
    layer_forward(&l, q_tg, true, l.y);
    layer_backward_of(&l, l.x, l.w, q_tg, dx, dw, db);
    for (size_t i = 0; i < l.X; i++)
        ck_assert_msg(fabsf(l.dx[i] - dx[i]) <= 1e-5f * (1.0f + fabsf(dx[i])), "dx[%zu] %g vs %g",
                      i, (double)l.dx[i], (double)dx[i]);
    for (size_t i = 0; i < l.W; i++)
        ck_assert_msg(fabsf(l.dw[i] - dw[i]) <= 1e-4f * (1.0f + fabsf(dw[i])), "dw[%zu] %g vs %g",
                      i, (double)l.dw[i], (double)dw[i]);
    for (int o = 0; o < l.oc; o++) ck_assert_float_eq(l.db[o], db[o]);
    eng_free(dx); eng_free(dw); eng_free(db);
    eng_approx_free(q_ste); eng_approx_free(q_tg);
    eng_mul_free(mul1); eng_mul_free(mul2);
    layer_free(&l);
}
END_TEST

/* Table gradient of an approximate table against finite differences of the loss L = sum(dy*y):
 * moving x[i] by one activation step moves its code by one, so the central difference of L
 * over +-1 code is exactly the table's central difference the gradient uses. Same for
 * weights that are neither the minimum nor the maximum (their parameters stay). */
START_TEST(test_table_gradient_finite_differences)
{
    const qconfig *qc = &approx_configs[_i % N_APPROX_CONFIGS];
    layer l;
    layer_init_kind(&l, _i / N_APPROX_CONFIGS, 900 + _i);
    eng_mul *mul;
    eng_approx *q = make_state(qc, true, l.oc, &mul);
    ck_assert_int_eq(eng_approx_set_act_range(q, -0.7f, 1.6f), ENG_OK);
    layer_forward(&l, q, true, l.y);          /* parameters, then x on the code grid */
    const eng_qparams a = eng_approx_act_qparams(q);
    for (size_t i = 0; i < l.X; i++) {
        int32_t c = eng_quant_code(&a, l.x[i]);
        c = c <= a.qmin ? a.qmin + 1 : c >= a.qmax ? a.qmax - 1 : c;
        l.x[i] = (float)(c - a.zero_point) * a.scale;
    }
    layer_forward(&l, q, true, l.y);
    layer_backward_of(&l, l.x, l.w, q, l.dx, l.dw, l.db);
    float *y = xmalloc(4 * l.Y);
    int checked = 0;
    for (size_t i = 0; i < l.X; i += l.X / 10 + 1) {      /* about 10 entries */
        double lp = 0.0, lm = 0.0;
        float x0 = l.x[i];
        l.x[i] = (float)(eng_quant_code(&a, x0) + 1 - a.zero_point) * a.scale;
        layer_forward(&l, q, false, y);
        for (size_t j = 0; j < l.Y; j++) lp += (double)l.dy[j] * y[j];
        l.x[i] = (float)(eng_quant_code(&a, x0) - 1 - a.zero_point) * a.scale;
        layer_forward(&l, q, false, y);
        for (size_t j = 0; j < l.Y; j++) lm += (double)l.dy[j] * y[j];
        l.x[i] = x0;
        double num = (lp - lm) / (2.0 * a.scale);
        ck_assert_msg(fabs(num - l.dx[i]) <= 1e-3 * (1.0 + fabs(num)), "dx[%zu]: %g, numeric %g",
                      i, (double)l.dx[i], num);
        checked++;
    }
    const eng_qparams *wp = eng_approx_weight_qparams(q);
    for (size_t i = 0; i < l.W; i += l.W / 10 + 1) {
        const eng_qparams p = wp[i / l.K];
        int32_t c = eng_quant_code(&p, l.w[i]);
        if (c <= p.qmin + 1 || c >= p.qmax - 1) continue;
        float lo = INFINITY, hi = -INFINITY;   /* skip the extremes that set the parameters */
        size_t r0 = qc->per_channel ? i / l.K * l.K : 0, r1 = qc->per_channel ? r0 + l.K : l.W;
        for (size_t j = r0; j < r1; j++) lo = fminf(lo, l.w[j]), hi = fmaxf(hi, l.w[j]);
        if (l.w[i] == lo || l.w[i] == hi) continue;
        double lp = 0.0, lm = 0.0;
        float w0 = l.w[i];
        l.w[i] = (float)(c + 1 - p.zero_point) * p.scale;
        layer_forward(&l, q, false, y);
        for (size_t j = 0; j < l.Y; j++) lp += (double)l.dy[j] * y[j];
        l.w[i] = (float)(c - 1 - p.zero_point) * p.scale;
        layer_forward(&l, q, false, y);
        for (size_t j = 0; j < l.Y; j++) lm += (double)l.dy[j] * y[j];
        l.w[i] = w0;
        ck_assert(eng_approx_weight_qparams(q)[i / l.K].scale == p.scale);
        double num = (lp - lm) / (2.0 * p.scale);
        ck_assert_msg(fabs(num - l.dw[i]) <= 1e-3 * (1.0 + fabs(num)), "dw[%zu]: %g, numeric %g",
                      i, (double)l.dw[i], num);
        checked++;
    }
    ck_assert_int_gt(checked, 10);
    eng_free(y);
    eng_approx_free(q);
    eng_mul_free(mul);
    layer_free(&l);
}
END_TEST

/* Results do not depend on the thread count (bit for bit), on layers large enough for every
 * parallel region (APPROX_PAR_MIN work). */
START_TEST(test_thread_count_independent)
{
#if ENG_HAVE_OPENMP
    for (int tg = 0; tg < 2; tg++) {
        layer l;
        if (_i == 0) layer_init(&l, OP_CONV, 8, 8, 24, 24, 8, 3, 1, 1, 1, 1100);
        else if (_i == 1) layer_init(&l, OP_CONV, 8, 8, 24, 24, 8, 1, 1, 0, 1, 1101);
        else if (_i == 2) layer_init(&l, OP_DEPTHWISE, 8, 8, 24, 24, 0, 3, 1, 1, 1, 1102);
        else layer_init(&l, OP_DENSE, 600, 64, 1, 1, 64, 1, 1, 0, 1, 1103);
        eng_mul *mul;
        eng_approx *q = make_state(&approx_configs[0], tg, l.oc, &mul);
        float *y1 = xmalloc(4 * l.Y), *dx1 = xmalloc(4 * l.X), *dw1 = xmalloc(4 * l.W);
        float *db1 = xmalloc(4 * l.oc);
        omp_set_num_threads(1);
        layer_forward(&l, q, false, y1);
        layer_backward_of(&l, l.x, l.w, q, dx1, dw1, db1);
        omp_set_num_threads(3);
        layer_forward(&l, q, false, l.y);
        layer_backward_of(&l, l.x, l.w, q, l.dx, l.dw, l.db);
        ck_assert_mem_eq(y1, l.y, 4 * l.Y);
        ck_assert_mem_eq(dx1, l.dx, 4 * l.X);
        ck_assert_mem_eq(dw1, l.dw, 4 * l.W);
        ck_assert_mem_eq(db1, l.db, 4 * l.oc);
        eng_free(y1); eng_free(dx1); eng_free(dw1); eng_free(db1);
        eng_approx_free(q);
        eng_mul_free(mul);
        layer_free(&l);
    }
#endif
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Small-batch dense: the transposed table GEMM
 * ---------------------------------------------------------------------------------------- */

static const qconfig small_batch_configs[] = {
    {ENG_QUANT_ASYM, NULL, 0, false},             /* internal exact tables */
    {ENG_QUANT_SYM, NULL, 0, true},
    {ENG_QUANT_ASYM, "mul8u_2HH", 0, false},
    {ENG_QUANT_SYM, "mul8u_2HH", 0, true},        /* sign-magnitude */
    {ENG_QUANT_ASYM, "mul8u_DM1", 0, true},       /* general 16-bit table */
    {ENG_QUANT_SYM, "mul8s_1KR3", 0, false},      /* signed table */
    {ENG_QUANT_ASYM, "mul8u_2HH", 5, false},      /* 5-bit weights through an 8x8 table */
    {ENG_QUANT_ASYM, "mul8x4u_0S7", 0, true},     /* 8x4 table: not transposed */
};
#define N_SMALL_BATCH_CONFIGS ((int)(sizeof small_batch_configs / sizeof *small_batch_configs))

/* (in, out, batch): every one transposed by the shape rule; K > 256, odd widths. */
static const int small_batch_shapes[][3] = {
    {37, 300, 1}, {300, 19, 2}, {13, 65, 3}, {517, 1000, 7}, {45, 300, 63}, {290, 96, 65},
};
#define N_SMALL_BATCH_SHAPES ((int)(sizeof small_batch_shapes / sizeof *small_batch_shapes))

/* The dense forward on a small batch equals the definition (table products of the codes, exact
 * zero-point terms, dequantization) bit for bit: every kernel set, 1 and 2 threads. */
START_TEST(test_dense_small_batch_definition)
{
    const qconfig *qc = &small_batch_configs[_i % N_SMALL_BATCH_CONFIGS];
    const int *sh = small_batch_shapes[_i / N_SMALL_BATCH_CONFIGS];
    const int in = sh[0], out = sh[1], n = sh[2];
    ck_assert(approx_gemm_transposed_shape(out, in, (size_t)n));
    layer l;
    layer_init(&l, OP_DENSE, n, in, 1, 1, out, 1, 1, 0, 1, 900 + _i);
    eng_mul *mul;
    eng_approx *q = make_state(qc, false, out, &mul);
    ck_assert_int_eq(eng_approx_set_act_range(q, -0.7f, 1.6f), ENG_OK);
    void *ws = xmalloc(eng_dense_workspace_size(in, out, n, q));
    float *y = xmalloc(4 * l.Y), *def = NULL;
    const char *sets[] = {"scalar", "avx2", "avx512"};
    int runs = 0;
    for (int si = 0; si < 3; si++) {
        const eng_kernels *k = test_kernel_set(sets[si]);
        if (!k) continue;
        for (int threads = 1; threads <= 2; threads++) {
            test_set_threads(threads);
            memset(y, 0xff, 4 * l.Y);
            ck_assert_int_eq(eng_dense_forward(k, in, out, n, l.x, l.w, l.b, q, false, y, ws),
                             ENG_OK);
            if (!def) { /* the parameters are the same in every run: frozen range, same w */
                def = xmalloc(4 * l.Y);
                const eng_lut *lut = eng_approx_lut(q);
                const eng_qparams a = eng_approx_act_qparams(q);
                const eng_qparams *wq = eng_approx_weight_qparams(q);
                for (int o = 0; o < out; o++)
                    for (int b = 0; b < n; b++) {
                        int64_t v = 0;
                        for (int i = 0; i < in; i++) {
                            int32_t ac = eng_quant_code(&a, l.x[(size_t)i * n + b]);
                            int32_t wc = eng_quant_code(&wq[o], l.w[(size_t)o * in + i]);
                            v += eng_lut_product(lut, (uint8_t)ac, (uint8_t)wc);
                            if (qc->mode == ENG_QUANT_ASYM)
                                v += -(int64_t)wq[o].zero_point * ac -
                                     (int64_t)a.zero_point * wc +
                                     (int64_t)a.zero_point * wq[o].zero_point;
                        }
                        def[(size_t)o * n + b] =
                            (float)((double)a.scale * wq[o].scale * (double)v) + l.b[o];
                    }
            }
            size_t p = 0;
            while (p < l.Y && y[p] == def[p]) p++;
            ck_assert_msg(p == l.Y, "%s %s, %d threads, %dx%d batch %d: y[%zu] %.9g, "
                          "definition %.9g", qc->mul ? qc->mul : "exact", sets[si], threads, in,
                          out, n, p, p < l.Y ? (double)y[p] : 0.0, p < l.Y ? (double)def[p] : 0.0);
            runs++;
        }
    }
    ck_assert_int_ge(runs, 2);
    test_set_threads(1);
    eng_free(def);
    eng_free(y);
    eng_free(ws);
    eng_approx_free(q);
    eng_mul_free(mul);
    layer_free(&l);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * The shared table parts
 * ---------------------------------------------------------------------------------------- */

static eng_approx *state_of(eng_quant_mode mode, const eng_mul *mul, int oc)
{
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.mode = mode;
    eng_approx *q;
    ck_assert_int_eq(eng_approx_create(&cfg, mul, oc, &q), ENG_OK);
    return q;
}

/* Layers of the same table (and mode) share one decomposition; other tables, other modes and
 * exact tables of another kind do not; the last layer to go frees it. */
START_TEST(test_shared_tables)
{
    ck_assert_int_eq(approx_shared_count(), 0);
    eng_mul *hh = load_mul("mul8u_2HH"), *dm1 = load_mul("mul8u_DM1");
    eng_approx *a = state_of(ENG_QUANT_ASYM, hh, 3), *b = state_of(ENG_QUANT_ASYM, hh, 5);
    eng_approx *c = state_of(ENG_QUANT_ASYM, dm1, 3), *d = state_of(ENG_QUANT_SYM, hh, 3);
    eng_approx *e = state_of(ENG_QUANT_ASYM, NULL, 3), *f = state_of(ENG_QUANT_ASYM, NULL, 4);
    eng_approx *g = state_of(ENG_QUANT_SYM, NULL, 3);
    ck_assert_ptr_nonnull(eng_approx_lut(a)->fit);
    ck_assert_ptr_eq(eng_approx_lut(a)->fit, eng_approx_lut(b)->fit);
    ck_assert_ptr_ne(eng_approx_lut(a)->fit, eng_approx_lut(c)->fit);
    ck_assert_ptr_ne(eng_approx_lut(a)->fit, eng_approx_lut(d)->fit);  /* sign-magnitude */
    ck_assert_ptr_eq(eng_approx_lut(e)->table, eng_approx_lut(f)->table);
    ck_assert_ptr_eq(eng_approx_lut(e)->fit, eng_approx_lut(f)->fit);
    ck_assert_ptr_ne(eng_approx_lut(e)->table, eng_approx_lut(g)->table); /* signed exact */
    ck_assert_int_eq(approx_shared_count(), 5);
    /* a layer that changes its multiplier moves to the other table's part */
    ck_assert_int_eq(eng_approx_set_mul(b, dm1), ENG_OK);
    ck_assert_ptr_eq(eng_approx_lut(b)->fit, eng_approx_lut(c)->fit);
    ck_assert_int_eq(approx_shared_count(), 5);
    eng_approx_free(a);                                   /* the last 2HH ASYM layer */
    ck_assert_int_eq(approx_shared_count(), 4);
    ck_assert_int_eq(eng_approx_set_mul(c, NULL), ENG_OK);  /* b still holds DM1 */
    ck_assert_int_eq(approx_shared_count(), 4);
    ck_assert_ptr_eq(eng_approx_lut(c)->table, eng_approx_lut(e)->table);
    eng_approx_free(b); eng_approx_free(c); eng_approx_free(d);
    eng_approx_free(e); eng_approx_free(f); eng_approx_free(g);
    ck_assert_int_eq(approx_shared_count(), 0);
    eng_mul_free(hh);
    eng_mul_free(dm1);
}
END_TEST

enum { SHARE_IN = 40, SHARE_OUT = 48, SHARE_N = 2 };

/* A small-batch dense forward (transposed: the transposed table is built on first use) with
 * the table of mul; false on an error. */
static bool share_forward(const eng_mul *mul, eng_approx **qout, float *y)
{
    const eng_kernels *k = eng_kernels_get();
    float x[SHARE_IN * SHARE_N], w[SHARE_OUT * SHARE_IN];
    unsigned char ws[64 * 1024];
    for (int i = 0; i < SHARE_IN * SHARE_N; i++) x[i] = (float)((i * 7) % 23) / 23.0f - 0.3f;
    for (int i = 0; i < SHARE_OUT * SHARE_IN; i++) w[i] = (float)((i * 5) % 31) / 31.0f - 0.5f;
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    return eng_approx_create(&cfg, mul, SHARE_OUT, qout) == ENG_OK &&
           eng_approx_set_act_range(*qout, -0.3f, 0.7f) == ENG_OK &&
           eng_dense_workspace_size(SHARE_IN, SHARE_OUT, SHARE_N, *qout) <= sizeof ws &&
           eng_dense_forward(k, SHARE_IN, SHARE_OUT, SHARE_N, x, w, NULL, *qout, false, y, ws) ==
               ENG_OK;
}

typedef struct share_worker {
    eng_mul *const *muls;     /* 3 tables (NULL entries: exact) */
    const float *ref;         /* [3][SHARE_OUT * SHARE_N]: the outputs of each table */
    unsigned seed;
    int wrong;                /* forwards that failed or differ from ref */
} share_worker;

/* Builds, runs and frees sets of 4 layers of random tables out of 3. */
static void *share_work(void *arg)
{
    share_worker *sw = arg;
    float y[SHARE_OUT * SHARE_N];
    unsigned r = sw->seed;
    for (int it = 0; it < 60; it++) {
        eng_approx *qs[4] = {NULL};
        for (int j = 0; j < 4; j++) {
            r = r * 1103515245u + 12345u;
            const unsigned t = (r >> 16) % 3;
            if (!share_forward(sw->muls[t], &qs[j], y) ||
                memcmp(y, sw->ref + t * SHARE_OUT * SHARE_N, sizeof y) != 0)
                sw->wrong++;
        }
        for (int j = 0; j < 4; j++) eng_approx_free(qs[j]);
    }
    return NULL;
}

/* Two threads build and free many layers of three tables at once, so that parts are created,
 * shared, transposed and freed concurrently (the ASan/UBSan build checks the memory); every
 * output is the serial one, and no part is left afterwards. */
START_TEST(test_shared_tables_threads)
{
    eng_mul *muls[3] = {load_mul("mul8u_2HH"), load_mul("mul8u_DM1"), NULL};
    float ref[3 * SHARE_OUT * SHARE_N];
    for (int t = 0; t < 3; t++) {
        eng_approx *q = NULL;
        ck_assert(share_forward(muls[t], &q, ref + t * SHARE_OUT * SHARE_N));
        eng_approx_free(q);
    }
    ck_assert_int_eq(approx_shared_count(), 0);
    share_worker sw[2] = {{muls, ref, 1, 0}, {muls, ref, 2, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, share_work, &sw[i]), 0);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(sw[0].wrong + sw[1].wrong, 0);
    ck_assert_int_eq(approx_shared_count(), 0);
    eng_mul_free(muls[0]);
    eng_mul_free(muls[1]);
}
END_TEST

static Suite *quant_suite(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("quantize");
    tcase_add_test(tc, test_qparams_hand_computed);
    tcase_add_test(tc, test_fakequant_asym_reference);
    tcase_add_test(tc, test_fakequant_sym_per_channel_reference);
    tcase_add_test(tc, test_observer);
    tcase_add_test(tc, test_approx_activation_range);
    tcase_add_test(tc, test_approx_config_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("forward");
    tcase_add_test(tc, test_approx_conv_1jff_reference);
    tcase_add_test(tc, test_approx_conv_dm1_reference);
    tcase_add_loop_test(tc, test_exact_tables_bit_exact, 0, N_EXACT_CONFIGS * N_LAYER_KINDS);
    tcase_add_loop_test(tc, test_approx_tables_definition, 0, N_APPROX_CONFIGS * N_LAYER_KINDS);
    tcase_add_loop_test(tc, test_pointwise_blocked_definition, 0, 4);
    tcase_add_loop_test(tc, test_dense_small_batch_definition, 0,
                        N_SMALL_BATCH_CONFIGS * N_SMALL_BATCH_SHAPES);
    suite_add_tcase(s, tc);
    tc = tcase_create("shared");
    tcase_add_test(tc, test_shared_tables);
    tcase_add_test(tc, test_shared_tables_threads);
    suite_add_tcase(s, tc);
    tc = tcase_create("backward");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_ste_backward, 0, N_APPROX_CONFIGS * N_LAYER_KINDS);
    tcase_add_loop_test(tc, test_table_gradient_exact_is_ste, 0, N_EXACT_CONFIGS * N_LAYER_KINDS);
    tcase_add_loop_test(tc, test_table_gradient_finite_differences, 0,
                        N_APPROX_CONFIGS * N_LAYER_KINDS);
    tcase_add_loop_test(tc, test_thread_count_independent, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(quant_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
