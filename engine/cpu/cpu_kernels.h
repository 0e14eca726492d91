/*
 * cpu_kernels.h - internal interface between the CPU kernel sets (scalar, AVX2, AVX-512) and
 * the run-time selection in kernels_select.c. Not part of the public API (eng_kernels.h is).
 *
 * The optimized sets share the float kernels (sgemm.c, im2col.c) and differ in the table GEMM,
 * the depthwise table convolution and quantization. Each *_supported() function says whether
 * this CPU (and OS) can run a set; calling a set's kernels when it is not supported is an
 * illegal instruction.
 */
#ifndef ENG_CPU_KERNELS_H
#define ENG_CPU_KERNELS_H

#include "eng_kernels.h"
#include "engine_config.h"

#if ENG_HAVE_OPENMP
#include <omp.h>
#endif

/* Threads available to a kernel called from the current context: 1 inside a parallel region
 * (nested regions run serially), otherwise the OpenMP maximum. */
static inline int eng_cpu_threads(void)
{
#if ENG_HAVE_OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

/* Threads in the current team (1 outside a parallel region). */
static inline int eng_cpu_team_size(void)
{
#if ENG_HAVE_OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

static inline int eng_cpu_thread_id(void)
{
#if ENG_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* ---- scratch memory (workspace.c) ----------------------------------------------------- */

/* A 64-byte aligned scratch buffer of at least `size` bytes owned by the calling thread, valid
 * until that thread's next call (contents not kept when it grows); freed at thread exit. NULL
 * when out of memory. A kernel takes it once, before its parallel region, and hands slices to
 * the workers; kernels that use it must not call each other. */
void *eng_cpu_workspace(size_t size);

/* Frees the calling thread's scratch buffer now (tests, long-lived threads after big layers). */
void eng_cpu_workspace_release(void);

/* ---- kernel sets ---------------------------------------------------------------------- */

bool eng_cpu_avx2_supported(void);      /* AVX2 + FMA (cpu_features.c) */
bool eng_cpu_avx512_supported(void);    /* AVX-512 F, BW, VL, DQ and VBMI */
const eng_kernels *eng_kernels_avx2(void);
const eng_kernels *eng_kernels_avx512(void);

/* ---- shared float kernels (sgemm.c, im2col.c) ------------------------------------------ */

/* The float GEMM of the optimized sets: OpenBLAS cblas_sgemm when the build has it (its thread
 * count is set to eng_cpu_threads() before each call), else eng_cpu_sgemm_blocked. Same
 * contract as eng_kernels.sgemm. */
eng_sgemm_fn eng_cpu_sgemm;

/* A cache-blocked C GEMM (OpenMP over row blocks, `omp simd` inner loops). Same contract; for
 * a fixed thread count the result is deterministic and equal for every thread count. */
eng_sgemm_fn eng_cpu_sgemm_blocked;

/* im2col / col2im with contiguous row copies; bit-identical to the references. The _rows
 * variant fills rows [r0, r1) of cols on the calling thread only (used inside parallel
 * regions). */
eng_im2col_f32_fn eng_cpu_im2col_f32;
eng_im2col_u8_fn eng_cpu_im2col_u8;
void eng_cpu_im2col_u8_rows(const eng_conv_shape *s, const uint8_t *x, uint8_t pad_value,
                            uint8_t *cols, int r0, int r1);
eng_col2im_f32_fn eng_cpu_col2im_f32;

/* sums[p] = sum of cols[r * ld + p] over rows r in [0, rows), p in [0, n), on the calling
 * thread (the window sums of the depthwise table kernels, from their column panels). */
void eng_cpu_column_sums_u8(const uint8_t *cols, int rows, size_t ld, size_t n, int32_t *sums);

/* ---- 3x3 / 5x5 stride-1 "same" float convolution (conv_same_avx512.c, conv_same_gemm.c) -- */

/* The direct AVX-512 (F/BW/VL/DQ) 3x3 and 5x5, stride-1, same-padding float convolutions of
 * the avx512 set; same contracts as eng_kernels.conv_same_f32_forward / _backward_data /
 * _backward_weights. */
eng_conv_same_f32_forward_fn eng_cpu_conv_same_avx512_forward;
eng_conv_same_f32_backward_data_fn eng_cpu_conv_same_avx512_backward_data;
eng_conv_same_f32_backward_weights_fn eng_cpu_conv_same_avx512_backward_weights;

/* The same-padding convolutions of the avx2 set: im2col + eng_cpu_sgemm with the column
 * buffer in the calling thread's scratch (conv_same_gemm.c). Same contracts. */
eng_conv_same_f32_forward_fn eng_cpu_conv_same_gemm_forward;
eng_conv_same_f32_backward_data_fn eng_cpu_conv_same_gemm_backward_data;
eng_conv_same_f32_backward_weights_fn eng_cpu_conv_same_gemm_backward_weights;

/* ---- float depthwise convolution (depthwise_f32.c) ---------------------------------------- */

/* The direct depthwise kernels of the optimized sets (dilation 1, stride 1 or 2; other shapes
 * and a failed scratch allocation run the references). Same contracts as
 * eng_kernels.depthwise_f32_forward / _backward_data / _backward_weights. */
eng_depthwise_f32_forward_fn eng_cpu_depthwise_forward;
eng_depthwise_f32_backward_data_fn eng_cpu_depthwise_backward_data;
eng_depthwise_f32_backward_weights_fn eng_cpu_depthwise_backward_weights;
eng_depthwise_f32_backward_fn eng_cpu_depthwise_backward;

/* ---- fused approximate depthwise forward (lut_depthwise_avx512.c) ------------------------- */

/* The avx512 set's lut_depthwise_fused: stride 1 or 2, any kernel up to 64 taps, padding and
 * dilation, planes up to about 250 KiB of codes, tables whose products fit int16. */
eng_lut_depthwise_fused_fn eng_cpu_avx512_lut_depthwise_fused;

/* ---- helpers for table kernels (lut_common.c) ------------------------------------------ */

/* lut_conv2d as im2col_u8 of set k into a buffer of its own + k->lut_gemm (the reference when
 * the buffer cannot be had); returns their status (ENG_OK). */
eng_status eng_cpu_lut_conv2d_columns(const eng_kernels *k, const eng_lut *lut,
                                      const eng_conv_shape *s, int oc, const uint8_t *a,
                                      uint8_t pad_code, const uint8_t *w, int32_t *out)
    ENG_KERNEL_STATUS;

/* Marks in used[256] the weight codes that occur in w[0..count). */
void eng_lut_mark_used(const uint8_t *w, size_t count, bool used[256]);

/* True when every product of the used weight codes fits int16, so that a 16-bit kernel can
 * reproduce it (always true for ENG_LUT_DIRECT; sign-magnitude products reach +-65535). */
bool eng_lut_fits_int16(const eng_lut *lut, const bool used[256]);

/* True when the products are read as signed 16-bit values (signed or sign-magnitude). */
static inline bool eng_lut_products_signed(const eng_lut *lut)
{
    return lut->is_signed || lut->mode == ENG_LUT_SIGN_MAGNITUDE;
}

/* True when w is a weight code of lut: w < 2^w_bits, or for sign-magnitude tables an int8
 * whose magnitude is below 2^w_bits (the codes the quantizer gives). */
static inline bool eng_lut_code_valid(const eng_lut *lut, int w)
{
    if (lut->mode == ENG_LUT_SIGN_MAGNITUDE) {
        const int mag = (int8_t)w < 0 ? -(int8_t)w : (int8_t)w;
        return mag < 1 << lut->w_bits;
    }
    return w < 1 << lut->w_bits;
}

/* The byte planes of the table column of weight code w: column[a] is the low byte and
 * column[256 + a] the high byte of the 16-bit product of (a, w); for signed products the
 * high byte has its top bit flipped, i.e. product + 32768 is stored (products must fit int16:
 * eng_lut_fits_int16). */
void eng_lut_build_column(const eng_lut *lut, uint8_t w, uint8_t column[512]);

/* eng_lut_build_column for every used code w, into planes + w * 512 (256 * 512 bytes);
 * columns of unused codes are left untouched. */
void eng_lut_build_planes(const eng_lut *lut, const bool used[256], uint8_t *planes);

/* ---- residual decomposition (lut_fit.c) ------------------------------------------------ */

/* For weight code w: P(a, w) = slope[w] * value(a) + offset[w] + R(a, w) exactly, where
 * value(a) = (int8_t)a when signed_acts, else a. Only codes with usable[w] are decomposed
 * (0 <= R < 2^16); wide[w]: R reaches 256 and needs its high byte. An exact multiplier is
 * flat everywhere: the GEMM is then the int8 GEMM alone. */
struct eng_lut_fit {
    uint8_t planes[256 * 512]; /* code w: R's low bytes [a] at w * 512, high bytes at + 256 */
    /* classes <= 128 only (activation classes below): valid code w's column over the classes
     * (the products of each class's first code, bytes as eng_lut_build_column gives them):
     * low bytes [c] at w * 256, high bytes at w * 256 + 128; 64-byte aligned (eng_alloc).
     * Columns whose products do not fit int16 are not meaningful. */
    uint8_t class_planes[256 * 256];
    int32_t offset[256];
    int16_t slope[256];        /* [0, 255] for unsigned activations, else [-128, 127] */
    bool    usable[256];
    bool    wide[256];
    bool    flat[256];         /* R(a, w) == 0 for every a: the row is exactly linear */
    bool    signed_acts;
    /* Activation classes: codes a and b share a class when eng_lut_product(lut, a, w) ==
     * eng_lut_product(lut, b, w) for every valid weight code w (eng_lut_code_valid; kernels
     * use the classes only for those). Truncating multipliers ignore low activation bits
     * (mul8u_DM1: the lowest one, 128 classes); then a table column has only as many entries
     * as classes (lut_avx512_classes.c, lut_avx2.c). Classes are numbered by their first
     * code. */
    int     classes;           /* number of classes, 1..256 */
    int     class_shift;       /* s when class_of[a] == a >> s for every a, else -1 */
    uint8_t class_of[256];     /* class of activation code a */
};

/* lut->fit when the kernels can look up the columns of the used weight codes (used[w]) over
 * its activation classes: at most 128 classes and every used code valid (the class planes
 * hold only the valid codes' columns); else NULL. The one condition of the class paths of the
 * avx512 and avx2 sets (which add their own: products within int16, a shift for the fused
 * depthwise). */
const eng_lut_fit *eng_lut_class_fit(const eng_lut *lut, const bool used[256]);

/* True when the AVX-512 table GEMM takes the exact + residual path (lut_avx512_residual.c) for
 * these weights: lut->fit is set, the CPU has AVX-512 VNNI, every code of w ([m][k]) is
 * usable and at most half of the m * k terms are wide. */
bool eng_cpu_lut_residual_applies(const eng_lut *lut, int m, int k, const uint8_t *w);

/* True when the avx512 set's table GEMM takes the activation-class path (lut_avx512_classes.c)
 * for these weights: lut->fit is set with at most 128 activation classes, every code of w
 * ([m][k]) is valid and their products fit int16. */
bool eng_cpu_lut_classes_apply(const eng_lut *lut, int m, int k, const uint8_t *w);


#endif /* ENG_CPU_KERNELS_H */
