/*
 * im2col.c - im2col (float and uint8) and col2im with contiguous row copies, for the optimized
 * kernel sets. Results are bit-identical to the references in ref_kernels.c: im2col is a pure
 * copy, and col2im adds into each input pixel in the reference's order (kernel row, kernel
 * column, image, output row, output column).
 */
#include "cpu_kernels.h"
#include "multiversion.h"

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

/* One kernel tap of a stride-1 "same-size" convolution over one image plane (oh = h, ow = w):
 * dst[y][x] = src[y + dy][x + dx], pad outside. The valid part is one contiguous shifted
 * range (rows [y0, y1), from column x0 of the first to x1 of the last), copied at once; then
 * the columns outside [x0, x1) of every row and the rows outside [y0, y1) get the pad value.
 * Row-by-row copies of 8-32 values cost more in calls than in bytes. */
/* The pad loops cover 1-2 values per row: keep GCC from turning them into memset calls. */
#if defined(__GNUC__) && !defined(__clang__)
#define PAD_LOOPS_INLINE __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define PAD_LOOPS_INLINE
#endif

#define DEFINE_PLANE_SHIFT(NAME, T)                                                          \
    PAD_LOOPS_INLINE static void NAME(const eng_conv_shape *s, const T *src, T pad, T *dst, int dy, int dx,   \
                     int x0, int x1)                                                         \
    {                                                                                        \
        const int h = s->h, w = s->w;                                                        \
        const int y0 = dy < 0 ? -dy : 0, y1 = h - dy < h ? h - dy : h;                       \
        if (y0 >= y1) {                                                                      \
            for (size_t k = 0; k < (size_t)h * w; k++)                                       \
                dst[k] = pad;                                                                \
            return;                                                                          \
        }                                                                                    \
        const size_t first = (size_t)y0 * w + x0, last = (size_t)(y1 - 1) * w + x1;         \
        memcpy(dst + first, src + (ptrdiff_t)first + (ptrdiff_t)dy * w + dx,                 \
               sizeof(T) * (last - first));                                                  \
        for (size_t k = 0; k < (size_t)y0 * w; k++)                                          \
            dst[k] = pad;                                                                    \
        for (size_t k = (size_t)y1 * w; k < (size_t)h * w; k++)                              \
            dst[k] = pad;                                                                    \
        for (int y = y0; y < y1; y++) {                                                      \
            T *row = dst + (size_t)y * w;                                                    \
            for (int xo = 0; xo < x0; xo++)                                                  \
                row[xo] = pad;                                                               \
            for (int xo = x1; xo < w; xo++)                                                  \
                row[xo] = pad;                                                               \
        }                                                                                    \
    }

DEFINE_PLANE_SHIFT(plane_shift_f32, float)
DEFINE_PLANE_SHIFT(plane_shift_u8, uint8_t)

#define DEFINE_IM2COL_ROWS(NAME, PLANE, T)                                                   \
    static void NAME(const eng_conv_shape *s, const T *x, T pad, T *cols, int r0, int r1)    \
    {                                                                                        \
        const size_t ncols = (size_t)s->n * s->oh * s->ow;                                   \
        for (int r = r0; r < r1; r++) {                                                      \
            const int ci = r / (s->kh * s->kw), i = r / s->kw % s->kh, j = r % s->kw;        \
            const int off = j * s->dilation - s->pad;                                        \
            int x0, x1;                                                                      \
            valid_range(s->ow, s->w, s->stride, off, &x0, &x1);                              \
            T *dst = cols + (size_t)r * ncols;                                               \
            if (s->stride == 1 && s->ow == s->w && s->oh == s->h && x0 < x1) {               \
                const int dy = i * s->dilation - s->pad;                                     \
                for (int b = 0; b < s->n; b++, dst += (size_t)s->oh * s->ow)                 \
                    PLANE(s, x + ((size_t)ci * s->n + b) * s->h * s->w, pad, dst, dy, off,   \
                          x0, x1);                                                           \
                continue;                                                                    \
            }                                                                                \
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

DEFINE_IM2COL_ROWS(im2col_f32_rows, plane_shift_f32, float)
DEFINE_IM2COL_ROWS(im2col_u8_rows, plane_shift_u8, uint8_t)

void eng_cpu_im2col_u8_rows(const eng_conv_shape *s, const uint8_t *x, uint8_t pad_value,
                            uint8_t *cols, int r0, int r1)
{
    im2col_u8_rows(s, x, pad_value, cols, r0, r1);
}

/* Rows split evenly over the threads (the partition only decides who copies what). */
#define DEFINE_IM2COL(NAME, ROWS, T)                                                         \
    eng_status NAME(const eng_conv_shape *s, const T *x, T pad_value, T *cols)               \
    {                                                                                        \
        const int rows = s->c * s->kh * s->kw;                                               \
        _Pragma("omp parallel num_threads(eng_cpu_threads()) \
                 if ((double)rows * s->n * s->oh * s->ow * sizeof(*cols) > (1 << 20))")    \
        {                                                                                    \
            const int nth = eng_cpu_team_size(), t = eng_cpu_thread_id();                    \
            ROWS(s, x, pad_value, cols, (int)((long long)rows * t / nth),                    \
                 (int)((long long)rows * (t + 1) / nth));                                    \
        }                                                                                    \
        return ENG_OK;                                                                       \
    }

DEFINE_IM2COL(eng_cpu_im2col_f32, im2col_f32_rows, float)
DEFINE_IM2COL(eng_cpu_im2col_u8, im2col_u8_rows, uint8_t)

eng_status eng_cpu_col2im_f32(const eng_conv_shape *s, const float *cols, float *dx)
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
    return ENG_OK;
}

/* Blocks of 512 columns and up to 257 rows summed in 16 bits (257 * 255 < 2^16), then added
 * into 32 bits. */
ENG_MULTIVERSION
void eng_cpu_column_sums_u8(const uint8_t *cols, int rows, size_t ld, size_t n, int32_t *sums)
{
    uint16_t part[512];
    for (size_t p0 = 0; p0 < n; p0 += 512) {
        const size_t m = n - p0 < 512 ? n - p0 : 512;
        int32_t *out = sums + p0;
        for (size_t p = 0; p < m; p++) out[p] = 0;
        for (int r0 = 0; r0 < rows; r0 += 257) {
            const int r1 = rows - r0 < 257 ? rows : r0 + 257;
            for (size_t p = 0; p < m; p++) part[p] = 0;
            for (int r = r0; r < r1; r++) {
                const uint8_t *row = cols + (size_t)r * ld + p0;
#pragma omp simd
                for (size_t p = 0; p < m; p++) part[p] = (uint16_t)(part[p] + row[p]);
            }
#pragma omp simd
            for (size_t p = 0; p < m; p++) out[p] += part[p];
        }
    }
}
