/*
 * search_eval_train.c - the evaluator's training step: one candidate on a worker (its
 * checkpoints, progress hooks and result), the candidates of a batch across the local threads,
 * and across the MPI ranks (mpi_pool.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive_checkpoint.h"
#include "mpi_pool.h"
#include "search_eval_internal.h"

/* ------------------------------------------------------------------------------------------
 * Training one candidate
 * ---------------------------------------------------------------------------------------- */

/* What the training hooks of one candidate need. */
typedef struct train_ctx {
    search_eval *ev;
    flight *f;                  /* its worker's slot */
    int gen;
    volatile sig_atomic_t *stop;/* its stop flag */
    eng_train_pos saved;        /* position of the last checkpoint */
} train_ctx;

static eng_status on_checkpoint(void *user, const void *data, size_t size,
                                const eng_train_pos *pos)
{
    train_ctx *c = user;
    db_checkpoint_info info = {.generation = c->gen, .epoch = pos->epoch, .epochs = pos->epochs,
                               .batch = pos->step, .batches = pos->steps, .loss = pos->mean_loss};
    snprintf(info.hash, sizeof info.hash, "%s", c->f->hash);
    eng_status st;
#pragma omp critical(search_db)
    st = db_checkpoint_save(c->ev->db, &info, data, size);
    c->saved = *pos;
    return st;
}

/* Crash-test aid: with EVOAPPROXNAS_HOLD_AT_BATCH=E:B in the environment, a candidate that
 * has trained B batches of epoch E (B = all: after the epoch's checkpoint) waits there until
 * its stop flag is set, so that a test can interrupt or SIGKILL it at a known point
 * (tests/cli/checkpoint.sh); it says so in a progress line. */
static void hold_at_batch(const search_eval *ev, const train_ctx *c,
                          const eng_train_pos *pos)
{
    if (pos->epoch != ev->hold_epoch || pos->step != ev->hold_batch) return;
#pragma omp critical(search_progress)
    search_say(ev->opts, "gen %d candidate %s held at epoch %d batch %ld%s", c->gen,
               c->f->hash, pos->epoch, pos->step,
               ev->opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
    struct timespec ms10 = {0, 10000000};
    while (!(c->stop && *c->stop)) nanosleep(&ms10, NULL);
}

static void on_progress(void *user, search_train_event what, const eng_train_pos *pos)
{
    train_ctx *c = user;
    search_eval *ev = c->ev;
    flight *f = c->f;
#pragma omp critical(search_progress)
    {
        if (what == SEARCH_TRAIN_BATCH) ev->batches_run++;
        f->epoch = pos->epoch, f->epochs = pos->epochs;
        f->batch = pos->step, f->batches = pos->steps;
        if (what == SEARCH_TRAIN_EPOCH) {
            if (ev->opts->progress == SEARCH_PROGRESS_LOG) {
                char resumed[48] = "";
                long run = pos->trained - f->trained_before;
                if (run < pos->steps)
                    snprintf(resumed, sizeof resumed, " (resumed at batch %ld)",
                             pos->steps - run);
                search_say(ev->opts, "gen %d candidate %s epoch %d/%d loss %.4f %ld batches%s "
                           "%.1fs", c->gen, f->hash, pos->epoch, pos->epochs, pos->mean_loss, run,
                           resumed, now_s() - f->t_epoch);
            }
            f->trained_before = pos->trained;
            f->t_epoch = now_s();
        }
        if (ev->opts->progress == SEARCH_PROGRESS_TTY &&
            (what == SEARCH_TRAIN_EPOCH || now_s() - ev->t_tty >= 0.25))
            search_eval_progress_line(ev);
    }
    if (ev->hold_epoch > 0 &&
        (what == SEARCH_TRAIN_EPOCH) == (pos->step == pos->steps))
        hold_at_batch(ev, c, pos);
}

/* Trains one candidate on the calling worker, continuing its checkpoint when there is one. */
void search_eval_train_job(search_eval *ev, job *jb, int gen, flight *f,
                           volatile sig_atomic_t *stop)
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
    eng_train_pos at = {.epoch = 1, .epochs = env->cfg.training.epochs,
                        .steps = ev->batches_per_cand / env->cfg.training.epochs};
    if (st == ENG_OK && resume) st = eng_train_checkpoint_pos(resume, resume_size, &at);
    train_ctx ctx = {.ev = ev, .f = f, .gen = gen, .stop = stop};
#pragma omp critical(search_progress)
    {
        *f = (flight){.active = true, .epoch = at.epoch, .epochs = at.epochs, .batch = at.step,
                      .batches = at.steps, .t_epoch = now_s()};
        snprintf(f->hash, sizeof f->hash, "%s", e->hash);
    }
    search_train_hooks hooks = {.resume = resume, .resume_size = resume_size,
                                .checkpoint_s = env->cfg.training.checkpoint_minutes * 60.0,
                                .checkpoint = on_checkpoint, .progress = on_progress,
                                .user = &ctx};
    if (st == ENG_OK)
        st = search_env_train(env, jb->arch, e->seed, env->cfg.training.epochs, &env->train,
                              &env->val, stop, &hooks, &err);
    free(resume);
#pragma omp critical(search_progress)
    {
        f->active = false;
        if (st == ENG_ERR_INTERRUPTED && ev->opts->progress == SEARCH_PROGRESS_LOG &&
            ctx.saved.epochs > 0)
            search_say(ev->opts, "gen %d candidate %s stopped at epoch %d/%d batch %ld/%ld "
                       "(checkpointed)", gen, e->hash, ctx.saved.epoch, ctx.saved.epochs,
                       ctx.saved.step, ctx.saved.steps);
    }
    search_eval_store_result(ev, jb, st, st == ENG_OK ? "" : eng_last_error(), err, now_s() - t0);
}

/* Stores a candidate's training result (from this rank or another): its evaluation as a
 * cache for resume, in place of its checkpoint. */
void search_eval_store_result(search_eval *ev, job *jb, eng_status st, const char *msg,
                              double err, double train_s)
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
    search_eval_progress_candidate(ev, e, "trained");
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
eng_status search_eval_store_rank_checkpoint(search_eval *ev, int gen, const char *hash,
                                             const void *data, size_t size)
{
    eng_train_pos pos;
    ENG_TRY(eng_train_checkpoint_pos(data, size, &pos));
    db_checkpoint_info info = {.generation = gen, .epoch = pos.epoch, .epochs = pos.epochs,
                               .batch = pos.step, .batches = pos.steps, .loss = pos.mean_loss};
    snprintf(info.hash, sizeof info.hash, "%s", hash);
    eng_status st;
#pragma omp critical(search_db)
    st = db_checkpoint_save(ev->db, &info, data, size);
    if (pos.step == pos.steps) {
#pragma omp critical(search_progress)
        {
            ev->batches_run += pos.steps;
            if (ev->opts->progress == SEARCH_PROGRESS_LOG)
                search_say(ev->opts, "gen %d candidate %s epoch %d/%d loss %.4f (another "
                           "rank)", gen, info.hash, pos.epoch, pos.epochs, pos.mean_loss);
        }
    }
    return st;
}

/* A worker's checkpoint: stored like a local one; an epoch's end is logged. */
static eng_status pool_checkpoint(void *user, int index, const void *data, size_t size)
{
    pool_ctx *p = user;
    return search_eval_store_rank_checkpoint(p->ev, p->gen, p->jobs[index].e->hash, data, size);
}

static void pool_done(void *user, int index, eng_status st, const char *msg, double error,
                      double train_s)
{
    pool_ctx *p = user;
    search_eval_store_result(p->ev, &p->jobs[index], st, msg, error, train_s);
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
                search_eval_train_job(ev, &jobs[i], gen, &ev->flights[slot - 1], ev->opts->stop);
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
void search_eval_train_jobs(search_eval *ev, job *jobs, int n_jobs, int gen,
                            search_eval_counts *k)
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
        search_eval_train_job(ev, jb, gen, &ev->flights[eng_thread_id()], stop);
    }
}
