/*
 * sgemm.c - the exact float GEMM of the optimized kernel sets: OpenBLAS when the build has it,
 * else a cache-blocked C kernel.
 *
 * OpenBLAS (Debian's pthread build) would start its own thread pool next to OpenMP's; on a
 * small machine the two pools then compete (OpenMP workers spin after every region). So
 * OpenBLAS is set to 1 thread and the engine's OpenMP team splits C by columns (by rows when
 * C has too few columns), one single-threaded cblas_sgemm per thread (OpenBLAS 0.3 allows
 * concurrent calls). The split
 * depends on the shape and the thread count only, so a thread count gives one result (float
 * sums may differ in the last bits between thread counts). OMP_NUM_THREADS and
 * omp_set_num_threads govern all the engine's threads.
 */
#include "cpu_kernels.h"

#include <string.h>

#if ENG_HAVE_BLAS
#include <cblas.h>
#endif

enum { SG_ROWS = 4, SG_COLS = 64, SG_KB = 256 };

/* Element (r, p) of op(A) and (p, c) of op(B). */
#define OPA(r, p) (trans_a ? a[(size_t)(p) * lda + (r)] : a[(size_t)(r) * lda + (p)])
#define OPB(p, c) (trans_b ? b[(size_t)(c) * ldb + (p)] : b[(size_t)(p) * ldb + (c)])

eng_status eng_cpu_sgemm_blocked(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                                 const float *a, int lda, const float *b, int ldb, float beta,
                                 float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return ENG_OK;
    const int row_blocks = (m + SG_ROWS - 1) / SG_ROWS;
#pragma omp parallel num_threads(eng_cpu_threads()) if ((double)m * n * k > 1e6)
    {
        /* per thread: a block of op(B) [SG_KB][SG_COLS] and op(A) [SG_ROWS][SG_KB] */
        float bp[SG_KB * SG_COLS] __attribute__((aligned(64)));
        float ap[SG_ROWS * SG_KB] __attribute__((aligned(64)));
#pragma omp for schedule(static)
        for (int rb = 0; rb < row_blocks; rb++) {
            const int i0 = rb * SG_ROWS, rows = m - i0 < SG_ROWS ? m - i0 : SG_ROWS;
            for (int j0 = 0; j0 < n; j0 += SG_COLS) {
                const int cols = n - j0 < SG_COLS ? n - j0 : SG_COLS;
                float acc[SG_ROWS][SG_COLS] __attribute__((aligned(64)));
                memset(acc, 0, sizeof(acc));
                for (int p0 = 0; p0 < k; p0 += SG_KB) {
                    const int kb = k - p0 < SG_KB ? k - p0 : SG_KB;
                    for (int p = 0; p < kb; p++) {
                        for (int j = 0; j < cols; j++)
                            bp[p * SG_COLS + j] = OPB(p0 + p, j0 + j);
                        for (int j = cols; j < SG_COLS; j++)
                            bp[p * SG_COLS + j] = 0.0f;
                    }
                    for (int r = 0; r < rows; r++)
                        for (int p = 0; p < kb; p++)
                            ap[r * SG_KB + p] = OPA(i0 + r, p0 + p);
                    for (int r = 0; r < rows; r++) {
                        for (int p = 0; p < kb; p++) {
                            const float av = ap[r * SG_KB + p];
                            const float *brow = bp + p * SG_COLS;
#pragma omp simd aligned(brow : 64)
                            for (int j = 0; j < SG_COLS; j++)
                                acc[r][j] += av * brow[j];
                        }
                    }
                }
                for (int r = 0; r < rows; r++) {
                    float *crow = c + (size_t)(i0 + r) * ldc + j0;
                    for (int j = 0; j < cols; j++)
                        crow[j] = alpha * acc[r][j] + (beta == 0.0f ? 0.0f : beta * crow[j]);
                }
            }
        }
    }
    return ENG_OK;
}

eng_status eng_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc)
{
#if ENG_HAVE_BLAS
    if (m <= 0 || n <= 0)
        return ENG_OK;
    if (k <= 0) { /* BLAS leaves C alone when k == 0 only for beta == 1: follow the contract */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
        return ENG_OK;
    }
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
    /* Columns of C split over the OpenMP team (slices of multiples of 16 columns), each slice
     * one single-threaded OpenBLAS call: one thread pool for the whole engine, no OpenBLAS
     * workers competing with idle-spinning OpenMP threads. One call per thread: more, smaller
     * calls measured slower (OpenBLAS's per-call buffer handling). */
    const int team = eng_cpu_threads();
    const bool big = (double)m * n * k >= 4e6;
    const int slices = big && n >= 64 * team ? team : 1;
    if (slices == 1 && big && team > 1 && m >= 16 * team) {
        /* few columns, many rows (the weight gradient of a 1x1 convolution: n = input
         * channels, k = positions): the rows of C split instead, multiples of 8 rows */
#pragma omp parallel for schedule(static) num_threads(team)
        for (int t = 0; t < team; t++) {
            const int i0 = (int)((long long)m * t / team) / 8 * 8;
            const int i1 = t + 1 == team ? m : (int)((long long)m * (t + 1) / team) / 8 * 8;
            cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                        trans_b ? CblasTrans : CblasNoTrans, i1 - i0, n, k, alpha,
                        trans_a ? a + i0 : a + (size_t)i0 * lda, lda, b, ldb, beta,
                        c + (size_t)i0 * ldc, ldc);
        }
        return ENG_OK;
    }
#pragma omp parallel for schedule(static) num_threads(slices) if (slices > 1)
    for (int t = 0; t < slices; t++) {
        const int j0 = (int)((long long)n * t / slices) / 16 * 16;
        const int j1 = t + 1 == slices ? n : (int)((long long)n * (t + 1) / slices) / 16 * 16;
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, j1 - j0, k, alpha, a, lda,
                    trans_b ? b + (size_t)j0 * ldb : b + j0, ldb, beta, c + j0, ldc);
    }
    return ENG_OK;
#else
    return eng_cpu_sgemm_blocked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}
