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
// zeroed output. Integer addition is
// associative (int32 wrap-around, as in the reference), so the result stays bit-exact and
// independent of the schedule.
//
// The implicit convolution reads its activation tile straight from the CNHW input through the
// im2col index map (ConvLoader), so no column buffer is written.
#include "cuda_common.cuh"
#include "lut_gemm.cuh"
#include "lut_product.cuh"

namespace {

constexpr int BM = 32;               // tile rows (weights / output channels)
constexpr int BN = 128;              // tile columns (output positions)
constexpr int BK = 32;               // K slab
constexpr int TM = 4, TN = 4;        // micro-tile per thread
constexpr int THREADS = (BM / TM) * (BN / TN);
static_assert(THREADS == 256, "one warp per row group of micro-tiles");
constexpr size_t TILE_BYTES = (size_t)BK * BM + (size_t)BK * BN; // multiple of 16

// Activation code (p, j) of a plain [k][n] matrix.
struct GemmLoader {
    const uint8_t *a;
    int n;
    __device__ uint8_t operator()(int p, int j) const { return a[(size_t)p * n + j]; }
};

// Activation code (p, j) of the im2col matrix of a CNHW input, computed on the fly.
struct ConvLoader {
    const uint8_t *x;
    eng_conv_shape s;
    uint8_t pad_code;
    __device__ uint8_t operator()(int p, int j) const
    {
        int jj = p % s.kw, i = p / s.kw % s.kh, ci = p / (s.kw * s.kh);
        int xo = j % s.ow, y = j / s.ow % s.oh, b = j / (s.ow * s.oh);
        int iy = y * s.stride + i * s.dilation - s.pad;
        int ix = xo * s.stride + jj * s.dilation - s.pad;
        return (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
                   ? x[(((size_t)ci * s.n + b) * s.h + iy) * s.w + ix] : pad_code;
    }
};

struct GemmWork {
    int m, n, k;
    int tiles_n;        // column tiles
    int ksplit;         // K chunks per tile
    int kchunk;         // K per chunk (multiple of BK)
    int items;          // tiles * ksplit
    bool accumulate;    // atomicAdd into a zeroed output (ksplit > 1)
};

template <int KIND, bool SHARED, class Loader>
__global__ void __launch_bounds__(THREADS)
lut_gemm_kernel(const uint16_t *__restrict__ table, int wb, const uint8_t *__restrict__ w,
                Loader load, GemmWork g, int32_t *__restrict__ out)
{
    extern __shared__ __align__(16) unsigned char smem[];
    uint8_t *ws = smem;                   // [BK][BM] weight codes, transposed
    uint8_t *as = smem + BK * BM;         // [BK][BN] activation codes
    const uint16_t *t = table;
    if (SHARED) {
        uint4 *dst = reinterpret_cast<uint4 *>(smem + TILE_BYTES);
        const uint4 *src = reinterpret_cast<const uint4 *>(table);
        const int vecs = (int)((sizeof(uint16_t) << 8 << wb) / sizeof(uint4));
        for (int i = threadIdx.x; i < vecs; i += THREADS)
            dst[i] = __ldg(src + i);
        t = reinterpret_cast<const uint16_t *>(dst);
        // the first barrier of the K loop orders these stores before any lookup
    }
    const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);

    for (int item = blockIdx.x; item < g.items; item += gridDim.x) {
        const int tile = item / g.ksplit, kc = item % g.ksplit;
        const int m0 = tile / g.tiles_n * BM, n0 = tile % g.tiles_n * BN;
        const int kbeg = kc * g.kchunk, kend = min(g.k, kbeg + g.kchunk);
        uint32_t acc[TM][TN] = {};
        for (int k0 = kbeg; k0 < kend; k0 += BK) {
            const int kv = min(BK, kend - k0);
            __syncthreads(); // the previous slab is consumed (and the table is loaded)
            for (int e = threadIdx.x; e < BM * BK; e += THREADS) {
                int r = e / BK, p = e % BK, gi = m0 + r;
                ws[p * BM + r] = (gi < g.m && p < kv) ? w[(size_t)gi * g.k + k0 + p] : 0;
            }
            for (int e = threadIdx.x; e < BK * BN; e += THREADS) {
                int p = e / BN, j = e % BN, gj = n0 + j;
                as[e] = (gj < g.n && p < kv) ? load(k0 + p, gj) : 0;
            }
            __syncthreads();
            for (int p = 0; p < kv; p++) {
                const uint32_t a4 = *reinterpret_cast<const uint32_t *>(as + p * BN + tx * TN);
                const uint32_t w4 = *reinterpret_cast<const uint32_t *>(ws + p * BM + ty * TM);
#pragma unroll
                for (int jj = 0; jj < TN; jj++) {
                    const uint32_t a = (a4 >> (8 * jj)) & 0xffu;
#pragma unroll
                    for (int ii = 0; ii < TM; ii++)
                        acc[ii][jj] += (uint32_t)cuda_lut_product<KIND, SHARED>(
                            t, wb, a, (w4 >> (8 * ii)) & 0xffu);
                }
            }
        }
#pragma unroll
        for (int ii = 0; ii < TM; ii++) {
            const int gi = m0 + ty * TM + ii;
            if (gi >= g.m)
                continue;
#pragma unroll
            for (int jj = 0; jj < TN; jj++) {
                const int gj = n0 + tx * TN + jj;
                if (gj >= g.n)
                    continue;
                uint32_t *o = reinterpret_cast<uint32_t *>(out) + (size_t)gi * g.n + gj;
                if (g.accumulate)
                    atomicAdd(o, acc[ii][jj]);
                else
                    *o = acc[ii][jj];
            }
        }
    }
}

template <int KIND, bool SHARED, class Loader>
eng_status gemm_launch(cuda_context *ctx, const eng_lut *lut, int m, int n, int k,
                       const uint8_t *w, Loader load, int32_t *out)
{
    auto kernel = lut_gemm_kernel<KIND, SHARED, Loader>;
    const size_t smem = TILE_BYTES + (SHARED ? (sizeof(uint16_t) << 8 << lut->w_bits) : 0);
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)smem));
    int per_sm = 0;
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, THREADS, smem));
    if (per_sm < 1)
        return eng_error(ENG_ERR_UNSUPPORTED, "lut_gemm: a block needs %zu bytes of shared "
                         "memory, more than the device offers", smem);
    const int resident = per_sm * ctx->sm_count;

    GemmWork g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.tiles_n = (n + BN - 1) / BN;
    const long tiles = (long)((m + BM - 1) / BM) * g.tiles_n;
    // K split: the chunk length (in slabs) that minimises the critical path, waves of work
    // items over the resident blocks times slabs per item; ties keep the longer chunk.
    const long slabs = (k + BK - 1) / BK;
    long best_chunk = slabs, best_cost = -1;
    for (long split = 1; split <= slabs && split <= 64; split++) {
        const long chunk = (slabs + split - 1) / split;
        const long items = tiles * ((slabs + chunk - 1) / chunk);
        const long cost = (items + resident - 1) / resident * chunk;
        if (best_cost < 0 || cost < best_cost) {
            best_cost = cost;
            best_chunk = chunk;
        }
    }
    g.kchunk = (int)best_chunk * BK;
    g.ksplit = (int)((slabs + best_chunk - 1) / best_chunk);
    if ((long)g.ksplit * tiles > 0x7fffffffL)
        return eng_error(ENG_ERR_ARG, "lut_gemm: %dx%d output too large", m, n);
    g.items = (int)(g.ksplit * tiles);
    g.accumulate = g.ksplit > 1;
    if (g.accumulate)
        CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(int32_t) * (size_t)m * n, ctx->stream));
    const int grid = g.items < resident ? g.items : resident;
    kernel<<<grid, THREADS, smem, ctx->stream>>>(lut->table, lut->w_bits, w, load, g, out);
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
    const bool fits = TILE_BYTES + table_bytes <= ctx->smem_optin;
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
    return gemm_dispatch(lut, m, n, k, w, GemmLoader{a, n}, out, "lut_gemm");
}

eng_status cuda_lut_conv2d(const eng_lut *lut, const eng_conv_shape *s, int oc,
                           const uint8_t *w, const uint8_t *x, uint8_t pad_code, int32_t *out)
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
    return gemm_dispatch(lut, oc, (int)n, (int)k, w, ConvLoader{x, *s, pad_code}, out,
                         "lut_conv2d");
}
