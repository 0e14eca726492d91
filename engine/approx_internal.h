/*
 * approx_internal.h - the eng_approx state and the helpers the ops_*.c files share (not public).
 */
#ifndef ENG_APPROX_INTERNAL_H
#define ENG_APPROX_INTERNAL_H

#include "eng_ops.h"

/* The part of a state that depends on its multiplier table alone (exact table, residual
 * decomposition, transposed table), shared by every state of the same table: approx.c. */
typedef struct approx_shared approx_shared;

/* How many shared table parts are alive (the layers of all networks hold them). */
int approx_shared_count(void);

struct eng_approx {
    eng_approx_cfg cfg;
    int            out_channels;
    int            weight_bits;     /* effective (cfg.weight_bits or the table's) */
    eng_lut        lut;             /* table in use, mode set, lut.fit from shared */
    approx_shared *shared;          /* one reference to the table's shared part (approx.c) */
    bool           has_lut_t;       /* lut_t is set (first small-batch forward) */
    eng_lut        lut_t;           /* the transposed table of shared (approx_gemm_forward) */
    int32_t        a_min, a_max;    /* activation code range */
    int32_t        w_min, w_max;    /* weight code range */
    float         *grad_a, *grad_w; /* table derivatives (table_gradient), see approx_grad_index */
    eng_observer   obs;             /* activation range */
    eng_qparams    act;             /* activation parameters of the last forward */
    eng_qparams   *wq;              /* [out_channels] weight parameters of the last forward */
};

/* Least work (values or multiply-adds) worth an OpenMP parallel region: smaller calls run on
 * one thread (same result: the split never changes a reduction's order). */
#define APPROX_PAR_MIN 32768
/* Outputs per block of a quantized depthwise forward (codes, int32 products and window sums
 * of a block kept in cache between the table kernel and the dequantization). */
#define QUANT_BLOCK (1 << 17)

/* Index of codes (a, w) in grad_a / grad_w. */
static inline size_t approx_grad_index(const eng_approx *q, int32_t a, int32_t w)
{
    return (size_t)(a - q->a_min) * (size_t)(q->w_max - q->w_min + 1) + (size_t)(w - q->w_min);
}

/* Bump allocation in a workspace: returns *p and advances it by bytes rounded up to 64. */
static inline void *approx_ws_take(unsigned char **p, size_t bytes)
{
    void *r = *p;
    *p += (bytes + 63) & ~(size_t)63;
    return r;
}

/* Bytes approx_ws_take takes for `bytes`. */
static inline size_t approx_ws_size(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

/* Observes x (per the observer mode and `training`) and sets q->act for this forward. The
 * batch min/max is a parallel reduction (exact in any order). */
void approx_act_prepare(eng_approx *q, const float *x, size_t count, bool training);

/* approx_act_prepare in two steps, for callers that compute the batch's min/max elsewhere
 * (the device): whether this forward needs it, then the update with it (lo, hi ignored when
 * not needed). */
bool approx_act_needs_range(const eng_approx *q, bool training);
void approx_act_set_range(eng_approx *q, float lo, float hi, bool training);

/* q->wq from weight ranges computed elsewhere: lohi[2o], lohi[2o+1] = min, max of channel o
 * (per channel), or lohi[0], lohi[1] of the whole tensor (per tensor), as approx_weight_prepare
 * derives them. */
void approx_weight_set_ranges(eng_approx *q, const float *lohi);

/* Computes q->wq from w[out_channels][per_channel] (per tensor or per channel). */
void approx_weight_prepare(eng_approx *q, const float *w, size_t per_channel);

/* Weight codes w -> codes[out_channels][per_channel] with q->wq, through k->quantize; sums[o]
 * = sum of row o's codes as integers (NULL = skip). Returns k->quantize's status. */
eng_status approx_weight_quantize(const eng_kernels *k, const eng_approx *q, const float *w,
                                  size_t per_channel, uint8_t *codes, int32_t *sums)
    ENG_KERNEL_STATUS;

/* The integer value of a stored code under the state's code range (signed or unsigned). */
static inline int32_t approx_code_value(const eng_approx *q, uint8_t code)
{
    return q->a_min < 0 ? (int32_t)(int8_t)code : (int32_t)code;
}

/* y[o][p] = dequantized acc[o][p] (+ bias[o]) per the overview of eng_ops.h, with activation
 * parameters act and weight parameters wq[o]. asum: sums of activation codes per output
 * position, asum[o * asum_stride + p] (asum_stride 0: shared by all channels); wsum[o]: sums of
 * weight codes; K: products per output. Both sums are used (and may be NULL) only for asym.
 * ep (NULL: none): the epilogue applied to each dequantized value before it is stored.
 * Allocates nothing: returns ENG_OK (the type the device's dequantization shares). */
eng_dequantize_fn approx_dequantize;

/* Fake-quantized weights wq[o][per_channel] with q->wq. */
void approx_weight_fake(const eng_approx *q, const float *w, size_t per_channel, float *wq);

/* dw[o][i] = 0 where w[o][i] was clipped by its channel's parameters (in place). */
void approx_weight_mask(const eng_approx *q, const float *w, size_t per_channel, float *dw);

/* Table-gradient GEMM backward for acc = T(cols, w) with cols [K][P] codes, w [M][K] codes:
 *   dcols[k][p] = sum_m dy[m][p] * sw[m] * (dT/da - zw[m])      (dcols NULL = skip)
 *   dw[m][k]    = sum_p dy[m][p] * sa * (dT/dw - za)
 * (zero points only for ASYM). Sums in a fixed order. */
void approx_table_gemm_backward(const eng_approx *q, int M, int K, size_t P,
                                const uint8_t *wcodes, const uint8_t *cols, const float *dy,
                                float *dcols, float *dw);

/* eng_fake_quantize / eng_fake_quantize_backward over large arrays, split across threads
 * (elementwise, so the result does not depend on the split). */
void approx_fake_quantize_par(const eng_qparams *p, const float *x, size_t count, float *y);
void approx_fake_quantize_backward_par(const eng_qparams *p, const float *x, const float *dy,
                                       size_t count, float *dx);

/* sums[p] = sum over k of cols[k][p] (unsigned codes, the ASYM activation window sums). */
void approx_column_sums(const uint8_t *cols, int K, size_t P, int32_t *sums);

/* The column sums of im2col_u8(s, x, pad) without the columns, for a stride-1 convolution
 * whose output has the input's size (approx_conv_sums_apply): the channel sums of every
 * position (chan_sums[n*h*w], scratch), then a sum over the kernel taps, pad * c outside the
 * image. Integer sums: identical to approx_column_sums on the columns. */
bool approx_conv_sums_apply(const eng_conv_shape *s);
void approx_conv_column_sums(const eng_conv_shape *s, const uint8_t *x, uint8_t pad,
                             int32_t *chan_sums, int32_t *sums);

/* db[o] = sum over positions of dy[o][.] (double accumulation, fixed order). */
void approx_bias_backward(int channels, size_t positions, const float *dy, float *db);

/* ------------------------------------------------------------------------------------------
 * The quantized GEMM layer (conv2d, dense): M outputs, K products per output, P output
 * positions; activations as columns [K][P], or as CNHW codes whose im2col the kernel reads
 * without building it (k->lut_conv2d).
 * ---------------------------------------------------------------------------------------- */

/* The activation codes of a quantized GEMM. */
typedef struct approx_cols {
    const uint8_t        *codes; /* cols[K][P], or CNHW codes of conv's input when conv is set */
    const eng_conv_shape *conv;  /* NULL: codes is the column matrix */
    uint8_t               pad;   /* conv: the code outside the image (activation zero point) */
} approx_cols;

/* The column matrix cols[K][P]. */
static inline approx_cols approx_cols_matrix(const uint8_t *cols)
{
    return (approx_cols){cols, NULL, 0};
}

/* The im2col of CNHW codes for convolution s, never built. */
static inline approx_cols approx_cols_conv(const uint8_t *codes, const eng_conv_shape *s,
                                           uint8_t pad)
{
    return (approx_cols){codes, s, pad};
}

/* The table GEMM kernels' blocking (AVX-512 sets): panels of 256 columns, tiles of 16 rows. */
#define APPROX_LUT_PANEL 256
#define APPROX_LUT_TILE  16

/* Whether approx_gemm_forward computes a matrix-columns GEMM of this shape transposed (for an
 * 8x8 table): acc^T = the P columns' codes as the rows against the weight codes transposed (M
 * wide columns) through the transposed table. The rule: fewer columns than one panel, and the
 * lanes each way runs, rows rounded up to tiles times columns rounded up to panels, fewer
 * transposed (ties: as is). Measured (docs/kernels.md): a dense layer of 1000 outputs at
 * batch 8 runs 24x faster transposed; from one panel of columns on, the idle lanes saved do
 * not pay the two transposes (ResNet50V2's 1x1 layers at 7x7, batch 8, 392 columns: 36 layers
 * 330 -> 417 ms with mul8u_2HH when transposed). */
bool approx_gemm_transposed_shape(int M, int K, size_t P);

/* Workspace bytes of approx_gemm_forward. */
size_t approx_gemm_forward_ws(int M, int K, size_t P);

/* Workspace bytes of approx_gemm_codes. */
size_t approx_gemm_codes_ws(int M, size_t P);

/* On codes: acc = table products (k->lut_gemm or k->lut_conv2d), exact zero-point terms
 * (asym), dequantization with act / wq[M], bias and the epilogue ep (NULL: none) into y[M][P].
 * These approx_gemm_* return the status of the kernels they call (ENG_OK on the CPU).
 * col_sums: the column sums of
 * the columns when the caller has them (approx_conv_column_sums), else NULL (computed here
 * when asym; then the columns must be a matrix). */
eng_status approx_gemm_codes(const eng_kernels *k, const eng_lut *lut, bool asym,
                             const eng_qparams *act, const eng_qparams *wq, int M, int K,
                             size_t P, const approx_cols *cols, const int32_t *col_sums,
                             const uint8_t *wcodes, const float *bias, const eng_epilogue *ep,
                             int32_t *acc, float *y, unsigned char *ws) ENG_KERNEL_STATUS;

/* Weight parameters and codes, then approx_gemm_codes. Needs q->act set (approx_act_prepare).
 * The same results two faster ways on a column matrix without col_sums: many columns in
 * blocks whose int32 products stay in cache through the dequantization (acc is scratch then);
 * few columns transposed (approx_gemm_transposed_shape). */
eng_status approx_gemm_forward(const eng_kernels *k, eng_approx *q, int M, int K, size_t P,
                               const approx_cols *cols, const int32_t *col_sums, const float *w,
                               const float *bias, const eng_epilogue *ep, float *y,
                               unsigned char *ws) ENG_KERNEL_STATUS;

/* STE backward given fq(x) as columns cols_fq[K][P]: dw = mask_w * (dy cols_fq^T), dcols =
 * fq(w)^T dy (NULL = skip). ws: M*K floats. Recomputes the weight parameters from w. */
eng_status approx_gemm_backward_ste(const eng_kernels *k, eng_approx *q, int M, int K,
                                    size_t P, const float *cols_fq, const float *w,
                                    const float *dy, float *dcols, float *dw,
                                    unsigned char *ws) ENG_KERNEL_STATUS;

/* Validates the state of a forward/backward call: made for out_channels (or NULL). */
eng_status approx_check_state(const eng_approx *q, int out_channels, const char *op);

/* Validates a backward call: dw given, and with a state, a forward ran since the last
 * multiplier change (its activation parameters are needed). */
eng_status approx_check_backward(const eng_approx *q, const float *dw, const char *op);

#endif /* ENG_APPROX_INTERNAL_H */
