/*
 * ref_kernels.c - scalar reference implementations of the hot kernels (eng_kernels.h).
 *
 * These define the result every optimized kernel must reproduce. They are written for
 * obviousness, threaded over independent output rows only, so results never depend on the
 * thread count.
 */
#include "eng_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

eng_status eng_conv_shape_init(eng_conv_shape *s, int n, int c, int h, int w, int kh, int kw,
                               int stride, int pad, int dilation)
{
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || kh <= 0 || kw <= 0 || stride <= 0 || pad < 0 ||
        dilation <= 0)
        return eng_error(ENG_ERR_SHAPE,
                         "bad convolution geometry: n=%d c=%d h=%d w=%d kernel %dx%d stride %d "
                         "pad %d dilation %d", n, c, h, w, kh, kw, stride, pad, dilation);
    int ekh = (kh - 1) * dilation + 1, ekw = (kw - 1) * dilation + 1;
    if (h + 2 * pad < ekh || w + 2 * pad < ekw)
        return eng_error(ENG_ERR_SHAPE, "kernel %dx%d (dilation %d) larger than padded input %dx%d",
                         kh, kw, dilation, h + 2 * pad, w + 2 * pad);
    *s = (eng_conv_shape){
        .n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw,
        .stride = stride, .pad = pad, .dilation = dilation,
        .oh = (h + 2 * pad - ekh) / stride + 1,
        .ow = (w + 2 * pad - ekw) / stride + 1,
    };
    return ENG_OK;
}

static eng_status ref_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c,
                            int ldc)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0.0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += (double)av * bv;
            }
            float *cij = &c[(size_t)i * ldc + j];
            *cij = (float)(alpha * sum + (beta == 0.0f ? 0.0 : (double)beta * *cij));
        }
    }
    return ENG_OK;
}

static eng_status ref_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                               const uint8_t *a, int32_t *out)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            int32_t sum = 0;
            for (int p = 0; p < k; p++)
                sum += eng_lut_product(lut, a[(size_t)p * n + j], w[(size_t)i * k + p]);
            out[(size_t)i * n + j] = sum;
        }
    }
    return ENG_OK;
}

static eng_status ref_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s,
                                    const uint8_t *a, const uint8_t *w, uint8_t pad_code,
                                    int32_t *out, int32_t *sums)
{
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        for (int b = 0; b < s->n; b++) {
            const uint8_t *x = a + ((size_t)c * s->n + b) * plane;
            int32_t *o = out + ((size_t)c * s->n + b) * oplane;
            int32_t *os = sums ? sums + ((size_t)c * s->n + b) * oplane : NULL;
            for (int y = 0; y < s->oh; y++) {
                for (int xo = 0; xo < s->ow; xo++) {
                    int32_t sum = 0, csum = 0;
                    for (int i = 0; i < s->kh; i++) {
                        int iy = y * s->stride + i * s->dilation - s->pad;
                        for (int j = 0; j < s->kw; j++) {
                            int ix = xo * s->stride + j * s->dilation - s->pad;
                            uint8_t code = (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                                               ? x[(size_t)iy * s->w + ix] : pad_code;
                            sum += eng_lut_product(lut, code, w[((size_t)c * s->kh + i) * s->kw + j]);
                            csum += code;
                        }
                    }
                    o[(size_t)y * s->ow + xo] = sum;
                    if (os) os[(size_t)y * s->ow + xo] = csum;
                }
            }
        }
    }
    return ENG_OK;
}

static eng_status ref_lut_conv2d(const eng_lut *lut, const eng_conv_shape *s, int oc,
                                 const uint8_t *a, uint8_t pad_code, const uint8_t *w,
                                 int32_t *out)
{
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
    const size_t taps = (size_t)s->kh * s->kw, np = (size_t)s->n * oplane;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++) {
        for (int b = 0; b < s->n; b++) {
            for (int y = 0; y < s->oh; y++) {
                for (int xo = 0; xo < s->ow; xo++) {
                    uint32_t sum = 0; /* wraps like a two's complement int32 */
                    for (int c = 0; c < s->c; c++) {
                        const uint8_t *x = a + ((size_t)c * s->n + b) * plane;
                        const uint8_t *wc = w + ((size_t)o * s->c + c) * taps;
                        for (int i = 0; i < s->kh; i++) {
                            int iy = y * s->stride + i * s->dilation - s->pad;
                            for (int j = 0; j < s->kw; j++) {
                                int ix = xo * s->stride + j * s->dilation - s->pad;
                                uint8_t code = (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                                                   ? x[(size_t)iy * s->w + ix] : pad_code;
                                sum += (uint32_t)eng_lut_product(lut, code, wc[i * s->kw + j]);
                            }
                        }
                    }
                    out[(size_t)o * np + ((size_t)b * s->oh + y) * s->ow + xo] = (int32_t)sum;
                }
            }
        }
    }
    return ENG_OK;
}

#define DEFINE_IM2COL(NAME, T)                                                              \
    static eng_status NAME(const eng_conv_shape *s, const T *x, T pad_value, T *cols)      \
    {                                                                                       \
        const size_t ncols = (size_t)s->n * s->oh * s->ow;                                  \
        const int rows = s->c * s->kh * s->kw;                                              \
        _Pragma("omp parallel for schedule(static)")                                        \
        for (int r = 0; r < rows; r++) {                                                    \
            int ci = r / (s->kh * s->kw), i = r / s->kw % s->kh, j = r % s->kw;             \
            T *dst = cols + (size_t)r * ncols;                                              \
            for (int b = 0; b < s->n; b++) {                                                \
                const T *src = x + ((size_t)ci * s->n + b) * s->h * s->w;                   \
                for (int y = 0; y < s->oh; y++) {                                           \
                    int iy = y * s->stride + i * s->dilation - s->pad;                      \
                    for (int xo = 0; xo < s->ow; xo++) {                                    \
                        int ix = xo * s->stride + j * s->dilation - s->pad;                 \
                        *dst++ = (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)             \
                                     ? src[(size_t)iy * s->w + ix] : pad_value;             \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        return ENG_OK;                                                                      \
    }

DEFINE_IM2COL(ref_im2col_f32, float)
DEFINE_IM2COL(ref_im2col_u8, uint8_t)

static eng_status ref_col2im_f32(const eng_conv_shape *s, const float *cols, float *dx)
{
    const size_t ncols = (size_t)s->n * s->oh * s->ow;
    const size_t plane = (size_t)s->h * s->w;
    /* Parallel over input channels: each thread owns whole channels of dx, so no races and a
     * fixed summation order. */
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < s->c; ci++) {
        memset(dx + (size_t)ci * s->n * plane, 0, sizeof(float) * s->n * plane);
        for (int i = 0; i < s->kh; i++) {
            for (int j = 0; j < s->kw; j++) {
                const float *src = cols + ((size_t)(ci * s->kh + i) * s->kw + j) * ncols;
                for (int b = 0; b < s->n; b++) {
                    float *dst = dx + ((size_t)ci * s->n + b) * plane;
                    for (int y = 0; y < s->oh; y++) {
                        int iy = y * s->stride + i * s->dilation - s->pad;
                        for (int xo = 0; xo < s->ow; xo++, src++) {
                            int ix = xo * s->stride + j * s->dilation - s->pad;
                            if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                                dst[(size_t)iy * s->w + ix] += *src;
                        }
                    }
                }
            }
        }
    }
    return ENG_OK;
}

static eng_status ref_quantize(const float *x, size_t count, float scale, int32_t zero_point,
                               int32_t qmin, int32_t qmax, uint8_t *codes)
{
    for (size_t i = 0; i < count; i++) {
        float q = nearbyintf(x[i] / scale) + (float)zero_point; /* round half to even */
        int32_t v = q != q ? zero_point /* NaN */
                    : q < (float)qmin ? qmin : q > (float)qmax ? qmax : (int32_t)q;
        codes[i] = (uint8_t)v;
    }
    return ENG_OK;
}

/* Input value of plane x (h x w) at (i, j), 0 outside. */
static inline float ref_pixel(const float *x, int h, int w, int i, int j)
{
    return i >= 0 && i < h && j >= 0 && j < w ? x[(size_t)i * w + j] : 0.0f;
}

static eng_status ref_conv_same_forward(const eng_conv_shape *s, int oc, const float *x,
                                        const float *w, const float *bias, float *y)
{
    const size_t plane = (size_t)s->h * s->w, P = (size_t)s->n * plane;
    const int k = s->kh, r = k / 2;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++) {
        for (int b = 0; b < s->n; b++) {
            for (int i = 0; i < s->h; i++) {
                for (int j = 0; j < s->w; j++) {
                    double sum = 0.0;
                    for (int c = 0; c < s->c; c++) {
                        const float *xp = x + (size_t)c * P + (size_t)b * plane;
                        const float *wp = w + ((size_t)o * s->c + c) * k * k;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                sum += (double)wp[ky * k + kx] *
                                       ref_pixel(xp, s->h, s->w, i + ky - r, j + kx - r);
                    }
                    y[(size_t)o * P + (size_t)b * plane + (size_t)i * s->w + j] =
                        (float)(sum + (bias ? (double)bias[o] : 0.0));
                }
            }
        }
    }
    return ENG_OK;
}

static eng_status ref_conv_same_backward_data(const eng_conv_shape *s, int oc, const float *dy,
                                              const float *w, float *dx)
{
    const size_t plane = (size_t)s->h * s->w, P = (size_t)s->n * plane;
    const int k = s->kh, r = k / 2;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        for (int b = 0; b < s->n; b++) {
            for (int i = 0; i < s->h; i++) {
                for (int j = 0; j < s->w; j++) {
                    double sum = 0.0;
                    for (int o = 0; o < oc; o++) {
                        const float *dp = dy + (size_t)o * P + (size_t)b * plane;
                        const float *wp = w + ((size_t)o * s->c + c) * k * k;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                sum += (double)wp[ky * k + kx] *
                                       ref_pixel(dp, s->h, s->w, i - ky + r, j - kx + r);
                    }
                    dx[(size_t)c * P + (size_t)b * plane + (size_t)i * s->w + j] = (float)sum;
                }
            }
        }
    }
    return ENG_OK;
}

static eng_status ref_conv_same_backward_weights(const eng_conv_shape *s, int oc, const float *x,
                                                 const float *dy, float *dw)
{
    const size_t plane = (size_t)s->h * s->w, P = (size_t)s->n * plane;
    const int k = s->kh, r = k / 2;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++) {
        for (int c = 0; c < s->c; c++) {
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    double sum = 0.0;
                    for (int b = 0; b < s->n; b++) {
                        const float *dp = dy + (size_t)o * P + (size_t)b * plane;
                        const float *xp = x + (size_t)c * P + (size_t)b * plane;
                        for (int i = 0; i < s->h; i++)
                            for (int j = 0; j < s->w; j++)
                                sum += (double)dp[(size_t)i * s->w + j] *
                                       ref_pixel(xp, s->h, s->w, i + ky - r, j + kx - r);
                    }
                    dw[(((size_t)o * s->c + c) * k + ky) * k + kx] = (float)sum;
                }
            }
        }
    }
    return ENG_OK;
}

/* Visits the taps of depthwise output (oy, ox): input row iy, column ix, tap t = i*kw + j,
 * only those inside the image (padding is zero). */
#define REF_DW_TAPS(s, oy, ox, ...)                                                     \
    for (int i_ = 0; i_ < (s)->kh; i_++) {                                              \
        const int iy = (oy) * (s)->stride + i_ * (s)->dilation - (s)->pad;              \
        for (int j_ = 0; j_ < (s)->kw; j_++) {                                          \
            const int ix = (ox) * (s)->stride + j_ * (s)->dilation - (s)->pad;          \
            const int t = i_ * (s)->kw + j_;                                            \
            if (iy >= 0 && iy < (s)->h && ix >= 0 && ix < (s)->w) {                     \
                __VA_ARGS__                                                             \
            }                                                                           \
        }                                                                               \
    }

static eng_status ref_depthwise_forward(const eng_conv_shape *s, const float *x, const float *w,
                                        const float *bias, float *y)
{
    const int planes = s->c * s->n;
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (int cb = 0; cb < planes; cb++) {
        const int c = cb / s->n;
        const float *in = x + (size_t)cb * plane, *wk = w + (size_t)c * s->kh * s->kw;
        float *out = y + (size_t)cb * oplane;
        const float b = bias ? bias[c] : 0.0f;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                float sum = 0.0f;
                REF_DW_TAPS(s, oy, ox, sum += wk[t] * in[(size_t)iy * s->w + ix];)
                out[(size_t)oy * s->ow + ox] = sum + b;
            }
    }
    return ENG_OK;
}

static eng_status ref_depthwise_backward_data(const eng_conv_shape *s, const float *dy,
                                              const float *w, float *dx)
{
    const int planes = s->c * s->n, kk = s->kh * s->kw;
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (int cb = 0; cb < planes; cb++) {
        const float *g = dy + (size_t)cb * oplane, *wk = w + (size_t)(cb / s->n) * kk;
        float *d = dx + (size_t)cb * plane;
        memset(d, 0, sizeof(float) * plane);
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const float gv = g[(size_t)oy * s->ow + ox];
                REF_DW_TAPS(s, oy, ox, d[(size_t)iy * s->w + ix] += wk[t] * gv;)
            }
    }
    return ENG_OK;
}

static eng_status ref_depthwise_backward_weights(const eng_conv_shape *s, const float *x,
                                                 const float *dy, float *dw)
{
    const int kk = s->kh * s->kw;
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        double sum[kk];
        for (int t = 0; t < kk; t++) sum[t] = 0.0;
        for (int b = 0; b < s->n; b++) {
            const size_t cb = (size_t)c * s->n + b;
            const float *in = x + cb * plane, *g = dy + cb * oplane;
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    const double gv = g[(size_t)oy * s->ow + ox];
                    REF_DW_TAPS(s, oy, ox, sum[t] += gv * in[(size_t)iy * s->w + ix];)
                }
        }
        for (int t = 0; t < kk; t++) dw[(size_t)c * kk + t] = (float)sum[t];
    }
    return ENG_OK;
}

static const eng_kernels ref_kernels = {
    .name = "scalar",
    .sgemm = ref_sgemm,
    .lut_gemm = ref_lut_gemm,
    .lut_conv2d = ref_lut_conv2d,
    .lut_depthwise = ref_lut_depthwise,
    .im2col_f32 = ref_im2col_f32,
    .im2col_u8 = ref_im2col_u8,
    .col2im_f32 = ref_col2im_f32,
    .quantize = ref_quantize,
    .conv_same_f32_forward = ref_conv_same_forward,
    .conv_same_f32_backward_data = ref_conv_same_backward_data,
    .conv_same_f32_backward_weights = ref_conv_same_backward_weights,
    .depthwise_f32_forward = ref_depthwise_forward,
    .depthwise_f32_backward_data = ref_depthwise_backward_data,
    .depthwise_f32_backward_weights = ref_depthwise_backward_weights,
};

const eng_kernels *eng_kernels_ref(void)
{
    return &ref_kernels;
}
