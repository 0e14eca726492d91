// quantize.cuh - quantization and activation column sums on the device
// (eng_cuda_kernels.quantize, column_sums), and the element of the dequantization
// (net_ops.h dequantize, approx_dequantize on the CPU).
#ifndef ENG_CUDA_QUANTIZE_CUH
#define ENG_CUDA_QUANTIZE_CUH

#include <math.h>

#include "eng_cuda.h"
#include "eng_quant.h"

eng_quantize_fn cuda_quantize;
eng_column_sums_fn cuda_column_sums;

// The code of one value (the reference's operations: IEEE division, rint = round half to even).
__host__ __device__ inline uint8_t quantize_element(float x, float scale, int32_t zero_point,
                                                    int32_t qmin, int32_t qmax)
{
#ifdef __CUDA_ARCH__
    float q = rintf(__fdiv_rn(x, scale)) + (float)zero_point;
#else
    float q = rintf(x / scale) + (float)zero_point;
#endif
    int32_t v = q != q ? zero_point
                : q < (float)qmin ? qmin : q > (float)qmax ? qmax : (int32_t)q;
    return (uint8_t)v;
}

// Element e of y[channels][positions] of approx_dequantize (the same arguments; arrays in the
// memory the caller runs in): (float)(act.scale * wq[o].scale * v) + bias[o] with
// v = acc + (asym: k*za*zw[o] - za*wsum[o] - zw[o]*asum[o*asum_stride + p]).
__host__ __device__ inline float dequantize_element(bool asym, const eng_qparams &act,
                                                    const eng_qparams *wq, size_t positions,
                                                    int k, const int32_t *acc,
                                                    const int32_t *asum, size_t asum_stride,
                                                    const int32_t *wsum, const float *bias,
                                                    size_t e)
{
    size_t o = e / positions, p = e % positions;
    double scale = (double)act.scale * wq[o].scale;
    int64_t v = acc[e];
    if (asym) {
        int64_t za = act.zero_point, zw = wq[o].zero_point;
        v += (int64_t)k * za * zw - za * (int64_t)wsum[o];
        v -= zw * asum[o * asum_stride + p];
    }
    float b = bias ? bias[o] : 0.0f;
#ifdef __CUDA_ARCH__ // no contraction: the double product, rounded to float, plus the bias
    return __fadd_rn(__double2float_rn(__dmul_rn(scale, (double)v)), b);
#else
    return (float)(scale * (double)v) + b;
#endif
}

#endif // ENG_CUDA_QUANTIZE_CUH
