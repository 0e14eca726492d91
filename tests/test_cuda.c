/*
 * test_cuda.c - the CUDA backend (eng_cuda.h) against the scalar reference kernels: table
 * GEMM, implicit convolution and depthwise bit for bit on unsigned, signed, 8xN and
 * sign-magnitude tables and on shapes with ragged tails; im2col/col2im, quantization and
 * dequantization bit for bit; cuBLAS sgemm to float rounding; and the "no device" answers.
 * Networks on the device (eng_device.h) against the same networks on the CPU: LeNet, ResNet-8
 * and a narrow MobileNetV2 in float (forward, loss, gradients, SGD step, running statistics to
 * float tolerance) and LeNet quantized through an approximate multiplier (logits bit for bit:
 * its layers are integer table sums, exact dequantization, ReLU, max pooling).
 *
 * Without a usable GPU (CPU-only CI, or a build without CUDA) each device test prints why it
 * is skipped and returns; the no-device test then checks that the API refuses cleanly with
 * ENG_ERR_UNSUPPORTED and a message. CUDA is initialised only inside the forked test
 * processes, never in the parent (a CUDA context does not survive fork).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/net_ops.h"
#include "eng_cuda.h"
#include "eng_device.h"
#include "eng_mul.h"
#include "eng_ops.h"
#include "eng_train.h"
#include "eng_zoo.h"
#include "testutil.h"

/* ------------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------------- */

/* True when a device is usable; otherwise prints why `test` is skipped. */
static bool gpu_present(const char *test)
{
    if (eng_cuda_available() == ENG_OK)
        return true;
    size_t len = strlen(test); /* Check names the function <test>_fn */
    if (len > 3 && strcmp(test + len - 3, "_fn") == 0)
        len -= 3;
    fprintf(stderr, "test_cuda: %.*s skipped: %s\n", (int)len, test, eng_last_error());
    return false;
}

#define SKIP_WITHOUT_GPU()            \
    do {                              \
        if (!gpu_present(__func__))   \
            return;                   \
    } while (0)

#define ASSERT_OK(call) ck_assert_msg((call) == ENG_OK, "%s: %s", #call, eng_last_error())

/* The device kernels, with the default table placement (tests may share a process when run
 * with CK_FORK=no). */
static const eng_cuda_kernels *kernels(void)
{
    const eng_cuda_kernels *k = NULL;
    ASSERT_OK(eng_cuda_kernels_get(&k));
    ASSERT_OK(eng_cuda_set_lut_place(ENG_CUDA_LUT_AUTO));
    return k;
}

/* A device copy of `bytes` of host memory. */
static void *dev_put(const void *host, size_t bytes)
{
    void *d = NULL;
    ASSERT_OK(eng_cuda_malloc(bytes, &d));
    ASSERT_OK(eng_cuda_copy_to_device(d, host, bytes));
    return d;
}

/* A device buffer of `bytes` filled with the byte 0xA5 (a sentinel for unwritten output). */
static void *dev_dirty(size_t bytes)
{
    void *d = NULL;
    ASSERT_OK(eng_cuda_malloc(bytes, &d));
    ASSERT_OK(eng_cuda_memset(d, 0xA5, bytes));
    return d;
}

/* A host copy of a device buffer (malloc()ed). */
static void *dev_get(const void *dev, size_t bytes)
{
    void *h = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(h);
    ASSERT_OK(eng_cuda_copy_to_host(h, dev, bytes));
    return h;
}

/* Codes drawn from [lo, hi], stored as bytes (two's complement for negative values). */
static uint8_t *codes_draw(uint64_t *rng, size_t count, int lo, int hi)
{
    uint8_t *p = malloc(count ? count : 1);
    for (size_t i = 0; i < count; i++)
        p[i] = (uint8_t)(lo + (int)(test_rand_u64(rng) % (uint64_t)(hi - lo + 1)));
    return p;
}

/* The kinds of table every table kernel is run with. */
enum table_kind {
    TABLE_UNSIGNED_RANDOM,  /* random uint16 entries: catches any index mix-up */
    TABLE_SIGNED_RANDOM,    /* random int16 entries */
    TABLE_SIGN_MAGNITUDE,   /* random unsigned entries read in sign-magnitude mode */
    TABLE_EVOAPPROX_U8,     /* a shipped 8x8 unsigned multiplier */
    TABLE_EVOAPPROX_S8,     /* a shipped 8x8 signed multiplier */
    TABLE_EVOAPPROX_8X4,    /* a shipped 8x4 multiplier */
    TABLE_KIND_COUNT
};

typedef struct test_table {
    eng_lut  host;          /* table in host memory */
    uint16_t *entries;
    int      a_lo, a_hi;    /* activation code values to draw (codes_draw) */
    int      w_lo, w_hi;    /* weight code values to draw */
} test_table;

static void table_make(enum table_kind kind, int random_w_bits, uint64_t *rng, test_table *t)
{
    static const char *files[] = {
        [TABLE_EVOAPPROX_U8] = "8x8_unsigned/mul8u_DM1.bin",
        [TABLE_EVOAPPROX_S8] = "8x8_signed/mul8s_1KR3.bin",
        [TABLE_EVOAPPROX_8X4] = "8xN_unsigned/8x4/mul8x4u_0S7.bin",
    };
    int wb = random_w_bits;
    bool is_signed = false;
    eng_lut_mode mode = ENG_LUT_DIRECT;
    if (kind == TABLE_EVOAPPROX_U8 || kind == TABLE_EVOAPPROX_S8)
        wb = 8;
    else if (kind == TABLE_EVOAPPROX_8X4)
        wb = 4;
    if (kind == TABLE_SIGNED_RANDOM || kind == TABLE_EVOAPPROX_S8)
        is_signed = true;
    if (kind == TABLE_SIGN_MAGNITUDE)
        mode = ENG_LUT_SIGN_MAGNITUDE;
    size_t entries = (size_t)256 << wb;
    if (kind >= TABLE_EVOAPPROX_U8) {
        size_t size;
        t->entries = test_read_file(test_luts_path(files[kind]), &size);
        ck_assert_uint_eq(size, entries * 2);
    } else {
        t->entries = malloc(entries * 2);
        for (size_t i = 0; i < entries; i++)
            t->entries[i] = (uint16_t)test_rand_u64(rng);
    }
    t->host = (eng_lut){.table = t->entries, .w_bits = wb, .is_signed = is_signed, .mode = mode};
    t->a_lo = 0;
    t->a_hi = 255;
    t->w_lo = 0;
    t->w_hi = (1 << wb) - 1;        /* direct mode: any byte indexes a row, w any column */
    if (mode == ENG_LUT_SIGN_MAGNITUDE) { /* int8 codes with |w| < 2^wb */
        t->a_lo = -128;
        t->a_hi = 127;
        t->w_lo = wb == 8 ? -128 : -((1 << wb) - 1);
        t->w_hi = wb == 8 ? 127 : (1 << wb) - 1;
    }
}

static const char *table_kind_name(enum table_kind k)
{
    static const char *names[] = {"unsigned-random", "signed-random", "sign-magnitude",
                                  "mul8u_DM1", "mul8s_1KR3", "mul8x4u_0S7"};
    return names[k];
}

/* ------------------------------------------------------------------------------------------
 * No device / bad arguments
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_no_device_answers_unsupported)
{
    if (eng_cuda_device_count() > 0) {
        /* A GPU is here: the API must work and still refuse a device that does not exist. */
        ASSERT_OK(eng_cuda_available());
        eng_cuda_device_info info;
        ASSERT_OK(eng_cuda_device_info_get(0, &info));
        ck_assert(info.name[0] != '\0');
        ck_assert(info.total_bytes > 0 && info.sm_count > 0 && info.cc_major >= 7);
        fprintf(stderr, "test_cuda: device 0 is %s (compute %d.%d, %d SMs, %zu MiB, %zu KiB "
                "shared memory per block)\n", info.name, info.cc_major, info.cc_minor,
                info.sm_count, info.total_bytes >> 20, info.smem_per_block >> 10);
        int n = eng_cuda_device_count();
        ck_assert_int_eq(eng_cuda_device_info_get(n, &info), ENG_ERR_ARG);
        ck_assert_int_eq(eng_cuda_init(n), ENG_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(eng_last_error(), "does not exist"));
        return;
    }
    fprintf(stderr, "test_cuda: no CUDA device, checking the refusals only\n");
    ck_assert_int_eq(eng_cuda_available(), ENG_ERR_UNSUPPORTED);
    const char *why = eng_last_error();
    ck_assert_msg(strstr(why, eng_cuda_compiled() ? "no CUDA device" : "built without CUDA"),
                  "unexpected message: %s", why);

    static const eng_cuda_kernels sentinel;
    const eng_cuda_kernels *k = &sentinel; /* must stay unchanged */
    ck_assert_int_eq(eng_cuda_kernels_get(&k), ENG_ERR_UNSUPPORTED);
    ck_assert_ptr_eq(k, &sentinel);
    ck_assert(eng_last_error()[0] != '\0');

    void *p = &p;
    ck_assert_int_eq(eng_cuda_malloc(64, &p), ENG_ERR_UNSUPPORTED);
    ck_assert_ptr_eq(p, &p);
    ck_assert_int_eq(eng_cuda_init(0), ENG_ERR_UNSUPPORTED);
    eng_cuda_device_info info = {.index = -7};
    ck_assert_int_eq(eng_cuda_device_info_get(0, &info), ENG_ERR_UNSUPPORTED);
    ck_assert_int_eq(info.index, -7);
    uint16_t table[1024] = {0};
    eng_lut host = {.table = table, .w_bits = 2}, dev = {0};
    ck_assert_int_eq(eng_cuda_lut_upload(&host, &dev), ENG_ERR_UNSUPPORTED);
    ck_assert_ptr_null(dev.table);
    ck_assert_int_eq(eng_cuda_synchronize(), ENG_ERR_UNSUPPORTED);
    ck_assert_int_eq(eng_cuda_copy_to_host(table, table, 8), ENG_ERR_UNSUPPORTED);
    eng_cuda_free(NULL);
    eng_cuda_shutdown();
}
END_TEST

START_TEST(test_bad_arguments_rejected)
{
    SKIP_WITHOUT_GPU();
    const eng_cuda_kernels *k = kernels();
    ck_assert_str_eq(k->name, "cuda");
    uint16_t table[1024] = {0};
    eng_lut host = {.table = table, .w_bits = 9}, dev = {0};
    ck_assert_int_eq(eng_cuda_lut_upload(&host, &dev), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "not 2..8"));
    host.w_bits = 2;
    ASSERT_OK(eng_cuda_lut_upload(&host, &dev));
    ck_assert_int_eq(k->lut_gemm(&dev, -1, 4, 4, NULL, NULL, NULL), ENG_ERR_ARG);
    ck_assert_int_eq(k->lut_gemm(&dev, 4, 4, 4, NULL, NULL, NULL), ENG_ERR_ARG);
    eng_conv_shape s = {.n = 1, .c = 1, .h = 2, .w = 2, .kh = 3, .kw = 3, .stride = 1,
                        .dilation = 1, .oh = 1, .ow = 1};
    uint8_t *x = dev_dirty(64);
    ck_assert_int_eq(k->im2col_u8(&s, x, 0, x), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_cuda_set_lut_place(ENG_CUDA_LUT_PLACE_COUNT), ENG_ERR_ARG);
    ck_assert_int_eq(k->quantize((const float *)x, 4, 0.0f, 0, 0, 255, x), ENG_ERR_ARG);
    int n = eng_cuda_device_count();
    ck_assert_int_eq(eng_cuda_init(n), ENG_ERR_ARG); /* context exists on device 0 */
    eng_cuda_free(x);
    eng_cuda_lut_free(&dev);
    ck_assert_ptr_null(dev.table);
    ASSERT_OK(eng_cuda_synchronize());
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Table GEMM and implicit convolution
 * ---------------------------------------------------------------------------------------- */

static const int gemm_shapes[][3] = {
    /* m, n, k: tails in every dimension, K chunks, the perf shapes' proportions */
    {1, 1, 1}, {3, 5, 7}, {32, 128, 32}, {33, 129, 33}, {7, 1000, 600},
    {64, 517, 576}, {100, 67, 1200}, {32, 2048, 288},
};

static void check_lut_gemm(enum table_kind kind, eng_cuda_lut_place place)
{
    const eng_cuda_kernels *k = kernels();
    ASSERT_OK(eng_cuda_set_lut_place(place));
    eng_cuda_device_info info;
    ASSERT_OK(eng_cuda_device_info_get(0, &info));
    uint64_t rng = 1000 + (uint64_t)kind * 10 + (uint64_t)place;
    for (int wb = 2; wb <= 8; wb += 3) {
        test_table t;
        table_make(kind, wb, &rng, &t);
        eng_lut dlut;
        ASSERT_OK(eng_cuda_lut_upload(&t.host, &dlut));
        for (size_t si = 0; si < sizeof gemm_shapes / sizeof gemm_shapes[0]; si++) {
            const int m = gemm_shapes[si][0], n = gemm_shapes[si][1], kk = gemm_shapes[si][2];
            uint8_t *w = codes_draw(&rng, (size_t)m * kk, t.w_lo, t.w_hi);
            uint8_t *a = codes_draw(&rng, (size_t)kk * n, t.a_lo, t.a_hi);
            int32_t *ref = malloc(sizeof(int32_t) * m * n);
            ASSERT_OK(eng_kernels_ref()->lut_gemm(&t.host, m, n, kk, w, a, ref));
            uint8_t *dw = dev_put(w, (size_t)m * kk), *da = dev_put(a, (size_t)kk * n);
            size_t out_bytes = sizeof(int32_t) * ((size_t)m * n + 64); /* + sentinel */
            int32_t *dout = dev_dirty(out_bytes);
            eng_status st = k->lut_gemm(&dlut, m, n, kk, dw, da, dout);
            size_t table_bytes = (size_t)512 << t.host.w_bits;
            if (place == ENG_CUDA_LUT_SHARED && st == ENG_ERR_UNSUPPORTED) {
                /* allowed only where the table cannot fit */
                ck_assert_uint_gt(table_bytes + 5120, info.smem_per_block);
            } else {
                ck_assert_msg(st == ENG_OK, "%s", eng_last_error());
                int32_t *out = dev_get(dout, out_bytes);
                for (size_t i = 0; i < (size_t)m * n; i++)
                    ck_assert_msg(out[i] == ref[i], "%s w_bits %d place %d m=%d n=%d k=%d: "
                                  "out[%zu] = %d, reference %d", table_kind_name(kind),
                                  t.host.w_bits, (int)place, m, n, kk, i, out[i], ref[i]);
                for (size_t i = (size_t)m * n; i < (size_t)m * n + 64; i++)
                    ck_assert_int_eq(out[i], (int32_t)0xA5A5A5A5);
                free(out);
            }
            eng_cuda_free(dw);
            eng_cuda_free(da);
            eng_cuda_free(dout);
            free(w);
            free(a);
            free(ref);
        }
        eng_cuda_lut_free(&dlut);
        free(t.entries);
        if (kind >= TABLE_EVOAPPROX_U8)
            break; /* a shipped table has one width */
    }
}

START_TEST(test_lut_gemm_matches_reference)
{
    SKIP_WITHOUT_GPU();
    check_lut_gemm((enum table_kind)_i, ENG_CUDA_LUT_AUTO);
}
END_TEST

START_TEST(test_lut_gemm_table_placements)
{
    SKIP_WITHOUT_GPU();
    check_lut_gemm(_i % 2 ? TABLE_SIGN_MAGNITUDE : TABLE_UNSIGNED_RANDOM,
                   _i < 2 ? ENG_CUDA_LUT_GLOBAL : ENG_CUDA_LUT_SHARED);
}
END_TEST

static const int conv_geos[][10] = {
    /* n c h w kh kw stride pad dil oc */
    {2, 3, 7, 7, 3, 3, 1, 1, 1, 4},
    {3, 16, 9, 8, 3, 3, 2, 1, 1, 33},
    {1, 5, 11, 11, 5, 5, 2, 0, 1, 7},
    {2, 4, 10, 9, 3, 3, 1, 2, 2, 5},
    {4, 24, 6, 6, 1, 1, 1, 0, 1, 40},
    {2, 8, 32, 32, 3, 3, 1, 1, 1, 16},
};

/* Also checks conv_column_sums on the same input (it needs no table). */
START_TEST(test_lut_conv2d_equals_im2col_gemm)
{
    SKIP_WITHOUT_GPU();
    const eng_cuda_kernels *k = kernels();
    enum table_kind kind = (enum table_kind)_i;
    uint64_t rng = 2000 + (uint64_t)_i;
    test_table t;
    table_make(kind, 6, &rng, &t);
    eng_lut dlut;
    ASSERT_OK(eng_cuda_lut_upload(&t.host, &dlut));
    for (size_t g = 0; g < sizeof conv_geos / sizeof conv_geos[0]; g++) {
        const int *p = conv_geos[g];
        eng_conv_shape s;
        ASSERT_OK(eng_conv_shape_init(&s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]));
        const int oc = p[9], K = s.c * s.kh * s.kw, P = s.n * s.oh * s.ow;
        size_t nx = (size_t)s.c * s.n * s.h * s.w;
        uint8_t *x = codes_draw(&rng, nx, t.a_lo, t.a_hi);
        uint8_t *w = codes_draw(&rng, (size_t)oc * K, t.w_lo, t.w_hi);
        uint8_t pad = x[0];
        uint8_t *cols = malloc((size_t)K * P);
        int32_t *ref = malloc(sizeof(int32_t) * oc * P);
        ASSERT_OK(eng_kernels_ref()->im2col_u8(&s, x, pad, cols));
        ASSERT_OK(eng_kernels_ref()->lut_gemm(&t.host, oc, P, K, w, cols, ref));
        uint8_t *dx = dev_put(x, nx), *dw = dev_put(w, (size_t)oc * K);
        int32_t *dout = dev_dirty(sizeof(int32_t) * oc * P);
        ASSERT_OK(k->lut_conv2d(&dlut, &s, oc, dx, pad, dw, dout));
        int32_t *out = dev_get(dout, sizeof(int32_t) * oc * P);
        for (size_t i = 0; i < (size_t)oc * P; i++)
            ck_assert_msg(out[i] == ref[i], "%s geometry %zu: out[%zu] = %d, reference %d",
                          table_kind_name(kind), g, i, out[i], ref[i]);
        /* the window sums of the same columns (asymmetric zero-point term) */
        int32_t *dsums = dev_dirty(sizeof(int32_t) * P);
        ASSERT_OK(k->conv_column_sums(&s, dx, pad, dsums));
        int32_t *sums = dev_get(dsums, sizeof(int32_t) * P);
        for (int j = 0; j < P; j++) {
            int32_t want = 0;
            for (int p = 0; p < K; p++)
                want += cols[(size_t)p * P + j];
            ck_assert_int_eq(sums[j], want);
        }
        eng_cuda_free(dsums);
        free(sums);
        eng_cuda_free(dx);
        eng_cuda_free(dw);
        eng_cuda_free(dout);
        free(x);
        free(w);
        free(cols);
        free(ref);
        free(out);
    }
    eng_cuda_lut_free(&dlut);
    free(t.entries);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Depthwise
 * ---------------------------------------------------------------------------------------- */

static const int dw_geos[][9] = {
    /* n c h w kh kw stride pad dil */
    {2, 3, 7, 7, 3, 3, 1, 1, 1},
    {3, 32, 16, 16, 3, 3, 2, 1, 1},
    {1, 5, 12, 11, 5, 5, 1, 2, 1},
    {2, 4, 10, 10, 3, 3, 1, 2, 2},
    {1, 2, 9, 9, 7, 7, 1, 3, 1},
    {1, 2, 20, 20, 17, 17, 1, 8, 1}, /* 289 taps: more than any device's column table */
    {64, 1, 8, 8, 3, 3, 1, 1, 1},    /* one channel, many slices */
};

START_TEST(test_lut_depthwise_matches_reference)
{
    SKIP_WITHOUT_GPU();
    const eng_cuda_kernels *k = kernels();
    enum table_kind kind = (enum table_kind)_i;
    uint64_t rng = 3000 + (uint64_t)_i;
    test_table t;
    table_make(kind, 5, &rng, &t);
    eng_lut dlut;
    ASSERT_OK(eng_cuda_lut_upload(&t.host, &dlut));
    for (size_t g = 0; g < sizeof dw_geos / sizeof dw_geos[0]; g++) {
        const int *p = dw_geos[g];
        eng_conv_shape s;
        ASSERT_OK(eng_conv_shape_init(&s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]));
        size_t nx = (size_t)s.c * s.n * s.h * s.w, no = (size_t)s.c * s.n * s.oh * s.ow;
        size_t nw = (size_t)s.c * s.kh * s.kw;
        uint8_t *x = codes_draw(&rng, nx, t.a_lo, t.a_hi);
        uint8_t *w = codes_draw(&rng, nw, t.w_lo, t.w_hi);
        uint8_t pad = (uint8_t)(g * 37);
        int32_t *ref = malloc(sizeof(int32_t) * no), *ref_sums = malloc(sizeof(int32_t) * no);
        ASSERT_OK(eng_kernels_ref()->lut_depthwise(&t.host, &s, x, w, pad, ref, ref_sums));
        uint8_t *dx = dev_put(x, nx), *dw = dev_put(w, nw);
        int32_t *dout = dev_dirty(sizeof(int32_t) * no), *dsums = dev_dirty(sizeof(int32_t) * no);
        ASSERT_OK(k->lut_depthwise(&dlut, &s, dx, dw, pad, dout, g % 2 ? dsums : NULL));
        int32_t *out = dev_get(dout, sizeof(int32_t) * no);
        for (size_t i = 0; i < no; i++)
            ck_assert_msg(out[i] == ref[i], "%s geometry %zu: out[%zu] = %d, reference %d",
                          table_kind_name(kind), g, i, out[i], ref[i]);
        if (g % 2) { /* the window sums, on every other geometry */
            int32_t *sums = dev_get(dsums, sizeof(int32_t) * no);
            ck_assert_mem_eq(sums, ref_sums, sizeof(int32_t) * no);
            free(sums);
        }
        eng_cuda_free(dx);
        eng_cuda_free(dw);
        eng_cuda_free(dout);
        eng_cuda_free(dsums);
        free(x);
        free(w);
        free(ref);
        free(ref_sums);
        free(out);
    }
    eng_cuda_lut_free(&dlut);
    free(t.entries);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * im2col / col2im, quantization, dequantization
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_im2col_col2im_bit_exact)
{
    SKIP_WITHOUT_GPU();
    const eng_cuda_kernels *k = kernels();
    const eng_kernels *r = eng_kernels_ref();
    uint64_t rng = 4000;
    for (size_t g = 0; g < sizeof dw_geos / sizeof dw_geos[0]; g++) {
        const int *p = dw_geos[g];
        eng_conv_shape s;
        ASSERT_OK(eng_conv_shape_init(&s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]));
        size_t nx = (size_t)s.c * s.n * s.h * s.w;
        size_t nc = (size_t)s.c * s.kh * s.kw * s.n * s.oh * s.ow;
        float *x = malloc(nx * 4), *cf = malloc(nc * 4), *dxr = malloc(nx * 4);
        float *cin = malloc(nc * 4);
        for (size_t i = 0; i < nx; i++)
            x[i] = test_rand_uniform(&rng, -2.0f, 2.0f);
        for (size_t i = 0; i < nc; i++)
            cin[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
        uint8_t *xu = codes_draw(&rng, nx, 0, 255), *cu = malloc(nc);
        ASSERT_OK(r->im2col_f32(&s, x, 0.25f, cf));
        ASSERT_OK(r->im2col_u8(&s, xu, 19, cu));
        ASSERT_OK(r->col2im_f32(&s, cin, dxr));

        float *dx = dev_put(x, nx * 4), *dcin = dev_put(cin, nc * 4);
        uint8_t *dxu = dev_put(xu, nx);
        float *dcf = dev_dirty(nc * 4), *ddx = dev_dirty(nx * 4);
        uint8_t *dcu = dev_dirty(nc);
        ASSERT_OK(k->im2col_f32(&s, dx, 0.25f, dcf));
        ASSERT_OK(k->im2col_u8(&s, dxu, 19, dcu));
        ASSERT_OK(k->col2im_f32(&s, dcin, ddx));
        float *gcf = dev_get(dcf, nc * 4), *gdx = dev_get(ddx, nx * 4);
        uint8_t *gcu = dev_get(dcu, nc);
        ck_assert_mem_eq(gcf, cf, nc * 4);
        ck_assert_mem_eq(gcu, cu, nc);
        ck_assert_mem_eq(gdx, dxr, nx * 4);
        eng_cuda_free(dx);
        eng_cuda_free(dcin);
        eng_cuda_free(dxu);
        eng_cuda_free(dcf);
        eng_cuda_free(ddx);
        eng_cuda_free(dcu);
        free(x);
        free(cf);
        free(dxr);
        free(cin);
        free(xu);
        free(cu);
        free(gcf);
        free(gdx);
        free(gcu);
    }
}
END_TEST

START_TEST(test_quantize_bit_exact)
{
    SKIP_WITHOUT_GPU();
    const eng_cuda_kernels *k = kernels();
    const size_t n = 100003;
    float *x = malloc(n * 4);
    uint64_t rng = 5000;
    const float scale = 0.037f;
    for (size_t i = 0; i < n; i++) {
        switch (i % 5) {
        case 0: /* exact ties: round half to even */
            x[i] = ((float)(int)(test_rand_u64(&rng) % 600) - 300.0f + 0.5f) * 0.5f;
            break;
        case 1:
            x[i] = test_rand_uniform(&rng, -12.0f, 12.0f); /* clamps at both ends */
            break;
        default:
            x[i] = test_rand_uniform(&rng, -4.0f, 4.0f);
        }
    }
    x[3] = NAN;
    x[4] = INFINITY;
    x[7] = -INFINITY;
    float *dxp = dev_put(x, n * 4);
    uint8_t *dcodes = dev_dirty(n), *ref = malloc(n);
    const int32_t params[][4] = {{3, 0, 255, 0}, {0, -127, 127, 1}, {-5, -128, 127, 0},
                                 {1, 0, 15, 2}};
    for (size_t pi = 0; pi < sizeof params / sizeof params[0]; pi++) {
        float sc = params[pi][3] == 1 ? 0.5f : params[pi][3] == 2 ? 0.25f : scale;
        ASSERT_OK(eng_kernels_ref()->quantize(x, n, sc, params[pi][0], params[pi][1],
                                              params[pi][2], ref));
        ASSERT_OK(k->quantize(dxp, n, sc, params[pi][0], params[pi][1], params[pi][2], dcodes));
        uint8_t *out = dev_get(dcodes, n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(out[i] == ref[i], "params %zu x=%a: code %d, reference %d", pi,
                          (double)x[i], out[i], ref[i]);
        free(out);
    }
    eng_cuda_free(dxp);
    eng_cuda_free(dcodes);
    free(x);
    free(ref);
}
END_TEST

START_TEST(test_column_sums_and_dequantize)
{
    SKIP_WITHOUT_GPU();
    const eng_cuda_kernels *k = kernels();
    uint64_t rng = 6000;
    const int m = 37, kk = 291;
    const size_t n = 1029;
    uint8_t *cols = codes_draw(&rng, (size_t)kk * n, 0, 255);
    int32_t *acc = malloc(sizeof(int32_t) * m * n), *wsum = malloc(sizeof(int32_t) * m);
    int32_t *zw = malloc(sizeof(int32_t) * m), *asum = malloc(sizeof(int32_t) * n);
    float *ws = malloc(sizeof(float) * m), *bias = malloc(sizeof(float) * m);
    for (size_t i = 0; i < (size_t)m * n; i++)
        acc[i] = (int32_t)(test_rand_u64(&rng) % 20000001) - 10000000;
    for (int o = 0; o < m; o++) {
        wsum[o] = (int32_t)(test_rand_u64(&rng) % 60000);
        zw[o] = (int32_t)(test_rand_u64(&rng) % 256);
        ws[o] = test_rand_uniform(&rng, 1e-4f, 1e-2f);
        bias[o] = test_rand_uniform(&rng, -1.0f, 1.0f);
    }
    for (size_t j = 0; j < n; j++) { /* independent reference: column sums */
        int32_t s = 0;
        for (int p = 0; p < kk; p++)
            s += cols[(size_t)p * n + j];
        asum[j] = s;
    }
    uint8_t *dcols = dev_put(cols, (size_t)kk * n);
    int32_t *dasum = dev_dirty(sizeof(int32_t) * n);
    ASSERT_OK(k->column_sums(dcols, kk, n, dasum));
    int32_t *gasum = dev_get(dasum, sizeof(int32_t) * n);
    ck_assert_mem_eq(gasum, asum, sizeof(int32_t) * n);

    /* the device's one dequantization (the quantized layers' piece, as approx_dequantize) */
    const cuda_net_ops *ops;
    ASSERT_OK(cuda_net_ops_get(&ops));
    eng_qparams *wq = malloc(sizeof *wq * m);
    for (int o = 0; o < m; o++) wq[o] = (eng_qparams){ws[o], zw[o], 0, 255};
    int32_t *dacc = dev_put(acc, sizeof(int32_t) * m * n), *dwsum = dev_put(wsum, 4 * m);
    eng_qparams *dwq = dev_put(wq, sizeof *wq * m);
    float *dbias = dev_put(bias, 4 * m);
    float *dy = dev_dirty(sizeof(float) * m * n), *y = malloc(sizeof(float) * m * n);
    const eng_qparams act = {0.0123f, 41, 0, 255};
    const float act_scale = act.scale;
    const int32_t za = act.zero_point;
    for (int asym = 0; asym <= 1; asym++) {
        for (int o = 0; o < m; o++) { /* the formula of approx_dequantize, written out */
            double sc = (double)act_scale * ws[o];
            for (size_t p = 0; p < n; p++) {
                int64_t v = acc[(size_t)o * n + p];
                if (asym)
                    v += (int64_t)kk * za * zw[o] - (int64_t)za * wsum[o] - (int64_t)zw[o] * asum[p];
                y[(size_t)o * n + p] = (float)(sc * (double)v) + (asym ? bias[o] : 0.0f);
            }
        }
        ASSERT_OK(ops->dequantize(asym, &act, dwq, m, n, kk, dacc, dasum, 0, dwsum,
                                  asym ? dbias : NULL, NULL, dy));
        float *gy = dev_get(dy, sizeof(float) * m * n);
        ck_assert_mem_eq(gy, y, sizeof(float) * m * n);
        free(gy);
    }
    eng_cuda_free(dcols);
    eng_cuda_free(dasum);
    eng_cuda_free(dacc);
    eng_cuda_free(dwsum);
    eng_cuda_free(dwq);
    eng_cuda_free(dbias);
    eng_cuda_free(dy);
    free(cols);
    free(acc);
    free(wsum);
    free(zw);
    free(asum);
    free(ws);
    free(bias);
    free(wq);
    free(gasum);
    free(y);
}
END_TEST

/* Hard swish on the device equals the CPU definition bit for bit, forward and backward, at the
 * kinks (-3, 3) and between. */
START_TEST(test_hardswish_bit_exact)
{
    SKIP_WITHOUT_GPU();
    const cuda_net_ops *ops;
    ASSERT_OK(cuda_net_ops_get(&ops));
    enum { N = 4099 };
    uint64_t rng = 7000;
    float *x = malloc(sizeof(float) * N), *dy = malloc(sizeof(float) * N);
    float *y = malloc(sizeof(float) * N), *dx = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        x[i] = i % 4 == 0 ? (float)(i % 16) / 2.0f - 4.0f : test_rand_uniform(&rng, -5.0f, 5.0f);
        dy[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
    }
    eng_hardswish_forward(N, x, y);
    eng_hardswish_backward(N, x, dy, dx);
    float *d_x = dev_put(x, sizeof(float) * N), *d_dy = dev_put(dy, sizeof(float) * N);
    float *d_y = dev_dirty(sizeof(float) * N), *d_dx = dev_dirty(sizeof(float) * N);
    ASSERT_OK(ops->hardswish_forward(N, d_x, d_y));
    ASSERT_OK(ops->hardswish_backward(N, d_x, d_dy, d_dx));
    float *gy = dev_get(d_y, sizeof(float) * N), *gdx = dev_get(d_dx, sizeof(float) * N);
    ck_assert_mem_eq(gy, y, sizeof(float) * N);
    ck_assert_mem_eq(gdx, dx, sizeof(float) * N);
    eng_cuda_free(d_x);
    eng_cuda_free(d_dy);
    eng_cuda_free(d_y);
    eng_cuda_free(d_dx);
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(gy);
    free(gdx);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * sgemm (cuBLAS)
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_sgemm_matches_reference)
{
    SKIP_WITHOUT_GPU();
    const eng_cuda_kernels *k = kernels();
    const bool ta = _i & 1, tb = _i & 2;
    const int shapes[][3] = {{1, 1, 1}, {17, 33, 65}, {64, 300, 576}, {5, 7, 0}, {4, 3, 0}};
    uint64_t rng = 7000 + (uint64_t)_i;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int m = shapes[si][0], n = shapes[si][1], kk = shapes[si][2];
        const int lda = (ta ? m : kk) + 3, ldb = (tb ? kk : n) + 1, ldc = n + 2;
        const size_t na = (size_t)(ta ? kk : m) * lda + 1, nb = (size_t)(tb ? n : kk) * ldb + 1;
        const size_t nc = (size_t)m * ldc;
        float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4), *ref = malloc(nc * 4);
        for (size_t i = 0; i < na; i++)
            a[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
        for (size_t i = 0; i < nb; i++)
            b[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
        for (size_t i = 0; i < nc; i++)
            c[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
        memcpy(ref, c, nc * 4);
        const float alpha = 0.75f, beta = si % 2 ? 0.0f : -0.5f;
        ASSERT_OK(eng_kernels_ref()->sgemm(ta, tb, m, n, kk, alpha, a, lda, b, ldb, beta, ref,
                                           ldc));
        float *da = dev_put(a, na * 4), *db = dev_put(b, nb * 4), *dc = dev_put(c, nc * 4);
        ASSERT_OK(k->sgemm(ta, tb, m, n, kk, alpha, da, lda, db, ldb, beta, dc, ldc));
        float *out = dev_get(dc, nc * 4);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < ldc; j++) {
                size_t e = (size_t)i * ldc + j;
                if (j >= n) { /* padding between rows is not touched */
                    ck_assert_mem_eq(&out[e], &c[e], 4);
                    continue;
                }
                /* error bound: a few ulps of sum |alpha a b| + |beta c| */
                double mag = fabs((double)beta * c[e]);
                for (int p = 0; p < kk; p++)
                    mag += fabs(alpha * (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                                (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]));
                ck_assert_msg(fabs((double)out[e] - ref[e]) <= 1e-5 * mag + 1e-30,
                              "m=%d n=%d k=%d ta=%d tb=%d: c[%d][%d] = %.9g, reference %.9g",
                              m, n, kk, ta, tb, i, j, (double)out[e], (double)ref[e]);
            }
        }
        eng_cuda_free(da);
        eng_cuda_free(db);
        eng_cuda_free(dc);
        free(a);
        free(b);
        free(c);
        free(ref);
        free(out);
    }
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Networks on the device
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_device_names_and_fallback)
{
    eng_device d = ENG_DEVICE_COUNT;
    ASSERT_OK(eng_device_parse("cpu", &d));
    ck_assert_int_eq(d, ENG_DEVICE_CPU);
    ASSERT_OK(eng_device_parse("cuda", &d));
    ck_assert_int_eq(d, ENG_DEVICE_CUDA);
    ck_assert_int_eq(eng_device_parse("gpu", &d), ENG_ERR_ARG);
    ck_assert_int_eq(d, ENG_DEVICE_CUDA); /* unchanged on error */
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "expected cpu or cuda"));
    ck_assert_str_eq(eng_device_name(ENG_DEVICE_CPU), "cpu");
    ck_assert_str_eq(eng_device_name(ENG_DEVICE_CUDA), "cuda");
    ck_assert_str_eq(eng_device_name(ENG_DEVICE_COUNT), "?");
    ASSERT_OK(eng_device_resolve(ENG_DEVICE_CPU, &d));
    ck_assert_int_eq(d, ENG_DEVICE_CPU);

    eng_net *net = NULL;
    ASSERT_OK(eng_zoo_build("lenet", NULL, &net));
    ck_assert_int_eq(eng_net_device(net), ENG_DEVICE_CPU);
    ASSERT_OK(eng_net_set_device(net, ENG_DEVICE_CPU)); /* where it is: nothing to do */
    ASSERT_OK(eng_net_sync_host(net));
    ASSERT_OK(eng_net_sync_device(net));
    ASSERT_OK(eng_device_synchronize(ENG_DEVICE_CPU));
    if (eng_cuda_available() == ENG_OK) {
        ASSERT_OK(eng_device_resolve(ENG_DEVICE_CUDA, &d));
        ck_assert_int_eq(d, ENG_DEVICE_CUDA);
        ASSERT_OK(eng_net_set_device(net, ENG_DEVICE_CUDA));
        ck_assert_int_eq(eng_net_device(net), ENG_DEVICE_CUDA);
        ASSERT_OK(eng_net_set_device(net, ENG_DEVICE_CPU));
    } else {
        /* no GPU: CUDA resolves to the CPU with the reason; a network refuses to move */
        ck_assert_int_eq(eng_device_resolve(ENG_DEVICE_CUDA, &d), ENG_ERR_UNSUPPORTED);
        ck_assert_int_eq(d, ENG_DEVICE_CPU);
        ck_assert_msg(strstr(eng_last_error(), eng_cuda_compiled() ? "no CUDA device"
                                                                   : "built without CUDA"),
                      "unexpected reason: %s", eng_last_error());
        ck_assert_int_eq(eng_net_set_device(net, ENG_DEVICE_CUDA), ENG_ERR_UNSUPPORTED);
        ck_assert_int_eq(eng_net_device(net), ENG_DEVICE_CPU);
        ck_assert_int_eq(eng_device_synchronize(ENG_DEVICE_CUDA), ENG_ERR_UNSUPPORTED);
    }
    ck_assert_int_eq(eng_net_set_device(net, (eng_device)7), ENG_ERR_ARG);
    /* still a working CPU network */
    float x[28 * 28 * 2];
    uint64_t rng = 11;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = test_rand_uniform(&rng, -1, 1);
    ASSERT_OK(eng_net_forward(net, x, 2, false));
    ck_assert_ptr_nonnull(eng_net_output(net));
    eng_net_free(net);
}
END_TEST

/* Relative difference ||a - b|| / max(||b||, tiny) of two arrays. */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0, r = 0.0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d) / (sqrt(r) > 1e-30 ? sqrt(r) : 1e-30);
}

/* Builds model `name` twice with the same weights: *cpu stays, *gpu moves to the device. */
static void build_pair(const char *name, float width, eng_net **cpu, eng_net **gpu)
{
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.seed = 5;
    opt.width = width;
    ASSERT_OK(eng_zoo_build(name, &opt, cpu));
    ASSERT_OK(eng_zoo_build(name, &opt, gpu));
}

/* Compares every parameter tensor (and its gradient when `grads`) of the two networks. */
static void compare_params(eng_net *cpu, eng_net *gpu, bool grads, double tol, const char *when)
{
    ASSERT_OK(eng_net_sync_host(gpu));
    int count = eng_net_param_count(cpu);
    ck_assert_int_eq(count, eng_net_param_count(gpu));
    for (int i = 0; i < count; i++) {
        eng_param a, b;
        ASSERT_OK(eng_net_param_get(gpu, i, &a));
        ASSERT_OK(eng_net_param_get(cpu, i, &b));
        double e = rel_diff(a.data, b.data, b.count);
        ck_assert_msg(e < tol, "%s: parameter %d (%s of node %d): relative difference %g",
                      when, i, eng_param_kind_name(b.kind), b.node, e);
        if (grads && b.grad) {
            e = rel_diff(a.grad, b.grad, b.count);
            ck_assert_msg(e < 10 * tol, "%s: gradient %d (%s of node %d): relative difference %g",
                          when, i, eng_param_kind_name(b.kind), b.node, e);
        }
    }
}

typedef struct net_case {
    const char *model;
    float width;
    int batch;
} net_case;

static const net_case net_cases[] = {
    {"lenet", 0.0f, 16},
    {"resnet8_v1", 0.0f, 8},
    {"mobilenetv2_cifar", 0.35f, 4},
};

/* Float network: two training steps (forward, loss, backward, SGD with momentum, weight decay
 * and Nesterov) and an evaluation pass on the device against the CPU. */
START_TEST(test_net_float_matches_cpu)
{
    SKIP_WITHOUT_GPU();
    const net_case *nc = &net_cases[_i];
    eng_net *cpu, *gpu;
    build_pair(nc->model, nc->width, &cpu, &gpu);
    ASSERT_OK(eng_net_set_device(gpu, ENG_DEVICE_CUDA));
    int c, h, w;
    eng_net_input_shape(cpu, &c, &h, &w);
    const int n = nc->batch, classes = eng_net_classes(cpu);
    size_t count = (size_t)c * n * h * w;
    float *x = malloc(sizeof(float) * count);
    uint8_t *labels = malloc((size_t)n);
    ck_assert(x && labels);
    uint64_t rng = 99;
    for (size_t i = 0; i < count; i++) x[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)(test_rand_u64(&rng) % (uint64_t)classes);
    eng_sgd_cfg sc = {.lr = 0.05f, .momentum = 0.9f, .nesterov = true, .weight_decay = 5e-4f,
                      .schedule = ENG_LR_CONSTANT, .step_epochs = 1, .step_gamma = 1.0f};
    eng_sgd *ocpu, *ogpu;
    ASSERT_OK(eng_sgd_create(cpu, &sc, &ocpu));
    ASSERT_OK(eng_sgd_create(gpu, &sc, &ogpu));
    for (int step = 0; step < 2; step++) {
        float lc, lg;
        int cc, cg;
        ASSERT_OK(eng_net_forward(cpu, x, n, true));
        ASSERT_OK(eng_net_forward(gpu, x, n, true));
        const float *yc = eng_net_output(cpu), *yg = eng_net_output(gpu);
        ck_assert_ptr_nonnull(yg);
        double e = rel_diff(yg, yc, (size_t)classes * n);
        ck_assert_msg(e < 1e-4, "%s step %d: logits differ by %g", nc->model, step, e);
        ASSERT_OK(eng_net_loss(cpu, labels, n, &lc, &cc));
        ASSERT_OK(eng_net_loss(gpu, labels, n, &lg, &cg));
        ck_assert_msg(fabsf(lc - lg) <= 1e-4f * fabsf(lc) + 1e-6f, "%s: loss %g vs %g",
                      nc->model, (double)lg, (double)lc);
        ck_assert_int_eq(cc, cg);
        ASSERT_OK(eng_net_backward(cpu));
        ASSERT_OK(eng_net_backward(gpu));
        compare_params(cpu, gpu, true, 1e-4, "after backward");
        ASSERT_OK(eng_sgd_step(ocpu, 0.05f));
        ASSERT_OK(eng_sgd_step(ogpu, 0.05f));
        compare_params(cpu, gpu, false, 1e-4, "after the SGD step");
    }
    ASSERT_OK(eng_net_forward(cpu, x, n, false));
    ASSERT_OK(eng_net_forward(gpu, x, n, false));
    double e = rel_diff(eng_net_output(gpu), eng_net_output(cpu), (size_t)classes * n);
    ck_assert_msg(e < 1e-4, "%s evaluation: logits differ by %g", nc->model, e);
    /* back on the CPU the network carries the trained parameters */
    ASSERT_OK(eng_net_set_device(gpu, ENG_DEVICE_CPU));
    ASSERT_OK(eng_net_forward(gpu, x, n, false));
    e = rel_diff(eng_net_output(gpu), eng_net_output(cpu), (size_t)classes * n);
    ck_assert_msg(e < 1e-4, "%s back on the CPU: logits differ by %g", nc->model, e);
    eng_sgd_free(ocpu);
    eng_sgd_free(ogpu);
    eng_net_free(cpu);
    eng_net_free(gpu);
    free(x);
    free(labels);
}
END_TEST

/* Quantized LeNet through mul8u_DM1 (_i = 0: ASYM per tensor, 1: ASYM per channel, 2: SYM):
 * every layer is integer table sums with exact dequantization, ReLU, max pooling or a
 * permutation, so the device's logits equal the CPU's bit for bit, in training (EMA ranges)
 * and evaluation passes; the STE gradients agree to float tolerance. */
START_TEST(test_net_quantized_bit_exact)
{
    SKIP_WITHOUT_GPU();
    eng_mul *mul = NULL;
    ASSERT_OK(eng_mul_load(_i == 2 ? "mul8s_1KV8" : "mul8u_DM1", &mul));
    eng_net *cpu, *gpu;
    build_pair("lenet", 0.0f, &cpu, &gpu);
    eng_approx_cfg q;
    eng_approx_cfg_default(&q);
    q.per_channel = _i == 1;
    q.mode = _i == 2 ? ENG_QUANT_SYM : ENG_QUANT_ASYM;
    eng_net *nets[2] = {cpu, gpu};
    for (int k = 0; k < 2; k++) {
        ASSERT_OK(eng_net_set_multiplier(nets[k], -1, mul));
        ASSERT_OK(eng_net_set_quant(nets[k], -1, &q));
    }
    ASSERT_OK(eng_net_set_device(gpu, ENG_DEVICE_CUDA));
    const int n = 16, classes = 10;
    float *x = malloc(sizeof(float) * 28 * 28 * n);
    uint8_t labels[16];
    ck_assert_ptr_nonnull(x);
    uint64_t rng = 7;
    for (int i = 0; i < 28 * 28 * n; i++) x[i] = test_rand_uniform(&rng, -1.0f, 2.0f);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)(i % classes);
    for (int pass = 0; pass < 2; pass++) {
        bool training = pass == 0;
        ASSERT_OK(eng_net_forward(cpu, x, n, training));
        ASSERT_OK(eng_net_forward(gpu, x, n, training));
        const float *yc = eng_net_output(cpu), *yg = eng_net_output(gpu);
        ck_assert_ptr_nonnull(yg);
        for (int i = 0; i < classes * n; i++)
            ck_assert_msg(memcmp(&yc[i], &yg[i], sizeof(float)) == 0,
                          "%s pass: logit %d is %.9g on the device, %.9g on the CPU",
                          training ? "training" : "evaluation", i, (double)yg[i], (double)yc[i]);
        int layers[8];
        int nl = eng_net_mul_layers(cpu, layers, 8);
        for (int l = 0; l < nl; l++) {
            float lo_c, hi_c, lo_g, hi_g;
            ck_assert(eng_net_act_range(cpu, layers[l], &lo_c, &hi_c));
            ck_assert(eng_net_act_range(gpu, layers[l], &lo_g, &hi_g));
            ck_assert(lo_c == lo_g && hi_c == hi_g);
        }
        if (training) {
            float lc, lg;
            ASSERT_OK(eng_net_loss(cpu, labels, n, &lc, NULL));
            ASSERT_OK(eng_net_loss(gpu, labels, n, &lg, NULL));
            ASSERT_OK(eng_net_backward(cpu));
            ASSERT_OK(eng_net_backward(gpu));
            compare_params(cpu, gpu, true, 1e-4, "quantized, after backward");
        }
    }
    eng_net_free(cpu);
    eng_net_free(gpu);
    eng_mul_free(mul);
    free(x);
}
END_TEST

/* A quantized layer with the table gradient cannot move to the device; nothing changes. */
START_TEST(test_net_table_gradient_refused)
{
    SKIP_WITHOUT_GPU();
    eng_net *net = NULL;
    ASSERT_OK(eng_zoo_build("lenet", NULL, &net));
    eng_approx_cfg q;
    eng_approx_cfg_default(&q);
    q.table_gradient = true;
    ASSERT_OK(eng_net_set_quant(net, -1, &q));
    ck_assert_int_eq(eng_net_set_device(net, ENG_DEVICE_CUDA), ENG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "table gradient"));
    ck_assert_int_eq(eng_net_device(net), ENG_DEVICE_CPU);
    eng_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cuda");
    TCase *api = tcase_create("api");
    tcase_add_test(api, test_no_device_answers_unsupported);
    tcase_add_test(api, test_bad_arguments_rejected);
    suite_add_tcase(s, api);
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_lut_gemm_matches_reference, 0, TABLE_KIND_COUNT);
    tcase_add_loop_test(tc, test_lut_gemm_table_placements, 0, 4);
    tcase_add_loop_test(tc, test_lut_conv2d_equals_im2col_gemm, 0, TABLE_KIND_COUNT);
    tcase_add_loop_test(tc, test_lut_depthwise_matches_reference, 0, TABLE_KIND_COUNT);
    tcase_add_test(tc, test_im2col_col2im_bit_exact);
    tcase_add_test(tc, test_quantize_bit_exact);
    tcase_add_test(tc, test_column_sums_and_dequantize);
    tcase_add_test(tc, test_hardswish_bit_exact);
    tcase_add_loop_test(tc, test_sgemm_matches_reference, 0, 4);
    suite_add_tcase(s, tc);
    TCase *nets = tcase_create("networks");
    tcase_set_timeout(nets, 300);
    tcase_add_test(nets, test_device_names_and_fallback);
    tcase_add_loop_test(nets, test_net_float_matches_cpu, 0,
                        (int)(sizeof net_cases / sizeof net_cases[0]));
    tcase_add_loop_test(nets, test_net_quantized_bit_exact, 0, 3);
    tcase_add_test(nets, test_net_table_gradient_refused);
    suite_add_tcase(s, nets);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
