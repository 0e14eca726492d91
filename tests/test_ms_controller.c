/*
 * test_ms_controller.c - the Model Search controller: the trial schedule, the random phase
 * (exact share, no duplicates), descent from the top_k, constrained descent within each
 * budget, and determinism.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ms_controller.h"
#include "testutil.h"

static cfg_model_search ms_cfg(cfg_ms_algorithm alg)
{
    cfg_model_search c = {.algorithm = alg, .trials = 40, .random_trials = 10,
                          .exact_share = 0.3, .top_k = 3, .batch = 5, .min_blocks = 1,
                          .max_blocks = 5, .budget_kind = CFG_BUDGET_MACS};
    const char *names[] = {"conv3x3/8", "sep3x3/8", "conv3x3/16", "mbconv3/16", "maxpool",
                           "down/16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_int_eq(nas_tower_block_parse(names[i], &c.blocks[c.n_blocks++]), ENG_OK);
    if (alg == CFG_MS_CONSTRAINED_DESCENT) {
        c.n_budgets = 3;
        c.budgets[0] = 60000, c.budgets[1] = 150000, c.budgets[2] = 400000;
    }
    return c;
}

static double macs_cost(void *ctx, const nas_arch *arch)
{
    (void)ctx;
    return (double)arch->macs;
}

static ms_controller controller(const cfg_model_search *cfg)
{
    ms_controller c = {.cfg = cfg, .seed = 5, .exact_mul = 0, .cost = macs_cost};
    nas_tower_space *sp = &c.space;
    sp->n_library = cfg->n_blocks;
    memcpy(sp->library, cfg->blocks, sizeof cfg->blocks);
    sp->min_blocks = cfg->min_blocks, sp->max_blocks = cfg->max_blocks;
    sp->stem_width = 4, sp->stem_stride = 2, sp->n_muls = 4;
    sp->in_channels = 1, sp->in_height = 16, sp->in_width = 16, sp->classes = 10;
    ck_assert_int_eq(nas_tower_space_check(sp), ENG_OK);
    return c;
}

/* A made-up result for a proposal: error falls with MACs, a tower-specific jitter. */
static ms_result result_of(const ms_controller *c, const ms_proposal *p)
{
    nas_arch a;
    ck_assert_int_eq(nas_tower_decode(&c->space, &p->tower, &a), ENG_OK);
    ms_result r = {.tower = p->tower, .hash = p->hash};
    r.cost = (double)a.macs;
    r.error = 1.0 / (1.0 + a.macs * 1e-5) + (double)(p->hash % 97) * 1e-4;
    r.violation = ms_violation(c->cfg, r.cost);
    nas_arch_free(&a);
    return r;
}

/* Runs the whole schedule in batches; returns the results (trials entries). */
static ms_result *run(const ms_controller *c, ms_proposal *all)
{
    const cfg_model_search *cfg = c->cfg;
    ms_result *res = calloc((size_t)cfg->trials, sizeof *res);
    ck_assert_ptr_nonnull(res);
    for (int b = 0, t = 0; t < cfg->trials; b++) {
        int n = cfg->trials - t < cfg->batch ? cfg->trials - t : cfg->batch;
        ck_assert_int_eq(ms_propose(c, res, t, b, t, n, all + t), ENG_OK);
        for (int i = 0; i < n; i++) res[t + i] = result_of(c, &all[t + i]);
        t += n;
    }
    return res;
}

START_TEST(test_schedule)
{
    cfg_model_search cfg = ms_cfg(CFG_MS_CONSTRAINED_DESCENT);
    ck_assert_int_eq(ms_trial_budget(&cfg, 0), -1);
    ck_assert_int_eq(ms_trial_budget(&cfg, 9), -1);
    ck_assert_int_eq(ms_trial_budget(&cfg, 10), 0);   /* 30 descent trials, 10 per budget */
    ck_assert_int_eq(ms_trial_budget(&cfg, 19), 0);
    ck_assert_int_eq(ms_trial_budget(&cfg, 20), 1);
    ck_assert_int_eq(ms_trial_budget(&cfg, 39), 2);
    ck_assert_double_eq(ms_violation(&cfg, 400000), 0);
    ck_assert_double_eq_tol(ms_violation(&cfg, 600000), 0.5, 1e-12);
    cfg_model_search cd = ms_cfg(CFG_MS_COORDINATE_DESCENT);
    ck_assert_int_eq(ms_trial_budget(&cd, 20), -1);
    ck_assert_double_eq(ms_violation(&cd, 1e12), 0);
    ck_assert_double_eq(ms_cost(CFG_BUDGET_ENERGY, 1, 2, 3, 4), 2);
    ck_assert_double_eq(ms_cost(CFG_BUDGET_MUL_ENERGY, 1, 2, 3, 4), 1);
    ck_assert_double_eq(ms_cost(CFG_BUDGET_PARAMS, 1, 2, 3, 4), 3);
}
END_TEST

/* Random phase: the first round(0.3 x 10) = 3 all exact; no proposal repeats a network;
 * descent: every proposal moves from one of the 3 best earlier results. */
START_TEST(test_descent)
{
    cfg_model_search cfg = ms_cfg(CFG_MS_COORDINATE_DESCENT);
    ms_controller c = controller(&cfg);
    ms_proposal *all = calloc((size_t)cfg.trials, sizeof *all);
    ms_result *res = run(&c, all);
    for (int t = 0; t < cfg.trials; t++) {
        for (int u = 0; u < t; u++) ck_assert(all[u].hash != all[t].hash);
        if (t < cfg.random_trials) {
            ck_assert_int_eq(all[t].parent, -1);
            ck_assert_int_eq(all[t].kind, -1);
            bool exact = true;
            for (int i = 0; i < NAS_TOWER_MULS; i++) exact &= all[t].tower.mul[i] == 0;
            ck_assert(exact == (t < 3));
            continue;
        }
        int p = all[t].parent;
        ck_assert_int_ge(p, 0);
        ck_assert_int_ge(all[t].kind, 0);
        int batch_start = t - t % cfg.batch;
        ck_assert_int_lt(p, batch_start); /* from earlier batches only */
        int better = 0;
        for (int u = 0; u < batch_start; u++) better += res[u].error < res[p].error;
        ck_assert_int_lt(better, cfg.top_k);
    }
    free(res);
    free(all);
}
END_TEST

/* Constrained descent: every descent proposal within its budget, from a parent within it. */
START_TEST(test_constrained)
{
    cfg_model_search cfg = ms_cfg(CFG_MS_CONSTRAINED_DESCENT);
    ms_controller c = controller(&cfg);
    ms_proposal *all = calloc((size_t)cfg.trials, sizeof *all);
    ms_result *res = run(&c, all);
    int under[3] = {0};
    for (int t = cfg.random_trials; t < cfg.trials; t++) {
        int b = all[t].budget;
        ck_assert_int_eq(b, ms_trial_budget(&cfg, t));
        ck_assert_double_le(res[t].cost, cfg.budgets[b]);
        ck_assert_double_eq(res[t].violation, 0);
        if (all[t].parent >= 0) ck_assert_double_le(res[all[t].parent].cost, cfg.budgets[b]);
        under[b]++;
    }
    for (int b = 0; b < 3; b++) ck_assert_int_eq(under[b], 10);
    free(res);
    free(all);
}
END_TEST

START_TEST(test_deterministic)
{
    cfg_model_search cfg = ms_cfg(CFG_MS_CONSTRAINED_DESCENT);
    ms_controller c = controller(&cfg);
    ms_proposal *a = calloc((size_t)cfg.trials, sizeof *a);
    ms_proposal *b = calloc((size_t)cfg.trials, sizeof *b);
    ms_result *ra = run(&c, a), *rb = run(&c, b);
    for (int t = 0; t < cfg.trials; t++) {
        ck_assert(a[t].hash == b[t].hash);
        ck_assert_int_eq(memcmp(&a[t].tower, &b[t].tower, sizeof a[t].tower), 0);
    }
    c.seed = 6;
    ms_proposal other[5];
    ck_assert_int_eq(ms_propose(&c, NULL, 0, 0, 0, 5, other), ENG_OK);
    int same = 0;
    for (int i = 0; i < 5; i++) same += other[i].hash == a[i].hash;
    ck_assert_int_lt(same, 5);
    free(ra), free(rb), free(a), free(b);
}
END_TEST

static Suite *controller_suite(void)
{
    Suite *s = suite_create("ms_controller");
    TCase *tc = tcase_create("controller");
    tcase_add_test(tc, test_schedule);
    tcase_add_test(tc, test_descent);
    tcase_add_test(tc, test_constrained);
    tcase_add_test(tc, test_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(controller_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
