/*
 * ops_dense.c - dense (fully connected) forward and backward, exact float or
 * quantized-approximate (eng_ops.h): the GEMM layer with x[in][n] as its columns.
 */
#include "approx_internal.h"

static eng_status dense_check(int in, int out, int n, const eng_approx *q, const void *x,
                              const void *w, const void *y, const char *op)
{
    if (!x || !w || !y)
        return eng_error(ENG_ERR_ARG, "%s: NULL tensor", op);
    if (in <= 0 || out <= 0 || n <= 0)
        return eng_error(ENG_ERR_SHAPE, "%s: bad geometry (in %d, out %d, n %d)", op, in, out, n);
    return approx_check_state(q, out, op);
}

size_t eng_dense_workspace_size(int in, int out, int n, const eng_approx *q)
{
    if (!q) return 0;
    size_t xn = (size_t)in * n;
    size_t fwd = approx_ws_size(xn) + approx_gemm_forward_ws(out, in, (size_t)n);
    size_t ste = approx_ws_size(sizeof(float) * xn) + approx_ws_size(sizeof(float) * out * in);
    size_t tg = approx_ws_size(xn) + approx_ws_size((size_t)out * in);
    size_t bwd = q->cfg.table_gradient ? tg : ste;
    return fwd > bwd ? fwd : bwd;
}

eng_status eng_dense_forward(const eng_kernels *k, int in, int out, int n, const float *x,
                             const float *w, const float *bias, eng_approx *q, bool training,
                             float *y, void *ws)
{
    ENG_TRY(dense_check(in, out, n, q, x, w, y, "dense forward"));
    const size_t xn = (size_t)in * n;
    if (q) {
        unsigned char *p = ws;
        approx_act_prepare(q, x, xn, training);
        uint8_t *codes = approx_ws_take(&p, xn);
        ENG_TRY(k->quantize(x, xn, q->act.scale, q->act.zero_point, q->act.qmin, q->act.qmax,
                            codes));
        const approx_cols cols = approx_cols_matrix(codes);
        return approx_gemm_forward(k, q, out, in, (size_t)n, &cols, NULL, w, bias, NULL, y, p);
    }
    ENG_TRY(k->sgemm(false, false, out, n, in, 1.0f, w, in, x, n, 0.0f, y, n));
    if (bias) {
#pragma omp parallel for schedule(static) if ((size_t)out * n >= APPROX_PAR_MIN)
        for (int o = 0; o < out; o++)
            for (int j = 0; j < n; j++) y[(size_t)o * n + j] += bias[o];
    }
    return ENG_OK;
}

eng_status eng_dense_backward(const eng_kernels *k, int in, int out, int n, const float *x,
                              const float *w, eng_approx *q, const float *dy, float *dx,
                              float *dw, float *db, void *ws)
{
    ENG_TRY(dense_check(in, out, n, q, x, w, dy, "dense backward"));
    ENG_TRY(approx_check_backward(q, dw, "dense backward"));
    const size_t xn = (size_t)in * n;
    unsigned char *p = ws;
    if (db) approx_bias_backward(out, (size_t)n, dy, db);
    if (!q) {
        ENG_TRY(k->sgemm(false, true, out, in, n, 1.0f, dy, n, x, n, 0.0f, dw, in));
        if (dx) ENG_TRY(k->sgemm(true, false, in, n, out, 1.0f, w, in, dy, n, 0.0f, dx, n));
        return ENG_OK;
    }
    if (q->cfg.table_gradient) {
        uint8_t *codes = approx_ws_take(&p, xn);
        uint8_t *wcodes = approx_ws_take(&p, (size_t)out * in);
        ENG_TRY(k->quantize(x, xn, q->act.scale, q->act.zero_point, q->act.qmin, q->act.qmax,
                            codes));
        approx_weight_prepare(q, w, (size_t)in);
        ENG_TRY(approx_weight_quantize(k, q, w, (size_t)in, wcodes, NULL));
        approx_table_gemm_backward(q, out, in, (size_t)n, wcodes, codes, dy, dx, dw);
        approx_weight_mask(q, w, (size_t)in, dw);
    } else {
        float *xq = approx_ws_take(&p, sizeof(float) * xn);
        approx_fake_quantize_par(&q->act, x, xn, xq);
        ENG_TRY(approx_gemm_backward_ste(k, q, out, in, (size_t)n, xq, w, dy, dx, dw, p));
    }
    if (dx) approx_fake_quantize_backward_par(&q->act, x, dx, xn, dx);
    return ENG_OK;
}
