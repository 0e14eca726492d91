// context.cu - the CUDA backend's context, device query, buffers, device tables, error
// messages and the device kernel table (eng_cuda.h).
#include <stdio.h>
#include <string.h>

#include "cuda_common.cuh"
#include "im2col.cuh"
#include "lut_depthwise.cuh"
#include "lut_gemm.cuh"
#include "quantize.cuh"
#include "sgemm.cuh"

static cuda_context g_ctx;
static bool g_ctx_live;
static eng_cuda_lut_place g_lut_place = ENG_CUDA_LUT_AUTO;

eng_status cuda_error(cudaError_t err, const char *call, const char *func, const char *file,
                      int line)
{
    eng_status st;
    switch (err) {
    case cudaErrorMemoryAllocation:
        st = ENG_ERR_NOMEM;
        break;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
        st = ENG_ERR_UNSUPPORTED;
        break;
    case cudaErrorInvalidValue:
        st = ENG_ERR_ARG;
        break;
    default:
        st = ENG_ERR_INTERNAL;
        break;
    }
    cudaGetLastError(); // clear a non-sticky error so that later calls do not report it again
    return eng_error(st, "CUDA: %s failed in %s (%s:%d): %s (%s)", call, func, file, line,
                     cudaGetErrorString(err), cudaGetErrorName(err));
}

eng_status cuda_cublas_error(cublasStatus_t st, const char *call, const char *func,
                             const char *file, int line)
{
    return eng_error(st == CUBLAS_STATUS_ALLOC_FAILED ? ENG_ERR_NOMEM : ENG_ERR_INTERNAL,
                     "cuBLAS: %s failed in %s (%s:%d): %s (%s)", call, func, file, line,
                     cublasGetStatusString(st), cublasGetStatusName(st));
}

bool eng_cuda_compiled(void)
{
    return true;
}

int eng_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

eng_status eng_cuda_available(void)
{
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        cudaGetLastError();
        return eng_error(ENG_ERR_UNSUPPORTED,
                         "no CUDA device: the CUDA runtime reports \"%s\" (%s); no NVIDIA "
                         "driver or GPU is usable on this machine", cudaGetErrorString(err),
                         cudaGetErrorName(err));
    }
    if (n == 0)
        return eng_error(ENG_ERR_UNSUPPORTED, "no CUDA device: the driver reports none");
    return ENG_OK;
}

static eng_status device_check_index(int device)
{
    ENG_TRY(eng_cuda_available());
    int n = eng_cuda_device_count();
    if (device < 0 || device >= n)
        return eng_error(ENG_ERR_ARG, "CUDA device %d does not exist (%d device%s: 0..%d)",
                         device, n, n == 1 ? "" : "s", n - 1);
    return ENG_OK;
}

eng_status eng_cuda_device_info_get(int device, eng_cuda_device_info *out)
{
    ENG_TRY(device_check_index(device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int smem = 0, current = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    size_t free_bytes = 0, total_bytes = 0;
    CUDA_CHECK(cudaGetDevice(&current));
    CUDA_CHECK(cudaSetDevice(device));
    cudaError_t err = cudaMemGetInfo(&free_bytes, &total_bytes);
    CUDA_CHECK(cudaSetDevice(current));
    CUDA_CHECK(err);
    eng_cuda_device_info info;
    memset(&info, 0, sizeof info);
    info.index = device;
    snprintf(info.name, sizeof info.name, "%s", prop.name);
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.sm_count = prop.multiProcessorCount;
    info.total_bytes = total_bytes;
    info.free_bytes = free_bytes;
    info.smem_per_block = (size_t)smem;
    *out = info;
    return ENG_OK;
}

static eng_status context_create(int device, cuda_context *c)
{
    int sm = 0, smem = 0;
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaDeviceGetAttribute(&sm, cudaDevAttrMultiProcessorCount, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    cublasStatus_t st = cublasCreate(&c->cublas);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasSetStream(c->cublas, c->stream);
    if (st == CUBLAS_STATUS_SUCCESS) // full FP32: no TF32 tensor-op shortcuts
        st = cublasSetMathMode(c->cublas, CUBLAS_DEFAULT_MATH);
    if (st != CUBLAS_STATUS_SUCCESS) {
        eng_status rc = cuda_cublas_error(st, "cuBLAS handle setup", __func__, __FILE__,
                                          __LINE__);
        if (c->cublas)
            cublasDestroy(c->cublas);
        cudaStreamDestroy(c->stream);
        return rc;
    }
    c->device = device;
    c->sm_count = sm;
    c->smem_optin = (size_t)smem;
    return ENG_OK;
}

eng_status eng_cuda_init(int device)
{
    if (g_ctx_live) {
        if (device == g_ctx.device)
            return ENG_OK;
        return eng_error(ENG_ERR_ARG, "the CUDA context already uses device %d, not %d "
                         "(eng_cuda_shutdown first)", g_ctx.device, device);
    }
    ENG_TRY(device_check_index(device));
    cuda_context c;
    memset(&c, 0, sizeof c);
    ENG_TRY(context_create(device, &c));
    g_ctx = c;
    g_ctx_live = true;
    return ENG_OK;
}

void eng_cuda_shutdown(void)
{
    if (!g_ctx_live)
        return;
    cudaSetDevice(g_ctx.device);
    cudaStreamSynchronize(g_ctx.stream);
    cublasDestroy(g_ctx.cublas);
    cudaStreamDestroy(g_ctx.stream);
    cudaGetLastError();
    memset(&g_ctx, 0, sizeof g_ctx);
    g_ctx_live = false;
}

eng_status cuda_context_get(cuda_context **out)
{
    if (!g_ctx_live)
        ENG_TRY(eng_cuda_init(0));
    CUDA_CHECK(cudaSetDevice(g_ctx.device));
    g_ctx.lut_place = g_lut_place;
    *out = &g_ctx;
    return ENG_OK;
}

unsigned cuda_grid_size(const cuda_context *ctx, size_t count)
{
    size_t need = (count + CUDA_ELEMENTWISE_THREADS - 1) / CUDA_ELEMENTWISE_THREADS;
    size_t fill = (size_t)ctx->sm_count * 16;
    size_t g = need < fill ? need : fill;
    return g > 0 ? (unsigned)g : 1u;
}

eng_status cuda_check_lut(const eng_lut *lut, const char *op)
{
    if (!lut || !lut->table)
        return eng_error(ENG_ERR_ARG, "%s: no multiplier table", op);
    if (lut->w_bits < 2 || lut->w_bits > 8)
        return eng_error(ENG_ERR_ARG, "%s: weight width %d bits is not 2..8", op, lut->w_bits);
    if ((unsigned)lut->mode >= ENG_LUT_MODE_COUNT)
        return eng_error(ENG_ERR_ARG, "%s: unknown table mode %d", op, (int)lut->mode);
    if ((uintptr_t)lut->table % 16 != 0) // the kernels copy the table in 16-byte vectors
        return eng_error(ENG_ERR_ARG, "%s: device table not 16-byte aligned "
                         "(use eng_cuda_lut_upload)", op);
    return ENG_OK;
}

eng_status cuda_check_shape(const eng_conv_shape *s, const char *op)
{
    eng_conv_shape t;
    if (!s)
        return eng_error(ENG_ERR_ARG, "%s: no convolution shape", op);
    if (eng_conv_shape_init(&t, s->n, s->c, s->h, s->w, s->kh, s->kw, s->stride, s->pad,
                            s->dilation) != ENG_OK)
        return eng_error_prefix(ENG_ERR_SHAPE, "%s", op);
    if (t.oh != s->oh || t.ow != s->ow)
        return eng_error(ENG_ERR_SHAPE, "%s: output size %dx%d does not follow from the geometry "
                         "(%dx%d)", op, s->oh, s->ow, t.oh, t.ow);
    return ENG_OK;
}

eng_status eng_cuda_synchronize(void)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    return ENG_OK;
}

eng_status eng_cuda_malloc(size_t bytes, void **out)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (bytes == 0) {
        *out = NULL;
        return ENG_OK;
    }
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess)
        return eng_error_prefix(cuda_error(err, "cudaMalloc", __func__, __FILE__, __LINE__),
                                "cannot allocate %zu bytes on the device", bytes);
    *out = p;
    return ENG_OK;
}

void eng_cuda_free(void *ptr)
{
    if (!ptr)
        return;
    if (g_ctx_live) {
        cudaSetDevice(g_ctx.device);
        cudaStreamSynchronize(g_ctx.stream);
    }
    cudaFree(ptr); // also after eng_cuda_shutdown: buffers outlive the context
    cudaGetLastError();
}

static eng_status copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                       bool wait, const char *op)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (bytes == 0)
        return ENG_OK;
    if (!dst || !src)
        return eng_error(ENG_ERR_ARG, "%s: NULL buffer for %zu bytes", op, bytes);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, ctx->stream));
    if (wait)
        CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    return ENG_OK;
}

eng_status eng_cuda_copy_to_device(void *dst, const void *src, size_t bytes)
{
    return copy(dst, src, bytes, cudaMemcpyHostToDevice, true, __func__);
}

eng_status eng_cuda_copy_to_host(void *dst, const void *src, size_t bytes)
{
    return copy(dst, src, bytes, cudaMemcpyDeviceToHost, true, __func__);
}

eng_status eng_cuda_copy_on_device(void *dst, const void *src, size_t bytes)
{
    return copy(dst, src, bytes, cudaMemcpyDeviceToDevice, false, __func__);
}

eng_status eng_cuda_memset(void *dst, int value, size_t bytes)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (bytes == 0)
        return ENG_OK;
    if (!dst)
        return eng_error(ENG_ERR_ARG, "%s: NULL buffer for %zu bytes", __func__, bytes);
    CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, ctx->stream));
    return ENG_OK;
}

eng_status eng_cuda_lut_upload(const eng_lut *host, eng_lut *dev)
{
    ENG_TRY(cuda_check_lut(host, __func__));
    size_t bytes = sizeof(uint16_t) * ((size_t)256 << host->w_bits);
    void *table = NULL;
    ENG_TRY(eng_cuda_malloc(bytes, &table));
    eng_status st = eng_cuda_copy_to_device(table, host->table, bytes);
    if (st != ENG_OK) {
        eng_cuda_free(table);
        return st;
    }
    *dev = *host;
    dev->table = (const uint16_t *)table;
    dev->fit = NULL; /* a host-side helper of the CPU kernels */
    return ENG_OK;
}

void eng_cuda_lut_free(eng_lut *dev)
{
    if (!dev)
        return;
    eng_cuda_free((void *)dev->table);
    memset(dev, 0, sizeof *dev);
}

eng_status eng_cuda_set_lut_place(eng_cuda_lut_place place)
{
    if ((unsigned)place >= ENG_CUDA_LUT_PLACE_COUNT)
        return eng_error(ENG_ERR_ARG, "unknown table placement %d", (int)place);
    g_lut_place = place;
    return ENG_OK;
}

static const eng_cuda_kernels cuda_kernels = {
    "cuda",
    cuda_sgemm,
    cuda_lut_gemm,
    cuda_lut_conv2d,
    cuda_lut_depthwise,
    cuda_im2col_f32,
    cuda_im2col_u8,
    cuda_col2im_f32,
    cuda_quantize,
    cuda_column_sums,
    cuda_conv_column_sums,
};

eng_status eng_cuda_kernels_get(const eng_cuda_kernels **out)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    *out = &cuda_kernels;
    return ENG_OK;
}
