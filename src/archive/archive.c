/*
 * archive.c - the SQLite archive: schema, version checks and the typed inserts and lookups.
 */
#include "archive.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine_config.h"

struct db_archive {
    sqlite3 *db;
    char path[4096];
    bool in_tx;
};

/* The dominance test of the Pareto views over obj0..obj3 (unused objectives are 0). */
#define DOMINATES(o, m)                                                                     \
    o ".obj0 <= " m ".obj0 AND " o ".obj1 <= " m ".obj1 AND " o ".obj2 <= " m ".obj2 AND "   \
    o ".obj3 <= " m ".obj3 AND (" o ".obj0 < " m ".obj0 OR " o ".obj1 < " m ".obj1 OR "      \
    o ".obj2 < " m ".obj2 OR " o ".obj3 < " m ".obj3)"

/* The evaluations columns of schema 2 (per-layer weight widths and the all-8x8 exact
 * reference), also what the upgrade from schema 1 adds. */
#define EVALUATIONS_V2_COLUMNS                                                              \
    "  weight_bits TEXT NOT NULL DEFAULT '[]',\n"                                           \
    "  mul_energy_exact8_pj REAL,\n"                                                        \
    "  energy_exact8_pj REAL"

#define MEMBERS_VIEW                                                                        \
    "CREATE VIEW members AS\n"                                                               \
    "  SELECT p.generation, p.individual, p.rank, p.crowding, i.genome, e.hash,\n"           \
    "         e.error, e.accuracy, e.energy_pj, e.mul_energy_pj, e.mul_energy_exact_pj,\n"     \
    "         e.params, e.macs, e.exact, e.violation, e.obj0, e.obj1, e.obj2, e.obj3,\n"       \
    "         e.multipliers, e.summary, e.test_accuracy, e.weight_bits,\n"                    \
    "         e.mul_energy_exact8_pj, e.energy_exact8_pj\n"                                   \
    "  FROM population p JOIN individuals i ON i.id = p.individual\n"                        \
    "       JOIN evaluations e ON e.hash = i.hash;\n"

static const char upgrade_v1_sql[] =
    "ALTER TABLE evaluations ADD COLUMN weight_bits TEXT NOT NULL DEFAULT '[]';\n"
    "ALTER TABLE evaluations ADD COLUMN mul_energy_exact8_pj REAL;\n"
    "ALTER TABLE evaluations ADD COLUMN energy_exact8_pj REAL;\n"
    "DROP VIEW members;\n" MEMBERS_VIEW
    "PRAGMA user_version = 2;\n";

/* Schema 3: the run's search strategy (archives before it were all NSGA-II). */
static const char upgrade_v2_sql[] =
    "ALTER TABLE run ADD COLUMN strategy TEXT NOT NULL DEFAULT 'nsga2';\n"
    "PRAGMA user_version = 3;\n";

static const char schema_sql[] =
    "CREATE TABLE run (\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  name TEXT NOT NULL,\n"
    "  config_text TEXT NOT NULL,\n"
    "  config_path TEXT NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  threads INTEGER NOT NULL,\n"
    "  generations INTEGER NOT NULL,\n"
    "  objectives TEXT NOT NULL,\n"
    "  status TEXT NOT NULL,\n"
    "  program_version TEXT NOT NULL,\n"
    "  schema_version INTEGER NOT NULL,\n"
    "  created_at TEXT NOT NULL,\n"
    "  updated_at TEXT NOT NULL,\n"
    "  strategy TEXT NOT NULL DEFAULT 'nsga2');\n"
    "CREATE TABLE generations (\n"
    "  generation INTEGER PRIMARY KEY,\n"
    "  evaluated INTEGER NOT NULL,\n"
    "  reused INTEGER NOT NULL,\n"
    "  front_size INTEGER NOT NULL,\n"
    "  best_error REAL,\n"
    "  min_energy_pj REAL,\n"
    "  hypervolume REAL,\n"
    "  wall_s REAL,\n"
    "  finished_at TEXT NOT NULL,\n"
    "  state BLOB NOT NULL);\n"
    "CREATE TABLE evaluations (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  hash TEXT NOT NULL UNIQUE,\n"
    "  generation INTEGER NOT NULL,\n"
    "  error REAL NOT NULL,\n"
    "  accuracy REAL NOT NULL,\n"
    "  energy_pj REAL NOT NULL,\n"
    "  mul_energy_pj REAL NOT NULL,\n"
    "  mul_energy_exact_pj REAL NOT NULL,\n"
    "  mac_energy_pj REAL NOT NULL,\n"
    "  memory_energy_pj REAL NOT NULL,\n"
    "  params INTEGER NOT NULL,\n"
    "  macs INTEGER NOT NULL,\n"
    "  mul_layers INTEGER NOT NULL,\n"
    "  exact INTEGER NOT NULL,\n"
    "  violation REAL NOT NULL,\n"
    "  obj0 REAL NOT NULL, obj1 REAL NOT NULL, obj2 REAL NOT NULL, obj3 REAL NOT NULL,\n"
    "  multipliers TEXT NOT NULL,\n"
    "  summary TEXT NOT NULL,\n"
    "  train_s REAL NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  test_accuracy REAL,\n"
    "  final_epochs INTEGER,\n"
    EVALUATIONS_V2_COLUMNS ");\n"
    "CREATE TABLE individuals (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  generation INTEGER NOT NULL,\n"
    "  genome TEXT NOT NULL,\n"
    "  hash TEXT NOT NULL REFERENCES evaluations(hash),\n"
    "  parent1 INTEGER,\n"
    "  parent2 INTEGER,\n"
    "  reused INTEGER NOT NULL);\n"
    "CREATE INDEX individuals_hash ON individuals(hash);\n"
    "CREATE TABLE population (\n"
    "  generation INTEGER NOT NULL,\n"
    "  individual INTEGER NOT NULL REFERENCES individuals(id),\n"
    "  rank INTEGER NOT NULL,\n"
    "  crowding REAL,\n"
    "  PRIMARY KEY (generation, individual));\n"
    MEMBERS_VIEW
    "CREATE VIEW pareto_front_generation AS\n"
    "  SELECT m.* FROM members m WHERE m.violation = 0 AND NOT EXISTS (\n"
    "    SELECT 1 FROM members o WHERE o.generation = m.generation AND o.violation = 0\n"
    "      AND " DOMINATES("o", "m") ");\n"
    "CREATE VIEW archived AS\n"
    "  SELECT e.* FROM evaluations e\n"
    "  WHERE EXISTS (SELECT 1 FROM individuals i WHERE i.hash = e.hash);\n"
    "CREATE VIEW pareto_front AS\n"
    "  SELECT m.* FROM archived m WHERE m.violation = 0 AND NOT EXISTS (\n"
    "    SELECT 1 FROM archived o WHERE o.violation = 0 AND " DOMINATES("o", "m") ");\n";

/* Tables added after schema 1, created on every open-for-write (archives of older versions
 * get them too): the owner of the run while a command writes it (src/archive/run_claim.c), and the
 * files that replace moved ones of the archived config (`resume --data`). */
static const char added_sql[] =
    "CREATE TABLE IF NOT EXISTS claim (\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  command TEXT NOT NULL,\n"
    "  host TEXT NOT NULL,\n"
    "  pid INTEGER NOT NULL,\n"
    "  proc_start INTEGER NOT NULL,\n"
    "  started_at TEXT NOT NULL,\n"
    "  heartbeat REAL NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS moved_paths (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  path TEXT NOT NULL);\n";

/* The tables and columns every archive has (schema 1), for the check on open. */
static const struct {
    const char *table;
    const char *columns;        /* comma-separated, no spaces */
} schema_tables[] = {
    {"run", "id,name,config_text,config_path,seed,threads,generations,objectives,status,"
            "program_version,schema_version,created_at,updated_at"},
    {"generations", "generation,evaluated,reused,front_size,best_error,min_energy_pj,"
                    "hypervolume,wall_s,finished_at,state"},
    {"evaluations", "id,hash,generation,error,accuracy,energy_pj,mul_energy_pj,"
                    "mul_energy_exact_pj,mac_energy_pj,memory_energy_pj,params,macs,mul_layers,"
                    "exact,violation,obj0,obj1,obj2,obj3,multipliers,summary,train_s,seed,"
                    "test_accuracy,final_epochs"},
    {"individuals", "id,generation,genome,hash,parent1,parent2,reused"},
    {"population", "generation,individual,rank,crowding"},
};
static const char *const schema_views[] = {"members", "pareto_front_generation", "archived",
                                           "pareto_front"};

/* Rows no writer of this program can produce: what a damaged page that SQLite's own checks
 * let through shows as (a flipped byte in a number or a text). One query per table; each
 * returns the first bad row's key. */
static const struct {
    const char *table;
    const char *sql;
} sanity_checks[] = {
    {"run", "SELECT 'id ' || id FROM run WHERE id != 1 OR typeof(seed) != 'integer' OR "
            "threads < 1 OR generations < 0 OR status NOT IN ('running', 'interrupted', "
            "'finished', 'failed') OR typeof(config_text) != 'text' LIMIT 1"},
    {"generations", "SELECT 'generation ' || generation FROM generations WHERE generation < 0 "
                    "OR evaluated < 0 OR reused < 0 OR front_size < 0 OR typeof(state) != "
                    "'blob' OR length(state) = 0 LIMIT 1"},
    {"evaluations", "SELECT 'row ' || id FROM evaluations WHERE typeof(hash) != 'text' OR "
                    "length(hash) != 16 OR hash GLOB '*[^0-9a-f]*' OR generation < 0 OR "
                    "NOT (error BETWEEN 0 AND 1) OR NOT (energy_pj >= 0) OR "
                    "NOT (mul_energy_pj >= 0) OR NOT (memory_energy_pj >= 0) OR "
                    "typeof(params) != 'integer' OR params < 0 OR typeof(macs) != 'integer' "
                    "OR macs < 0 OR mul_layers < 0 OR exact NOT IN (0, 1) OR "
                    "NOT (violation >= 0) OR multipliers GLOB '*[^ -~]*' OR "
                    "summary GLOB '*[^ -~]*' OR NOT (test_accuracy IS NULL OR test_accuracy "
                    "BETWEEN 0 AND 1) LIMIT 1"},
    {"individuals", "SELECT 'id ' || id FROM individuals WHERE id < 0 OR generation < 0 OR "
                    "typeof(hash) != 'text' OR length(hash) != 16 OR hash GLOB '*[^0-9a-f]*' OR "
                    "genome GLOB '*[^ -~]*' OR reused NOT IN (0, 1) LIMIT 1"},
    {"population", "SELECT 'generation ' || generation FROM population WHERE generation < 0 OR "
                   "individual < 0 OR rank < 0 OR NOT (crowding >= 0) LIMIT 1"},
};

eng_status db_sql_error(db_archive *db, const char *what)
{
    return eng_error(ENG_ERR_IO, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->db));
}

bool db_has_table(db_archive *db, const char *name)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                           "AND name = ?", -1, &s, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0;
    sqlite3_finalize(s);
    return found;
}

static eng_status exec(db_archive *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        eng_status st = eng_error(ENG_ERR_IO, "%s: %s", db->path, err ? err : "SQLite error");
        sqlite3_free(err);
        return st;
    }
    return ENG_OK;
}

static eng_status prepare(db_archive *db, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2(db->db, sql, -1, stmt, NULL) != SQLITE_OK) return db_sql_error(db, sql);
    return ENG_OK;
}

/* Steps a write statement to completion and finalizes it. */
static eng_status step_done(db_archive *db, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? ENG_OK : db_sql_error(db, what);
}

static void now_iso(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void copy_text(const unsigned char *t, char *buf, size_t size)
{
    snprintf(buf, size, "%s", t ? (const char *)t : "");
}

static int query_int(db_archive *db, const char *sql, int def)
{
    sqlite3_stmt *s;
    int v = def;
    if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK) return def;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static eng_status check_existing(db_archive *db)
{
    /* Reading the schema fails on a file that is not a database. */
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) !=
        SQLITE_OK)
        return eng_error(ENG_ERR_FORMAT, "%s: not an SQLite database (%s)", db->path,
                         sqlite3_errmsg(db->db));
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return eng_error(ENG_ERR_FORMAT, "%s: not an SQLite database (%s)", db->path,
                         sqlite3_errmsg(db->db));
    if (query_int(db, "PRAGMA application_id", 0) != DB_APPLICATION_ID)
        return eng_error(ENG_ERR_FORMAT, "%s: an SQLite database, but not an evoapproxnas "
                         "archive", db->path);
    int version = query_int(db, "PRAGMA user_version", 0);
    if (version > DB_SCHEMA_VERSION)
        return eng_error(ENG_ERR_FORMAT, "%s: created by a newer evoapproxnas (archive schema "
                         "%d, this program knows schema %d); use a newer evoapproxnas",
                         db->path, version, DB_SCHEMA_VERSION);
    if (version < 1)
        return eng_error(ENG_ERR_FORMAT, "%s: archive schema version %d is unknown", db->path,
                         version);
    return ENG_OK;
}

/* "damaged archive" in the words every check uses. */
static eng_status damaged(db_archive *db, const char *table, const char *what)
{
    return eng_error(ENG_ERR_FORMAT, "%s: damaged archive: %s%s%s; restore it from a copy "
                     "", db->path, table ? "table " : "",
                     table ? table : "", what);
}

/* The first line of PRAGMA quick_check/integrity_check (optionally of one table) into msg;
 * true when it is "ok". */
static bool integrity_ok(db_archive *db, const char *pragma, const char *table, char *msg,
                         size_t size)
{
    char sql[128];
    if (table) snprintf(sql, sizeof sql, "PRAGMA %s(%s)", pragma, table);
    else snprintf(sql, sizeof sql, "PRAGMA %s(1)", pragma);
    sqlite3_stmt *s;
    snprintf(msg, size, "%s", "cannot be read");
    if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK) {
        snprintf(msg, size, "%s", sqlite3_errmsg(db->db));
        return false;
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) copy_text(sqlite3_column_text(s, 0), msg, size);
    else snprintf(msg, size, "%s", sqlite3_errmsg(db->db));
    sqlite3_finalize(s);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return rc == SQLITE_ROW && strcmp(msg, "ok") == 0;
}

/* Tables, columns and views of the schema, SQLite's page checks (quick: no index contents),
 * then the sanity of every row. Names the damaged table. */
static eng_status check_contents(db_archive *db, bool full)
{
    const char *pragma = full ? "integrity_check" : "quick_check";
    char msg[512], sql[256];
    for (size_t t = 0; t < sizeof schema_tables / sizeof schema_tables[0]; t++) {
        const char *name = schema_tables[t].table;
        snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s')", name);
        char have[1024] = ",";
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK)
            return damaged(db, name, " cannot be read");
        while (sqlite3_step(s) == SQLITE_ROW && strlen(have) < sizeof have - 80) {
            copy_text(sqlite3_column_text(s, 0), have + strlen(have), 64);
            strcat(have, ",");
        }
        sqlite3_finalize(s);
        if (strcmp(have, ",") == 0) return damaged(db, name, " is missing");
        for (const char *c = schema_tables[t].columns; *c;) {
            size_t len = strcspn(c, ",");
            char want[72];
            snprintf(want, sizeof want, ",%.*s,", (int)len, c);
            if (!strstr(have, want)) {
                snprintf(msg, sizeof msg, " lacks column %.*s", (int)len, c);
                return damaged(db, name, msg);
            }
            c += len + (c[len] == ',');
        }
    }
    for (size_t v = 0; v < sizeof schema_views / sizeof schema_views[0]; v++) {
        snprintf(sql, sizeof sql, "SELECT * FROM %s LIMIT 0", schema_views[v]);
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK) {
            snprintf(msg, sizeof msg, "view %s is missing or broken", schema_views[v]);
            return damaged(db, NULL, msg);
        }
        sqlite3_finalize(s);
    }
    if (!integrity_ok(db, pragma, NULL, msg, sizeof msg)) {
        /* name the table: the same check, one table (and its indexes) at a time */
        char one[512];
        for (size_t t = 0; t < sizeof schema_tables / sizeof schema_tables[0]; t++)
            if (!integrity_ok(db, pragma, schema_tables[t].table, one, sizeof one)) {
                snprintf(msg, sizeof msg, " fails SQLite's integrity check (%.400s)", one);
                return damaged(db, schema_tables[t].table, msg);
            }
        snprintf(one, sizeof one, "the file fails SQLite's integrity check (%.400s)", msg);
        return damaged(db, NULL, one);
    }
    for (size_t t = 0; t < sizeof sanity_checks / sizeof sanity_checks[0]; t++) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db->db, sanity_checks[t].sql, -1, &s, NULL) != SQLITE_OK)
            return damaged(db, sanity_checks[t].table, " cannot be read");
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            char key[64];
            copy_text(sqlite3_column_text(s, 0), key, sizeof key);
            snprintf(msg, sizeof msg, ": %s holds impossible values", key);
        } else if (rc != SQLITE_DONE) {
            snprintf(msg, sizeof msg, " cannot be read (%.400s)", sqlite3_errmsg(db->db));
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) return damaged(db, sanity_checks[t].table, msg);
    }
    /* references: an individual's network, a member's individual */
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db->db, "PRAGMA foreign_key_check", -1, &s, NULL) != SQLITE_OK)
        return damaged(db, NULL, "the references cannot be checked");
    eng_status st = ENG_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        char table[64], parent[64];
        copy_text(sqlite3_column_text(s, 0), table, sizeof table);
        copy_text(sqlite3_column_text(s, 2), parent, sizeof parent);
        snprintf(msg, sizeof msg, ": row %lld refers to a missing row of %s",
                 (long long)sqlite3_column_int64(s, 1), parent);
        st = damaged(db, table, msg);
    }
    sqlite3_finalize(s);
    return st;
}

/* Brings an archive of schema 1 or 2 to the current schema (added columns only) in one
 * transaction; a read-only open reopens the file for writing just for that. */
static eng_status upgrade(db_archive *db, db_open_mode mode)
{
    int from = query_int(db, "PRAGMA user_version", 0);
    if (mode == DB_OPEN_READ) {
        sqlite3_close(db->db);
        db->db = NULL;
        if (sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
            return eng_error(ENG_ERR_IO, "%s: written by an older evoapproxnas (archive schema "
                             "%d): it needs write access once to be upgraded to schema %d (%s)",
                             db->path, from, DB_SCHEMA_VERSION,
                             db->db ? sqlite3_errmsg(db->db) : "out of memory");
        sqlite3_busy_timeout(db->db, 10000);
    }
    eng_status st = exec(db, "BEGIN IMMEDIATE");
    if (st == ENG_OK && query_int(db, "PRAGMA user_version", 0) < 2)
        st = exec(db, upgrade_v1_sql);
    if (st == ENG_OK && query_int(db, "PRAGMA user_version", 0) < 3)
        st = exec(db, upgrade_v2_sql);
    if (st != ENG_OK) {
        exec(db, "ROLLBACK");
        return eng_error_prefix(st, "%s: upgrading the archive from schema %d", db->path, from);
    }
    return exec(db, "COMMIT");
}

/* The columns of schemas 2 and 3 (after the upgrade): present, and no impossible values in
 * them. */
static eng_status check_added_columns(db_archive *db)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db->db, "SELECT 'row ' || id FROM evaluations WHERE weight_bits "
                           "GLOB '*[^ -~]*' OR NOT (mul_energy_exact8_pj IS NULL OR "
                           "mul_energy_exact8_pj >= 0) OR NOT (energy_exact8_pj IS NULL OR "
                           "energy_exact8_pj >= 0) LIMIT 1", -1, &s, NULL) != SQLITE_OK)
        return damaged(db, "evaluations", " lacks the schema-2 columns (weight_bits, "
                       "mul_energy_exact8_pj, energy_exact8_pj)");
    eng_status st = ENG_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        char key[64], msg[128];
        copy_text(sqlite3_column_text(s, 0), key, sizeof key);
        snprintf(msg, sizeof msg, ": %s holds impossible values", key);
        st = damaged(db, "evaluations", msg);
    }
    sqlite3_finalize(s);
    if (st != ENG_OK) return st;
    /* schema 3 */
    if (sqlite3_prepare_v2(db->db, "SELECT 'id ' || id FROM run WHERE strategy NOT IN "
                           "('nsga2', 'model_search') LIMIT 1", -1, &s, NULL) != SQLITE_OK)
        return damaged(db, "run", " lacks the schema-3 column strategy");
    if (sqlite3_step(s) == SQLITE_ROW) st = damaged(db, "run", ": an unknown strategy");
    sqlite3_finalize(s);
    return st;
}

eng_status db_open(const char *path, db_open_mode mode, db_archive **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s" DB_CREATING_SUFFIX, path);
        return eng_error(ENG_ERR_NOT_FOUND, "%s: no such archive%s", path,
                         stat(tmp, &sb) == 0 ? " (a search is creating it, or was stopped while "
                         "creating it: then run the search again)" : "");
    }
    if (sb.st_size == 0)
        return eng_error(ENG_ERR_FORMAT, "%s: an empty file, not an evoapproxnas archive", path);
    db_archive *db = calloc(1, sizeof *db);
    if (!db) return eng_error(ENG_ERR_NOMEM, "out of memory");
    snprintf(db->path, sizeof db->path, "%s", path);
    int flags = mode == DB_OPEN_READ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    eng_status st = ENG_OK;
    if (sqlite3_open_v2(path, &db->db, flags, NULL) != SQLITE_OK) {
        st = eng_error(ENG_ERR_IO, "%s: cannot open: %s", path,
                       db->db ? sqlite3_errmsg(db->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db->db, mode == DB_OPEN_CLAIM ? 500 : 10000);
    st = check_existing(db);
    if (st == ENG_OK && mode != DB_OPEN_CLAIM) st = check_contents(db, mode == DB_OPEN_WRITE);
    if (st == ENG_OK && mode != DB_OPEN_CLAIM &&
        query_int(db, "PRAGMA user_version", 0) < DB_SCHEMA_VERSION)
        st = upgrade(db, mode);
    if (st == ENG_OK && mode != DB_OPEN_CLAIM) st = check_added_columns(db);
    if (st == ENG_OK && mode != DB_OPEN_READ) st = exec(db, "PRAGMA foreign_keys = ON");
    if (st == ENG_OK && mode == DB_OPEN_WRITE) st = exec(db, added_sql);
    if (st != ENG_OK) goto fail;
    *out = db;
    return ENG_OK;
fail:
    sqlite3_close(db->db);
    free(db);
    return st;
}

/* Removes a database file's WAL and shared-memory files (a WAL left beside a new file would
 * be replayed into it). */
static void unlink_sidecars(const char *path)
{
    char side[4300];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Makes a finished rename or link durable. */
static void sync_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

eng_status db_create(const char *path, const db_run *run, bool replace, db_archive **out)
{
    *out = NULL;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s" DB_CREATING_SUFFIX, path);
    struct stat sb;
    if (!replace && stat(path, &sb) == 0)
        return eng_error(ENG_ERR_EXISTS, "%s: already exists", path);
    unlink(tmp);
    unlink_sidecars(tmp);
    db_archive *db = calloc(1, sizeof *db);
    if (!db) return eng_error(ENG_ERR_NOMEM, "out of memory");
    snprintf(db->path, sizeof db->path, "%s", path);
    eng_status st = ENG_OK;
    if (sqlite3_open_v2(tmp, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        st = eng_error(ENG_ERR_IO, "%s: cannot create: %s", tmp,
                       db->db ? sqlite3_errmsg(db->db) : "out of memory");
    }
    char sql[64];
    if (st == ENG_OK) st = exec(db, "PRAGMA journal_mode = WAL");
    if (st == ENG_OK) st = exec(db, "BEGIN");
    if (st == ENG_OK) st = exec(db, schema_sql);
    if (st == ENG_OK) st = exec(db, added_sql);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", DB_SCHEMA_VERSION);
    if (st == ENG_OK) st = exec(db, sql);
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d", DB_APPLICATION_ID);
    if (st == ENG_OK) st = exec(db, sql);
    if (st == ENG_OK) st = db_run_insert(db, run);
    if (st == ENG_OK) st = exec(db, "COMMIT");
    /* closing the last connection checkpoints the WAL into the file and removes it */
    if (sqlite3_close(db->db) != SQLITE_OK && st == ENG_OK)
        st = eng_error(ENG_ERR_IO, "%s: cannot close the new archive", tmp);
    free(db);
    if (st == ENG_OK) {
        unlink_sidecars(path);
        /* link() publishes without replacing an archive that appeared meanwhile */
        int rc = replace ? rename(tmp, path) : link(tmp, path);
        if (rc != 0 && !replace && errno != EEXIST) rc = rename(tmp, path);
        if (rc != 0)
            st = errno == EEXIST ? eng_error(ENG_ERR_EXISTS, "%s: already exists", path)
                                 : eng_error(ENG_ERR_IO, "%s: cannot rename %s into place: %s",
                                             path, tmp, strerror(errno));
    }
    unlink(tmp);
    unlink_sidecars(tmp);
    if (st != ENG_OK) return st;
    sync_parent_dir(path);
    return db_open(path, DB_OPEN_WRITE, out);
}

void db_close(db_archive *db)
{
    if (!db) return;
    if (db->in_tx) db_rollback(db);
    sqlite3_close(db->db);
    free(db);
}

sqlite3 *db_handle(db_archive *db) { return db->db; }
const char *db_path(const db_archive *db) { return db->path; }

eng_status db_begin(db_archive *db)
{
    eng_status st = exec(db, "BEGIN IMMEDIATE");
    if (st == ENG_OK) db->in_tx = true;
    return st;
}

eng_status db_commit(db_archive *db)
{
    eng_status st = exec(db, "COMMIT");
    if (st == ENG_OK) db->in_tx = false;
    return st;
}

void db_rollback(db_archive *db)
{
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    db->in_tx = false;
}

/* ------------------------------------------------------------------------------------------
 * Run
 * ---------------------------------------------------------------------------------------- */

eng_status db_run_insert(db_archive *db, const db_run *run)
{
    sqlite3_stmt *s;
    char now[32];
    now_iso(now, sizeof now);
    ENG_TRY(prepare(db, "INSERT INTO run (id, name, config_text, config_path, seed, threads, "
                        "generations, objectives, status, program_version, schema_version, "
                        "created_at, updated_at, strategy) VALUES (1, ?, ?, ?, ?, ?, ?, ?, "
                        "'running', ?, ?, ?, ?, ?)", &s));
    sqlite3_bind_text(s, 1, run->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, run->config_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, run->config_path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)run->seed);
    sqlite3_bind_int(s, 5, run->threads);
    sqlite3_bind_int(s, 6, run->generations);
    sqlite3_bind_text(s, 7, run->objectives, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, EVOAPPROXNAS_VERSION, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 9, DB_SCHEMA_VERSION);
    sqlite3_bind_text(s, 10, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 11, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 12, run->strategy[0] ? run->strategy : "nsga2", -1, SQLITE_TRANSIENT);
    return step_done(db, s, "inserting the run");
}

static void copy_col(sqlite3_stmt *s, int col, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(buf, size, "%s", t ? (const char *)t : "");
}

eng_status db_run_load(db_archive *db, db_run *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "SELECT name, config_text, config_path, seed, threads, objectives, "
                        "status, program_version, schema_version, created_at, updated_at, "
                        "generations, strategy FROM run WHERE id = 1", &s));
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        if (rc == SQLITE_DONE)
            return eng_error(ENG_ERR_NOT_FOUND, "%s: the archive has no run", db->path);
        return db_sql_error(db, "reading the run");
    }
    copy_col(s, 0, out->name, sizeof out->name);
    const unsigned char *t = sqlite3_column_text(s, 1);
    out->config_text = strdup(t ? (const char *)t : "");
    copy_col(s, 2, out->config_path, sizeof out->config_path);
    out->seed = (uint64_t)sqlite3_column_int64(s, 3);
    out->threads = sqlite3_column_int(s, 4);
    copy_col(s, 5, out->objectives, sizeof out->objectives);
    copy_col(s, 6, out->status, sizeof out->status);
    copy_col(s, 7, out->program_version, sizeof out->program_version);
    out->schema_version = sqlite3_column_int(s, 8);
    copy_col(s, 9, out->created_at, sizeof out->created_at);
    copy_col(s, 10, out->updated_at, sizeof out->updated_at);
    out->generations = sqlite3_column_int(s, 11);
    copy_col(s, 12, out->strategy, sizeof out->strategy);
    sqlite3_finalize(s);
    if (!out->config_text) return eng_error(ENG_ERR_NOMEM, "out of memory");
    return ENG_OK;
}

void db_run_free(db_run *run)
{
    if (!run) return;
    free(run->config_text);
    run->config_text = NULL;
}

eng_status db_run_set_status(db_archive *db, const char *status)
{
    sqlite3_stmt *s;
    char now[32];
    now_iso(now, sizeof now);
    ENG_TRY(prepare(db, "UPDATE run SET status = ?, updated_at = ? WHERE id = 1", &s));
    sqlite3_bind_text(s, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, now, -1, SQLITE_TRANSIENT);
    return step_done(db, s, "updating the run status");
}

/* ------------------------------------------------------------------------------------------
 * Evaluations
 * ---------------------------------------------------------------------------------------- */

eng_status db_evaluation_insert(db_archive *db, const db_evaluation *e)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "INSERT OR IGNORE INTO evaluations (hash, generation, error, accuracy, "
                        "energy_pj, mul_energy_pj, mul_energy_exact_pj, mac_energy_pj, "
                        "memory_energy_pj, params, macs, mul_layers, exact, violation, obj0, "
                        "obj1, obj2, obj3, multipliers, summary, train_s, seed, weight_bits, "
                        "mul_energy_exact8_pj, energy_exact8_pj) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        "?)",
                    &s));
    int k = 1;
    sqlite3_bind_text(s, k++, e->hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, k++, e->generation);
    sqlite3_bind_double(s, k++, e->error);
    sqlite3_bind_double(s, k++, 1.0 - e->error);
    sqlite3_bind_double(s, k++, e->energy_pj);
    sqlite3_bind_double(s, k++, e->mul_energy_pj);
    sqlite3_bind_double(s, k++, e->mul_energy_exact_pj);
    sqlite3_bind_double(s, k++, e->mac_energy_pj);
    sqlite3_bind_double(s, k++, e->memory_energy_pj);
    sqlite3_bind_int64(s, k++, e->params);
    sqlite3_bind_int64(s, k++, e->macs);
    sqlite3_bind_int(s, k++, e->mul_layers);
    sqlite3_bind_int(s, k++, e->exact);
    sqlite3_bind_double(s, k++, e->violation);
    for (int i = 0; i < DB_MAX_OBJECTIVES; i++)
        sqlite3_bind_double(s, k++, i < e->n_obj ? e->obj[i] : 0.0);
    sqlite3_bind_text(s, k++, e->multipliers, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, k++, e->summary, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, k++, e->train_s);
    sqlite3_bind_int64(s, k++, (sqlite3_int64)e->seed);
    sqlite3_bind_text(s, k++, e->weight_bits[0] ? e->weight_bits : "[]", -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, k++, e->mul_energy_exact8_pj);
    sqlite3_bind_double(s, k++, e->energy_exact8_pj);
    return step_done(db, s, "inserting an evaluation");
}

eng_status db_evaluation_find(db_archive *db, const char *hash, db_evaluation *out)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "SELECT generation, error, energy_pj, mul_energy_pj, "
                        "mul_energy_exact_pj, mac_energy_pj, memory_energy_pj, params, macs, "
                        "mul_layers, exact, violation, obj0, obj1, obj2, obj3, multipliers, "
                        "summary, train_s, seed, weight_bits, mul_energy_exact8_pj, "
                        "energy_exact8_pj FROM evaluations WHERE hash = ?", &s));
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        return rc == SQLITE_DONE ? ENG_ERR_NOT_FOUND : db_sql_error(db, "reading an evaluation");
    }
    memset(out, 0, sizeof *out);
    snprintf(out->hash, sizeof out->hash, "%s", hash);
    int k = 0;
    out->generation = sqlite3_column_int(s, k++);
    out->error = sqlite3_column_double(s, k++);
    out->energy_pj = sqlite3_column_double(s, k++);
    out->mul_energy_pj = sqlite3_column_double(s, k++);
    out->mul_energy_exact_pj = sqlite3_column_double(s, k++);
    out->mac_energy_pj = sqlite3_column_double(s, k++);
    out->memory_energy_pj = sqlite3_column_double(s, k++);
    out->params = sqlite3_column_int64(s, k++);
    out->macs = sqlite3_column_int64(s, k++);
    out->mul_layers = sqlite3_column_int(s, k++);
    out->exact = sqlite3_column_int(s, k++) != 0;
    out->violation = sqlite3_column_double(s, k++);
    out->n_obj = DB_MAX_OBJECTIVES;
    for (int i = 0; i < DB_MAX_OBJECTIVES; i++) out->obj[i] = sqlite3_column_double(s, k++);
    copy_col(s, k++, out->multipliers, sizeof out->multipliers);
    copy_col(s, k++, out->summary, sizeof out->summary);
    out->train_s = sqlite3_column_double(s, k++);
    out->seed = (uint64_t)sqlite3_column_int64(s, k++);
    copy_col(s, k++, out->weight_bits, sizeof out->weight_bits);
    out->mul_energy_exact8_pj = sqlite3_column_double(s, k++);
    out->energy_exact8_pj = sqlite3_column_double(s, k++);
    sqlite3_finalize(s);
    return ENG_OK;
}

eng_status db_evaluation_set_test(db_archive *db, const char *hash, double test_accuracy,
                                  int epochs)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "UPDATE evaluations SET test_accuracy = ?, final_epochs = ? "
                        "WHERE hash = ?", &s));
    sqlite3_bind_double(s, 1, test_accuracy);
    sqlite3_bind_int(s, 2, epochs);
    sqlite3_bind_text(s, 3, hash, -1, SQLITE_TRANSIENT);
    ENG_TRY(step_done(db, s, "recording a test accuracy"));
    if (sqlite3_changes(db->db) != 1)
        return eng_error(ENG_ERR_NOT_FOUND, "%s: no evaluation %s", db->path, hash);
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Individuals, populations, generations
 * ---------------------------------------------------------------------------------------- */

eng_status db_individual_insert(db_archive *db, const db_individual *ind)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "INSERT INTO individuals (id, generation, genome, hash, parent1, "
                        "parent2, reused) VALUES (?, ?, ?, ?, ?, ?, ?)", &s));
    sqlite3_bind_int64(s, 1, (sqlite3_int64)ind->id);
    sqlite3_bind_int(s, 2, ind->generation);
    sqlite3_bind_text(s, 3, ind->genome, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, ind->hash, -1, SQLITE_TRANSIENT);
    for (int i = 0; i < 2; i++) {
        if (ind->parent[i] < 0) sqlite3_bind_null(s, 5 + i);
        else sqlite3_bind_int64(s, 5 + i, ind->parent[i]);
    }
    sqlite3_bind_int(s, 7, ind->reused);
    return step_done(db, s, "inserting an individual");
}

eng_status db_population_insert(db_archive *db, int generation, uint64_t individual, int rank,
                                double crowding)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "INSERT INTO population (generation, individual, rank, crowding) "
                        "VALUES (?, ?, ?, ?)", &s));
    sqlite3_bind_int(s, 1, generation);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)individual);
    sqlite3_bind_int(s, 3, rank);
    if (isfinite(crowding)) sqlite3_bind_double(s, 4, crowding);
    else sqlite3_bind_double(s, 4, 1e300); /* +inf: the extremes of a front */
    return step_done(db, s, "inserting a population member");
}

eng_status db_generation_insert(db_archive *db, const db_generation *g)
{
    sqlite3_stmt *s;
    char now[32];
    now_iso(now, sizeof now);
    ENG_TRY(prepare(db, "INSERT INTO generations (generation, evaluated, reused, front_size, "
                        "best_error, min_energy_pj, hypervolume, wall_s, finished_at, state) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &s));
    sqlite3_bind_int(s, 1, g->generation);
    sqlite3_bind_int(s, 2, g->evaluated);
    sqlite3_bind_int(s, 3, g->reused);
    sqlite3_bind_int(s, 4, g->front_size);
    /* not finite: the objective is not searched (NULL) */
    if (isfinite(g->best_error)) sqlite3_bind_double(s, 5, g->best_error);
    else sqlite3_bind_null(s, 5);
    if (isfinite(g->min_energy_pj)) sqlite3_bind_double(s, 6, g->min_energy_pj);
    else sqlite3_bind_null(s, 6);
    if (isnan(g->hypervolume)) sqlite3_bind_null(s, 7);
    else sqlite3_bind_double(s, 7, g->hypervolume);
    sqlite3_bind_double(s, 8, g->wall_s);
    sqlite3_bind_text(s, 9, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 10, g->state, (int)g->state_size, SQLITE_TRANSIENT);
    return step_done(db, s, "inserting a generation");
}

eng_status db_generation_last(db_archive *db, int *generation, unsigned char **state,
                              size_t *size)
{
    sqlite3_stmt *s;
    *state = NULL;
    *size = 0;
    ENG_TRY(prepare(db, "SELECT generation, state FROM generations ORDER BY generation DESC "
                        "LIMIT 1", &s));
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        return rc == SQLITE_DONE ? ENG_ERR_NOT_FOUND : db_sql_error(db, "reading a generation");
    }
    *generation = sqlite3_column_int(s, 0);
    int n = sqlite3_column_bytes(s, 1);
    const void *blob = sqlite3_column_blob(s, 1);
    *state = malloc(n > 0 ? (size_t)n : 1);
    if (!*state) {
        sqlite3_finalize(s);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    if (n > 0) memcpy(*state, blob, (size_t)n);
    *size = (size_t)n;
    sqlite3_finalize(s);
    return ENG_OK;
}

eng_status db_committed_hashes(db_archive *db, char (**hashes)[DB_HASH_LEN], int *n)
{
    *hashes = NULL;
    *n = 0;
    int count = query_int(db, "SELECT count(DISTINCT hash) FROM individuals", 0);
    char (*h)[DB_HASH_LEN] = malloc(sizeof *h * (size_t)(count > 0 ? count : 1));
    if (!h) return eng_error(ENG_ERR_NOMEM, "out of memory");
    sqlite3_stmt *s;
    eng_status st = prepare(db, "SELECT DISTINCT hash FROM individuals ORDER BY hash", &s);
    if (st != ENG_OK) {
        free(h);
        return st;
    }
    int k = 0;
    while (k < count && sqlite3_step(s) == SQLITE_ROW) copy_col(s, 0, h[k++], DB_HASH_LEN);
    sqlite3_finalize(s);
    *hashes = h;
    *n = k;
    return ENG_OK;
}

double db_query_double(db_archive *db, const char *sql, double def)
{
    sqlite3_stmt *s;
    double v = def;
    if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK) return def;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* ------------------------------------------------------------------------------------------
 * Claim
 * ---------------------------------------------------------------------------------------- */

eng_status db_claim_load(db_archive *db, db_claim *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    /* archives of older versions opened read-only have no claim table: no claim */
    if (sqlite3_prepare_v2(db->db, "SELECT command, host, pid, proc_start, started_at, "
                           "heartbeat FROM claim WHERE id = 1", -1, &s, NULL) != SQLITE_OK)
        return ENG_ERR_NOT_FOUND;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        copy_col(s, 0, out->command, sizeof out->command);
        copy_col(s, 1, out->host, sizeof out->host);
        out->pid = sqlite3_column_int64(s, 2);
        out->proc_start = (uint64_t)sqlite3_column_int64(s, 3);
        copy_col(s, 4, out->started_at, sizeof out->started_at);
        out->heartbeat = sqlite3_column_double(s, 5);
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW) return ENG_OK;
    return rc == SQLITE_DONE ? ENG_ERR_NOT_FOUND : db_sql_error(db, "reading the claim");
}

eng_status db_claim_store(db_archive *db, const db_claim *c)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "INSERT OR REPLACE INTO claim (id, command, host, pid, proc_start, "
                        "started_at, heartbeat) VALUES (1, ?, ?, ?, ?, ?, ?)", &s));
    sqlite3_bind_text(s, 1, c->command, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, c->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, c->pid);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)c->proc_start);
    sqlite3_bind_text(s, 5, c->started_at, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 6, c->heartbeat);
    return step_done(db, s, "recording the claim");
}

eng_status db_claim_heartbeat(db_archive *db, const db_claim *c, double heartbeat)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "UPDATE claim SET heartbeat = ? WHERE id = 1 AND host = ? AND pid = ?",
                    &s));
    sqlite3_bind_double(s, 1, heartbeat);
    sqlite3_bind_text(s, 2, c->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, c->pid);
    return step_done(db, s, "updating the claim's heartbeat");
}

eng_status db_claim_clear(db_archive *db, const db_claim *c)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "DELETE FROM claim WHERE id = 1 AND host = ? AND pid = ?", &s));
    sqlite3_bind_text(s, 1, c->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, c->pid);
    return step_done(db, s, "releasing the claim");
}

/* ------------------------------------------------------------------------------------------
 * Moved files
 * ---------------------------------------------------------------------------------------- */

eng_status db_moved_path_load(db_archive *db, const char *key, char *path, size_t size)
{
    sqlite3_stmt *s;
    /* archives of older versions opened read-only have no such table: nothing moved */
    if (sqlite3_prepare_v2(db->db, "SELECT path FROM moved_paths WHERE key = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return ENG_ERR_NOT_FOUND;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) copy_col(s, 0, path, size);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW) return ENG_OK;
    return rc == SQLITE_DONE ? ENG_ERR_NOT_FOUND : db_sql_error(db, "reading the moved paths");
}

eng_status db_moved_path_store(db_archive *db, const char *key, const char *path)
{
    sqlite3_stmt *s;
    ENG_TRY(prepare(db, "INSERT OR REPLACE INTO moved_paths (key, path) VALUES (?, ?)", &s));
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, path, -1, SQLITE_TRANSIENT);
    return step_done(db, s, "recording a moved path");
}
