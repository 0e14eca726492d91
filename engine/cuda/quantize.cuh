// quantize.cuh - quantization, activation column sums and dequantization on the device
// (eng_cuda_kernels.quantize, column_sums, dequantize).
#ifndef ENG_CUDA_QUANTIZE_CUH
#define ENG_CUDA_QUANTIZE_CUH

#include "eng_cuda.h"

eng_status cuda_quantize(const float *x, size_t count, float scale, int32_t zero_point,
                         int32_t qmin, int32_t qmax, uint8_t *codes);
eng_status cuda_column_sums(const uint8_t *cols, int k, size_t n, int32_t *sums);
eng_status cuda_dequantize(const eng_cuda_dequant *d, int m, size_t n, const int32_t *acc,
                           float *y);

#endif // ENG_CUDA_QUANTIZE_CUH
