/*
 * archnet.c - looking up and decoding one archived network (archnet.h).
 */
#include "archnet.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_search.h"
#include "netfile.h"

/* The full hash of a unique prefix (the archived networks only). */
static eng_status resolve_hash(db_archive *db, const char *prefix, char *hash)
{
    size_t n = strlen(prefix);
    if (n < 4 || n >= DB_HASH_LEN || strspn(prefix, "0123456789abcdef") != n)
        return eng_error(ENG_ERR_NOT_FOUND, "%s: '%s' is not a network hash (4 to 16 lower-case "
                         "hex digits)", db_path(db), prefix);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), "SELECT DISTINCT hash FROM individuals WHERE "
                           "substr(hash, 1, ?) = ? LIMIT 2", -1, &s, NULL) != SQLITE_OK)
        return eng_error(ENG_ERR_IO, "%s: %s", db_path(db), sqlite3_errmsg(db_handle(db)));
    sqlite3_bind_int(s, 1, (int)n);
    sqlite3_bind_text(s, 2, prefix, -1, SQLITE_TRANSIENT);
    int found = 0;
    while (sqlite3_step(s) == SQLITE_ROW && found < 2)
        if (found++ == 0)
            snprintf(hash, DB_HASH_LEN, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (found == 0)
        return eng_error(ENG_ERR_NOT_FOUND, "%s: no archived network %s (see `evoapproxnas "
                         "pareto`)", db_path(db), prefix);
    if (found > 1)
        return eng_error(ENG_ERR_NOT_FOUND, "%s: more than one network starts with %s; give "
                         "more digits", db_path(db), prefix);
    return ENG_OK;
}

/* Genome text, test accuracy and kept weights of the network. */
static eng_status read_rows(archnet *a, char **genome)
{
    sqlite3 *h = db_handle(a->db);
    sqlite3_stmt *s;
    a->test_accuracy = NAN;
    if (sqlite3_prepare_v2(h, "SELECT (SELECT genome FROM individuals WHERE hash = e.hash "
                           "ORDER BY id LIMIT 1), test_accuracy, final_epochs FROM evaluations e "
                           "WHERE hash = ?", -1, &s, NULL) != SQLITE_OK)
        return eng_error(ENG_ERR_IO, "%s: %s", db_path(a->db), sqlite3_errmsg(h));
    sqlite3_bind_text(s, 1, a->e.hash, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *g = sqlite3_column_text(s, 0);
        *genome = strdup(g ? (const char *)g : "");
        if (sqlite3_column_type(s, 1) != SQLITE_NULL) {
            a->test_accuracy = sqlite3_column_double(s, 1);
            a->final_epochs = sqlite3_column_int(s, 2);
        }
    }
    sqlite3_finalize(s);
    if (!*genome) return eng_error(ENG_ERR_NOMEM, "out of memory");
    /* finalize --save: the table exists only after a finalize */
    if (sqlite3_prepare_v2(h, "SELECT weights FROM finalized WHERE hash = ? AND variant = "
                           "'searched' AND weights IS NOT NULL", -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, a->e.hash, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW)
            snprintf(a->weights, sizeof a->weights, "%s", (const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
    }
    return ENG_OK;
}

eng_status archnet_open(const char *db_path_, const char *hash, unsigned env_flags,
                        archnet *out)
{
    memset(out, 0, sizeof *out);
    db_run run = {0};
    char full[DB_HASH_LEN];
    char *genome = NULL;
    cfg_search cfg;
    eng_status st = db_open(db_path_, DB_OPEN_READ, &out->db);
    if (st == ENG_OK) st = resolve_hash(out->db, hash, full);
    if (st == ENG_OK) {
        st = db_evaluation_find(out->db, full, &out->e);
        if (st == ENG_ERR_NOT_FOUND)
            st = eng_error(st, "%s: network %s has no evaluation", db_path_, full);
    }
    if (st == ENG_OK) st = read_rows(out, &genome);
    if (st == ENG_OK) st = db_run_load(out->db, &run);
    if (st == ENG_OK) st = cfg_parse(run.config_text, run.config_path, &cfg);
    if (st == ENG_OK) st = search_env_open(&out->env, &cfg, env_flags);
    if (st == ENG_OK && out->env.cfg.strategy == CFG_STRATEGY_MODEL_SEARCH) {
        out->is_tower = true;
        ms_tower_space(&out->env.cfg, &out->tower_space);
        st = nas_tower_ensemble_parse(&out->tower_space, genome, out->towers, &out->n_towers);
        if (st == ENG_OK)
            st = nas_tower_decode_ensemble(&out->tower_space, out->towers, out->n_towers,
                                           &out->arch);
        if (st != ENG_OK)
            st = eng_error_prefix(ENG_ERR_FORMAT, "%s: network %s: tower", db_path_, full);
    } else if (st == ENG_OK) {
        out->genes = malloc(sizeof(int) * (size_t)nas_genome_length(&out->env.cfg.space));
        st = out->genes ? nas_genome_parse(&out->env.cfg.space, genome, out->genes)
                        : eng_error(ENG_ERR_NOMEM, "out of memory");
        if (st == ENG_OK) st = nas_genome_decode(&out->env.cfg.space, out->genes, &out->arch);
        if (st != ENG_OK)
            st = eng_error_prefix(ENG_ERR_FORMAT, "%s: network %s: genome", db_path_, full);
    }
    free(genome);
    db_run_free(&run);
    if (st != ENG_OK) archnet_close(out);
    return st;
}

eng_status archnet_arch_format(const archnet *a, char *buf, size_t size)
{
    const char *names[NAS_MAX_MULS];
    archnet_mul_names(a, names);
    if (a->is_tower)
        return netfile_tower_format(&a->tower_space, names, &a->env.quant, a->towers,
                                    a->n_towers, buf, size);
    return netfile_arch_format(&a->env.cfg.space, names, &a->env.quant, a->genes, buf, size);
}

void archnet_mul_names(const archnet *a, const char **names)
{
    for (int i = 0; i < a->env.cfg.space.n_muls; i++) names[i] = a->env.cfg.mul_names[i];
}

void archnet_close(archnet *a)
{
    if (!a) return;
    nas_arch_free(&a->arch);
    free(a->genes);
    search_env_close(&a->env);
    db_close(a->db);
    memset(a, 0, sizeof *a);
}
