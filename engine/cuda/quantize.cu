// quantize.cu - element-wise quantization and dequantization, one thread per element; the
// arithmetic is the reference's operation for operation (IEEE division, rint = round half to
// even, the dequantization scale in double), so the results are bit-identical.
#include "cuda_common.cuh"
#include "quantize.cuh"

__global__ void quantize_kernel(const float *__restrict__ x, size_t count, float scale,
                                int32_t zero_point, int32_t qmin, int32_t qmax,
                                uint8_t *__restrict__ codes)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        codes[i] = quantize_element(x[i], scale, zero_point, qmin, qmax);
}

__global__ void column_sums_kernel(const uint8_t *__restrict__ cols, int k, size_t n,
                                   int32_t *__restrict__ sums)
{
    for (size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x; j < n;
         j += (size_t)gridDim.x * blockDim.x) {
        int32_t s = 0;
        for (int p = 0; p < k; p++)
            s += cols[(size_t)p * n + j];
        sums[j] = s;
    }
}

eng_status cuda_quantize(const float *x, size_t count, float scale, int32_t zero_point,
                         int32_t qmin, int32_t qmax, uint8_t *codes)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (count == 0)
        return ENG_OK;
    if (!x || !codes)
        return eng_error(ENG_ERR_ARG, "quantize: NULL buffer");
    if (!(scale > 0.0f) || qmin > qmax || zero_point < qmin || zero_point > qmax)
        return eng_error(ENG_ERR_ARG, "quantize: bad parameters scale=%g zero_point=%d "
                         "range [%d, %d]", (double)scale, zero_point, qmin, qmax);
    quantize_kernel<<<cuda_grid_size(ctx, count), CUDA_ELEMENTWISE_THREADS, 0, ctx->stream>>>(
        x, count, scale, zero_point, qmin, qmax, codes);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

eng_status cuda_column_sums(const uint8_t *cols, int k, size_t n, int32_t *sums)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (k < 0)
        return eng_error(ENG_ERR_ARG, "column_sums: negative row count %d", k);
    if (n == 0)
        return ENG_OK;
    if (!sums || (k > 0 && !cols))
        return eng_error(ENG_ERR_ARG, "column_sums: NULL buffer");
    column_sums_kernel<<<cuda_grid_size(ctx, n), CUDA_ELEMENTWISE_THREADS, 0, ctx->stream>>>(
        cols, k, n, sums);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}
