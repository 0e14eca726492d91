// net_norm.cu - batch normalization and bias gradients on the device. A channel of a CNHW
// tensor is one contiguous row of m = n*h*w values. Batch-norm statistics reduce in two
// deterministic stages so that narrow layers still fill the device: blocks sum fixed slices
// of each row in double, then one thread per channel adds the slice sums in slice order (the
// result does not depend on the launch). The per-element arithmetic is the CPU's
// (layers_norm.c) without fused multiply-adds.
#include "net_kernels.cuh"

// Slices per channel: enough blocks for long rows, at most BN_MAX_SLICES.
constexpr int BN_MAX_SLICES = 64;

static int bn_slices(size_t m)
{
    size_t s = (m + 4 * NET_REDUCE_THREADS - 1) / (4 * NET_REDUCE_THREADS);
    return s < 1 ? 1 : s > BN_MAX_SLICES ? BN_MAX_SLICES : (int)s;
}

// The workspace: slice sums [c][slices][2] and channel means [c] (double), per-channel
// coefficients [c][3] (float).
struct bn_ws {
    double *part, *mean;
    float *coef;
};

static bn_ws bn_ws_split(void *ws, int c, int slices)
{
    bn_ws w;
    w.part = (double *)ws;
    w.mean = w.part + (size_t)c * slices * 2;
    w.coef = (float *)(w.mean + c);
    return w;
}

size_t cuda_net_batchnorm_workspace(int c, size_t m)
{
    return sizeof(double) * ((size_t)c * bn_slices(m) * 2 + c) + sizeof(float) * 3 * (size_t)c;
}

// Range [*i0, *i1) of slice `s` of `slices` over m values.
__device__ inline void bn_slice(size_t m, int slices, int s, size_t *i0, size_t *i1)
{
    size_t len = (m + slices - 1) / slices;
    *i0 = (size_t)s * len;
    *i1 = *i0 + len < m ? *i0 + len : m;
}

// part[c][s][0] = sum of x over slice s of channel c; with mean: the sum of (x - mean[c])^2.
__global__ void bn_slice_sums_kernel(size_t m, int slices, const float *__restrict__ x,
                                     const double *__restrict__ mean, double *__restrict__ part)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    const int c = blockIdx.y, s = blockIdx.x;
    const float *xc = x + (size_t)c * m;
    size_t i0, i1;
    bn_slice(m, slices, s, &i0, &i1);
    double acc = 0.0;
    if (mean) {
        const double mu = mean[c];
        for (size_t i = i0 + threadIdx.x; i < i1; i += NET_REDUCE_THREADS) {
            double d = xc[i] - mu;
            acc += d * d;
        }
    } else {
        for (size_t i = i0 + threadIdx.x; i < i1; i += NET_REDUCE_THREADS)
            acc += xc[i];
    }
    acc = net_block_sum(acc, shared);
    if (threadIdx.x == 0)
        part[((size_t)c * slices + s) * 2] = acc;
}

// part[c][s][0..1] = sums of dy and dy * xhat over slice s (xhat = (x - mean) * invstd).
__global__ void bn_slice_dy_sums_kernel(size_t m, int slices, const float *__restrict__ x,
                                        const float *__restrict__ dy,
                                        const float *__restrict__ save_mean,
                                        const float *__restrict__ save_invstd,
                                        double *__restrict__ part)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    const int c = blockIdx.y, s = blockIdx.x;
    const float *xc = x + (size_t)c * m, *dyc = dy + (size_t)c * m;
    const float mean = save_mean[c], invstd = save_invstd[c];
    size_t i0, i1;
    bn_slice(m, slices, s, &i0, &i1);
    double a = 0.0, b = 0.0;
    for (size_t i = i0 + threadIdx.x; i < i1; i += NET_REDUCE_THREADS) {
        a += dyc[i];
        b += (double)dyc[i] * (double)__fmul_rn(__fsub_rn(xc[i], mean), invstd);
    }
    a = net_block_sum(a, shared);
    b = net_block_sum(b, shared);
    if (threadIdx.x == 0) {
        part[((size_t)c * slices + s) * 2] = a;
        part[((size_t)c * slices + s) * 2 + 1] = b;
    }
}

// Sum of component k of channel c's slice sums, in slice order.
__device__ inline double bn_total(const double *part, int c, int slices, int k)
{
    double t = 0.0;
    for (int s = 0; s < slices; s++)
        t += part[((size_t)c * slices + s) * 2 + k];
    return t;
}

__global__ void bn_mean_kernel(int channels, size_t m, int slices, const double *__restrict__ part,
                               double *__restrict__ mean)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += gridDim.x * blockDim.x)
        mean[c] = bn_total(part, c, slices, 0) / (double)m;
}

// Batch statistics -> saved mean / invstd, running statistics, coef[c] = {scale, shift}.
__global__ void bn_train_finish_kernel(int channels, size_t m, int slices,
                                       const double *__restrict__ part,
                                       const double *__restrict__ mean_d,
                                       const float *__restrict__ gamma,
                                       const float *__restrict__ beta, float eps, float momentum,
                                       float *__restrict__ running_mean,
                                       float *__restrict__ running_var,
                                       float *__restrict__ save_mean,
                                       float *__restrict__ save_invstd, float *__restrict__ coef)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels;
         c += gridDim.x * blockDim.x) {
        const double mean = mean_d[c], sq = bn_total(part, c, slices, 0);
        const double var = sq / (double)m;
        const double unbiased = m > 1 ? sq / (double)(m - 1) : var;
        const float invstd = (float)(1.0 / sqrt(var + eps));
        const float scale = __fmul_rn(gamma[c], invstd);
        coef[3 * c] = scale;
        coef[3 * c + 1] = __fsub_rn(beta[c], __fmul_rn((float)mean, scale));
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        running_mean[c] = __fadd_rn(__fmul_rn(1.0f - momentum, running_mean[c]),
                                    __fmul_rn(momentum, (float)mean));
        running_var[c] = __fadd_rn(__fmul_rn(1.0f - momentum, running_var[c]),
                                   __fmul_rn(momentum, (float)unbiased));
    }
}

__global__ void bn_apply_kernel(size_t total, size_t m, const float *__restrict__ x,
                                const float *__restrict__ coef, float *__restrict__ y)
{
    GRID_STRIDE(e, total) {
        size_t c = e / m;
        y[e] = __fadd_rn(__fmul_rn(x[e], coef[3 * c]), coef[3 * c + 1]);
    }
}

__global__ void bn_eval_kernel(size_t total, size_t m, const float *__restrict__ x,
                               const float *__restrict__ gamma, const float *__restrict__ beta,
                               const float *__restrict__ running_mean,
                               const float *__restrict__ running_var, float eps,
                               float *__restrict__ y)
{
    GRID_STRIDE(e, total) {
        size_t c = e / m;
        float scale = __fdiv_rn(gamma[c], __fsqrt_rn(__fadd_rn(running_var[c], eps)));
        float shift = __fsub_rn(beta[c], __fmul_rn(running_mean[c], scale));
        y[e] = __fadd_rn(__fmul_rn(x[e], scale), shift);
    }
}

// dgamma, dbeta and coef[c] = {gamma * invstd, mean(dy), mean(dy * xhat)}.
__global__ void bn_backward_finish_kernel(int channels, size_t m, int slices,
                                          const double *__restrict__ part,
                                          const float *__restrict__ gamma,
                                          const float *__restrict__ save_invstd,
                                          float *__restrict__ dgamma, float *__restrict__ dbeta,
                                          float *__restrict__ coef)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels;
         c += gridDim.x * blockDim.x) {
        const double sdy = bn_total(part, c, slices, 0), sdyx = bn_total(part, c, slices, 1);
        dgamma[c] = (float)sdyx;
        dbeta[c] = (float)sdy;
        coef[3 * c] = __fmul_rn(gamma[c], save_invstd[c]);
        coef[3 * c + 1] = (float)(sdy / (double)m);
        coef[3 * c + 2] = (float)(sdyx / (double)m);
    }
}

// dx = k * (dy - mean(dy) - xhat * mean(dy * xhat)); dx may be dy (same element, one thread)
__global__ void bn_backward_apply_kernel(size_t total, size_t m, const float *__restrict__ x,
                                         const float *dy, const float *__restrict__ save_mean,
                                         const float *__restrict__ save_invstd,
                                         const float *__restrict__ coef, float *dx)
{
    GRID_STRIDE(e, total) {
        size_t c = e / m;
        float xhat = __fmul_rn(__fsub_rn(x[e], save_mean[c]), save_invstd[c]);
        dx[e] = __fmul_rn(coef[3 * c], __fsub_rn(__fsub_rn(dy[e], coef[3 * c + 1]),
                                                 __fmul_rn(xhat, coef[3 * c + 2])));
    }
}

__global__ void row_sums_kernel(size_t positions, const float *__restrict__ dy,
                                float *__restrict__ db)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    const float *row = dy + (size_t)blockIdx.x * positions;
    double s = 0.0;
    for (size_t i = threadIdx.x; i < positions; i += NET_REDUCE_THREADS)
        s += row[i];
    s = net_block_sum(s, shared);
    if (threadIdx.x == 0)
        db[blockIdx.x] = (float)s;
}

static eng_status bn_check(int c, size_t m, const void *ws)
{
    if (c < 1 || c > 65535 || m == 0)
        return eng_error(ENG_ERR_ARG, "batchnorm: %d channels of %zu values", c, m);
    if (!ws)
        return eng_error(ENG_ERR_ARG, "batchnorm: no workspace");
    return ENG_OK;
}

eng_status cuda_net_batchnorm_forward_train(int c, size_t m, const float *x, const float *gamma,
                                            const float *beta, float eps, float momentum,
                                            float *running_mean, float *running_var, float *y,
                                            float *save_mean, float *save_invstd, void *ws)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    ENG_TRY(bn_check(c, m, ws));
    const int slices = bn_slices(m);
    bn_ws w = bn_ws_split(ws, c, slices);
    const dim3 grid((unsigned)slices, (unsigned)c);
    bn_slice_sums_kernel<<<grid, NET_REDUCE_THREADS, 0, ctx->stream>>>(m, slices, x, nullptr,
                                                                       w.part);
    CUDA_CHECK_LAUNCH();
    bn_mean_kernel<<<NET_GRID(ctx, (size_t)c)>>>(c, m, slices, w.part, w.mean);
    CUDA_CHECK_LAUNCH();
    bn_slice_sums_kernel<<<grid, NET_REDUCE_THREADS, 0, ctx->stream>>>(m, slices, x, w.mean,
                                                                       w.part);
    CUDA_CHECK_LAUNCH();
    bn_train_finish_kernel<<<NET_GRID(ctx, (size_t)c)>>>(c, m, slices, w.part, w.mean, gamma,
                                                         beta, eps, momentum, running_mean,
                                                         running_var, save_mean, save_invstd,
                                                         w.coef);
    CUDA_CHECK_LAUNCH();
    size_t total = (size_t)c * m;
    bn_apply_kernel<<<NET_GRID(ctx, total)>>>(total, m, x, w.coef, y);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

eng_status cuda_net_batchnorm_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                           const float *beta, const float *running_mean,
                                           const float *running_var, float eps, float *y)
{
    size_t total = (size_t)c * m;
    NET_RUN(total, bn_eval_kernel, total, m, x, gamma, beta, running_mean, running_var, eps, y);
}

eng_status cuda_net_batchnorm_backward(int c, size_t m, const float *x, const float *gamma,
                                       const float *save_mean, const float *save_invstd,
                                       const float *dy, float *dx, float *dgamma, float *dbeta,
                                       void *ws)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    ENG_TRY(bn_check(c, m, ws));
    const int slices = bn_slices(m);
    bn_ws w = bn_ws_split(ws, c, slices);
    bn_slice_dy_sums_kernel<<<dim3((unsigned)slices, (unsigned)c), NET_REDUCE_THREADS, 0,
                              ctx->stream>>>(m, slices, x, dy, save_mean, save_invstd, w.part);
    CUDA_CHECK_LAUNCH();
    bn_backward_finish_kernel<<<NET_GRID(ctx, (size_t)c)>>>(c, m, slices, w.part, gamma,
                                                            save_invstd, dgamma, dbeta, w.coef);
    CUDA_CHECK_LAUNCH();
    size_t total = (size_t)c * m;
    bn_backward_apply_kernel<<<NET_GRID(ctx, total)>>>(total, m, x, dy, save_mean, save_invstd,
                                                       w.coef, dx);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

eng_status cuda_net_bias_backward(int channels, size_t positions, const float *dy, float *db)
{
    NET_RUN_ROWS(channels, row_sums_kernel, positions, dy, db);
}
