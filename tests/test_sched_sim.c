/*
 * test_sched_sim.c - the scheduler simulator against hand-computed schedules: list
 * scheduling, generation barriers, more ranks than candidates, dispatch overhead and rank 0
 * as the bottleneck, one rank, bad workloads.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sched_sim.h"

static sched_sim_result run(const double *cost, int n, const int *gens, int n_gens, int ranks,
                            double overhead, sched_sim_mode mode)
{
    sched_sim_workload w = {.cost = cost, .n = n, .gen_count = gens, .n_gens = n_gens};
    sched_sim_result r;
    ck_assert_msg(sched_sim_run(&w, ranks, overhead, mode, &r) == ENG_OK, "%s",
                  eng_last_error());
    ck_assert_double_eq_tol(r.efficiency + r.overhead_share + r.idle_share, 1.0, 1e-12);
    return r;
}

static void expect(sched_sim_result r, double makespan, double efficiency, double idle)
{
    ck_assert_double_eq_tol(r.makespan, makespan, 1e-12);
    ck_assert_double_eq_tol(r.efficiency, efficiency, 1e-12);
    ck_assert_double_eq_tol(r.idle_share, idle, 1e-12);
}

/* {3, 1, 1, 1} in one generation on 2 ranks: the long one on rank 0, the three short ones
 * one after another on rank 1; both end at 3, no rank idles. */
START_TEST(test_list_scheduling)
{
    const double c[] = {3, 1, 1, 1};
    const int g[] = {4};
    sched_sim_result r = run(c, 4, g, 1, 2, 0, SCHED_SIM_GENERATIONAL);
    expect(r, 3, 1, 0);
    ck_assert_double_eq_tol(r.work, 6, 1e-12);
    expect(run(c, 4, g, 1, 2, 0, SCHED_SIM_ASYNC), 3, 1, 0);
    /* the order matters: {1, 1, 1, 3} puts the 3 last: rank 0 1+1, rank 1 1+3 */
    const double late[] = {1, 1, 1, 3};
    expect(run(late, 4, g, 1, 2, 0, SCHED_SIM_GENERATIONAL), 4, 0.75, 0.25);
}
END_TEST

/* {3, 1 | 1, 1}: generation 0 ends at 3 (rank 1 idles 2 s), generation 1 runs 3..4 on both
 * ranks: makespan 4, efficiency 6/8. Without the barrier rank 1 takes both 1s at 1 and 2:
 * makespan 3, efficiency 1. */
START_TEST(test_barrier)
{
    const double c[] = {3, 1, 1, 1};
    const int g[] = {2, 2};
    expect(run(c, 4, g, 2, 2, 0, SCHED_SIM_GENERATIONAL), 4, 0.75, 0.25);
    expect(run(c, 4, g, 2, 2, 0, SCHED_SIM_ASYNC), 3, 1, 0);
    /* an empty generation (every candidate reused) adds nothing */
    const int g3[] = {2, 0, 2};
    expect(run(c, 4, g3, 3, 2, 0, SCHED_SIM_GENERATIONAL), 4, 0.75, 0.25);
    /* three generations of {2, 1} on 2 ranks: each lasts 2 s, makespan 6, efficiency 9/12 */
    const double d[] = {2, 1, 2, 1, 2, 1};
    const int gd[] = {2, 2, 2};
    expect(run(d, 6, gd, 3, 2, 0, SCHED_SIM_GENERATIONAL), 6, 9.0 / 12, 3.0 / 12);
    /* async by hand: c0 r0 0-2, c1 r1 0-1, c2 r1 1-3, c3 r0 2-3, c4 r0 3-5 (tie: lowest rank),
     * c5 r1 3-4: makespan 5, efficiency 9/10 */
    expect(run(d, 6, gd, 3, 2, 0, SCHED_SIM_ASYNC), 5, 0.9, 0.1);
}
END_TEST

/* More ranks than candidates: {2, 2} on 4 ranks leaves two ranks idle all the time. */
START_TEST(test_more_ranks_than_candidates)
{
    const double c[] = {2, 2};
    const int g[] = {2};
    expect(run(c, 2, g, 1, 4, 0, SCHED_SIM_GENERATIONAL), 2, 0.5, 0.5);
    expect(run(c, 2, g, 1, 4, 0, SCHED_SIM_ASYNC), 2, 0.5, 0.5);
    /* a million ranks: the same schedule, a million ranks' capacity */
    expect(run(c, 2, g, 1, 1000000, 0, SCHED_SIM_GENERATIONAL), 2, 2e-6, 1 - 2e-6);
    const double zero[] = {0, 0, 5};
    const int gz[] = {3};
    expect(run(zero, 3, gz, 1, 1000, 0, SCHED_SIM_ASYNC), 5, 5.0 / 5000, 1 - 5.0 / 5000);
}
END_TEST

/* Overhead 0.5 s per candidate, {3, 1, 1, 1} on 2 ranks: c0 rank 0 0-3.5 (rank 0 of the
 * search busy 0-0.5), c1 waits for it: rank 1 0.5-2, c2 rank 1 2-3.5, c3 rank 0 3.5-5.
 * Makespan 5, efficiency 6/10, overhead 4 * 0.5 / 10, idle 0.2 (rank 1: 0-0.5, 3.5-5). */
START_TEST(test_overhead)
{
    const double c[] = {3, 1, 1, 1};
    const int g[] = {4};
    sched_sim_result r = run(c, 4, g, 1, 2, 0.5, SCHED_SIM_ASYNC);
    expect(r, 5, 0.6, 0.2);
    ck_assert_double_eq_tol(r.overhead_share, 0.2, 1e-12);
}
END_TEST

/* Rank 0 as the bottleneck: four 1 s candidates, 4 ranks, 1 s of dispatch each: dispatches
 * at 0, 1, 2, 3, the last ends at 5; efficiency 4/20, overhead 4/20, idle 12/20. */
START_TEST(test_rank0_bottleneck)
{
    const double c[] = {1, 1, 1, 1};
    const int g[] = {4};
    sched_sim_result r = run(c, 4, g, 1, 4, 1.0, SCHED_SIM_GENERATIONAL);
    expect(r, 5, 0.2, 0.6);
    ck_assert_double_eq_tol(r.overhead_share, 0.2, 1e-12);
}
END_TEST

static double uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* One rank: makespan = work (+ overheads), efficiency 1 without overhead, in both modes.
 * Any workload: async is never slower than generational (each candidate starts no later),
 * stays within Graham's bound, and efficiency lies in (0, 1]. */
START_TEST(test_one_rank_and_async_bound)
{
    enum { N = 60, G = 6 };
    double c[N];
    int g[G];
    uint64_t s = 7;
    for (int t = 0; t < G; t++) g[t] = N / G;
    for (int round = 0; round < 50; round++) {
        double work = 0;
        for (int i = 0; i < N; i++) work += c[i] = 0.1 + 10 * uniform(&s) * uniform(&s);
        for (int m = 0; m < SCHED_SIM_MODE_COUNT; m++) {
            sched_sim_result r = run(c, N, g, G, 1, 0, (sched_sim_mode)m);
            ck_assert_double_eq_tol(r.makespan, work, 1e-9);
            ck_assert_double_eq_tol(r.efficiency, 1, 1e-12);
        }
        int ranks = 1 + round % 17;
        double overhead = round % 3 ? 0 : 0.05;
        sched_sim_result gen = run(c, N, g, G, ranks, overhead, SCHED_SIM_GENERATIONAL);
        sched_sim_result asy = run(c, N, g, G, ranks, overhead, SCHED_SIM_ASYNC);
        ck_assert_double_le_tol(asy.makespan, gen.makespan, 1e-9);
        ck_assert(gen.efficiency > 0 && gen.efficiency <= 1 + 1e-12);
        ck_assert(asy.efficiency >= gen.efficiency - 1e-12 && asy.efficiency <= 1 + 1e-12);
        /* Graham's bound for list scheduling, which docs/distributed.md relies on:
         * makespan <= work / N + (N - 1) / N x the longest cost */
        double longest = 0;
        for (int i = 0; i < N; i++) longest = fmax(longest, c[i]);
        if (overhead == 0)
            ck_assert_double_le_tol(asy.makespan, work / ranks + (ranks - 1.0) / ranks * longest,
                                    1e-9);
    }
}
END_TEST

START_TEST(test_bad_input)
{
    const double c[] = {1, 2};
    const int g[] = {2};
    sched_sim_result r = {.makespan = 42};
    sched_sim_workload w = {.cost = c, .n = 2, .gen_count = g, .n_gens = 1};
    ck_assert_int_eq(sched_sim_run(&w, 0, 0, SCHED_SIM_ASYNC, &r), ENG_ERR_ARG);
    ck_assert_int_eq(sched_sim_run(&w, 2, -1, SCHED_SIM_ASYNC, &r), ENG_ERR_ARG);
    ck_assert_int_eq(sched_sim_run(&w, 2, NAN, SCHED_SIM_ASYNC, &r), ENG_ERR_ARG);
    ck_assert_int_eq(sched_sim_run(&w, 2, 0, SCHED_SIM_MODE_COUNT, &r), ENG_ERR_ARG);
    const int short_g[] = {1};
    w.gen_count = short_g;
    ck_assert_int_eq(sched_sim_run(&w, 2, 0, SCHED_SIM_ASYNC, &r), ENG_ERR_ARG);
    const int neg_g[] = {3, -1};
    w.gen_count = neg_g;
    w.n_gens = 2;
    ck_assert_int_eq(sched_sim_run(&w, 2, 0, SCHED_SIM_ASYNC, &r), ENG_ERR_ARG);
    const double neg[] = {1, -2}, inf[] = {1, INFINITY};
    w = (sched_sim_workload){.cost = neg, .n = 2, .gen_count = g, .n_gens = 1};
    ck_assert_int_eq(sched_sim_run(&w, 2, 0, SCHED_SIM_ASYNC, &r), ENG_ERR_ARG);
    w.cost = inf;
    ck_assert_int_eq(sched_sim_run(&w, 2, 0, SCHED_SIM_ASYNC, &r), ENG_ERR_ARG);
    ck_assert_double_eq(r.makespan, 42);    /* untouched on error */
    /* nothing to do: makespan 0, shares undefined */
    const int none[] = {0};
    w = (sched_sim_workload){.cost = NULL, .n = 0, .gen_count = none, .n_gens = 1};
    ck_assert_int_eq(sched_sim_run(&w, 4, 0, SCHED_SIM_GENERATIONAL, &r), ENG_OK);
    ck_assert_double_eq(r.makespan, 0);
    ck_assert(isnan(r.efficiency) && isnan(r.idle_share));
    ck_assert_str_eq(sched_sim_mode_name(SCHED_SIM_ASYNC), "asynchronous");
}
END_TEST

static Suite *sched_sim_suite(void)
{
    Suite *s = suite_create("sched_sim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_list_scheduling);
    tcase_add_test(tc, test_barrier);
    tcase_add_test(tc, test_more_ranks_than_candidates);
    tcase_add_test(tc, test_overhead);
    tcase_add_test(tc, test_rank0_bottleneck);
    tcase_add_test(tc, test_one_rank_and_async_bound);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sched_sim_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
