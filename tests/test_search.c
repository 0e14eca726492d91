/*
 * test_search.c - the search driver end to end on a tiny synthetic IDX data set written by
 * the test: archive invariants, Pareto views against a dominance check done here, duplicates
 * never trained twice, and resume (after a SIGKILL, or from an archive cut back to generation 1
 * with a cache of finished evaluations) reaching the archive of an uninterrupted run; the
 * shared batch evaluator (search_eval.h) on its own.
 */
#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive.h"
#include "engine_config.h"
#include "search.h"
#include "search_env.h"
#include "search_eval.h"
#include "testutil.h"

static char dir[4096];

/* Writes DIR/<name>.yaml; space is the search_space body. */
static void write_config(const char *name, const char *space, int generations)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s.yaml", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "name: %s\nseed: 5\noutput: %s/%s.db\n"
            "dataset: {kind: idx, path: data, train: 100, validation: 50}\n"
            "search_space:\n%s"
            "nsga2: {population: 4, generations: %d, exact_share: 0.5}\n"
            "training: {epochs: 1, batch_size: 25, learning_rate: 0.05}\n"
            "energy: {accelerator: " EVOAPPROXNAS_SOURCE_DIR
            "/configs/accelerators/eyeriss_like_8b.yaml}\n",
            name, dir, name, space, generations);
    fclose(f);
}

#define SPACE                                                                            \
    "  stages: 2\n  nodes: 2\n  ops: [conv3x3, sep3x3, maxpool, identity]\n"             \
    "  widths: [4, 6]\n  stem_width: 4\n"                                                \
    "  multipliers: [mul8u_1JFF, mul8u_2AC, mul8u_DM1]\n"

/* 8x8 exact and approximate, 8x6 approximate, 8x4 exact and approximate */
#define SPACE_MIXED                                                                      \
    "  stages: 2\n  nodes: 2\n  ops: [conv3x3, sep3x3, maxpool, identity]\n"             \
    "  widths: [4, 6]\n  stem_width: 4\n"                                                \
    "  multipliers: [mul8u_1JFF, mul8u_DM1, mul8x6u_0MH, mul8x4u_2UU, mul8x4u_0S7]\n"

static void kill_and_resume(const char *name, const char *reference);

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", test_mkdtemp());
    char p[4200];
    snprintf(p, sizeof p, "%s/data", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    test_write_idx(p, "train", 260, 1);
    test_write_idx(p, "t10k", 50, 2);
}

static void teardown(void) { test_rmtree(dir); }

static eng_status run(const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s.yaml", dir, name);
    search_opts o = {.threads = 2, .progress = SEARCH_PROGRESS_NONE};
    return search_run(p, &o, NULL);
}

static sqlite3 *open_db(const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s.db", dir, name);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

static double q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    double v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Every deterministic column of an archive, as text. */
static char *dump(sqlite3 *db)
{
    const char *sql[] = {
        "SELECT generation, evaluated, reused, front_size, best_error, min_energy_pj, "
        "hypervolume, hex(state) FROM generations ORDER BY generation",
        "SELECT id, generation, genome, hash, parent1, parent2, reused FROM individuals "
        "ORDER BY id",
        "SELECT hash, generation, error, energy_pj, mul_energy_pj, params, macs, exact, "
        "violation, obj0, obj1, multipliers, seed, weight_bits, mul_energy_exact_pj, "
        "mul_energy_exact8_pj, energy_exact8_pj FROM evaluations ORDER BY hash",
        "SELECT generation, individual, rank, crowding FROM population ORDER BY generation, "
        "individual",
        "SELECT status, seed, generations, objectives FROM run"};
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof sql / sizeof sql[0]; k++) {
        sqlite3_stmt *s;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql[k], -1, &s, NULL), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                const unsigned char *t = sqlite3_column_text(s, c);
                len += (size_t)snprintf(buf + len, cap - len, "%s%c", t ? (const char *)t : "-",
                                        c + 1 == sqlite3_column_count(s) ? '\n' : '|');
                ck_assert_uint_lt(len, cap);
            }
        sqlite3_finalize(s);
    }
    return buf;
}

START_TEST(test_end_to_end)
{
    write_config("a", SPACE, 3);
    ck_assert_msg(run("a") == ENG_OK, "%s", eng_last_error());
    sqlite3 *db = open_db("a");
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM generations"), 4);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM population"), 16);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM individuals"), 16);
    /* no pending rows after a clean run; every network evaluated once */
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations"),
                     q1(db, "SELECT count(DISTINCT hash) FROM individuals"));
    ck_assert_int_eq(q1(db, "SELECT sum(evaluated) FROM generations"),
                     q1(db, "SELECT count(*) FROM evaluations"));
    /* exact_share 0.5 of 4: two all-exact networks in generation 0 */
    ck_assert_int_ge(q1(db, "SELECT count(*) FROM evaluations WHERE generation = 0 AND "
                            "exact = 1"), 1);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE exact = 1 AND "
                            "multipliers LIKE '%2AC%'"), 0);
    /* the run's front: non-empty, nothing archived dominates a member, and every archived
     * network off the front is dominated by a member */
    ck_assert_int_gt(q1(db, "SELECT count(*) FROM pareto_front"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM pareto_front f, archived a WHERE "
                            "a.error <= f.error AND a.energy_pj <= f.energy_pj AND "
                            "(a.error < f.error OR a.energy_pj < f.energy_pj)"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM archived a WHERE a.hash NOT IN (SELECT hash "
                            "FROM pareto_front) AND NOT EXISTS (SELECT 1 FROM pareto_front f "
                            "WHERE f.error <= a.error AND f.energy_pj <= a.energy_pj)"), 0);
    /* objectives in config order; energy split sums up */
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE obj0 != error OR "
                            "obj1 != energy_pj"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE abs(mac_energy_pj + "
                            "memory_energy_pj - energy_pj) > 1e-6 * energy_pj"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE exact = 1 AND "
                            "abs(mul_energy_pj - mul_energy_exact_pj) > 1e-9"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE exact = 0 AND "
                            "mul_energy_pj >= mul_energy_exact_pj"), 0);
    /* the errors are real measurements on 50 images */
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE abs(error * 50 - "
                            "round(error * 50)) > 1e-9 OR error < 0 OR error > 1"), 0);
    ck_assert_int_eq(q1(db, "SELECT status = 'finished' FROM run"), 1);
    sqlite3_close(db);

    /* the same config and seed again: the same archive */
    write_config("a2", SPACE, 3);
    ck_assert_int_eq(run("a2"), ENG_OK);
    sqlite3 *d1 = open_db("a"), *d2 = open_db("a2");
    char *x1 = dump(d1), *x2 = dump(d2);
    ck_assert_str_eq(x1, x2);
    free(x1), free(x2);
    sqlite3_close(d1), sqlite3_close(d2);

    /* refusals: an existing archive */
    ck_assert_int_eq(run("a"), ENG_ERR_EXISTS);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "resume"));
}
END_TEST

START_TEST(test_duplicates_reused)
{
    /* a space with one network only: every candidate after the first is a duplicate */
    write_config("d", "  stages: 1\n  nodes: 1\n  ops: [conv3x3]\n  widths: [4]\n"
                      "  stem_width: 4\n  multipliers: [mul8u_1JFF]\n", 2);
    ck_assert_msg(run("d") == ENG_OK, "%s", eng_last_error());
    sqlite3 *db = open_db("d");
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations"), 1);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM individuals"), 12);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM individuals WHERE reused = 1"), 11);
    ck_assert_int_eq(q1(db, "SELECT sum(evaluated) FROM generations"), 1);
    ck_assert_int_eq(q1(db, "SELECT sum(reused) FROM generations"), 11);
    sqlite3_close(db);
}
END_TEST

/* The shared evaluator: a network twice in one batch is trained once and shared, a committed
 * one is reused without training, a batch's result does not depend on its companions. */
START_TEST(test_eval_batch)
{
    write_config("b", SPACE, 1);
    char p[4200];
    snprintf(p, sizeof p, "%s/b.yaml", dir);
    cfg_search cfg;
    ck_assert_msg(cfg_load(p, &cfg) == ENG_OK, "%s", eng_last_error());
    search_env env;
    ck_assert_msg(search_env_open(&env, &cfg, SEARCH_ENV_DATA) == ENG_OK, "%s", eng_last_error());
    db_run run = {.seed = env.cfg.seed, .threads = 2, .generations = 1,
                  .config_text = env.cfg.text};
    snprintf(run.name, sizeof run.name, "b");
    snprintf(run.objectives, sizeof run.objectives, "error,energy");
    snprintf(p, sizeof p, "%s/b.db", dir);
    db_archive *db;
    ck_assert_msg(db_create(p, &run, false, &db) == ENG_OK, "%s", eng_last_error());
    search_opts o = {.threads = 2, .progress = SEARCH_PROGRESS_NONE};
    search_eval *ev;
    ck_assert(search_eval_create(&env, db, &o, 2, &ev) == ENG_OK);
    int n_genes = nas_genome_length(&env.cfg.space);
    int *g = malloc(sizeof(int) * (size_t)n_genes);
    nas_arch a[2];
    uint64_t rng = 7;
    nas_genome_random(&env.cfg.space, &rng, g);
    ck_assert(nas_genome_decode(&env.cfg.space, g, &a[0]) == ENG_OK);
    for (;;) { /* a second, different network */
        nas_genome_random(&env.cfg.space, &rng, g);
        ck_assert(nas_genome_decode(&env.cfg.space, g, &a[1]) == ENG_OK);
        if (nas_arch_hash(&a[1]) != nas_arch_hash(&a[0])) break;
        nas_arch_free(&a[1]);
    }
    search_eval_item items[3] = {{.arch = &a[0]}, {.arch = &a[1]}, {.arch = &a[0]}};
    search_eval_counts counts;
    ck_assert_msg(search_eval_batch(ev, 0, items, 3, &counts) == ENG_OK, "%s",
                  eng_last_error());
    ck_assert_int_eq(counts.evaluated, 2);
    ck_assert_int_eq(counts.reused, 1);
    ck_assert(items[0].first && items[1].first && !items[2].first);
    ck_assert(!items[0].reused && !items[1].reused && items[2].reused);
    ck_assert_str_eq(items[2].e.hash, items[0].e.hash);
    ck_assert(items[2].e.error == items[0].e.error && items[2].e.seed == items[0].e.seed);
    ck_assert(items[0].e.error >= 0 && items[0].e.error <= 1 && items[0].e.train_s > 0);
    /* stored as each finished (a cache for resume), though nothing committed yet */
    ck_assert_int_eq((int)db_query_double(db, "SELECT count(*) FROM evaluations", -1), 2);
    for (int i = 0; i < 3; i++) ck_assert(search_eval_mark_committed(ev, items[i].hash) == ENG_OK);
    /* committed: reused, not trained again (same stored train_s) */
    search_eval_item again[1] = {{.arch = &a[1]}};
    ck_assert(search_eval_batch(ev, 1, again, 1, &counts) == ENG_OK);
    ck_assert_int_eq(counts.evaluated, 0);
    ck_assert_int_eq(counts.reused, 1);
    ck_assert(again[0].reused && again[0].first);
    ck_assert(again[0].e.train_s == items[1].e.train_s && again[0].e.error == items[1].e.error);
    ck_assert_int_eq(again[0].e.generation, 0);
    search_eval_free(ev);
    db_close(db);
    /* the same network alone, in a fresh archive: the same evaluation */
    snprintf(p, sizeof p, "%s/b2.db", dir);
    ck_assert(db_create(p, &run, false, &db) == ENG_OK);
    ck_assert(search_eval_create(&env, db, &o, 1, &ev) == ENG_OK);
    search_eval_item alone[1] = {{.arch = &a[1]}};
    ck_assert(search_eval_batch(ev, 0, alone, 1, NULL) == ENG_OK);
    ck_assert(alone[0].e.error == items[1].e.error);
    ck_assert(alone[0].e.energy_pj == items[1].e.energy_pj);
    search_eval_free(ev);
    db_close(db);
    nas_arch_free(&a[0]);
    nas_arch_free(&a[1]);
    free(g);
    search_env_close(&env);
}
END_TEST

/* A candidate whose training diverges (a learning rate far too high) is recorded with error
 * 1, as the search does; trained for its network, the divergence is ENG_ERR_DIVERGED. */
START_TEST(test_diverged_candidate)
{
    write_config("d", SPACE, 1);
    char p[4200];
    snprintf(p, sizeof p, "%s/d.yaml", dir);
    cfg_search cfg;
    ck_assert_msg(cfg_load(p, &cfg) == ENG_OK, "%s", eng_last_error());
    search_env env;
    ck_assert_msg(search_env_open(&env, &cfg, SEARCH_ENV_DATA) == ENG_OK, "%s", eng_last_error());
    env.cfg.training.learning_rate = 1e30;
    env.cfg.training.cosine = false;
    int *g = malloc(sizeof(int) * (size_t)nas_genome_length(&env.cfg.space));
    ck_assert_ptr_nonnull(g);
    uint64_t rng = 7;
    nas_arch a;
    nas_genome_random(&env.cfg.space, &rng, g);
    ck_assert(nas_genome_decode(&env.cfg.space, g, &a) == ENG_OK);
    double err = 0.0;
    ck_assert_msg(search_env_train(&env, &a, 3, 1, &env.train, &env.val, NULL, NULL, &err) ==
                  ENG_OK, "%s", eng_last_error());
    ck_assert(err == 1.0);
    eng_net *net = (eng_net *)&a;   /* any non-NULL: must come back NULL */
    ck_assert_int_eq(search_env_train_net(&env, &a, false, 3, 1, &env.train, NULL, NULL, &net),
                     ENG_ERR_DIVERGED);
    ck_assert_ptr_null(net);
    /* the usual learning rate trains it */
    env.cfg.training.learning_rate = 0.05;
    ck_assert(search_env_train(&env, &a, 3, 1, &env.train, &env.val, NULL, NULL, &err) ==
              ENG_OK);
    ck_assert(err < 1.0);
    nas_arch_free(&a);
    free(g);
    search_env_close(&env);
}
END_TEST

static void resume_and_compare(const char *name, const char *reference)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s.db", dir, name);
    search_opts o = {.threads = 2, .progress = SEARCH_PROGRESS_NONE};
    ck_assert_msg(search_resume(p, &o) == ENG_OK, "%s", eng_last_error());
    sqlite3 *d1 = open_db(reference), *d2 = open_db(name);
    char *x1 = dump(d1), *x2 = dump(d2);
    ck_assert_str_eq(x1, x2);
    free(x1), free(x2);
    sqlite3_close(d1), sqlite3_close(d2);
}

START_TEST(test_resume)
{
    write_config("u", SPACE, 3);
    ck_assert_int_eq(run("u"), ENG_OK);

    /* What any kill leaves: the archive as committed after generation 1, plus (as after a
     * Ctrl-C) the evaluations finished in generation 2. Made from the full run. */
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s/u.db' '%s/t.db'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    char p[4200];
    snprintf(p, sizeof p, "%s/t.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "DELETE FROM population WHERE generation > 1; "
                                      "DELETE FROM individuals WHERE generation > 1; "
                                      "DELETE FROM evaluations WHERE generation > 2; "
                                      "DELETE FROM generations WHERE generation > 1; "
                                      "UPDATE run SET status = 'interrupted'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    resume_and_compare("t", "u");

    write_config("k", SPACE, 3);
    kill_and_resume("k", "u");
}
END_TEST

START_TEST(test_mixed_widths)
{
    write_config("m", SPACE_MIXED, 2);
    ck_assert_msg(run("m") == ENG_OK, "%s", eng_last_error());
    sqlite3 *db = open_db("m");
    /* each multiplying layer's width is its multiplier's */
    ck_assert_int_gt(q1(db, "SELECT count(*) FROM evaluations"), 4);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations e WHERE json_array_length("
                            "e.weight_bits) != e.mul_layers OR json_array_length(e.multipliers) "
                            "!= e.mul_layers"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations e, json_each(e.multipliers) m, "
                            "json_each(e.weight_bits) w WHERE m.key = w.key AND w.value != "
                            "CASE WHEN m.value LIKE 'mul8x4u%' THEN 4 WHEN m.value LIKE "
                            "'mul8x6u%' THEN 6 ELSE 8 END"), 0);
    ck_assert_int_gt(q1(db, "SELECT count(*) FROM evaluations WHERE weight_bits LIKE '%4%' "
                            "AND weight_bits LIKE '%8%'"), 0);
    /* the summary names the widths of networks with narrow layers, and only of those */
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE (summary LIKE "
                            "'%| weight bits [%') != (weight_bits LIKE '%4%' OR weight_bits "
                            "LIKE '%6%') OR (summary LIKE '%| weight bits [%' AND summary NOT "
                            "LIKE '%| weight bits ' || weight_bits)"), 0);
    /* the two exact references: same widths, and all 8x8 (never cheaper) */
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE exact = 1 AND "
                            "abs(mul_energy_pj - mul_energy_exact_pj) > 1e-9"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE mul_energy_exact_pj > "
                            "mul_energy_exact8_pj + 1e-9 OR energy_pj > energy_exact8_pj + 1e-9"),
                     0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE (weight_bits LIKE '%4%' OR "
                            "weight_bits LIKE '%6%') AND NOT (mul_energy_exact_pj < "
                            "mul_energy_exact8_pj AND energy_pj < energy_exact8_pj)"), 0);
    ck_assert_int_eq(q1(db, "SELECT count(*) FROM evaluations WHERE weight_bits NOT LIKE '%4%' "
                            "AND weight_bits NOT LIKE '%6%' AND abs(mul_energy_exact_pj - "
                            "mul_energy_exact8_pj) > 1e-9"), 0);
    sqlite3_close(db);
    /* killed and resumed: the uninterrupted archive */
    write_config("mk", SPACE_MIXED, 2);
    kill_and_resume("mk", "m");
}
END_TEST

/* The energy of a mixed-width network is the sum of its layers' own: changing the multipliers
 * of several layers at once changes the energy by the sum of the changes one layer at a time
 * (each layer is charged its own multiplier power and weight width, nothing else moves). */
START_TEST(test_mixed_energy_is_per_layer)
{
    write_config("e", SPACE_MIXED, 1);
    char p[4200];
    snprintf(p, sizeof p, "%s/e.yaml", dir);
    cfg_search cfg;
    ck_assert_msg(cfg_load(p, &cfg) == ENG_OK, "%s", eng_last_error());
    search_env env;
    ck_assert_msg(search_env_open(&env, &cfg, 0) == ENG_OK, "%s", eng_last_error());
    int n = nas_genome_length(&env.cfg.space);
    int *g = malloc(sizeof(int) * (size_t)n);
    uint64_t rng = 11;
    int tried = 0;
    for (int round = 0; round < 20; round++) {
        nas_genome_random(&env.cfg.space, &rng, g);
        nas_genome_set_multipliers(&env.cfg.space, g, 0);  /* all exact 8x8 */
        nas_arch arch;
        ck_assert_int_eq(nas_genome_decode(&env.cfg.space, g, &arch), ENG_OK);
        if (arch.mul_layers < 3) {
            nas_arch_free(&arch);
            continue;
        }
        db_evaluation base, one, all;
        ck_assert_int_eq(search_env_measure(&env, &arch, &base), ENG_OK);
        double sum_total = 0, sum_mul = 0;
        int k = 0;
        for (int i = 0; i < arch.n; i++) {
            if (arch.layers[i].mul < 0) continue;
            int mul = 2 + k++ % 3;      /* 8x6, 8x4 exact, 8x4 approximate in turn */
            arch.layers[i].mul = mul;
            ck_assert_int_eq(search_env_measure(&env, &arch, &one), ENG_OK);
            sum_total += one.energy_pj - base.energy_pj;
            sum_mul += one.mul_energy_pj - base.mul_energy_pj;
            ck_assert(one.energy_pj < base.energy_pj);  /* narrower weights, cheaper circuit */
            arch.layers[i].mul = 0;
        }
        k = 0;
        for (int i = 0; i < arch.n; i++)
            if (arch.layers[i].mul >= 0) arch.layers[i].mul = 2 + k++ % 3;
        ck_assert_int_eq(search_env_measure(&env, &arch, &all), ENG_OK);
        ck_assert_double_eq_tol(all.energy_pj - base.energy_pj, sum_total,
                                1e-9 * base.energy_pj);
        ck_assert_double_eq_tol(all.mul_energy_pj - base.mul_energy_pj, sum_mul,
                                1e-9 * base.mul_energy_pj);
        /* the all-8x8 exact reference of the mixed network is the base network */
        ck_assert_double_eq_tol(all.energy_exact8_pj, base.energy_pj, 1e-9 * base.energy_pj);
        ck_assert_double_eq_tol(all.mul_energy_exact8_pj, base.mul_energy_pj,
                                1e-9 * base.mul_energy_pj);
        nas_arch_free(&arch);
        tried++;
    }
    ck_assert_int_gt(tried, 3);
    free(g);
    search_env_close(&env);
}
END_TEST

/* A real SIGKILL of a running search, once two generations are committed (if the search ends
 * first, resume has nothing left to do and the archives must still agree), then resume: the
 * archive of `reference`. The search runs in a fresh process (this program with --run): a
 * forked copy of a process that has used OpenMP cannot start OpenMP threads. */
static void kill_and_resume(const char *name, const char *reference)
{
    char p[4200];
    sqlite3 *db;
    char cfg_path[4200];
    snprintf(cfg_path, sizeof cfg_path, "%s/%s.yaml", dir, name);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_search", "--run", cfg_path, (char *)NULL);
        _exit(127);
    }
    snprintf(p, sizeof p, "%s/%s.db", dir, name);
    int gens = 0, status;
    while (gens < 2 && waitpid(pid, &status, WNOHANG) == 0) {
        if (access(p, F_OK) == 0 &&
            sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
            sqlite3_stmt *s;
            if (sqlite3_prepare_v2(db, "SELECT count(*) FROM generations", -1, &s, NULL) ==
                    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
                gens = sqlite3_column_int(s, 0);
            sqlite3_finalize(s);
            sqlite3_close(db);
        }
        usleep(20000);
    }
    if (gens >= 2) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else {
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the search failed");
    }
    resume_and_compare(name, reference);
}

static Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("e2e");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_end_to_end);
    tcase_add_test(tc, test_duplicates_reused);
    tcase_add_test(tc, test_eval_batch);
    tcase_add_test(tc, test_diverged_candidate);
    tcase_add_test(tc, test_resume);
    tcase_add_test(tc, test_mixed_widths);
    tcase_add_test(tc, test_mixed_energy_is_per_layer);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--run") == 0) { /* the search of test_resume */
        search_opts o = {.threads = 2, .progress = SEARCH_PROGRESS_NONE};
        return search_run(argv[2], &o, NULL) == ENG_OK ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(search_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
