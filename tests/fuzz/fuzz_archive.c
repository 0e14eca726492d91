/*
 * fuzz_archive.c - libFuzzer harness: an archive file opened read-only (db_open), then the
 * queries of `status` and `pareto` through the archive API (run row, generations, committed
 * hashes, the pareto views).
 */
#include <sqlite3.h>
#include <stdlib.h>

#include "archive.h"
#include "fuzz_util.h"

/* Steps through every row of sql, reading each column as text. */
static void read_all(db_archive *db, const char *sql)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK) return;
    while (sqlite3_step(s) == SQLITE_ROW)
        for (int i = 0; i < sqlite3_column_count(s); i++) (void)sqlite3_column_text(s, i);
    sqlite3_finalize(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "archive.db", data, size);
    db_archive *db;
    if (db_open(path, DB_OPEN_READ, &db) != ENG_OK) return 0;
    db_run run;
    if (db_run_load(db, &run) == ENG_OK) db_run_free(&run);
    int generation;
    unsigned char *state = NULL;
    size_t state_size;
    if (db_generation_last(db, &generation, &state, &state_size) == ENG_OK) free(state);
    char (*hashes)[DB_HASH_LEN] = NULL;
    int n;
    if (db_committed_hashes(db, &hashes, &n) == ENG_OK) free(hashes);
    (void)db_query_double(db, "SELECT max(generation) FROM generations", -1);
    (void)db_query_double(db, "SELECT count(*) FROM archived", 0);
    (void)db_query_double(db, "SELECT min(error) FROM archived WHERE violation = 0", 1);
    (void)db_query_double(db, "SELECT count(*) FROM pareto_front", 0);
    read_all(db, "SELECT * FROM pareto_front ORDER BY obj0, obj1, hash");
    read_all(db, "SELECT * FROM pareto_front_generation WHERE generation = 0");
    db_close(db);
    return 0;
}
