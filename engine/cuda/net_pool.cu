// net_pool.cu - max, average and global average pooling on the device, over planes of h x w
// (CNHW: c*n planes). Forward: one thread per output; backward gathers: one thread per input
// pixel visits the windows that contain it in the CPU's (row-major) order, so every sum and
// every chosen maximum is the CPU's, bit for bit, without atomics.
#include <float.h>

#include "net_kernels.cuh"

// Window [y0, y1) x [x0, x1) of output (oy, ox), clipped to the image (layers_pool.c).
__device__ inline void pool_window(const eng_pool_shape &s, int oy, int ox, int *y0, int *y1,
                                   int *x0, int *x1)
{
    int ys = oy * s.stride - s.pad, xs = ox * s.stride - s.pad;
    int ye = ys + s.kernel, xe = xs + s.kernel;
    *y0 = ys < 0 ? 0 : ys;
    *x0 = xs < 0 ? 0 : xs;
    *y1 = ye > s.h ? s.h : ye;
    *x1 = xe > s.w ? s.w : xe;
}

__device__ inline float avg_divisor(const eng_pool_shape &s, bool include_pad, int oy, int ox,
                                    int y0, int y1, int x0, int x1)
{
    if (!include_pad)
        return (float)((y1 - y0) * (x1 - x0));
    int ys = oy * s.stride - s.pad, xs = ox * s.stride - s.pad;
    int ye = ys + s.kernel, xe = xs + s.kernel;
    if (ye > s.h + s.pad)
        ye = s.h + s.pad;
    if (xe > s.w + s.pad)
        xe = s.w + s.pad;
    return (float)((ye - ys) * (xe - xs));
}

// Outputs whose windows contain input row (or column) i: [*lo, *hi].
__device__ inline void pool_range(int i, int pad, int kernel, int stride, int out, int *lo,
                                  int *hi)
{
    int a = i + pad - kernel + 1;
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    int b = (i + pad) / stride;
    *hi = b < out - 1 ? b : out - 1;
}

__global__ void maxpool_forward_kernel(eng_pool_shape s, size_t total, const float *__restrict__ x,
                                       float *__restrict__ y)
{
    GRID_STRIDE(e, total) {
        int ox = (int)(e % s.ow), oy = (int)(e / s.ow % s.oh);
        const float *xp = x + e / ((size_t)s.oh * s.ow) * ((size_t)s.h * s.w);
        int y0, y1, x0, x1;
        pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
        float m = -FLT_MAX;
        for (int i = y0; i < y1; i++)
            for (int j = x0; j < x1; j++)
                if (xp[i * s.w + j] > m)
                    m = xp[i * s.w + j];
        y[e] = m;
    }
}

__global__ void maxpool_backward_kernel(eng_pool_shape s, size_t total,
                                        const float *__restrict__ x,
                                        const float *__restrict__ dy, float *__restrict__ dx)
{
    GRID_STRIDE(e, total) {
        int ix = (int)(e % s.w), iy = (int)(e / s.w % s.h);
        size_t plane = e / ((size_t)s.h * s.w);
        const float *xp = x + plane * s.h * s.w;
        const float *dyp = dy + plane * s.oh * s.ow;
        int oy0, oy1, ox0, ox1;
        pool_range(iy, s.pad, s.kernel, s.stride, s.oh, &oy0, &oy1);
        pool_range(ix, s.pad, s.kernel, s.stride, s.ow, &ox0, &ox1);
        const int me = iy * s.w + ix;
        float g = 0.0f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++) {
                int y0, y1, x0, x1;
                pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
                int best = y0 * s.w + x0;
                for (int i = y0; i < y1; i++)
                    for (int j = x0; j < x1; j++)
                        if (xp[i * s.w + j] > xp[best])
                            best = i * s.w + j;
                if (best == me)
                    g += dyp[oy * s.ow + ox];
            }
        dx[e] = g;
    }
}

__global__ void avgpool_forward_kernel(eng_pool_shape s, bool include_pad, size_t total,
                                       const float *__restrict__ x, float *__restrict__ y)
{
    GRID_STRIDE(e, total) {
        int ox = (int)(e % s.ow), oy = (int)(e / s.ow % s.oh);
        const float *xp = x + e / ((size_t)s.oh * s.ow) * ((size_t)s.h * s.w);
        int y0, y1, x0, x1;
        pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
        float sum = 0.0f;
        for (int i = y0; i < y1; i++)
            for (int j = x0; j < x1; j++)
                sum += xp[i * s.w + j];
        y[e] = __fdiv_rn(sum, avg_divisor(s, include_pad, oy, ox, y0, y1, x0, x1));
    }
}

__global__ void avgpool_backward_kernel(eng_pool_shape s, bool include_pad, size_t total,
                                        const float *__restrict__ dy, float *__restrict__ dx)
{
    GRID_STRIDE(e, total) {
        int ix = (int)(e % s.w), iy = (int)(e / s.w % s.h);
        const float *dyp = dy + e / ((size_t)s.h * s.w) * ((size_t)s.oh * s.ow);
        int oy0, oy1, ox0, ox1;
        pool_range(iy, s.pad, s.kernel, s.stride, s.oh, &oy0, &oy1);
        pool_range(ix, s.pad, s.kernel, s.stride, s.ow, &ox0, &ox1);
        float g = 0.0f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++) {
                int y0, y1, x0, x1;
                pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
                g += __fdiv_rn(dyp[oy * s.ow + ox],
                               avg_divisor(s, include_pad, oy, ox, y0, y1, x0, x1));
            }
        dx[e] = g;
    }
}

__global__ void global_avgpool_forward_kernel(size_t planes, size_t hw,
                                              const float *__restrict__ x, float *__restrict__ y)
{
    GRID_STRIDE(p, planes) {
        const float *xp = x + p * hw;
        float sum = 0.0f;
        for (size_t i = 0; i < hw; i++)
            sum += xp[i];
        y[p] = __fdiv_rn(sum, (float)hw);
    }
}

__global__ void global_avgpool_backward_kernel(size_t total, size_t hw,
                                               const float *__restrict__ dy,
                                               float *__restrict__ dx)
{
    GRID_STRIDE(e, total) dx[e] = __fdiv_rn(dy[e / hw], (float)hw);
}

eng_status cuda_net_maxpool_forward(const eng_pool_shape *s, const float *x, float *y)
{
    size_t total = (size_t)s->planes * s->oh * s->ow;
    NET_RUN(total, maxpool_forward_kernel, *s, total, x, y);
}

eng_status cuda_net_maxpool_backward(const eng_pool_shape *s, const float *x, const float *dy,
                                     float *dx)
{
    size_t total = (size_t)s->planes * s->h * s->w;
    NET_RUN(total, maxpool_backward_kernel, *s, total, x, dy, dx);
}

eng_status cuda_net_avgpool_forward(const eng_pool_shape *s, bool count_include_pad,
                                    const float *x, float *y)
{
    size_t total = (size_t)s->planes * s->oh * s->ow;
    NET_RUN(total, avgpool_forward_kernel, *s, count_include_pad, total, x, y);
}

eng_status cuda_net_avgpool_backward(const eng_pool_shape *s, bool count_include_pad,
                                     const float *dy, float *dx)
{
    size_t total = (size_t)s->planes * s->h * s->w;
    NET_RUN(total, avgpool_backward_kernel, *s, count_include_pad, total, dy, dx);
}

eng_status cuda_net_global_avgpool_forward(size_t planes, size_t hw, const float *x, float *y)
{
    NET_RUN(planes, global_avgpool_forward_kernel, planes, hw, x, y);
}

eng_status cuda_net_global_avgpool_backward(size_t planes, size_t hw, const float *dy,
                                            float *dx)
{
    size_t total = planes * hw;
    NET_RUN(total, global_avgpool_backward_kernel, total, hw, dy, dx);
}
