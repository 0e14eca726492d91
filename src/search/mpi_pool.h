/*
 * mpi_pool.h - the MPI worker pool of a search: rank 0 runs NSGA-II and the archive and hands
 * candidates to the other ranks, which train them and send back their error (and checkpoints).
 *
 * Launched with `mpirun -n N evoapproxnas search|resume ...`, every rank runs the command:
 * mpi_pool_init() joins MPI (only when an MPI launcher started the process; a plain start, or
 * a build without MPI (mpi_pool_none.c), is a pool of one rank where nothing changes). Rank 0
 * goes on with the search and calls mpi_pool_start() once its config is loaded; the others
 * call mpi_pool_worker(), which receives the config from rank 0, loads the data set and the
 * multipliers itself (shared file system), and trains what it is sent until rank 0 calls
 * mpi_pool_finish().
 *
 * Scheduling is pull: mpi_pool_train() gives a candidate to each idle worker as long as the
 * batch has some (cb.next), so a rank idles only when nothing is left. All MPI calls of rank 0
 * come from the thread that called mpi_pool_init (MPI_THREAD_FUNNELED): mpi_pool_train runs
 * on it while other OpenMP threads train on rank 0 itself. Waiting is a poll (MPI_Iprobe and
 * 1 ms sleeps), not a blocking receive, which spins a core in OpenMPI.
 */
#ifndef MPI_POOL_H
#define MPI_POOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eng_common.h"
#include "mpi_msg.h"

/* Whether the build has MPI. */
bool mpi_pool_compiled(void);

/* Joins MPI when an MPI launcher started the process (its environment says so), else does
 * nothing (one rank). ENG_ERR_UNSUPPORTED when the launcher started more than one rank of a
 * build without MPI (every rank would run the whole search). */
eng_status mpi_pool_init(int *argc, char ***argv);

int mpi_pool_rank(void);            /* 0 without MPI */
int mpi_pool_size(void);            /* 1 without MPI */
int mpi_pool_local_rank(void);      /* the rank on its node (OMPI_COMM_WORLD_LOCAL_RANK,
                                       MPI_LOCALRANKID or SLURM_LOCALID), 0 without MPI */
const char *mpi_pool_host(void);    /* this rank's host name */

/* Rank 0: sends the config to every worker and waits until each has loaded it. A worker's
 * failure is returned with its message ("rank R on HOST: ..."; a file it cannot read is
 * ENG_ERR_NOT_FOUND). Nothing to do with one rank or once it succeeded. */
eng_status mpi_pool_start(const mpi_msg_init *init);

/* What mpi_pool_train asks of its caller. next and done may run concurrently with the
 * caller's own trainings on other threads; checkpoint and done are called in the order the
 * messages arrive. */
typedef struct mpi_pool_job {
    int index;
    uint64_t hash, seed;
    int epochs;
    const nas_arch *arch;       /* the network (borrowed until the job is sent) */
    void *resume;               /* malloc'ed checkpoint to continue, or NULL (freed by the pool) */
    size_t resume_size;
} mpi_pool_job;

typedef struct mpi_pool_cb {
    bool (*next)(void *user, mpi_pool_job *job);      /* claims a candidate; false: none left */
    eng_status (*checkpoint)(void *user, int index, const void *data, size_t size);
    void (*done)(void *user, int index, eng_status st, const char *msg, double error,
                 double train_s);
    void *user;
} mpi_pool_cb;

typedef struct mpi_pool_stats {
    int workers;                /* worker ranks */
    double wall_s;              /* the call's duration */
    double busy_s;              /* summed over the workers: from a job's send to its result */
} mpi_pool_stats;

/* Rank 0: trains the batch's candidates on the workers until cb->next has none left and
 * every worker has answered. When *stop becomes non-zero it stops handing out candidates,
 * tells the busy workers to stop (they checkpoint and answer ENG_ERR_INTERRUPTED) and waits
 * for them for 60% of mpirun's odls_base_sigkill_timeout (default 1 s: the time mpirun leaves
 * between its SIGTERM and SIGKILL); a worker that did not answer by then (dead) makes
 * mpi_pool_finish abort, and its candidate stays unanswered (the call returns
 * ENG_ERR_INTERRUPTED when a message was left half-received). A checkpoint callback's failure
 * is returned after the others answered. Returns at once (stats->workers 0) with one rank or
 * before mpi_pool_start succeeded: the caller trains everything itself. */
eng_status mpi_pool_train(const mpi_pool_cb *cb, volatile sig_atomic_t *stop,
                          mpi_pool_stats *stats);

/* ---- Asynchronous use (rank 0): one candidate at a time to an idle worker, results polled.
 * Used instead of mpi_pool_train, from the thread that joined MPI. */

/* The worker ranks that train (0 with one rank or before mpi_pool_start succeeded). */
int mpi_pool_workers(void);

/* Workers with a job sent and not answered. */
int mpi_pool_busy(void);

/* Sends the job to an idle worker (job->resume is freed). ENG_ERR_ARG when none is idle; a
 * send failure is returned and makes mpi_pool_finish abort. */
eng_status mpi_pool_submit(const mpi_pool_job *job);

/* Handles one waiting message of a busy worker if there is one (*got): a checkpoint goes to
 * cb->checkpoint (its failure is returned), a result to cb->done (the worker is idle again;
 * *busy_s, if given, grows by the time since the job was sent). Once *stop is non-zero it
 * tells the busy workers to stop (they checkpoint and answer ENG_ERR_INTERRUPTED) and, when
 * one has not answered after the grace time of mpi_pool_train, returns ENG_ERR_INTERRUPTED
 * and makes mpi_pool_finish abort. Returns at once when no worker is busy. */
eng_status mpi_pool_poll(const mpi_pool_cb *cb, volatile sig_atomic_t *stop, bool *got,
                         double *busy_s);

/* Worker ranks: the worker loop (see above) with `threads` OpenMP threads per candidate.
 * Returns the exit code of the rank: 0, or 2 when it could not load the config's files. */
int mpi_pool_worker(int threads, volatile sig_atomic_t *stop);

/* Ends the pool: rank 0 tells the workers to leave and finalizes MPI, or, when a worker did
 * not answer a stop in time (dead or hung), aborts the MPI job with exit_code. Workers
 * finalize. Nothing to do with one rank. */
void mpi_pool_finish(int exit_code);

#endif /* MPI_POOL_H */
