/*
 * eng_layers.h - forward and backward of the layers that do not multiply, on raw CNHW arrays.
 *
 * The network runtime (eng_net.h) calls these for batch norm, ReLU/ReLU6, pooling, global
 * average pooling, flattening, channel padding and the softmax cross-entropy loss; the layers
 * that multiply (conv2d, depthwise, dense) live in eng_ops.h. Everything here is exact float,
 * deterministic (fixed reduction order, independent of the thread count) and threaded with
 * OpenMP over channels or planes. Arrays are CNHW (x[c][n][h][w]); a "plane" is one (c, n)
 * image of h x w. Outputs are overwritten, never accumulated. None of these can fail: shapes
 * are the caller's contract.
 *
 * Example (batch norm training step on a [c][n][h][w] activation):
 *
 *     eng_batchnorm_forward_train(c, n * h * w, x, gamma, beta, 1e-5f, 0.1f,
 *                                 run_mean, run_var, y, save_mean, save_invstd);
 *     ...
 *     eng_batchnorm_backward(c, n * h * w, x, gamma, save_mean, save_invstd, dy,
 *                            dx, dgamma, dbeta);
 */
#ifndef ENG_LAYERS_H
#define ENG_LAYERS_H

#include "eng_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Batch normalization (per channel over m = n*h*w values)
 * ---------------------------------------------------------------------------------------- */

/* Training mode: y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch mean and
 * biased variance; saves mean and 1/sqrt(var + eps) for the backward pass and updates the
 * running statistics with momentum (the variance with the unbiased estimate, m / (m - 1)). */
void eng_batchnorm_forward_train(int c,                  // channels
                                 size_t m,               // values per channel (n*h*w)
                                 const float *x,         // [c][m]
                                 const float *gamma,     // [c]
                                 const float *beta,      // [c]
                                 float eps,              // variance offset
                                 float momentum,         // running-statistics momentum
                                 float *running_mean,    // [c], updated
                                 float *running_var,     // [c], updated
                                 float *y,               // [c][m], out
                                 float *save_mean,       // [c], out
                                 float *save_invstd);    // [c], out

/* The affine map of evaluation mode per channel: scale = gamma / sqrt(var + eps), shift =
 * beta - mean * scale (float, as eng_batchnorm_*_forward_eval compute them), for an
 * eng_epilogue. */
void eng_batchnorm_eval_affine(int c, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float eps,
                               float *scale, float *shift);

/* Evaluation mode: normalizes with the running statistics. */
void eng_batchnorm_forward_eval(int c, size_t m,
                                const float *x,          // [c][m]
                                const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var,
                                float eps,
                                float *y);               // [c][m], out

/* Gradients of the training-mode forward pass (dx may alias dy). */
void eng_batchnorm_backward(int c, size_t m,
                            const float *x,              // [c][m], the forward input
                            const float *gamma,          // [c]
                            const float *save_mean,      // [c], from the forward pass
                            const float *save_invstd,    // [c], from the forward pass
                            const float *dy,             // [c][m]
                            float *dx,                   // [c][m], out
                            float *dgamma,               // [c], out
                            float *dbeta);               // [c], out

/* Batch norm followed by a ReLU, in fewer passes over memory: the same values as
 * eng_batchnorm_forward_* then eng_relu_forward (y is the ReLU's output). */
void eng_batchnorm_relu_forward_train(int c, size_t m, const float *x, const float *gamma,
                                      const float *beta, float eps, float momentum,
                                      float *running_mean, float *running_var, float *y,
                                      float *save_mean, float *save_invstd);
void eng_batchnorm_relu_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                     const float *beta, const float *running_mean,
                                     const float *running_var, float eps, float *y);

/* Gradients of eng_batchnorm_relu_forward_train: dy is the gradient of the ReLU's output; the
 * ReLU mask is recomputed from x, gamma, beta and the saved statistics (dx may alias dy). */
void eng_batchnorm_relu_backward(int c, size_t m,
                                 const float *x,         // [c][m], the forward input
                                 const float *gamma,     // [c]
                                 const float *beta,      // [c]
                                 const float *save_mean, const float *save_invstd,
                                 const float *dy,        // [c][m], d(loss)/d(ReLU output)
                                 float *dx,              // [c][m], out
                                 float *dgamma, float *dbeta);

/* The same three fused with a ReLU6 (y = min(max(z, 0), 6); the backward passes dy where
 * 0 < z < 6, as eng_relu6_backward does on the batch norm's output z). */
void eng_batchnorm_relu6_forward_train(int c, size_t m, const float *x, const float *gamma,
                                       const float *beta, float eps, float momentum,
                                       float *running_mean, float *running_var, float *y,
                                       float *save_mean, float *save_invstd);
void eng_batchnorm_relu6_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                      const float *beta, const float *running_mean,
                                      const float *running_var, float eps, float *y);
void eng_batchnorm_relu6_backward(int c, size_t m, const float *x, const float *gamma,
                                  const float *beta, const float *save_mean,
                                  const float *save_invstd, const float *dy, float *dx,
                                  float *dgamma, float *dbeta);

/* ------------------------------------------------------------------------------------------
 * Activations (elementwise over count values)
 * ---------------------------------------------------------------------------------------- */

void eng_relu_forward(size_t count, const float *x, float *y);
/* dx = dy where y > 0, else 0 (y: the forward output). */
void eng_relu_backward(size_t count, const float *y, const float *dy, float *dx);
void eng_relu6_forward(size_t count, const float *x, float *y);
/* dx = dy where 0 < x < 6, else 0 (x: the forward input). */
void eng_relu6_backward(size_t count, const float *x, const float *dy, float *dx);
/* Hard swish: y = x * min(max(x + 3, 0), 6) / 6, computed as (x * r) / 6 with r the clamp. */
void eng_hardswish_forward(size_t count, const float *x, float *y);
/* dx = dy * (x < -3 ? 0 : x > 3 ? 1 : (2x + 3) / 6) (x: the forward input; at the kinks -3 and
 * 3 the side toward the middle: 0 at -3 gives -1/2, at 3 gives 3/2). */
void eng_hardswish_backward(size_t count, const float *x, const float *dy, float *dx);

/* ------------------------------------------------------------------------------------------
 * Pooling over planes of h x w (output oh x ow = (h + 2*pad - kernel) / stride + 1)
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_pool_shape {
    int planes;              /* c * n */
    int h, w;                /* input plane size */
    int kernel, stride, pad; /* window geometry */
    int oh, ow;              /* output plane size */
} eng_pool_shape;

/* Fills s and computes oh/ow; ENG_ERR_SHAPE when the window does not fit, a parameter is not
 * positive or pad > kernel / 2. */
eng_status eng_pool_shape_init(eng_pool_shape *s, int planes, int h, int w,
                               int kernel, int stride, int pad);

/* Max over each window (padding excluded). */
void eng_maxpool_forward(const eng_pool_shape *s, const float *x, float *y);
/* dx: each output's gradient goes to the first maximal input of its window (row-major scan,
 * as PyTorch's CPU kernel); dx is overwritten. */
void eng_maxpool_backward(const eng_pool_shape *s, const float *x, const float *dy, float *dx);

/* Mean over each window; count_include_pad: divide by kernel^2, else by the pixels inside. */
void eng_avgpool_forward(const eng_pool_shape *s, bool count_include_pad,
                         const float *x, float *y);
void eng_avgpool_backward(const eng_pool_shape *s, bool count_include_pad,
                          const float *dy, float *dx);

/* Mean of each plane of hw values: y[p] = mean(x[p][0..hw-1]). */
void eng_global_avgpool_forward(size_t planes, size_t hw, const float *x, float *y);
void eng_global_avgpool_backward(size_t planes, size_t hw, const float *dy, float *dx);

/* ------------------------------------------------------------------------------------------
 * Layout changes
 * ---------------------------------------------------------------------------------------- */

/* x[c][n][h][w] -> y[(ci*h + i)*w + j][n]; backward is the inverse permutation. */
void eng_flatten_forward(int c, int n, int h, int w, const float *x, float *y);
void eng_flatten_backward(int c, int n, int h, int w, const float *dy, float *dx);

/* y = [before zero channels | x | after zero channels], each channel `plane` = n*h*w values;
 * backward drops the padded channels' gradients. */
void eng_channel_pad_forward(int c, size_t plane, int before, int after,
                             const float *x, float *y);
void eng_channel_pad_backward(int c, size_t plane, int before,
                              const float *dy, float *dx);

/* ------------------------------------------------------------------------------------------
 * Loss
 * ---------------------------------------------------------------------------------------- */

/* Softmax cross-entropy with mean reduction over n images; logits are [classes][n] (CNHW of a
 * 1x1 map). Returns the mean loss; *correct (may be NULL) counts images whose first maximal
 * logit is their label; dlogits (may be NULL) receives d(mean loss)/d(logits), [classes][n].
 * Labels >= classes are the caller's contract (asserted). */
float eng_softmax_xent(int classes, int n,
                       const float *logits,      // [classes][n]
                       const uint8_t *labels,    // [n]
                       int *correct,             // out, or NULL
                       float *dlogits);          // [classes][n], out, or NULL

#ifdef __cplusplus
}
#endif

#endif /* ENG_LAYERS_H */
