// im2col.cuh - im2col (float, codes) and its adjoint col2im on the device
// (eng_cuda_kernels.im2col_f32, im2col_u8, col2im_f32).
#ifndef ENG_CUDA_IM2COL_CUH
#define ENG_CUDA_IM2COL_CUH

#include "eng_cuda.h"

eng_im2col_f32_fn cuda_im2col_f32;
eng_im2col_u8_fn cuda_im2col_u8;
eng_col2im_f32_fn cuda_col2im_f32;

// Element e of the column matrix (one thread per element; also run on the host by
// tests/test_cuda_emu.cu).
template <typename T>
__host__ __device__ inline T im2col_element(const eng_conv_shape &s, const T *x, T pad_value,
                                            size_t e)
{
    const size_t ncols = (size_t)s.n * s.oh * s.ow;
    size_t r = e / ncols, q = e % ncols;
    int j = (int)(r % s.kw), i = (int)(r / s.kw % s.kh), ci = (int)(r / ((size_t)s.kw * s.kh));
    int xo = (int)(q % s.ow), y = (int)(q / s.ow % s.oh), b = (int)(q / ((size_t)s.ow * s.oh));
    int iy = y * s.stride + i * s.dilation - s.pad, ix = xo * s.stride + j * s.dilation - s.pad;
    return (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
               ? x[(((size_t)ci * s.n + b) * s.h + iy) * s.w + ix] : pad_value;
}

// Pixel e of dx (CNHW): the sum of its taps in the reference's (i, j) order, from 0.
__host__ __device__ inline float col2im_element(const eng_conv_shape &s, const float *cols,
                                                size_t e)
{
    const size_t ncols = (size_t)s.n * s.oh * s.ow;
    int ix = (int)(e % s.w), iy = (int)(e / s.w % s.h);
    size_t cb = e / ((size_t)s.w * s.h);
    int b = (int)(cb % s.n), ci = (int)(cb / s.n);
    float sum = 0.0f;
    for (int i = 0; i < s.kh; i++) {
        int ty = iy + s.pad - i * s.dilation;
        if (ty < 0 || ty % s.stride != 0 || ty / s.stride >= s.oh)
            continue;
        int y = ty / s.stride;
        for (int j = 0; j < s.kw; j++) {
            int tx = ix + s.pad - j * s.dilation;
            if (tx < 0 || tx % s.stride != 0 || tx / s.stride >= s.ow)
                continue;
            size_t row = ((size_t)ci * s.kh + i) * s.kw + j;
            sum += cols[row * ncols + ((size_t)b * s.oh + y) * s.ow + tx / s.stride];
        }
    }
    return sum;
}

#endif // ENG_CUDA_IM2COL_CUH
