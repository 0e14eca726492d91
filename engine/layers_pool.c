/*
 * layers_pool.c - max, average and global average pooling, forward and backward.
 *
 * Threaded over planes; each plane's output is computed by one thread, so the backward
 * scatter into dx never races.
 */
#include "eng_layers.h"

#include <float.h>
#include <string.h>

#define PAR_MIN 32768  /* values below which threads cost more than they save */

eng_status eng_pool_shape_init(eng_pool_shape *s, int planes, int h, int w, int kernel,
                               int stride, int pad)
{
    if (planes < 1 || h < 1 || w < 1 || kernel < 1 || stride < 1 || pad < 0)
        return eng_error(ENG_ERR_SHAPE, "pool: non-positive size (planes %d, %dx%d, kernel %d, "
                         "stride %d, pad %d)", planes, h, w, kernel, stride, pad);
    if (pad > kernel / 2)
        return eng_error(ENG_ERR_SHAPE, "pool: padding %d exceeds half the kernel %d", pad,
                         kernel);
    if (h + 2 * pad < kernel || w + 2 * pad < kernel)
        return eng_error(ENG_ERR_SHAPE, "pool: kernel %d larger than the padded input %dx%d",
                         kernel, h + 2 * pad, w + 2 * pad);
    s->planes = planes;
    s->h = h;
    s->w = w;
    s->kernel = kernel;
    s->stride = stride;
    s->pad = pad;
    s->oh = (h + 2 * pad - kernel) / stride + 1;
    s->ow = (w + 2 * pad - kernel) / stride + 1;
    return ENG_OK;
}

/* Window [y0, y1) x [x0, x1) of output (oy, ox), clipped to the image. */
static inline void pool_window(const eng_pool_shape *s, int oy, int ox, int *y0, int *y1,
                               int *x0, int *x1)
{
    int ys = oy * s->stride - s->pad, xs = ox * s->stride - s->pad;
    int ye = ys + s->kernel, xe = xs + s->kernel;
    *y0 = ys < 0 ? 0 : ys;
    *x0 = xs < 0 ? 0 : xs;
    *y1 = ye > s->h ? s->h : ye;
    *x1 = xe > s->w ? s->w : xe;
}

void eng_maxpool_forward(const eng_pool_shape *s, const float *x, float *y)
{
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static) if ((size_t)s->planes * in_plane > PAR_MIN)
    for (int p = 0; p < s->planes; p++) {
        const float *xp = x + p * in_plane;
        float *yp = y + p * out_plane;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
                float m = -FLT_MAX;
                for (int i = y0; i < y1; i++)
                    for (int j = x0; j < x1; j++)
                        if (xp[i * s->w + j] > m) m = xp[i * s->w + j];
                yp[oy * s->ow + ox] = m;
            }
    }
}

void eng_maxpool_backward(const eng_pool_shape *s, const float *x, const float *dy, float *dx)
{
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
    /* windows that do not overlap and tile the plane (2x2 stride 2, ...): every input pixel is
     * written once, no clearing and no read-modify-write */
    bool tiled = s->stride == s->kernel && s->pad == 0 && s->oh * s->kernel == s->h &&
                 s->ow * s->kernel == s->w;
#pragma omp parallel for schedule(static) if ((size_t)s->planes * in_plane > PAR_MIN)
    for (int p = 0; p < s->planes; p++) {
        const float *xp = x + p * in_plane;
        const float *dyp = dy + p * out_plane;
        float *dxp = dx + p * in_plane;
        if (!tiled) memset(dxp, 0, in_plane * sizeof *dxp);
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
                int best = y0 * s->w + x0;
                for (int i = y0; i < y1; i++)
                    for (int j = x0; j < x1; j++)
                        if (xp[i * s->w + j] > xp[best]) best = i * s->w + j;
                float g = dyp[oy * s->ow + ox];
                if (tiled) {
                    for (int i = y0; i < y1; i++)
                        for (int j = x0; j < x1; j++) dxp[i * s->w + j] = 0.0f;
                    dxp[best] = g;
                } else {
                    dxp[best] += g;
                }
            }
    }
}

static inline float avg_divisor(const eng_pool_shape *s, bool include_pad, int oy, int ox,
                                int y0, int y1, int x0, int x1)
{
    if (!include_pad) return (float)((y1 - y0) * (x1 - x0));
    /* padding counts, the part of the window beyond the padding does not (PyTorch) */
    int ys = oy * s->stride - s->pad, xs = ox * s->stride - s->pad;
    int ye = ys + s->kernel, xe = xs + s->kernel;
    if (ye > s->h + s->pad) ye = s->h + s->pad;
    if (xe > s->w + s->pad) xe = s->w + s->pad;
    return (float)((ye - ys) * (xe - xs));
}

void eng_avgpool_forward(const eng_pool_shape *s, bool count_include_pad, const float *x,
                         float *y)
{
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static) if ((size_t)s->planes * in_plane > PAR_MIN)
    for (int p = 0; p < s->planes; p++) {
        const float *xp = x + p * in_plane;
        float *yp = y + p * out_plane;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
                float sum = 0.0f;
                for (int i = y0; i < y1; i++)
                    for (int j = x0; j < x1; j++) sum += xp[i * s->w + j];
                yp[oy * s->ow + ox] =
                    sum / avg_divisor(s, count_include_pad, oy, ox, y0, y1, x0, x1);
            }
    }
}

void eng_avgpool_backward(const eng_pool_shape *s, bool count_include_pad, const float *dy,
                          float *dx)
{
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static) if ((size_t)s->planes * in_plane > PAR_MIN)
    for (int p = 0; p < s->planes; p++) {
        const float *dyp = dy + p * out_plane;
        float *dxp = dx + p * in_plane;
        memset(dxp, 0, in_plane * sizeof *dxp);
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                int y0, y1, x0, x1;
                pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
                float g = dyp[oy * s->ow + ox] /
                          avg_divisor(s, count_include_pad, oy, ox, y0, y1, x0, x1);
                for (int i = y0; i < y1; i++)
                    for (int j = x0; j < x1; j++) dxp[i * s->w + j] += g;
            }
    }
}

void eng_global_avgpool_forward(size_t planes, size_t hw, const float *x, float *y)
{
    ptrdiff_t np = (ptrdiff_t)planes;
#pragma omp parallel for schedule(static) if (planes * hw > PAR_MIN)
    for (ptrdiff_t p = 0; p < np; p++) {
        const float *xp = x + (size_t)p * hw;
        float sum = 0.0f;
        for (size_t i = 0; i < hw; i++) sum += xp[i];
        y[p] = sum / (float)hw;
    }
}

void eng_global_avgpool_backward(size_t planes, size_t hw, const float *dy, float *dx)
{
    ptrdiff_t np = (ptrdiff_t)planes;
#pragma omp parallel for schedule(static) if (planes * hw > PAR_MIN)
    for (ptrdiff_t p = 0; p < np; p++) {
        float g = dy[p] / (float)hw;
        float *dxp = dx + (size_t)p * hw;
        for (size_t i = 0; i < hw; i++) dxp[i] = g;
    }
}
