/*
 * bench_kernels.c - kernel timings for `evoapproxnas bench` (bench_kernels.h).
 */
#include "bench_kernels.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_int8.h"

static const bench_gemm_shape shapes[] = {
    {"perf1", "perf/lutgemm.md shape 1", 64, 4096, 576},
    {"perf2", "perf/lutgemm.md shape 2", 32, 8192, 288},
    {"r20.conv1", "ResNet-20 conv1 3->16 3x3 32x32, batch 64", 16, 65536, 27},
    {"r20.s1", "ResNet-20 stage 1 16->16 3x3 32x32, batch 64", 16, 65536, 144},
    {"r20.s2a", "ResNet-20 stage 2 first 16->32 3x3 s2 16x16, batch 64", 32, 16384, 144},
    {"r20.s2", "ResNet-20 stage 2 32->32 3x3 16x16, batch 64", 32, 16384, 288},
    {"r20.s3a", "ResNet-20 stage 3 first 32->64 3x3 s2 8x8, batch 64", 64, 4096, 288},
    {"r20.s3", "ResNet-20 stage 3 64->64 3x3 8x8, batch 64", 64, 4096, 576},
    {"r20.fc", "ResNet-20 classifier 64->10, batch 64", 10, 64, 64},
};
static const int quick_index[] = {0, 1, 3, 5};

const bench_gemm_shape *bench_gemm_shapes(bool quick, int *count)
{
    static bench_gemm_shape quick_shapes[sizeof quick_index / sizeof quick_index[0]];
    if (!quick) {
        *count = (int)(sizeof shapes / sizeof shapes[0]);
        return shapes;
    }
    for (size_t i = 0; i < sizeof quick_index / sizeof quick_index[0]; i++)
        quick_shapes[i] = shapes[quick_index[i]];
    *count = (int)(sizeof quick_index / sizeof quick_index[0]);
    return quick_shapes;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The operands of one shape. */
typedef struct {
    const eng_kernels *k;
    const bench_gemm_shape *s;
    eng_lut lut;            /* a general 16-bit table */
    eng_lut near;           /* an accurate multiplier's table, with its residual decomposition */
    eng_lut trunc;          /* a truncating multiplier's table, with its activation classes */
    uint8_t *w, *a;
    int32_t *out;
    float *wf, *af, *cf;
} operands;

typedef enum {
    VAR_FLOAT, VAR_LUT, VAR_RESIDUAL, VAR_INT8, VAR_SCALAR, VAR_SCALAR_WS, VAR_TRUNC
} variant;

/* The usual scalar emulation (as in AdaPT-like emulators): for each weight row and k, one
 * table lookup per output column, accumulated into the output row. OpenMP over rows. */
static void scalar_ws_gemm(const eng_lut *lut, int m, int n, int k, const uint8_t *w,
                           const uint8_t *a, int32_t *out)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; i++) {
        int32_t *o = out + (size_t)i * n;
        memset(o, 0, sizeof(int32_t) * (size_t)n);
        for (int p = 0; p < k; p++) {
            const uint16_t *col = lut->table + w[(size_t)i * k + p];
            const uint8_t *x = a + (size_t)p * n;
            for (int j = 0; j < n; j++)
                o[j] += col[(uint32_t)x[j] << 8];
        }
    }
}

/* One call of variant v: the kernel's status. */
static eng_status run_variant(const operands *o, variant v)
{
    const bench_gemm_shape *s = o->s;
    switch (v) {
    case VAR_FLOAT:
        return eng_kernels_best()->sgemm(false, false, s->m, s->n, s->k, 1.0f, o->wf, s->k,
                                         o->af, s->n, 0.0f, o->cf, s->n);
    case VAR_LUT:
        return o->k->lut_gemm(&o->lut, s->m, s->n, s->k, o->w, o->a, o->out);
    case VAR_RESIDUAL:
        return o->k->lut_gemm(&o->near, s->m, s->n, s->k, o->w, o->a, o->out);
    case VAR_TRUNC:
        return o->k->lut_gemm(&o->trunc, s->m, s->n, s->k, o->w, o->a, o->out);
    case VAR_INT8:
        eng_int8_gemm(s->m, s->n, s->k, (const int8_t *)o->w, o->a, o->out);
        return ENG_OK;
    case VAR_SCALAR:
        return eng_kernels_ref()->lut_gemm(&o->lut, s->m, s->n, s->k, o->w, o->a, o->out);
    case VAR_SCALAR_WS:
        scalar_ws_gemm(&o->lut, s->m, s->n, s->k, o->w, o->a, o->out);
        return ENG_OK;
    }
    return ENG_OK;
}

/* GMAC/s of the median call and of the fastest call. */
static void summarize(const bench_gemm_shape *s, double *t, int count, double *median_gmacs,
                      double *best_gmacs)
{
    qsort(t, (size_t)count, sizeof t[0], cmp_double);
    double median = count % 2 ? t[count / 2] : 0.5 * (t[count / 2 - 1] + t[count / 2]);
    double macs = (double)s->m * s->n * s->k * 1e-9;
    *median_gmacs = macs / median;
    *best_gmacs = macs / t[0];
}

enum { MAX_ROUNDS = 64, VARIANTS = 7 };

/* Times rounds of calls: in round r < rounds every variant i with r < reps[i] runs once, in
 * the order given, so that drifting load hits the fast and the slow variants alike; t[i][r]
 * gets the seconds. First one warm-up call of every variant with warm[i]. */
static eng_status time_rounds(const operands *o, const variant *v, const int *reps,
                              const bool *warm, int count, int rounds, double t[][MAX_ROUNDS])
{
    for (int i = 0; i < count; i++)
        if (warm[i])
            ENG_TRY(run_variant(o, v[i]));
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < count; i++) {
            if (r >= reps[i])
                continue;
            double t0 = now_s();
            ENG_TRY(run_variant(o, v[i]));
            t[i][r] = now_s() - t0;
        }
    return ENG_OK;
}

/* Median over the first `count` rounds of slow[r] / fast[r]: the speed-up of the fast variant
 * measured within each round. */
static double paired_speedup(const double *slow, const double *fast, int count)
{
    double q[MAX_ROUNDS];
    for (int r = 0; r < count; r++)
        q[r] = fast[r] > 0.0 ? slow[r] / fast[r] : 0.0;
    qsort(q, (size_t)count, sizeof q[0], cmp_double);
    return count % 2 ? q[count / 2] : 0.5 * (q[count / 2 - 1] + q[count / 2]);
}

bool bench_gemm_measure(const eng_kernels *k, const bench_gemm_shape *shape, int threads,
                        int repeats, int scalar_repeats, bench_gemm_result *result)
{
    const size_t mk = (size_t)shape->m * shape->k, kn = (size_t)shape->k * shape->n;
    const size_t mn = (size_t)shape->m * shape->n;
    operands o = {.k = k, .s = shape};
    uint16_t *table = malloc(sizeof(uint16_t) * 65536);
    uint16_t *near = malloc(sizeof(uint16_t) * 65536);
    uint16_t *trunc = malloc(sizeof(uint16_t) * 65536);
    eng_lut_fit *fit = NULL, *trunc_fit = NULL;
    o.w = malloc(mk);
    o.a = malloc(kn);
    o.out = malloc(sizeof(int32_t) * mn);
    o.wf = malloc(sizeof(float) * mk);
    o.af = malloc(sizeof(float) * kn);
    o.cf = malloc(sizeof(float) * mn);
    bool ok = table && near && trunc && o.w && o.a && o.out && o.wf && o.af && o.cf;
    if (ok) {
        /* a general table: the exact product plus a pseudo-random error in [-1024, 1024],
         * clamped, so both byte planes vary (as in perf/lutgemm.md) */
        uint64_t x = 0x9e3779b97f4a7c15u;
        for (int i = 0; i < 65536; i++) {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            long v = (long)(i >> 8) * (i & 255) + (long)((x * 0x2545f4914f6cdd1du) >> 53) - 1024;
            table[i] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
        }
        o.lut = (eng_lut){.table = table, .w_bits = 8, .is_signed = false, .mode = ENG_LUT_DIRECT};
        /* an accurate multiplier: the exact product plus an error in [-128, 127] (EvoApprox
         * mul8u_2HH, 23 % less power than exact, errs by -115..+115); the residual path when
         * the kernel set has one */
        for (int i = 0; i < 65536; i++) {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            long v = (long)(i >> 8) * (i & 255) + (long)(x >> 56) - 128;
            near[i] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
        }
        o.near = (eng_lut){.table = near, .w_bits = 8, .is_signed = false,
                           .mode = ENG_LUT_DIRECT};
        ok = eng_lut_fit_create(&o.near, &fit) == ENG_OK;
        o.near.fit = fit;
        /* a truncating multiplier: the general table with the activation's lowest bit
         * ignored (as mul8u_DM1): 128 activation classes, the class path */
        for (int i = 0; i < 65536; i++)
            trunc[i] = table[i & ~256];
        o.trunc = o.lut;
        o.trunc.table = trunc;
        ok = ok && eng_lut_fit_create(&o.trunc, &trunc_fit) == ENG_OK;
        o.trunc.fit = trunc_fit;
        for (size_t i = 0; i < mk; i++) {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            o.w[i] = (uint8_t)(x >> 24);
            o.wf[i] = (float)(int8_t)o.w[i] / 128.0f;
        }
        for (size_t i = 0; i < kn; i++) {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            o.a[i] = (uint8_t)(x >> 32);
            o.af[i] = (float)o.a[i] / 255.0f;
        }
    }
    if (ok) {
        eng_set_threads(threads);
        *result = (bench_gemm_result){.shape = shape, .threads = threads};
        if (repeats > MAX_ROUNDS)
            repeats = MAX_ROUNDS;
        if (scalar_repeats > repeats)
            scalar_repeats = repeats;
        /* the scalar variants are 10-100x slower: fewer rounds and no warm-up call, but in
         * the same rounds as the table GEMM, whose speed-up over them is taken per round */
        const variant v[VARIANTS] = {VAR_FLOAT, VAR_LUT, VAR_SCALAR, VAR_RESIDUAL, VAR_INT8,
                                     VAR_SCALAR_WS, VAR_TRUNC};
        const int reps[VARIANTS] = {repeats, repeats, scalar_repeats, repeats, repeats,
                                    scalar_repeats, repeats};
        const bool warm[VARIANTS] = {true, true, false, true, true, false, true};
        double t[VARIANTS][MAX_ROUNDS];
        double g[VARIANTS] = {0}, b[VARIANTS] = {0};
        ok = time_rounds(&o, v, reps, warm, VARIANTS, repeats, t) == ENG_OK;
        if (ok && scalar_repeats > 0) {
            result->scalar_speedup = paired_speedup(t[2], t[1], scalar_repeats);
            result->scalar_ws_speedup = paired_speedup(t[5], t[1], scalar_repeats);
        }
        for (int i = 0; i < VARIANTS; i++)
            if (ok && reps[i] > 0)
                summarize(shape, t[i], reps[i], &g[i], &b[i]);
        result->float_gmacs = g[0];
        result->lut_gmacs = g[1];
        result->scalar_gmacs = g[2];
        result->residual_gmacs = g[3];
        result->int8_gmacs = g[4];
        result->scalar_ws_gmacs = g[5];
        result->trunc_gmacs = g[6];
        result->trunc_best = b[6];
        result->float_best = b[0];
        result->lut_best = b[1];
        result->residual_best = b[3];
        result->int8_best = b[4];
    }
    free(table);
    free(near);
    free(trunc);
    eng_lut_fit_free(fit);
    eng_lut_fit_free(trunc_fit);
    free(o.w);
    free(o.a);
    free(o.out);
    free(o.wf);
    free(o.af);
    free(o.cf);
    return ok;
}
