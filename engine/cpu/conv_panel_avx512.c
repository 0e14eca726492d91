/*
 * conv_panel_avx512.c - the implicit im2col of the AVX-512 table GEMMs: one panel of 256
 * columns of im2col_u8(s, a, pad) packed straight from the CNHW activation codes.
 *
 * Column q of the im2col matrix is output pixel (b, y, x) and row p = (c, i, j) reads input
 * pixel (b, y * stride + i * dil - pad, x * stride + j * dil - pad) of channel c. For a
 * stride-1 convolution whose output has the input's size (the 3x3 layers of every ResNet) the
 * panel row is the channel's codes shifted by (i * dil - pad) * w + (j * dil - pad): one masked
 * load per 64 columns, the mask being "this tap of this pixel lies inside the image" (a row
 * mask per i and a column mask per j, computed once per panel); the other lanes read the pad
 * code and touch no memory. Other shapes gather lane by lane from per-column coordinates.
 * Either way no column buffer exists, so the codes are read once from cache instead of written
 * and read again at kh * kw times their size.
 */
#include "cpu_kernels.h"

#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")

#include "lut_avx512_inl.h"

enum { TAPS_MAX = 32 }; /* kh and kw of the shifted-row path */

static bool shifted_rows(const eng_conv_shape *s)
{
    return s->stride == 1 && s->oh == s->h && s->ow == s->w && s->kh <= TAPS_MAX &&
           s->kw <= TAPS_MAX;
}

/* The shifted-row path (shifted_rows(s)). */
static void panel_shifted(const eng_conv_shape *s, const uint8_t *a, uint8_t pad, size_t n0,
                          int nvalid, uint8_t *buf)
{
    uint64_t ymask[TAPS_MAX][4] = {{0}}, xmask[TAPS_MAX][4] = {{0}};
    int x = (int)(n0 % (size_t)s->w), y = (int)(n0 / (size_t)s->w % (size_t)s->h);
    for (int t = 0; t < nvalid; t++) {
        const uint64_t bit = (uint64_t)1 << (t % 64);
        for (int i = 0; i < s->kh; i++) {
            const int iy = y + i * s->dilation - s->pad;
            if (iy >= 0 && iy < s->h)
                ymask[i][t / 64] |= bit;
        }
        for (int j = 0; j < s->kw; j++) {
            const int ix = x + j * s->dilation - s->pad;
            if (ix >= 0 && ix < s->w)
                xmask[j][t / 64] |= bit;
        }
        if (++x == s->w) {
            x = 0;
            if (++y == s->h)
                y = 0;
        }
    }
    const __m512i padv = _mm512_set1_epi8((char)pad);
    const size_t plane = (size_t)s->n * s->h * s->w;
    for (int c = 0; c < s->c; c++) {
        const uint8_t *base = a + (size_t)c * plane + n0;
        for (int i = 0; i < s->kh; i++) {
            const ptrdiff_t dy = (ptrdiff_t)(i * s->dilation - s->pad) * s->w;
            for (int j = 0; j < s->kw; j++, buf += PANEL) {
                /* lanes outside the image are masked: their addresses are never read */
                const uint8_t *src = base + dy + (j * s->dilation - s->pad);
#pragma GCC unroll 4
                for (int v = 0; v < PANEL / 64; v++)
                    _mm512_store_si512(buf + 64 * v,
                                       _mm512_mask_loadu_epi8(padv, ymask[i][v] & xmask[j][v],
                                                              src + 64 * v));
            }
        }
    }
}

/* Any other shape: per column, its image and the input corner of its window. */
static void panel_gathered(const eng_conv_shape *s, const uint8_t *a, uint8_t pad, size_t n0,
                           int nvalid, uint8_t *buf)
{
    int b[PANEL], y0[PANEL], x0[PANEL];
    const size_t oplane = (size_t)s->oh * s->ow;
    for (int t = 0; t < nvalid; t++) {
        const size_t q = n0 + (size_t)t, r = q % oplane;
        b[t] = (int)(q / oplane);
        y0[t] = (int)(r / (size_t)s->ow) * s->stride - s->pad;
        x0[t] = (int)(r % (size_t)s->ow) * s->stride - s->pad;
    }
    const size_t plane = (size_t)s->h * s->w;
    for (int c = 0; c < s->c; c++) {
        for (int i = 0; i < s->kh; i++) {
            for (int j = 0; j < s->kw; j++, buf += PANEL) {
                int t = 0;
                for (; t < nvalid; t++) {
                    const int iy = y0[t] + i * s->dilation, ix = x0[t] + j * s->dilation;
                    buf[t] = iy >= 0 && iy < s->h && ix >= 0 && ix < s->w
                                 ? a[((size_t)c * s->n + (size_t)b[t]) * plane +
                                     (size_t)iy * s->w + (size_t)ix]
                                 : pad;
                }
                for (; t < PANEL; t++)
                    buf[t] = pad;
            }
        }
    }
}

void eng_cpu_avx512_conv_panel(const eng_conv_shape *s, const uint8_t *a, uint8_t pad,
                               size_t n0, int nvalid, uint8_t *buf)
{
    if (shifted_rows(s))
        panel_shifted(s, a, pad, n0, nvalid, buf);
    else
        panel_gathered(s, a, pad, n0, nvalid, buf);
}

#pragma GCC pop_options
