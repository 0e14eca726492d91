/*
 * bench_nsga2.c - speed of the NSGA-II loop: ZDT1, population 100, 250 generations (25,100
 * evaluations), the reference run; also DTLZ2 with 3 objectives. Prints the best and
 * median wall time of several repetitions and the best CPU time of the process (less disturbed
 * by other jobs on a shared machine). Run with `meson test --benchmark` or `ninja benchmark`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "evo_problems.h"

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(const char *name, int m, int gens, int reps)
{
    evo_test_problem tp;
    if (evo_test_problem_init(&tp, name, m, 0) != EVO_OK) {
        fprintf(stderr, "bench: %s\n", evo_last_error());
        return 1;
    }
    evo_problem prob;
    evo_test_problem_as_problem(&tp, &prob);
    double t[16], cpu[16];
    for (int r = 0; r < reps; r++) {
        evo_params par;
        evo_params_default(&par);
        par.seed = (uint64_t)r + 1;
        evo_nsga2 *ga;
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        if (evo_nsga2_create(&prob, &par, &ga) != EVO_OK || evo_nsga2_run(ga, gens) != EVO_OK) {
            fprintf(stderr, "bench: %s\n", evo_last_error());
            evo_nsga2_free(ga);
            return 1;
        }
        t[r] = now(CLOCK_MONOTONIC) - t0;
        cpu[r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        evo_nsga2_free(ga);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    qsort(cpu, (size_t)reps, sizeof cpu[0], cmp_double);
    printf("nsga2 %s (%d objectives), population 100 x %d generations: wall best %.1f ms, "
           "median %.1f ms; CPU best %.1f ms (%d runs)\n", name, tp.n_obj, gens, 1e3 * t[0],
           1e3 * t[reps / 2], 1e3 * cpu[0], reps);
    return 0;
}

int main(void)
{
    int rc = bench("zdt1", 0, 250, 9);
    if (rc == 0) rc = bench("dtlz2", 3, 250, 5);
    return rc;
}
