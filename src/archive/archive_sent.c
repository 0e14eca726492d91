/*
 * archive_sent.c - the sent table of the search archive: children of an asynchronous search.
 */
#include "archive_sent.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

eng_status db_sent_prepare(db_archive *db)
{
    const char *sql = "CREATE TABLE IF NOT EXISTS sent ("
                      "id INTEGER PRIMARY KEY, parent1 INTEGER NOT NULL, "
                      "parent2 INTEGER NOT NULL, seed INTEGER NOT NULL, "
                      "birth_generation INTEGER NOT NULL, after_generation INTEGER NOT NULL, "
                      "arrival INTEGER, genome TEXT NOT NULL, genes BLOB NOT NULL, state BLOB NOT NULL)";
    if (sqlite3_exec(db_handle(db), sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_sql_error(db, "creating the sent table");
    return ENG_OK;
}

eng_status db_sent_insert(db_archive *db, const db_sent *p)
{
    const char *sql = "INSERT OR REPLACE INTO sent (id, parent1, parent2, seed, "
                      "birth_generation, after_generation, genome, genes, state) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK)
        return db_sql_error(db, "recording a sent child");
    sqlite3_bind_int64(s, 1, p->id);
    sqlite3_bind_int64(s, 2, p->parent[0]);
    sqlite3_bind_int64(s, 3, p->parent[1]);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)p->seed);
    sqlite3_bind_int(s, 5, p->birth_generation);
    sqlite3_bind_int(s, 6, p->after_generation);
    sqlite3_bind_text(s, 7, p->genome, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 8, p->genes, sizeof(double) * (size_t)p->n_genes, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 9, p->state, p->state_size, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ENG_OK : db_sql_error(db, "recording a sent child");
}

eng_status db_sent_arrived(db_archive *db, int64_t id, int arrival)
{
    if (!db_has_table(db, "sent")) return ENG_OK;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), "UPDATE sent SET arrival = ?, state = x'' WHERE id = ?", -1, &s, NULL) !=
        SQLITE_OK)
        return db_sql_error(db, "recording an arrival");
    sqlite3_bind_int(s, 1, arrival);
    sqlite3_bind_int64(s, 2, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ENG_OK : db_sql_error(db, "recording an arrival");
}

void db_sent_free(db_sent *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].genome);
        free(rows[i].genes);
        free(rows[i].state);
    }
    free(rows);
}

/* Copies a column's blob or text into a malloc'ed buffer (one byte more, zeroed). */
static void *column_copy(sqlite3_stmt *s, int col, size_t *size)
{
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    const void *src = sqlite3_column_blob(s, col);
    unsigned char *d = calloc(n + 1, 1);
    if (d && n) memcpy(d, src, n);
    *size = n;
    return d;
}

eng_status db_sent_load(db_archive *db, int n_genes, db_sent **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!db_has_table(db, "sent")) return ENG_OK;
    int cap = (int)db_query_double(db, "SELECT count(*) FROM sent WHERE arrival IS NULL", 0);
    if (cap <= 0) return ENG_OK;
    db_sent *rows = calloc((size_t)cap, sizeof *rows);
    if (!rows) return eng_error(ENG_ERR_NOMEM, "out of memory");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), "SELECT id, parent1, parent2, seed, birth_generation, "
                           "after_generation, genome, genes, state FROM sent WHERE arrival IS NULL "
                           "ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK) {
        free(rows);
        return db_sql_error(db, "reading the sent children");
    }
    eng_status st = ENG_OK;
    int got = 0, rc;
    while (st == ENG_OK && got < cap && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_sent *p = &rows[got++];
        size_t text_size, genes_size;
        p->id = sqlite3_column_int64(s, 0);
        p->parent[0] = sqlite3_column_int64(s, 1);
        p->parent[1] = sqlite3_column_int64(s, 2);
        p->seed = (uint64_t)sqlite3_column_int64(s, 3);
        p->birth_generation = sqlite3_column_int(s, 4);
        p->after_generation = sqlite3_column_int(s, 5);
        p->genome = column_copy(s, 6, &text_size);
        p->genes = column_copy(s, 7, &genes_size);
        p->n_genes = n_genes;
        p->state = column_copy(s, 8, &p->state_size);
        if (!p->genome || !p->genes || !p->state)
            st = eng_error(ENG_ERR_NOMEM, "out of memory");
        else if (genes_size != sizeof(double) * (size_t)n_genes)
            st = eng_error(ENG_ERR_FORMAT, "%s: sent child %lld has %zu bytes of genes, "
                           "not %d genes", db_path(db), (long long)p->id, genes_size, n_genes);
    }
    sqlite3_finalize(s);
    if (st != ENG_OK) {
        db_sent_free(rows, got);
        return st;
    }
    *out = rows;
    *n = got;
    return ENG_OK;
}
