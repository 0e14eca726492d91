/*
 * test_config.c - the strict YAML config: values and defaults, and every error class with
 * its file:line:col position and hint.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "testutil.h"

static char dir[4096];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", test_mkdtemp());
    char p[4200];
    snprintf(p, sizeof p, "%s/data", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/acc.yaml", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("name: x\n", f);
    fclose(f);
}

static void teardown(void) { test_rmtree(dir); }

/* Writes text to DIR/c.yaml and parses it. */
static eng_status load(const char *text, cfg_search *cfg)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/c.yaml", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return cfg_load(p, cfg);
}

#define BASE_DATASET "dataset:\n  kind: idx\n  path: data\n"
#define BASE_SPACE "search_space:\n  multipliers: [mul8u_1JFF, mul8u_2AC]\n"
#define BASE_ENERGY "energy:\n  accelerator: acc.yaml\n"
#define BASE "name: t\n" BASE_DATASET BASE_SPACE BASE_ENERGY

/* Asserts that text fails with st and a message containing "c.yaml:LINE:" and each needle. */
static void expect_error(const char *text, eng_status st, int line, const char *needle1,
                         const char *needle2)
{
    cfg_search cfg;
    eng_status got = load(text, &cfg);
    const char *msg = eng_last_error();
    ck_assert_msg(got == st, "status %s, expected %s (%s)", eng_status_name(got),
                  eng_status_name(st), msg);
    char where[32];
    snprintf(where, sizeof where, "c.yaml:%d:", line);
    ck_assert_msg(strstr(msg, where), "'%s' lacks '%s'", msg, where);
    ck_assert_msg(strstr(msg, needle1), "'%s' lacks '%s'", msg, needle1);
    if (needle2) ck_assert_msg(strstr(msg, needle2), "'%s' lacks '%s'", msg, needle2);
    ck_assert_ptr_null(cfg.text);
    ck_assert_ptr_null(cfg.mul_names);
}

START_TEST(test_defaults)
{
    cfg_search c;
    ck_assert_msg(load(BASE, &c) == ENG_OK, "%s", eng_last_error());
    ck_assert_str_eq(c.name, "t");
    ck_assert_str_eq(c.output, "results/t.db");
    ck_assert_uint_eq(c.seed, 1);
    ck_assert_int_eq(c.dataset.kind, CFG_DATASET_IDX);
    char want[4200];
    snprintf(want, sizeof want, "%s/data", dir);
    ck_assert_str_eq(c.dataset.path, want);
    snprintf(want, sizeof want, "%s/acc.yaml", dir);
    ck_assert_str_eq(c.energy.accelerator, want);
    ck_assert_int_eq(c.dataset.train, 5000);
    ck_assert_int_eq(c.dataset.validation, 1000);
    ck_assert_int_eq(c.space.stages, 2);
    ck_assert_int_eq(c.space.nodes, 4);
    ck_assert_int_eq(c.space.n_ops, NAS_OP_COUNT);
    ck_assert_int_eq(c.space.n_widths, 2);
    ck_assert_int_eq(c.space.stem_stride, 1);
    ck_assert_int_eq(c.space.n_muls, 2);
    ck_assert_str_eq(c.mul_names[1], "mul8u_2AC");
    ck_assert_int_eq(c.mul_lines[0], 6);
    ck_assert_int_eq(c.nsga2.population, 16);
    ck_assert_int_eq(c.nsga2.offspring, 16);
    ck_assert_double_eq(c.nsga2.exact_share, 0.25);
    ck_assert(!c.nsga2.asynchronous);
    ck_assert_int_eq(c.quant.mode, CFG_QUANT_ASYM);
    ck_assert_int_eq(c.quant.weight_bits, 0); /* absent: each layer takes its multiplier's */
    ck_assert_int_eq(c.training.epochs, 1);
    ck_assert(c.training.cosine);
    ck_assert_int_eq(c.n_objectives, 2);
    ck_assert_int_eq(c.objectives[0], CFG_OBJECTIVE_ERROR);
    ck_assert_int_eq(c.objectives[1], CFG_OBJECTIVE_ENERGY);
    ck_assert_double_eq(c.constraints.max_error, 1.0);
    ck_assert_int_eq(c.parallel, CFG_PARALLEL_AUTO);
    ck_assert_int_eq(c.device, ENG_DEVICE_CPU);
    ck_assert(!c.device_auto);
    ck_assert_str_eq(c.text, BASE);
    cfg_free(&c);
    ck_assert_ptr_null(c.text);
}
END_TEST

START_TEST(test_full)
{
    const char *text =
        "name: full-1.x\nseed: 77\noutput: /tmp/x.db\n"
        "dataset: {kind: cifar10, path: data, train: 400, validation: 100, test: 50}\n"
        "search_space:\n  stages: 3\n  nodes: 5\n  shared_cells: true\n"
        "  ops: [sep5x5, identity]\n  widths: [4, 8, 12]\n  width_growth: 1\n"
        "  stem_width: 6\n  stem_stride: 2\n  multipliers:\n    - mul8u_1JFF\n"
        "nsga2: {population: 6, offspring: 4, generations: 3, crossover_rate: 0.5, "
        "mutation_rate: 0.2, exact_share: 0.5, uniform_share: 0.3, mode: asynchronous}\n"
        "quantization: {mode: sym, weight_bits: 4, per_channel: false, table_gradient: yes, "
        "ema_momentum: 0.1}\n"
        "training: {epochs: 2, batch_size: 32, learning_rate: 1e-2, momentum: 0, "
        "weight_decay: 0, schedule: constant, crop_pad: 2, hflip: true}\n"
        BASE_ENERGY
        "objectives: [error, params, macs, mul_energy]\n"
        "constraints: {max_params: 1000, max_macs: 5000, max_error: 0.5}\n"
        "parallel: within\nfinalize: {epochs: 3}\ndevice: cuda\n";
    cfg_search c;
    ck_assert_msg(load(text, &c) == ENG_OK, "%s", eng_last_error());
    ck_assert_str_eq(c.name, "full-1.x");
    ck_assert_uint_eq(c.seed, 77);
    ck_assert_str_eq(c.output, "/tmp/x.db");
    ck_assert_int_eq(c.dataset.kind, CFG_DATASET_CIFAR10);
    ck_assert_int_eq(c.dataset.train, 400);
    ck_assert_int_eq(c.dataset.test, 50);
    ck_assert_int_eq(c.space.stages, 3);
    ck_assert(c.space.shared_cells);
    ck_assert_int_eq(c.space.n_ops, 2);
    ck_assert_int_eq(c.space.ops[0], NAS_OP_SEP5X5);
    ck_assert_int_eq(c.space.ops[1], NAS_OP_IDENTITY);
    ck_assert_int_eq(c.space.widths[2], 12);
    ck_assert_int_eq(c.space.stem_width, 6);
    ck_assert_int_eq(c.mul_lines[0], 15);
    ck_assert_int_eq(c.space.stem_stride, 2);
    ck_assert_int_eq(c.nsga2.offspring, 4);
    ck_assert_double_eq(c.nsga2.mutation_rate, 0.2);
    ck_assert_double_eq(c.nsga2.exact_share, 0.5);
    ck_assert_double_eq(c.nsga2.uniform_share, 0.3);
    ck_assert(c.nsga2.asynchronous);
    ck_assert_int_eq(c.quant.mode, CFG_QUANT_SYM);
    ck_assert_int_eq(c.quant.weight_bits, 4);
    ck_assert(!c.quant.per_channel);
    ck_assert(c.quant.table_gradient);
    ck_assert_double_eq(c.training.learning_rate, 0.01);
    ck_assert(!c.training.cosine);
    ck_assert(c.training.hflip);
    ck_assert_int_eq(c.n_objectives, 4);
    ck_assert_int_eq(c.objectives[2], CFG_OBJECTIVE_MACS);
    ck_assert_int_eq(c.objectives[3], CFG_OBJECTIVE_MUL_ENERGY);
    ck_assert_int_eq(c.constraints.max_params, 1000);
    ck_assert_int_eq(c.parallel, CFG_PARALLEL_WITHIN);
    ck_assert_int_eq(c.finalize.epochs, 3);
    ck_assert_int_eq(c.device, ENG_DEVICE_CUDA);
    ck_assert(!c.device_auto);
    cfg_free(&c);
}
END_TEST

/* device: auto (a GPU by MPI local rank where there is one) is the CPU device otherwise */
START_TEST(test_device_auto)
{
    cfg_search c;
    ck_assert_msg(load(BASE "device: auto\n", &c) == ENG_OK, "%s", eng_last_error());
    ck_assert(c.device_auto);
    ck_assert_int_eq(c.device, ENG_DEVICE_CPU);
    cfg_free(&c);
}
END_TEST

START_TEST(test_unknown_key)
{
    expect_error(BASE "traning: {epochs: 2}\n", ENG_ERR_FORMAT, 9, "unknown key 'traning'",
                 "did you mean 'training'");
    expect_error(BASE "training:\n  epochs: 2\n  frobnicate: 1\n", ENG_ERR_FORMAT, 11,
                 "unknown key 'training.frobnicate'", "known keys here: epochs");
}
END_TEST

START_TEST(test_duplicate_key)
{
    expect_error(BASE "seed: 1\nseed: 2\n", ENG_ERR_FORMAT, 10, "duplicate key 'seed'",
                 "line 9");
}
END_TEST

START_TEST(test_wrong_type)
{
    expect_error(BASE "training: {epochs: three}\n", ENG_ERR_FORMAT, 9,
                 "training.epochs: expected an integer", "'three'");
    expect_error(BASE "training: {epochs: \"3\"}\n", ENG_ERR_FORMAT, 9, "quoted", "remove");
    expect_error(BASE "training: [1, 2]\n", ENG_ERR_FORMAT, 9, "training: expected a mapping",
                 NULL);
    expect_error(BASE "training: {hflip: maybe}\n", ENG_ERR_FORMAT, 9, "true or false", NULL);
    expect_error(BASE "objectives: error\n", ENG_ERR_FORMAT, 9, "expected a list", NULL);
    expect_error(BASE "training: {learning_rate: fast}\n", ENG_ERR_FORMAT, 9,
                 "expected a number", NULL);
}
END_TEST

START_TEST(test_out_of_range)
{
    expect_error(BASE "training: {epochs: 0}\n", ENG_ERR_ARG, 9, "training.epochs: 0 is out of "
                 "range", "1 to 1000");
    expect_error(BASE "quantization: {weight_bits: 9}\n", ENG_ERR_ARG, 9, "weight_bits", "2 to 8");
    expect_error(BASE "nsga2: {crossover_rate: 1.5}\n", ENG_ERR_ARG, 9, "crossover_rate", NULL);
    expect_error(BASE "nsga2: {exact_share: 0.6, uniform_share: 0.5}\n", ENG_ERR_ARG, 9,
                 "exact_share + uniform_share = 1.1 is more than 1", NULL);
    expect_error(BASE "nsga2: {mode: steady}\n", ENG_ERR_ARG, 9, "nsga2.mode: 'steady' is not "
                 "one of", "generational, asynchronous");
    expect_error(BASE "quantization: {mode: float}\n", ENG_ERR_ARG, 9, "'float' is not one of",
                 "asym, sym");
    expect_error("name: t\n" BASE_DATASET "search_space:\n  ops: [conv3x3, conv7x7]\n"
                 "  multipliers: [a]\n" BASE_ENERGY, ENG_ERR_ARG, 6, "unknown op 'conv7x7'",
                 "sep3x3");
    expect_error(BASE "device: gpu\n", ENG_ERR_ARG, 9, "device: 'gpu' is not one of",
                 "cpu, cuda");
    expect_error(BASE "objectives: [error, error]\n", ENG_ERR_ARG, 9, "listed twice", NULL);
    expect_error(BASE "objectives: [error]\n", ENG_ERR_ARG, 9, "1 items", NULL);
    expect_error("name: a/b\n" BASE_DATASET BASE_SPACE BASE_ENERGY, ENG_ERR_ARG, 1,
                 "may use only", NULL);
}
END_TEST

START_TEST(test_missing_key)
{
    expect_error(BASE_DATASET BASE_SPACE BASE_ENERGY, ENG_ERR_FORMAT, 1, "missing required key "
                 "'name'", NULL);
    expect_error("name: t\ndataset:\n  kind: idx\n" BASE_SPACE BASE_ENERGY, ENG_ERR_FORMAT, 3,
                 "missing required key 'dataset.path'", NULL);
    expect_error("name: t\n" BASE_DATASET BASE_ENERGY, ENG_ERR_FORMAT, 1,
                 "missing required section 'search_space'", NULL);
    expect_error("name: t\n" BASE_DATASET "search_space: {stages: 1}\n" BASE_ENERGY,
                 ENG_ERR_FORMAT, 5, "search_space.multipliers", NULL);
}
END_TEST

START_TEST(test_missing_file)
{
    expect_error("name: t\ndataset:\n  kind: idx\n  path: nowhere\n" BASE_SPACE BASE_ENERGY,
                 ENG_ERR_NOT_FOUND, 4, "dataset.path", "does not exist");
    expect_error("name: t\n" BASE_DATASET BASE_SPACE "energy:\n  accelerator: data\n",
                 ENG_ERR_NOT_FOUND, 8, "energy.accelerator", "is not a file");
    cfg_search c;
    ck_assert_int_eq(cfg_load("/nonexistent/c.yaml", &c), ENG_ERR_NOT_FOUND);
    ck_assert(strstr(eng_last_error(), "/nonexistent/c.yaml"));
}
END_TEST

START_TEST(test_syntax_error)
{
    expect_error(BASE "training: {epochs: 2\n", ENG_ERR_FORMAT, 10, "YAML syntax error", NULL);
    cfg_search c;
    ck_assert_int_eq(load("", &c), ENG_ERR_FORMAT);
    ck_assert(strstr(eng_last_error(), "empty"));
}
END_TEST

/* Size, nesting and mapping-size limits (issue #14 item 4: 50,000 nested flow sequences in
 * 100 KB took 35 s), checked before the document is built. */
START_TEST(test_limits)
{
    enum { LEVELS = 50000 };
    char *text = malloc(2 * LEVELS + 64);
    int n = sprintf(text, "name: t\nepochs: ");
    memset(text + n, '[', LEVELS);
    memset(text + n + LEVELS, ']', LEVELS);
    strcpy(text + n + 2 * LEVELS, "\n");
    expect_error(text, ENG_ERR_FORMAT, 2, "nested deeper than 32 levels", NULL);
    free(text);
    /* a flow mapping of 5000 keys */
    text = malloc(5000 * 16 + 64);
    n = sprintf(text, "name: t\nx: {");
    for (int i = 0; i < 5000; i++) n += sprintf(text + n, "k%d: 1, ", i);
    strcpy(text + n, "}\n");
    expect_error(text, ENG_ERR_FORMAT, 2, "more than 4096 keys", NULL);
    free(text);
    /* a file over 1 MiB (a long comment) */
    const size_t big = ((size_t)1 << 20) + 1;
    text = malloc(big + 1);
    memset(text, ' ', big);
    text[0] = '#';
    text[big] = '\0';
    cfg_search cfg;
    ck_assert_int_eq(load(text, &cfg), ENG_ERR_FORMAT);
    ck_assert_msg(strstr(eng_last_error(), "c.yaml: larger than 1048576 bytes"), "%s",
                  eng_last_error());
    ck_assert_ptr_null(cfg.text);
    free(text);
    /* 32 levels are still read (and fail on the key, not the limit) */
    char ok[256];
    n = sprintf(ok, BASE "training: {epochs: ");
    for (int i = 0; i < 30; i++) ok[n++] = '[';   /* 2 mappings + 30 = 32 levels */
    for (int i = 0; i < 30; i++) ok[n++] = ']';
    strcpy(ok + n, "}\n");
    ck_assert_int_eq(load(ok, &cfg), ENG_ERR_FORMAT);
    ck_assert_msg(!strstr(eng_last_error(), "nested deeper"), "%s", eng_last_error());
}
END_TEST

START_TEST(test_parse_text)
{
    /* cfg_parse resolves relative paths against the given path's directory (resume). */
    char p[4200];
    snprintf(p, sizeof p, "%s/c.yaml", dir);
    cfg_search c;
    ck_assert_msg(cfg_parse(BASE, p, &c) == ENG_OK, "%s", eng_last_error());
    ck_assert(strstr(c.dataset.path, dir) == c.dataset.path);
    cfg_free(&c);
    ck_assert_int_eq(cfg_parse(BASE, "/elsewhere/c.yaml", &c), ENG_ERR_NOT_FOUND);
}
END_TEST

/* strategy: model_search and its section: defaults from search_space and nsga2, values,
 * and the errors. */
/* Each error class of the strict reader with its exact "c.yaml:LINE:COL: " position (BASE is
 * 8 lines). */
static void expect_at(const char *text, eng_status st, const char *want)
{
    cfg_search cfg;
    ck_assert_int_eq(load(text, &cfg), st);
    char full[4400];
    snprintf(full, sizeof full, "%s/c.yaml:%s", dir, want);
    ck_assert_msg(strcmp(eng_last_error(), full) == 0, "'%s' is not '%s'", eng_last_error(),
                  full);
}

START_TEST(test_error_positions)
{
    expect_at(BASE "training: {epochs: 2, batchsize: 8}\n", ENG_ERR_FORMAT,
              "9:23: unknown key 'training.batchsize' (did you mean 'batch_size'?)");
    expect_at(BASE "training: {epochs: [1]}\n", ENG_ERR_FORMAT,
              "9:20: training.epochs: expected an integer, found a list");
    expect_at(BASE "nsga2:\n  population: 2\n", ENG_ERR_ARG,
              "10:15: nsga2.population: 2 is out of range (allowed: 4 to 10000)");
    expect_at(BASE "training:\n  epochs: 1\n  epochs: 2\n", ENG_ERR_FORMAT,
              "11:3: duplicate key 'training.epochs' (first given on line 10)");
    expect_at(BASE "objectives: [error, enrgy]\n", ENG_ERR_ARG,
              "9:21: objectives: 'enrgy' is not one of: error, energy, params, macs, mul_energy "
              "(did you mean 'energy'?)");
    expect_at(BASE "quantization: {mode: symm}\n", ENG_ERR_ARG,
              "9:22: quantization.mode: 'symm' is not one of: asym, sym (did you mean 'sym'?)");
    expect_at("name: t\n" BASE_DATASET "search_space:\n  ops: [conv3x3, sep3x5]\n"
              "  multipliers: [a]\n" BASE_ENERGY, ENG_ERR_ARG,
              "6:18: search_space.ops: unknown op 'sep3x5' (known: conv3x3, conv5x5, sep3x3, "
              "sep5x5, mbconv3, mbconv6, resblock, maxpool, avgpool, identity) (did you mean "
              "'sep3x3'?)");
    expect_at(BASE "seed: \"3\"\n", ENG_ERR_FORMAT, "9:7: seed: expected an integer, found the "
              "quoted string \"3\" (hint: remove the quotes)");
    expect_at(BASE "name: u\n", ENG_ERR_FORMAT,
              "9:1: duplicate key 'name' (first given on line 1)");
    expect_at("# only a comment\n", ENG_ERR_FORMAT,
              " the config is empty (start from configs/quickstart.yaml)");
}
END_TEST

START_TEST(test_model_search)
{
    cfg_search c;
    ck_assert_msg(load(BASE, &c) == ENG_OK, "%s", eng_last_error());
    ck_assert_int_eq(c.strategy, CFG_STRATEGY_NSGA2);
    cfg_free(&c);
    ck_assert_msg(load(BASE "strategy: model_search\nnsga2: {population: 10, generations: 5}\n",
                       &c) == ENG_OK, "%s", eng_last_error());
    ck_assert_int_eq(c.strategy, CFG_STRATEGY_MODEL_SEARCH);
    ck_assert_int_eq(c.model_search.algorithm, CFG_MS_COORDINATE_DESCENT);
    ck_assert_int_eq(c.model_search.trials, 60); /* NSGA-II's 10 + 5 x 10 */
    ck_assert_int_eq(c.model_search.random_trials, 20);
    ck_assert_int_eq(c.model_search.batch, 10);
    ck_assert_int_eq(c.model_search.min_blocks, 1);
    ck_assert_int_eq(c.model_search.max_blocks, 9); /* 2 stages x 4 nodes + 1 reduction */
    /* 7 width ops x widths {16, 32} x growth {1, 2} = {16, 32, 64}, 3 ops once, down/32 */
    ck_assert_int_eq(c.model_search.n_blocks, 7 * 3 + 3 + 1);
    char name[32];
    ck_assert_str_eq(nas_tower_block_name(&c.model_search.blocks[c.model_search.n_blocks - 1],
                                          name, sizeof name), "down/32");
    cfg_free(&c);
    ck_assert_msg(load(BASE "strategy: model_search\nmodel_search:\n"
                       "  algorithm: constrained_descent\n  trials: 30\n  random_trials: 10\n"
                       "  top_k: 3\n  batch: 4\n  blocks: [conv3x3/8, maxpool, down/16]\n"
                       "  min_blocks: 2\n  max_blocks: 5\n"
                       "  budget: {kind: params, values: [1000, 2e4]}\n  ensemble: 3\n",
                       &c) == ENG_OK,
                  "%s", eng_last_error());
    ck_assert_int_eq(c.model_search.algorithm, CFG_MS_CONSTRAINED_DESCENT);
    ck_assert_int_eq(c.model_search.trials, 30);
    ck_assert_int_eq(c.model_search.top_k, 3);
    ck_assert_int_eq(c.model_search.n_blocks, 3);
    ck_assert(c.model_search.blocks[2].down);
    ck_assert_int_eq(c.model_search.budget_kind, CFG_BUDGET_PARAMS);
    ck_assert_int_eq(c.model_search.n_budgets, 2);
    ck_assert_double_eq(c.model_search.budgets[1], 2e4);
    ck_assert_int_eq(c.model_search.ensemble, 3);
    cfg_free(&c);
#define MS BASE "strategy: model_search\nmodel_search:\n"
    expect_error(BASE "strategy: random\n", ENG_ERR_ARG, 9, "'random' is not one of",
                 "nsga2, model_search");
    expect_error(BASE "model_search: {trials: 5}\n", ENG_ERR_FORMAT, 9, "strategy is nsga2",
                 NULL);
    expect_error(MS "  algoritm: random\n", ENG_ERR_FORMAT, 11, "did you mean 'algorithm'",
                 NULL);
    expect_error(MS "  blocks: [conv3x3]\n", ENG_ERR_ARG, 11, "model_search.blocks", "width");
    expect_error(MS "  blocks: [down/8, down/8]\n", ENG_ERR_ARG, 11, "listed twice", NULL);
    expect_error(MS "  min_blocks: 4\n  max_blocks: 3\n", ENG_ERR_ARG, 11,
                 "min_blocks 4 is more than max_blocks 3", NULL);
    expect_error(MS "  trials: 5\n  random_trials: 6\n", ENG_ERR_ARG, 11,
                 "random_trials 6 is more than trials 5", NULL);
    expect_error(MS "  algorithm: constrained_descent\n", ENG_ERR_FORMAT, 11, "needs a 'budget'",
                 NULL);
    expect_error(MS "  budget: {values: [1]}\n", ENG_ERR_FORMAT, 11,
                 "only constrained_descent", NULL);
    expect_error(MS "  algorithm: constrained_descent\n  budget: {values: [2, 1]}\n",
                 ENG_ERR_ARG, 12, "not larger", "ascending");
    expect_error(MS "  algorithm: constrained_descent\n  budget: {kind: area, values: [1]}\n",
                 ENG_ERR_ARG, 12, "'area' is not one of", NULL);
    expect_error(MS "  algorithm: constrained_descent\n  budget: {kind: macs}\n",
                 ENG_ERR_FORMAT, 12, "budget.values", NULL);
    expect_error(MS "  algorithm: constrained_descent\n  budget: {values: [-1]}\n",
                 ENG_ERR_ARG, 12, "not a positive number", NULL);
    expect_error(MS "  ensemble: 1\n", ENG_ERR_ARG, 11, "ensemble 1 is no ensemble", NULL);
    expect_error(MS "  ensemble: 9\n", ENG_ERR_ARG, 11, "model_search.ensemble", "0 to 8");
#undef MS
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_device_auto);
    tcase_add_test(tc, test_parse_text);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_add_test(te, test_unknown_key);
    tcase_add_test(te, test_duplicate_key);
    tcase_add_test(te, test_wrong_type);
    tcase_add_test(te, test_out_of_range);
    tcase_add_test(te, test_missing_key);
    tcase_add_test(te, test_missing_file);
    tcase_add_test(te, test_syntax_error);
    tcase_add_test(te, test_limits);
    tcase_add_test(te, test_model_search);
    tcase_add_test(te, test_error_positions);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
