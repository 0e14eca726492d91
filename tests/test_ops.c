/*
 * test_ops.c - exact float conv2d, depthwise and dense (eng_ops.h, q == NULL): forward and
 * backward against PyTorch reference vectors, finite differences and a naive grouped
 * convolution; float and STE-quantized same-padding conv2d layers (3x3, 5x5) in every kernel
 * set against the scalar one; a failing kernel's status comes back from every op.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eng_ops.h"
#include "testutil.h"

/* NCHW (PyTorch) -> CNHW (engine). */
static float *to_cnhw(const float *src, int n, int c, size_t plane)
{
    float *dst = malloc(sizeof(float) * n * c * plane);
    for (int b = 0; b < n; b++)
        for (int ci = 0; ci < c; ci++)
            memcpy(&dst[((size_t)ci * n + b) * plane], &src[((size_t)b * c + ci) * plane],
                   sizeof(float) * plane);
    return dst;
}

static void assert_close(const char *what, const float *got, const float *ref, size_t count,
                         double tol)
{
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(fabs((double)got[i] - ref[i]) <= tol * (1.0 + fabs(ref[i])),
                      "%s[%zu]: %.7g, expected %.7g", what, i, (double)got[i], (double)ref[i]);
}

static void *ws_alloc(size_t size)
{
    void *ws = eng_alloc(size);
    ck_assert_ptr_nonnull(ws);
    return ws;
}

/* ------------------------------------------------------------------------------------------
 * Reference cases
 * ---------------------------------------------------------------------------------------- */

typedef struct conv_case {
    const char *name;
    int n, c, h, w, oc, kh, stride, pad, dilation;
    bool depthwise, bias;
} conv_case;

static const conv_case conv_cases[] = {
    {"conv3x3_s1_p1", 2, 3, 9, 9, 4, 3, 1, 1, 1, false, true},
    {"conv5x5_s2_p0", 2, 4, 11, 11, 5, 5, 2, 0, 1, false, true},
    {"conv3x3_dil2", 1, 3, 10, 10, 2, 3, 1, 2, 2, false, true},
    {"conv1x1_nobias", 3, 8, 5, 5, 6, 1, 1, 0, 1, false, false},
    {"dw3x3_s1_p1", 2, 6, 8, 8, 6, 3, 1, 1, 1, true, true},
    {"dw3x3_s2_p1", 2, 5, 9, 9, 5, 3, 2, 1, 1, true, true},
};

START_TEST(test_conv_reference)
{
    const conv_case *cc = &conv_cases[_i];
    const eng_kernels *k = eng_kernels_get();
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, cc->n, cc->c, cc->h, cc->w, cc->kh, cc->kh,
                                         cc->stride, cc->pad, cc->dilation), ENG_OK);
    const size_t plane = (size_t)cc->h * cc->w, oplane = (size_t)s.oh * s.ow;
    const size_t X = (size_t)cc->n * cc->c * plane, Y = (size_t)cc->n * cc->oc * oplane;
    const size_t W = (size_t)cc->oc * (cc->depthwise ? 1 : cc->c) * cc->kh * cc->kh;
    float *x_ref = test_read_reference(cc->name, "x.bin", 4 * X);
    float *w = test_read_reference(cc->name, "w.bin", 4 * W);
    float *y_ref = test_read_reference(cc->name, "y.bin", 4 * Y);
    float *dy_ref = test_read_reference(cc->name, "dy.bin", 4 * Y);
    float *dx_ref = test_read_reference(cc->name, "dx.bin", 4 * X);
    float *dw_ref = test_read_reference(cc->name, "dw.bin", 4 * W);
    float *b = cc->bias ? test_read_reference(cc->name, "b.bin", 4 * cc->oc) : NULL;
    float *db_ref = cc->bias ? test_read_reference(cc->name, "db.bin", 4 * cc->oc) : NULL;
    float *x = to_cnhw(x_ref, cc->n, cc->c, plane);
    float *yr = to_cnhw(y_ref, cc->n, cc->oc, oplane);
    float *dy = to_cnhw(dy_ref, cc->n, cc->oc, oplane);
    float *dxr = to_cnhw(dx_ref, cc->n, cc->c, plane);
    float *y = malloc(4 * Y), *dx = malloc(4 * X), *dw = malloc(4 * W), db[16];

    size_t wsize = cc->depthwise ? eng_depthwise_workspace_size(&s, NULL)
                                 : eng_conv2d_workspace_size(&s, cc->oc, NULL);
    void *ws = ws_alloc(wsize);
    if (cc->depthwise) {
        ck_assert_int_eq(eng_depthwise_forward(k, &s, x, w, b, NULL, false, y, ws), ENG_OK);
        ck_assert_int_eq(eng_depthwise_backward(k, &s, x, w, NULL, dy, dx, dw, b ? db : NULL, ws),
                         ENG_OK);
    } else {
        ck_assert_int_eq(eng_conv2d_forward(k, &s, cc->oc, x, w, b, NULL, false, y, ws), ENG_OK);
        ck_assert_int_eq(eng_conv2d_backward(k, &s, cc->oc, x, w, NULL, dy, dx, dw,
                                             b ? db : NULL, ws), ENG_OK);
    }
    assert_close("y", y, yr, Y, 1e-5);
    assert_close("dx", dx, dxr, X, 1e-5);
    assert_close("dw", dw, dw_ref, W, 1e-5);
    if (b) assert_close("db", db, db_ref, cc->oc, 1e-5);

    /* dx = NULL skips the input gradient and leaves dw unchanged */
    float *dw2 = malloc(4 * W);
    if (cc->depthwise)
        ck_assert_int_eq(eng_depthwise_backward(k, &s, x, w, NULL, dy, NULL, dw2, NULL, ws), ENG_OK);
    else
        ck_assert_int_eq(eng_conv2d_backward(k, &s, cc->oc, x, w, NULL, dy, NULL, dw2, NULL, ws),
                         ENG_OK);
    ck_assert_mem_eq(dw, dw2, 4 * W);

    eng_free(ws);
    free(dw2);
    free(x_ref); free(w); free(y_ref); free(dy_ref); free(dx_ref); free(dw_ref); free(b);
    free(db_ref); free(x); free(yr); free(dy); free(dxr); free(y); free(dx); free(dw);
}
END_TEST

START_TEST(test_dense_reference)
{
    const int n = 4, in = 10, out = 7;
    const eng_kernels *k = eng_kernels_get();
    float *x_ref = test_read_reference("dense", "x.bin", 4 * n * in);      /* [n][in] */
    float *w = test_read_reference("dense", "w.bin", 4 * out * in);
    float *b = test_read_reference("dense", "b.bin", 4 * out);
    float *y_ref = test_read_reference("dense", "y.bin", 4 * n * out);     /* [n][out] */
    float *dy_ref = test_read_reference("dense", "dy.bin", 4 * n * out);
    float *dx_ref = test_read_reference("dense", "dx.bin", 4 * n * in);
    float *dw_ref = test_read_reference("dense", "dw.bin", 4 * out * in);
    float *db_ref = test_read_reference("dense", "db.bin", 4 * out);
    /* transpose to the engine's feature-major [features][n] */
    float x[10 * 4], yr[7 * 4], dy[7 * 4], dxr[10 * 4], y[7 * 4], dx[10 * 4], dw[70], db[7];
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < in; i++) {
            x[i * n + j] = x_ref[j * in + i];
            dxr[i * n + j] = dx_ref[j * in + i];
        }
        for (int o = 0; o < out; o++) {
            yr[o * n + j] = y_ref[j * out + o];
            dy[o * n + j] = dy_ref[j * out + o];
        }
    }
    ck_assert_uint_eq(eng_dense_workspace_size(in, out, n, NULL), 0);
    ck_assert_int_eq(eng_dense_forward(k, in, out, n, x, w, b, NULL, true, y, NULL), ENG_OK);
    ck_assert_int_eq(eng_dense_backward(k, in, out, n, x, w, NULL, dy, dx, dw, db, NULL), ENG_OK);
    assert_close("y", y, yr, 28, 1e-5);
    assert_close("dx", dx, dxr, 40, 1e-5);
    assert_close("dw", dw, dw_ref, 70, 1e-5);
    assert_close("db", db, db_ref, 7, 1e-5);
    free(x_ref); free(w); free(b); free(y_ref); free(dy_ref); free(dx_ref); free(dw_ref);
    free(db_ref);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Finite differences: L = sum(r * y) is linear in each of x, w, b, so central differences are
 * exact up to float rounding.
 * ---------------------------------------------------------------------------------------- */

typedef enum op_kind { OP_CONV, OP_DEPTHWISE, OP_DENSE } op_kind;

typedef struct fd_setup {
    op_kind kind;
    eng_conv_shape s;
    int oc, in, out, n;        /* conv: oc; dense: in, out, n */
    size_t X, W, Y, B;
} fd_setup;

static void fd_forward(const fd_setup *f, const float *x, const float *w, const float *b,
                       float *y, void *ws)
{
    const eng_kernels *k = eng_kernels_get();
    eng_status st = f->kind == OP_CONV
                        ? eng_conv2d_forward(k, &f->s, f->oc, x, w, b, NULL, true, y, ws)
                    : f->kind == OP_DEPTHWISE
                        ? eng_depthwise_forward(k, &f->s, x, w, b, NULL, true, y, ws)
                        : eng_dense_forward(k, f->in, f->out, f->n, x, w, b, NULL, true, y, ws);
    ck_assert_int_eq(st, ENG_OK);
}

static double fd_loss(const fd_setup *f, const float *x, const float *w, const float *b,
                      const float *r, float *y, void *ws)
{
    fd_forward(f, x, w, b, y, ws);
    double l = 0.0;
    for (size_t i = 0; i < f->Y; i++) l += (double)r[i] * y[i];
    return l;
}

/* Checks analytic gradient g of tensor t against central differences at every 7th entry. */
static void fd_check(const char *what, const fd_setup *f, float *x, float *w, float *b,
                     float *t, const float *g, size_t count, const float *r, float *y, void *ws)
{
    const float eps = 0.125f;   /* a power of two: t +- eps is exact for |t| < 4 */
    for (size_t i = 0; i < count; i += 7) {
        float t0 = t[i];
        t[i] = t0 + eps;
        double lp = fd_loss(f, x, w, b, r, y, ws);
        t[i] = t0 - eps;
        double lm = fd_loss(f, x, w, b, r, y, ws);
        t[i] = t0;
        double num = (lp - lm) / (2.0 * eps);
        ck_assert_msg(fabs(num - g[i]) <= 2e-3 * (1.0 + fabs(num)),
                      "%s[%zu]: analytic %.6g, numeric %.6g", what, i, (double)g[i], num);
    }
}

static void fd_run(fd_setup *f)
{
    const eng_kernels *k = eng_kernels_get();
    uint64_t rng = 42;
    float *x = malloc(4 * f->X), *w = malloc(4 * f->W), *b = malloc(4 * f->B);
    float *r = malloc(4 * f->Y), *y = malloc(4 * f->Y);
    float *dx = malloc(4 * f->X), *dw = malloc(4 * f->W), *db = malloc(4 * f->B);
    for (size_t i = 0; i < f->X; i++) x[i] = test_rand_uniform(&rng, -2, 2);
    for (size_t i = 0; i < f->W; i++) w[i] = test_rand_uniform(&rng, -1, 1);
    for (size_t i = 0; i < f->B; i++) b[i] = test_rand_uniform(&rng, -1, 1);
    for (size_t i = 0; i < f->Y; i++) r[i] = test_rand_uniform(&rng, -1, 1);
    size_t wsize = f->kind == OP_CONV        ? eng_conv2d_workspace_size(&f->s, f->oc, NULL)
                   : f->kind == OP_DEPTHWISE ? eng_depthwise_workspace_size(&f->s, NULL)
                                             : eng_dense_workspace_size(f->in, f->out, f->n, NULL);
    void *ws = ws_alloc(wsize);
    eng_status st = f->kind == OP_CONV
        ? eng_conv2d_backward(k, &f->s, f->oc, x, w, NULL, r, dx, dw, db, ws)
        : f->kind == OP_DEPTHWISE
        ? eng_depthwise_backward(k, &f->s, x, w, NULL, r, dx, dw, db, ws)
        : eng_dense_backward(k, f->in, f->out, f->n, x, w, NULL, r, dx, dw, db, ws);
    ck_assert_int_eq(st, ENG_OK);
    fd_check("dx", f, x, w, b, x, dx, f->X, r, y, ws);
    fd_check("dw", f, x, w, b, w, dw, f->W, r, y, ws);
    fd_check("db", f, x, w, b, b, db, f->B, r, y, ws);
    eng_free(ws);
    free(x); free(w); free(b); free(r); free(y); free(dx); free(dw); free(db);
}

static fd_setup fd_conv(op_kind kind, int n, int c, int h, int wd, int oc, int kh, int kw,
                        int stride, int pad, int dil)
{
    fd_setup f = {.kind = kind, .oc = kind == OP_DEPTHWISE ? c : oc};
    ck_assert_int_eq(eng_conv_shape_init(&f.s, n, c, h, wd, kh, kw, stride, pad, dil), ENG_OK);
    f.X = (size_t)n * c * h * wd;
    f.W = (size_t)f.oc * (kind == OP_DEPTHWISE ? 1 : c) * kh * kw;
    f.Y = (size_t)n * f.oc * f.s.oh * f.s.ow;
    f.B = (size_t)f.oc;
    return f;
}

START_TEST(test_conv_finite_differences)
{
    fd_setup cases[] = {
        fd_conv(OP_CONV, 2, 3, 7, 6, 4, 3, 3, 1, 1, 1),
        fd_conv(OP_CONV, 1, 2, 9, 8, 3, 3, 2, 2, 1, 2),      /* non-square, stride, dilation */
        fd_conv(OP_CONV, 2, 4, 5, 5, 3, 1, 1, 1, 0, 1),      /* pointwise */
        fd_conv(OP_DEPTHWISE, 2, 3, 7, 7, 0, 3, 3, 2, 1, 1),
        fd_conv(OP_DEPTHWISE, 1, 2, 8, 9, 0, 3, 2, 1, 2, 2),
    };
    fd_run(&cases[_i]);
}
END_TEST

START_TEST(test_dense_finite_differences)
{
    fd_setup f = {.kind = OP_DENSE, .in = 9, .out = 5, .n = 3};
    f.X = 27, f.W = 45, f.Y = 15, f.B = 5;
    fd_run(&f);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Depthwise against a naive grouped convolution (groups = channels, written here)
 * ---------------------------------------------------------------------------------------- */

static void naive_grouped_conv(const eng_conv_shape *s, const float *x, const float *w,
                               const float *b, int groups, int oc, float *y)
{
    const int cin = s->c / groups, cout = oc / groups;
    for (int o = 0; o < oc; o++) {
        int g = o / cout;
        for (int n = 0; n < s->n; n++)
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    double sum = b[o];
                    for (int ci = 0; ci < cin; ci++) {
                        int c = g * cin + ci;
                        for (int i = 0; i < s->kh; i++)
                            for (int j = 0; j < s->kw; j++) {
                                int iy = oy * s->stride + i * s->dilation - s->pad;
                                int ix = ox * s->stride + j * s->dilation - s->pad;
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                                sum += (double)w[((o * cin + ci) * s->kh + i) * s->kw + j] *
                                       x[(((size_t)c * s->n + n) * s->h + iy) * s->w + ix];
                            }
                    }
                    y[(((size_t)o * s->n + n) * s->oh + oy) * s->ow + ox] = (float)sum;
                }
    }
}

START_TEST(test_depthwise_vs_grouped)
{
    const int geo[][8] = { /* n c h w kh kw stride pad ; dilation = 1 + _i % 2 */
        {2, 5, 9, 7, 3, 3, 1, 1}, {3, 4, 10, 10, 5, 5, 2, 2}, {1, 6, 6, 8, 3, 1, 1, 0},
    };
    const int *g = geo[_i / 2];
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                                         1 + _i % 2), ENG_OK);
    size_t X = (size_t)s.n * s.c * s.h * s.w, W = (size_t)s.c * s.kh * s.kw;
    size_t Y = (size_t)s.n * s.c * s.oh * s.ow;
    uint64_t rng = 7 + _i;
    float *x = malloc(4 * X), *w = malloc(4 * W), *b = malloc(4 * s.c);
    float *y = malloc(4 * Y), *yr = malloc(4 * Y);
    for (size_t i = 0; i < X; i++) x[i] = test_rand_uniform(&rng, -1, 1);
    for (size_t i = 0; i < W; i++) w[i] = test_rand_uniform(&rng, -1, 1);
    for (int i = 0; i < s.c; i++) b[i] = test_rand_uniform(&rng, -1, 1);
    ck_assert_int_eq(eng_depthwise_forward(eng_kernels_get(), &s, x, w, b, NULL, false, y, NULL),
                     ENG_OK);
    naive_grouped_conv(&s, x, w, b, s.c, s.c, yr);
    assert_close("y", y, yr, Y, 1e-5);
    free(x); free(w); free(b); free(y); free(yr);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Bad input
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_bad_arguments)
{
    const eng_kernels *k = eng_kernels_get();
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 2, 4, 4, 3, 3, 1, 1, 1), ENG_OK);
    float x[32] = {0}, w[54] = {0}, y[48], dw[54];
    ck_assert_int_eq(eng_conv2d_forward(k, &s, 3, NULL, w, NULL, NULL, false, y, NULL),
                     ENG_ERR_ARG);
    ck_assert_int_eq(eng_conv2d_forward(k, &s, 0, x, w, NULL, NULL, false, y, NULL),
                     ENG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "conv2d forward"));
    ck_assert_int_eq(eng_conv2d_backward(k, &s, 3, x, w, NULL, y, NULL, NULL, NULL, NULL),
                     ENG_ERR_ARG);
    ck_assert_int_eq(eng_dense_forward(k, 0, 3, 1, x, w, NULL, NULL, false, y, NULL),
                     ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_depthwise_backward(k, &s, x, w, NULL, y, NULL, NULL, NULL, NULL),
                     ENG_ERR_ARG);
    /* a state made for another channel count is refused */
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    eng_approx *q;
    ck_assert_int_eq(eng_approx_create(&cfg, NULL, 5, &q), ENG_OK);
    void *ws = ws_alloc(eng_conv2d_workspace_size(&s, 3, q));
    ck_assert_int_eq(eng_conv2d_forward(k, &s, 3, x, w, NULL, q, true, y, ws), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_depthwise_forward(k, &s, x, w, NULL, q, true, y, ws), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_dense_backward(k, 4, 3, 2, x, w, q, y, NULL, dw, NULL, ws),
                     ENG_ERR_SHAPE);
    eng_free(ws);
    eng_approx_free(q);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Kernel statuses: an op hands a failing kernel's status back
 * ---------------------------------------------------------------------------------------- */

/* The reference table with member `failing` (an index into fail_kernels) replaced by a kernel
 * that counts its calls and fails. */
enum { KERNEL_COUNT = 15 };
static int fail_calls;

static eng_status kernel_fails(const char *name)
{
    fail_calls++;
    return eng_error(ENG_ERR_INTERNAL, "kernel %s failed", name);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
static eng_status fail_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
                             int lda, const float *b, int ldb, float beta, float *c, int ldc)
{ return kernel_fails("sgemm"); }
static eng_status fail_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                const uint8_t *a, int32_t *out)
{ return kernel_fails("lut_gemm"); }
static eng_status fail_lut_conv2d(const eng_lut *lut, const eng_conv_shape *s, int oc,
                                  const uint8_t *a, uint8_t pad, const uint8_t *w, int32_t *out)
{ return kernel_fails("lut_conv2d"); }
static eng_status fail_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s,
                                     const uint8_t *a, const uint8_t *w, uint8_t pad,
                                     int32_t *out, int32_t *sums)
{ return kernel_fails("lut_depthwise"); }
static eng_status fail_im2col_f32(const eng_conv_shape *s, const float *x, float pad, float *c)
{ return kernel_fails("im2col_f32"); }
static eng_status fail_im2col_u8(const eng_conv_shape *s, const uint8_t *x, uint8_t pad,
                                 uint8_t *c)
{ return kernel_fails("im2col_u8"); }
static eng_status fail_col2im_f32(const eng_conv_shape *s, const float *c, float *dx)
{ return kernel_fails("col2im_f32"); }
static eng_status fail_quantize(const float *x, size_t count, float scale, int32_t zp,
                                int32_t qmin, int32_t qmax, uint8_t *codes)
{ return kernel_fails("quantize"); }
static eng_status fail_c3_forward(const eng_conv_shape *s, int oc, const float *x,
                                  const float *w, const float *bias, float *y)
{ return kernel_fails("conv_same_f32_forward"); }
static eng_status fail_c3_backward_data(const eng_conv_shape *s, int oc, const float *dy,
                                        const float *w, float *dx)
{ return kernel_fails("conv_same_f32_backward_data"); }
static eng_status fail_c3_backward_weights(const eng_conv_shape *s, int oc, const float *x,
                                           const float *dy, float *dw)
{ return kernel_fails("conv_same_f32_backward_weights"); }
static eng_status fail_dw_forward(const eng_conv_shape *s, const float *x, const float *w,
                                  const float *bias, float *y)
{ return kernel_fails("depthwise_f32_forward"); }
static eng_status fail_dw_backward_data(const eng_conv_shape *s, const float *dy,
                                        const float *w, float *dx)
{ return kernel_fails("depthwise_f32_backward_data"); }
static eng_status fail_dw_backward_weights(const eng_conv_shape *s, const float *x,
                                           const float *dy, float *dw)
{ return kernel_fails("depthwise_f32_backward_weights"); }
static eng_status fail_dw_backward(const eng_conv_shape *s, const float *x, const float *dy,
                                   const float *w, float *dx, float *dw)
{ return kernel_fails("depthwise_f32_backward"); }
#pragma GCC diagnostic pop

static eng_kernels failing_set(int failing)
{
    eng_kernels k = *eng_kernels_ref();
    switch (failing) {
    case 0: k.sgemm = fail_sgemm; break;
    case 1: k.lut_gemm = fail_lut_gemm; break;
    case 2: k.lut_conv2d = fail_lut_conv2d; break;
    case 3: k.lut_depthwise = fail_lut_depthwise; break;
    case 4: k.im2col_f32 = fail_im2col_f32; break;
    case 5: k.im2col_u8 = fail_im2col_u8; break;
    case 6: k.col2im_f32 = fail_col2im_f32; break;
    case 7: k.quantize = fail_quantize; break;
    case 8: k.conv_same_f32_forward = fail_c3_forward; break;
    case 9: k.conv_same_f32_backward_data = fail_c3_backward_data; break;
    case 10: k.conv_same_f32_backward_weights = fail_c3_backward_weights; break;
    case 11: k.depthwise_f32_forward = fail_dw_forward; break;
    case 12: k.depthwise_f32_backward_data = fail_dw_backward_data; break;
    case 13: k.depthwise_f32_backward_weights = fail_dw_backward_weights; break;
    default: k.depthwise_f32_backward = fail_dw_backward; break;
    }
    return k;
}

/* st is the op's status; the failing kernel ran `calls` times during the op. */
static void check_status(const char *op, eng_status st, int calls, int failing)
{
    if (calls > 0) {
        ck_assert_msg(st == ENG_ERR_INTERNAL, "%s with failing kernel %d: status %d", op,
                      failing, (int)st);
        ck_assert_ptr_nonnull(strstr(eng_last_error(), "failed"));
    } else {
        ck_assert_msg(st == ENG_OK, "%s: %s", op, eng_last_error());
    }
}

/* Runs `call` with the failing set f and checks what it returns. */
#define RUN_FAILING(op, call)                                                                \
    do {                                                                                     \
        fail_calls = 0;                                                                      \
        eng_status st_ = (call);                                                             \
        check_status(op, st_, fail_calls, failing);                                          \
        total += fail_calls;                                                                 \
    } while (0)

START_TEST(test_kernel_status_propagates)
{
    const int failing = _i;
    const eng_kernels *r = eng_kernels_ref();
    const eng_kernels fset = failing_set(failing), *f = &fset;
    int total = 0;
    /* room for the largest op: the 2-channel 6x6 batch of 2, the 3-output dense layer */
    float x[2 * 2 * 6 * 6], w[2 * 2 * 9], b[3] = {0.1f, -0.2f, 0.3f};
    float y[2 * 2 * 6 * 6], dy[2 * 2 * 6 * 6], dx[2 * 2 * 6 * 6], dw[2 * 2 * 9], db[3];
    uint64_t rng = 77;
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = test_rand_uniform(&rng, -1, 1);
    for (size_t i = 0; i < sizeof dy / sizeof *dy; i++) dy[i] = test_rand_uniform(&rng, -1, 1);
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) w[i] = test_rand_uniform(&rng, -1, 1);
    /* 3x3 stride 1 (the direct float kernels, the implicit table convolution), 3x3 stride 2
     * (im2col + GEMM) and 1x1 (no columns) */
    const int geo[3][3] = {{3, 1, 1}, {3, 2, 1}, {1, 1, 0}};
    for (int qi = 0; qi < 3; qi++) { /* float, quantized STE, quantized table gradient */
        eng_approx *q = NULL, *qd = NULL, *qn = NULL;
        if (qi > 0) {
            eng_approx_cfg cfg;
            eng_approx_cfg_default(&cfg);
            cfg.mode = ENG_QUANT_ASYM;
            cfg.table_gradient = qi == 2;
            ck_assert_int_eq(eng_approx_create(&cfg, NULL, 2, &q), ENG_OK);
            ck_assert_int_eq(eng_approx_create(&cfg, NULL, 2, &qd), ENG_OK);
            ck_assert_int_eq(eng_approx_create(&cfg, NULL, 3, &qn), ENG_OK);
        }
        for (int g = 0; g < 3; g++) {
            eng_conv_shape s;
            ck_assert_int_eq(eng_conv_shape_init(&s, 2, 2, 6, 6, geo[g][0], geo[g][0],
                                                 geo[g][1], geo[g][2], 1), ENG_OK);
            void *ws = ws_alloc(eng_conv2d_workspace_size(&s, 2, q) +
                                eng_depthwise_workspace_size(&s, qd));
            /* a forward on the reference first: the backward needs one */
            ck_assert_int_eq(eng_conv2d_forward(r, &s, 2, x, w, b, q, true, y, ws), ENG_OK);
            RUN_FAILING("conv2d forward", eng_conv2d_forward(f, &s, 2, x, w, b, q, true, y, ws));
            RUN_FAILING("conv2d backward",
                        eng_conv2d_backward(f, &s, 2, x, w, q, dy, dx, dw, db, ws));
            ck_assert_int_eq(eng_depthwise_forward(r, &s, x, w, b, qd, true, y, ws), ENG_OK);
            RUN_FAILING("depthwise forward",
                        eng_depthwise_forward(f, &s, x, w, b, qd, true, y, ws));
            RUN_FAILING("depthwise backward",
                        eng_depthwise_backward(f, &s, x, w, qd, dy, dx, dw, db, ws));
            eng_free(ws);
        }
        void *ws = ws_alloc(eng_dense_workspace_size(4, 3, 2, qn));
        ck_assert_int_eq(eng_dense_forward(r, 4, 3, 2, x, w, b, qn, true, y, ws), ENG_OK);
        RUN_FAILING("dense forward", eng_dense_forward(f, 4, 3, 2, x, w, b, qn, true, y, ws));
        RUN_FAILING("dense backward", eng_dense_backward(f, 4, 3, 2, x, w, qn, dy, dx, dw, db, ws));
        eng_free(ws);
        eng_approx_free(q);
        eng_approx_free(qd);
        eng_approx_free(qn);
    }
    ck_assert_msg(total > 0, "no op called kernel %d", failing);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Same-padding conv2d layers (the conv_same_f32_* kernels) in every set against the scalar one
 * ---------------------------------------------------------------------------------------- */

/* |got - want| <= tol * max |want| for every element: float rounding of sums of a few hundred
 * terms stays far below it, a wrong tap or channel does not. */
static void assert_close_max(const char *what, const char *set, const float *got,
                             const float *want, size_t count, double tol)
{
    double most = 0.0;
    for (size_t i = 0; i < count; i++)
        most = fmax(most, fabs((double)want[i]));
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol * most, "%s (%s)[%zu]: %.7g, "
                      "expected %.7g (max %g)", what, set, i, (double)got[i], (double)want[i],
                      most);
}

/* A training forward, then the backward with dx and db, of a conv2d layer in set k; quant: a
 * fresh quantization state (ASYM, exact products, STE backward). */
static void run_conv_layer(const eng_kernels *k, const eng_conv_shape *s, int oc, bool quant,
                           const float *x, const float *w, const float *b, const float *dy,
                           float *y, float *dx, float *dw, float *db)
{
    eng_approx *q = NULL;
    if (quant) {
        eng_approx_cfg cfg;
        eng_approx_cfg_default(&cfg);
        ck_assert_int_eq(eng_approx_create(&cfg, NULL, oc, &q), ENG_OK);
    }
    void *ws = ws_alloc(eng_conv2d_workspace_size(s, oc, q));
    ck_assert_int_eq(eng_conv2d_forward(k, s, oc, x, w, b, q, true, y, ws), ENG_OK);
    ck_assert_int_eq(eng_conv2d_backward(k, s, oc, x, w, q, dy, dx, dw, db, ws), ENG_OK);
    eng_free(ws);
    eng_approx_free(q);
}

/* Case _i: kernel 3 (even) or 5 (odd), float (_i < 2) or STE-quantized; 7x7 images, batch 3,
 * channel counts off the kernels' blocks. */
START_TEST(test_conv_same_sets)
{
    const int ks = _i % 2 ? 5 : 3, n = 3, c = 5, hw = 7, oc = 9;
    const bool quant = _i >= 2;
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, n, c, hw, hw, ks, ks, 1, ks / 2, 1), ENG_OK);
    ck_assert(eng_conv_shape_is_same(&s));
    const size_t X = (size_t)c * n * hw * hw, Y = (size_t)oc * n * hw * hw;
    const size_t W = (size_t)oc * c * ks * ks;
    uint64_t rng = 91 + (uint64_t)_i;
    float *buf[11];
    const size_t sizes[11] = {X, W, (size_t)oc, Y, Y, X, W, (size_t)oc, Y, X, W};
    for (int i = 0; i < 11; i++) {
        buf[i] = malloc(sizeof(float) * sizes[i]);
        ck_assert_ptr_nonnull(buf[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            buf[i][j] = test_rand_uniform(&rng, -1.0f, 1.0f);
    }
    float *x = buf[0], *w = buf[1], *b = buf[2], *dy = buf[3];
    float *y_ref = buf[4], *dx_ref = buf[5], *dw_ref = buf[6], *db_ref = buf[7];
    float *y = buf[8], *dx = buf[9], *dw = buf[10], db[9];
    run_conv_layer(eng_kernels_ref(), &s, oc, quant, x, w, b, dy, y_ref, dx_ref, dw_ref, db_ref);
    const char *const sets[] = {"avx2", "avx512"};
    for (int i = 0; i < 2; i++) {
        const eng_kernels *k = eng_kernels_by_name(sets[i]);
        if (k == NULL)
            continue;
        run_conv_layer(k, &s, oc, quant, x, w, b, dy, y, dx, dw, db);
        assert_close_max("y", k->name, y, y_ref, Y, 1e-5);
        assert_close_max("dx", k->name, dx, dx_ref, X, 1e-5);
        assert_close_max("dw", k->name, dw, dw_ref, W, 1e-5);
        assert_close_max("db", k->name, db, db_ref, (size_t)oc, 1e-5);
    }
    for (int i = 0; i < 11; i++)
        free(buf[i]);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("reference");
    tcase_add_loop_test(tc, test_conv_reference, 0, (int)(sizeof conv_cases / sizeof *conv_cases));
    tcase_add_test(tc, test_dense_reference);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradients");
    tcase_add_loop_test(tc, test_conv_finite_differences, 0, 5);
    tcase_add_test(tc, test_dense_finite_differences);
    suite_add_tcase(s, tc);
    tc = tcase_create("same");
    tcase_add_loop_test(tc, test_conv_same_sets, 0, 4);
    suite_add_tcase(s, tc);
    tc = tcase_create("depthwise");
    tcase_add_loop_test(tc, test_depthwise_vs_grouped, 0, 6);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_loop_test(tc, test_kernel_status_propagates, 0, KERNEL_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
