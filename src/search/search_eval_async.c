/*
 * search_eval_async.c - the evaluator's asynchronous mode: one candidate at a time to a free
 * worker (local threads, the inline trainer or an MPI rank), results in the order they arrive.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive_checkpoint.h"
#include "mpi_pool.h"
#include "search_eval_internal.h"

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
    volatile sig_atomic_t halt; /* the local workers' stop flag: set by the waiting thread
                                   (from opts->stop, or search_eval_cancel) */
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
        search_eval_train_job(ev, &s->jb, s->gen, w->f, &a->halt);
        pthread_mutex_lock(&a->lock);
        a->busy_s += now_s() - t;
        async_arrive(a, w->slot);
        w->slot = -1;
        pthread_cond_broadcast(&a->done);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

void search_eval_async_free(search_eval *ev)
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
        search_eval_async_free(ev);
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
    if (st != ENG_OK) search_eval_async_free(ev);
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
    return search_eval_store_rank_checkpoint(ev, s->gen, s->item.e.hash, data, size);
}

static void async_rank_done(void *user, int index, eng_status st, const char *msg,
                            double error, double train_s)
{
    search_eval *ev = user;
    async_state *a = ev->as;
    search_eval_store_result(ev, &a->slots[index].jb, st, msg, error, train_s);
    pthread_mutex_lock(&a->lock);
    async_arrive(a, index);
    pthread_mutex_unlock(&a->lock);
}

/* A submit that failed after taking slot s: the slot is free again; returns st. */
static eng_status slot_give_up(async_state *a, async_slot *s, eng_status st)
{
    pthread_mutex_lock(&a->lock);
    s->where = ASYNC_FREE;
    a->in_flight--;
    pthread_mutex_unlock(&a->lock);
    return st;
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
        search_eval_progress_candidate(ev, &it->e, it->reused ? "reused" : "cached");
        pthread_mutex_lock(&a->lock);
        async_arrive(a, i);
        pthread_mutex_unlock(&a->lock);
        return ENG_OK;
    }
    st = search_env_measure(ev->env, arch, &it->e);
    if (st != ENG_OK) return slot_give_up(a, s, st);
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
    return st == ENG_OK ? ENG_OK : slot_give_up(a, s, st);
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
        if (stop && *stop) a->halt = 1;
        bool stopping = a->halt;
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
            search_eval_train_job(ev, &a->slots[inl].jb, a->slots[inl].gen, &ev->flights[0],
                                  stop);
            pthread_mutex_lock(&a->lock);
            a->busy_s += now_s() - t;
            async_arrive(a, inl);
            pthread_mutex_unlock(&a->lock);
            continue;
        }
        bool got = false;
        if (mpi_pool_busy() > 0) {
            double b = 0;
            st = mpi_pool_poll(&cb, &a->halt, &got, &b);
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

void search_eval_cancel(search_eval *ev)
{
    if (ev->as) ev->as->halt = 1;
}
