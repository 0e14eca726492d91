/*
 * archive.h - the SQLite archive of a search: run, generations, individuals, evaluations.
 *
 * One database file per search (default results/<name>.db), in WAL mode so that `sqlite3`
 * can read it while a search writes. The schema (docs/archive.md has it with example
 * queries):
 *
 *   run            one row: name, config text and path, seed, threads, objectives, status
 *                  (running, interrupted, finished, failed), program and schema versions,
 *                  search strategy (nsga2, model_search; schema 3)
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
 *   claim          at most one row: the command that owns the run now (host, pid, start, a
 *                  heartbeat), see src/archive/run_claim.h
 *   moved_paths    files that replace moved ones of the archived config: key (dataset.path,
 *                  energy.accelerator) and absolute path, recorded by `resume --data`
 *
 * A new archive is built under the name DB.creating and renamed into place once it holds the
 * schema and the run (db_create), so that a reader (and a kill at any moment) sees either no
 * archive or a valid one.
 *
 * Opening checks the file: SQLite's page checks (PRAGMA quick_check on read, the full
 * integrity_check before writing), every table, column and view of the schema, the sanity
 * of every row (no negative counts, no binary bytes in texts) and the references between
 * tables; a damaged archive is
 * ENG_ERR_FORMAT with one line naming the table.
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

#define DB_SCHEMA_VERSION 3
#define DB_APPLICATION_ID 0x45414E41 /* "EANA" */
#define DB_MAX_OBJECTIVES 4
#define DB_HASH_LEN 17               /* 16 hex digits + NUL */
#define DB_CREATING_SUFFIX ".creating" /* the name a new archive is built under */

typedef struct db_archive db_archive;

typedef enum db_open_mode {
    DB_OPEN_WRITE,       /* read-write after the full integrity check (resume, finalize) */
    DB_OPEN_READ,        /* read-only after the quick check (status, pareto, report) */
    DB_OPEN_CLAIM,       /* read-write, version check only: the claim's heartbeat */
} db_open_mode;

/* Opens an existing archive. A missing file is ENG_ERR_NOT_FOUND; an empty file, not SQLite,
 * not an archive, a schema newer than DB_SCHEMA_VERSION ("created by a newer evoapproxnas") or
 * a damaged archive ("damaged archive: table T ...") is ENG_ERR_FORMAT. An archive of schema 1
 * or 2 that passes the checks is upgraded in place in one transaction (added columns), even by a
 * DB_OPEN_READ open, which then needs write access once (ENG_ERR_IO without it). DB_OPEN_WRITE
 * adds the claim table when missing. On error *out is NULL and nothing was written. */
eng_status db_open(const char *path, db_open_mode mode, db_archive **out);

typedef struct db_run db_run;

/* Creates an archive with the schema and `run` (status running) under path DB_CREATING_SUFFIX,
 * then publishes it as path: with link(), so that an existing path is kept (ENG_ERR_EXISTS),
 * or, with replace, with rename() over it. Returns it opened with DB_OPEN_WRITE. The caller
 * holds the run's claim (no one else creates path meanwhile). On error nothing is left but
 * what was there before. */
eng_status db_create(const char *path, const db_run *run, bool replace, db_archive **out);

/* Closes the archive (rolls back an open transaction). NULL-safe. */
void db_close(db_archive *db);

/* The SQLite handle, for read-only queries of the views. */
sqlite3 *db_handle(db_archive *db);

/* The file name given to db_open. */
const char *db_path(const db_archive *db);

/* The archive's last SQLite failure as an error "PATH: WHAT: SQLite's message" (what: the
 * action that failed, e.g. "saving a checkpoint"). Returns ENG_ERR_IO. */
eng_status db_sql_error(db_archive *db, const char *what);

/* Whether the archive has a table of this name (false also when the query fails): the tables
 * that later versions added (checkpoints, sent, finalized) are missing from older archives. */
bool db_has_table(db_archive *db, const char *name);

eng_status db_begin(db_archive *db);
eng_status db_commit(db_archive *db);
void db_rollback(db_archive *db);

/* ------------------------------------------------------------------------------------------
 * Run
 * ---------------------------------------------------------------------------------------- */

struct db_run {
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
    char strategy[16];          /* nsga2 | model_search ("" inserts nsga2) */
};

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
    double mul_energy_exact_pj; /* the multipliers' energy with exact multipliers of the
                                   same widths (each layer's 8xN) */
    double mul_energy_exact8_pj;/* ... with exact 8x8 multipliers and 8-bit weights */
    double energy_exact8_pj;    /* total energy of that all-8x8 exact network */
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
    char weight_bits[1024];     /* JSON array, each multiplying layer's weight width */
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

/* ------------------------------------------------------------------------------------------
 * Claim (the policy is in src/archive/run_claim.h)
 * ---------------------------------------------------------------------------------------- */

typedef struct db_claim {
    char command[16];           /* search | resume | finalize */
    char host[256];
    int64_t pid;
    uint64_t proc_start;        /* the process's start time in clock ticks after boot, 0 if
                                   unknown (tells a reused pid apart) */
    char started_at[32];        /* ISO 8601 UTC */
    double heartbeat;           /* seconds since the epoch, on the holder's clock */
} db_claim;

/* The claim row; ENG_ERR_NOT_FOUND (no message) when there is none or no claim table. */
eng_status db_claim_load(db_archive *db, db_claim *out);

/* Writes c as the claim row, replacing any. */
eng_status db_claim_store(db_archive *db, const db_claim *c);

/* Updates the heartbeat, and clears the row, when it is still c's (host and pid). */
eng_status db_claim_heartbeat(db_archive *db, const db_claim *c, double heartbeat);
eng_status db_claim_clear(db_archive *db, const db_claim *c);

/* ------------------------------------------------------------------------------------------
 * Moved files of the archived config
 * ---------------------------------------------------------------------------------------- */

/* The path recorded for a config key ("dataset.path", "energy.accelerator");
 * ENG_ERR_NOT_FOUND (no message) when none. */
eng_status db_moved_path_load(db_archive *db, const char *key, char *path, size_t size);

/* Records (replaces) the path for a config key. */
eng_status db_moved_path_store(db_archive *db, const char *key, const char *path);

#endif /* ARCHIVE_H */
