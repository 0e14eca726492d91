/*
 * net_ops.h - the device operations a network needs beyond the kernel table of eng_cuda.h:
 * the layers that do not multiply, float convolutions (cuDNN or im2col + cuBLAS), the loss,
 * the SGD update and the pieces of the quantized layers. Private to the engine: the network's
 * device dispatcher (engine/net_device.c) is its only user. A C header, implemented in
 * engine/cuda/net_*.cu; builds without CUDA answer cuda_net_ops_get from engine/cuda_none.c.
 *
 * Every pointer argument is device memory unless it says "host". The operations are queued
 * on the context's stream (eng_cuda.h, execution model) and return ENG_OK once queued, or the
 * launch error. Each computes what the CPU function named in its comment computes, on the
 * same layouts (CNHW); reductions run in another order, so float sums agree to rounding, and
 * everything else (element-wise operations, maxima, copies, integer sums) is bit-identical.
 * Reductions have a fixed order for a given shape: the results do not change from run to run.
 */
#ifndef ENG_CUDA_NET_OPS_H
#define ENG_CUDA_NET_OPS_H

#include "eng_kernels.h"
#include "eng_layers.h"
#include "eng_ops.h"
#include "eng_quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cuda_net_ops {
    /* true when the float convolutions use cuDNN (else im2col + cuBLAS) */
    bool cudnn;

    /* ---- element-wise (eng_layers.h) ---- */
    eng_status (*relu_forward)(size_t count, const float *x, float *y);
    eng_status (*relu_backward)(size_t count, const float *y, const float *dy, float *dx);
    eng_status (*relu6_forward)(size_t count, const float *x, float *y);
    eng_status (*relu6_backward)(size_t count, const float *x, const float *dy, float *dx);
    eng_status (*hardswish_forward)(size_t count, const float *x, float *y);
    eng_status (*hardswish_backward)(size_t count, const float *x, const float *dy, float *dx);
    /* y[i] = a[i] + b[i]; y may be a or b */
    eng_status (*add)(size_t count, const float *a, const float *b, float *y);

    /* ---- batch norm over c channels of m values (eng_batchnorm_*) ---- */
    /* Workspace bytes of batchnorm_forward_train and batchnorm_backward (8-byte aligned ws). */
    size_t (*batchnorm_workspace)(int c, size_t m);
    eng_status (*batchnorm_forward_train)(int c, size_t m, const float *x, const float *gamma,
                                          const float *beta, float eps, float momentum,
                                          float *running_mean, float *running_var, float *y,
                                          float *save_mean, float *save_invstd, void *ws);
    eng_status (*batchnorm_forward_eval)(int c, size_t m, const float *x, const float *gamma,
                                         const float *beta, const float *running_mean,
                                         const float *running_var, float eps, float *y);
    eng_status (*batchnorm_backward)(int c, size_t m, const float *x, const float *gamma,
                                     const float *save_mean, const float *save_invstd,
                                     const float *dy, float *dx, float *dgamma, float *dbeta,
                                     void *ws);

    /* ---- pooling (s: host) ---- */
    eng_status (*maxpool_forward)(const eng_pool_shape *s, const float *x, float *y);
    eng_status (*maxpool_backward)(const eng_pool_shape *s, const float *x, const float *dy,
                                   float *dx);
    eng_status (*avgpool_forward)(const eng_pool_shape *s, bool count_include_pad,
                                  const float *x, float *y);
    eng_status (*avgpool_backward)(const eng_pool_shape *s, bool count_include_pad,
                                   const float *dy, float *dx);
    eng_status (*global_avgpool_forward)(size_t planes, size_t hw, const float *x, float *y);
    eng_status (*global_avgpool_backward)(size_t planes, size_t hw, const float *dy,
                                          float *dx);

    /* ---- layout ---- */
    eng_status (*flatten_forward)(int c, int n, int h, int w, const float *x, float *y);
    eng_status (*flatten_backward)(int c, int n, int h, int w, const float *dy, float *dx);

    /* ---- loss (eng_softmax_xent) ---- */
    /* result[0] = sum over the n images of their loss, result[1] = images whose first maximal
     * logit is their label; dlogits (NULL = skip) as the CPU's. labels < classes. */
    eng_status (*softmax_xent)(int classes, int n, const float *logits, const uint8_t *labels,
                               double *result, float *dlogits);

    /* ---- float layers that multiply ---- */
    /* Workspace bytes of conv2d_forward / conv2d_backward for this shape. */
    size_t (*conv2d_workspace)(const eng_conv_shape *s, int oc);
    /* y[oc][n][oh][ow] = conv(x, w) (+ bias when not NULL); s: host */
    eng_status (*conv2d_forward)(const eng_conv_shape *s, int oc, const float *x,
                                 const float *w, const float *bias, float *y, void *ws);
    /* dx (NULL = skip), dw, db (NULL = skip), all overwritten */
    eng_status (*conv2d_backward)(const eng_conv_shape *s, int oc, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *db, void *ws);
    eng_status (*depthwise_forward)(const eng_conv_shape *s, const float *x, const float *w,
                                    const float *bias, float *y);
    eng_status (*depthwise_backward)(const eng_conv_shape *s, const float *x, const float *w,
                                     const float *dy, float *dx, float *dw, float *db);
    /* y[o][p] += bias[o] over `channels` rows of `positions` values */
    eng_status (*bias_add)(int channels, size_t positions, const float *bias, float *y);
    /* db[o] = sum over p of dy[o][p] */
    eng_status (*bias_backward)(int channels, size_t positions, const float *dy, float *db);

    /* ---- SGD (eng_sgd_step): g' = g + wd*w; v = mu*v + g'; w -= lr*(nesterov ? g'+mu*v : v) */
    eng_status (*sgd_update)(size_t count, float lr, float momentum, float weight_decay,
                             bool nesterov, float *w, float *v, const float *g);

    /* ---- quantized layers ---- */
    /* lohi[2r], lohi[2r+1] = min, max of row r of x[rows][count] (NaN ignored; an all-NaN
     * row gives 0, 0), as eng_quant_minmax of each row. */
    eng_status (*minmax_rows)(const float *x, int rows, size_t count, float *lohi);
    /* Row r of x[rows][count] quantized with p[r] (p: device array of rows entries): codes,
     * or fake-quantized values fq (either may be NULL), as eng_quantize / eng_fake_quantize. */
    eng_status (*quantize_rows)(const float *x, int rows, size_t count, const eng_qparams *p,
                                uint8_t *codes, float *fq);
    /* dx = dy where x is not clipped by p[r] (row r), else 0; dx may be dy
     * (eng_fake_quantize_backward). */
    eng_status (*fake_quantize_backward_rows)(const float *x, const float *dy, int rows,
                                              size_t count, const eng_qparams *p, float *dx);
    /* sums[r] = sum of row r of codes[rows][count] as unsigned integers */
    eng_status (*code_row_sums)(const uint8_t *codes, int rows, size_t count, int32_t *sums);
    /* approx_dequantize's type and result (eng_dequantize_fn, eng_ops.h), the one
     * dequantization of the device: act host, wq, wsum, asum, bias device memory; ep must be
     * NULL (no epilogue on the device: ENG_ERR_UNSUPPORTED). */
    eng_dequantize_fn *dequantize;
} cuda_net_ops;

/* The operations, creating the context on device 0 if none exists (as eng_cuda_kernels_get).
 * ENG_ERR_UNSUPPORTED without CUDA or a device; on error *out is unchanged. */
eng_status cuda_net_ops_get(const cuda_net_ops **out);

#ifdef __cplusplus
}
#endif

#endif /* ENG_CUDA_NET_OPS_H */
