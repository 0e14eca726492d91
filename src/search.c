/*
 * search.c - the search driver: NSGA-II callbacks (NAS genome variation, batch evaluation with
 * duplicate reuse and checkpointed training, one archive transaction per generation), live
 * progress, new runs and resume.
 */
#include "search.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "archive.h"
#include "archive_checkpoint.h"
#include "evo_indicators.h"
#include "run_claim.h"
#include "run_signal.h"
#include "evo_nsga2.h"
#include "mpi_pool.h"
#include "search_env.h"

/* One candidate of the batch being evaluated. */
typedef struct cand {
    uint64_t id;
    char *genome;               /* text form */
    uint64_t hash;
    int eval;                   /* index into driver.evals */
    bool reused;                /* answered from the archive of committed generations */
} cand;

/* A distinct network of the batch. */
typedef struct job {
    nas_arch arch;
    bool train;                 /* needs training (else found in the archive) */
    bool done;
    eng_status st;
    char msg[512];
} job;

/* A candidate in training on one worker thread. */
typedef struct flight {
    bool active;
    char hash[DB_HASH_LEN];
    int epoch, epochs;          /* epoch in progress, 1-based */
    long batch, batches;        /* batches of it done, per epoch */
    long trained_before;        /* batches trained by this run before this epoch */
    double t_epoch;             /* when this epoch (or its resumed part) began */
} flight;

typedef struct driver {
    search_env env;
    db_archive *db;
    const search_opts *opts;
    evo_nsga2 *ga;
    evo_gene *genes;
    int n_genes;
    int threads;
    int n_con;
    int init_calls;             /* genomes drawn by cb_init since the run (re)started */
    int exact_mul;              /* index of the first exact multiplier, -1 when none */

    uint64_t *known;            /* open-addressing set of committed hashes (0 = empty) */
    size_t known_cap, known_n;

    cand *cands;                /* the batch of the generation in flight */
    int n_cands;
    db_evaluation *evals;       /* its distinct evaluations */
    int n_evals;
    int n_trained, n_reused;

    double hv_scale[CFG_MAX_OBJECTIVES];
    double t_start, t_gen;
    int done_total, planned_total;
    int gen_done, gen_size;
    double best_error, min_energy;

    flight *flights;            /* per worker thread: the candidate it trains */
    double slot_s, busy_s;      /* MPI: training slots' time and their busy part, this
                                   generation (rank 0's trainers and the worker ranks) */
    long batches_run;           /* batches trained since the run (re)started */
    long batches_per_cand;      /* epochs x batches per epoch of one candidate */
    double t_tty;               /* last live-line refresh */
    bool ckpt_ready;            /* the checkpoints table exists */
    int hold_epoch;             /* crash-test aid (EVOAPPROXNAS_HOLD_AT_BATCH), 0 = off */
    long hold_batch;

    eng_status fail_st;         /* why a callback failed */
    char fail_msg[1024];
} driver;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t mix64(uint64_t x)
{
    return nas_rng_next(&x);
}

/* ------------------------------------------------------------------------------------------
 * The set of committed hashes
 * ---------------------------------------------------------------------------------------- */

static bool known_has(const driver *d, uint64_t h)
{
    if (!d->known_cap) return false;
    h = h ? h : 1;
    for (size_t i = mix64(h) & (d->known_cap - 1);; i = (i + 1) & (d->known_cap - 1)) {
        if (d->known[i] == h) return true;
        if (d->known[i] == 0) return false;
    }
}

static eng_status known_add(driver *d, uint64_t h)
{
    h = h ? h : 1;
    if (known_has(d, h)) return ENG_OK;
    if ((d->known_n + 1) * 2 > d->known_cap) {
        size_t cap = d->known_cap ? d->known_cap * 2 : 1024;
        uint64_t *t = calloc(cap, sizeof *t), *old = d->known;
        if (!t) return eng_error(ENG_ERR_NOMEM, "out of memory");
        size_t old_cap = d->known_cap;
        d->known = t, d->known_cap = cap, d->known_n = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i]) known_add(d, old[i]);
        free(old);
    }
    size_t i = mix64(h) & (d->known_cap - 1);
    while (d->known[i]) i = (i + 1) & (d->known_cap - 1);
    d->known[i] = h;
    d->known_n++;
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Progress
 * ---------------------------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void say(const driver *d, const char *fmt, ...)
{
    if (d->opts->progress == SEARCH_PROGRESS_NONE) return;
    FILE *out = d->opts->out ? d->opts->out : stderr;
    va_list ap;
    va_start(ap, fmt);
    if (d->opts->progress == SEARCH_PROGRESS_TTY) fputs("\r\033[K", out);
    vfprintf(out, fmt, ap);
    va_end(ap);
    if (d->opts->progress == SEARCH_PROGRESS_LOG) fputc('\n', out);
    fflush(out);
}

static void format_duration(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, size, "?");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)s / 3600, ((int)s / 60) % 60);
}

/* The energy objective the search minimizes (energy before mul_energy; -1 for neither): what
 * the live lines and the generations table's min_energy_pj report. */
static int energy_objective(const cfg_search *c)
{
    int k = -1;
    for (int i = 0; i < c->n_objectives; i++)
        if (c->objectives[i] == CFG_OBJECTIVE_ENERGY ||
            (c->objectives[i] == CFG_OBJECTIVE_MUL_ENERGY && k < 0))
            k = i;
    return k;
}

/* "mul_energy" when the search minimizes the multipliers' energy, else "energy". */
static const char *energy_name(const driver *d)
{
    int ke = energy_objective(&d->env.cfg);
    return ke >= 0 && d->env.cfg.objectives[ke] == CFG_OBJECTIVE_MUL_ENERGY ? "mul_energy"
                                                                           : "energy";
}

static double violation_of(const driver *d, const db_evaluation *e);

/* Time left: from the batches trained so far once there are some (candidates of one search
 * all train the same number of batches), else from the candidates done. */
static void eta_text(const driver *d, char *buf, size_t size)
{
    double el = now_s() - d->t_start, left = -1;
    if (d->batches_run > 0) {
        long remaining = (long)(d->planned_total - d->done_total) * d->batches_per_cand;
        for (int t = 0; t < d->threads; t++)
            if (d->flights[t].active)
                remaining -= (long)(d->flights[t].epoch - 1) * d->flights[t].batches +
                             d->flights[t].batch;
        left = el / (double)d->batches_run * (double)(remaining > 0 ? remaining : 0);
    } else if (d->done_total > 0) {
        left = el / d->done_total * (d->planned_total - d->done_total);
    }
    format_duration(left, buf, size);
}

static int current_generation(const driver *d)
{
    return d->ga && evo_nsga2_has_population(d->ga) ? evo_nsga2_generation(d->ga) + 1 : 0;
}

/* The live line on a terminal: generation, candidates done and in flight (epoch, batch),
 * best figures, ETA. */
static void progress_line(driver *d)
{
    char flights[160] = "", eta[32], *p = flights;
    size_t left = sizeof flights;
    int active = 0;
    for (int t = 0; t < d->threads; t++) {
        const flight *f = &d->flights[t];
        if (!f->active) continue;
        if (active++ < 4) {
            int w = snprintf(p, left, "%s%.4s e%d/%d b%ld/%ld", active > 1 ? ", " : "  ",
                             f->hash, f->epoch, f->epochs, f->batch, f->batches);
            if (w > 0 && (size_t)w < left) p += w, left -= (size_t)w;
        }
    }
    if (active > 4) snprintf(p, left, " +%d", active - 4);
    eta_text(d, eta, sizeof eta);
    char err[32] = "-", energy[32] = "-";
    if (isfinite(d->best_error)) snprintf(err, sizeof err, "%.4f", d->best_error);
    if (isfinite(d->min_energy)) snprintf(energy, sizeof energy, "%.4g uJ", d->min_energy * 1e-6);
    say(d, "gen %d/%d  candidate %d/%d  training %d%s  best error %s  min %s %s  ETA %s",
        current_generation(d), d->env.cfg.nsga2.generations, d->gen_done, d->gen_size, active,
        flights, err, energy_name(d), energy, eta);
    d->t_tty = now_s();
}

static void progress_candidate(driver *d, const db_evaluation *e, const char *how)
{
    d->gen_done++;
    d->done_total++;
    bool mul_only = strcmp(energy_name(d), "mul_energy") == 0;
    double energy = mul_only ? e->mul_energy_pj : e->energy_pj;
    /* feasible candidates only, like the generation's figures (the population's feasible
     * extremes survive, so both report the same minimum) */
    if (violation_of(d, e) <= 0) {
        if (e->error < d->best_error) d->best_error = e->error;
        if (energy < d->min_energy) d->min_energy = energy;
    }
    if (d->opts->progress == SEARCH_PROGRESS_LOG) {
        say(d, "gen %d candidate %d/%d %s error %.4f %s %.4g uJ params %lld %s %.1fs",
            current_generation(d), d->gen_done, d->gen_size, e->hash, e->error, energy_name(d),
            energy * 1e-6, (long long)e->params, how, e->train_s);
    } else {
        progress_line(d);
    }
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
    if (known_has(d, h)) return true;
    for (int i = 0; i < n_others; i++)
        if (genome_hash(d, others + (size_t)i * d->n_genes, NULL) == h) return true;
    return false;
}

/* ------------------------------------------------------------------------------------------
 * Evaluation
 * ---------------------------------------------------------------------------------------- */

static void clear_batch(driver *d)
{
    for (int i = 0; i < d->n_cands; i++) free(d->cands[i].genome);
    free(d->cands);
    free(d->evals);
    d->cands = NULL, d->evals = NULL;
    d->n_cands = d->n_evals = d->n_trained = d->n_reused = 0;
}

static evo_status fail(driver *d, eng_status st, const char *msg)
{
    d->fail_st = st;
    snprintf(d->fail_msg, sizeof d->fail_msg, "%s", msg);
    return evo_error(st == ENG_ERR_INTERRUPTED ? EVO_ERR_INTERRUPTED : EVO_ERR_CALLBACK, "%s",
                     msg);
}

static void objectives(const driver *d, const db_evaluation *e, double *f, double *g)
{
    const cfg_search *c = &d->env.cfg;
    for (int k = 0; k < c->n_objectives; k++) {
        switch (c->objectives[k]) {
        case CFG_OBJECTIVE_ERROR: f[k] = e->error; break;
        case CFG_OBJECTIVE_ENERGY: f[k] = e->energy_pj; break;
        case CFG_OBJECTIVE_PARAMS: f[k] = (double)e->params; break;
        case CFG_OBJECTIVE_MACS: f[k] = (double)e->macs; break;
        default: f[k] = e->mul_energy_pj; break;
        }
    }
    int j = 0;
    if (c->constraints.max_params > 0)
        g[j++] = (double)e->params / (double)c->constraints.max_params - 1.0;
    if (c->constraints.max_macs > 0)
        g[j++] = (double)e->macs / (double)c->constraints.max_macs - 1.0;
    if (c->constraints.max_error < 1.0) g[j++] = e->error / c->constraints.max_error - 1.0;
}

static double violation_of(const driver *d, const db_evaluation *e)
{
    double f[CFG_MAX_OBJECTIVES], g[3] = {0, 0, 0}, v = 0;
    objectives(d, e, f, g);
    for (int j = 0; j < d->n_con; j++) v += g[j] > 0 ? g[j] : 0;
    return v;
}

/* What the training hooks of one candidate need. */
typedef struct train_ctx {
    driver *d;
    flight *f;                  /* its worker's slot */
    int gen;
    search_train_pos saved;     /* position of the last checkpoint */
} train_ctx;

static eng_status on_checkpoint(void *user, const void *data, size_t size,
                                const search_train_pos *pos)
{
    train_ctx *c = user;
    db_checkpoint_info info = {.generation = c->gen, .epoch = pos->epoch, .epochs = pos->epochs,
                               .batch = pos->batch, .batches = pos->batches, .loss = pos->loss};
    snprintf(info.hash, sizeof info.hash, "%s", c->f->hash);
    eng_status st;
#pragma omp critical(search_db)
    st = db_checkpoint_save(c->d->db, &info, data, size);
    c->saved = *pos;
    return st;
}

/* Crash-test aid: with EVOAPPROXNAS_HOLD_AT_BATCH=E:B in the environment, a candidate that
 * has trained B batches of epoch E (B = all: after the epoch's checkpoint) waits there until
 * the stop flag is set, so that a test can interrupt or SIGKILL it at a known point
 * (tests/cli/checkpoint.sh); it says so in a progress line. */
static void hold_at_batch(const driver *d, const train_ctx *c, const search_train_pos *pos)
{
    if (pos->epoch != d->hold_epoch || pos->batch != d->hold_batch) return;
#pragma omp critical(search_progress)
    say(d, "gen %d candidate %s held at epoch %d batch %ld%s", c->gen, c->f->hash, pos->epoch,
        pos->batch, d->opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
    struct timespec ms10 = {0, 10000000};
    while (!(d->opts->stop && *d->opts->stop)) nanosleep(&ms10, NULL);
}

static void on_progress(void *user, search_train_event ev, const search_train_pos *pos)
{
    train_ctx *c = user;
    driver *d = c->d;
    flight *f = c->f;
#pragma omp critical(search_progress)
    {
        if (ev == SEARCH_TRAIN_BATCH) d->batches_run++;
        f->epoch = pos->epoch, f->epochs = pos->epochs;
        f->batch = pos->batch, f->batches = pos->batches;
        if (ev == SEARCH_TRAIN_EPOCH) {
            if (d->opts->progress == SEARCH_PROGRESS_LOG) {
                char resumed[48] = "";
                long run = pos->trained - f->trained_before;
                if (run < pos->batches)
                    snprintf(resumed, sizeof resumed, " (resumed at batch %ld)",
                             pos->batches - run);
                say(d, "gen %d candidate %s epoch %d/%d loss %.4f %ld batches%s %.1fs", c->gen,
                    f->hash, pos->epoch, pos->epochs, pos->loss, run, resumed,
                    now_s() - f->t_epoch);
            }
            f->trained_before = pos->trained;
            f->t_epoch = now_s();
        }
        if (d->opts->progress == SEARCH_PROGRESS_TTY &&
            (ev == SEARCH_TRAIN_EPOCH || now_s() - d->t_tty >= 0.25))
            progress_line(d);
    }
    if (d->hold_epoch > 0 &&
        (ev == SEARCH_TRAIN_EPOCH) == (pos->batch == pos->batches))
        hold_at_batch(d, c, pos);
}

static void store_result(driver *d, job *jb, db_evaluation *e, eng_status st, const char *msg,
                         double err, double train_s);

/* Trains one candidate on the calling worker, continuing its checkpoint when there is one. */
static void train_job(driver *d, job *jb, db_evaluation *e, int gen, flight *f)
{
    const search_env *env = &d->env;
    double t0 = now_s(), err = 1.0;
    void *resume = NULL;
    size_t resume_size = 0;
    eng_status st;
#pragma omp critical(search_db)
    st = db_checkpoint_load(d->db, e->hash, &resume, &resume_size);
    if (st == ENG_ERR_NOT_FOUND) st = ENG_OK;
    search_train_pos at = {.epoch = 1, .epochs = env->cfg.training.epochs,
                           .batches = d->batches_per_cand / env->cfg.training.epochs};
    if (st == ENG_OK && resume) st = search_train_checkpoint_pos(resume, resume_size, &at);
    train_ctx ctx = {.d = d, .f = f, .gen = gen};
#pragma omp critical(search_progress)
    {
        *f = (flight){.active = true, .epoch = at.epoch, .epochs = at.epochs, .batch = at.batch,
                      .batches = at.batches, .t_epoch = now_s()};
        snprintf(f->hash, sizeof f->hash, "%s", e->hash);
    }
    search_train_hooks hooks = {.resume = resume, .resume_size = resume_size,
                                .checkpoint_s = env->cfg.training.checkpoint_minutes * 60.0,
                                .checkpoint = on_checkpoint, .progress = on_progress,
                                .user = &ctx};
    if (st == ENG_OK)
        st = search_env_train(env, &jb->arch, e->seed, env->cfg.training.epochs, &env->train,
                              &env->val, d->opts->stop, &hooks, &err);
    free(resume);
#pragma omp critical(search_progress)
    {
        f->active = false;
        if (st == ENG_ERR_INTERRUPTED && d->opts->progress == SEARCH_PROGRESS_LOG &&
            ctx.saved.epochs > 0)
            say(d, "gen %d candidate %s stopped at epoch %d/%d batch %ld/%ld (checkpointed)",
                gen, e->hash, ctx.saved.epoch, ctx.saved.epochs, ctx.saved.batch,
                ctx.saved.batches);
    }
    store_result(d, jb, e, st, st == ENG_OK ? "" : eng_last_error(), err, now_s() - t0);
}

/* Stores a candidate's training result (from this rank or another): its evaluation as a
 * cache for resume in place of its checkpoint. */
static void store_result(driver *d, job *jb, db_evaluation *e, eng_status st, const char *msg,
                         double err, double train_s)
{
    jb->st = st;
    if (st != ENG_OK) {
        if (st == ENG_ERR_FORMAT)
            snprintf(jb->msg, sizeof jb->msg, "%s: checkpoint of %s: %s", db_path(d->db),
                     e->hash, msg);
        else snprintf(jb->msg, sizeof jb->msg, "%s", msg);
        return;
    }
    e->error = err;
    e->train_s = train_s;
    double gv[3];
    e->violation = violation_of(d, e);
    objectives(d, e, e->obj, gv);
    /* the result replaces the checkpoint: a cache for resume until the generation commits */
#pragma omp critical(search_db)
    {
        st = db_begin(d->db);
        if (st == ENG_OK) st = db_evaluation_insert(d->db, e);
        if (st == ENG_OK) st = db_checkpoint_delete(d->db, e->hash);
        if (st == ENG_OK) st = db_commit(d->db);
        else db_rollback(d->db);
    }
    if (st != ENG_OK) {
        jb->st = st;
        snprintf(jb->msg, sizeof jb->msg, "%s", eng_last_error());
        return;
    }
    jb->done = true;
#pragma omp critical(search_progress)
    progress_candidate(d, e, "trained");
}

/* A batch trained across the MPI ranks (mpi_pool.h): rank 0's threads and the workers pull
 * candidates from one counter. */
typedef struct pool_ctx {
    driver *d;
    job *jobs;
    int n_jobs, gen;
    int next;                   /* the next job to look at (atomic) */
    double local_busy_s;        /* summed training time of rank 0's own threads */
} pool_ctx;

/* The next job that needs training, or -1. */
static int pool_claim(pool_ctx *p)
{
    for (;;) {
        int i;
#pragma omp atomic capture
        i = p->next++;
        if (i >= p->n_jobs) return -1;
        if (p->jobs[i].train) return i;
    }
}

static bool pool_next(void *user, mpi_pool_job *j)
{
    pool_ctx *p = user;
    driver *d = p->d;
    for (;;) {
        if (d->opts->stop && *d->opts->stop) return false;
        int i = pool_claim(p);
        if (i < 0) return false;
        const db_evaluation *e = &d->evals[i];
        const char *genome = NULL;
        for (int c = 0; c < d->n_cands && !genome; c++)
            if (d->cands[c].eval == i) genome = d->cands[c].genome;
        *j = (mpi_pool_job){.index = i, .hash = strtoull(e->hash, NULL, 16), .seed = e->seed,
                            .epochs = d->env.cfg.training.epochs};
        snprintf(j->genome, sizeof j->genome, "%s", genome ? genome : "");
        eng_status st;
#pragma omp critical(search_db)
        st = db_checkpoint_load(d->db, e->hash, &j->resume, &j->resume_size);
        if (st == ENG_OK || st == ENG_ERR_NOT_FOUND) return true;
        p->jobs[i].st = st;
        snprintf(p->jobs[i].msg, sizeof p->jobs[i].msg, "%s", eng_last_error());
    }
}

static eng_status pool_checkpoint(void *user, int index, const void *data, size_t size)
{
    pool_ctx *p = user;
    driver *d = p->d;
    search_train_pos pos;
    ENG_TRY(search_train_checkpoint_pos(data, size, &pos));
    db_checkpoint_info info = {.generation = p->gen, .epoch = pos.epoch, .epochs = pos.epochs,
                               .batch = pos.batch, .batches = pos.batches, .loss = pos.loss};
    snprintf(info.hash, sizeof info.hash, "%s", d->evals[index].hash);
    eng_status st;
#pragma omp critical(search_db)
    st = db_checkpoint_save(d->db, &info, data, size);
    if (pos.batch == pos.batches) {
#pragma omp critical(search_progress)
        {
            d->batches_run += pos.batches;
            if (d->opts->progress == SEARCH_PROGRESS_LOG)
                say(d, "gen %d candidate %s epoch %d/%d loss %.4f (another rank)", p->gen,
                    info.hash, pos.epoch, pos.epochs, pos.loss);
        }
    }
    return st;
}

static void pool_done(void *user, int index, eng_status st, const char *msg, double error,
                      double train_s)
{
    pool_ctx *p = user;
    store_result(p->d, &p->jobs[index], &p->d->evals[index], st, msg, error, train_s);
}

/* train_jobs across the MPI ranks: OpenMP thread 0 (the one that joined MPI) hands out
 * candidates to the workers, the others train on this rank. */
static void train_jobs_pool(driver *d, job *jobs, int n_jobs, int gen, bool across)
{
    pool_ctx p = {.d = d, .jobs = jobs, .n_jobs = n_jobs, .gen = gen};
    mpi_pool_cb cb = {.next = pool_next, .checkpoint = pool_checkpoint, .done = pool_done,
                      .user = &p};
    mpi_pool_stats stats = {0};
    eng_status pool_st = ENG_OK;
    char pool_msg[512] = "";
    int local = across ? d->threads : 1;
#ifdef _OPENMP
    /* one local trainer with all threads: its kernels' region nests in this one */
    omp_set_max_active_levels(across ? 1 : 2);
    if (!across) omp_set_num_threads(d->threads);
#endif
    double t0 = now_s();
#pragma omp parallel num_threads(local + 1)
    {
        int slot = 0;
#ifdef _OPENMP
        slot = omp_get_thread_num();
#endif
        if (slot == 0) {
            pool_st = mpi_pool_train(&cb, d->opts->stop, &stats);
            if (pool_st != ENG_OK) snprintf(pool_msg, sizeof pool_msg, "%s", eng_last_error());
        } else {
            for (int i; !(d->opts->stop && *d->opts->stop) && (i = pool_claim(&p)) >= 0;) {
                double t = now_s();
                train_job(d, &jobs[i], &d->evals[i], gen, &d->flights[slot - 1]);
#pragma omp atomic
                p.local_busy_s += now_s() - t;
            }
        }
    }
    double wall = now_s() - t0;
    d->slot_s += wall * (double)(local + stats.workers);
    d->busy_s += p.local_busy_s + stats.busy_s;
    /* a failure of the pool fails the candidates it had not answered */
    for (int i = 0; i < n_jobs && pool_st != ENG_OK; i++)
        if (jobs[i].train && !jobs[i].done && jobs[i].st == ENG_OK) {
            jobs[i].st = pool_st;
            snprintf(jobs[i].msg, sizeof jobs[i].msg, "%s", pool_msg);
        }
}

/* Trains the jobs that need it, across candidates or within each, as configured. */
static void train_jobs(driver *d, job *jobs, int n_jobs, int gen)
{
    volatile sig_atomic_t *stop = d->opts->stop;
    if (mpi_pool_size() > 1) {
        bool across_pool = d->env.device != ENG_DEVICE_CUDA &&
                           (d->env.cfg.parallel == CFG_PARALLEL_CANDIDATES ||
                            (d->env.cfg.parallel == CFG_PARALLEL_AUTO && d->threads > 1));
        train_jobs_pool(d, jobs, n_jobs, gen, across_pool);
        return;
    }
    /* one host thread drives the GPU: candidates on the device train one after another */
    bool across = d->env.device != ENG_DEVICE_CUDA &&
                  (d->env.cfg.parallel == CFG_PARALLEL_CANDIDATES ||
                   (d->env.cfg.parallel == CFG_PARALLEL_AUTO && d->threads > 1));
#ifdef _OPENMP
    omp_set_max_active_levels(1);
    if (!across) omp_set_num_threads(d->threads);
#endif
#pragma omp parallel for schedule(dynamic, 1) num_threads(across ? d->threads : 1)
    for (int i = 0; i < n_jobs; i++) {
        job *jb = &jobs[i];
        if (!jb->train || (stop && *stop)) continue;
        int slot = 0;
#ifdef _OPENMP
        slot = omp_get_thread_num();
#endif
        train_job(d, jb, &d->evals[i], gen, &d->flights[slot]);
    }
}

static evo_status cb_evaluate(void *ctx, const evo_batch *b)
{
    driver *d = ctx;
    const cfg_search *c = &d->env.cfg;
    int gen = evo_nsga2_has_population(d->ga) ? evo_nsga2_generation(d->ga) + 1 : 0;
    clear_batch(d);
    d->gen_done = 0, d->gen_size = b->n;
    d->t_gen = now_s();
    d->slot_s = d->busy_s = 0;
    d->cands = calloc((size_t)b->n, sizeof *d->cands);
    d->evals = calloc((size_t)b->n, sizeof *d->evals);
    job *jobs = calloc((size_t)b->n, sizeof *jobs);
    if (!d->cands || !d->evals || !jobs) {
        free(jobs);
        return fail(d, ENG_ERR_NOMEM, "out of memory");
    }
    d->n_cands = b->n;
    evo_status rc = EVO_OK;
    int g[1024];
    size_t text_size = (size_t)d->n_genes * 4 + 16;
    for (int i = 0; i < b->n && rc == EVO_OK; i++) {
        cand *cd = &d->cands[i];
        const double *x = b->x + (size_t)i * d->n_genes;
        to_int(d, x, g);
        cd->id = b->id[i];
        cd->genome = malloc(text_size);
        if (!cd->genome) {
            rc = fail(d, ENG_ERR_NOMEM, "out of memory");
            break;
        }
        nas_genome_format(&c->space, g, cd->genome, text_size);
        nas_arch arch;
        eng_status st = nas_genome_decode(&c->space, g, &arch);
        if (st != ENG_OK) {
            rc = fail(d, st, eng_last_error());
            break;
        }
        cd->hash = nas_arch_hash(&arch);
        cd->reused = known_has(d, cd->hash);
        cd->eval = -1;
        for (int j = 0; j < d->n_evals; j++) {
            uint64_t hj = strtoull(d->evals[j].hash, NULL, 16);
            if (hj == cd->hash) cd->eval = j, cd->reused = true;
        }
        if (cd->eval >= 0) {
            nas_arch_free(&arch);
            continue;
        }
        int k = d->n_evals++;
        db_evaluation *e = &d->evals[k];
        char hex[DB_HASH_LEN];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)cd->hash);
        cd->eval = k;
        jobs[k].arch = arch;
        if (db_evaluation_find(d->db, hex, e) == ENG_OK) {
            e->n_obj = c->n_objectives;
            jobs[k].done = true;
            /* committed before: reused; else a cache entry left by an interrupted run */
            progress_candidate(d, e, cd->reused ? "reused" : "cached");
            continue;
        }
        st = search_env_measure(&d->env, &arch, e);
        if (st != ENG_OK) {
            rc = fail(d, st, eng_last_error());
            break;
        }
        e->generation = gen;
        e->n_obj = c->n_objectives;
        e->seed = mix64(c->seed ^ cd->hash);
        jobs[k].train = true;
    }
    if (rc == EVO_OK && !d->ckpt_ready) {
        eng_status st = db_checkpoint_prepare(d->db);
        if (st != ENG_OK) rc = fail(d, st, eng_last_error());
        d->ckpt_ready = st == ENG_OK;
    }
    if (rc == EVO_OK) {
        train_jobs(d, jobs, d->n_evals, gen);
        for (int k = 0; k < d->n_evals; k++) {
            db_evaluation *e = &d->evals[k];
            double gv[3];
            e->violation = violation_of(d, e);
            objectives(d, e, e->obj, gv);
        }
        for (int k = 0; k < d->n_evals && rc == EVO_OK; k++) {
            /* evaluated = new to the committed archive (trained now or cached) */
            if (jobs[k].done && !known_has(d, strtoull(d->evals[k].hash, NULL, 16)))
                d->n_trained++;
            if (jobs[k].done || jobs[k].st == ENG_ERR_INTERRUPTED || jobs[k].st == ENG_OK)
                continue;
            rc = fail(d, jobs[k].st, jobs[k].msg);
        }
        bool all_done = true;
        for (int k = 0; k < d->n_evals; k++) all_done &= jobs[k].done;
        /* interrupted: the finished evaluations are stored already, as a cache for resume */
        if (rc == EVO_OK && !all_done) rc = fail(d, ENG_ERR_INTERRUPTED, "interrupted");
    }
    for (int k = 0; k < b->n; k++) nas_arch_free(&jobs[k].arch);
    free(jobs);
    if (rc != EVO_OK) return rc;
    for (int i = 0; i < b->n; i++) {
        db_evaluation *e = &d->evals[d->cands[i].eval];
        double fv[CFG_MAX_OBJECTIVES], gv[3];
        objectives(d, e, fv, gv);
        memcpy(b->f + (size_t)i * b->n_obj, fv, sizeof(double) * (size_t)b->n_obj);
        if (b->n_con) memcpy(b->g + (size_t)i * b->n_con, gv, sizeof(double) * (size_t)b->n_con);
        d->n_reused += d->cands[i].reused;
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


/* Crash-test aid: with EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=N in the environment, the search
 * stops moving once N generations are committed and waits there for a signal, so that a test
 * can SIGKILL it at a known point (tests/cli/search.sh). Ctrl-C ends the wait as usual. */
static void hold_for_crash_test(const driver *d, int gen)
{
    const char *v = getenv("EVOAPPROXNAS_HOLD_AFTER_GENERATIONS");
    if (!v || atoi(v) != gen + 1) return;
    while (!(d->opts->stop && *d->opts->stop)) pause();
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
    db_generation row = {.generation = gen, .evaluated = d->n_trained, .reused = d->n_reused,
                         .best_error = INFINITY, .min_energy_pj = INFINITY,
                         .hypervolume = hypervolume(d, ga), .wall_s = now_s() - d->t_gen,
                         .state = state, .state_size = state_size};
    eng_status st = db_begin(d->db);
    for (int k = 0; k < d->n_evals && st == ENG_OK; k++)
        st = db_evaluation_insert(d->db, &d->evals[k]);
    for (int i = 0; i < d->n_cands && st == ENG_OK; i++) {
        const cand *cd = &d->cands[i];
        db_individual ind = {.id = cd->id, .generation = gen, .genome = cd->genome,
                             .parent = {-1, -1}, .reused = cd->reused};
        snprintf(ind.hash, sizeof ind.hash, "%016llx", (unsigned long long)cd->hash);
        for (int p = 0; p < pop; p++) {
            evo_individual m = evo_nsga2_individual(ga, p);
            if (m.id != cd->id) continue;
            for (int q = 0; q < 2; q++)
                ind.parent[q] = m.parent[q] == EVO_NO_PARENT ? -1 : (int64_t)m.parent[q];
        }
        st = db_individual_insert(d->db, &ind);
    }
    for (int p = 0; p < pop && st == ENG_OK; p++) {
        evo_individual m = evo_nsga2_individual(ga, p);
        st = db_population_insert(d->db, gen, m.id, m.rank, m.crowding);
        if (m.rank == 0 && m.violation <= 0) row.front_size++;
        for (int k = 0; k < d->env.cfg.n_objectives && m.violation <= 0; k++) {
            if (d->env.cfg.objectives[k] == CFG_OBJECTIVE_ERROR && m.f[k] < row.best_error)
                row.best_error = m.f[k];
            if (k == energy_objective(&d->env.cfg) && m.f[k] < row.min_energy_pj)
                row.min_energy_pj = m.f[k];
        }
    }
    if (st == ENG_OK) st = db_generation_insert(d->db, &row);
    if (st == ENG_OK) st = db_checkpoint_clear(d->db);
    if (st == ENG_OK) st = db_commit(d->db);
    else db_rollback(d->db);
    free(state);
    if (st != ENG_OK) return fail(d, st, eng_last_error());
    for (int i = 0; i < d->n_cands; i++) known_add(d, d->cands[i].hash);
    hold_for_crash_test(d, gen);
    if (d->opts->progress == SEARCH_PROGRESS_TTY) say(d, "%s", "");
    char err_txt[32] = "-", energy_txt[32] = "-";
    if (isfinite(row.best_error)) snprintf(err_txt, sizeof err_txt, "%.4f", row.best_error);
    if (isfinite(row.min_energy_pj))
        snprintf(energy_txt, sizeof energy_txt, "%.4g uJ", row.min_energy_pj * 1e-6);
    int ke = energy_objective(&d->env.cfg);
    char idle[48] = "";
    if (mpi_pool_size() > 1 && d->slot_s > 0)
        snprintf(idle, sizeof idle, ", %d ranks idle %.0f%%", mpi_pool_size(),
                 100.0 * (1.0 - d->busy_s / d->slot_s));
    say(d, "generation %d done: %d trained, %d reused, front %d, best error %s, min %s %s, "
        "hypervolume %.4f, %.1fs%s%s", gen, d->n_trained, d->n_reused, row.front_size, err_txt,
        ke >= 0 ? cfg_objective_name(d->env.cfg.objectives[ke]) : "energy", energy_txt, row.hypervolume, row.wall_s,
        idle, d->opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
    clear_batch(d);
    if (d->opts->stop && *d->opts->stop) return fail(d, ENG_ERR_INTERRUPTED, "interrupted");
    return EVO_OK;
}

/* ------------------------------------------------------------------------------------------
 * Runs
 * ---------------------------------------------------------------------------------------- */

static eng_status driver_create(driver *d, const search_opts *opts)
{
    const cfg_search *c = &d->env.cfg;
    d->opts = opts;
    d->best_error = INFINITY, d->min_energy = INFINITY;
    d->exact_mul = -1;
    for (int i = c->space.n_muls - 1; i >= 0; i--)
        if (d->env.mul_exact[i]) d->exact_mul = i;
    d->n_genes = nas_genome_length(&c->space);
    if (d->n_genes > 1024) return eng_error(ENG_ERR_ARG, "%s: the genome is too long", c->path);
    if (d->env.device_note[0])
        fprintf(stderr, "evoapproxnas: %s: device cuda: %s; running on the CPU\n", c->path,
                d->env.device_note);
    d->threads = opts->threads;
#ifdef _OPENMP
    if (d->threads <= 0) d->threads = omp_get_num_procs();
#endif
    if (d->threads <= 0) d->threads = 1;
    d->genes = calloc((size_t)d->n_genes, sizeof *d->genes);
    if (!d->genes) return eng_error(ENG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < d->n_genes; i++)
        d->genes[i] = (evo_gene){EVO_GENE_CAT, 0, nas_genome_gene_range(&c->space, i) - 1};
    d->n_con = (c->constraints.max_params > 0) + (c->constraints.max_macs > 0) +
               (c->constraints.max_error < 1.0);
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
    d->planned_total = c->nsga2.population + c->nsga2.generations * c->nsga2.offspring;
    d->flights = calloc((size_t)d->threads, sizeof *d->flights);
    if (!d->flights) return eng_error(ENG_ERR_NOMEM, "out of memory");
    int bs = c->training.batch_size < d->env.train.count ? c->training.batch_size
                                                         : d->env.train.count;
    d->batches_per_cand = bs > 0 ? (long)c->training.epochs * (d->env.train.count / bs) : 0;
    const char *hold = getenv("EVOAPPROXNAS_HOLD_AT_BATCH");
    if (hold && sscanf(hold, "%d:%ld", &d->hold_epoch, &d->hold_batch) != 2) d->hold_epoch = 0;
    /* the other MPI ranks load the same config, with its files as resolved here (absolute:
     * a rank may start in another directory) */
    if (mpi_pool_size() < 2) return ENG_OK;
    char path[3][PATH_MAX];
    const char *given[3] = {c->path, c->dataset.path, c->energy.accelerator};
    for (int i = 0; i < 3; i++)
        if (!realpath(given[i], path[i])) snprintf(path[i], sizeof path[i], "%s", given[i]);
    mpi_msg_init init = {.config_path = path[0], .config_text = c->text, .dataset = path[1],
                         .accelerator = path[2], .n_muls = c->space.n_muls,
                         .has_data = opts->mpi_send_data, .train = d->env.train,
                         .val = d->env.val};
    for (int i = 0; i < c->space.n_muls; i++) init.muls[i] = d->env.muls[i];
    return mpi_pool_start(&init);
}

static void driver_free(driver *d)
{
    clear_batch(d);
    evo_nsga2_free(d->ga);
    free(d->genes);
    free(d->known);
    free(d->flights);
    db_close(d->db);
    search_env_close(&d->env);
}

/* Runs until the configured generation count; marks the run's status. */
static eng_status driver_run(driver *d)
{
    d->t_start = now_s();
    int target = d->env.cfg.nsga2.generations;
    evo_status rc = evo_nsga2_run(d->ga, target);
    if (d->opts->progress == SEARCH_PROGRESS_TTY) say(d, "%s", "");
    if (rc == EVO_OK) {
        ENG_TRY(db_run_set_status(d->db, "finished"));
        say(d, "search finished: %d generations in %s%s", target + 1, db_path(d->db),
            d->opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
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
    if (st == ENG_OK) st = driver_create(&d, opts);
    if (st == ENG_OK) {
        db_run run = {.seed = d.env.cfg.seed, .threads = d.threads,
                      .generations = d.env.cfg.nsga2.generations,
                      .config_text = d.env.cfg.text};
        snprintf(run.name, sizeof run.name, "%s", name);
        snprintf(run.config_path, sizeof run.config_path, "%s", abs_config);
        size_t pos = 0;
        for (int k = 0; k < d.env.cfg.n_objectives; k++)
            pos += (size_t)snprintf(run.objectives + pos, sizeof run.objectives - pos, "%s%s",
                                    k ? "," : "", cfg_objective_name(d.env.cfg.objectives[k]));
        st = db_create(output, &run, replace, &d.db);
    }
    if (st == ENG_OK) st = run_claim_attach(claim, d.db);
    if (st == ENG_OK) {
        say(&d, "search '%s': %d genes, population %d, %d generations, %d threads -> %s%s",
            name, d.n_genes, d.env.cfg.nsga2.population, d.env.cfg.nsga2.generations,
            d.threads, output, opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
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
        say(&(driver){.opts = opts}, "%s: the search is finished%s%s", db_path,
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
    char (*hashes)[DB_HASH_LEN] = NULL;
    int n_hashes = 0;
    if (st == ENG_OK) st = db_committed_hashes(d.db, &hashes, &n_hashes);
    for (int i = 0; i < n_hashes && st == ENG_OK; i++)
        st = known_add(&d, strtoull(hashes[i], NULL, 16));
    free(hashes);
    if (st == ENG_OK) st = db_run_set_status(d.db, "running");
    if (st == ENG_OK) {
        int done = gen < 0 ? 0 : d.env.cfg.nsga2.population + gen * d.env.cfg.nsga2.offspring;
        d.planned_total -= done;
        char after[64] = "from the start (no generation was committed)";
        if (gen >= 0)
            snprintf(after, sizeof after, "after generation %d of %d", gen,
                     d.env.cfg.nsga2.generations);
        say(&d, "resuming '%s' %s -> %s%s", run.name, after, db_path,
            opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
        st = driver_run(&d);
    }
    db_run_free(&run);
    run_claim_release(claim);
    driver_free(&d);
    return st;
}
