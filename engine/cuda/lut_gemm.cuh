// lut_gemm.cuh - table GEMM and implicit-GEMM table convolution on the device
// (eng_cuda_kernels.lut_gemm, lut_conv2d).
#ifndef ENG_CUDA_LUT_GEMM_CUH
#define ENG_CUDA_LUT_GEMM_CUH

#include "eng_cuda.h"

eng_status cuda_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                         const uint8_t *a, int32_t *out);
eng_status cuda_lut_conv2d(const eng_lut *lut, const eng_conv_shape *s, int oc,
                           const uint8_t *w, const uint8_t *x, uint8_t pad_code, int32_t *out);

#endif // ENG_CUDA_LUT_GEMM_CUH
