/*
 * search_eval.c - batch evaluation shared by the search strategies: reuse of archived
 * results, measuring, objectives, live progress; the training itself is in
 * search_eval_train.c, the asynchronous slots in search_eval_async.c.
 */
#include "search_eval.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "archive_checkpoint.h"
#include "ms_controller.h"
#include "mpi_pool.h"
#include "search_eval_internal.h"

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
void search_eval_progress_line(search_eval *ev)
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

void search_eval_progress_candidate(search_eval *ev, const db_evaluation *e, const char *how)
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
        search_eval_progress_line(ev);
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

void search_eval_free(search_eval *ev)
{
    if (!ev) return;
    search_eval_async_free(ev);
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
            search_eval_progress_candidate(ev, &it->e, it->reused ? "reused" : "cached");
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
    if (st == ENG_OK) search_eval_train_jobs(ev, jobs, n_jobs, gen, &k);
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
 * The archive to one thread
 * ---------------------------------------------------------------------------------------- */

eng_status search_eval_locked(search_eval *ev, eng_status (*fn)(void *user), void *user)
{
    (void)ev;
    eng_status st;
#pragma omp critical(search_db)
    st = fn(user);
    return st;
}
