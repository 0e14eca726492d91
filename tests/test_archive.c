/*
 * test_archive.c - the SQLite archive: schema and versions, WAL, refusals, round trips, the
 * Pareto views against fronts worked out by hand, atomic creation, claim rows and damage, the
 * sent table of the asynchronous mode.
 */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "archive_sent.h"
#include "testutil.h"

static char dir[4096], path[4200];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", test_mkdtemp());
    snprintf(path, sizeof path, "%s/a.db", dir);
}

static void teardown(void) { test_rmtree(dir); }

static db_archive *create(void)
{
    db_archive *db;
    db_run run = {.name = "t", .config_text = "name: t\n", .config_path = "c.yaml", .seed = 7,
                  .threads = 2, .objectives = "error,energy"};
    ck_assert_msg(db_create(path, &run, false, &db) == ENG_OK, "%s", eng_last_error());
    return db;
}

static void add_eval(db_archive *db, const char *hash, int gen, double err, double energy,
                     double violation)
{
    db_evaluation e = {.generation = gen, .error = err, .energy_pj = energy, .n_obj = 2,
                       .obj = {err, energy}, .violation = violation, .params = 10, .macs = 20,
                       .multipliers = "[\"mul8u_1JFF\"]", .summary = "s"};
    snprintf(e.hash, sizeof e.hash, "%s", hash);
    ck_assert_int_eq(db_evaluation_insert(db, &e), ENG_OK);
}

static void add_ind(db_archive *db, uint64_t id, int gen, const char *hash)
{
    db_individual ind = {.id = id, .generation = gen, .genome = "0,1", .parent = {-1, -1}};
    snprintf(ind.hash, sizeof ind.hash, "%s", hash);
    ck_assert_msg(db_individual_insert(db, &ind) == ENG_OK, "%s", eng_last_error());
}

static int count(db_archive *db, const char *sql)
{
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* Concatenated hashes of a query's rows (ORDER BY hash). */
static void hashes(db_archive *db, const char *sql, char *buf, size_t size)
{
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL), SQLITE_OK);
    buf[0] = '\0';
    while (sqlite3_step(s) == SQLITE_ROW) {
        strncat(buf, (const char *)sqlite3_column_text(s, 0), size - strlen(buf) - 2);
        strncat(buf, " ", size - strlen(buf) - 1);
    }
    sqlite3_finalize(s);
}

START_TEST(test_create_and_versions)
{
    db_archive *db = create();
    ck_assert_int_eq(count(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    ck_assert_int_eq(count(db, "PRAGMA application_id"), DB_APPLICATION_ID);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db_handle(db), "PRAGMA journal_mode", -1, &s, NULL);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    db_run run;
    ck_assert_int_eq(db_run_load(db, &run), ENG_OK);
    ck_assert_str_eq(run.name, "t");
    ck_assert_str_eq(run.config_text, "name: t\n");
    ck_assert_str_eq(run.status, "running");
    ck_assert_uint_eq(run.seed, 7);
    ck_assert_int_eq(run.schema_version, DB_SCHEMA_VERSION);
    db_run_free(&run);
    ck_assert_int_eq(db_run_set_status(db, "finished"), ENG_OK);
    db_close(db);

    /* existing file: create refuses, open checks */
    db_run other = {.name = "u", .config_text = "name: u\n", .config_path = "c.yaml",
                    .threads = 1, .objectives = "error"};
    ck_assert_int_eq(db_create(path, &other, false, &db), ENG_ERR_EXISTS);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(db_open(path, DB_OPEN_READ, &db), ENG_OK);
    ck_assert_int_eq(db_run_load(db, &run), ENG_OK);
    ck_assert_str_eq(run.status, "finished");
    db_run_free(&run);
    db_close(db);

    /* a newer schema is refused with an explanation */
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(db_open(path, DB_OPEN_WRITE, &db), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "newer evoapproxnas"));
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "schema 99"));
}
END_TEST

START_TEST(test_refuse_foreign_files)
{
    db_archive *db;
    ck_assert_int_eq(db_open(path, DB_OPEN_READ, &db), ENG_ERR_NOT_FOUND);
    FILE *f = fopen(path, "w");
    fputs("this is not a database, but it is long enough to look like a header ...........\n"
          "................................................................................\n",
          f);
    fclose(f);
    ck_assert_int_eq(db_open(path, DB_OPEN_READ, &db), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "not an SQLite database"));
    remove(path);
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_exec(raw, "CREATE TABLE x (a)", NULL, NULL, NULL);
    sqlite3_close(raw);
    ck_assert_int_eq(db_open(path, DB_OPEN_WRITE, &db), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "not an evoapproxnas archive"));
}
END_TEST

START_TEST(test_roundtrip)
{
    db_archive *db = create();
    db_evaluation e = {.hash = "00000000000000aa", .generation = 3, .error = 0.25,
                       .energy_pj = 1000, .mul_energy_pj = 100, .mul_energy_exact_pj = 200,
                       .mac_energy_pj = 300, .memory_energy_pj = 700, .params = 123,
                       .macs = 4567, .mul_layers = 4, .exact = true, .violation = 0.5,
                       .n_obj = 2, .obj = {0.25, 1000}, .multipliers = "[\"a\",\"b\"]",
                       .summary = "stem4", .train_s = 1.5, .seed = 99};
    ck_assert_int_eq(db_evaluation_insert(db, &e), ENG_OK);
    db_evaluation e2 = e;
    e2.error = 0.9;
    ck_assert_int_eq(db_evaluation_insert(db, &e2), ENG_OK); /* same hash: kept as it was */
    db_evaluation r;
    ck_assert_int_eq(db_evaluation_find(db, e.hash, &r), ENG_OK);
    ck_assert_double_eq(r.error, 0.25);
    ck_assert_double_eq(r.mul_energy_exact_pj, 200);
    ck_assert_int_eq(r.params, 123);
    ck_assert_int_eq(r.macs, 4567);
    ck_assert(r.exact);
    ck_assert_double_eq(r.obj[1], 1000);
    ck_assert_double_eq(r.obj[2], 0);
    ck_assert_str_eq(r.multipliers, "[\"a\",\"b\"]");
    ck_assert_uint_eq(r.seed, 99);
    ck_assert_int_eq(db_evaluation_find(db, "ffffffffffffffff", &r), ENG_ERR_NOT_FOUND);
    ck_assert_int_eq(db_evaluation_set_test(db, e.hash, 0.8, 5), ENG_OK);
    ck_assert_int_eq(count(db, "SELECT final_epochs FROM evaluations"), 5);
    ck_assert_int_eq(db_evaluation_set_test(db, "ffffffffffffffff", 0.8, 5), ENG_ERR_NOT_FOUND);

    int gen;
    unsigned char *state;
    size_t size;
    ck_assert_int_eq(db_generation_last(db, &gen, &state, &size), ENG_ERR_NOT_FOUND);
    const unsigned char blob1[] = {1, 2, 3}, blob2[] = {4, 5, 6, 0, 7};
    db_generation g = {.generation = 0, .state = blob1, .state_size = 3, .hypervolume = NAN};
    ck_assert_int_eq(db_generation_insert(db, &g), ENG_OK);
    g.generation = 1, g.state = blob2, g.state_size = 5, g.hypervolume = 0.5;
    ck_assert_int_eq(db_generation_insert(db, &g), ENG_OK);
    ck_assert_int_eq(db_generation_insert(db, &g), ENG_ERR_IO); /* generation 1 twice */
    ck_assert_int_eq(db_generation_last(db, &gen, &state, &size), ENG_OK);
    ck_assert_int_eq(gen, 1);
    ck_assert_uint_eq(size, 5);
    ck_assert_mem_eq(state, blob2, 5);
    free(state);
    db_close(db);
}
END_TEST

START_TEST(test_transaction_rollback)
{
    db_archive *db = create();
    ck_assert_int_eq(db_begin(db), ENG_OK);
    add_eval(db, "0000000000000001", 0, 0.1, 10, 0);
    add_ind(db, 0, 0, "0000000000000001");
    db_rollback(db);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM evaluations"), 0);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM individuals"), 0);
    /* an individual must refer to an evaluation */
    db_individual ind = {.id = 5, .genome = "0", .hash = "0000000000000009", .parent = {-1, -1}};
    ck_assert_int_eq(db_individual_insert(db, &ind), ENG_ERR_IO);
    /* closing with an open transaction rolls it back */
    ck_assert_int_eq(db_begin(db), ENG_OK);
    add_eval(db, "0000000000000002", 0, 0.1, 10, 0);
    db_close(db);
    ck_assert_int_eq(db_open(path, DB_OPEN_READ, &db), ENG_OK);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM evaluations"), 0);
    db_close(db);
}
END_TEST

START_TEST(test_pareto_views)
{
    db_archive *db = create();
    /* (error, energy): a (0.1, 100), b (0.2, 50), c (0.2, 120) dominated by a,
     * d (0.05, 500), e (0.3, 40) infeasible, f (0.15, 60) only in generation 1,
     * p (0.01, 1) a pending evaluation no individual refers to. */
    ck_assert_int_eq(db_begin(db), ENG_OK);
    add_eval(db, "000000000000000a", 0, 0.1, 100, 0);
    add_eval(db, "000000000000000b", 0, 0.2, 50, 0);
    add_eval(db, "000000000000000c", 0, 0.2, 120, 0);
    add_eval(db, "000000000000000d", 0, 0.05, 500, 0);
    add_eval(db, "000000000000000e", 0, 0.3, 40, 2.0);
    const char *h0[] = {"000000000000000a", "000000000000000b", "000000000000000c",
                        "000000000000000d", "000000000000000e"};
    for (int i = 0; i < 5; i++) {
        add_ind(db, (uint64_t)i, 0, h0[i]);
        ck_assert_int_eq(db_population_insert(db, 0, (uint64_t)i, 0, 1.0), ENG_OK);
    }
    ck_assert_int_eq(db_commit(db), ENG_OK);
    ck_assert_int_eq(db_begin(db), ENG_OK);
    add_eval(db, "000000000000000f", 1, 0.15, 60, 0);
    add_ind(db, 5, 1, "000000000000000f");
    /* generation 1 keeps a, c, d, f */
    const uint64_t keep[] = {0, 2, 3, 5};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(db_population_insert(db, 1, keep[i], 0, INFINITY), ENG_OK);
    ck_assert_int_eq(db_commit(db), ENG_OK);
    add_eval(db, "0000000000000010", 2, 0.01, 1, 0); /* pending, outside any generation */

    char buf[512];
    hashes(db, "SELECT hash FROM pareto_front_generation WHERE generation = 0 ORDER BY hash",
           buf, sizeof buf);
    ck_assert_str_eq(buf, "000000000000000a 000000000000000b 000000000000000d ");
    hashes(db, "SELECT hash FROM pareto_front_generation WHERE generation = 1 ORDER BY hash",
           buf, sizeof buf);
    ck_assert_str_eq(buf, "000000000000000a 000000000000000d 000000000000000f ");
    hashes(db, "SELECT hash FROM pareto_front ORDER BY hash", buf, sizeof buf);
    ck_assert_str_eq(buf, "000000000000000a 000000000000000b 000000000000000d "
                          "000000000000000f ");
    ck_assert_int_eq(count(db, "SELECT count(*) FROM archived"), 6);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM members WHERE generation = 1"), 4);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM population WHERE crowding > 1e299"), 4);

    char (*hs)[DB_HASH_LEN];
    int n;
    ck_assert_int_eq(db_committed_hashes(db, &hs, &n), ENG_OK);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(hs[0], "000000000000000a");
    ck_assert_str_eq(hs[5], "000000000000000f");
    free(hs);
    db_close(db);
}
END_TEST

START_TEST(test_create_publishes_atomically)
{
    char tmp[4300], wal[4300];
    snprintf(tmp, sizeof tmp, "%s" DB_CREATING_SUFFIX, path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    /* leftovers of a killed creation and a WAL without its database */
    FILE *f = fopen(tmp, "w");
    fputs("half-written", f);
    fclose(f);
    f = fopen(wal, "w");
    fputs("a WAL of another database", f);
    fclose(f);
    db_archive *db = create();
    ck_assert_int_ne(access(tmp, F_OK), 0);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM run"), 1);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM claim"), 0);
    db_close(db);
    /* replace: a new archive over the old one, with its own run */
    db_run run = {.name = "second", .config_text = "name: second\n", .config_path = "/c.yaml",
                  .threads = 1, .objectives = "error"};
    ck_assert_msg(db_create(path, &run, true, &db) == ENG_OK, "%s", eng_last_error());
    db_run back;
    ck_assert_int_eq(db_run_load(db, &back), ENG_OK);
    ck_assert_str_eq(back.name, "second");
    db_run_free(&back);
    db_close(db);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    /* an empty file is not an archive */
    fclose(fopen(path, "w"));
    ck_assert_int_eq(db_open(path, DB_OPEN_READ, &db), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "an empty file"));
}
END_TEST

START_TEST(test_claim_rows)
{
    db_archive *db = create();
    db_claim c = {.command = "search", .host = "h1", .pid = 42, .proc_start = 7,
                  .started_at = "2026-01-01T00:00:00Z", .heartbeat = 100.5}, back;
    ck_assert_int_eq(db_claim_load(db, &back), ENG_ERR_NOT_FOUND);
    ck_assert_int_eq(db_claim_store(db, &c), ENG_OK);
    ck_assert_int_eq(db_claim_load(db, &back), ENG_OK);
    ck_assert_str_eq(back.command, "search");
    ck_assert_str_eq(back.host, "h1");
    ck_assert_int_eq(back.pid, 42);
    ck_assert_uint_eq(back.proc_start, 7);
    ck_assert_double_eq(back.heartbeat, 100.5);
    /* another process's heartbeat or release leaves the row alone */
    db_claim other = c;
    other.pid = 43;
    ck_assert_int_eq(db_claim_heartbeat(db, &other, 200), ENG_OK);
    ck_assert_int_eq(db_claim_clear(db, &other), ENG_OK);
    ck_assert_int_eq(db_claim_load(db, &back), ENG_OK);
    ck_assert_double_eq(back.heartbeat, 100.5);
    ck_assert_int_eq(db_claim_heartbeat(db, &c, 200), ENG_OK);
    ck_assert_int_eq(db_claim_load(db, &back), ENG_OK);
    ck_assert_double_eq(back.heartbeat, 200);
    ck_assert_int_eq(db_claim_clear(db, &c), ENG_OK);
    ck_assert_int_eq(db_claim_load(db, &back), ENG_ERR_NOT_FOUND);
    db_close(db);
}
END_TEST

/* Applies sql to a closed archive with a plain connection. */
static void tamper(const char *sql)
{
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(raw, sql, NULL, NULL, NULL) == SQLITE_OK, "%s",
                  sqlite3_errmsg(raw));
    sqlite3_close(raw);
}

static void expect_damage(const char *what)
{
    db_archive *db;
    for (int mode = 0; mode < 2; mode++) {
        ck_assert_int_eq(db_open(path, mode ? DB_OPEN_WRITE : DB_OPEN_READ, &db),
                         ENG_ERR_FORMAT);
        ck_assert_ptr_null(db);
        ck_assert_msg(strstr(eng_last_error(), what), "%s", eng_last_error());
        ck_assert_ptr_nonnull(strstr(eng_last_error(), "damaged archive"));
        ck_assert_ptr_null(strchr(eng_last_error(), '\n'));
    }
}

START_TEST(test_damage_named)
{
    db_archive *db = create();
    ck_assert_int_eq(db_begin(db), ENG_OK);
    add_eval(db, "000000000000000a", 0, 0.1, 100, 0);
    add_eval(db, "000000000000000b", 0, 0.2, 50, 0);
    add_ind(db, 0, 0, "000000000000000a");
    ck_assert_int_eq(db_population_insert(db, 0, 0, 0, 1.0), ENG_OK);
    ck_assert_int_eq(db_commit(db), ENG_OK);
    db_close(db);
    ck_assert_int_eq(db_open(path, DB_OPEN_WRITE, &db), ENG_OK);
    db_close(db);
    tamper("UPDATE evaluations SET macs = -20 WHERE hash = '000000000000000b'");
    expect_damage("table evaluations: row 2 holds impossible values");
    tamper("UPDATE evaluations SET macs = 20; UPDATE individuals SET genome = '0,' || char(7)");
    expect_damage("table individuals: id 0 holds impossible values");
    tamper("UPDATE individuals SET genome = '0,1'; PRAGMA legacy_alter_table = ON; "
           "ALTER TABLE generations RENAME COLUMN state TO blob");
    expect_damage("table generations lacks column state");
    tamper("ALTER TABLE generations RENAME COLUMN blob TO state; UPDATE population SET "
           "individual = 9");
    expect_damage("table population: row 1 refers to a missing row of individuals");
    tamper("DELETE FROM population; DROP VIEW archived");
    expect_damage("view archived is missing or broken");
}
END_TEST

static void put_sent(db_archive *db, int64_t id, uint64_t seed)
{
    double genes[2] = {(double)id, -1.5};
    unsigned char state[4] = {1, 2, 3, (unsigned char)id};
    char genome[16];
    snprintf(genome, sizeof genome, "g%lld", (long long)id);
    db_sent row = {.id = id, .parent = {id - 1, id - 2}, .seed = seed, .birth_generation = 2,
                   .after_generation = 3, .genome = genome, .genes = genes, .n_genes = 2,
                   .state = state, .state_size = sizeof state};
    ck_assert_msg(db_sent_insert(db, &row) == ENG_OK, "%s", eng_last_error());
}

/* The ids of the rows still out, "3 9" (and checks each row's content). */
static void sent_out(db_archive *db, char *buf, size_t size)
{
    db_sent *rows = NULL;
    int n = -1;
    ck_assert_msg(db_sent_load(db, 2, &rows, &n) == ENG_OK, "%s", eng_last_error());
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        const db_sent *r = &rows[i];
        char g[16];
        snprintf(g, sizeof g, "g%lld", (long long)r->id);
        ck_assert_str_eq(r->genome, g);
        ck_assert(r->parent[0] == r->id - 1 && r->parent[1] == r->id - 2);
        ck_assert(r->birth_generation == 2 && r->after_generation == 3 && r->n_genes == 2);
        ck_assert(r->genes[0] == (double)r->id && r->genes[1] == -1.5);
        ck_assert(r->state_size == 4 && r->state[3] == (unsigned char)r->id);
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%lld", i ? " " : "", (long long)r->id);
    }
    db_sent_free(rows, n);
}

START_TEST(test_sent_rows)
{
    db_archive *db = create();
    char ids[64];
    /* an archive without the table (older, or generational): nothing out, nothing to mark */
    sent_out(db, ids, sizeof ids);
    ck_assert_str_eq(ids, "");
    ck_assert_int_eq(db_sent_arrived(db, 5, 1), ENG_OK);
    ck_assert_int_eq(db_sent_prepare(db), ENG_OK);
    put_sent(db, 9, 1);
    put_sent(db, 3, 1);
    put_sent(db, 5, 1);
    sent_out(db, ids, sizeof ids);
    ck_assert_str_eq(ids, "3 5 9");
    /* an arrival: no longer out, its state emptied */
    ck_assert_int_eq(db_sent_arrived(db, 5, 4), ENG_OK);
    sent_out(db, ids, sizeof ids);
    ck_assert_str_eq(ids, "3 9");
    ck_assert_int_eq(count(db, "SELECT count(*) FROM sent WHERE id = 5 AND arrival = 4 AND "
                               "length(state) = 0"), 1);
    /* sent again under the same id: replaced */
    put_sent(db, 3, 77);
    ck_assert_int_eq(count(db, "SELECT count(*) FROM sent"), 3);
    ck_assert_int_eq(count(db, "SELECT seed FROM sent WHERE id = 3"), 77);
    /* genes of another length: refused, naming the archive */
    db_sent *rows = NULL;
    int n = -1;
    ck_assert_int_eq(db_sent_load(db, 3, &rows, &n), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), path));
    ck_assert(rows == NULL && n == 0);
    db_close(db);
    /* the rows survive a reopen */
    ck_assert_int_eq(db_open(path, DB_OPEN_WRITE, &db), ENG_OK);
    sent_out(db, ids, sizeof ids);
    ck_assert_str_eq(ids, "3 9");
    db_close(db);
}
END_TEST

static Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_create_and_versions);
    tcase_add_test(tc, test_refuse_foreign_files);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_transaction_rollback);
    tcase_add_test(tc, test_pareto_views);
    tcase_add_test(tc, test_create_publishes_atomically);
    tcase_add_test(tc, test_claim_rows);
    tcase_add_test(tc, test_damage_named);
    tcase_add_test(tc, test_sent_rows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(archive_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
