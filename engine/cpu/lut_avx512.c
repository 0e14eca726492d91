/*
 * lut_avx512.c - AVX-512 VBMI kernel set: general 16-bit table GEMM, depthwise table
 * convolution and quantization (design and measurements: docs/kernels.md).
 *
 * Table GEMM, weight-stationary: for one weight code w[i][p] the column T(., w) of 256 16-bit
 * products is split into a low-byte and a high-byte plane of 4 zmm each. For 64 activation
 * codes x, two chained masked vpermi2b per plane look up all 64 products: lanes with x >= 128
 * read T[128..255] first, then lanes with x < 128 (their index kept by the mask) read
 * T[0..127], so no blend is needed. Sums use the 16-bit "word trick": the 64 byte lanes seen
 * as 32 words are added (aw) and so are the odd bytes alone (ao = x >> 8); after at most 256
 * terms the odd sums are ao and the even sums aw - 256 * ao, both exact in 16 bits. Every K
 * chunk of <= 256 terms is then flushed to int32 as low + 256 * high. Signed products are
 * stored with 32768 added (top bit of the high byte flipped) and 32768 per term is subtracted
 * at the flush, which is exact modulo 2^32 like the reference's int32 sum.
 *
 * Blocking: N is cut into panels of 256 columns; the activation rows of a panel are repacked
 * from [K][N] into a contiguous [K][256] buffer (per thread, inside the call), then all weight
 * rows of the tile run over it (4 vectors x 4 word accumulators = 16 zmm). Tiles (panel x
 * block of 16 rows) are distributed by a static OpenMP schedule; the partition depends only on
 * the shape, and integer sums do not depend on it at all.
 *
 * Workspace: the table planes (128 KiB) live in a thread-local buffer of the thread that
 * builds them (the calling thread for the GEMM, each worker for the depthwise kernel); the panel
 * buffers (K x 256 bytes per thread) and depthwise columns are slices of the calling thread's
 * grow-only scratch buffer (eng_cpu_workspace), so repeated calls allocate nothing and take no
 * page faults. Both are only used during one call: the kernels are reentrant across threads.
 */
#include "cpu_kernels.h"

#include <immintrin.h>
#include <string.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")

static const eng_kernels avx512_kernels;

#include "lut_avx512_inl.h"

static _Thread_local uint8_t tls_planes[PLANES_SIZE] __attribute__((aligned(64)));

/* The hot loop for a full panel (4 vectors, 256 columns) in assembly, because gcc spills
 * accumulators of the intrinsics version: kc >= 1 terms of weight codes w[0..kc) against the
 * activation rows x, x + lda, ...; stores the 16 word-trick accumulators (awl, aol, awh, aoh
 * of vector 0, then of vector 1, ...) to acc. Registers: zmm0-7 the column's byte planes,
 * zmm8-15 activations and lookups, zmm16-31 accumulators, k1-k4 the lanes x >= 128 of the 4
 * vectors, k5-k7 the others (k5 again for vector 3).
 * Order, measured on Zen 5 (docs/kernels.md): all four activation vectors and their masks
 * first, then the lookups, the x >= 128 half first. A k-mask write costs about as much as two
 * lookups there, and a lookup that waits for its mask (vpmovb2m, knotq, then the permute)
 * stalls the queue: issuing the 7 mask writes of a step before its 16 permutes, and starting
 * each vector with the mask that vpmovb2m writes directly, took the loop from about 4.4 to
 * 4.0 clocks per 64 products. */
static void chunk_full(const uint8_t *planes, const uint8_t *w, const uint8_t *x, size_t lda,
                       int kc, __m512i acc[16])
{
    size_t n = (size_t)kc;
    __asm__ volatile(
        ASM_ZERO_16_23 ASM_ZERO_24_31
        "1:\n\t"
        "movzbl (%[w]), %%eax\n\t"
        "shl $9, %%rax\n\t"
        "add %[planes], %%rax\n\t"
        "vmovdqa64 0(%%rax), %%zmm0\n\t"
        "vmovdqa64 64(%%rax), %%zmm1\n\t"
        "vmovdqa64 128(%%rax), %%zmm2\n\t"
        "vmovdqa64 192(%%rax), %%zmm3\n\t"
        "vmovdqa64 256(%%rax), %%zmm4\n\t"
        "vmovdqa64 320(%%rax), %%zmm5\n\t"
        "vmovdqa64 384(%%rax), %%zmm6\n\t"
        "vmovdqa64 448(%%rax), %%zmm7\n\t"
        "vmovdqu8 0(%[x]), %%zmm8\n\t"
        "vmovdqu8 64(%[x]), %%zmm10\n\t"
        "vmovdqu8 128(%[x]), %%zmm12\n\t"
        "vmovdqu8 192(%[x]), %%zmm14\n\t"
        "vpmovb2m %%zmm8, %%k1\n\t"
        "vpmovb2m %%zmm10, %%k2\n\t"
        "vpmovb2m %%zmm12, %%k3\n\t"
        "vpmovb2m %%zmm14, %%k4\n\t"
        "knotq %%k1, %%k5\n\t"
        "knotq %%k2, %%k6\n\t"
        "knotq %%k3, %%k7\n\t"
        "vmovdqa64 %%zmm8, %%zmm9\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm9%{%%k1%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm8%{%%k1%}\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm9%{%%k5%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm8%{%%k5%}\n\t"
        "vpaddw %%zmm9, %%zmm16, %%zmm16\n\t"
        "vpsrlw $8, %%zmm9, %%zmm9\n\t"
        "vpaddw %%zmm9, %%zmm17, %%zmm17\n\t"
        "vpaddw %%zmm8, %%zmm18, %%zmm18\n\t"
        "vpsrlw $8, %%zmm8, %%zmm8\n\t"
        "vpaddw %%zmm8, %%zmm19, %%zmm19\n\t"
        "vmovdqa64 %%zmm10, %%zmm11\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm11%{%%k2%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm10%{%%k2%}\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm11%{%%k6%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm10%{%%k6%}\n\t"
        "vpaddw %%zmm11, %%zmm20, %%zmm20\n\t"
        "vpsrlw $8, %%zmm11, %%zmm11\n\t"
        "vpaddw %%zmm11, %%zmm21, %%zmm21\n\t"
        "vpaddw %%zmm10, %%zmm22, %%zmm22\n\t"
        "vpsrlw $8, %%zmm10, %%zmm10\n\t"
        "vpaddw %%zmm10, %%zmm23, %%zmm23\n\t"
        "vmovdqa64 %%zmm12, %%zmm13\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm13%{%%k3%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm12%{%%k3%}\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm13%{%%k7%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm12%{%%k7%}\n\t"
        "vpaddw %%zmm13, %%zmm24, %%zmm24\n\t"
        "vpsrlw $8, %%zmm13, %%zmm13\n\t"
        "vpaddw %%zmm13, %%zmm25, %%zmm25\n\t"
        "vpaddw %%zmm12, %%zmm26, %%zmm26\n\t"
        "vpsrlw $8, %%zmm12, %%zmm12\n\t"
        "vpaddw %%zmm12, %%zmm27, %%zmm27\n\t"
        "knotq %%k4, %%k5\n\t"
        "vmovdqa64 %%zmm14, %%zmm15\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm15%{%%k4%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm14%{%%k4%}\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm15%{%%k5%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm14%{%%k5%}\n\t"
        "vpaddw %%zmm15, %%zmm28, %%zmm28\n\t"
        "vpsrlw $8, %%zmm15, %%zmm15\n\t"
        "vpaddw %%zmm15, %%zmm29, %%zmm29\n\t"
        "vpaddw %%zmm14, %%zmm30, %%zmm30\n\t"
        "vpsrlw $8, %%zmm14, %%zmm14\n\t"
        "vpaddw %%zmm14, %%zmm31, %%zmm31\n\t"
        "add $1, %[w]\n\t"
        "add %[lda], %[x]\n\t"
        "sub $1, %[n]\n\t"
        "jnz 1b\n\t"
        ASM_STORE_16_23 ASM_STORE_24_31
        : [w] "+r"(w), [x] "+r"(x), [n] "+r"(n)
        : [planes] "r"(planes), [lda] "r"(lda), [acc] "r"(acc)
        : "rax", "cc", "memory", "k1", "k2", "k3", "k4", "k5", "k6", "k7",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",
          "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",
          "xmm28", "xmm29", "xmm30", "xmm31");
}

/* One tile: rows [0, rows) of weights w (row stride k) against `nvalid` <= 256 columns of
 * activations a (row stride lda; lanes past nvalid are not read), out row stride ldo.
 * NB = vectors of 64 columns actually computed (ceil(nvalid / 64)). */
static inline __attribute__((always_inline)) void tile(const uint8_t *planes, const uint8_t *w,
                                                       int rows, int k, const uint8_t *a,
                                                       size_t lda, int nvalid, int32_t *out,
                                                       size_t ldo, bool sgn, const int NB)
{
    __mmask64 lm[4];
    for (int v = 0; v < 4; v++)
        lm[v] = lane_mask(nvalid - 64 * v);
    for (int i = 0; i < rows; i++) {
        const uint8_t *wrow = w + (size_t)i * k;
        int32_t *orow = out + (size_t)i * ldo;
        for (int k0 = 0; k0 < k; k0 += KCHUNK) {
            const int kc = k - k0 < KCHUNK ? k - k0 : KCHUNK;
            __m512i awl[4], aol[4], awh[4], aoh[4];
#pragma GCC unroll 4
            for (int v = 0; v < NB; v++)
                awl[v] = aol[v] = awh[v] = aoh[v] = _mm512_setzero_si512();
            const uint8_t *ap = a + (size_t)k0 * lda;
            if (NB == 4 && nvalid == PANEL) {
                __m512i acc[16];
                chunk_full(planes, wrow + k0, ap, lda, kc, acc);
                word_trick_unpack(acc, awl, aol, awh, aoh);
            } else {
                for (int p = k0; p < k0 + kc; p++, ap += lda) {
                    const uint8_t *col = planes + (size_t)wrow[p] * 512;
                    const __m512i l0 = _mm512_load_si512(col);
                    const __m512i l1 = _mm512_load_si512(col + 64);
                    const __m512i l2 = _mm512_load_si512(col + 128);
                    const __m512i l3 = _mm512_load_si512(col + 192);
                    const __m512i h0 = _mm512_load_si512(col + 256);
                    const __m512i h1 = _mm512_load_si512(col + 320);
                    const __m512i h2 = _mm512_load_si512(col + 384);
                    const __m512i h3 = _mm512_load_si512(col + 448);
#pragma GCC unroll 4
                    for (int v = 0; v < NB; v++) {
                        const __m512i x = _mm512_maskz_loadu_epi8(lm[v], ap + 64 * v);
                        const __mmask64 top = _mm512_movepi8_mask(x);
                        const __mmask64 bottom = _knot_mask64(top);
                        __m512i xl = _mm512_mask2_permutex2var_epi8(l2, x, top, l3);
                        xl = _mm512_mask2_permutex2var_epi8(l0, xl, bottom, l1);
                        __m512i xh = _mm512_mask2_permutex2var_epi8(h2, x, top, h3);
                        xh = _mm512_mask2_permutex2var_epi8(h0, xh, bottom, h1);
                        word_trick_add(xl, xh, &awl[v], &aol[v], &awh[v], &aoh[v]);
                    }
                }
            }
            const __m512i bias = _mm512_set1_epi32(sgn ? 32768 * kc : 0);
#pragma GCC unroll 4
            for (int v = 0; v < NB; v++)
                flush_vector(awl[v], aol[v], awh[v], aoh[v], bias, lm[v], k0 == 0, orow + 64 * v);
        }
    }
}

static void tile_any(const uint8_t *planes, const uint8_t *w, int rows, int k, const uint8_t *a,
                     size_t lda, int nvalid, int32_t *out, size_t ldo, bool sgn)
{
    switch ((nvalid + 63) / 64) {
    case 4: tile(planes, w, rows, k, a, lda, nvalid, out, ldo, sgn, 4); break;
    case 3: tile(planes, w, rows, k, a, lda, nvalid, out, ldo, sgn, 3); break;
    case 2: tile(planes, w, rows, k, a, lda, nvalid, out, ldo, sgn, 2); break;
    default: tile(planes, w, rows, k, a, lda, nvalid, out, ldo, sgn, 1); break;
    }
}

/* eng_lut_build_planes with 16-lane gathers for direct tables: a gather reads 4 bytes at each
 * entry, so a column whose last entry ends the table is built by the scalar code. */
static void build_planes(const eng_lut *lut, const bool used[256], uint8_t *planes)
{
    if (lut->mode != ENG_LUT_DIRECT) {
        eng_lut_build_planes(lut, used, planes);
        return;
    }
    const uint32_t size = 256u << lut->w_bits;
    const __m512i flip = _mm512_set1_epi32(eng_lut_products_signed(lut) ? 0x8000 : 0);
    const __m512i low16 = _mm512_set1_epi32(0xffff);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (uint32_t w = 0; w < 256; w++) {
        if (!used[w])
            continue;
        uint8_t *lo = planes + (size_t)w * 512, *hi = lo + 256;
        if (((255u << lut->w_bits) | w) + 1 >= size) {
            eng_lut_build_column(lut, (uint8_t)w, lo);
            continue;
        }
        for (int a0 = 0; a0 < 256; a0 += 16) {
            const __m512i a = _mm512_add_epi32(lanes, _mm512_set1_epi32(a0));
            const __m512i idx = _mm512_or_si512(_mm512_sll_epi32(a, _mm_cvtsi32_si128(lut->w_bits)),
                                                _mm512_set1_epi32((int)w));
            __m512i e = _mm512_i32gather_epi32(idx, (const void *)lut->table, 2);
            e = _mm512_xor_si512(_mm512_and_si512(e, low16), flip);
            _mm_storeu_si128((__m128i *)(lo + a0), _mm512_cvtepi32_epi8(e));
            _mm_storeu_si128((__m128i *)(hi + a0), _mm512_cvtepi32_epi8(_mm512_srli_epi32(e, 8)));
        }
    }
}

/* The reference for what src describes. */
static eng_status reference_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                 const panel_src *src, int32_t *out)
{
    if (src->conv != NULL)
        return eng_kernels_ref()->lut_conv2d(lut, src->conv, m, src->a, src->pad, w, out);
    return eng_kernels_ref()->lut_gemm(lut, m, n, k, w, src->a, out);
}

static eng_status lut_gemm_src(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                               const panel_src *src, int32_t *out)
{
    if (m <= 0 || n <= 0)
        return ENG_OK;
    if (k <= 0) {
        memset(out, 0, sizeof(int32_t) * (size_t)m * n);
        return ENG_OK;
    }
    if (eng_cpu_avx512_lut_gemm_classes(lut, m, n, k, w, src, out) ||
        eng_cpu_avx512_lut_gemm_residual(lut, m, n, k, w, src, out))
        return ENG_OK;
    bool used[256];
    eng_lut_mark_used(w, (size_t)m * k, used);
    const int threads = eng_cpu_threads();
    /* a single matrix panel is read in place, with masked loads */
    const bool pack = src->conv != NULL || n > PANEL;
    const size_t panel_size = pack ? (size_t)k * PANEL : 0;
    const bool fits = eng_lut_fits_int16(lut, used);
    uint8_t *ws = fits && pack ? eng_cpu_workspace(panel_size * (size_t)threads) : NULL;
    if (!fits || (pack && ws == NULL)) /* 17-bit sign-magnitude products or out of memory */
        return reference_gemm(lut, m, n, k, w, src, out);
    uint8_t *planes = tls_planes;
    build_planes(lut, used, planes);
    const bool sgn = eng_lut_products_signed(lut);
    const int npanels = (n + PANEL - 1) / PANEL, mblocks = (m + MBLOCK - 1) / MBLOCK;
    const int tiles = npanels * mblocks;

#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1 && (double)m * n * k > 1e6)
    {
        uint8_t *buf = pack ? ws + panel_size * (size_t)eng_cpu_thread_id() : NULL;
        int packed = -1;
#pragma omp for schedule(static)
        for (int t = 0; t < tiles; t++) {
            const int panel = t / mblocks, mb = t % mblocks;
            const int n0 = panel * PANEL, nvalid = n - n0 < PANEL ? n - n0 : PANEL;
            const int i0 = mb * MBLOCK, rows = m - i0 < MBLOCK ? m - i0 : MBLOCK;
            const uint8_t *ap = src->a + n0;
            size_t lda = src->lda;
            if (pack) {
                if (packed != panel) {
                    panel_fill(src, (size_t)n0, k, nvalid, buf);
                    packed = panel;
                }
                ap = buf;
                lda = PANEL;
            }
            tile_any(planes, w + (size_t)i0 * k, rows, k, ap, lda, nvalid,
                     out + (size_t)i0 * n + n0, (size_t)n, sgn);
        }
    }
    return ENG_OK;
}

static eng_status avx512_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                  const uint8_t *a, int32_t *out)
{
    const panel_src src = {a, (size_t)n, NULL, 0};
    return lut_gemm_src(lut, m, n, k, w, &src, out);
}

/* Implicit im2col: the panels are packed from the image (conv_panel_avx512.c). */
static eng_status avx512_lut_conv2d(const eng_lut *lut, const eng_conv_shape *s, int oc,
                                    const uint8_t *a, uint8_t pad_code, const uint8_t *w,
                                    int32_t *out)
{
    const size_t np = (size_t)s->n * s->oh * s->ow;
    if (np > INT32_MAX) /* beyond the GEMM's int column count */
        return eng_cpu_lut_conv2d_columns(&avx512_kernels, lut, s, oc, a, pad_code, w, out);
    const panel_src src = {a, 0, s, pad_code};
    return lut_gemm_src(lut, oc, (int)np, s->c * s->kh * s->kw, w, &src, out);
}

/* out[j] = sum of the k codes a[p * lda + j], j < nvalid <= PANEL: the word trick of the table
 * GEMM with the codes as the low byte plane and a zero high plane. */
static void panel_code_sums(const uint8_t *a, size_t lda, int k, int nvalid, int32_t *out)
{
    const __m512i zero = _mm512_setzero_si512();
    for (int v = 0; v < PANEL / 64 && 64 * v < nvalid; v++) {
        const __mmask64 lm = lane_mask(nvalid - 64 * v);
        for (int k0 = 0; k0 < k; k0 += KCHUNK) {
            const int kc = k - k0 < KCHUNK ? k - k0 : KCHUNK;
            __m512i aw = zero, ao = zero;
            const uint8_t *ap = a + (size_t)k0 * lda + 64 * v;
            for (int p = 0; p < kc; p++, ap += lda) {
                const __m512i x = _mm512_maskz_loadu_epi8(lm, ap);
                aw = _mm512_add_epi16(aw, x);
                ao = _mm512_add_epi16(ao, _mm512_srli_epi16(x, 8));
            }
            flush_vector(aw, ao, zero, zero, zero, lm, k0 == 0, out + 64 * v);
        }
    }
}

/* Depthwise: per channel, the kh*kw shifted copies of the image (an im2col with one channel)
 * form a [taps][n*oh*ow] matrix that one weight row of the channel sweeps, vectorized over the
 * output pixels. Parallel over channels, each thread with its own planes and column buffer. */
static eng_status avx512_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s,
                                       const uint8_t *a, const uint8_t *w, uint8_t pad_code,
                                       int32_t *out, int32_t *sums)
{
    const int taps = s->kh * s->kw;
    const size_t np = (size_t)s->n * s->oh * s->ow, plane = (size_t)s->n * s->h * s->w;
    bool used[256];
    eng_lut_mark_used(w, (size_t)s->c * taps, used);
    const int threads = eng_cpu_threads();
    const size_t per_thread = ((size_t)taps * np + 63) / 64 * 64;
    uint8_t *ws = eng_lut_fits_int16(lut, used) ? eng_cpu_workspace(per_thread * (size_t)threads)
                                                : NULL;
    if (ws == NULL)
        return eng_kernels_ref()->lut_depthwise(lut, s, a, w, pad_code, out, sums);
    const bool sgn = eng_lut_products_signed(lut);
    eng_conv_shape s1 = *s;
    s1.c = 1;

#pragma omp parallel num_threads(threads) \
    if (threads > 1 && s->c > 1 && (double)s->c * np * taps > 1e6)
    {
        uint8_t *planes = tls_planes;
        uint8_t *cols = ws + per_thread * (size_t)eng_cpu_thread_id();
#pragma omp for schedule(static)
        for (int c = 0; c < s->c; c++) {
            const uint8_t *wc = w + (size_t)c * taps;
            bool cused[256];
            eng_lut_mark_used(wc, (size_t)taps, cused);
            build_planes(lut, cused, planes);
            eng_cpu_im2col_u8_rows(&s1, a + (size_t)c * plane, pad_code, cols, 0, taps);
            for (size_t n0 = 0; n0 < np; n0 += PANEL) {
                const int nvalid = np - n0 < PANEL ? (int)(np - n0) : PANEL;
                tile_any(planes, wc, 1, taps, cols + n0, np, nvalid, out + (size_t)c * np + n0,
                         np, sgn);
                if (sums) /* while the panel is in L1 */
                    panel_code_sums(cols + n0, np, taps, nvalid, sums + (size_t)c * np + n0);
            }
        }
    }
    return ENG_OK;
}

/* codes = clamp(round_half_even(x / scale) + zero_point): the reference's float operations in
 * the same order (division, not a reciprocal), NaN -> zero_point. */
static eng_status avx512_quantize(const float *x, size_t count, float scale, int32_t zero_point,
                                  int32_t qmin, int32_t qmax, uint8_t *codes)
{
    const avx512_quant vq = avx512_quant_make(scale, zero_point, qmin, qmax);
    const long long chunks = (long long)((count + 15) / 16);
#pragma omp parallel for schedule(static) if (count > (1u << 15) && eng_cpu_threads() > 1)
    for (long long c = 0; c < chunks; c++) {
        const size_t i = (size_t)c * 16;
        const __mmask16 m = count - i >= 16 ? (__mmask16)0xffff
                                            : (__mmask16)((1u << (count - i)) - 1);
        _mm_mask_storeu_epi8(codes + i, m, avx512_quantize16(&vq, x + i, m));
    }
    return ENG_OK;
}

static const eng_kernels avx512_kernels = {
    .name = "avx512",
    .sgemm = eng_cpu_sgemm,
    .lut_gemm = avx512_lut_gemm,
    .lut_conv2d = avx512_lut_conv2d,
    .lut_depthwise = avx512_lut_depthwise,
    .lut_depthwise_fused = eng_cpu_avx512_lut_depthwise_fused,
    .im2col_f32 = eng_cpu_im2col_f32,
    .im2col_u8 = eng_cpu_im2col_u8,
    .col2im_f32 = eng_cpu_col2im_f32,
    .quantize = avx512_quantize,
    .conv_same_f32_forward = eng_cpu_conv_same_avx512_forward,
    .conv_same_f32_backward_data = eng_cpu_conv_same_avx512_backward_data,
    .conv_same_f32_backward_weights = eng_cpu_conv_same_avx512_backward_weights,
    .depthwise_f32_forward = eng_cpu_depthwise_forward,
    .depthwise_f32_backward_data = eng_cpu_depthwise_backward_data,
    .depthwise_f32_backward_weights = eng_cpu_depthwise_backward_weights,
    .depthwise_f32_backward = eng_cpu_depthwise_backward,
};

#pragma GCC pop_options

const eng_kernels *eng_kernels_avx512(void)
{
    return &avx512_kernels;
}
