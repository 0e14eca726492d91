/*
 * finalize.c - longer training of the front and its exact baselines; test accuracy.
 */
#include "finalize.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "eng_weights.h"
#include "ms_search.h"
#include "netfile.h"
#include "run_claim.h"
#include "search.h"
#include "search_env.h"
#include "search_train.h"

static const char finalized_sql[] =
    "CREATE TABLE IF NOT EXISTS finalized (\n"
    "  hash TEXT NOT NULL REFERENCES evaluations(hash),\n"
    "  variant TEXT NOT NULL CHECK (variant IN ('searched', 'exact')),\n"
    "  energy_pj REAL NOT NULL,\n"
    "  test_accuracy REAL NOT NULL,\n"
    "  epochs INTEGER NOT NULL,\n"
    "  weights TEXT,\n"
    "  PRIMARY KEY (hash, variant));";

/* One network to retrain: an archived one as searched, or its all-exact variant. */
typedef struct item {
    char hash[DB_HASH_LEN];
    bool exact_variant;
    bool copy;                  /* exact variant of an exact network: the searched result */
    uint64_t seed;
    double energy_pj;
    int *genes;                 /* an NSGA-II genome, or (strategy model_search) */
    nas_tower towers[NAS_TOWER_MAX_ENSEMBLE];   /* a tower or an ensemble's members */
    int n_towers;
    nas_arch arch;
    eng_status st;
    char msg[512];
    double error;
    char weights[PATH_MAX + 32];
} item;

typedef struct work {
    item *items;
    int n, cap;
} work;

/* True when (hash, variant) is finalized for this many epochs (with weights when saving). */
static bool is_done(db_archive *db, const char *hash, const char *variant, int epochs, bool save)
{
    sqlite3_stmt *s;
    bool done = false;
    if (sqlite3_prepare_v2(db_handle(db), "SELECT 1 FROM finalized WHERE hash = ? AND "
                           "variant = ? AND epochs = ? AND (? = 0 OR weights IS NOT NULL)", -1,
                           &s, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, variant, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, epochs);
    sqlite3_bind_int(s, 4, save);
    done = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return done;
}

/* Adds the jobs of one archived network: itself, and with exact_too its all-exact variant. */
static eng_status add_network(work *w, db_archive *db, const search_env *env, const char *hash,
                              const char *genome, int epochs, bool save, bool exact_too)
{
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->items[i].hash, hash) && !w->items[i].exact_variant && !exact_too)
            return ENG_OK;   /* already listed (the best exact network on the front) */
    db_evaluation e;
    eng_status st = db_evaluation_find(db, hash, &e);
    if (st != ENG_OK) return st == ENG_ERR_NOT_FOUND ? eng_error(st, "%s: no evaluation %s",
                                                                 db_path(db), hash) : st;
    for (int v = 0; v < (exact_too ? 2 : 1); v++) {
        bool exact_variant = v == 1;
        if (is_done(db, hash, exact_variant ? "exact" : "searched", epochs, save)) continue;
        if (w->n == w->cap) {
            int cap = w->cap ? 2 * w->cap : 16;
            item *grown = realloc(w->items, sizeof *grown * (size_t)cap);
            if (!grown) return eng_error(ENG_ERR_NOMEM, "out of memory");
            w->items = grown;
            w->cap = cap;
        }
        item *it = &w->items[w->n];
        memset(it, 0, sizeof *it);
        snprintf(it->hash, sizeof it->hash, "%s", hash);
        it->exact_variant = exact_variant;
        it->copy = exact_variant && e.exact && !save;
        it->seed = strtoull(hash, NULL, 16) ^ env->cfg.seed ^ 0xF1A1u;
        it->energy_pj = exact_variant ? e.energy_pj - e.mul_energy_pj + e.mul_energy_exact_pj
                                      : e.energy_pj;
        if (env->cfg.strategy == CFG_STRATEGY_MODEL_SEARCH) {
            nas_tower_space ts;
            ms_tower_space(&env->cfg, &ts);
            w->n++;
            st = nas_tower_ensemble_parse(&ts, genome, it->towers, &it->n_towers);
            if (st == ENG_OK)
                st = nas_tower_decode_ensemble(&ts, it->towers, it->n_towers, &it->arch);
            if (st != ENG_OK) return eng_error_prefix(st, "%s: network %s", db_path(db), hash);
            continue;
        }
        it->genes = malloc(sizeof(int) * (size_t)nas_genome_length(&env->cfg.space));
        if (!it->genes) return eng_error(ENG_ERR_NOMEM, "out of memory");
        w->n++;
        st = nas_genome_parse(&env->cfg.space, genome, it->genes);
        if (st == ENG_OK) st = nas_genome_decode(&env->cfg.space, it->genes, &it->arch);
        if (st != ENG_OK) return eng_error_prefix(st, "%s: network %s", db_path(db), hash);
    }
    return ENG_OK;
}

/* The front members and the best exact network of the archive. */
static eng_status load_work(db_archive *db, const search_env *env, int epochs, bool save,
                            work *w)
{
    static const char *const sql[2] = {
        "SELECT f.hash, (SELECT genome FROM individuals i WHERE i.hash = f.hash ORDER BY i.id "
        "LIMIT 1) FROM pareto_front f ORDER BY f.obj0, f.hash",
        "SELECT a.hash, (SELECT genome FROM individuals i WHERE i.hash = a.hash ORDER BY i.id "
        "LIMIT 1) FROM archived a WHERE a.exact = 1 AND a.violation = 0 "
        "ORDER BY a.error, a.energy_pj, a.hash LIMIT 1"};
    eng_status st = ENG_OK;
    for (int q = 0; q < 2 && st == ENG_OK; q++) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db_handle(db), sql[q], -1, &s, NULL) != SQLITE_OK)
            return db_sql_error(db, "reading the networks to finalize");
        while (st == ENG_OK && sqlite3_step(s) == SQLITE_ROW) {
            const char *g = (const char *)sqlite3_column_text(s, 1);
            st = add_network(w, db, env, (const char *)sqlite3_column_text(s, 0), g ? g : "",
                             epochs, save, q == 0);
        }
        sqlite3_finalize(s);
    }
    return st;
}

/* Trains one job, measures its test error and saves its weights (when dir is set). */
static eng_status run_item(const search_env *env, item *it, int epochs, const char *dir,
                           FILE *log, volatile sig_atomic_t *stop)
{
    eng_net *net;
    char label[DB_HASH_LEN + 8];
    snprintf(label, sizeof label, "%s%s", it->hash, it->exact_variant ? "-exact" : "");
    search_train_logger lg = {.out = log, .label = label};
    search_train_hooks hooks = {.progress = log ? search_train_log_progress : NULL, .user = &lg};
    ENG_TRY(search_env_train_net(env, &it->arch, it->exact_variant, it->seed, epochs,
                                 &env->full_train, stop, &hooks, &net));
    eng_status st = eng_net_sync_host(net);
    if (st == ENG_OK) st = search_train_error(net, &env->test, 256, &it->error);
    int exact_mul = -1;
    for (int i = env->cfg.space.n_muls - 1; i >= 0; i--)
        if (env->mul_exact[i]) exact_mul = i;
    /* an exact variant is stored with the set's exact multiplier in every gene */
    bool keep = dir && (!it->exact_variant || exact_mul >= 0);
    char *text = keep ? malloc(ENG_NET_ARCH_MAX) : NULL;
    if (st == ENG_OK && keep) {
        const char *names[NAS_MAX_MULS];
        for (int i = 0; i < env->cfg.space.n_muls; i++) names[i] = env->cfg.mul_names[i];
        nas_tower_space ts;
        bool tower = !it->genes;
        if (tower) ms_tower_space(&env->cfg, &ts);
        for (int m = 0; it->exact_variant && tower && m < it->n_towers; m++)
            nas_tower_set_multipliers(&ts, &it->towers[m], exact_mul);
        if (it->exact_variant && !tower)
            nas_genome_set_multipliers(&env->cfg.space, it->genes, exact_mul);
        if (!text) st = eng_error(ENG_ERR_NOMEM, "out of memory");
        else if (tower)
            st = netfile_tower_format(&ts, names, &env->quant, it->towers, it->n_towers,
                                      text, ENG_NET_ARCH_MAX);
        else
            st = netfile_arch_format(&env->cfg.space, names, &env->quant, it->genes, text,
                                     ENG_NET_ARCH_MAX);
        if (st == ENG_OK) st = eng_net_set_arch(net, text);
        snprintf(it->weights, sizeof it->weights, "%s/%s%s.w", dir, it->hash,
                 it->exact_variant ? "-exact" : "");
        if (st == ENG_OK) st = eng_weights_save(net, it->weights);
        if (st != ENG_OK) it->weights[0] = '\0';
    }
    free(text);
    eng_net_free(net);
    return st;
}

static eng_status record(db_archive *db, const item *it, double test_accuracy, int epochs)
{
    if (!it->exact_variant) ENG_TRY(db_evaluation_set_test(db, it->hash, test_accuracy, epochs));
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), "INSERT OR REPLACE INTO finalized (hash, variant, "
                           "energy_pj, test_accuracy, epochs, weights) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_sql_error(db, "recording a finalized network");
    sqlite3_bind_text(s, 1, it->hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, it->exact_variant ? "exact" : "searched", -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, it->energy_pj);
    sqlite3_bind_double(s, 4, test_accuracy);
    sqlite3_bind_int(s, 5, epochs);
    if (it->weights[0]) sqlite3_bind_text(s, 6, it->weights, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, 6);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ENG_OK : db_sql_error(db, "recording a finalized network");
}

/* The absolute path of the save directory (created when missing). */
static eng_status save_dir(const char *dir, char *abs)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return eng_error(ENG_ERR_IO, "%s: cannot create the directory: %s", dir, strerror(errno));
    if (!realpath(dir, abs))
        return eng_error(ENG_ERR_IO, "%s: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(abs, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return eng_error(ENG_ERR_ARG, "%s: not a directory", dir);
    return ENG_OK;
}

eng_status finalize_front(const char *path, int epochs, int threads, const char *save,
                          FILE *log, volatile sig_atomic_t *stop, int *done)
{
    *done = 0;
    db_archive *db;
    db_run run = {0};
    search_env env = {0};
    work w = {0};
    char dir[PATH_MAX];
    run_claim *claim = NULL;
    db = NULL;
    eng_status st = save ? save_dir(save, dir) : ENG_OK;
    if (st == ENG_OK) st = run_claim_take(path, "finalize", stderr, &claim);
    if (st == ENG_OK) st = db_open(path, DB_OPEN_WRITE, &db);
    if (st == ENG_OK) st = run_claim_attach(claim, db);
    if (st == ENG_OK) st = db_run_load(db, &run);
    cfg_search cfg;
    if (st == ENG_OK) st = search_config_load(db, &run, NULL, &cfg);
    if (st == ENG_OK) st = search_env_open(&env, &cfg, SEARCH_ENV_DATA | SEARCH_ENV_TEST);
    if (st == ENG_OK && epochs <= 0) epochs = env.cfg.finalize.epochs;
    if (st == ENG_OK && sqlite3_exec(db_handle(db), finalized_sql, NULL, NULL, NULL) != SQLITE_OK)
        st = db_sql_error(db, "creating the finalized table");
    if (st == ENG_OK) st = load_work(db, &env, epochs, save != NULL, &w);
    if (threads <= 0) threads = eng_cpu_count();
    eng_set_nesting(1);
    if (env.device == ENG_DEVICE_CUDA) threads = 1;   /* one host thread drives the GPU */
    if (st == ENG_OK && env.device_note[0])
        fprintf(stderr, "evoapproxnas: %s: device cuda: %s; running on the CPU\n",
                env.cfg.path, env.device_note);
    if (st == ENG_OK && log)
        fprintf(log, "finalize: %d networks (front, all-exact variants, best exact), %d epochs "
                "on %d images, test on %d\n", w.n, epochs, env.full_train.count, env.test.count);
    int n_done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int i = 0; i < (st == ENG_OK ? w.n : 0); i++) {
        item *it = &w.items[i];
        if ((stop && *stop) || it->copy) continue;
        it->st = run_item(&env, it, epochs, save ? dir : NULL, log, stop);
        if (it->st != ENG_OK) {
            snprintf(it->msg, sizeof it->msg, "%s", eng_last_error());
            continue;
        }
#pragma omp critical(finalize_db)
        {
            it->st = record(db, it, 1.0 - it->error, epochs);
            if (it->st != ENG_OK) snprintf(it->msg, sizeof it->msg, "%s", eng_last_error());
            else n_done++;
            if (log && it->st == ENG_OK) {
                fprintf(log, "  %s%s test accuracy %.4f (%s)\n", it->hash,
                        it->exact_variant ? " all-exact" : "", 1.0 - it->error,
                        it->arch.summary);
                fflush(log);
            }
        }
    }
    /* the all-exact variant of an exact network is the network itself */
    for (int i = 0; i < w.n && st == ENG_OK && !(stop && *stop); i++) {
        item *it = &w.items[i];
        if (!it->copy) continue;
        sqlite3_stmt *s;
        double acc = NAN;
        if (sqlite3_prepare_v2(db_handle(db), "SELECT test_accuracy FROM finalized WHERE hash "
                               "= ? AND variant = 'searched' AND epochs = ?", -1, &s,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(s, 1, it->hash, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(s, 2, epochs);
            if (sqlite3_step(s) == SQLITE_ROW) acc = sqlite3_column_double(s, 0);
            sqlite3_finalize(s);
        }
        if (!isnan(acc)) it->st = record(db, it, acc, epochs);
        if (it->st != ENG_OK) snprintf(it->msg, sizeof it->msg, "%s", eng_last_error());
    }
    for (int i = 0; i < w.n && st == ENG_OK; i++)
        if (w.items[i].st != ENG_OK) st = eng_error(w.items[i].st, "%s", w.items[i].msg);
    if (st == ENG_OK && stop && *stop) st = eng_error(ENG_ERR_INTERRUPTED, "interrupted");
    for (int i = 0; i < w.n; i++) {
        nas_arch_free(&w.items[i].arch);
        free(w.items[i].genes);
    }
    free(w.items);
    search_env_close(&env);
    db_run_free(&run);
    run_claim_release(claim);
    db_close(db);
    *done = n_done;
    return st;
}
