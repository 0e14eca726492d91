/*
 * search_eval.c - batch evaluation shared by the search strategies: reuse of archived
 * results, measuring, training across worker threads with checkpoints, live progress.
 */
#include "search_eval.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive_checkpoint.h"
#include "ms_controller.h"
#include "mpi_pool.h"

/* A candidate in training on one worker thread. */
typedef struct flight {
    bool active;
    char hash[DB_HASH_LEN];
    int epoch, epochs;          /* epoch in progress, 1-based */
    long batch, batches;        /* batches of it done, per epoch */
    long trained_before;        /* batches trained by this run before this epoch */
    double t_epoch;             /* when this epoch (or its resumed part) began */
} flight;

/* A distinct network of the batch. */
typedef struct job {
    const nas_arch *arch;
    db_evaluation *e;           /* the first item's evaluation */
    bool train;                 /* needs training (else found in the archive) */
    bool done;
    eng_status st;
    char msg[512];
} job;

struct search_eval {
    search_env *env;
    db_archive *db;
    const search_opts *opts;
    int threads;

    uint64_t *known;            /* open-addressing set of committed hashes (0 = empty) */
    size_t known_cap, known_n;

    int gen, batches_total;     /* batch in flight and how many the run makes */
    int gen_done, gen_size;
    int done_total, planned_total;
    double best_error, min_energy;
    double t_start;

    flight *flights;            /* per worker thread: the candidate it trains */
    long batches_run;           /* batches trained since the run (re)started */
    long batches_per_cand;      /* epochs x batches per epoch of one candidate */
    double t_tty;               /* last live-line refresh */
    bool ckpt_ready;            /* the checkpoints table exists */
    int hold_epoch;             /* crash-test aid (EVOAPPROXNAS_HOLD_AT_BATCH), 0 = off */
    long hold_batch;
    struct async_state *as;     /* asynchronous use (search_eval_submit), NULL before */
};

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
 * Objectives
 * ---------------------------------------------------------------------------------------- */

void search_eval_objectives(const cfg_search *c, const db_evaluation *e, double *f, double *g)
{
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

int search_eval_n_constraints(const cfg_search *c)
{
    return (c->constraints.max_params > 0) + (c->constraints.max_macs > 0) +
           (c->constraints.max_error < 1.0);
}

double search_eval_violation(const cfg_search *c, const db_evaluation *e)
{
    double f[CFG_MAX_OBJECTIVES], g[3] = {0, 0, 0}, v = 0;
    search_eval_objectives(c, e, f, g);
    for (int j = 0; j < search_eval_n_constraints(c); j++) v += g[j] > 0 ? g[j] : 0;
    /* Model Search's constrained descent: over its largest budget is infeasible */
    if (c->strategy == CFG_STRATEGY_MODEL_SEARCH)
        v += ms_violation(&c->model_search,
                          ms_cost(c->model_search.budget_kind, e->mul_energy_pj, e->energy_pj,
                                  (long long)e->params, (long long)e->macs));
    return v;
}

int search_eval_energy_objective(const cfg_search *c)
{
    int k = -1;
    for (int i = 0; i < c->n_objectives; i++)
        if (c->objectives[i] == CFG_OBJECTIVE_ENERGY ||
            (c->objectives[i] == CFG_OBJECTIVE_MUL_ENERGY && k < 0))
            k = i;
    return k;
}

/* ------------------------------------------------------------------------------------------
 * The set of committed hashes
 * ---------------------------------------------------------------------------------------- */

bool search_eval_is_committed(const search_eval *ev, uint64_t h)
{
    if (!ev->known_cap) return false;
    h = h ? h : 1;
    for (size_t i = mix64(h) & (ev->known_cap - 1);; i = (i + 1) & (ev->known_cap - 1)) {
        if (ev->known[i] == h) return true;
        if (ev->known[i] == 0) return false;
    }
}

eng_status search_eval_mark_committed(search_eval *ev, uint64_t h)
{
    h = h ? h : 1;
    if (search_eval_is_committed(ev, h)) return ENG_OK;
    if ((ev->known_n + 1) * 2 > ev->known_cap) {
        size_t cap = ev->known_cap ? ev->known_cap * 2 : 1024;
        uint64_t *t = calloc(cap, sizeof *t), *old = ev->known;
        if (!t) return eng_error(ENG_ERR_NOMEM, "out of memory");
        size_t old_cap = ev->known_cap;
        ev->known = t, ev->known_cap = cap, ev->known_n = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i]) search_eval_mark_committed(ev, old[i]);
        free(old);
    }
    size_t i = mix64(h) & (ev->known_cap - 1);
    while (ev->known[i]) i = (i + 1) & (ev->known_cap - 1);
    ev->known[i] = h;
    ev->known_n++;
    return ENG_OK;
}

eng_status search_eval_load_committed(search_eval *ev)
{
    char (*hashes)[DB_HASH_LEN] = NULL;
    int n = 0;
    eng_status st = db_committed_hashes(ev->db, &hashes, &n);
    for (int i = 0; i < n && st == ENG_OK; i++)
        st = search_eval_mark_committed(ev, strtoull(hashes[i], NULL, 16));
    free(hashes);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Progress
 * ---------------------------------------------------------------------------------------- */

void search_say(const search_opts *opts, const char *fmt, ...)
{
    if (opts->progress == SEARCH_PROGRESS_NONE) return;
    FILE *out = opts->out ? opts->out : stderr;
    va_list ap;
    va_start(ap, fmt);
    if (opts->progress == SEARCH_PROGRESS_TTY) fputs("\r\033[K", out);
    vfprintf(out, fmt, ap);
    va_end(ap);
    if (opts->progress == SEARCH_PROGRESS_LOG) fputc('\n', out);
    fflush(out);
}

static void format_duration(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, size, "?");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)s / 3600, ((int)s / 60) % 60);
}

/* "mul_energy" when the search minimizes the multipliers' energy, else "energy". */
static const char *energy_name(const search_eval *ev)
{
    const cfg_search *c = &ev->env->cfg;
    int ke = search_eval_energy_objective(c);
    return ke >= 0 && c->objectives[ke] == CFG_OBJECTIVE_MUL_ENERGY ? "mul_energy" : "energy";
}

/* Time left: from the batches trained so far once there are some (candidates of one search
 * all train the same number of batches), else from the candidates done. */
static void eta_text(const search_eval *ev, char *buf, size_t size)
{
    double el = now_s() - ev->t_start, left = -1;
    if (ev->batches_run > 0) {
        long remaining = (long)(ev->planned_total - ev->done_total) * ev->batches_per_cand;
        for (int t = 0; t < ev->threads; t++)
            if (ev->flights[t].active)
                remaining -= (long)(ev->flights[t].epoch - 1) * ev->flights[t].batches +
                             ev->flights[t].batch;
        left = el / (double)ev->batches_run * (double)(remaining > 0 ? remaining : 0);
    } else if (ev->done_total > 0) {
        left = el / ev->done_total * (ev->planned_total - ev->done_total);
    }
    format_duration(left, buf, size);
}

/* The live line on a terminal: generation, candidates done and in flight (epoch, batch),
 * best figures, ETA. */
static void progress_line(search_eval *ev)
{
    char flights[160] = "", eta[32], *p = flights;
    size_t left = sizeof flights;
    int active = 0;
    for (int t = 0; t < ev->threads; t++) {
        const flight *f = &ev->flights[t];
        if (!f->active) continue;
        if (active++ < 4) {
            int w = snprintf(p, left, "%s%.4s e%d/%d b%ld/%ld", active > 1 ? ", " : "  ",
                             f->hash, f->epoch, f->epochs, f->batch, f->batches);
            if (w > 0 && (size_t)w < left) p += w, left -= (size_t)w;
        }
    }
    if (active > 4) snprintf(p, left, " +%d", active - 4);
    eta_text(ev, eta, sizeof eta);
    char err[32] = "-", energy[32] = "-";
    if (isfinite(ev->best_error)) snprintf(err, sizeof err, "%.4f", ev->best_error);
    if (isfinite(ev->min_energy))
        snprintf(energy, sizeof energy, "%.4g uJ", ev->min_energy * 1e-6);
    search_say(ev->opts, "gen %d/%d  candidate %d/%d  training %d%s  best error %s  min %s %s  "
               "ETA %s", ev->gen, ev->batches_total, ev->gen_done, ev->gen_size, active,
               flights, err, energy_name(ev), energy, eta);
    ev->t_tty = now_s();
}

static void progress_candidate(search_eval *ev, const db_evaluation *e, const char *how)
{
    ev->gen_done++;
    ev->done_total++;
    bool mul_only = strcmp(energy_name(ev), "mul_energy") == 0;
    double energy = mul_only ? e->mul_energy_pj : e->energy_pj;
    /* feasible candidates only, like the generation's figures (the population's feasible
     * extremes survive, so both report the same minimum) */
    if (search_eval_violation(&ev->env->cfg, e) <= 0) {
        if (e->error < ev->best_error) ev->best_error = e->error;
        if (energy < ev->min_energy) ev->min_energy = energy;
    }
    if (ev->opts->progress == SEARCH_PROGRESS_LOG) {
        search_say(ev->opts, "gen %d candidate %d/%d %s error %.4f %s %.4g uJ params %lld %s "
                   "%.1fs", ev->gen, ev->gen_done, ev->gen_size, e->hash, e->error,
                   energy_name(ev), energy * 1e-6, (long long)e->params, how, e->train_s);
    } else {
        progress_line(ev);
    }
}

/* ------------------------------------------------------------------------------------------
 * Training one candidate
 * ---------------------------------------------------------------------------------------- */

/* What the training hooks of one candidate need. */
typedef struct train_ctx {
    search_eval *ev;
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
    st = db_checkpoint_save(c->ev->db, &info, data, size);
    c->saved = *pos;
    return st;
}

/* Crash-test aid: with EVOAPPROXNAS_HOLD_AT_BATCH=E:B in the environment, a candidate that
 * has trained B batches of epoch E (B = all: after the epoch's checkpoint) waits there until
 * the stop flag is set, so that a test can interrupt or SIGKILL it at a known point
 * (tests/cli/checkpoint.sh); it says so in a progress line. */
static void hold_at_batch(const search_eval *ev, const train_ctx *c,
                          const search_train_pos *pos)
{
    if (pos->epoch != ev->hold_epoch || pos->batch != ev->hold_batch) return;
#pragma omp critical(search_progress)
    search_say(ev->opts, "gen %d candidate %s held at epoch %d batch %ld%s", c->gen,
               c->f->hash, pos->epoch, pos->batch,
               ev->opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
    struct timespec ms10 = {0, 10000000};
    while (!(ev->opts->stop && *ev->opts->stop)) nanosleep(&ms10, NULL);
}

static void on_progress(void *user, search_train_event what, const search_train_pos *pos)
{
    train_ctx *c = user;
    search_eval *ev = c->ev;
    flight *f = c->f;
#pragma omp critical(search_progress)
    {
        if (what == SEARCH_TRAIN_BATCH) ev->batches_run++;
        f->epoch = pos->epoch, f->epochs = pos->epochs;
        f->batch = pos->batch, f->batches = pos->batches;
        if (what == SEARCH_TRAIN_EPOCH) {
            if (ev->opts->progress == SEARCH_PROGRESS_LOG) {
                char resumed[48] = "";
                long run = pos->trained - f->trained_before;
                if (run < pos->batches)
                    snprintf(resumed, sizeof resumed, " (resumed at batch %ld)",
                             pos->batches - run);
                search_say(ev->opts, "gen %d candidate %s epoch %d/%d loss %.4f %ld batches%s "
                           "%.1fs", c->gen, f->hash, pos->epoch, pos->epochs, pos->loss, run,
                           resumed, now_s() - f->t_epoch);
            }
            f->trained_before = pos->trained;
            f->t_epoch = now_s();
        }
        if (ev->opts->progress == SEARCH_PROGRESS_TTY &&
            (what == SEARCH_TRAIN_EPOCH || now_s() - ev->t_tty >= 0.25))
            progress_line(ev);
    }
    if (ev->hold_epoch > 0 &&
        (what == SEARCH_TRAIN_EPOCH) == (pos->batch == pos->batches))
        hold_at_batch(ev, c, pos);
}

static void store_result(search_eval *ev, job *jb, eng_status st, const char *msg, double err,
                         double train_s);

/* Trains one candidate on the calling worker, continuing its checkpoint when there is one. */
static void train_job(search_eval *ev, job *jb, int gen, flight *f)
{
    const search_env *env = ev->env;
    db_evaluation *e = jb->e;
    double t0 = now_s(), err = 1.0;
    void *resume = NULL;
    size_t resume_size = 0;
    eng_status st;
#pragma omp critical(search_db)
    st = db_checkpoint_load(ev->db, e->hash, &resume, &resume_size);
    if (st == ENG_ERR_NOT_FOUND) st = ENG_OK;
    search_train_pos at = {.epoch = 1, .epochs = env->cfg.training.epochs,
                           .batches = ev->batches_per_cand / env->cfg.training.epochs};
    if (st == ENG_OK && resume) st = search_train_checkpoint_pos(resume, resume_size, &at);
    train_ctx ctx = {.ev = ev, .f = f, .gen = gen};
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
        st = search_env_train(env, jb->arch, e->seed, env->cfg.training.epochs, &env->train,
                              &env->val, ev->opts->stop, &hooks, &err);
    free(resume);
#pragma omp critical(search_progress)
    {
        f->active = false;
        if (st == ENG_ERR_INTERRUPTED && ev->opts->progress == SEARCH_PROGRESS_LOG &&
            ctx.saved.epochs > 0)
            search_say(ev->opts, "gen %d candidate %s stopped at epoch %d/%d batch %ld/%ld "
                       "(checkpointed)", gen, e->hash, ctx.saved.epoch, ctx.saved.epochs,
                       ctx.saved.batch, ctx.saved.batches);
    }
    store_result(ev, jb, st, st == ENG_OK ? "" : eng_last_error(), err, now_s() - t0);
}

/* Stores a candidate's training result (from this rank or another): its evaluation as a
 * cache for resume, in place of its checkpoint. */
static void store_result(search_eval *ev, job *jb, eng_status st, const char *msg, double err,
                         double train_s)
{
    const search_env *env = ev->env;
    db_evaluation *e = jb->e;
    jb->st = st;
    if (st != ENG_OK) {
        if (st == ENG_ERR_FORMAT)
            snprintf(jb->msg, sizeof jb->msg, "%s: checkpoint of %s: %s", db_path(ev->db),
                     e->hash, msg);
        else snprintf(jb->msg, sizeof jb->msg, "%s", msg);
        return;
    }
    e->error = err;
    e->train_s = train_s;
    e->violation = search_eval_violation(&env->cfg, e);
    double gv[3];
    search_eval_objectives(&env->cfg, e, e->obj, gv);
    /* the result replaces the checkpoint: a cache for resume until the batch commits */
#pragma omp critical(search_db)
    {
        st = db_begin(ev->db);
        if (st == ENG_OK) st = db_evaluation_insert(ev->db, e);
        if (st == ENG_OK) st = db_checkpoint_delete(ev->db, e->hash);
        if (st == ENG_OK) st = db_commit(ev->db);
        else db_rollback(ev->db);
    }
    if (st != ENG_OK) {
        jb->st = st;
        snprintf(jb->msg, sizeof jb->msg, "%s", eng_last_error());
        return;
    }
    jb->done = true;
#pragma omp critical(search_progress)
    progress_candidate(ev, e, "trained");
}

/* ------------------------------------------------------------------------------------------
 * Training across MPI ranks (mpi_pool.h)
 * ---------------------------------------------------------------------------------------- */

/* A batch trained across the MPI ranks: rank 0's threads and the workers pull candidates
 * from one counter; results land in their job whatever the order they arrive in. */
typedef struct pool_ctx {
    search_eval *ev;
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
    search_eval *ev = p->ev;
    for (;;) {
        if (ev->opts->stop && *ev->opts->stop) return false;
        int i = pool_claim(p);
        if (i < 0) return false;
        const db_evaluation *e = p->jobs[i].e;
        *j = (mpi_pool_job){.index = i, .hash = strtoull(e->hash, NULL, 16), .seed = e->seed,
                            .epochs = ev->env->cfg.training.epochs, .arch = p->jobs[i].arch};
        eng_status st;
#pragma omp critical(search_db)
        st = db_checkpoint_load(ev->db, e->hash, &j->resume, &j->resume_size);
        if (st == ENG_OK || st == ENG_ERR_NOT_FOUND) return true;
        p->jobs[i].st = st;
        snprintf(p->jobs[i].msg, sizeof p->jobs[i].msg, "%s", eng_last_error());
    }
}

/* Stores a checkpoint that a worker rank sent for the candidate `hash` (its position read
 * from the bytes) and, at an epoch's end, counts the epoch's batches and logs it. */
static eng_status store_rank_checkpoint(search_eval *ev, int gen, const char *hash,
                                        const void *data, size_t size)
{
    search_train_pos pos;
    ENG_TRY(search_train_checkpoint_pos(data, size, &pos));
    db_checkpoint_info info = {.generation = gen, .epoch = pos.epoch, .epochs = pos.epochs,
                               .batch = pos.batch, .batches = pos.batches, .loss = pos.loss};
    snprintf(info.hash, sizeof info.hash, "%s", hash);
    eng_status st;
#pragma omp critical(search_db)
    st = db_checkpoint_save(ev->db, &info, data, size);
    if (pos.batch == pos.batches) {
#pragma omp critical(search_progress)
        {
            ev->batches_run += pos.batches;
            if (ev->opts->progress == SEARCH_PROGRESS_LOG)
                search_say(ev->opts, "gen %d candidate %s epoch %d/%d loss %.4f (another "
                           "rank)", gen, info.hash, pos.epoch, pos.epochs, pos.loss);
        }
    }
    return st;
}

/* A worker's checkpoint: stored like a local one; an epoch's end is logged. */
static eng_status pool_checkpoint(void *user, int index, const void *data, size_t size)
{
    pool_ctx *p = user;
    return store_rank_checkpoint(p->ev, p->gen, p->jobs[index].e->hash, data, size);
}

static void pool_done(void *user, int index, eng_status st, const char *msg, double error,
                      double train_s)
{
    pool_ctx *p = user;
    store_result(p->ev, &p->jobs[index], st, msg, error, train_s);
}

/* train_jobs across the MPI ranks: OpenMP thread 0 (the thread that joined MPI) hands out
 * candidates to the workers, the others train on this rank. */
static void train_jobs_pool(search_eval *ev, job *jobs, int n_jobs, int gen, bool across,
                            search_eval_counts *k)
{
    pool_ctx p = {.ev = ev, .jobs = jobs, .n_jobs = n_jobs, .gen = gen};
    mpi_pool_cb cb = {.next = pool_next, .checkpoint = pool_checkpoint, .done = pool_done,
                      .user = &p};
    mpi_pool_stats stats = {0};
    eng_status pool_st = ENG_OK;
    char pool_msg[512] = "";
    int local = across ? ev->threads : 1;
    /* one local trainer with all threads: its kernels' region nests in this one */
    eng_set_nesting(across ? 1 : 2);
    if (!across) eng_set_threads(ev->threads);
    double t0 = now_s();
#pragma omp parallel num_threads(local + 1)
    {
        int slot = eng_thread_id();
        if (slot == 0) {
            pool_st = mpi_pool_train(&cb, ev->opts->stop, &stats);
            if (pool_st != ENG_OK) snprintf(pool_msg, sizeof pool_msg, "%s", eng_last_error());
        } else {
            for (int i; !(ev->opts->stop && *ev->opts->stop) && (i = pool_claim(&p)) >= 0;) {
                double t = now_s();
                train_job(ev, &jobs[i], gen, &ev->flights[slot - 1]);
#pragma omp atomic
                p.local_busy_s += now_s() - t;
            }
        }
    }
    k->slot_s = (now_s() - t0) * (double)(local + stats.workers);
    k->busy_s = p.local_busy_s + stats.busy_s;
    /* a failure of the pool fails the candidates it had not answered */
    for (int i = 0; i < n_jobs && pool_st != ENG_OK; i++)
        if (jobs[i].train && !jobs[i].done && jobs[i].st == ENG_OK) {
            jobs[i].st = pool_st;
            snprintf(jobs[i].msg, sizeof jobs[i].msg, "%s", pool_msg);
        }
}

/* Trains the jobs that need it, across candidates or within each, as configured; under
 * mpirun also on the other ranks (k: their idle time). */
static void train_jobs(search_eval *ev, job *jobs, int n_jobs, int gen, search_eval_counts *k)
{
    volatile sig_atomic_t *stop = ev->opts->stop;
    const cfg_search *c = &ev->env->cfg;
    /* one host thread drives the GPU: candidates on the device train one after another */
    bool across = ev->env->device != ENG_DEVICE_CUDA &&
                  (c->parallel == CFG_PARALLEL_CANDIDATES ||
                   (c->parallel == CFG_PARALLEL_AUTO && ev->threads > 1));
    if (mpi_pool_size() > 1) {
        train_jobs_pool(ev, jobs, n_jobs, gen, across, k);
        return;
    }
    eng_set_nesting(1);
    if (!across) eng_set_threads(ev->threads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(across ? ev->threads : 1)
    for (int i = 0; i < n_jobs; i++) {
        job *jb = &jobs[i];
        if (!jb->train || (stop && *stop)) continue;
        train_job(ev, jb, gen, &ev->flights[eng_thread_id()]);
    }
}

/* ------------------------------------------------------------------------------------------
 * Batches
 * ---------------------------------------------------------------------------------------- */

eng_status search_eval_start_ranks(const search_env *env, const search_opts *opts)
{
    /* the other ranks load the same config, with its files as resolved here (absolute: a
     * rank may start in another directory), and get the multiplier tables (and with
     * --broadcast-data the images) from here */
    if (mpi_pool_size() < 2) return ENG_OK;
    const cfg_search *c = &env->cfg;
    char path[3][PATH_MAX];
    const char *given[3] = {c->path, c->dataset.path, c->energy.accelerator};
    for (int i = 0; i < 3; i++)
        if (!realpath(given[i], path[i])) snprintf(path[i], sizeof path[i], "%s", given[i]);
    mpi_msg_init init = {.config_path = path[0], .config_text = c->text, .dataset = path[1],
                         .accelerator = path[2], .n_muls = c->space.n_muls,
                         .has_data = opts->mpi_send_data, .train = env->train,
                         .val = env->val};
    for (int i = 0; i < c->space.n_muls; i++) init.muls[i] = env->muls[i];
    return mpi_pool_start(&init);
}

eng_status search_eval_create(search_env *env, db_archive *db, const search_opts *opts,
                              int threads, search_eval **out)
{
    *out = NULL;
    ENG_TRY(search_eval_start_ranks(env, opts));
    search_eval *ev = calloc(1, sizeof *ev);
    if (!ev) return eng_error(ENG_ERR_NOMEM, "out of memory");
    ev->env = env, ev->db = db, ev->opts = opts;
    ev->threads = threads > 0 ? threads : 1;
    ev->best_error = INFINITY, ev->min_energy = INFINITY;
    ev->t_start = now_s();
    ev->flights = calloc((size_t)ev->threads, sizeof *ev->flights);
    if (!ev->flights) {
        free(ev);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    const cfg_search *c = &env->cfg;
    int bs = c->training.batch_size < env->train.count ? c->training.batch_size
                                                       : env->train.count;
    ev->batches_per_cand = bs > 0 ? (long)c->training.epochs * (env->train.count / bs) : 0;
    const char *hold = getenv("EVOAPPROXNAS_HOLD_AT_BATCH");
    if (hold && sscanf(hold, "%d:%ld", &ev->hold_epoch, &ev->hold_batch) != 2)
        ev->hold_epoch = 0;
    *out = ev;
    return ENG_OK;
}

static void async_free(search_eval *ev);

void search_eval_free(search_eval *ev)
{
    if (!ev) return;
    async_free(ev);
    free(ev->known);
    free(ev->flights);
    free(ev);
}

void search_eval_plan(search_eval *ev, int batches_total, int candidates_left)
{
    ev->batches_total = batches_total;
    ev->planned_total = ev->done_total + candidates_left;
    ev->t_start = now_s();
}

/* Fills the batch's items from the archive or by measuring them; jobs[] gets one entry per
 * distinct network. */
static eng_status prepare_batch(search_eval *ev, int gen, search_eval_item *items, int n,
                                job *jobs, int *n_jobs)
{
    const cfg_search *c = &ev->env->cfg;
    *n_jobs = 0;
    for (int i = 0; i < n; i++) {
        search_eval_item *it = &items[i];
        it->hash = nas_arch_hash(it->arch);
        it->reused = search_eval_is_committed(ev, it->hash);
        it->first = true;
        for (int j = 0; j < i && it->first; j++)
            if (items[j].hash == it->hash) it->first = false;
        if (!it->first) {
            it->reused = true;
            continue;
        }
        job *jb = &jobs[(*n_jobs)++];
        *jb = (job){.arch = it->arch, .e = &it->e};
        char hex[DB_HASH_LEN];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)it->hash);
        if (db_evaluation_find(ev->db, hex, &it->e) == ENG_OK) {
            it->e.n_obj = c->n_objectives;
            jb->done = true;
            /* committed before: reused; else a cache entry left by an interrupted run */
            progress_candidate(ev, &it->e, it->reused ? "reused" : "cached");
            continue;
        }
        ENG_TRY(search_env_measure(ev->env, it->arch, &it->e));
        it->e.generation = gen;
        it->e.n_obj = c->n_objectives;
        it->e.seed = mix64(c->seed ^ it->hash);
        jb->train = true;
    }
    return ENG_OK;
}

eng_status search_eval_batch(search_eval *ev, int gen, search_eval_item *items, int n,
                             search_eval_counts *counts)
{
    const cfg_search *c = &ev->env->cfg;
    ev->gen = gen, ev->gen_done = 0, ev->gen_size = n;
    job *jobs = calloc((size_t)(n > 0 ? n : 1), sizeof *jobs);
    if (!jobs) return eng_error(ENG_ERR_NOMEM, "out of memory");
    int n_jobs = 0;
    eng_status st = prepare_batch(ev, gen, items, n, jobs, &n_jobs);
    if (st == ENG_OK && !ev->ckpt_ready) {
        st = db_checkpoint_prepare(ev->db);
        ev->ckpt_ready = st == ENG_OK;
    }
    search_eval_counts k = {0};
    if (st == ENG_OK) train_jobs(ev, jobs, n_jobs, gen, &k);
    bool all_done = true;
    for (int j = 0; j < n_jobs && st == ENG_OK; j++) {
        job *jb = &jobs[j];
        if (!jb->done && jb->st != ENG_OK && jb->st != ENG_ERR_INTERRUPTED)
            st = eng_error(jb->st, "%s", jb->msg);
        all_done &= jb->done;
        /* evaluated = new to the committed archive (trained now or cached) */
        if (jb->done && !search_eval_is_committed(ev, strtoull(jb->e->hash, NULL, 16)))
            k.evaluated++;
    }
    free(jobs);
    /* interrupted: the finished evaluations are stored already, as a cache for resume */
    if (st == ENG_OK && !all_done) st = eng_error(ENG_ERR_INTERRUPTED, "interrupted");
    if (st != ENG_OK) return st;
    for (int i = 0; i < n; i++) {
        search_eval_item *it = &items[i];
        if (!it->first) {
            for (int j = 0; j < i; j++)
                if (items[j].first && items[j].hash == it->hash) it->e = items[j].e;
        }
        double gv[3];
        it->e.violation = search_eval_violation(c, &it->e);
        search_eval_objectives(c, &it->e, it->e.obj, gv);
        k.reused += it->reused;
    }
    if (counts) *counts = k;
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Asynchronous evaluation: one candidate at a time to a free worker
 * ---------------------------------------------------------------------------------------- */

typedef enum async_where {
    ASYNC_FREE,                 /* slot unused */
    ASYNC_INLINE,               /* trained by the waiting thread (one local worker, no MPI) */
    ASYNC_LOCAL,                /* on a local worker thread */
    ASYNC_RANK,                 /* on an MPI worker rank */
    ASYNC_FOLLOW,               /* same network as the slot `leader`, which trains it */
    ASYNC_ARRIVED               /* in the arrival queue */
} async_where;

/* A candidate submitted and not yet returned by search_eval_wait. */
typedef struct async_slot {
    async_where where;
    int tag, gen, leader;
    search_eval_item item;
    job jb;
} async_slot;

/* A local worker thread. */
typedef struct async_worker {
    search_eval *ev;
    pthread_t thread;
    bool started;
    int slot;                   /* the slot it trains, -1 idle */
    flight *f;
} async_worker;

typedef struct async_state {
    int capacity;               /* workers: MPI worker ranks + local trainers */
    int n_local;                /* local worker threads (0 with the inline trainer) */
    int inner_threads;          /* OpenMP threads of one local training */
    async_slot *slots;          /* capacity of them */
    async_worker *workers;
    int *arrived, n_arrived;    /* slot indices in the order they arrived */
    int in_flight;              /* slots not free */
    bool quit;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    double t0, busy_s;          /* since the first submit: training time of all workers */
} async_state;

/* Queues a finished slot (lock held) and the slots that follow it. */
static void async_arrive(async_state *a, int i)
{
    a->slots[i].where = ASYNC_ARRIVED;
    a->arrived[a->n_arrived++] = i;
    for (int j = 0; j < a->capacity; j++) {
        async_slot *s = &a->slots[j];
        if (s->where != ASYNC_FOLLOW || s->leader != i) continue;
        s->item.e = a->slots[i].item.e;
        s->jb.done = a->slots[i].jb.done;
        s->jb.st = a->slots[i].jb.st;
        memcpy(s->jb.msg, a->slots[i].jb.msg, sizeof s->jb.msg);
        async_arrive(a, j);
    }
}

static void *async_worker_main(void *user)
{
    async_worker *w = user;
    search_eval *ev = w->ev;
    async_state *a = ev->as;
    eng_set_nesting(1);
    eng_set_threads(a->inner_threads);
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->quit && w->slot < 0) pthread_cond_wait(&a->work, &a->lock);
        if (w->slot < 0) break;
        async_slot *s = &a->slots[w->slot];
        pthread_mutex_unlock(&a->lock);
        double t = now_s();
        train_job(ev, &s->jb, s->gen, w->f);
        pthread_mutex_lock(&a->lock);
        a->busy_s += now_s() - t;
        async_arrive(a, w->slot);
        w->slot = -1;
        pthread_cond_broadcast(&a->done);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static void async_free(search_eval *ev)
{
    async_state *a = ev->as;
    if (!a) return;
    pthread_mutex_lock(&a->lock);
    a->quit = true;
    pthread_cond_broadcast(&a->work);
    pthread_mutex_unlock(&a->lock);
    for (int i = 0; i < a->n_local; i++)
        if (a->workers[i].started) pthread_join(a->workers[i].thread, NULL);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->done);
    free(a->slots);
    free(a->workers);
    free(a->arrived);
    free(a);
    ev->as = NULL;
}

/* Sets up the workers on first use: local trainers as train_jobs would run them (one per
 * thread when candidates train in parallel, else one with all threads), on threads of their
 * own when the waiting thread has MPI ranks to serve or there are several, and the MPI ranks. */
static eng_status async_start(search_eval *ev)
{
    if (ev->as) return ENG_OK;
    const cfg_search *c = &ev->env->cfg;
    bool across = ev->env->device != ENG_DEVICE_CUDA &&
                  (c->parallel == CFG_PARALLEL_CANDIDATES ||
                   (c->parallel == CFG_PARALLEL_AUTO && ev->threads > 1));
    int ranks = mpi_pool_workers();
    int local = across ? ev->threads : 1;
#ifndef _OPENMP
    /* without OpenMP nothing guards the archive between threads: one inline trainer, or
     * rank 0 only hands out candidates */
    local = ranks ? 0 : 1;
#endif
    async_state *a = calloc(1, sizeof *a);
    if (!a) return eng_error(ENG_ERR_NOMEM, "out of memory");
    a->capacity = ranks + local;
    a->n_local = ranks == 0 && local == 1 ? 0 : local;
    a->inner_threads = across ? 1 : ev->threads;
    a->slots = calloc((size_t)a->capacity, sizeof *a->slots);
    a->arrived = calloc((size_t)a->capacity, sizeof *a->arrived);
    a->workers = calloc((size_t)(a->n_local ? a->n_local : 1), sizeof *a->workers);
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->work, NULL);
    pthread_cond_init(&a->done, NULL);
    ev->as = a;
    if (!a->slots || !a->arrived || !a->workers) {
        async_free(ev);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    a->t0 = now_s();
    /* the live line counts the candidates of the asynchronous part of the run */
    ev->gen_done = 0, ev->gen_size = ev->planned_total - ev->done_total;
    /* signals go to the thread that waits (its stop flag and pause()), not to the trainers */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    eng_status st = ENG_OK;
    for (int i = 0; i < a->n_local && st == ENG_OK; i++) {
        async_worker *w = &a->workers[i];
        *w = (async_worker){.ev = ev, .slot = -1, .f = &ev->flights[i]};
        if (pthread_create(&w->thread, NULL, async_worker_main, w) != 0)
            st = eng_error(ENG_ERR_NOMEM, "cannot start a worker thread");
        w->started = st == ENG_OK;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (st != ENG_OK) async_free(ev);
    return st;
}

eng_status search_eval_capacity(search_eval *ev, int *workers, int *in_flight)
{
    ENG_TRY(async_start(ev));
    *workers = ev->as->capacity;
    *in_flight = ev->as->in_flight;
    return ENG_OK;
}

/* MPI callbacks of the asynchronous pool: the job index is the slot. */
static eng_status async_rank_checkpoint(void *user, int index, const void *data, size_t size)
{
    search_eval *ev = user;
    async_slot *s = &ev->as->slots[index];
    return store_rank_checkpoint(ev, s->gen, s->item.e.hash, data, size);
}

static void async_rank_done(void *user, int index, eng_status st, const char *msg,
                            double error, double train_s)
{
    search_eval *ev = user;
    async_state *a = ev->as;
    store_result(ev, &a->slots[index].jb, st, msg, error, train_s);
    pthread_mutex_lock(&a->lock);
    async_arrive(a, index);
    pthread_mutex_unlock(&a->lock);
}

eng_status search_eval_submit(search_eval *ev, int gen, int tag, const nas_arch *arch)
{
    ENG_TRY(async_start(ev));
    async_state *a = ev->as;
    const cfg_search *c = &ev->env->cfg;
    if (!ev->ckpt_ready) {
        eng_status st;
#pragma omp critical(search_db)
        st = db_checkpoint_prepare(ev->db);
        ENG_TRY(st);
        ev->ckpt_ready = true;
    }
    int i = 0;
    pthread_mutex_lock(&a->lock);
    while (i < a->capacity && a->slots[i].where != ASYNC_FREE) i++;
    pthread_mutex_unlock(&a->lock);
    if (i == a->capacity)
        return eng_error(ENG_ERR_ARG, "all %d workers are busy", a->capacity);
    async_slot *s = &a->slots[i];
    *s = (async_slot){.tag = tag, .gen = gen, .leader = -1};
    search_eval_item *it = &s->item;
    it->arch = arch;
    it->hash = nas_arch_hash(arch);
    it->reused = search_eval_is_committed(ev, it->hash);
    it->first = true;
    s->jb = (job){.arch = arch, .e = &it->e};
    ev->gen = gen;
    pthread_mutex_lock(&a->lock);
    for (int j = 0; j < a->capacity && s->leader < 0; j++)
        if (j != i && a->slots[j].where != ASYNC_FREE && a->slots[j].item.first &&
            a->slots[j].item.hash == it->hash)
            s->leader = j;
    a->in_flight++;
    if (s->leader >= 0) {               /* the same network is out already: it answers */
        it->first = false, it->reused = true;
        s->where = ASYNC_FOLLOW;
        if (a->slots[s->leader].where == ASYNC_ARRIVED) {
            it->e = a->slots[s->leader].item.e;
            s->jb.done = a->slots[s->leader].jb.done;
            s->jb.st = a->slots[s->leader].jb.st;
            async_arrive(a, i);
        }
        pthread_mutex_unlock(&a->lock);
        return ENG_OK;
    }
    pthread_mutex_unlock(&a->lock);
    char hex[DB_HASH_LEN];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)it->hash);
    eng_status st;
#pragma omp critical(search_db)
    st = db_evaluation_find(ev->db, hex, &it->e);
    if (st == ENG_OK) {                 /* committed before (reused) or cached */
        it->e.n_obj = c->n_objectives;
        s->jb.done = true;
#pragma omp critical(search_progress)
        progress_candidate(ev, &it->e, it->reused ? "reused" : "cached");
        pthread_mutex_lock(&a->lock);
        async_arrive(a, i);
        pthread_mutex_unlock(&a->lock);
        return ENG_OK;
    }
    st = search_env_measure(ev->env, arch, &it->e);
    if (st != ENG_OK) {
        pthread_mutex_lock(&a->lock);
        s->where = ASYNC_FREE;
        a->in_flight--;
        pthread_mutex_unlock(&a->lock);
        return st;
    }
    it->e.generation = gen;
    it->e.n_obj = c->n_objectives;
    it->e.seed = mix64(c->seed ^ it->hash);
    s->jb.train = true;
    /* a free worker: a local thread, else an MPI rank */
    pthread_mutex_lock(&a->lock);
    async_worker *w = NULL;
    for (int k = 0; k < a->n_local && !w; k++)
        if (a->workers[k].slot < 0) w = &a->workers[k];
    if (w) {
        s->where = ASYNC_LOCAL;
        w->slot = i;
        pthread_cond_broadcast(&a->work);
    } else {
        s->where = a->n_local == 0 && mpi_pool_busy() == mpi_pool_workers() ? ASYNC_INLINE
                                                                            : ASYNC_RANK;
    }
    pthread_mutex_unlock(&a->lock);
    if (s->where != ASYNC_RANK) return ENG_OK;
    mpi_pool_job mj = {.index = i, .hash = it->hash, .seed = it->e.seed,
                       .epochs = c->training.epochs, .arch = arch};
#pragma omp critical(search_db)
    st = db_checkpoint_load(ev->db, it->e.hash, &mj.resume, &mj.resume_size);
    if (st == ENG_ERR_NOT_FOUND) st = ENG_OK;
    if (st == ENG_OK) st = mpi_pool_submit(&mj);
    else free(mj.resume);
    if (st != ENG_OK) {
        pthread_mutex_lock(&a->lock);
        s->where = ASYNC_FREE;
        a->in_flight--;
        pthread_mutex_unlock(&a->lock);
    }
    return st;
}

eng_status search_eval_wait(search_eval *ev, int *tag, search_eval_item *out,
                            double *idle_share)
{
    async_state *a = ev->as;
    if (!a || a->in_flight == 0) return eng_error(ENG_ERR_ARG, "no candidate is out");
    volatile sig_atomic_t *stop = ev->opts->stop;
    mpi_pool_cb cb = {.checkpoint = async_rank_checkpoint, .done = async_rank_done, .user = ev};
    eng_status st = ENG_OK;
    int i = -1;
    for (;;) {
        bool stopping = stop && *stop;
        pthread_mutex_lock(&a->lock);
        /* stopped: every worker answers first (checkpointed), then the wait fails */
        int busy = 0;
        for (int k = 0; k < a->capacity; k++)
            busy += a->slots[k].where == ASYNC_LOCAL || a->slots[k].where == ASYNC_RANK;
        if (a->n_arrived > 0 && !stopping) {
            i = a->arrived[0];
            a->n_arrived--;
            memmove(a->arrived, a->arrived + 1, sizeof(int) * (size_t)a->n_arrived);
        }
        pthread_mutex_unlock(&a->lock);
        if (i >= 0) break;
        if (stopping && busy == 0) return eng_error(ENG_ERR_INTERRUPTED, "interrupted");
        int inl = -1;
        for (int k = 0; k < a->capacity && inl < 0 && !stopping; k++)
            if (a->slots[k].where == ASYNC_INLINE) inl = k;
        if (inl >= 0) {
            double t = now_s();
            eng_set_nesting(1);
            eng_set_threads(a->inner_threads);
            train_job(ev, &a->slots[inl].jb, a->slots[inl].gen, &ev->flights[0]);
            pthread_mutex_lock(&a->lock);
            a->busy_s += now_s() - t;
            async_arrive(a, inl);
            pthread_mutex_unlock(&a->lock);
            continue;
        }
        bool got = false;
        if (mpi_pool_busy() > 0) {
            double b = 0;
            st = mpi_pool_poll(&cb, stop, &got, &b);
            pthread_mutex_lock(&a->lock);
            a->busy_s += b;
            pthread_mutex_unlock(&a->lock);
            if (st != ENG_OK) return st;
        }
        if (got) continue;
        pthread_mutex_lock(&a->lock);
        if (a->n_arrived == 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 1000000;
            if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&a->done, &a->lock, &until);
        }
        pthread_mutex_unlock(&a->lock);
    }
    async_slot *s = &a->slots[i];
    if (!s->jb.done) {
        st = s->jb.st == ENG_OK ? ENG_ERR_INTERRUPTED : s->jb.st;
        st = st == ENG_ERR_INTERRUPTED ? eng_error(st, "interrupted")
                                       : eng_error(st, "%s", s->jb.msg);
    } else {
        *tag = s->tag;
        *out = s->item;
        double gv[3];
        out->e.violation = search_eval_violation(&ev->env->cfg, &out->e);
        search_eval_objectives(&ev->env->cfg, &out->e, out->e.obj, gv);
    }
    pthread_mutex_lock(&a->lock);
    s->where = ASYNC_FREE;
    a->in_flight--;
    if (idle_share) {
        double slot_s = (now_s() - a->t0) * a->capacity;
        *idle_share = slot_s > 0 ? 1.0 - a->busy_s / slot_s : 0;
    }
    pthread_mutex_unlock(&a->lock);
    return st;
}

eng_status search_eval_locked(search_eval *ev, eng_status (*fn)(void *user), void *user)
{
    (void)ev;
    eng_status st;
#pragma omp critical(search_db)
    st = fn(user);
    return st;
}
