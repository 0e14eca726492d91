// lut_depthwise.cuh - approximate depthwise convolution on the device
// (eng_cuda_kernels.lut_depthwise; its window sums come from net_depthwise.cu).
#ifndef ENG_CUDA_LUT_DEPTHWISE_CUH
#define ENG_CUDA_LUT_DEPTHWISE_CUH

#include "eng_cuda.h"
#include "lut_product.cuh"

eng_lut_depthwise_fn cuda_lut_depthwise;

// Entry e of channel c's column table: prod[e] = T(a = e % 256, w[c][tap = e / 256]).
template <int KIND>
__host__ __device__ inline int32_t lut_depthwise_column(const uint16_t *table, int wb,
                                                        const uint8_t *wc, int e)
{
    return cuda_lut_product<KIND, false>(table, wb, (uint32_t)(e & 255), wc[e >> 8]);
}

// Output q (= (b*oh + y)*ow + x) of channel c. COLUMNS: products from the channel's column
// table prod; otherwise straight from the table. a: the whole CNHW input, wc: w[c].
template <int KIND, bool COLUMNS>
__host__ __device__ inline int32_t lut_depthwise_output(const eng_conv_shape &s, int c, size_t q,
                                                        const uint8_t *a, const uint8_t *wc,
                                                        uint8_t pad_code, const int32_t *prod,
                                                        const uint16_t *table, int wb)
{
    const size_t plane = (size_t)s.h * s.w, oplane = (size_t)s.oh * s.ow;
    const int xo = (int)(q % s.ow), y = (int)(q / s.ow % s.oh), b = (int)(q / oplane);
    const uint8_t *x = a + ((size_t)c * s.n + b) * plane;
    uint32_t sum = 0;
    for (int i = 0; i < s.kh; i++) {
        const int iy = y * s.stride + i * s.dilation - s.pad;
        for (int j = 0; j < s.kw; j++) {
            const int ix = xo * s.stride + j * s.dilation - s.pad;
            const uint32_t code = (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
                                      ? x[(size_t)iy * s.w + ix] : pad_code;
            const int t = i * s.kw + j;
            sum += COLUMNS ? (uint32_t)prod[t * 256 + code]
                           : (uint32_t)cuda_lut_product<KIND, false>(table, wb, code, wc[t]);
        }
    }
    return (int32_t)sum;
}

#endif // ENG_CUDA_LUT_DEPTHWISE_CUH
