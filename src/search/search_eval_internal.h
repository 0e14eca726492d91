/*
 * search_eval_internal.h - what the three parts of the evaluator share (private to
 * search_eval.c, search_eval_train.c and search_eval_async.c): the evaluator's state, a
 * distinct network to train (job), the per-worker candidate in training (flight), progress
 * output and the training of one candidate.
 *
 *   search_eval.c        the batch evaluator: committed hashes, reuse and cache, measuring,
 *                        objectives, progress and ETA, search_eval_batch
 *   search_eval_train.c  training candidates across the workers: one candidate with its
 *                        checkpoints and progress hooks, local threads, the MPI pool
 *   search_eval_async.c  the asynchronous slots: search_eval_capacity/submit/wait
 *
 * Archive writes from several threads go through `#pragma omp critical(search_db)`, progress
 * state and output through `#pragma omp critical(search_progress)`.
 */
#ifndef SEARCH_EVAL_INTERNAL_H
#define SEARCH_EVAL_INTERNAL_H

#include <signal.h>
#include <time.h>

#include "search_eval.h"

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

static inline double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline uint64_t mix64(uint64_t x)
{
    return nas_rng_next(&x);
}

/* search_eval.c: the live line (a terminal), and one candidate done ("trained", "reused",
 * "cached"): counted, folded into the best figures and shown as progress says. Callers hold
 * critical(search_progress). */
void search_eval_progress_line(search_eval *ev);
void search_eval_progress_candidate(search_eval *ev, const db_evaluation *e, const char *how);

/* search_eval_train.c: trains one candidate on the calling worker (f: its flight slot),
 * continuing its checkpoint when there is one, until done or *stop (checkpointed), and stores
 * the result (search_eval_store_result); jb->done, or jb->st and jb->msg on failure. */
void search_eval_train_job(search_eval *ev, job *jb, int gen, flight *f,
                           volatile sig_atomic_t *stop);

/* Stores a candidate's training result (from this rank or another): its evaluation as a cache
 * for resume, in place of its checkpoint; on failure jb->st and jb->msg. */
void search_eval_store_result(search_eval *ev, job *jb, eng_status st, const char *msg,
                              double err, double train_s);

/* Stores a checkpoint that a worker rank sent for the candidate `hash` and, at an epoch's end,
 * counts the epoch's batches and logs it. */
eng_status search_eval_store_rank_checkpoint(search_eval *ev, int gen, const char *hash,
                                             const void *data, size_t size);

/* Trains the jobs that need it, across candidates or within each, as configured; under
 * mpirun also on the other ranks (k: their idle time). */
void search_eval_train_jobs(search_eval *ev, job *jobs, int n_jobs, int gen,
                            search_eval_counts *k);

/* search_eval_async.c: stops and frees the asynchronous workers and slots (nothing when the
 * evaluator was not used asynchronously). */
void search_eval_async_free(search_eval *ev);

#endif /* SEARCH_EVAL_INTERNAL_H */
