/*
 * evo_problems.h - the standard multi-objective test problems ZDT1-4, ZDT6 and DTLZ1-7, with
 * samples of their true Pareto fronts, ready to plug into evo_nsga2.
 *
 * Definitions: E. Zitzler, K. Deb, L. Thiele, "Comparison of multiobjective evolutionary
 * algorithms: empirical results", Evolutionary Computation 8(2), 2000 (ZDT); K. Deb,
 * L. Thiele, M. Laumanns, E. Zitzler, "Scalable test problems for evolutionary multiobjective
 * optimization", in Evolutionary Multiobjective Optimization, Springer 2005 (DTLZ). Default
 * sizes as there: ZDT1-3 30 variables, ZDT4 and ZDT6 10; DTLZ n = M + k - 1 with k = 5
 * (DTLZ1), 10 (DTLZ2-6), 20 (DTLZ7).
 *
 * True fronts: ZDT1/4 f2 = 1 - sqrt(f1), ZDT2 f2 = 1 - f1^2, ZDT6 the same on
 * f1 in [0.2807753191, 1], ZDT3 five disconnected pieces of 1 - sqrt(f1) - f1 sin(10 pi f1);
 * DTLZ1 the simplex sum f = 0.5; DTLZ2-4 the unit sphere sum f^2 = 1 (positive orthant);
 * DTLZ5/6 a curve (theta_i = pi/4 for i >= 2); DTLZ7 2^(M-1) disconnected regions.
 *
 *     evo_test_problem tp;
 *     if (evo_test_problem_init(&tp, "dtlz2", 3, 0) != EVO_OK) ...evo_last_error()...
 *     evo_problem prob;
 *     evo_test_problem_as_problem(&tp, &prob);   // genes, n_obj, evaluate, ctx = &tp
 *     double *front; int n_front;
 *     evo_test_problem_front(&tp, 500, &front, &n_front);   // free(front)
 */
#ifndef EVO_PROBLEMS_H
#define EVO_PROBLEMS_H

#include "evo_nsga2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum evo_test_id {
    EVO_TEST_ZDT1 = 0,
    EVO_TEST_ZDT2,
    EVO_TEST_ZDT3,
    EVO_TEST_ZDT4,
    EVO_TEST_ZDT6,
    EVO_TEST_DTLZ1,
    EVO_TEST_DTLZ2,
    EVO_TEST_DTLZ3,
    EVO_TEST_DTLZ4,
    EVO_TEST_DTLZ5,
    EVO_TEST_DTLZ6,
    EVO_TEST_DTLZ7,
    EVO_TEST_COUNT
} evo_test_id;

#define EVO_TEST_MAX_VARS 64     /* most decision variables of a test problem */
#define EVO_TEST_MAX_OBJ 10      /* most objectives of a DTLZ problem */

typedef struct evo_test_problem {
    evo_test_id id;
    const char *name;                    /* "zdt1", ..., "dtlz7" */
    int n_var;                           /* decision variables */
    int n_obj;                           /* objectives */
    evo_gene genes[EVO_TEST_MAX_VARS];   /* real genes with the problem's bounds */
} evo_test_problem;

/* The problem names, "zdt1|zdt2|...|dtlz7" (for usage messages). */
const char *evo_test_problem_names(void);

/* Sets up a problem by name (lower case). n_obj: 0 for the default (ZDT: 2, which is the only
 * value allowed; DTLZ: 3), else 2..EVO_TEST_MAX_OBJ for DTLZ. n_var: 0 for the default, else
 * at least n_obj (DTLZ) or 2 (ZDT) and at most EVO_TEST_MAX_VARS. EVO_ERR_ARG with a message
 * for an unknown name or bad size; on error *tp is unchanged. */
evo_status evo_test_problem_init(evo_test_problem *tp,
                                 const char *name,   /* problem name */
                                 int n_obj,          /* objectives, 0 = default */
                                 int n_var);         /* variables, 0 = default */

/* Evaluates one decision vector x (n_var values within the bounds) into f (n_obj values). */
void evo_test_problem_evaluate(const evo_test_problem *tp, const double *x, double *f);

/* An evo_problem.evaluate callback; ctx is the evo_test_problem. Cannot fail. */
evo_status evo_test_problem_evaluate_batch(void *ctx, const evo_batch *b);

/* Fills an evo_problem for NSGA-II: n_genes, genes, n_obj, no constraints, evaluate and ctx =
 * tp (which must outlive the evo_nsga2 object); other callbacks NULL. */
void evo_test_problem_as_problem(const evo_test_problem *tp, evo_problem *prob);

/* A sample of the true Pareto front (non-dominated, row-major n x n_obj, malloc()ed, caller
 * frees). Two objectives: exactly n_points points, evenly spaced in f1 over the front (ZDT3,
 * DTLZ7: over its pieces). DTLZ1-4 with M > 2: the Das and Dennis simplex lattice with the
 * most divisions giving at most n_points points (projected onto the sphere for DTLZ2-4).
 * DTLZ5/6: n_points points along the curve. DTLZ7 with M > 2: the non-dominated points of a
 * regular grid of about 4 n_points points (some hundreds to thousands land on the front).
 * Needs n_points >= 2; EVO_ERR_ARG, EVO_ERR_NOMEM; on error *front is NULL. */
evo_status evo_test_problem_front(const evo_test_problem *tp,
                                  int n_points,       /* requested size (see above) */
                                  double **front,     /* out: the points */
                                  int *n);            /* out: their number */

/* Per-objective minimum (ideal) and maximum (nadir) of a set of points (a front sample);
 * n >= 1. Cannot fail. */
void evo_front_bounds(const double *f, int n, int m, double *ideal, double *nadir);

#ifdef __cplusplus
}
#endif

#endif /* EVO_PROBLEMS_H */
