/*
 * archive_checkpoint.h - checkpoints of candidates in training, kept in the search archive.
 *
 * The table (created by db_checkpoint_prepare with CREATE TABLE IF NOT EXISTS, so archives of
 * older versions gain it on their first resume; the schema version stays):
 *
 *   checkpoints    one row per candidate in training: hash (the network, primary key),
 *                  generation, position (epoch in progress 1..epochs, batches done in it of
 *                  batches, mean loss of those), size in bytes, update time (UTC) and the
 *                  checkpoint itself (eng_train_checkpoint's format, eng_train.h)
 *
 * A row is replaced in one statement (atomically: a kill never leaves half a checkpoint) and
 * deleted in the transaction that stores its finished candidate's evaluation (as a cache until
 * the generation commits); the generation's transaction deletes any left. The rows double as the
 * search's record of candidates in flight, which `status` prints (db_checkpoint_report).
 *
 * Not thread-safe: callers serialize (the search driver holds a critical section) and never
 * write a checkpoint inside a generation's transaction.
 */
#ifndef ARCHIVE_CHECKPOINT_H
#define ARCHIVE_CHECKPOINT_H

#include <stdio.h>

#include "archive.h"

typedef struct db_checkpoint_info {
    char hash[DB_HASH_LEN];     /* the network */
    int generation;
    int epoch, epochs;          /* epoch in progress (or just finished), 1-based */
    long batch, batches;        /* batches of that epoch done, per epoch */
    double loss;                /* mean loss of those batches (NAN: none) */
    size_t bytes;               /* size of the checkpoint */
    char updated_at[32];        /* UTC, ISO 8601 (filled by db_checkpoint_list) */
} db_checkpoint_info;

/* Creates the table when missing (an archive opened for writing). */
eng_status db_checkpoint_prepare(db_archive *db);

/* Stores (replaces) the checkpoint of info->hash: data, size bytes, with info's position. */
eng_status db_checkpoint_save(db_archive *db, const db_checkpoint_info *info, const void *data,
                              size_t size);

/* The checkpoint of a network into *data (malloc()ed, *size bytes); ENG_ERR_NOT_FOUND when
 * there is none (also when the archive has no checkpoint table). */
eng_status db_checkpoint_load(db_archive *db, const char *hash, void **data, size_t *size);

/* Deletes the checkpoint of a network (none: nothing happens). */
eng_status db_checkpoint_delete(db_archive *db, const char *hash);

/* Deletes every checkpoint (all candidates of the generation being committed are finished;
 * call inside its transaction). Nothing to do without a checkpoint table. */
eng_status db_checkpoint_clear(db_archive *db);

/* All checkpoints' positions, generation and hash order (*out malloc()ed, *n rows; none
 * when the archive has no checkpoint table). */
eng_status db_checkpoint_list(db_archive *db, db_checkpoint_info **out, int *n);

/* Prints the candidates in flight for `status`: a line with their count and total size, then
 * one per candidate (hash, generation, epoch and batch, loss, last update). Nothing when there
 * are none. */
void db_checkpoint_report(db_archive *db, FILE *out);

#endif /* ARCHIVE_CHECKPOINT_H */
