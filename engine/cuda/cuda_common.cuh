// cuda_common.cuh - the CUDA backend's shared internals: error checking, the process-wide
// context (device, stream, cuBLAS handle) and launch helpers. Not a public header.
#ifndef ENG_CUDA_COMMON_CUH
#define ENG_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "eng_cuda.h"

// Turns a failed CUDA runtime call into an eng_status with the message
// "CUDA: <call> failed in <func> (<file>:<line>): <CUDA's message> (<error name>)":
// ENG_ERR_NOMEM for out-of-memory, ENG_ERR_UNSUPPORTED for a missing driver/device or a
// kernel image the device cannot run, ENG_ERR_ARG for invalid values, ENG_ERR_INTERNAL else.
eng_status cuda_error(cudaError_t err, const char *call, const char *func, const char *file,
                      int line);

// The same for cuBLAS status codes.
eng_status cuda_cublas_error(cublasStatus_t st, const char *call, const char *func,
                             const char *file, int line);

// Returns from the calling function with an eng_status when the CUDA call fails.
#define CUDA_CHECK(call)                                                                  \
    do {                                                                                  \
        cudaError_t cuda_check_err_ = (call);                                             \
        if (cuda_check_err_ != cudaSuccess)                                               \
            return cuda_error(cuda_check_err_, #call, __func__, __FILE__, __LINE__);      \
    } while (0)

#define CUBLAS_CHECK(call)                                                                \
    do {                                                                                  \
        cublasStatus_t cublas_check_st_ = (call);                                         \
        if (cublas_check_st_ != CUBLAS_STATUS_SUCCESS)                                    \
            return cuda_cublas_error(cublas_check_st_, #call, __func__, __FILE__, __LINE__); \
    } while (0)

// Checks that the kernel launched just before was accepted (bad configuration, missing image).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

// The process-wide context (eng_cuda.h "execution model").
struct cuda_context {
    int                device;
    cudaStream_t       stream;
    cublasHandle_t     cublas;
    int                sm_count;
    size_t             smem_optin;   // opt-in shared memory per block, bytes
    eng_cuda_lut_place lut_place;
};

// The context, created on device 0 when none exists; makes its device current for the
// calling thread. ENG_ERR_UNSUPPORTED without a device.
eng_status cuda_context_get(cuda_context **out);

// Threads per block of the element-wise kernels.
constexpr int CUDA_ELEMENTWISE_THREADS = 256;

// Blocks for a grid-stride loop over `count` items: enough to fill the device, never more
// than the items need (at least 1).
unsigned cuda_grid_size(const cuda_context *ctx, size_t count);

// Validation shared by the kernel entry points: ENG_ERR_ARG with a message naming `op`.
eng_status cuda_check_lut(const eng_lut *lut, const char *op);
eng_status cuda_check_shape(const eng_conv_shape *s, const char *op);

#endif // ENG_CUDA_COMMON_CUH
