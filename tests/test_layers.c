/*
 * test_layers.c - the non-multiplying layers (eng_layers.h) against PyTorch reference vectors,
 * finite differences and hand-computed values.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eng_layers.h"
#include "testutil.h"

/* NCHW (reference) -> CNHW (engine) and back. */
static float *to_cnhw(const float *src, int n, int c, size_t hw)
{
    float *dst = malloc(sizeof(float) * n * c * hw);
    for (int b = 0; b < n; b++)
        for (int ci = 0; ci < c; ci++)
            memcpy(dst + ((size_t)ci * n + b) * hw, src + ((size_t)b * c + ci) * hw,
                   hw * sizeof(float));
    return dst;
}

static float *ref_cnhw(const char *case_name, const char *file, int n, int c, size_t hw)
{
    float *raw = test_read_reference(case_name, file, sizeof(float) * n * c * hw);
    float *out = to_cnhw(raw, n, c, hw);
    free(raw);
    return out;
}

static void assert_close(const float *got, const float *want, size_t count, float tol,
                         const char *what)
{
    for (size_t i = 0; i < count; i++) {
        float t = tol * fmaxf(1.0f, fabsf(want[i]));
        ck_assert_msg(fabsf(got[i] - want[i]) <= t, "%s[%zu]: %.7g, expected %.7g", what, i,
                      (double)got[i], (double)want[i]);
    }
}

/* ------------------------------------------------------------------------------------------
 * Reference cases
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_batchnorm_reference)
{
    const char *cs = "batchnorm_train";
    const int n = 4, c = 3;
    const size_t hw = 25, m = n * hw;
    float *x = ref_cnhw(cs, "x.bin", n, c, hw);
    float *y_ref = ref_cnhw(cs, "y.bin", n, c, hw);
    float *dy = ref_cnhw(cs, "dy.bin", n, c, hw);
    float *dx_ref = ref_cnhw(cs, "dx.bin", n, c, hw);
    float *gamma = test_read_reference(cs, "gamma.bin", 12);
    float *beta = test_read_reference(cs, "beta.bin", 12);
    float *dgamma_ref = test_read_reference(cs, "dgamma.bin", 12);
    float *dbeta_ref = test_read_reference(cs, "dbeta.bin", 12);
    float *rm_ref = test_read_reference(cs, "running_mean_after.bin", 12);
    float *rv_ref = test_read_reference(cs, "running_var_after.bin", 12);
    float rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1}, mean[3], invstd[3], dgamma[3], dbeta[3];
    float *y = malloc(sizeof(float) * c * m), *dx = malloc(sizeof(float) * c * m);
    eng_batchnorm_forward_train(c, m, x, gamma, beta, 1e-5f, 0.1f, rm, rv, y, mean, invstd);
    assert_close(y, y_ref, c * m, 1e-5f, "y");
    assert_close(rm, rm_ref, 3, 1e-5f, "running_mean");
    assert_close(rv, rv_ref, 3, 1e-5f, "running_var");
    eng_batchnorm_backward(c, m, x, gamma, mean, invstd, dy, dx, dgamma, dbeta);
    assert_close(dx, dx_ref, c * m, 1e-4f, "dx");
    assert_close(dgamma, dgamma_ref, 3, 1e-4f, "dgamma");
    assert_close(dbeta, dbeta_ref, 3, 1e-4f, "dbeta");
    /* evaluation mode with the updated running statistics, by hand */
    eng_batchnorm_forward_eval(c, m, x, gamma, beta, rm, rv, 1e-5f, y);
    for (int ch = 0; ch < c; ch++) {
        float want = gamma[ch] * (x[ch * m + 7] - rm[ch]) / sqrtf(rv[ch] + 1e-5f) + beta[ch];
        ck_assert_float_eq_tol(y[ch * m + 7], want, 1e-5f);
    }
    free(x); free(y_ref); free(dy); free(dx_ref); free(gamma); free(beta); free(dgamma_ref);
    free(dbeta_ref); free(rm_ref); free(rv_ref); free(y); free(dx);
}
END_TEST

static void pool_case(const char *cs, bool max, bool include_pad, int n, int c, int h, int w,
                      int k, int s, int p)
{
    eng_pool_shape ps;
    ck_assert_int_eq(eng_pool_shape_init(&ps, c * n, h, w, k, s, p), ENG_OK);
    size_t ihw = (size_t)h * w, ohw = (size_t)ps.oh * ps.ow;
    float *x = ref_cnhw(cs, "x.bin", n, c, ihw);
    float *y_ref = ref_cnhw(cs, "y.bin", n, c, ohw);
    float *dy = ref_cnhw(cs, "dy.bin", n, c, ohw);
    float *dx_ref = ref_cnhw(cs, "dx.bin", n, c, ihw);
    float *y = malloc(sizeof(float) * n * c * ohw), *dx = malloc(sizeof(float) * n * c * ihw);
    if (max) {
        eng_maxpool_forward(&ps, x, y);
        eng_maxpool_backward(&ps, x, dy, dx);
    } else {
        eng_avgpool_forward(&ps, include_pad, x, y);
        eng_avgpool_backward(&ps, include_pad, dy, dx);
    }
    assert_close(y, y_ref, n * c * ohw, 1e-5f, "y");
    assert_close(dx, dx_ref, n * c * ihw, 1e-5f, "dx");
    free(x); free(y_ref); free(dy); free(dx_ref); free(y); free(dx);
}

START_TEST(test_pool_references)
{
    pool_case("maxpool_k2s2", true, false, 2, 3, 8, 8, 2, 2, 0);
    pool_case("maxpool_k3s2p1", true, false, 2, 3, 9, 9, 3, 2, 1);
    pool_case("avgpool_k2s2", false, true, 2, 3, 8, 8, 2, 2, 0);
    pool_case("avgpool_k3s1p1", false, false, 1, 2, 6, 6, 3, 1, 1);
}
END_TEST

START_TEST(test_globalavgpool_reference)
{
    const char *cs = "globalavgpool";
    const int n = 3, c = 4;
    float *x = ref_cnhw(cs, "x.bin", n, c, 25);
    float *y_ref = ref_cnhw(cs, "y.bin", n, c, 1);
    float *dy = ref_cnhw(cs, "dy.bin", n, c, 1);
    float *dx_ref = ref_cnhw(cs, "dx.bin", n, c, 25);
    float y[12], dx[300];
    eng_global_avgpool_forward(12, 25, x, y);
    eng_global_avgpool_backward(12, 25, dy, dx);
    assert_close(y, y_ref, 12, 1e-5f, "y");
    assert_close(dx, dx_ref, 300, 1e-5f, "dx");
    free(x); free(y_ref); free(dy); free(dx_ref);
}
END_TEST

START_TEST(test_relu6_reference)
{
    /* the reference computes relu6(4x); dx includes the factor 4 */
    const char *cs = "relu6";
    const size_t count = 2 * 3 * 16;
    float *x = test_read_reference(cs, "x.bin", 4 * count);
    float *y_ref = test_read_reference(cs, "y.bin", 4 * count);
    float *dy = test_read_reference(cs, "dy.bin", 4 * count);
    float *dx_ref = test_read_reference(cs, "dx.bin", 4 * count);
    float x4[96], y[96], dx[96];
    int low = 0, high = 0;
    for (size_t i = 0; i < count; i++) {
        x4[i] = 4.0f * x[i];
        low += x4[i] < 0.0f;
        high += x4[i] > 6.0f;
    }
    ck_assert_msg(low > 0 && high > 0, "the case must exercise both clips");
    eng_relu6_forward(count, x4, y);
    eng_relu6_backward(count, x4, dy, dx);
    for (size_t i = 0; i < count; i++) dx[i] *= 4.0f;
    assert_close(y, y_ref, count, 1e-5f, "y");
    assert_close(dx, dx_ref, count, 1e-5f, "dx");
    free(x); free(y_ref); free(dy); free(dx_ref);
}
END_TEST

/* Hard swish at its kinks (-3, 3), outside and inside them, against y = x * relu6(x + 3) / 6
 * and dy * (x < -3 ? 0 : x > 3 ? 1 : (2x + 3) / 6). */
START_TEST(test_hardswish_formula)
{
    const float x[] = {-7.0f, -3.5f, -3.0f, -2.5f, -1.0f, 0.0f, 0.5f, 1.5f, 2.999f, 3.0f, 3.001f,
                       8.0f};
    enum { N = sizeof x / sizeof x[0] };
    /* the values as single roundings of the exact product (2.999 and 3.001 round twice) */
    const float want_y[N] = {0.0f, 0.0f, 0.0f, -1.25f / 6.0f, -2.0f / 6.0f, 0.0f, 1.75f / 6.0f,
                             1.125f, 0.0f, 3.0f, 0.0f, 8.0f};
    const float want_d[N] = {0.0f, 0.0f, -0.5f, -2.0f / 6.0f, 1.0f / 6.0f, 0.5f, 4.0f / 6.0f,
                             1.0f, 0.0f, 1.5f, 1.0f, 1.0f};
    float y[N], dy[N], dx[N];
    for (int i = 0; i < N; i++) dy[i] = 2.0f;
    eng_hardswish_forward(N, x, y);
    eng_hardswish_backward(N, x, dy, dx);
    for (int i = 0; i < N; i++) {
        double r = fmin(fmax((double)x[i] + 3.0, 0.0), 6.0);
        ck_assert_msg(fabs(y[i] - (double)x[i] * r / 6.0) <= 1e-6 * fmax(1.0, fabs(y[i])),
                      "hardswish(%g) = %.9g, formula %.9g", (double)x[i], (double)y[i],
                      (double)x[i] * r / 6.0);
        if (i != 8 && i != 10)
            ck_assert_msg(y[i] == want_y[i], "hardswish(%g) = %.9g, want %.9g", (double)x[i],
                          (double)y[i], (double)want_y[i]);
        double d = x[i] < -3.0f ? 0.0 : x[i] > 3.0f ? 1.0 : (2.0 * x[i] + 3.0) / 6.0;
        ck_assert_msg(fabs(dx[i] - 2.0 * d) <= 1e-6, "hardswish'(%g) * 2 = %.9g, formula %.9g",
                      (double)x[i], (double)dx[i], 2.0 * d);
        if (i != 8)
            ck_assert_msg(dx[i] == 2.0f * want_d[i], "hardswish'(%g) * 2 = %.9g, want %.9g",
                          (double)x[i], (double)dx[i], 2.0 * want_d[i]);
    }
}
END_TEST

START_TEST(test_softmax_xent_reference)
{
    const char *cs = "softmax_xent";
    const int n = 5, classes = 10;
    float *logits_nc = test_read_reference(cs, "logits.bin", 4 * n * classes);
    int32_t *labels32 = test_read_reference(cs, "labels.bin", 4 * n);
    float *loss_ref = test_read_reference(cs, "loss.bin", 4);
    float *dl_nc = test_read_reference(cs, "dlogits.bin", 4 * n * classes);
    float logits[50], dl_ref[50], dl[50];
    uint8_t labels[5];
    for (int b = 0; b < n; b++) {
        labels[b] = (uint8_t)labels32[b];
        for (int k = 0; k < classes; k++) {
            logits[k * n + b] = logits_nc[b * classes + k];
            dl_ref[k * n + b] = dl_nc[b * classes + k];
        }
    }
    int correct = -1;
    float loss = eng_softmax_xent(classes, n, logits, labels, &correct, dl);
    ck_assert_float_eq_tol(loss, loss_ref[0], 1e-5f * fmaxf(1.0f, loss_ref[0]));
    assert_close(dl, dl_ref, 50, 1e-5f, "dlogits");
    int want = 0;
    for (int b = 0; b < n; b++) {
        int arg = 0;
        for (int k = 1; k < classes; k++)
            if (logits[k * n + b] > logits[arg * n + b]) arg = k;
        want += arg == labels[b];
    }
    ck_assert_int_eq(correct, want);
    free(logits_nc); free(labels32); free(loss_ref); free(dl_nc);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Finite differences: L = sum(r * f(x)); dL/dx from backward(dy = r) vs central differences
 * ---------------------------------------------------------------------------------------- */

typedef void (*fwd_fn)(const void *ctx, const float *x, float *y);
typedef void (*bwd_fn)(const void *ctx, const float *x, const float *y, const float *dy,
                       float *dx);

static double weighted_sum(const float *y, const float *r, size_t count)
{
    double s = 0.0;
    for (size_t i = 0; i < count; i++) s += (double)y[i] * r[i];
    return s;
}

static void fd_check(const void *ctx, fwd_fn fwd, bwd_fn bwd, size_t in_count,
                     size_t out_count, float lo, float hi, uint64_t seed)
{
    float *x = malloc(sizeof(float) * in_count), *r = malloc(sizeof(float) * out_count);
    float *y = malloc(sizeof(float) * out_count), *dx = malloc(sizeof(float) * in_count);
    uint64_t st = seed;
    for (size_t i = 0; i < in_count; i++) {
        x[i] = test_rand_uniform(&st, lo, hi);
        /* keep away from the kinks of ReLU/ReLU6 (0 and 6), where differences straddle */
        if (fabsf(x[i]) < 0.05f || fabsf(x[i] - 6.0f) < 0.05f) x[i] += 0.1f;
    }
    for (size_t i = 0; i < out_count; i++) r[i] = test_rand_uniform(&st, -1.0f, 1.0f);
    fwd(ctx, x, y);
    bwd(ctx, x, y, r, dx);
    const float eps = 1e-2f;
    for (size_t i = 0; i < in_count; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        fwd(ctx, x, y);
        double lp = weighted_sum(y, r, out_count);
        x[i] = keep - eps;
        fwd(ctx, x, y);
        double lm = weighted_sum(y, r, out_count);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        ck_assert_msg(fabs(num - dx[i]) <= 2e-3 * fmax(1.0, fabs(num)),
                      "case %llu: dx[%zu]: backward %.6g, finite differences %.6g",
                      (unsigned long long)seed, i, (double)dx[i], num);
    }
    free(x); free(r); free(y); free(dx);
}

typedef struct bn_ctx { int c; size_t m; float gamma[3], beta[3]; } bn_ctx;

static void bn_fwd(const void *p, const float *x, float *y)
{
    const bn_ctx *b = p;
    float rm[3] = {0}, rv[3] = {1, 1, 1}, mean[3], inv[3];
    eng_batchnorm_forward_train(b->c, b->m, x, b->gamma, b->beta, 1e-5f, 0.1f, rm, rv, y, mean,
                                inv);
}

static void bn_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const bn_ctx *b = p;
    float rm[3] = {0}, rv[3] = {1, 1, 1}, mean[3], inv[3], dg[3], db[3];
    float *tmp = malloc(sizeof(float) * b->c * b->m);
    eng_batchnorm_forward_train(b->c, b->m, x, b->gamma, b->beta, 1e-5f, 0.1f, rm, rv, tmp,
                                mean, inv);
    eng_batchnorm_backward(b->c, b->m, x, b->gamma, mean, inv, dy, dx, dg, db);
    (void)y;
    free(tmp);
}

typedef struct pool_ctx { eng_pool_shape s; bool max, include_pad; } pool_ctx;

static void pool_fwd(const void *p, const float *x, float *y)
{
    const pool_ctx *c = p;
    if (c->max)
        eng_maxpool_forward(&c->s, x, y);
    else
        eng_avgpool_forward(&c->s, c->include_pad, x, y);
}

static void pool_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const pool_ctx *c = p;
    (void)y;
    if (c->max)
        eng_maxpool_backward(&c->s, x, dy, dx);
    else
        eng_avgpool_backward(&c->s, c->include_pad, dy, dx);
}

typedef struct shape_ctx { int c, n, h, w; } shape_ctx;

static void relu_fwd(const void *p, const float *x, float *y)
{
    const shape_ctx *s = p;
    eng_relu_forward((size_t)s->c * s->n * s->h * s->w, x, y);
}
static void relu_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const shape_ctx *s = p;
    (void)x;
    eng_relu_backward((size_t)s->c * s->n * s->h * s->w, y, dy, dx);
}
static void relu6_fwd(const void *p, const float *x, float *y)
{
    const shape_ctx *s = p;
    eng_relu6_forward((size_t)s->c * s->n * s->h * s->w, x, y);
}
static void relu6_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const shape_ctx *s = p;
    (void)y;
    eng_relu6_backward((size_t)s->c * s->n * s->h * s->w, x, dy, dx);
}
static void hswish_fwd(const void *p, const float *x, float *y)
{
    const shape_ctx *s = p;
    eng_hardswish_forward((size_t)s->c * s->n * s->h * s->w, x, y);
}
static void hswish_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const shape_ctx *s = p;
    (void)y;
    eng_hardswish_backward((size_t)s->c * s->n * s->h * s->w, x, dy, dx);
}
static void gap_fwd(const void *p, const float *x, float *y)
{
    const shape_ctx *s = p;
    eng_global_avgpool_forward((size_t)s->c * s->n, (size_t)s->h * s->w, x, y);
}
static void gap_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const shape_ctx *s = p;
    (void)x;
    (void)y;
    eng_global_avgpool_backward((size_t)s->c * s->n, (size_t)s->h * s->w, dy, dx);
}
static void flat_fwd(const void *p, const float *x, float *y)
{
    const shape_ctx *s = p;
    eng_flatten_forward(s->c, s->n, s->h, s->w, x, y);
}
static void flat_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const shape_ctx *s = p;
    (void)x;
    (void)y;
    eng_flatten_backward(s->c, s->n, s->h, s->w, dy, dx);
}
static void cpad_fwd(const void *p, const float *x, float *y)
{
    const shape_ctx *s = p;
    eng_channel_pad_forward(s->c, (size_t)s->n * s->h * s->w, 1, 2, x, y);
}
static void cpad_bwd(const void *p, const float *x, const float *y, const float *dy, float *dx)
{
    const shape_ctx *s = p;
    (void)x;
    (void)y;
    eng_channel_pad_backward(s->c, (size_t)s->n * s->h * s->w, 1, dy, dx);
}

START_TEST(test_finite_differences)
{
    bn_ctx b = {.c = 3, .m = 2 * 4 * 4, .gamma = {0.5f, 1.5f, -1.0f}, .beta = {0.1f, 0, -0.2f}};
    fd_check(&b, bn_fwd, bn_bwd, 3 * b.m, 3 * b.m, -2.0f, 2.0f, 1);
    pool_ctx pc[3];
    ck_assert_int_eq(eng_pool_shape_init(&pc[0].s, 4, 7, 7, 3, 2, 1), ENG_OK);
    pc[0].max = true;
    pc[0].include_pad = false;
    pc[1] = pc[0];
    pc[1].max = false;
    pc[2] = pc[1];
    pc[2].include_pad = true;
    for (int i = 0; i < 3; i++) {
        size_t oc = (size_t)4 * pc[i].s.oh * pc[i].s.ow;
        fd_check(&pc[i], pool_fwd, pool_bwd, 4 * 49, oc, -3.0f, 3.0f, 2 + (uint64_t)i);
    }
    shape_ctx s = {3, 2, 3, 4};
    size_t cnt = 3 * 2 * 3 * 4;
    fd_check(&s, relu_fwd, relu_bwd, cnt, cnt, -2.0f, 2.0f, 7);
    fd_check(&s, relu6_fwd, relu6_bwd, cnt, cnt, -3.0f, 9.0f, 8);
    fd_check(&s, hswish_fwd, hswish_bwd, cnt, cnt, -5.0f, 5.0f, 12);
    fd_check(&s, gap_fwd, gap_bwd, cnt, 6, -2.0f, 2.0f, 9);
    fd_check(&s, flat_fwd, flat_bwd, cnt, cnt, -2.0f, 2.0f, 10);
    fd_check(&s, cpad_fwd, cpad_bwd, cnt, cnt / 3 * 6, -2.0f, 2.0f, 11);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Hand-computed values
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_avgpool_border_divisors)
{
    /* 1 plane 2x2 of ones, kernel 3, stride 1, pad 1: every window holds 4 image pixels */
    float x[4] = {1, 1, 1, 1}, y[4];
    eng_pool_shape s;
    ck_assert_int_eq(eng_pool_shape_init(&s, 1, 2, 2, 3, 1, 1), ENG_OK);
    eng_avgpool_forward(&s, true, x, y);
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(y[i], 4.0f / 9.0f, 1e-7f);
    eng_avgpool_forward(&s, false, x, y);
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(y[i], 1.0f, 1e-7f);
}
END_TEST

START_TEST(test_flatten_order)
{
    /* c=2, n=2, 1x2: x[c][n][w]; y[(c*2 + j)][n] */
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8], back[8];
    eng_flatten_forward(2, 2, 1, 2, x, y);
    const float want[8] = {1, 3, 2, 4, 5, 7, 6, 8};
    for (int i = 0; i < 8; i++) ck_assert_float_eq(y[i], want[i]);
    eng_flatten_backward(2, 2, 1, 2, y, back);
    ck_assert_mem_eq(back, x, sizeof x);
}
END_TEST

/* Batch norm fused with the ReLU equals batch norm, then ReLU, bit for bit (one expression for
 * the normalized value; the fused backward recomputes the mask from x). Channel 1 has a large
 * offset (variance from shifted sums) and channel 2 is constant (zero variance). */
START_TEST(test_batchnorm_relu_fused)
{
    enum { C = 3, M = 1000 };
    static float x[C * M], dy[C * M], y1[C * M], y2[C * M], r[C * M], dz[C * M], dx1[C * M],
        dx2[C * M];
    float gamma[C] = {1.3f, 0.7f, 2.0f}, beta[C] = {0.1f, -0.2f, 0.3f};
    float rm1[C] = {0}, rv1[C] = {1, 1, 1}, rm2[C] = {0}, rv2[C] = {1, 1, 1};
    float m1[C], i1[C], m2[C], i2[C], dg1[C], db1[C], dg2[C], db2[C];
    uint64_t seed = 77;
    for (int i = 0; i < C * M; i++) {
        x[i] = test_rand_uniform(&seed, -1.0f, 1.0f) + (i / M == 1 ? 1000.0f : 0.0f);
        if (i / M == 2) x[i] = 0.25f;
        dy[i] = test_rand_uniform(&seed, -1.0f, 1.0f);
    }
    eng_batchnorm_forward_train(C, M, x, gamma, beta, 1e-5f, 0.1f, rm1, rv1, y1, m1, i1);
    eng_relu_forward(C * M, y1, r);
    eng_batchnorm_relu_forward_train(C, M, x, gamma, beta, 1e-5f, 0.1f, rm2, rv2, y2, m2, i2);
    ck_assert_mem_eq(r, y2, sizeof r);
    ck_assert_mem_eq(rv1, rv2, sizeof rv1);
    int zeros = 0;
    for (int i = 0; i < C * M; i++) zeros += y2[i] == 0.0f;
    ck_assert_int_gt(zeros, M / 2);                     /* the mask matters */
    double mean = 0.0, var = 0.0;                      /* two-pass, in double */
    for (int i = M; i < 2 * M; i++) mean += x[i] / (double)M;
    for (int i = M; i < 2 * M; i++) var += (x[i] - mean) * (x[i] - mean) / (double)M;
    ck_assert_double_eq_tol(m1[1], mean, 1e-3);        /* no cancellation at an offset */
    ck_assert_double_eq_tol(1.0 / ((double)i1[1] * i1[1]) - 1e-5, var, 1e-5);
    eng_relu_backward(C * M, r, dy, dz);
    eng_batchnorm_backward(C, M, x, gamma, m1, i1, dz, dx1, dg1, db1);
    eng_batchnorm_relu_backward(C, M, x, gamma, beta, m2, i2, dy, dx2, dg2, db2);
    ck_assert_mem_eq(dx1, dx2, sizeof dx1);
    ck_assert_mem_eq(dg1, dg2, sizeof dg1);
    ck_assert_mem_eq(db1, db2, sizeof db1);
    eng_batchnorm_forward_eval(C, M, x, gamma, beta, rm1, rv1, 1e-5f, y1);
    eng_relu_forward(C * M, y1, r);
    eng_batchnorm_relu_forward_eval(C, M, x, gamma, beta, rm1, rv1, 1e-5f, y2);
    ck_assert_mem_eq(r, y2, sizeof r);
}
END_TEST

/* Batch norm fused with a ReLU6 equals batch norm, then ReLU6, bit for bit; gamma 4 makes
 * both ends of the clamp matter. */
START_TEST(test_batchnorm_relu6_fused)
{
    enum { C = 2, M = 1000 };
    static float x[C * M], dy[C * M], y1[C * M], y2[C * M], r[C * M], dz[C * M], dx1[C * M],
        dx2[C * M];
    float gamma[C] = {4.0f, 3.0f}, beta[C] = {1.0f, -0.5f};
    float rm1[C] = {0}, rv1[C] = {1, 1}, rm2[C] = {0}, rv2[C] = {1, 1};
    float m1[C], i1[C], m2[C], i2[C], dg1[C], db1[C], dg2[C], db2[C];
    uint64_t seed = 78;
    for (int i = 0; i < C * M; i++) {
        x[i] = test_rand_uniform(&seed, -1.0f, 1.0f);
        dy[i] = test_rand_uniform(&seed, -1.0f, 1.0f);
    }
    eng_batchnorm_forward_train(C, M, x, gamma, beta, 1e-5f, 0.1f, rm1, rv1, y1, m1, i1);
    eng_relu6_forward(C * M, y1, r);
    eng_batchnorm_relu6_forward_train(C, M, x, gamma, beta, 1e-5f, 0.1f, rm2, rv2, y2, m2, i2);
    ck_assert_mem_eq(r, y2, sizeof r);
    ck_assert_mem_eq(rv1, rv2, sizeof rv1);
    int zeros = 0, sixes = 0;
    for (int i = 0; i < C * M; i++) {
        zeros += y2[i] == 0.0f;
        sixes += y2[i] == 6.0f;
    }
    ck_assert_int_gt(zeros, M / 4);
    ck_assert_int_gt(sixes, M / 20);
    eng_relu6_backward(C * M, y1, dy, dz);
    eng_batchnorm_backward(C, M, x, gamma, m1, i1, dz, dx1, dg1, db1);
    eng_batchnorm_relu6_backward(C, M, x, gamma, beta, m2, i2, dy, dx2, dg2, db2);
    ck_assert_mem_eq(dx1, dx2, sizeof dx1);
    ck_assert_mem_eq(dg1, dg2, sizeof dg1);
    ck_assert_mem_eq(db1, db2, sizeof db1);
    eng_batchnorm_forward_eval(C, M, x, gamma, beta, rm1, rv1, 1e-5f, y1);
    eng_relu6_forward(C * M, y1, r);
    eng_batchnorm_relu6_forward_eval(C, M, x, gamma, beta, rm1, rv1, 1e-5f, y2);
    ck_assert_mem_eq(r, y2, sizeof r);
}
END_TEST

START_TEST(test_pool_shape_errors)
{
    eng_pool_shape s;
    ck_assert_int_eq(eng_pool_shape_init(&s, 1, 2, 2, 3, 1, 0), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_pool_shape_init(&s, 1, 8, 8, 2, 1, 2), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_pool_shape_init(&s, 1, 8, 8, 2, 0, 0), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_pool_shape_init(&s, 1, 9, 9, 3, 2, 1), ENG_OK);
    ck_assert_int_eq(s.oh, 5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("reference");
    tcase_add_test(tc, test_batchnorm_reference);
    tcase_add_test(tc, test_batchnorm_relu_fused);
    tcase_add_test(tc, test_batchnorm_relu6_fused);
    tcase_add_test(tc, test_pool_references);
    tcase_add_test(tc, test_globalavgpool_reference);
    tcase_add_test(tc, test_relu6_reference);
    tcase_add_test(tc, test_hardswish_formula);
    tcase_add_test(tc, test_softmax_xent_reference);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradients");
    tcase_add_test(tc, test_finite_differences);
    suite_add_tcase(s, tc);
    tc = tcase_create("values");
    tcase_add_test(tc, test_avgpool_border_divisors);
    tcase_add_test(tc, test_flatten_order);
    tcase_add_test(tc, test_pool_shape_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
