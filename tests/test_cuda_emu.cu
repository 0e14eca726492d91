// test_cuda_emu.cu - the CUDA kernels' index arithmetic run on the CPU: the same
// __host__ __device__ tile and element functions the kernels call (engine/cuda/*.cuh), driven
// by a sequential emulation of the kernels' block choreography (every thread's share of a
// phase, then the next phase, as the barriers order them), compared bit for bit with the
// scalar reference kernels. Runs on CPU-only CI wherever nvcc builds the backend; what it
// cannot see (launch configuration, shared-memory limits, races) is left to test_cuda on a GPU.
#include <check.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "testutil.h"
}
#include "cuda/im2col.cuh"
#include "cuda/lut_depthwise.cuh"
#include "cuda/lut_gemm.cuh"
#include "cuda/quantize.cuh"

// ------------------------------------------------------------------------------------------
// Emulated kernels
// ------------------------------------------------------------------------------------------

// lut_gemm_kernel with `grid` persistent blocks run one after another (the order of blocks
// and items is free: stores are exclusive or, with split K, commutative additions).
template <int KIND, class Loader>
static void emu_lut_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                         const Loader &load, int32_t *out, int resident)
{
    LutGemmWork g;
    ck_assert(lut_gemm_plan(m, n, k, resident, &g));
    if (g.accumulate)
        memset(out, 0, sizeof(int32_t) * (size_t)m * n);
    alignas(16) static uint8_t tiles[LUT_GEMM_TILE_BYTES];
    static uint32_t acc[LUT_GEMM_THREADS][LUT_GEMM_TM][LUT_GEMM_TN];
    uint8_t *ws = tiles, *as = tiles + LUT_GEMM_BK * LUT_GEMM_BM;
    const int grid = g.items < resident ? g.items : resident;
    for (int block = grid - 1; block >= 0; block--) { // reverse: no reliance on block order
        for (int item = block; item < g.items; item += grid) {
            int m0, n0, kbeg, kend;
            lut_gemm_item(g, item, &m0, &n0, &kbeg, &kend);
            memset(acc, 0, sizeof acc);
            for (int k0 = kbeg; k0 < kend; k0 += LUT_GEMM_BK) {
                const int kv = kend - k0 < LUT_GEMM_BK ? kend - k0 : LUT_GEMM_BK;
                memset(tiles, 0xEE, sizeof tiles); // stale data must not leak into results
                for (int tid = 0; tid < LUT_GEMM_THREADS; tid++)
                    lut_gemm_load_slab(tid, g, w, load, m0, n0, k0, kv, ws, as);
                for (int tid = 0; tid < LUT_GEMM_THREADS; tid++)
                    lut_gemm_compute_slab<KIND, true>(tid, lut->table, lut->w_bits, ws, as, kv,
                                                      acc[tid]);
            }
            for (int tid = 0; tid < LUT_GEMM_THREADS; tid++)
                lut_gemm_store(tid, g, m0, n0, acc[tid], out);
        }
    }
}

template <class Loader>
static void emu_lut_gemm_any(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                             const Loader &load, int32_t *out, int resident)
{
    switch (cuda_lut_kind_of(lut)) {
    case CUDA_LUT_UNSIGNED:
        return emu_lut_gemm<CUDA_LUT_UNSIGNED>(lut, m, n, k, w, load, out, resident);
    case CUDA_LUT_SIGNED:
        return emu_lut_gemm<CUDA_LUT_SIGNED>(lut, m, n, k, w, load, out, resident);
    case CUDA_LUT_SIGN_MAGNITUDE:
        return emu_lut_gemm<CUDA_LUT_SIGN_MAGNITUDE>(lut, m, n, k, w, load, out, resident);
    }
}

// lut_depthwise_kernel, both product sources.
template <int KIND>
static void emu_lut_depthwise(const eng_lut *lut, const eng_conv_shape *s, const uint8_t *a,
                              const uint8_t *w, uint8_t pad_code, bool columns, int32_t *out)
{
    const int taps = s->kh * s->kw;
    int32_t *prod = (int32_t *)malloc(sizeof(int32_t) * 256 * taps);
    const size_t total = (size_t)s->n * s->oh * s->ow;
    for (int c = 0; c < s->c; c++) {
        const uint8_t *wc = w + (size_t)c * taps;
        for (int e = 0; e < taps * 256; e++)
            prod[e] = lut_depthwise_column<KIND>(lut->table, lut->w_bits, wc, e);
        for (size_t q = 0; q < total; q++)
            out[(size_t)c * total + q] =
                columns ? lut_depthwise_output<KIND, true>(*s, c, q, a, wc, pad_code, prod,
                                                           lut->table, lut->w_bits)
                        : lut_depthwise_output<KIND, false>(*s, c, q, a, wc, pad_code, NULL,
                                                            lut->table, lut->w_bits);
    }
    free(prod);
}

static void emu_lut_depthwise_any(const eng_lut *lut, const eng_conv_shape *s, const uint8_t *a,
                                  const uint8_t *w, uint8_t pad_code, bool columns, int32_t *out)
{
    switch (cuda_lut_kind_of(lut)) {
    case CUDA_LUT_UNSIGNED:
        return emu_lut_depthwise<CUDA_LUT_UNSIGNED>(lut, s, a, w, pad_code, columns, out);
    case CUDA_LUT_SIGNED:
        return emu_lut_depthwise<CUDA_LUT_SIGNED>(lut, s, a, w, pad_code, columns, out);
    case CUDA_LUT_SIGN_MAGNITUDE:
        return emu_lut_depthwise<CUDA_LUT_SIGN_MAGNITUDE>(lut, s, a, w, pad_code, columns, out);
    }
}

// ------------------------------------------------------------------------------------------
// Inputs
// ------------------------------------------------------------------------------------------

static uint8_t *codes_draw(uint64_t *rng, size_t count, int lo, int hi)
{
    uint8_t *p = (uint8_t *)malloc(count ? count : 1);
    for (size_t i = 0; i < count; i++)
        p[i] = (uint8_t)(lo + (int)(test_rand_u64(rng) % (uint64_t)(hi - lo + 1)));
    return p;
}

// A random table of kind `kind` (0 unsigned, 1 signed, 2 sign-magnitude) and its code ranges.
struct emu_table {
    eng_lut lut;
    uint16_t *entries;
    int a_lo, a_hi, w_lo, w_hi;
};

static void table_make(int kind, int wb, uint64_t *rng, emu_table *t)
{
    size_t entries = (size_t)256 << wb;
    t->entries = (uint16_t *)malloc(entries * 2);
    for (size_t i = 0; i < entries; i++)
        t->entries[i] = (uint16_t)test_rand_u64(rng);
    t->lut.table = t->entries;
    t->lut.w_bits = wb;
    t->lut.is_signed = kind == 1;
    t->lut.mode = kind == 2 ? ENG_LUT_SIGN_MAGNITUDE : ENG_LUT_DIRECT;
    t->a_lo = kind == 2 ? -128 : 0;
    t->a_hi = kind == 2 ? 127 : 255;
    t->w_lo = kind == 2 ? (wb == 8 ? -128 : -((1 << wb) - 1)) : 0;
    t->w_hi = kind == 2 && wb == 8 ? 127 : (1 << wb) - 1;
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

START_TEST(test_plan_covers_k_once)
{
    const int resident[] = {1, 7, 132, 528};
    const int shapes[][3] = {{64, 4096, 576}, {32, 8192, 288}, {1, 1, 1}, {7, 1000, 600},
                             {100, 67, 1200}, {300, 300, 33}, {5, 5, 100000}};
    for (size_t r = 0; r < sizeof resident / sizeof resident[0]; r++) {
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            LutGemmWork g;
            const int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
            ck_assert(lut_gemm_plan(m, n, k, resident[r], &g));
            ck_assert_int_eq(g.kchunk % LUT_GEMM_BK, 0);
            ck_assert_int_ge(g.ksplit * g.kchunk, k);           // every product ...
            ck_assert_int_lt((g.ksplit - 1) * g.kchunk, k);     // ... in a non-empty chunk
            ck_assert_int_le(g.ksplit, 64);
            const int tiles = (m + LUT_GEMM_BM - 1) / LUT_GEMM_BM * g.tiles_n;
            ck_assert_int_eq(g.items, tiles * g.ksplit);
            ck_assert_int_eq(g.accumulate, g.ksplit > 1);
        }
    }
    // H100 shared-table case (132 resident blocks): 64 tiles, split in 2 = one wave of 128
    LutGemmWork g;
    ck_assert(lut_gemm_plan(64, 4096, 576, 132, &g));
    ck_assert_int_eq(g.ksplit, 2);
    ck_assert_int_eq(g.items, 128);
}
END_TEST

START_TEST(test_emulated_lut_gemm_bit_exact)
{
    const int kind = _i % 3, resident = _i < 3 ? 132 : 5;
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {32, 128, 32}, {33, 129, 33},
                             {7, 300, 600}, {64, 257, 200}, {40, 67, 1000}};
    uint64_t rng = 100 + (uint64_t)_i;
    for (int wb = 2; wb <= 8; wb += 3) {
        emu_table t;
        table_make(kind, wb, &rng, &t);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
            uint8_t *w = codes_draw(&rng, (size_t)m * k, t.w_lo, t.w_hi);
            uint8_t *a = codes_draw(&rng, (size_t)k * n, t.a_lo, t.a_hi);
            int32_t *ref = (int32_t *)malloc(sizeof(int32_t) * m * n);
            int32_t *out = (int32_t *)malloc(sizeof(int32_t) * m * n);
            memset(out, 0x5A, sizeof(int32_t) * m * n);
            ck_assert_int_eq(eng_kernels_ref()->lut_gemm(&t.lut, m, n, k, w, a, ref), ENG_OK);
            emu_lut_gemm_any(&t.lut, m, n, k, w, LutGemmLoader{a, n}, out, resident);
            for (size_t i = 0; i < (size_t)m * n; i++)
                ck_assert_msg(out[i] == ref[i], "kind %d w_bits %d m=%d n=%d k=%d: out[%zu] = "
                              "%d, reference %d", kind, wb, m, n, k, i, out[i], ref[i]);
            free(w);
            free(a);
            free(ref);
            free(out);
        }
        free(t.entries);
    }
}
END_TEST

START_TEST(test_emulated_lut_conv2d_bit_exact)
{
    const int geos[][10] = {
        /* n c h w kh kw stride pad dil oc */
        {2, 3, 7, 7, 3, 3, 1, 1, 1, 4},
        {3, 16, 9, 8, 3, 3, 2, 1, 1, 33},
        {1, 5, 11, 11, 5, 5, 2, 0, 1, 7},
        {2, 4, 10, 9, 3, 3, 1, 2, 2, 5},
        {4, 24, 6, 6, 1, 1, 1, 0, 1, 40},
    };
    const int kind = _i;
    uint64_t rng = 200 + (uint64_t)_i;
    emu_table t;
    table_make(kind, 6, &rng, &t);
    for (size_t gi = 0; gi < sizeof geos / sizeof geos[0]; gi++) {
        const int *p = geos[gi];
        eng_conv_shape s;
        ck_assert_int_eq(eng_conv_shape_init(&s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                                             p[8]), ENG_OK);
        const int oc = p[9], K = s.c * s.kh * s.kw, P = s.n * s.oh * s.ow;
        uint8_t *x = codes_draw(&rng, (size_t)s.c * s.n * s.h * s.w, t.a_lo, t.a_hi);
        uint8_t *w = codes_draw(&rng, (size_t)oc * K, t.w_lo, t.w_hi);
        uint8_t *cols = (uint8_t *)malloc((size_t)K * P);
        int32_t *ref = (int32_t *)malloc(sizeof(int32_t) * oc * P);
        int32_t *out = (int32_t *)malloc(sizeof(int32_t) * oc * P);
        ck_assert_int_eq(eng_kernels_ref()->im2col_u8(&s, x, x[1], cols), ENG_OK);
        ck_assert_int_eq(eng_kernels_ref()->lut_gemm(&t.lut, oc, P, K, w, cols, ref), ENG_OK);
        emu_lut_gemm_any(&t.lut, oc, P, K, w, LutConvLoader{x, s, x[1]}, out, 132);
        ck_assert_mem_eq(out, ref, sizeof(int32_t) * oc * P);
        for (int j = 0; j < P; j++) { // window sums: conv_column_sums_kernel's element
            int32_t want = 0;
            for (int p = 0; p < K; p++)
                want += cols[(size_t)p * P + j];
            ck_assert_int_eq(lut_conv_column_sum(LutConvLoader{x, s, x[1]}, K, j), want);
        }
        free(x);
        free(w);
        free(cols);
        free(ref);
        free(out);
    }
    free(t.entries);
}
END_TEST

START_TEST(test_emulated_lut_depthwise_bit_exact)
{
    const int geos[][9] = {
        /* n c h w kh kw stride pad dil */
        {2, 3, 7, 7, 3, 3, 1, 1, 1},
        {3, 8, 16, 15, 3, 3, 2, 1, 1},
        {1, 5, 12, 11, 5, 5, 1, 2, 1},
        {2, 4, 10, 10, 3, 3, 1, 2, 2},
        {1, 2, 9, 9, 7, 7, 1, 3, 1},
    };
    const int kind = _i;
    uint64_t rng = 300 + (uint64_t)_i;
    emu_table t;
    table_make(kind, kind == 1 ? 8 : 4, &rng, &t);
    for (size_t gi = 0; gi < sizeof geos / sizeof geos[0]; gi++) {
        const int *p = geos[gi];
        eng_conv_shape s;
        ck_assert_int_eq(eng_conv_shape_init(&s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                                             p[8]), ENG_OK);
        const size_t nx = (size_t)s.c * s.n * s.h * s.w, no = (size_t)s.c * s.n * s.oh * s.ow;
        uint8_t *x = codes_draw(&rng, nx, t.a_lo, t.a_hi);
        uint8_t *w = codes_draw(&rng, (size_t)s.c * s.kh * s.kw, t.w_lo, t.w_hi);
        int32_t *ref = (int32_t *)malloc(sizeof(int32_t) * no);
        int32_t *out = (int32_t *)malloc(sizeof(int32_t) * no);
        ck_assert_int_eq(eng_kernels_ref()->lut_depthwise(&t.lut, &s, x, w, (uint8_t)(gi * 51),
                                                          ref, NULL), ENG_OK);
        for (int columns = 0; columns <= 1; columns++) {
            memset(out, 0x5A, sizeof(int32_t) * no);
            emu_lut_depthwise_any(&t.lut, &s, x, w, (uint8_t)(gi * 51), columns, out);
            ck_assert_mem_eq(out, ref, sizeof(int32_t) * no);
        }
        free(x);
        free(w);
        free(ref);
        free(out);
    }
    free(t.entries);
}
END_TEST

START_TEST(test_emulated_elementwise_bit_exact)
{
    const eng_kernels *r = eng_kernels_ref();
    uint64_t rng = 400;
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 2, 3, 9, 8, 3, 3, 2, 1, 2), ENG_OK);
    const size_t nx = (size_t)s.c * s.n * s.h * s.w;
    const size_t nc = (size_t)s.c * s.kh * s.kw * s.n * s.oh * s.ow;
    float *x = (float *)malloc(nx * 4), *cols = (float *)malloc(nc * 4);
    float *ref = (float *)malloc((nc > nx ? nc : nx) * 4);
    for (size_t i = 0; i < nx; i++)
        x[i] = test_rand_uniform(&rng, -2.0f, 2.0f);
    for (size_t i = 0; i < nc; i++)
        cols[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
    ck_assert_int_eq(r->im2col_f32(&s, x, 0.5f, ref), ENG_OK);
    for (size_t e = 0; e < nc; e++) {
        float v = im2col_element(s, (const float *)x, 0.5f, e);
        ck_assert_mem_eq(&ref[e], &v, 4);
    }
    ck_assert_int_eq(r->col2im_f32(&s, cols, ref), ENG_OK);
    for (size_t e = 0; e < nx; e++) {
        float v = col2im_element(s, cols, e);
        ck_assert_mem_eq(&ref[e], &v, 4);
    }

    uint8_t codes[1];
    for (int i = 0; i < 20000; i++) {
        float v = i % 3 ? test_rand_uniform(&rng, -10.0f, 10.0f)
                        : ((float)(i % 401) - 200.0f + 0.5f) * 0.25f; // exact ties
        ck_assert_int_eq(r->quantize(&v, 1, 0.25f, 3, -128, 127, codes), ENG_OK);
        ck_assert_int_eq(quantize_element(v, 0.25f, 3, -128, 127), codes[0]);
    }

    // dequantize: the element function against the formula written out
    const int m = 3;
    const size_t n = 50;
    int32_t acc[m * n], zw[m] = {3, 0, 250}, wsum[m] = {1000, 0, 77}, asum[n];
    float ws[m] = {0.01f, 0.5f, 1e-3f}, bias[m] = {0.5f, -1.0f, 0.0f};
    for (size_t i = 0; i < m * n; i++)
        acc[i] = (int32_t)(test_rand_u64(&rng) % 2000001) - 1000000;
    for (size_t j = 0; j < n; j++)
        asum[j] = (int32_t)(test_rand_u64(&rng) % 5000);
    const eng_qparams act = {0.02f, 11, 0, 255};
    eng_qparams wq[m];
    for (int o = 0; o < m; o++)
        wq[o] = eng_qparams{ws[o], zw[o], 0, 255};
    for (size_t e = 0; e < m * n; e++) {
        int o = (int)(e / n);
        int64_t v = acc[e] + (int64_t)27 * 11 * zw[o] - 11 * (int64_t)wsum[o] -
                    (int64_t)zw[o] * asum[e % n];
        float want = (float)((double)0.02f * ws[o] * (double)v) + bias[o];
        float got = dequantize_element(true, act, wq, n, 27, acc, asum, 0, wsum, bias, e);
        ck_assert_mem_eq(&got, &want, 4);
    }
    free(x);
    free(cols);
    free(ref);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cuda_emu");
    TCase *tc = tcase_create("host");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_plan_covers_k_once);
    tcase_add_loop_test(tc, test_emulated_lut_gemm_bit_exact, 0, 6);
    tcase_add_loop_test(tc, test_emulated_lut_conv2d_bit_exact, 0, 3);
    tcase_add_loop_test(tc, test_emulated_lut_depthwise_bit_exact, 0, 3);
    tcase_add_test(tc, test_emulated_elementwise_bit_exact);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
