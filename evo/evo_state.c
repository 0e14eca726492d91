/*
 * evo_state.c - evo_nsga2_save / evo_nsga2_restore: the versioned little-endian byte format
 * of a run's state (layout documented in docs/nsga2.md, "State format").
 */
#include "evo_nsga2_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char state_magic[8] = {'E', 'V', 'O', 'N', 'S', 'G', 'A', '2'};

#define HEADER_SIZE (8 + 4 * 7 + 8 * 2 + EVO_RNG_STATE_SIZE + 8 * 4 + 4 * 4)
#define GENE_SIZE (4 + 8 + 8)
#define CHECKSUM_SIZE 8

static size_t record_size(int ng, int no, int nc)
{
    return 8 * 4 + 4 * 2 + 8 * 2 + 8 * ((size_t)ng + no + nc);
}

/* FNV-1a, 64 bits: detects truncated or damaged blobs (not an integrity seal). */
static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

typedef struct writer {
    unsigned char *p;
} writer;

static void put_u64(writer *w, uint64_t v)
{
    for (int b = 0; b < 8; b++) *w->p++ = (unsigned char)(v >> (8 * b));
}

static void put_u32(writer *w, uint32_t v)
{
    for (int b = 0; b < 4; b++) *w->p++ = (unsigned char)(v >> (8 * b));
}

static void put_f64(writer *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_u64(w, u);
}

typedef struct reader {
    const unsigned char *p;
} reader;

static uint64_t get_u64(reader *r)
{
    uint64_t v = 0;
    for (int b = 0; b < 8; b++) v |= (uint64_t)*r->p++ << (8 * b);
    return v;
}

static uint32_t get_u32(reader *r)
{
    uint32_t v = 0;
    for (int b = 0; b < 4; b++) v |= (uint32_t)*r->p++ << (8 * b);
    return v;
}

static double get_f64(reader *r)
{
    uint64_t u = get_u64(r);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static size_t state_size(const evo_nsga2 *ga)
{
    const evo_problem *pr = &ga->prob;
    return HEADER_SIZE + (size_t)pr->n_genes * GENE_SIZE +
           (size_t)ga->par.pop_size * record_size(pr->n_genes, pr->n_obj, pr->n_con) +
           CHECKSUM_SIZE;
}

evo_status evo_nsga2_save(const evo_nsga2 *ga, unsigned char **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    if (!ga->has_pop) return evo_error(EVO_ERR_ARG, "nsga2 save: no population yet");
    const evo_problem *pr = &ga->prob;
    const evo_params *pa = &ga->par;
    const int ng = pr->n_genes, no = pr->n_obj, nc = pr->n_con;
    size_t n = state_size(ga);
    unsigned char *out = malloc(n);
    if (!out) return evo_error(EVO_ERR_NOMEM, "nsga2 save: out of memory for %zu bytes", n);
    writer w = {out};
    memcpy(w.p, state_magic, sizeof state_magic);
    w.p += sizeof state_magic;
    put_u32(&w, EVO_NSGA2_STATE_VERSION);
    put_u32(&w, (uint32_t)ng);
    put_u32(&w, (uint32_t)no);
    put_u32(&w, (uint32_t)nc);
    put_u32(&w, (uint32_t)pa->pop_size);
    put_u32(&w, (uint32_t)pa->n_offspring);
    put_u32(&w, (uint32_t)ga->generation);
    put_u64(&w, ga->next_id);
    put_u64(&w, ga->n_evals);
    evo_rng_save(&ga->rng, w.p);
    w.p += EVO_RNG_STATE_SIZE;
    put_f64(&w, pa->p_crossover);
    put_f64(&w, pa->p_mutation);
    put_f64(&w, pa->eta_c);
    put_f64(&w, pa->eta_m);
    put_u32(&w, (uint32_t)pa->int_crossover);
    put_u32(&w, (uint32_t)pa->int_mutation);
    put_u32(&w, (uint32_t)pa->creep_step);
    put_u32(&w, (uint32_t)pa->max_duplicate_tries);
    for (int i = 0; i < ng; i++) {
        put_u32(&w, (uint32_t)ga->genes[i].kind);
        put_f64(&w, ga->genes[i].lo);
        put_f64(&w, ga->genes[i].hi);
    }
    const evo_pool *p = &ga->cur;
    for (int k = 0; k < pa->pop_size; k++) {
        put_u64(&w, p->id[k]);
        put_u64(&w, p->parent[2 * k]);
        put_u64(&w, p->parent[2 * k + 1]);
        put_u64(&w, p->seed[k]);
        put_u32(&w, (uint32_t)p->birth[k]);
        put_u32(&w, (uint32_t)p->rank[k]);
        put_f64(&w, p->crowd[k]);
        put_f64(&w, p->viol[k]);
        for (int i = 0; i < ng; i++) put_f64(&w, p->x[(size_t)k * ng + i]);
        for (int j = 0; j < no; j++) put_f64(&w, p->f[(size_t)k * no + j]);
        for (int j = 0; j < nc; j++) put_f64(&w, p->g[(size_t)k * nc + j]);
    }
    put_u64(&w, fnv1a64(out, n - CHECKSUM_SIZE));
    *buf = out;
    *size = n;
    return EVO_OK;
}

static evo_status mismatch(const char *what, double saved, double here)
{
    return evo_error(EVO_ERR_FORMAT, "nsga2 state: saved with %s %g, this run has %g", what,
                     saved, here);
}

/* Reads one individual's record into slot k of pool p and checks it. */
static evo_status read_record(const evo_nsga2 *ga, int generation, reader *r, evo_pool *p,
                              int k)
{
    const int ng = ga->prob.n_genes, no = ga->prob.n_obj, nc = ga->prob.n_con;
    p->id[k] = get_u64(r);
    p->parent[2 * k] = get_u64(r);
    p->parent[2 * k + 1] = get_u64(r);
    p->seed[k] = get_u64(r);
    p->birth[k] = (int)get_u32(r);
    p->rank[k] = (int)get_u32(r);
    p->crowd[k] = get_f64(r);
    p->viol[k] = get_f64(r);
    double v = 0.0;
    bool ok = p->birth[k] >= 0 && p->birth[k] <= generation && p->rank[k] >= 0 &&
              p->rank[k] < ga->par.pop_size && !isnan(p->crowd[k]) && p->crowd[k] >= 0;
    for (int i = 0; i < ng; i++) {
        double x = p->x[(size_t)k * ng + i] = get_f64(r);
        const evo_gene *g = &ga->genes[i];
        if (!(x >= g->lo && x <= g->hi) || (g->kind != EVO_GENE_REAL && x != floor(x)))
            ok = false;
    }
    for (int j = 0; j < no; j++)
        if (isnan(p->f[(size_t)k * no + j] = get_f64(r))) ok = false;
    for (int j = 0; j < nc; j++) {
        double gj = p->g[(size_t)k * nc + j] = get_f64(r);
        if (isnan(gj)) ok = false;
        if (gj > 0) v += gj;
    }
    if (!ok || v != p->viol[k])
        return evo_error(EVO_ERR_FORMAT, "nsga2 state: individual %d (id %llu) is inconsistent "
                         "(out-of-bounds gene, NaN, bad rank, generation or violation)", k,
                         (unsigned long long)p->id[k]);
    return EVO_OK;
}

evo_status evo_nsga2_restore(evo_nsga2 *ga, const unsigned char *buf, size_t size)
{
    const evo_problem *pr = &ga->prob;
    const evo_params *pa = &ga->par;
    if (size < HEADER_SIZE + CHECKSUM_SIZE || memcmp(buf, state_magic, sizeof state_magic) != 0)
        return evo_error(EVO_ERR_FORMAT, "nsga2 state: not an NSGA-II state (bad magic or %zu "
                         "bytes)", size);
    reader r = {buf + sizeof state_magic};
    uint32_t version = get_u32(&r);
    if (version != EVO_NSGA2_STATE_VERSION)
        return evo_error(EVO_ERR_FORMAT, "nsga2 state: version %u, this build reads version %d",
                         version, EVO_NSGA2_STATE_VERSION);
    uint32_t dims[5];
    for (int i = 0; i < 5; i++) dims[i] = get_u32(&r);
    const char *dim_names[5] = {"n_genes", "n_obj", "n_con", "pop_size", "n_offspring"};
    const int here[5] = {pr->n_genes, pr->n_obj, pr->n_con, pa->pop_size, pa->n_offspring};
    for (int i = 0; i < 5; i++)
        if (dims[i] != (uint32_t)here[i]) return mismatch(dim_names[i], dims[i], here[i]);
    if (size != state_size(ga))
        return evo_error(EVO_ERR_FORMAT, "nsga2 state: %zu bytes, expected %zu (truncated?)",
                         size, state_size(ga));
    uint64_t sum = fnv1a64(buf, size - CHECKSUM_SIZE);
    reader tail = {buf + size - CHECKSUM_SIZE};
    if (get_u64(&tail) != sum)
        return evo_error(EVO_ERR_FORMAT, "nsga2 state: checksum mismatch (damaged data)");
    uint32_t generation = get_u32(&r);
    uint64_t next_id = get_u64(&r), n_evals = get_u64(&r);
    evo_rng rng;
    evo_status st = evo_rng_restore(&rng, r.p);
    if (st != EVO_OK) return evo_error(st, "nsga2 state: %s", evo_last_error());
    r.p += EVO_RNG_STATE_SIZE;
    const char *real_names[4] = {"p_crossover", "p_mutation", "eta_c", "eta_m"};
    const double real_here[4] = {pa->p_crossover, pa->p_mutation, pa->eta_c, pa->eta_m};
    for (int i = 0; i < 4; i++) {
        double v = get_f64(&r);
        if (memcmp(&v, &real_here[i], sizeof v) != 0) return mismatch(real_names[i], v, real_here[i]);
    }
    const char *int_names[4] = {"int_crossover", "int_mutation", "creep_step",
                                "max_duplicate_tries"};
    const int int_here[4] = {(int)pa->int_crossover, (int)pa->int_mutation, pa->creep_step,
                             pa->max_duplicate_tries};
    for (int i = 0; i < 4; i++) {
        uint32_t v = get_u32(&r);
        if (v != (uint32_t)int_here[i]) return mismatch(int_names[i], v, int_here[i]);
    }
    for (int i = 0; i < pr->n_genes; i++) {
        uint32_t kind = get_u32(&r);
        double lo = get_f64(&r), hi = get_f64(&r);
        const evo_gene *g = &ga->genes[i];
        if (kind != (uint32_t)g->kind || lo != g->lo || hi != g->hi)
            return evo_error(EVO_ERR_FORMAT, "nsga2 state: gene %d was kind %u [%g, %g], this "
                             "run has kind %d [%g, %g]", i, kind, lo, hi, (int)g->kind, g->lo,
                             g->hi);
    }
    if (generation > INT32_MAX || next_id < (uint64_t)pa->pop_size)
        return evo_error(EVO_ERR_FORMAT, "nsga2 state: generation %u / next id %llu out of range",
                         generation, (unsigned long long)next_id);
    for (int k = 0; k < pa->pop_size && st == EVO_OK; k++)
        st = read_record(ga, (int)generation, &r, &ga->tmp, k);
    if (st != EVO_OK) return st;
    evo_pool swap = ga->cur;
    ga->cur = ga->tmp;
    ga->tmp = swap;
    ga->rng = rng;
    ga->next_id = next_id;
    ga->n_evals = n_evals;
    ga->generation = (int)generation;
    ga->has_pop = true;
    return EVO_OK;
}
