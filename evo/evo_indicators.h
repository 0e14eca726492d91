/*
 * evo_indicators.h - quality indicators of a Pareto front approximation: hypervolume, IGD,
 * IGD+ and spread (all objectives minimized).
 *
 * Points are n rows of m objectives, row-major. A reference front is a sample of the true
 * Pareto front (evo_problems.h provides them for the test problems). Nothing here allocates
 * more than O(n m) memory per recursion level, prints or keeps state.
 *
 *     double hv;
 *     double ref[2] = {1.1, 1.1};
 *     if (evo_hypervolume(front, n, 2, ref, &hv) != EVO_OK) ...
 *     double igd = evo_igd(front, n, true_front, n_true, 2);
 */
#ifndef EVO_INDICATORS_H
#define EVO_INDICATORS_H

#include "evo_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exact hypervolume (Lebesgue measure) of the region dominated by the points and bounded by
 * the reference point; points that do not strictly dominate ref in every objective add
 * nothing. Dominated and duplicate points are allowed. m = 2: sort and sweep, O(n log n);
 * m = 3: sweep over f3 keeping the 2-D front, O(n^2); m >= 4: the WFG algorithm (While,
 * Bradstreet and Barone 2012) down to the 3-D case, exponential in m in the worst case (a
 * 100-point front of 6 objectives takes milliseconds, of 8 objectives 0.2 s). m = 1 gives
 * ref - min. EVO_ERR_ARG for m < 1 or n < 0, EVO_ERR_NOMEM; on error *hv is unchanged. */
evo_status evo_hypervolume(const double *f,     /* n x m points */
                           int n,               /* number of points, >= 0 */
                           int m,               /* objectives, >= 1 */
                           const double *ref,   /* m reference coordinates */
                           double *hv);         /* out: the hypervolume */

/* Inverted generational distance: the mean over the reference points of the Euclidean
 * distance to the nearest point of f. +inf when n = 0; 0 when n_ref = 0. Cannot fail. */
double evo_igd(const double *f, int n,             /* approximation, n x m */
               const double *ref_front, int n_ref, /* reference front, n_ref x m */
               int m);                             /* objectives */

/* IGD+ (Ishibuchi et al., EMO 2015): like IGD with the modified distance
 * d+(r, a) = sqrt(sum_j max(a_j - r_j, 0)^2), which is Pareto-compliant. Same conventions. */
double evo_igd_plus(const double *f, int n, const double *ref_front, int n_ref, int m);

/* Spread Delta of Deb et al. 2002 (eq. 1), two objectives: (d_f + d_l + sum |d_i - d_mean|) /
 * (d_f + d_l + (n - 1) d_mean), with the points sorted by f1, d_i the gaps between neighbours,
 * d_f / d_l the distances from the reference front's extremes (smallest and largest f1) to the
 * first / last point. 0 for evenly spaced points reaching both extremes. Needs n >= 2 and
 * n_ref >= 1 (EVO_ERR_ARG), EVO_ERR_NOMEM; on error *spread is unchanged. */
evo_status evo_spread(const double *f, int n,             /* approximation, n x 2 */
                      const double *ref_front, int n_ref, /* reference front, n_ref x 2 */
                      double *spread);                    /* out: Delta */

/* Generalized spread (Zhou et al., CEC 2006), any m: (sum_j d(e_j, S) + sum_X |d(X) - d_mean|)
 * / (sum_j d(e_j, S) + n d_mean), where e_j is the reference point with the largest f_j, d(e,
 * S) its distance to the nearest point of S, and d(X) the distance of X to its nearest other
 * point of S. Needs n >= 2 and n_ref >= 1 (EVO_ERR_ARG). Cannot fail otherwise. */
evo_status evo_generalized_spread(const double *f, int n, const double *ref_front, int n_ref,
                                  int m, double *spread);

/* Writes (f - ideal) / (nadir - ideal) for every point (out may equal f). An objective with
 * nadir == ideal is only shifted. Cannot fail. */
void evo_normalize(const double *f, int n, int m, const double *ideal, const double *nadir,
                   double *out);

#ifdef __cplusplus
}
#endif

#endif /* EVO_INDICATORS_H */
