/*
 * archive.h - the SQLite archive of a search: run, generations, individuals, evaluations.
 *
 * One database file per search (default results/<name>.db), in WAL mode so that `sqlite3`
 * can read it while a search writes. The schema (docs/archive.md has it with example
 * queries):
 *
 *   run            one row: name, config text and path, seed, threads, objectives, status
 *                  (running, interrupted, finished, failed), program and schema versions
 *   generations    one row per completed generation: statistics, hypervolume, and the whole
 *                  NSGA-II state (population + RNG) as a blob, from which `resume` continues
 *   evaluations    one row per distinct network (canonical hash): objectives, validation error,
 *                  energy breakdown, parameters, MACs, per-layer multipliers, timings, and the
 *                  test accuracy written by `finalize`
 *   individuals    every genome created (NSGA-II birth id): generation, genome text, hash,
 *                  parents
 *   population     the members of each generation's population with rank and crowding
 *   views          members (population joined with evaluations), pareto_front_generation
 *                  (feasible non-dominated members of each generation), archived (evaluations
 *                  of committed individuals) and pareto_front (feasible non-dominated
 *                  evaluations of the whole run)
 *
 * Writes of one generation go in one transaction (db_begin ... db_commit), so a kill at any
 * moment loses at most the generation in flight. Evaluations finished in an interrupted
 * generation may be stored on their own (db_evaluation_insert outside a generation): they
 * serve as a cache for resume but appear in no view until an individual refers to them.
 *
 * Errors: functions return ENG_OK or an eng_status with a message naming the database file
 * (ENG_ERR_IO for SQLite failures, ENG_ERR_FORMAT for a file that is not an archive or has a
 * newer schema, ENG_ERR_NOT_FOUND for missing rows).
 */
#ifndef ARCHIVE_H
#define ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eng_common.h"

typedef struct sqlite3 sqlite3;

#define DB_SCHEMA_VERSION 1
#define DB_APPLICATION_ID 0x45414E41 /* "EANA" */
#define DB_MAX_OBJECTIVES 4
#define DB_HASH_LEN 17               /* 16 hex digits + NUL */

typedef struct db_archive db_archive;

typedef enum db_open_mode {
    DB_OPEN_CREATE,      /* a new archive; ENG_ERR_EXISTS when the file exists */
    DB_OPEN_WRITE,       /* an existing archive, read-write (resume, finalize) */
    DB_OPEN_READ,        /* an existing archive, read-only (status, pareto, report) */
} db_open_mode;

/* Opens (and for DB_OPEN_CREATE creates, with the schema) an archive. Existing files are
 * checked: not SQLite or not an archive -> ENG_ERR_FORMAT; a schema newer than
 * DB_SCHEMA_VERSION -> ENG_ERR_FORMAT ("created by a newer evoapproxnas"). On error *out is
 * NULL and a created file is removed. */
eng_status db_open(const char *path, db_open_mode mode, db_archive **out);

/* Closes the archive (rolls back an open transaction). NULL-safe. */
void db_close(db_archive *db);

/* The SQLite handle, for read-only queries of the views. */
sqlite3 *db_handle(db_archive *db);

/* The file name given to db_open. */
const char *db_path(const db_archive *db);

eng_status db_begin(db_archive *db);
eng_status db_commit(db_archive *db);
void db_rollback(db_archive *db);

/* ------------------------------------------------------------------------------------------
 * Run
 * ---------------------------------------------------------------------------------------- */

typedef struct db_run {
    char name[64];
    char *config_text;          /* owned (db_run_free) when loaded */
    char config_path[4096];
    uint64_t seed;
    int threads;
    int generations;            /* NSGA-II generations the config asks for */
    char objectives[128];       /* "error,energy" */
    char status[16];            /* running | interrupted | finished | failed */
    char program_version[32];
    int schema_version;
    char created_at[32];        /* ISO 8601 UTC */
    char updated_at[32];
} db_run;

/* Inserts the run row (status, versions and times are filled in here). */
eng_status db_run_insert(db_archive *db, const db_run *run);

/* Loads the run row; out->config_text is malloc()ed. ENG_ERR_NOT_FOUND when none. */
eng_status db_run_load(db_archive *db, db_run *out);
void db_run_free(db_run *run);

/* Sets run.status and updated_at. */
eng_status db_run_set_status(db_archive *db, const char *status);

/* ------------------------------------------------------------------------------------------
 * Evaluations
 * ---------------------------------------------------------------------------------------- */

typedef struct db_evaluation {
    char hash[DB_HASH_LEN];     /* canonical network hash, 16 hex digits */
    int generation;             /* generation in which it was first evaluated */
    double error;               /* validation error, [0, 1] */
    double energy_pj;           /* total energy per inference */
    double mul_energy_pj;       /* of which in the multipliers */
    double mul_energy_exact_pj; /* the multipliers' energy with exact multipliers */
    double mac_energy_pj;       /* arithmetic (multipliers + rest of the MACs) */
    double memory_energy_pj;    /* memory levels */
    int64_t params;
    int64_t macs;
    int mul_layers;
    bool exact;                 /* every multiplying layer uses an exact multiplier */
    double violation;           /* total constraint violation, 0 = feasible */
    int n_obj;
    double obj[DB_MAX_OBJECTIVES];  /* objective values in config order */
    char multipliers[4096];     /* JSON array, one name per multiplying layer, in order */
    char summary[512];          /* decoded architecture in one line */
    double train_s;             /* wall time of training + validation */
    uint64_t seed;              /* training seed */
} db_evaluation;

/* Inserts an evaluation; a row with the same hash is kept as it is (no error). */
eng_status db_evaluation_insert(db_archive *db, const db_evaluation *e);

/* Looks an evaluation up by hash (out->n_obj is set to DB_MAX_OBJECTIVES). ENG_ERR_NOT_FOUND
 * (no message) when absent. */
eng_status db_evaluation_find(db_archive *db, const char *hash, db_evaluation *out);

/* Records finalize's result for an evaluation. */
eng_status db_evaluation_set_test(db_archive *db, const char *hash, double test_accuracy,
                                  int epochs);

/* ------------------------------------------------------------------------------------------
 * Individuals, populations and generations
 * ---------------------------------------------------------------------------------------- */

typedef struct db_individual {
    uint64_t id;                /* NSGA-II birth id */
    int generation;             /* created in */
    const char *genome;         /* genome text (nas_genome_format) */
    char hash[DB_HASH_LEN];
    int64_t parent[2];          /* birth ids, -1 for none */
    bool reused;                /* its evaluation came from the archive */
} db_individual;

eng_status db_individual_insert(db_archive *db, const db_individual *ind);

eng_status db_population_insert(db_archive *db, int generation, uint64_t individual, int rank,
                                double crowding);

typedef struct db_generation {
    int generation;
    int evaluated;              /* candidates trained */
    int reused;                 /* candidates answered from the archive */
    int front_size;             /* feasible rank-0 members */
    double best_error;          /* lowest error of the population's feasible members
                                   (INFINITY: not an objective or none feasible, stored as
                                   NULL) */
    double min_energy_pj;       /* lowest value of the energy objective (energy, else
                                   mul_energy) of the feasible members (same) */
    double hypervolume;         /* of the front in (error, energy), NAN when not computed */
    double wall_s;              /* seconds spent on the generation */
    const unsigned char *state; /* NSGA-II state (evo_nsga2_save) */
    size_t state_size;
} db_generation;

eng_status db_generation_insert(db_archive *db, const db_generation *g);

/* The last committed generation and its state (malloc()ed, free()). ENG_ERR_NOT_FOUND when
 * no generation was committed. */
eng_status db_generation_last(db_archive *db, int *generation, unsigned char **state,
                              size_t *size);

/* The first column of the first row of a query as a double; def when there is no row, the
 * value is NULL or the query fails. */
double db_query_double(db_archive *db, const char *sql, double def);

/* The distinct hashes of all committed individuals (malloc()ed array of *n entries). */
eng_status db_committed_hashes(db_archive *db, char (**hashes)[DB_HASH_LEN], int *n);

#endif /* ARCHIVE_H */
