/*
 * evo_indicators.c - hypervolume (2-D sweep, 3-D sweep with a 2-D front, WFG above),
 * IGD, IGD+, spread and generalized spread.
 */
#include "evo_indicators.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Stable merge sort of row pointers by coordinate k (ascending), then by the next
 * coordinates, so that equal keys have a fixed order. */
static bool row_less(const double *a, const double *b, int k, int m)
{
    for (int j = 0; j < m; j++) {
        int c = (k + j) % m;
        if (a[c] != b[c]) return a[c] < b[c];
    }
    return false;
}

static void sort_rows(const double **rows, const double **tmp, int n, int k, int m)
{
    if (n < 2) return;
    int h = n / 2;
    sort_rows(rows, tmp, h, k, m);
    sort_rows(rows + h, tmp, n - h, k, m);
    int i = 0, j = h, o = 0;
    while (i < h && j < n) tmp[o++] = row_less(rows[j], rows[i], k, m) ? rows[j++] : rows[i++];
    while (i < h) tmp[o++] = rows[i++];
    while (j < n) tmp[o++] = rows[j++];
    memcpy(rows, tmp, (size_t)n * sizeof *rows);
}

/* 2-D: rows sorted by f1 ascending; sweep keeping the lowest f2 seen. */
static double hv2_sorted(const double **rows, int n, const double *ref)
{
    double hv = 0.0, prev = ref[1];
    for (int i = 0; i < n; i++) {
        double y = rows[i][1];
        if (y < prev) {
            hv += (ref[0] - rows[i][0]) * (prev - y);
            prev = y;
        }
    }
    return hv;
}

/* 3-D: rows sorted by f3 ascending. The 2-D front of the points seen so far is kept sorted
 * by f1 (so f2 decreasing) in (fx, fy) with its area; each slab adds area x thickness. */
static double hv3_sorted(const double **rows, int n, const double *ref, double *fx, double *fy)
{
    int k = 0;
    double area = 0.0, hv = 0.0;
    for (int i = 0; i < n; i++) {
        double x = rows[i][0], y = rows[i][1];
        int pos = 0;   /* first front point with fx > x, or with fx == x and fy >= y */
        while (pos < k && (fx[pos] < x || (fx[pos] == x && fy[pos] < y))) pos++;
        bool dominated = pos > 0 && fy[pos - 1] <= y;
        if (!dominated) {
            int end = pos;   /* the points [pos, end) are dominated by (x, y) */
            while (end < k && fy[end] >= y) end++;
            memmove(fx + pos + 1, fx + end, (size_t)(k - end) * sizeof *fx);
            memmove(fy + pos + 1, fy + end, (size_t)(k - end) * sizeof *fy);
            fx[pos] = x;
            fy[pos] = y;
            k = k - (end - pos) + 1;
            area = 0.0;
            for (int j = 0; j < k; j++)
                area += (ref[0] - fx[j]) * ((j == 0 ? ref[1] : fy[j - 1]) - fy[j]);
        }
        double top = i + 1 < n ? rows[i + 1][2] : ref[2];
        hv += area * (top - rows[i][2]);
    }
    return hv;
}

static evo_status hv_nomem(void)
{
    return evo_error(EVO_ERR_NOMEM, "hypervolume: out of memory");
}

/* Keeps the rows of pts (n x m) that no other row weakly dominates (of equal rows, the first);
 * returns their number. */
static int keep_nondominated(double *pts, int n, int m)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        const double *p = pts + (size_t)i * m;
        bool dominated = false;
        for (int q = 0; q < n && !dominated; q++) {
            if (q == i) continue;
            const double *o = pts + (size_t)q * m;
            int j = 0;
            while (j < m && o[j] <= p[j]) j++;
            /* o weakly dominates p; equal rows: only the later one is dropped */
            if (j == m) dominated = q < i || memcmp(o, p, (size_t)m * sizeof *p) != 0;
        }
        if (!dominated) {
            if (kept != i) memmove(pts + (size_t)kept * m, p, (size_t)m * sizeof *p);
            kept++;
        }
    }
    return kept;
}

static evo_status hv_small(const double *pts, int n, int m, const double *ref, double *out);

/* m >= 4: the WFG decomposition (While, Bradstreet, Barone, IEEE TEVC 16(1), 2012). With the
 * points sorted by decreasing last objective, the volume p_k adds to p_{k+1..n} is
 * (ref_m - p_k,m) * (box_{m-1}(p_k) - HV_{m-1}(limit set)), where the limit set holds
 * max(p_k, p_j) over the first m - 1 objectives for j > k. pts is reordered. */
static evo_status hv_wfg(double *pts, int n, int m, const double *ref, double *out)
{
    const int d = m - 1;
    /* insertion sort by decreasing last objective (rows are short) */
    double *row = malloc((size_t)m * sizeof *row);
    double *limit = malloc(((size_t)n + 1) * d * sizeof *limit);
    if (!row || !limit) {
        free(row);
        free(limit);
        return hv_nomem();
    }
    for (int i = 1; i < n; i++) {
        memcpy(row, pts + (size_t)i * m, (size_t)m * sizeof *row);
        int j = i;
        while (j > 0 && pts[(size_t)(j - 1) * m + d] < row[d]) {
            memcpy(pts + (size_t)j * m, pts + (size_t)(j - 1) * m, (size_t)m * sizeof *row);
            j--;
        }
        memcpy(pts + (size_t)j * m, row, (size_t)m * sizeof *row);
    }
    evo_status st = EVO_OK;
    double total = 0.0;
    for (int k = 0; k < n && st == EVO_OK; k++) {
        const double *p = pts + (size_t)k * m;
        double box = 1.0;
        for (int j = 0; j < d; j++) box *= ref[j] - p[j];
        int nl = 0;
        for (int q = k + 1; q < n; q++, nl++)
            for (int j = 0; j < d; j++) {
                double v = pts[(size_t)q * m + j];
                limit[(size_t)nl * d + j] = v > p[j] ? v : p[j];
            }
        nl = keep_nondominated(limit, nl, d);
        double covered = 0.0;
        if (nl > 0) st = hv_small(limit, nl, d, ref, &covered);
        total += (ref[d] - p[d]) * (box - covered);
    }
    free(row);
    free(limit);
    if (st == EVO_OK) *out = total;
    return st;
}

/* Hypervolume of n >= 1 points (n x m, each strictly dominating ref), m >= 2; pts may be
 * reordered by the m >= 4 case. */
static evo_status hv_small(const double *pts, int n, int m, const double *ref, double *out)
{
    if (m >= 4) {
        double *copy = malloc((size_t)n * m * sizeof *copy);
        if (!copy) return hv_nomem();
        memcpy(copy, pts, (size_t)n * m * sizeof *copy);
        evo_status st = hv_wfg(copy, n, m, ref, out);
        free(copy);
        return st;
    }
    const double **rows = malloc((size_t)n * 2 * sizeof *rows);
    double *buf = m == 3 ? malloc((size_t)n * 2 * sizeof *buf) : NULL;
    if (!rows || (m == 3 && !buf)) {
        free(rows);
        free(buf);
        return hv_nomem();
    }
    for (int i = 0; i < n; i++) rows[i] = pts + (size_t)i * m;
    sort_rows(rows, rows + n, n, m == 2 ? 0 : 2, m);
    *out = m == 2 ? hv2_sorted(rows, n, ref) : hv3_sorted(rows, n, ref, buf, buf + n);
    free(rows);
    free(buf);
    return EVO_OK;
}

evo_status evo_hypervolume(const double *f, int n, int m, const double *ref, double *hv)
{
    if (m < 1 || n < 0) return evo_error(EVO_ERR_ARG, "hypervolume: n = %d, m = %d", n, m);
    double *pts = malloc(((size_t)n * m + 1) * sizeof *pts);
    if (!pts) return hv_nomem();
    int k = 0;
    for (int i = 0; i < n; i++) {
        const double *p = f + (size_t)i * m;
        int j = 0;
        while (j < m && p[j] < ref[j]) j++;
        if (j == m) memcpy(pts + (size_t)k++ * m, p, (size_t)m * sizeof *p);
    }
    evo_status st = EVO_OK;
    double result = 0.0;
    if (k > 0 && m == 1) {
        double lo = pts[0];
        for (int i = 1; i < k; i++) lo = pts[i] < lo ? pts[i] : lo;
        result = ref[0] - lo;
    } else if (k > 0) {
        if (m >= 4) k = keep_nondominated(pts, k, m);
        st = hv_small(pts, k, m, ref, &result);
    }
    free(pts);
    if (st == EVO_OK) *hv = result;
    return st;
}

static double dist2(const double *a, const double *b, int m)
{
    double s = 0.0;
    for (int j = 0; j < m; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

static double dist2_plus(const double *r, const double *a, int m)
{
    double s = 0.0;
    for (int j = 0; j < m; j++) {
        double d = a[j] - r[j];
        if (d > 0) s += d * d;
    }
    return s;
}

static double igd_generic(const double *f, int n, const double *ref_front, int n_ref, int m,
                          bool plus)
{
    if (n_ref == 0) return 0.0;
    if (n == 0) return INFINITY;
    double sum = 0.0;
    for (int r = 0; r < n_ref; r++) {
        const double *z = ref_front + (size_t)r * m;
        double best = INFINITY;
        for (int i = 0; i < n; i++) {
            const double *a = f + (size_t)i * m;
            double d = plus ? dist2_plus(z, a, m) : dist2(a, z, m);
            if (d < best) best = d;
        }
        sum += sqrt(best);
    }
    return sum / n_ref;
}

double evo_igd(const double *f, int n, const double *ref_front, int n_ref, int m)
{
    return igd_generic(f, n, ref_front, n_ref, m, false);
}

double evo_igd_plus(const double *f, int n, const double *ref_front, int n_ref, int m)
{
    return igd_generic(f, n, ref_front, n_ref, m, true);
}

evo_status evo_spread(const double *f, int n, const double *ref_front, int n_ref, double *spread)
{
    if (n < 2 || n_ref < 1)
        return evo_error(EVO_ERR_ARG, "spread: needs >= 2 points and a reference front "
                         "(n = %d, n_ref = %d)", n, n_ref);
    const double **rows = malloc((size_t)n * sizeof *rows);
    const double **tmp = malloc((size_t)n * sizeof *tmp);
    if (!rows || !tmp) {
        free(rows);
        free(tmp);
        return evo_error(EVO_ERR_NOMEM, "spread: out of memory");
    }
    for (int i = 0; i < n; i++) rows[i] = f + 2 * (size_t)i;
    sort_rows(rows, tmp, n, 0, 2);
    const double *first = ref_front, *last = ref_front;
    for (int r = 1; r < n_ref; r++) {
        const double *z = ref_front + 2 * (size_t)r;
        if (z[0] < first[0]) first = z;
        if (z[0] > last[0]) last = z;
    }
    double df = sqrt(dist2(first, rows[0], 2)), dl = sqrt(dist2(last, rows[n - 1], 2));
    double mean = 0.0;
    for (int i = 0; i + 1 < n; i++) mean += sqrt(dist2(rows[i], rows[i + 1], 2));
    mean /= n - 1;
    double dev = 0.0;
    for (int i = 0; i + 1 < n; i++) dev += fabs(sqrt(dist2(rows[i], rows[i + 1], 2)) - mean);
    double den = df + dl + (n - 1) * mean;
    *spread = den > 0 ? (df + dl + dev) / den : 0.0;
    free(rows);
    free(tmp);
    return EVO_OK;
}

evo_status evo_generalized_spread(const double *f, int n, const double *ref_front, int n_ref,
                                  int m, double *spread)
{
    if (n < 2 || n_ref < 1 || m < 1)
        return evo_error(EVO_ERR_ARG, "generalized spread: needs >= 2 points, a reference front "
                         "and m >= 1 (n = %d, n_ref = %d, m = %d)", n, n_ref, m);
    double extremes = 0.0;
    for (int j = 0; j < m; j++) {
        const double *e = ref_front;
        for (int r = 1; r < n_ref; r++)
            if (ref_front[(size_t)r * m + j] > e[j]) e = ref_front + (size_t)r * m;
        double best = INFINITY;
        for (int i = 0; i < n; i++) {
            double d = dist2(e, f + (size_t)i * m, m);
            if (d < best) best = d;
        }
        extremes += sqrt(best);
    }
    double mean = 0.0, dev = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            double best = INFINITY;
            for (int k = 0; k < n; k++) {
                if (k == i) continue;
                double d = dist2(f + (size_t)i * m, f + (size_t)k * m, m);
                if (d < best) best = d;
            }
            if (pass == 0) mean += sqrt(best) / n;
            else dev += fabs(sqrt(best) - mean);
        }
    }
    double den = extremes + n * mean;
    *spread = den > 0 ? (extremes + dev) / den : 0.0;
    return EVO_OK;
}

void evo_normalize(const double *f, int n, int m, const double *ideal, const double *nadir,
                   double *out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double range = nadir[j] - ideal[j];
            double v = f[(size_t)i * m + j] - ideal[j];
            out[(size_t)i * m + j] = range != 0 ? v / range : v;
        }
}
