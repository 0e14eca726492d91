/*
 * search.c - the NSGA-II search strategy: NAS genome variation, batches handed to the shared
 * evaluator (search_eval.h), one archive transaction per generation, new runs and resume.
 */
#include "search.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "archive.h"
#include "archive_checkpoint.h"
#include "evo_indicators.h"
#include "run_claim.h"
#include "run_signal.h"
#include "evo_nsga2.h"
#include "ms_search.h"
#include "mpi_pool.h"
#include "search_env.h"
#include "search_eval.h"
#include "archive_sent.h"

/* One candidate of the batch being evaluated. */
typedef struct cand {
    uint64_t id;
    char *genome;               /* text form */
    nas_arch arch;              /* decoded */
} cand;

typedef struct driver {
    search_env env;
    db_archive *db;
    const search_opts *opts;
    search_eval *eval;
    evo_nsga2 *ga;
    evo_gene *genes;
    int n_genes;
    int threads;
    int n_con;
    int init_calls;             /* genomes drawn by cb_init since the run (re)started */
    int exact_mul;              /* index of the first exact multiplier, -1 when none */
    int planned;                /* candidates the run still evaluates */
    int target;                 /* generations the run makes after generation 0 (asynchronous
                                   mode: one per arrival, generations x offspring) */
    const evo_child *child;     /* asynchronous mode: the child being committed */
    db_sent *resend;         /* asynchronous mode: children out when the run stopped, */
    int n_resend;               /* sent again first on resume (archive_sent.h) */

    cand *cands;                /* the batch of the generation in flight */
    search_eval_item *items;    /* their evaluations */
    int n_cands;
    search_eval_counts counts;

    double hv_scale[CFG_MAX_OBJECTIVES];
    double t_gen;

    eng_status fail_st;         /* why a callback failed */
    char fail_msg[1024];
} driver;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------------------------
 * Genome callbacks
 * ---------------------------------------------------------------------------------------- */

static void to_int(const driver *d, const double *x, int *g)
{
    for (int i = 0; i < d->n_genes; i++) g[i] = (int)lround(x[i]);
}

static void to_double(const driver *d, const int *g, double *x)
{
    for (int i = 0; i < d->n_genes; i++) x[i] = g[i];
}

static evo_status cb_init(void *ctx, evo_rng *rng, double *x)
{
    driver *d = ctx;
    int g[1024];
    uint64_t s = evo_rng_next(rng);
    nas_genome_random(&d->env.cfg.space, &s, g);
    /* the first exact_share of the initial genomes use exact multipliers only and the next
     * uniform_share one random multiplier in every layer, so that the search starts from
     * exact networks to compare with and from uniform assignments of each multiplier */
    const cfg_search *c = &d->env.cfg;
    int idx = d->init_calls++;
    int n_exact = d->exact_mul >= 0 ? (int)lround(c->nsga2.exact_share * c->nsga2.population)
                                    : 0;
    int n_uniform = (int)lround(c->nsga2.uniform_share * c->nsga2.population);
    if (idx < n_exact)
        nas_genome_set_multipliers(&c->space, g, d->exact_mul);
    else if (idx < n_exact + n_uniform)
        nas_genome_set_multipliers(&c->space, g,
                                   (int)(nas_rng_next(&s) % (uint64_t)c->space.n_muls));
    to_double(d, g, x);
    return EVO_OK;
}

static evo_status cb_mutate(void *ctx, evo_rng *rng, double *x)
{
    driver *d = ctx;
    int g[1024];
    uint64_t s = evo_rng_next(rng);
    to_int(d, x, g);
    nas_genome_mutate(&d->env.cfg.space, &s, d->env.cfg.nsga2.mutation_rate, g);
    to_double(d, g, x);
    return EVO_OK;
}

static evo_status cb_crossover(void *ctx, evo_rng *rng, const double *p1, const double *p2,
                               double *c1, double *c2)
{
    driver *d = ctx;
    int a[1024], b[1024], x[1024], y[1024];
    uint64_t s = evo_rng_next(rng);
    to_int(d, p1, a);
    to_int(d, p2, b);
    nas_genome_crossover(&d->env.cfg.space, &s, a, b, x, y);
    to_double(d, x, c1);
    to_double(d, y, c2);
    return EVO_OK;
}

/* Hash of a genome's network; 0 when it does not decode (cannot happen for valid genes). */
static uint64_t genome_hash(const driver *d, const double *x, nas_arch *keep)
{
    int g[1024];
    to_int(d, x, g);
    nas_arch arch;
    if (nas_genome_decode(&d->env.cfg.space, g, &arch) != ENG_OK) return 0;
    uint64_t h = nas_arch_hash(&arch);
    if (keep) *keep = arch;
    else nas_arch_free(&arch);
    return h;
}

static bool cb_is_duplicate(void *ctx, const double *x, const double *others, int n_others)
{
    driver *d = ctx;
    uint64_t h = genome_hash(d, x, NULL);
    if (search_eval_is_committed(d->eval, h)) return true;
    for (int i = 0; i < n_others; i++)
        if (genome_hash(d, others + (size_t)i * d->n_genes, NULL) == h) return true;
    return false;
}

/* ------------------------------------------------------------------------------------------
 * Evaluation
 * ---------------------------------------------------------------------------------------- */

static void clear_batch(driver *d)
{
    for (int i = 0; i < d->n_cands; i++) {
        free(d->cands[i].genome);
        nas_arch_free(&d->cands[i].arch);
    }
    free(d->cands);
    free(d->items);
    d->cands = NULL, d->items = NULL;
    d->n_cands = 0;
    d->counts = (search_eval_counts){0};
}

static evo_status fail(driver *d, eng_status st, const char *msg)
{
    d->fail_st = st;
    snprintf(d->fail_msg, sizeof d->fail_msg, "%s", msg);
    return evo_error(st == ENG_ERR_INTERRUPTED ? EVO_ERR_INTERRUPTED : EVO_ERR_CALLBACK, "%s",
                     msg);
}

static evo_status cb_evaluate(void *ctx, const evo_batch *b)
{
    driver *d = ctx;
    const cfg_search *c = &d->env.cfg;
    int gen = evo_nsga2_has_population(d->ga) ? evo_nsga2_generation(d->ga) + 1 : 0;
    clear_batch(d);
    d->t_gen = now_s();
    d->cands = calloc((size_t)b->n, sizeof *d->cands);
    d->items = calloc((size_t)b->n, sizeof *d->items);
    if (!d->cands || !d->items) return fail(d, ENG_ERR_NOMEM, "out of memory");
    d->n_cands = b->n;
    int g[1024];
    size_t text_size = (size_t)d->n_genes * 4 + 16;
    for (int i = 0; i < b->n; i++) {
        cand *cd = &d->cands[i];
        to_int(d, b->x + (size_t)i * d->n_genes, g);
        cd->id = b->id[i];
        cd->genome = malloc(text_size);
        if (!cd->genome) return fail(d, ENG_ERR_NOMEM, "out of memory");
        nas_genome_format(&c->space, g, cd->genome, text_size);
        eng_status st = nas_genome_decode(&c->space, g, &cd->arch);
        if (st != ENG_OK) return fail(d, st, eng_last_error());
        d->items[i].arch = &cd->arch;
    }
    eng_status st = search_eval_batch(d->eval, gen, d->items, b->n, &d->counts);
    if (st != ENG_OK) return fail(d, st, eng_last_error());
    for (int i = 0; i < b->n; i++) {
        double fv[CFG_MAX_OBJECTIVES], gv[3];
        search_eval_objectives(c, &d->items[i].e, fv, gv);
        memcpy(b->f + (size_t)i * b->n_obj, fv, sizeof(double) * (size_t)b->n_obj);
        if (b->n_con) memcpy(b->g + (size_t)i * b->n_con, gv, sizeof(double) * (size_t)b->n_con);
    }
    return EVO_OK;
}

/* ------------------------------------------------------------------------------------------
 * Generation hook: one transaction
 * ---------------------------------------------------------------------------------------- */

static eng_status load_hv_scale(driver *d)
{
    int m = d->env.cfg.n_objectives;
    for (int k = 0; k < m; k++) d->hv_scale[k] = 1.0;
    int pop = evo_nsga2_pop_size(d->ga);
    if (evo_nsga2_generation(d->ga) != 0) return ENG_OK;
    for (int k = 0; k < m; k++) {
        if (d->env.cfg.objectives[k] == CFG_OBJECTIVE_ERROR) continue;
        double mx = 0;
        for (int i = 0; i < pop; i++) {
            double v = evo_nsga2_individual(d->ga, i).f[k];
            if (isfinite(v) && v > mx) mx = v;
        }
        d->hv_scale[k] = mx > 0 ? mx : 1.0;
    }
    return ENG_OK;
}

static double hypervolume(const driver *d, const evo_nsga2 *ga)
{
    int m = d->env.cfg.n_objectives, pop = evo_nsga2_pop_size(ga), n = 0;
    double *pts = malloc(sizeof(double) * (size_t)(pop * m)), ref[CFG_MAX_OBJECTIVES], hv;
    if (!pts) return NAN;
    for (int i = 0; i < pop; i++) {
        evo_individual ind = evo_nsga2_individual(ga, i);
        if (ind.rank != 0 || ind.violation > 0) continue;
        for (int k = 0; k < m; k++) pts[n * m + k] = ind.f[k] / d->hv_scale[k];
        n++;
    }
    for (int k = 0; k < m; k++) ref[k] = 1.1;
    if (evo_hypervolume(pts, n, m, ref, &hv) != EVO_OK) hv = NAN;
    free(pts);
    return hv;
}


void search_hold_after_generation(const search_opts *opts, int gen)
{
    const char *v = getenv("EVOAPPROXNAS_HOLD_AFTER_GENERATIONS");
    if (!v || atoi(v) != gen + 1) return;
    while (!(opts->stop && *opts->stop)) pause();
}

static evo_status cb_generation(void *ctx, const evo_nsga2 *ga)
{
    driver *d = ctx;
    int gen = evo_nsga2_generation(ga), pop = evo_nsga2_pop_size(ga);
    if (gen == 0) load_hv_scale(d);
    unsigned char *state = NULL;
    size_t state_size = 0;
    if (evo_nsga2_save(ga, &state, &state_size) != EVO_OK)
        return fail(d, ENG_ERR_INTERNAL, evo_last_error());
    db_generation row = {.generation = gen, .evaluated = d->counts.evaluated,
                         .reused = d->counts.reused,
                         .best_error = INFINITY, .min_energy_pj = INFINITY,
                         .hypervolume = hypervolume(d, ga), .wall_s = now_s() - d->t_gen,
                         .state = state, .state_size = state_size};
    eng_status st = db_begin(d->db);
    for (int i = 0; i < d->n_cands && st == ENG_OK; i++)
        if (d->items[i].first) st = db_evaluation_insert(d->db, &d->items[i].e);
    for (int i = 0; i < d->n_cands && st == ENG_OK; i++) {
        const cand *cd = &d->cands[i];
        db_individual ind = {.id = cd->id, .generation = gen, .genome = cd->genome,
                             .parent = {-1, -1}, .reused = d->items[i].reused};
        snprintf(ind.hash, sizeof ind.hash, "%016llx", (unsigned long long)d->items[i].hash);
        for (int p = 0; p < pop; p++) {
            evo_individual m = evo_nsga2_individual(ga, p);
            if (m.id != cd->id) continue;
            for (int q = 0; q < 2; q++)
                ind.parent[q] = m.parent[q] == EVO_NO_PARENT ? -1 : (int64_t)m.parent[q];
        }
        if (d->child && d->child->id == cd->id) /* recorded even when it did not survive */
            for (int q = 0; q < 2; q++) ind.parent[q] = (int64_t)d->child->parent[q];
        st = db_individual_insert(d->db, &ind);
    }
    for (int p = 0; p < pop && st == ENG_OK; p++) {
        evo_individual m = evo_nsga2_individual(ga, p);
        st = db_population_insert(d->db, gen, m.id, m.rank, m.crowding);
        if (m.rank == 0 && m.violation <= 0) row.front_size++;
        for (int k = 0; k < d->env.cfg.n_objectives && m.violation <= 0; k++) {
            if (d->env.cfg.objectives[k] == CFG_OBJECTIVE_ERROR && m.f[k] < row.best_error)
                row.best_error = m.f[k];
            if (k == search_eval_energy_objective(&d->env.cfg) && m.f[k] < row.min_energy_pj)
                row.min_energy_pj = m.f[k];
        }
    }
    if (st == ENG_OK) st = db_generation_insert(d->db, &row);
    /* an arrival: its checkpoint goes, its sent row is marked (other children are still out) */
    if (st == ENG_OK && d->child) {
        char hex[DB_HASH_LEN];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)d->items[0].hash);
        st = db_checkpoint_delete(d->db, hex);
        if (st == ENG_OK) st = db_sent_arrived(d->db, (int64_t)d->child->id, gen);
    } else if (st == ENG_OK) {
        st = db_checkpoint_clear(d->db);
    }
    if (st == ENG_OK) st = db_commit(d->db);
    else db_rollback(d->db);
    free(state);
    if (st != ENG_OK) return fail(d, st, eng_last_error());
    for (int i = 0; i < d->n_cands; i++) search_eval_mark_committed(d->eval, d->items[i].hash);
    search_hold_after_generation(d->opts, gen);
    if (d->opts->progress == SEARCH_PROGRESS_TTY) search_say(d->opts, "%s", "");
    char err_txt[32] = "-", energy_txt[32] = "-";
    if (isfinite(row.best_error)) snprintf(err_txt, sizeof err_txt, "%.4f", row.best_error);
    if (isfinite(row.min_energy_pj))
        snprintf(energy_txt, sizeof energy_txt, "%.4g uJ", row.min_energy_pj * 1e-6);
    int ke = search_eval_energy_objective(&d->env.cfg);
    char idle[48] = "";
    if (mpi_pool_size() > 1 && d->counts.slot_s > 0)
        snprintf(idle, sizeof idle, ", %d ranks idle %.0f%%", mpi_pool_size(),
                 100.0 * (1.0 - d->counts.busy_s / d->counts.slot_s));
    search_say(d->opts, "%s %d done: %d trained, %d reused, front %d, best error %s, min %s %s, "
        "hypervolume %.4f, %.1fs%s%s", d->child ? "arrival" : "generation", gen, row.evaluated, row.reused, row.front_size, err_txt,
        ke >= 0 ? cfg_objective_name(d->env.cfg.objectives[ke]) : "energy", energy_txt, row.hypervolume, row.wall_s,
        idle, d->opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
    clear_batch(d);
    if (d->opts->stop && *d->opts->stop) return fail(d, ENG_ERR_INTERRUPTED, "interrupted");
    return EVO_OK;
}

/* ------------------------------------------------------------------------------------------
 * Runs
 * ---------------------------------------------------------------------------------------- */

/* The worker threads (0: all cores), after saying why a CUDA config runs on the CPU. */
static void driver_threads(driver *d, const search_opts *opts)
{
    d->opts = opts;
    if (d->env.device_note[0])
        fprintf(stderr, "evoapproxnas: %s: device cuda: %s; running on the CPU\n",
                d->env.cfg.path, d->env.device_note);
    d->threads = opts->threads;
    if (d->threads <= 0) d->threads = eng_cpu_count();
}

static eng_status driver_create(driver *d, const search_opts *opts)
{
    const cfg_search *c = &d->env.cfg;
    driver_threads(d, opts);
    d->exact_mul = -1;
    for (int i = c->space.n_muls - 1; i >= 0; i--)
        if (d->env.mul_exact[i]) d->exact_mul = i;
    d->n_genes = nas_genome_length(&c->space);
    if (d->n_genes > 1024) return eng_error(ENG_ERR_ARG, "%s: the genome is too long", c->path);
    d->genes = calloc((size_t)d->n_genes, sizeof *d->genes);
    if (!d->genes) return eng_error(ENG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < d->n_genes; i++)
        d->genes[i] = (evo_gene){EVO_GENE_CAT, 0, nas_genome_gene_range(&c->space, i) - 1};
    d->n_con = search_eval_n_constraints(c);
    evo_problem prob = {.n_genes = d->n_genes, .genes = d->genes, .n_obj = c->n_objectives,
                        .n_con = d->n_con, .ctx = d, .evaluate = cb_evaluate, .init = cb_init,
                        .crossover = cb_crossover, .mutate = cb_mutate,
                        .is_duplicate = cb_is_duplicate, .on_generation = cb_generation};
    evo_params par;
    evo_params_default(&par);
    par.pop_size = c->nsga2.population;
    par.n_offspring = c->nsga2.offspring;
    par.p_crossover = c->nsga2.crossover_rate;
    par.p_mutation = c->nsga2.mutation_rate;
    par.max_duplicate_tries = 50;
    par.seed = c->seed;
    if (evo_nsga2_create(&prob, &par, &d->ga) != EVO_OK)
        return eng_error(ENG_ERR_ARG, "%s: %s", c->path, evo_last_error());
    d->planned = c->nsga2.population + c->nsga2.generations * c->nsga2.offspring;
    d->target = c->nsga2.asynchronous ? c->nsga2.generations * c->nsga2.offspring
                                      : c->nsga2.generations;
    /* before the archive exists: a worker that cannot load the config stops the run here */
    return search_eval_start_ranks(&d->env, opts);
}

/* The evaluator, once the archive is open. */
static eng_status driver_attach(driver *d)
{
    return search_eval_create(&d->env, d->db, d->opts, d->threads, &d->eval);
}

static void driver_free(driver *d)
{
    clear_batch(d);
    db_sent_free(d->resend, d->n_resend);
    evo_nsga2_free(d->ga);
    free(d->genes);
    search_eval_free(d->eval);
    db_close(d->db);
    search_env_close(&d->env);
}

/* A child of the asynchronous mode out for evaluation. */
typedef struct async_child {
    bool out;
    evo_child ch;
    cand cd;
} async_child;

static eng_status commit_locked(void *user)
{
    driver *d = user;
    return cb_generation(d, d->ga) == EVO_OK ? ENG_OK : d->fail_st;
}

static eng_status prepare_sent(void *user)
{
    return db_sent_prepare(user);
}

/* The sent row of a child being sent, and the archive it goes to. */
typedef struct sent_put {
    db_archive *db;
    const db_sent *row;
} sent_put;

static eng_status record_sent(void *user)
{
    sent_put *p = user;
    eng_status st = db_begin(p->db);
    if (st == ENG_OK) st = db_sent_insert(p->db, p->row);
    if (st == ENG_OK) st = db_commit(p->db);
    else db_rollback(p->db);
    return st;
}

/* Sends a child in the free entry k: the next one still out when a resumed run stopped (as it
 * was), else one bred from the current population and recorded in the sent table first. */
static evo_status send_child(driver *d, async_child *k, int tag, int gen)
{
    const cfg_search *c = &d->env.cfg;
    int g[1024];
    size_t text_size = (size_t)d->n_genes * 4 + 16;
    bool again = d->n_resend > 0;
    if (again) {
        db_sent *p = &d->resend[0];
        memcpy(k->ch.x, p->genes, sizeof(double) * (size_t)d->n_genes);
        k->ch.id = (uint64_t)p->id, k->ch.seed = p->seed;
        k->ch.parent[0] = (uint64_t)p->parent[0], k->ch.parent[1] = (uint64_t)p->parent[1];
        k->ch.birth_generation = p->birth_generation;
        free(p->genome), free(p->genes), free(p->state);
        memmove(d->resend, d->resend + 1, sizeof *d->resend * (size_t)--d->n_resend);
    } else {
        evo_status rc = evo_nsga2_breed(d->ga, &k->ch);
        if (rc != EVO_OK) return rc;
    }
    to_int(d, k->ch.x, g);
    k->cd = (cand){.id = k->ch.id, .genome = malloc(text_size)};
    if (!k->cd.genome) return fail(d, ENG_ERR_NOMEM, "out of memory");
    nas_genome_format(&c->space, g, k->cd.genome, text_size);
    eng_status st = nas_genome_decode(&c->space, g, &k->cd.arch);
    if (st == ENG_OK && !again) {
        db_sent row = {.id = (int64_t)k->ch.id, .seed = k->ch.seed,
                          .parent = {(int64_t)k->ch.parent[0], (int64_t)k->ch.parent[1]},
                          .birth_generation = k->ch.birth_generation,
                          .after_generation = evo_nsga2_generation(d->ga),
                          .genome = k->cd.genome, .genes = k->ch.x, .n_genes = d->n_genes};
        if (evo_nsga2_save(d->ga, &row.state, &row.state_size) != EVO_OK)
            st = eng_error(ENG_ERR_INTERNAL, "%s", evo_last_error());
        sent_put put = {.db = d->db, .row = &row};
        if (st == ENG_OK) st = search_eval_locked(d->eval, record_sent, &put);
        free(row.state);
    }
    if (st == ENG_OK) st = search_eval_submit(d->eval, gen, tag, &k->cd.arch);
    if (st != ENG_OK) {
        nas_arch_free(&k->cd.arch);
        free(k->cd.genome);
        k->cd = (cand){0};
        return fail(d, st, eng_last_error());
    }
    k->out = true;
    return EVO_OK;
}

/* Asynchronous mode: keeps as many children out as there are workers, each bred from the
 * current population when a worker is free; each arrival is inserted by (mu + 1) survival
 * and committed as one generation (with the workers' idle share so far). */
static evo_status run_async(driver *d, int target)
{
    int workers = 0, out = 0;
    eng_status st = search_eval_capacity(d->eval, &workers, &out);
    if (st != ENG_OK) return fail(d, st, eng_last_error());
    async_child *kids = calloc((size_t)workers, sizeof *kids);
    double *xs = calloc((size_t)workers * (size_t)d->n_genes, sizeof *xs);
    evo_status rc = kids && xs ? EVO_OK : fail(d, ENG_ERR_NOMEM, "out of memory");
    if (rc == EVO_OK && (st = search_eval_locked(d->eval, prepare_sent, d->db)) != ENG_OK)
        rc = fail(d, st, eng_last_error());
    for (int k = 0; rc == EVO_OK && k < workers; k++) kids[k].ch.x = xs + (size_t)k * d->n_genes;
    while (rc == EVO_OK && evo_nsga2_generation(d->ga) < target) {
        int gen = evo_nsga2_generation(d->ga);
        for (int k = 0; rc == EVO_OK && k < workers && gen + out < target; k++) {
            if (kids[k].out) continue;
            rc = send_child(d, &kids[k], k, gen + out + 1);
            out += rc == EVO_OK;
        }
        if (rc != EVO_OK) break;
        int tag = -1;
        search_eval_item it;
        double idle = 0;
        clear_batch(d);
        d->t_gen = now_s();
        st = search_eval_wait(d->eval, &tag, &it, &idle);
        if (st != ENG_OK) {
            rc = fail(d, st, eng_last_error());
            break;
        }
        out--;
        async_child *k = &kids[tag];
        k->out = false;
        double f[CFG_MAX_OBJECTIVES], g[3];
        search_eval_objectives(&d->env.cfg, &it.e, f, g);
        if (evo_nsga2_insert(d->ga, &k->ch, f, d->n_con ? g : NULL) != EVO_OK) {
            rc = fail(d, ENG_ERR_INTERNAL, evo_last_error());
            break;
        }
        d->cands = malloc(sizeof *d->cands);
        d->items = malloc(sizeof *d->items);
        if (!d->cands || !d->items) {
            rc = fail(d, ENG_ERR_NOMEM, "out of memory");
            break;
        }
        d->cands[0] = k->cd, d->items[0] = it, d->n_cands = 1;
        k->cd = (cand){0};
        d->counts = (search_eval_counts){.evaluated = !it.reused, .reused = it.reused,
                                         .slot_s = 1.0, .busy_s = 1.0 - idle};
        d->child = &k->ch;
        st = search_eval_locked(d->eval, commit_locked, d);
        d->child = NULL;
        if (st != ENG_OK) rc = d->fail_st == ENG_ERR_INTERRUPTED ? EVO_ERR_INTERRUPTED
                                                                 : EVO_ERR_CALLBACK;
    }
    /* interrupted or failed: stop the children out and wait for them (they checkpoint) */
    if (rc != EVO_OK) search_eval_cancel(d->eval);
    while (out > 0) {
        int tag;
        search_eval_item it;
        if (search_eval_wait(d->eval, &tag, &it, NULL) == ENG_ERR_INTERRUPTED) break;
        out--;
    }
    for (int k = 0; kids && k < workers; k++) {
        nas_arch_free(&kids[k].cd.arch);
        free(kids[k].cd.genome);
    }
    free(kids);
    free(xs);
    return rc;
}

/* Runs until the configured generation count; marks the run's status. */
static eng_status driver_run(driver *d)
{
    int target = d->target;
    search_eval_plan(d->eval, target, d->planned);
    evo_status rc;
    if (d->env.cfg.nsga2.asynchronous) {
        rc = evo_nsga2_has_population(d->ga) ? EVO_OK : evo_nsga2_init(d->ga);
        if (rc == EVO_OK) rc = run_async(d, target);
    } else {
        rc = evo_nsga2_run(d->ga, target);
    }
    if (d->opts->progress == SEARCH_PROGRESS_TTY) search_say(d->opts, "%s", "");
    if (rc == EVO_OK) {
        ENG_TRY(db_run_set_status(d->db, "finished"));
        search_say(d->opts, "search finished: %d generations%s in %s%s", target + 1,
            d->env.cfg.nsga2.asynchronous ? " (the initial one, then one per arrival)" : "",
            db_path(d->db), d->opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
        return ENG_OK;
    }
    eng_status st = d->fail_st != ENG_OK ? d->fail_st : ENG_ERR_INTERNAL;
    if (rc == EVO_ERR_INTERRUPTED) st = ENG_ERR_INTERRUPTED;
    db_run_set_status(d->db, st == ENG_ERR_INTERRUPTED ? "interrupted" : "failed");
    if (st == ENG_ERR_INTERRUPTED) {
        const char *sig = run_signal_name(d->opts->stop ? (int)*d->opts->stop : 0);
        return eng_error(st, "interrupted%s%s; continue with: evoapproxnas resume %s",
                         sig ? " by " : "", sig ? sig : "", db_path(d->db));
    }
    return eng_error(st, "%s", d->fail_msg[0] ? d->fail_msg : evo_last_error());
}

static eng_status make_parent_dir(const char *path)
{
    char dir[CFG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return ENG_OK;
    *slash = '\0';
    struct stat sb;
    if (stat(dir, &sb) == 0) return ENG_OK;
    if (mkdir(dir, 0777) != 0)
        return eng_error(ENG_ERR_IO, "%s: cannot create the directory: %s", dir, strerror(errno));
    return ENG_OK;
}

/* Whether the search may create its archive at path: nothing there (*replace false), or a
 * leftover it may replace (*replace true): an empty file, or an archive of the same config
 * that holds no committed generation. Else ENG_ERR_EXISTS (or the archive's damage). */
static eng_status check_output(const char *path, const cfg_search *cfg, const search_opts *opts,
                               bool *replace)
{
    *replace = false;
    struct stat sb;
    if (stat(path, &sb) != 0) return ENG_OK;
    if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
        *replace = true;
        return ENG_OK;
    }
    db_archive *old;
    ENG_TRY(db_open(path, DB_OPEN_READ, &old));
    db_run run;
    bool loaded = db_run_load(old, &run) == ENG_OK;
    bool same = loaded && strcmp(run.config_text, cfg->text) == 0;
    if (loaded) db_run_free(&run);
    int gens = (int)db_query_double(old, "SELECT count(*) FROM generations", -1);
    db_close(old);
    if (same && gens == 0) {
        *replace = true;
        return ENG_OK;
    }
    const char *other = opts->output ? "another --output" : "another --name";
    if (same)
        return eng_error(ENG_ERR_EXISTS, "%s already holds a search with this config; continue "
                         "it with `evoapproxnas resume %s`, or give %s", path, path, other);
    return eng_error(ENG_ERR_EXISTS, "%s already exists and was not made by this config; give "
                     "%s, or delete it", path, other);
}

eng_status search_run(const char *config_path, const search_opts *opts, char *db_path_out)
{
    cfg_search cfg;
    ENG_TRY(cfg_load(config_path, &cfg));
    if (opts->name) {
        char def[CFG_PATH_MAX];
        snprintf(def, sizeof def, "results/%s.db", cfg.name);
        bool default_out = strcmp(def, cfg.output) == 0;
        snprintf(cfg.name, sizeof cfg.name, "%s", opts->name);
        if (default_out) snprintf(cfg.output, sizeof cfg.output, "results/%s.db", cfg.name);
    }
    if (opts->output) snprintf(cfg.output, sizeof cfg.output, "%s", opts->output);
    if (db_path_out) snprintf(db_path_out, CFG_PATH_MAX, "%s", cfg.output);
    /* the archive keeps the config's absolute path: its relative paths resolve from there
     * whatever the working directory of resume or finalize */
    char abs_config[PATH_MAX];
    if (!realpath(config_path, abs_config)) snprintf(abs_config, sizeof abs_config, "%s",
                                                     config_path);

    run_claim *claim = NULL;
    bool replace = false;
    eng_status st = make_parent_dir(cfg.output);
    if (st == ENG_OK) st = run_claim_take(cfg.output, "search", stderr, &claim);
    if (st == ENG_OK) st = check_output(cfg.output, &cfg, opts, &replace);
    if (st != ENG_OK) {
        run_claim_release(claim);
        cfg_free(&cfg);
        return st;
    }
    driver d = {0};
    char output[CFG_PATH_MAX], name[CFG_NAME_MAX];
    snprintf(output, sizeof output, "%s", cfg.output);
    snprintf(name, sizeof name, "%s", cfg.name);
    st = search_env_open(&d.env, &cfg, SEARCH_ENV_DATA);
    const cfg_model_search *ms = &d.env.cfg.model_search;
    bool model_search = st == ENG_OK && d.env.cfg.strategy == CFG_STRATEGY_MODEL_SEARCH;
    if (model_search) driver_threads(&d, opts);
    else if (st == ENG_OK) st = driver_create(&d, opts);
    if (st == ENG_OK) {
        db_run run = {.seed = d.env.cfg.seed, .threads = d.threads,
                      .generations = model_search ? ms_search_generations(ms) - 1 : d.target,
                      .config_text = d.env.cfg.text};
        snprintf(run.strategy, sizeof run.strategy, "%s",
                 cfg_strategy_name(d.env.cfg.strategy));
        snprintf(run.name, sizeof run.name, "%s", name);
        snprintf(run.config_path, sizeof run.config_path, "%s", abs_config);
        size_t pos = 0;
        for (int k = 0; k < d.env.cfg.n_objectives; k++)
            pos += (size_t)snprintf(run.objectives + pos, sizeof run.objectives - pos, "%s%s",
                                    k ? "," : "", cfg_objective_name(d.env.cfg.objectives[k]));
        st = db_create(output, &run, replace, &d.db);
    }
    if (st == ENG_OK) st = run_claim_attach(claim, d.db);
    if (st == ENG_OK && model_search) {
        search_say(d.opts, "search '%s': model_search (%s), %d trials in batches of %d, %d "
                   "library blocks, %d threads -> %s%s", name,
                   cfg_ms_algorithm_name(ms->algorithm), ms->trials, ms->batch, ms->n_blocks,
                   d.threads, output, opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
        st = ms_search_drive(&d.env, d.db, d.opts, d.threads, false);
    } else if (st == ENG_OK) {
        st = driver_attach(&d);
    }
    if (st == ENG_OK && !model_search) {
        search_say(d.opts, "search '%s': %d genes, population %d, %d generations%s, %d threads -> %s%s",
            name, d.n_genes, d.env.cfg.nsga2.population, d.env.cfg.nsga2.generations,
            d.env.cfg.nsga2.asynchronous ? " of offspring, asynchronous" : "", d.threads, output, opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
        st = driver_run(&d);
    }
    run_claim_release(claim);
    driver_free(&d);
    return st;
}

/* Parses the archived config at path, with the overrides; on error, says how to point the
 * archive at a moved file. */
static eng_status parse_archived(const char *db_path, const db_run *run, const char *path,
                                 const cfg_paths *paths, cfg_search *cfg)
{
    eng_status st = cfg_parse_with(run->config_text, path, paths, cfg);
    if (st == ENG_OK) return ENG_OK;
    char msg[2048], hint[CFG_PATH_MAX + 128] = "";
    snprintf(msg, sizeof msg, "%s", eng_last_error());
    if (strstr(msg, "dataset.path"))
        snprintf(hint, sizeof hint, "; point the archive at the data set with `evoapproxnas "
                 "resume %s --data DIR`", db_path);
    else if (strstr(msg, "energy.accelerator"))
        snprintf(hint, sizeof hint, "; point the archive at the accelerator with "
                 "`evoapproxnas resume %s --accelerator FILE`", db_path);
    return eng_error(st, "%s: the archived config no longer loads: %s%s", db_path, msg, hint);
}

eng_status search_config_load(db_archive *db, const db_run *run, const cfg_paths *paths,
                              cfg_search *cfg)
{
    const char *dbp = db_path(db);
    /* given paths first, then those recorded by an earlier `resume --data` */
    char data[CFG_PATH_MAX], accel[CFG_PATH_MAX];
    cfg_paths use = {0};
    if (paths) use = *paths;
    if (!use.dataset && db_moved_path_load(db, "dataset.path", data, sizeof data) == ENG_OK)
        use.dataset = data;
    if (!use.accelerator &&
        db_moved_path_load(db, "energy.accelerator", accel, sizeof accel) == ENG_OK)
        use.accelerator = accel;
    const char *cp = run->config_path;
    if (cp[0] == '/') return parse_archived(dbp, run, cp, &use, cfg);
    /* Archives of earlier versions keep the path as given to `search`, relative to its
     * working directory: try this one, then the archive's directory and the one above it
     * (results/NAME.db beside the config's directory). */
    eng_status st = parse_archived(dbp, run, cp, &use, cfg);
    if (st == ENG_OK) return ENG_OK;
    char first[2048], dir[PATH_MAX], path[PATH_MAX + CFG_PATH_MAX];
    snprintf(first, sizeof first, "%s", eng_last_error());
    if (!realpath(dbp, dir)) return eng_error(st, "%s", first);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        *slash = '\0';
        snprintf(path, sizeof path, "%s/%s", dir, cp);
        struct stat sb;
        if (stat(path, &sb) == 0 && parse_archived(dbp, run, path, &use, cfg) == ENG_OK)
            return ENG_OK;
    }
    return eng_error(st, "%s", first);
}

/* Records the paths given to resume (absolute) for later commands. */
static eng_status record_moved_paths(db_archive *db, const cfg_paths *paths)
{
    const char *keys[2] = {"dataset.path", "energy.accelerator"};
    const char *given[2] = {paths->dataset, paths->accelerator};
    for (int i = 0; i < 2; i++) {
        char abs[PATH_MAX];
        if (!given[i]) continue;
        if (!realpath(given[i], abs)) snprintf(abs, sizeof abs, "%s", given[i]);
        ENG_TRY(db_moved_path_store(db, keys[i], abs));
    }
    return ENG_OK;
}

eng_status search_resume(const char *db_path, const search_opts *opts)
{
    driver d = {0};
    db_run run = {0};
    run_claim *claim = NULL;
    struct stat sb;
    if (stat(db_path, &sb) != 0) /* says why, without leaving a lock file behind */
        return db_open(db_path, DB_OPEN_READ, &d.db);
    eng_status st = run_claim_take(db_path, "resume", stderr, &claim);
    if (st == ENG_OK) { /* a kill between publishing and tidying up leaves the build name */
        char creating[CFG_PATH_MAX + 16];
        snprintf(creating, sizeof creating, "%s" DB_CREATING_SUFFIX, db_path);
        unlink(creating);
    }
    if (st == ENG_OK) st = db_open(db_path, DB_OPEN_WRITE, &d.db);
    if (st == ENG_OK) st = run_claim_attach(claim, d.db);
    if (st == ENG_OK) st = db_run_load(d.db, &run);
    bool finished = st == ENG_OK && strcmp(run.status, "finished") == 0;
    cfg_search cfg = {0};
    /* a finished search only records moved files (for finalize) */
    if (st == ENG_OK && (!finished || opts->paths))
        st = search_config_load(d.db, &run, opts->paths, &cfg);
    if (st == ENG_OK && opts->paths) st = record_moved_paths(d.db, opts->paths);
    if (st == ENG_OK && finished) {
        search_say(opts, "%s: the search is finished%s%s", db_path,
            opts->paths ? " (the new paths are recorded)" : "",
            opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
        cfg_free(&cfg);
        db_run_free(&run);
        run_claim_release(claim);
        db_close(d.db);
        return ENG_OK;
    }
    search_opts o = *opts;
    if (o.threads <= 0) o.threads = run.threads;
    if (st == ENG_OK) st = search_env_open(&d.env, &cfg, SEARCH_ENV_DATA);
    if (st == ENG_OK && d.env.cfg.strategy == CFG_STRATEGY_MODEL_SEARCH) {
        driver_threads(&d, &o);
        st = ms_search_drive(&d.env, d.db, d.opts, d.threads, true);
        db_run_free(&run);
        run_claim_release(claim);
        driver_free(&d);
        return st;
    }
    if (st == ENG_OK) st = driver_create(&d, &o);
    unsigned char *state = NULL;
    size_t size = 0;
    int gen = -1;
    if (st == ENG_OK) {
        st = db_generation_last(d.db, &gen, &state, &size);
        if (st == ENG_ERR_NOT_FOUND) st = ENG_OK, gen = -1;
    }
    if (st == ENG_OK && gen >= 0 && evo_nsga2_restore(d.ga, state, size) != EVO_OK)
        st = eng_error(ENG_ERR_FORMAT, "%s: generation %d: %s", db_path, gen, evo_last_error());
    free(state);
    /* asynchronous: the children out when it stopped go again, from the state after the last
     * of them bred since that generation */
    if (st == ENG_OK && gen >= 0 && d.env.cfg.nsga2.asynchronous)
        st = db_sent_load(d.db, d.n_genes, &d.resend, &d.n_resend);
    for (int i = d.n_resend - 1; st == ENG_OK && i >= 0; i--) {
        if (d.resend[i].after_generation != gen) continue;
        if (evo_nsga2_restore(d.ga, d.resend[i].state, d.resend[i].state_size) != EVO_OK)
            st = eng_error(ENG_ERR_FORMAT, "%s: sent child %lld: %s", db_path,
                           (long long)d.resend[i].id, evo_last_error());
        break;
    }
    if (st == ENG_OK && gen >= 0) {
        /* the hypervolume scale of generation 0 */
        int m = d.env.cfg.n_objectives;
        for (int k = 0; k < m; k++) {
            d.hv_scale[k] = 1.0;
            if (d.env.cfg.objectives[k] == CFG_OBJECTIVE_ERROR) continue;
            char sql[160];
            snprintf(sql, sizeof sql, "SELECT max(obj%d) FROM members WHERE generation = 0", k);
            double mx = db_query_double(d.db, sql, 1.0);
            d.hv_scale[k] = mx > 0 ? mx : 1.0;
        }
    }
    if (st == ENG_OK) st = driver_attach(&d);
    if (st == ENG_OK) st = search_eval_load_committed(d.eval);
    if (st == ENG_OK) st = db_run_set_status(d.db, "running");
    if (st == ENG_OK) {
        int done = gen < 0 ? 0 : d.env.cfg.nsga2.population +
                                 gen * (d.env.cfg.nsga2.asynchronous ? 1 : d.env.cfg.nsga2.offspring);
        d.planned -= done;
        char after[64] = "from the start (no generation was committed)";
        if (gen >= 0)
            snprintf(after, sizeof after, "after generation %d of %d", gen, d.target);
        search_say(d.opts, "resuming '%s' %s -> %s%s", run.name, after, db_path,
            opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
        st = driver_run(&d);
    }
    db_run_free(&run);
    run_claim_release(claim);
    driver_free(&d);
    return st;
}
