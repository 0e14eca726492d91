/*
 * lut_avx2.c - AVX2 kernel set: table GEMM and depthwise table convolution with nibble-table
 * byte lookups (vpshufb), and vectorized quantization.
 *
 * AVX2 permutes bytes only within 16 entries, so a 256-entry lookup of 32 codes x is 16
 * vpshufb per byte plane: z = x - 16 t (wrapping) is in [0, 15] exactly for the lanes whose
 * high nibble is t; saturating z + 0x70 keeps those lanes below 0x80 with their low nibble and
 * pushes every other lane to >= 0x80, which vpshufb turns into 0, so OR-ing the 16 partial
 * lookups gives T[x]. Products are 16-bit (two byte planes) and summed with the same "word
 * trick" and flush as the AVX-512 kernel (lut_avx512.c): partial sums exact for <= 256 terms,
 * signed products biased by 32768. Measured on Zen 4: 2.6-3.0 GMAC/s per core, about 1.5-2x
 * the scalar weight-stationary loop, where vpgatherdd gave 1.4 (docs/kernels.md). Products that
 * do not fit 16 bits (sign-magnitude tables with entries >= 2^15) take the reference path.
 *
 * Activation classes (struct eng_lut_fit, lut->fit set): when at most 128 classes (truncating
 * multipliers: mul8u_DM1 128, mul8u_17KS 64) and every used weight code is valid, each packed
 * panel's codes are replaced by their classes (a shift, or the class_of map looked up as
 * above) and a column is looked up in ceil(classes / 16) nibble tables built from the class
 * planes, with one vpsubb, two vpshufb and two vpxor per table (class_chunk*); sums, flush
 * and blocking are unchanged, so the results are the same bits. The depthwise kernel takes it
 * too, its window sums taken from the codes before the mapping.
 *
 * Blocking: panels of 32 columns repacked to [K][32]; static OpenMP over (panel x 16 rows).
 */
#include "cpu_kernels.h"

#include <immintrin.h>
#include <string.h>

#pragma GCC push_options
#pragma GCC target("avx2,fma")

enum {
    PANEL = 32,             /* columns per panel: one vector of 32 byte lanes */
    KCHUNK = 256,           /* terms summed in 16 bits before a flush to int32 */
    MBLOCK = 16,            /* weight rows per tile */
    CODE_SIZE = 1024,       /* per weight code: 16 nibble tables x 32 bytes, low then high plane */
    TABLES_SIZE = 256 * CODE_SIZE,
    CLASS_CODE_SIZE = 512   /* class path, per weight code: up to 8 tables, low then high plane */
};

/* kc >= 1 terms of weight codes w[0..kc) against the packed rows x[0..kc)[32]; stores the
 * word-trick accumulators awl, aol, awh, aoh to acc[0..3]. */
typedef void chunk_fn(const uint8_t *tables, const uint8_t *w, const uint8_t *x, int kc,
                      __m256i acc[4]);

/* Nibble tables of the used codes from the byte planes of lut_common.c: for code w and t,
 * 16 entries (low plane, then high plane at +512) duplicated in both 128-bit lanes. */
static void build_tables(const eng_lut *lut, const bool used[256], uint8_t *tables)
{
    uint8_t planes[512];
    for (int w = 0; w < 256; w++) {
        if (!used[w])
            continue;
        eng_lut_build_column(lut, (uint8_t)w, planes);
        uint8_t *dst = tables + (size_t)w * CODE_SIZE;
        for (int plane = 0; plane < 2; plane++)
            for (int t = 0; t < 16; t++)
                for (int half = 0; half < 2; half++)
                    memcpy(dst + plane * 512 + t * 32 + half * 16, planes + plane * 256 + t * 16,
                           16);
    }
}

/* Class-path tables of the used codes from the fit's class planes: for code w, nibble table t
 * (classes [16t, 16t + 16), zero past the last class) XOR table t - 1, low plane then high
 * plane at +256, each 16 entries duplicated in both 128-bit lanes. */
static void build_class_tables(const eng_lut_fit *fit, const bool used[256], uint8_t *tables)
{
    const int nt = (fit->classes + 15) / 16;
    for (int w = 0; w < 256; w++) {
        if (!used[w])
            continue;
        uint8_t *dst = tables + (size_t)w * CLASS_CODE_SIZE;
        for (int plane = 0; plane < 2; plane++) {
            const uint8_t *src = fit->class_planes + (size_t)w * 256 + plane * 128;
            uint8_t prev[16] = {0};
            for (int t = 0; t < nt; t++)
                for (int j = 0; j < 16; j++) {
                    const uint8_t cur = 16 * t + j < fit->classes ? src[16 * t + j] : 0;
                    dst[plane * 256 + t * 32 + j] = dst[plane * 256 + t * 32 + 16 + j] =
                        cur ^ prev[j];
                    prev[j] = cur;
                }
        }
    }
}

/* Replaces each of the k x PANEL codes of buf by its class: a >> shift, or class_of[a] with
 * the 16-table lookup of the file's header. */
static void panel_to_classes(const eng_lut_fit *fit, int k, uint8_t *buf)
{
    const size_t count = (size_t)k * PANEL;
    if (fit->class_shift >= 0) {
        const __m128i s = _mm_cvtsi32_si128(fit->class_shift);
        const __m256i keep = _mm256_set1_epi8((char)(0xff >> fit->class_shift));
        for (size_t i = 0; i < count; i += PANEL) {
            const __m256i x = _mm256_load_si256((const __m256i *)(buf + i));
            _mm256_store_si256((__m256i *)(buf + i),
                               _mm256_and_si256(_mm256_srl_epi16(x, s), keep));
        }
        return;
    }
    __m256i map[16];
    for (int t = 0; t < 16; t++)
        map[t] = _mm256_broadcastsi128_si256(
            _mm_loadu_si128((const __m128i *)(fit->class_of + 16 * t)));
    const __m256i c16 = _mm256_set1_epi8(16), c70 = _mm256_set1_epi8(0x70);
    for (size_t i = 0; i < count; i += PANEL) {
        __m256i z = _mm256_load_si256((const __m256i *)(buf + i)), r = _mm256_setzero_si256();
        for (int t = 0; t < 16; t++) {
            r = _mm256_or_si256(r, _mm256_shuffle_epi8(map[t], _mm256_adds_epu8(z, c70)));
            z = _mm256_sub_epi8(z, c16);
        }
        _mm256_store_si256((__m256i *)(buf + i), r);
    }
}

/* Adds (or stores, when first) the 32 sums of one vector to out[0..nvalid). */
static void flush(__m256i awl, __m256i aol, __m256i awh, __m256i aoh, int32_t bias, int nvalid,
                  bool first, int32_t *out)
{
    uint16_t v[4][16];
    _mm256_storeu_si256((__m256i *)v[0], awl);
    _mm256_storeu_si256((__m256i *)v[1], aol);
    _mm256_storeu_si256((__m256i *)v[2], awh);
    _mm256_storeu_si256((__m256i *)v[3], aoh);
    for (int j = 0; j < 16; j++) {
        const uint16_t el = (uint16_t)(v[0][j] - (v[1][j] << 8));
        const uint16_t eh = (uint16_t)(v[2][j] - (v[3][j] << 8));
        const uint32_t s[2] = {(uint32_t)el + ((uint32_t)eh << 8),
                               (uint32_t)v[1][j] + ((uint32_t)v[3][j] << 8)};
        for (int q = 0; q < 2 && 2 * j + q < nvalid; q++) {
            const uint32_t x = s[q] - (uint32_t)bias;
            out[2 * j + q] = first ? (int32_t)x : (int32_t)((uint32_t)out[2 * j + q] + x);
        }
    }
}

/* The hot loop in assembly (gcc reassociates the 16-step OR chains of the intrinsics version
 * into a tree and spills it); a chunk_fn. */
static void chunk(const uint8_t *tables, const uint8_t *w, const uint8_t *x, int kc,
                  __m256i acc[4])
{
    size_t n = (size_t)kc;
    const uint8_t c16 = 16, c70 = 0x70;
    __asm__ volatile(
        "vpxor %%ymm8, %%ymm8, %%ymm8\n\t"
        "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
        "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"
        "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
        "vpbroadcastb %[c16], %%ymm14\n\t"
        "vpbroadcastb %[c70], %%ymm15\n\t"
        "1:\n\t"
        "movzbl (%[w]), %%eax\n\t"
        "shl $10, %%rax\n\t"
        "add %[tables], %%rax\n\t"
        "vmovdqa (%[x]), %%ymm0\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 0(%%rax), %%ymm4\n\t"
        "vmovdqa 512(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vmovdqa %%ymm4, %%ymm1\n\t"
        "vmovdqa %%ymm5, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 32(%%rax), %%ymm7\n\t"
        "vmovdqa 544(%%rax), %%ymm12\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 64(%%rax), %%ymm4\n\t"
        "vmovdqa 576(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vpor %%ymm4, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm5, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 96(%%rax), %%ymm7\n\t"
        "vmovdqa 608(%%rax), %%ymm12\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 128(%%rax), %%ymm4\n\t"
        "vmovdqa 640(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vpor %%ymm4, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm5, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 160(%%rax), %%ymm7\n\t"
        "vmovdqa 672(%%rax), %%ymm12\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 192(%%rax), %%ymm4\n\t"
        "vmovdqa 704(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vpor %%ymm4, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm5, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 224(%%rax), %%ymm7\n\t"
        "vmovdqa 736(%%rax), %%ymm12\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 256(%%rax), %%ymm4\n\t"
        "vmovdqa 768(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vpor %%ymm4, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm5, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 288(%%rax), %%ymm7\n\t"
        "vmovdqa 800(%%rax), %%ymm12\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 320(%%rax), %%ymm4\n\t"
        "vmovdqa 832(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vpor %%ymm4, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm5, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 352(%%rax), %%ymm7\n\t"
        "vmovdqa 864(%%rax), %%ymm12\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 384(%%rax), %%ymm4\n\t"
        "vmovdqa 896(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vpor %%ymm4, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm5, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 416(%%rax), %%ymm7\n\t"
        "vmovdqa 928(%%rax), %%ymm12\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm3\n\t"
        "vmovdqa 448(%%rax), %%ymm4\n\t"
        "vmovdqa 960(%%rax), %%ymm5\n\t"
        "vpsubb %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"
        "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"
        "vpor %%ymm4, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm5, %%ymm2, %%ymm2\n\t"
        "vpaddusb %%ymm15, %%ymm0, %%ymm6\n\t"
        "vmovdqa 480(%%rax), %%ymm7\n\t"
        "vmovdqa 992(%%rax), %%ymm12\n\t"
        "vpshufb %%ymm6, %%ymm7, %%ymm7\n\t"
        "vpshufb %%ymm6, %%ymm12, %%ymm12\n\t"
        "vpor %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpor %%ymm12, %%ymm2, %%ymm2\n\t"
        "vpaddw %%ymm1, %%ymm8, %%ymm8\n\t"
        "vpsrlw $8, %%ymm1, %%ymm1\n\t"
        "vpaddw %%ymm1, %%ymm9, %%ymm9\n\t"
        "vpaddw %%ymm2, %%ymm10, %%ymm10\n\t"
        "vpsrlw $8, %%ymm2, %%ymm2\n\t"
        "vpaddw %%ymm2, %%ymm11, %%ymm11\n\t"
        "add $1, %[w]\n\t"
        "add $32, %[x]\n\t"
        "sub $1, %[n]\n\t"
        "jnz 1b\n\t"
        "vmovdqu %%ymm8, 0(%[acc])\n\t"
        "vmovdqu %%ymm9, 32(%[acc])\n\t"
        "vmovdqu %%ymm10, 64(%[acc])\n\t"
        "vmovdqu %%ymm11, 96(%[acc])\n\t"
        : [w] "+r"(w), [x] "+r"(x), [n] "+r"(n)
        : [tables] "r"(tables), [acc] "r"(acc), [c16] "m"(c16), [c70] "m"(c70)
        : "rax", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm14", "xmm15");
}

/* The class path's hot loops, one per count of nibble tables (1..8: up to 16, 32, ..., 128
 * classes), in assembly like chunk. Classes x < 128 look up table t at x - 16 t (wrapping),
 * which is x's low nibble for x >= 16 t and has its top bit set (vpshufb gives 0) below, so
 * XOR-ing the lookups of tables stored as differences (build_class_tables) leaves T_t[x].
 * x - 16 t comes from x and a constant register (the last from x - 96): a chain of
 * subtractions, as in chunk, made DM1 about 10% slower. */
#define CLASS_STEP(lo, hi, sub, src)                                                         \
    "vpsubb %%" #sub ", %%" #src ", %%ymm3\n\t"                                              \
    "vmovdqa " #lo "(%%rax), %%ymm4\n\t"                                                     \
    "vmovdqa " #hi "(%%rax), %%ymm5\n\t"                                                     \
    "vpshufb %%ymm3, %%ymm4, %%ymm4\n\t"                                                     \
    "vpshufb %%ymm3, %%ymm5, %%ymm5\n\t"                                                     \
    "vpxor %%ymm4, %%ymm1, %%ymm1\n\t"                                                       \
    "vpxor %%ymm5, %%ymm2, %%ymm2\n\t"
#define CLASS_STEPS2 CLASS_STEP(32, 288, ymm6, ymm0)
#define CLASS_STEPS3 CLASS_STEPS2 CLASS_STEP(64, 320, ymm7, ymm0)
#define CLASS_STEPS4 CLASS_STEPS3 CLASS_STEP(96, 352, ymm12, ymm0)
#define CLASS_STEPS5 CLASS_STEPS4 CLASS_STEP(128, 384, ymm13, ymm0)
#define CLASS_STEPS6 CLASS_STEPS5 CLASS_STEP(160, 416, ymm14, ymm0)
#define CLASS_STEPS7 CLASS_STEPS6 CLASS_STEP(192, 448, ymm15, ymm0)
#define CLASS_STEPS8 CLASS_STEPS7 CLASS_STEP(224, 480, ymm6, ymm3)
#define CLASS_CHUNK(name, steps)                                                             \
    static void name(const uint8_t *tables, const uint8_t *w, const uint8_t *x, int kc,     \
                     __m256i acc[4])                                                         \
    {                                                                                        \
        size_t n = (size_t)kc;                                                               \
        static const uint8_t c[6] = {16, 32, 48, 64, 80, 96};                               \
        __asm__ volatile(                                                                    \
            "vpxor %%ymm8, %%ymm8, %%ymm8\n\t"                                               \
            "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"                                               \
            "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"                                            \
            "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"                                            \
            "vpbroadcastb 0(%[c]), %%ymm6\n\t"                                               \
            "vpbroadcastb 1(%[c]), %%ymm7\n\t"                                               \
            "vpbroadcastb 2(%[c]), %%ymm12\n\t"                                              \
            "vpbroadcastb 3(%[c]), %%ymm13\n\t"                                              \
            "vpbroadcastb 4(%[c]), %%ymm14\n\t"                                              \
            "vpbroadcastb 5(%[c]), %%ymm15\n\t"                                              \
            "1:\n\t"                                                                         \
            "movzbl (%[w]), %%eax\n\t"                                                       \
            "shl $9, %%rax\n\t"                                                              \
            "add %[tables], %%rax\n\t"                                                       \
            "vmovdqa (%[x]), %%ymm0\n\t"                                                     \
            "vmovdqa 0(%%rax), %%ymm1\n\t"                                                   \
            "vmovdqa 256(%%rax), %%ymm2\n\t"                                                 \
            "vpshufb %%ymm0, %%ymm1, %%ymm1\n\t"                                             \
            "vpshufb %%ymm0, %%ymm2, %%ymm2\n\t"                                             \
            steps                                                                            \
            "vpaddw %%ymm1, %%ymm8, %%ymm8\n\t"                                              \
            "vpsrlw $8, %%ymm1, %%ymm1\n\t"                                                  \
            "vpaddw %%ymm1, %%ymm9, %%ymm9\n\t"                                              \
            "vpaddw %%ymm2, %%ymm10, %%ymm10\n\t"                                            \
            "vpsrlw $8, %%ymm2, %%ymm2\n\t"                                                  \
            "vpaddw %%ymm2, %%ymm11, %%ymm11\n\t"                                            \
            "add $1, %[w]\n\t"                                                               \
            "add $32, %[x]\n\t"                                                              \
            "sub $1, %[n]\n\t"                                                               \
            "jnz 1b\n\t"                                                                     \
            "vmovdqu %%ymm8, 0(%[acc])\n\t"                                                  \
            "vmovdqu %%ymm9, 32(%[acc])\n\t"                                                 \
            "vmovdqu %%ymm10, 64(%[acc])\n\t"                                                \
            "vmovdqu %%ymm11, 96(%[acc])\n\t"                                                \
            : [w] "+r"(w), [x] "+r"(x), [n] "+r"(n)                                          \
            : [tables] "r"(tables), [acc] "r"(acc), [c] "r"(c)                               \
            : "rax", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",  \
              "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"); \
    }
CLASS_CHUNK(class_chunk1, "")
CLASS_CHUNK(class_chunk2, CLASS_STEPS2)
CLASS_CHUNK(class_chunk3, CLASS_STEPS3)
CLASS_CHUNK(class_chunk4, CLASS_STEPS4)
CLASS_CHUNK(class_chunk5, CLASS_STEPS5)
CLASS_CHUNK(class_chunk6, CLASS_STEPS6)
CLASS_CHUNK(class_chunk7, CLASS_STEPS7)
CLASS_CHUNK(class_chunk8, CLASS_STEPS8)

/* The chunk of the class path for fit (at most 128 classes), else the general one. */
static chunk_fn *chunk_for(const eng_lut_fit *fit)
{
    static chunk_fn *const by_tables[8] = {class_chunk1, class_chunk2, class_chunk3,
                                           class_chunk4, class_chunk5, class_chunk6,
                                           class_chunk7, class_chunk8};
    return fit ? by_tables[(fit->classes - 1) / 16] : chunk;
}

/* The nibble tables of the used codes into tables, over the activation classes when the class
 * path applies (*fit set, else NULL); returns the loop that reads them. */
static chunk_fn *prepare_tables(const eng_lut *lut, const bool used[256], uint8_t *tables,
                                const eng_lut_fit **fit)
{
    *fit = eng_lut_class_fit(lut, used);
    if (*fit)
        build_class_tables(*fit, used, tables);
    else
        build_tables(lut, used, tables);
    return chunk_for(*fit);
}

/* Rows [0, rows) of w (row stride k) against one packed panel ap ([k][32], zero-padded);
 * writes the first nvalid sums of each row to out (row stride ldo). */
static void tile(chunk_fn *run, const uint8_t *tables, const uint8_t *w, int rows, int k,
                 const uint8_t *ap, int nvalid, int32_t *out, size_t ldo, bool sgn)
{
    for (int i = 0; i < rows; i++) {
        const uint8_t *wrow = w + (size_t)i * k;
        for (int k0 = 0; k0 < k; k0 += KCHUNK) {
            const int kc = k - k0 < KCHUNK ? k - k0 : KCHUNK;
            __m256i acc[4];
            run(tables, wrow + k0, ap + (size_t)k0 * PANEL, kc, acc);
            const __m256i awl = acc[0], aol = acc[1], awh = acc[2], aoh = acc[3];
            flush(awl, aol, awh, aoh, sgn ? 32768 * kc : 0, nvalid, k0 == 0, out + (size_t)i * ldo);
        }
    }
}

/* Copies columns [0, nvalid) of the k rows of a (row stride lda) to buf [k][32]. */
static void pack_panel(const uint8_t *a, size_t lda, int k, int nvalid, uint8_t *buf)
{
    for (int p = 0; p < k; p++) {
        memcpy(buf + (size_t)p * PANEL, a + (size_t)p * lda, (size_t)nvalid);
        if (nvalid < PANEL)
            memset(buf + (size_t)p * PANEL + nvalid, 0, (size_t)(PANEL - nvalid));
    }
}

static eng_status avx2_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                                const uint8_t *a, int32_t *out)
{
    if (m <= 0 || n <= 0)
        return ENG_OK;
    if (k <= 0) {
        memset(out, 0, sizeof(int32_t) * (size_t)m * n);
        return ENG_OK;
    }
    bool used[256];
    eng_lut_mark_used(w, (size_t)m * k, used);
    const int threads = eng_cpu_threads();
    const size_t panel_size = ((size_t)k * PANEL + 63) / 64 * 64;
    uint8_t *ws = eng_lut_fits_int16(lut, used)
                      ? eng_cpu_workspace(TABLES_SIZE + panel_size * (size_t)threads) : NULL;
    if (ws == NULL) { /* out of memory or 17-bit sign-magnitude products: reference path */
        return eng_kernels_ref()->lut_gemm(lut, m, n, k, w, a, out);
    }
    const eng_lut_fit *fit;
    chunk_fn *run = prepare_tables(lut, used, ws, &fit);
    const bool sgn = eng_lut_products_signed(lut);
    const int npanels = (n + PANEL - 1) / PANEL, mblocks = (m + MBLOCK - 1) / MBLOCK;
    const int tiles = npanels * mblocks;

#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1 && (double)m * n * k > 1e6)
    {
        uint8_t *buf = ws + TABLES_SIZE + panel_size * (size_t)eng_cpu_thread_id();
        int packed = -1;
#pragma omp for schedule(static)
        for (int t = 0; t < tiles; t++) {
            const int panel = t / mblocks, mb = t % mblocks;
            const int n0 = panel * PANEL, nvalid = n - n0 < PANEL ? n - n0 : PANEL;
            const int i0 = mb * MBLOCK, rows = m - i0 < MBLOCK ? m - i0 : MBLOCK;
            if (packed != panel) {
                pack_panel(a + n0, (size_t)n, k, nvalid, buf);
                if (fit)
                    panel_to_classes(fit, k, buf);
                packed = panel;
            }
            tile(run, ws, w + (size_t)i0 * k, rows, k, buf, nvalid, out + (size_t)i0 * n + n0,
                 (size_t)n, sgn);
        }
    }
    return ENG_OK;
}

/* Depthwise: per channel, im2col of the channel into [taps][n*oh*ow], then its one weight row
 * over panels of 32 output pixels. Parallel over channels. */
static eng_status avx2_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s, const uint8_t *a,
                                     const uint8_t *w, uint8_t pad_code, int32_t *out,
                                     int32_t *sums)
{
    const int taps = s->kh * s->kw;
    const size_t np = (size_t)s->n * s->oh * s->ow, plane = (size_t)s->n * s->h * s->w;
    bool used[256];
    eng_lut_mark_used(w, (size_t)s->c * taps, used);
    const int threads = eng_cpu_threads();
    const size_t cols_size = ((size_t)taps * np + 63) / 64 * 64;
    const size_t per_thread = cols_size + ((size_t)taps * PANEL + 63) / 64 * 64;
    uint8_t *ws = eng_lut_fits_int16(lut, used)
                      ? eng_cpu_workspace(TABLES_SIZE + per_thread * (size_t)threads) : NULL;
    if (ws == NULL)
        return eng_kernels_ref()->lut_depthwise(lut, s, a, w, pad_code, out, sums);
    const eng_lut_fit *fit;
    chunk_fn *run = prepare_tables(lut, used, ws, &fit);
    const bool sgn = eng_lut_products_signed(lut);
    eng_conv_shape s1 = *s;
    s1.c = 1;

#pragma omp parallel num_threads(threads) \
    if (threads > 1 && s->c > 1 && (double)s->c * np * taps > 1e6)
    {
        uint8_t *cols = ws + TABLES_SIZE + per_thread * (size_t)eng_cpu_thread_id();
        uint8_t *buf = cols + cols_size;
#pragma omp for schedule(static)
        for (int c = 0; c < s->c; c++) {
            eng_cpu_im2col_u8_rows(&s1, a + (size_t)c * plane, pad_code, cols, 0, taps);
            for (size_t n0 = 0; n0 < np; n0 += PANEL) {
                const int nvalid = np - n0 < PANEL ? (int)(np - n0) : PANEL;
                pack_panel(cols + n0, np, taps, nvalid, buf);
                if (sums) /* of the codes, while the panel is in L1 */
                    eng_cpu_column_sums_u8(buf, taps, PANEL, (size_t)nvalid,
                                           sums + (size_t)c * np + n0);
                if (fit)
                    panel_to_classes(fit, taps, buf);
                tile(run, ws, w + (size_t)c * taps, 1, taps, buf, nvalid,
                     out + (size_t)c * np + n0, np, sgn);
            }
        }
    }
    return ENG_OK;
}

/* Same arithmetic as the reference (division, round half even, NaN -> zero_point). */
static eng_status avx2_quantize(const float *x, size_t count, float scale, int32_t zero_point,
                                int32_t qmin, int32_t qmax, uint8_t *codes)
{
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps((float)zero_point);
    const __m256 lo = _mm256_set1_ps((float)qmin), hi = _mm256_set1_ps((float)qmax);
    const __m256i zp = _mm256_set1_epi32(zero_point), low_byte = _mm256_set1_epi32(0xff);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const size_t full = count / 32 * 32;
    const long long chunks = (long long)(full / 32);
#pragma omp parallel for schedule(static) if (count > (1u << 15) && eng_cpu_threads() > 1)
    for (long long c = 0; c < chunks; c++) {
        const size_t i = (size_t)c * 32;
        __m256i v[4];
        for (int j = 0; j < 4; j++) {
            __m256 q = _mm256_div_ps(_mm256_loadu_ps(x + i + 8 * j), vs);
            q = _mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q = _mm256_add_ps(q, vz);
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
        ENG_TRY(eng_kernels_ref()->quantize(x + full, count - full, scale, zero_point, qmin, qmax,
                                            codes + full));
    return ENG_OK;
}

static eng_status avx2_lut_conv2d(const eng_lut *lut, const eng_conv_shape *s, int oc,
                                  const uint8_t *a, uint8_t pad_code, const uint8_t *w,
                                  int32_t *out)
{
    return eng_cpu_lut_conv2d_columns(eng_kernels_avx2(), lut, s, oc, a, pad_code, w, out);
}

static const eng_kernels avx2_kernels = {
    .name = "avx2",
    .sgemm = eng_cpu_sgemm,
    .lut_gemm = avx2_lut_gemm,
    .lut_conv2d = avx2_lut_conv2d,
    .lut_depthwise = avx2_lut_depthwise,
    .im2col_f32 = eng_cpu_im2col_f32,
    .im2col_u8 = eng_cpu_im2col_u8,
    .col2im_f32 = eng_cpu_col2im_f32,
    .quantize = avx2_quantize,
    .conv_same_f32_forward = eng_cpu_conv_same_gemm_forward,
    .conv_same_f32_backward_data = eng_cpu_conv_same_gemm_backward_data,
    .conv_same_f32_backward_weights = eng_cpu_conv_same_gemm_backward_weights,
    .depthwise_f32_forward = eng_cpu_depthwise_forward,
    .depthwise_f32_backward_data = eng_cpu_depthwise_backward_data,
    .depthwise_f32_backward_weights = eng_cpu_depthwise_backward_weights,
    .depthwise_f32_backward = eng_cpu_depthwise_backward,
};

#pragma GCC pop_options

const eng_kernels *eng_kernels_avx2(void)
{
    return &avx2_kernels;
}
