/*
 * bench_cuda.c - CUDA micro-benchmark: table GEMM (table in shared and in global memory) and
 * the implicit-GEMM table convolution against cuBLAS sgemm on the perf shapes
 * (M=64 K=576 N=4096: a 3x3 conv 64->64 over 4096 output positions; M=32 K=288 N=8192).
 * Run with `meson test --benchmark cuda_gemm` (or build/bench/bench_cuda [--json]).
 * Exits 77 (skipped) without a usable GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_cuda.h"

#define CHECK(call)                                                                   \
    do {                                                                              \
        if ((call) != ENG_OK) {                                                       \
            fprintf(stderr, "bench_cuda: %s: %s\n", #call, eng_last_error());         \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *dev_random(size_t bytes, uint64_t *rng)
{
    unsigned char *h = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) {
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = (unsigned char)(*rng >> 56);
    }
    void *d;
    CHECK(eng_cuda_malloc(bytes, &d));
    CHECK(eng_cuda_copy_to_device(d, h, bytes));
    free(h);
    return d;
}

enum bench_op { OP_LUT_SHARED, OP_LUT_GLOBAL, OP_LUT_CONV, OP_SGEMM, OP_COUNT };
static const char *op_names[OP_COUNT] = {"lut_gemm_shared", "lut_gemm_global", "lut_conv2d",
                                         "cublas_sgemm"};

typedef struct bench_bufs {
    eng_lut lut;
    uint8_t *w, *a, *x;
    int32_t *acc;
    float *fw, *fa, *fc;
    eng_conv_shape s;
} bench_bufs;

/* Queues one run of `op`; ENG_ERR_UNSUPPORTED when the op cannot run on this device. */
static eng_status run_op(const eng_cuda_kernels *k, enum bench_op op, int m, int n, int kk,
                         bench_bufs *b)
{
    switch (op) {
    case OP_LUT_SHARED:
    case OP_LUT_GLOBAL:
        CHECK(eng_cuda_set_lut_place(op == OP_LUT_SHARED ? ENG_CUDA_LUT_SHARED
                                                         : ENG_CUDA_LUT_GLOBAL));
        return k->lut_gemm(&b->lut, m, n, kk, b->w, b->a, b->acc);
    case OP_LUT_CONV:
        CHECK(eng_cuda_set_lut_place(ENG_CUDA_LUT_AUTO));
        return k->lut_conv2d(&b->lut, &b->s, m, b->x, 0, b->w, b->acc);
    default:
        return k->sgemm(false, false, m, n, kk, 1.0f, b->fw, kk, b->fa, n, 0.0f, b->fc, n);
    }
}

int main(int argc, char **argv)
{
    bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
    if (eng_cuda_available() != ENG_OK) {
        fprintf(stderr, "bench_cuda: skipped: %s\n", eng_last_error());
        return 77;
    }
    eng_cuda_device_info info;
    CHECK(eng_cuda_init(0));
    CHECK(eng_cuda_device_info_get(0, &info));
    const eng_cuda_kernels *k;
    CHECK(eng_cuda_kernels_get(&k));
    if (!json)
        printf("device: %s (compute %d.%d, %d SMs)\n", info.name, info.cc_major,
               info.cc_minor, info.sm_count);
    else
        printf("{\"device\": \"%s\", \"results\": [", info.name);

    /* M, K, N, and the convolution with that GEMM: c = K/9 channels, 3x3, images n x h x w */
    const int shapes[][6] = {{64, 576, 4096, 4, 32, 32}, {32, 288, 8192, 8, 32, 32}};
    uint64_t rng = 12345;
    uint16_t *table = malloc(sizeof(uint16_t) * 65536);
    for (int i = 0; i < 65536; i++)
        table[i] = (uint16_t)((i >> 8) * (i & 255));
    eng_lut host = {.table = table, .w_bits = 8, .is_signed = false, .mode = ENG_LUT_DIRECT};
    bool first = true;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int m = shapes[si][0], kk = shapes[si][1], n = shapes[si][2];
        bench_bufs b;
        CHECK(eng_cuda_lut_upload(&host, &b.lut));
        CHECK(eng_conv_shape_init(&b.s, shapes[si][3], kk / 9, shapes[si][4], shapes[si][5], 3,
                                  3, 1, 1, 1));
        b.w = dev_random((size_t)m * kk, &rng);
        b.a = dev_random((size_t)kk * n, &rng);
        b.x = dev_random((size_t)b.s.c * b.s.n * b.s.h * b.s.w, &rng);
        CHECK(eng_cuda_malloc(sizeof(int32_t) * m * n, (void **)&b.acc));
        CHECK(eng_cuda_malloc(sizeof(float) * m * kk, (void **)&b.fw));
        CHECK(eng_cuda_malloc(sizeof(float) * kk * n, (void **)&b.fa));
        CHECK(eng_cuda_malloc(sizeof(float) * m * n, (void **)&b.fc));
        CHECK(eng_cuda_memset(b.fw, 0, sizeof(float) * m * kk));
        CHECK(eng_cuda_memset(b.fa, 0, sizeof(float) * kk * n));
        double t_sgemm = 0.0;
        for (int op = OP_COUNT - 1; op >= 0; op--) { /* sgemm first: the ratios need it */
            eng_status st = run_op(k, (enum bench_op)op, m, n, kk, &b);
            if (st == ENG_ERR_UNSUPPORTED) {
                fprintf(stderr, "bench_cuda: %s: %s\n", op_names[op], eng_last_error());
                continue;
            }
            CHECK(st);
            CHECK(eng_cuda_synchronize());
            int reps = 0;
            double t0 = now_s(), t = 0.0;
            while (reps < 1000 && (t = now_s() - t0) < 0.5) { /* at most ~0.5 s per op */
                for (int r = 0; r < 10; r++)
                    CHECK(run_op(k, (enum bench_op)op, m, n, kk, &b));
                CHECK(eng_cuda_synchronize());
                reps += 10;
            }
            t = (now_s() - t0) / reps;
            if (op == OP_SGEMM)
                t_sgemm = t;
            double gmacs = (double)m * n * kk / t * 1e-9;
            if (json)
                printf("%s{\"op\": \"%s\", \"m\": %d, \"k\": %d, \"n\": %d, \"us\": %.2f, "
                       "\"gmacs\": %.1f, \"vs_sgemm\": %.3f}", first ? "" : ", ", op_names[op],
                       m, kk, n, t * 1e6, gmacs, t / t_sgemm);
            else
                printf("M=%-3d K=%-4d N=%-5d %-16s %9.2f us %8.1f GMAC/s  %5.2fx sgemm\n", m,
                       kk, n, op_names[op], t * 1e6, gmacs, t / t_sgemm);
            first = false;
        }
        eng_cuda_lut_free(&b.lut);
        eng_cuda_free(b.w);
        eng_cuda_free(b.a);
        eng_cuda_free(b.x);
        eng_cuda_free(b.acc);
        eng_cuda_free(b.fw);
        eng_cuda_free(b.fa);
        eng_cuda_free(b.fc);
    }
    if (json)
        printf("]}\n");
    free(table);
    eng_cuda_shutdown();
    return 0;
}
