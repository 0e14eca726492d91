// net_depthwise.cu - float depthwise convolution (channel multiplier 1) on the device, and the
// activation window sums of the quantized one. Forward and the input gradient are per-element
// with the CPU's order of taps (bit-identical); the weight gradient reduces one (channel, tap)
// per block in double.
#include "net_kernels.cuh"

// Input pixel (iy, ix) of tap (i, j) for output (oy, ox); inside: within the image.
struct dw_tap {
    int iy, ix;
    bool inside;
};

__device__ inline dw_tap dw_tap_at(const eng_conv_shape &s, int oy, int ox, int i, int j)
{
    dw_tap t;
    t.iy = oy * s.stride + i * s.dilation - s.pad;
    t.ix = ox * s.stride + j * s.dilation - s.pad;
    t.inside = t.iy >= 0 && t.iy < s.h && t.ix >= 0 && t.ix < s.w;
    return t;
}

__global__ void dw_forward_kernel(eng_conv_shape s, size_t total, const float *__restrict__ x,
                                  const float *__restrict__ w, const float *__restrict__ bias,
                                  float *__restrict__ y)
{
    GRID_STRIDE(e, total) {
        int ox = (int)(e % s.ow), oy = (int)(e / s.ow % s.oh);
        size_t cb = e / ((size_t)s.oh * s.ow);
        int c = (int)(cb / s.n);
        const float *in = x + cb * s.h * s.w, *wk = w + (size_t)c * s.kh * s.kw;
        float sum = 0.0f;
        for (int i = 0; i < s.kh; i++)
            for (int j = 0; j < s.kw; j++) {
                dw_tap t = dw_tap_at(s, oy, ox, i, j);
                if (t.inside)
                    sum = __fadd_rn(sum, __fmul_rn(wk[i * s.kw + j], in[t.iy * s.w + t.ix]));
            }
        y[e] = __fadd_rn(sum, bias ? bias[c] : 0.0f);
    }
}

// Outputs o whose tap k lands on input i: o*stride + k*dilation - pad = i.
__global__ void dw_backward_data_kernel(eng_conv_shape s, size_t total,
                                        const float *__restrict__ w, const float *__restrict__ dy,
                                        float *__restrict__ dx)
{
    GRID_STRIDE(e, total) {
        int ix = (int)(e % s.w), iy = (int)(e / s.w % s.h);
        size_t cb = e / ((size_t)s.h * s.w);
        int c = (int)(cb / s.n);
        const float *g = dy + cb * s.oh * s.ow, *wk = w + (size_t)c * s.kh * s.kw;
        float d = 0.0f;
        for (int oy = 0; oy < s.oh; oy++) {
            int ry = iy + s.pad - oy * s.stride;
            if (ry < 0)
                break;
            if (ry % s.dilation || ry / s.dilation >= s.kh)
                continue;
            int i = ry / s.dilation;
            for (int ox = 0; ox < s.ow; ox++) {
                int rx = ix + s.pad - ox * s.stride;
                if (rx < 0)
                    break;
                if (rx % s.dilation || rx / s.dilation >= s.kw)
                    continue;
                int j = rx / s.dilation;
                d = __fadd_rn(d, __fmul_rn(wk[i * s.kw + j], g[oy * s.ow + ox]));
            }
        }
        dx[e] = d;
    }
}

// One block per (channel, tap): dw[c][t] = sum over images and outputs of dy * x at the tap.
__global__ void dw_backward_filter_kernel(eng_conv_shape s, const float *__restrict__ x,
                                          const float *__restrict__ dy, float *__restrict__ dw)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    const int kk = s.kh * s.kw;
    const int c = blockIdx.x / kk, t = blockIdx.x % kk, i = t / s.kw, j = t % s.kw;
    const size_t oplane = (size_t)s.oh * s.ow, positions = (size_t)s.n * oplane;
    double sum = 0.0;
    for (size_t p = threadIdx.x; p < positions; p += NET_REDUCE_THREADS) {
        size_t b = p / oplane;
        int oy = (int)(p % oplane / s.ow), ox = (int)(p % s.ow);
        dw_tap tap = dw_tap_at(s, oy, ox, i, j);
        if (!tap.inside)
            continue;
        size_t cb = (size_t)c * s.n + b;
        sum += (double)dy[cb * oplane + (size_t)oy * s.ow + ox] *
               x[cb * s.h * s.w + (size_t)tap.iy * s.w + tap.ix];
    }
    sum = net_block_sum(sum, shared);
    if (threadIdx.x == 0)
        dw[blockIdx.x] = (float)sum;
}

__global__ void dw_window_sums_kernel(eng_conv_shape s, size_t total, const uint8_t *__restrict__ x,
                                      uint8_t pad_code, int32_t *__restrict__ sums)
{
    GRID_STRIDE(e, total) {
        int ox = (int)(e % s.ow), oy = (int)(e / s.ow % s.oh);
        const uint8_t *in = x + e / ((size_t)s.oh * s.ow) * ((size_t)s.h * s.w);
        int32_t sum = 0;
        for (int i = 0; i < s.kh; i++)
            for (int j = 0; j < s.kw; j++) {
                dw_tap t = dw_tap_at(s, oy, ox, i, j);
                sum += t.inside ? in[t.iy * s.w + t.ix] : pad_code;
            }
        sums[e] = sum;
    }
}

eng_status cuda_net_depthwise_forward(const eng_conv_shape *s, const float *x, const float *w,
                                      const float *bias, float *y)
{
    ENG_TRY(cuda_check_shape(s, "depthwise forward"));
    size_t total = (size_t)s->c * s->n * s->oh * s->ow;
    NET_RUN(total, dw_forward_kernel, *s, total, x, w, bias, y);
}

eng_status cuda_net_depthwise_backward(const eng_conv_shape *s, const float *x, const float *w,
                                       const float *dy, float *dx, float *dw, float *db)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    ENG_TRY(cuda_check_shape(s, "depthwise backward"));
    if (db)
        ENG_TRY(cuda_net_bias_backward(s->c, (size_t)s->n * s->oh * s->ow, dy, db));
    if (dx) {
        size_t total = (size_t)s->c * s->n * s->h * s->w;
        dw_backward_data_kernel<<<NET_GRID(ctx, total)>>>(*s, total, w, dy, dx);
        CUDA_CHECK_LAUNCH();
    }
    dw_backward_filter_kernel<<<(unsigned)(s->c * s->kh * s->kw), NET_REDUCE_THREADS, 0,
                                ctx->stream>>>(*s, x, dy, dw);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

eng_status cuda_net_depthwise_window_sums(const eng_conv_shape *s, const uint8_t *x,
                                          uint8_t pad_code, int32_t *sums)
{
    ENG_TRY(cuda_check_shape(s, "depthwise window sums"));
    size_t total = (size_t)s->c * s->n * s->oh * s->ow;
    NET_RUN(total, dw_window_sums_kernel, *s, total, x, pad_code, sums);
}
