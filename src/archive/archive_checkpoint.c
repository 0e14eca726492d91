/*
 * archive_checkpoint.c - the checkpoints table of the search archive: candidates in training.
 */
#include "archive_checkpoint.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

eng_status db_checkpoint_prepare(db_archive *db)
{
    const char *sql = "CREATE TABLE IF NOT EXISTS checkpoints ("
                      "hash TEXT PRIMARY KEY, generation INTEGER NOT NULL, "
                      "epoch INTEGER NOT NULL, epochs INTEGER NOT NULL, "
                      "batch INTEGER NOT NULL, batches INTEGER NOT NULL, loss REAL, "
                      "bytes INTEGER NOT NULL, updated_at TEXT NOT NULL, state BLOB NOT NULL)";
    if (sqlite3_exec(db_handle(db), sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_sql_error(db, "creating the checkpoints table");
    return ENG_OK;
}

eng_status db_checkpoint_save(db_archive *db, const db_checkpoint_info *info, const void *data,
                              size_t size)
{
    const char *sql = "INSERT OR REPLACE INTO checkpoints (hash, generation, epoch, epochs, "
                      "batch, batches, loss, bytes, updated_at, state) VALUES (?, ?, ?, ?, ?, "
                      "?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK)
        return db_sql_error(db, "saving a checkpoint");
    sqlite3_bind_text(s, 1, info->hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, info->generation);
    sqlite3_bind_int(s, 3, info->epoch);
    sqlite3_bind_int(s, 4, info->epochs);
    sqlite3_bind_int64(s, 5, info->batch);
    sqlite3_bind_int64(s, 6, info->batches);
    if (isfinite(info->loss)) sqlite3_bind_double(s, 7, info->loss);
    else sqlite3_bind_null(s, 7);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)size);
    sqlite3_bind_blob64(s, 9, data, size, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ENG_OK : db_sql_error(db, "saving a checkpoint");
}

eng_status db_checkpoint_load(db_archive *db, const char *hash, void **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    if (!db_has_table(db, "checkpoints"))
        return eng_error(ENG_ERR_NOT_FOUND, "%s: no checkpoints", db_path(db));
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), "SELECT state FROM checkpoints WHERE hash = ?", -1,
                           &s, NULL) != SQLITE_OK)
        return db_sql_error(db, "reading a checkpoint");
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    eng_status st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        const void *blob = sqlite3_column_blob(s, 0);
        *data = malloc(n ? n : 1);
        if (!*data) {
            st = eng_error(ENG_ERR_NOMEM, "out of memory for a %zu-byte checkpoint", n);
        } else {
            if (n) memcpy(*data, blob, n);
            *size = n;
            st = ENG_OK;
        }
    } else if (rc == SQLITE_DONE) {
        st = eng_error(ENG_ERR_NOT_FOUND, "%s: no checkpoint of %s", db_path(db), hash);
    } else {
        st = db_sql_error(db, "reading a checkpoint");
    }
    sqlite3_finalize(s);
    return st;
}

eng_status db_checkpoint_delete(db_archive *db, const char *hash)
{
    if (!db_has_table(db, "checkpoints")) return ENG_OK;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), "DELETE FROM checkpoints WHERE hash = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return db_sql_error(db, "deleting a checkpoint");
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ENG_OK : db_sql_error(db, "deleting a checkpoint");
}

eng_status db_checkpoint_clear(db_archive *db)
{
    if (!db_has_table(db, "checkpoints")) return ENG_OK;
    if (sqlite3_exec(db_handle(db), "DELETE FROM checkpoints", NULL, NULL, NULL) != SQLITE_OK)
        return db_sql_error(db, "deleting checkpoints");
    return ENG_OK;
}

eng_status db_checkpoint_list(db_archive *db, db_checkpoint_info **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!db_has_table(db, "checkpoints")) return ENG_OK;
    int cap = (int)db_query_double(db, "SELECT count(*) FROM checkpoints", 0);
    if (cap <= 0) return ENG_OK;
    db_checkpoint_info *rows = calloc((size_t)cap, sizeof *rows);
    if (!rows) return eng_error(ENG_ERR_NOMEM, "out of memory");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), "SELECT hash, generation, epoch, epochs, batch, "
                           "batches, loss, bytes, updated_at FROM checkpoints ORDER BY "
                           "generation, hash", -1, &s, NULL) != SQLITE_OK) {
        free(rows);
        return db_sql_error(db, "listing checkpoints");
    }
    int k = 0;
    while (k < cap && sqlite3_step(s) == SQLITE_ROW) {
        db_checkpoint_info *r = &rows[k++];
        const char *h = (const char *)sqlite3_column_text(s, 0);
        const char *t = (const char *)sqlite3_column_text(s, 8);
        snprintf(r->hash, sizeof r->hash, "%s", h ? h : "");
        r->generation = sqlite3_column_int(s, 1);
        r->epoch = sqlite3_column_int(s, 2);
        r->epochs = sqlite3_column_int(s, 3);
        r->batch = (long)sqlite3_column_int64(s, 4);
        r->batches = (long)sqlite3_column_int64(s, 5);
        r->loss = sqlite3_column_type(s, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 6);
        r->bytes = (size_t)sqlite3_column_int64(s, 7);
        snprintf(r->updated_at, sizeof r->updated_at, "%s", t ? t : "");
    }
    sqlite3_finalize(s);
    *out = rows;
    *n = k;
    return ENG_OK;
}

void db_checkpoint_report(db_archive *db, FILE *out)
{
    db_checkpoint_info *rows;
    int n;
    if (db_checkpoint_list(db, &rows, &n) != ENG_OK || n == 0) return;
    size_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += rows[i].bytes;
    fprintf(out, "in flight:    %d candidate%s checkpointed (%.1f MB)\n", n, n == 1 ? "" : "s",
            (double)bytes / 1e6);
    for (int i = 0; i < n; i++) {
        const db_checkpoint_info *r = &rows[i];
        char loss[32] = "-";
        if (isfinite(r->loss)) snprintf(loss, sizeof loss, "%.4f", r->loss);
        fprintf(out, "  %s  gen %d  epoch %d/%d  batch %ld/%ld  loss %s  (%s)\n", r->hash,
                r->generation, r->epoch, r->epochs, r->batch, r->batches, loss, r->updated_at);
    }
    free(rows);
}
