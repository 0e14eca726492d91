// net_kernels.cuh - entry points of the network operations (net_ops.h), one section per .cu
// file; net_ops.cu collects them into the cuda_net_ops table. Not a public header.
#ifndef ENG_CUDA_NET_KERNELS_CUH
#define ENG_CUDA_NET_KERNELS_CUH

#include "cuda_common.cuh"
#include "net_ops.h"

// Launch configuration of a grid-stride loop over `count` items on the context's stream.
#define NET_GRID(ctx, count) cuda_grid_size(ctx, count), CUDA_ELEMENTWISE_THREADS, 0, (ctx)->stream

// Threads of the kernels that reduce one row per block (a power of two).
constexpr int NET_REDUCE_THREADS = 512;

// A grid-stride loop: i runs over [0, count) across the whole grid.
#define GRID_STRIDE(i, count)                                                             \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (count);           \
         i += (size_t)gridDim.x * blockDim.x)

// The body of an entry point that launches one grid-stride kernel over count items.
#define NET_RUN(count, kernel, ...)                                                       \
    do {                                                                                  \
        cuda_context *ctx_;                                                               \
        ENG_TRY(cuda_context_get(&ctx_));                                                 \
        if ((count) == 0)                                                                 \
            return ENG_OK;                                                                \
        kernel<<<NET_GRID(ctx_, count)>>>(__VA_ARGS__);                                   \
        CUDA_CHECK_LAUNCH();                                                              \
        return ENG_OK;                                                                    \
    } while (0)

// The same for a kernel with one block of NET_REDUCE_THREADS per row (channel).
#define NET_RUN_ROWS(rows, kernel, ...)                                                   \
    do {                                                                                  \
        cuda_context *ctx_;                                                               \
        ENG_TRY(cuda_context_get(&ctx_));                                                 \
        if ((rows) <= 0)                                                                  \
            return ENG_OK;                                                                \
        kernel<<<(unsigned)(rows), NET_REDUCE_THREADS, 0, ctx_->stream>>>(__VA_ARGS__);   \
        CUDA_CHECK_LAUNCH();                                                              \
        return ENG_OK;                                                                    \
    } while (0)

// Sum of v over the block's NET_REDUCE_THREADS threads (all must call it), in every thread.
__device__ inline double net_block_sum(double v, double *shared)
{
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int half = NET_REDUCE_THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    double r = shared[0];
    __syncthreads();
    return r;
}

// net_elementwise.cu
eng_status cuda_net_relu_forward(size_t count, const float *x, float *y);
eng_status cuda_net_relu_backward(size_t count, const float *y, const float *dy, float *dx);
eng_status cuda_net_relu6_forward(size_t count, const float *x, float *y);
eng_status cuda_net_relu6_backward(size_t count, const float *x, const float *dy, float *dx);
eng_status cuda_net_hardswish_forward(size_t count, const float *x, float *y);
eng_status cuda_net_hardswish_backward(size_t count, const float *x, const float *dy, float *dx);
eng_status cuda_net_add(size_t count, const float *a, const float *b, float *y);
eng_status cuda_net_bias_add(int channels, size_t positions, const float *bias, float *y);
eng_status cuda_net_sgd_update(size_t count, float lr, float momentum, float weight_decay,
                               bool nesterov, float *w, float *v, const float *g);
eng_status cuda_net_flatten_forward(int c, int n, int h, int w, const float *x, float *y);
eng_status cuda_net_flatten_backward(int c, int n, int h, int w, const float *dy, float *dx);

// net_norm.cu
size_t cuda_net_batchnorm_workspace(int c, size_t m);
eng_status cuda_net_batchnorm_forward_train(int c, size_t m, const float *x, const float *gamma,
                                            const float *beta, float eps, float momentum,
                                            float *running_mean, float *running_var, float *y,
                                            float *save_mean, float *save_invstd, void *ws);
eng_status cuda_net_batchnorm_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                           const float *beta, const float *running_mean,
                                           const float *running_var, float eps, float *y);
eng_status cuda_net_batchnorm_backward(int c, size_t m, const float *x, const float *gamma,
                                       const float *save_mean, const float *save_invstd,
                                       const float *dy, float *dx, float *dgamma, float *dbeta,
                                       void *ws);
eng_status cuda_net_bias_backward(int channels, size_t positions, const float *dy, float *db);

// net_pool.cu
eng_status cuda_net_maxpool_forward(const eng_pool_shape *s, const float *x, float *y);
eng_status cuda_net_maxpool_backward(const eng_pool_shape *s, const float *x, const float *dy,
                                     float *dx);
eng_status cuda_net_avgpool_forward(const eng_pool_shape *s, bool count_include_pad,
                                    const float *x, float *y);
eng_status cuda_net_avgpool_backward(const eng_pool_shape *s, bool count_include_pad,
                                     const float *dy, float *dx);
eng_status cuda_net_global_avgpool_forward(size_t planes, size_t hw, const float *x, float *y);
eng_status cuda_net_global_avgpool_backward(size_t planes, size_t hw, const float *dy,
                                            float *dx);

// net_loss.cu
eng_status cuda_net_softmax_xent(int classes, int n, const float *logits, const uint8_t *labels,
                                 double *result, float *dlogits);

// net_conv.cu
bool cuda_net_conv_cudnn(void);
size_t cuda_net_conv2d_workspace(const eng_conv_shape *s, int oc);
eng_status cuda_net_conv2d_forward(const eng_conv_shape *s, int oc, const float *x,
                                   const float *w, const float *bias, float *y, void *ws);
eng_status cuda_net_conv2d_backward(const eng_conv_shape *s, int oc, const float *x,
                                    const float *w, const float *dy, float *dx, float *dw,
                                    float *db, void *ws);

// net_depthwise.cu
eng_status cuda_net_depthwise_forward(const eng_conv_shape *s, const float *x, const float *w,
                                      const float *bias, float *y);
eng_status cuda_net_depthwise_backward(const eng_conv_shape *s, const float *x, const float *w,
                                       const float *dy, float *dx, float *dw, float *db);
eng_status cuda_net_depthwise_window_sums(const eng_conv_shape *s, const uint8_t *x,
                                          uint8_t pad_code, int32_t *sums);

// net_quant.cu
eng_status cuda_net_minmax_rows(const float *x, int rows, size_t count, float *lohi);
eng_status cuda_net_quantize_rows(const float *x, int rows, size_t count, const eng_qparams *p,
                                  uint8_t *codes, float *fq);
eng_status cuda_net_fake_quantize_backward_rows(const float *x, const float *dy, int rows,
                                                size_t count, const eng_qparams *p, float *dx);
eng_status cuda_net_code_row_sums(const uint8_t *codes, int rows, size_t count, int32_t *sums);
eng_dequantize_fn cuda_net_dequantize;

#endif // ENG_CUDA_NET_KERNELS_CUH
