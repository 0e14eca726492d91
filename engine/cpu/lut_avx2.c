/*
 * lut_avx2.c - AVX2 kernel set: table GEMM and depthwise table convolution with 32-bit
 * gathers (vpgatherdd) from int32 table columns, and vectorized quantization.
 *
 * AVX2 has no byte permute across more than 16 entries, so a 256-entry lookup is a gather:
 * for one weight code w the column T(., w) is expanded to 256 int32 products (1 KiB), and 8
 * activation codes at a time index it. The sums are plain int32 adds, so every table mode
 * (signed, sign-magnitude with 17-bit products, 8xN) takes the same path. Blocking follows the
 * AVX-512 set: panels of 64 columns repacked to [K][64], static OpenMP over (panel x 16 rows).
 */
#include "cpu_kernels.h"

#include <immintrin.h>
#include <string.h>

bool eng_cpu_avx2_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")

enum {
    PANEL = 64,             /* columns per panel: 8 vectors of 8 int32 */
    MBLOCK = 16,            /* weight rows per tile */
    COLS_SIZE = 256 * 256 * (int)sizeof(int32_t)
};

/* Rows [0, rows) of w (row stride k) against one packed panel ap ([k][64], zero-padded);
 * writes the first nvalid sums of each row to out (row stride ldo). */
static void tile(const int32_t *cols, const uint8_t *w, int rows, int k, const uint8_t *ap,
                 int nvalid, int32_t *out, size_t ldo)
{
    for (int i = 0; i < rows; i++) {
        const uint8_t *wrow = w + (size_t)i * k;
        __m256i acc[8];
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++)
            acc[v] = _mm256_setzero_si256();
        for (int p = 0; p < k; p++) {
            const int *col = cols + (size_t)wrow[p] * 256;
            const uint8_t *x = ap + (size_t)p * PANEL;
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++) {
                const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x + 8 * v)));
                acc[v] = _mm256_add_epi32(acc[v], _mm256_i32gather_epi32(col, idx, 4));
            }
        }
        int32_t *o = out + (size_t)i * ldo;
        if (nvalid == PANEL) {
            for (int v = 0; v < 8; v++)
                _mm256_storeu_si256((__m256i *)(o + 8 * v), acc[v]);
        } else {
            int32_t tmp[PANEL];
            for (int v = 0; v < 8; v++)
                _mm256_storeu_si256((__m256i *)(tmp + 8 * v), acc[v]);
            memcpy(o, tmp, sizeof(int32_t) * (size_t)nvalid);
        }
    }
}

/* Copies columns [n0, n0 + nvalid) of the k rows of a (row stride lda) to buf [k][64]. */
static void pack_panel(const uint8_t *a, size_t lda, int k, int nvalid, uint8_t *buf)
{
    for (int p = 0; p < k; p++) {
        memcpy(buf + (size_t)p * PANEL, a + (size_t)p * lda, (size_t)nvalid);
        if (nvalid < PANEL)
            memset(buf + (size_t)p * PANEL + nvalid, 0, (size_t)(PANEL - nvalid));
    }
}

static void avx2_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                          const uint8_t *a, int32_t *out)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        memset(out, 0, sizeof(int32_t) * (size_t)m * n);
        return;
    }
    bool used[256];
    eng_lut_mark_used(w, (size_t)m * k, used);
    const int threads = eng_cpu_threads();
    const size_t panel_size = (size_t)k * PANEL;
    uint8_t *ws = eng_alloc(COLS_SIZE + panel_size * (size_t)threads);
    if (ws == NULL) {
        eng_kernels_ref()->lut_gemm(lut, m, n, k, w, a, out);
        return;
    }
    int32_t *cols = (int32_t *)(void *)ws;
    eng_lut_build_cols32(lut, used, cols);
    const int npanels = (n + PANEL - 1) / PANEL, mblocks = (m + MBLOCK - 1) / MBLOCK;
    const int tiles = npanels * mblocks;
    const double macs = (double)m * n * k;

#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1 && macs > 1e6)
    {
        uint8_t *buf = ws + COLS_SIZE + panel_size * (size_t)eng_cpu_thread_id();
        int packed = -1;
#pragma omp for schedule(static)
        for (int t = 0; t < tiles; t++) {
            const int panel = t / mblocks, mb = t % mblocks;
            const int n0 = panel * PANEL, nvalid = n - n0 < PANEL ? n - n0 : PANEL;
            const int i0 = mb * MBLOCK, rows = m - i0 < MBLOCK ? m - i0 : MBLOCK;
            if (packed != panel) {
                pack_panel(a + n0, (size_t)n, k, nvalid, buf);
                packed = panel;
            }
            tile(cols, w + (size_t)i0 * k, rows, k, buf, nvalid, out + (size_t)i0 * n + n0,
                 (size_t)n);
        }
    }
    eng_free(ws);
}

/* Depthwise: per channel, im2col of the channel into [taps][n*oh*ow], then its one weight row
 * over panels of 64 output pixels. Parallel over channels. */
static void avx2_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s, const uint8_t *a,
                               const uint8_t *w, uint8_t pad_code, int32_t *out)
{
    const int taps = s->kh * s->kw;
    const size_t np = (size_t)s->n * s->oh * s->ow, plane = (size_t)s->n * s->h * s->w;
    bool used[256];
    eng_lut_mark_used(w, (size_t)s->c * taps, used);
    const int threads = eng_cpu_threads();
    const size_t per_thread = ((size_t)taps * np + (size_t)taps * PANEL + 63) / 64 * 64;
    uint8_t *ws = eng_alloc(COLS_SIZE + per_thread * (size_t)threads);
    if (ws == NULL) {
        eng_kernels_ref()->lut_depthwise(lut, s, a, w, pad_code, out);
        return;
    }
    int32_t *cols32 = (int32_t *)(void *)ws;
    eng_lut_build_cols32(lut, used, cols32);
    eng_conv_shape s1 = *s;
    s1.c = 1;
    const double macs = (double)s->c * np * taps;

#pragma omp parallel num_threads(threads) if (threads > 1 && s->c > 1 && macs > 1e6)
    {
        uint8_t *cols = ws + COLS_SIZE + per_thread * (size_t)eng_cpu_thread_id();
        uint8_t *buf = cols + (size_t)taps * np;
#pragma omp for schedule(static)
        for (int c = 0; c < s->c; c++) {
            eng_cpu_im2col_u8_rows(&s1, a + (size_t)c * plane, pad_code, cols, 0, taps);
            for (size_t n0 = 0; n0 < np; n0 += PANEL) {
                const int nvalid = np - n0 < PANEL ? (int)(np - n0) : PANEL;
                pack_panel(cols + n0, np, taps, nvalid, buf);
                tile(cols32, w + (size_t)c * taps, 1, taps, buf, nvalid,
                     out + (size_t)c * np + n0, np);
            }
        }
    }
    eng_free(ws);
}

/* Same arithmetic as the reference (division, round half even, NaN -> zero_point). */
static void avx2_quantize(const float *x, size_t count, float scale, int32_t zero_point,
                          int32_t qmin, int32_t qmax, uint8_t *codes)
{
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps((float)zero_point);
    const __m256 lo = _mm256_set1_ps((float)qmin), hi = _mm256_set1_ps((float)qmax);
    const __m256i zp = _mm256_set1_epi32(zero_point), low_byte = _mm256_set1_epi32(0xff);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const size_t full = count / 32 * 32;
    const long long chunks = (long long)(full / 32);
#pragma omp parallel for schedule(static) if (count > (1u << 18) && eng_cpu_threads() > 1)
    for (long long c = 0; c < chunks; c++) {
        const size_t i = (size_t)c * 32;
        __m256i v[4];
        for (int j = 0; j < 4; j++) {
            __m256 q = _mm256_div_ps(_mm256_loadu_ps(x + i + 8 * j), vs);
            q = _mm256_add_ps(_mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
            const __m256 nan = _mm256_cmp_ps(q, q, _CMP_UNORD_Q);
            __m256i r = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(q, lo), hi));
            r = _mm256_blendv_epi8(r, zp, _mm256_castps_si256(nan));
            v[j] = _mm256_and_si256(r, low_byte);
        }
        const __m256i w01 = _mm256_packus_epi32(v[0], v[1]), w23 = _mm256_packus_epi32(v[2], v[3]);
        const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), order);
        _mm256_storeu_si256((__m256i *)(codes + i), b);
    }
    if (full < count)
        eng_kernels_ref()->quantize(x + full, count - full, scale, zero_point, qmin, qmax,
                                    codes + full);
}

static const eng_kernels avx2_kernels = {
    .name = "avx2",
    .sgemm = eng_cpu_sgemm,
    .lut_gemm = avx2_lut_gemm,
    .lut_depthwise = avx2_lut_depthwise,
    .im2col_f32 = eng_cpu_im2col_f32,
    .im2col_u8 = eng_cpu_im2col_u8,
    .col2im_f32 = eng_cpu_col2im_f32,
    .quantize = avx2_quantize,
};

#pragma GCC pop_options

const eng_kernels *eng_kernels_avx2(void)
{
    return &avx2_kernels;
}
