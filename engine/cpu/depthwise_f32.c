/*
 * depthwise_f32.c - direct float depthwise convolution of the optimized kernel sets (forward,
 * backward data, backward weights) for dilation 1 and stride 1 or 2, any kernel size and
 * padding, vectorized over whole image planes (docs/kernels.md).
 *
 * A zero-padded image plane xp is split into stride x stride phase planes
 * P[a][b][y][x] = xp[stride*y + a][stride*x + b], each `cols` wide and `rows` high; the
 * planes of a group of images of one channel are stacked (image i from row i*rows), so that
 * small images still make long vectors. Output (oy, ox) of image i at flat position
 * q = (i*rows + oy)*cols + ox reads tap (ky, kx) at P[ky%stride][kx%stride][q +
 * (ky/stride)*cols + kx/stride]: every tap is one contiguous vector loop over the whole group,
 * with no tests for the border (positions outside the outputs are computed and dropped; rows
 * >= oh + (kh-1)/stride keep the taps of one image from reaching the next). The backward data
 * pass is the same
 * gather with the offsets negated, from dy spread to `cols` columns with zeros around it, into
 * phase planes that are then written back to the pixels; the backward weights pass is one dot
 * product per tap between the spread dy and the phase planes of x.
 *
 * The hot loops are ENG_MULTIVERSION functions (an AVX-512 clone and a baseline one, same
 * operations in the same order). Threads: one group of images of one channel (forward) or one
 * channel (backward: all its groups, so that the weight gradient is summed in one fixed order)
 * per iteration of a static schedule; the groups depend on the shape only, so results do not
 * depend on the thread count. Scratch per thread is a slice of
 * the calling thread's eng_cpu_workspace; without memory, or for other shapes, the reference
 * kernels run.
 */
#include "cpu_kernels.h"
#include "multiversion.h"

#include <string.h>

enum {
    DW_BLOCK = 64,      /* positions per accumulator block */
    DW_LANES = 16,      /* partial sums of a dot product */
    DW_MAX_TAPS = 64,   /* kernel taps handled here (8x8); larger kernels: the reference */
    DW_ALIGN = 16,      /* floats: every scratch area starts on a 64-byte boundary */
    DW_GROUP = 4096     /* floats of one image group's phase plane (fewer images if larger) */
};

/* Geometry of the phase planes of one shape. */
typedef struct dw_geom {
    int s;              /* stride */
    int rows, cols;     /* size of the phase plane of one image */
    int imgs;           /* images per group */
    size_t img;         /* floats per image in a phase plane: rows*cols */
    size_t phase;       /* floats per phase plane: imgs*img + the tail the taps read past */
    size_t front;       /* zeros before the spread dy: the largest tap offset, rounded up */
    int taps;
    int ph[DW_MAX_TAPS];        /* tap t: its phase plane a*s + b */
    size_t off[DW_MAX_TAPS];    /* tap t: its offset in the phase plane */
} dw_geom;

static size_t round_up(size_t v)
{
    return (v + DW_ALIGN - 1) / DW_ALIGN * DW_ALIGN;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Fills g for shape s; false when the direct kernels do not handle it. */
static bool dw_geom_init(dw_geom *g, const eng_conv_shape *s)
{
    if (s->dilation != 1 || (s->stride != 1 && s->stride != 2) || s->kh * s->kw > DW_MAX_TAPS)
        return false;
    const int st = s->stride, ry = (s->kh - 1) / st, rx = (s->kw - 1) / st;
    g->s = st;
    /* every output's taps and every pixel have a place (pixels no output reads get 0) */
    g->rows = imax(s->oh + ry, (s->h - 1 + s->pad) / st + 1);
    g->cols = imax(s->ow + rx, (s->w - 1 + s->pad) / st + 1);
    g->img = (size_t)g->rows * g->cols;
    g->imgs = g->img >= DW_GROUP ? 1 : (int)(DW_GROUP / g->img);
    if (g->imgs > s->n)
        g->imgs = s->n;
    g->phase = round_up((size_t)g->imgs * g->img + (size_t)rx + 1);
    g->front = round_up((size_t)ry * g->cols + (size_t)rx);
    g->taps = s->kh * s->kw;
    for (int i = 0; i < s->kh; i++)
        for (int j = 0; j < s->kw; j++) {
            const int t = i * s->kw + j;
            g->ph[t] = (i % st) * st + j % st;
            g->off[t] = (size_t)(i / st) * g->cols + (size_t)(j / st);
        }
    return true;
}

/* Positions computed for a group of m images: up to the last image's last output row. */
static size_t dw_positions(const dw_geom *g, const eng_conv_shape *s, int m)
{
    return ((size_t)(m - 1) * g->rows + (size_t)s->oh) * g->cols;
}

/* The phase planes of m consecutive image planes x (h x w each) into p (s*s planes of
 * g->phase floats). */
static void dw_split(const dw_geom *g, const eng_conv_shape *s, const float *x, int m, float *p)
{
    const int st = g->s, C = g->cols;
    const size_t plane = (size_t)s->h * s->w;
    for (int a = 0; a < st; a++)
        for (int b = 0; b < st; b++) {
            float *dst = p + (size_t)(a * st + b) * g->phase;
            memset(dst, 0, sizeof(float) * g->phase);
            const int x0 = (s->pad - b + st - 1) / st;   /* first x with st*x + b - pad >= 0 */
            for (int im = 0; im < m; im++)
                for (int y = 0; y < g->rows; y++) {
                    const int iy = st * y + a - s->pad;
                    if (iy < 0 || iy >= s->h)
                        continue;
                    const float *row = x + (size_t)im * plane + (size_t)iy * s->w;
                    float *out = dst + (size_t)im * g->img + (size_t)y * C;
                    if (st == 1) {
                        memcpy(out + s->pad, row, sizeof(float) * (size_t)s->w);
                        continue;
                    }
                    for (int xx = x0, ix = st * x0 + b - s->pad; xx < C && ix < s->w;
                         xx++, ix += st)
                        out[xx] = row[ix];
                }
        }
}

/* The pixels of m image planes dx (h x w each) from phase planes p (dw_split's inverse). */
static void dw_merge(const dw_geom *g, const eng_conv_shape *s, const float *p, int m, float *dx)
{
    const int st = g->s, C = g->cols;
    const size_t plane = (size_t)s->h * s->w;
    for (int a = 0; a < st; a++)
        for (int b = 0; b < st; b++) {
            const float *src = p + (size_t)(a * st + b) * g->phase;
            const int x0 = (s->pad - b + st - 1) / st;
            for (int im = 0; im < m; im++)
                for (int y = 0; y < g->rows; y++) {
                    const int iy = st * y + a - s->pad;
                    if (iy < 0 || iy >= s->h)
                        continue;
                    float *row = dx + (size_t)im * plane + (size_t)iy * s->w;
                    const float *in = src + (size_t)im * g->img + (size_t)y * C;
                    if (st == 1) {
                        memcpy(row, in + s->pad, sizeof(float) * (size_t)s->w);
                        continue;
                    }
                    for (int xx = x0, ix = st * x0 + b - s->pad; xx < C && ix < s->w;
                         xx++, ix += st)
                        row[ix] = in[xx];
                }
        }
}

/* out[q] = init + sum_t w[t] * src[t][q] for q < n, taps in order: the forward and backward
 * data gathers. 3x3 and 5x5 (9 and 25 taps) run as one sum per position (the same additions
 * in the same order as the general loop, which adds one tap at a time to a block). */
#define DW_TAP(t) +w[t] * src[t][q]
#define DW_TAPS5(t) DW_TAP(t) DW_TAP(t + 1) DW_TAP(t + 2) DW_TAP(t + 3) DW_TAP(t + 4)
ENG_MULTIVERSION
static void dw_gather(size_t n, int taps, const float *const *src, const float *w, float init,
                      float *out)
{
    if (taps == 9) {
#pragma omp simd
        for (size_t q = 0; q < n; q++)
            out[q] = init DW_TAP(0) DW_TAP(1) DW_TAP(2) DW_TAP(3) DW_TAP(4) DW_TAP(5) DW_TAP(6)
                DW_TAP(7) DW_TAP(8);
        return;
    }
    if (taps == 25) {
#pragma omp simd
        for (size_t q = 0; q < n; q++)
            out[q] = init DW_TAPS5(0) DW_TAPS5(5) DW_TAPS5(10) DW_TAPS5(15) DW_TAPS5(20);
        return;
    }
    for (size_t q0 = 0; q0 < n; q0 += DW_BLOCK) {
        const size_t m = n - q0 < DW_BLOCK ? n - q0 : DW_BLOCK;
        float acc[DW_BLOCK];
        for (size_t q = 0; q < DW_BLOCK; q++)
            acc[q] = init;
        for (int t = 0; t < taps; t++) {
            const float wt = w[t], *sp = src[t] + q0;
#pragma omp simd
            for (size_t q = 0; q < m; q++)
                acc[q] += wt * sp[q];
        }
        memcpy(out + q0, acc, sizeof(float) * m);
    }
}
#undef DW_TAPS5
#undef DW_TAP

/* sum_q a[q] * b[q] over n values: DW_LANES float partial sums added in a fixed order. */
ENG_MULTIVERSION
static double dw_dot(size_t n, const float *a, const float *b)
{
    float lane[DW_LANES] = {0};
    size_t q = 0;
    for (; q + DW_LANES <= n; q += DW_LANES)
#pragma omp simd
        for (int l = 0; l < DW_LANES; l++)
            lane[l] += a[q + l] * b[q + l];
    double sum = 0.0;
    for (int l = 0; l < DW_LANES; l++)
        sum += lane[l];
    for (; q < n; q++)
        sum += (double)a[q] * b[q];
    return sum;
}

/* Scratch floats per thread: the phase planes of x, a spread dy (with its front zeros) and as
 * many output phase planes (the forward's outputs fit in one). */
static size_t dw_scratch(const dw_geom *g)
{
    const size_t planes = (size_t)g->s * g->s * g->phase;
    return planes + round_up(g->front + g->phase) + planes;
}

/* Per-thread scratch of `threads` threads, or NULL (the caller runs the reference). */
static float *dw_workspace(const dw_geom *g, int threads)
{
    return eng_cpu_workspace(sizeof(float) * dw_scratch(g) * (size_t)threads);
}

eng_status eng_cpu_depthwise_forward(const eng_conv_shape *s, const float *x, const float *w,
                                     const float *bias, float *y)
{
    dw_geom g;
    const int threads = eng_cpu_threads();
    float *ws = dw_geom_init(&g, s) ? dw_workspace(&g, threads) : NULL;
    if (ws == NULL)
        return eng_kernels_ref()->depthwise_f32_forward(s, x, w, bias, y);
    const int groups = (s->n + g.imgs - 1) / g.imgs, tasks = s->c * groups;
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
    const size_t work = (size_t)s->c * s->n * oplane;
#pragma omp parallel num_threads(threads) if (threads > 1 && work >= 16384)
    {
        float *p = ws + dw_scratch(&g) * (size_t)eng_cpu_thread_id();
        float *o = p + (size_t)g.s * g.s * g.phase;
        const float *src[DW_MAX_TAPS];
#pragma omp for schedule(static)
        for (int task = 0; task < tasks; task++) {
            const int c = task / groups, b0 = task % groups * g.imgs;
            const int m = s->n - b0 < g.imgs ? s->n - b0 : g.imgs;
            const size_t cb = (size_t)c * s->n + (size_t)b0;
            dw_split(&g, s, x + cb * plane, m, p);
            for (int t = 0; t < g.taps; t++)
                src[t] = p + (size_t)g.ph[t] * g.phase + g.off[t];
            dw_gather(dw_positions(&g, s, m), g.taps, src, w + (size_t)c * g.taps,
                      bias ? bias[c] : 0.0f, o);
            for (int im = 0; im < m; im++) {
                float *out = y + (cb + (size_t)im) * oplane;
                for (int oy = 0; oy < s->oh; oy++)
                    memcpy(out + (size_t)oy * s->ow, o + (size_t)im * g.img + (size_t)oy * g.cols,
                           sizeof(float) * (size_t)s->ow);
            }
        }
    }
    return ENG_OK;
}

/* m dy planes (oh x ow each) spread to the phase layout after g->front zeros, zeros
 * elsewhere: d[front + (i*rows + oy)*cols + ox] = dy[i][oy][ox]. */
static void dw_spread(const dw_geom *g, const eng_conv_shape *s, const float *dy, int m,
                      float *d)
{
    memset(d, 0, sizeof(float) * (g->front + g->phase));
    for (int im = 0; im < m; im++)
        for (int oy = 0; oy < s->oh; oy++)
            memcpy(d + g->front + (size_t)im * g->img + (size_t)oy * g->cols,
                   dy + ((size_t)im * s->oh + (size_t)oy) * s->ow, sizeof(float) * (size_t)s->ow);
}

/* Backward of channel c over its n planes: dw (when dw != NULL) and dx (when dx != NULL). */
static void dw_backward_channel(const dw_geom *g, const eng_conv_shape *s, int c,
                                const float *x, const float *dy, const float *w, float *dx,
                                float *dw, float *scratch)
{
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
    const int st = g->s, nph = st * st;
    float *p = scratch, *d = p + (size_t)nph * g->phase;
    float *o = d + round_up(g->front + g->phase);
    double sum[DW_MAX_TAPS] = {0};
    /* backward data: phase plane ph gathers its taps, mirrored (w[t] * d[r - off[t]]) */
    int count[4] = {0};
    const float *src[4][DW_MAX_TAPS];
    float wt[4][DW_MAX_TAPS];
    for (int t = 0; t < g->taps; t++) {
        const int ph = g->ph[t];
        src[ph][count[ph]] = d + g->front - g->off[t];
        wt[ph][count[ph]++] = w ? w[(size_t)c * g->taps + t] : 0.0f;
    }
    for (int b0 = 0; b0 < s->n; b0 += g->imgs) {
        const int m = s->n - b0 < g->imgs ? s->n - b0 : g->imgs;
        const size_t cb = (size_t)c * s->n + (size_t)b0;
        dw_spread(g, s, dy + cb * oplane, m, d);
        if (dw) {
            const size_t qn = dw_positions(g, s, m);
            dw_split(g, s, x + cb * plane, m, p);
            for (int t = 0; t < g->taps; t++)
                sum[t] += dw_dot(qn, d + g->front, p + (size_t)g->ph[t] * g->phase + g->off[t]);
        }
        if (dx) {
            const size_t n = (size_t)m * g->img;
            for (int ph = 0; ph < nph; ph++)
                dw_gather(n, count[ph], src[ph], wt[ph], 0.0f, o + (size_t)ph * g->phase);
            dw_merge(g, s, o, m, dx + cb * plane);
        }
    }
    if (dw)
        for (int t = 0; t < g->taps; t++)
            dw[(size_t)c * g->taps + t] = (float)sum[t];
}

/* dx and/or dw over all channels, threaded by channel; false without scratch memory. */
static bool dw_backward(const eng_conv_shape *s, const float *x, const float *dy,
                        const float *w, float *dx, float *dw)
{
    dw_geom g;
    const int threads = eng_cpu_threads();
    float *ws = dw_geom_init(&g, s) ? dw_workspace(&g, threads) : NULL;
    if (ws == NULL)
        return false;
    const size_t work = (size_t)s->c * s->n * s->oh * s->ow;
#pragma omp parallel num_threads(threads) if (threads > 1 && work >= 16384)
    {
        float *scratch = ws + dw_scratch(&g) * (size_t)eng_cpu_thread_id();
#pragma omp for schedule(static)
        for (int c = 0; c < s->c; c++)
            dw_backward_channel(&g, s, c, x, dy, w, dx, dw, scratch);
    }
    return true;
}

eng_status eng_cpu_depthwise_backward_data(const eng_conv_shape *s, const float *dy, const float *w,
                                           float *dx)
{
    if (!dw_backward(s, NULL, dy, w, dx, NULL))
        return eng_kernels_ref()->depthwise_f32_backward_data(s, dy, w, dx);
    return ENG_OK;
}

eng_status eng_cpu_depthwise_backward_weights(const eng_conv_shape *s, const float *x,
                                              const float *dy, float *dw)
{
    if (!dw_backward(s, x, dy, NULL, NULL, dw))
        return eng_kernels_ref()->depthwise_f32_backward_weights(s, x, dy, dw);
    return ENG_OK;
}

eng_status eng_cpu_depthwise_backward(const eng_conv_shape *s, const float *x, const float *dy,
                                      const float *w, float *dx, float *dw)
{
    if (!dw_backward(s, x, dy, w, dx, dw)) {
        ENG_TRY(eng_kernels_ref()->depthwise_f32_backward_weights(s, x, dy, dw));
        if (dx)
            ENG_TRY(eng_kernels_ref()->depthwise_f32_backward_data(s, dy, w, dx));
    }
    return ENG_OK;
}
