// lut_gemm.cuh - table GEMM and implicit-GEMM table convolution on the device
// (eng_cuda_kernels.lut_gemm, lut_conv2d): the entry points, and the kernel's building blocks
// (work plan, tile loads, products, stores) as __host__ __device__ code, so that
// tests/test_cuda_emu.cu can run the same tile code on the CPU, thread by thread.
#ifndef ENG_CUDA_LUT_GEMM_CUH
#define ENG_CUDA_LUT_GEMM_CUH

#include "eng_cuda.h"
#include "lut_product.cuh"

eng_lut_gemm_fn cuda_lut_gemm;
eng_lut_conv2d_fn cuda_lut_conv2d;
eng_conv_column_sums_fn cuda_conv_column_sums;

// ------------------------------------------------------------------------------------------
// Building blocks (see lut_gemm.cu for the design)
// ------------------------------------------------------------------------------------------

constexpr int LUT_GEMM_BM = 32;      // tile rows (weights / output channels)
constexpr int LUT_GEMM_BN = 128;     // tile columns (output positions)
constexpr int LUT_GEMM_BK = 32;      // K slab
constexpr int LUT_GEMM_TM = 4;       // micro-tile rows per thread
constexpr int LUT_GEMM_TN = 4;       // micro-tile columns per thread
constexpr int LUT_GEMM_THREADS = (LUT_GEMM_BM / LUT_GEMM_TM) * (LUT_GEMM_BN / LUT_GEMM_TN);
// shared bytes of the two code tiles: [BK][BM] weights (transposed), [BK][BN] activations
constexpr size_t LUT_GEMM_TILE_BYTES = (size_t)LUT_GEMM_BK * (LUT_GEMM_BM + LUT_GEMM_BN);
static_assert(LUT_GEMM_THREADS == 256, "one warp per row group of micro-tiles");
static_assert(LUT_GEMM_TILE_BYTES % 16 == 0, "the table behind the tiles is 16-byte aligned");

// Activation code (p, j) of a plain [k][n] matrix.
struct LutGemmLoader {
    const uint8_t *a;
    int n;
    __host__ __device__ uint8_t operator()(int p, int j) const { return a[(size_t)p * n + j]; }
};

// Activation code (p, j) of the im2col matrix of a CNHW input, computed on the fly.
struct LutConvLoader {
    const uint8_t *x;
    eng_conv_shape s;
    uint8_t pad_code;
    __host__ __device__ uint8_t operator()(int p, int j) const
    {
        int jj = p % s.kw, i = p / s.kw % s.kh, ci = p / (s.kw * s.kh);
        int xo = j % s.ow, y = j / s.ow % s.oh, b = j / (s.ow * s.oh);
        int iy = y * s.stride + i * s.dilation - s.pad;
        int ix = xo * s.stride + jj * s.dilation - s.pad;
        return (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
                   ? x[(((size_t)ci * s.n + b) * s.h + iy) * s.w + ix] : pad_code;
    }
};

// Sum of column j of the im2col matrix (k rows), read through the loader.
__host__ __device__ inline int32_t lut_conv_column_sum(const LutConvLoader &load, int k, int j)
{
    int32_t sum = 0;
    for (int p = 0; p < k; p++)
        sum += load(p, j);
    return sum;
}

// The work of one call: output tiles, each split into ksplit chunks of K (work items).
struct LutGemmWork {
    int m, n, k;
    int tiles_n;        // column tiles
    int ksplit;         // K chunks per tile
    int kchunk;         // K per chunk (multiple of BK)
    int items;          // tiles * ksplit
    bool accumulate;    // add into a zeroed output (ksplit > 1)
};

// Plans m x n x k (all > 0) for `resident` blocks running at once: the K chunk length that
// minimises the critical path, waves of items over the resident blocks times slabs per item
// (ties keep the longer chunk). Returns false when the item count overflows an int.
inline bool lut_gemm_plan(int m, int n, int k, int resident, LutGemmWork *g)
{
    g->m = m;
    g->n = n;
    g->k = k;
    g->tiles_n = (n + LUT_GEMM_BN - 1) / LUT_GEMM_BN;
    const long tiles = (long)((m + LUT_GEMM_BM - 1) / LUT_GEMM_BM) * g->tiles_n;
    const long slabs = (k + LUT_GEMM_BK - 1) / LUT_GEMM_BK;
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
    const long ksplit = (slabs + best_chunk - 1) / best_chunk;
    if (ksplit * tiles > 0x7fffffffL)
        return false;
    g->kchunk = (int)best_chunk * LUT_GEMM_BK;
    g->ksplit = (int)ksplit;
    g->items = (int)(ksplit * tiles);
    g->accumulate = ksplit > 1;
    return true;
}

// The tile origin and K range of work item `item`.
__host__ __device__ inline void lut_gemm_item(const LutGemmWork &g, int item, int *m0, int *n0,
                                              int *kbeg, int *kend)
{
    const int tile = item / g.ksplit, kc = item % g.ksplit;
    *m0 = tile / g.tiles_n * LUT_GEMM_BM;
    *n0 = tile % g.tiles_n * LUT_GEMM_BN;
    *kbeg = kc * g.kchunk;
    *kend = g.k < *kbeg + g.kchunk ? g.k : *kbeg + g.kchunk;
}

// Thread tid's share of loading the slab k0 .. k0+kv-1 of tile (m0, n0) into ws/as (zeros
// outside the matrices; they are never multiplied).
template <class Loader>
__host__ __device__ inline void lut_gemm_load_slab(int tid, const LutGemmWork &g,
                                                   const uint8_t *w, const Loader &load,
                                                   int m0, int n0, int k0, int kv,
                                                   uint8_t *ws, uint8_t *as)
{
    for (int e = tid; e < LUT_GEMM_BM * LUT_GEMM_BK; e += LUT_GEMM_THREADS) {
        int r = e / LUT_GEMM_BK, p = e % LUT_GEMM_BK, gi = m0 + r;
        ws[p * LUT_GEMM_BM + r] = (gi < g.m && p < kv) ? w[(size_t)gi * g.k + k0 + p] : 0;
    }
    for (int e = tid; e < LUT_GEMM_BK * LUT_GEMM_BN; e += LUT_GEMM_THREADS) {
        int p = e / LUT_GEMM_BN, j = e % LUT_GEMM_BN, gj = n0 + j;
        as[e] = (gj < g.n && p < kv) ? load(k0 + p, gj) : 0;
    }
}

// Thread tid's products for the kv loaded K steps: its 4 rows x 4 columns micro-tile.
template <int KIND, bool SHARED>
__host__ __device__ __forceinline__ void lut_gemm_compute_slab(
    int tid, const uint16_t *t, int wb, const uint8_t *ws, const uint8_t *as, int kv,
    uint32_t acc[LUT_GEMM_TM][LUT_GEMM_TN])
{
    const int tx = tid % (LUT_GEMM_BN / LUT_GEMM_TN), ty = tid / (LUT_GEMM_BN / LUT_GEMM_TN);
    for (int p = 0; p < kv; p++) {
        const uint32_t a4 =
            *reinterpret_cast<const uint32_t *>(as + p * LUT_GEMM_BN + tx * LUT_GEMM_TN);
        const uint32_t w4 =
            *reinterpret_cast<const uint32_t *>(ws + p * LUT_GEMM_BM + ty * LUT_GEMM_TM);
CUDA_UNROLL
        for (int jj = 0; jj < LUT_GEMM_TN; jj++) {
            const uint32_t a = (a4 >> (8 * jj)) & 0xffu;
CUDA_UNROLL
            for (int ii = 0; ii < LUT_GEMM_TM; ii++)
                acc[ii][jj] += (uint32_t)cuda_lut_product<KIND, SHARED>(t, wb, a,
                                                                        (w4 >> (8 * ii)) & 0xffu);
        }
    }
}

// Writes (or, when accumulating, adds: atomically on the device) thread tid's micro-tile.
__host__ __device__ inline void lut_gemm_store(int tid, const LutGemmWork &g, int m0, int n0,
                                               const uint32_t acc[LUT_GEMM_TM][LUT_GEMM_TN],
                                               int32_t *out)
{
    const int tx = tid % (LUT_GEMM_BN / LUT_GEMM_TN), ty = tid / (LUT_GEMM_BN / LUT_GEMM_TN);
CUDA_UNROLL
    for (int ii = 0; ii < LUT_GEMM_TM; ii++) {
        const int gi = m0 + ty * LUT_GEMM_TM + ii;
        if (gi >= g.m)
            continue;
CUDA_UNROLL
        for (int jj = 0; jj < LUT_GEMM_TN; jj++) {
            const int gj = n0 + tx * LUT_GEMM_TN + jj;
            if (gj >= g.n)
                continue;
            uint32_t *o = reinterpret_cast<uint32_t *>(out) + (size_t)gi * g.n + gj;
            if (!g.accumulate)
                *o = acc[ii][jj];
            else
#ifdef __CUDA_ARCH__
                atomicAdd(o, acc[ii][jj]);
#else
                *o += acc[ii][jj];
#endif
        }
    }
}

#endif // ENG_CUDA_LUT_GEMM_CUH
