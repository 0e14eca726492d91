/*
 * int8_gemm.c - exact uint8 x int8 GEMM with AVX-512 VNNI (eng_int8.h).
 *
 * Activations are repacked per panel of 64 columns into [K/4][64][4] (four consecutive k of a
 * column in one dword), weights into rows of K rounded up to 4 with zero padding; then each
 * vpdpbusd adds 4 products to each of 16 columns. Micro-tile: 4 weight rows x 64 columns
 * (16 zmm accumulators).
 */
#include "eng_int8.h"
#include "cpu/cpu_kernels.h"

#include <immintrin.h>
#include <string.h>

void eng_int8_gemm_ref(int m, int n, int k, const int8_t *w, const uint8_t *a, int32_t *out)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            uint32_t sum = 0; /* wraps like a two's complement int32 */
            for (int p = 0; p < k; p++)
                sum += (uint32_t)((int32_t)a[(size_t)p * n + j] * w[(size_t)i * k + p]);
            out[(size_t)i * n + j] = (int32_t)sum;
        }
    }
}

static bool vnni_supported(void)
{
    __builtin_cpu_init();
    return eng_cpu_avx512_supported() && __builtin_cpu_supports("avx512vnni");
}

const char *eng_int8_gemm_path(void)
{
    return vnni_supported() ? "vnni" : "scalar";
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")

enum { I8_PANEL = 64, I8_ROWS = 4 };

/* rows <= 4 weight rows (padded, row stride k4 bytes) against one packed panel. */
static void i8_tile(const int8_t *wp, int rows, int k4, const uint8_t *ap, int nvalid,
                    int32_t *out, size_t ldo)
{
    __m512i acc[I8_ROWS][4];
    for (int r = 0; r < I8_ROWS; r++)
        for (int v = 0; v < 4; v++)
            acc[r][v] = _mm512_setzero_si512();
    for (int q = 0; q < k4 / 4; q++) {
        const uint8_t *x = ap + (size_t)q * I8_PANEL * 4;
        const __m512i x0 = _mm512_load_si512(x), x1 = _mm512_load_si512(x + 64);
        const __m512i x2 = _mm512_load_si512(x + 128), x3 = _mm512_load_si512(x + 192);
#pragma GCC unroll 4
        for (int r = 0; r < I8_ROWS; r++) {
            int32_t wq;
            memcpy(&wq, wp + (size_t)r * k4 + 4 * (size_t)q, 4);
            const __m512i wb = _mm512_set1_epi32(wq);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x0, wb);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x1, wb);
            acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], x2, wb);
            acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], x3, wb);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < 4; v++) {
            const int left = nvalid - 16 * v;
            const __mmask16 mk = left >= 16 ? 0xffff
                                 : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            _mm512_mask_storeu_epi32(out + (size_t)r * ldo + 16 * v, mk, acc[r][v]);
        }
}

/* Columns [0, nvalid) of the k rows of a (row stride lda) into buf [k4/4][64][4], zero-padded:
 * four rows are interleaved bytewise, then wordwise, then the 128-bit lanes transposed. */
static void pack_panel(const uint8_t *a, size_t lda, int k, int nvalid, uint8_t *buf)
{
    const __mmask64 lanes = nvalid >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << nvalid) - 1);
    for (int p = 0; p < k; p += 4, buf += 256) {
        __m512i r[4];
        for (int j = 0; j < 4; j++)
            r[j] = p + j < k ? _mm512_maskz_loadu_epi8(lanes, a + (size_t)(p + j) * lda)
                             : _mm512_setzero_si512();
        const __m512i t0 = _mm512_unpacklo_epi8(r[0], r[1]), t1 = _mm512_unpackhi_epi8(r[0], r[1]);
        const __m512i t2 = _mm512_unpacklo_epi8(r[2], r[3]), t3 = _mm512_unpackhi_epi8(r[2], r[3]);
        const __m512i u0 = _mm512_unpacklo_epi16(t0, t2), u1 = _mm512_unpackhi_epi16(t0, t2);
        const __m512i u2 = _mm512_unpacklo_epi16(t1, t3), u3 = _mm512_unpackhi_epi16(t1, t3);
        const __m512i lo01 = _mm512_shuffle_i64x2(u0, u1, _MM_SHUFFLE(1, 0, 1, 0));
        const __m512i lo23 = _mm512_shuffle_i64x2(u2, u3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m512i hi01 = _mm512_shuffle_i64x2(u0, u1, _MM_SHUFFLE(3, 2, 3, 2));
        const __m512i hi23 = _mm512_shuffle_i64x2(u2, u3, _MM_SHUFFLE(3, 2, 3, 2));
        _mm512_store_si512(buf, _mm512_shuffle_i64x2(lo01, lo23, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_store_si512(buf + 64, _mm512_shuffle_i64x2(lo01, lo23, _MM_SHUFFLE(3, 1, 3, 1)));
        _mm512_store_si512(buf + 128, _mm512_shuffle_i64x2(hi01, hi23, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_store_si512(buf + 192, _mm512_shuffle_i64x2(hi01, hi23, _MM_SHUFFLE(3, 1, 3, 1)));
    }
}

static void i8_gemm_vnni(int m, int n, int k, const int8_t *w, const uint8_t *a, int32_t *out)
{
    const int k4 = (k + 3) / 4 * 4, mp = (m + I8_ROWS - 1) / I8_ROWS * I8_ROWS;
    const int threads = eng_cpu_threads();
    const size_t wsize = ((size_t)mp * k4 + 63) / 64 * 64, psize = (size_t)k4 * I8_PANEL;
    uint8_t *ws = eng_cpu_workspace(wsize + psize * (size_t)threads);
    if (ws == NULL) {
        eng_int8_gemm_ref(m, n, k, w, a, out);
        return;
    }
    int8_t *wp = (int8_t *)ws;
    memset(wp, 0, wsize);
    for (int i = 0; i < m; i++)
        memcpy(wp + (size_t)i * k4, w + (size_t)i * k, (size_t)k);
    const int npanels = (n + I8_PANEL - 1) / I8_PANEL, mblocks = mp / I8_ROWS;
    const int tiles = npanels * ((mblocks + 3) / 4);
#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1 && (double)m * n * k > 1e6)
    {
        uint8_t *buf = ws + wsize + psize * (size_t)eng_cpu_thread_id();
        int packed = -1;
#pragma omp for schedule(static)
        for (int t = 0; t < tiles; t++) {
            const int panel = t / ((mblocks + 3) / 4), mb0 = t % ((mblocks + 3) / 4) * 4;
            const int n0 = panel * I8_PANEL, nvalid = n - n0 < I8_PANEL ? n - n0 : I8_PANEL;
            if (packed != panel) {
                pack_panel(a + n0, (size_t)n, k, nvalid, buf);
                packed = panel;
            }
            for (int mb = mb0; mb < mb0 + 4 && mb < mblocks; mb++) {
                const int i0 = mb * I8_ROWS, rows = m - i0 < I8_ROWS ? m - i0 : I8_ROWS;
                i8_tile(wp + (size_t)i0 * k4, rows, k4, buf, nvalid, out + (size_t)i0 * n + n0,
                        (size_t)n);
            }
        }
    }
}

#pragma GCC pop_options

void eng_int8_gemm(int m, int n, int k, const int8_t *w, const uint8_t *a, int32_t *out)
{
    if (m <= 0 || n <= 0)
        return;
    if (k > 0 && vnni_supported())
        i8_gemm_vnni(m, n, k, w, a, out);
    else
        eng_int8_gemm_ref(m, n, k, w, a, out);
}
