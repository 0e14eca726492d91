/*
 * im2col.c - im2col (float and uint8) and col2im with contiguous row copies, for the optimized
 * kernel sets. Results are bit-identical to the references in ref_kernels.c: im2col is a pure
 * copy, and col2im adds into each input pixel in the reference's order (kernel row, kernel
 * column, image, output row, output column).
 */
#include "cpu_kernels.h"

#include <string.h>

/* Output columns xo with 0 <= xo*stride + off < w: [*x0, *x1). */
static void valid_range(int ow, int w, int stride, int off, int *x0, int *x1)
{
    int lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int hi = w - 1 - off < 0 ? 0 : (w - 1 - off) / stride + 1;
    if (hi > ow)
        hi = ow;
    if (lo > hi)
        lo = hi;
    *x0 = lo;
    *x1 = hi;
}

#define DEFINE_IM2COL_ROWS(NAME, T)                                                          \
    static void NAME(const eng_conv_shape *s, const T *x, T pad, T *cols, int r0, int r1)    \
    {                                                                                        \
        const size_t ncols = (size_t)s->n * s->oh * s->ow;                                   \
        for (int r = r0; r < r1; r++) {                                                      \
            const int ci = r / (s->kh * s->kw), i = r / s->kw % s->kh, j = r % s->kw;        \
            const int off = j * s->dilation - s->pad;                                        \
            int x0, x1;                                                                      \
            valid_range(s->ow, s->w, s->stride, off, &x0, &x1);                              \
            T *dst = cols + (size_t)r * ncols;                                               \
            for (int b = 0; b < s->n; b++) {                                                 \
                const T *src = x + ((size_t)ci * s->n + b) * s->h * s->w;                    \
                for (int y = 0; y < s->oh; y++, dst += s->ow) {                              \
                    const int iy = y * s->stride + i * s->dilation - s->pad;                 \
                    if (iy < 0 || iy >= s->h) {                                              \
                        for (int xo = 0; xo < s->ow; xo++)                                   \
                            dst[xo] = pad;                                                   \
                        continue;                                                            \
                    }                                                                        \
                    const T *row = src + (size_t)iy * s->w;                                  \
                    for (int xo = 0; xo < x0; xo++)                                          \
                        dst[xo] = pad;                                                       \
                    if (s->stride == 1)                                                      \
                        memcpy(dst + x0, row + x0 + off, sizeof(T) * (size_t)(x1 - x0));     \
                    else                                                                     \
                        for (int xo = x0; xo < x1; xo++)                                     \
                            dst[xo] = row[xo * s->stride + off];                             \
                    for (int xo = x1; xo < s->ow; xo++)                                      \
                        dst[xo] = pad;                                                       \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

DEFINE_IM2COL_ROWS(im2col_f32_rows, float)
DEFINE_IM2COL_ROWS(im2col_u8_rows, uint8_t)

void eng_cpu_im2col_u8_rows(const eng_conv_shape *s, const uint8_t *x, uint8_t pad_value,
                            uint8_t *cols, int r0, int r1)
{
    im2col_u8_rows(s, x, pad_value, cols, r0, r1);
}

/* Rows split evenly over the threads (the partition only decides who copies what). */
#define DEFINE_IM2COL(NAME, ROWS, T)                                                         \
    void NAME(const eng_conv_shape *s, const T *x, T pad_value, T *cols)                     \
    {                                                                                        \
        const int rows = s->c * s->kh * s->kw;                                               \
        _Pragma("omp parallel num_threads(eng_cpu_threads()) \
                 if ((double)rows * s->n * s->oh * s->ow * sizeof(*cols) > (1 << 20))")    \
        {                                                                                    \
            const int nth = eng_cpu_team_size(), t = eng_cpu_thread_id();                    \
            ROWS(s, x, pad_value, cols, (int)((long long)rows * t / nth),                    \
                 (int)((long long)rows * (t + 1) / nth));                                    \
        }                                                                                    \
    }

DEFINE_IM2COL(eng_cpu_im2col_f32, im2col_f32_rows, float)
DEFINE_IM2COL(eng_cpu_im2col_u8, im2col_u8_rows, uint8_t)

void eng_cpu_col2im_f32(const eng_conv_shape *s, const float *cols, float *dx)
{
    const size_t ncols = (size_t)s->n * s->oh * s->ow;
    const size_t plane = (size_t)s->h * s->w;
#pragma omp parallel for schedule(static) num_threads(eng_cpu_threads()) if (s->c > 1)
    for (int ci = 0; ci < s->c; ci++) {
        memset(dx + (size_t)ci * s->n * plane, 0, sizeof(float) * s->n * plane);
        for (int i = 0; i < s->kh; i++) {
            for (int j = 0; j < s->kw; j++) {
                const float *src = cols + ((size_t)(ci * s->kh + i) * s->kw + j) * ncols;
                const int off = j * s->dilation - s->pad;
                int x0, x1;
                valid_range(s->ow, s->w, s->stride, off, &x0, &x1);
                for (int b = 0; b < s->n; b++) {
                    float *dst = dx + ((size_t)ci * s->n + b) * plane;
                    for (int y = 0; y < s->oh; y++, src += s->ow) {
                        const int iy = y * s->stride + i * s->dilation - s->pad;
                        if (iy < 0 || iy >= s->h)
                            continue;
                        float *row = dst + (size_t)iy * s->w;
                        if (s->stride == 1) {
#pragma omp simd
                            for (int xo = x0; xo < x1; xo++)
                                row[xo + off] += src[xo];
                        } else {
                            for (int xo = x0; xo < x1; xo++)
                                row[xo * s->stride + off] += src[xo];
                        }
                    }
                }
            }
        }
    }
}
