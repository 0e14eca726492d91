// im2col.cu - one thread per column element (im2col) or per input pixel (col2im). col2im
// gathers each pixel's taps in the reference's (i, j) order starting from 0, so its float sums
// round exactly like the scalar reference's.
#include "cuda_common.cuh"
#include "im2col.cuh"

template <typename T>
__global__ void im2col_kernel(eng_conv_shape s, const T *__restrict__ x, T pad_value,
                              T *__restrict__ cols)
{
    const size_t ncols = (size_t)s.n * s.oh * s.ow;
    const size_t total = (size_t)s.c * s.kh * s.kw * ncols;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t r = e / ncols, q = e % ncols;
        int j = (int)(r % s.kw), i = (int)(r / s.kw % s.kh), ci = (int)(r / ((size_t)s.kw * s.kh));
        int xo = (int)(q % s.ow), y = (int)(q / s.ow % s.oh), b = (int)(q / ((size_t)s.ow * s.oh));
        int iy = y * s.stride + i * s.dilation - s.pad, ix = xo * s.stride + j * s.dilation - s.pad;
        cols[e] = (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
                      ? x[(((size_t)ci * s.n + b) * s.h + iy) * s.w + ix] : pad_value;
    }
}

__global__ void col2im_kernel(eng_conv_shape s, const float *__restrict__ cols,
                              float *__restrict__ dx)
{
    const size_t ncols = (size_t)s.n * s.oh * s.ow;
    const size_t total = (size_t)s.c * s.n * s.h * s.w;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
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
        dx[e] = sum;
    }
}

template <typename T>
static eng_status im2col_launch(const eng_conv_shape *s, const T *x, T pad_value, T *cols,
                                const char *op)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    ENG_TRY(cuda_check_shape(s, op));
    if (!x || !cols)
        return eng_error(ENG_ERR_ARG, "%s: NULL buffer", op);
    size_t total = (size_t)s->c * s->kh * s->kw * s->n * s->oh * s->ow;
    im2col_kernel<T><<<cuda_grid_size(ctx, total), CUDA_ELEMENTWISE_THREADS, 0, ctx->stream>>>(
        *s, x, pad_value, cols);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

eng_status cuda_im2col_f32(const eng_conv_shape *s, const float *x, float pad_value,
                           float *cols)
{
    return im2col_launch(s, x, pad_value, cols, "im2col_f32");
}

eng_status cuda_im2col_u8(const eng_conv_shape *s, const uint8_t *x, uint8_t pad_value,
                          uint8_t *cols)
{
    return im2col_launch(s, x, pad_value, cols, "im2col_u8");
}

eng_status cuda_col2im_f32(const eng_conv_shape *s, const float *cols, float *dx)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    ENG_TRY(cuda_check_shape(s, "col2im_f32"));
    if (!cols || !dx)
        return eng_error(ENG_ERR_ARG, "col2im_f32: NULL buffer");
    size_t total = (size_t)s->c * s->n * s->h * s->w;
    col2im_kernel<<<cuda_grid_size(ctx, total), CUDA_ELEMENTWISE_THREADS, 0, ctx->stream>>>(
        *s, cols, dx);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}
