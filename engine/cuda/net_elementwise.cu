// net_elementwise.cu - element-wise network operations on the device: ReLU, ReLU6, hard
// swish, sums, bias, the SGD update and the flatten permutation. Each element is computed with the CPU's
// operations in the CPU's order (no fused multiply-add), so results are bit-identical.
#include "net_kernels.cuh"

__global__ void relu_forward_kernel(size_t count, const float *__restrict__ x,
                                    float *__restrict__ y)
{
    GRID_STRIDE(i, count) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(size_t count, const float *__restrict__ y,
                                     const float *__restrict__ dy, float *__restrict__ dx)
{
    GRID_STRIDE(i, count) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void relu6_forward_kernel(size_t count, const float *__restrict__ x,
                                     float *__restrict__ y)
{
    GRID_STRIDE(i, count) {
        float v = x[i] > 0.0f ? x[i] : 0.0f;
        y[i] = v < 6.0f ? v : 6.0f;
    }
}

__global__ void relu6_backward_kernel(size_t count, const float *__restrict__ x,
                                      const float *__restrict__ dy, float *__restrict__ dx)
{
    GRID_STRIDE(i, count) dx[i] = (x[i] > 0.0f && x[i] < 6.0f) ? dy[i] : 0.0f;
}

// eng_hardswish_forward: (x * clamp(x + 3, 0, 6)) / 6, rounded as the CPU rounds
__global__ void hardswish_forward_kernel(size_t count, const float *__restrict__ x,
                                         float *__restrict__ y)
{
    GRID_STRIDE(i, count) {
        float r = __fadd_rn(x[i], 3.0f);
        r = r > 0.0f ? r : 0.0f;
        r = r < 6.0f ? r : 6.0f;
        y[i] = __fdiv_rn(__fmul_rn(x[i], r), 6.0f);
    }
}

// eng_hardswish_backward: dy * (x < -3 ? 0 : x > 3 ? 1 : (2x + 3) / 6)
__global__ void hardswish_backward_kernel(size_t count, const float *__restrict__ x,
                                          const float *__restrict__ dy, float *__restrict__ dx)
{
    GRID_STRIDE(i, count) {
        const float v = x[i];
        const float d = v < -3.0f  ? 0.0f
                        : v > 3.0f ? 1.0f
                                   : __fdiv_rn(__fadd_rn(__fmul_rn(2.0f, v), 3.0f), 6.0f);
        dx[i] = __fmul_rn(dy[i], d);
    }
}

// y may be a or b: no __restrict__
__global__ void add_kernel(size_t count, const float *a, const float *b, float *y)
{
    GRID_STRIDE(i, count) y[i] = a[i] + b[i];
}

__global__ void bias_add_kernel(size_t total, size_t positions, const float *__restrict__ bias,
                                float *__restrict__ y)
{
    GRID_STRIDE(i, total) y[i] += bias[i / positions];
}

__global__ void sgd_kernel(size_t count, float lr, float mu, float wd, bool nesterov,
                           float *__restrict__ w, float *__restrict__ v,
                           const float *__restrict__ g)
{
    GRID_STRIDE(i, count) {
        float gi = __fadd_rn(g[i], __fmul_rn(wd, w[i]));
        float vi = __fadd_rn(__fmul_rn(mu, v[i]), gi);
        v[i] = vi;
        float step = nesterov ? __fadd_rn(gi, __fmul_rn(mu, vi)) : vi;
        w[i] = __fsub_rn(w[i], __fmul_rn(lr, step));
    }
}

// x[ci][b][i] (i < hw) <-> y[ci*hw + i][b]
__global__ void flatten_kernel(int c, int n, size_t hw, bool forward, const float *__restrict__ in,
                               float *__restrict__ out)
{
    size_t total = (size_t)c * n * hw;
    GRID_STRIDE(e, total) {
        size_t i = e % hw, cb = e / hw;
        size_t b = cb % (size_t)n, ci = cb / (size_t)n;
        size_t f = (ci * hw + i) * (size_t)n + b;
        if (forward)
            out[f] = in[e];
        else
            out[e] = in[f];
    }
}

eng_status cuda_net_relu_forward(size_t count, const float *x, float *y)
{
    NET_RUN(count, relu_forward_kernel, count, x, y);
}

eng_status cuda_net_relu_backward(size_t count, const float *y, const float *dy, float *dx)
{
    NET_RUN(count, relu_backward_kernel, count, y, dy, dx);
}

eng_status cuda_net_relu6_forward(size_t count, const float *x, float *y)
{
    NET_RUN(count, relu6_forward_kernel, count, x, y);
}

eng_status cuda_net_relu6_backward(size_t count, const float *x, const float *dy, float *dx)
{
    NET_RUN(count, relu6_backward_kernel, count, x, dy, dx);
}

eng_status cuda_net_hardswish_forward(size_t count, const float *x, float *y)
{
    NET_RUN(count, hardswish_forward_kernel, count, x, y);
}

eng_status cuda_net_hardswish_backward(size_t count, const float *x, const float *dy, float *dx)
{
    NET_RUN(count, hardswish_backward_kernel, count, x, dy, dx);
}

eng_status cuda_net_add(size_t count, const float *a, const float *b, float *y)
{
    NET_RUN(count, add_kernel, count, a, b, y);
}

eng_status cuda_net_bias_add(int channels, size_t positions, const float *bias, float *y)
{
    size_t total = (size_t)channels * positions;
    NET_RUN(total, bias_add_kernel, total, positions, bias, y);
}

eng_status cuda_net_sgd_update(size_t count, float lr, float momentum, float weight_decay,
                               bool nesterov, float *w, float *v, const float *g)
{
    NET_RUN(count, sgd_kernel, count, lr, momentum, weight_decay, nesterov, w, v, g);
}

eng_status cuda_net_flatten_forward(int c, int n, int h, int w, const float *x, float *y)
{
    size_t total = (size_t)c * n * h * w;
    NET_RUN(total, flatten_kernel, c, n, (size_t)h * w, true, x, y);
}

eng_status cuda_net_flatten_backward(int c, int n, int h, int w, const float *dy, float *dx)
{
    size_t total = (size_t)c * n * h * w;
    NET_RUN(total, flatten_kernel, c, n, (size_t)h * w, false, dy, dx);
}
