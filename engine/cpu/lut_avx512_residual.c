/*
 * lut_avx512_residual.c - table GEMM as an exact int8 GEMM plus residual byte lookups, for
 * tables whose residual decomposition (eng_lut_fit) is mostly one byte wide.
 *
 * With P(a, w) = slope[w] * value(a) + offset[w] + R(a, w) (lut_fit.c):
 *     out[i][j] = sum_p slope[w_ip] * value(a_pj)           vpdpbusd, 64 products per instruction
 *               + sum_p offset[w_ip]                        a constant per row
 *               + sum_p R_lo(a_pj, w_ip)                    one byte plane: 2 vpermi2b per 64
 *               + 256 * sum_{p: wide[w_ip]} R_hi(a_pj, w_ip) only the terms of wide codes.
 * A general 16-bit table needs 2 planes (4 vpermi2b) for every term; a multiplier that is the
 * exact product plus an error within 255 needs only the low plane, and about half of the vector
 * work per product. Every step is integer arithmetic modulo 2^32, so the result is bit-exact
 * with the reference for any decomposition; the decomposition only decides the speed.
 *
 * The exact part: vpdpbusd multiplies unsigned by signed bytes. The activation codes are
 * stored with their top bit flipped, x = a ^ 0x80: as a signed byte that is a - 128 (unsigned
 * activations, slopes in [0, 255] are the unsigned operand), as an unsigned byte value(a) + 128
 * (signed activations, slopes in [-128, 127] are the signed operand); the 128 * sum(slope)
 * this adds or removes is part of the row constant.
 *
 * Blocking as in lut_avx512.c: panels of 256 columns, packed per thread twice: [K][256] for
 * the lookups (from the matrix or straight from the image: panel_fill) and [K/4][256][4]
 * (4 consecutive k of a column in one dword) for vpdpbusd;
 * tiles of 16 weight rows, static OpenMP schedule.
 */
#include "cpu_kernels.h"

#include <string.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512vnni")

#include "lut_avx512_inl.h"

static bool vnni_supported(void)
{
    return eng_cpu_avx512_supported() && __builtin_cpu_supports("avx512vnni");
}

/* The residual path's condition (eng_cpu_lut_residual_applies); *wide_terms gets the number of
 * terms with a wide code. */
static bool residual_applies(const eng_lut *lut, int m, int k, const uint8_t *w,
                             size_t *wide_terms)
{
    const eng_lut_fit *fit = lut->fit;
    if (fit == NULL || m <= 0 || k <= 0 || !vnni_supported())
        return false;
    const size_t terms = (size_t)m * k;
    size_t wide = 0;
    for (size_t i = 0; i < terms; i++) {
        if (!fit->usable[w[i]])
            return false;
        wide += fit->wide[w[i]];
    }
    *wide_terms = wide;
    /* a wide term costs both planes plus a second mask: past half of them, the general kernel
     * (both planes in one pass) is faster */
    return 2 * wide <= terms;
}

bool eng_cpu_lut_residual_applies(const eng_lut *lut, int m, int k, const uint8_t *w)
{
    size_t wide;
    return residual_applies(lut, m, k, w, &wide);
}

/* One byte plane over `count` terms: for term t, p = terms[t], table column
 * planes + codes[p] * 512 against the 4 activation vectors at x + p * PANEL; stores the
 * word-trick accumulators (aw, ao of vector 0, then of vector 1, ...) to acc.
 * Registers: zmm0-3 the column, zmm8-11 lookups, zmm16-23 accumulators. */
static void plane_terms(const uint8_t *planes, const uint8_t *codes, const int32_t *terms,
                        int count, const uint8_t *x, __m512i acc[8])
{
    size_t n = (size_t)count;
    __asm__ volatile(
        ASM_ZERO_16_23
        "test %[n], %[n]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        "movslq (%[terms]), %%rcx\n\t"
        "movzbl (%[codes],%%rcx), %%eax\n\t"
        "shl $9, %%rax\n\t"
        "add %[planes], %%rax\n\t"
        "shl $8, %%rcx\n\t"
        "add %[x], %%rcx\n\t"
        "vmovdqa64 0(%%rax), %%zmm0\n\t"
        "vmovdqa64 64(%%rax), %%zmm1\n\t"
        "vmovdqa64 128(%%rax), %%zmm2\n\t"
        "vmovdqa64 192(%%rax), %%zmm3\n\t"
        "vmovdqa64 0(%%rcx), %%zmm8\n\t"
        "vmovdqa64 64(%%rcx), %%zmm9\n\t"
        "vmovdqa64 128(%%rcx), %%zmm10\n\t"
        "vmovdqa64 192(%%rcx), %%zmm11\n\t"
        "vpmovb2m %%zmm8, %%k1\n\t"
        "vpmovb2m %%zmm9, %%k3\n\t"
        "vpmovb2m %%zmm10, %%k5\n\t"
        "vpmovb2m %%zmm11, %%k7\n\t"
        "knotq %%k1, %%k2\n\t"
        "knotq %%k3, %%k4\n\t"
        "knotq %%k5, %%k6\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm8%{%%k2%}\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm9%{%%k4%}\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm10%{%%k6%}\n\t"
        "knotq %%k7, %%k2\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm11%{%%k2%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm8%{%%k1%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm9%{%%k3%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm10%{%%k5%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm11%{%%k7%}\n\t"
        "vpaddw %%zmm8, %%zmm16, %%zmm16\n\t"
        "vpaddw %%zmm9, %%zmm18, %%zmm18\n\t"
        "vpaddw %%zmm10, %%zmm20, %%zmm20\n\t"
        "vpaddw %%zmm11, %%zmm22, %%zmm22\n\t"
        "vpsrlw $8, %%zmm8, %%zmm8\n\t"
        "vpsrlw $8, %%zmm9, %%zmm9\n\t"
        "vpsrlw $8, %%zmm10, %%zmm10\n\t"
        "vpsrlw $8, %%zmm11, %%zmm11\n\t"
        "vpaddw %%zmm8, %%zmm17, %%zmm17\n\t"
        "vpaddw %%zmm9, %%zmm19, %%zmm19\n\t"
        "vpaddw %%zmm10, %%zmm21, %%zmm21\n\t"
        "vpaddw %%zmm11, %%zmm23, %%zmm23\n\t"
        "add $4, %[terms]\n\t"
        "sub $1, %[n]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        ASM_STORE_16_23
        : [terms] "+r"(terms), [n] "+r"(n)
        : [planes] "r"(planes), [codes] "r"(codes), [x] "r"(x), [acc] "r"(acc)
        : "rax", "rcx", "cc", "memory", "k1", "k2", "k3", "k4", "k5", "k6", "k7",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm8", "xmm9", "xmm10", "xmm11", "xmm16", "xmm17",
          "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23");
}

/* The low plane of two weight rows at once (codes wa[t], wb[t] for term t < count, activation
 * rows x + t * PANEL): the masks of each activation vector, the scarce resource (one k-mask
 * write costs about as much as two lookups), serve both rows. Stores the accumulators of row a
 * (aw, ao of vector 0, then of vector 1, ...) to acc[0..7] and those of row b to acc[8..15].
 * Registers: zmm0-3 / zmm4-7 the two columns, zmm8-11 activations, zmm12-15 lookups,
 * zmm16-23 / zmm24-31 accumulators. */
static void plane_pair(const uint8_t *planes, const uint8_t *wa, const uint8_t *wb, int count,
                       const uint8_t *x, __m512i acc[16])
{
    size_t n = (size_t)count;
    __asm__ volatile(
        ASM_ZERO_16_23 ASM_ZERO_24_31
        "1:\n\t"
        "movzbl (%[wa]), %%eax\n\t"
        "movzbl (%[wb]), %%ecx\n\t"
        "shl $9, %%rax\n\t"
        "shl $9, %%rcx\n\t"
        "add %[planes], %%rax\n\t"
        "add %[planes], %%rcx\n\t"
        "vmovdqa64 0(%%rax), %%zmm0\n\t"
        "vmovdqa64 64(%%rax), %%zmm1\n\t"
        "vmovdqa64 128(%%rax), %%zmm2\n\t"
        "vmovdqa64 192(%%rax), %%zmm3\n\t"
        "vmovdqa64 0(%%rcx), %%zmm4\n\t"
        "vmovdqa64 64(%%rcx), %%zmm5\n\t"
        "vmovdqa64 128(%%rcx), %%zmm6\n\t"
        "vmovdqa64 192(%%rcx), %%zmm7\n\t"
        "vmovdqa64 0(%[x]), %%zmm8\n\t"
        "vmovdqa64 64(%[x]), %%zmm9\n\t"
        "vmovdqa64 128(%[x]), %%zmm10\n\t"
        "vmovdqa64 192(%[x]), %%zmm11\n\t"
        "vpmovb2m %%zmm8, %%k1\n\t"
        "knotq %%k1, %%k2\n\t"
        "vmovdqa64 %%zmm8, %%zmm12\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm12%{%%k2%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm8%{%%k2%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm12%{%%k1%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm8%{%%k1%}\n\t"
        "vpaddw %%zmm12, %%zmm16, %%zmm16\n\t"
        "vpaddw %%zmm8, %%zmm24, %%zmm24\n\t"
        "vpsrlw $8, %%zmm12, %%zmm12\n\t"
        "vpsrlw $8, %%zmm8, %%zmm8\n\t"
        "vpaddw %%zmm12, %%zmm17, %%zmm17\n\t"
        "vpaddw %%zmm8, %%zmm25, %%zmm25\n\t"
        "vpmovb2m %%zmm9, %%k3\n\t"
        "knotq %%k3, %%k4\n\t"
        "vmovdqa64 %%zmm9, %%zmm13\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm13%{%%k4%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm9%{%%k4%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm13%{%%k3%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm9%{%%k3%}\n\t"
        "vpaddw %%zmm13, %%zmm18, %%zmm18\n\t"
        "vpaddw %%zmm9, %%zmm26, %%zmm26\n\t"
        "vpsrlw $8, %%zmm13, %%zmm13\n\t"
        "vpsrlw $8, %%zmm9, %%zmm9\n\t"
        "vpaddw %%zmm13, %%zmm19, %%zmm19\n\t"
        "vpaddw %%zmm9, %%zmm27, %%zmm27\n\t"
        "vpmovb2m %%zmm10, %%k5\n\t"
        "knotq %%k5, %%k6\n\t"
        "vmovdqa64 %%zmm10, %%zmm14\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm14%{%%k6%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm10%{%%k6%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm14%{%%k5%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm10%{%%k5%}\n\t"
        "vpaddw %%zmm14, %%zmm20, %%zmm20\n\t"
        "vpaddw %%zmm10, %%zmm28, %%zmm28\n\t"
        "vpsrlw $8, %%zmm14, %%zmm14\n\t"
        "vpsrlw $8, %%zmm10, %%zmm10\n\t"
        "vpaddw %%zmm14, %%zmm21, %%zmm21\n\t"
        "vpaddw %%zmm10, %%zmm29, %%zmm29\n\t"
        "vpmovb2m %%zmm11, %%k7\n\t"
        "knotq %%k7, %%k2\n\t"
        "vmovdqa64 %%zmm11, %%zmm15\n\t"
        "vpermi2b %%zmm1, %%zmm0, %%zmm15%{%%k2%}\n\t"
        "vpermi2b %%zmm5, %%zmm4, %%zmm11%{%%k2%}\n\t"
        "vpermi2b %%zmm3, %%zmm2, %%zmm15%{%%k7%}\n\t"
        "vpermi2b %%zmm7, %%zmm6, %%zmm11%{%%k7%}\n\t"
        "vpaddw %%zmm15, %%zmm22, %%zmm22\n\t"
        "vpaddw %%zmm11, %%zmm30, %%zmm30\n\t"
        "vpsrlw $8, %%zmm15, %%zmm15\n\t"
        "vpsrlw $8, %%zmm11, %%zmm11\n\t"
        "vpaddw %%zmm15, %%zmm23, %%zmm23\n\t"
        "vpaddw %%zmm11, %%zmm31, %%zmm31\n\t"
        "add $1, %[wa]\n\t"
        "add $1, %[wb]\n\t"
        "add $256, %[x]\n\t"
        "sub $1, %[n]\n\t"
        "jnz 1b\n\t"
        ASM_STORE_16_23 ASM_STORE_24_31
        : [wa] "+r"(wa), [wb] "+r"(wb), [x] "+r"(x), [n] "+r"(n)
        : [planes] "r"(planes), [acc] "r"(acc)
        : "rax", "rcx", "cc", "memory", "k1", "k2", "k3", "k4", "k5", "k6", "k7",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",
          "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",
          "xmm28", "xmm29", "xmm30", "xmm31");
}

/* The [K][256] panel as [k4 / 4][256][4] with every byte's top bit flipped; rows k..k4 zero
 * (their slopes are zero). */
static void pack_dwords(const uint8_t *panel, int k, int k4, uint8_t *out)
{
    const __m512i pair_lo = _mm512_set_epi8(
        95, 31, 94, 30, 93, 29, 92, 28, 91, 27, 90, 26, 89, 25, 88, 24, 87, 23, 86, 22, 85, 21,
        84, 20, 83, 19, 82, 18, 81, 17, 80, 16, 79, 15, 78, 14, 77, 13, 76, 12, 75, 11, 74, 10,
        73, 9, 72, 8, 71, 7, 70, 6, 69, 5, 68, 4, 67, 3, 66, 2, 65, 1, 64, 0);
    const __m512i pair_hi = _mm512_add_epi8(pair_lo, _mm512_set1_epi8(32));
    const __m512i quad_lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41,
                                             9, 40, 8, 39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2,
                                             33, 1, 32, 0);
    const __m512i quad_hi = _mm512_add_epi16(quad_lo, _mm512_set1_epi16(16));
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int q = 0; q < k4 / 4; q++) {
        __m512i r[4];
        for (int v = 0; v < PANEL / 64; v++) {
            for (int j = 0; j < 4; j++) {
                const int p = 4 * q + j;
                r[j] = p < k ? _mm512_load_si512(panel + (size_t)p * PANEL + 64 * v)
                             : _mm512_set1_epi8((char)0x80); /* flipped: stored as zero */
            }
            const __m512i p01[2] = {_mm512_permutex2var_epi8(r[0], pair_lo, r[1]),
                                    _mm512_permutex2var_epi8(r[0], pair_hi, r[1])};
            const __m512i p23[2] = {_mm512_permutex2var_epi8(r[2], pair_lo, r[3]),
                                    _mm512_permutex2var_epi8(r[2], pair_hi, r[3])};
            uint8_t *o = out + (size_t)q * PANEL * 4 + (size_t)v * 256;
            for (int h = 0; h < 2; h++) {
                _mm512_store_si512(o + 128 * h, _mm512_xor_si512(flip,
                    _mm512_permutex2var_epi16(p01[h], quad_lo, p23[h])));
                _mm512_store_si512(o + 128 * h + 64, _mm512_xor_si512(flip,
                    _mm512_permutex2var_epi16(p01[h], quad_hi, p23[h])));
            }
        }
    }
}

/* 4 rows x 64 columns of the exact part: acc[4 * r + j] (columns 16j..16j+15 of row r) +=
 * sum over q < nq of the dword of slopes s + r * ldk + 4q times the dword panel x + 1024q.
 * Slopes are vpdpbusd's unsigned operand (unsigned activations) or its signed one. Assembly:
 * GCC shuffles the 16 accumulators through extra registers in the intrinsics version. The
 * accumulators are loaded from and stored back to acc. */
#define EXACT_LOOP(DP0, DP1, DP2, DP3)                                                          \
    "1:\n\t"                                                                                   \
    "vmovdqa64 0(%[x]), %%zmm0\n\t"                                                            \
    "vmovdqa64 64(%[x]), %%zmm1\n\t"                                                           \
    "vmovdqa64 128(%[x]), %%zmm2\n\t"                                                          \
    "vmovdqa64 192(%[x]), %%zmm3\n\t"                                                          \
    "vpbroadcastd (%[s]), %%zmm4\n\t"                                                          \
    "vpbroadcastd (%[s],%[ldk]), %%zmm5\n\t"                                                   \
    "vpbroadcastd (%[s],%[ldk],2), %%zmm6\n\t"                                                 \
    "vpbroadcastd (%[s],%[ldk3]), %%zmm7\n\t"                                                  \
    DP0 DP1 DP2 DP3                                                                            \
    "add $4, %[s]\n\t"                                                                         \
    "add $1024, %[x]\n\t"                                                                      \
    "sub $1, %[n]\n\t"                                                                         \
    "jnz 1b\n\t"
/* unsigned activations: slopes (zmm4+r) are the unsigned operand */
#define DP_U(R, A0, A1, A2, A3)                                                                 \
    "vpdpbusd %%zmm0, %%zmm" R ", %%zmm" A0 "\n\t"                                            \
    "vpdpbusd %%zmm1, %%zmm" R ", %%zmm" A1 "\n\t"                                            \
    "vpdpbusd %%zmm2, %%zmm" R ", %%zmm" A2 "\n\t"                                            \
    "vpdpbusd %%zmm3, %%zmm" R ", %%zmm" A3 "\n\t"
/* signed activations: the flipped activations are the unsigned operand */
#define DP_S(R, A0, A1, A2, A3)                                                                 \
    "vpdpbusd %%zmm" R ", %%zmm0, %%zmm" A0 "\n\t"                                            \
    "vpdpbusd %%zmm" R ", %%zmm1, %%zmm" A1 "\n\t"                                            \
    "vpdpbusd %%zmm" R ", %%zmm2, %%zmm" A2 "\n\t"                                            \
    "vpdpbusd %%zmm" R ", %%zmm3, %%zmm" A3 "\n\t"
#define EXACT_IO                                                                               \
    : [s] "+r"(s), [x] "+r"(x), [n] "+r"(n)                                                    \
    : [ldk] "r"(ldk), [ldk3] "r"(3 * ldk), [acc] "r"(acc)                                      \
    : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm16",  \
      "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", \
      "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"

static void exact_block(const uint8_t *s, size_t ldk, const uint8_t *x, int nq, bool signed_acts,
                        __m512i acc[16])
{
    size_t n = (size_t)nq;
    if (signed_acts)
        __asm__ volatile(ASM_LOAD_16_31
                         EXACT_LOOP(DP_S("4", "16", "17", "18", "19"),
                                    DP_S("5", "20", "21", "22", "23"),
                                    DP_S("6", "24", "25", "26", "27"),
                                    DP_S("7", "28", "29", "30", "31"))
                         ASM_STORE_16_23 ASM_STORE_24_31 EXACT_IO);
    else
        __asm__ volatile(ASM_LOAD_16_31
                         EXACT_LOOP(DP_U("4", "16", "17", "18", "19"),
                                    DP_U("5", "20", "21", "22", "23"),
                                    DP_U("6", "24", "25", "26", "27"),
                                    DP_U("7", "28", "29", "30", "31"))
                         ASM_STORE_16_23 ASM_STORE_24_31 EXACT_IO);
}

/* Rows r < rows (<= 4) of out (row stride ldo), columns [0, nvalid): constant[r] + the sum
 * over k4 of the row's slopes (row stride k4; the plan pads to 4 rows with zeros) times the
 * flipped activations of the dword panel. Four rows share every load of the panel. */
static void exact_rows(const uint8_t *slopes, int rows, int k4, const uint8_t *dwords,
                       bool signed_acts, const int32_t *constant, int nvalid, int32_t *out,
                       size_t ldo)
{
    for (int g = 0; g < PANEL / 64 && 64 * g < nvalid; g++) {
        __m512i acc[16];
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 4; j++)
                acc[4 * r + j] = _mm512_set1_epi32(constant[r]);
        exact_block(slopes, (size_t)k4, dwords + 256 * (size_t)g, k4 / 4, signed_acts, acc);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < 4; j++) {
                const int left = nvalid - 64 * g - 16 * j;
                if (left <= 0)
                    break;
                const __mmask16 m = left >= 16 ? (__mmask16)0xffff
                                               : (__mmask16)((1u << left) - 1);
                _mm512_mask_storeu_epi32(out + (size_t)r * ldo + 64 * g + 16 * j, m,
                                         acc[4 * r + j]);
            }
        }
    }
}

/* Per-call tables shared by all threads: slopes as padded rows of bytes, row constants, and per
 * row the list of terms p whose code is wide (sorted), then the identity list 0..k-1. */
typedef struct {
    uint8_t *slopes;       /* [m4][k4], m4 = m rounded up to 4, rows past m zero */
    int32_t *constant;     /* [m4] */
    int32_t *wide_start;   /* [m + 1]: row i's wide terms are wide_terms[wide_start[i]..] */
    int32_t *wide_terms;
    int32_t *all_terms;    /* [k]: 0, 1, ..., k - 1 */
    bool     flat;         /* every code is flat: no lookups at all */
} residual_plan;

static void plan_fill(const eng_lut_fit *fit, int m, int k, int k4, const uint8_t *w,
                      residual_plan *plan)
{
    const int m4 = (m + 3) & ~3;
    memset(plan->slopes + (size_t)m * k4, 0, (size_t)(m4 - m) * k4);
    for (int i = m; i < m4; i++)
        plan->constant[i] = 0;
    const int32_t sign = fit->signed_acts ? -128 : 128;
    int32_t nwide = 0;
    plan->flat = true;
    for (int i = 0; i < m; i++) {
        const uint8_t *wi = w + (size_t)i * k;
        uint8_t *si = plan->slopes + (size_t)i * k4;
        uint32_t c = 0; /* modulo 2^32, like the sums */
        plan->wide_start[i] = nwide;
        for (int p = 0; p < k; p++) {
            const int32_t s = fit->slope[wi[p]];
            si[p] = (uint8_t)s;
            c += (uint32_t)fit->offset[wi[p]] + (uint32_t)(sign * s);
            plan->flat &= fit->flat[wi[p]];
            if (fit->wide[wi[p]])
                plan->wide_terms[nwide++] = p;
        }
        for (int p = k; p < k4; p++)
            si[p] = 0;
        plan->constant[i] = (int32_t)c;
    }
    plan->wide_start[m] = nwide;
    for (int p = 0; p < k; p++)
        plan->all_terms[p] = p;
}

/* Adds to orow the low-plane sums lo of row i over the terms [k0, k0 + kc) and, when the row
 * has wide terms there, their high-plane sums (x 256). */
static void residual_finish(const eng_lut_fit *fit, const residual_plan *plan, const uint8_t *wi,
                            int i, int k0, int kc, const uint8_t *panel, const __m512i lo[8],
                            const __mmask64 lm[4], int32_t *orow)
{
    const __m512i zero = _mm512_setzero_si512();
    const int32_t *wide = plan->wide_terms + plan->wide_start[i];
    const int32_t *wide_end = plan->wide_terms + plan->wide_start[i + 1];
    while (wide < wide_end && *wide < k0)
        wide++;
    const int32_t *first = wide;
    while (wide < wide_end && *wide < k0 + kc)
        wide++;
    if (wide == first) {
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            flush_vector(lo[2 * v], lo[2 * v + 1], zero, zero, zero, lm[v], false, orow + 64 * v);
        return;
    }
    __m512i hi[8];
    plane_terms(fit->planes + 256, wi, first, (int)(wide - first), panel, hi);
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++)
        flush_vector(lo[2 * v], lo[2 * v + 1], hi[2 * v], hi[2 * v + 1], zero, lm[v], false,
                     orow + 64 * v);
}

/* Rows [i0, i0 + rows) against one packed panel (both layouts), into out (row stride ldo):
 * the exact part 4 rows at a time, then the low plane 2 rows at a time. */
static void residual_tile(const eng_lut_fit *fit, const residual_plan *plan, const uint8_t *w,
                          int i0, int rows, int k, int k4, const uint8_t *panel,
                          const uint8_t *dwords, int nvalid, int32_t *out, size_t ldo)
{
    __mmask64 lm[4];
    for (int v = 0; v < 4; v++)
        lm[v] = lane_mask(nvalid - 64 * v);
    for (int r = 0; r < rows; r += 4)
        exact_rows(plan->slopes + (size_t)(i0 + r) * k4, rows - r < 4 ? rows - r : 4, k4, dwords,
                   fit->signed_acts, plan->constant + i0 + r, nvalid, out + (size_t)r * ldo,
                   ldo);
    if (plan->flat)
        return;
    for (int i = i0; i < i0 + rows; i += 2) {
        const int pair = i + 1 < i0 + rows;
        const uint8_t *wi = w + (size_t)i * k;
        for (int k0 = 0; k0 < k; k0 += KCHUNK) {
            const int kc = k - k0 < KCHUNK ? k - k0 : KCHUNK;
            __m512i lo[16];
            if (pair)
                plane_pair(fit->planes, wi + k0, wi + k + k0, kc, panel + (size_t)k0 * PANEL, lo);
            else
                plane_terms(fit->planes, wi, plan->all_terms + k0, kc, panel, lo);
            for (int r = 0; r <= pair; r++)
                residual_finish(fit, plan, wi + (size_t)r * k, i + r, k0, kc, panel, lo + 8 * r,
                                lm, out + (size_t)(i + r - i0) * ldo);
        }
    }
}

bool eng_cpu_avx512_lut_gemm_residual(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                      const panel_src *src, int32_t *out)
{
    size_t wide_count;
    if (n <= 0 || !residual_applies(lut, m, k, w, &wide_count))
        return false;
    const eng_lut_fit *fit = lut->fit;
    const int k4 = (k + 3) & ~3;
    const int threads = eng_cpu_threads();
    const size_t panel_bytes = (size_t)k * PANEL, dword_bytes = (size_t)k4 * PANEL;
    const size_t per_thread = panel_bytes + dword_bytes;
    const size_t m4 = (size_t)(m + 3) & ~(size_t)3;
    const size_t sizes[5] = {m4 * k4, sizeof(int32_t) * m4, sizeof(int32_t) * (m + 1),
                             sizeof(int32_t) * (wide_count + 1), sizeof(int32_t) * k};
    size_t shared = 0;
    for (int s = 0; s < 5; s++)
        shared += (sizes[s] + 63) & ~(size_t)63;
    uint8_t *ws = eng_cpu_workspace(shared + per_thread * (size_t)threads);
    if (ws == NULL)
        return false;
    residual_plan plan;
    uint8_t *p = ws + per_thread * (size_t)threads;
    void *parts[5];
    for (int s = 0; s < 5; s++) {
        parts[s] = p;
        p += (sizes[s] + 63) & ~(size_t)63;
    }
    plan = (residual_plan){parts[0], parts[1], parts[2], parts[3], parts[4], false};
    plan_fill(fit, m, k, k4, w, &plan);
    const int npanels = (n + PANEL - 1) / PANEL, mblocks = (m + MBLOCK - 1) / MBLOCK;
    const int tiles = npanels * mblocks;

#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1 && (double)m * n * k > 1e6)
    {
        uint8_t *panel = ws + per_thread * (size_t)eng_cpu_thread_id();
        uint8_t *dwords = panel + panel_bytes;
        int packed = -1;
#pragma omp for schedule(static)
        for (int t = 0; t < tiles; t++) {
            const int pi = t / mblocks, mb = t % mblocks;
            const int n0 = pi * PANEL, nvalid = n - n0 < PANEL ? n - n0 : PANEL;
            const int i0 = mb * MBLOCK, rows = m - i0 < MBLOCK ? m - i0 : MBLOCK;
            if (packed != pi) {
                panel_fill(src, (size_t)n0, k, nvalid, panel);
                pack_dwords(panel, k, k4, dwords);
                packed = pi;
            }
            residual_tile(fit, &plan, w, i0, rows, k, k4, panel, dwords, nvalid,
                          out + (size_t)i0 * n + n0, (size_t)n);
        }
    }
    return true;
}

#pragma GCC pop_options
