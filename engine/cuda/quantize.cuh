// quantize.cuh - quantization, activation column sums and dequantization on the device
// (eng_cuda_kernels.quantize, column_sums, dequantize).
#ifndef ENG_CUDA_QUANTIZE_CUH
#define ENG_CUDA_QUANTIZE_CUH

#include <math.h>

#include "eng_cuda.h"

eng_status cuda_quantize(const float *x, size_t count, float scale, int32_t zero_point,
                         int32_t qmin, int32_t qmax, uint8_t *codes);
eng_status cuda_column_sums(const uint8_t *cols, int k, size_t n, int32_t *sums);
eng_status cuda_dequantize(const eng_cuda_dequant *d, int m, size_t n, const int32_t *acc,
                           float *y);

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

// Element e of y[m][n] (eng_cuda_dequant), arrays in the memory the caller runs in.
__host__ __device__ inline float dequantize_element(const eng_cuda_dequant &d, size_t n,
                                                    const int32_t *acc, size_t e)
{
    int o = (int)(e / n);
    size_t p = e % n;
    double scale = (double)d.act_scale * d.w_scale[o];
    int64_t v = acc[e];
    if (d.asym) {
        int64_t za = d.act_zero_point, zw = d.w_zero_point[o];
        v += (int64_t)d.k * za * zw - za * (int64_t)d.w_sum[o];
        v -= zw * d.a_sum[p];
    }
    float b = d.bias ? d.bias[o] : 0.0f;
#ifdef __CUDA_ARCH__ // no contraction: the double product, rounded to float, plus the bias
    return __fadd_rn(__double2float_rn(__dmul_rn(scale, (double)v)), b);
#else
    return (float)(scale * (double)v) + b;
#endif
}

#endif // ENG_CUDA_QUANTIZE_CUH
