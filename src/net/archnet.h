/*
 * archnet.h - one archived network of a search, ready to rebuild: its evaluation row, genome
 * (or Model Search tower), decoded layers and the search's environment (config, multipliers,
 * energy model, data).
 *
 *     archnet a;
 *     ENG_TRY(archnet_open("results/quick.db", "3fa2", SEARCH_ENV_DATA, &a));  // hash prefix
 *     printf("%s: %s, validation accuracy %.4f\n", a.e.hash, a.arch.summary, 1 - a.e.error);
 *     archnet_close(&a);
 *
 * Used by `export` and `show`. The archive is opened read-only.
 */
#ifndef ARCHNET_H
#define ARCHNET_H

#include "archive.h"
#include "nas_tower.h"
#include "search_env.h"

typedef struct archnet {
    db_archive *db;
    db_evaluation e;            /* the network's evaluation row */
    double test_accuracy;       /* finalize's, NAN when not finalized */
    int final_epochs;           /* 0 when not finalized */
    char weights[4096];         /* weights kept by `finalize --save`, "" when none */
    search_env env;             /* the search's config, multipliers, energy model (and data) */
    int *genes;                 /* nas_genome_length(&env.cfg.space); NULL for a tower */
    bool is_tower;              /* a Model Search network (strategy model_search) */
    nas_tower_space tower_space;/* ... its tower space */
    nas_tower towers[NAS_TOWER_MAX_ENSEMBLE];  /* ... its tower (or an ensemble's members) */
    int n_towers;
    nas_arch arch;              /* decoded genome or tower(s) */
} archnet;

/* The architecture text of a's network for a weights file (netfile.h): a genome's or a
 * tower's. */
eng_status archnet_arch_format(const archnet *a, char *buf, size_t size);

/* Opens archive `db_path` and finds the network whose hash is, or starts with, `hash` (at
 * least 4 hex digits; a prefix must be unique). env_flags: what search_env_open loads (0 =
 * no images). Errors (all name the archive): ENG_ERR_NOT_FOUND for an unknown or ambiguous
 * hash, ENG_ERR_FORMAT for a bad archive or genome, the config's own errors, ENG_ERR_IO. On
 * error out holds nothing. */
eng_status archnet_open(const char *db_path, const char *hash, unsigned env_flags, archnet *out);

/* The search's multiplier names (env.cfg.space.n_muls pointers into env.cfg). */
void archnet_mul_names(const archnet *a, const char **names);

void archnet_close(archnet *a);

#endif /* ARCHNET_H */
