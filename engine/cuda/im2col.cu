// im2col.cu - one thread per column element (im2col) or per input pixel (col2im). col2im
// gathers each pixel's taps in the reference's (i, j) order starting from 0, so its float sums
// round exactly like the scalar reference's.
#include "cuda_common.cuh"
#include "im2col.cuh"

template <typename T>
__global__ void im2col_kernel(eng_conv_shape s, const T *__restrict__ x, T pad_value,
                              T *__restrict__ cols)
{
    const size_t total = (size_t)s.c * s.kh * s.kw * s.n * s.oh * s.ow;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x)
        cols[e] = im2col_element(s, x, pad_value, e);
}

__global__ void col2im_kernel(eng_conv_shape s, const float *__restrict__ cols,
                              float *__restrict__ dx)
{
    const size_t total = (size_t)s.c * s.n * s.h * s.w;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x)
        dx[e] = col2im_element(s, cols, e);
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
