/*
 * eng_ops.h - the arithmetic of the layers that multiply (conv2d, depthwise conv2d, dense),
 * exact float or quantized through an approximate multiplier, forward and backward.
 *
 * These functions work on raw channel-major arrays and know nothing of networks: the layer
 * code owns the tensors, one eng_approx state per approximate layer and one workspace buffer.
 * All hot loops go through an eng_kernels table (sgemm, im2col, col2im, lut_gemm,
 * lut_depthwise, quantize, conv_same_f32_*), so optimized kernels drop in without touching this
 * code. Float convolutions of 3x3 and 5x5 stride-1 same-padding shapes (exact, and the STE
 * backward of approximate layers) run on the conv_same_f32_* kernels instead of im2col + sgemm.
 *
 * Layouts (CNHW, see eng_kernels.h):
 *   conv2d     x[c][n][h][w]   w[oc][c][kh][kw]  bias[oc]  y[oc][n][oh][ow]
 *   depthwise  x[c][n][h][w]   w[c][kh][kw]      bias[c]   y[c][n][oh][ow]   (multiplier 1)
 *   dense      x[in][n]        w[out][in]        bias[out] y[out][n]
 *
 * Exact float (q == NULL): y = conv(x, w) + bias with zero padding, as PyTorch's conv2d.
 *
 * Quantized-approximate (q != NULL), per forward call:
 *  1. Activation range: training forwards fold the batch's min/max into an exponential moving
 *     average (momentum cfg.ema_momentum); in calibration mode every forward records the
 *     running min/max; afterwards the range is frozen. A forward without any range yet uses the
 *     batch's own min/max (without storing it). See eng_quant.h for ranges -> parameters.
 *  2. Codes: x -> 8-bit codes with (sa, za); w -> N-bit codes with (sw[o], zw[o]) from the
 *     current weights' min/max, per tensor or per output channel.
 *  3. Integer accumulation of table products (int32): acc[o][p] = sum_k T(a[k][p], w[o][k]).
 *     Padded activations take the code za (real 0).
 *  4. Dequantization, then bias in float:
 *       ASYM: y = sa*sw[o] * (acc - zw[o]*sum_k a - za*sum_k w[o] + K*za*zw[o]) + bias[o]
 *             (only raw code products go through the table; the zero-point terms are exact
 *             integers, TFApprox's decomposition; K = c*kh*kw, kh*kw or in).
 *       SYM:  y = sa*sw[o] * acc + bias[o].
 *     With the exact multiplier (mul == NULL, mul8u_1JFF, mul8s_1KV8 ...) acc equals the exact
 *     integer sum of products, so y is the float convolution of the fake-quantized operands up
 *     to float rounding.
 *
 * Code ranges (a = activation code, w = weight code, N = weight bits):
 *   ASYM, unsigned table (8xN):   a in [0, 255], w in [0, 2^N - 1], zero points inside.
 *   SYM,  signed table (8x8):     a in [-127, 127], w in [-(2^(N-1) - 1), 2^(N-1) - 1].
 *   SYM,  unsigned table (8xN):   sign-magnitude (ENG_LUT_SIGN_MAGNITUDE): a in [-127, 127],
 *                                 w in [-M, M] with M = min(2^N - 1, 127): the table multiplies
 *                                 magnitudes (N bits), the sign is applied outside.
 *   ASYM with a signed table is rejected (ENG_ERR_UNSUPPORTED).
 *
 * Backward (q != NULL) uses the activation parameters of the last forward and the weight
 * parameters recomputed from w (as that forward did), so call it with the same x and w:
 *  - STE (default): exact float gradients through fq(x) and fq(w), the fake-quantized operands,
 *    each masked to 0 where the operand was clipped (PyTorch's fake-quantize gradient).
 *  - Table gradient (cfg.table_gradient): the product a*w is replaced by the table T(a, w), whose
 *    partial derivatives are central differences of the table, dT/da(a, w) = (T(a+1, w) -
 *    T(a-1, w)) / 2 (one-sided at the ends of the code range), likewise dT/dw along the row.
 *    Then dL/dx = mask * sum dy * sw * (dT/da - zw), dL/dw = mask * sum dy * sa * (dT/dw - za)
 *    (ASYM; SYM drops the zero points). For the exact table this equals the STE exactly.
 *    The bias gradient is the plain sum of dy in both.
 *
 * Workspace: each call takes one caller buffer of at least *_workspace_size() bytes (aligned to
 * 64 bytes, e.g. from eng_alloc), the maximum over forward and backward for that shape and
 * state; nothing is allocated per call. Float sums reduce in a fixed order, so results do not
 * depend on the thread count.
 *
 * Errors: shape and argument errors return ENG_ERR_SHAPE / ENG_ERR_ARG with a message and change
 * nothing. Otherwise the functions cannot fail.
 *
 * Example (one approximate conv layer, training step):
 *
 *     eng_approx_cfg cfg;
 *     eng_approx_cfg_default(&cfg);                         // ASYM, 8-bit weights, STE
 *     eng_approx *q;
 *     ENG_TRY(eng_approx_create(&cfg, mul, oc, &q));        // mul from eng_mul_load()
 *     void *ws = eng_alloc(eng_conv2d_workspace_size(&s, oc, q));
 *     eng_conv2d_forward(k, &s, oc, x, w, b, q, true, y, ws);
 *     ...
 *     eng_conv2d_backward(k, &s, oc, x, w, q, dy, dx, dw, db, ws);
 */
#ifndef ENG_OPS_H
#define ENG_OPS_H

#include "eng_common.h"
#include "eng_kernels.h"
#include "eng_mul.h"
#include "eng_quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Quantization state of one approximate layer
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_quant_mode {
    ENG_QUANT_ASYM = 0,      /* uint8 codes + zero points; only code products via the table,
                                zero-point terms exact (TFApprox) */
    ENG_QUANT_SYM            /* signed codes via a signed table, or sign-magnitude via an
                                unsigned one; zero points 0 */
} eng_quant_mode;

typedef struct eng_approx_cfg {
    eng_quant_mode mode;
    int   weight_bits;       /* 2..8; 0 = the multiplier's weight width (8 when exact) */
    bool  per_channel;       /* per-output-channel weight parameters (else per tensor) */
    bool  table_gradient;    /* backward through table derivatives instead of the STE */
    float ema_momentum;      /* activation range EMA while training, in (0, 1] (e.g. 0.01) */
} eng_approx_cfg;

typedef struct eng_approx eng_approx;  /* opaque per-layer quantization state */

/* Defaults: ASYM, weight_bits 0, per tensor, STE, momentum 0.01. */
void eng_approx_cfg_default(eng_approx_cfg *cfg);

/* A state for a layer with out_channels output channels (conv: oc, depthwise: c, dense: out).
 * mul: the multiplier (NULL = exact integer products); it must outlive the state (the state
 * keeps a pointer to its table). Returns ENG_ERR_ARG for a bad cfg or a weight width the
 * multiplier cannot take, ENG_ERR_UNSUPPORTED for ASYM with a signed multiplier, ENG_ERR_NOMEM;
 * *out is set only on success. */
eng_status eng_approx_create(const eng_approx_cfg *cfg,
                             const eng_mul *mul,       // NULL = exact
                             int out_channels,
                             eng_approx **out);

/* Same with a bare table (user tables, tests); lut->mode is ignored (derived from the mode and
 * the table's signedness). The table must outlive the state. */
eng_status eng_approx_create_lut(const eng_approx_cfg *cfg,
                                 const eng_lut *lut,   // NULL = exact
                                 int out_channels,
                                 eng_approx **out);

/* Frees the state; NULL is allowed. */
void eng_approx_free(eng_approx *q);

/* Swaps the multiplier (NULL = exact), keeping the activation range. Errors as create; on
 * error the state is unchanged. */
eng_status eng_approx_set_mul(eng_approx *q, const eng_mul *mul);
eng_status eng_approx_set_lut(eng_approx *q, const eng_lut *lut);

/* The table as the kernels use it (mode set), and the code ranges in use. */
const eng_lut *eng_approx_lut(const eng_approx *q);
void eng_approx_code_ranges(const eng_approx *q,
                            int32_t *a_min, int32_t *a_max,   // activation codes
                            int32_t *w_min, int32_t *w_max);  // weight codes

/* Post-training calibration: _begin forgets the activation range; every following forward
 * (training or not) records the running min/max of its input; _end freezes that range, so no
 * forward changes it any more (training forwards included) until eng_approx_range_reset(). */
void eng_approx_calibrate_begin(eng_approx *q);
void eng_approx_calibrate_end(eng_approx *q);

/* Forgets the activation range and returns to EMA tracking (the state after create). */
void eng_approx_range_reset(eng_approx *q);

/* The activation range: false when none was observed or set. */
bool eng_approx_act_range(const eng_approx *q, float *lo, float *hi);

/* Sets the activation range (a saved model) and freezes it. ENG_ERR_ARG unless lo <= hi, both
 * finite; on error nothing changes. */
eng_status eng_approx_set_act_range(eng_approx *q, float lo, float hi);

/* Parameters used by the last forward: activation (per tensor) and weights (out_channels
 * entries; all equal when per tensor). Before any forward: scale 0. */
eng_qparams eng_approx_act_qparams(const eng_approx *q);
const eng_qparams *eng_approx_weight_qparams(const eng_approx *q);

/* ------------------------------------------------------------------------------------------
 * conv2d: y[oc][n][oh][ow] = conv(x[c][n][h][w], w[oc][c][kh][kw]) + bias[oc]
 * ---------------------------------------------------------------------------------------- */

/* Workspace bytes for forward and backward of this shape (q: the layer's state or NULL). 0 for
 * exact float (q == NULL) 1x1 stride-1 unpadded shapes and 3x3 pad-1 / 5x5 pad-2 stride-1
 * ones (the latter run on the kernel set's conv_same_f32_* kernels, eng_kernels.h). */
size_t eng_conv2d_workspace_size(const eng_conv_shape *s, int oc, const eng_approx *q);

/* q == NULL: exact float. q != NULL: quantized-approximate (see the overview); training
 * selects the EMA update of the activation range. bias may be NULL. */
eng_status eng_conv2d_forward(const eng_kernels *k,
                              const eng_conv_shape *s,  // input geometry and kernel
                              int oc,                   // output channels
                              const float *x,           // [c][n][h][w]
                              const float *w,           // [oc][c][kh][kw]
                              const float *bias,        // [oc] or NULL
                              eng_approx *q,            // NULL = exact float
                              bool training,
                              float *y,                 // [oc][n][oh][ow], overwritten
                              void *ws);                // workspace

/* Gradients for dy: dx (overwritten; NULL = skip), dw (overwritten), db (overwritten; NULL =
 * no bias). x, w, q as in the forward. With q, ENG_ERR_ARG when no forward ran since the
 * state was created or its multiplier set (the activation parameters are missing). */
eng_status eng_conv2d_backward(const eng_kernels *k,
                               const eng_conv_shape *s,
                               int oc,
                               const float *x,          // [c][n][h][w]
                               const float *w,          // [oc][c][kh][kw]
                               eng_approx *q,
                               const float *dy,         // [oc][n][oh][ow]
                               float *dx,               // [c][n][h][w] or NULL
                               float *dw,               // [oc][c][kh][kw]
                               float *db,               // [oc] or NULL
                               void *ws);

/* The integer core of the approximate forward on given codes and parameters (integer-only
 * inference of a converted model; tests against TFApprox vectors): a_codes[c][n][h][w] with
 * parameters aq (padding takes the code aq->zero_point), w_codes[oc][c][kh][kw] with wq[oc],
 * table and mode (ASYM/SYM) from q, whose own parameters and range are neither used nor changed.
 * acc receives the raw table sums, y the dequantized output plus bias. The workspace of
 * eng_conv2d_workspace_size(s, oc, q) suffices. */
eng_status eng_conv2d_forward_codes(const eng_kernels *k,
                                    const eng_conv_shape *s,
                                    int oc,
                                    const eng_approx *q,        // table and mode
                                    const uint8_t *a_codes,     // [c][n][h][w]
                                    const eng_qparams *aq,      // activation parameters
                                    const uint8_t *w_codes,     // [oc][c][kh][kw]
                                    const eng_qparams *wq,      // [oc] weight parameters
                                    const float *bias,          // [oc] or NULL
                                    int32_t *acc,               // [oc][n][oh][ow], overwritten
                                    float *y,                   // [oc][n][oh][ow], overwritten
                                    void *ws);

/* ------------------------------------------------------------------------------------------
 * Depthwise conv2d (channel multiplier 1): y[c][n][oh][ow], w[c][kh][kw]; a kernel of its own
 * (not a loop of one-channel convolutions). Same conventions as conv2d, oc = s->c.
 * ---------------------------------------------------------------------------------------- */

size_t eng_depthwise_workspace_size(const eng_conv_shape *s, const eng_approx *q);

eng_status eng_depthwise_forward(const eng_kernels *k,
                                 const eng_conv_shape *s,
                                 const float *x,        // [c][n][h][w]
                                 const float *w,        // [c][kh][kw]
                                 const float *bias,     // [c] or NULL
                                 eng_approx *q,
                                 bool training,
                                 float *y,              // [c][n][oh][ow]
                                 void *ws);

eng_status eng_depthwise_backward(const eng_kernels *k,
                                  const eng_conv_shape *s,
                                  const float *x,
                                  const float *w,
                                  eng_approx *q,
                                  const float *dy,      // [c][n][oh][ow]
                                  float *dx,            // [c][n][h][w] or NULL
                                  float *dw,            // [c][kh][kw]
                                  float *db,            // [c] or NULL
                                  void *ws);

/* ------------------------------------------------------------------------------------------
 * Epilogue: an evaluation batch norm and its activation fused into the layer before it
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_epilogue_act {
    ENG_EPILOGUE_NONE = 0,
    ENG_EPILOGUE_RELU,       /* max(z, 0) */
    ENG_EPILOGUE_RELU6,      /* min(max(z, 0), 6) */
} eng_epilogue_act;

/* Applied by the _fused forwards to every output as it is stored: the value v of output
 * channel o (its bias included) becomes act(v * scale[o] + shift[o]), with the operations of
 * eng_batchnorm_*_forward_eval (scale and shift from eng_batchnorm_eval_affine), so that the
 * result is that of the layer, then the batch norm (+ ReLU/ReLU6), run one after the other,
 * with one pass over memory fewer (none for quantized layers). */
typedef struct eng_epilogue {
    const float *scale;      /* [channels] */
    const float *shift;      /* [channels] */
    eng_epilogue_act act;
} eng_epilogue;

/* One output of an epilogue (the definition; every fused path computes exactly this). */
static inline float eng_epilogue_value(float v, float scale, float shift, eng_epilogue_act act)
{
    float z = v * scale + shift;
    if (act == ENG_EPILOGUE_NONE)
        return z;
    float r = z > 0.0f ? z : 0.0f;
    return act == ENG_EPILOGUE_RELU6 ? (r < 6.0f ? r : 6.0f) : r;
}

/* y[i] = eng_epilogue_value(v[i], ...) of channel `channel` for i < m (y == v allowed). */
void eng_epilogue_apply(const eng_epilogue *ep, int channel, const float *v, size_t m, float *y);

/* The dequantization of the quantized layers, one function type for both backends
 * (approx_dequantize on the CPU, cuda_net_ops.dequantize on the device; engine-internal):
 * y[o][p] = (float)(act->scale * wq[o].scale * v) + bias[o], then ep (NULL: none), with
 * v = acc[o][p] + (asym: K*za*zw[o] - za*wsum[o] - zw[o]*asum[o*asum_stride + p]), za, zw[o]
 * the zero points of act and wq[o]. asum (asum_stride 0: one row shared by all channels) and
 * wsum are used (and may be NULL) only for asym; bias may be NULL. acc, y: [channels]
 * [positions]. The CPU's returns ENG_OK; the device's fails as its kernels do (eng_cuda.h). */
typedef eng_status eng_dequantize_fn(bool asym, const eng_qparams *act, const eng_qparams *wq,
                                     int channels, size_t positions, int K,
                                     const int32_t *acc, const int32_t *asum,
                                     size_t asum_stride, const int32_t *wsum,
                                     const float *bias, const eng_epilogue *ep,
                                     float *y) ENG_KERNEL_STATUS;

/* eng_conv2d_forward followed by the epilogue ep (NULL: none, the same as eng_conv2d_forward):
 * y gets the epilogue's outputs, bit-identical to the layer, then the batch norm (+ ReLU/ReLU6)
 * run one after the other. Quantized layers apply it in their dequantization (their float
 * output is never stored), float ones in one pass over their output (with the bias). */
eng_status eng_conv2d_forward_fused(const eng_kernels *k, const eng_conv_shape *s, int oc,
                                    const float *x, const float *w, const float *bias,
                                    eng_approx *q, bool training, const eng_epilogue *ep,
                                    float *y, void *ws);

/* eng_depthwise_forward followed by the epilogue ep (NULL: none), as eng_conv2d_forward_fused
 * (quantized layers: in the dequantization of each channel group). */
eng_status eng_depthwise_forward_fused(const eng_kernels *k, const eng_conv_shape *s,
                                       const float *x, const float *w, const float *bias,
                                       eng_approx *q, bool training, const eng_epilogue *ep,
                                       float *y, void *ws);

/* ------------------------------------------------------------------------------------------
 * Dense: y[out][n] = w[out][in] * x[in][n] + bias[out]
 * ---------------------------------------------------------------------------------------- */

size_t eng_dense_workspace_size(int in, int out, int n, const eng_approx *q);

eng_status eng_dense_forward(const eng_kernels *k,
                             int in, int out, int n,   // features in, out; batch
                             const float *x,           // [in][n]
                             const float *w,           // [out][in]
                             const float *bias,        // [out] or NULL
                             eng_approx *q,
                             bool training,
                             float *y,                 // [out][n]
                             void *ws);

eng_status eng_dense_backward(const eng_kernels *k,
                              int in, int out, int n,
                              const float *x,
                              const float *w,
                              eng_approx *q,
                              const float *dy,         // [out][n]
                              float *dx,               // [in][n] or NULL
                              float *dw,               // [out][in]
                              float *db,               // [out] or NULL
                              void *ws);

#ifdef __cplusplus
}
#endif

#endif /* ENG_OPS_H */
