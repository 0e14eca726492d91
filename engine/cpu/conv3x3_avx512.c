/*
 * conv3x3_avx512.c - direct (im2col-free) AVX-512 float 3x3 convolution, stride 1, pad 1, on
 * CNHW tensors: forward, backward data and backward weights (docs/kernels.md).
 *
 * Positions are flattened over the batch, p = (b*h + i)*w + j < P = n*h*w, and a tap (ky, kx)
 * of the kernel is the shift p + (ky-1)*w + (kx-1) of the input row of a channel. Whether that
 * tap lies inside the image depends only on p mod h*w: a table codes[q] (9 bits, one per tap,
 * for q < h*w + 16, wrapping around the image) gives it, and vptestmw turns 16 codes into the
 * load masks of 16 positions. Masked loads zero-fill the padding (and never fault on masked
 * lanes), so vectors may cross row and image borders freely.
 *
 * Forward: a tile of 48 positions (3 zmm) x a block of 8 output channels = 24 accumulators;
 * per tap and input channel, 3 masked loads and 8 broadcast weights (packed [tap][c][8]) feed
 * 24 FMAs. Backward data is the same kernel on dy with the weights transposed and flipped.
 * Backward weights: a tile is (block of 3 output channels, group of 8 input channels); per
 * input channel 27 accumulators (3 channels x 9 taps) run over the positions in chunks of 16
 * with precomputed per-chunk tap masks, in passes of 2048 positions (dy rows copied per pass),
 * and are summed horizontally at the end.
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
    DW_OB = 3,          /* output channels per backward-weights tile */
    DW_CG = 8,          /* input channels per backward-weights tile */
    DW_PBLOCK = 128,    /* chunks of 16 positions per pass of a backward-weights tile */
    CODES_EXTRA = 16    /* codes past h*w, so that 16 codes can be read from any q < h*w */
};

/* codes[q], q < h*w + CODES_EXTRA: bit ky*3 + kx set when tap (ky, kx) of plane position
 * q mod h*w is inside the h x w image. */
static void c3_codes(int h, int w, uint16_t *codes)
{
    const int hw = h * w;
    for (int q = 0; q < hw + CODES_EXTRA; q++) {
        int r = q % hw, y = r / w, x = r % w;
        unsigned bits = 0;
        for (int t = 0; t < 9; t++) {
            int iy = y + t / 3 - 1, ix = x + t % 3 - 1;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                bits |= 1u << t;
        }
        codes[q] = (uint16_t)bits;
    }
}

/* Flattened offset of tap t. */
static inline ptrdiff_t c3_offset(int w, int t)
{
    return (ptrdiff_t)(t / 3 - 1) * w + (t % 3 - 1);
}

static size_t c3_align(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

/* y[o][p] = sum_{t, c} wp[(blk*9 + t)*cin*8 + c*8 + o%8] * x[c][p + offset(t)] (+ bias[o]),
 * o < cout, p < P; masked taps read 0. */
static void c3_forward_packed(size_t P, int h, int w, int cin, int cout, const float *x,
                              const float *wp, const float *bias, const uint16_t *codes,
                              float *y)
{
    const size_t hw = (size_t)h * w;
    const ptrdiff_t nchunk = (ptrdiff_t)((P + FWD_CHUNK - 1) / FWD_CHUNK);
    const int nblk = (cout + FWD_OB - 1) / FWD_OB;
    const int threads = eng_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && nchunk > 1)
    for (ptrdiff_t ch = 0; ch < nchunk; ch++) {
        const size_t p0 = (size_t)ch * FWD_CHUNK;
        __mmask16 m[9][FWD_V]; /* tap masks of the vectors, positions >= P cleared */
        for (int v = 0; v < FWD_V; v++) {
            const size_t pv = p0 + (size_t)v * 16, left = pv < P ? P - pv : 0;
            const __mmask16 tail = left >= 16 ? (__mmask16)0xFFFF
                                              : (__mmask16)((1u << left) - 1);
            const __m256i cv = _mm256_loadu_si256((const void *)(codes + pv % hw));
            for (int t = 0; t < 9; t++)
                m[t][v] = _mm256_test_epi16_mask(cv, _mm256_set1_epi16((short)(1 << t))) & tail;
        }
        for (int blk = 0; blk < nblk; blk++) {
            __m512 acc[FWD_OB][FWD_V];
#pragma GCC unroll 32
            for (int j = 0; j < FWD_OB * FWD_V; j++)
                acc[j / FWD_V][j % FWD_V] = _mm512_setzero_ps();
            const float *wq = wp + (size_t)blk * 9 * cin * FWD_OB;
            for (int t = 0; t < 9; t++) {
                __mmask16 k[FWD_V];
#pragma GCC unroll 4
                for (int v = 0; v < FWD_V; v++)
                    k[v] = m[t][v];
                const float *xs = x + (ptrdiff_t)p0 + c3_offset(w, t);
                for (int c = 0; c < cin; c++, xs += P, wq += FWD_OB) {
                    __m512 a[FWD_V];
#pragma GCC unroll 4
                    for (int v = 0; v < FWD_V; v++)
                        a[v] = _mm512_maskz_loadu_ps(k[v], xs + 16 * v);
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
}

/* Scratch of a forward-type call: packed weights (blocks of 8 rows, zero-padded) + codes. */
static float *c3_forward_scratch(int h, int w, int cin, int cout, uint16_t **codes)
{
    const int nblk = (cout + FWD_OB - 1) / FWD_OB;
    const size_t wbytes = c3_align(sizeof(float) * (size_t)nblk * 9 * cin * FWD_OB);
    unsigned char *ws = eng_cpu_workspace(wbytes + sizeof(uint16_t) * ((size_t)h * w +
                                                                      CODES_EXTRA));
    if (ws == NULL)
        return NULL;
    *codes = (uint16_t *)(ws + wbytes);
    c3_codes(h, w, *codes);
    return (float *)ws;
}

eng_status eng_cpu_conv3x3_avx512_forward(const eng_conv_shape *s, int oc, const float *x,
                                          const float *w, const float *bias, float *y)
{
    uint16_t *codes;
    float *wp = c3_forward_scratch(s->h, s->w, s->c, oc, &codes);
    if (wp == NULL)
        return eng_kernels_ref()->conv3x3_f32_forward(s, oc, x, w, bias, y);
    const int nblk = (oc + FWD_OB - 1) / FWD_OB;
    for (int blk = 0; blk < nblk; blk++)
        for (int t = 0; t < 9; t++)
            for (int c = 0; c < s->c; c++)
                for (int j = 0; j < FWD_OB; j++) {
                    int o = blk * FWD_OB + j;
                    wp[((size_t)(blk * 9 + t) * s->c + c) * FWD_OB + j] =
                        o < oc ? w[((size_t)o * s->c + c) * 9 + t] : 0.0f;
                }
    c3_forward_packed((size_t)s->n * s->h * s->w, s->h, s->w, s->c, oc, x, wp, bias, codes, y);
    return ENG_OK;
}

eng_status eng_cpu_conv3x3_avx512_backward_data(const eng_conv_shape *s, int oc, const float *dy,
                                                const float *w, float *dx)
{
    uint16_t *codes;
    float *wp = c3_forward_scratch(s->h, s->w, oc, s->c, &codes);
    if (wp == NULL)
        return eng_kernels_ref()->conv3x3_f32_backward_data(s, oc, dy, w, dx);
    /* dx = forward conv of dy with w'[c][o][t] = w[o][c][8 - t] (transposed, flipped). */
    const int nblk = (s->c + FWD_OB - 1) / FWD_OB;
    for (int blk = 0; blk < nblk; blk++)
        for (int t = 0; t < 9; t++)
            for (int o = 0; o < oc; o++)
                for (int j = 0; j < FWD_OB; j++) {
                    int c = blk * FWD_OB + j;
                    wp[((size_t)(blk * 9 + t) * oc + o) * FWD_OB + j] =
                        c < s->c ? w[((size_t)o * s->c + c) * 9 + 8 - t] : 0.0f;
                }
    c3_forward_packed((size_t)s->n * s->h * s->w, s->h, s->w, oc, s->c, dy, wp, NULL, codes, dx);
    return ENG_OK;
}

/* One backward-weights tile (output block blk, input channels [c0, c1)) over the positions
 * [16*ch0, 16*ch1), d[j] holding those positions of dy row blk*3 + j. The 27 partial sums of
 * a channel are carried between passes in buf[(c - c0) * 27] (loaded when ch0 > 0, stored
 * when ch1 < nchunk); the last pass sums them horizontally into dw. */
static inline __attribute__((always_inline)) void
c3_dw_tile(const float *const d[DW_OB], const float *x, size_t P, const ptrdiff_t off[9],
           const __mmask16 *masks, __mmask16 last, ptrdiff_t nchunk, ptrdiff_t ch0,
           ptrdiff_t ch1, int blk, int oc, int cin, int c0, int c1, __m512 *buf, float *dw)
{
    for (int c = c0; c < c1; c++) {
        const float *xc = x + (size_t)c * P;
        __m512 *cb = buf + (size_t)(c - c0) * DW_OB * 9;
        __m512 acc[DW_OB][9];
#pragma GCC unroll 27
        for (int j = 0; j < DW_OB * 9; j++)
            acc[j / 9][j % 9] = ch0 > 0 ? cb[j] : _mm512_setzero_ps();
        for (ptrdiff_t ch = ch0; ch < ch1; ch++) {
            const size_t p0 = (size_t)ch * 16;
            const __mmask16 tail = ch == nchunk - 1 ? last : (__mmask16)0xFFFF;
            __m512 dv[DW_OB];
#pragma GCC unroll 3
            for (int j = 0; j < DW_OB; j++)
                dv[j] = _mm512_maskz_loadu_ps(tail, d[j] + (p0 - (size_t)ch0 * 16));
            const __mmask16 *mk = masks + ch * 9;
#pragma GCC unroll 9
            for (int t = 0; t < 9; t++) {
                const __m512 a = _mm512_maskz_loadu_ps(mk[t], xc + (ptrdiff_t)p0 + off[t]);
#pragma GCC unroll 3
                for (int j = 0; j < DW_OB; j++)
                    acc[j][t] = _mm512_fmadd_ps(dv[j], a, acc[j][t]);
            }
        }
        if (ch1 < nchunk) {
#pragma GCC unroll 27
            for (int j = 0; j < DW_OB * 9; j++)
                cb[j] = acc[j / 9][j % 9];
            continue;
        }
        float sums[DW_OB][9]; /* reduced with constant indices: acc stays in registers */
#pragma GCC unroll 27
        for (int j = 0; j < DW_OB * 9; j++)
            sums[j / 9][j % 9] = _mm512_reduce_add_ps(acc[j / 9][j % 9]);
        for (int j = 0; j < DW_OB && blk * DW_OB + j < oc; j++)
            for (int t = 0; t < 9; t++)
                dw[((size_t)(blk * DW_OB + j) * cin + c) * 9 + t] = sums[j][t];
    }
}

eng_status eng_cpu_conv3x3_avx512_backward_weights(const eng_conv_shape *s, int oc, const float *x,
                                                   const float *dy, float *dw)
{
    const size_t P = (size_t)s->n * s->h * s->w, hw = (size_t)s->h * s->w;
    const ptrdiff_t nchunk = (ptrdiff_t)((P + 15) / 16);
    const int cin = s->c, nblk = (oc + DW_OB - 1) / DW_OB, ngrp = (cin + DW_CG - 1) / DW_CG;
    const int threads = eng_cpu_threads();
    const size_t cbytes = c3_align(sizeof(uint16_t) * (hw + CODES_EXTRA));
    const size_t mbytes = c3_align(sizeof(__mmask16) * 9 * (size_t)nchunk);
    /* per thread: partial sums of a tile, then its dy rows of one pass */
    const size_t bbytes = sizeof(__m512) * DW_CG * DW_OB * 9 + sizeof(float) * DW_OB * 16 *
                                                                   DW_PBLOCK;
    unsigned char *ws = eng_cpu_workspace(cbytes + mbytes + bbytes * (size_t)threads);
    if (ws == NULL)
        return eng_kernels_ref()->conv3x3_f32_backward_weights(s, oc, x, dy, dw);
    uint16_t *codes = (uint16_t *)ws;
    __mmask16 *masks = (__mmask16 *)(ws + cbytes);
    c3_codes(s->h, s->w, codes);
    const ptrdiff_t ntile = (ptrdiff_t)nblk * ngrp;
    const size_t left = P - (size_t)(nchunk - 1) * 16;
    const __mmask16 last = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    ptrdiff_t off[9];
    for (int t = 0; t < 9; t++)
        off[t] = c3_offset(s->w, t);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
#pragma omp for schedule(static)
        for (ptrdiff_t ch = 0; ch < nchunk; ch++) {
            const __m256i cv = _mm256_loadu_si256((const void *)(codes + (size_t)ch * 16 % hw));
            const __mmask16 tail = ch == nchunk - 1 ? last : (__mmask16)0xFFFF;
            for (int t = 0; t < 9; t++)
                masks[ch * 9 + t] =
                    _mm256_test_epi16_mask(cv, _mm256_set1_epi16((short)(1 << t))) & tail;
        }
        __m512 *buf = (__m512 *)(ws + cbytes + mbytes + bbytes * (size_t)eng_cpu_thread_id());
        float *dbuf = (float *)(buf + DW_CG * DW_OB * 9);
#pragma omp for schedule(static)
        for (ptrdiff_t tile = 0; tile < ntile; tile++) {
            const int blk = (int)(tile / ngrp), c0 = (int)(tile % ngrp) * DW_CG;
            const int c1 = c0 + DW_CG < cin ? c0 + DW_CG : cin;
            const float *d[DW_OB];
            for (int j = 0; j < DW_OB; j++)
                d[j] = dbuf + (size_t)j * 16 * DW_PBLOCK;
            for (ptrdiff_t ch0 = 0; ch0 < nchunk; ch0 += DW_PBLOCK) {
                ptrdiff_t ch1 = ch0 + DW_PBLOCK < nchunk ? ch0 + DW_PBLOCK : nchunk;
                /* dy rows are P apart (a multiple of 4 KiB for CIFAR shapes): copied to a
                 * contiguous buffer so that they and the x rows do not evict each other */
                size_t p0 = (size_t)ch0 * 16, len = (ch1 < nchunk ? (size_t)ch1 * 16 : P) - p0;
                for (int j = 0; j < DW_OB; j++) {
                    int o = blk * DW_OB + j < oc ? blk * DW_OB + j : blk * DW_OB;
                    memcpy(dbuf + (size_t)j * 16 * DW_PBLOCK, dy + (size_t)o * P + p0,
                           sizeof(float) * len);
                }
                c3_dw_tile(d, x, P, off, masks, last, nchunk, ch0, ch1, blk, oc, cin, c0, c1,
                           buf, dw);
            }
        }
    }
    return ENG_OK;
}

#pragma GCC pop_options
