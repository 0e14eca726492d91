/*
 * conv_panel_avx512.c - the implicit im2col of the AVX-512 table GEMMs: one panel of 256
 * columns of im2col_u8(s, a, pad) packed straight from the CNHW activation codes.
 *
 * Column q of the im2col matrix is output pixel (b, y, x) and row p = (c, i, j) reads input
 * pixel (b, y * stride + i * dil - pad, x * stride + j * dil - pad) of channel c. For a
 * stride-1 convolution whose output has the input's size (the 3x3 layers of every ResNet) the
 * panel row is the channel's codes shifted by (i * dil - pad) * w + (j * dil - pad): one masked
 * load per 64 columns, the mask being "this tap of this pixel lies inside the image" (a row
 * mask per i and a column mask per j, computed once per panel by 16-bit vector compares); the
 * other lanes read the pad code and touch no memory. Other shapes gather lane by lane from
 * per-column coordinates.
 * Either way no column buffer exists, so the codes are read once from cache instead of written
 * and read again at kh * kw times their size.
 */
#include "cpu_kernels.h"

#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")

#include "lut_avx512_inl.h"

enum {
    TAPS_MAX = 32,      /* kh and kw of the shifted-row path */
    COORD_MAX = 16384   /* image sides and tap offsets: y + dy stays inside int16 */
};

static bool shifted_rows(const eng_conv_shape *s)
{
    return s->stride == 1 && s->oh == s->h && s->ow == s->w && s->kh <= TAPS_MAX &&
           s->kw <= TAPS_MAX && s->h < COORD_MAX && s->w < COORD_MAX &&
           (s->kh - 1) * s->dilation < COORD_MAX && (s->kw - 1) * s->dilation < COORD_MAX &&
           s->pad < COORD_MAX;
}

/* mask[v] (lanes 64v..64v+63): 0 <= c[lane] + d < limit, for lanes < nvalid; one unsigned
 * 16-bit compare per 32 lanes. */
static void tap_masks(const int16_t *c, int d, int limit, const uint64_t valid[4],
                      uint64_t mask[4])
{
    const __m512i dv = _mm512_set1_epi16((short)d), lim = _mm512_set1_epi16((short)limit);
    for (int v = 0; v < PANEL / 64; v++) {
        const __m512i lo = _mm512_add_epi16(_mm512_load_si512(c + 64 * v), dv);
        const __m512i hi = _mm512_add_epi16(_mm512_load_si512(c + 64 * v + 32), dv);
        mask[v] = ((uint64_t)_mm512_cmplt_epu16_mask(lo, lim) |
                   (uint64_t)_mm512_cmplt_epu16_mask(hi, lim) << 32) & valid[v];
    }
}

/* The shifted-row path (shifted_rows(s)). */
static void panel_shifted(const eng_conv_shape *s, const uint8_t *a, uint8_t pad, size_t n0,
                          int nvalid, uint8_t *buf)
{
    int16_t ys[PANEL] __attribute__((aligned(64))), xs[PANEL] __attribute__((aligned(64)));
    int x = (int)(n0 % (size_t)s->w), y = (int)(n0 / (size_t)s->w % (size_t)s->h);
    for (int t = 0; t < PANEL; t++) {
        ys[t] = (int16_t)y;
        xs[t] = (int16_t)x;
        if (++x == s->w) {
            x = 0;
            if (++y == s->h)
                y = 0;
        }
    }
    uint64_t valid[4], ymask[TAPS_MAX][4], xmask[TAPS_MAX][4];
    for (int v = 0; v < 4; v++) {
        const int left = nvalid - 64 * v;
        valid[v] = left >= 64 ? ~(uint64_t)0 : left <= 0 ? 0 : ((uint64_t)1 << left) - 1;
    }
    for (int i = 0; i < s->kh; i++)
        tap_masks(ys, i * s->dilation - s->pad, s->h, valid, ymask[i]);
    for (int j = 0; j < s->kw; j++)
        tap_masks(xs, j * s->dilation - s->pad, s->w, valid, xmask[j]);
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
