// lut_depthwise.cuh - approximate depthwise convolution on the device
// (eng_cuda_kernels.lut_depthwise).
#ifndef ENG_CUDA_LUT_DEPTHWISE_CUH
#define ENG_CUDA_LUT_DEPTHWISE_CUH

#include "eng_cuda.h"

eng_status cuda_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s, const uint8_t *a,
                              const uint8_t *w, uint8_t pad_code, int32_t *out);

#endif // ENG_CUDA_LUT_DEPTHWISE_CUH
