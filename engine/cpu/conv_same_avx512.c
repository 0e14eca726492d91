/*
 * conv_same_avx512.c - direct (im2col-free) AVX-512 float k x k convolution, k = 3 or 5, stride
 * 1, same padding (k/2), on CNHW tensors: forward, backward data and backward weights
 * (docs/kernels.md).
 *
 * Positions are flattened over the batch, p = (b*h + i)*w + j < P = n*h*w, and a tap (ky, kx)
 * of the kernel is the shift p + (ky-r)*w + (kx-r), r = k/2, of the input row of a channel.
 * Whether that tap lies inside the image depends only on p mod h*w: a table codes[q] (k*k bits,
 * one per tap, for q < h*w + 16, wrapping around the image) gives it, and vptestmd turns 16
 * codes into the load masks of 16 positions. Masked loads zero-fill the padding (and never
 * fault on masked lanes), so vectors may cross row and image borders freely. Every loop over
 * taps is inlined with k a constant (always_inline helpers called as k == 3 or 5).
 *
 * Forward: a tile of 48 positions (3 zmm) x a block of 8 output channels = 24 accumulators;
 * per tap and input channel, 3 masked loads and 8 broadcast weights (packed [tap][c][8]) feed
 * 24 FMAs. Backward data is the same kernel on dy with the weights transposed and flipped.
 * Backward weights: a tile is (block of output channels, group of 8 input channels); per
 * input channel and tap group one accumulator per output channel and tap (3x3: 3 channels x
 * all 9 taps; 5x5: 4 channels x the 5 taps of one kernel row, 5 groups) runs over the
 * positions in chunks of 16 with precomputed per-chunk tap masks, in passes of 2048 positions
 * (dy rows copied per pass), and they are summed horizontally at the end.
 *
 * Threads: forward tiles are chunks of positions, backward-weight tiles (block, group) pairs,
 * spread by a static OpenMP schedule. Every output element is computed by one thread in a fixed
 * order, so results do not depend on the thread count. Scratch (packed weights, codes, masks,
 * partial sums) comes from the calling thread's eng_cpu_workspace; without memory the
 * reference runs.
 */
#include "cpu_kernels.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq")

enum {
    FWD_OB = 8,         /* output channels per forward block */
    FWD_V = 3,          /* vectors of 16 positions per forward tile */
    FWD_CHUNK = 16 * FWD_V,
    DW_CG = 8,          /* input channels per backward-weights tile */
    DW_OB3 = 3,         /* output channels per backward-weights tile, 3x3 (cs_dw_ob) */
    DW_OB5 = 4,         /* the same, 5x5 */
    DW_OB_MAX = DW_OB5,
    DW_ACC = 27,        /* most accumulators (output channels x taps) of one tap group */
    DW_GROUPS = 5,      /* most tap groups per tile (the rows of a 5x5 kernel) */
    DW_PBLOCK = 128,    /* chunks of 16 positions per pass of a backward-weights tile */
    TAPS_MAX = 25,      /* taps of a 5x5 kernel */
    CODES_EXTRA = 16    /* codes past h*w, so that 16 codes can be read from any q < h*w */
};

/* codes[q], q < h*w + CODES_EXTRA: bit ky*k + kx set when tap (ky, kx) of the k x k kernel at
 * plane position q mod h*w is inside the h x w image. */
static void cs_codes(int k, int h, int w, uint32_t *codes)
{
    const int hw = h * w, r = k / 2;
    for (int q = 0; q < hw + CODES_EXTRA; q++) {
        int rem = q % hw, y = rem / w, x = rem % w;
        uint32_t bits = 0;
        for (int t = 0; t < k * k; t++) {
            int iy = y + t / k - r, ix = x + t % k - r;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                bits |= 1u << t;
        }
        codes[q] = bits;
    }
}

/* Flattened offset of tap t of a k x k kernel. */
static inline ptrdiff_t cs_offset(int k, int w, int t)
{
    return (ptrdiff_t)(t / k - k / 2) * w + (t % k - k / 2);
}

static size_t cs_align(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

/* The tap masks of the 16 positions from p on, positions >= P cleared. */
static inline __attribute__((always_inline)) void
cs_masks(int k, const uint32_t *codes, size_t hw, size_t p, size_t P, __mmask16 *m, int stride)
{
    const size_t left = p < P ? P - p : 0;
    const __mmask16 tail = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    const __m512i cv = _mm512_loadu_si512((const void *)(codes + p % hw));
    for (int t = 0; t < k * k; t++)
        m[t * stride] = _mm512_test_epi32_mask(cv, _mm512_set1_epi32((int)(1u << t))) & tail;
}

/* Chunk ch of the forward of a k x k kernel (k a constant after inlining):
 * y[o][p] = sum_{t, c} wp[(blk*k*k + t)*cin*8 + c*8 + o%8] * x[c][p + offset(t)] (+ bias[o]),
 * o < cout, p in the chunk's 48 positions below P; masked taps read 0. */
static inline __attribute__((always_inline)) void
cs_forward_chunk(int k, ptrdiff_t ch, size_t P, size_t hw, int w, int cin, int cout,
                 const float *x, const float *wp, const float *bias, const uint32_t *codes,
                 float *y)
{
    const int taps = k * k, nblk = (cout + FWD_OB - 1) / FWD_OB;
    const size_t p0 = (size_t)ch * FWD_CHUNK;
    __mmask16 m[TAPS_MAX][FWD_V]; /* tap masks of the vectors */
    for (int v = 0; v < FWD_V; v++)
        cs_masks(k, codes, hw, p0 + (size_t)v * 16, P, &m[0][v], FWD_V);
    for (int blk = 0; blk < nblk; blk++) {
        __m512 acc[FWD_OB][FWD_V];
#pragma GCC unroll 32
        for (int j = 0; j < FWD_OB * FWD_V; j++)
            acc[j / FWD_V][j % FWD_V] = _mm512_setzero_ps();
        const float *wq = wp + (size_t)blk * taps * cin * FWD_OB;
        for (int t = 0; t < taps; t++) {
            __mmask16 km[FWD_V];
#pragma GCC unroll 4
            for (int v = 0; v < FWD_V; v++)
                km[v] = m[t][v];
            const float *xs = x + (ptrdiff_t)p0 + cs_offset(k, w, t);
            for (int c = 0; c < cin; c++, xs += P, wq += FWD_OB) {
                __m512 a[FWD_V];
#pragma GCC unroll 4
                for (int v = 0; v < FWD_V; v++)
                    a[v] = _mm512_maskz_loadu_ps(km[v], xs + 16 * v);
#pragma GCC unroll 8
                for (int j = 0; j < FWD_OB; j++) {
                    const __m512 wv = _mm512_set1_ps(wq[j]);
#pragma GCC unroll 4
                    for (int v = 0; v < FWD_V; v++)
                        acc[j][v] = _mm512_fmadd_ps(a[v], wv, acc[j][v]);
                }
            }
        }
        const int nv = cout - blk * FWD_OB < FWD_OB ? cout - blk * FWD_OB : FWD_OB;
#pragma GCC unroll 8
        for (int j = 0; j < FWD_OB; j++) {
            if (j >= nv)
                break;
            const int o = blk * FWD_OB + j;
            const __m512 b = _mm512_set1_ps(bias ? bias[o] : 0.0f);
#pragma GCC unroll 4
            for (int v = 0; v < FWD_V; v++) {
                const size_t pv = p0 + (size_t)v * 16, left = pv < P ? P - pv : 0;
                const __mmask16 tail = left >= 16 ? (__mmask16)0xFFFF
                                                  : (__mmask16)((1u << left) - 1);
                __m512 r = bias ? _mm512_add_ps(acc[j][v], b) : acc[j][v];
                _mm512_mask_storeu_ps(y + (size_t)o * P + pv, tail, r);
            }
        }
    }
}

/* The forward of a k x k kernel over all P positions, chunks spread over the threads. */
static void cs_forward_packed(int k, size_t P, int h, int w, int cin, int cout, const float *x,
                              const float *wp, const float *bias, const uint32_t *codes,
                              float *y)
{
    const size_t hw = (size_t)h * w;
    const ptrdiff_t nchunk = (ptrdiff_t)((P + FWD_CHUNK - 1) / FWD_CHUNK);
    const int threads = eng_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && nchunk > 1)
    for (ptrdiff_t ch = 0; ch < nchunk; ch++) {
        if (k == 3)
            cs_forward_chunk(3, ch, P, hw, w, cin, cout, x, wp, bias, codes, y);
        else
            cs_forward_chunk(5, ch, P, hw, w, cin, cout, x, wp, bias, codes, y);
    }
}

/* Scratch of a forward-type call: packed weights (blocks of 8 rows, zero-padded) + codes. */
static float *cs_forward_scratch(int k, int h, int w, int cin, int cout, uint32_t **codes)
{
    const int nblk = (cout + FWD_OB - 1) / FWD_OB;
    const size_t wbytes = cs_align(sizeof(float) * (size_t)nblk * k * k * cin * FWD_OB);
    unsigned char *ws = eng_cpu_workspace(wbytes + sizeof(uint32_t) * ((size_t)h * w +
                                                                      CODES_EXTRA));
    if (ws == NULL)
        return NULL;
    *codes = (uint32_t *)(ws + wbytes);
    cs_codes(k, h, w, *codes);
    return (float *)ws;
}

eng_status eng_cpu_conv_same_avx512_forward(const eng_conv_shape *s, int oc, const float *x,
                                            const float *w, const float *bias, float *y)
{
    const int k = s->kh, taps = k * k;
    uint32_t *codes;
    float *wp = cs_forward_scratch(k, s->h, s->w, s->c, oc, &codes);
    if (wp == NULL)
        return eng_kernels_ref()->conv_same_f32_forward(s, oc, x, w, bias, y);
    const int nblk = (oc + FWD_OB - 1) / FWD_OB;
    for (int blk = 0; blk < nblk; blk++)
        for (int t = 0; t < taps; t++)
            for (int c = 0; c < s->c; c++)
                for (int j = 0; j < FWD_OB; j++) {
                    int o = blk * FWD_OB + j;
                    wp[((size_t)(blk * taps + t) * s->c + c) * FWD_OB + j] =
                        o < oc ? w[((size_t)o * s->c + c) * taps + t] : 0.0f;
                }
    cs_forward_packed(k, (size_t)s->n * s->h * s->w, s->h, s->w, s->c, oc, x, wp, bias, codes,
                      y);
    return ENG_OK;
}

eng_status eng_cpu_conv_same_avx512_backward_data(const eng_conv_shape *s, int oc, const float *dy,
                                                  const float *w, float *dx)
{
    const int k = s->kh, taps = k * k;
    uint32_t *codes;
    float *wp = cs_forward_scratch(k, s->h, s->w, oc, s->c, &codes);
    if (wp == NULL)
        return eng_kernels_ref()->conv_same_f32_backward_data(s, oc, dy, w, dx);
    /* dx = forward conv of dy with w'[c][o][t] = w[o][c][taps-1 - t] (transposed, flipped). */
    const int nblk = (s->c + FWD_OB - 1) / FWD_OB;
    for (int blk = 0; blk < nblk; blk++)
        for (int t = 0; t < taps; t++)
            for (int o = 0; o < oc; o++)
                for (int j = 0; j < FWD_OB; j++) {
                    int c = blk * FWD_OB + j;
                    wp[((size_t)(blk * taps + t) * oc + o) * FWD_OB + j] =
                        c < s->c ? w[((size_t)o * s->c + c) * taps + taps - 1 - t] : 0.0f;
                }
    cs_forward_packed(k, (size_t)s->n * s->h * s->w, s->h, s->w, oc, s->c, dy, wp, NULL, codes,
                      dx);
    return ENG_OK;
}

/* One backward-weights tile of a k x k kernel (k, ob, nt constants after inlining): output
 * channels [blk*ob, blk*ob + ob) x taps [t0, t0 + nt) x input channels [c0, c1), over the
 * positions [16*ch0, 16*ch1), d[j] holding those positions of dy row blk*ob + j. The ob*nt
 * partial sums of a channel are carried between passes in buf[(c - c0) * DW_ACC] (loaded when
 * ch0 > 0, stored when ch1 < nchunk); the last pass sums them horizontally into dw. */
static inline __attribute__((always_inline)) void
cs_dw_tile(int k, int ob, int t0, int nt, const float *const d[DW_OB_MAX], const float *x,
           size_t P, const ptrdiff_t off[TAPS_MAX], const __mmask16 *masks, __mmask16 last,
           ptrdiff_t nchunk, ptrdiff_t ch0, ptrdiff_t ch1, int blk, int oc, int cin, int c0,
           int c1, __m512 *buf, float *dw)
{
    const int taps = k * k;
    for (int c = c0; c < c1; c++) {
        const float *xc = x + (size_t)c * P;
        __m512 *cb = buf + (size_t)(c - c0) * DW_ACC;
        __m512 acc[DW_ACC];
#pragma GCC unroll 27
        for (int j = 0; j < ob * nt; j++)
            acc[j] = ch0 > 0 ? cb[j] : _mm512_setzero_ps();
        for (ptrdiff_t ch = ch0; ch < ch1; ch++) {
            const size_t p0 = (size_t)ch * 16;
            const __mmask16 tail = ch == nchunk - 1 ? last : (__mmask16)0xFFFF;
            __m512 dv[DW_OB_MAX];
#pragma GCC unroll 5
            for (int j = 0; j < ob; j++)
                dv[j] = _mm512_maskz_loadu_ps(tail, d[j] + (p0 - (size_t)ch0 * 16));
            const __mmask16 *mk = masks + ch * taps + t0;
#pragma GCC unroll 25
            for (int t = 0; t < nt; t++) {
                const __m512 a = _mm512_maskz_loadu_ps(mk[t], xc + (ptrdiff_t)p0 + off[t0 + t]);
#pragma GCC unroll 5
                for (int j = 0; j < ob; j++)
                    acc[j * nt + t] = _mm512_fmadd_ps(dv[j], a, acc[j * nt + t]);
            }
        }
        if (ch1 < nchunk) {
#pragma GCC unroll 27
            for (int j = 0; j < ob * nt; j++)
                cb[j] = acc[j];
            continue;
        }
        float sums[DW_ACC]; /* reduced with constant indices: acc stays in registers */
#pragma GCC unroll 27
        for (int j = 0; j < ob * nt; j++)
            sums[j] = _mm512_reduce_add_ps(acc[j]);
        for (int j = 0; j < ob && blk * ob + j < oc; j++)
            for (int t = 0; t < nt; t++)
                dw[((size_t)(blk * ob + j) * cin + c) * taps + t0 + t] = sums[j * nt + t];
    }
}

/* Output channels per backward-weights tile. 3x3: 3, all 9 taps in one group (27
 * accumulators). 5x5: 4, in 5 groups of one kernel row (20 accumulators; per chunk 4 dy, 5 x
 * and 5 mask loads feed 20 FMAs, where 1 x 25 taps needs 51 loads for 25 FMAs: measured 2.5x
 * slower). The accumulators, the dy vectors and an x vector fit the 32 zmm registers. */
static int cs_dw_ob(int k)
{
    return k == 3 ? DW_OB3 : DW_OB5;
}

eng_status eng_cpu_conv_same_avx512_backward_weights(const eng_conv_shape *s, int oc,
                                                     const float *x, const float *dy, float *dw)
{
    const int k = s->kh, taps = k * k, ob = cs_dw_ob(k);
    const size_t P = (size_t)s->n * s->h * s->w, hw = (size_t)s->h * s->w;
    const ptrdiff_t nchunk = (ptrdiff_t)((P + 15) / 16);
    const int cin = s->c, nblk = (oc + ob - 1) / ob, ngrp = (cin + DW_CG - 1) / DW_CG;
    const int threads = eng_cpu_threads();
    const size_t cbytes = cs_align(sizeof(uint32_t) * (hw + CODES_EXTRA));
    const size_t mbytes = cs_align(sizeof(__mmask16) * taps * (size_t)nchunk);
    /* per thread: partial sums of a tile, then its dy rows of one pass */
    const size_t bbytes = sizeof(__m512) * DW_GROUPS * DW_CG * DW_ACC +
                          sizeof(float) * DW_OB_MAX * 16 * DW_PBLOCK;
    unsigned char *ws = eng_cpu_workspace(cbytes + mbytes + bbytes * (size_t)threads);
    if (ws == NULL)
        return eng_kernels_ref()->conv_same_f32_backward_weights(s, oc, x, dy, dw);
    uint32_t *codes = (uint32_t *)ws;
    __mmask16 *masks = (__mmask16 *)(ws + cbytes);
    cs_codes(k, s->h, s->w, codes);
    const ptrdiff_t ntile = (ptrdiff_t)nblk * ngrp;
    const size_t left = P - (size_t)(nchunk - 1) * 16;
    const __mmask16 last = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    ptrdiff_t off[TAPS_MAX];
    for (int t = 0; t < taps; t++)
        off[t] = cs_offset(k, s->w, t);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
#pragma omp for schedule(static)
        for (ptrdiff_t ch = 0; ch < nchunk; ch++)
            cs_masks(k, codes, hw, (size_t)ch * 16, P, masks + ch * taps, 1);
        __m512 *buf = (__m512 *)(ws + cbytes + mbytes + bbytes * (size_t)eng_cpu_thread_id());
        float *dbuf = (float *)(buf + DW_GROUPS * DW_CG * DW_ACC);
#pragma omp for schedule(static)
        for (ptrdiff_t tile = 0; tile < ntile; tile++) {
            const int blk = (int)(tile / ngrp), c0 = (int)(tile % ngrp) * DW_CG;
            const int c1 = c0 + DW_CG < cin ? c0 + DW_CG : cin;
            const float *d[DW_OB_MAX];
            for (int j = 0; j < DW_OB_MAX; j++)
                d[j] = dbuf + (size_t)j * 16 * DW_PBLOCK;
            for (ptrdiff_t ch0 = 0; ch0 < nchunk; ch0 += DW_PBLOCK) {
                ptrdiff_t ch1 = ch0 + DW_PBLOCK < nchunk ? ch0 + DW_PBLOCK : nchunk;
                /* dy rows are P apart (a multiple of 4 KiB for CIFAR shapes): copied to a
                 * contiguous buffer so that they and the x rows do not evict each other */
                size_t p0 = (size_t)ch0 * 16, len = (ch1 < nchunk ? (size_t)ch1 * 16 : P) - p0;
                for (int j = 0; j < ob; j++) {
                    int o = blk * ob + j < oc ? blk * ob + j : blk * ob;
                    memcpy(dbuf + (size_t)j * 16 * DW_PBLOCK, dy + (size_t)o * P + p0,
                           sizeof(float) * len);
                }
                if (k == 3)
                    cs_dw_tile(3, DW_OB3, 0, 9, d, x, P, off, masks, last, nchunk, ch0, ch1,
                               blk, oc, cin, c0, c1, buf, dw);
                else
                    for (int g = 0; g < 5; g++)
                        cs_dw_tile(5, DW_OB5, 5 * g, 5, d, x, P, off, masks, last, nchunk, ch0,
                                   ch1, blk, oc, cin, c0, c1, buf + (size_t)g * DW_CG * DW_ACC,
                                   dw);
            }
        }
    }
    return ENG_OK;
}

#pragma GCC pop_options
