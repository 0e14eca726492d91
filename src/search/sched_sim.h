/*
 * sched_sim.h - a scheduler simulator: what N evaluating ranks would make of a search's
 * per-candidate training costs, generational or asynchronous (steady-state).
 *
 * The input is a workload: the cost (seconds) of every candidate in the order the search
 * issues them, cut into generations. The simulator replays it on N identical ranks:
 *
 *   SCHED_SIM_GENERATIONAL  each generation's candidates are pulled, in order, by the rank
 *                           that is free first (list scheduling; ties go to the lowest rank);
 *                           the next generation starts when every candidate of this one has
 *                           finished (the NSGA-II barrier: selection needs all results).
 *   SCHED_SIM_ASYNC         the same candidates in the same order, but a new one is issued as
 *                           soon as a rank is free, across generation boundaries (a
 *                           steady-state search keeps N candidates in flight).
 *
 * Dispatch overhead (overhead_s, may be 0): rank 0, which owns the search, spends overhead_s
 * on every candidate (sending the job, storing the result; counted at the dispatch), one
 * candidate at a time, and the receiving rank is held for overhead_s + cost. Each candidate
 * thus costs overhead_s of its rank's time, and once N * overhead_s nears a candidate's cost,
 * rank 0 is the bottleneck (ranks waiting for it count as idle).
 *
 * Figures (per mode): makespan (first dispatch at 0 to the last finish), work = sum of costs,
 *     efficiency      = work / (N * makespan)
 *     overhead_share  = n * overhead_s / (N * makespan)
 *     idle_share      = 1 - efficiency - overhead_share   (ranks with nothing to do: at the
 *                       barriers, at the end, waiting for rank 0)
 * With N = 1 and no overhead both modes give efficiency 1.
 *
 * Example: costs {3, 1, 1, 1} in one generation on 2 ranks: rank 0 takes 3, rank 1 takes
 * the three 1s; makespan 3, efficiency 6 / (2 * 3) = 1. The same costs as two generations
 * {3, 1 | 1, 1}: generation 0 ends at 3, generation 1 at 4; efficiency 6 / 8 = 0.75.
 *
 *     double cost[] = {3, 1, 1, 1};
 *     int gens[] = {2, 2};
 *     sched_sim_workload w = {.cost = cost, .n = 4, .gen_count = gens, .n_gens = 2};
 *     sched_sim_result r;
 *     if (sched_sim_run(&w, 2, 0.0, SCHED_SIM_GENERATIONAL, &r) == ENG_OK)
 *         printf("%.2f\n", r.efficiency);     // 0.75
 *
 * Pure: no I/O, no global state; the same input gives the same figures.
 */
#ifndef SCHED_SIM_H
#define SCHED_SIM_H

#include "eng_common.h"

typedef enum sched_sim_mode {
    SCHED_SIM_GENERATIONAL,     /* barrier after each generation */
    SCHED_SIM_ASYNC,            /* no barrier: steady-state */
    SCHED_SIM_MODE_COUNT
} sched_sim_mode;

/* "generational" or "asynchronous". Never NULL. */
const char *sched_sim_mode_name(sched_sim_mode mode);

typedef struct sched_sim_workload {
    const double *cost;         /* n costs in seconds, in issue order, each finite and >= 0 */
    int n;                      /* candidates, >= 0 */
    const int *gen_count;       /* candidates of each generation in order, each >= 0, summing
                                   to n (a generation may be empty: all reused) */
    int n_gens;                 /* >= 1 */
} sched_sim_workload;

typedef struct sched_sim_result {
    double makespan;            /* seconds from the first dispatch to the last finish */
    double work;                /* sum of the costs */
    double efficiency;          /* work / (ranks * makespan); NAN when makespan is 0 */
    double overhead_share;      /* n * overhead_s / (ranks * makespan); NAN likewise */
    double idle_share;          /* 1 - efficiency - overhead_share; NAN likewise */
} sched_sim_result;

/* Simulates the workload on `ranks` evaluating ranks (>= 1) with overhead_s (finite, >= 0)
 * of dispatch per candidate. ENG_ERR_ARG with a message for a bad workload (negative or
 * non-finite cost, counts that do not sum to n), ranks < 1 or a bad overhead; ENG_ERR_NOMEM.
 * On error *out is untouched. */
eng_status sched_sim_run(const sched_sim_workload *w, int ranks, double overhead_s,
                         sched_sim_mode mode, sched_sim_result *out);

#endif /* SCHED_SIM_H */
