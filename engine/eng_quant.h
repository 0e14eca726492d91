/*
 * eng_quant.h - uniform quantization: parameters from ranges, range observers, fake-quantization.
 *
 * A real value x maps to an integer code q and back:
 *
 *     q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)
 *     fq(x) = (q - zero_point) * scale                     ("fake-quantized" x)
 *
 * exactly as PyTorch's fake_quantize_per_tensor_affine and the kernels' quantize (the division is
 * a float division, the rounding nearbyintf in the default rounding mode, i.e. half to even).
 * Codes are stored as bytes: unsigned codes as themselves, signed codes in two's complement
 * ((uint8_t)q), which is how the multiplier tables index them.
 *
 * Ranges always contain 0 (lo <= 0 <= hi is enforced by widening), so real 0 (zero padding,
 * ReLU zeros) is represented exactly by the code zero_point. A degenerate range (a constant-zero
 * tensor) gets the smallest scale FLT_EPSILON instead of 0, as PyTorch's observers do.
 *
 *  - Asymmetric (affine): scale = (hi - lo) / (qmax - qmin),
 *                         zero_point = clamp(qmin - round_half_even(lo / scale), qmin, qmax).
 *  - Symmetric:           scale = max(-lo, hi) / ((qmax - qmin) / 2), zero_point = 0
 *                         (for [-127, 127]: max|x| / 127, the fakequant_sym_i8 reference).
 *
 * Gradients follow the straight-through estimator of PyTorch's fake-quantize: d fq(x) / dx = 1
 * where qmin <= round(x / scale) + zero_point <= qmax, 0 where the value was clipped.
 *
 * Example (per-channel symmetric 8-bit weights):
 *
 *     eng_qparams p[OC];
 *     eng_qparams_per_channel(w, OC, K, -127, 127, true, p);
 *     for (int o = 0; o < OC; o++)
 *         eng_fake_quantize(&p[o], w + o * K, K, wq + o * K);
 */
#ifndef ENG_QUANT_H
#define ENG_QUANT_H

#include <math.h>

#include "eng_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Quantization parameters
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_qparams {
    float   scale;          /* real value of one code step, > 0 */
    int32_t zero_point;     /* code of real 0, in [qmin, qmax] */
    int32_t qmin, qmax;     /* code range, e.g. [0, 255] or [-127, 127] */
} eng_qparams;

/* Parameters for values in [lo, hi] (widened to contain 0; NaN and infinite bounds count as 0).
 * symmetric: zero_point 0 and scale from max(-lo, hi). Requires qmin < qmax, and for symmetric
 * qmin < 0 < qmax. Cannot fail. */
eng_qparams eng_qparams_from_range(float lo, float hi,     // observed range
                                   int32_t qmin, int32_t qmax, // code range
                                   bool symmetric);

/* Per-channel parameters of a [channels][count] tensor (row c = output channel c), each from
 * that row's own min/max. out: channels entries. Cannot fail. */
void eng_qparams_per_channel(const float *x,        // [channels][count] values
                             int channels,          // rows
                             size_t count,          // values per row
                             int32_t qmin, int32_t qmax,
                             bool symmetric,
                             eng_qparams *out);     // [channels] parameters

/* min and max of x[0..count-1], ignoring NaN; both 0 when count is 0 or all are NaN. */
void eng_quant_minmax(const float *x, size_t count, float *lo, float *hi);

/* The code of one value (as an int, before storing it as a byte). */
static inline int32_t eng_quant_code(const eng_qparams *p, float x)
{
    float q = nearbyintf(x / p->scale) + (float)p->zero_point;
    if (q != q) return p->zero_point;                     /* NaN */
    return q < (float)p->qmin ? p->qmin : q > (float)p->qmax ? p->qmax : (int32_t)q;
}

/* 1 when x quantizes without clipping (the STE passes its gradient), else 0. */
static inline int eng_quant_in_range(const eng_qparams *p, float x)
{
    float q = nearbyintf(x / p->scale) + (float)p->zero_point;
    return q >= (float)p->qmin && q <= (float)p->qmax;
}

/* ------------------------------------------------------------------------------------------
 * Fake-quantization (quantize, then dequantize) and its straight-through gradient
 * ---------------------------------------------------------------------------------------- */

/* y[i] = fq(x[i]); y may equal x (in place). Cannot fail. */
void eng_fake_quantize(const eng_qparams *p, const float *x, size_t count, float *y);

/* dx[i] = dy[i] where x[i] is not clipped, else 0 (the STE); dx may equal dy. Cannot fail. */
void eng_fake_quantize_backward(const eng_qparams *p, const float *x, const float *dy,
                                size_t count, float *dx);

/* ------------------------------------------------------------------------------------------
 * Range observer of a per-tensor activation
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_observer_mode {
    ENG_OBSERVER_EMA = 0,   /* training: lo += m * (batch_lo - lo), same for hi (first batch sets) */
    ENG_OBSERVER_MINMAX,    /* calibration: running min / max over every batch seen */
    ENG_OBSERVER_FROZEN     /* the range no longer changes */
} eng_observer_mode;

typedef struct eng_observer {
    float lo, hi;           /* current range (valid only when `valid`) */
    bool  valid;            /* a batch was observed or a range set */
    eng_observer_mode mode;
    float momentum;         /* EMA momentum in (0, 1] */
} eng_observer;

/* Folds a batch's range into the observer according to its mode (FROZEN: no change). */
void eng_observer_update(eng_observer *o, float batch_lo, float batch_hi);

#ifdef __cplusplus
}
#endif

#endif /* ENG_QUANT_H */
