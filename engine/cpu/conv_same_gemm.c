/*
 * conv_same_gemm.c - the 3x3 / 5x5 stride-1 same-padding float convolutions of the AVX2 set
 * (eng_kernels.conv_same_f32_*) through im2col + the shared float GEMM, with the column
 * buffer in the calling thread's scratch memory (eng_cpu_workspace) instead of the caller's
 * workspace. Without memory the references run.
 */
#include "cpu_kernels.h"

/* The column buffer [c*k*k][n*h*w] of shape s, or NULL. */
static float *gemm_columns(const eng_conv_shape *s)
{
    return eng_cpu_workspace(sizeof(float) * (size_t)s->c * s->kh * s->kw * s->n * s->h * s->w);
}

eng_status eng_cpu_conv_same_gemm_forward(const eng_conv_shape *s, int oc, const float *x,
                                          const float *w, const float *bias, float *y)
{
    float *cols = gemm_columns(s);
    if (cols == NULL)
        return eng_kernels_ref()->conv_same_f32_forward(s, oc, x, w, bias, y);
    const int K = s->c * s->kh * s->kw, P = s->n * s->h * s->w;
    ENG_TRY(eng_cpu_im2col_f32(s, x, 0.0f, cols));
    ENG_TRY(eng_cpu_sgemm(false, false, oc, P, K, 1.0f, w, K, cols, P, 0.0f, y, P));
    if (bias == NULL)
        return ENG_OK;
    const int threads = eng_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int o = 0; o < oc; o++)
        for (int p = 0; p < P; p++)
            y[(size_t)o * P + p] += bias[o];
    return ENG_OK;
}

eng_status eng_cpu_conv_same_gemm_backward_data(const eng_conv_shape *s, int oc, const float *dy,
                                                const float *w, float *dx)
{
    float *cols = gemm_columns(s);
    if (cols == NULL)
        return eng_kernels_ref()->conv_same_f32_backward_data(s, oc, dy, w, dx);
    const int K = s->c * s->kh * s->kw, P = s->n * s->h * s->w;
    ENG_TRY(eng_cpu_sgemm(true, false, K, P, oc, 1.0f, w, K, dy, P, 0.0f, cols, P));
    return eng_cpu_col2im_f32(s, cols, dx);
}

eng_status eng_cpu_conv_same_gemm_backward_weights(const eng_conv_shape *s, int oc, const float *x,
                                                   const float *dy, float *dw)
{
    float *cols = gemm_columns(s);
    if (cols == NULL)
        return eng_kernels_ref()->conv_same_f32_backward_weights(s, oc, x, dy, dw);
    const int K = s->c * s->kh * s->kw, P = s->n * s->h * s->w;
    ENG_TRY(eng_cpu_im2col_f32(s, x, 0.0f, cols));
    return eng_cpu_sgemm(false, true, oc, K, P, 1.0f, dy, P, cols, P, 0.0f, dw, K);
}
