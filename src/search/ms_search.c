/*
 * ms_search.c - the Model Search strategy: controller proposals, the shared evaluator, one
 * archive transaction per batch, resume from the archived results.
 */
#include "ms_search.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive_checkpoint.h"
#include "evo_indicators.h"
#include "ms_controller.h"
#include "run_signal.h"
#include "search_eval.h"

#define MS_TEXT_MAX (NAS_TOWER_MAX_ENSEMBLE * 1024)

typedef struct ms_driver {
    search_env *env;
    db_archive *db;
    const search_opts *opts;
    const cfg_model_search *cfg;
    search_eval *ev;
    ms_controller ctl;
    ms_result *res;                         /* one per committed trial, in trial order */
    double (*f)[CFG_MAX_OBJECTIVES];        /* their objective values */
    int n_res;
    double hv_scale[CFG_MAX_OBJECTIVES];
} ms_driver;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void ms_tower_space(const cfg_search *c, nas_tower_space *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->n_library = c->model_search.n_blocks;
    memcpy(sp->library, c->model_search.blocks, sizeof sp->library);
    sp->min_blocks = c->model_search.min_blocks, sp->max_blocks = c->model_search.max_blocks;
    sp->stem_width = c->space.stem_width, sp->stem_stride = c->space.stem_stride;
    sp->n_muls = c->space.n_muls, sp->classes = c->space.classes;
    sp->in_channels = c->space.in_channels;
    sp->in_height = c->space.in_height, sp->in_width = c->space.in_width;
}

int ms_search_batches(const cfg_model_search *cfg)
{
    return (cfg->trials + cfg->batch - 1) / cfg->batch;
}

int ms_search_generations(const cfg_model_search *cfg)
{
    return ms_search_batches(cfg) + (cfg->ensemble > 0);
}

/* The controller's cost of a proposal: measured like an evaluation (energy model). */
static double measure_cost(void *ctx, const nas_arch *arch)
{
    ms_driver *d = ctx;
    db_evaluation e;
    if (search_env_measure(d->env, arch, &e) != ENG_OK) return -1;
    return ms_cost(d->cfg->budget_kind, e.mul_energy_pj, e.energy_pj, (long long)e.params,
                   (long long)e.macs);
}

/* Appends the result of trial d->n_res. */
static void add_result(ms_driver *d, const nas_tower *t, const db_evaluation *e, uint64_t hash)
{
    double g[3];
    ms_result *r = &d->res[d->n_res];
    *r = (ms_result){.tower = *t, .hash = hash, .error = e->error, .violation = e->violation};
    r->cost = ms_cost(d->cfg->budget_kind, e->mul_energy_pj, e->energy_pj, (long long)e->params,
                      (long long)e->macs);
    search_eval_objectives(&d->env->cfg, e, d->f[d->n_res], g);
    d->n_res++;
}

/* The hypervolume scale: the largest value of each non-error objective in batch 0. */
static void set_hv_scale(ms_driver *d)
{
    const cfg_search *c = &d->env->cfg;
    int n0 = d->n_res < d->cfg->batch ? d->n_res : d->cfg->batch;
    for (int k = 0; k < c->n_objectives; k++) {
        d->hv_scale[k] = 1.0;
        if (c->objectives[k] == CFG_OBJECTIVE_ERROR) continue;
        double mx = 0;
        for (int i = 0; i < n0; i++)
            if (isfinite(d->f[i][k]) && d->f[i][k] > mx) mx = d->f[i][k];
        d->hv_scale[k] = mx > 0 ? mx : 1.0;
    }
}

/* Marks in front[] the feasible non-dominated results (the first trial of each network).
 * Returns how many. */
static int archive_front(const ms_driver *d, bool *front)
{
    int m = d->env->cfg.n_objectives, n = 0;
    for (int i = 0; i < d->n_res; i++) {
        front[i] = d->res[i].violation <= 0;
        for (int j = 0; j < i && front[i]; j++) front[i] = d->res[j].hash != d->res[i].hash;
        for (int j = 0; j < d->n_res && front[i]; j++) {
            if (j == i || d->res[j].violation > 0) continue;
            bool le = true, lt = false;
            for (int k = 0; k < m; k++) {
                le &= d->f[j][k] <= d->f[i][k];
                lt |= d->f[j][k] < d->f[i][k];
            }
            if (le && lt) front[i] = false;
        }
        n += front[i];
    }
    return n;
}

static double front_hypervolume(const ms_driver *d, const bool *front)
{
    int m = d->env->cfg.n_objectives, n = 0;
    double *pts = malloc(sizeof(double) * (size_t)(d->n_res * m) + 1), ref[CFG_MAX_OBJECTIVES];
    double hv;
    if (!pts) return NAN;
    for (int i = 0; i < d->n_res; i++) {
        if (!front[i]) continue;
        for (int k = 0; k < m; k++) pts[n * m + k] = d->f[i][k] / d->hv_scale[k];
        n++;
    }
    for (int k = 0; k < m; k++) ref[k] = 1.1;
    if (evo_hypervolume(pts, n, m, ref, &hv) != EVO_OK) hv = NAN;
    free(pts);
    return hv;
}

/* One transaction: the batch's evaluations and individuals, the front as the generation's
 * population, the generation row. */
static eng_status commit_batch(ms_driver *d,
                               int batch,                       // its generation
                               int first,                       // id of its first individual
                               char *const *texts,              // their genome texts
                               const int64_t (*parents)[2],     // their parents (-1: none)
                               const search_eval_item *items, int n,
                               const search_eval_counts *counts, double wall_s,
                               const char *what)                // for the log line
{
    const cfg_search *c = &d->env->cfg;
    bool *front = calloc((size_t)d->n_res, sizeof *front);
    if (!front) return eng_error(ENG_ERR_NOMEM, "out of memory");
    char state[128];
    snprintf(state, sizeof state, "model_search %s trials %d of %d%s",
             cfg_ms_algorithm_name(d->cfg->algorithm), first < d->cfg->trials ? first + n
             : d->cfg->trials, d->cfg->trials, first < d->cfg->trials ? "" : ", ensembles");
    int ke = search_eval_energy_objective(c);
    db_generation row = {.generation = batch, .evaluated = counts->evaluated,
                         .reused = counts->reused, .front_size = archive_front(d, front),
                         .best_error = INFINITY, .min_energy_pj = INFINITY, .wall_s = wall_s,
                         .state = (const unsigned char *)state, .state_size = strlen(state)};
    row.hypervolume = front_hypervolume(d, front);
    eng_status st = db_begin(d->db);
    for (int i = 0; i < n && st == ENG_OK; i++)
        if (items[i].first) st = db_evaluation_insert(d->db, &items[i].e);
    for (int i = 0; i < n && st == ENG_OK; i++) {
        db_individual ind = {.id = (uint64_t)(first + i), .generation = batch,
                             .genome = texts[i], .parent = {parents[i][0], parents[i][1]},
                             .reused = items[i].reused};
        snprintf(ind.hash, sizeof ind.hash, "%016llx", (unsigned long long)items[i].hash);
        st = db_individual_insert(d->db, &ind);
    }
    for (int i = 0; i < d->n_res && st == ENG_OK; i++) {
        if (!front[i]) continue;
        st = db_population_insert(d->db, batch, (uint64_t)i, 0, 0.0);
        for (int k = 0; k < c->n_objectives; k++) {
            if (c->objectives[k] == CFG_OBJECTIVE_ERROR && d->f[i][k] < row.best_error)
                row.best_error = d->f[i][k];
            if (k == ke && d->f[i][k] < row.min_energy_pj) row.min_energy_pj = d->f[i][k];
        }
    }
    if (st == ENG_OK) st = db_generation_insert(d->db, &row);
    if (st == ENG_OK) st = db_checkpoint_clear(d->db);
    if (st == ENG_OK) st = db_commit(d->db);
    else db_rollback(d->db);
    free(front);
    if (st != ENG_OK) return st;
    for (int i = 0; i < n; i++) search_eval_mark_committed(d->ev, items[i].hash);
    search_hold_after_generation(d->opts, batch);
    bool tty = d->opts->progress == SEARCH_PROGRESS_TTY;
    if (tty) search_say(d->opts, "%s", "");
    char err_txt[32] = "-", energy_txt[32] = "-";
    if (isfinite(row.best_error)) snprintf(err_txt, sizeof err_txt, "%.4f", row.best_error);
    if (isfinite(row.min_energy_pj))
        snprintf(energy_txt, sizeof energy_txt, "%.4g uJ", row.min_energy_pj * 1e-6);
    search_say(d->opts, "%s: %d trained, %d reused, front %d, best error %s, min %s %s, "
               "hypervolume %.4f, %.1fs%s", what, row.evaluated, row.reused,
               row.front_size, err_txt, ke >= 0 ? cfg_objective_name(c->objectives[ke])
                                                : "energy",
               energy_txt, row.hypervolume, row.wall_s, tty ? "\n" : "");
    return ENG_OK;
}

/* Proposes, evaluates and commits batch b. */
static eng_status run_batch(ms_driver *d, int b)
{
    int first = b * d->cfg->batch;
    int n = d->cfg->trials - first < d->cfg->batch ? d->cfg->trials - first : d->cfg->batch;
    ms_proposal *p = calloc((size_t)n, sizeof *p);
    nas_arch *archs = calloc((size_t)n, sizeof *archs);
    search_eval_item *items = calloc((size_t)n, sizeof *items);
    char **texts = calloc((size_t)n, sizeof *texts);
    int64_t (*parents)[2] = calloc((size_t)n, sizeof *parents);
    eng_status st = p && archs && items && texts && parents
                    ? ENG_OK : eng_error(ENG_ERR_NOMEM, "out of memory");
    double t0 = now_s();
    if (st == ENG_OK) st = ms_propose(&d->ctl, d->res, d->n_res, b, first, n, p);
    for (int i = 0; i < n && st == ENG_OK; i++) {
        st = nas_tower_decode(&d->ctl.space, &p[i].tower, &archs[i]);
        items[i].arch = &archs[i];
    }
    search_eval_counts counts = {0};
    if (st == ENG_OK) st = search_eval_batch(d->ev, b, items, n, &counts);
    if (st == ENG_OK) {
        for (int i = 0; i < n; i++) add_result(d, &p[i].tower, &items[i].e, items[i].hash);
        if (b == 0) set_hv_scale(d);
        for (int i = 0; i < n && st == ENG_OK; i++) {
            texts[i] = malloc(MS_TEXT_MAX);
            if (!texts[i]) st = eng_error(ENG_ERR_NOMEM, "out of memory");
            else if (nas_tower_format(&d->ctl.space, &p[i].tower, texts[i], MS_TEXT_MAX) < 0)
                st = eng_error(ENG_ERR_INTERNAL, "a tower's text is too long");
            parents[i][0] = p[i].parent, parents[i][1] = -1;
        }
        char what[96];
        snprintf(what, sizeof what, "batch %d done (%d of %d, trials %d-%d)", b, b + 1,
                 ms_search_batches(d->cfg), first, first + n - 1);
        if (st == ENG_OK)
            st = commit_batch(d, b, first, texts, (const int64_t(*)[2])parents, items, n,
                              &counts, now_s() - t0, what);
    }
    for (int i = 0; i < n && archs; i++) nas_arch_free(&archs[i]);
    for (int i = 0; i < n && texts; i++) free(texts[i]);
    free(texts);
    free(parents);
    free(items);
    free(archs);
    free(p);
    return st;
}

/* The members of an ensemble within limit (INFINITY: none): feasible trials by ascending error
 * (ties: the earlier), distinct networks, while the sum of their costs stays within limit;
 * up to k. Returns how many. */
static int pick_members(const ms_driver *d, double limit, int k, int *idx)
{
    int n = 0, trials = d->cfg->trials;
    double sum = 0;
    bool *used = calloc((size_t)trials, sizeof *used);
    if (!used) return 0;
    while (n < k) {
        int best = -1;
        for (int i = 0; i < trials; i++) {
            if (used[i] || d->res[i].violation > 0 || sum + d->res[i].cost > limit) continue;
            bool dup = false;
            for (int j = 0; j < n && !dup; j++) dup = d->res[idx[j]].hash == d->res[i].hash;
            if (!dup && (best < 0 || d->res[i].error < d->res[best].error)) best = i;
        }
        if (best < 0) break;
        used[best] = true;
        idx[n++] = best;
        sum += d->res[best].cost;
    }
    free(used);
    return n;
}

/* After the last batch: one ensemble of the `ensemble` best towers (constrained descent: one
 * per budget, the members' costs summing within it), trained and committed as generation
 * gen. A budget with too few towers under it gets none. */
static eng_status run_ensembles(ms_driver *d, int gen)
{
    const cfg_model_search *cfg = d->cfg;
    int sets = cfg->algorithm == CFG_MS_CONSTRAINED_DESCENT ? cfg->n_budgets : 1, n = 0;
    int k = cfg->ensemble;
    nas_arch *archs = calloc((size_t)sets, sizeof *archs);
    search_eval_item *items = calloc((size_t)sets, sizeof *items);
    char **texts = calloc((size_t)sets, sizeof *texts);
    int64_t (*parents)[2] = calloc((size_t)sets, sizeof *parents);
    eng_status st = archs && items && texts && parents
                    ? ENG_OK : eng_error(ENG_ERR_NOMEM, "out of memory");
    double t0 = now_s();
    for (int s = 0; s < sets && st == ENG_OK; s++) {
        double limit = cfg->algorithm == CFG_MS_CONSTRAINED_DESCENT ? cfg->budgets[s]
                                                                    : INFINITY;
        int idx[NAS_TOWER_MAX_ENSEMBLE];
        nas_tower members[NAS_TOWER_MAX_ENSEMBLE];
        if (pick_members(d, limit, k, idx) < k) continue;
        for (int m = 0; m < k; m++) members[m] = d->res[idx[m]].tower;
        st = nas_tower_decode_ensemble(&d->ctl.space, members, k, &archs[n]);
        uint64_t h = st == ENG_OK ? nas_arch_hash(&archs[n]) : 0;
        bool dup = false;
        for (int j = 0; j < n && !dup; j++) dup = nas_arch_hash(&archs[j]) == h;
        if (st == ENG_OK && dup) {
            nas_arch_free(&archs[n]);
            continue;
        }
        texts[n] = malloc(MS_TEXT_MAX);
        if (st == ENG_OK && !texts[n]) st = eng_error(ENG_ERR_NOMEM, "out of memory");
        if (st == ENG_OK &&
            nas_tower_ensemble_format(&d->ctl.space, members, k, texts[n], MS_TEXT_MAX) < 0)
            st = eng_error(ENG_ERR_INTERNAL, "an ensemble's text is too long");
        parents[n][0] = idx[0], parents[n][1] = idx[1];
        items[n].arch = &archs[n];
        n++;
    }
    search_eval_counts counts = {0};
    if (st == ENG_OK && n > 0) st = search_eval_batch(d->ev, gen, items, n, &counts);
    if (st == ENG_OK) {
        for (int i = 0; i < n; i++)
            add_result(d, &d->res[parents[i][0]].tower, &items[i].e, items[i].hash);
        char what[64];
        snprintf(what, sizeof what, "ensembles of %d done (%d)", k, n);
        st = commit_batch(d, gen, cfg->trials, texts, (const int64_t(*)[2])parents, items, n,
                          &counts, now_s() - t0, what);
    }
    for (int i = 0; i < sets && archs; i++) nas_arch_free(&archs[i]);
    for (int i = 0; i < sets && texts; i++) free(texts[i]);
    free(texts);
    free(parents);
    free(items);
    free(archs);
    return st;
}

/* Rebuilds the results of the committed batches 0..last from the archive. */
static eng_status load_results(ms_driver *d, int last)
{
    sqlite3_stmt *s;
    const char *path = db_path(d->db);
    if (sqlite3_prepare_v2(db_handle(d->db), "SELECT id, genome, hash FROM individuals "
                           "WHERE generation <= ? ORDER BY id", -1, &s, NULL) != SQLITE_OK)
        return eng_error(ENG_ERR_IO, "%s: reading the individuals: %s", path,
                         sqlite3_errmsg(db_handle(d->db)));
    sqlite3_bind_int(s, 1, last);
    eng_status st = ENG_OK;
    while (st == ENG_OK && sqlite3_step(s) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(s, 0);
        const char *text = (const char *)sqlite3_column_text(s, 1);
        const char *hash = (const char *)sqlite3_column_text(s, 2);
        nas_tower t;
        db_evaluation e;
        if (id != d->n_res || d->n_res >= d->cfg->trials)
            st = eng_error(ENG_ERR_FORMAT, "%s: individual %lld is not trial %d of a Model "
                           "Search run", path, id, d->n_res);
        else if (nas_tower_parse(&d->ctl.space, text ? text : "", &t) != ENG_OK)
            st = eng_error(ENG_ERR_FORMAT, "%s: individual %lld: %s", path, id,
                           eng_last_error());
        else if (db_evaluation_find(d->db, hash ? hash : "", &e) != ENG_OK)
            st = eng_error(ENG_ERR_FORMAT, "%s: individual %lld: no evaluation %s", path, id,
                           hash ? hash : "");
        else
            add_result(d, &t, &e, strtoull(hash, NULL, 16));
    }
    sqlite3_finalize(s);
    int want = (last + 1) * d->cfg->batch;
    if (want > d->cfg->trials) want = d->cfg->trials;
    if (st == ENG_OK && d->n_res != want)
        st = eng_error(ENG_ERR_FORMAT, "%s: %d proposals archived in batches 0..%d, expected %d",
                       path, d->n_res, last, want);
    return st;
}

eng_status ms_search_drive(search_env *env, db_archive *db, const search_opts *opts,
                           int threads, bool resume)
{
    const cfg_search *c = &env->cfg;
    ms_driver d = {.env = env, .db = db, .opts = opts, .cfg = &c->model_search};
    d.ctl = (ms_controller){.cfg = d.cfg, .seed = c->seed, .exact_mul = -1, .cost = measure_cost,
                            .cost_ctx = &d};
    for (int i = c->space.n_muls - 1; i >= 0; i--)
        if (env->mul_exact[i]) d.ctl.exact_mul = i;
    ms_tower_space(c, &d.ctl.space);
    eng_status st = nas_tower_space_check(&d.ctl.space);
    if (st != ENG_OK) st = eng_error_prefix(st, "%s: model_search", c->path);
    d.res = calloc((size_t)d.cfg->trials + CFG_MAX_BUDGETS, sizeof *d.res);
    d.f = calloc((size_t)d.cfg->trials + CFG_MAX_BUDGETS, sizeof *d.f);
    if (st == ENG_OK && (!d.res || !d.f)) st = eng_error(ENG_ERR_NOMEM, "out of memory");
    if (st == ENG_OK) st = search_eval_create(env, db, opts, threads, &d.ev);
    int next = 0, batches = ms_search_batches(d.cfg);
    if (st == ENG_OK && resume) {
        unsigned char *state = NULL;
        size_t size = 0;
        int last = -1;
        st = db_generation_last(db, &last, &state, &size);
        free(state);
        if (st == ENG_ERR_NOT_FOUND) st = ENG_OK, last = -1;
        if (st == ENG_OK) st = search_eval_load_committed(d.ev);
        /* the ensembles' generation adds nothing the controller reads */
        if (st == ENG_OK && last >= 0) st = load_results(&d, last < batches ? last : batches - 1);
        if (st == ENG_OK && last >= 0) set_hv_scale(&d);
        next = last + 1;
        if (st == ENG_OK) st = db_run_set_status(db, "running");
        if (st == ENG_OK) {
            char after[64] = "from the start (no batch was committed)";
            if (last >= 0)
                snprintf(after, sizeof after, "after generation %d of %d", last,
                         ms_search_generations(d.cfg) - 1);
            search_say(opts, "resuming the model search %s -> %s%s", after, db_path(db),
                       opts->progress == SEARCH_PROGRESS_TTY ? "\n" : "");
        }
    }
    if (st == ENG_OK) {
        int gens = ms_search_generations(d.cfg);
        int ensembles = !d.cfg->ensemble ? 0
                        : d.cfg->algorithm == CFG_MS_CONSTRAINED_DESCENT ? d.cfg->n_budgets : 1;
        search_eval_plan(d.ev, gens - 1, d.cfg->trials - d.n_res + (next < gens ? ensembles : 0));
        for (int b = next; b < gens && st == ENG_OK; b++) {
            st = b < batches ? run_batch(&d, b) : run_ensembles(&d, b);
            if (st == ENG_OK && b + 1 < gens && opts->stop && *opts->stop)
                st = ENG_ERR_INTERRUPTED;
        }
    }
    bool tty = opts->progress == SEARCH_PROGRESS_TTY;
    if (st == ENG_OK) {
        st = db_run_set_status(db, "finished");
        if (st == ENG_OK)
            search_say(opts, "search finished: %d trials in %d batches in %s%s", d.cfg->trials,
                       batches, db_path(db), tty ? "\n" : "");
    } else if (d.ev) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", eng_last_error());
        if (tty) search_say(opts, "%s", "");
        db_run_set_status(db, st == ENG_ERR_INTERRUPTED ? "interrupted" : "failed");
        if (st == ENG_ERR_INTERRUPTED) {
            const char *sig = run_signal_name(opts->stop ? (int)*opts->stop : 0);
            st = eng_error(st, "interrupted%s%s; continue with: evoapproxnas resume %s",
                           sig ? " by " : "", sig ? sig : "", db_path(db));
        } else {
            st = eng_error(st, "%s", msg);
        }
    }
    search_eval_free(d.ev);
    free(d.res);
    free(d.f);
    return st;
}
