// im2col.cuh - im2col (float, codes) and its adjoint col2im on the device
// (eng_cuda_kernels.im2col_f32, im2col_u8, col2im_f32).
#ifndef ENG_CUDA_IM2COL_CUH
#define ENG_CUDA_IM2COL_CUH

#include "eng_cuda.h"

eng_status cuda_im2col_f32(const eng_conv_shape *s, const float *x, float pad_value,
                           float *cols);
eng_status cuda_im2col_u8(const eng_conv_shape *s, const uint8_t *x, uint8_t pad_value,
                          uint8_t *cols);
eng_status cuda_col2im_f32(const eng_conv_shape *s, const float *cols, float *dx);

#endif // ENG_CUDA_IM2COL_CUH
