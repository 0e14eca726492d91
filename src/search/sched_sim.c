/*
 * sched_sim.c - the scheduler simulator of sched_sim.h: list scheduling of a search's
 * candidate costs on N ranks, with or without generation barriers.
 */
#include <math.h>
#include <stdlib.h>

#include "sched_sim.h"

const char *sched_sim_mode_name(sched_sim_mode mode)
{
    switch (mode) {
    case SCHED_SIM_GENERATIONAL: return "generational";
    case SCHED_SIM_ASYNC: return "asynchronous";
    case SCHED_SIM_MODE_COUNT: break;
    }
    return "?";
}

static eng_status check_workload(const sched_sim_workload *w)
{
    if (w->n < 0 || w->n_gens < 1 || !w->gen_count || (w->n > 0 && !w->cost))
        return eng_error(ENG_ERR_ARG, "scheduler workload: %d candidates in %d generations",
                         w->n, w->n_gens);
    long total = 0;
    for (int g = 0; g < w->n_gens; g++) {
        if (w->gen_count[g] < 0)
            return eng_error(ENG_ERR_ARG, "scheduler workload: generation %d has %d "
                             "candidates", g, w->gen_count[g]);
        total += w->gen_count[g];
    }
    if (total != w->n)
        return eng_error(ENG_ERR_ARG, "scheduler workload: the generations hold %ld "
                         "candidates, not %d", total, w->n);
    for (int i = 0; i < w->n; i++)
        if (!isfinite(w->cost[i]) || w->cost[i] < 0)
            return eng_error(ENG_ERR_ARG, "scheduler workload: candidate %d costs %g s", i,
                             w->cost[i]);
    return ENG_OK;
}

eng_status sched_sim_run(const sched_sim_workload *w, int ranks, double overhead_s,
                         sched_sim_mode mode, sched_sim_result *out)
{
    if (ranks < 1) return eng_error(ENG_ERR_ARG, "scheduler: %d ranks", ranks);
    if (!isfinite(overhead_s) || overhead_s < 0)
        return eng_error(ENG_ERR_ARG, "scheduler: dispatch overhead %g s", overhead_s);
    if (mode != SCHED_SIM_GENERATIONAL && mode != SCHED_SIM_ASYNC)
        return eng_error(ENG_ERR_ARG, "scheduler: unknown mode %d", (int)mode);
    ENG_TRY(check_workload(w));
    /* ranks past the n-th never get a candidate (ties go to the lowest rank): simulate
     * only the first n, count all of them in the capacity */
    int used = ranks < w->n ? ranks : w->n > 0 ? w->n : 1;
    double *free_at = calloc((size_t)used, sizeof *free_at);  /* when each rank is free */
    if (!free_at) return eng_error(ENG_ERR_NOMEM, "scheduler: out of memory");

    double rank0_free = 0, makespan = 0, work = 0;
    int i = 0;
    for (int g = 0; g < w->n_gens; g++) {
        if (mode == SCHED_SIM_GENERATIONAL)     /* the barrier: all start together */
            for (int r = 0; r < used; r++) free_at[r] = makespan;
        for (int k = 0; k < w->gen_count[g]; k++, i++) {
            int r = 0;
            for (int q = 1; q < used; q++)
                if (free_at[q] < free_at[r]) r = q;
            double t = fmax(free_at[r], rank0_free);
            rank0_free = t + overhead_s;
            free_at[r] = t + overhead_s + w->cost[i];
            makespan = fmax(makespan, free_at[r]);
            work += w->cost[i];
        }
    }
    free(free_at);

    sched_sim_result r = {.makespan = makespan, .work = work, .efficiency = NAN,
                          .overhead_share = NAN, .idle_share = NAN};
    if (makespan > 0) {
        double capacity = (double)ranks * makespan;
        r.efficiency = work / capacity;
        r.overhead_share = (double)w->n * overhead_s / capacity;
        r.idle_share = 1.0 - r.efficiency - r.overhead_share;
    }
    *out = r;
    return ENG_OK;
}
