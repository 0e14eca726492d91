/*
 * test_search_async.c - the evaluator's asynchronous mode (search_eval_capacity, _submit and
 * _wait) on a tiny synthetic IDX data set written by the test: capacity, results in the order
 * they arrive (archived ones at once, a network out twice answered by its first training), a
 * failed training reported for its own child only (and the others stopped when the strategy
 * gives up: search_eval_cancel), and a child sent but not stored that a
 * resumed run sends again (the sent table, archive_sent.h) reaching the uninterrupted result.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "archive_checkpoint.h"
#include "archive_sent.h"
#include "engine_config.h"
#include "search.h"
#include "search_env.h"
#include "search_eval.h"
#include "testutil.h"

static char dir[4096];
static search_env env;
static nas_arch arch[3];        /* three different networks */
static volatile sig_atomic_t stop;

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", test_mkdtemp());
    char p[4200];
    snprintf(p, sizeof p, "%s/data", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    test_write_idx(p, "train", 150, 1);
    test_write_idx(p, "t10k", 50, 2);
    snprintf(p, sizeof p, "%s/a.yaml", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "name: a\nseed: 5\n"
               "dataset: {kind: idx, path: data, train: 100, validation: 50}\n"
               "search_space:\n  stages: 2\n  nodes: 2\n"
               "  ops: [conv3x3, sep3x3, maxpool, identity]\n  widths: [4, 6]\n"
               "  stem_width: 4\n  multipliers: [mul8u_1JFF, mul8u_2AC, mul8u_DM1]\n"
               "nsga2: {population: 4, generations: 1, mode: asynchronous}\n"
               "training: {epochs: 1, batch_size: 25, learning_rate: 0.05}\n"
               "energy: {accelerator: " EVOAPPROXNAS_SOURCE_DIR
               "/configs/accelerators/eyeriss_like_8b.yaml}\n");
    fclose(f);
    cfg_search cfg;
    ck_assert_msg(cfg_load(p, &cfg) == ENG_OK, "%s", eng_last_error());
    ck_assert_msg(search_env_open(&env, &cfg, SEARCH_ENV_DATA) == ENG_OK, "%s",
                  eng_last_error());
    int n_genes = nas_genome_length(&env.cfg.space);
    int *g = malloc(sizeof(int) * (size_t)n_genes);
    ck_assert_ptr_nonnull(g);
    uint64_t rng = 7;
    for (int k = 0; k < 3;) {
        nas_genome_random(&env.cfg.space, &rng, g);
        ck_assert(nas_genome_decode(&env.cfg.space, g, &arch[k]) == ENG_OK);
        bool seen = false;
        for (int j = 0; j < k; j++) seen |= nas_arch_hash(&arch[j]) == nas_arch_hash(&arch[k]);
        if (seen) nas_arch_free(&arch[k]);
        else k++;
    }
    free(g);
    stop = 0;
}

static void teardown(void)
{
    for (int k = 0; k < 3; k++) nas_arch_free(&arch[k]);
    search_env_close(&env);
    unsetenv("EVOAPPROXNAS_HOLD_AT_BATCH");
    test_rmtree(dir);
}

static db_archive *create(const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s.db", dir, name);
    db_run run = {.seed = env.cfg.seed, .threads = 2, .generations = 1,
                  .config_text = env.cfg.text};
    snprintf(run.name, sizeof run.name, "%s", name);
    snprintf(run.objectives, sizeof run.objectives, "error,energy");
    db_archive *db;
    ck_assert_msg(db_create(p, &run, false, &db) == ENG_OK, "%s", eng_last_error());
    return db;
}

static const search_opts opts = {.threads = 2, .progress = SEARCH_PROGRESS_NONE,
                                 .stop = &stop};

static search_eval *evaluator(db_archive *db, int threads)
{
    search_eval *ev;
    ck_assert_msg(search_eval_create(&env, db, &opts, threads, &ev) == ENG_OK, "%s",
                  eng_last_error());
    return ev;
}

static void hex_of(const nas_arch *a, char hex[DB_HASH_LEN])
{
    snprintf(hex, DB_HASH_LEN, "%016llx", (unsigned long long)nas_arch_hash(a));
}

static int rows(db_archive *db, const char *sql)
{
    return (int)db_query_double(db, sql, -1);
}

/* Waits for the next arrival, which must succeed. */
static search_eval_item arrival(search_eval *ev, int *tag)
{
    search_eval_item it;
    double idle = -1;
    ck_assert_msg(search_eval_wait(ev, tag, &it, &idle) == ENG_OK, "%s", eng_last_error());
    ck_assert(idle >= 0 && idle <= 1);
    return it;
}

START_TEST(test_capacity_and_arrival_order)
{
    db_archive *db = create("a");
    /* arch[2] archived by an interrupted run (a cache entry): answered without training */
    db_evaluation cached = {.generation = 0, .error = 0.25, .energy_pj = 1000, .n_obj = 2,
                            .obj = {0.25, 1000}, .multipliers = "[]", .summary = "s"};
    hex_of(&arch[2], cached.hash);
    ck_assert_int_eq(db_evaluation_insert(db, &cached), ENG_OK);
    search_eval *ev = evaluator(db, 2);
    int workers = 0, out = -1;
    ck_assert_int_eq(search_eval_capacity(ev, &workers, &out), ENG_OK);
    /* one local trainer per thread (candidates train side by side), one without OpenMP */
    ck_assert_int_eq(workers, ENG_HAVE_OPENMP ? 2 : 1);
    ck_assert_int_eq(out, 0);

    ck_assert_int_eq(search_eval_submit(ev, 1, 10, &arch[0]), ENG_OK);
    if (workers == 2) {
        ck_assert_int_eq(search_eval_submit(ev, 2, 11, &arch[2]), ENG_OK);
        ck_assert_int_eq(search_eval_capacity(ev, &workers, &out), ENG_OK);
        ck_assert_int_eq(out, 2);
        /* full: refused, and nothing more is out */
        ck_assert_int_eq(search_eval_submit(ev, 3, 12, &arch[1]), ENG_ERR_ARG);
        ck_assert_int_eq(search_eval_capacity(ev, &workers, &out), ENG_OK);
        ck_assert_int_eq(out, 2);
        /* the archived network, submitted second, arrives first */
        int tag = -1;
        search_eval_item it = arrival(ev, &tag);
        ck_assert_int_eq(tag, 11);
        ck_assert_str_eq(it.e.hash, cached.hash);
        ck_assert(it.e.error == 0.25 && it.first && !it.reused);
        /* the network out already is not trained twice: it follows the first */
        ck_assert_int_eq(search_eval_submit(ev, 2, 12, &arch[0]), ENG_OK);
    }
    int tag = -1;
    search_eval_item first = arrival(ev, &tag);
    ck_assert_int_eq(tag, 10);
    ck_assert(first.first && !first.reused && first.hash == nas_arch_hash(&arch[0]));
    ck_assert(first.e.error >= 0 && first.e.error <= 1 && first.e.train_s > 0);
    ck_assert_int_eq(first.e.generation, 1);
    if (workers == 2) {
        search_eval_item again = arrival(ev, &tag);
        ck_assert_int_eq(tag, 12);
        ck_assert(!again.first && again.reused);
        ck_assert_str_eq(again.e.hash, first.e.hash);
        ck_assert(again.e.error == first.e.error && again.e.train_s == first.e.train_s);
    }
    search_eval_item none;
    ck_assert_int_eq(search_eval_wait(ev, &tag, &none, NULL), ENG_ERR_ARG);
    /* each training stored as it arrived (a cache for resume), once */
    ck_assert_int_eq(rows(db, "SELECT count(*) FROM evaluations"), 2);
    search_eval_free(ev);
    db_close(db);
}
END_TEST

START_TEST(test_failure_is_its_childs_own)
{
    db_archive *db = create("f");
    /* a damaged checkpoint of arch[0]: its training fails when it starts */
    db_checkpoint_info info = {.generation = 1, .epoch = 1, .epochs = 1, .batch = 1,
                               .batches = 4};
    hex_of(&arch[0], info.hash);
    ck_assert_int_eq(db_checkpoint_prepare(db), ENG_OK);
    ck_assert_int_eq(db_checkpoint_save(db, &info, "junk", 4), ENG_OK);
    search_eval *ev = evaluator(db, 2);
    int workers, out;
    ck_assert_int_eq(search_eval_capacity(ev, &workers, &out), ENG_OK);
    ck_assert_int_eq(search_eval_submit(ev, 1, 0, &arch[0]), ENG_OK);
    if (workers < 2) { /* one worker: one after the other */
        search_eval_item it;
        int tag;
        ck_assert_int_eq(search_eval_wait(ev, &tag, &it, NULL), ENG_ERR_FORMAT);
    }
    ck_assert_int_eq(search_eval_submit(ev, 1, 1, &arch[1]), ENG_OK);
    int failed = 0, arrived = 0;
    for (int n = 0; n < (workers < 2 ? 1 : 2); n++) {
        search_eval_item it;
        int tag = -1;
        eng_status st = search_eval_wait(ev, &tag, &it, NULL);
        if (st == ENG_OK) {
            arrived++;
            ck_assert_int_eq(tag, 1);
            ck_assert(it.hash == nas_arch_hash(&arch[1]) && it.e.error <= 1);
        } else {
            failed++;
            ck_assert_int_eq(st, ENG_ERR_FORMAT);
            /* the message names the archive and the network */
            ck_assert_ptr_nonnull(strstr(eng_last_error(), "f.db: checkpoint of "));
            ck_assert_ptr_nonnull(strstr(eng_last_error(), info.hash));
        }
    }
    ck_assert_int_eq(arrived, 1);
    ck_assert_int_eq(failed, workers < 2 ? 0 : 1);
    ck_assert_int_eq(search_eval_capacity(ev, &workers, &out), ENG_OK);
    ck_assert_int_eq(out, 0);
    /* only the child that trained is stored */
    ck_assert_int_eq(rows(db, "SELECT count(*) FROM evaluations"), 1);
    search_eval_free(ev);
    db_close(db);
}
END_TEST

START_TEST(test_cancel_stops_the_others)
{
    /* arch[1] trains for long; arch[0] fails at once (a damaged checkpoint) */
    env.cfg.training.epochs = 400;
    db_archive *db = create("c");
    db_checkpoint_info info = {.generation = 1, .epoch = 1, .epochs = 400, .batch = 1,
                               .batches = 4};
    hex_of(&arch[0], info.hash);
    ck_assert_int_eq(db_checkpoint_prepare(db), ENG_OK);
    ck_assert_int_eq(db_checkpoint_save(db, &info, "junk", 4), ENG_OK);
    search_eval *ev = evaluator(db, 2);
    int workers, out, tag;
    ck_assert_int_eq(search_eval_capacity(ev, &workers, &out), ENG_OK);
    if (workers < 2) { /* one worker: nothing else is out when a training fails */
        search_eval_free(ev);
        db_close(db);
        return;
    }
    ck_assert_int_eq(search_eval_submit(ev, 1, 1, &arch[1]), ENG_OK);
    ck_assert_int_eq(search_eval_submit(ev, 1, 0, &arch[0]), ENG_OK);
    search_eval_item it;
    ck_assert_int_eq(search_eval_wait(ev, &tag, &it, NULL), ENG_ERR_FORMAT);
    /* the strategy gives up: the other training stops (checkpointed) instead of finishing */
    search_eval_cancel(ev);
    ck_assert_int_eq(search_eval_wait(ev, &tag, &it, NULL), ENG_ERR_INTERRUPTED);
    search_eval_free(ev);
    ck_assert_int_eq(rows(db, "SELECT count(*) FROM evaluations"), 0);
    char hex[DB_HASH_LEN], sql[200];
    hex_of(&arch[1], hex);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM checkpoints WHERE hash = '%s' AND "
             "epoch < 400", hex);
    ck_assert_int_eq(rows(db, sql), 1);
    db_close(db);
}
END_TEST

/* The sent row of child id (network a), as the search records it before sending it. */
static void record_sent(db_archive *db, int64_t id, const nas_arch *a)
{
    double genes[2] = {(double)id, 0.5};
    unsigned char state[3] = {1, 2, 3};
    char genome[DB_HASH_LEN];
    hex_of(a, genome);
    db_sent row = {.id = id, .parent = {0, 1}, .seed = 9, .birth_generation = 1,
                   .after_generation = 0, .genome = genome, .genes = genes, .n_genes = 2,
                   .state = state, .state_size = sizeof state};
    ck_assert_int_eq(db_sent_insert(db, &row), ENG_OK);
}

START_TEST(test_resume_sends_again_what_was_out)
{
    /* the uninterrupted evaluation of arch[1] */
    db_archive *db = create("ref");
    search_eval *ev = evaluator(db, 2);
    int tag;
    ck_assert_int_eq(search_eval_submit(ev, 1, 0, &arch[1]), ENG_OK);
    search_eval_item ref = arrival(ev, &tag);
    search_eval_free(ev);
    db_close(db);

    /* child 1 (arch[0]) arrives; child 2 (arch[1]) is out when the run stops */
    db = create("r");
    ck_assert_int_eq(db_sent_prepare(db), ENG_OK);
    record_sent(db, 1, &arch[0]);
    record_sent(db, 2, &arch[1]);
    ev = evaluator(db, 2);
    ck_assert_int_eq(search_eval_submit(ev, 1, 0, &arch[0]), ENG_OK);
    search_eval_item one = arrival(ev, &tag);
    ck_assert_int_eq(db_sent_arrived(db, 1, 1), ENG_OK);
    search_eval_free(ev);
    /* held in its first epoch until the stop flag: it checkpoints and is not stored */
    setenv("EVOAPPROXNAS_HOLD_AT_BATCH", "1:2", 1);
    ev = evaluator(db, 2);
    ck_assert_int_eq(search_eval_submit(ev, 2, 1, &arch[1]), ENG_OK);
    stop = 1;
    search_eval_item it;
    ck_assert_int_eq(search_eval_wait(ev, &tag, &it, NULL), ENG_ERR_INTERRUPTED);
    search_eval_free(ev);
    unsetenv("EVOAPPROXNAS_HOLD_AT_BATCH");
    stop = 0;
    ck_assert_int_eq(rows(db, "SELECT count(*) FROM evaluations"), 1);
    ck_assert_int_eq(rows(db, "SELECT count(*) FROM checkpoints"), 1);
    db_close(db);

    /* resume: the archive lists child 2 as out; sent again, it continues its checkpoint */
    char p[4200];
    snprintf(p, sizeof p, "%s/r.db", dir);
    ck_assert_int_eq(db_open(p, DB_OPEN_WRITE, &db), ENG_OK);
    db_sent *out = NULL;
    int n = 0;
    ck_assert_int_eq(db_sent_load(db, 2, &out, &n), ENG_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(out[0].id, 2);
    char hex[DB_HASH_LEN];
    hex_of(&arch[1], hex);
    ck_assert_str_eq(out[0].genome, hex);
    db_sent_free(out, n);
    ev = evaluator(db, 2);
    ck_assert_int_eq(search_eval_submit(ev, 2, 1, &arch[1]), ENG_OK);
    it = arrival(ev, &tag);
    ck_assert(it.first && !it.reused);
    ck_assert(it.e.error == ref.e.error);
    ck_assert(it.e.energy_pj == ref.e.energy_pj);
    ck_assert_int_eq(rows(db, "SELECT count(*) FROM checkpoints"), 0);
    /* the child that arrived is not trained again: its stored evaluation answers */
    ck_assert_int_eq(search_eval_submit(ev, 3, 2, &arch[0]), ENG_OK);
    it = arrival(ev, &tag);
    ck_assert(it.e.train_s == one.e.train_s && it.e.error == one.e.error);
    search_eval_free(ev);
    db_close(db);
}
END_TEST

static Suite *async_suite(void)
{
    Suite *s = suite_create("search_async");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_capacity_and_arrival_order);
    tcase_add_test(tc, test_failure_is_its_childs_own);
    tcase_add_test(tc, test_cancel_stops_the_others);
    tcase_add_test(tc, test_resume_sends_again_what_was_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(async_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
