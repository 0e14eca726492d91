/*
 * eng_int8.h - exact int8 GEMM (uint8 activations x int8 weights -> int32), the "exact
 * integer" baseline that table emulation is compared with (evoapproxnas bench).
 *
 * Same layout as eng_kernels.lut_gemm: w [m][k] int8 weights, a [k][n] uint8 activation codes,
 * out [m][n] int32 (overwritten):
 *
 *     out[i*n + j] = sum_{p<k} (int32_t)a[p*n + j] * w[i*k + p]
 *
 * With AVX-512 VNNI (vpdpbusd, 64 products per instruction) when the CPU has it, else a scalar
 * loop; both exact (int32 wrap-around like the reference). Threads: OpenMP over tiles, the
 * result does not depend on the thread count.
 */
#ifndef ENG_INT8_H
#define ENG_INT8_H

#include "eng_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the path eng_int8_gemm takes on this CPU: "vnni" or "scalar". */
const char *eng_int8_gemm_path(void);

/* The exact int8 GEMM above. Cannot fail (falls back to the scalar loop when out of memory). */
void eng_int8_gemm(int m,                /* rows of w and out */
                   int n,                /* columns of a and out */
                   int k,                /* depth */
                   const int8_t *w,      /* [m][k] */
                   const uint8_t *a,     /* [k][n] */
                   int32_t *out);        /* [m][n] */

/* The scalar loop (the definition of the result; also used by the tests). */
void eng_int8_gemm_ref(int m, int n, int k, const int8_t *w, const uint8_t *a, int32_t *out);

#ifdef __cplusplus
}
#endif

#endif /* ENG_INT8_H */
