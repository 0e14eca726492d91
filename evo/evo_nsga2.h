/*
 * evo_nsga2.h - a generic NSGA-II (Deb et al. 2002) driven by callbacks, with resumable state.
 *
 * NSGA-II as in K. Deb, A. Pratap, S. Agarwal, T. Meyarivan, "A fast and elitist
 * multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), 2002: fast non-dominated
 * sorting, crowding distance, binary tournament on (rank, crowding), elitist (mu + lambda)
 * survival, and constraint domination (feasible first, then least total violation). Any
 * number of objectives, all minimized. The library knows nothing of the problem: the
 * application describes the genome (evo_gene) and supplies callbacks (evo_problem).
 *
 * Genome. A fixed-length vector of doubles, one per gene. Each gene is real (SBX crossover,
 * polynomial mutation, within [lo, hi]), integer (an ordinal value in [lo, hi]: uniform,
 * one- or two-point crossover; random-reset or creep mutation) or categorical (an index in
 * [lo, hi]: like integer, but always random-reset). Kinds may be mixed in one genome. An
 * application may replace the built-in crossover and/or mutation with its own callbacks.
 *
 * Generation loop. evo_nsga2_init() creates and evaluates the initial population (generation
 * 0); each evo_nsga2_step() selects parents by binary tournament, makes n_offspring children,
 * evaluates them in ONE call of problem.evaluate (the application may spread that batch over
 * threads), merges parents and children and keeps the best pop_size. All randomness comes
 * from one seeded evo_rng in the state, drawn in a fixed order, so a run is a function of the
 * seed alone (never of the caller's thread count, provided evaluate is deterministic).
 *
 * Resume. evo_nsga2_save() writes the whole state (population, objectives, ranks, RNG, ids)
 * as a versioned byte string (format in docs/nsga2.md); evo_nsga2_restore() loads it into a
 * freshly created object with the same problem and parameters. A run restored at generation k
 * and stepped on gives bit-identical results to the uninterrupted run.
 *
 * Example (two real genes, two objectives):
 *
 *     static evo_status eval(void *ctx, const evo_batch *b) {
 *         for (int i = 0; i < b->n; i++) {
 *             const double *x = b->x + (size_t)i * b->n_genes;
 *             double *f = b->f + (size_t)i * b->n_obj;
 *             f[0] = x[0]; f[1] = (1 + x[1]) * (1 - sqrt(x[0]));
 *         }
 *         return EVO_OK;
 *     }
 *     evo_gene genes[2] = {{EVO_GENE_REAL, 0, 1}, {EVO_GENE_REAL, 0, 1}};
 *     evo_problem prob = {.n_genes = 2, .genes = genes, .n_obj = 2, .evaluate = eval};
 *     evo_params par;
 *     evo_params_default(&par);
 *     par.seed = 7;
 *     evo_nsga2 *ga;
 *     if (evo_nsga2_create(&prob, &par, &ga) != EVO_OK) ...evo_last_error()...
 *     evo_status st = evo_nsga2_run(ga, 250);            // init + 250 generations
 *     for (int i = 0; i < evo_nsga2_pop_size(ga); i++) {
 *         evo_individual ind = evo_nsga2_individual(ga, i);
 *         if (ind.rank == 0) printf("%g %g\n", ind.f[0], ind.f[1]);
 *     }
 *     evo_nsga2_free(ga);
 */
#ifndef EVO_NSGA2_H
#define EVO_NSGA2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evo_common.h"
#include "evo_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Genome description
 * ---------------------------------------------------------------------------------------- */

typedef enum evo_gene_kind {
    EVO_GENE_REAL = 0,       /* a real value in [lo, hi] */
    EVO_GENE_INT,            /* an ordinal integer in [lo, hi] (creep mutation makes sense) */
    EVO_GENE_CAT,            /* a categorical index in [lo, hi] (values are unordered) */
    EVO_GENE_KIND_COUNT
} evo_gene_kind;

typedef struct evo_gene {
    evo_gene_kind kind;      /* how the built-in operators treat the gene */
    double lo;               /* lower bound (integral for INT/CAT) */
    double hi;               /* upper bound, >= lo (integral for INT/CAT) */
} evo_gene;

/* ------------------------------------------------------------------------------------------
 * Callbacks
 * ---------------------------------------------------------------------------------------- */

/* A batch of individuals to evaluate, contiguous and row-major. */
typedef struct evo_batch {
    int n;                   /* individuals in the batch */
    int n_genes;             /* genes per individual */
    int n_obj;               /* objectives per individual */
    int n_con;               /* constraints per individual */
    const double *x;         /* n x n_genes decision vectors */
    double *f;               /* n x n_obj: the callback writes the objectives (minimized) */
    double *g;               /* n x n_con: the callback writes constraint values, g <= 0 is
                              * satisfied, g > 0 is the amount of violation; NULL if n_con = 0 */
    const uint64_t *id;      /* n birth ids (unique in a run, in order of creation) */
    const uint64_t *seed;    /* n seeds drawn for the individuals, for stochastic evaluations
                              * that must not depend on how the batch is split over threads */
} evo_batch;

typedef struct evo_nsga2 evo_nsga2;

/*
 * What the algorithm needs to know of a problem. Only n_genes, genes, n_obj and evaluate are
 * required; NULL callbacks select the built-in behaviour. Every callback receives ctx. A
 * callback that returns anything but EVO_OK aborts the current init/step, which returns that
 * status and leaves the state as it was before the call (generation hook: see below).
 */
typedef struct evo_problem {
    int n_genes;             /* genes per genome, >= 1 */
    const evo_gene *genes;   /* n_genes descriptions (copied by evo_nsga2_create) */
    int n_obj;               /* objectives, >= 1, all minimized */
    int n_con;               /* inequality constraints, >= 0 */
    void *ctx;               /* passed to every callback */

    /* (required) Evaluates a batch: writes b->f and b->g. NaN is refused (EVO_ERR_CALLBACK);
     * +inf is allowed (for instance a failed training). */
    evo_status (*evaluate)(void *ctx, const evo_batch *b);

    /* (optional) Writes a random genome into x (n_genes values within the bounds). Default:
     * uniform in [lo, hi] for real genes, a uniform integer in [lo, hi] otherwise. */
    evo_status (*init)(void *ctx, evo_rng *rng, double *x);

    /* (optional) Replaces the built-in crossover: from parents p1, p2 writes children c1, c2.
     * Called for a pair with probability p_crossover; otherwise the children are copies. */
    evo_status (*crossover)(void *ctx, evo_rng *rng, const double *p1, const double *p2,
                            double *c1, double *c2);

    /* (optional) Replaces the built-in mutation: mutates x in place. Called once for every
     * child; the callback applies its own rates. Children must stay within the bounds. */
    evo_status (*mutate)(void *ctx, evo_rng *rng, double *x);

    /* (optional) True when candidate x must not join the batch being built: `others` holds
     * n_others genomes (row-major), the current population followed by the candidates
     * already accepted (at init: the accepted initial genomes). The callback may also
     * consult its own history (for example a hash set of evaluated phenotypes). A rejected
     * candidate is replaced by a new one; after max_duplicate_tries rejections in a row the
     * next candidate is accepted anyway, so a run never stalls. */
    bool (*is_duplicate)(void *ctx, const double *x, const double *others, int n_others);

    /* (optional) Called after init and after every step, when the new generation is complete
     * and in the state (a good moment to save it). EVO_OK continues; any other status is
     * returned by init/step/run (EVO_ERR_INTERRUPTED to stop cleanly), and the completed
     * generation is kept. */
    evo_status (*on_generation)(void *ctx, const evo_nsga2 *ga);
} evo_problem;

/* ------------------------------------------------------------------------------------------
 * Parameters
 * ---------------------------------------------------------------------------------------- */

typedef enum evo_int_crossover {
    EVO_INT_CROSSOVER_UNIFORM = 0,   /* each discrete gene swapped with probability 1/2 */
    EVO_INT_CROSSOVER_ONE_POINT,     /* discrete genes after one random cut are swapped */
    EVO_INT_CROSSOVER_TWO_POINT,     /* discrete genes between two random cuts are swapped */
    EVO_INT_CROSSOVER_COUNT
} evo_int_crossover;

typedef enum evo_int_mutation {
    EVO_INT_MUTATION_RESET = 0,      /* a new uniform value in [lo, hi], different from the old */
    EVO_INT_MUTATION_CREEP,          /* +-1..creep_step, clamped to [lo, hi] (INT genes only;
                                      * CAT genes are always reset) */
    EVO_INT_MUTATION_COUNT
} evo_int_mutation;

typedef struct evo_params {
    int pop_size;                    /* mu: population kept each generation, >= 2 */
    int n_offspring;                 /* lambda: children per generation, >= 1 (0: = pop_size) */
    double p_crossover;              /* probability that a parent pair is crossed, [0, 1] */
    double p_mutation;               /* per-gene mutation probability, [0, 1]; < 0: 1/n_genes */
    double eta_c;                    /* SBX distribution index, >= 0 */
    double eta_m;                    /* polynomial mutation distribution index, >= 0 */
    evo_int_crossover int_crossover; /* crossover of INT/CAT genes */
    evo_int_mutation int_mutation;   /* mutation of INT genes */
    int creep_step;                  /* largest creep, >= 1 */
    int max_duplicate_tries;         /* rejections in a row before a duplicate is accepted */
    uint64_t seed;                   /* RNG seed */
} evo_params;

/* Fills the settings of the usual NSGA-II benchmark runs: pop_size 100, n_offspring = pop_size,
 * p_crossover 0.9, p_mutation 1/n_genes, eta_c 20, eta_m 20, uniform crossover and random
 * reset for discrete genes, creep_step 1, max_duplicate_tries 100, seed 1. Cannot fail. */
void evo_params_default(evo_params *p);

/* ------------------------------------------------------------------------------------------
 * The algorithm
 * ---------------------------------------------------------------------------------------- */

/* A view of one population member; the pointers stay valid until the next init, step,
 * restore or free. */
typedef struct evo_individual {
    const double *x;         /* n_genes genes */
    const double *f;         /* n_obj objectives */
    const double *g;         /* n_con constraint values (NULL when n_con = 0) */
    double violation;        /* sum of max(0, g_j): 0 for a feasible individual */
    int rank;                /* non-domination rank, 0 = first front */
    double crowding;         /* crowding distance within its front (+inf at the extremes) */
    uint64_t id;             /* birth id: 0..pop_size-1 for the initial population, then in
                              * order of creation */
    uint64_t parent[2];      /* birth ids of the parents (EVO_NO_PARENT at generation 0) */
    int birth_generation;    /* generation in which the individual was created */
    uint64_t seed;           /* the seed given to evaluate */
} evo_individual;

#define EVO_NO_PARENT UINT64_MAX

/* Creates an algorithm object for a problem. Checks the problem (dimensions, bounds, integral
 * bounds of discrete genes, evaluate present) and the parameters, seeds the RNG with
 * params->seed. Nothing is evaluated yet. On error *out is NULL and the message says what is
 * wrong (EVO_ERR_ARG) or EVO_ERR_NOMEM. */
evo_status evo_nsga2_create(const evo_problem *problem,    /* copied (genes included) */
                            const evo_params *params,      /* copied */
                            evo_nsga2 **out);              /* the new object */

/* Frees the object; NULL is allowed. */
void evo_nsga2_free(evo_nsga2 *ga);

/* Creates and evaluates the initial population (generation 0), ranks it, calls the hook.
 * May be called again to restart from scratch (the RNG continues). On a callback error the
 * object is as before the call. */
evo_status evo_nsga2_init(evo_nsga2 *ga);

/* One generation: tournament selection, variation, one evaluate call for the children,
 * (mu + lambda) survival, generation + 1, then the hook. Requires an initialized (or restored)
 * population (EVO_ERR_ARG otherwise). On a callback error the object is as before the call
 * (RNG included), so the step can be retried. */
evo_status evo_nsga2_step(evo_nsga2 *ga);

/* Initializes when needed, then steps until the generation counter reaches `generations`.
 * Returns the first non-OK status (a hook's EVO_ERR_INTERRUPTED included). */
evo_status evo_nsga2_run(evo_nsga2 *ga,
                         int generations);   /* target generation count, >= 0 */

/* True once init or restore has given the object a population. */
bool evo_nsga2_has_population(const evo_nsga2 *ga);

/* The generation counter (0 after init). */
int evo_nsga2_generation(const evo_nsga2 *ga);

/* Number of evaluate()d individuals since init (restored with the state). */
uint64_t evo_nsga2_evaluations(const evo_nsga2 *ga);

/* Duplicates accepted because max_duplicate_tries ran out (since create; not saved). */
uint64_t evo_nsga2_duplicates_accepted(const evo_nsga2 *ga);

/* The population size (params.pop_size). */
int evo_nsga2_pop_size(const evo_nsga2 *ga);

/* The problem the object was created with. */
const evo_problem *evo_nsga2_problem(const evo_nsga2 *ga);

/* Member i (0 <= i < pop_size) of the current population. Requires a population. */
evo_individual evo_nsga2_individual(const evo_nsga2 *ga, int i);

/* ------------------------------------------------------------------------------------------
 * Steady-state (asynchronous) NSGA-II
 *
 * After init (or restore), children may be bred one at a time and inserted when their
 * evaluation arrives, in any order, several children being out at once: breed draws two
 * parents by binary tournament (from a fresh random permutation of the population, as the
 * generational step does), crosses them with probability p_crossover, mutates, and returns the
 * first child that is_duplicate accepts (the population is `others`; the second child is tried
 * next, then a new pair); insert adds the evaluated child to the population and removes the
 * worst of the pop_size + 1 (mu + 1 survival: non-dominated sort and crowding over all of
 * them, the last front's least crowded member goes, ties to the later slot), then re-ranks the
 * pop_size survivors. Neither calls evaluate nor the generation hook: the caller evaluates
 * (asynchronously) and saves when it wants. The generation counter counts insertions; a
 * child's birth_generation is the counter + 1 when it was bred. Breeding advances the RNG and
 * the birth ids, so a state saved after a breed and restored continues with the same next
 * child; children bred but not inserted are not in the state (the caller keeps them).
 * ---------------------------------------------------------------------------------------- */

/* A child bred by evo_nsga2_breed. */
typedef struct evo_child {
    double *x;               /* n_genes genes: the caller's buffer, written by breed */
    uint64_t id;             /* birth id (the next in order of creation) */
    uint64_t parent[2];      /* birth ids of the parents */
    uint64_t seed;           /* seed for the evaluation (as evo_batch.seed) */
    int birth_generation;    /* insertions so far + 1 */
} evo_child;

/* Breeds one child into *child (child->x must point to n_genes doubles). Requires a
 * population (EVO_ERR_ARG otherwise). On a callback error the state (RNG, ids) is as before. */
evo_status evo_nsga2_breed(evo_nsga2 *ga,
                           evo_child *child);   /* in: x buffer; out: the child */

/* Inserts an evaluated child (one bred by this run, or restored by the caller) by mu + 1
 * survival: counts one evaluation and one generation. Checks the genes (within bounds) and
 * that no objective or constraint value is NaN (EVO_ERR_ARG, nothing changed). */
evo_status evo_nsga2_insert(evo_nsga2 *ga,
                            const evo_child *child,   /* the child as breed returned it */
                            const double *f,          /* n_obj objectives */
                            const double *g);         /* n_con constraints (NULL if none) */

/* ------------------------------------------------------------------------------------------
 * Saving and restoring the state (byte format: docs/nsga2.md, "State format")
 * ---------------------------------------------------------------------------------------- */

#define EVO_NSGA2_STATE_VERSION 1

/* Serializes the whole state into a malloc()ed buffer (*buf, *size); the caller frees it.
 * Requires a population. On error *buf is NULL. */
evo_status evo_nsga2_save(const evo_nsga2 *ga,
                          unsigned char **buf,    /* out: the state bytes (free()) */
                          size_t *size);          /* out: their number */

/* Loads a state written by evo_nsga2_save into an object created with the same problem
 * dimensions and parameters. Checks magic, version, checksum, dimensions, parameters and
 * that genes are within bounds; on error (EVO_ERR_FORMAT with the reason) nothing is
 * changed. Does not call the generation hook. */
evo_status evo_nsga2_restore(evo_nsga2 *ga,
                             const unsigned char *buf,   /* state bytes */
                             size_t size);               /* their number */

/* ------------------------------------------------------------------------------------------
 * Building blocks (used by the algorithm, public for tests and other algorithms)
 * ---------------------------------------------------------------------------------------- */

/* Constraint domination (Deb 2002, section VI): a dominates b when a is feasible and b not,
 * or both are infeasible and a violates less, or both are feasible and a is no worse in every
 * objective and better in at least one. Violations are >= 0; 0 means feasible. */
bool evo_dominates(const double *fa,     /* m objectives of a */
                   double va,            /* total violation of a */
                   const double *fb,     /* m objectives of b */
                   double vb,            /* total violation of b */
                   int m);               /* number of objectives */

/* Fast non-dominated sorting (Deb 2002, section III-A) under constraint domination: rank[i]
 * = 0 for the first front, 1 for the next, ... Returns the number of fronts in *n_fronts
 * (may be NULL). O(m n^2) time, O(n^2) bits of memory; EVO_ERR_NOMEM on failure. */
evo_status evo_sort_nondominated(const double *f,       /* n x m objectives, row-major */
                                 const double *viol,    /* n violations, NULL = all feasible */
                                 int n,                 /* individuals */
                                 int m,                 /* objectives */
                                 int *rank,             /* out: n ranks */
                                 int *n_fronts);        /* out: number of fronts, or NULL */

/* Crowding distance (Deb 2002, section III-B) of the members of one front: members at an
 * objective's extremes get +inf, the others the sum over objectives of the normalized gap
 * between their neighbours. Ties in an objective are ordered by member position, so the
 * result is deterministic. EVO_ERR_NOMEM on failure. */
evo_status evo_crowding_distance(const double *f,       /* rows of all individuals, x m */
                                 int m,                 /* objectives */
                                 const int *members,    /* k row indices forming one front */
                                 int k,                 /* front size */
                                 double *crowding);     /* out: k distances, by member */

/* The crowded-comparison operator: returns <0 when a is better (lower rank, or equal rank
 * and larger crowding), >0 when b is better, 0 on a tie. */
int evo_crowded_compare(int rank_a, double crowd_a, int rank_b, double crowd_b);

/* Binary tournament between a and b on (rank, crowding); a tie is decided by one RNG draw
 * (no draw otherwise). Returns a or b. */
int evo_tournament(const int *rank, const double *crowding, int a, int b, evo_rng *rng);

/* ------------------------------------------------------------------------------------------
 * Built-in variation operators (used by the algorithm, public for custom operators)
 * ---------------------------------------------------------------------------------------- */

/* Simulated binary crossover, bounded (Deb and Agrawal 1995; the variant of Deb's NSGA-II
 * code): each gene crossed with probability 1/2, children clamped to [lo, hi]. */
void evo_sbx(evo_rng *rng, double eta, double lo, double hi,
             double p1, double p2,              /* parent genes */
             double *c1, double *c2);           /* out: child genes */

/* Polynomial mutation, bounded (Deb and Goyal 1996; Deb's NSGA-II code): returns the mutated
 * value, within [lo, hi]. */
double evo_polynomial_mutation(evo_rng *rng, double eta, double lo, double hi, double x);

/* The built-in crossover of a whole genome: SBX on real genes, the chosen discrete crossover on
 * INT/CAT genes (cut points count discrete genes only). Children are written to c1, c2. */
void evo_crossover_builtin(evo_rng *rng, const evo_gene *genes, int n_genes,
                           const evo_params *params,
                           const double *p1, const double *p2, double *c1, double *c2);

/* The built-in mutation of a whole genome: each gene with probability p_mutation; real genes
 * by polynomial mutation, INT genes by reset or creep, CAT genes by reset. */
void evo_mutation_builtin(evo_rng *rng, const evo_gene *genes, int n_genes,
                          const evo_params *params, double *x);

/* Index of the first of `others` (n_others genomes of n_genes, row-major) equal to x gene by
 * gene, or -1: the core of an exact is_duplicate callback. */
int evo_genome_find(const double *x, const double *others, int n_others, int n_genes);

#ifdef __cplusplus
}
#endif

#endif /* EVO_NSGA2_H */
