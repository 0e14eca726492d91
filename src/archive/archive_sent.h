/*
 * archive_sent.h - the children an asynchronous search sent to its workers, kept in the
 * search archive: those still out are sent again by resume.
 *
 * The table (created by db_sent_prepare with CREATE TABLE IF NOT EXISTS; archives of older
 * versions and generational searches have none):
 *
 *   sent           one row per child sent to a worker: id (its birth id, primary key),
 *                  parent1, parent2 (birth ids), seed, birth_generation, after_generation (the
 *                  arrivals committed when it was bred: the population state it was bred
 *                  from), arrival (the generation that committed it; NULL while it is out),
 *                  genome (text, as in individuals), genes (n doubles, host byte order) and
 *                  state (the NSGA-II state right after its breeding, evo_nsga2_save; emptied
 *                  on arrival)
 *
 * A row is written (in its own transaction) before the child is handed to a worker, and its
 * arrival set in the transaction that commits the child. Resume restores the NSGA-II state of
 * the latest row still out that was bred after the last committed arrival (else that
 * arrival's own state), sends the children still out again in id order, then breeds on.
 *
 * Not thread-safe: callers serialize (search_eval_locked while workers write checkpoints).
 */
#ifndef ARCHIVE_SENT_H
#define ARCHIVE_SENT_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"

typedef struct db_sent {
    int64_t id;
    int64_t parent[2];
    uint64_t seed;
    int birth_generation;
    int after_generation;
    char *genome;               /* text form (owned) */
    double *genes;              /* n_genes values (owned) */
    int n_genes;
    unsigned char *state;       /* NSGA-II state after the breeding (owned) */
    size_t state_size;
} db_sent;

/* Creates the table when missing (an archive opened for writing). */
eng_status db_sent_prepare(db_archive *db);

/* Stores one row (replacing a row of the same id). */
eng_status db_sent_insert(db_archive *db, const db_sent *p);

/* Marks the row of this id arrived in generation `arrival` (nothing when there is none or no
 * table). */
eng_status db_sent_arrived(db_archive *db, int64_t id, int arrival);

/* The rows still out (arrival NULL) in id order into a malloc'ed array (*out NULL and *n 0 when none or no table).
 * A row whose genes blob does not hold n_genes doubles is ENG_ERR_FORMAT, naming the archive. */
eng_status db_sent_load(db_archive *db, int n_genes, db_sent **out, int *n);

/* Frees the rows of db_sent_load. NULL-safe. */
void db_sent_free(db_sent *rows, int n);

#endif /* ARCHIVE_SENT_H */
