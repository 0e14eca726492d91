/*
 * report.c - the SVG scatter plot of a search (error vs energy).
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { W = 800, H = 560, LEFT = 80, RIGHT = 30, TOP = 50, BOTTOM = 70 };

typedef struct axis {
    double lo, hi, step;
} axis;

/* A range with "nice" tick steps (1, 2, 5 x 10^k) covering [lo, hi]. */
static axis nice_axis(double lo, double hi)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad, hi += pad;
    }
    double raw = (hi - lo) / 6, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    axis a = {floor(lo / step) * step, ceil(hi / step) * step, step};
    return a;
}

static double px(const axis *a, double v)
{
    return LEFT + (v - a->lo) / (a->hi - a->lo) * (W - LEFT - RIGHT);
}

static double py(const axis *a, double v)
{
    return H - BOTTOM - (v - a->lo) / (a->hi - a->lo) * (H - TOP - BOTTOM);
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

static int cmp_energy(const void *a, const void *b)
{
    const report_point *p = a, *q = b;
    return (p->energy_uj > q->energy_uj) - (p->energy_uj < q->energy_uj);
}

eng_status report_svg_write(const char *path, const char *title, const char *x_label,
                            const report_point *pts, int n)
{
    if (n < 1) return eng_error(ENG_ERR_ARG, "%s: nothing to plot", path);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        x0 = fmin(x0, pts[i].energy_uj), x1 = fmax(x1, pts[i].energy_uj);
        y0 = fmin(y0, pts[i].error_pct), y1 = fmax(y1, pts[i].error_pct);
    }
    axis ax = nice_axis(x0, x1), ay = nice_axis(y0, y1);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return eng_error(ENG_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">", W / 2);
    xml_text(f, title);
    fprintf(f, "</text>\n<g stroke=\"#ddd\">\n");
    for (double v = ax.lo; v <= ax.hi + ax.step / 2; v += ax.step)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", px(&ax, v), TOP,
                px(&ax, v), H - BOTTOM);
    for (double v = ay.lo; v <= ay.hi + ay.step / 2; v += ay.step)
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", LEFT, py(&ay, v),
                W - RIGHT, py(&ay, v));
    fprintf(f, "</g>\n<g text-anchor=\"middle\">\n");
    for (double v = ax.lo; v <= ax.hi + ax.step / 2; v += ax.step)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\">%g</text>\n", px(&ax, v), H - BOTTOM + 20,
                fabs(v) < ax.step * 1e-9 ? 0.0 : v);
    fprintf(f, "</g>\n<g text-anchor=\"end\">\n");
    for (double v = ay.lo; v <= ay.hi + ay.step / 2; v += ay.step)
        fprintf(f, "<text x=\"%d\" y=\"%.1f\">%g</text>\n", LEFT - 8, py(&ay, v) + 4,
                fabs(v) < ay.step * 1e-9 ? 0.0 : v);
    fprintf(f, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"black\"/>\n", LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (LEFT + W - RIGHT) / 2,
            H - 25);
    xml_text(f, x_label);
    fprintf(f, "</text>\n");
    fprintf(f, "<text x=\"20\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 20 %d)\">"
               "validation error (%%)</text>\n", (TOP + H - BOTTOM) / 2, (TOP + H - BOTTOM) / 2);

    /* all evaluations, then exact-multiplier markers, then the front on top */
    fprintf(f, "<g fill=\"#9aa\" fill-opacity=\"0.6\">\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>\n", px(&ax, pts[i].energy_uj),
                py(&ay, pts[i].error_pct));
    fprintf(f, "</g>\n<g fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\">\n");
    for (int i = 0; i < n; i++)
        if (pts[i].exact)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"11\" height=\"11\"/>\n",
                    px(&ax, pts[i].energy_uj) - 5.5, py(&ay, pts[i].error_pct) - 5.5);
    report_point *front = malloc(sizeof *front * (size_t)n);
    int nf = 0;
    for (int i = 0; front && i < n; i++)
        if (pts[i].front) front[nf++] = pts[i];
    if (front) qsort(front, (size_t)nf, sizeof *front, cmp_energy);
    fprintf(f, "</g>\n<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"");
    for (int i = 0; i < nf; i++) {
        if (i > 0)
            fprintf(f, "%.1f,%.1f ", px(&ax, front[i].energy_uj),
                    py(&ay, front[i - 1].error_pct));
        fprintf(f, "%.1f,%.1f ", px(&ax, front[i].energy_uj), py(&ay, front[i].error_pct));
    }
    fprintf(f, "\"/>\n<g fill=\"#d62728\">\n");
    for (int i = 0; i < nf; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>\n", px(&ax, front[i].energy_uj),
                py(&ay, front[i].error_pct));
    free(front);
    int lx = W - RIGHT - 230, ly = TOP + 12;
    fprintf(f, "</g>\n<g>\n<rect x=\"%d\" y=\"%d\" width=\"220\" height=\"70\" fill=\"white\" "
               "stroke=\"#999\"/>\n", lx, ly);
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3.5\" fill=\"#9aa\"/><text x=\"%d\" y=\"%d\">"
               "all evaluated networks (%d)</text>\n", lx + 14, ly + 16, lx + 28, ly + 20, n);
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"#d62728\"/><text x=\"%d\" y=\"%d\">"
               "Pareto front (%d)</text>\n", lx + 14, ly + 36, lx + 28, ly + 40, nf);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"11\" height=\"11\" fill=\"none\" "
               "stroke=\"#1f5fbf\" stroke-width=\"1.5\"/><text x=\"%d\" y=\"%d\">exact "
               "multipliers only</text>\n</g>\n</svg>\n", lx + 8, ly + 50, lx + 28, ly + 60);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        eng_status st = eng_error(ENG_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return st;
    }
    return ENG_OK;
}
