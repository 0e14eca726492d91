/*
 * depthwise_f32.c - direct float depthwise convolution of the optimized kernel sets (forward,
 * backward data, backward weights) for dilation 1 and stride 1 or 2, any kernel size and
 * padding, vectorized over whole image planes (docs/kernels.md).
 *
 * A zero-padded image plane xp is split into stride x stride phase planes
 * P[a][b][y][x] = xp[stride*y + a][stride*x + b], each `cols` wide. Output (oy, ox) at flat
 * position q = oy*cols + ox reads tap (i, j) at P[i%stride][j%stride][q + (i/stride)*cols +
 * j/stride]: every tap is one contiguous vector loop over the whole plane, with no tests for
 * the border (columns ox >= ow are computed and dropped). The backward data pass is the same
 * gather with the offsets negated, from dy spread to `cols` columns with zeros around it, into
 * phase planes that are then written back to the pixels; the backward weights pass is one dot
 * product per tap between the spread dy and the phase planes of x.
 *
 * The hot loops are ENG_MULTIVERSION functions (an AVX-512 clone and a baseline one, same
 * operations in the same order). Threads: one image plane (forward) or one channel (backward:
 * all its planes, so that the weight gradient is summed in one fixed order) per iteration of a
 * static schedule; results do not depend on the thread count. Scratch per thread is a slice of
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
    DW_ALIGN = 16       /* floats: every scratch area starts on a 64-byte boundary */
};

/* Geometry of the phase planes of one shape. */
typedef struct dw_geom {
    int s;              /* stride */
    int rows, cols;     /* size of a phase plane */
    size_t phase;       /* floats per phase plane: rows*cols + the tail the taps read past */
    size_t front;       /* zeros before the spread dy: the largest tap offset, rounded up */
    size_t qn;          /* positions computed: oh*cols */
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
    g->phase = round_up((size_t)g->rows * g->cols + (size_t)rx + 1);
    g->front = round_up((size_t)ry * g->cols + (size_t)rx);
    g->qn = (size_t)s->oh * g->cols;
    g->taps = s->kh * s->kw;
    for (int i = 0; i < s->kh; i++)
        for (int j = 0; j < s->kw; j++) {
            const int t = i * s->kw + j;
            g->ph[t] = (i % st) * st + j % st;
            g->off[t] = (size_t)(i / st) * g->cols + (size_t)(j / st);
        }
    return true;
}

/* The phase planes of image plane x (h x w) into p (s*s planes of g->phase floats). */
static void dw_split(const dw_geom *g, const eng_conv_shape *s, const float *x, float *p)
{
    const int st = g->s, C = g->cols;
    for (int a = 0; a < st; a++)
        for (int b = 0; b < st; b++) {
            float *dst = p + (size_t)(a * st + b) * g->phase;
            memset(dst, 0, sizeof(float) * g->phase);
            /* columns x with 0 <= st*x + b - pad < w */
            const int x0 = (s->pad - b + st - 1) / st;
            for (int y = 0; y < g->rows; y++) {
                const int iy = st * y + a - s->pad;
                if (iy < 0 || iy >= s->h)
                    continue;
                const float *row = x + (size_t)iy * s->w;
                float *out = dst + (size_t)y * C;
                if (st == 1) {
                    memcpy(out + s->pad, row, sizeof(float) * (size_t)s->w);
                    continue;
                }
                for (int xx = x0; xx < C; xx++) {
                    const int ix = st * xx + b - s->pad;
                    if (ix >= s->w)
                        break;
                    out[xx] = row[ix];
                }
            }
        }
}

/* The pixels of image plane dx (h x w) from phase planes p (the inverse of dw_split). */
static void dw_merge(const dw_geom *g, const eng_conv_shape *s, const float *p, float *dx)
{
    const int st = g->s, C = g->cols;
    for (int iy = 0; iy < s->h; iy++) {
        const int py = iy + s->pad;
        float *row = dx + (size_t)iy * s->w;
        if (st == 1) {
            memcpy(row, p + (size_t)py * C + s->pad, sizeof(float) * (size_t)s->w);
            continue;
        }
        for (int ix = 0; ix < s->w; ix++) {
            const int px = ix + s->pad;
            row[ix] = p[(size_t)((py % st) * st + px % st) * g->phase + (size_t)(py / st) * C +
                        (size_t)(px / st)];
        }
    }
}

/* out[q] = init + sum_t w[t] * src[t][q] for q < n, taps in order: the forward and backward
 * data gathers. */
ENG_MULTIVERSION
static void dw_gather(size_t n, int taps, const float *const *src, const float *w, float init,
                      float *out)
{
    for (size_t q0 = 0; q0 < n; q0 += DW_BLOCK) {
        const size_t m = n - q0 < DW_BLOCK ? n - q0 : DW_BLOCK;
        float acc[DW_BLOCK];
        for (size_t q = 0; q < DW_BLOCK; q++)
            acc[q] = init;
        for (int t = 0; t < taps; t++) {
            const float wt = w[t], *sp = src[t] + q0;
            if (m == DW_BLOCK) {
#pragma omp simd
                for (size_t q = 0; q < DW_BLOCK; q++)
                    acc[q] += wt * sp[q];
            } else {
                for (size_t q = 0; q < m; q++)
                    acc[q] += wt * sp[q];
            }
        }
        memcpy(out + q0, acc, sizeof(float) * m);
    }
}

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

/* Scratch floats per thread: phase planes, a spread dy (with its front zeros) and an output
 * plane of the largest of qn and the phase planes. */
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

void eng_cpu_depthwise_forward(const eng_conv_shape *s, const float *x, const float *w,
                               const float *bias, float *y)
{
    dw_geom g;
    const int threads = eng_cpu_threads();
    float *ws = dw_geom_init(&g, s) ? dw_workspace(&g, threads) : NULL;
    if (ws == NULL) {
        eng_kernels_ref()->depthwise_f32_forward(s, x, w, bias, y);
        return;
    }
    const int planes = s->c * s->n;
    const size_t plane = (size_t)s->h * s->w, oplane = (size_t)s->oh * s->ow;
#pragma omp parallel num_threads(threads) if (threads > 1 && (size_t)planes * oplane >= 16384)
    {
        float *p = ws + dw_scratch(&g) * (size_t)eng_cpu_thread_id();
        float *o = p + (size_t)g.s * g.s * g.phase;
        const float *src[DW_MAX_TAPS];
#pragma omp for schedule(static)
        for (int cb = 0; cb < planes; cb++) {
            const int c = cb / s->n;
            dw_split(&g, s, x + (size_t)cb * plane, p);
            for (int t = 0; t < g.taps; t++)
                src[t] = p + (size_t)g.ph[t] * g.phase + g.off[t];
            dw_gather(g.qn, g.taps, src, w + (size_t)c * g.taps, bias ? bias[c] : 0.0f, o);
            float *out = y + (size_t)cb * oplane;
            for (int oy = 0; oy < s->oh; oy++)
                memcpy(out + (size_t)oy * s->ow, o + (size_t)oy * g.cols,
                       sizeof(float) * (size_t)s->ow);
        }
    }
}

/* dy plane (oh x ow) spread to g->cols columns after g->front zeros, zeros up to the end of
 * a phase plane: d[front + oy*cols + ox] = dy[oy][ox]. */
static void dw_spread(const dw_geom *g, const eng_conv_shape *s, const float *dy, float *d)
{
    memset(d, 0, sizeof(float) * (g->front + g->phase));
    for (int oy = 0; oy < s->oh; oy++)
        memcpy(d + g->front + (size_t)oy * g->cols, dy + (size_t)oy * s->ow,
               sizeof(float) * (size_t)s->ow);
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
    for (int b = 0; b < s->n; b++) {
        const size_t cb = (size_t)c * s->n + b;
        dw_spread(g, s, dy + cb * oplane, d);
        if (dw) {
            dw_split(g, s, x + cb * plane, p);
            for (int t = 0; t < g->taps; t++)
                sum[t] += dw_dot(g->qn, d + g->front, p + (size_t)g->ph[t] * g->phase + g->off[t]);
        }
        if (dx) {
            const size_t n = (size_t)g->rows * g->cols;
            for (int ph = 0; ph < nph; ph++)
                dw_gather(n, count[ph], src[ph], wt[ph], 0.0f, o + (size_t)ph * g->phase);
            dw_merge(g, s, o, dx + cb * plane);
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

void eng_cpu_depthwise_backward_data(const eng_conv_shape *s, const float *dy, const float *w,
                                     float *dx)
{
    if (!dw_backward(s, NULL, dy, w, dx, NULL))
        eng_kernels_ref()->depthwise_f32_backward_data(s, dy, w, dx);
}

void eng_cpu_depthwise_backward_weights(const eng_conv_shape *s, const float *x,
                                        const float *dy, float *dw)
{
    if (!dw_backward(s, x, dy, NULL, NULL, dw))
        eng_kernels_ref()->depthwise_f32_backward_weights(s, x, dy, dw);
}
