/*
 * evo_sort.c - constraint domination, fast non-dominated sorting, crowding distance and the
 * crowded binary tournament of NSGA-II (Deb et al. 2002, sections III and VI).
 */
#include "evo_nsga2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* +1 when a dominates b, -1 when b dominates a, 0 otherwise (constraint domination). */
static int compare_dominance(const double *fa, double va, const double *fb, double vb, int m)
{
    if (va > 0 || vb > 0) {
        if (va < vb) return 1;
        if (vb < va) return -1;
        if (va > 0) return 0;       /* equally infeasible */
    }
    bool a_better = false, b_better = false;
    for (int j = 0; j < m; j++) {
        if (fa[j] < fb[j]) a_better = true;
        else if (fb[j] < fa[j]) b_better = true;
        if (a_better && b_better) return 0;
    }
    return a_better ? 1 : (b_better ? -1 : 0);
}

bool evo_dominates(const double *fa, double va, const double *fb, double vb, int m)
{
    return compare_dominance(fa, va, fb, vb, m) > 0;
}

evo_status evo_sort_nondominated(const double *f, const double *viol, int n, int m, int *rank,
                                 int *n_fronts)
{
    if (n <= 0) {
        if (n_fronts) *n_fronts = 0;
        return EVO_OK;
    }
    size_t words = ((size_t)n + 63) / 64;
    /* dominated[p] is the bit set S_p of the individuals p dominates */
    uint64_t *dominated = calloc((size_t)n * words, sizeof *dominated);
    int *count = calloc((size_t)n, sizeof *count);
    int *queue = malloc((size_t)n * sizeof *queue);
    if (!dominated || !count || !queue) {
        free(dominated);
        free(count);
        free(queue);
        return evo_error(EVO_ERR_NOMEM, "non-dominated sort of %d individuals: out of memory", n);
    }
    for (int p = 0; p < n; p++) {
        const double *fp = f + (size_t)p * m;
        double vp = viol ? viol[p] : 0.0;
        for (int q = p + 1; q < n; q++) {
            int c = compare_dominance(fp, vp, f + (size_t)q * m, viol ? viol[q] : 0.0, m);
            if (c > 0) {
                dominated[(size_t)p * words + (size_t)q / 64] |= 1ULL << (q % 64);
                count[q]++;
            } else if (c < 0) {
                dominated[(size_t)q * words + (size_t)p / 64] |= 1ULL << (p % 64);
                count[p]++;
            }
        }
    }
    /* queue[begin, end) is the current front; the next front is appended behind it */
    int end = 0;
    for (int p = 0; p < n; p++)
        if (count[p] == 0) {
            rank[p] = 0;
            queue[end++] = p;
        }
    int begin = 0, r = 0;
    while (begin < end) {
        int front_end = end;
        for (int i = begin; i < front_end; i++) {
            const uint64_t *row = dominated + (size_t)queue[i] * words;
            for (size_t w = 0; w < words; w++) {
                uint64_t bits = row[w];
                while (bits) {
                    int q = (int)(w * 64) + __builtin_ctzll(bits);
                    bits &= bits - 1;
                    if (--count[q] == 0) {
                        rank[q] = r + 1;
                        queue[end++] = q;
                    }
                }
            }
        }
        begin = front_end;
        r++;
    }
    free(dominated);
    free(count);
    free(queue);
    if (end != n) return evo_error(EVO_ERR_INTERNAL, "non-dominated sort ranked %d of %d", end, n);
    if (n_fronts) *n_fronts = r;
    return EVO_OK;
}

typedef struct keyed {
    double v;
    int pos;
} keyed;

static int keyed_compare(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

evo_status evo_crowding_distance(const double *f, int m, const int *members, int k,
                                 double *crowding)
{
    for (int i = 0; i < k; i++) crowding[i] = 0.0;
    if (k <= 2) {
        for (int i = 0; i < k; i++) crowding[i] = INFINITY;
        return EVO_OK;
    }
    keyed *order = malloc((size_t)k * sizeof *order);
    if (!order) return evo_error(EVO_ERR_NOMEM, "crowding distance of %d: out of memory", k);
    for (int j = 0; j < m; j++) {
        for (int i = 0; i < k; i++) {
            order[i].v = f[(size_t)members[i] * m + j];
            order[i].pos = i;
        }
        qsort(order, (size_t)k, sizeof *order, keyed_compare);
        double lo = order[0].v, hi = order[k - 1].v;
        crowding[order[0].pos] = INFINITY;
        crowding[order[k - 1].pos] = INFINITY;
        if (!(hi > lo)) continue;
        for (int i = 1; i < k - 1; i++)
            crowding[order[i].pos] += (order[i + 1].v - order[i - 1].v) / (hi - lo);
    }
    free(order);
    return EVO_OK;
}

int evo_crowded_compare(int rank_a, double crowd_a, int rank_b, double crowd_b)
{
    if (rank_a != rank_b) return rank_a < rank_b ? -1 : 1;
    if (crowd_a > crowd_b) return -1;
    if (crowd_b > crowd_a) return 1;
    return 0;
}

int evo_tournament(const int *rank, const double *crowding, int a, int b, evo_rng *rng)
{
    int c = evo_crowded_compare(rank[a], crowding[a], rank[b], crowding[b]);
    if (c < 0) return a;
    if (c > 0) return b;
    return (evo_rng_next(rng) >> 63) ? b : a;
}
