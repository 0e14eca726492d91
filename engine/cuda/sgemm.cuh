// sgemm.cuh - exact float GEMM on the device through cuBLAS (eng_cuda_kernels.sgemm).
#ifndef ENG_CUDA_SGEMM_CUH
#define ENG_CUDA_SGEMM_CUH

#include "eng_cuda.h"

eng_status cuda_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);

#endif // ENG_CUDA_SGEMM_CUH
