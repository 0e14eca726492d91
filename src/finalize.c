/*
 * finalize.c - longer training of the front and test accuracy.
 */
#include "finalize.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "archive.h"
#include "run_claim.h"
#include "search.h"
#include "search_env.h"

typedef struct item {
    char hash[DB_HASH_LEN];
    char *genome;
    nas_arch arch;
    eng_status st;
    char msg[512];
    double error;
} item;

/* The front members to finalize and one genome of each. */
static eng_status load_items(db_archive *db, const nas_space *sp, int epochs, item **out,
                             int *n)
{
    const char *sql = "SELECT f.hash, (SELECT genome FROM individuals i WHERE i.hash = f.hash "
                      "ORDER BY i.id LIMIT 1) FROM pareto_front f WHERE f.test_accuracy IS NULL "
                      "OR f.final_epochs IS NOT ? ORDER BY f.obj0, f.hash";
    sqlite3_stmt *s;
    int cap = (int)db_query_double(db, "SELECT count(*) FROM pareto_front", 0);
    item *items = calloc((size_t)(cap > 0 ? cap : 1), sizeof *items);
    if (!items) return eng_error(ENG_ERR_NOMEM, "out of memory");
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK) {
        free(items);
        return eng_error(ENG_ERR_IO, "%s: %s", db_path(db), sqlite3_errmsg(db_handle(db)));
    }
    sqlite3_bind_int(s, 1, epochs);
    eng_status st = ENG_OK;
    int k = 0;
    int *genes = malloc(sizeof(int) * (size_t)nas_genome_length(sp));
    if (!genes) st = eng_error(ENG_ERR_NOMEM, "out of memory");
    while (st == ENG_OK && k < cap && sqlite3_step(s) == SQLITE_ROW) {
        item *it = &items[k];
        snprintf(it->hash, sizeof it->hash, "%s", (const char *)sqlite3_column_text(s, 0));
        const char *g = (const char *)sqlite3_column_text(s, 1);
        st = nas_genome_parse(sp, g ? g : "", genes);
        if (st == ENG_OK) st = nas_genome_decode(sp, genes, &it->arch);
        if (st != ENG_OK) st = eng_error_prefix(st, "%s: network %s", db_path(db), it->hash);
        k++;
    }
    free(genes);
    sqlite3_finalize(s);
    *out = items;
    *n = k;
    return st;
}

eng_status finalize_front(const char *path, int epochs, int threads, FILE *log,
                          volatile sig_atomic_t *stop, int *done)
{
    *done = 0;
    db_archive *db;
    db_run run = {0};
    search_env env = {0};
    item *items = NULL;
    int n = 0;
    run_claim *claim = NULL;
    eng_status st = run_claim_take(path, "finalize", stderr, &claim);
    if (st == ENG_OK) st = db_open(path, DB_OPEN_WRITE, &db);
    if (st == ENG_OK) st = run_claim_attach(claim, db);
    if (st == ENG_OK) st = db_run_load(db, &run);
    cfg_search cfg;
    if (st == ENG_OK) st = search_config_load(db, &run, NULL, &cfg);
    if (st == ENG_OK) st = search_env_open(&env, &cfg, SEARCH_ENV_DATA | SEARCH_ENV_TEST);
    if (st == ENG_OK && epochs <= 0) epochs = env.cfg.finalize.epochs;
    if (st == ENG_OK) st = load_items(db, &env.cfg.space, epochs, &items, &n);
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_num_procs();
    omp_set_max_active_levels(1);
#endif
    if (threads <= 0) threads = 1;
    if (env.device == ENG_DEVICE_CUDA) threads = 1;   /* one host thread drives the GPU */
    if (st == ENG_OK && env.device_note[0])
        fprintf(stderr, "evoapproxnas: %s: device cuda: %s; running on the CPU\n",
                env.cfg.path, env.device_note);
    if (st == ENG_OK && log)
        fprintf(log, "finalize: %d front networks, %d epochs on %d images, test on %d\n", n,
                epochs, env.full_train.count, env.test.count);
    int n_done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int i = 0; i < (st == ENG_OK ? n : 0); i++) {
        item *it = &items[i];
        if (stop && *stop) continue;
        uint64_t seed = strtoull(it->hash, NULL, 16) ^ env.cfg.seed ^ 0xF1A1u;
        search_train_logger lg = {.out = log, .label = it->hash};
        search_train_hooks hooks = {.progress = log ? search_train_log_progress : NULL,
                                    .user = &lg};
        it->st = search_env_train(&env, &it->arch, seed, epochs, &env.full_train, &env.test,
                                  stop, &hooks, &it->error);
        if (it->st != ENG_OK) {
            snprintf(it->msg, sizeof it->msg, "%s", eng_last_error());
            continue;
        }
#pragma omp critical(finalize_db)
        {
            it->st = db_evaluation_set_test(db, it->hash, 1.0 - it->error, epochs);
            if (it->st != ENG_OK) snprintf(it->msg, sizeof it->msg, "%s", eng_last_error());
            else n_done++;
            if (log && it->st == ENG_OK) {
                fprintf(log, "  %s test accuracy %.4f (%s)\n", it->hash, 1.0 - it->error,
                        it->arch.summary);
                fflush(log);
            }
        }
    }
    for (int i = 0; i < n && st == ENG_OK; i++)
        if (items[i].st != ENG_OK) st = eng_error(items[i].st, "%s", items[i].msg);
    if (st == ENG_OK && stop && *stop) st = eng_error(ENG_ERR_INTERRUPTED, "interrupted");
    for (int i = 0; i < n; i++) nas_arch_free(&items[i].arch);
    free(items);
    search_env_close(&env);
    db_run_free(&run);
    run_claim_release(claim);
    db_close(db);
    *done = n_done;
    return st;
}
