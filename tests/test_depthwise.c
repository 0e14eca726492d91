/*
 * test_depthwise.c - the float depthwise convolution kernels (depthwise_f32_* of every kernel
 * set) against a definition written here on odd shapes (1x1, 2x2, 7x7 images, kernels 3 and
 * 5, stride 1 and 2, padding 0..3, a dilated and a stride-3 shape that go to the references);
 * gradients against finite differences of a loss; bit-identical results at 1 and 2 threads;
 * eng_depthwise_forward / _backward in float and with the STE on the set's kernels; the fused
 * approximate forward (lut_depthwise_fused) bit for bit against the steps it replaces, alone
 * and in a MobileNetV2 trained and evaluated.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"
#include "eng_train.h"
#include "eng_zoo.h"
#include "kernel_sets.h"
#include "testutil.h"

static const char *const set_names[] = {"scalar", "avx2", "avx512"};
enum { SET_COUNT = 3 };

static const eng_kernels *set_or_skip(int i)
{
    const eng_kernels *k = test_kernel_set(set_names[i]);
    if (k == NULL)
        return NULL;
    ck_assert_msg(k->depthwise_f32_forward && k->depthwise_f32_backward_data &&
                  k->depthwise_f32_backward_weights, "set %s lacks a depthwise kernel", k->name);
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

/* The definition in double, with the absolute-value sums as error scale: for every
 * (c, b, oy, ox, tap) inside the image, y += w x, dx += w dy, dw += dy x. */
typedef struct def_out {
    double *y, *ya, *dx, *dxa, *dw, *dwa;
} def_out;

static void definition(const eng_conv_shape *s, const float *x, const float *w,
                       const float *bias, const float *dy, def_out *d)
{
    const size_t X = (size_t)s->c * s->n * s->h * s->w, Y = (size_t)s->c * s->n * s->oh * s->ow;
    const size_t W = (size_t)s->c * s->kh * s->kw;
    d->y = calloc(Y, 8), d->ya = calloc(Y, 8), d->dx = calloc(X, 8), d->dxa = calloc(X, 8);
    d->dw = calloc(W, 8), d->dwa = calloc(W, 8);
    for (int c = 0; c < s->c; c++)
        for (int b = 0; b < s->n; b++)
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    const size_t o = (((size_t)c * s->n + b) * s->oh + oy) * s->ow + ox;
                    d->y[o] = bias ? bias[c] : 0.0;
                    d->ya[o] = bias ? fabs(bias[c]) : 0.0;
                    for (int i = 0; i < s->kh; i++)
                        for (int j = 0; j < s->kw; j++) {
                            const int iy = oy * s->stride + i * s->dilation - s->pad;
                            const int ix = ox * s->stride + j * s->dilation - s->pad;
                            if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                                continue;
                            const size_t p = (((size_t)c * s->n + b) * s->h + iy) * s->w + ix;
                            const size_t t = ((size_t)c * s->kh + i) * s->kw + j;
                            d->y[o] += (double)w[t] * x[p];
                            d->ya[o] += fabs((double)w[t] * x[p]);
                            d->dx[p] += (double)w[t] * dy[o];
                            d->dxa[p] += fabs((double)w[t] * dy[o]);
                            d->dw[t] += (double)dy[o] * x[p];
                            d->dwa[t] += fabs((double)dy[o] * x[p]);
                        }
                }
}

static void def_free(def_out *d)
{
    free(d->y), free(d->ya), free(d->dx), free(d->dxa), free(d->dw), free(d->dwa);
}

static void assert_within(const char *what, const char *set, const float *got,
                          const double *want, const double *scale, size_t count)
{
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-5 * scale[i] + 1e-30,
                      "%s (%s): [%zu] = %.9g, want %.9g", what, set, i, (double)got[i], want[i]);
}

typedef struct dw_case {
    int n, c, h, w, k, stride, pad, dilation;
} dw_case;

static const dw_case cases[] = {
    {1, 1, 1, 1, 3, 1, 1, 1}, {2, 3, 2, 2, 3, 1, 1, 1}, {2, 3, 7, 7, 3, 1, 1, 1},
    {2, 3, 7, 7, 3, 2, 1, 1}, {1, 2, 7, 7, 5, 1, 2, 1}, {3, 2, 7, 7, 5, 2, 2, 1},
    {1, 2, 2, 2, 3, 2, 1, 1}, {1, 1, 1, 1, 5, 2, 2, 1}, {2, 4, 8, 8, 3, 2, 1, 1},
    {2, 5, 9, 6, 3, 1, 0, 1}, {1, 3, 9, 10, 3, 2, 0, 1}, {1, 3, 6, 9, 5, 2, 3, 1},
    {2, 2, 17, 17, 5, 1, 2, 1}, {1, 2, 33, 5, 3, 2, 1, 1}, {2, 2, 8, 8, 3, 1, 2, 2},
    {2, 2, 9, 9, 3, 3, 1, 1}, {1, 3, 5, 6, 1, 2, 0, 1}, {1, 2, 6, 7, 2, 2, 1, 1},
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

/* Every kernel of every set against the definition on case _i. */
START_TEST(test_against_definition)
{
    const dw_case dc = cases[_i];
    uint64_t rng = 0xd00d0000u + (uint64_t)_i;
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, dc.n, dc.c, dc.h, dc.w, dc.k, dc.k, dc.stride,
                                         dc.pad, dc.dilation), ENG_OK);
    const size_t X = (size_t)dc.c * dc.n * dc.h * dc.w, Y = (size_t)dc.c * dc.n * s.oh * s.ow;
    const size_t W = (size_t)dc.c * dc.k * dc.k;
    float *x = random_floats(X, &rng), *w = random_floats(W, &rng), *dy = random_floats(Y, &rng);
    float *bias = random_floats((size_t)dc.c, &rng);
    def_out d, d0;
    definition(&s, x, w, bias, dy, &d);
    definition(&s, x, w, NULL, dy, &d0);
    float *y = malloc(4 * Y), *dx = malloc(4 * X), *dw = malloc(4 * W);
    for (int i = 0; i < SET_COUNT; i++) {
        const eng_kernels *k = set_or_skip(i);
        if (k == NULL)
            continue;
        memset(y, 0x7f, 4 * Y); /* garbage: the kernels must overwrite every element */
        memset(dx, 0x7f, 4 * X);
        memset(dw, 0x7f, 4 * W);
        ck_assert_int_eq(k->depthwise_f32_forward(&s, x, w, bias, y), ENG_OK);
        assert_within("forward", k->name, y, d.y, d.ya, Y);
        ck_assert_int_eq(k->depthwise_f32_forward(&s, x, w, NULL, y), ENG_OK);
        assert_within("forward, no bias", k->name, y, d0.y, d0.ya, Y);
        ck_assert_int_eq(k->depthwise_f32_backward_data(&s, dy, w, dx), ENG_OK);
        assert_within("backward data", k->name, dx, d.dx, d.dxa, X);
        ck_assert_int_eq(k->depthwise_f32_backward_weights(&s, x, dy, dw), ENG_OK);
        assert_within("backward weights", k->name, dw, d.dw, d.dwa, W);
        if (k->depthwise_f32_backward) { /* one pass: the same bits as the two calls */
            float *dx2 = malloc(4 * X), *dw2 = malloc(4 * W);
            memset(dx2, 0x7f, 4 * X);
            memset(dw2, 0x7f, 4 * W);
            ck_assert_int_eq(k->depthwise_f32_backward(&s, x, dy, w, dx2, dw2), ENG_OK);
            ck_assert_mem_eq(dx2, dx, 4 * X);
            ck_assert_mem_eq(dw2, dw, 4 * W);
            memset(dw2, 0x7f, 4 * W);
            ck_assert_int_eq(k->depthwise_f32_backward(&s, x, dy, w, NULL, dw2), ENG_OK);
            ck_assert_mem_eq(dw2, dw, 4 * W);
            free(dx2), free(dw2);
        }
    }
    def_free(&d);
    def_free(&d0);
    free(x), free(w), free(dy), free(bias), free(y), free(dx), free(dw);
}
END_TEST

/* L = sum_i y_i r_i in double from a set's forward. */
static double loss(const eng_kernels *k, const eng_conv_shape *s, const float *x,
                   const float *w, const float *r, float *y)
{
    const size_t Y = (size_t)s->c * s->n * s->oh * s->ow;
    ck_assert_int_eq(k->depthwise_f32_forward(s, x, w, NULL, y), ENG_OK);
    double sum = 0.0;
    for (size_t i = 0; i < Y; i++)
        sum += (double)y[i] * r[i];
    return sum;
}

/* dL/dw = backward_weights(x, r), dL/dx = backward_data(r, w) by central differences on a
 * 3x3 stride-1 and a 5x5 stride-2 shape. */
START_TEST(test_gradients_finite_differences)
{
    const int geo[2][5] = {{3, 1, 1, 5, 6}, {5, 2, 2, 7, 6}}; /* k, stride, pad, h, w */
    uint64_t rng = 91;
    for (int gi = 0; gi < 2; gi++) {
        eng_conv_shape s;
        ck_assert_int_eq(eng_conv_shape_init(&s, 2, 3, geo[gi][3], geo[gi][4], geo[gi][0],
                                             geo[gi][0], geo[gi][1], geo[gi][2], 1), ENG_OK);
        const size_t X = (size_t)3 * 2 * s.h * s.w, Y = (size_t)3 * 2 * s.oh * s.ow;
        const size_t W = (size_t)3 * s.kh * s.kw;
        float *x = random_floats(X, &rng), *w = random_floats(W, &rng);
        float *r = random_floats(Y, &rng);
        float *y = malloc(4 * Y), *dw = malloc(4 * W), *dx = malloc(4 * X);
        for (int i = 0; i < SET_COUNT; i++) {
            const eng_kernels *k = set_or_skip(i);
            if (k == NULL)
                continue;
            ck_assert_int_eq(k->depthwise_f32_backward_weights(&s, x, r, dw), ENG_OK);
            ck_assert_int_eq(k->depthwise_f32_backward_data(&s, r, w, dx), ENG_OK);
            for (int pass = 0; pass < 2; pass++) {
                float *p = pass ? x : w, *grad = pass ? dx : dw;
                const size_t count = pass ? X : W;
                for (size_t j = 0; j < count; j++) {
                    const float keep = p[j], eps = 1e-2f;
                    p[j] = keep + eps;
                    const double lp = loss(k, &s, x, w, r, y);
                    p[j] = keep - eps;
                    const double lm = loss(k, &s, x, w, r, y);
                    p[j] = keep;
                    const double fd = (lp - lm) / (2.0 * eps);
                    ck_assert_msg(fabs(fd - grad[j]) <= 1e-3 * (1.0 + fabs(fd)),
                                  "%s: %s[%zu] = %g, finite difference %g (k %d)", k->name,
                                  pass ? "dx" : "dw", j, (double)grad[j], fd, s.kh);
                }
            }
        }
        free(x), free(w), free(r), free(y), free(dw), free(dx);
    }
}
END_TEST

/* Every set gives bit-identical results at 1 and 2 threads. */
START_TEST(test_thread_count_independent)
{
    const int geo[3][3] = {{3, 1, 1}, {3, 2, 1}, {5, 2, 2}};
    uint64_t rng = 5;
    for (int gi = 0; gi < 3; gi++) {
        eng_conv_shape s;
        ck_assert_int_eq(eng_conv_shape_init(&s, 5, 24, 17, 13, geo[gi][0], geo[gi][0],
                                             geo[gi][1], geo[gi][2], 1), ENG_OK);
        const size_t X = (size_t)24 * 5 * 17 * 13, Y = (size_t)24 * 5 * s.oh * s.ow;
        const size_t W = (size_t)24 * s.kh * s.kw;
        float *x = random_floats(X, &rng), *w = random_floats(W, &rng);
        float *dy = random_floats(Y, &rng), *bias = random_floats(24, &rng);
        for (int i = 0; i < SET_COUNT; i++) {
            const eng_kernels *k = set_or_skip(i);
            if (k == NULL)
                continue;
            float *out[2][3];
            for (int t = 0; t < 2; t++) {
                test_set_threads(t + 1);
                out[t][0] = malloc(4 * Y);
                out[t][1] = malloc(4 * X);
                out[t][2] = malloc(4 * W);
                ck_assert_int_eq(k->depthwise_f32_forward(&s, x, w, bias, out[t][0]), ENG_OK);
                ck_assert_int_eq(k->depthwise_f32_backward_data(&s, dy, w, out[t][1]), ENG_OK);
                ck_assert_int_eq(k->depthwise_f32_backward_weights(&s, x, dy, out[t][2]), ENG_OK);
            }
            test_set_threads(2);
            ck_assert_msg(memcmp(out[0][0], out[1][0], 4 * Y) == 0, "%s forward", k->name);
            ck_assert_msg(memcmp(out[0][1], out[1][1], 4 * X) == 0, "%s data", k->name);
            ck_assert_msg(memcmp(out[0][2], out[1][2], 4 * W) == 0, "%s weights", k->name);
            for (int t = 0; t < 2; t++)
                for (int j = 0; j < 3; j++)
                    free(out[t][j]);
        }
        free(x), free(w), free(dy), free(bias);
    }
}
END_TEST

/* eng_depthwise_forward + _backward of set k, float or STE-quantized (8-bit asymmetric). */
static void run_ops(const eng_kernels *k, const eng_conv_shape *s, bool quant, const float *x,
                    const float *w, const float *bias, const float *dy, float *y, float *dx,
                    float *dw)
{
    eng_approx *q = NULL;
    if (quant) {
        eng_approx_cfg cfg;
        eng_approx_cfg_default(&cfg);
        ck_assert_int_eq(eng_approx_create(&cfg, NULL, s->c, &q), ENG_OK);
    }
    void *ws = malloc(eng_depthwise_workspace_size(s, q) + 1);
    float *db = malloc(sizeof(float) * (size_t)s->c);
    ck_assert_int_eq(eng_depthwise_forward(k, s, x, w, bias, q, true, y, ws), ENG_OK);
    ck_assert_int_eq(eng_depthwise_backward(k, s, x, w, q, dy, dx, dw, db, ws), ENG_OK);
    free(ws);
    free(db);
    eng_approx_free(q);
}

/* eng_depthwise_forward / _backward, float and STE-quantized, agree between the scalar set and
 * every optimized set (the ops route their float work through the set's kernels). */
START_TEST(test_ops_agree_between_sets)
{
    uint64_t rng = 17;
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 3, 6, 9, 9, 3, 3, 2, 1, 1), ENG_OK);
    const size_t X = (size_t)6 * 3 * 9 * 9, Y = (size_t)6 * 3 * s.oh * s.ow, W = 6 * 9;
    float *x = random_floats(X, &rng), *w = random_floats(W, &rng), *dy = random_floats(Y, &rng);
    float *bias = random_floats(6, &rng);
    float *ry = malloc(4 * Y), *rdx = malloc(4 * X), *rdw = malloc(4 * W);
    float *y = malloc(4 * Y), *dx = malloc(4 * X), *dw = malloc(4 * W);
    for (int quant = 0; quant < 2; quant++) {
        run_ops(eng_kernels_ref(), &s, quant, x, w, bias, dy, ry, rdx, rdw);
        for (int i = 1; i < SET_COUNT; i++) {
            const eng_kernels *k = eng_kernels_by_name(set_names[i]);
            if (k == NULL)
                continue;
            run_ops(k, &s, quant, x, w, bias, dy, y, dx, dw);
            const char *m = quant ? "quantized" : "float";
            for (size_t j = 0; j < Y; j++)
                ck_assert_msg(fabsf(y[j] - ry[j]) <= 1e-4f * (1.0f + fabsf(ry[j])),
                              "%s %s y[%zu]", k->name, m, j);
            for (size_t j = 0; j < X; j++)
                ck_assert_msg(fabsf(dx[j] - rdx[j]) <= 1e-4f * (1.0f + fabsf(rdx[j])),
                              "%s %s dx[%zu]", k->name, m, j);
            for (size_t j = 0; j < W; j++)
                ck_assert_msg(fabsf(dw[j] - rdw[j]) <= 1e-4f * (1.0f + fabsf(rdw[j])),
                              "%s %s dw[%zu]", k->name, m, j);
        }
    }
    free(ry), free(rdx), free(rdw), free(y), free(dx), free(dw);
    free(x), free(w), free(dy), free(bias);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * The fused approximate forward (lut_depthwise_fused) against the three steps it replaces
 * ---------------------------------------------------------------------------------------- */

/* Geometries of the quantized forward: n, c, h, w, kernel, stride, pad, dilation. Odd planes
 * (1x1, 2x2, 7x7), 5x5 kernels, stride 2, pad 0..2, a dilated kernel, rows longer than a
 * vector (70, and 131 codes: more than the 128 of one even/odd split), 11 images of 29x29 (the
 * kernel stacks 8 or 9 per group: a shorter last group, which 1x1 kernels end in the middle of
 * a vector) and a stride-3 shape the fused kernel leaves to the three steps. */
static const dw_case qcases[] = {
    {1, 3, 1, 1, 1, 1, 0, 1},  {3, 5, 2, 2, 3, 1, 1, 1},  {1, 7, 7, 7, 3, 2, 1, 1},
    {3, 2, 7, 7, 5, 1, 2, 1},  {1, 3, 7, 7, 5, 2, 2, 1},  {3, 5, 7, 6, 3, 1, 0, 1},
    {1, 3, 6, 9, 3, 2, 0, 1},  {3, 3, 8, 8, 3, 1, 2, 1},  {1, 2, 9, 9, 3, 1, 2, 2},
    {2, 3, 9, 9, 3, 3, 1, 1},  {2, 11, 70, 70, 3, 1, 1, 1}, {1, 2, 5, 131, 3, 2, 1, 1},
    {3, 13, 15, 15, 3, 2, 1, 1},  {11, 2, 29, 29, 3, 1, 1, 1}, {11, 2, 29, 29, 3, 2, 1, 1},
    {11, 2, 29, 29, 1, 1, 0, 1}, {11, 2, 29, 29, 1, 2, 0, 1},
};
enum { QCASE_COUNT = sizeof qcases / sizeof qcases[0] };

/* The tables: exact (NULL), three approximate 8x8 unsigned ones, a signed one and an 8x4 one
 * (names), with the quantization mode each takes; the unsigned ones once more in SYM mode
 * (sign-magnitude through the unsigned table). mul8u_DM1 and mul8x4u_0S7 ignore low activation
 * bits (the class path), mul8u_FTA has activation classes that are not a shift (general). */
typedef struct dw_table {
    const char *mul;
    eng_quant_mode mode;
} dw_table;
static const dw_table tables[] = {
    {NULL, ENG_QUANT_ASYM},          {"mul8u_DM1", ENG_QUANT_ASYM}, {"mul8u_2HH", ENG_QUANT_ASYM},
    {"mul8x4u_0S7", ENG_QUANT_ASYM}, {"mul8s_1KR3", ENG_QUANT_SYM}, {"mul8u_DM1", ENG_QUANT_SYM},
    {NULL, ENG_QUANT_SYM},           {"mul8u_FTA", ENG_QUANT_ASYM},
};
enum { TABLE_COUNT = sizeof tables / sizeof tables[0] };

/* A spy in front of the avx512 set's fused kernel: whether its last call took the layer. */
static eng_lut_depthwise_fused_fn *fused_real;
static bool fused_done;
static eng_status fused_spy(const eng_lut *lut, const eng_conv_shape *s, const float *x,
                            const struct eng_qparams *act, const uint8_t *w,
                            const struct eng_qparams *wq, const int32_t *wsum, bool asym,
                            const float *bias, const struct eng_epilogue *ep, float *y,
                            bool *done)
{
    eng_status st = fused_real(lut, s, x, act, w, wq, wsum, asym, bias, ep, y, done);
    fused_done = *done;
    return st;
}

/* One quantized forward of set k (act -1: no epilogue) into y, every element overwritten. */
static void quant_forward_range(const eng_kernels *k, const eng_conv_shape *s,
                                const dw_table *tb, const eng_mul *mul, bool per_channel,
                                float lo, float hi, const float *x, const float *w,
                                const float *bias, const eng_epilogue *ep, float *y)
{
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.mode = tb->mode;
    cfg.per_channel = per_channel;
    eng_approx *q;
    ck_assert_msg(eng_approx_create(&cfg, mul, s->c, &q) == ENG_OK, "%s", eng_last_error());
    ck_assert_int_eq(eng_approx_set_act_range(q, lo, hi), ENG_OK);
    void *ws = malloc(eng_depthwise_workspace_size(s, q) + 1);
    memset(y, 0x7f, sizeof(float) * (size_t)s->c * s->n * s->oh * s->ow);
    ck_assert_int_eq(eng_depthwise_forward_fused(k, s, x, w, bias, q, false, ep, y, ws), ENG_OK);
    free(ws);
    eng_approx_free(q);
}

/* quant_forward_range over the activation range [-1, 2]. */
static void quant_forward(const eng_kernels *k, const eng_conv_shape *s, const dw_table *tb,
                          const eng_mul *mul, bool per_channel, const float *x, const float *w,
                          const float *bias, const eng_epilogue *ep, float *y)
{
    quant_forward_range(k, s, tb, mul, per_channel, -1.0f, 2.0f, x, w, bias, ep, y);
}

/* Case _i: the avx512 set's fused forward against its three steps (the same set without the
 * fused kernel) and, for the small cases, the scalar set, bit for bit, for every table and
 * mode, per tensor and per channel, without and with an epilogue of each activation, with and
 * without bias, at 1 and 2 threads; the kernel takes every stride-1 and stride-2 shape. */
START_TEST(test_quantized_fused)
{
    const eng_kernels *fast = test_kernel_set("avx512");
    if (fast == NULL || fast->lut_depthwise_fused == NULL)
        return;
    eng_kernels spied = *fast, steps = *fast;
    fused_real = fast->lut_depthwise_fused;
    spied.lut_depthwise_fused = fused_spy;
    steps.lut_depthwise_fused = NULL;
    const dw_case dc = qcases[_i];
    uint64_t rng = 0xf00d0000u + (uint64_t)_i;
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, dc.n, dc.c, dc.h, dc.w, dc.k, dc.k, dc.stride,
                                         dc.pad, dc.dilation), ENG_OK);
    const size_t X = (size_t)dc.c * dc.n * dc.h * dc.w, Y = (size_t)dc.c * dc.n * s.oh * s.ow;
    const bool small = X < 4000;
    float *x = random_floats(X, &rng), *w = random_floats((size_t)dc.c * dc.k * dc.k, &rng);
    for (size_t i = 0; i < X; i++) /* beyond the range both ways: clamped codes */
        x[i] *= 2.5f;
    if (X > 3)
        x[X / 2] = NAN, x[1] = INFINITY, x[2] = -INFINITY;
    float *bias = random_floats((size_t)dc.c, &rng), *es = random_floats((size_t)dc.c, &rng);
    float *et = random_floats((size_t)dc.c, &rng);
    enum { GUARD = 64 }; /* sentinels past the output: nothing written beyond it */
    float *got = malloc(4 * (Y + GUARD)), *want = malloc(4 * Y);
    memset(got + Y, 0x5a, 4 * GUARD);
    for (int ti = 0; ti < TABLE_COUNT; ti++) {
        eng_mul *mul = NULL;
        if (tables[ti].mul)
            ck_assert_msg(eng_mul_load(tables[ti].mul, &mul) == ENG_OK, "%s", eng_last_error());
        for (int act = -1; act < 3; act++) {
            const eng_epilogue ep = {es, et, (eng_epilogue_act)(act < 0 ? 0 : act)};
            const eng_epilogue *e = act < 0 ? NULL : &ep;
            const float *b = act % 2 ? NULL : bias;
            const bool per_channel = (act + ti) % 2;
            for (int t = 1; t <= 2; t++) {
                test_set_threads(t);
                fused_done = false;
                quant_forward(&spied, &s, &tables[ti], mul, per_channel, x, w, b, e, got);
                ck_assert_msg(fused_done == (dc.stride <= 2), "%s: the fused kernel %s",
                              tables[ti].mul ? tables[ti].mul : "exact",
                              fused_done ? "took a stride-3 shape" : "left the shape");
                for (int i = 0; i < 4 * GUARD; i++)
                    ck_assert_msg(((unsigned char *)(got + Y))[i] == 0x5a,
                                  "a write past the output, byte %d", i);
                for (int r = small ? 0 : 1; r < 2; r++) {
                    quant_forward(r ? &steps : eng_kernels_ref(), &s, &tables[ti], mul,
                                  per_channel, x, w, b, e, want);
                    for (size_t i = 0; i < Y; i++)
                        ck_assert_msg(memcmp(&got[i], &want[i], 4) == 0,
                                      "%s %s, act %d, bias %d, per channel %d, %d threads: y[%zu]"
                                      " = %.9g, %s %.9g", tables[ti].mul ? tables[ti].mul : "exact",
                                      tables[ti].mode == ENG_QUANT_SYM ? "sym" : "asym", act,
                                      b != NULL, per_channel, t, i, (double)got[i],
                                      r ? "three steps" : "scalar set", (double)want[i]);
                }
            }
        }
        eng_mul_free(mul);
    }
    test_set_threads(2);
    free(x), free(w), free(bias), free(es), free(et), free(got), free(want);
}
END_TEST

/* The activation codes at their rounding ties: inputs (k + 1/2) * scale and their neighbours
 * 1..3 ulps away, for codes k across the range and beyond, under several activation ranges
 * (asymmetric and symmetric): the fused kernel, which multiplies by the reciprocal of the scale
 * where that cannot change the code, quantizes them as the division does, bit for bit against
 * the three steps and the scalar set. */
START_TEST(test_quantized_fused_ties)
{
    const eng_kernels *fast = test_kernel_set("avx512");
    if (fast == NULL || fast->lut_depthwise_fused == NULL)
        return;
    eng_kernels steps = *fast;
    steps.lut_depthwise_fused = NULL;
    const float ranges[][2] = {{-1.0f, 2.0f}, {0.0f, 6.0f}, {-0.3f, 0.7f}, {-1.0f, 1.0f},
                               {-3.7f, 0.1f}};
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 2, 2, 31, 37, 3, 3, 1, 1, 1), ENG_OK);
    const size_t X = (size_t)2 * 2 * 31 * 37, Y = X;
    float *x = malloc(4 * X), *got = malloc(4 * Y), *want = malloc(4 * Y);
    const float w[18] = {0.5f, -0.25f, 1.0f, 0.75f, -1.0f, 0.125f, 0.3f, -0.6f, 0.9f,
                         -0.2f, 0.4f, 0.8f, -0.9f, 0.1f, 0.6f, -0.7f, 0.35f, 0.05f};
    for (int ri = 0; ri < 5; ri++)
        for (int mode = 0; mode < 2; mode++) {
            const dw_table tb = {NULL, mode ? ENG_QUANT_SYM : ENG_QUANT_ASYM};
            eng_approx_cfg cfg;
            eng_approx_cfg_default(&cfg);
            cfg.mode = tb.mode;
            eng_approx *q;
            ck_assert_int_eq(eng_approx_create(&cfg, NULL, 2, &q), ENG_OK);
            ck_assert_int_eq(eng_approx_set_act_range(q, ranges[ri][0], ranges[ri][1]), ENG_OK);
            void *ws = malloc(eng_depthwise_workspace_size(&s, q) + 1);
            ck_assert_int_eq(eng_depthwise_forward(&steps, &s, x, w, NULL, q, false, got, ws),
                             ENG_OK); /* sets the parameters of the range */
            const eng_qparams a = eng_approx_act_qparams(q);
            free(ws);
            eng_approx_free(q);
            for (size_t i = 0; i < X; i++) {
                const int k = (int)(i / 7) % 300 - 280 + a.zero_point; /* codes beyond both ends */
                float v = ((float)(k - a.zero_point) + 0.5f) * a.scale;
                for (int u = 0; u < (int)(i % 7); u++) /* 0, +1, +2, +3, -1, -2, -3 ulps */
                    v = nextafterf(v, i % 7 < 4 ? INFINITY : -INFINITY);
                x[i] = v;
            }
            quant_forward_range(fast, &s, &tb, NULL, false, ranges[ri][0], ranges[ri][1], x, w,
                                NULL, NULL, got);
            for (int r = 0; r < 2; r++) {
                quant_forward_range(r ? &steps : eng_kernels_ref(), &s, &tb, NULL, false,
                                    ranges[ri][0], ranges[ri][1], x, w, NULL, NULL, want);
                for (size_t i = 0; i < Y; i++)
                    ck_assert_msg(memcmp(&got[i], &want[i], 4) == 0,
                                  "range [%g, %g] %s: y[%zu] = %.9g, %s %.9g",
                                  (double)ranges[ri][0], (double)ranges[ri][1],
                                  mode ? "sym" : "asym", i, (double)got[i],
                                  r ? "three steps" : "scalar set", (double)want[i]);
            }
        }
    free(x), free(got), free(want);
}
END_TEST

static uint64_t fnv1a(uint64_t h, const void *p, size_t bytes)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* A zoo network trained three steps and evaluated on set k through mul (mode) on `threads`
 * threads: the hash (FNV-1a) of the outputs of every forward and of the final parameters. */
static uint64_t net_fingerprint(const eng_kernels *k, const eng_mul *mul, eng_quant_mode mode,
                                int threads)
{
    enum { BATCH = 3 };
    test_set_threads(threads);
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.width = 0.25f;
    opt.seed = 7;
    eng_net *net;
    ck_assert_int_eq(eng_zoo_build("mobilenetv2_cifar", &opt, &net), ENG_OK);
    eng_net_set_kernels(net, k);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.mode = mode;
    ck_assert_int_eq(eng_net_set_multiplier(net, -1, mul), ENG_OK);
    ck_assert_msg(eng_net_set_quant(net, -1, &cfg) == ENG_OK, "%s", eng_last_error());
    const size_t count = (size_t)3 * 32 * 32 * BATCH, outs = (size_t)10 * BATCH;
    float *x = malloc(sizeof(float) * count);
    uint64_t rng = 11, h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < count; i++)
        x[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
    const uint8_t labels[BATCH] = {3, 1, 4};
    eng_sgd_cfg sc = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f,
                      .schedule = ENG_LR_CONSTANT, .step_epochs = 1, .step_gamma = 1.0f};
    eng_sgd *sgd;
    ck_assert_int_eq(eng_sgd_create(net, &sc, &sgd), ENG_OK);
    for (int step = 0; step < 3; step++) {
        float loss;
        int correct;
        ck_assert_int_eq(eng_net_forward(net, x, BATCH, true), ENG_OK);
        h = fnv1a(h, eng_net_output(net), outs * sizeof(float));
        ck_assert_int_eq(eng_net_loss(net, labels, BATCH, &loss, &correct), ENG_OK);
        ck_assert_int_eq(eng_net_backward(net), ENG_OK);
        ck_assert_int_eq(eng_sgd_step(sgd, 0.05f), ENG_OK);
    }
    ck_assert_int_eq(eng_net_forward(net, x, BATCH, false), ENG_OK);
    h = fnv1a(h, eng_net_output(net), outs * sizeof(float));
    for (int i = 0; i < eng_net_param_count(net); i++) {
        eng_param p;
        ck_assert_int_eq(eng_net_param_get(net, i, &p), ENG_OK);
        h = fnv1a(h, p.data, p.count * sizeof(float));
    }
    eng_sgd_free(sgd);
    eng_net_free(net);
    free(x);
    test_set_threads(2);
    return h;
}

/* A MobileNetV2 (CIFAR, width 0.25) trained three steps and evaluated through mul8u_DM1
 * (asym) and the signed mul8s_1KR3 (sym): every output and parameter is the same
 * with the fused depthwise forward as with its three steps, at 1 and at 2 threads. */
START_TEST(test_network_fused_same)
{
    const eng_kernels *fast = test_kernel_set("avx512");
    if (fast == NULL || fast->lut_depthwise_fused == NULL)
        return;
    eng_kernels steps = *fast;
    steps.lut_depthwise_fused = NULL;
    const dw_table nets[] = {{"mul8u_DM1", ENG_QUANT_ASYM}, {"mul8s_1KR3", ENG_QUANT_SYM}};
    for (int i = 0; i < 2; i++) {
        eng_mul *mul;
        ck_assert_int_eq(eng_mul_load(nets[i].mul, &mul), ENG_OK);
        for (int t = 1; t <= 2; t++) /* the other layers' results may depend on the count */
            ck_assert_msg(net_fingerprint(fast, mul, nets[i].mode, t) ==
                              net_fingerprint(&steps, mul, nets[i].mode, t),
                          "%s, %d threads: the network differs with the fused depthwise",
                          nets[i].mul, t);
        eng_mul_free(mul);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("depthwise");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_against_definition, 0, CASE_COUNT);
    tcase_add_test(tc, test_gradients_finite_differences);
    tcase_add_test(tc, test_thread_count_independent);
    tcase_add_test(tc, test_ops_agree_between_sets);
    tcase_add_loop_test(tc, test_quantized_fused, 0, QCASE_COUNT);
    tcase_add_test(tc, test_quantized_fused_ties);
    tcase_add_test(tc, test_network_fused_same);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
