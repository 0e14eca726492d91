/* mpi_pool.c - the MPI worker pool of a search (mpi_pool.h): rank 0's dispatcher, the worker loop. */
#include "mpi_pool.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "search_env.h"

static struct {
    bool active;                /* MPI initialized here */
    int rank, size, local_rank;
    char host[256];
    bool unresponsive;          /* rank 0: a worker did not answer a stop */
    bool started;               /* rank 0: the workers have the config */
} pool = {.size = 1};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(void)
{
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
}

bool mpi_pool_compiled(void) { return true; }
int mpi_pool_rank(void) { return pool.rank; }
int mpi_pool_size(void) { return pool.size; }
int mpi_pool_local_rank(void) { return pool.local_rank; }

const char *mpi_pool_host(void)
{
    if (!pool.host[0] && gethostname(pool.host, sizeof pool.host - 1) != 0)
        snprintf(pool.host, sizeof pool.host, "?");
    return pool.host;
}

eng_status mpi_pool_init(int *argc, char ***argv)
{
    /* only under a launcher: a plain start stays one process without MPI's start-up */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        return ENG_OK;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return eng_error(ENG_ERR_INTERNAL, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return eng_error(ENG_ERR_UNSUPPORTED, "the MPI library does not allow threads "
                         "(MPI_THREAD_FUNNELED)");
    }
    pool.active = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &pool.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &pool.size);
    const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!lr) lr = getenv("MPI_LOCALRANKID");   /* MPICH */
    if (!lr) lr = getenv("SLURM_LOCALID");     /* srun */
    pool.local_rank = lr ? atoi(lr) : 0;
    return ENG_OK;
}

/* Sends buffer b with tag to rank `to`. */
static eng_status send_to(int to, int tag, const mpi_buf *b)
{
    if (b->size > INT_MAX)
        return eng_error(ENG_ERR_ARG, "MPI: a %zu-byte message for rank %d is over MPI's 2 GB "
                         "limit", b->size, to);
    if (MPI_Send(b->size ? b->data : (void *)"", (int)b->size, MPI_BYTE, to, tag,
                 MPI_COMM_WORLD) != MPI_SUCCESS)
        return eng_error(ENG_ERR_IO, "MPI: sending to rank %d failed", to);
    return ENG_OK;
}

/* Rank 0's stop flag while it trains (NULL otherwise) and when it was first seen set. */
static volatile sig_atomic_t *train_stop;
static double stop_seen;

/* Whether rank 0 should stop waiting for workers: a stop came more than the grace time ago.
 * mpirun, once a rank died or it was interrupted, sends SIGTERM and odls_base_sigkill_timeout
 * seconds (default 1) later SIGKILL: rank 0 waits for the workers' last checkpoints for at
 * most 60% of that, keeping the rest to mark the run interrupted. */
static bool give_up(void)
{
    if (!train_stop || !*train_stop) return false;
    double now = now_s();
    if (stop_seen == 0) stop_seen = now;
    const char *t = getenv("OMPI_MCA_odls_base_sigkill_timeout");
    double grace = 0.6 * (t && atof(t) > 0 ? atof(t) : 1.0);
    return now - stop_seen > grace;
}

/* Receives a waiting message from `from` (MPI_ANY_SOURCE) with `tag` (MPI_ANY_TAG) into *b
 * if there is one (*got). The receive is polled: a sender that dies in the middle of a large
 * message leaves it unfinished, and rank 0 gives up on it after a stop (ENG_ERR_INTERRUPTED). */
static eng_status try_recv(int from, int tag, bool *got, int *src, int *got_tag, mpi_buf *b)
{
    int flag = 0, n = 0;
    MPI_Status s;
    *got = false;
    if (MPI_Iprobe(from, tag, MPI_COMM_WORLD, &flag, &s) != MPI_SUCCESS)
        return eng_error(ENG_ERR_IO, "MPI: probing for messages failed");
    if (!flag) return ENG_OK;
    MPI_Get_count(&s, MPI_BYTE, &n);
    b->size = 0;
    if ((size_t)n > b->cap) {
        unsigned char *d = realloc(b->data, (size_t)n);
        if (!d) return eng_error(ENG_ERR_NOMEM, "out of memory for a %d-byte message", n);
        b->data = d, b->cap = (size_t)n;
    }
    MPI_Request req;
    if (MPI_Irecv(b->data, n, MPI_BYTE, s.MPI_SOURCE, s.MPI_TAG, MPI_COMM_WORLD, &req) !=
        MPI_SUCCESS)
        return eng_error(ENG_ERR_IO, "MPI: receiving from rank %d failed", s.MPI_SOURCE);
    for (int done = 0;;) {
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return eng_error(ENG_ERR_IO, "MPI: receiving from rank %d failed", s.MPI_SOURCE);
        if (done) break;
        if (give_up())
            return eng_error(ENG_ERR_INTERRUPTED, "MPI: rank %d did not finish a message",
                             s.MPI_SOURCE);
        sleep_ms();
    }
    b->size = (size_t)n;
    *got = true, *src = s.MPI_SOURCE, *got_tag = s.MPI_TAG;
    return ENG_OK;
}

/* Waits (polling) for the next message from `from`. */
static eng_status wait_recv(int from, int *src, int *tag, mpi_buf *b)
{
    for (;;) {
        bool got;
        ENG_TRY(try_recv(from, MPI_ANY_TAG, &got, src, tag, b));
        if (got) return ENG_OK;
        sleep_ms();
    }
}

/* ------------------------------------------------------------------------------------------
 * Rank 0
 * ---------------------------------------------------------------------------------------- */

eng_status mpi_pool_start(const mpi_msg_init *init)
{
    if (pool.size < 2 || pool.started) return ENG_OK;
    mpi_buf b = {0};
    eng_status st = mpi_msg_encode_init(&b, init);
    for (int w = 1; w < pool.size && st == ENG_OK; w++) st = send_to(w, MPI_MSG_INIT, &b);
    /* every worker answers; the first failure (by rank) is reported */
    eng_status first = ENG_OK;
    char msg[2048] = "";
    for (int n = 1; n < pool.size && st == ENG_OK; n++) {
        int src, tag;
        st = wait_recv(MPI_ANY_SOURCE, &src, &tag, &b);
        if (st != ENG_OK) break;
        mpi_msg_ready r;
        char *owned = NULL;
        if (tag != MPI_MSG_READY) {
            st = eng_error(ENG_ERR_INTERNAL, "MPI: rank %d sent message %d at start", src, tag);
            break;
        }
        st = mpi_msg_decode_ready(b.data, b.size, &r, &owned);
        if (st == ENG_OK && r.status != ENG_OK && first == ENG_OK) {
            first = (eng_status)r.status;
            snprintf(msg, sizeof msg, "%s", r.message);
        }
        free(owned);
    }
    mpi_buf_free(&b);
    if (st != ENG_OK) return st;
    if (first != ENG_OK) return eng_error(first, "%s", msg);
    pool.started = true;
    return ENG_OK;
}

eng_status mpi_pool_train(const mpi_pool_cb *cb, volatile sig_atomic_t *stop,
                          mpi_pool_stats *stats)
{
    *stats = (mpi_pool_stats){.workers = pool.started ? pool.size - 1 : 0};
    if (!stats->workers) return ENG_OK;   /* one rank, or workers without the config */
    int n_busy = 0;
    int *busy = malloc(sizeof(int) * (size_t)pool.size);
    double *t_sent = malloc(sizeof(double) * (size_t)pool.size);
    mpi_buf b = {0}, in = {0};
    eng_status st = busy && t_sent ? ENG_OK : eng_error(ENG_ERR_NOMEM, "out of memory");
    eng_status cb_st = ENG_OK;
    char cb_msg[1024] = "";
    for (int w = 0; busy && w < pool.size; w++) busy[w] = -1;
    double t0 = now_s();
    train_stop = stop, stop_seen = 0;
    bool more = true, stopping = false;
    while (st == ENG_OK) {
        bool moved = false;
        if (!stopping && stop && *stop) {
            stopping = true, more = false;
            mpi_buf none = {0};
            for (int w = 1; w < pool.size && st == ENG_OK; w++)
                if (busy[w] >= 0) st = send_to(w, MPI_MSG_STOP, &none);
        }
        for (int w = 1; w < pool.size && more && st == ENG_OK; w++) {
            if (busy[w] >= 0) continue;
            mpi_pool_job job = {0};
            if (!cb->next(cb->user, &job)) {
                more = false;
                break;
            }
            mpi_msg_job m = {.index = job.index, .hash = job.hash, .seed = job.seed,
                             .epochs = job.epochs, .arch = *job.arch,
                             .resume = job.resume, .resume_size = job.resume_size};
            b.size = 0;
            st = mpi_msg_encode_job(&b, &m);
            free(job.resume);
            if (st == ENG_OK) st = send_to(w, MPI_MSG_JOB, &b);
            busy[w] = job.index, t_sent[w] = now_s();
            n_busy++;
            moved = true;
        }
        if (st != ENG_OK) break;
        bool got;
        int src = 0, tag = 0;
        st = try_recv(MPI_ANY_SOURCE, MPI_ANY_TAG, &got, &src, &tag, &in);
        if (st == ENG_OK && got) {
            char *owned = NULL;
            moved = true;
            if (tag == MPI_MSG_CKPT) {
                mpi_msg_ckpt m;
                st = mpi_msg_decode_ckpt(in.data, in.size, &m, &owned);
                if (st == ENG_OK && cb_st == ENG_OK) {
                    cb_st = cb->checkpoint(cb->user, m.index, m.data, (size_t)m.size);
                    if (cb_st != ENG_OK) snprintf(cb_msg, sizeof cb_msg, "%s", eng_last_error());
                }
            } else if (tag == MPI_MSG_RESULT) {
                mpi_msg_result m;
                st = mpi_msg_decode_result(in.data, in.size, &m, &owned);
                if (st == ENG_OK) {
                    cb->done(cb->user, m.index, (eng_status)m.status, m.message, m.error,
                             m.train_s);
                    stats->busy_s += now_s() - t_sent[src];
                    busy[src] = -1;
                    n_busy--;
                }
            } else {
                st = eng_error(ENG_ERR_INTERNAL, "MPI: rank %d sent message %d", src, tag);
            }
            free(owned);
        }
        if (st != ENG_OK) break;
        if (!more && n_busy == 0) break;
        if (stopping && give_up()) {
            pool.unresponsive = true;
            break;
        }
        if (!moved) sleep_ms();
    }
    train_stop = NULL;
    stats->wall_s = now_s() - t0;
    /* time a worker spent on a candidate that did not answer counts as busy */
    for (int w = 1; busy && w < pool.size; w++)
        if (busy[w] >= 0) stats->busy_s += now_s() - t_sent[w];
    free(busy);
    free(t_sent);
    mpi_buf_free(&b);
    mpi_buf_free(&in);
    if (st != ENG_OK) pool.unresponsive = true;
    if (st == ENG_OK && cb_st != ENG_OK) st = eng_error(cb_st, "%s", cb_msg);
    return st;
}

/* Rank 0's asynchronous state: the job index each worker trains (-1: idle), since when, and
 * whether the workers were told to stop. */
static struct {
    int *job;
    double *t_sent;
    int n_busy;
    bool stopping;
    mpi_buf out, in;
} async;

int mpi_pool_workers(void) { return pool.started ? pool.size - 1 : 0; }

int mpi_pool_busy(void) { return async.n_busy; }

eng_status mpi_pool_submit(const mpi_pool_job *job)
{
    eng_status st = ENG_OK;
    if (!async.job) {
        async.job = malloc(sizeof(int) * (size_t)pool.size);
        async.t_sent = malloc(sizeof(double) * (size_t)pool.size);
        if (!async.job || !async.t_sent) st = eng_error(ENG_ERR_NOMEM, "out of memory");
        for (int w = 0; st == ENG_OK && w < pool.size; w++) async.job[w] = -1;
    }
    int w = 1;
    while (st == ENG_OK && w < pool.size && async.job[w] >= 0) w++;
    if (st == ENG_OK && (w >= pool.size || !pool.started))
        st = eng_error(ENG_ERR_ARG, "MPI: no idle worker for candidate %d", job->index);
    if (st == ENG_OK) {
        mpi_msg_job m = {.index = job->index, .hash = job->hash, .seed = job->seed,
                         .epochs = job->epochs, .arch = *job->arch, .resume = job->resume,
                         .resume_size = job->resume_size};
        async.out.size = 0;
        st = mpi_msg_encode_job(&async.out, &m);
        if (st == ENG_OK) st = send_to(w, MPI_MSG_JOB, &async.out);
    }
    free(job->resume);
    if (st != ENG_OK) {
        pool.unresponsive = true;
        return st;
    }
    async.job[w] = job->index, async.t_sent[w] = now_s();
    async.n_busy++;
    async.stopping = false;
    return ENG_OK;
}

eng_status mpi_pool_poll(const mpi_pool_cb *cb, volatile sig_atomic_t *stop, bool *got,
                         double *busy_s)
{
    *got = false;
    if (!async.n_busy) return ENG_OK;
    eng_status st = ENG_OK;
    train_stop = stop;
    if (!async.stopping && stop && *stop) {
        async.stopping = true, stop_seen = 0;
        mpi_buf none = {0};
        for (int w = 1; w < pool.size && st == ENG_OK; w++)
            if (async.job[w] >= 0) st = send_to(w, MPI_MSG_STOP, &none);
    }
    int src = 0, tag = 0;
    if (st == ENG_OK) st = try_recv(MPI_ANY_SOURCE, MPI_ANY_TAG, got, &src, &tag, &async.in);
    if (st == ENG_OK && *got) {
        char *owned = NULL;
        if (tag == MPI_MSG_CKPT) {
            mpi_msg_ckpt m;
            st = mpi_msg_decode_ckpt(async.in.data, async.in.size, &m, &owned);
            if (st == ENG_OK) st = cb->checkpoint(cb->user, m.index, m.data, (size_t)m.size);
        } else if (tag == MPI_MSG_RESULT) {
            mpi_msg_result m;
            st = mpi_msg_decode_result(async.in.data, async.in.size, &m, &owned);
            if (st == ENG_OK) {
                if (busy_s) *busy_s += now_s() - async.t_sent[src];
                async.job[src] = -1;
                async.n_busy--;
                cb->done(cb->user, m.index, (eng_status)m.status, m.message, m.error,
                         m.train_s);
            }
        } else {
            st = eng_error(ENG_ERR_INTERNAL, "MPI: rank %d sent message %d", src, tag);
        }
        free(owned);
    }
    if (st == ENG_OK && async.stopping && !*got && give_up()) {
        pool.unresponsive = true;
        st = eng_error(ENG_ERR_INTERRUPTED, "MPI: %d worker(s) did not answer the stop",
                       async.n_busy);
    }
    train_stop = NULL;
    if (st != ENG_OK && st != ENG_ERR_INTERRUPTED) pool.unresponsive = true;
    return st;
}

void mpi_pool_finish(int exit_code)
{
    if (!pool.active) return;
    pool.active = false;
    free(async.job);
    free(async.t_sent);
    mpi_buf_free(&async.out);
    mpi_buf_free(&async.in);
    if (pool.rank == 0 && pool.size > 1) {
        if (pool.unresponsive) MPI_Abort(MPI_COMM_WORLD, exit_code ? exit_code : 1);
        mpi_buf none = {0};
        for (int w = 1; w < pool.size; w++) send_to(w, MPI_MSG_LEAVE, &none);
    }
    MPI_Finalize();
}

/* ------------------------------------------------------------------------------------------
 * Workers
 * ---------------------------------------------------------------------------------------- */

/* The training hooks' state on a worker. */
typedef struct worker {
    int index;                  /* the candidate in training */
    volatile sig_atomic_t *signal_stop;
    volatile sig_atomic_t stop; /* rank 0 said stop, or a signal came */
    mpi_buf out;
} worker;

static eng_status on_checkpoint(void *user, const void *data, size_t size,
                                const eng_train_pos *pos)
{
    (void)pos;
    worker *w = user;
    mpi_msg_ckpt m = {.index = w->index, .data = data, .size = size};
    w->out.size = 0;
    ENG_TRY(mpi_msg_encode_ckpt(&w->out, &m));
    return send_to(0, MPI_MSG_CKPT, &w->out);
}

static void on_progress(void *user, search_train_event ev, const eng_train_pos *pos)
{
    (void)ev, (void)pos;
    worker *w = user;
    if (w->stop) return;
    if (w->signal_stop && *w->signal_stop) w->stop = 1;
    int flag = 0;
    MPI_Status s;
    if (MPI_Iprobe(0, MPI_MSG_STOP, MPI_COMM_WORLD, &flag, &s) == MPI_SUCCESS && flag) {
        MPI_Recv(NULL, 0, MPI_BYTE, 0, MPI_MSG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        w->stop = 1;
    }
}

/* Loads the config rank 0 sent, with its multiplier tables and, when sent, its data sets
 * (else it reads the data set itself); the message names this rank's host. */
static eng_status worker_setup(const mpi_buf *b, search_env *env)
{
    mpi_msg_init m = {0};
    char *owned = NULL;
    eng_status st = mpi_msg_decode_init(b->data, b->size, &m, &owned);
    if (st == ENG_OK) {
        cfg_paths paths = {.dataset = m.dataset[0] ? m.dataset : NULL,
                           .accelerator = m.accelerator[0] ? m.accelerator : NULL,
                           .unchecked = true};
        cfg_search cfg;
        st = cfg_parse_with(m.config_text, m.config_path, &paths, &cfg);
        if (st == ENG_OK && cfg.space.n_muls != m.n_muls)
            st = eng_error(ENG_ERR_INTERNAL, "%d multipliers sent for the %d of the config",
                           m.n_muls, cfg.space.n_muls);
        if (st == ENG_OK)
            st = search_env_open_given(env, &cfg, m.muls, m.has_data ? &m.train : NULL,
                                       m.has_data ? &m.val : NULL);
        else cfg_free(&cfg);
        for (int i = 0; i < m.n_muls; i++) eng_mul_free(m.muls[i]);
        eng_dataset_free(&m.train);
        eng_dataset_free(&m.val);
    }
    free(owned);
    if (st == ENG_ERR_IO) st = ENG_ERR_NOT_FOUND;   /* an unreadable file is bad input */
    if (st != ENG_OK)
        st = eng_error_prefix(st, "rank %d on %s", pool.rank, mpi_pool_host());
    return st;
}

/* Trains the candidate of a job message and answers with its result. */
static eng_status worker_job(const search_env *env, const mpi_buf *b, worker *w)
{
    mpi_msg_job m;
    char *owned = NULL;
    ENG_TRY(mpi_msg_decode_job(b->data, b->size, &m, &owned));
    double t0 = now_s(), err = 1.0;
    eng_status st = ENG_OK;
    if (nas_arch_hash(&m.arch) != m.hash)
        st = eng_error(ENG_ERR_INTERNAL, "the network sent has hash %016llx, not %016llx",
                       (unsigned long long)nas_arch_hash(&m.arch), (unsigned long long)m.hash);
    w->index = m.index;
    search_train_hooks hooks = {.resume = m.resume, .resume_size = (size_t)m.resume_size,
                                .checkpoint_s = env->cfg.training.checkpoint_minutes * 60.0,
                                .checkpoint = on_checkpoint, .progress = on_progress,
                                .user = w};
    if (st == ENG_OK)
        st = search_env_train(env, &m.arch, m.seed, m.epochs, &env->train, &env->val, &w->stop,
                              &hooks, &err);
    nas_arch_free(&m.arch);
    char msg[1024] = "";
    if (st != ENG_OK && st != ENG_ERR_INTERRUPTED)
        snprintf(msg, sizeof msg, "rank %d on %s: %s", pool.rank, mpi_pool_host(),
                 eng_last_error());
    mpi_msg_result r = {.index = m.index, .status = st, .error = err,
                        .train_s = now_s() - t0, .message = msg};
    free(owned);
    w->out.size = 0;
    ENG_TRY(mpi_msg_encode_result(&w->out, &r));
    return send_to(0, MPI_MSG_RESULT, &w->out);
}

int mpi_pool_worker(int threads, volatile sig_atomic_t *stop)
{
    if (threads <= 0) threads = eng_cpu_count();
    eng_set_threads(threads);
    mpi_buf b = {0};
    search_env env;
    memset(&env, 0, sizeof env);
    worker w = {.signal_stop = stop};
    bool ready = false;
    int code = 0;
    for (;;) {
        int src, tag;
        eng_status st = wait_recv(0, &src, &tag, &b);
        if (st != ENG_OK) {
            fprintf(stderr, "evoapproxnas: rank %d on %s: %s\n", pool.rank, mpi_pool_host(),
                    eng_last_error());
            code = 1;
            break;
        }
        if (tag == MPI_MSG_LEAVE) break;
        if (tag == MPI_MSG_STOP) continue;  /* the stop of a training that already ended */
        if (tag == MPI_MSG_INIT) {
            st = worker_setup(&b, &env);
            mpi_msg_ready r = {.status = st, .message = st == ENG_OK ? "" : eng_last_error()};
            ready = st == ENG_OK;
            if (!ready) code = 2;
            mpi_buf out = {0};
            if (mpi_msg_encode_ready(&out, &r) == ENG_OK) send_to(0, MPI_MSG_READY, &out);
            mpi_buf_free(&out);
            continue;
        }
        if (tag == MPI_MSG_JOB && ready) {
            w.stop = 0;
            st = worker_job(&env, &b, &w);
            if (st != ENG_OK) {
                fprintf(stderr, "evoapproxnas: rank %d on %s: %s\n", pool.rank,
                        mpi_pool_host(), eng_last_error());
                code = 1;
                break;
            }
        }
    }
    search_env_close(&env);
    mpi_buf_free(&b);
    mpi_buf_free(&w.out);
    mpi_pool_finish(code);
    return code;
}
