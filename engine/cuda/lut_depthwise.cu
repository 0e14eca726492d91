// lut_depthwise.cu - approximate depthwise convolution.
//
// A channel has only kh*kw weights, so a block working on one channel needs only those
// columns of the table: it first computes prod[t][a] = T(a, w[c][t]) for every tap t and all
// 256 activation codes (kh*kw KiB of int32, already signed), then every product is one
// shared-memory load with no index arithmetic or sign handling. Blocks: grid.x = channel,
// grid.y = slices of the channel's n*oh*ow outputs (each slice long enough that building the
// column table costs a fraction of the products). Kernels larger than the device's shared
// memory allows (sm_75: 64 taps) read the full table from global memory instead.
#include "cuda_common.cuh"
#include "lut_depthwise.cuh"
#include "net_kernels.cuh"

namespace {

constexpr int THREADS = 256;
constexpr int OUTPUTS_PER_THREAD = 8;   // per grid.y slice, before the grid is widened

template <int KIND, bool COLUMNS>
__global__ void __launch_bounds__(THREADS)
lut_depthwise_kernel(const uint16_t *__restrict__ table, int wb, eng_conv_shape s,
                     const uint8_t *__restrict__ a, const uint8_t *__restrict__ w,
                     uint8_t pad_code, int32_t *__restrict__ out)
{
    extern __shared__ int32_t prod[]; // [kh*kw][256]
    const int c = blockIdx.x, taps = s.kh * s.kw;
    const uint8_t *wc = w + (size_t)c * taps;
    if (COLUMNS) {
        for (int e = threadIdx.x; e < taps * 256; e += THREADS)
            prod[e] = lut_depthwise_column<KIND>(table, wb, wc, e);
        __syncthreads();
    }
    const size_t total = (size_t)s.n * s.oh * s.ow;
    for (size_t q = (size_t)blockIdx.y * THREADS + threadIdx.x; q < total;
         q += (size_t)gridDim.y * THREADS)
        out[(size_t)c * total + q] =
            lut_depthwise_output<KIND, COLUMNS>(s, c, q, a, wc, pad_code, prod, table, wb);
}

template <int KIND, bool COLUMNS>
eng_status depthwise_launch(cuda_context *ctx, const eng_lut *lut, const eng_conv_shape *s,
                            const uint8_t *a, const uint8_t *w, uint8_t pad_code, int32_t *out)
{
    auto kernel = lut_depthwise_kernel<KIND, COLUMNS>;
    const size_t smem = COLUMNS ? sizeof(int32_t) * 256 * s->kh * s->kw : 0;
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)smem));
    const size_t total = (size_t)s->n * s->oh * s->ow;
    size_t slices = (total + (size_t)THREADS * OUTPUTS_PER_THREAD - 1) /
                    ((size_t)THREADS * OUTPUTS_PER_THREAD);
    const size_t want = (size_t)ctx->sm_count * 4; // widen when there are few channels
    const size_t most = (total + THREADS - 1) / THREADS;
    if (slices * (size_t)s->c < want)
        slices = (want + s->c - 1) / s->c;
    if (slices > most)
        slices = most;
    if (slices > 65535)
        slices = 65535;
    dim3 grid((unsigned)s->c, (unsigned)slices);
    kernel<<<grid, THREADS, smem, ctx->stream>>>(lut->table, lut->w_bits, *s, a, w, pad_code,
                                                 out);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

template <bool COLUMNS>
eng_status depthwise_kind(cuda_context *ctx, const eng_lut *lut, const eng_conv_shape *s,
                          const uint8_t *a, const uint8_t *w, uint8_t pad_code, int32_t *out)
{
    switch (cuda_lut_kind_of(lut)) {
    case CUDA_LUT_UNSIGNED:
        return depthwise_launch<CUDA_LUT_UNSIGNED, COLUMNS>(ctx, lut, s, a, w, pad_code, out);
    case CUDA_LUT_SIGNED:
        return depthwise_launch<CUDA_LUT_SIGNED, COLUMNS>(ctx, lut, s, a, w, pad_code, out);
    case CUDA_LUT_SIGN_MAGNITUDE:
        break;
    }
    return depthwise_launch<CUDA_LUT_SIGN_MAGNITUDE, COLUMNS>(ctx, lut, s, a, w, pad_code, out);
}

} // namespace

eng_status cuda_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s, const uint8_t *a,
                              const uint8_t *w, uint8_t pad_code, int32_t *out, int32_t *sums)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    ENG_TRY(cuda_check_lut(lut, "lut_depthwise"));
    ENG_TRY(cuda_check_shape(s, "lut_depthwise"));
    if (!a || !w || !out)
        return eng_error(ENG_ERR_ARG, "lut_depthwise: NULL buffer");
    const bool columns = sizeof(int32_t) * 256 * s->kh * s->kw <= ctx->smem_optin;
    ENG_TRY(columns ? depthwise_kind<true>(ctx, lut, s, a, w, pad_code, out)
                    : depthwise_kind<false>(ctx, lut, s, a, w, pad_code, out));
    return sums ? cuda_net_depthwise_window_sums(s, a, pad_code, sums) : ENG_OK;
}
