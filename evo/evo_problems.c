/*
 * evo_problems.c - ZDT1-4, ZDT6 and DTLZ1-7: evaluation and samples of the true Pareto fronts.
 */
#include "evo_problems.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define ZDT6_F1_MIN 0.2807753191   /* min of 1 - exp(-4x) sin^6(6 pi x) on [0, 1] */

static const struct {
    const char *name;
    int n_var;         /* ZDT: variables; DTLZ: k (n = M + k - 1) */
} specs[EVO_TEST_COUNT] = {
    [EVO_TEST_ZDT1] = {"zdt1", 30},  [EVO_TEST_ZDT2] = {"zdt2", 30},
    [EVO_TEST_ZDT3] = {"zdt3", 30},  [EVO_TEST_ZDT4] = {"zdt4", 10},
    [EVO_TEST_ZDT6] = {"zdt6", 10},  [EVO_TEST_DTLZ1] = {"dtlz1", 5},
    [EVO_TEST_DTLZ2] = {"dtlz2", 10}, [EVO_TEST_DTLZ3] = {"dtlz3", 10},
    [EVO_TEST_DTLZ4] = {"dtlz4", 10}, [EVO_TEST_DTLZ5] = {"dtlz5", 10},
    [EVO_TEST_DTLZ6] = {"dtlz6", 10}, [EVO_TEST_DTLZ7] = {"dtlz7", 20},
};

static bool is_zdt(evo_test_id id)
{
    return id <= EVO_TEST_ZDT6;
}

const char *evo_test_problem_names(void)
{
    return "zdt1|zdt2|zdt3|zdt4|zdt6|dtlz1|dtlz2|dtlz3|dtlz4|dtlz5|dtlz6|dtlz7";
}

evo_status evo_test_problem_init(evo_test_problem *tp, const char *name, int n_obj, int n_var)
{
    int id = 0;
    while (id < EVO_TEST_COUNT && strcmp(specs[id].name, name) != 0) id++;
    if (id == EVO_TEST_COUNT)
        return evo_error(EVO_ERR_ARG, "unknown test problem '%s' (expected %s)", name,
                         evo_test_problem_names());
    evo_test_problem t = {.id = (evo_test_id)id, .name = specs[id].name};
    if (is_zdt(t.id)) {
        if (n_obj != 0 && n_obj != 2)
            return evo_error(EVO_ERR_ARG, "%s has 2 objectives, not %d", t.name, n_obj);
        t.n_obj = 2;
        t.n_var = n_var ? n_var : specs[id].n_var;
        if (t.n_var < 2 || t.n_var > EVO_TEST_MAX_VARS)
            return evo_error(EVO_ERR_ARG, "%s: %d variables is not in [2, %d]", t.name, n_var,
                             EVO_TEST_MAX_VARS);
    } else {
        t.n_obj = n_obj ? n_obj : 3;
        if (t.n_obj < 2 || t.n_obj > EVO_TEST_MAX_OBJ)
            return evo_error(EVO_ERR_ARG, "%s: %d objectives is not in [2, %d]", t.name, n_obj,
                             EVO_TEST_MAX_OBJ);
        t.n_var = n_var ? n_var : t.n_obj + specs[id].n_var - 1;
        if (t.n_var < t.n_obj || t.n_var > EVO_TEST_MAX_VARS)
            return evo_error(EVO_ERR_ARG, "%s: %d variables is not in [%d, %d]", t.name, n_var,
                             t.n_obj, EVO_TEST_MAX_VARS);
    }
    for (int i = 0; i < t.n_var; i++) {
        bool wide = t.id == EVO_TEST_ZDT4 && i > 0;
        t.genes[i] = (evo_gene){EVO_GENE_REAL, wide ? -5.0 : 0.0, wide ? 5.0 : 1.0};
    }
    *tp = t;
    return EVO_OK;
}

static void eval_zdt(const evo_test_problem *tp, const double *x, double *f)
{
    const int n = tp->n_var;
    double s = 0.0, g, r;
    switch (tp->id) {
    case EVO_TEST_ZDT4:
        for (int i = 1; i < n; i++) s += x[i] * x[i] - 10.0 * cos(4.0 * PI * x[i]);
        g = 1.0 + 10.0 * (n - 1) + s;
        f[0] = x[0];
        f[1] = g * (1.0 - sqrt(x[0] / g));
        return;
    case EVO_TEST_ZDT6:
        for (int i = 1; i < n; i++) s += x[i];
        g = 1.0 + 9.0 * pow(s / (n - 1), 0.25);
        f[0] = 1.0 - exp(-4.0 * x[0]) * pow(sin(6.0 * PI * x[0]), 6.0);
        r = f[0] / g;
        f[1] = g * (1.0 - r * r);
        return;
    default:
        for (int i = 1; i < n; i++) s += x[i];
        g = 1.0 + 9.0 * s / (n - 1);
        f[0] = x[0];
        r = f[0] / g;
        if (tp->id == EVO_TEST_ZDT1) f[1] = g * (1.0 - sqrt(r));
        else if (tp->id == EVO_TEST_ZDT2) f[1] = g * (1.0 - r * r);
        else f[1] = g * (1.0 - sqrt(r) - r * sin(10.0 * PI * f[0]));
        return;
    }
}

/* f_j = scale * prod_{i < M-j} cos(theta_i) * (j > 0 ? sin(theta_{M-j-1}) : 1), 0-based j. */
static void spherical(const double *theta, int m, double scale, double *f)
{
    for (int j = 0; j < m; j++) {
        double v = scale;
        for (int i = 0; i < m - 1 - j; i++) v *= cos(theta[i]);
        if (j > 0) v *= sin(theta[m - 1 - j]);
        f[j] = v;
    }
}

static void eval_dtlz(const evo_test_problem *tp, const double *x, double *f)
{
    const int m = tp->n_obj, n = tp->n_var, k = n - m + 1;
    const double *xm = x + m - 1;   /* the k distance variables */
    double g = 0.0, theta[EVO_TEST_MAX_OBJ];
    switch (tp->id) {
    case EVO_TEST_DTLZ1:
    case EVO_TEST_DTLZ3:
        for (int i = 0; i < k; i++)
            g += (xm[i] - 0.5) * (xm[i] - 0.5) - cos(20.0 * PI * (xm[i] - 0.5));
        g = 100.0 * (k + g);
        break;
    case EVO_TEST_DTLZ6:
        for (int i = 0; i < k; i++) g += pow(xm[i], 0.1);
        break;
    case EVO_TEST_DTLZ7:
        for (int i = 0; i < k; i++) g += xm[i];
        g = 1.0 + 9.0 * g / k;
        break;
    default:
        for (int i = 0; i < k; i++) g += (xm[i] - 0.5) * (xm[i] - 0.5);
        break;
    }
    switch (tp->id) {
    case EVO_TEST_DTLZ1:
        for (int j = 0; j < m; j++) {
            double v = 0.5 * (1.0 + g);
            for (int i = 0; i < m - 1 - j; i++) v *= x[i];
            if (j > 0) v *= 1.0 - x[m - 1 - j];
            f[j] = v;
        }
        return;
    case EVO_TEST_DTLZ7: {
        double h = m;
        for (int j = 0; j < m - 1; j++) {
            f[j] = x[j];
            h -= f[j] / (1.0 + g) * (1.0 + sin(3.0 * PI * f[j]));
        }
        f[m - 1] = (1.0 + g) * h;
        return;
    }
    case EVO_TEST_DTLZ5:
    case EVO_TEST_DTLZ6:
        theta[0] = x[0] * PI / 2.0;
        for (int i = 1; i < m - 1; i++) theta[i] = PI / (4.0 * (1.0 + g)) * (1.0 + 2.0 * g * x[i]);
        break;
    case EVO_TEST_DTLZ4:
        for (int i = 0; i < m - 1; i++) theta[i] = pow(x[i], 100.0) * PI / 2.0;
        break;
    default:
        for (int i = 0; i < m - 1; i++) theta[i] = x[i] * PI / 2.0;
        break;
    }
    spherical(theta, m, 1.0 + g, f);
}

void evo_test_problem_evaluate(const evo_test_problem *tp, const double *x, double *f)
{
    if (is_zdt(tp->id)) eval_zdt(tp, x, f);
    else eval_dtlz(tp, x, f);
}

evo_status evo_test_problem_evaluate_batch(void *ctx, const evo_batch *b)
{
    const evo_test_problem *tp = ctx;
    for (int i = 0; i < b->n; i++)
        evo_test_problem_evaluate(tp, b->x + (size_t)i * b->n_genes, b->f + (size_t)i * b->n_obj);
    return EVO_OK;
}

void evo_test_problem_as_problem(const evo_test_problem *tp, evo_problem *prob)
{
    *prob = (evo_problem){
        .n_genes = tp->n_var,
        .genes = tp->genes,
        .n_obj = tp->n_obj,
        .ctx = (void *)tp,
        .evaluate = evo_test_problem_evaluate_batch,
    };
}

void evo_front_bounds(const double *f, int n, int m, double *ideal, double *nadir)
{
    for (int j = 0; j < m; j++) ideal[j] = nadir[j] = f[j];
    for (int i = 1; i < n; i++)
        for (int j = 0; j < m; j++) {
            double v = f[(size_t)i * m + j];
            if (v < ideal[j]) ideal[j] = v;
            if (v > nadir[j]) nadir[j] = v;
        }
}

/* Keeps the non-dominated rows of pts (n x m) in place, in order; returns their number. */
static int filter_nondominated(double *pts, int n, int m)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        const double *p = pts + (size_t)i * m;
        bool dominated = false;
        for (int q = 0; q < n && !dominated; q++) {
            if (q == i) continue;
            dominated = evo_dominates(pts + (size_t)q * m, 0.0, p, 0.0, m);
        }
        if (!dominated) {
            if (kept != i) memmove(pts + (size_t)kept * m, p, (size_t)m * sizeof *pts);
            kept++;
        }
    }
    return kept;
}

/* Two-objective front given by f2(f1) on [lo, hi], possibly disconnected: a dense sample,
 * its non-dominated points, then n of them evenly spaced by index. */
static evo_status front_curve_2d(const evo_test_problem *tp, int n, double lo, double hi,
                                 double *out)
{
    int dense = n * 100 > 20000 ? n * 100 : 20000;
    double *pts = malloc((size_t)dense * 2 * sizeof *pts);
    if (!pts) return evo_error(EVO_ERR_NOMEM, "true front: out of memory");
    int k = 0;
    double prev = INFINITY;
    for (int i = 0; i < dense; i++) {   /* sweep in f1: a point is kept when f2 drops */
        double f1 = lo + (hi - lo) * i / (dense - 1), f2;
        if (tp->id == EVO_TEST_ZDT3) f2 = 1.0 - sqrt(f1) - f1 * sin(10.0 * PI * f1);
        else f2 = 2.0 * (2.0 - f1 / 2.0 * (1.0 + sin(3.0 * PI * f1)));   /* DTLZ7, g = 1 */
        if (f2 < prev) {
            pts[2 * k] = f1;
            pts[2 * k + 1] = f2;
            k++;
            prev = f2;
        }
    }
    for (int i = 0; i < n; i++) {
        int src = (int)((double)i * (k - 1) / (n - 1) + 0.5);
        out[2 * i] = pts[2 * src];
        out[2 * i + 1] = pts[2 * src + 1];
    }
    free(pts);
    return EVO_OK;
}

static long binomial(int n, int k)
{
    long r = 1;
    for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
    return r;
}

/* All compositions of h into m non-negative parts, divided by h (Das and Dennis 1998): the
 * first m - 1 parts count like an odometer whose digits sum to at most h; the last part takes
 * the rest. Returns the number of points, binomial(h + m - 1, m - 1). */
static int simplex_lattice(int m, int h, double *out)
{
    int parts[EVO_TEST_MAX_OBJ] = {0}, count = 0, sum = 0;
    for (;;) {
        for (int j = 0; j < m - 1; j++) out[(size_t)count * m + j] = (double)parts[j] / h;
        out[(size_t)count * m + m - 1] = (double)(h - sum) / h;
        count++;
        int j = m - 2;
        parts[j]++;
        sum++;
        while (sum > h) {
            sum -= parts[j];
            parts[j] = 0;
            if (--j < 0) return count;
            parts[j]++;
            sum++;
        }
    }
}

evo_status evo_test_problem_front(const evo_test_problem *tp, int n_points, double **front,
                                  int *n)
{
    *front = NULL;
    *n = 0;
    if (n_points < 2) return evo_error(EVO_ERR_ARG, "true front: n_points %d < 2", n_points);
    const int m = tp->n_obj;
    int count = n_points, h = 0;
    bool lattice = (tp->id >= EVO_TEST_DTLZ1 && tp->id <= EVO_TEST_DTLZ4);
    int grid = 0;
    if (lattice) {
        while (binomial(h + 1 + m - 1, m - 1) <= n_points) h++;
        if (h == 0) return evo_error(EVO_ERR_ARG, "true front: %d points are too few for a "
                                     "%d-objective lattice", n_points, m);
        count = (int)binomial(h + m - 1, m - 1);
    } else if (tp->id == EVO_TEST_DTLZ7 && m > 2) {
        grid = (int)ceil(pow(4.0 * n_points, 1.0 / (m - 1)));
        if (grid < 2) grid = 2;
        count = (int)pow(grid, m - 1);
    }
    double *pts = malloc((size_t)count * m * sizeof *pts);
    if (!pts) return evo_error(EVO_ERR_NOMEM, "true front of %d points: out of memory", count);
    evo_status st = EVO_OK;
    switch (tp->id) {
    case EVO_TEST_ZDT1:
    case EVO_TEST_ZDT2:
    case EVO_TEST_ZDT4:
    case EVO_TEST_ZDT6: {
        double lo = tp->id == EVO_TEST_ZDT6 ? ZDT6_F1_MIN : 0.0;
        for (int i = 0; i < count; i++) {
            double f1 = lo + (1.0 - lo) * i / (count - 1);
            pts[2 * i] = f1;
            pts[2 * i + 1] = tp->id == EVO_TEST_ZDT1 || tp->id == EVO_TEST_ZDT4 ? 1.0 - sqrt(f1)
                                                                                : 1.0 - f1 * f1;
        }
        break;
    }
    case EVO_TEST_ZDT3:
        st = front_curve_2d(tp, count, 0.0, 1.0, pts);
        break;
    case EVO_TEST_DTLZ5:
    case EVO_TEST_DTLZ6:
        for (int i = 0; i < count; i++) {
            double theta[EVO_TEST_MAX_OBJ];
            theta[0] = PI / 2.0 * i / (count - 1);
            for (int j = 1; j < m - 1; j++) theta[j] = PI / 4.0;
            spherical(theta, m, 1.0, pts + (size_t)i * m);
        }
        break;
    case EVO_TEST_DTLZ7:
        if (m == 2) {
            st = front_curve_2d(tp, count, 0.0, 1.0, pts);
            break;
        }
        for (int c = 0; c < count; c++) {
            double *p = pts + (size_t)c * m, h = m;
            for (int j = 0, r = c; j < m - 1; j++, r /= grid) {
                p[j] = (double)(r % grid) / (grid - 1);
                h -= p[j] / 2.0 * (1.0 + sin(3.0 * PI * p[j]));
            }
            p[m - 1] = 2.0 * h;
        }
        count = filter_nondominated(pts, count, m);
        break;
    default: /* DTLZ1-4 */
        simplex_lattice(m, h, pts);
        for (int i = 0; i < count; i++) {
            double *p = pts + (size_t)i * m, norm = 0.0;
            for (int j = 0; j < m; j++) norm += p[j] * p[j];
            for (int j = 0; j < m; j++)
                p[j] = tp->id == EVO_TEST_DTLZ1 ? 0.5 * p[j] : p[j] / sqrt(norm);
        }
        break;
    }
    if (st != EVO_OK) {
        free(pts);
        return st;
    }
    *front = pts;
    *n = count;
    return EVO_OK;
}
