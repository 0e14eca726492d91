/*
 * ops_conv.c - conv2d forward and backward, exact float or quantized-approximate (eng_ops.h).
 *
 * One convolution over the whole CNHW batch is one GEMM on im2col columns cols[K][P]
 * (K = c*kh*kw, P = n*oh*ow); a 1x1, stride-1, unpadded convolution uses x itself as columns.
 * Float 3x3 and 5x5, stride-1, same-padding convolutions (exact, and the STE backward of
 * approximate layers) use the set's conv_same_f32_* kernels instead: no columns (direct kernels
 * in the AVX-512 set).
 */
#include "approx_internal.h"

typedef struct conv_dims {
    int    K;           /* products per output: c*kh*kw */
    size_t P;           /* output positions: n*oh*ow */
    size_t X;           /* input values: c*n*h*w */
    bool   pointwise;   /* cols == x */
} conv_dims;

static conv_dims conv_dims_of(const eng_conv_shape *s)
{
    return (conv_dims){
        .K = s->c * s->kh * s->kw,
        .P = (size_t)s->n * s->oh * s->ow,
        .X = (size_t)s->c * s->n * s->h * s->w,
        .pointwise = s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0,
    };
}

/* The float convolutions of shape s run on the conv_same_f32_* kernels. */
static bool conv_direct(const eng_conv_shape *s)
{
    return eng_conv_shape_is_same(s);
}

static eng_status conv_check(const eng_conv_shape *s, int oc, const eng_approx *q,
                             const void *x, const void *w, const void *out, const char *op)
{
    if (!s || !x || !w || !out)
        return eng_error(ENG_ERR_ARG, "%s: NULL tensor", op);
    if (oc <= 0 || s->n <= 0 || s->c <= 0 || s->oh <= 0 || s->ow <= 0)
        return eng_error(ENG_ERR_SHAPE, "%s: bad geometry (oc %d, n %d, c %d, output %dx%d)", op,
                         oc, s->n, s->c, s->oh, s->ow);
    return approx_check_state(q, oc, op);
}

size_t eng_conv2d_workspace_size(const eng_conv_shape *s, int oc, const eng_approx *q)
{
    conv_dims d = conv_dims_of(s);
    size_t kp = (size_t)d.K * d.P;
    if (!q) return d.pointwise || conv_direct(s) ? 0 : approx_ws_size(sizeof(float) * kp);
    const bool implicit = !d.pointwise && approx_conv_sums_apply(s); /* no column buffer */
    size_t codes = approx_ws_size(d.X) + (d.pointwise ? 0 : approx_ws_size(kp));
    size_t sums = implicit ? 2 * approx_ws_size(4 * d.P) : 0;
    size_t fwd = codes - (implicit ? approx_ws_size(kp) : 0) + sums +
                 approx_gemm_forward_ws(oc, d.K, d.P);
    size_t ste = conv_direct(s) ? approx_ws_size(sizeof(float) * d.X) +
                                      approx_ws_size(sizeof(float) * oc * d.K)
                                : approx_ws_size(sizeof(float) * kp) +
                                      approx_ws_size(sizeof(float) * oc * d.K) +
                                      (d.pointwise ? 0 : approx_ws_size(sizeof(float) * d.X));
    size_t tg = codes + approx_ws_size((size_t)oc * d.K) + approx_ws_size(sizeof(float) * kp);
    size_t bwd = q->cfg.table_gradient ? tg : ste;
    /* eng_conv2d_forward_codes always builds the column matrix */
    size_t on_codes = (d.pointwise ? 0 : approx_ws_size(kp)) + approx_gemm_codes_ws(oc, d.P);
    size_t most = fwd > bwd ? fwd : bwd;
    return most > on_codes ? most : on_codes;
}

/* The activation codes of x (pad code = zero point) as the convolution's columns: the column
 * matrix, or, when `implicit` and the shape is a same-size stride-1 one (approx_conv_sums_apply,
 * whose column sums come from channel sums), the codes themselves for k->lut_conv2d, which
 * packs its panels straight from them. The codes of x in *xcodes_out when not NULL. */
static eng_status conv_codes(const eng_kernels *k, const eng_conv_shape *s, const conv_dims *d,
                             const eng_approx *q, const float *x, bool implicit,
                             unsigned char **ws, const uint8_t **xcodes_out, approx_cols *out)
{
    const eng_qparams *a = &q->act;
    uint8_t *xcodes = approx_ws_take(ws, d->X);
    ENG_TRY(k->quantize(x, d->X, a->scale, a->zero_point, a->qmin, a->qmax, xcodes));
    if (xcodes_out) *xcodes_out = xcodes;
    if (d->pointwise) {
        *out = approx_cols_matrix(xcodes);
    } else if (implicit && approx_conv_sums_apply(s)) {
        *out = approx_cols_conv(xcodes, s, (uint8_t)a->zero_point);
    } else {
        uint8_t *cols = approx_ws_take(ws, (size_t)d->K * d->P);
        ENG_TRY(k->im2col_u8(s, xcodes, (uint8_t)a->zero_point, cols));
        *out = approx_cols_matrix(cols);
    }
    return ENG_OK;
}

/* Rows [0, rows) of y (row stride ld), columns [p0, p0 + len): bias then the epilogue, in
 * place (bias may be NULL). */
static void bias_epilogue_block(int rows, size_t ld, size_t p0, size_t len, const float *bias,
                                const eng_epilogue *ep, float *y)
{
#pragma omp parallel for schedule(static) if ((size_t)rows * len >= APPROX_PAR_MIN)
    for (int o = 0; o < rows; o++) {
        float *row = y + (size_t)o * ld + p0;
        if (bias)
            for (size_t i = 0; i < len; i++) row[i] += bias[o];
        eng_epilogue_apply(ep, o, row, len, row);
    }
}

eng_status eng_conv2d_forward(const eng_kernels *k, const eng_conv_shape *s, int oc,
                              const float *x, const float *w, const float *bias, eng_approx *q,
                              bool training, float *y, void *ws)
{
    return eng_conv2d_forward_fused(k, s, oc, x, w, bias, q, training, NULL, y, ws);
}

eng_status eng_conv2d_forward_fused(const eng_kernels *k, const eng_conv_shape *s, int oc,
                                    const float *x, const float *w, const float *bias,
                                    eng_approx *q, bool training, const eng_epilogue *ep,
                                    float *y, void *ws)
{
    ENG_TRY(conv_check(s, oc, q, x, w, y, "conv2d forward"));
    conv_dims d = conv_dims_of(s);
    unsigned char *p = ws;
    if (q) {
        approx_act_prepare(q, x, d.X, training);
        const uint8_t *xcodes;
        approx_cols cols;
        ENG_TRY(conv_codes(k, s, &d, q, x, true, &p, &xcodes, &cols));
        int32_t *sums = NULL;    /* asym column sums from channel sums: kh*kw x less work */
        if (q->cfg.mode == ENG_QUANT_ASYM && !d.pointwise && approx_conv_sums_apply(s)) {
            int32_t *chan = approx_ws_take(&p, 4 * d.P);
            sums = approx_ws_take(&p, 4 * d.P);
            approx_conv_column_sums(s, xcodes, (uint8_t)q->act.zero_point, chan, sums);
        }
        return approx_gemm_forward(k, q, oc, d.K, d.P, &cols, sums, w, bias, ep, y, p);
    }
    if (conv_direct(s)) {
        ENG_TRY(k->conv_same_f32_forward(s, oc, x, w, bias, y));
        if (ep) bias_epilogue_block(oc, d.P, 0, d.P, NULL, ep, y);
        return ENG_OK;
    }
    const float *cols = x;
    if (!d.pointwise) {
        float *c = approx_ws_take(&p, sizeof(float) * d.K * d.P);
        ENG_TRY(k->im2col_f32(s, x, 0.0f, c));
        cols = c;
    }
    ENG_TRY(k->sgemm(false, false, oc, (int)d.P, d.K, 1.0f, w, d.K, cols, (int)d.P, 0.0f, y,
                     (int)d.P));
    if (ep) { /* one pass: bias and epilogue (column blocks measured slower at 2 threads) */
        bias_epilogue_block(oc, d.P, 0, d.P, bias, ep, y);
        return ENG_OK;
    }
    if (bias) {
#pragma omp parallel for schedule(static) if ((size_t)oc * d.P >= APPROX_PAR_MIN)
        for (int o = 0; o < oc; o++)
            for (size_t i = 0; i < d.P; i++) y[(size_t)o * d.P + i] += bias[o];
    }
    return ENG_OK;
}

eng_status eng_conv2d_forward_codes(const eng_kernels *k, const eng_conv_shape *s, int oc,
                                    const eng_approx *q, const uint8_t *a_codes,
                                    const eng_qparams *aq, const uint8_t *w_codes,
                                    const eng_qparams *wq, const float *bias, int32_t *acc,
                                    float *y, void *ws)
{
    ENG_TRY(conv_check(s, oc, q, a_codes, w_codes, y, "conv2d forward (codes)"));
    if (!q || !aq || !wq || !acc)
        return eng_error(ENG_ERR_ARG, "conv2d forward (codes): NULL state, parameters or acc");
    conv_dims d = conv_dims_of(s);
    unsigned char *p = ws;
    approx_cols cols = approx_cols_matrix(a_codes);
    if (!d.pointwise) {
        uint8_t *c = approx_ws_take(&p, (size_t)d.K * d.P);
        ENG_TRY(k->im2col_u8(s, a_codes, (uint8_t)aq->zero_point, c));
        cols = approx_cols_matrix(c);
    }
    return approx_gemm_codes(k, &q->lut, q->cfg.mode == ENG_QUANT_ASYM, aq, wq, oc, d.K, d.P,
                             &cols, NULL, w_codes, bias, NULL, acc, y, p);
}

/* Exact float gradients: dw = dy cols^T, dcols = w^T dy, dx = col2im(dcols). */
static eng_status conv_backward_exact(const eng_kernels *k, const eng_conv_shape *s, int oc,
                                      const conv_dims *d, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, unsigned char *p)
{
    if (conv_direct(s)) {
        ENG_TRY(k->conv_same_f32_backward_weights(s, oc, x, dy, dw));
        if (dx) ENG_TRY(k->conv_same_f32_backward_data(s, oc, dy, w, dx));
        return ENG_OK;
    }
    const float *cols = x;
    float *buf = d->pointwise ? NULL : approx_ws_take(&p, sizeof(float) * d->K * d->P);
    if (!d->pointwise) {
        ENG_TRY(k->im2col_f32(s, x, 0.0f, buf));
        cols = buf;
    }
    ENG_TRY(k->sgemm(false, true, oc, d->K, (int)d->P, 1.0f, dy, (int)d->P, cols, (int)d->P,
                     0.0f, dw, d->K));
    if (!dx) return ENG_OK;
    float *dcols = d->pointwise ? dx : buf;
    ENG_TRY(k->sgemm(true, false, d->K, (int)d->P, oc, 1.0f, w, d->K, dy, (int)d->P, 0.0f,
                     dcols, (int)d->P));
    if (!d->pointwise) ENG_TRY(k->col2im_f32(s, dcols, dx));
    return ENG_OK;
}

eng_status eng_conv2d_backward(const eng_kernels *k, const eng_conv_shape *s, int oc,
                               const float *x, const float *w, eng_approx *q, const float *dy,
                               float *dx, float *dw, float *db, void *ws)
{
    ENG_TRY(conv_check(s, oc, q, x, w, dy, "conv2d backward"));
    ENG_TRY(approx_check_backward(q, dw, "conv2d backward"));
    conv_dims d = conv_dims_of(s);
    unsigned char *p = ws;
    if (db) approx_bias_backward(oc, d.P, dy, db);
    if (!q)
        return conv_backward_exact(k, s, oc, &d, x, w, dy, dx, dw, p);
    float *dcols;
    if (q->cfg.table_gradient) {
        approx_cols cols;
        ENG_TRY(conv_codes(k, s, &d, q, x, false, &p, NULL, &cols));
        uint8_t *wcodes = approx_ws_take(&p, (size_t)oc * d.K);
        dcols = d.pointwise ? dx : approx_ws_take(&p, sizeof(float) * d.K * d.P);
        approx_weight_prepare(q, w, (size_t)d.K);
        ENG_TRY(approx_weight_quantize(k, q, w, (size_t)d.K, wcodes, NULL));
        approx_table_gemm_backward(q, oc, d.K, d.P, wcodes, cols.codes, dy, dx ? dcols : NULL,
                                   dw);
        approx_weight_mask(q, w, (size_t)d.K, dw);
    } else if (conv_direct(s)) {
        /* STE on the same-padding kernels: dw = dy * fq(x) masked, dx = conv^T(dy, fq(w)) */
        float *xq = approx_ws_take(&p, sizeof(float) * d.X);
        approx_fake_quantize_par(&q->act, x, d.X, xq);
        approx_weight_prepare(q, w, (size_t)d.K);
        ENG_TRY(k->conv_same_f32_backward_weights(s, oc, xq, dy, dw));
        approx_weight_mask(q, w, (size_t)d.K, dw);
        if (!dx) return ENG_OK;
        float *wq = approx_ws_take(&p, sizeof(float) * oc * d.K);
        approx_weight_fake(q, w, (size_t)d.K, wq);
        ENG_TRY(k->conv_same_f32_backward_data(s, oc, dy, wq, dx));
        approx_fake_quantize_backward_par(&q->act, x, dx, d.X, dx);
        return ENG_OK;
    } else {
        float *cols = approx_ws_take(&p, sizeof(float) * d.K * d.P);
        if (d.pointwise) {
            approx_fake_quantize_par(&q->act, x, d.X, cols);
        } else {
            float *xq = approx_ws_take(&p, sizeof(float) * d.X);
            approx_fake_quantize_par(&q->act, x, d.X, xq);
            ENG_TRY(k->im2col_f32(s, xq, 0.0f, cols));      /* padding 0 = fq(0) */
        }
        dcols = d.pointwise ? dx : cols;
        ENG_TRY(approx_gemm_backward_ste(k, q, oc, d.K, d.P, cols, w, dy, dx ? dcols : NULL, dw,
                                         p));
    }
    if (!dx) return ENG_OK;
    if (!d.pointwise) ENG_TRY(k->col2im_f32(s, dcols, dx));
    approx_fake_quantize_backward_par(&q->act, x, dx, d.X, dx);
    return ENG_OK;
}
