/*
 * lut_depthwise_avx512.c - the fused approximate depthwise forward of the avx512 set: float
 * input to float output, a group of image planes of one channel at a time while it is in L1.
 *
 * Per group (channel c, images b0 .. b0 + group): the floats are quantized (the codes of
 * avx512_quantize) into padded code planes stacked one below the other, split for stride 2 into
 * four phases (even/odd rows x even/odd columns), so that every kernel tap of every output is a
 * plain shifted load: output (b, oy, ox) at flat position (b * block + oy) * pitch + ox reads
 * tap (i, j) at the same position plus a constant offset in the tap's phase. The outputs are
 * computed on that pitch (the columns past ow and the rows past oh are computed and dropped).
 * For 64 outputs at a time, each tap's codes are looked up in the tap's table column (two byte
 * planes, masked vpermi2b, as the table GEMM does; for a table that ignores low activation
 * bits, one unmasked vpermi2b per plane on the shifted codes, as lut_avx512_classes.c) and
 * summed with the 16-bit word trick
 * together with the codes themselves (the window sums); then the integer sums become floats
 * with the operations of approx_dequantize (and its epilogue) in their order, and the valid
 * lanes are compressed into the output rows. The integer sums are exact and the float
 * operations the reference's: the result is bit-identical to quantize + lut_depthwise + the
 * dequantization (eng_kernels.h).
 *
 * Parallel over (channel, group) pairs with a static schedule (the split depends only on the
 * shape; each output is computed by one thread in a fixed order). Scratch, in the calling
 * thread's eng_cpu_workspace: the table columns of the used weight codes (built once per call),
 * the bitmap of the valid positions, and each thread's code planes.
 */
#include "cpu_kernels.h"
#include "eng_ops.h"

#include <math.h>
#include <string.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")

#include "lut_avx512_inl.h"

enum {
    MAX_TAPS = 64,          /* kh * kw handled (16-bit sums stay exact up to 257 terms) */
    MAX_PLANE = 1 << 18,    /* bytes of one thread's code planes, larger images fall back */
    GROUP_BYTES = 8192      /* padded code bytes of a group of images (more when one is) */
};

/* The geometry of the code planes: a group of images of one channel stacked vertically, each
 * padded (its rows rounded up to a multiple of the stride), split into stride^2 phases. */
typedef struct dw_geom {
    int phases;       /* stride * stride */
    int pitch;        /* row pitch of every phase plane, also the output's computing pitch */
    int block;        /* rows of one image in a phase plane */
    int group;        /* images per group */
    size_t phase;     /* bytes of a phase plane, slack for the dropped lanes included */
    int off[MAX_TAPS];    /* offset of tap t in its phase plane */
    int ph[MAX_TAPS];     /* phase plane of tap t */
} dw_geom;

static bool dw_geom_init(const eng_conv_shape *s, dw_geom *g)
{
    const int st = s->stride, taps = s->kh * s->kw;
    if ((st != 1 && st != 2) || taps > MAX_TAPS)
        return false;
    const int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad;
    g->phases = st * st;
    g->pitch = (wp + st - 1) / st;
    g->block = (hp + st - 1) / st;
    const size_t image = (size_t)g->block * g->pitch * g->phases;
    g->group = image >= GROUP_BYTES ? 1 : (int)(GROUP_BYTES / image);
    if (g->group > s->n)
        g->group = s->n;
    /* the last vector reads up to 63 lanes past the positions, and a tap's offset past them */
    g->phase = ((size_t)(g->group * g->block + 1) * g->pitch + 64 + 63) / 64 * 64;
    if (g->phase * g->phases > MAX_PLANE)
        return false;
    for (int i = 0; i < s->kh; i++)
        for (int j = 0; j < s->kw; j++) {
            const int di = i * s->dilation, dj = j * s->dilation, t = i * s->kw + j;
            g->ph[t] = (di % st) * st + dj % st;
            g->off[t] = (di / st) * g->pitch + dj / st;
        }
    return true;
}

/* Output positions computed for a group of `images`: up to the last image's last output row. */
static size_t dw_positions(const eng_conv_shape *s, const dw_geom *g, int images)
{
    return ((size_t)(images - 1) * g->block + s->oh) * g->pitch;
}

/* Codes of the row x[0..w) to dst[0..w). */
static inline void quantize_row(const avx512_quant *vq, const float *x, int w, uint8_t *dst)
{
    for (int i = 0; i < w; i += 16) {
        const __mmask16 m = w - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (w - i)) - 1);
        _mm_mask_storeu_epi8(dst + i, m, avx512_quantize16(vq, x + i, m));
    }
}

/* The byte indices of the even and odd lanes of two vectors (vpermt2b). */
static const uint8_t even_lanes[64] = {
    0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
    44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78, 80, 82, 84, 86,
    88, 90, 92, 94, 96, 98, 100, 102, 104, 106, 108, 110, 112, 114, 116, 118, 120, 122, 124, 126};
static const uint8_t odd_lanes[64] = {
    1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43,
    45, 47, 49, 51, 53, 55, 57, 59, 61, 63, 65, 67, 69, 71, 73, 75, 77, 79, 81, 83, 85, 87,
    89, 91, 93, 95, 97, 99, 101, 103, 105, 107, 109, 111, 113, 115, 117, 119, 121, 123, 125, 127};

/* The code planes of `images` image planes x [images][h][w] of one channel: stride 1, the
 * padded images one below the other; stride 2, their four phases, through row (a padded row
 * of the pitch * 2 bytes, borders holding the pad code). Only the images' own positions are
 * written: the padding keeps the pad code it was given. */
static void fill_planes(const eng_conv_shape *s, const dw_geom *g, const avx512_quant *vq,
                        const float *x, int images, uint8_t *planes, uint8_t *row)
{
    const __m512i even = _mm512_loadu_si512(even_lanes), odd = _mm512_loadu_si512(odd_lanes);
    for (int b = 0; b < images; b++)
        for (int iy = 0; iy < s->h; iy++, x += s->w) {
            const int r = iy + s->pad; /* padded row in the image's block */
            if (s->stride == 1) {
                quantize_row(vq, x, s->w,
                             planes + ((size_t)b * g->block + r) * g->pitch + s->pad);
                continue;
            }
            quantize_row(vq, x, s->w, row + s->pad);
            uint8_t *p0 = planes + (size_t)((r & 1) * 2) * g->phase +
                          ((size_t)b * g->block + (r >> 1)) * g->pitch;
            uint8_t *p1 = p0 + g->phase;
            for (int c0 = 0; c0 < 2 * g->pitch; c0 += 128) {
                const __m512i lo = _mm512_loadu_si512(row + c0);
                const __m512i hi = _mm512_loadu_si512(row + c0 + 64);
                const __mmask64 m = lane_mask(g->pitch - c0 / 2);
                _mm512_mask_storeu_epi8(p0 + c0 / 2, m, _mm512_permutex2var_epi8(lo, even, hi));
                _mm512_mask_storeu_epi8(p1 + c0 / 2, m, _mm512_permutex2var_epi8(lo, odd, hi));
            }
        }
}

/* acc[q] (lanes 16q .. 16q+15) = the int32 sums of word-trick accumulators (see
 * flush_vector), bias subtracted. */
static inline __attribute__((always_inline)) void widen_sums(__m512i awl, __m512i aol,
                                                             __m512i awh, __m512i aoh,
                                                             __m512i bias, __m512i acc[4])
{
    const __m512i idx_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                              23);
    const __m512i idx_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                                              15, 31);
    const __m512i el = _mm512_sub_epi16(awl, _mm512_slli_epi16(aol, 8));
    const __m512i eh = _mm512_sub_epi16(awh, _mm512_slli_epi16(aoh, 8));
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const __m512i even = _mm512_sub_epi32(widen_half(el, eh, h), bias);
        const __m512i odd = _mm512_sub_epi32(widen_half(aol, aoh, h), bias);
        acc[2 * h] = _mm512_permutex2var_epi32(even, idx_lo, odd);
        acc[2 * h + 1] = _mm512_permutex2var_epi32(even, idx_hi, odd);
    }
}

/* The per-channel constants of the dequantization (approx_dequantize's). */
typedef struct dw_chan {
    __m512d scale;
    __m512i offset, zw;
    __m512 b, es, et;
} dw_chan;

/* 16 outputs: (float)(scale * (double)(acc + offset - zw * asum)) + b, then the epilogue
 * (ACT < 0: none), the operations of dequantize_row / dequantize_row_epilogue. The integer
 * terms are below 2^24 in magnitude (at most MAX_TAPS 16-bit products and code sums), so int32
 * arithmetic gives the reference's int64 values. */
static inline __attribute__((always_inline)) __m512 dequant16(const dw_chan *k, __m512i acc,
                                                              const __m512i *asum, int act)
{
    __m512i v = _mm512_add_epi32(acc, k->offset);
    if (asum)
        v = _mm512_sub_epi32(v, _mm512_mullo_epi32(k->zw, *asum));
    const __m512d lo = _mm512_mul_pd(k->scale, _mm512_cvtepi32_pd(_mm512_castsi512_si256(v)));
    const __m512d hi = _mm512_mul_pd(k->scale,
                                     _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(v, 1)));
    __m512 f = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)),
                                  _mm512_cvtpd_ps(hi), 1);
    f = _mm512_add_ps(f, k->b);
    if (act < 0)
        return f;
    f = _mm512_add_ps(_mm512_mul_ps(f, k->es), k->et);
    if (act == ENG_EPILOGUE_NONE)
        return f;
    /* z > 0 ? z : 0 (vmaxps returns its second operand for NaN and for two zeros) */
    f = _mm512_max_ps(f, _mm512_setzero_ps());
    return act == ENG_EPILOGUE_RELU6 ? _mm512_min_ps(f, _mm512_set1_ps(6.0f)) : f;
}

/* The word-trick accumulators of 64 outputs: products (low and high byte planes) and codes. */
typedef struct dw_acc {
    __m512i awl, aol, awh, aoh, sw, so;
} dw_acc;

/* The activation classes of a truncating table (cls: class_of[a] = a >> shift): a column is
 * 128 entries per byte plane (eng_lut_fit.class_planes), looked up with one permute each. */
typedef struct dw_class {
    __m128i shift;
    __m512i keep; /* 0xff >> shift in every byte */
} dw_class;

/* Adds the products of the 64 codes x with the table column col (its 8 vectors; CLS: its 4
 * vectors over the classes of cls) to a, and the codes themselves for asym. */
static inline __attribute__((always_inline)) void tap_add(const __m512i col[8], __m512i x,
                                                          bool asym, const dw_class *cls,
                                                          const bool CLS, dw_acc *a)
{
    __m512i xl, xh;
    if (CLS) {
        const __m512i c = _mm512_and_si512(_mm512_srl_epi16(x, cls->shift), cls->keep);
        xl = _mm512_permutex2var_epi8(col[0], c, col[1]);
        xh = _mm512_permutex2var_epi8(col[2], c, col[3]);
    } else {
        const __mmask64 top = _mm512_movepi8_mask(x);
        const __mmask64 bottom = _knot_mask64(top);
        xl = _mm512_mask2_permutex2var_epi8(col[0], x, bottom, col[1]);
        xl = _mm512_mask2_permutex2var_epi8(col[2], xl, top, col[3]);
        xh = _mm512_mask2_permutex2var_epi8(col[4], x, bottom, col[5]);
        xh = _mm512_mask2_permutex2var_epi8(col[6], xh, top, col[7]);
    }
    word_trick_add(xl, xh, &a->awl, &a->aol, &a->awh, &a->aoh);
    if (asym) {
        a->sw = _mm512_add_epi16(a->sw, x);
        a->so = _mm512_add_epi16(a->so, _mm512_srli_epi16(x, 8));
    }
}

/* The lanes vm of the 64 outputs in a, dequantized, to *out (advanced past them); a full
 * vector is stored when it stays below end (the lanes past the valid ones are rewritten by the
 * next store), else only the valid lanes. */
static inline __attribute__((always_inline)) void store_outputs(const dw_acc *a, uint64_t vm,
                                                                __m512i bias, bool asym,
                                                                const dw_chan *k, int act,
                                                                float **out, const float *end)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i acc[4], sums[4] = {zero, zero, zero, zero};
    widen_sums(a->awl, a->aol, a->awh, a->aoh, bias, acc);
    if (asym)
        widen_sums(a->sw, a->so, zero, zero, zero, sums);
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        const __mmask16 m = (__mmask16)(vm >> (16 * q));
        if (m == 0)
            continue;
        const __m512 f = _mm512_maskz_compress_ps(m, dequant16(k, acc[q], asym ? &sums[q] : NULL,
                                                               act));
        const int n = __builtin_popcount(m);
        if (*out + 16 <= end)
            _mm512_storeu_ps(*out, f);
        else
            _mm512_mask_storeu_ps(*out, (__mmask16)((1u << n) - 1), f);
        *out += n;
    }
}

/* One group's outputs from its code planes: out[0, images * oh * ow) gets the valid lanes of
 * the first `positions` (valid: the bitmap of the positions of an output row and column, the
 * rest being the dropped columns past ow and rows past oh). Two vectors at a time share each
 * tap's column loads. */
static inline __attribute__((always_inline)) void plane_outputs(
    const dw_geom *g, int taps, const uint8_t *const cols[], const uint8_t *planes,
    const uint64_t *valid, size_t positions, bool sgn, bool asym, const dw_chan *k, int act,
    const dw_class *cls, const bool CLS, float *out, const float *end)
{
    const __m512i bias = _mm512_set1_epi32(sgn ? 32768 * taps : 0);
    const __m512i zero = _mm512_setzero_si512();
    const uint8_t *base[MAX_TAPS];
    for (int t = 0; t < taps; t++)
        base[t] = planes + (size_t)g->ph[t] * g->phase + g->off[t];
    for (size_t p0 = 0; p0 < positions; p0 += 128) {
        /* the bitmap is a full group's: in a shorter group, lanes past positions would be the
         * next image's */
        const size_t left = positions - p0;
        const uint64_t v0 = valid[p0 / 64] & lane_mask(left < 64 ? (int)left : 64);
        const uint64_t v1 =
            left > 64 ? valid[p0 / 64 + 1] & lane_mask(left < 128 ? (int)left - 64 : 64) : 0;
        dw_acc a0 = {zero, zero, zero, zero, zero, zero}, a1 = a0;
        for (int t = 0; t < taps; t++) {
            const uint8_t *c = cols[t];
            __m512i col[8];
            col[0] = _mm512_load_si512(c), col[1] = _mm512_load_si512(c + 64);
            col[2] = _mm512_load_si512(c + 128), col[3] = _mm512_load_si512(c + 192);
            if (!CLS) {
                col[4] = _mm512_load_si512(c + 256), col[5] = _mm512_load_si512(c + 320);
                col[6] = _mm512_load_si512(c + 384), col[7] = _mm512_load_si512(c + 448);
            }
            tap_add(col, _mm512_loadu_si512(base[t] + p0), asym, cls, CLS, &a0);
            if (v1)
                tap_add(col, _mm512_loadu_si512(base[t] + p0 + 64), asym, cls, CLS, &a1);
        }
        store_outputs(&a0, v0, bias, asym, k, act, &out, end);
        if (v1)
            store_outputs(&a1, v1, bias, asym, k, act, &out, end);
    }
}

/* plane_outputs with asym, the activation and the class path (cls not NULL) constants. */
static void plane_outputs_any(const dw_geom *g, int taps, const uint8_t *const cols[],
                              const uint8_t *planes, const uint64_t *valid, size_t positions,
                              bool sgn, bool asym, const dw_chan *k, int act,
                              const dw_class *cls, float *out, const float *end)
{
#define DW_OUTPUTS(ASYM, ACT)                                                                  \
    (cls ? plane_outputs(g, taps, cols, planes, valid, positions, sgn, ASYM, k, ACT, cls, true,  \
                         out, end)                                                              \
         : plane_outputs(g, taps, cols, planes, valid, positions, sgn, ASYM, k, ACT, NULL, false, \
                         out, end))
    switch (act) {
    case -1: asym ? DW_OUTPUTS(true, -1) : DW_OUTPUTS(false, -1); break;
    case ENG_EPILOGUE_NONE:
        asym ? DW_OUTPUTS(true, ENG_EPILOGUE_NONE) : DW_OUTPUTS(false, ENG_EPILOGUE_NONE);
        break;
    case ENG_EPILOGUE_RELU:
        asym ? DW_OUTPUTS(true, ENG_EPILOGUE_RELU) : DW_OUTPUTS(false, ENG_EPILOGUE_RELU);
        break;
    default:
        asym ? DW_OUTPUTS(true, ENG_EPILOGUE_RELU6) : DW_OUTPUTS(false, ENG_EPILOGUE_RELU6);
        break;
    }
#undef DW_OUTPUTS
}

eng_status eng_cpu_avx512_lut_depthwise_fused(const eng_lut *lut, const eng_conv_shape *s,
                                              const float *x, const struct eng_qparams *act,
                                              const uint8_t *w, const struct eng_qparams *wq,
                                              const int32_t *wsum, bool asym, const float *bias,
                                              const struct eng_epilogue *ep, float *y,
                                              bool *done)
{
    *done = false;
    dw_geom g;
    if (!dw_geom_init(s, &g))
        return ENG_OK;
    const int taps = s->kh * s->kw;
    bool used[256];
    eng_lut_mark_used(w, (size_t)s->c * taps, used);
    if (!eng_lut_fits_int16(lut, used)) /* 17-bit sign-magnitude products */
        return ENG_OK;
    const int threads = eng_cpu_threads();
    const size_t positions = dw_positions(s, &g, g.group);
    const size_t words = (positions + 63) / 64;
    const size_t row_bytes = ((size_t)2 * g.pitch + 128 + 63) / 64 * 64;
    const size_t per_thread = g.phase * g.phases + row_bytes;
    const size_t bitmap = (words * sizeof(uint64_t) + 63) / 64 * 64;
    unsigned char *ws = eng_cpu_workspace(PLANES_SIZE + bitmap + per_thread * (size_t)threads);
    if (ws == NULL)
        return ENG_OK;
    /* truncating tables: the columns over the activation classes, already in the fit */
    const eng_lut_fit *fit = eng_lut_class_fit(lut, used);
    const bool by_class = fit != NULL && fit->class_shift >= 0;
    const dw_class cls = {_mm_cvtsi32_si128(by_class ? fit->class_shift : 0),
                          _mm512_set1_epi8((char)(0xff >> (by_class ? fit->class_shift : 0)))};
    uint8_t *planes = by_class ? (uint8_t *)fit->class_planes : ws;
    const size_t column = by_class ? 256 : 512;
    uint64_t *valid = (uint64_t *)(ws + PLANES_SIZE);
    if (!by_class)
        eng_lut_build_planes(lut, used, planes);
    memset(valid, 0, words * sizeof(uint64_t));
    for (size_t p = 0; p < positions; p++)
        if ((int)(p % (size_t)g.pitch) < s->ow &&
            (int)(p / (size_t)g.pitch % (size_t)g.block) < s->oh)
            valid[p / 64] |= (uint64_t)1 << (p % 64);

    const bool sgn = eng_lut_products_signed(lut);
    const uint8_t pad = (uint8_t)act->zero_point;
    const int64_t za = act->zero_point;
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
    const int groups = (s->n + g.group - 1) / g.group, tasks = s->c * groups;
    const int ea = ep ? (int)ep->act : -1;
    const avx512_quant vq = avx512_quant_make(act->scale, act->zero_point, act->qmin, act->qmax);

#pragma omp parallel num_threads(threads) \
    if (threads > 1 && tasks > 1 && (double)s->c * s->n * out_plane * taps > 1e6)
    {
        unsigned char *mine = ws + PLANES_SIZE + bitmap + per_thread * (size_t)eng_cpu_thread_id();
        uint8_t *cplanes = mine, *row = mine + g.phase * g.phases;
        memset(mine, pad, per_thread);
        const uint8_t *cols[MAX_TAPS];
        dw_chan k = {_mm512_setzero_pd(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                     _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        int chan = -1;
#pragma omp for schedule(static)
        for (int task = 0; task < tasks; task++) {
            const int c = task / groups, b0 = task % groups * g.group;
            const int images = s->n - b0 < g.group ? s->n - b0 : g.group;
            const size_t first = (size_t)c * s->n + b0; /* plane of the group's first image */
            if (c != chan) {
                chan = c;
                for (int t = 0; t < taps; t++)
                    cols[t] = planes + (size_t)w[(size_t)c * taps + t] * column;
                const int64_t zw = wq[c].zero_point;
                const int64_t offset = asym ? (int64_t)taps * za * zw - za * (int64_t)wsum[c] : 0;
                k.scale = _mm512_set1_pd((double)act->scale * wq[c].scale);
                k.offset = _mm512_set1_epi32((int32_t)offset);
                k.zw = _mm512_set1_epi32((int32_t)zw);
                k.b = _mm512_set1_ps(bias ? bias[c] : 0.0f);
                k.es = _mm512_set1_ps(ep ? ep->scale[c] : 1.0f);
                k.et = _mm512_set1_ps(ep ? ep->shift[c] : 0.0f);
            }
            fill_planes(s, &g, &vq, x + first * in_plane, images, cplanes, row);
            if (task + 1 < tasks) { /* the next group's floats arrive while this one computes */
                const int nb0 = (task + 1) % groups * g.group;
                const size_t next = (size_t)((task + 1) / groups) * s->n + nb0;
                const size_t count =
                    (size_t)(s->n - nb0 < g.group ? s->n - nb0 : g.group) * in_plane;
                for (size_t i = 0; i < count; i += 16)
                    _mm_prefetch((const char *)(x + next * in_plane + i), _MM_HINT_T1);
            }
            float *out = y + first * out_plane;
            plane_outputs_any(&g, taps, cols, cplanes, valid, dw_positions(s, &g, images), sgn,
                              asym, &k, ea, by_class ? &cls : NULL, out,
                              out + images * out_plane);
        }
    }
    *done = true;
    return ENG_OK;
}

#pragma GCC pop_options
