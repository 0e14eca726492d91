/*
 * search.h - the search driver: NSGA-II over NAS genomes, candidates trained and measured,
 * every generation committed to the SQLite archive, resumable.
 *
 * search_run() starts a new search from a config (creating the archive) and search_resume()
 * continues one from its archive: it re-reads the archived config text, restores the NSGA-II
 * state of the last committed generation and goes on. Evaluation is deterministic (training
 * seeds derive from the run seed and the network hash), so a resumed search reaches the same
 * archive as an uninterrupted one.
 *
 * Interrupts: set *opts->stop (the CLI's SIGINT/SIGTERM/SIGHUP handler of run_signal.h does,
 * with the signal's number) and the search stops at the next batch: every candidate in training writes a
 * checkpoint there (archive_checkpoint.h), finished evaluations of the generation in flight
 * are stored as a cache for resume as soon as they finish, the run is marked "interrupted"
 * and ENG_ERR_INTERRUPTED is returned. A SIGKILL loses, per candidate in training, the batches
 * since its last checkpoint (at most an epoch or training.checkpoint_minutes), and at any
 * moment leaves either no archive or one that resume continues bit-identically (the archive is created
 * under a temporary name and renamed into place).
 *
 * Ownership: search and resume hold the run's claim (run_claim.h) while they write; a second
 * writer is refused with ENG_ERR_EXISTS naming the holder, a stale claim is taken over.
 *
 * Duplicates: a candidate whose decoded network (canonical hash) was already archived, or is
 * in the population or the batch being built, is replaced by another (NSGA-II's duplicate
 * hook); one that gets through anyway is not trained again: its archived result is reused.
 */
#ifndef SEARCH_H
#define SEARCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "archive.h"
#include "config.h"
#include "eng_common.h"

typedef enum search_progress {
    SEARCH_PROGRESS_NONE,       /* quiet */
    SEARCH_PROGRESS_LOG,        /* plain flushed lines: per epoch per candidate, per
                                   candidate, per generation */
    SEARCH_PROGRESS_TTY,        /* a live line rewritten in place: candidates in flight with
                                   epoch and batch, ETA from the batches trained */
} search_progress;

typedef struct search_opts {
    const char *name;           /* overrides the config's name (and default output); NULL */
    const char *output;         /* overrides the database path; NULL */
    int threads;                /* worker threads, >= 1 (0 = all cores) */
    search_progress progress;
    FILE *out;                  /* progress and log stream (stderr when NULL) */
    volatile sig_atomic_t *stop;/* set non-zero to stop at the next batch (the signal's
                                   number names it in the message); may be NULL */
    const cfg_paths *paths;     /* resume: files that replace the archived config's; NULL */
    bool mpi_send_data;         /* under MPI: rank 0 sends its training subset and validation
                                   split to the other ranks (else each reads the data set) */
} search_opts;

/* Starts a search from a config file. Refuses (ENG_ERR_EXISTS) an output database that
 * already exists, saying whether it holds the same config (then: resume it) or another one,
 * except a leftover it replaces: an empty file, or an archive of the same config without a
 * committed generation. The archive records the config's absolute path.
 * Config errors are ENG_ERR_FORMAT/ARG/NOT_FOUND with "FILE:LINE:" messages. *db_path_out
 * (may be NULL, CFG_PATH_MAX bytes) receives the database path. */
eng_status search_run(const char *config_path, const search_opts *opts, char *db_path_out);

/* Continues the search archived in db_path; a finished search returns ENG_OK at once. Paths
 * given in opts->paths are checked and recorded in the archive (also for a finished search),
 * so that later commands (finalize, resume) use them. Refuses archives of a newer schema
 * (ENG_ERR_FORMAT) and runs whose config can no longer be loaded (data set or accelerator
 * moved: ENG_ERR_NOT_FOUND). */
eng_status search_resume(const char *db_path, const search_opts *opts);

/* Parses the archived config of `run` (read from db) with the files of *paths (may be NULL),
 * else those recorded by an earlier `resume --data/--accelerator` (db's moved_paths), in place
 * of its own. A relative config_path (archives of earlier versions) is tried from the working
 * directory, the archive's directory and the one above. A missing file is ENG_ERR_NOT_FOUND:
 * "DB: the archived config no longer loads: ...: dataset.path: '...' does not exist ...; point
 * the archive at the data set with `evoapproxnas resume DB --data DIR`". */
eng_status search_config_load(db_archive *db, const db_run *run, const cfg_paths *paths,
                              cfg_search *cfg);

/* Crash-test aid of the strategies: with EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=N in the
 * environment, a search that has just committed generation gen = N - 1 waits there until
 * *opts->stop is set (a signal), so that a test can SIGKILL it at a known point
 * (tests/cli/search.sh). Returns at once otherwise. */
void search_hold_after_generation(const search_opts *opts, int gen);

#endif /* SEARCH_H */
