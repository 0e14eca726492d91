/*
 * ops_depthwise.c - depthwise conv2d (channel multiplier 1) forward and backward, exact float
 * or quantized-approximate (eng_ops.h).
 *
 * A depthwise convolution has too few products per output for a GEMM: the float paths (exact,
 * and the STE backward of approximate layers) use the set's depthwise_f32_* kernels, the
 * approximate forward its lut_depthwise_fused (float input to float output in one pass) where
 * the set has one and it takes the shape, else quantize + lut_depthwise + the dequantization
 * in groups of channels; the table-gradient backward is a direct loop here.
 */
#include "approx_internal.h"

#include <string.h>

/* Visits the kernel taps of output (oy, ox): input row iy, column ix, tap index t = i*kw + j;
 * `inside` tells whether (iy, ix) is in the image (else it is padding). */
#define DW_FOR_TAPS(s, oy, ox, ...)                                                    \
    for (int i_ = 0; i_ < (s)->kh; i_++) {                                              \
        const int iy = (oy) * (s)->stride + i_ * (s)->dilation - (s)->pad;              \
        for (int j_ = 0; j_ < (s)->kw; j_++) {                                          \
            const int ix = (ox) * (s)->stride + j_ * (s)->dilation - (s)->pad;          \
            const int t = i_ * (s)->kw + j_;                                            \
            const bool inside = iy >= 0 && iy < (s)->h && ix >= 0 && ix < (s)->w;       \
            __VA_ARGS__                                                                 \
        }                                                                               \
    }

/* Whether the products of one call are enough work for a parallel region. */
static bool dw_parallel(const eng_conv_shape *s)
{
    return (size_t)s->c * s->n * s->oh * s->ow * s->kh * s->kw >= APPROX_PAR_MIN;
}

static eng_status dw_check(const eng_conv_shape *s, const eng_approx *q, const void *x,
                           const void *w, const void *out, const char *op)
{
    if (!s || !x || !w || !out)
        return eng_error(ENG_ERR_ARG, "%s: NULL tensor", op);
    if (s->n <= 0 || s->c <= 0 || s->oh <= 0 || s->ow <= 0)
        return eng_error(ENG_ERR_SHAPE, "%s: bad geometry (n %d, c %d, output %dx%d)", op, s->n,
                         s->c, s->oh, s->ow);
    return approx_check_state(q, s->c, op);
}

size_t eng_depthwise_workspace_size(const eng_conv_shape *s, const eng_approx *q)
{
    if (!q) return 0;
    const size_t X = (size_t)s->c * s->n * s->h * s->w, P = (size_t)s->c * s->n * s->oh * s->ow;
    const size_t W = (size_t)s->c * s->kh * s->kw;
    size_t fwd = approx_ws_size(X) + approx_ws_size(W) + 2 * approx_ws_size(sizeof(int32_t) * P) +
                 approx_ws_size(sizeof(int32_t) * s->c);
    size_t ste = approx_ws_size(sizeof(float) * X) + approx_ws_size(sizeof(float) * W);
    size_t tg = approx_ws_size(X) + approx_ws_size(W);
    size_t bwd = q->cfg.table_gradient ? tg : ste;
    return fwd > bwd ? fwd : bwd;
}

/* dx (NULL = skip) and dw of y = depthwise(x, w) through the set's float kernels. */
static eng_status dw_backward_f32(const eng_kernels *k, const eng_conv_shape *s, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw)
{
    if (k->depthwise_f32_backward)
        return k->depthwise_f32_backward(s, x, dy, w, dx, dw);
    ENG_TRY(k->depthwise_f32_backward_weights(s, x, dy, dw));
    if (dx) ENG_TRY(k->depthwise_f32_backward_data(s, dy, w, dx));
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Quantized helpers
 * ---------------------------------------------------------------------------------------- */

/* Table-gradient backward (see eng_ops.h) on codes. */
static void dw_backward_table(const eng_conv_shape *s, const eng_approx *q, const uint8_t *codes,
                              const uint8_t *wcodes, const float *dy, float *dx, float *dw)
{
    const bool asym = q->cfg.mode == ENG_QUANT_ASYM;
    const int planes = s->c * s->n, kk = s->kh * s->kw;
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
    const int32_t pad = approx_code_value(q, (uint8_t)q->act.zero_point);
    const float za = asym ? (float)q->act.zero_point : 0.0f;
    if (dx) {
#pragma omp parallel for schedule(static) if (dw_parallel(s))
        for (int cb = 0; cb < planes; cb++) {
            const int c = cb / s->n;
            const float sw = q->wq[c].scale, zw = asym ? (float)q->wq[c].zero_point : 0.0f;
            const uint8_t *in = codes + (size_t)cb * plane, *wk = wcodes + (size_t)c * kk;
            const float *g = dy + (size_t)cb * oplane;
            float *d = dx + (size_t)cb * plane;
            memset(d, 0, sizeof(float) * plane);
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    const float gv = g[(size_t)oy * s->ow + ox];
                    DW_FOR_TAPS(s, oy, ox, if (inside) {
                        const size_t at = (size_t)iy * s->w + ix;
                        float da = q->grad_a[approx_grad_index(q, approx_code_value(q, in[at]),
                                                               approx_code_value(q, wk[t]))];
                        d[at] += gv * sw * (da - zw);
                    })
                }
        }
    }
#pragma omp parallel for schedule(static) if (dw_parallel(s))
    for (int c = 0; c < s->c; c++) {
        const uint8_t *wk = wcodes + (size_t)c * kk;
        double sum[kk];
        for (int t = 0; t < kk; t++) sum[t] = 0.0;
        for (int b = 0; b < s->n; b++) {
            const size_t cb = (size_t)c * s->n + b;
            const uint8_t *in = codes + cb * plane;
            const float *g = dy + cb * oplane;
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    const double gv = g[(size_t)oy * s->ow + ox];
                    DW_FOR_TAPS(s, oy, ox, {
                        int32_t a = inside ? approx_code_value(q, in[(size_t)iy * s->w + ix]) : pad;
                        float dwv = q->grad_w[approx_grad_index(q, a, approx_code_value(q, wk[t]))];
                        sum[t] += gv * (dwv - za);
                    })
                }
        }
        for (int t = 0; t < kk; t++) dw[(size_t)c * kk + t] = (float)(q->act.scale * sum[t]);
    }
}

/* ------------------------------------------------------------------------------------------
 * Public ops
 * ---------------------------------------------------------------------------------------- */

/* The float layer, then its epilogue in one pass over the outputs. */
static eng_status dw_float_fused(const eng_kernels *k, const eng_conv_shape *s, const float *x,
                                 const float *w, const float *bias, const eng_epilogue *ep,
                                 float *y)
{
    const size_t out = (size_t)s->n * s->oh * s->ow;
    ENG_TRY(k->depthwise_f32_forward(s, x, w, bias, y));
#pragma omp parallel for schedule(static) if ((size_t)s->c * out >= APPROX_PAR_MIN)
    for (int c = 0; c < s->c; c++)
        eng_epilogue_apply(ep, c, y + (size_t)c * out, out, y + (size_t)c * out);
    return ENG_OK;
}

eng_status eng_depthwise_forward(const eng_kernels *k, const eng_conv_shape *s, const float *x,
                                 const float *w, const float *bias, eng_approx *q, bool training,
                                 float *y, void *ws)
{
    return eng_depthwise_forward_fused(k, s, x, w, bias, q, training, NULL, y, ws);
}

eng_status eng_depthwise_forward_fused(const eng_kernels *k, const eng_conv_shape *s,
                                       const float *x, const float *w, const float *bias,
                                       eng_approx *q, bool training, const eng_epilogue *ep,
                                       float *y, void *ws)
{
    ENG_TRY(dw_check(s, q, x, w, y, "depthwise forward"));
    if (!q) {
        if (ep)
            return dw_float_fused(k, s, x, w, bias, ep, y);
        return k->depthwise_f32_forward(s, x, w, bias, y);
    }
    const bool asym = q->cfg.mode == ENG_QUANT_ASYM;
    const int kk = s->kh * s->kw;
    const size_t X = (size_t)s->c * s->n * s->h * s->w, P = (size_t)s->n * s->oh * s->ow;
    const size_t in = (size_t)s->n * s->h * s->w;
    /* channels are independent: a few at a time (about QUANT_BLOCK outputs), so that their
     * codes, products and window sums stay in cache from the quantization to the
     * dequantization; the integer results and so y do not depend on the grouping */
    const size_t per = (size_t)QUANT_BLOCK / P;
    const int group = per < 1 ? 1 : per > (size_t)s->c ? s->c : (int)per;
    unsigned char *p = ws;
    uint8_t *codes = approx_ws_take(&p, in * group);
    uint8_t *wcodes = approx_ws_take(&p, (size_t)s->c * kk);
    int32_t *acc = approx_ws_take(&p, sizeof(int32_t) * group * P);
    int32_t *asum = approx_ws_take(&p, sizeof(int32_t) * group * P);
    int32_t *wsum = approx_ws_take(&p, sizeof(int32_t) * s->c);
    approx_act_prepare(q, x, X, training);
    approx_weight_prepare(q, w, (size_t)kk);
    const eng_qparams *a = &q->act;
    ENG_TRY(approx_weight_quantize(k, q, w, (size_t)kk, wcodes, asym ? wsum : NULL));
    if (k->lut_depthwise_fused) {
        bool done;
        ENG_TRY(k->lut_depthwise_fused(&q->lut, s, x, a, wcodes, q->wq, asym ? wsum : NULL, asym,
                                       bias, ep, y, &done));
        if (done)
            return ENG_OK;
    }
    for (int c0 = 0; c0 < s->c; c0 += group) {
        eng_conv_shape sub = *s;
        sub.c = s->c - c0 < group ? s->c - c0 : group;
        ENG_TRY(k->quantize(x + (size_t)c0 * in, in * sub.c, a->scale, a->zero_point, a->qmin,
                            a->qmax, codes));
        ENG_TRY(k->lut_depthwise(&q->lut, &sub, codes, wcodes + (size_t)c0 * kk,
                                 (uint8_t)a->zero_point, acc, asym ? asum : NULL));
        eng_epilogue sub_ep;
        if (ep)
            sub_ep = (eng_epilogue){ep->scale + c0, ep->shift + c0, ep->act};
        ENG_TRY(approx_dequantize(asym, &q->act, q->wq + c0, sub.c, P, kk, acc, asum, P,
                                  wsum + c0, bias ? bias + c0 : NULL, ep ? &sub_ep : NULL,
                                  y + (size_t)c0 * P));
    }
    return ENG_OK;
}

eng_status eng_depthwise_backward(const eng_kernels *k, const eng_conv_shape *s, const float *x,
                                  const float *w, eng_approx *q, const float *dy, float *dx,
                                  float *dw, float *db, void *ws)
{
    ENG_TRY(dw_check(s, q, x, w, dy, "depthwise backward"));
    ENG_TRY(approx_check_backward(q, dw, "depthwise backward"));
    const int kk = s->kh * s->kw;
    const size_t X = (size_t)s->c * s->n * s->h * s->w, P = (size_t)s->n * s->oh * s->ow;
    if (db) approx_bias_backward(s->c, P, dy, db);
    if (!q)
        return dw_backward_f32(k, s, x, w, dy, dx, dw);
    unsigned char *p = ws;
    approx_weight_prepare(q, w, (size_t)kk);
    if (q->cfg.table_gradient) {
        uint8_t *codes = approx_ws_take(&p, X);
        uint8_t *wcodes = approx_ws_take(&p, (size_t)s->c * kk);
        const eng_qparams *a = &q->act;
        ENG_TRY(k->quantize(x, X, a->scale, a->zero_point, a->qmin, a->qmax, codes));
        ENG_TRY(approx_weight_quantize(k, q, w, (size_t)kk, wcodes, NULL));
        dw_backward_table(s, q, codes, wcodes, dy, dx, dw);
    } else {
        float *xq = approx_ws_take(&p, sizeof(float) * X);
        float *wq = approx_ws_take(&p, sizeof(float) * s->c * kk);
        approx_fake_quantize_par(&q->act, x, X, xq);
        approx_weight_fake(q, w, (size_t)kk, wq);
        ENG_TRY(dw_backward_f32(k, s, xq, wq, dy, dx, dw));
    }
    approx_weight_mask(q, w, (size_t)kk, dw);
    if (dx) approx_fake_quantize_backward_par(&q->act, x, dx, X, dx);
    return ENG_OK;
}
