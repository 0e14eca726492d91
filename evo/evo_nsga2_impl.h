/*
 * evo_nsga2_impl.h - the private layout of an evo_nsga2 object, shared by evo_nsga2.c (the
 * generation loop) and evo_state.c (serialization). Not part of the public API.
 */
#ifndef EVO_NSGA2_IMPL_H
#define EVO_NSGA2_IMPL_H

#include "evo_nsga2.h"

/* Individuals as parallel arrays of `cap` slots; slot i's genes are x[i * n_genes ...]. */
typedef struct evo_pool {
    double *x;               /* cap x n_genes */
    double *f;               /* cap x n_obj */
    double *g;               /* cap x n_con (NULL when n_con = 0) */
    double *viol;            /* cap total violations */
    double *crowd;           /* cap crowding distances */
    int *rank;               /* cap ranks */
    int *birth;              /* cap birth generations */
    uint64_t *id;            /* cap birth ids */
    uint64_t *parent;        /* cap x 2 parent ids */
    uint64_t *seed;          /* cap evaluation seeds */
} evo_pool;

struct evo_nsga2 {
    evo_problem prob;        /* copy; prob.genes points to `genes` */
    evo_gene *genes;         /* owned copy of the gene descriptions */
    evo_params par;          /* copy with n_offspring and p_mutation resolved */
    int cap;                 /* pop_size + n_offspring */
    evo_pool cur;            /* population in [0, pop_size), offspring after it */
    evo_pool tmp;            /* scratch of the same size (new populations are built here) */
    int *perm;               /* pop_size: tournament permutation (scratch of one step) */
    int perm_pos;            /* next unused entry of perm (pop_size: reshuffle) */
    int *members;            /* cap: scratch for survival */
    double *crowd_scratch;   /* cap: scratch for survival */
    evo_rng rng;
    bool has_pop;
    int generation;
    uint64_t next_id;
    uint64_t n_evals;
    uint64_t dup_accepted;
};

/* Copies slot si of src into slot di of dst. */
void evo_pool_copy(const evo_nsga2 *ga, evo_pool *dst, int di, const evo_pool *src, int si);

#endif /* EVO_NSGA2_IMPL_H */
