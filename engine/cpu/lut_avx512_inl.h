/*
 * lut_avx512_inl.h - blocking constants and inline helpers shared by the AVX-512 table GEMMs
 * (lut_avx512.c: general 16-bit tables; lut_avx512_residual.c: exact + residual bytes;
 * lut_avx512_classes.c: tables with few activation classes) and the
 * activation quantization (avx512_quantize, the fused depthwise kernel).
 * Include inside a `#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")` region.
 */
#ifndef ENG_LUT_AVX512_INL_H
#define ENG_LUT_AVX512_INL_H

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "eng_kernels.h"

enum {
    PANEL = 256,            /* columns per panel: 4 vectors of 64 byte lanes */
    KCHUNK = 256,           /* terms summed in 16 bits before a flush to int32 */
    MBLOCK = 16,            /* weight rows per tile */
    PLANES_SIZE = 256 * 512 /* byte planes of all 256 weight codes */
};

/* Lanes [0, count) of a 64-lane vector, count clipped to [0, 64]. */
static inline __mmask64 lane_mask(int count)
{
    return count >= 64 ? ~(__mmask64)0 : count <= 0 ? 0 : (((__mmask64)1 << count) - 1);
}

/* Words [16h, 16h + 16) of lo and hi as int32 lo + 256 * hi (h = 0 or 1). */
static inline __attribute__((always_inline)) __m512i widen_half(__m512i lo, __m512i hi, int h)
{
    const __m256i l = h ? _mm512_extracti64x4_epi64(lo, 1) : _mm512_castsi512_si256(lo);
    const __m256i u = h ? _mm512_extracti64x4_epi64(hi, 1) : _mm512_castsi512_si256(hi);
    return _mm512_add_epi32(_mm512_cvtepu16_epi32(l),
                            _mm512_slli_epi32(_mm512_cvtepu16_epi32(u), 8));
}

/* Adds 64 products, their low bytes xl and high bytes xh, to one vector's word-trick
 * accumulators (awl, aol: the low plane's words and odd bytes; awh, aoh: the high plane's). */
static inline __attribute__((always_inline)) void word_trick_add(__m512i xl, __m512i xh,
                                                                 __m512i *awl, __m512i *aol,
                                                                 __m512i *awh, __m512i *aoh)
{
    *awl = _mm512_add_epi16(*awl, xl);
    *aol = _mm512_add_epi16(*aol, _mm512_srli_epi16(xl, 8));
    *awh = _mm512_add_epi16(*awh, xh);
    *aoh = _mm512_add_epi16(*aoh, _mm512_srli_epi16(xh, 8));
}

/* The accumulators an assembly loop stored (awl, aol, awh, aoh of vector 0, then of vector 1,
 * ...) into the four arrays of 4 vectors. */
static inline __attribute__((always_inline)) void word_trick_unpack(const __m512i acc[16],
                                                                    __m512i awl[4],
                                                                    __m512i aol[4],
                                                                    __m512i awh[4],
                                                                    __m512i aoh[4])
{
    for (int v = 0; v < 4; v++) {
        awl[v] = acc[4 * v];
        aol[v] = acc[4 * v + 1];
        awh[v] = acc[4 * v + 2];
        aoh[v] = acc[4 * v + 3];
    }
}

/* Adds (or stores, when first) the 64 sums of one vector to out[0..63], lanes in valid only.
 * awl/aol, awh/aoh: word-trick accumulators of the low and high byte planes; bias: 32768 *
 * terms for signed products, else 0. */
static inline __attribute__((always_inline)) void flush_vector(__m512i awl, __m512i aol,
                                                               __m512i awh, __m512i aoh,
                                                               __m512i bias, __mmask64 valid,
                                                               bool first, int32_t *out)
{
    const __m512i idx_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                              23);
    const __m512i idx_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                                              15, 31);
    __m512i el = _mm512_sub_epi16(awl, _mm512_slli_epi16(aol, 8));
    __m512i eh = _mm512_sub_epi16(awh, _mm512_slli_epi16(aoh, 8));
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m512i even = widen_half(el, eh, h), odd = widen_half(aol, aoh, h);
        even = _mm512_sub_epi32(even, bias);
        odd = _mm512_sub_epi32(odd, bias);
        __m512i r[2] = {_mm512_permutex2var_epi32(even, idx_lo, odd),
                        _mm512_permutex2var_epi32(even, idx_hi, odd)};
#pragma GCC unroll 2
        for (int q = 0; q < 2; q++) {
            __mmask16 m = (__mmask16)(valid >> (32 * h + 16 * q));
            int32_t *o = out + 32 * h + 16 * q;
            if (!first)
                r[q] = _mm512_add_epi32(r[q], _mm512_maskz_loadu_epi32(m, o));
            _mm512_mask_storeu_epi32(o, m, r[q]);
        }
    }
}

/* Copies the k rows of a column panel (nvalid <= PANEL bytes each, row stride lda) into buf
 * [k][PANEL], zero-filling the tail. Vector moves: `rep movs`, GCC's inline memcpy for these
 * sizes, cost about as much as the table lookups of a thin layer. */
static inline void pack_panel(const uint8_t *a, size_t lda, int k, int nvalid, uint8_t *buf)
{
    const int full = nvalid / 64;
    const __mmask64 tail = nvalid % 64 ? (~(__mmask64)0 >> (64 - nvalid % 64)) : 0;
    for (int p = 0; p < k; p++, a += lda, buf += PANEL) {
        int v = 0;
        for (; v < full; v++)
            _mm512_store_si512(buf + 64 * v, _mm512_loadu_si512(a + 64 * v));
        if (v < PANEL / 64)
            _mm512_store_si512(buf + 64 * v, _mm512_maskz_loadu_epi8(tail, a + 64 * v));
        for (v++; v < PANEL / 64; v++)
            _mm512_store_si512(buf + 64 * v, _mm512_setzero_si512());
    }
}

/* Inline-assembly pieces of the hot loops: zero, store to %[acc] (64 bytes apart) or load
 * from it the accumulator registers zmm16-23 or zmm24-31. */
#define ASM_ZERO_16_23                                                                         \
    "vpxord %%zmm16, %%zmm16, %%zmm16\n\t" \
    "vpxord %%zmm17, %%zmm17, %%zmm17\n\t" \
    "vpxord %%zmm18, %%zmm18, %%zmm18\n\t" \
    "vpxord %%zmm19, %%zmm19, %%zmm19\n\t" \
    "vpxord %%zmm20, %%zmm20, %%zmm20\n\t" \
    "vpxord %%zmm21, %%zmm21, %%zmm21\n\t" \
    "vpxord %%zmm22, %%zmm22, %%zmm22\n\t" \
    "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
#define ASM_ZERO_24_31                                                                         \
    "vpxord %%zmm24, %%zmm24, %%zmm24\n\t" \
    "vpxord %%zmm25, %%zmm25, %%zmm25\n\t" \
    "vpxord %%zmm26, %%zmm26, %%zmm26\n\t" \
    "vpxord %%zmm27, %%zmm27, %%zmm27\n\t" \
    "vpxord %%zmm28, %%zmm28, %%zmm28\n\t" \
    "vpxord %%zmm29, %%zmm29, %%zmm29\n\t" \
    "vpxord %%zmm30, %%zmm30, %%zmm30\n\t" \
    "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"
#define ASM_STORE_16_23                                                                        \
    "vmovdqu64 %%zmm16, 0(%[acc])\n\t" \
    "vmovdqu64 %%zmm17, 64(%[acc])\n\t" \
    "vmovdqu64 %%zmm18, 128(%[acc])\n\t" \
    "vmovdqu64 %%zmm19, 192(%[acc])\n\t" \
    "vmovdqu64 %%zmm20, 256(%[acc])\n\t" \
    "vmovdqu64 %%zmm21, 320(%[acc])\n\t" \
    "vmovdqu64 %%zmm22, 384(%[acc])\n\t" \
    "vmovdqu64 %%zmm23, 448(%[acc])\n\t"
#define ASM_STORE_24_31                                                                        \
    "vmovdqu64 %%zmm24, 512(%[acc])\n\t" \
    "vmovdqu64 %%zmm25, 576(%[acc])\n\t" \
    "vmovdqu64 %%zmm26, 640(%[acc])\n\t" \
    "vmovdqu64 %%zmm27, 704(%[acc])\n\t" \
    "vmovdqu64 %%zmm28, 768(%[acc])\n\t" \
    "vmovdqu64 %%zmm29, 832(%[acc])\n\t" \
    "vmovdqu64 %%zmm30, 896(%[acc])\n\t" \
    "vmovdqu64 %%zmm31, 960(%[acc])\n\t"
#define ASM_LOAD_16_31                                                                         \
    "vmovdqu64 0(%[acc]), %%zmm16\n\t" \
    "vmovdqu64 64(%[acc]), %%zmm17\n\t" \
    "vmovdqu64 128(%[acc]), %%zmm18\n\t" \
    "vmovdqu64 192(%[acc]), %%zmm19\n\t" \
    "vmovdqu64 256(%[acc]), %%zmm20\n\t" \
    "vmovdqu64 320(%[acc]), %%zmm21\n\t" \
    "vmovdqu64 384(%[acc]), %%zmm22\n\t" \
    "vmovdqu64 448(%[acc]), %%zmm23\n\t" \
    "vmovdqu64 512(%[acc]), %%zmm24\n\t" \
    "vmovdqu64 576(%[acc]), %%zmm25\n\t" \
    "vmovdqu64 640(%[acc]), %%zmm26\n\t" \
    "vmovdqu64 704(%[acc]), %%zmm27\n\t" \
    "vmovdqu64 768(%[acc]), %%zmm28\n\t" \
    "vmovdqu64 832(%[acc]), %%zmm29\n\t" \
    "vmovdqu64 896(%[acc]), %%zmm30\n\t" \
    "vmovdqu64 960(%[acc]), %%zmm31\n\t"

/* Packs columns [n0, n0 + nvalid) (nvalid <= PANEL) of im2col_u8(s, a, pad) into buf
 * [s->c * s->kh * s->kw][PANEL], tail lanes pad (conv_panel_avx512.c). */
void eng_cpu_avx512_conv_panel(const eng_conv_shape *s, const uint8_t *a, uint8_t pad,
                               size_t n0, int nvalid, uint8_t *buf);

/* Where a table GEMM's activation codes come from: a [k][n] matrix (row stride lda), or the
 * im2col of CNHW codes (conv set), which is never built but packed panel by panel. */
typedef struct panel_src {
    const uint8_t        *a;
    size_t                lda;
    const eng_conv_shape *conv;
    uint8_t               pad;
} panel_src;

/* Packs the k rows of columns [n0, n0 + nvalid) of src into buf [k][PANEL], tail lanes filled. */
static inline void panel_fill(const panel_src *src, size_t n0, int k, int nvalid, uint8_t *buf)
{
    if (src->conv != NULL)
        eng_cpu_avx512_conv_panel(src->conv, src->a, src->pad, n0, nvalid, buf);
    else
        pack_panel(src->a + n0, src->lda, k, nvalid, buf);
}

/* eng_kernels.lut_gemm (or lut_conv2d, src->conv set) through the residual decomposition when
 * eng_cpu_lut_residual_applies (and the scratch memory is there): returns true with out
 * computed, else false with out untouched (lut_avx512_residual.c). */
bool eng_cpu_avx512_lut_gemm_residual(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                      const panel_src *src, int32_t *out);

/* The same through the activation classes when eng_cpu_lut_classes_apply (and the scratch
 * memory is there); else false with out untouched (lut_avx512_classes.c). */
bool eng_cpu_avx512_lut_gemm_classes(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                     const panel_src *src, int32_t *out);

/* The activation quantization as vectors: scale, its reciprocal (fast = false: none usable),
 * zero point, code range. */
typedef struct avx512_quant {
    __m512 vs, vr, vz, lo, hi;
    __m512i zp;
    bool fast;
} avx512_quant;

/* The vectors of the quantization (scale, zero_point, [qmin, qmax]); the reciprocal is used
 * only where it and the scale are normal numbers and the code range is within +-255. */
static inline avx512_quant avx512_quant_make(float scale, int32_t zero_point, int32_t qmin,
                                             int32_t qmax)
{
    const float recip = 1.0f / scale;
    return (avx512_quant){_mm512_set1_ps(scale), _mm512_set1_ps(recip),
                          _mm512_set1_ps((float)zero_point), _mm512_set1_ps((float)qmin),
                          _mm512_set1_ps((float)qmax), _mm512_set1_epi32(zero_point),
                          isnormal(scale) && isnormal(recip) && qmin >= -255 && qmax <= 255};
}

/* 16 codes of x[0..16) (lanes in m), those of avx512_quantize: clamp(round_half_even(x /
 * scale) + zero_point), NaN -> zero point. The quotient is first taken as x * (1 / scale),
 * within 2 ulps of the rounded quotient; the two round to different integers only when a
 * half-integer lies between them, so lanes whose product is within 2^-10 of a half-integer
 * (far more than 2 ulps below 1024) are divided. Beyond +-1024 both clamp to the same end of
 * the code range (|zero_point| <= 255). The codes are the division's bit for bit. */
static inline __attribute__((always_inline)) __m128i avx512_quantize16(const avx512_quant *vq,
                                                                      const float *x, __mmask16 m)
{
    const __m512 xv = _mm512_maskz_loadu_ps(m, x);
    __m512 q;
    if (vq->fast) {
        q = _mm512_mul_ps(xv, vq->vr);
        const __m512 r = _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512 d = _mm512_abs_ps(_mm512_sub_ps(q, r));
        const __mmask16 near = _mm512_mask_cmp_ps_mask(
            _mm512_cmp_ps_mask(_mm512_abs_ps(q), _mm512_set1_ps(1024.0f), _CMP_LT_OQ), d,
            _mm512_set1_ps(0.5f - 1.0f / 1024), _CMP_GT_OQ);
        if (near)
            q = _mm512_mask_div_ps(q, near, xv, vq->vs);
    } else {
        q = _mm512_div_ps(xv, vq->vs);
    }
    q = _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm512_add_ps(q, vq->vz);
    const __mmask16 nan = _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q);
    __m512i v = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(q, vq->lo), vq->hi));
    v = _mm512_mask_mov_epi32(v, nan, vq->zp);
    return _mm512_cvtepi32_epi8(v);
}

#endif /* ENG_LUT_AVX512_INL_H */
