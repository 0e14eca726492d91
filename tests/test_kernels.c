/*
 * test_kernels.c - the optimized CPU kernel sets (AVX2, AVX-512 VBMI) against the scalar
 * references: bit-exact table GEMM and depthwise convolution for every table kind (random
 * general 16-bit tables, signed, 8xN, sign-magnitude, real EvoApprox tables) on shapes with
 * tails, thread-count independence, im2col/col2im/quantize bit-exactness, sgemm to float
 * tolerance, the residual decomposition (eng_lut_fit) and the exact + residual table GEMM it
 * enables, the activation classes and the class-path table GEMM, and the run-time selection. Sets the CPU lacks are skipped with a note.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_kernels.h"
#include "eng_int8.h"
#include "kernel_sets.h"
#include "testutil.h"

static const char *const set_names[] = {"avx2", "avx512"};
enum { SET_COUNT = 2 };

/* The set of loop index i, or NULL (with a note) when this CPU lacks it. */
static const eng_kernels *set_or_skip(int i)
{
    return test_kernel_set(set_names[i]);
}

/* ---- tables ------------------------------------------------------------------------ */

typedef enum { TAB_RANDOM, TAB_EXTREME, TAB_SMALL, TAB_FILE } tab_kind;

typedef struct {
    eng_lut lut;
    uint16_t *table;
    const char *what;
} test_table;

static test_table make_table(tab_kind kind, int w_bits, bool is_signed, eng_lut_mode mode,
                             const char *file, uint64_t *rng)
{
    test_table t = {.what = file != NULL ? file : "random"};
    size_t n = (size_t)256 << w_bits;
    if (kind == TAB_FILE) {
        size_t size;
        t.table = test_read_file(test_luts_path(file), &size);
        ck_assert_uint_eq(size, n * 2);
    } else {
        t.table = malloc(n * 2);
        for (size_t i = 0; i < n; i++) {
            uint16_t v = (uint16_t)test_rand_u64(rng);
            if (kind == TAB_EXTREME) /* the largest sums: all 0xffff, or -32768 when signed */
                v = is_signed ? 0x8000 : 0xffff;
            else if (kind == TAB_SMALL) /* sign-magnitude entries that keep products in int16 */
                v &= 0x7fff;
            t.table[i] = v;
        }
    }
    t.lut = (eng_lut){.table = t.table, .w_bits = w_bits, .is_signed = is_signed, .mode = mode};
    return t;
}

/* Weight codes valid for the table: w < 2^w_bits, or int8 with |w| < 2^w_bits. */
static void fill_weights(const eng_lut *lut, uint8_t *w, size_t count, uint64_t *rng)
{
    const int range = 1 << lut->w_bits;
    for (size_t i = 0; i < count; i++) {
        if (lut->mode == ENG_LUT_SIGN_MAGNITUDE) {
            int mag = (int)(test_rand_u64(rng) % (uint64_t)(range < 128 ? range : 128));
            w[i] = (uint8_t)(test_rand_u64(rng) & 1 ? -mag : mag);
        } else {
            w[i] = (uint8_t)(test_rand_u64(rng) % (uint64_t)range);
        }
    }
}

static void fill_bytes(uint8_t *p, size_t count, uint64_t *rng)
{
    for (size_t i = 0; i < count; i++)
        p[i] = (uint8_t)test_rand_u64(rng);
}

/* ---- table GEMM ---------------------------------------------------------------------- */

/* How check_gemm_acts fills the activation codes [k][n]. */
typedef enum {
    ACTS_RANDOM,   /* uniform bytes */
    ACTS_HALVES,   /* per row and 64 columns, all >= 128 or all < 128 (one k-mask all ones) */
    ACTS_BOUNDARY, /* only 0, 127, 128 and 255: the two table halves' edges */
    ACTS_STRIPES   /* lane l of row p: >= 128 when (l + p) % 3 == 0, else < 128 */
} acts_pattern;

static void fill_acts(uint8_t *a, int kk, int n, acts_pattern pattern, uint64_t *rng)
{
    static const uint8_t edges[4] = {0, 127, 128, 255};
    for (int p = 0; p < kk; p++) {
        uint8_t half = 0;
        for (int j = 0; j < n; j++) {
            const uint8_t r = (uint8_t)test_rand_u64(rng);
            if (j % 64 == 0)
                half = (uint8_t)(test_rand_u64(rng) & 0x80);
            uint8_t v = r;
            if (pattern == ACTS_HALVES)
                v = (uint8_t)((r & 0x7f) | half);
            else if (pattern == ACTS_BOUNDARY)
                v = edges[r & 3];
            else if (pattern == ACTS_STRIPES)
                v = (uint8_t)((r & 0x7f) | ((j + p) % 3 == 0 ? 0x80 : 0));
            a[(size_t)p * n + j] = v;
        }
    }
}

/* Runs the set's lut_gemm with 1 and 2 threads against the reference on one shape, the
 * activations filled by `pattern`. */
static void check_gemm_acts(const eng_kernels *k, const test_table *t, int m, int n, int kk,
                            acts_pattern pattern, uint64_t *rng)
{
    uint8_t *w = malloc((size_t)m * kk), *a = malloc((size_t)kk * n);
    int32_t *ref = malloc(sizeof(int32_t) * m * n), *out = malloc(sizeof(int32_t) * m * n);
    fill_weights(&t->lut, w, (size_t)m * kk, rng);
    fill_acts(a, kk, n, pattern, rng);
    ck_assert_int_eq(eng_kernels_ref()->lut_gemm(&t->lut, m, n, kk, w, a, ref), ENG_OK);
    for (int threads = 1; threads <= 2; threads++) {
        test_set_threads(threads);
        memset(out, 0xa5, sizeof(int32_t) * m * n);
        ck_assert_int_eq(k->lut_gemm(&t->lut, m, n, kk, w, a, out), ENG_OK);
        for (size_t i = 0; i < (size_t)m * n; i++)
            if (out[i] != ref[i])
                ck_abort_msg("%s lut_gemm %s w_bits %d signed %d mode %d m=%d n=%d k=%d "
                             "acts %d threads %d: out[%zu] = %d, reference %d", k->name,
                             t->what, t->lut.w_bits, t->lut.is_signed, t->lut.mode, m, n, kk,
                             (int)pattern, threads, i, out[i], ref[i]);
    }
    test_set_threads(2);
    free(w);
    free(a);
    free(ref);
    free(out);
}

/* check_gemm_acts with uniform random activations. */
static void check_gemm(const eng_kernels *k, const test_table *t, int m, int n, int kk,
                       uint64_t *rng)
{
    check_gemm_acts(k, t, m, n, kk, ACTS_RANDOM, rng);
}

static const int gemm_shapes[][3] = {
    /* m, n, k: tails in every dimension, K across the 256-term flush, N across panels */
    {1, 1, 1},     {3, 3, 3},     {1, 63, 64},    {2, 64, 65},   {5, 65, 255},
    {3, 255, 256}, {4, 256, 257}, {2, 257, 300},  {17, 300, 63}, {1, 577, 577},
    {65, 129, 1},  {33, 1000, 9}, {16, 513, 512}, {7, 64, 1025},
};
enum { GEMM_SHAPES = sizeof gemm_shapes / sizeof gemm_shapes[0] };

static void check_gemm_all_shapes(const test_table *t, uint64_t seed)
{
    for (int s = 0; s < SET_COUNT; s++) {
        const eng_kernels *k = set_or_skip(s);
        if (k == NULL)
            continue;
        uint64_t rng = seed;
        for (int i = 0; i < GEMM_SHAPES; i++)
            check_gemm(k, t, gemm_shapes[i][0], gemm_shapes[i][1], gemm_shapes[i][2], &rng);
    }
}

/* _i: 0 unsigned, 1 signed, 2 sign-magnitude (int16 products), 3 sign-magnitude with 17-bit
 * products (the AVX-512 set falls back to the reference there). */
START_TEST(test_lut_gemm_random_8x8)
{
    uint64_t rng = 100 + (uint64_t)_i;
    static const struct { bool is_signed; eng_lut_mode mode; tab_kind kind; } cases[] = {
        {false, ENG_LUT_DIRECT, TAB_RANDOM},
        {true, ENG_LUT_DIRECT, TAB_RANDOM},
        {false, ENG_LUT_SIGN_MAGNITUDE, TAB_SMALL},
        {false, ENG_LUT_SIGN_MAGNITUDE, TAB_RANDOM},
    };
    test_table t = make_table(cases[_i].kind, 8, cases[_i].is_signed, cases[_i].mode, NULL, &rng);
    check_gemm_all_shapes(&t, rng);
    free(t.table);
}
END_TEST

/* 8xN tables, w_bits = 2 + _i, unsigned and signed entries. */
START_TEST(test_lut_gemm_random_8xn)
{
    uint64_t rng = 200 + (uint64_t)_i;
    for (int sgn = 0; sgn < 2; sgn++) {
        test_table t = make_table(TAB_RANDOM, 2 + _i, sgn, ENG_LUT_DIRECT, NULL, &rng);
        check_gemm_all_shapes(&t, rng);
        free(t.table);
    }
}
END_TEST

/* All entries at the extreme (0xffff, or -32768 signed): the 16-bit partial sums are full. */
START_TEST(test_lut_gemm_extreme_sums)
{
    uint64_t rng = 300;
    for (int sgn = 0; sgn < 2; sgn++) {
        test_table t = make_table(TAB_EXTREME, 8, sgn, ENG_LUT_DIRECT, NULL, &rng);
        for (int s = 0; s < SET_COUNT; s++) {
            const eng_kernels *k = set_or_skip(s);
            if (k == NULL)
                continue;
            check_gemm(k, &t, 3, 300, 256, &rng);
            check_gemm(k, &t, 2, 64, 257, &rng);
            check_gemm(k, &t, 2, 70, 769, &rng);
        }
        free(t.table);
    }
}
END_TEST

/* The full-panel loop (256 columns, AVX-512 assembly) with activations that stress its
 * k-masks (the lanes >= 128 of each vector, written for all four vectors before the lookups):
 * vectors entirely on one side, only the edge codes 0/127/128/255, stripes; shapes with M not
 * a multiple of the 16-row tile, N tails after full panels, K across 256-term chunks and not a
 * multiple of 4. _i: the table kind (unsigned, signed, 8x4, sign-magnitude, 8x7 signed). */
START_TEST(test_lut_gemm_full_panel_masks)
{
    static const struct { int w_bits; bool is_signed; eng_lut_mode mode; tab_kind kind; }
        kinds[] = {
            {8, false, ENG_LUT_DIRECT, TAB_RANDOM},
            {8, true, ENG_LUT_DIRECT, TAB_RANDOM},
            {4, false, ENG_LUT_DIRECT, TAB_RANDOM},
            {8, false, ENG_LUT_SIGN_MAGNITUDE, TAB_SMALL},
            {7, true, ENG_LUT_DIRECT, TAB_RANDOM},
        };
    static const int shapes[][3] = {{19, 768, 301}, {1, 256, 513}, {17, 600, 258}};
    uint64_t rng = 350 + (uint64_t)_i;
    test_table t = make_table(kinds[_i].kind, kinds[_i].w_bits, kinds[_i].is_signed,
                              kinds[_i].mode, NULL, &rng);
    for (int s = 0; s < SET_COUNT; s++) {
        const eng_kernels *k = set_or_skip(s);
        if (k == NULL)
            continue;
        for (int p = ACTS_HALVES; p <= ACTS_STRIPES; p++)
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
                check_gemm_acts(k, &t, shapes[i][0], shapes[i][1], shapes[i][2],
                                (acts_pattern)p, &rng);
    }
    free(t.table);
}
END_TEST

/* Every set on the two shapes of the real-table tests: a ResNet-20 stage-1 layer's (16 x 1100
 * x 144: N past four panels) and a thin one with K across two flushes (10 x 64 x 577). */
static void check_gemm_real_shapes(const test_table *t, uint64_t *rng)
{
    for (int s = 0; s < SET_COUNT; s++) {
        const eng_kernels *k = set_or_skip(s);
        if (k == NULL)
            continue;
        check_gemm(k, t, 16, 1100, 144, rng);
        check_gemm(k, t, 10, 64, 577, rng);
    }
}

/* Real EvoApprox tables. */
START_TEST(test_lut_gemm_real_tables)
{
    static const struct { const char *file; int w_bits; bool is_signed; } real[] = {
        {"8x8_unsigned/mul8u_1JFF.bin", 8, false},
        {"8x8_unsigned/mul8u_DM1.bin", 8, false},
        {"8x8_signed/mul8s_1KR3.bin", 8, true},
        {"8xN_unsigned/8x4/mul8x4u_0S7.bin", 4, false},
    };
    uint64_t rng = 400;
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        test_table t = make_table(TAB_FILE, real[i].w_bits, real[i].is_signed, ENG_LUT_DIRECT,
                                  real[i].file, &rng);
        check_gemm_real_shapes(&t, &rng);
        free(t.table);
    }
}
END_TEST

/* ---- residual decomposition and the exact + residual path ---------------------------- */

typedef enum {
    NEAR_EXACT, /* exact product + error in [-100, 100]: every code narrow */
    EXACT,      /* exact product: every code flat */
    EDGE,       /* exact + 255 for odd a: residuals 0 and 255, the 16-bit sums at their limit */
    MIXED,      /* near exact, but codes w % 5 == 0 with errors up to 1500: some wide */
    MOSTLY_WIDE /* errors up to 1500 for w % 4 != 0: the general path is taken */
} near_kind;

/* value(a) as the decomposition reads it: signed for signed and sign-magnitude tables */
static int32_t code_value(const eng_lut *lut, int code)
{
    return eng_lut_products_signed(lut) ? (int8_t)code : code;
}

/* A table of the exact product (sign-magnitude: of the magnitudes) plus an error by kind,
 * clamped to the entry range. */
static test_table make_near_table(near_kind kind, int w_bits, bool is_signed, eng_lut_mode mode,
                                  uint64_t *rng)
{
    test_table t = {.what = "near-exact"};
    const size_t n = (size_t)256 << w_bits;
    t.table = malloc(n * 2);
    for (size_t i = 0; i < n; i++) {
        const int a = (int)(i >> w_bits), w = (int)(i & ((1u << w_bits) - 1));
        long e = (long)(test_rand_u64(rng) % 201) - 100;
        const bool big = (kind == MIXED && w % 5 == 0) || (kind == MOSTLY_WIDE && w % 4 != 0);
        if (big)
            e = (long)(test_rand_u64(rng) % 3001) - 1500;
        if (kind == EXACT)
            e = 0;
        if (kind == EDGE)
            e = (a & 1) * 255;
        long v = is_signed ? (long)(int8_t)a * (int8_t)w + e : (long)a * w + e;
        const long lo = is_signed ? -32768 : 0, hi = is_signed ? 32767 : 65535;
        v = v < lo ? lo : v > hi ? hi : v;
        t.table[i] = (uint16_t)v;
    }
    t.lut = (eng_lut){.table = t.table, .w_bits = w_bits, .is_signed = is_signed, .mode = mode};
    return t;
}

/* Every usable code reproduces the products exactly from slope, offset and residual planes;
 * narrow codes have residuals below 256, flat ones zero. */
static void check_fit_identity(const eng_lut *lut, const eng_lut_fit *fit)
{
    for (int w = 0; w < 256; w++) {
        if (!fit->usable[w])
            continue;
        const int32_t s = fit->slope[w];
        ck_assert(fit->signed_acts ? s >= -128 && s <= 127 : s >= 0 && s <= 255);
        for (int a = 0; a < 256; a++) {
            const uint8_t *col = fit->planes + (size_t)w * 512;
            const int32_t r = col[a] | col[256 + a] << 8;
            const int64_t p = (int64_t)s * code_value(lut, a) + fit->offset[w] + r;
            if (p != eng_lut_product(lut, (uint8_t)a, (uint8_t)w))
                ck_abort_msg("code %d a %d: %lld != product %d", w, a, (long long)p,
                             eng_lut_product(lut, (uint8_t)a, (uint8_t)w));
            ck_assert(fit->wide[w] || r < 256);
            ck_assert(!fit->flat[w] || r == 0);
        }
    }
}

/* The codes fill_weights draws from. */
static bool code_valid(const eng_lut *lut, int w)
{
    if (lut->mode == ENG_LUT_SIGN_MAGNITUDE) {
        const int mag = (int8_t)w < 0 ? -(int8_t)w : (int8_t)w;
        return mag < (1 << lut->w_bits);
    }
    return w < (1 << lut->w_bits);
}

static const struct {
    bool is_signed;
    eng_lut_mode mode;
    int w_bits;
} fit_variants[] = {
    {false, ENG_LUT_DIRECT, 8},
    {true, ENG_LUT_DIRECT, 8},
    {false, ENG_LUT_SIGN_MAGNITUDE, 8}, /* products up to +-65535: 17 bits */
    {false, ENG_LUT_DIRECT, 4},
    {false, ENG_LUT_SIGN_MAGNITUDE, 6},
};
enum { FIT_VARIANTS = sizeof fit_variants / sizeof fit_variants[0] };

/* _i: variant. The decomposition of exact, near-exact, mixed and general random tables. */
START_TEST(test_lut_fit_decomposes_tables)
{
    uint64_t rng = 700 + (uint64_t)_i;
    const bool sgn = fit_variants[_i].is_signed;
    const eng_lut_mode mode = fit_variants[_i].mode;
    const int wb = fit_variants[_i].w_bits;
    for (near_kind kind = NEAR_EXACT; kind <= MIXED; kind++) {
        test_table t = make_near_table(kind, wb, sgn, mode, &rng);
        eng_lut_fit *fit;
        ck_assert_int_eq(eng_lut_fit_create(&t.lut, &fit), ENG_OK);
        check_fit_identity(&t.lut, fit);
        int wide = 0;
        for (int w = 0; w < 256; w++) {
            if (!code_valid(&t.lut, w))
                continue;
            ck_assert_msg(fit->usable[w], "kind %d code %d not usable", kind, w);
            if (kind == EXACT) { /* the exact linear part is found: slope = value(w) */
                ck_assert(fit->flat[w]);
                const int mag = (int8_t)w < 0 ? -(int8_t)w : (int8_t)w;
                ck_assert_int_eq(fit->slope[w], mode == ENG_LUT_SIGN_MAGNITUDE
                                                   ? ((int8_t)w < 0 ? -mag : mag)
                                                   : code_value(&t.lut, w));
            }
            /* (sign-magnitude EDGE products are -255, 0 and 255: wide) */
            if (kind == NEAR_EXACT || (kind == EDGE && mode == ENG_LUT_DIRECT))
                ck_assert_msg(!fit->wide[w], "kind %d code %d wide", kind, w);
            wide += fit->wide[w];
        }
        if (kind == MIXED)
            ck_assert_int_gt(wide, 0);
        eng_lut_fit_counts c;
        eng_lut_fit_count(fit, &t.lut, &c);
        const int sm_codes = wb >= 8 ? 256 : 2 * (1 << wb) - 1; /* |w| < 2^wb, int8 */
        ck_assert_int_eq(c.codes, mode == ENG_LUT_SIGN_MAGNITUDE ? sm_codes : 1 << wb);
        ck_assert_int_eq(c.wide, wide);
        ck_assert_int_eq(c.unusable, 0);
        ck_assert_int_eq(c.narrow + c.wide, c.codes);
        if (kind == EXACT)
            ck_assert_int_eq(c.flat, c.codes);
        eng_lut_fit_free(fit);
        free(t.table);
    }
    /* a general random table: still exact, but wide (or, with 17-bit sign-magnitude
     * products, not usable at all) */
    test_table t = make_table(TAB_RANDOM, wb, sgn, mode, NULL, &rng);
    eng_lut_fit *fit;
    ck_assert_int_eq(eng_lut_fit_create(&t.lut, &fit), ENG_OK);
    check_fit_identity(&t.lut, fit);
    for (int w = 1; w < 256; w++)
        if (code_valid(&t.lut, w))
            ck_assert(!fit->usable[w] || fit->wide[w]);
    eng_lut_fit_free(fit);
    free(t.table);
    ck_assert_int_eq(eng_lut_fit_create(&(eng_lut){.table = NULL, .w_bits = 8}, &fit),
                     ENG_ERR_ARG);
    ck_assert_ptr_null(fit);
    eng_lut_fit_free(NULL);
}
END_TEST

static bool vnni_present(void)
{
    __builtin_cpu_init();
    return eng_cpu_avx512_supported() && __builtin_cpu_supports("avx512vnni");
}

/* _i: variant. With the decomposition attached, every set stays bit-exact for every kind of
 * table, and the AVX-512 set takes the residual path exactly when it should. */
START_TEST(test_lut_gemm_residual_path)
{
    uint64_t rng = 800 + (uint64_t)_i;
    const bool sgn = fit_variants[_i].is_signed;
    const eng_lut_mode mode = fit_variants[_i].mode;
    const int wb = fit_variants[_i].w_bits;
    if (!vnni_present())
        fprintf(stderr, "# note: CPU lacks AVX-512 VNNI, the residual path is not tested\n");
    for (near_kind kind = NEAR_EXACT; kind <= MOSTLY_WIDE; kind++) {
        test_table t = make_near_table(kind, wb, sgn, mode, &rng);
        eng_lut_fit *fit;
        ck_assert_int_eq(eng_lut_fit_create(&t.lut, &fit), ENG_OK);
        t.lut.fit = fit;
        uint8_t w[64 * 64];
        fill_weights(&t.lut, w, sizeof w, &rng);
        /* 8-bit weights spread over all codes: MIXED has about 1/5 wide terms, MOSTLY_WIDE
         * 3/4; narrower tables keep few codes and all of them may be wide or narrow */
        if (vnni_present() && wb == 8 && !(kind == EDGE && mode != ENG_LUT_DIRECT))
            ck_assert_int_eq(eng_cpu_lut_residual_applies(&t.lut, 64, 64, w),
                             kind != MOSTLY_WIDE);
        check_gemm_all_shapes(&t, rng);
        eng_lut_fit_free(fit);
        free(t.table);
    }
}
END_TEST

/* Real multipliers: mul8u_2HH and mul8s_1KV8 are narrow, mul8u_NGR and mul8u_JQQ partly wide,
 * mul8u_DM1 mostly wide (general path), mul8x4u_0S7 an 8x4 table. */
START_TEST(test_lut_gemm_residual_real_tables)
{
    static const struct { const char *file; int w_bits; bool is_signed; } real[] = {
        {"8x8_unsigned/mul8u_2HH.bin", 8, false}, {"8x8_signed/mul8s_1KV8.bin", 8, true},
        {"8x8_unsigned/mul8u_NGR.bin", 8, false}, {"8x8_unsigned/mul8u_JQQ.bin", 8, false},
        {"8x8_unsigned/mul8u_DM1.bin", 8, false}, {"8xN_unsigned/8x4/mul8x4u_0S7.bin", 4, false},
    };
    uint64_t rng = 900;
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        test_table t = make_table(TAB_FILE, real[i].w_bits, real[i].is_signed, ENG_LUT_DIRECT,
                                  real[i].file, &rng);
        eng_lut_fit *fit;
        ck_assert_int_eq(eng_lut_fit_create(&t.lut, &fit), ENG_OK);
        check_fit_identity(&t.lut, fit);
        t.lut.fit = fit;
        check_gemm_real_shapes(&t, &rng);
        eng_lut_fit_free(fit);
        free(t.table);
    }
}
END_TEST

/* ---- activation classes and the class path ------------------------------------------- */

typedef enum {
    CLASS_SHIFT1,  /* rows of a >> 1 << 1: 128 classes, the shift map, two-zmm planes */
    CLASS_SHIFT3,  /* rows of a >> 3 << 3: 32 classes, the shift map, one-zmm planes */
    CLASS_PART100, /* a random partition into 100 classes: the lookup map */
    CLASS_PART40,  /* a random partition into 40 classes: the lookup map, one-zmm planes */
    CLASS_KINDS
} class_kind;

/* A random table whose activation codes (sign-magnitude: magnitudes) fall into classes by
 * kind: every row is a copy of its class's first row. */
static test_table make_class_table(class_kind kind, int w_bits, bool is_signed, eng_lut_mode mode,
                                   uint64_t *rng)
{
    test_table t = make_table(mode == ENG_LUT_SIGN_MAGNITUDE ? TAB_SMALL : TAB_RANDOM, w_bits,
                              is_signed, mode, NULL, rng);
    t.what = "classes";
    const int parts = kind == CLASS_PART100 ? 100 : 40;
    int first_of_class[100], used = 0;
    for (int a = 0; a < 256; a++) {
        int rep;
        if (kind == CLASS_SHIFT1 || kind == CLASS_SHIFT3) {
            const int sh = kind == CLASS_SHIFT1 ? 1 : 3;
            rep = a >> sh << sh;
        } else { /* the first `parts` codes start the classes, the others join one at random */
            const int c = a < parts ? a : (int)(test_rand_u64(rng) % (uint64_t)parts);
            if (a < parts)
                first_of_class[used++] = a;
            rep = first_of_class[c];
        }
        const size_t row = (size_t)1 << w_bits;
        memcpy(t.table + (size_t)a * row, t.table + (size_t)rep * row, row * 2);
    }
    return t;
}

/* The classes of fit agree with the products: codes of a class give the same product for
 * every valid weight code, codes of different classes not; classes are numbered by their first
 * code; class_shift and (for <= 128 classes) the class planes are what they say. */
static void check_classes(const eng_lut *lut, const eng_lut_fit *fit)
{
    int first[256], count = 0;
    for (int a = 0; a < 256; a++) {
        const int c = fit->class_of[a];
        ck_assert_int_le(c, count);
        if (c == count)
            first[count++] = a;
        for (int w = 0; w < 256; w++)
            if (code_valid(lut, w))
                ck_assert_int_eq(eng_lut_product(lut, (uint8_t)a, (uint8_t)w),
                                 eng_lut_product(lut, (uint8_t)first[c], (uint8_t)w));
    }
    ck_assert_int_eq(fit->classes, count);
    for (int c = 1; c < count; c++) { /* a class's first row differs from every earlier one */
        for (int d = 0; d < c; d++) {
            int w = 0;
            while (w < 256 && (!code_valid(lut, w) ||
                               eng_lut_product(lut, (uint8_t)first[c], (uint8_t)w) ==
                                   eng_lut_product(lut, (uint8_t)first[d], (uint8_t)w)))
                w++;
            ck_assert_msg(w < 256, "classes %d and %d have the same products", c, d);
        }
    }
    if (fit->class_shift >= 0)
        for (int a = 0; a < 256; a++)
            ck_assert_int_eq(fit->class_of[a], a >> fit->class_shift);
    if (count > 128)
        return;
    bool one[256] = {false};
    for (int w = 0; w < 256; w++) {
        one[w] = true;
        if (w > 0)
            one[w - 1] = false;
        if (!code_valid(lut, w) || !eng_lut_fits_int16(lut, one))
            continue;
        uint8_t column[512];
        eng_lut_build_column(lut, (uint8_t)w, column);
        for (int c = 0; c < count; c++) {
            ck_assert_int_eq(fit->class_planes[(size_t)w * 256 + c], column[first[c]]);
            ck_assert_int_eq(fit->class_planes[(size_t)w * 256 + 128 + c], column[256 + first[c]]);
        }
    }
}

/* _i: variant. Tables with activation classes: the classes found, and every set bit-exact
 * with the decomposition attached, the AVX-512 set through the class path where it applies
 * (not for 17-bit sign-magnitude products, where it takes the reference). */
START_TEST(test_lut_gemm_class_path)
{
    uint64_t rng = 1700 + (uint64_t)_i;
    const bool sgn = fit_variants[_i].is_signed;
    const eng_lut_mode mode = fit_variants[_i].mode;
    const int wb = fit_variants[_i].w_bits;
    static const int direct_classes[CLASS_KINDS] = {128, 32, 100, 40};
    static const int direct_shift[CLASS_KINDS] = {1, 3, -1, -1};
    for (class_kind kind = 0; kind < CLASS_KINDS; kind++) {
        test_table t = make_class_table(kind, wb, sgn, mode, &rng);
        eng_lut_fit *fit;
        ck_assert_int_eq(eng_lut_fit_create(&t.lut, &fit), ENG_OK);
        check_classes(&t.lut, fit);
        if (mode == ENG_LUT_DIRECT) { /* random rows: exactly the classes made */
            ck_assert_int_eq(fit->classes, direct_classes[kind]);
            ck_assert_int_eq(fit->class_shift, direct_shift[kind]);
        }
        t.lut.fit = fit;
        uint8_t w[64 * 64];
        fill_weights(&t.lut, w, sizeof w, &rng);
        bool used[256];
        eng_lut_mark_used(w, sizeof w, used);
        ck_assert_int_eq(eng_cpu_lut_classes_apply(&t.lut, 64, 64, w),
                         fit->classes <= 128 && eng_lut_fits_int16(&t.lut, used));
        if (mode == ENG_LUT_DIRECT)
            ck_assert(eng_cpu_lut_classes_apply(&t.lut, 64, 64, w));
        check_gemm_all_shapes(&t, rng);
        eng_lut_fit_free(fit);
        free(t.table);
    }
    /* one class: every entry the largest (unsigned) or smallest (signed) product, so the
     * 16-bit sums of the class path reach their limits */
    test_table t = make_table(TAB_EXTREME, wb, sgn, ENG_LUT_DIRECT, NULL, &rng);
    eng_lut_fit *fit;
    ck_assert_int_eq(eng_lut_fit_create(&t.lut, &fit), ENG_OK);
    ck_assert_int_eq(fit->classes, 1);
    ck_assert_int_eq(fit->class_shift, 8);
    t.lut.fit = fit;
    check_gemm_all_shapes(&t, rng);
    eng_lut_fit_free(fit);
    free(t.table);
}
END_TEST

/* Real multipliers: truncating ones ignore low activation bits (mul8u_DM1 and mul8s_1KR6 the
 * lowest, mul8u_17KS the two lowest), mul8u_FTA has 128 classes that are not a shift, the
 * accurate mul8u_2HH has none (256 classes: general or residual path). */
START_TEST(test_lut_gemm_class_real_tables)
{
    static const struct {
        const char *file;
        bool is_signed;
        int classes, shift;
    } real[] = {
        {"8x8_unsigned/mul8u_DM1.bin", false, 128, 1},  {"8x8_signed/mul8s_1KR6.bin", true, 128, 1},
        {"8x8_unsigned/mul8u_17KS.bin", false, 64, 2},  {"8x8_unsigned/mul8u_FTA.bin", false, 128, -1},
        {"8x8_unsigned/mul8u_2HH.bin", false, 256, 0},
    };
    uint64_t rng = 1800;
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        test_table t = make_table(TAB_FILE, 8, real[i].is_signed, ENG_LUT_DIRECT, real[i].file,
                                  &rng);
        eng_lut_fit *fit;
        ck_assert_int_eq(eng_lut_fit_create(&t.lut, &fit), ENG_OK);
        check_classes(&t.lut, fit);
        ck_assert_int_eq(fit->classes, real[i].classes);
        ck_assert_int_eq(fit->class_shift, real[i].shift);
        t.lut.fit = fit;
        check_gemm_real_shapes(&t, &rng);
        for (int s = 0; s < SET_COUNT; s++) {
            const eng_kernels *k = set_or_skip(s);
            if (k != NULL)
                check_gemm_acts(k, &t, 33, 300, 260, ACTS_BOUNDARY, &rng);
        }
        eng_lut_fit_free(fit);
        free(t.table);
    }
}
END_TEST

/* ---- table convolution without a column buffer (lut_conv2d) -------------------------- */

/* Every set (the reference included) against im2col_u8 + the reference lut_gemm, 1 and 2
 * threads: same-size stride-1 shapes (the avx512 shifted-row panels: kernels 3x3, 5x5, 1x3,
 * 3x3 with dilation 2, images smaller than a panel and panels across images), and strided,
 * shrinking and 1x1 shapes (the gathered panels); general, signed, 17-bit sign-magnitude
 * tables, a near-exact one with its decomposition (the residual path) and two with
 * activation classes (the class path: shift and lookup maps). */
START_TEST(test_lut_conv2d)
{
    static const int geo[][10] = {
        /* n c h w kh kw stride pad dil oc */
        {2, 3, 8, 8, 3, 3, 1, 1, 1, 5},    {5, 4, 7, 9, 3, 3, 1, 1, 1, 17},
        {3, 2, 13, 11, 5, 5, 1, 2, 1, 4},  {2, 3, 9, 8, 1, 3, 1, 0, 1, 3},
        {1, 2, 12, 12, 3, 3, 1, 2, 2, 6},  {4, 5, 16, 16, 3, 3, 1, 1, 1, 9},
        {2, 3, 9, 9, 3, 3, 2, 1, 1, 4},    {3, 2, 10, 7, 3, 3, 1, 0, 1, 3},
        {2, 4, 6, 6, 1, 1, 2, 0, 1, 5},    {1, 1, 1, 1, 3, 3, 1, 1, 1, 2},
    };
    uint64_t rng = 1000;
    enum { TABS = 6 };
    test_table tabs[TABS] = {
        make_table(TAB_RANDOM, 8, false, ENG_LUT_DIRECT, NULL, &rng),
        make_table(TAB_RANDOM, 8, true, ENG_LUT_DIRECT, NULL, &rng),
        make_table(TAB_RANDOM, 8, false, ENG_LUT_SIGN_MAGNITUDE, NULL, &rng),
        make_near_table(NEAR_EXACT, 8, false, ENG_LUT_DIRECT, &rng),
        make_class_table(CLASS_SHIFT1, 8, true, ENG_LUT_DIRECT, &rng),
        make_class_table(CLASS_PART40, 8, false, ENG_LUT_DIRECT, &rng),
    };
    eng_lut_fit *fits[TABS] = {NULL};
    for (int t = 3; t < TABS; t++) { /* the residual path, then the class paths */
        ck_assert_int_eq(eng_lut_fit_create(&tabs[t].lut, &fits[t]), ENG_OK);
        tabs[t].lut.fit = fits[t];
    }
    const eng_kernels *sets[SET_COUNT + 1] = {eng_kernels_ref()};
    for (int s = 0; s < SET_COUNT; s++)
        sets[s + 1] = set_or_skip(s);
    for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
        const int *p = geo[g];
        eng_conv_shape sh;
        ck_assert_int_eq(eng_conv_shape_init(&sh, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                                             p[8]), ENG_OK);
        const int oc = p[9], kk = sh.c * sh.kh * sh.kw;
        const size_t na = (size_t)sh.c * sh.n * sh.h * sh.w, np = (size_t)sh.n * sh.oh * sh.ow;
        uint8_t *a = malloc(na), *w = malloc((size_t)oc * kk), *cols = malloc((size_t)kk * np);
        int32_t *ref = malloc(sizeof(int32_t) * oc * np), *out = malloc(sizeof(int32_t) * oc * np);
        for (int t = 0; t < TABS; t++) {
            fill_bytes(a, na, &rng);
            fill_weights(&tabs[t].lut, w, (size_t)oc * kk, &rng);
            const uint8_t pad = (uint8_t)test_rand_u64(&rng);
            ck_assert_int_eq(eng_kernels_ref()->im2col_u8(&sh, a, pad, cols), ENG_OK);
            ck_assert_int_eq(eng_kernels_ref()->lut_gemm(&tabs[t].lut, oc, (int)np, kk, w, cols,
                                                         ref), ENG_OK);
            for (int s = 0; s <= SET_COUNT; s++) {
                if (sets[s] == NULL)
                    continue;
                for (int threads = 1; threads <= 2; threads++) {
                    test_set_threads(threads);
                    memset(out, 0x5a, sizeof(int32_t) * oc * np);
                    ck_assert_int_eq(sets[s]->lut_conv2d(&tabs[t].lut, &sh, oc, a, pad, w, out),
                                     ENG_OK);
                    for (size_t i = 0; i < (size_t)oc * np; i++)
                        if (out[i] != ref[i])
                            ck_abort_msg("%s lut_conv2d geometry %zu table %d threads %d: out[%zu]"
                                         " = %d, reference %d", sets[s]->name, g, t, threads, i,
                                         out[i], ref[i]);
                }
            }
        }
        test_set_threads(2);
        free(a); free(w); free(cols); free(ref); free(out);
    }
    for (int t = 0; t < TABS; t++) {
        eng_lut_fit_free(fits[t]);
        free(tabs[t].table);
    }
}
END_TEST

/* ---- depthwise ------------------------------------------------------------------------ */

/* The window sums of the reference lut_depthwise against their definition: the codes of the
 * window, padding counted as pad. */
static void window_sums_check(const eng_conv_shape *s, const uint8_t *a, uint8_t pad,
                              const int32_t *sums)
{
    for (int c = 0; c < s->c; c++)
        for (int b = 0; b < s->n; b++)
            for (int y = 0; y < s->oh; y++)
                for (int x = 0; x < s->ow; x++) {
                    int32_t sum = 0;
                    for (int i = 0; i < s->kh; i++)
                        for (int j = 0; j < s->kw; j++) {
                            int iy = y * s->stride + i * s->dilation - s->pad;
                            int ix = x * s->stride + j * s->dilation - s->pad;
                            sum += iy >= 0 && iy < s->h && ix >= 0 && ix < s->w
                                       ? a[(((size_t)c * s->n + b) * s->h + iy) * s->w + ix]
                                       : pad;
                        }
                    ck_assert_int_eq(sums[(((size_t)c * s->n + b) * s->oh + y) * s->ow + x], sum);
                }
}

/* Every optimized set against the reference, outputs and window sums, 1 and 2 threads:
 * general, signed, 8x3 and sign-magnitude tables, and two with activation classes and their
 * fits (the class paths: shift and lookup maps). */
START_TEST(test_lut_depthwise)
{
    static const int geo[][9] = {
        /* n c h w kh kw stride pad dil */
        {2, 3, 7, 6, 3, 3, 1, 1, 1},   {1, 5, 9, 9, 5, 5, 2, 0, 1}, {3, 4, 8, 8, 3, 3, 1, 2, 2},
        {2, 6, 16, 16, 3, 3, 2, 1, 1}, {4, 3, 17, 9, 3, 1, 1, 1, 1}, {1, 2, 1, 1, 1, 1, 1, 0, 1},
        {3, 2, 2, 2, 3, 3, 1, 1, 1},   {2, 3, 1, 1, 3, 3, 2, 1, 1}, {2, 3, 7, 7, 5, 5, 2, 2, 1},
        {5, 2, 7, 7, 5, 5, 1, 2, 1},
    };
    uint64_t rng = 500;
    enum { TABS = 6 };
    test_table tabs[TABS] = {
        make_table(TAB_RANDOM, 8, false, ENG_LUT_DIRECT, NULL, &rng),
        make_table(TAB_RANDOM, 8, true, ENG_LUT_DIRECT, NULL, &rng),
        make_table(TAB_RANDOM, 3, false, ENG_LUT_DIRECT, NULL, &rng),
        make_table(TAB_SMALL, 6, false, ENG_LUT_SIGN_MAGNITUDE, NULL, &rng),
        make_class_table(CLASS_SHIFT1, 8, true, ENG_LUT_DIRECT, &rng),
        make_class_table(CLASS_PART40, 8, false, ENG_LUT_DIRECT, &rng),
    };
    eng_lut_fit *fits[TABS] = {NULL};
    for (int t = 4; t < TABS; t++) { /* with their activation classes (the class paths) */
        ck_assert_int_eq(eng_lut_fit_create(&tabs[t].lut, &fits[t]), ENG_OK);
        tabs[t].lut.fit = fits[t];
    }
    for (int s = 0; s < SET_COUNT; s++) {
        const eng_kernels *k = set_or_skip(s);
        if (k == NULL)
            continue;
        for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
            const int *p = geo[g];
            eng_conv_shape sh;
            ck_assert_int_eq(eng_conv_shape_init(&sh, p[0], p[1], p[2], p[3], p[4], p[5], p[6],
                                                 p[7], p[8]), ENG_OK);
            size_t na = (size_t)sh.c * sh.n * sh.h * sh.w, nw = (size_t)sh.c * sh.kh * sh.kw;
            size_t no = (size_t)sh.c * sh.n * sh.oh * sh.ow;
            uint8_t *a = malloc(na), *w = malloc(nw);
            int32_t *ref = malloc(4 * no), *out = malloc(4 * no);
            int32_t *sref = malloc(4 * no), *sums = malloc(4 * no);
            for (int t = 0; t < TABS; t++) {
                fill_bytes(a, na, &rng);
                fill_weights(&tabs[t].lut, w, nw, &rng);
                uint8_t pad = (uint8_t)test_rand_u64(&rng);
                ck_assert_int_eq(eng_kernels_ref()->lut_depthwise(&tabs[t].lut, &sh, a, w, pad,
                                                                  ref, sref), ENG_OK);
                window_sums_check(&sh, a, pad, sref);
                for (int threads = 1; threads <= 2; threads++) {
                    test_set_threads(threads);
                    memset(out, 0x5a, 4 * no);
                    memset(sums, 0x5a, 4 * no);
                    /* the sums are optional: every other call goes without */
                    ck_assert_int_eq(k->lut_depthwise(&tabs[t].lut, &sh, a, w, pad, out,
                                                      threads == 1 ? sums : NULL), ENG_OK);
                    for (size_t i = 0; i < no; i++)
                        if (out[i] != ref[i] || (threads == 1 && sums[i] != sref[i]))
                            ck_abort_msg("%s lut_depthwise geometry %zu table %d threads %d: "
                                         "out[%zu] = %d, reference %d, sums %d, reference %d",
                                         k->name, g, t, threads, i, out[i], ref[i], sums[i],
                                         sref[i]);
                }
                test_set_threads(2);
            }
            free(a);
            free(w);
            free(ref);
            free(out);
            free(sref);
            free(sums);
        }
    }
    for (int t = 0; t < TABS; t++) {
        eng_lut_fit_free(fits[t]);
        free(tabs[t].table);
    }
}
END_TEST

/* ---- im2col, col2im, quantize ------------------------------------------------------- */

START_TEST(test_im2col_col2im_identical)
{
    static const int geo[][9] = {
        {2, 3, 7, 6, 3, 3, 1, 1, 1}, {1, 2, 9, 9, 5, 5, 2, 0, 1}, {3, 1, 8, 8, 3, 3, 1, 2, 2},
        {2, 4, 5, 5, 1, 1, 2, 0, 1}, {1, 3, 4, 4, 3, 3, 3, 3, 1}, {2, 2, 33, 31, 3, 3, 2, 1, 1},
        {16, 9, 32, 32, 3, 3, 1, 1, 1}, /* > 1 MiB of columns: the threaded path */
        /* same-size stride-1 shapes (whole-plane shifted copies): 1-row, 2x2, 5x5 kernels */
        {2, 2, 1, 5, 3, 3, 1, 1, 1}, {3, 2, 2, 2, 3, 3, 1, 1, 1}, {2, 3, 6, 7, 5, 5, 1, 2, 1},
        {1, 2, 3, 9, 1, 3, 1, 0, 1},
    };
    uint64_t rng = 600;
    const eng_kernels *r = eng_kernels_ref();
    for (int s = 0; s < SET_COUNT; s++) {
        const eng_kernels *k = set_or_skip(s);
        if (k == NULL)
            continue;
        for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
            const int *p = geo[g];
            eng_conv_shape sh;
            ck_assert_int_eq(eng_conv_shape_init(&sh, p[0], p[1], p[2], p[3], p[4], p[5], p[6],
                                                 p[7], p[8]), ENG_OK);
            size_t nx = (size_t)sh.n * sh.c * sh.h * sh.w;
            size_t nc = (size_t)sh.c * sh.kh * sh.kw * sh.n * sh.oh * sh.ow;
            float *x = malloc(nx * 4), *c1 = malloc(nc * 4), *c2 = malloc(nc * 4);
            float *d1 = malloc(nx * 4), *d2 = malloc(nx * 4);
            uint8_t *xb = malloc(nx), *b1 = malloc(nc), *b2 = malloc(nc);
            for (size_t i = 0; i < nx; i++)
                x[i] = test_rand_uniform(&rng, -1, 1);
            fill_bytes(xb, nx, &rng);
            ck_assert_int_eq(r->im2col_f32(&sh, x, 0.25f, c1), ENG_OK);
            ck_assert_int_eq(k->im2col_f32(&sh, x, 0.25f, c2), ENG_OK);
            ck_assert_mem_eq(c1, c2, nc * 4);
            ck_assert_int_eq(r->im2col_u8(&sh, xb, 7, b1), ENG_OK);
            ck_assert_int_eq(k->im2col_u8(&sh, xb, 7, b2), ENG_OK);
            ck_assert_mem_eq(b1, b2, nc);
            for (size_t i = 0; i < nc; i++)
                c1[i] = test_rand_uniform(&rng, -1, 1);
            ck_assert_int_eq(r->col2im_f32(&sh, c1, d1), ENG_OK);
            ck_assert_int_eq(k->col2im_f32(&sh, c1, d2), ENG_OK);
            ck_assert_mem_eq(d1, d2, nx * 4);
            free(x); free(c1); free(c2); free(d1); free(d2); free(xb); free(b1); free(b2);
        }
    }
}
END_TEST

START_TEST(test_quantize_identical)
{
    enum { COUNT = 1000 };
    float x[COUNT];
    uint64_t rng = 700;
    for (int i = 0; i < COUNT; i++)
        x[i] = test_rand_uniform(&rng, -300, 300);
    /* ties (round half to even), NaN, infinities, beyond the clamp */
    const float special[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 127.5f, 128.5f, NAN,
                             INFINITY, -INFINITY, 1e30f, -1e30f, 0.0f, -0.0f, 254.5f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        x[i * 7] = special[i];
    static const struct { float scale; int32_t zp, qmin, qmax; } q[] = {
        {1.0f, 0, 0, 255}, {1.0f, 0, -128, 127}, {0.37f, 60, 0, 255}, {2.0f, -3, -127, 127},
        {0.5f, 128, 0, 255},
    };
    for (int s = 0; s < SET_COUNT; s++) {
        const eng_kernels *k = set_or_skip(s);
        if (k == NULL)
            continue;
        for (size_t j = 0; j < sizeof q / sizeof q[0]; j++) {
            for (size_t count = 0; count <= COUNT; count += count < 40 ? 1 : 321) {
                uint8_t c1[COUNT], c2[COUNT];
                memset(c2, 0xee, sizeof c2);
                ck_assert_int_eq(eng_kernels_ref()->quantize(x, count, q[j].scale, q[j].zp,
                                                             q[j].qmin, q[j].qmax, c1), ENG_OK);
                ck_assert_int_eq(k->quantize(x, count, q[j].scale, q[j].zp, q[j].qmin, q[j].qmax,
                                             c2), ENG_OK);
                if (count > 0)
                    ck_assert_mem_eq(c1, c2, count);
                if (count < COUNT)
                    ck_assert_uint_eq(c2[count], 0xee); /* nothing written past the end */
            }
        }
    }
}
END_TEST

/* Inputs at the rounding ties of the quotient, (k + 1/2) * scale, and 1..3 ulps either side,
 * for k across and beyond the code range, under scales whose reciprocal is inexact: the
 * optimized quantizers multiply by 1 / scale where that cannot change a code, so these are the
 * inputs where it could. */
START_TEST(test_quantize_ties)
{
    enum { COUNT = 7 * 700 };
    static float x[COUNT];
    static uint8_t c1[COUNT], c2[COUNT];
    static const struct { float scale; int32_t zp, qmin, qmax; } q[] = {
        {0.37f, 60, 0, 255}, {1.0f / 3, 0, -127, 127}, {0.0234f, 201, 0, 255},
        {7.1e-5f, 3, 0, 255}, {3.3f, -5, -127, 127}, {0.1f, 128, 0, 255},
    };
    for (size_t j = 0; j < sizeof q / sizeof q[0]; j++) {
        for (int i = 0; i < COUNT; i++) {
            float v = ((float)(i / 7 - 350) + 0.5f) * q[j].scale;
            for (int u = 0; u < i % 7; u++) /* 0, +1, +2, +3, -1, -2, -3 ulps */
                v = nextafterf(v, i % 7 < 4 ? INFINITY : -INFINITY);
            x[i] = v;
        }
        ck_assert_int_eq(eng_kernels_ref()->quantize(x, COUNT, q[j].scale, q[j].zp, q[j].qmin,
                                                     q[j].qmax, c1), ENG_OK);
        for (int s = 0; s < SET_COUNT; s++) {
            const eng_kernels *k = set_or_skip(s);
            if (k == NULL)
                continue;
            ck_assert_int_eq(k->quantize(x, COUNT, q[j].scale, q[j].zp, q[j].qmin, q[j].qmax,
                                         c2), ENG_OK);
            ck_assert_mem_eq(c1, c2, COUNT);
        }
    }
}
END_TEST

/* ---- sgemm ---------------------------------------------------------------------------- */

static void check_sgemm(eng_sgemm_fn *f, const char *what)
{
    static const int shapes[][3] = {{1, 1, 1},     {3, 65, 257},  {64, 300, 63},
                                    {17, 5, 577},  {70, 129, 300}, {40, 1001, 130},
                                    {70, 40, 2000}}; /* last: rows split over threads */
    uint64_t rng = 800;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int t = 0; t < 4; t++) {
            const bool ta = t & 1, tb = t & 2;
            const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
            float *a = malloc(sizeof(float) * (size_t)(ta ? k : m) * lda);
            float *b = malloc(sizeof(float) * (size_t)(tb ? n : k) * ldb);
            float *c1 = malloc(sizeof(float) * (size_t)m * ldc);
            float *c2 = malloc(sizeof(float) * (size_t)m * ldc);
            for (int i = 0; i < (ta ? k : m) * lda; i++) a[i] = test_rand_uniform(&rng, -1, 1);
            for (int i = 0; i < (tb ? n : k) * ldb; i++) b[i] = test_rand_uniform(&rng, -1, 1);
            for (int i = 0; i < m * ldc; i++) c1[i] = c2[i] = test_rand_uniform(&rng, -1, 1);
            const float beta = t == 3 ? 0.0f : 0.5f;
            ck_assert_int_eq(eng_kernels_ref()->sgemm(ta, tb, m, n, k, 1.25f, a, lda, b, ldb,
                                                      beta, c1, ldc), ENG_OK);
            ck_assert_int_eq(f(ta, tb, m, n, k, 1.25f, a, lda, b, ldb, beta, c2, ldc), ENG_OK);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < ldc; j++) {
                    if (j >= n) /* padding between rows is untouched */
                        ck_assert_float_eq(c1[i * ldc + j], c2[i * ldc + j]);
                    else if (fabsf(c1[i * ldc + j] - c2[i * ldc + j]) > 1e-5f * (float)k)
                        ck_abort_msg("%s sgemm ta %d tb %d m=%d n=%d k=%d: C[%d][%d] = %g, "
                                     "reference %g", what, ta, tb, m, n, k, i, j,
                                     c2[i * ldc + j], c1[i * ldc + j]);
                }
            }
            free(a); free(b); free(c1); free(c2);
        }
    }
}

START_TEST(test_sgemm)
{
    for (int threads = 1; threads <= 2; threads++) {
        test_set_threads(threads);
        check_sgemm(eng_cpu_sgemm_blocked, "blocked");
        for (int s = 0; s < SET_COUNT; s++) {
            const eng_kernels *k = set_or_skip(s);
            if (k != NULL)
                check_sgemm(k->sgemm, k->name);
        }
    }
    test_set_threads(2);
}
END_TEST

/* ---- exact int8 GEMM ----------------------------------------------------------------- */

START_TEST(test_int8_gemm)
{
    if (strcmp(eng_int8_gemm_path(), "vnni") != 0)
        fprintf(stderr, "# note: CPU lacks AVX-512 VNNI, eng_int8_gemm is the scalar loop\n");
    uint64_t rng = 900;
    for (int i = 0; i < GEMM_SHAPES; i++) {
        const int m = gemm_shapes[i][0], n = gemm_shapes[i][1], k = gemm_shapes[i][2];
        int8_t *w = malloc((size_t)m * k);
        uint8_t *a = malloc((size_t)k * n);
        int32_t *ref = malloc(sizeof(int32_t) * m * n), *out = malloc(sizeof(int32_t) * m * n);
        fill_bytes((uint8_t *)w, (size_t)m * k, &rng);
        fill_bytes(a, (size_t)k * n, &rng);
        if (i == 0) { /* the extreme products */
            w[0] = -128;
            a[0] = 255;
        }
        /* an independent definition: int64 sum of products, reduced modulo 2^32 */
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++) {
                int64_t sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (int64_t)a[(size_t)p * n + j] * w[(size_t)r * k + p];
                ref[(size_t)r * n + j] = (int32_t)(uint32_t)(uint64_t)sum;
            }
        for (int threads = 1; threads <= 2; threads++) {
            test_set_threads(threads);
            memset(out, 0x11, sizeof(int32_t) * m * n);
            eng_int8_gemm(m, n, k, w, a, out);
            ck_assert_mem_eq(out, ref, sizeof(int32_t) * m * n);
        }
        eng_int8_gemm_ref(m, n, k, w, a, out);
        ck_assert_mem_eq(out, ref, sizeof(int32_t) * m * n);
        test_set_threads(2);
        free(w); free(a); free(ref); free(out);
    }
}
END_TEST

/* ---- scratch workspace ---------------------------------------------------------------- */

START_TEST(test_workspace_grows_and_is_reused)
{
    uint8_t *a = eng_cpu_workspace(100);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % 64, 0);
    memset(a, 1, 100);
    ck_assert_ptr_eq(eng_cpu_workspace(50), a);       /* smaller: the same buffer */
    uint8_t *b = eng_cpu_workspace((size_t)1 << 22);  /* larger: a new one, usable throughout */
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq((uintptr_t)b % 64, 0);
    memset(b, 2, (size_t)1 << 22);
    eng_cpu_workspace_release();
    ck_assert_ptr_nonnull(eng_cpu_workspace(10));
    eng_cpu_workspace_release();
    eng_cpu_workspace_release();                      /* releasing nothing is harmless */
}
END_TEST

/* ---- selection ------------------------------------------------------------------------ */

START_TEST(test_selection)
{
    ck_assert_ptr_eq(eng_kernels_by_name("scalar"), eng_kernels_ref());
    ck_assert_ptr_null(eng_kernels_by_name("avx1024"));
    ck_assert_ptr_null(eng_kernels_by_name(NULL));
    const eng_kernels *best = eng_kernels_best();
    ck_assert_ptr_nonnull(best);
    for (int s = 0; s < SET_COUNT; s++) {
        const eng_kernels *k = eng_kernels_by_name(set_names[s]);
        if (k != NULL)
            ck_assert_str_eq(k->name, set_names[s]);
    }
    if (eng_cpu_avx512_supported())
        ck_assert_str_eq(best->name, "avx512");
    /* Check forks per test, so this process has not read the variable yet */
    setenv("EVOAPPROXNAS_KERNELS", "scalar", 1);
    ck_assert_ptr_eq(eng_kernels_get(), eng_kernels_ref());
}
END_TEST

START_TEST(test_selection_ignores_unknown_name)
{
    setenv("EVOAPPROXNAS_KERNELS", "nonsense", 1);
    ck_assert_ptr_eq(eng_kernels_get(), eng_kernels_best());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_lut_gemm_random_8x8, 0, 4);
    tcase_add_loop_test(tc, test_lut_gemm_random_8xn, 0, 6);
    tcase_add_test(tc, test_lut_gemm_extreme_sums);
    tcase_add_loop_test(tc, test_lut_gemm_full_panel_masks, 0, 5);
    tcase_add_test(tc, test_lut_gemm_real_tables);
    tcase_add_loop_test(tc, test_lut_fit_decomposes_tables, 0, FIT_VARIANTS);
    tcase_add_loop_test(tc, test_lut_gemm_residual_path, 0, FIT_VARIANTS);
    tcase_add_test(tc, test_lut_gemm_residual_real_tables);
    tcase_add_loop_test(tc, test_lut_gemm_class_path, 0, FIT_VARIANTS);
    tcase_add_test(tc, test_lut_gemm_class_real_tables);
    tcase_add_test(tc, test_lut_conv2d);
    tcase_add_test(tc, test_lut_depthwise);
    tcase_add_test(tc, test_im2col_col2im_identical);
    tcase_add_test(tc, test_quantize_identical);
    tcase_add_test(tc, test_quantize_ties);
    tcase_add_test(tc, test_sgemm);
    tcase_add_test(tc, test_int8_gemm);
    tcase_add_test(tc, test_workspace_grows_and_is_reused);
    tcase_add_test(tc, test_selection);
    tcase_add_test(tc, test_selection_ignores_unknown_name);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
