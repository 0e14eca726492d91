/*
 * lut_avx512_classes.c - the AVX-512 table GEMM for tables with at most 128 activation classes
 * (truncating multipliers such as mul8u_DM1): one lookup per byte plane, no masks.
 *
 * When the products of activation code a depend only on its class c(a) < 128 (struct
 * eng_lut_fit: mul8u_DM1 ignores the lowest activation bit), a table column has 128 entries
 * per byte plane, two zmm: one unmasked vpermi2b looks up 64 products' low bytes, a second
 * their high bytes, where the general kernel (lut_avx512.c) needs four permutes and two k-mask
 * writes, its bottleneck on Zen 5 (docs/kernels.md). With at most 64 classes a plane is one
 * zmm and vpermb does it. The panel is packed as usual, then its codes are replaced by their
 * classes (a shift for truncating tables, else a table lookup); sums, word trick, flush,
 * blocking and threads are the general kernel's, so the int32 results are the same bits.
 */
#include "cpu_kernels.h"

#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")

#include "lut_avx512_inl.h"

/* Replaces each of the k x PANEL codes of buf by its class: a >> shift, or class_of[a]. */
static void panel_to_classes(const eng_lut_fit *fit, int k, uint8_t *buf)
{
    const size_t count = (size_t)k * PANEL;
    if (fit->class_shift >= 0) {
        const __m128i s = _mm_cvtsi32_si128(fit->class_shift);
        const __m512i keep = _mm512_set1_epi8((char)(0xff >> fit->class_shift));
        for (size_t i = 0; i < count; i += 64) {
            const __m512i x = _mm512_load_si512(buf + i);
            _mm512_store_si512(buf + i, _mm512_and_si512(_mm512_srl_epi16(x, s), keep));
        }
        return;
    }
    const __m512i t0 = _mm512_loadu_si512(fit->class_of);
    const __m512i t1 = _mm512_loadu_si512(fit->class_of + 64);
    const __m512i t2 = _mm512_loadu_si512(fit->class_of + 128);
    const __m512i t3 = _mm512_loadu_si512(fit->class_of + 192);
    for (size_t i = 0; i < count; i += 64) {
        const __m512i x = _mm512_load_si512(buf + i);
        const __mmask64 top = _mm512_movepi8_mask(x);
        const __m512i low = _mm512_permutex2var_epi8(t0, x, t1);
        const __m512i high = _mm512_permutex2var_epi8(t2, x, t3);
        _mm512_store_si512(buf + i, _mm512_mask_blend_epi8(top, low, high));
    }
}

/* The hot loops for a full panel (4 vectors, 256 columns) in assembly, like the general
 * kernel's chunk_full (gcc spilled the accumulators of the intrinsics version): kc >= 1 terms
 * of weight codes w[0..kc) against the packed class rows x, x + 256, ...; store the 16
 * word-trick accumulators (awl, aol, awh, aoh of vector 0, then of vector 1, ...) to acc.
 * Registers: zmm0-3 the column's planes (low 0-1, high 2-3), zmm4-11 the classes and their
 * lookups, zmm16-31 accumulators. Up to 128 classes vpermi2b, which overwrites its index, so
 * each vector is copied once (84 GMAC/s, against 74 with a second load instead, 1 thread,
 * K = 576); up to 64 (small) vpermb, non-destructive, one plane register each. */
#define CLASS_PLANES128                                                                        \
    "vmovdqa64 0(%%rax), %%zmm0\n\t"                                                           \
    "vmovdqa64 64(%%rax), %%zmm1\n\t"                                                          \
    "vmovdqa64 128(%%rax), %%zmm2\n\t"                                                         \
    "vmovdqa64 192(%%rax), %%zmm3\n\t"
#define CLASS_PLANES64                                                                         \
    "vmovdqa64 0(%%rax), %%zmm0\n\t"                                                           \
    "vmovdqa64 128(%%rax), %%zmm2\n\t"
/* The 64 classes at x + OFF: low-plane products into zmmA, high-plane ones into zmmB. */
#define CLASS_LOOKUP128(OFF, A, B)                                                             \
    "vmovdqu8 " #OFF "(%[x]), %%zmm" #A "\n\t"                                                 \
    "vmovdqa64 %%zmm" #A ", %%zmm" #B "\n\t"                                                   \
    "vpermi2b %%zmm1, %%zmm0, %%zmm" #A "\n\t"                                                 \
    "vpermi2b %%zmm3, %%zmm2, %%zmm" #B "\n\t"
#define CLASS_LOOKUP64(OFF, A, B)                                                              \
    "vmovdqu8 " #OFF "(%[x]), %%zmm" #A "\n\t"                                                 \
    "vpermb %%zmm2, %%zmm" #A ", %%zmm" #B "\n\t"                                              \
    "vpermb %%zmm0, %%zmm" #A ", %%zmm" #A "\n\t"
/* Word-trick sums of zmmA (low plane) into W0 (words), W1 (odd bytes), of zmmB into W2, W3. */
#define CLASS_SUMS(A, B, W0, W1, W2, W3)                                                       \
    "vpaddw %%zmm" #A ", %%zmm" #W0 ", %%zmm" #W0 "\n\t"                                       \
    "vpsrlw $8, %%zmm" #A ", %%zmm" #A "\n\t"                                                  \
    "vpaddw %%zmm" #A ", %%zmm" #W1 ", %%zmm" #W1 "\n\t"                                       \
    "vpaddw %%zmm" #B ", %%zmm" #W2 ", %%zmm" #W2 "\n\t"                                       \
    "vpsrlw $8, %%zmm" #B ", %%zmm" #B "\n\t"                                                  \
    "vpaddw %%zmm" #B ", %%zmm" #W3 ", %%zmm" #W3 "\n\t"
#define CLASS_LOOP(PLANES, LOOKUP)                                                             \
    __asm__ volatile(                                                                          \
        ASM_ZERO_16_23 ASM_ZERO_24_31                                                          \
        "1:\n\t"                                                                               \
        "movzbl (%[w]), %%eax\n\t"                                                             \
        "shl $8, %%rax\n\t"                                                                    \
        "add %[planes], %%rax\n\t"                                                             \
        PLANES                                                                                 \
        LOOKUP(0, 4, 5) CLASS_SUMS(4, 5, 16, 17, 18, 19)                                       \
        LOOKUP(64, 6, 7) CLASS_SUMS(6, 7, 20, 21, 22, 23)                                      \
        LOOKUP(128, 8, 9) CLASS_SUMS(8, 9, 24, 25, 26, 27)                                     \
        LOOKUP(192, 10, 11) CLASS_SUMS(10, 11, 28, 29, 30, 31)                                 \
        "add $1, %[w]\n\t"                                                                     \
        "add $256, %[x]\n\t"                                                                   \
        "sub $1, %[n]\n\t"                                                                     \
        "jnz 1b\n\t"                                                                           \
        ASM_STORE_16_23 ASM_STORE_24_31                                                        \
        : [w] "+r"(w), [x] "+r"(x), [n] "+r"(n)                                                \
        : [planes] "r"(planes), [acc] "r"(acc)                                                 \
        : "rax", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",      \
          "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm16", "xmm17", "xmm18", "xmm19",        \
          "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",     \
          "xmm29", "xmm30", "xmm31")

static void classes_full(const uint8_t *planes, const uint8_t *w, const uint8_t *x, int kc,
                         bool small, __m512i acc[16])
{
    size_t n = (size_t)kc;
    if (small)
        CLASS_LOOP(CLASS_PLANES64, CLASS_LOOKUP64);
    else
        CLASS_LOOP(CLASS_PLANES128, CLASS_LOOKUP128);
}

/* One tile: rows [0, rows) of weights w (row stride k) against a packed panel of classes
 * ([k][PANEL]), the first nvalid columns stored to out (row stride ldo). NB: vectors of 64
 * columns computed; SMALL: at most 64 classes (one zmm per plane, vpermb). */
static inline __attribute__((always_inline)) void class_tile(const uint8_t *planes,
                                                             const uint8_t *w, int rows, int k,
                                                             const uint8_t *panel, int nvalid,
                                                             int32_t *out, size_t ldo, bool sgn,
                                                             const int NB, const bool SMALL)
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
            const uint8_t *ap = panel + (size_t)k0 * PANEL;
            if (NB == 4) {
                __m512i acc[16];
                classes_full(planes, wrow + k0, ap, kc, SMALL, acc);
                word_trick_unpack(acc, awl, aol, awh, aoh);
            } else {
                for (int p = k0; p < k0 + kc; p++, ap += PANEL) {
                    const uint8_t *col = planes + (size_t)wrow[p] * 256;
                    const __m512i l0 = _mm512_load_si512(col), h0 = _mm512_load_si512(col + 128);
                    const __m512i l1 = SMALL ? l0 : _mm512_load_si512(col + 64);
                    const __m512i h1 = SMALL ? h0 : _mm512_load_si512(col + 192);
#pragma GCC unroll 4
                    for (int v = 0; v < NB; v++) {
                        const __m512i x = _mm512_load_si512(ap + 64 * v);
                        const __m512i xl = SMALL ? _mm512_permutexvar_epi8(x, l0)
                                                 : _mm512_permutex2var_epi8(l0, x, l1);
                        const __m512i xh = SMALL ? _mm512_permutexvar_epi8(x, h0)
                                                 : _mm512_permutex2var_epi8(h0, x, h1);
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

static void class_tile_any(const uint8_t *planes, const uint8_t *w, int rows, int k,
                           const uint8_t *panel, int nvalid, int32_t *out, size_t ldo, bool sgn,
                           bool small)
{
    const int nb = (nvalid + 63) / 64;
    if (small) {
        switch (nb) {
        case 4: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 4, true); break;
        case 3: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 3, true); break;
        case 2: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 2, true); break;
        default: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 1, true); break;
        }
        return;
    }
    switch (nb) {
    case 4: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 4, false); break;
    case 3: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 3, false); break;
    case 2: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 2, false); break;
    default: class_tile(planes, w, rows, k, panel, nvalid, out, ldo, sgn, 1, false); break;
    }
}

static bool classes_apply(const eng_lut *lut, int m, int k, const uint8_t *w)
{
    if (lut->fit == NULL || lut->fit->classes > 128) /* skips marking the codes */
        return false;
    bool used[256];
    eng_lut_mark_used(w, (size_t)m * k, used);
    return eng_lut_class_fit(lut, used) != NULL && eng_lut_fits_int16(lut, used);
}

bool eng_cpu_lut_classes_apply(const eng_lut *lut, int m, int k, const uint8_t *w)
{
    return m > 0 && k > 0 && classes_apply(lut, m, k, w);
}

bool eng_cpu_avx512_lut_gemm_classes(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                     const panel_src *src, int32_t *out)
{
    if (m <= 0 || n <= 0 || k <= 0 || !classes_apply(lut, m, k, w))
        return false;
    const eng_lut_fit *fit = lut->fit;
    const int threads = eng_cpu_threads();
    const size_t panel_size = (size_t)k * PANEL;
    uint8_t *ws = eng_cpu_workspace(panel_size * (size_t)threads);
    if (ws == NULL)
        return false;
    const bool sgn = eng_lut_products_signed(lut), small = fit->classes <= 64;
    const int npanels = (n + PANEL - 1) / PANEL, mblocks = (m + MBLOCK - 1) / MBLOCK;
    const int tiles = npanels * mblocks;

#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1 && (double)m * n * k > 1e6)
    {
        uint8_t *panel = ws + panel_size * (size_t)eng_cpu_thread_id();
        int packed = -1;
#pragma omp for schedule(static)
        for (int t = 0; t < tiles; t++) {
            const int pi = t / mblocks, mb = t % mblocks;
            const int n0 = pi * PANEL, nvalid = n - n0 < PANEL ? n - n0 : PANEL;
            const int i0 = mb * MBLOCK, rows = m - i0 < MBLOCK ? m - i0 : MBLOCK;
            if (packed != pi) {
                panel_fill(src, (size_t)n0, k, nvalid, panel);
                panel_to_classes(fit, k, panel);
                packed = pi;
            }
            class_tile_any(fit->class_planes, w + (size_t)i0 * k, rows, k, panel, nvalid,
                           out + (size_t)i0 * n + n0, (size_t)n, sgn, small);
        }
    }
    return true;
}

#pragma GCC pop_options
