// net_conv.cu - exact float convolution (forward, backward data, backward filter) on the
// device: cuDNN when the build has it, else im2col + cuBLAS sgemm (the CPU's formulation:
// y = W cols, dW = dy cols^T, dx = col2im(W^T dy)).
//
// CNHW without copies: cuDNN describes tensors as NCHW with arbitrary strides, and a CNHW
// buffer x[c][n][h][w] is exactly the NCHW tensor (n, c, h, w) with strides (h*w, n*h*w, w, 1).
// Batch statistics are not involved (batch norm has its own kernels), so the image index is a
// plain tensor dimension here. Algorithms come from cuDNN's heuristics, restricted to
// deterministic ones whose workspace fits the im2col budget; TF32 tensor ops are off
// (CUDNN_FMA_MATH), as for cuBLAS. Where cuDNN answers "not supported" (a layout or shape its
// engines refuse; any status of the "not supported" or "bad parameter" families), or when
// cuDNN cannot be loaded at all, the call falls back to im2col + cuBLAS.
#include "im2col.cuh"
#include "net_kernels.cuh"
#include "sgemm.cuh"

#if ENG_HAVE_CUDNN
#include <cudnn.h>
#endif

size_t cuda_net_conv2d_workspace(const eng_conv_shape *s, int oc)
{
    (void)oc;
    size_t k = (size_t)s->c * s->kh * s->kw, p = (size_t)s->n * s->oh * s->ow;
    return k * p * sizeof(float);
}

static eng_status conv_forward_gemm(const eng_conv_shape *s, int oc, const float *x,
                                    const float *w, float *y, void *ws)
{
    int k = s->c * s->kh * s->kw, p = s->n * s->oh * s->ow;
    float *cols = (float *)ws;
    ENG_TRY(cuda_im2col_f32(s, x, 0.0f, cols));
    return cuda_sgemm(false, false, oc, p, k, 1.0f, w, k, cols, p, 0.0f, y, p);
}

static eng_status conv_backward_gemm(const eng_conv_shape *s, int oc, const float *x,
                                     const float *w, const float *dy, float *dx, float *dw,
                                     void *ws)
{
    int k = s->c * s->kh * s->kw, p = s->n * s->oh * s->ow;
    float *cols = (float *)ws;
    ENG_TRY(cuda_im2col_f32(s, x, 0.0f, cols));
    ENG_TRY(cuda_sgemm(false, true, oc, k, p, 1.0f, dy, p, cols, p, 0.0f, dw, k));
    if (!dx)
        return ENG_OK;
    ENG_TRY(cuda_sgemm(true, false, k, p, oc, 1.0f, w, k, dy, p, 0.0f, cols, p));
    return cuda_col2im_f32(s, cols, dx);
}

#if ENG_HAVE_CUDNN

static eng_status cudnn_error(cudnnStatus_t st, const char *call, const char *func)
{
    bool nomem = st == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                 st == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
    return eng_error(nomem ? ENG_ERR_NOMEM : ENG_ERR_INTERNAL, "cuDNN: %s failed in %s: %s (%d)",
                     call, func, cudnnGetErrorString(st), (int)st);
}

// Statuses that mean "cuDNN does not do this case": the GEMM path does it instead.
static bool cudnn_refused(cudnnStatus_t st)
{
    int category = CUDNN_STATUS_CATEGORY((int)st);
    return category == CUDNN_STATUS_NOT_SUPPORTED || category == CUDNN_STATUS_BAD_PARAM;
}

#define CUDNN_CHECK(call)                                                                 \
    do {                                                                                  \
        cudnnStatus_t cudnn_check_st_ = (call);                                           \
        if (cudnn_check_st_ != CUDNN_STATUS_SUCCESS)                                      \
            return cudnn_error(cudnn_check_st_, #call, __func__);                         \
    } while (0)

// The process's cuDNN handle, bound to the context's stream; false when cuDNN cannot be used
// (its libraries fail to load): the convolutions then take the GEMM path.
static bool cudnn_handle_get(cuda_context *ctx, cudnnHandle_t *out)
{
    static cudnnHandle_t handle;
    static bool live, broken;
    if (!live && !broken) {
        live = cudnnCreate(&handle) == CUDNN_STATUS_SUCCESS;
        broken = !live;
    }
    if (!live || cudnnSetStream(handle, ctx->stream) != CUDNN_STATUS_SUCCESS)
        return false;
    *out = handle;
    return true;
}

// Descriptors of one convolution over CNHW tensors.
struct conv_desc {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
    ~conv_desc()
    {
        if (x)
            cudnnDestroyTensorDescriptor(x);
        if (y)
            cudnnDestroyTensorDescriptor(y);
        if (w)
            cudnnDestroyFilterDescriptor(w);
        if (conv)
            cudnnDestroyConvolutionDescriptor(conv);
    }
};

static cudnnStatus_t conv_desc_init(conv_desc *d, const eng_conv_shape *s, int oc)
{
    cudnnStatus_t st;
    if ((st = cudnnCreateTensorDescriptor(&d->x)) != CUDNN_STATUS_SUCCESS ||
        (st = cudnnCreateTensorDescriptor(&d->y)) != CUDNN_STATUS_SUCCESS ||
        (st = cudnnCreateFilterDescriptor(&d->w)) != CUDNN_STATUS_SUCCESS ||
        (st = cudnnCreateConvolutionDescriptor(&d->conv)) != CUDNN_STATUS_SUCCESS)
        return st;
    // CNHW = NCHW with strides (h*w, n*h*w, w, 1)
    if ((st = cudnnSetTensor4dDescriptorEx(d->x, CUDNN_DATA_FLOAT, s->n, s->c, s->h, s->w,
                                           s->h * s->w, s->n * s->h * s->w, s->w, 1)) !=
            CUDNN_STATUS_SUCCESS ||
        (st = cudnnSetTensor4dDescriptorEx(d->y, CUDNN_DATA_FLOAT, s->n, oc, s->oh, s->ow,
                                           s->oh * s->ow, s->n * s->oh * s->ow, s->ow, 1)) !=
            CUDNN_STATUS_SUCCESS ||
        (st = cudnnSetFilter4dDescriptor(d->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, oc, s->c,
                                         s->kh, s->kw)) != CUDNN_STATUS_SUCCESS ||
        (st = cudnnSetConvolution2dDescriptor(d->conv, s->pad, s->pad, s->stride, s->stride,
                                              s->dilation, s->dilation,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) !=
            CUDNN_STATUS_SUCCESS)
        return st;
    return cudnnSetConvolutionMathType(d->conv, CUDNN_FMA_MATH);
}

// The first (fastest by the heuristics) deterministic algorithm that succeeds and fits `budget`;
// false when none does.
template <typename Perf, typename Algo>
static bool conv_pick(const Perf *perf, int count, size_t budget, Algo *out)
{
    for (int i = 0; i < count; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= budget &&
            perf[i].determinism == CUDNN_DETERMINISTIC) {
            *out = perf[i].algo;
            return true;
        }
    return false;
}

constexpr int CONV_ALGOS = 8;

// cuDNN forward; *done false when cuDNN does not support this case (nothing was written).
static eng_status conv_forward_cudnn(const eng_conv_shape *s, int oc, const float *x,
                                     const float *w, float *y, void *ws, bool *done)
{
    cuda_context *ctx;
    cudnnHandle_t h;
    ENG_TRY(cuda_context_get(&ctx));
    *done = false;
    conv_desc d;
    if (!cudnn_handle_get(ctx, &h) || conv_desc_init(&d, s, oc) != CUDNN_STATUS_SUCCESS)
        return ENG_OK;
    cudnnConvolutionFwdAlgoPerf_t perf[CONV_ALGOS];
    int count = 0;
    cudnnConvolutionFwdAlgo_t algo;
    size_t budget = cuda_net_conv2d_workspace(s, oc);
    if (cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, CONV_ALGOS, &count,
                                               perf) != CUDNN_STATUS_SUCCESS ||
        !conv_pick(perf, count, budget, &algo))
        return ENG_OK;
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t st = cudnnConvolutionForward(h, &one, d.x, x, d.w, w, d.conv, algo, ws, budget,
                                               &zero, d.y, y);
    if (cudnn_refused(st))
        return ENG_OK;
    CUDNN_CHECK(st);
    *done = true;
    return ENG_OK;
}

static eng_status conv_backward_cudnn(const eng_conv_shape *s, int oc, const float *x,
                                      const float *w, const float *dy, float *dx, float *dw,
                                      void *ws, bool *done)
{
    cuda_context *ctx;
    cudnnHandle_t h;
    ENG_TRY(cuda_context_get(&ctx));
    *done = false;
    conv_desc d;
    if (!cudnn_handle_get(ctx, &h) || conv_desc_init(&d, s, oc) != CUDNN_STATUS_SUCCESS)
        return ENG_OK;
    size_t budget = cuda_net_conv2d_workspace(s, oc);
    cudnnConvolutionBwdFilterAlgoPerf_t fperf[CONV_ALGOS];
    cudnnConvolutionBwdDataAlgoPerf_t dperf[CONV_ALGOS];
    cudnnConvolutionBwdFilterAlgo_t falgo;
    cudnnConvolutionBwdDataAlgo_t dalgo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    int fcount = 0, dcount = 0;
    if (cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, CONV_ALGOS,
                                                      &fcount, fperf) != CUDNN_STATUS_SUCCESS ||
        !conv_pick(fperf, fcount, budget, &falgo))
        return ENG_OK;
    if (dx && (cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, CONV_ALGOS,
                                                           &dcount, dperf) !=
                   CUDNN_STATUS_SUCCESS ||
               !conv_pick(dperf, dcount, budget, &dalgo)))
        return ENG_OK;
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t st = cudnnConvolutionBackwardFilter(h, &one, d.x, x, d.y, dy, d.conv, falgo,
                                                      ws, budget, &zero, d.w, dw);
    if (cudnn_refused(st))
        return ENG_OK;
    CUDNN_CHECK(st);
    if (dx) {
        st = cudnnConvolutionBackwardData(h, &one, d.w, w, d.y, dy, d.conv, dalgo, ws, budget,
                                          &zero, d.x, dx);
        if (cudnn_refused(st)) {
            // dw is done; the data gradient goes through the GEMM path
            int k = s->c * s->kh * s->kw, p = s->n * s->oh * s->ow;
            float *cols = (float *)ws;
            ENG_TRY(cuda_sgemm(true, false, k, p, oc, 1.0f, w, k, dy, p, 0.0f, cols, p));
            ENG_TRY(cuda_col2im_f32(s, cols, dx));
        } else {
            CUDNN_CHECK(st);
        }
    }
    *done = true;
    return ENG_OK;
}

bool cuda_net_conv_cudnn(void)
{
    return true;
}

#else // no cuDNN in this build

static eng_status conv_forward_cudnn(const eng_conv_shape *, int, const float *, const float *,
                                     float *, void *, bool *done)
{
    *done = false;
    return ENG_OK;
}

static eng_status conv_backward_cudnn(const eng_conv_shape *, int, const float *, const float *,
                                      const float *, float *, float *, void *, bool *done)
{
    *done = false;
    return ENG_OK;
}

bool cuda_net_conv_cudnn(void)
{
    return false;
}

#endif

eng_status cuda_net_conv2d_forward(const eng_conv_shape *s, int oc, const float *x,
                                   const float *w, const float *bias, float *y, void *ws)
{
    ENG_TRY(cuda_check_shape(s, "conv2d forward"));
    bool done;
    ENG_TRY(conv_forward_cudnn(s, oc, x, w, y, ws, &done));
    if (!done)
        ENG_TRY(conv_forward_gemm(s, oc, x, w, y, ws));
    return bias ? cuda_net_bias_add(oc, (size_t)s->n * s->oh * s->ow, bias, y) : ENG_OK;
}

eng_status cuda_net_conv2d_backward(const eng_conv_shape *s, int oc, const float *x,
                                    const float *w, const float *dy, float *dx, float *dw,
                                    float *db, void *ws)
{
    ENG_TRY(cuda_check_shape(s, "conv2d backward"));
    if (db)
        ENG_TRY(cuda_net_bias_backward(oc, (size_t)s->n * s->oh * s->ow, dy, db));
    bool done;
    ENG_TRY(conv_backward_cudnn(s, oc, x, w, dy, dx, dw, ws, &done));
    return done ? ENG_OK : conv_backward_gemm(s, oc, x, w, dy, dx, dw, ws);
}
