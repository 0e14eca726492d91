// net_norm.cu - batch normalization and bias gradients on the device: one block per channel
// (a channel of a CNHW tensor is one contiguous row of m = n*h*w values), sums in double as on
// the CPU; the per-element arithmetic is the CPU's without fused multiply-adds.
#include "net_kernels.cuh"

__global__ void bn_train_kernel(size_t m, const float *__restrict__ x,
                                const float *__restrict__ gamma, const float *__restrict__ beta,
                                float eps, float momentum, float *__restrict__ running_mean,
                                float *__restrict__ running_var, float *__restrict__ y,
                                float *__restrict__ save_mean, float *__restrict__ save_invstd)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    const int c = blockIdx.x;
    const float *xc = x + (size_t)c * m;
    float *yc = y + (size_t)c * m;
    double s = 0.0;
    for (size_t i = threadIdx.x; i < m; i += NET_REDUCE_THREADS)
        s += xc[i];
    const double mean = net_block_sum(s, shared) / (double)m;
    double q = 0.0;
    for (size_t i = threadIdx.x; i < m; i += NET_REDUCE_THREADS) {
        double d = xc[i] - mean;
        q += d * d;
    }
    const double sq = net_block_sum(q, shared);
    const double var = sq / (double)m;
    const double unbiased = m > 1 ? sq / (double)(m - 1) : var;
    const float invstd = (float)(1.0 / sqrt(var + eps));
    const float scale = __fmul_rn(gamma[c], invstd);
    const float shift = __fsub_rn(beta[c], __fmul_rn((float)mean, scale));
    for (size_t i = threadIdx.x; i < m; i += NET_REDUCE_THREADS)
        yc[i] = __fadd_rn(__fmul_rn(xc[i], scale), shift);
    if (threadIdx.x == 0) {
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        running_mean[c] = __fadd_rn(__fmul_rn(1.0f - momentum, running_mean[c]),
                                    __fmul_rn(momentum, (float)mean));
        running_var[c] = __fadd_rn(__fmul_rn(1.0f - momentum, running_var[c]),
                                   __fmul_rn(momentum, (float)unbiased));
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

// dx may be dy: no __restrict__ on them; every element is read before it is written, by the
// same thread, after both reductions.
__global__ void bn_backward_kernel(size_t m, const float *__restrict__ x,
                                   const float *__restrict__ gamma,
                                   const float *__restrict__ save_mean,
                                   const float *__restrict__ save_invstd, const float *dy,
                                   float *dx, float *__restrict__ dgamma,
                                   float *__restrict__ dbeta)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    const int c = blockIdx.x;
    const float *xc = x + (size_t)c * m;
    const float *dyc = dy + (size_t)c * m;
    float *dxc = dx + (size_t)c * m;
    const float mean = save_mean[c], invstd = save_invstd[c];
    double a = 0.0, b = 0.0;
    for (size_t i = threadIdx.x; i < m; i += NET_REDUCE_THREADS) {
        a += dyc[i];
        b += (double)dyc[i] * (double)__fmul_rn(__fsub_rn(xc[i], mean), invstd);
    }
    const double sdy = net_block_sum(a, shared);
    const double sdyx = net_block_sum(b, shared);
    const float k = __fmul_rn(gamma[c], invstd);
    const float mdy = (float)(sdy / (double)m), mdyx = (float)(sdyx / (double)m);
    for (size_t i = threadIdx.x; i < m; i += NET_REDUCE_THREADS) {
        float xhat = __fmul_rn(__fsub_rn(xc[i], mean), invstd);
        dxc[i] = __fmul_rn(k, __fsub_rn(__fsub_rn(dyc[i], mdy), __fmul_rn(xhat, mdyx)));
    }
    if (threadIdx.x == 0) {
        dgamma[c] = (float)sdyx;
        dbeta[c] = (float)sdy;
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

eng_status cuda_net_batchnorm_forward_train(int c, size_t m, const float *x, const float *gamma,
                                            const float *beta, float eps, float momentum,
                                            float *running_mean, float *running_var, float *y,
                                            float *save_mean, float *save_invstd)
{
    if (m == 0)
        return eng_error(ENG_ERR_ARG, "batchnorm: no values per channel");
    NET_RUN_ROWS(c, bn_train_kernel, m, x, gamma, beta, eps, momentum, running_mean, running_var,
                 y, save_mean, save_invstd);
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
                                       const float *dy, float *dx, float *dgamma, float *dbeta)
{
    if (m == 0)
        return eng_error(ENG_ERR_ARG, "batchnorm: no values per channel");
    NET_RUN_ROWS(c, bn_backward_kernel, m, x, gamma, save_mean, save_invstd, dy, dx, dgamma,
                 dbeta);
}

eng_status cuda_net_bias_backward(int channels, size_t positions, const float *dy, float *db)
{
    NET_RUN_ROWS(channels, row_sums_kernel, positions, dy, db);
}
