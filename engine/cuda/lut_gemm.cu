// lut_gemm.cu - table GEMM out[m][n] = sum_p T(a[p][n], w[m][p]).
//
// Layout. A block of 256 threads computes a 32 x 128 output tile; each thread a 4 x 4
// micro-tile (4 weight rows x 4 consecutive columns), so one 32-bit shared load gives a
// thread its 4 activation codes and a warp-wide broadcast its 4 weight codes for each p. The
// K loop moves through 32-deep slabs of the weight tile (stored transposed, [p][row]) and the
// activation tile ([p][col]) in shared memory.
//
// The table. With the table in shared memory (ENG_CUDA_LUT_SHARED) every product is one
// shared-memory load. A full 8x8 table is 64K uint16 = 128 KiB, which fits the opt-in shared
// memory of sm_80 (163 KiB) and sm_90 (227 KiB) but not sm_75 (64 KiB) or sm_86/sm_89
// (99 KiB); 8xN tables with N <= 6 (<= 32 KiB) fit everywhere. Where the table does not fit,
// AUTO reads it from global memory through the read-only cache (__ldg): the 128 KiB stay
// mostly L1/L2-resident. Because loading the table costs every block 128 KiB of reads, the
// grid is persistent: min(work items, blocks resident on the device), each block loading the
// table once and looping over work items.
//
// Work items and split K. Small GEMMs (M = 32..64) have few tiles, fewer than an H100's 132
// SMs; the K range is then split into chunks that become separate work items (the split that
// minimises waves x chunk length), and their partial sums are added with atomicAdd into the
// zeroed output. Integer addition is associative (int32 wrap-around, as in the reference), so
// the result stays bit-exact and independent of the schedule.
//
// The implicit convolution reads its activation tile straight from the CNHW input through the
// im2col index map (LutConvLoader), so no column buffer is written.
//
// The kernel below is only the block-level choreography (table copy, barriers, item loop);
// the index arithmetic lives in lut_gemm.cuh as __host__ __device__ functions that
// tests/test_cuda_emu.cu also runs on the CPU.
#include "cuda_common.cuh"
#include "lut_gemm.cuh"

namespace {

template <int KIND, bool SHARED, class Loader>
__global__ void __launch_bounds__(LUT_GEMM_THREADS)
lut_gemm_kernel(const uint16_t *__restrict__ table, int wb, const uint8_t *__restrict__ w,
                Loader load, LutGemmWork g, int32_t *__restrict__ out)
{
    extern __shared__ __align__(16) unsigned char smem[];
    uint8_t *ws = smem;                               // [BK][BM] weight codes, transposed
    uint8_t *as = smem + LUT_GEMM_BK * LUT_GEMM_BM;   // [BK][BN] activation codes
    const uint16_t *t = table;
    if (SHARED) {
        uint4 *dst = reinterpret_cast<uint4 *>(smem + LUT_GEMM_TILE_BYTES);
        const uint4 *src = reinterpret_cast<const uint4 *>(table);
        const int vecs = (int)((sizeof(uint16_t) << 8 << wb) / sizeof(uint4));
        for (int i = threadIdx.x; i < vecs; i += LUT_GEMM_THREADS)
            dst[i] = __ldg(src + i);
        t = reinterpret_cast<const uint16_t *>(dst);
        // the first barrier of the K loop orders these stores before any lookup
    }
    const int tid = threadIdx.x;
    for (int item = blockIdx.x; item < g.items; item += gridDim.x) {
        int m0, n0, kbeg, kend;
        lut_gemm_item(g, item, &m0, &n0, &kbeg, &kend);
        uint32_t acc[LUT_GEMM_TM][LUT_GEMM_TN] = {};
        for (int k0 = kbeg; k0 < kend; k0 += LUT_GEMM_BK) {
            const int kv = min(LUT_GEMM_BK, kend - k0);
            __syncthreads(); // the previous slab is consumed (and the table is loaded)
            lut_gemm_load_slab(tid, g, w, load, m0, n0, k0, kv, ws, as);
            __syncthreads();
            lut_gemm_compute_slab<KIND, SHARED>(tid, t, wb, ws, as, kv, acc);
        }
        lut_gemm_store(tid, g, m0, n0, acc, out);
    }
}

__global__ void conv_column_sums_kernel(LutConvLoader load, int k, int n,
                                        int32_t *__restrict__ sums)
{
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x)
        sums[j] = lut_conv_column_sum(load, k, j);
}

template <int KIND, bool SHARED, class Loader>
eng_status gemm_launch(cuda_context *ctx, const eng_lut *lut, int m, int n, int k,
                       const uint8_t *w, Loader load, int32_t *out)
{
    auto kernel = lut_gemm_kernel<KIND, SHARED, Loader>;
    const size_t smem =
        LUT_GEMM_TILE_BYTES + (SHARED ? (sizeof(uint16_t) << 8 << lut->w_bits) : 0);
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)smem));
    int per_sm = 0;
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, LUT_GEMM_THREADS,
                                                             smem));
    if (per_sm < 1)
        return eng_error(ENG_ERR_UNSUPPORTED, "lut_gemm: a block needs %zu bytes of shared "
                         "memory, more than the device offers", smem);
    const int resident = per_sm * ctx->sm_count;
    LutGemmWork g;
    if (!lut_gemm_plan(m, n, k, resident, &g))
        return eng_error(ENG_ERR_ARG, "lut_gemm: %dx%d output too large", m, n);
    if (g.accumulate)
        CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(int32_t) * (size_t)m * n, ctx->stream));
    const int grid = g.items < resident ? g.items : resident;
    kernel<<<grid, LUT_GEMM_THREADS, smem, ctx->stream>>>(lut->table, lut->w_bits, w, load, g,
                                                          out);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}

// Chooses the table placement, then the kind of table, and launches.
template <class Loader>
eng_status gemm_dispatch(const eng_lut *lut, int m, int n, int k, const uint8_t *w, Loader load,
                         int32_t *out, const char *op)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    const size_t table_bytes = sizeof(uint16_t) << 8 << lut->w_bits;
    const bool fits = LUT_GEMM_TILE_BYTES + table_bytes <= ctx->smem_optin;
    bool shared = fits;
    if (ctx->lut_place == ENG_CUDA_LUT_GLOBAL)
        shared = false;
    else if (ctx->lut_place == ENG_CUDA_LUT_SHARED && !fits)
        return eng_error(ENG_ERR_UNSUPPORTED, "%s: a %zu-byte table does not fit this device's "
                         "%zu bytes of shared memory per block", op, table_bytes,
                         ctx->smem_optin);
    if (k == 0) // empty sums
        CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(int32_t) * (size_t)m * n, ctx->stream));
    if (k == 0 || m == 0 || n == 0)
        return ENG_OK;
    switch (cuda_lut_kind_of(lut)) {
    case CUDA_LUT_UNSIGNED:
        return shared ? gemm_launch<CUDA_LUT_UNSIGNED, true>(ctx, lut, m, n, k, w, load, out)
                      : gemm_launch<CUDA_LUT_UNSIGNED, false>(ctx, lut, m, n, k, w, load, out);
    case CUDA_LUT_SIGNED:
        return shared ? gemm_launch<CUDA_LUT_SIGNED, true>(ctx, lut, m, n, k, w, load, out)
                      : gemm_launch<CUDA_LUT_SIGNED, false>(ctx, lut, m, n, k, w, load, out);
    case CUDA_LUT_SIGN_MAGNITUDE:
        break;
    }
    return shared ? gemm_launch<CUDA_LUT_SIGN_MAGNITUDE, true>(ctx, lut, m, n, k, w, load, out)
                  : gemm_launch<CUDA_LUT_SIGN_MAGNITUDE, false>(ctx, lut, m, n, k, w, load, out);
}

} // namespace

eng_status cuda_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                         const uint8_t *a, int32_t *out)
{
    ENG_TRY(cuda_check_lut(lut, "lut_gemm"));
    if (m < 0 || n < 0 || k < 0)
        return eng_error(ENG_ERR_ARG, "lut_gemm: negative size m=%d n=%d k=%d", m, n, k);
    if ((size_t)m * n > 0 && (!out || (k > 0 && (!w || !a))))
        return eng_error(ENG_ERR_ARG, "lut_gemm: NULL buffer");
    return gemm_dispatch(lut, m, n, k, w, LutGemmLoader{a, n}, out, "lut_gemm");
}

eng_status cuda_lut_conv2d(const eng_lut *lut, const eng_conv_shape *s, int oc,
                           const uint8_t *x, uint8_t pad_code, const uint8_t *w, int32_t *out)
{
    ENG_TRY(cuda_check_lut(lut, "lut_conv2d"));
    ENG_TRY(cuda_check_shape(s, "lut_conv2d"));
    if (oc < 0)
        return eng_error(ENG_ERR_ARG, "lut_conv2d: negative output channels %d", oc);
    const long n = (long)s->n * s->oh * s->ow, k = (long)s->c * s->kh * s->kw;
    if (n > 0x7fffffffL || k > 0x7fffffffL)
        return eng_error(ENG_ERR_ARG, "lut_conv2d: %ld positions x %ld products too large", n, k);
    if (oc > 0 && (!out || !w || !x))
        return eng_error(ENG_ERR_ARG, "lut_conv2d: NULL buffer");
    return gemm_dispatch(lut, oc, (int)n, (int)k, w, LutConvLoader{x, *s, pad_code}, out,
                         "lut_conv2d");
}

eng_status cuda_conv_column_sums(const eng_conv_shape *s, const uint8_t *x, uint8_t pad_code,
                                 int32_t *sums)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    ENG_TRY(cuda_check_shape(s, "conv_column_sums"));
    const long n = (long)s->n * s->oh * s->ow, k = (long)s->c * s->kh * s->kw;
    if (n > 0x7fffffffL || k > 0x7fffffffL)
        return eng_error(ENG_ERR_ARG, "conv_column_sums: %ld positions x %ld codes too large",
                         n, k);
    if (!x || !sums)
        return eng_error(ENG_ERR_ARG, "conv_column_sums: NULL buffer");
    conv_column_sums_kernel<<<cuda_grid_size(ctx, (size_t)n), CUDA_ELEMENTWISE_THREADS, 0,
                              ctx->stream>>>(LutConvLoader{x, *s, pad_code}, (int)k, (int)n,
                                             sums);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}
