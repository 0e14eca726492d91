// net_quant.cu - the pieces of the quantized layers on the device: per-row min/max, codes and
// fake-quantized values with per-row parameters, the STE mask, code sums and the
// dequantization with per-channel activation sums. All bit-identical to the CPU (integer sums,
// IEEE division with round-half-even, the dequantization scale in double).
#include "net_kernels.cuh"
#include "quantize.cuh"

// The integer code of x under p (eng_quant_code).
__device__ inline int32_t code_of(const eng_qparams &p, float x)
{
    float q = rintf(__fdiv_rn(x, p.scale)) + (float)p.zero_point;
    if (q != q)
        return p.zero_point;
    return q < (float)p.qmin ? p.qmin : q > (float)p.qmax ? p.qmax : (int32_t)q;
}

// Floats as order-preserving signed integers (for atomicMin / atomicMax; NaN never enters).
__device__ inline int float_key(float f)
{
    int b = __float_as_int(f);
    return b >= 0 ? b : b ^ 0x7fffffff;
}

__device__ inline float key_float(int k)
{
    return __int_as_float(k >= 0 ? k : k ^ 0x7fffffff);
}

__global__ void minmax_init_kernel(int rows, int *__restrict__ keys)
{
    for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
        keys[2 * r] = float_key(INFINITY);
        keys[2 * r + 1] = float_key(-INFINITY);
    }
}

// Block (x, y) reduces slice x of row y and folds it into the row's keys atomically (min and
// max do not depend on the order).
__global__ void minmax_rows_kernel(const float *__restrict__ x, size_t count, int *__restrict__ keys)
{
    __shared__ float lo_s[NET_REDUCE_THREADS], hi_s[NET_REDUCE_THREADS];
    const float *row = x + (size_t)blockIdx.y * count;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = (size_t)blockIdx.x * NET_REDUCE_THREADS + threadIdx.x; i < count;
         i += (size_t)gridDim.x * NET_REDUCE_THREADS) {
        float v = row[i];
        if (v != v)
            continue;
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
    }
    lo_s[threadIdx.x] = lo;
    hi_s[threadIdx.x] = hi;
    __syncthreads();
    for (int half = NET_REDUCE_THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) {
            lo_s[threadIdx.x] = fminf(lo_s[threadIdx.x], lo_s[threadIdx.x + half]);
            hi_s[threadIdx.x] = fmaxf(hi_s[threadIdx.x], hi_s[threadIdx.x + half]);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0 && lo_s[0] <= hi_s[0]) {
        atomicMin(&keys[2 * blockIdx.y], float_key(lo_s[0]));
        atomicMax(&keys[2 * blockIdx.y + 1], float_key(hi_s[0]));
    }
}

// Keys -> floats in place; a row without any number gives 0, 0 (eng_quant_minmax).
__global__ void minmax_finish_kernel(int rows, float *__restrict__ lohi)
{
    for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
        const int *keys = reinterpret_cast<const int *>(lohi);
        float lo = key_float(keys[2 * r]), hi = key_float(keys[2 * r + 1]);
        bool found = lo <= hi;
        lohi[2 * r] = found ? lo : 0.0f;
        lohi[2 * r + 1] = found ? hi : 0.0f;
    }
}

__global__ void quantize_rows_kernel(const float *__restrict__ x, size_t total, size_t count,
                                     const eng_qparams *__restrict__ p, uint8_t *__restrict__ codes,
                                     float *__restrict__ fq)
{
    GRID_STRIDE(e, total) {
        const eng_qparams q = p[e / count];
        int32_t v = code_of(q, x[e]);
        if (codes)
            codes[e] = (uint8_t)v;
        if (fq)
            fq[e] = __fmul_rn((float)(v - q.zero_point), q.scale);
    }
}

// dx may be dy
__global__ void fq_backward_rows_kernel(const float *__restrict__ x, const float *dy,
                                        size_t total, size_t count,
                                        const eng_qparams *__restrict__ p, float *dx)
{
    GRID_STRIDE(e, total) {
        const eng_qparams q = p[e / count];
        float c = rintf(__fdiv_rn(x[e], q.scale)) + (float)q.zero_point;
        dx[e] = c >= (float)q.qmin && c <= (float)q.qmax ? dy[e] : 0.0f;
    }
}

__global__ void code_row_sums_kernel(const uint8_t *__restrict__ codes, size_t count,
                                     int32_t *__restrict__ sums)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    const uint8_t *row = codes + (size_t)blockIdx.x * count;
    double s = 0.0; // integers below 2^53: exact in any order
    for (size_t i = threadIdx.x; i < count; i += NET_REDUCE_THREADS)
        s += row[i];
    s = net_block_sum(s, shared);
    if (threadIdx.x == 0)
        sums[blockIdx.x] = (int32_t)s;
}

__global__ void dequantize_rows_kernel(bool asym, eng_qparams act, const eng_qparams *__restrict__ wq,
                                       size_t total, size_t positions, int k,
                                       const int32_t *__restrict__ acc,
                                       const int32_t *__restrict__ asum, size_t asum_stride,
                                       const int32_t *__restrict__ wsum,
                                       const float *__restrict__ bias, float *__restrict__ y)
{
    GRID_STRIDE(e, total)
        y[e] = dequantize_element(asym, act, wq, positions, k, acc, asum, asum_stride, wsum,
                                  bias, e);
}

eng_status cuda_net_minmax_rows(const float *x, int rows, size_t count, float *lohi)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (rows <= 0)
        return ENG_OK;
    if (rows > 65535)
        return eng_error(ENG_ERR_ARG, "minmax_rows: %d rows (at most 65535)", rows);
    int *keys = reinterpret_cast<int *>(lohi);
    minmax_init_kernel<<<NET_GRID(ctx, (size_t)rows)>>>(rows, keys);
    CUDA_CHECK_LAUNCH();
    // enough blocks to fill the device on one long row, one per short row
    size_t slices = (count + 8 * NET_REDUCE_THREADS - 1) / (8 * NET_REDUCE_THREADS);
    size_t fill = ((size_t)ctx->sm_count * 4 + rows - 1) / rows;
    if (slices > fill)
        slices = fill;
    if (slices < 1)
        slices = 1;
    if (count > 0) {
        minmax_rows_kernel<<<dim3((unsigned)slices, (unsigned)rows), NET_REDUCE_THREADS, 0,
                             ctx->stream>>>(x, count, keys);
        CUDA_CHECK_LAUNCH();
    }
    minmax_finish_kernel<<<NET_GRID(ctx, (size_t)rows)>>>(rows, lohi);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

eng_status cuda_net_quantize_rows(const float *x, int rows, size_t count, const eng_qparams *p,
                                  uint8_t *codes, float *fq)
{
    size_t total = (size_t)rows * count;
    NET_RUN(total, quantize_rows_kernel, x, total, count, p, codes, fq);
}

eng_status cuda_net_fake_quantize_backward_rows(const float *x, const float *dy, int rows,
                                                size_t count, const eng_qparams *p, float *dx)
{
    size_t total = (size_t)rows * count;
    NET_RUN(total, fq_backward_rows_kernel, x, dy, total, count, p, dx);
}

eng_status cuda_net_code_row_sums(const uint8_t *codes, int rows, size_t count, int32_t *sums)
{
    NET_RUN_ROWS(rows, code_row_sums_kernel, codes, count, sums);
}

eng_status cuda_net_dequantize(bool asym, const eng_qparams *act, const eng_qparams *wq,
                               int channels, size_t positions, int k, const int32_t *acc,
                               const int32_t *asum, size_t asum_stride, const int32_t *wsum,
                               const float *bias, const eng_epilogue *ep, float *y)
{
    if (ep)
        return eng_error(ENG_ERR_UNSUPPORTED, "dequantize: no epilogue on the device");
    size_t total = (size_t)channels * positions;
    NET_RUN(total, dequantize_rows_kernel, asym, *act, wq, total, positions, k, acc, asum,
            asum_stride, wsum, bias, y);
}
