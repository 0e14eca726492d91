// sgemm.cuh - exact float GEMM on the device through cuBLAS (eng_cuda_kernels.sgemm).
#ifndef ENG_CUDA_SGEMM_CUH
#define ENG_CUDA_SGEMM_CUH

#include "eng_cuda.h"

eng_sgemm_fn cuda_sgemm;

#endif // ENG_CUDA_SGEMM_CUH
