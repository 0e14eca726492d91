// sgemm.cu - row-major sgemm through column-major cuBLAS: C^T = op(B)^T op(A)^T, so cuBLAS
// gets B as its first operand and the dimensions n, m swapped. k = 0 (C = beta C) is done
// here: BLAS libraries disagree on it (MAGMA once returned without scaling C).
#include "cuda_common.cuh"
#include "sgemm.cuh"

// C = beta * C on an m x n row-major matrix (beta = 0 writes zeros without reading C).
__global__ void scale_kernel(int m, int n, float beta, float *c, int ldc)
{
    const size_t total = (size_t)m * n;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        float *p = c + e / n * ldc + e % n;
        *p = beta == 0.0f ? 0.0f : __fmul_rn(beta, *p);
    }
}

eng_status cuda_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (m < 0 || n < 0 || k < 0)
        return eng_error(ENG_ERR_ARG, "sgemm: negative size m=%d n=%d k=%d", m, n, k);
    if (m == 0 || n == 0)
        return ENG_OK;
    // Row-major X with leading dimension ld is column-major X^T with the same ld.
    int min_lda = trans_a ? m : k, min_ldb = trans_b ? k : n;
    if (lda < (min_lda > 1 ? min_lda : 1) || ldb < (min_ldb > 1 ? min_ldb : 1) ||
        ldc < (n > 1 ? n : 1))
        return eng_error(ENG_ERR_ARG, "sgemm: leading dimensions lda=%d ldb=%d ldc=%d too small "
                         "for m=%d n=%d k=%d", lda, ldb, ldc, m, n, k);
    if (!c || (k > 0 && (!a || !b)))
        return eng_error(ENG_ERR_ARG, "sgemm: NULL matrix");
    if (k == 0) {
        size_t total = (size_t)m * n;
        scale_kernel<<<cuda_grid_size(ctx, total), CUDA_ELEMENTWISE_THREADS, 0, ctx->stream>>>(
            m, n, beta, c, ldc);
        CUDA_CHECK_LAUNCH();
        return ENG_OK;
    }
    CUBLAS_CHECK(cublasSgemm(ctx->cublas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a, lda,
                             &beta, c, ldc));
    return ENG_OK;
}
