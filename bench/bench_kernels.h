/*
 * bench_kernels.h - the kernels section of `evoapproxnas bench`: table GEMM vs float GEMM vs
 * exact int8 GEMM, and the optimized table GEMM vs the scalar reference, on fixed shapes.
 *
 * Every figure is the median wall time of `repeats` calls after one warm-up call (the slow
 * scalar variants: `scalar_repeats` calls, no warm-up), all variants of a shape measured side
 * by side at one thread count, in turns: round r calls every variant once (the scalar ones in
 * the first scalar_repeats rounds only). GMAC/s = m*n*k / time. The speed-ups over the scalar
 * loops are medians of per-round ratios, so that load drifting between rounds cancels.
 */
#ifndef BENCH_KERNELS_H
#define BENCH_KERNELS_H

#include <stdbool.h>

#include "eng_kernels.h"

typedef struct bench_gemm_shape {
    const char *name;       /* "perf1", "resnet20.s3" ... */
    const char *origin;     /* where the shape comes from */
    int m, n, k;            /* out [m][n] = w [m][k] x a [k][n] */
} bench_gemm_shape;

typedef struct bench_gemm_result {
    const bench_gemm_shape *shape;
    int threads;
    double float_gmacs;     /* exact float sgemm (OpenBLAS or the blocked kernel) */
    double lut_gmacs;       /* table GEMM of the kernel set under test, table preparation included */
    double residual_gmacs;  /* the same with an accurate multiplier's table (exact product + an
                               error in [-128, 127]) and its eng_lut_fit: the residual path */
    double trunc_gmacs;     /* the same with a truncating multiplier's table (the general one
                               with the lowest activation bit ignored, as mul8u_DM1) and its
                               eng_lut_fit: the activation-class path */
    double int8_gmacs;      /* exact uint8 x int8 GEMM (eng_int8.h) */
    double scalar_gmacs;    /* the scalar reference table GEMM (naive m, n, k loop) */
    double scalar_ws_gmacs; /* a good scalar loop: weight-stationary m, k, n table lookups */
    double float_best;      /* best (fastest) call instead of the median, for float, table, */
    double lut_best;        /* and int8: the least disturbed figure on a shared machine */
    double int8_best;
    double residual_best;
    double trunc_best;
    double scalar_speedup;  /* median over rounds of scalar time / table time in one round */
    double scalar_ws_speedup; /* the same against the weight-stationary scalar loop */
} bench_gemm_result;

/* The shapes: perf/lutgemm.md's two, then the conv layers of ResNet-20 at batch 64 (quick:
 * the perf shapes and two ResNet-20 layers). Sets *count. */
const bench_gemm_shape *bench_gemm_shapes(bool quick, int *count);

/* Measures one shape at `threads` threads with the table GEMM of `k` (a random general 16-bit
 * table, a near-exact one with its residual decomposition and a truncating one with its
 * activation classes; random codes). Returns false
 * when out of memory or a kernel fails (eng_last_error() then says why). */
bool bench_gemm_measure(const eng_kernels *k, const bench_gemm_shape *shape, int threads,
                        int repeats, int scalar_repeats, bench_gemm_result *result);

#endif /* BENCH_KERNELS_H */
