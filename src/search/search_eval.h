/*
 * search_eval.h - evaluates batches of decoded networks for a search strategy: archived
 * results reused, the rest measured and trained across the worker threads (checkpointed,
 * interruptible, shown live), each result stored as soon as it finishes.
 *
 * A strategy (NSGA-II in search.c, or any other) proposes networks, decodes them to nas_arch
 * and hands them over in batches; what it keeps is the breeding and the commit of its own
 * state. The evaluator owns what every strategy shares:
 *
 *   - the set of committed hashes (a network archived by a committed batch is never trained
 *     again: "reused"), and the archive's cache (an evaluation stored by a batch that was
 *     interrupted before its commit: "cached");
 *   - measuring (energy, params, MACs) and training with the seed mix(run seed ^ hash), so that
 *     an evaluation depends on the network and the run's seed only, never on which worker,
 *     batch or strategy asked for it;
 *   - checkpoints of every candidate in training (resume continues them), the stop flag, the
 *     live line / log lines and the ETA.
 *
 *     search_eval *ev;
 *     ENG_TRY(search_eval_create(&env, db, opts, threads, &ev));
 *     ENG_TRY(search_eval_load_committed(ev));              // resume: what is archived
 *     search_eval_item items[n] = {{.arch = &archs[0]}, ...};
 *     eng_status st = search_eval_batch(ev, gen, items, n, &counts);
 *     ... one transaction: db_evaluation_insert(items[i].e) for the first of each hash, the
 *         strategy's own rows, db_checkpoint_clear, commit ...
 *     for (i ...) search_eval_mark_committed(ev, items[i].hash);
 *     search_eval_free(ev);
 */
#ifndef SEARCH_EVAL_H
#define SEARCH_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "archive.h"
#include "config.h"
#include "nas_genome.h"
#include "search.h"
#include "search_env.h"

typedef struct search_eval search_eval;

/* One network of a batch. */
typedef struct search_eval_item {
    const nas_arch *arch;       /* in: the decoded network (borrowed) */
    uint64_t hash;              /* out: nas_arch_hash(arch) */
    bool reused;                /* out: answered by a committed evaluation or by an earlier
                                   item of the same batch */
    bool first;                 /* out: the first item of the batch with this hash */
    db_evaluation e;            /* out: its evaluation (objectives in config order) */
} search_eval_item;

typedef struct search_eval_counts {
    int evaluated;              /* distinct networks new to the committed archive (trained
                                   now, or cached by an interrupted run) */
    int reused;                 /* items with reused set */
    double slot_s, busy_s;      /* under MPI (mpi_pool.h): the training slots' time during
                                   the batch's training (rank 0's trainers and the worker
                                   ranks) and the part of it they trained; 0 otherwise */
} search_eval_counts;

/* Under mpirun (mpi_pool.h): sends the run's config, multiplier tables and, with
 * opts->mpi_send_data, its images to the other ranks and waits until they have loaded them
 * (a worker's failure names its host and the file). Once per process; nothing to do on one
 * rank. search_eval_create calls it; a strategy calls it earlier to fail before it creates
 * the archive. */
eng_status search_eval_start_ranks(const search_env *env, const search_opts *opts);

/* The evaluator of one run: env and db are borrowed (they outlive it); opts->stop,
 * opts->progress and opts->out are used as search.h says; threads >= 1 worker threads.
 * Starts the MPI ranks (search_eval_start_ranks) if that was not done. */
eng_status search_eval_create(search_env *env, db_archive *db, const search_opts *opts,
                              int threads, search_eval **out);

/* NULL-safe. */
void search_eval_free(search_eval *ev);

/* Adds the archive's committed hashes (resume). */
eng_status search_eval_load_committed(search_eval *ev);

/* Whether a network with this hash was committed (or marked so). */
bool search_eval_is_committed(const search_eval *ev, uint64_t hash);

/* Marks a hash committed, after the strategy's transaction that archived it. */
eng_status search_eval_mark_committed(search_eval *ev, uint64_t hash);

/* For the live line and the ETA: the number of batches (generations) the run makes in all,
 * and the candidates it still evaluates (items, reused ones included). */
void search_eval_plan(search_eval *ev, int batches_total, int candidates_left);

/* Evaluates the batch: fills every item's hash, reused, first and e (e.generation = gen for
 * new ones). Training runs across the worker threads (and, under mpirun, the other MPI ranks:
 * mpi_pool.h); a finished training is stored at once
 * (and replaces its checkpoint) as a cache for resume. ENG_ERR_INTERRUPTED when the stop flag
 * ended it (finished evaluations stored, the others checkpointed); other errors have a
 * message. counts may be NULL. */
eng_status search_eval_batch(search_eval *ev, int gen, search_eval_item *items, int n,
                             search_eval_counts *counts);

/* ---- Asynchronous evaluation: one candidate at a time to a free worker, results in the
 * order they arrive. The workers are the MPI worker ranks (mpi_pool.h) and the local
 * trainers: one per thread when candidates train in parallel (parallel: candidates, or auto
 * with threads > 1), else one with all threads; with one local trainer and no MPI ranks the
 * training runs in search_eval_wait on the calling thread. Archive reuse, the cache,
 * checkpoints and progress are those of search_eval_batch. Not to be mixed with
 * search_eval_batch on one evaluator; submit and wait from one thread (the one that joined
 * MPI).
 *
 *     int workers, out;
 *     ENG_TRY(search_eval_capacity(ev, &workers, &out));
 *     while (out < workers) { search_eval_submit(ev, gen, tag, &arch); out++; }
 *     search_eval_item it; int tag;
 *     ENG_TRY(search_eval_wait(ev, &tag, &it, NULL));     // the first to arrive
 *     ... commit it inside search_eval_locked, then search_eval_mark_committed ...
 */

/* Starts the workers on first use; *workers: how many candidates may be out at once,
 * *in_flight: how many are (submitted, not yet returned by search_eval_wait). */
eng_status search_eval_capacity(search_eval *ev, int *workers, int *in_flight);

/* Submits one network (arch borrowed until search_eval_wait returns it) with the caller's
 * tag: answered at once when it is archived (reused or cached) or the same network is out
 * already (it follows that one: reused set, first not), else measured and handed to a free
 * worker. ENG_ERR_ARG when as many as the workers are out; on error nothing is out. */
eng_status search_eval_submit(search_eval *ev,
                              int gen,                // recorded as the evaluation's generation
                              int tag,                // returned with it by search_eval_wait
                              const nas_arch *arch);

/* Waits for the next candidate to arrive: *tag and *out (hash, reused, first, e as
 * search_eval_batch fills them). *idle_share (may be NULL): the workers' idle share since
 * the first submit. When the stop flag is set (or after search_eval_cancel) it waits until
 * every busy worker answered (checkpointed) and returns ENG_ERR_INTERRUPTED; a failed training returns its error; the
 * candidate is no longer out in both cases. ENG_ERR_ARG when none is out. */
eng_status search_eval_wait(search_eval *ev, int *tag, search_eval_item *out,
                            double *idle_share);

/* Stops the candidates out as the stop flag would (each checkpoints; search_eval_wait then
 * returns ENG_ERR_INTERRUPTED once every busy worker answered), without setting
 * opts->stop: for a strategy that ends after a failure instead of waiting for the other
 * trainings to finish. The evaluator takes no more candidates afterwards (search_eval_free
 * only). Nothing to do when it was not used asynchronously. */
void search_eval_cancel(search_eval *ev);

/* Runs fn(user) with the archive to itself (no worker writes a checkpoint or a result
 * meanwhile): a strategy's commit while candidates are out. Returns fn's status. */
eng_status search_eval_locked(search_eval *ev, eng_status (*fn)(void *user), void *user);

/* Objective values (config order) and constraint values g (<= 0 feasible; the config's
 * max_params, max_macs, max_error constraints in that order, as many as it sets). */
void search_eval_objectives(const cfg_search *cfg, const db_evaluation *e, double *f,
                            double *g);

/* Number of constraints the config sets (0-3). */
int search_eval_n_constraints(const cfg_search *cfg);

/* Total constraint violation (0 = feasible). */
double search_eval_violation(const cfg_search *cfg, const db_evaluation *e);

/* The energy objective the search minimizes (energy before mul_energy), -1 for neither. */
int search_eval_energy_objective(const cfg_search *cfg);

/* Progress output as opts->progress says: nothing, a flushed line, or the live line's text
 * (rewritten in place). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void search_say(const search_opts *opts, const char *fmt, ...);

#endif /* SEARCH_EVAL_H */
