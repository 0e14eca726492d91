/*
 * eng_kernels.h - the hot kernels of the engine behind one function-pointer table.
 *
 * Every kernel has a scalar reference implementation (engine/cpu/ref_kernels.c) that defines
 * its exact semantics; optimized implementations (AVX2, AVX-512 VBMI, CUDA) must give the same
 * results: bit-exact for the integer kernels, to float rounding for the float ones. Layers call
 * kernels only through an eng_kernels table, so a backend or a forced path (tests, benchmarks)
 * is swapped in one place.
 *
 * Conventions:
 *  - All matrices are row-major and densely packed unless a leading dimension is given.
 *  - Activations are laid out channel-major, "CNHW": x[c][n][h][w] for a batch of n images.
 *    Then one convolution over the whole batch is one GEMM whose output is again CNHW.
 *  - A multiplier table (eng_lut) is indexed (a << w_bits) | w: row = 8-bit activation code
 *    a, column = w_bits-bit weight code w (DESIGN.md: operand order matters).
 *
 * Example (approximate 3x3 convolution of a uint8 CNHW batch):
 *
 *     const eng_kernels *k = eng_kernels_get();
 *     eng_conv_shape s;
 *     ENG_TRY(eng_conv_shape_init(&s, n, c, h, w, 3, 3, 1, 1, 1));   // stride 1, pad 1, dil. 1
 *     ENG_TRY(k->im2col_u8(&s, a_codes, a_zero_point, cols));          // [c*9][n*oh*ow]
 *     ENG_TRY(k->lut_gemm(&lut, oc, n * s.oh * s.ow, c * 9, w_codes, cols, acc)); // [oc][n*oh*ow]
 */
#ifndef ENG_KERNELS_H
#define ENG_KERNELS_H

#include "eng_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Multiplier table as seen by the kernels
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_lut_mode {
    /* Codes index the table directly. Unsigned tables: a, w are unsigned codes and entries
     * uint16. Signed tables: a, w are two's complement bytes ((uint8_t)x) and entries int16. */
    ENG_LUT_DIRECT = 0,
    /* Sign-magnitude through an unsigned table: a and w are int8 two's complement codes, the
     * product is sign(a) * sign(w) * T[|a|][|w|] (|w| < 2^w_bits, |a| <= 128). */
    ENG_LUT_SIGN_MAGNITUDE,
    ENG_LUT_MODE_COUNT
} eng_lut_mode;

/* Residual decomposition of a table (eng_lut_fit_create): per weight code w, the products are
 * slope[w] * value(a) + offset[w] + R(a, w) with R >= 0, mostly below 256 for accurate
 * multipliers. Opaque; the AVX-512 table GEMM computes the linear part with int8 dot products
 * and looks up one byte plane of R instead of two planes of the products. It also holds the
 * table's activation classes (codes with the same products): with at most 128 of them, as for
 * truncating multipliers, a table column shrinks to the classes (one permute per byte plane
 * on AVX-512, fewer nibble tables on AVX2). */
typedef struct eng_lut_fit eng_lut_fit;

typedef struct eng_lut {
    const uint16_t *table;  /* 256 << w_bits entries, index (a << w_bits) | w */
    int             w_bits; /* weight code width, 2..8 */
    bool            is_signed; /* entries are int16 (two's complement in the uint16 words) */
    eng_lut_mode    mode;
    /* Optional (NULL: none): eng_lut_fit_create of this very table, w_bits, sign and mode,
     * owned by whoever owns the table. Kernels may use it for speed; results never change. */
    const eng_lut_fit *fit;
} eng_lut;

/* Builds the residual decomposition and the activation classes of lut (2-3 ms; 194 KiB).
 * Returns ENG_OK with *out set, ENG_ERR_ARG for an invalid table, ENG_ERR_NOMEM. Free with
 * eng_lut_fit_free. */
eng_status eng_lut_fit_create(const eng_lut *lut, eng_lut_fit **out);
void eng_lut_fit_free(eng_lut_fit *fit);     /* NULL is allowed */

/* How the decomposition of lut serves its weight codes (w < 2^w_bits; sign-magnitude: |w| <
 * 2^w_bits): narrow = one residual byte (flat ones included), flat = no residual at all (the
 * row is exactly linear), wide = two residual bytes, unusable = the general path only. A layer
 * takes the fast path when at most half of its weights have wide codes and none unusable.
 * classes: how many activation codes give different products (256 for most tables; a
 * multiplier that ignores the lowest s activation bits has 256 >> s and class_shift = s, else
 * class_shift = -1); with at most 128 the AVX-512 and AVX2 kernels take the class path first. */
typedef struct eng_lut_fit_counts {
    int codes, narrow, flat, wide, unusable;
    int classes, class_shift;
} eng_lut_fit_counts;
void eng_lut_fit_count(const eng_lut_fit *fit, const eng_lut *lut, eng_lut_fit_counts *out);

/* The product the table gives for codes a (activation) and w (weight), as the kernels must
 * compute it. The single definition of lookup semantics; every kernel agrees with it. */
static inline int32_t eng_lut_product(const eng_lut *lut, uint8_t a, uint8_t w)
{
    if (lut->mode == ENG_LUT_SIGN_MAGNITUDE) {
        int sa = (int8_t)a, sw = (int8_t)w;
        int ma = sa < 0 ? -sa : sa, mw = sw < 0 ? -sw : sw;
        int32_t p = lut->table[((uint32_t)ma << lut->w_bits) | (uint32_t)mw];
        return ((sa < 0) != (sw < 0)) ? -p : p;
    }
    uint16_t e = lut->table[((uint32_t)a << lut->w_bits) | w];
    return lut->is_signed ? (int32_t)(int16_t)e : (int32_t)e;
}

/* ------------------------------------------------------------------------------------------
 * Convolution geometry
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_conv_shape {
    int n;                  /* batch size */
    int c, h, w;            /* input channels, height, width */
    int kh, kw;             /* kernel height, width */
    int stride;             /* same in both directions */
    int pad;                /* zero padding on every side */
    int dilation;           /* 1 = dense kernel */
    int oh, ow;             /* output height, width (set by eng_conv_shape_init) */
} eng_conv_shape;

/* Fills s and computes oh/ow. Returns ENG_ERR_SHAPE (with a message) when the kernel does not
 * fit the padded input or a parameter is not positive. */
eng_status eng_conv_shape_init(eng_conv_shape *s,
                               int n, int c, int h, int w, // batch, input channels and size
                               int kh, int kw,             // kernel size
                               int stride, int pad, int dilation);

/* ------------------------------------------------------------------------------------------
 * Kernel signatures: one function type per kernel, written once and used by every table (the
 * eng_kernels sets below and eng_cuda_kernels in eng_cuda.h), so the compiler checks every
 * implementation (scalar reference, AVX2, AVX-512, CUDA) against it. Every kernel returns an
 * eng_status: the CPU kernels always return ENG_OK (an optimized kernel that cannot get its
 * scratch memory runs the reference, which needs none); the device kernels fail as eng_cuda.h
 * says. Callers propagate it (ENG_TRY, or `goto` their cleanup label); the compiler warns about
 * a call whose status is ignored.
 * ---------------------------------------------------------------------------------------- */

#if defined(__GNUC__)
#define ENG_KERNEL_STATUS __attribute__((warn_unused_result))
#else
#define ENG_KERNEL_STATUS
#endif

/* C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X or X^T (BLAS sgemm). */
typedef eng_status eng_sgemm_fn(bool trans_a, bool trans_b,
                                int m, int n, int k,
                                float alpha,
                                const float *a, int lda,
                                const float *b, int ldb,
                                float beta,
                                float *c, int ldc) ENG_KERNEL_STATUS;

/* Table GEMM: out[i*n + j] = sum_{p<k} eng_lut_product(lut, a[p*n + j], w[i*k + p]).
 * w: [m][k] weight codes, a: [k][n] activation codes, out: [m][n] int32 (overwritten). */
typedef eng_status eng_lut_gemm_fn(const eng_lut *lut,
                                   int m, int n, int k,
                                   const uint8_t *w,
                                   const uint8_t *a,
                                   int32_t *out) ENG_KERNEL_STATUS;

/* Approximate convolution on CNHW codes without a column buffer from the caller:
 * out = lut_gemm(lut, oc, n*oh*ow, c*kh*kw, w, im2col_u8(s, a, pad_code)), bit-identical.
 * a: [s->c][s->n][s->h][s->w], w: [oc][c*kh*kw] codes, out: [oc][n*oh*ow] (overwritten).
 * The avx512 set packs its panels straight from the image (an implicit im2col); the others
 * build the columns themselves (the reference needs none: it is the definition). */
typedef eng_status eng_lut_conv2d_fn(const eng_lut *lut,
                                     const eng_conv_shape *s,
                                     int oc,
                                     const uint8_t *a,
                                     uint8_t pad_code,
                                     const uint8_t *w,
                                     int32_t *out) ENG_KERNEL_STATUS;

/* Approximate depthwise convolution on CNHW codes:
 * out[c][b][y][x] = sum_{i,j} eng_lut_product(lut, A(c,b,y*stride+i*dil-pad, ...), w[c][i][j])
 * where A outside the image is pad_code (the activation zero point: padding is real 0).
 * a: [s->c][s->n][s->h][s->w], w: [s->c][s->kh][s->kw], out: [s->c][s->n][s->oh][s->ow].
 * sums (NULL = skip), shaped like out: sums[c][b][y][x] = sum_{i,j} A(c,b,...) with codes
 * read as unsigned 0..255, the window sums of the asymmetric decomposition (eng_ops.h);
 * the optimized sets add them up from the columns they build anyway. */
typedef eng_status eng_lut_depthwise_fn(const eng_lut *lut,
                                        const eng_conv_shape *s,
                                        const uint8_t *a,
                                        const uint8_t *w,
                                        uint8_t pad_code,
                                        int32_t *out,
                                        int32_t *sums) ENG_KERNEL_STATUS;

struct eng_qparams;  /* eng_quant.h */
struct eng_epilogue; /* eng_ops.h */

/* Optional (NULL in the sets without one): the approximate depthwise forward from floats to
 * floats in one kernel, bit-identical to its three steps run one after another:
 *   codes = quantize(x, act) (the quantize kernel's result),
 *   acc, sums = lut_depthwise(lut, s, codes, w, pad_code = act->zero_point),
 *   y = approx_dequantize(asym, act, wq, s->c, n*oh*ow, kh*kw, acc, sums, wsum, bias, ep)
 * (eng_dequantize_fn in eng_ops.h: the same float operations in the same order).
 * x: [s->c][s->n][s->h][s->w] floats; w: [s->c][s->kh][s->kw] weight codes with parameters
 * wq[c] and code sums wsum[c] (read only when asym); bias: [s->c] or NULL; ep: the epilogue
 * or NULL; y: [s->c][s->n][s->oh][s->ow], overwritten. Shapes or tables the kernel does not
 * handle (and a failed scratch allocation) set *done = false and write nothing: the caller
 * then runs the three steps. Otherwise *done = true. */
typedef eng_status eng_lut_depthwise_fused_fn(const eng_lut *lut,
                                              const eng_conv_shape *s,
                                              const float *x,
                                              const struct eng_qparams *act,
                                              const uint8_t *w,
                                              const struct eng_qparams *wq,
                                              const int32_t *wsum,
                                              bool asym,
                                              const float *bias,
                                              const struct eng_epilogue *ep,
                                              float *y,
                                              bool *done) ENG_KERNEL_STATUS;

/* cols[(ci*kh + i)*kw + j][(b*oh + y)*ow + x] = x[ci][b][y*stride + i*dil - pad][...],
 * pad_value outside. x: CNHW, cols: [c*kh*kw][n*oh*ow]. */
typedef eng_status eng_im2col_f32_fn(const eng_conv_shape *s, const float *x, float pad_value,
                                     float *cols) ENG_KERNEL_STATUS;
typedef eng_status eng_im2col_u8_fn(const eng_conv_shape *s, const uint8_t *x,
                                    uint8_t pad_value, uint8_t *cols) ENG_KERNEL_STATUS;

/* The adjoint of im2col_f32: dx (CNHW, overwritten) = sum of cols into their pixels. */
typedef eng_status eng_col2im_f32_fn(const eng_conv_shape *s, const float *cols,
                                     float *dx) ENG_KERNEL_STATUS;

/* codes[i] = clamp(round_half_even(x[i] / scale) + zero_point, qmin, qmax), stored as the
 * low byte ((uint8_t) of the int; two's complement for signed ranges). */
typedef eng_status eng_quantize_fn(const float *x, size_t count,
                                   float scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                                   uint8_t *codes) ENG_KERNEL_STATUS;

/* Float "same" convolution: k x k kernel with k = 3 or 5, stride 1, pad r = k/2 (1 or 2),
 * dilation 1 (so oh == h, ow == w), on CNHW tensors, needing no workspace from the caller.
 * Every CPU set has them: "scalar" the references (the definition), "avx512" direct AVX-512
 * kernels (no column buffer at all), "avx2" im2col + sgemm with the columns in the kernel's
 * own thread scratch memory. s must satisfy eng_conv_shape_is_same; oc > 0.
 *   forward:          y[o][b][i][j] = bias[o] + sum_{c,ky,kx} w[o][c][ky][kx] *
 *                                     x[c][b][i+ky-r][j+kx-r]    (x = 0 outside the image)
 *   backward_data:    dx[c][b][i][j] = sum_{o,ky,kx} w[o][c][ky][kx] *
 *                                      dy[o][b][i-ky+r][j-kx+r]  (dy = 0 outside)
 *   backward_weights: dw[o][c][ky][kx] = sum_{b,i,j} dy[o][b][i][j] *
 *                                        x[c][b][i+ky-r][j+kx-r]
 * x, dx: [s->c][s->n][s->h][s->w]; y, dy: [oc][s->n][s->h][s->w]; w, dw: [oc][s->c][k][k];
 * bias: [oc] or NULL (no bias). Outputs are overwritten. Results are equal to the
 * definition to float rounding. In "scalar" and "avx512" every output element is computed
 * by one thread in a fixed order, so results do not depend on the thread count; "avx2"
 * (OpenBLAS) gives the same result for the same thread count. */
typedef eng_status eng_conv_same_f32_forward_fn(const eng_conv_shape *s, int oc,
                                                const float *x, const float *w,
                                                const float *bias,
                                                float *y) ENG_KERNEL_STATUS;
typedef eng_status eng_conv_same_f32_backward_data_fn(const eng_conv_shape *s, int oc,
                                                      const float *dy, const float *w,
                                                      float *dx) ENG_KERNEL_STATUS;
typedef eng_status eng_conv_same_f32_backward_weights_fn(const eng_conv_shape *s, int oc,
                                                         const float *x, const float *dy,
                                                         float *dw) ENG_KERNEL_STATUS;

/* Float depthwise convolution (channel multiplier 1) of any shape s on CNHW tensors,
 * needing no workspace from the caller. "scalar": the references (the definition); the
 * optimized sets: direct kernels for dilation 1 and stride 1 or 2 (any kernel size and
 * padding; other shapes go to the references), vectorized over whole image planes.
 *   forward:          y[c][b][i][j] = bias[c] + sum_{ky,kx} w[c][ky][kx] *
 *                                     x[c][b][i*stride + ky*dil - pad][j*stride + kx*dil - pad]
 *   backward_data:    dx[c][b][.][.] = the adjoint: each product's dy added back to its pixel
 *   backward_weights: dw[c][ky][kx] = sum_{b,i,j} dy[c][b][i][j] * x[c][b][...][...]
 * with x = 0 outside the image. x, dx: [s->c][s->n][s->h][s->w]; y, dy:
 * [s->c][s->n][s->oh][s->ow]; w, dw: [s->c][s->kh][s->kw]; bias: [s->c] or NULL. Outputs
 * are overwritten. Equal to the definition to float rounding; every output element is
 * computed by one thread in a fixed order, so results do not depend on the thread count. */
typedef eng_status eng_depthwise_f32_forward_fn(const eng_conv_shape *s,
                                                const float *x, const float *w,
                                                const float *bias,
                                                float *y) ENG_KERNEL_STATUS;
typedef eng_status eng_depthwise_f32_backward_data_fn(const eng_conv_shape *s,
                                                      const float *dy, const float *w,
                                                      float *dx) ENG_KERNEL_STATUS;
typedef eng_status eng_depthwise_f32_backward_weights_fn(const eng_conv_shape *s,
                                                         const float *x, const float *dy,
                                                         float *dw) ENG_KERNEL_STATUS;
/* backward_weights and, when dx != NULL, backward_data in one pass over dy (which the direct
 * kernels lay out once, not twice); results bit-identical to the two calls. */
typedef eng_status eng_depthwise_f32_backward_fn(const eng_conv_shape *s,
                                                 const float *x, const float *dy,
                                                 const float *w,
                                                 float *dx,
                                                 float *dw) ENG_KERNEL_STATUS;

/* ------------------------------------------------------------------------------------------
 * The kernel table (CPU sets; the device table eng_cuda_kernels uses the same types)
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_kernels {
    const char *name;       /* "scalar", "avx2", "avx512" (eng_kernels_by_name) */

    eng_sgemm_fn      *sgemm;
    eng_lut_gemm_fn   *lut_gemm;
    eng_lut_conv2d_fn *lut_conv2d;
    eng_lut_depthwise_fn *lut_depthwise;
    eng_lut_depthwise_fused_fn *lut_depthwise_fused; /* optional: avx512 only */
    eng_im2col_f32_fn *im2col_f32;
    eng_im2col_u8_fn  *im2col_u8;
    eng_col2im_f32_fn *col2im_f32;
    eng_quantize_fn   *quantize;

    /* CPU only (the device backend runs its float convolutions through im2col + sgemm);
     * conv_same_f32_*: 3x3 or 5x5, stride 1, same padding (eng_conv_shape_is_same) */
    eng_conv_same_f32_forward_fn          *conv_same_f32_forward;
    eng_conv_same_f32_backward_data_fn    *conv_same_f32_backward_data;
    eng_conv_same_f32_backward_weights_fn *conv_same_f32_backward_weights;
    eng_depthwise_f32_forward_fn          *depthwise_f32_forward;
    eng_depthwise_f32_backward_data_fn    *depthwise_f32_backward_data;
    eng_depthwise_f32_backward_weights_fn *depthwise_f32_backward_weights;
    eng_depthwise_f32_backward_fn         *depthwise_f32_backward; /* optional: NULL in "scalar" */
} eng_kernels;

/* True when s is the shape of the conv_same_f32_* kernels: 3x3 with pad 1 or 5x5 with pad 2,
 * stride 1, dilation 1. */
static inline bool eng_conv_shape_is_same(const eng_conv_shape *s)
{
    return (s->kh == 3 || s->kh == 5) && s->kw == s->kh && s->stride == 1 &&
           s->pad == s->kh / 2 && s->dilation == 1;
}

/* The scalar reference kernels: slow, obvious, the definition of every kernel's result. */
const eng_kernels *eng_kernels_ref(void);

/* The kernels this process uses: the fastest the CPU supports, unless the environment variable
 * EVOAPPROXNAS_KERNELS names another set ("scalar", "avx2", "avx512"). A name that is unknown
 * or not supported by this CPU is ignored (check it with eng_kernels_by_name). Read once, on
 * the first call. Never NULL. */
const eng_kernels *eng_kernels_get(void);

/* The kernel set called `name`: "scalar" (the references), "avx2" (AVX2 + FMA) or "avx512"
 * (AVX-512 F/BW/VL/DQ + VBMI). NULL when the name is unknown or this CPU (and OS) cannot run
 * the set. The optimized sets give results bit-identical to the references for every integer
 * kernel, im2col, col2im and quantize; their sgemm is OpenBLAS (or a blocked C kernel in
 * builds without it), equal to the reference to float rounding. */
const eng_kernels *eng_kernels_by_name(const char *name);

/* The fastest set this CPU supports (what eng_kernels_get returns without the variable). */
const eng_kernels *eng_kernels_best(void);

#ifdef __cplusplus
}
#endif

#endif /* ENG_KERNELS_H */
