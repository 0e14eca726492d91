/*
 * evo_variation.c - the built-in variation operators: SBX and polynomial mutation for real
 * genes (as in Deb's NSGA-II reference code), uniform / one- / two-point crossover and
 * random-reset / creep mutation for integer and categorical genes.
 */
#include "evo_nsga2.h"

#include <math.h>
#include <string.h>

#define SBX_EPS 1.0e-14

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* The SBX spread factor beta_q for a uniform draw u, given the bound-limited beta. */
static double sbx_betaq(double u, double beta, double eta)
{
    double alpha = 2.0 - pow(beta, -(eta + 1.0));
    if (u <= 1.0 / alpha) return pow(u * alpha, 1.0 / (eta + 1.0));
    return pow(1.0 / (2.0 - u * alpha), 1.0 / (eta + 1.0));
}

void evo_sbx(evo_rng *rng, double eta, double lo, double hi, double p1, double p2, double *c1,
             double *c2)
{
    *c1 = p1;
    *c2 = p2;
    if (evo_rng_uniform(rng) > 0.5 || fabs(p1 - p2) <= SBX_EPS) return;
    double y1 = p1 < p2 ? p1 : p2, y2 = p1 < p2 ? p2 : p1;
    double u = evo_rng_uniform(rng);
    double a = 0.5 * ((y1 + y2) - sbx_betaq(u, 1.0 + 2.0 * (y1 - lo) / (y2 - y1), eta) * (y2 - y1));
    double b = 0.5 * ((y1 + y2) + sbx_betaq(u, 1.0 + 2.0 * (hi - y2) / (y2 - y1), eta) * (y2 - y1));
    a = clamp(a, lo, hi);
    b = clamp(b, lo, hi);
    if (evo_rng_uniform(rng) <= 0.5) {
        *c1 = b;
        *c2 = a;
    } else {
        *c1 = a;
        *c2 = b;
    }
}

double evo_polynomial_mutation(evo_rng *rng, double eta, double lo, double hi, double x)
{
    if (!(hi > lo)) return x;
    double d1 = (x - lo) / (hi - lo), d2 = (hi - x) / (hi - lo);
    double u = evo_rng_uniform(rng), pw = 1.0 / (eta + 1.0), dq;
    if (u <= 0.5) {
        double v = 2.0 * u + (1.0 - 2.0 * u) * pow(1.0 - d1, eta + 1.0);
        dq = pow(v, pw) - 1.0;
    } else {
        double v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * pow(1.0 - d2, eta + 1.0);
        dq = 1.0 - pow(v, pw);
    }
    return clamp(x + dq * (hi - lo), lo, hi);
}

void evo_crossover_builtin(evo_rng *rng, const evo_gene *genes, int n_genes,
                           const evo_params *params, const double *p1, const double *p2,
                           double *c1, double *c2)
{
    int n_discrete = 0;
    for (int i = 0; i < n_genes; i++) {
        if (genes[i].kind == EVO_GENE_REAL)
            evo_sbx(rng, params->eta_c, genes[i].lo, genes[i].hi, p1[i], p2[i], &c1[i], &c2[i]);
        else {
            c1[i] = p1[i];
            c2[i] = p2[i];
            n_discrete++;
        }
    }
    if (n_discrete < 2) return;  /* swapping a single gene only exchanges the children */
    /* discrete genes with index d in [cut_a, cut_b) (counting discrete genes only) swap */
    int cut_a = 0, cut_b = 0;
    switch (params->int_crossover) {
    case EVO_INT_CROSSOVER_ONE_POINT:
        cut_a = (int)evo_rng_range(rng, 1, n_discrete - 1);
        cut_b = n_discrete;
        break;
    case EVO_INT_CROSSOVER_TWO_POINT:
        if (n_discrete == 2) {
            cut_a = 1;
            cut_b = 2;
        } else {
            cut_a = (int)evo_rng_range(rng, 1, n_discrete - 1);
            cut_b = (int)evo_rng_range(rng, 1, n_discrete - 2);
            if (cut_b >= cut_a) cut_b++;
            else {
                int t = cut_a;
                cut_a = cut_b;
                cut_b = t;
            }
        }
        break;
    default:
        break;
    }
    for (int i = 0, d = 0; i < n_genes; i++) {
        if (genes[i].kind == EVO_GENE_REAL) continue;
        bool swap = params->int_crossover == EVO_INT_CROSSOVER_UNIFORM
                        ? (evo_rng_next(rng) >> 63) != 0
                        : (d >= cut_a && d < cut_b);
        if (swap) {
            c1[i] = p2[i];
            c2[i] = p1[i];
        }
        d++;
    }
}

static double mutate_discrete(evo_rng *rng, const evo_gene *gene, const evo_params *params,
                              double x)
{
    int64_t lo = (int64_t)gene->lo, hi = (int64_t)gene->hi, v = (int64_t)x;
    if (hi == lo) return x;
    if (gene->kind == EVO_GENE_INT && params->int_mutation == EVO_INT_MUTATION_CREEP) {
        int64_t step = evo_rng_range(rng, 1, params->creep_step);
        v = (evo_rng_next(rng) >> 63) ? v + step : v - step;
        return (double)(v < lo ? lo : (v > hi ? hi : v));
    }
    int64_t r = evo_rng_range(rng, lo, hi - 1);   /* a value other than v, uniformly */
    return (double)(r >= v ? r + 1 : r);
}

void evo_mutation_builtin(evo_rng *rng, const evo_gene *genes, int n_genes,
                          const evo_params *params, double *x)
{
    for (int i = 0; i < n_genes; i++) {
        if (evo_rng_uniform(rng) >= params->p_mutation) continue;
        if (genes[i].kind == EVO_GENE_REAL)
            x[i] = evo_polynomial_mutation(rng, params->eta_m, genes[i].lo, genes[i].hi, x[i]);
        else
            x[i] = mutate_discrete(rng, &genes[i], params, x[i]);
    }
}

int evo_genome_find(const double *x, const double *others, int n_others, int n_genes)
{
    for (int k = 0; k < n_others; k++) {
        const double *o = others + (size_t)k * n_genes;
        int i = 0;
        while (i < n_genes && o[i] == x[i]) i++;
        if (i == n_genes) return k;
    }
    return -1;
}
